"""queryKeyApi in local mode, as a partner meets it: API keys in the query string checked by the
REQUEST authorizer and metered by the usage plans, the request validator in front of the
function, throttling per tier, CORS preflights and gateway responses."""

from __future__ import annotations

import uuid
from collections import Counter

import pytest

from tests.functions.events import GOOD
from tests.local.e2e.support import Answer, call
from tools.local.rest_api import local_key_value
from tools.local.stack import LocalStack

API = "queryKeyApi-api"
FUNCTION = "queryKeyApi-customizations-function"
ORIGIN = "https://app.dev.example.com"


def key(stack: LocalStack, consumer: str) -> str:
    assert stack.run is not None
    found = [r for r in stack.run.of_type("aws:apigateway/apiKey:ApiKey")
             if r.inputs.get("name") == consumer]
    return local_key_value(str(found[0].state["id"]))


def customizations(stack: LocalStack, method: str, path: str = "", *, api_key: str | None,
                   body: object = None, headers: dict[str, str] | None = None) -> Answer:
    assert stack.started is not None
    query = f"?apiKey={api_key}" if api_key else ""
    return call(method, f"{stack.started.url(API)}/customizations{path}{query}",
                body=body, headers=headers)  # type: ignore[arg-type]


def test_a_partner_stores_and_reads_a_customization_with_its_key(local_dev: LocalStack) -> None:
    premium = key(local_dev, "wild-rydes-partner")
    created = customizations(local_dev, "POST", api_key=premium, body=GOOD)
    assert created.status == 201, created.body
    item_id = created.json()["id"]
    assert created.header("Location") or "".endswith(f"/customizations/{item_id}")
    read = customizations(local_dev, "GET", f"/{item_id}", api_key=premium)
    assert read.status == 200, read.body
    assert read.json()["name"] == GOOD["name"]
    other = customizations(local_dev, "GET", f"/{item_id}",
                           api_key=key(local_dev, "trial-partner"))
    assert other.status == 404


def test_requests_without_a_known_key_are_refused(local_dev: LocalStack) -> None:
    assert customizations(local_dev, "POST", api_key=None, body=GOOD).status == 401
    unknown = customizations(local_dev, "POST", api_key="x" * 40, body=GOOD)
    assert unknown.status == 403
    # acceptHeaderKey is off in the dev stack: a key in x-api-key is not read.
    in_header = customizations(local_dev, "POST", api_key=None, body=GOOD,
                               headers={"x-api-key": key(local_dev, "wild-rydes-partner")})
    assert in_header.status == 401
    assert in_header.header("Access-Control-Allow-Origin") == ORIGIN


def test_the_validator_answers_a_bad_body_before_the_function_runs(local_dev: LocalStack) -> None:
    assert local_dev.lambdas is not None
    before = local_dev.lambdas.invoked[FUNCTION]
    answer = customizations(local_dev, "POST", api_key=key(local_dev, "wild-rydes-partner"),
                            body={**GOOD, "horn": 2, "unexpected": True})
    assert answer.status == 400
    assert answer.json() == {"message": "Invalid request body"}
    assert answer.header("Access-Control-Allow-Origin") == ORIGIN
    assert local_dev.lambdas.invoked[FUNCTION] == before


def test_the_free_tier_is_throttled_past_its_burst_and_premium_is_not(
        local_dev: LocalStack) -> None:
    free, premium = key(local_dev, "trial-partner"), key(local_dev, "wild-rydes-partner")
    free_statuses = Counter(customizations(local_dev, "GET", "/missing", api_key=free).status
                            for _ in range(25))
    assert free_statuses[429] > 0, free_statuses
    # The burst is 10; the module's first test spent one of them.
    assert free_statuses[404] >= 9, free_statuses
    premium_statuses = Counter(customizations(local_dev, "GET", "/missing",
                                              api_key=premium).status for _ in range(25))
    assert premium_statuses == Counter({404: 25})


@pytest.mark.parametrize("path", ["", "/abc"])
def test_a_preflight_from_the_web_app_is_allowed_and_others_are_not(local_dev: LocalStack,
                                                                    path: str) -> None:
    preflight = {"Origin": ORIGIN, "Access-Control-Request-Method": "POST",
                 "Access-Control-Request-Headers": "content-type"}
    allowed = customizations(local_dev, "OPTIONS", path, api_key=None, headers=preflight)
    assert allowed.status == 200
    assert allowed.header("Access-Control-Allow-Origin") == ORIGIN
    assert "POST" in (allowed.header("Access-Control-Allow-Methods") or "")
    other = customizations(local_dev, "OPTIONS", path, api_key=None,
                           headers={**preflight, "Origin": "https://evil.example.com"})
    assert other.header("Access-Control-Allow-Origin") is None


def test_a_retried_post_with_its_idempotency_key_stores_once(local_dev: LocalStack) -> None:
    premium = key(local_dev, "wild-rydes-partner")
    idempotency_key = {"Idempotency-Key": str(uuid.uuid4())}
    first = customizations(local_dev, "POST", api_key=premium, body=GOOD,
                           headers=idempotency_key)
    again = customizations(local_dev, "POST", api_key=premium, body=GOOD,
                           headers=idempotency_key)
    assert (first.status, again.status) == (201, 201), (first.body, again.body)
    assert again.json() == first.json()
    assert again.header("Location") == first.header("Location")
    other = customizations(local_dev, "POST", api_key=premium,
                           body={**GOOD, "name": "Another unicorn"}, headers=idempotency_key)
    assert other.status == 422, other.body
    assert other.json() == {"statusCode": 422, "message": "This Idempotency-Key was already "
                                                          "used with another request"}
    # Another partner's same key is another request.
    trial = customizations(local_dev, "POST", api_key=key(local_dev, "trial-partner"),
                           body=GOOD, headers=idempotency_key)
    assert trial.status == 201
    assert trial.json()["id"] != first.json()["id"]
    assert local_dev.aws is not None
    assert local_dev.run is not None
    records = local_dev.aws.client("dynamodb", "eu-west-1").scan(
        TableName=local_dev.run.outputs["queryKeyApi"]["idempotencyTableName"])["Items"]
    assert len(records) >= 2


def test_a_browser_may_send_an_idempotency_key(local_dev: LocalStack) -> None:
    preflight = customizations(local_dev, "OPTIONS", api_key=None, headers={
        "Origin": ORIGIN, "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type,idempotency-key"})
    assert preflight.status == 200
    allowed = (preflight.header("Access-Control-Allow-Headers") or "").split(",")
    assert "idempotency-key" in allowed
