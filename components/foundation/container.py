"""Container building blocks: a private ECR repository with the image built and pushed to it, and
a Fargate task definition with its log group and the execution role's rights for both.

Neither is a component of its own: like ``logs.log_group``, each declares its resources under
the caller's ``parent``, with the caller's names, so a service that moves to the blocks keeps its
resources (and their URNs) unchanged.

``container_image`` builds ``<code>/Dockerfile`` with ``functions/`` as the context and pushes it
to a new repository; ``fargate_task`` runs an image as a Fargate task definition.

Default settings:

| Setting                   | Default                                                          |
|---------------------------|------------------------------------------------------------------|
| ECR tags                  | immutable; the tag is a digest of what the Dockerfile copies     |
|                           | (``source_digest``), so an unchanged image is not pushed again   |
| ECR scanning              | on push                                                          |
| ECR encryption            | KMS, with the given key                                          |
| ECR lifecycle             | keep the last ``images_kept`` images (20)                        |
| ECR deletion              | ``protect`` and no force delete where the stage protects         |
| Image platform            | the stage's function architecture (arm64 by default)             |
| Image build on preview    | off: a preview (and a policy pack run) needs no Docker engine    |
| Image reference           | by digest (``repository@sha256:...``), never by tag              |
| Task                      | Fargate, ``awsvpc``, Linux on the stage's architecture           |
| Container user            | ``1000:1000`` (non-root)                                         |
| Root file system          | read-only; ``/tmp`` a task volume of its own                     |
| Container logs            | ``awslogs`` to the task's own log group (stage retention, KMS)   |
| Powertools variables      | service name and log level                                       |
| Execution role            | the environment's; gets a policy for this repository, this log   |
|                           | group and the environment key, nothing else                      |
| Ephemeral storage         | 21 GiB, stated                                                   |

The image is pushed with the account's ECR token by the ``docker-build`` provider given (the
one ``Providers.images`` holds): ``pulumi up`` needs a Docker engine where it runs.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_docker_build as docker_build

from components.config import Defaults
from components.foundation import iam
from components.foundation.function import FUNCTIONS_DIR
from components.foundation.logs import log_group

IMAGES_KEPT = 20
CONTAINER_USER = "1000:1000"
TMP = "/tmp"  # noqa: S108 (a task volume of its own, not a shared directory)
# Fargate's CPU units and the memory (MB) each allows.
FARGATE_MEMORY: Mapping[int, range] = {
    256: range(512, 2049, 512), 512: range(1024, 4097, 1024), 1024: range(2048, 8193, 1024),
    2048: range(4096, 16385, 1024), 4096: range(8192, 30721, 1024),
    8192: range(16384, 61441, 4096), 16384: range(32768, 122881, 8192)}


def fargate_size_problem(cpu: int, memory_mb: int, *, cpu_key: str = "fargateCpu") -> str | None:
    """Why ``memory_mb`` does not go with ``cpu`` units on Fargate, or None."""
    allowed = FARGATE_MEMORY.get(cpu)
    if allowed is None:
        return f"{cpu} is not a Fargate CPU size; use one of {', '.join(map(str, FARGATE_MEMORY))}"
    if memory_mb in allowed:
        return None
    return (f"{memory_mb} MB does not go with {cpu_key} {cpu}; use {allowed.start} to "
            f"{allowed.stop - 1} MB in steps of {allowed.step}")


def source_digest(folders: Sequence[str], root: Path = FUNCTIONS_DIR) -> str:
    """A digest of the folders an image's Dockerfile copies (caches excluded): the image's tag."""
    digest = hashlib.sha256()
    for folder in folders:
        for path in sorted((root / folder).rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                digest.update(path.relative_to(root).as_posix().encode())
                digest.update(path.read_bytes())
    return digest.hexdigest()[:32]


@dataclass(frozen=True)
class ContainerImageArgs:
    """An image built from ``functions/<code>/Dockerfile`` (context ``functions/``), whose tag is
    the digest of ``sources``, the folders the Dockerfile copies."""

    code: str
    sources: Sequence[str]
    kms_key_arn: pulumi.Input[str]
    images_kept: int = IMAGES_KEPT
    code_root: Path = FUNCTIONS_DIR


@dataclass(frozen=True)
class ContainerImage:
    """The repository, the built image, and the reference to run it by (repository@digest)."""

    repository: aws.ecr.Repository
    image: docker_build.Image
    uri: pulumi.Output[str]


def container_image(name: str, args: ContainerImageArgs, defaults: Defaults, *,
                    parent: pulumi.Resource,
                    provider: docker_build.Provider | None) -> ContainerImage:
    """``<name>-images`` (repository and lifecycle) and ``<name>-image`` (built, pushed),
    children of ``parent``; ``provider`` is the docker-build provider that builds it."""
    if not 1 <= args.images_kept <= 1000:
        raise ValueError(f"container_image {name}: images_kept {args.images_kept} is outside "
                         "1..1000")
    child = pulumi.ResourceOptions(parent=parent)
    repository = aws.ecr.Repository(
        f"{name}-images", image_tag_mutability="IMMUTABLE",
        image_scanning_configuration={"scan_on_push": True},
        encryption_configurations=[{"encryption_type": "KMS", "kms_key": args.kms_key_arn}],
        force_delete=not defaults.protect,
        opts=pulumi.ResourceOptions(parent=parent, protect=defaults.protect))
    aws.ecr.LifecyclePolicy(f"{name}-images", repository=repository.name, policy=json.dumps(
        {"rules": [{"rulePriority": 1, "description": f"Keep the last {args.images_kept} images",
                    "selection": {"tagStatus": "any", "countType": "imageCountMoreThan",
                                  "countNumber": args.images_kept},
                    "action": {"type": "expire"}}]}), opts=child)
    token = aws.ecr.get_authorization_token_output(
        registry_id=repository.registry_id, opts=pulumi.InvokeOutputOptions(parent=parent))
    platform = (docker_build.Platform.LINUX_ARM64 if defaults.functions.architecture == "arm64"
                else docker_build.Platform.LINUX_AMD64)
    image = docker_build.Image(
        f"{name}-image",
        context={"location": str(args.code_root)},
        dockerfile={"location": str(args.code_root / args.code / "Dockerfile")},
        platforms=[platform],
        # A preview (and a policy pack run in preview) needs no Docker engine.
        build_on_preview=False,
        tags=[pulumi.Output.concat(repository.repository_url, ":",
                                   source_digest(args.sources, args.code_root))],
        push=True,
        # A push credential, valid for 12 hours: never shown in a plan or a state diff.
        registries=[{"address": repository.repository_url, "username": token.user_name,
                     "password": pulumi.Output.secret(token.password)}],
        opts=pulumi.ResourceOptions(parent=parent, provider=provider))
    # By digest: a function or task always runs exactly the image that was built.
    return ContainerImage(repository, image,
                          pulumi.Output.concat(repository.repository_url, "@", image.digest))


def cpu_architecture(defaults: Defaults) -> str:
    """The task's CPU architecture, the stage's function architecture in ECS's words."""
    return "ARM64" if defaults.functions.architecture == "arm64" else "X86_64"


@dataclass(frozen=True)
class FargateTaskArgs:
    """A Fargate task definition running ``image`` as the one container ``container``.

    ``settings`` are container definition keys the block does not set itself (``entryPoint``,
    ``command``, ``portMappings``, ``healthCheck``...), placed after name, image and essential;
    a key the block owns (user, read-only root, mounts, environment, logs) is refused.
    ``environment`` is the container's variables (values may be outputs), ``service_name`` its
    Powertools service name.
    """

    container: str
    image: pulumi.Input[str]
    repository_arn: pulumi.Input[str]
    task_role_arn: pulumi.Input[str]
    execution_role_arn: pulumi.Input[str]
    execution_role_name: pulumi.Input[str]
    kms_key_arn: pulumi.Input[str]
    cpu: int
    memory_mb: int
    service_name: str
    environment: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    settings: Mapping[str, Any] = field(default_factory=dict)


# The container definition keys fargate_task sets itself.
OWNED_KEYS = frozenset({"name", "image", "essential", "user", "readonlyRootFilesystem",
                        "mountPoints", "environment", "logConfiguration"})


@dataclass(frozen=True)
class FargateTask:
    """The task definition, its containers' log group and the execution role's policy."""

    definition: aws.ecs.TaskDefinition
    log_group: aws.cloudwatch.LogGroup
    execution_policy: aws.iam.RolePolicy


def task_log_group(name: str, defaults: Defaults, kms_key_arn: pulumi.Input[str],
                   opts: pulumi.ResourceOptions) -> aws.cloudwatch.LogGroup:
    """``<name>-task-logs``: ``/blueprints/<stage>/<name>-task/...``."""
    return log_group(f"{name}-task-logs", defaults, kms_key_arn=kms_key_arn,
                     log_group_name_prefix=f"/blueprints/{defaults.stage}/{name}-task/",
                     opts=opts)


def fargate_task(name: str, args: FargateTaskArgs, defaults: Defaults, *,
                 parent: pulumi.Resource,
                 logs: aws.cloudwatch.LogGroup | None = None) -> FargateTask:
    """``<name>-task`` (family ``<project>-<stack>-<name>``), ``<name>-task-logs`` (unless
    ``logs``, made by ``task_log_group``, is given) and ``<name>-task-execution``, the
    environment execution role's policy for this repository and log group."""
    problems = [fargate_size_problem(args.cpu, args.memory_mb, cpu_key="cpu"),
                *(f"settings.{key}: set by the block" for key in sorted(OWNED_KEYS & set(
                    args.settings)))]
    found = [problem for problem in problems if problem]
    if found:
        raise ValueError(f"fargate_task {name}: " + "; ".join(found))
    child = pulumi.ResourceOptions(parent=parent)
    logs = logs or task_log_group(name, defaults, args.kms_key_arn, child)
    policy = aws.iam.RolePolicy(
        f"{name}-task-execution", role=args.execution_role_name,
        policy=iam.policy_document([
            iam.allow(["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer",
                       "ecr:BatchCheckLayerAvailability"], args.repository_arn),
            iam.allow(["logs:CreateLogStream", "logs:PutLogEvents"],
                      pulumi.Output.concat(logs.arn, ":*")),
            iam.allow(["kms:Decrypt"], args.kms_key_arn),
        ]), opts=child)
    container = pulumi.Output.all(
        image=args.image, logs=logs.name,
        variables=pulumi.Output.all(**args.environment)).apply(
        lambda values: json.dumps([{
            "name": args.container, "image": values["image"], "essential": True,
            **args.settings,
            "user": CONTAINER_USER,
            "readonlyRootFilesystem": True,
            "mountPoints": [{"sourceVolume": "tmp", "containerPath": TMP}],
            "environment": [{"name": key, "value": value} for key, value in sorted(
                {**values["variables"], "POWERTOOLS_SERVICE_NAME": args.service_name,
                 "POWERTOOLS_LOG_LEVEL": defaults.functions.log_level}.items())],
            "logConfiguration": {"logDriver": "awslogs", "options": {
                "awslogs-group": values["logs"], "awslogs-region": defaults.region,
                "awslogs-stream-prefix": args.container}},
        }]))
    definition = aws.ecs.TaskDefinition(
        f"{name}-task", family=f"{pulumi.get_project()}-{pulumi.get_stack()}-{name}"[:255],
        requires_compatibilities=["FARGATE"], network_mode="awsvpc",
        cpu=str(args.cpu), memory=str(args.memory_mb),
        runtime_platform={"operating_system_family": "LINUX",
                          "cpu_architecture": cpu_architecture(defaults)},
        execution_role_arn=args.execution_role_arn,
        task_role_arn=args.task_role_arn, container_definitions=container,
        volumes=[{"name": "tmp"}], ephemeral_storage={"size_in_gib": 21},
        opts=child)
    return FargateTask(definition, logs, policy)
