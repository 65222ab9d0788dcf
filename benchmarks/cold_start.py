"""Each handler's cold start (interpreter, imports and module-level init) against bare boto3
and bare numpy, before and after a change, in one run.

    venv/bin/python -m benchmarks.cold_start [--runs 10] [--before REV] [--label after]

One sample is one fresh ``python -c "import app"`` in the handler's folder, timed from outside
(interpreter start included, as the issue measured it), with the Lambda runtime's variables
and the environment the dev plan gives that function (read from the plan under mocks; the
Powertools variables alone for a folder the plan does not deploy). Its ``sys.path`` is the
folder then ``functions/``, where ``blueprints_common`` and the shared libraries live, as in
the deployment package. ``boto3`` and ``numpy`` are ``python -c "import boto3"`` and
``python -c "import numpy"`` in the same run. Targets are interleaved run by run, so load from
other processes falls on all of them alike; the load average is recorded at both ends.

``--before REV`` also measures the handlers as they were at ``REV`` (``git archive`` of
``functions/`` into a scratch folder), interleaved with the current tree. Results go to
``benchmarks/results/cold_start.json``, under ``--label``; nothing is asserted.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks.recording import cpu_model, write_results

ROOT = Path(__file__).resolve().parents[1]
FUNCTIONS = ROOT / "functions"
RESULTS = Path(__file__).resolve().parent / "results" / "cold_start.json"
# What the Lambda runtime sets (Powertools' tracer only patches when it sees a function name).
LAMBDA_RUNTIME = {
    "AWS_REGION": "eu-west-1", "AWS_DEFAULT_REGION": "eu-west-1",
    "AWS_EXECUTION_ENV": "AWS_Lambda_python3.12", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "512",
    "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST", "AWS_XRAY_CONTEXT_MISSING": "LOG_ERROR",
    "AWS_XRAY_DAEMON_ADDRESS": "169.254.79.129:2000", "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing", "AWS_SESSION_TOKEN": "testing",
}
IMPORT_APP = "import sys; sys.path.insert(1, {functions!r}); import app"


def handler_folders(functions: Path = FUNCTIONS) -> list[str]:
    """Every folder under ``functions/`` with an ``app.py``."""
    return sorted(path.parent.name for path in functions.glob("*/app.py"))


def plan_environments() -> dict[str, dict[str, str]]:
    """Folder -> the environment the dev plan gives its function (the first one deployed)."""
    from tools.mock_runtime import run_stack

    found: dict[str, dict[str, str]] = {}
    images: dict[str, str] = {}
    for resource in run_stack("dev").of_type("aws:lambda/function:Function"):
        variables = (resource.inputs.get("environment") or {}).get("variables") or {}
        environment = {key: str(value) for key, value in variables.items()}
        app = getattr(resource.inputs.get("code"), "assets", {}).get("app.py")
        if app is not None:
            found.setdefault(Path(app.path).parent.name, environment)
        elif (resource.inputs.get("imageConfig") or {}).get("commands") == ["app.handler"]:
            images.update(environment)  # an image's folder is its build context's
    for dockerfile in FUNCTIONS.glob("*/Dockerfile"):
        if (dockerfile.parent / "app.py").is_file() and images:
            found.setdefault(dockerfile.parent.name, images)
    return found


def default_environment(folder: str) -> dict[str, str]:
    """The function block's Powertools variables, for a folder the dev plan does not deploy."""
    return {"POWERTOOLS_SERVICE_NAME": folder,
            "POWERTOOLS_METRICS_NAMESPACE": "ServerlessBlueprints",
            "POWERTOOLS_LOG_LEVEL": "INFO", "POWERTOOLS_LOGGER_SAMPLE_RATE": "0.1",
            "POWERTOOLS_TRACER_CAPTURE_RESPONSE": "false"}


def command(target: str, functions: Path, environments: Mapping[str, dict[str, str]]
            ) -> tuple[list[str], dict[str, str], Path]:
    """The argv, environment and working folder of one sample of ``target``."""
    base = {name: value for name, value in os.environ.items()
            if not name.startswith(("AWS_", "POWERTOOLS_", "PYTHON"))}
    if target in ("boto3", "numpy"):
        return [sys.executable, "-c", f"import {target}"], base, ROOT
    environment = {**base, **LAMBDA_RUNTIME, "AWS_LAMBDA_FUNCTION_NAME": target,
                   "LAMBDA_TASK_ROOT": str(functions / target),
                   **environments.get(target, default_environment(target))}
    code = IMPORT_APP.format(functions=str(functions))
    return [sys.executable, "-c", code], environment, functions / target


def sample(argv: list[str], environment: dict[str, str], cwd: Path) -> float:
    """Seconds for one fresh interpreter to run ``argv`` to the end."""
    started = time.perf_counter()
    done = subprocess.run(argv, env=environment, cwd=cwd,  # noqa: S603 (our own argv)
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if done.returncode:
        raise SystemExit(f"{cwd.name}: {' '.join(argv[1:])} failed:\n{done.stderr}")
    return time.perf_counter() - started


def summary(seconds: list[float], reference: float | None) -> dict[str, Any]:
    """Median and spread of the samples, and the median against the reference's."""
    quartiles = statistics.quantiles(seconds, n=4) if len(seconds) > 1 else seconds * 3
    median = statistics.median(seconds)
    return {"median_s": round(median, 3), "min_s": round(min(seconds), 3),
            "max_s": round(max(seconds), 3), "iqr_s": round(quartiles[2] - quartiles[0], 3),
            "x_boto3": None if reference is None else round(median / reference, 2),
            "samples_s": [round(value, 3) for value in seconds]}


def export_tree(revision: str, into: Path) -> Path:
    """``functions/`` as it was at ``revision``, extracted under ``into``."""
    archive = subprocess.run(["git", "archive", revision, "functions"],  # noqa: S603, S607
                             cwd=ROOT, check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)  # noqa: S603, S607
    return into / "functions"


def measure(trees: Mapping[str, Path], runs: int,
            environments: Mapping[str, dict[str, str]]) -> dict[str, Any]:
    """Every tree's handlers plus the two references, interleaved, ``runs`` samples each."""
    targets = [("reference", name, ROOT) for name in ("boto3", "numpy")] + [
        (label, folder, tree) for label, tree in trees.items()
        for folder in handler_folders(tree)]
    prepared = {(label, name): command(name, tree, environments)
                for label, name, tree in targets}
    for argv, environment, cwd in prepared.values():  # warm-up: bytecode caches, page cache
        sample(argv, environment, cwd)
    seconds: dict[tuple[str, str], list[float]] = {key: [] for key in prepared}
    for _ in range(runs):
        for key, (argv, environment, cwd) in prepared.items():
            seconds[key].append(sample(argv, environment, cwd))
    boto3 = statistics.median(seconds[("reference", "boto3")])
    return {label: {name: summary(values, None if label == "reference" and name == "boto3"
                                  else boto3)
                    for (group, name), values in seconds.items() if group == label}
            for label in ["reference", *trees]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--label", default="after",
                        help="the name the current tree's figures are recorded under")
    parser.add_argument("--before", metavar="REV",
                        help="also measure functions/ as it was at this git revision")
    options = parser.parse_args()
    started = time.perf_counter()
    environments = plan_environments()
    document: dict[str, Any] = {
        "recorded": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"cpu": cpu_model(), "cores": os.cpu_count(),
                    "python": platform.python_version(),
                    "load_average_start": [round(value, 2) for value in os.getloadavg()]},
        "runs": options.runs, "before_revision": options.before,
        "head": subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT,  # noqa: S607
                               capture_output=True, text=True).stdout.strip(),
    }
    with tempfile.TemporaryDirectory() as scratch:
        trees = {options.label: FUNCTIONS}
        if options.before:
            trees = {"before": export_tree(options.before, Path(scratch)), **trees}
        document["results"] = measure(trees, options.runs, environments)
    references = document["results"]["reference"]
    print(f"{'median of ' + str(options.runs):<24}" + "".join(f"{label:>22}" for label in trees))
    for name, figures in references.items():
        print(f"{name:<24}{figures['median_s']:>12.3f} s")
    for folder in handler_folders():
        cells = [document["results"][label].get(folder) for label in trees]
        print(f"{folder:<24}" + "".join(
            f"{cell['median_s']:>12.3f} s {cell['x_boto3']:>5.2f} x" if cell else f"{'-':>22}"
            for cell in cells))
    write_results(document, RESULTS.with_name(f"cold_start.{options.label}.json")
                  if options.label != "after" else RESULTS, started)


if __name__ == "__main__":
    main()
