"""An account connection (Proton's "environment account connection"): the roles the tooling
account's delivery pipeline assumes in one target account.

A platform team deploys it once per target account (``Pulumi.<account>-connection.yaml``), with
that account's own credentials, before the tooling stack. It creates:

- the deploy role (``blueprints-deploy``), which may manage what the catalog declares
  (``deploy_actions``: each action named, on Resource ``*``);
- the smoke role (``blueprints-smoke``), which may only invoke GET routes of the account's APIs
  in the stack's region (the smoke tests' signed requests).

Both trust the tooling account's pipeline roles, by ARN, and nothing else.

Trust names the tooling account's root as principal and the pipeline roles in an
``aws:PrincipalArn`` condition: IAM refuses a principal that does not exist yet, and the
pipeline roles are created after the connections (the tooling stack's key policy names these
deploy roles, which must exist first). An external id is demanded when ``externalId`` is set.

The deploy role has a permissions boundary: the stack's own (the catalog's services, with
denials no policy can undo: changing these roles, the boundary or the deploy policies, and
making IAM users or access keys), or the organisation's (``permissionsBoundaryArn``). Its
session lasts ``maxSessionDurationSeconds``; a pipeline role that assumes it is chaining roles,
which AWS caps at one hour, and the SDK renews the session during a long ``pulumi up``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Annotated, Any

import pulumi
import pulumi_aws as aws
from pydantic import Field, StringConstraints, model_validator
from pydantic import dataclasses as pydantic_dataclasses

from components.config import (
    ROLE_ARN,
    SETTINGS,
    AccountId,
    Defaults,
    Meaning,
    RoleArn,
    RoleName,
    SettingsError,
)
from components.environment.deploy_actions import PASS_ROLE_SERVICES, all_deploy_actions, by_service
from components.foundation import iam

# IAM's limit on a managed policy, counted without whitespace.
MANAGED_POLICY_CHARACTERS = 6144
# AWS's range for a role's maximum session duration.
SESSION_SECONDS = (3600, 43200)

PolicyArn = Annotated[str, StringConstraints(
    pattern=r"^arn:aws(?:-cn|-us-gov)?:iam::(?:\d{12}|aws):policy/[\w+=,.@/-]+$",
    max_length=600),
    Meaning("an IAM policy ARN (arn:aws:iam::<12 digits>:policy/<name>)")]


@pydantic_dataclasses.dataclass(frozen=True, config=SETTINGS)
class ConnectionSettings:
    """``blueprints:connection``: who may deploy into this account, and as what.

    ``toolingAccountId`` is the account of the delivery pipeline; ``pipelineRoleArns`` are its
    roles that may assume the deploy and smoke roles (the tooling stack names them
    ``blueprints-pipeline-<stage>``). ``deployRoleName`` must match the ``account.deployRoleArn``
    of the stacks deployed here.
    """

    tooling_account_id: AccountId
    pipeline_role_arns: Annotated[tuple[RoleArn, ...], Field(min_length=1, max_length=20)]
    deploy_role_name: RoleName = "blueprints-deploy"
    smoke_role_name: RoleName = "blueprints-smoke"
    max_session_duration_seconds: Annotated[
        int, Field(ge=SESSION_SECONDS[0], le=SESSION_SECONDS[1])] = 3600
    permissions_boundary_arn: PolicyArn | None = None

    @model_validator(mode="after")
    def _roles_in_tooling_account(self) -> ConnectionSettings:
        problems = []
        for i, arn in enumerate(self.pipeline_role_arns):
            match = ROLE_ARN.match(arn)
            if match is not None and match.group(1) != self.tooling_account_id:
                problems.append((f"pipelineRoleArns[{i}]", f"is in account {match.group(1)}, "
                                 f"but toolingAccountId is {self.tooling_account_id}"))
        if self.deploy_role_name == self.smoke_role_name:
            problems.append(("smokeRoleName", "must differ from deployRoleName"))
        if problems:
            raise SettingsError(problems)
        return self


def trust_policy(settings: ConnectionSettings, partition: str,
                 external_id: str | None) -> dict[str, Any]:
    """The pipeline roles of the tooling account, and only they, may assume the role."""
    conditions: dict[str, Any] = {"ArnEquals": {"aws:PrincipalArn": sorted(
        settings.pipeline_role_arns)}}
    if external_id is not None:
        conditions["StringEquals"] = {"sts:ExternalId": external_id}
    return {"Version": "2012-10-17", "Statement": [{
        "Sid": "ToolingPipelineRoles",
        "Effect": "Allow",
        "Principal": {"AWS": f"arn:{partition}:iam::{settings.tooling_account_id}:root"},
        "Action": "sts:AssumeRole",
        "Condition": conditions,
    }]}


def deploy_statements(account_id: str, partition: str) -> list[iam.Statement]:
    """The deploy policy: the catalog's actions by service, and passing roles of this account
    to the services that run them."""
    statements = [iam.allow_provisioning(actions, sid=_sid(service))
                  for service, actions in sorted(by_service(all_deploy_actions()).items())]
    statements.append(iam.allow_provisioning(
        ["iam:PassRole"], f"arn:{partition}:iam::{account_id}:role/*", sid="PassRolesToServices",
        conditions={"StringEquals": {"iam:PassedToService": sorted(PASS_ROLE_SERVICES)}}))
    return statements


def _sid(service: str) -> str:
    return "Deploy" + "".join(part.capitalize() for part in service.split("-"))


def policy_chunks(statements: Sequence[Mapping[str, Any]]) -> list[list[Mapping[str, Any]]]:
    """Statements packed into as few managed policies as IAM's size limit allows."""
    chunks: list[list[Mapping[str, Any]]] = [[]]
    for statement in statements:
        if _characters(chunks[-1] + [statement]) > MANAGED_POLICY_CHARACTERS and chunks[-1]:
            chunks.append([])
        chunks[-1].append(statement)
    too_big = [s.get("Sid") for chunk in chunks for s in chunk if _characters([s]) >
               MANAGED_POLICY_CHARACTERS]
    if too_big:
        raise ValueError(f"statements {too_big} alone exceed a managed policy's "
                         f"{MANAGED_POLICY_CHARACTERS} characters")
    return chunks


def _characters(statements: Sequence[Mapping[str, Any]]) -> int:
    document = {"Version": "2012-10-17", "Statement": list(statements)}
    return len("".join(json.dumps(document).split()))


def boundary_document(settings: ConnectionSettings, account_id: str, partition: str,
                      policy_arns: Sequence[str]) -> dict[str, Any]:
    """The deploy role's permissions boundary. A boundary grants nothing: its Allow caps the
    role at the catalog's services, and its Deny statements hold whatever policy is attached
    later. This bypasses ``iam.policy_document`` on purpose, for those service wildcards."""
    services = sorted(by_service(all_deploy_actions()))
    roles = [f"arn:{partition}:iam::{account_id}:role/{name}"
             for name in (settings.deploy_role_name, settings.smoke_role_name)]
    return {"Version": "2012-10-17", "Statement": [
        {"Sid": "CatalogServicesOnly", "Effect": "Allow",
         "Action": [f"{service}:*" for service in services] + ["iam:PassRole"],
         "Resource": "*"},
        {"Sid": "ConnectionRolesUnchanged", "Effect": "Deny",
         "Action": ["iam:AttachRolePolicy", "iam:DeleteRole",
                    "iam:DeleteRolePermissionsBoundary", "iam:DeleteRolePolicy",
                    "iam:DetachRolePolicy", "iam:PutRolePermissionsBoundary", "iam:PutRolePolicy",
                    "iam:TagRole", "iam:UntagRole", "iam:UpdateAssumeRolePolicy",
                    "iam:UpdateRole"],
         "Resource": roles},
        {"Sid": "ConnectionPoliciesUnchanged", "Effect": "Deny",
         "Action": ["iam:CreatePolicyVersion", "iam:DeletePolicy", "iam:DeletePolicyVersion",
                    "iam:SetDefaultPolicyVersion", "iam:TagPolicy", "iam:UntagPolicy"],
         "Resource": list(policy_arns)},
        {"Sid": "NoLongLivedCredentials", "Effect": "Deny",
         "Action": ["iam:CreateAccessKey", "iam:CreateLoginProfile", "iam:CreateUser",
                    "iam:UpdateAccessKey", "iam:UpdateLoginProfile"],
         "Resource": "*"},
    ]}


def smoke_statements(account_id: str, region: str, partition: str) -> list[iam.Statement]:
    """What the smoke tests sign for: reads (GET, which is all they send) of the account's
    APIs in the stack's region."""
    return [iam.allow([iam.INVOKE],
                      f"arn:{partition}:execute-api:{region}:{account_id}:*/*/GET/*")]


class AccountConnection(pulumi.ComponentResource):
    """The deploy role, its boundary and policies, and the smoke role of one target account."""

    def __init__(self, name: str, settings: ConnectionSettings, defaults: Defaults, *,
                 external_id: pulumi.Input[str] | None = None,
                 opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("blueprints:environment:AccountConnection", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        partition = iam.partition(defaults.region)
        account = defaults.account_id
        trust = pulumi.Output.from_input(external_id).apply(
            lambda value: json.dumps(trust_policy(settings, partition, value)))

        chunks = policy_chunks(iam.rendered(deploy_statements(account, partition)))
        policy_names = [f"{settings.deploy_role_name}-{i + 1}" for i in range(len(chunks))]
        boundary_name = f"{settings.deploy_role_name}-boundary"
        self.deploy_policies = [aws.iam.Policy(
            f"{name}-deploy-{i + 1}",
            name=policy_names[i],
            description=f"Deploys the Serverless Blueprints catalog ({i + 1} of {len(chunks)})",
            policy=json.dumps({"Version": "2012-10-17", "Statement": chunk}),
            tags=iam.DEPLOY_POLICY_TAG,
            opts=child) for i, chunk in enumerate(chunks)]

        boundary_arn: pulumi.Input[str]
        if settings.permissions_boundary_arn is not None:
            boundary_arn = settings.permissions_boundary_arn
        else:
            self.boundary = aws.iam.Policy(
                f"{name}-boundary",
                name=boundary_name,
                description="Caps the Blueprints deploy role at the catalog's services",
                policy=json.dumps(boundary_document(
                    settings, account, partition,
                    [f"arn:{partition}:iam::{account}:policy/{policy}"
                     for policy in [*policy_names, boundary_name]])),
                tags=iam.BOUNDARY_POLICY_TAG,
                opts=child)
            boundary_arn = self.boundary.arn

        self.deploy_role = aws.iam.Role(
            f"{name}-deploy",
            name=settings.deploy_role_name,
            description="Assumed by the tooling account's delivery pipeline to run pulumi up",
            assume_role_policy=trust,
            max_session_duration=settings.max_session_duration_seconds,
            permissions_boundary=boundary_arn,
            opts=child)
        for i, policy in enumerate(self.deploy_policies):
            aws.iam.RolePolicyAttachment(f"{name}-deploy-{i + 1}", role=self.deploy_role.name,
                                         policy_arn=policy.arn, opts=child)

        self.smoke_role = aws.iam.Role(
            f"{name}-smoke",
            name=settings.smoke_role_name,
            description="Assumed by the delivery pipeline's smoke tests to sign API requests",
            assume_role_policy=trust,
            max_session_duration=SESSION_SECONDS[0],
            inline_policies=[aws.iam.RoleInlinePolicyArgs(
                name="invoke-apis",
                policy=iam.policy_document(smoke_statements(account, defaults.region,
                                                            partition)))],
            opts=child)
        self.exports = {"deployRoleArn": self.deploy_role.arn,
                        "smokeRoleArn": self.smoke_role.arn,
                        "permissionsBoundaryArn": boundary_arn}
        self.register_outputs(self.exports)
