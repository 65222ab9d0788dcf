"""The smoke tests' target: ``--smoke-outputs FILE`` or ``BLUEPRINTS_SMOKE_OUTPUTS=FILE`` (the
JSON of ``pulumi stack output --json --show-secrets``). Without one, every test here is skipped,
so ``pytest tests`` never sends a request anywhere (see ``tests/smoke/__init__.py``).
``BLUEPRINTS_SMOKE_ROLE_ARN=ARN`` signs as that role (the target's account) instead of as the
caller (``tests.smoke.target.deployed_target``)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.smoke.target import Target, deployed_target

VARIABLE = "BLUEPRINTS_SMOKE_OUTPUTS"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--smoke-outputs", metavar="FILE", default=None,
                     help="smoke-test the deployed stack whose `pulumi stack output --json "
                          f"--show-secrets` is FILE (or set {VARIABLE})")


def _outputs_file(config: pytest.Config) -> str | None:
    try:
        given = config.getoption("--smoke-outputs")
    except ValueError:  # the option is known only when tests/smoke is the path given
        given = None
    return given or os.environ.get(VARIABLE) or None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if _outputs_file(config):
        return
    skip = pytest.mark.skip(reason=f"no smoke target: give --smoke-outputs FILE or {VARIABLE}")
    for item in items:
        if item.get_closest_marker("smoke") is not None:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def smoke_target(pytestconfig: pytest.Config) -> Target:
    found = _outputs_file(pytestconfig)
    assert found is not None
    return deployed_target(Path(found))
