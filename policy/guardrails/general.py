"""Rules for every resource: tags, protection in prod, explicit providers.

Which resource types exist, and which take tags, comes from ``aws_resource_types.json``: a list
derived from pulumi-aws itself, so that the pack does not import pulumi-aws when it runs.
``tests/policy/test_taggable.py`` fails when it no longer matches the installed pulumi-aws and
says how to regenerate it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from pulumi_policy import Policy

from .core import (
    ADVISORY,
    Config,
    Stack,
    Subject,
    is_unknown,
    resource_rule,
    stack_rule,
)

_TYPES = json.loads(Path(__file__).with_name("aws_resource_types.json").read_text())
AWS_RESOURCE_TYPES: frozenset[str] = frozenset(_TYPES["resources"])
"""Every resource type token of the pulumi-aws version the pack was built against."""
TAGGABLE_TYPES: frozenset[str] = frozenset(_TYPES["taggable"])
"""The types whose ``tags`` map the provider's ``defaultTags`` merge into."""

TABLE = "aws:dynamodb/table:Table"
STATEFUL_TYPES = (
    TABLE,
    "aws:s3/bucket:Bucket",
    "aws:s3/bucketV2:BucketV2",
    "aws:s3/directoryBucket:DirectoryBucket",
    "aws:sqs/queue:Queue",
    "aws:kms/key:Key",
    "aws:cognito/userPool:UserPool",
    "aws:efs/fileSystem:FileSystem",
    "aws:rds/cluster:Cluster",
    "aws:rds/instance:Instance",
)
"""Resources whose deletion loses data that no redeploy brings back."""

DEFAULT_REQUIRED_TAGS = ["owner", "environment", "project"]
DEFAULT_PROD_ENVIRONMENTS = ["prod"]


def _strings(value: Any, default: list[str]) -> list[str]:
    """A configured list of strings, or ``default`` when it is not one."""
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return value
    return default


@resource_rule(
    "required-tags",
    description="Every taggable resource ends up with the required tags, from its own tags or "
                "its provider's defaultTags.",
    anchors=("house-rule",),
    level=ADVISORY,
    types=TAGGABLE_TYPES,
    config={
        "requiredTags": {
            "type": "array",
            "items": {"type": "string"},
            "default": DEFAULT_REQUIRED_TAGS,
            "description": "Tag keys every taggable resource must carry, with a value.",
        },
    },
)
def required_tags(resource: Subject, config: Config) -> Iterator[str]:
    """Tags say who owns a resource, which environment it serves and what it costs; a resource
    without them is one nobody answers for.

    A tag counts when the resource's own ``tags`` or its provider's ``defaultTags`` give it a
    value that is not empty. Taggable types are the pulumi-aws resources whose ``tags`` map the
    provider's defaultTags merge into (``aws_resource_types.json``).

    Advisory: a house rule, with no serverless-rules or cdk-nag anchor.
    """
    tags = resource.tags()
    if is_unknown(tags) or not isinstance(tags, Mapping):
        return
    missing = [key for key in _strings(config.get("requiredTags"), DEFAULT_REQUIRED_TAGS)
               if not is_unknown(value := tags.get(key)) and value in (None, "")]
    if missing:
        many = len(missing) > 1
        yield (f"tag{'s' if many else ''} {', '.join(missing)} missing or empty; set "
               f"{'them' if many else 'it'} in the provider's defaultTags (or the resource's "
               "tags)")


@stack_rule(
    "prod-stateful-protected",
    description="In production, stateful resources (tables, buckets, queues, keys, user pools, "
                "file systems, databases) are protected from deletion by Pulumi; DynamoDB "
                "tables also by AWS.",
    anchors=("house-rule",),
    level=ADVISORY,
    config={
        "prodEnvironments": {
            "type": "array",
            "items": {"type": "string"},
            "default": DEFAULT_PROD_ENVIRONMENTS,
            "description": "Values of the environment tag that mark production resources "
                           "(compared case-insensitively).",
        },
    },
)
def prod_stateful_protected(stack: Stack,
                            config: Config) -> Iterator[tuple[Subject | None, str]]:
    """In production, a rename or a mistaken destroy must not delete data: ``protect`` makes
    Pulumi refuse to delete the resource until someone removes it on purpose.

    A resource is in production when its ``environment`` tag (its own tags or its provider's
    defaultTags) is one of ``prodEnvironments``. Stateful types: DynamoDB tables, S3 buckets
    (general purpose and directory), SQS queues, KMS keys (their loss makes everything they
    encrypted unreadable), Cognito user pools, EFS file systems, and RDS clusters and instances.
    DynamoDB tables also need deletionProtectionEnabled, which guards them outside Pulumi.

    Advisory: a house rule, with no serverless-rules or cdk-nag anchor.
    """
    production = {e.casefold() for e in _strings(config.get("prodEnvironments"),
                                                 DEFAULT_PROD_ENVIRONMENTS)}
    for resource in stack.of_type(*STATEFUL_TYPES):
        tags = resource.tags()
        environment = tags.get("environment") if isinstance(tags, Mapping) else None
        if not isinstance(environment, str) or environment.casefold() not in production:
            continue
        if not resource.protect:
            yield resource, (f"environment is {environment} but Pulumi protect is off; create "
                             "it with opts=pulumi.ResourceOptions(protect=True)")
        deletion = resource.props.get("deletionProtectionEnabled")
        if resource.type == TABLE and not is_unknown(deletion) and deletion is not True:
            shown = "false" if deletion is False else "not set"
            yield resource, (f"environment is {environment} but deletionProtectionEnabled is "
                             f"{shown}; set it to true")


@resource_rule(
    "explicit-provider",
    description="Every pulumi-aws resource is created with an explicit provider, never the "
                "default one.",
    anchors=("house-rule",),
    level=ADVISORY,
    types=AWS_RESOURCE_TYPES,
)
def explicit_provider(resource: Subject, config: Config) -> Iterator[str]:
    """The default provider takes its account, region and credentials from whatever the shell
    has set; an explicit provider pins them (and allowedAccountIds, defaultTags) in the stack.

    A resource is on the default provider when it has no provider or one whose name starts with
    ``default`` (the engine names default providers ``default_<version>``). The rule covers the
    pulumi-aws resource types (``aws_resource_types.json``): the analyzer gives component
    resources no provider, and a type list is how a resource policy tells them apart.

    Advisory: a house rule, with no serverless-rules or cdk-nag anchor.
    """
    provider = resource.provider
    fix = "pass opts=pulumi.ResourceOptions(provider=<an aws.Provider of the stack>)"
    if provider is None:
        yield f"has no explicit provider, so it uses the default aws provider; {fix}"
        return
    name = getattr(provider, "name", None)
    if isinstance(name, str) and name.startswith("default"):
        yield f"uses the default provider {name}; {fix}"


POLICIES: list[Policy] = [required_tags, prod_stateful_protected, explicit_provider]
