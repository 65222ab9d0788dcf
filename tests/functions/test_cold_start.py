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


TRACE = """
import json, sys
sys.path.insert(1, {functions!r})
sys.path.append({root!r})
import app
from botocore.stub import Stubber
from aws_xray_sdk.core import xray_recorder
from tests.functions.cache_support import profile_stream_record
from tests.functions.events import LambdaContext

sent = []
class Emitter:
    def send_entity(self, entity):
        sent.append(json.loads(entity.serialize()))
    def set_daemon_address(self, address):
        pass
xray_recorder.configure(emitter=Emitter())
with Stubber(app.events) as stub:
    stub.add_response("put_events", {{"FailedEntryCount": 0, "Entries": [{{"EventId": "1"}}]}})
    app.handler({{"Records": [profile_stream_record("prof-1", sequence=1)]}},
                LambdaContext("refresher"))

def walk(entity):
    yield entity
    for child in entity.get("subsegments", []):
        yield from walk(child)
found = [entity for top in sent for entity in walk(top)]
print(json.dumps({{"names": sorted({{entity["name"] for entity in found}}),
                  "annotations": [entity.get("annotations", {{}}) for entity in found],
                  "aws": [entity.get("aws", {{}}).get("operation") for entity in found
                          if entity.get("namespace") == "aws"]}}))
"""


def test_a_handler_still_traces_its_invocation_its_methods_and_its_aws_calls(
        environments: dict[str, dict[str, str]]) -> None:
    """What the X-Ray SDK sends for one invocation of the profile refresher, with tracing on
    as in Lambda: the handler's subsegment and its annotations, the traced method, and the
    EventBridge call made by a client created after the import."""
    folder = "profile_refresher"
    base = {name: value for name, value in os.environ.items()
            if not name.startswith(("AWS_", "POWERTOOLS_", "PYTHON", "_X_AMZN"))}
    environment = {**base, **LAMBDA_RUNTIME, "AWS_LAMBDA_FUNCTION_NAME": folder,
                   "LAMBDA_TASK_ROOT": str(FUNCTIONS / folder),
                   "_X_AMZN_TRACE_ID": "Root=1-5759e988-bd862e3fe1be46a994272793;"
                                       "Parent=53995c3f42cd8ad8;Sampled=1",
                   **environments.get(folder, default_environment(folder))}
    code = TRACE.format(functions=str(FUNCTIONS), root=str(FUNCTIONS.parent))
    done = subprocess.run([sys.executable, "-c", code], env=environment,  # noqa: S603
                          cwd=FUNCTIONS / folder, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    trace = json.loads(done.stdout.splitlines()[-1])

    assert {"## handler", "## app.publish", "events"} <= set(trace["names"])
    assert {"ColdStart": True, "Service": "microserviceCache"}.items() <= {
        key: value for annotations in trace["annotations"]
        for key, value in annotations.items()}.items()
    assert trace["aws"] == ["PutEvents"]
