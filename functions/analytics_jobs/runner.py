"""One job, run: the CSV from ``INPUT_BUCKET``, the analysis, the result to ``RESULT_BUCKET``.

The same code runs on Lambda (``app.run_job``) and on Fargate (``task.py``); only ``platform``
differs. The input is downloaded to a temporary folder (``/tmp``: Lambda's ephemeral storage,
the task's own volume) and deleted after reading. The result, ``results/<jobId>.json``
(``application/json``, encrypted by the bucket's default)::

    {"jobId", "analysis", "parameters", "inputKey", "rows", "columns", "result": {...},
     "metrics": {"rows", "seconds", "peakMemoryMb"}, "platform": "lambda" | "fargate",
     "finishedAt"}

``columns`` are the columns the analysis used, ``seconds`` the time from the download to the
result, ``peakMemoryMb`` the process's peak resident memory (on Lambda, a warm function's
earlier jobs count too). The answer, which the workflow records::

    {"jobId", "resultKey", "rows", "seconds", "platform"}

A missing or unreadable input object is a ``JobFailed``; other AWS errors are raised as they
are (the workflow records that the job could not run).
"""

from __future__ import annotations

import json
import os
import resource
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from blueprints_common.entry import JobFailed
from blueprints_common.environment import required, whole_number
from botocore.exceptions import ClientError  # type: ignore[import-untyped]

from analytics_jobs.job_request import JobRequest, iso

DEFAULT_RETENTION_DAYS = 30
MAX_RETENTION_DAYS = 365
# S3's answers for an object that is not there: 404 from HeadObject, NoSuchKey from GetObject,
# and 403 from either without s3:ListBucket, which the roles do not have.
MISSING_OBJECT = ("404", "NoSuchKey", "NotFound", "403", "AccessDenied")
MISSING_INPUT = "inputKey: the object could not be read (is it uploaded?)"
Platform = Literal["lambda", "fargate"]


@dataclass(frozen=True)
class Settings:
    """The job's environment, checked: the same for every entry point."""

    input_bucket: str
    result_bucket: str
    jobs_table: str
    retention_days: int = DEFAULT_RETENTION_DAYS
    state_machine_arn: str | None = None

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """The settings from ``environ`` (default ``os.environ``); ``ValueError`` lists every
        problem."""
        environ = os.environ if environ is None else environ
        problems: list[str] = []
        input_bucket = required(environ, "INPUT_BUCKET", problems)
        result_bucket = required(environ, "RESULT_BUCKET", problems)
        jobs_table = required(environ, "JOBS_TABLE", problems)
        days = whole_number(environ, "JOB_RETENTION_DAYS", DEFAULT_RETENTION_DAYS, problems,
                            minimum=1, maximum=MAX_RETENTION_DAYS, unit="days")
        if problems:
            raise ValueError("invalid analytics job settings: " + "; ".join(problems))
        return cls(input_bucket=input_bucket, result_bucket=result_bucket,
                   jobs_table=jobs_table, retention_days=days,
                   state_machine_arn=environ.get("STATE_MACHINE_ARN") or None)


def run(request: JobRequest, *, platform: Platform, s3: Any, settings: Settings,
        clock: Callable[[], float] = time.perf_counter) -> dict[str, Any]:
    """Runs the job and writes its result; the answer for the workflow. ``JobFailed`` when the
    job cannot succeed."""
    # Imported here: the queue's consumer shares the module and never loads numpy or
    # scikit-learn.
    from analytics_jobs.analyses import analyse
    from analytics_jobs.table import read_numeric_csv

    started = clock()
    with tempfile.TemporaryDirectory(prefix="analytics-job-") as folder:
        path = Path(folder) / "input.csv"
        download(s3, settings.input_bucket, request.input_key, path)
        table = read_numeric_csv(path)
    outcome = analyse(request.analysis, request.parameters, table)
    seconds = round(clock() - started, 3)
    document = {
        "jobId": request.job_id, "analysis": request.analysis,
        "parameters": dict(request.parameters), "inputKey": request.input_key,
        "rows": table.rows, "columns": outcome.columns, "result": outcome.result,
        "metrics": {"rows": table.rows, "seconds": seconds, "peakMemoryMb": peak_memory_mb()},
        "platform": platform, "finishedAt": iso(datetime.now(UTC)),
    }
    s3.put_object(Bucket=settings.result_bucket, Key=request.result_key,
                  Body=json.dumps(document, allow_nan=False).encode("utf-8"),
                  ContentType="application/json")
    return {"jobId": request.job_id, "resultKey": request.result_key, "rows": table.rows,
            "seconds": seconds, "platform": platform}


def download(s3: Any, bucket: str, key: str, path: Path) -> None:
    """The object to ``path`` (ranged GETs in parallel for a large one)."""
    try:
        s3.download_file(bucket, key, str(path))
    except ClientError as error:
        if str(error.response.get("Error", {}).get("Code")) in MISSING_OBJECT:
            raise JobFailed(MISSING_INPUT) from None
        raise


def peak_memory_mb() -> float:
    """The process's peak resident memory (Linux reports kilobytes)."""
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
