"""REST APIs (API Gateway v1) in local mode, against the dev stack's plan.

Most tests drive ``RestApi.handle`` with the plan's functions scripted (``ScriptedLambda``: the
plan's invoke permissions are checked exactly as ``LocalLambda`` checks them, and the test says
what each function answers) on a clock the test moves, so that throttles, quotas and the
authorizer cache are exercised without waiting. The last test runs the real authorizer and
backend through ``LocalLambda``."""

from __future__ import annotations

import dataclasses
import functools
import json
import logging
import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pulumi
import pulumi_aws as aws
import pytest
from blueprints_common.entry import rest_proxy_problems, rest_request_authorizer_problems
from botocore.auth import SigV4Auth  # type: ignore[import-untyped]
from botocore.awsrequest import AWSRequest  # type: ignore[import-untyped]
from botocore.credentials import Credentials as BotoCredentials  # type: ignore[import-untyped]

from tests.functions.events import GOOD
from tools.local import rest_api
from tools.local.aws import Credentials, EmbeddedAws
from tools.local.functions import Invocation
from tools.local.gateway import Reply, Request
from tools.local.iam import PlanPolicies, Policy, Principal
from tools.local.lambdas import LocalLambda
from tools.local.rest_api import (
    RestApi,
    UsagePlans,
    _match,
    _Quota,
    _Resource,
    _UsagePlan,
    local_key_value,
    rest_apis,
)
from tools.mock_runtime import StackConfig, StackRun, run_program

ACCOUNT = "111122223333"
REGION = "eu-west-1"
QUERY_KEY_API = "queryKeyApi-api"
EVENT_API = "eventManagement-api"
V1_API = "headerVersioning-v1-api"
V2_API = "headerVersioning-v2-api"
JOBS_API = "asyncAnalytics-api"
PRIVATE_API = "privateApi-api"
CONTAINER_API = "containerApi-rest-api"
JOBS_QUEUE = "asyncAnalytics-jobs-queue"
JOBS_SENDER = "asyncAnalytics-api-sender"
AUTHORIZER = "queryKeyApi-authorizer-function"
BACKEND = "queryKeyApi-customizations-function"
HELLO_V1 = "headerVersioning-v1-hello-function"
ORIGIN = "https://app.dev.example.com"
SOURCE_IP = "198.51.100.7"
CORS = {"Access-Control-Allow-Origin": ORIGIN, "Access-Control-Allow-Methods": "GET,POST,OPTIONS",
        "Access-Control-Allow-Headers": "content-type,idempotency-key,x-api-key",
        "Vary": "Origin"}


# --- fixtures ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Failure:
    """A function error, as Lambda reports it."""

    message: str
    kind: str = "Exception"


@dataclass(frozen=True)
class Call:
    function: str
    event: dict[str, Any]
    source_arn: str | None


class ScriptedLambda(LocalLambda):
    """The plan's functions and their invoke permissions, without workers: an invocation that
    passes the permission check is recorded and answered by ``answers[resource](event)``."""

    def __init__(self, run: StackRun, policies: PlanPolicies, aws: EmbeddedAws,
                 root: Path) -> None:
        super().__init__(run, policies=policies, aws=aws, root=root)
        self.calls: list[Call] = []
        self.answers: dict[str, Callable[[dict[str, Any]], Any]] = {
            AUTHORIZER: authorizer_allowing("POST/customizations", "GET/customizations/*"),
            BACKEND: lambda event: {"statusCode": 200, "body": "{}"},
            HELLO_V1: lambda event: {"statusCode": 200, "body": '{"message": "v1"}'},
        }

    def invoke(self, function: str, event: Any, *, caller: Principal | None,
               source_arn: str | None = None, source_account: str | None = None) -> Invocation:
        spec = self.spec(function)
        assert caller == Principal.service_principal("apigateway.amazonaws.com")
        assert source_account == ACCOUNT
        self.authorize(spec, caller, source_arn, source_account)
        self.calls.append(Call(spec.resource, event, source_arn))
        answer = self.answers[spec.resource](event)
        if isinstance(answer, Failure):
            return Invocation({"errorMessage": answer.message, "errorType": answer.kind},
                              True, "invocation", 0.01)
        return Invocation(answer, False, "invocation", 0.01)

    def events(self, function: str) -> list[dict[str, Any]]:
        return [call.event for call in self.calls if call.function == function]


def authorizer_allowing(*routes: str, **extra: Any) -> Callable[[dict[str, Any]], Any]:
    """An authorizer that allows ``METHOD/path`` routes of the API it is asked about (or the
    method asked, with ``"requested"``) and passes the query string key on."""

    def answer(event: dict[str, Any]) -> Any:
        api_arn = event["methodArn"].split("/", 2)
        resources = [event["methodArn"] if route == "requested" else
                     f"{api_arn[0]}/{api_arn[1]}/{route}" for route in routes]
        return {"principalId": "key-owner",
                "policyDocument": {"Version": "2012-10-17", "Statement": [
                    {"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": resources}]},
                "context": {"tier": "free", "calls": 1, "trusted": True},
                "usageIdentifierKey": (event.get("queryStringParameters") or {}).get("apiKey"),
                **extra}
    return answer


def constant(answer: Any) -> Callable[[dict[str, Any]], Any]:
    return lambda event: answer


@dataclass
class Clock:
    """Seconds since the epoch, moved only by the test."""

    now: float

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class Harness:
    apis: dict[str, RestApi]
    lambdas: ScriptedLambda
    clock: Clock
    log: list[str]

    def request(self, method: str, path: str, *, api: str = QUERY_KEY_API, query: str = "",
                headers: tuple[tuple[str, str], ...] = (), body: bytes | dict[str, Any] = b"",
                host: str = "127.0.0.1:4571") -> Reply:
        data = json.dumps(body).encode() if isinstance(body, dict) else body
        sent = [("Host", host), ("User-Agent", "pytest"), *headers]
        if isinstance(body, dict):
            sent.append(("Content-Type", "application/json"))
        return self.apis[api].handle(Request(method, path, query, sent, data, SOURCE_IP))

    def customization(self, key: str | None, item: str = "1", **options: Any) -> Reply:
        return self.request("GET", f"/dev/customizations/{item}",
                            query=f"apiKey={key}" if key else "", **options)

    def key(self, consumer: str) -> str:
        return self.apis[QUERY_KEY_API].api_keys[consumer]


@pytest.fixture
def harness(dev: StackRun, policies: PlanPolicies, local: EmbeddedAws,
            tmp_path: Path) -> Harness:
    return serve(dev, policies, local, tmp_path)


def serve(run: StackRun, policies: PlanPolicies, aws: EmbeddedAws, root: Path) -> Harness:
    clock = Clock(time.time())
    log: list[str] = []
    lambdas = ScriptedLambda(run, policies, aws, root)
    apis = rest_apis(run, lambdas=lambdas, policies=policies, aws=aws, output=log.append,
                     clock=clock)
    return Harness({api.resource: api for api in apis}, lambdas, clock, log)


def document(reply: Reply) -> Any:
    return json.loads(reply.body)


def header(reply: Reply, name: str) -> str | None:
    return next((v for k, v in reply.headers if k.lower() == name.lower()), None)


def has_cors(reply: Reply) -> bool:
    return all(header(reply, name) == value for name, value in CORS.items())


# --- the plan's APIs ---------------------------------------------------------------------------

def test_every_stage_of_every_rest_api_of_the_plan_is_served(dev: StackRun,
                                                             harness: Harness) -> None:
    served = {(api.resource, api.stage, api.api_id, api.region)
              for api in harness.apis.values()}
    ids = {r.name: r.id for r in dev.of_type(rest_api.REST_API)}
    assert served == {(V1_API, "v1", ids[V1_API], REGION), (V2_API, "v2", ids[V2_API], REGION),
                      (QUERY_KEY_API, "dev", ids[QUERY_KEY_API], REGION),
                      (EVENT_API, "dev", ids[EVENT_API], REGION),
                      (JOBS_API, "dev", ids[JOBS_API], REGION),
                      (PRIVATE_API, "DemoStage", ids[PRIVATE_API], REGION),
                      (CONTAINER_API, "dev", ids[CONTAINER_API], REGION)}
    # The jobs API's AWS integration with SQS, the private API's resource policy and the
    # container API's VPC link are emulated: nothing to say about them.
    assert harness.apis[V1_API].notes == harness.apis[V2_API].notes == []
    assert harness.apis[JOBS_API].notes == []
    assert harness.apis[PRIVATE_API].notes == harness.apis[CONTAINER_API].notes == []
    assert harness.apis[QUERY_KEY_API].notes == [
        f"{QUERY_KEY_API}/dev: API key {name} has no value in the plan (API Gateway would "
        f"generate one); locally it is {local_key_value(name)}"
        for name in ("trial-partner", "wild-rydes-partner")]
    # The plan leaves the key values to API Gateway: local mode derives them from the key ids.
    assert harness.apis[QUERY_KEY_API].api_keys == {
        "trial-partner": local_key_value("trial-partner"),
        "wild-rydes-partner": local_key_value("wild-rydes-partner")}
    assert re.fullmatch(r"[0-9a-f]{40}", harness.key("trial-partner"))
    assert harness.apis[V1_API].api_keys == {}


def test_routes_match_the_resource_tree_and_anything_else_is_missing_a_token(
        harness: Harness) -> None:
    key = harness.key("trial-partner")
    found = harness.customization(key, "a%20b")
    assert found.status == 200
    event = harness.lambdas.events(BACKEND)[-1]
    assert (event["resource"], event["path"], event["pathParameters"]) == (
        "/customizations/{id}", "/customizations/a%20b", {"id": "a b"})
    for method, path in [("GET", "/dev/nowhere"), ("DELETE", "/dev/customizations"),
                         ("GET", "/prod/customizations/1"), ("GET", "/dev"), ("GET", "/")]:
        answer = harness.request(method, path, query=f"apiKey={key}")
        assert answer.status == 403, (method, path)
        assert document(answer) == {"message": "Missing Authentication Token"}
        assert header(answer, "x-amzn-ErrorType") == "MissingAuthenticationTokenException"
        assert has_cors(answer), "the API's DEFAULT_4XX carries CORS headers"
    # The API's own execute-api host is served (CloudFront sends it); another API's is not.
    assert harness.customization(key, host=f"{harness.apis[QUERY_KEY_API].domain_name}"
                                 ).status == 200
    assert harness.customization(key, host="0123456789.execute-api.eu-west-1.amazonaws.com"
                                 ).status == 403


def test_a_payload_over_10_mb_is_refused_before_anything_runs(harness: Harness) -> None:
    answer = harness.request("POST", "/dev/customizations", body=b"x" * (10 * 1024 * 1024 + 1),
                             query=f"apiKey={harness.key('trial-partner')}")
    assert (answer.status, document(answer)) == (413, {"message": "Request Too Long"})
    assert has_cors(answer)
    assert harness.lambdas.calls == []


def test_the_most_specific_resource_wins_and_greedy_paths_take_the_rest() -> None:
    root = _Resource("root", "", "/")
    items = _Resource("items", "items", "/items")
    item = _Resource("item", "{item}", "/items/{item}")
    items.children.append(item)
    by_id = _Resource("id", "{id}", "/{id}")
    proxy = _Resource("proxy", "{proxy+}", "/{proxy+}")
    root.children += [items, by_id, proxy]

    def matched(path: str) -> tuple[str, dict[str, str]] | None:
        found = _match(root, path.strip("/").split("/") if path.strip("/") else [])
        return (found[0].path, found[1]) if found else None

    assert matched("/") == ("/", {})
    assert matched("/items") == ("/items", {})
    assert matched("/items/7") == ("/items/{item}", {"item": "7"})
    assert matched("/x") == ("/{id}", {"id": "x"})
    assert matched("/items/7/more") == ("/{proxy+}", {"proxy": "items/7/more"})
    assert matched("/a/b%2Fc") == ("/{proxy+}", {"proxy": "a/b/c"})


# --- the Lambda authorizer ---------------------------------------------------------------------

def test_a_request_missing_the_identity_source_never_reaches_the_authorizer(
        harness: Harness) -> None:
    answer = harness.customization(None)
    assert answer.status == 401
    assert document(answer) == {"message": "Unauthorized"}
    assert header(answer, "x-amzn-ErrorType") == "UnauthorizedException"
    assert has_cors(answer)
    assert harness.lambdas.calls == []


def test_the_authorizer_gets_api_gateways_request_event(harness: Harness) -> None:
    key = harness.key("trial-partner")
    answer = harness.customization(key, "7", headers=(("X-Multi", "1"), ("X-Multi", "2")))
    assert answer.status == 200
    (call, _) = harness.lambdas.calls
    api = harness.apis[QUERY_KEY_API]
    assert call.function == AUTHORIZER
    # The plan's permission for the authorizer names this source ARN; LocalLambda checked it.
    assert call.source_arn == (f"arn:aws:execute-api:{REGION}:{ACCOUNT}:{api.api_id}/"
                               "authorizers/queryKeyApi-authorizer-188bb35")
    event = call.event
    assert rest_request_authorizer_problems(event) == []
    assert event["type"] == "REQUEST"
    assert event["methodArn"] == (f"arn:aws:execute-api:{REGION}:{ACCOUNT}:{api.api_id}/dev/"
                                  "GET/customizations/7")
    assert (event["resource"], event["path"], event["httpMethod"]) == (
        "/customizations/{id}", "/customizations/7", "GET")
    assert event["queryStringParameters"] == {"apiKey": key}
    assert event["headers"]["X-Multi"] == "2"
    assert event["multiValueHeaders"]["X-Multi"] == ["1", "2"]
    assert event["pathParameters"] == {"id": "7"}
    assert event["requestContext"]["identity"]["sourceIp"] == SOURCE_IP
    assert (event["requestContext"]["resourcePath"], event["requestContext"]["stage"]) == (
        "/customizations/{id}", "dev")
    assert "body" not in event
    assert "authorizer" not in event["requestContext"]


def test_one_key_is_authorized_once_while_cached_and_the_cached_policy_decides_each_method(
        harness: Harness) -> None:
    # This authorizer allows only the method it was asked about, which the cache then reuses.
    harness.lambdas.answers[AUTHORIZER] = authorizer_allowing("requested")
    key = harness.key("wild-rydes-partner")
    assert harness.customization(key, "1").status == 200
    assert harness.customization(key, "1").status == 200
    refused = harness.customization(key, "2")
    assert refused.status == 403
    assert document(refused) == {"message": "User is not authorized to access this resource"}
    assert header(refused, "x-amzn-ErrorType") == "AccessDeniedException"
    assert len(harness.lambdas.events(AUTHORIZER)) == 1
    # Another key is another cache entry; the first key's entry lives 300 s (the plan's TTL).
    assert harness.customization(harness.key("trial-partner"), "2").status == 200
    harness.clock.advance(301)
    assert harness.customization(key, "2").status == 200
    assert len(harness.lambdas.events(AUTHORIZER)) == 3


@pytest.mark.parametrize(("answer", "status", "message", "error_type"), [
    (Failure("Unauthorized"), 401, "Unauthorized", "UnauthorizedException"),
    (lambda event: {"principalId": "x", "policyDocument": {"Statement": [
        {"Effect": "Deny", "Action": "execute-api:*", "Resource": event["methodArn"]},
        {"Effect": "Allow", "Action": "execute-api:Invoke", "Resource": "*"}]}},
     403, "User is not authorized to access this resource with an explicit deny",
     "AccessDeniedException"),
    (Failure("the database is down"), 500, None, "AuthorizerConfigurationException"),
    (lambda event: {"principalId": "x"}, 500, None, "AuthorizerConfigurationException"),
    (authorizer_allowing("requested", context={"nested": {"no": "objects"}}), 500, None,
     "AuthorizerConfigurationException"),
])
def test_authorizer_refusals_and_failures_are_api_gateways_answers(
        harness: Harness, answer: Any, status: int, message: str | None,
        error_type: str) -> None:
    harness.lambdas.answers[AUTHORIZER] = answer if callable(answer) else constant(answer)
    reply = harness.customization(harness.key("trial-partner"))
    assert (reply.status, document(reply), header(reply, "x-amzn-ErrorType")) == (
        status, {"message": message}, error_type)
    assert has_cors(reply)
    assert harness.lambdas.events(BACKEND) == []


# --- API keys and usage plans ------------------------------------------------------------------

def test_the_key_comes_from_the_authorizer_and_must_be_in_a_plan_of_the_stage(
        harness: Harness) -> None:
    harness.lambdas.answers[AUTHORIZER] = authorizer_allowing(
        "GET/customizations/*", usageIdentifierKey="not-a-key-of-any-plan")
    refused = harness.customization(harness.key("trial-partner"))
    assert (refused.status, document(refused)) == (403, {"message": "Forbidden"})
    assert header(refused, "x-amzn-ErrorType") == "ForbiddenException"
    harness.lambdas.answers[AUTHORIZER] = authorizer_allowing("GET/customizations/*")
    # apiKeySource is AUTHORIZER: a key in x-api-key counts for nothing.
    assert harness.customization("x" * 40, headers=(
        ("x-api-key", harness.key("trial-partner")),)).status == 403
    harness.clock.advance(301)  # past the cached answer that named no key of a plan
    assert harness.customization(harness.key("trial-partner")).status == 200
    identity = harness.lambdas.events(BACKEND)[-1]["requestContext"]["identity"]
    assert (identity["apiKey"], identity["apiKeyId"]) == (harness.key("trial-partner"),
                                                          "trial-partner")


def test_each_tier_throttles_its_keys_past_the_burst_and_refills_at_its_rate(
        harness: Harness) -> None:
    free = harness.key("trial-partner")
    statuses = [harness.customization(free).status for _ in range(11)]
    assert statuses == [200] * 10 + [429]
    throttled = harness.customization(free)
    assert document(throttled) == {"message": "Too Many Requests"}
    assert header(throttled, "x-amzn-ErrorType") == "TooManyRequestsException"
    assert has_cors(throttled)
    harness.clock.advance(1.0)  # the free tier refills 5 requests a second
    assert [harness.customization(free).status for _ in range(6)] == [200] * 5 + [429]
    # Premium's POST /customizations has its own throttle (burst 40) beside the plan's.
    premium = harness.key("wild-rydes-partner")
    posts = [harness.request("POST", "/dev/customizations", query=f"apiKey={premium}",
                             body=GOOD).status for _ in range(41)]
    assert posts == [200] * 40 + [429]
    assert harness.customization(premium).status == 200


def test_a_key_past_its_quota_is_refused_until_the_next_period(harness: Harness) -> None:
    today = datetime.fromtimestamp(harness.clock.now, UTC).date()
    harness.clock.now = datetime(today.year, today.month, today.day, 12, tzinfo=UTC).timestamp()
    free = harness.key("trial-partner")  # 1,000 requests a day
    for _ in range(1000):
        harness.clock.advance(0.2)  # inside the tier's rate
        assert harness.customization(free).status == 200
    harness.clock.advance(0.2)
    refused = harness.customization(free)
    assert (refused.status, document(refused)) == (429, {"message": "Limit Exceeded"})
    assert header(refused, "x-amzn-ErrorType") == "LimitExceededException"
    assert harness.customization(harness.key("wild-rydes-partner")).status == 200
    harness.clock.advance(timedelta(hours=12).total_seconds())
    assert harness.customization(free).status == 200


def test_quota_offset_and_calendar_periods() -> None:
    clock = Clock(datetime(2026, 3, 4, 10, tzinfo=UTC).timestamp())  # a Wednesday
    plan = _UsagePlan("weekly", "weekly", None, _Quota(3, "WEEK", 1),
                      {("api", "dev"): {}}, frozenset({"k"}))
    plans = UsagePlans([plan], [rest_api.ApiKey("k", "k", "v" * 20, True, False)], clock)

    def outcome() -> str:
        try:
            plans.admit("v" * 20, "api", "dev", "/", "GET")
        except rest_api.GatewayError as error:
            return error.response_type
        return "passed"

    # The first week allows limit - offset requests; a week starts on Monday (UTC).
    assert [outcome() for _ in range(3)] == ["passed", "passed", "QUOTA_EXCEEDED"]
    clock.now = datetime(2026, 3, 8, 23, 59, tzinfo=UTC).timestamp()  # Sunday: same week
    assert outcome() == "QUOTA_EXCEEDED"
    clock.now = datetime(2026, 3, 9, 0, 0, tzinfo=UTC).timestamp()
    assert [outcome() for _ in range(4)] == ["passed"] * 3 + ["QUOTA_EXCEEDED"]
    with pytest.raises(rest_api.GatewayError, match="INVALID_API_KEY"):
        plans.admit("v" * 20, "api", "prod", "/", "GET")


# --- validation --------------------------------------------------------------------------------

@pytest.mark.parametrize("body", [{**GOOD, "horn": 2, "unexpected": True}, b"{not json",
                                  {"name": ""}])
def test_the_validator_refuses_a_bad_body_before_the_function_runs(
        harness: Harness, body: bytes | dict[str, Any]) -> None:
    answer = harness.request("POST", "/dev/customizations",
                             query=f"apiKey={harness.key('wild-rydes-partner')}", body=body,
                             headers=(("Content-Type", "application/json"),)
                             if isinstance(body, bytes) else ())
    assert (answer.status, document(answer)) == (400, {"message": "Invalid request body"})
    assert has_cors(answer)
    assert harness.lambdas.events(BACKEND) == []
    assert len(harness.lambdas.events(AUTHORIZER)) == 1


def test_a_valid_body_reaches_the_function_as_sent(harness: Harness) -> None:
    answer = harness.request("POST", "/dev/customizations",
                             query=f"apiKey={harness.key('wild-rydes-partner')}", body=GOOD)
    assert answer.status == 200
    event = harness.lambdas.events(BACKEND)[-1]
    assert json.loads(event["body"]) == GOOD
    assert event["isBase64Encoded"] is False


# --- CORS: preflights and gateway responses ----------------------------------------------------

@pytest.mark.parametrize("path", ["/dev/customizations", "/dev/customizations/42"])
def test_a_preflight_allows_the_listed_origin_only(harness: Harness, path: str) -> None:
    allowed = harness.request("OPTIONS", path, headers=(("Origin", ORIGIN),))
    assert allowed.status == 200
    assert has_cors(allowed)
    assert header(allowed, "Access-Control-Max-Age") == "600"
    other = harness.request("OPTIONS", path, headers=(("origin", "https://evil.example.com"),))
    assert other.status == 200
    assert header(other, "Access-Control-Allow-Origin") is None
    assert header(other, "Access-Control-Allow-Methods") == "GET,POST,OPTIONS"
    assert harness.lambdas.calls == []


def test_function_failures_are_502s_that_carry_the_cors_headers(harness: Harness) -> None:
    key = harness.key("trial-partner")
    for answer in (Failure("boom"), {"statusCode": 200, "body": {"not": "a string"}},
                   {"statusCode": "two hundred"}, ["not", "an", "object"]):
        harness.lambdas.answers[BACKEND] = constant(answer)
        reply = harness.customization(key)
        assert (reply.status, document(reply)) == (502, {"message": "Internal server error"})
        assert has_cors(reply)


# --- the proxy integration ---------------------------------------------------------------------

def test_the_proxy_event_is_payload_format_1_0(harness: Harness) -> None:
    key = harness.key("trial-partner")
    answer = harness.request("GET", "/dev/customizations/7", query=f"apiKey={key}&tag=a&tag=b",
                             headers=(("X-Multi", "1"), ("X-Multi", "2")))
    assert answer.status == 200
    (call,) = [c for c in harness.lambdas.calls if c.function == BACKEND]
    api = harness.apis[QUERY_KEY_API]
    # The plan's permission covers .../*/GET/customizations/*; LocalLambda checked this ARN.
    assert call.source_arn == (f"arn:aws:execute-api:{REGION}:{ACCOUNT}:{api.api_id}/dev/GET/"
                               "customizations/{id}")
    event = call.event
    assert rest_proxy_problems(event) == []
    assert set(event) == {"resource", "path", "httpMethod", "headers", "multiValueHeaders",
                          "queryStringParameters", "multiValueQueryStringParameters",
                          "pathParameters", "stageVariables", "requestContext", "body",
                          "isBase64Encoded"}
    assert (event["resource"], event["path"], event["httpMethod"]) == (
        "/customizations/{id}", "/customizations/7", "GET")
    assert event["headers"]["X-Multi"] == "2"
    assert event["multiValueHeaders"]["X-Multi"] == ["1", "2"]
    assert event["queryStringParameters"] == {"apiKey": key, "tag": "b"}
    assert event["multiValueQueryStringParameters"] == {"apiKey": [key], "tag": ["a", "b"]}
    assert (event["pathParameters"], event["stageVariables"]) == ({"id": "7"}, None)
    assert (event["body"], event["isBase64Encoded"]) == (None, False)
    context = event["requestContext"]
    assert {k: context[k] for k in ("accountId", "apiId", "domainName", "domainPrefix",
                                    "httpMethod", "path", "protocol", "resourcePath",
                                    "stage")} == {
        "accountId": ACCOUNT, "apiId": api.api_id,
        "domainName": f"{api.api_id}.execute-api.{REGION}.amazonaws.com",
        "domainPrefix": api.api_id, "httpMethod": "GET", "path": "/dev/customizations/7",
        "protocol": "HTTP/1.1", "resourcePath": "/customizations/{id}", "stage": "dev"}
    assert context["requestTimeEpoch"] == int(harness.clock.now * 1000)
    assert context["requestTime"] == datetime.fromtimestamp(harness.clock.now, UTC).strftime(
        "%d/%b/%Y:%H:%M:%S +0000")
    assert context["requestId"] == header(answer, "x-amzn-RequestId")
    assert context["resourceId"]
    assert context["extendedRequestId"]
    # Authorizer context values reach a REST integration as strings.
    authorizer = dict(context["authorizer"])
    assert isinstance(authorizer.pop("integrationLatency"), int)
    assert authorizer == {"principalId": "key-owner", "tier": "free", "calls": "1",
                          "trusted": "true"}
    assert context["identity"] == {
        "cognitoIdentityPoolId": None, "accountId": None, "cognitoIdentityId": None,
        "caller": None, "sourceIp": SOURCE_IP, "principalOrgId": None, "accessKey": None,
        "cognitoAuthenticationType": None, "cognitoAuthenticationProvider": None,
        "userArn": None, "userAgent": "pytest", "user": None, "apiKey": key,
        "apiKeyId": "trial-partner", "clientCert": None}


def test_the_proxy_answer_becomes_the_reply(harness: Harness) -> None:
    harness.lambdas.answers[BACKEND] = lambda event: {
        "statusCode": 201, "headers": {"X-One": "1", "X-Both": "single", "Flag": True},
        "multiValueHeaders": {"X-Both": ["a", "b"], "Set-Cookie": ["a=1", "b=2"]},
        "body": "created"}
    reply = harness.customization(harness.key("trial-partner"))
    assert (reply.status, reply.body) == (201, b"created")
    names = [(k, v) for k, v in reply.headers if k in ("X-One", "X-Both", "Flag", "Set-Cookie")]
    assert names == [("X-Both", "a"), ("X-Both", "b"), ("Set-Cookie", "a=1"),
                     ("Set-Cookie", "b=2"), ("X-One", "1"), ("Flag", "true")]
    assert header(reply, "Content-Type") == "application/json"
    assert header(reply, "X-Amzn-Trace-Id", ).startswith("Root=1-")  # type: ignore[union-attr]


def test_a_missing_invoke_permission_is_a_500_and_the_log_says_which(
        dev: StackRun, policies: PlanPolicies, local: EmbeddedAws, tmp_path: Path,
        caplog: pytest.LogCaptureFixture) -> None:
    backend = policies.function(BACKEND).arn
    without = dataclasses.replace(policies, resource_policies={
        arn: policy for arn, policy in policies.resource_policies.items() if arn != backend})
    harness = serve(dev, without, local, tmp_path)
    reply = harness.customization(harness.key("trial-partner"))
    assert (reply.status, document(reply)) == (500, {"message": "Internal server error"})
    assert harness.lambdas.events(BACKEND) == []
    assert "apigateway.amazonaws.com may not invoke" in caplog.text
    assert "no statement of the resource policy allows lambda:InvokeFunction" in caplog.text


def test_an_integration_that_outlives_its_timeout_is_a_504(
        dev: StackRun, policies: PlanPolicies, local: EmbeddedAws, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rest_api, "DEFAULT_INTEGRATION_TIMEOUT_MS", 200)
    harness = serve(dev, policies, local, tmp_path)
    release = threading.Event()
    harness.lambdas.answers[BACKEND] = lambda event: release.wait(30) and {"statusCode": 200}
    try:
        reply = harness.customization(harness.key("trial-partner"))
    finally:
        release.set()
    assert (reply.status, document(reply)) == (504, {"message": "Endpoint request timed out"})
    assert has_cors(reply)


# --- AWS_IAM methods ---------------------------------------------------------------------------

def signed(credentials: Credentials, path: str, host: str, *, query: str = ""
           ) -> tuple[tuple[str, str], ...]:
    request = AWSRequest(method="GET", url=f"https://{host}{path}" + (f"?{query}" if query
                                                                      else ""))
    SigV4Auth(BotoCredentials(credentials.access_key_id, credentials.secret_access_key,
                              credentials.session_token), "execute-api", REGION
              ).add_auth(request)
    return tuple((k, v) for k, v in request.headers.items() if k.lower() != "host")


def test_iam_methods_need_a_valid_signature_and_a_role_that_may_invoke(
        harness: Harness, local: EmbeddedAws, policies: PlanPolicies) -> None:
    api = harness.apis[V1_API]
    host = api.domain_name

    def hello(headers: tuple[tuple[str, str], ...], query: str = "") -> Reply:
        return harness.request("GET", "/v1/hello", api=V1_API, headers=headers, host=host,
                               query=query)

    unsigned = hello(())
    assert (unsigned.status, document(unsigned)) == (
        403, {"message": "Missing Authentication Token"})
    # The embedded AWS's administrator may call any API of its account.
    admin = hello(signed(local.credentials, "/v1/hello", host))
    assert admin.status == 200, admin.body
    identity = harness.lambdas.events(HELLO_V1)[-1]["requestContext"]["identity"]
    assert identity["accessKey"] == local.credentials.access_key_id
    assert identity["userArn"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/blueprints-local/" \
                                  "local-mode"
    assert identity["accountId"] == ACCOUNT
    # The router Lambda@Edge signs with its own role, which the plan allows to invoke.
    router = local.credentials_for_role(policies.function("headerVersioning-router-function")
                                        .role_arn)
    assert hello(signed(router, "/v1/hello", host)).status == 200
    # Any other role of the plan is refused, with IAM's message.
    backend_role = policies.function(BACKEND).role_arn
    other = hello(signed(local.credentials_for_role(backend_role), "/v1/hello", host))
    assert other.status == 403
    assert document(other) == {"Message": (
        f"User: arn:aws:sts::{ACCOUNT}:assumed-role/{backend_role.rsplit('/', 1)[1]}/local-mode"
        " is not authorized to perform: execute-api:Invoke on resource: "
        f"arn:aws:execute-api:{REGION}:{ACCOUNT}:{api.api_id}/v1/GET/hello because no "
        "identity-based policy allows the execute-api:Invoke action")}
    assert header(other, "x-amzn-ErrorType") == "AccessDeniedException"
    tampered = hello(signed(router, "/v1/hello", host), query="extra=1")
    assert tampered.status == 403
    assert header(tampered, "x-amzn-ErrorType") == "InvalidSignatureException"
    assert document(tampered)["message"].startswith("The request signature we calculated")
    stranger = Credentials("AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG", "token")
    unknown = hello(signed(stranger, "/v1/hello", host))
    assert (unknown.status, header(unknown, "x-amzn-ErrorType")) == (
        403, "UnrecognizedClientException")
    assert len(harness.lambdas.events(HELLO_V1)) == 2


# --- an AWS integration with SQS: the jobs API -------------------------------------------------

JOB_ID = "0F8FAD5B-D9CB-469F-A165-70867728950E"
JOB = {"inputKey": "uploads/2026/sales.csv", "analysis": "kmeans",
       "parameters": {"nClusters": 3, "features": ["price", "units"]}}


def signed_json(credentials: Credentials, method: str, path: str, host: str,
                body: dict[str, Any]) -> tuple[tuple[tuple[str, str], ...], bytes]:
    """Headers and body of a JSON request signed for execute-api, as the console's SDK sends."""
    data = json.dumps(body).encode()
    request = AWSRequest(method=method, url=f"https://{host}{path}", data=data,
                         headers={"Content-Type": "application/json"})
    SigV4Auth(BotoCredentials(credentials.access_key_id, credentials.secret_access_key,
                              credentials.session_token), "execute-api", REGION
              ).add_auth(request)
    return tuple((k, v) for k, v in request.headers.items() if k.lower() != "host"), data


@dataclass
class Jobs:
    """The dev stack's jobs API (PUT /jobs/{jobId} straight to SQS) and its queue."""

    harness: Harness
    local: EmbeddedAws
    queue_url: str

    @property
    def api(self) -> RestApi:
        return self.harness.apis[JOBS_API]

    def submit(self, job_id: str, body: dict[str, Any]) -> Reply:
        path = f"/dev/jobs/{job_id}"
        headers, data = signed_json(self.local.credentials, "PUT", path,
                                    self.api.domain_name, body)
        return self.harness.request("PUT", path, api=JOBS_API, headers=headers, body=data,
                                    host=self.api.domain_name)

    def messages(self) -> list[dict[str, Any]]:
        """Every message the queue holds, taken off it."""
        sqs = self.local.client("sqs")
        found: list[dict[str, Any]] = []
        while batch := sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10,
                                           MessageAttributeNames=["All"]).get("Messages"):
            for message in batch:
                sqs.delete_message(QueueUrl=self.queue_url,
                                   ReceiptHandle=message["ReceiptHandle"])
            found += batch
        return found


def jobs_for(dev: StackRun, policies: PlanPolicies, local: EmbeddedAws, root: Path) -> Jobs:
    name = str(dev.one("aws:sqs/queue:Queue", JOBS_QUEUE).state["name"])
    jobs = Jobs(serve(dev, policies, local, root), local,
                local.client("sqs").get_queue_url(QueueName=name)["QueueUrl"])
    jobs.messages()  # what an earlier test left
    return jobs


@pytest.fixture
def jobs(dev: StackRun, policies: PlanPolicies, local: EmbeddedAws, tmp_path: Path) -> Jobs:
    return jobs_for(dev, policies, local, tmp_path)


def sender_role(dev: StackRun) -> str:
    return str(dev.one("aws:iam/role:Role", JOBS_SENDER).state["arn"])


def test_a_submitted_job_reaches_the_queue_as_the_send_template_renders_it(
        jobs: Jobs) -> None:
    reply = jobs.submit(JOB_ID, JOB)
    assert reply.status == 202, reply.body
    # The 202 integration response's template, with the method request's path parameter.
    assert document(reply) == {"jobId": JOB_ID.lower(), "status": "QUEUED"}
    assert header(reply, "Content-Type") == "application/json"
    (message,) = jobs.messages()
    submitted_at = int(jobs.harness.clock.now * 1000)
    # The request template's form body, url-decoded by SQS: the id lower-cased, the body's
    # fields as JSON, the time API Gateway received the request.
    assert message["Body"] == (
        f'{{"jobId":"{JOB_ID.lower()}","inputKey":"uploads/2026/sales.csv",'
        '"analysis":"kmeans","parameters":{"nClusters":3,"features":["price","units"]},'
        f'"submittedAt":{submitted_at}}}')
    assert json.loads(message["Body"]) == {"jobId": JOB_ID.lower(), **JOB,
                                          "submittedAt": submitted_at}
    (line,) = jobs.harness.log
    assert (json.loads(line)["status"], json.loads(line)["integrationStatus"]) == ("202", "200")


def test_the_request_validator_refuses_a_bad_job_before_anything_is_sent(jobs: Jobs) -> None:
    for bad in ({"inputKey": "elsewhere/x.csv", "analysis": "kmeans"},
                {"inputKey": "uploads/x.csv", "analysis": "astrology"},
                {"analysis": "pca"}):
        reply = jobs.submit(JOB_ID, bad)
        assert (reply.status, document(reply)) == (400, {"message": "Invalid request body"})
    assert jobs.messages() == []


def without(policy: Policy, action: str) -> Policy:
    """``policy`` without the statements that name ``action``."""

    def actions(statement: Any) -> list[str]:
        named = statement.get("Action", [])
        return [named] if isinstance(named, str) else list(named)

    return Policy(policy.name, tuple(s for s in policy.statements if action not in actions(s)))


@pytest.mark.parametrize(("missing", "refusal"), [
    ("sqs:SendMessage", "no statement allows sqs:SendMessage on "
                        f"arn:aws:sqs:{REGION}:{ACCOUNT}:{JOBS_QUEUE}"),
    ("kms:GenerateDataKey", "no statement allows kms:GenerateDataKey on "
                            f"arn:aws:kms:{REGION}:{ACCOUNT}:key/"),
])
def test_a_sender_role_that_may_not_send_gets_the_503_and_nothing_is_queued(
        dev: StackRun, policies: PlanPolicies, local: EmbeddedAws, tmp_path: Path,
        caplog: pytest.LogCaptureFixture, missing: str, refusal: str) -> None:
    role = sender_role(dev)
    stripped = dataclasses.replace(policies, roles={
        **policies.roles, role: tuple(without(p, missing) for p in policies.roles[role])})
    jobs = jobs_for(dev, stripped, local, tmp_path)
    with caplog.at_level(logging.INFO, "tools.local.rest_api"):
        reply = jobs.submit(JOB_ID, JOB)
    # SQS answers 403 AccessDenied (400 KMS.AccessDeniedException for the key); the
    # integration response for [45]\d{2} turns either into the API's 503.
    assert (reply.status, document(reply)) == (
        503, {"message": "The job could not be queued; try again"})
    assert refusal in caplog.text
    assert jobs.messages() == []
    (line,) = jobs.harness.log
    assert json.loads(line)["integrationStatus"] == (
        "403" if missing == "sqs:SendMessage" else "400")


# --- access logs -------------------------------------------------------------------------------

def test_each_request_writes_an_access_log_line_in_the_stage_format(harness: Harness) -> None:
    ok = harness.customization(harness.key("trial-partner"))
    missing = harness.request("GET", "/dev/nowhere")
    first, second = (json.loads(line) for line in harness.log)
    assert first["requestId"] == header(ok, "x-amzn-RequestId")
    assert (first["status"], first["httpMethod"], first["resourcePath"], first["ip"],
            first["protocol"], first["errorMessage"], first["integrationStatus"]) == (
        "200", "GET", "/customizations/{id}", SOURCE_IP, "HTTP/1.1", "-", "200")
    assert (second["status"], second["resourcePath"], second["errorMessage"]) == (
        str(missing.status), "-", "Missing Authentication Token")
    assert second["wafError"] == "-"


# --- the real functions ------------------------------------------------------------------------

def test_the_real_authorizer_and_backend_store_and_read_a_customization(
        dev: StackRun, policies: PlanPolicies, local: EmbeddedAws, tmp_path: Path) -> None:
    lambdas = LocalLambda(dev, policies=policies, aws=local, root=tmp_path,
                          only=lambda spec: spec.resource in (AUTHORIZER, BACKEND),
                          output=lambda line: None)
    try:
        assert lambdas.start() == []
        (api,) = [api for api in rest_apis(dev, lambdas=lambdas, policies=policies, aws=local,
                                           output=lambda line: None)
                  if api.resource == QUERY_KEY_API]
        key = api.api_keys["wild-rydes-partner"]

        def call(method: str, path: str, body: bytes = b"") -> Reply:
            return api.handle(Request(method, path, f"apiKey={key}", [
                ("Host", "127.0.0.1"), ("Content-Type", "application/json"),
                ("Origin", ORIGIN)], body, SOURCE_IP))

        created = call("POST", "/dev/customizations", json.dumps(GOOD).encode())
        assert created.status == 201, created.body
        item = document(created)["id"]
        assert header(created, "Location") == f"/dev/customizations/{item}"
        read = call("GET", f"/dev/customizations/{item}")
        assert read.status == 200, read.body
        assert document(read)["name"] == GOOD["name"]
        assert header(read, "Access-Control-Allow-Origin") == ORIGIN
    finally:
        lambdas.stop()


# --- what the dev stack does not use: a variant plan ------------------------------------------

VARIANT_FUNCTION = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:token-check"
DRAFT_4 = "http://json-schema.org/draft-04/schema#"
READER = "reader@example.com"


def variant_program(user_pool_arn: str) -> None:
    opts = pulumi.ResourceOptions(provider=aws.Provider("variant-provider", region=REGION))
    api = aws.apigateway.RestApi("shop", opts=opts, binary_media_types=["image/png"])
    things = aws.apigateway.Resource("things", rest_api=api.id, parent_id=api.root_resource_id,
                                     path_part="things", opts=opts)
    proxy = aws.apigateway.Resource("proxy", rest_api=api.id, parent_id=api.root_resource_id,
                                    path_part="{proxy+}", opts=opts)
    validator = aws.apigateway.RequestValidator(
        "all", rest_api=api.id, name="all", validate_request_body=True,
        validate_request_parameters=True, opts=opts)
    aws.apigateway.Model("base", rest_api=api.id, name="Base", content_type="application/json",
                         schema=json.dumps({"$schema": DRAFT_4, "type": "object",
                                            "required": ["id"],
                                            "properties": {"id": {"type": "integer"}}}),
                         opts=opts)
    aws.apigateway.Model("order", rest_api=api.id, name="Order",
                         content_type="application/json", opts=opts,
                         schema=api.id.apply(lambda api_id: json.dumps({
                             "$schema": DRAFT_4, "allOf": [{"$ref": "https://apigateway."
                                                            f"amazonaws.com/restapis/{api_id}/"
                                                            "models/Base"}]})))
    token = aws.apigateway.Authorizer(
        "token", rest_api=api.id, type="TOKEN", authorizer_result_ttl_in_seconds=0,
        authorizer_uri=f"arn:aws:apigateway:{REGION}:lambda:path/2015-03-31/functions/"
                       f"{VARIANT_FUNCTION}/invocations",
        identity_source="method.request.header.Authorization",
        identity_validation_expression="Bearer [a-z]+", opts=opts)

    def mock(name: str, resource: Any, method: str, **options: Any) -> Any:
        return aws.apigateway.Method(name, rest_api=api.id, resource_id=resource.id,
                                     http_method=method, opts=opts, **options)

    listing = mock("list", things, "GET", authorization="NONE",
                   request_validator_id=validator.id,
                   request_parameters={"method.request.querystring.code": True,
                                       "method.request.header.X-Caller": True})
    ordering = mock("order", things, "POST", authorization="NONE",
                    request_validator_id=validator.id,
                    request_models={"application/json": "Order"})
    anything = mock("anything", proxy, "ANY", authorization="CUSTOM", authorizer_id=token.id)
    pool = aws.apigateway.Authorizer("pool", rest_api=api.id, type="COGNITO_USER_POOLS",
                                     provider_arns=[user_pool_arn], opts=opts,
                                     identity_source="method.request.header.Authorization")
    members = aws.apigateway.Resource("members", rest_api=api.id, path_part="members",
                                      parent_id=api.root_resource_id, opts=opts)
    member = mock("member", members, "GET", authorization="COGNITO_USER_POOLS",
                  authorizer_id=pool.id)
    for method, name in ((listing, "list"), (ordering, "order"), (anything, "anything"),
                         (member, "member")):
        aws.apigateway.Integration(
            f"{name}-integration", rest_api=api.id, resource_id=method.resource_id,
            http_method=method.http_method, type="MOCK", opts=opts,
            request_templates={"application/json": '{"statusCode": $input.params("code")}'
                               if name == "list" else '{"statusCode": 200}'})
        for status, pattern in (("200", None), ("404", "4\\d\\d")):
            aws.apigateway.MethodResponse(
                f"{name}-{status}", rest_api=api.id, resource_id=method.resource_id,
                http_method=method.http_method, status_code=status, opts=opts,
                response_parameters={"method.response.header.X-Caller": False,
                                     "method.response.header.X-Static": False})
            aws.apigateway.IntegrationResponse(
                f"{name}-{status}-response", rest_api=api.id, resource_id=method.resource_id,
                http_method=method.http_method, status_code=status, selection_pattern=pattern,
                opts=opts, response_parameters={
                    "method.response.header.X-Caller": "method.request.header.X-Caller",
                    "method.response.header.X-Static": "'fixed'"},
                response_templates={"application/json": (
                    '{"path": "$context.resourcePath",'
                    ' "who": "$util.escapeJavaScript($input.params(\'X-Caller\'))",'
                    ' "team": "$stageVariables.team", "principal": '
                    '"$!context.authorizer.principalId", '
                    '"user": "$!context.authorizer.claims.email", '
                    '"groups": "$!context.authorizer.claims[\'cognito:groups\']"}'
                    if status == "200" else '#set($context.responseOverride.status = 410)gone')})
    aws.apigateway.Response("unauthorized", rest_api_id=api.id, response_type="UNAUTHORIZED",
                            status_code="401", opts=opts,
                            response_parameters={
                                "gatewayresponse.header.X-Team": "stageVariables.team",
                                "gatewayresponse.header.WWW-Authenticate": "'Bearer'"},
                            response_templates={"application/json": (
                                '{"error": $context.error.messageString, '
                                '"request": "$context.requestId", "team": "$stageVariables.team"}'
                            )})
    aws.apigateway.Response("default-4xx", rest_api_id=api.id, response_type="DEFAULT_4XX",
                            status_code="418", opts=opts)
    deployment = aws.apigateway.Deployment("deployment", rest_api=api.id, opts=opts)
    live = aws.apigateway.Stage("live", rest_api=api.id, stage_name="live",
                                deployment=deployment.id, variables={"team": "blue"}, opts=opts)
    aws.apigateway.MethodSettings("live-things", rest_api=api.id, stage_name=live.stage_name,
                                  method_path="things/GET", opts=opts,
                                  settings={"throttling_rate_limit": 1,
                                            "throttling_burst_limit": 5})
    aws.apigateway.Stage("cached", rest_api=api.id, stage_name="cached",
                         deployment=deployment.id, cache_cluster_enabled=True,
                         cache_cluster_size="0.5", opts=opts)


class TokenChecker:
    """The variant's TOKEN authorizer: "Bearer good" is allowed, any other token denied."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []

    def spec(self, function: str) -> Any:
        raise NotImplementedError

    def invoke(self, function: str, event: Any, *, caller: Principal | None,
               source_arn: str | None = None, source_account: str | None = None) -> Invocation:
        assert function == VARIANT_FUNCTION
        self.events.append(event)
        effect = "Allow" if event["authorizationToken"] == "Bearer good" else "Deny"
        return Invocation({"principalId": "checker", "policyDocument": {"Statement": [
            {"Effect": effect, "Action": "execute-api:Invoke", "Resource": "*"}]}},
            False, "invocation", 0.01)


@pytest.fixture(scope="module")
def variant(dev: StackRun) -> StackRun:
    pool = dev.one("aws:cognito/userPool:UserPool", "documentWatermark-users").state["arn"]
    return run_program(functools.partial(variant_program, pool), config=StackConfig(
        {"aws:region": REGION, "blueprints:account": json.dumps({"id": ACCOUNT})}, ()))


@pytest.fixture
def shop(variant: StackRun, policies: PlanPolicies, local: EmbeddedAws
         ) -> tuple[dict[str, RestApi], TokenChecker, Clock]:
    checker, clock = TokenChecker(), Clock(time.time())
    apis = rest_apis(variant, lambdas=checker, policies=policies, aws=local,
                     output=lambda line: None, clock=clock)
    return {api.stage: api for api in apis}, checker, clock


def test_a_variant_plan_says_what_it_does_not_emulate(
        shop: tuple[dict[str, RestApi], TokenChecker, Clock]) -> None:
    apis, _, _ = shop
    assert sorted(apis) == ["cached", "live"]
    assert apis["live"].notes == []
    assert apis["cached"].notes == ["shop/cached: the stage cache"]


def test_mock_integrations_pick_their_response_and_map_parameters(
        shop: tuple[dict[str, RestApi], TokenChecker, Clock]) -> None:
    live = shop[0]["live"]

    def things(query: str, *headers: tuple[str, str]) -> Reply:
        return live.handle(Request("GET", "/live/things", query, [("Host", "h"), *headers],
                                   b"", SOURCE_IP))

    ok = things("code=200", ("X-Caller", 'say "hi"/now'))
    assert ok.status == 200
    assert document(ok) == {"path": "/things", "who": 'say "hi"/now', "team": "blue",
                            "principal": "", "user": "", "groups": ""}
    assert (header(ok, "X-Caller"), header(ok, "X-Static")) == ('say "hi"/now', "fixed")
    gone = things("code=404", ("X-Caller", "me"))
    assert (gone.status, gone.body, header(gone, "X-Static")) == (410, b"gone", "fixed")
    missing = things("", ("X-Caller", "me"))
    # DEFAULT_4XX sets 418 for every 4XX type without a status of its own.
    assert (missing.status, document(missing)) == (
        418, {"message": "Missing required request parameters: [code]"})
    assert header(missing, "x-amzn-ErrorType") == "BadRequestException"
    both = things("")
    assert document(both) == {"message": "Missing required request parameters: [code, X-Caller]"}
    # The stage throttles GET /things alone: a burst of 5 (four spent above), 1 a second.
    assert things("code=200", ("X-Caller", "me")).status == 200
    throttled = things("code=200", ("X-Caller", "me"))
    assert (throttled.status, header(throttled, "x-amzn-ErrorType")) == (
        418, "TooManyRequestsException")
    shop[2].advance(1.0)
    assert things("code=200", ("X-Caller", "me")).status == 200


def test_models_refer_to_other_models(
        shop: tuple[dict[str, RestApi], TokenChecker, Clock]) -> None:
    live = shop[0]["live"]

    def order(body: dict[str, Any]) -> int:
        return live.handle(Request("POST", "/live/things", "", [
            ("Host", "h"), ("Content-Type", "application/json; charset=utf-8")],
            json.dumps(body).encode(), SOURCE_IP)).status

    assert order({"id": 7}) == 200
    assert order({"id": "seven"}) == 418
    assert order({}) == 418


def test_token_authorizers_check_the_header_against_their_expression_first(
        shop: tuple[dict[str, RestApi], TokenChecker, Clock]) -> None:
    live, checker = shop[0]["live"], shop[1]

    def anything(method: str, token: str | None) -> Reply:
        headers = [("Host", "h")] + ([("Authorization", token)] if token else [])
        return live.handle(Request(method, "/live/a/b", "", headers, b"", SOURCE_IP))

    for token in (None, "Bearer NOT-LOWER", "Basic abc"):
        refused = anything("GET", token)
        assert refused.status == 401
        body = document(refused)
        assert (body["error"], body["team"]) == ("Unauthorized", "blue")
        assert body["request"] == header(refused, "x-amzn-RequestId")
        assert (header(refused, "X-Team"), header(refused, "WWW-Authenticate")) == (
            "blue", "Bearer")
    assert checker.events == []
    allowed = anything("DELETE", "Bearer good")
    assert allowed.status == 200
    assert document(allowed)["principal"] == "checker"
    assert document(allowed)["path"] == "/{proxy+}"
    denied = anything("PATCH", "Bearer bad")
    assert (denied.status, document(denied)) == (418, {
        "Message": "User is not authorized to access this resource with an explicit deny"})
    # The TTL is 0: every request asks the authorizer.
    assert [event["authorizationToken"] for event in checker.events] == [
        "Bearer good", "Bearer bad"]
    assert checker.events[0] == {"type": "TOKEN", "authorizationToken": "Bearer good",
                                 "methodArn": f"arn:aws:execute-api:{REGION}:{ACCOUNT}:"
                                              f"{live.api_id}/live/DELETE/a/b"}


def test_cognito_authorizers_take_an_identity_token_of_the_local_user_pool(
        dev: StackRun, local: EmbeddedAws,
        shop: tuple[dict[str, RestApi], TokenChecker, Clock]) -> None:
    live = shop[0]["live"]
    pool = str(dev.one("aws:cognito/userPool:UserPool", "documentWatermark-users").id)
    client = str(dev.one("aws:cognito/userPoolClient:UserPoolClient",
                         "documentWatermark-web-client").id)
    cognito = local.client("cognito-idp")
    cognito.admin_create_user(UserPoolId=pool, Username=READER, MessageAction="SUPPRESS")
    cognito.admin_set_user_password(UserPoolId=pool, Username=READER,
                                    Password="Correct-Horse-9", Permanent=True)
    for group in ("readers", "staff"):
        cognito.create_group(UserPoolId=pool, GroupName=group)
        cognito.admin_add_user_to_group(UserPoolId=pool, Username=READER, GroupName=group)
    # moto checks the password in the admin flow; the plan's client asks for SRP, which moto
    # does not verify. The tokens are the same.
    tokens = cognito.admin_initiate_auth(
        UserPoolId=pool, ClientId=client, AuthFlow="ADMIN_USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": READER, "PASSWORD": "Correct-Horse-9"})[
        "AuthenticationResult"]
    # The test's clock stopped when the fixture was made; the token was issued since (a later
    # second on a loaded machine), and a token issued in the future is refused.
    clock = shop[2]
    clock.advance(max(0.0, time.time() - clock.now))

    def members(token: str | None) -> Reply:
        headers = [("Host", "h")] + ([("Authorization", token)] if token else [])
        return live.handle(Request("GET", "/live/members", "", headers, b"", SOURCE_IP))

    allowed = members(tokens["IdToken"])
    assert allowed.status == 200, allowed.body
    assert document(allowed)["user"] == READER
    # A list claim reaches the integration as one comma-separated string.
    assert sorted(document(allowed)["groups"].split(",")) == ["readers", "staff"]
    # Without authorization scopes on the method, an access token is not what it takes.
    for token in (tokens["AccessToken"], tokens["IdToken"][:-4] + "AAAA", None):
        refused = members(token)
        assert refused.status == 401
        assert document(refused)["error"] == "Unauthorized"


# --- AWS integrations the dev stack does not use: a relay plan ---------------------------------

def trust(service: str) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole",
        "Condition": {"StringEquals": {"aws:SourceAccount": ACCOUNT}}}]})


def relay_program() -> None:
    opts = pulumi.ResourceOptions(provider=aws.Provider("relay-provider", region=REGION))
    inbox = aws.sqs.Queue("inbox", opts=opts)
    gone = aws.sqs.Queue("gone", opts=opts)  # never created in the embedded AWS
    sends = pulumi.Output.all(inbox.arn, gone.arn).apply(lambda arns: json.dumps({
        "Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": arns}]}))
    sender = aws.iam.Role("sender", assume_role_policy=trust("apigateway.amazonaws.com"),
                          opts=opts)
    aws.iam.RolePolicy("sender", role=sender.id, policy=sends, opts=opts)
    # May send, but trusts Lambda only: API Gateway cannot assume it.
    stranger = aws.iam.Role("stranger", assume_role_policy=trust("lambda.amazonaws.com"),
                            opts=opts)
    aws.iam.RolePolicy("stranger", role=stranger.id, policy=sends, opts=opts)
    api = aws.apigateway.RestApi("relay", opts=opts)

    def path_to(queue: aws.sqs.Queue) -> pulumi.Output[str]:
        return pulumi.Output.concat(f"arn:aws:apigateway:{REGION}:sqs:path/{ACCOUNT}/",
                                    queue.name)

    form = {"integration.request.header.Content-Type": "'application/x-www-form-urlencoded'"}
    send = {"application/json": "Action=SendMessage&MessageBody=$util.urlEncode($input.body)"}
    routes: list[tuple[str, dict[str, Any], list[tuple[str, str | None, dict[str, str],
                                                       str | None]]]] = [
        # Action from the URI, everything else from the query string: a GET to SQS.
        ("forward", {
            "uri": f"arn:aws:apigateway:{REGION}:sqs:action/SendMessage",
            "integration_http_method": "GET", "credentials": sender.arn,
            "request_parameters": {
                "integration.request.querystring.QueueUrl": inbox.url.apply(
                    lambda url: f"'{url}'"),
                "integration.request.querystring.MessageBody": "method.request.body",
                "integration.request.querystring.MessageAttribute.1.Name": "'source'",
                "integration.request.querystring.MessageAttribute.1.Value.DataType":
                    "'String'",
                "integration.request.querystring.MessageAttribute.1.Value.StringValue":
                    "method.request.header.X-Source"}},
         [("200", None, {
             "method.response.header.X-Message-Id":
                 "integration.response.body.SendMessageResponse.SendMessageResult.MessageId",
             "method.response.header.X-Sqs-Request": "integration.response.header."
                                                     "x-amzn-RequestId"}, None)]),
        ("gone", {"uri": path_to(gone), "credentials": sender.arn,
                  "request_parameters": form, "request_templates": send},
         [("200", None, {}, '{"queued": true}'),
          ("502", r"4\d{2}", {}, '{"code": "$input.path(\'$.Error.Code\')"}')]),
        ("unmatched", {"uri": path_to(gone), "credentials": sender.arn,
                       "request_parameters": form, "request_templates": send},
         [("200", r"2\d{2}", {}, None)]),
        ("stranger", {"uri": path_to(inbox), "credentials": stranger.arn,
                      "request_parameters": form, "request_templates": send},
         [("200", None, {}, None)]),
        ("slow", {"uri": path_to(inbox), "credentials": sender.arn, "timeout_milliseconds": 50,
                  "request_parameters": form, "request_templates": send},
         [("200", None, {}, None)]),
        ("table", {"uri": f"arn:aws:apigateway:{REGION}:dynamodb:action/PutItem",
                   "credentials": sender.arn},
         [("200", None, {}, None)]),
    ]
    for name, integration, responses in routes:
        resource = aws.apigateway.Resource(name, rest_api=api.id, path_part=name,
                                           parent_id=api.root_resource_id, opts=opts)
        method = aws.apigateway.Method(name, rest_api=api.id, resource_id=resource.id,
                                       http_method="POST", authorization="NONE", opts=opts)
        aws.apigateway.Integration(name, rest_api=api.id, resource_id=resource.id,
                                   http_method=method.http_method, type="AWS", opts=opts,
                                   **{"integration_http_method": "POST", **integration})
        for status, pattern, parameters, template in responses:
            aws.apigateway.MethodResponse(
                f"{name}-{status}", rest_api=api.id, resource_id=resource.id,
                http_method="POST", status_code=status, opts=opts,
                response_parameters={target: False for target in parameters})
            aws.apigateway.IntegrationResponse(
                f"{name}-{status}", rest_api=api.id, resource_id=resource.id,
                http_method="POST", status_code=status, selection_pattern=pattern,
                response_parameters=parameters, opts=opts,
                response_templates={"application/json": template} if template else None)
    deployment = aws.apigateway.Deployment("relay", rest_api=api.id, opts=opts)
    aws.apigateway.Stage("relay", rest_api=api.id, stage_name="live", deployment=deployment.id,
                         opts=opts)


@dataclass
class Relay:
    api: RestApi
    run: StackRun
    local: EmbeddedAws

    def post(self, route: str, body: dict[str, Any], *headers: tuple[str, str]) -> Reply:
        return self.api.handle(Request("POST", f"/live/{route}", "", [
            ("Host", "h"), ("Content-Type", "application/json"), *headers],
            json.dumps(body).encode(), SOURCE_IP))

    def queue_name(self, name: str) -> str:
        return str(self.run.one("aws:sqs/queue:Queue", name).state["name"])


@pytest.fixture(scope="module")
def relay_plan() -> StackRun:
    return run_program(relay_program, config=StackConfig(
        {"aws:region": REGION, "blueprints:account": json.dumps({"id": ACCOUNT})}, ()))


@pytest.fixture
def relay(relay_plan: StackRun, local: EmbeddedAws) -> Iterator[Relay]:
    (api,) = rest_apis(relay_plan, lambdas=TokenChecker(), aws=local, output=lambda line: None,
                       policies=PlanPolicies.from_run(relay_plan))
    relay = Relay(api, relay_plan, local)
    # The plan's inbox exists in the embedded AWS for these tests; "gone" never does.
    url = local.client("sqs").create_queue(QueueName=relay.queue_name("inbox"))["QueueUrl"]
    yield relay
    local.client("sqs").delete_queue(QueueUrl=url)


def test_the_relay_plan_notes_the_aws_integration_local_mode_does_not_emulate(
        relay: Relay) -> None:
    assert relay.api.notes == [
        "relay: POST /table's AWS integration with dynamodb: local mode emulates AWS "
        "integrations with SQS only (answered 500)"]
    answer = relay.post("table", {"id": 1})
    assert (answer.status, document(answer)) == (500, {"message": "Internal server error"})


def test_query_string_parameters_make_the_message_and_responses_map_the_backend_answer(
        relay: Relay) -> None:
    reply = relay.post("forward", {"note": "hi"}, ("X-Source", "relay-test"))
    assert reply.status == 200, reply.body
    answer = document(reply)  # no template: SQS's answer as API Gateway received it
    result = answer["SendMessageResponse"]["SendMessageResult"]
    assert header(reply, "X-Message-Id") == result["MessageId"]
    assert header(reply, "X-Sqs-Request") == answer["SendMessageResponse"][
        "ResponseMetadata"]["RequestId"]
    sqs = relay.local.client("sqs")
    url = sqs.get_queue_url(QueueName=relay.queue_name("inbox"))["QueueUrl"]
    (message,) = sqs.receive_message(QueueUrl=url, MessageAttributeNames=["All"])["Messages"]
    assert (message["MessageId"], message["Body"]) == (result["MessageId"], '{"note": "hi"}')
    assert message["MessageAttributes"] == {"source": {"DataType": "String",
                                                       "StringValue": "relay-test"}}
    assert result["MD5OfMessageBody"] == message["MD5OfBody"]


def test_a_queue_the_embedded_aws_lacks_is_sqs_error_for_the_integration_responses(
        relay: Relay, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.ERROR, "tools.local.rest_api"):
        reply = relay.post("gone", {"id": 1})
    # SQS answers 400 AWS.SimpleQueueService.NonExistentQueue; "4\d{2}" picks the 502.
    assert (reply.status, document(reply)) == (
        502, {"code": "AWS.SimpleQueueService.NonExistentQueue"})
    assert f"the embedded AWS has no queue arn:aws:sqs:{REGION}:{ACCOUNT}:" \
           f"{relay.queue_name('gone')}" in caplog.text
    # No integration response for the backend's status, and no default one: a 500.
    unmatched = relay.post("unmatched", {"id": 1})
    assert (unmatched.status, document(unmatched)) == (
        500, {"message": "Internal server error"})


def test_a_role_that_does_not_trust_api_gateway_is_a_500_and_sends_nothing(
        relay: Relay, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.ERROR, "tools.local.rest_api"):
        reply = relay.post("stranger", {"id": 1})
    assert (reply.status, document(reply)) == (500, {"message": "Internal server error"})
    assert "API Gateway does not have permission to assume the provided role" in caplog.text
    sqs = relay.local.client("sqs")
    url = sqs.get_queue_url(QueueName=relay.queue_name("inbox"))["QueueUrl"]
    assert "Messages" not in sqs.receive_message(QueueUrl=url)


def test_sqs_that_outlives_the_integration_timeout_is_a_504(
        relay: Relay, monkeypatch: pytest.MonkeyPatch) -> None:
    release = threading.Event()

    def slow(self: RestApi, *args: Any) -> Any:
        release.wait(30)  # then answers nothing anyone waits for
        return None

    monkeypatch.setattr(RestApi, "_send_to_sqs", slow)
    try:
        reply = relay.post("slow", {"id": 1})
    finally:
        release.set()
    assert (reply.status, document(reply)) == (504, {"message": "Endpoint request timed out"})
    assert header(reply, "x-amzn-ErrorType") == "InternalServerErrorException"
