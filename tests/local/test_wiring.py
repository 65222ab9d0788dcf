"""The seam local mode checks: a handler reads what its component sets and calls only what its
role allows. Each test breaks one line of a copy of a component and shows local mode catch it;
the end-to-end modules (``tests/local/e2e``) pass because the real components hold."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from urllib.parse import quote

import pytest

import components.services as catalog
from tests.local.e2e.support import Lines, call
from tools.local.stack import LocalStack

COMPONENT = Path(catalog.__file__).with_name("entity_resolution.py")
MATCHER_STATEMENT = 'statements=[iam.allow(["s3:GetObject"], indexes)],'
MATCHER_ENVIRONMENT = 'environment={**environment, "MIN_SCORE": str(settings.min_score),'


def broken_copy(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, line: str,
                replacement: str) -> ModuleType:
    """A copy of the entityResolution component with ``line`` replaced, in the catalog."""
    source = COMPONENT.read_text(encoding="utf-8")
    assert source.count(line) == 1, f"the component no longer has {line!r}"
    copy = tmp_path / "entity_resolution_copy.py"
    copy.write_text(source.replace(line, replacement), encoding="utf-8")
    spec = importlib.util.spec_from_file_location("entity_resolution_copy", copy)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "entity_resolution_copy", module)
    spec.loader.exec_module(module)
    entry = catalog.CATALOG["entityResolution"]
    monkeypatch.setitem(catalog.CATALOG, "entityResolution",
                        type(entry)(entry.settings, module.EntityResolution))
    return module


@pytest.fixture
def lines() -> Lines:
    return Lines()


@contextmanager
def started(tmp_path: Path, lines: Lines) -> Iterator[LocalStack]:
    """entityResolution in local mode, a reference file uploaded and built."""
    stack = LocalStack("dev", services=["entityResolution"], aws_port=0, output=lines,
                       run_folder=tmp_path / "run")
    stack.start()
    try:
        assert stack.lambdas is not None
        assert stack.aws is not None
        bucket = stack.lambdas.spec("entityResolution-builder-function").environment[
            "BUCKET_NAME"]
        stack.aws.client("s3").put_object(Bucket=bucket, Key="reference/companies.csv",
                                          Body=b"id,name\nc1,Acme Corporation\n")
        assert stack.wait_idle(timeout=300)
        yield stack
    finally:
        stack.stop()


def match(stack: LocalStack) -> int:
    assert stack.started is not None
    assert stack.aws is not None
    return call("GET", f"{stack.started.url('entityResolution-api')}/match?name={quote('Acme')}",
                signed_by=stack.aws.credentials).status


@pytest.mark.parametrize(("line", "broken", "status", "reported"), [
    # The matcher's role loses its read of the index: S3 refuses, and the log names the
    # statement that would allow the read.
    (MATCHER_STATEMENT, 'statements=[iam.allow(["s3:GetObjectVersion"], indexes)],', 503,
     ("AccessDenied for s3.GetObject", '"Action": "s3:GetObject"', "index/CURRENT.json")),
    # The matcher's environment loses the common variables: its settings name the one missing.
    (MATCHER_ENVIRONMENT, 'environment={"MIN_SCORE": str(settings.min_score),', 500,
     ("BUCKET_NAME",)),
], ids=["role statement", "environment variable"])
def test_a_broken_line_of_a_component_fails_the_handler_and_is_named(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path, lines: Lines, line: str, broken: str,
        status: int, reported: tuple[str, ...]) -> None:
    broken_copy(monkeypatch, tmp_path, line, broken)
    with started(tmp_path, lines) as stack:
        assert match(stack) == status
    assert lines.matching("entityResolution-matcher-function", *reported), \
        "local mode did not say what was missing"


def test_the_unbroken_component_serves(tmp_path: Path, lines: Lines) -> None:
    with started(tmp_path, lines) as stack:
        assert match(stack) == 200
    assert lines.matching("AccessDenied") == []
