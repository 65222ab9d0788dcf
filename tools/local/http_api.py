"""API Gateway HTTP APIs (v2) of the plan, answered on this machine as API Gateway answers them.

``http_apis(run, lambdas=, policies=, aws=)`` reads every ``aws:apigatewayv2/api:Api`` of
protocol ``HTTP`` with its stages, routes, integrations and authorizers, and answers one
``HttpApi`` per API. ``HttpApi.handle`` takes a ``gateway.Request`` and answers a
``gateway.Reply``; local mode serves each API on a port of its own (``gateway.LocalServer``),
the ``$default`` stage at the root and a named stage under ``/{stage}/``. Per request, in API
Gateway's order:

1. **Stage**: the first path segment when it names a stage, else ``$default``; neither is a
   ``404 {"message":"Not Found"}``. A body over 10 MB is a ``413``.
2. **CORS**: with the API's ``corsConfiguration``, a preflight (``OPTIONS`` with ``Origin`` and
   ``Access-Control-Request-Method``) is answered ``204`` by the gateway itself, before any
   route or authorizer; other answers get ``Access-Control-Allow-Origin`` (and credentials,
   exposed headers) when the origin is allowed, and the integration's own CORS headers are
   dropped, as documented.
3. **Route**: the most specific match: routes without a greedy variable first (literal segments
   before ``{param}``, position by position), then greedy ``{proxy+}`` routes (longest prefix
   first), then ``$default``; a named method before ``ANY``. Paths are matched decoded, and
   path parameters are passed decoded; no match is a ``404``.
4. **Throttling**: a token bucket per stage and route, from the stage's ``routeSettings`` or
   ``defaultRouteSettings``; an empty bucket is a ``429 {"message":"Too Many Requests"}``.
5. **Authorization**: ``JWT`` routes verify the identity source's token with
   ``tools.local.tokens`` (a Cognito issuer is the embedded AWS's user pool) and answer ``401
   {"message":"Unauthorized"}`` with API Gateway's ``www-authenticate``. ``AWS_IAM`` routes
   verify the SigV4 signature (``execute-api``, the API's region) against the secret of
   credentials the embedded AWS issued; the account's local administrator (``aws.credentials``)
   may call any route, any other role is decided by the plan's policies for
   ``execute-api:Invoke`` on ``{api}/{stage}/{METHOD}/{path}``. Missing auth, a bad signature
   and a denial are ``403`` with API Gateway's messages.
6. **Integration**: a Lambda proxy integration builds the event of its payload format (``2.0``
   or ``1.0``, as AWS builds them: lower-case headers joined with commas, cookies, decoded
   ``rawPath`` and query parameters, ``requestContext`` with the ``jwt`` or ``iam`` authorizer
   block, a body base64-encoded unless it is text) and invokes the function through local
   mode's Lambda as ``apigateway.amazonaws.com``, with the ``aws:SourceArn`` API Gateway sets
   (``{api}/{stage}/{METHOD}/{path}``, ``{api}/{stage}/$default`` for the ``$default`` route),
   so the plan's ``aws:lambda/permission`` must cover the route. A denied invocation, a
   function error or a malformed answer is a ``500 {"message":"Internal Server Error"}``
   (logged, with the missing permission); an invocation longer than the integration's
   ``timeoutInMilliseconds`` (30 s by default) a ``503 {"message":"Service Unavailable"}``.
7. **Access log**: one line per request, the stage's ``accessLogSettings.format`` with the
   ``$context`` variables filled (``-`` for those local mode does not know), passed to
   ``output``.

An ``HTTP_PROXY`` integration through a **VPC link** (an ALB listener's or a Cloud Map service's
ARN) passes the request on, its path as routed or as ``overwrite:path`` maps it, to the ECS
service that target leads to (``tools.local.services``); no answer is a ``503``.

Not emulated, and said at start-up (``HttpApi.notes``) when the plan uses it: integrations other
than Lambda proxies and VPC links (HTTP proxies to the internet, AWS service integrations),
Lambda (``CUSTOM``)
authorizers, parameter mapping (``requestParameters``, ``responseParameters``), mutual TLS,
custom domains and API mappings (each API is served on its own port), an API's quick-create
``target``, and JWT issuers other than the embedded AWS's user pools (their tokens are refused).
Deployments are not modelled: every stage serves the plan's routes. When the function's
answer names no ``content-type``, API Gateway's sniffing of one is not done. Account-level
throttling and the Lambda payload limit (6 MB) are not applied.
"""

from __future__ import annotations

import base64
import json
import logging
import re
import secrets
import string
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol
from urllib.parse import quote, unquote

import boto3  # type: ignore[import-untyped]

from tools.local.aws import LOCAL_ROLE, EmbeddedAws, plan_account, plan_region, region_of
from tools.local.functions import Invocation
from tools.local.gateway import (
    BackendError,
    Reply,
    Request,
    ServedApi,
    SignatureError,
    TokenBucket,
    fill_references,
    forward,
    verify_sigv4,
)
from tools.local.iam import Check, Decision, Principal, execute_api_check, partition
from tools.local.lambdas import FunctionNotFoundError, InvokeDeniedError
from tools.local.tokens import JwtVerifier, LocalIssuers, TokenError, VerifiedToken
from tools.mock_runtime import Resource, StackRun, reveal

LOG = logging.getLogger("tools.local.http_api")
API = "aws:apigatewayv2/api:Api"
STAGE = "aws:apigatewayv2/stage:Stage"
ROUTE = "aws:apigatewayv2/route:Route"
INTEGRATION = "aws:apigatewayv2/integration:Integration"
AUTHORIZER = "aws:apigatewayv2/authorizer:Authorizer"
API_MAPPING = "aws:apigatewayv2/apiMapping:ApiMapping"
DEFAULT = "$default"
APIGATEWAY = "apigateway.amazonaws.com"
MAX_PAYLOAD_BYTES = 10 * 1024 * 1024
DEFAULT_TIMEOUT_MS = 30_000
TEXT_TYPES = ("application/json", "application/xml", "application/javascript")
PROTOCOL = "HTTP/1.1"
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_LAMBDA_URI = re.compile(
    r"^arn:[^:]+:apigateway:[^:]+:lambda:path/[^/]+/functions/(.+)/invocations$")
_FUNCTION_ARN = re.compile(r"^arn:[^:]+:lambda:[^:]+:\d{12}:function:.+$")
_STAGE_VARIABLE = re.compile(r"\$\{stageVariables\.([A-Za-z0-9_]+)\}")
_VARIABLE = re.compile(r"^\{([A-Za-z0-9_.-]+)\}$")
_GREEDY = re.compile(r"^\{([A-Za-z0-9_.-]+)\+\}$")
_REQUEST_ID_ALPHABET = string.ascii_letters + string.digits
_INTEGRATION_ERROR = ("The IAM role configured on the integration or API Gateway doesn't have "
                      "permissions to call the integration. Check the permissions and try again.")


class Lambdas(Protocol):
    """What an HTTP API needs of local mode's Lambda (``tools.local.lambdas.LocalLambda``)."""

    def invoke(self, function: str, event: Any, *, caller: Principal | None,
               source_arn: str | None = None,
               source_account: str | None = None) -> Invocation: ...


class Policies(Protocol):
    """What an HTTP API needs of the plan's policies (``tools.local.iam.PlanPolicies``)."""

    def authorize(self, principal: Principal, check: Check) -> Decision: ...


# --- the plan ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Integration:
    """A route's target; ``unsupported`` says why local mode cannot call it."""

    resource: str
    integration_id: str
    function: str | None
    payload_format: str
    timeout_ms: int
    credentials_arn: str | None
    unsupported: str | None = None
    # An HTTP proxy through a VPC link: its target (an ALB listener's or a Cloud Map
    # service's ARN), its method, and the path it overwrites, if any.
    vpc_link_target: str | None = None
    method: str = "ANY"
    overwrite_path: str | None = None


@dataclass(frozen=True)
class JwtAuthorizer:
    resource: str
    authorizer_id: str
    identity_sources: tuple[str, ...]
    issuer: str
    audiences: tuple[str, ...]


@dataclass(frozen=True)
class Route:
    """A route key and what answers it."""

    resource: str
    key: str
    authorization: str
    integration: Integration | None
    authorizer: JwtAuthorizer | None = None
    scopes: tuple[str, ...] = ()

    @property
    def method(self) -> str | None:
        return None if self.key == DEFAULT else self.key.split(" ", 1)[0]

    @property
    def path(self) -> str | None:
        return None if self.key == DEFAULT else self.key.split(" ", 1)[1]

    @property
    def segments(self) -> tuple[str, ...]:
        return tuple((self.path or "/").split("/")[1:])

    def match(self, method: str, segments: Sequence[str]) -> dict[str, str] | None:
        """The path parameters when the route takes this request, else ``None``."""
        if self.key == DEFAULT:
            return {}
        if self.method not in ("ANY", method):
            return None
        parameters: dict[str, str] = {}
        for index, part in enumerate(self.segments):
            if greedy := _GREEDY.match(part):
                rest = "/".join(segments[index:])
                if not rest:
                    return None
                parameters[greedy.group(1)] = rest
                return parameters
            if index >= len(segments):
                return None
            if variable := _VARIABLE.match(part):
                if not segments[index]:
                    return None
                parameters[variable.group(1)] = segments[index]
            elif part != segments[index]:
                return None
        return parameters if len(segments) == len(self.segments) else None

    def precedence(self) -> tuple[Any, ...]:
        """Sorts the most specific route first."""
        if self.key == DEFAULT:
            return (2,)
        parts = self.segments
        greedy = bool(parts) and _GREEDY.match(parts[-1]) is not None
        fixed = parts[:-1] if greedy else parts
        kinds = tuple(1 if _VARIABLE.match(part) else 0 for part in fixed)
        return (1 if greedy else 0, -len(fixed), kinds, self.method == "ANY")


@dataclass(frozen=True)
class Throttle:
    rate: float
    burst: int


@dataclass(frozen=True)
class Stage:
    resource: str
    name: str
    variables: Mapping[str, str]
    default_throttle: Throttle | None
    route_throttles: Mapping[str, Throttle]
    access_log_format: str | None


@dataclass(frozen=True)
class Cors:
    """An API's ``corsConfiguration``."""

    allow_origins: tuple[str, ...]
    allow_methods: tuple[str, ...]
    allow_headers: tuple[str, ...]
    expose_headers: tuple[str, ...]
    max_age: int | None
    allow_credentials: bool

    def allowed_origin(self, origin: str | None) -> str | None:
        if origin is None:
            return None
        if origin in self.allow_origins:
            return origin
        return "*" if "*" in self.allow_origins else None

    def preflight_headers(self, origin: str) -> list[tuple[str, str]]:
        headers = [("Access-Control-Allow-Origin", origin)]
        if self.allow_credentials:
            headers.append(("Access-Control-Allow-Credentials", "true"))
        if self.allow_methods:
            headers.append(("Access-Control-Allow-Methods", ",".join(self.allow_methods)))
        if self.allow_headers:
            headers.append(("Access-Control-Allow-Headers", ",".join(self.allow_headers)))
        if self.max_age is not None:
            headers.append(("Access-Control-Max-Age", str(self.max_age)))
        return headers

    def response_headers(self, origin: str) -> list[tuple[str, str]]:
        headers = [("Access-Control-Allow-Origin", origin)]
        if self.allow_credentials:
            headers.append(("Access-Control-Allow-Credentials", "true"))
        if self.expose_headers:
            headers.append(("Access-Control-Expose-Headers", ",".join(self.expose_headers)))
        return headers


@dataclass(frozen=True)
class ApiPlan:
    """One HTTP API as the plan declares it."""

    resource: str
    api_id: str
    region: str
    account: str
    stages: tuple[Stage, ...]
    routes: tuple[Route, ...]
    cors: Cors | None
    notes: tuple[str, ...]


def _inputs(resource: Resource) -> dict[str, Any]:
    return reveal(dict(resource.inputs))


def read_http_apis(run: StackRun) -> list[ApiPlan]:
    """Every HTTP API of the plan with its stages, routes, integrations and authorizers."""
    by_api: dict[str, dict[str, list[Resource]]] = {}
    for type_ in (STAGE, ROUTE, INTEGRATION, AUTHORIZER, API_MAPPING):
        for resource in run.of_type(type_):
            api_id = str(_inputs(resource).get("apiId"))
            by_api.setdefault(api_id, {}).setdefault(type_, []).append(resource)
    plans = []
    for api in run.of_type(API):
        inputs = _inputs(api)
        if inputs.get("protocolType") != "HTTP":
            continue
        api_id = str(api.state.get("id") or api.id)
        execution = str(api.state.get("executionArn") or "").split(":")
        region = execution[3] if len(execution) > 5 else region_of(run, api, plan_region(run))
        account = execution[4] if len(execution) > 5 else plan_account(run)
        plans.append(_read_api(api, inputs, api_id, region, account, by_api.get(api_id, {})))
    return plans


def _read_api(api: Resource, inputs: Mapping[str, Any], api_id: str, region: str, account: str,
              children: Mapping[str, list[Resource]]) -> ApiPlan:
    notes: list[str] = []
    integrations = {str(r.state.get("id") or r.id): _integration(r, notes)
                    for r in children.get(INTEGRATION, [])}
    authorizers = {str(r.state.get("id") or r.id): _authorizer(r, notes)
                   for r in children.get(AUTHORIZER, [])}
    routes = tuple(_route(r, integrations, authorizers, notes)
                   for r in children.get(ROUTE, []))
    stages = tuple(_stage(r) for r in children.get(STAGE, []))
    if not stages:
        notes.append(f"{api.name}: no stage is declared, so every request is answered 404")
    if inputs.get("target") or inputs.get("routeKey"):
        notes.append(f"{api.name}: quick create (target, routeKey on the API) is not emulated")
    for mapping in children.get(API_MAPPING, []):
        notes.append(f"{api.name}: custom domain {_inputs(mapping).get('domainName')} (API "
                     f"mapping {mapping.name}) is not emulated; the API is served on its own "
                     "port")
    if inputs.get("disableExecuteApiEndpoint"):
        notes.append(f"{api.name}: its execute-api endpoint is disabled in AWS; local mode "
                     "serves the API on its own port all the same")
    return ApiPlan(api.name, api_id, region, account, stages,
                   tuple(sorted(routes, key=Route.precedence)),
                   _cors(inputs.get("corsConfiguration")), tuple(notes))


def _integration(resource: Resource, notes: list[str]) -> Integration:
    inputs = _inputs(resource)
    kind = str(inputs.get("integrationType") or "")
    uri = str(inputs.get("integrationUri") or "")
    function = uri if _FUNCTION_ARN.match(uri) else (
        match.group(1) if (match := _LAMBDA_URI.match(uri)) else None)
    unsupported = None
    vpc_link = kind == "HTTP_PROXY" and inputs.get("connectionType") == "VPC_LINK"
    if not vpc_link and (kind != "AWS_PROXY" or inputs.get("integrationSubtype")
                         or function is None):
        target = inputs.get("integrationSubtype") or uri
        unsupported = (f"integration {resource.name} ({kind} {target}) is not emulated: local "
                       "mode calls Lambda proxy integrations and HTTP proxies through VPC "
                       "links only")
    parameters = dict(inputs.get("requestParameters") or {})
    overwrite_path = parameters.pop("overwrite:path", None) if vpc_link else None
    for mapping in ("requestParameters", "responseParameters", "requestTemplates"):
        if (parameters if mapping == "requestParameters" else inputs.get(mapping)):
            notes.append(f"integration {resource.name}: {mapping} (parameter mapping) is not "
                         "emulated; requests pass unchanged")
    if unsupported:
        notes.append(unsupported)
    return Integration(
        resource.name, str(resource.state.get("id") or resource.id), function,
        str(inputs.get("payloadFormatVersion") or "1.0"),
        int(inputs.get("timeoutMilliseconds") or DEFAULT_TIMEOUT_MS),
        inputs.get("credentialsArn"), unsupported, uri if vpc_link else None,
        str(inputs.get("integrationMethod") or "ANY"), overwrite_path)


def _authorizer(resource: Resource, notes: list[str]) -> JwtAuthorizer | None:
    inputs = _inputs(resource)
    if inputs.get("authorizerType") != "JWT":
        notes.append(f"authorizer {resource.name} ({inputs.get('authorizerType')}) is not "
                     "emulated; its routes answer 500")
        return None
    jwt = inputs.get("jwtConfiguration") or {}
    return JwtAuthorizer(resource.name, str(resource.state.get("id") or resource.id),
                         tuple(inputs.get("identitySources") or ()), str(jwt.get("issuer")),
                         tuple(jwt.get("audiences") or ()))


def _route(resource: Resource, integrations: Mapping[str, Integration],
           authorizers: Mapping[str, JwtAuthorizer | None], notes: list[str]) -> Route:
    inputs = _inputs(resource)
    target = str(inputs.get("target") or "")
    integration = integrations.get(target.removeprefix("integrations/")) if target else None
    if integration is None:
        notes.append(f"route {resource.name} ({inputs.get('routeKey')}) has no integration; "
                     "it answers 500")
    if inputs.get("requestParameters"):
        notes.append(f"route {resource.name}: requestParameters are not checked")
    return Route(resource.name, str(inputs.get("routeKey")),
                 str(inputs.get("authorizationType") or "NONE"), integration,
                 authorizers.get(str(inputs.get("authorizerId"))),
                 tuple(inputs.get("authorizationScopes") or ()))


def _throttle(settings: Mapping[str, Any] | None) -> Throttle | None:
    if not settings or settings.get("throttlingRateLimit") is None \
            or settings.get("throttlingBurstLimit") is None:
        return None
    return Throttle(float(settings["throttlingRateLimit"]),
                    int(settings["throttlingBurstLimit"]))


def _stage(resource: Resource) -> Stage:
    inputs = _inputs(resource)
    route_throttles = {str(s["routeKey"]): throttle for s in inputs.get("routeSettings") or ()
                       if (throttle := _throttle(s)) is not None}
    return Stage(resource.name, str(inputs.get("name") or resource.state.get("name")),
                 {str(k): str(v) for k, v in (inputs.get("stageVariables") or {}).items()},
                 _throttle(inputs.get("defaultRouteSettings")), route_throttles,
                 (inputs.get("accessLogSettings") or {}).get("format"))


def _cors(settings: Mapping[str, Any] | None) -> Cors | None:
    if not settings:
        return None
    return Cors(tuple(settings.get("allowOrigins") or ()),
                tuple(settings.get("allowMethods") or ()),
                tuple(settings.get("allowHeaders") or ()),
                tuple(settings.get("exposeHeaders") or ()),
                settings.get("maxAge"), bool(settings.get("allowCredentials")))


# --- serving -----------------------------------------------------------------------------------

def http_apis(run: StackRun, *, lambdas: Lambdas, policies: Policies, aws: EmbeddedAws,
              output: Callable[[str], None] = print, clock: Callable[[], float] = time.time,
              throttle_clock: Callable[[], float] = time.monotonic,
              vpc_link: Callable[[str, str], str | None] | None = None) -> list[HttpApi]:
    """One ``HttpApi`` per HTTP API of the plan. ``clock`` is the wall clock (event times,
    token expiry, signature skew), ``throttle_clock`` the token buckets' clock;
    ``vpc_link(target, path)`` is the local URL a VPC link's target leads to."""
    issuers = LocalIssuers(aws)
    return [HttpApi(plan, lambdas=lambdas, policies=policies, aws=aws, issuers=issuers,
                    output=output, clock=clock, throttle_clock=throttle_clock,
                    vpc_link=vpc_link)
            for plan in read_http_apis(run)]


@dataclass(frozen=True)
class Caller:
    """Who signed an IAM-authorized request, as STS knows the credentials."""

    access_key: str
    account: str
    arn: str
    user_id: str
    role_arn: str | None

    def principal(self) -> Principal:
        session = self.arn.rsplit("/", 1)[-1]
        if self.role_arn:
            return Principal.assumed_role(self.role_arn, session)
        return Principal(self.arn, self.account)


@dataclass
class _Exchange:
    """One request on its way through the API: what the event and the access log say."""

    request: Request
    request_id: str
    at: float
    started: float
    stage: Stage | None = None
    route: Route | None = None
    token: VerifiedToken | None = None
    caller: Caller | None = None
    authorizer_error: str | None = None
    error_message: str | None = None
    integration_status: str | None = None
    function_status: int | None = None
    integration_latency: int | None = None
    integration_error: str | None = None
    integration_request_id: str | None = None


@dataclass(frozen=True)
class _Routed:
    """Where a request goes: its stage, its path within the stage, its route."""

    stage: Stage
    path: str
    route: Route
    parameters: Mapping[str, str]


class _RefusedError(Exception):
    """A request API Gateway answers itself."""

    def __init__(self, reply: Reply, message: str) -> None:
        super().__init__(message)
        self.reply = reply
        self.message = message


def _refusal(status: int, message: str, headers: Iterable[tuple[str, str]] = (),
             key: str = "message") -> _RefusedError:
    """API Gateway's own answer: ``{"message":"..."}``."""
    return _RefusedError(Reply.json(status, {key: message}, headers), message)


class HttpApi:
    """One HTTP API of the plan, answering requests as API Gateway does."""

    def __init__(self, plan: ApiPlan, *, lambdas: Lambdas, policies: Policies, aws: EmbeddedAws,
                 issuers: LocalIssuers | None = None, output: Callable[[str], None] = print,
                 clock: Callable[[], float] = time.time,
                 throttle_clock: Callable[[], float] = time.monotonic,
                 vpc_link: Callable[[str, str], str | None] | None = None) -> None:
        self.plan = plan
        self._vpc_link = vpc_link
        self.resource = plan.resource
        self.api_id = plan.api_id
        self.region = plan.region
        self.account = plan.account
        self._lambdas = lambdas
        self._policies = policies
        self._aws = aws
        self._output = output
        self._clock = clock
        self._issuers = issuers or LocalIssuers(aws)
        self._verifier = JwtVerifier(self._issuers.jwks, clock=clock)
        self._buckets = {(stage.name, route.key): TokenBucket(throttle.rate, throttle.burst,
                                                              throttle_clock)
                         for stage in plan.stages for route in plan.routes
                         if (throttle := stage.route_throttles.get(route.key,
                                                                   stage.default_throttle))}
        self._callers: dict[str, Caller] = {}
        self._lock = threading.Lock()
        self._admin_role = f"arn:{partition(plan.region)}:iam::{aws.account_id}:role/{LOCAL_ROLE}"
        self.notes = plan.notes + tuple(
            f"authorizer {authorizer.resource}: {reason}; its routes answer 401"
            for authorizer in dict.fromkeys(r.authorizer for r in plan.routes if r.authorizer)
            if (reason := self._issuers.unreachable(authorizer.issuer)))

    @property
    def stage(self) -> str | None:
        """The stage served at the root (``$default``), else the first declared."""
        names = [stage.name for stage in self.plan.stages]
        return DEFAULT if DEFAULT in names else (names[0] if names else None)

    def served_at(self, url: str) -> ServedApi:
        return ServedApi("HTTP", self.resource, self.api_id, self.region, url, self.stage)

    # -- a request

    def handle(self, request: Request) -> Reply:
        exchange = _Exchange(request, _request_id(), self._clock(), time.monotonic())
        try:
            reply = self._answer(exchange)
        except _RefusedError as refusal:
            exchange.error_message = refusal.message
            reply = refusal.reply
        reply.headers.append(("apigw-requestid", exchange.request_id))
        if exchange.stage is not None and exchange.stage.access_log_format:
            self._output(self._access_log(exchange.stage.access_log_format, exchange, reply))
        return reply

    def _answer(self, exchange: _Exchange) -> Reply:
        request = exchange.request
        exchange.stage, path = self._select_stage(unquote(request.raw_path) or "/")
        if len(request.body) > MAX_PAYLOAD_BYTES:
            raise _refusal(413, "Request Entity Too Large")
        cors = self.plan.cors
        origin = cors.allowed_origin(request.header("Origin")) if cors else None
        if cors and request.method == "OPTIONS" and request.header("Origin") \
                and request.header("Access-Control-Request-Method"):
            return Reply(204, cors.preflight_headers(origin) if origin else [])
        exchange.route, parameters = self._select_route(request.method, path)
        routed = _Routed(exchange.stage, path, exchange.route, parameters)
        bucket = self._buckets.get((routed.stage.name, routed.route.key))
        if bucket is not None and not bucket.take():
            raise _refusal(429, "Too Many Requests")
        self._authorize(exchange, routed)
        reply = self._integrate(exchange, routed)
        if cors:
            reply.headers = [(k, v) for k, v in reply.headers
                             if not k.lower().startswith("access-control-")]
            if origin:
                reply.headers += cors.response_headers(origin)
        return reply

    def _select_stage(self, path: str) -> tuple[Stage, str]:
        first, _, rest = path.lstrip("/").partition("/")
        named = {stage.name: stage for stage in self.plan.stages}
        if first in named and first != DEFAULT:
            return named[first], "/" + rest
        if DEFAULT in named:
            return named[DEFAULT], path
        raise _refusal(404, "Not Found")

    def _select_route(self, method: str, path: str) -> tuple[Route, dict[str, str]]:
        segments = path.split("/")[1:]
        for route in self.plan.routes:
            parameters = route.match(method, segments)
            if parameters is not None:
                return route, parameters
        raise _refusal(404, "Not Found")

    # -- authorization

    def _authorize(self, exchange: _Exchange, routed: _Routed) -> None:
        route = routed.route
        if route.authorization == "NONE":
            return
        if route.authorization == "JWT" and route.authorizer is not None:
            self._authorize_jwt(exchange, route.authorizer, route.scopes)
        elif route.authorization == "AWS_IAM":
            self._authorize_iam(exchange, routed)
        else:
            LOG.error("%s: route %s asks for %s authorization, which local mode does not "
                      "emulate", self.resource, route.key, route.authorization)
            raise _refusal(500, "Internal Server Error")

    def _authorize_jwt(self, exchange: _Exchange, authorizer: JwtAuthorizer,
                       scopes: Sequence[str]) -> None:
        token = _identity(exchange.request, authorizer.identity_sources)
        if not token:
            exchange.authorizer_error = "the identity source is missing"
            raise _refusal(401, "Unauthorized")
        if token[:7].lower() == "bearer ":
            token = token[7:].strip()
        try:
            exchange.token = self._verifier.verify(token, issuer=authorizer.issuer,
                                                   audiences=authorizer.audiences,
                                                   scopes=scopes)
        except TokenError as refused:
            exchange.authorizer_error = refused.description
            raise _refusal(401, "Unauthorized",
                           [("www-authenticate", refused.www_authenticate)]) from None

    def _authorize_iam(self, exchange: _Exchange, routed: _Routed) -> None:
        request = exchange.request
        if not request.header("Authorization") and "X-Amz-Signature=" not in request.query:
            raise _refusal(403, "Forbidden")
        try:
            access_key = verify_sigv4(request, service="execute-api", region=self.region,
                                      secret_for=self._aws.secret_for_access_key,
                                      session_token_for=(
                                          self._aws.session_token_for_access_key),
                                      now=datetime.fromtimestamp(exchange.at, UTC))
        except SignatureError as refused:
            raise _refusal(403, str(refused)) from None
        caller = exchange.caller = self._caller(access_key)
        if caller.role_arn == self._admin_role:
            return
        check = execute_api_check(self.api_id, routed.stage.name, request.method, routed.path,
                                  region=self.region, account=self.account)
        principal = caller.principal()
        decision = self._policies.authorize(principal, check)
        if not decision.allowed:
            LOG.warning("%s: %s", self.resource, decision.explain())
            denial = (f"User: {principal.arn} is not authorized to perform: {check.action} on "
                      f"resource: {check.resource}")
            if decision.outcome == "explicit-deny":
                denial += " with an explicit deny"
            raise _refusal(403, denial, key="Message")

    def _caller(self, access_key: str) -> Caller:
        with self._lock:
            if access_key in self._callers:
                return self._callers[access_key]
        secret = self._aws.secret_for_access_key(access_key)
        identity = boto3.session.Session().client(
            "sts", region_name=self.region, endpoint_url=self._aws.endpoint_url,
            aws_access_key_id=access_key, aws_secret_access_key=secret).get_caller_identity()
        caller = Caller(access_key, identity["Account"], identity["Arn"], identity["UserId"],
                        self._aws.role_for_access_key(access_key))
        with self._lock:
            return self._callers.setdefault(access_key, caller)

    # -- the integration

    def _integrate(self, exchange: _Exchange, routed: _Routed) -> Reply:
        route, stage = routed.route, routed.stage
        integration = route.integration
        if integration is not None and integration.vpc_link_target is not None:
            return self._http_proxy(exchange, routed, integration)
        if integration is None or integration.unsupported or integration.function is None:
            LOG.error("%s: route %s: %s", self.resource, route.key,
                      integration.unsupported if integration else "no integration")
            raise _refusal(500, "Internal Server Error")
        function = _STAGE_VARIABLE.sub(lambda m: stage.variables.get(m.group(1), ""),
                                       integration.function)
        event = (self._event_v2(exchange, routed) if integration.payload_format == "2.0"
                 else self._event_v1(exchange, routed))
        caller = (Principal.assumed_role(integration.credentials_arn, "apigateway")
                  if integration.credentials_arn else Principal.service_principal(APIGATEWAY))
        started = time.monotonic()
        outcome = _call_with_timeout(
            lambda: self._lambdas.invoke(function, event, caller=caller,
                                         source_arn=self._source_arn(exchange, routed),
                                         source_account=self.account),
            integration.timeout_ms / 1000)
        exchange.integration_latency = int((time.monotonic() - started) * 1000)
        if outcome is None:
            exchange.integration_error = "The Lambda function did not answer within the " \
                                         "integration's timeout"
            raise _refusal(503, "Service Unavailable")
        if isinstance(outcome, BaseException):
            raise self._invoke_failure(exchange, routed, function, outcome)
        exchange.integration_status = "200"
        exchange.integration_request_id = outcome.request_id
        if outcome.error:
            message = outcome.payload.get("errorMessage") if isinstance(outcome.payload, dict) \
                else None
            exchange.integration_error = str(message or "The Lambda function failed")
            LOG.warning("%s: %s failed: %s", self.resource, function, exchange.integration_error)
            raise _refusal(500, "Internal Server Error")
        try:
            reply = (_reply_v2(outcome.payload) if integration.payload_format == "2.0"
                     else _reply_v1(outcome.payload))
        except _MalformedAnswerError as malformed:
            exchange.integration_error = f"The Lambda function returned a malformed " \
                                         f"response: {malformed}"
            LOG.warning("%s: %s", self.resource, exchange.integration_error)
            raise _refusal(500, "Internal Server Error") from None
        exchange.function_status = reply.status
        return reply

    def _http_proxy(self, exchange: _Exchange, routed: _Routed,
                    integration: Integration) -> Reply:
        """An HTTP proxy through a VPC link: the request passes on, its path as routed (or
        ``overwrite:path``), to where the link's target leads here."""
        request = exchange.request
        path = routed.path
        if integration.overwrite_path is not None:
            path = re.sub(r"\$request\.path(?:\.(\w+))?",
                          lambda m: routed.parameters.get(m.group(1), "") if m.group(1)
                          else routed.path, integration.overwrite_path)
        target = str(integration.vpc_link_target)
        base = self._vpc_link(target, path) if self._vpc_link else None
        if base is None:
            exchange.integration_error = f"The VPC link target {target} leads nowhere"
            LOG.error("%s: route %s: %s", self.resource, routed.route.key,
                      exchange.integration_error)
            raise _refusal(500, "Internal Server Error")
        method = request.method if integration.method == "ANY" else integration.method
        url = base + quote(path, safe="/") + (f"?{request.query}" if request.query else "")
        started = time.monotonic()
        try:
            reply = forward(method, url, request.headers, request.body,
                            integration.timeout_ms / 1000)
        except BackendError as error:
            exchange.integration_error = str(error)
            LOG.error("%s: %s", self.resource, error)
            raise _refusal(503, "Service Unavailable") from None
        finally:
            exchange.integration_latency = int((time.monotonic() - started) * 1000)
        exchange.integration_status = str(reply.status)
        exchange.function_status = reply.status
        return reply

    def _invoke_failure(self, exchange: _Exchange, routed: _Routed, function: str,
                        error: BaseException) -> _RefusedError:
        if isinstance(error, InvokeDeniedError):
            exchange.integration_error = _INTEGRATION_ERROR
            LOG.error("%s: API Gateway may not invoke %s for %s %s: %s", self.resource, function,
                      exchange.request.method, routed.path, error.decision.explain())
        elif isinstance(error, FunctionNotFoundError):
            exchange.integration_error = f"Function not found: {function}"
            LOG.error("%s: %s", self.resource, error)
        else:
            exchange.integration_error = f"Invoking {function} failed"
            LOG.error("%s: invoking %s failed", self.resource, function, exc_info=error)
        return _refusal(500, "Internal Server Error")

    def _source_arn(self, exchange: _Exchange, routed: _Routed) -> str:
        if routed.route.key == DEFAULT:
            return (f"arn:{partition(self.region)}:execute-api:{self.region}:{self.account}:"
                    f"{self.api_id}/{routed.stage.name}/{DEFAULT}")
        return execute_api_check(self.api_id, routed.stage.name, exchange.request.method,
                                 routed.path, region=self.region, account=self.account).resource

    # -- events

    def _context_base(self, exchange: _Exchange, stage: Stage) -> dict[str, Any]:
        host = exchange.request.header("Host") or ""
        domain = host.rsplit(":", 1)[0] if host.rsplit(":", 1)[-1].isdigit() else host
        return {"accountId": self.account, "apiId": self.api_id, "domainName": domain,
                "domainPrefix": domain.split(".", 1)[0], "requestId": exchange.request_id,
                "stage": stage.name}

    def _event_v2(self, exchange: _Exchange, routed: _Routed) -> dict[str, Any]:
        request, route, stage = exchange.request, routed.route, routed.stage
        path = unquote(request.raw_path) or "/"
        headers = _forwarded_headers(request)
        cookie_headers = headers.pop("cookie", [])
        context: dict[str, Any] = {
            **self._context_base(exchange, stage),
            "http": {"method": request.method, "path": path, "protocol": PROTOCOL,
                     "sourceIp": request.source_ip,
                     "userAgent": request.header("User-Agent") or ""},
            "routeKey": route.key, "time": _clf_time(exchange.at),
            "timeEpoch": int(exchange.at * 1000)}
        if authorizer := self._authorizer_block(exchange, route, version="2.0"):
            context["authorizer"] = authorizer
        event: dict[str, Any] = {"version": "2.0", "routeKey": route.key, "rawPath": path,
                                 "rawQueryString": request.query}
        cookies = [part.strip() for value in cookie_headers for part in value.split(";")
                   if part.strip()]
        if cookies:
            event["cookies"] = cookies
        event["headers"] = {name: ",".join(values) for name, values in headers.items()}
        if request.query:
            event["queryStringParameters"] = {
                name: ",".join(values) for name, values in request.query_multi().items()}
        event["requestContext"] = context
        if request.body:
            event["body"], event["isBase64Encoded"] = _body(request)
        else:
            event["isBase64Encoded"] = False
        if routed.parameters:
            event["pathParameters"] = dict(routed.parameters)
        if stage.variables:
            event["stageVariables"] = dict(stage.variables)
        return event

    def _event_v1(self, exchange: _Exchange, routed: _Routed) -> dict[str, Any]:
        request, route, stage = exchange.request, routed.route, routed.stage
        path = unquote(request.raw_path) or "/"
        headers = _forwarded_headers(request)
        query = request.query_multi()
        caller = exchange.caller
        identity = {
            "accessKey": caller.access_key if caller else None,
            "accountId": caller.account if caller else None,
            "caller": caller.user_id if caller else None,
            "cognitoAuthenticationProvider": None, "cognitoAuthenticationType": None,
            "cognitoIdentityId": None, "cognitoIdentityPoolId": None, "principalOrgId": None,
            "sourceIp": request.source_ip, "user": caller.user_id if caller else None,
            "userAgent": request.header("User-Agent") or "",
            "userArn": caller.arn if caller else None}
        context: dict[str, Any] = {
            **self._context_base(exchange, stage),
            "authorizer": self._authorizer_block(exchange, route, version="1.0"),
            "extendedRequestId": exchange.request_id, "httpMethod": request.method,
            "identity": identity, "path": path, "protocol": PROTOCOL,
            "requestTime": _clf_time(exchange.at), "requestTimeEpoch": int(exchange.at * 1000),
            "resourceId": route.key, "resourcePath": route.path or route.key}
        body, encoded = _body(request) if request.body else (None, False)
        return {
            "version": "1.0", "resource": route.path or route.key, "path": path,
            "httpMethod": request.method,
            "headers": {name: values[-1] for name, values in headers.items()},
            "multiValueHeaders": dict(headers),
            "queryStringParameters": {k: v[-1] for k, v in query.items()} or None,
            "multiValueQueryStringParameters": query or None,
            "requestContext": context,
            "pathParameters": dict(routed.parameters) or None,
            "stageVariables": dict(stage.variables) or None,
            "body": body, "isBase64Encoded": encoded}

    def _authorizer_block(self, exchange: _Exchange, route: Route, *,
                          version: str) -> dict[str, Any] | None:
        if exchange.token is not None:
            claims = {name: _claim_text(value) for name, value in exchange.token.claims.items()}
            scopes = list(exchange.token.scopes) if route.scopes else None
            return ({"jwt": {"claims": claims, "scopes": scopes}} if version == "2.0"
                    else {"claims": claims, "scopes": scopes})
        if exchange.caller is not None and version == "2.0":
            caller = exchange.caller
            return {"iam": {"accessKey": caller.access_key, "accountId": caller.account,
                            "callerId": caller.user_id, "cognitoIdentity": None,
                            "principalOrgId": None, "userArn": caller.arn,
                            "userId": caller.user_id}}
        return None

    # -- the access log

    def _access_log(self, log_format: str, exchange: _Exchange, reply: Reply) -> str:
        values = self._log_values(exchange, reply)

        def value_of(root: str, name: str) -> Any:
            if root != "context":
                return exchange.stage.variables.get(name) if exchange.stage else None
            if name.startswith("authorizer.claims.") and exchange.token is not None:
                claim = exchange.token.claims.get(name.removeprefix("authorizer.claims."))
                return None if claim is None else _claim_text(claim)
            return values.get(name)

        return fill_references(log_format, value_of, missing="-", json_escape=True)

    def _log_values(self, exchange: _Exchange, reply: Reply) -> dict[str, Any]:
        request, caller = exchange.request, exchange.caller
        base = self._context_base(exchange, exchange.stage) if exchange.stage else {}
        latency = int((time.monotonic() - exchange.started) * 1000)
        return {
            **base, "extendedRequestId": exchange.request_id,
            "httpMethod": request.method, "path": unquote(request.raw_path) or "/",
            "protocol": PROTOCOL, "requestTime": _clf_time(exchange.at),
            "requestTimeEpoch": int(exchange.at), "routeKey": exchange.route.key
            if exchange.route else None,
            "status": reply.status, "responseLength": len(reply.body),
            "responseLatency": latency, "dataProcessed": len(request.body) + len(reply.body),
            "identity.sourceIp": request.source_ip,
            "identity.userAgent": request.header("User-Agent"),
            "identity.accountId": caller.account if caller else None,
            "identity.caller": caller.user_id if caller else None,
            "identity.user": caller.user_id if caller else None,
            "identity.userArn": caller.arn if caller else None,
            "authorizer.error": exchange.authorizer_error,
            "error.message": exchange.error_message,
            "error.messageString": None if exchange.error_message is None
            else f'"{exchange.error_message}"',
            "integrationStatus": exchange.integration_status,
            "integration.integrationStatus": exchange.integration_status,
            "integration.status": exchange.function_status,
            "integrationLatency": exchange.integration_latency,
            "integration.latency": exchange.integration_latency,
            "integrationErrorMessage": exchange.integration_error,
            "integration.error": exchange.integration_error,
            "integration.requestId": exchange.integration_request_id,
            "awsEndpointRequestId": exchange.integration_request_id,
        }


# --- helpers -----------------------------------------------------------------------------------

def _request_id() -> str:
    # API Gateway's look: 15 letters and digits and a trailing "=".
    return "".join(secrets.choice(_REQUEST_ID_ALPHABET) for _ in range(15)) + "="


def _clf_time(at: float) -> str:
    moment = datetime.fromtimestamp(at, UTC)
    return f"{moment:%d}/{MONTHS[moment.month - 1]}/{moment:%Y:%H:%M:%S} +0000"


def _identity(request: Request, sources: Sequence[str]) -> str | None:
    for source in sources or ("$request.header.Authorization",):
        kind, _, name = source.removeprefix("$request.").partition(".")
        if kind == "header":
            value = request.header(name)
        elif kind == "querystring":
            values = request.query_multi().get(name)
            value = values[0] if values else None
        else:
            value = None
        if value:
            return value
    return None


def _forwarded_headers(request: Request) -> dict[str, list[str]]:
    """The request's headers as API Gateway passes them on: lower-case, with its own."""
    headers = request.headers_multi()
    host = request.header("Host") or ""
    forwarded = headers.get("x-forwarded-for", [])
    headers["x-forwarded-for"] = [", ".join([*forwarded, request.source_ip])]
    headers["x-forwarded-port"] = [host.rsplit(":", 1)[1] if ":" in host else "80"]
    headers["x-forwarded-proto"] = ["http"]
    headers.setdefault("x-amzn-trace-id", [
        f"Root=1-{int(time.time()):08x}-{secrets.token_hex(12)}"])
    return headers


def _is_text(content_type: str | None) -> bool:
    media = (content_type or "").split(";", 1)[0].strip().lower()
    return media.startswith("text/") or media in TEXT_TYPES


def _body(request: Request) -> tuple[str, bool]:
    """The body as the event carries it: text as is, anything else base64-encoded."""
    if _is_text(request.header("Content-Type")):
        try:
            return request.body.decode("utf-8"), False
        except UnicodeDecodeError:
            pass
    return base64.b64encode(request.body).decode("ascii"), True


def _claim_text(value: Any) -> str:
    """A claim as API Gateway passes it: every value a string, lists as ``[a b]``."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, list):
        return "[" + " ".join(_claim_text(item) for item in value) + "]"
    if isinstance(value, dict):
        return "map[" + " ".join(f"{k}:{_claim_text(v)}" for k, v in sorted(value.items())) + "]"
    return str(value)


def _call_with_timeout(call: Callable[[], Invocation],
                       seconds: float) -> Invocation | BaseException | None:
    """``call``'s answer or error, or ``None`` when it takes longer than ``seconds`` (it goes on
    in the background, as a Lambda function does after API Gateway stopped waiting)."""
    outcome: list[Invocation | BaseException] = []
    done = threading.Event()

    def run() -> None:
        try:
            outcome.append(call())
        except BaseException as error:  # noqa: BLE001 (handed back to the caller)
            outcome.append(error)
        done.set()

    threading.Thread(target=run, name="http-api-integration", daemon=True).start()
    return outcome[0] if done.wait(seconds) else None


class _MalformedAnswerError(ValueError):
    pass


def _header_map(value: Any, what: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise _MalformedAnswerError(f"{what} must be an object of strings")
    return value


def _answer_body(answer: Mapping[str, Any]) -> bytes:
    body = answer.get("body")
    if body is None:
        return b""
    if not isinstance(body, str):
        raise _MalformedAnswerError("body must be a string")
    if answer.get("isBase64Encoded") is True:
        try:
            return base64.b64decode(body, validate=True)
        except ValueError:
            raise _MalformedAnswerError("body is not base64 although isBase64Encoded is "
                                        "true") from None
    return body.encode()


def _status(answer: Mapping[str, Any]) -> int:
    status = answer.get("statusCode")
    if isinstance(status, bool) or not isinstance(status, int) or not 100 <= status <= 599:
        raise _MalformedAnswerError(f"statusCode {status!r} is not an HTTP status")
    return status


def _reply_v2(payload: Any) -> Reply:
    """A payload 2.0 answer: a response object, or any JSON API Gateway wraps in a 200."""
    if not isinstance(payload, dict) or "statusCode" not in payload:
        body = payload if isinstance(payload, str) else json.dumps(payload)
        return Reply(200, [("Content-Type", "application/json")], body.encode())
    headers = list(_header_map(payload.get("headers"), "headers").items())
    cookies = payload.get("cookies") or []
    if not isinstance(cookies, list) or not all(isinstance(c, str) for c in cookies):
        raise _MalformedAnswerError("cookies must be a list of strings")
    headers += [("Set-Cookie", cookie) for cookie in cookies]
    return Reply(_status(payload), headers, _answer_body(payload))


def _reply_v1(payload: Any) -> Reply:
    """A payload 1.0 answer: a response object with a ``statusCode``."""
    if not isinstance(payload, dict) or "statusCode" not in payload:
        raise _MalformedAnswerError("a payload 1.0 answer is an object with a statusCode")
    multi = payload.get("multiValueHeaders") or {}
    if not isinstance(multi, dict) or not all(
            isinstance(v, list) and all(isinstance(i, str) for i in v) for v in multi.values()):
        raise _MalformedAnswerError("multiValueHeaders must be an object of string lists")
    single = _header_map(payload.get("headers"), "headers")
    headers = [(name, value) for name, values in multi.items() for value in values]
    lower = {name.lower() for name in multi}
    headers += [(name, value) for name, value in single.items() if name.lower() not in lower]
    return Reply(_status(payload), headers, _answer_body(payload))
