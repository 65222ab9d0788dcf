"""The API front door: query-string keys, tiers, throttling, validation, WAF and CORS."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from pydantic import TypeAdapter, ValidationError

from components.services.query_key_api import (
    IDENTITY_SOURCE,
    QueryKeyApi,
    QueryKeyApiSettings,
    ThrottleSettings,
    customization_schema,
)
from tests.certificates import ca_and_client
from tests.services.idempotency_support import check_idempotency_store
from tests.support import PLACEHOLDER_KEY, json_input, run_service, statements
from tools.mock_runtime import Secret, StackRun, reveal

CONFIGURED_KEY = "k" * 30
BASE = {
    "tiers": {
        "free": {"rateLimit": 5, "burstLimit": 10, "quota": {"limit": 1000, "period": "DAY"}},
        "premium": {"rateLimit": 100, "burstLimit": 200,
                    "quota": {"limit": 1000000, "period": "MONTH"},
                    "methodThrottles": {"/customizations/POST": {"rateLimit": 20,
                                                                 "burstLimit": 40}}},
    },
    "consumers": {"partner": {"tier": "premium", "keyFromConfig": True},
                  "trial": {"tier": "free"}},
    "cors": {"allowOrigins": ["https://app.example.com", "https://admin.example.com"]},
    "waf": {"managedRuleGroups": ["AWSManagedRulesCommonRuleSet"]},
}


def settings(**overrides: Any) -> QueryKeyApiSettings:
    return TypeAdapter(QueryKeyApiSettings).validate_python({**BASE, **overrides})


def build(service_settings: QueryKeyApiSettings) -> StackRun:
    return run_service(lambda context, opts: QueryKeyApi("front", service_settings, context, opts),
                       api_keys={"partner": CONFIGURED_KEY})


@cache
def built() -> StackRun:
    return build(settings())


def test_the_authorizer_reads_the_query_string_key_and_caches_its_answer() -> None:
    run = built()
    authorizer = run.one("aws:apigateway/authorizer:Authorizer").inputs
    assert authorizer["type"] == "REQUEST"
    assert authorizer["identitySource"] == IDENTITY_SOURCE == "method.request.querystring.apiKey"
    assert authorizer["authorizerResultTtlInSeconds"] == 300
    function = run.one("aws:lambda/function:Function", "front-authorizer-function")
    assert authorizer["authorizerUri"] == function.state["invokeArn"]
    assert function.inputs["environment"]["variables"] | {
        "ACCEPT_HEADER_KEY": "false", "AUTHORIZER_CACHE": "true",
        "ALLOWED_METHODS": "POST/customizations,GET/customizations/*",
    } == function.inputs["environment"]["variables"]
    permission = run.one("aws:lambda/permission:Permission", "front-invoke-authorizer").inputs
    authorizer_id = run.one("aws:apigateway/authorizer:Authorizer").id
    assert permission["sourceArn"].endswith(f"/authorizers/{authorizer_id}")


def test_accepting_the_header_too_leaves_no_identity_source_and_no_cache() -> None:
    run = build(settings(acceptHeaderKey=True))
    authorizer = run.one("aws:apigateway/authorizer:Authorizer").inputs
    # Not absent: the provider would fill in its default, the Authorization header.
    assert authorizer["identitySource"] == ""
    assert authorizer["authorizerResultTtlInSeconds"] == 0
    variables = run.one("aws:lambda/function:Function", "front-authorizer-function").inputs[
        "environment"]["variables"]
    assert (variables["ACCEPT_HEADER_KEY"], variables["AUTHORIZER_CACHE"]) == ("true", "false")


def test_the_api_takes_its_keys_from_the_authorizer() -> None:
    api = built().one("aws:apigateway/restApi:RestApi").inputs
    assert api["apiKeySource"] == "AUTHORIZER"
    assert api["endpointConfiguration"] == {"types": "REGIONAL"}


def test_every_route_needs_the_authorizer_and_a_key_and_posts_are_validated() -> None:
    run = built()
    methods = {m.name: m.inputs for m in run.of_type("aws:apigateway/method:Method")}
    authorizer_id = run.one("aws:apigateway/authorizer:Authorizer").id
    for name in ("front-post-customizations", "front-get-customization"):
        assert methods[name]["authorization"] == "CUSTOM"
        assert methods[name]["authorizerId"] == authorizer_id
        assert methods[name]["apiKeyRequired"] is True
    validator = run.one("aws:apigateway/requestValidator:RequestValidator")
    assert methods["front-post-customizations"]["requestValidatorId"] == validator.id
    assert methods["front-post-customizations"]["requestModels"] == {
        "application/json": "CustomizationPost"}
    assert validator.inputs["validateRequestBody"] is True


def test_the_model_is_the_backends_schema_in_draft_4() -> None:
    model = built().one("aws:apigateway/model:Model")
    schema = json_input(model, "schema")
    assert schema["$schema"] == "http://json-schema.org/draft-04/schema#"
    assert {k: v for k, v in schema.items() if k != "$schema"} == {
        k: v for k, v in customization_schema().items() if k != "$schema"}
    assert schema["properties"]["cape"]["pattern"] == "^[0-9]+$"


def test_a_bad_body_gets_the_posts_400_and_errors_carry_cors_headers() -> None:
    responses = {r.inputs["responseType"]: r.inputs
                 for r in built().of_type("aws:apigateway/response:Response")}
    bad = responses["BAD_REQUEST_BODY"]
    assert bad["statusCode"] == "400"
    assert json.loads(bad["responseTemplates"]["application/json"]) == {
        "message": "Invalid request body"}
    for kind in ("DEFAULT_4XX", "DEFAULT_5XX"):
        headers = responses[kind]["responseParameters"]
        assert "gatewayresponse.header.Access-Control-Allow-Origin" in headers
        assert headers["gatewayresponse.header.Access-Control-Allow-Origin"] != "'*'"


def test_preflights_have_no_authorization_and_choose_among_allowed_origins() -> None:
    run = built()
    options = [m for m in run.of_type("aws:apigateway/method:Method")
               if m.inputs["httpMethod"] == "OPTIONS"]
    assert len(options) == 2
    assert {m.inputs["authorization"] for m in options} == {"NONE"}
    integrations = [i for i in run.of_type("aws:apigateway/integration:Integration")
                    if i.inputs["type"] == "MOCK"]
    assert len(integrations) == 2
    for response in run.of_type("aws:apigateway/integrationResponse:IntegrationResponse"):
        template = response.inputs["responseTemplates"]["application/json"]
        assert "https://app.example.com" in template
        assert "https://admin.example.com" in template
        assert "'*'" not in json.dumps(response.inputs)


def stage_throttle(run: StackRun) -> tuple[float, int]:
    settings_ = run.one("aws:apigateway/methodSettings:MethodSettings").inputs
    assert settings_["methodPath"] == "*/*"
    return settings_["settings"]["throttlingRateLimit"], settings_["settings"][
        "throttlingBurstLimit"]


def test_by_default_the_stage_has_room_for_every_key_at_its_tiers_full_rate() -> None:
    # The stage's throttle is shared by all keys: partner (premium 100/200) and trial (free
    # 5/10) at full speed together need 105 requests a second and a burst of 210.
    assert stage_throttle(built()) == (105, 210)


def test_the_default_stage_throttle_stays_within_the_account_limits() -> None:
    many = {f"c{n}": {"tier": "premium"} for n in range(150)}
    assert settings(consumers=many).stage_throttle() == ThrottleSettings(10_000, 5_000)


def test_a_configured_stage_throttle_is_used_as_it_is() -> None:
    run = build(settings(throttling={"rateLimit": 500, "burstLimit": 1000}))
    assert stage_throttle(run) == (500, 1000)


def test_a_tier_above_the_stage_throttle_is_refused_naming_both_settings() -> None:
    with pytest.raises(ValidationError) as raised:
        settings(throttling={"rateLimit": 50, "burstLimit": 100})
    message = str(raised.value)
    assert "tiers.premium.rateLimit: 100 is above throttling.rateLimit 50" in message
    assert "tiers.premium.burstLimit: 200 is above throttling.burstLimit 100" in message
    assert "tiers.free" not in message


def test_a_method_throttle_above_the_stage_throttle_is_refused() -> None:
    tiers = {"free": {"rateLimit": 5, "burstLimit": 10, "methodThrottles": {
        "/customizations/POST": {"rateLimit": 60, "burstLimit": 10}}}}
    with pytest.raises(ValidationError) as raised:
        settings(tiers=tiers, consumers={"trial": {"tier": "free"}},
                 throttling={"rateLimit": 50, "burstLimit": 100})
    assert ("tiers.free.methodThrottles./customizations/POST.rateLimit: 60 is above "
            "throttling.rateLimit 50") in str(raised.value)


def test_the_stage_throttles_all_methods_and_sits_behind_the_waf() -> None:
    run = built()
    assert stage_throttle(run) == (105, 210)
    acl = run.one("aws:wafv2/webAcl:WebAcl")
    association = run.one("aws:wafv2/webAclAssociation:WebAclAssociation").inputs
    assert association["webAclArn"] == acl.state["arn"]
    assert association["resourceArn"] == run.one("aws:apigateway/stage:Stage").state["arn"]
    rules = {rule["name"]: rule for rule in acl.inputs["rules"]}
    assert len(rules) == 4
    statements = json.dumps([rule["statement"] for rule in rules.values()])
    for part in ("sizeConstraintStatement", "sqliMatchStatement", "rateBasedStatement",
                 "AWSManagedRulesCommonRuleSet"):
        assert part in statements
    assert run.one("aws:cloudwatch/logGroup:LogGroup", "front-waf-logs").inputs[
        "namePrefix"].startswith("aws-waf-logs-")


def test_each_tier_is_a_usage_plan_with_its_numbers() -> None:
    run = built()
    plans = {p.name: p.inputs for p in run.of_type("aws:apigateway/usagePlan:UsagePlan")}
    free, premium = plans["front-plans-free"], plans["front-plans-premium"]
    assert free["throttleSettings"] == {"rateLimit": 5, "burstLimit": 10}
    assert free["quotaSettings"] == {"limit": 1000, "period": "DAY"}
    assert premium["throttleSettings"] == {"rateLimit": 100, "burstLimit": 200}
    assert premium["quotaSettings"] == {"limit": 1000000, "period": "MONTH"}
    stage = run.one("aws:apigateway/stage:Stage")
    assert premium["apiStages"] == [{
        "apiId": run.one("aws:apigateway/restApi:RestApi").id,
        "stage": stage.inputs["stageName"],
        "throttles": [{"path": "/customizations/POST", "rateLimit": 20, "burstLimit": 40}]}]


def test_keys_are_secrets_generated_or_from_config_and_exported_apart() -> None:
    run = built()
    keys = {k.name: k.inputs for k in run.of_type("aws:apigateway/apiKey:ApiKey")}
    partner, trial = keys["front-plans-partner-key"], keys["front-plans-trial-key"]
    assert isinstance(partner["value"], Secret)
    assert reveal(partner["value"]) == CONFIGURED_KEY
    assert "value" not in trial  # API Gateway generates it
    links = {link.name: link.inputs for link in
             run.of_type("aws:apigateway/usagePlanKey:UsagePlanKey")}
    plans = {p.name: p.id for p in run.of_type("aws:apigateway/usagePlan:UsagePlan")}
    assert links["front-plans-partner-plan-key"]["usagePlanId"] == plans["front-plans-premium"]
    assert links["front-plans-trial-plan-key"]["usagePlanId"] == plans["front-plans-free"]
    assert isinstance(run.outputs["secrets"], Secret)
    assert not isinstance(run.outputs["exports"], Secret)
    assert run.outputs["exports"]["invokeUrl"].endswith("/customizations")


def test_the_backend_may_only_read_and_write_its_table() -> None:
    run = built()
    table = run.one("aws:dynamodb/table:Table", "front-customizations-table").state["arn"]
    policy = json_input(run.one("aws:iam/rolePolicy:RolePolicy",
                                "front-customizations-policy"), "policy")
    assert policy["Statement"][1] == {"Effect": "Allow",
                                      "Action": ["dynamodb:GetItem", "dynamodb:PutItem"],
                                      "Resource": table}


def test_posts_are_idempotent_over_their_own_table() -> None:
    run = built()
    check_idempotency_store(run, "front", "customizations", PLACEHOLDER_KEY)
    # The customizations table itself keeps its settings, and the role only the three grants
    # (logs, the table, the idempotency table and its key).
    assert "ttl" not in run.one("aws:dynamodb/table:Table", "front-customizations-table").inputs
    assert len(statements(run.one("aws:iam/rolePolicy:RolePolicy",
                                  "front-customizations-policy"))) == 4
    assert run.outputs["exports"]["idempotencyTableName"] == run.one(
        "aws:dynamodb/table:Table", "front-idempotency-records-table").state["name"]
    shorter = build(settings(idempotencyExpirySeconds=3600))
    check_idempotency_store(shorter, "front", "customizations", PLACEHOLDER_KEY, expiry=3600)


def test_browsers_may_send_an_idempotency_key() -> None:
    [preflight] = [r.inputs for r in built().of_type(
        "aws:apigateway/integrationResponse:IntegrationResponse")
        if r.name.startswith("front-customizations")]
    allowed = preflight["responseParameters"][
        "method.response.header.Access-Control-Allow-Headers"]
    assert allowed == "'content-type,idempotency-key,x-api-key'"


@pytest.mark.parametrize(("overrides", "expected"), [
    ({"consumers": {"x": {"tier": "gold"}}}, "consumers.x.tier: 'gold' is not a tier"),
    ({"tiers": {}}, "tiers"),
    ({"tiers": {"free": {"rateLimit": 0, "burstLimit": 1}}}, "rateLimit"),
    ({"tiers": {"free": {"rateLimit": 1, "burstLimit": 1,
                         "methodThrottles": {"customizations": {"rateLimit": 1,
                                                                "burstLimit": 1}}}}},
     "methodThrottles"),
    ({"endpointType": "PRIVATE"}, "endpointType"),
    ({"waf": {"managedRuleGroups": ["SomeoneElsesRules"]}}, "managedRuleGroups"),
    ({"idempotencyExpirySeconds": 59}, "idempotencyExpirySeconds"),
    ({"idempotencyExpirySeconds": 8 * 86400}, "idempotencyExpirySeconds"),
])
def test_bad_settings_are_refused_with_the_setting_named(overrides: dict[str, Any],
                                                          expected: str) -> None:
    with pytest.raises(ValidationError) as raised:
        settings(**overrides)
    assert expected in str(raised.value)


def test_a_custom_domain_serves_the_api_and_closes_execute_api() -> None:
    certificate = "arn:aws:acm:eu-west-1:111111111111:certificate/0a1b"
    run = build(settings(domain={"name": "api.example.com", "certificateArn": certificate}))
    assert run.one("aws:apigateway/restApi:RestApi").inputs["disableExecuteApiEndpoint"] is True
    domain = run.one("aws:apigateway/domainName:DomainName").inputs
    assert (domain["domainName"], domain["regionalCertificateArn"]) == ("api.example.com",
                                                                        certificate)
    assert run.outputs["exports"]["invokeUrl"] == "https://api.example.com/customizations"
    assert run.outputs["exports"]["domainTarget"].endswith(".execute-api.eu-west-1.amazonaws.com")


def test_an_edge_api_takes_a_us_east_1_certificate_for_its_domain() -> None:
    certificate = "arn:aws:acm:us-east-1:111111111111:certificate/0a1b"
    run = build(settings(endpointType="EDGE",
                         domain={"name": "api.example.com", "certificateArn": certificate}))
    domain = run.one("aws:apigateway/domainName:DomainName").inputs
    assert domain["endpointConfiguration"] == {"types": "EDGE"}
    assert domain["certificateArn"] == certificate


def test_mutual_tls_on_the_domain_keeps_execute_api_closed(tmp_path: Path) -> None:
    ca, _ = ca_and_client()
    (tmp_path / "partners.pem").write_bytes(ca)
    certificate = "arn:aws:acm:eu-west-1:111111111111:certificate/0a1b"
    run = build(settings(domain={"name": "api.example.com", "certificateArn": certificate,
                                 "mutualTls": {"truststore": str(tmp_path / "partners.pem")}}))
    assert run.one("aws:apigateway/restApi:RestApi").inputs["disableExecuteApiEndpoint"] is True
    domain = run.one("aws:apigateway/domainName:DomainName").inputs
    assert domain["mutualTlsAuthentication"]["truststoreUri"].endswith("/partners.pem")
