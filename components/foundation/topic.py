"""Subscribers of an SNS topic, with a dead-letter queue for what cannot be delivered.

Every topic of the project that people subscribe to (the environment's alarms, the pipeline's
approvals, event management's staff requests) takes its subscribers the same way: one
``TopicSubscription`` each, and, when there is at least one, a ``Queue`` (with its own DLQ) that
keeps what SNS could not deliver, which only this topic may send to.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.config import Defaults
from components.foundation.queue import Queue, QueueArgs


@dataclass(frozen=True)
class Subscriber:
    """One subscription: its resource name, protocol and endpoint, and an optional filter
    policy (JSON) on the message attributes."""

    resource_name: str
    protocol: str
    endpoint: str
    filter_policy: str | None = None


def endpoint_digest(endpoint: str, length: int = 8) -> str:
    """A stable, short part of a subscription's resource name from its endpoint (an address
    does not belong in a URN), the same whatever its case."""
    return hashlib.sha256(endpoint.lower().encode()).hexdigest()[:length]


def subscribe(name: str, topic: aws.sns.Topic, subscribers: Sequence[Subscriber],
              defaults: Defaults, opts: pulumi.ResourceOptions) -> None:
    """The subscriptions of ``topic``, and ``<name>-undelivered``, the queue their redrive
    policies name; nothing when there is no subscriber."""
    if not subscribers:
        return
    undelivered = Queue(f"{name}-undelivered", QueueArgs(
        allow_send_from=(("sns.amazonaws.com", topic.arn),)), defaults, opts)
    redrive = pulumi.Output.json_dumps({"deadLetterTargetArn": undelivered.arn})
    for subscriber in subscribers:
        filtered = subscriber.filter_policy is not None
        aws.sns.TopicSubscription(
            subscriber.resource_name,
            topic=topic.arn,
            protocol=subscriber.protocol,
            endpoint=subscriber.endpoint,
            filter_policy=subscriber.filter_policy,
            filter_policy_scope="MessageAttributes" if filtered else None,
            # Unfiltered subscribers (HTTPS endpoints among them) get the notification as SNS
            # sends it, with its signature.
            raw_message_delivery=None if filtered else False,
            redrive_policy=redrive,
            opts=opts)
