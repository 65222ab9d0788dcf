"""Local mode's event wiring: the plan's event sources invoke its functions as AWS would.

``EventWiring`` reads every event source of the plan and connects it to the functions that
``LocalLambda`` runs:

- **S3 notifications** (``Report.bucket_notifications``). moto's server stores objects in this
  process, so the wiring takes the place of moto's own notification point
  (``moto.s3.notifications.send_event``), which every PutObject, POST upload, CopyObject,
  CompleteMultipartUpload and DeleteObject(s) goes through. moto also sends events AWS does not
  (an ``ObjectTagging:Put`` with every upload, an ``ObjectCreated:Put`` before a multipart
  upload's ``CompleteMultipartUpload``) and misses one (a delete marker's
  ``ObjectRemoved:DeleteMarkerCreated``): the request being served says which event S3 would
  send, and the delete marker is caught where moto makes it. Each matching configuration gets
  the record AWS documents (event version 2.1, the key URL-encoded as S3 does, the size, ETag,
  version id and a sequencer that grows with every event). Functions are invoked
  asynchronously as ``s3.amazonaws.com`` with the bucket as ``aws:SourceArn``; queues and topics
  receive the same record after their policy has been checked for S3 (moto would send a shorter
  record, unchecked); a bucket with EventBridge turned on sends S3's EventBridge event to the
  default bus. A refusal is logged: AWS would have refused the notification configuration.
- **SQS event source mappings**: a poller per mapping, with credentials of the function's role
  and that role's IAM checks (Lambda polls as the execution role, so a role without
  ``sqs:ReceiveMessage``, ``sqs:DeleteMessage`` or ``sqs:GetQueueAttributes`` fails as in AWS,
  and the log says which statement is missing). ``batchSize``,
  ``maximumBatchingWindowInSeconds``, ``filterCriteria`` (messages that match no filter are
  deleted, as Lambda does), ``functionResponseTypes: ReportBatchItemFailures`` (only the
  successes are deleted; a malformed answer fails the whole batch), ``enabled``. A failed batch
  stays in the queue, reappears after the visibility timeout, and moto's redrive moves it to the
  dead-letter queue after ``maxReceiveCount`` receives.
- **DynamoDB stream mappings**: a poller per mapping, reading moto's stream with the function's
  role from ``startingPosition``, with ``batchSize``, the batching window, ``filterCriteria``,
  ``ReportBatchItemFailures`` (processing resumes at the lowest failed sequence number),
  ``bisectBatchOnFunctionError``, ``maximumRetryAttempts``, ``maximumRecordAgeInSeconds`` and
  ``destinationConfig.onFailure`` (Lambda's ``DDBStreamBatchInfo`` record to SQS or SNS, sent
  with the function's role). moto names a stream by the time it created the table; the plan's
  stream label is given to moto's table, so the stream ARN is the plan's.
- **EventBridge rules** on the plan's buses and the default bus. moto's ``PutEvents`` calls each
  rule of the bus; for the plan's rules the wiring takes over there: the rule's state and event
  pattern (moto's matcher, given arrays of objects the way EventBridge matches them), then each
  target's ``input``, ``inputPath`` or ``inputTransformer``, and delivery in the background:
  functions invoked asynchronously as ``events.amazonaws.com`` with the rule as
  ``aws:SourceArn``, queues and topics after their policy has been checked for EventBridge, other
  buses through ``PutEvents``. A delivery that fails for a reason worth retrying is retried as the
  target's ``retryPolicy`` says (local mode waits ``retry_delays`` between attempts); one that
  cannot succeed (no permission, no such resource) or runs out of retries goes to the target's
  ``deadLetterConfig`` queue with EventBridge's message attributes.
- **Schedules**: rules with a ``scheduleExpression`` and EventBridge Scheduler schedules do not
  fire on their own clock (a local run would fire them at surprising times): ``trigger(name)``
  fires one now, a rule with the ``Scheduled Event`` event, a schedule with its target's input
  (context attributes such as ``<aws.scheduler.scheduled-time>`` filled in), invoked with the
  schedule's role checked against its policies.

Not emulated, and named by ``sources()`` when the plan has them: event source mappings of
Kinesis, MSK, MQ and other sources, tumbling windows and ``parallelizationFactor`` (one batch
of a shard at a time), ``scalingConfig.maximumConcurrency`` (each mapping has one poller, so one
batch at a time: concurrency 1), EventBridge targets other than functions, queues, topics and
buses, Scheduler's universal targets, SNS subscriptions of protocol ``lambda``, and S3 events
other than object creation, removal, tagging and ACL changes. In S3 records the caller's access
key stands for its principal id, and the account id for the bucket owner's canonical id. The
plan's rule and schedule ARNs are used as the plan declares them (``aws:SourceArn`` must match
the plan's Lambda permissions).
"""

from __future__ import annotations

import base64
import contextlib
import functools
import heapq
import itertools
import json
import logging
import re
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar, Protocol
from urllib.parse import quote_plus

import flask
import moto.s3.notifications as s3_notifications
from botocore.exceptions import BotoCoreError, ClientError  # type: ignore[import-untyped]
from jsonpath_ng.ext import parse as parse_json_path
from moto.backends import get_backend
from moto.events.exceptions import InvalidEventPatternException
from moto.events.models import EventPattern
from moto.events.models import Rule as MotoRule
from moto.s3.models import S3Backend

from tools.local.aws import EmbeddedAws, Report, plan_account, plan_region, region_of
from tools.local.functions import Invocation
from tools.local.iam import Check, PlanPolicies, Principal
from tools.mock_runtime import StackRun, reveal

LOG = logging.getLogger("tools.local.events")

EVENT_SOURCE_MAPPING = "aws:lambda/eventSourceMapping:EventSourceMapping"
EVENT_RULE = "aws:cloudwatch/eventRule:EventRule"
EVENT_TARGET = "aws:cloudwatch/eventTarget:EventTarget"
SCHEDULE = "aws:scheduler/schedule:Schedule"
TOPIC_SUBSCRIPTION = "aws:sns/topicSubscription:TopicSubscription"

S3_SERVICE = "s3.amazonaws.com"
EVENTS_SERVICE = "events.amazonaws.com"
DEFAULT_BUS = "default"
RETRY_DELAYS = (1.0, 2.0)
RECEIVE_WAIT_SECONDS = 1  # how long a poller's receive waits: how soon ``stop`` is seen
# What Lambda and EventBridge default to when the plan says nothing.
SQS_BATCH_SIZE = 10
STREAM_BATCH_SIZE = 100
TARGET_RETRIES = 185
TARGET_MAX_AGE = 86400
SQS_RECEIVE_LIMIT = 10
UNLIMITED = -1


class Lambdas(Protocol):
    """What the wiring needs of ``tools.local.lambdas.LocalLambda``."""

    def invoke(self, function: str, event: Any, *, caller: Principal | None,
               source_arn: str | None = None, source_account: str | None = None
               ) -> Invocation: ...

    def invoke_async(self, function: str, event: Any, *, caller: Principal | None,
                     source_arn: str | None = None, source_account: str | None = None
                     ) -> str: ...


class WiringError(Exception):
    """An event source of the plan that local mode cannot wire, said in one line."""


# --- event patterns ---------------------------------------------------------------------------

class PatternError(WiringError, ValueError):
    """An event pattern (or Lambda filter) that EventBridge would refuse."""


@dataclass(frozen=True)
class EventFilter:
    """An EventBridge event pattern; Lambda's filter criteria are written in the same language.

    Matching is moto's (``moto.events.models.EventPattern``: exact values, ``prefix``,
    ``suffix``, ``anything-but``, ``numeric``, ``exists``, ``cidr``, ``wildcard``,
    ``equals-ignore-case``, ``$or``). EventBridge also matches a field inside an array of
    objects (``{"detail": {"items": {"sku": ["a"]}}}`` matches any item whose ``sku`` is ``a``),
    which moto does not: the event is given to moto with every array of objects turned into an
    object of arrays."""

    text: str
    compiled: EventPattern = field(compare=False, repr=False)

    @classmethod
    def parse(cls, pattern: str | Mapping[str, Any], where: str) -> EventFilter:
        text = pattern if isinstance(pattern, str) else json.dumps(pattern)
        try:
            parsed = json.loads(text)
        except ValueError:
            raise PatternError(f"{where}: the event pattern is not JSON") from None
        if not isinstance(parsed, dict) or not parsed:
            raise PatternError(f"{where}: an event pattern is a JSON object with at least one "
                               "field")
        try:
            compiled = EventPattern.load(text)
        except InvalidEventPatternException as error:
            raise PatternError(f"{where}: {error.message}") from None
        return cls(text, compiled)

    def matches(self, event: Any) -> bool:
        return bool(self.compiled.matches_event(_arrays_of_objects_spread(event)))


def _arrays_of_objects_spread(value: Any) -> Any:
    """``[{"a": 1}, {"a": 2, "b": 3}]`` -> ``{"a": [1, 2], "b": [3]}``, at every depth, and
    nested arrays flattened: what EventBridge matches a pattern against."""
    if isinstance(value, dict):
        return {key: _arrays_of_objects_spread(item) for key, item in value.items()}
    if not isinstance(value, list):
        return value
    items: list[Any] = []
    for item in (_arrays_of_objects_spread(element) for element in value):
        items.extend(item if isinstance(item, list) else [item])
    objects = [item for item in items if isinstance(item, dict)]
    if not objects:
        return items
    fields: dict[str, list[Any]] = {}
    for obj in objects:
        for key, item in obj.items():
            fields.setdefault(key, []).extend(item if isinstance(item, list) else [item])
    return {key: _arrays_of_objects_spread(values) for key, values in fields.items()}


# --- what a target receives -------------------------------------------------------------------

_PLACEHOLDER = re.compile(r"<([A-Za-z0-9_.\-]+)>")


def json_path_value(document: Any, path: str) -> tuple[bool, Any]:
    """The first value at ``path`` (``$.detail.items[0].sku``), and whether there was one."""
    found = parse_json_path(path).find(document)
    return (True, found[0].value) if found else (False, None)


def fill_template(template: str, values: Mapping[str, Any]) -> str:
    """An input transformer's template with its variables replaced, as EventBridge does: inside
    a JSON string a value is written as text, elsewhere as JSON; a variable whose path found
    nothing is an empty text or ``null``. Unknown placeholders are left as they are."""
    out: list[str] = []
    in_string = False
    position = 0
    while position < len(template):
        character = template[position]
        if character == "\\" and in_string:
            out.append(template[position:position + 2])
            position += 2
            continue
        if character == '"':
            in_string = not in_string
        placeholder = _PLACEHOLDER.match(template, position)
        if placeholder and placeholder.group(1) in values:
            value = values[placeholder.group(1)]
            out.append(_as_text(value) if in_string else json.dumps(value))
            position = placeholder.end()
            continue
        out.append(character)
        position += 1
    return "".join(out)


def _as_text(value: Any) -> str:
    if value is None:
        return ""
    text = value if isinstance(value, str) else json.dumps(value)
    return json.dumps(text)[1:-1]


@dataclass(frozen=True)
class Target:
    """An EventBridge rule's target, or a Scheduler schedule's."""

    id: str
    arn: str
    input: str | None = None
    input_path: str | None = None
    input_paths: Mapping[str, str] = field(default_factory=dict)
    input_template: str | None = None
    dead_letter_arn: str | None = None
    max_retries: int = TARGET_RETRIES
    max_event_age: int = TARGET_MAX_AGE
    message_group_id: str | None = None
    role_arn: str | None = None

    @property
    def service(self) -> str:
        return _arn_service(self.arn)

    def payload(self, event: Mapping[str, Any], *, rule_arn: str, rule_name: str) -> str:
        """The text EventBridge sends this target for ``event``."""
        if self.input is not None:
            return self.input
        if self.input_path is not None:
            return json.dumps(json_path_value(event, self.input_path)[1])
        if self.input_template is not None:
            values: dict[str, Any] = {name: json_path_value(event, path)[1]
                                      for name, path in self.input_paths.items()}
            values.update({"aws.events.rule-arn": rule_arn, "aws.events.rule-name": rule_name,
                           "aws.events.event": event, "aws.events.event.json": event,
                           "aws.events.event.ingestion-time": event.get("time")})
            return fill_template(self.input_template, values)
        return json.dumps(event)


def _target(inputs: Mapping[str, Any], default_id: str) -> Target:
    transformer = inputs.get("inputTransformer") or {}
    retry = inputs.get("retryPolicy") or {}
    group = (inputs.get("sqsTarget") or inputs.get("sqsParameters") or {}).get("messageGroupId")
    return Target(
        id=str(inputs.get("targetId") or default_id), arn=str(inputs["arn"]),
        input=inputs.get("input"), input_path=inputs.get("inputPath"),
        input_paths=dict(transformer.get("inputPaths") or {}),
        input_template=transformer.get("inputTemplate"),
        dead_letter_arn=(inputs.get("deadLetterConfig") or {}).get("arn"),
        max_retries=int(retry.get("maximumRetryAttempts", TARGET_RETRIES)),
        max_event_age=int(retry.get("maximumEventAgeInSeconds", TARGET_MAX_AGE)),
        message_group_id=group, role_arn=inputs.get("roleArn"))


# --- the plan's event sources -----------------------------------------------------------------

@dataclass(frozen=True)
class EventRule:
    """An EventBridge rule of the plan, with its targets."""

    resource: str
    name: str
    arn: str
    region: str
    account: str
    bus: str
    pattern: EventFilter | None
    schedule: str | None
    enabled: bool
    targets: tuple[Target, ...]


@dataclass(frozen=True)
class Schedule:
    """An EventBridge Scheduler schedule of the plan."""

    resource: str
    name: str
    group: str
    arn: str
    region: str
    account: str
    expression: str
    enabled: bool
    target: Target


@dataclass(frozen=True)
class SourceMapping:
    """A Lambda event source mapping of the plan."""

    resource: str
    source_arn: str
    function_arn: str
    function: str  # the function's resource name in the plan
    function_name: str  # its name in AWS: Lambda's session name when it assumes the role
    role_arn: str
    region: str
    account: str
    enabled: bool
    batch_size: int
    window_seconds: float
    filters: tuple[EventFilter, ...]
    report_item_failures: bool
    starting_position: str
    bisect: bool
    max_retries: int
    max_record_age: int
    on_failure: str | None
    ignored: tuple[str, ...]  # settings local mode does not apply

    @property
    def kind(self) -> str:
        service = _arn_service(self.source_arn)
        if service == "dynamodb" and "/stream/" in self.source_arn:
            return "dynamodb"
        return service

    def passes_filters(self, record: Mapping[str, Any]) -> bool:
        return not self.filters or any(f.matches(record) for f in self.filters)


def _arn_service(arn: str) -> str:
    parts = arn.split(":")
    return parts[2] if len(parts) > 5 else ""


def _bus_name(value: Any) -> str:
    text = str(value or DEFAULT_BUS)
    return text.split("event-bus/", 1)[1] if text.startswith("arn:") else text


def _account_of(arn: str, default: str) -> str:
    parts = arn.split(":")
    return parts[4] if len(parts) > 5 and parts[4] else default


def read_rules(run: StackRun) -> list[EventRule]:
    """Every EventBridge rule of the plan with its targets; ``PatternError`` for a pattern
    EventBridge would refuse."""
    account, home = plan_account(run), plan_region(run)
    targets: dict[tuple[str, str, str], list[Target]] = {}
    for resource in run.of_type(EVENT_TARGET):
        inputs = reveal(dict(resource.inputs))
        key = (region_of(run, resource, home), _bus_name(inputs.get("eventBusName")),
               str(inputs["rule"]))
        targets.setdefault(key, []).append(_target(inputs, str(resource.state["name"])))
    rules = []
    for resource in run.of_type(EVENT_RULE):
        inputs = reveal(dict(resource.inputs))
        region = region_of(run, resource, home)
        name, bus = str(resource.state["name"]), _bus_name(inputs.get("eventBusName"))
        pattern = inputs.get("eventPattern")
        rules.append(EventRule(
            resource=resource.name, name=name, arn=str(resource.state["arn"]), region=region,
            account=_account_of(str(resource.state["arn"]), account), bus=bus,
            pattern=EventFilter.parse(pattern, f"rule {resource.name}") if pattern else None,
            schedule=inputs.get("scheduleExpression") or None,
            enabled=inputs.get("state", "ENABLED") != "DISABLED"
            and inputs.get("isEnabled", True) is not False,
            targets=tuple(targets.get((region, bus, name), ()))))
    return rules


def read_schedules(run: StackRun) -> list[Schedule]:
    account, home = plan_account(run), plan_region(run)
    schedules = []
    for resource in run.of_type(SCHEDULE):
        inputs = reveal(dict(resource.inputs))
        schedules.append(Schedule(
            resource=resource.name, name=str(resource.state["name"]),
            group=str(inputs.get("groupName") or "default"), arn=str(resource.state["arn"]),
            region=region_of(run, resource, home),
            account=_account_of(str(resource.state["arn"]), account),
            expression=str(inputs.get("scheduleExpression", "")),
            enabled=inputs.get("state", "ENABLED") != "DISABLED",
            target=_target(inputs["target"], "target")))
    return schedules


_IGNORED_MAPPING_SETTINGS = {
    "parallelizationFactor": "one batch of a shard at a time",
    "tumblingWindowInSeconds": "no tumbling windows",
    "scalingConfig": "one poller per mapping: concurrency 1",
    "provisionedPollerConfig": "one poller per mapping",
    "metricsConfig": "no metrics",
    "startingPositionTimestamp": "no AT_TIMESTAMP on DynamoDB streams",
}
_QUALIFIER = re.compile(r"^(arn:[^:]+:lambda:[^:]+:\d{12}:function:[^:]+):[^:]+$")


def _ignored_settings(inputs: Mapping[str, Any]) -> tuple[str, ...]:
    return tuple(f"{key} ({why})" for key, why in _IGNORED_MAPPING_SETTINGS.items()
                 if inputs.get(key) not in (None, {}, [], 0)
                 and not (key == "parallelizationFactor" and inputs[key] == 1))


def read_mappings(run: StackRun, policies: PlanPolicies) -> list[SourceMapping]:
    """Every Lambda event source mapping of the plan; ``WiringError`` for one whose function
    is not in the plan."""
    account, home = plan_account(run), plan_region(run)
    mappings = []
    for resource in run.of_type(EVENT_SOURCE_MAPPING):
        inputs = reveal(dict(resource.inputs))
        named = _QUALIFIER.sub(r"\1", str(inputs["functionName"]))
        try:
            function = policies.function(named)
        except LookupError as error:
            raise WiringError(f"event source mapping {resource.name}: {error}") from None
        source = str(inputs["eventSourceArn"])
        stream = _arn_service(source) != "sqs"
        failure = ((inputs.get("destinationConfig") or {}).get("onFailure") or {})
        filters = tuple(EventFilter.parse(f["pattern"], f"event source mapping {resource.name}")
                        for f in (inputs.get("filterCriteria") or {}).get("filters") or []
                        if f.get("pattern"))
        mappings.append(SourceMapping(
            resource=resource.name, source_arn=source, function_arn=function.arn,
            function=function.resource_name, function_name=function.name,
            role_arn=function.role_arn, region=region_of(run, resource, home),
            account=_account_of(source, account), enabled=inputs.get("enabled", True) is not False,
            batch_size=int(inputs.get("batchSize") or (STREAM_BATCH_SIZE if stream
                                                       else SQS_BATCH_SIZE)),
            window_seconds=float(inputs.get("maximumBatchingWindowInSeconds") or 0),
            filters=filters,
            report_item_failures="ReportBatchItemFailures" in (
                inputs.get("functionResponseTypes") or ()),
            starting_position=str(inputs.get("startingPosition") or "LATEST"),
            bisect=bool(inputs.get("bisectBatchOnFunctionError")),
            max_retries=int(inputs.get("maximumRetryAttempts", UNLIMITED)),
            max_record_age=int(inputs.get("maximumRecordAgeInSeconds", UNLIMITED)),
            on_failure=failure.get("destinationArn"),
            ignored=_ignored_settings(inputs)))
    return mappings


# --- background deliveries --------------------------------------------------------------------

class _Deliveries:
    """Deliveries made in the background, one at a time in order, some after a delay."""

    def __init__(self) -> None:
        self._due: list[tuple[float, int, Callable[[], None]]] = []
        self._order = itertools.count()
        self._pending = 0
        self._changed = threading.Condition()
        self._stopping = False
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="event-deliveries", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        with self._changed:
            self._stopping = True
            self._changed.notify_all()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        with self._changed:
            self._due.clear()
            self._pending = 0
            self._changed.notify_all()

    def submit(self, delivery: Callable[[], None], delay: float = 0.0) -> None:
        with self._changed:
            heapq.heappush(self._due, (time.monotonic() + delay, next(self._order), delivery))
            self._pending += 1
            self._changed.notify_all()

    def wait_idle(self, timeout: float) -> bool:
        with self._changed:
            return self._changed.wait_for(lambda: self._pending == 0, timeout)

    def _run(self) -> None:
        while True:
            with self._changed:
                while not self._stopping and (
                        not self._due or self._due[0][0] > time.monotonic()):
                    self._changed.wait(self._due[0][0] - time.monotonic() if self._due else None)
                if self._stopping:
                    return
                _, _, delivery = heapq.heappop(self._due)
            try:
                delivery()
            except Exception:  # one broken delivery must not stop the others
                LOG.exception("an event delivery failed in local mode")
            finally:
                with self._changed:
                    self._pending -= 1
                    self._changed.notify_all()


# --- the S3 request being served --------------------------------------------------------------

@dataclass(frozen=True)
class _S3Request:
    """What S3 would know of the request that caused an event."""

    query: frozenset[str]
    source_ip: str
    access_key: str | None

    @classmethod
    def current(cls) -> _S3Request | None:
        if not flask.has_request_context():
            return None
        request = flask.request
        credential = request.args.get("X-Amz-Credential") or ""
        found = re.search(r"Credential=([^/,\s]+)/", request.headers.get("Authorization", ""))
        key = found.group(1) if found else credential.split("/", 1)[0] or None
        return cls(frozenset(request.args), request.remote_addr or "127.0.0.1", key)

    def sends(self, event_name: str) -> bool:
        """Whether S3 sends ``event_name`` for this request (moto sends some it does not)."""
        for parameter, family in _REQUEST_EVENT_FAMILIES:
            if parameter in self.query:
                return event_name.startswith(family)
        return event_name.startswith(("s3:ObjectCreated:", "s3:ObjectRemoved:"))


# A request with this query parameter causes only events of that family.
_REQUEST_EVENT_FAMILIES = (("tagging", "s3:ObjectTagging:"), ("acl", "s3:ObjectAcl:"),
                           ("uploadId", "s3:ObjectCreated:CompleteMultipartUpload"),
                           ("restore", "s3:ObjectRestore:"))
_EVENTBRIDGE_DETAIL_TYPES = {"ObjectCreated": "Object Created", "ObjectRemoved": "Object Deleted",
                             "ObjectTagging": "Object Tags Added",
                             "ObjectAcl": "Object ACL Updated"}
_EVENTBRIDGE_REASONS = {"Put": "PutObject", "Post": "POST Object", "Copy": "CopyObject",
                        "CompleteMultipartUpload": "CompleteMultipartUpload"}


def _iso_millis(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _iso_seconds(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class _Sequencer:
    """S3's order of events: hexadecimal, fixed width, growing with every event."""

    def __init__(self) -> None:
        self._last = 0
        self._lock = threading.Lock()

    def next(self) -> str:
        with self._lock:
            self._last = max(self._last + 1, time.time_ns())
            return f"{self._last:018X}"


def _request_id() -> str:
    return uuid.uuid4().hex[:16].upper()


@dataclass(frozen=True)
class S3Change:
    """One object event in a bucket, with everything its records carry."""

    event_name: str  # s3:ObjectCreated:Put
    bucket: str
    bucket_arn: str
    region: str
    account: str
    key: str
    size: int | None
    etag: str | None
    version_id: str | None
    sequencer: str
    time: datetime
    source_ip: str
    principal: str
    request_id: str

    def record(self, configuration_id: str) -> dict[str, Any]:
        """The notification record, as S3 documents it (event structure version 2.1)."""
        obj: dict[str, Any] = {"key": quote_plus(self.key, safe="/")}
        if self.size is not None:
            obj["size"] = self.size
        if self.etag is not None:
            obj["eTag"] = self.etag
        if self.version_id is not None:
            obj["versionId"] = self.version_id
        obj["sequencer"] = self.sequencer
        return {
            "eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": self.region,
            "eventTime": _iso_millis(self.time), "eventName": self.event_name[3:],
            "userIdentity": {"principalId": self.principal},
            "requestParameters": {"sourceIPAddress": self.source_ip},
            "responseElements": {"x-amz-request-id": self.request_id,
                                 "x-amz-id-2": base64.b64encode(uuid.uuid4().bytes).decode()},
            "s3": {"s3SchemaVersion": "1.0", "configurationId": configuration_id,
                   "bucket": {"name": self.bucket,
                              "ownerIdentity": {"principalId": self.account},
                              "arn": self.bucket_arn},
                   "object": obj}}

    def eventbridge_event(self) -> dict[str, Any] | None:
        """The event S3 puts on the default bus of a bucket with EventBridge turned on (None
        for the events it has no EventBridge form of here: restores)."""
        family = self.event_name.split(":")[1]
        if family not in _EVENTBRIDGE_DETAIL_TYPES:
            return None
        created = family == "ObjectCreated"
        obj: dict[str, Any] = {"key": self.key}
        if created:
            obj.update({"size": self.size, "etag": self.etag})
        if self.version_id is not None:
            obj["version-id"] = self.version_id
        obj["sequencer"] = self.sequencer
        detail: dict[str, Any] = {
            "version": "0", "bucket": {"name": self.bucket}, "object": obj,
            "request-id": self.request_id, "requester": self.account,
            "source-ip-address": self.source_ip}
        if created:
            detail["reason"] = _EVENTBRIDGE_REASONS.get(self.event_name.rsplit(":", 1)[1],
                                                        "PutObject")
        elif family == "ObjectRemoved":
            detail["reason"] = "DeleteObject"
            detail["deletion-type"] = ("Delete Marker Created"
                                       if self.event_name.endswith("DeleteMarkerCreated")
                                       else "Permanently Deleted")
        detail_type = _EVENTBRIDGE_DETAIL_TYPES[family]
        if family == "ObjectTagging" and self.event_name.endswith(":Delete"):
            detail_type = "Object Tags Deleted"
        return _event(detail_type=detail_type, source="aws.s3", account=self.account,
                      region=self.region, resources=[self.bucket_arn], detail=detail,
                      moment=self.time)


def _event(*, detail_type: str, source: str, account: str, region: str,
           resources: Sequence[str], detail: Any, moment: datetime | None = None,
           event_id: str | None = None) -> dict[str, Any]:
    """An EventBridge event, its fields in EventBridge's order."""
    return {"version": "0", "id": event_id or str(uuid.uuid4()), "detail-type": detail_type,
            "source": source, "account": account,
            "time": _iso_seconds(moment or datetime.now(UTC)), "region": region,
            "resources": list(resources), "detail": detail}


# --- SQS and DynamoDB stream records ----------------------------------------------------------

def sqs_record(message: Mapping[str, Any], queue_arn: str, region: str) -> dict[str, Any]:
    """A received message as Lambda hands it to the function."""
    record: dict[str, Any] = {
        "messageId": message["MessageId"], "receiptHandle": message["ReceiptHandle"],
        "body": message.get("Body", ""), "attributes": dict(message.get("Attributes") or {}),
        "messageAttributes": {name: _message_attribute(value) for name, value
                              in (message.get("MessageAttributes") or {}).items()},
        "md5OfBody": message.get("MD5OfBody", "")}
    if message.get("MD5OfMessageAttributes"):
        record["md5OfMessageAttributes"] = message["MD5OfMessageAttributes"]
    record.update({"eventSource": "aws:sqs", "eventSourceARN": queue_arn, "awsRegion": region})
    return record


def _message_attribute(value: Mapping[str, Any]) -> dict[str, Any]:
    attribute: dict[str, Any] = {}
    if "StringValue" in value:
        attribute["stringValue"] = value["StringValue"]
    if "BinaryValue" in value:
        attribute["binaryValue"] = base64.b64encode(value["BinaryValue"]).decode()
    attribute["stringListValues"] = list(value.get("StringListValues") or [])
    attribute["binaryListValues"] = [base64.b64encode(b).decode()
                                     for b in value.get("BinaryListValues") or []]
    attribute["dataType"] = value.get("DataType", "String")
    return attribute


def _filtered_view(record: Mapping[str, Any]) -> dict[str, Any]:
    """What Lambda matches an SQS filter against: the body parsed when it is JSON."""
    view = dict(record)
    try:
        body = json.loads(record.get("body", ""))
    except ValueError:
        return view
    if isinstance(body, (dict, list)):
        view["body"] = body
    return view


def stream_record(raw: Mapping[str, Any], stream_arn: str, region: str) -> dict[str, Any]:
    """A DynamoDB stream record (as boto3 reads it) as Lambda hands it to the function."""
    change = dict(raw["dynamodb"])
    created = change.get("ApproximateCreationDateTime")
    dynamodb: dict[str, Any] = {
        "ApproximateCreationDateTime": int(created.timestamp()) if isinstance(created, datetime)
        else created}
    for key in ("Keys", "NewImage", "OldImage", "SequenceNumber", "SizeBytes",
                "StreamViewType"):
        if key in change:
            dynamodb[key] = _json_ready(change[key])
    return {"eventID": raw["eventID"], "eventName": raw["eventName"], "eventVersion": "1.1",
            "eventSource": "aws:dynamodb", "awsRegion": region, "dynamodb": dynamodb,
            "eventSourceARN": stream_arn}


def _json_ready(value: Any) -> Any:
    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(value).decode()
    if isinstance(value, dict):
        return {key: _json_ready(item) for key, item in value.items()}
    if isinstance(value, (list, set, tuple)):
        return [_json_ready(item) for item in value]
    return value


def reported_failures(payload: Any, identifiers: Sequence[str]) -> set[str] | None:
    """The items a ``ReportBatchItemFailures`` answer says failed; ``None`` when the answer is
    malformed, which Lambda treats as the whole batch failing."""
    if payload is None or payload == {} or payload == "":
        return set()
    if not isinstance(payload, dict):
        return None
    failures = payload.get("batchItemFailures")
    if failures is None:
        return set()
    if not isinstance(failures, list):
        return None
    failed = set()
    for failure in failures:
        identifier = failure.get("itemIdentifier") if isinstance(failure, dict) else None
        if not isinstance(identifier, str) or identifier not in identifiers:
            return None
        failed.add(identifier)
    return failed


# --- the wiring -------------------------------------------------------------------------------

class EventWiring:
    """The plan's event sources, invoking its functions through ``lambdas``.

    ``start`` hooks moto's S3 notifications and EventBridge rules and starts a poller per
    enabled SQS or DynamoDB stream mapping; ``stop`` unhooks moto and ends every thread.
    ``trigger`` fires a schedule now; ``sources`` lists what is wired, one line each.
    ``retry_delays`` are the waits between attempts of a failed delivery or stream batch."""

    _running: ClassVar[EventWiring | None] = None
    _running_lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self, run: StackRun, *, lambdas: Lambdas, policies: PlanPolicies,
                 aws: EmbeddedAws, report: Report, output: Callable[[str], None] = print,
                 retry_delays: Sequence[float] = RETRY_DELAYS) -> None:
        self.lambdas = lambdas
        self.policies = policies
        self.aws = aws
        self.report = report
        self.output = output
        self.retry_delays = tuple(retry_delays) or (0.0,)
        self.rules = read_rules(run)
        self.schedules = read_schedules(run)
        self.mappings = read_mappings(run, policies)
        self._lambda_subscriptions = [
            r.name for r in run.of_type(TOPIC_SUBSCRIPTION) if r.inputs.get("protocol") == "lambda"]
        self._rules_by_key = {(r.account, r.region, r.bus, r.name): r for r in self.rules}
        self._deliveries = _Deliveries()
        self._sequencer = _Sequencer()
        self._pollers: list[_Poller] = []
        self._originals: list[tuple[Any, str, Any]] = []
        self._told: set[str] = set()

    # lifecycle

    def start(self) -> EventWiring:
        with EventWiring._running_lock:
            if EventWiring._running is not None:
                raise WiringError("event wiring already runs in this process: it hooks moto, "
                                  "which keeps one state per process")
            EventWiring._running = self
        try:
            self._deliveries.start()
            self._hook(s3_notifications, "send_event", self._on_s3_event)
            self._hook(S3Backend, "_set_delete_marker", self._delete_marker_hook())
            self._hook(MotoRule, "send_to_targets", self._rule_hook())
            for mapping in self.mappings:
                poller = self._poller(mapping)
                if poller is not None:
                    self._pollers.append(poller)
                    poller.prepare()
                    poller.thread.start()
            if any(rule.schedule for rule in self.rules) or self.schedules:
                self.output("schedules do not fire on their own clock in local mode; fire one "
                            "with trigger(<rule or schedule>)")
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        for poller in self._pollers:
            poller.stopping.set()
        for poller in self._pollers:
            poller.thread.join()
        self._pollers.clear()
        for owner, name, original in reversed(self._originals):
            setattr(owner, name, original)
        self._originals.clear()
        self._deliveries.stop()
        with EventWiring._running_lock:
            if EventWiring._running is self:
                EventWiring._running = None

    def __enter__(self) -> EventWiring:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    def wait_idle(self, timeout: float) -> bool:
        """Waits until every delivery queued so far (S3, EventBridge, schedules) was made."""
        return self._deliveries.wait_idle(timeout)

    def _hook(self, owner: Any, name: str, replacement: Any) -> None:
        self._originals.append((owner, name, getattr(owner, name)))
        setattr(owner, name, replacement)

    def _tell(self, line: str) -> None:
        """Prints a problem once, however often it happens."""
        if line not in self._told:
            self._told.add(line)
            self.output(line)

    # listing

    def sources(self) -> list[str]:
        lines = []
        for n in self.report.bucket_notifications:
            where = f"{n.prefix}*{n.suffix}" if n.prefix or n.suffix else "any key"
            lines.append(f"S3 {n.bucket} {','.join(n.events)} on {where} -> {n.target_type} "
                         f"{self._short(n.target_arn)}")
        for mapping in self.mappings:
            lines.append(self._mapping_line(mapping))
        for rule in self.rules:
            what = f"schedule {rule.schedule} (fires on trigger)" if rule.schedule else \
                f"pattern {rule.pattern.text}" if rule.pattern else "no pattern"
            state = "" if rule.enabled else " [disabled]"
            targets = ", ".join(self._target_line(t) for t in rule.targets) or "no target"
            lines.append(f"EventBridge rule {rule.resource} on bus {rule.bus}{state}: {what} "
                         f"-> {targets}")
        for schedule in self.schedules:
            state = "" if schedule.enabled else " [disabled]"
            lines.append(f"Scheduler schedule {schedule.resource}{state}: {schedule.expression}"
                         f" (fires on trigger) -> {self._target_line(schedule.target)}")
        lines.extend(f"SNS subscription {name} (protocol lambda): not emulated"
                     for name in self._lambda_subscriptions)
        return lines

    def _mapping_line(self, mapping: SourceMapping) -> str:
        head = f"event source mapping {mapping.resource}: {self._short(mapping.source_arn)} -> " \
               f"function {mapping.function}"
        if mapping.kind not in ("sqs", "dynamodb"):
            return f"{head}: not emulated ({mapping.kind} sources)"
        if not mapping.enabled:
            return f"{head} [disabled]"
        settings = [f"batch {mapping.batch_size}", f"window {mapping.window_seconds:g} s"]
        if mapping.kind == "dynamodb":
            settings.append(mapping.starting_position)
            if mapping.bisect:
                settings.append("bisect on error")
            retries = mapping.max_retries
            settings.append(f"retries {'unlimited' if retries == UNLIMITED else retries}")
            if mapping.on_failure:
                settings.append(f"on failure {self._short(mapping.on_failure)}")
        if mapping.report_item_failures:
            settings.append("ReportBatchItemFailures")
        if mapping.filters:
            settings.append(f"{len(mapping.filters)} filter(s)")
        settings.append("concurrency 1 locally")
        settings.extend(f"not applied: {what}" for what in mapping.ignored)
        return f"{head} ({', '.join(settings)})"

    def _target_line(self, target: Target) -> str:
        handled = target.service in ("lambda", "sqs", "sns", "events")
        return f"{target.service} {self._short(target.arn)}" + (
            "" if handled else " (not emulated)")

    @staticmethod
    def _short(arn: str) -> str:
        return re.split(r"[:/]", arn)[-1] if arn.startswith("arn:") else arn

    # S3 notifications

    def _on_s3_event(self, account_id: str, event_name: Any, bucket: Any, key: Any) -> None:
        """Takes the place of ``moto.s3.notifications.send_event``."""
        try:
            name = str(getattr(event_name, "value", event_name))
            request = _S3Request.current()
            if request is not None and not request.sends(name):
                return
            self._s3_changed(account_id, name, bucket, key, request)
        except Exception:  # a notification never fails the S3 request
            LOG.exception("local mode could not notify %s of an S3 event", bucket.name)

    def _delete_marker_hook(self) -> Callable[..., Any]:
        original = S3Backend._set_delete_marker
        wiring = self

        def set_delete_marker(backend: S3Backend, bucket_name: str, key_name: str) -> Any:
            marker = original(backend, bucket_name, key_name)
            wiring._on_s3_event(backend.account_id, "s3:ObjectRemoved:DeleteMarkerCreated",
                                backend.get_bucket(bucket_name), marker)
            return marker

        return set_delete_marker

    def _s3_changed(self, account: str, name: str, bucket: Any, key: Any,
                    request: _S3Request | None) -> None:
        created = name.startswith("s3:ObjectCreated:")
        version = getattr(key, "version_id", None)
        change = S3Change(
            event_name=name, bucket=bucket.name, bucket_arn=bucket.arn,
            region=bucket.region_name, account=account, key=key.name,
            size=key.size if created else None,
            etag=key.etag.strip('"') if created else None,
            version_id=str(version) if bucket.is_versioned and version not in (None, "null")
            else None,
            sequencer=self._sequencer.next(), time=datetime.now(UTC),
            source_ip=request.source_ip if request else "127.0.0.1",
            principal=f"AWS:{request.access_key}" if request and request.access_key
            else f"AWS:{account}", request_id=_request_id())
        for notification in self.report.bucket_notifications:
            if notification.bucket == bucket.name and notification.matches(name, key.name):
                record = change.record(_configuration_id(bucket, notification.target_arn,
                                                         notification.events))
                self._deliveries.submit(functools.partial(
                    self._notify, notification.target_type, notification.target_arn, change,
                    record))
        configured = getattr(bucket, "notification_configuration", None)
        bridged = change.eventbridge_event()
        if configured is not None and configured.event_bridge is not None and bridged:
            self._deliveries.submit(functools.partial(
                self.put_event, bridged, change.account, change.region, DEFAULT_BUS))

    def _notify(self, target_type: str, target_arn: str, change: S3Change,
                record: dict[str, Any]) -> None:
        event = {"Records": [record]}
        where = f"S3 notification of {change.bucket} to {target_type} {self._short(target_arn)}"
        if target_type == "function":
            try:
                self.lambdas.invoke_async(target_arn, event,
                                          caller=Principal.service_principal(S3_SERVICE),
                                          source_arn=change.bucket_arn,
                                          source_account=change.account)
            except PermissionError as error:
                self.output(f"{where} refused (AWS would have refused the notification "
                            f"configuration): {error}")
            except LookupError as error:
                self.output(f"{where} failed: {error}")
            return
        action = "sqs:SendMessage" if target_type == "queue" else "sns:Publish"
        decision = self.policies.authorize(
            Principal.service_principal(S3_SERVICE),
            Check(action, target_arn, context={"aws:SourceArn": change.bucket_arn,
                                               "aws:SourceAccount": change.account}))
        if not decision.allowed:
            self.output(f"{where} refused (AWS would have refused the notification "
                        f"configuration): {decision.explain()}")
            return
        try:
            self._send(target_arn, json.dumps(event), subject="Amazon S3 Notification")
        except (BotoCoreError, ClientError) as error:
            self.output(f"{where} failed: {error}")

    def _send(self, target_arn: str, body: str, *, subject: str | None = None,
              group_id: str | None = None, deduplication_id: str | None = None,
              attributes: Mapping[str, str] | None = None, client: Any = None) -> None:
        """Sends ``body`` to a queue or topic by ARN (as the embedded AWS's admin, or with
        ``client``, a client of the right service)."""
        service, region, account, name = _arn_parts(target_arn)
        client = client or self.aws.client(service, region)
        message_attributes = {key: {"DataType": "String", "StringValue": value}
                              for key, value in (attributes or {}).items()}
        if service == "sqs":
            extra: dict[str, Any] = {}
            if name.endswith(".fifo"):
                extra = {"MessageGroupId": group_id or "default",
                         "MessageDeduplicationId": deduplication_id or str(uuid.uuid4())}
            # Services send by ARN, needing no sqs:GetQueueUrl; this is the embedded AWS's URL.
            client.send_message(QueueUrl=f"{self.aws.endpoint_url}/{account}/{name}",
                                MessageBody=body, MessageAttributes=message_attributes, **extra)
        elif service == "sns":
            client.publish(TopicArn=target_arn, Message=body,
                           MessageAttributes=message_attributes,
                           **({"Subject": subject} if subject else {}))
        else:
            raise WiringError(f"{target_arn} is not a queue or a topic")

    # EventBridge

    def _rule_hook(self) -> Callable[..., Any]:
        original = MotoRule.send_to_targets
        wiring = self

        def send_to_targets(rule: MotoRule, event: Any, transform_input: bool = True) -> None:
            planned = wiring._rules_by_key.get(
                (rule.account_id, rule.region_name, rule.event_bus_name, rule.name))
            if planned is None:
                original(rule, event, transform_input)
                return
            try:
                if rule.state == "ENABLED":
                    wiring._route(planned, _normalized(event))
            except Exception:  # PutEvents succeeds whatever the targets do
                LOG.exception("local mode could not route an event to rule %s", rule.name)

        return send_to_targets

    def put_event(self, event: dict[str, Any], account: str, region: str, bus: str) -> None:
        """Routes ``event`` (an EventBridge event) to the plan's rules on ``bus``."""
        for rule in self.rules:
            if (rule.account, rule.region, rule.bus) == (account, region, bus) \
                    and self._enabled(rule):
                self._route(rule, event)

    def _enabled(self, rule: EventRule) -> bool:
        try:
            bus = get_backend("events")[rule.account][rule.region].event_buses[rule.bus]
            return bool(bus.rules[rule.name].state == "ENABLED")
        except KeyError:
            return rule.enabled

    def _route(self, rule: EventRule, event: dict[str, Any]) -> None:
        if rule.pattern is None or not rule.pattern.matches(event):
            return
        for target in rule.targets:
            self._deliveries.submit(functools.partial(
                self._to_target, _Delivery(rule.arn, rule.name, rule.account, target, event)))

    def _to_target(self, delivery: _Delivery) -> None:
        delivery.attempts += 1
        target = delivery.target
        try:
            self._deliver(delivery)
            return
        except _DeliveryError as failure:
            error = failure
        age = time.time() - delivery.started
        if error.retryable and delivery.attempts <= target.max_retries \
                and age < target.max_event_age:
            self._deliveries.submit(functools.partial(self._to_target, delivery),
                                    self._delay(delivery.attempts))
            return
        condition = "" if not error.retryable else "MaximumEventAgeInSeconds" \
            if age >= target.max_event_age else "MaximumRetryAttempts"
        self._dead_letter(delivery, error, condition)

    def _deliver(self, delivery: _Delivery) -> None:
        """One attempt; ``_DeliveryError`` says why it failed."""
        target = delivery.target
        payload = delivery.payload()
        scheduler = delivery.schedule_role is not None
        where = f"{delivery.source_name} -> {target.service} {self._short(target.arn)}"
        if target.service == "lambda":
            if scheduler:
                self._authorize_role(delivery, "lambda:InvokeFunction")
            try:
                event = json.loads(payload)
            except ValueError:
                event = payload
            try:
                self.lambdas.invoke_async(
                    target.arn, event,
                    caller=None if scheduler else Principal.service_principal(EVENTS_SERVICE),
                    source_arn=None if scheduler else delivery.source_arn,
                    source_account=None if scheduler else delivery.account)
            except PermissionError as error:
                raise _DeliveryError("NO_PERMISSIONS", str(error), where) from None
            except LookupError as error:
                raise _DeliveryError("RESOURCE_NOT_FOUND", str(error), where) from None
            except Exception as error:  # noqa: BLE001 (any other failure is worth a retry)
                raise _DeliveryError("SDK_CLIENT_ERROR", str(error), where,
                                     retryable=True) from None
            return
        if target.service == "events":
            self._forward(delivery, where)
            return
        if target.service not in ("sqs", "sns"):
            raise _DeliveryError("NOT_EMULATED", f"local mode does not deliver to "
                                 f"{target.service} targets", where)
        action = "sqs:SendMessage" if target.service == "sqs" else "sns:Publish"
        if scheduler:
            self._authorize_role(delivery, action)
        else:
            decision = self.policies.authorize(
                Principal.service_principal(EVENTS_SERVICE),
                Check(action, target.arn, context={"aws:SourceArn": delivery.source_arn,
                                                   "aws:SourceAccount": delivery.account}))
            if not decision.allowed:
                raise _DeliveryError("NO_PERMISSIONS", decision.explain(), where)
        try:
            self._send(target.arn, payload, group_id=target.message_group_id,
                       deduplication_id=delivery.event.get("id"))
        except ClientError as error:
            code = str(error.response.get("Error", {}).get("Code", ""))
            missing = "NonExistent" in code or "NotFound" in code or "DoesNotExist" in code
            raise _DeliveryError("RESOURCE_NOT_FOUND" if missing else "SDK_CLIENT_ERROR",
                                 str(error), where, retryable=not missing) from None
        except BotoCoreError as error:
            raise _DeliveryError("SDK_CLIENT_ERROR", str(error), where, retryable=True) from None

    def _forward(self, delivery: _Delivery, where: str) -> None:
        _, region, _, _ = _arn_parts(delivery.target.arn)
        event = delivery.event
        try:
            self.aws.client("events", region).put_events(Entries=[{
                "Source": event["source"], "DetailType": event["detail-type"],
                "Detail": json.dumps(event["detail"]), "Resources": event["resources"],
                "EventBusName": delivery.target.arn}])
        except (BotoCoreError, ClientError) as error:
            raise _DeliveryError("SDK_CLIENT_ERROR", str(error), where, retryable=True) from None

    def _authorize_role(self, delivery: _Delivery, action: str) -> None:
        role = delivery.schedule_role
        assert role is not None
        decision = self.policies.authorize(Principal.assumed_role(role, "scheduler"),
                                           Check(action, delivery.target.arn))
        if not decision.allowed:
            raise _DeliveryError("NO_PERMISSIONS", decision.explain(),
                                 f"{delivery.source_name} -> {self._short(delivery.target.arn)}")

    def _delay(self, attempt: int) -> float:
        return self.retry_delays[min(attempt, len(self.retry_delays)) - 1]

    def _dead_letter(self, delivery: _Delivery, error: _DeliveryError, condition: str) -> None:
        target = delivery.target
        self.output(f"{error.where}: not delivered after {delivery.attempts} attempt(s): "
                    f"{error.code}: {error.message}")
        if not target.dead_letter_arn:
            return
        attributes = {"ERROR_CODE": error.code, "ERROR_MESSAGE": error.message[:256],
                      "RETRY_ATTEMPTS": str(delivery.attempts - 1),
                      "TARGET_ARN": target.arn,
                      ("SCHEDULE_ARN" if delivery.schedule_role else "RULE_ARN"):
                          delivery.source_arn}
        if condition:
            attributes["EXHAUSTED_RETRY_CONDITION"] = condition
        where = f"dead-letter queue {self._short(target.dead_letter_arn)} of {error.where}"
        if delivery.schedule_role:
            decision = self.policies.authorize(
                Principal.assumed_role(delivery.schedule_role, "scheduler"),
                Check("sqs:SendMessage", target.dead_letter_arn))
        else:
            decision = self.policies.authorize(
                Principal.service_principal(EVENTS_SERVICE),
                Check("sqs:SendMessage", target.dead_letter_arn,
                      context={"aws:SourceArn": delivery.source_arn,
                               "aws:SourceAccount": delivery.account}))
        if not decision.allowed:
            self.output(f"{where} refused: {decision.explain()}")
            return
        try:
            body = delivery.payload() if delivery.schedule_role else json.dumps(delivery.event)
            self._send(target.dead_letter_arn, body, attributes=attributes)
            self.output(f"{where}: sent the event")
        except (BotoCoreError, ClientError, WiringError) as failure:
            self.output(f"{where} failed: {failure}")

    # schedules

    def trigger(self, name: str) -> str:
        """Fires a scheduled rule or a Scheduler schedule now (by plan resource name or AWS
        name), even one the plan disables; answers the event id (a rule) or the execution id
        (a schedule). ``LookupError`` lists the known ones."""
        for rule in self.rules:
            if rule.schedule and name in (rule.resource, rule.name):
                event = _event(detail_type="Scheduled Event", source="aws.events",
                               account=rule.account, region=rule.region, resources=[rule.arn],
                               detail={})
                for target in rule.targets:
                    self._deliveries.submit(functools.partial(
                        self._to_target, _Delivery(rule.arn, rule.name, rule.account, target,
                                                   event)))
                self.output(f"triggered rule {rule.resource}{_disabled(rule.enabled)}: event "
                            f"{event['id']} to {len(rule.targets)} target(s)")
                return str(event["id"])
        for schedule in self.schedules:
            if name in (schedule.resource, schedule.name):
                execution = uuid.uuid4().hex[:16]
                delivery = _Delivery(schedule.arn, schedule.name, schedule.account,
                                     schedule.target, {"id": execution},
                                     schedule_role=schedule.target.role_arn or "",
                                     execution_id=execution)
                self._deliveries.submit(functools.partial(self._to_target, delivery))
                self.output(f"triggered schedule {schedule.resource}"
                            f"{_disabled(schedule.enabled)}: execution {execution}")
                return execution
        known = sorted({r.resource for r in self.rules if r.schedule}
                       | {s.resource for s in self.schedules})
        raise LookupError(f"no scheduled rule or schedule {name!r} in the plan; there are "
                          f"{', '.join(known) or 'none'}")

    # event source mappings

    def _poller(self, mapping: SourceMapping) -> _Poller | None:
        if not mapping.enabled or mapping.kind not in ("sqs", "dynamodb"):
            return None
        if mapping.kind == "sqs":
            return _QueuePoller(self, mapping)
        return _StreamPoller(self, mapping)

    def client_as_role(self, mapping: SourceMapping, service: str) -> Any:
        """A client with credentials of the mapping function's role, checked by its IAM."""
        credentials = self.aws.credentials_for_role(mapping.role_arn, mapping.function_name)
        client = self.aws.client(service, mapping.region, credentials)
        self.policies.enforcer(mapping.function_arn).install(client)
        return client


def _disabled(enabled: bool) -> str:
    return "" if enabled else " (disabled in the plan; fired because asked)"


def _normalized(event: Mapping[str, Any]) -> dict[str, Any]:
    """moto's event as EventBridge delivers it: an ISO time, no ingestion time."""
    moment = event.get("time")
    if isinstance(moment, (int, float)):
        moment = datetime.fromtimestamp(moment, UTC)
    return _event(detail_type=str(event.get("detail-type", "")), source=str(event.get("source")),
                  account=str(event.get("account")), region=str(event.get("region")),
                  resources=event.get("resources") or [], detail=event.get("detail", {}),
                  moment=moment if isinstance(moment, datetime) else None,
                  event_id=str(event.get("id") or uuid.uuid4()))


def _configuration_id(bucket: Any, target_arn: str, events: Sequence[str]) -> str:
    """The id moto keeps for the bucket's configuration entry of ``target_arn`` (the plan's, or
    one drawn when the plan set none, as S3 does)."""
    configuration = getattr(bucket, "notification_configuration", None)
    if configuration is not None:
        for entry in (*configuration.cloud_function, *configuration.queue, *configuration.topic):
            if entry.arn == target_arn and list(entry.events) == list(events):
                return str(entry.id)
    return uuid.uuid5(uuid.NAMESPACE_URL, f"{target_arn} {' '.join(events)}").hex


def _arn_parts(arn: str) -> tuple[str, str, str, str]:
    parts = arn.split(":", 5)
    if len(parts) < 6:
        raise WiringError(f"{arn!r} is not an ARN")
    return parts[2], parts[3], parts[4], re.split(r"[:/]", parts[5])[-1]


class _DeliveryError(Exception):
    def __init__(self, code: str, message: str, where: str, *, retryable: bool = False) -> None:
        super().__init__(message)
        self.code, self.message, self.where, self.retryable = code, message, where, retryable


@dataclass
class _Delivery:
    """One event on its way to one target, with its attempts."""

    source_arn: str
    source_name: str
    account: str
    target: Target
    event: dict[str, Any]
    schedule_role: str | None = None  # a Scheduler schedule's role; None for a rule
    execution_id: str | None = None
    attempts: int = 0
    started: float = field(default_factory=time.time)

    def payload(self) -> str:
        if self.schedule_role is None:
            return self.target.payload(self.event, rule_arn=self.source_arn,
                                       rule_name=self.source_name)
        context = {"aws.scheduler.schedule-arn": self.source_arn,
                   "aws.scheduler.scheduled-time": _iso_seconds(
                       datetime.fromtimestamp(self.started, UTC)),
                   "aws.scheduler.execution-id": self.execution_id or "",
                   "aws.scheduler.attempt-number": str(max(self.attempts, 1))}
        text = self.target.input if self.target.input is not None else "{}"
        for name, value in context.items():
            text = text.replace(f"<{name}>", value)
        return text


# --- pollers ----------------------------------------------------------------------------------

class _Poller:
    """One event source mapping's poller: reads batches and invokes the function with them."""

    def __init__(self, wiring: EventWiring, mapping: SourceMapping) -> None:
        self.wiring = wiring
        self.mapping = mapping
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self.run, name=f"poller-{mapping.resource}",
                                       daemon=True)

    def say(self, line: str) -> None:
        self.wiring.output(f"[{self.mapping.resource}] {line}")

    def prepare(self) -> None:
        """What the mapping settles before the stack is reported started (nothing by default)."""

    def run(self) -> None:
        failures = 0
        while not self.stopping.is_set():
            try:
                self.poll()
                failures = 0
            except (BotoCoreError, ClientError, WiringError) as error:
                failures += 1
                self.wiring._tell(f"[{self.mapping.resource}] Lambda cannot read "
                                  f"{EventWiring._short(self.mapping.source_arn)} with the role "
                                  f"of {self.mapping.function}: {error}")
                self.stopping.wait(min(2.0 ** failures, 30.0))
            except Exception:  # the poller goes on, as Lambda's would
                LOG.exception("the poller of %s failed", self.mapping.resource)
                self.stopping.wait(5.0)

    def poll(self) -> None:
        raise NotImplementedError

    def invoke(self, records: list[dict[str, Any]]) -> Invocation:
        return self.wiring.lambdas.invoke(self.mapping.function_arn, {"Records": records},
                                          caller=None)

    def failed_items(self, result: Invocation, identifiers: Sequence[str]) -> set[str]:
        """The identifiers the invocation failed (all of them on a function error or a
        malformed partial-failure answer)."""
        if result.error:
            error = result.payload if isinstance(result.payload, dict) else {}
            self.say(f"the function failed a batch of {len(identifiers)}: "
                     f"{error.get('errorType')}: {error.get('errorMessage')}")
            return set(identifiers)
        if not self.mapping.report_item_failures:
            return set()
        failed = reported_failures(result.payload, identifiers)
        if failed is None:
            self.say("the function's batchItemFailures answer is malformed, so the whole batch "
                     f"of {len(identifiers)} failed: {json.dumps(result.payload)[:200]}")
            return set(identifiers)
        return failed

    def gather(self, read: Callable[[bool], list[Any]]) -> list[Any]:
        """Reads until the batch is full, or (with a batching window) the window has passed
        since the first record; without one, until a read brings something."""
        batch: list[Any] = []
        deadline: float | None = None
        while not self.stopping.is_set() and len(batch) < self.mapping.batch_size:
            got = read(bool(batch))
            batch.extend(got)
            if batch and deadline is None:
                deadline = time.monotonic() + self.mapping.window_seconds
            if batch and (deadline is None or time.monotonic() >= deadline):
                break
            if not got and batch:
                self.stopping.wait(min(0.1, max(0.0, (deadline or 0) - time.monotonic())))
        return batch


class _QueuePoller(_Poller):
    def __init__(self, wiring: EventWiring, mapping: SourceMapping) -> None:
        super().__init__(wiring, mapping)
        _, _, account, name = _arn_parts(mapping.source_arn)
        self.url = f"{wiring.aws.endpoint_url}/{account}/{name}"
        self.client: Any = None

    def poll(self) -> None:
        if self.client is None:
            client = self.wiring.client_as_role(self.mapping, "sqs")
            client.get_queue_attributes(QueueUrl=self.url, AttributeNames=["VisibilityTimeout"])
            self.client = client
        messages = self.gather(self._receive)
        if messages:
            self._process([sqs_record(m, self.mapping.source_arn, self.mapping.region)
                           for m in messages])

    def _receive(self, more: bool) -> list[Any]:
        wanted = min(SQS_RECEIVE_LIMIT, self.mapping.batch_size)
        answer = self.client.receive_message(
            QueueUrl=self.url, MaxNumberOfMessages=wanted,
            WaitTimeSeconds=0 if more else RECEIVE_WAIT_SECONDS,
            MessageSystemAttributeNames=["All"], MessageAttributeNames=["All"])
        return list(answer.get("Messages") or [])

    def _process(self, records: list[dict[str, Any]]) -> None:
        matching = [r for r in records if self.mapping.passes_filters(_filtered_view(r))]
        if len(matching) < len(records):
            self._delete([r for r in records if r not in matching])
        if not matching:
            return
        result = self.invoke(matching)
        failed = self.failed_items(result, [r["messageId"] for r in matching])
        self._delete([r for r in matching if r["messageId"] not in failed])
        if failed:
            self.say(f"{len(failed)} message(s) stay in the queue and return after its "
                     "visibility timeout")

    def _delete(self, records: list[dict[str, Any]]) -> None:
        for start in range(0, len(records), SQS_RECEIVE_LIMIT):
            chunk = records[start:start + SQS_RECEIVE_LIMIT]
            answer = self.client.delete_message_batch(QueueUrl=self.url, Entries=[
                {"Id": str(index), "ReceiptHandle": record["receiptHandle"]}
                for index, record in enumerate(chunk)])
            for failure in answer.get("Failed") or []:
                self.say(f"could not delete a message: {failure.get('Message')}")


class _StreamPoller(_Poller):
    def __init__(self, wiring: EventWiring, mapping: SourceMapping) -> None:
        super().__init__(wiring, mapping)
        self.client: Any = None
        self.iterators: dict[str, str] = {}
        # Read but not processed yet, in order: a batching window or a failed batch's rest.
        self.backlog: list[dict[str, Any]] = []

    def prepare(self) -> None:
        # LATEST is taken now, so a write made once the stack has started is delivered; a role
        # that may not read the stream is reported by the poller's loop.
        with contextlib.suppress(BotoCoreError, ClientError, WiringError):
            self._open()

    def _open(self) -> None:
        client = self.wiring.client_as_role(self.mapping, "dynamodbstreams")
        shards = client.describe_stream(StreamArn=self.mapping.source_arn)[
            "StreamDescription"]["Shards"]
        self.iterators = {shard["ShardId"]: client.get_shard_iterator(
            StreamArn=self.mapping.source_arn, ShardId=shard["ShardId"],
            ShardIteratorType=self.mapping.starting_position)["ShardIterator"]
            for shard in shards}
        self.client = client

    def poll(self) -> None:
        if self.client is None:
            self._open()
        batch = self.gather(self._read)
        if batch:
            self._process(batch)

    def _read(self, more: bool) -> list[dict[str, Any]]:
        if self.backlog:
            taken, self.backlog = self.backlog, []
            return taken
        records: list[dict[str, Any]] = []
        for shard, iterator in list(self.iterators.items()):
            answer = self.client.get_records(ShardIterator=iterator,
                                             Limit=self.mapping.batch_size)
            self.iterators[shard] = answer["NextShardIterator"]
            records += [stream_record(r, self.mapping.source_arn, self.mapping.region)
                        for r in answer.get("Records") or []]
        records = [r for r in records if self.mapping.passes_filters(r)]
        if not records and not more:
            self.stopping.wait(RECEIVE_WAIT_SECONDS)
        return records

    def _process(self, records: list[dict[str, Any]]) -> None:
        if len(records) > self.mapping.batch_size:
            self.backlog = records[self.mapping.batch_size:] + self.backlog
            records = records[:self.mapping.batch_size]
        pending = [records]
        while pending and not self.stopping.is_set():
            self._until_done(pending.pop(0), pending)

    def _until_done(self, batch: list[dict[str, Any]],
                    pending: list[list[dict[str, Any]]]) -> None:
        """Invokes with ``batch`` until it succeeds, is bisected into ``pending``, or is
        discarded to the on-failure destination."""
        retries = 0
        while not self.stopping.is_set():
            numbers = [r["dynamodb"]["SequenceNumber"] for r in batch]
            failed = self.failed_items(self.invoke(batch), numbers)
            if not failed:
                return
            first = min(numbers.index(n) for n in failed)
            batch = batch[first:]
            if self._too_old(batch):
                self._discard(batch, "RecordAgeExceeded", retries + 1)
                return
            if self.mapping.bisect and len(batch) > 1:
                half = len(batch) // 2
                pending[:0] = [batch[:half], batch[half:]]
                self.say(f"bisected the failed batch into {half} and {len(batch) - half}")
                return
            if self.mapping.max_retries != UNLIMITED and retries >= self.mapping.max_retries:
                self._discard(batch, "RetryAttemptsExhausted", retries + 1)
                return
            retries += 1
            self.stopping.wait(self.wiring._delay(retries))

    def _too_old(self, batch: list[dict[str, Any]]) -> bool:
        if self.mapping.max_record_age == UNLIMITED:
            return False
        oldest = min(r["dynamodb"]["ApproximateCreationDateTime"] for r in batch)
        return bool(time.time() - oldest > self.mapping.max_record_age)

    def _discard(self, batch: list[dict[str, Any]], condition: str, invocations: int) -> None:
        first, last = batch[0]["dynamodb"], batch[-1]["dynamodb"]
        self.say(f"discarded {len(batch)} record(s) ({condition}), sequence numbers "
                 f"{first['SequenceNumber']} to {last['SequenceNumber']}")
        destination = self.mapping.on_failure
        if not destination:
            return
        record = {
            "requestContext": {"requestId": str(uuid.uuid4()),
                               "functionArn": self.mapping.function_arn,
                               "condition": condition, "approximateInvokeCount": invocations},
            "responseContext": {"statusCode": 200, "executedVersion": "$LATEST",
                                "functionError": "Unhandled"},
            "version": "1.0", "timestamp": _iso_millis(datetime.now(UTC)),
            "DDBStreamBatchInfo": {
                "shardId": next(iter(self.iterators), ""),
                "startSequenceNumber": first["SequenceNumber"],
                "endSequenceNumber": last["SequenceNumber"],
                "approximateArrivalOfFirstRecord": _iso_seconds(datetime.fromtimestamp(
                    first["ApproximateCreationDateTime"], UTC)),
                "approximateArrivalOfLastRecord": _iso_seconds(datetime.fromtimestamp(
                    last["ApproximateCreationDateTime"], UTC)),
                "batchSize": len(batch), "streamArn": self.mapping.source_arn}}
        service = _arn_service(destination)
        try:
            self.wiring._send(destination, json.dumps(record),
                              client=self.wiring.client_as_role(self.mapping, service))
            self.say(f"sent the failure record to {EventWiring._short(destination)}")
        except (BotoCoreError, ClientError, WiringError) as error:
            self.say(f"could not send the failure record to {destination}: {error}")

