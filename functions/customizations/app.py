"""The demo backend behind POST /customizations: partners submit unicorn customizations.

``POST /customizations`` takes a ``CustomizationPost`` body (``customization.schema.json``
beside this file, the same file the API Gateway model is built from), stores it in DynamoDB and
answers 201 ``{"id": ...}``. ``GET /customizations/{id}`` answers the stored customization.

API Gateway validates the body before the function runs; the function validates it again with
Powertools' validation utility, as defence in depth: a request the API's validator lets through
(a content type with no model, a change to the API that drops the validator) still cannot
store a malformed item. The validator here is also stricter about one detail: a pattern's ``$``
does not accept a trailing newline, which API Gateway's does.

- An invalid body (not JSON, nested deeper than ``blueprints_common.safe_json`` allows, not an
  object, failing the schema) is a 400 ``{"statusCode": 400, "message": "Invalid request
  body"}``, API Gateway's own message; an unknown or malformed id is a 404. Neither echoes the
  input. An event API Gateway never sends (no ``requestContext``, a body that is not a
  string...) is a 400 from ``blueprints_common.entry``.
- Items are written with ``attribute_not_exists(id)``, so nothing is ever overwritten. Each
  records its ``owner``: the API key id API Gateway resolved for the request, else the
  authorizer's principal, else ``anonymous`` (the first of them that is a non-empty string).
  GET answers only its owner's items (any other id is a 404, not a 403, so ids cannot be
  probed).
- ``Location`` is the request's own path (``requestContext.path``, with the stage or base path
  the caller used) and the new id, only when that path is made of URL path characters; else
  ``/<stage>/customizations``, and failing that ``/customizations``. A control character never
  reaches the header.
- DynamoDB failures are a 503 JSON answer, never a stack trace.
- CORS headers come from ``blueprints_common.cors`` (allow-list in ``ALLOWED_ORIGINS``).

**Idempotency** (``blueprints_common.idempotency``). A POST with an ``Idempotency-Key`` header
(any case; 1 to 255 visible ASCII characters, optionally in double quotes) is stored once per
key and caller (the ``owner`` above): a retry with the same key and the same customization,
within ``IDEMPOTENCY_EXPIRY_SECONDS``, gets the first answer again (201, the same ``id`` and
``Location``) and no second item. The same key with another customization is a 422, the same
key while the first request still runs a 409 with ``Retry-After``, a malformed key (or two) a
400, the idempotency table failing a 503, all JSON. A POST without the header is stored as
before, a new item each time: callers that predate the header keep working. An invalid body
is a 400 whatever the key, and is not stored.

Environment: ``TABLE_NAME`` (required; partition key ``id``, a string), ``IDEMPOTENCY_TABLE``
(required), ``IDEMPOTENCY_EXPIRY_SECONDS`` (default 86400), the CORS settings of
``blueprints_common.cors``, and Powertools' own ``POWERTOOLS_*`` variables. The role needs
``dynamodb:GetItem`` and ``PutItem`` on the table, and ``GetItem``, ``PutItem``, ``UpdateItem``
and ``DeleteItem`` on the idempotency table.
"""

from __future__ import annotations

import json
import os
import re
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3  # type: ignore[import-untyped]
from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.exceptions import (
    BadRequestError,
    NotFoundError,
)
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from blueprints_common import safe_json
from blueprints_common.cors import cors_config, vary_on_origin
from blueprints_common.entry import REST_PROXY, TRACE_AWS_CALLS, entry, rest_resolver
from blueprints_common.idempotency import Idempotency, IdempotencySettings, header_key
from blueprints_common.lazy import lazy
from botocore.exceptions import BotoCoreError, ClientError  # type: ignore[import-untyped]
from fastjsonschema import JsonSchemaValueException, compile

SCHEMA_PATH = Path(__file__).with_name("customization.schema.json")
SCHEMA: dict[str, Any] = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
FIELDS = tuple(SCHEMA["properties"])
# Compiled once per container: Powertools' validate() compiles the schema on every call, which
# costs milliseconds a request. fastjsonschema is the engine Powertools validation uses.
check_customization = compile(SCHEMA)
INVALID_BODY = "Invalid request body"
ANONYMOUS = "anonymous"
COLLECTION = "/customizations"
# RFC 3986 path characters (unreserved, sub-delims, ':', '@', and percent-escapes): nothing
# that could end or split a header.
_URL_PATH = re.compile(r"/[A-Za-z0-9\-._~!$&'()*+,;=:@%/]*")
_STAGE = re.compile(r"[A-Za-z0-9_-]{1,128}")

logger = Logger()
tracer = Tracer(auto_patch=True, patch_modules=TRACE_AWS_CALLS)
metrics = Metrics()
cors = cors_config()
app = rest_resolver(cors=cors)
dynamodb = lazy(lambda: boto3.resource("dynamodb"))
# Powertools writes DynamoDB's typed values: a plain client, not the resource's (which would
# type them again).
idempotency = Idempotency(IdempotencySettings.from_environ(),
                          lazy(lambda: boto3.client("dynamodb")), logger=logger, metrics=metrics)
idempotency.install(app)


class CustomizationExistsError(Exception):
    """An item with the new id already exists (the conditional put refused to overwrite it)."""


def parse_customization(event: Any) -> dict[str, Any]:
    """The request's body as a valid customization; ``BadRequestError`` otherwise."""
    try:
        # decoded_body undoes API Gateway's base64 for binary media types.
        payload = safe_json.loads(event.decoded_body or "")
    except ValueError:  # safe_json.InvalidJsonError, and base64 or UTF-8 that does not decode
        logger.info("Rejected a body that is not JSON")
        raise BadRequestError(INVALID_BODY) from None
    try:
        check_customization(payload)
    except JsonSchemaValueException as problem:
        # The rule and the field, never the value.
        logger.info("Rejected a body that fails the schema", rule=problem.rule,
                    field=problem.name)
        raise BadRequestError(INVALID_BODY) from None
    return {name: payload[name] for name in FIELDS}


def caller(event: Mapping[str, Any]) -> str:
    """Who made the request: the API key's id, else the authorizer's principal, else
    ``anonymous``; a value that is not a non-empty string does not count."""
    context = _object(event.get("requestContext"))
    for candidate in (_object(context.get("identity")).get("apiKeyId"),
                      _object(context.get("authorizer")).get("principalId")):
        if isinstance(candidate, str) and candidate:
            return candidate
    return ANONYMOUS


def collection_path(event: Mapping[str, Any]) -> str:
    """The path the caller posted to, for ``Location``: ``requestContext.path`` (with the
    stage or base path), else ``/<stage>/customizations``, else ``/customizations``; only a
    path of URL path characters is used."""
    context = _object(event.get("requestContext"))
    path, stage = context.get("path"), context.get("stage")
    if isinstance(path, str) and _URL_PATH.fullmatch(path):
        return path.rstrip("/")
    if isinstance(stage, str) and _STAGE.fullmatch(stage):
        return f"/{stage}{COLLECTION}"
    return COLLECTION


def _object(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def store(table: Any, customization: dict[str, Any], owner: str, *,
          item_id: str | None = None, now: datetime | None = None) -> str:
    """Writes a new customization and answers its id; never overwrites an existing item."""
    item_id = item_id or str(uuid.uuid4())
    created = (now or datetime.now(UTC)).isoformat(timespec="milliseconds")
    item = {**customization, "id": item_id, "owner": owner, "createdAt": created}
    try:
        table.put_item(Item=item, ConditionExpression="attribute_not_exists(id)")
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
            raise CustomizationExistsError(item_id) from None
        raise
    return item_id


def load(table: Any, item_id: str, owner: str) -> dict[str, Any] | None:
    """The owner's customization with that id, without its owner; ``None`` if there is none."""
    try:
        if str(uuid.UUID(item_id)) != item_id:
            return None
    except ValueError:
        return None
    item: dict[str, Any] | None = table.get_item(Key={"id": item_id}, ConsistentRead=True).get(
        "Item")
    if item is None or item.get("owner") != owner:
        return None
    return {name: item[name] for name in ("id", *FIELDS, "createdAt") if name in item}


def _table() -> Any:
    return dynamodb.Table(os.environ["TABLE_NAME"])


@idempotency.guard("customization")
def create(*, request: dict[str, Any], collection: str) -> dict[str, Any]:
    """Stores ``request["payload"]`` for ``request["caller"]``; the new ``id`` and its
    ``location``, which is what a retry with the same key is answered from."""
    item_id = store(_table(), request["payload"], request["caller"])
    metrics.add_metric(name="CustomizationCreated", unit=MetricUnit.Count, value=1)
    logger.info("Customization created", customization_id=item_id)
    return {"id": item_id, "location": f"{collection}/{item_id}"}


@app.post("/customizations")
@tracer.capture_method
def create_customization() -> Response[dict[str, Any]]:
    event = app.current_event
    customization = parse_customization(event)
    request = idempotency.request(header_key(event), caller(event.raw_event), customization)
    try:
        created = create(request=request, collection=collection_path(event.raw_event))
    except CustomizationExistsError:
        return Response(409, content_types.APPLICATION_JSON,
                        {"statusCode": 409, "message": "Customization already exists"})
    return Response(201, content_types.APPLICATION_JSON, {"id": created["id"]},
                    headers={"Location": created["location"]})


@app.get("/customizations/<item_id>")
@tracer.capture_method
def get_customization(item_id: str) -> dict[str, Any]:
    item = load(_table(), item_id, caller(app.current_event))
    if item is None:
        raise NotFoundError("Customization not found")
    return item


@app.exception_handler([ClientError, BotoCoreError])
def storage_unavailable(error: Exception) -> Response[dict[str, Any]]:
    logger.exception("DynamoDB request failed")
    return Response(503, content_types.APPLICATION_JSON,
                    {"statusCode": 503, "message": "The customizations store is unavailable"})


# The event carries the caller's API key (query string, requestContext.identity.apiKey); the
# entry never logs it, whatever POWERTOOLS_LOGGER_LOG_EVENT says.
@entry(REST_PROXY, logger=logger, tracer=tracer, metrics=metrics)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    idempotency.register(context)
    response = app.resolve(event, context)
    return vary_on_origin(response) if cors is not None else response
