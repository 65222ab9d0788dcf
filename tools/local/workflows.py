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
  definition's container as a process here: the image's task root (read from its Dockerfile,
  as for image functions), the container's entry point and command, its environment with the
  run's overrides, the task role's credentials and the embedded AWS's endpoint. It reports with
  ``SendTaskSuccess``/``SendTaskFailure``/``SendTaskHeartbeat`` to the embedded AWS, which
  resumes the waiting state. ``.sync`` is not supported;
- every other service (the DynamoDB and AWS SDK integrations) is a client of the embedded AWS
  with the state machine role's credentials.

What differs from AWS: a task process's own calls are not checked against its role, and it
shares this machine's network (no subnets, no security groups); the task's CPU and memory are
not enforced. Executions run in moto's threads, one per execution.
"""

from __future__ import annotations

import importlib
import io
import json
import os
import subprocess
import sys
import tempfile
import threading
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from tools.local.aws import EmbeddedAws
from tools.local.functions import image_contents, unpack
from tools.local.iam import Principal
from tools.local.lambdas import LocalLambda
from tools.mock_runtime import Resource, StackRun, reveal

TASK_DEFINITION = "aws:ecs/taskDefinition:TaskDefinition"
IMAGE = "docker-build:index:Image"
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
                 output: Callable[[str], None] = print) -> None:
        self.run, self.aws, self.lambdas, self.output = run, aws, lambdas, output
        self._tasks = {str(r.state.get("arnWithoutRevision")): r
                       for r in run.of_type(TASK_DEFINITION)}
        self._images = {str(r.state.get("digest")): r for r in run.of_type(IMAGE)}
        self._processes: list[subprocess.Popen[str]] = []
        self.tasks: dict[str, dict[str, Any]] = {}  # by task ARN, as ECS describes them
        self._saved: dict[str, Any] = {}
        self._folder: Path | None = None

    def start(self) -> LocalWorkflows:
        for name in _CLIENT_MODULES:
            module = importlib.import_module(name)
            self._saved[name] = getattr(module, CLIENT_FACTORY)
            setattr(module, CLIENT_FACTORY, self.client_for)
        self._folder = Path(tempfile.mkdtemp(prefix="blueprints-tasks-"))
        return self

    def stop(self) -> None:
        for process in self._processes:
            if process.poll() is None:
                process.kill()
        for process in self._processes:
            process.wait()
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
        definition = self._task_definition(str(parameters["TaskDefinition"]))
        inputs = reveal(dict(definition.inputs))
        [container] = json.loads(inputs["containerDefinitions"])
        overrides = {o["Name"]: o for o in (parameters.get("Overrides") or {}).get(
            "ContainerOverrides", [])}.get(container["name"], {})
        digest = str(container["image"]).rpartition("@")[2]
        if digest not in self._images:
            raise LookupError(f"task {definition.name} runs {container['image']}, which the "
                              "plan does not build")
        assert self._folder is not None
        task_id = uuid.uuid4().hex
        root = unpack(image_contents(self._images[digest]).files, self._folder / task_id)
        credentials = self.aws.credentials_for_role(str(inputs["taskRoleArn"]))
        environment = {
            "PATH": os.environ.get("PATH", ""), "HOME": str(root),
            **{v["name"]: v["value"] for v in container.get("environment", [])},
            **{v["Name"]: v["Value"] for v in overrides.get("Environment", [])},
            **self.aws.environment(credentials=credentials),
            "TMPDIR": str(root), "PYTHONPATH": str(root), "PYTHONUNBUFFERED": "1"}
        command = [*container.get("entryPoint", []), *container.get("command", [])]
        if command and command[0].startswith("python"):
            command[0] = sys.executable  # this machine's Python, as image functions use
        process = subprocess.Popen(  # noqa: S603 (the plan's own container command)
            command, cwd=root, env=environment, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, text=True)
        self._processes.append(process)
        threading.Thread(target=self._relay, args=(process, definition.name),
                         name=f"task-{task_id}", daemon=True).start()
        cluster = str(parameters.get("Cluster", "default")).rsplit("/", 1)[-1]
        prefix = f"arn:aws:ecs:{self.aws.region}:{self.aws.account_id}"
        arn = f"{prefix}:task/{cluster}/{task_id}"
        self.output(f"workflow task {definition.name}: started {arn} ({' '.join(command[1:])})")
        self.tasks[arn] = {"TaskArn": arn, "ClusterArn": f"{prefix}:cluster/{cluster}",
                           "LastStatus": "RUNNING", "LaunchType": "FARGATE",
                           "TaskDefinitionArn": definition.state.get("arn")}
        return {"Tasks": [self.tasks[arn]], "Failures": []}

    def _task_definition(self, reference: str) -> Resource:
        family = reference.rsplit(":", 1)[0] if reference.count(":") > 5 else reference
        for arn, definition in self._tasks.items():
            if family in (arn, arn.rsplit("/", 1)[-1]):
                return definition
        raise LookupError(f"no task definition {reference} in the plan; there are "
                          f"{', '.join(self._tasks) or 'none'}")

    def _relay(self, process: subprocess.Popen[str], name: str) -> None:
        assert process.stdout is not None
        for line in process.stdout:
            self.output(f"[{name}] {line.rstrip()}")
        self.output(f"[{name}] exited with status {process.wait()}")
