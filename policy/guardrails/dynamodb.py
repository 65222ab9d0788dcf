"""DynamoDB and DAX: point-in-time recovery and encryption."""

from __future__ import annotations

from pulumi_policy import Policy

POLICIES: list[Policy] = []
