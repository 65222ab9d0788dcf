"""Wall time and resource count of the offline plan, for every stack in the project.

    venv/bin/python -m benchmarks.plan_time [--repeat 5]

Two figures per stack:

- ``command_seconds``: ``python -m tools.plan --stack <stack>`` as a user types it,
  interpreter start and imports included, the median of ``--commands`` runs (min and max
  beside it);
- ``median_seconds`` (with min and max): ``--repeat`` plans in this process after a warm-up:
  the program under the mock runtime, then the guardrails over what it declared.

For ``dev`` the command is held to ``TARGET_SECONDS``: the results say by how much it misses, if
it does, and where its time goes (``phases``: interpreter start, the Pulumi SDK and pulumi-aws
imports, the rest of the plan's imports, the program under mocks, the guardrails, the report),
measured in a process of its own. The load average is recorded at both ends: other processes
on the machine slow every figure.

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
TARGET_STACK = "dev"
TARGET_SECONDS = 3.0
PHASES = """
import gc, json, os, sys, time
started = time.perf_counter()
import pulumi, pulumi_aws
sdk = time.perf_counter()
from tools import plan
from tools.mock_runtime import run_stack
from tools.verdicts import evaluate
imports = time.perf_counter()
gc.disable()  # as the command does
run = run_stack(sys.argv[1])
program = time.perf_counter()
verdicts = evaluate(run)
guardrails = time.perf_counter()
plan.report(run, verdicts)
done = time.perf_counter()
print(json.dumps({"pulumi_and_pulumi_aws_imports": sdk - started,
                  "plan_imports": imports - sdk, "program_under_mocks": program - imports,
                  "guardrails": guardrails - program, "report": done - guardrails}))
sys.stdout.flush()
os._exit(0)  # as the command does
"""


def command_seconds(stack: str) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "tools.plan", "--stack", stack], check=True,  # noqa: S603
                   stdout=subprocess.DEVNULL)
    return round(time.perf_counter() - started, 3)


def phases(stack: str) -> dict[str, float]:
    """Where one command's time goes, measured in a process of its own."""
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", PHASES, stack], check=True,  # noqa: S603
                          capture_output=True, text=True)
    total = time.perf_counter() - started
    inside = json.loads(done.stdout.splitlines()[-1])
    return {"interpreter_start": round(total - sum(inside.values()), 3),
            **{name: round(seconds, 3) for name, seconds in inside.items()},
            "total": round(total, 3)}


def plan(stack: str) -> StackRun:
    run = run_stack(stack)
    evaluate(run)
    return run


def measure(stack: str, repeat: int, commands: int) -> dict[str, object]:
    command_runs = [command_seconds(stack) for _ in range(commands)]
    command = statistics.median(command_runs)
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
        "command_seconds": round(command, 3),
        "command_min_seconds": min(command_runs),
        "command_max_seconds": max(command_runs),
        "median_seconds": round(statistics.median(timings), 3),
        "min_seconds": round(min(timings), 3),
        "max_seconds": round(max(timings), 3),
        "runs": repeat,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--commands", type=int, default=3,
                        help="runs of the command per stack (the median is recorded)")
    options = parser.parse_args()
    load_start = [round(value, 2) for value in os.getloadavg()]
    rows = [measure(stack, options.repeat, options.commands) for stack in stack_names()]
    target = next(row for row in rows if row["stack"] == TARGET_STACK)
    command = float(str(target["command_seconds"]))
    result = {
        "recorded": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, "
                   f"{platform.python_implementation()} {platform.python_version()}",
        "load_average_start": load_start,
        "target": {"stack": TARGET_STACK, "command_seconds": command,
                   "target_seconds": TARGET_SECONDS, "met": command <= TARGET_SECONDS,
                   "misses_by_seconds": round(max(0.0, command - TARGET_SECONDS), 3),
                   "phases": phases(TARGET_STACK)},
        "stacks": rows,
        "load_average_end": [round(value, 2) for value in os.getloadavg()],
    }
    print(f"{'stack':<10} {'cloud':>6} {'all':>5} {'command s':>10} {'median s':>9} "
          f"{'min s':>7} {'max s':>7}")
    for row in rows:
        print(f"{row['stack']:<10} {row['cloud_resources']:>6} {row['all_resources']:>5} "
              f"{row['command_seconds']:>10} {row['median_seconds']:>9} {row['min_seconds']:>7} "
              f"{row['max_seconds']:>7}")
    verdict = "within" if command <= TARGET_SECONDS else \
        f"misses by {result['target']['misses_by_seconds']} s"  # type: ignore[index]
    print(f"{TARGET_STACK} as a command: {command} s, {verdict} the {TARGET_SECONDS} s target; "
          f"phases {result['target']['phases']}")  # type: ignore[index]
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(f"written to {RESULTS}")


if __name__ == "__main__":
    main()
