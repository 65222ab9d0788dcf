"""The job records in ``JOBS_TABLE`` (partition key ``jobId``), as this code writes them.

The queue's consumer writes each job's first record, only if the job has none
(``attribute_not_exists(jobId)``): a resubmission or a retry never overwrites it::

    {"jobId", "status": "QUEUED", "analysis", "inputKey", "parameters": "<JSON>",
     "submittedAt", "updatedAt", "expiresAt": <epoch seconds>}

A request that is invalid but has a job id is recorded ``FAILED`` with its ``message``, and
with those of its fields that are valid. ``expiresAt`` (DynamoDB's TTL) is ``JOB_RETENTION_DAYS``
after the record is written. The workflow writes every later status itself; only an Express
workflow's Fargate task, which nothing waits for, records its own outcome
(``record_outcome``), as the workflow would: ``SUCCEEDED`` with ``resultKey``, ``rows`` and
``seconds``, or ``FAILED`` with ``message``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeDeserializer  # type: ignore[import-untyped]
from botocore.exceptions import ClientError  # type: ignore[import-untyped]

from analytics_jobs.job_request import JobRequest, iso

QUEUED, SUCCEEDED, FAILED = "QUEUED", "SUCCEEDED", "FAILED"
NEW_JOB = "attribute_not_exists(jobId)"


def queued_record(request: JobRequest, now: datetime, retention_days: int) -> dict[str, Any]:
    return {"jobId": request.job_id, "status": QUEUED, "analysis": request.analysis,
            "inputKey": request.input_key,
            "parameters": json.dumps(dict(request.parameters), separators=(",", ":")),
            "submittedAt": request.submitted_at, **_times(now, retention_days)}


def failed_record(job_id: str, message: str, fields: Mapping[str, Any], now: datetime,
                  retention_days: int) -> dict[str, Any]:
    """The record of an invalid request, with its valid ``fields`` (see ``read_fields``)."""
    record: dict[str, Any] = {"jobId": job_id, "status": FAILED, "message": message,
                              "submittedAt": fields.get("submittedAt") or iso(now),
                              **_times(now, retention_days)}
    for name in ("analysis", "inputKey"):
        if name in fields:
            record[name] = fields[name]
    if "parameters" in fields:
        record["parameters"] = json.dumps(fields["parameters"], separators=(",", ":"))
    return record


def _times(now: datetime, retention_days: int) -> dict[str, Any]:
    return {"updatedAt": iso(now),
            "expiresAt": int((now + timedelta(days=retention_days)).timestamp())}


def put_new(table: Any, record: Mapping[str, Any]) -> dict[str, Any] | None:
    """Writes ``record`` unless the job has one: ``None`` when written, else the record the
    job already has."""
    try:
        table.put_item(Item=dict(record), ConditionExpression=NEW_JOB,
                       ReturnValuesOnConditionCheckFailure="ALL_OLD")
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
            raise
        existing = error.response.get("Item") or {}
        deserializer = TypeDeserializer()
        return {name: deserializer.deserialize(value) for name, value in existing.items()}
    return None


def stored_request(record: Mapping[str, Any]) -> dict[str, Any]:
    """The request a ``QUEUED`` record holds, as JSON (``parse_request`` checks it)."""
    parameters = record.get("parameters")
    return {"jobId": record.get("jobId"), "inputKey": record.get("inputKey"),
            "analysis": record.get("analysis"),
            "parameters": json.loads(parameters) if isinstance(parameters, str) else parameters,
            "submittedAt": record.get("submittedAt")}


def record_outcome(table: Any, job_id: str, now: datetime, *,
                   answer: Mapping[str, Any] | None = None, message: str | None = None) -> None:
    """Records the job's end: ``SUCCEEDED`` with the run's ``answer``, or ``FAILED`` with
    ``message``."""
    values: dict[str, Any] = {":at": iso(now)}
    if answer is not None:
        values |= {":status": SUCCEEDED, ":resultKey": answer["resultKey"],
                   ":rows": int(answer["rows"]), ":seconds": Decimal(str(answer["seconds"])),
                   ":platform": answer["platform"]}
    else:
        values |= {":status": FAILED, ":message": message or "The job failed"}
    names = {f"#{name[1:]}": name[1:] for name in values if name != ":at"}
    assignments = ["updatedAt = :at", *(f"{name} = :{name[1:]}" for name in names)]
    table.update_item(Key={"jobId": job_id}, UpdateExpression="SET " + ", ".join(assignments),
                      ConditionExpression="attribute_exists(jobId)",
                      ExpressionAttributeNames=names, ExpressionAttributeValues=values)
