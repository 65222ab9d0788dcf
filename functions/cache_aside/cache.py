"""A Valkey cache that never fails its caller, and the cache-aside read.

Every operation answers instead of raising when the cache cannot be reached, times out or
refuses (``valkey.ValkeyError``): ``get`` answers ``None`` (a miss), ``put`` and ``drop``
``False``. After such a failure the cache is *open* for ``breaker_seconds``: operations skip it
at once, so a dead cache costs one timeout per container every ``breaker_seconds``, not one per
request. Objects are JSON and always written with a TTL.

``strict=True`` (the cache manager's) raises ``CacheUnavailableError`` instead: an invalidation
that did not happen must be retried, not forgotten.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import valkey
from botocore.config import Config  # type: ignore[import-untyped]

from cache_aside.settings import CacheSettings

LOG = logging.getLogger("cache_aside")
Source = Literal["cache", "store", "store-cache-down"]


class CacheUnavailableError(Exception):
    """The cache could not be reached, and the caller asked to know (``strict``)."""


@dataclass(frozen=True)
class Read:
    """What a cache-aside read found, and where: the cache (a hit), the store after a miss,
    or the store because the cache was down or skipped."""

    value: dict[str, Any] | None
    source: Source


def client(settings: CacheSettings,
           credential_provider: valkey.CredentialProvider | None = None) -> valkey.Valkey:
    """A Valkey client for ``settings``: TLS (certificates and host name checked), short
    timeouts, no retries of its own (the breaker decides), connections made on first use."""
    seconds = settings.timeout_ms / 1000
    return valkey.Valkey(
        host=settings.host, port=settings.port, ssl=settings.tls,
        ssl_cert_reqs="required", ssl_check_hostname=settings.tls,
        socket_connect_timeout=seconds, socket_timeout=seconds,
        retry_on_timeout=False, retry=None, credential_provider=credential_provider,
        health_check_interval=30, client_name="blueprints-cache-aside")


class Cache:
    """JSON objects in Valkey behind a circuit breaker."""

    def __init__(self, connection: Any, breaker_seconds: float = 30, *, strict: bool = False,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.connection = connection
        self.breaker_seconds = breaker_seconds
        self.strict = strict
        self._clock = clock
        self._open_until = 0.0

    @property
    def is_open(self) -> bool:
        """Whether the cache is being skipped after a failure."""
        return self._clock() < self._open_until

    def get(self, key: str) -> dict[str, Any] | None:
        """The object, or ``None`` on a miss (or when the cache is down)."""
        raw = self._call("get", lambda: self.connection.get(key))
        if raw is None:
            return None
        try:
            value = json.loads(raw)
        except ValueError:
            LOG.warning("A cached object is not JSON; read as a miss", extra={"key": key})
            return None
        return value if isinstance(value, dict) else None

    def put(self, key: str, value: dict[str, Any], ttl_seconds: int) -> bool:
        """Caches ``value`` for ``ttl_seconds`` (at least 1); whether it was cached."""
        if ttl_seconds < 1:
            raise ValueError("every cached object has a TTL of 1 second or more")
        body = json.dumps(value, separators=(",", ":"), sort_keys=True)
        return bool(self._call("set", lambda: self.connection.set(key, body, ex=ttl_seconds)))

    def drop(self, *keys: str) -> bool:
        """Removes ``keys`` (UNLINK: freed in the background); whether the cache answered."""
        if not keys:
            return True
        return self._call("unlink", lambda: self.connection.unlink(*keys)) is not None

    def read(self, key: str, ttl_seconds: int,
             load: Callable[[], dict[str, Any] | None]) -> Read:
        """Cache-aside: the cached object, else ``load()``'s, cached for ``ttl_seconds``
        (nothing is cached for ``None``: an absent object is not remembered)."""
        if not self.is_open:
            cached = self.get(key)
            if cached is not None:
                return Read(cached, "cache")
        down = self.is_open
        value = load()
        if value is not None and not down:
            self.put(key, value, ttl_seconds)
        return Read(value, "store-cache-down" if down else "store")

    def _call(self, operation: str, call: Callable[[], Any]) -> Any:
        if self.is_open:
            if self.strict:
                raise CacheUnavailableError(f"the cache is skipped after a failure ({operation})")
            return None
        try:
            return call()
        except valkey.ValkeyError as error:
            self._open_until = self._clock() + self.breaker_seconds
            LOG.warning("The cache failed; it is skipped for a while",
                        extra={"operation": operation, "errorType": type(error).__name__,
                               "skipSeconds": self.breaker_seconds})
            if self.strict:
                raise CacheUnavailableError(f"the cache failed ({operation}): "
                                            f"{type(error).__name__}") from error
            return None


def connect(settings: CacheSettings, region: str,
            credentials: Callable[[], Any]) -> valkey.Valkey:
    """The client for ``settings``: authenticated with IAM tokens signed with
    ``credentials()`` (the role's current credentials) unless ``CACHE_AUTH`` is ``none``."""
    from cache_aside.auth import IamCredentialProvider

    provider = None if settings.auth == "none" else IamCredentialProvider(
        settings.cache_name, settings.user, region, credentials)
    return client(settings, provider)


def role_credentials() -> Any:
    """The function role's current credentials (Lambda rotates them), frozen for signing."""
    import boto3  # type: ignore[import-untyped]

    return boto3.Session().get_credentials().get_frozen_credentials()


# Store reads and writes are milliseconds: short timeouts and three attempts turn a slow store
# into a 503 within API Gateway's 29 seconds, not a Lambda timeout.
STORE_CONFIG = Config(connect_timeout=1, read_timeout=2,
                      retries={"mode": "standard", "total_max_attempts": 3})
