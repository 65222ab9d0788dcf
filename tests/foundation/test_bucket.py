"""The bucket block: private, owner-enforced, versioned, encrypted, TLS-only, with lifecycle."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pulumi
import pytest

from components.foundation.bucket import Bucket, BucketArgs
from components.foundation.validation import InvalidArgs
from tests.support import DEV, PROD, statements
from tools.mock_runtime import Resource, StackRun

BUCKET = "aws:s3/bucket:Bucket"
PUBLIC_ACCESS_BLOCK = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
OWNERSHIP = "aws:s3/bucketOwnershipControls:BucketOwnershipControls"
VERSIONING = "aws:s3/bucketVersioning:BucketVersioning"
ENCRYPTION = ("aws:s3/bucketServerSideEncryptionConfiguration:"
              "BucketServerSideEncryptionConfiguration")
LIFECYCLE = "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration"
POLICY = "aws:s3/bucketPolicy:BucketPolicy"
COMPONENT = "blueprints:foundation:Bucket"
KEY_ARN = "arn:aws:kms:eu-west-1:111111111111:key/0e4c5a3e-1111-2222-3333-444455556666"
DISTRIBUTION_ARN = "arn:aws:cloudfront::111111111111:distribution/E2EXAMPLE"
ACCESS_POINT_ARN = "arn:aws:s3:eu-west-1:111111111111:accesspoint/docs-source"

Build = Callable[..., StackRun]


def buckets(build: Build, args: BucketArgs | None = None, defaults: Any = DEV) -> StackRun:
    return build(lambda opts: Bucket("docs", args or BucketArgs(), defaults, opts))


def rules(run: StackRun) -> dict[str, dict[str, Any]]:
    """Lifecycle rules by id, after checking each is enabled for the whole bucket."""
    found = {}
    for rule in run.one(LIFECYCLE, "docs-lifecycle").inputs["rules"]:
        body = dict(rule)
        assert body.pop("status") == "Enabled"
        assert body.pop("filter") == {}
        found[body.pop("id")] = body
    return found


def configures_the_bucket(run: StackRun, resource: Resource) -> bool:
    return resource.inputs["bucket"] == run.one(BUCKET, "docs-bucket").id


def test_public_access_is_blocked_four_ways(build: Build) -> None:
    run = buckets(build)
    block = run.one(PUBLIC_ACCESS_BLOCK, "docs-public-access-block")
    assert configures_the_bucket(run, block)
    for setting in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls",
                    "restrictPublicBuckets"):
        assert block.inputs[setting] is True, setting


def test_acls_are_off(build: Build) -> None:
    run = buckets(build)
    ownership = run.one(OWNERSHIP, "docs-ownership")
    assert configures_the_bucket(run, ownership)
    assert ownership.inputs["rule"] == {"objectOwnership": "BucketOwnerEnforced"}


def test_versioning_is_enabled(build: Build) -> None:
    run = buckets(build)
    versioning = run.one(VERSIONING, "docs-versioning")
    assert configures_the_bucket(run, versioning)
    assert versioning.inputs["versioningConfiguration"] == {"status": "Enabled"}


def test_sse_s3_by_default_and_sse_c_blocked(build: Build) -> None:
    run = buckets(build)
    encryption = run.one(ENCRYPTION, "docs-encryption")
    assert configures_the_bucket(run, encryption)
    assert encryption.inputs["rules"] == [{
        "applyServerSideEncryptionByDefault": {"sseAlgorithm": "AES256"},
        "blockedEncryptionTypes": ["SSE-C"]}]


def test_sse_kms_with_a_bucket_key_when_a_key_is_given(build: Build) -> None:
    run = buckets(build, BucketArgs(kms_key_arn=KEY_ARN))
    assert run.one(ENCRYPTION, "docs-encryption").inputs["rules"] == [{
        "applyServerSideEncryptionByDefault": {"sseAlgorithm": "aws:kms",
                                               "kmsMasterKeyId": KEY_ARN},
        "bucketKeyEnabled": True,
        "blockedEncryptionTypes": ["SSE-C"]}]


def test_policy_denies_requests_without_tls(build: Build) -> None:
    run = buckets(build)
    arn = run.one(BUCKET, "docs-bucket").state["arn"]
    policy = run.one(POLICY, "docs-policy")
    assert configures_the_bucket(run, policy)
    assert statements(policy) == [{
        "Sid": "DenyInsecureTransport", "Effect": "Deny", "Principal": {"AWS": "*"},
        "Action": ["s3:*"], "Resource": [arn, f"{arn}/*"],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}}}]


def test_policy_waits_for_the_public_access_block(build: Build) -> None:
    run = buckets(build)
    block = run.one(PUBLIC_ACCESS_BLOCK, "docs-public-access-block")
    assert block.urn in run.one(POLICY, "docs-policy").dependencies


def test_services_may_read_on_behalf_of_named_sources_only(build: Build) -> None:
    run = buckets(build, BucketArgs(
        allow_read_from=[("cloudfront.amazonaws.com", DISTRIBUTION_ARN)]))
    arn = run.one(BUCKET, "docs-bucket").state["arn"]
    deny, read = statements(run.one(POLICY, "docs-policy"))
    assert deny["Effect"] == "Deny"
    assert read == {"Effect": "Allow", "Principal": {"Service": "cloudfront.amazonaws.com"},
                    "Action": ["s3:GetObject"], "Resource": f"{arn}/*",
                    "Condition": {"ArnEquals": {"aws:SourceArn": DISTRIBUTION_ARN}}}


def test_reads_can_be_confined_to_named_access_points(build: Build) -> None:
    run = buckets(build, BucketArgs(read_through=[ACCESS_POINT_ARN]))
    arn = run.one(BUCKET, "docs-bucket").state["arn"]
    deny_tls, allow, deny_others = statements(run.one(POLICY, "docs-policy"))
    through = {"s3:DataAccessPointArn": [ACCESS_POINT_ARN]}
    assert deny_tls["Sid"] == "DenyInsecureTransport"
    assert allow == {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{DEV.account_id}:root"},
                     "Action": ["s3:GetObject"], "Resource": f"{arn}/*",
                     "Condition": {"StringEquals": through}}
    assert deny_others == {"Sid": "ReadOnlyThroughAccessPoints", "Effect": "Deny",
                           "Principal": {"AWS": "*"}, "Action": ["s3:GetObject"],
                           "Resource": f"{arn}/*", "Condition": {"StringNotEquals": through}}


def test_reader_source_may_be_resolved_after_the_bucket(build: Build) -> None:
    def program(opts: pulumi.ResourceOptions) -> None:
        source: pulumi.Output[str]
        resolve: Callable[[pulumi.Output[str]], None]
        source, resolve = pulumi.deferred_output()
        Bucket("docs", BucketArgs(allow_read_from=[("cloudfront.amazonaws.com", source)]), DEV,
               opts)
        resolve(pulumi.Output.from_input(DISTRIBUTION_ARN))

    read = statements(build(program).one(POLICY, "docs-policy"))[1]
    assert read["Condition"] == {"ArnEquals": {"aws:SourceArn": DISTRIBUTION_ARN}}


def test_default_lifecycle_aborts_uploads_and_expires_old_versions(build: Build) -> None:
    run = buckets(build)
    assert configures_the_bucket(run, run.one(LIFECYCLE, "docs-lifecycle"))
    assert rules(run) == {
        "abort-incomplete-multipart-uploads": {
            "abortIncompleteMultipartUpload": {"daysAfterInitiation": 7}},
        "expire-noncurrent-versions": {"noncurrentVersionExpiration": {"noncurrentDays": 90}},
    }


def test_lifecycle_rules_follow_the_arguments(build: Build) -> None:
    run = buckets(build, BucketArgs(expire_after_days=1, noncurrent_version_expire_after_days=None,
                                    abort_incomplete_upload_after_days=2))
    assert rules(run) == {
        "abort-incomplete-multipart-uploads": {
            "abortIncompleteMultipartUpload": {"daysAfterInitiation": 2}},
        "expire-current-versions": {"expiration": {"days": 1}},
    }


def test_lifecycle_waits_for_versioning(build: Build) -> None:
    run = buckets(build)
    versioning = run.one(VERSIONING, "docs-versioning")
    assert versioning.urn in run.one(LIFECYCLE, "docs-lifecycle").dependencies


@pytest.mark.parametrize(("defaults", "protected"), [(DEV, False), (PROD, True)])
def test_bucket_is_protected_in_prod_only(build: Build, defaults: Any, protected: bool) -> None:
    bucket = buckets(build, defaults=defaults).one(BUCKET, "docs-bucket")
    assert bucket.protect is protected
    assert bucket.inputs["forceDestroy"] is False


def test_force_destroy_is_allowed_unprotected_with_a_warning(build: Build) -> None:
    run = buckets(build, BucketArgs(force_destroy=True), DEV)
    assert run.one(BUCKET, "docs-bucket").inputs["forceDestroy"] is True
    assert any("force_destroy" in warning for warning in run.warnings)


def test_secure_defaults_do_not_warn(build: Build) -> None:
    assert not any("secure default" in warning for warning in buckets(build).warnings)


def test_every_child_belongs_to_the_component_on_the_inherited_provider(build: Build) -> None:
    run = buckets(build)
    component = run.one(COMPONENT, "docs")
    children = list(run.managed())
    assert sorted(r.name for r in children) == [
        "docs-bucket", "docs-encryption", "docs-lifecycle", "docs-ownership", "docs-policy",
        "docs-public-access-block", "docs-versioning"]
    for child in children:
        assert child.parent == component.urn
        provider = run.provider_of(child)
        assert provider is not None
        assert provider.name == "test-provider"


def test_outputs_expose_bucket_arn_and_name(build: Build) -> None:
    def program(opts: pulumi.ResourceOptions) -> None:
        built = Bucket("docs", BucketArgs(), DEV, opts)
        pulumi.export("arn", built.arn)
        pulumi.export("name", built.name)

    run = build(program)
    state = run.one(BUCKET, "docs-bucket").state
    assert run.outputs == {"arn": state["arn"], "name": state["bucket"]}


@pytest.mark.parametrize(("args", "defaults", "argument"), [
    (BucketArgs(expire_after_days=0), DEV, "expire_after_days"),
    (BucketArgs(noncurrent_version_expire_after_days=-1), DEV,
     "noncurrent_version_expire_after_days"),
    (BucketArgs(abort_incomplete_upload_after_days=0), DEV,
     "abort_incomplete_upload_after_days"),
    (BucketArgs(expire_after_days=True), DEV, "expire_after_days"),
    (BucketArgs(expire_after_days=1.5), DEV, "expire_after_days"),  # type: ignore[arg-type]
    (BucketArgs(force_destroy=True), PROD, "force_destroy"),
    (BucketArgs(allow_read_from=[("*", DISTRIBUTION_ARN)]), DEV, "allow_read_from[0]"),
    (BucketArgs(allow_read_from=[("cloudfront.amazonaws.com", "E2EXAMPLE")]), DEV,
     "allow_read_from[0]"),
    (BucketArgs(read_through=[ACCESS_POINT_ARN],
                allow_read_from=[("cloudfront.amazonaws.com", DISTRIBUTION_ARN)]), DEV,
     "read_through"),
    (BucketArgs(read_through=[ACCESS_POINT_ARN.replace(DEV.account_id, "222222222222")]), DEV,
     "read_through"),
])
def test_bad_arguments_are_rejected_by_name(build: Build, args: BucketArgs, defaults: Any,
                                            argument: str) -> None:
    with pytest.raises(InvalidArgs) as raised:
        buckets(build, args, defaults)
    assert "Bucket docs" in str(raised.value)
    assert [problem.split(":")[0] for problem in raised.value.problems] == [argument]


def test_every_problem_is_reported_at_once(build: Build) -> None:
    args = BucketArgs(expire_after_days=0, abort_incomplete_upload_after_days=0,
                      force_destroy=True)
    with pytest.raises(InvalidArgs) as raised:
        buckets(build, args, PROD)
    assert [problem.split(":")[0] for problem in raised.value.problems] == [
        "expire_after_days", "abort_incomplete_upload_after_days", "force_destroy"]
