"""REST APIs (API Gateway v1) served locally, each stage as API Gateway serves it, from the plan.

``rest_apis(run, lambdas=..., policies=..., aws=...)`` answers one ``RestApi`` per stage of every
``aws:apigateway/restApi`` in the plan. Everything is read from the plan's ``aws:apigateway/*``
resources: the resource tree (by ``parentId`` from the API's ``rootResourceId``), methods,
integrations and their responses, method responses, request validators and models, authorizers,
gateway responses, stages with their variables, access log format and method settings, usage
plans, their keys and API keys. ``RestApi.handle`` answers a ``gateway.Request`` whose path
starts with the stage (``/dev/customizations/1``), as ``execute-api`` does; the ``Host`` may be
``127.0.0.1:<port>`` or the API's own ``{api_id}.execute-api.{region}.amazonaws.com`` (which a
CloudFront origin sends, and a SigV4 signature covers). A request goes through the steps API
Gateway takes, each answering its documented error:

1. **Routing**: the stage, then the most specific resource (a literal path part before
   ``{param}``, before a greedy ``{proxy+}``), then the method or ``ANY``; no match is ``403
   MISSING_AUTHENTICATION_TOKEN``.
2. **Stage throttling** from ``methodSettings`` (``*/*`` for every method, or
   ``resource/METHOD``): a token bucket per method, ``429 THROTTLED``.
3. **Authorization**: ``AWS_IAM`` verifies the SigV4 signature (``gateway.verify_sigv4``) and
   decides ``execute-api:Invoke`` on the method ARN with the signer role's statements in the plan
   (the embedded AWS's own administrator role acts as the account's administrator); ``CUSTOM``
   (Lambda ``TOKEN`` and ``REQUEST`` authorizers) builds AWS's event, refuses a request missing
   an identity source with 401 without calling the function, invokes the function as
   ``apigateway.amazonaws.com`` (its Lambda permission is checked), caches the answer for
   ``authorizerResultTtlInSeconds`` by identity source values and evaluates the cached policy
   against each request's method ARN (Deny over Allow, wildcards); ``COGNITO_USER_POOLS``
   verifies the token against the local user pool's keys (``tools.local.tokens``). Then the
   API's **resource policy** (``policy``, or a ``RestApiPolicy``; ``execute-api:/...`` written
   out) decides ``execute-api:Invoke`` on the method ARN, with ``aws:SourceIp``, and
   ``aws:SourceVpce``/``aws:SourceVpc`` for a request through a VPC endpoint: an explicit deny
   refuses anyone, a caller IAM did not authorize needs an Allow for ``anonymous``, both
   ``403 ACCESS_DENIED`` in API Gateway's words. A **PRIVATE** API answers only requests that
   came through a VPC endpoint (``tools.local.endpoints``); from anywhere else it is
   ``403 Forbidden``, as from the internet.
4. **API keys and usage plans** for ``apiKeyRequired`` methods: the key from ``x-api-key``
   (source ``HEADER``) or the authorizer's ``usageIdentifierKey`` (``AUTHORIZER``) must be a known,
   enabled key of a usage plan of this stage (else ``403 INVALID_API_KEY``); the plan's rate and
   burst per key, or its per-method throttle (``/customizations/POST``), answer ``429
   THROTTLED``; its quota per ``DAY``, ``WEEK`` (from Monday) or ``MONTH`` (UTC calendar
   periods, ``offset`` requests fewer in the first one) answers ``429 QUOTA_EXCEEDED``.
5. **Request validation** by the method's validator: required ``method.request.*`` parameters
   (``400 BAD_REQUEST_PARAMETERS``), then the body against the model of its content type, a JSON
   schema (draft 4, with ``$ref`` to the API's other models), ``400 BAD_REQUEST_BODY``.
6. **Integration**: ``AWS_PROXY`` builds the payload 1.0 event and invokes the function as
   ``apigateway.amazonaws.com`` with the source ARN AWS sets
   (``api/stage/METHOD/resource-path``); the proxy answer becomes the reply, a function error or
   malformed answer a ``502``, no answer within the integration's timeout (29 s by default) a
   ``504 INTEGRATION_TIMEOUT``, a missing invoke permission a ``500``. ``MOCK`` renders the
   request template to choose the status, then the matching integration response (by
   ``selectionPattern``, else the default one) maps parameters and renders its response template
   (VTL, ``tools.local.vtl``, with ``$context.responseOverride``). ``AWS`` with **SQS** (``uri``
   ``arn:aws:apigateway:<region>:sqs:path/<account>/<queue>``, or ``action/SendMessage`` with a
   ``QueueUrl`` parameter) is API Gateway's service integration: the request template renders
   the form body (``passthroughBehavior`` as for MOCK), ``requestParameters`` map the integration
   request's headers and query string (``integration.request.header.Content-Type`` must say
   ``application/x-www-form-urlencoded``, else SQS cannot read the form:
   ``UnknownOperationException``); API Gateway assumes the ``credentials`` role (its trust policy
   must let ``apigateway.amazonaws.com`` do so, given ``aws:SourceAccount`` and
   ``aws:SourceArn``, the method ARN; else ``500``), or signs with the caller's own credentials
   for ``arn:aws:iam::*:user/*``, and sends: local IAM decides ``sqs:SendMessage`` on the queue
   (and ``kms:GenerateDataKey`` on its KMS key, with ``kms:ViaService``) as the session
   ``BackplaneAssumeRoleSession`` of that role, then the embedded AWS's SQS takes the message
   (``MessageBody``, ``DelaySeconds``, ``MessageGroupId``, ``MessageDeduplicationId``,
   ``MessageAttribute.N.*``, ``MessageSystemAttribute.N.*``) with the role's credentials. The
   backend's answer is what SQS's query protocol answers in JSON (the ``Accept`` API Gateway
   sends by default): ``{"SendMessageResponse": {"SendMessageResult": {"MessageId", ...},
   "ResponseMetadata": {"RequestId"}}}``, or ``{"Error": {"Code", "Message", "Type"},
   "RequestId"}`` with SQS's status (``403 AccessDenied`` for IAM,
   ``400 KMS.AccessDeniedException`` for the key, ``400
   AWS.SimpleQueueService.NonExistentQueue`` for a queue the embedded AWS lacks, which is also
   logged). The integration response is then chosen by ``selectionPattern`` matched against the
   backend's status code (else the default one; none: ``500``), and its template renders with
   ``$input`` the backend's answer and ``$input.params()`` the method request's parameters;
   ``integration.response.header.*`` and ``integration.response.body[.path]`` map to method
   response headers. No answer within the timeout is a ``504``. A body whose
   ``Content-Type`` is one of the API's ``binaryMediaTypes`` reaches the function base64-encoded;
   a base64 answer is decoded only when the request's ``Accept`` names a binary media type, as
   API Gateway does (else the base64 text is the body). ``HTTP_PROXY`` through a **VPC link**
   passes the request on, with the integration's path, header and query string mappings, to
   the ECS service the ``uri``'s Network Load Balancer leads to (``tools.local.services``); no
   answer in time is a ``504 INTEGRATION_TIMEOUT``, none at all ``504 INTEGRATION_FAILURE``.

Every error answer is a **gateway response**: the API's own for its type, else its
``DEFAULT_4XX``/``DEFAULT_5XX``, else API Gateway's default, with their status, headers
(``gatewayresponse.header.X``) and templates (``$context.error.messageString`` and the other
``$context`` and ``$stageVariables`` variables). Every answer carries ``x-amzn-RequestId``, and
one access log line per request, rendered from the stage's ``accessLogSettings.format`` (a
missing value is ``-``), goes to ``output``.

API keys whose value the plan leaves to API Gateway (no ``value``) get a local value, derived
from the key's id so that it is the same from run to run (``local_key_value``):
``RestApi.api_keys`` has every key that can call the stage, and ``RestApi.notes`` names the
local values for the start-up listing.

Not emulated, and listed by ``RestApi.notes`` when the plan uses them: ``AWS`` integrations
with services other than SQS (Lambda non-proxy included) and SQS actions other than
``SendMessage``, ``HTTP`` and ``HTTP_PROXY`` integrations (answered ``500``), the stage cache,
resource policies of the API, client certificates and canary settings. Not emulated either:
WAF web ACLs (the embedded AWS's report lists them) and the account-level throttle. Served
differently: the plan is the deployment (a stage serves the plan's methods whether or not its
deployment's triggers would have redeployed them in AWS); an IAM caller's ``userArn`` names the
session ``local-mode`` and its ``caller`` a stand-in for the role's unique id, which the plan
does not hold; ``domainName`` is always the execute-api domain.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import logging
import re
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit

import jsonschema  # type: ignore[import-untyped]
from botocore.exceptions import BotoCoreError, ClientError  # type: ignore[import-untyped]
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

from tools.local.aws import (
    LOCAL_ROLE,
    SESSION_NAME,
    Credentials,
    EmbeddedAws,
    plan_account,
    region_of,
)
from tools.local.functions import FunctionSpec, Invocation
from tools.local.gateway import (
    BackendError,
    Reply,
    Request,
    SignatureError,
    TokenBucket,
    fill_references,
    forward,
    verify_sigv4,
)
from tools.local.iam import (
    Check,
    Decision,
    PlanPolicies,
    Policy,
    PolicyError,
    Principal,
    evaluate,
    execute_api_check,
    partition,
)
from tools.local.iam import Request as IamRequest
from tools.local.vtl import (
    MappingInput,
    MappingUtil,
    VtlError,
    check_syntax,
    json_path,
    render,
)
from tools.mock_runtime import Resource as PlanResource
from tools.mock_runtime import StackRun, reveal

LOG = logging.getLogger("tools.local.rest_api")

REST_API = "aws:apigateway/restApi:RestApi"
RESOURCE = "aws:apigateway/resource:Resource"
METHOD = "aws:apigateway/method:Method"
INTEGRATION = "aws:apigateway/integration:Integration"
INTEGRATION_RESPONSE = "aws:apigateway/integrationResponse:IntegrationResponse"
METHOD_RESPONSE = "aws:apigateway/methodResponse:MethodResponse"
STAGE = "aws:apigateway/stage:Stage"
METHOD_SETTINGS = "aws:apigateway/methodSettings:MethodSettings"
VALIDATOR = "aws:apigateway/requestValidator:RequestValidator"
MODEL = "aws:apigateway/model:Model"
AUTHORIZER = "aws:apigateway/authorizer:Authorizer"
GATEWAY_RESPONSE = "aws:apigateway/response:Response"
API_KEY = "aws:apigateway/apiKey:ApiKey"
USAGE_PLAN = "aws:apigateway/usagePlan:UsagePlan"
USAGE_PLAN_KEY = "aws:apigateway/usagePlanKey:UsagePlanKey"
REST_API_POLICY = "aws:apigateway/restApiPolicy:RestApiPolicy"
ROLE = "aws:iam/role:Role"
QUEUE = "aws:sqs/queue:Queue"

API_GATEWAY = "apigateway.amazonaws.com"
DEFAULT_INTEGRATION_TIMEOUT_MS = 29_000
DEFAULT_AUTHORIZER_TTL = 300
DEFAULT_CONTENT_TYPE = "application/json"
DEFAULT_GATEWAY_TEMPLATE = '{"message":$context.error.messageString}'
MISSING_LOG_VALUE = "-"
MAX_PAYLOAD_BYTES = 10 * 1024 * 1024
LOCAL_KEY_LENGTH = 40
_FUNCTION_URI = re.compile(r"arn:[^:]+:apigateway:[^:]+:lambda:path/[^/]+/functions/(.+)/"
                           r"invocations")
_EXECUTE_API_HOST = re.compile(r"([a-z0-9]+)\.execute-api\.([a-z0-9-]+)\.amazonaws\.com")
# arn:aws:apigateway:{region}:{[subdomain.]service}:{path|action}/{path or action}
_AWS_URI = re.compile(r"arn:[^:]+:apigateway:([a-z0-9-]+):([^:]+):(path|action)/(.*)")
SQS = "sqs"
FORM = "application/x-www-form-urlencoded"
# The session API Gateway opens on an integration's role (as CloudTrail and IAM refusals name
# it), and the credentials value that asks it to sign with the caller's own credentials.
API_GATEWAY_SESSION = "BackplaneAssumeRoleSession"
CALLER_CREDENTIALS = re.compile(r"arn:[^:]+:iam::\*:user/\*")


class Lambdas(Protocol):
    """What this module needs of ``tools.local.lambdas.LocalLambda``."""

    def spec(self, function: str) -> FunctionSpec: ...

    def invoke(self, function: str, event: Any, *, caller: Principal | None,
               source_arn: str | None = None, source_account: str | None = None
               ) -> Invocation: ...


TokenVerifier = Callable[[str, str, Sequence[str]], Mapping[str, Any]]
VpcLinkTarget = Callable[[str, str], str | None]


# --- gateway responses -------------------------------------------------------------------------

# Each response type's default status and the x-amzn-ErrorType API Gateway sends with it.
RESPONSE_TYPES: Mapping[str, tuple[int, str]] = {
    "ACCESS_DENIED": (403, "AccessDeniedException"),
    "API_CONFIGURATION_ERROR": (500, "InternalServerErrorException"),
    "AUTHORIZER_CONFIGURATION_ERROR": (500, "AuthorizerConfigurationException"),
    "AUTHORIZER_FAILURE": (500, "AuthorizerFailureException"),
    "BAD_REQUEST_PARAMETERS": (400, "BadRequestException"),
    "BAD_REQUEST_BODY": (400, "BadRequestException"),
    "EXPIRED_TOKEN": (403, "ExpiredTokenException"),
    "INTEGRATION_FAILURE": (504, "InternalServerErrorException"),
    "INTEGRATION_TIMEOUT": (504, "InternalServerErrorException"),
    "INVALID_API_KEY": (403, "ForbiddenException"),
    "INVALID_SIGNATURE": (403, "InvalidSignatureException"),
    "MISSING_AUTHENTICATION_TOKEN": (403, "MissingAuthenticationTokenException"),
    "QUOTA_EXCEEDED": (429, "LimitExceededException"),
    "REQUEST_TOO_LARGE": (413, "RequestTooLargeException"),
    "RESOURCE_NOT_FOUND": (404, "NotFoundException"),
    "THROTTLED": (429, "TooManyRequestsException"),
    "UNAUTHORIZED": (401, "UnauthorizedException"),
    "UNSUPPORTED_MEDIA_TYPE": (415, "UnsupportedMediaTypeException"),
    "WAF_FILTERED": (403, "WAFFilteredException"),
    "DEFAULT_4XX": (400, "BadRequestException"),
    "DEFAULT_5XX": (500, "InternalServerErrorException"),
}
# API Gateway's access denials say "Message" where its other errors say "message".
_DEFAULT_TEMPLATES = {"ACCESS_DENIED": '{"Message":$context.error.messageString}'}


class GatewayError(Exception):
    """An answer API Gateway generates: a gateway response of ``response_type``."""

    def __init__(self, response_type: str, message: str | None, *, status: int | None = None,
                 error_type: str | None = None,
                 validation_errors: Sequence[str] = ()) -> None:
        super().__init__(f"{response_type}: {message}")
        default_status, default_error_type = RESPONSE_TYPES[response_type]
        self.response_type = response_type
        self.message = message
        self.status = status or default_status
        self.error_type = error_type or default_error_type
        self.validation_errors = tuple(validation_errors)


def _internal_error(status: int = 502) -> GatewayError:
    """What a proxy integration's failure answers: ``Internal server error``."""
    return GatewayError("DEFAULT_5XX", "Internal server error", status=status)


@dataclass(frozen=True)
class _GatewayResponse:
    status: int | None
    parameters: Mapping[str, str]
    templates: Mapping[str, str]


# --- the plan's model of an API ----------------------------------------------------------------

@dataclass(frozen=True)
class _IntegrationResponse:
    status: str
    selection_pattern: str | None
    parameters: Mapping[str, str]
    templates: Mapping[str, str]


@dataclass(frozen=True)
class _AwsTarget:
    """An AWS integration's ``uri``: the service, its region, and ``path`` or ``action``."""

    region: str
    service: str
    kind: str
    target: str


@dataclass(frozen=True)
class _Integration:
    type: str
    function_arn: str | None
    request_templates: Mapping[str, str]
    passthrough: str
    timeout_seconds: float
    responses: tuple[_IntegrationResponse, ...]
    aws: _AwsTarget | None = None
    credentials: str | None = None
    http_method: str = "POST"
    request_parameters: Mapping[str, str] = field(default_factory=dict)
    uri: str | None = None
    connection_type: str = "INTERNET"


@dataclass(frozen=True)
class _Backend:
    """What an AWS service answered an integration request."""

    status: int
    headers: tuple[tuple[str, str], ...]
    body: str
    request_id: str


@dataclass(frozen=True)
class _Method:
    http_method: str
    authorization: str
    authorizer_id: str | None
    api_key_required: bool
    request_parameters: Mapping[str, bool]
    request_models: Mapping[str, str]
    validator_id: str | None
    authorization_scopes: tuple[str, ...]
    integration: _Integration | None
    method_responses: Mapping[str, Mapping[str, bool]]


@dataclass
class _Resource:
    id: str
    part: str
    path: str
    children: list[_Resource] = field(default_factory=list)
    methods: dict[str, _Method] = field(default_factory=dict)


@dataclass(frozen=True)
class _Authorizer:
    id: str
    name: str
    type: str
    function_arn: str | None
    identity_sources: tuple[str, ...]
    ttl_seconds: int
    validation: re.Pattern[str] | None
    issuers: tuple[str, ...]


@dataclass(frozen=True)
class _Validator:
    body: bool
    parameters: bool


@dataclass(frozen=True)
class _Throttle:
    rate: float
    burst: int


@dataclass(frozen=True)
class _Stage:
    name: str
    variables: Mapping[str, str]
    access_log_format: str | None
    tracing: bool
    # (resource path or "*", METHOD or "*") -> throttle
    throttles: Mapping[tuple[str, str], _Throttle]


@dataclass(frozen=True)
class ApiKey:
    """An API key: its id, name, value (the plan's, or a local one) and whether it is on."""

    id: str
    name: str
    value: str
    enabled: bool
    generated: bool


@dataclass(frozen=True)
class _Quota:
    limit: int
    period: str
    offset: int


@dataclass(frozen=True)
class _UsagePlan:
    id: str
    name: str
    throttle: _Throttle | None
    quota: _Quota | None
    # (api id, stage) -> {"/resource/path/METHOD": throttle}
    stages: Mapping[tuple[str, str], Mapping[str, _Throttle]]
    key_ids: frozenset[str]


class UsagePlans:
    """The account's usage plans and API keys, with the per-key counters that every stage bound
    to a plan shares."""

    def __init__(self, plans: Sequence[_UsagePlan], keys: Sequence[ApiKey],
                 clock: Callable[[], float]) -> None:
        self.plans = tuple(plans)
        self.keys = {key.value: key for key in keys}
        self._clock = clock
        self._started = clock()
        self._buckets: dict[tuple[str, ...], TokenBucket] = {}
        self._quota_used: dict[tuple[str, str, str], int] = {}
        self._lock = threading.Lock()

    def keys_of(self, api_id: str, stage: str) -> list[ApiKey]:
        ids = {key_id for plan in self.plans if (api_id, stage) in plan.stages
               for key_id in plan.key_ids}
        return sorted((key for key in self.keys.values() if key.id in ids),
                      key=lambda key: key.name)

    def admit(self, value: str | None, api_id: str, stage: str, resource_path: str,
              method: str) -> ApiKey:
        """The key a request is metered under; ``GatewayError`` when it may not pass."""
        key = self.keys.get(value or "")
        plan = next((plan for plan in self.plans if key is not None and key.enabled
                     and key.id in plan.key_ids and (api_id, stage) in plan.stages), None)
        if key is None or plan is None:
            raise GatewayError("INVALID_API_KEY", "Forbidden")
        method_throttles = plan.stages[(api_id, stage)]
        path = f"{resource_path.rstrip('/') or ''}/{method}"
        throttle = method_throttles.get(path, plan.throttle)
        if throttle is not None and not self._bucket((plan.id, key.id, path if path in
                                                      method_throttles else "*"),
                                                     throttle).take():
            raise GatewayError("THROTTLED", "Too Many Requests")
        if plan.quota is not None and not self._count(plan, key):
            raise GatewayError("QUOTA_EXCEEDED", "Limit Exceeded")
        return key

    def _bucket(self, key: tuple[str, ...], throttle: _Throttle) -> TokenBucket:
        with self._lock:
            if key not in self._buckets:
                self._buckets[key] = TokenBucket(throttle.rate, throttle.burst, self._clock)
            return self._buckets[key]

    def _count(self, plan: _UsagePlan, key: ApiKey) -> bool:
        assert plan.quota is not None
        period = _quota_period(plan.quota.period, self._clock())
        first = period == _quota_period(plan.quota.period, self._started)
        limit = plan.quota.limit - (plan.quota.offset if first else 0)
        with self._lock:
            used = self._quota_used.get((plan.id, key.id, period), 0)
            if used >= limit:
                return False
            self._quota_used[(plan.id, key.id, period)] = used + 1
            return True


def _quota_period(period: str, at: float) -> str:
    day = datetime.fromtimestamp(at, UTC).date()
    if period == "DAY":
        return day.isoformat()
    if period == "WEEK":
        return (day - timedelta(days=day.weekday())).isoformat()
    return f"{day.year}-{day.month:02d}"


def local_key_value(key_id: str) -> str:
    """The value local mode gives an API key whose value API Gateway would generate: 40
    characters, as API Gateway's, the same for a key id from run to run."""
    return hashlib.sha256(f"blueprints-local-api-key/{key_id}".encode()).hexdigest()[
        :LOCAL_KEY_LENGTH]


# --- reading the plan --------------------------------------------------------------------------

class _Plan:
    """The plan's ``aws:apigateway/*`` resources, inputs and state merged, secrets revealed."""

    def __init__(self, run: StackRun) -> None:
        self.run = run
        self.by_type: dict[str, list[tuple[PlanResource, dict[str, Any]]]] = {}
        for resource in run.resources:
            if resource.type.startswith(("aws:apigateway/", "aws:lambda/", ROLE, QUEUE)):
                merged = {**reveal(dict(resource.state)), **reveal(dict(resource.inputs))}
                self.by_type.setdefault(resource.type, []).append((resource, merged))

    def of(self, type_: str, api_id: str | None = None
           ) -> list[tuple[PlanResource, dict[str, Any]]]:
        found = self.by_type.get(type_, [])
        if api_id is None:
            return found
        return [(r, values) for r, values in found
                if api_id in (values.get("restApi"), values.get("restApiId"))]


def _function_arn(uri: Any) -> str | None:
    match = _FUNCTION_URI.fullmatch(str(uri or ""))
    return match.group(1) if match else None


def _aws_target(uri: Any) -> _AwsTarget | None:
    match = _AWS_URI.fullmatch(str(uri or ""))
    if match is None:
        return None
    region, service, kind, target = match.groups()
    return _AwsTarget(region, service.rsplit(".", 1)[-1].lower(), kind, target)


def _status(value: Any) -> int | None:
    return int(value) if value not in (None, "") else None


def _throttle(rate: Any, burst: Any) -> _Throttle | None:
    """A throttle from API Gateway's settings; ``None`` (no limit) when unset or ``-1``."""
    if rate in (None, -1) and burst in (None, -1):
        return None
    return _Throttle(float(rate if rate not in (None, -1) else 1e9),
                     int(burst if burst not in (None, -1) else 1e9))


def _usage_plans(plan: _Plan, clock: Callable[[], float]) -> UsagePlans:
    keys = []
    for resource, values in plan.of(API_KEY):
        key_id = str(resource.id or values.get("id") or resource.name)
        value = values.get("value")
        keys.append(ApiKey(key_id, str(values.get("name") or key_id),
                           str(value) if value else local_key_value(key_id),
                           values.get("enabled", True) is not False, not value))
    members: dict[str, set[str]] = {}
    for _, values in plan.of(USAGE_PLAN_KEY):
        if values.get("keyType", "API_KEY") == "API_KEY":
            members.setdefault(str(values["usagePlanId"]), set()).add(str(values["keyId"]))
    plans = []
    for resource, values in plan.of(USAGE_PLAN):
        plan_id = str(resource.id or values.get("id"))
        settings = values.get("throttleSettings") or {}
        quota = values.get("quotaSettings")
        stages = {(str(s["apiId"]), str(s["stage"])): {
            str(t["path"]): throttle for t in s.get("throttles") or ()
            if (throttle := _throttle(t.get("rateLimit"), t.get("burstLimit")))}
            for s in values.get("apiStages") or ()}
        plans.append(_UsagePlan(
            plan_id, str(values.get("name") or resource.name),
            _throttle(settings.get("rateLimit"), settings.get("burstLimit")) if settings
            else None,
            _Quota(int(quota["limit"]), str(quota.get("period") or "DAY"),
                   int(quota.get("offset") or 0)) if quota else None,
            stages, frozenset(members.get(plan_id, ()))))
    return UsagePlans(plans, keys, clock)


def rest_apis(run: StackRun, *, lambdas: Lambdas, policies: PlanPolicies, aws: EmbeddedAws,
              output: Callable[[str], None] = print, clock: Callable[[], float] = time.time,
              verify_token: TokenVerifier | None = None,
              vpc_link: VpcLinkTarget | None = None) -> list[RestApi]:
    """One ``RestApi`` per stage of every REST API in the plan, sharing the account's usage
    plans. ``clock`` (seconds since the epoch) drives throttles, quotas, caches and times;
    ``verify_token(token, issuer, scopes)`` checks Cognito tokens (by default with
    ``tools.local.tokens`` against the embedded AWS's user pools); ``vpc_link(target, path)``
    is the local URL a VPC link integration's target leads to (``tools.local.services``)."""
    plan = _Plan(run)
    usage = _usage_plans(plan, clock)
    account = plan_account(run)
    apis = []
    for resource, values in plan.of(REST_API):
        api_id = str(resource.id or values["id"])
        region = region_of(run, resource, aws.region)
        stages = [values for _, values in plan.of(STAGE, api_id)]
        for stage in stages:
            apis.append(RestApi(plan, resource, values, stage, account=account, region=region,
                                lambdas=lambdas, policies=policies, aws=aws, usage=usage,
                                output=output, clock=clock, verify_token=verify_token,
                                vpc_link=vpc_link))
        if not stages:
            LOG.warning("REST API %s has no stage in the plan: nothing serves it", resource.name)
    return apis


# --- one stage ---------------------------------------------------------------------------------

@dataclass
class _Call:
    """One request on its way through the stage, and what API Gateway learned about it."""

    request: Request
    request_id: str
    started: float
    context: dict[str, Any]
    path: str = "/"
    resource: _Resource | None = None
    method: _Method | None = None
    path_parameters: dict[str, str] = field(default_factory=dict)
    api_key: ApiKey | None = None
    usage_identifier_key: str | None = None
    authorizer: dict[str, Any] | None = None
    # The role whose credentials signed an AWS_IAM request.
    caller_role: str | None = None


class RestApi:
    """One stage of one REST API of the plan; ``handle`` answers its requests."""

    def __init__(self, plan: _Plan, resource: PlanResource, values: Mapping[str, Any],
                 stage: Mapping[str, Any], *, account: str, region: str, lambdas: Lambdas,
                 policies: PlanPolicies, aws: EmbeddedAws, usage: UsagePlans,
                 output: Callable[[str], None], clock: Callable[[], float],
                 verify_token: TokenVerifier | None, vpc_link: VpcLinkTarget | None = None
                 ) -> None:
        self.resource = resource.name
        self.api_id = str(resource.id or values["id"])
        self.region = region
        self.account = account
        self.stage = str(stage["stageName"])
        self.domain_name = f"{self.api_id}.execute-api.{region}.amazonaws.com"
        self._lambdas = lambdas
        self._policies = policies
        self._aws = aws
        self._usage = usage
        self._output = output
        self._clock = clock
        self._verify_token = verify_token
        self._vpc_link = vpc_link
        self._key_source = str(values.get("apiKeySource") or "HEADER")
        self._binary_types = tuple(str(t) for t in values.get("binaryMediaTypes") or ())
        self._lock = threading.Lock()
        self._method_buckets: dict[tuple[str, str], TokenBucket] = {}
        self._role_credentials: dict[tuple[str, str], Credentials] = {}
        self._partition = partition(region)
        self._authorizer_cache: dict[tuple[str, tuple[str, ...]], tuple[float, Any]] = {}
        self.notes: list[str] = []
        self._stage = self._read_stage(plan, stage)
        self._models = self._read_models(plan)
        self._validators = {str(v.get("id") or r.id): _Validator(
            bool(v.get("validateRequestBody")), bool(v.get("validateRequestParameters")))
            for r, v in plan.of(VALIDATOR, self.api_id)}
        self._authorizers = self._read_authorizers(plan)
        self._trust = self._read_trust_policies(plan)
        # queue ARN -> the KMS key it encrypts with (as the plan names it), or None
        self._queue_keys = {str(v["arn"]): (None if v.get("sqsManagedSseEnabled") else
                                            str(v["kmsMasterKeyId"]) if v.get("kmsMasterKeyId")
                                            else None)
                            for _, v in plan.of(QUEUE) if v.get("arn")}
        self._responses = {str(v["responseType"]): _GatewayResponse(
            _status(v.get("statusCode")), dict(v.get("responseParameters") or {}),
            dict(v.get("responseTemplates") or {})) for _, v in plan.of(GATEWAY_RESPONSE,
                                                                         self.api_id)}
        self._root = self._read_tree(plan, str(values["rootResourceId"]))
        self.private = "PRIVATE" in _endpoint_types(values)
        self._resource_policy = self._read_resource_policy(plan, values)
        for key in usage.keys_of(self.api_id, self.stage):
            if key.generated:
                self._note(f"{self.resource}/{self.stage}: API key {key.name} has no value in "
                           f"the plan (API Gateway would generate one); locally it is "
                           f"{key.value}")

    def _note(self, text: str) -> None:
        if text not in self.notes:
            self.notes.append(text)

    # reading

    def _read_resource_policy(self, plan: _Plan, values: Mapping[str, Any]) -> Policy | None:
        """The API's resource policy (``policy``, or a ``RestApiPolicy`` of it), its
        ``execute-api:/...`` resources written out as API Gateway reads them."""
        documents = [values.get("policy"), *(v.get("policy") for _, v in
                                              plan.of(REST_API_POLICY, self.api_id))]
        document = next((d for d in documents if d), None)
        if document is None:
            return None
        base = f"arn:{self._partition}:execute-api:{self.region}:{self.account}:{self.api_id}/"
        text = document if isinstance(document, str) else json.dumps(document)
        try:
            return Policy.parse(text.replace('"execute-api:/', f'"{base}'),
                                f"the resource policy of {self.resource}")
        except PolicyError as error:
            # Refused rather than allowed: every request then meets an explicit deny.
            self._note(f"{self.resource}: its resource policy cannot be evaluated ({error}); "
                       "every request is refused")
            return Policy(f"the resource policy of {self.resource}", (
                {"Effect": "Deny", "Principal": "*", "Action": "*", "Resource": "*"},))

    def _read_stage(self, plan: _Plan, stage: Mapping[str, Any]) -> _Stage:
        throttles: dict[tuple[str, str], _Throttle] = {}
        for _, values in plan.of(METHOD_SETTINGS, self.api_id):
            if values.get("stageName") != self.stage:
                continue
            settings = values.get("settings") or {}
            path, _, method = str(values["methodPath"]).replace("~1", "/").rpartition("/")
            throttle = _throttle(settings.get("throttlingRateLimit"),
                                 settings.get("throttlingBurstLimit"))
            if throttle is not None:
                key = (path if path == "*" else "/" + path.lstrip("/"), method.upper())
                throttles[key] = throttle
            if settings.get("cachingEnabled"):
                self._note(f"{self.resource}/{self.stage}: the stage cache")
        if stage.get("cacheClusterEnabled"):
            self._note(f"{self.resource}/{self.stage}: the stage cache")
        for setting, what in (("clientCertificateId", "client certificates"),
                              ("canarySettings", "canary settings")):
            if stage.get(setting):
                self._note(f"{self.resource}/{self.stage}: {what}")
        log_settings = stage.get("accessLogSettings") or {}
        return _Stage(self.stage, {str(k): str(v) for k, v in
                                   (stage.get("variables") or {}).items()},
                      log_settings.get("format"), bool(stage.get("xrayTracingEnabled")),
                      throttles)

    def _read_models(self, plan: _Plan) -> dict[str, Any]:
        schemas = {}
        for _, values in plan.of(MODEL, self.api_id):
            try:
                schemas[str(values["name"])] = json.loads(values.get("schema") or "{}")
            except ValueError:
                self._note(f"{self.resource}: model {values['name']} is not JSON")
        registry: Registry[Any] = Registry().with_resources(
            (f"https://apigateway.amazonaws.com/restapis/{self.api_id}/models/{name}",
             Resource.from_contents(schema, default_specification=DRAFT4))
            for name, schema in schemas.items())
        validators = {}
        for name, schema in schemas.items():
            kind = jsonschema.validators.validator_for(schema, default=jsonschema.Draft4Validator)
            try:
                kind.check_schema(schema)
            except jsonschema.SchemaError as error:
                self._note(f"{self.resource}: model {name} is no JSON schema: "
                           f"{error.message}")
                continue
            validators[name] = kind(schema, registry=registry)
        return validators

    def _read_authorizers(self, plan: _Plan) -> dict[str, _Authorizer]:
        authorizers = {}
        for resource, values in plan.of(AUTHORIZER, self.api_id):
            kind = str(values.get("type") or "TOKEN")
            sources = tuple(s.strip() for s in str(values.get(
                "identitySource", "method.request.header.Authorization") or "").split(",")
                if s.strip())
            expression = values.get("identityValidationExpression")
            ttl = values.get("authorizerResultTtlInSeconds")
            issuers = tuple(
                f"https://cognito-idp.{arn.split(':')[3]}.amazonaws.com/{arn.rsplit('/', 1)[1]}"
                for arn in values.get("providerArns") or ())
            authorizer_id = str(resource.id or values.get("id"))
            authorizers[authorizer_id] = _Authorizer(
                authorizer_id, str(values.get("name") or resource.name), kind,
                _function_arn(values.get("authorizerUri")), sources,
                DEFAULT_AUTHORIZER_TTL if ttl is None else int(ttl),
                re.compile(str(expression)) if expression else None, issuers)
        return authorizers

    def _read_trust_policies(self, plan: _Plan) -> dict[str, Policy | None]:
        """Each role's trust policy, with the role as the resource its statements leave
        implicit; ``None`` for one local mode cannot evaluate."""
        trust: dict[str, Policy | None] = {}
        for resource, values in plan.of(ROLE):
            arn = values.get("arn")
            if not arn:
                continue
            try:
                document = values.get("assumeRolePolicy") or "{}"
                body = json.loads(document) if isinstance(document, str) else dict(document)
                raw = body.get("Statement")
                statements = [raw] if isinstance(raw, Mapping) else list(raw or [])
                trust[str(arn)] = Policy.parse(
                    {"Statement": [{**statement, "Resource": str(arn)}
                                   for statement in statements]},
                    f"trust policy of {resource.name}")
            except (PolicyError, ValueError, TypeError, AttributeError):
                trust[str(arn)] = None
        return trust

    def _read_tree(self, plan: _Plan, root_id: str) -> _Resource:
        parts = {str(r.id or v.get("id")): (str(v["parentId"]), str(v["pathPart"]))
                 for r, v in plan.of(RESOURCE, self.api_id)}
        nodes = {root_id: _Resource(root_id, "", "/")}

        def node(resource_id: str) -> _Resource | None:
            if resource_id not in nodes:
                if resource_id not in parts:
                    return None
                parent_id, part = parts[resource_id]
                parent = node(parent_id)
                if parent is None:
                    return None
                nodes[resource_id] = _Resource(resource_id, part,
                                               f"{parent.path.rstrip('/')}/{part}")
                parent.children.append(nodes[resource_id])
            return nodes[resource_id]

        for resource_id in parts:
            if node(resource_id) is None:
                self._note(f"{self.resource}: resource {resource_id} hangs from "
                           "no resource of the API")
        for children in (n.children for n in nodes.values()):
            # A literal path part first, then {param}, then {proxy+}, as API Gateway matches.
            children.sort(key=lambda child: (child.part.endswith("+}"),
                                             child.part.startswith("{")))
        for _, values in plan.of(METHOD, self.api_id):
            owner = nodes.get(str(values["resourceId"]))
            if owner is not None:
                method = self._read_method(plan, owner, values)
                owner.methods[method.http_method] = method
        return nodes[root_id]

    def _read_method(self, plan: _Plan, owner: _Resource, values: Mapping[str, Any]
                     ) -> _Method:
        http_method = str(values["httpMethod"]).upper()

        def same_method(kind: str) -> list[dict[str, Any]]:
            return [v for _, v in plan.of(kind, self.api_id)
                    if str(v.get("resourceId")) == owner.id
                    and str(v.get("httpMethod", "")).upper() == http_method]

        integration = None
        for found in same_method(INTEGRATION):
            integration = self._read_integration(found, same_method(INTEGRATION_RESPONSE),
                                                 f"{http_method} {owner.path}")
        if integration is None:
            self._note(f"{self.resource}: {http_method} {owner.path} has no "
                       "integration (answered 500)")
        return _Method(
            http_method, str(values.get("authorization") or "NONE").upper(),
            str(values["authorizerId"]) if values.get("authorizerId") else None,
            bool(values.get("apiKeyRequired")),
            {str(k): bool(v) for k, v in (values.get("requestParameters") or {}).items()},
            {str(k): str(v) for k, v in (values.get("requestModels") or {}).items()},
            str(values["requestValidatorId"]) if values.get("requestValidatorId") else None,
            tuple(values.get("authorizationScopes") or ()), integration,
            {str(v["statusCode"]): dict(v.get("responseParameters") or {})
             for v in same_method(METHOD_RESPONSE)})

    def _read_integration(self, values: Mapping[str, Any],
                          responses: Sequence[Mapping[str, Any]], where: str) -> _Integration:
        kind = str(values.get("type") or "").upper()
        target = _aws_target(values.get("uri")) if kind == "AWS" else None
        credentials = str(values["credentials"]) if values.get("credentials") else None
        if kind == "AWS":
            problem = _aws_integration_problem(values.get("uri"), target, credentials)
            if problem is not None:
                self._note(f"{self.resource}: {where}'s AWS integration {problem} "
                           "(answered 500)")
        elif kind == "HTTP_PROXY" and values.get("connectionType") != "VPC_LINK":
            self._note(f"{self.resource}: {where}'s HTTP_PROXY integration to the internet "
                       "(answered 500)")
        elif kind not in ("AWS_PROXY", "MOCK", "HTTP_PROXY"):
            self._note(f"{self.resource}: {where}'s {kind} integration "
                       "(answered 500)")
        templates = {str(k): str(v) for k, v in (values.get("requestTemplates") or {}).items()}
        read = tuple(_IntegrationResponse(
            str(r["statusCode"]), str(r["selectionPattern"]) if r.get("selectionPattern")
            else None, dict(r.get("responseParameters") or {}),
            {str(k): str(v) for k, v in (r.get("responseTemplates") or {}).items()})
            for r in responses)
        for template in [*templates.values(), *(t for r in read for t in r.templates.values())]:
            try:
                check_syntax(template)
            except VtlError as error:
                self._note(f"{self.resource}: a mapping template of {where}: "
                           f"{error}")
        return _Integration(
            kind, _function_arn(values.get("uri")), templates,
            str(values.get("passthroughBehavior") or "WHEN_NO_MATCH").upper(),
            int(values.get("timeoutMilliseconds") or DEFAULT_INTEGRATION_TIMEOUT_MS) / 1000,
            read, target, credentials,
            str(values.get("integrationHttpMethod") or "POST").upper(),
            {str(k): str(v) for k, v in (values.get("requestParameters") or {}).items()},
            str(values["uri"]) if values.get("uri") else None,
            str(values.get("connectionType") or "INTERNET"))

    @property
    def api_keys(self) -> dict[str, str]:
        """The names and values of the API keys that can call this stage."""
        return {key.name: key.value for key in self._usage.keys_of(self.api_id, self.stage)}

    # serving

    def handle(self, request: Request) -> Reply:
        """API Gateway's answer to ``request`` (its path starts with the stage)."""
        call = self._begin(request)
        try:
            reply = self._serve(call)
        except GatewayError as error:
            reply = self._gateway_reply(error, call)
        return self._finish(call, reply)

    def _begin(self, request: Request) -> _Call:
        now = self._clock()
        request_id = str(uuid.uuid4())
        context: dict[str, Any] = {
            "accountId": self.account, "apiId": self.api_id, "domainName": self.domain_name,
            "domainPrefix": self.api_id, "extendedRequestId": _extended_id(request_id),
            "httpMethod": request.method.upper(), "path": request.raw_path,
            "protocol": "HTTP/1.1", "requestId": request_id,
            "requestTime": datetime.fromtimestamp(now, UTC).strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "requestTimeEpoch": int(now * 1000), "stage": self.stage,
            "identity": {"sourceIp": request.source_ip,
                         "userAgent": request.header("User-Agent"),
                         **({"vpceId": request.source_vpce, "vpcId": request.source_vpc}
                            if request.source_vpce else {})},
            "error": {}, "integration": {}, "authorizer": {}, "waf": {},
        }
        return _Call(request, request_id, now, context)

    def _serve(self, call: _Call) -> Reply:
        if len(call.request.body) > MAX_PAYLOAD_BYTES:
            raise GatewayError("REQUEST_TOO_LARGE", "Request Too Long")
        self._check_host(call.request)
        if self.private and call.request.source_vpce is None:
            # Outside every VPC, as from the internet: a private API answers no one.
            raise GatewayError("MISSING_AUTHENTICATION_TOKEN", "Forbidden",
                               error_type="ForbiddenException")
        self._route(call)
        assert call.method is not None
        assert call.resource is not None
        self._throttle_method(call)
        method = call.method
        if method.authorization == "AWS_IAM":
            self._authorize_iam(call)
        elif method.authorization == "CUSTOM":
            self._authorize_custom(call)
        elif method.authorization == "COGNITO_USER_POOLS":
            self._authorize_cognito(call)
        self._apply_resource_policy(call)
        if method.api_key_required:
            key = (call.usage_identifier_key if self._key_source == "AUTHORIZER"
                   else call.request.header("x-api-key"))
            call.api_key = self._usage.admit(key, self.api_id, self.stage,
                                             call.resource.path, call.request.method.upper())
            call.context["identity"].update(apiKey=call.api_key.value,
                                            apiKeyId=call.api_key.id)
        self._validate(call)
        integration = method.integration
        if integration is None:
            LOG.error("%s: %s %s has no integration", self.resource, method.http_method,
                      call.resource.path)
            raise GatewayError("API_CONFIGURATION_ERROR", "Internal server error")
        if integration.type == "AWS_PROXY":
            return self._proxy(call, integration)
        if integration.type == "MOCK":
            return self._mock(call, integration)
        if integration.type == "AWS" and integration.aws and integration.aws.service == SQS:
            return self._sqs(call, integration, integration.aws)
        if integration.type == "HTTP_PROXY" and integration.connection_type == "VPC_LINK":
            return self._http_proxy(call, integration)
        LOG.error("%s: %s integrations%s are not emulated by local mode", self.resource,
                  integration.type, f" with {integration.aws.service}" if integration.aws
                  else "")
        raise GatewayError("API_CONFIGURATION_ERROR", "Internal server error")

    def _check_host(self, request: Request) -> None:
        host = (request.header("Host") or "").split(":", 1)[0].lower()
        match = _EXECUTE_API_HOST.fullmatch(host)
        if match and host != self.domain_name:
            LOG.warning("%s answers for %s, not %s", self.resource, self.domain_name, host)
            raise GatewayError("MISSING_AUTHENTICATION_TOKEN", "Forbidden",
                               error_type="ForbiddenException")

    def _route(self, call: _Call) -> None:
        prefix = f"/{self.stage}"
        raw = call.request.raw_path
        if raw != prefix and not raw.startswith(prefix + "/"):
            raise GatewayError("MISSING_AUTHENTICATION_TOKEN", "Missing Authentication Token")
        call.path = raw[len(prefix):] or "/"
        segments = call.path.strip("/").split("/") if call.path.strip("/") else []
        found = _match(self._root, segments)
        if found is None:
            raise GatewayError("MISSING_AUTHENTICATION_TOKEN", "Missing Authentication Token")
        resource, parameters = found
        method = resource.methods.get(call.request.method.upper()) or resource.methods.get("ANY")
        if method is None:
            raise GatewayError("MISSING_AUTHENTICATION_TOKEN", "Missing Authentication Token")
        call.resource, call.method, call.path_parameters = resource, method, parameters
        call.context.update(resourceId=resource.id, resourcePath=resource.path)

    def _throttle_method(self, call: _Call) -> None:
        assert call.resource is not None
        method = call.request.method.upper()
        throttles = self._stage.throttles
        for key in ((call.resource.path, method), (call.resource.path, "*"),
                    ("*", method), ("*", "*")):
            if key in throttles:
                with self._lock:
                    bucket = self._method_buckets.setdefault(
                        (call.resource.path, method),
                        TokenBucket(throttles[key].rate, throttles[key].burst, self._clock))
                if not bucket.take():
                    raise GatewayError("THROTTLED", "Too Many Requests")
                return

    def method_arn(self, call: _Call) -> str:
        """The ARN API Gateway authorizes a request on: ``api/stage/METHOD/path``."""
        return execute_api_check(self.api_id, self.stage, call.request.method, call.path,
                                 region=self.region, account=self.account).resource

    # authorization

    def _authorize_iam(self, call: _Call) -> None:
        request = call.request
        try:
            access_key = verify_sigv4(request, service="execute-api", region=self.region,
                                      secret_for=self._aws.secret_for_access_key,
                                      session_token_for=(
                                          self._aws.session_token_for_access_key),
                                      now=datetime.fromtimestamp(self._clock(), UTC))
        except SignatureError as error:
            raise _signature_error(str(error)) from None
        role = self._aws.role_for_access_key(access_key) or ""
        principal = Principal.assumed_role(role, SESSION_NAME)
        call.caller_role = role
        call.context["identity"].update(
            accessKey=access_key, accountId=principal.account, userArn=principal.arn,
            caller=f"{_role_id(role)}:{SESSION_NAME}", user=f"{_role_id(role)}:{SESSION_NAME}")
        if role == f"arn:aws:iam::{principal.account}:role/{LOCAL_ROLE}":
            return  # the embedded AWS's administrator
        check = execute_api_check(self.api_id, self.stage, request.method, call.path,
                                  region=self.region, account=self.account)
        decision = self._policies.authorize(principal, check)
        if not decision.allowed:
            LOG.info("%s: %s", self.resource, decision.explain())
            raise GatewayError("ACCESS_DENIED", decision.message)

    def _apply_resource_policy(self, call: _Call) -> None:
        """The API's resource policy decides ``execute-api:Invoke`` on the method: an explicit
        deny refuses anyone; a caller that IAM did not authorize needs an Allow in it."""
        if self._resource_policy is None:
            return
        request = call.request
        principal = (Principal.assumed_role(call.caller_role, SESSION_NAME) if call.caller_role
                     else Principal.anonymous())
        context: dict[str, Any] = {"aws:SourceIp": request.source_ip}
        if request.source_vpce is not None:
            context.update({"aws:SourceVpce": request.source_vpce,
                            "aws:SourceVpc": request.source_vpc})
        arn = self.method_arn(call)
        decision = evaluate(IamRequest(principal, "execute-api:Invoke", arn, context),
                            resources=[(arn, self._resource_policy)])
        if decision.allowed or (call.caller_role and decision.outcome != "explicit-deny"):
            return
        LOG.info("%s: %s", self.resource, decision.explain())
        who = principal.arn if call.caller_role else "anonymous"
        explicit = " with an explicit deny" if decision.outcome == "explicit-deny" else ""
        raise GatewayError("ACCESS_DENIED", f"User: {who} is not authorized to perform: "
                                            f"execute-api:Invoke on resource: {arn}{explicit}")

    def _authorize_custom(self, call: _Call) -> None:
        assert call.method is not None
        authorizer = self._authorizers.get(call.method.authorizer_id or "")
        if authorizer is None or authorizer.function_arn is None:
            LOG.error("%s: the method names authorizer %s, which the plan does not declare "
                      "with a Lambda function", self.resource, call.method.authorizer_id)
            raise GatewayError("AUTHORIZER_CONFIGURATION_ERROR", None)
        identity = self._identity_values(call, authorizer)
        if identity is None:
            call.context["authorizer"]["error"] = "Unauthorized"
            raise GatewayError("UNAUTHORIZED", "Unauthorized")
        cache_key = (authorizer.id, identity)
        cached = None
        if authorizer.ttl_seconds > 0 and identity:
            with self._lock:
                entry = self._authorizer_cache.get(cache_key)
            if entry is not None and entry[0] > self._clock():
                cached = entry[1]
        answer = cached if cached is not None else self._invoke_authorizer(call, authorizer,
                                                                           identity)
        if cached is None and authorizer.ttl_seconds > 0 and identity:
            with self._lock:
                self._authorizer_cache[cache_key] = (self._clock() + authorizer.ttl_seconds,
                                                     answer)
        self._apply_policy(call, authorizer, answer)

    def _identity_values(self, call: _Call, authorizer: _Authorizer
                         ) -> tuple[str, ...] | None:
        """The identity source values, or ``None`` when one is missing or empty (a TOKEN
        authorizer's token must also match its validation expression)."""
        values = []
        for source in authorizer.identity_sources:
            value = self._source_value(call, source)
            if not value:
                return None
            values.append(value)
        if authorizer.type == "TOKEN" and authorizer.validation is not None and (
                not values or authorizer.validation.fullmatch(values[0]) is None):
            return None
        return tuple(values)

    def _source_value(self, call: _Call, source: str) -> str | None:
        request = call.request
        kind, _, name = source.partition(".request.")
        if kind == "method":
            where, _, name = name.partition(".")
            if where == "header":
                return request.header(name)
            if where == "querystring":
                values = request.query_multi().get(name)
                return values[-1] if values else None
            if where == "path":
                return call.path_parameters.get(name)
            return None
        if source.startswith("stageVariables."):
            return self._stage.variables.get(source.split(".", 1)[1])
        if source.startswith("context."):
            value = _dotted(call.context, source.split(".", 1)[1])
            return None if value is None else str(value)
        return None

    def _invoke_authorizer(self, call: _Call, authorizer: _Authorizer,
                           identity: tuple[str, ...]) -> Any:
        assert authorizer.function_arn is not None
        if authorizer.type == "TOKEN":
            event: dict[str, Any] = {"type": "TOKEN", "authorizationToken": identity[0],
                                     "methodArn": self.method_arn(call)}
        else:
            event = {"type": "REQUEST", "methodArn": self.method_arn(call),
                     **self._request_fields(call, authorizer_event=True)}
        source_arn = (f"arn:{partition(self.region)}:execute-api:{self.region}:{self.account}:"
                      f"{self.api_id}/authorizers/{authorizer.id}")
        started = time.monotonic()
        invocation = self._invoke(authorizer.function_arn, event, source_arn,
                                  timeout=DEFAULT_INTEGRATION_TIMEOUT_MS / 1000,
                                  denied_as="AUTHORIZER_CONFIGURATION_ERROR")
        call.context["authorizer"]["latency"] = int((time.monotonic() - started) * 1000)
        if invocation is None:
            LOG.error("%s: authorizer %s timed out", self.resource, authorizer.name)
            raise GatewayError("AUTHORIZER_CONFIGURATION_ERROR", None)
        if invocation.error:
            message = (invocation.payload or {}).get("errorMessage") if isinstance(
                invocation.payload, dict) else None
            if message == "Unauthorized":
                call.context["authorizer"]["error"] = "Unauthorized"
                raise GatewayError("UNAUTHORIZED", "Unauthorized")
            LOG.error("%s: authorizer %s failed: %s", self.resource, authorizer.name,
                      invocation.payload)
            call.context["authorizer"]["error"] = str(message)
            raise GatewayError("AUTHORIZER_CONFIGURATION_ERROR", None)
        return invocation.payload

    def _apply_policy(self, call: _Call, authorizer: _Authorizer, answer: Any) -> None:
        problem = _authorizer_answer_problem(answer)
        policy = None
        if problem is None:
            try:
                policy = Policy.parse(answer["policyDocument"], f"authorizer {authorizer.name}")
            except (PolicyError, ValueError, TypeError) as error:
                problem = f"its policyDocument cannot be evaluated: {error}"
        if problem is not None or policy is None:
            LOG.error("%s: authorizer %s answered what API Gateway refuses: %s", self.resource,
                      authorizer.name, problem)
            call.context["authorizer"]["error"] = problem
            raise GatewayError("AUTHORIZER_CONFIGURATION_ERROR", None)
        principal = Principal(f"authorizer:{answer['principalId']}", self.account)
        decision = evaluate(IamRequest(principal, "execute-api:Invoke", self.method_arn(call)),
                            [policy])
        if decision.outcome == "explicit-deny":
            raise GatewayError("ACCESS_DENIED", "User is not authorized to access this "
                               "resource with an explicit deny")
        if not decision.allowed:
            raise GatewayError("ACCESS_DENIED", "User is not authorized to access this "
                               "resource")
        context = {str(k): _context_text(v) for k, v in (answer.get("context") or {}).items()}
        call.authorizer = {**context, "principalId": str(answer["principalId"]),
                           "integrationLatency": call.context["authorizer"].get("latency", 0)}
        call.context["authorizer"].update(call.authorizer)
        call.usage_identifier_key = answer.get("usageIdentifierKey")

    def _authorize_cognito(self, call: _Call) -> None:
        assert call.method is not None
        authorizer = self._authorizers.get(call.method.authorizer_id or "")
        if authorizer is None:
            raise GatewayError("AUTHORIZER_CONFIGURATION_ERROR", None)
        identity = self._identity_values(call, authorizer)
        if identity is None:
            raise GatewayError("UNAUTHORIZED", "Unauthorized")
        token = identity[0].removeprefix("Bearer ").strip()
        verify = self._verify_token or self._local_token_verifier()
        scopes = call.method.authorization_scopes
        for issuer in authorizer.issuers:
            try:
                claims = dict(verify(token, issuer, scopes))
            except Exception as error:  # noqa: BLE001 - any refusal is API Gateway's 401
                LOG.info("%s: token refused for %s: %s", self.resource, issuer, error)
                continue
            if claims.get("token_use") != ("access" if scopes else "id"):
                LOG.info("%s: a Cognito authorizer takes an %s token here", self.resource,
                         "access" if scopes else "identity")
                continue
            call.authorizer = {"claims": {str(k): _claim_text(v) for k, v in claims.items()}}
            call.context["authorizer"].update(call.authorizer)
            return
        raise GatewayError("UNAUTHORIZED", "Unauthorized")

    def _local_token_verifier(self) -> TokenVerifier:
        from tools.local.tokens import JwtVerifier, LocalIssuers

        verifier = JwtVerifier(LocalIssuers(self._aws).jwks, clock=self._clock)

        def verify(token: str, issuer: str, scopes: Sequence[str]) -> Mapping[str, Any]:
            return verifier.verify(token, issuer=issuer, audiences=None, scopes=scopes).claims

        self._verify_token = verify
        return verify

    # validation

    def _validate(self, call: _Call) -> None:
        method = call.method
        assert method is not None
        validator = self._validators.get(method.validator_id or "")
        if validator is None:
            return
        if validator.parameters:
            missing = [name.split(".", 3)[3] for name, required
                       in method.request_parameters.items()
                       if required and not self._parameter_present(call, name)]
            if missing:
                raise GatewayError("BAD_REQUEST_PARAMETERS", "Missing required request "
                                   f"parameters: [{', '.join(missing)}]")
        if validator.body:
            content_type = _media_type(call.request.header("Content-Type"))
            model = method.request_models.get(content_type) or method.request_models.get(
                "$default")
            schema = self._models.get(model or "")
            if schema is None:
                return
            try:
                document = json.loads(call.request.body or b"")
            except ValueError:
                raise GatewayError("BAD_REQUEST_BODY", "Invalid request body",
                                   validation_errors=["the body is not JSON"]) from None
            errors = [error.message for error in schema.iter_errors(document)]
            if errors:
                raise GatewayError("BAD_REQUEST_BODY", "Invalid request body",
                                   validation_errors=errors)

    def _parameter_present(self, call: _Call, name: str) -> bool:
        parts = name.split(".", 3)
        if len(parts) != 4 or parts[:2] != ["method", "request"]:
            return True
        where, parameter = parts[2], parts[3]
        if where in ("header", "multivalueheader"):
            return call.request.header(parameter) is not None
        if where in ("querystring", "multivaluequerystring"):
            return parameter in call.request.query_multi()
        if where == "path":
            return bool(call.path_parameters.get(parameter))
        return True

    # integrations

    def _request_fields(self, call: _Call, *, authorizer_event: bool = False
                        ) -> dict[str, Any]:
        """What the proxy event and the REQUEST authorizer event share."""
        request = call.request
        headers: dict[str, list[str]] = {}
        spelled: dict[str, str] = {}
        for name, value in request.headers:
            headers.setdefault(spelled.setdefault(name.lower(), name), []).append(value)
        query = request.query_multi()
        assert call.resource is not None
        context = {key: value for key, value in call.context.items()
                   if key not in ("error", "integration", "authorizer", "waf", "status",
                                  "responseLength", "responseLatency")}
        context["identity"] = _identity(call.context["identity"])
        if not authorizer_event and call.authorizer is not None:
            context["authorizer"] = call.authorizer
        return {
            "resource": call.resource.path, "path": call.path,
            "httpMethod": request.method.upper(),
            "headers": {name: values[-1] for name, values in headers.items()} or None,
            "multiValueHeaders": headers or None,
            "queryStringParameters": {k: v[-1] for k, v in query.items()} or None,
            "multiValueQueryStringParameters": query or None,
            "pathParameters": call.path_parameters or (
                {} if authorizer_event else None),
            "stageVariables": dict(self._stage.variables) or None,
            "requestContext": context,
        }

    def _proxy_event(self, call: _Call) -> dict[str, Any]:
        body = call.request.body
        binary = _media_matches(call.request.header("Content-Type"), self._binary_types)
        return {**self._request_fields(call),
                "body": (base64.b64encode(body).decode() if binary else
                         body.decode("utf-8", "replace")) if body else None,
                "isBase64Encoded": bool(body) and binary}

    def _invoke(self, function_arn: str, event: Any, source_arn: str, *, timeout: float,
                denied_as: str) -> Invocation | None:
        """The function's answer, ``None`` after ``timeout`` seconds (the invocation goes on,
        as it does in Lambda when API Gateway stops waiting)."""
        from tools.local.lambdas import FunctionNotFoundError, InvokeDeniedError

        outcome: dict[str, Any] = {}
        done = threading.Event()

        def run() -> None:
            try:
                outcome["invocation"] = self._lambdas.invoke(
                    function_arn, event, caller=Principal.service_principal(API_GATEWAY),
                    source_arn=source_arn, source_account=self.account)
            except BaseException as error:  # noqa: BLE001 - handed to the waiting request
                outcome["error"] = error
            finally:
                done.set()

        threading.Thread(target=run, name=f"{self.resource} invoke", daemon=True).start()
        if not done.wait(timeout):
            return None
        error = outcome.get("error")
        if isinstance(error, InvokeDeniedError):
            LOG.error("%s: API Gateway may not invoke %s: %s", self.resource, function_arn,
                      error)
            raise GatewayError(denied_as, "Internal server error" if denied_as ==
                               "API_CONFIGURATION_ERROR" else None) from None
        if isinstance(error, FunctionNotFoundError):
            LOG.error("%s: %s", self.resource, error)
            raise GatewayError(denied_as, "Internal server error" if denied_as ==
                               "API_CONFIGURATION_ERROR" else None) from None
        if error is not None:
            raise error
        invocation: Invocation = outcome["invocation"]
        return invocation

    def _proxy(self, call: _Call, integration: _Integration) -> Reply:
        assert call.resource is not None
        if integration.function_arn is None:
            LOG.error("%s: the AWS_PROXY integration of %s has no Lambda function URI",
                      self.resource, call.resource.path)
            raise GatewayError("API_CONFIGURATION_ERROR", "Internal server error")
        source_arn = (f"arn:{partition(self.region)}:execute-api:{self.region}:{self.account}:"
                      f"{self.api_id}/{self.stage}/{call.request.method.upper()}/"
                      f"{call.resource.path.lstrip('/')}")
        started = time.monotonic()
        invocation = self._invoke(integration.function_arn, self._proxy_event(call),
                                  source_arn, timeout=integration.timeout_seconds,
                                  denied_as="API_CONFIGURATION_ERROR")
        call.context["integration"]["latency"] = int((time.monotonic() - started) * 1000)
        call.context["integrationLatency"] = call.context["integration"]["latency"]
        if invocation is None:
            call.context["integration"]["error"] = "Endpoint request timed out"
            raise GatewayError("INTEGRATION_TIMEOUT", "Endpoint request timed out")
        call.context["integration"]["requestId"] = invocation.request_id
        call.context["integration"]["status"] = 200
        call.context["integrationStatus"] = 200
        if invocation.error:
            LOG.info("%s: the function failed: %s", self.resource, invocation.payload)
            call.context["integration"]["error"] = str(
                (invocation.payload or {}).get("errorMessage", "")
                if isinstance(invocation.payload, dict) else invocation.payload)
            raise _internal_error()
        reply = _proxy_reply(invocation.payload, call.request, self._binary_types)
        if reply is None:
            LOG.error("%s: malformed Lambda proxy response: %s", self.resource,
                      json.dumps(invocation.payload)[:500])
            call.context["integration"]["error"] = "Malformed Lambda proxy response"
            raise _internal_error()
        return reply

    def _integration_request_body(self, call: _Call, integration: _Integration) -> str:
        """The integration request's body: the request template for the request's content
        type rendered, or the body passed through as ``passthroughBehavior`` allows."""
        body = call.request.body.decode("utf-8", "replace")
        content_type = _media_type(call.request.header("Content-Type"))
        template = integration.request_templates.get(content_type)
        if template is None and (integration.passthrough == "NEVER" or (
                integration.passthrough == "WHEN_NO_TEMPLATES" and
                integration.request_templates)):
            raise GatewayError("UNSUPPORTED_MEDIA_TYPE", "Unsupported Media Type")
        if template is None:
            return body
        try:
            return render(template, self._template_variables(call, body))
        except VtlError as error:
            LOG.error("%s: the request template failed: %s", self.resource, error)
            raise GatewayError("API_CONFIGURATION_ERROR", "Internal server error") from None

    def _mock(self, call: _Call, integration: _Integration) -> Reply:
        status = _mock_status(self._integration_request_body(call, integration))
        call.context["integration"]["status"] = status
        call.context["integrationStatus"] = status
        return self._integration_response(call, integration, str(status), "")

    # AWS service integrations: SQS

    def _sqs(self, call: _Call, integration: _Integration, target: _AwsTarget) -> Reply:
        body = self._integration_request_body(call, integration)
        headers, query = self._integration_request_parameters(call, integration)
        content_type = headers.get("content-type") or call.request.header(
            "Content-Type") or DEFAULT_CONTENT_TYPE
        role, session = self._integration_role(call, integration)
        started = time.monotonic()
        finished, backend = _within(
            integration.timeout_seconds, f"{self.resource} SQS",
            lambda: self._send_to_sqs(target, role, session, content_type,
                                      body if integration.http_method == "POST" else "",
                                      query))
        call.context["integration"]["latency"] = int((time.monotonic() - started) * 1000)
        call.context["integrationLatency"] = call.context["integration"]["latency"]
        if not finished:
            call.context["integration"]["error"] = "Endpoint request timed out"
            raise GatewayError("INTEGRATION_TIMEOUT", "Endpoint request timed out")
        assert isinstance(backend, _Backend)
        call.context["integration"].update(status=backend.status, requestId=backend.request_id)
        call.context["integrationStatus"] = backend.status
        return self._integration_response(call, integration, str(backend.status),
                                          backend.body, backend.headers)

    def _integration_request_parameters(self, call: _Call, integration: _Integration
                                        ) -> tuple[dict[str, str], list[tuple[str, str]]]:
        """The integration request's headers (by lower-case name) and query string, as its
        ``requestParameters`` map them."""
        headers: dict[str, str] = {}
        query: list[tuple[str, str]] = []
        for target, source in integration.request_parameters.items():
            value = self._parameter_value(call, source)
            if value is None:
                continue
            if target.startswith("integration.request.header."):
                headers[target.removeprefix("integration.request.header.").lower()] = value
            elif target.startswith("integration.request.querystring."):
                query.append((target.removeprefix("integration.request.querystring."), value))
        return headers, query

    def _integration_role(self, call: _Call, integration: _Integration) -> tuple[str, str]:
        """The role API Gateway calls the service as, and the session it opens on it."""
        role = integration.credentials
        if not role:
            LOG.error("%s: an AWS integration without credentials: API Gateway has nothing "
                      "to sign the request with", self.resource)
            raise GatewayError("API_CONFIGURATION_ERROR", "Internal server error")
        if CALLER_CREDENTIALS.fullmatch(role):
            if call.caller_role is None:
                LOG.error("%s: the integration takes the caller's credentials, but the method "
                          "is not AWS_IAM", self.resource)
                raise GatewayError("API_CONFIGURATION_ERROR", "Internal server error")
            return call.caller_role, SESSION_NAME
        if role not in self._trust:
            LOG.error("%s: API Gateway cannot assume %s: the plan has no such role",
                      self.resource, role)
            raise GatewayError("API_CONFIGURATION_ERROR", "Internal server error")
        trust = self._trust[role]
        decision = None if trust is None else evaluate(IamRequest(
            Principal.service_principal(API_GATEWAY), "sts:AssumeRole", role,
            {"aws:SourceAccount": self.account, "aws:SourceArn": self.method_arn(call)}),
            (), [(role, trust)])
        if decision is None or not decision.allowed:
            LOG.error("%s: API Gateway does not have permission to assume the provided role "
                      "%s: %s", self.resource, role, decision.explain() if decision else
                      "its trust policy cannot be evaluated")
            raise GatewayError("API_CONFIGURATION_ERROR", "Internal server error")
        return role, API_GATEWAY_SESSION

    def _credentials(self, role: str, session: str) -> Credentials:
        if role == f"arn:{self._partition}:iam::{self.account}:role/{LOCAL_ROLE}":
            return self._aws.credentials
        with self._lock:
            found = self._role_credentials.get((role, session))
        if found is None:
            found = self._aws.credentials_for_role(role, session)
            with self._lock:
                self._role_credentials[(role, session)] = found
        return found

    def _send_to_sqs(self, target: _AwsTarget, role: str, session: str, content_type: str,
                     body: str, query: Sequence[tuple[str, str]]) -> _Backend:
        """What SQS answers the integration request (its query protocol, in JSON)."""
        request_id = str(uuid.uuid4())
        form = dict(query)
        if body:
            if _media_type(content_type) != FORM:
                LOG.error("%s: the integration request's Content-Type is %s: SQS reads a form "
                          "body only as %s (map integration.request.header.Content-Type)",
                          self.resource, content_type, FORM)
                return _sqs_error(400, "UnknownOperationException",
                                  "The action or operation requested is invalid.", request_id)
            form.update(parse_qsl(body, keep_blank_values=True))
        action = form.get("Action") if target.kind == "path" else target.target
        queue = target.target.strip("/") if target.kind == "path" else _queue_path(
            form.get("QueueUrl", ""))
        if not action:
            return _sqs_error(400, "UnknownOperationException",
                              "The action or operation requested is invalid.", request_id)
        if action != "SendMessage":
            LOG.error("%s: SQS %s: local mode sends messages (SendMessage) only",
                      self.resource, action)
            raise GatewayError("API_CONFIGURATION_ERROR", "Internal server error")
        if queue is None or queue.count("/") != 1:
            return _sqs_error(400, "InvalidAddress", "The address "
                              f"{queue or form.get('QueueUrl', '')} is not valid for this "
                              "endpoint.", request_id)
        account, name = queue.split("/")
        region = target.region
        queue_arn = f"arn:{partition(region)}:sqs:{region}:{account}:{name}"
        refused = self._sqs_refusal(role, session, queue_arn, region, request_id)
        if refused is not None:
            return refused
        try:
            parameters = _send_parameters(form)
        except _SqsInputError as error:
            return _sqs_error(400, error.code, str(error), request_id)
        client = self._aws.client(SQS, region, self._credentials(role, session))
        try:
            answer = client.send_message(QueueUrl=f"{self._aws.endpoint_url}/{account}/{name}",
                                         **parameters)
        except ClientError as error:
            details = error.response.get("Error", {})
            code = str(details.get("Code") or "InternalError")
            status = int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
                         or 400)
            if code in ("AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist"):
                LOG.error("%s: the embedded AWS has no queue %s, which the integration names "
                          "(it could not create the plan's queue, or the plan has none)",
                          self.resource, queue_arn)
            else:
                LOG.info("%s: SQS refused the message: %s", self.resource, error)
            return _sqs_error(status, code, str(details.get("Message") or code), request_id)
        except BotoCoreError as error:
            LOG.error("%s: the embedded AWS's SQS did not answer: %s", self.resource, error)
            raise GatewayError("API_CONFIGURATION_ERROR", "Internal server error") from None
        request_id = str(answer.get("ResponseMetadata", {}).get("RequestId") or request_id)
        result = {name: answer.get(name) for name in (
            "MD5OfMessageAttributes", "MD5OfMessageBody", "MD5OfMessageSystemAttributes",
            "MessageId", "SequenceNumber")}
        return _Backend(200, _backend_headers(request_id), json.dumps(
            {"SendMessageResponse": {"SendMessageResult": result,
                                     "ResponseMetadata": {"RequestId": request_id}}}),
            request_id)

    def _sqs_refusal(self, role: str, session: str, queue_arn: str, region: str,
                     request_id: str) -> _Backend | None:
        """SQS's answer when local IAM refuses the send (or the key behind the queue)."""
        if role == f"arn:{self._partition}:iam::{self.account}:role/{LOCAL_ROLE}":
            return None  # the embedded AWS's administrator
        try:
            principal = Principal.assumed_role(role, session)
        except ValueError:
            LOG.error("%s: %s is not a role: API Gateway cannot assume it", self.resource, role)
            raise GatewayError("API_CONFIGURATION_ERROR", "Internal server error") from None
        decision = self._policies.authorize(principal, Check("sqs:SendMessage", queue_arn))
        if not decision.allowed:
            self._log_refusal(decision)
            return _sqs_error(403, "AccessDenied", "Access to the resource "
                              f"https://sqs.{region}.amazonaws.com/ is denied.", request_id)
        key = self._queue_key(queue_arn, region)
        if key is None:
            return None
        via = {"kms:ViaService": f"sqs.{region}.amazonaws.com",
               "kms:CallerAccount": principal.account}
        decision = self._policies.authorize(principal, Check("kms:GenerateDataKey", key,
                                                             context=via))
        if not decision.allowed:
            self._log_refusal(decision)
            return _sqs_error(400, "KMS.AccessDeniedException", decision.message, request_id)
        return None

    def _log_refusal(self, decision: Decision) -> None:
        LOG.info("%s: the integration's role is refused: %s", self.resource,
                 decision.explain())

    def _queue_key(self, queue_arn: str, region: str) -> str | None:
        """The ARN of the customer managed KMS key that encrypts the queue, if any."""
        key = self._queue_keys.get(queue_arn)
        if not key:
            return None
        account = queue_arn.split(":")[4]
        base = f"arn:{partition(region)}:kms:{region}:{account}"
        if key.startswith("alias/") or ":alias/" in key:
            alias = key if key.startswith("arn:") else f"{base}:{key}"
            if alias.endswith(":alias/aws/sqs"):
                return None  # AWS managed: its key policy lets the account use it via SQS
            return self._policies.topology.kms_aliases.get(alias, alias)
        return key if key.startswith("arn:") else f"{base}:key/{key}"

    # integration responses

    def _integration_response(self, call: _Call, integration: _Integration, status: str,
                              body: str, backend_headers: Sequence[tuple[str, str]] = ()
                              ) -> Reply:
        assert call.method is not None
        chosen = next((r for r in integration.responses if r.selection_pattern is not None
                       and _java_matches(r.selection_pattern, status)), None) or next(
            (r for r in integration.responses if r.selection_pattern is None), None)
        if chosen is None:
            LOG.error("%s: no integration response matches status %s and none is the default",
                      self.resource, status)
            raise GatewayError("API_CONFIGURATION_ERROR", "Internal server error")
        headers: dict[str, str] = {}
        for target, source in chosen.parameters.items():
            if not target.startswith("method.response.header."):
                continue
            value = self._parameter_value(call, source, (backend_headers, body))
            if value is not None:
                headers[target.removeprefix("method.response.header.")] = value
        reply_status = int(chosen.status)
        content_type, template = _pick_template(chosen.templates, call.request)
        if template is None:
            if body:
                headers.setdefault("Content-Type", DEFAULT_CONTENT_TYPE)
            return Reply(reply_status, list(headers.items()), body.encode())
        override: dict[str, Any] = {"header": _OverrideOnce(), "status": None}
        variables = self._template_variables(call, body, response_override=override)
        try:
            out = render(template, variables)
        except VtlError as error:
            LOG.error("%s: the response template failed: %s", self.resource, error)
            raise GatewayError("API_CONFIGURATION_ERROR", "Internal server error") from None
        headers.setdefault("Content-Type", content_type)
        headers.update({str(k): str(v) for k, v in override["header"].items()})
        if override["status"] is not None:
            reply_status = int(override["status"])
        return Reply(reply_status, list(headers.items()), out.encode())

    def _template_variables(self, call: _Call, body: str, *,
                            response_override: dict[str, Any] | None = None) -> dict[str, Any]:
        request = call.request
        parameters = {"path": dict(call.path_parameters),
                      "querystring": {k: v[-1] for k, v in request.query_multi().items()},
                      "header": {name: value for name, value in request.headers}}
        context = {**call.context, "identity": _identity(call.context["identity"])}
        if response_override is not None:
            context["responseOverride"] = response_override
        return {"input": MappingInput(body, parameters), "context": context,
                "stageVariables": dict(self._stage.variables), "util": MappingUtil()}

    def _http_proxy(self, call: _Call, integration: _Integration) -> Reply:
        """An ``HTTP_PROXY`` integration through a VPC link: the request passes on as sent,
        with the integration's path, header and query string mappings, to where the link's
        target (a Network Load Balancer's name in the ``uri``) leads here."""
        request = call.request
        headers = [(name, value) for name, value in request.headers]
        path_values: dict[str, str] = {}
        query = request.query
        for target, source in integration.request_parameters.items():
            value = self._parameter_value(call, source)
            kind, _, name = target.removeprefix("integration.request.").partition(".")
            if value is None:
                continue
            if kind == "path":
                path_values[name] = value
            elif kind == "header":
                headers = [(k, v) for k, v in headers if k.lower() != name.lower()]
                headers.append((name, value))
            elif kind == "querystring":
                query = "&".join(filter(None, (query, urlencode({name: value}))))
        uri = re.sub(r"\{([^{}+]+)\+?\}",
                     lambda m: quote(path_values.get(m.group(1), ""), safe="/"),
                     integration.uri or "")
        parts = urlsplit(uri)
        base = self._vpc_link(f"{parts.scheme}://{parts.netloc}", parts.path or "/") \
            if self._vpc_link else None
        if base is None:
            LOG.error("%s: the VPC link target %s leads to no local ECS service", self.resource,
                      parts.netloc)
            raise GatewayError("API_CONFIGURATION_ERROR", "Internal server error")
        url = base + (parts.path or "/") + (f"?{query}" if query else "")
        method = request.method if integration.http_method == "ANY" else integration.http_method
        started = time.monotonic()
        try:
            reply = forward(method, url, headers, request.body, integration.timeout_seconds)
        except BackendError as error:
            LOG.error("%s: %s", self.resource, error)
            if error.timed_out:
                raise GatewayError("INTEGRATION_TIMEOUT", "Endpoint request timed out") \
                    from None
            raise GatewayError("INTEGRATION_FAILURE", "Internal server error") from None
        call.context["integration"].update(
            status=reply.status, latency=int((time.monotonic() - started) * 1000))
        call.context["integrationStatus"] = reply.status
        return reply

    def _parameter_value(self, call: _Call, source: str,
                         backend: tuple[Sequence[tuple[str, str]], str] | None = None
                         ) -> str | None:
        """A mapping's value: a 'literal', a method request parameter (or its body), a
        context or stage variable, or (mapping a response) the integration response's
        header or body."""
        if len(source) >= 2 and source.startswith("'") and source.endswith("'"):
            return source[1:-1]
        if source == "method.request.body":
            return call.request.body.decode("utf-8", "replace")
        if source.startswith("method.request.body."):
            return _body_value(call.request.body.decode("utf-8", "replace"),
                               source.removeprefix("method.request.body."))
        if source.startswith("integration.response.") and backend is not None:
            headers, body = backend
            if source.startswith("integration.response.header."):
                name = source.removeprefix("integration.response.header.").lower()
                return next((v for k, v in headers if k.lower() == name), None)
            if source == "integration.response.body":
                return body
            if source.startswith("integration.response.body."):
                return _body_value(body, source.removeprefix("integration.response.body."))
            return None
        if source.startswith("method.request."):
            return self._source_value(call, source)
        if source.startswith(("context.", "stageVariables.")):
            return self._source_value(call, source)
        return None

    # answers

    def _gateway_reply(self, error: GatewayError, call: _Call) -> Reply:
        own = self._responses.get(error.response_type)
        family = self._responses.get("DEFAULT_5XX" if error.status >= 500 else "DEFAULT_4XX")
        status = (own.status if own and own.status else
                  family.status if family and family.status and not own else error.status)
        chosen = own or family
        message = error.message
        call.context["error"] = {
            "message": message if message is not None else "null",
            "messageString": json.dumps(message),
            "responseType": error.response_type,
            "validationErrorString": json.dumps(list(error.validation_errors))
            if error.validation_errors else "",
        }
        templates = (chosen.templates if chosen and chosen.templates else
                     {DEFAULT_CONTENT_TYPE: _DEFAULT_TEMPLATES.get(error.response_type,
                                                                   DEFAULT_GATEWAY_TEMPLATE)})
        content_type, template = _pick_template(templates, call.request)
        body = _substitute(template or "", call.context, self._stage.variables, missing="")
        headers = [("Content-Type", content_type), ("x-amzn-ErrorType", error.error_type)]
        for target, source in (chosen.parameters if chosen else {}).items():
            if target.startswith("gatewayresponse.header."):
                value = self._parameter_value(call, source)
                if value is not None:
                    headers.append((target.removeprefix("gatewayresponse.header."), value))
        return Reply(status, headers, body.encode())

    def _finish(self, call: _Call, reply: Reply) -> Reply:
        reply.headers += [("x-amzn-RequestId", call.request_id),
                          ("x-amz-apigw-id", call.context["extendedRequestId"])]
        if self._stage.tracing:
            reply.headers.append(("X-Amzn-Trace-Id", _trace_id(call.started)))
        call.context.update(status=reply.status, responseLength=len(reply.body),
                            responseLatency=int((self._clock() - call.started) * 1000))
        if self._stage.access_log_format:
            self._output(_substitute(self._stage.access_log_format, call.context,
                                     self._stage.variables, missing=MISSING_LOG_VALUE,
                                     json_escape=True))
        return reply


# --- helpers -----------------------------------------------------------------------------------

class _OverrideOnce(dict[str, Any]):
    """``$context.responseOverride.header``: "an override may only be applied to each
    parameter once", else API Gateway answers 5XX."""

    def __setitem__(self, key: str, value: Any) -> None:
        if key in self:
            raise VtlError(f"$context.responseOverride.header.{key} is overridden twice")
        super().__setitem__(key, value)


def _match(node: _Resource, segments: Sequence[str]
           ) -> tuple[_Resource, dict[str, str]] | None:
    """The most specific resource under ``node`` for ``segments``, with its path parameters."""
    if not segments:
        return node, {}
    head = unquote(segments[0])
    for child in node.children:
        part = child.part
        if part.startswith("{") and part.endswith("+}"):
            return child, {part[1:-2]: unquote("/".join(segments))}
        if part.startswith("{") and part.endswith("}"):
            if not head:
                continue
            found = _match(child, segments[1:])
            if found is not None:
                return found[0], {part[1:-1]: head, **found[1]}
        elif part == head:
            found = _match(child, segments[1:])
            if found is not None:
                return found
    return None


def _signature_error(message: str) -> GatewayError:
    if message == "Missing Authentication Token":
        return GatewayError("MISSING_AUTHENTICATION_TOKEN", message)
    if "security token" in message:
        return GatewayError("UNAUTHORIZED", message, status=403,
                            error_type="UnrecognizedClientException")
    if message.startswith(("Authorization header requires", "Credential ")):
        return GatewayError("INVALID_SIGNATURE", message,
                            error_type="IncompleteSignatureException")
    return GatewayError("INVALID_SIGNATURE", message)


def _role_id(role_arn: str) -> str:
    """A stable stand-in for a role's unique id (``AROA...``), which the plan does not hold."""
    return "AROA" + hashlib.sha256(role_arn.encode()).hexdigest()[:17].upper()


def _identity(identity: Mapping[str, Any]) -> dict[str, Any]:
    """``requestContext.identity`` with every field AWS sends, ``null`` when it has none."""
    fields = ("cognitoIdentityPoolId", "accountId", "cognitoIdentityId", "caller", "sourceIp",
              "principalOrgId", "accessKey", "cognitoAuthenticationType",
              "cognitoAuthenticationProvider", "userArn", "userAgent", "user", "apiKey",
              "apiKeyId", "clientCert")
    # A request through a VPC endpoint also names the endpoint and its VPC.
    private = ("vpceId", "vpcId") if identity.get("vpceId") else ()
    return {name: identity.get(name) for name in (*fields, *private)}


def _authorizer_answer_problem(answer: Any) -> str | None:
    if not isinstance(answer, dict):
        return "the answer is not an object"
    if not isinstance(answer.get("principalId"), str | int) or answer.get("principalId") == "":
        return "principalId is missing"
    if not isinstance(answer.get("policyDocument"), dict):
        return "policyDocument is missing"
    context = answer.get("context")
    if context is not None and (not isinstance(context, dict) or any(
            isinstance(value, dict | list) for value in context.values())):
        return "context must map names to strings, numbers or booleans"
    key = answer.get("usageIdentifierKey")
    if key is not None and not isinstance(key, str):
        return "usageIdentifierKey is not a string"
    return None


def _context_text(value: Any) -> str:
    """Authorizer context values reach a REST integration as strings."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _claim_text(value: Any) -> str:
    """A Cognito authorizer's claim as the integration gets it: a string, a list claim
    (``cognito:groups``) comma-separated."""
    if isinstance(value, list):
        return ",".join(_context_text(item) for item in value)
    return _context_text(value)


def _dotted(document: Mapping[str, Any], path: str) -> Any:
    value: Any = document
    for part in path.split("."):
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return value


def _substitute(template: str, context: Mapping[str, Any], stage_variables: Mapping[str, str],
                *, missing: str, json_escape: bool = False) -> str:
    return fill_references(
        template, lambda root, path: _dotted(context if root == "context" else stage_variables,
                                             path),
        missing=missing, json_escape=json_escape)


def _media_type(header: str | None) -> str:
    return (header or DEFAULT_CONTENT_TYPE).split(";", 1)[0].strip().lower() or (
        DEFAULT_CONTENT_TYPE)


def _media_matches(header: str | None, patterns: Sequence[str]) -> bool:
    if not header or not patterns:
        return False
    kinds = [_media_type(part) for part in header.split(",")]
    for pattern in patterns:
        want = pattern.lower()
        for kind in kinds:
            if want in ("*/*", kind) or (want.endswith("/*") and kind.startswith(want[:-1])):
                return True
    return False


def _pick_template(templates: Mapping[str, str], request: Request
                   ) -> tuple[str, str | None]:
    """The template for the request's ``Accept``, else ``application/json``'s, else the
    first."""
    if not templates:
        return DEFAULT_CONTENT_TYPE, None
    for kind in (_media_type(part) for part in (request.header("Accept") or "").split(",")):
        if kind in templates:
            return kind, templates[kind]
    if DEFAULT_CONTENT_TYPE in templates:
        return DEFAULT_CONTENT_TYPE, templates[DEFAULT_CONTENT_TYPE]
    kind = next(iter(templates))
    return kind, templates[kind]


def _java_matches(pattern: str, text: str) -> bool:
    try:
        return re.fullmatch(pattern, text, re.DOTALL) is not None
    except re.error:
        LOG.error("selectionPattern %r is not a regular expression", pattern)
        return False


def _aws_integration_problem(uri: Any, target: _AwsTarget | None,
                             credentials: str | None) -> str | None:
    """Why local mode cannot serve an AWS integration (the start-up note), or ``None``."""
    if target is None:
        return f"names {uri!r}, which is no AWS service URI"
    if target.service != SQS:
        return f"with {target.service}: local mode emulates AWS integrations with SQS only"
    if target.kind == "action" and target.target != "SendMessage":
        return f"with SQS action {target.target}: local mode sends messages only"
    if target.kind == "path" and target.target.strip("/").count("/") != 1:
        return (f"with SQS path {target.target!r}: local mode needs "
                "path/<account>/<queue name>")
    if not credentials:
        return "with SQS has no credentials"
    return None


def _within(timeout: float, name: str, work: Callable[[], Any]) -> tuple[bool, Any]:
    """``work()``'s result if it finishes within ``timeout`` seconds (its exception raised
    here); ``(False, None)`` otherwise, while it goes on, as the backend goes on when API
    Gateway stops waiting."""
    outcome: dict[str, Any] = {}
    done = threading.Event()

    def run() -> None:
        try:
            outcome["result"] = work()
        except BaseException as error:  # noqa: BLE001 - handed to the waiting request
            outcome["error"] = error
        finally:
            done.set()

    threading.Thread(target=run, name=name, daemon=True).start()
    if not done.wait(timeout):
        return False, None
    if "error" in outcome:
        raise outcome["error"]
    return True, outcome["result"]


class _SqsInputError(ValueError):
    """A form SQS refuses, with its error code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def _backend_headers(request_id: str) -> tuple[tuple[str, str], ...]:
    return (("Content-Type", DEFAULT_CONTENT_TYPE), ("x-amzn-RequestId", request_id))


def _sqs_error(status: int, code: str, message: str, request_id: str) -> _Backend:
    """An SQS error as its query protocol answers it in JSON."""
    return _Backend(status, _backend_headers(request_id), json.dumps(
        {"Error": {"Code": code, "Message": message, "Type": "Sender"},
         "RequestId": request_id}), request_id)


def _queue_path(url: str) -> str | None:
    """``<account>/<queue name>`` of a queue URL."""
    parts = [part for part in urlsplit(url).path.split("/") if part]
    return "/".join(parts) if len(parts) == 2 else None


def _send_parameters(form: Mapping[str, str]) -> dict[str, Any]:
    """SendMessage's parameters from its query-protocol form."""
    if "MessageBody" not in form:
        raise _SqsInputError("MissingParameter",
                             "The request must contain the parameter MessageBody.")
    parameters: dict[str, Any] = {"MessageBody": form["MessageBody"]}
    if "DelaySeconds" in form:
        try:
            parameters["DelaySeconds"] = int(form["DelaySeconds"])
        except ValueError:
            raise _SqsInputError("InvalidParameterValue", f"Value {form['DelaySeconds']} for "
                                 "parameter DelaySeconds is invalid.") from None
    for name in ("MessageGroupId", "MessageDeduplicationId"):
        if name in form:
            parameters[name] = form[name]
    for prefix, parameter in (("MessageAttribute", "MessageAttributes"),
                              ("MessageSystemAttribute", "MessageSystemAttributes")):
        attributes = _attributes(form, prefix)
        if attributes:
            parameters[parameter] = attributes
    return parameters


def _attributes(form: Mapping[str, str], prefix: str) -> dict[str, dict[str, Any]]:
    """``Prefix.N.Name`` and ``Prefix.N.Value.(DataType|StringValue|BinaryValue)`` entries."""
    entries: dict[str, dict[str, str]] = {}
    for key, text in form.items():
        match = re.fullmatch(rf"{prefix}\.(\d+)\.(Name|Value\.\w+)", key)
        if match:
            entries.setdefault(match.group(1), {})[match.group(2)] = text
    attributes: dict[str, dict[str, Any]] = {}
    for index in sorted(entries, key=int):
        entry = entries[index]
        if "Name" not in entry:
            raise _SqsInputError("InvalidParameterValue",
                                 f"{prefix}.{index}.Name is required.")
        value: dict[str, Any] = {"DataType": entry.get("Value.DataType", "")}
        if "Value.StringValue" in entry:
            value["StringValue"] = entry["Value.StringValue"]
        if "Value.BinaryValue" in entry:
            try:
                value["BinaryValue"] = base64.b64decode(entry["Value.BinaryValue"],
                                                        validate=True)
            except (binascii.Error, ValueError):
                raise _SqsInputError("InvalidParameterValue", f"{prefix}.{index}.Value."
                                     "BinaryValue is not base64.") from None
        attributes[entry["Name"]] = value
    return attributes


def _body_value(body: str, path: str) -> str | None:
    """A mapping's ``...body.<JSONPath>`` value: a string as it is, anything else as JSON."""
    try:
        document = json.loads(body) if body.strip() else None
        value = json_path(document, path if path.startswith("$") else f"$.{path}")
    except (ValueError, VtlError):
        return None
    if value is None:
        return None
    return value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))


def _mock_status(rendered: str) -> int:
    """A MOCK integration's status: the ``statusCode`` its request template writes; 200
    without one."""
    try:
        document = json.loads(rendered) if rendered.strip() else {}
    except ValueError:
        return 200
    status = document.get("statusCode") if isinstance(document, dict) else None
    if isinstance(status, int) and not isinstance(status, bool):
        return status
    if isinstance(status, str) and status.isdigit():
        return int(status)
    return 200


def _header_text(value: Any) -> str | None:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return str(value)
    return None


def _proxy_reply(payload: Any, request: Request, binary_types: Sequence[str]) -> Reply | None:
    """A Lambda proxy answer as the reply; ``None`` when API Gateway would call it
    malformed."""
    if not isinstance(payload, dict):
        return None
    status = payload.get("statusCode")
    if isinstance(status, str) and status.isdigit():
        status = int(status)
    if not isinstance(status, int) or isinstance(status, bool) or not 100 <= status <= 599:
        return None
    single = payload.get("headers") or {}
    multi = payload.get("multiValueHeaders") or {}
    body = payload.get("body")
    encoded = payload.get("isBase64Encoded", False)
    if not isinstance(single, dict) or not isinstance(multi, dict) or not isinstance(
            encoded, bool) or not (body is None or isinstance(body, str)):
        return None
    headers: list[tuple[str, str]] = []
    for name, values in multi.items():
        if not isinstance(values, list):
            return None
        for item in values:
            text = _header_text(item)
            if text is None:
                return None
            headers.append((str(name), text))
    listed = {name.lower() for name, _ in headers}
    for name, item in single.items():
        text = _header_text(item)
        if text is None:
            return None
        if str(name).lower() not in listed:
            headers.append((str(name), text))
    if "content-type" not in {name.lower() for name, _ in headers}:
        headers.append(("Content-Type", DEFAULT_CONTENT_TYPE))
    content = (body or "").encode()
    if encoded and _media_matches(request.header("Accept"), binary_types):
        try:
            content = base64.b64decode(body or "", validate=True)
        except (binascii.Error, ValueError):
            return None
    return Reply(status, headers, content)


def _extended_id(request_id: str) -> str:
    return base64.b32encode(uuid.UUID(request_id).bytes[:10]).decode().rstrip("=")[:16]


def _trace_id(started: float) -> str:
    return f"Root=1-{int(started):08x}-{uuid.uuid4().hex[:24]}"


def _endpoint_types(values: Mapping[str, Any]) -> list[str]:
    types = (values.get("endpointConfiguration") or {}).get("types") or ["EDGE"]
    return [str(t) for t in ([types] if isinstance(types, str) else types)]
