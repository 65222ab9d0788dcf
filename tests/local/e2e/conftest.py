"""The dev stack in local mode, started once for the end-to-end modules of this package, on free
ports, and stopped when the package is done (local mode's embedded AWS is one per process, so
no other local test may overlap it). The coverage check reads what the modules did: it runs
last of them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.local.e2e.support import Lines
from tools.local.stack import LocalStack

COVERAGE_TEST = "test_every_function_of_the_dev_stack_ran_with_its_role"
# The dev stack's services, each with its end-to-end module here.
SERVICES = ("asyncAnalytics", "containerApi", "documentWatermark", "entityResolution",
            "eventManagement", "headerVersioning", "microserviceCache", "privateApi",
            "queryKeyApi")
HERE = Path(__file__).parent


@pytest.fixture(scope="package")
def dev_output() -> Lines:
    return Lines()


@pytest.fixture(scope="package")
def local_dev(tmp_path_factory: pytest.TempPathFactory, dev_output: Lines
              ) -> Iterator[LocalStack]:
    stack = LocalStack("dev", services=SERVICES, aws_port=0, output=dev_output,
                       run_folder=Path(tmp_path_factory.mktemp("local-mode")))
    stack.start()
    yield stack
    stack.stop()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    slots = [index for index, item in enumerate(items) if item.path.parent == HERE]
    ours = sorted((items[index] for index in slots), key=lambda item: item.name == COVERAGE_TEST)
    for index, item in zip(slots, ours, strict=True):
        items[index] = item
