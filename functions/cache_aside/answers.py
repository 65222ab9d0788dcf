"""What the cache service's HTTP functions answer alike: JSON that no client caches, the
``X-Cache`` of each read with its ``CacheReads`` metric, refusals as JSON, and a store failure
as a 503 with ``Retry-After`` (never a stack trace).

``install(app, logger=..., metrics=..., unavailable=...)`` gives a resolver its two error
answers; ``unavailable`` is the 503's message (``Billing is unavailable; try again``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types
from aws_lambda_powertools.event_handler.exceptions import ServiceError
from aws_lambda_powertools.metrics import MetricUnit
from botocore.exceptions import BotoCoreError, ClientError  # type: ignore[import-untyped]

from cache_aside.cache import Read

# Where a read was answered from, as the X-Cache header says it.
X_CACHE = {"cache": "HIT", "store": "MISS", "store-cache-down": "BYPASS"}


def json(status: int, body: Any, headers: Mapping[str, str] | None = None) -> Response[Any]:
    return Response(status, content_types.APPLICATION_JSON, body,
                    headers={"Cache-Control": "no-store", **(headers or {})})


def count(read: Read, *, tracer: Tracer, metrics: Metrics) -> str:
    """The read's ``X-Cache`` value; the read is counted (``CacheReads`` by ``result``) and
    annotated on the trace."""
    result = X_CACHE[read.source]
    tracer.put_annotation("cache", result.lower())
    metrics.add_dimension(name="result", value=result.lower())
    metrics.add_metric(name="CacheReads", unit=MetricUnit.Count, value=1)
    return result


def install(app: APIGatewayHttpResolver, *, logger: Logger, metrics: Metrics,
            unavailable: str) -> None:
    """Refusals (``ServiceError``) as ``{"statusCode", "message"}``; DynamoDB failures as 503."""

    @app.exception_handler(ServiceError)
    def refused(error: ServiceError) -> Response[Any]:
        status = int(error.status_code)
        return json(status, {"statusCode": status, "message": error.msg})

    @app.exception_handler([ClientError, BotoCoreError])
    def store_unavailable(error: Exception) -> Response[Any]:
        logger.error("DynamoDB failed", errorType=type(error).__name__)
        metrics.add_metric(name="StoreUnavailable", unit=MetricUnit.Count, value=1)
        return json(503, {"statusCode": 503, "message": unavailable}, {"Retry-After": "2"})
