"""An S3 bucket with the project's secure defaults.

Default settings:

| Setting                 | Default                                                        |
|-------------------------|----------------------------------------------------------------|
| Block Public Access     | All four settings on                                           |
| Object ownership        | ``BucketOwnerEnforced``: ACLs are off                          |
| Versioning              | Enabled                                                        |
| Encryption at rest      | SSE-S3 (AES256); SSE-KMS with a bucket key for ``kms_key_arn`` |
| SSE-C uploads           | Blocked                                                        |
| Bucket policy           | Denies every request that does not use TLS                     |
| Reading services        | None; ``allow_read_from`` adds (service, source ARN) pairs     |
| Reading roles           | None; ``allow_read_by_roles`` names IAM roles (any account)    |
| Reading through access points | Off; ``read_through`` names the only access points that  |
|                         | may read objects, and every other read is denied               |
| Incomplete uploads      | Aborted after 7 days                                           |
| Noncurrent versions     | Expire after 90 days                                           |
| Current objects         | Kept, unless ``expire_after_days`` is set                      |
| ``force_destroy``       | Off; refused in a stage that protects stateful resources       |
| Pulumi ``protect``      | From the stage (``Defaults.protect``: on in prod)              |
| Tags                    | The provider's default tags only                               |

The bucket is auto-named (``<name>-bucket-<random>``). A bucket holds a single policy, and this
component owns it: grant services through ``allow_read_from`` rather than a second
``BucketPolicy``. When the source does not exist yet (a CloudFront distribution that needs this
bucket as its origin), pass ``pulumi.deferred_output()``'s output and resolve it afterwards.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.config import Defaults
from components.foundation import iam
from components.foundation.validation import require_valid, warn_override


@dataclass(frozen=True)
class BucketArgs:
    """Lifecycle, encryption and access settings; every field has a secure default.

    ``allow_read_from`` holds (service principal, source ARN) pairs, such as
    ``("cloudfront.amazonaws.com", distribution.arn)``: the bucket policy lets that service read
    objects on behalf of that source only.

    ``read_through`` holds access point ARNs of this account: reads are delegated to them (an
    identity with rights on one of them may read through it) and every other ``GetObject``,
    direct or through another access point, is denied.
    """

    expire_after_days: int | None = None
    noncurrent_version_expire_after_days: int | None = 90
    abort_incomplete_upload_after_days: int = 7
    allow_read_from: Sequence[tuple[str, pulumi.Input[str]]] = ()
    force_destroy: bool = False
    kms_key_arn: pulumi.Input[str] | None = None
    read_through: Sequence[str] = ()
    # IAM roles, of this account or another, that may read objects (their own policies must
    # allow it too, and the key's policy when the bucket has one).
    allow_read_by_roles: Sequence[pulumi.Input[str]] = ()


class Bucket(pulumi.ComponentResource):
    """A private, versioned, encrypted, TLS-only bucket; see the module docstring."""

    bucket: aws.s3.Bucket
    arn: pulumi.Output[str]
    name: pulumi.Output[str]

    def __init__(self, name: str, args: BucketArgs, defaults: Defaults,
                 opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("blueprints:foundation:Bucket", name, None, opts)
        require_valid(f"Bucket {name}", _problems(args, defaults))
        if args.force_destroy:
            warn_override(self, "force_destroy=True",
                          "Deleting the bucket will delete every object and version in it.")

        self.bucket = aws.s3.Bucket(
            f"{name}-bucket",
            force_destroy=args.force_destroy,
            opts=pulumi.ResourceOptions(parent=self, protect=defaults.protect),
        )
        bucket_id = self.bucket.id

        public_access_block = aws.s3.BucketPublicAccessBlock(
            f"{name}-public-access-block",
            bucket=bucket_id,
            block_public_acls=True,
            block_public_policy=True,
            ignore_public_acls=True,
            restrict_public_buckets=True,
            opts=pulumi.ResourceOptions(parent=self),
        )
        aws.s3.BucketOwnershipControls(
            f"{name}-ownership",
            bucket=bucket_id,
            rule={"object_ownership": "BucketOwnerEnforced"},
            opts=pulumi.ResourceOptions(parent=self),
        )
        versioning = aws.s3.BucketVersioning(
            f"{name}-versioning",
            bucket=bucket_id,
            versioning_configuration={"status": "Enabled"},
            opts=pulumi.ResourceOptions(parent=self),
        )
        aws.s3.BucketServerSideEncryptionConfiguration(
            f"{name}-encryption",
            bucket=bucket_id,
            rules=[_encryption_rule(args.kms_key_arn)],
            opts=pulumi.ResourceOptions(parent=self),
        )
        # Noncurrent-version rules only act on a versioned bucket: configure versioning first.
        aws.s3.BucketLifecycleConfiguration(
            f"{name}-lifecycle",
            bucket=bucket_id,
            rules=_lifecycle_rules(args),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[versioning]),
        )

        objects = self.bucket.arn.apply(lambda arn: f"{arn}/*")
        readers = [iam.allow_service(["s3:GetObject"], objects, service, source_arn)
                   for service, source_arn in args.allow_read_from]
        if args.allow_read_by_roles:
            readers.append(iam.allow(["s3:GetObject"], objects,
                                     principals={"AWS": list(args.allow_read_by_roles)}))
        if args.read_through:
            readers += _read_through(args.read_through, objects, defaults)
        # Writing a policy while Block Public Access is being applied can fail or race; wait.
        aws.s3.BucketPolicy(
            f"{name}-policy",
            bucket=bucket_id,
            policy=iam.policy_document(
                [iam.deny_insecure_transport("s3", self.bucket.arn, objects), *readers]),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[public_access_block]),
        )

        self.arn = self.bucket.arn
        self.name = self.bucket.bucket
        self.register_outputs({"arn": self.arn, "name": self.name})


def _read_through(access_points: Sequence[str], objects: pulumi.Input[str],
                  defaults: Defaults) -> list[iam.Statement]:
    through = {"s3:DataAccessPointArn": list(access_points)}
    return [
        iam.allow(["s3:GetObject"], objects,
                  principals={"AWS": f"arn:{iam.partition(defaults.region)}:iam::"
                                     f"{defaults.account_id}:root"},
                  conditions={"StringEquals": through}),
        iam.Statement(effect="Deny", actions=("s3:GetObject",), resources=(objects,),
                      principals={"AWS": "*"}, conditions={"StringNotEquals": through},
                      sid="ReadOnlyThroughAccessPoints"),
    ]


def _encryption_rule(
        kms_key_arn: pulumi.Input[str] | None,
) -> aws.s3.BucketServerSideEncryptionConfigurationRuleArgsDict:
    if kms_key_arn is None:
        return {
            "apply_server_side_encryption_by_default": {"sse_algorithm": "AES256"},
            "blocked_encryption_types": ["SSE-C"],
        }
    return {
        "apply_server_side_encryption_by_default": {"sse_algorithm": "aws:kms",
                                                    "kms_master_key_id": kms_key_arn},
        # A bucket key cuts the KMS requests (and their cost) by orders of magnitude.
        "bucket_key_enabled": True,
        "blocked_encryption_types": ["SSE-C"],
    }


def _lifecycle_rules(
        args: BucketArgs,
) -> list[aws.s3.BucketLifecycleConfigurationRuleArgsDict]:
    # An empty filter applies a rule to every object in the bucket.
    rules: list[aws.s3.BucketLifecycleConfigurationRuleArgsDict] = [{
        "id": "abort-incomplete-multipart-uploads",
        "status": "Enabled",
        "filter": {},
        "abort_incomplete_multipart_upload": {
            "days_after_initiation": args.abort_incomplete_upload_after_days},
    }]
    if args.noncurrent_version_expire_after_days is not None:
        rules.append({
            "id": "expire-noncurrent-versions",
            "status": "Enabled",
            "filter": {},
            "noncurrent_version_expiration": {
                "noncurrent_days": args.noncurrent_version_expire_after_days},
        })
    if args.expire_after_days is not None:
        rules.append({
            "id": "expire-current-versions",
            "status": "Enabled",
            "filter": {},
            "expiration": {"days": args.expire_after_days},
        })
    return rules


def _positive_days(field: str, value: int | None) -> str | None:
    if value is None or (isinstance(value, int) and not isinstance(value, bool) and value >= 1):
        return None
    return f"{field}: {value!r} is not a whole number of days of at least 1"


def _problems(args: BucketArgs, defaults: Defaults) -> list[str | None]:
    problems: list[str | None] = [
        _positive_days("expire_after_days", args.expire_after_days),
        _positive_days("noncurrent_version_expire_after_days",
                       args.noncurrent_version_expire_after_days),
        _positive_days("abort_incomplete_upload_after_days",
                       args.abort_incomplete_upload_after_days),
    ]
    if args.read_through and args.allow_read_from:
        problems.append("read_through: every read that does not use these access points is "
                        "denied, so allow_read_from would never work; use one or the other")
    problems += [f"read_through: {arn!r} is not an access point of account "
                 f"{defaults.account_id} in {defaults.region}"
                 for arn in args.read_through
                 if not arn.startswith(f"arn:{iam.partition(defaults.region)}:s3:{defaults.region}:"
                                       f"{defaults.account_id}:accesspoint/")]
    if args.force_destroy and defaults.protect:
        problems.append(f"force_destroy: not allowed in stage {defaults.stage!r}, which protects "
                        "stateful resources")
    return problems + iam.service_grant_problems("allow_read_from", args.allow_read_from)
