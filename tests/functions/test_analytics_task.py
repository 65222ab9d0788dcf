"""Async analytics' Fargate entry point (``analytics_job/task.py``) against moto: the job from
``JOB``, its outcome reported to the workflow on ``TASK_TOKEN`` (``SendTaskSuccess``, or
``SendTaskFailure`` with a Lambda error's Cause), heartbeats while it works, its own record when
no workflow waits (Express), and the exit code.

moto takes ``SendTaskSuccess``/``Failure``/``Heartbeat`` for any token and keeps nothing, so the
calls are recorded from the client's own parameters as botocore sends them; the one failure
moto cannot give (a token that timed out) comes from botocore's ``Stubber``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3  # type: ignore[import-untyped]
import pytest
from botocore.stub import Stubber  # type: ignore[import-untyped]

from tests.functions.analytics_support import (
    ENVIRONMENT,
    JOB_ID,
    Account,
    blobs_csv,
    import_job_module,
    job_request,
    moto_account,
)
from tests.functions.events import REGION

TOKEN = "AQCEAAAAKgAAAAMAAAAAAAAAAeMc8Fg5aE4qZ0H3YzKxT8b2Vn9jQwExampleTaskToken=="
FUNCTIONS = Path(__file__).resolve().parents[2] / "functions"
MISSING = "inputKey: the object could not be read (is it uploaded?)"


class Calls:
    """The Step Functions calls a client made: (operation, parameters), in order."""

    def __init__(self, client: Any) -> None:
        self.made: list[tuple[str, dict[str, Any]]] = []
        self._lock = threading.Lock()
        client.meta.events.register("provide-client-params.sfn", self._record)

    def _record(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        with self._lock:
            self.made.append((model.name, dict(params)))

    def named(self, operation: str) -> list[dict[str, Any]]:
        return [params for name, params in self.made if name == operation]


@pytest.fixture
def account(monkeypatch: pytest.MonkeyPatch) -> Iterator[Account]:
    with moto_account(monkeypatch) as account:
        yield account


@pytest.fixture
def task(account: Account, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    return import_job_module(monkeypatch, "analytics_job.task")


@pytest.fixture
def stepfunctions(account: Account) -> Any:
    return boto3.client("stepfunctions", region_name=REGION)


def clients(task: ModuleType, account: Account, stepfunctions: Any) -> Any:
    return task.Clients(s3=account.s3, stepfunctions=stepfunctions,
                        dynamodb=boto3.resource("dynamodb", region_name=REGION))


def environ(job: Any, *, token: str | None = TOKEN, **changes: str) -> dict[str, str]:
    values = {**ENVIRONMENT, "JOB": job if isinstance(job, str) else json.dumps(job),
              **changes}
    if token:
        values["TASK_TOKEN"] = token
    return values


def test_a_job_is_run_and_its_answer_sent_to_the_workflow(task: ModuleType, account: Account,
                                                          stepfunctions: Any) -> None:
    account.upload(blobs_csv())
    calls = Calls(stepfunctions)

    code = task.main(environ(job_request("kmeans", {"nClusters": 3, "randomState": 0})),
                     clients(task, account, stepfunctions))

    assert code == 0
    assert [name for name, _ in calls.made] == ["SendTaskSuccess"]
    (sent,) = calls.named("SendTaskSuccess")
    assert sent["taskToken"] == TOKEN
    output = json.loads(sent["output"])
    assert output == {"jobId": JOB_ID, "resultKey": f"results/{JOB_ID}.json", "rows": 600,
                      "seconds": output["seconds"], "platform": "fargate"}
    result = account.result()
    assert (result["platform"], result["rows"]) == ("fargate", 600)
    assert result["result"]["sizes"] == [200, 200, 200]


@pytest.mark.parametrize(("job", "message"), [
    (job_request("kmeans"), MISSING),
    (job_request("forest"), "The job request is invalid: analysis must be one of kmeans, "
                            "linearRegression, pca"),
    ("{not json", "The job request is invalid: the job request must be a JSON object"),
], ids=["missing input", "bad request", "JOB not JSON"])
def test_a_failed_job_is_sent_as_a_lambda_error_would_be(task: ModuleType, account: Account,
                                                         stepfunctions: Any, job: Any,
                                                         message: str) -> None:
    calls = Calls(stepfunctions)

    code = task.main(environ(job), clients(task, account, stepfunctions))

    assert code == 0  # reported
    assert calls.made == [("SendTaskFailure", {
        "taskToken": TOKEN, "error": "JobFailed",
        "cause": json.dumps({"errorMessage": message, "errorType": "JobFailed"})})]
    assert json.loads(calls.made[0][1]["cause"])["errorMessage"] == message
    assert account.result_keys() == []


def test_an_error_that_is_not_the_jobs_is_sent_under_its_name(task: ModuleType,
                                                              account: Account,
                                                              stepfunctions: Any) -> None:
    account.upload(blobs_csv())
    calls = Calls(stepfunctions)

    code = task.main(environ(job_request("pca"), RESULT_BUCKET="no-such-results"),
                     clients(task, account, stepfunctions))

    assert code == 0
    ((operation, sent),) = calls.made
    # botocore's class for the error, as Lambda would name it: the workflow records that the
    # job could not run.
    assert (operation, sent["error"]) == ("SendTaskFailure", "NoSuchBucket")
    cause = json.loads(sent["cause"])
    assert cause["errorType"] == "NoSuchBucket"
    assert "PutObject operation: The specified bucket does not exist" in cause["errorMessage"]


def test_heartbeats_go_out_while_the_job_works(task: ModuleType, account: Account,
                                               stepfunctions: Any,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    account.upload(blobs_csv())
    calls = Calls(stepfunctions)
    run = task.run

    def slow_run(*args: Any, **kwargs: Any) -> Any:
        time.sleep(0.3)
        return run(*args, **kwargs)

    monkeypatch.setattr(task, "run", slow_run)

    code = task.main(environ(job_request("pca")), clients(task, account, stepfunctions),
                     heartbeat_seconds=0.05)

    assert code == 0
    names = [name for name, _ in calls.made]
    assert names[-1] == "SendTaskSuccess"
    assert set(names[:-1]) == {"SendTaskHeartbeat"}
    assert len(names[:-1]) >= 3
    assert all(params == {"taskToken": TOKEN} for params in calls.named("SendTaskHeartbeat"))
    time.sleep(0.15)
    assert len(calls.made) == len(names)  # no heartbeat after the report


def test_the_heartbeat_stops_when_the_workflow_gave_up(task: ModuleType,
                                                       stepfunctions: Any) -> None:
    with Stubber(stepfunctions) as stubber:
        stubber.add_client_error("send_task_heartbeat", service_error_code="TaskTimedOut",
                                 http_status_code=400, expected_params={"taskToken": TOKEN})
        with task.Heartbeat(stepfunctions, TOKEN, 0.01):
            time.sleep(0.1)

        stubber.assert_no_pending_responses()  # one call taken, and no other made


def test_without_a_token_no_heartbeat_is_sent(task: ModuleType, stepfunctions: Any) -> None:
    calls = Calls(stepfunctions)

    with task.Heartbeat(stepfunctions, None, 0.01):
        time.sleep(0.05)

    assert calls.made == []


def test_a_report_that_is_refused_exits_non_zero(task: ModuleType, account: Account,
                                                 stepfunctions: Any) -> None:
    account.upload(blobs_csv())
    with Stubber(stepfunctions) as stubber:
        stubber.add_client_error("send_task_success", service_error_code="TaskTimedOut",
                                 http_status_code=400)

        code = task.main(environ(job_request("pca")), clients(task, account, stepfunctions))

        stubber.assert_no_pending_responses()
    assert code == 1


def test_without_a_token_the_task_records_its_own_outcome(task: ModuleType, account: Account,
                                                          stepfunctions: Any) -> None:
    """An Express workflow starts the task and does not wait for it."""
    account.upload(blobs_csv())
    account.jobs.put_item(Item={"jobId": JOB_ID, "status": "RUNNING", "analysis": "pca"})
    calls = Calls(stepfunctions)

    code = task.main(environ(job_request("pca"), token=None),
                     clients(task, account, stepfunctions))

    assert code == 0
    assert calls.made == []
    record = account.record()
    assert (record["status"], record["resultKey"], record["rows"], record["platform"]) == (
        "SUCCEEDED", f"results/{JOB_ID}.json", 600, "fargate")
    assert record["seconds"] > 0
    assert record["updatedAt"].endswith("Z")


def test_without_a_token_a_failed_job_is_recorded_failed(task: ModuleType, account: Account,
                                                         stepfunctions: Any) -> None:
    account.jobs.put_item(Item={"jobId": JOB_ID, "status": "RUNNING", "analysis": "pca"})

    code = task.main(environ(job_request("pca"), token=None),
                     clients(task, account, stepfunctions))

    assert code == 0
    record = account.record()
    assert (record["status"], record["message"]) == ("FAILED", MISSING)


def test_without_a_token_or_a_record_the_task_exits_non_zero(task: ModuleType,
                                                             account: Account,
                                                             stepfunctions: Any) -> None:
    code = task.main(environ(job_request("pca"), token=None),
                     clients(task, account, stepfunctions))

    assert code == 1  # the record must exist: the task never creates one
    assert account.records() == []


def test_the_command_logs_json_and_exits_non_zero_when_it_cannot_report(
        tmp_path: Path) -> None:
    """``python3 task.py`` as the task definition runs it: no token and no table to report
    to."""
    environment = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(FUNCTIONS),
                   "HOME": str(tmp_path), "AWS_DEFAULT_REGION": REGION,
                   "POWERTOOLS_SERVICE_NAME": "async-analytics", "JOB": "{}"}
    result = subprocess.run(
        [sys.executable, "task.py"], cwd=FUNCTIONS / "analytics_job", env=environment,
        capture_output=True, text=True, timeout=120, check=False)

    assert result.returncode == 1, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [(line["level"], line["message"]) for line in lines] == [
        ("WARNING", "The job failed"), ("ERROR", "The outcome could not be reported")]
    assert lines[-1]["reason"] == "JOB holds no job id: there is no record to report to"
    assert all(line["service"] == "async-analytics" for line in lines)
