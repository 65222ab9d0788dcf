"""Async analytics under mocks: the API's direct SQS integration and its role, the model, the
consumer's event source mapping, the workflow's definition (routing, the retry on a Lambda
timeout, the SDK integrations), the Fargate task, the image and its repository, and config
errors."""

from __future__ import annotations

import copy
import json
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from pydantic import TypeAdapter

from components.services.async_analytics import (
    ACCEPTED_TEMPLATE,
    SEND_TEMPLATE,
    AsyncAnalytics,
    AsyncAnalyticsSettings,
    image_digest,
    workflow_definition,
)
from tests.support import ACCOUNT, REGION, json_input, run_service, statements
from tools.mock_runtime import StackRun, load_stack_file, reveal, run_stack
from tools.verdicts import evaluate, load_config

ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
KEY = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/00000000-0000-0000-0000-000000000001"
CLUSTER = f"arn:aws:ecs:{REGION}:{ACCOUNT}:cluster/dev-cluster"
EXECUTION_ROLE = f"arn:aws:iam::{ACCOUNT}:role/dev-task-execution"
ENVIRONMENT = {
    "kms_key_arn": KEY, "cluster_arn": CLUSTER, "private_subnet_ids": ["subnet-a", "subnet-b"],
    "service_security_group_id": "sg-services", "task_execution_role_arn": EXECUTION_ROLE,
    "task_execution_role_name": "dev-task-execution"}


def settings(**values: Any) -> AsyncAnalyticsSettings:
    return TypeAdapter(AsyncAnalyticsSettings).validate_python(values)


@cache
def built(workflow: str = "standard") -> StackRun:
    return run_service(lambda context, opts: AsyncAnalytics(
        "analytics", settings(workflow=workflow, lambdaInputLimitMb=32), context, opts),
        environment=ENVIRONMENT)


def policy_of(run: StackRun, name: str) -> list[dict[str, Any]]:
    return statements(run.one(ROLE_POLICY, name))


def actions(found: list[dict[str, Any]]) -> dict[str, Any]:
    """Action -> the resource(s) a policy grants it on."""
    granted: dict[str, Any] = {}
    for statement in found:
        for action in statement["Action"]:
            granted[action] = statement["Resource"]
    return granted


def definition(run: StackRun) -> dict[str, Any]:
    return json_input(run.one("aws:sfn/stateMachine:StateMachine"), "definition")


# --- the API -----------------------------------------------------------------------------------

def test_submitting_goes_straight_to_the_queue_with_a_role_that_may_only_send_there() -> None:
    run = built()
    integration = run.one("aws:apigateway/integration:Integration", "analytics-submit")
    queue = run.one("aws:sqs/queue:Queue", "analytics-jobs-queue")
    assert integration.inputs["type"] == "AWS"
    assert integration.inputs["uri"] == (
        f"arn:aws:apigateway:{REGION}:sqs:path/{ACCOUNT}/{queue.state['name']}")
    assert integration.inputs["passthroughBehavior"] == "NEVER"
    assert integration.inputs["requestTemplates"] == {"application/json": SEND_TEMPLATE}
    sender = run.one("aws:iam/role:Role", "analytics-api-sender")
    assert integration.inputs["credentials"] == sender.state["arn"]
    assert actions(policy_of(run, "analytics-api-sender")) == {
        "sqs:SendMessage": queue.state["arn"], "kms:Decrypt": KEY, "kms:GenerateDataKey": KEY}
    [trust] = statements(sender, "assumeRolePolicy")
    assert trust["Principal"] == {"Service": "apigateway.amazonaws.com"}
    accepted = run.one("aws:apigateway/integrationResponse:IntegrationResponse",
                       "analytics-submit-202")
    assert accepted.inputs["responseTemplates"] == {"application/json": ACCEPTED_TEMPLATE}
    refused = run.one("aws:apigateway/integrationResponse:IntegrationResponse",
                      "analytics-submit-503")
    assert refused.inputs["selectionPattern"] == r"[45]\d{2}"


def test_the_body_is_validated_by_the_model_and_every_method_needs_a_signature() -> None:
    run = built()
    methods = {m.name: m.inputs for m in run.of_type("aws:apigateway/method:Method")
               if m.inputs["httpMethod"] != "OPTIONS"}
    assert {name: inputs["authorization"] for name, inputs in methods.items()} == {
        "analytics-submit": "AWS_IAM", "analytics-status": "AWS_IAM"}
    assert methods["analytics-submit"]["requestModels"] == {"application/json": "JobRequest"}
    assert methods["analytics-submit"]["requestValidatorId"]
    model = json_input(run.one("aws:apigateway/model:Model"), "schema")
    assert model["required"] == ["inputKey", "analysis"]
    assert model["additionalProperties"] is False
    assert model["properties"]["analysis"]["enum"] == ["kmeans", "linearRegression", "pca"]
    assert model["properties"]["inputKey"]["pattern"].startswith("^uploads/")


def test_the_send_template_builds_the_job_from_the_path_and_the_body() -> None:
    assert "$input.params('jobId')" in SEND_TEMPLATE
    assert "$context.requestTimeEpoch" in SEND_TEMPLATE
    assert SEND_TEMPLATE.splitlines()[-1].startswith("Action=SendMessage&MessageBody="
                                                     "$util.urlEncode(")


# --- the consumer ------------------------------------------------------------------------------

def test_the_consumer_reads_the_queue_in_batches_reporting_partial_failures() -> None:
    run = built()
    mapping = run.one("aws:lambda/eventSourceMapping:EventSourceMapping").inputs
    consumer = run.one("aws:lambda/function:Function", "analytics-consumer-function")
    assert mapping["eventSourceArn"] == run.one("aws:sqs/queue:Queue",
                                                "analytics-jobs-queue").state["arn"]
    assert mapping["functionName"] == consumer.state["arn"]
    assert (mapping["batchSize"], mapping["maximumBatchingWindowInSeconds"]) == (10, 1)
    assert mapping["scalingConfig"] == {"maximumConcurrency": 5}
    assert mapping["functionResponseTypes"] == ["ReportBatchItemFailures"]
    redrive = json_input(run.one("aws:sqs/queue:Queue", "analytics-jobs-queue"),
                         "redrivePolicy")
    assert redrive["maxReceiveCount"] == 3
    queue = run.one("aws:sqs/queue:Queue", "analytics-jobs-queue").inputs
    assert queue["visibilityTimeoutSeconds"] == 6 * consumer.inputs["timeout"]
    async_config = run.one("aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig",
                           "analytics-consumer-async").inputs
    assert async_config["destinationConfig"]["onFailure"]["destination"] == run.one(
        "aws:sqs/queue:Queue", "analytics-consumer-failures-queue").state["arn"]


def test_one_image_serves_the_consumer_and_the_job_by_digest() -> None:
    run = built()
    image = run.one("docker-build:index:Image")
    repository = run.one("aws:ecr/repository:Repository")
    uri = f"{repository.state['repositoryUrl']}@{image.state['digest']}"
    functions = {f.name: f.inputs for f in run.of_type("aws:lambda/function:Function")
                 if f.inputs.get("packageType") == "Image"}
    assert {name: (inputs["imageUri"], inputs["imageConfig"]["commands"])
            for name, inputs in functions.items()} == {
        "analytics-consumer-function": (uri, ["app.handler"]),
        "analytics-job-function": (uri, ["app.run_job"])}
    assert image.inputs["push"] is True
    assert image.inputs["platforms"] == ["linux/arm64"]
    assert image.inputs["dockerfile"]["location"].endswith("functions/analytics_job/Dockerfile")
    [tag] = image.inputs["tags"]
    assert tag.startswith(repository.state["repositoryUrl"] + ":")


def test_the_repository_scans_keeps_tags_and_lets_only_this_accounts_functions_pull() -> None:
    run = built()
    repository = run.one("aws:ecr/repository:Repository").inputs
    assert repository["imageTagMutability"] == "IMMUTABLE"
    assert repository["imageScanningConfiguration"] == {"scanOnPush": True}
    assert repository["encryptionConfigurations"] == [{"encryptionType": "KMS", "kmsKey": KEY}]
    rules = json_input(run.one("aws:ecr/lifecyclePolicy:LifecyclePolicy"), "policy")["rules"]
    assert rules[0]["selection"]["countNumber"] == 20
    [pull] = statements(run.one("aws:ecr/repositoryPolicy:RepositoryPolicy"))
    assert pull["Principal"] == {"Service": "lambda.amazonaws.com"}
    assert pull["Condition"] == {"StringLike": {
        "aws:sourceArn": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:analytics-*"}}


# --- the workflow ------------------------------------------------------------------------------

def test_the_workflow_routes_by_size_and_retries_a_lambda_timeout_on_fargate() -> None:
    states = definition(built())["States"]
    assert states["Measure"]["Resource"] == "arn:aws:states:::aws-sdk:s3:headObject"
    [choice] = states["Route"]["Choices"]
    assert choice == {"Variable": "$.input.bytes", "NumericGreaterThan": 32 * 2**20,
                      "Next": "RecordRunningOnFargate"}
    assert states["Route"]["Default"] == "RecordRunningOnLambda"
    run_on_lambda = states["RunOnLambda"]
    assert run_on_lambda["Resource"] == "arn:aws:states:::lambda:invoke"
    timeout, job_failed, anything = run_on_lambda["Catch"]
    assert timeout == {"ErrorEquals": ["Sandbox.Timedout", "States.Timeout",
                                       "Runtime.OutOfMemory", "Runtime.ExitError", "MemoryError"],
                       "ResultPath": "$.lambdaLimit", "Next": "RecordRunningOnFargate"}
    assert job_failed["ErrorEquals"] == ["JobFailed"]
    assert anything["Next"] == "RecordCouldNotRun"
    assert run_on_lambda["TimeoutSeconds"] == 900 + 60
    fargate = states["RunOnFargate"]
    assert fargate["Resource"] == "arn:aws:states:::ecs:runTask.waitForTaskToken"
    assert fargate["HeartbeatSeconds"] == 300
    network = fargate["Parameters"]["NetworkConfiguration"]["AwsvpcConfiguration"]
    assert network == {"Subnets": ["subnet-a", "subnet-b"], "SecurityGroups": ["sg-services"],
                       "AssignPublicIp": "DISABLED"}
    environment = fargate["Parameters"]["Overrides"]["ContainerOverrides"][0]["Environment"]
    assert {"Name": "TASK_TOKEN", "Value.$": "$$.Task.Token"} in environment


def test_every_status_change_is_a_dynamodb_sdk_integration() -> None:
    run = built()
    table = run.one("aws:dynamodb/table:Table").state["name"]
    states = definition(run)["States"]
    updates = {name: state for name, state in states.items()
               if state.get("Resource") == "arn:aws:states:::dynamodb:updateItem"}
    assert sorted(updates) == ["RecordCouldNotRun", "RecordJobFailed", "RecordMissingInput",
                               "RecordRunningOnFargate", "RecordRunningOnLambda",
                               "RecordSucceeded"]
    for state in updates.values():
        assert state["Parameters"]["TableName"] == table
        assert state["Parameters"]["ConditionExpression"] == "attribute_exists(jobId)"
        assert state["ResultPath"] is None
    succeeded = updates["RecordSucceeded"]["Parameters"]
    assert succeeded["ExpressionAttributeValues"][":status"] == {"S": "SUCCEEDED"}
    assert succeeded["ExpressionAttributeValues"][":resultKey"] == {"S.$": "$.run.resultKey"}
    assert updates["RecordJobFailed"]["Parameters"]["ExpressionAttributeValues"][
        ":message"] == {"S.$": "$.failure.cause.errorMessage"}
    reachable = {state.get("Next") for state in states.values()} | {
        catch["Next"] for state in states.values() for catch in state.get("Catch", [])} | {
        choice["Next"] for state in states.values() for choice in state.get("Choices", [])} | {
        state.get("Default") for state in states.values()}
    assert set(states) - {"Prepare"} <= reachable
    assert all(state.get("Next") in states or state.get("End") or state["Type"] in (
        "Choice", "Fail") for state in states.values())


def test_express_starts_the_task_without_waiting_and_lets_it_record_its_outcome() -> None:
    run = built("express")
    machine = run.one("aws:sfn/stateMachine:StateMachine")
    assert machine.inputs["type"] == "EXPRESS"
    fargate = definition(run)["States"]["RunOnFargate"]
    assert fargate["Resource"] == "arn:aws:states:::ecs:runTask"
    assert fargate["End"] is True
    assert "HeartbeatSeconds" not in fargate
    assert actions(policy_of(run, "analytics-task"))["dynamodb:UpdateItem"] == run.one(
        "aws:dynamodb/table:Table").state["arn"]
    assert "dynamodb:UpdateItem" not in actions(policy_of(built(), "analytics-task"))


def test_the_workflow_traces_logs_everything_and_its_role_is_scoped() -> None:
    run = built()
    machine = run.one("aws:sfn/stateMachine:StateMachine").inputs
    assert machine["tracingConfiguration"] == {"enabled": True}
    assert machine["loggingConfiguration"]["level"] == "ALL"
    assert machine["loggingConfiguration"]["includeExecutionData"] is False
    granted = actions(policy_of(run, "analytics-workflow"))
    task = run.one("aws:ecs/taskDefinition:TaskDefinition").state
    assert granted["lambda:InvokeFunction"] == run.one(
        "aws:lambda/function:Function", "analytics-job-function").state["arn"]
    assert granted["ecs:RunTask"] == f"{task['arnWithoutRevision']}:*"
    assert sorted(granted["iam:PassRole"]) == sorted([
        run.one("aws:iam/role:Role", "analytics-task").state["arn"], EXECUTION_ROLE])
    assert granted["logs:CreateLogDelivery"] == "*"
    assert granted["xray:PutTraceSegments"] == "*"


def test_the_definition_is_valid_amazon_states_language() -> None:
    """Parsed by moto's Step Functions interpreter (ported from LocalStack), which refuses
    an invalid definition."""
    from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser

    for workflow in ("standard", "express"):
        document = workflow_definition(
            workflow=workflow, table="jobs", input_bucket="inputs",
            job_function=f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:job", cluster=CLUSTER,
            task_definition=f"arn:aws:ecs:{REGION}:{ACCOUNT}:task-definition/jobs",
            subnets=["subnet-a"], security_groups=["sg"], lambda_input_limit_bytes=1024,
            job_timeout_seconds=900, fargate_timeout_seconds=3600)
        AmazonStateLanguageParser.parse(json.dumps(document))


# --- the Fargate task --------------------------------------------------------------------------

def test_the_task_runs_the_image_on_fargate_privately_read_only_and_logged() -> None:
    run = built()
    task = run.one("aws:ecs/taskDefinition:TaskDefinition").inputs
    assert task["requiresCompatibilities"] == ["FARGATE"]
    assert task["networkMode"] == "awsvpc"
    assert (task["cpu"], task["memory"]) == ("2048", "8192")
    assert task["runtimePlatform"] == {"operatingSystemFamily": "LINUX",
                                       "cpuArchitecture": "ARM64"}
    assert task["executionRoleArn"] == EXECUTION_ROLE
    [container] = json.loads(reveal(task["containerDefinitions"]))
    assert container["readonlyRootFilesystem"] is True
    assert container["user"] == "1000:1000"
    assert container["entryPoint"] == ["python3"]
    assert container["command"] == ["task.py"]
    assert container["mountPoints"] == [{"sourceVolume": "tmp", "containerPath": "/tmp"}]
    assert container["logConfiguration"]["logDriver"] == "awslogs"
    variables = {v["name"]: v["value"] for v in container["environment"]}
    assert {"INPUT_BUCKET", "RESULT_BUCKET", "JOBS_TABLE"} <= set(variables)


def test_the_execution_role_may_pull_this_image_and_write_this_log_group_only() -> None:
    run = built()
    policy = run.one(ROLE_POLICY, "analytics-task-execution")
    assert policy.inputs["role"] == "dev-task-execution"
    granted = actions(statements(policy))
    assert granted["ecr:BatchGetImage"] == run.one("aws:ecr/repository:Repository").state["arn"]
    logs = run.one("aws:cloudwatch/logGroup:LogGroup", "analytics-task-logs").state["arn"]
    assert granted["logs:PutLogEvents"] == f"{logs}:*"


def test_the_task_role_reads_uploads_writes_results_and_reports_to_its_workflow() -> None:
    run = built()
    granted = actions(policy_of(run, "analytics-task"))
    inputs = run.one("aws:s3/bucket:Bucket", "analytics-inputs-bucket").state["arn"]
    results = run.one("aws:s3/bucket:Bucket", "analytics-results-bucket").state["arn"]
    machine = run.one("aws:sfn/stateMachine:StateMachine").state["arn"]
    assert granted["s3:GetObject"] == f"{inputs}/uploads/*"
    assert granted["s3:PutObject"] == f"{results}/results/*"
    assert granted["states:SendTaskSuccess"] == "*"  # a task token is no resource
    assert machine not in json.dumps(policy_of(run, "analytics-task"))


# --- data --------------------------------------------------------------------------------------

def test_results_expire_and_job_records_have_a_ttl() -> None:
    run = built()
    table = run.one("aws:dynamodb/table:Table").inputs
    assert table["ttl"] == {"attributeName": "expiresAt", "enabled": True}
    assert table["hashKey"] == "jobId"
    rules = run.one("aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
                    "analytics-results-lifecycle").inputs["rules"]
    assert {"days": 30} in [rule.get("expiration") for rule in rules]


# --- configuration -----------------------------------------------------------------------------

def test_fargate_memory_must_go_with_its_cpu() -> None:
    with pytest.raises(ValueError, match="fargateMemoryMb") as raised:
        settings(fargateCpu=256, fargateMemoryMb=8192)
    assert "512 to 2048 MB in steps of 512" in str(raised.value)


def test_unknown_workflow_types_are_refused() -> None:
    with pytest.raises(Exception, match="workflow"):
        settings(workflow="turbo")



# --- in a stack --------------------------------------------------------------------------------

def test_the_dev_stack_with_the_service_draws_no_mandatory_violation() -> None:
    services = copy.deepcopy(load_stack_file("dev")["config"]["blueprints:services"])
    run = run_stack("dev", config_overrides={
        "blueprints:services": {**services, "asyncAnalytics": {"workflow": "express"}}})
    config = load_config(Path(__file__).resolve().parents[2] / "policy" / "blueprints.json")
    assert [f"{v.policy}: {v.resource_name}: {v.message}" for v in evaluate(run, config)
            if v.mandatory] == []
    advisories = {v.policy for v in evaluate(run, config)
                  if v.resource_name.startswith("asyncAnalytics")}
    assert advisories <= {"waf-on-public-endpoints"}


def test_the_image_tag_follows_what_the_dockerfile_copies(tmp_path: Path) -> None:
    for folder in ("job", "library", "other"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "code.py").write_text("x = 1\n")
    before = image_digest(("job", "library"), tmp_path)
    (tmp_path / "other" / "code.py").write_text("x = 2\n")
    (tmp_path / "job" / "__pycache__").mkdir()
    (tmp_path / "job" / "__pycache__" / "code.pyc").write_bytes(b"\0")
    assert image_digest(("job", "library"), tmp_path) == before
    (tmp_path / "library" / "code.py").write_text("x = 3\n")
    assert image_digest(("job", "library"), tmp_path) != before
