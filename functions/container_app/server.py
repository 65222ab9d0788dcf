"""The container API's back end: a small product catalogue and its orders, over HTTP and JSON.

One image, one process: a ``ThreadingHTTPServer`` on ``PORT`` that serves the resources named
in ``APP_RESOURCES`` (``products``, ``orders`` or both), stored in the DynamoDB tables
``PRODUCTS_TABLE`` and ``ORDERS_TABLE``. The container API runs it as two Fargate services
(``APP_RESOURCES=products`` and ``APP_RESOURCES=orders``) behind the same load balancers.

Routes (every answer JSON, every error ``{"message": ...}`` with the problems named, never a
stack trace and never a client's value repeated):

- ``GET /health``: 200 while the process serves, 503 once it drains (SIGTERM).
- ``GET /products?limit=&next=``, ``GET|PUT|DELETE /products/{id}``: the catalogue; PUT takes
  ``{"name", "priceCents", "stock"?}`` and answers 201 when it created the product.
- ``POST /orders`` with ``{"productId", "quantity"}``: prices the order from the catalogue and
  records it (201, ``Location``); ``GET /orders/{id}``.

Logs are Powertools' structured JSON, one line per request (method, path, status, duration,
the X-Ray trace id API Gateway passes). SIGTERM (ECS stops a task so) drains: new connections
are refused, idle keep-alive connections closed, requests in flight finished, then the process
exits 0.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import os
import re
import signal
import socket
import sys
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import boto3
from aws_lambda_powertools import Logger
from blueprints_common import safe_json
from blueprints_common.environment import required, whole_number
from botocore.exceptions import ClientError

logger = Logger()

RESOURCES = ("products", "orders")
MAX_BODY_BYTES = 16 * 1024
ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
MAX_PRICE_CENTS = 100_000_000
MAX_STOCK = 1_000_000
MAX_QUANTITY = 100
DEFAULT_LIMIT = 50
MAX_LIMIT = 100
# Longer than the load balancers' idle timeout (60 s), so that they close idle connections
# first and never send a request on one the app has just closed.
KEEP_ALIVE_SECONDS = 75
THROTTLED = frozenset({"ProvisionedThroughputExceededException", "ThrottlingException",
                       "RequestLimitExceeded"})


class Problem(Exception):  # noqa: N818 (an answer, not a failure of the app)
    """An answer other than success: its status, message and named problems."""

    def __init__(self, status: HTTPStatus, message: str, problems: list[str] | None = None,
                 headers: Mapping[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.problems = problems or []
        self.headers = dict(headers or {})


@dataclass(frozen=True)
class Settings:
    """The app's environment, every problem reported at once."""

    port: int
    host: str
    resources: tuple[str, ...]
    products_table: str
    orders_table: str
    region: str | None = None

    @classmethod
    def from_environment(cls, environ: Mapping[str, str]) -> Settings:
        problems: list[str] = []
        port = whole_number(environ, "PORT", 8080, problems, minimum=1, maximum=65535)
        names = tuple(part.strip() for part in environ.get(
            "APP_RESOURCES", ",".join(RESOURCES)).split(",") if part.strip())
        unknown = [name for name in names if name not in RESOURCES]
        if unknown or not names:
            problems.append(f"APP_RESOURCES must name one or more of {', '.join(RESOURCES)}")
        products = required(environ, "PRODUCTS_TABLE", problems)
        orders = required(environ, "ORDERS_TABLE", problems) if "orders" in names else ""
        region = environ.get("AWS_REGION") or environ.get("AWS_DEFAULT_REGION")
        if not region:
            problems.append("AWS_REGION is required")
        if problems:
            raise ValueError("; ".join(problems))
        return cls(port, environ.get("HOST", "0.0.0.0"), names, products,  # noqa: S104
                   orders, region)


class Store:
    """The two tables; ``dynamodb`` is a boto3 DynamoDB resource (moto's in tests)."""

    def __init__(self, dynamodb: Any, products_table: str, orders_table: str) -> None:
        self.products = dynamodb.Table(products_table)
        self.orders = dynamodb.Table(orders_table) if orders_table else None


# --- requests ---------------------------------------------------------------------------------

def _plain(item: Mapping[str, Any]) -> dict[str, Any]:
    """A DynamoDB item with its numbers as ints (every number here is whole)."""
    return {key: int(value) if isinstance(value, Decimal) else value
            for key, value in item.items()}


def _whole(body: Mapping[str, Any], key: str, low: int, high: int, problems: list[str], *,
           optional: bool = False) -> int | None:
    value = body.get(key)
    if value is None and optional and key not in body:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        problems.append(f"{key}: must be a whole number from {low} to {high}")
        return None
    return value


def _fields(body: Any, allowed: tuple[str, ...], problems: list[str]) -> Mapping[str, Any]:
    if not isinstance(body, dict):
        raise Problem(HTTPStatus.BAD_REQUEST, "The body must be a JSON object")
    problems += [f"{key}: not a field; use {', '.join(allowed)}"
                 for key in sorted(set(body) - set(allowed))]
    return body


def _checked_id(value: str, what: str) -> str:
    if not ID.match(value):
        raise Problem(HTTPStatus.BAD_REQUEST, "Invalid request",
                      [f"{what}: must be 1 to 64 letters, digits, '-' or '_'"])
    return value


def product_from(body: Any) -> dict[str, Any]:
    """A product's fields from a PUT body; Problem 400 naming every bad field."""
    problems: list[str] = []
    fields = _fields(body, ("name", "priceCents", "stock"), problems)
    name = fields.get("name")
    if not isinstance(name, str) or not 1 <= len(name.strip()) <= 200:
        problems.append("name: must be a string of 1 to 200 characters")
    price = _whole(fields, "priceCents", 0, MAX_PRICE_CENTS, problems)
    stock = _whole(fields, "stock", 0, MAX_STOCK, problems, optional=True)
    if problems:
        raise Problem(HTTPStatus.BAD_REQUEST, "Invalid product", problems)
    product = {"name": str(name).strip(), "priceCents": price}
    return product if stock is None else {**product, "stock": stock}


def order_from(body: Any) -> tuple[str, int]:
    """The product id and quantity of a POST /orders body; Problem 400 naming every bad field."""
    problems: list[str] = []
    fields = _fields(body, ("productId", "quantity"), problems)
    product_id = fields.get("productId")
    if not isinstance(product_id, str) or not ID.match(product_id):
        problems.append("productId: must be 1 to 64 letters, digits, '-' or '_'")
    quantity = _whole(fields, "quantity", 1, MAX_QUANTITY, problems)
    if problems or quantity is None:
        raise Problem(HTTPStatus.BAD_REQUEST, "Invalid order", problems)
    return str(product_id), quantity


def _page_token(key: Mapping[str, Any] | None) -> str | None:
    return None if key is None else base64.urlsafe_b64encode(
        str(key["id"]).encode()).decode().rstrip("=")


def _start_key(token: str) -> dict[str, str]:
    try:
        decoded = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        decoded = ""
    if not ID.match(decoded):
        raise Problem(HTTPStatus.BAD_REQUEST, "Invalid request",
                      ["next: not a token this API gave"])
    return {"id": decoded}


# --- the routes -------------------------------------------------------------------------------

Answer = tuple[HTTPStatus, Any, dict[str, str]]


class Catalogue:
    """What each route does, on the store; plain methods that raise ``Problem``."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def list_products(self, query: Mapping[str, list[str]]) -> Answer:
        problems: list[str] = []
        limit = DEFAULT_LIMIT
        if "limit" in query:
            text = query["limit"][-1]
            if not text.isdigit() or not 1 <= int(text) <= MAX_LIMIT:
                problems.append(f"limit: must be a whole number from 1 to {MAX_LIMIT}")
            else:
                limit = int(text)
        unknown = sorted(set(query) - {"limit", "next"})
        problems += [f"{key}: not a parameter; use limit, next" for key in unknown]
        if problems:
            raise Problem(HTTPStatus.BAD_REQUEST, "Invalid request", problems)
        scan: dict[str, Any] = {"Limit": limit}
        if "next" in query:
            scan["ExclusiveStartKey"] = _start_key(query["next"][-1])
        page = self.store.products.scan(**scan)
        items = sorted((_plain(item) for item in page.get("Items", [])),
                       key=lambda item: item["id"])
        return HTTPStatus.OK, {"products": items,
                               "next": _page_token(page.get("LastEvaluatedKey"))}, {}

    def get_product(self, product_id: str) -> Answer:
        item = self.store.products.get_item(Key={"id": product_id}).get("Item")
        if item is None:
            raise Problem(HTTPStatus.NOT_FOUND, "No such product")
        return HTTPStatus.OK, _plain(item), {}

    def put_product(self, product_id: str, body: Any) -> Answer:
        product = {"id": product_id, **product_from(body),
                   "updatedAt": datetime.now(UTC).isoformat(timespec="seconds")}
        old = self.store.products.put_item(Item=product, ReturnValues="ALL_OLD").get(
            "Attributes")
        return (HTTPStatus.OK if old else HTTPStatus.CREATED), product, {}

    def delete_product(self, product_id: str) -> Answer:
        try:
            self.store.products.delete_item(Key={"id": product_id},
                                            ConditionExpression="attribute_exists(id)")
        except ClientError as error:
            if error.response["Error"]["Code"] == "ConditionalCheckFailedException":
                raise Problem(HTTPStatus.NOT_FOUND, "No such product") from None
            raise
        return HTTPStatus.NO_CONTENT, None, {}

    def place_order(self, body: Any) -> Answer:
        product_id, quantity = order_from(body)
        product = self.store.products.get_item(Key={"id": product_id}).get("Item")
        if product is None:
            raise Problem(HTTPStatus.UNPROCESSABLE_ENTITY, "Invalid order",
                          ["productId: no such product"])
        unit = int(product["priceCents"])
        order = {"id": str(uuid.uuid4()), "productId": product_id, "quantity": quantity,
                 "unitPriceCents": unit, "totalCents": unit * quantity,
                 "createdAt": datetime.now(UTC).isoformat(timespec="seconds")}
        assert self.store.orders is not None  # routed only where orders are served
        self.store.orders.put_item(Item=order,
                                   ConditionExpression="attribute_not_exists(id)")
        return HTTPStatus.CREATED, order, {"Location": f"/orders/{order['id']}"}

    def get_order(self, order_id: str) -> Answer:
        assert self.store.orders is not None
        item = self.store.orders.get_item(Key={"id": order_id}).get("Item")
        if item is None:
            raise Problem(HTTPStatus.NOT_FOUND, "No such order")
        return HTTPStatus.OK, _plain(item), {}


Route = Callable[[Catalogue, list[str], Mapping[str, list[str]], Callable[[], Any]], Answer]


def route(resources: tuple[str, ...], method: str,
          path: str) -> tuple[list[str], Route] | None:
    """The route for a method and path among the served resources; None for no such path.
    Problem 405 (with Allow) for a path that exists with other methods."""
    parts = [part for part in path.split("/") if part]
    table: dict[str, Route] = {}
    if parts == ["products"] and "products" in resources:
        table = {"GET": lambda app, _, query, __: app.list_products(query)}
    elif len(parts) == 2 and parts[0] == "products" and "products" in resources:
        table = {
            "GET": lambda app, p, _, __: app.get_product(_checked_id(p[1], "id")),
            "PUT": lambda app, p, _, body: app.put_product(_checked_id(p[1], "id"), body()),
            "DELETE": lambda app, p, _, __: app.delete_product(_checked_id(p[1], "id"))}
    elif parts == ["orders"] and "orders" in resources:
        table = {"POST": lambda app, _, __, body: app.place_order(body())}
    elif len(parts) == 2 and parts[0] == "orders" and "orders" in resources:
        table = {"GET": lambda app, p, _, __: app.get_order(_checked_id(p[1], "id"))}
    if not table:
        return None
    if method not in table:
        raise Problem(HTTPStatus.METHOD_NOT_ALLOWED, "Method not allowed",
                      headers={"Allow": ", ".join(sorted(table))})
    return parts, table[method]


# --- the server -------------------------------------------------------------------------------

class Server(ThreadingHTTPServer):
    """Threads per connection, joined on close; ``drain`` for a graceful stop."""

    daemon_threads = False
    block_on_close = True

    def __init__(self, address: tuple[str, int], settings: Settings, store: Store) -> None:
        self.settings = settings
        self.catalogue = Catalogue(store)
        self.draining = threading.Event()
        self.stopped = threading.Event()
        self._lock = threading.Lock()
        self._connections: dict[socket.socket, bool] = {}  # socket -> busy
        super().__init__(address, Handler)

    def busy(self, connection: socket.socket, busy: bool) -> None:
        with self._lock:
            self._connections[connection] = busy

    def gone(self, connection: socket.socket) -> None:
        with self._lock:
            self._connections.pop(connection, None)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A connection the client (or a load balancer's health check) dropped is one log
        line, not the stack trace ``socketserver`` prints."""
        error = sys.exc_info()[1]
        if isinstance(error, ConnectionError):
            logger.info("connection dropped", client=client_address[0], error=type(error).__name__)
            return
        logger.exception("connection failed", client=client_address[0])

    def drain(self) -> None:
        """Stop accepting, close idle keep-alive connections, let requests in flight finish
        (they answer with ``Connection: close``). Returns once nothing is being served."""
        self.draining.set()
        self.shutdown()
        with self._lock:
            idle = [connection for connection, busy in self._connections.items() if not busy]
        for connection in idle:
            with contextlib.suppress(OSError):  # already closed by the client
                connection.shutdown(socket.SHUT_RDWR)
        self.server_close()
        self.stopped.set()


class Handler(BaseHTTPRequestHandler):
    """Routes, answers JSON, logs one structured line per request."""

    server: Server
    protocol_version = "HTTP/1.1"
    server_version = "container-app"
    sys_version = ""
    timeout = KEEP_ALIVE_SECONDS

    def setup(self) -> None:
        super().setup()
        self.server.busy(self.connection, False)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.gone(self.connection)

    def parse_request(self) -> bool:
        self.server.busy(self.connection, True)
        self._started = time.monotonic()
        return super().parse_request()

    def handle_one_request(self) -> None:
        try:
            super().handle_one_request()
        finally:
            self.server.busy(self.connection, False)
        if self.server.draining.is_set():
            self.close_connection = True

    # Every method goes through one dispatcher: unknown ones get a JSON 405 or 404.
    def do_GET(self) -> None:
        self._dispatch()

    do_PUT = do_POST = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = do_GET  # noqa: N815

    def _dispatch(self) -> None:
        split = urlsplit(self.path)
        path = split.path
        try:
            query = parse_qs(split.query, keep_blank_values=True, strict_parsing=False)
            if path.rstrip("/") == "/health":
                if self.command not in ("GET", "HEAD"):
                    raise Problem(HTTPStatus.METHOD_NOT_ALLOWED, "Method not allowed",
                                  headers={"Allow": "GET, HEAD"})
                draining = self.server.draining.is_set()
                self._answer(HTTPStatus.SERVICE_UNAVAILABLE if draining else HTTPStatus.OK,
                             {"status": "draining" if draining else "ok"}, {}, log=False)
                return
            found = route(self.server.settings.resources, self.command, path)
            if found is None:
                raise Problem(HTTPStatus.NOT_FOUND, "No such resource")
            parts, handler = found
            status, body, headers = handler(self.server.catalogue, parts, query, self._body)
            self._answer(status, body, headers)
        except Problem as problem:
            self._problem(problem)
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code", "")
            if code in THROTTLED:
                self._problem(Problem(HTTPStatus.SERVICE_UNAVAILABLE, "Busy; try again",
                                      headers={"Retry-After": "1"}))
            else:
                logger.exception("DynamoDB refused the request", extra={"code": code})
                self._problem(Problem(HTTPStatus.INTERNAL_SERVER_ERROR, "Internal error"))
        except Exception:  # nothing reaches a client unanswered
            logger.exception("Request failed")
            self._problem(Problem(HTTPStatus.INTERNAL_SERVER_ERROR, "Internal error"))

    def _body(self) -> Any:
        """The request's JSON body; Problem 400/411/413/415 when there is none to read."""
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            self.close_connection = True
            raise Problem(HTTPStatus.LENGTH_REQUIRED, "Send the body with a Content-Length")
        length_text = self.headers.get("Content-Length")
        if length_text is None or not length_text.strip().isdigit():
            self.close_connection = True
            raise Problem(HTTPStatus.LENGTH_REQUIRED, "Send the body with a Content-Length")
        length = int(length_text)
        if length > MAX_BODY_BYTES:
            self.close_connection = True  # the body is left unread
            raise Problem(HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                          f"The body may have {MAX_BODY_BYTES} bytes at most")
        content = self.rfile.read(length)
        media = self.headers.get("Content-Type", "").split(";")[0].strip().lower()
        if media != "application/json":
            raise Problem(HTTPStatus.UNSUPPORTED_MEDIA_TYPE, "Send application/json")
        try:
            return safe_json.loads(content)
        except safe_json.InvalidJsonError as error:
            raise Problem(HTTPStatus.BAD_REQUEST, f"Invalid JSON: {error}") from None

    def _problem(self, problem: Problem) -> None:
        body: dict[str, Any] = {"message": problem.message}
        if problem.problems:
            body["problems"] = problem.problems
        self._answer(problem.status, body, problem.headers)

    def _answer(self, status: HTTPStatus, body: Any, headers: Mapping[str, str], *,
                log: bool = True) -> None:
        payload = b"" if body is None else _json_bytes(body)
        self.send_response(status)
        if body is not None:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("Cache-Control", "no-store")
        for name, value in headers.items():
            self.send_header(name, value)
        if self.close_connection or self.server.draining.is_set():
            self.close_connection = True
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)
        if log or status >= 400:
            headers_in = getattr(self, "headers", None)
            logger.info("request", extra={
                "method": self.command, "path": urlsplit(getattr(self, "path", "")).path[:200],
                "status": int(status),
                "durationMs": round((time.monotonic() - self._started) * 1000, 1),
                "traceId": headers_in.get("X-Amzn-Trace-Id") if headers_in else None})

    def send_error(self, code: int, message: str | None = None,
                   explain: str | None = None) -> None:
        """http.server's own refusals (a bad request line, headers too long), as JSON."""
        if not hasattr(self, "_started"):
            self._started = time.monotonic()
        self.close_connection = True
        try:
            status = HTTPStatus(code)
        except ValueError:
            status = HTTPStatus.BAD_REQUEST
        if not hasattr(self, "command") or self.command is None:
            self.command = ""
        # A request line it could not read leaves HTTP/0.9, which answers without a status line
        # or headers: answer as HTTP/1.1 instead.
        self.request_version = self.protocol_version
        self._answer(status, {"message": status.phrase}, {})

    def log_message(self, format: str, *args: Any) -> None:
        """http.server's own log lines: answered requests are logged by ``_answer``."""


def _json_bytes(body: Any) -> bytes:
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()


def make_server(settings: Settings, store: Store) -> Server:
    """A server bound to ``settings``' host and port (0: any free port), not yet serving."""
    return Server((settings.host, settings.port), settings, store)


def serve(server: Server) -> None:
    """Serves until SIGTERM or SIGINT, then drains."""
    def stop(signum: int, _frame: Any) -> None:
        logger.info("stopping", extra={"signal": signal.Signals(signum).name})
        threading.Thread(target=server.drain, name="drain").start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    logger.info("serving", extra={"port": server.server_address[1],
                                  "resources": list(server.settings.resources)})
    server.serve_forever()
    # serve_forever returns once drain has called shutdown; drain then closes and joins.
    server.stopped.wait()
    logger.info("stopped")


def main(environ: Mapping[str, str] = os.environ) -> int:
    try:
        settings = Settings.from_environment(environ)
    except ValueError as error:
        logger.error("Invalid settings", extra={"problems": str(error)})
        return 2
    server = make_server(settings, Store(boto3.resource("dynamodb", region_name=settings.region),
                                         settings.products_table,
                                         settings.orders_table))
    serve(server)
    return 0


if __name__ == "__main__":
    sys.exit(main())
