"""Every foundation block, built once the way a service would use it.

The stacks hold no service yet, so this program is how the guardrails meet the function, API,
table, queue and bucket blocks: ``test_blocks_meet_the_guardrails`` runs the whole pack over it,
and the robustness test takes its resource types.
"""

from __future__ import annotations

from pathlib import Path

import pulumi
import pulumi_aws as aws

from components.foundation import iam
from components.foundation.bucket import Bucket, BucketArgs
from components.foundation.function import Function, FunctionArgs
from components.foundation.http_api import (
    CorsArgs,
    HttpApi,
    HttpApiArgs,
    JwtAuthorizerArgs,
    LambdaRoute,
)
from components.foundation.queue import Queue, QueueArgs
from components.foundation.rest_api import RestApi, RestApiArgs, RestStage, RestStageArgs
from components.foundation.table import Key, Table, TableArgs
from tests.support import PROD

CODE_ROOT = Path(__file__).resolve().parent / "functions"


def program(opts: pulumi.ResourceOptions) -> None:
    """The blocks of a small prod service: an API over a function, a table, a queue, a bucket."""
    table = Table("orders", TableArgs(hash_key=Key("pk"), ttl_attribute="expiresAt",
                                      stream="NEW_IMAGE"), PROD, opts)
    Queue("jobs", QueueArgs(visibility_timeout_seconds=60), PROD, opts)
    Bucket("documents", BucketArgs(expire_after_days=30), PROD, opts)
    function = Function("orders", FunctionArgs(
        code="orders", memory_size=256, timeout=10, code_root=CODE_ROOT, invoked_async=True,
        statements=[iam.allow(["dynamodb:GetItem", "dynamodb:PutItem"], table.arn)],
    ), PROD, opts)

    HttpApi("orders-http", HttpApiArgs(
        cors=CorsArgs(allow_origins=["https://app.example.com"], allow_methods=["GET"]),
        jwt=JwtAuthorizerArgs(issuer="https://issuer.example.com", audience=["orders"]),
        routes=[LambdaRoute("GET /orders/{id}", function.name, function.invoke_arn)],
    ), PROD, opts)

    api = RestApi("orders-rest", RestApiArgs(models={"Order": {
        "type": "object", "required": ["sku"], "properties": {"sku": {"type": "string"}}}}),
        PROD, opts)
    resource = aws.apigateway.Resource("orders-rest-orders", rest_api=api.api_id,
                                       parent_id=api.root_resource_id, path_part="orders",
                                       opts=opts)
    method = aws.apigateway.Method(
        "orders-rest-post", rest_api=api.api_id, resource_id=resource.id, http_method="POST",
        authorization="AWS_IAM", request_validator_id=api.request_validator_id,
        request_models={"application/json": "Order"}, opts=opts)
    integration = aws.apigateway.Integration(
        "orders-rest-post", rest_api=api.api_id, resource_id=resource.id,
        http_method=method.http_method, type="AWS_PROXY", integration_http_method="POST",
        uri=function.invoke_arn, opts=opts)
    stage = RestStage("orders-rest", RestStageArgs(
        rest_api_id=api.api_id, redeploy_triggers={"post": "v1"},
        depends_on=[method, integration]), PROD, opts)
    aws.lambda_.Permission(
        "orders-rest-invoke", action="lambda:InvokeFunction", function=function.name,
        principal="apigateway.amazonaws.com",
        source_arn=pulumi.Output.concat(stage.execution_arn, "/POST/orders"), opts=opts)
