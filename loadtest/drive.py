"""Runs a load in the Locust child process (``loadtest.runner``) and reads its samples back.

The request (its key or token included) goes to the child on standard input, never on its
command line or on disk; the samples come back in a file of a private temporary folder.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from loadtest.stats import Sample

ROOT = Path(__file__).resolve().parent.parent
MAX_USERS = 1000


class LoadTestError(Exception):
    """The run could not be made; the message says why."""


@dataclass(frozen=True)
class LoadSpec:
    """One run: the request and when to send it."""

    url: str
    method: str
    schedule: Sequence[float]
    users: int
    headers: Mapping[str, str] = field(default_factory=dict)
    body: str | None = None
    timeout_s: float = 10.0
    sigv4_region: str | None = None
    name: str = ""
    warmup: int = 1


@dataclass(frozen=True)
class LoadRun:
    samples: list[Sample]
    users: int
    complete: bool
    connected_first: bool
    warmup: list[int]
    locust: dict[str, Any]


def default_users(burst: int, rate: float) -> int:
    """A pool that sends the whole burst at once and keeps the rate with answers of up to half
    a second in flight."""
    return max(1, min(MAX_USERS, burst + math.ceil(rate * 0.5) + 5))


def run_load(spec: LoadSpec, environment: Mapping[str, str] | None = None) -> LoadRun:
    """Runs ``spec`` in a Locust child process, with ``environment`` added to this one's."""
    if not spec.schedule:
        raise LoadTestError("the schedule sends no request")
    child_environment = {**os.environ, **(environment or {})}
    child_environment["PYTHONPATH"] = os.pathsep.join(
        part for part in (str(ROOT), child_environment.get("PYTHONPATH", "")) if part)
    with tempfile.TemporaryDirectory(prefix="loadtest-") as folder:
        results = Path(folder) / "results.json"
        document = {"url": spec.url, "method": spec.method, "headers": dict(spec.headers),
                    "body": spec.body, "schedule": list(spec.schedule), "users": spec.users,
                    "timeout_s": spec.timeout_s, "sigv4_region": spec.sigv4_region,
                    "name": spec.name, "warmup": spec.warmup, "results": str(results)}
        try:
            process = subprocess.run(
                [sys.executable, "-m", "loadtest.runner"], input=json.dumps(document),
                capture_output=True, text=True, cwd=ROOT, env=child_environment,
                timeout=max(spec.schedule) + spec.timeout_s + 120, check=False)
        except subprocess.TimeoutExpired as error:
            raise LoadTestError(f"the Locust process did not finish within {error.timeout} s"
                                ) from None
        for line in process.stderr.splitlines():
            print(f"locust: {line}", file=sys.stderr)
        if process.returncode != 0 or not results.exists():
            tail = process.stderr.strip().splitlines()[-1:] or ["no message"]
            raise LoadTestError(f"the Locust process failed (exit {process.returncode}): "
                                f"{tail[0]}")
        answer = json.loads(results.read_text(encoding="utf-8"))
    samples = [Sample(int(slot), float(scheduled), float(sent), float(latency), int(status),
                      str(reason))
               for slot, scheduled, sent, latency, status, reason in answer["samples"]]
    return LoadRun(sorted(samples, key=lambda sample: sample.slot), int(answer["users"]),
                   bool(answer["complete"]), bool(answer["connected_first"]),
                   [int(status) for status in answer["warmup"]], dict(answer["locust"]))
