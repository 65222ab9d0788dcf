"""Step Functions workflows in local mode: the plan's state machines run in the embedded AWS,
with moto's interpreter of the Amazon States Language (ported from LocalStack), and their tasks
reach the rest of local mode.

The embedded AWS creates them with the plan's definitions and roles, and has moto execute them
(``execute_state_machine``). ``LocalWorkflows.start()`` routes the clients the interpreter
makes:

- a **Lambda** task (``lambda:invoke``) invokes the plan's function in its local worker, as the
  state machine's role (``LocalLambda.invoke``, whose IAM check that role must pass); a
  handler's error or timeout reaches the workflow as Lambda's (``Sandbox.Timedout``...);
- an **ECS** task (``ecs:runTask``, with ``.waitForTaskToken`` or not) runs the task
  definition's container as a process here (``tools.local.containers``), its environment with
  the run's overrides. It reports with
  ``SendTaskSuccess``/``SendTaskFailure``/``SendTaskHeartbeat`` to the embedded AWS, which
  resumes the waiting state. ``.sync`` is not supported;
- every other service (the DynamoDB and AWS SDK integrations) is a client of the embedded AWS
  with the state machine role's credentials.

What differs from AWS: what ``tools.local.containers`` says of containers. Executions run in
moto's threads, one per execution.
"""

from __future__ import annotations

import importlib
import io
import json
import sys
from collections.abc import Callable, Mapping
from typing import Any

from tools.local.aws import EmbeddedAws
from tools.local.containers import Containers
from tools.local.iam import Principal
from tools.local.lambdas import LocalLambda
from tools.mock_runtime import StackRun, reveal

CLIENT_FACTORY = "boto_client_for"
# Where moto's interpreter makes its clients: every module that imported its client factory.
_CLIENT_MODULES = (
    "moto.stepfunctions.parser.asl.component.state.exec.state_task.lambda_eval_utils",
    "moto.stepfunctions.parser.asl.component.state.exec.state_task.service."
    "state_task_service_ecs",
    "moto.stepfunctions.parser.asl.component.state.exec.state_task.service."
    "state_task_service_dynamodb",
    "moto.stepfunctions.parser.asl.component.state.exec.state_task.service."
    "state_task_service_aws_sdk",
    "moto.stepfunctions.parser.asl.component.state.exec.state_task.service."
    "state_task_service_sqs",
    "moto.stepfunctions.parser.asl.component.state.exec.state_task.service."
    "state_task_service_sns",
    "moto.stepfunctions.parser.asl.component.state.exec.state_task.service."
    "state_task_service_events",
    "moto.stepfunctions.parser.asl.component.state.exec.state_task.service."
    "state_task_service_sfn",
)


class _LocalLambdaClient:
    """What the interpreter's Lambda client does: ``invoke``, answered by a local worker."""

    def __init__(self, lambdas: LocalLambda, caller: Principal) -> None:
        self.lambdas, self.caller = lambdas, caller

    def invoke(self, FunctionName: str, Payload: Any = None,  # noqa: N803 (boto3's names)
               **_: Any) -> dict[str, Any]:
        event = json.loads(Payload) if isinstance(Payload, str | bytes) and Payload else Payload
        answer = self.lambdas.invoke(FunctionName, event, caller=self.caller)
        response: dict[str, Any] = {
            "StatusCode": 200, "ExecutedVersion": "$LATEST",
            "Payload": io.BytesIO(json.dumps(answer.payload).encode())}
        if answer.error:
            response["FunctionError"] = "Unhandled"
        return response


class _LocalEcsClient:
    """What the interpreter's ECS client does: ``run_task``, as a process on this machine."""

    def __init__(self, workflows: LocalWorkflows) -> None:
        self.workflows = workflows

    def run_task(self, **parameters: Any) -> dict[str, Any]:
        return self.workflows.run_task(parameters)

    def describe_tasks(self, cluster: str, tasks: list[str], **_: Any) -> dict[str, Any]:
        """What the workflow records as the state's output: the tasks, as started."""
        return {"Tasks": [self.workflows.tasks[arn] for arn in tasks], "Failures": []}


class LocalWorkflows:
    """Runs the plan's state machines with their tasks in local mode."""

    def __init__(self, run: StackRun, *, aws: EmbeddedAws, lambdas: LocalLambda,
                 containers: Containers | None = None,
                 output: Callable[[str], None] = print) -> None:
        self.run, self.aws, self.lambdas, self.output = run, aws, lambdas, output
        self.containers = containers or Containers(run, aws=aws, output=output)
        self.tasks: dict[str, dict[str, Any]] = {}  # by task ARN, as ECS describes them
        self._saved: dict[str, Any] = {}

    def start(self) -> LocalWorkflows:
        for name in _CLIENT_MODULES:
            module = importlib.import_module(name)
            self._saved[name] = getattr(module, CLIENT_FACTORY)
            setattr(module, CLIENT_FACTORY, self.client_for)
        return self

    def stop(self) -> None:
        self.containers.stop()
        for name in _CLIENT_MODULES:
            if name in self._saved:
                setattr(sys.modules[name], CLIENT_FACTORY, self._saved.pop(name))

    def client_for(self, region: str, service: str, state_credentials: Any = None) -> Any:
        """The client the interpreter asks for, acting as the execution's role."""
        role_arn = getattr(state_credentials, "role_arn", None)
        if not role_arn:
            raise PermissionError("a workflow task without a role: local mode acts as the "
                                  "state machine's role only")
        if service == "lambda":
            return _LocalLambdaClient(self.lambdas,
                                      Principal.assumed_role(role_arn, "local-workflow"))
        if service == "ecs":
            return _LocalEcsClient(self)
        return self.aws.client(service, region, self.aws.credentials_for_role(role_arn))

    # --- ECS tasks ------------------------------------------------------------------------

    def run_task(self, parameters: Mapping[str, Any]) -> dict[str, Any]:
        definition = self.containers.definition(str(parameters["TaskDefinition"]))
        [settings] = json.loads(reveal(dict(definition.inputs))["containerDefinitions"])
        overrides = {o["Name"]: o for o in (parameters.get("Overrides") or {}).get(
            "ContainerOverrides", [])}.get(settings["name"], {})
        container = self.containers.start(definition, {
            v["Name"]: v["Value"] for v in overrides.get("Environment", [])})
        cluster = str(parameters.get("Cluster", "default")).rsplit("/", 1)[-1]
        prefix = f"arn:aws:ecs:{self.aws.region}:{self.aws.account_id}"
        arn = f"{prefix}:task/{cluster}/{container.task_id}"
        self.output(f"workflow task {definition.name}: started {arn} "
                    f"({' '.join(container.command[1:])})")
        self.tasks[arn] = {"TaskArn": arn, "ClusterArn": f"{prefix}:cluster/{cluster}",
                           "LastStatus": "RUNNING", "LaunchType": "FARGATE",
                           "TaskDefinitionArn": definition.state.get("arn")}
        return {"Tasks": [self.tasks[arn]], "Failures": []}
