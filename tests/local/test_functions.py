"""Local mode's functions: the plan's packages, environments and layers, in worker processes."""

from __future__ import annotations

import importlib.metadata
import json
import re
from collections.abc import Iterator
from dataclasses import replace
from functools import cache
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from tests.functions import events
from tests.local.e2e.support import eventually
from tests.support import planned
from tools.local.functions import (
    RUNTIME_DISTRIBUTIONS,
    Cloud,
    FunctionSpec,
    Worker,
    allowed_modules,
    function_specs,
    image_contents,
    version_mismatches,
)
from tools.mock_runtime import Resource

CLOUD = Cloud("http://127.0.0.1:9", "eu-west-1", "111122223333")  # nothing listens on port 9


@cache
def dev_specs() -> dict[str, FunctionSpec]:
    return {spec.resource: spec for spec in function_specs(planned("dev"))}


def spec(files: dict[str, Path | str], **settings: object) -> FunctionSpec:
    base = FunctionSpec(resource="probe", name="blueprints-dev-probe",
                        arn="arn:aws:lambda:eu-west-1:111122223333:function:blueprints-dev-probe",
                        role_arn="arn:aws:iam::111122223333:role/probe", handler="app.handler",
                        timeout=3, memory_mb=256, environment={"GREETING": "hi"}, files=files,
                        layer_distributions={}, edge=False)
    return replace(base, **settings)  # type: ignore[arg-type]


@pytest.fixture
def started() -> Iterator[list[Worker]]:
    running: list[Worker] = []
    yield running
    for worker in running:
        worker.stop()


def start(started: list[Worker], tmp_path: Path, function: FunctionSpec,
          lines: list[str] | None = None) -> Worker:
    worker = Worker(function, CLOUD, tmp_path / function.resource,
                    output=(lines if lines is not None else []).append)
    worker.start()
    started.append(worker)
    return worker


def test_every_function_of_the_dev_stack_has_its_package_and_layers() -> None:
    specs = dev_specs()
    assert len(specs) == 21
    for function in specs.values():
        assert "app.py" in function.files, function.resource
        assert "blueprints_common/entry.py" in function.files, function.resource
        assert version_mismatches(function) == [], function.resource
    matcher = specs["entityResolution-matcher-function"]
    assert {"numpy", "nmslib", "aws-lambda-powertools"} <= set(matcher.layer_distributions)
    assert "scikit-learn" not in matcher.layer_distributions  # the builder's layer only
    assert "entity_matching/index.py" in matcher.files
    assert matcher.environment["BUCKET_NAME"].startswith("entityresolution-data-bucket-")
    router = specs["headerVersioning-router-function"]
    assert router.edge
    assert router.layer_distributions == {}
    assert json.loads(str(router.files["config.json"]))["header_name"] == "Accept"


# nmslib declares these but never imports them (components/services/entity_resolution.py).
UNUSED_REQUIREMENTS = {("nmslib", "scipy"), ("nmslib", "pybind11")}


def test_every_layer_holds_what_its_libraries_require() -> None:
    """Layers are installed without pip's dependency resolution: a requirement left out is
    an ImportError at the first invocation in Lambda (scikit-learn's narwhals was one)."""
    for function in dev_specs().values():
        held = {canonical(name) for name in (*function.layer_distributions,
                                             *RUNTIME_DISTRIBUTIONS)}
        for name in function.layer_distributions:
            for line in importlib.metadata.requires(name) or ():
                requirement = Requirement(line)
                if requirement.marker and not requirement.marker.evaluate({"extra": ""}):
                    continue
                needed = canonical(requirement.name)
                if (canonical(name), needed) not in UNUSED_REQUIREMENTS:
                    assert needed in held, f"{function.resource}: {name} needs {needed}"


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def test_a_worker_runs_the_handler_with_the_plans_environment(started: list[Worker],
                                                              tmp_path: Path) -> None:
    hello = dev_specs()["headerVersioning-v1-hello-function"]
    lines: list[str] = []
    worker = start(started, tmp_path, hello, lines)

    answer = worker.invoke(events.rest_event("/hello", stage="v1"))

    assert not answer.error
    assert json.loads(answer.payload["body"]) == {"message": "API v.1: Hello world!"}
    # Its metrics are its output, forwarded from the worker's pipe by a thread of their own.
    assert eventually(lambda: any("GreetingServed" in line for line in lines), timeout=10)


def test_the_handler_sees_lambdas_context_and_settings_not_this_shell(
        started: list[Worker], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PARENT_ONLY_SECRET", "never-in-the-worker")
    probe = spec({"app.py": (
        "import os, tempfile\n"
        "def handler(event, context):\n"
        "    return {'name': context.function_name, 'memory': context.memory_limit_in_mb,\n"
        "            'left': context.get_remaining_time_in_millis(),\n"
        "            'id': context.aws_request_id, 'greeting': os.environ['GREETING'],\n"
        "            'leak': os.environ.get('PARENT_ONLY_SECRET'),\n"
        "            'endpoint': os.environ['AWS_ENDPOINT_URL'],\n"
        "            'region': os.environ['AWS_REGION'], 'tmp': tempfile.gettempdir()}\n")})
    worker = start(started, tmp_path, probe)

    answer = worker.invoke({}, request_id="req-1")

    assert answer.payload | {"left": 0, "tmp": ""} == {
        "name": "blueprints-dev-probe", "memory": 256, "left": 0, "id": "req-1",
        "greeting": "hi", "leak": None, "endpoint": CLOUD.endpoint_url, "region": "eu-west-1",
        "tmp": ""}
    assert 0 < answer.payload["left"] <= 3000
    assert answer.payload["tmp"] == str(tmp_path / "probe" / "tmp")


def test_a_library_in_no_layer_cannot_be_imported(started: list[Worker],
                                                  tmp_path: Path) -> None:
    # numpy is installed here, but this function has no layer that carries it.
    worker = start(started, tmp_path, spec({"app.py": "import numpy\n"
                                                      "def handler(event, context):\n"
                                                      "    return 1\n"}))

    answer = worker.invoke({})

    assert answer.error
    assert answer.payload["errorType"] == "Runtime.ImportModuleError"
    assert "No module named 'numpy'" in answer.payload["errorMessage"]


def test_a_layers_library_and_the_runtimes_boto3_can(started: list[Worker],
                                                     tmp_path: Path) -> None:
    worker = start(started, tmp_path, spec(
        {"app.py": "import boto3, numpy\n"
                   "def handler(event, context):\n"
                   "    return int(numpy.arange(4).sum())\n"},
        layer_distributions={"numpy": ""}))

    assert worker.invoke({}).payload == 6


def test_an_error_answers_lambdas_error_document(started: list[Worker], tmp_path: Path) -> None:
    worker = start(started, tmp_path, spec({"app.py": "def handler(event, context):\n"
                                                      "    raise KeyError('TABLE_NAME')\n"}))

    answer = worker.invoke({})

    assert answer.error
    assert answer.payload["errorType"] == "KeyError"
    assert answer.payload["stackTrace"]
    assert worker.invoke({}).error  # the environment lives on after a handler error


def test_an_invocation_past_the_timeout_is_ended_and_the_worker_replaced(
        started: list[Worker], tmp_path: Path) -> None:
    worker = start(started, tmp_path, spec(
        {"app.py": "import time\n"
                   "def handler(event, context):\n"
                   "    if event.get('sleep'):\n"
                   "        time.sleep(event['sleep'])\n"
                   "    return 'done'\n"}, timeout=1))

    late = worker.invoke({"sleep": 10})

    assert late.error
    assert late.payload == {"errorType": "Sandbox.Timedout",
                            "errorMessage": "Task timed out after 1.00 seconds"}
    assert late.seconds < 5
    assert worker.invoke({}).payload == "done"


def test_a_runtime_that_dies_answers_an_exit_error_and_the_worker_is_replaced(
        started: list[Worker], tmp_path: Path) -> None:
    """As Lambda answers a function killed for its memory: ``Runtime.ExitError``."""
    worker = start(started, tmp_path, spec(
        {"app.py": "import os, signal\n"
                   "def handler(event, context):\n"
                   "    if event.get('die'):\n"
                   "        os.kill(os.getpid(), signal.SIGKILL)\n"
                   "    return 'alive'\n"}))

    killed = worker.invoke({"die": True}, request_id="r-1")

    assert killed.error
    assert killed.payload == {"errorType": "Runtime.ExitError", "errorMessage":
                              "RequestId: r-1 Error: Runtime exited with error: signal: killed"}
    assert worker.invoke({}).payload == "alive"


def test_allowed_modules_are_the_distributions_top_level_names() -> None:
    assert {"numpy"} <= allowed_modules(["numpy"])
    assert {"sklearn"} <= allowed_modules(["scikit_learn"])
    assert "numpy" not in allowed_modules(["boto3"])


# --- container images --------------------------------------------------------------------------

DOCKERFILE = """# a comment
FROM public.ecr.aws/lambda/python:3.12
COPY job/requirements.txt /tmp/requirements.txt
RUN pip install --no-cache-dir \\
    --requirement /tmp/requirements.txt && rm /tmp/requirements.txt
COPY library/ ${LAMBDA_TASK_ROOT}/library/
COPY job/app.py job/task.py ${LAMBDA_TASK_ROOT}/
COPY job/notes.txt /etc/notes.txt
CMD ["app.handler"]
"""


def image_resource(context: Path) -> Resource:
    return Resource(urn="urn:image", type="docker-build:index:Image", name="image", custom=True,
                    parent=None, provider=None, id="sha256:x", state={"digest": "sha256:x"},
                    inputs={"context": {"location": str(context)},
                            "dockerfile": {"location": str(context / "job" / "Dockerfile")}},
                    protect=False, retain_on_delete=False, dependencies=(),
                    property_dependencies={})


def test_an_images_package_libraries_and_runtime_come_from_its_dockerfile(
        tmp_path: Path) -> None:
    for name, text in {"job/Dockerfile": DOCKERFILE, "job/app.py": "", "job/task.py": "",
                       "job/notes.txt": "", "job/requirements.txt":
                       "# pinned\nnumpy==2.4.6\naws-lambda-powertools[tracer]==3.37.0\n-e .\n",
                       "library/__init__.py": "", "library/core.py": "",
                       "library/__pycache__/core.cpython-311.pyc": ""}.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)

    contents = image_contents(image_resource(tmp_path))

    assert contents.files == {"library/__init__.py": tmp_path / "library/__init__.py",
                              "library/core.py": tmp_path / "library/core.py",
                              "app.py": tmp_path / "job/app.py",
                              "task.py": tmp_path / "job/task.py"}
    assert contents.distributions == {"numpy": "2.4.6", "aws-lambda-powertools": "3.37.0"}
    assert contents.runtime == "python3.12"


def test_an_image_on_another_base_starts_from_its_workdir_env_and_cmd(tmp_path: Path) -> None:
    dockerfile = """FROM public.ecr.aws/docker/library/python:3.13-slim-bookworm
ENV PYTHONUNBUFFERED=1 \\
    PORT=8080
WORKDIR /app
COPY library/ /app/library/
COPY job/app.py /app/
ENTRYPOINT ["python3"]
CMD ["app.py", "--serve"]
"""
    for name, text in {"job/Dockerfile": dockerfile, "job/app.py": "",
                       "library/core.py": ""}.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)

    contents = image_contents(image_resource(tmp_path))

    assert contents.files == {"library/core.py": tmp_path / "library/core.py",
                              "app.py": tmp_path / "job/app.py"}
    assert contents.command == ("python3", "app.py", "--serve")
    assert contents.environment == {"PYTHONUNBUFFERED": "1", "PORT": "8080"}


def test_an_image_function_runs_its_command_from_the_images_files(
        started: list[Worker], tmp_path: Path) -> None:
    specs = dev_specs()
    job = specs["asyncAnalytics-job-function"]
    assert (job.handler, specs["asyncAnalytics-consumer-function"].handler) == (
        "app.run_job", "app.handler")
    assert {"app.py", "task.py", "analytics_jobs/runner.py",
            "blueprints_common/entry.py"} <= set(job.files)
    assert job.layer_distributions["scikit-learn"] == importlib.metadata.version("scikit-learn")
    worker = start(started, tmp_path, replace(job, environment={
        **job.environment, "AWS_ENDPOINT_URL": "http://127.0.0.1:9"}))
    answer = worker.invoke(["not", "a", "job"])
    # The WORKFLOW_TASK entry refuses it as the job error the workflow catches.
    assert answer.error
    assert answer.payload["errorType"] == "JobFailed"
