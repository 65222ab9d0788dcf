"""The header-versioned API: router at the edge, mapping table, one API per version, CloudFront."""

from __future__ import annotations

import json
from functools import cache
from typing import Any

import pulumi
import pulumi_aws as aws
import pytest
from pydantic import TypeAdapter, ValidationError

from components.accounts import Providers
from components.services import ServiceContext
from components.services.header_versioning import (
    HeaderVersionedApi,
    HeaderVersioningSettings,
    default_message,
)
from tests.support import ACCOUNT, DEV, REGION, json_input, placeholder_contract, statements
from tools.mock_runtime import Resource, StackConfig, StackRun, run_program

FUNCTION = "aws:lambda/function:Function"
SETTINGS = TypeAdapter(HeaderVersioningSettings).validate_python({
    "headerName": "Accept",
    "replicaRegions": ["us-east-1", "ap-southeast-2"],
    "domain": {"name": "api.example.com",
               "certificateArn": f"arn:aws:acm:us-east-1:{ACCOUNT}:certificate/abc"},
    "webAclArn": f"arn:aws:wafv2:us-east-1:{ACCOUNT}:global/webacl/edge/123",
    "versions": {
        "v1": {"headerValues": ["application/vnd.example.v1+json"]},
        "v2": {"headerValues": ["application/vnd.example.v2+json", "V2"]},
        "legacy": {"headerValues": ["application/vnd.example.legacy+json"],
                   "existingDomain": "legacy.example.com", "originPath": "/prod"},
    },
})


def program() -> None:
    tags = {"tags": {"owner": "team-a", "environment": "dev", "project": "blueprints"}}
    made: dict[str, aws.Provider] = {}
    providers = Providers(
        regional=aws.Provider("regional", region=REGION, default_tags=tags),
        us_east_1=aws.Provider("us-east-1", region="us-east-1", default_tags=tags),
        other_regions=lambda region: made.setdefault(
            region, aws.Provider(f"aws-{region}", region=region, default_tags=tags)))
    service = HeaderVersionedApi("versions", SETTINGS,
                                 ServiceContext(DEV, placeholder_contract(), providers),
                                 pulumi.ResourceOptions(provider=providers.regional))
    pulumi.export("service", service.exports)


@cache
def built() -> StackRun:
    config = StackConfig({"aws:region": REGION,
                          "blueprints:account": json.dumps({"id": ACCOUNT})}, ())
    return run_program(program, config=config)


def provider_region(run: StackRun, resource: Resource) -> str:
    provider = run.provider_of(resource)
    assert provider is not None
    return str(provider.inputs["region"])


def test_router_is_a_published_function_in_us_east_1() -> None:
    run = built()
    router = run.one(FUNCTION, "versions-router-function")
    assert provider_region(run, router) == "us-east-1"
    assert router.inputs["publish"] is True
    assert router.inputs["architectures"] == ["x86_64"]
    assert "environment" not in router.inputs


def test_router_role_trusts_lambda_and_edgelambda() -> None:
    role = built().one("aws:iam/role:Role", "versions-router-role")
    assert statements(role, "assumeRolePolicy")[0]["Principal"]["Service"] == [
        "edgelambda.amazonaws.com", "lambda.amazonaws.com"]


def test_router_may_only_read_the_table_in_each_region_and_call_the_versions() -> None:
    run = built()
    table = run.one("aws:dynamodb/table:Table", "versions-mappings-table").state["name"]
    policy = statements(run.one("aws:iam/rolePolicy:RolePolicy", "versions-router-policy"))
    reads = next(s for s in policy if s["Action"] == ["dynamodb:GetItem"])
    assert reads["Resource"] == sorted(
        f"arn:aws:dynamodb:{region}:{ACCOUNT}:table/{table}"
        for region in (REGION, "us-east-1", "ap-southeast-2"))
    invokes = next(s for s in policy if s["Action"] == ["execute-api:Invoke"])
    stages = {r.name: r.state["executionArn"] for r in run.of_type("aws:apigateway/stage:Stage")}
    assert invokes["Resource"] == sorted(
        f"{stages[f'versions-{v}-stage']}/GET/hello" for v in ("v1", "v2"))
    assert all(s["Effect"] == "Allow" and "*" not in "".join(s["Action"]) for s in policy)


def test_router_package_carries_its_settings() -> None:
    run = built()
    code = run.one(FUNCTION, "versions-router-function").inputs["code"]
    config = json.loads(code.assets["config.json"].text)
    table = run.one("aws:dynamodb/table:Table", "versions-mappings-table").state["name"]
    assert config == {
        "table_name": table, "region": REGION,
        "replica_regions": [REGION, "us-east-1", "ap-southeast-2"],
        "header_name": "Accept", "cache_ttl_seconds": 300, "cache_max_entries": 1024,
        "service_name": "versions-router", "log_level": "INFO"}
    assert "app.py" in code.assets
    assert "aws_lambda_powertools/__init__.py" in code.assets


def test_the_origin_request_association_uses_the_published_version() -> None:
    run = built()
    router = run.one(FUNCTION, "versions-router-function")
    distribution = run.one("aws:cloudfront/distribution:Distribution")
    assert provider_region(run, distribution) == "us-east-1"
    behavior = distribution.inputs["defaultCacheBehavior"]
    assert behavior["lambdaFunctionAssociations"] == [{
        "eventType": "origin-request", "lambdaArn": router.state["qualifiedArn"],
        "includeBody": False}]
    assert router.state["qualifiedArn"].endswith(":1")
    assert router.state["arn"].startswith(f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:")


def test_the_version_header_is_forwarded_and_nothing_is_cached() -> None:
    run = built()
    policy = run.one("aws:cloudfront/originRequestPolicy:OriginRequestPolicy")
    assert policy.inputs["name"] == "blueprints-test-versions-forward-version"
    assert policy.inputs["headersConfig"] == {"headerBehavior": "whitelist",
                                              "headers": {"items": ["Accept"]}}
    assert policy.inputs["cookiesConfig"] == {"cookieBehavior": "none"}
    behavior = run.one("aws:cloudfront/distribution:Distribution").inputs["defaultCacheBehavior"]
    assert behavior["cachePolicyId"] == "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"
    assert behavior["originRequestPolicyId"] == policy.id
    # The managed CachingDisabled policy disables gzip and Brotli: compress cannot apply.
    assert behavior["compress"] is False


def test_the_distribution_speaks_tls_only_with_security_headers_waf_and_logs() -> None:
    run = built()
    distribution = run.one("aws:cloudfront/distribution:Distribution").inputs
    behavior = distribution["defaultCacheBehavior"]
    assert behavior["viewerProtocolPolicy"] == "https-only"
    assert distribution["viewerCertificate"] == {
        "acmCertificateArn": f"arn:aws:acm:us-east-1:{ACCOUNT}:certificate/abc",
        "sslSupportMethod": "sni-only", "minimumProtocolVersion": "TLSv1.2_2021"}
    assert distribution["aliases"] == ["api.example.com"]
    origin = distribution["origins"][0]["customOriginConfig"]
    assert (origin["originProtocolPolicy"], origin["originSslProtocols"]) == (
        "https-only", ["TLSv1.2"])
    assert distribution["webAclId"] == SETTINGS.web_acl_arn
    headers = run.one("aws:cloudfront/responseHeadersPolicy:ResponseHeadersPolicy").inputs[
        "securityHeadersConfig"]
    assert headers["strictTransportSecurity"]["accessControlMaxAgeSec"] == 63072000
    assert headers["frameOptions"]["frameOption"] == "DENY"
    source = run.one("aws:cloudwatch/logDeliverySource:LogDeliverySource")
    assert source.inputs["logType"] == "ACCESS_LOGS"
    assert source.inputs["resourceArn"] == run.one(
        "aws:cloudfront/distribution:Distribution").state["arn"]
    logs = run.one("aws:cloudwatch/logGroup:LogGroup", "versions-access-logs")
    assert provider_region(run, logs) == "us-east-1"
    assert logs.inputs["retentionInDays"] == 14


def test_items_are_seeded_from_config_in_the_sample_shape() -> None:
    run = built()
    items = {json_input(r, "item")["hk"]["S"]: json_input(r, "item")
             for r in run.of_type("aws:dynamodb/tableItem:TableItem")}
    api = {r.name: r.id for r in run.of_type("aws:apigateway/restApi:RestApi")}
    assert set(items) == {"application/vnd.example.v1+json", "application/vnd.example.v2+json",
                          "v2", "application/vnd.example.legacy+json"}
    assert items["v2"] == {
        "hk": {"S": "v2"}, "dn": {"S": f"{api['versions-v2-api']}.execute-api.{REGION}"
                                          ".amazonaws.com"},
        "dp": {"S": "/v2"}, "sr": {"S": REGION}}
    assert items["application/vnd.example.legacy+json"] == {
        "hk": {"S": "application/vnd.example.legacy+json"}, "dn": {"S": "legacy.example.com"},
        "dp": {"S": "/prod"}}


def test_the_mapping_table_is_a_global_table() -> None:
    table = built().one("aws:dynamodb/table:Table", "versions-mappings-table").inputs
    assert [r["regionName"] for r in table["replicas"]] == ["us-east-1", "ap-southeast-2"]
    assert table["hashKey"] == "hk"
    assert table["pointInTimeRecovery"] == {"enabled": True}


def test_each_version_is_an_iam_authorized_api_with_its_greeting() -> None:
    run = built()
    methods = run.of_type("aws:apigateway/method:Method")
    assert {(m.name, m.inputs["authorization"], m.inputs["httpMethod"]) for m in methods} == {
        ("versions-v1-get-hello", "AWS_IAM", "GET"), ("versions-v2-get-hello", "AWS_IAM", "GET")}
    greetings = {f.name: f.inputs["environment"]["variables"]["GREETING"]
                 for f in run.of_type(FUNCTION) if f.name.endswith("hello-function")}
    assert greetings == {"versions-v1-hello-function": "API v.1: Hello world!",
                         "versions-v2-hello-function": "API v.2: Hello world!"}
    stages = {s.inputs["stageName"] for s in run.of_type("aws:apigateway/stage:Stage")}
    assert stages == {"v1", "v2"}


def test_outputs_name_the_domain_urls_table_and_router_version() -> None:
    run = built()
    exports = run.outputs["service"]
    assert exports["distributionDomain"].endswith(".cloudfront.net")
    assert set(exports["invokeUrls"]) == {"v1", "v2"}
    assert exports["invokeUrls"]["v1"].endswith("/v1/hello")
    assert exports["routerVersionArn"] == run.one(FUNCTION, "versions-router-function").state[
        "qualifiedArn"]


def test_default_message_follows_the_sample() -> None:
    assert default_message("v1") == "API v.1: Hello world!"
    assert default_message("beta") == "API v.beta: Hello world!"


@pytest.mark.parametrize(("settings", "expected"), [
    ({"versions": {}}, "versions"),
    ({"versions": {"V1": {"headerValues": ["a"]}}}, "versions.V1.[key]"),
    ({"versions": {"v1": {"headerValues": ["a"]}, "v2": {"headerValues": ["A"]}}},
     "header value 'A' selects both v1 and v2"),
    ({"versions": {"v1": {"headerValues": ["a"], "originPath": "/x"}}},
     "originPath only applies with existingDomain"),
    ({"versions": {"v1": {"headerValues": ["a"]}},
      "domain": {"name": "api.example.com",
                 "certificateArn": "arn:aws:acm:eu-west-1:111111111111:certificate/x"}},
     "domain.certificateArn"),
    ({"versions": {"v1": {"headerValues": ["a"]}}, "routerTimeout": 31}, "routerTimeout"),
    ({"versions": {"v1": {"headerValues": ["a b"]}}}, "headerValues"),
])
def test_bad_settings_are_refused_with_the_setting_named(settings: dict[str, Any],
                                                          expected: str) -> None:
    with pytest.raises(ValidationError) as raised:
        TypeAdapter(HeaderVersioningSettings).validate_python(settings)
    assert expected in str(raised.value)
