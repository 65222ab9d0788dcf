"""ECS task definitions' containers, run as processes on this machine.

A container of the plan's task definition starts from its image's task root (read from the
image's Dockerfile, as for image functions: ``functions.image_contents``), with the container's
entry point and command, else the image's (``python`` is this machine's Python), the image's
``ENV``, the container's environment and any overrides, the task role's credentials and the
embedded AWS's endpoint. Its output is relayed line by line, prefixed with the task
definition's name. Workflow tasks (``tools.local.workflows``) and ECS services
(``tools.local.services``) both start theirs here.

What differs from AWS: a container's own calls are not checked against its role, it shares this
machine's network (no subnets, no security groups), and its CPU and memory are not enforced.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tools.local.aws import EmbeddedAws
from tools.local.functions import image_contents, unpack
from tools.mock_runtime import Resource, StackRun, reveal

TASK_DEFINITION = "aws:ecs/taskDefinition:TaskDefinition"
IMAGE = "docker-build:index:Image"


@dataclass(frozen=True)
class Container:
    """A started container: its process, the definition it came from, its id and command."""

    process: subprocess.Popen[str]
    definition: Resource
    task_id: str
    command: list[str]
    settings: Mapping[str, Any]


class Containers:
    """Starts the plan's task definitions' containers, and stops them all at the end."""

    def __init__(self, run: StackRun, *, aws: EmbeddedAws,
                 output: Callable[[str], None] = print) -> None:
        self.aws, self.output = aws, output
        self._definitions = {str(r.state.get("arnWithoutRevision")): r
                             for r in run.of_type(TASK_DEFINITION)}
        self._images = {str(r.state.get("digest")): r for r in run.of_type(IMAGE)}
        self._started: list[Container] = []
        self._folder = Path(tempfile.mkdtemp(prefix="blueprints-tasks-"))

    def definition(self, reference: str) -> Resource:
        """The task definition a family, ``family:revision`` or ARN names."""
        family = reference.rsplit(":", 1)[0] if reference.count(":") > 5 else reference
        for arn, definition in self._definitions.items():
            if family in (arn, arn.rsplit("/", 1)[-1]):
                return definition
        raise LookupError(f"no task definition {reference} in the plan; there are "
                          f"{', '.join(self._definitions) or 'none'}")

    def start(self, definition: Resource,
              environment: Mapping[str, str] | None = None) -> Container:
        """Starts the definition's one container, with ``environment`` over its own."""
        inputs = reveal(dict(definition.inputs))
        [settings] = json.loads(inputs["containerDefinitions"])
        digest = str(settings["image"]).rpartition("@")[2]
        if digest not in self._images:
            raise LookupError(f"task {definition.name} runs {settings['image']}, which the "
                              "plan does not build")
        task_id = uuid.uuid4().hex
        image = image_contents(self._images[digest])
        root = unpack(image.files, self._folder / task_id)
        credentials = self.aws.credentials_for_role(str(inputs["taskRoleArn"]))
        variables = {
            "PATH": os.environ.get("PATH", ""), "HOME": str(root), **image.environment,
            **{v["name"]: v["value"] for v in settings.get("environment", [])},
            **(environment or {}),
            **self.aws.environment(credentials=credentials),
            "TMPDIR": str(root), "PYTHONPATH": str(root), "PYTHONUNBUFFERED": "1"}
        command = ([*settings.get("entryPoint", []), *settings.get("command", [])]
                   or list(image.command))
        if command and command[0].startswith("python"):
            command[0] = sys.executable  # this machine's Python, as image functions use
        process = subprocess.Popen(  # noqa: S603 (the plan's own container command)
            command, cwd=root, env=variables, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, text=True)
        container = Container(process, definition, task_id, command, settings)
        self._started.append(container)
        threading.Thread(target=self._relay, args=(process, definition.name),
                         name=f"task-{task_id}", daemon=True).start()
        return container

    def stop(self) -> None:
        """Stops every container: SIGTERM as ECS sends it, SIGKILL after a grace period."""
        for container in self._started:
            if container.process.poll() is None:
                container.process.terminate()
        for container in self._started:
            try:
                container.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                container.process.kill()
                container.process.wait()

    def _relay(self, process: subprocess.Popen[str], name: str) -> None:
        assert process.stdout is not None
        for line in process.stdout:
            self.output(f"[{name}] {line.rstrip()}")
        self.output(f"[{name}] exited with status {process.wait()}")
