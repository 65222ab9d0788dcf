"""Test isolation, the component runner, and the groups that tests run in.

Unit tests never see real credentials: HOME and every AWS_* variable are removed, and moto
tests set their own fake ones. Every component or stack run gets its own context and event loop
(``tools.mock_runtime.run_program``), so nothing leaks between tests.

Under pytest-xdist (``-n auto``) a module's tests run in one worker, in order, so that its
module-scoped fixtures (a stack's plan, an embedded AWS) are built once; the end-to-end package
shares one local stack, so it runs in one worker too.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from typing import Any

import pulumi
import pulumi_aws as aws
import pytest

from tests.support import ACCOUNT, REGION
from tools.mock_runtime import StackConfig, StackRun, run_program

END_TO_END = "tests/local/e2e/"


def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """pytest-xdist's scheduling by scope, with a module as the scope, and the end-to-end
    package as one (pytest 9 leaves ``--dist loadgroup``'s group marks without effect)."""
    from xdist.scheduler import LoadScopeScheduling  # type: ignore[import-untyped]

    class ByModule(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            module = nodeid.split("::", 1)[0]
            return END_TO_END if module.startswith(END_TO_END) else module

    return ByModule(config, log)


@pytest.fixture(autouse=True)
def _no_real_credentials(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("HOME", str(tmp_path))


Program = Callable[[pulumi.ResourceOptions], Any]


@pytest.fixture
def build() -> Callable[..., StackRun]:
    """Runs ``program(opts)`` under mocks, with ``opts`` carrying an explicit provider."""

    def run(program: Program, *, region: str = REGION) -> StackRun:
        def main() -> None:
            provider = aws.Provider("test-provider", region=region,
                                    allowed_account_ids=[ACCOUNT])
            program(pulumi.ResourceOptions(provider=provider))

        config = StackConfig({"aws:region": region,
                              "blueprints:account": json.dumps({"id": ACCOUNT})}, ())
        return run_program(main, config=config)

    return run
