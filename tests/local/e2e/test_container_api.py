"""containerApi in local mode: the products and orders services run as local processes of
their image, reached through the REST API's VPC link and NLB and the HTTP API's VPC link and
ALB, with IAM authorization and the REST API's models in front."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

from tests.local.e2e.support import Answer, call, run_walk_through
from tools.local.stack import LocalStack

SERVICE = "containerApi"


def api(stack: LocalStack, kind: str, method: str, path: str,
        body: dict[str, Any] | None = None, *, signed: bool = True) -> Answer:
    assert stack.started is not None
    assert stack.aws is not None
    return call(method, f"{stack.started.url(f'containerApi-{kind}-api')}{path}", body=body,
                signed_by=stack.aws.credentials if signed else None)


def test_a_product_put_through_rest_is_ordered_through_http(local_dev: LocalStack) -> None:
    product = f"kettle-{uuid.uuid4().hex[:6]}"
    created = api(local_dev, "rest", "PUT", f"/products/{product}",
                  {"name": "Kettle", "priceCents": 2500})
    assert created.status in (200, 201), created.body
    assert api(local_dev, "http", "GET", f"/products/{product}").json()["priceCents"] == 2500

    order = api(local_dev, "http", "POST", "/orders", {"productId": product, "quantity": 3})
    assert order.status == 201, order.body
    placed = order.json()
    assert (placed["unitPriceCents"], placed["totalCents"]) == (2500, 7500)
    again = api(local_dev, "rest", "GET", f"/orders/{placed['id']}")
    assert (again.status, again.json()["id"]) == (200, placed["id"])


def test_requests_the_gateways_refuse_never_reach_a_task(local_dev: LocalStack) -> None:
    unsigned = api(local_dev, "rest", "GET", "/products", signed=False)
    invalid = api(local_dev, "rest", "PUT", "/products/cup", {"name": 5})
    unrouted = api(local_dev, "http", "GET", "/inventory")
    assert (unsigned.status, unsigned.json()) == (403, {"message": "Missing Authentication Token"})
    assert (invalid.status, invalid.json()) == (400, {"message": "Invalid request body"})
    assert (unrouted.status, unrouted.json()) == (404, {"message": "Not Found"})


def test_the_readme_walk_through_works_as_written(local_dev: LocalStack, tmp_path: Path) -> None:
    done = run_walk_through(local_dev, SERVICE, tmp_path)

    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert [json.loads(line) for line in lines] == [
        {"id": "mug", "priceCents": 900}, {"productId": "mug", "totalCents": 1800},
        {"message": "Invalid request body"},
        {"message": "Invalid order", "problems": ["productId: no such product"]}]
