"""SQS and SNS: redrive, encryption at rest and TLS-only access."""

from __future__ import annotations

from pulumi_policy import Policy

POLICIES: list[Policy] = []
