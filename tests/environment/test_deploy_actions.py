"""The deploy role's actions (components.environment.deploy_actions): complete for what the
stacks declare, each action named in full, no data-plane action a deploy does not make, and the
services roles are passed to as the plans pass them."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

import botocore.session  # type: ignore[import-untyped]
import pytest

from components.environment.deploy_actions import (
    DEPLOY_ACTIONS,
    PASS_ROLE_SERVICES,
    all_deploy_actions,
    by_service,
    deploy_actions,
)
from tests.support import planned
from tools.mock_runtime import Resource, reveal

STACKS = ("dev", "prod-env", "prod")

# Custom types the plans declare that are not AWS resources, and why they need no entry.
EXEMPT = {
    "pulumi:pulumi:StackReference": "reads another stack's outputs from the Pulumi backend",
}

# The IAM service prefixes an action may have (Service Authorization Reference).
SERVICE_PREFIXES = frozenset({
    "access-analyzer", "apigateway", "application-autoscaling", "cloudfront", "cloudwatch",
    "cognito-idp", "dax", "dynamodb", "ec2", "ecr", "ecs", "elasticache", "elasticloadbalancing",
    "events", "iam", "kms", "lambda", "logs", "pipes", "route53", "route53resolver", "s3",
    "s3-object-lambda", "scheduler", "secretsmanager", "servicediscovery", "ses", "sns", "sqs",
    "ssm", "states", "sts", "wafv2", "xray",
})

ACTION = re.compile(r"^[a-z0-9-]+:[A-Za-z0-9]+$")

# An IAM prefix's API models in botocore, where the model's name is not the prefix.
API_MODELS = {
    "access-analyzer": ("accessanalyzer",),
    "elasticloadbalancing": ("elbv2", "elb"),
    "s3": ("s3", "s3control"),
    "ses": ("sesv2", "ses"),
    "states": ("stepfunctions",),
}
# Actions IAM checks that are no API operation of that name: API Gateway's HTTP verbs and
# permission-only actions, vended log delivery, and S3 actions named apart from their calls.
PERMISSION_ONLY = frozenset({
    "apigateway:DELETE", "apigateway:GET", "apigateway:PATCH", "apigateway:POST",
    "apigateway:PUT", "apigateway:SetWebACL", "apigateway:UpdateRestApiPolicy",
    "cloudfront:AllowVendedLogDeliveryForResource",
    "logs:CreateLogDelivery", "logs:DeleteLogDelivery", "logs:GetLogDelivery",
    "logs:ListLogDeliveries", "logs:UpdateLogDelivery",
    "s3:DeleteObjectVersion", "s3:GetAccelerateConfiguration", "s3:GetBucketCORS",
    "s3:GetBucketObjectLockConfiguration", "s3:GetBucketPublicAccessBlock",
    "s3:GetEncryptionConfiguration", "s3:GetLifecycleConfiguration", "s3:GetObjectVersion",
    "s3:GetReplicationConfiguration", "s3:ListBucket", "s3:ListBucketVersions",
    "s3:PutBucketPublicAccessBlock", "s3:PutEncryptionConfiguration",
    "s3:PutLifecycleConfiguration",
})

# Actions that read or write data, or run something, rather than manage a resource. A deploy
# makes only the ones listed in ALLOWED_DATA_PLANE, for the types given there.
DATA_PLANE = frozenset({
    "lambda:InvokeFunction", "lambda:InvokeFunctionUrl", "lambda:InvokeAsync",
    "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem",
    "dynamodb:Query", "dynamodb:Scan", "dynamodb:BatchGetItem", "dynamodb:BatchWriteItem",
    "dynamodb:PartiQLSelect", "dynamodb:GetRecords", "dynamodb:GetShardIterator",
    "sqs:SendMessage", "sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:PurgeQueue",
    "sns:Publish", "events:PutEvents", "states:StartExecution", "states:StartSyncExecution",
    "s3:GetObject", "s3:GetObjectVersion", "s3:PutObject", "s3:DeleteObject",
    "s3:DeleteObjectVersion", "s3-object-lambda:GetObject",
    "s3-object-lambda:WriteGetObjectResponse",
    "kms:Decrypt", "kms:Encrypt", "kms:ReEncryptFrom", "kms:ReEncryptTo",
    "kms:GenerateDataKey", "kms:GenerateDataKeyWithoutPlaintext", "kms:GenerateMac",
    "kms:VerifyMac", "kms:Sign", "kms:Verify",
    "secretsmanager:GetSecretValue", "ssm:GetParameter", "ssm:GetParameters",
    "execute-api:Invoke", "elasticache:Connect", "dax:GetItem", "dax:PutItem", "dax:Query",
    "cognito-idp:AdminInitiateAuth", "cognito-idp:AdminGetUser", "cognito-idp:ListUsers",
    "logs:GetLogEvents", "logs:FilterLogEvents", "logs:StartQuery", "logs:PutLogEvents",
    "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:PutImage",
    "ecr:InitiateLayerUpload", "ecr:UploadLayerPart", "ecr:CompleteLayerUpload",
})

_ECR_PUSH_TYPE = "docker-build:index:Image"
_FUNCTION = "aws:lambda/function:Function"
_OBJECT = "aws:s3/bucketObjectv2:BucketObjectv2"
_ITEM = "aws:dynamodb/tableItem:TableItem"
# Data-plane action -> the types that need it, and why.
ALLOWED_DATA_PLANE: Mapping[str, tuple[frozenset[str], str]] = {
    **{action: (frozenset({_ITEM}), "the seed items the program writes")
       for action in ("dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem",
                      "dynamodb:DeleteItem")},
    "s3:GetObject": (frozenset({_OBJECT, "aws:apigateway/domainName:DomainName"}),
                     "objects the program uploads are read back; API Gateway reads the mTLS "
                     "truststore with the caller's permissions"),
    "s3:GetObjectVersion": (frozenset({"aws:apigateway/domainName:DomainName"}),
                            "the domain names the truststore object's version"),
    "s3:PutObject": (frozenset({_OBJECT}), "the objects the program uploads"),
    "s3:DeleteObject": (frozenset({_OBJECT}), "the objects the program uploads"),
    "s3:DeleteObjectVersion": (frozenset({_OBJECT}), "deleting an object deletes its versions"),
    # Lambda encrypts a function's environment with the environment's key, and decrypts it to
    # hand it back to GetFunction, with the caller's permissions: a refresh needs both.
    "kms:Encrypt": (frozenset({_FUNCTION}), "a function's environment under the key"),
    "kms:Decrypt": (frozenset({_FUNCTION}), "reading back a function's encrypted environment"),
    "ecr:BatchGetImage": (frozenset({_FUNCTION, _ECR_PUSH_TYPE}),
                          "Lambda reads a function's image with the caller's permissions; a "
                          "push checks what the repository holds"),
    "ecr:GetDownloadUrlForLayer": (frozenset({_FUNCTION, _ECR_PUSH_TYPE}),
                                   "as ecr:BatchGetImage"),
    **{action: (frozenset({_ECR_PUSH_TYPE}), "the pipeline pushes the container images")
       for action in ("ecr:PutImage", "ecr:InitiateLayerUpload", "ecr:UploadLayerPart",
                      "ecr:CompleteLayerUpload")},
}

# Where a resource takes a role ARN, the service the role is passed to.
ROLE_TAKERS = {
    "aws:lambda/function:Function": "lambda.amazonaws.com",
    "aws:sfn/stateMachine:StateMachine": "states.amazonaws.com",
    "aws:ecs/taskDefinition:TaskDefinition": "ecs-tasks.amazonaws.com",
    "aws:apigateway/account:Account": "apigateway.amazonaws.com",
    "aws:apigateway/integration:Integration": "apigateway.amazonaws.com",
    "aws:apigatewayv2/integration:Integration": "apigateway.amazonaws.com",
    "aws:dax/cluster:Cluster": "dax.amazonaws.com",
    "aws:ec2/flowLog:FlowLog": "vpc-flow-logs.amazonaws.com",
    "aws:scheduler/schedule:Schedule": "scheduler.amazonaws.com",
    "aws:cloudwatch/eventTarget:EventTarget": "events.amazonaws.com",
    "aws:pipes/pipe:Pipe": "pipes.amazonaws.com",
}
ROLE_ARN = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:role/")


def resources(stack: str) -> Iterator[Resource]:
    """The custom resources of a stack's plan, providers left out (a provider that assumes a
    role calls sts:AssumeRole; it passes no role)."""
    return (r for r in planned(stack).resources
            if r.custom and not r.type.startswith("pulumi:providers:"))


def custom_types(stack: str) -> set[str]:
    return {r.type for r in resources(stack)}


def strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from strings(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from strings(item)


def takes_role(resource: Resource) -> bool:
    return any(ROLE_ARN.match(s) for s in strings(reveal(dict(resource.inputs))))


@pytest.mark.parametrize("stack", STACKS)
def test_every_declared_type_has_actions(stack: str) -> None:
    missing = custom_types(stack) - DEPLOY_ACTIONS.keys() - EXEMPT.keys()
    assert not missing, f"{stack} declares types with no deploy actions: {sorted(missing)}"


def test_non_aws_types_are_exempt_or_listed() -> None:
    for token in DEPLOY_ACTIONS:
        assert token.startswith(("aws:", "docker-build:")), token
    assert not EXEMPT.keys() & DEPLOY_ACTIONS.keys()


def test_actions_are_named_in_full_with_a_known_prefix() -> None:
    for token, actions in DEPLOY_ACTIONS.items():
        assert actions, token
        for action in actions:
            assert ACTION.match(action), f"{token}: {action!r} is not one action named in full"
            assert action.split(":")[0] in SERVICE_PREFIXES, f"{token}: {action}"


def test_actions_are_api_operations_or_known_permissions() -> None:
    """Catches a misspelt action: IAM names most actions after the API operation they allow."""
    session = botocore.session.get_session()
    for service, actions in by_service(all_deploy_actions()).items():
        operations = {operation for model in API_MODELS.get(service, (service,))
                      for operation in session.get_service_model(model).operation_names}
        unknown = [action for action in actions
                   if action.split(":")[1] not in operations and action not in PERMISSION_ONLY]
        assert not unknown, f"not {service} operations: {unknown}"


def test_each_entry_is_sorted_and_unique() -> None:
    for token, actions in DEPLOY_ACTIONS.items():
        assert list(actions) == sorted(set(actions)), token


def test_no_data_plane_action_a_deploy_does_not_make() -> None:
    for token, actions in DEPLOY_ACTIONS.items():
        for action in DATA_PLANE.intersection(actions):
            allowed, _reason = ALLOWED_DATA_PLANE.get(action, (frozenset(), ""))
            assert token in allowed, f"{token} has the data-plane action {action}"


def test_allowed_data_plane_actions_are_data_plane_and_used() -> None:
    assert ALLOWED_DATA_PLANE.keys() <= DATA_PLANE
    for action, (types, _reason) in ALLOWED_DATA_PLANE.items():
        for token in types:
            assert action in DEPLOY_ACTIONS[token], f"{action} allowed for {token}, not used"


@pytest.mark.parametrize("action", ["lambda:InvokeFunction", "dynamodb:Query", "dynamodb:Scan",
                                    "sqs:SendMessage", "sqs:ReceiveMessage", "sns:Publish",
                                    "secretsmanager:GetSecretValue", "events:PutEvents",
                                    "states:StartExecution"])
def test_never_granted(action: str) -> None:
    assert action not in all_deploy_actions()


def test_pass_role_is_granted_apart() -> None:
    assert "iam:PassRole" not in all_deploy_actions()


def test_pass_role_services_are_where_the_plans_pass_roles() -> None:
    passed: set[str] = set()
    for stack in STACKS:
        for resource in resources(stack):
            if takes_role(resource):
                assert resource.type in ROLE_TAKERS, f"{resource.type} takes a role ARN"
                passed.add(ROLE_TAKERS[resource.type])
    assert sorted(PASS_ROLE_SERVICES) == sorted(passed)
    assert len(set(PASS_ROLE_SERVICES)) == len(PASS_ROLE_SERVICES)


def test_unknown_type_is_named() -> None:
    with pytest.raises(ValueError, match="nope"):
        deploy_actions(["aws:lambda/function:Function", "nope"])


def test_union_is_sorted_and_unique() -> None:
    union = deploy_actions(["aws:sqs/queue:Queue", "aws:sqs/queuePolicy:QueuePolicy"])
    assert list(union) == sorted(set(union))
    assert set(union) == set(DEPLOY_ACTIONS["aws:sqs/queue:Queue"])
    assert set(all_deploy_actions()) == {a for actions in DEPLOY_ACTIONS.values()
                                         for a in actions}


def test_by_service_groups_by_prefix() -> None:
    grouped = by_service(["sqs:GetQueueUrl", "lambda:GetFunction", "sqs:CreateQueue",
                          "sqs:GetQueueUrl"])
    assert grouped == {"lambda": ("lambda:GetFunction",),
                       "sqs": ("sqs:CreateQueue", "sqs:GetQueueUrl")}
    assert list(grouped) == sorted(grouped)
