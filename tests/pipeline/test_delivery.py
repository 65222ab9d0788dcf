"""The delivery pipeline, planned from Pulumi.tooling.yaml: its stages in order, the approval
before prod and only there, each stage's role and what it may assume, the artifact key's
policy, the state backend, the build projects, and the settings' mistakes."""

from __future__ import annotations

import json
from typing import Any

import pytest

from components.config import ConfigError
from components.pipeline.delivery import (
    APPROVAL_COMMENT_CHARACTERS,
    BUILD_IMAGE,
    DEPLOY_BUILDSPEC,
    TEST_BUILDSPEC,
    _sdk_version,
)
from tests.support import json_input, planned, statements
from tools.mock_runtime import StackRun, load_stack_file, reveal, run_stack
from tools.verdicts import evaluate

PIPELINE = "aws:codepipeline/pipeline:Pipeline"
PROJECT = "aws:codebuild/project:Project"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
TOOLING = "777788889999"
ACCOUNTS = {"dev": "111122223333", "prod": "444455556666"}


@pytest.fixture(scope="module")
def tooling() -> StackRun:
    return planned("tooling")


def pipeline_settings() -> dict[str, Any]:
    return dict(load_stack_file("tooling")["config"]["blueprints:pipeline"])


def stages(run: StackRun) -> list[dict[str, Any]]:
    return reveal(run.one(PIPELINE).inputs["stages"])


def actions(run: StackRun, stage: str) -> list[tuple[int, str]]:
    found = next(s for s in stages(run) if s["name"] == stage)
    return [(a.get("runOrder", 1), a["name"]) for a in found["actions"]]


def variables(action: dict[str, Any]) -> dict[str, str]:
    return {v["name"]: v["value"]
            for v in json.loads(action["configuration"]["EnvironmentVariables"])}


def role_policy(run: StackRun, name: str) -> list[dict[str, Any]]:
    return statements(run.one(ROLE_POLICY, name))


def granted(run: StackRun, name: str, action: str) -> list[Any]:
    """The resources the role policy ``name`` grants ``action`` on."""
    found = []
    for statement in role_policy(run, name):
        if action in statement["Action"]:
            resource = statement["Resource"]
            found += resource if isinstance(resource, list) else [resource]
    return found


def test_the_stages_run_source_test_then_each_target_in_order(tooling: StackRun) -> None:
    assert [s["name"] for s in stages(tooling)] == [
        "Source", "Test", "Deploy-dev", "Deploy-prod"]


def test_the_pipeline_is_v2_started_by_pushes_to_the_branch(tooling: StackRun) -> None:
    pipeline = tooling.one(PIPELINE)
    assert pipeline.inputs["pipelineType"] == "V2"
    source = pipeline_settings()["source"]
    assert pipeline.inputs["triggers"] == [{
        "providerType": "CodeStarSourceConnection",
        "gitConfiguration": {"sourceActionName": "Source",
                             "pushes": [{"branches": {"includes": ["main"]}}]}}]
    [action] = stages(tooling)[0]["actions"]
    assert action["provider"] == "CodeStarSourceConnection"
    assert action["configuration"] == {
        "ConnectionArn": source["connectionArn"], "FullRepositoryId": source["repository"],
        "BranchName": "main", "OutputArtifactFormat": "CODE_ZIP"}


def test_each_stage_previews_then_deploys_then_smoke_tests(tooling: StackRun) -> None:
    assert actions(tooling, "Deploy-dev") == [(1, "Preview"), (2, "Deploy"), (3, "Smoke")]


def test_a_failed_stage_rolls_back_to_its_last_good_commit(tooling: StackRun) -> None:
    found = {s["name"]: s.get("onFailure") for s in stages(tooling)}
    assert found == {"Source": None, "Test": None, "Deploy-dev": {"result": "ROLLBACK"},
                     "Deploy-prod": {"result": "ROLLBACK"}}


def test_a_person_approves_before_prod_and_only_there(tooling: StackRun) -> None:
    assert actions(tooling, "Deploy-prod") == [
        (1, "Preview"), (2, "Approve"), (3, "Deploy"), (4, "Smoke")]
    approvals = [(stage["name"], action) for stage in stages(tooling)
                 for action in stage["actions"] if action["category"] == "Approval"]
    assert [stage for stage, _ in approvals] == ["Deploy-prod"]
    [(_, approval)] = approvals
    topic = tooling.one("aws:sns/topic:Topic", "delivery-approvals")
    configuration = approval["configuration"]
    assert configuration["NotificationArn"] == topic.state["arn"]
    # The preview action's variables: its summary in the comment, its log as the review link.
    preview = next(a for s in stages(tooling) if s["name"] == "Deploy-prod"
                   for a in s["actions"] if a["name"] == "Preview")
    assert preview["namespace"] == "ProdPreview"
    assert "#{ProdPreview.PREVIEW_SUMMARY}" in configuration["CustomData"]
    assert "#{SourceVariables.CommitId}" in configuration["CustomData"]
    assert configuration["ExternalEntityLink"] == "#{ProdPreview.BUILD_URL}"
    # The summary is clipped to 400 characters by tools.preview_summary.
    assert len(configuration["CustomData"]) + 400 <= APPROVAL_COMMENT_CHARACTERS + 50


def test_approvers_are_subscribed_and_undelivered_mail_is_kept(tooling: StackRun) -> None:
    [subscription] = tooling.of_type("aws:sns/topicSubscription:TopicSubscription")
    assert subscription.inputs["protocol"] == "email"
    assert subscription.inputs["endpoint"] == pipeline_settings()["approvers"][0]
    assert "deadLetterTargetArn" in json_input(subscription, "redrivePolicy")


def test_each_deploy_action_runs_its_stage_stacks_with_that_accounts_roles(
        tooling: StackRun) -> None:
    expected = {"dev": "dev", "prod": "prod-env prod"}
    for stage, stacks in expected.items():
        found = next(s for s in stages(tooling) if s["name"] == f"Deploy-{stage}")
        builds = [a for a in found["actions"] if a["category"] == "Build"]
        assert [variables(a)["DEPLOY_STEP"] for a in builds] == ["preview", "up", "smoke"]
        for build in builds:
            assert build["configuration"]["ProjectName"] == f"blueprints-{stage}"
            assert variables(build)["STACKS"] == stacks
            assert variables(build)["SMOKE_STACK"] == stacks.split()[-1]
            assert variables(build)["SMOKE_ROLE_ARN"] == (
                f"arn:aws:iam::{ACCOUNTS[stage]}:role/blueprints-smoke")


def test_a_stage_role_may_assume_its_accounts_roles_and_no_other(tooling: StackRun) -> None:
    for stage, account in ACCOUNTS.items():
        role = tooling.one("aws:iam/role:Role", f"delivery-{stage}")
        assert role.inputs["name"] == f"blueprints-pipeline-{stage}"
        assert sorted(granted(tooling, f"delivery-{stage}", "sts:AssumeRole")) == [
            f"arn:aws:iam::{account}:role/blueprints-deploy",
            f"arn:aws:iam::{account}:role/blueprints-smoke"]
    assert granted(tooling, "delivery-test", "sts:AssumeRole") == []


def test_the_connection_stacks_trust_the_stage_roles_the_pipeline_makes(
        tooling: StackRun) -> None:
    roles = tooling.outputs["stageRoleArns"]
    for stage in ACCOUNTS:
        trusted = load_stack_file(f"{stage}-connection")["config"]["blueprints:connection"]
        assert trusted["pipelineRoleArns"] == [roles[stage]]
        assert trusted["toolingAccountId"] == TOOLING


def test_the_artifact_key_policy_names_exactly_the_target_deploy_roles(
        tooling: StackRun) -> None:
    key = tooling.one("aws:kms/key:Key", "delivery-key")
    assert key.inputs["enableKeyRotation"] is True
    document = json_input(key, "policy")
    cross = [s for s in document["Statement"] if s["Sid"] == "TargetAccountsReadArtifacts"]
    assert cross == [{
        "Sid": "TargetAccountsReadArtifacts", "Effect": "Allow",
        "Principal": {"AWS": [f"arn:aws:iam::{a}:role/blueprints-deploy"
                              for a in sorted(ACCOUNTS.values())]},
        "Action": ["kms:Decrypt", "kms:DescribeKey"], "Resource": "*",
        "Condition": {"StringEquals": {"kms:ViaService": "s3.eu-west-1.amazonaws.com"}}}]
    others = {json.dumps(s["Principal"]) for s in document["Statement"]
              if s["Sid"] != "TargetAccountsReadArtifacts"}
    assert others == {json.dumps({"AWS": f"arn:aws:iam::{TOOLING}:root"}),
                      json.dumps({"Service": "logs.eu-west-1.amazonaws.com"})}
    policy = tooling.one("aws:s3/bucketPolicy:BucketPolicy", "delivery-artifacts-policy")
    bucket = tooling.one("aws:s3/bucket:Bucket", "delivery-artifacts-bucket")
    readers = [s for s in statements(policy, "policy") if s["Effect"] == "Allow"]
    assert readers == [{
        "Effect": "Allow", "Action": ["s3:GetObject"], "Resource": f"{bucket.state['arn']}/*",
        "Principal": {"AWS": [f"arn:aws:iam::{a}:role/blueprints-deploy"
                              for a in sorted(ACCOUNTS.values())]}}]
    store = reveal(tooling.one(PIPELINE).inputs["artifactStores"])[0]
    assert store["encryptionKey"] == {"id": key.state["arn"], "type": "KMS"}


def test_build_projects_use_the_pipeline_key_and_keep_logs(tooling: StackRun) -> None:
    key = tooling.one("aws:kms/key:Key", "delivery-key").state["arn"]
    projects = {p.inputs["name"]: p for p in tooling.of_type(PROJECT)}
    assert sorted(projects) == ["blueprints-dev", "blueprints-prod", "blueprints-test"]
    for name, project in projects.items():
        assert project.inputs["encryptionKey"] == key
        assert project.inputs["environment"]["image"] == BUILD_IMAGE
        assert project.inputs["environment"]["privilegedMode"] is False
        assert project.inputs["source"]["buildspec"] == (
            TEST_BUILDSPEC if name == "blueprints-test" else DEPLOY_BUILDSPEC)
        group = project.inputs["logsConfig"]["cloudwatchLogs"]["groupName"]
        log_group = next(g for g in tooling.of_type("aws:cloudwatch/logGroup:LogGroup")
                         if g.inputs["name"] == group)
        assert log_group.inputs["retentionInDays"] == 365
        assert log_group.inputs["kmsKeyId"] == key
        deploy = name != "blueprints-test"
        assert project.inputs.get("concurrentBuildLimit") == (1 if deploy else None)
        environment = {v["name"]: v["value"]
                       for v in project.inputs["environment"].get("environmentVariables", [])}
        if deploy:
            assert environment["PULUMI_VERSION"] == _sdk_version()
            assert environment["PULUMI_BACKEND_URL"].startswith("s3://")


def test_the_s3_state_backend_is_encrypted_kept_and_reachable_by_deploys_only(
        tooling: StackRun) -> None:
    key = tooling.one("aws:kms/key:Key", "delivery-state-key")
    assert key.protect
    bucket = tooling.one("aws:s3/bucket:Bucket", "delivery-state-bucket")
    assert bucket.protect
    assert tooling.outputs["secretsProvider"] == (
        "awskms://alias/blueprints/pulumi-state?region=eu-west-1")
    assert tooling.outputs["stateBackendUrl"] == f"s3://{bucket.state['bucket']}?region=eu-west-1"
    for stage in ACCOUNTS:
        assert granted(tooling, f"delivery-{stage}", "s3:PutObject") == [
            f"{bucket.state['arn']}/*"]
    assert granted(tooling, "delivery-test", "s3:PutObject") == []


def test_the_pipeline_role_starts_only_its_builds_and_uses_only_its_connection(
        tooling: StackRun) -> None:
    projects = sorted(p.state["arn"] for p in tooling.of_type(PROJECT))
    assert sorted(granted(tooling, "delivery-pipeline", "codebuild:StartBuild")) == projects
    assert granted(tooling, "delivery-pipeline", "codeconnections:UseConnection") == [
        pipeline_settings()["source"]["connectionArn"]]


def test_the_tooling_stack_plans_without_a_mandatory_violation(tooling: StackRun) -> None:
    assert [v for v in evaluate(tooling) if v.level == "mandatory"] == []


def pipeline_problems(**changes: Any) -> list[str]:
    settings = {**pipeline_settings(), **changes}
    with pytest.raises(ConfigError) as raised:
        run_stack("tooling", config_overrides={"blueprints:pipeline": settings})
    return raised.value.problems


def test_prod_cannot_skip_its_approval() -> None:
    stages_ = pipeline_settings()["stages"]
    assert pipeline_problems(stages=[stages_[0], {**stages_[1], "approval": False}]) == [
        "blueprints:pipeline.stages[1].approval: prod is deployed only after a person "
        "approves; remove approval: false"]


def test_a_stage_stack_must_exist_and_deploy_to_the_stage_account() -> None:
    stages_ = pipeline_settings()["stages"]
    found = pipeline_problems(stages=[
        {**stages_[0], "stacks": ["dev", "staging"]},
        {**stages_[1], "accountId": "123456789012"}])
    assert found == [
        "blueprints:pipeline.stages[0].stacks[1]: there is no Pulumi.staging.yaml in the "
        "project",
        "blueprints:pipeline.stages[1].stacks[0]: Pulumi.prod-env.yaml deploys to account "
        "444455556666, not 123456789012",
        "blueprints:pipeline.stages[1].stacks[1]: Pulumi.prod.yaml deploys to account "
        "444455556666, not 123456789012"]


def test_pulumi_cloud_needs_its_token_and_a_bad_connection_arn_is_named() -> None:
    found = pipeline_problems(stateBackend={"kind": "pulumi-cloud"},
                              source={**pipeline_settings()["source"], "connectionArn": "x"})
    assert sorted(found) == [
        "blueprints:pipeline.source.connectionArn: 'x' is not a CodeConnections connection "
        "ARN (arn:aws:codeconnections:<region>:<account>:connection/<id>)",
        "blueprints:pipeline.stateBackend.accessTokenSecretArn: is required for pulumi-cloud"]


def test_with_pulumi_cloud_the_token_comes_from_secrets_manager() -> None:
    secret = "arn:aws:secretsmanager:eu-west-1:777788889999:secret:pulumi-token-AbCdEf"
    run = run_stack("tooling", config_overrides={"blueprints:pipeline": {
        **pipeline_settings(), "stateBackend": {"kind": "pulumi-cloud",
                                                "accessTokenSecretArn": secret}}})
    project = run.one(PROJECT, "delivery-prod")
    assert {"name": "PULUMI_ACCESS_TOKEN", "value": secret, "type": "SECRETS_MANAGER"} in (
        project.inputs["environment"]["environmentVariables"])
    assert granted(run, "delivery-prod", "secretsmanager:GetSecretValue") == [secret]
    assert not run.of_type("aws:s3/bucket:Bucket") or all(
        not b.name.startswith("delivery-state") for b in run.of_type("aws:s3/bucket:Bucket"))


def test_a_stage_stack_must_assume_the_deploy_role_the_pipeline_may() -> None:
    assert pipeline_problems(deployRoleName="platform-deploy") == [
        f"blueprints:pipeline.stages[{i}].stacks[{j}]: Pulumi.{stack}.yaml assumes "
        f"arn:aws:iam::{account}:role/blueprints-deploy, but the pipeline's stage may only "
        "assume platform-deploy (deployRoleName)"
        for i, j, stack, account in [(0, 0, "dev", ACCOUNTS["dev"]),
                                     (1, 0, "prod-env", ACCOUNTS["prod"]),
                                     (1, 1, "prod", ACCOUNTS["prod"])]]
