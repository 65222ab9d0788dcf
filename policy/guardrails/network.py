"""VPCs: flow logs."""

from __future__ import annotations

from pulumi_policy import Policy

POLICIES: list[Policy] = []
