"""Async analytics' job Lambda entry points against moto: the queue's consumer (``app.handler``)
records each job and starts its workflow, once, whatever SQS or the client repeats; the
workflow's step (``app.run_job``) runs each analysis on a CSV whose answer is known, and ends
every bad job with a ``JobFailed`` that says why."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from types import ModuleType
from typing import Any

import numpy as np
import pytest
from blueprints_common.entry import JobFailed
from botocore.exceptions import ClientError  # type: ignore[import-untyped]

from tests.functions.analytics_support import (
    CENTERS,
    COEFFICIENTS,
    INTERCEPT,
    JOB_ID,
    OTHER_JOB_ID,
    STATE_MACHINE_ARN,
    SUBMITTED,
    Account,
    blobs,
    blobs_csv,
    correlated_csv,
    csv_text,
    import_job_module,
    job_request,
    linear_csv,
    moto_account,
    sqs_event,
)
from tests.functions.events import LambdaContext

NOW = datetime(2026, 11, 26, 15, 0, 30, tzinfo=UTC)
UPDATED = "2026-11-26T15:00:30.000Z"
EXPIRES = Decimal(int((NOW + timedelta(days=30)).timestamp()))
CONTEXT = LambdaContext(function_name="async-analytics-job", memory_limit_in_mb=3008)
pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish")


@pytest.fixture
def account(monkeypatch: pytest.MonkeyPatch) -> Iterator[Account]:
    with moto_account(monkeypatch) as account:
        yield account


@pytest.fixture
def app(account: Account, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    module = import_job_module(monkeypatch)
    monkeypatch.setattr(module, "utcnow", lambda: NOW)
    return module


@pytest.fixture
def log(app: ModuleType, monkeypatch: pytest.MonkeyPatch) -> io.StringIO:
    """The job module's log lines (its Powertools logger keeps the stream it was made with)."""
    stream = io.StringIO()
    monkeypatch.setattr(app.logger.registered_handler, "stream", stream)
    return stream


def consume(app: ModuleType, *bodies: Any) -> list[str]:
    """The consumer's answer to a batch of ``bodies``: the message ids to retry."""
    answer = app.handler(sqs_event(*bodies), CONTEXT)
    return [failure["itemIdentifier"] for failure in answer["batchItemFailures"]]


def message_id(position: int) -> str:
    return sqs_event(*[{}] * (position + 1))["Records"][position]["messageId"]


def run_started_job(app: ModuleType, account: Account) -> dict[str, Any]:
    """The workflow's Lambda step, on the input the consumer started the workflow with."""
    (execution,) = account.executions()
    answer: dict[str, Any] = app.run_job(execution["input"], CONTEXT)
    return answer


def canonical(analysis: str, parameters: dict[str, Any], job_id: str = JOB_ID) -> dict[str, Any]:
    return {"jobId": job_id, "inputKey": "uploads/data.csv", "analysis": analysis,
            "parameters": parameters, "submittedAt": SUBMITTED}


# --- a job, end to end -------------------------------------------------------------------------

def test_a_kmeans_job_is_queued_started_and_finds_the_clusters(app: ModuleType,
                                                               account: Account) -> None:
    account.upload(blobs_csv())

    assert consume(app, job_request("kmeans", {"nClusters": 3, "randomState": 0})) == []

    assert account.record() == {
        "jobId": JOB_ID, "status": "QUEUED", "analysis": "kmeans",
        "inputKey": "uploads/data.csv", "parameters": '{"nClusters":3,"randomState":0}',
        "submittedAt": SUBMITTED, "updatedAt": UPDATED, "expiresAt": EXPIRES}
    request = canonical("kmeans", {"nClusters": 3, "randomState": 0})
    assert account.executions() == [{"name": JOB_ID, "input": request}]

    answer = run_started_job(app, account)

    assert answer == {"jobId": JOB_ID, "resultKey": f"results/{JOB_ID}.json", "rows": 600,
                      "seconds": answer["seconds"], "platform": "lambda"}
    assert 0 < answer["seconds"] < 60
    result = account.result()
    assert {key: result[key] for key in ("jobId", "analysis", "parameters", "inputKey", "rows",
                                         "columns", "platform")} == {
        "jobId": JOB_ID, "analysis": "kmeans", "parameters": {"nClusters": 3, "randomState": 0},
        "inputKey": "uploads/data.csv", "rows": 600, "columns": ["a", "b", "c"],
        "platform": "lambda"}
    assert result["metrics"]["rows"] == 600
    assert result["metrics"]["seconds"] == answer["seconds"]
    assert result["metrics"]["peakMemoryMb"] > 10
    assert datetime.fromisoformat(result["finishedAt"]).tzinfo is not None
    clusters = result["result"]
    assert clusters["sizes"] == [200, 200, 200]
    found = sorted(tuple(center[name] for name in ("a", "b", "c"))
                   for center in clusters["centers"])
    assert np.allclose(found, sorted(CENTERS), atol=0.15)  # in the columns' own units
    assert clusters["silhouette"] > 0.8
    assert clusters["silhouetteRows"] == 600
    assert clusters["inertia"] > 0
    assert "warnings" not in clusters
    # The workflow writes the status: the job's step does not.
    assert account.record()["status"] == "QUEUED"


def test_a_regression_recovers_the_coefficients(app: ModuleType, account: Account) -> None:
    account.upload(linear_csv())
    consume(app, job_request("linearRegression", {"target": "y", "randomState": 4}))

    answer = run_started_job(app, account)

    assert answer["rows"] == 1000
    result = account.result()
    assert result["columns"] == ["x1", "x2", "x3", "y"]
    assert result["parameters"] == {"target": "y", "testFraction": 0.2, "randomState": 4}
    fit = result["result"]
    assert fit["target"] == "y"
    assert fit["features"] == ["x1", "x2", "x3"]
    assert fit["coefficients"] == pytest.approx(COEFFICIENTS, abs=0.01)
    assert fit["intercept"] == pytest.approx(INTERCEPT, abs=0.02)
    assert fit["r2"] > 0.9999
    assert fit["mae"] == pytest.approx(0.08, abs=0.03)  # the noise's (sigma 0.1) mean |error|
    assert (fit["trainRows"], fit["testRows"]) == (800, 200)


def test_a_pca_finds_the_correlated_pair(app: ModuleType, account: Account) -> None:
    account.upload(correlated_csv())
    consume(app, job_request("pca", {"nComponents": 2}))

    run_started_job(app, account)

    fit = account.result()["result"]
    assert fit["features"] == ["u", "v", "w"]
    ratios = fit["explainedVarianceRatio"]
    assert len(ratios) == 2
    assert ratios[0] == pytest.approx(2 / 3, abs=0.05)  # u and v: two of three unit variances
    assert ratios[1] == pytest.approx(1 / 3, abs=0.05)
    first, second = fit["components"]
    assert abs(first["u"]) == pytest.approx(abs(first["v"]), abs=0.01)
    assert abs(first["u"]) == pytest.approx(2 ** -0.5, abs=0.01)
    assert abs(first["w"]) < 0.05
    assert abs(second["w"]) > 0.99


def test_named_features_restrict_the_columns(app: ModuleType, account: Account) -> None:
    account.upload(blobs_csv())

    app.run_job(job_request("kmeans", {"nClusters": 2, "features": ["b", "a"],
                                       "randomState": 1}), CONTEXT)

    result = account.result()
    assert result["columns"] == ["b", "a"]
    assert all(set(center) == {"b", "a"} for center in result["result"]["centers"])


def test_kmeans_with_more_clusters_than_distinct_points_warns(app: ModuleType,
                                                              account: Account) -> None:
    account.upload(csv_text(("a", "b"), [[1, 1], [2, 2]] * 20))

    app.run_job(job_request("kmeans", {"nClusters": 3, "randomState": 0}), CONTEXT)

    fit = account.result()["result"]
    assert sorted(fit["sizes"]) == [0, 20, 20]
    assert any("distinct clusters" in warning for warning in fit["warnings"])


def test_a_large_silhouette_is_measured_on_a_sample(app: ModuleType, account: Account) -> None:
    account.upload(csv_text(("a", "b", "c"), blobs(rows_per_cluster=4000)))

    answer = app.run_job(job_request("kmeans", {"nClusters": 3, "randomState": 2}), CONTEXT)

    assert answer["rows"] == 12_000
    assert account.result()["result"]["silhouetteRows"] == 10_000


# --- the consumer: retries, duplicates, partial failures --------------------------------------

class Throttled:
    """A client whose ``operation`` is throttled for one job, the rest passed to ``client``."""

    def __init__(self, client: Any, operation: str, job_id: str, code: str) -> None:
        self._client, self._operation, self._job_id, self._code = (client, operation, job_id,
                                                                    code)
        self.refused = 0

    def __getattr__(self, name: str) -> Any:
        call = getattr(self._client, name)
        if name != self._operation:
            return call

        def throttled(**request: Any) -> Any:
            if self._job_id in json.dumps(request):
                self.refused += 1
                raise ClientError({"Error": {"Code": self._code, "Message": "Slow down"},
                                   "ResponseMetadata": {"HTTPStatusCode": 400}}, name)
            return call(**request)

        return throttled


def test_a_throttled_record_alone_is_retried(app: ModuleType, account: Account,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    table = Throttled(app.jobs_table, "put_item", OTHER_JOB_ID,
                      "ProvisionedThroughputExceededException")
    monkeypatch.setattr(app, "jobs_table", table)

    failures = consume(app, job_request("pca"), job_request("pca", job_id=OTHER_JOB_ID))

    assert failures == [message_id(1)]
    assert table.refused == 1
    assert [item["jobId"] for item in account.records()] == [JOB_ID]
    assert [execution["name"] for execution in account.executions()] == [JOB_ID]


def test_a_throttled_start_is_retried_and_starts_once(app: ModuleType, account: Account,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    throttled = Throttled(app.stepfunctions, "start_execution", OTHER_JOB_ID,
                          "ThrottlingException")
    monkeypatch.setattr(app, "stepfunctions", throttled)
    first, second = job_request("pca"), job_request("pca", job_id=OTHER_JOB_ID)

    assert consume(app, first, second) == [message_id(1)]
    # Recorded before the start failed: the retry finds the record, and starts the job.
    assert account.record(OTHER_JOB_ID)["status"] == "QUEUED"
    assert [execution["name"] for execution in account.executions()] == [JOB_ID]

    monkeypatch.setattr(app, "stepfunctions", account.stepfunctions)
    assert consume(app, second) == []

    assert sorted(execution["name"] for execution in account.executions()) == sorted(
        [JOB_ID, OTHER_JOB_ID])


def test_a_resubmitted_job_is_recorded_and_started_once(app: ModuleType,
                                                        account: Account) -> None:
    first = job_request("kmeans", {"nClusters": 4})
    again = job_request("kmeans", {"nClusters": 4}, submitted=SUBMITTED_LATER)

    assert consume(app, first) == []
    assert consume(app, again, first) == []  # the client again, and SQS again

    assert len(account.records()) == 1
    assert account.record()["submittedAt"] == SUBMITTED
    # Every start carried the recorded request: the same execution, started once.
    assert account.executions() == [{"name": JOB_ID,
                                     "input": canonical("kmeans", {"nClusters": 4})}]


SUBMITTED_LATER = "2026-11-26T15:05:00Z"


def test_a_resubmission_that_differs_never_replaces_the_job(app: ModuleType,
                                                            account: Account) -> None:
    consume(app, job_request("kmeans"))

    assert consume(app, job_request("pca", {"nComponents": 3}, input_key="uploads/b.csv")) == []

    assert account.record()["analysis"] == "kmeans"
    assert account.executions() == [{"name": JOB_ID, "input": canonical("kmeans",
                                                                        {"nClusters": 8})}]


def test_an_execution_that_already_exists_counts_as_started(app: ModuleType,
                                                            account: Account) -> None:
    consume(app, job_request("pca"))
    (execution,) = account.stepfunctions.list_executions(
        stateMachineArn=STATE_MACHINE_ARN)["executions"]
    # Ended: Step Functions now answers ExecutionAlreadyExists for its name.
    account.stepfunctions.stop_execution(executionArn=execution["executionArn"])

    assert consume(app, job_request("pca")) == []

    assert len(account.executions()) == 1


def test_a_job_that_runs_or_ended_is_not_started_again(app: ModuleType,
                                                       account: Account) -> None:
    account.jobs.put_item(Item={"jobId": JOB_ID, "status": "RUNNING", "analysis": "pca",
                                "inputKey": "uploads/data.csv", "parameters": "{}"})

    assert consume(app, job_request("pca")) == []

    assert account.executions() == []
    assert account.record()["status"] == "RUNNING"


# --- bad jobs ----------------------------------------------------------------------------------

INVALID = "The job request is invalid: "
BAD_REQUESTS = {
    "unknown analysis": (
        job_request("forest"),
        "analysis must be one of kmeans, linearRegression, pca"),
    "too few clusters": (
        job_request("kmeans", {"nClusters": 1}),
        "parameters.nClusters must be a whole number from 2 to 50 (default 8)"),
    "clusters not a number": (
        job_request("kmeans", {"nClusters": "3"}),
        "parameters.nClusters must be a whole number from 2 to 50 (default 8)"),
    "a boolean seed": (
        job_request("kmeans", {"randomState": True}),
        "parameters.randomState must be a whole number from 0 to 4294967295"),
    "test fraction": (
        job_request("linearRegression", {"target": "y", "testFraction": 0.9}),
        "parameters.testFraction must be a number from 0.05 to 0.5 (default 0.2)"),
    "no target": (
        job_request("linearRegression"),
        "parameters.target is required: the name of a numeric column"),
    "target among features": (
        job_request("linearRegression", {"target": "y", "features": ["x1", "y"]}),
        "parameters.target must not be one of parameters.features"),
    "repeated features": (
        job_request("pca", {"features": ["a", "a"]}),
        "parameters.features must be a list of 1 to 1000 different column names (default: "
        "every numeric column)"),
    "too many components": (
        job_request("pca", {"nComponents": 21}),
        "parameters.nComponents must be a whole number from 1 to 20 (default 2)"),
    "unknown parameter": (
        job_request("kmeans", {"clusters": 3}),
        "parameters: 'clusters' is not a parameter of kmeans, which takes nClusters, "
        "features, randomState"),
    "parameters not an object": (
        job_request("kmeans") | {"parameters": [3]},
        "parameters must be an object"),
    "outside uploads": (
        job_request(input_key="results/other.json"),
        "inputKey must be an S3 key under uploads/ (at most 1024 bytes, no '..', no control "
        "characters)"),
    "dot dot": (
        job_request(input_key="uploads/../results/other.json"),
        "inputKey must be an S3 key under uploads/ (at most 1024 bytes, no '..', no control "
        "characters)"),
    "time without offset": (
        job_request(submitted="2026-11-26T15:00:00"),
        "submittedAt must be an ISO 8601 time with its offset (UTC: ...Z), or epoch "
        "milliseconds"),
    "extra field": (
        job_request() | {"callbackUrl": "https://example.com"},
        "'callbackUrl' is not a field of a job request, which has jobId, inputKey, analysis, "
        "parameters, submittedAt"),
}


@pytest.mark.parametrize(("request_body", "problem"), list(BAD_REQUESTS.values()),
                         ids=list(BAD_REQUESTS))
def test_a_bad_request_fails_the_job_step(app: ModuleType, account: Account,
                                          request_body: dict[str, Any], problem: str) -> None:
    account.upload(linear_csv())

    with pytest.raises(JobFailed) as failed:
        app.run_job(request_body, CONTEXT)

    assert str(failed.value) == INVALID + problem
    assert account.result_keys() == []


@pytest.mark.parametrize(("request_body", "problem"), list(BAD_REQUESTS.values()),
                         ids=list(BAD_REQUESTS))
def test_a_bad_request_is_recorded_failed_by_the_consumer(app: ModuleType, account: Account,
                                                          request_body: dict[str, Any],
                                                          problem: str) -> None:
    assert consume(app, request_body) == []

    record = account.record()
    assert (record["status"], record["message"]) == ("FAILED", INVALID + problem)
    assert (record["submittedAt"], record["updatedAt"], record["expiresAt"]) == (
        SUBMITTED if "offset" not in problem else UPDATED, UPDATED, EXPIRES)
    assert account.executions() == []


def test_a_failed_record_keeps_the_fields_that_were_valid(app: ModuleType,
                                                          account: Account) -> None:
    consume(app, job_request("kmeans", {"nClusters": 99}))

    assert account.record() == {
        "jobId": JOB_ID, "status": "FAILED", "analysis": "kmeans",
        "inputKey": "uploads/data.csv", "submittedAt": SUBMITTED, "updatedAt": UPDATED,
        "expiresAt": EXPIRES,
        "message": INVALID + "parameters.nClusters must be a whole number from 2 to 50 "
                             "(default 8)"}


def test_every_problem_of_a_request_is_named(app: ModuleType) -> None:
    body = {"jobId": JOB_ID, "inputKey": "data.csv", "analysis": "pca",
            "parameters": {"nComponents": 0, "features": []}}

    with pytest.raises(JobFailed) as failed:
        app.run_job(body, CONTEXT)

    assert str(failed.value) == INVALID + "; ".join([
        "inputKey must be an S3 key under uploads/ (at most 1024 bytes, no '..', no control "
        "characters)",
        "parameters.nComponents must be a whole number from 1 to 20 (default 2)",
        "parameters.features must be a list of 1 to 1000 different column names (default: "
        "every numeric column)",
        "submittedAt must be an ISO 8601 time with its offset (UTC: ...Z), or epoch "
        "milliseconds"])


def test_an_upper_case_job_id_is_kept_lower_case(app: ModuleType, account: Account) -> None:
    consume(app, job_request("pca", job_id=JOB_ID.upper()))

    assert account.record()["jobId"] == JOB_ID
    assert account.executions()[0]["name"] == JOB_ID


def test_a_failed_request_never_replaces_a_recorded_job(app: ModuleType,
                                                       account: Account) -> None:
    consume(app, job_request("pca"))

    assert consume(app, job_request("forest")) == []

    assert account.record()["status"] == "QUEUED"


@pytest.mark.parametrize("body", ["not json", "[1, 2]", '{"jobId": "42", "analysis": "pca"}',
                                  "[" * 5000 + "]" * 5000, '{"jobId": null}'],
                         ids=["not json", "an array", "not a uuid", "too deep", "null id"])
def test_a_request_without_a_job_id_is_dropped(app: ModuleType, account: Account, body: str,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    assert consume(app, body) == []

    assert account.records() == []
    assert account.executions() == []
    assert '"JobRequestsDropped":[1.0]' in capsys.readouterr().out.replace(" ", "")


MISSING = "inputKey: the object could not be read (is it uploaded?)"
NOT_TEXT = "inputKey: the object is not a CSV file (it is not UTF-8 text)"
BAD_INPUTS: dict[str, tuple[bytes | None, dict[str, Any], str]] = {
    "missing object": (None, {}, MISSING),
    "binary file": (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)), {}, NOT_TEXT),
    "latin-1 text": ("a,b\n1,caf\u00e9\n".encode("latin-1"), {}, NOT_TEXT),
    "empty file": (b"", {}, "inputKey: the object is empty; a CSV needs a header line naming "
                            "its columns, then one row a line"),
    "no header": (b"1,2,3\n4,5,6\n", {},
                  "the CSV needs a header: its first line must name the columns, and it holds "
                  "numbers"),
    "header only": (b"a,b,c\n", {}, "the CSV has a header but no data rows"),
    "unnamed column": (b"a,,c\n1,2,3\n", {}, "the header's column 2 has no name"),
    "repeated column": (b"a,b,a\n1,2,3\n", {},
                        "the header names column 'a' more than once"),
    "short row": (b"a,b,c\n1,2,3\n4,5\n", {},
                  "line 3 has 2 fields where the header has 3: every row needs one value a "
                  "column"),
    "long row after the sample": (
        b"a,b,c\n" + b"1,2,3\n" * 1500 + b"4,5,6,7\n", {},
        "line 1502 has 4 fields where the header has 3: every row needs one value a column"),
    "text in a numeric column": (
        b"a,b,c\n" + b"1,2,3\n" * 1500 + b"4,five,6\n", {},
        "line 1502, column 'b': not a number, where the column's first rows are numbers "
        "(empty values are not allowed)"),
    "no numeric column": (b"name,city\nAna,Lisbon\nBo,Oslo\n", {},
                          "the CSV has no numeric column: in its first rows every column holds "
                          "text"),
    "unknown feature": (b"a,b,c\n1,2,3\n4,5,6\n7,8,9\n", {"features": ["a", "z"]},
                        "parameters.features: the CSV has no column 'z'"),
    "text feature": (b"a,b,name\n1,2,x\n4,5,y\n7,8,z\n", {"features": ["a", "name"]},
                     "parameters.features: column 'name' is not numeric (its first rows hold "
                     "text)"),
    "not finite": (b"a,b\n1,2\n3,nan\n5,6\n7,8\n", {},
                   "column 'b' holds a value that is not a finite number (NaN or infinity)"),
    "too few rows": (b"a,b\n1,2\n3,4\n5,6\n", {"nClusters": 3},
                     "kmeans with nClusters 3 needs at least 4 data rows; the CSV has 3"),
}


@pytest.mark.parametrize(("content", "parameters", "problem"), list(BAD_INPUTS.values()),
                         ids=list(BAD_INPUTS))
def test_a_bad_input_fails_the_job_with_its_reason(app: ModuleType, account: Account,
                                                   content: bytes | None,
                                                   parameters: dict[str, Any],
                                                   problem: str) -> None:
    if content is not None:
        account.upload(content)

    with pytest.raises(JobFailed) as failed:
        app.run_job(job_request("kmeans", {"nClusters": 2, **parameters}), CONTEXT)

    assert str(failed.value) == problem
    assert account.result_keys() == []


@pytest.mark.parametrize(("analysis", "parameters", "content", "problem"), [
    ("linearRegression", {"target": "z"}, b"a,b\n1,2\n", "parameters.target: the CSV has no "
                                                         "column 'z'"),
    ("linearRegression", {"target": "b"}, b"b\n1\n2\n", "the CSV has no numeric column besides "
                                                        "parameters.target to use as a feature"),
    ("linearRegression", {"target": "b"}, b"a,b\n" + b"1,2\n" * 5,
     "linearRegression with testFraction 0.2 and 1 features needs at least 6 data rows; the "
     "CSV has 5"),
    ("pca", {"nComponents": 3}, b"a,b\n1,2\n3,4\n5,6\n",
     "parameters.nComponents must be from 1 to 2: the analysis has 2 feature column(s)"),
])
def test_what_the_data_does_not_allow_fails_the_job(app: ModuleType, account: Account,
                                                    analysis: str, parameters: dict[str, Any],
                                                    content: bytes, problem: str) -> None:
    account.upload(content)

    with pytest.raises(JobFailed) as failed:
        app.run_job(job_request(analysis, parameters), CONTEXT)

    assert str(failed.value) == problem


def test_a_bom_crlf_quotes_and_blank_lines_are_read(app: ModuleType, account: Account) -> None:
    account.upload(b'\xef\xbb\xbf"a","b",note\r\n1,2,"x, y"\r\n\r\n3,4,z\r\n5,"6",w\r\n')

    answer = app.run_job(job_request("pca", {"nComponents": 1}), CONTEXT)

    assert answer["rows"] == 3
    assert account.result()["columns"] == ["a", "b"]


def test_a_job_failure_is_logged_and_counted(app: ModuleType, log: io.StringIO,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(JobFailed):
        app.run_job(job_request("kmeans"), CONTEXT)

    lines = [json.loads(line) for line in log.getvalue().splitlines()]
    (failed,) = [line for line in lines if line["message"] == "The job failed"]
    assert (failed["level"], failed["jobId"], failed["analysis"], failed["reason"]) == (
        "WARNING", JOB_ID, "kmeans", MISSING)
    assert '"JobsFailed":[1.0]' in capsys.readouterr().out.replace(" ", "")


def test_settings_name_every_problem(app: ModuleType) -> None:
    with pytest.raises(ValueError, match="INPUT_BUCKET is required; RESULT_BUCKET is required; "
                                         "JOBS_TABLE is required; JOB_RETENTION_DAYS must be a "
                                         "whole number of days, from 1 to 365"):
        app.Settings.from_environ({"JOB_RETENTION_DAYS": "0"})
