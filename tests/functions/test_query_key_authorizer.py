"""The query-string API key authorizer, driven with API Gateway REQUEST authorizer events."""

from __future__ import annotations

import copy
import hashlib
import importlib
import io
import json
import logging
import sys
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import pytest

from tests.functions.events import LambdaContext

KEY = "Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4zAb7cDe0f"  # 40 characters, like a generated key
OTHER_KEY = "Zy9xWv8uTs7rQp6oNm5lKj4iHg3fEd2cBa1zYx0w"
REGION = "us-east-1"
ACCOUNT = "111111111111"
API_ID = "abc123defg"
STAGE = "prod"
PREFIX = f"arn:aws:execute-api:{REGION}:{ACCOUNT}:{API_ID}/{STAGE}"
METHOD_ARN = f"{PREFIX}/POST/customizations"


CONTEXT = LambdaContext("query-key-authorizer")


@pytest.fixture
def log() -> io.StringIO:
    return io.StringIO()


@pytest.fixture
def authorizer(monkeypatch: pytest.MonkeyPatch, log: io.StringIO) -> Iterator[ModuleType]:
    """The module imported afresh, its logger writing (at DEBUG) to ``log``."""
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "query-key-authorizer")
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "true")
    monkeypatch.setenv("POWERTOOLS_LOG_LEVEL", "DEBUG")
    for name in ("ACCEPT_HEADER_KEY", "AUTHORIZER_CACHE", "ALLOWED_METHODS"):
        monkeypatch.delenv(name, raising=False)
    sys.modules.pop("query_key_authorizer.app", None)
    module = importlib.import_module("query_key_authorizer.app")
    handler = module.logger.registered_handler
    assert isinstance(handler, logging.StreamHandler)
    handler.setStream(log)
    yield module
    sys.modules.pop("query_key_authorizer.app", None)


def request_event(*, query: dict[str, Any] | None = None,
                  multi_query: dict[str, list[Any]] | None = None,
                  headers: dict[str, Any] | None = None,
                  method_arn: Any = METHOD_ARN, method: str = "POST",
                  path: str = "/customizations") -> dict[str, Any]:
    """A REST API REQUEST authorizer event as API Gateway sends it."""
    all_headers = {
        "Host": f"{API_ID}.execute-api.{REGION}.amazonaws.com",
        "User-Agent": "curl/8.5.0",
        "X-Amzn-Trace-Id": "Root=1-6745e1f5-0b1c2d3e4f5a6b7c8d9e0f1a",
        "X-Forwarded-For": "203.0.113.178",
        "X-Forwarded-Port": "443",
        "X-Forwarded-Proto": "https",
        **(headers or {}),
    }
    if multi_query is None and query is not None:
        multi_query = {name: [value] for name, value in query.items()}
    return {
        "type": "REQUEST",
        "methodArn": method_arn,
        "resource": path,
        "path": path,
        "httpMethod": method,
        "headers": all_headers,
        "multiValueHeaders": {name: [value] for name, value in all_headers.items()},
        "queryStringParameters": query,
        "multiValueQueryStringParameters": multi_query,
        "pathParameters": {},
        "stageVariables": {},
        "requestContext": {
            "resourcePath": path,
            "httpMethod": method,
            "path": f"/{STAGE}{path}",
            "accountId": ACCOUNT,
            "protocol": "HTTP/1.1",
            "stage": STAGE,
            "domainPrefix": API_ID,
            "requestId": "c6af9ac6-7b61-11e6-9a41-93e8deadbeef",
            "identity": {"apiKey": "", "sourceIp": "203.0.113.178", "userAgent": "curl/8.5.0"},
            "domainName": f"{API_ID}.execute-api.{REGION}.amazonaws.com",
            "apiId": API_ID,
        },
    }


def authorize(module: ModuleType, event: Any) -> dict[str, Any]:
    answer: dict[str, Any] = module.handler(event, CONTEXT)
    return answer


def refused(module: ModuleType, event: Any) -> None:
    with pytest.raises(Exception, match=r"^Unauthorized$") as raised:
        module.handler(event, CONTEXT)
    assert type(raised.value) is Exception


def statements(answer: dict[str, Any]) -> list[dict[str, Any]]:
    statements: list[dict[str, Any]] = answer["policyDocument"]["Statement"]
    return statements


def resources(answer: dict[str, Any], effect: str = "Allow") -> list[str]:
    return [arn for statement in statements(answer) if statement["Effect"] == effect
            for arn in statement["Resource"]]


def test_valid_query_key_is_allowed_for_the_requested_method(authorizer: ModuleType) -> None:
    answer = authorize(authorizer, request_event(query={"apiKey": KEY}))

    assert answer["usageIdentifierKey"] == KEY
    assert statements(answer) == [{"Action": "execute-api:Invoke", "Effect": "Allow",
                                   "Resource": [METHOD_ARN]}]
    assert answer["policyDocument"]["Version"] == "2012-10-17"


def test_principal_is_a_fingerprint_never_the_key(authorizer: ModuleType) -> None:
    answer = authorize(authorizer, request_event(query={"apiKey": KEY}))

    assert answer["principalId"] == "key-" + hashlib.sha256(KEY.encode()).hexdigest()[:12]
    assert KEY not in answer["principalId"]
    assert "context" not in answer


def test_scope_follows_the_requested_path(authorizer: ModuleType) -> None:
    arn = f"{PREFIX}/GET/customizations/0b6f2a52-0d1e-4c8e-9d07-2f9d1c1f4e55"
    answer = authorize(authorizer, request_event(query={"apiKey": KEY}, method_arn=arn,
                                                 method="GET"))

    assert resources(answer) == [arn]


def test_root_path_is_scoped_too(authorizer: ModuleType) -> None:
    answer = authorize(authorizer, request_event(query={"apiKey": KEY},
                                                 method_arn=f"{PREFIX}/GET/", method="GET",
                                                 path="/"))

    assert resources(answer) == [f"{PREFIX}/GET/"]


def test_other_partitions_keep_their_partition(authorizer: ModuleType) -> None:
    arn = f"arn:aws-cn:execute-api:cn-north-1:{ACCOUNT}:{API_ID}/{STAGE}/GET/customizations"
    answer = authorize(authorizer, request_event(query={"apiKey": KEY}, method_arn=arn))

    assert resources(answer) == [arn]


@pytest.mark.parametrize("key", [
    "a" * 20,
    "A1" * 64,
    "abc-DEF_ghi-JKL_mno-PQR",
])
def test_keys_of_the_allowed_shape_pass(authorizer: ModuleType, key: str) -> None:
    answer = authorize(authorizer, request_event(query={"apiKey": key}))

    assert answer["usageIdentifierKey"] == key


@pytest.mark.parametrize("query", [
    None,
    {},
    {"other": "value"},
    {"apikey": KEY},  # query string names are case-sensitive
    {"apiKey": ""},
    {"apiKey": "a" * 19},
    {"apiKey": "a" * 129},
    {"apiKey": KEY[:30] + "!" + KEY[31:]},
    {"apiKey": KEY[:30] + " " + KEY[31:]},
    {"apiKey": KEY + "\n"},
    {"apiKey": KEY[:30] + "é" + KEY[31:]},
    {"apiKey": KEY[:30] + "%2F" + KEY[33:]},
    {"apiKey": "../../../../etc/passwd/xxxxxxx"},
    {"apiKey": None},
    {"apiKey": 12345678901234567890123},
    {"apiKey": [KEY]},
    {"apiKey": {"key": KEY}},
    {"apiKey": True},
])
def test_missing_or_malformed_keys_are_unauthorized(authorizer: ModuleType,
                                                    query: dict[str, Any] | None) -> None:
    refused(authorizer, request_event(query=query))


def test_a_malformed_value_among_repeats_is_unauthorized(authorizer: ModuleType) -> None:
    refused(authorizer, request_event(query={"apiKey": KEY},
                                      multi_query={"apiKey": [KEY, "short"]}))


@pytest.mark.parametrize("event", [None, "apiKey=" + KEY, [], 42])
def test_an_event_that_is_not_an_object_is_unauthorized(authorizer: ModuleType,
                                                        event: Any) -> None:
    refused(authorizer, event)


@pytest.mark.parametrize(("field", "value"), [
    ("multiValueQueryStringParameters", "apiKey=" + KEY),
    ("queryStringParameters", "apiKey=" + KEY),
    ("queryStringParameters", {"apiKey": [KEY]}),
    ("multiValueQueryStringParameters", {"apiKey": KEY}),
    ("headers", ["x-api-key", KEY]),
    ("multiValueHeaders", {"x-api-key": [KEY, 7]}),
    ("requestContext", ["prod"]),
    ("type", "TOKEN"),
    ("type", None),
])
def test_odd_shapes_are_unauthorized_not_errors(authorizer: ModuleType, log: io.StringIO,
                                                field: str, value: Any) -> None:
    """API Gateway never sends these; a direct invocation can. The shared entry refuses them
    before the authorizer reads the event, even when the key itself is fine."""
    event = request_event(query={"apiKey": KEY})
    event[field] = value

    refused(authorizer, event)

    refusal = next(line for line in log_lines(log)
                   if line["message"] == "Refused a malformed event")
    assert field in refusal["problem"]
    assert KEY not in log.getvalue()


def test_a_malformed_event_is_refused_before_the_settings_are_read(
        authorizer: ModuleType, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(authorizer.Settings, "from_environ",
                        lambda environ: pytest.fail("the settings were read"))

    refused(authorizer, {"type": "REQUEST"})


def test_multi_value_only_events_are_read(authorizer: ModuleType) -> None:
    event = request_event(multi_query={"apiKey": [KEY]})

    assert event["queryStringParameters"] is None
    assert authorize(authorizer, event)["usageIdentifierKey"] == KEY


def test_repeating_the_same_key_is_fine(authorizer: ModuleType) -> None:
    answer = authorize(authorizer, request_event(query={"apiKey": KEY},
                                                 multi_query={"apiKey": [KEY, KEY]}))

    assert answer["usageIdentifierKey"] == KEY


def test_repeating_different_keys_is_denied(authorizer: ModuleType) -> None:
    answer = authorize(authorizer, request_event(query={"apiKey": OTHER_KEY},
                                                 multi_query={"apiKey": [KEY, OTHER_KEY]}))

    assert "usageIdentifierKey" not in answer
    assert statements(answer) == [{"Action": "execute-api:Invoke", "Effect": "Deny",
                                   "Resource": [METHOD_ARN]}]


@pytest.mark.parametrize("name", ["x-api-key", "X-API-Key", "X-Api-Key"])
def test_header_key_is_accepted_when_enabled(authorizer: ModuleType,
                                             monkeypatch: pytest.MonkeyPatch,
                                             name: str) -> None:
    monkeypatch.setenv("ACCEPT_HEADER_KEY", "true")

    answer = authorize(authorizer, request_event(headers={name: KEY}))

    assert answer["usageIdentifierKey"] == KEY
    assert resources(answer) == [METHOD_ARN]


def test_header_key_from_multi_value_headers_only(authorizer: ModuleType,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ACCEPT_HEADER_KEY", "TRUE")
    event = request_event()
    event["multiValueHeaders"]["X-Api-Key"] = [KEY]

    assert authorize(authorizer, event)["usageIdentifierKey"] == KEY


@pytest.mark.parametrize("setting", [None, "false", ""])
def test_header_key_is_refused_when_not_enabled(authorizer: ModuleType,
                                                monkeypatch: pytest.MonkeyPatch,
                                                setting: str | None) -> None:
    if setting is not None:
        monkeypatch.setenv("ACCEPT_HEADER_KEY", setting)

    refused(authorizer, request_event(headers={"x-api-key": KEY}))


def test_header_is_ignored_when_not_enabled(authorizer: ModuleType) -> None:
    answer = authorize(authorizer, request_event(query={"apiKey": KEY},
                                                 headers={"x-api-key": OTHER_KEY}))

    assert answer["usageIdentifierKey"] == KEY


def test_same_key_in_header_and_query_is_allowed(authorizer: ModuleType,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ACCEPT_HEADER_KEY", "true")

    answer = authorize(authorizer, request_event(query={"apiKey": KEY},
                                                 headers={"x-api-key": KEY}))

    assert answer["usageIdentifierKey"] == KEY


def test_different_keys_in_header_and_query_are_denied(authorizer: ModuleType,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ACCEPT_HEADER_KEY", "true")

    answer = authorize(authorizer, request_event(query={"apiKey": KEY},
                                                 headers={"X-API-Key": OTHER_KEY}))

    assert "usageIdentifierKey" not in answer
    assert answer["principalId"] == "ambiguous-api-key"
    assert resources(answer, "Deny") == [METHOD_ARN]
    assert resources(answer, "Allow") == []


def test_a_malformed_header_key_is_unauthorized_even_with_a_good_query_key(
        authorizer: ModuleType, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ACCEPT_HEADER_KEY", "true")

    refused(authorizer, request_event(query={"apiKey": KEY}, headers={"x-api-key": "short"}))


def test_cache_on_scopes_to_the_allowed_methods(authorizer: ModuleType,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUTHORIZER_CACHE", "true")
    monkeypatch.setenv("ALLOWED_METHODS", "POST/customizations, GET/customizations/*")

    answer = authorize(authorizer, request_event(query={"apiKey": KEY}))

    assert answer["usageIdentifierKey"] == KEY
    assert resources(answer) == [f"{PREFIX}/POST/customizations",
                                 f"{PREFIX}/GET/customizations/*"]


def test_cache_on_answers_the_same_policy_for_every_method(
        authorizer: ModuleType, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUTHORIZER_CACHE", "true")
    monkeypatch.setenv("ALLOWED_METHODS", "POST/customizations,GET/customizations/*")
    get_arn = f"{PREFIX}/GET/customizations/0b6f2a52-0d1e-4c8e-9d07-2f9d1c1f4e55"

    first = authorize(authorizer, request_event(query={"apiKey": KEY}))
    second = authorize(authorizer, request_event(query={"apiKey": KEY}, method_arn=get_arn,
                                                 method="GET"))
    # A method outside the list gets the same Allow, which does not cover it: API Gateway
    # refuses that request, and the cached answer keeps serving the listed ones.
    other = authorize(authorizer, request_event(query={"apiKey": KEY},
                                                method_arn=f"{PREFIX}/DELETE/customizations",
                                                method="DELETE"))

    assert first == second == other
    assert f"{PREFIX}/DELETE/customizations" not in resources(other)


def test_cache_off_with_allowed_methods_denies_other_methods(
        authorizer: ModuleType, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALLOWED_METHODS", "POST/customizations,GET/customizations/*")
    get_arn = f"{PREFIX}/GET/customizations/0b6f2a52-0d1e-4c8e-9d07-2f9d1c1f4e55"
    delete_arn = f"{PREFIX}/DELETE/customizations"

    allowed = authorize(authorizer, request_event(query={"apiKey": KEY}, method_arn=get_arn,
                                                  method="GET"))
    denied = authorize(authorizer, request_event(query={"apiKey": KEY},
                                                 method_arn=delete_arn, method="DELETE"))
    outside = authorize(authorizer, request_event(query={"apiKey": KEY},
                                                  method_arn=f"{PREFIX}/GET/customizations",
                                                  method="GET"))

    assert resources(allowed) == [get_arn]
    assert resources(denied, "Deny") == [delete_arn]
    assert "usageIdentifierKey" not in denied
    assert resources(outside, "Deny") == [f"{PREFIX}/GET/customizations"]


def test_any_method_entry(authorizer: ModuleType, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUTHORIZER_CACHE", "true")
    monkeypatch.setenv("ALLOWED_METHODS", "*/customizations")

    answer = authorize(authorizer, request_event(query={"apiKey": KEY}))

    assert resources(answer) == [f"{PREFIX}/*/customizations"]


@pytest.mark.parametrize("environ", [
    {"AUTHORIZER_CACHE": "true"},
    {"AUTHORIZER_CACHE": "true", "ALLOWED_METHODS": " , "},
    {"AUTHORIZER_CACHE": "yes", "ALLOWED_METHODS": "POST/customizations"},
    {"ACCEPT_HEADER_KEY": "1"},
    {"ALLOWED_METHODS": "POST customizations"},
    {"ALLOWED_METHODS": "FETCH/customizations"},
    {"ALLOWED_METHODS": "post/customizations"},
    {"ALLOWED_METHODS": "POST/customizations?x=1"},
    {"ALLOWED_METHODS": "POST/customizations,GET/a b"},
])
def test_misconfiguration_fails_closed(authorizer: ModuleType,
                                       monkeypatch: pytest.MonkeyPatch, log: io.StringIO,
                                       environ: dict[str, str]) -> None:
    for name, value in environ.items():
        monkeypatch.setenv(name, value)

    refused(authorizer, request_event(query={"apiKey": KEY}))

    errors = [line for line in log_lines(log) if line["level"] == "ERROR"]
    assert errors
    assert "misconfigured" in errors[0]["message"]


@pytest.mark.parametrize("method_arn", [
    None,
    "",
    42,
    "not-an-arn",
    "arn:aws:execute-api:us-east-1:111111111111",
    f"arn:aws:execute-api:{REGION}:{ACCOUNT}:{API_ID}",
    f"arn:aws:execute-api:{REGION}:{ACCOUNT}:{API_ID}/{STAGE}",
    f"arn:aws:execute-api:{REGION}:{ACCOUNT}:{API_ID}/{STAGE}/POST",
    f"arn:aws:lambda:{REGION}:{ACCOUNT}:{API_ID}/{STAGE}/POST/customizations",
    f"arn:aws:execute-api:{REGION}:1111:{API_ID}/{STAGE}/POST/customizations",
    f"arn:aws:execute-api:*:{ACCOUNT}:{API_ID}/{STAGE}/POST/customizations",
    f"arn:aws:execute-api:{REGION}:{ACCOUNT}:*/{STAGE}/POST/customizations",
    f"arn:aws:execute-api:{REGION}:{ACCOUNT}:{API_ID}/*/POST/customizations",
    f"arn:aws:execute-api:{REGION}:{ACCOUNT}:{API_ID}/{STAGE}/*/customizations",
    f"arn:aws:execute-api:{REGION}:{ACCOUNT}:{API_ID}/{STAGE}/FETCH/customizations",
    f"arn:aws:execute-api:{REGION}:{ACCOUNT}:{API_ID}/{STAGE}/POST/custom izations",
    f"arn:evil:execute-api:{REGION}:{ACCOUNT}:{API_ID}/{STAGE}/POST/customizations",
    METHOD_ARN + "/" + "a" * 2048,
    METHOD_ARN + "\n",
])
def test_malformed_method_arn_is_unauthorized(authorizer: ModuleType, method_arn: Any) -> None:
    refused(authorizer, request_event(query={"apiKey": KEY}, method_arn=method_arn))


# Digits that \d matches and an ARN never holds: Arabic-Indic, fullwidth, Devanagari.
@pytest.mark.parametrize("digit", ["\u0661", "\uff11", "\u0967"])
@pytest.mark.parametrize("part", ["account", "region"])
def test_method_arn_digits_must_be_ascii(authorizer: ModuleType, digit: str, part: str) -> None:
    account = digit * 12 if part == "account" else ACCOUNT
    region = f"us-east-{digit}" if part == "region" else REGION
    method_arn = f"arn:aws:execute-api:{region}:{account}:{API_ID}/{STAGE}/POST/customizations"

    refused(authorizer, request_event(query={"apiKey": KEY}, method_arn=method_arn))


def test_missing_method_arn_is_unauthorized(authorizer: ModuleType) -> None:
    event = request_event(query={"apiKey": KEY})
    del event["methodArn"]

    refused(authorizer, event)


def test_the_event_is_not_changed(authorizer: ModuleType,
                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ACCEPT_HEADER_KEY", "true")
    event = request_event(query={"apiKey": KEY}, headers={"x-api-key": KEY})
    before = copy.deepcopy(event)

    authorize(authorizer, event)

    assert event == before


def log_lines(log: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in log.getvalue().splitlines() if line]


def test_allow_is_logged_with_the_fingerprint(authorizer: ModuleType, log: io.StringIO) -> None:
    authorize(authorizer, request_event(query={"apiKey": KEY}))

    allowed = [line for line in log_lines(log) if line["message"] == "Allowed"]
    assert len(allowed) == 1
    assert allowed[0]["key_fingerprint"] == hashlib.sha256(KEY.encode()).hexdigest()[:12]
    assert allowed[0]["service"] == "query-key-authorizer"


@pytest.mark.parametrize(("query", "headers", "source"), [
    ({"apiKey": KEY}, {}, "query"),
    ({}, {"X-Api-Key": KEY}, "header"),
    ({"apiKey": KEY}, {"x-api-key": KEY}, "query+header"),
])
def test_the_log_says_where_the_key_came_from(authorizer: ModuleType, log: io.StringIO,
                                              monkeypatch: pytest.MonkeyPatch,
                                              query: dict[str, str], headers: dict[str, str],
                                              source: str) -> None:
    monkeypatch.setenv("ACCEPT_HEADER_KEY", "true")
    authorize(authorizer, request_event(query=query, headers=headers))

    allowed = [line for line in log_lines(log) if line["message"] == "Allowed"]
    assert [line["key_source"] for line in allowed] == [source]


def test_the_key_never_reaches_the_log(authorizer: ModuleType, log: io.StringIO,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    # Even with event logging switched on for the function, the authorizer does not log it.
    monkeypatch.setenv("POWERTOOLS_LOGGER_LOG_EVENT", "true")
    monkeypatch.setenv("ACCEPT_HEADER_KEY", "true")
    authorize(authorizer, request_event(query={"apiKey": KEY}))
    authorize(authorizer, request_event(headers={"x-api-key": KEY}))
    authorize(authorizer, request_event(query={"apiKey": KEY}, headers={"x-api-key": OTHER_KEY}))
    refused(authorizer, request_event(query={"apiKey": KEY + "!"}))
    refused(authorizer, request_event(query={"apiKey": KEY},
                                      method_arn="arn:aws:execute-api:" + KEY))
    monkeypatch.setenv("AUTHORIZER_CACHE", "true")
    refused(authorizer, request_event(query={"apiKey": KEY}))

    text = log.getvalue()
    assert log_lines(log)
    assert KEY not in text
    assert OTHER_KEY not in text
    assert KEY[:20] not in text


def test_an_unexpected_failure_is_unauthorized_and_logs_no_key(
        authorizer: ModuleType, monkeypatch: pytest.MonkeyPatch, log: io.StringIO) -> None:
    def broken_policy(key: str, *args: Any) -> dict[str, Any]:
        raise RuntimeError(f"could not build a policy for {key}")

    monkeypatch.setattr(authorizer, "policy", broken_policy)

    refused(authorizer, request_event(query={"apiKey": KEY}))

    errors = [line for line in log_lines(log) if line["level"] == "ERROR"]
    assert errors[0]["error"] == "RuntimeError"
    assert KEY not in log.getvalue()
