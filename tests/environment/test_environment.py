"""The environment as a whole: key, cluster, namespace, API Gateway logging role, and how every
child is wired (parent, provider, names, protection)."""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Callable
from dataclasses import replace

import pulumi
import pytest

from components.config import Defaults, EnvironmentSettings
from components.environment import Environment, EnvironmentArgs
from tests.support import ACCOUNT, DEV, PROD, REGION, statements
from tools.mock_runtime import StackRun

Build = Callable[..., StackRun]

KEY = "aws:kms/key:Key"
ALIAS = "aws:kms/alias:Alias"
CLUSTER = "aws:ecs/cluster:Cluster"
NAMESPACE = "aws:servicediscovery/privateDnsNamespace:PrivateDnsNamespace"
ROLE = "aws:iam/role:Role"
ATTACHMENT = "aws:iam/rolePolicyAttachment:RolePolicyAttachment"
API_ACCOUNT = "aws:apigateway/account:Account"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
VPC = "aws:ec2/vpc:Vpc"
COMPONENTS = ("blueprints:environment:Environment", "blueprints:environment:Network")

SETTINGS = EnvironmentSettings(vpc_cidr=ipaddress.IPv4Network("10.20.0.0/16"),
                               availability_zones=2, nat_gateways=1)


def environment(build: Build, defaults: Defaults) -> StackRun:
    return build(lambda opts: Environment(defaults.stage, EnvironmentArgs(SETTINGS), defaults,
                                          opts))


@pytest.fixture
def dev(build: Build) -> StackRun:
    return environment(build, DEV)


@pytest.fixture
def prod(build: Build) -> StackRun:
    return environment(build, PROD)


def key_statements(run: StackRun) -> dict[str, dict]:
    return {s["Sid"]: s for s in statements(run.one(KEY))}


def test_key_rotates_and_waits_the_stage_window_before_deletion(dev: StackRun,
                                                               prod: StackRun) -> None:
    for run, window in ((dev, 7), (prod, 30)):
        key = run.one(KEY)
        assert key.inputs["enableKeyRotation"] is True
        assert key.inputs["deletionWindowInDays"] == window
        assert not key.inputs.get("bypassPolicyLockoutSafetyCheck")


def test_key_policy_names_every_action(dev: StackRun) -> None:
    actions = [a for s in statements(dev.one(KEY)) for a in s["Action"]]
    assert actions
    assert all(a.startswith("kms:") and "*" not in a for a in actions)


def test_account_administers_and_uses_the_key_through_iam(dev: StackRun) -> None:
    found = key_statements(dev)
    root = {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}
    admin, use = found["AccountAdministersKey"], found["AccountUsesKey"]
    assert admin["Principal"] == use["Principal"] == root
    assert {"kms:PutKeyPolicy", "kms:ScheduleKeyDeletion", "kms:EnableKeyRotation",
            "kms:CreateAlias"} <= set(admin["Action"])
    assert not {"kms:Encrypt", "kms:Decrypt"} & set(admin["Action"])
    assert {"kms:Encrypt", "kms:Decrypt", "kms:ReEncryptFrom", "kms:ReEncryptTo",
            "kms:GenerateDataKey", "kms:DescribeKey"} <= set(use["Action"])
    assert "Condition" not in admin
    assert "Condition" not in use


def test_cloudwatch_logs_may_use_the_key_only_for_this_accounts_log_groups(dev: StackRun) -> None:
    found = key_statements(dev)
    assert set(found) == {"AccountAdministersKey", "AccountUsesKey",
                          "CloudWatchLogsEncryptsLogGroups",
                          "CloudWatchAlarmsPublishToEncryptedTopics",
                          "EventBridgePublishesFindingsToEncryptedTopics"}
    logs = found["CloudWatchLogsEncryptsLogGroups"]
    assert logs["Principal"] == {"Service": f"logs.{REGION}.amazonaws.com"}
    assert set(logs["Action"]) == {
        "kms:Encrypt", "kms:Decrypt", "kms:ReEncryptFrom", "kms:ReEncryptTo",
        "kms:GenerateDataKey", "kms:GenerateDataKeyWithoutPlaintext"}
    # The IAM service authorization reference: the KMS actions whose requests carry an
    # encryption context. Any other action under this condition could never be allowed.
    assert set(logs["Action"]) <= {
        "kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:GenerateDataKeyPair",
        "kms:GenerateDataKeyPairWithoutPlaintext", "kms:GenerateDataKeyWithoutPlaintext",
        "kms:ReEncryptFrom", "kms:ReEncryptTo", "kms:CreateGrant", "kms:RetireGrant"}
    assert logs["Condition"] == {"ArnLike": {
        "kms:EncryptionContext:aws:logs:arn": f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:*"}}


def test_key_has_a_stage_alias(dev: StackRun) -> None:
    alias = dev.one(ALIAS)
    assert alias.inputs["name"] == "alias/blueprints/dev"
    assert alias.inputs["targetKeyId"] == dev.one(KEY).state["keyId"]


def test_prod_protects_the_key_and_the_flow_logs(dev: StackRun, prod: StackRun) -> None:
    assert prod.one(KEY).protect is True
    assert prod.one(LOG_GROUP).protect is True
    assert dev.one(KEY).protect is False
    assert dev.one(LOG_GROUP).protect is False
    protected = [r.name for r in prod.managed() if r.protect]
    assert sorted(protected) == ["prod-findings-undelivered-dlq",
                                 "prod-findings-undelivered-queue", "prod-key",
                                 "prod-network-flow-logs"]


def test_cluster_has_enhanced_container_insights(dev: StackRun) -> None:
    assert dev.one(CLUSTER, "dev-cluster").inputs["settings"] == [
        {"name": "containerInsights", "value": "enhanced"}]


def test_the_task_execution_role_trusts_this_accounts_ecs_tasks_and_grants_nothing(
        dev: StackRun) -> None:
    role = dev.one(ROLE, "dev-task-execution")
    [trust] = statements(role, "assumeRolePolicy")
    assert trust["Principal"] == {"Service": "ecs-tasks.amazonaws.com"}
    assert trust["Condition"] == {"StringEquals": {"aws:SourceAccount": "111111111111"}}
    assert [r for r in dev.resources if r.inputs.get("role") in (role.id, role.state["name"])] \
        == []  # services attach their own least-privilege policies


def test_namespace_is_private_to_the_vpc(dev: StackRun) -> None:
    namespace = dev.one(NAMESPACE, "dev-namespace")
    assert namespace.inputs["name"] == "dev.blueprints.internal"
    assert namespace.inputs["vpc"] == dev.one(VPC).id


def test_api_gateway_account_can_push_logs(dev: StackRun) -> None:
    role = dev.one(ROLE, "dev-apigateway-logs")
    [trust] = statements(role, "assumeRolePolicy")
    assert trust["Principal"] == {"Service": "apigateway.amazonaws.com"}
    assert trust["Action"] == "sts:AssumeRole"
    attachment = dev.one(ATTACHMENT)
    assert attachment.inputs["role"] == role.state["name"]
    assert attachment.inputs["policyArn"] == (
        "arn:aws:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs")
    account = dev.one(API_ACCOUNT)
    assert account.inputs["cloudwatchRoleArn"] == role.state["arn"]
    assert attachment.urn in account.dependencies


def test_every_child_is_parented_inside_the_environment(dev: StackRun) -> None:
    environment = dev.one("blueprints:environment:Environment", "dev")
    network = dev.one("blueprints:environment:Network", "dev-network")
    assert network.parent == environment.urn
    inside = {environment.urn, network.urn,
              *(r.urn for r in dev.of_type("blueprints:foundation:Queue")
                if r.parent == environment.urn)}
    children = [r for r in dev.resources
                if r.urn != environment.urn and not r.type.startswith("pulumi:providers:")]
    assert len(children) > 30
    assert [r.name for r in children if r.parent not in inside] == []
    assert all(r.name.startswith("dev-") for r in children)


def test_every_child_uses_the_callers_provider(dev: StackRun) -> None:
    provider = dev.one("pulumi:providers:aws", "test-provider")
    managed = list(dev.managed())
    assert managed
    assert [r.name for r in managed if r.provider_urn != provider.urn] == []


def test_two_environments_do_not_collide(build: Build) -> None:
    def program(opts: pulumi.ResourceOptions) -> None:
        Environment("blue", EnvironmentArgs(SETTINGS), DEV, opts)
        Environment("green", EnvironmentArgs(SETTINGS), DEV, opts)

    run = build(program)
    assert len(run.of_type(VPC)) == 2
    assert {r.type for r in run.resources if r.name.startswith("blue")} == {
        r.type for r in run.resources if r.name.startswith("green")}


def test_unused_access_findings_reach_the_alarm_topic(dev: StackRun) -> None:
    analyzer = dev.one("aws:accessanalyzer/analyzer:Analyzer")
    assert analyzer.inputs["type"] == "ACCOUNT_UNUSED_ACCESS"
    assert analyzer.inputs["configuration"] == {"unusedAccess": {"unusedAccessAge": 90}}
    rule = dev.one("aws:cloudwatch/eventRule:EventRule", "dev-unused-access")
    assert json.loads(rule.inputs["eventPattern"]) == {
        "source": ["aws.access-analyzer"],
        "detail-type": ["Unused Access Finding for IAM entities"]}
    topic = dev.one("aws:sns/topic:Topic", "dev-alarms")
    target = dev.one("aws:cloudwatch/eventTarget:EventTarget", "dev-unused-access")
    assert target.inputs["arn"] == topic.state["arn"]
    assert target.inputs["rule"] == rule.state["name"]
    dlq = dev.one("aws:sqs/queue:Queue", "dev-findings-undelivered-queue")
    assert target.inputs["deadLetterConfig"] == {"arn": dlq.state["arn"]}
    assert "<type> on <resource>" in target.inputs["inputTransformer"]["inputTemplate"]
    policy = json.loads(dev.one("aws:sns/topicPolicy:TopicPolicy", "dev-alarms-policy")
                        .inputs["policy"])
    assert {"Effect": "Allow", "Action": ["sns:Publish"], "Resource": topic.state["arn"],
            "Principal": {"Service": "events.amazonaws.com"},
            "Condition": {"ArnEquals": {"aws:SourceArn": rule.state["arn"]}}} in (
        policy["Statement"])
    events = key_statements(dev)["EventBridgePublishesFindingsToEncryptedTopics"]
    assert events["Principal"] == {"Service": "events.amazonaws.com"}
    assert sorted(events["Action"]) == ["kms:Decrypt", "kms:GenerateDataKey"]


def test_an_environment_may_leave_the_analyzer_to_another(build: Build) -> None:
    settings = replace(SETTINGS, unused_access_days=0)
    run = build(lambda opts: Environment("dev", EnvironmentArgs(settings), DEV, opts))
    assert not run.of_type("aws:accessanalyzer/analyzer:Analyzer")
    assert not run.of_type("aws:cloudwatch/eventTarget:EventTarget")
