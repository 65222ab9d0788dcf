"""How long local mode takes to start a stack and to stop it, as a user runs it.

    venv/bin/python -m benchmarks.local_startup [--stack dev] [--repeat 3]

Each run is one ``python -m tools.local --stack <stack> --port 0`` in a process of its own
(interpreter start and imports included): the seconds until it prints "Press Ctrl-C", the
phases it reports, the seconds from Ctrl-C (SIGINT) to its exit, and whether every port it
listed was closed afterwards. Results go to ``benchmarks/results/local_startup.json``; nothing
is asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import signal
import socket
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tools.local.__main__ import READY

RESULTS = Path(__file__).resolve().parent / "results" / "local_startup.json"

_PHASES = re.compile(r"started in ([0-9.]+) s \((.*)\)")
_URL = re.compile(r"http://127\.0\.0\.1:(\d+)")


def listening(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def one_run(stack: str) -> dict[str, Any]:
    began = time.perf_counter()
    process = subprocess.Popen(  # noqa: S603 (our own CLI)
        [sys.executable, "-m", "tools.local", "--stack", stack, "--port", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert process.stdout is not None
    lines: list[str] = []
    for line in process.stdout:
        lines.append(line)
        if line.strip() == READY:
            break
    ready = time.perf_counter() - began
    if process.poll() is not None:
        raise SystemExit("local mode did not start:\n" + "".join(lines))
    reported = next(m for line in lines if (m := _PHASES.search(line)))
    ports = {int(port) for line in lines for port in _URL.findall(line)}
    stopping = time.perf_counter()
    process.send_signal(signal.SIGINT)
    process.communicate(timeout=120)
    stopped = time.perf_counter() - stopping
    return {"command_seconds": round(ready, 2), "reported_seconds": float(reported.group(1)),
            "phases": dict((name, float(seconds)) for name, _, seconds in
                           (part.rpartition(" ") for part in reported.group(2).split(", "))),
            "stop_seconds": round(stopped, 2), "ports": len(ports),
            "left_listening": sorted(port for port in ports if listening(port))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--stack", default="dev")
    parser.add_argument("--repeat", type=int, default=3)
    arguments = parser.parse_args()
    runs = [one_run(arguments.stack) for _ in range(arguments.repeat)]
    result = {
        "recorded": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, "
                   f"CPython {platform.python_version()}",
        "stack": arguments.stack,
        "median_command_seconds": statistics.median(r["command_seconds"] for r in runs),
        "runs": runs,
    }
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
