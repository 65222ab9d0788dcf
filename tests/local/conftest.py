"""What local mode's tests share: the dev stack's plan (made once per process), and that plan's
resources in an embedded AWS with its policies (one per module: an embedded AWS is one per
process, so a module stops its own before the next starts one)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support import planned
from tools.local.aws import EmbeddedAws, create_resources
from tools.local.iam import PlanPolicies
from tools.mock_runtime import StackRun


@pytest.fixture(scope="module")
def dev() -> StackRun:
    return planned("dev")


@pytest.fixture(scope="module")
def local(dev: StackRun) -> Iterator[EmbeddedAws]:
    with EmbeddedAws.for_plan(dev) as embedded:
        create_resources(dev, embedded)
        yield embedded


@pytest.fixture(scope="module")
def policies(dev: StackRun) -> PlanPolicies:
    return PlanPolicies.from_run(dev)
