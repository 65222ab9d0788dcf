"""The REST API blocks: endpoint, validation models, and a stage with logs, limits, cache, WAF."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pulumi
import pulumi_aws as aws
import pytest

from components.config import Defaults
from components.foundation.cors import CorsArgs
from components.foundation.domain import ApiDomain
from components.foundation.rest_api import (
    ApiKeySource,
    CacheSize,
    EndpointType,
    LoggingLevel,
    RestApi,
    RestApiArgs,
    RestStage,
    RestStageArgs,
)
from components.foundation.usage_plans import (
    ApiKeySpec,
    MethodThrottle,
    UsagePlans,
    UsagePlansArgs,
    UsagePlanTier,
)
from components.foundation.validation import InvalidArgs
from components.foundation.waf import WafScope, WebAcl, WebAclArgs
from tests.support import ACCOUNT, DEV, PROD, REGION, json_input
from tools.mock_runtime import ROOT, StackRun
from tools.verdicts import evaluate, load_config

REST_API = "aws:apigateway/restApi:RestApi"
STAGE = "aws:apigateway/stage:Stage"
DEPLOYMENT = "aws:apigateway/deployment:Deployment"
METHOD_SETTINGS = "aws:apigateway/methodSettings:MethodSettings"
VALIDATOR = "aws:apigateway/requestValidator:RequestValidator"
MODEL = "aws:apigateway/model:Model"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
WAF_ASSOCIATION = "aws:wafv2/webAclAssociation:WebAclAssociation"
WEB_ACL = "aws:wafv2/webAcl:WebAcl"
RESOURCE = "aws:apigateway/resource:Resource"
METHOD = "aws:apigateway/method:Method"
INTEGRATION = "aws:apigateway/integration:Integration"
METHOD_RESPONSE = "aws:apigateway/methodResponse:MethodResponse"
INTEGRATION_RESPONSE = "aws:apigateway/integrationResponse:IntegrationResponse"
GATEWAY_RESPONSE = "aws:apigateway/response:Response"
WEB_ACL_ARN = "arn:aws:wafv2:eu-west-1:111111111111:regional/webacl/orders/0c0f0e0d"
VPC_ENDPOINT = "vpce-0123456789abcdef0"
PRIVATE_POLICY = json.dumps({
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Deny", "Principal": "*", "Action": "execute-api:Invoke",
                   "Resource": "execute-api:/*",
                   "Condition": {"StringNotEquals": {"aws:SourceVpce": VPC_ENDPOINT}}}],
})

Build = Callable[..., StackRun]


def api_and_stage(build: Build, api_args: RestApiArgs | None = None,
                  defaults: Defaults = DEV, **stage_overrides: Any) -> StackRun:
    """Builds an API and its stage, and exports what the stage exposes."""

    def program(opts: pulumi.ResourceOptions) -> None:
        api = RestApi("orders", api_args or RestApiArgs(), defaults, opts)
        stage_args = RestStageArgs(rest_api_id=api.api_id,
                                   redeploy_triggers={"routes": "GET /orders v1"})
        stage = RestStage("orders", replace(stage_args, **stage_overrides), defaults, opts)
        pulumi.export("invokeUrl", stage.invoke_url)
        pulumi.export("stageArn", stage.stage_arn)
        pulumi.export("executionArn", stage.execution_arn)
        pulumi.export("apiExecutionArn", api.execution_arn)
        pulumi.export("rootResourceId", api.root_resource_id)

    return build(program)


def problems_of(build: Build, program: Callable[[pulumi.ResourceOptions], Any]) -> list[str]:
    with pytest.raises(InvalidArgs) as raised:
        build(program)
    return raised.value.problems


def bad_stage(build: Build, **overrides: Any) -> list[str]:
    args = replace(RestStageArgs(rest_api_id="abc123", redeploy_triggers={"v": "1"}),
                   **overrides)
    return problems_of(build, lambda opts: RestStage("orders", args, DEV, opts))


def bad_api(build: Build, **overrides: Any) -> list[str]:
    args = replace(RestApiArgs(), **overrides)
    return problems_of(build, lambda opts: RestApi("orders", args, DEV, opts))


# --- the API ---------------------------------------------------------------------------------

def test_api_is_regional_with_header_keys_and_tls_1_2(build: Build) -> None:
    run = api_and_stage(build)

    api = run.one(REST_API, "orders-api")
    assert api.inputs["endpointConfiguration"] == {"types": "REGIONAL"}
    assert api.inputs["apiKeySource"] == "HEADER"
    assert api.inputs["securityPolicy"] == "TLS_1_2"
    assert "endpointAccessMode" not in api.inputs
    assert api.inputs["disableExecuteApiEndpoint"] is False
    assert "policy" not in api.inputs


def test_enhanced_security_policy_uses_strict_endpoint_access(build: Build) -> None:
    run = build(lambda opts: RestApi(
        "orders", RestApiArgs(security_policy="SecurityPolicy_TLS13_1_3_2025_09"), DEV, opts))

    api = run.one(REST_API, "orders-api")
    assert api.inputs["securityPolicy"] == "SecurityPolicy_TLS13_1_3_2025_09"
    assert api.inputs["endpointAccessMode"] == "STRICT"


def test_api_options_pass_through(build: Build) -> None:
    args = RestApiArgs(endpoint_type=EndpointType.EDGE, api_key_source=ApiKeySource.AUTHORIZER,
                       disable_execute_api_endpoint=True, minimum_compression_size=1024,
                       binary_media_types=("application/pdf",), description="Orders")
    run = build(lambda opts: RestApi("orders", args, DEV, opts))

    api = run.one(REST_API, "orders-api")
    assert api.inputs["endpointConfiguration"] == {"types": "EDGE"}
    assert api.inputs["apiKeySource"] == "AUTHORIZER"
    assert api.inputs["disableExecuteApiEndpoint"] is True
    assert api.inputs["minimumCompressionSize"] == "1024"
    assert api.inputs["binaryMediaTypes"] == ["application/pdf"]


def test_private_api_takes_its_endpoints_and_policy(build: Build) -> None:
    args = RestApiArgs(endpoint_type=EndpointType.PRIVATE, vpc_endpoint_ids=(VPC_ENDPOINT,),
                       policy=PRIVATE_POLICY)
    run = build(lambda opts: RestApi("orders", args, DEV, opts))

    api = run.one(REST_API, "orders-api")
    assert api.inputs["endpointConfiguration"] == {"types": "PRIVATE",
                                                   "vpcEndpointIds": [VPC_ENDPOINT]}
    condition = json_input(api, "policy")["Statement"][0]["Condition"]
    assert condition == {"StringNotEquals": {"aws:SourceVpce": VPC_ENDPOINT}}


def test_private_api_without_endpoints_or_policy_is_rejected(build: Build) -> None:
    problems = bad_api(build, endpoint_type=EndpointType.PRIVATE)

    assert any(p.startswith("vpc_endpoint_ids:") for p in problems)
    assert any(p.startswith("policy:") for p in problems)


def test_private_api_policy_must_check_the_source_endpoint(build: Build) -> None:
    open_policy = json.dumps({"Version": "2012-10-17", "Statement": []})
    problems = bad_api(build, endpoint_type=EndpointType.PRIVATE,
                       vpc_endpoint_ids=(VPC_ENDPOINT,), policy=open_policy)

    assert len(problems) == 1
    assert problems[0].startswith("policy:")
    assert "aws:SourceVpce" in problems[0]


def test_bad_api_arguments_are_all_reported(build: Build) -> None:
    problems = bad_api(build, endpoint_type="GLOBAL", api_key_source="QUERY",
                       vpc_endpoint_ids=(VPC_ENDPOINT,), security_policy="TLS_1_0",
                       minimum_compression_size=-5, policy="not json",
                       models={"order-item": {"type": "object"}})

    for argument in ("endpoint_type", "api_key_source", "security_policy",
                     "minimum_compression_size", "policy", "models"):
        assert any(p.startswith(f"{argument}:") for p in problems), argument
    assert any("'GLOBAL'" in p and "REGIONAL" in p for p in problems)


def test_model_names_must_differ_in_more_than_case(build: Build) -> None:
    problems = bad_api(build, models={"Order": {"type": "object"}, "ORDER": {"type": "object"}})

    assert problems == ["models: model names ['ORDER', 'Order'] differ only in case"]


def test_request_validator_checks_body_and_parameters(build: Build) -> None:
    run = build(lambda opts: RestApi("orders", RestApiArgs(), DEV, opts))

    validator = run.one(VALIDATOR, "orders-validator")
    assert validator.inputs["validateRequestBody"] is True
    assert validator.inputs["validateRequestParameters"] is True
    assert validator.inputs["restApi"] == run.one(REST_API, "orders-api").id


def test_models_are_json_schema_draft_4(build: Build) -> None:
    schema = {"type": "object", "required": ["orderId"],
              "properties": {"orderId": {"type": "string"}}}
    run = build(lambda opts: RestApi("orders", RestApiArgs(models={"Order": schema}), DEV, opts))

    model = run.one(MODEL, "orders-model-order")
    assert model.inputs["name"] == "Order"
    assert model.inputs["contentType"] == "application/json"
    assert json_input(model, "schema") == {"$schema": "http://json-schema.org/draft-04/schema#",
                                           **schema}


# --- the stage -------------------------------------------------------------------------------

def test_stage_access_logs_go_to_its_own_log_group_as_json(build: Build) -> None:
    run = api_and_stage(build)

    group = run.one(LOG_GROUP, "orders-access-logs")
    assert group.inputs["retentionInDays"] == DEV.log_retention_days
    settings = run.one(STAGE, "orders-stage").inputs["accessLogSettings"]
    assert settings["destinationArn"] == group.state["arn"]
    line = json.loads(settings["format"])
    assert line["requestId"] == "$context.requestId"
    for field in ("extendedRequestId", "ip", "caller", "user", "requestTime", "httpMethod",
                  "resourcePath", "status", "protocol", "responseLength", "integrationError",
                  "integrationLatency", "authorizerError"):
        assert line[field].startswith("$context."), field


def test_stage_traces_and_deploys_the_current_deployment(build: Build) -> None:
    run = api_and_stage(build)

    stage = run.one(STAGE, "orders-stage")
    deployment = run.one(DEPLOYMENT, "orders-deployment")
    api = run.one(REST_API, "orders-api")
    assert stage.inputs["xrayTracingEnabled"] is True
    assert stage.inputs["stageName"] == "dev"
    assert stage.inputs["restApi"] == api.id
    assert stage.inputs["deployment"] == deployment.id
    assert stage.inputs["cacheClusterEnabled"] is False
    assert deployment.inputs["triggers"] == {"routes": "GET /orders v1"}
    assert deployment.inputs["restApi"] == api.id


def test_deployment_waits_for_the_given_methods(build: Build) -> None:
    def program(opts: pulumi.ResourceOptions) -> None:
        api = RestApi("orders", RestApiArgs(), DEV, opts)
        items = aws.apigateway.Resource("items", rest_api=api.api_id,
                                        parent_id=api.root_resource_id, path_part="items",
                                        opts=opts)
        RestStage("orders", RestStageArgs(rest_api_id=api.api_id, redeploy_triggers={"v": "1"},
                                          depends_on=[items]), DEV, opts)

    run = build(program)

    items = run.one("aws:apigateway/resource:Resource", "items")
    assert items.urn in run.one(DEPLOYMENT, "orders-deployment").dependencies


def test_stage_name_defaults_to_the_stack_stage_and_prod_keeps_logs_longer(build: Build) -> None:
    run = api_and_stage(build, defaults=PROD)

    assert run.one(STAGE, "orders-stage").inputs["stageName"] == "prod"
    for group in run.of_type(LOG_GROUP):
        assert group.inputs["retentionInDays"] == 365


def test_execution_log_group_exists_before_api_gateway_writes_to_it(build: Build) -> None:
    run = api_and_stage(build)

    api = run.one(REST_API, "orders-api")
    group = run.one(LOG_GROUP, "orders-execution-logs")
    assert group.inputs["name"] == f"API-Gateway-Execution-Logs_{api.id}/dev"
    assert group.inputs["retentionInDays"] == DEV.log_retention_days
    assert group.urn in run.one(STAGE, "orders-stage").dependencies


def test_default_method_settings_throttle_log_and_measure(build: Build) -> None:
    run = api_and_stage(build)

    method_settings = run.one(METHOD_SETTINGS, "orders-method-settings")
    assert method_settings.inputs["methodPath"] == "*/*"
    assert method_settings.inputs["stageName"] == "dev"
    assert method_settings.inputs["settings"] == {
        "throttlingBurstLimit": 100.0,
        "throttlingRateLimit": 50.0,
        "loggingLevel": "INFO",
        "metricsEnabled": True,
        "dataTraceEnabled": False,
        "cachingEnabled": False,
    }
    assert run.warnings == []


def test_throttling_and_logging_level_are_arguments(build: Build) -> None:
    run = api_and_stage(build, throttling_burst_limit=20, throttling_rate_limit=10.5,
                        logging_level=LoggingLevel.ERROR)

    settings = run.one(METHOD_SETTINGS, "orders-method-settings").inputs["settings"]
    assert settings["throttlingBurstLimit"] == 20
    assert settings["throttlingRateLimit"] == 10.5
    assert settings["loggingLevel"] == "ERROR"


def test_logging_off_warns_and_creates_no_execution_log_group(build: Build) -> None:
    run = api_and_stage(build, logging_level=LoggingLevel.OFF)

    settings = run.one(METHOD_SETTINGS, "orders-method-settings").inputs["settings"]
    assert settings["loggingLevel"] == "OFF"
    assert [g.name for g in run.of_type(LOG_GROUP)] == ["orders-access-logs"]
    assert any("logging_level OFF" in w for w in run.warnings)


def test_data_trace_warns(build: Build) -> None:
    run = api_and_stage(build, data_trace_enabled=True)

    settings = run.one(METHOD_SETTINGS, "orders-method-settings").inputs["settings"]
    assert settings["dataTraceEnabled"] is True
    assert any("data_trace_enabled" in w and "bodies" in w for w in run.warnings)


def test_turning_tracing_off_warns(build: Build) -> None:
    run = api_and_stage(build, xray_tracing_enabled=False)

    assert run.one(STAGE, "orders-stage").inputs["xrayTracingEnabled"] is False
    assert any("xray_tracing_enabled" in w for w in run.warnings)


def test_cache_is_encrypted_and_guarded(build: Build) -> None:
    run = api_and_stage(build, cache_size=CacheSize.GB_0_5, cache_ttl_seconds=60)

    stage = run.one(STAGE, "orders-stage")
    assert stage.inputs["cacheClusterEnabled"] is True
    assert stage.inputs["cacheClusterSize"] == "0.5"
    settings = run.one(METHOD_SETTINGS, "orders-method-settings").inputs["settings"]
    assert settings["cachingEnabled"] is True
    assert settings["cacheDataEncrypted"] is True
    assert settings["cacheTtlInSeconds"] == 60
    assert settings["requireAuthorizationForCacheControl"] is True
    assert settings["unauthorizedCacheControlHeaderStrategy"] == "FAIL_WITH_403"


def test_web_acl_is_associated_with_the_stage(build: Build) -> None:
    run = api_and_stage(build, web_acl_arn=WEB_ACL_ARN)

    association = run.one(WAF_ASSOCIATION, "orders-waf")
    assert association.inputs["webAclArn"] == WEB_ACL_ARN
    assert association.inputs["resourceArn"] == run.one(STAGE, "orders-stage").state["arn"]


def test_no_web_acl_means_no_association(build: Build) -> None:
    run = api_and_stage(build)

    assert run.of_type(WAF_ASSOCIATION) == []


def test_stage_exposes_its_urls_and_arns(build: Build) -> None:
    run = api_and_stage(build)

    api = run.one(REST_API, "orders-api")
    assert run.outputs["invokeUrl"] == f"https://{api.id}.execute-api.eu-west-1.amazonaws.com/dev"
    assert run.outputs["stageArn"] == f"arn:aws:apigateway:eu-west-1::/restapis/{api.id}/stages/dev"
    assert run.outputs["executionArn"] == run.outputs["apiExecutionArn"] + "/dev"
    assert run.outputs["rootResourceId"] == api.state["rootResourceId"]


def test_every_child_is_parented_to_its_component(build: Build) -> None:
    run = api_and_stage(build, web_acl_arn=WEB_ACL_ARN, cache_size=CacheSize.GB_1_6)

    components = {r.type: r.urn for r in run.resources if not r.custom}
    assert set(components) == {"blueprints:foundation:RestApi", "blueprints:foundation:RestStage"}
    for resource in run.managed():
        assert resource.parent in components.values(), resource.name
        assert resource.name.startswith("orders-"), resource.name


def test_bad_stage_arguments_are_all_reported(build: Build) -> None:
    problems = bad_stage(build, stage_name="dev stage", redeploy_triggers={},
                         throttling_burst_limit=0, throttling_rate_limit=-1,
                         logging_level="DEBUG", cache_size="2")

    for argument in ("stage_name", "redeploy_triggers", "throttling_burst_limit",
                     "throttling_rate_limit", "logging_level", "cache_size"):
        assert any(p.startswith(f"{argument}:") for p in problems), argument
    assert len(problems) == 6


def test_negative_throttle_is_rejected(build: Build) -> None:
    problems = bad_stage(build, throttling_burst_limit=-10)

    assert problems == ["throttling_burst_limit: -10 must be a whole number of requests, "
                        "at least 1"]


def test_cloudfront_web_acl_is_rejected(build: Build) -> None:
    problems = bad_stage(
        build, web_acl_arn="arn:aws:wafv2:us-east-1:111111111111:global/webacl/orders/0c0f")

    assert len(problems) == 1
    assert problems[0].startswith("web_acl_arn:")


def test_cache_ttl_is_bounded_when_caching(build: Build) -> None:
    problems = bad_stage(build, cache_size=CacheSize.GB_0_5, cache_ttl_seconds=7200)

    assert len(problems) == 1
    assert problems[0].startswith("cache_ttl_seconds:")


# --- CORS: preflight -------------------------------------------------------------------------

APP = "https://app.example.com"
ADMIN = "https://admin.example.com"
CORS = CorsArgs(allow_origins=(APP, ADMIN), allow_methods=("GET", "POST"))
ALLOW_ORIGIN = "method.response.header.Access-Control-Allow-Origin"


def api_with_preflight(build: Build, cors: CorsArgs = CORS) -> StackRun:
    """An API with CORS, an ``items`` resource and its preflight, deployed on a stage."""

    def program(opts: pulumi.ResourceOptions) -> None:
        api = RestApi("orders", RestApiArgs(cors=cors), DEV, opts)
        items = aws.apigateway.Resource("items", rest_api=api.api_id,
                                        parent_id=api.root_resource_id, path_part="items",
                                        opts=opts)
        preflight = api.add_preflight("items", items.id)
        pulumi.export("preflight", [resource.urn for resource in preflight])
        RestStage("orders", RestStageArgs(
            rest_api_id=api.api_id, redeploy_triggers={"api": api.redeploy_fingerprint},
            depends_on=api.deployment_dependencies()), DEV, opts)

    return build(program)


def test_preflight_is_an_open_options_method_on_a_mock_integration(build: Build) -> None:
    run = api_with_preflight(build)

    api = run.one(REST_API, "orders-api")
    items = run.one(RESOURCE, "items")
    method = run.one(METHOD, "orders-items-options")
    assert method.inputs["httpMethod"] == "OPTIONS"
    assert method.inputs["authorization"] == "NONE"
    assert method.inputs["apiKeyRequired"] is False
    assert method.inputs["restApi"] == api.id
    assert method.inputs["resourceId"] == items.id
    integration = run.one(INTEGRATION, "orders-items-options-integration")
    assert integration.inputs["type"] == "MOCK"
    assert integration.inputs["httpMethod"] == "OPTIONS"
    assert integration.inputs["resourceId"] == items.id
    assert json.loads(integration.inputs["requestTemplates"]["application/json"]) == {
        "statusCode": 200}


def test_preflight_answers_200_with_the_allowed_methods_headers_and_age(build: Build) -> None:
    run = api_with_preflight(build)

    method_response = run.one(METHOD_RESPONSE, "orders-items-options-response")
    assert method_response.inputs["statusCode"] == "200"
    response = run.one(INTEGRATION_RESPONSE, "orders-items-options-integration-response")
    assert response.inputs["statusCode"] == "200"
    assert response.inputs["httpMethod"] == "OPTIONS"
    assert response.inputs["responseParameters"] == {
        "method.response.header.Access-Control-Allow-Methods": "'GET,POST'",
        "method.response.header.Access-Control-Allow-Headers": "'authorization,content-type'",
        "method.response.header.Access-Control-Max-Age": "'300'",
        "method.response.header.Vary": "'Origin'",
    }
    # Every header the integration response sets, and the template's origin, is declared.
    declared = method_response.inputs["responseParameters"]
    assert set(declared) == {ALLOW_ORIGIN, *response.inputs["responseParameters"]}
    assert run.warnings == []


def test_preflight_picks_the_origin_from_the_allow_list_and_never_sends_a_wildcard(
        build: Build) -> None:
    run = api_with_preflight(build)

    response = run.one(INTEGRATION_RESPONSE, "orders-items-options-integration-response")
    template = response.inputs["responseTemplates"]["application/json"]
    assert '$input.params().header.get("Origin")' in template
    assert f'$origin == "{APP}"' in template
    assert f'$origin == "{ADMIN}"' in template
    assert "#set($context.responseOverride.header.Access-Control-Allow-Origin = $origin)" in \
        template
    assert "*" not in template
    assert ALLOW_ORIGIN not in response.inputs["responseParameters"]
    assert all("*" not in value for value in response.inputs["responseParameters"].values())


def test_preflight_allows_credentials_when_asked(build: Build) -> None:
    run = api_with_preflight(build, replace(CORS, allow_credentials=True, max_age=600))

    parameters = run.one(INTEGRATION_RESPONSE).inputs["responseParameters"]
    assert parameters["method.response.header.Access-Control-Allow-Credentials"] == "'true'"
    assert parameters["method.response.header.Access-Control-Max-Age"] == "'600'"
    declared = run.one(METHOD_RESPONSE).inputs["responseParameters"]
    assert "method.response.header.Access-Control-Allow-Credentials" in declared


def test_any_origin_sends_a_static_wildcard_and_warns(build: Build) -> None:
    run = api_with_preflight(build, replace(CORS, allow_origins=("*",), allow_any_origin=True))

    response = run.one(INTEGRATION_RESPONSE)
    assert response.inputs["responseParameters"][ALLOW_ORIGIN] == "'*'"
    assert "method.response.header.Vary" not in response.inputs["responseParameters"]
    assert "responseTemplates" not in response.inputs
    assert any("cors.allow_any_origin" in w for w in run.warnings)


def test_preflight_resources_are_returned_for_the_deployment(build: Build) -> None:
    run = api_with_preflight(build)

    returned = run.outputs["preflight"]
    expected = [run.one(METHOD, "orders-items-options").urn,
                run.one(INTEGRATION, "orders-items-options-integration").urn,
                run.one(METHOD_RESPONSE, "orders-items-options-response").urn,
                run.one(INTEGRATION_RESPONSE, "orders-items-options-integration-response").urn]
    assert returned == expected
    dependencies = run.one(DEPLOYMENT, "orders-deployment").dependencies
    for urn in [*expected, *(r.urn for r in run.of_type(GATEWAY_RESPONSE))]:
        assert urn in dependencies
    component = run.one("blueprints:foundation:RestApi", "orders")
    assert {run.by_urn(urn).parent for urn in expected} == {component.urn}


def test_preflight_needs_cors_and_a_fresh_resource_name(build: Build) -> None:
    def without_cors(opts: pulumi.ResourceOptions) -> None:
        RestApi("orders", RestApiArgs(), DEV, opts).add_preflight("items", "res123")

    def twice(opts: pulumi.ResourceOptions) -> None:
        api = RestApi("orders", RestApiArgs(cors=CORS), DEV, opts)
        api.add_preflight("items", "res123")
        api.add_preflight("items", "res456")

    assert problems_of(build, without_cors) == [
        "add_preflight: the API has no cors settings; set RestApiArgs.cors"]
    assert problems_of(build, twice) == [
        "add_preflight.resource_name: 'items' already has a preflight"]
    problems = problems_of(build, lambda opts: RestApi(
        "orders", RestApiArgs(cors=CORS), DEV, opts).add_preflight("items/{id}", "res123"))
    assert len(problems) == 1
    assert problems[0].startswith("add_preflight.resource_name: 'items/{id}'")


def test_preflight_takes_the_resource_name_with_or_without_the_api_prefix(build: Build) -> None:
    def program(opts: pulumi.ResourceOptions) -> None:
        api = RestApi("orders", RestApiArgs(cors=CORS), DEV, opts)
        api.add_preflight("orders-items", "res123")
        api.add_preflight("item", "res456")

    run = build(program)

    assert sorted(m.name for m in run.of_type(METHOD)) == ["orders-item-options",
                                                           "orders-items-options"]

    def the_same_resource_twice(opts: pulumi.ResourceOptions) -> None:
        api = RestApi("orders", RestApiArgs(cors=CORS), DEV, opts)
        api.add_preflight("items", "res123")
        api.add_preflight("orders-items", "res123")

    assert problems_of(build, the_same_resource_twice) == [
        "add_preflight.resource_name: 'orders-items' already has a preflight"]


def test_bad_cors_settings_are_reported_with_the_other_api_arguments(build: Build) -> None:
    problems = bad_api(build, security_policy="TLS_1_0",
                       cors=CorsArgs(allow_origins=("*", "http://x.example.com"),
                                     allow_methods=("FETCH",)))

    assert [p.split(":")[0] for p in problems] == [
        "security_policy", "cors.allow_origins", "cors.allow_origins", "cors.allow_methods"]


def test_header_names_must_fit_in_a_quoted_static_value(build: Build) -> None:
    problems = bad_api(build, cors=replace(CORS, allow_headers=("x-it's",)))

    assert problems == ["cors.allow_headers: \"x-it's\" cannot be sent by API Gateway, which "
                        "quotes static header values with '"]


# --- CORS and validation: gateway responses -------------------------------------------------

def gateway_responses(build: Build, cors: CorsArgs | None) -> dict[str, Any]:
    run = build(lambda opts: RestApi("orders", RestApiArgs(cors=cors), DEV, opts))
    return {r.inputs["responseType"]: r for r in run.of_type(GATEWAY_RESPONSE)}


def test_invalid_bodies_get_400_with_a_plain_message_even_without_cors(build: Build) -> None:
    responses = gateway_responses(build, None)

    assert set(responses) == {"BAD_REQUEST_BODY"}
    bad_body = responses["BAD_REQUEST_BODY"]
    assert bad_body.name == "orders-bad-request-body"
    assert bad_body.inputs["statusCode"] == "400"
    assert json.loads(bad_body.inputs["responseTemplates"]["application/json"]) == {
        "message": "Invalid request body"}
    assert "responseParameters" not in bad_body.inputs


def test_error_responses_carry_cors_headers_and_echo_the_origin_without_credentials(
        build: Build) -> None:
    responses = gateway_responses(build, CORS)

    assert set(responses) == {"BAD_REQUEST_BODY", "DEFAULT_4XX", "DEFAULT_5XX"}
    expected = {
        "gatewayresponse.header.Access-Control-Allow-Origin": "method.request.header.Origin",
        "gatewayresponse.header.Access-Control-Allow-Methods": "'GET,POST'",
        "gatewayresponse.header.Access-Control-Allow-Headers": "'authorization,content-type'",
        "gatewayresponse.header.Vary": "'Origin'",
    }
    for kind, response in responses.items():
        assert response.inputs["responseParameters"] == expected, kind
    assert responses["DEFAULT_4XX"].name == "orders-default-4xx"
    assert responses["DEFAULT_5XX"].name == "orders-default-5xx"
    assert responses["DEFAULT_4XX"].inputs["responseTemplates"] == {
        "application/json": '{"message":$context.error.messageString}'}
    assert "statusCode" not in responses["DEFAULT_5XX"].inputs
    assert responses["BAD_REQUEST_BODY"].inputs["statusCode"] == "400"


def test_one_origin_is_sent_as_it_is(build: Build) -> None:
    responses = gateway_responses(build, replace(CORS, allow_origins=(APP,)))

    parameters = responses["DEFAULT_4XX"].inputs["responseParameters"]
    assert parameters["gatewayresponse.header.Access-Control-Allow-Origin"] == f"'{APP}'"


def test_with_credentials_only_the_first_origin_is_sent(build: Build) -> None:
    responses = gateway_responses(build, replace(CORS, allow_credentials=True,
                                                 expose_headers=("x-request-id",)))

    parameters = responses["DEFAULT_5XX"].inputs["responseParameters"]
    assert parameters["gatewayresponse.header.Access-Control-Allow-Origin"] == f"'{APP}'"
    assert parameters["gatewayresponse.header.Access-Control-Allow-Credentials"] == "'true'"
    assert parameters["gatewayresponse.header.Access-Control-Expose-Headers"] == \
        "'x-request-id'"


def test_redeploy_fingerprint_follows_the_cors_settings(build: Build) -> None:
    fingerprints = []

    def program(opts: pulumi.ResourceOptions) -> None:
        for i, cors in enumerate((CORS, CORS, replace(CORS, allow_methods=("GET",)), None)):
            fingerprints.append(RestApi(f"api{i}", RestApiArgs(cors=cors), DEV,
                                        opts).redeploy_fingerprint)

    build(program)

    assert fingerprints[0] == fingerprints[1]
    assert len(set(fingerprints)) == 3


# --- WAF --------------------------------------------------------------------------------------

def test_a_web_acl_block_is_associated_through_its_arn(build: Build) -> None:
    def program(opts: pulumi.ResourceOptions) -> None:
        api = RestApi("orders", RestApiArgs(), DEV, opts)
        waf = WebAcl("orders-waf", WebAclArgs(), DEV, opts)
        RestStage("orders", RestStageArgs(rest_api_id=api.api_id, redeploy_triggers={"v": "1"},
                                          web_acl_arn=waf.arn), DEV, opts)

    run = build(program)

    web_acl = run.one(WEB_ACL, "orders-waf-acl")
    association = run.one(WAF_ASSOCIATION, "orders-waf")
    assert association.inputs["webAclArn"] == web_acl.state["arn"]
    assert ":regional/webacl/" in web_acl.state["arn"]
    assert association.inputs["resourceArn"] == run.one(STAGE, "orders-stage").state["arn"]


def test_a_cloudfront_web_acl_is_rejected_once_its_arn_is_known(build: Build) -> None:
    def program(opts: pulumi.ResourceOptions) -> None:
        waf = WebAcl("edge-waf", WebAclArgs(scope=WafScope.CLOUDFRONT), DEV, opts)
        RestStage("orders", RestStageArgs(rest_api_id="abc123", redeploy_triggers={"v": "1"},
                                          web_acl_arn=waf.arn), DEV, opts)

    problems = problems_of(build, program)

    assert len(problems) == 1
    assert problems[0].startswith("web_acl_arn:")
    assert ":global/webacl/" in problems[0]


# --- guardrails -------------------------------------------------------------------------------

def front_door(opts: pulumi.ResourceOptions, *, waf: bool = True,
               cors: CorsArgs = CORS) -> None:
    """A prod REST API as the blocks build it: CORS, a validated POST, WAF and usage plans."""
    tagged = aws.Provider("tagged", region=REGION, allowed_account_ids=[ACCOUNT],
                          default_tags={"tags": {"owner": "team-a", "environment": "prod",
                                                 "project": "blueprints"}})
    opts = pulumi.ResourceOptions(provider=tagged)
    api = RestApi("orders", RestApiArgs(cors=cors, models={"Order": {"type": "object"}}), PROD,
                  opts)
    items = aws.apigateway.Resource("orders-items", rest_api=api.api_id,
                                    parent_id=api.root_resource_id, path_part="items", opts=opts)
    method = aws.apigateway.Method(
        "orders-post-items", rest_api=api.api_id, resource_id=items.id, http_method="POST",
        authorization="AWS_IAM", api_key_required=True,
        request_validator_id=api.request_validator_id,
        request_models={"application/json": "Order"}, opts=opts)
    integration = aws.apigateway.Integration(
        "orders-post-items", rest_api=api.api_id, resource_id=items.id,
        http_method=method.http_method, type="MOCK", opts=opts)
    preflight = api.add_preflight("items", items.id)
    web_acl = WebAcl("orders-waf", WebAclArgs(
        managed_rule_groups=("AWSManagedRulesCommonRuleSet",)), PROD, opts) if waf else None
    stage = RestStage("orders", RestStageArgs(
        rest_api_id=api.api_id, redeploy_triggers={"api": api.redeploy_fingerprint},
        depends_on=[method, integration, *preflight, *api.gateway_responses.values()],
        web_acl_arn=web_acl.arn if web_acl else None), PROD, opts)
    UsagePlans("orders-plans", UsagePlansArgs(
        rest_api_id=api.api_id, stage_name=stage.stage.stage_name,
        tiers={"free": UsagePlanTier(rate_limit=5, burst_limit=10, quota_limit=1000,
                                     method_throttles={"/items/POST": MethodThrottle(1, 2)})},
        keys=(ApiKeySpec("partner", "free"),)), PROD, opts)


def test_the_front_door_meets_the_guardrails_with_the_project_config(build: Build) -> None:
    run = build(front_door)

    verdicts = evaluate(run, load_config(ROOT / "policy" / "blueprints.json"))
    assert [v for v in verdicts if v.mandatory] == []
    assert verdicts == [], [f"{v.policy} {v.resource_name}: {v.message}" for v in verdicts]


def test_the_documented_advisories_are_the_only_ones(build: Build) -> None:
    without_waf = evaluate(build(lambda opts: front_door(opts, waf=False)))
    any_origin = evaluate(build(lambda opts: front_door(
        opts, cors=replace(CORS, allow_origins=("*",), allow_any_origin=True))))

    assert {(v.policy, v.level, v.resource_name) for v in without_waf} == {
        ("waf-on-public-endpoints", "advisory", "orders-stage")}
    assert {(v.policy, v.level, v.resource_name) for v in any_origin} == {
        ("cors-no-wildcard-origin", "advisory", name) for name in (
            "orders-items-options-integration-response", "orders-bad-request-body",
            "orders-default-4xx", "orders-default-5xx")}


# --- custom domain ---------------------------------------------------------------------------

REGIONAL_CERTIFICATE = f"arn:aws:acm:{REGION}:{ACCOUNT}:certificate/0a1b2c3d"
EDGE_CERTIFICATE = f"arn:aws:acm:us-east-1:{ACCOUNT}:certificate/0a1b2c3d"


def test_a_custom_domain_serves_the_stage_at_its_root_with_tls_1_2(build: Build) -> None:
    domain = ApiDomain("orders.example.com", REGIONAL_CERTIFICATE)
    run = api_and_stage(build, domain=domain)
    custom = run.one("aws:apigateway/domainName:DomainName").inputs
    assert custom == {"domainName": "orders.example.com", "securityPolicy": "TLS_1_2",
                      "endpointConfiguration": {"types": "REGIONAL"},
                      "regionalCertificateArn": REGIONAL_CERTIFICATE}
    mapping = run.one("aws:apigateway/basePathMapping:BasePathMapping").inputs
    assert mapping["stageName"] == run.one(STAGE).inputs["stageName"]
    assert mapping["restApi"] == run.one(REST_API).id
    assert "basePath" not in mapping
    assert run.outputs["invokeUrl"] == "https://orders.example.com"


def test_an_edge_domain_takes_its_certificate_from_us_east_1(build: Build) -> None:
    run = api_and_stage(build, domain=ApiDomain("orders.example.com", EDGE_CERTIFICATE,
                                                edge=True))
    custom = run.one("aws:apigateway/domainName:DomainName").inputs
    assert custom["certificateArn"] == EDGE_CERTIFICATE
    assert custom["endpointConfiguration"] == {"types": "EDGE"}
    assert "regionalCertificateArn" not in custom


@pytest.mark.parametrize(("domain", "expected"), [
    (ApiDomain("orders.example.com", EDGE_CERTIFICATE),
     "domain.certificate_arn: the certificate is in us-east-1, but a regional domain needs one "
     f"in {REGION}"),
    (ApiDomain("orders.example.com", REGIONAL_CERTIFICATE, edge=True),
     f"domain.certificate_arn: the certificate is in {REGION}, but an edge-optimized domain "
     "needs one in us-east-1"),
    (ApiDomain("Orders.Example.com", REGIONAL_CERTIFICATE),
     "domain.name: 'Orders.Example.com' is not a lower-case DNS name"),
    (ApiDomain("orders.example.com", "arn:aws:iam::1:certificate"),
     "domain.certificate_arn: 'arn:aws:iam::1:certificate' is not an ACM certificate ARN"),
])
def test_a_domain_with_the_wrong_certificate_is_refused(build: Build, domain: ApiDomain,
                                                        expected: str) -> None:
    assert any(problem.startswith(expected) for problem in bad_stage(build, domain=domain))
