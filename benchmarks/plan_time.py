"""Wall time and resource count of the offline plan, for every stack in the project.

    venv/bin/python -m benchmarks.plan_time [--repeat 5]

Each stack is planned ``--repeat`` times in this process after one warm-up run (the first run
pays for importing pulumi-aws). The figures are printed and written to
``benchmarks/results/plan_time.json``. Nothing here is asserted: the numbers are for reading.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from datetime import UTC, datetime
from pathlib import Path

from tools.mock_runtime import run_stack, stack_names

RESULTS = Path(__file__).resolve().parent / "results" / "plan_time.json"


def measure(stack: str, repeat: int) -> dict[str, object]:
    run = run_stack(stack)
    timings = []
    for _ in range(repeat):
        started = time.perf_counter()
        run = run_stack(stack)
        timings.append(time.perf_counter() - started)
    return {
        "stack": stack,
        "cloud_resources": sum(1 for _ in run.managed()),
        "all_resources": len(run.resources),
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
    started = time.perf_counter()
    import_seconds = None
    rows = []
    for stack in stack_names():
        rows.append(measure(stack, options.repeat))
        if import_seconds is None:
            import_seconds = round(time.perf_counter() - started, 3)
    result = {
        "recorded": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()}, {platform.python_implementation()} "
                   f"{platform.python_version()}",
        "first_stack_including_imports_seconds": import_seconds,
        "stacks": rows,
    }
    print(f"{'stack':<10} {'cloud':>6} {'all':>5} {'median s':>9} {'min s':>7} {'max s':>7}")
    for row in rows:
        print(f"{row['stack']:<10} {row['cloud_resources']:>6} {row['all_resources']:>5} "
              f"{row['median_seconds']:>9} {row['min_seconds']:>7} {row['max_seconds']:>7}")
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(f"written to {RESULTS}")


if __name__ == "__main__":
    main()
