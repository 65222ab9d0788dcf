"""The shared entry (``blueprints_common.entry``), and the rule that every handler goes through
it.

Every ``functions/*/app.py`` handler is read from its source, so a new function cannot forget
the entry, and no handler module wraps itself in Powertools' decorators or builds a resolver
that could print events. What the handlers do through the entry is in
``test_handler_events.py``.
"""

from __future__ import annotations

import ast
import io
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from aws_lambda_powertools import Logger, Metrics
from blueprints_common import entry as shared

from tests.functions import events
from tests.functions.test_entity_index_builder import BUCKET, s3_event
from tests.functions.test_entity_matcher import http_event
from tests.functions.test_handler_events import (
    API_KEY,
    CASES,
    CONTEXT,
    DEBUG_ENVIRONMENT,
    SECRET_HEADERS,
    SECRETS,
    refusal_lines,
    replaced,
)

FUNCTIONS = Path(__file__).resolve().parents[2] / "functions"
POWERTOOLS_DECORATORS = {"inject_lambda_context", "capture_lambda_handler", "log_metrics"}
RESOLVERS = {"APIGatewayRestResolver", "APIGatewayHttpResolver", "ApiGatewayResolver",
             "ALBResolver", "LambdaFunctionUrlResolver", "VPCLatticeResolver",
             "VPCLatticeV2Resolver", "BedrockAgentResolver", "AppSyncResolver"}
pytestmark = [
    pytest.mark.filterwarnings("ignore:POWERTOOLS_DEV environment variable is enabled"),
    pytest.mark.filterwarnings("ignore:No application metrics to publish"),
]


# --- every handler goes through the entry ------------------------------------------------------

def handler_modules() -> list[Any]:
    params = []
    for path in sorted(FUNCTIONS.glob("*/app.py")):
        name = path.parent.name
        params.append(pytest.param(path, id=name))
    return params


def test_every_function_with_a_handler_is_listed() -> None:
    found = {path.parent.name for path in FUNCTIONS.glob("*/app.py")}

    assert found == {case.name for case in CASES.values()}


def entry_problems(source: str) -> list[str]:
    """What keeps a handler module from going through the shared entry only."""
    tree = ast.parse(source)
    imported = {alias.asname or alias.name: alias.name for node in ast.walk(tree)
                if isinstance(node, ast.ImportFrom) and node.module == "blueprints_common.entry"
                for alias in node.names}
    problems = []
    handlers = [node for node in tree.body
                if isinstance(node, ast.FunctionDef) and node.name == "handler"]
    if len(handlers) != 1:
        return ["no top-level def handler"]
    decorators = handlers[0].decorator_list
    call = decorators[0] if len(decorators) == 1 else None
    if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Name)
            and imported.get(call.func.id) == "entry"):
        problems.append("handler is not decorated with blueprints_common.entry.entry alone")
    elif not (call.args and isinstance(call.args[0], ast.Name)
              and imported.get(call.args[0].id) in shared.KINDS):
        problems.append("entry's first argument is not one of blueprints_common.entry's kinds")
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr in POWERTOOLS_DECORATORS:
            problems.append(f"line {node.lineno}: {node.attr} outside the entry")
        if isinstance(node, ast.keyword) and node.arg == "log_event":
            problems.append(f"line {node.lineno}: log_event outside the entry")
        if isinstance(node, ast.Name | ast.Attribute) and \
                (node.id if isinstance(node, ast.Name) else node.attr) in RESOLVERS:
            problems.append(f"line {node.lineno}: a resolver not built by rest_resolver or "
                            "http_resolver (which switch its debug mode off)")
    return problems


@pytest.mark.parametrize("path", handler_modules())
def test_the_handler_goes_through_the_shared_entry(path: Path) -> None:
    assert entry_problems(path.read_text(encoding="utf-8")) == []


def test_the_source_check_catches_each_way_around_the_entry() -> None:
    good = ("from blueprints_common.entry import REST_PROXY, entry, rest_resolver\n"
            "app = rest_resolver()\n"
            "@entry(REST_PROXY, logger=logger)\n"
            "def handler(event, context): ...\n")
    assert entry_problems(good) == []
    bad = {
        "def handler(event, context): ...\n": "not decorated",
        "from blueprints_common.entry import entry\n"
        "@entry(SOMETHING, logger=logger)\ndef handler(event, context): ...\n": "kinds",
        "from blueprints_common.entry import REST_PROXY, entry\n"
        "@logger.inject_lambda_context(log_event=True)\n@entry(REST_PROXY, logger=logger)\n"
        "def handler(event, context): ...\n": "alone",
        good + "app = APIGatewayRestResolver()\n": "resolver",
        good + "handler = tracer.capture_lambda_handler(handler)\n": "capture_lambda_handler",
        "x = 1\n": "no top-level def handler",
    }
    for source, problem in bad.items():
        assert any(problem in found for found in entry_problems(source)), source


def test_the_entry_never_logs_the_event_whatever_the_environment(
        monkeypatch: pytest.MonkeyPatch) -> None:
    for variable, value in DEBUG_ENVIRONMENT.items():
        monkeypatch.setenv(variable, value)
    log = io.StringIO()
    logger = Logger(service="entry-test-log-event", stream=log)

    @shared.entry(shared.REST_PROXY, logger=logger)
    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        logger.info("Handled")
        return {"statusCode": 204}

    handler(events.rest_event("/x", headers=SECRET_HEADERS), CONTEXT)

    assert "Handled" in log.getvalue()
    assert not any(secret in log.getvalue() for secret in SECRETS)


def test_resolvers_are_built_with_debug_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POWERTOOLS_DEV", "true")

    assert shared.rest_resolver()._debug is False
    assert shared.http_resolver()._debug is False


# --- the entry's own behaviour -----------------------------------------------------------------

def test_the_entry_injects_the_context_and_publishes_metrics(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "ServerlessBlueprints")
    log = io.StringIO()
    logger = Logger(service="entry-test-wrap", stream=log)
    metrics = Metrics(service="entry-test-wrap")
    seen: list[Any] = []

    @shared.entry(shared.HTTP_API, logger=logger, metrics=metrics)
    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        """The handler's own documentation."""
        seen.append(event)
        logger.info("Handled")
        return {"statusCode": 200}

    good = http_event("GET")
    assert handler(good, CONTEXT) == {"statusCode": 200}
    assert handler.__doc__ == "The handler's own documentation."
    assert seen == [good]
    line = json.loads(log.getvalue().splitlines()[0])
    assert line["correlation_id"] == good["requestContext"]["requestId"]
    assert line["function_request_id"] == CONTEXT.aws_request_id
    capsys.readouterr()

    answer = handler({"version": "2.0"}, CONTEXT)

    assert answer["statusCode"] == 400
    assert seen == [good]
    assert '"MalformedEvents":[1.0]' in capsys.readouterr().out
    refused = refusal_lines(log)[0]
    assert refused["event_kind"] == "API Gateway HTTP API"
    assert "routeKey is missing" in refused["problem"]


def test_a_refusal_names_fields_never_values() -> None:
    event = replaced(CASES["hello"].event(), "body", {"password": API_KEY})
    event["requestContext"]["stage"] = ["prod", API_KEY]

    problems = shared.rest_proxy_problems(event)

    assert problems == ["body is not a string"]
    problems = shared.rest_proxy_problems(replaced(event, "body", None))
    assert problems == ["requestContext.stage is not a string"]
    assert API_KEY not in shared.rest_refusal("; ".join(problems))["body"]


def test_a_refusal_names_at_most_a_few_problems() -> None:
    event = {"Records": [{"eventSource": "aws:s3"}] * 50}

    problems = shared.s3_notification_problems(event)
    answer = shared.rejected("; ".join(problems[:shared.MAX_PROBLEMS]))

    assert len(problems) >= shared.MAX_PROBLEMS
    assert answer["rejected"].count("missing") == shared.MAX_PROBLEMS


@pytest.mark.parametrize("event", [
    {"Service": "Amazon S3", "Event": "s3:TestEvent", "Time": "2026-11-26T17:00:00.000Z",
     "Bucket": BUCKET, "RequestId": "5582815E1AEA5ADF", "HostId": "8cLeGAmw098X5cv4Zkw"},
    s3_event("reference/a.csv", etag="0" * 32),
    s3_event("reference/a.csv", etag="0" * 32, sequencer=None),
    replaced(s3_event("reference/a.csv", etag="0" * 32), "Records", 0, "s3", "object", "eTag", ...),
])
def test_what_s3_sends_is_well_formed(event: dict[str, Any]) -> None:
    assert shared.s3_notification_problems(event) == []


def test_null_fields_count_as_absent() -> None:
    event = events.rest_event("/hello")
    for name in ("headers", "multiValueHeaders", "queryStringParameters", "body",
                 "pathParameters", "stageVariables", "isBase64Encoded"):
        event[name] = None

    assert shared.rest_proxy_problems(event) == []
    assert shared.rest_proxy_problems({**event, "httpMethod": None}) == ["httpMethod is missing"]


# --- at the edge -------------------------------------------------------------------------------

EDGE_CHECK = '''
import importlib.abc, json, sys
# What a Lambda@Edge package holds (the function, blueprints_common and the Powertools bundle of
# components.foundation.function.EDGE_BUNDLE) and what the Python runtime provides.
AVAILABLE = set(sys.stdlib_module_names) | {
    "aws_lambda_powertools", "jmespath", "typing_extensions", "blueprints_common",
    "version_router", "boto3", "botocore", "s3transfer", "urllib3", "dateutil", "six"}

class OnlyTheBundle(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name.split(".")[0] not in AVAILABLE:
            raise ImportError(f"{name} is not in the edge package")

sys.meta_path.insert(0, OnlyTheBundle())
from version_router import app

class Context:
    function_name = "us-east-1.version-router"
    memory_limit_in_mb = 128
    invoked_function_arn = "arn:aws:lambda:us-east-1:111111111111:function:version-router:1"
    aws_request_id = "8d0f3c2e-5b1a-4e6f-9c7d-2a3b4c5d6e7f"

print(json.dumps(app.handler({"Records": []}, Context())))
'''


def test_the_router_loads_and_refuses_with_only_its_edge_bundle() -> None:
    """Lambda@Edge has no layers: the entry must not need Powertools' optional dependencies
    (pydantic, the X-Ray SDK...) to load or to answer."""
    result = subprocess.run(  # noqa: S603 (this interpreter, a script of this test)
        [sys.executable, "-c", EDGE_CHECK], cwd=FUNCTIONS, check=False, capture_output=True,
        text=True, timeout=60, env={"PATH": "", "PYTHONPATH": str(FUNCTIONS)})

    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout.splitlines()[-1])
    assert answer["status"] == "400"
