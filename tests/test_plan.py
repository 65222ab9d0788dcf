"""The offline plan's command line: its JSON, and one line per broken input file."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pulumi
import pulumi_aws as aws
import pytest
from pulumi_policy import ResourceValidationArgs, ResourceValidationPolicy

from tools import plan
from tools.mock_runtime import PlanError, load_stack_file, run_program, run_stack
from tools.verdicts import evaluate


def plan_json(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, Any]:
    assert plan.main(["--stack", "dev", "--json", *args]) == 0
    return json.loads(capsys.readouterr().out)


def test_json_prints_whole_numbers_as_integers(capsys: pytest.CaptureFixture[str]) -> None:
    document = plan_json(capsys)
    functions = [r for r in document["resources"] if r["type"] == "aws:lambda/function:Function"]
    assert functions
    assert all(type(f["inputs"]["memorySize"]) is int for f in functions)
    groups = [r for r in document["resources"] if r["type"] == "aws:cloudwatch/logGroup:LogGroup"]
    assert {g["inputs"]["retentionInDays"] for g in groups} == {14}
    text = json.dumps(document)
    assert not re.search(r'"(memorySize|timeout|retentionInDays)": \d+\.0\b', text)


def test_policies_see_numbers_as_the_analyzer_hands_them_over() -> None:
    # The analyzer reads properties from a protobuf Struct: every number is a double there,
    # even though the record keeps the program's integers.
    seen: dict[str, Any] = {}

    def look(args: ResourceValidationArgs, report: Any) -> None:
        if args.resource_type == "aws:sqs/queue:Queue":
            seen.update(args.props)

    def program() -> None:
        opts = pulumi.ResourceOptions(provider=aws.Provider("p", region="eu-west-1"))
        aws.sqs.Queue("jobs", delay_seconds=5, fifo_queue=True, opts=opts)

    run = run_program(program)
    assert type(run.one("aws:sqs/queue:Queue").inputs["delaySeconds"]) is int
    evaluate(run, policies=[ResourceValidationPolicy("look", "records what it sees", look)])
    assert type(seen["delaySeconds"]) is float
    assert seen["fifoQueue"] is True


# --- broken input files: one line naming the file and the position, no traceback ---------

ROOT = Path(__file__).resolve().parents[1]


def project_with(tmp_path: Path, stack_file: str, project_file: str | None = None) -> Path:
    (tmp_path / "Pulumi.yaml").write_text(project_file or (ROOT / "Pulumi.yaml").read_text())
    (tmp_path / "Pulumi.dev.yaml").write_text(stack_file)
    return tmp_path


def plan_errors(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
                root: Path, *args: str) -> tuple[int, list[str]]:
    monkeypatch.setattr(plan, "run_stack", lambda stack: run_stack(stack, root=root))
    status = plan.main(["--stack", "dev", *args])
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    return status, captured.err.splitlines()


def test_a_yaml_syntax_error_names_the_stack_file_line_and_column(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    root = project_with(tmp_path, "config:\n  aws:region: eu-west-1\n"
                                  "  blueprints:stage: [dev\n  blueprints:tags: {}\n")
    status, lines = plan_errors(monkeypatch, capsys, root)
    assert status == 1
    assert len(lines) == 1, lines
    assert lines[0].startswith("error: stack dev: Pulumi.dev.yaml:4:18: not valid YAML: ")
    assert "<unicode string>" not in lines[0]


def test_a_yaml_syntax_error_in_the_project_file_names_it(tmp_path: Path) -> None:
    root = project_with(tmp_path, "config: {}\n", "name: blueprints\nruntime: python\n\t\n")
    with pytest.raises(PlanError, match=r"^Pulumi\.yaml:3:1: not valid YAML: .*'\\t'"):
        run_stack("dev", root=root)


@pytest.mark.parametrize(("text", "message"), [
    ("- just\n- a list\n", "Pulumi.dev.yaml: must be a mapping with a `config` section"),
    ("config: [aws:region]\n", "Pulumi.dev.yaml:1:9: `config` must be a mapping of keys to "
                               "values"),
])
def test_a_stack_file_of_the_wrong_shape_is_named(tmp_path: Path, text: str,
                                                  message: str) -> None:
    with pytest.raises(PlanError) as raised:
        load_stack_file("dev", root=project_with(tmp_path, text))
    assert str(raised.value) == message


def test_a_missing_policy_config_is_a_usage_error(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as raised:
        plan.main(["--stack", "dev", "--policy-config", str(tmp_path / "nope.json")])
    assert raised.value.code == 2
    err = capsys.readouterr().err
    assert f"argument --policy-config: can't read {tmp_path / 'nope.json'}: no such file" in err
    assert "Traceback" not in err


def test_a_policy_config_that_is_not_json_names_the_line_and_column(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "policy.json"
    path.write_text('{\n  "all": "advisory"\n  "required-tags": "mandatory"\n}\n')
    assert plan.main(["--stack", "dev", "--policy-config", str(path)]) == 1
    lines = capsys.readouterr().err.splitlines()
    assert lines == [f"error: {path}:3:3: not valid JSON: Expecting ',' delimiter"]


@pytest.mark.parametrize(("content", "message"), [
    ('["all"]', "must be an object of policy names to levels or settings"),
    ('{"all": "mandtory"}', "all: 'mandtory' is not an enforcement level; did you mean "
                            "'mandatory'? use one of advisory, mandatory, remediate, disabled"),
    ('{"required-tag": "mandatory"}', "required-tag: is not a policy of the pack; did you mean "
                                      "'required-tags'?"),
    ('{"sqs-redrive": {"enforcementLevel": 3}}', "sqs-redrive.enforcementLevel: 3 is not an "
                                                 "enforcement level"),
    ('{"sqs-redrive": 3}', "sqs-redrive: must be an enforcement level or an object of "
                           "settings"),
])
def test_a_policy_config_of_the_wrong_shape_says_what_is_wrong(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str, message: str) -> None:
    path = tmp_path / "policy.json"
    path.write_text(content)
    assert plan.main(["--stack", "dev", "--policy-config", str(path)]) == 1
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"error: {path}: {message}"), lines
