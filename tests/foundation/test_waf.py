"""The WebAcl block: rate limit, body size, SQL injection, managed groups, logs."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pulumi
import pytest

from components.config import Defaults
from components.foundation.validation import InvalidArgs
from components.foundation.waf import ManagedRuleGroup, WafScope, WebAcl, WebAclArgs
from tests.support import DEV, PROD
from tools.mock_runtime import StackRun

WEB_ACL = "aws:wafv2/webAcl:WebAcl"
LOGGING = "aws:wafv2/webAclLoggingConfiguration:WebAclLoggingConfiguration"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
DECODE = [{"type": "URL_DECODE", "priority": 0}, {"type": "HTML_ENTITY_DECODE", "priority": 1}]

Build = Callable[..., StackRun]


def web_acl(build: Build, args: WebAclArgs | None = None,
            defaults: Defaults = DEV) -> StackRun:
    def program(opts: pulumi.ResourceOptions) -> None:
        acl = WebAcl("orders-waf", args or WebAclArgs(), defaults, opts)
        pulumi.export("arn", acl.arn)
        pulumi.export("id", acl.id)

    return build(program)


def rules(run: StackRun) -> dict[str, dict[str, Any]]:
    return {rule["name"]: rule for rule in run.one(WEB_ACL).inputs["rules"]}


def problems_of(build: Build, **overrides: Any) -> list[str]:
    with pytest.raises(InvalidArgs) as raised:
        web_acl(build, replace(WebAclArgs(), **overrides))
    return raised.value.problems


def test_web_acl_is_regional_allows_by_default_and_is_measured(build: Build) -> None:
    run = web_acl(build)

    acl = run.one(WEB_ACL, "orders-waf-acl")
    assert acl.inputs["scope"] == "REGIONAL"
    assert acl.inputs["defaultAction"] == {"allow": {}}
    assert acl.inputs["visibilityConfig"] == {"cloudwatchMetricsEnabled": True,
                                              "metricName": "orders-waf",
                                              "sampledRequestsEnabled": True}
    assert "associationConfig" not in acl.inputs
    assert list(rules(run)) == ["rate-limit-per-ip", "max-body-size", "sql-injection"]
    assert run.warnings == []


def test_every_rule_has_metrics_and_sampled_requests(build: Build) -> None:
    run = web_acl(build, WebAclArgs(managed_rule_groups=("AWSManagedRulesCommonRuleSet",)))

    for name, rule in rules(run).items():
        assert rule["visibilityConfig"] == {"cloudwatchMetricsEnabled": True,
                                            "metricName": f"orders-waf-{name}",
                                            "sampledRequestsEnabled": True}, name


def test_rate_rule_blocks_an_ip_over_the_limit_in_five_minutes(build: Build) -> None:
    run = web_acl(build)

    rule = rules(run)["rate-limit-per-ip"]
    assert rule["priority"] == 0
    assert rule["action"] == {"block": {}}
    assert rule["statement"] == {"rateBasedStatement": {
        "limit": 2000, "aggregateKeyType": "IP", "evaluationWindowSec": 300}}


def test_body_size_rule_blocks_large_and_uninspectable_bodies(build: Build) -> None:
    run = web_acl(build)

    rule = rules(run)["max-body-size"]
    assert rule["priority"] == 1
    assert rule["action"] == {"block": {}}
    assert rule["statement"] == {"sizeConstraintStatement": {
        "comparisonOperator": "GT",
        "size": 8192,
        "fieldToMatch": {"body": {"oversizeHandling": "MATCH"}},
        "textTransformations": [{"priority": 0, "type": "NONE"}],
    }}


def test_sql_injection_is_matched_in_body_path_and_query_after_decoding(build: Build) -> None:
    run = web_acl(build)

    rule = rules(run)["sql-injection"]
    assert rule["priority"] == 2
    assert rule["action"] == {"block": {}}
    matches = [s["sqliMatchStatement"] for s in rule["statement"]["orStatement"]["statements"]]
    assert [m["fieldToMatch"] for m in matches] == [
        {"body": {"oversizeHandling": "CONTINUE"}}, {"uriPath": {}}, {"queryString": {}}]
    for match in matches:
        assert match["textTransformations"] == DECODE


def test_limits_are_arguments(build: Build) -> None:
    run = web_acl(build, WebAclArgs(rate_limit=100, max_body_bytes=1024))

    assert rules(run)["rate-limit-per-ip"]["statement"]["rateBasedStatement"]["limit"] == 100
    assert rules(run)["max-body-size"]["statement"]["sizeConstraintStatement"]["size"] == 1024


@pytest.mark.parametrize(("scope", "resource", "size", "limit"), [
    (WafScope.REGIONAL, "apiGateway", 20_000, "KB_32"),
    (WafScope.REGIONAL, "apiGateway", 65_536, "KB_64"),
    (WafScope.CLOUDFRONT, "cloudfront", 40_000, "KB_48"),
])
def test_bodies_above_16_kb_raise_the_inspection_limit(build: Build, scope: WafScope,
                                                       resource: str, size: int,
                                                       limit: str) -> None:
    run = web_acl(build, WebAclArgs(scope=scope, max_body_bytes=size))

    assert run.one(WEB_ACL).inputs["associationConfig"] == {
        "requestBodies": [{resource: {"defaultSizeInspectionLimit": limit}}]}


def test_managed_rule_groups_are_aws_groups_with_their_own_actions(build: Build) -> None:
    groups = ("AWSManagedRulesCommonRuleSet", "AWSManagedRulesKnownBadInputsRuleSet",
              ManagedRuleGroup("AWSManagedRulesSQLiRuleSet", priority=5, version="Version_2.0"))
    run = web_acl(build, WebAclArgs(managed_rule_groups=groups))

    found = rules(run)
    assert [(name, rule["priority"]) for name, rule in found.items()] == [
        ("rate-limit-per-ip", 0), ("max-body-size", 1), ("sql-injection", 2),
        ("AWSManagedRulesCommonRuleSet", 10), ("AWSManagedRulesKnownBadInputsRuleSet", 11),
        ("AWSManagedRulesSQLiRuleSet", 5)]
    common = found["AWSManagedRulesCommonRuleSet"]
    assert common["overrideAction"] == {"none": {}}
    assert "action" not in common
    assert common["statement"] == {"managedRuleGroupStatement": {
        "vendorName": "AWS", "name": "AWSManagedRulesCommonRuleSet"}}
    assert found["AWSManagedRulesSQLiRuleSet"]["statement"]["managedRuleGroupStatement"][
        "version"] == "Version_2.0"


def test_turning_sql_injection_off_warns(build: Build) -> None:
    run = web_acl(build, WebAclArgs(block_sql_injection=False))

    assert "sql-injection" not in rules(run)
    assert any("block_sql_injection" in w for w in run.warnings)


def test_logs_go_to_an_aws_waf_logs_group_with_the_stage_retention(build: Build) -> None:
    run = web_acl(build, defaults=PROD)

    group = run.one(LOG_GROUP, "orders-waf-logs")
    assert group.inputs["namePrefix"] == "aws-waf-logs-orders-waf-"
    assert group.state["name"].startswith("aws-waf-logs-")
    assert group.inputs["retentionInDays"] == 365
    logging = run.one(LOGGING, "orders-waf-logging")
    assert logging.inputs["resourceArn"] == run.one(WEB_ACL).state["arn"]
    assert logging.inputs["logDestinationConfigs"] == [group.state["arn"]]


def test_logs_redact_what_carries_credentials(build: Build) -> None:
    run = web_acl(build)

    assert run.one(LOGGING).inputs["redactedFields"] == [
        {"singleHeader": {"name": "authorization"}},
        {"singleHeader": {"name": "x-api-key"}},
        {"singleHeader": {"name": "cookie"}},
        {"queryString": {}},
    ]


def test_log_group_can_be_encrypted(build: Build) -> None:
    key = "arn:aws:kms:eu-west-1:111111111111:key/0000-1111"
    run = web_acl(build, WebAclArgs(log_kms_key_arn=key))

    assert run.one(LOG_GROUP).inputs["kmsKeyId"] == key


def test_arn_and_id_are_exposed(build: Build) -> None:
    run = web_acl(build)

    acl = run.one(WEB_ACL)
    assert run.outputs["arn"] == acl.state["arn"]
    assert run.outputs["id"] == acl.id


def test_cloudfront_scope_is_global(build: Build) -> None:
    run = web_acl(build, WebAclArgs(scope=WafScope.CLOUDFRONT))

    assert run.one(WEB_ACL).inputs["scope"] == "CLOUDFRONT"
    assert ":global/webacl/" in run.outputs["arn"]


def test_every_child_is_parented_and_named_after_the_component(build: Build) -> None:
    run = web_acl(build)

    component = run.one("blueprints:foundation:WebAcl", "orders-waf")
    children = list(run.managed())
    assert sorted(r.type for r in children) == sorted([WEB_ACL, LOG_GROUP, LOGGING])
    for resource in children:
        assert resource.parent == component.urn
        assert resource.name.startswith("orders-waf-")


def test_bad_arguments_are_all_reported(build: Build) -> None:
    problems = problems_of(build, scope="GLOBAL", rate_limit=5, max_body_bytes=0,
                           managed_rule_groups=("CommonRuleSet", "AWSManagedRulesATPRuleSet",
                                                "AWSManagedRulesCommonRuleSet",
                                                "AWSManagedRulesCommonRuleSet"))

    assert [p.split(":")[0] for p in problems] == [
        "scope", "rate_limit", "max_body_bytes", "managed_rule_groups[0]",
        "managed_rule_groups[1]", "managed_rule_groups[3]"]
    assert "10..2,000,000,000" in problems[1]
    assert "given twice" in problems[-1]


@pytest.mark.parametrize("value", [9, 2_000_000_001, True, 10.5])
def test_rate_limit_stays_within_aws_range(build: Build, value: Any) -> None:
    problems = problems_of(build, rate_limit=value)

    assert len(problems) == 1
    assert problems[0].startswith("rate_limit:")


def test_body_size_is_at_most_what_waf_can_inspect(build: Build) -> None:
    assert problems_of(build, max_body_bytes=65_537)[0].startswith("max_body_bytes:")


def test_priorities_must_be_unique(build: Build) -> None:
    problems = problems_of(build, managed_rule_groups=(
        ManagedRuleGroup("AWSManagedRulesCommonRuleSet", priority=1),
        ManagedRuleGroup("AWSManagedRulesSQLiRuleSet", priority=20),
        ManagedRuleGroup("AWSManagedRulesKnownBadInputsRuleSet", priority=20),
        ManagedRuleGroup("AWSManagedRulesAdminProtectionRuleSet", priority=-1)))

    assert problems == [
        "managed_rule_groups[3].priority: -1 must be a whole number, at least 0",
        "managed_rule_groups[0].priority: 1 is already taken by the body size rule; "
        "priorities must be unique",
        "managed_rule_groups[2].priority: 20 is already taken by managed_rule_groups[1]; "
        "priorities must be unique",
    ]


def test_automatic_priorities_skip_the_explicit_ones(build: Build) -> None:
    run = web_acl(build, WebAclArgs(managed_rule_groups=(
        ManagedRuleGroup("AWSManagedRulesSQLiRuleSet", priority=10),
        "AWSManagedRulesCommonRuleSet")))

    assert rules(run)["AWSManagedRulesCommonRuleSet"]["priority"] == 11
