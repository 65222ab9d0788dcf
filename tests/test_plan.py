"""The offline plan's command line: its JSON, and one line per broken input file."""

from __future__ import annotations

import json
import re
from typing import Any

import pulumi
import pulumi_aws as aws
import pytest
from pulumi_policy import ResourceValidationArgs, ResourceValidationPolicy

from tools import plan
from tools.mock_runtime import run_program
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
