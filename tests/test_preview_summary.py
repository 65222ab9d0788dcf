"""The approval's one-line summary of ``pulumi preview --json`` (``tools.preview_summary``).

The fixtures follow the CLI's ``PreviewDigest`` (pulumi/pulumi ``sdk/pkg/display/json.go``):
``config``, ``steps`` (``op``, ``urn``, states, diff reasons), ``diagnostics``, ``duration`` in
nanoseconds and ``changeSummary`` by op; and the streamed engine events, which alone carry the
policy findings."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tools.preview_summary import MAX_CHARS, load, main, short_name, summarize


def urn(stack: str, kind: str, name: str) -> str:
    return f"urn:pulumi:{stack}::blueprints::{kind}::{name}"


def step(op: str, stack: str, kind: str, name: str, **more: Any) -> dict[str, Any]:
    return {"op": op, "urn": urn(stack, kind, name),
            "provider": f"urn:pulumi:{stack}::blueprints::pulumi:providers:aws::{stack}-aws::id",
            "detailedDiff": None, **more}


def digest(summary: dict[str, int], steps: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "config": {"aws:region": "eu-west-1", "blueprints:stage": "prod"},
        "steps": steps,
        "diagnostics": [{"message": "Starting the blueprints program\n", "severity": "info"}],
        "duration": 41_230_000_000,
        "changeSummary": summary,
    }


ENV = digest({"same": 40, "update": 2}, [
    step("same", "prod-env", "pulumi:pulumi:Stack", "blueprints-prod-env"),
    step("update", "prod-env", "blueprints:environment:Environment$aws:ec2/vpc:Vpc", "network",
         diffReasons=["tags"]),
    step("update", "prod-env", "aws:kms/key:Key", "stack-key", diffReasons=["description"]),
])

SERVICES = digest({"create": 12, "replace": 1, "delete": 3, "same": 200}, [
    *(step("create", "prod", "aws:lambda/function:Function", f"fn-{i}") for i in range(12)),
    step("replace", "prod", "blueprints:services:QueryKeyApi$aws:apigateway/stage:Stage",
         "query-key-api-stage", replaceReasons=["stageName"]),
    step("create-replacement", "prod",
         "blueprints:services:QueryKeyApi$aws:apigateway/stage:Stage", "query-key-api-stage"),
    step("delete-replaced", "prod",
         "blueprints:services:QueryKeyApi$aws:apigateway/stage:Stage", "query-key-api-stage"),
    step("delete", "prod", "aws:dynamodb/table:Table", "registrations"),
    step("delete", "prod", "aws:s3/bucket:Bucket", "documents"),
    step("delete", "prod", "aws:sqs/queue:Queue", "jobs-dlq"),
])


def write(tmp_path: Path, stack: str, preview: Any) -> Path:
    found = tmp_path / f"preview-{stack}.json"
    found.write_text(preview if isinstance(preview, str) else json.dumps(preview, indent=4))
    return found


def test_deletes_and_replaces_come_first_with_their_names() -> None:
    assert summarize({"prod-env": ENV, "prod": SERVICES}) == (
        "prod-env: 2 to update; "
        "prod: 3 to delete (registrations, documents, jobs-dlq), "
        "1 to replace (query-key-api-stage), 12 to create")


def test_more_than_three_names_are_counted() -> None:
    steps = [step("delete", "dev", "aws:s3/bucket:Bucket", f"b{i}") for i in range(5)]
    assert summarize({"dev": digest({"delete": 5}, steps)}) == (
        "dev: 5 to delete (b0, b1, b2, +2 more)")


def test_a_stack_without_changes_says_so() -> None:
    assert summarize({"dev": digest({"same": 7}, [])}) == "dev: no changes"
    assert summarize({"dev": {}}) == "dev: no changes"


def test_other_ops_follow_create_and_update() -> None:
    preview = digest({"import": 1, "discard": 2, "create": 1}, [])
    assert summarize({"dev": preview}) == "dev: 1 to create, 1 to import, 2 to discard"


def test_without_a_change_summary_the_steps_are_counted() -> None:
    steps = [s for s in SERVICES["steps"]]
    assert summarize({"prod": {"steps": steps}}) == (
        "prod: 3 to delete (registrations, documents, jobs-dlq), "
        "1 to replace (query-key-api-stage), 12 to create")


def test_a_long_summary_drops_the_names_before_it_clips() -> None:
    long_names = [step("delete", "prod", "aws:s3/bucket:Bucket", "b" * 60 + str(i))
                  for i in range(3)]
    previews = {f"stack-{i}": digest({"delete": 3, "create": 1}, long_names) for i in range(6)}
    line = summarize(previews)
    assert len(line) <= MAX_CHARS
    assert "b" * 60 not in line
    assert line.startswith("stack-0: 3 to delete, 1 to create; stack-1:")


def test_a_summary_too_long_even_without_names_is_clipped() -> None:
    previews = {f"stack-with-a-long-name-{i:02}": digest({"update": i + 1}, [])
                for i in range(20)}
    line = summarize(previews)
    assert len(line) == MAX_CHARS
    assert line.endswith("...")
    assert "\n" not in line


def test_short_name() -> None:
    assert short_name(urn("prod", "a$b:c/d:E", "x::y")) == "x::y"
    assert short_name("not-a-urn") == "not-a-urn"


def events(stack: str) -> str:
    """The stream of engine events, one object a line, as the streaming preview writes it."""
    found: list[dict[str, Any]] = [
        {"sequence": 0, "timestamp": 1, "preludeEvent": {"config": {}}},
        {"sequence": 1, "timestamp": 2, "resourcePreEvent": {
            "metadata": {"op": "delete", "urn": urn(stack, "aws:s3/bucket:Bucket", "old-logs"),
                         "type": "aws:s3/bucket:Bucket"}, "planning": True}},
        {"sequence": 2, "timestamp": 3, "policyEvent": {
            "resourceUrn": urn(stack, "aws:lambda/function:Function", "fn"),
            "message": "functions should trace", "color": "never",
            "policyName": "lambda-tracing", "policyPackName": "blueprints-guardrails",
            "policyPackVersion": "0.1.0", "enforcementLevel": "advisory"}},
        {"sequence": 3, "timestamp": 4, "policyEvent": {
            "message": "tags", "policyName": "lambda-memory",
            "policyPackName": "blueprints-guardrails", "enforcementLevel": "advisory"}},
        {"sequence": 4, "timestamp": 5, "summaryEvent": {
            "maybeCorrupt": False, "durationSeconds": 9,
            "resourceChanges": {"delete": 1, "create": 4, "same": 3}, "policyPacks": {}}},
    ]
    return "\n".join(json.dumps(e) for e in found) + "\n"


def test_main_reads_the_files_in_order(tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                       ) -> None:
    files = [write(tmp_path, "prod-env", ENV), write(tmp_path, "prod", SERVICES)]
    assert main([str(f) for f in files]) == 0
    out = capsys.readouterr().out
    assert out.count("\n") == 1
    assert out.startswith("prod-env: 2 to update; prod: 3 to delete (")


def test_policy_findings_from_the_event_stream(tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    assert main([str(write(tmp_path, "dev", events("dev")))]) == 0
    assert capsys.readouterr().out == (
        "dev: 1 to delete (old-logs), 4 to create (2 advisory policy findings)\n")


def test_mandatory_and_advisory_findings_are_counted_apart() -> None:
    preview = {**digest({"create": 1}, []), "policyEvents": [
        {"enforcementLevel": "mandatory"}, {"enforcementLevel": "advisory"}]}
    assert summarize({"dev": preview}) == (
        "dev: 1 to create (1 advisory, 1 mandatory policy findings)")


def test_text_before_the_json_is_skipped(tmp_path: Path) -> None:
    noisy = "Installing dependencies...\n\nFinished installing\n" + json.dumps(ENV, indent=4)
    assert load(write(tmp_path, "prod-env", noisy)) == ENV


@pytest.mark.parametrize(("content", "reason"), [
    (None, "cannot read it: No such file or directory"),
    ("", "no JSON object in it"),
    ("error: preview failed\n", "no JSON object in it"),
    ('{\n    "steps": [\n', "not JSON: "),
    ('{"name": "something else"}', "not the JSON `pulumi preview --json` writes"),
])
def test_a_bad_file_is_one_line_naming_it(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                          content: str | None, reason: str) -> None:
    good = write(tmp_path, "prod-env", ENV)
    bad = tmp_path / "preview-prod.json"
    if content is not None:
        bad.write_text(content)
    assert main([str(good), str(bad)]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith(f"error: {bad}: {reason}")
    assert captured.err.count("\n") == 1


def test_an_undecodable_file_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "preview-dev.json"
    bad.write_bytes(b"\xff\xfe{")
    assert main([str(bad)]) == 1
    assert capsys.readouterr().err == f"error: {bad}: cannot read it: not UTF-8 text\n"
