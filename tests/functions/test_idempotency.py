"""The handlers' idempotency helper on its own: the ``Idempotency-Key`` header as REST and HTTP
APIs deliver it, the settings, and a request without a key never reaching the table. (Replays,
duplicates, mismatches and expiry are tested through each handler, against moto.)"""

from __future__ import annotations

from typing import Any

import boto3  # type: ignore[import-untyped]
import pytest
from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler.exceptions import BadRequestError
from aws_lambda_powertools.utilities.data_classes import (
    APIGatewayProxyEvent,
    APIGatewayProxyEventV2,
)
from blueprints_common.idempotency import (
    BAD_KEY,
    Idempotency,
    IdempotencySettings,
    header_key,
)
from botocore.stub import Stubber  # type: ignore[import-untyped]

from tests.functions import events
from tests.functions.cache_support import payment_event

KEY = "8e03978e-40d5-43e8-bc93-6894a57f9324"


def rest(*values: str, name: str = "Idempotency-Key") -> APIGatewayProxyEvent:
    """A REST API event with each of ``values`` as one ``name`` header."""
    event = events.rest_event("/orders", method="POST", body="{}")
    if values:
        event["headers"][name] = values[-1]  # a REST API keeps the last one here
        event["multiValueHeaders"][name] = list(values)
    return APIGatewayProxyEvent(event)


def http(value: str | None) -> APIGatewayProxyEventV2:
    """An HTTP API event: header names in lower case, repeated headers joined by commas."""
    event = payment_event({})
    if value is not None:
        event["headers"]["idempotency-key"] = value
    return APIGatewayProxyEventV2(event)


@pytest.mark.parametrize("event", [rest(KEY), rest(KEY, name="idempotency-key"),
                                   rest(KEY, name="IDEMPOTENCY-KEY"), rest(f'"{KEY}"'),
                                   rest(f" {KEY} "), http(KEY), http(f'"{KEY}"')],
                         ids=["rest", "lower case", "upper case", "quoted", "spaces", "http",
                              "http quoted"])
def test_the_key_is_read_in_any_case_and_unquoted(event: Any) -> None:
    assert header_key(event) == KEY


def test_no_header_is_no_key() -> None:
    assert header_key(rest()) is None
    assert header_key(http(None)) is None


@pytest.mark.parametrize("event", [rest(KEY, "other"), http(f"{KEY}, other"), rest(""),
                                   rest('""'), rest("two words"), rest("x" * 256),
                                   rest("tab\there"), rest("\u00e9t\u00e9"),
                                   rest('"half'), rest("back\\slash")],
                         ids=["two REST headers", "two HTTP headers", "empty", "empty quotes",
                              "space", "too long", "control", "not ASCII", "half quoted",
                              "backslash"])
def test_a_malformed_or_repeated_key_is_a_400(event: Any) -> None:
    with pytest.raises(BadRequestError) as raised:
        header_key(event)
    assert raised.value.msg == BAD_KEY


def test_the_longest_key_is_accepted() -> None:
    assert header_key(rest("k" * 255)) == "k" * 255


def test_settings_default_to_a_day_and_report_every_problem() -> None:
    assert IdempotencySettings.from_environ({"IDEMPOTENCY_TABLE": "records"}) == \
        IdempotencySettings("records", 86400)
    assert IdempotencySettings.from_environ({"IDEMPOTENCY_TABLE": "records",
                                             "IDEMPOTENCY_EXPIRY_SECONDS": "60"}) == \
        IdempotencySettings("records", 60)
    problems: list[str] = ["an earlier one"]
    IdempotencySettings.from_environ({"IDEMPOTENCY_EXPIRY_SECONDS": "604801"}, problems)
    assert problems == ["an earlier one", "IDEMPOTENCY_TABLE is required",
                        "IDEMPOTENCY_EXPIRY_SECONDS must be a whole number of seconds, from 60 "
                        "to 604800"]
    with pytest.raises(ValueError, match="invalid idempotency settings: IDEMPOTENCY_TABLE is "
                                         "required"):
        IdempotencySettings.from_environ({})


def test_a_request_without_a_key_runs_without_the_table() -> None:
    client = boto3.client("dynamodb", region_name=events.REGION, aws_access_key_id="x",
                          aws_secret_access_key="x")
    stubber = Stubber(client)  # no answer queued: any call would fail
    stubber.activate()
    idempotency = Idempotency(IdempotencySettings("records"), client,
                              logger=Logger(service="idempotency-test"))
    calls: list[dict[str, Any]] = []

    @idempotency.guard("orders")
    def create(*, request: dict[str, Any], extra: str) -> dict[str, Any]:
        calls.append(request)
        return {"made": extra}

    request = Idempotency.request(None, "caller-1", {"sku": "x"})
    assert create(request=request, extra="one") == {"made": "one"}
    assert create(request=request, extra="two") == {"made": "two"}
    assert calls == [{"key": None, "caller": "caller-1", "payload": {"sku": "x"}}] * 2
    stubber.assert_no_pending_responses()
