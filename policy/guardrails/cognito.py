"""Cognito user pools: strong passwords and MFA."""

from __future__ import annotations

from pulumi_policy import Policy

POLICIES: list[Policy] = []
