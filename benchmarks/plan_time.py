"""Wall time and resource count of the offline plan, for every stack in the project.

    venv/bin/python -m benchmarks.plan_time [--repeat 5]

Two figures per stack:

- ``command_seconds``: one run of ``python -m tools.plan --stack <stack>`` as a user types it,
  interpreter start and imports included;
- ``median_seconds`` (with min and max): ``--repeat`` plans in this process after a warm-up:
  the program under the mock runtime, then the guardrails over what it declared.

``prod`` reads ``prod-env`` through a StackReference, so its figures include planning
``prod-env`` first. The results go to ``benchmarks/results/plan_time.json``. Nothing here is
asserted: the numbers are for reading.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from tools.mock_runtime import StackRun, run_stack, stack_names
from tools.verdicts import evaluate

RESULTS = Path(__file__).resolve().parent / "results" / "plan_time.json"


def command_seconds(stack: str) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "tools.plan", "--stack", stack], check=True,  # noqa: S603
                   stdout=subprocess.DEVNULL)
    return round(time.perf_counter() - started, 3)


def plan(stack: str) -> StackRun:
    run = run_stack(stack)
    evaluate(run)
    return run


def measure(stack: str, repeat: int) -> dict[str, object]:
    command = command_seconds(stack)
    plan(stack)
    timings = []
    for _ in range(repeat):
        started = time.perf_counter()
        run = plan(stack)
        timings.append(time.perf_counter() - started)
    return {
        "stack": stack,
        "cloud_resources": sum(1 for _ in run.managed()),
        "all_resources": len(run.resources),
        "command_seconds": command,
        "median_seconds": round(statistics.median(timings), 3),
        "min_seconds": round(min(timings), 3),
        "max_seconds": round(max(timings), 3),
        "runs": repeat,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=5)
    options = parser.parse_args()
    rows = [measure(stack, options.repeat) for stack in stack_names()]
    result = {
        "recorded": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, "
                   f"{platform.python_implementation()} {platform.python_version()}",
        "stacks": rows,
    }
    print(f"{'stack':<10} {'cloud':>6} {'all':>5} {'command s':>10} {'median s':>9} "
          f"{'min s':>7} {'max s':>7}")
    for row in rows:
        print(f"{row['stack']:<10} {row['cloud_resources']:>6} {row['all_resources']:>5} "
              f"{row['command_seconds']:>10} {row['median_seconds']:>9} {row['min_seconds']:>7} "
              f"{row['max_seconds']:>7}")
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(f"written to {RESULTS}")


if __name__ == "__main__":
    main()
