"""Where the cache is and how a function reaches it, from the function's environment.

``CACHE_HOST`` (required) and ``CACHE_PORT`` (6379); ``CACHE_TLS`` (``true``: ElastiCache
Serverless accepts TLS only); ``CACHE_AUTH``: ``iam`` (the default: ``CACHE_USER`` and
``CACHE_NAME``, the serverless cache's name, are then required) or ``none`` (a local server);
``CACHE_TIMEOUT_MS`` (connect and read timeout, 200 by default: a dead cache must cost little);
``CACHE_BREAKER_SECONDS`` (how long the cache is skipped after a failure, 30 by default).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from blueprints_common.environment import flag, required, whole_number

AUTH_MODES = ("iam", "none")


@dataclass(frozen=True)
class CacheSettings:
    host: str
    port: int = 6379
    tls: bool = True
    auth: Literal["iam", "none"] = "iam"
    user: str = ""
    cache_name: str = ""
    timeout_ms: int = 200
    breaker_seconds: int = 30

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None,
                     problems: list[str] | None = None) -> CacheSettings:
        """The settings; every problem is appended to ``problems`` (or raised at once, as a
        ``ValueError``, when no list is given)."""
        environ = os.environ if environ is None else environ
        found: list[str] = [] if problems is None else problems
        host = required(environ, "CACHE_HOST", found)
        port = whole_number(environ, "CACHE_PORT", 6379, found, minimum=1, maximum=65535)
        tls = flag(environ, "CACHE_TLS", found, default=True)
        auth = environ.get("CACHE_AUTH", "iam").strip() or "iam"
        user = cache_name = ""
        if auth not in AUTH_MODES:
            found.append(f"CACHE_AUTH must be one of {', '.join(AUTH_MODES)}")
        elif auth == "iam":
            user = required(environ, "CACHE_USER", found)
            cache_name = required(environ, "CACHE_NAME", found)
        timeout = whole_number(environ, "CACHE_TIMEOUT_MS", 200, found, minimum=10,
                               maximum=5000, unit="milliseconds")
        breaker = whole_number(environ, "CACHE_BREAKER_SECONDS", 30, found, minimum=0,
                               maximum=3600, unit="seconds")
        if problems is None and found:
            raise ValueError("invalid cache settings: " + "; ".join(found))
        return cls(host=host, port=port, tls=tls, auth="none" if auth == "none" else "iam",
                   user=user, cache_name=cache_name, timeout_ms=timeout,
                   breaker_seconds=breaker)
