"""After the end-to-end modules: every function of the dev stack ran, in a worker whose every AWS
call was checked against its own role, and no call was refused."""

from __future__ import annotations

from tests.local.e2e.support import Lines
from tools.local.lambdas import BOOT_MODULE
from tools.local.stack import LocalStack


def test_every_function_of_the_dev_stack_ran_with_its_role(local_dev: LocalStack,
                                                           dev_output: Lines) -> None:
    lambdas = local_dev.lambdas
    assert lambdas is not None
    never = sorted(spec.resource for spec in lambdas.specs if not lambdas.invoked[spec.resource])
    assert never == [], "run the test_e2e_* modules with this one"
    assert len(lambdas.specs) == 21
    for worker in lambdas._workers.values():
        assert worker.boot == BOOT_MODULE
        assert worker.local_environment["LOCAL_IAM_PLAN"]
    assert dev_output.matching("AccessDenied") == []
    assert dev_output.matching("not allowed") == []
