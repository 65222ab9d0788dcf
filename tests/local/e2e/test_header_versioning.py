"""headerVersioning in local mode, through its CloudFront distribution: the router Lambda@Edge
reads the version mappings table, signs its request to the version's IAM-authorized REST API,
and the distribution answers with its security headers."""

from __future__ import annotations

import pytest

from tests.local.e2e.support import call
from tools.local.stack import LocalStack

DISTRIBUTION = "headerVersioning-distribution"
V1 = "application/vnd.example.v1+json"
V2 = "application/vnd.example.v2+json"


def hello(stack: LocalStack, accept: str | None) -> tuple[int, dict[str, object], object]:
    assert stack.started is not None
    answer = call("GET", f"{stack.started.url(DISTRIBUTION)}/hello",
                  headers={"Accept": accept} if accept else {})
    return answer.status, {k.lower(): v for k, v in answer.headers.items()}, answer.json()


@pytest.mark.parametrize(("accept", "greeting"), [
    (V1, "API v.1: Hello world!"), (V2, "API v.2: Hello world!"),
    (f"text/html, {V2};q=0.9", "API v.2: Hello world!")])
def test_the_accept_header_picks_the_version(local_dev: LocalStack, accept: str,
                                             greeting: str) -> None:
    status, headers, body = hello(local_dev, accept)
    assert status == 200, body
    assert body == {"message": greeting}
    assert headers["x-frame-options"] == "DENY"
    assert "max-age=63072000" in str(headers["strict-transport-security"])


@pytest.mark.parametrize("accept", ["application/vnd.example.v9+json", None])
def test_an_unknown_or_missing_version_is_refused_without_reaching_an_api(
        local_dev: LocalStack, accept: str | None) -> None:
    status, _, body = hello(local_dev, accept)
    assert status == 403
    assert isinstance(body, dict)
    assert "message" in body
    assert "v9" not in str(body)


def test_the_versions_apis_refuse_requests_that_skip_the_router(local_dev: LocalStack) -> None:
    assert local_dev.started is not None
    answer = call("GET", f"{local_dev.started.url('headerVersioning-v1-api')}/hello")
    assert answer.status == 403
    assert answer.json() == {"message": "Missing Authentication Token"}
