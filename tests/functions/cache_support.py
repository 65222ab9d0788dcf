"""What the microservice cache's handler tests share: the stores as the component declares
them (moto), HTTP API events after IAM authorization, EventBridge and stream events, and the
handlers imported afresh against a real Valkey server (``tests.valkey``)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from types import ModuleType
from typing import Any

import pytest
from boto3.dynamodb.types import TypeSerializer  # type: ignore[import-untyped]

from tests.functions.event_management_support import import_handler
from tests.functions.events import ACCOUNT, API_ID, REGION
from tests.valkey import ValkeyServer

ACCOUNTS_TABLE = "cache-accounts"
PAYMENTS_TABLE = "cache-payments"
PROFILES_TABLE = "cache-profiles"
BUS = "cache-events"
DOMAIN = f"{API_ID}.execute-api.{REGION}.amazonaws.com"


def cache_environment(server: ValkeyServer, **extra: str) -> dict[str, str]:
    """The cache settings of a function, for the local server (no TLS, no auth: the tests'
    server is on 127.0.0.1; the IAM token and TLS settings are tested apart)."""
    return {"CACHE_HOST": server.host, "CACHE_PORT": str(server.port), "CACHE_TLS": "false",
            "CACHE_AUTH": "none", "CACHE_TIMEOUT_MS": "200", "CACHE_BREAKER_SECONDS": "30",
            **extra}


def load(monkeypatch: pytest.MonkeyPatch, code: str, environ: Mapping[str, str]) -> ModuleType:
    return import_handler(monkeypatch, f"{code}.app", {"POWERTOOLS_SERVICE_NAME": "cache",
                                                       **environ})


def create_tables(client: Any) -> None:
    """The three tables as the component declares them (on demand, string keys; the
    profiles table with its KEYS_ONLY stream)."""
    for name, key in ((ACCOUNTS_TABLE, "accountId"), (PAYMENTS_TABLE, "paymentId"),
                      (PROFILES_TABLE, "profileId")):
        extra: dict[str, Any] = {"StreamSpecification": {
            "StreamEnabled": True, "StreamViewType": "KEYS_ONLY"}} \
            if name == PROFILES_TABLE else {}
        client.create_table(TableName=name, BillingMode="PAY_PER_REQUEST",
                            KeySchema=[{"AttributeName": key, "KeyType": "HASH"}],
                            AttributeDefinitions=[{"AttributeName": key, "AttributeType": "S"}],
                            **extra)


def http_event(method: str, path: str, route: str, *, parameters: dict[str, str] | None = None,
               body: str | None = None) -> dict[str, Any]:
    """An HTTP API (payload 2.0) request after IAM authorization."""
    headers = {"accept": "application/json", "host": DOMAIN, "user-agent": "loadtest/1.0",
               "x-amz-date": "20261126T170000Z", "x-forwarded-proto": "https"}
    if body is not None:
        headers["content-type"] = "application/json"
    event: dict[str, Any] = {
        "version": "2.0", "routeKey": f"{method} {route}", "rawPath": path,
        "rawQueryString": "", "headers": headers,
        "requestContext": {
            "accountId": ACCOUNT, "apiId": API_ID, "domainName": DOMAIN,
            "domainPrefix": API_ID, "requestId": "JKJaXmPLvHcESHA=", "routeKey":
                f"{method} {route}", "stage": "$default", "time": "26/Nov/2026:17:00:00 +0000",
            "timeEpoch": 1795712400000,
            "authorizer": {"iam": {"accessKey": "ASIAEXAMPLEKEY", "accountId": ACCOUNT,
                                   "callerId": "AROAEXAMPLEROLEID:loadtest",
                                   "userArn": f"arn:aws:sts::{ACCOUNT}:assumed-role/loadtest/"
                                              "loadtest", "userId": "AROAEXAMPLEROLEID:x"}},
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1",
                     "sourceIp": "203.0.113.178", "userAgent": "loadtest/1.0"}},
        "isBase64Encoded": False,
    }
    if parameters:
        event["pathParameters"] = parameters
    if body is not None:
        event["body"] = body
    return event


def billing_event(account_id: str) -> dict[str, Any]:
    return http_event("GET", f"/billing/{account_id}", "/billing/{accountId}",
                      parameters={"accountId": account_id})


def profile_event(profile_id: str) -> dict[str, Any]:
    return http_event("GET", f"/profiles/{profile_id}", "/profiles/{profileId}",
                      parameters={"profileId": profile_id})


def payment_event(body: Any) -> dict[str, Any]:
    return http_event("POST", "/payments", "/payments",
                      body=body if isinstance(body, str) else json.dumps(body))


def bus_event(source: str, detail_type: str, detail: Any) -> dict[str, Any]:
    """What an EventBridge rule sends its Lambda target."""
    return {"version": "0", "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718",
            "detail-type": detail_type, "source": source, "account": ACCOUNT,
            "time": "2026-11-26T17:00:00Z", "region": REGION, "resources": [],
            "detail": detail}


def profile_stream_record(profile_id: str, *, sequence: int,
                          event_name: str = "MODIFY") -> dict[str, Any]:
    """One record of the profiles table's KEYS_ONLY stream."""
    return {
        "eventID": f"7de3041dd709b024af6f29e4fa13d34c{sequence}", "eventName": event_name,
        "eventVersion": "1.1", "eventSource": "aws:dynamodb", "awsRegion": REGION,
        "dynamodb": {"ApproximateCreationDateTime": 1795712400,
                     "Keys": {"profileId": TypeSerializer().serialize(profile_id)},
                     "SequenceNumber": str(sequence).rjust(21, "0"), "SizeBytes": 40,
                     "StreamViewType": "KEYS_ONLY"},
        "eventSourceARN": f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{PROFILES_TABLE}/stream/"
                          "2026-11-26T00:00:00.000"}


def body(answer: Mapping[str, Any]) -> Any:
    return json.loads(answer["body"])
