"""CloudFront distributions in local mode: the plan's behaviors, policies and Lambda@Edge
functions, in front of local origins, driven over HTTP on 127.0.0.1 as a viewer would (or, where
the transport adds nothing, through ``Distribution.handle``).

The headerVersioning distribution of the dev stack runs first with a recording edge function
(a fake of local mode's Lambda service) in front of stub origins, so that each CloudFront rule
can be seen on its own; then with the real router in its worker. S3 origins with an origin
access control are read from the embedded AWS, in a small program of the test's own.
"""

from __future__ import annotations

import base64
import http.client
import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import pulumi
import pulumi_aws as aws
import pytest

from tools.local.aws import EmbeddedAws, create_resources
from tools.local.cloudfront import CloudFrontError, Distribution, distributions
from tools.local.functions import Invocation
from tools.local.gateway import LocalServer, Reply, Request
from tools.local.iam import PlanPolicies, Principal
from tools.local.stack import only_services
from tools.mock_runtime import StackConfig, StackRun, run_program

V1 = "ade2622c4b.execute-api.eu-west-1.amazonaws.com"  # the dev plan's default origin
V2 = "87788c8e43.execute-api.eu-west-1.amazonaws.com"  # v2's API, from the mapping table
ROUTER = "arn:aws:lambda:us-east-1:111122223333:function:blueprints-dev-headerVersioning-router:1"
SIGNATURE = ("AWS4-HMAC-SHA256 Credential=ASIALOCAL/20260101/eu-west-1/execute-api/aws4_request, "
             "SignedHeaders=host;x-amz-date, Signature=" + "0" * 64)


# --- doubles -------------------------------------------------------------------------------------

EdgeHandler = Callable[[dict[str, Any]], Any]


@dataclass
class RecordingEdge:
    """Local mode's Lambda service, faked: runs ``handler`` on each event and records it."""

    handler: EdgeHandler = field(default=lambda event: event["Records"][0]["cf"]["request"])
    fails: bool = False
    calls: list[tuple[str, dict[str, Any], Principal | None]] = field(default_factory=list)

    def invoke(self, function: str, event: Any, *, caller: Principal | None,
               source_arn: str | None = None, source_account: str | None = None) -> Invocation:
        self.calls.append((function, json.loads(json.dumps(event)), caller))
        if self.fails:
            return Invocation({"errorType": "KeyError", "errorMessage": "'dn'"}, True, "r", 0.0)
        return Invocation(self.handler(json.loads(json.dumps(event))), False, "r", 0.0)

    @property
    def events(self) -> list[dict[str, Any]]:
        return [event for _, event, _ in self.calls]


@dataclass
class StubOrigin:
    """An origin that records what reaches it and answers JSON, with a header the response
    headers policy overrides."""

    name: str
    status: int = 200
    received: list[Request] = field(default_factory=list)
    server: LocalServer | None = None

    def handle(self, request: Request) -> Reply:
        self.received.append(request)
        return Reply.json(self.status, {"origin": self.name, "path": request.raw_path},
                          headers=[("X-Frame-Options", "SAMEORIGIN"), ("X-Origin", self.name)])

    def start(self) -> StubOrigin:
        self.server = LocalServer(f"origin {self.name}", self.handle).start()
        return self

    @property
    def url(self) -> str:
        assert self.server is not None
        return self.server.url


@dataclass
class Answer:
    status: int
    headers: http.client.HTTPMessage
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def call(url: str, path: str = "/hello", *, method: str = "GET",
         headers: dict[str, str] | None = None, body: bytes = b"") -> Answer:
    """One request over HTTP, as a viewer sends it."""
    target = urlsplit(url)
    connection = http.client.HTTPConnection(target.hostname or "", target.port, timeout=30)
    try:
        connection.request(method, path, body=body or None, headers=headers or {})
        response = connection.getresponse()
        return Answer(response.status, response.headers, response.read())
    finally:
        connection.close()


@pytest.fixture(scope="module")
def dev_policies(dev: StackRun) -> PlanPolicies:
    return PlanPolicies.from_run(dev)


@pytest.fixture(scope="module")
def versioning(dev: StackRun) -> StackRun:
    """The dev stack's header versioning service: its distribution is the one tested here."""
    return only_services(dev, ["headerVersioning"])


@pytest.fixture
def origins() -> Iterator[dict[str, StubOrigin]]:
    stubs = {V1: StubOrigin("v1").start(), V2: StubOrigin("v2").start()}
    yield stubs
    for stub in stubs.values():
        assert stub.server is not None
        stub.server.stop()


@pytest.fixture
def edge() -> RecordingEdge:
    return RecordingEdge()


@pytest.fixture
def header_versioning(versioning: StackRun, dev_policies: PlanPolicies, edge: RecordingEdge,
                      origins: dict[str, StubOrigin]) -> Iterator[tuple[Distribution, str]]:
    (distribution,) = distributions(
        versioning, lambdas=edge, aws=None, policies=dev_policies,
        origins={domain: stub.url for domain, stub in origins.items()})
    server = LocalServer("distribution", distribution.handle).start()
    yield distribution, server.url
    server.stop()


def route_to_v2(event: dict[str, Any]) -> dict[str, Any]:
    """What the router answers for v2: another origin, its host, a signature for it."""
    request: dict[str, Any] = event["Records"][0]["cf"]["request"]
    request["origin"] = {"custom": {**request["origin"]["custom"], "domainName": V2,
                                    "path": "/v2"}}
    request["headers"]["host"] = [{"key": "Host", "value": V2}]
    request["headers"]["x-amz-date"] = [{"key": "X-Amz-Date", "value": "20260101T000000Z"}]
    request["headers"]["authorization"] = [{"key": "Authorization", "value": SIGNATURE}]
    return request


# --- the dev plan's distribution, with a recording edge function ---------------------------------

def test_the_distribution_is_the_plans(dev: StackRun,
                                       header_versioning: tuple[Distribution, str]) -> None:
    distribution, _ = header_versioning
    planned = dev.one("aws:cloudfront/distribution:Distribution",
                      "headerVersioning-distribution")
    assert (distribution.resource, distribution.distribution_id, distribution.domain_name) == (
        planned.name, planned.id, planned.state["domainName"])
    assert distribution.notes == []


def test_the_origin_request_event_is_the_one_cloudfront_documents(
        dev: StackRun, header_versioning: tuple[Distribution, str],
        edge: RecordingEdge) -> None:
    distribution, url = header_versioning
    answer = call(url, "/hello?b=2&a=%20x", headers={
        "Accept": "application/vnd.example.v1+json", "X-Custom": "not forwarded",
        "Cookie": "session=1", "User-Agent": "curl/8"})
    assert answer.status == 200

    ((function, event, caller),) = edge.calls
    assert (function, caller) == (ROUTER, None)  # the Lambda service runs replicas
    (record,) = event["Records"]
    assert record["cf"]["config"] == {
        "distributionDomainName": distribution.domain_name,
        "distributionId": distribution.distribution_id, "eventType": "origin-request",
        "requestId": answer.headers["X-Amz-Cf-Id"]}
    request = record["cf"]["request"]
    assert set(request) == {"clientIp", "headers", "method", "querystring", "uri", "origin"}
    assert (request["clientIp"], request["method"], request["uri"], request["querystring"]) == (
        "127.0.0.1", "GET", "/hello", "b=2&a=%20x")
    assert request["origin"] == {"custom": {
        "customHeaders": {}, "domainName": V1, "keepaliveTimeout": 5, "path": "/v1",
        "port": 443, "protocol": "https", "readTimeout": 30, "sslProtocols": ["TLSv1.2"]}}
    headers = request["headers"]
    assert headers["host"] == [{"key": "Host", "value": V1}]
    assert headers["accept"] == [{"key": "Accept", "value": "application/vnd.example.v1+json"}]
    assert headers["user-agent"] == [{"key": "User-Agent", "value": "Amazon CloudFront"}]
    assert headers["x-forwarded-for"] == [{"key": "X-Forwarded-For", "value": "127.0.0.1"}]
    assert headers["via"][0]["value"].endswith(".cloudfront.net (CloudFront)")
    # Only what the origin request policy names: Accept, not the rest, and no cookies.
    assert not {"x-custom", "cookie", "x-amz-cf-id"} & set(headers)


def test_the_request_goes_to_the_origin_the_function_chose_with_its_headers(
        header_versioning: tuple[Distribution, str], edge: RecordingEdge,
        origins: dict[str, StubOrigin]) -> None:
    _, url = header_versioning
    edge.handler = route_to_v2
    answer = call(url, "/hello?b=2&a=%20x",
                  headers={"Accept": "application/vnd.example.v2+json", "X-Custom": "no"})

    assert (answer.status, answer.json()) == (200, {"origin": "v2", "path": "/v2/hello"})
    assert origins[V1].received == []
    (received,) = origins[V2].received
    assert received.query == "b=2&a=%20x"
    assert received.header("Host") == V2
    assert received.header("Authorization") == SIGNATURE
    assert received.header("X-Amz-Date") == "20260101T000000Z"
    assert received.header("Accept") == "application/vnd.example.v2+json"
    assert received.header("X-Amz-Cf-Id") == answer.headers["X-Amz-Cf-Id"]
    assert received.header("X-Custom") is None


def test_the_response_headers_policy_applies_to_every_answer(
        header_versioning: tuple[Distribution, str], edge: RecordingEdge) -> None:
    _, url = header_versioning
    from_origin = call(url, headers={"Accept": "application/vnd.example.v1+json"})
    edge.handler = lambda event: {"status": "403", "statusDescription": "Forbidden",
                                  "body": json.dumps({"message": "Accept header is missing"})}
    generated = call(url)

    for answer in (from_origin, generated):
        assert answer.headers["Strict-Transport-Security"] == \
            "max-age=63072000; includeSubDomains; preload"
        assert answer.headers["X-Content-Type-Options"] == "nosniff"
        assert answer.headers["Referrer-Policy"] == "no-referrer"
        assert answer.headers["X-XSS-Protection"] == "1; mode=block"
        assert answer.headers["Content-Security-Policy"] == \
            "default-src 'none'; frame-ancestors 'none'"
        assert answer.headers.get_all("X-Frame-Options") == ["DENY"]  # overrides the origin's
    assert from_origin.headers["X-Origin"] == "v1"
    assert from_origin.headers["X-Cache"] == "Miss from cloudfront"
    assert from_origin.headers["Via"].endswith(".cloudfront.net (CloudFront)")


def test_a_response_the_function_generates_is_the_answer(
        header_versioning: tuple[Distribution, str], edge: RecordingEdge,
        origins: dict[str, StubOrigin]) -> None:
    _, url = header_versioning
    edge.handler = lambda event: {
        "status": "403", "statusDescription": "Forbidden",
        "headers": {"content-type": [{"key": "Content-Type", "value": "application/json"}],
                    "cache-control": [{"value": "no-store"}]},
        "bodyEncoding": "base64",
        "body": base64.b64encode(b'{"message": "Accept header is not a valid version"}').decode()}
    answer = call(url, headers={"Accept": "application/vnd.example.v9+json"})

    assert answer.status == 403
    assert answer.json() == {"message": "Accept header is not a valid version"}
    assert answer.headers["Cache-Control"] == "no-store"
    assert answer.headers["X-Cache"] == "LambdaGeneratedResponse from cloudfront"
    assert all(stub.received == [] for stub in origins.values())


def test_a_method_the_behavior_does_not_allow_is_refused_before_any_function(
        header_versioning: tuple[Distribution, str], edge: RecordingEdge,
        origins: dict[str, StubOrigin]) -> None:
    _, url = header_versioning
    answer = call(url, method="POST", body=b"{}")

    assert answer.status == 403
    assert "not configured to allow the HTTP request method" in answer.json()["message"]
    assert "GET, HEAD, OPTIONS" in answer.json()["detail"]
    assert answer.headers["X-Cache"] == "Error from cloudfront"
    assert answer.headers["X-Frame-Options"] == "DENY"
    assert edge.calls == []
    assert all(stub.received == [] for stub in origins.values())


def test_a_function_error_is_a_503_lambda_execution_error(
        header_versioning: tuple[Distribution, str], edge: RecordingEdge,
        origins: dict[str, StubOrigin]) -> None:
    _, url = header_versioning
    edge.fails = True
    answer = call(url, headers={"Accept": "application/vnd.example.v1+json"})

    assert answer.status == 503
    assert answer.headers["X-Cache"] == "LambdaExecutionError from cloudfront"
    assert answer.headers["Content-Type"] == "application/json"
    assert "KeyError: 'dn'" in answer.json()["detail"]
    assert all(stub.received == [] for stub in origins.values())


def _set_header(name: str, value: str) -> EdgeHandler:
    def handler(event: dict[str, Any]) -> Any:
        request = event["Records"][0]["cf"]["request"]
        request["headers"][name] = [{"key": name.title(), "value": value}]
        return request
    return handler


def _changed(key: str, value: Any) -> EdgeHandler:
    def handler(event: dict[str, Any]) -> Any:
        request = event["Records"][0]["cf"]["request"]
        request[key] = value
        return request
    return handler


INVALID_ANSWERS: dict[str, tuple[EdgeHandler, str]] = {
    "a read-only header changed": (_set_header("via", "1.1 elsewhere"), "read-only header"),
    "a read-only header added": (_set_header("if-none-match", '"x"'), "if-none-match"),
    "a disallowed header added": (_set_header("x-amz-cf-pop", "FRA1"), "disallowed"),
    "the method changed": (_changed("method", "DELETE"), "method is read-only"),
    "a uri without its slash": (_changed("uri", "hello"), "uri 'hello'"),
    "two origins": (_changed("origin", {"custom": {"domainName": V2},
                                        "s3": {"domainName": "b.s3.amazonaws.com"}}),
                    "exactly one of custom and s3"),
    "headers not in CloudFront's shape": (_changed("headers", {"host": V1}), "{key, value}"),
    "a status that is not a number": (lambda event: {"status": "OK"}, "status 'OK'"),
    "a status out of range": (lambda event: {"status": "99"}, "status '99'"),
    "a body too large": (lambda event: {"status": "200", "body": "x" * (1024 * 1024 + 1)},
                         "over the 1024 KB"),
    "a body that is not base64": (lambda event: {"status": "200", "body": "not base64!",
                                                 "bodyEncoding": "base64"}, "not valid base64"),
    "an unknown body encoding": (lambda event: {"status": "200", "body": "x",
                                                "bodyEncoding": "gzip"}, "neither text"),
    "nothing": (lambda event: None, "not a request or a response"),
}


@pytest.mark.parametrize(("handler", "problem"), INVALID_ANSWERS.values(), ids=INVALID_ANSWERS)
def test_an_answer_that_breaks_lambda_edge_rules_is_a_502_lambda_validation_error(
        header_versioning: tuple[Distribution, str], edge: RecordingEdge,
        origins: dict[str, StubOrigin], handler: EdgeHandler, problem: str) -> None:
    _, url = header_versioning
    edge.handler = handler
    answer = call(url, headers={"Accept": "application/vnd.example.v1+json"})

    assert answer.status == 502
    assert answer.headers["X-Cache"] == "LambdaValidationError from cloudfront"
    assert answer.json()["message"] == "The Lambda function result failed validation."
    assert problem in answer.json()["detail"]
    assert all(stub.received == [] for stub in origins.values())


def test_an_origin_domain_local_mode_does_not_serve_is_a_502_naming_it(
        header_versioning: tuple[Distribution, str], edge: RecordingEdge) -> None:
    _, url = header_versioning
    elsewhere = "abcdef1234.execute-api.eu-west-1.amazonaws.com"
    edge.handler = lambda event: {**event["Records"][0]["cf"]["request"], "origin": {
        "custom": {"domainName": elsewhere, "path": "/v3", "port": 443, "protocol": "https"}}}
    answer = call(url, headers={"Accept": "application/vnd.example.v3+json"})

    assert answer.status == 502
    assert answer.headers["X-Cache"] == "Error from cloudfront"
    detail = answer.json()["detail"]
    assert f"serves no origin {elsewhere}" in detail
    assert V1 in detail
    assert V2 in detail


def test_an_origin_that_does_not_answer_is_a_502(
        versioning: StackRun, dev_policies: PlanPolicies, edge: RecordingEdge) -> None:
    stopped = LocalServer("stopped origin", lambda request: Reply(200)).start()
    gone = stopped.url
    stopped.stop()
    (distribution,) = distributions(versioning, lambdas=edge, aws=None, policies=dev_policies,
                                    origins={V1: gone})
    reply = distribution.handle(Request("GET", "/hello", "", [("Accept", "a")], b""))

    assert reply.status == 502
    assert "wasn't able to connect to the origin" in json.loads(reply.body)["message"]


# --- S3 origins with an origin access control, and a program's other settings ---------------------

ACCOUNT = "111122223333"
REGION = "eu-west-1"
CORS_ORIGIN = "https://app.example.com"


def s3_program() -> StackRun:
    """A bucket behind distributions: ``reader`` is allowed by the bucket policy (objects and
    listing), ``spa`` objects only and answers index.html for a missing page, ``stranger``
    nothing; ``reader`` also sends /api/* to a custom origin with CORS and custom headers, and
    ``scripted`` has a CloudFront Function."""

    def program() -> None:
        provider = aws.Provider("provider", region=REGION, allowed_account_ids=[ACCOUNT])
        opts = pulumi.ResourceOptions(provider=provider)
        bucket = aws.s3.Bucket("site", bucket="site-bucket", opts=opts)
        oac = aws.cloudfront.OriginAccessControl(
            "site", name="site", origin_access_control_origin_type="s3",
            signing_behavior="always", signing_protocol="sigv4", opts=opts)
        api_headers = aws.cloudfront.ResponseHeadersPolicy(
            "api-headers", name="api-headers", opts=opts,
            cors_config={"access_control_allow_origins": {"items": [CORS_ORIGIN]},
                         "access_control_allow_headers": {"items": ["Content-Type"]},
                         "access_control_allow_methods": {"items": ["GET", "POST"]},
                         "access_control_allow_credentials": True,
                         "access_control_expose_headers": {"items": ["X-Request-Id"]},
                         "access_control_max_age_sec": 600, "origin_override": True},
            custom_headers_config={"items": [{"header": "X-Served-By", "value": "edge",
                                              "override": False}]},
            remove_headers_config={"items": [{"header": "X-Origin"}]})

        origins: list[aws.cloudfront.DistributionOriginArgsDict] = [
            {"origin_id": "site", "domain_name": bucket.bucket_regional_domain_name,
             "origin_access_control_id": oac.id},
            {"origin_id": "api", "domain_name": "api.example.com", "origin_path": "/prod",
             "custom_headers": [{"name": "X-Origin-Secret", "value": "s3cr3t"}],
             "custom_origin_config": {"http_port": 80, "https_port": 443,
                                      "origin_protocol_policy": "https-only",
                                      "origin_ssl_protocols": ["TLSv1.2"]}}]

        def distribution(name: str, functions: Sequence[tuple[str, str]] = (),
                         **extra: Any) -> aws.cloudfront.Distribution:
            return aws.cloudfront.Distribution(
                name, enabled=True, default_root_object="index.html", opts=opts,
                origins=origins,
                default_cache_behavior={
                    "target_origin_id": "site", "viewer_protocol_policy": "https-only",
                    "allowed_methods": ["GET", "HEAD"], "cached_methods": ["GET", "HEAD"],
                    "cache_policy_id": "658327ea-f89d-4fab-a63d-7e88639e58f6",
                    "function_associations": [{"event_type": event, "function_arn": arn}
                                              for event, arn in functions]},
                restrictions={"geo_restriction": {"restriction_type": "none"}},
                viewer_certificate={"cloudfront_default_certificate": True}, **extra)

        reader = distribution("reader", ordered_cache_behaviors=[{
            "path_pattern": "api/*", "target_origin_id": "api",
            "viewer_protocol_policy": "https-only",
            "allowed_methods": ["GET", "HEAD", "OPTIONS", "PUT", "POST", "PATCH", "DELETE"],
            "cached_methods": ["GET", "HEAD"],
            "cache_policy_id": "4135ea2d-6df8-44a3-9df3-4b5a84be39ad",
            "origin_request_policy_id": "b689b0a8-53d0-40ab-baf2-68738e2966ac",
            "response_headers_policy_id": api_headers.id}])
        spa = distribution("spa", custom_error_responses=[
            {"error_code": 403, "response_code": 200, "response_page_path": "/index.html"}])
        distribution("stranger")
        distribution("scripted", functions=[
            ("viewer-request", f"arn:aws:cloudfront::{ACCOUNT}:function/rewrite")])

        def bucket_policy(args: list[str]) -> str:
            bucket_arn, reader_arn, spa_arn = args
            service = {"Service": "cloudfront.amazonaws.com"}
            return json.dumps({"Version": "2012-10-17", "Statement": [
                {"Sid": "ReadObjects", "Effect": "Allow", "Principal": service,
                 "Action": "s3:GetObject", "Resource": f"{bucket_arn}/*",
                 "Condition": {"StringEquals": {"AWS:SourceArn": [reader_arn, spa_arn]}}},
                {"Sid": "ListForTheReader", "Effect": "Allow", "Principal": service,
                 "Action": "s3:ListBucket", "Resource": bucket_arn,
                 "Condition": {"StringEquals": {"AWS:SourceArn": reader_arn}}},
                {"Sid": "DenyInsecureTransport", "Effect": "Deny", "Principal": "*",
                 "Action": "s3:*", "Resource": [bucket_arn, f"{bucket_arn}/*"],
                 "Condition": {"Bool": {"aws:SecureTransport": "false"}}}]})

        aws.s3.BucketPolicy("site", bucket=bucket.bucket, opts=opts, policy=pulumi.Output.all(
            bucket.arn, reader.arn, spa.arn).apply(bucket_policy))

    config = StackConfig({"aws:region": REGION,
                          "blueprints:account": json.dumps({"id": ACCOUNT})}, ())
    return run_program(program, config=config)


def get(distribution: Distribution, path: str, *, method: str = "GET",
        headers: tuple[tuple[str, str], ...] = (), query: str = "",
        body: bytes = b"") -> Reply:
    return distribution.handle(Request(method, path, query, list(headers), body, "192.0.2.7"))


class TestS3Origins:
    """One embedded AWS for these tests, stopped when they are done (one runs per process)."""

    @pytest.fixture(scope="class")
    @classmethod
    def s3_site(cls) -> Iterator[tuple[dict[str, Distribution], StubOrigin]]:
        run = s3_program()
        api = StubOrigin("api").start()
        with EmbeddedAws.for_plan(run) as local:
            create_resources(run, local)
            s3 = local.client("s3")
            s3.put_object(Bucket="site-bucket", Key="index.html", Body=b"<h1>home</h1>",
                          ContentType="text/html")
            s3.put_object(Bucket="site-bucket", Key="docs/a b.txt", Body=b"spaced",
                          ContentType="text/plain")
            served = distributions(run, lambdas=RecordingEdge(), aws=local,
                                   origins={"api.example.com": api.url},
                                   policies=PlanPolicies.from_run(run))
            yield {d.resource: d for d in served}, api
        assert api.server is not None
        api.server.stop()

    def test_an_s3_origin_is_read_when_the_bucket_policy_names_the_distribution(
            self, s3_site: tuple[dict[str, Distribution], StubOrigin]) -> None:
        site, _ = s3_site
        home = get(site["reader"], "/")  # the default root object
        assert (home.status, home.body) == (200, b"<h1>home</h1>")
        assert ("Content-Type", "text/html") in home.headers
        assert ("Server", "AmazonS3") in home.headers

        spaced = get(site["reader"], "/docs/a%20b.txt")
        assert (spaced.status, spaced.body) == (200, b"spaced")

    def test_another_distribution_is_refused_by_the_source_arn_condition(
            self, s3_site: tuple[dict[str, Distribution], StubOrigin]) -> None:
        site, _ = s3_site
        refused = get(site["stranger"], "/index.html")

        assert refused.status == 403
        assert b"<Code>AccessDenied</Code>" in refused.body
        assert ("X-Cache", "Error from cloudfront") in refused.headers

    def test_a_missing_key_is_404_only_for_a_distribution_that_may_list(
            self, s3_site: tuple[dict[str, Distribution], StubOrigin]) -> None:
        site, _ = s3_site
        listed = get(site["reader"], "/missing.html")
        assert listed.status == 404
        assert b"<Code>NoSuchKey</Code><Message>The specified key does not exist.</Message>" \
               b"<Key>missing.html</Key>" in listed.body

        unlisted = get(site["spa"], "/missing.html", method="HEAD")
        # spa may read but not list: S3 says 403; its custom error response answers the page.
        assert (unlisted.status, unlisted.body) == (200, b"<h1>home</h1>")

    def test_ordered_behaviors_take_their_paths_with_their_own_methods_and_policies(
            self, s3_site: tuple[dict[str, Distribution], StubOrigin]) -> None:
        site, api = s3_site
        api.received.clear()
        posted = get(site["reader"], "/api/orders", method="POST", query="x=1",
                     headers=(("Host", "d111.cloudfront.net"), ("Origin", CORS_ORIGIN),
                              ("Cookie", "session=abc"), ("Content-Type", "application/json")),
                     body=b'{"n": 1}')
        assert posted.status == 200
        (received,) = api.received
        assert (received.method, received.raw_path, received.query, received.body) == (
            "POST", "/prod/api/orders", "x=1", b'{"n": 1}')
        # AllViewerExceptHostHeader: every viewer header and cookie, but Host is the origin's.
        assert received.header("Host") == "api.example.com"
        assert received.header("Cookie") == "session=abc"
        assert received.header("Origin") == CORS_ORIGIN
        assert received.header("X-Origin-Secret") == "s3cr3t"
        assert received.header("X-Forwarded-For") == "192.0.2.7"

        headers = dict(posted.headers)
        assert headers["Access-Control-Allow-Origin"] == CORS_ORIGIN
        assert headers["Access-Control-Allow-Credentials"] == "true"
        assert headers["Access-Control-Expose-Headers"] == "X-Request-Id"
        assert headers["X-Served-By"] == "edge"
        assert "X-Origin" not in headers  # removed by the policy

        preflight = dict(get(site["reader"], "/api/orders", method="OPTIONS", headers=(
            ("Origin", CORS_ORIGIN), ("Access-Control-Request-Method", "POST"))).headers)
        assert (preflight["Access-Control-Allow-Methods"], preflight["Access-Control-Max-Age"]) == (
            "GET, POST", "600")
        foreign = dict(get(site["reader"], "/api/orders", headers=(
            ("Origin", "https://evil.example.com"),)).headers)
        assert "Access-Control-Allow-Origin" not in foreign

        # The default behavior (the bucket) takes GET and HEAD only.
        assert get(site["reader"], "/orders", method="POST").status == 403

    def test_cloudfront_functions_are_named_as_not_emulated(
            self, s3_site: tuple[dict[str, Distribution], StubOrigin]) -> None:
        site, _ = s3_site
        (note,) = site["scripted"].notes
        assert "CloudFront Functions are not emulated" in note
        refused = get(site["scripted"], "/index.html")
        assert refused.status == 502
        assert "function/rewrite on viewer-request" in json.loads(refused.body)["detail"]
        assert all(not d.notes for name, d in site.items() if name != "scripted")


# --- every Lambda@Edge event, on a program's distribution ----------------------------------------

EDGE_ARN = "arn:aws:lambda:us-east-1:111122223333:function:edge-{}:3"


def four_functions_program() -> StackRun:
    """A distribution that runs a function on each of the four events, the viewer-request one
    with the body, in front of a custom origin that every viewer header reaches."""

    def program() -> None:
        provider = aws.Provider("provider", region="us-east-1", allowed_account_ids=[ACCOUNT])
        aws.cloudfront.Distribution(
            "edge", enabled=True, opts=pulumi.ResourceOptions(provider=provider),
            origins=[{"origin_id": "app", "domain_name": "app.example.com",
                      "custom_origin_config": {"http_port": 80, "https_port": 443,
                                               "origin_protocol_policy": "https-only",
                                               "origin_ssl_protocols": ["TLSv1.2"]}}],
            default_cache_behavior={
                "target_origin_id": "app", "viewer_protocol_policy": "https-only",
                "allowed_methods": ["GET", "HEAD", "OPTIONS", "PUT", "POST", "PATCH", "DELETE"],
                "cached_methods": ["GET", "HEAD"],
                "cache_policy_id": "4135ea2d-6df8-44a3-9df3-4b5a84be39ad",
                "origin_request_policy_id": "216adef6-5c7f-47e4-b989-5492eafa07d3",
                "lambda_function_associations": [
                    {"event_type": event, "lambda_arn": EDGE_ARN.format(event),
                     "include_body": event == "viewer-request"}
                    for event in ("viewer-request", "origin-request", "origin-response",
                                  "viewer-response")]},
            restrictions={"geo_restriction": {"restriction_type": "none"}},
            viewer_certificate={"cloudfront_default_certificate": True})

    return run_program(program, config=StackConfig({"aws:region": "us-east-1"}, ()))


def every_event(event: dict[str, Any]) -> Any:
    """Each function leaves its mark: a replaced body, a header, a changed status."""
    cf = event["Records"][0]["cf"]
    request, response = cf["request"], cf.get("response")
    match cf["config"]["eventType"]:
        case "viewer-request":
            request["body"] = {"action": "replace", "encoding": "text", "data": "replaced"}
            request["headers"]["x-viewer-request"] = [{"key": "X-Viewer-Request", "value": "1"}]
            return request
        case "origin-request":
            request["uri"] = "/v2" + request["uri"]
            return request
        case "origin-response":
            response["status"] = "201"
            response["headers"]["x-origin-response"] = [{"value": "1"}]
            return {**response, "body": "from origin-response"}
        case _:
            response["headers"]["x-viewer-response"] = [{"key": "X-Viewer-Response",
                                                         "value": "1"}]
            return response


def test_each_event_gets_its_function_and_each_answer_is_applied(
        origins: dict[str, StubOrigin]) -> None:
    run = four_functions_program()
    edge = RecordingEdge(every_event)
    app = origins[V1]
    (distribution,) = distributions(run, lambdas=edge, aws=None,
                                    policies=PlanPolicies.from_run(run),
                                    origins={"app.example.com": app.url})
    reply = distribution.handle(Request("POST", "/items", "", [
        ("Host", "d1.cloudfront.net"), ("Content-Type", "text/plain")], b"original"))

    assert [function for function, _, _ in edge.calls] == [
        EDGE_ARN.format(event) for event in ("viewer-request", "origin-request",
                                             "origin-response", "viewer-response")]
    viewer_request, origin_request, origin_response, viewer_response = (
        event["Records"][0]["cf"] for event in edge.events)
    assert viewer_request["request"]["body"] == {
        "inputTruncated": False, "action": "read-only", "encoding": "base64",
        "data": base64.b64encode(b"original").decode()}
    assert viewer_request["request"]["headers"]["host"] == [
        {"key": "Host", "value": "d1.cloudfront.net"}]
    assert "origin" not in viewer_request["request"]
    # What the viewer-request function did reaches the origin side.
    assert origin_request["request"]["headers"]["x-viewer-request"] == [
        {"key": "X-Viewer-Request", "value": "1"}]
    assert "body" not in origin_request["request"]  # only viewer-request includes it
    (received,) = app.received
    assert (received.raw_path, received.body) == ("/v2/items", b"replaced")
    assert origin_response["response"]["status"] == "200"
    assert origin_response["request"]["origin"]["custom"]["domainName"] == "app.example.com"
    assert viewer_response["response"]["status"] == "201"
    assert "origin" not in viewer_response["request"]

    headers = dict(reply.headers)
    assert (reply.status, reply.body) == (201, b"from origin-response")
    assert headers["x-origin-response"] == "1"  # a missing key is the header's name
    assert headers["X-Viewer-Response"] == "1"


def test_a_viewer_response_function_cannot_change_the_status(
        origins: dict[str, StubOrigin]) -> None:
    run = four_functions_program()

    def teapot(event: dict[str, Any]) -> Any:
        cf = event["Records"][0]["cf"]
        if cf["config"]["eventType"] == "viewer-response":
            return {**cf["response"], "status": "418"}
        return cf.get("response") or cf["request"]

    (distribution,) = distributions(run, lambdas=RecordingEdge(teapot), aws=None,
                                    policies=PlanPolicies.from_run(run),
                                    origins={"app.example.com": origins[V1].url})
    reply = distribution.handle(Request("GET", "/items", "", [], b""))

    assert reply.status == 502
    assert "cannot change the status" in json.loads(reply.body)["detail"]


@pytest.mark.parametrize(("cache_policy", "target", "complaint"), [
    ("00000000-0000-0000-0000-000000000000", "app",
     "cache policy '00000000-0000-0000-0000-000000000000' is neither in the plan nor"),
    ("4135ea2d-6df8-44a3-9df3-4b5a84be39ad", "elsewhere",
     "targets origin 'elsewhere', which the distribution"),
])
def test_a_distribution_local_mode_cannot_serve_is_refused_by_name(
        cache_policy: str, target: str, complaint: str) -> None:
    def program() -> None:
        provider = aws.Provider("provider", region="us-east-1", allowed_account_ids=[ACCOUNT])
        aws.cloudfront.Distribution(
            "broken", enabled=True, opts=pulumi.ResourceOptions(provider=provider),
            origins=[{"origin_id": "app", "domain_name": "app.example.com",
                      "custom_origin_config": {"http_port": 80, "https_port": 443,
                                               "origin_protocol_policy": "https-only",
                                               "origin_ssl_protocols": ["TLSv1.2"]}}],
            default_cache_behavior={
                "target_origin_id": target, "viewer_protocol_policy": "https-only",
                "allowed_methods": ["GET", "HEAD"], "cached_methods": ["GET", "HEAD"],
                "cache_policy_id": cache_policy},
            restrictions={"geo_restriction": {"restriction_type": "none"}},
            viewer_certificate={"cloudfront_default_certificate": True})

    run = run_program(program, config=StackConfig({"aws:region": "us-east-1"}, ()))
    where = r"^distribution broken, default behavior: "
    with pytest.raises(CloudFrontError, match=where) as raised:
        distributions(run, lambdas=RecordingEdge(), origins={}, aws=None,
                      policies=PlanPolicies.from_run(run))
    assert complaint in str(raised.value)


# --- the dev plan's distribution with the real router -------------------------------------------

def test_the_real_router_sends_each_version_to_its_origin(
        versioning: StackRun, dev_policies: PlanPolicies, tmp_path: Any) -> None:
    from tools.local.lambdas import EVENT_INVOKE_CONFIG, LocalLambda

    # LocalLambda refuses the event invoke config of a function it does not run, so the
    # functions that have one run beside the router.
    configured = {str(c.inputs["functionName"]) for c in versioning.of_type(EVENT_INVOKE_CONFIG)}
    origins = {V1: StubOrigin("v1").start(), V2: StubOrigin("v2").start()}
    lines: list[str] = []
    with EmbeddedAws.for_plan(versioning) as local:
        create_resources(versioning, local)
        lambdas = LocalLambda(versioning, policies=dev_policies, aws=local, root=tmp_path,
                              only=lambda spec: spec.edge or spec.name in configured,
                              output=lines.append)
        try:
            assert lambdas.start() == []
            (distribution,) = distributions(
                versioning, lambdas=lambdas, aws=local, policies=dev_policies,
                origins={domain: stub.url for domain, stub in origins.items()})
            replies = [distribution.handle(Request("GET", "/hello", "", [
                ("Host", distribution.domain_name),
                ("Accept", f"application/vnd.example.{version}+json")], b""))
                for version in ("v2", "v1", "v9")]
        finally:
            lambdas.stop()
            for stub in origins.values():
                assert stub.server is not None
                stub.server.stop()

    v2, v1, unknown = replies
    assert (v2.status, json.loads(v2.body)) == (200, {"origin": "v2", "path": "/v2/hello"})
    assert (v1.status, json.loads(v1.body)) == (200, {"origin": "v1", "path": "/v1/hello"})
    assert unknown.status == 403
    assert json.loads(unknown.body) == {"message": "Accept header is not a valid version"}
    assert ("X-Cache", "LambdaGeneratedResponse from cloudfront") in unknown.headers
    (signed,) = origins[V2].received
    # The router signed for v2's host with its own role's credentials, and it arrived intact.
    assert signed.header("Host") == V2
    authorization = str(signed.header("Authorization"))
    assert authorization.startswith("AWS4-HMAC-SHA256 Credential=")
    assert "SignedHeaders=host;x-amz-date;x-amz-security-token" in authorization
    assert not any("AccessDenied" in line for line in lines)

