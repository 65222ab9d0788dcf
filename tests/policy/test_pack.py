"""The pack itself: it builds, every rule is present and documented, and the levels hold."""

from __future__ import annotations

import re
import runpy
import sys
from pathlib import Path
from typing import Any

import pytest
from pulumi_policy import EnforcementLevel, StackValidationPolicy
from pulumi_policy import policy as sdk

from policy.guardrails import POLICIES

PACK = Path(__file__).resolve().parents[2] / "policy"


class _ServerStartedError(Exception):
    """Raised where the SDK would start serving the pack."""


class _FakeServer:
    def add_insecure_port(self, address: str) -> int:
        return 0

    def start(self) -> None:
        raise _ServerStartedError


def test_main_builds_the_pack_without_starting_a_server(monkeypatch: pytest.MonkeyPatch) -> None:
    built: dict[str, Any] = {}
    real_servicer = sdk._PolicyAnalyzerServicer

    def servicer(*args: Any, **kwargs: Any) -> Any:
        built["name"], built["policies"] = args[0], args[2]
        return real_servicer(*args, **kwargs)

    monkeypatch.setattr(sdk, "_PolicyAnalyzerServicer", servicer)
    monkeypatch.setattr(sdk.grpc, "server", lambda *a, **k: _FakeServer())
    monkeypatch.setattr(sdk.analyzer_pb2_grpc, "add_AnalyzerServicer_to_server",
                        lambda *a, **k: None)
    monkeypatch.syspath_prepend(str(PACK))
    for module in [m for m in sys.modules if m == "guardrails" or m.startswith("guardrails.")]:
        monkeypatch.delitem(sys.modules, module)
    with pytest.raises(_ServerStartedError):
        runpy.run_path(str(PACK), run_name="__main__")
    assert built["name"] == "serverless-guardrails"
    assert [p.name for p in built["policies"]] == [p.name for p in POLICIES]


def test_pack_files_are_in_place() -> None:
    assert (PACK / "PulumiPolicy.yaml").read_text().startswith("runtime:")
    requirements = (PACK / "requirements.txt").read_text()
    assert "pulumi-policy==" in requirements


def test_policy_names_are_unique_and_stable() -> None:
    names = [p.name for p in POLICIES]
    assert len(names) == len(set(names))
    assert all(re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)+", name) for name in names)


@pytest.mark.parametrize("policy", POLICIES, ids=lambda p: p.name)
def test_every_policy_names_its_anchors_level_and_docs(policy: Any) -> None:
    assert "Anchors: " in policy.description
    assert policy.tags, "anchors are also the policy's tags"
    assert policy.enforcement_level in (EnforcementLevel.ADVISORY, EnforcementLevel.MANDATORY)
    assert policy.url.endswith(f"#{policy.name}")
    assert policy.__doc__, "the rule function's docstring says why, and what set its level"


@pytest.mark.parametrize("policy", [p for p in POLICIES if p.config_schema],
                         ids=lambda p: p.name)
def test_every_threshold_has_a_default(policy: Any) -> None:
    for name, schema in policy.config_schema.properties.items():
        assert "default" in schema, f"{policy.name}.{name} has no default"
        assert "description" in schema, f"{policy.name}.{name} has no description"


def test_cross_resource_rules_are_stack_policies() -> None:
    stack_rules = {p.name for p in POLICIES if isinstance(p, StackValidationPolicy)}
    assert {"lambda-async-failure-destination", "lambda-log-retention",
            "lambda-one-role-per-function", "sqs-visibility-covers-consumer",
            "waf-on-public-endpoints", "sqs-redrive", "prod-stateful-protected",
            "lambda-tracing-active", "lambda-edge-compatible",
            "cloudfront-tls-logging"} <= stack_rules


def test_the_readme_documents_every_rule_with_its_level() -> None:
    rows = re.findall(r"^\| (\d+) \| \[`([\w-]+)`\]\(#[\w-]+\) \| (\w+) \| (\w+) \|",
                      (PACK / "README.md").read_text(), re.MULTILINE)
    assert [int(number) for number, *_ in rows] == list(range(1, len(POLICIES) + 1))
    documented = {name: (kind, level) for _, name, kind, level in rows}
    assert documented == {
        p.name: ("stack" if isinstance(p, StackValidationPolicy) else "resource",
                 p.enforcement_level.value) for p in POLICIES}
    for name in documented:
        assert f"### {name}" in (PACK / "README.md").read_text()
