"""Rules for every resource: tags, protection in prod, explicit providers."""

from __future__ import annotations

from pulumi_policy import Policy

POLICIES: list[Policy] = []
