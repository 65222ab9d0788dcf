"""The function block: one Lambda function with what a production function needs.

Default settings:

| Setting                | Default                                                                 |
|------------------------|-------------------------------------------------------------------------|
| IAM role               | its own, never shared; inline statements scoped to resource ARNs        |
| Logs                   | explicit log group, stage retention; JSON lines written by Powertools   |
| Tracing                | X-Ray active tracing; responses are not copied into traces              |
| Architecture / runtime | arm64 and python3.13 from stack config; runtime on an allow-list        |
| Memory / timeout       | required arguments: every function states its capacity                  |
| ``/tmp``               | Lambda's 512 MB; ``ephemeral_storage_mb`` for functions that stage data |
| Powertools             | AWS-managed layer for the region, architecture and runtime; service     |
|                        | name, log level, debug sampling, metrics namespace in the environment   |
| Concurrency            | unreserved; ``reserved_concurrency`` caps it, and 0 is a kill switch    |
| Async invocation       | 2 retries, 1 hour maximum age, failures to an SQS queue (with its DLQ)  |
| Code                   | ``functions/<code>``, ``blueprints_common`` and any ``libraries``; or   |
|                        | a container image (``image``), whose command is ``handler``             |
| Warm capacity          | none; ``provisioned_concurrency`` keeps a ``live`` alias warm, and      |
|                        | triggers then invoke the alias                                          |

Third-party libraries never go into the code package: Powertools comes from its managed layer,
and heavy libraries from built layers passed in ``layers``.

**Lambda@Edge** (``edge_event`` set, on the us-east-1 provider). Lambda@Edge runs a published
version replicated to CloudFront's regions, and refuses environment variables, layers, arm64,
X-Ray active tracing, dead-letter queues and VPCs. So an edge function: is x86_64 and
published; has no environment (settings travel in ``generated_files``, such as a
``config.json`` beside the handler); has Powertools and its dependencies bundled into the
package instead of the layer; has a role that ``edgelambda.amazonaws.com`` may assume too, with
permission to write ``/aws/lambda/us-east-1.<function>`` in every region where replicas run
(``accounts.EDGE_REGIONS``); keeps the event type's timeout, memory and package limits; and gets
a fixed name, so that those log groups can be named before it exists. The block creates that
log group, with the stage retention, in every one of those regions, on the provider that
``replica_provider`` (``Providers.in_region``) gives for each: replicas never create one that
keeps logs forever, and may not (the role cannot create log groups). ``skip_destroy`` is set:
AWS deletes replicas hours after the association is gone, and until then the function cannot be
deleted.

The Lambda log format stays ``Text``: Powertools already writes structured JSON, and Lambda's own
JSON level filter would drop the DEBUG lines that Powertools samples on purpose.
"""

from __future__ import annotations

import importlib.metadata
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import pulumi
import pulumi_aws as aws

from components.accounts import EDGE_REGION, EDGE_REGIONS
from components.config import LAMBDA_ARCHITECTURES, LAMBDA_RUNTIMES, Defaults
from components.foundation import iam
from components.foundation.logs import log_group
from components.foundation.queue import Queue, QueueArgs
from components.foundation.validation import require_valid, warn_override

FUNCTIONS_DIR = Path(__file__).resolve().parents[2] / "functions"
SHARED_LIBRARY = "blueprints_common"
POWERTOOLS_LAYER_ACCOUNT = "017000801446"
METRICS_NAMESPACE = "ServerlessBlueprints"

EdgeEvent = Literal["origin-request", "origin-response", "viewer-request", "viewer-response"]
EDGE_RUNTIMES = ("python3.12", "python3.13")
# Per event type: the longest timeout (s), the most memory (MB) and the largest package (bytes).
EDGE_LIMITS: Mapping[str, tuple[int, int, int]] = {
    "origin-request": (30, 10240, 50 * 2**20), "origin-response": (30, 10240, 50 * 2**20),
    "viewer-request": (5, 128, 2**20), "viewer-response": (5, 128, 2**20),
}
# Where an edge function's replicas log, besides us-east-1 (the function's own region).
REPLICA_REGIONS = tuple(region for region in EDGE_REGIONS if region != EDGE_REGION)
# What an edge function carries in place of the Powertools layer: Powertools and what it needs.
EDGE_BUNDLE = ("aws-lambda-powertools", "jmespath", "typing_extensions")

# Above this timeout a function is batch work and must say so (the guardrails' long-running tag).
LONG_RUNNING_AFTER_SECONDS = 300
DEFAULT_EPHEMERAL_STORAGE_MB = 512  # /tmp; Lambda@Edge functions get this much only

# What a function needs on each kind of on-failure destination.
DESTINATION_ACTIONS: Mapping[str, str] = {
    "sqs": "sqs:SendMessage",
    "sns": "sns:Publish",
    "lambda": "lambda:InvokeFunction",
    "events": "events:PutEvents",
}


@dataclass(frozen=True)
class FailureDestination:
    """Where Lambda sends an asynchronous event once its retries are exhausted."""

    arn: pulumi.Input[str]
    service: Literal["sqs", "sns", "lambda", "events"]


@dataclass(frozen=True)
class FunctionImage:
    """A container image in ECR, for a function that ships its own libraries (the handler's
    folder holds its Dockerfile). ``FunctionArgs.handler`` is the image's command, so that one
    image serves several functions; the image holds Powertools, no layer applies."""

    uri: pulumi.Input[str]


@dataclass(frozen=True)
class FunctionVpc:
    """Private subnets and security groups for a function that must reach into a VPC."""

    subnet_ids: pulumi.Input[Sequence[pulumi.Input[str]]]
    security_group_ids: pulumi.Input[Sequence[pulumi.Input[str]]]


@dataclass(frozen=True)
class FunctionArgs:
    """Inputs of the function block. ``code`` names a folder under ``functions/``."""

    code: str
    memory_size: int
    timeout: int
    handler: str = "app.handler"
    description: str | None = None
    statements: Sequence[iam.Statement] = ()
    environment: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    service_name: str | None = None
    metrics_namespace: str = METRICS_NAMESPACE
    reserved_concurrency: int | None = None
    invoked_async: bool = False
    on_failure: FailureDestination | None = None
    maximum_retry_attempts: int = 2
    maximum_event_age_seconds: int = 3600
    vpc: FunctionVpc | None = None
    layers: Sequence[pulumi.Input[str]] = ()
    kms_key_arn: pulumi.Input[str] | None = None
    code_root: Path = FUNCTIONS_DIR
    generated_files: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    edge_event: EdgeEvent | None = None
    replica_provider: Callable[[str], pulumi.ProviderResource] | None = None
    libraries: Sequence[str] = ()
    provisioned_concurrency: int | None = None
    long_running: bool = False
    ephemeral_storage_mb: int = DEFAULT_EPHEMERAL_STORAGE_MB
    image: FunctionImage | None = None


def powertools_layer_arn(region: str, architecture: str, runtime: str, version: int) -> str:
    """The AWS-managed Powertools for AWS Lambda (Python) V3 layer for this function's shape."""
    python = runtime.replace(".", "")
    return (f"arn:aws:lambda:{region}:{POWERTOOLS_LAYER_ACCOUNT}:layer:"
            f"AWSLambdaPowertoolsPythonV3-{python}-{architecture}:{version}")


def _package_files(code: str, code_root: Path, bundle: Sequence[str],
                   libraries: Sequence[str] = ()) -> dict[str, Path]:
    """Archive path -> file: the function's folder, the shared libraries (``blueprints_common``
    and ``libraries``, each under its own name), and ``bundle``'s installed distributions."""
    files: dict[str, Path] = {}
    for distribution in bundle:
        for entry in importlib.metadata.distribution(distribution).files or ():
            if not {"__pycache__", ".."} & set(entry.parts) \
                    and not entry.parts[0].endswith(".dist-info"):
                files[entry.as_posix()] = Path(str(entry.locate()))
    folders = [("", code_root / code)] + [
        (f"{library}/", code_root / library) for library in (SHARED_LIBRARY, *libraries)]
    for prefix, folder in folders:
        for path in sorted(folder.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                files[prefix + path.relative_to(folder).as_posix()] = path
    return dict(sorted(files.items()))


def package(code: str, code_root: Path = FUNCTIONS_DIR,
            generated: Mapping[str, str] | None = None,
            bundle: Sequence[str] = (), libraries: Sequence[str] = ()) -> pulumi.AssetArchive:
    """The deployment package: the function's folder at the root, the shared libraries,
    ``bundle``'s installed distributions, and ``generated`` files written from strings."""
    assets: dict[str, pulumi.Asset | pulumi.Archive] = {
        path: pulumi.FileAsset(str(file))
        for path, file in _package_files(code, code_root, bundle, libraries).items()}
    assets.update({path: pulumi.StringAsset(text) for path, text in (generated or {}).items()})
    return pulumi.AssetArchive(assets)


def _edge_problems(args: FunctionArgs) -> list[str | None]:
    if args.edge_event is None:
        return [None if args.replica_provider is None else
                "replica_provider: only an edge function (edge_event) has replicas"]
    if args.edge_event not in EDGE_LIMITS:
        return [f"edge_event: {args.edge_event!r} is not one of {', '.join(EDGE_LIMITS)}"]
    timeout, memory, size = EDGE_LIMITS[args.edge_event]
    try:
        bytes_ = sum(f.stat().st_size
                     for f in _package_files(args.code, args.code_root, EDGE_BUNDLE).values())
    except (importlib.metadata.PackageNotFoundError, OSError) as error:
        return [f"code: an edge function bundles {', '.join(EDGE_BUNDLE)}, which must be "
                f"installed where Pulumi runs (pip install -r requirements.txt): {error}"]
    unsupported = "Lambda@Edge does not support it"
    return [
        None if args.timeout <= timeout else
        f"timeout: {args.timeout} s is over the {timeout} s {args.edge_event} functions get",
        None if args.memory_size <= memory else
        f"memory_size: {args.memory_size} MB is over the {memory} MB {args.edge_event} "
        "functions get",
        None if bytes_ <= size else
        f"code: the package is {bytes_ // 2**20} MB, over the {size // 2**20} MB "
        f"{args.edge_event} functions may have",
        None if not args.environment else f"environment: {unsupported}; use generated_files",
        None if not args.layers else f"layers: {unsupported}",
        None if args.vpc is None else f"vpc: {unsupported}",
        None if args.ephemeral_storage_mb == DEFAULT_EPHEMERAL_STORAGE_MB else
        f"ephemeral_storage_mb: {unsupported}",
        None if not (args.invoked_async or args.on_failure) else
        f"invoked_async / on_failure: CloudFront invokes edge functions synchronously; "
        f"{unsupported}",
        None if args.replica_provider is not None else
        "replica_provider: replicas log in every region with a regional edge cache; give the "
        "function that makes a provider per region (Providers.in_region), so that their log "
        "groups have the stage retention",
    ]


def _problems(name: str, args: FunctionArgs, defaults: Defaults) -> list[str | None]:
    functions = defaults.functions
    module = args.handler.rsplit(".", 1)[0].replace(".", "/")
    return [
        None if (args.code_root / args.code / f"{module}.py").is_file() else
        f"code: no handler module {module}.py in {args.code_root / args.code}",
        None if 128 <= args.memory_size <= 10240 else
        f"memory_size: {args.memory_size} MB is outside Lambda's 128 to 10240 MB",
        None if 1 <= args.timeout <= 900 else
        f"timeout: {args.timeout} s is outside Lambda's 1 to 900 s",
        None if DEFAULT_EPHEMERAL_STORAGE_MB <= args.ephemeral_storage_mb <= 10240 else
        f"ephemeral_storage_mb: {args.ephemeral_storage_mb} MB of /tmp is outside Lambda's "
        "512 to 10240 MB",
        None if not LONG_RUNNING_AFTER_SECONDS < args.timeout <= 900 or args.long_running else
        f"timeout: {args.timeout} s is batch work; say so with long_running=True (the "
        f"guardrails allow more than {LONG_RUNNING_AFTER_SECONDS} s only to such functions)",
        None if functions.runtime in LAMBDA_RUNTIMES else
        f"runtime: {functions.runtime!r} is not allowed; use one of {', '.join(LAMBDA_RUNTIMES)}",
        None if functions.architecture in LAMBDA_ARCHITECTURES else
        f"architecture: {functions.architecture!r} is not one of "
        f"{', '.join(LAMBDA_ARCHITECTURES)}",
        None if args.reserved_concurrency is None or args.reserved_concurrency >= 0 else
        "reserved_concurrency: must be 0 (switched off) or more",
        None if 0 <= args.maximum_retry_attempts <= 2 else
        "maximum_retry_attempts: Lambda retries an asynchronous event 0, 1 or 2 times",
        None if 60 <= args.maximum_event_age_seconds <= 21600 else
        "maximum_event_age_seconds: must be between 60 and 21600",
        None if args.on_failure is None or args.invoked_async else
        "on_failure: only asynchronous functions have one; set invoked_async=True",
        None if not set(args.environment) & set(_powertools_environment(name, args, defaults))
        else "environment: the Powertools variables are set by the block; set service_name or "
             "metrics_namespace instead",
        *(f"libraries: no folder {library!r} in {args.code_root}"
          for library in args.libraries if not (args.code_root / library).is_dir()),
        None if args.provisioned_concurrency is None or args.provisioned_concurrency >= 1 else
        "provisioned_concurrency: must be 1 or more (leave it unset for none)",
        None if args.provisioned_concurrency is None or args.edge_event is None else
        "provisioned_concurrency: Lambda@Edge does not support it",
        None if None in (args.provisioned_concurrency, args.reserved_concurrency)
        or (args.reserved_concurrency or 0) >= (args.provisioned_concurrency or 0) else
        "provisioned_concurrency: more than reserved_concurrency can never be used",
        *_edge_problems(args),
        None if args.image is None or not (args.layers or args.libraries or args.generated_files)
        else "image: the image holds the function's libraries and files; layers, libraries "
             "and generated_files do not apply",
        None if args.image is None or args.edge_event is None else
        "image: Lambda@Edge does not run container images",
        *_vpc_problems(args.vpc),
    ]


def _vpc_problems(vpc: FunctionVpc | None) -> list[str]:
    """A VPC function needs subnets (two or more, in different zones, for availability) and at
    least one security group; lists known at preview are checked."""
    if vpc is None:
        return []
    problems = []
    if isinstance(vpc.subnet_ids, Sequence) and not vpc.subnet_ids:
        problems.append("vpc: subnet_ids is empty; give the private subnets")
    if isinstance(vpc.security_group_ids, Sequence) and not vpc.security_group_ids:
        problems.append("vpc: security_group_ids is empty; give at least one group")
    return problems


def _powertools_environment(name: str, args: FunctionArgs, defaults: Defaults) -> dict[str, str]:
    return {
        "POWERTOOLS_SERVICE_NAME": args.service_name or name,
        "POWERTOOLS_METRICS_NAMESPACE": args.metrics_namespace,
        "POWERTOOLS_LOG_LEVEL": defaults.functions.log_level,
        "POWERTOOLS_LOGGER_SAMPLE_RATE": str(defaults.functions.debug_log_sample_rate),
        # Traces are readable by more people than the data; keep payloads out of them.
        "POWERTOOLS_TRACER_CAPTURE_RESPONSE": "false",
    }


@dataclass(frozen=True)
class _Shape:
    """How the function is deployed: regionally, or replicated to the edge."""

    runtime: str
    architecture: str
    layers: list[pulumi.Input[str]]
    environment: Mapping[str, pulumi.Input[str]] | None
    trusted_services: tuple[str, ...]
    managed_policies: tuple[str, ...]
    function_name: str | None
    log_group_name: str | None
    bundle: Sequence[str]


def _shape(name: str, args: FunctionArgs, defaults: Defaults) -> _Shape:
    functions = defaults.functions
    if args.edge_event is None:
        managed = ("AWSXRayDaemonWriteAccess",) + (
            ("service-role/AWSLambdaVPCAccessExecutionRole",) if args.vpc else ())
        return _Shape(
            runtime=functions.runtime, architecture=functions.architecture,
            layers=[] if args.image else [
                powertools_layer_arn(defaults.region, functions.architecture, functions.runtime,
                                     functions.powertools_layer_version), *args.layers],
            environment={**_powertools_environment(name, args, defaults), **args.environment},
            trusted_services=("lambda.amazonaws.com",), managed_policies=managed,
            function_name=None, log_group_name=None, bundle=())
    function_name = f"{pulumi.get_project()}-{pulumi.get_stack()}-{name}"[:64]
    return _Shape(
        runtime=functions.runtime if functions.runtime in EDGE_RUNTIMES else EDGE_RUNTIMES[-1],
        architecture="x86_64", layers=[], environment=None,
        trusted_services=("edgelambda.amazonaws.com", "lambda.amazonaws.com"),
        managed_policies=(), function_name=function_name,
        log_group_name=f"/aws/lambda/us-east-1.{function_name}", bundle=EDGE_BUNDLE)


def _edge_log_statement(shape: _Shape, defaults: Defaults) -> iam.Statement:
    """Replicas write ``/aws/lambda/us-east-1.<function>`` where they run; the block has made
    the group in each of those regions, with the stage retention."""
    prefix = f"arn:{iam.partition(defaults.region)}:logs"
    return iam.allow(["logs:CreateLogStream", "logs:PutLogEvents"],
                     *(f"{prefix}:{region}:{defaults.account_id}:log-group:"
                       f"{shape.log_group_name}:*" for region in EDGE_REGIONS))


class Function(pulumi.ComponentResource):
    """A Lambda function with its own role, log group, tracing, Powertools and failure path."""

    function: aws.lambda_.Function
    role: aws.iam.Role
    log_group: aws.cloudwatch.LogGroup
    failure_queue: Queue | None
    arn: pulumi.Output[str]
    name: pulumi.Output[str]
    invoke_arn: pulumi.Output[str]
    qualified_arn: pulumi.Output[str]
    target_arn: pulumi.Output[str]

    def __init__(self, name: str, args: FunctionArgs, defaults: Defaults,
                 opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("blueprints:foundation:Function", name, None, opts)
        require_valid(f"Function {name}", _problems(name, args, defaults))
        child = pulumi.ResourceOptions(parent=self)
        shape = _shape(name, args, defaults)
        edge = args.edge_event is not None

        self.log_group = log_group(
            f"{name}-logs", defaults, kms_key_arn=args.kms_key_arn,
            log_group_name=shape.log_group_name,
            log_group_name_prefix=None if edge else f"/blueprints/{defaults.stage}/{name}/",
            opts=child)
        provider_in = args.replica_provider
        replica_log_groups = [] if provider_in is None else [
            log_group(f"{name}-logs-{region}", defaults, log_group_name=shape.log_group_name,
                      opts=pulumi.ResourceOptions(parent=self, provider=provider_in(region)))
            for region in REPLICA_REGIONS]
        self.failure_queue = None
        on_failure = args.on_failure
        if args.invoked_async and on_failure is None:
            self.failure_queue = Queue(f"{name}-failures", QueueArgs(kms_key_arn=args.kms_key_arn),
                                       defaults, opts=child)
            on_failure = FailureDestination(arn=self.failure_queue.arn, service="sqs")

        statements = [
            _edge_log_statement(shape, defaults) if edge else
            iam.allow(["logs:CreateLogStream", "logs:PutLogEvents"],
                      pulumi.Output.concat(self.log_group.arn, ":*")),
            *args.statements,
        ]
        if on_failure is not None:
            statements.append(iam.allow([DESTINATION_ACTIONS[on_failure.service]],
                                        on_failure.arn))
        if args.kms_key_arn is not None:
            statements.append(iam.allow(["kms:Decrypt"], args.kms_key_arn))

        self.role = aws.iam.Role(f"{name}-role",
                                 assume_role_policy=iam.trust_policy(*shape.trusted_services),
                                 description=f"Execution role of the {name} function only",
                                 opts=child)
        policy = aws.iam.RolePolicy(f"{name}-policy", role=self.role.id,
                                    policy=iam.policy_document(statements), opts=child)
        attachments = [
            aws.iam.RolePolicyAttachment(
                f"{name}-{policy_name.rsplit('/', 1)[-1].lower()}", role=self.role.name,
                policy_arn=f"arn:{iam.partition(defaults.region)}:iam::aws:policy/{policy_name}",
                opts=child)
            for policy_name in shape.managed_policies
        ]

        if args.reserved_concurrency == 0:
            warn_override(self, "reserved_concurrency=0",
                          "The function is switched off: every invocation is throttled.")
        code: pulumi.Input[pulumi.Archive] | None = None if args.image else package(
            args.code, args.code_root, bundle=shape.bundle, libraries=args.libraries)
        if args.generated_files:
            code = pulumi.Output.all(**args.generated_files).apply(
                lambda files: package(args.code, args.code_root, files, shape.bundle,
                                      args.libraries))
        self.function = aws.lambda_.Function(
            f"{name}-function",
            name=shape.function_name,
            description=args.description,
            role=self.role.arn,
            runtime=None if args.image else shape.runtime,
            architectures=[shape.architecture],
            handler=None if args.image else args.handler,
            code=code,
            package_type="Image" if args.image else "Zip",
            image_uri=args.image.uri if args.image else None,
            image_config={"commands": [args.handler]} if args.image else None,
            memory_size=args.memory_size,
            timeout=args.timeout,
            ephemeral_storage=None if args.ephemeral_storage_mb == DEFAULT_EPHEMERAL_STORAGE_MB
            else {"size": args.ephemeral_storage_mb},
            layers=shape.layers,
            tracing_config=None if edge else {"mode": "Active"},
            logging_config=None if edge else {"log_format": "Text",
                                              "log_group": self.log_group.name},
            environment=None if shape.environment is None else {
                "variables": shape.environment},
            kms_key_arn=None if edge else args.kms_key_arn,
            reserved_concurrent_executions=args.reserved_concurrency,
            vpc_config=None if args.vpc is None else {
                "subnet_ids": args.vpc.subnet_ids,
                "security_group_ids": args.vpc.security_group_ids,
            },
            publish=edge or args.provisioned_concurrency is not None,
            skip_destroy=edge,
            tags={"long-running": "true"} if args.long_running else None,
            opts=pulumi.ResourceOptions(
                parent=self,
                depends_on=[policy, self.log_group, *replica_log_groups, *attachments]),
        )
        if on_failure is not None:
            aws.lambda_.FunctionEventInvokeConfig(
                f"{name}-async",
                function_name=self.function.name,
                maximum_retry_attempts=args.maximum_retry_attempts,
                maximum_event_age_in_seconds=args.maximum_event_age_seconds,
                destination_config={"on_failure": {"destination": on_failure.arn}},
                opts=child,
            )

        self.arn = self.function.arn
        self.name = self.function.name
        self.invoke_arn = self.function.invoke_arn
        self.qualified_arn = self.function.qualified_arn
        # What triggers invoke: the function, or the alias that holds its warm capacity.
        self.target_arn = self.function.arn
        if args.provisioned_concurrency is not None:
            alias = aws.lambda_.Alias(f"{name}-live", name="live",
                                      function_name=self.function.name,
                                      function_version=self.function.version, opts=child)
            aws.lambda_.ProvisionedConcurrencyConfig(
                f"{name}-provisioned", function_name=self.function.name,
                qualifier=alias.name,
                provisioned_concurrent_executions=args.provisioned_concurrency, opts=child)
            self.invoke_arn = alias.invoke_arn
            self.target_arn = alias.arn
        self.register_outputs({
            "arn": self.arn,
            "name": self.name,
            "qualifiedArn": self.qualified_arn,
            "roleArn": self.role.arn,
            "logGroupName": self.log_group.name,
        })
