"""No rule ever raises: not on missing properties, unknown values, or strings that do not parse.

Every rule meets every resource type the project creates (the stacks, the foundation blocks and
the fixtures), with its recorded properties, with none, with every value unknown (as in a
preview), and with properties scrambled at random (wrong types, JSON that does not parse).
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Iterator
from functools import cache
from typing import Any

import pulumi
import pulumi_aws as aws
import pytest
from pulumi_policy import (
    PolicyCustomTimeouts,
    PolicyProviderResource,
    PolicyResource,
    PolicyResourceOptions,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE, unknown_checking_proxy

from policy.guardrails import POLICIES
from tests.policy.blocks_program import program as blocks_program
from tests.policy.fixture_support import FIXTURES, run_fixture
from tests.support import planned
from tools.mock_runtime import Resource, StackConfig, reveal, run_program, stack_names

SEED = 20261126
ODD_VALUES: tuple[Any, ...] = (
    None, "", "{not json", "[1, 2", "*", 0, -1, 1.5, True, [], {}, [None], {"": None},
    ["*"], {"Statement": "nope"}, {"Statement": [{"Effect": None, "Action": 3}]},
    UNKNOWN_STRING_VALUE, [UNKNOWN_STRING_VALUE], {"x": UNKNOWN_STRING_VALUE},
)


@cache
def sample_resources() -> tuple[Resource, ...]:
    """One recorded resource of every type the project creates."""
    runs = [planned(stack) for stack in stack_names()]

    def blocks() -> None:
        provider = aws.Provider("blocks", region="eu-west-1")
        blocks_program(pulumi.ResourceOptions(provider=provider))

    config = StackConfig({"aws:region": "eu-west-1",
                          "blueprints:account": json.dumps({"id": "111122223333"})}, ())
    runs.append(run_program(blocks, config=config))
    runs += [run_fixture(path)[0] for path in sorted(FIXTURES.glob("*.py"))]
    by_type: dict[str, Resource] = {}
    for run in runs:
        for resource in run.resources:
            by_type.setdefault(resource.type, resource)
    return tuple(by_type.values())


def unknown_everywhere(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: unknown_everywhere(v) for k, v in value.items()}
    if isinstance(value, list):
        return [unknown_everywhere(v) for v in value]
    return UNKNOWN_STRING_VALUE


def scrambled(value: Any, rng: random.Random) -> Any:
    if isinstance(value, dict) and rng.random() < 0.7:
        return {k: scrambled(v, rng) for k, v in value.items()}
    if isinstance(value, list) and rng.random() < 0.7:
        return [scrambled(v, rng) for v in value]
    return rng.choice(ODD_VALUES) if rng.random() < 0.6 else value


def variants(props: dict[str, Any]) -> Iterator[tuple[str, Any]]:
    yield "recorded", props
    yield "empty", {}
    yield "unknown", unknown_everywhere(props)
    yield "top-level-unknown", {k: UNKNOWN_STRING_VALUE for k in props}
    rng = random.Random(SEED)  # noqa: S311 (repeatable test data, not secrets)
    for i in range(8):
        yield f"scrambled-{i}", scrambled(props, rng)


def _options(protect: Any = False) -> PolicyResourceOptions:
    return PolicyResourceOptions(protect=protect, ignore_changes=[], delete_before_replace=None,
                                 aliases=[], custom_timeouts=PolicyCustomTimeouts(0, 0, 0),
                                 additional_secret_outputs=[])


def _provider(props: Any) -> PolicyProviderResource:
    return PolicyProviderResource("pulumi:providers:aws", unknown_checking_proxy(props),
                                  "urn:pulumi:test::p::pulumi:providers:aws::p", "p")


PROVIDER_VARIANTS: tuple[Any, ...] = (
    {}, {"defaultTags": "{broken"}, {"defaultTags": {"tags": UNKNOWN_STRING_VALUE}},
    {"defaultTags": json.dumps({"tags": {"owner": "a", "environment": "prod"}})},
)


def never_raises(call: Callable[[], Any], what: str) -> None:
    try:
        call()
    except Exception as error:  # noqa: BLE001 (the failure names the rule and the input)
        pytest.fail(f"{what} raised {type(error).__name__}: {error}")


RESOURCE_POLICIES = [p for p in POLICIES if isinstance(p, ResourceValidationPolicy)]
STACK_POLICIES = [p for p in POLICIES if isinstance(p, StackValidationPolicy)]


@pytest.mark.parametrize("policy", RESOURCE_POLICIES, ids=lambda p: p.name)
def test_resource_rules_never_raise(policy: ResourceValidationPolicy) -> None:
    for resource in sample_resources():
        for label, props in variants(reveal(dict(resource.inputs))):
            for provider in PROVIDER_VARIANTS:
                args = ResourceValidationArgs(
                    resource.type, unknown_checking_proxy(json.loads(json.dumps(
                        props, default=str))), resource.urn, resource.name, _options(),
                    _provider(provider), {})
                never_raises(lambda args=args: policy.validate(args, lambda m, u=None: None),
                             f"{policy.name} on {resource.type} ({label}, provider {provider})")


@pytest.mark.parametrize("policy", STACK_POLICIES, ids=lambda p: p.name)
def test_stack_rules_never_raise(policy: StackValidationPolicy) -> None:
    samples = sample_resources()
    rng = random.Random(SEED)  # noqa: S311 (repeatable test data, not secrets)
    for label in ("recorded", "empty", "unknown", "scrambled"):
        resources = []
        for resource in samples:
            props = reveal({**resource.inputs, **resource.state})
            props = dict(variants(props))["scrambled-0" if label == "scrambled" else label]
            resources.append(PolicyResource(
                resource.type, unknown_checking_proxy(json.loads(json.dumps(props, default=str))),
                resource.urn, resource.name, _options(rng.choice((True, False, None))),
                _provider(rng.choice(PROVIDER_VARIANTS)), None, [], {}))
        # Link every property to random other resources, so that every lookup finds something.
        for resource in resources:
            resource.parent = rng.choice([*resources, None])
            resource.property_dependencies = {
                key: rng.sample(resources, k=min(2, len(resources)))
                for key in list(resource.props)[:6]}
        args = StackValidationArgs(resources, {})
        never_raises(lambda args=args: policy.validate(args, lambda m, u=None: None),
                     f"{policy.name} over a {label} stack")


def test_the_samples_cover_the_project_and_fixture_types() -> None:
    types = {r.type for r in sample_resources()}
    assert {"aws:lambda/function:Function", "aws:apigatewayv2/stage:Stage",
            "aws:sqs/queue:Queue", "aws:s3/bucket:Bucket", "aws:ec2/vpc:Vpc",
            "aws:kms/key:Key"} <= types
