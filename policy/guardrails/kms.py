"""KMS keys: rotation, no lockout bypass."""

from __future__ import annotations

from pulumi_policy import Policy

POLICIES: list[Policy] = []
