"""Profile (the microservice cache's use cases 1 and 2): a customer profile, cache-aside in
Valkey over a read-through DAX cluster in front of DynamoDB.

One route, behind an HTTP API with IAM authorization:

- ``GET /profiles/{profileId}``: ``{"profileId", "name", "tier", "preferences",
  "updatedAt"}`` from Valkey (``X-Cache: HIT``), else from the profiles table through DAX (or
  DynamoDB, see below), then cached for ``PROFILE_TTL_SECONDS`` (``X-Cache: MISS``); with the
  cache down, straight from the store (``X-Cache: BYPASS``). 400 for an id that is not 1 to 64
  letters, digits, '-' or '_', 404 for an unknown profile, 503 when the store fails.

**DAX.** With ``DAX_ENDPOINT`` (``daxs://...``, the cluster's TLS endpoint) reads go through
DAX (``cache_aside.dax``); a cluster that cannot be reached, or a DAX client library that is
missing, leaves reads on DynamoDB rather than failing them. A change to a profile goes through
the table's stream to the profile refresher, which publishes ``profile_changed``: the cache
manager then drops (or refreshes) ``profile:<profileId>``. DAX's own item cache keeps a
profile changed behind its back for its record TTL (the stack's ``dax.recordTtlSeconds``).

Environment: ``PROFILES_TABLE`` (required), ``PROFILE_TTL_SECONDS`` (1 to 86400, default
900), ``DAX_ENDPOINT`` (optional), the cache's (``cache_aside.settings``) and Powertools'. The
role needs ``dynamodb:GetItem`` on the table, ``dax:GetItem`` on the cluster, and
``elasticache:Connect`` on the cache and its user.

Metrics: ``CacheReads`` with a ``result`` dimension (``hit``, ``miss``, ``bypass``),
``ProfileNotFound`` and ``StoreUnavailable``.
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
from cache_aside.dax import ProfileStore
from cache_aside.settings import CacheSettings

BAD_ID = "profileId must be 1 to 64 letters, digits, '-' or '_'"

logger = Logger()
tracer = Tracer(auto_patch=True, patch_modules=TRACE_AWS_CALLS)
metrics = Metrics()


@dataclass(frozen=True)
class Settings:
    profiles_table: str
    ttl_seconds: int
    dax_endpoint: str | None
    cache: CacheSettings

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> Settings:
        environ = os.environ if environ is None else environ
        problems: list[str] = []
        table = required(environ, "PROFILES_TABLE", problems)
        ttl = whole_number(environ, "PROFILE_TTL_SECONDS", 900, problems, minimum=1,
                           maximum=86400, unit="seconds")
        endpoint = environ.get("DAX_ENDPOINT", "").strip() or None
        if endpoint and not endpoint.startswith("daxs://"):
            problems.append("DAX_ENDPOINT must be the cluster's TLS endpoint (daxs://...)")
        cache = CacheSettings.from_environ(environ, problems)
        if problems:
            raise ValueError("invalid profile settings: " + "; ".join(problems))
        return cls(table, ttl, endpoint, cache)


settings = Settings.from_environ()
app = http_resolver()
profiles_table = lazy(lambda: boto3.resource("dynamodb", config=STORE_CONFIG)
                      .Table(settings.profiles_table))
region = aws_region()
profiles = ProfileStore(profiles_table, settings.dax_endpoint, region)
cache = Cache(connect(settings.cache, region, role_credentials), settings.cache.breaker_seconds)
answers.install(app, logger=logger, metrics=metrics,
                unavailable="Profiles are unavailable; try again")


@app.get("/profiles/<profile_id>")
@tracer.capture_method(capture_response=False)
def get_profile(profile_id: str) -> Response[Any]:
    if not keys.is_identifier(profile_id):
        raise BadRequestError(BAD_ID)
    read = cache.read(keys.profile_key(profile_id), settings.ttl_seconds,
                      lambda: records.profile(profiles, profile_id))
    x_cache = answers.count(read, tracer=tracer, metrics=metrics)
    logger.info("Profile read", profileId=profile_id, cache=x_cache, dax=profiles.through_dax)
    if read.value is None:
        metrics.add_metric(name="ProfileNotFound", unit=MetricUnit.Count, value=1)
        raise NotFoundError("Profile not found")
    return answers.json(200, read.value, {"X-Cache": x_cache})


@entry(HTTP_API, logger=logger, tracer=tracer, metrics=metrics, capture_response=False,
       clear_state=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
