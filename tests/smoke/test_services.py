"""Each service's smoke check against the target stack (``tests/smoke/conftest.py``)."""

from __future__ import annotations

import pytest

from tests.smoke.checks import CHECKS, run_check
from tests.smoke.target import Target

pytestmark = pytest.mark.smoke


@pytest.mark.parametrize("service", sorted(CHECKS))
def test_the_service_answers(smoke_target: Target, service: str) -> None:
    if smoke_target.service(service) is None:
        pytest.skip(f"the stack does not deploy {service}")
    print(run_check(smoke_target, service))
