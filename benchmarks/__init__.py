"""Benchmark scripts (``python -m benchmarks.<name>``) and the figures they record.

The scripts import handler code as the Lambda runtime does, from ``functions/`` (``app``
modules, ``blueprints_common``, the shared libraries), so that folder goes on the path here,
once, before any of them is imported.
"""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FUNCTIONS = ROOT / "functions"
if str(FUNCTIONS) not in sys.path:
    sys.path.insert(0, str(FUNCTIONS))
