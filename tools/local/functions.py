"""The plan's Lambda functions, each in a worker process that runs its real handler.

``function_specs(run)`` reads every ``aws:lambda/function:Function`` of a plan: its name and
ARN, role, handler, timeout, memory, environment, deployment package (the files the function
block packaged: the handler's folder, ``blueprints_common``, libraries, generated files such as
an edge function's ``config.json``) and layers. A container-image function's package and
libraries are read from the Dockerfile of the plan's ``docker-build`` image (``image_contents``:
what it copies into the task root, the pins of the requirements it installs, the base image's
Python), and its handler is the image command the function names. ``Worker`` unpacks the
package into a folder of its own and starts ``tools/local/worker.py`` on it, as Lambda starts a
container:

- the environment is the plan's variables plus what Lambda sets (``AWS_REGION``,
  ``AWS_LAMBDA_FUNCTION_NAME``, ``AWS_LAMBDA_FUNCTION_MEMORY_SIZE``, ``LAMBDA_TASK_ROOT``,
  ``_HANDLER``...), credentials for the embedded AWS and ``AWS_ENDPOINT_URL`` pointing at it,
  and a ``TMPDIR`` of the worker's own (Lambda's ``/tmp``); nothing of this shell's environment
  leaks in;
- its imports are what Lambda would give it: the package, the Lambda runtime's boto3, and the
  distributions of its layers, taken from this machine's Python at the versions the layer zip
  pins (a layer is built for Lambda's platform, so its own binaries cannot load here); a
  version that differs from the layer's is reported when the worker starts;
- X-Ray is off (``POWERTOOLS_TRACE_DISABLED``): there is no daemon to send segments to;
- ``invoke(event)`` answers the handler's result, or Lambda's error document; an invocation
  that outlives the function's timeout is answered ``Task timed out after N seconds`` and the
  worker is replaced, as Lambda replaces a timed-out environment. One invocation at a time.

The handler's output is passed, line by line and prefixed with the function's resource name, to
the worker's ``output`` callback (printed by default).
"""

from __future__ import annotations

import http.client
import importlib.metadata
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
import zipfile
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import pulumi

from tools.mock_runtime import Resource, StackRun, reveal

WORKER = Path(__file__).with_name("worker.py")
FUNCTION = "aws:lambda/function:Function"
LAYER = "aws:lambda/layerVersion:LayerVersion"
IMAGE = "docker-build:index:Image"
BASE_IMAGE = re.compile(r"^public\.ecr\.aws/lambda/python:(3\.\d+)")
TASK_ROOT = re.compile(r"^(\$\{LAMBDA_TASK_ROOT\}|\$LAMBDA_TASK_ROOT|/var/task)(?=/|$)")
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==([^\s;#]+)")
INVOKE_PATH = "/2015-03-31/functions/function/invocations"
READY_PATH = "/local/ready"
# Lambda's init phase may take 10 s, then it is retried within the invocation; this machine's
# cold imports (scikit-learn) are slower than Lambda's, so local mode allows more.
INIT_SECONDS = 60.0
# What the Lambda Python runtime itself provides.
RUNTIME_DISTRIBUTIONS = ("boto3", "botocore", "s3transfer", "jmespath", "python-dateutil", "six",
                         "urllib3")
# What the AWS-managed Powertools for AWS Lambda (Python) V3 layer holds: Powertools with the
# extras of its tracer, parser and validation utilities.
POWERTOOLS_LAYER_ACCOUNT = "017000801446"
POWERTOOLS_LAYER_DISTRIBUTIONS = ("aws-lambda-powertools", "jmespath", "typing-extensions",
                                  "pydantic", "pydantic-core", "annotated-types",
                                  "typing-inspection", "aws-xray-sdk", "wrapt", "fastjsonschema")
DIST_INFO = re.compile(r"^(?:python/)?([A-Za-z0-9][A-Za-z0-9._]*)-([^-/]+)\.dist-info/METADATA$")
TIMED_OUT_GRACE_SECONDS = 1.0


class LocalFunctionError(Exception):
    """A function cannot be prepared or started locally; the message says which and why."""


@dataclass(frozen=True)
class FunctionSpec:
    """What the plan says a function is."""

    resource: str
    name: str
    arn: str
    role_arn: str
    handler: str
    timeout: int
    memory_mb: int
    environment: Mapping[str, str]
    files: Mapping[str, Path | str]
    layer_distributions: Mapping[str, str]
    edge: bool
    dead_letter: str | None = None
    runtime: str = "python3.13"


def function_specs(run: StackRun) -> list[FunctionSpec]:
    """Every function of the plan, with its package and its layers' distributions (or its
    image's files and pinned requirements)."""
    layers = {layer.state["arn"]: layer for layer in run.of_type(LAYER)}
    images = {str(image.state.get("digest")): image for image in run.of_type(IMAGE)}
    return [_spec(function, layers, images) for function in run.of_type(FUNCTION)]


def _spec(function: Resource, layers: Mapping[str, Resource],
          images: Mapping[str, Resource]) -> FunctionSpec:
    inputs = reveal(dict(function.inputs))
    distributions: dict[str, str] = {}
    for arn in inputs.get("layers") or ():
        distributions.update(_layer_distributions(arn, layers, function.name))
    handler = str(inputs.get("handler") or "app.handler")
    runtime = str(inputs.get("runtime") or "python3.13")
    if inputs.get("packageType") == "Image":
        digest = str(inputs.get("imageUri") or "").rpartition("@")[2]
        if digest not in images:
            raise LocalFunctionError(f"{function.name}: its image {inputs.get('imageUri')} is "
                                     "not built by the plan (docker-build:index:Image), so "
                                     "local mode cannot tell what it holds")
        image = image_contents(images[digest])
        files, distributions, runtime = image.files, dict(image.distributions), image.runtime
        handler = str(((inputs.get("imageConfig") or {}).get("commands") or [handler])[0])
    else:
        files = _package_files(inputs.get("code"), function.name)
    return FunctionSpec(
        resource=function.name,
        name=function.state["name"],
        arn=function.state["arn"],
        role_arn=str(inputs["role"]),
        handler=handler,
        timeout=int(inputs.get("timeout") or 3),
        memory_mb=int(inputs.get("memorySize") or 128),
        environment={key: str(value) for key, value in
                     ((inputs.get("environment") or {}).get("variables") or {}).items()},
        files=files,
        layer_distributions=distributions,
        edge=bool(inputs.get("publish")) and not inputs.get("environment"),
        dead_letter=(inputs.get("deadLetterConfig") or {}).get("targetArn"),
        runtime=runtime,
    )


@dataclass(frozen=True)
class ImageContents:
    """What an image built from a Dockerfile holds, read without building it."""

    files: Mapping[str, Path | str]  # under the task root (the app's WORKDIR, for other images)
    distributions: Mapping[str, str]  # pinned by the requirements it installs
    runtime: str  # from the AWS base image's tag
    command: tuple[str, ...] = ()  # ENTRYPOINT, then CMD, in exec form
    environment: Mapping[str, str] = field(default_factory=dict)  # ENV


def image_contents(image: Resource) -> ImageContents:
    """Reads the image's Dockerfile (``docker-build:index:Image``'s ``dockerfile`` and
    ``context``): its ``COPY`` instructions into the task root (``LAMBDA_TASK_ROOT``, or the
    ``WORKDIR`` of an image on another base) are the package, the requirements files its
    ``pip install`` reads are the libraries, the AWS Lambda base image's tag is the runtime, and
    ``ENV``, ``ENTRYPOINT`` and ``CMD`` (exec form) are how it starts. Multi-stage copies and
    other instructions are not followed."""
    inputs = reveal(dict(image.inputs))
    context = Path(str((inputs.get("context") or {}).get("location", ".")))
    dockerfile = Path(str((inputs.get("dockerfile") or {}).get("location")
                          or context / "Dockerfile"))
    files: dict[str, Path | str] = {}
    copied: dict[str, Path] = {}  # container path -> the context's file, outside the task root
    distributions: dict[str, str] = {}
    environment: dict[str, str] = {}
    start: dict[str, list[str]] = {"ENTRYPOINT": [], "CMD": []}
    runtime, workdir = "python3.13", None
    for instruction, arguments in _instructions(dockerfile.read_text(encoding="utf-8")):
        if instruction == "FROM" and (base := BASE_IMAGE.match(arguments[0])):
            runtime = f"python{base.group(1)}"
        elif instruction == "WORKDIR":
            workdir = arguments[0].rstrip("/")
        elif instruction == "ENV":
            environment.update(pair.partition("=")[::2] for pair in arguments if "=" in pair)
        elif instruction in start:
            start[instruction] = [str(word) for word in json.loads(" ".join(arguments))]
        elif instruction == "COPY" and not any(a.startswith("--from") for a in arguments):
            *sources, target = [a for a in arguments if not a.startswith("--")]
            for source in sources:
                _copy(context / source, target, multiple=len(sources) > 1, files=files,
                      copied=copied, workdir=workdir)
        elif instruction == "RUN" and "pip" in arguments and "install" in arguments:
            for requirements in _requirement_files(arguments):
                if requirements in copied:
                    distributions.update(_pins(copied[requirements]))
    return ImageContents(files, distributions, runtime,
                         (*start["ENTRYPOINT"], *start["CMD"]), environment)


def _instructions(text: str) -> Iterator[tuple[str, list[str]]]:
    joined = re.sub(r"\\\n", " ", text)
    for line in joined.splitlines():
        words = line.split()
        if words and not words[0].startswith("#"):
            yield words[0].upper(), words[1:]


def _copy(source: Path, target: str, *, multiple: bool, files: dict[str, Path | str],
          copied: dict[str, Path], workdir: str | None = None) -> None:
    root = TASK_ROOT.match(target) or (
        re.match(rf"^{re.escape(workdir)}(?=/|$)", target) if workdir else None)
    if source.is_dir():
        into = target.rstrip("/")
        for path in sorted(source.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                relative = path.relative_to(source).as_posix()
                _place(f"{into}/{relative}", path, root, files, copied)
    else:
        into = f"{target.rstrip('/')}/{source.name}" if multiple or target.endswith("/") \
            else target
        _place(into, source, root, files, copied)


def _place(target: str, source: Path, root: re.Match[str] | None,
           files: dict[str, Path | str], copied: dict[str, Path]) -> None:
    if root is not None:
        files[target[root.end():].lstrip("/")] = source
    else:
        copied[target] = source


def _requirement_files(arguments: Sequence[str]) -> Iterator[str]:
    for index, argument in enumerate(arguments):
        if argument in ("-r", "--requirement") and index + 1 < len(arguments):
            yield arguments[index + 1]
        elif argument.startswith("--requirement="):
            yield argument.partition("=")[2]


def _pins(requirements: Path) -> dict[str, str]:
    pins = {}
    for line in requirements.read_text(encoding="utf-8").splitlines():
        pinned = PIN.match(line.strip())
        if pinned:
            pins[pinned.group(1)] = pinned.group(2)
    return pins


def _package_files(code: Any, function: str) -> dict[str, Path | str]:
    if not isinstance(code, pulumi.AssetArchive):
        raise LocalFunctionError(f"{function}: its code is {type(code).__name__}, not the "
                                 "package the function block builds")
    files: dict[str, Path | str] = {}
    for path, asset in code.assets.items():
        if isinstance(asset, pulumi.FileAsset):
            files[path] = Path(asset.path)
        elif isinstance(asset, pulumi.StringAsset):
            files[path] = asset.text
        else:
            raise LocalFunctionError(f"{function}: {path} is a {type(asset).__name__}, which "
                                     "local mode does not unpack")
    return files


def _layer_distributions(arn: str, layers: Mapping[str, Resource],
                         function: str) -> dict[str, str]:
    """Distribution name -> version, for a layer of the plan or the managed Powertools layer."""
    if f":{POWERTOOLS_LAYER_ACCOUNT}:layer:AWSLambdaPowertoolsPython" in arn:
        return {name: _installed(name) or "" for name in POWERTOOLS_LAYER_DISTRIBUTIONS}
    layer = layers.get(arn)
    if layer is None:
        raise LocalFunctionError(f"{function}: layer {arn} is neither the plan's nor the "
                                 "managed Powertools layer; local mode cannot provide it")
    archive = layer.inputs.get("code")
    if not isinstance(archive, pulumi.FileArchive):
        raise LocalFunctionError(f"{function}: layer {layer.name} has no built archive")
    with zipfile.ZipFile(archive.path) as zipped:
        found = (DIST_INFO.match(name) for name in zipped.namelist())
        return {match.group(1): match.group(2) for match in found if match}


def _installed(distribution: str) -> str | None:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def allowed_modules(distributions: Iterable[str]) -> frozenset[str]:
    """The top-level modules that ``distributions`` install in this Python."""
    wanted = {_canonical(name) for name in distributions}
    return frozenset(module for module, owners in importlib.metadata.packages_distributions()
                     .items() if any(_canonical(owner) in wanted for owner in owners))


def version_mismatches(spec: FunctionSpec) -> list[str]:
    """Layer distributions whose version here differs from the layer's (or is missing)."""
    found = []
    for name, version in sorted(spec.layer_distributions.items()):
        installed = _installed(name)
        if installed is None:
            found.append(f"{name} {version} is not installed here")
        elif version and _canonical(installed) != _canonical(version):
            found.append(f"{name}: the layer has {version}, this Python {installed}")
    return found


def unpack(files: Mapping[str, Path | str], folder: Path) -> Path:
    """Writes a package (a function's, or an image's task root) into ``folder`` (emptied
    first) and returns it."""
    shutil.rmtree(folder, ignore_errors=True)
    for path, source in files.items():
        target = folder / path
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(source, Path):
            shutil.copyfile(source, target)
        else:
            target.write_text(source, encoding="utf-8")
    return folder


@dataclass(frozen=True)
class Invocation:
    """What an invocation answered: the handler's result, or Lambda's error document."""

    payload: Any
    error: bool
    request_id: str
    seconds: float


@dataclass(frozen=True)
class Cloud:
    """Where a worker's AWS calls go: the embedded AWS's endpoint, account and region."""

    endpoint_url: str
    region: str
    account_id: str
    # The embedded AWS takes any credentials; local mode gives each worker its role's.
    access_key_id: str = "testing"
    secret_access_key: str = "testing"  # noqa: S105
    session_token: str = "local-session"  # noqa: S105


@dataclass
class Worker:
    """One function's execution environment: a process serving the local invoke API."""

    spec: FunctionSpec
    cloud: Cloud
    root: Path
    boot: str | None = None
    boot_path: Path | None = None
    output: Callable[[str], None] = print
    # Local mode's own settings for the boot module (where its other fronts listen).
    local_environment: Mapping[str, str] = field(default_factory=dict)
    _process: subprocess.Popen[bytes] | None = field(default=None, init=False)
    _port: int = field(default=0, init=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False)
    _tmp: Path | None = field(default=None, init=False)

    def start(self) -> list[str]:
        """Starts the process; answers the layer version mismatches, if any, for a warning."""
        code = unpack(self.spec.files, self.root / "code")
        self._tmp = self.root / "tmp"
        shutil.rmtree(self._tmp, ignore_errors=True)
        self._tmp.mkdir(parents=True)
        listening = socket.socket()
        listening.bind(("127.0.0.1", 0))
        listening.listen(8)
        self._port = listening.getsockname()[1]
        try:
            self._process = subprocess.Popen(  # noqa: S603 (our own worker, by absolute path)
                [sys.executable, str(WORKER)], env=self._environment(code, listening.fileno()),
                pass_fds=(listening.fileno(),), stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT, cwd=code)
        finally:
            listening.close()
        threading.Thread(target=self._forward, args=(self._process.stdout,),
                         daemon=True).start()
        return version_mismatches(self.spec)

    def _environment(self, code: Path, socket_fd: int) -> dict[str, str]:
        distributions = [*RUNTIME_DISTRIBUTIONS, *self.spec.layer_distributions]
        lambda_settings = {
            "AWS_REGION": self.cloud.region, "AWS_DEFAULT_REGION": self.cloud.region,
            "AWS_LAMBDA_FUNCTION_NAME": self.spec.name,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(self.spec.memory_mb),
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{self.spec.name}",
            "AWS_EXECUTION_ENV": "AWS_Lambda_python_local",
            "LAMBDA_TASK_ROOT": str(code), "_HANDLER": self.spec.handler, "TZ": ":UTC",
            "AWS_ACCESS_KEY_ID": self.cloud.access_key_id,
            "AWS_SECRET_ACCESS_KEY": self.cloud.secret_access_key,
            "AWS_SESSION_TOKEN": self.cloud.session_token,
            "AWS_ENDPOINT_URL": self.cloud.endpoint_url,
            "POWERTOOLS_TRACE_DISABLED": "true",
        }
        assert self._tmp is not None
        local = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"), "TMPDIR": str(self._tmp),
            "HOME": str(self._tmp), "PYTHONDONTWRITEBYTECODE": "1", "PYTHONUNBUFFERED": "1",
            "LOCAL_CODE_ROOT": str(code), "LOCAL_HANDLER": self.spec.handler,
            "LOCAL_FUNCTION_ARN": self.spec.arn, "LOCAL_SOCKET_FD": str(socket_fd),
            "LOCAL_ALLOWED_MODULES": ",".join(sorted(allowed_modules(distributions))),
        }
        if self.boot is not None:
            local |= {"LOCAL_BOOT": self.boot, "LOCAL_BOOT_PATH": str(self.boot_path)}
        return {**self.spec.environment, **lambda_settings, **local, **self.local_environment}

    def wait_ready(self, timeout: float = INIT_SECONDS) -> bool:
        """Waits for the init phase (the handler module's import); answers whether it ended."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process is None or self._process.poll() is not None:
                return False
            connection = http.client.HTTPConnection("127.0.0.1", self._port,
                                                    timeout=max(0.1, deadline - time.monotonic()))
            try:
                connection.request("GET", READY_PATH)
                connection.getresponse().read()
                return True
            except (TimeoutError, ConnectionError, http.client.HTTPException):
                time.sleep(0.05)
            finally:
                connection.close()
        return False

    def _forward(self, stream: IO[bytes] | None) -> None:
        for line in iter(stream.readline if stream else bytes, b""):
            self.output(f"[{self.spec.resource}] {line.decode(errors='replace').rstrip()}")

    def invoke(self, event: Any, *, request_id: str | None = None) -> Invocation:
        """Runs the handler on ``event``; one invocation at a time, as in Lambda."""
        request_id = request_id or str(uuid.uuid4())
        with self._lock:
            if not self.wait_ready():
                raise LocalFunctionError(f"{self.spec.resource}: the worker is not running or "
                                         f"its init phase outlived {INIT_SECONDS:.0f} s")
            started = time.monotonic()
            connection = http.client.HTTPConnection(
                "127.0.0.1", self._port, timeout=self.spec.timeout + TIMED_OUT_GRACE_SECONDS)
            try:
                connection.request("POST", INVOKE_PATH, body=json.dumps(event), headers={
                    "Content-Type": "application/json", "X-Amz-Request-Id": request_id,
                    "X-Local-Deadline": str(time.time() + self.spec.timeout)})
                response = connection.getresponse()
                payload = json.loads(response.read() or b"null")
                error = response.getheader("X-Amz-Function-Error") is not None
            except TimeoutError:
                self._restart()
                payload = {"errorType": "Sandbox.Timedout", "errorMessage":
                           f"Task timed out after {self.spec.timeout:.2f} seconds"}
                error = True
            except (ConnectionError, http.client.HTTPException):
                payload = {"errorType": "Runtime.ExitError", "errorMessage":
                           f"RequestId: {request_id} Error: Runtime exited with error: "
                           f"{self._exit_status()}"}
                self._restart()
                error = True
            finally:
                connection.close()
            return Invocation(payload, error, request_id, time.monotonic() - started)

    def _exit_status(self) -> str:
        """How the runtime ended, in Lambda's words (an OOM kill is ``signal: killed``)."""
        if self._process is None:
            return "exit status 1"
        try:
            code = self._process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self._kill()
            code = -signal.SIGKILL
        if code < 0:
            return f"signal: {(signal.strsignal(-code) or str(-code)).lower()}"
        return f"exit status {code}"

    def _restart(self) -> None:
        self._kill()
        self.start()

    def _kill(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.kill()
            self._process.wait()

    def stop(self) -> None:
        """Stops the process and removes its ``/tmp``."""
        self._kill()
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)


def workers(specs: Sequence[FunctionSpec], cloud: Cloud, root: Path | None = None,
            **options: Any) -> dict[str, Worker]:
    """A worker per function, by resource name, under ``root`` (a new temporary folder)."""
    base = root or Path(tempfile.mkdtemp(prefix="blueprints-local-"))
    return {spec.resource: Worker(spec, cloud, base / spec.resource, **options)
            for spec in specs}
