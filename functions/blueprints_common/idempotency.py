"""Idempotency for the routes that create something: a retried request gets the first answer.

Built on Powertools' idempotency utility and its DynamoDB persistence layer, over the table the
foundation's ``IdempotencyStore`` builds. A route does its checks first (a 400 is never
stored), then calls a function guarded by ``Idempotency.guard`` with one keyword argument,
``request``, made by ``Idempotency.request(key, caller, payload)``:

- ``key`` is the client's idempotency key: the ``Idempotency-Key`` request header
  (``header_key``; IETF draft "The Idempotency-Key HTTP Header Field"), or a client-chosen id
  in the body. ``None`` runs the function without idempotency, as before the header existed.
- ``caller`` scopes the key: two callers who pick the same key never see each other's answer.
- ``payload`` is what the request asks for, once validated. The same key with another payload
  is refused.

The guarded function returns a JSON-serialisable dict: everything the route needs to rebuild
its answer (status, body, ``Location``...), because Powertools stores the function's return
value, not the HTTP response. A retry with the same key, caller and payload then gets that
dict back without the function running, and the route answers exactly as the first time. A
function that raises (a 404, a 409 the function decides, a DynamoDB failure) leaves no record:
the next retry runs it again.

Records are ``<name>#<SHA-256 of [caller, key]>`` (``name`` is the guard's: stable across
deployments, unlike the function's name), with the SHA-256 of the payload, the state and the
stored answer, and expire after ``IDEMPOTENCY_EXPIRY_SECONDS``. A record still in progress
holds the key until the invocation that wrote it would have timed out (the Lambda context's
remaining time, which ``Idempotency.register`` hands to Powertools); after that a retry runs
the function again. The one gap is Powertools': should the table fail after the function ran
(the answer cannot be stored), the client gets a 503, and a retry after that window runs the
function again; the payment's own table condition covers it there.

``Idempotency.install`` adds the answers to Powertools' exceptions to a resolver, each a JSON
``{"statusCode", "message"}`` with ``Cache-Control: no-store``, counted in a metric and logged
without the key:

- the same key with another payload (``IdempotencyValidationError``): **422**
  (``IdempotencyKeyReused``);
- the same key while its first request is still running (``IdempotencyAlreadyInProgressError``,
  a concurrent duplicate): **409** with ``Retry-After: 1`` (``IdempotencyInProgress``);
- the table failing (``IdempotencyPersistenceLayerError``, or records that keep changing under
  it, ``IdempotencyInconsistentStateError``): **503** with ``Retry-After: 2``
  (``IdempotencyStoreUnavailable``), never a stack trace.

A replay is logged and counted (``IdempotentReplays``).

Environment: ``IDEMPOTENCY_TABLE`` (required; partition key ``id``, TTL on ``expiration``) and
``IDEMPOTENCY_EXPIRY_SECONDS`` (default 86400, from 60 to 604800). The role needs
``dynamodb:GetItem``, ``PutItem``, ``UpdateItem`` and ``DeleteItem`` on the table. The handler
makes the DynamoDB client and hands it in (only entry points make clients): a plain
``boto3.client("dynamodb")``, since a resource's client would type the values a second time.
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar, cast

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.exceptions import BadRequestError
from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyAlreadyInProgressError,
    IdempotencyInconsistentStateError,
    IdempotencyPersistenceLayerError,
    IdempotencyValidationError,
)

from blueprints_common.environment import required, whole_number
from blueprints_common.lazy import lazy

if TYPE_CHECKING:
    from aws_lambda_powertools import Logger, Metrics
    from aws_lambda_powertools.event_handler.api_gateway import ApiGatewayResolver
    from aws_lambda_powertools.utilities.idempotency.persistence.datarecord import DataRecord

TABLE_VARIABLE = "IDEMPOTENCY_TABLE"
EXPIRY_VARIABLE = "IDEMPOTENCY_EXPIRY_SECONDS"
DEFAULT_EXPIRY_SECONDS = 24 * 60 * 60
MIN_EXPIRY_SECONDS = 60
MAX_EXPIRY_SECONDS = 7 * 24 * 60 * 60
HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 255
# Visible ASCII but '"', ',' and '\': a bare key, or the draft's structured-field string
# ("...") without escapes. A comma is what joins two headers of the same name.
_KEY = re.compile(rf"[\x21\x23-\x2b\x2d-\x5b\x5d-\x7e]{{1,{MAX_KEY_LENGTH}}}")
BAD_KEY = (f"{HEADER} must be one header of 1 to {MAX_KEY_LENGTH} visible ASCII characters "
           "without quotes, commas or backslashes, optionally in double quotes")
IN_PROGRESS_RETRY_SECONDS = 1
UNAVAILABLE_RETRY_SECONDS = 2

Guarded = TypeVar("Guarded", bound=Callable[..., Any])


@dataclass(frozen=True)
class IdempotencySettings:
    """The records' table and how long a record answers retries."""

    table_name: str
    expires_after_seconds: int = DEFAULT_EXPIRY_SECONDS

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None,
                     problems: list[str] | None = None) -> IdempotencySettings:
        """The settings from ``environ`` (default ``os.environ``). Problems go to
        ``problems`` when given (the handler reports them with its own); else a
        ``ValueError`` lists them."""
        environ = os.environ if environ is None else environ
        found: list[str] = [] if problems is None else problems
        table = required(environ, TABLE_VARIABLE, found)
        expiry = whole_number(environ, EXPIRY_VARIABLE, DEFAULT_EXPIRY_SECONDS, found,
                              minimum=MIN_EXPIRY_SECONDS, maximum=MAX_EXPIRY_SECONDS,
                              unit="seconds")
        if problems is None and found:
            raise ValueError("invalid idempotency settings: " + "; ".join(found))
        return cls(table, expiry)


def header_key(event: Any) -> str | None:
    """The request's ``Idempotency-Key`` (any case), unquoted; ``None`` without one.
    ``BadRequestError`` for a malformed key, or for two of them (a REST API lists both in
    ``multiValueHeaders``; an HTTP API joins them with a comma)."""
    values = getattr(event, "multi_value_headers", {}).get(HEADER) or []
    single = event.headers.get(HEADER)
    if len(values) > 1:
        raise BadRequestError(BAD_KEY)
    if single is None:
        return None
    value = str(single).strip(" \t")
    if len(value) >= 2 and value[0] == value[-1] == '"':
        value = value[1:-1]
    if not _KEY.fullmatch(value):
        raise BadRequestError(BAD_KEY)
    return value


class Idempotency:
    """Powertools' persistence layer and config for one handler, its guard and its answers."""

    def __init__(self, settings: IdempotencySettings, client: Any, *, logger: Logger,
                 metrics: Metrics | None = None) -> None:
        self.settings = settings
        self.logger = logger
        self.metrics = metrics
        self.config = IdempotencyConfig(
            event_key_jmespath="[caller, key]", payload_validation_jmespath="payload",
            # Requests without a key never reach Powertools (guard): one that did is a bug.
            raise_on_no_idempotency_key=True,
            expires_after_seconds=settings.expires_after_seconds, hash_function="sha256",
            response_hook=self._replayed)
        # Made on the first guarded request: the layer touches its client when built, and a
        # client costs a cold start tens of milliseconds that reads and refusals never need.
        self.persistence: DynamoDBPersistenceLayer = lazy(lambda: DynamoDBPersistenceLayer(
            table_name=settings.table_name, boto3_client=client))

    @staticmethod
    def request(key: str | None, caller: str, payload: Mapping[str, Any]) -> dict[str, Any]:
        """The ``request`` argument of a guarded function."""
        return {"key": key, "caller": caller, "payload": dict(payload)}

    def register(self, context: Any) -> None:
        """Hands the invocation's context to Powertools, so that a record left in progress by
        an invocation that died frees its key when that invocation would have timed out."""
        self.config.register_lambda_context(context)

    def guard(self, name: str) -> Callable[[Guarded], Guarded]:
        """Makes a function idempotent per ``request`` (see the module's documentation);
        ``name`` prefixes its records."""

        def decorate(function: Guarded) -> Guarded:
            guarded = idempotent_function(
                function, data_keyword_argument="request", persistence_store=self.persistence,
                config=self.config, key_prefix=name)

            @functools.wraps(function)
            def run(*, request: Mapping[str, Any], **kwargs: Any) -> Any:
                if request.get("key") is None:
                    return function(request=request, **kwargs)
                return guarded(request=request, **kwargs)

            return cast(Guarded, run)

        return decorate

    def install(self, app: ApiGatewayResolver, key_name: str = HEADER) -> None:
        """Answers Powertools' idempotency errors on ``app``'s routes; ``key_name`` is what
        the messages call the key (the header, or a body field used as the key)."""

        @app.exception_handler(IdempotencyValidationError)
        def reused(error: IdempotencyValidationError) -> Response[Any]:
            self.logger.info("Refused a key reused with another request")
            return self._answer(422, "IdempotencyKeyReused",
                                f"This {key_name} was already used with another request")

        @app.exception_handler(IdempotencyAlreadyInProgressError)
        def in_progress(error: IdempotencyAlreadyInProgressError) -> Response[Any]:
            self.logger.info("Refused a duplicate of a request still in progress")
            return self._answer(409, "IdempotencyInProgress",
                                f"A request with this {key_name} is still in progress; "
                                "retry later", IN_PROGRESS_RETRY_SECONDS)

        @app.exception_handler([IdempotencyPersistenceLayerError,
                                IdempotencyInconsistentStateError])
        def unavailable(error: Exception) -> Response[Any]:
            cause = error.__cause__
            self.logger.error("The idempotency store failed", errorType=type(error).__name__,
                              cause=type(cause).__name__ if cause is not None else None)
            return self._answer(503, "IdempotencyStoreUnavailable",
                                "The service is unavailable; try again",
                                UNAVAILABLE_RETRY_SECONDS)

    def _answer(self, status: int, metric: str, message: str,
                retry_after: int | None = None) -> Response[Any]:
        self._count(metric)
        headers = {"Cache-Control": "no-store"}
        if retry_after is not None:
            headers["Retry-After"] = str(retry_after)
        return Response(status, content_types.APPLICATION_JSON,
                        {"statusCode": status, "message": message}, headers=headers)

    def _replayed(self, response: Any, idempotent_data: DataRecord) -> Any:
        self.logger.info("Answered a retry with the first answer")
        self._count("IdempotentReplays")
        return response

    def _count(self, metric: str) -> None:
        if self.metrics is not None:
            self.metrics.add_metric(name=metric, unit="Count", value=1)
