"""Document transform: the S3 Object Lambda function that stamps every document read through it.

The API handler reads a document with ``GetObject`` on the Object Lambda access point, and S3
invokes this function with the request's context instead of answering. The function:

1. reads the watermark text and the access id from headers of that original ``GetObject``
   request (``userRequest.headers``, looked up without regard to case):

   - ``x-blueprints-watermark``: the text to stamp (the user and the time, say), UTF-8 and
     percent-encoded (``urllib.parse.quote``), at most 200 characters once decoded, no control
     characters;
   - ``x-blueprints-access-id``: the access log's id for this download, 8 to 64 letters,
     digits and hyphens; it goes into the PDF's metadata (``/AccessId``).

   Only the API handler's role may call the access point, so the headers are always its own.
   Without valid headers the answer is a 400: an unstamped original is never returned;
2. downloads the original from ``getObjectContext.inputS3Url``, the URL S3 presigned for it
   (with the headers it signed, from the original request), streaming, and refusing more than
   ``MAX_DOCUMENT_BYTES``: the ``Content-Length`` is checked first, and the bytes are counted
   as they arrive;
3. makes a PDF of it when it is not one (``watermark.detect_type``: by content, then the key's
   suffix, then the ``Content-Type``): plain text is typeset, Office formats go through
   LibreOffice when ``SOFFICE_PATH`` names an ``soffice`` that exists, and anything else is
   refused;
4. stamps every page, writes the access id into the metadata and encrypts the PDF read-only
   (``watermark.stamp``: AES-256, anyone may open and print it, nobody may change or copy it);
5. answers with exactly one ``WriteGetObjectResponse``: the PDF with status 200 and
   ``Content-Type: application/pdf``, or the error's status, ``ErrorCode`` and
   ``ErrorMessage`` and no body. That holds on every path, unexpected failures included (a
   500), so the caller never waits for S3's own timeout. The handler returns
   ``{"status_code": <status>}``; if the ``WriteGetObjectResponse`` call itself fails, the error
   is logged and raised, since there is no second chance to answer.

Statuses (``ErrorCode`` in brackets):

===  =========================  ============================================================
200                             the stamped PDF
400  ``InvalidRequest``         a header missing, empty, too long, not percent-encoded UTF-8,
                                or an access id of the wrong shape
403  ``AccessDenied``           S3 refused the presigned URL
404  ``NoSuchKey``              the object does not exist
413  ``EntityTooLarge``         more than ``MAX_DOCUMENT_BYTES``, or more pages than the
                                library stamps (``watermark.MAX_PAGES``); text longer than
                                ``watermark.MAX_TEXT_CHARACTERS`` (a tab counting as 8), or
                                with more lines than ``MAX_PAGES`` pages hold, is refused
                                before any of it is set
415  ``UnsupportedMediaType``   not PDF, text or Office; text that is not UTF-8 (or its
                                declared charset), or declares a charset that is no
                                character encoding (``watermark.TEXT_CODECS``); Office
                                formats without LibreOffice
422  ``CorruptDocument``        a PDF (or Office file) that cannot be read
422  ``EncryptedDocument``      a PDF that needs a password to open, or is encrypted in a
                                way pypdf does not implement (``/Adobe.PubSec``, ``/V 7``...)
500  ``ConversionFailed``       LibreOffice failed or timed out
500  ``InternalError``          anything unexpected (logged with its stack trace; callers
                                get a fixed message)
502  ``BadGateway``             S3 answered the download with another error, or the
                                connection failed
504  ``GatewayTimeout``         S3 did not answer the download in time
===  =========================  ============================================================

Environment (set by ``components/services/document_watermark.py``), read at every invocation,
so a bad value is a 500 with its problems in the log rather than a function that cannot start:

======================  =====================================================================
``MAX_DOCUMENT_BYTES``  The largest original read, in bytes. Default ``26214400`` (25 MiB).
``SOFFICE_PATH``        LibreOffice's ``soffice`` (absolute path; a layer puts it under
                        ``/opt``). Unset or missing: Office formats get a 415.
======================  =====================================================================

Plus Powertools' ``POWERTOOLS_*`` variables. Metrics: ``DocumentsStamped`` (1 per stamped
document), ``PagesStamped`` (its pages) and ``TransformFailed`` (1 per error answer). The logs
carry the access id, the status and error code, sizes and page counts; never the watermark text,
which names a person, nor the document. S3's request id is the correlation id.

Permissions: ``s3-object-lambda:WriteGetObjectResponse`` only. The original is read through
the presigned URL with the caller's permissions, so the function needs no S3 read permission.
"""

from __future__ import annotations

import http.client
import os
import re
import time
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.error import HTTPError, URLError
from urllib.parse import parse_qs, unquote, urlsplit
from urllib.request import Request, urlopen

import boto3  # type: ignore[import-untyped]
import pdf_watermark as watermark
from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.data_classes.s3_object_event import S3ObjectLambdaEvent
from aws_lambda_powertools.utilities.typing import LambdaContext
from blueprints_common.entry import S3_OBJECT_LAMBDA, TRACE_AWS_CALLS, entry
from blueprints_common.environment import whole_number
from blueprints_common.lazy import lazy
from botocore.config import Config  # type: ignore[import-untyped]

WATERMARK_HEADER = "x-blueprints-watermark"
ACCESS_ID_HEADER = "x-blueprints-access-id"
MAX_WATERMARK_CHARACTERS = 200
ACCESS_ID = re.compile(r"[A-Za-z0-9-]{8,64}")
DEFAULT_MAX_DOCUMENT_BYTES = 25 * 2**20
FETCH_TIMEOUT_SECONDS = 10.0  # for each connect and read; S3 answers in milliseconds
CHUNK = 1024 * 1024
INTERNAL_ERROR = "The document could not be prepared; try again later"

logger = Logger()
tracer = Tracer(auto_patch=True, patch_modules=TRACE_AWS_CALLS)
metrics = Metrics()
# WriteGetObjectResponse uploads the whole document, hence the long read timeout.
s3 = lazy(lambda: boto3.client("s3", config=Config(
    connect_timeout=5, read_timeout=30, retries={"mode": "standard", "max_attempts": 3})))


@dataclass(frozen=True)
class Settings:
    """The function's environment, checked."""

    max_document_bytes: int = DEFAULT_MAX_DOCUMENT_BYTES
    soffice_path: Path | None = None

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """The settings from ``environ`` (default ``os.environ``); ``ValueError`` lists every
        problem."""
        environ = os.environ if environ is None else environ
        problems: list[str] = []
        max_bytes = whole_number(environ, "MAX_DOCUMENT_BYTES", DEFAULT_MAX_DOCUMENT_BYTES,
                                 problems, minimum=1, unit="bytes")
        soffice = environ.get("SOFFICE_PATH", "").strip()
        if soffice and not Path(soffice).is_absolute():
            problems.append("SOFFICE_PATH must be an absolute path")
        if problems:
            raise ValueError("invalid document transform settings: " + "; ".join(problems))
        return cls(max_document_bytes=max_bytes, soffice_path=Path(soffice) if soffice else None)


class TransformError(Exception):
    """A request answered with an error: ``status``, S3-style ``code``, and a message safe to
    show."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Stamp:
    """What to stamp, from the original request's headers."""

    watermark: str
    access_id: str


# --- the request -------------------------------------------------------------------------------

def header(headers: Mapping[str, Any], name: str) -> str | None:
    """The value of header ``name`` (any case); a 400 when it is given twice, differently."""
    values = {value for key, value in headers.items()
              if isinstance(key, str) and key.lower() == name and isinstance(value, str)}
    if len(values) > 1:
        raise TransformError(400, "InvalidRequest", f"{name} is given more than once")
    return values.pop() if values else None


def parse_stamp(headers: Mapping[str, Any]) -> Stamp:
    """The watermark and access id of the original request; a 400 when either is not valid."""
    access_id = header(headers, ACCESS_ID_HEADER)
    if not access_id:
        raise TransformError(400, "InvalidRequest", f"{ACCESS_ID_HEADER} is required")
    if not ACCESS_ID.fullmatch(access_id):
        raise TransformError(400, "InvalidRequest",
                             f"{ACCESS_ID_HEADER} must be 8 to 64 letters, digits or hyphens")
    encoded = header(headers, WATERMARK_HEADER)
    if not encoded or not encoded.strip():
        raise TransformError(400, "InvalidRequest", f"{WATERMARK_HEADER} is required")
    try:
        text = unquote(encoded, errors="strict").strip()
    except UnicodeDecodeError:
        raise TransformError(400, "InvalidRequest",
                             f"{WATERMARK_HEADER} must be percent-encoded UTF-8") from None
    if not text:
        raise TransformError(400, "InvalidRequest", f"{WATERMARK_HEADER} is empty")
    if len(text) > MAX_WATERMARK_CHARACTERS:
        raise TransformError(400, "InvalidRequest", f"{WATERMARK_HEADER} is longer than "
                             f"{MAX_WATERMARK_CHARACTERS} characters")
    if any(unicodedata.category(character) == "Cc" for character in text):
        raise TransformError(400, "InvalidRequest",
                             f"{WATERMARK_HEADER} must not contain control characters")
    return Stamp(text, access_id)


def object_key(url: str) -> str:
    """The object's key in the original request's URL (for its suffix only)."""
    return urlsplit(url).path.lstrip("/")


def signed_headers(url: str, headers: Mapping[str, Any]) -> dict[str, str]:
    """The original request's headers that the presigned URL signed (Host aside): S3 checks
    them, so they must be sent again."""
    names = parse_qs(urlsplit(url).query).get("X-Amz-SignedHeaders", [""])[0].split(";")
    wanted = {name.lower() for name in names if name and name.lower() != "host"}
    return {key: value for key, value in headers.items()
            if isinstance(key, str) and key.lower() in wanted and isinstance(value, str)}


# --- the original ------------------------------------------------------------------------------

def too_large(limit: int) -> watermark.DocumentTooLarge:
    return watermark.DocumentTooLarge(f"The document is larger than {limit} bytes")


@tracer.capture_method(capture_response=False)
def fetch(url: str, headers: Mapping[str, str], limit: int) -> tuple[bytes, str | None]:
    """The original's bytes (at most ``limit``) and its ``Content-Type``."""
    if urlsplit(url).scheme not in ("https", "http"):
        raise TransformError(500, "InternalError", INTERNAL_ERROR)
    request = Request(url, headers=dict(headers), method="GET")  # noqa: S310 (scheme checked)
    try:
        with urlopen(request, timeout=FETCH_TIMEOUT_SECONDS) as response:  # noqa: S310
            declared = response.headers.get("Content-Length", "")
            if declared.isdecimal() and int(declared) > limit:
                raise too_large(limit)
            chunks: list[bytes] = []
            received = 0
            while chunk := response.read(CHUNK):
                received += len(chunk)
                if received > limit:
                    raise too_large(limit)
                chunks.append(chunk)
            return b"".join(chunks), response.headers.get("Content-Type")
    except HTTPError as error:
        error.close()
        if error.code == 404:
            raise TransformError(404, "NoSuchKey", "The document does not exist") from None
        if error.code == 403:
            raise TransformError(403, "AccessDenied", "Access to the document was denied") from None
        raise TransformError(502, "BadGateway",
                             f"Reading the document failed: S3 answered {error.code}") from None
    except TimeoutError:
        raise TransformError(504, "GatewayTimeout", "Reading the document timed out") from None
    except URLError as error:
        if isinstance(error.reason, TimeoutError):
            raise TransformError(504, "GatewayTimeout", "Reading the document timed out") from None
        raise TransformError(502, "BadGateway", "Reading the document failed") from None
    except (OSError, http.client.HTTPException):  # a reset connection, a short body
        raise TransformError(502, "BadGateway", "Reading the document failed") from None


# --- the transform -----------------------------------------------------------------------------

@tracer.capture_method(capture_response=False)
def to_pdf(data: bytes, kind: watermark.DocumentType, settings: Settings) -> bytes:
    """``data`` as a PDF."""
    if kind.kind == "text":
        return watermark.text_to_pdf(watermark.decode_text(data, kind.charset))
    if kind.kind == "office":
        soffice = settings.soffice_path
        if soffice is None or not soffice.is_file():
            raise TransformError(415, "UnsupportedMediaType", "Office documents are not "
                                 "supported here: Office conversion is not configured")
        return watermark.convert_office(data, kind.suffix, soffice)
    return data


@tracer.capture_method(capture_response=False)
def transform(event: S3ObjectLambdaEvent, headers: Mapping[str, Any], stamp: Stamp,
              settings: Settings) -> watermark.Stamped:
    """The stamped PDF for the request in ``event`` (whose headers are ``headers``)."""
    url = event.input_s3_url
    data, content_type = fetch(url, signed_headers(url, headers), settings.max_document_bytes)
    kind = watermark.detect_type(data, key=object_key(event.user_request.url),
                                 content_type=content_type)
    logger.info("Document read", access_id=stamp.access_id, kind=kind.kind, bytes=len(data),
                suffix=kind.suffix or None)
    pdf = to_pdf(data, kind, settings)
    del data  # a converted original need not stay in memory while the copy is made
    return watermark.stamp(pdf, watermark=stamp.watermark, access_id=stamp.access_id)


def answer(route: str, token: str, status: int, *, body: bytes | None = None,
           code: str | None = None, message: str | None = None) -> None:
    """The one ``WriteGetObjectResponse`` of a request."""
    arguments: dict[str, Any] = {"RequestRoute": route, "RequestToken": token,
                                 "StatusCode": status}
    if body is not None:
        arguments.update(Body=body, ContentType="application/pdf")
    else:
        arguments.update(ErrorCode=code, ErrorMessage=message)
    s3.write_get_object_response(**arguments)


@entry(S3_OBJECT_LAMBDA, logger=logger, tracer=tracer, metrics=metrics)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, int]:
    request = S3ObjectLambdaEvent(event)
    route, token = request.request_route, request.request_token
    started = time.perf_counter()
    access_id: str | None = None
    try:
        settings = Settings.from_environ()
        headers = (event.get("userRequest") or {}).get("headers") or {}
        stamp = parse_stamp(headers)
        access_id = stamp.access_id
        stamped = transform(request, headers, stamp, settings)
    except (TransformError, watermark.DocumentError) as error:
        status, code, message = error.status, error.code, error.message
        if error.__cause__ is not None:  # its type says what broke; its text may hold content
            logger.info("The document could not be read",
                        cause=type(error.__cause__).__name__, access_id=access_id)
    except Exception:  # every path must answer S3, whatever went wrong
        logger.exception("The transform failed unexpectedly", access_id=access_id)
        status, code, message = 500, "InternalError", INTERNAL_ERROR
    else:
        _answer_or_raise(route, token, 200, access_id, body=stamped.pdf)
        metrics.add_metric(name="DocumentsStamped", unit=MetricUnit.Count, value=1)
        metrics.add_metric(name="PagesStamped", unit=MetricUnit.Count, value=stamped.pages)
        logger.info("Document stamped", access_id=access_id, status=200, pages=stamped.pages,
                    bytes=len(stamped.pdf), seconds=round(time.perf_counter() - started, 3))
        return {"status_code": 200}

    _answer_or_raise(route, token, status, access_id, code=code, message=message)
    metrics.add_metric(name="TransformFailed", unit=MetricUnit.Count, value=1)
    (logger.warning if status >= 500 else logger.info)(
        "Document not stamped", access_id=access_id, status=status, code=code,
        reason=message, seconds=round(time.perf_counter() - started, 3))
    return {"status_code": status}


def _answer_or_raise(route: str, token: str, status: int, access_id: str | None, *,
                     body: bytes | None = None, code: str | None = None,
                     message: str | None = None) -> None:
    try:
        answer(route, token, status, body=body, code=code, message=message)
    except Exception:
        logger.exception("WriteGetObjectResponse failed", access_id=access_id, status=status)
        metrics.add_metric(name="TransformFailed", unit=MetricUnit.Count, value=1)
        raise
