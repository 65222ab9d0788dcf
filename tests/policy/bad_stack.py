"""A stack with five known faults, and everything else done right.

- ``wide-open``: an inline role policy that allows every action on every resource;
- ``jobs``: a queue with no dead-letter queue;
- ``api-stage``: an HTTP API stage without access logs;
- ``worker``: a function with no log group;
- ``api``: an HTTP API whose CORS configuration allows any origin.

``test_bad_stack`` asserts that exactly these faults, and nothing else, draw violations.
"""

from __future__ import annotations

import json

import pulumi
import pulumi_aws as aws

from tests.policy.fixture_support import code, opts

FAULTS = {
    ("iam-no-wildcards", "wide-open"),
    ("sqs-redrive", "jobs"),
    ("apigateway-access-logging", "api-stage"),
    ("lambda-log-retention", "worker"),
    ("cors-no-wildcard-origin", "api"),
}


def tls_only(queue: aws.sqs.Queue) -> pulumi.Output[str]:
    return pulumi.Output.json_dumps({"Version": "2012-10-17", "Statement": [{
        "Sid": "DenyInsecureTransport", "Effect": "Deny", "Principal": {"AWS": "*"},
        "Action": "sqs:*", "Resource": queue.arn,
        "Condition": {"Bool": {"aws:SecureTransport": "false"}}}]})


def program() -> None:
    role = aws.iam.Role("worker-role", assume_role_policy=json.dumps({
        "Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
            "Action": "sts:AssumeRole"}]}), opts=opts())
    aws.iam.RolePolicy("wide-open", role=role.id, policy=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}), opts=opts())
    aws.lambda_.Function("worker", role=role.arn, runtime="python3.13", handler="app.handler",
                         code=code(), memory_size=256, timeout=10, architectures=["arm64"],
                         tracing_config={"mode": "Active"}, opts=opts())

    queue = aws.sqs.Queue("jobs", sqs_managed_sse_enabled=True, visibility_timeout_seconds=60,
                          opts=opts())
    aws.sqs.QueuePolicy("jobs-policy", queue_url=queue.url, policy=tls_only(queue), opts=opts())

    api = aws.apigatewayv2.Api("api", protocol_type="HTTP", cors_configuration={
        "allow_origins": ["*"], "allow_methods": ["GET"]}, opts=opts())
    aws.apigatewayv2.Stage("api-stage", api_id=api.id, name="$default", auto_deploy=True,
                           default_route_settings={"throttling_burst_limit": 100,
                                                   "throttling_rate_limit": 50},
                           opts=opts())
