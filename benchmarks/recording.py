"""What benchmarks share: the machine they ran on, and writing their results."""

from __future__ import annotations

import contextlib
import json
import os
import time
from pathlib import Path
from typing import Any


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo, or "unknown"."""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return "unknown"


def write_results(document: dict[str, Any], output: Path, started: float) -> None:
    """Finish ``document`` (load average at the end, total seconds since ``started``, a
    ``time.perf_counter`` reading) and write it to ``output`` as JSON."""
    document["machine"]["load_average_end"] = [round(value, 2) for value in os.getloadavg()]
    document["total_s"] = round(time.perf_counter() - started, 1)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n",
                      encoding="utf-8")
    print(f"total {document['total_s']} s -> {output}")
