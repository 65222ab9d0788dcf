"""Billing (the microservice cache's use case 1): an account's loans, status and outstanding
balance, cache-aside over DynamoDB.

One route, behind an HTTP API with IAM authorization:

- ``GET /billing/{accountId}``: the summary ``{"accountId", "balance", "currency", "loans",
  "status", "updatedAt"}`` from the cache (``X-Cache: HIT``), else from the accounts table,
  then cached for ``BILLING_TTL_SECONDS`` (``X-Cache: MISS``). When the cache is down or
  skipped after a failure the table answers (``X-Cache: BYPASS``): a cache outage slows the
  service and never fails it. An id that is not 1 to 64 letters, digits, '-' or '_' is a 400;
  an unknown account a 404; a DynamoDB failure a 503 with ``Retry-After``.

A payment changes the balance: the payment service publishes ``payment_processed`` and the
cache manager drops (or refreshes) ``billing:<accountId>``; the TTL bounds what a lost event
could leave stale.

Environment: ``ACCOUNTS_TABLE`` (required), ``BILLING_TTL_SECONDS`` (1 to 86400, default 300),
the cache's (``cache_aside.settings``) and Powertools' ``POWERTOOLS_*``; every problem is
reported at import, at once. The role needs ``dynamodb:GetItem`` on the table and
``elasticache:Connect`` on the cache and its user.

Metrics: ``CacheReads`` with a ``result`` dimension (``hit``, ``miss``, ``bypass``),
``AccountNotFound`` and ``StoreUnavailable``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import boto3  # type: ignore[import-untyped]
from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.exceptions import (
    BadRequestError,
    NotFoundError,
)
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from blueprints_common.entry import HTTP_API, TRACE_AWS_CALLS, entry, http_resolver
from blueprints_common.environment import required, whole_number
from blueprints_common.lazy import aws_region, lazy
from cache_aside import answers, keys, records
from cache_aside.cache import STORE_CONFIG, Cache, connect, role_credentials
from cache_aside.settings import CacheSettings

BAD_ID = "accountId must be 1 to 64 letters, digits, '-' or '_'"

logger = Logger()
tracer = Tracer(auto_patch=True, patch_modules=TRACE_AWS_CALLS)
metrics = Metrics()


@dataclass(frozen=True)
class Settings:
    accounts_table: str
    ttl_seconds: int
    cache: CacheSettings

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> Settings:
        environ = os.environ if environ is None else environ
        problems: list[str] = []
        table = required(environ, "ACCOUNTS_TABLE", problems)
        ttl = whole_number(environ, "BILLING_TTL_SECONDS", 300, problems, minimum=1,
                           maximum=86400, unit="seconds")
        cache = CacheSettings.from_environ(environ, problems)
        if problems:
            raise ValueError("invalid billing settings: " + "; ".join(problems))
        return cls(accounts_table=table, ttl_seconds=ttl, cache=cache)


settings = Settings.from_environ()
app = http_resolver()
# A read is milliseconds: short timeouts turn a slow store into a 503, not a Lambda timeout.
accounts = lazy(lambda: boto3.resource("dynamodb", config=STORE_CONFIG)
                .Table(settings.accounts_table))
cache = Cache(connect(settings.cache, aws_region(), role_credentials),
              settings.cache.breaker_seconds)
answers.install(app, logger=logger, metrics=metrics,
                unavailable="Billing is unavailable; try again")


@app.get("/billing/<account_id>")
@tracer.capture_method(capture_response=False)
def get_billing(account_id: str) -> Response[Any]:
    if not keys.is_identifier(account_id):
        raise BadRequestError(BAD_ID)
    read = cache.read(keys.billing_key(account_id), settings.ttl_seconds,
                      lambda: records.billing_summary(accounts, account_id))
    x_cache = answers.count(read, tracer=tracer, metrics=metrics)
    logger.info("Billing summary read", accountId=account_id, cache=x_cache)
    if read.value is None:
        metrics.add_metric(name="AccountNotFound", unit=MetricUnit.Count, value=1)
        raise NotFoundError("Account not found")
    return answers.json(200, read.value, {"X-Cache": x_cache})


@entry(HTTP_API, logger=logger, tracer=tracer, metrics=metrics, capture_response=False,
       clear_state=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
