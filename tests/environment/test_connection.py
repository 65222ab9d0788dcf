"""The account connections: the deploy role's trust, boundary, session and policies, the smoke
role, and the settings' mistakes; planned from the connection stack files."""

from __future__ import annotations

import json
from typing import Any

import pytest

from components.config import ConfigError
from components.environment.connection import (
    MANAGED_POLICY_CHARACTERS,
    policy_chunks,
)
from components.environment.deploy_actions import PASS_ROLE_SERVICES, all_deploy_actions
from components.foundation import iam
from components.foundation.iam import POLICY_USE_TAG
from policy.guardrails import iam as guardrail
from tests.support import json_input, planned, statements
from tools.mock_runtime import SECRET_PLACEHOLDER, StackRun, load_stack_file, run_stack
from tools.verdicts import evaluate

ROLE = "aws:iam/role:Role"
POLICY = "aws:iam/policy:Policy"
CONNECTIONS = ["dev-connection", "prod-connection"]


def connection_settings(stack: str) -> dict[str, Any]:
    return dict(load_stack_file(stack)["config"]["blueprints:connection"])


def role(run: StackRun, suffix: str) -> Any:
    return run.one(ROLE, f"connection-{suffix}")


@pytest.mark.parametrize("stack", CONNECTIONS)
def test_only_the_tooling_pipeline_roles_may_assume_the_roles(stack: str) -> None:
    run = planned(stack)
    settings = connection_settings(stack)
    for suffix in ("deploy", "smoke"):
        trust = json_input(role(run, suffix), "assumeRolePolicy")
        [statement] = trust["Statement"]
        assert statement["Principal"] == {
            "AWS": f"arn:aws:iam::{settings['toolingAccountId']}:root"}
        assert statement["Action"] == "sts:AssumeRole"
        assert statement["Condition"]["ArnEquals"] == {
            "aws:PrincipalArn": sorted(settings["pipelineRoleArns"])}


def test_the_external_id_is_demanded_when_configured() -> None:
    prod = json_input(role(planned("prod-connection"), "deploy"), "assumeRolePolicy")
    assert prod["Statement"][0]["Condition"]["StringEquals"] == {
        "sts:ExternalId": SECRET_PLACEHOLDER}
    dev = json_input(role(planned("dev-connection"), "deploy"), "assumeRolePolicy")
    assert "StringEquals" not in dev["Statement"][0]["Condition"]


@pytest.mark.parametrize("stack", CONNECTIONS)
def test_the_deploy_role_is_named_bounded_and_its_session_capped(stack: str) -> None:
    run = planned(stack)
    deploy = role(run, "deploy")
    settings = connection_settings(stack)
    assert deploy.inputs["name"] == settings["deployRoleName"]
    assert deploy.inputs["maxSessionDuration"] == settings.get("maxSessionDurationSeconds", 3600)
    boundary = run.one(POLICY, "connection-boundary")
    assert deploy.inputs["permissionsBoundary"] == boundary.state["arn"]
    assert boundary.inputs["tags"] == {POLICY_USE_TAG: "permissions-boundary"}
    document = json_input(boundary, "policy")
    denied = {s["Sid"]: s for s in document["Statement"] if s["Effect"] == "Deny"}
    account = load_stack_file(stack)["config"]["blueprints:account"]["id"]
    assert denied["ConnectionRolesUnchanged"]["Resource"] == [
        f"arn:aws:iam::{account}:role/blueprints-deploy",
        f"arn:aws:iam::{account}:role/blueprints-smoke"]
    assert f"arn:aws:iam::{account}:policy/blueprints-deploy-boundary" in denied[
        "ConnectionPoliciesUnchanged"]["Resource"]
    assert "iam:CreateAccessKey" in denied["NoLongLivedCredentials"]["Action"]


@pytest.mark.parametrize("stack", CONNECTIONS)
def test_the_deploy_policy_names_every_catalog_action_and_no_wildcard(stack: str) -> None:
    run = planned(stack)
    policies = [p for p in run.of_type(POLICY) if p.name.startswith("connection-deploy-")]
    attached = {a.inputs["policyArn"] for a in
                run.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment")}
    assert attached == {p.state["arn"] for p in policies}
    granted: set[str] = set()
    for policy in policies:
        assert policy.inputs["tags"] == {POLICY_USE_TAG: "deploy"}
        assert len("".join(policy.inputs["policy"].split())) <= MANAGED_POLICY_CHARACTERS
        for statement in statements(policy):
            assert statement["Effect"] == "Allow"
            actions = statement["Action"] if isinstance(statement["Action"], list) else [
                statement["Action"]]
            assert not [a for a in actions if "*" in a or "?" in a]
            granted |= set(actions)
            if actions == ["iam:PassRole"]:
                account = load_stack_file(stack)["config"]["blueprints:account"]["id"]
                assert statement["Resource"] == f"arn:aws:iam::{account}:role/*"
                assert statement["Condition"] == {"StringEquals": {
                    "iam:PassedToService": sorted(PASS_ROLE_SERVICES)}}
    assert granted == {*all_deploy_actions(), "iam:PassRole"}


def test_the_smoke_role_may_only_read_apis_of_its_account_and_region() -> None:
    smoke = role(planned("dev-connection"), "smoke")
    [inline] = smoke.inputs["inlinePolicies"]
    assert json.loads(inline["policy"])["Statement"] == [{
        "Effect": "Allow", "Action": ["execute-api:Invoke"],
        "Resource": "arn:aws:execute-api:eu-west-1:111122223333:*/*/GET/*"}]
    assert smoke.inputs["maxSessionDuration"] == 3600


@pytest.mark.parametrize("stack", CONNECTIONS)
def test_connection_stacks_plan_without_a_mandatory_violation(stack: str) -> None:
    verdicts = evaluate(planned(stack))
    assert [v for v in verdicts if v.level == "mandatory"] == []


@pytest.mark.parametrize("stack", CONNECTIONS)
def test_a_connection_stack_deploys_with_the_accounts_own_credentials(stack: str) -> None:
    for provider in planned(stack).of_type("pulumi:providers:aws"):
        assert provider.inputs.get("assumeRoles") in (None, [])
        assert provider.inputs["allowedAccountIds"] == [
            load_stack_file(stack)["config"]["blueprints:account"]["id"]]


def test_statements_are_packed_under_the_managed_policy_limit() -> None:
    statement = {"Effect": "Allow", "Action": [f"svc:Action{i:04d}" for i in range(100)],
                 "Resource": "*"}
    chunks = policy_chunks([statement] * 7)
    assert [len(chunk) for chunk in chunks] == [3, 3, 1]
    with pytest.raises(ValueError, match="alone exceed"):
        policy_chunks([{**statement, "Action": [f"svc:A{i:05d}" for i in range(2000)]}])


def connection_problems(**changes: Any) -> list[str]:
    settings = {**connection_settings("dev-connection"), **changes}
    with pytest.raises(ConfigError) as raised:
        run_stack("dev-connection", config_overrides={"blueprints:connection": settings})
    return raised.value.problems


def test_a_pipeline_role_of_another_account_is_refused() -> None:
    assert connection_problems(pipelineRoleArns=[
        "arn:aws:iam::123456789012:role/blueprints-pipeline-dev"]) == [
        "blueprints:connection.pipelineRoleArns[0]: is in account 123456789012, but "
        "toolingAccountId is 777788889999"]


def test_session_duration_outside_what_iam_allows_is_refused() -> None:
    [problem] = connection_problems(maxSessionDurationSeconds=60)
    assert problem.startswith("blueprints:connection.maxSessionDurationSeconds: ")
    assert "3600" in problem
    assert "43200" in problem


def test_a_connection_stack_builds_nothing_else() -> None:
    with pytest.raises(ConfigError) as raised:
        run_stack("dev-connection", config_overrides={
            "blueprints:services": {"headerVersioning": {}}})
    assert "blueprints:services: a connection stack builds nothing else; remove it" in (
        raised.value.problems)


def test_the_guardrails_read_the_tag_the_connection_writes() -> None:
    assert guardrail.POLICY_USE_TAG == POLICY_USE_TAG


def test_only_a_provisioning_statement_may_name_every_resource() -> None:
    with pytest.raises(iam.PolicyError):
        iam.allow(["sqs:CreateQueue"], "*")
    with pytest.raises(iam.PolicyError, match="no wildcard"):
        iam.allow_provisioning(["sqs:*"])
    assert iam.rendered([iam.allow_provisioning(["sqs:CreateQueue"], sid="Queues")]) == [
        {"Sid": "Queues", "Effect": "Allow", "Action": ["sqs:CreateQueue"], "Resource": "*"}]
