"""Async analytics' Fargate entry point: ``python3 task.py``, the task definition's command in the
job's container image (whose Lambda entry point the task definition overrides).

It runs one job, the same code as ``app.run_job`` with platform ``fargate``:

- The request is the JSON in the environment variable ``JOB``; the workflow's task token is in
  ``TASK_TOKEN`` (a Standard workflow waits on it).
- While the job runs, a thread sends ``SendTaskHeartbeat`` every ``HEARTBEAT_SECONDS`` (60), so
  the workflow (``HeartbeatSeconds``) knows the task is alive.
- Then it reports: ``SendTaskSuccess(taskToken, output=<the answer run_job gives>)``, or, when
  the job cannot succeed, ``SendTaskFailure(taskToken, error="JobFailed",
  cause='{"errorMessage": <message>, "errorType": "JobFailed"}')``: the Cause a Lambda error
  has, so that the workflow reads both alike. Any other error is reported the same way under
  its class name (as Lambda reports an unhandled error), and the workflow records that the job
  could not run.
- Without a task token (an Express workflow starts the task and does not wait) it records the
  outcome in ``JOBS_TABLE`` itself (``analytics_jobs.records.record_outcome``).

It exits 0 once it has reported, whether the job succeeded or failed, and 1 only when it could
not report (the workflow then times out on the missing heartbeat). Logs are JSON lines
(Powertools' Logger) naming the job id, never the request's values. Environment: as the job
Lambda's (``analytics_jobs``), plus ``JOB`` and ``TASK_TOKEN``.
"""

from __future__ import annotations

import json
import os
import sys
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from types import TracebackType
from typing import Any

import boto3  # type: ignore[import-untyped]
from analytics_jobs import JobFailed, parse_request
from analytics_jobs.job_request import job_id_of
from analytics_jobs.records import record_outcome
from analytics_jobs.runner import Settings, run
from aws_lambda_powertools import Logger
from blueprints_common import safe_json
from botocore.config import Config  # type: ignore[import-untyped]
from botocore.exceptions import BotoCoreError, ClientError  # type: ignore[import-untyped]

HEARTBEAT_SECONDS = 60.0
JOB_FAILED = "JobFailed"
MAX_CAUSE = 32_768  # characters Step Functions takes in a Cause
# The task is done for: its token timed out, or the execution ended.
TOKEN_GONE = ("TaskTimedOut", "TaskDoesNotExist", "InvalidToken")

logger = Logger()


@dataclass(frozen=True)
class Clients:
    """The AWS clients the task uses (replaced in tests)."""

    s3: Any
    stepfunctions: Any
    dynamodb: Any

    @classmethod
    def create(cls) -> Clients:
        config = Config(retries={"mode": "standard", "max_attempts": 5})
        return cls(s3=boto3.client("s3", config=config.merge(Config(signature_version="s3v4"))),
                   stepfunctions=boto3.client("stepfunctions", config=config),
                   dynamodb=boto3.resource("dynamodb", config=config))


class Heartbeat:
    """``SendTaskHeartbeat`` every ``seconds`` from a thread of its own, while in the ``with``
    block; nothing without a token."""

    def __init__(self, stepfunctions: Any, token: str | None, seconds: float) -> None:
        self._stepfunctions, self._token, self._seconds = stepfunctions, token, seconds
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._beat, name="heartbeat", daemon=True)

    def __enter__(self) -> Heartbeat:
        if self._token:
            self._thread.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self._stopped.set()
        if self._thread.is_alive():
            self._thread.join()

    def _beat(self) -> None:
        while not self._stopped.wait(self._seconds):
            try:
                self._stepfunctions.send_task_heartbeat(taskToken=self._token)
            except (ClientError, BotoCoreError) as error:
                code = _error_code(error)
                logger.warning("A heartbeat was not taken", errorType=type(error).__name__,
                               errorCode=code)
                if code in TOKEN_GONE:
                    return


def main(environ: Mapping[str, str] | None = None, clients: Clients | None = None,
         heartbeat_seconds: float = HEARTBEAT_SECONDS) -> int:
    """Runs the job in ``environ`` (default ``os.environ``) and reports it; the exit code."""
    environ = os.environ if environ is None else environ
    clients = clients or Clients.create()
    token = environ.get("TASK_TOKEN") or None
    document = _job_document(environ.get("JOB"))
    job_id = job_id_of(document)
    logger.append_keys(jobId=job_id)
    answer: dict[str, Any] | None = None
    failure: Exception | None = None
    try:
        with Heartbeat(clients.stepfunctions, token, heartbeat_seconds):
            request = parse_request(document)
            answer = run(request, platform="fargate", s3=clients.s3,
                         settings=Settings.from_environ(environ))
    except JobFailed as error:
        logger.warning("The job failed", reason=str(error))
        failure = error
    except Exception as error:
        logger.exception("The job could not run")
        failure = error
    else:
        logger.info("The job succeeded", rows=answer["rows"], seconds=answer["seconds"])
    try:
        if token:
            report(clients.stepfunctions, token, answer, failure)
        else:
            record(clients.dynamodb, environ, job_id, answer, failure)
    except (ClientError, BotoCoreError, ValueError) as error:
        logger.error("The outcome could not be reported", errorType=type(error).__name__,
                     errorCode=_error_code(error), reason=str(error)[:300])
        return 1
    logger.info("The outcome was reported", succeeded=failure is None,
                to="workflow" if token else "jobs table")
    return 0


def report(stepfunctions: Any, token: str, answer: dict[str, Any] | None,
           failure: Exception | None) -> None:
    """The outcome, to the workflow waiting on ``token``."""
    if failure is None:
        stepfunctions.send_task_success(taskToken=token, output=json.dumps(answer))
        return
    error = JOB_FAILED if isinstance(failure, JobFailed) else type(failure).__name__
    message = str(failure)[:MAX_CAUSE // 2]
    stepfunctions.send_task_failure(
        taskToken=token, error=error,
        cause=json.dumps({"errorMessage": message, "errorType": error}))


def record(dynamodb: Any, environ: Mapping[str, str], job_id: str | None,
           answer: dict[str, Any] | None, failure: Exception | None) -> None:
    """The outcome, to the job's record (no workflow waits on this task)."""
    if job_id is None:
        raise ValueError("JOB holds no job id: there is no record to report to")
    table = dynamodb.Table(Settings.from_environ(environ).jobs_table)
    now = datetime.now(UTC)
    if failure is None:
        record_outcome(table, job_id, now, answer=answer)
    elif isinstance(failure, JobFailed):
        record_outcome(table, job_id, now, message=str(failure))
    else:
        record_outcome(table, job_id, now,
                       message=f"The job could not run ({type(failure).__name__})")


def _job_document(text: str | None) -> Any:
    """The request in ``JOB``, parsed; ``None`` when it is missing or not JSON (the request
    check then says what is wrong)."""
    try:
        return safe_json.loads(text or "")
    except ValueError:
        return None


def _error_code(error: Exception) -> str | None:
    if not isinstance(error, ClientError):
        return None
    code = error.response.get("Error", {}).get("Code")
    return str(code) if code is not None else None


if __name__ == "__main__":
    sys.exit(main())
