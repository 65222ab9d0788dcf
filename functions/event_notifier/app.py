"""Event management's notifier: each new guest request, published to the staff topic.

Invoked by the requests table's DynamoDB stream (``NEW_IMAGE``). Each ``INSERT`` becomes one
SNS message with the message attributes ``requestType`` (String; the staff teams' subscription
filter policies match on it) and ``eventId`` (String). Other changes (a request's status
updated, a request removed) publish nothing.

The message is JSON with ``MessageStructure=json``: subscribers that read JSON (queues,
functions, HTTPS) get ``{"requestId", "eventId", "type", "note", "sessionId", "guestId",
"email", "name", "createdAt"}``; email subscribers get the same as a few lines of text.

Failures are reported per record with Powertools' batch utility (``batchItemFailures``), never
by failing the whole invocation. A record that cannot be published (SNS refused, or an image
that is not a request) fails, and so does every record after it in the batch, unpublished:
Lambda retries the stream from the first failed record, so the records after it would be
published twice otherwise. The event source mapping's retry limit and on-failure destination
(the component's DLQ) take a record that keeps failing out of the way.

Environment: ``TOPIC_ARN`` (required, an SNS topic ARN) and Powertools' ``POWERTOOLS_*``.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import boto3  # type: ignore[import-untyped]
from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import (
    DynamoDBRecord,
    DynamoDBRecordEventName,
)
from aws_lambda_powertools.utilities.typing import LambdaContext
from blueprints_common.entry import DYNAMODB_STREAM, TRACE_AWS_CALLS, entry
from blueprints_common.environment import required
from blueprints_common.lazy import lazy
from event_tickets import keys

TOPIC_ARN = re.compile(r"arn:aws[a-z-]*:sns:[a-z0-9-]+:[0-9]{12}:[A-Za-z0-9_-]{1,256}")
REQUEST_TYPE = re.compile(r"[a-z][a-z0-9-]{0,31}")
MESSAGE_FIELDS = ("requestId", "eventId", "type", "note", "sessionId", "guestId", "email",
                  "name", "createdAt")

logger = Logger()
tracer = Tracer(auto_patch=True, patch_modules=TRACE_AWS_CALLS)
metrics = Metrics()


@dataclass(frozen=True)
class Settings:
    """The function's environment, checked."""

    topic_arn: str

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """The settings from ``environ`` (default ``os.environ``); ``ValueError`` lists every
        problem."""
        environ = os.environ if environ is None else environ
        problems: list[str] = []
        topic = required(environ, "TOPIC_ARN", problems)
        if topic and not TOPIC_ARN.fullmatch(topic):
            problems.append("TOPIC_ARN must be an SNS topic ARN (arn:aws:sns:<region>:<account>:"
                            "<name>)")
        if problems:
            raise ValueError("invalid event notifier settings: " + "; ".join(problems))
        return cls(topic_arn=topic)


settings = Settings.from_environ()
sns = lazy(lambda: boto3.client("sns"))
processor = BatchProcessor(event_type=EventType.DynamoDBStreams,
                           raise_on_entire_batch_failure=False)


class NotARequestError(ValueError):
    """A stream image that is not a guest request (names the field, never its value)."""


class SkippedAfterFailureError(Exception):
    """Not attempted: an earlier record of the batch failed, and Lambda retries from there."""


def request_message(image: Mapping[str, Any]) -> dict[str, Any]:
    """The message of a request item; ``NotARequestError`` when it is not one."""
    partition = image.get("pk")
    if not isinstance(partition, str) or not partition.startswith(keys.EVENT_PREFIX):
        raise NotARequestError("pk")
    event_id = partition.removeprefix(keys.EVENT_PREFIX)
    if not keys.IDENTIFIER.fullmatch(event_id):
        raise NotARequestError("pk")
    request_type = image.get("type")
    if not isinstance(request_type, str) or not REQUEST_TYPE.fullmatch(request_type):
        raise NotARequestError("type")
    for name in ("requestId", "createdAt"):
        if not isinstance(image.get(name), str) or not image.get(name):
            raise NotARequestError(name)
    message = {name: image.get(name) for name in MESSAGE_FIELDS}
    message["eventId"] = event_id
    return {name: value for name, value in message.items() if isinstance(value, str)}


def email_text(message: Mapping[str, str]) -> str:
    lines = [f"A guest asked for: {message['type']}"]
    if message.get("sessionId"):
        lines.append(f"Session: {message['sessionId']}")
    if message.get("note"):
        lines.append(f"Note: {message['note']}")
    who = " ".join(part for part in (message.get("name", ""),
                                     f"<{message['email']}>" if message.get("email") else "")
                   if part)
    if who:
        lines.append(f"From: {who}")
    lines += [f"At: {message['createdAt']}", f"Request: {message['requestId']}"]
    return "\n".join(lines)


def publish(message: Mapping[str, str]) -> str:
    """Publishes one request; answers SNS's message id."""
    answer = sns.publish(
        TopicArn=settings.topic_arn, Subject=f"Guest request: {message['type']}",
        MessageStructure="json",
        Message=json.dumps({"default": json.dumps(message), "email": email_text(message)}),
        MessageAttributes={
            "requestType": {"DataType": "String", "StringValue": message["type"]},
            "eventId": {"DataType": "String", "StringValue": message["eventId"]},
        })
    return str(answer["MessageId"])


class Batch:
    """One invocation's records, in stream order, stopping at the first failure."""

    def __init__(self) -> None:
        self.failed = False

    def handle(self, record: DynamoDBRecord) -> None:
        if self.failed:
            raise SkippedAfterFailureError
        try:
            self._handle(record)
        except Exception:
            self.failed = True
            raise

    @tracer.capture_method(capture_response=False)
    def _handle(self, record: DynamoDBRecord) -> None:
        if record.event_name != DynamoDBRecordEventName.INSERT:
            return
        try:
            message = request_message(record.dynamodb.new_image if record.dynamodb else {})
        except NotARequestError as problem:
            logger.error("A stream record is not a guest request", field=str(problem),
                         sequence_number=_sequence(record))
            metrics.add_metric(name="RequestNotPublished", unit=MetricUnit.Count, value=1)
            raise
        try:
            message_id = publish(message)
        except Exception as error:
            logger.error("A request could not be published", errorType=type(error).__name__,
                         request_id=message["requestId"])
            metrics.add_metric(name="RequestNotPublished", unit=MetricUnit.Count, value=1)
            raise
        metrics.add_metric(name="RequestPublished", unit=MetricUnit.Count, value=1)
        logger.info("Request published", request_id=message["requestId"],
                    request_type=message["type"], message_id=message_id)


def _sequence(record: DynamoDBRecord) -> str | None:
    return record.dynamodb.sequence_number if record.dynamodb else None


@entry(DYNAMODB_STREAM, logger=logger, tracer=tracer, metrics=metrics, capture_response=False)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return dict(process_partial_response(event=event, record_handler=Batch().handle,
                                         processor=processor, context=context))
