"""EventBridge: targets with DLQs, closed bus policies."""

from __future__ import annotations

from pulumi_policy import Policy

POLICIES: list[Policy] = []
