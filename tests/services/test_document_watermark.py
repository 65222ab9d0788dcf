"""Document watermarking: access points, Object Lambda, least-privilege roles, Cognito JWT, log."""

from __future__ import annotations

from functools import cache
from typing import Any

import pytest
from pydantic import TypeAdapter, ValidationError

from components.foundation.validation import InvalidArgs
from components.services.document_watermark import (
    PDF_REQUIREMENTS,
    DocumentWatermark,
    DocumentWatermarkSettings,
)
from tests.support import ACCOUNT, PROD, REGION, json_input, run_service, statements
from tools.mock_runtime import ROOT, StackRun

FUNCTION = "aws:lambda/function:Function"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
OFFICE_LAYER = f"arn:aws:lambda:{REGION}:{ACCOUNT}:layer:libreoffice:3"
SUPPORTING_ARN = f"arn:aws:s3:{REGION}:{ACCOUNT}:accesspoint/blueprints-dev-docs-source"
OBJECT_LAMBDA_ARN = (f"arn:aws:s3-object-lambda:{REGION}:{ACCOUNT}:"
                     "accesspoint/blueprints-dev-docs-olap")
CALLED_VIA = {"ForAnyValue:StringEquals": {"aws:CalledVia": ["s3-object-lambda.amazonaws.com"]}}


def settings(**overrides: Any) -> DocumentWatermarkSettings:
    return TypeAdapter(DocumentWatermarkSettings).validate_python(overrides)


def build(service_settings: DocumentWatermarkSettings, **options: Any) -> StackRun:
    return run_service(lambda context, opts: DocumentWatermark("docs", service_settings, context,
                                                               opts), **options)


@cache
def built() -> StackRun:
    return build(settings())


def role_statements(run: StackRun, function: str) -> list[dict[str, Any]]:
    return statements(run.one(ROLE_POLICY, f"docs-{function}-policy"))


def test_the_object_lambda_access_point_calls_the_transform_on_get_object() -> None:
    run = built()
    supporting = run.one("aws:s3/accessPoint:AccessPoint")
    assert supporting.inputs["name"] == "blueprints-dev-docs-source"
    assert supporting.inputs["bucket"] == run.one("aws:s3/bucket:Bucket", "docs-source-bucket"
                                                  ).state["bucket"]
    assert all(supporting.inputs["publicAccessBlockConfiguration"].values())
    assert supporting.state["arn"] == SUPPORTING_ARN  # the ARN the policies were written for
    olap = run.one("aws:s3control/objectLambdaAccessPoint:ObjectLambdaAccessPoint").inputs
    transform = run.one(FUNCTION, "docs-transform-function")
    assert olap["name"] == "blueprints-dev-docs-olap"
    assert olap["configuration"] == {
        "supportingAccessPoint": supporting.state["arn"],
        "cloudWatchMetricsEnabled": True,
        "transformationConfigurations": [{
            "actions": ["GetObject"],
            "contentTransformation": {"awsLambda": {"functionArn": transform.state["arn"]}},
        }],
    }


def test_the_supporting_access_point_serves_object_lambda_only() -> None:
    [deny] = statements(built().one("aws:s3/accessPoint:AccessPoint"))
    assert deny == {
        "Sid": "OnlyThroughObjectLambda", "Effect": "Deny", "Principal": {"AWS": "*"},
        "Action": ["s3:GetObject"], "Resource": f"{SUPPORTING_ARN}/object/*",
        "Condition": {"ForAllValues:StringNotEquals": {
            "aws:CalledVia": ["s3-object-lambda.amazonaws.com"]}}}


def test_the_source_bucket_is_read_only_through_its_access_point() -> None:
    run = built()
    bucket = run.one("aws:s3/bucket:Bucket", "docs-source-bucket").state["arn"]
    policy = statements(run.one("aws:s3/bucketPolicy:BucketPolicy", "docs-source-policy"))
    through = {"s3:DataAccessPointArn": [SUPPORTING_ARN]}
    assert {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
            "Action": ["s3:GetObject"], "Resource": f"{bucket}/*",
            "Condition": {"StringEquals": through}} in policy
    assert {"Sid": "ReadOnlyThroughAccessPoints", "Effect": "Deny", "Principal": {"AWS": "*"},
            "Action": ["s3:GetObject"], "Resource": f"{bucket}/*",
            "Condition": {"StringNotEquals": through}} in policy


@pytest.mark.parametrize("bucket", ["docs-source", "docs-temporary"])
def test_both_buckets_are_private_and_tls_only(bucket: str) -> None:
    run = built()
    block = run.one("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
                    f"{bucket}-public-access-block").inputs
    assert all(block[key] for key in ("blockPublicAcls", "blockPublicPolicy",
                                      "ignorePublicAcls", "restrictPublicBuckets"))
    tls = [s for s in statements(run.one("aws:s3/bucketPolicy:BucketPolicy", f"{bucket}-policy"))
           if s.get("Sid") == "DenyInsecureTransport"]
    assert tls
    assert tls[0]["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_stamped_copies_expire_after_a_day() -> None:
    rules = {rule["id"]: rule for rule in built().one(
        "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
        "docs-temporary-lifecycle").inputs["rules"]}
    assert rules["expire-current-versions"]["expiration"] == {"days": 1}
    assert rules["expire-noncurrent-versions"]["noncurrentVersionExpiration"] == {
        "noncurrentDays": 1}
    api = built().one(FUNCTION, "docs-api-function").inputs["environment"]["variables"]
    assert api["URL_TTL_SECONDS"] == "300"


def test_the_transform_may_answer_object_lambda_and_read_nothing() -> None:
    run = built()
    policy = role_statements(run, "transform")
    assert {"Effect": "Allow", "Action": ["s3-object-lambda:WriteGetObjectResponse"],
            "Resource": OBJECT_LAMBDA_ARN} in policy
    actions = {action for statement in policy for action in statement["Action"]}
    assert not {a for a in actions if a.startswith(("s3:", "dynamodb:"))}
    function = run.one(FUNCTION, "docs-transform-function").inputs
    assert (function["timeout"], function["memorySize"]) == (60, 1024)
    assert function["environment"]["variables"]["MAX_DOCUMENT_BYTES"] == str(25 * 2**20)
    assert "SOFFICE_PATH" not in function["environment"]["variables"]
    layer = run.one("aws:lambda/layerVersion:LayerVersion").state["arn"]
    assert function["layers"][1:] == [layer]
    assert {"app.py", "pdf_watermark/__init__.py"} <= set(function["code"].assets)


def test_the_api_handler_reads_through_object_lambda_and_logs() -> None:
    run = built()
    policy = role_statements(run, "api")
    transform = run.one(FUNCTION, "docs-transform-function").state["arn"]
    table = run.one("aws:dynamodb/table:Table").state["arn"]
    temporary = run.one("aws:s3/bucket:Bucket", "docs-temporary-bucket").state["arn"]
    for expected in (
        {"Effect": "Allow", "Action": ["s3-object-lambda:GetObject"],
         "Resource": OBJECT_LAMBDA_ARN},
        {"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": f"{SUPPORTING_ARN}/object/*",
         "Condition": CALLED_VIA},
        # So that S3 answers the presigned read of a missing key with 404, not 403.
        {"Effect": "Allow", "Action": ["s3:ListBucket"], "Resource": SUPPORTING_ARN,
         "Condition": CALLED_VIA},
        {"Effect": "Allow", "Action": ["lambda:InvokeFunction"], "Resource": transform,
         "Condition": CALLED_VIA},
        {"Effect": "Allow", "Action": ["dynamodb:PutItem", "dynamodb:UpdateItem"],
         "Resource": table},
        {"Effect": "Allow", "Action": ["s3:AbortMultipartUpload", "s3:GetObject", "s3:PutObject"],
         "Resource": f"{temporary}/*"},
    ):
        assert expected in policy
    source = run.one("aws:s3/bucket:Bucket", "docs-source-bucket").state["arn"]
    assert not [s for s in policy if str(s["Resource"]).startswith(source)]
    listing = [s for s in policy if "s3:ListBucket" in s["Action"]]
    assert len(listing) == 1, "listing only through the access point, only via Object Lambda"


def test_only_the_api_handler_may_call_the_object_lambda_access_point() -> None:
    run = built()
    role = run.one("aws:iam/role:Role", "docs-api-role").state["arn"]
    policy = run.one("aws:s3control/objectLambdaAccessPointPolicy:ObjectLambdaAccessPointPolicy")
    assert statements(policy) == [
        {"Effect": "Allow", "Principal": {"AWS": role}, "Action": ["s3-object-lambda:GetObject"],
         "Resource": OBJECT_LAMBDA_ARN},
        {"Sid": "OnlyTheApiHandler", "Effect": "Deny", "Principal": {"AWS": "*"},
         "Action": ["s3-object-lambda:GetObject"], "Resource": OBJECT_LAMBDA_ARN,
         "Condition": {"ArnNotEquals": {"aws:PrincipalArn": role}}},
    ]
    assert policy.inputs["name"] == "blueprints-dev-docs-olap"


def test_the_route_needs_a_cognito_jwt() -> None:
    run = built()
    pool = run.one("aws:cognito/userPool:UserPool")
    client = run.one("aws:cognito/userPoolClient:UserPoolClient")
    authorizer = run.one("aws:apigatewayv2/authorizer:Authorizer").inputs
    assert authorizer["authorizerType"] == "JWT"
    assert authorizer["jwtConfiguration"] == {
        "issuer": f"https://cognito-idp.{REGION}.amazonaws.com/{pool.state['id']}",
        "audiences": [client.state["id"]]}
    route = run.one("aws:apigatewayv2/route:Route").inputs
    assert (route["routeKey"], route["authorizationType"]) == ("GET /documents/{key+}", "JWT")


def test_the_user_pool_takes_invited_users_with_strong_passwords() -> None:
    run = built()
    pool = run.one("aws:cognito/userPool:UserPool").inputs
    assert pool["adminCreateUserConfig"] == {"allowAdminCreateUserOnly": True}
    assert pool["passwordPolicy"]["minimumLength"] == 12
    assert pool["mfaConfiguration"] == "OPTIONAL"
    assert pool["deletionProtection"] == "INACTIVE"
    client = run.one("aws:cognito/userPoolClient:UserPoolClient").inputs
    assert client["generateSecret"] is False
    assert client["preventUserExistenceErrors"] == "ENABLED"
    assert client["enableTokenRevocation"] is True
    assert set(client["explicitAuthFlows"]) == {"ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"}


def test_user_names_ignore_case_on_the_essentials_tier() -> None:
    pool = built().one("aws:cognito/userPool:UserPool").inputs
    # Left unset, the API makes names case-sensitive, and that cannot change later.
    assert pool["usernameConfiguration"] == {"caseSensitive": False}
    assert pool["userPoolTier"] == "ESSENTIALS"


SES_IDENTITY = f"arn:aws:ses:{REGION}:{ACCOUNT}:identity/example.com"


def test_the_pool_sends_through_the_configured_ses_identity() -> None:
    sender = {"sourceArn": SES_IDENTITY, "fromAddress": "Documents <no-reply@example.com>",
              "replyTo": "support@example.com", "configurationSet": "documents"}
    pool = build(settings(emailSender=sender)).one("aws:cognito/userPool:UserPool").inputs
    assert pool["emailConfiguration"] == {
        "emailSendingAccount": "DEVELOPER", "sourceArn": SES_IDENTITY,
        "fromEmailAddress": "Documents <no-reply@example.com>",
        "replyToEmailAddress": "support@example.com", "configurationSet": "documents"}


def test_without_a_sender_prod_is_warned_of_cognitos_daily_quota() -> None:
    dev = built()
    assert dev.one("aws:cognito/userPool:UserPool").inputs["emailConfiguration"] == {
        "emailSendingAccount": "COGNITO_DEFAULT"}
    assert not [w for w in dev.warnings if "50 a day" in w]
    prod = build(settings(), defaults=PROD)
    assert [w for w in prod.warnings if "emailSender" in w and "50 a day" in w]


def test_an_ses_identity_cognito_cannot_use_is_refused() -> None:
    tokyo = SES_IDENTITY.replace(REGION, "ap-northeast-1")
    with pytest.raises(InvalidArgs, match=r"emailSender\.sourceArn: the SES identity is in "
                                          r"ap-northeast-1"):
        build(settings(emailSender={"sourceArn": tokyo}))
    # The regions Cognito may send from elsewhere are fine.
    build(settings(emailSender={"sourceArn": SES_IDENTITY.replace(REGION, "us-west-2")}))


def test_a_custom_domain_serves_the_api() -> None:
    certificate = f"arn:aws:acm:{REGION}:{ACCOUNT}:certificate/0a1b"
    run = build(settings(domain={"name": "docs.example.com", "certificateArn": certificate}))
    assert run.one("aws:apigatewayv2/domainName:DomainName").inputs["domainName"] == (
        "docs.example.com")
    exports = run.outputs["exports"]
    assert exports["apiEndpoint"] == "https://docs.example.com"
    # Where DNS must point the name: the API's regional domain, in its hosted zone.
    assert exports["domainTarget"].endswith(f".execute-api.{REGION}.amazonaws.com")
    assert exports["domainTargetZoneId"].startswith("Z")
    assert run.one("aws:apigatewayv2/api:Api").inputs["disableExecuteApiEndpoint"] is True


def test_in_prod_the_pool_and_the_log_are_protected() -> None:
    run = build(settings(), defaults=PROD)
    pool = run.one("aws:cognito/userPool:UserPool")
    assert pool.inputs["deletionProtection"] == "ACTIVE"
    assert pool.protect
    assert run.one("aws:dynamodb/table:Table").protect


def test_an_existing_pool_is_used_as_configured() -> None:
    run = build(settings(cognito={"userPoolId": f"{REGION}_AbC123", "clientIds": ["app1"]}))
    assert not run.of_type("aws:cognito/userPool:UserPool")
    authorizer = run.one("aws:apigatewayv2/authorizer:Authorizer").inputs
    assert authorizer["jwtConfiguration"] == {
        "issuer": f"https://cognito-idp.{REGION}.amazonaws.com/{REGION}_AbC123",
        "audiences": ["app1"]}


def test_the_access_log_is_queryable_by_document_and_by_user() -> None:
    table = built().one("aws:dynamodb/table:Table").inputs
    assert (table["hashKey"], table["rangeKey"]) == ("document", "accessId")
    assert table["globalSecondaryIndexes"] == [{
        "name": "byUser", "projectionType": "ALL",
        "keySchemas": [{"keyType": "HASH", "attributeName": "user"},
                       {"keyType": "RANGE", "attributeName": "accessId"}]}]
    assert table["pointInTimeRecovery"] == {"enabled": True}
    assert "ttl" not in table
    kept = build(settings(accessLogRetentionDays=400)).one("aws:dynamodb/table:Table").inputs
    assert kept["ttl"] == {"attributeName": "expiresAt", "enabled": True}


def test_office_formats_use_the_configured_libreoffice_layer() -> None:
    run = build(settings(office={"layerArn": OFFICE_LAYER}))
    function = run.one(FUNCTION, "docs-transform-function").inputs
    assert function["layers"][-1] == OFFICE_LAYER
    assert function["environment"]["variables"]["SOFFICE_PATH"] == (
        "/opt/libreoffice/program/soffice")


def test_outputs_name_the_api_the_source_bucket_and_the_log() -> None:
    run = built()
    exports = run.outputs["exports"]
    assert exports["sourceBucketName"] == run.one("aws:s3/bucket:Bucket", "docs-source-bucket"
                                                  ).state["bucket"]
    assert exports["accessLogTableName"] == run.one("aws:dynamodb/table:Table").state["name"]
    assert exports["objectLambdaAccessPointArn"] == OBJECT_LAMBDA_ARN
    assert exports["apiEndpoint"].startswith("https://")


@pytest.mark.parametrize(("overrides", "expected"), [
    ({"office": {"layerArn": "libreoffice"}}, "layerArn"),
    ({"maxDocumentMb": 200}, "maxDocumentMb"),
    ({"maxDocumentMb": 100, "transformMemorySize": 512}, "at least ten times"),
    ({"urlTtlSeconds": 5}, "urlTtlSeconds"),
    ({"cognito": {"userPoolId": f"{REGION}_AbC123", "clientIds": []}}, "clientIds"),
    ({"cognito": {"userPoolId": "pool"}}, "userPoolId"),
    ({"tempRetentionDays": 0}, "tempRetentionDays"),
    ({"emailSender": {"sourceArn": "no-reply@example.com"}}, "sourceArn"),
    ({"cognito": {"userPoolId": f"{REGION}_AbC123", "clientIds": ["a"]},
      "emailSender": {"sourceArn": f"arn:aws:ses:{REGION}:{ACCOUNT}:identity/example.com"}},
     "emailSender configures the user pool this service creates"),
])
def test_bad_settings_are_refused_with_the_setting_named(overrides: dict[str, Any],
                                                          expected: str) -> None:
    with pytest.raises(ValidationError) as raised:
        settings(**overrides)
    assert expected in str(raised.value)


def test_policies_are_json_documents() -> None:
    policy = json_input(built().one(ROLE_POLICY, "docs-api-policy"), "policy")
    assert policy["Version"] == "2012-10-17"


def test_the_layer_pins_what_the_tests_ran_with() -> None:
    pins = {line.strip() for line in (ROOT / "requirements-dev.txt").read_text().splitlines()}
    assert set(PDF_REQUIREMENTS) <= pins
