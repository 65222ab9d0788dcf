"""The delivery pipeline: one commit of the main branch, tested, then deployed stage by stage to
each target account (dev, staging, prod from ``blueprints:pipeline.stages``), with a person's
approval before prod. It lives in the tooling account (``Pulumi.tooling.yaml``).

========================  =====================================================================
Part                      What it is
========================  =====================================================================
Source                    CodeConnections (GitHub, GitLab, Bitbucket): ``source.connectionArn``,
                          ``source.repository``; a V2 trigger on pushes to ``source.branch``
Test                      CodeBuild runs ``.ci/run`` (lint, types, the unit suite, every stack's
                          offline plan with the guardrails), ``.ci/buildspec-test.yml``
Each stage, in order      CodeBuild (``.ci/buildspec-deploy.yml``, ``.ci/deploy``): ``Preview``
                          (``pulumi preview`` of the stage's stacks with the policy pack) ->
                          ``Approve`` (prod: a manual approval, announced on SNS with the
                          preview's summary and a link to its log) -> ``Deploy`` (``pulumi up``
                          of each stack in order: environment, then services) -> ``Smoke``
                          (``tests/smoke`` against the last stack's outputs)
Roles                     one per stage, ``blueprints-pipeline-<stage>``, the principal the
                          account connections trust; it may assume that account's deploy and
                          smoke roles and no other. The test project and the pipeline have
                          their own roles.
Artifacts                 S3, SSE-KMS with the pipeline's key, TLS-only, versioned; the key's
                          policy and the bucket's let the target accounts' deploy roles read
                          (Proton's cross-account artifact access)
State                     ``stateBackend.kind``: ``s3`` (a bucket and a secrets key here) or
                          ``pulumi-cloud`` (the access token from Secrets Manager)
Build logs                CloudWatch Logs, encrypted, the stage's retention
========================  =====================================================================

Pulumi runs in the tooling account: the stacks' providers assume each account's deploy role
(``account.deployRoleArn`` in each stack file), so a stage's role needs ``sts:AssumeRole`` on
that role only.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any, Literal

import pulumi
import pulumi_aws as aws
import yaml
from pydantic import Field, StringConstraints, model_validator
from pydantic import dataclasses as pydantic_dataclasses

from components.config import (
    PROJECT,
    SETTINGS,
    AccountId,
    Defaults,
    EmailAddress,
    Meaning,
    RoleName,
    SettingsError,
)
from components.foundation import iam, kms
from components.foundation.bucket import Bucket, BucketArgs
from components.foundation.logs import log_group
from components.foundation.topic import Subscriber, endpoint_digest, subscribe

PROJECT_DIR = Path(__file__).resolve().parents[2]
TEST_BUILDSPEC = ".ci/buildspec-test.yml"
DEPLOY_BUILDSPEC = ".ci/buildspec-deploy.yml"
# Debian bookworm with Python 3.11, as CI runs here; .ci/run apt-installs what it needs (the
# curated Ubuntu images have no chromium package). Docker's official image, through the ECR
# Public mirror, which pulls without Docker Hub's rate limit.
BUILD_IMAGE = "public.ecr.aws/docker/library/python:3.11-bookworm"
ComputeType = Literal["BUILD_GENERAL1_SMALL", "BUILD_GENERAL1_MEDIUM", "BUILD_GENERAL1_LARGE"]
PULUMI_CLOUD = "https://api.pulumi.com"
# What the steps of a stage are called, in the order they run, and the .ci/deploy step each
# build action runs.
PREVIEW, APPROVE, DEPLOY, SMOKE = "Preview", "Approve", "Deploy", "Smoke"
DEPLOY_STEPS = {PREVIEW: "preview", DEPLOY: "up", SMOKE: "smoke"}
# A manual approval's comment may hold 500 characters.
APPROVAL_COMMENT_CHARACTERS = 500

ConnectionArn = Annotated[str, StringConstraints(
    pattern=r"^arn:aws(?:-cn|-us-gov)?:(?:codeconnections|codestar-connections):"
            r"[a-z0-9-]+:\d{12}:connection/[0-9a-f-]{36}$"),
    Meaning("a CodeConnections connection ARN (arn:aws:codeconnections:<region>:<account>:"
            "connection/<id>)")]
Repository = Annotated[str, StringConstraints(pattern=r"^[\w.-]+(?:/[\w.-]+)+$"),
                       Meaning("a repository id (owner/name, or group/subgroup/name)")]
Branch = Annotated[str, StringConstraints(pattern=r"^[\w./-]+$", max_length=255),
                   Meaning("a branch name")]
StageName = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9-]{0,19}$"),
                      Meaning("a stage name (lower case, digits and -, up to 20)")]
LocalStack = Annotated[str, StringConstraints(pattern=r"^[\w.-]{1,100}$"),
                       Meaning("a stack name of this project (the <stack> of Pulumi.<stack>.yaml)")]
SecretArn = Annotated[str, StringConstraints(
    pattern=r"^arn:aws(?:-cn|-us-gov)?:secretsmanager:[a-z0-9-]+:\d{12}:secret:[\w/+=.@-]+$"),
    Meaning("a Secrets Manager secret ARN")]


@pydantic_dataclasses.dataclass(frozen=True, config=SETTINGS)
class SourceSettings:
    """The repository the pipeline builds: a CodeConnections connection (made and authorised
    once in the console), the repository it reaches and the branch whose pushes start a run."""

    connection_arn: ConnectionArn
    repository: Repository
    branch: Branch = "main"


@pydantic_dataclasses.dataclass(frozen=True, config=SETTINGS)
class StageSettings:
    """One deployment stage: its target account, its stacks in deploy order (environment
    first), the stack the smoke tests read (the last, unless ``smokeStack``) and whether a
    person approves it first (prod always does)."""

    name: StageName
    account_id: AccountId
    stacks: Annotated[tuple[LocalStack, ...], Field(min_length=1, max_length=5)]
    smoke_stack: LocalStack | None = None
    approval: bool | None = None

    @property
    def approved(self) -> bool:
        return self.name == "prod" if self.approval is None else self.approval

    @property
    def smoked(self) -> str:
        return self.smoke_stack or self.stacks[-1]


@pydantic_dataclasses.dataclass(frozen=True, config=SETTINGS)
class StateBackendSettings:
    """Where Pulumi keeps the stacks' state: ``s3`` (a bucket and a KMS secrets key in the
    tooling account, made here) or ``pulumi-cloud`` (``accessTokenSecretArn``, a Secrets
    Manager secret holding a Pulumi access token)."""

    kind: Literal["s3", "pulumi-cloud"] = "s3"
    access_token_secret_arn: SecretArn | None = None

    @model_validator(mode="after")
    def _token_for_the_cloud(self) -> StateBackendSettings:
        if self.kind == "pulumi-cloud" and self.access_token_secret_arn is None:
            raise SettingsError([("accessTokenSecretArn", "is required for pulumi-cloud")])
        if self.kind == "s3" and self.access_token_secret_arn is not None:
            raise SettingsError([("accessTokenSecretArn", "is only for pulumi-cloud")])
        return self


def _sdk_version() -> str:
    """The Pulumi CLI to install: the version of the SDK that requirements.txt pins (the CLI
    and the SDK are released together)."""
    pinned = re.search(r"^pulumi==([\d.]+)$",
                       (PROJECT_DIR / "requirements.txt").read_text(encoding="utf-8"), re.M)
    assert pinned is not None, "requirements.txt pins pulumi"
    return pinned.group(1)


@pydantic_dataclasses.dataclass(frozen=True, config=SETTINGS)
class PipelineSettings:
    """``blueprints:pipeline``: the tooling stack's delivery pipeline."""

    source: SourceSettings
    stages: Annotated[tuple[StageSettings, ...], Field(min_length=1, max_length=8)]
    approvers: tuple[EmailAddress, ...] = ()
    state_backend: StateBackendSettings = StateBackendSettings()
    deploy_role_name: RoleName = "blueprints-deploy"
    smoke_role_name: RoleName = "blueprints-smoke"
    # The test build runs the whole suite: MEDIUM (4 vCPUs, 7 GB) keeps it near 15 minutes.
    build_compute_type: ComputeType = "BUILD_GENERAL1_MEDIUM"
    build_timeout_minutes: Annotated[int, Field(ge=5, le=480)] = 60
    pulumi_version: Annotated[str, StringConstraints(pattern=r"^\d+\.\d+\.\d+$"),
                              Meaning("a Pulumi CLI version (such as 3.272.0)")] = _sdk_version()

    @model_validator(mode="after")
    def _stages_deployable(self) -> PipelineSettings:
        problems: list[tuple[str, str]] = []
        seen: set[str] = set()
        for i, stage in enumerate(self.stages):
            where = f"stages[{i}]"
            if stage.name in seen:
                problems.append((f"{where}.name", f"{stage.name!r} is used twice"))
            seen.add(stage.name)
            if stage.name == "prod" and stage.approval is False:
                problems.append((f"{where}.approval", "prod is deployed only after a person "
                                 "approves; remove approval: false"))
            if stage.smoke_stack is not None and stage.smoke_stack not in stage.stacks:
                problems.append((f"{where}.smokeStack", f"{stage.smoke_stack!r} is not one of "
                                 "the stage's stacks"))
            for j, stack in enumerate(stage.stacks):
                problem = stack_file_problem(stack, stage.account_id, self.deploy_role_name)
                if problem:
                    problems.append((f"{where}.stacks[{j}]", problem))
        if any(stage.approved for stage in self.stages) and not self.approvers:
            problems.append(("approvers", "a stage needs approval: list who is told "
                             "(email addresses)"))
        if problems:
            raise SettingsError(problems)
        return self


def stack_file_problem(stack: str, account_id: str, deploy_role_name: str) -> str | None:
    """Why ``stack`` cannot be deployed to ``account_id`` by the pipeline, if it cannot: its
    stack file must exist, name that account and the deploy role the stage's role may assume
    (the account connection's)."""
    path = PROJECT_DIR / f"Pulumi.{stack}.yaml"
    if not path.is_file():
        return f"there is no {path.name} in the project"
    try:
        config = (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("config") or {}
    except yaml.YAMLError as error:
        return f"{path.name} does not parse: {error}"
    account = config.get(f"{PROJECT}:account") or {}
    found = str(account.get("id", "")) if isinstance(account, dict) else ""
    if found != account_id:
        return f"{path.name} deploys to account {found or '(none)'}, not {account_id}"
    role = account.get("deployRoleArn") if isinstance(account, dict) else None
    if not role:
        return f"{path.name} names no account.deployRoleArn for the pipeline to deploy with"
    if str(role).rsplit("/", 1)[-1] != deploy_role_name:
        return (f"{path.name} assumes {role}, but the pipeline's stage may only assume "
                f"{deploy_role_name} (deployRoleName)")
    return None


def stage_role_name(stage: str) -> str:
    """The name of a stage's role: the account connections trust it by this name."""
    return f"blueprints-pipeline-{stage}"


def role_arn(partition: str, account_id: str, name: str) -> str:
    return f"arn:{partition}:iam::{account_id}:role/{name}"


def artifact_key_policy(*, partition: str, dns_suffix: str, region: str, account_id: str,
                        deploy_role_arns: Sequence[str]) -> dict[str, Any]:
    """The pipeline key: the tooling account's statements, its build logs, and the target
    accounts' deploy roles, which may decrypt artifacts through S3 only."""
    return {"Version": "2012-10-17", "Statement": [
        *kms.account_statements(partition=partition, account_id=account_id),
        kms.logs_statement(partition=partition, dns_suffix=dns_suffix, region=region,
                           account_id=account_id),
        {"Sid": "TargetAccountsReadArtifacts", "Effect": "Allow",
         "Principal": {"AWS": sorted(deploy_role_arns)},
         "Action": ["kms:Decrypt", "kms:DescribeKey"], "Resource": "*",
         "Condition": {"StringEquals": {"kms:ViaService": f"s3.{region}.{dns_suffix}"}}},
    ]}


def stage_variables(stage: StageSettings, step: str, smoke_role: str) -> str:
    """The CodeBuild action's environment variables (the contract of .ci/deploy)."""
    return json.dumps([
        {"name": "DEPLOY_STEP", "value": DEPLOY_STEPS[step], "type": "PLAINTEXT"},
        {"name": "STACKS", "value": " ".join(stage.stacks), "type": "PLAINTEXT"},
        {"name": "SMOKE_STACK", "value": stage.smoked, "type": "PLAINTEXT"},
        {"name": "SMOKE_ROLE_ARN", "value": smoke_role, "type": "PLAINTEXT"},
    ])


def namespace(stage: StageSettings) -> str:
    """The variable namespace of a stage's preview (its summary and build link)."""
    return "".join(part.capitalize() for part in stage.name.split("-")) + PREVIEW


def approval_comment(stage: StageSettings) -> str:
    return (f"Deploy commit #{{SourceVariables.CommitId}} to {stage.name} "
            f"({' then '.join(stage.stacks)})? Preview: #{{{namespace(stage)}.PREVIEW_SUMMARY}}")


class DeliveryPipeline(pulumi.ComponentResource):
    """See the module docstring."""

    def __init__(self, name: str, settings: PipelineSettings, defaults: Defaults,
                 opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("blueprints:pipeline:DeliveryPipeline", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        partition = iam.partition(defaults.region)
        dns_suffix = "amazonaws.com.cn" if partition == "aws-cn" else "amazonaws.com"
        account = defaults.account_id
        deploy_roles = {stage.name: role_arn(partition, stage.account_id,
                                             settings.deploy_role_name)
                        for stage in settings.stages}
        smoke_roles = {stage.name: role_arn(partition, stage.account_id,
                                            settings.smoke_role_name)
                       for stage in settings.stages}

        self.key = aws.kms.Key(
            f"{name}-key",
            description="Blueprints delivery pipeline: artifacts, build logs, approvals",
            enable_key_rotation=True,
            deletion_window_in_days=defaults.kms_deletion_window_days,
            policy=json.dumps(artifact_key_policy(
                partition=partition, dns_suffix=dns_suffix, region=defaults.region,
                account_id=account, deploy_role_arns=sorted(set(deploy_roles.values())))),
            opts=pulumi.ResourceOptions(parent=self, protect=defaults.protect))
        aws.kms.Alias(f"{name}-key", name="alias/blueprints/pipeline",
                      target_key_id=self.key.key_id, opts=child)
        self.artifacts = Bucket(f"{name}-artifacts", BucketArgs(
            kms_key_arn=self.key.arn, noncurrent_version_expire_after_days=30,
            expire_after_days=90,
            allow_read_by_roles=sorted(set(deploy_roles.values()))), defaults, child)

        backend = _StateBackend(name, settings.state_backend, defaults, self)
        self.approvals = self._approval_topic(name, settings, defaults)

        test = self._project(name, "test", TEST_BUILDSPEC, settings, defaults, backend=None,
                             assumable=())
        deploys = {stage.name: self._project(
            name, stage.name, DEPLOY_BUILDSPEC, settings, defaults, backend=backend,
            assumable=(deploy_roles[stage.name], smoke_roles[stage.name]),
            role_name=stage_role_name(stage.name)) for stage in settings.stages}

        role = aws.iam.Role(
            f"{name}-pipeline",
            description="Runs the Blueprints delivery pipeline",
            assume_role_policy=iam.trust_policy(
                "codepipeline.amazonaws.com",
                conditions={"StringEquals": {"aws:SourceAccount": account}}),
            opts=child)
        projects = [test, *deploys.values()]
        aws.iam.RolePolicy(
            f"{name}-pipeline",
            role=role.id,
            policy=iam.policy_document([
                *self._artifact_statements(write=True),
                iam.allow(["codebuild:BatchGetBuilds", "codebuild:StartBuild"],
                          *[project.arn for project in projects]),
                iam.allow(["codeconnections:UseConnection"]
                          if ":codeconnections:" in settings.source.connection_arn
                          else ["codestar-connections:UseConnection"],
                          settings.source.connection_arn),
                iam.allow(["sns:Publish"], self.approvals.arn),
            ]),
            opts=child)

        self.pipeline = aws.codepipeline.Pipeline(
            f"{name}-pipeline",
            name=f"{PROJECT}-delivery",
            pipeline_type="V2",
            # A newer commit waits for the older one to finish rather than overtaking it.
            execution_mode="QUEUED",
            role_arn=role.arn,
            artifact_stores=[{"location": self.artifacts.name, "type": "S3",
                              "encryption_key": {"id": self.key.arn, "type": "KMS"}}],
            triggers=[{"provider_type": "CodeStarSourceConnection", "git_configuration": {
                "source_action_name": "Source",
                "pushes": [{"branches": {"includes": [settings.source.branch]}}]}}],
            stages=[
                aws.codepipeline.PipelineStageArgs(name="Source", actions=[
                    aws.codepipeline.PipelineStageActionArgs(
                        name="Source", category="Source", owner="AWS",
                        provider="CodeStarSourceConnection", version="1",
                        namespace="SourceVariables", output_artifacts=["source"],
                        configuration={
                            "ConnectionArn": settings.source.connection_arn,
                            "FullRepositoryId": settings.source.repository,
                            "BranchName": settings.source.branch,
                            "OutputArtifactFormat": "CODE_ZIP"})]),
                aws.codepipeline.PipelineStageArgs(
                    name="Test", actions=[_build_action("Test", test.name, 1)]),
                *[aws.codepipeline.PipelineStageArgs(
                    name=f"Deploy-{stage.name}",
                    actions=self._stage_actions(stage, deploys[stage.name].name,
                                                smoke_roles[stage.name]),
                    # A failed deploy or smoke test redeploys the stage's last good commit.
                    on_failure=aws.codepipeline.PipelineStageOnFailureArgs(result="ROLLBACK"))
                  for stage in settings.stages],
            ],
            opts=child)

        self.exports: dict[str, Any] = {
            "pipelineName": self.pipeline.name,
            "artifactBucket": self.artifacts.name,
            "artifactKeyArn": self.key.arn,
            "approvalTopicArn": self.approvals.arn,
            "stageRoleArns": {stage.name: role_arn(partition, account,
                                                   stage_role_name(stage.name))
                              for stage in settings.stages},
            **backend.exports,
        }
        self.register_outputs(self.exports)

    def _stage_actions(self, stage: StageSettings, project: pulumi.Input[str], smoke_role: str
                       ) -> list[aws.codepipeline.PipelineStageActionArgs]:
        actions = [_build_action(PREVIEW, project, 1, stage_variables(stage, PREVIEW, smoke_role),
                                 namespace=namespace(stage))]
        if stage.approved:
            actions.append(aws.codepipeline.PipelineStageActionArgs(
                name=APPROVE, category="Approval", owner="AWS", provider="Manual", version="1",
                run_order=2,
                configuration={
                    "NotificationArn": self.approvals.arn,
                    "CustomData": approval_comment(stage),
                    "ExternalEntityLink": f"#{{{namespace(stage)}.BUILD_URL}}"}))
        after = len(actions) + 1
        actions.append(_build_action(DEPLOY, project, after,
                                     stage_variables(stage, DEPLOY, smoke_role)))
        actions.append(_build_action(SMOKE, project, after + 1,
                                     stage_variables(stage, SMOKE, smoke_role)))
        return actions

    def _artifact_statements(self, *, write: bool) -> list[iam.Statement]:
        objects = self.artifacts.arn.apply(lambda arn: f"{arn}/*")
        reads = ["s3:GetObject", "s3:GetObjectVersion"]
        return [
            iam.allow([*reads, "s3:PutObject"] if write else reads, objects),
            iam.allow(["s3:GetBucketLocation", "s3:GetBucketVersioning"], self.artifacts.arn),
            iam.allow(["kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey"]
                      if write else ["kms:Decrypt", "kms:DescribeKey"], self.key.arn),
        ]

    def _project(self, name: str, purpose: str, buildspec: str, settings: PipelineSettings,
                 defaults: Defaults, *, backend: _StateBackend | None,
                 assumable: Sequence[str], role_name: str | None = None,
                 ) -> aws.codebuild.Project:
        """A CodeBuild project with its own role and log group. Deploy projects run one build
        at a time: two deploys of one stage never overlap."""
        child = pulumi.ResourceOptions(parent=self)
        logs = log_group(f"{name}-{purpose}-logs", defaults, kms_key_arn=self.key.arn,
                         log_group_name=f"/aws/codebuild/{PROJECT}-{purpose}", opts=child)
        role = aws.iam.Role(
            f"{name}-{purpose}",
            name=role_name,
            description=f"Runs the Blueprints pipeline's {purpose} builds",
            assume_role_policy=iam.trust_policy(
                "codebuild.amazonaws.com",
                conditions={"StringEquals": {"aws:SourceAccount": defaults.account_id}}),
            opts=child)
        statements = [
            iam.allow(["logs:CreateLogStream", "logs:PutLogEvents"],
                      logs.arn.apply(lambda arn: f"{arn}:*")),
            *self._artifact_statements(write=False),
        ]
        if assumable:
            statements.append(iam.allow(["sts:AssumeRole"], *assumable))
        variables: list[aws.codebuild.ProjectEnvironmentEnvironmentVariableArgs] = []
        if backend is not None:
            statements += backend.statements
            variables = [_variable("PULUMI_VERSION", settings.pulumi_version),
                         *backend.variables]
        aws.iam.RolePolicy(f"{name}-{purpose}", role=role.id,
                           policy=iam.policy_document(statements), opts=child)
        return aws.codebuild.Project(
            f"{name}-{purpose}",
            name=f"{PROJECT}-{purpose}",
            description=f"Blueprints pipeline: {purpose}",
            service_role=role.arn,
            artifacts=aws.codebuild.ProjectArtifactsArgs(type="CODEPIPELINE"),
            source=aws.codebuild.ProjectSourceArgs(type="CODEPIPELINE", buildspec=buildspec),
            environment=aws.codebuild.ProjectEnvironmentArgs(
                type="LINUX_CONTAINER", compute_type=settings.build_compute_type,
                image=BUILD_IMAGE, image_pull_credentials_type="CODEBUILD",
                privileged_mode=False, environment_variables=variables),
            # The pipeline's key, or CodeBuild writes artifacts with the account's S3 key,
            # which no other account may use.
            encryption_key=self.key.arn,
            build_timeout=settings.build_timeout_minutes,
            queued_timeout=480,
            concurrent_build_limit=None if backend is None else 1,
            logs_config=aws.codebuild.ProjectLogsConfigArgs(
                cloudwatch_logs=aws.codebuild.ProjectLogsConfigCloudwatchLogsArgs(
                    status="ENABLED", group_name=logs.name),
                s3_logs=aws.codebuild.ProjectLogsConfigS3LogsArgs(status="DISABLED")),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[logs]))

    def _approval_topic(self, name: str, settings: PipelineSettings,
                        defaults: Defaults) -> aws.sns.Topic:
        """Where approvals are announced: the pipeline's role publishes, the approvers are
        subscribed by email, and an undeliverable announcement is kept in a queue."""
        child = pulumi.ResourceOptions(parent=self)
        topic = aws.sns.Topic(f"{name}-approvals", display_name="Blueprints approvals",
                              kms_master_key_id=self.key.arn, fifo_topic=False, opts=child)
        aws.sns.TopicPolicy(
            f"{name}-approvals-policy", arn=topic.arn,
            policy=iam.policy_document([iam.deny_insecure_transport("sns", topic.arn)]),
            opts=child)
        subscribe(f"{name}-approvals", topic, [
            Subscriber(f"{name}-approver-{endpoint_digest(address)}", "email", address)
            for address in settings.approvers], defaults, child)
        return topic


class _StateBackend:
    """The Pulumi state backend the deploy builds log in to, what they may do there, and what
    the stack exports for the other stacks' ``pulumi login`` and ``--secrets-provider``."""

    def __init__(self, name: str, settings: StateBackendSettings, defaults: Defaults,
                 parent: pulumi.Resource) -> None:
        child = pulumi.ResourceOptions(parent=parent)
        self.statements: list[iam.Statement] = []
        self.variables: list[aws.codebuild.ProjectEnvironmentEnvironmentVariableArgs] = []
        self.exports: dict[str, Any] = {}
        if settings.kind == "pulumi-cloud":
            assert settings.access_token_secret_arn is not None
            self.variables = [
                _variable("PULUMI_BACKEND_URL", PULUMI_CLOUD),
                _variable("PULUMI_ACCESS_TOKEN", settings.access_token_secret_arn,
                          "SECRETS_MANAGER")]
            self.statements = [iam.allow(["secretsmanager:GetSecretValue"],
                                         settings.access_token_secret_arn)]
            self.exports = {"stateBackendUrl": PULUMI_CLOUD}
            return
        partition = iam.partition(defaults.region)
        key = aws.kms.Key(
            f"{name}-state-key",
            description="Blueprints Pulumi state: the bucket and the stacks' secrets",
            enable_key_rotation=True,
            deletion_window_in_days=defaults.kms_deletion_window_days,
            policy=json.dumps({"Version": "2012-10-17", "Statement": kms.account_statements(
                partition=partition, account_id=defaults.account_id)}),
            opts=pulumi.ResourceOptions(parent=parent, protect=True))
        alias = "alias/blueprints/pulumi-state"
        aws.kms.Alias(f"{name}-state-key", name=alias, target_key_id=key.key_id, opts=child)
        # State is history: kept whatever the stage, and never expired.
        bucket = Bucket(f"{name}-state", BucketArgs(
            kms_key_arn=key.arn, noncurrent_version_expire_after_days=365), defaults,
            pulumi.ResourceOptions(parent=parent, protect=True))
        url = bucket.name.apply(lambda bucket_name: f"s3://{bucket_name}?region="
                                                    f"{defaults.region}")
        self.variables = [_variable("PULUMI_BACKEND_URL", url)]
        self.statements = [
            iam.allow(["s3:DeleteObject", "s3:GetObject", "s3:PutObject"],
                      bucket.arn.apply(lambda arn: f"{arn}/*")),
            iam.allow(["s3:GetBucketLocation", "s3:ListBucket"], bucket.arn),
            iam.allow(["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"], key.arn),
        ]
        self.exports = {
            "stateBackendUrl": url,
            "secretsProvider": f"awskms://{alias}?region={defaults.region}",
        }


def _build_action(name: str, project: pulumi.Input[str], run_order: int,
                  variables: str | None = None, *, namespace: str | None = None,
                  ) -> aws.codepipeline.PipelineStageActionArgs:
    configuration: dict[str, pulumi.Input[str]] = {"ProjectName": project}
    if variables is not None:
        configuration["EnvironmentVariables"] = variables
    return aws.codepipeline.PipelineStageActionArgs(
        name=name, category="Build", owner="AWS", provider="CodeBuild", version="1",
        run_order=run_order, input_artifacts=["source"], namespace=namespace,
        configuration=configuration)


def _variable(name: str, value: pulumi.Input[str], kind: str = "PLAINTEXT",
              ) -> aws.codebuild.ProjectEnvironmentEnvironmentVariableArgs:
    return aws.codebuild.ProjectEnvironmentEnvironmentVariableArgs(name=name, value=value,
                                                                   type=kind)
