"""The load-test kit against local mode's queryKeyApi: steady and burst profiles per tier, their
latency percentiles and throughput, the 429s, and the throttle check.

    venv/bin/python -m benchmarks.loadtest_query_key_api [--duration 10] [--settle 3]

Local mode serves the dev stack's queryKeyApi alone (``LocalStack("dev",
services=["queryKeyApi"])``, free ports, in this process); each scenario is one
``loadtest.kit.load_test`` (Locust in a child process, as ``python -m loadtest`` runs it), with
the key of a tier in the query string, one warm-up request first, and ``--settle`` seconds
between scenarios so that each starts with full buckets. ``GET /customizations/missing`` runs
the authorizer (cached per key after the warm-up) and the function (a DynamoDB GetItem, then
404); ``POST /customizations`` stores an item (201).

Checked (the run fails otherwise): every throttle check passes, or is not exercised where the
load stays within the limits; a scenario past its limits saw 429s in its first second; the
function ran exactly once per admitted request (and per warm-up), never for a 429. Results:
``results/loadtest_query_key_api.json``.

Times are local mode's on this machine: one execution environment per function (so
invocations queue), handlers on this machine's Python, moto for DynamoDB. They rank scenarios
and show the throttles at work; they are not Lambda's or API Gateway's latencies.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks.recording import cpu_model, write_results
from loadtest.kit import Auth, Call, Report, load_test
from loadtest.limits import find_api
from loadtest.profiles import Profile, ProfileKind
from loadtest.target import local_endpoint
from tools.local.stack import LocalStack

RESULTS = Path(__file__).resolve().parent / "results" / "loadtest_query_key_api.json"
API = "queryKeyApi-api"
FUNCTION = "queryKeyApi-customizations-function"
GET = Call("GET", "/customizations/missing")
POST = Call("POST", "/customizations", body=json.dumps({
    "name": "Cherry-themed unicorn", "imageUrl": "https://example.com/cherry.png",
    "sock": "1", "horn": "2", "glasses": "3", "cape": "4"}))


@dataclass(frozen=True)
class Scenario:
    name: str
    key: str
    call: Call
    profile: Profile
    past_limits: bool  # the load exceeds the limits: 429s are expected


def scenarios(duration: float) -> list[Scenario]:
    steady, burst = ProfileKind.STEADY, ProfileKind.BURST
    return [
        Scenario("free, within the tier", "trial-partner", GET,
                 Profile(steady, 4, duration), False),
        Scenario("free, twice the rate", "trial-partner", GET,
                 Profile(steady, 10, duration), True),
        Scenario("free, burst", "trial-partner", GET,
                 Profile(burst, 10, duration, burst=20), True),
        Scenario("premium, within the tier", "wild-rydes-partner", GET,
                 Profile(steady, 50, duration), False),
        Scenario("premium, 1.5 times the rate", "wild-rydes-partner", GET,
                 Profile(steady, 150, duration), True),
        Scenario("premium, burst", "wild-rydes-partner", GET,
                 Profile(burst, 100, duration, burst=400), True),
        Scenario("premium POST, burst", "wild-rydes-partner", POST,
                 Profile(burst, 30, duration, burst=80), True),
    ]


def check(condition: bool, message: str) -> None:
    if not condition:
        raise RuntimeError(f"check failed: {message}")


def row(scenario: Scenario, report: Report, invoked: int) -> dict[str, Any]:
    s = report.summary
    findings = {finding.name: finding for finding in report.check.findings}
    latency = s.latency_admitted.__dict__ if s.latency_admitted else None
    return {"scenario": scenario.name, "key": scenario.key,
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
    import importlib.metadata

    return {"cpu": cpu_model(), "cores": os.cpu_count(), "arch": platform.machine(),
            "python": f"{platform.python_implementation()} {platform.python_version()}",
            "locust": importlib.metadata.version("locust"),
            "load_average": [round(value, 2) for value in os.getloadavg()]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=10.0,
                        help="seconds of steady arrivals per scenario")
    parser.add_argument("--settle", type=float, default=3.0,
                        help="seconds between scenarios, for the buckets to refill")
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args()

    started = time.perf_counter()
    document: dict[str, Any] = {
        "recorded": datetime.now(UTC).isoformat(timespec="seconds"), "machine": machine(),
        "stack": "dev", "service": "queryKeyApi", "duration_s": args.duration,
        "target": "local mode on 127.0.0.1", "scenarios": []}
    with tempfile.TemporaryDirectory(prefix="loadtest-bench-") as folder:
        lines: list[str] = []
        stack = LocalStack("dev", services=["queryKeyApi"], aws_port=0, output=lines.append,
                           run_folder=Path(folder))
        with stack:
            assert stack.run is not None
            assert stack.lambdas is not None
            api = find_api(stack.run, API)
            endpoint = local_endpoint(api, "dev", Path(folder) / "dev.json")
            for scenario in scenarios(args.duration):
                time.sleep(args.settle)
                before = stack.lambdas.invoked[FUNCTION]
                report = load_test(stack.run, api, endpoint, scenario.call, scenario.profile,
                                   Auth("key", key_name=scenario.key))
                invoked = stack.lambdas.invoked[FUNCTION] - before - len(report.warmup)
                result = row(scenario, report, invoked)
                document["scenarios"].append(result)
                s = report.summary
                latency = s.latency_admitted
                print(f"{scenario.name:28} {s.requests:5} sent  {s.statuses}  "
                      f"p50/p95/p99 {latency.p50_ms if latency else '-'}/"
                      f"{latency.p95_ms if latency else '-'}/"
                      f"{latency.p99_ms if latency else '-'} ms  "
                      f"{s.admitted_rps:g} admitted/s  check {report.check.verdict}",
                      flush=True)
                check(report.complete and s.no_answer == 0,
                      f"{scenario.name}: every request answered")
                check(not report.check.failed, f"{scenario.name}: the throttle check: "
                      + "; ".join(f.detail for f in report.check.findings))
                check(invoked == s.admitted, f"{scenario.name}: the function ran {invoked} "
                      f"times for {s.admitted} admitted requests")
                if scenario.past_limits:
                    check(report.check.verdict == "pass", f"{scenario.name}: exercised")
                    check(s.throttled_429 > 0, f"{scenario.name}: 429s past the limits")
                else:
                    check(s.throttled_429 == 0, f"{scenario.name}: no 429 within the tier")
    write_results(document, args.output, started)


if __name__ == "__main__":
    main()
