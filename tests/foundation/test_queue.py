"""The queue block: a dead-letter queue with redrive, encryption, and TLS-only policies."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pulumi
import pytest

from components.foundation.queue import Queue, QueueArgs
from components.foundation.validation import InvalidArgs
from tests.support import DEV, PROD, json_input, statements
from tools.mock_runtime import StackRun

QUEUE = "aws:sqs/queue:Queue"
POLICY = "aws:sqs/queuePolicy:QueuePolicy"
REDRIVE_ALLOW = "aws:sqs/redriveAllowPolicy:RedriveAllowPolicy"
COMPONENT = "blueprints:foundation:Queue"
KEY_ARN = "arn:aws:kms:eu-west-1:111111111111:key/0e4c5a3e-1111-2222-3333-444455556666"
RULE_ARN = "arn:aws:events:eu-west-1:111111111111:rule/orders-placed"

Build = Callable[..., StackRun]


def queues(build: Build, args: QueueArgs | None = None, defaults: Any = DEV) -> StackRun:
    return build(lambda opts: Queue("orders", args or QueueArgs(), defaults, opts))


def tls_only(arn: str) -> dict[str, Any]:
    return {"Sid": "DenyInsecureTransport", "Effect": "Deny", "Principal": {"AWS": "*"},
            "Action": ["sqs:*"], "Resource": arn,
            "Condition": {"Bool": {"aws:SecureTransport": "false"}}}


def test_queue_redrives_to_its_dlq_after_15_receives(build: Build) -> None:
    run = queues(build)
    dlq = run.one(QUEUE, "orders-dlq")
    queue = run.one(QUEUE, "orders-queue")
    assert json_input(queue, "redrivePolicy") == {
        "deadLetterTargetArn": dlq.state["arn"], "maxReceiveCount": 15}
    assert "redrivePolicy" not in dlq.inputs


def test_queue_defaults(build: Build) -> None:
    inputs = queues(build).one(QUEUE, "orders-queue").inputs
    assert inputs["visibilityTimeoutSeconds"] == 30
    assert inputs["messageRetentionSeconds"] == 4 * 24 * 3600
    assert inputs["fifoQueue"] is False
    assert "contentBasedDeduplication" not in inputs


def test_dlq_keeps_messages_14_days(build: Build) -> None:
    dlq = queues(build).one(QUEUE, "orders-dlq")
    assert dlq.inputs["messageRetentionSeconds"] == 14 * 24 * 3600


def test_dlq_accepts_redrive_only_from_its_queue(build: Build) -> None:
    run = queues(build)
    dlq = run.one(QUEUE, "orders-dlq")
    allow = run.one(REDRIVE_ALLOW, "orders-dlq-redrive-allow")
    assert allow.inputs["queueUrl"] == dlq.state["url"]
    assert json_input(allow, "redriveAllowPolicy") == {
        "redrivePermission": "byQueue",
        "sourceQueueArns": [run.one(QUEUE, "orders-queue").state["arn"]]}


@pytest.mark.parametrize("name", ["orders-queue", "orders-dlq"])
def test_both_queues_use_sqs_managed_encryption_by_default(build: Build, name: str) -> None:
    inputs = queues(build).one(QUEUE, name).inputs
    assert inputs["sqsManagedSseEnabled"] is True
    assert "kmsMasterKeyId" not in inputs


@pytest.mark.parametrize("name", ["orders-queue", "orders-dlq"])
def test_both_queues_use_the_customer_key_when_given(build: Build, name: str) -> None:
    inputs = queues(build, QueueArgs(kms_key_arn=KEY_ARN)).one(QUEUE, name).inputs
    assert inputs["kmsMasterKeyId"] == KEY_ARN
    assert "sqsManagedSseEnabled" not in inputs


@pytest.mark.parametrize("queue_name", ["orders-queue", "orders-dlq"])
def test_both_queues_deny_requests_without_tls(build: Build, queue_name: str) -> None:
    run = queues(build)
    queue = run.one(QUEUE, queue_name)
    policy = run.one(POLICY, f"{queue_name}-policy")
    assert policy.inputs["queueUrl"] == queue.state["url"]
    assert statements(policy) == [tls_only(queue.state["arn"])]


def test_services_may_send_on_behalf_of_named_sources_only(build: Build) -> None:
    run = queues(build, QueueArgs(allow_send_from=[("events.amazonaws.com", RULE_ARN)]))
    arn = run.one(QUEUE, "orders-queue").state["arn"]
    assert statements(run.one(POLICY, "orders-queue-policy")) == [
        tls_only(arn),
        {"Effect": "Allow", "Principal": {"Service": "events.amazonaws.com"},
         "Action": ["sqs:SendMessage"], "Resource": arn,
         "Condition": {"ArnEquals": {"aws:SourceArn": RULE_ARN}}},
    ]
    # The DLQ is fed by redrive only.
    dlq = run.one(QUEUE, "orders-dlq")
    assert statements(run.one(POLICY, "orders-dlq-policy")) == [tls_only(dlq.state["arn"])]


def test_sender_source_may_be_another_resource_output(build: Build) -> None:
    def program(opts: pulumi.ResourceOptions) -> None:
        source = Queue("source", QueueArgs(), DEV, opts)
        Queue("orders", QueueArgs(allow_send_from=[("sns.amazonaws.com", source.arn)]), DEV,
              opts)

    run = build(program)
    source_arn = run.one(QUEUE, "source-queue").state["arn"]
    allow = statements(run.one(POLICY, "orders-queue-policy"))[1]
    assert allow["Condition"] == {"ArnEquals": {"aws:SourceArn": source_arn}}


def test_visibility_timeout_and_receive_count_are_configurable(build: Build) -> None:
    run = queues(build, QueueArgs(visibility_timeout_seconds=180, max_receive_count=3,
                                  message_retention_seconds=3600))
    queue = run.one(QUEUE, "orders-queue")
    assert queue.inputs["visibilityTimeoutSeconds"] == 180
    assert queue.inputs["messageRetentionSeconds"] == 3600
    assert json_input(queue, "redrivePolicy")["maxReceiveCount"] == 3


def test_fifo_makes_both_queues_fifo(build: Build) -> None:
    run = queues(build, QueueArgs(fifo=True, content_based_deduplication=True))
    for name in ("orders-queue", "orders-dlq"):
        inputs = run.one(QUEUE, name).inputs
        assert inputs["fifoQueue"] is True
        assert inputs["contentBasedDeduplication"] is True


@pytest.mark.parametrize(("defaults", "protected"), [(DEV, False), (PROD, True)])
def test_both_queues_are_protected_in_prod_only(build: Build, defaults: Any,
                                                protected: bool) -> None:
    run = queues(build, defaults=defaults)
    assert [run.one(QUEUE, name).protect for name in ("orders-queue", "orders-dlq")] == [
        protected, protected]


def test_every_child_belongs_to_the_component_on_the_inherited_provider(build: Build) -> None:
    run = queues(build)
    component = run.one(COMPONENT, "orders")
    children = list(run.managed())
    assert sorted(r.name for r in children) == [
        "orders-dlq", "orders-dlq-policy", "orders-dlq-redrive-allow", "orders-queue",
        "orders-queue-policy"]
    for child in children:
        assert child.parent == component.urn
        provider = run.provider_of(child)
        assert provider is not None
        assert provider.name == "test-provider"


def test_outputs_expose_both_queues(build: Build) -> None:
    def program(opts: pulumi.ResourceOptions) -> None:
        built = Queue("orders", QueueArgs(), DEV, opts)
        pulumi.export("arn", built.arn)
        pulumi.export("url", built.url)
        pulumi.export("name", built.name)
        pulumi.export("dead_letter_arn", built.dead_letter_arn)
        pulumi.export("dead_letter_url", built.dead_letter_url)

    run = build(program)
    queue, dlq = run.one(QUEUE, "orders-queue").state, run.one(QUEUE, "orders-dlq").state
    assert run.outputs == {"arn": queue["arn"], "url": queue["url"], "name": queue["name"],
                           "dead_letter_arn": dlq["arn"], "dead_letter_url": dlq["url"]}


@pytest.mark.parametrize(("args", "argument"), [
    (QueueArgs(visibility_timeout_seconds=-1), "visibility_timeout_seconds"),
    (QueueArgs(visibility_timeout_seconds=43201), "visibility_timeout_seconds"),
    (QueueArgs(max_receive_count=0), "max_receive_count"),
    (QueueArgs(max_receive_count=1001), "max_receive_count"),
    (QueueArgs(message_retention_seconds=59), "message_retention_seconds"),
    (QueueArgs(message_retention_seconds=14 * 24 * 3600 + 1), "message_retention_seconds"),
    (QueueArgs(content_based_deduplication=True), "content_based_deduplication"),
    (QueueArgs(allow_send_from=[("*", RULE_ARN)]), "allow_send_from[0]"),
    (QueueArgs(allow_send_from=[("events.amazonaws.com", "orders-placed")]),
     "allow_send_from[0]"),
])
def test_bad_arguments_are_rejected_by_name(build: Build, args: QueueArgs,
                                            argument: str) -> None:
    with pytest.raises(InvalidArgs) as raised:
        queues(build, args)
    assert "Queue orders" in str(raised.value)
    assert [problem.split(":")[0] for problem in raised.value.problems] == [argument]


def test_limits_are_accepted(build: Build) -> None:
    args = QueueArgs(visibility_timeout_seconds=43200, max_receive_count=1,
                     message_retention_seconds=14 * 24 * 3600)
    queue = queues(build, args).one(QUEUE, "orders-queue")
    assert queue.inputs["visibilityTimeoutSeconds"] == 43200


def test_every_problem_is_reported_at_once(build: Build) -> None:
    args = QueueArgs(visibility_timeout_seconds=50000, max_receive_count=0)
    with pytest.raises(InvalidArgs) as raised:
        queues(build, args)
    assert [problem.split(":")[0] for problem in raised.value.problems] == [
        "visibility_timeout_seconds", "max_receive_count"]
