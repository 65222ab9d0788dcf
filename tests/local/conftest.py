"""The dev stack in local mode, started once for every end-to-end module (``test_e2e_*``), on
free ports; and the coverage check that every function it runs was invoked, run after them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.local.e2e import Lines
from tools.local.stack import LocalStack

COVERAGE_TEST = "test_every_function_of_the_dev_stack_ran_with_its_role"


@pytest.fixture(scope="session")
def dev_output() -> Lines:
    return Lines()


@pytest.fixture(scope="session")
def local_dev(tmp_path_factory: pytest.TempPathFactory, dev_output: Lines
              ) -> Iterator[LocalStack]:
    stack = LocalStack("dev", aws_port=0, output=dev_output,
                       run_folder=Path(tmp_path_factory.mktemp("local-mode")))
    stack.start()
    dev_output(f"started in {stack.started.startup_seconds if stack.started else 0:.1f} s")
    yield stack
    stack.stop()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The coverage check reads what the end-to-end modules did, so it runs after them."""
    items.sort(key=lambda item: item.name == COVERAGE_TEST)
