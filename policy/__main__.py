"""Serves the serverless guardrails to the Pulumi engine.

    pulumi preview --policy-pack ./policy [--policy-pack-config policy-config.json]

The rules live in ``guardrails``, grouped by service; this file only builds the pack. Each rule
carries its own default enforcement level, and a ``--policy-pack-config`` file can change any
level or setting (see policy/README.md).
"""

# The engine runs this file with policy/ on sys.path, so the rules import as ``guardrails``.
from guardrails import POLICIES  # type: ignore[import-not-found]
from pulumi_policy import EnforcementLevel, PolicyPack

PolicyPack(
    name="serverless-guardrails",
    description="Serverless guardrails for pulumi-aws v7 stacks.",
    policies=list(POLICIES),
    enforcement_level=EnforcementLevel.ADVISORY,
    provider="aws",
    tags=["serverless", "aws", "lambda", "api-gateway", "well-architected"],
)
