"""The cache manager (the microservice cache's use case 1): keeps cached objects in step with
the events that change them.

Invoked asynchronously by an EventBridge rule on the service's bus that matches exactly
``payment_processed`` from ``blueprints.cache.payments`` and ``profile_changed`` from
``blueprints.cache.profiles``. Each event names one object: ``billing:<accountId>`` or
``profile:<profileId>``. ``CACHE_MODE`` chooses what happens to it:

- ``invalidate`` (the default): the key is dropped; the next read loads it (cache-aside).
- ``refresh``: the object is read again from its table (``ACCOUNTS_TABLE``,
  ``PROFILES_TABLE``) and cached for its TTL (``BILLING_TTL_SECONDS``,
  ``PROFILE_TTL_SECONDS``); an object gone from its table is dropped.

An event whose detail does not name an object is logged and rejected (``{"rejected": ...}``):
retrying it would fail the same way. When the cache cannot be reached the function raises, so
that Lambda retries the event and then sends it to the function's failure queue: a dropped
invalidation must be seen, not forgotten (the TTL still bounds the staleness).

Environment: ``CACHE_MODE``, the tables and TTLs above (the tables are required in refresh
mode), the cache's (``cache_aside.settings``) and Powertools'. The role needs
``elasticache:Connect`` on the cache and its user, and ``dynamodb:GetItem`` on both tables in
refresh mode.

Metrics: ``CacheInvalidations`` and ``CacheRefreshes`` (with an ``object`` dimension:
``billing`` or ``profile``) and ``EventsRejected``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import boto3  # type: ignore[import-untyped]
from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from blueprints_common.entry import SCHEDULED, TRACE_AWS_CALLS, entry
from blueprints_common.environment import required, whole_number
from blueprints_common.lazy import aws_region, lazy
from cache_aside import keys, records
from cache_aside.cache import STORE_CONFIG, Cache, connect, role_credentials
from cache_aside.settings import CacheSettings

MODES = ("invalidate", "refresh")

logger = Logger()
tracer = Tracer(auto_patch=True, patch_modules=TRACE_AWS_CALLS)
metrics = Metrics()


@dataclass(frozen=True)
class Settings:
    mode: str
    accounts_table: str
    profiles_table: str
    billing_ttl_seconds: int
    profile_ttl_seconds: int
    cache: CacheSettings

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> Settings:
        environ = os.environ if environ is None else environ
        problems: list[str] = []
        mode = environ.get("CACHE_MODE", "invalidate").strip() or "invalidate"
        if mode not in MODES:
            problems.append(f"CACHE_MODE must be one of {', '.join(MODES)}")
        refresh = mode == "refresh"
        accounts = required(environ, "ACCOUNTS_TABLE", problems) if refresh \
            else environ.get("ACCOUNTS_TABLE", "")
        profiles = required(environ, "PROFILES_TABLE", problems) if refresh \
            else environ.get("PROFILES_TABLE", "")
        billing_ttl = whole_number(environ, "BILLING_TTL_SECONDS", 300, problems, minimum=1,
                                   maximum=86400, unit="seconds")
        profile_ttl = whole_number(environ, "PROFILE_TTL_SECONDS", 900, problems, minimum=1,
                                   maximum=86400, unit="seconds")
        cache = CacheSettings.from_environ(environ, problems)
        if problems:
            raise ValueError("invalid cache manager settings: " + "; ".join(problems))
        return cls(mode, accounts, profiles, billing_ttl, profile_ttl, cache)


@dataclass(frozen=True)
class Target:
    """The object an event is about: its kind, key, TTL and how to load it."""

    kind: str
    key: str
    ttl_seconds: int
    load: Callable[[], dict[str, Any] | None]


settings = Settings.from_environ()
dynamodb = lazy(lambda: boto3.resource("dynamodb", config=STORE_CONFIG))
region = aws_region()
# Strict: a failure raises (the event is retried); no breaker: each event tries the cache.
cache = Cache(connect(settings.cache, region, role_credentials), 0, strict=True)


class RejectedEventError(ValueError):
    """An event that names no cached object (the message names the field, never a value)."""


def target(event: Mapping[str, Any]) -> Target:
    """The object ``event`` is about; ``RejectedEventError`` when it names none."""
    source, detail_type = event.get("source"), event.get("detail-type")
    detail = event.get("detail")
    if not isinstance(detail, dict):
        raise RejectedEventError("detail must be an object")
    if (source, detail_type) == (keys.PAYMENT_SOURCE, keys.PAYMENT_PROCESSED):
        account_id = detail.get("accountId")
        if not keys.is_identifier(account_id):
            raise RejectedEventError("detail.accountId is not an account id")
        return Target(keys.BILLING, keys.billing_key(account_id), settings.billing_ttl_seconds,
                      lambda: records.billing_summary(
                          dynamodb.Table(settings.accounts_table), account_id))
    if (source, detail_type) == (keys.PROFILE_SOURCE, keys.PROFILE_CHANGED):
        profile_id = detail.get("profileId")
        if not keys.is_identifier(profile_id):
            raise RejectedEventError("detail.profileId is not a profile id")
        return Target(keys.PROFILE, keys.profile_key(profile_id), settings.profile_ttl_seconds,
                      lambda: records.profile(dynamodb.Table(settings.profiles_table),
                                              profile_id))
    raise RejectedEventError("source and detail-type are not an event the cache manager takes")


def apply(found: Target) -> str:
    """Drops or refreshes the object; what was done."""
    if settings.mode == "refresh":
        value = found.load()
        if value is not None:
            cache.put(found.key, value, found.ttl_seconds)
            return "refreshed"
    cache.drop(found.key)
    return "invalidated"


@entry(SCHEDULED, logger=logger, tracer=tracer, metrics=metrics, capture_response=False)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    try:
        found = target(event)
    except RejectedEventError as problem:
        logger.error("An event names no cached object", reason=str(problem),
                     detailType=str(event.get("detail-type"))[:64])
        metrics.add_metric(name="EventsRejected", unit=MetricUnit.Count, value=1)
        return {"rejected": str(problem)}
    done = apply(found)
    metrics.add_dimension(name="object", value=found.kind)
    metrics.add_metric(name="CacheRefreshes" if done == "refreshed" else "CacheInvalidations",
                       unit=MetricUnit.Count, value=1)
    logger.info("Cache updated", key=found.key, action=done, eventId=event.get("id"))
    return {"key": found.key, "action": done}
