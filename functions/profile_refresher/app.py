"""The profile refresher (the microservice cache's use case 2): each change to a profile,
published as ``profile_changed``, so that the services holding copies drop them.

Invoked by the profiles table's stream (``KEYS_ONLY``: the event carries the profile's id and
what happened, never its data). Each record becomes one event on ``EVENT_BUS_NAME``: source
``blueprints.cache.profiles``, detail-type ``profile_changed``, detail ``{"profileId",
"change": "INSERT"|"MODIFY"|"REMOVE"}``. The cache manager's rule takes them and drops (or
refreshes) ``profile:<profileId>``; other services may add their own rules.

Failures are reported per record (Powertools' batch utility); Lambda retries from the first
failed record, so a change may be published twice, which dropping a key does not mind. The
event source mapping's retry limit and failure queue take a record that keeps failing.

Environment: ``EVENT_BUS_NAME`` (required) and Powertools'. The role needs ``events:PutEvents``
on the bus and the stream's read actions.
"""

from __future__ import annotations

import json
import os
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
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord
from aws_lambda_powertools.utilities.typing import LambdaContext
from blueprints_common.entry import DYNAMODB_STREAM, TRACE_AWS_CALLS, entry
from blueprints_common.environment import required
from blueprints_common.lazy import lazy
from cache_aside import keys

logger = Logger()
tracer = Tracer(auto_patch=True, patch_modules=TRACE_AWS_CALLS)
metrics = Metrics()


@dataclass(frozen=True)
class Settings:
    event_bus_name: str

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> Settings:
        environ = os.environ if environ is None else environ
        problems: list[str] = []
        bus = required(environ, "EVENT_BUS_NAME", problems)
        if problems:
            raise ValueError("invalid profile refresher settings: " + "; ".join(problems))
        return cls(bus)


class NotAProfileError(ValueError):
    """A stream record whose keys are not a profile's."""


class PublishFailedError(RuntimeError):
    """EventBridge did not take the event."""


settings = Settings.from_environ()
events = lazy(lambda: boto3.client("events"))
processor = BatchProcessor(event_type=EventType.DynamoDBStreams,
                           raise_on_entire_batch_failure=False)


def change(record: DynamoDBRecord) -> dict[str, str]:
    """The event's detail for ``record``."""
    keys_image = record.dynamodb.keys if record.dynamodb else None
    profile_id = (keys_image or {}).get("profileId")
    if not keys.is_identifier(profile_id) or record.event_name is None:
        raise NotAProfileError("Keys.profileId")
    return {"profileId": str(profile_id), "change": record.event_name.name}


@tracer.capture_method(capture_response=False)
def publish(record: DynamoDBRecord) -> None:
    try:
        detail = change(record)
    except NotAProfileError as problem:
        logger.error("A stream record is not a profile's", field=str(problem))
        raise
    answer = events.put_events(Entries=[{
        "EventBusName": settings.event_bus_name, "Source": keys.PROFILE_SOURCE,
        "DetailType": keys.PROFILE_CHANGED, "Detail": json.dumps(detail)}])
    if answer.get("FailedEntryCount"):
        logger.error("EventBridge refused profile_changed", profileId=detail["profileId"],
                     errorCode=answer["Entries"][0].get("ErrorCode"))
        metrics.add_metric(name="ChangesNotPublished", unit=MetricUnit.Count, value=1)
        raise PublishFailedError(detail["profileId"])
    metrics.add_metric(name="ChangesPublished", unit=MetricUnit.Count, value=1)
    logger.info("profile_changed published", **detail)


@entry(DYNAMODB_STREAM, logger=logger, tracer=tracer, metrics=metrics, capture_response=False)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return dict(process_partial_response(event=event, record_handler=publish,
                                         processor=processor, context=context))
