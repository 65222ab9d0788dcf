"""The Lambda@Edge version router against a moto DynamoDB table."""

from __future__ import annotations

import calendar
import io
import itertools
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from unittest import mock

import boto3
import pytest
from aws_lambda_powertools import Logger
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials as BotoCredentials
from botocore.exceptions import ClientError, EndpointConnectionError
from moto import mock_aws
from version_router import app
from version_router.app import (
    MAX_CANDIDATES,
    RETRY_AFTER_SECONDS,
    STALE_GRACE_SECONDS,
    Credentials,
    Route,
    Router,
    Settings,
    Signer,
    candidates,
    environment_credentials,
    load_settings,
)

from tests.functions.events import LambdaContext

TABLE = "api-versions"
HOME = "us-east-1"
V1 = "application/vnd.example.v1+json"
V2 = "application/vnd.example.v2+json"
V3 = "application/vnd.example.v3+json"
DOMAIN_V1 = "abc123.execute-api.us-east-1.amazonaws.com"
DOMAIN_V2 = "def456.execute-api.us-east-1.amazonaws.com"
DOMAIN_V3 = "ghi789.execute-api.eu-west-1.amazonaws.com"
ITEMS = [
    {"hk": V1, "dn": DOMAIN_V1, "dp": "/v1"},
    {"hk": V2, "dn": DOMAIN_V2, "dp": "/v2"},
    {"hk": V3, "dn": DOMAIN_V3, "dp": "/v3", "sr": "eu-west-1"},
    {"hk": "v1", "dn": DOMAIN_V1, "dp": "/v1"},
    {"hk": "v2", "dn": DOMAIN_V2},
    {"hk": "v4", "dp": "/v4"},
]
ACCESS_KEY = "AKIDEXAMPLE"
SECRET_KEY = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
SESSION_TOKEN = "IQoJb3JpZ2luX2VjEXAMPLETOKEN//////////wEaCXVzLWVhc3QtMSJHMEUCIQ=="
START = float(calendar.timegm((2026, 11, 26, 15, 4, 5)))
_services = itertools.count()


# Lambda@Edge passes the function in us-east-1, whatever region runs it.
CONTEXT = LambdaContext("us-east-1.version-router", invoked_function_arn=(
    "arn:aws:lambda:us-east-1:111111111111:function:version-router:3"))



class Clock:
    def __init__(self, now: float = START) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class CountingClient:
    """Passes ``get_item`` through to a real client, counting calls and failing on demand."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.keys: list[str] = []
        self.error: Exception | None = None

    def get_item(self, **kwargs: Any) -> Any:
        self.keys.append(kwargs["Key"]["hk"]["S"])
        if self.error is not None:
            raise self.error
        return self.client.get_item(**kwargs)


def create_table(region: str = HOME) -> Any:
    client = boto3.client("dynamodb", region_name=region)
    client.create_table(TableName=TABLE, BillingMode="PAY_PER_REQUEST",
                        KeySchema=[{"AttributeName": "hk", "KeyType": "HASH"}],
                        AttributeDefinitions=[{"AttributeName": "hk", "AttributeType": "S"}])
    for item in ITEMS:
        client.put_item(TableName=TABLE, Item={key: {"S": value} for key, value in item.items()})
    return client


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", ACCESS_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
    monkeypatch.setenv("AWS_SESSION_TOKEN", SESSION_TOKEN)
    monkeypatch.setenv("AWS_DEFAULT_REGION", HOME)
    monkeypatch.setenv("AWS_REGION", HOME)
    with mock_aws():
        yield


@pytest.fixture
def client(aws: None) -> CountingClient:
    return CountingClient(create_table())


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def log() -> io.StringIO:
    return io.StringIO()


def settings(**overrides: Any) -> Settings:
    raw: dict[str, Any] = {"table_name": TABLE, "region": HOME, "header_name": "Accept",
                           "cache_ttl_seconds": 300, "cache_max_entries": 1024}
    raw.update(overrides)
    return Settings.from_mapping(raw)


@pytest.fixture
def make_router(client: CountingClient, clock: Clock,
                log: io.StringIO) -> Any:
    def make(signer: Signer | None = None, **overrides: Any) -> Router:
        logger = Logger(service=f"router-test-{next(_services)}", level="DEBUG", stream=log)
        # moto puts its own fake credentials in the environment; these are the test's.
        signer = signer or Signer(lambda: Credentials(ACCESS_KEY, SECRET_KEY, SESSION_TOKEN))
        return Router(settings(**overrides), client, clock, signer=signer, logger=logger)

    return make


@pytest.fixture
def router(make_router: Any) -> Router:
    return make_router()


def request(headers: dict[str, str] | None = None, *, uri: str = "/hello",
            querystring: str = "", method: str = "GET") -> dict[str, Any]:
    """An origin-request event's request: headers keyed in lower case, values in lists."""
    return {
        "clientIp": "203.0.113.178",
        "method": method,
        "uri": uri,
        "querystring": querystring,
        "headers": {
            "host": [{"key": "Host", "value": "d111111abcdef8.cloudfront.net"}],
            "user-agent": [{"key": "User-Agent", "value": "curl/8.5.0"}],
            **{name.lower(): [{"key": name, "value": value}]
               for name, value in (headers or {}).items()},
        },
        "origin": {"custom": {
            "customHeaders": {"x-origin-secret": [{"key": "X-Origin-Secret", "value": "s3cr3t"}]},
            "domainName": "placeholder.example.com",
            "keepaliveTimeout": 5,
            "path": "",
            "port": 443,
            "protocol": "https",
            "readTimeout": 30,
            "sslProtocols": ["TLSv1.2"],
        }},
    }


def event(req: dict[str, Any]) -> dict[str, Any]:
    return {"Records": [{"cf": {
        "config": {"distributionDomainName": "d111111abcdef8.cloudfront.net",
                   "distributionId": "EDFDVBD6EXAMPLE", "eventType": "origin-request",
                   "requestId": "4TyzHTaYWb1GX1qTfsHhEqV6HUDd_BzoBZnwfnvQc_1oF26ClkoUSEQ=="},
        "request": req,
    }}]}


def header(result: dict[str, Any], name: str) -> str:
    entries = result["headers"][name]
    assert len(entries) == 1
    value: str = entries[0]["value"]
    return value


def domain(result: dict[str, Any]) -> str:
    found: str = result["origin"]["custom"]["domainName"]
    return found


def log_lines(log: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in log.getvalue().splitlines() if line]


# --- routing ---------------------------------------------------------------------------------

@pytest.mark.parametrize(("value", "expected_domain", "expected_path"), [
    (V1, DOMAIN_V1, "/v1"),
    (V2, DOMAIN_V2, "/v2"),
])
def test_routes_each_version_to_its_origin(router: Router, value: str, expected_domain: str,
                                           expected_path: str) -> None:
    result = router.route(request({"Accept": value}))

    assert result["origin"] == {"custom": {
        "domainName": expected_domain,
        "port": 443,
        "protocol": "https",
        "path": expected_path,
        "sslProtocols": ["TLSv1.2"],
        "readTimeout": 30,
        "keepaliveTimeout": 5,
        "customHeaders": {"x-origin-secret": [{"key": "X-Origin-Secret", "value": "s3cr3t"}]},
    }}
    assert result["headers"]["host"] == [{"key": "Host", "value": expected_domain}]
    assert result["uri"] == "/hello"
    assert "authorization" not in result["headers"]


def test_origin_path_is_optional(make_router: Any) -> None:
    result = make_router(header_name="APIVER").route(request({"APIVER": "v2"}))

    assert domain(result) == DOMAIN_V2
    assert result["origin"]["custom"]["path"] == ""


def test_custom_header_routes_with_any_case_of_name_and_value(make_router: Any) -> None:
    router = make_router(header_name="APIVER")
    req = request()
    # CloudFront keys the dict in lower case and keeps the viewer's spelling in "key".
    req["headers"]["apiver"] = [{"key": "ApiVer", "value": " V1 "}]

    assert domain(router.route(req)) == DOMAIN_V1


def test_header_dict_keyed_in_another_case_is_still_found(make_router: Any) -> None:
    router = make_router(header_name="apiver")
    req = request()
    req["headers"]["APIVER"] = [{"key": "APIVER", "value": "v1"}]

    assert domain(router.route(req)) == DOMAIN_V1


def test_header_value_is_case_insensitive(router: Router) -> None:
    result = router.route(request({"Accept": "Application/VND.Example.V2+JSON"}))

    assert domain(result) == DOMAIN_V2


@pytest.mark.parametrize(("accept", "expected_domain"), [
    ("application/json;q=0.5, application/vnd.example.v2+json", DOMAIN_V2),
    ("application/vnd.example.v9+json, application/vnd.example.v1+json;q=0.8", DOMAIN_V1),
    ("application/vnd.example.v2+json;q=0, application/vnd.example.v1+json;q=0.1", DOMAIN_V1),
    ("application/vnd.example.v1+json;q=0.2, application/vnd.example.v2+json;q=0.9", DOMAIN_V2),
    ("text/html, application/vnd.example.v1+json ; Q = 0.7, */*;q=0.1", DOMAIN_V1),
])
def test_accept_list_picks_the_most_preferred_known_version(router: Router, accept: str,
                                                            expected_domain: str) -> None:
    assert domain(router.route(request({"Accept": accept}))) == expected_domain


def test_repeated_header_entries_count_as_one_list(router: Router) -> None:
    req = request()
    req["headers"]["accept"] = [{"key": "Accept", "value": "text/html"},
                                {"key": "Accept", "value": V2}]

    assert domain(router.route(req)) == DOMAIN_V2


def test_only_version_with_q_zero_is_refused(router: Router) -> None:
    result = router.route(request({"Accept": f"{V1};q=0"}))

    assert result["status"] == "403"
    assert result["statusDescription"] == "Accept header is not a valid version"


def test_candidates_order_by_quality_then_position() -> None:
    assert candidates("a;q=0.5, B, c;q=0.9, d;q=0, e;q=abc, f;q=2, b") == ["b", "c", "a"]


def test_candidates_keep_parameters_before_q() -> None:
    assert candidates("Application/JSON; Version = 2 ;q=0.5;ext=1") == [
        "application/json;version=2"]


def test_candidates_read_only_the_first_items() -> None:
    value = ", ".join(f"v{number}" for number in range(50))

    assert candidates(value) == [f"v{number}" for number in range(MAX_CANDIDATES)]


def test_a_long_list_of_unknown_values_costs_at_most_the_cap_in_lookups(
        router: Router, client: CountingClient) -> None:
    value = ", ".join(f"application/vnd.example.v{number}+json" for number in range(10, 60))

    result = router.route(request({"Accept": value}))

    assert result["status"] == "403"
    assert len(client.keys) == MAX_CANDIDATES


def test_rewrite_keeps_no_custom_headers_when_the_origin_had_none(router: Router) -> None:
    req = request({"Accept": V1})
    req["origin"] = {"s3": {"domainName": "bucket.s3.amazonaws.com", "path": ""}}

    result = router.route(req)

    assert result["origin"]["custom"]["customHeaders"] == {}
    assert "s3" not in result["origin"]


@pytest.mark.parametrize(("item", "expected"), [
    ({"dn": {"S": "API.Example.com"}, "dp": {"S": "v1/"}}, Route("api.example.com", "/v1")),
    ({"dn": {"S": "api.example.com"}, "dp": {"S": "/"}}, Route("api.example.com", "")),
    ({"dn": {"S": "a.example.com"}, "sr": {"S": "eu-west-1"}},
     Route("a.example.com", "", "eu-west-1")),
])
def test_route_from_item_normalises(item: dict[str, Any], expected: Route) -> None:
    assert Route.from_item(item) == expected


@pytest.mark.parametrize("item", [
    {},
    {"dn": {"S": "evil.example.com/path"}},
    {"dn": {"S": "localhost"}},
    {"dn": {"N": "1"}},
    {"dn": {"S": "a.example.com"}, "dp": {"S": "/a b"}},
    {"dn": {"S": "a.example.com"}, "sr": {"S": "mars"}},
])
def test_route_from_item_refuses_malformed_items(item: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match=r"dn|dp|sr"):
        Route.from_item(item)


def test_malformed_mapping_is_refused_and_logged(make_router: Any, log: io.StringIO) -> None:
    result = make_router(header_name="APIVER").route(request({"APIVER": "v4"}))

    assert result["status"] == "403"
    errors = [line for line in log_lines(log) if line["level"] == "ERROR"]
    assert errors[0]["message"] == "Ignoring a malformed version mapping"
    assert errors[0]["version"] == "v4"


# --- refusals --------------------------------------------------------------------------------

def assert_generated(result: dict[str, Any], status: str, description: str) -> None:
    assert result["status"] == status
    assert result["statusDescription"] == description
    assert header(result, "content-type") == "application/json"
    assert header(result, "cache-control") == "no-store"
    assert "origin" not in result


@pytest.mark.parametrize(("headers", "description"), [
    ({}, "Accept header is missing"),
    ({"Accept": ""}, "Accept header is empty"),
    ({"Accept": "   "}, "Accept header is empty"),
    ({"Accept": "application/vnd.example.v9+json"}, "Accept header is not a valid version"),
    ({"Accept": " , ;q=1"}, "Accept header is not a valid version"),
])
def test_refusals_say_which_problem(router: Router, headers: dict[str, str],
                                    description: str) -> None:
    result = router.route(request(headers))

    assert_generated(result, "403", description)
    assert json.loads(result["body"]) == {"message": description}


def test_empty_header_list_counts_as_missing(router: Router) -> None:
    req = request()
    req["headers"]["accept"] = []

    assert router.route(req)["statusDescription"] == "Accept header is missing"


def test_custom_header_name_appears_in_the_description(make_router: Any) -> None:
    result = make_router(header_name="APIVER").route(request({"APIVER": "v9"}))

    assert result["statusDescription"] == "APIVER header is not a valid version"


def test_refusal_never_echoes_the_value(router: Router) -> None:
    hostile = "v9\r\nSet-Cookie: session=stolen<script>"

    result = router.route(request({"Accept": hostile}))

    assert result["statusDescription"] == "Accept header is not a valid version"
    text = json.dumps(result)
    assert "Set-Cookie" not in text
    assert "stolen" not in text
    assert "<script>" not in text


def test_over_long_value_is_refused_without_a_lookup(router: Router,
                                                     client: CountingClient) -> None:
    result = router.route(request({"Accept": "v" * 5000}))

    assert result["status"] == "403"
    assert client.keys == []


# --- cache -----------------------------------------------------------------------------------

def test_one_lookup_per_value_per_ttl_window(router: Router, client: CountingClient,
                                             clock: Clock) -> None:
    for _ in range(50):
        assert domain(router.route(request({"Accept": V1}))) == DOMAIN_V1
        clock.now += 1
    assert client.keys == [V1]

    clock.now = START + 300
    for _ in range(50):
        router.route(request({"Accept": V1}))

    assert client.keys == [V1, V1]


def test_same_value_in_any_case_shares_one_cache_entry(router: Router,
                                                       client: CountingClient) -> None:
    for value in (V1, V1.upper(), f"{V1};q=0.9", f"text/html;q=0.1, {V1.title()}"):
        assert domain(router.route(request({"Accept": value}))) == DOMAIN_V1

    assert client.keys == [V1]


def test_unknown_values_are_cached_too(router: Router, client: CountingClient,
                                       clock: Clock) -> None:
    for _ in range(20):
        assert router.route(request({"Accept": "text/html"}))["status"] == "403"
    assert client.keys == ["text/html"]

    clock.now += 300
    router.route(request({"Accept": "text/html"}))

    assert client.keys == ["text/html", "text/html"]


def test_cache_evicts_the_least_recently_used(make_router: Any,
                                              client: CountingClient) -> None:
    router = make_router(cache_max_entries=2)

    for value in (V1, V2, V1, V3, V1, V2):
        router.route(request({"Accept": value}))

    # V2 was the least recently used when V3 arrived; V1 stayed because it was in use.
    assert client.keys == [V1, V2, V3, V2]


# --- failures --------------------------------------------------------------------------------

THROTTLED = ClientError({"Error": {"Code": "ProvisionedThroughputExceededException",
                                   "Message": "Rate exceeded"}}, "GetItem")


@pytest.mark.parametrize("error", [
    THROTTLED,
    EndpointConnectionError(endpoint_url="https://dynamodb.us-east-1.amazonaws.com"),
    RuntimeError("anything else"),
])
def test_stale_entry_is_served_while_dynamodb_fails(router: Router, client: CountingClient,
                                                    clock: Clock, log: io.StringIO,
                                                    error: Exception) -> None:
    router.route(request({"Accept": V1}))
    client.error = error
    clock.now += 301

    assert domain(router.route(request({"Accept": V1}))) == DOMAIN_V1
    clock.now += STALE_GRACE_SECONDS - 1
    assert domain(router.route(request({"Accept": V1}))) == DOMAIN_V1
    assert client.keys == [V1, V1]

    clock.now += 1
    assert domain(router.route(request({"Accept": V1}))) == DOMAIN_V1
    assert client.keys == [V1, V1, V1]
    warnings = [line["message"] for line in log_lines(log) if line["level"] == "WARNING"]
    assert "DynamoDB lookup failed" in warnings
    assert "Serving a cached version mapping past its TTL" in warnings

    client.error = None
    clock.now += STALE_GRACE_SECONDS
    router.route(request({"Accept": V1}))
    assert client.keys == [V1, V1, V1, V1]


def test_stale_negative_answer_stays_negative(router: Router, client: CountingClient,
                                              clock: Clock) -> None:
    router.route(request({"Accept": "text/html"}))
    client.error = THROTTLED
    clock.now += 301

    assert router.route(request({"Accept": "text/html"}))["status"] == "403"


def test_no_cached_entry_and_dynamodb_down_answers_503(router: Router, client: CountingClient,
                                                       clock: Clock) -> None:
    client.error = THROTTLED

    result = router.route(request({"Accept": V1}))

    assert_generated(result, "503", "Service Unavailable")
    assert header(result, "retry-after") == str(RETRY_AFTER_SECONDS)
    assert json.loads(result["body"])["message"]

    # Until retry-after, misses do not wait on DynamoDB again.
    router.route(request({"Accept": V2}))
    assert client.keys == [V1]

    client.error = None
    clock.now += RETRY_AFTER_SECONDS
    assert domain(router.route(request({"Accept": V2}))) == DOMAIN_V2


def test_missing_table_answers_503(aws: None, clock: Clock) -> None:
    router = Router(settings(), boto3.client("dynamodb", region_name=HOME), clock)

    assert router.route(request({"Accept": V1}))["status"] == "503"


@pytest.mark.parametrize("bad_event", [
    None,
    {},
    {"Records": []},
    {"Records": [{"cf": {}}]},
    {"Records": [{"cf": {"request": "not a request"}}]},
    {"Records": [{"cf": {"request": {"headers": ["accept"]}}}]},
    {"Records": [{"cf": {"request": {"headers": {"accept": "v1"}}}}]},
    event({**request({"Accept": V1}), "headers": {"accept": [{"key": "Accept", "value": 1}]}}),
    event({**request({"Accept": V1}), "uri": None}),
    {"Records": [event(request({"Accept": V1}))["Records"][0]] * 2},
])
def test_handler_refuses_a_malformed_event_with_a_400(bad_event: Any, aws: None,
                                                      monkeypatch: pytest.MonkeyPatch,
                                                      client: CountingClient) -> None:
    monkeypatch.setattr(app, "default_router", lambda: Router(settings(), client))

    result = app.handler(bad_event, CONTEXT)

    assert_generated(result, "400", "Bad Request")
    assert json.loads(result["body"])["message"].startswith("The request event is malformed: ")
    assert client.keys == []


def test_router_logs_unexpected_errors_with_the_exception(router: Router,
                                                          log: io.StringIO) -> None:
    result = router.route({"headers": {"accept": [None]}})

    assert_generated(result, "502", "Bad Gateway")
    errors = [line for line in log_lines(log) if line["level"] == "ERROR"]
    assert errors[-1]["message"] == "Could not route the request"
    assert "AttributeError" in errors[-1]["exception"]


def test_request_without_headers_is_refused_not_failed(router: Router) -> None:
    assert router.route({"uri": "/hello"})["statusDescription"] == "Accept header is missing"


# --- SigV4 for AWS_IAM origins ---------------------------------------------------------------

def when(clock: Clock) -> datetime:
    return datetime.fromtimestamp(clock.now, UTC).replace(tzinfo=None)


def botocore_signature(url: str, *, method: str = "GET", params: Any = None,
                       token: str | None = SESSION_TOKEN, region: str = "eu-west-1",
                       at: datetime) -> AWSRequest:
    signed = AWSRequest(method=method, url=url, params=params)
    auth = SigV4Auth(BotoCredentials(ACCESS_KEY, SECRET_KEY, token), "execute-api", region)
    with mock.patch("botocore.auth.get_current_datetime", return_value=at):
        auth.add_auth(signed)
    return signed


@pytest.mark.parametrize(("uri", "querystring", "method"), [
    ("/hello", "", "GET"),
    ("/hello", "b=2&a=x%20y&c", "GET"),
    ("/items/a%20b/./c/../d/", "z=%2F&a=1&a=0&%C3%A9=%E2%9C%93", "HEAD"),
    ("//double//slashes", "x=a~b-c_d.e", "OPTIONS"),
])
def test_signature_matches_botocore(router: Router, clock: Clock, uri: str, querystring: str,
                                    method: str) -> None:
    result = router.route(request({"Accept": V3}, uri=uri, querystring=querystring,
                                  method=method))

    url = f"https://{DOMAIN_V3}/v3{uri}" + (f"?{querystring}" if querystring else "")
    expected = botocore_signature(url, method=method, at=when(clock))
    assert header(result, "authorization") == expected.headers["Authorization"]
    assert header(result, "x-amz-date") == expected.headers["X-Amz-Date"]
    assert header(result, "x-amz-security-token") == SESSION_TOKEN
    assert header(result, "host") == DOMAIN_V3
    assert "SignedHeaders=host;x-amz-date;x-amz-security-token," in header(
        result, "authorization")


def test_query_string_is_encoded_per_sigv4(clock: Clock) -> None:
    # botocore takes a raw query string as already canonical; given the decoded parameters,
    # it encodes them itself, which is what the router must match.
    signer = Signer(lambda: Credentials(ACCESS_KEY, SECRET_KEY, SESSION_TOKEN))
    query = "q=a b&Z=%2f&emoji=%E2%9C%93&plus=1+2&empty"

    headers = dict(signer.sign("GET", DOMAIN_V3, "/v3/search", query, "eu-west-1", clock.now))

    params = [("q", "a b"), ("Z", "/"), ("emoji", "✓"), ("plus", "1+2"), ("empty", "")]
    expected = botocore_signature(f"https://{DOMAIN_V3}/v3/search", params=params,
                                  at=when(clock))
    assert headers["Authorization"] == expected.headers["Authorization"]


def test_signature_without_a_session_token(clock: Clock) -> None:
    signer = Signer(lambda: Credentials(ACCESS_KEY, SECRET_KEY))

    headers = dict(signer.sign("GET", DOMAIN_V3, "/v3/hello", "", "eu-west-1", clock.now))

    expected = botocore_signature(f"https://{DOMAIN_V3}/v3/hello", token=None, at=when(clock))
    assert headers["Authorization"] == expected.headers["Authorization"]
    assert "X-Amz-Security-Token" not in headers
    assert "SignedHeaders=host;x-amz-date," in headers["Authorization"]


def test_signing_key_is_derived_once_per_day_and_region(clock: Clock) -> None:
    signer = Signer(lambda: Credentials(ACCESS_KEY, SECRET_KEY))
    with mock.patch("version_router.app.hmac.digest", wraps=app.hmac.digest) as derive:
        signer.sign("GET", DOMAIN_V3, "/a", "", "eu-west-1", clock.now)
        assert derive.call_count == 4
        signer.sign("GET", DOMAIN_V3, "/b", "", "eu-west-1", clock.now + 60)
        assert derive.call_count == 4
        signer.sign("GET", DOMAIN_V3, "/c", "", "us-east-1", clock.now + 60)
        signer.sign("GET", DOMAIN_V3, "/d", "", "eu-west-1", clock.now + 86400)
        assert derive.call_count == 12


def test_credentials_are_read_at_most_once_a_second(clock: Clock) -> None:
    reads = []

    def credentials() -> Credentials:
        reads.append(clock.now)
        return Credentials(ACCESS_KEY, SECRET_KEY)

    signer = Signer(credentials)
    for offset in (0.0, 0.2, 0.9, 1.0, 1.5):
        signer.sign("GET", DOMAIN_V3, "/a", "", "eu-west-1", clock.now + offset)

    assert len(reads) == 2


def test_viewer_supplied_signing_headers_are_replaced(router: Router) -> None:
    req = request({"Accept": V3, "Authorization": "Bearer viewer-token",
                   "X-Amz-Date": "19700101T000000Z", "X-Amz-Security-Token": "viewer",
                   "X-Amz-Content-Sha256": "UNSIGNED-PAYLOAD"})

    result = router.route(req)

    assert header(result, "authorization").startswith("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/")
    assert header(result, "x-amz-security-token") == SESSION_TOKEN
    assert header(result, "x-amz-date") != "19700101T000000Z"
    assert "x-amz-content-sha256" not in result["headers"]


def test_unsigned_origin_keeps_viewer_headers(router: Router) -> None:
    result = router.route(request({"Accept": V1, "Authorization": "Bearer viewer-token"}))

    assert header(result, "authorization") == "Bearer viewer-token"


def test_credentials_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", ACCESS_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
    assert environment_credentials() == Credentials(ACCESS_KEY, SECRET_KEY)

    monkeypatch.setenv("AWS_SESSION_TOKEN", SESSION_TOKEN)
    assert environment_credentials() == Credentials(ACCESS_KEY, SECRET_KEY, SESSION_TOKEN)

    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    assert environment_credentials() is None


def test_no_credentials_for_a_signed_origin_answers_502(make_router: Any,
                                                        monkeypatch: pytest.MonkeyPatch,
                                                        log: io.StringIO) -> None:
    router = make_router(signer=Signer())
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")

    result = router.route(request({"Accept": V3}))

    assert_generated(result, "502", "Bad Gateway")
    assert any(line["level"] == "ERROR" for line in log_lines(log))


def test_logs_never_carry_credentials_or_signatures(router: Router, client: CountingClient,
                                                    clock: Clock, log: io.StringIO) -> None:
    for value in (V3, V1, "text/html"):
        router.route(request({"Accept": value, "Authorization": "Bearer viewer-token"}))
    client.error = THROTTLED
    clock.now += 301
    router.route(request({"Accept": V3}))
    router.route(request({"Accept": V2}))

    text = log.getvalue()
    assert '"Routing"' in text  # the router logged at DEBUG, so everything was written
    for secret in (SECRET_KEY, SESSION_TOKEN, "Signature=", "viewer-token", "s3cr3t"):
        assert secret not in text


# --- settings and the handler ----------------------------------------------------------------

def test_settings_report_every_problem() -> None:
    with pytest.raises(ValueError, match="invalid version router settings") as raised:
        Settings.from_mapping({"region": "nowhere", "header_name": "Bad Header",
                               "cache_ttl_seconds": 0, "cache_max_entries": True,
                               "replica_regions": "eu-west-1", "log_level": "LOUD"})

    message = str(raised.value)
    for key in ("table_name", "region", "header_name", "cache_ttl_seconds", "cache_max_entries",
                "replica_regions", "log_level"):
        assert f"{key}:" in message


@pytest.mark.parametrize("region", ["us-east-\u0661", "eu-west-\uff11"])
def test_regions_take_ascii_digits_only(region: str) -> None:
    with pytest.raises(ValueError, match="region: an AWS region"):
        settings(region=region)
    with pytest.raises(ValueError, match="replica_regions"):
        settings(replica_regions=[region])
    with pytest.raises(ValueError, match="sr is not an AWS region"):
        Route.from_item({"dn": {"S": DOMAIN_V1}, "sr": {"S": region}})


def test_settings_refuse_a_header_the_router_rewrites() -> None:
    with pytest.raises(ValueError, match="header_name: Authorization is rewritten"):
        settings(header_name="Authorization")


def test_settings_defaults_and_region_choice(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"table_name": TABLE, "region": HOME, "header_name": "APIVER",
                                "replica_regions": ["eu-west-1", "ap-southeast-2"]}))

    loaded = load_settings(path)

    assert loaded.cache_ttl_seconds == 300
    assert loaded.cache_max_entries == 1024
    assert loaded.log_level == "INFO"
    assert loaded.dynamodb_region("eu-west-1") == "eu-west-1"
    assert loaded.dynamodb_region("sa-east-1") == HOME
    assert loaded.dynamodb_region(None) == HOME


@pytest.fixture
def deployed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A config.json where the deploy would write it, and a fresh container's router."""
    path = tmp_path / "config.json"
    path.write_text(json.dumps({
        "table_name": TABLE, "region": HOME, "replica_regions": ["eu-west-1"],
        "header_name": "Accept", "cache_ttl_seconds": 300, "cache_max_entries": 1024,
        "service_name": "version-router-test", "log_level": "INFO",
    }))
    monkeypatch.setattr(app, "CONFIG_PATH", path)
    app.default_router.cache_clear()
    yield path
    app.default_router.cache_clear()


@pytest.mark.parametrize(("edge_region", "table_region"), [
    ("eu-west-1", "eu-west-1"),
    ("ap-south-1", HOME),
])
def test_handler_end_to_end(aws: None, deployed: Path, monkeypatch: pytest.MonkeyPatch,
                            edge_region: str, table_region: str) -> None:
    monkeypatch.setenv("AWS_REGION", edge_region)
    create_table(table_region)

    first = app.handler(event(request({"Accept": f"text/html, {V2}"})), CONTEXT)
    second = app.handler(event(request({"Accept": V3})), CONTEXT)
    refused = app.handler(event(request({"Accept": "application/xml"})), CONTEXT)

    assert domain(first) == DOMAIN_V2
    assert domain(second) == DOMAIN_V3
    assert header(second, "authorization").startswith("AWS4-HMAC-SHA256 ")
    assert refused["statusDescription"] == "Accept header is not a valid version"
    assert app.default_router.cache_info().misses == 1


def test_handler_reads_the_table_in_the_right_region(aws: None, deployed: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    create_table(HOME)  # only the home region has it, so the replica lookup must fail

    assert app.handler(event(request({"Accept": V1})), CONTEXT)["status"] == "503"


def test_handler_without_config_answers_502_and_retries(aws: None, deployed: Path) -> None:
    create_table()
    text = deployed.read_text()
    deployed.unlink()

    assert app.handler(event(request({"Accept": V1})), CONTEXT)["status"] == "502"

    deployed.write_text(text)
    assert domain(app.handler(event(request({"Accept": V1})), CONTEXT)) == DOMAIN_V1
