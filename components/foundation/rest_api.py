"""REST API (API Gateway v1) building blocks: the API itself, and a deployed stage.

``RestApi`` creates the API, a request validator that checks bodies and parameters, the
JSON-schema models that methods validate against, the ``BAD_REQUEST_BODY`` gateway response and,
with ``cors``, CORS headers on API Gateway's error responses and ``add_preflight`` for OPTIONS
preflights. ``RestStage`` deploys it: a deployment that is redeployed whenever one of its
triggers changes, and a stage with access logs, X-Ray, default throttling and execution logging,
an optional encrypted cache and an optional WAF web ACL (``waf.WebAcl``). Methods and
integrations belong to the architecture that uses the API; they reference
``RestApi.api_id``, ``root_resource_id``, ``request_validator_id`` and ``models``. Per-client
limits are ``usage_plans.UsagePlans``.

Default settings:

| Setting                         | Default                                                       |
|---------------------------------|---------------------------------------------------------------|
| Endpoint type                   | ``REGIONAL``; ``PRIVATE`` needs VPC endpoint ids and a        |
|                                 | resource policy that checks ``aws:SourceVpce``                |
| TLS on the execute-api endpoint | ``TLS_1_2`` at least; ``TLS_1_0`` is rejected                 |
| API key source                  | ``HEADER``                                                    |
| Request validation              | one validator for body and parameters; JSON schema draft 4    |
| Invalid body                    | ``400 {"message": "Invalid request body"}`` (gateway response |
|                                 | ``BAD_REQUEST_BODY``), before any backend runs                |
| CORS                            | none (no browser calls from other origins); see below         |
| Access logs                     | JSON, to the block's own log group, stage retention           |
| Execution logs                  | ``INFO``; their log group is created first, so it has the     |
|                                 | stage retention; data trace off                               |
| X-Ray tracing                   | on                                                            |
| Method throttling (``*/*``)     | burst 100, rate 50 requests per second                        |
| CloudWatch metrics per method   | on                                                            |
| Cache                           | off; when on: encrypted, TTL 300 s, invalidation needs        |
|                                 | authorization (403 otherwise)                                 |
| WAF                             | a regional web ACL, when one is given (``WebAcl.arn``)        |
| Custom domain                   | none; ``RestStageArgs.domain`` maps one to the stage, TLS 1.2 |
|                                 | (``domain.py``); turn off ``execute-api`` with it             |

The throttling default is deliberately low: every API in an account and region shares one
account-level quota (10,000 rps by default), so one noisy API must not starve the others. Raise it
per API once load tests say so.

**CORS** (``RestApiArgs.cors``, the shared ``CorsArgs``: explicit https origins, ``*`` only with
``allow_any_origin``, never with credentials):

- ``add_preflight(resource_name, resource_id)`` adds an OPTIONS method with authorization
  ``NONE`` (browsers send no credentials with a preflight), a MOCK integration and a 200
  response carrying the allowed methods, headers, max age and credentials. A VTL template sets
  Access-Control-Allow-Origin to the request's Origin only when it is on the allow-list, so
  several origins work and no ``*`` is ever sent unless ``allow_any_origin`` is set.
- Gateway responses ``DEFAULT_4XX`` and ``DEFAULT_5XX`` (and ``BAD_REQUEST_BODY``, which no
  longer inherits ``DEFAULT_4XX`` once customised) carry CORS headers, so browsers can read
  errors: throttling (429), WAF blocks (403), invalid bodies (400). A gateway response cannot
  run a template to choose an origin: one allowed origin is sent as it is; with several, the
  request's Origin is echoed when credentials are off (API Gateway's own error messages, no
  cookies: nothing a request from outside a browser would not get), and the first origin is
  sent when credentials are on.
- The backend answers the actual requests, so it must set Access-Control-Allow-Origin itself,
  chosen from the same allow-list.

Gateway responses and preflights take effect only when deployed: put
``RestApi.deployment_dependencies()`` in the stage's ``depends_on`` and
``RestApi.redeploy_fingerprint`` in its ``redeploy_triggers``.

Guardrail findings left by design: a public stage without ``web_acl_arn`` draws the advisory
``waf-on-public-endpoints``; pass a ``WebAcl``'s ``arn``, which the architecture that exposes the
API builds, since the block cannot pick rules for it. ``allow_any_origin=True`` draws the
advisory ``cors-no-wildcard-origin`` on the preflight's integration response and the gateway
responses: the opt-in is deliberate, and the pack's ``allowWildcardOriginFor`` setting names the
resources that may do it.

Execution logging needs the account-level setting that names the CloudWatch role API Gateway
writes logs with (``aws.apigateway.Account``). It is one setting per account and region, so the
platform environment owns it; this block does not create it, and a stage with ``INFO`` or
``ERROR`` logging fails to deploy in an account where it is missing.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import pulumi
import pulumi_aws as aws
from pulumi_aws.apigateway import (
    MethodSettingsSettingsArgsDict,
    RestApiEndpointConfigurationArgsDict,
    StageAccessLogSettingsArgsDict,
)

from components.config import Defaults
from components.foundation.cors import CorsArgs, cors_problems
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

JSON_SCHEMA_DRAFT_4 = "http://json-schema.org/draft-04/schema#"
STAGE_NAME = re.compile(r"^[A-Za-z0-9_-]{1,128}$")
MODEL_NAME = re.compile(r"^[A-Za-z0-9]{1,128}$")
REGIONAL_WEB_ACL = re.compile(r"^arn:aws[\w-]*:wafv2:[a-z0-9-]+:\d{12}:regional/webacl/")
MAX_COMPRESSION_SIZE = 10 * 1024 * 1024
PREFLIGHT_NAME = re.compile(r"^[A-Za-z0-9]+(?:[-_][A-Za-z0-9]+)*$")
# API Gateway's own body for the errors it returns, made explicit on the CORS gateway responses.
GATEWAY_ERROR_TEMPLATE = '{"message":$context.error.messageString}'
INVALID_BODY_TEMPLATE = json.dumps({"message": "Invalid request body"})
JSON = "application/json"

# The common access log fields, plus IAM callers, the resource path, WAF and TLS details.
ACCESS_LOG_FORMAT = access_log_format(
    caller="$context.identity.caller",
    user="$context.identity.user",
    resourcePath="$context.resourcePath",
    integrationError="$context.integration.error",
    wafError="$context.waf.error",
    tlsVersion="$context.tlsVersion",
)


class EndpointType(StrEnum):
    """Where the API is reachable from."""

    REGIONAL = "REGIONAL"
    EDGE = "EDGE"
    PRIVATE = "PRIVATE"


class ApiKeySource(StrEnum):
    """Where API Gateway reads the usage-plan API key from."""

    HEADER = "HEADER"
    AUTHORIZER = "AUTHORIZER"


class LoggingLevel(StrEnum):
    """Execution logging level of every method of a stage."""

    INFO = "INFO"
    ERROR = "ERROR"
    OFF = "OFF"


class CacheSize(StrEnum):
    """Stage cache cluster sizes, in GB."""

    GB_0_5 = "0.5"
    GB_1_6 = "1.6"
    GB_6_1 = "6.1"
    GB_13_5 = "13.5"
    GB_28_4 = "28.4"
    GB_58_2 = "58.2"
    GB_118 = "118"
    GB_237 = "237"


def _not_member(enum: type[StrEnum], value: object, argument: str) -> str | None:
    allowed = [member.value for member in enum]
    if value in allowed:
        return None
    return f"{argument}: {value!r} is not allowed; use one of {', '.join(allowed)}"


@dataclass(frozen=True)
class RestApiArgs:
    """Settings of a REST API.

    ``policy`` is the resource policy, a JSON document. API Gateway applies a changed policy
    only on the next deployment, so put it in the stage's ``redeploy_triggers``.
    ``models`` maps model names to JSON schemas (draft 4 unless the schema says otherwise).
    ``cors`` lets browsers on the named origins call the API: CORS headers on API Gateway's own
    error responses, and ``RestApi.add_preflight`` for each resource browsers call.
    """

    description: str | None = None
    endpoint_type: EndpointType = EndpointType.REGIONAL
    vpc_endpoint_ids: Sequence[pulumi.Input[str]] = ()
    policy: pulumi.Input[str] | None = None
    api_key_source: ApiKeySource = ApiKeySource.HEADER
    security_policy: str = "TLS_1_2"
    disable_execute_api_endpoint: bool = False
    minimum_compression_size: int | None = None
    binary_media_types: Sequence[str] = ()
    models: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    cors: CorsArgs | None = None


def _rest_api_problems(args: RestApiArgs) -> list[str | None]:
    problems: list[str | None] = [
        _not_member(EndpointType, args.endpoint_type, "endpoint_type"),
        _not_member(ApiKeySource, args.api_key_source, "api_key_source"),
    ]
    private = args.endpoint_type == EndpointType.PRIVATE
    if private and not args.vpc_endpoint_ids:
        problems.append("vpc_endpoint_ids: a PRIVATE API needs the execute-api VPC endpoints "
                        "that may reach it")
    if not private and args.vpc_endpoint_ids:
        problems.append(f"vpc_endpoint_ids: only a PRIVATE API takes VPC endpoints, not a "
                        f"{args.endpoint_type} one")
    if private and args.policy is None:
        problems.append("policy: a PRIVATE API needs a resource policy that denies every caller "
                        "whose aws:SourceVpce is not one of its endpoints")
    if isinstance(args.policy, str):
        try:
            json.loads(args.policy)
        except json.JSONDecodeError:
            problems.append("policy: is not a JSON document")
        else:
            if private and "aws:SourceVpc" not in args.policy:
                problems.append("policy: the resource policy of a PRIVATE API must restrict "
                                "callers with an aws:SourceVpce (or aws:SourceVpc) condition")
    if args.security_policy == "TLS_1_0":
        problems.append("security_policy: TLS_1_0 accepts TLS 1.0 and 1.1 clients; use TLS_1_2 "
                        "or an enhanced SecurityPolicy_* policy")
    elif args.security_policy != "TLS_1_2" and not args.security_policy.startswith(
            "SecurityPolicy_"):
        problems.append(f"security_policy: {args.security_policy!r} is not a security policy; "
                        "use TLS_1_2 or an enhanced SecurityPolicy_* policy")
    size = args.minimum_compression_size
    if size is not None and not 0 <= size <= MAX_COMPRESSION_SIZE:
        problems.append(f"minimum_compression_size: {size} is outside 0..{MAX_COMPRESSION_SIZE} "
                        "bytes; leave it unset to turn compression off")
    problems += [f"models: model name {model!r} must be 1 to 128 letters and digits"
                 for model in args.models if not MODEL_NAME.match(model)]
    problems += [f"models: the schema of {model!r} must be a JSON object"
                 for model, schema in args.models.items() if not isinstance(schema, Mapping)]
    lowered = [model.lower() for model in args.models]
    problems += [f"models: model names {sorted(m for m in args.models if m.lower() == low)} "
                 "differ only in case" for low in sorted(set(lowered)) if lowered.count(low) > 1]
    if args.cors is not None:
        problems += cors_problems(args.cors)
        # API Gateway writes static header values in single quotes, with no way to escape one.
        problems += [f"cors.{key}: {header!r} cannot be sent by API Gateway, which quotes "
                     "static header values with '" for key in ("allow_headers", "expose_headers")
                     for header in getattr(args.cors, key)
                     if isinstance(header, str) and "'" in header]
    return problems


def _quoted(value: str) -> str:
    """A static header value, as API Gateway response parameters write one."""
    return f"'{value}'"


def _cors_headers(cors: CorsArgs, prefix: str, *, preflight: bool) -> dict[str, str]:
    """The CORS headers other than Allow-Origin, keyed ``<prefix>.<header>``."""
    headers = {"Access-Control-Allow-Methods": ",".join(cors.allow_methods)}
    if cors.allow_headers:
        headers["Access-Control-Allow-Headers"] = ",".join(cors.allow_headers)
    if preflight:
        headers["Access-Control-Max-Age"] = str(cors.max_age)
    elif cors.expose_headers:
        headers["Access-Control-Expose-Headers"] = ",".join(cors.expose_headers)
    if cors.allow_credentials:
        headers["Access-Control-Allow-Credentials"] = "true"
    if not cors.any_origin:
        # The answer depends on the caller's Origin: caches must not serve it to another one.
        headers["Vary"] = "Origin"
    return {f"{prefix}.{header}": _quoted(value) for header, value in headers.items()}


def _gateway_allow_origin(cors: CorsArgs) -> str:
    """Access-Control-Allow-Origin of a gateway response, which cannot choose among origins.

    One origin is sent as it is. With several and no credentials, the request's Origin is echoed:
    the response is one of API Gateway's own errors (a message, never data), and without
    Access-Control-Allow-Credentials the browser sent no cookies and lets the page read nothing
    that a request from outside a browser would not get anyway; preflights (a MOCK integration
    that checks the allow-list) still keep other origins from sending anything but simple
    requests. With credentials, echoing would hand a credentialed error to any origin, so the
    first origin is sent; the others then cannot read error bodies (only their status).
    """
    origins = cors.named_origins
    if cors.any_origin:
        return _quoted("*")
    if len(origins) == 1 or cors.allow_credentials:
        return _quoted(origins[0])
    return "method.request.header.Origin"


def allow_origin_template(origins: Sequence[str]) -> str:
    """A VTL response template that sets Access-Control-Allow-Origin to the request's Origin
    when it is one of ``origins``, and sends no such header otherwise (never ``*``).

    The origins are validated https origins, so they need no escaping inside VTL strings.
    """
    condition = " || ".join(f'$origin == "{origin}"' for origin in origins)
    return "\n".join([
        '#set($origin = $input.params().header.get("Origin"))',
        '#if("$!origin" == "")#set($origin = $input.params().header.get("origin"))#end',
        f"#if({condition})",
        "#set($context.responseOverride.header.Access-Control-Allow-Origin = $origin)",
        "#end",
    ])


class RestApi(pulumi.ComponentResource):
    """A REST API with a request validator, JSON-schema models, a 400 answer for invalid bodies
    and, with ``cors``, CORS on API Gateway's error responses and OPTIONS preflights.

    Deploy it with ``RestStage``, whose ``depends_on`` should hold ``deployment_dependencies()``
    (plus the architecture's methods and integrations) and whose ``redeploy_triggers`` should hold
    ``redeploy_fingerprint``: gateway responses and preflights only take effect once deployed.
    """

    api: aws.apigateway.RestApi
    api_id: pulumi.Output[str]
    root_resource_id: pulumi.Output[str]
    execution_arn: pulumi.Output[str]
    request_validator_id: pulumi.Output[str]
    models: dict[str, aws.apigateway.Model]
    gateway_responses: dict[str, aws.apigateway.Response]
    preflights: dict[str, list[pulumi.Resource]]
    redeploy_fingerprint: str

    def __init__(self, name: str, args: RestApiArgs, defaults: Defaults,
                 opts: pulumi.ResourceOptions | None = None) -> None:
        require_valid(f"RestApi {name}", _rest_api_problems(args))
        super().__init__("blueprints:foundation:RestApi", name, None, opts)
        self._name = name
        self._cors = args.cors
        child = pulumi.ResourceOptions(parent=self)
        if args.cors is not None and args.cors.any_origin:
            warn_override(self, "cors.allow_any_origin",
                          "Any web site can call this API from a visitor's browser.")

        endpoint: RestApiEndpointConfigurationArgsDict = {"types": str(args.endpoint_type)}
        if args.vpc_endpoint_ids:
            endpoint["vpc_endpoint_ids"] = list(args.vpc_endpoint_ids)
        enhanced = args.security_policy.startswith("SecurityPolicy_")
        self.api = aws.apigateway.RestApi(
            f"{name}-api",
            description=args.description,
            endpoint_configuration=endpoint,
            policy=args.policy,
            api_key_source=str(args.api_key_source),
            security_policy=args.security_policy,
            # AWS recommends STRICT; it is only accepted with the enhanced policies.
            endpoint_access_mode="STRICT" if enhanced else None,
            disable_execute_api_endpoint=args.disable_execute_api_endpoint,
            minimum_compression_size=(None if args.minimum_compression_size is None
                                      else str(args.minimum_compression_size)),
            binary_media_types=list(args.binary_media_types) or None,
            opts=child,
        )
        self.api_id = self.api.id
        self.root_resource_id = self.api.root_resource_id
        self.execution_arn = self.api.execution_arn

        validator = aws.apigateway.RequestValidator(
            f"{name}-validator",
            rest_api=self.api.id,
            name="body-and-parameters",
            validate_request_body=True,
            validate_request_parameters=True,
            opts=child,
        )
        self.request_validator_id = validator.id

        self.models = {
            model: aws.apigateway.Model(
                f"{name}-model-{model.lower()}",
                rest_api=self.api.id,
                name=model,
                content_type="application/json",
                schema=json.dumps({"$schema": JSON_SCHEMA_DRAFT_4, **schema}),
                opts=child,
            )
            for model, schema in args.models.items()
        }

        self.gateway_responses = self._gateway_responses(name, args.cors)
        self.preflights = {}
        self.redeploy_fingerprint = _fingerprint(args)

        self.register_outputs({
            "apiId": self.api_id,
            "rootResourceId": self.root_resource_id,
            "executionArn": self.execution_arn,
            "requestValidatorId": self.request_validator_id,
            "models": {model: resource.name for model, resource in self.models.items()},
            "gatewayResponses": {kind: response.id
                                 for kind, response in self.gateway_responses.items()},
        })

    def _gateway_responses(self, name: str,
                           cors: CorsArgs | None) -> dict[str, aws.apigateway.Response]:
        """BAD_REQUEST_BODY always; DEFAULT_4XX and DEFAULT_5XX with CORS headers under cors.

        A customised response type no longer inherits DEFAULT_4XX, so BAD_REQUEST_BODY carries
        the CORS headers itself.
        """
        child = pulumi.ResourceOptions(parent=self)
        headers: dict[str, str] = {}
        if cors is not None:
            headers = {
                "gatewayresponse.header.Access-Control-Allow-Origin":
                    _gateway_allow_origin(cors),
                **_cors_headers(cors, "gatewayresponse.header", preflight=False),
            }
        responses = {
            "BAD_REQUEST_BODY": aws.apigateway.Response(
                f"{name}-bad-request-body",
                rest_api_id=self.api.id,
                response_type="BAD_REQUEST_BODY",
                status_code="400",
                response_templates={JSON: INVALID_BODY_TEMPLATE},
                response_parameters=headers or None,
                opts=child,
            ),
        }
        if cors is not None:
            for kind in ("DEFAULT_4XX", "DEFAULT_5XX"):
                responses[kind] = aws.apigateway.Response(
                    f"{name}-{kind.lower().replace('_', '-')}",
                    rest_api_id=self.api.id,
                    response_type=kind,
                    response_templates={JSON: GATEWAY_ERROR_TEMPLATE},
                    response_parameters=headers,
                    opts=child,
                )
        return responses

    def add_preflight(self, resource_name: str,
                      resource_id: pulumi.Input[str]) -> list[pulumi.Resource]:
        """Answers CORS preflights (OPTIONS) on one API resource, from the API's ``cors``.

        An OPTIONS method open to everyone (a browser sends no credentials with a preflight), a
        MOCK integration, and a 200 response with the allowed methods, headers, max age and
        credentials. Access-Control-Allow-Origin is chosen by a VTL template: the request's
        Origin when it is on the allow-list, no header otherwise, ``*`` only when
        ``allow_any_origin`` is set. ``resource_name`` names the API resource: a part such as
        ``items``, or the resource's own name when it already starts with the API's name
        (``orders-items`` for the API ``orders``). Either way the children are named
        ``<api>-items-options...``, and a resource gets one preflight.

        Called after construction, as the architecture creates its resources: the children are
        still the component's, just not among its registered outputs. Returns them; the stage's
        deployment must depend on them (``deployment_dependencies()`` lists every preflight).
        """
        cors = self._cors
        part = resource_name.removeprefix(f"{self._name}-")
        problems = []
        if cors is None:
            problems.append("add_preflight: the API has no cors settings; set RestApiArgs.cors")
        if not PREFLIGHT_NAME.match(part):
            problems.append(f"add_preflight.resource_name: {resource_name!r} must be letters and "
                            "digits in words joined by hyphens or underscores")
        elif part in self.preflights:
            problems.append(f"add_preflight.resource_name: {resource_name!r} already has a "
                            "preflight")
        if problems or cors is None:
            raise InvalidArgs(f"RestApi {self._name}", problems)

        name = f"{self._name}-{part}-options"
        child = pulumi.ResourceOptions(parent=self)
        method = aws.apigateway.Method(
            name,
            rest_api=self.api.id,
            resource_id=resource_id,
            http_method="OPTIONS",
            authorization="NONE",
            api_key_required=False,
            opts=child,
        )
        integration = aws.apigateway.Integration(
            f"{name}-integration",
            rest_api=self.api.id,
            resource_id=resource_id,
            http_method=method.http_method,
            type="MOCK",
            request_templates={JSON: json.dumps({"statusCode": 200})},
            opts=child,
        )
        headers = _cors_headers(cors, "method.response.header", preflight=True)
        origin_header = "method.response.header.Access-Control-Allow-Origin"
        method_response = aws.apigateway.MethodResponse(
            f"{name}-response",
            rest_api=self.api.id,
            resource_id=resource_id,
            http_method=method.http_method,
            status_code="200",
            response_parameters={origin_header: False, **dict.fromkeys(headers, False)},
            opts=child,
        )
        if cors.any_origin:
            parameters = {origin_header: _quoted("*"), **headers}
            templates = None
        else:
            parameters = headers
            templates = {JSON: allow_origin_template(cors.named_origins)}
        integration_response = aws.apigateway.IntegrationResponse(
            f"{name}-integration-response",
            rest_api=self.api.id,
            resource_id=resource_id,
            http_method=integration.http_method,
            status_code=method_response.status_code,
            response_parameters=parameters,
            response_templates=templates,
            opts=child,
        )
        resources: list[pulumi.Resource] = [method, integration, method_response,
                                             integration_response]
        self.preflights[part] = resources
        return resources

    def deployment_dependencies(self) -> list[pulumi.Resource]:
        """What the first deployment must wait for: gateway responses and every preflight."""
        return [*self.gateway_responses.values(),
                *(resource for resources in self.preflights.values() for resource in resources)]


def _fingerprint(args: RestApiArgs) -> str:
    """A short hash of what this block deploys: the models, CORS and error responses."""
    shape = {
        "models": {model: dict(schema) for model, schema in args.models.items()},
        "cors": None if args.cors is None else dataclasses.asdict(args.cors),
        "badRequestBody": INVALID_BODY_TEMPLATE,
    }
    return hashlib.sha256(json.dumps(shape, sort_keys=True, default=str).encode()).hexdigest()[
        :16]


@dataclass(frozen=True)
class RestStageArgs:
    """Settings of a deployed REST API stage.

    ``redeploy_triggers`` maps names to values whose change must redeploy the API: the ids of
    methods and integrations, a hash of an OpenAPI body, the resource policy. ``depends_on``
    lists the methods and integrations the first deployment must wait for. ``stage_name``
    defaults to the stack's stage.
    """

    rest_api_id: pulumi.Input[str]
    redeploy_triggers: Mapping[str, pulumi.Input[str]]
    depends_on: Sequence[pulumi.Resource] = ()
    stage_name: str | None = None
    description: str | None = None
    throttling_burst_limit: int = 100
    throttling_rate_limit: float = 50
    logging_level: LoggingLevel = LoggingLevel.INFO
    data_trace_enabled: bool = False
    xray_tracing_enabled: bool = True
    cache_size: CacheSize | None = None
    cache_ttl_seconds: int = 300
    web_acl_arn: pulumi.Input[str] | None = None
    log_kms_key_arn: pulumi.Input[str] | None = None
    domain: ApiDomain | None = None


def _stage_problems(args: RestStageArgs, stage_name: str,
                    defaults: Defaults) -> list[str | None]:
    problems: list[str | None] = [
        _not_member(LoggingLevel, args.logging_level, "logging_level"),
        *domain_problems(args.domain, defaults.region),
    ]
    if not STAGE_NAME.match(stage_name):
        problems.append(f"stage_name: {stage_name!r} must be 1 to 128 letters, digits, hyphens "
                        "or underscores")
    if not args.redeploy_triggers:
        problems.append("redeploy_triggers: name at least one value whose change must redeploy "
                        "the API (method and integration ids, an OpenAPI hash); without one, "
                        "changes are never deployed")
    if isinstance(args.throttling_burst_limit, bool) or args.throttling_burst_limit < 1:
        problems.append(f"throttling_burst_limit: {args.throttling_burst_limit} must be a whole "
                        "number of requests, at least 1")
    if args.throttling_rate_limit <= 0:
        problems.append(f"throttling_rate_limit: {args.throttling_rate_limit} must be a positive "
                        "number of requests per second")
    if args.cache_size is not None:
        problems.append(_not_member(CacheSize, args.cache_size, "cache_size"))
        if not 0 <= args.cache_ttl_seconds <= 3600:
            problems.append(f"cache_ttl_seconds: {args.cache_ttl_seconds} is outside 0..3600")
    if isinstance(args.web_acl_arn, str):
        problems.append(_web_acl_problem(args.web_acl_arn))
    return problems


def _web_acl_problem(arn: str) -> str | None:
    if REGIONAL_WEB_ACL.match(arn):
        return None
    return (f"web_acl_arn: {arn!r} is not a REGIONAL WAFv2 web ACL ARN (a CLOUDFRONT one cannot "
            "protect a stage)")


def _checked_web_acl(component: str, arn: str | None) -> str | None:
    """The ARN of a web ACL that is an output (a ``WebAcl``'s ``arn``), checked once known."""
    if arn is not None:
        require_valid(component, [_web_acl_problem(arn)])
    return arn


class RestStage(pulumi.ComponentResource):
    """A deployment of a REST API and the stage that serves it, with logs, tracing and limits.

    The deployment is replaced whenever a trigger changes. Pulumi creates the replacement
    before it deletes the old one, so the stage moves to the new deployment first and the old
    one is never deleted while a stage still points at it; do not set ``delete_before_replace``
    on it.
    """

    deployment: aws.apigateway.Deployment
    stage: aws.apigateway.Stage
    access_log_group: aws.cloudwatch.LogGroup
    execution_log_group: aws.cloudwatch.LogGroup | None
    method_settings: aws.apigateway.MethodSettings
    web_acl_association: aws.wafv2.WebAclAssociation | None
    invoke_url: pulumi.Output[str]
    execution_arn: pulumi.Output[str]
    stage_arn: pulumi.Output[str]
    domain_target: DomainTarget | None

    def __init__(self, name: str, args: RestStageArgs, defaults: Defaults,
                 opts: pulumi.ResourceOptions | None = None) -> None:
        stage_name = args.stage_name or defaults.stage
        require_valid(f"RestStage {name}", _stage_problems(args, stage_name, defaults))
        super().__init__("blueprints:foundation:RestStage", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        caching = args.cache_size is not None
        logging_on = args.logging_level != LoggingLevel.OFF

        if not logging_on:
            warn_override(self, "logging_level OFF",
                          "Without execution logs, failed requests cannot be diagnosed.")
        if args.data_trace_enabled:
            warn_override(self, "data_trace_enabled",
                          "Data trace logs full request and response bodies, which may hold "
                          "personal data and secrets; use it briefly, never in production.")
        if not args.xray_tracing_enabled:
            warn_override(self, "xray_tracing_enabled False",
                          "Without X-Ray, requests cannot be traced through the API.")

        self.access_log_group = log_group(f"{name}-access-logs", defaults,
                                          kms_key_arn=args.log_kms_key_arn, opts=child)
        # API Gateway creates this group itself, with no retention, unless it exists first.
        self.execution_log_group = log_group(
            f"{name}-execution-logs", defaults,
            log_group_name=pulumi.Output.concat(
                "API-Gateway-Execution-Logs_", args.rest_api_id, "/", stage_name),
            kms_key_arn=args.log_kms_key_arn, opts=child,
        ) if logging_on else None

        self.deployment = aws.apigateway.Deployment(
            f"{name}-deployment",
            rest_api=args.rest_api_id,
            description=args.description,
            triggers=dict(args.redeploy_triggers),
            opts=pulumi.ResourceOptions(parent=self, depends_on=list(args.depends_on)),
        )

        access_logs: StageAccessLogSettingsArgsDict = {
            "destination_arn": self.access_log_group.arn,
            "format": ACCESS_LOG_FORMAT,
        }
        self.stage = aws.apigateway.Stage(
            f"{name}-stage",
            rest_api=args.rest_api_id,
            deployment=self.deployment.id,
            stage_name=stage_name,
            description=args.description,
            access_log_settings=access_logs,
            xray_tracing_enabled=args.xray_tracing_enabled,
            cache_cluster_enabled=caching,
            cache_cluster_size=str(args.cache_size) if caching else None,
            opts=pulumi.ResourceOptions(
                parent=self,
                depends_on=[self.execution_log_group] if self.execution_log_group else None),
        )

        settings: MethodSettingsSettingsArgsDict = {
            "throttling_burst_limit": args.throttling_burst_limit,
            "throttling_rate_limit": args.throttling_rate_limit,
            "logging_level": str(args.logging_level),
            "metrics_enabled": True,
            "data_trace_enabled": args.data_trace_enabled,
            "caching_enabled": caching,
        }
        if caching:
            settings.update({
                "cache_data_encrypted": True,
                "cache_ttl_in_seconds": args.cache_ttl_seconds,
                "require_authorization_for_cache_control": True,
                "unauthorized_cache_control_header_strategy": "FAIL_WITH_403",
            })
        self.method_settings = aws.apigateway.MethodSettings(
            f"{name}-method-settings",
            rest_api=args.rest_api_id,
            stage_name=self.stage.stage_name,
            method_path="*/*",
            settings=settings,
            opts=child,
        )

        # An output (a WebAcl's arn) is checked when it is known: at preview for a deployed web
        # ACL, at update otherwise.
        self.web_acl_association = aws.wafv2.WebAclAssociation(
            f"{name}-waf",
            resource_arn=self.stage.arn,
            web_acl_arn=pulumi.Output.from_input(args.web_acl_arn).apply(
                functools.partial(_checked_web_acl, f"RestStage {name}")),
            opts=child,
        ) if args.web_acl_arn is not None else None

        self.domain_target = None if args.domain is None else self._domain(
            name, args.domain, args.rest_api_id, defaults)
        self.invoke_url = self.stage.invoke_url
        if args.domain is not None:
            self.invoke_url = pulumi.Output.from_input(f"https://{args.domain.name}")
        self.execution_arn = self.stage.execution_arn
        self.stage_arn = self.stage.arn
        self.register_outputs({
            "stageName": self.stage.stage_name,
            "invokeUrl": self.invoke_url,
            **domain_exports(self.domain_target),
            "executionArn": self.execution_arn,
            "stageArn": self.stage_arn,
            "accessLogGroupName": self.access_log_group.name,
        })

    def _domain(self, name: str, domain: ApiDomain, rest_api_id: pulumi.Input[str],
                defaults: Defaults) -> DomainTarget:
        """The custom domain, serving this stage at its root."""
        child = pulumi.ResourceOptions(parent=self)
        endpoint: RestApiEndpointConfigurationArgsDict = {
            "types": str(EndpointType.EDGE if domain.edge else EndpointType.REGIONAL)}
        mutual_tls = domain.mutual_tls
        custom = aws.apigateway.DomainName(
            f"{name}-domain",
            domain_name=domain.name,
            endpoint_configuration=endpoint,
            security_policy="TLS_1_2",
            certificate_arn=domain.certificate_arn if domain.edge else None,
            regional_certificate_arn=None if domain.edge else domain.certificate_arn,
            mutual_tls_authentication=None if mutual_tls is None else
            _mutual_tls(truststore(name, mutual_tls, defaults, self)),
            ownership_verification_certificate_arn=None if mutual_tls is None else
            mutual_tls.ownership_verification_certificate_arn,
            opts=child)
        aws.apigateway.BasePathMapping(
            f"{name}-domain-mapping", domain_name=custom.domain_name, rest_api=rest_api_id,
            stage_name=self.stage.stage_name, opts=child)
        if domain.edge:
            return DomainTarget(custom.cloudfront_domain_name, custom.cloudfront_zone_id)
        return DomainTarget(custom.regional_domain_name, custom.regional_zone_id)


def _mutual_tls(store: Truststore) -> aws.apigateway.DomainNameMutualTlsAuthenticationArgsDict:
    return {"truststore_uri": store.uri, "truststore_version": store.version}
