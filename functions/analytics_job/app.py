"""Async analytics' Lambda entry points, in the job's container image (``CMD ["app.handler"]``;
the job function's image config names ``app.run_job``). The job code is ``analytics_jobs``.

``handler``: **the jobs queue's consumer** (SQS event source mapping, ``ReportBatchItemFailures``,
Powertools' batch processing). For each message, a job request (``analytics_jobs.job_request``):

1. The request is checked. A valid one is recorded ``QUEUED`` in ``JOBS_TABLE``, only if the job
   has no record yet (``analytics_jobs.records``).
2. The workflow starts: ``StartExecution(STATE_MACHINE_ARN, name=jobId, input=<the request>)``,
   the request as recorded, so that every retry starts the same execution.
   ``ExecutionAlreadyExists`` means it has started: done.
3. A job already recorded (a resubmission of the same client token, or SQS delivering a message
   again) is not overwritten. While it is ``QUEUED`` the start is repeated (the first attempt
   may have failed after recording it); once it runs or has ended, it is logged and left.
4. An invalid request whose job id can be read is recorded ``FAILED`` with the message (the same
   conditional write); without a job id it is logged and dropped (``JobRequestsDropped``). Either
   way the message is done: it can never succeed.
5. DynamoDB or Step Functions failing (throttling, 5xx, after the SDK's own retries) fails that
   message alone: SQS delivers it again, and after ``maxReceiveCount`` moves it to the DLQ.

``run_job``: **the workflow's Lambda step**, invoked with the request. Runs the job
(``analytics_jobs.runner``), writes ``results/<jobId>.json`` and answers ``{"jobId",
"resultKey", "rows", "seconds", "platform": "lambda"}``. A job that cannot succeed raises
``JobFailed``, which the workflow catches by name and records ``FAILED`` with its message. It
never writes the job's status: the workflow does.

Environment: ``INPUT_BUCKET``, ``RESULT_BUCKET``, ``JOBS_TABLE`` (required), ``JOB_RETENTION_DAYS``
(default 30), ``STATE_MACHINE_ARN`` (the consumer's), and Powertools' ``POWERTOOLS_*``.

Logs name the job id, analysis and outcome, never the request's other values. Metrics:
``JobsQueued``, ``DuplicateJobs``, ``JobsRejected``, ``JobRequestsDropped``, ``JobQueueingFailed``
(the consumer); ``JobsSucceeded``, ``JobsFailed``, ``JobRows``, ``JobSeconds`` (the job).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import boto3  # type: ignore[import-untyped]
from analytics_jobs import JobFailed, JobRequest, parse_request
from analytics_jobs.job_request import read_fields
from analytics_jobs.records import (
    QUEUED,
    failed_record,
    put_new,
    queued_record,
    stored_request,
)
from analytics_jobs.runner import Settings, run
from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext
from blueprints_common import safe_json
from blueprints_common.entry import SQS_BATCH, TRACE_AWS_CALLS, WORKFLOW_TASK, entry
from blueprints_common.lazy import lazy
from botocore.config import Config  # type: ignore[import-untyped]
from botocore.exceptions import BotoCoreError, ClientError  # type: ignore[import-untyped]

logger = Logger()
tracer = Tracer(auto_patch=True, patch_modules=TRACE_AWS_CALLS)
metrics = Metrics()

settings = Settings.from_environ()
# A batch has a minute: short timeouts, a few standard retries, then SQS retries the message.
_CLIENT_CONFIG = Config(connect_timeout=3, read_timeout=10,
                        retries={"mode": "standard", "max_attempts": 3})
jobs_table = lazy(lambda: boto3.resource("dynamodb", config=_CLIENT_CONFIG)
                  .Table(settings.jobs_table))
stepfunctions = lazy(lambda: boto3.client("stepfunctions", config=_CLIENT_CONFIG))
s3 = lazy(lambda: boto3.client("s3", config=Config(
    signature_version="s3v4", retries={"mode": "standard", "max_attempts": 5})))
# A whole batch failing is reported as failures too (SQS retries them), not raised.
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)


def utcnow() -> datetime:
    """The time records are written (a seam for tests)."""
    return datetime.now(UTC)


# --- the queue's consumer ----------------------------------------------------------------------

def consume(record: SQSRecord) -> None:
    """Records one job and starts its workflow; raises only what a retry can fix."""
    try:
        document = safe_json.loads(record.body)
    except ValueError:
        document = None
    try:
        request = parse_request(document)
    except JobFailed as problem:
        refuse(document, str(problem))
        return
    try:
        queue(request)
    except (ClientError, BotoCoreError) as error:
        logger.error("The job could not be recorded or started; SQS will deliver it again",
                     jobId=request.job_id, errorType=type(error).__name__,
                     errorCode=_error_code(error))
        metrics.add_metric(name="JobQueueingFailed", unit=MetricUnit.Count, value=1)
        raise


def queue(request: JobRequest) -> None:
    existing = put_new(jobs_table, queued_record(request, utcnow(), settings.retention_days))
    if existing is None:
        logger.info("Job queued", jobId=request.job_id, analysis=request.analysis)
        metrics.add_metric(name="JobsQueued", unit=MetricUnit.Count, value=1)
    else:
        status = existing.get("status")
        logger.info("The job is already recorded; not recorded again", jobId=request.job_id,
                    status=status)
        metrics.add_metric(name="DuplicateJobs", unit=MetricUnit.Count, value=1)
        if status != QUEUED:
            return
        request = parse_request(stored_request(existing))
    start(request)


def start(request: JobRequest) -> None:
    if not settings.state_machine_arn:
        raise ValueError("STATE_MACHINE_ARN is required by the jobs queue's consumer")
    try:
        stepfunctions.start_execution(stateMachineArn=settings.state_machine_arn,
                                      name=request.job_id,
                                      input=json.dumps(request.as_document(),
                                                                 separators=(",", ":")))
    except ClientError as error:
        if _error_code(error) != "ExecutionAlreadyExists":
            raise
        logger.info("The job's workflow has already started", jobId=request.job_id)
        return
    logger.info("Workflow started", jobId=request.job_id)


def refuse(document: Any, message: str) -> None:
    """An invalid request: recorded ``FAILED`` when it has a job id, dropped otherwise."""
    fields, _ = read_fields(document)
    job_id = fields.get("jobId")
    if job_id is None:
        logger.error("Dropped a job request without a job id", reason=message)
        metrics.add_metric(name="JobRequestsDropped", unit=MetricUnit.Count, value=1)
        return
    existing = put_new(jobs_table, failed_record(job_id, message, fields, utcnow(),
                                                 settings.retention_days))
    if existing is not None:
        logger.warning("An invalid request for a job already recorded; left as it is",
                       jobId=job_id, status=existing.get("status"))
        metrics.add_metric(name="DuplicateJobs", unit=MetricUnit.Count, value=1)
        return
    logger.warning("Rejected a job request", jobId=job_id, reason=message)
    metrics.add_metric(name="JobsRejected", unit=MetricUnit.Count, value=1)


def _error_code(error: Exception) -> str | None:
    if not isinstance(error, ClientError):
        return None
    code = error.response.get("Error", {}).get("Code")
    return str(code) if code is not None else None


@entry(SQS_BATCH, logger=logger, tracer=tracer, metrics=metrics, clear_state=True)
def handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(event=event, record_handler=consume, processor=processor,
                                    context=context)


# --- the workflow's Lambda step ----------------------------------------------------------------

@entry(WORKFLOW_TASK, logger=logger, tracer=tracer, metrics=metrics, clear_state=True)
def run_job(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    try:
        request = parse_request(event)
        logger.append_keys(jobId=request.job_id, analysis=request.analysis)
        tracer.put_annotation("jobId", request.job_id)
        answer = run(request, platform="lambda", s3=s3, settings=settings)
    except JobFailed as failure:
        logger.warning("The job failed", reason=str(failure))
        metrics.add_metric(name="JobsFailed", unit=MetricUnit.Count, value=1)
        raise
    logger.info("The job succeeded", rows=answer["rows"], seconds=answer["seconds"])
    metrics.add_metric(name="JobsSucceeded", unit=MetricUnit.Count, value=1)
    metrics.add_metric(name="JobRows", unit=MetricUnit.Count, value=answer["rows"])
    metrics.add_metric(name="JobSeconds", unit=MetricUnit.Seconds, value=answer["seconds"])
    return answer
