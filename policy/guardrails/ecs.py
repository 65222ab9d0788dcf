"""ECS: Container Insights, container logs, no plaintext secrets."""

from __future__ import annotations

from pulumi_policy import Policy

POLICIES: list[Policy] = []
