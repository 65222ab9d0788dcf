"""The private API's whoami handler, driven with the REST proxy events a PRIVATE API sends: the
caller's SigV4 identity, the VPC endpoint and VPC it came through, and the private DNS name."""

from __future__ import annotations

import importlib
import io
import json
import logging
import sys
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import pytest

from tests.functions import events
from tests.functions.events import LambdaContext

CONTEXT = LambdaContext("private-api-whoami")
ON_PREMISES_CLIENT = "172.31.20.15"
VPC_ENDPOINT = "vpce-0ac4147ba9386c9a7"
VPC = "vpc-0c00ca6aa29c8472f"
CALLER = "arn:aws:sts::111111111111:assumed-role/network-engineer/alice"
ACCESS_KEY = "ASIAEXAMPLEACCESSKEY"
STAGE = "DemoStage"
# A metric-less 404 makes Powertools warn that there is none.
NO_METRICS = pytest.mark.filterwarnings("ignore:No application metrics to publish")


@pytest.fixture
def whoami(monkeypatch: pytest.MonkeyPatch) -> Iterator[ModuleType]:
    """The module imported afresh under the environment the function block gives it, its log
    captured."""
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "privateApi")
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "ServerlessBlueprints")
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "true")
    sys.modules.pop("private_api_whoami.app", None)
    module = importlib.import_module("private_api_whoami.app")
    handler = module.logger.registered_handler
    assert isinstance(handler, logging.StreamHandler)
    monkeypatch.setattr(handler, "stream", io.StringIO())
    yield module
    sys.modules.pop("private_api_whoami.app", None)


def private_event(path: str = "/whoami", **changes: Any) -> dict[str, Any]:
    """``GET /whoami`` as a PRIVATE API passes it on: called by its private DNS name from on
    premises, through the execute-api endpoint, signed by an IAM role."""
    event = events.rest_event(path, stage=STAGE, headers={"Accept": "*/*",
                                                         "User-Agent": "curl/8.5.0",
                                                         "X-Forwarded-For": ON_PREMISES_CLIENT})
    event["requestContext"]["identity"] |= {
        "sourceIp": ON_PREMISES_CLIENT, "vpceId": VPC_ENDPOINT, "vpcId": VPC,
        "accountId": "111111111111", "caller": "AROAEXAMPLEROLEID:alice",
        "accessKey": ACCESS_KEY, "userArn": CALLER, "userAgent": "curl/8.5.0"}
    event["requestContext"] |= changes
    return event


def answer(response: dict[str, Any]) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(response["body"])
    return body


def test_whoami_answers_the_path_and_the_caller(whoami: ModuleType) -> None:
    response = whoami.handler(private_event(), CONTEXT)

    assert response["statusCode"] == 200
    assert response["multiValueHeaders"]["Cache-Control"] == ["no-store"]
    assert response["multiValueHeaders"]["Content-Type"] == ["application/json"]
    assert answer(response) == {
        "sourceIp": ON_PREMISES_CLIENT, "vpcEndpointId": VPC_ENDPOINT, "vpcId": VPC,
        "requestId": "c6af9ac6-7b61-11e6-9a41-93e8deadbeef", "stage": STAGE,
        "apiId": events.API_ID, "host": events.API_DOMAIN,
        "requestTime": "26/Nov/2026:15:04:05 +0000",
        "caller": {"arn": CALLER, "accountId": "111111111111"},
    }


def test_the_access_key_and_the_callers_principal_id_are_never_answered(
        whoami: ModuleType) -> None:
    body = whoami.handler(private_event(), CONTEXT)["body"]

    assert ACCESS_KEY not in body
    assert "AROAEXAMPLEROLEID" not in body


def test_a_request_without_an_endpoint_is_answered_and_counted(
        whoami: ModuleType, capsys: pytest.CaptureFixture[str]) -> None:
    event = private_event()
    for field in ("vpceId", "vpcId", "userArn", "accountId"):
        event["requestContext"]["identity"][field] = None

    body = answer(whoami.handler(event, CONTEXT))

    assert (body["vpcEndpointId"], body["vpcId"]) == (None, None)
    assert body["caller"] == {"arn": None, "accountId": None}
    metrics = [json.loads(line) for line in capsys.readouterr().out.splitlines()
               if '"_aws"' in line]
    assert any(blob.get("CalledWithoutVpcEndpoint") == [1.0] or
               blob.get("CalledWithoutVpcEndpoint") == 1.0 for blob in metrics)


def test_the_answer_is_logged_with_the_endpoint_and_stage_only(whoami: ModuleType) -> None:
    whoami.handler(private_event(), CONTEXT)

    lines = [json.loads(line) for line in
             whoami.logger.registered_handler.stream.getvalue().splitlines()]
    [answered] = [line for line in lines if line["message"] == "Answered who called"]
    assert (answered["vpcEndpointId"], answered["stage"]) == (VPC_ENDPOINT, STAGE)
    assert answered["correlation_id"] == "c6af9ac6-7b61-11e6-9a41-93e8deadbeef"
    logged = json.dumps(lines)
    for private in (CALLER, ACCESS_KEY, ON_PREMISES_CLIENT):
        assert private not in logged


@NO_METRICS
def test_another_route_is_a_json_404(whoami: ModuleType) -> None:
    response = whoami.handler(private_event("/admin"), CONTEXT)

    assert response["statusCode"] == 404
    assert answer(response) == {"statusCode": 404, "message": "Not found"}


@NO_METRICS
@pytest.mark.parametrize("event", [
    None, {}, {"Records": [{}]},
    {**private_event(), "requestContext": []},
    {**private_event(), "httpMethod": 7},
    {**private_event(), "requestContext": {**private_event()["requestContext"],
                                           "identity": "vpce-0ac4147ba9386c9a7"}},
], ids=["null", "empty", "records", "context a list", "method a number", "identity a string"])
def test_an_event_api_gateway_never_sends_is_a_400(whoami: ModuleType, event: Any) -> None:
    response = whoami.handler(event, CONTEXT)

    assert response["statusCode"] == 400
    body = answer(response)
    assert body["statusCode"] == 400
    assert body["message"].startswith("The request event is malformed: ")


def test_only_strings_are_answered(whoami: ModuleType) -> None:
    event = private_event()
    event["requestContext"]["identity"] |= {"vpceId": 42, "sourceIp": ["10.0.0.1"]}

    body = answer(whoami.handler(event, CONTEXT))

    assert (body["vpcEndpointId"], body["sourceIp"]) == (None, None)
