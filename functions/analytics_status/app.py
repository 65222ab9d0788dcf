"""Async analytics' status API: a job's status and, once it succeeded, a link to its result.

One route, behind a REST API whose method has IAM authorization (the caller is
``requestContext.identity``; any caller the API lets through may read any job, whose id is a
UUID it chose):

- ``GET /jobs/{jobId}``: ``jobId`` is a UUID, in any case, answered lower-case (the job records
  are keyed by the lower-case id); anything else is a 400 ``"jobId must be a UUID"``. The job
  record is read with a consistent read. A missing record, or one past its ``expiresAt``
  (DynamoDB's TTL deletes lazily, up to days late), is a 404 ``"Job not found (a job submitted
  a moment ago appears within seconds)"``: the queue's consumer writes the record shortly after
  the submission. A record is answered 200::

      {"jobId", "status": "QUEUED"|"RUNNING"|"SUCCEEDED"|"FAILED", "analysis", "inputKey",
       "parameters": {...}, "submittedAt", "updatedAt", "platform"?: "lambda"|"fargate",
       "message"?: (FAILED), "result"?: (SUCCEEDED) {"url", "expiresIn", "rows", "seconds"}}

  ``parameters`` is stored as a JSON string and answered as the object it holds. ``result.url``
  is a presigned GET of ``RESULT_BUCKET``/``resultKey`` (``results/<jobId>.json``) that works
  for ``expiresIn`` seconds (``RESULT_LINK_SECONDS``). The object is checked first (HeadObject):
  a result the bucket's lifecycle has deleted is a 410 ``"The job's result has expired"``
  rather than a link that answers 404. The link is signed with the role's session credentials
  and, as any presigned URL made with temporary credentials, stops working when they expire if
  that comes first.

Every answer carries ``Cache-Control: no-store``. 4xx answers are JSON ``{"statusCode",
"message"}``; a DynamoDB or S3 failure is a 503 JSON answer with ``Retry-After``. An event API
Gateway never sends is a 400 from ``blueprints_common.entry``.

Environment: ``JOBS_TABLE`` (partition key ``jobId``, a string) and ``RESULT_BUCKET``
(required), ``RESULT_LINK_SECONDS`` (60 to 3600, default 900), and Powertools' ``POWERTOOLS_*``.
Every problem with them is reported at import, at once.

What the function's role needs: ``dynamodb:GetItem`` on the table; ``s3:GetObject`` on
``<bucket>/results/*`` (HeadObject, and the presigned GET, which is signed with the role's
credentials); ``s3:ListBucket`` on the bucket, without which S3 answers a HeadObject of a
deleted result with 403 instead of 404 (and the function with 503 instead of 410);
``kms:Decrypt`` on the key of the table and the bucket when they use a customer managed key
(the presigned GET decrypts as the role).

Logs carry the job id, its status and outcomes, never the event or the link; failures are logged
with their type and AWS error code. Metrics: ``JobLookups`` with a ``status`` dimension (the
job's status, ``UNKNOWN`` for a status outside the four, ``NOT_FOUND`` or ``RESULT_EXPIRED``),
``RequestRejected`` (400) and ``JobStoreUnavailable`` (503).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import boto3  # type: ignore[import-untyped]
from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.exceptions import (
    BadRequestError,
    NotFoundError,
    ServiceError,
)
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from blueprints_common import safe_json
from blueprints_common.entry import REST_PROXY, TRACE_AWS_CALLS, entry, rest_resolver
from blueprints_common.environment import required, whole_number
from blueprints_common.lazy import lazy
from botocore.config import Config  # type: ignore[import-untyped]
from botocore.exceptions import BotoCoreError, ClientError  # type: ignore[import-untyped]

DEFAULT_LINK_SECONDS = 900
MIN_LINK_SECONDS = 60
MAX_LINK_SECONDS = 3600
RESULTS_PREFIX = "results/"
STATUSES = ("QUEUED", "RUNNING", "SUCCEEDED", "FAILED")
JOB_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
                    re.IGNORECASE)
BAD_JOB_ID = "jobId must be a UUID"
NOT_FOUND = "Job not found (a job submitted a moment ago appears within seconds)"
RESULT_EXPIRED = "The job's result has expired"
UNAVAILABLE = "The job service is unavailable"
# What S3 answers a HeadObject of a missing (or deleted) key with, given s3:ListBucket.
MISSING_OBJECT = ("404", "NoSuchKey", "NotFound")
NO_STORE = {"Cache-Control": "no-store"}

logger = Logger()
tracer = Tracer(auto_patch=True, patch_modules=TRACE_AWS_CALLS)
metrics = Metrics()


@dataclass(frozen=True)
class Settings:
    """The function's environment, checked."""

    jobs_table: str
    result_bucket: str
    result_link_seconds: int = DEFAULT_LINK_SECONDS

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """The settings from ``environ`` (default ``os.environ``); ``ValueError`` lists every
        problem."""
        environ = os.environ if environ is None else environ
        problems: list[str] = []
        table = required(environ, "JOBS_TABLE", problems)
        bucket = required(environ, "RESULT_BUCKET", problems)
        seconds = whole_number(environ, "RESULT_LINK_SECONDS", DEFAULT_LINK_SECONDS, problems,
                               minimum=MIN_LINK_SECONDS, maximum=MAX_LINK_SECONDS,
                               unit="seconds")
        if problems:
            raise ValueError("invalid analytics status settings: " + "; ".join(problems))
        return cls(jobs_table=table, result_bucket=bucket, result_link_seconds=seconds)


settings = Settings.from_environ()
app = rest_resolver()
# A lookup is a few milliseconds: three attempts of at most 3 seconds each fit in the
# function's 10 seconds (and API Gateway's 29), so a slow store is a 503, not a timeout.
_CLIENT_CONFIG = Config(connect_timeout=1, read_timeout=2,
                        retries={"mode": "standard", "total_max_attempts": 3})
jobs_table = lazy(lambda: boto3.resource("dynamodb", config=_CLIENT_CONFIG)
                  .Table(settings.jobs_table))
# SigV4: S3 refuses other signatures for objects encrypted with KMS.
s3 = lazy(lambda: boto3.client("s3", config=_CLIENT_CONFIG.merge(
    Config(signature_version="s3v4"))))


def utcnow() -> datetime:
    """The time of a request (a seam for tests)."""
    return datetime.now(UTC)


class ResultExpiredError(ServiceError):
    """The job succeeded, but its result object is gone (the bucket's lifecycle)."""

    def __init__(self) -> None:
        super().__init__(410, RESULT_EXPIRED)


# --- the job -----------------------------------------------------------------------------------

def job_id_from(text: str) -> str:
    """The job id in the path, lower-case; 400 unless it is a UUID."""
    if not JOB_ID.fullmatch(text):
        raise BadRequestError(BAD_JOB_ID)
    return text.lower()


def load_job(job_id: str, now: datetime) -> dict[str, Any] | None:
    """The job's record, or ``None`` when there is none or it has expired (TTL deletes
    expired items lazily, so they can still be read)."""
    item: dict[str, Any] | None = jobs_table.get_item(
        Key={"jobId": job_id}, ConsistentRead=True).get("Item")
    if item is None:
        return None
    expires = item.get("expiresAt")
    if isinstance(expires, Decimal) and expires <= Decimal(int(now.timestamp())):
        logger.info("An expired job record is not answered", jobId=job_id)
        return None
    return item


def parameters(job_id: str, stored: Any) -> Any:
    """The job's parameters, stored as a JSON string, as the object they hold."""
    if isinstance(stored, str):
        try:
            return plain(safe_json.loads(stored))
        except ValueError:
            logger.warning("A job's stored parameters are not JSON", jobId=job_id)
            return None
    return plain(stored)


def result_key(job_id: str, item: Mapping[str, Any]) -> str:
    """Where the job's result is: its record's ``resultKey``, which is always under
    ``results/`` (where the role may read)."""
    expected = f"{RESULTS_PREFIX}{job_id}.json"
    key = item.get("resultKey", expected)
    if not isinstance(key, str) or not key.startswith(RESULTS_PREFIX) or key == RESULTS_PREFIX:
        logger.warning("A job's resultKey is not under results/: the expected key is used",
                       jobId=job_id)
        return expected
    return key


def result_link(key: str) -> str | None:
    """A presigned GET of the result, or ``None`` when the object is gone."""
    try:
        s3.head_object(Bucket=settings.result_bucket, Key=key)
    except ClientError as error:
        if _error_code(error) in MISSING_OBJECT:
            return None
        raise
    url: str = s3.generate_presigned_url(
        "get_object", Params={"Bucket": settings.result_bucket, "Key": key},
        ExpiresIn=settings.result_link_seconds)
    return url


def job_view(job_id: str, item: Mapping[str, Any]) -> dict[str, Any]:
    """The job as the API answers it, without its result."""
    status = item.get("status")
    view: dict[str, Any] = {
        "jobId": job_id, "status": status, "analysis": item.get("analysis"),
        "inputKey": item.get("inputKey"), "parameters": parameters(job_id, item.get("parameters")),
        "submittedAt": plain(item.get("submittedAt")), "updatedAt": plain(item.get("updatedAt"))}
    if item.get("platform") is not None:
        view["platform"] = item["platform"]
    if status == "FAILED":
        view["message"] = item.get("message") or "The job failed"
    return view


def plain(value: Any) -> Any:
    """DynamoDB's values as JSON's: numbers (``Decimal``) as integers or floats, sets as
    sorted lists."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, Mapping):
        return {str(name): plain(item) for name, item in value.items()}
    if isinstance(value, list):
        return [plain(item) for item in value]
    if isinstance(value, set | frozenset):
        return sorted(plain(item) for item in value)
    return value


def count_lookup(status: str) -> None:
    """One ``JobLookups``, by the job's status (or what kept it from being answered)."""
    tracer.put_annotation("jobStatus", status)
    metrics.add_dimension(name="status", value=status)
    metrics.add_metric(name="JobLookups", unit=MetricUnit.Count, value=1)


# --- the route ---------------------------------------------------------------------------------

def _json(status: int, body: Any, headers: Mapping[str, str] | None = None) -> Response[Any]:
    return Response(status, content_types.APPLICATION_JSON, body,
                    headers={**NO_STORE, **(headers or {})})


@app.get("/jobs/<job_id>")
@tracer.capture_method(capture_response=False)
def get_job(job_id: str) -> Response[Any]:
    job_id = job_id_from(job_id)
    item = load_job(job_id, utcnow())
    if item is None:
        count_lookup("NOT_FOUND")
        logger.info("Job not found", jobId=job_id)
        raise NotFoundError(NOT_FOUND)
    view = job_view(job_id, item)
    status = view["status"]
    if status == "SUCCEEDED":
        link = result_link(result_key(job_id, item))
        if link is None:
            count_lookup("RESULT_EXPIRED")
            logger.info("The job's result has expired", jobId=job_id)
            raise ResultExpiredError
        view["result"] = {"url": link, "expiresIn": settings.result_link_seconds,
                          "rows": plain(item.get("rows")), "seconds": plain(item.get("seconds"))}
    known = status if status in STATUSES else "UNKNOWN"
    if known == "UNKNOWN":
        logger.warning("A job record has an unknown status", jobId=job_id)
    count_lookup(known)
    logger.info("Job status answered", jobId=job_id, status=known,
                platform=view.get("platform"))
    return _json(200, view)


# Also answers a path or method the API does not route (Powertools' NotFoundError).
@app.exception_handler(ServiceError)
def refused(error: ServiceError) -> Response[Any]:
    status = int(error.status_code)
    if status == 400:
        metrics.add_metric(name="RequestRejected", unit=MetricUnit.Count, value=1)
        logger.info("Rejected a request", reason=error.msg)
    return _json(status, {"statusCode": status, "message": error.msg})


@app.exception_handler([ClientError, BotoCoreError])
def store_unavailable(error: Exception) -> Response[Any]:
    logger.error("An AWS request failed", errorType=type(error).__name__,
                 errorCode=_error_code(error))
    metrics.add_metric(name="JobStoreUnavailable", unit=MetricUnit.Count, value=1)
    return _json(503, {"statusCode": 503, "message": UNAVAILABLE}, {"Retry-After": "5"})


def _error_code(error: Exception) -> str | None:
    if not isinstance(error, ClientError):
        return None
    code = error.response.get("Error", {}).get("Code")
    return str(code) if code is not None else None


# The event carries the caller's SigV4 identity; the answer carries a presigned link: neither is
# logged nor traced.
@entry(REST_PROXY, logger=logger, tracer=tracer, metrics=metrics, capture_response=False,
       clear_state=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
