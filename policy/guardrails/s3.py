"""S3 buckets: public access blocked, TLS only, encryption, versioning; access points private."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from pulumi_policy import Policy

from .core import (
    MANDATORY,
    Config,
    Props,
    Stack,
    Subject,
    is_unknown,
    resource_rule,
    stack_rule,
    tls_only,
)

BUCKET = "aws:s3/bucket:Bucket"
BUCKET_V2 = "aws:s3/bucketV2:BucketV2"
PUBLIC_ACCESS_BLOCK = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
BUCKET_POLICY = "aws:s3/bucketPolicy:BucketPolicy"
# pulumi-aws v7 keeps the v6 names of the bucket's companion resources as deprecated aliases.
ENCRYPTION = (
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
    "aws:s3/bucketServerSideEncryptionConfigurationV2:BucketServerSideEncryptionConfigurationV2",
)
VERSIONING = ("aws:s3/bucketVersioning:BucketVersioning",
              "aws:s3/bucketVersioningV2:BucketVersioningV2")
LOGGING = ("aws:s3/bucketLogging:BucketLogging", "aws:s3/bucketLoggingV2:BucketLoggingV2")
DISTRIBUTION = "aws:cloudfront/distribution:Distribution"
ACCESS_POINT = "aws:s3/accessPoint:AccessPoint"

BLOCK_SETTINGS = ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls",
                  "restrictPublicBuckets")
SSE_ALGORITHMS = frozenset({"AES256", "aws:kms", "aws:kms:dsse"})
# Actions a TLS-only Deny must cover (lower case: IAM actions are case-insensitive).
TLS_ACTIONS = frozenset({"s3:*", "*"})


def _off_settings(subject: Subject, *path: str, absent_is_on: bool = False) -> list[str]:
    """The public-access settings (at ``path`` in ``subject``) not turned on; unknown ones, and
    with ``absent_is_on`` absent ones, count as on."""
    return [name for name in BLOCK_SETTINGS
            if not is_unknown(value := subject.props.get(*path, name)) and value is not True
            and not (absent_is_on and value is None)]


def _public_access_problems(stack: Stack, bucket: Subject) -> Iterator[str]:
    blocks = stack.referencing(bucket, PUBLIC_ACCESS_BLOCK, prop="bucket")
    if not blocks:
        yield ("no BucketPublicAccessBlock; add an aws.s3.BucketPublicAccessBlock for this "
               "bucket with blockPublicAcls, blockPublicPolicy, ignorePublicAcls and "
               "restrictPublicBuckets all true")
    for block in blocks:
        if off := _off_settings(block):
            yield (f"BucketPublicAccessBlock {block.name} leaves {', '.join(off)} off; set all "
                   "four settings to true")


def _tls_problems(stack: Stack, bucket: Subject) -> Iterator[str]:
    policies = [p.props.get("policy")
                for p in stack.referencing(bucket, BUCKET_POLICY, prop="bucket")]
    if any(tls_only(p, TLS_ACTIONS) is not False for p in policies):
        return
    fix = ("a Deny of s3:* to Principal * on the bucket and its objects when "
           "aws:SecureTransport is false")
    if policies:
        yield f"the bucket policy does not deny requests without TLS; add {fix}"
    else:
        yield f"no BucketPolicy; add an aws.s3.BucketPolicy for this bucket with {fix}"


def _default_algorithm(configuration: Subject) -> Any:
    """The default SSE algorithm a configuration sets: a name, ``None``, or ``UNKNOWN``."""
    rules = configuration.props.elements("rules")
    if is_unknown(rules):
        return rules
    for rule in rules:
        if is_unknown(rule):
            return rule
        algorithm = Props(rule).get("applyServerSideEncryptionByDefault", "sseAlgorithm")
        if is_unknown(algorithm) or algorithm in SSE_ALGORITHMS:
            return algorithm
    return None


def _encryption_problems(stack: Stack, bucket: Subject) -> Iterator[str]:
    configurations = stack.referencing(bucket, *ENCRYPTION, prop="bucket")
    if not configurations:
        yield ("no server-side encryption configuration; add an "
               "aws.s3.BucketServerSideEncryptionConfiguration for this bucket whose rule sets "
               "applyServerSideEncryptionByDefault.sseAlgorithm (AES256, or aws:kms with a key)")
    elif not any(_default_algorithm(c) is not None for c in configurations):
        names = ", ".join(c.name for c in configurations)
        yield (f"{names} sets no default encryption; give a rule "
               "applyServerSideEncryptionByDefault.sseAlgorithm AES256, aws:kms or aws:kms:dsse")


def _versioning_problems(stack: Stack, bucket: Subject) -> Iterator[str]:
    versionings = stack.referencing(bucket, *VERSIONING, prop="bucket")
    if not versionings:
        yield ("no BucketVersioning; add an aws.s3.BucketVersioning for this bucket with "
               "versioningConfiguration.status Enabled")
    statuses = [v.props.get("versioningConfiguration", "status") for v in versionings]
    if versionings and not any(is_unknown(s) or s == "Enabled" for s in statuses):
        shown = ", ".join(sorted({str(s) if s else "not set" for s in statuses}))
        yield f"versioning status is {shown}; set versioningConfiguration.status to Enabled"


def _is_log_bucket(stack: Stack, bucket: Subject) -> bool:
    """Whether S3 server access logs or CloudFront standard logs are delivered to ``bucket``."""
    return bool(stack.referencing(bucket, *LOGGING, prop="targetBucket")
                or stack.referencing(bucket, DISTRIBUTION, prop="loggingConfig"))


def _logging_problems(stack: Stack, bucket: Subject) -> Iterator[str]:
    if stack.referencing(bucket, *LOGGING, prop="bucket") or _is_log_bucket(stack, bucket):
        return
    yield ("no server access logging; add an aws.s3.BucketLogging for this bucket with "
           "targetBucket set to a log bucket")


@stack_rule(
    "s3-secure-bucket",
    description="Every S3 bucket blocks public access, denies requests without TLS, is "
                "encrypted by default and versioned (server access logs when configured).",
    anchors=("AwsSolutions-S2", "AwsSolutions-S10", "AwsSolutions-S3", "AwsSolutions-S1"),
    level=MANDATORY,
    config={
        "requireAccessLogging": {
            "type": "boolean",
            "default": False,
            "description": "Also require S3 server access logging (AwsSolutions-S1): an "
                           "aws.s3.BucketLogging for every bucket that does not itself "
                           "receive access logs.",
        },
    },
)
def s3_secure_bucket(stack: Stack, config: Config) -> Iterator[tuple[Subject | None, str]]:
    """A bucket is where data leaks from: it stays private, reachable over TLS only,
    encrypted, and versioned so that an overwrite or delete can be undone.

    In pulumi-aws v7 each of these is a resource of its own, linked to the bucket by its
    ``bucket`` property (computed from the bucket's id or name): BucketPublicAccessBlock with all
    four settings true, a BucketPolicy with a Deny of s3:* (or *) to Principal * when
    aws:SecureTransport is false, a BucketServerSideEncryptionConfiguration whose rule sets a
    default sseAlgorithm, and a BucketVersioning with status Enabled (the deprecated ``...V2``
    types count too). The deprecated inline arguments of the bucket itself do not count: a
    stack policy sees the bucket's outputs too, and S3 reports its own defaults there.

    Server access logs (S1) are opt-in through ``requireAccessLogging``: they need a second
    bucket, and the project's Bucket block does not create one. A bucket that receives S3
    access logs or CloudFront standard logs is exempt from logging itself.

    Mandatory: cdk-nag registers AwsSolutions-S1, S2, S3 and S10 at ERROR.
    """
    for bucket in stack.of_type(BUCKET, BUCKET_V2):
        yield from ((bucket, p) for p in _public_access_problems(stack, bucket))
        yield from ((bucket, p) for p in _tls_problems(stack, bucket))
        yield from ((bucket, p) for p in _encryption_problems(stack, bucket))
        yield from ((bucket, p) for p in _versioning_problems(stack, bucket))
        if config.get("requireAccessLogging") is True:
            yield from ((bucket, p) for p in _logging_problems(stack, bucket))


@resource_rule(
    "s3-access-point-private",
    description="S3 access points keep all four Block Public Access settings on.",
    anchors=("SecurityHub-S3.19",),
    level=MANDATORY,
    types={ACCESS_POINT},
)
def s3_access_point_private(point: Subject, config: Config) -> Iterator[str]:
    """An access point has Block Public Access settings of its own, and its policy can open
    the bucket's data to anyone if they are off, whatever the bucket's own settings say.

    S3 turns all four on for a new access point unless told otherwise, so an absent
    publicAccessBlockConfiguration, or an absent setting in it, passes; a setting given as
    false fails. Security Hub's S3.19 fails the same way.

    Mandatory: Security Hub rates S3.19 critical.
    """
    if off := _off_settings(point, "publicAccessBlockConfiguration", absent_is_on=True):
        yield (f"publicAccessBlockConfiguration turns {', '.join(off)} off; leave all four "
               "settings on (true)")


POLICIES: list[Policy] = [s3_secure_bucket, s3_access_point_private]
