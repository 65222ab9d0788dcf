"""An SQS queue that always comes with its dead-letter queue.

Default settings:

| Setting            | Default                                                            |
|--------------------|--------------------------------------------------------------------|
| Dead-letter queue  | Always; redrive after 15 receives (as in AWS Solutions Constructs) |
| DLQ retention      | 14 days, the SQS maximum                                           |
| DLQ redrive-allow  | ``byQueue``: only this component's queue may redrive into the DLQ  |
| Visibility timeout | 30 s; must be at least 6x the timeout of a Lambda consumer         |
| Message retention  | 4 days (the SQS default), never longer than the DLQ keeps messages |
| Encryption at rest | SQS-managed SSE; SSE-KMS with ``kms_key_arn`` when it is set       |
| Queue policies     | Both queues deny every request that does not use TLS               |
| Sending services   | None; ``allow_send_from`` adds (service, source ARN) pairs         |
| FIFO               | Off; when on, both queues are FIFO (names end in ``.fifo``)        |
| Pulumi ``protect`` | From the stage (``Defaults.protect``: on in prod), on both queues  |
| Tags               | The provider's default tags only                                   |

Both queues are auto-named; pulumi-aws adds the ``.fifo`` suffix itself when ``fifo_queue`` is
set. With a customer-managed key, every sending service principal also needs
``kms:GenerateDataKey`` and ``kms:Decrypt`` on that key, in the key's own policy.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.config import Defaults
from components.foundation import iam
from components.foundation.validation import require_valid

DLQ_RETENTION_SECONDS = 14 * 24 * 60 * 60
MAX_VISIBILITY_TIMEOUT_SECONDS = 12 * 60 * 60
MIN_RETENTION_SECONDS = 60
MAX_RECEIVE_COUNT = 1000


@dataclass(frozen=True)
class QueueArgs:
    """How the queue behaves; every field has a secure default.

    ``visibility_timeout_seconds`` must be at least six times the timeout of a Lambda function
    that consumes the queue, or messages reappear while that function still works on them.
    ``allow_send_from`` holds (service principal, source ARN) pairs, such as
    ``("events.amazonaws.com", rule.arn)``: the queue policy lets that service send messages on
    behalf of that source only.
    """

    visibility_timeout_seconds: int = 30
    max_receive_count: int = 15
    message_retention_seconds: int = 4 * 24 * 60 * 60
    fifo: bool = False
    content_based_deduplication: bool = False
    allow_send_from: Sequence[tuple[str, pulumi.Input[str]]] = ()
    kms_key_arn: pulumi.Input[str] | None = None


class Queue(pulumi.ComponentResource):
    """A queue, its dead-letter queue, and TLS-only policies on both."""

    queue: aws.sqs.Queue
    dead_letter_queue: aws.sqs.Queue
    arn: pulumi.Output[str]
    url: pulumi.Output[str]
    name: pulumi.Output[str]
    dead_letter_arn: pulumi.Output[str]
    dead_letter_url: pulumi.Output[str]

    def __init__(self, name: str, args: QueueArgs, defaults: Defaults,
                 opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("blueprints:foundation:Queue", name, None, opts)
        require_valid(f"Queue {name}", _problems(args))

        self.dead_letter_queue = _sqs_queue(
            f"{name}-dlq", args, self, defaults.protect,
            message_retention_seconds=DLQ_RETENTION_SECONDS,
        )
        self.queue = _sqs_queue(
            f"{name}-queue", args, self, defaults.protect,
            message_retention_seconds=args.message_retention_seconds,
            redrive_policy=pulumi.Output.json_dumps({
                "deadLetterTargetArn": self.dead_letter_queue.arn,
                "maxReceiveCount": args.max_receive_count,
            }),
        )
        # A separate resource: inline on the DLQ it would make the two queues depend on each other.
        aws.sqs.RedriveAllowPolicy(
            f"{name}-dlq-redrive-allow",
            queue_url=self.dead_letter_queue.url,
            redrive_allow_policy=pulumi.Output.json_dumps({
                "redrivePermission": "byQueue",
                "sourceQueueArns": [self.queue.arn],
            }),
            opts=pulumi.ResourceOptions(parent=self),
        )

        senders = [iam.allow_service(["sqs:SendMessage"], self.queue.arn, service, source_arn)
                   for service, source_arn in args.allow_send_from]
        aws.sqs.QueuePolicy(
            f"{name}-queue-policy",
            queue_url=self.queue.url,
            policy=iam.policy_document(
                [iam.deny_insecure_transport("sqs", self.queue.arn), *senders]),
            opts=pulumi.ResourceOptions(parent=self),
        )
        aws.sqs.QueuePolicy(
            f"{name}-dlq-policy",
            queue_url=self.dead_letter_queue.url,
            policy=iam.policy_document(
                [iam.deny_insecure_transport("sqs", self.dead_letter_queue.arn)]),
            opts=pulumi.ResourceOptions(parent=self),
        )

        self.arn = self.queue.arn
        self.url = self.queue.url
        self.name = self.queue.name
        self.dead_letter_arn = self.dead_letter_queue.arn
        self.dead_letter_url = self.dead_letter_queue.url
        self.register_outputs({
            "arn": self.arn,
            "url": self.url,
            "name": self.name,
            "dead_letter_arn": self.dead_letter_arn,
            "dead_letter_url": self.dead_letter_url,
        })


def _sqs_queue(resource_name: str, args: QueueArgs, parent: pulumi.Resource, protect: bool, *,
               message_retention_seconds: int,
               redrive_policy: pulumi.Input[str] | None = None) -> aws.sqs.Queue:
    """One of the pair. A FIFO queue needs a FIFO DLQ, and redriven messages stay encrypted.
    Both have the visibility timeout of the consumer: whoever drains the DLQ, by hand or by
    redriving it to a function, needs as long as the first consumer did."""
    customer_key = args.kms_key_arn is not None
    return aws.sqs.Queue(
        resource_name,
        fifo_queue=args.fifo,
        content_based_deduplication=args.content_based_deduplication if args.fifo else None,
        kms_master_key_id=args.kms_key_arn,
        sqs_managed_sse_enabled=None if customer_key else True,
        message_retention_seconds=message_retention_seconds,
        visibility_timeout_seconds=args.visibility_timeout_seconds,
        redrive_policy=redrive_policy,
        opts=pulumi.ResourceOptions(parent=parent, protect=protect),
    )


def _problems(args: QueueArgs) -> list[str]:
    problems: list[str] = []
    if not 0 <= args.visibility_timeout_seconds <= MAX_VISIBILITY_TIMEOUT_SECONDS:
        problems.append(f"visibility_timeout_seconds: {args.visibility_timeout_seconds} is "
                        f"outside 0..{MAX_VISIBILITY_TIMEOUT_SECONDS}")
    if not 1 <= args.max_receive_count <= MAX_RECEIVE_COUNT:
        problems.append(f"max_receive_count: {args.max_receive_count} is outside "
                        f"1..{MAX_RECEIVE_COUNT}")
    if not MIN_RETENTION_SECONDS <= args.message_retention_seconds <= DLQ_RETENTION_SECONDS:
        problems.append(f"message_retention_seconds: {args.message_retention_seconds} is outside "
                        f"{MIN_RETENTION_SECONDS}..{DLQ_RETENTION_SECONDS}; a message must not "
                        "outlive the dead-letter queue's retention")
    if args.content_based_deduplication and not args.fifo:
        problems.append("content_based_deduplication: only applies to a FIFO queue "
                        "(fifo=True)")
    return problems + iam.service_grant_problems("allow_send_from", args.allow_send_from)
