"""HTTP API (API Gateway v2) building block: the API, its ``$default`` stage and Lambda routes.

``HttpApi`` creates the API with an optional least-privilege CORS configuration (``CorsArgs``,
from ``cors.py``, shared with the REST block), an optional JWT authorizer, a ``$default`` stage
that deploys every change automatically, and one Lambda proxy integration, route and invoke
permission per ``LambdaRoute``.

Default settings:

| Setting                    | Default                                                          |
|----------------------------|------------------------------------------------------------------|
| CORS                       | none (no cross-origin browser calls); when given, explicit       |
|                            | ``https://`` origins, named methods and headers. ``*`` needs     |
|                            | ``allow_any_origin=True``, and never goes with credentials       |
| Route authorization        | JWT whenever the API has a JWT authorizer; ``NONE`` only when a  |
|                            | route asks for it, with a warning; a route with neither fails    |
| JWT identity source        | ``$request.header.Authorization``                                |
| Lambda permission          | ``apigateway.amazonaws.com``, scoped to the route's own method   |
|                            | and path; parameters as ``*`` (``.../*/GET/items/*``)            |
| Access logs                | JSON, to the block's own log group, stage retention              |
| Default route throttling   | burst 100, rate 50 requests per second                           |
| Detailed metrics           | on                                                               |
| Integration payload format | ``2.0``                                                          |
| Custom domain              | none; ``domain`` maps one to ``$default`` with TLS 1.2 and turns |
|                            | the ``execute-api`` endpoint off (``domain.py``)                 |

The throttling default is deliberately low: every API in an account and region shares one
account-level quota, so one noisy API must not starve the others. Raise it per API once load
tests say so. HTTP APIs have no X-Ray tracing and no execution logs; the access log carries the
integration and authorizer errors instead.

Routes are best passed in ``HttpApiArgs.routes``, so that the component is complete when it is
constructed. ``add_lambda_route`` adds one later; the route is still a child of the component,
it is just not among the component's registered outputs.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

import pulumi
import pulumi_aws as aws
from pulumi_aws.apigatewayv2 import (
    ApiCorsConfigurationArgsDict,
    AuthorizerJwtConfigurationArgsDict,
    StageAccessLogSettingsArgsDict,
    StageDefaultRouteSettingsArgsDict,
)

from components.config import Defaults
from components.foundation.cors import (
    HEADER_NAME,
    HTTP_METHODS,
    HTTPS_ORIGIN,
    MAX_CORS_AGE,
    CorsArgs,
    cors_problems,
)
from components.foundation.domain import (
    ApiDomain,
    DomainTarget,
    Truststore,
    domain_exports,
    domain_problems,
    truststore,
)
from components.foundation.logs import access_log_format, log_group
from components.foundation.validation import InvalidArgs, require_valid, warn_override

# CorsArgs and its rules live in cors.py, shared with the REST block; they stay importable here.
__all__ = [
    "HEADER_NAME", "HTTPS_ORIGIN", "HTTP_METHODS", "MAX_CORS_AGE", "CorsArgs", "HttpApi",
    "HttpApiArgs", "HttpRoute", "JwtAuthorizerArgs", "LambdaRoute", "RouteAuthorization",
    "route_slug",
]

ROUTE_METHODS = (*HTTP_METHODS, "ANY")
DEFAULT_ROUTE = "$default"
_SEGMENT = r"(?:[A-Za-z0-9._~-]+|\{[A-Za-z0-9_]+\})"
_GREEDY = r"\{[A-Za-z0-9_]+\+\}"
ROUTE_KEY = re.compile(
    rf"^({'|'.join(ROUTE_METHODS)}) (/|(?:/{_SEGMENT})*/(?:{_SEGMENT}|{_GREEDY}))$")
PATH_PARAMETER = re.compile(r"\{[^/{}]+\}")
IDENTITY_SOURCE = re.compile(r"^\$request\.(?:header|querystring)\.[A-Za-z0-9_-]+$")

# The common access log fields, plus the route, the caller's subject and integration errors.
ACCESS_LOG_FORMAT = access_log_format(
    subject="$context.authorizer.claims.sub",
    routeKey="$context.routeKey",
    path="$context.path",
    integrationError="$context.integrationErrorMessage",
)


class RouteAuthorization(StrEnum):
    """How a route checks its callers: a JWT, SigV4-signed IAM credentials, or not at all."""

    JWT = "JWT"
    AWS_IAM = "AWS_IAM"
    NONE = "NONE"


@dataclass(frozen=True)
class JwtAuthorizerArgs:
    """A JWT authorizer: tokens must come from ``issuer`` and name one of ``audience``."""

    issuer: pulumi.Input[str]
    audience: Sequence[pulumi.Input[str]]
    identity_source: str = "$request.header.Authorization"


@dataclass(frozen=True)
class LambdaRoute:
    """A route served by a Lambda function through a proxy integration.

    ``authorization`` defaults to ``JWT`` when the API has a JWT authorizer; a route on an API
    without one must say ``AWS_IAM`` (callers sign with SigV4 and need ``execute-api:Invoke``)
    or ``NONE`` explicitly. ``scopes`` are OAuth scopes the token must carry.
    """

    route_key: str
    function_name: pulumi.Input[str]
    function_invoke_arn: pulumi.Input[str]
    authorization: RouteAuthorization | None = None
    scopes: Sequence[str] = ()


@dataclass(frozen=True)
class HttpApiArgs:
    """Settings of an HTTP API and its ``$default`` stage."""

    description: str | None = None
    cors: CorsArgs | None = None
    jwt: JwtAuthorizerArgs | None = None
    routes: Sequence[LambdaRoute] = ()
    throttling_burst_limit: int = 100
    throttling_rate_limit: float = 50
    disable_execute_api_endpoint: bool = False
    log_kms_key_arn: pulumi.Input[str] | None = None
    domain: ApiDomain | None = None


@dataclass(frozen=True)
class HttpRoute:
    """The resources behind one Lambda route."""

    integration: aws.apigatewayv2.Integration
    route: aws.apigatewayv2.Route
    permission: aws.lambda_.Permission


def route_slug(route_key: str) -> str:
    """A stable, readable name part for a route key: ``GET /items/{id}`` -> ``get-items-id``."""
    return re.sub(r"[^a-z0-9]+", "-", route_key.lower()).strip("-")


def _jwt_problems(jwt: JwtAuthorizerArgs) -> list[str]:
    problems = []
    if isinstance(jwt.issuer, str) and not jwt.issuer.startswith("https://"):
        problems.append(f"jwt.issuer: {jwt.issuer!r} must be an https:// URL")
    if not jwt.audience:
        problems.append("jwt.audience: name at least one audience (the app client id)")
    if not IDENTITY_SOURCE.match(jwt.identity_source):
        problems.append(f"jwt.identity_source: {jwt.identity_source!r} must be "
                        "$request.header.<name> or $request.querystring.<name>")
    return problems


def _route_problems(route: LambdaRoute, where: str, has_jwt: bool) -> list[str]:
    problems = []
    if route.route_key != DEFAULT_ROUTE and not ROUTE_KEY.match(route.route_key):
        problems.append(f"{where}.route_key: {route.route_key!r} must be $default or "
                        f"'<METHOD> /path' with METHOD one of {', '.join(ROUTE_METHODS)} and "
                        "{param} or a final {param+} as path parameters")
    if route.authorization is None:
        if not has_jwt:
            problems.append(f"{where}.authorization: the API has no JWT authorizer; configure "
                            "jwt, set AWS_IAM, or set NONE to make the route public")
    elif route.authorization not in list(RouteAuthorization):
        problems.append(f"{where}.authorization: {route.authorization!r} is not allowed; use "
                        f"{', '.join(RouteAuthorization)}")
    elif route.authorization == RouteAuthorization.JWT and not has_jwt:
        problems.append(f"{where}.authorization: JWT needs the API's jwt authorizer; configure "
                        "jwt")
    if route.scopes and route.authorization in (RouteAuthorization.NONE,
                                                RouteAuthorization.AWS_IAM):
        problems.append(f"{where}.scopes: only JWT routes check OAuth scopes, not "
                        f"{route.authorization}")
    return problems


def _duplicate_problems(route_keys: Sequence[str], where: str) -> list[str]:
    problems = []
    seen: dict[str, str] = {}
    for key in route_keys:
        slug = route_slug(key)
        if slug not in seen:
            seen[slug] = key
        elif seen[slug] == key:
            problems.append(f"{where}: route {key!r} is given twice")
        else:
            problems.append(f"{where}: route {key!r} and {seen[slug]!r} share the resource "
                            f"name part {slug!r}")
    return problems


def _source_arn(execution_arn: pulumi.Input[str], route_key: str) -> pulumi.Output[str]:
    if route_key == DEFAULT_ROUTE:
        return pulumi.Output.concat(execution_arn, "/*/", DEFAULT_ROUTE)
    method, path = route_key.split(" ", 1)
    # A path parameter becomes *: it matches the route's template ({id}, {proxy+}) as well as
    # any request path, so the grant holds whichever of the two the invocation names.
    path = PATH_PARAMETER.sub("*", path)
    return pulumi.Output.concat(execution_arn, "/*/", "*" if method == "ANY" else method, path)


class HttpApi(pulumi.ComponentResource):
    """An HTTP API with a logged, throttled ``$default`` stage, CORS, JWT auth and Lambda routes."""

    api: aws.apigatewayv2.Api
    api_id: pulumi.Output[str]
    api_endpoint: pulumi.Output[str]
    execution_arn: pulumi.Output[str]
    stage: aws.apigatewayv2.Stage
    access_log_group: aws.cloudwatch.LogGroup
    authorizer: aws.apigatewayv2.Authorizer | None
    authorizer_id: pulumi.Output[str] | None
    routes: dict[str, HttpRoute]
    domain_target: DomainTarget | None

    def __init__(self, name: str, args: HttpApiArgs, defaults: Defaults,
                 opts: pulumi.ResourceOptions | None = None) -> None:
        problems = [
            *(cors_problems(args.cors) if args.cors else []),
            *(_jwt_problems(args.jwt) if args.jwt else []),
            *[problem for i, route in enumerate(args.routes)
              for problem in _route_problems(route, f"routes[{i}]", args.jwt is not None)],
            *_duplicate_problems([route.route_key for route in args.routes], "routes"),
            *domain_problems(args.domain, defaults.region),
            None if args.domain is None or not args.domain.edge else
            "domain.edge: HTTP APIs have regional custom domains only",
        ]
        if isinstance(args.throttling_burst_limit, bool) or args.throttling_burst_limit < 1:
            problems.append(f"throttling_burst_limit: {args.throttling_burst_limit} must be a "
                            "whole number of requests, at least 1")
        if args.throttling_rate_limit <= 0:
            problems.append(f"throttling_rate_limit: {args.throttling_rate_limit} must be a "
                            "positive number of requests per second")
        require_valid(f"HttpApi {name}", problems)
        super().__init__("blueprints:foundation:HttpApi", name, None, opts)
        self._name = name
        child = pulumi.ResourceOptions(parent=self)

        cors: ApiCorsConfigurationArgsDict | None = None
        if args.cors is not None:
            if args.cors.any_origin:
                warn_override(self, "cors.allow_any_origin",
                              "Any web site can call this API from a visitor's browser.")
            cors = {
                "allow_origins": list(args.cors.allow_origins),
                "allow_methods": list(args.cors.allow_methods),
                "allow_headers": list(args.cors.allow_headers),
                "max_age": args.cors.max_age,
                "allow_credentials": args.cors.allow_credentials,
            }
            if args.cors.expose_headers:
                cors["expose_headers"] = list(args.cors.expose_headers)
        self.api = aws.apigatewayv2.Api(
            f"{name}-api",
            protocol_type="HTTP",
            description=args.description,
            cors_configuration=cors,
            disable_execute_api_endpoint=args.disable_execute_api_endpoint or bool(args.domain),
            opts=child,
        )
        self.api_id = self.api.id
        self.api_endpoint = self.api.api_endpoint
        self.execution_arn = self.api.execution_arn

        self.authorizer = None
        self.authorizer_id = None
        if args.jwt is not None:
            jwt_configuration: AuthorizerJwtConfigurationArgsDict = {
                "issuer": args.jwt.issuer,
                "audiences": list(args.jwt.audience),
            }
            self.authorizer = aws.apigatewayv2.Authorizer(
                f"{name}-jwt",
                api_id=self.api.id,
                authorizer_type="JWT",
                identity_sources=[args.jwt.identity_source],
                jwt_configuration=jwt_configuration,
                opts=child,
            )
            self.authorizer_id = self.authorizer.id

        self.access_log_group = log_group(f"{name}-access-logs", defaults,
                                          kms_key_arn=args.log_kms_key_arn, opts=child)
        access_logs: StageAccessLogSettingsArgsDict = {
            "destination_arn": self.access_log_group.arn,
            "format": ACCESS_LOG_FORMAT,
        }
        route_settings: StageDefaultRouteSettingsArgsDict = {
            "throttling_burst_limit": args.throttling_burst_limit,
            "throttling_rate_limit": args.throttling_rate_limit,
            "detailed_metrics_enabled": True,
        }
        self.stage = aws.apigatewayv2.Stage(
            f"{name}-stage",
            api_id=self.api.id,
            name=DEFAULT_ROUTE,
            auto_deploy=True,
            access_log_settings=access_logs,
            default_route_settings=route_settings,
            opts=child,
        )

        self.routes = {}
        for route in args.routes:
            self._create_route(route)

        self.domain_target = None
        if args.domain is not None:
            self.domain_target = self._domain(name, args.domain, defaults)
            self.api_endpoint = pulumi.Output.from_input(f"https://{args.domain.name}")

        self.register_outputs({
            "apiId": self.api_id,
            "apiEndpoint": self.api_endpoint,
            "executionArn": self.execution_arn,
            "stageName": self.stage.name,
            "authorizerId": self.authorizer_id,
            "accessLogGroupName": self.access_log_group.name,
            "routes": {key: route.route.id for key, route in self.routes.items()},
            **domain_exports(self.domain_target),
        })

    def _domain(self, name: str, domain: ApiDomain, defaults: Defaults) -> DomainTarget:
        """The custom domain, serving the ``$default`` stage at its root."""
        child = pulumi.ResourceOptions(parent=self)
        mutual_tls = domain.mutual_tls
        custom = aws.apigatewayv2.DomainName(
            f"{name}-domain",
            domain_name=domain.name,
            domain_name_configuration={
                "certificate_arn": domain.certificate_arn, "endpoint_type": "REGIONAL",
                "security_policy": "TLS_1_2",
                "ownership_verification_certificate_arn": None if mutual_tls is None else
                mutual_tls.ownership_verification_certificate_arn},
            mutual_tls_authentication=None if mutual_tls is None else
            _mutual_tls(truststore(name, mutual_tls, defaults, self)),
            opts=child)
        aws.apigatewayv2.ApiMapping(f"{name}-domain-mapping", api_id=self.api.id,
                                    domain_name=custom.domain_name, stage=self.stage.id,
                                    opts=child)
        configuration = custom.domain_name_configuration
        return DomainTarget(configuration.apply(lambda c: c.target_domain_name or ""),
                            configuration.apply(lambda c: c.hosted_zone_id or ""))

    def add_lambda_route(self, route_key: str, function_name: pulumi.Input[str],
                         function_invoke_arn: pulumi.Input[str], *,
                         authorization: RouteAuthorization | None = None,
                         scopes: Sequence[str] = ()) -> HttpRoute:
        """Adds a Lambda route after construction; prefer ``HttpApiArgs.routes``."""
        route = LambdaRoute(route_key, function_name, function_invoke_arn, authorization,
                            tuple(scopes))
        problems = [
            *_route_problems(route, "add_lambda_route", self.authorizer is not None),
            *_duplicate_problems([*self.routes, route_key], "add_lambda_route"),
        ]
        if problems:
            raise InvalidArgs(f"HttpApi {self._name}", problems)
        return self._create_route(route)

    def _create_route(self, route: LambdaRoute) -> HttpRoute:
        name = f"{self._name}-{route_slug(route.route_key)}"
        child = pulumi.ResourceOptions(parent=self)
        authorization = route.authorization or RouteAuthorization.JWT
        if authorization == RouteAuthorization.NONE:
            warn_override(self, f"route {route.route_key!r} authorization NONE",
                          "Anyone who can reach the API can call this route without a token.")
        integration = aws.apigatewayv2.Integration(
            f"{name}-integration",
            api_id=self.api.id,
            integration_type="AWS_PROXY",
            integration_method="POST",
            integration_uri=route.function_invoke_arn,
            payload_format_version="2.0",
            opts=child,
        )
        jwt = authorization == RouteAuthorization.JWT
        resources = HttpRoute(
            integration=integration,
            route=aws.apigatewayv2.Route(
                f"{name}-route",
                api_id=self.api.id,
                route_key=route.route_key,
                target=pulumi.Output.concat("integrations/", integration.id),
                authorization_type=str(authorization),
                authorizer_id=self.authorizer_id if jwt else None,
                authorization_scopes=list(route.scopes) if jwt and route.scopes else None,
                opts=child,
            ),
            permission=aws.lambda_.Permission(
                f"{name}-permission",
                action="lambda:InvokeFunction",
                function=route.function_name,
                principal="apigateway.amazonaws.com",
                source_arn=_source_arn(self.execution_arn, route.route_key),
                opts=child,
            ),
        )
        self.routes[route.route_key] = resources
        return resources


def _mutual_tls(store: Truststore) -> aws.apigatewayv2.DomainNameMutualTlsAuthenticationArgsDict:
    return {"truststore_uri": store.uri, "truststore_version": store.version}
