"""Test isolation and the component runner.

Unit tests never see real credentials: HOME and every AWS_* variable are removed, and moto
tests set their own fake ones. Every component or stack run gets its own context and event loop
(``tools.mock_runtime.run_program``), so nothing leaks between tests.
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
