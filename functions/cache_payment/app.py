"""Payment (the microservice cache's use case 1): records a payment against an account and
tells the cache manager, through EventBridge, that the account's billing summary changed.

One route, behind an HTTP API with IAM authorization:

- ``POST /payments`` with ``{"paymentId", "accountId", "amount"}``: ``paymentId`` is chosen by
  the client (1 to 64 letters, digits, '-' or '_'; a UUID is best), ``amount`` a positive
  number of at most 1,000,000 with at most two decimals. One DynamoDB transaction writes the
  payment (only if its id is new) and takes the amount off the account's balance (only if the
  account exists): 201 ``{"paymentId", "accountId", "amount", "processedAt"}``.
  A retry of the same payment is answered as the first time (see Idempotency); a payment id
  already used otherwise is a 409 (or a 422), an unknown account a 404, a bad body a 400, a
  DynamoDB failure a 503 with ``Retry-After``.
- Then ``payment_processed`` (source ``blueprints.cache.payments``) goes to ``EVENT_BUS_NAME``
  with ``{"paymentId", "accountId", "amount"}``: the cache manager's rule matches it and drops
  or refreshes ``billing:<accountId>``. Should EventBridge refuse it, the payment stands, and
  the function drops the key itself (best effort); the billing TTL bounds the rest.

**Idempotency** (``blueprints_common.idempotency``). The payment's idempotency key is its
client-chosen ``paymentId``, which every request carries: no header is needed, and an
``Idempotency-Key`` header is ignored. The key is scoped to the caller's AWS account (the IAM
authorizer's ``accountId``). ``pay(request=...)``, the transaction and the event, runs once per
key: a retry of the same payment (same ``paymentId``, ``accountId`` and ``amount``) within
``IDEMPOTENCY_EXPIRY_SECONDS`` gets the first 201 and its receipt again, with no second debit
and no second event. The same ``paymentId`` with another account or amount is a 422 JSON
answer; a retry while the first is still running a 409 with ``Retry-After``; the idempotency
table failing a 503 with ``Retry-After``. A refusal (400, 404, 409) is not stored: a corrected
retry runs. After the record expires, or from another AWS account, the transaction's condition
still makes a used ``paymentId`` a 409 rather than a second charge.

Environment: ``ACCOUNTS_TABLE``, ``PAYMENTS_TABLE``, ``EVENT_BUS_NAME``, ``IDEMPOTENCY_TABLE``
(required), ``IDEMPOTENCY_EXPIRY_SECONDS`` (default 86400), the cache's
(``cache_aside.settings``) and Powertools' ``POWERTOOLS_*``. The role needs
``dynamodb:PutItem`` on the payments table, ``dynamodb:UpdateItem`` on the accounts table,
``dynamodb:GetItem``, ``PutItem``, ``UpdateItem`` and ``DeleteItem`` on the idempotency table,
``events:PutEvents`` on the bus, and ``elasticache:Connect`` on the cache and its user.

Metrics: ``PaymentsProcessed``, ``PaymentsRefused`` (with a ``reason`` dimension),
``CacheNotificationsFailed``, ``StoreUnavailable``, and the idempotency helper's
(``IdempotentReplays``, ``IdempotencyKeyReused``, ``IdempotencyInProgress``,
``IdempotencyStoreUnavailable``).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import boto3  # type: ignore[import-untyped]
from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.exceptions import (
    BadRequestError,
    NotFoundError,
    ServiceError,
)
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from blueprints_common import safe_json
from blueprints_common.entry import HTTP_API, TRACE_AWS_CALLS, entry, http_resolver
from blueprints_common.environment import required
from blueprints_common.idempotency import Idempotency, IdempotencySettings
from blueprints_common.lazy import aws_region, lazy
from botocore.exceptions import BotoCoreError, ClientError  # type: ignore[import-untyped]
from cache_aside import answers, keys
from cache_aside.cache import STORE_CONFIG, Cache, connect, role_credentials
from cache_aside.settings import CacheSettings

MAX_AMOUNT = Decimal(1_000_000)
FIELDS = {"paymentId", "accountId", "amount"}

logger = Logger()
tracer = Tracer(auto_patch=True, patch_modules=TRACE_AWS_CALLS)
metrics = Metrics()


@dataclass(frozen=True)
class Settings:
    accounts_table: str
    payments_table: str
    event_bus_name: str
    cache: CacheSettings
    idempotency: IdempotencySettings

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> Settings:
        environ = os.environ if environ is None else environ
        problems: list[str] = []
        accounts_table = required(environ, "ACCOUNTS_TABLE", problems)
        payments_table = required(environ, "PAYMENTS_TABLE", problems)
        bus = required(environ, "EVENT_BUS_NAME", problems)
        cache = CacheSettings.from_environ(environ, problems)
        idempotency = IdempotencySettings.from_environ(environ, problems)
        if problems:
            raise ValueError("invalid payment settings: " + "; ".join(problems))
        return cls(accounts_table, payments_table, bus, cache, idempotency)


class ConflictError(ServiceError):
    def __init__(self, message: str) -> None:
        super().__init__(409, message)


settings = Settings.from_environ()
app = http_resolver()
dynamodb = lazy(lambda: boto3.client("dynamodb", config=STORE_CONFIG))
events = lazy(lambda: boto3.client("events", config=STORE_CONFIG))
cache = Cache(connect(settings.cache, aws_region(), role_credentials),
              settings.cache.breaker_seconds)
idempotency = Idempotency(settings.idempotency, dynamodb, logger=logger, metrics=metrics)
idempotency.install(app, key_name="paymentId")
answers.install(app, logger=logger, metrics=metrics,
                unavailable="Payments are unavailable; try again")


def utcnow() -> datetime:
    """The time of a payment (a seam for tests)."""
    return datetime.now(UTC)


def payment_request(body: str | None) -> dict[str, Any]:
    """The validated request; 400 naming what is wrong."""
    try:
        request = safe_json.loads(body or "")
    except ValueError as error:
        raise BadRequestError("The body must be a JSON object") from error
    if not isinstance(request, dict) or set(request) != FIELDS:
        raise BadRequestError("The body must be an object with exactly paymentId, accountId "
                              "and amount")
    for name in ("paymentId", "accountId"):
        if not keys.is_identifier(request[name]):
            raise BadRequestError(f"{name} must be 1 to 64 letters, digits, '-' or '_'")
    amount = request["amount"]
    try:
        value = Decimal(str(amount)) if isinstance(amount, int | float | str) \
            and not isinstance(amount, bool) else None
    except InvalidOperation:
        value = None
    if value is None or not value.is_finite() or not 0 < value <= MAX_AMOUNT \
            or value != value.quantize(Decimal("0.01")):
        raise BadRequestError("amount must be a number above 0 and at most 1000000, with at "
                              "most two decimals")
    return {"paymentId": request["paymentId"], "accountId": request["accountId"],
            "amount": str(value)}


def caller_account(event: Mapping[str, Any]) -> str:
    """The AWS account that signed the request (the IAM authorizer's), which scopes the
    idempotency key; ``unknown`` without one (an HTTP API with IAM authorization always
    has it)."""
    context = event.get("requestContext")
    authorizer = context.get("authorizer") if isinstance(context, Mapping) else None
    signer = authorizer.get("iam") if isinstance(authorizer, Mapping) else None
    account = signer.get("accountId") if isinstance(signer, Mapping) else None
    return account if isinstance(account, str) and account else "unknown"


def process_payment(*, request: dict[str, Any]) -> dict[str, Any]:
    """Records the payment and debits the account in one transaction; the receipt.

    The validated request in, a JSON-serialisable receipt out, nothing else read."""
    now = utcnow().isoformat(timespec="milliseconds").replace("+00:00", "Z")
    amount = {"N": request["amount"]}
    try:
        dynamodb.transact_write_items(TransactItems=[
            {"Put": {"TableName": settings.payments_table,
                     "Item": {"paymentId": {"S": request["paymentId"]},
                              "accountId": {"S": request["accountId"]},
                              "amount": amount, "processedAt": {"S": now}},
                     "ConditionExpression": "attribute_not_exists(paymentId)"}},
            {"Update": {"TableName": settings.accounts_table,
                        "Key": {"accountId": {"S": request["accountId"]}},
                        "UpdateExpression": "SET balance = balance - :amount, updatedAt = :now",
                        "ConditionExpression": "attribute_exists(accountId)",
                        "ExpressionAttributeValues": {":amount": amount, ":now": {"S": now}}}},
        ])
    except ClientError as error:
        reasons = [reason.get("Code") for reason in
                   error.response.get("CancellationReasons", [])]
        if error.response.get("Error", {}).get("Code") != "TransactionCanceledException":
            raise
        if reasons[:1] == ["ConditionalCheckFailed"]:
            _refused("duplicate")
            raise ConflictError("This paymentId has already been used") from error
        if reasons[1:2] == ["ConditionalCheckFailed"]:
            _refused("unknown-account")
            raise NotFoundError("Account not found") from error
        raise
    amount_value = Decimal(request["amount"])
    return {**request, "processedAt": now,
            "amount": int(amount_value) if amount_value == amount_value.to_integral_value()
            else float(amount_value)}


def _refused(reason: str) -> None:
    metrics.add_dimension(name="reason", value=reason)
    metrics.add_metric(name="PaymentsRefused", unit=MetricUnit.Count, value=1)


def notify(receipt: Mapping[str, Any]) -> bool:
    """Publishes ``payment_processed``; whether EventBridge took it."""
    detail = {name: receipt[name] for name in ("paymentId", "accountId", "amount")}
    try:
        answer = events.put_events(Entries=[{
            "EventBusName": settings.event_bus_name, "Source": keys.PAYMENT_SOURCE,
            "DetailType": keys.PAYMENT_PROCESSED, "Detail": json.dumps(detail)}])
    except (ClientError, BotoCoreError) as error:
        logger.error("payment_processed could not be published", errorType=type(error).__name__,
                     paymentId=receipt["paymentId"])
        return False
    if answer.get("FailedEntryCount"):
        logger.error("EventBridge refused payment_processed", paymentId=receipt["paymentId"],
                     errorCode=answer["Entries"][0].get("ErrorCode"))
        return False
    return True


@idempotency.guard("payment")
def pay(*, request: dict[str, Any]) -> dict[str, Any]:
    """The payment (``request["payload"]``), then ``payment_processed``; the receipt, which is
    what a retry with the same ``paymentId`` is answered from."""
    receipt = process_payment(request=request["payload"])
    metrics.add_metric(name="PaymentsProcessed", unit=MetricUnit.Count, value=1)
    logger.info("Payment processed", paymentId=receipt["paymentId"],
                accountId=receipt["accountId"])
    if not notify(receipt):
        metrics.add_metric(name="CacheNotificationsFailed", unit=MetricUnit.Count, value=1)
        cache.drop(keys.billing_key(receipt["accountId"]))
    return receipt


@app.post("/payments")
@tracer.capture_method(capture_response=False)
def post_payment() -> Response[Any]:
    request = payment_request(app.current_event.body)
    receipt = pay(request=idempotency.request(
        request["paymentId"], caller_account(app.current_event.raw_event), request))
    return answers.json(201, receipt)


@entry(HTTP_API, logger=logger, tracer=tracer, metrics=metrics, capture_response=False,
       clear_state=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    idempotency.register(context)
    return app.resolve(event, context)
