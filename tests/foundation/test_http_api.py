"""The HTTP API block: logged and throttled stage, least-privilege CORS, JWT routes to Lambda."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pulumi
import pytest

from components.foundation.domain import ApiDomain
from components.foundation.http_api import (
    CorsArgs,
    HttpApi,
    HttpApiArgs,
    JwtAuthorizerArgs,
    LambdaRoute,
    RouteAuthorization,
    route_slug,
)
from components.foundation.validation import InvalidArgs
from tests.support import DEV, PROD
from tools.mock_runtime import StackRun

API = "aws:apigatewayv2/api:Api"
STAGE = "aws:apigatewayv2/stage:Stage"
AUTHORIZER = "aws:apigatewayv2/authorizer:Authorizer"
INTEGRATION = "aws:apigatewayv2/integration:Integration"
ROUTE = "aws:apigatewayv2/route:Route"
PERMISSION = "aws:lambda/permission:Permission"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"

FUNCTION_ARN = "arn:aws:lambda:eu-west-1:111111111111:function:orders-get"
INVOKE_ARN = ("arn:aws:apigateway:eu-west-1:lambda:path/2015-03-31/functions/"
              f"{FUNCTION_ARN}/invocations")
ISSUER = "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_Abc123"
JWT = JwtAuthorizerArgs(issuer=ISSUER, audience=("app-client-id",))
CORS = CorsArgs(allow_origins=("https://app.example.com", "https://admin.example.com"),
                allow_methods=("GET", "POST"))

Build = Callable[..., StackRun]


def route(route_key: str = "GET /items/{id}", **overrides: Any) -> LambdaRoute:
    return replace(LambdaRoute(route_key, "orders-get", INVOKE_ARN), **overrides)


def http_api(build: Build, args: HttpApiArgs | None = None, defaults: Any = DEV) -> StackRun:
    def program(opts: pulumi.ResourceOptions) -> None:
        api = HttpApi("orders", args or HttpApiArgs(jwt=JWT, routes=(route(),)), defaults, opts)
        pulumi.export("apiEndpoint", api.api_endpoint)
        pulumi.export("executionArn", api.execution_arn)
        pulumi.export("authorizerId", api.authorizer_id)

    return build(program)


def problems_of(build: Build, args: HttpApiArgs) -> list[str]:
    with pytest.raises(InvalidArgs) as raised:
        build(lambda opts: HttpApi("orders", args, DEV, opts))
    return raised.value.problems


# --- API and stage ---------------------------------------------------------------------------

def test_api_is_http_with_no_cors_by_default(build: Build) -> None:
    run = http_api(build)

    api = run.one(API, "orders-api")
    assert api.inputs["protocolType"] == "HTTP"
    assert "corsConfiguration" not in api.inputs
    assert api.inputs["disableExecuteApiEndpoint"] is False
    assert run.warnings == []


def test_execute_api_endpoint_can_be_turned_off(build: Build) -> None:
    run = http_api(build, HttpApiArgs(jwt=JWT, disable_execute_api_endpoint=True))

    assert run.one(API, "orders-api").inputs["disableExecuteApiEndpoint"] is True


def test_default_stage_deploys_automatically_with_json_access_logs(build: Build) -> None:
    run = http_api(build)

    stage = run.one(STAGE, "orders-stage")
    group = run.one(LOG_GROUP, "orders-access-logs")
    assert stage.inputs["name"] == "$default"
    assert stage.inputs["autoDeploy"] is True
    assert stage.inputs["apiId"] == run.one(API, "orders-api").id
    assert stage.inputs["accessLogSettings"]["destinationArn"] == group.state["arn"]
    line = json.loads(stage.inputs["accessLogSettings"]["format"])
    assert line["requestId"] == "$context.requestId"
    for field in ("ip", "requestTime", "httpMethod", "routeKey", "status", "protocol",
                  "responseLength", "integrationError", "integrationLatency", "authorizerError"):
        assert line[field].startswith("$context."), field
    assert group.inputs["retentionInDays"] == DEV.log_retention_days


def test_log_retention_follows_the_stage(build: Build) -> None:
    run = http_api(build, defaults=PROD)

    assert run.one(LOG_GROUP, "orders-access-logs").inputs["retentionInDays"] == 365


def test_default_route_settings_throttle_and_measure(build: Build) -> None:
    run = http_api(build)

    settings = run.one(STAGE, "orders-stage").inputs["defaultRouteSettings"]
    assert settings == {"throttlingBurstLimit": 100.0, "throttlingRateLimit": 50.0,
                        "detailedMetricsEnabled": True}


def test_throttling_is_an_argument(build: Build) -> None:
    run = http_api(build, HttpApiArgs(jwt=JWT, throttling_burst_limit=500,
                                      throttling_rate_limit=250))

    settings = run.one(STAGE, "orders-stage").inputs["defaultRouteSettings"]
    assert settings["throttlingBurstLimit"] == 500
    assert settings["throttlingRateLimit"] == 250


def test_api_exposes_endpoint_and_execution_arn(build: Build) -> None:
    run = http_api(build)

    api = run.one(API, "orders-api")
    assert run.outputs["apiEndpoint"] == f"https://{api.id}.execute-api.eu-west-1.amazonaws.com"
    assert run.outputs["executionArn"] == f"arn:aws:execute-api:eu-west-1:111111111111:{api.id}"
    assert run.outputs["authorizerId"] == run.one(AUTHORIZER, "orders-jwt").id


# --- CORS --------------------------------------------------------------------------------------

def test_cors_names_its_origins_methods_and_headers(build: Build) -> None:
    run = http_api(build, HttpApiArgs(jwt=JWT, cors=CORS))

    assert run.one(API, "orders-api").inputs["corsConfiguration"] == {
        "allowOrigins": ["https://app.example.com", "https://admin.example.com"],
        "allowMethods": ["GET", "POST"],
        "allowHeaders": ["authorization", "content-type"],
        "maxAge": 300.0,
        "allowCredentials": False,
    }
    assert run.warnings == []


def test_any_origin_needs_an_explicit_opt_in(build: Build) -> None:
    problems = problems_of(build, HttpApiArgs(jwt=JWT, cors=replace(CORS, allow_origins=("*",))))

    assert len(problems) == 1
    assert problems[0].startswith("cors.allow_origins:")
    assert "allow_any_origin" in problems[0]


def test_any_origin_with_opt_in_is_built_and_warned_about(build: Build) -> None:
    cors = replace(CORS, allow_origins=("*",), allow_any_origin=True)
    run = http_api(build, HttpApiArgs(jwt=JWT, cors=cors))

    assert run.one(API, "orders-api").inputs["corsConfiguration"]["allowOrigins"] == ["*"]
    assert any("cors.allow_any_origin" in w for w in run.warnings)


def test_any_origin_with_credentials_is_always_rejected(build: Build) -> None:
    cors = replace(CORS, allow_origins=("*",), allow_any_origin=True, allow_credentials=True)
    problems = problems_of(build, HttpApiArgs(jwt=JWT, cors=cors))

    assert len(problems) == 1
    assert problems[0].startswith("cors.allow_origins:")
    assert "allow_credentials" in problems[0]


def test_credentials_with_named_origins_are_allowed(build: Build) -> None:
    run = http_api(build, HttpApiArgs(jwt=JWT, cors=replace(CORS, allow_credentials=True)))

    assert run.one(API, "orders-api").inputs["corsConfiguration"]["allowCredentials"] is True


@pytest.mark.parametrize("origin", ["http://app.example.com", "https://app.example.com/",
                                    "https://app.example.com/path", "app.example.com",
                                    "https://App.Example.com", "https://*.example.com"])
def test_origins_must_be_plain_https_origins(build: Build, origin: str) -> None:
    problems = problems_of(build, HttpApiArgs(jwt=JWT, cors=replace(CORS, allow_origins=(origin,))))

    assert problems == [f"cors.allow_origins: {origin!r} is not an https origin in lower case "
                        "with no path (https://app.example.com)"]


def test_bad_cors_settings_are_all_reported(build: Build) -> None:
    cors = CorsArgs(allow_origins=(), allow_methods=("*", "FETCH"), allow_headers=("*",),
                    expose_headers=("bad header",), max_age=100000)
    problems = problems_of(build, HttpApiArgs(jwt=JWT, cors=cors))

    assert problems == [
        "cors.allow_origins: name at least one origin",
        "cors.allow_methods: '*' is not allowed; use GET, POST, PUT, PATCH, DELETE, HEAD, OPTIONS",
        "cors.allow_methods: 'FETCH' is not allowed; use GET, POST, PUT, PATCH, DELETE, HEAD, "
        "OPTIONS",
        "cors.allow_headers: '*' is not allowed; name each header",
        "cors.expose_headers: 'bad header' is not a header name",
        "cors.max_age: 100000 is outside 0..86400 seconds",
    ]


# --- JWT and routes ----------------------------------------------------------------------------

def test_jwt_authorizer_checks_issuer_and_audience(build: Build) -> None:
    run = http_api(build)

    authorizer = run.one(AUTHORIZER, "orders-jwt")
    assert authorizer.inputs["authorizerType"] == "JWT"
    assert authorizer.inputs["apiId"] == run.one(API, "orders-api").id
    assert authorizer.inputs["identitySources"] == ["$request.header.Authorization"]
    assert authorizer.inputs["jwtConfiguration"] == {"issuer": ISSUER,
                                                     "audiences": ["app-client-id"]}


def test_bad_jwt_settings_are_rejected(build: Build) -> None:
    jwt = JwtAuthorizerArgs(issuer="http://issuer.example.com", audience=(),
                            identity_source="Authorization")
    problems = problems_of(build, HttpApiArgs(jwt=jwt))

    assert [p.split(":")[0] for p in problems] == ["jwt.issuer", "jwt.audience",
                                                   "jwt.identity_source"]


def test_route_is_jwt_authorized_and_proxies_to_lambda(build: Build) -> None:
    run = http_api(build)

    integration = run.one(INTEGRATION, "orders-get-items-id-integration")
    assert integration.inputs["integrationType"] == "AWS_PROXY"
    assert integration.inputs["integrationMethod"] == "POST"
    assert integration.inputs["integrationUri"] == INVOKE_ARN
    assert integration.inputs["payloadFormatVersion"] == "2.0"
    route_ = run.one(ROUTE, "orders-get-items-id-route")
    assert route_.inputs["routeKey"] == "GET /items/{id}"
    assert route_.inputs["authorizationType"] == "JWT"
    assert route_.inputs["authorizerId"] == run.one(AUTHORIZER, "orders-jwt").id
    assert route_.inputs["target"] == f"integrations/{integration.id}"
    assert "authorizationScopes" not in route_.inputs


def test_route_scopes_are_required_of_the_token(build: Build) -> None:
    run = http_api(build, HttpApiArgs(jwt=JWT, routes=(route(scopes=("orders/read",)),)))

    assert run.one(ROUTE, "orders-get-items-id-route").inputs["authorizationScopes"] == [
        "orders/read"]


def test_permission_is_scoped_to_the_route_method_and_path(build: Build) -> None:
    run = http_api(build)

    permission = run.one(PERMISSION, "orders-get-items-id-permission")
    api = run.one(API, "orders-api")
    assert permission.inputs["action"] == "lambda:InvokeFunction"
    assert permission.inputs["principal"] == "apigateway.amazonaws.com"
    assert permission.inputs["function"] == "orders-get"
    assert permission.inputs["sourceArn"] == f"{api.state['executionArn']}/*/GET/items/*"


@pytest.mark.parametrize(("route_key", "name", "suffix"), [
    ("ANY /orders/{proxy+}", "any-orders-proxy", "/*/*/orders/*"),
    ("POST /", "post", "/*/POST/"),
    ("$default", "default", "/*/$default"),
])
def test_other_route_keys_get_names_and_scoped_permissions(build: Build, route_key: str,
                                                           name: str, suffix: str) -> None:
    run = http_api(build, HttpApiArgs(jwt=JWT, routes=(route(route_key),)))

    assert run.one(ROUTE, f"orders-{name}-route").inputs["routeKey"] == route_key
    source_arn = run.one(PERMISSION, f"orders-{name}-permission").inputs["sourceArn"]
    assert source_arn == run.one(API, "orders-api").state["executionArn"] + suffix


def test_route_slug_is_readable_and_stable() -> None:
    assert route_slug("GET /items/{id}") == "get-items-id"
    assert route_slug("DELETE /orders/{orderId}/lines/{line}") == "delete-orders-orderid-lines-line"


def test_public_route_must_be_asked_for_and_warns(build: Build) -> None:
    args = HttpApiArgs(routes=(route("GET /health", authorization=RouteAuthorization.NONE),))
    run = http_api(build, args)

    health = run.one(ROUTE, "orders-get-health-route")
    assert health.inputs["authorizationType"] == "NONE"
    assert "authorizerId" not in health.inputs
    assert run.of_type(AUTHORIZER) == []
    assert any("'GET /health' authorization NONE" in w for w in run.warnings)


def test_route_without_any_authorizer_is_rejected(build: Build) -> None:
    problems = problems_of(build, HttpApiArgs(routes=(route(),)))

    assert len(problems) == 1
    assert problems[0].startswith("routes[0].authorization:")


def test_bad_routes_are_all_reported(build: Build) -> None:
    routes = (
        route("GET items"),
        route("FETCH /items"),
        route("GET /items/{proxy+}/more"),
        route("GET /orders", authorization=RouteAuthorization.JWT),
        route("GET /public", authorization=RouteAuthorization.NONE, scopes=("orders/read",)),
        route("GET /x", authorization="IAM"),
        route("GET /dup"), route("GET /dup"),
        route("GET /a/{b}"), route("GET /a/b"),
    )
    problems = problems_of(build, HttpApiArgs(routes=routes, throttling_burst_limit=0,
                                              throttling_rate_limit=-5))

    prefixes = [p.split(": ")[0] for p in problems]
    assert prefixes == [
        "routes[0].route_key", "routes[0].authorization",
        "routes[1].route_key", "routes[1].authorization",
        "routes[2].route_key", "routes[2].authorization",
        "routes[3].authorization",
        "routes[4].scopes",
        "routes[5].authorization",
        "routes[6].authorization", "routes[7].authorization",
        "routes[8].authorization", "routes[9].authorization",
        "routes", "routes",
        "throttling_burst_limit", "throttling_rate_limit",
    ]
    assert "'GET /dup' is given twice" in problems[-4]
    assert "'GET /a/b' and 'GET /a/{b}' share the resource name part 'get-a-b'" in problems[-3]


def test_routes_can_be_added_after_construction(build: Build) -> None:
    def program(opts: pulumi.ResourceOptions) -> None:
        api = HttpApi("orders", HttpApiArgs(jwt=JWT), DEV, opts)
        api.add_lambda_route("DELETE /items/{id}", "orders-delete", INVOKE_ARN,
                             scopes=("orders/write",))

    run = build(program)

    component = run.one("blueprints:foundation:HttpApi", "orders")
    deleted = run.one(ROUTE, "orders-delete-items-id-route")
    assert deleted.parent == component.urn
    assert deleted.inputs["authorizationType"] == "JWT"
    assert deleted.inputs["authorizationScopes"] == ["orders/write"]
    permission = run.one(PERMISSION, "orders-delete-items-id-permission")
    assert permission.inputs["sourceArn"].endswith("/*/DELETE/items/*")


def test_adding_a_route_twice_is_rejected(build: Build) -> None:
    def program(opts: pulumi.ResourceOptions) -> None:
        api = HttpApi("orders", HttpApiArgs(jwt=JWT, routes=(route(),)), DEV, opts)
        api.add_lambda_route("GET /items/{id}", "orders-get", INVOKE_ARN)

    with pytest.raises(InvalidArgs) as raised:
        build(program)
    assert raised.value.problems == ["add_lambda_route: route 'GET /items/{id}' is given twice"]


def test_every_child_is_parented_and_named_after_the_component(build: Build) -> None:
    run = http_api(build, HttpApiArgs(jwt=JWT, cors=CORS,
                                      routes=(route(), route("POST /items"))))

    component = run.one("blueprints:foundation:HttpApi", "orders")
    children = list(run.managed())
    assert len(children) == 10
    for resource in children:
        assert resource.parent == component.urn, resource.name
        assert resource.name.startswith("orders-"), resource.name


def test_iam_routes_need_signed_callers_and_no_authorizer(build: Build) -> None:
    run = http_api(build, HttpApiArgs(routes=(
        route(authorization=RouteAuthorization.AWS_IAM),)))
    api_route = run.one("aws:apigatewayv2/route:Route").inputs
    assert api_route["authorizationType"] == "AWS_IAM"
    assert "authorizerId" not in api_route
    assert not run.of_type("aws:apigatewayv2/authorizer:Authorizer")
    assert not any("authorization NONE" in warning for warning in run.warnings)


def test_iam_routes_take_no_scopes(build: Build) -> None:
    with pytest.raises(InvalidArgs) as raised:
        http_api(build, HttpApiArgs(routes=(
            route(authorization=RouteAuthorization.AWS_IAM, scopes=("orders/read",)),)))
    assert raised.value.problems == [
        "routes[0].scopes: only JWT routes check OAuth scopes, not AWS_IAM"]


# --- custom domain ---------------------------------------------------------------------------

CERTIFICATE = "arn:aws:acm:eu-west-1:111111111111:certificate/0a1b2c3d"


def test_a_custom_domain_maps_the_default_stage_and_closes_execute_api(build: Build) -> None:
    run = http_api(build, HttpApiArgs(jwt=JWT, routes=(route(),),
                                      domain=ApiDomain("docs.example.com", CERTIFICATE)))
    custom = run.one("aws:apigatewayv2/domainName:DomainName").inputs
    assert custom == {"domainName": "docs.example.com", "domainNameConfiguration": {
        "certificateArn": CERTIFICATE, "endpointType": "REGIONAL", "securityPolicy": "TLS_1_2"}}
    mapping = run.one("aws:apigatewayv2/apiMapping:ApiMapping").inputs
    assert mapping["apiId"] == run.one(API).id
    assert mapping["stage"] == run.one(STAGE).id
    assert run.one(API).inputs["disableExecuteApiEndpoint"] is True
    assert run.outputs["apiEndpoint"] == "https://docs.example.com"


def test_an_http_api_domain_is_regional_with_a_certificate_in_its_region(build: Build) -> None:
    edge = ApiDomain("docs.example.com", CERTIFICATE.replace("eu-west-1", "us-east-1"),
                     edge=True)
    assert problems_of(build, HttpApiArgs(jwt=JWT, domain=edge)) == [
        "domain.edge: HTTP APIs have regional custom domains only"]
    elsewhere = ApiDomain("docs.example.com", CERTIFICATE.replace("eu-west-1", "us-east-1"))
    assert problems_of(build, HttpApiArgs(jwt=JWT, domain=elsewhere)) == [
        "domain.certificate_arn: the certificate is in us-east-1, but a regional domain needs "
        "one in eu-west-1"]
