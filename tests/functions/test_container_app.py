"""The container API's HTTP app (``container_app/server.py``, not a Lambda: no ``app.py``)
served in process on 127.0.0.1 against moto's DynamoDB: real requests over a socket, real tables
shaped as the service creates them (hash key ``id``). Every answer is JSON, every bad request a
4xx naming its problem without a stack trace; throttling is a 503 with Retry-After; draining
closes idle connections, finishes requests in flight and turns the health check to 503; the
process stops on SIGTERM."""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from unittest import mock

import boto3  # type: ignore[import-untyped]
import pytest
from botocore.exceptions import ClientError  # type: ignore[import-untyped]
from container_app import server as app
from moto import mock_aws

from tests.functions.test_entity_index_builder import set_aws_environment

ROOT = Path(__file__).resolve().parents[2]
PRODUCTS = "products-table"
ORDERS = "orders-table"


@dataclass
class Served:
    server: app.Server
    port: int

    def request(self, method: str, path: str, body: Any = None, *,
                headers: dict[str, str] | None = None,
                raw: bytes | None = None) -> tuple[int, dict[str, str], Any]:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        sent = raw if raw is not None else (None if body is None else json.dumps(body).encode())
        all_headers = {"Content-Type": "application/json", **(headers or {})}
        connection.request(method, path, body=sent, headers=all_headers)
        response = connection.getresponse()
        payload = response.read()
        answer = dict(response.getheaders())
        connection.close()
        return response.status, answer, json.loads(payload) if payload else None


def create_tables(dynamodb: Any) -> None:
    for name in (PRODUCTS, ORDERS):
        dynamodb.create_table(TableName=name, BillingMode="PAY_PER_REQUEST",
                              KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
                              AttributeDefinitions=[{"AttributeName": "id",
                                                     "AttributeType": "S"}])


def serve(resources: str = "products,orders") -> Iterator[Served]:
    settings = app.Settings.from_environment({
        "PORT": "8080", "PRODUCTS_TABLE": PRODUCTS, "ORDERS_TABLE": ORDERS,
        "APP_RESOURCES": resources, "AWS_REGION": "eu-west-1"})
    settings = app.Settings(0, "127.0.0.1", settings.resources, PRODUCTS, ORDERS)
    server = app.make_server(settings, app.Store(boto3.resource("dynamodb"), PRODUCTS, ORDERS))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield Served(server, server.server_address[1])
    finally:
        if not server.draining.is_set():
            server.drain()
        thread.join(5)


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    set_aws_environment(monkeypatch)
    with mock_aws():
        create_tables(boto3.client("dynamodb"))
        yield


@pytest.fixture
def api(aws: None) -> Iterator[Served]:
    yield from serve()


# --- the catalogue -----------------------------------------------------------------------------

def test_a_product_is_created_read_listed_replaced_and_deleted(api: Served) -> None:
    status, _, created = api.request("PUT", "/products/tea-1",
                                     {"name": " Green tea ", "priceCents": 450, "stock": 3})
    assert status == 201
    assert created["name"] == "Green tea"
    item = boto3.resource("dynamodb").Table(PRODUCTS).get_item(Key={"id": "tea-1"})["Item"]
    assert (item["name"], int(item["priceCents"]), int(item["stock"])) == ("Green tea", 450, 3)
    status, _, found = api.request("GET", "/products/tea-1")
    assert (status, found["priceCents"], found["stock"]) == (200, 450, 3)
    status, _, replaced = api.request("PUT", "/products/tea-1", {"name": "Tea", "priceCents": 500})
    assert (status, replaced["priceCents"]) == (200, 500)
    api.request("PUT", "/products/mug", {"name": "Mug", "priceCents": 900})
    status, _, listed = api.request("GET", "/products")
    assert status == 200
    assert [p["id"] for p in listed["products"]] == ["mug", "tea-1"]
    status, headers, body = api.request("DELETE", "/products/tea-1")
    assert (status, body, headers["Content-Length"]) == (204, None, "0")
    assert api.request("GET", "/products/tea-1")[0] == 404
    assert api.request("DELETE", "/products/tea-1")[0] == 404


def test_listing_pages_with_the_token_it_gives(api: Served) -> None:
    for number in range(5):
        api.request("PUT", f"/products/p{number}", {"name": f"P{number}", "priceCents": number})
    seen: list[str] = []
    path = "/products?limit=2"
    for _ in range(10):
        status, _, page = api.request("GET", path)
        assert status == 200
        assert len(page["products"]) <= 2
        seen += [product["id"] for product in page["products"]]
        if page["next"] is None:
            break
        path = f"/products?limit=2&next={page['next']}"
    assert sorted(seen) == [f"p{number}" for number in range(5)]


def test_an_order_is_priced_from_the_catalogue_and_recorded(api: Served) -> None:
    api.request("PUT", "/products/mug", {"name": "Mug", "priceCents": 900})
    status, headers, order = api.request("POST", "/orders", {"productId": "mug", "quantity": 3})
    assert status == 201
    assert (order["unitPriceCents"], order["totalCents"], order["quantity"]) == (900, 2700, 3)
    assert headers["Location"] == f"/orders/{order['id']}"
    stored = boto3.resource("dynamodb").Table(ORDERS).get_item(Key={"id": order["id"]})["Item"]
    assert int(stored["totalCents"]) == 2700
    status, _, found = api.request("GET", headers["Location"])
    assert (status, found) == (200, order)
    status, _, refused = api.request("POST", "/orders", {"productId": "nope", "quantity": 1})
    assert (status, refused["problems"]) == (422, ["productId: no such product"])


# --- bad requests ------------------------------------------------------------------------------

@pytest.mark.parametrize(("method", "path", "body", "status", "expected"), [
    ("PUT", "/products/a", {"name": "", "priceCents": -1, "colour": "red"}, 400,
     ["colour: not a field; use name, priceCents, stock", "name: must be a string of 1 to 200 "
      "characters", "priceCents: must be a whole number from 0 to 100000000"]),
    ("PUT", "/products/a", {"name": "A", "priceCents": True}, 400,
     ["priceCents: must be a whole number from 0 to 100000000"]),
    ("PUT", "/products/a", {"name": "A", "priceCents": 1, "stock": 1.5}, 400,
     ["stock: must be a whole number from 0 to 1000000"]),
    ("PUT", "/products/a", [1, 2], 400, None),
    ("POST", "/orders", {"productId": "x y", "quantity": 0}, 400,
     ["productId: must be 1 to 64 letters, digits, '-' or '_'",
      "quantity: must be a whole number from 1 to 100"]),
    ("GET", "/products/" + "x" * 65, None, 400,
     ["id: must be 1 to 64 letters, digits, '-' or '_'"]),
    ("GET", "/products?limit=0", None, 400, ["limit: must be a whole number from 1 to 100"]),
    ("GET", "/products?limit=2&sort=name", None, 400, ["sort: not a parameter; use limit, next"]),
    ("GET", "/products?next=%21%21", None, 400, ["next: not a token this API gave"]),
    ("GET", "/nothing", None, 404, None),
    ("GET", "/products/a/b", None, 404, None),
    ("POST", "/products", None, 405, None),
    ("PATCH", "/orders/abc", None, 405, None),
])
def test_bad_requests_get_a_4xx_json_answer_naming_the_problem(
        api: Served, method: str, path: str, body: Any, status: int,
        expected: list[str] | None) -> None:
    got, headers, answer = api.request(method, path, body)
    assert got == status
    assert headers["Content-Type"] == "application/json"
    assert isinstance(answer["message"], str)
    if expected is not None:
        assert sorted(answer["problems"]) == sorted(expected)
    assert "Traceback" not in json.dumps(answer)
    if status == 405:
        assert headers["Allow"]


def test_bodies_that_are_not_json_too_large_or_unannounced_are_refused(api: Served) -> None:
    status, _, answer = api.request("PUT", "/products/a", raw=b"{not json")
    assert (status, answer["message"]) == (400, "Invalid JSON: the text is not valid JSON")
    deep = b"[" * 5000 + b"]" * 5000
    assert api.request("PUT", "/products/a", raw=deep)[0] == 400
    assert api.request("PUT", "/products/a", raw=b"NaN")[0] == 400
    too_large = json.dumps({"name": "x" * 20_000, "priceCents": 1}).encode()
    assert api.request("PUT", "/products/a", raw=too_large)[0] == 413
    status, _, answer = api.request("PUT", "/products/a", {"name": "A", "priceCents": 1},
                                    headers={"Content-Type": "text/plain"})
    assert (status, answer["message"]) == (415, "Send application/json")
    connection = http.client.HTTPConnection("127.0.0.1", api.port, timeout=5)
    connection.putrequest("POST", "/orders")
    connection.putheader("Content-Type", "application/json")
    connection.endheaders()
    response = connection.getresponse()
    assert response.status == 411
    assert json.loads(response.read())["message"] == "Send the body with a Content-Length"


def test_a_malformed_request_line_gets_json_too(api: Served) -> None:
    with socket.create_connection(("127.0.0.1", api.port), timeout=5) as raw:
        raw.sendall(b"BREW /pot HTTP/9.9\r\n\r\n")
        chunks = []
        while chunk := raw.recv(4096):  # the app closes the connection after answering
            chunks.append(chunk)
        answer = b"".join(chunks).decode()
    head, _, body = answer.partition("\r\n\r\n")
    assert head.startswith("HTTP/1.1 505 ")
    assert "application/json" in head
    assert "message" in json.loads(body)


def test_failures_of_the_table_are_503_when_throttled_and_500_otherwise(api: Served) -> None:
    def throttled(*_: Any, **__: Any) -> Any:
        raise ClientError({"Error": {"Code": "ThrottlingException", "Message": "slow down"}},
                          "GetItem")

    with mock.patch.object(api.server.catalogue.store.products, "get_item", throttled):
        status, headers, answer = api.request("GET", "/products/a")
    assert (status, headers["Retry-After"], answer) == (503, "1", {"message": "Busy; try again"})
    with mock.patch.object(api.server.catalogue.store.products, "get_item",
                           side_effect=RuntimeError("secret detail")):
        status, _, answer = api.request("GET", "/products/a")
    assert (status, answer) == (500, {"message": "Internal error"})


def test_a_back_end_serves_only_its_own_resources(aws: None) -> None:
    for served in serve("orders"):
        assert served.request("GET", "/products")[0] == 404
        assert served.request("GET", "/orders/abc")[0] == 404  # served, not found
        assert served.request("GET", "/orders/abc")[2] == {"message": "No such order"}


def test_settings_name_every_problem() -> None:
    with pytest.raises(ValueError, match="PORT") as raised:
        app.Settings.from_environment({"PORT": "99999", "APP_RESOURCES": "carts"})
    message = str(raised.value)
    assert "PORT" in message
    assert "APP_RESOURCES must name one or more of products, orders" in message
    assert "PRODUCTS_TABLE is required" in message
    assert "AWS_REGION is required" in message


# --- health and draining -----------------------------------------------------------------------

def test_health_answers_until_the_app_drains(api: Served) -> None:
    assert api.request("GET", "/health")[:3:2] == (200, {"status": "ok"})
    assert api.request("POST", "/health")[0] == 405


def test_draining_finishes_requests_in_flight_and_closes_idle_connections(api: Served) -> None:
    api.request("PUT", "/products/slow", {"name": "Slow", "priceCents": 1})
    idle = http.client.HTTPConnection("127.0.0.1", api.port, timeout=5)
    idle.request("GET", "/health")
    idle.getresponse().read()  # kept alive, now idle
    release = threading.Event()
    original = api.server.catalogue.get_product

    def slow(product_id: str) -> Any:
        release.wait(5)
        return original(product_id)

    answers: list[Any] = []
    with mock.patch.object(api.server.catalogue, "get_product", slow):
        busy = threading.Thread(target=lambda: answers.append(
            api.request("GET", "/products/slow")))
        busy.start()
        time.sleep(0.2)
        drained = threading.Thread(target=api.server.drain)
        drained.start()
        time.sleep(0.2)
        assert not api.server.stopped.is_set()  # waits for the request in flight
        release.set()
        busy.join(5)
        drained.join(5)
    assert api.server.stopped.is_set()
    [(status, headers, body)] = answers
    assert (status, body["id"], headers["Connection"]) == (200, "slow", "close")
    idle.request("GET", "/health")  # the app closed it: no answer comes
    with pytest.raises((ConnectionError, http.client.RemoteDisconnected)):
        idle.getresponse()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", api.port), timeout=1)


def test_the_process_serves_logs_json_and_stops_on_sigterm(tmp_path: Path) -> None:
    """The app as the container runs it: ``python3 server.py``, against moto's server."""
    from moto.server import ThreadedMotoServer

    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0)
    moto.start()
    try:
        endpoint = f"http://127.0.0.1:{moto._server.server_port}"  # type: ignore[union-attr]
        environment = {**{k: v for k, v in os.environ.items() if not k.startswith("AWS_")},
                       "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                       "AWS_REGION": "eu-west-1", "AWS_ENDPOINT_URL": endpoint,
                       "PORT": str(_free_port()), "HOST": "127.0.0.1",
                       "PRODUCTS_TABLE": PRODUCTS, "ORDERS_TABLE": ORDERS,
                       "POWERTOOLS_SERVICE_NAME": "containerApi",
                       "PYTHONPATH": str(ROOT / "functions")}
        create_tables(boto3.client("dynamodb", endpoint_url=endpoint, region_name="eu-west-1",
                                   aws_access_key_id="testing",
                                   aws_secret_access_key="testing"))
        process = subprocess.Popen(  # noqa: S603 (this interpreter, the app's own file)
            [sys.executable, str(ROOT / "functions/container_app/server.py")], env=environment,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True)
        port = int(environment["PORT"])
        served = Served(mock.Mock(), port)
        for _ in range(100):
            try:
                assert served.request("GET", "/health")[0] == 200
                break
            except ConnectionError:
                time.sleep(0.05)
        assert served.request("PUT", "/products/a", {"name": "A", "priceCents": 1})[0] == 201
        assert _health_check(environment) == 0
        process.send_signal(signal.SIGTERM)
        stdout, _ = process.communicate(timeout=10)
        assert process.returncode == 0
        lines = [json.loads(line) for line in stdout.splitlines()]
        request = next(line for line in lines if line["message"] == "request")
        assert (request["method"], request["path"], request["status"]) == (
            "PUT", "/products/a", 201)
        assert request["service"] == "containerApi"
        assert lines[-1]["message"] == "stopped"
        assert _health_check(environment) == 1
    finally:
        moto.stop()


def _health_check(environment: dict[str, str]) -> int:
    """The container's health check command, as the task definition runs it."""
    return subprocess.run(  # noqa: S603 (this interpreter, the app's own file)
        [sys.executable, str(ROOT / "functions/container_app/healthcheck.py")],
        env=environment, timeout=10, check=False).returncode


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# --- the image ---------------------------------------------------------------------------------

def test_the_image_copies_what_the_app_imports_and_pins_what_the_tests_ran() -> None:
    folder = ROOT / "functions" / "container_app"
    dockerfile = (folder / "Dockerfile").read_text(encoding="utf-8")
    assert "COPY blueprints_common/ /app/blueprints_common/" in dockerfile
    assert "COPY container_app/server.py container_app/healthcheck.py /app/" in dockerfile
    assert "USER 1000:1000" in dockerfile
    assert 'CMD ["python3", "server.py"]' in dockerfile
    ignored = (folder / "Dockerfile.dockerignore").read_text(encoding="utf-8").splitlines()
    assert ignored[1] == "*"  # only what the Dockerfile copies goes into the context

    def pins(path: Path) -> dict[str, str]:
        found = {}
        for line in path.read_text(encoding="utf-8").splitlines():
            line = line.split("#")[0].strip()
            if "==" in line:
                name, version = line.split("==")
                found[name.split("[")[0].lower().replace("_", "-")] = version
        return found

    image = pins(folder / "requirements.txt")
    tested = pins(ROOT / "requirements-dev.txt") | pins(ROOT / "requirements.txt")
    assert {"aws-lambda-powertools", "boto3"} <= set(image)
    assert {name: version for name, version in image.items() if name in tested} == {
        name: tested[name] for name in image if name in tested}
    from importlib.metadata import version
    assert all(version(name) == pinned for name, pinned in image.items())
