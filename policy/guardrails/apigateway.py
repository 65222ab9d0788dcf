"""API Gateway REST and HTTP APIs: logs, tracing, throttling, auth, validation, CORS, WAF, TLS,
and the resource policies that fence private APIs.

REST stages and their ``aws.apigateway.MethodSettings`` are separate resources. A method
settings resource belongs to a stage when its ``stageName`` was computed from that stage, or
when it names the same stage of the same API (its ``restApi`` computed from the same API, or the
same known id). The rules that need this pairing (default throttling, execution logging, cache
encryption) are stack rules; they say nothing about a stage whose pairing is not known yet.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Mapping
from fnmatch import fnmatchcase
from typing import Any

from pulumi_policy import Policy

from .core import (
    ADVISORY,
    MANDATORY,
    UNKNOWN,
    Config,
    Props,
    Stack,
    Subject,
    as_list,
    everyone,
    is_unknown,
    resource_rule,
    stack_rule,
    statements,
)

REST_API = "aws:apigateway/restApi:RestApi"
REST_API_POLICY = "aws:apigateway/restApiPolicy:RestApiPolicy"
REST_STAGE = "aws:apigateway/stage:Stage"
METHOD_SETTINGS = "aws:apigateway/methodSettings:MethodSettings"
METHOD = "aws:apigateway/method:Method"
INTEGRATION_RESPONSE = "aws:apigateway/integrationResponse:IntegrationResponse"
GATEWAY_RESPONSE = "aws:apigateway/response:Response"
REST_DOMAIN = "aws:apigateway/domainName:DomainName"
HTTP_API = "aws:apigatewayv2/api:Api"
HTTP_STAGE = "aws:apigatewayv2/stage:Stage"
HTTP_ROUTE = "aws:apigatewayv2/route:Route"
HTTP_DOMAIN = "aws:apigatewayv2/domainName:DomainName"
WEB_ACL_ASSOCIATION = "aws:wafv2/webAclAssociation:WebAclAssociation"
DISTRIBUTION = "aws:cloudfront/distribution:Distribution"

ALL_METHODS = "*/*"
LOGGING_LEVELS = ("INFO", "ERROR")
BODY_METHODS = ("POST", "PUT", "PATCH", "ANY")
ENDPOINT_TYPES = ("EDGE", "REGIONAL", "PRIVATE")
# $context and $stageVariables references may stand unquoted in a JSON access log format
# ("responseLength": $context.responseLength); they are replaced by a number before parsing.
_LOG_VARIABLE = re.compile(r"\$(?:context|stageVariables)\.[A-Za-z0-9_.]+")
# Enhanced policies name their TLS version and, optionally, the oldest version they accept:
# SecurityPolicy_TLS13_1_2_2021_06 accepts TLS 1.2 and 1.3; SecurityPolicy_TLS12_2018_EDGE 1.2.
_ENHANCED_POLICY = re.compile(r"SecurityPolicy_TLS1([23])(?:_1_(\d))?_.*")
_ALLOW_ORIGIN = "header.access-control-allow-origin"


# --- reading helpers ---------------------------------------------------------------------------

def _text(value: Any) -> str:
    """A value for a message: strings and numbers as they are, anything else as 'not set'."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (str, int, float)) and value != "":
        return str(value)
    return "not set"


def _number(value: Any) -> float | None:
    """A JSON number (not a boolean), or ``None``."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def _elements(value: Any) -> Any:
    """The elements of a list, each read safely; ``UNKNOWN`` if the list or one is unknown."""
    found = Props(value).elements()
    return UNKNOWN if is_unknown(found) or any(is_unknown(e) for e in found) else found


def _same(a: Any, b: Any) -> bool | None:
    """Whether two known strings are equal; ``None`` when either is unknown."""
    if is_unknown(a) or is_unknown(b):
        return None
    return isinstance(a, str) and isinstance(b, str) and a == b


def _deps(subject: Subject, prop: str) -> set[str]:
    return set(subject.property_dependencies.get(prop, ()))


def _attached(stack: Stack, owner: Subject, kind: str, link: str, owner_kind: str,
              same: Callable[[Subject], bool | None]) -> tuple[list[Subject], bool]:
    """The resources of ``kind`` that belong to ``owner``, and whether some could not be placed
    yet: their ``link`` property computed from the owner (not from another of ``owner_kind``),
    or ``same`` (known values) says so; ``None`` from it is undecided."""
    owners = {o.urn for o in stack.of_type(owner_kind)}
    linked: list[Subject] = []
    undecided = False
    for attached in stack.of_type(kind):
        named_from = _deps(attached, link)
        if owner.urn in named_from:
            linked.append(attached)
            continue
        if named_from & owners:
            continue  # computed from another owner
        match = same(attached)
        if match:
            linked.append(attached)
        elif match is None:
            undecided = True
    return linked, undecided


def _stage_settings(stack: Stack, stage: Subject) -> tuple[list[Subject], bool]:
    """The method settings of a REST stage, and whether some could not be placed yet."""
    stage_api = _deps(stage, "restApi")

    def same(settings: Subject) -> bool | None:
        settings_api = _deps(settings, "restApi")
        same_api = bool(stage_api & settings_api) if stage_api and settings_api else \
            _same(settings.props.get("restApi"), stage.props.get("restApi"))
        same_name = _same(settings.props.get("stageName"), stage.props.get("stageName"))
        if same_api is False or same_name is False:
            return False
        return True if same_api and same_name else None

    return _attached(stack, stage, METHOD_SETTINGS, "stageName", REST_STAGE, same)


def _endpoint_types(api: Subject) -> Any:
    """A REST API's endpoint types (EDGE when it has no endpoint configuration), or UNKNOWN."""
    configuration = api.props.get("endpointConfiguration")
    if is_unknown(configuration):
        return UNKNOWN
    types = api.props.get("endpointConfiguration", "types")
    if is_unknown(types):
        return UNKNOWN
    if isinstance(types, str) and types:
        return [types]
    elements = _elements(types)
    if is_unknown(elements):
        return UNKNOWN
    return [t for t in elements if isinstance(t, str)] or ["EDGE"]


def _rest_api_of(stack: Stack, stage: Subject) -> Subject | None:
    """The REST API a stage deploys: linked through ``restApi``, or with the same known id."""
    linked = stack.links(stage, "restApi", REST_API)
    if linked:
        return linked[0]
    api_id = stage.props.get("restApi")
    return next((api for api in stack.of_type(REST_API)
                 if _same(api.props.get("id"), api_id)), None)


def _throttling_problems(settings: Props, prefix: str) -> list[str]:
    problems = []
    for key in ("throttlingBurstLimit", "throttlingRateLimit"):
        value = settings.get(key)
        if is_unknown(value):
            continue
        number = _number(value)
        if number is None:
            problems.append(f"{prefix}{key} is not set")
        elif number <= 0:
            problems.append(f"{prefix}{key} is {_text(value)}")
    return problems


# --- 13-15: stage logs and traces -------------------------------------------------------------

@resource_rule(
    "apigateway-access-logging",
    description="REST and HTTP API stages send access logs to a destination "
                "(accessLogSettings.destinationArn).",
    anchors=("ES2000", "AwsSolutions-APIG1", "Serverless-APIGWAccessLogging"),
    level=MANDATORY,
    types={REST_STAGE, HTTP_STAGE},
)
def apigateway_access_logging(stage: Subject, config: Config) -> Iterator[str]:
    """Without access logs nobody can tell who called the API, how, and with what outcome.

    Mandatory: ES2000 is an Error-level serverless-rules rule, and cdk-nag registers
    AwsSolutions-APIG1 and Serverless-APIGWAccessLogging at ERROR.
    """
    settings = stage.props.get("accessLogSettings")
    if is_unknown(settings):
        return
    if not isinstance(settings, Mapping):
        yield ("accessLogSettings is not set; send access logs to a CloudWatch log group "
               "(accessLogSettings.destinationArn, with a JSON format)")
        return
    destination = stage.props.get("accessLogSettings", "destinationArn")
    if not is_unknown(destination) and not destination:
        yield ("accessLogSettings.destinationArn is not set; point it at a CloudWatch log group "
               "or Firehose stream")


@resource_rule(
    "apigateway-json-access-logs",
    description="Stage access logs are structured: accessLogSettings.format is a JSON object.",
    anchors=("WS2001", "Serverless-APIGWStructuredLogging"),
    level=ADVISORY,
    types={REST_STAGE, HTTP_STAGE},
)
def apigateway_json_access_logs(stage: Subject, config: Config) -> Iterator[str]:
    """JSON access logs can be queried field by field (Logs Insights); CLF or CSV lines cannot.

    ``$context`` variables may stand unquoted in the format (they become numbers in the logs).
    A stage with no access log settings is left to apigateway-access-logging.
    Advisory: WS2001 is a Warning in serverless-rules, and cdk-nag registers
    Serverless-APIGWStructuredLogging at WARN.
    """
    if not isinstance(stage.props.get("accessLogSettings"), Mapping):
        return
    log_format = stage.props.get("accessLogSettings", "format")
    if is_unknown(log_format):
        return
    if not isinstance(log_format, str) or not log_format.strip():
        yield ("accessLogSettings.format is not set; set it to a JSON object of $context "
               'fields, e.g. {"requestId":"$context.requestId","status":"$context.status"}')
        return
    try:
        parsed = json.loads(_LOG_VARIABLE.sub("0", log_format))
    except ValueError:
        parsed = None
    if not isinstance(parsed, dict):
        yield ("accessLogSettings.format is not a JSON object; write it as one, e.g. "
               '{"requestId":"$context.requestId","status":"$context.status"}')


@resource_rule(
    "apigateway-rest-tracing",
    description="REST API stages trace requests with X-Ray (xrayTracingEnabled).",
    anchors=("WS2002", "Serverless-APIGWXrayEnabled"),
    level=ADVISORY,
    types={REST_STAGE},
)
def apigateway_rest_tracing(stage: Subject, config: Config) -> Iterator[str]:
    """Without X-Ray a slow or failing request cannot be followed from the API to its backend.

    HTTP APIs do not support X-Ray, so only REST stages are checked.
    Advisory: serverless-rules ships this check as WS2002 at Warning level (an older rules
    table listed it as ES2002, but the rule itself, its test templates and its page say WS2002,
    Warning), and cdk-nag's current ServerlessChecks registers Serverless-APIGWXrayEnabled at
    WARN.
    """
    enabled = stage.props.get("xrayTracingEnabled")
    if not is_unknown(enabled) and enabled is not True:
        yield f"xrayTracingEnabled is {_text(enabled)}; set it to true"


# --- 16, 17, 24: method settings of REST stages, default route settings of HTTP stages --------

@stack_rule(
    "apigateway-default-throttling",
    description="Every REST stage has '*/*' method settings, and every HTTP stage default route "
                "settings, with positive throttling burst and rate limits.",
    anchors=("ES2003", "Serverless-APIGWDefaultThrottling"),
    level=MANDATORY,
)
def apigateway_default_throttling(stack: Stack, config: Config,
                                  ) -> Iterator[tuple[Subject | None, str]]:
    """All APIs of an account and region share one throttling quota; an API without its own
    limits lets one noisy client starve every other API, and its backend.

    Mandatory: ES2003 is an Error-level serverless-rules rule (its rule page says Error; one
    summary table says Warning, but the id is an E rule), and cdk-nag registers
    Serverless-APIGWDefaultThrottling at ERROR.
    """
    for stage in stack.of_type(REST_STAGE):
        linked, undecided = _stage_settings(stack, stage)
        paths = [s.props.get("methodPath") for s in linked]
        if ALL_METHODS not in paths and not undecided and not any(is_unknown(p) for p in paths):
            yield stage, ("has no method settings for '*/*', so its methods have no default "
                          "throttling; add aws.apigateway.MethodSettings with method_path '*/*' "
                          "and positive settings.throttlingBurstLimit and throttlingRateLimit")
    for settings in stack.of_type(METHOD_SETTINGS):
        if settings.props.get("methodPath") != ALL_METHODS:
            continue
        problems = _throttling_problems(settings.props.sub("settings"), "settings.")
        if problems:
            yield settings, (f"{', '.join(problems)}; set both to positive limits (a burst of "
                             "requests, and requests per second)")
    for stage in stack.of_type(HTTP_STAGE):
        problems = _throttling_problems(stage.props.sub("defaultRouteSettings"),
                                        "defaultRouteSettings.")
        if problems:
            yield stage, (f"{', '.join(problems)}; set both to positive limits (a burst of "
                          "requests, and requests per second)")


@stack_rule(
    "apigateway-execution-logging",
    description="REST stages log the execution of all their methods: '*/*' method settings, and "
                "every method settings, with loggingLevel INFO or ERROR.",
    anchors=("AwsSolutions-APIG6",),
    level=MANDATORY,
)
def apigateway_execution_logging(stack: Stack, config: Config,
                                 ) -> Iterator[tuple[Subject | None, str]]:
    """Execution logs say why a request failed inside API Gateway (authorizer, validation,
    integration); access logs only say that it failed.

    Mandatory: cdk-nag registers AwsSolutions-APIG6 at ERROR.
    """
    for settings in stack.of_type(METHOD_SETTINGS):
        level = settings.props.get("settings", "loggingLevel")
        if not is_unknown(level) and level not in LOGGING_LEVELS:
            yield settings, (f"settings.loggingLevel is {_text(level)}; set it to INFO or ERROR "
                             "(the account needs an aws.apigateway.Account CloudWatch role)")
    for stage in stack.of_type(REST_STAGE):
        linked, undecided = _stage_settings(stack, stage)
        paths = [s.props.get("methodPath") for s in linked]
        if any(is_unknown(p) for p in paths) or undecided or ALL_METHODS in paths:
            continue
        found = "has no method settings" if not paths else \
            f"has method settings only for {', '.join(_text(p) for p in paths)}"
        yield stage, (f"{found}, so not every method has execution logging; add "
                      "aws.apigateway.MethodSettings with method_path '*/*' and "
                      "settings.loggingLevel INFO or ERROR")


@stack_rule(
    "apigateway-cache-encrypted",
    description="REST API caches are encrypted: method settings that cache set cacheDataEncrypted, "
                "and a stage with a cache cluster has method settings that encrypt it.",
    anchors=("AWSGuard:apigateway-method-cached-and-encrypted",),
    level=ADVISORY,
)
def apigateway_cache_encrypted(stack: Stack, config: Config,
                               ) -> Iterator[tuple[Subject | None, str]]:
    """Cached responses hold what the backend returned, often personal data; API Gateway stores
    them unencrypted unless the method settings say otherwise.

    A stage that enables its cache cluster caches GET methods by default, so it needs method
    settings that encrypt the cache even when none of them turns caching on.
    Advisory: the anchor is an AWSGuard policy, and AWSGuard policies default to advisory.
    """
    reported: set[str] = set()
    for settings in stack.of_type(METHOD_SETTINGS):
        caching = settings.props.get("settings", "cachingEnabled")
        encrypted = settings.props.get("settings", "cacheDataEncrypted")
        if caching is True and not is_unknown(encrypted) and encrypted is not True:
            reported.add(settings.urn)
            yield settings, (f"settings.cachingEnabled is true but settings.cacheDataEncrypted "
                             f"is {_text(encrypted)}; set cacheDataEncrypted to true")
    for stage in stack.of_type(REST_STAGE):
        if stage.props.get("cacheClusterEnabled") is not True:
            continue
        linked, undecided = _stage_settings(stack, stage)
        flags = [s.props.get("settings", "cacheDataEncrypted") for s in linked]
        if undecided or True in flags or any(is_unknown(f) for f in flags) or \
                any(s.urn in reported for s in linked):
            continue
        yield stage, ("cacheClusterEnabled is true but no method settings of the stage encrypt "
                      "the cache; add aws.apigateway.MethodSettings with method_path '*/*' and "
                      "settings.cacheDataEncrypted true")


# --- 18, 19: who may call, and what they may send ---------------------------------------------

def _route_needs_authorization(stack: Stack, route: Subject, key: str) -> bool | None:
    """Whether a route can and must carry authorization (``None``: not known yet).

    HTTP API routes other than ``OPTIONS`` preflight must. A WebSocket API authorizes callers
    on ``$connect`` only; its other routes cannot carry authorization. A route whose API is not
    in the stack is told by its key: ``$default`` and ``METHOD /path`` are HTTP API keys.
    """
    apis = stack.links(route, "apiId", HTTP_API)
    protocol = apis[0].props.get("protocolType") if apis else None
    if is_unknown(protocol):
        return None
    if protocol == "WEBSOCKET" or (protocol is None and key != "$default" and " " not in key):
        return key == "$connect"
    return not key.startswith("OPTIONS ")


@stack_rule(
    "apigateway-routes-authorized",
    description="Every REST method and HTTP API route except CORS preflight (OPTIONS) checks "
                "its callers (authorization is not NONE).",
    anchors=("AwsSolutions-APIG4", "AwsSolutions-COG4"),
    level=MANDATORY,
)
def apigateway_routes_authorized(stack: Stack, config: Config,
                                 ) -> Iterator[tuple[Subject | None, str]]:
    """An unauthorized route lets anyone who can reach the API invoke its backend.

    A stack rule so that WebSocket routes, which only authorize on $connect, are told apart
    from HTTP API routes through their API's protocolType.
    Mandatory: cdk-nag registers AwsSolutions-APIG4 and AwsSolutions-COG4 at ERROR.
    """
    for method in stack.of_type(METHOD):
        http_method = method.props.get("httpMethod")
        authorization = method.props.get("authorization")
        if is_unknown(http_method) or is_unknown(authorization) or http_method == "OPTIONS":
            continue
        if not authorization or authorization == "NONE":
            yield method, (f"{_text(http_method)} method has authorization "
                           f"{_text(authorization)}; set it to AWS_IAM, COGNITO_USER_POOLS or "
                           "CUSTOM with an authorizer (only OPTIONS preflight may be open)")
    for route in stack.of_type(HTTP_ROUTE):
        key = route.props.get("routeKey")
        authorization = route.props.get("authorizationType")
        if not isinstance(key, str) or is_unknown(key) or is_unknown(authorization):
            continue
        if (not authorization or authorization == "NONE") and \
                _route_needs_authorization(stack, route, key):
            found = f"authorizationType {authorization}" if authorization else \
                "no authorizationType"
            fix = "AWS_IAM, or CUSTOM with an authorizer" if key == "$connect" else \
                "JWT, AWS_IAM or CUSTOM with an authorizer (only OPTIONS preflight routes may " \
                "be open)"
            yield route, f"route {key!r} has {found}; set it to {fix}"


@resource_rule(
    "apigateway-request-validation",
    description="REST methods that take a body (POST, PUT, PATCH, ANY) have a request validator.",
    anchors=("AwsSolutions-APIG2",),
    level=MANDATORY,
    types={METHOD},
)
def apigateway_request_validation(method: Subject, config: Config) -> Iterator[str]:
    """API Gateway rejects a malformed body before it reaches (and bills) the backend only when
    the method has a request validator and a model.

    Mandatory: cdk-nag registers AwsSolutions-APIG2 at ERROR.
    """
    http_method = method.props.get("httpMethod")
    if not isinstance(http_method, str) or http_method.upper() not in BODY_METHODS:
        return
    validator = method.props.get("requestValidatorId")
    if not is_unknown(validator) and not validator:
        yield (f"{http_method} method has no requestValidatorId; attach an "
               "aws.apigateway.RequestValidator that validates the body, and a request model")


# --- 20: WAF ----------------------------------------------------------------------------------

@stack_rule(
    "waf-on-public-endpoints",
    description="Every public REST stage has a WAFv2 web ACL association, and every CloudFront "
                "distribution a web ACL.",
    anchors=("AwsSolutions-APIG3", "AwsSolutions-CFR2"),
    level=ADVISORY,
)
def waf_on_public_endpoints(stack: Stack, config: Config,
                            ) -> Iterator[tuple[Subject | None, str]]:
    """A web ACL blocks common exploits, bad bots and floods before they reach the backend.

    A stage is public unless its API's endpoint type is PRIVATE; a stage whose API is not in
    the stack is treated as public. The association must have its resourceArn computed from
    the stage.
    Advisory: cdk-nag registers AwsSolutions-APIG3 and AwsSolutions-CFR2 at WARN.
    """
    for stage in stack.of_type(REST_STAGE):
        api = _rest_api_of(stack, stage)
        if api is not None:
            types = _endpoint_types(api)
            if is_unknown(types) or (types and all(t == "PRIVATE" for t in types)):
                continue
        if stack.referencing(stage, WEB_ACL_ASSOCIATION, prop="resourceArn"):
            continue
        yield stage, ("is reachable from the internet but no aws.wafv2.WebAclAssociation has "
                      "its resource_arn from this stage; associate a REGIONAL web ACL with the "
                      "stage's arn")
    for distribution in stack.of_type(DISTRIBUTION):
        web_acl = distribution.props.get("webAclId")
        if not is_unknown(web_acl) and not web_acl:
            yield distribution, ("webAclId is not set; attach a CLOUDFRONT-scope WAFv2 web ACL "
                                 "(web_acl_id, its ARN)")


# --- 21: CORS ---------------------------------------------------------------------------------

def _opted_in(subject: Subject, config: Config) -> bool:
    names = config.get("allowWildcardOriginFor")
    return isinstance(names, list) and subject.name in names


@resource_rule(
    "cors-no-wildcard-origin",
    description="CORS never allows any origin ('*') unless the resource is opted in by name.",
    anchors=("post:cors",),
    level=ADVISORY,
    types={HTTP_API, INTEGRATION_RESPONSE, GATEWAY_RESPONSE},
    config={"allowWildcardOriginFor": {
        "type": "array", "items": {"type": "string"}, "default": [],
        "description": "Names of the resources (an HTTP API, an integration or gateway "
                       "response) that may allow any origin; mirrors the HttpApi block's "
                       "allow_any_origin=True opt-in.",
    }},
)
def cors_no_wildcard_origin(subject: Subject, config: Config) -> Iterator[str]:
    """A '*' origin lets any web site call the API from its visitors' browsers.

    HTTP APIs are checked on corsConfiguration.allowOrigins. REST APIs set the header value
    on integration responses (and gateway responses, for errors API Gateway returns itself);
    a method response only declares the header, with no value.
    Advisory: the anchor is a best-practice post, not an error-level rule.
    """
    if _opted_in(subject, config):
        return
    if subject.type == HTTP_API:
        origins = _elements(subject.props.json("corsConfiguration", "allowOrigins"))
        if not is_unknown(origins) and any(isinstance(o, str) and o.strip() == "*"
                                           for o in origins):
            yield ("corsConfiguration.allowOrigins includes '*'; name the origins that may call "
                   "the API (https://app.example.com), or list this API in "
                   "allowWildcardOriginFor to accept any origin")
        return
    parameters = subject.props.json("responseParameters")
    if not isinstance(parameters, Mapping):
        return
    view = Props(parameters)
    for key in list(parameters):
        value = view.get(key)
        if isinstance(key, str) and key.lower().endswith(_ALLOW_ORIGIN) and \
                isinstance(value, str) and value.strip() in ("'*'", "*"):
            yield (f"responseParameters sets {key} to {value}; return a named origin "
                   "('https://app.example.com'), or list this resource in allowWildcardOriginFor "
                   "to accept any origin")


# --- 22, 23: custom domains and endpoint types ------------------------------------------------

def _tls12_or_newer(policy: Any) -> bool:
    if policy == "TLS_1_2":
        return True
    match = _ENHANCED_POLICY.fullmatch(policy) if isinstance(policy, str) else None
    return match is not None and match.group(2) in (None, "2", "3")


@resource_rule(
    "apigateway-tls12-domains",
    description="API Gateway custom domains accept TLS 1.2 or newer only.",
    anchors=("compliance-ready:aws-apigateway-domainname-configure-security-policy",
             "compliance-ready:aws-apigatewayv2-domainname-configure-domain-name-security-policy"),
    level=ADVISORY,
    types={REST_DOMAIN, HTTP_DOMAIN},
)
def apigateway_tls12_domains(domain: Subject, config: Config) -> Iterator[str]:
    """TLS 1.0 and 1.1 are deprecated and open to downgrade attacks.

    REST domains accept TLS_1_2 or an enhanced SecurityPolicy_* policy whose oldest version is
    TLS 1.2 or 1.3; an unset policy is reported because it is left to API Gateway's default.
    Advisory: Pulumi's compliance-ready policies rate these checks severity high, not critical.
    """
    if domain.type == REST_DOMAIN:
        where, policy = "securityPolicy", domain.props.get("securityPolicy")
        fix = "TLS_1_2, or an enhanced SecurityPolicy_TLS13_* policy"
    else:
        where = "domainNameConfiguration.securityPolicy"
        policy = domain.props.get("domainNameConfiguration", "securityPolicy")
        fix = "TLS_1_2"
    if not is_unknown(policy) and not _tls12_or_newer(policy):
        yield f"{where} is {_text(policy)}; set it to {fix}"


@resource_rule(
    "apigateway-endpoint-types",
    description="REST APIs use an allowed endpoint type (an API with no endpoint configuration "
                "is EDGE).",
    anchors=("AWSGuard:apigateway-endpoint-type-check",),
    level=ADVISORY,
    types={REST_API},
    config={"allowedEndpointTypes": {
        "type": "array", "items": {"type": "string", "enum": list(ENDPOINT_TYPES)},
        "default": ["REGIONAL", "PRIVATE"],
        "description": "The endpoint types a REST API may use (EDGE, REGIONAL, PRIVATE).",
    }},
)
def apigateway_endpoint_types(api: Subject, config: Config) -> Iterator[str]:
    """An edge-optimized API sits behind a CloudFront distribution that AWS runs for it: its
    caching, logging and geo restrictions cannot be set. A REGIONAL API (behind a distribution of
    the team's own where one is needed) or a PRIVATE API keeps them in the team's hands.

    Advisory: the anchor is an AWSGuard policy, and AWSGuard policies default to advisory.
    """
    allowed = config.get("allowedEndpointTypes")
    if not isinstance(allowed, list):
        allowed = ["REGIONAL", "PRIVATE"]
    types = _endpoint_types(api)
    if is_unknown(types):
        return
    refused = [t for t in types if t not in allowed]
    if refused:
        implicit = " (no endpointConfiguration means EDGE)" \
            if api.props.get("endpointConfiguration") is None else ""
        yield (f"endpointConfiguration.types is {', '.join(refused)}{implicit}; use "
               f"{' or '.join(str(a) for a in allowed) or 'an allowed type'}")


# --- 45: private APIs fenced by their resource policy -----------------------------------------

INVOKE = "execute-api:invoke"
# The condition keys that name where a request to a private API came from, lower case (condition
# keys are case-insensitive), with the spelling used in messages.
_SOURCE_KEYS = {"aws:sourcevpce": "aws:SourceVpce", "aws:sourcevpc": "aws:SourceVpc"}
# Operators that match only the listed endpoints or VPCs. ForAllValues is left out: on a missing
# key it matches, so a request from outside any VPC would pass. ...IfExists is left out too.
_MATCHING = frozenset({"stringequals", "stringequalsignorecase", "stringlike"})
_MATCHING_ANY = frozenset({f"foranyvalue:{op}" for op in _MATCHING}) | _MATCHING
# Operators that match every request not from the listed endpoints or VPCs (the IfExists forms
# also match a request that has no such key, which a Deny should refuse anyway).
_NOT_MATCHING = frozenset({"stringnotequals", "stringnotequalsignorecase", "stringnotlike"})
_NOT_MATCHING_ANY = _NOT_MATCHING | frozenset(f"{op}ifexists" for op in _NOT_MATCHING)


def _contains_unknown(value: Any) -> bool:
    if is_unknown(value):
        return True
    if isinstance(value, Mapping):
        return any(_contains_unknown(v) for v in value.values())
    if isinstance(value, list):
        return any(_contains_unknown(v) for v in value)
    return False


def _covers_invoke(statement: Mapping[str, Any]) -> bool:
    """Whether a statement's Action (or NotAction) takes in execute-api:Invoke."""
    if "NotAction" in statement:
        return not any(isinstance(a, str) and fnmatchcase(INVOKE, a.lower())
                       for a in as_list(statement.get("NotAction")))
    return any(isinstance(a, str) and fnmatchcase(INVOKE, a.lower())
               for a in as_list(statement.get("Action")))


def _whole_api(resource: Any) -> bool:
    """Whether a Resource names every stage, method and path of the API the policy is attached
    to: ``*``, ``execute-api:/*``, or an execute-api ARN whose part after the API id is ``*``
    (``arn:aws:execute-api:eu-west-1:111122223333:*/*``, ``...:a1b2c3d4e5/*``)."""
    if not isinstance(resource, str):
        return False
    if resource in ("*", "execute-api:/*", "execute-api:*"):
        return True
    parts = resource.split(":", 5)
    if len(parts) != 6 or parts[0] != "arn" or parts[2] != "execute-api":
        return False
    api, _, rest = parts[5].partition("/")
    return rest == "*" or (not rest and api == "*")


def _source_values(condition: Any, operators: frozenset[str]) -> dict[str, set[str]]:
    """The endpoints and VPCs a Condition names under ``operators``, by (lower-case) key; only
    literal ids count (a value with a wildcard fences nothing)."""
    found: dict[str, set[str]] = {}
    if not isinstance(condition, Mapping):
        return found
    for operator, clauses in condition.items():
        if str(operator).lower() not in operators or not isinstance(clauses, Mapping):
            continue
        for key, value in clauses.items():
            values = as_list(value)
            if str(key).lower() in _SOURCE_KEYS and values and all(
                    isinstance(v, str) and v and not set(v) & set("*?") for v in values):
                found.setdefault(str(key).lower(), set()).update(values)
    return found


def _label(statement: Mapping[str, Any], index: int) -> str:
    sid = statement.get("Sid")
    return f"statement {sid!r}" if isinstance(sid, str) and sid else f"Statement[{index}]"


def _fence_problems(document: Any) -> Any:
    """What keeps a private API's resource policy from fencing it to VPC endpoints or VPCs: a
    list of problems (empty when it fences), or ``UNKNOWN`` while any part is not known."""
    found = statements(document)
    if is_unknown(found) or _contains_unknown(found):
        return UNKNOWN
    problems: list[str] = []
    allowed: dict[str, set[str]] = {}
    for index, statement in enumerate(found):
        if statement.get("Effect") != "Allow" or not _covers_invoke(statement):
            continue
        fence = _source_values(statement.get("Condition"), _MATCHING_ANY)
        if not fence:
            problems.append(
                f"{_label(statement, index)} allows execute-api:Invoke with no StringEquals "
                "aws:SourceVpce (or aws:SourceVpc) condition, so a VPC endpoint of any account "
                "may call the API; add the condition with the endpoint (or VPC) ids")
        for key, values in fence.items():
            allowed.setdefault(key, set()).update(values)
    near: list[str] = []
    for index, statement in enumerate(found):
        if statement.get("Effect") != "Deny" or not everyone(statement.get("Principal")) \
                or not _covers_invoke(statement) \
                or not any(_whole_api(r) for r in as_list(statement.get("Resource"))):
            continue
        condition = statement.get("Condition")
        fence = _source_values(condition, _NOT_MATCHING_ANY)
        if not fence or not isinstance(condition, Mapping):
            continue
        clauses = [c for c in condition.values() if isinstance(c, Mapping)]
        if len(condition) != 1 or len(clauses) != 1 or len(clauses[0]) != 1:
            near.append(f"{_label(statement, index)} denies only the requests that also meet "
                        "its other conditions; keep the endpoint (or VPC) condition alone")
            continue
        key, values = next(iter(fence.items()))
        # The Deny may name no endpoint or VPC that no Allow names: that one would get through.
        extra = values - allowed.get(key, set()) if allowed else set()
        if not extra:
            return problems
        near.append(f"{_label(statement, index)} lets {', '.join(sorted(extra))} through "
                    f"({_SOURCE_KEYS[key]}), which no Allow names")
    names = "; ".join(f"{_SOURCE_KEYS[k]} {', '.join(sorted(v))}" for k, v in sorted(
        allowed.items())) or "aws:SourceVpce and the endpoint ids"
    problems.append(
        "no statement denies execute-api:Invoke on the whole API (execute-api:/*) to Principal * "
        "for every request that did not come through the endpoints or VPCs the policy allows"
        f"{' (' + '; '.join(near) + ')' if near else ''}; add a Deny with StringNotEquals on "
        f"{names}, so that no other statement and no caller's own IAM policy can open another "
        "path")
    return problems


def _rest_api_policies(stack: Stack, api: Subject) -> tuple[list[Subject], bool]:
    """The RestApiPolicy resources of an API, and whether some could not be placed yet: linked
    through ``restApiId``, or with the same known id."""
    return _attached(stack, api, REST_API_POLICY, "restApiId", REST_API,
                     lambda attached: _same(attached.props.get("restApiId"),
                                            api.props.get("id")))


def _has_document(value: Any) -> bool:
    return is_unknown(value) or isinstance(value, Mapping) or \
        (isinstance(value, str) and bool(value.strip()))


@stack_rule(
    "apigateway-private-api-fenced",
    description="PRIVATE REST APIs have a resource policy (their policy, or an "
                "aws.apigateway.RestApiPolicy) that allows execute-api:Invoke only under an "
                "aws:SourceVpce or aws:SourceVpc condition, and denies it to every request that "
                "does not come through those endpoints or VPCs.",
    anchors=("aws-docs:apigateway-resource-policies-examples",
             "aws-docs:apigateway-resource-policies-create-attach"),
    level=ADVISORY,
)
def apigateway_private_api_fenced(stack: Stack, config: Config,
                                  ) -> Iterator[tuple[Subject | None, str]]:
    """A private API is reachable from any interface endpoint for execute-api, in any VPC of
    any account, unless its resource policy says which endpoints may call it. The policy is the
    only fence: without it the API is private in name only.

    AWS documents the policy as an Allow of execute-api:Invoke and a Deny of it under
    StringNotEquals aws:SourceVpce (or aws:SourceVpc). This rule asks for the Deny, and for the
    Allow statements to carry the matching StringEquals condition as well (AWS's example leaves
    its Allow open and relies on the Deny alone); the Deny must name only endpoints or VPCs that
    an Allow names, be the whole API's (execute-api:/*), to Principal *, with that one
    condition. A private API with no policy at all cannot be deployed (API Gateway refuses the
    deployment); it is reported too. The documents are the API's own ``policy`` and those of
    aws.apigateway.RestApiPolicy resources whose restApiId was computed from the API (or is its
    known id); each is checked. A document not known yet (a preview of new endpoints) is not
    judged: the analyzer runs again during ``pulumi up``.

    Advisory: the anchors are AWS's developer guide (its private API policy example, and "you
    can't deploy your API without a resource policy"), not an error-level rule; no cdk-nag,
    serverless-rules or Security Hub check covers it. The project's blueprints.json raises it to
    mandatory, since its PrivateApi service builds exactly this policy (iam.private_api_policy).
    """
    for api in stack.of_type(REST_API):
        types = _endpoint_types(api)
        if is_unknown(types) or "PRIVATE" not in types:
            continue
        attached, undecided = _rest_api_policies(stack, api)
        own = api.props.get("policy")
        documents: list[tuple[Subject, Any]] = [(p, p.props.get("policy")) for p in attached]
        if _has_document(own):
            documents.append((api, own))
        if not documents:
            if not undecided:
                yield api, ("is PRIVATE but has no resource policy (its policy, or an "
                            "aws.apigateway.RestApiPolicy): API Gateway refuses to deploy it, "
                            "and nothing says which VPC endpoints may call it; allow "
                            "execute-api:Invoke under StringEquals aws:SourceVpce and deny it "
                            "under StringNotEquals aws:SourceVpce")
            continue
        for subject, document in documents:
            problems = _fence_problems(document)
            if is_unknown(problems):
                continue
            where = "policy" if subject is api else f"policy of PRIVATE API {api.name}"
            for problem in problems:
                yield subject, f"{where}: {problem}"


POLICIES: list[Policy] = [
    apigateway_access_logging,
    apigateway_json_access_logs,
    apigateway_rest_tracing,
    apigateway_default_throttling,
    apigateway_execution_logging,
    apigateway_routes_authorized,
    apigateway_request_validation,
    waf_on_public_endpoints,
    cors_no_wildcard_origin,
    apigateway_tls12_domains,
    apigateway_endpoint_types,
    apigateway_cache_encrypted,
    apigateway_private_api_fenced,
]
