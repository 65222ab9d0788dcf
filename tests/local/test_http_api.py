"""HTTP APIs in local mode: the dev stack's two APIs (IAM-signed entity matching, Cognito JWT
document downloads) and a variant plan with what the dev stack does not declare yet (route
precedence, named stages, CORS, route throttling, payload 1.0, integration timeouts), answered
with the embedded AWS and the plan's own policies.

Most tests invoke a recording stand-in for local mode's Lambda: the real ``LocalLambda`` minus
its workers, so that the plan's invoke permissions are still checked while the test sees the
exact event. One test runs the entity matcher's real handler behind the API, over HTTP."""

from __future__ import annotations

import base64
import json
import logging
import re
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pulumi
import pulumi_aws as aws
import pytest
from botocore.auth import SigV4Auth  # type: ignore[import-untyped]
from botocore.awsrequest import AWSRequest  # type: ignore[import-untyped]
from botocore.credentials import Credentials as BotoCredentials  # type: ignore[import-untyped]

from tools.local.aws import Credentials, EmbeddedAws
from tools.local.functions import Invocation
from tools.local.gateway import LocalServer, Request
from tools.local.http_api import HttpApi, http_apis
from tools.local.iam import Check, Decision, PlanPolicies, Policy, Principal, resource_policy_key
from tools.local.iam import Request as IamRequest
from tools.local.lambdas import LocalLambda
from tools.mock_runtime import StackConfig, StackRun, run_program

ACCOUNT = "111122223333"
REGION = "eu-west-1"
HOST = "127.0.0.1:8080"
ENTITY_API = "entityResolution-api"
DOCUMENT_API = "documentWatermark-api"
MATCHER = "entityResolution-matcher-function"
DOCUMENTS = "documentWatermark-api-function"
PASSWORD = "Corr3ct-horse-battery!"
READER = "reader@example.com"
API_GATEWAY = Principal.service_principal("apigateway.amazonaws.com")
OK = {"statusCode": 200, "headers": {"content-type": "application/json"}, "body": '{"ok":true}'}


# --- fixtures ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Call:
    function: str
    event: dict[str, Any]
    caller: Principal | None
    source_arn: str | None
    source_account: str | None


class RecordingLambda(LocalLambda):
    """The plan's functions and their invoke permissions, without workers: each invocation
    that passes the permission check is recorded and answered with ``answer(event)``."""

    def __init__(self, run: StackRun, policies: PlanPolicies, aws: EmbeddedAws,
                 root: Path) -> None:
        super().__init__(run, policies=policies, aws=aws, root=root)
        self.calls: list[Call] = []
        self.answer: Callable[[dict[str, Any]], Invocation] = lambda event: answered(OK)

    def invoke(self, function: str, event: Any, *, caller: Principal | None,
               source_arn: str | None = None, source_account: str | None = None) -> Invocation:
        self.authorize(self.spec(function), caller, source_arn, source_account)
        self.calls.append(Call(function, event, caller, source_arn, source_account))
        return self.answer(event)


def answered(payload: Any, *, error: bool = False) -> Invocation:
    return Invocation(payload, error, "invocation-1", 0.01)


@dataclass
class Clock:
    """The wall clock shifted by ``offset``; a throttle clock that moves only when told."""

    offset: float = 0.0
    monotonic: float = 1000.0

    def wall(self) -> float:
        return time.time() + self.offset


@dataclass
class Harness:
    apis: dict[str, HttpApi]
    lambdas: Any
    clock: Clock
    lines: list[str] = field(default_factory=list)

    def __getitem__(self, resource: str) -> HttpApi:
        return self.apis[resource]

    def log(self) -> dict[str, Any]:
        return dict(json.loads(self.lines[-1]))


def serve(run: StackRun, lambdas: Any, policies: Any, aws: EmbeddedAws) -> Harness:
    clock = Clock()
    lines: list[str] = []
    apis = http_apis(run, lambdas=lambdas, policies=policies, aws=aws, output=lines.append,
                     clock=clock.wall, throttle_clock=lambda: clock.monotonic)
    return Harness({api.resource: api for api in apis}, lambdas, clock, lines)


@pytest.fixture
def recording(dev: StackRun, policies: PlanPolicies, local: EmbeddedAws,
              tmp_path: Path) -> RecordingLambda:
    return RecordingLambda(dev, policies, local, tmp_path)


@pytest.fixture
def harness(dev: StackRun, policies: PlanPolicies, local: EmbeddedAws,
            recording: RecordingLambda) -> Harness:
    return serve(dev, recording, policies, local)


# --- requests ----------------------------------------------------------------------------------

def request(method: str, path: str, query: str = "", headers: tuple[tuple[str, str], ...] = (),
            body: bytes = b"") -> Request:
    return Request(method, path, query, [("Host", HOST), ("User-Agent", "tests/1.0"), *headers],
                   body, "127.0.0.1")


def signed(method: str, path: str, credentials: Credentials, *, query: str = "",
           body: bytes = b"", headers: tuple[tuple[str, str], ...] = (),
           service: str = "execute-api", secret: str | None = None,
           host: str = HOST) -> Request:
    """A request signed with SigV4 as an AWS SDK signs it."""
    url = f"http://{host}{path}" + (f"?{query}" if query else "")
    unsigned = AWSRequest(method=method, url=url, data=body,
                          headers={"User-Agent": "tests/1.0", **dict(headers)})
    SigV4Auth(BotoCredentials(credentials.access_key_id,
                              secret or credentials.secret_access_key,
                              credentials.session_token), service, REGION).add_auth(unsigned)
    return Request(method, path, query, [("Host", host), *unsigned.headers.items()], body,
                   "127.0.0.1")


def body_of(reply: Any) -> Any:
    return json.loads(reply.body)


def header(reply: Any, name: str) -> list[str]:
    return [value for key, value in reply.headers if key.lower() == name.lower()]


def api_id(run: StackRun, resource: str) -> str:
    return str(run.one("aws:apigatewayv2/api:Api", resource).state["id"])


def function_arn(run: StackRun, resource: str) -> str:
    return str(run.one("aws:lambda/function:Function", resource).state["arn"])


# --- Cognito -----------------------------------------------------------------------------------

def pool_and_client(dev: StackRun) -> tuple[str, str]:
    pool = dev.one("aws:cognito/userPool:UserPool", "documentWatermark-users")
    client = dev.one("aws:cognito/userPoolClient:UserPoolClient", "documentWatermark-web-client")
    return str(pool.id), str(client.id)


def sign_in(local: EmbeddedAws, pool: str, client: str) -> dict[str, str]:
    """Tokens of the local user pool. The plan's client allows SRP only; moto checks no
    client's auth flows and verifies no SRP proof, so the test signs in with the admin flow,
    where moto does check the password. The tokens are the same."""
    cognito = local.client("cognito-idp")
    try:
        cognito.admin_create_user(UserPoolId=pool, Username=READER, MessageAction="SUPPRESS")
        cognito.admin_set_user_password(UserPoolId=pool, Username=READER, Password=PASSWORD,
                                        Permanent=True)
    except cognito.exceptions.UsernameExistsException:
        pass
    return dict(cognito.admin_initiate_auth(
        UserPoolId=pool, ClientId=client, AuthFlow="ADMIN_USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": READER, "PASSWORD": PASSWORD})["AuthenticationResult"])


@pytest.fixture(scope="module")
def tokens(dev: StackRun, local: EmbeddedAws) -> dict[str, str]:
    return sign_in(local, *pool_and_client(dev))


# --- the dev stack's APIs, from the plan ---------------------------------------------------------

def test_each_http_api_of_the_plan_is_served_with_its_stage_routes_and_authorizer(
        dev: StackRun, harness: Harness) -> None:
    assert sorted(harness.apis) == ["containerApi-http-api", DOCUMENT_API, ENTITY_API,
                                    "microserviceCache-api"]
    entity = harness[ENTITY_API]
    assert (entity.api_id, entity.region, entity.account, entity.stage) == (
        api_id(dev, ENTITY_API), REGION, ACCOUNT, "$default")
    assert sorted((r.key, r.authorization) for r in entity.plan.routes) == [
        ("GET /match", "AWS_IAM"), ("POST /match", "AWS_IAM")]
    assert {r.integration.function for r in entity.plan.routes if r.integration} == {
        function_arn(dev, MATCHER)}
    documents = harness[DOCUMENT_API]
    (route,) = documents.plan.routes
    pool, client = pool_and_client(dev)
    assert (route.key, route.authorization) == ("GET /documents/{key+}", "JWT")
    assert route.authorizer is not None
    assert route.authorizer.issuer == f"https://cognito-idp.{REGION}.amazonaws.com/{pool}"
    assert route.authorizer.audiences == (client,)
    assert entity.notes == documents.notes == ()
    served = entity.served_at("http://127.0.0.1:9000")
    assert (served.kind, served.resource, served.api_id, served.stage) == (
        "HTTP", ENTITY_API, entity.api_id, "$default")


def test_a_request_signed_by_the_local_administrator_reaches_the_function_as_aws_builds_it(
        dev: StackRun, local: EmbeddedAws, harness: Harness,
        recording: RecordingLambda) -> None:
    credentials = local.credentials
    reply = harness[ENTITY_API].handle(signed(
        "GET", "/match", credentials, query="name=Acme%20Corp&k=3&tag=a&tag=b",
        headers=(("X-Team", "search"), ("Cookie", "theme=dark; lang=en"))))
    assert (reply.status, body_of(reply)) == (200, {"ok": True})
    (call,) = recording.calls
    entity = api_id(dev, ENTITY_API)
    assert call.function == function_arn(dev, MATCHER)
    assert call.caller == API_GATEWAY
    assert call.source_arn == f"arn:aws:execute-api:{REGION}:{ACCOUNT}:{entity}/$default/GET/match"
    assert call.source_account == ACCOUNT
    event = call.event
    assert (event["version"], event["routeKey"], event["rawPath"]) == ("2.0", "GET /match",
                                                                       "/match")
    assert event["rawQueryString"] == "name=Acme%20Corp&k=3&tag=a&tag=b"
    assert event["queryStringParameters"] == {"name": "Acme Corp", "k": "3", "tag": "a,b"}
    assert event["cookies"] == ["theme=dark", "lang=en"]
    headers = event["headers"]
    assert "cookie" not in headers
    assert all(name == name.lower() for name in headers)
    assert headers["x-team"] == "search"
    assert headers["host"] == HOST
    assert headers["authorization"].startswith("AWS4-HMAC-SHA256 Credential=")
    assert headers["x-forwarded-for"] == "127.0.0.1"
    assert event["isBase64Encoded"] is False
    assert not {"body", "pathParameters", "stageVariables"} & set(event)
    context = event["requestContext"]
    assert {key: context[key] for key in ("accountId", "apiId", "domainName", "domainPrefix",
                                          "routeKey", "stage")} == {
        "accountId": ACCOUNT, "apiId": entity, "domainName": "127.0.0.1",
        "domainPrefix": "127", "routeKey": "GET /match", "stage": "$default"}
    assert context["http"] == {"method": "GET", "path": "/match", "protocol": "HTTP/1.1",
                               "sourceIp": "127.0.0.1", "userAgent": "tests/1.0"}
    assert context["requestId"] == header(reply, "apigw-requestid")[0]
    assert re.fullmatch(r"\d\d/[A-Z][a-z]{2}/\d{4}:\d\d:\d\d:\d\d \+0000", context["time"])
    assert abs(context["timeEpoch"] / 1000 - time.time()) < 600
    iam = context["authorizer"]["iam"]
    assert iam["accessKey"] == credentials.access_key_id
    assert iam["accountId"] == ACCOUNT
    assert iam["userArn"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/blueprints-local/local-mode"
    assert iam["callerId"] == iam["userId"]
    assert iam["userId"].endswith(":local-mode")
    assert (iam["cognitoIdentity"], iam["principalOrgId"]) == (None, None)


def test_a_text_body_is_passed_as_text_and_any_other_base64_encoded(
        local: EmbeddedAws, harness: Harness, recording: RecordingLambda) -> None:
    document = json.dumps({"names": ["Acme"], "k": 2}).encode()
    for content_type, body, expected, encoded in (
            ("application/json", document, document.decode(), False),
            ("text/csv; charset=utf-8", b"a,b\n", "a,b\n", False),
            ("application/octet-stream", b"\x00\xff", base64.b64encode(b"\x00\xff").decode(),
             True),
            ("application/x-www-form-urlencoded", b"a=1", base64.b64encode(b"a=1").decode(),
             True)):
        reply = harness[ENTITY_API].handle(signed(
            "POST", "/match", local.credentials, body=body,
            headers=(("Content-Type", content_type),)))
        assert reply.status == 200
        event = recording.calls[-1].event
        assert (event["routeKey"], event["body"], event["isBase64Encoded"]) == (
            "POST /match", expected, encoded)


def test_iam_routes_refuse_unsigned_badly_signed_and_unknown_requests(
        local: EmbeddedAws, harness: Harness, recording: RecordingLambda) -> None:
    entity = harness[ENTITY_API]
    credentials = local.credentials
    unknown = Credentials("ASIAUNKNOWNKEY000000", "secret", "token")
    refusals = {
        "unsigned": entity.handle(request("GET", "/match", "name=Acme")),
        "wrong secret": entity.handle(signed("GET", "/match", credentials, query="name=Acme",
                                             secret="not-the-secret")),
        "unknown key": entity.handle(signed("GET", "/match", unknown, query="name=Acme")),
        "other service": entity.handle(signed("GET", "/match", credentials, query="name=Acme",
                                              service="lambda")),
    }
    assert {why: (r.status, body_of(r)) for why, r in refusals.items()} == {
        "unsigned": (403, {"message": "Forbidden"}),
        "wrong secret": (403, {"message": "The request signature we calculated does not match "
                                          "the signature you provided. Check your AWS Secret "
                                          "Access Key and signing method."}),
        "unknown key": (403, {"message": "The security token included in the request is "
                                         "invalid."}),
        "other service": (403, {"message": "Credential should be scoped to a valid region and "
                                           "service 'execute-api', not eu-west-1/lambda."}),
    }
    harness.clock.offset = 3600
    late = entity.handle(signed("GET", "/match", credentials, query="name=Acme"))
    assert late.status == 403
    assert body_of(late)["message"].startswith("Signature expired")
    assert recording.calls == []


def test_a_role_of_the_plan_without_execute_api_invoke_is_denied_with_awss_message(
        dev: StackRun, local: EmbeddedAws, harness: Harness, recording: RecordingLambda,
        caplog: pytest.LogCaptureFixture) -> None:
    role = recording.spec(MATCHER).role_arn
    credentials = local.credentials_for_role(role)
    with caplog.at_level(logging.WARNING, logger="tools.local.http_api"):
        reply = harness[ENTITY_API].handle(signed("GET", "/match", credentials,
                                                  query="name=Acme"))
    entity = api_id(dev, ENTITY_API)
    assert (reply.status, body_of(reply)) == (403, {"Message": (
        f"User: arn:aws:sts::{ACCOUNT}:assumed-role/{role.rsplit('/', 1)[1]}/local-mode is not "
        f"authorized to perform: execute-api:Invoke on resource: "
        f"arn:aws:execute-api:{REGION}:{ACCOUNT}:{entity}/$default/GET/match")})
    assert "execute-api:Invoke" in caplog.text
    assert recording.calls == []


class AllowingPolicies:
    """Policies that allow every check and remember it."""

    def __init__(self) -> None:
        self.checks: list[tuple[Principal, Check]] = []

    def authorize(self, principal: Principal, check: Check) -> Decision:
        self.checks.append((principal, check))
        return Decision(IamRequest(principal, check.action, check.resource), "allowed")


def test_other_roles_are_decided_by_the_plans_policies_for_the_request_path(
        dev: StackRun, local: EmbeddedAws, recording: RecordingLambda) -> None:
    decider = AllowingPolicies()
    harness = serve(dev, recording, decider, local)
    role = f"arn:aws:iam::{ACCOUNT}:role/partner-search"
    credentials = local.credentials_for_role(role)
    reply = harness[ENTITY_API].handle(signed("POST", "/match", credentials, body=b"{}",
                                              headers=(("Content-Type", "application/json"),)))
    assert reply.status == 200
    ((principal, check),) = decider.checks
    entity = api_id(dev, ENTITY_API)
    assert (principal.arn, principal.role_arn) == (
        f"arn:aws:sts::{ACCOUNT}:assumed-role/partner-search/local-mode", role)
    assert (check.action, check.resource) == (
        "execute-api:Invoke",
        f"arn:aws:execute-api:{REGION}:{ACCOUNT}:{entity}/$default/POST/match")
    iam = recording.calls[-1].event["requestContext"]["authorizer"]["iam"]
    assert iam["userArn"] == principal.arn


def test_a_jwt_route_takes_an_id_or_access_token_of_the_local_user_pool(
        dev: StackRun, harness: Harness, recording: RecordingLambda,
        tokens: dict[str, str]) -> None:
    documents = harness[DOCUMENT_API]
    reply = documents.handle(request("GET", "/documents/reports/Q3%20plan.pdf", headers=(
        ("Authorization", f"Bearer {tokens['IdToken']}"),)))
    assert reply.status == 200
    call = recording.calls[-1]
    assert call.function == function_arn(dev, DOCUMENTS)
    assert call.source_arn == (f"arn:aws:execute-api:{REGION}:{ACCOUNT}:"
                               f"{api_id(dev, DOCUMENT_API)}/$default/GET/documents/reports/"
                               "Q3 plan.pdf")
    event = call.event
    assert event["routeKey"] == "GET /documents/{key+}"
    assert event["rawPath"] == "/documents/reports/Q3 plan.pdf"
    assert event["pathParameters"] == {"key": "reports/Q3 plan.pdf"}
    jwt = event["requestContext"]["authorizer"]["jwt"]
    claims = jwt["claims"]
    assert (claims["email"], claims["token_use"]) == (READER, "id")
    assert claims["exp"].isdigit()
    assert all(isinstance(value, str) for value in claims.values())
    assert jwt["scopes"] is None
    bare = documents.handle(request("GET", "/documents/a.pdf", headers=(
        ("Authorization", tokens["AccessToken"]),)))
    assert bare.status == 200
    access = recording.calls[-1].event["requestContext"]["authorizer"]["jwt"]["claims"]
    assert (access["token_use"], access["client_id"]) == ("access", pool_and_client(dev)[1])


def test_jwt_routes_refuse_expired_foreign_garbled_and_missing_tokens(
        dev: StackRun, local: EmbeddedAws, harness: Harness, recording: RecordingLambda,
        tokens: dict[str, str]) -> None:
    documents = harness[DOCUMENT_API]
    pool, _ = pool_and_client(dev)
    other_client = local.client("cognito-idp").create_user_pool_client(
        UserPoolId=pool, ClientName="another-app")["UserPoolClient"]["ClientId"]
    foreign = sign_in(local, pool, other_client)["IdToken"]

    def refused(token: str | None) -> tuple[int, Any, list[str]]:
        headers = (("Authorization", token),) if token is not None else ()
        reply = documents.handle(request("GET", "/documents/a.pdf", headers=headers))
        return reply.status, body_of(reply), header(reply, "www-authenticate")

    def challenge(description: str) -> list[str]:
        return [f'Bearer scope="" error="invalid_token" error_description="{description}"']

    assert refused(f"Bearer {foreign}") == (
        401, {"message": "Unauthorized"},
        challenge("the token does not have a valid audience"))
    assert refused("Bearer not.a.token")[:2] == (401, {"message": "Unauthorized"})
    assert refused("Bearer abc") == (
        401, {"message": "Unauthorized"},
        challenge("the token is not a signed JWT (three segments)"))
    assert refused(None) == (401, {"message": "Unauthorized"}, [])
    assert harness.log()["authorizerError"] == "the identity source is missing"
    harness.clock.offset = 2 * 3600
    assert refused(f"Bearer {tokens['IdToken']}") == (
        401, {"message": "Unauthorized"}, challenge("the token has expired"))
    assert recording.calls == []


def test_the_access_log_line_is_the_stages_format_filled_for_the_request(
        harness: Harness, tokens: dict[str, str]) -> None:
    reply = harness[DOCUMENT_API].handle(request("GET", "/documents/a.pdf", headers=(
        ("Authorization", tokens["IdToken"]),)))
    claims = json.loads(base64.urlsafe_b64decode(tokens["IdToken"].split(".")[1] + "=="))
    line = harness.log()
    assert line["requestId"] == line["extendedRequestId"] == header(reply, "apigw-requestid")[0]
    assert (line["status"], line["httpMethod"], line["routeKey"], line["path"]) == (
        "200", "GET", "GET /documents/{key+}", "/documents/a.pdf")
    assert (line["ip"], line["userAgent"], line["protocol"]) == ("127.0.0.1", "tests/1.0",
                                                                 "HTTP/1.1")
    assert line["subject"] == claims["sub"]
    assert (line["integrationStatus"], line["responseLength"]) == ("200", str(len(reply.body)))
    assert (line["authorizerError"], line["errorMessage"], line["integrationError"]) == (
        "-", "-", "-")
    assert re.fullmatch(r"\d\d/[A-Z][a-z]{2}/\d{4}:\d\d:\d\d:\d\d \+0000", line["requestTime"])


def test_past_the_stages_burst_requests_are_throttled_until_tokens_refill(
        dev: StackRun, harness: Harness) -> None:
    settings = dev.one("aws:apigatewayv2/stage:Stage",
                       "documentWatermark-stage").inputs["defaultRouteSettings"]
    burst, rate = settings["throttlingBurstLimit"], settings["throttlingRateLimit"]
    documents = harness[DOCUMENT_API]

    def status() -> int:
        return documents.handle(request("GET", "/documents/a.pdf")).status

    assert [status() for _ in range(burst)] == [401] * burst
    throttled = documents.handle(request("GET", "/documents/a.pdf"))
    assert (throttled.status, body_of(throttled)) == (429, {"message": "Too Many Requests"})
    harness.clock.monotonic += 1.0
    refilled = int(rate)
    assert [status() for _ in range(refilled + 1)] == [401] * refilled + [429]
    assert harness[ENTITY_API].handle(request("GET", "/match")).status == 403


def test_a_route_the_plans_invoke_permission_does_not_cover_answers_500(
        dev: StackRun, local: EmbeddedAws, policies: PlanPolicies, tmp_path: Path,
        caplog: pytest.LogCaptureFixture) -> None:
    matcher = function_arn(dev, MATCHER)
    key = resource_policy_key(matcher)
    permission = policies.resource_policies[key]
    get_only = Policy(permission.name, tuple(
        statement for statement in permission.statements
        if statement.get("Sid") != "entityResolution-post-match-permission"))
    assert len(get_only.statements) == len(permission.statements) - 1
    narrowed = replace(policies, resource_policies={**policies.resource_policies, key: get_only})
    lambdas = RecordingLambda(dev, narrowed, local, tmp_path)
    harness = serve(dev, lambdas, narrowed, local)
    entity = harness[ENTITY_API]
    assert entity.handle(signed("GET", "/match", local.credentials, query="name=a")).status == 200
    with caplog.at_level(logging.ERROR, logger="tools.local.http_api"):
        refused = entity.handle(signed("POST", "/match", local.credentials, body=b"{}",
                                       headers=(("Content-Type", "application/json"),)))
    assert (refused.status, body_of(refused)) == (500, {"message": "Internal Server Error"})
    assert "API Gateway may not invoke" in caplog.text
    assert "lambda:InvokeFunction" in caplog.text
    assert harness.log()["integrationError"].startswith("The IAM role configured on the "
                                                        "integration or API Gateway")
    assert [call.event["routeKey"] for call in lambdas.calls] == ["GET /match"]


@pytest.mark.parametrize(("answer", "status", "headers", "body"), [
    (answered({"message": "hi"}), 200, [("Content-Type", "application/json")],
     b'{"message": "hi"}'),
    (answered("Hello from Lambda!"), 200, [("Content-Type", "application/json")],
     b"Hello from Lambda!"),
    (answered({"statusCode": 201, "headers": {"content-type": "text/plain"},
               "cookies": ["a=1; Secure", "b=2"], "body": "made"}), 201,
     [("content-type", "text/plain"), ("Set-Cookie", "a=1; Secure"), ("Set-Cookie", "b=2")],
     b"made"),
    (answered({"statusCode": 200, "isBase64Encoded": True,
               "body": base64.b64encode(b"%PDF-1.7").decode()}), 200, [], b"%PDF-1.7"),
])
def test_payload_2_0_answers_are_read_as_api_gateway_reads_them(
        local: EmbeddedAws, harness: Harness, recording: RecordingLambda, answer: Invocation,
        status: int, headers: list[tuple[str, str]], body: bytes) -> None:
    recording.answer = lambda event: answer
    reply = harness[ENTITY_API].handle(signed("GET", "/match", local.credentials,
                                              query="name=a"))
    assert (reply.status, reply.headers[:-1], reply.body) == (status, headers, body)


@pytest.mark.parametrize(("answer", "error"), [
    (answered({"errorMessage": "index exploded", "errorType": "RuntimeError"}, error=True),
     "index exploded"),
    (answered({"statusCode": "200"}), "The Lambda function returned a malformed response: "
                                      "statusCode '200' is not an HTTP status"),
    (answered({"statusCode": 200, "body": {"ok": True}}),
     "The Lambda function returned a malformed response: body must be a string"),
    (answered({"statusCode": 200, "headers": {"x-count": 3}}),
     "The Lambda function returned a malformed response: headers must be an object of "
     "strings"),
])
def test_a_function_error_or_a_malformed_answer_is_a_500(
        local: EmbeddedAws, harness: Harness, recording: RecordingLambda, answer: Invocation,
        error: str) -> None:
    recording.answer = lambda event: answer
    reply = harness[ENTITY_API].handle(signed("GET", "/match", local.credentials,
                                              query="name=a"))
    assert (reply.status, body_of(reply)) == (500, {"message": "Internal Server Error"})
    assert harness.log()["integrationError"] == error


def test_a_body_over_10_mb_is_refused_before_anything_else(harness: Harness,
                                                          recording: RecordingLambda) -> None:
    reply = harness[ENTITY_API].handle(request("POST", "/match",
                                               body=b"x" * (10 * 1024 * 1024 + 1)))
    assert (reply.status, body_of(reply)) == (413, {"message": "Request Entity Too Large"})
    assert recording.calls == []


def test_served_over_http_a_signed_request_is_answered(
        local: EmbeddedAws, harness: Harness, recording: RecordingLambda) -> None:
    server = LocalServer("entity API", harness[ENTITY_API].handle).start()
    try:
        host = f"127.0.0.1:{server.port}"
        prepared = signed("GET", "/match", local.credentials, query="name=Acme%20Corp",
                          host=host)
        with urllib.request.urlopen(urllib.request.Request(  # noqa: S310
                f"{server.url}/match?name=Acme%20Corp",
                headers={k: v for k, v in prepared.headers if k != "Host"})) as answer:
            assert (answer.status, json.load(answer)) == (200, {"ok": True})
            assert answer.headers["apigw-requestid"]
        with pytest.raises(urllib.error.HTTPError) as unsigned:
            urllib.request.urlopen(f"{server.url}/match?name=Acme")  # noqa: S310
        assert unsigned.value.code == 403
    finally:
        server.stop()
    assert recording.calls[-1].event["queryStringParameters"] == {"name": "Acme Corp"}


def test_the_entity_matchers_real_handler_answers_behind_the_api(
        dev: StackRun, local: EmbeddedAws, policies: PlanPolicies,
        tmp_path: Path) -> None:
    lambdas = LocalLambda(dev, policies=policies, aws=local, root=tmp_path,
                          only=lambda spec: spec.resource == MATCHER, output=lambda line: None)
    try:
        assert lambdas.start() == []
        harness = serve(dev, lambdas, policies, local)
        reply = harness[ENTITY_API].handle(signed("GET", "/match", local.credentials,
                                                  query="k=3"))
    finally:
        lambdas.stop()
    answer = body_of(reply)
    assert (reply.status, answer["statusCode"]) == (400, 400)
    assert "name" in answer["message"]
    assert harness.log()["integrationStatus"] == "400"  # $context.integration.status


# --- what the dev stack does not declare yet --------------------------------------------------

FUNCTION = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:pets"
PETS_ROUTES = {
    "GET /pets/dog/1": "main", "GET /pets/dog/{id}": "main", "ANY /pets/dog/{id}": "main",
    "GET /pets/{proxy+}": "main", "ANY /{proxy+}": "main", "$default": "main",
    "GET /legacy/{name}": "legacy", "GET /slow": "slow", "GET /upstream": "upstream",
    "GET /members": "main",
}
ACCESS_LOG = ("$context.requestId|$context.routeKey|$context.status|$context.stage|"
              "$context.integrationErrorMessage|$context.unknownVariable")


def variant_program() -> None:
    opts = pulumi.ResourceOptions(provider=aws.Provider("provider", region=REGION))
    api = aws.apigatewayv2.Api("pets", protocol_type="HTTP", opts=opts,
                               cors_configuration=aws.apigatewayv2.ApiCorsConfigurationArgs(
                                   allow_origins=["https://app.example.com"],
                                   allow_methods=["GET", "POST"],
                                   allow_headers=["authorization"],
                                   expose_headers=["x-request-id"], max_age=300,
                                   allow_credentials=True))
    integrations = {
        "main": aws.apigatewayv2.Integration(
            "main", api_id=api.id, integration_type="AWS_PROXY", integration_uri=FUNCTION,
            payload_format_version="2.0", opts=opts),
        "legacy": aws.apigatewayv2.Integration(
            "legacy", api_id=api.id, integration_type="AWS_PROXY", integration_uri=FUNCTION,
            payload_format_version="1.0", opts=opts),
        "slow": aws.apigatewayv2.Integration(
            "slow", api_id=api.id, integration_type="AWS_PROXY", integration_uri=FUNCTION,
            payload_format_version="2.0", timeout_milliseconds=50, opts=opts),
        "upstream": aws.apigatewayv2.Integration(
            "upstream", api_id=api.id, integration_type="HTTP_PROXY",
            integration_method="GET", integration_uri="https://example.com/pets", opts=opts),
    }
    members = aws.apigatewayv2.Authorizer(
        "members", api_id=api.id, authorizer_type="JWT", opts=opts,
        identity_sources=["$request.header.Authorization"],
        jwt_configuration=aws.apigatewayv2.AuthorizerJwtConfigurationArgs(
            issuer="https://login.example.com", audiences=["pets-app"]))
    for index, (key, target) in enumerate(PETS_ROUTES.items()):
        jwt = key == "GET /members"
        aws.apigatewayv2.Route(
            f"route-{index}", api_id=api.id, route_key=key, opts=opts,
            target=pulumi.Output.concat("integrations/", integrations[target].id),
            authorization_type="JWT" if jwt else "NONE",
            authorizer_id=members.id if jwt else None)
    aws.apigatewayv2.Stage(
        "default", api_id=api.id, name="$default", opts=opts,
        stage_variables={"color": "blue"},
        route_settings=[aws.apigatewayv2.StageRouteSettingArgs(
            route_key="GET /pets/dog/1", throttling_burst_limit=1, throttling_rate_limit=1)],
        access_log_settings=aws.apigatewayv2.StageAccessLogSettingsArgs(
            destination_arn=f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:pets", format=ACCESS_LOG))
    aws.apigatewayv2.Stage("beta", api_id=api.id, name="beta", opts=opts,
                           stage_variables={"color": "green"})
    domain = aws.apigatewayv2.DomainName(
        "pets-domain", domain_name="pets.example.com", opts=opts,
        domain_name_configuration=aws.apigatewayv2.DomainNameDomainNameConfigurationArgs(
            certificate_arn=f"arn:aws:acm:{REGION}:{ACCOUNT}:certificate/pets",
            endpoint_type="REGIONAL", security_policy="TLS_1_2"))
    aws.apigatewayv2.ApiMapping("pets-mapping", api_id=api.id, domain_name=domain.domain_name,
                                stage="$default", opts=opts)
    quiet = aws.apigatewayv2.Api("quiet", protocol_type="HTTP", opts=opts)
    aws.apigatewayv2.Route("quiet-route", api_id=quiet.id, route_key="GET /only", opts=opts)
    aws.apigatewayv2.Api("sockets", protocol_type="WEBSOCKET",
                         route_selection_expression="$request.body.action", opts=opts)


@pytest.fixture(scope="module")
def variant() -> StackRun:
    return run_program(variant_program, config=StackConfig({"aws:region": REGION}, ()))


class AnsweringLambda:
    """A function that answers every event with ``answer(event)``; no permissions."""

    def __init__(self) -> None:
        self.calls: list[Call] = []
        self.answer: Callable[[dict[str, Any]], Invocation] = lambda event: answered(OK)

    def invoke(self, function: str, event: Any, *, caller: Principal | None,
               source_arn: str | None = None, source_account: str | None = None) -> Invocation:
        self.calls.append(Call(function, event, caller, source_arn, source_account))
        return self.answer(event)


@pytest.fixture
def pets(variant: StackRun, local: EmbeddedAws) -> Harness:
    return serve(variant, AnsweringLambda(), AllowingPolicies(), local)


def test_only_http_apis_are_served_and_what_is_not_emulated_is_said(pets: Harness) -> None:
    assert sorted(pets.apis) == ["pets", "quiet"]
    notes = "\n".join(pets["pets"].notes)
    assert "integration upstream (HTTP_PROXY https://example.com/pets) is not emulated" in notes
    assert "authorizer members: issuer https://login.example.com is not a Cognito user pool" \
        in notes
    assert "custom domain pets.example.com (API mapping pets-mapping) is not emulated" in notes
    assert sorted(pets["quiet"].notes) == [
        "quiet: no stage is declared, so every request is answered 404",
        "route quiet-route (GET /only) has no integration; it answers 500"]
    assert pets["quiet"].handle(request("GET", "/only")).status == 404
    assert pets["pets"].handle(request("GET", "/upstream")).status == 500
    assert pets["pets"].handle(request("GET", "/members", headers=(
        ("Authorization", "Bearer x.y.z"),))).status == 401


@pytest.mark.parametrize(("method", "path", "route", "parameters"), [
    ("GET", "/pets/dog/1", "GET /pets/dog/1", None),
    ("GET", "/pets/dog/2", "GET /pets/dog/{id}", {"id": "2"}),
    ("POST", "/pets/dog/2", "ANY /pets/dog/{id}", {"id": "2"}),
    ("GET", "/pets/cat/1", "GET /pets/{proxy+}", {"proxy": "cat/1"}),
    ("GET", "/pets/dog/", "GET /pets/{proxy+}", {"proxy": "dog/"}),
    ("GET", "/pets/a%2Fb/c%20d", "GET /pets/{proxy+}", {"proxy": "a/b/c d"}),
    ("POST", "/test/5", "ANY /{proxy+}", {"proxy": "test/5"}),
    ("GET", "/", "$default", None),
])
def test_the_most_specific_route_takes_the_request(pets: Harness, method: str, path: str,
                                                   route: str,
                                                   parameters: dict[str, str] | None) -> None:
    reply = pets["pets"].handle(request(method, path))
    assert reply.status == 200
    event = pets.lambdas.calls[-1].event
    assert (event["routeKey"], event.get("pathParameters")) == (route, parameters)
    assert pets.lines[-1].split("|")[1:] == [route, "200", "$default", "-", "-"]
    source = pets.lambdas.calls[-1].source_arn
    assert source.endswith("/$default/$default" if route == "$default" else
                           f"/$default/{method}{unquote(path)}")


def test_without_a_matching_route_the_api_answers_404(variant: StackRun,
                                                     local: EmbeddedAws) -> None:
    quiet = serve(variant, AnsweringLambda(), AllowingPolicies(), local)["quiet"]
    reply = quiet.handle(request("GET", "/elsewhere"))
    assert (reply.status, reply.body) == (404, b'{"message":"Not Found"}')


def test_a_named_stage_is_served_under_its_name_with_its_variables(pets: Harness) -> None:
    api = pets["pets"]
    assert api.stage == "$default"
    assert api.handle(request("GET", "/beta/pets/dog/1")).status == 200
    beta = pets.lambdas.calls[-1]
    assert (beta.event["routeKey"], beta.event["rawPath"]) == ("GET /pets/dog/1",
                                                               "/beta/pets/dog/1")
    assert beta.event["requestContext"]["stage"] == "beta"
    assert beta.event["requestContext"]["http"]["path"] == "/beta/pets/dog/1"
    assert beta.event["stageVariables"] == {"color": "green"}
    assert beta.source_arn.endswith(f":{api.api_id}/beta/GET/pets/dog/1")
    assert api.handle(request("GET", "/pets/dog/2")).status == 200
    default = pets.lambdas.calls[-1].event
    assert (default["requestContext"]["stage"], default["stageVariables"]) == (
        "$default", {"color": "blue"})


def test_route_settings_throttle_their_route_only(pets: Harness) -> None:
    api = pets["pets"]
    assert [api.handle(request("GET", "/pets/dog/1")).status for _ in range(2)] == [200, 429]
    assert [api.handle(request("GET", "/pets/dog/2")).status for _ in range(5)] == [200] * 5
    assert api.handle(request("GET", "/beta/pets/dog/1")).status == 200
    pets.clock.monotonic += 1.0
    assert api.handle(request("GET", "/pets/dog/1")).status == 200


def test_cors_preflights_are_answered_by_the_gateway_and_answers_get_its_headers(
        pets: Harness) -> None:
    api = pets["pets"]
    origin = ("Origin", "https://app.example.com")
    preflight = api.handle(request("OPTIONS", "/pets/dog/1", headers=(
        origin, ("Access-Control-Request-Method", "POST"))))
    assert preflight.status == 204
    assert dict(preflight.headers[:-1]) == {
        "Access-Control-Allow-Origin": "https://app.example.com",
        "Access-Control-Allow-Credentials": "true",
        "Access-Control-Allow-Methods": "GET,POST",
        "Access-Control-Allow-Headers": "authorization",
        "Access-Control-Max-Age": "300"}
    stranger = api.handle(request("OPTIONS", "/pets/dog/1", headers=(
        ("Origin", "https://evil.example.com"), ("Access-Control-Request-Method", "GET"))))
    assert (stranger.status, header(stranger, "Access-Control-Allow-Origin")) == (204, [])
    assert pets.lambdas.calls == []
    pets.lambdas.answer = lambda event: answered({
        "statusCode": 200, "body": "{}",
        "headers": {"access-control-allow-origin": "*", "x-request-id": "r-1"}})
    answer = api.handle(request("GET", "/pets/dog/2", headers=(origin,)))
    assert {k.lower(): v for k, v in answer.headers} == {
        "access-control-allow-origin": "https://app.example.com",
        "access-control-allow-credentials": "true",
        "access-control-expose-headers": "x-request-id", "x-request-id": "r-1",
        "apigw-requestid": header(answer, "apigw-requestid")[0]}


def test_payload_1_0_events_and_answers(pets: Harness) -> None:
    pets.lambdas.answer = lambda event: answered({
        "statusCode": 202, "headers": {"x-single": "1", "Set-Cookie": "ignored"},
        "multiValueHeaders": {"Set-Cookie": ["a=1", "b=2"]}, "body": "queued"})
    reply = pets["pets"].handle(request("GET", "/legacy/Rex%20II", "tag=a&tag=b",
                                        headers=(("X-Team", "one"), ("X-Team", "two"))))
    assert (reply.status, reply.body) == (202, b"queued")
    assert reply.headers[:-1] == [("Set-Cookie", "a=1"), ("Set-Cookie", "b=2"),
                                  ("x-single", "1")]
    event = pets.lambdas.calls[-1].event
    assert {key: event[key] for key in (
        "version", "resource", "path", "httpMethod", "queryStringParameters",
        "multiValueQueryStringParameters", "pathParameters", "stageVariables", "body",
        "isBase64Encoded")} == {
        "version": "1.0", "resource": "/legacy/{name}", "path": "/legacy/Rex II",
        "httpMethod": "GET", "queryStringParameters": {"tag": "b"},
        "multiValueQueryStringParameters": {"tag": ["a", "b"]},
        "pathParameters": {"name": "Rex II"}, "stageVariables": {"color": "blue"},
        "body": None, "isBase64Encoded": False}
    assert event["headers"]["x-team"] == "two"
    assert event["multiValueHeaders"]["x-team"] == ["one", "two"]
    context = event["requestContext"]
    assert (context["resourcePath"], context["httpMethod"], context["stage"]) == (
        "/legacy/{name}", "GET", "$default")
    assert context["identity"]["sourceIp"] == "127.0.0.1"
    assert context["identity"]["userArn"] is None
    pets.lambdas.answer = lambda event: answered({"message": "no status"})
    assert pets["pets"].handle(request("GET", "/legacy/Rex")).status == 500


def test_an_integration_slower_than_its_timeout_answers_503(pets: Harness) -> None:
    release = threading.Event()

    def slow(event: dict[str, Any]) -> Invocation:
        release.wait(30)
        return answered(OK)

    pets.lambdas.answer = slow
    try:
        reply = pets["pets"].handle(request("GET", "/slow"))
    finally:
        release.set()
    assert (reply.status, body_of(reply)) == (503, {"message": "Service Unavailable"})
    assert pets.lines[-1].split("|")[1:5] == [
        "GET /slow", "503", "$default",
        "The Lambda function did not answer within the integration's timeout"]
