"""Async analytics: clients submit scikit-learn jobs over an API and come back for the results;
small jobs run on Lambda, large ones on Fargate, from one container image.

The catalog's posts 8, 17 and 9 (``../shared/CATALOG.md``). The job code, its request format
and its entry points are in ``functions/analytics_job`` and ``functions/analytics_jobs``; the
status API in ``functions/analytics_status``. What it builds:

- **The API** (``RestApi``/``RestStage``, IAM authorization): ``PUT /jobs/{jobId}`` sends the
  validated body (model ``JobRequest``) to the jobs queue through a **direct SQS integration**
  (no Lambda) and answers 202 with the job id. The client chooses the id (a UUID): PUT is
  idempotent by HTTP's own definition, and a retried request is the same job, because the
  consumer writes the job record only if it does not exist and names the workflow's execution
  after the job. ``GET /jobs/{jobId}`` answers the status and, once done, a presigned link.
- **The jobs queue** (``Queue``: DLQ after ``maxReceiveCount`` receives, KMS-encrypted) and its
  consumer: a **Lambda from the image** (``app.handler``), with the batch size, batching window
  and maximum concurrency from config and partial batch failure reporting. It records the job
  (``QUEUED``) and starts the workflow; its on-failure destination takes asynchronous
  invocations that fail (a replay from the DLQ, for one).
- **One container image** (``functions/analytics_job/Dockerfile``), built by
  ``pulumi-docker-build`` on the machine that runs ``pulumi up`` (it needs a Docker engine) and
  pushed to a private **ECR** repository (scan on push, immutable tags, KMS, a lifecycle that
  keeps the last ``IMAGES_KEPT`` images). Its tag is the digest of the build context, so an
  unchanged image is not pushed again.
- **The workflow** (Step Functions, ``workflow``: ``standard`` or ``express``): reads the
  input's size (``s3:headObject`` SDK integration), routes jobs above ``lambdaInputLimitMb`` to
  an **ECS Fargate task** on the environment's cluster and the others to the **job Lambda**
  (``app.run_job``), and retries on Fargate a job that runs out of time or memory on Lambda.
  ``lambdaInputLimitMb`` defaults to 256, where ``benchmarks/README.md`` puts it. Every status
  change is written to DynamoDB by the **DynamoDB SDK integration**; no Lambda is written for it.
  X-Ray tracing and ``ALL`` logging to a log group.
- **Results** in a private bucket (``results/<jobId>.json``, deleted after
  ``resultRetentionDays``), inputs in another (``uploads/``); **job records** in a table whose
  TTL removes them after ``jobRetentionDays``.
- **The task definition**: Fargate, ``awsvpc`` in the environment's private subnets with no
  public IP, a read-only root file system (``/tmp`` is a volume of its own), a non-root user,
  logs to its own group. The environment's task execution role gets a policy for exactly this
  repository and this log group; the task's own role reads ``uploads/``, writes ``results/``
  and reports to this workflow.

Guardrail findings left by design: without ``apiWebAclArn`` the stage draws the advisory
``waf-on-public-endpoints`` (the rules belong to whoever owns the traffic; pass one in prod).

**Standard or Express.** Standard (the default) runs a job exactly once, waits on the Fargate
task with a task token and heartbeats, keeps 90 days of history, and costs per state
transition. Express costs per request and duration and suits many small jobs, but runs at
least once, for 5 minutes at most, and cannot wait on a task: there the Fargate task is started
and left to write its own final status (the task role may then update the job table).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

import pulumi
import pulumi_aws as aws
from pydantic import Field, model_validator
from pydantic import dataclasses as pydantic_dataclasses

from components.config import SETTINGS, Defaults, SettingsError
from components.foundation import iam
from components.foundation.bucket import Bucket, BucketArgs
from components.foundation.container import (
    ContainerImageArgs,
    FargateTaskArgs,
    container_image,
    fargate_size_problem,
    fargate_task,
    source_digest,
    task_log_group,
)
from components.foundation.function import (
    FUNCTIONS_DIR,
    Function,
    FunctionArgs,
    FunctionImage,
)
from components.foundation.logs import log_group
from components.foundation.queue import Queue, QueueArgs
from components.foundation.rest_api import RestApi, RestApiArgs, RestStage, RestStageArgs
from components.foundation.table import Key, Table, TableArgs
from components.services.base import RegionalWebAclArn, ServiceComponent, ServiceContext

IMAGE_CODE = "analytics_job"
# What the image's Dockerfile copies from its context (functions/).
IMAGE_SOURCES = (IMAGE_CODE, "analytics_jobs", "blueprints_common")
STATUS_CODE = "analytics_status"
UPLOADS_PREFIX = "uploads/"
RESULTS_PREFIX = "results/"
CONTAINER = "job"
IMAGES_KEPT = 20
ANALYSES = ("kmeans", "linearRegression", "pca")
# A UUID, as the client's job id must be.
JOB_ID = "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
HEARTBEAT_SECONDS = 300
CONSUMER_TIMEOUT_SECONDS = 60
# PUT /jobs/{jobId} to SQS: the job id from the path (lower case: records are keyed so), the
# validated body's fields, and the time API Gateway received it (epoch ms). JSON is built in
# VTL: $q is a double quote.
SEND_TEMPLATE = """#set($q = '"')
#set($parameters = $input.json('$.parameters'))
#if($parameters == "" || $parameters == '""' || $parameters == "null")#set($parameters = "{}")#end
Action=SendMessage&MessageBody=$util.urlEncode("{${q}jobId${q}:${q}$util.escapeJavaScript($input.params('jobId').toLowerCase())${q},${q}inputKey${q}:$input.json('$.inputKey'),${q}analysis${q}:$input.json('$.analysis'),${q}parameters${q}:$parameters,${q}submittedAt${q}:$context.requestTimeEpoch}")"""
ACCEPTED_TEMPLATE = ('{"jobId": "$util.escapeJavaScript($input.params(\'jobId\').toLowerCase())", '
                     '"status": "QUEUED"}')
# Lambda's own retryable failures: the service, not the job.
LAMBDA_SERVICE_ERRORS = ["Lambda.ServiceException", "Lambda.AWSLambdaException",
                         "Lambda.SdkClientException", "Lambda.TooManyRequestsException"]
# How a Lambda run that outgrew the function shows in the workflow: out of time, or out of
# memory (the runtime killed, or Python's MemoryError). Fargate has room for both.
LAMBDA_LIMITS = ["Sandbox.Timedout", "States.Timeout", "Runtime.OutOfMemory",
                 "Runtime.ExitError", "MemoryError"]
JOB_FAILED = "JobFailed"

JOB_REQUEST_MODEL: dict[str, Any] = {
    "$schema": "http://json-schema.org/draft-04/schema#",
    "title": "JobRequest",
    "type": "object",
    "required": ["inputKey", "analysis"],
    "additionalProperties": False,
    "properties": {
        "inputKey": {"type": "string",
                     "pattern": f"^{UPLOADS_PREFIX}[^\\u0000-\\u001f]{{1,1000}}$"},
        "analysis": {"type": "string", "enum": list(ANALYSES)},
        "parameters": {"type": "object", "maxProperties": 20},
    },
}


@pydantic_dataclasses.dataclass(frozen=True, config=SETTINGS)
class AsyncAnalyticsSettings:
    """The ``services.asyncAnalytics`` section of a stack file."""

    workflow: Literal["standard", "express"] = "standard"
    lambda_input_limit_mb: Annotated[int, Field(ge=1, le=10240)] = 256
    batch_size: Annotated[int, Field(ge=1, le=10)] = 10
    batching_window_seconds: Annotated[int, Field(ge=0, le=300)] = 1
    maximum_concurrency: Annotated[int, Field(ge=2, le=1000)] = 5
    max_receive_count: Annotated[int, Field(ge=1, le=20)] = 3
    job_memory_mb: Annotated[int, Field(ge=1024, le=10240)] = 3008
    job_timeout_seconds: Annotated[int, Field(ge=60, le=900)] = 900
    fargate_cpu: Literal[256, 512, 1024, 2048, 4096, 8192, 16384] = 2048
    fargate_memory_mb: Annotated[int, Field(ge=512, le=122880)] = 8192
    fargate_timeout_minutes: Annotated[int, Field(ge=10, le=1440)] = 240
    job_retention_days: Annotated[int, Field(ge=1, le=365)] = 30
    result_retention_days: Annotated[int, Field(ge=1, le=365)] = 30
    throttling_rate_limit: Annotated[float, Field(gt=0, le=10_000)] = 20
    throttling_burst_limit: Annotated[int, Field(ge=1, le=5_000)] = 40
    api_web_acl_arn: RegionalWebAclArn | None = None

    @model_validator(mode="after")
    def _fargate_size(self) -> AsyncAnalyticsSettings:
        problem = fargate_size_problem(self.fargate_cpu, self.fargate_memory_mb)
        if problem:
            raise SettingsError([("fargateMemoryMb", problem)])
        return self


def image_digest(folders: tuple[str, ...] = IMAGE_SOURCES, root: Path = FUNCTIONS_DIR) -> str:
    """The image's tag: a digest of what its Dockerfile copies (caches excluded)."""
    return source_digest(folders, root)


def _status_update(status: str, *, extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """``dynamodb:updateItem`` parameters setting the job's status (and ``extra`` attributes,
    name -> DynamoDB value with JSONPath selectors), for a record that exists."""
    names = {"#status": "status", **{f"#{name}": name for name in extra or {}}}
    values = {":status": {"S": status}, ":at": {"S.$": "$$.State.EnteredTime"},
              **{f":{name}": value for name, value in (extra or {}).items()}}
    assignments = ["#status = :status", "updatedAt = :at",
                   *(f"#{name} = :{name}" for name in extra or {})]
    return {"Key": {"jobId": {"S.$": "$.job.jobId"}},
            "UpdateExpression": "SET " + ", ".join(assignments),
            "ConditionExpression": "attribute_exists(jobId)",
            "ExpressionAttributeNames": names, "ExpressionAttributeValues": values}


def workflow_definition(*, workflow: str, table: str, input_bucket: str, job_function: str,
                        cluster: str, task_definition: str, subnets: list[str],
                        security_groups: list[str], lambda_input_limit_bytes: int,
                        job_timeout_seconds: int, fargate_timeout_seconds: int) -> dict[str, Any]:
    """The workflow in Amazon States Language: measure, route, run, record."""
    def update(status: str, next_state: str | None, **extra: Any) -> dict[str, Any]:
        state: dict[str, Any] = {
            "Type": "Task", "Resource": "arn:aws:states:::dynamodb:updateItem",
            "Parameters": {"TableName": table, **_status_update(status, extra=extra)},
            "ResultPath": None,
            "Retry": [{"ErrorEquals": ["DynamoDB.ProvisionedThroughputExceededException",
                                       "DynamoDB.InternalServerErrorException",
                                       "DynamoDB.ThrottlingException"],
                       "IntervalSeconds": 1, "MaxAttempts": 5, "BackoffRate": 2}]}
        return {**state, "Next": next_state} if next_state else {**state, "End": True}

    failed = [{"ErrorEquals": [JOB_FAILED], "ResultPath": "$.error", "Next": "ReadJobError"},
              {"ErrorEquals": ["States.ALL"], "ResultPath": "$.error",
               "Next": "RecordCouldNotRun"}]
    job = {"jobId.$": "$.job.jobId", "inputKey.$": "$.job.inputKey",
           "analysis.$": "$.job.analysis", "parameters.$": "$.job.parameters",
           "submittedAt.$": "$.job.submittedAt"}
    fargate_overrides = {"ContainerOverrides": [{"Name": CONTAINER, "Environment": [
        {"Name": "JOB", "Value.$": "States.JsonToString($.job)"},
        *([{"Name": "TASK_TOKEN", "Value.$": "$$.Task.Token"}] if workflow == "standard"
          else [])]}]}
    run_on_fargate: dict[str, Any] = {
        "Type": "Task",
        "Resource": "arn:aws:states:::ecs:runTask" + (
            ".waitForTaskToken" if workflow == "standard" else ""),
        "Parameters": {
            "Cluster": cluster, "TaskDefinition": task_definition, "LaunchType": "FARGATE",
            "PlatformVersion": "LATEST",
            "NetworkConfiguration": {"AwsvpcConfiguration": {
                "Subnets": subnets, "SecurityGroups": security_groups,
                "AssignPublicIp": "DISABLED"}},
            "Overrides": fargate_overrides},
        "ResultPath": "$.run",
        "Retry": [{"ErrorEquals": ["ECS.AmazonECSException", "ECS.ServerException",
                                   "ECS.LimitExceededException"],
                   "IntervalSeconds": 10, "MaxAttempts": 3, "BackoffRate": 2}],
        "Catch": failed,
    }
    if workflow == "standard":
        run_on_fargate |= {"HeartbeatSeconds": HEARTBEAT_SECONDS,
                           "TimeoutSeconds": fargate_timeout_seconds,
                           "Next": "RecordSucceeded"}
    else:
        # Express cannot wait on a task: the task records its own outcome.
        run_on_fargate |= {"ResultSelector": {"taskArn.$": "$.Tasks[0].TaskArn"}, "End": True}
    return {
        "Comment": "Routes an analytics job to Lambda or Fargate by its input size and records "
                   "its status",
        "StartAt": "Prepare",
        "States": {
            "Prepare": {"Type": "Pass", "Parameters": {"job.$": "$"}, "Next": "Measure"},
            "Measure": {
                "Type": "Task", "Resource": "arn:aws:states:::aws-sdk:s3:headObject",
                "Parameters": {"Bucket": input_bucket, "Key.$": "$.job.inputKey"},
                "ResultSelector": {"bytes.$": "$.ContentLength"}, "ResultPath": "$.input",
                "Retry": [{"ErrorEquals": ["S3.SdkClientException", "S3.S3Exception"],
                           "IntervalSeconds": 1, "MaxAttempts": 2, "BackoffRate": 2}],
                "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error",
                           "Next": "RecordMissingInput"}],
                "Next": "Route"},
            "Route": {
                "Type": "Choice",
                "Choices": [{"Variable": "$.input.bytes",
                             "NumericGreaterThan": lambda_input_limit_bytes,
                             "Next": "RecordRunningOnFargate"}],
                "Default": "RecordRunningOnLambda"},
            "RecordRunningOnLambda": update("RUNNING", "RunOnLambda", platform={"S": "lambda"}),
            "RunOnLambda": {
                "Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                "Parameters": {"FunctionName": job_function, "Payload": job},
                "ResultSelector": {"resultKey.$": "$.Payload.resultKey",
                                   "rows.$": "$.Payload.rows", "seconds.$": "$.Payload.seconds"},
                "ResultPath": "$.run",
                "TimeoutSeconds": job_timeout_seconds + 60,
                "Retry": [{"ErrorEquals": LAMBDA_SERVICE_ERRORS, "IntervalSeconds": 2,
                           "MaxAttempts": 3, "BackoffRate": 2}],
                "Catch": [{"ErrorEquals": LAMBDA_LIMITS, "ResultPath": "$.lambdaLimit",
                           "Next": "RecordRunningOnFargate"}, *failed],
                "Next": "RecordSucceeded"},
            "RecordRunningOnFargate": update("RUNNING", "RunOnFargate",
                                             platform={"S": "fargate"}),
            "RunOnFargate": run_on_fargate,
            "RecordSucceeded": update("SUCCEEDED", None, resultKey={"S.$": "$.run.resultKey"},
                                      rows={"N.$": "States.Format('{}', $.run.rows)"},
                                      seconds={"N.$": "States.Format('{}', $.run.seconds)"}),
            # A job error's Cause is the JSON a Lambda error has (the task sends the same).
            "ReadJobError": {"Type": "Pass",
                             "Parameters": {"cause.$": "States.StringToJson($.error.Cause)"},
                             "ResultPath": "$.failure", "Next": "RecordJobFailed"},
            "RecordJobFailed": update("FAILED", None,
                                      message={"S.$": "$.failure.cause.errorMessage"}),
            "RecordMissingInput": update("FAILED", None, message={
                "S": "inputKey: the object could not be read (is it uploaded?)"}),
            "RecordCouldNotRun": update("FAILED", "CouldNotRun", message={
                "S.$": "States.Format('The job could not run ({})', $.error.Error)"}),
            "CouldNotRun": {"Type": "Fail", "Error": "JobCouldNotRun",
                            "Cause": "See the execution's history"},
        },
    }


class AsyncAnalytics(ServiceComponent):
    """Jobs over an API, queued, routed to Lambda or Fargate, with results to fetch."""

    def __init__(self, name: str, settings: AsyncAnalyticsSettings, context: ServiceContext,
                 opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("blueprints:services:AsyncAnalytics", name, None, opts)
        defaults = context.defaults
        environment = context.environment
        child = pulumi.ResourceOptions(parent=self)
        self._defaults = defaults
        key = environment.kms_key_arn

        self.inputs = Bucket(f"{name}-inputs", BucketArgs(kms_key_arn=key), defaults, child)
        self.results = Bucket(f"{name}-results", BucketArgs(
            kms_key_arn=key, expire_after_days=settings.result_retention_days),
            defaults, child)
        self.jobs = Table(f"{name}-jobs", TableArgs(
            hash_key=Key("jobId", "S"), ttl_attribute="expiresAt", kms_key_arn=key),
            defaults, child)
        self.queue = Queue(f"{name}-jobs", QueueArgs(
            # Six times the consumer's timeout, as Lambda asks of an event source.
            visibility_timeout_seconds=6 * CONSUMER_TIMEOUT_SECONDS,
            max_receive_count=settings.max_receive_count, kms_key_arn=key), defaults, child)

        self.repository, image_uri = self._image(name, context, key, child)
        self._allow_lambda_to_pull(name, defaults, child)
        uploads = pulumi.Output.concat(self.inputs.arn, f"/{UPLOADS_PREFIX}*")
        results = pulumi.Output.concat(self.results.arn, f"/{RESULTS_PREFIX}*")
        job_environment: dict[str, pulumi.Input[str]] = {
            "INPUT_BUCKET": self.inputs.name, "RESULT_BUCKET": self.results.name,
            "JOBS_TABLE": self.jobs.name, "JOB_RETENTION_DAYS": str(settings.job_retention_days)}

        self.job_function = Function(f"{name}-job", FunctionArgs(
            reserved_concurrency=self.reserved_concurrency(defaults, "job"),
            code=IMAGE_CODE, handler="app.run_job", image=FunctionImage(image_uri),
            memory_size=settings.job_memory_mb, timeout=settings.job_timeout_seconds,
            long_running=settings.job_timeout_seconds > 300,
            ephemeral_storage_mb=2048,
            description="Runs one analytics job (the workflow's Lambda path)",
            statements=[iam.allow(["s3:GetObject"], uploads),
                        iam.allow(["s3:PutObject"], results),
                        iam.allow(["kms:Decrypt", "kms:GenerateDataKey"], key)],
            environment=job_environment, service_name=name), defaults, child)

        self.task_role = aws.iam.Role(
            f"{name}-task", description=f"What the {name} Fargate task may do",
            assume_role_policy=iam.trust_policy(
                "ecs-tasks.amazonaws.com",
                conditions={"StringEquals": {"aws:SourceAccount": defaults.account_id}}),
            opts=child)
        self.task_logs = task_log_group(name, defaults, key, child)
        self.task_definition = self._task_definition(
            name, settings, defaults, image_uri, environment, job_environment, child)
        self.state_machine = self._workflow(name, settings, defaults, environment, child)
        task_statements = [
            iam.allow(["s3:GetObject"], uploads), iam.allow(["s3:PutObject"], results),
            iam.allow(["kms:Decrypt", "kms:GenerateDataKey"], key),
            # Task tokens are no resource: AWS grants these on "*" only.
            iam.allow_unscoped(["states:SendTaskSuccess", "states:SendTaskFailure",
                                "states:SendTaskHeartbeat"])]
        if settings.workflow == "express":
            task_statements.append(iam.allow(["dynamodb:UpdateItem"], self.jobs.arn))
        aws.iam.RolePolicy(f"{name}-task", role=self.task_role.id,
                           policy=iam.policy_document(task_statements), opts=child)

        self.consumer = Function(f"{name}-consumer", FunctionArgs(
            reserved_concurrency=self.reserved_concurrency(defaults, "consumer"),
            code=IMAGE_CODE, handler="app.handler", image=FunctionImage(image_uri),
            memory_size=512, timeout=CONSUMER_TIMEOUT_SECONDS,
            description="Records each queued job and starts its workflow",
            invoked_async=True,
            statements=[iam.allow(["dynamodb:PutItem"], self.jobs.arn),
                        iam.allow(["states:StartExecution"], self.state_machine.arn),
                        iam.allow(["sqs:ReceiveMessage", "sqs:DeleteMessage",
                                   "sqs:GetQueueAttributes"], self.queue.arn),
                        iam.allow(["kms:Decrypt", "kms:GenerateDataKey"], key)],
            environment={**job_environment, "STATE_MACHINE_ARN": self.state_machine.arn},
            service_name=name), defaults, child)
        aws.lambda_.EventSourceMapping(
            f"{name}-consumer", event_source_arn=self.queue.arn,
            function_name=self.consumer.target_arn, batch_size=settings.batch_size,
            maximum_batching_window_in_seconds=settings.batching_window_seconds,
            scaling_config={"maximum_concurrency": settings.maximum_concurrency},
            function_response_types=["ReportBatchItemFailures"], enabled=True, opts=child)

        self.status_function = Function(f"{name}-status", FunctionArgs(
            reserved_concurrency=self.reserved_concurrency(defaults, "status"),
            code=STATUS_CODE, memory_size=512, timeout=10,
            description="Answers a job's status and a link to its result",
            statements=[iam.allow(["dynamodb:GetItem"], self.jobs.arn),
                        iam.allow(["s3:GetObject"], results),
                        # Without it S3 answers a missing result 403, not 404 (then 410 here).
                        iam.allow(["s3:ListBucket"], self.results.arn),
                        iam.allow(["kms:Decrypt"], key)],
            environment={"JOBS_TABLE": self.jobs.name, "RESULT_BUCKET": self.results.name},
            service_name=name), defaults, child)
        self.api, stage = self._api(name, settings, context, child)
        self.exports = {
            "apiUrl": stage.invoke_url,
            "inputBucketName": self.inputs.name,
            "resultBucketName": self.results.name,
            "jobsTableName": self.jobs.name,
            "queueUrl": self.queue.url,
            "stateMachineArn": self.state_machine.arn,
            "repositoryUrl": self.repository.repository_url,
            "image": image_uri,
        }
        self.register_outputs(self.exports)

    # --- the image ----------------------------------------------------------------------

    def _image(self, name: str, context: ServiceContext, key: pulumi.Input[str],
               child: pulumi.ResourceOptions
               ) -> tuple[aws.ecr.Repository, pulumi.Output[str]]:
        built = container_image(name, ContainerImageArgs(
            code=IMAGE_CODE, sources=IMAGE_SOURCES, kms_key_arn=key, images_kept=IMAGES_KEPT),
            context.defaults, parent=self, provider=context.providers.images)
        return built.repository, built.uri

    def _allow_lambda_to_pull(self, name: str, defaults: Defaults,
                              child: pulumi.ResourceOptions) -> None:
        """Lambda pulls a function's image with the repository's permission, for this
        account's functions only."""
        functions = (f"arn:{iam.partition(defaults.region)}:lambda:{defaults.region}:"
                     f"{defaults.account_id}:function:{name}-*")
        # A repository policy names no resource: it is the repository's own.
        aws.ecr.RepositoryPolicy(f"{name}-images", repository=self.repository.name,
                                 policy=json.dumps({"Version": "2012-10-17", "Statement": [{
                                     "Sid": "LambdaPullsThisAccountsFunctionImages",
                                     "Effect": "Allow",
                                     "Principal": {"Service": "lambda.amazonaws.com"},
                                     "Action": ["ecr:BatchGetImage",
                                                "ecr:GetDownloadUrlForLayer"],
                                     "Condition": {"StringLike": {"aws:sourceArn": functions}},
                                 }]}), opts=child)

    # --- Fargate ------------------------------------------------------------------------

    def _task_definition(self, name: str, settings: AsyncAnalyticsSettings, defaults: Defaults,
                         image_uri: pulumi.Output[str], environment: Any,
                         job_environment: Mapping[str, pulumi.Input[str]],
                         child: pulumi.ResourceOptions) -> aws.ecs.TaskDefinition:
        return fargate_task(name, FargateTaskArgs(
            container=CONTAINER, image=image_uri, repository_arn=self.repository.arn,
            task_role_arn=self.task_role.arn,
            execution_role_arn=environment.task_execution_role_arn,
            execution_role_name=environment.task_execution_role_name,
            kms_key_arn=environment.kms_key_arn, cpu=settings.fargate_cpu,
            memory_mb=settings.fargate_memory_mb, service_name=name,
            environment=job_environment,
            # The Lambda base image's entry point is the runtime interface; a task runs the
            # job's command instead.
            settings={"entryPoint": ["python3"], "command": ["task.py"],
                      "workingDirectory": "/var/task"}),
            defaults, parent=self, logs=self.task_logs).definition

    # --- the workflow -------------------------------------------------------------------

    def _workflow(self, name: str, settings: AsyncAnalyticsSettings, defaults: Defaults,
                  environment: Any, child: pulumi.ResourceOptions) -> aws.sfn.StateMachine:
        logs = log_group(f"{name}-workflow-logs", defaults, kms_key_arn=environment.kms_key_arn,
                         log_group_name_prefix=f"/aws/vendedlogs/states/blueprints-"
                                               f"{defaults.stage}-{name}-", opts=child)
        task_family = self.task_definition.arn_without_revision
        role = aws.iam.Role(
            f"{name}-workflow", description=f"What the {name} workflow may do",
            assume_role_policy=iam.trust_policy(
                "states.amazonaws.com",
                conditions={"StringEquals": {"aws:SourceAccount": defaults.account_id}}),
            opts=child)
        policy = aws.iam.RolePolicy(f"{name}-workflow", role=role.id, policy=iam.policy_document([
            iam.allow(["lambda:InvokeFunction"], self.job_function.arn),
            iam.allow(["ecs:RunTask"], pulumi.Output.concat(task_family, ":*"),
                      conditions={"ArnEquals": {"ecs:cluster": environment.cluster_arn}}),
            iam.allow(["iam:PassRole"], self.task_role.arn, environment.task_execution_role_arn,
                      conditions={"StringEquals": {"iam:PassedToService":
                                                   "ecs-tasks.amazonaws.com"}}),
            iam.allow(["dynamodb:UpdateItem"], self.jobs.arn),
            iam.allow(["s3:GetObject"], pulumi.Output.concat(self.inputs.arn,
                                                             f"/{UPLOADS_PREFIX}*")),
            iam.allow(["kms:Decrypt", "kms:GenerateDataKey"], environment.kms_key_arn),
            # Logging ALL to a log group, and X-Ray: actions AWS grants on "*" only.
            iam.allow_unscoped(sorted(action for action in iam.UNSCOPED_ACTIONS
                                      if action.startswith(("logs:", "xray:")))),
        ]), opts=child)
        definition = pulumi.Output.all(
            table=self.jobs.name, bucket=self.inputs.name, function=self.job_function.arn,
            cluster=environment.cluster_arn, task=task_family,
            subnets=environment.private_subnet_ids,
            security_group=environment.service_security_group_id).apply(
            lambda values: json.dumps(workflow_definition(
                workflow=settings.workflow, table=values["table"], input_bucket=values["bucket"],
                job_function=values["function"], cluster=values["cluster"],
                task_definition=values["task"], subnets=list(values["subnets"]),
                security_groups=[values["security_group"]],
                lambda_input_limit_bytes=settings.lambda_input_limit_mb * 2**20,
                job_timeout_seconds=settings.job_timeout_seconds,
                fargate_timeout_seconds=settings.fargate_timeout_minutes * 60)))
        return aws.sfn.StateMachine(
            f"{name}-workflow", type=settings.workflow.upper(), role_arn=role.arn,
            definition=definition,
            logging_configuration={"level": "ALL", "include_execution_data": False,
                                   "log_destination": pulumi.Output.concat(logs.arn, ":*")},
            tracing_configuration={"enabled": True},
            opts=pulumi.ResourceOptions(parent=self, depends_on=[policy]))

    # --- the API ------------------------------------------------------------------------

    def _api(self, name: str, settings: AsyncAnalyticsSettings, context: ServiceContext,
             child: pulumi.ResourceOptions) -> tuple[RestApi, RestStage]:
        defaults = context.defaults
        api = RestApi(name, RestApiArgs(
            description="Analytics jobs: submit, then fetch the status and result",
            models={"JobRequest": JOB_REQUEST_MODEL}), defaults, child)
        jobs = aws.apigateway.Resource(f"{name}-jobs", rest_api=api.api_id,
                                       parent_id=api.root_resource_id, path_part="jobs",
                                       opts=child)
        job = aws.apigateway.Resource(f"{name}-job", rest_api=api.api_id, parent_id=jobs.id,
                                      path_part="{jobId}", opts=child)
        path = {"method.request.path.jobId": True}
        submit = aws.apigateway.Method(
            f"{name}-submit", rest_api=api.api_id, resource_id=job.id, http_method="PUT",
            authorization="AWS_IAM", api_key_required=False,
            request_validator_id=api.request_validator_id,
            request_models={"application/json": "JobRequest"}, request_parameters=path,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[api.models["JobRequest"]]))
        sender = aws.iam.Role(
            f"{name}-api-sender", description="API Gateway sends submitted jobs to the queue",
            assume_role_policy=iam.trust_policy(
                "apigateway.amazonaws.com",
                conditions={"StringEquals": {"aws:SourceAccount": defaults.account_id}}),
            opts=child)
        aws.iam.RolePolicy(f"{name}-api-sender", role=sender.id, policy=iam.policy_document([
            iam.allow(["sqs:SendMessage"], self.queue.arn),
            iam.allow(["kms:GenerateDataKey", "kms:Decrypt"],
                      context.environment.kms_key_arn)]), opts=child)
        queue_path = pulumi.Output.concat(
            f"arn:{iam.partition(defaults.region)}:apigateway:{defaults.region}:sqs:path/"
            f"{defaults.account_id}/", self.queue.name)
        send = aws.apigateway.Integration(
            f"{name}-submit", rest_api=api.api_id, resource_id=job.id, http_method="PUT",
            type="AWS", integration_http_method="POST", uri=queue_path,
            credentials=sender.arn, passthrough_behavior="NEVER",
            request_parameters={"integration.request.header.Content-Type":
                                "'application/x-www-form-urlencoded'"},
            request_templates={"application/json": SEND_TEMPLATE},
            opts=pulumi.ResourceOptions(parent=self, depends_on=[submit]))
        answers = []
        for status, pattern, template in (
                ("202", None, ACCEPTED_TEMPLATE),
                ("503", r"[45]\d{2}", json.dumps({"message": "The job could not be queued; "
                                                             "try again"}))):
            answer = aws.apigateway.MethodResponse(
                f"{name}-submit-{status}", rest_api=api.api_id, resource_id=job.id,
                http_method="PUT", status_code=status, response_models={
                    "application/json": "Empty"},
                opts=pulumi.ResourceOptions(parent=self, depends_on=[submit]))
            answers += [answer, aws.apigateway.IntegrationResponse(
                f"{name}-submit-{status}", rest_api=api.api_id, resource_id=job.id,
                http_method="PUT", status_code=status, selection_pattern=pattern,
                response_templates={"application/json": template},
                opts=pulumi.ResourceOptions(parent=self, depends_on=[send, answer]))]
        status_method = aws.apigateway.Method(
            f"{name}-status", rest_api=api.api_id, resource_id=job.id, http_method="GET",
            authorization="AWS_IAM", api_key_required=False, request_parameters=path,
            opts=child)
        status_integration = aws.apigateway.Integration(
            f"{name}-status", rest_api=api.api_id, resource_id=job.id, http_method="GET",
            type="AWS_PROXY", integration_http_method="POST",
            uri=self.status_function.invoke_arn,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[status_method]))
        aws.lambda_.Permission(
            f"{name}-status", action="lambda:InvokeFunction",
            function=self.status_function.name, principal="apigateway.amazonaws.com",
            source_arn=pulumi.Output.concat(api.execution_arn, "/*/GET/jobs/*"), opts=child)
        stage = RestStage(name, RestStageArgs(
            rest_api_id=api.api_id,
            redeploy_triggers={"routes": _digest(SEND_TEMPLATE, ACCEPTED_TEMPLATE,
                                                 json.dumps(JOB_REQUEST_MODEL)),
                               "api": api.redeploy_fingerprint},
            depends_on=[submit, send, *answers, status_method, status_integration,
                        *api.deployment_dependencies(), *context.account_settings],
            throttling_rate_limit=settings.throttling_rate_limit,
            throttling_burst_limit=settings.throttling_burst_limit,
            web_acl_arn=settings.api_web_acl_arn), defaults, child)
        return api, stage


def _digest(*parts: str) -> str:
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]
