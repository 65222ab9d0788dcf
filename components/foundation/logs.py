"""CloudWatch log groups with the stack's retention, optionally encrypted with the stack key."""

from __future__ import annotations

import pulumi
import pulumi_aws as aws

from components.config import Defaults


def log_group(resource_name: str, defaults: Defaults, *,
              log_group_name: pulumi.Input[str] | None = None,
              log_group_name_prefix: str | None = None,
              kms_key_arn: pulumi.Input[str] | None = None,
              opts: pulumi.ResourceOptions | None = None) -> aws.cloudwatch.LogGroup:
    """A log group that keeps logs for the stack's retention and no longer."""
    return aws.cloudwatch.LogGroup(
        resource_name,
        name=log_group_name,
        name_prefix=log_group_name_prefix,
        retention_in_days=defaults.log_retention_days,
        kms_key_id=kms_key_arn,
        opts=opts,
    )
