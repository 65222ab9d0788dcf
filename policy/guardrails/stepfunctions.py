"""Step Functions: tracing and full logging."""

from __future__ import annotations

from pulumi_policy import Policy

POLICIES: list[Policy] = []
