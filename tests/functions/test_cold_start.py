"""What a handler's import leaves out, checked on ``sys.modules`` in a fresh interpreter.

Each handler is imported the way Lambda imports it: its folder first on ``sys.path``, then
``functions/`` (the shared libraries), the Lambda runtime's variables and the environment the
dev plan gives it, tracing on. What was decided to defer (``benchmarks/README.md``, cold
starts) must not be loaded, and no AWS client may be made at import; the X-Ray SDK must still
patch botocore in every handler that calls AWS, so its calls stay in the traces.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from benchmarks.cold_start import (
    FUNCTIONS,
    LAMBDA_RUNTIME,
    default_environment,
    handler_folders,
    plan_environments,
)

# Loaded only by the X-Ray SDK's patch_all, which no handler uses (it patches what it calls).
UNPATCHED_LIBRARIES = ("requests", "sqlite3", "aiobotocore")
# Owned by the entity resolution work; measured by the benchmark, not held to this yet.
NOT_CHECKED = {"entity_matcher", "entity_index_builder"}
# Loaded on first use: the analytics job's queue consumer never reads a CSV.
DEFERRED: dict[str, tuple[str, ...]] = {"analytics_job": ("numpy", "sklearn")}
# Handlers that call no AWS service: nothing for the tracer to patch.
NO_AWS_CALLS = {"hello", "private_api_whoami", "query_key_authorizer", "version_router"}

PROBE = """
import json, sys
sys.path.insert(1, {functions!r})
import app
botocore_client = sys.modules.get("botocore.client")
boto3 = sys.modules.get("boto3")
print(json.dumps({{
    "loaded": sorted(name for name in {deferred!r} if name in sys.modules),
    "session_made": boto3 is not None and boto3.DEFAULT_SESSION is not None,
    "botocore_traced": botocore_client is not None
        and hasattr(botocore_client.BaseClient._make_api_call, "__wrapped__"),
}}))
"""


@pytest.fixture(scope="module")
def environments() -> dict[str, dict[str, str]]:
    """Folder -> the environment the dev plan gives its function."""
    return plan_environments()


def probe(folder: str, environments: dict[str, dict[str, str]]) -> dict[str, Any]:
    """Imports ``folder``'s handler in a fresh interpreter; what it loaded."""
    deferred = (*UNPATCHED_LIBRARIES, *DEFERRED.get(folder, ()))
    base = {name: value for name, value in os.environ.items()
            if not name.startswith(("AWS_", "POWERTOOLS_", "PYTHON"))}
    environment = {**base, **LAMBDA_RUNTIME, "AWS_LAMBDA_FUNCTION_NAME": folder,
                   "LAMBDA_TASK_ROOT": str(FUNCTIONS / folder),
                   **environments.get(folder, default_environment(folder))}
    code = PROBE.format(functions=str(FUNCTIONS), deferred=deferred)
    done = subprocess.run([sys.executable, "-c", code], env=environment,  # noqa: S603
                          cwd=FUNCTIONS / folder, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout.splitlines()[-1])
    return result


@pytest.mark.parametrize("folder", [name for name in handler_folders()
                                    if name not in NOT_CHECKED])
def test_a_handler_imports_only_what_its_requests_need(
        folder: str, environments: dict[str, dict[str, str]]) -> None:
    found = probe(folder, environments)

    assert found["loaded"] == []
    assert not found["session_made"], "an AWS client was made at import"
    if folder not in NO_AWS_CALLS:
        assert found["botocore_traced"], "AWS calls would be missing from the traces"


def test_every_handler_folder_is_checked_or_named() -> None:
    assert set(handler_folders()) >= NOT_CHECKED
    assert all((Path(FUNCTIONS) / folder / "app.py").is_file() for folder in DEFERRED)
