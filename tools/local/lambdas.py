"""Local mode's Lambda service: the plan's functions in workers, invoked as Lambda invokes them.

``LocalLambda`` starts a ``Worker`` per function of the plan, each with credentials of the
function's own role from the embedded AWS and with ``tools.local.boot`` run before the handler
is imported, so that every AWS call the handler makes is checked against that role's policies in
the plan. Then:

- ``invoke`` is a synchronous (``RequestResponse``) invocation. A caller that is an AWS service
  (API Gateway, S3, EventBridge) must be allowed ``lambda:InvokeFunction`` by the function's
  resource policy, the plan's ``aws:lambda/permission`` resources, with the ``aws:SourceArn`` and
  ``aws:SourceAccount`` of the request; otherwise ``InvokeDeniedError`` says which permission is
  missing. A caller of ``None`` is the Lambda service itself (Lambda@Edge replicas, event source
  mappings), which needs no permission.
- ``invoke_async`` is an ``Event`` invocation: permission is checked at once, then the event is
  queued and run in the background in order. A function error or timeout is retried as the
  function's ``aws:lambda/functionEventInvokeConfig`` says (``maximumRetryAttempts``, 2 by
  default; ``maximumEventAgeInSeconds``, 6 hours), and an event that still fails goes to the
  on-failure destination (SQS, SNS, EventBridge or another function) with Lambda's invocation
  record, or to the function's dead-letter queue. Those deliveries are made with the function's
  role and checked against it, as Lambda sends them with the execution role. Lambda waits about
  a minute, then two, between attempts; local mode waits ``retry_delays`` (1 s, then 2 s) so
  that a failure lands while someone is watching.
- Each function has one execution environment: invocations of a function run one at a time,
  where Lambda would scale out. Reserved and provisioned concurrency are not modelled.
"""

from __future__ import annotations

import json
import logging
import queue
import re
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tools.local.aws import EmbeddedAws
from tools.local.functions import (
    Cloud,
    FunctionSpec,
    Invocation,
    LocalFunctionError,
    Worker,
    function_specs,
)
from tools.local.iam import Check, Decision, PlanPolicies, Principal
from tools.mock_runtime import StackRun, reveal

LOG = logging.getLogger("tools.local.lambdas")
EVENT_INVOKE_CONFIG = "aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig"
BOOT_MODULE = "tools.local.boot"
REPOSITORY = Path(__file__).resolve().parents[2]
DEFAULT_RETRIES = 2
DEFAULT_MAX_EVENT_AGE = 21600
RETRY_DELAYS = (1.0, 2.0)
_QUALIFIED = re.compile(r"(arn:[^:]+:lambda:[^:]+:\d{12}:function:[^:]+):[^:]+")


class FunctionNotFoundError(LookupError):
    """No function of the plan has that name or ARN."""


class InvokeDeniedError(PermissionError):
    """The caller may not invoke the function: its resource policy does not allow it."""

    def __init__(self, function: str, caller: Principal, decision: Decision) -> None:
        self.decision = decision
        super().__init__(f"{caller.arn} may not invoke {function}: {decision.explain()}")


@dataclass(frozen=True)
class AsyncSettings:
    """How Lambda handles a function's asynchronous invocations."""

    retries: int = DEFAULT_RETRIES
    max_event_age: int = DEFAULT_MAX_EVENT_AGE
    on_success: str | None = None
    on_failure: str | None = None
    dead_letter: str | None = None


def async_settings(run: StackRun, specs: Sequence[FunctionSpec]) -> dict[str, AsyncSettings]:
    """Each function's settings, by ARN: its event invoke config and dead-letter queue."""
    by_name = {key: spec for spec in specs for key in (spec.name, spec.arn, spec.resource)}
    found = {spec.arn: AsyncSettings(dead_letter=spec.dead_letter) for spec in specs}
    for config in run.of_type(EVENT_INVOKE_CONFIG):
        inputs = reveal(dict(config.inputs))
        spec = by_name.get(str(inputs["functionName"]))
        if spec is None:  # a function local mode does not run
            continue
        destinations = inputs.get("destinationConfig") or {}
        found[spec.arn] = AsyncSettings(
            retries=int(inputs.get("maximumRetryAttempts", DEFAULT_RETRIES)),
            max_event_age=int(inputs.get("maximumEventAgeInSeconds", DEFAULT_MAX_EVENT_AGE)),
            on_success=(destinations.get("onSuccess") or {}).get("destination"),
            on_failure=(destinations.get("onFailure") or {}).get("destination"),
            dead_letter=spec.dead_letter)
    return found


@dataclass
class _Queued:
    spec: FunctionSpec
    event: Any
    request_id: str
    received: float


class LocalLambda:
    """The plan's functions, each in a worker, invoked synchronously or asynchronously."""

    def __init__(self, run: StackRun, *, policies: PlanPolicies, aws: EmbeddedAws, root: Path,
                 local_environment: Mapping[str, str] | None = None,
                 environment_of: Callable[[FunctionSpec], Mapping[str, str]] = lambda spec: {},
                 only: Callable[[FunctionSpec], bool] = lambda spec: True,
                 retry_delays: Sequence[float] = RETRY_DELAYS,
                 output: Callable[[str], None] = print) -> None:
        self.policies = policies
        self.aws = aws
        self.output = output
        self.retry_delays = tuple(retry_delays)
        self.specs = [spec for spec in function_specs(run) if only(spec)]
        self.settings = async_settings(run, self.specs)
        self._root = root
        self._local_environment = dict(local_environment or {})
        self._environment_of = environment_of
        self._workers: dict[str, Worker] = {}
        self._queues: dict[str, queue.Queue[_Queued | None]] = {}
        self._threads: list[threading.Thread] = []
        self._clients: dict[tuple[str, str, str], Any] = {}
        # Invocations per function (plan resource name), retries included.
        self.invoked: Counter[str] = Counter()
        self._pending = 0
        self._idle = threading.Condition()

    # lifecycle

    def start(self) -> list[str]:
        """Starts every worker and waits for their init phases; answers warnings to show."""
        self._root.mkdir(parents=True, exist_ok=True)
        plan_file = self._root / "iam-plan.json"
        plan_file.write_text(self.policies.to_json(), encoding="utf-8")
        for spec in self.specs:
            self._workers[spec.arn] = self._worker(spec, plan_file)
        warnings: list[str] = []
        for spec, worker in zip(self.specs, self._workers.values(), strict=True):
            warnings += [f"{spec.resource}: {line}" for line in worker.start()]
        with ThreadPoolExecutor(max_workers=len(self.specs) or 1) as pool:
            ready = list(pool.map(Worker.wait_ready, self._workers.values()))
        warnings += [f"{spec.resource}: its worker did not finish its init phase"
                     for spec, done in zip(self.specs, ready, strict=True) if not done]
        return warnings

    @property
    def runtime_difference(self) -> str | None:
        """Which of the plan's runtimes differ from the Python that runs the handlers here."""
        here = f"python{sys.version_info.major}.{sys.version_info.minor}"
        declared = sorted({spec.runtime for spec in self.specs} - {here})
        if not declared:
            return None
        return (f"functions: the plan's runtime is {', '.join(declared)}; local mode runs the "
                f"handlers on this machine's {here}")

    def _worker(self, spec: FunctionSpec, plan_file: Path) -> Worker:
        info = self.policies.function(spec.arn)
        credentials = self.aws.credentials_for_role(spec.role_arn, spec.name)
        cloud = Cloud(self.aws.endpoint_url, info.region, info.account,
                      credentials.access_key_id, credentials.secret_access_key,
                      credentials.session_token)
        return Worker(spec, cloud, self._root / spec.resource, boot=BOOT_MODULE,
                      boot_path=REPOSITORY, output=self.output,
                      local_environment={**self._local_environment,
                                         **self._environment_of(spec),
                                         "LOCAL_IAM_PLAN": str(plan_file)})

    def stop(self) -> None:
        for pending in self._queues.values():
            pending.put(None)
        for thread in self._threads:
            thread.join(timeout=5)
        for worker in self._workers.values():
            worker.stop()
        self._workers.clear()

    # lookups

    def spec(self, function: str) -> FunctionSpec:
        """A function by ARN (qualified or not), name, or resource name in the plan."""
        wanted = _QUALIFIED.sub(r"\1", function)
        for spec in self.specs:
            if wanted in (spec.arn, spec.name, spec.resource):
                return spec
        raise FunctionNotFoundError(
            f"no function {function!r} runs in local mode; there are "
            f"{', '.join(sorted(spec.resource for spec in self.specs)) or 'none'}")

    def authorize(self, spec: FunctionSpec, caller: Principal | None, source_arn: str | None,
                  source_account: str | None) -> None:
        if caller is None:
            return
        context = {key: value for key, value in (("aws:SourceArn", source_arn),
                                                 ("aws:SourceAccount", source_account)) if value}
        decision = self.policies.authorize(
            caller, Check("lambda:InvokeFunction", spec.arn, context=context))
        if not decision.allowed:
            LOG.warning("%s", decision.explain())
            raise InvokeDeniedError(spec.name, caller, decision)

    # invocations

    def invoke(self, function: str, event: Any, *, caller: Principal | None,
               source_arn: str | None = None, source_account: str | None = None) -> Invocation:
        spec = self.spec(function)
        self.authorize(spec, caller, source_arn, source_account)
        return self._run(spec, event)

    def _run(self, spec: FunctionSpec, event: Any, request_id: str | None = None) -> Invocation:
        self.invoked[spec.resource] += 1
        return self._workers[spec.arn].invoke(event, request_id=request_id)

    def invoke_async(self, function: str, event: Any, *, caller: Principal | None,
                     source_arn: str | None = None, source_account: str | None = None) -> str:
        spec = self.spec(function)
        self.authorize(spec, caller, source_arn, source_account)
        request_id = str(uuid.uuid4())
        with self._idle:
            self._pending += 1
            if spec.arn not in self._queues:
                self._queues[spec.arn] = queue.Queue()
                thread = threading.Thread(target=self._run_queue, args=(self._queues[spec.arn],),
                                          name=f"async-{spec.resource}", daemon=True)
                self._threads.append(thread)
                thread.start()
        self._queues[spec.arn].put(_Queued(spec, event, request_id, time.time()))
        return request_id

    def wait_idle(self, timeout: float) -> bool:
        """Waits until every asynchronous invocation has finished (its retries included)."""
        with self._idle:
            return self._idle.wait_for(lambda: self._pending == 0, timeout)

    def _run_queue(self, pending: queue.Queue[_Queued | None]) -> None:
        while (item := pending.get()) is not None:
            try:
                self._run_async(item)
            except Exception:
                LOG.exception("the asynchronous invocation %s of %s failed in local mode",
                              item.request_id, item.spec.resource)
            finally:
                with self._idle:
                    self._pending -= 1
                    self._idle.notify_all()

    def _run_async(self, item: _Queued) -> None:
        settings = self.settings[item.spec.arn]
        attempts = 0
        condition = "RetriesExhausted"
        while True:
            if time.time() - item.received > settings.max_event_age:
                condition = "EventAgeExceeded"
                break
            attempts += 1
            try:
                result = self._run(item.spec, item.event, item.request_id)
            except LocalFunctionError as failure:
                result = Invocation({"errorType": "ServiceException",
                                     "errorMessage": str(failure)}, True, item.request_id, 0.0)
            if not result.error:
                if settings.on_success:
                    self._deliver(item, settings.on_success, "Success", attempts, result)
                return
            failed = result.payload if isinstance(result.payload, dict) else {}
            self.output(f"[{item.spec.resource}] asynchronous invocation {item.request_id} "
                        f"failed (attempt {attempts} of {settings.retries + 1}): "
                        f"{failed.get('errorType')}: {failed.get('errorMessage')}")
            if attempts > settings.retries:
                break
            time.sleep(self.retry_delays[min(attempts, len(self.retry_delays)) - 1])
        if settings.on_failure:
            self._deliver(item, settings.on_failure, condition, attempts, result)
        elif settings.dead_letter:
            self._dead_letter(item, settings.dead_letter, result)
        else:
            self.output(f"[{item.spec.resource}] asynchronous invocation {item.request_id} "
                        "was discarded: the function has no on-failure destination or DLQ")

    # deliveries, with the function's own role

    def _deliver(self, item: _Queued, destination: str, condition: str, attempts: int,
                 result: Invocation) -> None:
        record = {
            "version": "1.0",
            "timestamp": datetime.now(UTC).isoformat(timespec="milliseconds").replace(
                "+00:00", "Z"),
            "requestContext": {"requestId": item.request_id,
                               "functionArn": f"{item.spec.arn}:$LATEST",
                               "condition": condition, "approximateInvokeCount": attempts},
            "requestPayload": item.event,
            "responseContext": {"statusCode": 200, "executedVersion": "$LATEST",
                                **({"functionError": "Unhandled"} if result.error else {})},
            "responsePayload": result.payload,
        }
        self._send(item.spec, destination, json.dumps(record), {}, "Lambda Function Invocation "
                   f"Result - {'Success' if condition == 'Success' else 'Failure'}")

    def _dead_letter(self, item: _Queued, queue_or_topic: str, result: Invocation) -> None:
        error = result.payload if isinstance(result.payload, dict) else {}
        attributes = {"RequestID": item.request_id, "ErrorCode": "200",
                      "ErrorMessage": str(error.get("errorMessage", ""))[:256]}
        self._send(item.spec, queue_or_topic, json.dumps(item.event), attributes, None)

    def _send(self, spec: FunctionSpec, destination: str, body: str,
              attributes: Mapping[str, str], detail_type: str | None) -> None:
        service, region, account, name = _arn_parts(destination)
        client = self._client_as(spec, service, region)
        try:
            if service == "sqs":
                # Lambda sends by ARN, without sqs:GetQueueUrl; this is the embedded AWS's URL.
                client.send_message(
                    QueueUrl=f"{self.aws.endpoint_url}/{account}/{name}",
                    MessageBody=body, MessageAttributes=_string_attributes(attributes))
            elif service == "sns":
                client.publish(TopicArn=destination, Message=body,
                               MessageAttributes=_string_attributes(attributes))
            elif service == "events":
                client.put_events(Entries=[{
                    "Source": "lambda", "DetailType": detail_type or "Lambda Function Failure",
                    "Detail": body, "EventBusName": destination, "Resources": [spec.arn]}])
            elif service == "lambda":
                self.invoke_async(destination, json.loads(body), caller=None)
            else:
                raise ValueError(f"{destination} is not a destination Lambda supports")
            self.output(f"[{spec.resource}] sent the invocation record to {destination}")
        except Exception as error:  # noqa: BLE001 (Lambda counts a failed delivery and goes on)
            self.output(f"[{spec.resource}] could not deliver to {destination}: {error}")

    def _client_as(self, spec: FunctionSpec, service: str, region: str) -> Any:
        if service == "lambda":
            return None
        key = (spec.arn, service, region)
        if key not in self._clients:
            client = self.aws.client(service, region,
                                     self.aws.credentials_for_role(spec.role_arn, spec.name))
            self.policies.enforcer(spec.arn).install(client)
            self._clients[key] = client
        return self._clients[key]


def _arn_parts(arn: str) -> tuple[str, str, str, str]:
    parts = arn.split(":", 5)
    if len(parts) < 6:
        raise ValueError(f"{arn!r} is not an ARN")
    return parts[2], parts[3], parts[4], parts[5].rsplit("/", 1)[-1]


def _string_attributes(attributes: Mapping[str, str]) -> dict[str, dict[str, str]]:
    return {key: {"DataType": "String", "StringValue": value}
            for key, value in attributes.items()}
