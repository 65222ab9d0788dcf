"""CloudFront distributions: TLS to viewers and origins, access logs."""

from __future__ import annotations

from pulumi_policy import Policy

POLICIES: list[Policy] = []
