"""What the async analytics job tests share: the moto account shaped like the component's (the
inputs and results buckets, the jobs table keyed by ``jobId``, a state machine to start), the
CSVs they upload (made with numpy, so that the answers are known), and the events the entry
points receive (SQS batches from the jobs queue, the workflow's task input)."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import boto3  # type: ignore[import-untyped]
import numpy as np
import pytest
from moto import mock_aws
from moto.core import DEFAULT_ACCOUNT_ID

from tests.functions.event_management_support import import_handler, set_aws_environment
from tests.functions.events import ACCOUNT, REGION

INPUT_BUCKET = "analytics-inputs"
RESULT_BUCKET = "analytics-results"
JOBS_TABLE = "analytics-jobs"
WORKFLOW = "analytics-workflow"
STATE_MACHINE_ARN = f"arn:aws:states:{REGION}:{DEFAULT_ACCOUNT_ID}:stateMachine:{WORKFLOW}"
JOB_ID = "3f2c8a4e-9b1d-4c6e-8f0a-1b2c3d4e5f60"
OTHER_JOB_ID = "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d"
SUBMITTED_MS = 1_795_705_200_000  # API Gateway's $context.requestTimeEpoch
SUBMITTED = "2026-11-26T15:00:00.000Z"
ENVIRONMENT = {"INPUT_BUCKET": INPUT_BUCKET, "RESULT_BUCKET": RESULT_BUCKET,
               "JOBS_TABLE": JOBS_TABLE, "JOB_RETENTION_DAYS": "30",
               "STATE_MACHINE_ARN": STATE_MACHINE_ARN}
# What the workflow does with a job matters not here: the consumer only starts it.
DEFINITION = {"StartAt": "Run", "States": {"Run": {"Type": "Pass", "End": True}}}


# --- the account -------------------------------------------------------------------------------

@dataclass
class Account:
    """The moto account of one test."""

    s3: Any
    jobs: Any
    stepfunctions: Any

    def upload(self, body: bytes, key: str = "uploads/data.csv") -> str:
        self.s3.put_object(Bucket=INPUT_BUCKET, Key=key, Body=body)
        return key

    def record(self, job_id: str = JOB_ID) -> dict[str, Any]:
        """The job's record, which must exist."""
        item: dict[str, Any] | None = self.jobs.get_item(Key={"jobId": job_id},
                                                         ConsistentRead=True).get("Item")
        assert item is not None, f"no record of job {job_id}"
        return item

    def records(self) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = self.jobs.scan()["Items"]
        return items

    def result(self, job_id: str = JOB_ID) -> dict[str, Any]:
        found = self.s3.get_object(Bucket=RESULT_BUCKET, Key=f"results/{job_id}.json")
        assert found["ContentType"] == "application/json"
        document: dict[str, Any] = json.loads(found["Body"].read())
        return document

    def result_keys(self) -> list[str]:
        listed = self.s3.list_objects_v2(Bucket=RESULT_BUCKET).get("Contents", [])
        return [item["Key"] for item in listed]

    def executions(self) -> list[dict[str, Any]]:
        """Every execution started: its name and input."""
        listed = self.stepfunctions.list_executions(stateMachineArn=STATE_MACHINE_ARN)
        return [{"name": execution["name"], "input": json.loads(
            self.stepfunctions.describe_execution(
                executionArn=execution["executionArn"])["input"])}
            for execution in listed["executions"]]


def create_resources() -> Account:
    """The component's stateful resources, inside ``mock_aws``."""
    s3 = boto3.client("s3", region_name=REGION)
    for bucket in (INPUT_BUCKET, RESULT_BUCKET):
        s3.create_bucket(Bucket=bucket)
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    dynamodb.create_table(TableName=JOBS_TABLE, BillingMode="PAY_PER_REQUEST",
                          KeySchema=[{"AttributeName": "jobId", "KeyType": "HASH"}],
                          AttributeDefinitions=[{"AttributeName": "jobId",
                                                 "AttributeType": "S"}])
    stepfunctions = boto3.client("stepfunctions", region_name=REGION)
    stepfunctions.create_state_machine(
        name=WORKFLOW, definition=json.dumps(DEFINITION), type="STANDARD",
        roleArn=f"arn:aws:iam::{DEFAULT_ACCOUNT_ID}:role/analytics-workflow")
    return Account(s3, boto3.resource("dynamodb", region_name=REGION).Table(JOBS_TABLE),
                   stepfunctions)


@contextlib.contextmanager
def moto_account(monkeypatch: pytest.MonkeyPatch) -> Iterator[Account]:
    set_aws_environment(monkeypatch)
    with mock_aws():
        yield create_resources()


def import_job_module(monkeypatch: pytest.MonkeyPatch, module: str = "analytics_job.app",
                      environ: Mapping[str, str] = ENVIRONMENT) -> ModuleType:
    """``module`` of the job's image, imported afresh under ``environ``."""
    for name in ("INPUT_BUCKET", "RESULT_BUCKET", "JOBS_TABLE", "JOB_RETENTION_DAYS",
                 "STATE_MACHINE_ARN"):
        monkeypatch.delenv(name, raising=False)
    return import_handler(monkeypatch, module,
                          {"POWERTOOLS_SERVICE_NAME": "async-analytics", **environ})


# --- CSVs --------------------------------------------------------------------------------------

CENTERS = ((0.0, 0.0, 0.0), (10.0, 10.0, 0.0), (0.0, 10.0, 10.0))


def csv_text(header: Sequence[str], rows: Any, *, text_column: str | None = None) -> bytes:
    """A CSV with ``header`` and ``rows`` (a 2-D array), and a text column when asked."""
    lines = [",".join([*header, *([text_column] if text_column else [])])]
    for number, row in enumerate(np.asarray(rows)):
        cells = [repr(float(value)) for value in row]
        if text_column:
            cells.append(f'"site {number % 3}, north"')  # quoted, with the delimiter inside
        lines.append(",".join(cells))
    return ("\n".join(lines) + "\n").encode()


def blobs(rows_per_cluster: int = 200, seed: int = 7) -> np.ndarray:
    """Three well separated blobs in (a, b, c), ``rows_per_cluster`` rows each."""
    generator = np.random.default_rng(seed)
    return np.vstack([generator.normal(center, 0.5, size=(rows_per_cluster, 3))
                      for center in CENTERS])


def blobs_csv(rows_per_cluster: int = 200) -> bytes:
    return csv_text(("a", "b", "c"), blobs(rows_per_cluster), text_column="site")


# y = 3 x1 - 2 x2 + 0.5 x3 + 7, with a little noise.
COEFFICIENTS = {"x1": 3.0, "x2": -2.0, "x3": 0.5}
INTERCEPT = 7.0


def linear_csv(rows: int = 1000, seed: int = 11) -> bytes:
    generator = np.random.default_rng(seed)
    features = generator.uniform(-10, 10, size=(rows, 3))
    target = features @ np.array(list(COEFFICIENTS.values())) + INTERCEPT \
        + generator.normal(0, 0.1, size=rows)
    return csv_text((*COEFFICIENTS, "y"), np.column_stack([features, target]))


def correlated_csv(rows: int = 5000, seed: int = 3) -> bytes:
    """u and v move together (one strong component), w is independent noise."""
    generator = np.random.default_rng(seed)
    base = generator.normal(size=rows)
    values = np.column_stack([base, 2 * base + generator.normal(0, 0.05, size=rows),
                              generator.normal(size=rows)])
    return csv_text(("u", "v", "w"), values)


# --- requests and events -----------------------------------------------------------------------

def job_request(analysis: str = "kmeans", parameters: Mapping[str, Any] | None = None, *,
                job_id: str = JOB_ID, input_key: str = "uploads/data.csv",
                submitted: Any = SUBMITTED_MS) -> dict[str, Any]:
    """A request as API Gateway's integration puts it on the queue."""
    return {"jobId": job_id, "inputKey": input_key, "analysis": analysis,
            "parameters": dict(parameters or {}), "submittedAt": submitted}


def sqs_record(body: Any, message_id: str = "059f36b4-87a3-44ab-83d2-661975830a7d",
               *, receive_count: int = 1) -> dict[str, Any]:
    """One message of the jobs queue, as the event source mapping delivers it."""
    text = body if isinstance(body, str) else json.dumps(body)
    return {
        "messageId": message_id,
        "receiptHandle": f"AQEBwJnKyrHigUMZj6rYigCgxlaS3SLy0a{message_id}",
        "body": text,
        "attributes": {"ApproximateReceiveCount": str(receive_count),
                       "SentTimestamp": str(SUBMITTED_MS),
                       "SenderId": "AROAEXAMPLE:BackplaneAssumeRoleSession",
                       "ApproximateFirstReceiveTimestamp": str(SUBMITTED_MS + 20)},
        "messageAttributes": {},
        "md5OfBody": "e4e68fb7bd0e697a0ae8f1bb342846b3",
        "eventSource": "aws:sqs",
        "eventSourceARN": f"arn:aws:sqs:{REGION}:{ACCOUNT}:analytics-jobs",
        "awsRegion": REGION,
    }


def sqs_event(*bodies: Any) -> dict[str, Any]:
    return {"Records": [sqs_record(body, f"00000000-0000-4000-8000-{number:012d}")
                        for number, body in enumerate(bodies)]}
