"""A stack in local mode: its plan, the embedded AWS, the functions, the APIs, the distributions
and the event wiring, started in that order and stopped in the reverse one.

``LocalStack(stack, services=...)`` is what ``python -m tools.local`` runs and what the
end-to-end tests start. With ``services``, only those services' resources (and the platform
environment's) are created and served; IAM still reads the whole plan, so a statement that
names another service's resource reads as it would in AWS.

Ports: the embedded AWS listens on ``aws_port``, and every front (API, distribution, the Object
Lambda front) on the ports that follow ``first_port``, in a fixed order (kind, then plan
name), so the same stack answers on the same ports from one run to the next. Port 0 takes free
ports. ``.local-mode/<stack>.env`` (at the repository root) holds the variables that point a
shell's AWS CLI or SDK at the embedded AWS as the local administrator, and
``.local-mode/<stack>.json`` the endpoints, for ``python -m tools.local trigger``.

Public URLs: every front is served through ``gateway.LocalAddresses``, which maps the stack's
public origins (execute-api URLs, distribution domains and aliases, Cognito's endpoint) to the
local ones. Once every front has its port, the plan's objects whose content names a public
origin (a web app's ``config.js``) are written again with the local origins.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol
from urllib.parse import unquote

from tools.local.aws import (
    EmbeddedAws,
    LocalAwsError,
    Report,
    create_resources,
    region_of,
    verify_sending_identities,
    write_local_addresses,
)
from tools.local.boot import OBJECT_LAMBDA_URL
from tools.local.caches import LocalCaches
from tools.local.cloudfront import distributions
from tools.local.containers import Containers
from tools.local.endpoints import execute_api_endpoints
from tools.local.events import EventWiring
from tools.local.gateway import LocalAddresses, LocalServer, Reply, Request, ServedApi
from tools.local.http_api import HttpApi, http_apis
from tools.local.iam import PlanPolicies
from tools.local.lambdas import LocalLambda
from tools.local.object_lambda import ObjectLambdaFront
from tools.local.rest_api import RestApi, rest_apis
from tools.local.services import LocalServices
from tools.local.workflows import LocalWorkflows
from tools.mock_runtime import (
    ROOT,
    PlanError,
    Resource,
    StackRun,
    load_stack_file,
    run_stack,
    stack_names,
)

SERVICE_PREFIX = "blueprints:services:"
OBJECT_LAMBDA_ACCESS_POINT = "aws:s3control/objectLambdaAccessPoint:ObjectLambdaAccessPoint"
USER_POOL = "aws:cognito/userPool:UserPool"
RUN_FOLDER = ROOT / ".local-mode"
DEFAULT_AWS_PORT = 4566


class LocalModeError(Exception):
    """Local mode cannot start as asked; the message says why and what would work."""


class Front(Protocol):
    """What every API, distribution and Object Lambda front answers with."""

    def handle(self, request: Request) -> Reply: ...


@dataclass
class Started:
    """What a running stack serves."""

    aws_url: str
    fronts: list[ServedApi] = field(default_factory=list)
    functions: list[str] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)
    # The local values of the REST APIs' keys, by key name (API Gateway generates them in AWS).
    api_keys: dict[str, str] = field(default_factory=dict)
    # What the fronts serve differently from AWS, or not at all.
    notes: list[str] = field(default_factory=list)
    startup_seconds: float = 0.0
    # Seconds per start-up phase, in order.
    phases: dict[str, float] = field(default_factory=dict)

    def url(self, resource: str) -> str:
        """The local URL of the front named ``resource`` in the plan (with its stage path for a
        REST API)."""
        for front in self.fronts:
            if front.resource == resource:
                return front.url
        raise LookupError(f"no front {resource!r}; there are "
                          f"{', '.join(front.resource for front in self.fronts)}")


def services_of(run: StackRun) -> list[str]:
    """The names of the services a plan deploys (``blueprints:services:*`` components)."""
    return sorted(r.name for r in run.resources if r.type.startswith(SERVICE_PREFIX))


def only_services(run: StackRun, services: Sequence[str]) -> StackRun:
    """The plan's resources that belong to ``services`` or to no service at all."""
    by_urn = {r.urn: r for r in run.resources}

    def service_of(resource: Resource) -> str | None:
        current: Resource | None = resource
        while current is not None:
            if current.type.startswith(SERVICE_PREFIX):
                return current.name
            current = by_urn.get(current.parent) if current.parent else None
        return None

    kept = [r for r in run.resources if service_of(r) in (None, *services)]
    return StackRun(run.stack, kept, run.outputs, run.warnings)


class LocalStack:
    """One stack's services, running on this machine."""

    def __init__(self, stack: str, *, services: Sequence[str] = (),
                 aws_port: int | None = DEFAULT_AWS_PORT, first_port: int | None = None,
                 state_dir: Path | None = None, output: Callable[[str], None] = print,
                 run_folder: Path = RUN_FOLDER) -> None:
        self.stack = stack
        self.services = tuple(services)
        self.aws_port = aws_port
        self.first_port = (first_port if first_port is not None
                           else (aws_port + 1 if aws_port else 0))
        self.state_dir = state_dir
        self.output = output
        self.run_folder = run_folder
        self.run: StackRun | None = None
        self.aws: EmbeddedAws | None = None
        self.report: Report | None = None
        self.caches: LocalCaches | None = None
        self.lambdas: LocalLambda | None = None
        self.events: EventWiring | None = None
        self.workflows: LocalWorkflows | None = None
        self.services_running: LocalServices | None = None
        self.started: Started | None = None
        self._servers: list[LocalServer] = []
        self._workdir: Path | None = None
        self.addresses = LocalAddresses()

    # lifecycle

    def start(self) -> Started:
        began = time.monotonic()
        try:
            return self._start(began)
        except BaseException:
            self.stop()
            raise

    def _start(self, began: float) -> Started:
        marks = [("", began)]

        def phase(name: str) -> None:
            marks.append((name, time.monotonic()))

        full = self._plan()
        run = only_services(full, self.services) if self.services else full
        self.run = run
        policies = PlanPolicies.from_run(full)
        phase("plan")
        aws = self.aws = EmbeddedAws.for_plan(full, port=self.aws_port,
                                              state_dir=self.state_dir)
        aws.start()
        report = self.report = create_resources(run, aws)
        report.notes += [f"SES identity {name} is taken as verified (its owner verifies it "
                         "outside the stack)" for name in verify_sending_identities(
                             aws, (arn for arn in policies.resources_allowed("ses:SendEmail")
                                   if ":identity/" in arn))]
        # A browser calls Cognito's user pool API itself, unsigned: the embedded AWS serves it.
        self.addresses.add(aws.endpoint_url, *sorted({
            f"https://cognito-idp.{region_of(run, pool, aws.region)}.amazonaws.com"
            for pool in run.of_type(USER_POOL)}))
        phase("embedded AWS")
        ports = self._ports()
        started = Started(aws.endpoint_url)
        local_environment: dict[str, str] = {}
        # Workers learn the Object Lambda front's URL when they start, and the front needs
        # the workers: its port is taken first, its handler set once they exist (and before
        # they start, since it registers its routes with the IAM plan they load).
        object_lambda = _Deferred("s3-object-lambda")
        if run.of_type(OBJECT_LAMBDA_ACCESS_POINT):
            served = self._serve(object_lambda, next(ports), "ObjectLambda",
                                 "s3-object-lambda", "-", aws.region)
            started.fronts.append(served)
            local_environment[OBJECT_LAMBDA_URL] = served.url
        self._workdir = Path(tempfile.mkdtemp(prefix=f"blueprints-local-{self.stack}-"))
        caches = self.caches = LocalCaches(run, output=self.output).start()
        started.notes += caches.notes
        lambdas = self.lambdas = LocalLambda(
            run, policies=policies, aws=aws, root=self._workdir,
            local_environment=local_environment, environment_of=caches.environment_of,
            output=self.output)
        if OBJECT_LAMBDA_URL in local_environment:
            object_lambda.front = ObjectLambdaFront(run, lambdas=lambdas, policies=policies,
                                                    aws=aws)
        for warning in lambdas.start():
            self.output(f"warning: {warning}")
        started.functions = [spec.resource for spec in lambdas.specs]
        if lambdas.runtime_difference:
            started.notes.append(lambdas.runtime_difference)
        containers = Containers(run, aws=aws, output=self.output)
        ecs = self.services_running = LocalServices(run, containers=containers,
                                                    output=self.output).start()
        phase("functions and containers")

        apis: list[tuple[str, RestApi | HttpApi]] = [
            *(("REST", api) for api in rest_apis(run, lambdas=lambdas, policies=policies,
                                                 aws=aws, output=self.output,
                                                 vpc_link=ecs.resolve)),
            *(("HTTP", api) for api in http_apis(run, lambdas=lambdas, policies=policies,
                                                 aws=aws, output=self.output,
                                                 vpc_link=ecs.resolve))]
        apis.sort(key=lambda kind_api: (kind_api[0], kind_api[1].resource))
        origins: dict[str, str] = {}
        for kind, api in apis:
            started.notes += api.notes
            if isinstance(api, RestApi):
                started.api_keys.update(api.api_keys)
            served = self._serve(api, next(ports), kind, api.resource, api.api_id, api.region,
                                 stage=api.stage)
            started.fronts.append(served)
            # CloudFront adds the origin path (the stage) itself.
            domain = f"{api.api_id}.execute-api.{api.region}.amazonaws.com"
            origins[domain] = served.url.removesuffix(f"/{api.stage}")
            self.addresses.add(origins[domain], f"https://{domain}")
        rest = [api for _, api in apis if isinstance(api, RestApi)]
        for endpoint in execute_api_endpoints(run, rest):
            started.fronts.append(self._serve(endpoint, next(ports), "VpcEndpoint",
                                              endpoint.resource, endpoint.endpoint_id,
                                              aws.region))
        for distribution in sorted(distributions(run, lambdas=lambdas, origins=origins, aws=aws,
                                                 policies=policies), key=lambda d: d.resource):
            started.notes += distribution.notes
            served = self._serve(distribution, next(ports), "CloudFront", distribution.resource,
                                 distribution.distribution_id, "global")
            started.fronts.append(served)
            self.addresses.add(served.url, *distribution.public_origins)
        started.notes += [f"s3://{written} names the local fronts in place of the stack's "
                          "public URLs" for written in
                          write_local_addresses(run, aws, self.addresses.to_local)]

        phase("APIs and distributions")
        self.workflows = LocalWorkflows(run, aws=aws, lambdas=lambdas, containers=containers,
                                        output=self.output).start()
        self.events = EventWiring(run, lambdas=lambdas, policies=policies, aws=aws,
                                  report=report, output=self.output).start()
        started.sources = self.events.sources()
        control = LocalServer("local mode's control", self._control).start()
        self._servers.append(control)
        phase("event wiring")
        started.startup_seconds = time.monotonic() - began
        started.phases = {name: round(at - marks[index][1], 2)
                          for index, (name, at) in enumerate(marks[1:])}
        self.started = started
        self._write_run_files(started, control.url)
        return started

    def stop(self) -> None:
        """Stops everything started, the event sources and fronts first, the AWS last."""
        if self.events is not None:
            self.events.stop()
            self.events = None
        if self.workflows is not None:
            self.workflows.stop()
            self.workflows = None
        if self.services_running is not None:
            self.services_running.stop()
            self.services_running = None
        for server in reversed(self._servers):
            server.stop()
        self._servers.clear()
        if self.lambdas is not None:
            self.lambdas.stop()
            self.lambdas = None
        if self.caches is not None:
            self.caches.stop()
            self.caches = None
        if self.aws is not None:
            self.aws.stop()
            self.aws = None
        if self._workdir is not None:
            shutil.rmtree(self._workdir, ignore_errors=True)
            self._workdir = None
        for suffix in (".env", ".json"):
            (self.run_folder / f"{self.stack}{suffix}").unlink(missing_ok=True)

    def wait_idle(self, timeout: float) -> bool:
        """Waits until every event delivered so far (an S3 notification is delivered after its
        PutObject answers) and every asynchronous invocation it made have finished."""
        assert self.events is not None
        assert self.lambdas is not None
        began = time.monotonic()
        return (self.events.wait_idle(timeout)
                and self.lambdas.wait_idle(max(0.0, timeout - (time.monotonic() - began))))

    def __enter__(self) -> LocalStack:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()

    # the parts

    def _plan(self) -> StackRun:
        known = [name for name in stack_names() if not _runs_in_aws_only(name)]
        if self.stack not in known:
            what = _runs_in_aws_only(self.stack) if self.stack in stack_names() else None
            first = (f"the {self.stack} stack builds {what}, which runs in AWS only"
                     if what else f"unknown stack {self.stack!r}")
            raise LocalModeError(f"{first}: the stacks are {', '.join(known)} "
                                 "(Pulumi.<stack>.yaml)")
        try:
            run = run_stack(self.stack)
        except PlanError as error:
            raise LocalModeError(f"the {self.stack} stack's plan failed: {error}") from None
        deployed = services_of(run)
        unknown = [name for name in self.services if name not in deployed]
        if unknown:
            raise LocalModeError(
                f"the {self.stack} stack deploys no service {', '.join(map(repr, unknown))}; "
                f"its services are {', '.join(deployed) or 'none'}")
        return run

    def _ports(self) -> Iterator[int]:
        port = self.first_port or 0
        while True:
            yield port
            if port:
                port += 1

    def _serve(self, front: Front, port: int, kind: str, resource: str, api_id: str,
               region: str, stage: str | None = None) -> ServedApi:
        server = LocalServer(f"{kind} {resource}", self.addresses.serve(front.handle),
                             port).start()
        self._servers.append(server)
        url = server.url if kind != "REST" or not stage else f"{server.url}/{stage}"
        return ServedApi(kind, resource, api_id, region, url, stage)

    # what a user reads

    def _control(self, request: Request) -> Reply:
        """``POST /trigger/<rule or schedule>``: fires it now (``python -m tools.local
        trigger``)."""
        command, _, name = request.raw_path.strip("/").partition("/")
        if request.method != "POST" or command != "trigger" or not name:
            return Reply.json(404, {"message": "the control API has POST /trigger/<name> only"})
        if self.events is None:
            return Reply.json(409, {"message": "the event wiring is not running"})
        try:
            request_id = self.events.trigger(unquote(name))
        except LookupError as error:
            return Reply.json(404, {"message": str(error).strip("'\"")})
        return Reply.json(202, {"fired": unquote(name), "requestId": request_id})

    def _write_run_files(self, started: Started, control_url: str) -> None:
        assert self.aws is not None
        assert self.run is not None
        self.run_folder.mkdir(exist_ok=True)
        (self.run_folder / ".gitignore").write_text("*\n", encoding="utf-8")
        environment = self.aws.environment()
        (self.run_folder / f"{self.stack}.env").write_text(
            "".join(f"export {key}={value}\n" for key, value in environment.items()),
            encoding="utf-8")
        (self.run_folder / f"{self.stack}.json").write_text(json.dumps({
            "aws": started.aws_url, "control": control_url,
            "fronts": {front.resource: front.url for front in started.fronts},
            "apiKeys": started.api_keys,
            "caches": self.caches.to_json() if self.caches is not None else {},
            # The stack's outputs, as `pulumi stack output` shows them (secrets left out).
            "outputs": {name: value for name, value in self.run.outputs.items()
                        if not name.endswith("Secrets")},
        }, indent=2, default=str), encoding="utf-8")

    def listing(self) -> list[str]:
        """The start-up listing: what runs where, and what local mode does not emulate."""
        assert self.started is not None
        assert self.report is not None
        assert self.run is not None
        services = ", ".join(self.services) or ", ".join(services_of(self.run))
        phases = ", ".join(f"{name} {seconds:.1f}" for name, seconds in
                           self.started.phases.items())
        lines = [f"Local mode: stack {self.stack} ({services}), started in "
                 f"{self.started.startup_seconds:.1f} s ({phases})",
                 f"  embedded AWS   {self.started.aws_url}   "
                 f"(source {self.run_folder / (self.stack + '.env')} for the AWS CLI and SDKs)"]
        width = max((len(front.resource) for front in self.started.fronts), default=0)
        lines += [f"  {front.kind:<14} {front.resource:<{width}}  {front.url}"
                  for front in self.started.fronts]
        lines += self.caches.listing() if self.caches is not None else []
        lines += [f"  function       {name}" for name in self.started.functions]
        lines += [f"  event source   {source}" for source in self.started.sources]
        lines += ["", *self.report.lines()]
        if self.started.notes:
            lines += ["Served differently from AWS:", *(f"  {note}" for note in self.started.notes)]
        return lines


class _Deferred:
    """A front whose handler is known only after its port is: answers 503 until then."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.front: Front | None = None

    def handle(self, request: Request) -> Reply:
        if self.front is None:
            return Reply.json(503, {"message": f"{self.name} is still starting"})
        return self.front.handle(request)


def describe_error(error: BaseException) -> str:
    """The one line a user reads for an error local mode expected."""
    if isinstance(error, LocalModeError | LocalAwsError | LookupError):
        return str(error)
    return f"{type(error).__name__}: {error}"


def _runs_in_aws_only(stack: str) -> str | None:
    """What a stack that local mode does not serve builds: an account connection (IAM roles)
    or the delivery pipeline (CodePipeline and CodeBuild)."""
    config = load_stack_file(stack)["config"]
    if "blueprints:connection" in config:
        return "an account connection"
    return "the delivery pipeline" if "blueprints:pipeline" in config else None
