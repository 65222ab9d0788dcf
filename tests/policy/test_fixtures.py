"""Every guardrail has a passing and a failing fixture, and each behaves as it says."""

from __future__ import annotations

import pytest

from tests.policy.fixture_support import (
    FIXTURES,
    POLICY_NAMES,
    fixture_path,
    reported,
    verdicts_of,
)


def test_every_policy_has_a_pass_and_a_fail_fixture() -> None:
    missing = [f"{name}.{outcome}.py" for name in POLICY_NAMES for outcome in ("pass", "fail")
               if not fixture_path(name, outcome).exists()]
    assert not missing, f"fixtures missing: {missing}"


def test_every_fixture_belongs_to_a_policy() -> None:
    stray = [p.name for p in FIXTURES.glob("*.py")
             if p.name.rsplit(".", 2)[0] not in POLICY_NAMES
             or p.name.rsplit(".", 2)[1] not in ("pass", "fail")]
    assert not stray, f"fixtures for no policy: {stray}"


@pytest.mark.parametrize("name", POLICY_NAMES)
def test_passing_fixture_draws_no_violation(name: str) -> None:
    path = fixture_path(name, "pass")
    if not path.exists():
        pytest.fail(f"{path.name} is missing")
    verdicts, _ = verdicts_of(name, path)
    assert verdicts == []


@pytest.mark.parametrize("name", POLICY_NAMES)
def test_failing_fixture_draws_exactly_its_violations(name: str) -> None:
    path = fixture_path(name, "fail")
    if not path.exists():
        pytest.fail(f"{path.name} is missing")
    verdicts, namespace = verdicts_of(name, path)
    assert reported(verdicts) == set(namespace["VIOLATIONS"]), [v.message for v in verdicts]
    assert all(v.mandatory for v in verdicts)
