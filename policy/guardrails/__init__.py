"""The serverless guardrails: every rule of the pack, grouped by service.

``POLICIES`` is what ``policy/__main__.py`` serves and what the offline plan runs. Each module
holds the rules of one service family and lists them in its own ``POLICIES``.
"""

from __future__ import annotations

from pulumi_policy import Policy

from . import (
    apigateway,
    cloudfront,
    cognito,
    dynamodb,
    ecs,
    elasticache,
    events,
    general,
    iam,
    kms,
    lambda_,
    messaging,
    network,
    s3,
    stepfunctions,
)

POLICIES: tuple[Policy, ...] = (
    *lambda_.POLICIES,
    *iam.POLICIES,
    *apigateway.POLICIES,
    *events.POLICIES,
    *stepfunctions.POLICIES,
    *messaging.POLICIES,
    *dynamodb.POLICIES,
    *elasticache.POLICIES,
    *s3.POLICIES,
    *cloudfront.POLICIES,
    *kms.POLICIES,
    *ecs.POLICIES,
    *cognito.POLICIES,
    *network.POLICIES,
    *general.POLICIES,
)
