"""API Gateway REST and HTTP APIs: logs, tracing, throttling, auth, validation, CORS, WAF, TLS."""

from __future__ import annotations

from pulumi_policy import Policy

POLICIES: list[Policy] = []
