"""The pack run offline: exact verdicts on a bad stack, levels from config, the plan's gate."""

from __future__ import annotations

import inspect
import json
import re
from functools import cache
from pathlib import Path

import pulumi
import pulumi_aws as aws
import pytest

import components
from tests.policy import bad_stack
from tests.policy.blocks_program import program as blocks_program
from tests.policy.fixture_support import ACCOUNT, REGION
from tests.support import planned
from tools import plan
from tools.mock_runtime import StackConfig, StackRun, run_program, stack_names
from tools.verdicts import Verdict, evaluate, load_config

CONFIG = StackConfig({"aws:region": REGION,
                      "blueprints:account": json.dumps({"id": ACCOUNT})}, ())


@cache
def bad_run() -> StackRun:
    return run_program(bad_stack.program, config=CONFIG)


@cache
def blocks_run() -> StackRun:
    def program() -> None:
        provider = aws.Provider("blocks", region=REGION, allowed_account_ids=[ACCOUNT],
                                default_tags={"tags": {"owner": "team-a", "environment": "prod",
                                                       "project": "blueprints"}})
        blocks_program(pulumi.ResourceOptions(provider=provider))

    return run_program(program, config=CONFIG)


def faults(verdicts: list[Verdict]) -> set[tuple[str, str | None]]:
    return {(v.policy, v.resource_name) for v in verdicts}


def test_the_bad_stack_draws_exactly_its_faults() -> None:
    verdicts = evaluate(bad_run())
    assert faults(verdicts) == bad_stack.FAULTS, [v.message for v in verdicts]


def test_mandatory_verdicts_come_first() -> None:
    levels = [v.mandatory for v in evaluate(bad_run())]
    assert levels == sorted(levels, reverse=True)
    assert True in levels


def test_config_sets_levels_for_all_or_one_policy() -> None:
    assert evaluate(bad_run(), {"all": "disabled"}) == []
    everything = evaluate(bad_run(), {"all": "mandatory"})
    assert all(v.mandatory for v in everything)
    relaxed = evaluate(bad_run(), {"iam-no-wildcards": {"enforcementLevel": "advisory"},
                                   "sqs-redrive": "disabled"})
    assert ("sqs-redrive", "jobs") not in faults(relaxed)
    assert [v.level for v in relaxed if v.policy == "iam-no-wildcards"] == ["advisory"]


def test_config_passes_settings_to_the_rules() -> None:
    strict = evaluate(bad_run(), {"lambda-bounded-timeout": {"maxTimeoutSeconds": 5}})
    assert ("lambda-bounded-timeout", "worker") in faults(strict)


def test_the_plan_lists_the_verdicts_and_fails_on_a_mandatory_one(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(plan, "run_stack", lambda stack: bad_run())
    assert plan.main(["--stack", "dev"]) == 1
    captured = capsys.readouterr()
    mandatory, advisory = captured.out.split("Mandatory violations: ")[1].split(
        "Advisory violations: ")
    assert "[iam-no-wildcards] aws:iam/rolePolicy:RolePolicy wide-open" in mandatory
    assert "[cors-no-wildcard-origin] aws:apigatewayv2/api:Api api" in advisory
    assert "mandatory guardrail violation" in captured.err


def test_the_plan_takes_a_policy_config_file(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(plan, "run_stack", lambda stack: bad_run())
    config = tmp_path / "policy-config.json"
    config.write_text(json.dumps({"all": "advisory"}))
    assert plan.main(["--stack", "dev", "--policy-config", str(config)]) == 0
    assert "Mandatory violations: 0" in capsys.readouterr().out


PROJECT_CONFIG = load_config(Path(__file__).resolve().parents[2] / "policy" / "blueprints.json")


@pytest.mark.parametrize("stack", stack_names())
def test_every_stack_draws_no_mandatory_violation(stack: str) -> None:
    mandatory = [v for v in evaluate(planned(stack), PROJECT_CONFIG) if v.mandatory]
    assert mandatory == []


def test_the_project_config_raises_the_house_rules() -> None:
    assert PROJECT_CONFIG == {"required-tags": "mandatory", "prod-stateful-protected": "mandatory",
                              "explicit-provider": "mandatory",
                              "apigateway-private-api-fenced": "mandatory"}
    strict = evaluate(run_program(_untagged_queue, config=CONFIG), PROJECT_CONFIG)
    assert {(v.policy, v.mandatory) for v in strict} >= {("required-tags", True),
                                                          ("explicit-provider", True)}
    unfenced = evaluate(run_program(_unfenced_private_api, config=CONFIG), PROJECT_CONFIG)
    assert ("apigateway-private-api-fenced", True) in {(v.policy, v.mandatory) for v in unfenced}
    assert ("apigateway-private-api-fenced", False) in {
        (v.policy, v.mandatory) for v in evaluate(run_program(_unfenced_private_api,
                                                              config=CONFIG))}


def _untagged_queue() -> None:
    aws.sqs.Queue("stray")


def _unfenced_private_api() -> None:
    aws.apigateway.RestApi("private", endpoint_configuration={"types": "PRIVATE"})


def test_the_blocks_draw_no_mandatory_violation() -> None:
    assert [v for v in evaluate(blocks_run(), PROJECT_CONFIG) if v.mandatory] == []


def component_docs() -> dict[str, str]:
    """Component type token -> the docstrings of its class and module."""
    found: dict[str, str] = {}
    for path in Path(components.__file__).parent.rglob("*.py"):
        module_name = ".".join(path.relative_to(Path(components.__file__).parents[1])
                               .with_suffix("").parts)
        module = __import__(module_name, fromlist=["_"])
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if issubclass(cls, pulumi.ComponentResource) and cls.__module__ == module_name:
                token = re.search(r'__init__\(\s*"([\w:]+)"', inspect.getsource(cls.__init__))
                if token:
                    found[token.group(1)] = f"{module.__doc__}\n{cls.__doc__}"
    return found


def test_every_advisory_finding_on_our_resources_is_explained_by_its_component() -> None:
    docs = component_docs()
    unexplained = []
    for run in [*(planned(s) for s in stack_names()), blocks_run()]:
        for verdict in evaluate(run):
            resource = next(r for r in run.resources if r.urn == verdict.urn) \
                if verdict.urn else None
            owner = resource
            while owner is not None and owner.type not in docs:
                owner = next((r for r in run.resources if r.urn == owner.parent), None)
            if owner is None or verdict.policy not in docs[owner.type]:
                unexplained.append(f"{verdict.policy} on {verdict.resource_name}")
    assert unexplained == []
