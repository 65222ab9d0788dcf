"""The smoke tests (``tests/smoke``) against the dev stack in local mode: every service's check,
built from the stack's outputs as against a deployed stack, with the local fronts in place of
the public URLs, passes."""

from __future__ import annotations

from dataclasses import replace

from tests.local.e2e.conftest import SERVICES
from tests.smoke.checks import CHECKS, run_check
from tests.smoke.target import SmokeError, local_target
from tools.local.stack import LocalStack


def test_every_smoke_check_passes_against_the_local_dev_stack(local_dev: LocalStack) -> None:
    assert set(SERVICES) <= set(CHECKS), "a service of the dev stack has no smoke check"
    target = local_target(local_dev)
    failed = {}
    for service in SERVICES:
        try:
            print(f"{service}: {run_check(target, service)}")
        except SmokeError as failure:
            failed[service] = str(failure)
    assert not failed, failed


def test_from_outside_the_vpc_the_private_api_check_asks_for_its_refusal(
        local_dev: LocalStack) -> None:
    outside = replace(local_target(local_dev), inside_vpc=False)
    assert run_check(outside, "privateApi").endswith("403, the resource policy's fence")
