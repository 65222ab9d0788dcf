"""The UsagePlans block: a plan per tier on a stage, a key per consumer, secret key values."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pulumi
import pytest

from components.foundation.usage_plans import (
    ApiKeySpec,
    MethodThrottle,
    QuotaPeriod,
    UsagePlans,
    UsagePlansArgs,
    UsagePlanTier,
)
from components.foundation.validation import InvalidArgs
from tests.support import DEV
from tools.mock_runtime import Secret, StackRun

USAGE_PLAN = "aws:apigateway/usagePlan:UsagePlan"
API_KEY = "aws:apigateway/apiKey:ApiKey"
USAGE_PLAN_KEY = "aws:apigateway/usagePlanKey:UsagePlanKey"
KEY_VALUE = "k3yFromASecretStore0123456789"

FREE = UsagePlanTier(rate_limit=5, burst_limit=10, quota_limit=1000)
PREMIUM = UsagePlanTier(
    rate_limit=100, burst_limit=200, quota_limit=1_000_000, quota_period=QuotaPeriod.MONTH,
    method_throttles={"/customizations/POST": MethodThrottle(rate_limit=20, burst_limit=40),
                      "/customizations/{id}/GET": MethodThrottle(rate_limit=50, burst_limit=80)})

Build = Callable[..., StackRun]


def plans_args(**overrides: Any) -> UsagePlansArgs:
    """Two tiers and two consumers; builds a secret, so it runs inside a program."""
    args = UsagePlansArgs(
        rest_api_id="a1b2c3d4e5", stage_name="dev",
        tiers={"free": FREE, "premium": PREMIUM},
        keys=(ApiKeySpec("trial-partner", "free"),
              ApiKeySpec("wild-rydes", "premium", pulumi.Output.secret(KEY_VALUE))))
    return replace(args, **overrides)


def usage_plans(build: Build, **overrides: Any) -> StackRun:
    def program(opts: pulumi.ResourceOptions) -> None:
        plans = UsagePlans("api-plans", plans_args(**overrides), DEV, opts)
        for consumer, value in plans.key_values.items():
            pulumi.export(f"key/{consumer}", value)
        pulumi.export("planIds", {tier: plan.id for tier, plan in plans.plans.items()})

    return build(program)


def problems_of(build: Build, **overrides: Any) -> list[str]:
    with pytest.raises(InvalidArgs) as raised:
        usage_plans(build, **overrides)
    return raised.value.problems


def test_one_plan_per_tier_on_the_stage(build: Build) -> None:
    run = usage_plans(build)

    free = run.one(USAGE_PLAN, "api-plans-free")
    assert free.inputs["apiStages"] == [{"apiId": "a1b2c3d4e5", "stage": "dev"}]
    assert free.inputs["throttleSettings"] == {"rateLimit": 5, "burstLimit": 10}
    assert free.inputs["quotaSettings"] == {"limit": 1000, "period": "DAY"}
    assert run.outputs["planIds"] == {"free": free.id,
                                      "premium": run.one(USAGE_PLAN, "api-plans-premium").id}


def test_method_throttles_use_api_gateway_method_paths(build: Build) -> None:
    run = usage_plans(build)

    premium = run.one(USAGE_PLAN, "api-plans-premium")
    assert premium.inputs["throttleSettings"] == {"rateLimit": 100, "burstLimit": 200}
    assert premium.inputs["quotaSettings"] == {"limit": 1_000_000, "period": "MONTH"}
    assert premium.inputs["apiStages"] == [{
        "apiId": "a1b2c3d4e5", "stage": "dev",
        "throttles": [
            {"path": "/customizations/POST", "rateLimit": 20, "burstLimit": 40},
            {"path": "/customizations/{id}/GET", "rateLimit": 50, "burstLimit": 80},
        ]}]


def test_a_tier_without_quota_has_none(build: Build) -> None:
    run = usage_plans(build, tiers={"free": replace(FREE, quota_limit=None)},
                                        keys=())

    assert "quotaSettings" not in run.one(USAGE_PLAN).inputs


def test_quota_period_may_be_given_as_text(build: Build) -> None:
    run = usage_plans(build, tiers={"free": replace(FREE, quota_period="WEEK")},
                                        keys=())

    assert run.one(USAGE_PLAN).inputs["quotaSettings"]["period"] == "WEEK"


def test_a_given_key_value_is_a_secret_input(build: Build) -> None:
    run = usage_plans(build)

    key = run.one(API_KEY, "api-plans-wild-rydes-key")
    assert key.inputs["name"] == "wild-rydes"
    assert key.inputs["enabled"] is True
    assert isinstance(key.inputs["value"], Secret)
    assert key.inputs["value"].value == KEY_VALUE
    assert "[secret]" in repr(key.inputs)


def test_a_literal_key_value_is_made_secret_too(build: Build) -> None:
    run = usage_plans(build, keys=(ApiKeySpec("wild-rydes", "premium", KEY_VALUE),))

    assert isinstance(run.one(API_KEY).inputs["value"], Secret)


def test_a_generated_key_has_no_value_input(build: Build) -> None:
    run = usage_plans(build)

    key = run.one(API_KEY, "api-plans-trial-partner-key")
    assert key.inputs["name"] == "trial-partner"
    assert key.inputs["enabled"] is True
    assert "value" not in key.inputs


def test_key_values_are_secret_outputs(build: Build) -> None:
    run = usage_plans(build)

    values = {name.removeprefix("key/"): value for name, value in run.outputs.items()
              if name.startswith("key/")}
    assert set(values) == {"trial-partner", "wild-rydes"}
    assert all(isinstance(value, Secret) for value in values.values())
    assert values["wild-rydes"].value == KEY_VALUE


def test_each_key_joins_its_tier_plan(build: Build) -> None:
    run = usage_plans(build)

    for consumer, tier in (("trial-partner", "free"), ("wild-rydes", "premium")):
        link = run.one(USAGE_PLAN_KEY, f"api-plans-{consumer}-plan-key")
        assert link.inputs["keyType"] == "API_KEY"
        assert link.inputs["keyId"] == run.one(API_KEY, f"api-plans-{consumer}-key").id
        assert link.inputs["usagePlanId"] == run.one(USAGE_PLAN, f"api-plans-{tier}").id


def test_every_child_is_parented_and_named_after_the_component(build: Build) -> None:
    run = usage_plans(build)

    component = run.one("blueprints:foundation:UsagePlans", "api-plans")
    children = list(run.managed())
    assert len(children) == 6
    for resource in children:
        assert resource.parent == component.urn
        assert resource.name.startswith("api-plans-")


def test_bad_tiers_are_all_reported(build: Build) -> None:
    tiers = {
        "Gold Tier": FREE,
        "free": UsagePlanTier(rate_limit=0, burst_limit=0, quota_limit=0, quota_period="YEAR"),
        "premium": replace(PREMIUM, method_throttles={
            "customizations/POST": MethodThrottle(1, 1),
            "/customizations/FETCH": MethodThrottle(1, 1),
            "/customizations/*": MethodThrottle(1, 1),
            "/customizations/GET": MethodThrottle(-1, True)}),
    }
    problems = problems_of(build, tiers=tiers, keys=())

    assert [p.split(": ")[0] for p in problems] == [
        "tiers",
        "tiers['free'].rate_limit", "tiers['free'].burst_limit", "tiers['free'].quota_limit",
        "tiers['free'].quota_period",
        "tiers['premium'].method_throttles", "tiers['premium'].method_throttles",
        "tiers['premium'].method_throttles",
        "tiers['premium'].method_throttles['/customizations/GET'].rate_limit",
        "tiers['premium'].method_throttles['/customizations/GET'].burst_limit",
    ]
    assert "'customizations/POST' is not a method as API Gateway names it" in problems[5]
    assert "DAY, WEEK, MONTH" in problems[4]


def test_bad_keys_are_all_reported(build: Build) -> None:
    keys = (ApiKeySpec("partner", "gold"), ApiKeySpec("partner", "free"),
            ApiKeySpec("Bad Name", "free"), ApiKeySpec("short", "free", "too-short"))
    problems = problems_of(build, keys=keys)

    assert problems == [
        "keys[0].tier: 'gold' is not a tier; tiers: free, premium",
        "keys[1].consumer: 'partner' already has a key; consumers must be unique",
        "keys[2].consumer: 'Bad Name' must be 1 to 63 lower-case letters, digits and hyphens, "
        "starting with a letter",
        "keys[3].value: must be 20 to 128 letters and digits",
    ]
    assert "too-short" not in " ".join(problems)


def test_at_least_one_tier_is_needed(build: Build) -> None:
    assert problems_of(build, tiers={}, keys=()) == ["tiers: name at least one tier"]


@pytest.mark.parametrize("path", ["//GET", "/items/ANY", "/items/{proxy+}/DELETE",
                                  "/v1/orders/{orderId}/lines/PATCH"])
def test_method_paths_api_gateway_accepts(build: Build, path: str) -> None:
    tier = replace(FREE, method_throttles={path: MethodThrottle(1, 1)})
    run = usage_plans(build, tiers={"free": tier}, keys=())

    assert run.one(USAGE_PLAN).inputs["apiStages"][0]["throttles"][0]["path"] == path
