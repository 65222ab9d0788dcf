"""asyncAnalytics in local mode, as a data team's client meets it: a CSV uploaded under
``uploads/``, ``PUT /jobs/{jobId}`` (SigV4-signed) straight to the queue, the consumer starting
the workflow, a small job on the job Lambda and a large one on the Fargate path (the task
definition's command as a local process), and ``GET /jobs/{jobId}`` answering the status and a
link to the result. A job that runs out of time on Lambda is retried on Fargate."""

from __future__ import annotations

import io
import json
import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.request import urlopen

import numpy as np
import pytest

from tests.local.e2e.support import Answer, call, eventually, run_walk_through, service_outputs
from tools.local.stack import LocalStack

SERVICE = "asyncAnalytics"
API = "asyncAnalytics-api"
JOB_FUNCTION = "asyncAnalytics-job-function"
DONE = ("SUCCEEDED", "FAILED")


def outputs(stack: LocalStack) -> dict[str, Any]:
    return service_outputs(stack, SERVICE)


def csv(rows: int, seed: int = 7) -> bytes:
    """Three numeric columns around three centres, as a client's export would look."""
    rng = np.random.default_rng(seed)
    centres = np.array([[0.0, 0.0, 0.0], [6.0, 6.0, 0.0], [0.0, 6.0, 6.0]])
    values = centres[rng.integers(0, 3, rows)] + rng.normal(size=(rows, 3))
    text = io.StringIO()
    text.write("x,y,z\n")
    np.savetxt(text, values, delimiter=",", fmt="%.4f")
    return text.getvalue().encode()


def upload(stack: LocalStack, key: str, body: bytes) -> None:
    assert stack.aws is not None
    stack.aws.client("s3").put_object(Bucket=outputs(stack)["inputBucketName"], Key=key,
                                      Body=body)


def jobs(stack: LocalStack, method: str, job_id: str, body: dict[str, Any] | None = None
         ) -> Answer:
    assert stack.started is not None
    assert stack.aws is not None
    return call(method, f"{stack.started.url(API)}/jobs/{job_id}", body=body,
                signed_by=stack.aws.credentials)


def finished(stack: LocalStack, job_id: str, timeout: float = 120) -> dict[str, Any]:
    def done() -> dict[str, Any] | None:
        answer = jobs(stack, "GET", job_id)
        status = answer.json() if answer.status == 200 else {}
        return status if status.get("status") in DONE else None

    status = eventually(done, timeout=timeout, every=1)
    assert status, f"job {job_id} did not finish within {timeout} s"
    result: dict[str, Any] = status
    return result


def submit(stack: LocalStack, key: str, **parameters: Any) -> str:
    job_id = str(uuid.uuid4())
    answer = jobs(stack, "PUT", job_id, {"inputKey": key, "analysis": "kmeans",
                                         "parameters": {"nClusters": 3, **parameters}})
    assert answer.status == 202, answer.body
    assert answer.json() == {"jobId": job_id, "status": "QUEUED"}
    return job_id


def result_of(status: dict[str, Any]) -> dict[str, Any]:
    with urlopen(status["result"]["url"], timeout=30) as answer:  # noqa: S310 (local)
        document: dict[str, Any] = json.load(answer)
    return document


@pytest.fixture(scope="module")
def large_input(local_dev: LocalStack) -> str:
    """Above the dev stack's lambdaInputLimitMb (64 MB): the workflow sends it to Fargate."""
    body = csv(3_200_000)
    assert len(body) > 64 * 2**20
    upload(local_dev, "uploads/large.csv", body)
    return "uploads/large.csv"


def test_a_small_job_runs_on_lambda_and_its_result_is_linked(local_dev: LocalStack) -> None:
    upload(local_dev, "uploads/small.csv", csv(3_000))
    job_id = submit(local_dev, "uploads/small.csv")

    status = finished(local_dev, job_id)

    assert (status["status"], status["platform"]) == ("SUCCEEDED", "lambda"), status
    result = result_of(status)
    assert (result["jobId"], result["analysis"], result["rows"]) == (job_id, "kmeans", 3_000)
    # Three well separated centres: k-means finds them, about a thousand rows each.
    assert all(800 < size < 1_200 for size in result["result"]["sizes"]), result["result"]
    assert sum(result["result"]["sizes"]) == 3_000


def test_a_large_job_runs_on_the_fargate_path(local_dev: LocalStack, large_input: str,
                                              dev_output: Any) -> None:
    job_id = submit(local_dev, large_input)

    status = finished(local_dev, job_id, timeout=300)

    assert (status["status"], status["platform"]) == ("SUCCEEDED", "fargate"), status
    assert result_of(status)["rows"] == 3_200_000
    assert dev_output.awaited("[asyncAnalytics-task]", "exited with status 0")


def test_a_job_out_of_time_on_lambda_is_retried_on_fargate(
        local_dev: LocalStack, job_timeout: None) -> None:
    upload(local_dev, "uploads/medium.csv", csv(1_500_000))
    # Forty clusters: far more than the 1 s the forced timeout gives, on any machine.
    job_id = submit(local_dev, "uploads/medium.csv", nClusters=40)

    status = finished(local_dev, job_id, timeout=300)

    assert (status["status"], status["platform"]) == ("SUCCEEDED", "fargate"), status


@pytest.fixture
def job_timeout(local_dev: LocalStack) -> Iterator[None]:
    """The job Lambda's timeout forced down to 1 s (a medium job takes longer here)."""
    assert local_dev.lambdas is not None
    worker = local_dev.lambdas._workers[local_dev.lambdas.spec(JOB_FUNCTION).arn]
    spec = worker.spec
    worker.spec = replace(spec, timeout=1)
    yield
    worker.spec = spec


def test_resubmitting_a_job_id_is_the_same_job(local_dev: LocalStack) -> None:
    upload(local_dev, "uploads/again.csv", csv(500))
    job_id = submit(local_dev, "uploads/again.csv")
    again = jobs(local_dev, "PUT", job_id, {"inputKey": "uploads/again.csv",
                                            "analysis": "kmeans"})
    assert again.status == 202
    assert finished(local_dev, job_id)["status"] == "SUCCEEDED"
    assert local_dev.aws is not None
    executions = local_dev.aws.client("stepfunctions").list_executions(
        stateMachineArn=outputs(local_dev)["stateMachineArn"])["executions"]
    assert [e["name"] for e in executions].count(job_id) == 1


def test_a_bad_job_ends_failed_with_its_message_and_bad_requests_get_400(
        local_dev: LocalStack) -> None:
    missing = submit(local_dev, "uploads/never-uploaded.csv")
    status = finished(local_dev, missing)
    assert status["status"] == "FAILED"
    assert status["message"].startswith("inputKey:")
    refused = jobs(local_dev, "PUT", str(uuid.uuid4()), {"inputKey": "elsewhere/x.csv",
                                                         "analysis": "kmeans"})
    assert (refused.status, refused.json()) == (400, {"message": "Invalid request body"})
    assert jobs(local_dev, "GET", str(uuid.uuid4())).status == 404
    assert jobs(local_dev, "GET", "not-a-uuid").status == 400


def test_the_readme_walk_through_works_as_written(local_dev: LocalStack, tmp_path: Path) -> None:
    done = run_walk_through(local_dev, SERVICE, tmp_path)

    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    queued = json.loads(lines[0])
    assert queued["status"] == "QUEUED"
    assert lines[1] == '{"status":"SUCCEEDED","platform":"lambda","rows":3000}'
    result = json.loads(lines[2])
    assert result["nClusters"] == 3
    assert all(900 < size < 1_100 for size in result["sizes"]), result
    assert lines[3] == ("SUCCEEDED ['Prepare', 'Measure', 'Route', 'RecordRunningOnLambda', "
                        "'RunOnLambda', 'RecordSucceeded']")
    assert lines[4] == '{"message": "Invalid request body"}'
    assert lines[5] == ('{"status":"FAILED","message":"The job request is invalid: '
                        'parameters.nClusters must be a whole number from 2 to 50 (default 8)"}')
