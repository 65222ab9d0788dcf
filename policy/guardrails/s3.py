"""S3 buckets: public access blocked, TLS only, encryption, versioning."""

from __future__ import annotations

from pulumi_policy import Policy

POLICIES: list[Policy] = []
