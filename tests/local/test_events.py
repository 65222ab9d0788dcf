"""Event wiring: S3 notifications, SQS and DynamoDB stream mappings, EventBridge rules and
schedules invoke the plan's functions, checked against the embedded AWS itself.

The plan here is a small program of its own (the dev stack has only an S3 notification); the
functions are a fake ``LocalLambda`` that records every invocation and answers what each test
says. The last test runs the dev stack's real builder in a worker."""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pulumi
import pulumi_aws as aws
import pytest
from moto.s3 import notifications as moto_s3_notifications

from tests.support import planned
from tools.local.aws import EmbeddedAws, Report, create_resources
from tools.local.events import (
    EventFilter,
    EventWiring,
    PatternError,
    Target,
    WiringError,
    fill_template,
    read_mappings,
    reported_failures,
    stream_record,
)
from tools.local.functions import Invocation
from tools.local.iam import PlanPolicies, Principal
from tools.mock_runtime import StackConfig, StackRun, run_program

ACCOUNT = "111122223333"
REGION = "eu-west-1"
WAIT = 30.0  # how long a test waits for something to happen; never asserted on


# --- event patterns, templates, answers ---------------------------------------------------------

EVENT = {"version": "0", "id": "e-1", "detail-type": "OrderPlaced", "source": "shop",
         "account": ACCOUNT, "time": "2026-01-01T00:00:00Z", "region": REGION,
         "resources": ["arn:aws:s3:::bucket"],
         "detail": {"total": 42.5, "customer": {"tier": "gold", "ip": "10.0.1.7"},
                    "items": [{"sku": "a-1", "count": 2}, {"sku": "b-2", "tags": ["x", "y"]}],
                    "note": None}}


@pytest.mark.parametrize(("pattern", "matches"), [
    ({"source": ["shop"]}, True),
    ({"source": ["other"]}, False),
    ({"detail": {"customer": {"tier": ["silver", "gold"]}}}, True),
    ({"detail": {"items": {"sku": ["b-2"]}}}, True),  # a field inside an array of objects
    ({"detail": {"items": {"sku": ["c-3"]}}}, False),
    ({"detail": {"items": {"tags": ["y"]}}}, True),
    ({"detail": {"items": {"sku": [{"prefix": "a-"}]}}}, True),
    ({"detail": {"total": [{"numeric": [">", 40, "<=", 42.5]}]}}, True),
    ({"detail": {"total": [{"numeric": [">", 50]}]}}, False),
    ({"detail": {"customer": {"tier": [{"anything-but": ["gold"]}]}}}, False),
    ({"detail": {"customer": {"ip": [{"cidr": "10.0.0.0/16"}]}}}, True),
    ({"detail": {"missing": [{"exists": False}]}}, True),
    ({"detail": {"customer": [{"exists": True}]}}, False),  # exists is for leaves only
    ({"detail": {"note": [None]}}, True),
    ({"detail-type": [{"equals-ignore-case": "orderplaced"}]}, True),
    ({"detail-type": [{"wildcard": "Order*"}]}, True),
    ({"$or": [{"source": ["x"]}, {"detail": {"total": [42.5]}}]}, True),
])
def test_event_patterns_match_as_eventbridge_does(pattern: dict[str, Any],
                                                  matches: bool) -> None:
    assert EventFilter.parse(pattern, "test").matches(EVENT) is matches


@pytest.mark.parametrize(("pattern", "message"), [
    ("{not json", "not JSON"),
    ('["source"]', "a JSON object"),
    ("{}", "at least one field"),
    ('{"source": "shop"}', "must be an object or an array"),
    ('{"source": []}', "Empty arrays are not allowed"),
])
def test_bad_patterns_are_refused_with_the_reason(pattern: str, message: str) -> None:
    with pytest.raises(PatternError, match=re.escape(message)) as refused:
        EventFilter.parse(pattern, "rule orders")
    assert str(refused.value).startswith("rule orders: ")


def test_an_input_transformer_writes_values_as_json_or_inside_strings() -> None:
    values = {"sku": "a-1", "count": 2, "customer": {"tier": "gold"}, "absent": None,
              "quote": 'say "hi"'}
    assert json.loads(fill_template(
        '{"sku": <sku>, "count": <count>, "customer": <customer>, "absent": <absent>, '
        '"line": "<count> of <sku> for <customer>", "quoted": "<quote>", "kept": "<other>"}',
        values)) == {"sku": "a-1", "count": 2, "customer": {"tier": "gold"}, "absent": None,
                     "line": '2 of a-1 for {"tier": "gold"}', "quoted": 'say "hi"',
                     "kept": "<other>"}
    assert fill_template('"<sku> is <absent>"', values) == '"a-1 is "'


def test_a_target_sends_its_input_its_input_path_or_its_transformed_event() -> None:
    arn = "arn:aws:lambda:eu-west-1:111122223333:function:f"
    rule = {"rule_arn": "arn:rule", "rule_name": "orders"}
    assert Target("t", arn, input='{"fixed": true}').payload(EVENT, **rule) == '{"fixed": true}'
    assert json.loads(Target("t", arn, input_path="$.detail.customer").payload(EVENT, **rule)) \
        == {"tier": "gold", "ip": "10.0.1.7"}
    transformed = Target("t", arn, input_paths={"sku": "$.detail.items[1].sku",
                                                "who": "$.detail.customer.tier"},
                         input_template='{"sku": <sku>, "who": "<who>", '
                                        '"rule": <aws.events.rule-name>}')
    assert json.loads(transformed.payload(EVENT, **rule)) == {"sku": "b-2", "who": "gold",
                                                             "rule": "orders"}
    assert json.loads(Target("t", arn).payload(EVENT, **rule)) == EVENT


IDS = ["m-1", "m-2", "m-3"]


@pytest.mark.parametrize(("answer", "failed"), [
    (None, set()),
    ({}, set()),
    ({"batchItemFailures": []}, set()),
    ({"batchItemFailures": None}, set()),
    ({"batchItemFailures": [{"itemIdentifier": "m-2"}]}, {"m-2"}),
    ({"batchItemFailures": [{"itemIdentifier": "m-3"}, {"itemIdentifier": "m-1"}]},
     {"m-1", "m-3"}),
    ({"batchItemFailures": [{"itemIdentifier": ""}]}, None),
    ({"batchItemFailures": [{"itemIdentifier": None}]}, None),
    ({"batchItemFailures": [{"id": "m-1"}]}, None),
    ({"batchItemFailures": [{"itemIdentifier": "m-9"}]}, None),
    ({"batchItemFailures": "m-1"}, None),
    ("ok", None),
])
def test_partial_batch_answers_as_lambda_reads_them(answer: Any,
                                                    failed: set[str] | None) -> None:
    assert reported_failures(answer, IDS) == failed


# --- the fake Lambda service ------------------------------------------------------------------

class DeniedError(PermissionError):
    """Stands for ``tools.local.lambdas.InvokeDeniedError``."""


@dataclass
class Call:
    function: str  # the plan resource name
    event: Any
    caller: Principal | None
    source_arn: str | None
    source_account: str | None
    asynchronous: bool


@dataclass
class FakeLambdas:
    """Records invocations; ``answers`` says what a function answers (by resource name), and
    ``denied`` which functions refuse their callers."""

    names: dict[str, str]  # ARN -> resource name
    answers: dict[str, Callable[[Any], Invocation]] = field(default_factory=dict)
    denied: set[str] = field(default_factory=set)
    flaky: dict[str, int] = field(default_factory=dict)  # refusals left before accepting
    calls: list[Call] = field(default_factory=list)
    changed: threading.Condition = field(default_factory=threading.Condition)

    def _call(self, function: str, event: Any, caller: Principal | None,
              source_arn: str | None, source_account: str | None, asynchronous: bool) -> str:
        name = self.names.get(re.sub(r"(:function:[^:]+):[^:]+$", r"\1", function), function)
        if name in self.denied:
            raise DeniedError(f"{caller.arn if caller else 'Lambda'} may not invoke {name}")
        if self.flaky.get(name):
            self.flaky[name] -= 1
            raise ConnectionError(f"{name} is busy")
        with self.changed:
            self.calls.append(Call(name, json.loads(json.dumps(event)), caller, source_arn,
                                   source_account, asynchronous))
            self.changed.notify_all()
        return name

    def invoke(self, function: str, event: Any, *, caller: Principal | None,
               source_arn: str | None = None, source_account: str | None = None) -> Invocation:
        name = self._call(function, event, caller, source_arn, source_account, False)
        answer = self.answers.get(name)
        return answer(event) if answer else Invocation(None, False, "request", 0.0)

    def invoke_async(self, function: str, event: Any, *, caller: Principal | None,
                     source_arn: str | None = None, source_account: str | None = None) -> str:
        self._call(function, event, caller, source_arn, source_account, True)
        return "request"

    def of(self, function: str) -> list[Call]:
        with self.changed:
            return [c for c in self.calls if c.function == function]

    def wait(self, ready: Callable[[], bool]) -> None:
        with self.changed:
            assert self.changed.wait_for(ready, WAIT), "gave up waiting for invocations"


def answer(payload: Any, *, error: bool = False) -> Invocation:
    return Invocation(payload, error, "request", 0.0)


def function_error(message: str) -> Invocation:
    return answer({"errorType": "ValueError", "errorMessage": message}, error=True)


def eventually(ready: Callable[[], Any]) -> Any:
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        if value := ready():
            return value
        time.sleep(0.05)
    raise AssertionError("gave up waiting")


# --- a plan with every kind of event source ---------------------------------------------------

def role_policy(*statements: tuple[list[str], Any]) -> Any:
    """A policy document allowing each (actions, resource ARN outputs) pair."""
    return pulumi.Output.all(*[resource for _, resource in statements]).apply(
        lambda arns: json.dumps({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": actions, "Resource": arn}
            for (actions, _), arn in zip(statements, arns, strict=True)]}))


def service_policy(service: str, action: str, resource: Any, source: Any) -> Any:
    return pulumi.Output.all(resource, source).apply(lambda args: json.dumps({
        "Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Principal": {"Service": service}, "Action": action,
            "Resource": args[0], "Condition": {"ArnEquals": {"aws:SourceArn": args[1]}}}]}))


def events_program() -> None:
    provider = aws.Provider("provider", region=REGION, allowed_account_ids=[ACCOUNT])
    opts = pulumi.ResourceOptions(provider=provider)

    def function(name: str, *statements: tuple[list[str], Any]) -> aws.lambda_.Function:
        inline = [aws.iam.RoleInlinePolicyArgs(name="access", policy=role_policy(*statements))
                  ] if statements else []
        role = aws.iam.Role(f"{name}-role", assume_role_policy="{}", inline_policies=inline,
                            opts=opts)
        return aws.lambda_.Function(name, role=role.arn, runtime="python3.12",
                                    handler="app.handler", code=pulumi.AssetArchive({}),
                                    opts=opts)

    def may_invoke(name: str, fn: aws.lambda_.Function, service: str, source: Any) -> None:
        aws.lambda_.Permission(name, function=fn.name, action="lambda:InvokeFunction",
                               principal=service, source_arn=source, opts=opts)

    # SQS: a consumer with partial failures and a filter; a role that cannot poll.
    orders_dlq = aws.sqs.Queue("orders-dlq", opts=opts)
    orders = aws.sqs.Queue("orders", visibility_timeout_seconds=1, opts=opts,
                           redrive_policy=orders_dlq.arn.apply(lambda arn: json.dumps(
                               {"deadLetterTargetArn": arn, "maxReceiveCount": 2})))
    consumer = function("queue-consumer", (["sqs:ReceiveMessage", "sqs:DeleteMessage",
                                            "sqs:GetQueueAttributes"], orders.arn))
    aws.lambda_.EventSourceMapping(
        "orders-to-consumer", event_source_arn=orders.arn, function_name=consumer.arn,
        batch_size=3, maximum_batching_window_in_seconds=1,
        function_response_types=["ReportBatchItemFailures"],
        filter_criteria=aws.lambda_.EventSourceMappingFilterCriteriaArgs(filters=[
            aws.lambda_.EventSourceMappingFilterCriteriaFilterArgs(
                pattern=json.dumps({"body": {"kind": ["order"]}}))]),
        scaling_config=aws.lambda_.EventSourceMappingScalingConfigArgs(maximum_concurrency=5),
        opts=opts)
    unread = aws.sqs.Queue("unread", opts=opts)
    starved = function("starved", (["logs:PutLogEvents"], unread.arn))
    aws.lambda_.EventSourceMapping("unread-to-starved", event_source_arn=unread.arn,
                                   function_name=starved.name, opts=opts)

    # DynamoDB stream: bisecting, one retry, failures to a queue.
    ledger = aws.dynamodb.Table(
        "ledger", hash_key="pk", billing_mode="PAY_PER_REQUEST", stream_enabled=True,
        stream_view_type="NEW_AND_OLD_IMAGES",
        attributes=[aws.dynamodb.TableAttributeArgs(name="pk", type="S")], opts=opts)
    failures = aws.sqs.Queue("ledger-failures", opts=opts)
    ledger_reader = function(
        "ledger-reader",
        (["dynamodb:DescribeStream", "dynamodb:GetShardIterator", "dynamodb:GetRecords",
          "dynamodb:ListStreams"], ledger.stream_arn),
        (["sqs:SendMessage"], failures.arn))
    aws.lambda_.EventSourceMapping(
        "ledger-to-reader", event_source_arn=ledger.stream_arn,
        function_name=ledger_reader.name, starting_position="TRIM_HORIZON", batch_size=10,
        bisect_batch_on_function_error=True, maximum_retry_attempts=1,
        destination_config=aws.lambda_.EventSourceMappingDestinationConfigArgs(
            on_failure=aws.lambda_.EventSourceMappingDestinationConfigOnFailureArgs(
                destination_arn=failures.arn)),
        filter_criteria=aws.lambda_.EventSourceMappingFilterCriteriaArgs(filters=[
            aws.lambda_.EventSourceMappingFilterCriteriaFilterArgs(pattern=json.dumps(
                {"dynamodb": {"NewImage": {"pk": {"S": [{"anything-but": ["skip"]}]}}}}))]),
        opts=opts)

    # EventBridge: a rule on a bus with a function, a queue, and a queue that refuses it.
    bus = aws.cloudwatch.EventBus("shop", opts=opts)
    placed = aws.cloudwatch.EventRule(
        "orders-placed", event_bus_name=bus.name, opts=opts,
        event_pattern=json.dumps({"source": ["shop"], "detail": {"items": {"sku": ["a-1"]}}}))
    handler = function("order-handler")
    may_invoke("order-handler-from-rule", handler, "events.amazonaws.com", placed.arn)
    aws.cloudwatch.EventTarget(
        "placed-to-handler", rule=placed.name, event_bus_name=bus.name, arn=handler.arn,
        input_transformer=aws.cloudwatch.EventTargetInputTransformerArgs(
            input_paths={"first": "$.detail.items[0].sku", "rule": "$.resources[0]"},
            input_template='{"first": <first>, "rule": "<aws.events.rule-name>"}'), opts=opts)
    inbox = aws.sqs.Queue("inbox", opts=opts)
    aws.sqs.QueuePolicy("inbox-policy", queue_url=inbox.url, opts=opts, policy=service_policy(
        "events.amazonaws.com", "sqs:SendMessage", inbox.arn, placed.arn))
    aws.cloudwatch.EventTarget("placed-to-inbox", rule=placed.name, event_bus_name=bus.name,
                               arn=inbox.arn, input_path="$.detail", opts=opts)
    closed = aws.sqs.Queue("closed", opts=opts)
    rule_dlq = aws.sqs.Queue("rule-dlq", opts=opts)
    aws.sqs.QueuePolicy("rule-dlq-policy", queue_url=rule_dlq.url, opts=opts,
                        policy=service_policy("events.amazonaws.com", "sqs:SendMessage",
                                              rule_dlq.arn, placed.arn))
    aws.cloudwatch.EventTarget(
        "placed-to-closed", rule=placed.name, event_bus_name=bus.name, arn=closed.arn,
        dead_letter_config=aws.cloudwatch.EventTargetDeadLetterConfigArgs(arn=rule_dlq.arn),
        opts=opts)

    # Schedules: a scheduled rule with two targets, a Scheduler schedule with its role.
    nightly = aws.cloudwatch.EventRule("nightly", schedule_expression="rate(1 day)", opts=opts)
    may_invoke("order-handler-nightly", handler, "events.amazonaws.com", nightly.arn)
    aws.cloudwatch.EventTarget("nightly-job", rule=nightly.name, arn=handler.arn,
                               input='{"job": "nightly"}', opts=opts)
    reporter = function("reporter")
    may_invoke("reporter-nightly", reporter, "events.amazonaws.com", nightly.arn)
    nightly_dlq = aws.sqs.Queue("nightly-dlq", opts=opts)
    aws.sqs.QueuePolicy("nightly-dlq-policy", queue_url=nightly_dlq.url, opts=opts,
                        policy=service_policy("events.amazonaws.com", "sqs:SendMessage",
                                              nightly_dlq.arn, nightly.arn))
    aws.cloudwatch.EventTarget(
        "nightly-report", rule=nightly.name, arn=reporter.arn, opts=opts,
        retry_policy=aws.cloudwatch.EventTargetRetryPolicyArgs(
            maximum_retry_attempts=2, maximum_event_age_in_seconds=3600),
        dead_letter_config=aws.cloudwatch.EventTargetDeadLetterConfigArgs(arn=nightly_dlq.arn))
    scheduler_role = aws.iam.Role(
        "scheduler-role", assume_role_policy="{}", opts=opts, inline_policies=[
            aws.iam.RoleInlinePolicyArgs(name="invoke", policy=role_policy(
                (["lambda:InvokeFunction"], reporter.arn)))])
    aws.scheduler.Schedule(
        "hourly", schedule_expression="rate(1 hour)", opts=opts,
        flexible_time_window=aws.scheduler.ScheduleFlexibleTimeWindowArgs(mode="OFF"),
        target=aws.scheduler.ScheduleTargetArgs(
            arn=reporter.arn, role_arn=scheduler_role.arn,
            input='{"execution": "<aws.scheduler.execution-id>", "attempt": '
                  '<aws.scheduler.attempt-number>}'))
    aws.scheduler.Schedule(
        "forbidden", schedule_expression="rate(1 hour)", opts=opts,
        flexible_time_window=aws.scheduler.ScheduleFlexibleTimeWindowArgs(mode="OFF"),
        target=aws.scheduler.ScheduleTargetArgs(arn=handler.arn, role_arn=scheduler_role.arn))

    # S3: created objects under in/ to a function, removals to a queue, EventBridge on.
    uploads = aws.s3.Bucket("uploads", opts=opts)
    aws.s3.BucketVersioning("uploads-versioning", bucket=uploads.id, opts=opts,
                            versioning_configuration={"status": "Enabled"})
    on_upload = function("on-upload")
    may_invoke("on-upload-from-s3", on_upload, "s3.amazonaws.com", uploads.arn)
    unpermitted = function("unpermitted")
    removals = aws.sqs.Queue("removals", opts=opts)
    aws.sqs.QueuePolicy("removals-policy", queue_url=removals.url, opts=opts, policy=service_policy(
        "s3.amazonaws.com", "sqs:SendMessage", removals.arn, uploads.arn))
    aws.s3.BucketNotification(
        "uploads-notifications", bucket=uploads.id, eventbridge=True, opts=opts,
        lambda_functions=[
            aws.s3.BucketNotificationLambdaFunctionArgs(
                id="uploads-in", lambda_function_arn=on_upload.arn,
                events=["s3:ObjectCreated:*"], filter_prefix="in/"),
            aws.s3.BucketNotificationLambdaFunctionArgs(
                id="uploads-tags", lambda_function_arn=on_upload.arn,
                events=["s3:ObjectTagging:*"], filter_prefix="in/"),
            aws.s3.BucketNotificationLambdaFunctionArgs(
                lambda_function_arn=unpermitted.arn, events=["s3:ObjectCreated:*"],
                filter_prefix="secret/")],
        queues=[aws.s3.BucketNotificationQueueArgs(queue_arn=removals.arn,
                                                   events=["s3:ObjectRemoved:*"])])
    s3_rule = aws.cloudwatch.EventRule("uploads-created", opts=opts, event_pattern=json.dumps(
        {"source": ["aws.s3"], "detail-type": ["Object Created"]}))
    watcher = function("upload-watcher")
    may_invoke("upload-watcher-from-rule", watcher, "events.amazonaws.com", s3_rule.arn)
    aws.cloudwatch.EventTarget("uploads-created-to-watcher", rule=s3_rule.name,
                               arn=watcher.arn, opts=opts)


@pytest.fixture(scope="module")
def plan() -> StackRun:
    return run_program(events_program, config=StackConfig(
        {"aws:region": REGION, "blueprints:account": json.dumps({"id": ACCOUNT})}, ()))


def physical(run: StackRun, type_: str, name: str, key: str = "name") -> str:
    return str(run.one(type_, name).state[key])


def queue_url(local: EmbeddedAws, run: StackRun, name: str) -> str:
    return f"{local.endpoint_url}/{ACCOUNT}/{physical(run, 'aws:sqs/queue:Queue', name)}"


def messages(local: EmbeddedAws, url: str) -> list[dict[str, Any]]:
    return list(local.client("sqs").receive_message(
        QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"],
        WaitTimeSeconds=1).get("Messages") or [])


@dataclass
class Running:
    run: StackRun
    local: EmbeddedAws
    report: Report
    wiring: EventWiring
    lambdas: FakeLambdas
    lines: list[str]


@pytest.fixture(scope="class")
def running(plan: StackRun) -> Iterator[Running]:
    """The plan wired to fake functions, fresh for each class of tests."""
    names = {r.state["arn"]: r.name for r in plan.of_type("aws:lambda/function:Function")}
    lambdas = FakeLambdas(names, denied={"unpermitted"})
    lines: list[str] = []
    with EmbeddedAws.for_plan(plan) as local:
        report = create_resources(plan, local)
        local.client("dynamodb").put_item(  # before the wiring starts: TRIM_HORIZON reads it
            TableName=physical(plan, "aws:dynamodb/table:Table", "ledger"),
            Item={"pk": {"S": "early"}, "amount": {"N": "1"}})
        wiring = EventWiring(plan, lambdas=lambdas, policies=PlanPolicies.from_run(plan),
                             aws=local, report=report, output=lines.append,
                             retry_delays=(0.0,))
        with wiring:
            yield Running(plan, local, report, wiring, lambdas, lines)


def said(running: Running, pattern: str) -> str:
    return str(eventually(lambda: next((line for line in running.lines
                                        if re.search(pattern, line)), None)))


# --- S3 --------------------------------------------------------------------------------------

class TestS3Notifications:
    def test_an_upload_reaches_the_function_with_s3s_record(self, running: Running) -> None:
        bucket = physical(running.run, "aws:s3/bucket:Bucket", "uploads", "bucket")
        put = running.local.client("s3").put_object(Bucket=bucket, Key="in/a b+c=d.csv",
                                                    Body=b"id,name\n")
        running.wiring.wait_idle(WAIT)
        (call,) = running.lambdas.of("on-upload")
        assert call.asynchronous
        assert call.caller == Principal.service_principal("s3.amazonaws.com")
        assert (call.source_arn, call.source_account) == (f"arn:aws:s3:::{bucket}", ACCOUNT)
        (record,) = call.event["Records"]
        assert {key: record[key] for key in ("eventVersion", "eventSource", "awsRegion",
                                             "eventName")} == {
            "eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": REGION,
            "eventName": "ObjectCreated:Put"}
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", record["eventTime"])
        assert record["requestParameters"] == {"sourceIPAddress": "127.0.0.1"}
        assert record["userIdentity"]["principalId"] == \
            f"AWS:{running.local.credentials.access_key_id}"
        assert set(record["responseElements"]) == {"x-amz-request-id", "x-amz-id-2"}
        entity = record["s3"]
        assert entity["s3SchemaVersion"] == "1.0"
        assert entity["configurationId"] == "uploads-in"
        assert entity["bucket"] == {"name": bucket, "ownerIdentity": {"principalId": ACCOUNT},
                                    "arn": f"arn:aws:s3:::{bucket}"}
        obj = entity["object"]
        assert obj["key"] == "in/a+b%2Bc%3Dd.csv"  # form-encoded as S3 does; / kept
        assert (obj["size"], obj["eTag"], obj["versionId"]) == (
            8, put["ETag"].strip('"'), put["VersionId"])
        assert re.fullmatch(r"[0-9A-F]+", obj["sequencer"])

    def test_other_keys_reach_no_function_and_tagging_is_its_own_event(self,
                                                                   running: Running) -> None:
        bucket = physical(running.run, "aws:s3/bucket:Bucket", "uploads", "bucket")
        s3 = running.local.client("s3")
        before = len(running.lambdas.of("on-upload"))
        s3.put_object(Bucket=bucket, Key="out/x.csv", Body=b"x")
        s3.put_object(Bucket=bucket, Key="in/tagged.csv", Body=b"x", Tagging="a=b")
        s3.put_object_tagging(Bucket=bucket, Key="in/tagged.csv",
                              Tagging={"TagSet": [{"Key": "c", "Value": "d"}]})
        running.wiring.wait_idle(WAIT)
        events = [c.event["Records"][0] for c in running.lambdas.of("on-upload")[before:]]
        assert [(e["eventName"], e["s3"]["object"]["key"], e["s3"]["configurationId"])
                for e in events] == [("ObjectCreated:Put", "in/tagged.csv", "uploads-in"),
                                     ("ObjectTagging:Put", "in/tagged.csv", "uploads-tags")]

    def test_a_multipart_upload_is_one_complete_event_and_a_copy_is_a_copy(
            self, running: Running) -> None:
        bucket = physical(running.run, "aws:s3/bucket:Bucket", "uploads", "bucket")
        s3 = running.local.client("s3")
        before = len(running.lambdas.of("on-upload"))
        upload = s3.create_multipart_upload(Bucket=bucket, Key="in/big.csv")
        part = s3.upload_part(Bucket=bucket, Key="in/big.csv", UploadId=upload["UploadId"],
                              PartNumber=1, Body=b"y" * 10)
        s3.complete_multipart_upload(
            Bucket=bucket, Key="in/big.csv", UploadId=upload["UploadId"],
            MultipartUpload={"Parts": [{"ETag": part["ETag"], "PartNumber": 1}]})
        s3.copy_object(Bucket=bucket, Key="in/copy.csv",
                       CopySource={"Bucket": bucket, "Key": "in/big.csv"})
        running.wiring.wait_idle(WAIT)
        events = [c.event["Records"][0] for c in running.lambdas.of("on-upload")[before:]]
        assert [(e["eventName"], e["s3"]["object"]["key"], e["s3"]["object"]["size"])
                for e in events] == [("ObjectCreated:CompleteMultipartUpload", "in/big.csv", 10),
                                     ("ObjectCreated:Copy", "in/copy.csv", 10)]
        first, second = (e["s3"]["object"]["sequencer"] for e in events)
        assert second > first

    def test_a_removal_reaches_the_queue_as_a_delete_marker(self, running: Running) -> None:
        bucket = physical(running.run, "aws:s3/bucket:Bucket", "uploads", "bucket")
        s3 = running.local.client("s3")
        s3.put_object(Bucket=bucket, Key="gone.txt", Body=b"x")
        deleted = s3.delete_object(Bucket=bucket, Key="gone.txt")
        running.wiring.wait_idle(WAIT)
        url = queue_url(running.local, running.run, "removals")
        bodies = [json.loads(m["Body"]) for m in messages(running.local, url)]
        records = [b["Records"][0] for b in bodies if "Records" in b]  # not S3's TestEvent
        (record,) = records
        assert record["eventName"] == "ObjectRemoved:DeleteMarkerCreated"
        assert record["s3"]["object"]["key"] == "gone.txt"
        assert record["s3"]["object"]["versionId"] == deleted["VersionId"]
        assert "size" not in record["s3"]["object"]

    def test_a_function_without_permission_is_refused_and_the_log_says_why(
            self, running: Running) -> None:
        bucket = physical(running.run, "aws:s3/bucket:Bucket", "uploads", "bucket")
        running.local.client("s3").put_object(Bucket=bucket, Key="secret/x", Body=b"x")
        running.wiring.wait_idle(WAIT)
        assert running.lambdas.of("unpermitted") == []
        line = said(running, r"S3 notification of .* to function .*unpermitted")
        assert "AWS would have refused the notification configuration" in line

    def test_eventbridge_gets_s3s_event_on_the_default_bus(self, running: Running) -> None:
        bucket = physical(running.run, "aws:s3/bucket:Bucket", "uploads", "bucket")
        running.local.client("s3").put_object(Bucket=bucket, Key="seen.txt", Body=b"abc")
        running.wiring.wait_idle(WAIT)
        calls = [c for c in running.lambdas.of("upload-watcher")
                 if c.event["detail"]["object"]["key"] == "seen.txt"]
        (call,) = calls
        event = call.event
        assert (event["source"], event["detail-type"], event["resources"]) == (
            "aws.s3", "Object Created", [f"arn:aws:s3:::{bucket}"])
        assert event["detail"]["bucket"] == {"name": bucket}
        assert event["detail"]["object"]["size"] == 3
        assert event["detail"]["reason"] == "PutObject"
        assert call.source_arn == physical(running.run, "aws:cloudwatch/eventRule:EventRule",
                                           "uploads-created", "arn")


# --- SQS --------------------------------------------------------------------------------------

class TestQueueMapping:
    def test_batches_filters_partial_failures_and_the_redrive(self, running: Running) -> None:
        sqs = running.local.client("sqs")
        url = queue_url(running.local, running.run, "orders")

        def consume(event: Any) -> Invocation:
            failed = [r["messageId"] for r in event["Records"]
                      if json.loads(r["body"]).get("fail")]
            return answer({"batchItemFailures": [{"itemIdentifier": i} for i in failed]})

        running.lambdas.answers["queue-consumer"] = consume
        sent = [{"kind": "order", "n": n} for n in range(5)] + [
            {"kind": "order", "n": 5, "fail": True}, {"kind": "refund", "n": 6}]
        sqs.send_message_batch(QueueUrl=url, Entries=[
            {"Id": str(index), "MessageBody": json.dumps(body),
             "MessageAttributes": {"origin": {"DataType": "String", "StringValue": "test"}}}
            for index, body in enumerate(sent)])
        dlq = queue_url(running.local, running.run, "orders-dlq")
        (dead,) = eventually(lambda: messages(running.local, dlq))
        assert json.loads(dead["Body"])["n"] == 5

        calls = running.lambdas.of("queue-consumer")
        assert all(not c.asynchronous and c.caller is None for c in calls)
        assert max(len(c.event["Records"]) for c in calls) <= 3
        delivered = [json.loads(r["body"])["n"] for c in calls for r in c.event["Records"]]
        assert sorted(delivered) == [0, 1, 2, 3, 4, 5, 5]  # the failure twice, refunds never
        record = calls[0].event["Records"][0]
        assert (record["eventSource"], record["awsRegion"], record["eventSourceARN"]) == (
            "aws:sqs", REGION, physical(running.run, "aws:sqs/queue:Queue", "orders", "arn"))
        assert record["messageAttributes"]["origin"] == {
            "stringValue": "test", "stringListValues": [], "binaryListValues": [],
            "dataType": "String"}
        assert {"ApproximateReceiveCount", "SentTimestamp", "SenderId"} <= set(
            record["attributes"])
        assert record["md5OfBody"]
        assert record["receiptHandle"]
        left = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        assert (left["ApproximateNumberOfMessages"],
                left["ApproximateNumberOfMessagesNotVisible"]) == ("0", "0")

    def test_a_role_that_cannot_poll_fails_as_in_aws(self, running: Running) -> None:
        line = said(running, r"\[unread-to-starved\] Lambda cannot read")
        assert "is not authorized to perform: sqs:GetQueueAttributes" in line
        assert running.lambdas.of("starved") == []


# --- DynamoDB streams -------------------------------------------------------------------------

class TestStreamMapping:
    def test_records_failures_bisection_and_the_failure_destination(
            self, running: Running) -> None:
        table = physical(running.run, "aws:dynamodb/table:Table", "ledger")

        def read(event: Any) -> Invocation:
            keys = [r["dynamodb"]["Keys"]["pk"]["S"] for r in event["Records"]]
            return function_error("poisoned") if "poison" in keys else answer(None)

        running.lambdas.answers["ledger-reader"] = read
        dynamodb = running.local.client("dynamodb")
        for key in ("good-1", "skip", "poison", "good-2"):
            dynamodb.put_item(TableName=table, Item={"pk": {"S": key}, "amount": {"N": "2"}})
        dynamodb.update_item(TableName=table, Key={"pk": {"S": "good-1"}},
                             UpdateExpression="SET amount = :a",
                             ExpressionAttributeValues={":a": {"N": "3"}})
        failures = queue_url(running.local, running.run, "ledger-failures")
        (message,) = eventually(lambda: messages(running.local, failures))
        failure = json.loads(message["Body"])

        def succeeded() -> list[dict[str, Any]]:
            return [r for c in running.lambdas.of("ledger-reader") for r in c.event["Records"]
                    if "poison" not in [x["dynamodb"]["Keys"]["pk"]["S"]
                                        for x in c.event["Records"]]]

        seen = eventually(lambda: (lambda got: got if len(got) >= 4 else None)(succeeded()))
        keys = [(r["eventName"], r["dynamodb"]["Keys"]["pk"]["S"]) for r in seen]
        assert keys == [("INSERT", "early"), ("INSERT", "good-1"), ("INSERT", "good-2"),
                        ("MODIFY", "good-1")]
        stream_arn = physical(running.run, "aws:dynamodb/table:Table", "ledger", "streamArn")
        modify = seen[-1]
        assert (modify["eventSource"], modify["eventVersion"], modify["awsRegion"],
                modify["eventSourceARN"]) == ("aws:dynamodb", "1.1", REGION, stream_arn)
        change = modify["dynamodb"]
        assert change["StreamViewType"] == "NEW_AND_OLD_IMAGES"
        assert change["OldImage"]["amount"] == {"N": "2"}
        assert change["NewImage"]["amount"] == {"N": "3"}
        assert isinstance(change["ApproximateCreationDateTime"], int)

        poison = [c.event["Records"] for c in running.lambdas.of("ledger-reader")
                  if [r["dynamodb"]["Keys"]["pk"]["S"] for r in c.event["Records"]]
                  == ["poison"]]
        assert len(poison) == 2  # the first attempt alone, and one retry
        info = failure["DDBStreamBatchInfo"]
        assert failure["requestContext"]["condition"] == "RetryAttemptsExhausted"
        assert failure["requestContext"]["functionArn"] == physical(
            running.run, "aws:lambda/function:Function", "ledger-reader", "arn")
        assert (info["batchSize"], info["streamArn"]) == (1, stream_arn)
        assert info["startSequenceNumber"] == info["endSequenceNumber"] == \
            poison[0][0]["dynamodb"]["SequenceNumber"]


def test_a_stream_record_as_lambda_hands_it_over() -> None:
    raw = {"eventID": "1", "eventName": "INSERT", "eventVersion": "1.0",
           "eventSource": "aws:dynamodb", "awsRegion": "us-east-1",
           "dynamodb": {"ApproximateCreationDateTime": datetime(2026, 1, 1, tzinfo=UTC),
                        "Keys": {"pk": {"B": b"\x00\x01"}}, "SequenceNumber": "7",
                        "SizeBytes": 10, "StreamViewType": "KEYS_ONLY"}}
    record = stream_record(raw, "arn:stream", REGION)
    assert record["awsRegion"] == REGION  # moto says us-east-1 whatever the table's region
    assert record["dynamodb"] == {"ApproximateCreationDateTime": 1767225600,
                                  "Keys": {"pk": {"B": "AAE="}}, "SequenceNumber": "7",
                                  "SizeBytes": 10, "StreamViewType": "KEYS_ONLY"}


# --- EventBridge ------------------------------------------------------------------------------

class TestEventBridge:
    def put(self, running: Running, detail: dict[str, Any]) -> None:
        bus = physical(running.run, "aws:cloudwatch/eventBus:EventBus", "shop")
        answer_ = running.local.client("events").put_events(Entries=[{
            "Source": "shop", "DetailType": "OrderPlaced", "Detail": json.dumps(detail),
            "EventBusName": bus}])
        assert answer_["FailedEntryCount"] == 0
        running.wiring.wait_idle(WAIT)

    def test_a_matching_event_reaches_every_target_as_configured(self,
                                                                 running: Running) -> None:
        rule_arn = physical(running.run, "aws:cloudwatch/eventRule:EventRule",
                            "orders-placed", "arn")
        self.put(running, {"items": [{"sku": "b-2"}, {"sku": "a-1"}], "order": 7})
        (call,) = running.lambdas.of("order-handler")
        assert call.event == {"first": "b-2", "rule": physical(
            running.run, "aws:cloudwatch/eventRule:EventRule", "orders-placed")}
        assert call.caller == Principal.service_principal("events.amazonaws.com")
        assert (call.source_arn, call.source_account) == (rule_arn, ACCOUNT)

        (inboxed,) = messages(running.local, queue_url(running.local, running.run, "inbox"))
        assert json.loads(inboxed["Body"]) == {"items": [{"sku": "b-2"}, {"sku": "a-1"}],
                                               "order": 7}

        (dead,) = messages(running.local, queue_url(running.local, running.run, "rule-dlq"))
        event = json.loads(dead["Body"])
        assert (event["source"], event["detail-type"], event["detail"]["order"]) == (
            "shop", "OrderPlaced", 7)
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", event["time"])
        attributes = {k: v["StringValue"] for k, v in dead["MessageAttributes"].items()}
        assert attributes["ERROR_CODE"] == "NO_PERMISSIONS"
        assert attributes["RULE_ARN"] == rule_arn
        assert attributes["TARGET_ARN"] == physical(running.run, "aws:sqs/queue:Queue",
                                                    "closed", "arn")
        assert "sqs:SendMessage" in attributes["ERROR_MESSAGE"]
        assert messages(running.local, queue_url(running.local, running.run, "closed")) == []

    def test_an_event_the_pattern_does_not_match_goes_nowhere(self, running: Running) -> None:
        before = len(running.lambdas.of("order-handler"))
        self.put(running, {"items": [{"sku": "c-3"}]})
        assert len(running.lambdas.of("order-handler")) == before
        assert messages(running.local, queue_url(running.local, running.run, "inbox")) == []

    def test_a_disabled_rule_delivers_nothing(self, running: Running) -> None:
        events = running.local.client("events")
        bus = physical(running.run, "aws:cloudwatch/eventBus:EventBus", "shop")
        rule = physical(running.run, "aws:cloudwatch/eventRule:EventRule", "orders-placed")
        before = len(running.lambdas.of("order-handler"))
        events.disable_rule(Name=rule, EventBusName=bus)
        try:
            self.put(running, {"items": [{"sku": "a-1"}]})
        finally:
            events.enable_rule(Name=rule, EventBusName=bus)
        assert len(running.lambdas.of("order-handler")) == before
        messages(running.local, queue_url(running.local, running.run, "rule-dlq"))


# --- schedules --------------------------------------------------------------------------------

class TestSchedules:
    def test_a_scheduled_rule_fires_on_trigger_with_the_scheduled_event(
            self, running: Running) -> None:
        rule = running.run.one("aws:cloudwatch/eventRule:EventRule", "nightly")
        event_id = running.wiring.trigger("nightly")
        running.wiring.wait_idle(WAIT)
        assert [c.event for c in running.lambdas.of("order-handler")
                if "job" in c.event] == [{"job": "nightly"}]
        reports = [c for c in running.lambdas.of("reporter") if c.caller is not None]
        (report,) = reports
        event = report.event
        assert (event["id"], event["detail-type"], event["source"], event["resources"],
                event["detail"], event["account"], event["region"]) == (
            event_id, "Scheduled Event", "aws.events", [rule.state["arn"]], {}, ACCOUNT, REGION)
        assert report.source_arn == rule.state["arn"]
        running.wiring.trigger(str(rule.state["name"]))  # the AWS name works too
        running.wiring.wait_idle(WAIT)

    def test_a_failing_target_is_retried_then_dead_lettered(self, running: Running) -> None:
        running.lambdas.flaky["reporter"] = 2  # fails twice: the second retry gets through
        event_id = running.wiring.trigger("nightly")
        running.wiring.wait_idle(WAIT)
        assert [c.event["id"] for c in running.lambdas.of("reporter")
                if c.caller is not None][-1] == event_id
        dlq = queue_url(running.local, running.run, "nightly-dlq")
        assert messages(running.local, dlq) == []

        running.lambdas.flaky["reporter"] = 3  # one more failure than the policy allows
        event_id = running.wiring.trigger("nightly")
        running.wiring.wait_idle(WAIT)
        assert event_id not in [c.event.get("id") for c in running.lambdas.of("reporter")]
        (dead,) = messages(running.local, dlq)
        assert json.loads(dead["Body"])["id"] == event_id
        attributes = {k: v["StringValue"] for k, v in dead["MessageAttributes"].items()}
        assert (attributes["ERROR_CODE"], attributes["EXHAUSTED_RETRY_CONDITION"],
                attributes["RETRY_ATTEMPTS"]) == ("SDK_CLIENT_ERROR", "MaximumRetryAttempts",
                                                  "2")
        assert said(running, r"-> lambda reporter-\w+: not delivered after 3 attempt\(s\): "
                             r"SDK_CLIENT_ERROR")

    def test_a_schedule_invokes_with_its_role_and_context_attributes(
            self, running: Running) -> None:
        execution = running.wiring.trigger("hourly")
        running.wiring.wait_idle(WAIT)
        (call,) = [c for c in running.lambdas.of("reporter") if c.caller is None]
        assert call.event == {"execution": execution, "attempt": 1}

    def test_a_schedule_whose_role_may_not_invoke_is_refused(self, running: Running) -> None:
        before = len(running.lambdas.of("order-handler"))
        running.wiring.trigger("forbidden")
        running.wiring.wait_idle(WAIT)
        assert len(running.lambdas.of("order-handler")) == before
        line = said(running, r"forbidden.*NO_PERMISSIONS")
        assert "lambda:InvokeFunction" in line

    def test_an_unknown_name_lists_the_known_ones(self, running: Running) -> None:
        with pytest.raises(LookupError) as unknown:
            running.wiring.trigger("weekly")
        assert str(unknown.value) == ("no scheduled rule or schedule 'weekly' in the plan; "
                                      "there are forbidden, hourly, nightly")


# --- listing, start and stop ------------------------------------------------------------------

def test_every_source_is_listed_with_its_settings(running: Running) -> None:
    lines = "\n".join(running.wiring.sources())
    assert re.search(r"S3 uploads-\w+ s3:ObjectCreated:\* on in/\* -> function on-upload", lines)
    assert re.search(r"event source mapping orders-to-consumer: orders-\w+ -> function "
                     r"queue-consumer \(batch 3, window 1 s, ReportBatchItemFailures, "
                     r"1 filter\(s\), concurrency 1 locally, not applied: scalingConfig", lines)
    assert re.search(r"ledger-to-reader: .* \(batch 10, window 0 s, TRIM_HORIZON, bisect on "
                     r"error, retries 1, on failure ledger-failures-\w+", lines)
    assert re.search(r"EventBridge rule nightly on bus default: schedule rate\(1 day\) "
                     r"\(fires on trigger\)", lines)
    assert "Scheduler schedule hourly: rate(1 hour) (fires on trigger)" in lines
    assert any("do not fire on their own clock" in line for line in running.lines)


def test_a_mapping_of_a_function_outside_the_plan_is_refused(plan: StackRun) -> None:
    def program() -> None:
        queue = aws.sqs.Queue("q")
        aws.lambda_.EventSourceMapping("m", event_source_arn=queue.arn, function_name="ghost")

    with pytest.raises(WiringError, match=r"event source mapping m: no function 'ghost'"):
        read_mappings(run_program(program), PlanPolicies.from_run(plan))


def test_stopping_unhooks_moto_and_ends_every_thread(plan: StackRun) -> None:
    original = moto_s3_notifications.send_event
    names = {r.state["arn"]: r.name for r in plan.of_type("aws:lambda/function:Function")}
    with EmbeddedAws.for_plan(plan) as local:
        report = create_resources(plan, local)
        wiring = EventWiring(plan, lambdas=FakeLambdas(names), aws=local, report=report,
                             policies=PlanPolicies.from_run(plan), output=lambda line: None)
        wiring.start()
        assert moto_s3_notifications.send_event != original
        with pytest.raises(WiringError, match="already runs"):
            EventWiring(plan, lambdas=FakeLambdas(names), aws=local, report=report,
                        policies=PlanPolicies.from_run(plan)).start()
        wiring.stop()
    assert moto_s3_notifications.send_event == original
    assert not [t.name for t in threading.enumerate()
                if t.name.startswith(("poller-", "event-deliveries"))]


# --- the dev stack, with its real builder -----------------------------------------------------

def test_dev_stack_a_reference_csv_reaches_the_builder_and_another_key_does_not(
        tmp_path: Path) -> None:
    from tools.local.functions import function_specs
    from tools.local.lambdas import LocalLambda

    dev = planned("dev")
    policies = PlanPolicies.from_run(dev)
    builder = next(spec for spec in function_specs(dev)
                   if spec.resource == "entityResolution-builder-function")
    accepted: list[Any] = []
    lines: list[str] = []

    class Watched(LocalLambda):
        """The real service; it records what it accepted (its permission check passed)."""

        def invoke_async(self, function: str, event: Any, **how: Any) -> str:
            request_id = super().invoke_async(function, event, **how)
            accepted.append((self.spec(function).resource, event))
            return request_id

    with EmbeddedAws.for_plan(dev) as local:
        report = create_resources(dev, local)
        lambdas = Watched(dev, policies=policies, aws=local, root=tmp_path,
                          output=lines.append, only=lambda spec: spec.arn == builder.arn)
        lambdas.start()
        try:
            with EventWiring(dev, lambdas=lambdas, policies=policies, aws=local, report=report,
                             output=lines.append) as wiring:
                bucket = physical(dev, "aws:s3/bucket:Bucket", "entityResolution-data-bucket",
                                  "bucket")
                s3 = local.client("s3")
                s3.put_object(Bucket=bucket, Key="other/companies.csv", Body=b"id,name\n1,A\n")
                s3.put_object(Bucket=bucket, Key="reference/companies.csv",
                              Body=b"id,name\n1,Acme Inc\n2,Globex\n")
                assert wiring.wait_idle(WAIT)
                assert lambdas.wait_idle(120)
                listed = s3.list_objects_v2(Bucket=bucket, Prefix="index/CURRENT.json")
                pointer = json.loads(s3.get_object(Bucket=bucket, Key="index/CURRENT.json")[
                    "Body"].read()) if listed.get("KeyCount") else None
        finally:
            lambdas.stop()
    ((function, event),) = accepted
    assert function == "entityResolution-builder-function"
    (record,) = event["Records"]
    assert (record["eventName"], record["s3"]["bucket"]["name"],
            record["s3"]["object"]["key"]) == ("ObjectCreated:Put", bucket,
                                               "reference/companies.csv")
    if "cloudpickle" not in builder.layer_distributions:
        pytest.xfail("the builder's layer pins joblib 1.6.0 without cloudpickle, which it "
                     "imports: the handler fails in its worker, as it would in Lambda")
    assert pointer is not None, "\n".join(lines)
    assert (pointer["source"]["key"], pointer["count"]) == ("reference/companies.csv", 2)
