"""The local fronts' shared parts: serving, SigV4 verification and throttling."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import pytest
from botocore.auth import S3SigV4QueryAuth, SigV4Auth  # type: ignore[import-untyped]
from botocore.awsrequest import AWSRequest  # type: ignore[import-untyped]
from botocore.credentials import Credentials  # type: ignore[import-untyped]

from tools.local.aws import PortInUseError
from tools.local.gateway import (
    LocalServer,
    Reply,
    Request,
    SignatureError,
    TokenBucket,
    fill_references,
    verify_sigv4,
)

KEY, SECRET = "ASIALOCALKEY", "local-secret"
SECRETS = {KEY: SECRET}.get


def signed(method: str, url: str, body: bytes = b"", *, service: str = "execute-api",
           region: str = "eu-west-1", headers: dict[str, str] | None = None) -> Request:
    aws = AWSRequest(method=method, url=url, data=body, headers=headers or {})
    SigV4Auth(Credentials(KEY, SECRET, "token"), service, region).add_auth(aws)
    return as_received(aws)


def as_received(aws: AWSRequest) -> Request:
    parts = urlsplit(aws.url)
    headers = [("Host", parts.netloc), *((k, str(v)) for k, v in aws.headers.items())]
    return Request(aws.method, parts.path, parts.query, headers, aws.body or b"")


def test_a_header_signed_request_verifies_and_names_its_key() -> None:
    request = signed("POST", "https://abc.execute-api.eu-west-1.amazonaws.com/match?name=Acme%20Corp"
                     "&limit=3", b'{"name": "Acme"}')
    assert verify_sigv4(request, service="execute-api", region="eu-west-1",
                        secret_for=SECRETS) == KEY


def test_paths_with_encoded_characters_verify_as_aws_normalizes_them() -> None:
    request = signed("GET", "http://127.0.0.1:4567/dev/customizations/a%20b")
    assert verify_sigv4(request, service="execute-api", region=None, secret_for=SECRETS) == KEY


@pytest.mark.parametrize("tamper", ["body", "path", "query", "header", "secret", "service"])
def test_any_change_to_a_signed_part_is_refused(tamper: str) -> None:
    request = signed("POST", "https://abc.execute-api.eu-west-1.amazonaws.com/match?x=1",
                     b"{}", headers={"X-Custom": "a"})
    changed = {
        "body": Request(request.method, request.raw_path, request.query, request.headers, b"[]"),
        "path": Request(request.method, "/other", request.query, request.headers, request.body),
        "query": Request(request.method, request.raw_path, "x=2", request.headers, request.body),
        "header": Request(request.method, request.raw_path, request.query,
                          [(k, "b" if k == "X-Custom" else v) for k, v in request.headers],
                          request.body),
    }.get(tamper, request)
    secrets = {KEY: "another"}.get if tamper == "secret" else SECRETS
    with pytest.raises(SignatureError):
        verify_sigv4(changed, service="s3" if tamper == "service" else "execute-api",
                     region="eu-west-1", secret_for=secrets)


def test_unknown_keys_missing_signatures_and_old_requests_are_refused() -> None:
    request = signed("GET", "http://127.0.0.1:4567/match")
    with pytest.raises(SignatureError, match="security token"):
        verify_sigv4(request, service="execute-api", region=None, secret_for=lambda key: None)
    with pytest.raises(SignatureError, match="Missing Authentication Token"):
        verify_sigv4(Request("GET", "/match", "", [("Host", "x")], b""),
                     service="execute-api", region=None, secret_for=SECRETS)
    with pytest.raises(SignatureError, match="expired"):
        verify_sigv4(request, service="execute-api", region=None, secret_for=SECRETS,
                     now=datetime.now(UTC) + timedelta(minutes=20))


def test_temporary_credentials_need_their_own_session_token() -> None:
    request = signed("GET", "http://127.0.0.1:4567/match")  # signed with token "token"
    assert verify_sigv4(request, service="execute-api", region=None, secret_for=SECRETS,
                        session_token_for={KEY: "token"}.get) == KEY
    with pytest.raises(SignatureError, match="security token"):
        verify_sigv4(request, service="execute-api", region=None, secret_for=SECRETS,
                     session_token_for={KEY: "another session's token"}.get)


def test_presigned_s3_urls_verify_until_they_expire() -> None:
    aws = AWSRequest(method="GET", url="http://olap-111122223333.127.0.0.1:4566/docs/a%20b.pdf")
    S3SigV4QueryAuth(Credentials(KEY, SECRET, "token"), "s3", "eu-west-1", expires=60).add_auth(aws)
    request = as_received(aws)
    assert verify_sigv4(request, service="s3", region="eu-west-1", secret_for=SECRETS) == KEY
    with pytest.raises(SignatureError, match="expired"):
        verify_sigv4(request, service="s3", region="eu-west-1", secret_for=SECRETS,
                     now=datetime.now(UTC) + timedelta(seconds=61))


def test_a_token_bucket_allows_its_burst_then_its_rate() -> None:
    now = [0.0]
    bucket = TokenBucket(rate=2, burst=3, clock=lambda: now[0])
    assert [bucket.take() for _ in range(4)] == [True, True, True, False]
    now[0] += 0.5
    assert [bucket.take(), bucket.take()] == [True, False]


@pytest.fixture
def server() -> Iterator[LocalServer]:
    def handle(request: Request) -> Reply:
        if request.raw_path == "/boom":
            raise RuntimeError("a front's bug")
        return Reply.json(201, {"path": request.raw_path, "query": request.query_multi(),
                                "body": request.body.decode(), "ip": request.source_ip})

    running = LocalServer("probe", handle).start()
    yield running
    running.stop()


def test_a_local_server_hands_requests_to_its_front_and_hides_its_failures(
        server: LocalServer) -> None:
    posted = urllib.request.Request(  # noqa: S310 (local server)
        f"{server.url}/things?a=1&a=2", data=b"hi", method="POST")
    with urllib.request.urlopen(posted) as answer:  # noqa: S310 (local server)
        assert answer.status == 201
        assert json.load(answer) == {"path": "/things", "query": {"a": ["1", "2"]},
                                     "body": "hi", "ip": "127.0.0.1"}
    with pytest.raises(urllib.error.HTTPError) as failed:
        urllib.request.urlopen(f"{server.url}/boom")  # noqa: S310 (local server)
    assert failed.value.code == 500
    message = json.load(failed.value)["message"]
    assert "probe" in message
    assert "Traceback" not in message


def test_a_port_in_use_is_named(server: LocalServer) -> None:
    with pytest.raises(PortInUseError, match=f"port {server.port}"):
        LocalServer("second", lambda request: Reply(200), port=server.port).start()


def test_a_reply_with_its_own_date_and_server_is_sent_with_one_of_each() -> None:
    reply = Reply(200, [("Date", "Tue, 01 Dec 2026 10:00:00 GMT"), ("Server", "CloudFront")])
    server = LocalServer("dated", lambda request: reply).start()
    try:
        with urllib.request.urlopen(server.url) as answer:  # noqa: S310 (local server)
            assert answer.headers.get_all("Date") == ["Tue, 01 Dec 2026 10:00:00 GMT"]
            assert answer.headers.get_all("Server") == ["CloudFront"]
    finally:
        server.stop()


def test_variable_references_are_filled_as_api_gateway_fills_them() -> None:
    values = {("context", "requestId"): "r-1", ("context", "identity.userAgent"): 'say "hi"',
              ("context", "error.messageString"): '"Forbidden"', ("stageVariables", "v"): True,
              ("context", "identity"): {"nested": "mapping"}}

    def value_of(root: str, path: str) -> object:
        return values.get((root, path))

    template = ('{"id":"$context.requestId","agent":"$context.identity.userAgent",'
                '"v":"${stageVariables.v}","who":"$context.identity","gone":"$context.nope"}')
    assert json.loads(fill_references(template, value_of, missing="-", json_escape=True)) == {
        "id": "r-1", "agent": 'say "hi"', "v": "true", "who": "-", "gone": "-"}
    assert fill_references('{"message":$context.error.messageString}', value_of,
                           missing="") == '{"message":"Forbidden"}'
