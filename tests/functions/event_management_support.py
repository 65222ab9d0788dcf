"""What the event management handler tests share: the moto account (tables shaped like the
component's, an HMAC key), the event's sessions, and the events the handlers receive (REST
requests after the Cognito authorizer, DynamoDB stream batches, scheduled runs)."""

from __future__ import annotations

import contextlib
import importlib
import json
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from types import ModuleType
from typing import Any

import boto3  # type: ignore[import-untyped]
import pytest
from boto3.dynamodb.types import TypeSerializer  # type: ignore[import-untyped]
from moto import mock_aws

from tests.functions import events
from tests.functions.events import REGION
from tests.functions.idempotency_support import create_idempotency_table

EVENTS_TABLE = "event-management-events"
REQUESTS_TABLE = "event-management-requests"
EVENT_ID = "reinvent-2026"
EVENT_NAME = "Serverless Summit 2026"
STAGE = "dev"
APP_ORIGIN = "https://events.example.com"
# The sessions start a day after the fixed "now" of the tests; no test reads the wall clock.
NOW = datetime(2026, 11, 26, 15, 0, tzinfo=UTC)
GUEST = {"sub": "6f1c9d0e-2b3a-4c5d-8e7f-0a1b2c3d4e5f", "email": "ana@example.com",
         "name": "Ana Guest", "phone_number": "+14255550100", "email_verified": "true"}
OTHER_GUEST = {"sub": "0d9e8f7a-6b5c-4d3e-8f2a-1b0c9d8e7f6a", "email": "bo@example.com",
               "name": "Bo Guest"}
STAFF = {"sub": "a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d", "email": "sam@example.com",
         "name": "Sam Staff", "cognito:groups": "staff"}


@dataclass(frozen=True)
class Session:
    id: str
    title: str
    starts_at: datetime
    capacity: int
    room: str = "Room A"

    @property
    def ends_at(self) -> datetime:
        return self.starts_at + timedelta(hours=1)


KEYNOTE = Session("keynote", "Opening keynote", NOW + timedelta(days=1), 100, "Hall 1")
WORKSHOP = Session("workshop-1", "Serverless workshop", NOW + timedelta(days=1, hours=2), 1)
SESSIONS = (WORKSHOP, KEYNOTE)  # out of order: the API sorts by start


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def set_aws_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                        "AWS_DEFAULT_REGION": REGION, "AWS_REGION": REGION}.items():
        monkeypatch.setenv(name, value)


def create_events_table(client: Any, name: str = EVENTS_TABLE) -> None:
    """The events table as the component declares it: keys, and both indexes."""
    attributes = ("pk", "sk", "gsi1pk", "gsi1sk", "gsi2pk", "gsi2sk")
    client.create_table(
        TableName=name, BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"},
                   {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[{"AttributeName": attribute, "AttributeType": "S"}
                              for attribute in attributes],
        GlobalSecondaryIndexes=[
            {"IndexName": "byStart", "Projection": {"ProjectionType": "ALL"},
             "KeySchema": [{"AttributeName": "gsi1pk", "KeyType": "HASH"},
                           {"AttributeName": "gsi1sk", "KeyType": "RANGE"}]},
            {"IndexName": "byGuest", "Projection": {"ProjectionType": "ALL"},
             "KeySchema": [{"AttributeName": "gsi2pk", "KeyType": "HASH"},
                           {"AttributeName": "gsi2sk", "KeyType": "RANGE"}]},
        ])


def create_requests_table(client: Any, name: str = REQUESTS_TABLE) -> None:
    client.create_table(
        TableName=name, BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"},
                   {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                              {"AttributeName": "sk", "AttributeType": "S"}],
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"})


def seed_session(table: Any, session: Session, *, registered: int = 0,
                 event_id: str = EVENT_ID) -> None:
    """A session item as the component seeds it from config (without a ``registered``
    counter: registrations add it), with ``registered`` seats taken when given."""
    table.put_item(Item={
        "pk": f"EVENT#{event_id}", "sk": f"SESSION#{session.id}", "sessionId": session.id,
        "eventId": event_id, "title": session.title, "startsAt": iso(session.starts_at),
        "endsAt": iso(session.ends_at), "room": session.room, "capacity": session.capacity,
        "gsi1pk": "SESSIONS", "gsi1sk": f"{iso(session.starts_at)}#{session.id}",
        **({"registered": registered} if registered else {})})


def create_hmac_key(kms: Any) -> str:
    key: str = kms.create_key(KeySpec="HMAC_256", KeyUsage="GENERATE_VERIFY_MAC",
                              Description="QR tickets")["KeyMetadata"]["KeyId"]
    return key


@dataclass
class Account:
    """The moto account of one test."""

    events: Any
    requests: Any
    kms: Any
    key_id: str


@contextlib.contextmanager
def moto_account(monkeypatch: pytest.MonkeyPatch) -> Iterator[Account]:
    set_aws_environment(monkeypatch)
    with mock_aws():
        client = boto3.client("dynamodb", region_name=REGION)
        create_events_table(client)
        create_requests_table(client)
        create_idempotency_table(client)
        resource = boto3.resource("dynamodb", region_name=REGION)
        kms = boto3.client("kms", region_name=REGION)
        account = Account(resource.Table(EVENTS_TABLE), resource.Table(REQUESTS_TABLE), kms,
                          create_hmac_key(kms))
        for session in SESSIONS:
            seed_session(account.events, session)
        yield account


def import_handler(monkeypatch: pytest.MonkeyPatch, module: str,
                   environ: Mapping[str, str]) -> ModuleType:
    """``module`` imported afresh under ``environ`` and Powertools' test settings."""
    for name, value in {"POWERTOOLS_SERVICE_NAME": "event-management",
                        "POWERTOOLS_METRICS_NAMESPACE": "ServerlessBlueprints",
                        "POWERTOOLS_TRACE_DISABLED": "true", **environ}.items():
        monkeypatch.setenv(name, value)
    sys.modules.pop(module, None)
    return importlib.import_module(module)


# --- events ------------------------------------------------------------------------------------

def api_event(path: str, *, method: str = "GET", claims: Mapping[str, str] | None = None,
              resource: str | None = None, path_parameters: dict[str, str] | None = None,
              body: Any = None, query: Mapping[str, str] | None = None,
              origin: str | None = APP_ORIGIN,
              headers: Mapping[str, str] | None = None) -> dict[str, Any]:
    """A REST request as it reaches the function after the Cognito user pools authorizer:
    the id token's claims under ``requestContext.authorizer.claims``, every value a string;
    ``headers`` added to the usual ones."""
    text = body if body is None or isinstance(body, str) else json.dumps(body)
    event = events.rest_event(path, method=method, resource=resource, stage=STAGE,
                              headers={**({"origin": origin} if origin else {}),
                                       **(headers or {})},
                              query=query, path_parameters=path_parameters, body=text)
    if claims is not None:
        event["requestContext"]["authorizer"] = {"claims": dict(claims)}
    return event


def stream_record(image: Mapping[str, Any] | None, *, sequence: int,
                  event_name: str = "INSERT") -> dict[str, Any]:
    """One DynamoDB stream record (NEW_IMAGE view) of the requests table."""
    serializer = TypeSerializer()
    change: dict[str, Any] = {
        "ApproximateCreationDateTime": 1795705445,
        "SequenceNumber": str(sequence).rjust(21, "0"),
        "SizeBytes": 256, "StreamViewType": "NEW_IMAGE",
    }
    if image is not None:
        change["Keys"] = {name: serializer.serialize(image[name]) for name in ("pk", "sk")
                          if name in image}
        change["NewImage"] = {name: serializer.serialize(value) for name, value in image.items()}
    return {
        "eventID": f"c4ca4238a0b923820dcc509a6f75849b{sequence}",
        "eventName": event_name, "eventVersion": "1.1", "eventSource": "aws:dynamodb",
        "awsRegion": REGION, "dynamodb": change,
        "eventSourceARN": f"arn:aws:dynamodb:{REGION}:{events.ACCOUNT}:table/{REQUESTS_TABLE}"
                          "/stream/2026-11-26T00:00:00.000",
    }


def scheduled_event() -> dict[str, Any]:
    """What the reminders' schedule sends: the Input the component sets."""
    return {"source": "event-management.reminders"}
