"""CloudWatch log groups with the stack's retention, optionally encrypted with the stack key."""

from __future__ import annotations

import json

import pulumi
import pulumi_aws as aws

from components.config import Defaults

# What every API Gateway access log line carries: who called, what, the outcome, where it failed.
_ACCESS_LOG_FIELDS = {
    "requestId": "$context.requestId",
    "extendedRequestId": "$context.extendedRequestId",
    "ip": "$context.identity.sourceIp",
    "userAgent": "$context.identity.userAgent",
    "requestTime": "$context.requestTime",
    "httpMethod": "$context.httpMethod",
    "status": "$context.status",
    "protocol": "$context.protocol",
    "responseLength": "$context.responseLength",
    "responseLatency": "$context.responseLatency",
    "integrationStatus": "$context.integration.status",
    "integrationLatency": "$context.integration.latency",
    "authorizerError": "$context.authorizer.error",
    "errorMessage": "$context.error.message",
}


def access_log_format(**api_fields: str) -> str:
    """The JSON access log format: the common fields plus those of one kind of API."""
    return json.dumps({**_ACCESS_LOG_FIELDS, **api_fields}, separators=(",", ":"))


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
