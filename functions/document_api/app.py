"""Document API: a signed-in user's watermarked copy of a document, behind an HTTP API.

Route (API Gateway HTTP API, payload format 2.0, Cognito JWT authorizer):

- ``GET /documents/{key+}`` answers ``302 Found`` with ``Location`` set to a presigned GET URL
  of a freshly stamped PDF, ``Cache-Control: no-store``, and the body
  ``{"accessId": "20261126T170000123Z-3f2a9c1b7d4e", "expiresIn": 300}``.

An event API Gateway never sends (no ``requestContext.http``, headers or a body that are not
strings...) is a 400 from ``blueprints_common.entry``, before anything below happens.

Per request:

1. **Who.** The user is the first of the JWT claims ``email``, ``cognito:username``,
   ``username`` and ``sub`` (in ``requestContext.authorizer.jwt.claims``) that is a non-empty
   string. No claims, no such claim, or one longer than 256 characters or with a control
   character, is a 401: API Gateway rejects requests without a valid token before they get
   here, so this is defence in depth.
2. **What.** The document key is the ``key`` path parameter as API Gateway decoded it (HTTP APIs
   decode both ``pathParameters`` and ``rawPath``). It is never decoded again: a second decoding
   would turn ``%252e%252e`` into ``..``. It is a 400 when it is empty, starts with ``/``, has a
   ``.`` or ``..`` segment, a backslash, a control character (Unicode category Cc: C0, DEL and
   C1), is not valid UTF-8, or is longer than 1024 bytes; and, in case anything downstream did
   decode it once more, also when its percent-decoded form has any of those.
3. **The access log, first.** An access id, time-sortable (``YYYYMMDDTHHMMSSmmmZ-`` and 12
   random hex digits), names the access. Its row is written to ``ACCESS_LOG_TABLE`` before the
   document is read, with ``result`` ``"pending"``; when that write fails the answer is a 503 and
   nothing is served. The row (partition key ``document``, sort key ``accessId``; the table's
   ``byUser`` index has ``user`` and ``accessId``) holds ``user``, ``requestedAt`` (ISO 8601 UTC,
   milliseconds), ``result``, ``sourceIp``, ``userAgent`` (at most 256 characters) and, when
   ``ACCESS_LOG_RETENTION_DAYS`` is above 0, ``expiresAt`` (epoch seconds, the table's TTL).
   Once the request is decided the row gets ``result`` (``served``, ``not_found``,
   ``too_large``, ``unsupported``, ``unprocessable`` or ``failed``), ``status`` (the HTTP status
   answered), ``completedAt`` and, when the transform refused, ``transformStatus``. A failure of
   that update is logged (``AccessLogUpdateFailed``) and does not change the answer.
4. **The stamped copy.** The document is read through the S3 Object Lambda access point
   ``OBJECT_LAMBDA_ACCESS_POINT_ARN``, whose transform stamps it. The transform's answer maps
   to ours: 200 goes on; 404 (or ``NoSuchKey``) is a 404 ``"No such document"``; 413, 415 and
   422 keep their status; 400 (the transform refused *our* request: a bug, logged as an error)
   and anything else are a 502 ``"The document could not be prepared"``, as is an answer that
   is not a PDF.
5. **The download.** The PDF is stored in ``TEMP_BUCKET`` under
   ``{accessId}/{basename of the key, without its extension}.pdf`` with ``Content-Type:
   application/pdf`` and ``Content-Disposition: attachment`` (an ASCII ``filename`` and, for any
   other name, the RFC 6266 ``filename*``), encrypted as the bucket's default says, or with
   ``aws:kms`` and ``TEMP_BUCKET_KMS_KEY_ARN`` when that is set. The presigned URL expires after
   ``URL_TTL_SECONDS``; it is signed with this function's temporary credentials, so it stops
   working early if those expire first. The bucket's lifecycle rule removes the copies.

The headers contract with the transform. The GET carries two request headers, which the
transform reads from ``userRequest.headers`` of its event:

- ``x-blueprints-watermark``: the text to stamp, ``"{user} {YYYY-MM-DD HH:MM} UTC"`` (the time
  of the request; at most 200 characters, the transform's limit, so a very long user name is
  shortened with an ellipsis), as UTF-8 percent-encoded with
  ``urllib.parse.quote(text, safe="@:")``: only letters, digits, ``_.-~@:`` stay as they are,
  so a space is ``%20`` and ``+`` is ``%2B``, and ``unquote`` and ``unquote_plus`` both read it
  back exactly.
- ``x-blueprints-access-id``: the access id, so that the transform's logs (and the PDF's
  ``/AccessId`` metadata) join the access log.

How the text travels, and why a user cannot forge it: the GET through the access point is this
function's own request, signed with its role (SigV4 signs both headers). It is not the end
user's request, and the end user never holds credentials for it. Only this role may call the
Object Lambda access point (the component's access point policy), and only through it may the
original be read (the supporting access point admits only the Object Lambda service), so a user
can neither set nor see another user's watermark nor reach the unstamped original. Each access
gets its own object under its own random access id, so two users never share a copy.

The headers are added by a ``before-sign.s3.GetObject`` hook on the Object Lambda client, which
reads them from the call's request context. They get there from a call parameter that a
``provide-client-params`` hook moves into the context before botocore validates parameters:
nothing is kept between calls, so no request can carry another's headers, and any other call
(including presigning) is left alone.

Environment (set by the document watermarking component):

==================================  =============================================================
``ACCESS_LOG_TABLE``                The access log table (required).
``OBJECT_LAMBDA_ACCESS_POINT_ARN``  The Object Lambda access point, ``arn:aws:s3-object-lambda:
                                    <region>:<account>:accesspoint/<name>`` (required).
``TEMP_BUCKET``                     The bucket holding the stamped copies (required).
``URL_TTL_SECONDS``                 How long a download URL works, 1 to 3600. Default ``300``.
``ACCESS_LOG_RETENTION_DAYS``       Days until a row expires (``expiresAt``); ``0`` keeps rows.
                                    Default ``0``.
``TEMP_BUCKET_KMS_KEY_ARN``         A KMS key ARN: copies are stored with ``aws:kms`` and this
                                    key. Unset: the bucket's default encryption.
==================================  =============================================================

Plus Powertools' ``POWERTOOLS_*`` variables. Logs carry the access id, a hash of the key and
outcomes, never the event, the key, the user, the token or a URL; failures are logged with
their type and AWS error code, not their message, which can name the key. Metrics:
``DocumentRequests`` (each request), ``DocumentsServed``, ``DocumentRejected`` (400 and 401),
``DocumentNotFound``, ``DocumentRefused`` (413, 415, 422), ``DocumentFailed`` (502),
``AccessLogUnavailable`` (503) and ``AccessLogUpdateFailed``.

The clients are created once, at import. ``object_lambda`` (the GET through the access point)
does not retry: the transform's answers are its decisions, and a retry after a timeout would not
fit in API Gateway's 30 seconds. ``s3`` (the temporary bucket and presigning) and ``dynamodb``
use standard retries. Tests replace them, or hook their events.
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import quote, unquote

import boto3  # type: ignore[import-untyped]
from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.exceptions import ServiceError
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from blueprints_common.entry import HTTP_API, TRACE_AWS_CALLS, entry, http_resolver
from blueprints_common.environment import required, whole_number
from blueprints_common.lazy import lazy
from boto3.exceptions import Boto3Error  # type: ignore[import-untyped]
from boto3.s3.transfer import TransferConfig  # type: ignore[import-untyped]
from botocore.config import Config  # type: ignore[import-untyped]
from botocore.exceptions import BotoCoreError, ClientError  # type: ignore[import-untyped]

# HTTP APIs match ``{key+}`` across slashes; Powertools' ``<key>`` would not, so the route is a
# regular expression and the key comes from ``pathParameters``. ``[\s\S]`` because the path
# arrives decoded, and may hold a (rejected) newline.
DOCUMENT_ROUTE = r"/documents/[\s\S]*"
ROUTE_PREFIX = "/documents/"
USER_CLAIMS = ("email", "cognito:username", "username", "sub")
MAX_USER_CHARACTERS = 256
# The transform refuses longer watermarks (document_transform: MAX_WATERMARK_CHARACTERS).
MAX_WATERMARK_CHARACTERS = 200
MAX_KEY_BYTES = 1024
MAX_USER_AGENT = 256
MAX_STEM_BYTES = 200
DEFAULT_URL_TTL = 300
MAX_URL_TTL = 3600
WATERMARK_HEADER = "x-blueprints-watermark"
ACCESS_ID_HEADER = "x-blueprints-access-id"
WATERMARK_SAFE = "@:"
# The name of the call parameter (and request context entry) that carries the two headers.
HEADERS_PARAMETER = "BlueprintsHeaders"
PDF_MAGIC = b"%PDF-"
PENDING = "pending"
SERVED = "served"
NOT_FOUND_MESSAGE = "No such document"
FAILED_MESSAGE = "The document could not be prepared"
NO_STORE = {"Cache-Control": "no-store"}
_OBJECT_LAMBDA_ARN = re.compile(r"arn:aws[a-z-]*:s3-object-lambda:[a-z0-9-]+:[0-9]{12}:"
                                r"accesspoint/[a-z0-9][a-z0-9-]{1,48}[a-z0-9]")
_KMS_KEY_ARN = re.compile(r"arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:(key|alias)/[A-Za-z0-9/_-]+")
_FILENAME_SAFE = re.compile(r"[A-Za-z0-9 ._()+,=@-]")

logger = Logger()
tracer = Tracer(auto_patch=True, patch_modules=TRACE_AWS_CALLS)
metrics = Metrics()
app = http_resolver()
dynamodb = lazy(lambda: boto3.client("dynamodb", config=Config(
    connect_timeout=2, read_timeout=5, retries={"mode": "standard", "max_attempts": 3})))
s3 = lazy(lambda: boto3.client("s3", config=Config(
    signature_version="s3v4", connect_timeout=2, read_timeout=10,
    retries={"mode": "standard", "max_attempts": 3})))
object_lambda = lazy(lambda: _with_headers(boto3.client("s3", config=Config(
    signature_version="s3v4", connect_timeout=2, read_timeout=25,
    retries={"mode": "standard", "total_max_attempts": 1}))))
# The stamped copy streams to the bucket in one thread: Lambda gives no second core for free.
TRANSFER = TransferConfig(use_threads=False)


@dataclass(frozen=True)
class Settings:
    """The function's environment, checked."""

    access_log_table: str
    object_lambda_access_point_arn: str
    temp_bucket: str
    url_ttl_seconds: int = DEFAULT_URL_TTL
    access_log_retention_days: int = 0
    temp_bucket_kms_key_arn: str | None = None

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """The settings from ``environ`` (default ``os.environ``); ``ValueError`` lists every
        problem."""
        environ = os.environ if environ is None else environ
        problems: list[str] = []
        table = required(environ, "ACCESS_LOG_TABLE", problems)
        access_point = required(environ, "OBJECT_LAMBDA_ACCESS_POINT_ARN", problems)
        if access_point and not _OBJECT_LAMBDA_ARN.fullmatch(access_point):
            problems.append("OBJECT_LAMBDA_ACCESS_POINT_ARN must be an S3 Object Lambda access "
                            "point ARN (arn:aws:s3-object-lambda:<region>:<account>:"
                            "accesspoint/<name>)")
        bucket = required(environ, "TEMP_BUCKET", problems)
        ttl = whole_number(environ, "URL_TTL_SECONDS", DEFAULT_URL_TTL, problems, minimum=1,
                           maximum=MAX_URL_TTL, unit="seconds")
        # 0 keeps the rows.
        days = whole_number(environ, "ACCESS_LOG_RETENTION_DAYS", 0, problems, unit="days")
        kms_key = environ.get("TEMP_BUCKET_KMS_KEY_ARN") or None
        if kms_key is not None and not _KMS_KEY_ARN.fullmatch(kms_key):
            problems.append("TEMP_BUCKET_KMS_KEY_ARN must be a KMS key ARN when it is set")
        if problems:
            raise ValueError("invalid document API settings: " + "; ".join(problems))
        return cls(access_log_table=table, object_lambda_access_point_arn=access_point,
                   temp_bucket=bucket, url_ttl_seconds=ttl, access_log_retention_days=days,
                   temp_bucket_kms_key_arn=kms_key)


settings = Settings.from_environ()


# --- the headers, through the request context --------------------------------------------------

def _move_headers_to_context(params: dict[str, Any], context: dict[str, Any],
                             **_: Any) -> None:
    """``provide-client-params``: take the headers out of the call's parameters (botocore would
    reject an unknown parameter) and into its request context."""
    headers = params.pop(HEADERS_PARAMETER, None)
    if headers is not None:
        context[HEADERS_PARAMETER] = dict(headers)


def _add_headers(request: Any, **_: Any) -> None:
    """``before-sign``: set the call's headers on the request, so that they are signed. Runs
    again on each attempt, hence replace rather than add."""
    for name, value in request.context.get(HEADERS_PARAMETER, {}).items():
        if name in request.headers:
            del request.headers[name]
        request.headers[name] = value


def _with_headers(client: Any) -> Any:
    """The Object Lambda client, its ``GetObject`` calls carrying the request's headers."""
    client.meta.events.register("provide-client-params.s3.GetObject", _move_headers_to_context)
    client.meta.events.register("before-sign.s3.GetObject", _add_headers)
    return client


# --- requests ----------------------------------------------------------------------------------

class RequestRefusedError(ServiceError):
    """A request answered with an error; ``result`` goes to the access log, when it has a row."""

    def __init__(self, status_code: int, message: str, result: str = "failed", *,
                 transform_status: int | None = None,
                 headers: Mapping[str, str] | None = None) -> None:
        super().__init__(status_code, message)
        self.result = result
        self.transform_status = transform_status
        self.headers = dict(headers or {})


def utcnow() -> datetime:
    """The time of a request (a seam for tests)."""
    return datetime.now(UTC)


def user_from_claims(event: Mapping[str, Any]) -> str:
    """The user named by the JWT's claims; 401 when there is none."""
    context = event.get("requestContext") or {}
    authorizer = context.get("authorizer") or {}
    jwt = authorizer.get("jwt") if isinstance(authorizer, Mapping) else None
    claims = jwt.get("claims") if isinstance(jwt, Mapping) else None
    if isinstance(claims, Mapping):
        for claim in USER_CLAIMS:
            value = claims.get(claim)
            if isinstance(value, str) and value.strip():
                user = value.strip()
                if len(user) <= MAX_USER_CHARACTERS and not any(
                        unicodedata.category(character) == "Cc" for character in user):
                    return user
                break
    raise RequestRefusedError(401, "Unauthorized", headers={"WWW-Authenticate": "Bearer"})


def key_problem(key: str) -> str | None:
    """What makes ``key`` unfit to read, or ``None``; never echoes the key."""
    if not key:
        return "The document key is required"
    try:
        size = len(key.encode("utf-8"))
    except UnicodeEncodeError:
        return "The document key is not valid UTF-8"
    if size > MAX_KEY_BYTES:
        return f"The document key is longer than {MAX_KEY_BYTES} bytes"
    for form in dict.fromkeys((key, unquote(key))):
        if form.startswith("/"):
            return "The document key must not start with '/'"
        if "\\" in form:
            return "The document key must not contain a backslash"
        if any(unicodedata.category(character) == "Cc" for character in form):
            return "The document key must not contain control characters"
        if any(segment in (".", "..") for segment in form.split("/")):
            return "The document key must not have '.' or '..' segments"
    return None


def document_key(event: Mapping[str, Any], path: str) -> str:
    """The requested key, checked; 400 when it is unfit. ``path`` is the request path without
    the stage, the fallback should ``pathParameters`` lack the key."""
    parameters = event.get("pathParameters") or {}
    key = parameters.get("key") if isinstance(parameters, Mapping) else None
    if not isinstance(key, str):
        key = path[len(ROUTE_PREFIX):] if path.startswith(ROUTE_PREFIX) else ""
    problem = key_problem(key)
    if problem is not None:
        raise RequestRefusedError(400, problem)
    return key


def key_hash(key: str) -> str:
    """What the logs say instead of the key."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:16]


@dataclass(frozen=True)
class Access:
    """One request for one document by one user."""

    id: str
    key: str
    user: str
    at: datetime

    @classmethod
    def new(cls, key: str, user: str, at: datetime) -> Access:
        stamp = at.strftime("%Y%m%dT%H%M%S") + f"{at.microsecond // 1000:03d}Z"
        return cls(f"{stamp}-{secrets.token_hex(6)}", key, user, at)

    @property
    def requested_at(self) -> str:
        return _iso(self.at)

    @property
    def watermark(self) -> str:
        """``"{user} {YYYY-MM-DD HH:MM} UTC"``, the user shortened with an ellipsis should the
        text be longer than the transform takes (the access log keeps the whole name)."""
        when = f" {self.at:%Y-%m-%d %H:%M} UTC"
        room = MAX_WATERMARK_CHARACTERS - len(when)
        user = self.user if len(self.user) <= room else self.user[:room - 1] + "\u2026"
        return user + when

    def headers(self) -> dict[str, str]:
        """The headers the transform reads (see the module's headers contract)."""
        return {WATERMARK_HEADER: quote(self.watermark, safe=WATERMARK_SAFE),
                ACCESS_ID_HEADER: self.id}

    def object_key(self) -> str:
        """Where the stamped copy goes in the temporary bucket."""
        return f"{self.id}/{download_stem(self.key)}.pdf"


def download_stem(key: str) -> str:
    """The key's basename without its extension, cut to ``MAX_STEM_BYTES`` of UTF-8."""
    stem = PurePosixPath(key.rsplit("/", 1)[-1]).stem or "document"
    return stem.encode("utf-8")[:MAX_STEM_BYTES].decode("utf-8", "ignore") or "document"


def content_disposition(filename: str) -> str:
    """``attachment`` with ``filename`` (ASCII, quoted) and, when it had to differ, RFC 6266's
    ``filename*`` with the real name."""
    fallback = "".join(character if _FILENAME_SAFE.fullmatch(character) else "_"
                       for character in filename)
    disposition = f'attachment; filename="{fallback}"'
    if fallback != filename:
        disposition += f"; filename*=UTF-8''{quote(filename, safe='')}"
    return disposition


def _error_code(error: Exception) -> str | None:
    if isinstance(error, ClientError):
        return str(error.response.get("Error", {}).get("Code", "")) or None
    return None


# --- the access log ----------------------------------------------------------------------------

@tracer.capture_method(capture_response=False, capture_error=False)
def record_request(access: Access, event: Mapping[str, Any]) -> None:
    """The access's row, ``pending``; 503 when it cannot be written."""
    http = (event.get("requestContext") or {}).get("http") or {}
    item: dict[str, Any] = {
        "document": {"S": access.key},
        "accessId": {"S": access.id},
        "user": {"S": access.user},
        "requestedAt": {"S": access.requested_at},
        "result": {"S": PENDING},
    }
    source_ip, user_agent = http.get("sourceIp"), http.get("userAgent")
    if isinstance(source_ip, str) and source_ip:
        item["sourceIp"] = {"S": source_ip}
    if isinstance(user_agent, str) and user_agent:
        item["userAgent"] = {"S": user_agent[:MAX_USER_AGENT]}
    if settings.access_log_retention_days > 0:
        expires = access.at + timedelta(days=settings.access_log_retention_days)
        item["expiresAt"] = {"N": str(int(expires.timestamp()))}
    try:
        dynamodb.put_item(TableName=settings.access_log_table, Item=item,
                          ConditionExpression="attribute_not_exists(accessId)")
    except (ClientError, BotoCoreError) as error:
        logger.error("The access log row could not be written; nothing is served",
                     errorType=type(error).__name__, errorCode=_error_code(error))
        metrics.add_metric(name="AccessLogUnavailable", unit=MetricUnit.Count, value=1)
        raise ServiceError(503, "The access log is unavailable; try again later") from None


@tracer.capture_method(capture_response=False, capture_error=False)
def record_outcome(access: Access, result: str, status: int,
                   transform_status: int | None = None) -> None:
    """The access's outcome on its row; a failure is logged and otherwise ignored."""
    names = {"#result": "result", "#status": "status", "#completedAt": "completedAt"}
    values: dict[str, Any] = {":result": {"S": result}, ":status": {"N": str(status)},
                              ":completedAt": {"S": _iso(utcnow())}}
    update = "SET #result = :result, #status = :status, #completedAt = :completedAt"
    if transform_status is not None:
        names["#transformStatus"] = "transformStatus"
        values[":transformStatus"] = {"N": str(transform_status)}
        update += ", #transformStatus = :transformStatus"
    try:
        dynamodb.update_item(TableName=settings.access_log_table,
                             Key={"document": {"S": access.key}, "accessId": {"S": access.id}},
                             UpdateExpression=update, ExpressionAttributeNames=names,
                             ExpressionAttributeValues=values,
                             ConditionExpression="attribute_exists(accessId)")
    except (ClientError, BotoCoreError) as error:
        logger.error("The access log row could not be updated", result=result, status=status,
                     errorType=type(error).__name__, errorCode=_error_code(error))
        metrics.add_metric(name="AccessLogUpdateFailed", unit=MetricUnit.Count, value=1)


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


# --- the stamped copy --------------------------------------------------------------------------

class _Prefixed:
    """A stream that answers ``head`` and then the rest of ``body``."""

    def __init__(self, head: bytes, body: Any) -> None:
        self._head = head
        self._body = body

    def read(self, size: int = -1) -> bytes:
        if not self._head:
            return bytes(self._body.read(size if size >= 0 else None))
        if size < 0:
            data, self._head = self._head + self._body.read(), b""
            return bytes(data)
        data, self._head = self._head[:size], self._head[size:]
        return data


def refusal(error: ClientError) -> RequestRefusedError:
    """Our answer to an error the transform (or S3 Object Lambda) gave."""
    status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    code = _error_code(error)
    if status == 404 or code in ("NoSuchKey", "404"):
        return RequestRefusedError(404, NOT_FOUND_MESSAGE, "not_found", transform_status=404)
    if status == 413:
        return RequestRefusedError(413, "The document is too large to prepare", "too_large",
                                   transform_status=status)
    if status == 415:
        return RequestRefusedError(415, "The document is not of a type that can be prepared",
                                   "unsupported", transform_status=status)
    if status == 422:
        return RequestRefusedError(422, "The document could not be read", "unprocessable",
                                   transform_status=status)
    if status == 400:
        logger.error("The transform refused this function's request", errorCode=code)
    else:
        logger.error("The transform failed", transformStatus=status, errorCode=code)
    return RequestRefusedError(502, FAILED_MESSAGE, transform_status=status)


@tracer.capture_method(capture_response=False, capture_error=False)
def prepare(access: Access) -> str:
    """Read the stamped document through the access point and store it in the temporary
    bucket; answers its key there."""
    try:
        response = object_lambda.get_object(
            Bucket=settings.object_lambda_access_point_arn, Key=access.key,
            **{HEADERS_PARAMETER: access.headers()})
    except ClientError as error:
        raise refusal(error) from None
    body = response["Body"]
    try:
        head = body.read(len(PDF_MAGIC))
        if head != PDF_MAGIC:
            logger.error("The transform answered something that is not a PDF")
            raise RequestRefusedError(502, FAILED_MESSAGE, transform_status=200)
        object_key = access.object_key()
        extra: dict[str, str] = {
            "ContentType": "application/pdf",
            "ContentDisposition": content_disposition(object_key.rsplit("/", 1)[-1]),
        }
        if settings.temp_bucket_kms_key_arn:
            extra["ServerSideEncryption"] = "aws:kms"
            extra["SSEKMSKeyId"] = settings.temp_bucket_kms_key_arn
        s3.upload_fileobj(_Prefixed(head, body), settings.temp_bucket, object_key,
                          ExtraArgs=extra, Config=TRANSFER)
    finally:
        body.close()
    return object_key


# --- the route ---------------------------------------------------------------------------------

@app.get(DOCUMENT_ROUTE)
@tracer.capture_method(capture_response=False, capture_error=False)
def get_document() -> Response[dict[str, Any]]:
    metrics.add_metric(name="DocumentRequests", unit=MetricUnit.Count, value=1)
    event = app.current_event
    user = user_from_claims(event.raw_event)
    key = document_key(event.raw_event, event.path)
    access = Access.new(key, user, utcnow())
    logger.append_keys(accessId=access.id, documentHash=key_hash(key))
    record_request(access, event.raw_event)
    try:
        object_key = prepare(access)
    except RequestRefusedError as refused:
        logger.info("Document not served", result=refused.result, status=refused.status_code,
                    transformStatus=refused.transform_status)
        record_outcome(access, refused.result, refused.status_code, refused.transform_status)
        raise
    except (ClientError, BotoCoreError, Boto3Error) as error:
        logger.error("The document could not be prepared", errorType=type(error).__name__,
                     errorCode=_error_code(error))
        record_outcome(access, "failed", 502)
        raise RequestRefusedError(502, FAILED_MESSAGE) from None
    url = s3.generate_presigned_url(
        "get_object", Params={"Bucket": settings.temp_bucket, "Key": object_key},
        ExpiresIn=settings.url_ttl_seconds)
    record_outcome(access, SERVED, 302)
    metrics.add_metric(name="DocumentsServed", unit=MetricUnit.Count, value=1)
    logger.info("Document served", expiresIn=settings.url_ttl_seconds)
    return Response(302, content_types.APPLICATION_JSON,
                    {"accessId": access.id, "expiresIn": settings.url_ttl_seconds},
                    headers={"Location": url, **NO_STORE})


OUTCOME_METRICS = {400: "DocumentRejected", 401: "DocumentRejected", 404: "DocumentNotFound",
                   413: "DocumentRefused", 415: "DocumentRefused", 422: "DocumentRefused",
                   502: "DocumentFailed"}


@app.exception_handler(ServiceError)
def refused(error: ServiceError) -> Response[dict[str, Any]]:
    status = int(error.status_code)
    metric = OUTCOME_METRICS.get(status)
    if metric is not None:
        metrics.add_metric(name=metric, unit=MetricUnit.Count, value=1)
    if status in (400, 401):
        logger.info("Rejected a request", status=status, reason=error.msg)
    headers = {**NO_STORE, **(error.headers if isinstance(error, RequestRefusedError) else {})}
    if status == 503:
        headers["Retry-After"] = "5"
    return Response(status, content_types.APPLICATION_JSON,
                    {"statusCode": status, "message": error.msg}, headers=headers)


# The event holds the user's token claims, address and the document key: the entry never logs
# it, and the answer (a presigned URL) is kept out of traces.
@entry(HTTP_API, logger=logger, tracer=tracer, metrics=metrics, capture_response=False,
       capture_error=False, clear_state=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
