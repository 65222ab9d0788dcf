"""The per-version hello API, driven with API Gateway REST (v1) proxy events."""

from __future__ import annotations

import importlib
import json
import sys
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import pytest

from tests.functions import events
from tests.functions.events import LambdaContext

GREETING = "API v.1: Hello world!"
V1_MEDIA_TYPE = "application/vnd.example.v1+json"


CONTEXT = LambdaContext("hello-v1")


@pytest.fixture
def hello(monkeypatch: pytest.MonkeyPatch) -> Iterator[ModuleType]:
    """The module imported afresh under the environment the function block gives it."""
    monkeypatch.setenv("GREETING", GREETING)
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "hello")
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "ServerlessBlueprints")
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "true")
    sys.modules.pop("hello.app", None)
    yield importlib.import_module("hello.app")
    sys.modules.pop("hello.app", None)


def rest_event(path: str, *, stage: str = "v1", **kwargs: Any) -> dict[str, Any]:
    """A request for the hello API, forwarded by CloudFront, for v1 unless ``stage`` says."""
    return events.rest_event(path, stage=stage, cloudfront=True,
                             headers={"Accept": V1_MEDIA_TYPE}, **kwargs)


def test_get_hello_answers_the_greeting(hello: ModuleType) -> None:
    response = hello.handler(rest_event("/hello"), CONTEXT)

    assert response["statusCode"] == 200
    assert json.loads(response["body"]) == {"message": GREETING}
    assert response["multiValueHeaders"]["Content-Type"] == ["application/json"]


def test_greeting_comes_from_the_environment(hello: ModuleType,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GREETING", "API v.2: Hello world!")

    response = hello.handler(rest_event("/hello", stage="v2"), CONTEXT)

    assert json.loads(response["body"]) == {"message": "API v.2: Hello world!"}


# A 404 publishes no application metric, and Powertools warns about that.
NO_METRICS = pytest.mark.filterwarnings("ignore:No application metrics to publish")


@NO_METRICS
def test_unknown_route_is_a_json_404(hello: ModuleType) -> None:
    response = hello.handler(rest_event("/goodbye", resource="/{proxy+}"), CONTEXT)

    assert response["statusCode"] == 404
    assert json.loads(response["body"]) == {"statusCode": 404, "message": "Not found"}


@NO_METRICS
def test_other_methods_on_hello_are_not_routes(hello: ModuleType) -> None:
    response = hello.handler(rest_event("/hello", method="POST"), CONTEXT)

    assert response["statusCode"] == 404


def test_greeting_emits_a_business_metric(hello: ModuleType,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    hello.handler(rest_event("/hello"), CONTEXT)

    blobs = [json.loads(line) for line in capsys.readouterr().out.splitlines()
             if line.startswith("{") and '"_aws"' in line]
    served = [blob for blob in blobs if "GreetingServed" in blob]
    assert served
    assert served[0]["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "ServerlessBlueprints"
    assert served[0]["service"] == "hello"
