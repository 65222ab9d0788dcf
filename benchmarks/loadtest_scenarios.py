"""What the load-test benchmarks share: a service of the dev stack alone in local mode, a list of
scenarios run through ``loadtest.kit.load_test`` one after the other, their checks, and the
results file.

Each scenario is one request (``Call``) with its credentials (``Auth``) on one schedule
(``Profile``), Locust in a child process as ``python -m loadtest`` runs it, one warm-up request
first, and ``--settle`` seconds before it so that it starts with full buckets. Checked after
each (the run stops at the first failure):

- every request was answered;
- the throttle check did not fail; a scenario past its limits exercised it (``pass``) and saw
  429s, one within them saw none;
- the function behind the route ran exactly once per admitted request (and per warm-up
  request), never for a 429: the back end saw no more than the throttles admitted.

A benchmark may observe more around each scenario (``Observer``): called before the load, it
returns what is called with the report afterwards, whose figures join the scenario's row (and
which may check them too).
"""

from __future__ import annotations

import argparse
import importlib.metadata
import os
import platform
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks.recording import cpu_model, write_results
from loadtest.kit import Auth, Call, Report, load_test
from loadtest.limits import find_api
from loadtest.profiles import Profile
from loadtest.target import local_endpoint
from tools.local.stack import LocalStack

TARGET = "local mode on 127.0.0.1"


@dataclass(frozen=True)
class Scenario:
    name: str
    call: Call
    profile: Profile
    past_limits: bool  # the load exceeds the limits: 429s are expected
    auth: Auth
    function: str  # the function behind the route, by its name in the plan


# Called before a scenario's load; what it returns is called with the report and gives the
# figures to add to the scenario's row.
Observer = Callable[[Scenario], Callable[[Report], dict[str, Any]]]


def check(condition: bool, message: str) -> None:
    if not condition:
        raise RuntimeError(f"check failed: {message}")


def row(scenario: Scenario, report: Report, invoked: int) -> dict[str, Any]:
    s = report.summary
    findings = {finding.name: finding for finding in report.check.findings}
    latency = s.latency_admitted.__dict__ if s.latency_admitted else None
    credentials: dict[str, Any] = ({"key": scenario.auth.key_name}
                                   if scenario.auth.kind == "key" else {"auth": report.auth})
    return {"scenario": scenario.name, **credentials,
            "request": f"{scenario.call.method} {scenario.call.path}",
            "profile": report.profile.describe(), "requests": s.requests, "users": report.users,
            "limits": [f"{b.rate:g}/s burst {b.burst} ({b.source})"
                       for b in report.check.limits.buckets],
            "statuses": s.statuses, "throttled_429": s.throttled_429, "quota_429": s.quota_429,
            "no_answer": s.no_answer, "admitted": s.admitted, "function_invocations": invoked,
            "throughput_rps": s.throughput_rps, "admitted_rps": s.admitted_rps,
            "latency_all": s.latency.__dict__ if s.latency else None,
            "latency_admitted": latency, "send_lag_p99_ms": s.send_lag_p99_ms,
            "throttle_check": report.check.verdict,
            "findings": {name: {"verdict": f.verdict, **f.figures}
                         for name, f in findings.items()},
            "first_second_429": report.seconds[0].throttled_429 if report.seconds else 0,
            "locust": report.locust}


def machine() -> dict[str, Any]:
    return {"cpu": cpu_model(), "cores": os.cpu_count(), "arch": platform.machine(),
            "python": f"{platform.python_implementation()} {platform.python_version()}",
            "locust": importlib.metadata.version("locust"),
            "load_average": [round(value, 2) for value in os.getloadavg()]}


def arguments(description: str, results: Path) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--duration", type=float, default=10.0,
                        help="seconds of steady arrivals per scenario")
    parser.add_argument("--settle", type=float, default=3.0,
                        help="seconds between scenarios, for the buckets to refill")
    parser.add_argument("--output", type=Path, default=results)
    return parser.parse_args()


def run_scenario(stack: LocalStack, scenario: Scenario, api_name: str, run_file: Path,
                 observe: Observer | None = None) -> dict[str, Any]:
    """One scenario against the running ``stack``, checked; its row of the results."""
    assert stack.run is not None
    assert stack.lambdas is not None
    api = find_api(stack.run, api_name)
    endpoint = local_endpoint(api, "dev", run_file)
    after = observe(scenario) if observe is not None else None
    before = stack.lambdas.invoked[scenario.function]
    report = load_test(stack.run, api, endpoint, scenario.call, scenario.profile, scenario.auth)
    invoked = stack.lambdas.invoked[scenario.function] - before - len(report.warmup)
    result = row(scenario, report, invoked)
    s = report.summary
    latency = s.latency_admitted
    print(f"{scenario.name:28} {s.requests:5} sent  {s.statuses}  "
          f"p50/p95/p99 {latency.p50_ms if latency else '-'}/"
          f"{latency.p95_ms if latency else '-'}/"
          f"{latency.p99_ms if latency else '-'} ms  "
          f"{s.admitted_rps:g} admitted/s  check {report.check.verdict}", flush=True)
    check(report.complete and s.no_answer == 0, f"{scenario.name}: every request answered")
    check(not report.check.failed, f"{scenario.name}: the throttle check: "
          + "; ".join(f.detail for f in report.check.findings))
    check(invoked == s.admitted, f"{scenario.name}: the function ran {invoked} "
          f"times for {s.admitted} admitted requests")
    if scenario.past_limits:
        check(report.check.verdict == "pass", f"{scenario.name}: exercised")
        check(s.throttled_429 > 0, f"{scenario.name}: 429s past the limits")
    else:
        check(s.throttled_429 == 0, f"{scenario.name}: no 429 within the limits")
    if after is not None:
        result.update(after(report))
    return result


def run_benchmark(service: str, api_name: str, scenarios: Callable[[float], Sequence[Scenario]],
                  args: argparse.Namespace, *,
                  prepare: Callable[[LocalStack, dict[str, Any]], Observer | None] | None = None
                  ) -> None:
    """Serves ``service`` alone in local mode, runs its scenarios and writes the results.
    ``prepare``, given the started stack and the results document (to add what it seeded, say),
    seeds the stack and may return an observer."""
    started = time.perf_counter()
    document: dict[str, Any] = {
        "recorded": datetime.now(UTC).isoformat(timespec="seconds"), "machine": machine(),
        "stack": "dev", "service": service, "duration_s": args.duration, "target": TARGET}
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="loadtest-bench-") as folder:
        lines: list[str] = []
        stack = LocalStack("dev", services=[service], aws_port=0, output=lines.append,
                           run_folder=Path(folder))
        with stack:
            observe = prepare(stack, document) if prepare is not None else None
            for scenario in scenarios(args.duration):
                time.sleep(args.settle)
                rows.append(run_scenario(stack, scenario, api_name, Path(folder) / "dev.json",
                                         observe))
    document["scenarios"] = rows
    write_results(document, args.output, started)
