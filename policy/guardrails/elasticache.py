"""ElastiCache: in a VPC, encrypted, authenticated, Multi-AZ in prod."""

from __future__ import annotations

from pulumi_policy import Policy

POLICIES: list[Policy] = []
