"""Async analytics' status API, driven with REST API proxy events (after IAM authorization)
against moto: the jobs table and the results bucket shaped as the component declares them
(``jobId`` key, TTL on ``expiresAt``, a KMS key; a versioned, private, KMS-encrypted bucket
whose lifecycle expires results). The presigned link is fetched with ``requests``, which moto
answers in process."""

from __future__ import annotations

import io
import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from types import ModuleType
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import boto3  # type: ignore[import-untyped]
import pytest
import requests
from botocore.exceptions import ClientError  # type: ignore[import-untyped]
from moto import mock_aws

from tests.functions import events
from tests.functions.event_management_support import import_handler, set_aws_environment
from tests.functions.events import ACCOUNT, REGION, LambdaContext
from tests.functions.test_entity_matcher import capture_log, log_lines

MODULE = "analytics_status.app"
JOBS_TABLE = "analytics-jobs"
RESULT_BUCKET = "analytics-results"
ENVIRONMENT = {"JOBS_TABLE": JOBS_TABLE, "RESULT_BUCKET": RESULT_BUCKET,
               "POWERTOOLS_SERVICE_NAME": "analytics"}
CONTEXT = LambdaContext("analytics-status", 512)
NOW = datetime(2026, 11, 26, 15, 0, tzinfo=UTC)
JOB_ID = "3f2c8a4e-9b1d-4c6e-8f0a-1b2c3d4e5f60"
SUBMITTED_AT = 1795705445000  # $context.requestTimeEpoch: milliseconds
STARTED = "2026-11-26T14:57:06.512Z"  # $$.State.EnteredTime
FINISHED = "2026-11-26T14:58:41.097Z"
PARAMETERS = {"clusters": 3, "columns": ["amount", "tenure"], "scale": True}
RESULT = {"analysis": "kmeans", "rows": 12000, "inertia": 1843.5,
          "centers": [[1.0, 2.0], [3.5, 4.25], [9.0, 0.5]]}
NOT_FOUND = {"statusCode": 404,
             "message": "Job not found (a job submitted a moment ago appears within seconds)"}
pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish")


# --- the account -------------------------------------------------------------------------------

@dataclass
class Account:
    """The moto account of one test."""

    table: Any
    s3: Any


def create_jobs_table(client: Any, key_arn: str) -> None:
    """The jobs table as the component declares it: ``jobId`` key, on demand, the environment's
    KMS key, TTL on ``expiresAt``."""
    client.create_table(
        TableName=JOBS_TABLE, BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "jobId", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "jobId", "AttributeType": "S"}],
        SSESpecification={"Enabled": True, "SSEType": "KMS", "KMSMasterKeyId": key_arn})
    client.update_time_to_live(TableName=JOBS_TABLE, TimeToLiveSpecification={
        "Enabled": True, "AttributeName": "expiresAt"})


def create_results_bucket(client: Any, key_arn: str) -> None:
    """The results bucket as the bucket block makes it: private, versioned, encrypted with the
    environment's key, current results expiring."""
    client.create_bucket(Bucket=RESULT_BUCKET)
    client.put_public_access_block(Bucket=RESULT_BUCKET, PublicAccessBlockConfiguration={
        "BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True,
        "RestrictPublicBuckets": True})
    client.put_bucket_versioning(Bucket=RESULT_BUCKET,
                                 VersioningConfiguration={"Status": "Enabled"})
    client.put_bucket_encryption(Bucket=RESULT_BUCKET, ServerSideEncryptionConfiguration={
        "Rules": [{"ApplyServerSideEncryptionByDefault": {
            "SSEAlgorithm": "aws:kms", "KMSMasterKeyID": key_arn}, "BucketKeyEnabled": True}]})
    client.put_bucket_lifecycle_configuration(Bucket=RESULT_BUCKET, LifecycleConfiguration={
        "Rules": [{"ID": "expire-current-versions", "Status": "Enabled",
                   "Filter": {"Prefix": ""}, "Expiration": {"Days": 7}}]})


@pytest.fixture
def account(monkeypatch: pytest.MonkeyPatch) -> Iterator[Account]:
    set_aws_environment(monkeypatch)
    with mock_aws():
        key_arn = boto3.client("kms", region_name=REGION).create_key(
            Description="environment")["KeyMetadata"]["Arn"]
        create_jobs_table(boto3.client("dynamodb", region_name=REGION), key_arn)
        s3 = boto3.client("s3", region_name=REGION)
        create_results_bucket(s3, key_arn)
        yield Account(boto3.resource("dynamodb", region_name=REGION).Table(JOBS_TABLE), s3)


def load(monkeypatch: pytest.MonkeyPatch, **extra: str) -> ModuleType:
    module = import_handler(monkeypatch, MODULE, {**ENVIRONMENT, **extra})
    monkeypatch.setattr(module, "utcnow", lambda: NOW)
    return module


@pytest.fixture
def api(account: Account, monkeypatch: pytest.MonkeyPatch) -> Iterator[ModuleType]:
    yield load(monkeypatch)
    sys.modules.pop(MODULE, None)


@pytest.fixture
def log(api: ModuleType, monkeypatch: pytest.MonkeyPatch) -> io.StringIO:
    return capture_log(api, monkeypatch)


# --- records and events ------------------------------------------------------------------------

def record(status: str, job_id: str = JOB_ID, **extra: Any) -> dict[str, Any]:
    """A job record as the consumer writes it and the workflow updates it."""
    item: dict[str, Any] = {
        "jobId": job_id, "status": status, "analysis": "kmeans",
        "inputKey": "uploads/customers.csv", "parameters": json.dumps(PARAMETERS),
        "submittedAt": SUBMITTED_AT, "updatedAt": STARTED,
        "expiresAt": int((NOW + timedelta(days=30)).timestamp())}
    if status in ("RUNNING", "SUCCEEDED", "FAILED"):
        item["platform"] = "lambda"
    if status == "SUCCEEDED":
        item |= {"updatedAt": FINISHED, "resultKey": f"results/{job_id}.json", "rows": 12000,
                 "seconds": Decimal("3.412")}
    if status == "FAILED":
        item |= {"updatedAt": FINISHED,
                 "message": "parameters.clusters must be a whole number from 2 to 100"}
    return item | extra


def put_result(account: Account, job_id: str = JOB_ID) -> bytes:
    body = json.dumps(RESULT).encode()
    account.s3.put_object(Bucket=RESULT_BUCKET, Key=f"results/{job_id}.json", Body=body,
                          ContentType="application/json")
    return body


def status_event(job_id: str, *, method: str = "GET", path: str | None = None
                 ) -> dict[str, Any]:
    """``GET /jobs/{jobId}`` as API Gateway sends it after IAM authorization: the caller's
    SigV4 identity in ``requestContext.identity``."""
    event = events.rest_event(path or f"/jobs/{job_id}", method=method,
                              resource="/jobs/{jobId}", path_parameters={"jobId": job_id},
                              headers={"Authorization": "AWS4-HMAC-SHA256 Credential=ASIA...",
                                       "X-Amz-Date": "20261126T150000Z",
                                       "X-Amz-Security-Token": "IQoJb3JpZ2luX2Vj"})
    event["requestContext"]["identity"] |= {
        "accessKey": "ASIAXMPLE0123456789", "accountId": ACCOUNT,
        "caller": "AROAXMPLE0123456789:analyst", "user": "AROAXMPLE0123456789:analyst",
        "userArn": f"arn:aws:sts::{ACCOUNT}:assumed-role/analytics-client/analyst"}
    return event


@dataclass
class Answer:
    status: int
    body: Any
    headers: dict[str, list[str]]


def call(api: ModuleType, event: dict[str, Any]) -> Answer:
    response = api.handler(event, CONTEXT)
    return Answer(response["statusCode"], json.loads(response["body"]),
                  response["multiValueHeaders"])


def common_fields(status: str, updated: str = STARTED) -> dict[str, Any]:
    return {"jobId": JOB_ID, "status": status, "analysis": "kmeans",
            "inputKey": "uploads/customers.csv", "parameters": PARAMETERS,
            "submittedAt": SUBMITTED_AT, "updatedAt": updated}


def emitted_metrics(output: str) -> list[dict[str, Any]]:
    """The EMF blobs printed to stdout."""
    return [blob for blob in (json.loads(line) for line in output.splitlines()
                              if line.startswith("{") and '"_aws"' in line)]


def lookups(output: str) -> list[str]:
    """The ``status`` dimension of every ``JobLookups`` metric emitted."""
    return [blob["status"] for blob in emitted_metrics(output) if "JobLookups" in blob]


# --- each status -------------------------------------------------------------------------------

def test_a_queued_job_is_answered_with_its_request(api: ModuleType, account: Account,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    account.table.put_item(Item=record("QUEUED"))

    answer = call(api, status_event(JOB_ID))

    assert answer.status == 200
    assert answer.body == common_fields("QUEUED")
    assert answer.headers["Cache-Control"] == ["no-store"]
    assert answer.headers["Content-Type"] == ["application/json"]
    assert lookups(capsys.readouterr().out) == ["QUEUED"]


@pytest.mark.parametrize("platform", ["lambda", "fargate"])
def test_a_running_job_says_where_it_runs(api: ModuleType, account: Account, platform: str,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    account.table.put_item(Item=record("RUNNING", platform=platform))

    answer = call(api, status_event(JOB_ID))

    assert answer.status == 200
    assert answer.body == {**common_fields("RUNNING"), "platform": platform}
    assert lookups(capsys.readouterr().out) == ["RUNNING"]


def test_a_failed_job_says_why(api: ModuleType, account: Account,
                               capsys: pytest.CaptureFixture[str]) -> None:
    account.table.put_item(Item=record("FAILED"))

    answer = call(api, status_event(JOB_ID))

    assert answer.status == 200
    assert answer.body == {**common_fields("FAILED", FINISHED), "platform": "lambda",
                           "message": "parameters.clusters must be a whole number from 2 to 100"}
    assert lookups(capsys.readouterr().out) == ["FAILED"]


def test_a_job_that_failed_before_running_has_no_platform(api: ModuleType,
                                                          account: Account) -> None:
    item = record("FAILED", message="inputKey: the object could not be read (is it uploaded?)")
    del item["platform"]
    account.table.put_item(Item=item)

    answer = call(api, status_event(JOB_ID))

    assert answer.body == {**common_fields("FAILED", FINISHED),
                           "message": "inputKey: the object could not be read (is it uploaded?)"}


def test_a_succeeded_job_links_to_its_result_which_downloads(
        api: ModuleType, account: Account, log: io.StringIO,
        capsys: pytest.CaptureFixture[str]) -> None:
    account.table.put_item(Item=record("SUCCEEDED"))
    stored = put_result(account)

    answer = call(api, status_event(JOB_ID))

    assert answer.status == 200
    assert answer.headers["Cache-Control"] == ["no-store"]
    result = answer.body.pop("result")
    assert answer.body == {**common_fields("SUCCEEDED", FINISHED), "platform": "lambda"}
    url = result.pop("url")
    assert result == {"expiresIn": 900, "rows": 12000, "seconds": 3.412}
    link = urlsplit(url)
    assert link.scheme == "https"
    assert link.hostname == f"{RESULT_BUCKET}.s3.amazonaws.com"
    assert unquote(link.path) == f"/results/{JOB_ID}.json"
    query = parse_qs(link.query)
    assert query["X-Amz-Algorithm"] == ["AWS4-HMAC-SHA256"]
    assert query["X-Amz-Expires"] == ["900"]
    download = requests.get(url, timeout=10)
    assert download.status_code == 200
    assert download.content == stored
    assert download.json() == RESULT
    # The link is the caller's alone: never in the log, nor in the metrics.
    output = capsys.readouterr().out
    assert lookups(output) == ["SUCCEEDED"]
    assert url not in log.getvalue() + output
    assert query["X-Amz-Signature"][0] not in log.getvalue() + output
    [answered] = [line for line in log_lines(log) if line["message"] == "Job status answered"]
    assert (answered["jobId"], answered["status"], answered["platform"]) == \
        (JOB_ID, "SUCCEEDED", "lambda")


def test_the_link_lives_as_long_as_configured(account: Account,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    api = load(monkeypatch, RESULT_LINK_SECONDS="60")
    account.table.put_item(Item=record("SUCCEEDED"))
    put_result(account)

    answer = call(api, status_event(JOB_ID))

    assert answer.body["result"]["expiresIn"] == 60
    assert parse_qs(urlsplit(answer.body["result"]["url"]).query)["X-Amz-Expires"] == ["60"]


def test_a_result_key_outside_results_is_not_linked(api: ModuleType, account: Account) -> None:
    """The record names the key, but the role reads ``results/`` only: another key is never
    presigned (the expected one is)."""
    account.table.put_item(Item=record("SUCCEEDED", resultKey="uploads/customers.csv"))
    account.s3.put_object(Bucket=RESULT_BUCKET, Key="uploads/customers.csv", Body=b"a,b\n1,2\n")
    stored = put_result(account)

    answer = call(api, status_event(JOB_ID))

    url = answer.body["result"]["url"]
    assert unquote(urlsplit(url).path) == f"/results/{JOB_ID}.json"
    assert requests.get(url, timeout=10).content == stored


def test_an_upper_case_id_is_the_same_job_answered_lower_case(api: ModuleType,
                                                             account: Account) -> None:
    account.table.put_item(Item=record("QUEUED"))

    answer = call(api, status_event(JOB_ID.upper()))

    assert answer.status == 200
    assert answer.body["jobId"] == JOB_ID


def test_parameters_stored_as_a_map_or_not_json_are_answered_safely(
        api: ModuleType, account: Account, log: io.StringIO) -> None:
    account.table.put_item(Item=record("QUEUED", parameters={"clusters": 3}))
    assert call(api, status_event(JOB_ID)).body["parameters"] == {"clusters": 3}

    account.table.put_item(Item=record("QUEUED", parameters="{not json"))
    answer = call(api, status_event(JOB_ID))

    assert answer.status == 200
    assert answer.body["parameters"] is None
    assert any(line["message"] == "A job's stored parameters are not JSON"
               for line in log_lines(log))


# --- refusals ----------------------------------------------------------------------------------

@pytest.mark.parametrize("job_id", [
    "abc", "3f2c8a4e9b1d4c6e8f0a1b2c3d4e5f60", "{3f2c8a4e-9b1d-4c6e-8f0a-1b2c3d4e5f60}",
    "urn:uuid:3f2c8a4e-9b1d-4c6e-8f0a-1b2c3d4e5f60", "3f2c8a4e-9b1d-4c6e-8f0a-1b2c3d4e5f6g",
    "3f2c8a4e-9b1d-4c6e-8f0a-1b2c3d4e5f60a", "3f2c8a4e-9b1d-4c6e-8f0a-1b2c3d4e5f6",
    "٣f2c8a4e-9b1d-4c6e-8f0a-1b2c3d4e5f60"])
def test_a_job_id_that_is_not_a_uuid_is_a_400(api: ModuleType, account: Account,
                                              monkeypatch: pytest.MonkeyPatch, job_id: str,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    def never(**_: Any) -> Any:
        raise AssertionError("the table was read")

    monkeypatch.setattr(api.jobs_table, "get_item", never)

    answer = call(api, status_event(job_id))

    assert answer.status == 400
    assert answer.body == {"statusCode": 400, "message": "jobId must be a UUID"}
    assert answer.headers["Cache-Control"] == ["no-store"]
    output = capsys.readouterr().out
    assert '"RequestRejected":[1.0]' in output.replace(" ", "")
    assert lookups(output) == []


def test_an_unknown_job_is_a_404_that_says_a_new_one_appears_soon(
        api: ModuleType, account: Account, capsys: pytest.CaptureFixture[str]) -> None:
    account.table.put_item(Item=record("QUEUED", job_id="0d9e8f7a-6b5c-4d3e-8f2a-1b0c9d8e7f6a"))

    answer = call(api, status_event(JOB_ID))

    assert answer.status == 404
    assert answer.body == NOT_FOUND
    assert answer.headers["Cache-Control"] == ["no-store"]
    assert lookups(capsys.readouterr().out) == ["NOT_FOUND"]


def test_a_record_past_its_expiry_is_not_found_before_ttl_deletes_it(
        api: ModuleType, account: Account) -> None:
    now = int(NOW.timestamp())
    account.table.put_item(Item=record("SUCCEEDED", expiresAt=now))
    put_result(account)

    answer = call(api, status_event(JOB_ID))

    assert (answer.status, answer.body) == (404, NOT_FOUND)
    assert account.table.get_item(Key={"jobId": JOB_ID}).get("Item") is not None

    account.table.put_item(Item=record("SUCCEEDED", expiresAt=now + 1))
    assert call(api, status_event(JOB_ID)).status == 200


def test_a_result_the_lifecycle_expired_is_a_410(api: ModuleType, account: Account,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    account.table.put_item(Item=record("SUCCEEDED"))
    put_result(account)
    # What an expiration does to a current version in a versioned bucket: a delete marker.
    account.s3.delete_object(Bucket=RESULT_BUCKET, Key=f"results/{JOB_ID}.json")

    answer = call(api, status_event(JOB_ID))

    assert answer.status == 410
    assert answer.body == {"statusCode": 410, "message": "The job's result has expired"}
    assert answer.headers["Cache-Control"] == ["no-store"]
    assert lookups(capsys.readouterr().out) == ["RESULT_EXPIRED"]


def test_a_result_never_written_is_a_410(api: ModuleType, account: Account) -> None:
    account.table.put_item(Item=record("SUCCEEDED"))

    answer = call(api, status_event(JOB_ID))

    assert (answer.status, answer.body["message"]) == (410, "The job's result has expired")


@pytest.mark.parametrize(("method", "path"), [("POST", f"/jobs/{JOB_ID}"), ("GET", "/jobs"),
                                              ("GET", f"/jobs/{JOB_ID}/result")])
def test_a_route_the_api_does_not_have_is_a_json_404(api: ModuleType, account: Account,
                                                     method: str, path: str) -> None:
    answer = call(api, status_event(JOB_ID, method=method, path=path))

    assert answer.status == 404
    assert answer.body == {"statusCode": 404, "message": "Not found"}
    assert answer.headers["Cache-Control"] == ["no-store"]


# --- failures ----------------------------------------------------------------------------------

def throttled(operation: str, code: str = "ProvisionedThroughputExceededException") -> Any:
    def fail(**_: Any) -> Any:
        raise ClientError({"Error": {"Code": code, "Message": "Rate exceeded"}}, operation)
    return fail


def test_a_dynamodb_failure_is_a_503(api: ModuleType, account: Account, log: io.StringIO,
                                     monkeypatch: pytest.MonkeyPatch,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    account.table.put_item(Item=record("QUEUED"))
    monkeypatch.setattr(api.jobs_table, "get_item", throttled("GetItem"))

    answer = call(api, status_event(JOB_ID))

    assert answer.status == 503
    assert answer.body == {"statusCode": 503, "message": "The job service is unavailable"}
    assert answer.headers["Retry-After"] == ["5"]
    assert answer.headers["Cache-Control"] == ["no-store"]
    [error] = [line for line in log_lines(log) if line["level"] == "ERROR"]
    assert (error["message"], error["errorType"], error["errorCode"]) == (
        "An AWS request failed", "ClientError", "ProvisionedThroughputExceededException")
    output = capsys.readouterr().out
    assert '"JobStoreUnavailable":[1.0]' in output.replace(" ", "")
    assert lookups(output) == []


def test_a_missing_table_is_a_503(account: Account, monkeypatch: pytest.MonkeyPatch) -> None:
    api = load(monkeypatch, JOBS_TABLE="analytics-jobs-gone")

    answer = call(api, status_event(JOB_ID))

    assert (answer.status, answer.body["statusCode"]) == (503, 503)


def test_an_s3_refusal_is_a_503_not_a_410(api: ModuleType, account: Account, log: io.StringIO,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """Without s3:ListBucket S3 answers a missing key with 403: that is a fault of the
    deployment, not an expired result."""
    account.table.put_item(Item=record("SUCCEEDED"))
    put_result(account)
    monkeypatch.setattr(api.s3, "head_object", throttled("HeadObject", "403"))

    answer = call(api, status_event(JOB_ID))

    assert answer.status == 503
    assert [line["errorCode"] for line in log_lines(log) if line["level"] == "ERROR"] == ["403"]


# --- settings ----------------------------------------------------------------------------------

def test_settings_have_defaults(api: ModuleType) -> None:
    settings = api.Settings.from_environ({"JOBS_TABLE": "jobs", "RESULT_BUCKET": "results"})

    assert settings == api.Settings(jobs_table="jobs", result_bucket="results",
                                    result_link_seconds=900)


def test_settings_name_every_problem(api: ModuleType) -> None:
    with pytest.raises(ValueError, match="invalid analytics status settings") as raised:
        api.Settings.from_environ({"RESULT_LINK_SECONDS": "59"})

    message = str(raised.value)
    assert "JOBS_TABLE is required" in message
    assert "RESULT_BUCKET is required" in message
    assert "RESULT_LINK_SECONDS must be a whole number of seconds, from 60 to 3600" in message


@pytest.mark.parametrize("seconds", ["3601", "0", "-60", "15m", "９００"])
def test_a_link_lifetime_out_of_range_is_refused(api: ModuleType, seconds: str) -> None:
    with pytest.raises(ValueError, match="RESULT_LINK_SECONDS"):
        api.Settings.from_environ({"JOBS_TABLE": "jobs", "RESULT_BUCKET": "results",
                                   "RESULT_LINK_SECONDS": seconds})


def test_the_bounds_are_accepted(api: ModuleType) -> None:
    for seconds in (60, 3600):
        assert api.Settings.from_environ({
            "JOBS_TABLE": "jobs", "RESULT_BUCKET": "results",
            "RESULT_LINK_SECONDS": str(seconds)}).result_link_seconds == seconds
