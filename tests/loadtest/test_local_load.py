"""A real load, a few seconds long, against local mode's queryKeyApi on 127.0.0.1: Locust in
its own process, the REQUEST authorizer, the usage plans' token buckets, and the function in
its worker. The stack is this module's own, on free ports (local mode's embedded AWS is one per
process: it stops before the next module's starts)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from loadtest.cli import main
from loadtest.kit import Auth, Call, load_test
from loadtest.limits import find_api
from loadtest.profiles import Profile, ProfileKind
from loadtest.target import local_endpoint
from tools.local.stack import LocalStack

API = "queryKeyApi-api"
FUNCTION = "queryKeyApi-customizations-function"
MISSING = "/customizations/missing"  # the function runs, and answers 404


@pytest.fixture(scope="module")
def query_key_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    lines: list[str] = []
    stack = LocalStack("dev", services=["queryKeyApi"], aws_port=0, output=lines.append,
                       run_folder=tmp_path_factory.mktemp("local-mode"))
    stack.start()
    yield stack
    stack.stop()


def test_past_the_burst_the_free_tier_gets_429_and_the_back_end_no_more_than_its_rate(
        query_key_api: LocalStack, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    assert query_key_api.lambdas is not None
    # The command line plans the stack first; local mode has just done it.
    monkeypatch.setattr("tools.mock_runtime.run_stack", lambda stack: query_key_api.run)
    before = query_key_api.lambdas.invoked[FUNCTION]
    status = main(["--api", API, "--path", MISSING, "--profile", "burst", "--rate", "10",
                   "--duration", "3", "--key", "trial-partner", "--json",
                   "--run-file", str(query_key_api.run_folder / "dev.json")])
    report = json.loads(capsys.readouterr().out)
    assert status == 0, report["throttle_check"]
    summary, check = report["summary"], report["throttle_check"]
    assert report["profile"]["burst"] == 20  # twice the free tier's burst of 10
    assert summary["no_answer"] == 0
    assert set(summary["statuses"]) == {"404", "429"}
    findings = {finding["name"]: finding for finding in check["findings"]}
    assert check["verdict"] == "pass"
    # The first second sent 29 (20 at once, then 10/s): past 10 + 5/s, callers got 429.
    assert findings["burst"]["verdict"] == "pass"
    assert findings["burst"]["figures"]["throttled_429"] > 0
    assert findings["rate"]["verdict"] == "pass"
    assert report["seconds"][0]["throttled_429"] > 0
    # The back end ran once per admitted request (and for the warm-up), never for a 429.
    assert query_key_api.lambdas.invoked[FUNCTION] - before == summary["admitted"] + 1
    assert summary["admitted"] <= findings["rate"]["figures"]["allowed"]


def test_a_steady_load_within_the_premium_tier_is_never_throttled(
        query_key_api: LocalStack) -> None:
    assert query_key_api.run is not None
    api = find_api(query_key_api.run, API)
    endpoint = local_endpoint(api, "dev", Path(query_key_api.run_folder) / "dev.json")
    report = load_test(query_key_api.run, api, endpoint, Call("GET", MISSING),
                       Profile(ProfileKind.STEADY, rate=40, duration=2),
                       Auth("key", key_name="wild-rydes-partner"))
    assert report.summary.statuses == {"404": 80}
    assert report.check.verdict == "not exercised"
    assert report.exit_status == 0
    latency = report.summary.latency_admitted
    assert latency is not None
    assert latency.count == 80
    assert latency.p50_ms <= latency.p95_ms <= latency.p99_ms <= latency.max_ms
    assert report.locust["requests"] == 80  # Locust counted the same requests (not the warm-up)
