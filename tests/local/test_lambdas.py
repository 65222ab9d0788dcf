"""Local mode's Lambda service: invoke permissions, IAM-checked workers, asynchronous retries and
the on-failure destination, with the dev stack's own functions."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tools.local.aws import EmbeddedAws, create_resources
from tools.local.iam import PlanPolicies, Principal
from tools.local.lambdas import FunctionNotFoundError, InvokeDeniedError, LocalLambda
from tools.mock_runtime import StackRun

HELLO = "headerVersioning-v1-hello-function"
BUILDER = "entityResolution-builder-function"
API_GATEWAY = Principal.service_principal("apigateway.amazonaws.com")
S3 = Principal.service_principal("s3.amazonaws.com")


@pytest.fixture(scope="module")
def local(dev: StackRun, tmp_path_factory: pytest.TempPathFactory
          ) -> Iterator[tuple[LocalLambda, EmbeddedAws, list[str]]]:
    lines: list[str] = []
    with EmbeddedAws.for_plan(dev) as aws:
        create_resources(dev, aws)
        lambdas = LocalLambda(dev, policies=PlanPolicies.from_run(dev), aws=aws,
                              root=tmp_path_factory.mktemp("lambdas"),
                              only=lambda spec: spec.resource in (HELLO, BUILDER),
                              retry_delays=(0.0,), output=lines.append)
        assert lambdas.start() == []
        yield lambdas, aws, lines
        lambdas.stop()


def hello_source(api: str, stage: str = "v1") -> str:
    return f"arn:aws:execute-api:eu-west-1:111122223333:{api}/{stage}/GET/hello"


def test_api_gateway_invokes_a_function_when_the_plans_permission_covers_the_route(
        dev: StackRun, local: tuple[LocalLambda, EmbeddedAws, list[str]]) -> None:
    lambdas, _, _ = local
    api = dev.one("aws:apigateway/restApi:RestApi", "headerVersioning-v1-api").state["id"]
    event = {"resource": "/hello", "path": "/hello", "httpMethod": "GET", "headers": {},
             "requestContext": {"requestId": "r-1", "stage": "v1"}}
    answer = lambdas.invoke(HELLO, event, caller=API_GATEWAY, source_arn=hello_source(api),
                            source_account="111122223333")
    assert not answer.error
    assert answer.payload["statusCode"] == 200
    assert "API v.1" in answer.payload["body"]
    with pytest.raises(InvokeDeniedError, match="lambda:InvokeFunction"):
        lambdas.invoke(HELLO, event, caller=API_GATEWAY, source_arn=hello_source(api, "v2"),
                       source_account="111122223333")
    with pytest.raises(InvokeDeniedError):
        lambdas.invoke(HELLO, event, caller=S3, source_arn="arn:aws:s3:::any-bucket")


def test_functions_are_found_by_name_arn_or_qualified_arn(
        local: tuple[LocalLambda, EmbeddedAws, list[str]]) -> None:
    lambdas, _, _ = local
    spec = lambdas.spec(HELLO)
    assert lambdas.spec(spec.name) is spec
    assert lambdas.spec(f"{spec.arn}:7") is spec
    with pytest.raises(FunctionNotFoundError, match="no function 'nope'.*" + BUILDER):
        lambdas.spec("nope")


def test_a_failing_asynchronous_invocation_is_retried_then_recorded_in_its_failure_queue(
        dev: StackRun, local: tuple[LocalLambda, EmbeddedAws, list[str]]) -> None:
    lambdas, aws, lines = local
    bucket = lambdas.spec(BUILDER).environment["BUCKET_NAME"]
    s3 = aws.client("s3")
    etag = s3.put_object(Bucket=bucket, Key="reference/bad.csv", Body=b"no,columns\n1,2\n")["ETag"]
    event = {"Records": [{
        "eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "eu-west-1",
        "eventTime": "2026-12-02T10:00:00.000Z", "eventName": "ObjectCreated:Put",
        "s3": {"s3SchemaVersion": "1.0", "configurationId": "reference-uploads",
               "bucket": {"name": bucket, "arn": f"arn:aws:s3:::{bucket}",
                          "ownerIdentity": {"principalId": "A1"}},
               "object": {"key": "reference/bad.csv", "size": 16, "eTag": etag.strip('"'),
                          "sequencer": "0066A3F1C2B5E8D9F1"}}}]}
    request_id = lambdas.invoke_async(BUILDER, event, caller=S3,
                                      source_arn=f"arn:aws:s3:::{bucket}",
                                      source_account="111122223333")
    assert lambdas.wait_idle(timeout=120)
    failures = dev.one("aws:sqs/queue:Queue", "entityResolution-builder-failures-queue")
    sqs = aws.client("sqs")
    url = sqs.get_queue_url(QueueName=failures.state["name"])["QueueUrl"]
    messages = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1)["Messages"]
    record = json.loads(messages[0]["Body"])
    assert record["requestContext"]["requestId"] == request_id
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 3
    assert record["requestPayload"] == event
    assert record["responsePayload"]["errorType"] == "ReferenceFileError"
    assert any("attempt 3 of 3" in line for line in lines)


def test_asynchronous_callers_need_permission_too(
        local: tuple[LocalLambda, EmbeddedAws, list[str]]) -> None:
    lambdas, _, _ = local
    with pytest.raises(InvokeDeniedError):
        lambdas.invoke_async(BUILDER, {}, caller=S3, source_arn="arn:aws:s3:::someone-elses",
                             source_account="111122223333")


def test_a_runtime_other_than_this_pythons_is_named(
        local: tuple[LocalLambda, EmbeddedAws, list[str]]) -> None:
    lambdas, _, _ = local
    here = f"python{sys.version_info.major}.{sys.version_info.minor}"
    difference = lambdas.runtime_difference
    if here == "python3.13":
        assert difference is None
    else:
        assert difference == (f"functions: the plan's runtime is python3.13; local mode runs the "
                              f"handlers on this machine's {here}")


def test_workers_run_with_their_roles_credentials(
        local: tuple[LocalLambda, EmbeddedAws, list[str]], tmp_path: Path) -> None:
    lambdas, aws, _ = local
    worker = lambdas._workers[lambdas.spec(BUILDER).arn]
    assert aws.role_for_access_key(worker.cloud.access_key_id) == lambdas.spec(BUILDER).role_arn
