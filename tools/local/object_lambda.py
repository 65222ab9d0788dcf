"""S3 Object Lambda access points, served on this machine: moto has none.

Two halves, one on each side of the seam:

- **The front** (``ObjectLambdaFront``, served by the caller with ``gateway.LocalServer``)
  answers what botocore sends to an Object Lambda access point, as S3 Object Lambda does:

  - ``GetObject``: the SigV4 signature (signing name ``s3-object-lambda``) is verified against
    the embedded AWS's issued credentials, and every check AWS makes for the call
    (``iam.map_call``: ``s3-object-lambda:GetObject`` on the access point,
    ``lambda:InvokeFunction`` on the transform and ``s3:GetObject`` through the supporting
    access point, both with ``aws:CalledVia``) is decided for the caller's role session with the
    plan's identity and resource policies. The local admin role (``blueprints-local``) has
    ``AdministratorAccess``, so only an explicit Deny of a resource policy stops it. A denial is
    S3's ``AccessDenied``, or ``LambdaPermissionError`` for the invoke permission. Then the
    transform is invoked with the documented event (``xAmzRequestId``, ``getObjectContext``,
    ``configuration``, ``userRequest``, ``userIdentity``, ``protocolVersion`` ``"1.00"``) and
    the caller gets what it writes with ``WriteGetObjectResponse``: status, forwarded headers
    (``x-amz-fwd-header-*``), ``x-amz-meta-*`` and body, or S3's error document for its
    ``ErrorCode``. A transform that fails before writing is ``LambdaRuntimeError``, one that
    returns without writing ``LambdaResponseNotReceived``, one still silent after 60 s
    ``LambdaTimeout`` (all 500), as the S3 Object Lambda error list says.
  - ``WriteGetObjectResponse``: signature and payload hash verified, the route and token
    matched to an open request (an unknown or already answered token is a ``ValidationError``),
    ``s3-object-lambda:WriteGetObjectResponse`` decided for the transform's role, the answer
    handed to the waiting request.
  - ``HeadObject``, and ``GetObject`` on an access point that does not transform it, are passed
    through to the supporting access point untransformed (after the same checks), as AWS does.
  - A ``Range`` or ``partNumber`` the access point's ``AllowedFeatures`` do not enable is S3's
    ``501 NotImplemented``; when enabled, it reaches the transform in ``userRequest`` only.

- **Worker-side routing** (``install_routing``): with ``AWS_ENDPOINT_URL`` pointing at the
  embedded AWS, botocore addresses an Object Lambda access point as
  ``http://{name}-{account}.127.0.0.1:PORT/key`` and ``WriteGetObjectResponse`` as
  ``http://{route}.127.0.0.1:PORT/WriteGetObjectResponse``: hosts that do not resolve. A
  ``before-send`` handler sends every request signed for ``s3-object-lambda`` to the front
  instead, with the ``Host`` header the signature covers; other requests are left alone.
  ``tools.local.boot`` installs it on boto3's default session of every worker. This half
  imports only the standard library, botocore and ``tools.local.iam``, so a worker can install
  it before its handler module creates clients.

How it differs from AWS:

- ``inputS3Url`` is a path-style URL of the embedded AWS for the supporting access point's
  bucket (``http://127.0.0.1:PORT/<bucket>/<key>``), presigned for ``s3`` with the caller's
  credentials for as long as the request may take, signing ``host`` only; AWS gives a
  virtual-hosted URL of the supporting access point. moto checks neither that signature nor any
  policy, so the caller's ``s3:GetObject`` through the supporting access point is decided when
  the request arrives: a denial answers ``AccessDenied`` at once, where AWS would let the
  transform run and refuse its download (the document transform then answers ``AccessDenied``
  too). For the same reason a missing key is a 404 for the transform even when the caller lacks
  ``s3:ListBucket``, where S3 would answer 403.
- Not emulated, and answered ``501 NotImplemented`` saying so: ``HeadObject``, ``ListObjects``
  and ``ListObjectsV2`` *transformations*, listing through the access point, and every other
  operation (AWS passes object operations such as ``PutObject`` through to the supporting
  access point). A ``WriteGetObjectResponse`` body sent ``aws-chunked`` is refused.
- The request route is fixed per access point (``io-<access point name>``); AWS picks one per
  request among its cells. Presigned URLs *of* an Object Lambda access point are not routed
  (they name a host that does not resolve here).
- The event's ``userIdentity`` ids are derived from the role's ARN (moto's STS issues none that
  IAM would show), and ``payload`` is present only when the access point configures one.
"""

from __future__ import annotations

import hashlib
import logging
import re
import secrets
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import parse_qsl, quote, unquote, urlsplit, urlunsplit
from xml.sax.saxutils import escape

from tools.local import iam
from tools.local.gateway import Reply, Request, SignatureError, verify_sigv4

if TYPE_CHECKING:
    from tools.local.aws import EmbeddedAws
    from tools.local.functions import Invocation
    from tools.mock_runtime import StackRun

LOG = logging.getLogger("tools.local.object_lambda")
OBJECT_LAMBDA_TYPE = "aws:s3control/objectLambdaAccessPoint:ObjectLambdaAccessPoint"
SIGNING_NAME = "s3-object-lambda"
PROTOCOL_VERSION = "1.00"
# S3 Object Lambda gives the function 60 s to answer the caller.
TIME_LIMIT_SECONDS = 60.0
ROUTING_HANDLER_ID = "blueprints-local-object-lambda-routing"
WRITE_PATH = "/WriteGetObjectResponse"
FORWARDED_HEADER = "x-amz-fwd-header-"
METADATA_HEADER = "x-amz-meta-"
# AWS leaves them out of the event's userRequest.
_AUTHORIZATION_HEADERS = frozenset({"authorization", "x-amz-security-token"})
_AUTHORIZATION_QUERY = frozenset({"X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Date",
                                  "X-Amz-Expires", "X-Amz-SignedHeaders", "X-Amz-Signature",
                                  "X-Amz-Security-Token"})
_NOT_FORWARDED = frozenset({"content-length", "connection", "date", "server",
                            "transfer-encoding", "x-amz-request-id", "x-amz-id-2"})
_ACCESS_POINT_HOST = re.compile(r"([a-z0-9][a-z0-9-]*)-(\d{12})\.")
_CREDENTIAL_SERVICE = re.compile(r"Credential=[^/,\s]+/\d{8}/[^/,\s]+/([^/,\s]+)/aws4_request")
_HEX_SHA256 = re.compile(r"[0-9a-f]{64}")
ADMINISTRATOR = iam.Policy("AdministratorAccess of local mode's own role",
                           ({"Effect": "Allow", "Action": "*", "Resource": "*"},))


# --- the plan's access points ------------------------------------------------------------------

@dataclass(frozen=True)
class Transformation:
    """The function an access point calls for an action, and the payload it passes."""

    function_arn: str
    payload: str | None = None


@dataclass(frozen=True)
class ObjectLambdaAccessPoint:
    """An Object Lambda access point of the plan, and the bucket behind its supporting access
    point."""

    name: str
    arn: str
    region: str
    account: str
    supporting_access_point: str
    bucket: str
    transformations: Mapping[str, Transformation]
    allowed_features: frozenset[str] = frozenset()

    @property
    def host_label(self) -> str:
        """The first label of the host botocore addresses it with."""
        return f"{self.name}-{self.account}"

    @property
    def route(self) -> str:
        """The ``outputRoute`` its events carry (a host label for ``WriteGetObjectResponse``)."""
        return f"io-{self.name}"


def object_lambda_access_points(run: StackRun, topology: iam.Topology
                                ) -> list[ObjectLambdaAccessPoint]:
    """Every Object Lambda access point of the plan; ``topology`` (``PlanPolicies.topology``)
    says which bucket each supporting access point serves."""
    from tools.mock_runtime import reveal

    found = []
    for resource in run.of_type(OBJECT_LAMBDA_TYPE):
        inputs, state = reveal(dict(resource.inputs)), reveal(dict(resource.state))
        arn = str(state["arn"])
        _, _, _, region, account, _ = arn.split(":", 5)
        configuration = inputs["configuration"]
        supporting = str(configuration["supportingAccessPoint"])
        bucket = topology.access_points.get(supporting)
        if bucket is None:
            raise ValueError(f"{resource.name}: its supporting access point {supporting} is not "
                             "an access point of the plan")
        transformations = {}
        for configured in configuration["transformationConfigurations"]:
            function = configured["contentTransformation"]["awsLambda"]
            for action in configured["actions"]:
                transformations[str(action)] = Transformation(
                    str(function["functionArn"]), function.get("functionPayload") or None)
        found.append(ObjectLambdaAccessPoint(
            name=str(inputs.get("name") or state["name"]), arn=arn, region=region,
            account=account, supporting_access_point=supporting, bucket=bucket,
            transformations=transformations,
            allowed_features=frozenset(configuration.get("allowedFeatures") or ())))
    return found


# --- the front ---------------------------------------------------------------------------------

class Lambdas(Protocol):
    """What the front needs of ``tools.local.lambdas.LocalLambda``."""

    def invoke(self, function: str, event: Any, *, caller: iam.Principal | None,
               source_arn: str | None = None, source_account: str | None = None
               ) -> Invocation: ...


class S3Error(Exception):
    """An S3 error answer: HTTP status, error code and message."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


@dataclass(frozen=True)
class _Caller:
    """Who signed a request: the credentials and the role session they belong to."""

    access_key_id: str
    session_token: str | None
    role_arn: str
    principal: iam.Principal


@dataclass
class _OpenRequest:
    """A GetObject waiting for its transform's ``WriteGetObjectResponse``."""

    access_point: ObjectLambdaAccessPoint
    request_id: str
    settled: threading.Event = field(default_factory=threading.Event)
    answer: Reply | None = None


class ObjectLambdaFront:
    """Serves the plan's Object Lambda access points (``handle``), invoking their transforms
    through ``lambdas`` and deciding every request with ``policies``."""

    def __init__(self, run: StackRun, *, lambdas: Lambdas, policies: iam.PlanPolicies,
                 aws: EmbeddedAws, time_limit: float = TIME_LIMIT_SECONDS) -> None:
        from tools.local.aws import LOCAL_ROLE, SESSION_NAME

        self.lambdas = lambdas
        self.policies = policies
        self.aws = aws
        self.time_limit = time_limit
        self.access_points = {point.host_label: point
                              for point in object_lambda_access_points(run, policies.topology)}
        for point in self.access_points.values():
            # WriteGetObjectResponse names only the route: the IAM mapping needs its owner.
            policies.topology.object_lambda_routes[point.route] = point.arn
        self._admin_role = f"arn:aws:iam::{aws.account_id}:role/{LOCAL_ROLE}"
        self._sessions = {info.role_arn: info.name for info in policies.functions.values()}
        self._default_session = SESSION_NAME
        self._open: dict[str, _OpenRequest] = {}
        self._lock = threading.Lock()

    def handle(self, request: Request) -> Reply:
        request_id = secrets.token_hex(8).upper()
        try:
            if request.method == "POST" and request.raw_path == WRITE_PATH:
                return self._write_get_object_response(request, request_id)
            return self._object_request(request, request_id)
        except S3Error as error:
            LOG.info("%s %s: %s %s", request.method, request.raw_path, error.code,
                     error.message)
            return _error_reply(error, request_id)

    # -- GetObject and HeadObject

    def _object_request(self, request: Request, request_id: str) -> Reply:
        point = self._access_point(request.header("Host") or "")
        key = unquote(request.raw_path.lstrip("/"))
        operation = {"GET": "GetObject", "HEAD": "HeadObject"}.get(request.method)
        if operation is None or not key:
            what = f"{request.method} {'/' if not key else 'on an object'}"
            raise S3Error(501, "NotImplemented", f"local mode serves only GetObject and "
                          f"HeadObject through an Object Lambda access point, not {what}")
        self._check_features(point, operation, request)
        caller = self._authenticate(request, point.region)
        query = dict(parse_qsl(request.query, keep_blank_values=True))
        params = {"Bucket": point.arn, "Key": key,
                  **({"VersionId": query["versionId"]} if query.get("versionId") else {})}
        self._authorize(caller, "s3", operation, params, point)
        transformation = point.transformations.get(operation)
        if transformation is None:
            return self._pass_through(point, operation, {**params, **_ranged(request)},
                                      request_id)
        if operation != "GetObject":
            raise S3Error(501, "NotImplemented", f"local mode does not emulate {operation} "
                          "transformations (only GetObject)")
        return self._transform(point, transformation, request, caller, key, request_id)

    def _access_point(self, host: str) -> ObjectLambdaAccessPoint:
        match = _ACCESS_POINT_HOST.match(host)
        if match is None:
            raise S3Error(400, "InvalidRequest", "address an Object Lambda access point: its "
                          "host is <name>-<account>.<endpoint>, as botocore builds it")
        point = self.access_points.get(f"{match.group(1)}-{match.group(2)}")
        if point is None:
            raise S3Error(404, "NoSuchAccessPoint", f"The specified accesspoint does not exist: "
                          f"{match.group(1)} in account {match.group(2)}")
        return point

    @staticmethod
    def _check_features(point: ObjectLambdaAccessPoint, operation: str,
                        request: Request) -> None:
        for parameter in _ranged(request):
            if f"{operation}-{parameter}" not in point.allowed_features:
                raise S3Error(501, "NotImplemented", "A header you provided implies "
                              f"functionality that is not implemented: the access point's "
                              f"AllowedFeatures do not include {operation}-{parameter}")

    def _transform(self, point: ObjectLambdaAccessPoint, transformation: Transformation,
                   request: Request, caller: _Caller, key: str, request_id: str) -> Reply:
        token = secrets.token_urlsafe(32)
        event = self._event(point, transformation, request, caller, key, request_id, token)
        pending = _OpenRequest(point, request_id)
        outcome: list[Invocation | Exception] = []

        def invoke() -> None:
            try:
                # The caller's own lambda:InvokeFunction (with aws:CalledVia) was decided with
                # the other checks; the function's resource policy plays no part, as in AWS.
                outcome.append(self.lambdas.invoke(
                    transformation.function_arn, event, caller=None, source_arn=point.arn,
                    source_account=point.account))
            except Exception as error:  # noqa: BLE001 (every failure is answered to the caller)
                outcome.append(error)
            finally:
                pending.settled.set()

        with self._lock:
            self._open[token] = pending
        try:
            threading.Thread(target=invoke, name=f"object-lambda-{request_id}",
                             daemon=True).start()
            pending.settled.wait(self.time_limit)
        finally:
            with self._lock:
                self._open.pop(token, None)
                answer = pending.answer
        if answer is not None:
            return answer
        raise _invocation_error(outcome[0] if outcome else None, self.time_limit)

    def _event(self, point: ObjectLambdaAccessPoint, transformation: Transformation,
               request: Request, caller: _Caller, key: str, request_id: str,
               token: str) -> dict[str, Any]:
        """The event AWS documents ("Event context format and usage")."""
        configuration = {"accessPointArn": point.arn,
                         "supportingAccessPointArn": point.supporting_access_point}
        if transformation.payload is not None:
            configuration["payload"] = transformation.payload
        return {
            "xAmzRequestId": request_id,
            "getObjectContext": {"inputS3Url": self._input_url(point, key, request, caller),
                                 "outputRoute": point.route, "outputToken": token},
            "configuration": configuration,
            "userRequest": {"url": _user_url(request), "headers": _user_headers(request)},
            "userIdentity": _user_identity(caller),
            "protocolVersion": PROTOCOL_VERSION,
        }

    def _input_url(self, point: ObjectLambdaAccessPoint, key: str, request: Request,
                   caller: _Caller) -> str:
        """The original, presigned with the caller's credentials; without the caller's Range
        or partNumber, as AWS documents."""
        from botocore.auth import S3SigV4QueryAuth  # type: ignore[import-untyped]
        from botocore.awsrequest import AWSRequest  # type: ignore[import-untyped]
        from botocore.credentials import Credentials  # type: ignore[import-untyped]

        secret = self.aws.secret_for_access_key(caller.access_key_id)
        assert secret is not None  # the signature was verified with it
        version = dict(parse_qsl(request.query)).get("versionId")
        url = (f"{self.aws.endpoint_url}/{point.bucket}/{quote(key, safe='/~')}"
               + (f"?versionId={quote(version, safe='')}" if version else ""))
        unsigned = AWSRequest(method="GET", url=url)
        S3SigV4QueryAuth(Credentials(caller.access_key_id, secret, caller.session_token), "s3",
                         point.region, expires=int(self.time_limit) + 1).add_auth(unsigned)
        return str(unsigned.url)

    def _pass_through(self, point: ObjectLambdaAccessPoint, operation: str,
                      params: Mapping[str, Any], request_id: str) -> Reply:
        """An untransformed request, answered by the supporting access point's bucket."""
        from botocore.exceptions import ClientError  # type: ignore[import-untyped]

        s3 = self.aws.client("s3", point.region)
        call = s3.get_object if operation == "GetObject" else s3.head_object
        try:
            response = call(**{**params, "Bucket": point.bucket})
        except ClientError as error:
            code = str(error.response.get("Error", {}).get("Code") or "InternalError")
            status = int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 500))
            raise S3Error(status, code, str(error.response.get("Error", {}).get("Message")
                                            or code)) from None
        headers = response["ResponseMetadata"]["HTTPHeaders"]
        size = int(headers.get("content-length") or 0)
        forwarded = [(name, value) for name, value in headers.items()
                     if name not in _NOT_FORWARDED]
        if operation == "GetObject":
            return _reply(200, [*forwarded, *_id_headers(request_id)], response["Body"].read())
        return _reply(200, [*forwarded, *_id_headers(request_id), ("Content-Length", str(size))],
                      b"")

    # -- WriteGetObjectResponse

    def _write_get_object_response(self, request: Request, request_id: str) -> Reply:
        caller = self._authenticate(request, None)
        _check_payload(request)
        route = request.header("x-amz-request-route")
        token = request.header("x-amz-request-token")
        if not route or not token:
            raise S3Error(400, "ValidationError", "x-amz-request-route and x-amz-request-token "
                          "are required")
        with self._lock:
            pending = self._open.get(token)
        if pending is None or pending.access_point.route != route:
            raise S3Error(400, "ValidationError", "The request token is not one of an open "
                          "request on this route: unknown, answered already, or timed out")
        point = pending.access_point
        self._authorize(caller, "s3", "WriteGetObjectResponse",
                        {"RequestRoute": route, "RequestToken": token}, point)
        answer = _forwarded_answer(request, pending.request_id)
        with self._lock:
            if self._open.pop(token, None) is None:
                raise S3Error(400, "ValidationError", "The request token was answered already, "
                              "or its request timed out")
            pending.answer = answer
        pending.settled.set()
        return _reply(200, _id_headers(request_id))

    # -- who calls, and may they

    def _authenticate(self, request: Request, region: str | None) -> _Caller:

        unknown: list[str] = []

        def secret_for(access_key_id: str) -> str | None:
            secret = self.aws.secret_for_access_key(access_key_id)
            if secret is None:
                unknown.append(access_key_id)
            return secret

        try:
            access_key_id = verify_sigv4(
                request, service=SIGNING_NAME, region=region, secret_for=secret_for,
                session_token_for=self.aws.session_token_for_access_key)
        except SignatureError as error:
            if unknown:
                raise S3Error(403, "InvalidAccessKeyId", "The AWS Access Key Id you provided "
                              "does not exist in our records.") from None
            if str(error) == "Missing Authentication Token":
                raise S3Error(403, "AccessDenied", "Anonymous users cannot use an Object "
                              "Lambda access point") from None
            raise S3Error(403, "SignatureDoesNotMatch", str(error)) from None
        role_arn = self.aws.role_for_access_key(access_key_id)
        if role_arn is None:
            raise S3Error(403, "InvalidAccessKeyId", "The AWS Access Key Id you provided does "
                          "not exist in our records.")
        token = (request.header("X-Amz-Security-Token")
                 or dict(parse_qsl(request.query)).get("X-Amz-Security-Token"))
        session = self._sessions.get(role_arn, self._default_session)
        return _Caller(access_key_id, token, role_arn,
                       iam.Principal.assumed_role(role_arn, session))

    def _authorize(self, caller: _Caller, service: str, operation: str,
                   params: Mapping[str, str], point: ObjectLambdaAccessPoint) -> None:
        checks = iam.map_call(service, operation, params, region=point.region,
                              account=point.account, topology=self.policies.topology)
        for check in checks:
            if caller.role_arn == self._admin_role:
                decision = iam.decide(caller.principal, check, (ADMINISTRATOR,),
                                      self.policies.resource_policy)
            else:
                decision = self.policies.authorize(caller.principal, check)
            if not decision.allowed:
                LOG.warning("%s through %s refused: %s", operation, point.arn,
                            decision.explain())
                code = ("LambdaPermissionError" if check.action.startswith("lambda:")
                        else "AccessDenied")
                raise S3Error(403, code, decision.message)


# --- answers -----------------------------------------------------------------------------------

def _reply(status: int, headers: list[tuple[str, str]], body: bytes = b"") -> Reply:
    return Reply(status, headers, body)


def _id_headers(request_id: str) -> list[tuple[str, str]]:
    return [("x-amz-request-id", request_id), ("x-amz-id-2", f"local/{request_id}")]


def _error_reply(error: S3Error, request_id: str) -> Reply:
    """S3's error document."""
    document = ('<?xml version="1.0" encoding="UTF-8"?>\n'
                f"<Error><Code>{escape(error.code)}</Code><Message>{escape(error.message)}"
                f"</Message><RequestId>{request_id}</RequestId>"
                f"<HostId>local/{request_id}</HostId></Error>")
    return _reply(error.status, [("Content-Type", "application/xml"),
                                 *_id_headers(request_id)], document.encode())


def _invocation_error(outcome: Invocation | Exception | None, time_limit: float) -> S3Error:
    """Why a transform gave no answer, in S3 Object Lambda's words."""
    if outcome is None or (not isinstance(outcome, Exception) and outcome.error
                           and isinstance(outcome.payload, Mapping)
                           and outcome.payload.get("errorType") == "Sandbox.Timedout"):
        return S3Error(500, "LambdaTimeout", f"The Lambda function did not respond in the "
                       f"allowed time ({time_limit:g} s).")
    if isinstance(outcome, LookupError):
        return S3Error(404, "LambdaNotFound", f"The AWS Lambda function was not found: {outcome}")
    if isinstance(outcome, PermissionError):
        return S3Error(403, "LambdaPermissionError", str(outcome))
    if isinstance(outcome, Exception):
        return S3Error(400, "LambdaInvocationFailed", f"Lambda function invocation failed: "
                       f"{type(outcome).__name__}: {outcome}")
    if outcome.error:
        error_type = (outcome.payload or {}).get("errorType", "Error") if isinstance(
            outcome.payload, Mapping) else "Error"
        return S3Error(500, "LambdaRuntimeError", f"The Lambda function failed during "
                       f"execution ({error_type}).")
    return S3Error(500, "LambdaResponseNotReceived", "The Lambda function exited without "
                   "successfully calling WriteGetObjectResponse.")


def _forwarded_answer(request: Request, request_id: str) -> Reply:
    """The GetObject answer a ``WriteGetObjectResponse`` describes."""
    status_text = request.header("x-amz-fwd-status") or "200"
    if not status_text.isdigit() or not 100 <= int(status_text) <= 599:
        raise S3Error(400, "ValidationError", f"x-amz-fwd-status {status_text!r} is not an "
                      "HTTP status code")
    status = int(status_text)
    code = request.header("x-amz-fwd-error-code")
    if code:
        message = request.header("x-amz-fwd-error-message") or code
        return _error_reply(S3Error(status, code, message), request_id)
    headers = []
    for name, value in request.headers:
        lower = name.lower()
        if lower.startswith(FORWARDED_HEADER):
            headers.append((name[len(FORWARDED_HEADER):], value))
        elif lower.startswith(METADATA_HEADER):
            headers.append((name, value))
    return _reply(status, [*headers, *_id_headers(request_id)], request.body)


def _ranged(request: Request) -> dict[str, Any]:
    """The caller's Range and partNumber, as GetObject and HeadObject parameters."""
    query = dict(parse_qsl(request.query, keep_blank_values=True))
    found: dict[str, Any] = {}
    if (requested := request.header("Range") or query.get("Range")) is not None:
        found["Range"] = requested
    if "partNumber" in query:
        if not query["partNumber"].isdigit() or not 1 <= int(query["partNumber"]) <= 10_000:
            raise S3Error(400, "InvalidArgument", "Part number must be an integer between 1 "
                          "and 10000, inclusive")
        found["PartNumber"] = int(query["partNumber"])
    return found


def _check_payload(request: Request) -> None:
    declared = request.header("X-Amz-Content-SHA256") or ""
    if declared.startswith("STREAMING-"):
        raise S3Error(501, "NotImplemented", "local mode does not decode aws-chunked bodies")
    if _HEX_SHA256.fullmatch(declared) and declared != hashlib.sha256(request.body).hexdigest():
        raise S3Error(400, "XAmzContentSHA256Mismatch", "The provided 'x-amz-content-sha256' "
                      "header does not match what was computed.")


# --- the event's parts -------------------------------------------------------------------------

def _user_url(request: Request) -> str:
    """The request's URL, decoded, without its authorization parameters."""
    query = [(key, value) for key, value in parse_qsl(request.query, keep_blank_values=True)
             if key not in _AUTHORIZATION_QUERY]
    text = "&".join(f"{key}={value}" if value else key for key, value in query)
    return (f"http://{request.header('Host') or ''}{unquote(request.raw_path)}"
            + (f"?{text}" if text else ""))


def _user_headers(request: Request) -> dict[str, str]:
    """The caller's headers as sent (the first spelling of each name), repeated ones joined
    with commas, without the authorization headers."""
    headers: dict[str, str] = {}
    spelling: dict[str, str] = {}
    for name, value in request.headers:
        lower = name.lower()
        if lower in _AUTHORIZATION_HEADERS:
            continue
        if lower in spelling:
            headers[spelling[lower]] += f",{value}"
        else:
            spelling[lower] = name
            headers[name] = value
    return headers


def _user_identity(caller: _Caller) -> dict[str, Any]:
    """CloudTrail's userIdentity of an assumed-role session."""
    principal = caller.principal
    account = principal.account or ""
    role_name = caller.role_arn.rsplit("/", 1)[-1]
    role_id = "AROA" + hashlib.sha256(caller.role_arn.encode()).hexdigest()[:17].upper()
    session = principal.arn.rsplit("/", 1)[-1]
    return {
        "type": "AssumedRole", "principalId": f"{role_id}:{session}", "arn": principal.arn,
        "accountId": account, "accessKeyId": caller.access_key_id,
        "sessionContext": {
            "attributes": {"mfaAuthenticated": "false",
                           "creationDate": datetime.now(UTC).strftime(
                               "%a %b %d %H:%M:%S UTC %Y")},
            "sessionIssuer": {"type": "Role", "principalId": role_id, "arn": caller.role_arn,
                              "accountId": account, "userName": role_name},
        },
    }


# --- worker-side routing -----------------------------------------------------------------------

def install_routing(target: Any, *, object_lambda_url: str) -> None:
    """Sends the Object Lambda requests of ``target`` (a boto3 Session, a botocore session or
    client: every client created from a session afterwards) to ``object_lambda_url``."""
    front = urlsplit(object_lambda_url)
    if front.scheme not in ("http", "https") or not front.netloc:
        raise ValueError(f"object_lambda_url {object_lambda_url!r} is not an http(s) URL")
    events = iam.event_emitter(target)
    events.unregister("before-send", unique_id=ROUTING_HANDLER_ID)
    events.register("before-send", _router(front.scheme, front.netloc),
                    unique_id=ROUTING_HANDLER_ID)


def _router(scheme: str, netloc: str) -> Callable[..., None]:
    def route(request: Any, **_: Any) -> None:
        """``before-send``: a request signed for S3 Object Lambda goes to the front, keeping
        the host it was signed for."""
        authorization = request.headers.get("Authorization") or b""
        if isinstance(authorization, bytes):
            authorization = authorization.decode("latin-1")
        match = _CREDENTIAL_SERVICE.search(authorization)
        if match is None or match.group(1) != SIGNING_NAME:
            return
        parts = urlsplit(request.url)
        if "Host" not in request.headers:
            request.headers["Host"] = parts.netloc
        request.url = urlunsplit((scheme, netloc, parts.path, parts.query, ""))

    return route
