"""IAM enforcement for local mode (tools/local/iam.py): evaluation, mapping boto3 calls to what
IAM checks, the botocore hook, and every call the dev stack's handlers make checked against
their roles in the plan."""

from __future__ import annotations

import ast
import json
import logging
import sys
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore import xform_name
from botocore.exceptions import ClientError
from moto import mock_aws

from tools.local import iam
from tools.local.iam import (
    Check,
    ObjectLambda,
    PlanPolicies,
    Policy,
    PolicyError,
    Principal,
    Request,
    Topology,
    UnmappedCallError,
    evaluate,
    map_call,
)
from tools.mock_runtime import ROOT, StackRun

ACCOUNT = "111122223333"
OTHER_ACCOUNT = "444455556666"
REGION = "eu-west-1"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/app-role"
CALLER = Principal.assumed_role(ROLE, "app-function")
BUCKET = "data-bucket"
TABLE = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/orders"


def policy(*statements: Mapping[str, Any], name: str = "inline policy app") -> Policy:
    return Policy.parse({"Version": "2012-10-17", "Statement": list(statements)}, name)


def allow(action: Any, resource: Any = "*", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def deny(action: Any, resource: Any = "*", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Deny", "Action": action, "Resource": resource, **extra}


def decide(action: str, resource: str, *identity: Policy, principal: Principal = CALLER,
           context: Mapping[str, Any] | None = None,
           resources: tuple[tuple[str, Policy], ...] = ()) -> iam.Decision:
    return evaluate(Request(principal, action, resource, context or {}), identity, resources)


def sid_of(decision: iam.Decision) -> str | None:
    return decision.statement.sid if decision.statement else None


# --- evaluation --------------------------------------------------------------------------------

def test_an_allow_names_its_statement() -> None:
    decision = decide("dynamodb:GetItem", TABLE,
                      policy(allow("s3:GetObject"), {**allow("dynamodb:GetItem", TABLE),
                                                     "Sid": "ReadOrders"}))
    assert decision.allowed
    assert decision.statement is not None
    assert (decision.statement.sid, decision.statement.index) == ("ReadOrders", 1)
    assert str(decision.statement) == "statement 'ReadOrders' (#1) of inline policy app"


def test_default_deny_in_aws_words_and_the_missing_statement() -> None:
    decision = decide("dynamodb:PutItem", TABLE, policy(allow("dynamodb:GetItem", TABLE)))
    assert decision.outcome == "implicit-deny"
    assert decision.message == (
        f"User: arn:aws:sts::{ACCOUNT}:assumed-role/app-role/app-function is not authorized to "
        f"perform: dynamodb:PutItem on resource: {TABLE} because no identity-based policy "
        "allows the dynamodb:PutItem action")
    explained = decision.explain()
    assert f"no statement allows dynamodb:PutItem on {TABLE}" in explained
    assert json.dumps({"Effect": "Allow", "Action": "dynamodb:PutItem",
                       "Resource": TABLE}) in explained
    assert "allows only dynamodb:GetItem on" in explained


def test_deny_wins_over_allow_whatever_the_order() -> None:
    identity = policy(allow("dynamodb:*", TABLE),
                      {**deny("dynamodb:DeleteItem", TABLE), "Sid": "KeepOrders"})
    decision = decide("dynamodb:DeleteItem", TABLE, identity)
    assert decision.outcome == "explicit-deny"
    assert sid_of(decision) == "KeepOrders"
    assert decision.message.endswith("with an explicit deny in an identity-based policy")
    assert decide("dynamodb:GetItem", TABLE, identity).allowed


def test_a_resource_policy_deny_wins_over_an_identity_allow() -> None:
    bucket_policy = policy(deny("s3:*", [f"arn:aws:s3:::{BUCKET}/*"],
                                Principal={"AWS": "*"}, Sid="NoDeletes"), name="bucket policy")
    decision = decide("s3:PutObject", f"arn:aws:s3:::{BUCKET}/a",
                      policy(allow("s3:PutObject", f"arn:aws:s3:::{BUCKET}/*")),
                      resources=((f"arn:aws:s3:::{BUCKET}/a", bucket_policy),))
    assert decision.outcome == "explicit-deny"
    assert decision.denied_in == "resource"
    assert decision.message.endswith("with an explicit deny in a resource-based policy")


@pytest.mark.parametrize(("pattern", "action", "matches"), [
    ("s3:GetObject", "s3:getobject", True),
    ("S3:Get*", "s3:GetObjectVersion", True),
    ("s3:Get*", "s3:PutObject", False),
    ("dynamodb:?etItem", "dynamodb:GetItem", True),
    ("dynamodb:?etItem", "dynamodb:BatchGetItem", False),
    ("*", "kms:Decrypt", True),
    ("s3:*", "s3-object-lambda:GetObject", False),
])
def test_action_wildcards_ignore_case(pattern: str, action: str, matches: bool) -> None:
    assert iam.action_matches(pattern, action) is matches


@pytest.mark.parametrize(("pattern", "arn", "matches"), [
    (f"arn:aws:s3:::{BUCKET}/*", f"arn:aws:s3:::{BUCKET}/index/v1/ids.json", True),
    (f"arn:aws:s3:::{BUCKET}/index/*", f"arn:aws:s3:::{BUCKET}/reference/a.csv", False),
    (f"arn:aws:s3:::{BUCKET}", f"arn:aws:s3:::{BUCKET}/a", False),
    (f"arn:aws:dynamodb:*:{ACCOUNT}:table/orders", TABLE, True),
    (f"arn:aws:dynamodb:*:{ACCOUNT}:table/orders", TABLE.replace(ACCOUNT, OTHER_ACCOUNT), False),
    (f"arn:aws:dynamodb:eu-west-?:{ACCOUNT}:table/orders", TABLE, True),
    (f"{TABLE}/index/*", f"{TABLE}/index/byUser", True),
    (TABLE, f"{TABLE}/index/byUser", False),
    # The resource part's wildcard spans ":": a log group's streams.
    (f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/app/x:*",
     f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/app/x:log-stream:2026/01/01/abc", True),
    (f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/app/x:*",
     f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/app/xy:log-stream:s", False),
    # A wildcard never spans a segment separator before the resource part.
    ("arn:aws:*", TABLE, False),
    ("arn:aws:S3:::data-bucket", "arn:aws:s3:::data-bucket", False),
])
def test_arn_wildcards_match_segment_by_segment(pattern: str, arn: str, matches: bool) -> None:
    assert iam.arn_matches(pattern, arn) is matches


def test_not_action_and_not_resource() -> None:
    everything_but_iam = policy({"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"})
    assert decide("s3:GetObject", f"arn:aws:s3:::{BUCKET}/a", everything_but_iam).allowed
    assert not decide("iam:PassRole", ROLE, everything_but_iam).allowed
    outside_the_table = policy(allow("dynamodb:*", "*"),
                               {"Effect": "Deny", "Action": "dynamodb:*", "NotResource": TABLE})
    assert decide("dynamodb:GetItem", TABLE, outside_the_table).allowed
    assert not decide("dynamodb:GetItem", TABLE.replace("orders", "users"),
                      outside_the_table).allowed


@pytest.mark.parametrize(("condition", "context", "holds"), [
    ({"StringEquals": {"aws:SourceAccount": ACCOUNT}}, {"aws:SourceAccount": ACCOUNT}, True),
    ({"StringEquals": {"aws:SourceAccount": ACCOUNT}}, {}, False),
    ({"StringEquals": {"aws:SourceAccount": [OTHER_ACCOUNT, ACCOUNT]}},
     {"aws:SourceAccount": ACCOUNT}, True),
    # Condition keys compare without case, values with it.
    ({"StringEquals": {"AWS:SOURCEACCOUNT": ACCOUNT}}, {"aws:SourceAccount": ACCOUNT}, True),
    ({"StringEquals": {"s3:prefix": "Index/"}}, {"s3:prefix": "index/"}, False),
    ({"StringEqualsIgnoreCase": {"s3:prefix": "Index/"}}, {"s3:prefix": "index/"}, True),
    # A negated operator holds when the key is absent, and needs every value to differ.
    ({"StringNotEquals": {"s3:DataAccessPointArn": "arn:ap"}}, {}, True),
    ({"StringNotEquals": {"s3:DataAccessPointArn": ["arn:a", "arn:b"]}},
     {"s3:DataAccessPointArn": "arn:b"}, False),
    ({"StringLike": {"s3:prefix": "index/*"}}, {"s3:prefix": "index/v1/"}, True),
    ({"StringNotLike": {"s3:prefix": "index/*"}}, {"s3:prefix": "reference/"}, True),
    ({"ArnLike": {"aws:SourceArn": "arn:aws:execute-api:eu-west-1:1:api/*/GET/hello"}},
     {"aws:SourceArn": "arn:aws:execute-api:eu-west-1:1:api/v1/GET/hello"}, True),
    # ArnEquals takes wildcards too, segment by segment.
    ({"ArnEquals": {"aws:SourceArn": "arn:aws:s3:::data-*"}},
     {"aws:SourceArn": "arn:aws:s3:::data-bucket"}, True),
    ({"ArnNotEquals": {"aws:PrincipalArn": ROLE}}, {"aws:PrincipalArn": ROLE}, False),
    ({"ArnNotEquals": {"aws:PrincipalArn": ROLE}},
     {"aws:PrincipalArn": ROLE.replace("app", "other")}, True),
    ({"ForAnyValue:StringEquals": {"aws:CalledVia": ["s3-object-lambda.amazonaws.com"]}},
     {"aws:CalledVia": ["s3-object-lambda.amazonaws.com"]}, True),
    ({"ForAnyValue:StringEquals": {"aws:CalledVia": ["s3-object-lambda.amazonaws.com"]}},
     {}, False),
    ({"ForAnyValue:StringEquals": {"aws:CalledVia": ["s3-object-lambda.amazonaws.com"]}},
     {"aws:CalledVia": ["athena.amazonaws.com"]}, False),
    # ForAllValues holds for an absent key: the access point's deny reaches a direct call.
    ({"ForAllValues:StringNotEquals": {"aws:CalledVia": ["s3-object-lambda.amazonaws.com"]}},
     {}, True),
    ({"ForAllValues:StringNotEquals": {"aws:CalledVia": ["s3-object-lambda.amazonaws.com"]}},
     {"aws:CalledVia": ["s3-object-lambda.amazonaws.com"]}, False),
    ({"Bool": {"aws:SecureTransport": "false"}}, {"aws:SecureTransport": True}, False),
    ({"Bool": {"aws:SecureTransport": False}}, {"aws:SecureTransport": "false"}, True),
    ({"NumericLessThan": {"s3:max-keys": "10"}}, {"s3:max-keys": "5"}, True),
    ({"NumericLessThan": {"s3:max-keys": "10"}}, {"s3:max-keys": "50"}, False),
    ({"NumericGreaterThanEquals": {"s3:max-keys": 10}}, {"s3:max-keys": 10}, True),
    ({"DateGreaterThan": {"aws:CurrentTime": "2020-01-01T00:00:00Z"}},
     {"aws:CurrentTime": "2026-12-02T16:00:00Z"}, True),
    ({"IpAddress": {"aws:SourceIp": "203.0.113.0/24"}}, {"aws:SourceIp": "203.0.113.7"}, True),
    ({"NotIpAddress": {"aws:SourceIp": "203.0.113.0/24"}}, {"aws:SourceIp": "198.51.100.1"},
     True),
    ({"StringEqualsIfExists": {"s3:x-amz-acl": "private"}}, {}, True),
    ({"StringEqualsIfExists": {"s3:x-amz-acl": "private"}}, {"s3:x-amz-acl": "public"}, False),
    ({"Null": {"aws:TokenIssueTime": "true"}}, {}, True),
    ({"Null": {"aws:TokenIssueTime": "false"}}, {}, False),
    # Every operator and every key of a block must hold.
    ({"StringEquals": {"aws:SourceAccount": ACCOUNT},
      "ArnLike": {"aws:SourceArn": "arn:aws:s3:::data-bucket"}},
     {"aws:SourceAccount": ACCOUNT, "aws:SourceArn": "arn:aws:s3:::other"}, False),
])
def test_conditions(condition: Mapping[str, Mapping[str, Any]], context: Mapping[str, Any],
                    holds: bool) -> None:
    assert iam.conditions_hold(condition, context) is holds


def test_the_request_context_knows_the_principal() -> None:
    only_this_role = policy(allow("s3:GetObject", Condition={
        "ArnEquals": {"aws:PrincipalArn": ROLE}, "StringEquals": {"aws:PrincipalAccount": ACCOUNT},
        "Bool": {"aws:SecureTransport": "true"}}))
    assert decide("s3:GetObject", f"arn:aws:s3:::{BUCKET}/a", only_this_role).allowed
    other = Principal.assumed_role(ROLE.replace("app-role", "other"), "f")
    assert not decide("s3:GetObject", f"arn:aws:s3:::{BUCKET}/a", only_this_role,
                      principal=other).allowed


@pytest.mark.parametrize(("statement", "problem"), [
    ({"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*",
      "Condition": {"StringSoundsLike": {"a": "b"}}}, "StringSoundsLike"),
    ({"Effect": "Allow", "Action": "s3:GetObject",
      "Resource": "arn:aws:s3:::b/${aws:username}/*"}, "policy variables"),
    ({"Effect": "Permit", "Action": "s3:GetObject", "Resource": "*"}, "Effect"),
    ({"Effect": "Allow", "Action": "s3:GetObject", "NotAction": "s3:PutObject",
      "Resource": "*"}, "Action and NotAction"),
    ({"Effect": "Allow", "Action": "s3:GetObject"}, "Resource and NotResource"),
    ({"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*", "Principle": "*"},
     "Principle"),
])
def test_what_cannot_be_evaluated_faithfully_is_refused(statement: dict[str, Any],
                                                        problem: str) -> None:
    with pytest.raises(PolicyError, match=problem):
        policy(statement)


def test_managed_policies_come_from_the_table_and_unknown_ones_fail() -> None:
    xray = iam.managed_policy("arn:aws:iam::aws:policy/AWSXRayDaemonWriteAccess")
    assert decide("xray:PutTraceSegments", "*", xray).allowed
    vpc = iam.managed_policy("arn:aws:iam::aws:policy/service-role/"
                             "AWSLambdaVPCAccessExecutionRole")
    assert decide("ec2:CreateNetworkInterface", "*", vpc).allowed
    with pytest.raises(PolicyError, match="MANAGED_POLICIES"):
        iam.managed_policy("arn:aws:iam::aws:policy/AdministratorAccess")


# -- resource policies

FUNCTION = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:builder"
PERMISSION = policy({"Sid": "from-s3", "Effect": "Allow",
                     "Principal": {"Service": "s3.amazonaws.com"},
                     "Action": "lambda:InvokeFunction", "Resource": FUNCTION,
                     "Condition": {"ArnLike": {"AWS:SourceArn": f"arn:aws:s3:::{BUCKET}"},
                                   "StringEquals": {"AWS:SourceAccount": ACCOUNT}}},
                    name="resource policy of builder")
S3_SERVICE = Principal.service_principal("s3.amazonaws.com")


def test_a_service_principal_is_decided_by_the_resource_policy_alone() -> None:
    source = {"aws:SourceArn": f"arn:aws:s3:::{BUCKET}", "aws:SourceAccount": ACCOUNT}
    decision = decide("lambda:InvokeFunction", FUNCTION, principal=S3_SERVICE, context=source,
                      resources=((FUNCTION, PERMISSION),))
    assert decision.allowed
    assert sid_of(decision) == "from-s3"
    # Another bucket, or another account's bucket of the same name, is not the source allowed.
    for wrong in ({**source, "aws:SourceArn": "arn:aws:s3:::other"},
                  {**source, "aws:SourceAccount": OTHER_ACCOUNT}, {}):
        decision = decide("lambda:InvokeFunction", FUNCTION, principal=S3_SERVICE,
                          context=wrong, resources=((FUNCTION, PERMISSION),))
        assert decision.outcome == "implicit-deny"
        assert decision.message.endswith(
            "because no resource-based policy allows the lambda:InvokeFunction action")
    # Identity policies are no service's.
    assert not decide("lambda:InvokeFunction", FUNCTION, policy(allow("lambda:*")),
                      principal=Principal.service_principal("sns.amazonaws.com"),
                      context=source, resources=((FUNCTION, PERMISSION),)).allowed


def test_same_account_a_resource_policy_naming_the_role_suffices() -> None:
    queue = f"arn:aws:sqs:{REGION}:{ACCOUNT}:jobs"
    naming_the_role = policy(allow("sqs:SendMessage", queue, Principal={"AWS": ROLE}))
    assert decide("sqs:SendMessage", queue, resources=((queue, naming_the_role),)).allowed
    # Naming the account only delegates to the account's identity policies.
    naming_the_account = policy(allow("sqs:SendMessage", queue,
                                      Principal={"AWS": f"arn:aws:iam::{ACCOUNT}:root"}))
    assert not decide("sqs:SendMessage", queue, resources=((queue, naming_the_account),)).allowed
    assert decide("sqs:SendMessage", queue, policy(allow("sqs:SendMessage", queue)),
                  resources=((queue, naming_the_account),)).allowed


def test_another_accounts_resource_needs_both_policies() -> None:
    queue = f"arn:aws:sqs:{REGION}:{OTHER_ACCOUNT}:jobs"
    identity = policy(allow("sqs:SendMessage", queue))
    assert not decide("sqs:SendMessage", queue, identity).allowed
    theirs = policy(allow("sqs:SendMessage", queue, Principal={"AWS": ACCOUNT}))
    assert decide("sqs:SendMessage", queue, identity, resources=((queue, theirs),)).allowed


def test_a_key_policy_must_allow_even_with_an_identity_allow() -> None:
    key = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    identity = policy(allow("kms:Decrypt", key))
    delegating = policy(allow("kms:*", "*", Principal={"AWS": f"arn:aws:iam::{ACCOUNT}:root"}))
    admins_only = policy(allow("kms:*", "*", Principal={"AWS": ROLE.replace("app", "admin")}))
    naming_the_role = policy(allow("kms:Decrypt", "*", Principal={"AWS": ROLE}))
    assert decide("kms:Decrypt", key, identity, resources=((key, delegating),)).allowed
    assert not decide("kms:Decrypt", key, resources=((key, delegating),)).allowed
    denied = decide("kms:Decrypt", key, identity, resources=((key, admins_only),))
    assert (denied.outcome, denied.denied_in) == ("implicit-deny", "resource")
    assert decide("kms:Decrypt", key, resources=((key, naming_the_role),)).allowed


def test_through_an_access_point_every_resource_policy_on_the_way_counts() -> None:
    access_point = f"arn:aws:s3:{REGION}:{ACCOUNT}:accesspoint/source"
    obj = f"arn:aws:s3:::{BUCKET}/doc.pdf"
    bucket_policy = policy(
        allow("s3:GetObject", f"arn:aws:s3:::{BUCKET}/*",
              Principal={"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
              Condition={"StringEquals": {"s3:DataAccessPointArn": [access_point]}}),
        deny("s3:GetObject", f"arn:aws:s3:::{BUCKET}/*", Principal={"AWS": "*"},
             Sid="ReadOnlyThroughAccessPoints",
             Condition={"StringNotEquals": {"s3:DataAccessPointArn": [access_point]}}),
        name="bucket policy")
    identity = policy(allow("s3:GetObject", f"{access_point}/object/*"))
    through = {"s3:DataAccessPointArn": access_point}
    check = Check("s3:GetObject", f"{access_point}/object/doc.pdf", (obj,), through)
    resource_policy = {obj: bucket_policy}.get
    assert iam.decide(CALLER, check, [identity], resource_policy).allowed
    direct = iam.decide(CALLER, Check("s3:GetObject", obj), [policy(allow("s3:*"))],
                        resource_policy)
    assert direct.outcome == "explicit-deny"
    assert sid_of(direct) == "ReadOnlyThroughAccessPoints"


# --- mapping -----------------------------------------------------------------------------------

OLAP = f"arn:aws:s3-object-lambda:{REGION}:{ACCOUNT}:accesspoint/docs-olap"
SUPPORTING = f"arn:aws:s3:{REGION}:{ACCOUNT}:accesspoint/docs-source"
TRANSFORM = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:transform"
KEY = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
SECRET = f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:api-token-AbCdEf"
TOPOLOGY = Topology(
    access_points={SUPPORTING: "docs-bucket"},
    access_point_aliases={"docs-source-abc123-s3alias": SUPPORTING},
    object_lambdas={OLAP: ObjectLambda(SUPPORTING, {"GetObject": TRANSFORM})},
    kms_aliases={f"arn:aws:kms:{REGION}:{ACCOUNT}:alias/app": KEY},
    bucket_keys={"sealed-bucket": KEY},
    secrets={"api-token": SECRET},
    object_lambda_routes={"io-route-1": OLAP},
)
OBJECT = f"arn:aws:s3:::{BUCKET}/index/CURRENT.json"
SES_IDENTITY = f"arn:aws:ses:{REGION}:{ACCOUNT}:identity/example.com"
SES_ADDRESS_IDENTITY = f"arn:aws:ses:{REGION}:{ACCOUNT}:identity/events@example.com"
SMS = f"arn:aws:sms-voice:{REGION}:{ACCOUNT}"
QUEUE_URL = f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/jobs"
VIA_OLAP = ["s3-object-lambda.amazonaws.com"]


def mapped(service: str, operation: str, params: Mapping[str, Any],
           region: str = REGION) -> list[tuple[str, str]]:
    return [(c.action, c.resource) for c in map_call(service, operation, params, region=region,
                                                       account=ACCOUNT, topology=TOPOLOGY)]


@pytest.mark.parametrize(("service", "operation", "params", "expected"), [
    ("dynamodb", "GetItem", {"TableName": "orders", "Key": {}}, [("dynamodb:GetItem", TABLE)]),
    ("dynamodb", "PutItem", {"TableName": "orders", "Item": {}}, [("dynamodb:PutItem", TABLE)]),
    ("dynamodb", "UpdateItem", {"TableName": "orders", "Key": {}},
     [("dynamodb:UpdateItem", TABLE)]),
    ("dynamodb", "Query", {"TableName": "orders"}, [("dynamodb:Query", TABLE)]),
    ("dynamodb", "Query", {"TableName": "orders", "IndexName": "byUser"},
     [("dynamodb:Query", f"{TABLE}/index/byUser")]),
    ("dynamodb", "GetItem", {"TableName": TABLE.replace(REGION, "us-east-1"), "Key": {}},
     [("dynamodb:GetItem", TABLE.replace(REGION, "us-east-1"))]),
    ("dynamodb", "BatchGetItem", {"RequestItems": {"orders": {}, "users": {}}},
     [("dynamodb:BatchGetItem", TABLE), ("dynamodb:BatchGetItem", TABLE[:-6] + "users")]),
    ("dynamodb", "TransactWriteItems", {"TransactItems": [
        {"Put": {"TableName": "orders", "Item": {}}},
        {"ConditionCheck": {"TableName": "users", "Key": {}, "ConditionExpression": "x"}}]},
     [("dynamodb:PutItem", TABLE), ("dynamodb:ConditionCheckItem", TABLE[:-6] + "users")]),
    ("dynamodb", "TransactWriteItems", {"TransactItems": [
        {"Update": {"TableName": "orders", "Key": {}, "UpdateExpression": "SET n = n + :one"}},
        {"Put": {"TableName": "orders", "Item": {}}}]},
     [("dynamodb:UpdateItem", TABLE), ("dynamodb:PutItem", TABLE)]),
    ("s3", "GetObject", {"Bucket": BUCKET, "Key": "index/CURRENT.json"},
     [("s3:GetObject", OBJECT)]),
    ("s3", "GetObject", {"Bucket": BUCKET, "Key": "index/CURRENT.json", "IfMatch": '"e"'},
     [("s3:GetObject", OBJECT)]),
    ("s3", "GetObject", {"Bucket": BUCKET, "Key": "index/CURRENT.json", "VersionId": "v1"},
     [("s3:GetObjectVersion", OBJECT)]),
    ("s3", "HeadObject", {"Bucket": BUCKET, "Key": "index/CURRENT.json"},
     [("s3:GetObject", OBJECT)]),
    ("s3", "PutObject", {"Bucket": BUCKET, "Key": "index/CURRENT.json"},
     [("s3:PutObject", OBJECT)]),
    ("s3", "CreateMultipartUpload", {"Bucket": BUCKET, "Key": "index/CURRENT.json"},
     [("s3:PutObject", OBJECT)]),
    ("s3", "UploadPart", {"Bucket": BUCKET, "Key": "index/CURRENT.json", "UploadId": "u",
                          "PartNumber": 1}, [("s3:PutObject", OBJECT)]),
    ("s3", "CompleteMultipartUpload", {"Bucket": BUCKET, "Key": "index/CURRENT.json",
                                       "UploadId": "u"}, [("s3:PutObject", OBJECT)]),
    ("s3", "AbortMultipartUpload", {"Bucket": BUCKET, "Key": "index/CURRENT.json",
                                    "UploadId": "u"}, [("s3:AbortMultipartUpload", OBJECT)]),
    ("s3", "ListObjectsV2", {"Bucket": BUCKET, "Prefix": "index/"},
     [("s3:ListBucket", f"arn:aws:s3:::{BUCKET}")]),
    ("s3", "HeadBucket", {"Bucket": BUCKET}, [("s3:ListBucket", f"arn:aws:s3:::{BUCKET}")]),
    ("s3", "DeleteObjects", {"Bucket": BUCKET, "Delete": {"Objects": [
        {"Key": "a"}, {"Key": "b", "VersionId": "v"}]}},
     [("s3:DeleteObject", f"arn:aws:s3:::{BUCKET}/a"),
      ("s3:DeleteObjectVersion", f"arn:aws:s3:::{BUCKET}/b")]),
    ("s3", "CopyObject", {"Bucket": BUCKET, "Key": "copy", "CopySource": "other/orig%20nal"},
     [("s3:PutObject", f"arn:aws:s3:::{BUCKET}/copy"),
      ("s3:GetObject", "arn:aws:s3:::other/orig nal")]),
    ("s3", "ListBuckets", {}, [("s3:ListAllMyBuckets", "*")]),
    ("s3", "PutObject", {"Bucket": "sealed-bucket", "Key": "k"},
     [("s3:PutObject", "arn:aws:s3:::sealed-bucket/k"), ("kms:GenerateDataKey", KEY)]),
    ("s3", "GetObject", {"Bucket": "sealed-bucket", "Key": "k"},
     [("s3:GetObject", "arn:aws:s3:::sealed-bucket/k"), ("kms:Decrypt", KEY)]),
    ("s3", "PutObject", {"Bucket": BUCKET, "Key": "k", "ServerSideEncryption": "aws:kms",
                         "SSEKMSKeyId": "alias/app"},
     [("s3:PutObject", f"arn:aws:s3:::{BUCKET}/k"), ("kms:GenerateDataKey", KEY)]),
    ("s3", "WriteGetObjectResponse", {"RequestRoute": "io-route-1", "RequestToken": "t"},
     [("s3-object-lambda:WriteGetObjectResponse", OLAP)]),
    ("sqs", "SendMessage", {"QueueUrl": QUEUE_URL, "MessageBody": "{}"},
     [("sqs:SendMessage", f"arn:aws:sqs:{REGION}:{ACCOUNT}:jobs")]),
    ("sqs", "SendMessageBatch", {"QueueUrl": f"http://127.0.0.1:5000/{ACCOUNT}/jobs",
                                 "Entries": []},
     [("sqs:SendMessage", f"arn:aws:sqs:{REGION}:{ACCOUNT}:jobs")]),
    ("sqs", "ReceiveMessage", {"QueueUrl": QUEUE_URL},
     [("sqs:ReceiveMessage", f"arn:aws:sqs:{REGION}:{ACCOUNT}:jobs")]),
    ("sns", "Publish", {"TopicArn": f"arn:aws:sns:{REGION}:{ACCOUNT}:alerts", "Message": "m"},
     [("sns:Publish", f"arn:aws:sns:{REGION}:{ACCOUNT}:alerts")]),
    ("events", "PutEvents", {"Entries": [{"Source": "app"}, {"EventBusName": "orders"}]},
     [("events:PutEvents", f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/default"),
      ("events:PutEvents", f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/orders")]),
    ("lambda", "Invoke", {"FunctionName": "transform"}, [("lambda:InvokeFunction", TRANSFORM)]),
    ("lambda", "Invoke", {"FunctionName": "transform", "Qualifier": "live"},
     [("lambda:InvokeFunction", f"{TRANSFORM}:live")]),
    ("lambda", "Invoke", {"FunctionName": f"{TRANSFORM}:3"},
     [("lambda:InvokeFunction", f"{TRANSFORM}:3")]),
    ("lambda", "Invoke", {"FunctionName": f"{OTHER_ACCOUNT}:function:transform"},
     [("lambda:InvokeFunction", TRANSFORM.replace(ACCOUNT, OTHER_ACCOUNT))]),
    ("sts", "GetCallerIdentity", {}, []),
    ("sts", "AssumeRole", {"RoleArn": ROLE, "RoleSessionName": "s"}, [("sts:AssumeRole", ROLE)]),
    ("kms", "Decrypt", {"CiphertextBlob": b"x", "KeyId": KEY}, [("kms:Decrypt", KEY)]),
    ("kms", "GenerateDataKey", {"KeyId": KEY.rsplit("/", 1)[1]},
     [("kms:GenerateDataKey", KEY)]),
    ("kms", "Encrypt", {"KeyId": "alias/app", "Plaintext": b"x"}, [("kms:Encrypt", KEY)]),
    ("kms", "ReEncrypt", {"CiphertextBlob": b"x", "SourceKeyId": KEY,
                          "DestinationKeyId": "alias/app"},
     [("kms:ReEncryptFrom", KEY), ("kms:ReEncryptTo", KEY)]),
    ("kms", "GenerateMac", {"KeyId": KEY.rsplit("/", 1)[1], "MacAlgorithm": "HMAC_SHA_256",
                            "Message": b"x"}, [("kms:GenerateMac", KEY)]),
    ("kms", "VerifyMac", {"KeyId": KEY, "MacAlgorithm": "HMAC_SHA_256", "Message": b"x",
                          "Mac": b"m"}, [("kms:VerifyMac", KEY)]),
    ("secretsmanager", "GetSecretValue", {"SecretId": SECRET},
     [("secretsmanager:GetSecretValue", SECRET)]),
    ("secretsmanager", "GetSecretValue", {"SecretId": "api-token"},
     [("secretsmanager:GetSecretValue", SECRET)]),
    ("ssm", "GetParameter", {"Name": "/app/db/url"},
     [("ssm:GetParameter", f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/app/db/url")]),
    ("ssm", "GetParameters", {"Names": ["/a", "b"]},
     [("ssm:GetParameters", f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/a"),
      ("ssm:GetParameters", f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/b")]),
    ("cognito-idp", "AdminGetUser", {"UserPoolId": "eu-west-1_AbC123", "Username": "ann"},
     [("cognito-idp:AdminGetUser",
       f"arn:aws:cognito-idp:{REGION}:{ACCOUNT}:userpool/eu-west-1_AbC123")]),
    # Cognito's user-facing calls are not signed: IAM never sees them.
    ("cognito-idp", "InitiateAuth", {"ClientId": "c", "AuthFlow": "USER_SRP_AUTH"}, []),
    ("logs", "PutLogEvents", {"logGroupName": "/app/x", "logStreamName": "s", "logEvents": []},
     [("logs:PutLogEvents",
       f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/app/x:log-stream:s")]),
    ("xray", "PutTraceSegments", {"TraceSegmentDocuments": []}, [("xray:PutTraceSegments", "*")]),
    # SES v2: the From address's domain identity, or the identity the request names; and the
    # configuration set and template it names.
    ("sesv2", "SendEmail", {"FromEmailAddress": "Summit <events@example.com>",
                            "Destination": {"ToAddresses": ["ann@example.org"]},
                            "Content": {"Simple": {}}},
     [("ses:SendEmail", SES_IDENTITY)]),
    ("sesv2", "SendEmail", {"FromEmailAddress": "events@example.com", "Destination": {},
                            "Content": {"Template": {"TemplateName": "reminder"}},
                            "ConfigurationSetName": "reminders"},
     [("ses:SendEmail", SES_IDENTITY),
      ("ses:SendEmail", f"arn:aws:ses:{REGION}:{ACCOUNT}:configuration-set/reminders"),
      ("ses:SendEmail", f"arn:aws:ses:{REGION}:{ACCOUNT}:template/reminder")]),
    ("sesv2", "SendEmail", {"FromEmailAddress": "events@example.com", "Destination": {},
                            "Content": {"Simple": {}},
                            "FromEmailAddressIdentityArn": SES_ADDRESS_IDENTITY},
     [("ses:SendEmail", SES_ADDRESS_IDENTITY)]),
    ("sesv2", "GetAccount", {}, [("ses:GetAccount", "*")]),
    # End User Messaging SMS: the origination identity, by ARN or by phone number or pool id.
    ("pinpoint-sms-voice-v2", "SendTextMessage", {
        "DestinationPhoneNumber": "+15555550100", "MessageBody": "m",
        "OriginationIdentity": f"{SMS}:phone-number/phone-{'0a' * 16}"},
     [("sms-voice:SendTextMessage", f"{SMS}:phone-number/phone-{'0a' * 16}")]),
    ("pinpoint-sms-voice-v2", "SendTextMessage", {
        "DestinationPhoneNumber": "+15555550100", "MessageBody": "m",
        "OriginationIdentity": f"{SMS}:sender-id/SUMMIT/GB"},
     [("sms-voice:SendTextMessage", f"{SMS}:sender-id/SUMMIT/GB")]),
    ("pinpoint-sms-voice-v2", "SendTextMessage", {
        "DestinationPhoneNumber": "+15555550100", "MessageBody": "m",
        "OriginationIdentity": f"pool-{'0a' * 16}"},
     [("sms-voice:SendTextMessage", f"{SMS}:pool/pool-{'0a' * 16}")]),
    ("pinpoint-sms-voice-v2", "SendTextMessage", {
        "DestinationPhoneNumber": "+15555550100", "MessageBody": "m",
        "OriginationIdentity": f"phone-{'0a' * 16}"},
     [("sms-voice:SendTextMessage", f"{SMS}:phone-number/phone-{'0a' * 16}")]),
])
def test_calls_map_to_what_iam_checks(service: str, operation: str, params: dict[str, Any],
                                      expected: list[tuple[str, str]]) -> None:
    assert mapped(service, operation, params) == expected


def test_the_client_region_and_account_make_the_arn() -> None:
    assert mapped("dynamodb", "GetItem", {"TableName": "orders"}, region="us-east-1") == [
        ("dynamodb:GetItem", TABLE.replace(REGION, "us-east-1"))]
    assert mapped("dynamodb", "GetItem", {"TableName": "orders"}, region="cn-north-1") == [
        ("dynamodb:GetItem", f"arn:aws-cn:dynamodb:cn-north-1:{ACCOUNT}:table/orders")]


def test_a_call_through_an_access_point_reaches_its_bucket() -> None:
    for bucket in (SUPPORTING, "docs-source-abc123-s3alias"):
        [check] = map_call("s3", "GetObject", {"Bucket": bucket, "Key": "a/b.pdf"},
                           region=REGION, account=ACCOUNT, topology=TOPOLOGY)
        assert check.action == "s3:GetObject"
        assert check.resource == f"{SUPPORTING}/object/a/b.pdf"
        assert check.underlying == ("arn:aws:s3:::docs-bucket/a/b.pdf",)
        assert check.context["s3:DataAccessPointArn"] == SUPPORTING
    [listing] = map_call("s3", "ListObjectsV2", {"Bucket": SUPPORTING}, region=REGION,
                         account=ACCOUNT, topology=TOPOLOGY)
    assert (listing.action, listing.resource) == ("s3:ListBucket", SUPPORTING)


def test_an_object_lambda_read_is_three_checks_the_last_two_called_via() -> None:
    olap, invoke, read = map_call("s3", "GetObject", {"Bucket": OLAP, "Key": "a/b.pdf"},
                                  region=REGION, account=ACCOUNT, topology=TOPOLOGY)
    assert (olap.action, olap.resource, olap.context) == ("s3-object-lambda:GetObject", OLAP, {})
    assert (invoke.action, invoke.resource) == ("lambda:InvokeFunction", TRANSFORM)
    assert invoke.context["aws:CalledVia"] == VIA_OLAP
    assert (read.action, read.resource) == ("s3:GetObject", f"{SUPPORTING}/object/a/b.pdf")
    assert read.underlying == ("arn:aws:s3:::docs-bucket/a/b.pdf",)
    assert read.context["aws:CalledVia"] == VIA_OLAP
    assert read.context["s3:DataAccessPointArn"] == SUPPORTING


def test_write_get_object_response_finds_the_access_point_of_its_transform() -> None:
    [check] = map_call("s3", "WriteGetObjectResponse",
                       {"RequestRoute": "unregistered", "RequestToken": "t"}, region=REGION,
                       account=ACCOUNT, topology=TOPOLOGY, caller_function=TRANSFORM)
    assert check.resource == OLAP


def test_an_email_carries_its_addresses_as_condition_keys() -> None:
    checks = map_call("sesv2", "SendEmail", {
        "FromEmailAddress": "Serverless Summit <events@example.com>",
        "Destination": {"ToAddresses": ["Ann <ann@example.org>"], "BccAddresses": ["b@x.org"]},
        "Content": {"Simple": {}}, "ConfigurationSetName": "reminders"},
        region=REGION, account=ACCOUNT)
    assert [check.context for check in checks] == [{
        "ses:FromAddress": "events@example.com", "ses:FromDisplayName": "Serverless Summit",
        "ses:Recipients": ["ann@example.org", "b@x.org"]}] * 2
    # A role that may send from one address only, as the reminder function's.
    only_events = policy(allow("ses:SendEmail", [SES_IDENTITY, f"arn:aws:ses:{REGION}:{ACCOUNT}:"
                                                 "configuration-set/reminders"],
                               Condition={"StringEquals": {"ses:FromAddress":
                                                           "events@example.com"}}))
    assert all(iam.decide(CALLER, check, [only_events]).allowed for check in checks)
    [other] = map_call("sesv2", "SendEmail", {
        "FromEmailAddress": "ceo@example.com", "Destination": {}, "Content": {"Simple": {}}},
        region=REGION, account=ACCOUNT)
    assert other.resource == SES_IDENTITY
    assert not iam.decide(CALLER, other, [only_events]).allowed


@pytest.mark.parametrize(("service", "operation", "params", "why"), [
    ("s3", "FetchEverything", {}, "s3 has no operation FetchEverything"),
    ("s3", "WriteGetObjectResponse", {"RequestRoute": "nobody", "RequestToken": "t"},
     "RequestRoute 'nobody'"),
    ("s3", "GetObject", {"Bucket": f"arn:aws:s3:{REGION}:{ACCOUNT}:accesspoint/unknown",
                         "Key": "k"}, "not in the plan"),
    ("s3", "GetPublicAccessBlock", {"Bucket": BUCKET}, "no action for it"),
    ("kms", "Decrypt", {"CiphertextBlob": b"x"}, "cannot read the key"),
    ("kms", "Encrypt", {"KeyId": "alias/unknown", "Plaintext": b"x"}, "not in the plan"),
    ("sns", "Publish", {"PhoneNumber": "+15555550100", "Message": "m"}, "no parameter names"),
    ("sqs", "SendMessage", {"QueueUrl": "https://example.com/", "MessageBody": "m"},
     "not a queue URL"),
    ("sesv2", "SendEmail", {"Destination": {}, "Content": {"Raw": {"Data": b"From: a@b.c"}}},
     "no FromEmailAddress"),
    ("sesv2", "SendEmail", {"FromEmailAddress": "a@example.com", "Destination": {},
                            "Content": {"Simple": {}}, "FromEmailAddressIdentityArn": SMS},
     "is not an SES identity ARN"),
    ("sesv2", "SendBulkEmail", {"FromEmailAddress": "a@example.com", "BulkEmailEntries": [],
                                "DefaultContent": {}}, "bulk sending"),
    ("ses", "SendEmail", {"Source": "a@example.com", "Destination": {},
                          "Message": {"Subject": {"Data": "s"}, "Body": {}}},
     "SES v1 sending is not mapped yet"),
    ("pinpoint-sms-voice-v2", "SendTextMessage", {
        "DestinationPhoneNumber": "+15555550100", "OriginationIdentity": "+15555550199"},
     "phone number or sender id"),
    ("pinpoint-sms-voice-v2", "SendTextMessage", {
        "DestinationPhoneNumber": "+15555550100", "OriginationIdentity": f"pool-{'0a' * 16}",
        "ConfigurationSetName": "texts"}, "for its ConfigurationSetName"),
    ("pinpoint-sms-voice-v2", "SendTextMessage", {"DestinationPhoneNumber": "+15555550100"},
     "no OriginationIdentity"),
])
def test_unknown_calls_are_reported_never_allowed(service: str, operation: str,
                                                  params: dict[str, Any], why: str) -> None:
    with pytest.raises(UnmappedCallError) as raised:
        map_call(service, operation, params, region=REGION, account=ACCOUNT, topology=TOPOLOGY)
    message = str(raised.value)
    assert message.startswith(f"local mode cannot map {service}.{operation}")
    assert message.endswith("; add it to tools/local/iam.py")
    assert why in message


def test_execute_api_invoke_check() -> None:
    check = iam.execute_api_check("a1b2c3", "v1", "get", "/hello", region=REGION,
                                  account=ACCOUNT)
    assert check == Check("execute-api:Invoke",
                          f"arn:aws:execute-api:{REGION}:{ACCOUNT}:a1b2c3/v1/GET/hello")


# --- the hook ----------------------------------------------------------------------------------

READ_ORDERS = policy({**allow("dynamodb:PutItem", TABLE), "Sid": "WriteOrders"})


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    with mock_aws():
        boto3.client("dynamodb", region_name=REGION).create_table(
            TableName="orders", BillingMode="PAY_PER_REQUEST",
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}])
        boto3.client("s3", region_name=REGION).create_bucket(
            Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
        yield


def test_the_hook_lets_allowed_calls_through_and_denies_the_rest(
        aws: None, caplog: pytest.LogCaptureFixture) -> None:
    client = boto3.client("dynamodb", region_name=REGION)
    iam.install(client, [READ_ORDERS], role_arn=ROLE, session_name="app-function",
                account=ACCOUNT, region=REGION)
    client.put_item(TableName="orders", Item={"id": {"S": "1"}})
    with caplog.at_level(logging.WARNING, logger="tools.local.iam"), \
            pytest.raises(ClientError) as raised:
        client.get_item(TableName="orders", Key={"id": {"S": "1"}})
    error = raised.value.response["Error"]
    assert error["Code"] == "AccessDeniedException"
    assert error["Message"] == (
        f"User: arn:aws:sts::{ACCOUNT}:assumed-role/app-role/app-function is not authorized to "
        f"perform: dynamodb:GetItem on resource: {TABLE} because no identity-based policy "
        "allows the dynamodb:GetItem action")
    assert raised.value.operation_name == "GetItem"
    logged = caplog.text
    assert f"no statement allows dynamodb:GetItem on {TABLE}" in logged
    assert "statement 'WriteOrders' (#0) of inline policy app allows only dynamodb:PutItem" \
        in logged
    # The item the allowed call wrote is there, read without the hook.
    assert boto3.client("dynamodb", region_name=REGION).get_item(
        TableName="orders", Key={"id": {"S": "1"}})["Item"]


def test_a_session_hook_reaches_every_client_it_makes_but_not_presigning(aws: None) -> None:
    session = boto3.Session(region_name=REGION)
    iam.install(session, [policy(allow("s3:PutObject", f"arn:aws:s3:::{BUCKET}/index/*"))],
                role_arn=ROLE, session_name="app-function", account=ACCOUNT, region=REGION)
    s3 = session.client("s3")
    s3.put_object(Bucket=BUCKET, Key="index/a.json", Body=b"{}")
    with pytest.raises(ClientError) as raised:
        s3.put_object(Bucket=BUCKET, Key="reference/a.csv", Body=b"")
    assert raised.value.response["Error"]["Code"] == "AccessDenied"
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    # A presigned URL is checked when it is used, not when it is made.
    assert s3.generate_presigned_url("get_object", Params={"Bucket": BUCKET, "Key": "x"})
    with pytest.raises(UnmappedCallError, match=r"s3\.GetPublicAccessBlock"):
        s3.get_public_access_block(Bucket=BUCKET)


def test_installing_twice_replaces_the_check(aws: None) -> None:
    client = boto3.client("dynamodb", region_name=REGION)
    iam.install(client, [], role_arn=ROLE, session_name="f", account=ACCOUNT, region=REGION)
    iam.install(client, [READ_ORDERS], role_arn=ROLE, session_name="f", account=ACCOUNT,
                region=REGION)
    client.put_item(TableName="orders", Item={"id": {"S": "2"}})


# --- the dev stack: every call of every handler, against its role in the plan -----------------

Facts = Mapping[str, Any]


@dataclass(frozen=True)
class HandlerCall:
    """One AWS call a handler makes: the boto3 method in its code, and each API call that
    method sends, with parameters as the handler builds them from its settings."""

    method: str
    service: str
    operation: str
    params: Callable[[Facts], dict[str, Any]]
    # Where the client is, when not in the function's region (an edge function's table).
    regions: Callable[[Facts], list[str]] | None = None
    # Whether the handler makes the call with these settings, when an optional one decides.
    when: Callable[[Facts], bool] | None = None
    # A call the role does not allow on purpose, and why the handler is fine without it.
    denied: str | None = None


def _index(facts: Facts, key: str) -> dict[str, Any]:
    return {"Bucket": facts["BUCKET_NAME"], "Key": f"{facts['INDEX_PREFIX']}{key}"}


def _temporary(facts: Facts, **extra: Any) -> dict[str, Any]:
    return {"Bucket": facts["TEMP_BUCKET"], "Key": "20261202T160000000Z-3f2a9c1b7d4e/doc.pdf",
            **extra}


def _session_key(facts: Facts) -> dict[str, str]:
    return {"pk": f"EVENT#{facts['EVENT_ID']}", "sk": "SESSION#keynote"}


def _registration_key() -> dict[str, str]:
    return {"pk": "SESSION#keynote", "sk": "GUEST#0b6c3a3e-5c1f-4d8e-9f7a-2e4b6d8c1a3f"}


def _reminder(facts: Facts) -> dict[str, Any]:
    configuration_set = facts.get("SES_CONFIGURATION_SET")
    return {"FromEmailAddress": facts["FROM_ADDRESS"],
            "Destination": {"ToAddresses": ["ann@example.org"]},
            "Content": {"Simple": {"Subject": {"Data": "Reminder"},
                                   "Body": {"Text": {"Data": "Hello"}}}},
            **({"ConfigurationSetName": configuration_set} if configuration_set else {})}



def _consumes_the_queue(facts: Facts) -> bool:
    """The job image's consumer (it starts the workflow); the job step does not."""
    return "STATE_MACHINE_ARN" in facts


JOB_ID = "6f1c9d0e-2b3a-4c5d-8e7f-0a1b2c3d4e5f"

HANDLER_CALLS: dict[str, list[HandlerCall]] = {
    "hello": [],
    # The microservice cache (its Valkey connections are IAM-signed locally: no AWS call).
    "cache_billing": [
        HandlerCall("get_item", "dynamodb", "GetItem", lambda f: {
            "TableName": f["ACCOUNTS_TABLE"], "Key": {"accountId": {"S": "acct-1"}}}),
    ],
    "cache_payment": [
        # One transaction: the payment if new, the account's balance if it exists.
        HandlerCall("transact_write_items", "dynamodb", "TransactWriteItems", lambda f: {
            "TransactItems": [
                {"Put": {"TableName": f["PAYMENTS_TABLE"],
                         "Item": {"paymentId": {"S": "pay-1"}},
                         "ConditionExpression": "attribute_not_exists(paymentId)"}},
                {"Update": {"TableName": f["ACCOUNTS_TABLE"],
                            "Key": {"accountId": {"S": "acct-1"}},
                            "UpdateExpression": "SET balance = balance - :amount",
                            "ConditionExpression": "attribute_exists(accountId)"}}]}),
        HandlerCall("put_events", "events", "PutEvents", lambda f: {"Entries": [{
            "EventBusName": f["EVENT_BUS_NAME"], "Source": "blueprints.cache.payments",
            "DetailType": "payment_processed", "Detail": "{}"}]}),
    ],
    "cache_profile": [
        # Through DAX when it is reachable (dax:GetItem, which local mode has no DAX for).
        HandlerCall("get_item", "dynamodb", "GetItem", lambda f: {
            "TableName": f["PROFILES_TABLE"], "Key": {"profileId": {"S": "prof-1"}}}),
    ],
    "cache_manager": [
        HandlerCall("get_item", "dynamodb", "GetItem", lambda f: {
            "TableName": f["ACCOUNTS_TABLE"], "Key": {"accountId": {"S": "acct-1"}}},
            when=lambda f: f.get("CACHE_MODE") == "refresh"),
        HandlerCall("get_item", "dynamodb", "GetItem", lambda f: {
            "TableName": f["PROFILES_TABLE"], "Key": {"profileId": {"S": "prof-1"}}},
            when=lambda f: f.get("CACHE_MODE") == "refresh"),
    ],
    "profile_refresher": [
        HandlerCall("put_events", "events", "PutEvents", lambda f: {"Entries": [{
            "EventBusName": f["EVENT_BUS_NAME"], "Source": "blueprints.cache.profiles",
            "DetailType": "profile_changed", "Detail": "{}"}]}),
    ],
    "analytics_job": [
        HandlerCall("put_item", "dynamodb", "PutItem", lambda f: {
            "TableName": f["JOBS_TABLE"], "Item": {"jobId": {"S": JOB_ID}},
            "ConditionExpression": "attribute_not_exists(jobId)"}, when=_consumes_the_queue),
        HandlerCall("start_execution", "stepfunctions", "StartExecution", lambda f: {
            "stateMachineArn": f["STATE_MACHINE_ARN"], "name": JOB_ID, "input": "{}"},
            when=_consumes_the_queue),
        HandlerCall("put_object", "s3", "PutObject", lambda f: {
            "Bucket": f["RESULT_BUCKET"], "Key": f"results/{JOB_ID}.json", "Body": b"{}"},
            when=lambda f: not _consumes_the_queue(f)),
        HandlerCall("update_item", "dynamodb", "UpdateItem", lambda f: {
            "TableName": f["JOBS_TABLE"], "Key": {"jobId": {"S": JOB_ID}},
            "UpdateExpression": "SET #status = :status"},
            denied="the Express workflow's Fargate task records its outcome (task.py, with the "
                   "task role); no Lambda does"),
    ],
    "analytics_status": [
        HandlerCall("get_item", "dynamodb", "GetItem", lambda f: {
            "TableName": f["JOBS_TABLE"], "Key": {"jobId": {"S": JOB_ID}},
            "ConsistentRead": True}),
        HandlerCall("head_object", "s3", "HeadObject", lambda f: {
            "Bucket": f["RESULT_BUCKET"], "Key": f"results/{JOB_ID}.json"}),
        # A presigned URL is signed here and used by the client: S3 checks GetObject then.
        HandlerCall("generate_presigned_url", "s3", "GetObject", lambda f: {
            "Bucket": f["RESULT_BUCKET"], "Key": f"results/{JOB_ID}.json"}),
    ],
    "query_key_authorizer": [],
    "customizations": [
        HandlerCall("put_item", "dynamodb", "PutItem", lambda f: {
            "TableName": f["TABLE_NAME"], "Item": {"id": {"S": "1"}},
            "ConditionExpression": "attribute_not_exists(id)"}),
        HandlerCall("get_item", "dynamodb", "GetItem", lambda f: {
            "TableName": f["TABLE_NAME"], "Key": {"id": {"S": "1"}}, "ConsistentRead": True}),
    ],
    "document_api": [
        HandlerCall("put_item", "dynamodb", "PutItem", lambda f: {
            "TableName": f["ACCESS_LOG_TABLE"], "Item": {},
            "ConditionExpression": "attribute_not_exists(accessId)"}),
        HandlerCall("update_item", "dynamodb", "UpdateItem", lambda f: {
            "TableName": f["ACCESS_LOG_TABLE"], "Key": {}}),
        HandlerCall("get_object", "s3", "GetObject", lambda f: {
            "Bucket": f["OBJECT_LAMBDA_ACCESS_POINT_ARN"], "Key": "contracts/agreement.pdf"}),
        HandlerCall("upload_fileobj", "s3", "PutObject", _temporary),
        HandlerCall("upload_fileobj", "s3", "CreateMultipartUpload", _temporary),
        HandlerCall("upload_fileobj", "s3", "UploadPart",
                    lambda f: _temporary(f, UploadId="u", PartNumber=1)),
        HandlerCall("upload_fileobj", "s3", "CompleteMultipartUpload",
                    lambda f: _temporary(f, UploadId="u")),
        HandlerCall("upload_fileobj", "s3", "AbortMultipartUpload",
                    lambda f: _temporary(f, UploadId="u")),
        # Checked when the user's browser follows the URL, signed by the role.
        HandlerCall("generate_presigned_url", "s3", "GetObject", _temporary),
    ],
    "document_transform": [
        HandlerCall("write_get_object_response", "s3", "WriteGetObjectResponse", lambda f: {
            "RequestRoute": "io-a1b2c3", "RequestToken": "token", "StatusCode": 200}),
    ],
    "entity_index_builder": [
        HandlerCall("get_object", "s3", "GetObject", lambda f: _index(f, "CURRENT.json")),
        HandlerCall("get_object", "s3", "GetObject", lambda f: {
            "Bucket": f["BUCKET_NAME"], "Key": f"{f['REFERENCE_PREFIX']}companies.csv",
            "IfMatch": '"9b2cf535f27731c974343645a3985328"'}),
        HandlerCall("get_object", "s3", "GetObject", lambda f: {
            "Bucket": f["BUCKET_NAME"], "Key": f"{f['REFERENCE_PREFIX']}companies.csv",
            "VersionId": "3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY"},
            denied="reads by VersionId only for an S3 event without an ETag, which object "
                   "creation events always carry; the role has s3:GetObject, not "
                   "s3:GetObjectVersion"),
        HandlerCall("upload_file", "s3", "PutObject",
                    lambda f: _index(f, "20261202T160000Z-9b2cf535/manifest.json")),
        HandlerCall("upload_file", "s3", "CreateMultipartUpload",
                    lambda f: _index(f, "20261202T160000Z-9b2cf535/vectors.npy")),
        HandlerCall("upload_file", "s3", "UploadPart", lambda f: {
            **_index(f, "20261202T160000Z-9b2cf535/vectors.npy"), "UploadId": "u",
            "PartNumber": 1}),
        HandlerCall("upload_file", "s3", "CompleteMultipartUpload", lambda f: {
            **_index(f, "20261202T160000Z-9b2cf535/vectors.npy"), "UploadId": "u"}),
        HandlerCall("upload_file", "s3", "AbortMultipartUpload", lambda f: {
            **_index(f, "20261202T160000Z-9b2cf535/vectors.npy"), "UploadId": "u"}),
        HandlerCall("put_object", "s3", "PutObject", lambda f: {
            **_index(f, "CURRENT.json"), "IfNoneMatch": "*", "Body": b"{}"}),
    ],
    "entity_matcher": [
        HandlerCall("get_object", "s3", "GetObject", lambda f: _index(f, "CURRENT.json")),
        HandlerCall("get_object", "s3", "GetObject",
                    lambda f: _index(f, "20261202T160000Z-9b2cf535/manifest.json")),
    ],
    # It answers who called, from the event alone.
    "private_api_whoami": [],
    "version_router": [
        HandlerCall("get_item", "dynamodb", "GetItem",
                    lambda f: {"TableName": f["table_name"], "Key": {"hk": {"S": "v1"}}},
                    regions=lambda f: [f["region"], *f["replica_regions"]]),
    ],
    "event_api": [
        HandlerCall("get_item", "dynamodb", "GetItem", lambda f: {
            "TableName": f["TABLE_NAME"], "Key": _session_key(f), "ConsistentRead": True}),
        HandlerCall("query", "dynamodb", "Query", lambda f: {
            "TableName": f["TABLE_NAME"], "KeyConditionExpression": "pk = :e"}),
        HandlerCall("query", "dynamodb", "Query", lambda f: {
            "TableName": f["TABLE_NAME"], "IndexName": "byGuest",
            "KeyConditionExpression": "gsi2pk = :g"}),
        HandlerCall("batch_get_item", "dynamodb", "BatchGetItem", lambda f: {
            "RequestItems": {f["TABLE_NAME"]: {"Keys": [_session_key(f)],
                                               "ConsistentRead": True}}}),
        HandlerCall("transact_write_items", "dynamodb", "TransactWriteItems", lambda f: {
            "TransactItems": [
                {"Update": {"TableName": f["TABLE_NAME"], "Key": _session_key(f),
                            "UpdateExpression": "SET #r = if_not_exists(#r, :zero) + :one"}},
                {"Put": {"TableName": f["TABLE_NAME"], "Item": _registration_key(),
                         "ConditionExpression": "attribute_not_exists(pk)"}}]}),
        HandlerCall("update_item", "dynamodb", "UpdateItem", lambda f: {
            "TableName": f["TABLE_NAME"], "Key": _registration_key(),
            "UpdateExpression": "SET checkedInAt = :now, checkedInBy = :staff"}),
        HandlerCall("put_item", "dynamodb", "PutItem", lambda f: {
            "TableName": f["REQUESTS_TABLE_NAME"], "Item": {},
            "ConditionExpression": "attribute_not_exists(sk)"}),
        HandlerCall("query", "dynamodb", "Query", lambda f: {
            "TableName": f["REQUESTS_TABLE_NAME"], "KeyConditionExpression": "pk = :e",
            "ScanIndexForward": False, "Limit": 100}),
        # In event_tickets.tokens, with the handler's client: tickets are signed and checked.
        HandlerCall("generate_mac", "kms", "GenerateMac", lambda f: {
            "KeyId": f["QR_KEY_ID"], "MacAlgorithm": "HMAC_SHA_256", "Message": b"EVT1.e30"}),
        HandlerCall("verify_mac", "kms", "VerifyMac", lambda f: {
            "KeyId": f["QR_KEY_ID"], "MacAlgorithm": "HMAC_SHA_256", "Message": b"EVT1.e30",
            "Mac": bytes(32)}),
    ],
    "event_notifier": [
        HandlerCall("publish", "sns", "Publish", lambda f: {
            "TopicArn": f["TOPIC_ARN"], "Subject": "Guest request: food",
            "MessageStructure": "json", "Message": "{}",
            "MessageAttributes": {"requestType": {"DataType": "String", "StringValue": "food"}}}),
    ],
    "event_reminders": [
        HandlerCall("query", "dynamodb", "Query", lambda f: {
            "TableName": f["TABLE_NAME"], "IndexName": "byStart",
            "KeyConditionExpression": "gsi1pk = :s AND gsi1sk BETWEEN :a AND :b"}),
        HandlerCall("query", "dynamodb", "Query", lambda f: {
            "TableName": f["TABLE_NAME"], "KeyConditionExpression": "pk = :s"}),
        HandlerCall("update_item", "dynamodb", "UpdateItem", lambda f: {
            "TableName": f["TABLE_NAME"], "Key": _registration_key(),
            "UpdateExpression": "SET reminder = :claim"}),
        HandlerCall("send_email", "sesv2", "SendEmail", _reminder),
        HandlerCall("send_text_message", "pinpoint-sms-voice-v2", "SendTextMessage",
                    lambda f: {"DestinationPhoneNumber": "+15555550100",
                               "OriginationIdentity": f["SMS_ORIGINATION_IDENTITY"],
                               "MessageBody": "Opening keynote starts at 09:00 UTC.",
                               "MessageType": "TRANSACTIONAL"},
                    when=lambda f: bool(f.get("SMS_ORIGINATION_IDENTITY"))),
    ],
}
# What Powertools' idempotency layer (blueprints_common.idempotency) sends with the client a
# handler hands it, on IDEMPOTENCY_TABLE: claim a key, read its record, store the answer, drop
# the claim of a request that failed. Not in the handlers' code, so listed apart.
IDEMPOTENCY_CALLS = [
    HandlerCall("put_item", "dynamodb", "PutItem", lambda f: {
        "TableName": f["IDEMPOTENCY_TABLE"], "Item": {"id": {"S": "payment#0a1b"}},
        "ConditionExpression": "attribute_not_exists(#id) OR #expiry < :now"}),
    HandlerCall("get_item", "dynamodb", "GetItem", lambda f: {
        "TableName": f["IDEMPOTENCY_TABLE"], "Key": {"id": {"S": "payment#0a1b"}},
        "ConsistentRead": True}),
    HandlerCall("update_item", "dynamodb", "UpdateItem", lambda f: {
        "TableName": f["IDEMPOTENCY_TABLE"], "Key": {"id": {"S": "payment#0a1b"}},
        "UpdateExpression": "SET #response_data = :response_data, #expiry = :expiry"}),
    HandlerCall("delete_item", "dynamodb", "DeleteItem", lambda f: {
        "TableName": f["IDEMPOTENCY_TABLE"], "Key": {"id": {"S": "payment#0a1b"}}}),
]
IDEMPOTENCY_MODULE = "blueprints_common.idempotency"


def _calls(code: str) -> list[HandlerCall]:
    """Every call a handler makes: its own, and its idempotency layer's if it has one."""
    uses_idempotency = IDEMPOTENCY_MODULE in (FUNCTIONS / code / "app.py").read_text(
        encoding="utf-8")
    return [*HANDLER_CALLS[code], *(IDEMPOTENCY_CALLS if uses_idempotency else [])]


# What boto3 adds to a client's API methods (not its managed ``copy``, which every dict has).
_TRANSFER_METHODS = {"upload_file", "upload_fileobj", "download_file", "download_fileobj",
                     "generate_presigned_url", "generate_presigned_post"}


def _services_created(tree: ast.Module) -> set[str]:
    return {node.args[0].value for node in ast.walk(tree)
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
            and node.func.attr in ("client", "resource") and isinstance(node.func.value, ast.Name)
            and node.func.value.id == "boto3" and node.args
            and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)}


def _modules(path: Path) -> list[ast.Module]:
    """A handler module, then the modules of the function libraries (``functions/<library>``)
    it imports, transitively: a library may be handed the handler's client."""
    trees: dict[Path, ast.Module] = {}
    pending = [path]
    while pending:
        module = pending.pop()
        if module in trees:
            continue
        trees[module] = tree = ast.parse(module.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names = [alias.name for alias in node.names] if isinstance(node, ast.Import) else \
                [node.module, *(f"{node.module}.{alias.name}" for alias in node.names)] \
                if isinstance(node, ast.ImportFrom) and node.module and not node.level else []
            for name in names:
                where = FUNCTIONS.joinpath(*name.split("."))
                pending += [candidate for candidate in (where.with_suffix(".py"),
                                                        where / "__init__.py")
                            if candidate.is_file()]
    return list(trees.values())


def _aws_calls(path: Path) -> set[str]:
    """The boto3 methods a handler calls: in its module, attribute calls named like an
    operation of a service it makes a client or resource for, or like boto3's transfer and
    presigning methods; in the libraries it imports, calls of such an operation that could be
    a client's (keyword arguments only, at least one, each a parameter of the operation: a
    library's own ``get_object()`` is not S3's)."""
    handler, *libraries = _modules(path)
    session = boto3.Session(region_name=REGION)
    inputs: dict[str, set[str]] = {}
    for service in _services_created(handler):
        model = session._session.get_service_model(service)
        for operation in model.operation_names:
            shape = model.operation_model(operation).input_shape
            inputs[xform_name(operation)] = set(shape.members) if shape is not None else set()
    methods = set(inputs) | _TRANSFER_METHODS

    def calls(tree: ast.Module) -> Iterator[tuple[str, ast.Call]]:
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
                    and node.func.attr in methods:
                yield node.func.attr, node

    def could_be_a_clients(method: str, call: ast.Call) -> bool:
        named = {keyword.arg for keyword in call.keywords}  # None: **kwargs
        return not call.args and bool(named) and named - {None} <= inputs.get(method, set())

    return {method for method, _ in calls(handler)} | {
        method for tree in libraries for method, call in calls(tree)
        if could_be_a_clients(method, call)}


FUNCTIONS = ROOT / "functions"
# A Lambda's handler module, and the job image's Fargate command.
# A Lambda handler, a workflow task, a container service.
ENTRY_POINTS = frozenset({"app.py", "task.py", "server.py"})


def test_every_handler_call_is_in_the_table() -> None:
    """A handler that starts making a new AWS call fails here until the call is mapped."""
    handlers = sorted(p.parent.name for p in FUNCTIONS.glob("*/app.py"))
    assert sorted(HANDLER_CALLS) == handlers
    for name in handlers:
        listed = {call.method for call in HANDLER_CALLS[name]}
        assert _aws_calls(FUNCTIONS / name / "app.py") == listed, name
    # Only entry points make clients: the libraries they package are handed theirs.
    talking = {p.relative_to(FUNCTIONS).as_posix() for p in FUNCTIONS.rglob("*.py")
               if "__pycache__" not in p.parts
               and _services_created(ast.parse(p.read_text(encoding="utf-8")))
               and p.name not in ENTRY_POINTS}
    assert talking == set()


def test_the_handlers_that_create_something_are_idempotent() -> None:
    """Their idempotency layer's calls are checked against their roles (``_calls``)."""
    assert {name for name in HANDLER_CALLS if _calls(name) != HANDLER_CALLS[name]} == {
        "cache_payment", "customizations", "event_api"}


def test_every_handler_call_maps_without_a_plan() -> None:
    facts = {"TABLE_NAME": "t", "ACCESS_LOG_TABLE": "t", "TEMP_BUCKET": "b",
             "OBJECT_LAMBDA_ACCESS_POINT_ARN": OLAP, "BUCKET_NAME": "b", "INDEX_PREFIX": "i/",
             "REFERENCE_PREFIX": "r/", "table_name": "t", "region": REGION,
             "replica_regions": [], "REQUESTS_TABLE_NAME": "t", "EVENT_ID": "e",
             "QR_KEY_ID": KEY.rsplit("/", 1)[1], "TOPIC_ARN": f"arn:aws:sns:{REGION}:{ACCOUNT}:t",
             "FROM_ADDRESS": "events@example.com", "SES_CONFIGURATION_SET": "reminders",
             "SMS_ORIGINATION_IDENTITY": f"{SMS}:phone-number/phone-{'0a' * 16}",
             "JOBS_TABLE": "t", "RESULT_BUCKET": "b",
             "STATE_MACHINE_ARN": f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:jobs",
             "ACCOUNTS_TABLE": "t", "PAYMENTS_TABLE": "t", "PROFILES_TABLE": "t",
             "EVENT_BUS_NAME": "cache-events", "IDEMPOTENCY_TABLE": "t"}
    for calls in [*HANDLER_CALLS.values(), IDEMPOTENCY_CALLS]:
        for call in calls:
            assert map_call(call.service, call.operation, call.params(facts), region=REGION,
                            account=ACCOUNT, topology=TOPOLOGY, caller_function=TRANSFORM)


@pytest.fixture(scope="module")
def plan(dev: StackRun) -> PlanPolicies:
    return PlanPolicies.from_run(dev)


def _facts(run: StackRun, info: iam.FunctionInfo) -> dict[str, Any]:
    """The function's settings: its environment, or an edge function's config.json."""
    function = next(r for r in run.of_type("aws:lambda/function:Function")
                    if r.name == info.resource_name)
    code = function.inputs.get("code")  # none for an image
    config = code.assets.get("config.json") if code is not None else None
    return {**info.environment, **(json.loads(config.text) if config is not None else {})}


def _denials(plan: PlanPolicies, run: StackRun) -> dict[str, list[str]]:
    """Every handler call of every function of the plan that its role does not allow (a call
    listed as ``denied`` must be denied, or the table is out of date)."""
    found: dict[str, list[str]] = {}
    for info in plan.functions.values():
        assert info.code in HANDLER_CALLS, f"{info.resource_name} runs {info.code}: list its calls"
        enforcer = plan.enforcer(info.arn)
        facts = _facts(run, info)
        for call in _calls(info.code):
            if call.when is not None and not call.when(facts):
                continue
            for region in call.regions(facts) if call.regions else [None]:
                for decision in enforcer.decide(call.service, call.operation, call.params(facts),
                                                region):
                    if decision.allowed == (call.denied is None):
                        continue
                    found.setdefault(info.resource_name, []).append(
                        f"{call.operation}: {decision.explain()}" if call.denied is None else
                        f"{call.operation} is allowed now: drop its 'denied'")
    return found


CACHE_HANDLERS = frozenset({"cache_billing", "cache_payment", "cache_profile", "cache_manager",
                            "profile_refresher"})


def test_every_handler_call_is_allowed_by_its_role_in_the_plan(dev: StackRun,
                                                               plan: PlanPolicies) -> None:
    assert {info.code for info in plan.functions.values()} == set(HANDLER_CALLS)
    assert _denials(plan, dev) == {}


def test_the_cache_managers_refresh_mode_calls_are_allowed_by_its_role() -> None:
    """The dev stack invalidates: the cache manager's role in a stack that refreshes."""
    from pydantic import TypeAdapter

    from components.services.microservice_cache import (
        MicroserviceCache,
        MicroserviceCacheSettings,
    )
    from tests.services.test_microservice_cache import ENVIRONMENT
    from tests.support import run_service

    settings = TypeAdapter(MicroserviceCacheSettings).validate_python({"invalidation": "refresh"})
    run = run_service(lambda context, opts: MicroserviceCache("cache", settings, context, opts),
                      environment=ENVIRONMENT)
    plan = PlanPolicies.from_run(run)
    assert {info.code for info in plan.functions.values()} == CACHE_HANDLERS
    assert _denials(plan, run) == {}


def test_calls_behind_a_setting_are_allowed_when_it_is_set() -> None:
    """The dev stack sends no text reminders (it names no SMS origination identity): the
    reminder function's role in a stack that does."""
    from pydantic import TypeAdapter

    from components.services.event_management import EventManagement, EventManagementSettings
    from tests.support import ACCOUNT as BUILT_IN
    from tests.support import REGION as BUILT_IN_REGION
    from tests.support import run_service

    sms = f"arn:aws:sms-voice:{BUILT_IN_REGION}:{BUILT_IN}:phone-number/phone-{'0a' * 16}"
    settings = TypeAdapter(EventManagementSettings).validate_python({
        "event": {"id": "summit", "name": "Summit"}, "corsOrigins": ["https://example.com"],
        "reminders": {"fromAddress": "events@example.com", "smsOriginationIdentity": sms}})
    run = run_service(lambda context, opts: EventManagement("events", settings, context, opts))
    plan = PlanPolicies.from_run(run)
    info = plan.function("events-reminders-function")
    facts = _facts(run, info)
    gated = [call for call in HANDLER_CALLS["event_reminders"] if call.when is not None]
    assert [call.operation for call in gated] == ["SendTextMessage"]
    for call in gated:
        assert call.when is not None
        assert call.when(facts)
        [decision] = plan.enforcer(info.arn).decide(call.service, call.operation,
                                                    call.params(facts))
        assert decision.allowed, decision.explain()
        assert decision.request.resource == sms


def test_the_plan_check_catches_a_removed_statement(dev: StackRun, plan: PlanPolicies) -> None:
    api = plan.function("documentWatermark-api-function")
    inline, *managed = plan.identity_policies(api.role_arn)
    for removed, failing in (("dynamodb:PutItem", {"PutItem", "UpdateItem"}),
                             ("lambda:InvokeFunction", {"GetObject"})):
        kept = tuple(s for s in inline.statements if removed not in json.dumps(s["Action"]))
        assert len(kept) == len(inline.statements) - 1
        broken = replace(plan, roles={**plan.roles,
                                      api.role_arn: (replace(inline, statements=kept),
                                                     *managed)})
        denials = _denials(broken, dev)
        assert list(denials) == ["documentWatermark-api-function"]
        problems = denials["documentWatermark-api-function"]
        assert {problem.split(":", 1)[0] for problem in problems} == failing
        assert any(f"no statement allows {removed} on " in problem for problem in problems)


def test_what_runs_around_the_handler_is_allowed_too(plan: PlanPolicies) -> None:
    """Lambda writes each function's logs with its role, and X-Ray takes its traces."""
    for info in plan.functions.values():
        enforcer = plan.enforcer(info.arn)
        group = info.log_group or f"/aws/lambda/us-east-1.{info.name}"
        stream = "2026/12/02/[$LATEST]0123456789abcdef0123456789abcdef"
        for operation in ("CreateLogStream", "PutLogEvents"):
            [decision] = enforcer.decide("logs", operation, {
                "logGroupName": group, "logStreamName": stream, "logEvents": []})
            assert decision.allowed, decision.explain()
        if info.log_group is not None:  # edge functions trace nothing
            [decision] = enforcer.decide("xray", "PutTraceSegments",
                                         {"TraceSegmentDocuments": []})
            assert decision.allowed, decision.explain()


def _concrete(source_arn: str) -> str:
    """A source ARN like the one a real request carries, for a permission's pattern."""
    return source_arn.replace("/*/", "/dev/").replace("*", "abc")


def test_services_may_invoke_what_the_plan_wires_them_to(dev: StackRun,
                                                         plan: PlanPolicies) -> None:
    """API Gateway routes and authorizers, and S3 notifications, through the functions'
    resource policies (the Lambda permissions)."""
    invoked = set()
    for permission in dev.of_type("aws:lambda/permission:Permission"):
        inputs = permission.inputs
        function = plan.function(inputs["function"].rsplit(":", 1)[-1]).arn
        context = {"aws:SourceArn": _concrete(inputs["sourceArn"]),
                   "aws:SourceAccount": inputs.get("sourceAccount") or ACCOUNT}
        service = Principal.service_principal(inputs["principal"])
        decision = plan.authorize(service, Check("lambda:InvokeFunction", function,
                                                 context=context))
        assert decision.allowed, decision.explain()
        invoked.add(function)
        # The same wiring in another account may not.
        wrong = plan.authorize(service, Check("lambda:InvokeFunction", function, context={
            "aws:SourceArn": context["aws:SourceArn"].replace(ACCOUNT, OTHER_ACCOUNT),
            "aws:SourceAccount": OTHER_ACCOUNT}))
        assert not wrong.allowed
    for notification in dev.of_type("aws:s3/bucketNotification:BucketNotification"):
        for target in notification.inputs["lambdaFunctions"]:
            decision = plan.authorize(
                Principal.service_principal("s3.amazonaws.com"),
                Check("lambda:InvokeFunction", target["lambdaFunctionArn"], context={
                    "aws:SourceArn": f"arn:aws:s3:::{notification.inputs['bucket']}",
                    "aws:SourceAccount": ACCOUNT}))
            assert decision.allowed, decision.explain()
    assert len(invoked) >= 6


def test_lambda_may_send_failed_events_to_the_failure_queue(dev: StackRun,
                                                            plan: PlanPolicies) -> None:
    for config in dev.of_type("aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig"):
        info = plan.function(config.inputs["functionName"])
        queue = config.inputs["destinationConfig"]["onFailure"]["destination"]
        decision = plan.authorize(Principal.assumed_role(info.role_arn, info.name),
                                  Check("sqs:SendMessage", queue))
        assert decision.allowed, decision.explain()


def test_only_the_api_handler_reads_documents_and_only_through_object_lambda(
        plan: PlanPolicies) -> None:
    api = plan.function("documentWatermark-api-function")
    transform = plan.function("documentWatermark-transform-function")
    olap = api.environment["OBJECT_LAMBDA_ACCESS_POINT_ARN"]
    source = next(b for b in plan.topology.access_points.values())
    # The API handler may not read the original directly, nor through the supporting access
    # point without Object Lambda: the bucket and access point policies deny it by name.
    [direct] = plan.enforcer(api.arn).decide("s3", "GetObject", {"Bucket": source, "Key": "a"})
    assert direct.outcome == "explicit-deny"
    assert sid_of(direct) == "ReadOnlyThroughAccessPoints"
    supporting = plan.topology.object_lambdas[olap].supporting_access_point
    [through] = plan.enforcer(api.arn).decide("s3", "GetObject",
                                              {"Bucket": supporting, "Key": "a"})
    assert through.outcome == "explicit-deny"
    assert sid_of(through) == "OnlyThroughObjectLambda"
    # Another function's role may not use the Object Lambda access point.
    decisions = plan.enforcer(transform.arn).decide("s3", "GetObject",
                                                    {"Bucket": olap, "Key": "a"})
    assert decisions[0].outcome == "explicit-deny"
    assert sid_of(decisions[0]) == "OnlyTheApiHandler"


def test_plan_policies_cross_to_a_worker_as_json(plan: PlanPolicies) -> None:
    again = PlanPolicies.from_json(plan.to_json())
    assert again == plan
    assert again.unread == ()


@pytest.mark.filterwarnings("ignore:No application metrics to publish")
def test_a_handler_runs_under_its_plan_role(plan: PlanPolicies, monkeypatch: pytest.MonkeyPatch,
                                            tmp_path: Path) -> None:
    """The customizations handler, end to end against moto, with the hook on boto3's default
    session as local mode's worker installs it (``boot``): allowed with the plan's role, and
    the handler's 503 (storage unavailable) once the role loses dynamodb:GetItem."""
    from tests.functions import test_customizations as customizations

    info = plan.function("queryKeyApi-customizations-function")
    table = info.environment["TABLE_NAME"]
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_REGION", info.region)
    monkeypatch.setenv("AWS_DEFAULT_REGION", info.region)
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", info.name)
    monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)
    with mock_aws():
        boto3.client("dynamodb", region_name=info.region).create_table(
            TableName=table, BillingMode="PAY_PER_REQUEST",
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}])
        for roles, expected in ((plan.roles, 200), (_without(plan, info, "dynamodb:GetItem"),
                                                     503)):
            policies = tmp_path / "policies.json"
            policies.write_text(replace(plan, roles=roles).to_json(), encoding="utf-8")
            monkeypatch.setenv(iam.PLAN_VARIABLE, str(policies))
            iam.boot()
            app = customizations.load_app(monkeypatch, ALLOWED_ORIGINS=customizations.APP,
                                          TABLE_NAME=table)
            created = customizations.call(app, customizations.post(customizations.GOOD))
            assert created["statusCode"] == 201
            item = customizations.body(created)["id"]
            read = customizations.call(app, customizations.get(item))
            assert read["statusCode"] == expected
            sys.modules.pop("customizations.app", None)


def _without(plan: PlanPolicies, info: iam.FunctionInfo,
             action: str) -> dict[str, tuple[Policy, ...]]:
    inline, *managed = plan.identity_policies(info.role_arn)
    statements = tuple(
        {**s, "Action": [a for a in iam._values(s["Action"]) if a != action]}
        for s in inline.statements)
    return {**plan.roles, info.role_arn: (replace(inline, statements=statements), *managed)}


def test_policies_of_every_form_the_plan_can_hold(build: Callable[..., StackRun]) -> None:
    """Inline policies on the role, customer-managed and AWS-managed attachments, a queue
    policy; and a policy-bearing type this module does not read is listed, not ignored."""
    import pulumi
    import pulumi_aws as aws

    from tests.support import ACCOUNT as BUILT_IN  # the account of ``build``'s stack

    queue_arn = f"arn:aws:sqs:{REGION}:{BUILT_IN}:jobs"
    table = TABLE.replace(ACCOUNT, BUILT_IN)

    def program(opts: pulumi.ResourceOptions) -> None:
        document = json.dumps({"Statement": [allow("sqs:SendMessage", queue_arn)]})
        role = aws.iam.Role("app", assume_role_policy="{}", opts=opts, inline_policies=[
            {"name": "reads", "policy": json.dumps({"Statement": [
                allow("dynamodb:GetItem", table)]})}])
        sends = aws.iam.Policy("sends", policy=document, opts=opts)
        aws.iam.RolePolicyAttachment("sends", role=role.name, policy_arn=sends.arn, opts=opts)
        aws.iam.RolePolicyAttachment(
            "xray", role=role.name, opts=opts,
            policy_arn="arn:aws:iam::aws:policy/AWSXRayDaemonWriteAccess")
        queue = aws.sqs.Queue("jobs", name="jobs", opts=opts)
        aws.sqs.QueuePolicy("jobs", queue_url=queue.url, opts=opts, policy=json.dumps(
            {"Statement": [deny("sqs:*", queue_arn, Principal="*", Sid="NoPurge",
                                Condition={"StringEquals": {"aws:PrincipalArn": "x"}})]}))
        aws.apigateway.RestApiPolicy("private", rest_api_id="a1b2c3", policy="{}", opts=opts)

    run = build(program)
    plan = PlanPolicies.from_run(run)
    [role] = run.of_type("aws:iam/role:Role")
    names = {p.name for p in plan.identity_policies(role.state["arn"])}
    assert names == {"inline policy reads of app", "policy sends",
                     "AWS-managed policy AWSXRayDaemonWriteAccess"}
    session = Principal.assumed_role(role.state["arn"], "f")
    for action, resource in (("dynamodb:GetItem", table), ("sqs:SendMessage", queue_arn),
                             ("xray:PutTelemetryRecords", "*")):
        assert plan.authorize(session, Check(action, resource)).allowed
    assert plan.resource_policy(queue_arn) is not None
    assert plan.unread == ("aws:apigateway/restApiPolicy:RestApiPolicy",)
