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

Checked (the run fails otherwise; ``benchmarks.loadtest_scenarios``, which the microservice
cache's benchmark shares): every throttle check passes, or is not exercised where the load stays
within the limits; a scenario past its limits saw 429s; the function ran exactly once per
admitted request (and per warm-up), never for a 429. Results:
``results/loadtest_query_key_api.json``.

Times are local mode's on this machine: one execution environment per function (so
invocations queue), handlers on this machine's Python, moto for DynamoDB. They rank scenarios
and show the throttles at work; they are not Lambda's or API Gateway's latencies.
"""

from __future__ import annotations

import json
from pathlib import Path

from benchmarks.loadtest_scenarios import Scenario, arguments, run_benchmark
from loadtest.kit import Auth, Call
from loadtest.profiles import Profile, ProfileKind

RESULTS = Path(__file__).resolve().parent / "results" / "loadtest_query_key_api.json"
API = "queryKeyApi-api"
FUNCTION = "queryKeyApi-customizations-function"
GET = Call("GET", "/customizations/missing")
POST = Call("POST", "/customizations", body=json.dumps({
    "name": "Cherry-themed unicorn", "imageUrl": "https://example.com/cherry.png",
    "sock": "1", "horn": "2", "glasses": "3", "cape": "4"}))


def scenario(name: str, key: str, call: Call, profile: Profile,
             past_limits: bool) -> Scenario:
    return Scenario(name, call, profile, past_limits, Auth("key", key_name=key), FUNCTION)


def scenarios(duration: float) -> list[Scenario]:
    steady, burst = ProfileKind.STEADY, ProfileKind.BURST
    return [
        scenario("free, within the tier", "trial-partner", GET,
                 Profile(steady, 4, duration), False),
        scenario("free, twice the rate", "trial-partner", GET,
                 Profile(steady, 10, duration), True),
        scenario("free, burst", "trial-partner", GET,
                 Profile(burst, 10, duration, burst=20), True),
        scenario("premium, within the tier", "wild-rydes-partner", GET,
                 Profile(steady, 50, duration), False),
        scenario("premium, 1.5 times the rate", "wild-rydes-partner", GET,
                 Profile(steady, 150, duration), True),
        scenario("premium, burst", "wild-rydes-partner", GET,
                 Profile(burst, 100, duration, burst=400), True),
        scenario("premium POST, burst", "wild-rydes-partner", POST,
                 Profile(burst, 30, duration, burst=80), True),
    ]


def main() -> None:
    run_benchmark("queryKeyApi", API, scenarios,
                  arguments(__doc__.split("\n\n")[0], RESULTS))


if __name__ == "__main__":
    main()
