"""SQS and SNS: redrive, encryption at rest and TLS-only access."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from pulumi_policy import Policy

from .core import (
    MANDATORY,
    Config,
    Props,
    Stack,
    Subject,
    is_unknown,
    resource_rule,
    stack_rule,
    tls_only,
)
from .events import EVENT_TARGET

QUEUE = "aws:sqs/queue:Queue"
QUEUE_POLICY = "aws:sqs/queuePolicy:QueuePolicy"
REDRIVE_ALLOW_POLICY = "aws:sqs/redriveAllowPolicy:RedriveAllowPolicy"
TOPIC = "aws:sns/topic:Topic"
TOPIC_POLICY = "aws:sns/topicPolicy:TopicPolicy"
TOPIC_SUBSCRIPTION = "aws:sns/topicSubscription:TopicSubscription"
FUNCTION = "aws:lambda/function:Function"
FUNCTION_EVENT_INVOKE_CONFIG = "aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig"
EVENT_SOURCE_MAPPING = "aws:lambda/eventSourceMapping:EventSourceMapping"

SCHEDULE = "aws:scheduler/schedule:Schedule"
PIPE = "aws:pipes/pipe:Pipe"

# The resources that can make a queue a dead-letter queue or failure destination: the property
# that is computed from the queue, and where in it a failure destination's ARN may sit (the
# first step may be a JSON string). A RedriveAllowPolicy names the queue itself, by its URL.
FAILURE_REFERENCES: tuple[tuple[str, str, tuple[tuple[str, ...], ...]], ...] = (
    (QUEUE, "redrivePolicy", (("redrivePolicy", "deadLetterTargetArn"),)),
    (REDRIVE_ALLOW_POLICY, "queueUrl", ()),
    (FUNCTION_EVENT_INVOKE_CONFIG, "destinationConfig",
     (("destinationConfig", "onFailure", "destination"),)),
    (FUNCTION, "deadLetterConfig", (("deadLetterConfig", "targetArn"),)),
    (EVENT_TARGET, "deadLetterConfig", (("deadLetterConfig", "arn"),)),
    (TOPIC_SUBSCRIPTION, "redrivePolicy", (("redrivePolicy", "deadLetterTargetArn"),)),
    (EVENT_SOURCE_MAPPING, "destinationConfig",
     (("destinationConfig", "onFailure", "destinationArn"),)),
    (SCHEDULE, "target", (("target", "deadLetterConfig", "arn"),)),
    (PIPE, "sourceParameters",
     (("sourceParameters", "dynamodbStreamParameters", "deadLetterConfig", "arn"),
      ("sourceParameters", "kinesisStreamParameters", "deadLetterConfig", "arn"))),
)

# Actions a TLS-only Deny must cover (lower case: IAM actions are case-insensitive).
SQS_TLS_ACTIONS = frozenset({"sqs:*", "*"})
SNS_TLS_ACTIONS = frozenset({"sns:publish", "sns:*", "*"})


def _redrive_problems(subject: Subject, *, max_receive: bool) -> Iterator[tuple[str, str]]:
    """What is wrong with ``redrivePolicy``, as (kind, problem); nothing while it is unknown.

    The kinds are ``unset``, ``shape``, ``target`` and ``count``.
    """
    raw = subject.props.get("redrivePolicy")
    if is_unknown(raw):
        return
    if not raw:
        yield "unset", "redrivePolicy is not set"
        return
    policy = subject.props.json("redrivePolicy")
    if not isinstance(policy, Mapping):
        yield "shape", "redrivePolicy is not a JSON object"
        return
    target = Props(policy).get("deadLetterTargetArn")
    if not is_unknown(target) and not target:
        yield "target", "redrivePolicy has no deadLetterTargetArn"
    if max_receive:
        count = Props(policy).get("maxReceiveCount")
        if not is_unknown(count) and not _receive_count(count):
            shown = "not set" if count is None else repr(count)
            yield "count", f"redrivePolicy.maxReceiveCount is {shown}"


def _receive_count(value: Any) -> bool:
    """Whether ``maxReceiveCount`` is a whole number of receives, 1 or more."""
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1


def _names_queue(reference: Subject, paths: tuple[tuple[str, ...], ...], queue: Subject) -> bool:
    """Whether ``reference``, whose property was computed from ``queue``, uses it as a failure
    destination: an ARN at one of ``paths`` is the queue's, or is not known yet."""
    if reference.type == REDRIVE_ALLOW_POLICY:
        return reference.props.sub("redriveAllowPolicy").get("redrivePermission") != "denyAll"
    destinations = [reference.props.sub(path[0]).get(*path[1:]) for path in paths]
    arn = queue.props.get("arn")
    if is_unknown(arn) or any(is_unknown(d) for d in destinations):
        return True
    named = [d for d in destinations if d]
    if not named:
        return False  # The queue is used elsewhere in that property (an onSuccess destination).
    return not isinstance(arn, str) or not arn or arn in named


def _is_dead_letter_queue(stack: Stack, queue: Subject) -> bool:
    allow = queue.props.json("redriveAllowPolicy")
    if isinstance(allow, Mapping) and Props(allow).get("redrivePermission") in (
            "allowAll", "byQueue"):
        return True
    for type_, prop, paths in FAILURE_REFERENCES:
        for reference in stack.referencing(queue, type_, prop=prop):
            if reference is not queue and _names_queue(reference, paths, queue):
                return True
    return False


@stack_rule(
    "sqs-redrive",
    description="Every SQS queue redrives to a dead-letter queue (redrivePolicy with "
                "deadLetterTargetArn and maxReceiveCount), unless it is itself a dead-letter "
                "queue or failure destination.",
    anchors=("ES6000", "AwsSolutions-SQS3", "Serverless-SQSRedrivePolicy"),
    level=MANDATORY,
)
def sqs_redrive(stack: Stack, config: Config) -> Iterator[tuple[Subject | None, str]]:
    """A message that keeps failing otherwise blocks its consumer until it expires, then is lost.

    A queue is recognised as a dead-letter queue or failure destination when another queue's
    redrivePolicy, a RedriveAllowPolicy (other than denyAll), a FunctionEventInvokeConfig's
    onFailure, a function's deadLetterConfig, an EventTarget's deadLetterConfig, a
    TopicSubscription's redrivePolicy, an EventSourceMapping's onFailure, a Scheduler schedule's
    target deadLetterConfig or a Pipe's stream deadLetterConfig names it (the property was
    computed from the queue, and the failure ARN in it is the queue's), or when its own
    redriveAllowPolicy lets queues use it (allowAll or byQueue). A redrivePolicy that is set is
    always checked, on dead-letter queues too.

    Mandatory: serverless-rules ES6000 is Error-level, and cdk-nag registers AwsSolutions-SQS3
    (and Serverless-SQSRedrivePolicy) at ERROR.
    """
    for queue in stack.of_type(QUEUE):
        for kind, problem in _redrive_problems(queue, max_receive=True):
            if kind == "unset":
                if not _is_dead_letter_queue(stack, queue):
                    yield queue, (f"{problem} and nothing uses this queue as a dead-letter queue "
                                  "or failure destination; set redrivePolicy to "
                                  "{deadLetterTargetArn: <DLQ ARN>, maxReceiveCount: <n>}")
            elif kind == "count":
                yield queue, (f"{problem}; set it to the number of receives (1 or more) before "
                              "a message moves to the dead-letter queue")
            else:
                yield queue, (f"{problem}; set redrivePolicy to {{deadLetterTargetArn: <DLQ ARN>, "
                              "maxReceiveCount: <n>}")


@resource_rule(
    "sns-subscription-redrive",
    description="SNS subscriptions send messages they cannot deliver to an SQS dead-letter "
                "queue (redrivePolicy.deadLetterTargetArn).",
    anchors=("ES7000", "Serverless-SNSRedrivePolicy"),
    level=MANDATORY,
    types={TOPIC_SUBSCRIPTION},
)
def sns_subscription_redrive(subscription: Subject, config: Config) -> Iterator[str]:
    """Without a redrive policy, a message SNS cannot deliver after its retries is discarded.

    Mandatory: serverless-rules ES7000 is Error-level (and cdk-nag registers
    Serverless-SNSRedrivePolicy at ERROR).
    """
    for _, problem in _redrive_problems(subscription, max_receive=False):
        yield (f"{problem}; set redrivePolicy to {{\"deadLetterTargetArn\": <SQS queue ARN>}} so "
               "undeliverable messages are kept")


def _tls_only(policies: list[Any], actions: frozenset[str]) -> bool | None:
    """Whether one of the policies is TLS-only; ``None`` when none is and one is unknown."""
    verdicts = [tls_only(p, actions) for p in policies]
    if True in verdicts:
        return True
    return None if any(is_unknown(v) for v in verdicts) else False


def _queue_problems(stack: Stack, queue: Subject) -> Iterator[str]:
    key = queue.props.get("kmsMasterKeyId")
    managed = queue.props.get("sqsManagedSseEnabled")
    if not (is_unknown(key) or key or is_unknown(managed) or managed is True):
        state = "false" if managed is False else "not set"
        yield (f"not encrypted at rest (sqsManagedSseEnabled is {state}, no kmsMasterKeyId); set "
               "sqsManagedSseEnabled to true, or kmsMasterKeyId to a KMS key")
    policies = [queue.props.get("policy")] + [
        p.props.get("policy") for p in stack.referencing(queue, QUEUE_POLICY, prop="queueUrl")]
    if _tls_only([p for p in policies if p is not None], SQS_TLS_ACTIONS) is False:
        yield ("no queue policy denies requests without TLS; attach an aws.sqs.QueuePolicy "
               "with a Deny of sqs:* to Principal * when aws:SecureTransport is false")


def _topic_problems(stack: Stack, topic: Subject) -> Iterator[str]:
    key = topic.props.get("kmsMasterKeyId")
    if not is_unknown(key) and not key:
        yield ("kmsMasterKeyId is not set; encrypt the topic with a KMS key (alias/aws/sns or a "
               "customer-managed key)")
    policies = [topic.props.get("policy")] + [
        p.props.get("policy") for p in stack.referencing(topic, TOPIC_POLICY, prop="arn")]
    if _tls_only([p for p in policies if p is not None], SNS_TLS_ACTIONS) is False:
        yield ("no topic policy denies publishing without TLS; attach an aws.sns.TopicPolicy "
               "with a Deny of sns:Publish to Principal * when aws:SecureTransport is false")


@stack_rule(
    "messaging-encrypted-tls",
    description="SQS queues and SNS topics are encrypted at rest, and their policies deny "
                "every request that does not use TLS.",
    anchors=("AwsSolutions-SQS2", "AwsSolutions-SQS4", "AwsSolutions-SNS2", "AwsSolutions-SNS3"),
    level=MANDATORY,
)
def messaging_encrypted_tls(stack: Stack,
                            config: Config) -> Iterator[tuple[Subject | None, str]]:
    """Messages often carry the payloads of the whole system; they stay encrypted at rest and
    never travel in the clear.

    A queue's TLS policy is its own ``policy`` or a QueuePolicy whose queueUrl was computed from
    it; a topic's is its own ``policy`` or a TopicPolicy whose arn was computed from it. Topics
    need both a KMS key and the TLS policy, although cdk-nag's SNS3 accepts the key alone.

    Mandatory: cdk-nag registers AwsSolutions-SQS2, SQS4, SNS2 and SNS3 at ERROR.
    """
    for queue in stack.of_type(QUEUE):
        for problem in _queue_problems(stack, queue):
            yield queue, problem
    for topic in stack.of_type(TOPIC):
        for problem in _topic_problems(stack, topic):
            yield topic, problem


POLICIES: list[Policy] = [sqs_redrive, sns_subscription_redrive, messaging_encrypted_tls]
