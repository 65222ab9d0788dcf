"""Async analytics' jobs from 1,000 to 10,000,000 rows: what one job takes on this machine, and
from that what it costs on Lambda and on Fargate at the service's settings, where the two cross,
and whether ``lambdaInputLimitMb`` routes there.

    venv/bin/python -m benchmarks.async_analytics [--sizes 1000 10000 100000 1000000 10000000]
        [--analyses kmeans linearRegression pca] [--repeat 3] [--data FOLDER]

**The inputs.** One CSV per size, written with numpy (seed ``SEED``) to a temporary folder
(``--data`` keeps them): a header, then 8 numeric columns, ``f1`` to ``f7`` and ``target``,
each value with 6 significant digits (``%.6g``), about 64 bytes a row. The features come from 5
overlapping Gaussian groups in 7 dimensions, each column then scaled and shifted into its own
units (from hundredths to tens of thousands); ``target`` is a linear function of them plus
noise. So k-means (asked for 8 clusters) has real work to do (tens of Lloyd iterations), and
the regression a real answer (R² about 0.97).

**The jobs**, with the parameters each analysis takes by default (``job_request``), plus a
``randomState`` for repeatable runs: ``kmeans`` (8 clusters, silhouette on a 10,000-row
sample), ``linearRegression`` (``target`` on the 7 others, 20% held out) and ``pca`` (2
components).

**What is timed.** Each (size, analysis, thread count) runs in a fresh interpreter, so that no
size inherits another's memory. Inside ``mock_aws`` (moto in process) the CSV is put in the
inputs bucket, then ``analytics_job.app`` is imported as the job function imports it and
``app.run_job(<the workflow's request>, context)`` is called ``--repeat`` times: the Powertools
entry, the request's parsing, the download to a temporary folder, ``read_numeric_csv``, the
analysis, the result's ``put_object`` to the results bucket. Wall time is ``perf_counter``
around that call; the phases are timed by wrapping the module functions and the client the
runner calls (``download``, ``read``, ``analyse``, ``write``; the rest is the entry and
clean-up). Every run's answer must count the CSV's rows and its result must be in the bucket.
Scikit-learn is imported before the first timed call: on Lambda the first job of a cold
function pays that import, which is counted under start-up instead.

One change from the function as deployed: moto answers each ranged GET by copying the whole
object, so the job's client downloads with one GET (``TransferConfig`` with no multipart) and
no threads. The download here is moto serving from its spooled file, not S3's network; its
time is shown apart.

**Threads.** numpy's OpenBLAS and scikit-learn's OpenMP use both cores here (k-means' Lloyd
iterations and the BLAS calls run in parallel; reading the CSV and most of the rest do not).
Each job is run with 2 threads (as found) and with 1 (``threadpoolctl``) to tell the two parts
apart: ``serial = 2*T2 - T1`` and ``parallel work = 2*(T2 - serial)`` single-thread seconds
(clamped to ``0 <= serial <= T2``).

**Memory.** Peak resident memory (``VmHWM``, reset by writing 5 to ``/proc/self/clear_refs``
after moto's download, whose copies of the object S3 would not make), minus the resident memory
before the call: what the job adds. **Runtime** is a fresh interpreter's resident memory after
importing ``app`` and scikit-learn, without moto (median of 3 processes); on Lambda the peak is
estimated as runtime + what the job adds.

**From this machine to AWS** (assumptions, not measurements; both platforms run Graviton, arm64,
while this machine is an x86 Xeon, whose speed per core is taken as equal):

- **Lambda** at ``jobMemoryMb`` gets ``memory / 1769`` vCPUs of CPU time (1,769 MB = 1 vCPU)
  over ``ceil(memory / 1769)`` visible cores: ``serial / min(1, vcpus) + parallel /
  min(2, vcpus)``. At 3,008 MB that is 1.70 vCPUs on 2 cores.
- **Fargate** at ``fargateCpu`` / 1024 vCPUs: the same formula (2 vCPUs: the 2-thread time).
- **Start-up**: Lambda's cold start is the platform's start of a large image
  (``LAMBDA_IMAGE_START_S``, an assumption) plus the init (importing ``app``, measured) and the
  first job's import of scikit-learn (measured), scaled to Lambda's single-core speed; it is
  billed (Lambda bills the init phase). Fargate's is ``FARGATE_START_S`` from RunTask to the
  container running (the 30 to 60 s usually seen), of which ``FARGATE_BILLED_START_S`` is billed
  (Fargate bills from the start of the image pull), plus the same imports.

**Costs per job** (US East, the prices below): Lambda, ``GB-second price x memory x duration``
(billed to the ms) plus one request; Fargate, ``(vCPUs x vCPU-hour + GB x GB-hour) x (duration
+ billed start-up)``, billed per second with a one-minute minimum. The workflow's state
transitions (Standard) are counted by walking ``workflow_definition`` for a job below and above
the threshold: the same on both paths, so they do not move the crossover, and are shown apart.
SQS, the consumer function, DynamoDB and S3 requests are the same on both paths and left out.

**Crossover and limits**: each analysis' durations and memory are interpolated linearly in rows
between the measured sizes and extrapolated beyond the largest (from the last two); the
crossover is the smallest size at which a Lambda job would cost more than a Fargate job; the
Lambda limit the smallest at which the job would pass the function's timeout, its memory, or
its ephemeral storage (the CSV is downloaded to ``/tmp``). Results:
``results/async_analytics.json``.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import importlib
import itertools
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks.recording import cpu_model, write_results

ROOT = Path(__file__).resolve().parent.parent
FUNCTIONS = ROOT / "functions"
RESULTS = Path(__file__).resolve().parent / "results" / "async_analytics.json"
MODULE = "benchmarks.async_analytics"

SIZES = (1_000, 10_000, 100_000, 1_000_000, 10_000_000)
SEED = 14
FEATURES = ("f1", "f2", "f3", "f4", "f5", "f6", "f7")
TARGET = "target"
GROUPS = 5
# Each feature's units: value = standardised value * scale + offset.
SCALES = (1.0, 10.0, 100.0, 1000.0, 0.1, 0.01, 5.0)
OFFSETS = (50.0, 200.0, 1000.0, 20000.0, 3.0, 0.5, 40.0)
VALUE_FORMAT = "%.6g"
CHUNK_ROWS = 500_000
ANALYSES: Mapping[str, Mapping[str, Any]] = {
    "kmeans": {"randomState": 0},
    "linearRegression": {"target": TARGET, "randomState": 0},
    "pca": {},
}
WORKER_TIMEOUT_S = 900  # a run past this is not measured; its size is extrapolated

REGION = "us-east-1"
ACCOUNT = "123456789012"
INPUT_BUCKET = "bench-analytics-inputs"
RESULT_BUCKET = "bench-analytics-results"
INPUT_KEY = "uploads/bench.csv"
JOB_ID = "14a2c0de-0000-4000-8000-000000000014"
SUBMITTED_AT = "2026-12-03T10:00:00.000Z"
AWS_ENVIRONMENT = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                   "AWS_SESSION_TOKEN": "testing", "AWS_DEFAULT_REGION": REGION,
                   "AWS_REGION": REGION}
JOB_ENVIRONMENT = {"INPUT_BUCKET": INPUT_BUCKET, "RESULT_BUCKET": RESULT_BUCKET,
                   "JOBS_TABLE": "bench-analytics-jobs", "JOB_RETENTION_DAYS": "30",
                   "POWERTOOLS_SERVICE_NAME": "async-analytics",
                   "POWERTOOLS_METRICS_NAMESPACE": "ServerlessBlueprints",
                   "POWERTOOLS_TRACE_DISABLED": "true", "POWERTOOLS_LOG_LEVEL": "INFO"}

# --- prices: US East (N. Virginia), on demand, arm64, read 2026-12-03 ---------------------------
# The dev stack's region is eu-west-1; no stored page showed its Lambda or Fargate rates, so
# these are us-east-1's (Step Functions' table shows Europe (Ireland) at the same $0.025).
PRICES_READ = "2026-12-03"
# https://aws.amazon.com/lambda/pricing/ : requests, and duration per GB-second billed to the ms
# (init code included). Its rate table renders in the browser, so the figures are as quoted for
# arm64 in us-east-1 by https://git.mcrn.ar/mariano/lambda_local_runner/src/branch/main/docs/
# lambdas-md/lambda-13-cost.md (2026-05-11) and https://cloudchipr.com/blog/aws-lambda-pricing
# (2024): first 7.5 billion GB-seconds a month (tiers below, from AWS's own
# https://aws.amazon.com/blogs/compute/introducing-tiered-pricing-for-aws-lambda/).
LAMBDA_ARM_GB_SECOND_USD = 0.0000133334
LAMBDA_REQUEST_USD = 0.20 / 1_000_000
LAMBDA_MB_PER_VCPU = 1769
# https://aws.amazon.com/fargate/pricing/ : vCPU, memory, OS and architecture, "from the time you
# start to download your container image until the Amazon ECS Task ... terminates, rounded up to
# the nearest second"; rates for Linux/ARM in us-east-1 as quoted by
# https://www.vantage.sh/blog/fargate-pricing (with the one-minute minimum) and
# https://awsnegotiations.com/fargate-pricing-optimization.html ("as of 2026").
FARGATE_ARM_VCPU_HOUR_USD = 0.03238
FARGATE_ARM_GB_HOUR_USD = 0.00356
FARGATE_MINIMUM_S = 60
# https://aws.amazon.com/step-functions/pricing/ : Standard, per state transition, retries
# included; $0.0250 per 1,000 in US East (N. Virginia) and Europe (Ireland).
STEP_FUNCTIONS_TRANSITION_USD = 0.025 / 1000
PRICE_SOURCES = [
    {"what": "Lambda arm64 duration and requests, init billed",
     "url": "https://aws.amazon.com/lambda/pricing/",
     "note": "the rules; the stored page renders its rate table in the browser"},
    {"what": "Lambda arm64 $0.0000133334 per GB-s, $0.20 per 1M requests (us-east-1)",
     "url": "https://git.mcrn.ar/mariano/lambda_local_runner/src/branch/main/docs/lambdas-md/"
            "lambda-13-cost.md", "dated": "2026-05-11"},
    {"what": "Lambda arm64 tiers (first 7.5 billion GB-s at the base price)",
     "url": "https://aws.amazon.com/blogs/compute/introducing-tiered-pricing-for-aws-lambda/"},
    {"what": "Fargate billing from the image pull, per second",
     "url": "https://aws.amazon.com/fargate/pricing/",
     "note": "the rules; the stored page renders its rate table in the browser"},
    {"what": "Fargate Linux/ARM $0.03238 per vCPU-hour, $0.00356 per GB-hour (us-east-1), "
             "one-minute minimum", "url": "https://www.vantage.sh/blog/fargate-pricing",
     "note": "first published 2021-04-22, updated since; the stored copy gives no later date"},
    {"what": "the same Linux/ARM rates, 'as of 2026'",
     "url": "https://awsnegotiations.com/fargate-pricing-optimization.html"},
    {"what": "Step Functions Standard $0.025 per 1,000 state transitions (us-east-1, "
             "eu-west-1)", "url": "https://aws.amazon.com/step-functions/pricing/"},
]

# --- start-up: assumptions, with their sources -----------------------------------------------
# Lambda loads container images on demand, block by block, with caches shared across functions
# (Brooker et al., "On-demand Container Loading in AWS Lambda", USENIX ATC 2023; A. J.
# Stuyvenberg's benchmarks, https://aaronstuyvenberg.com/posts/containers-on-lambda, 2024-01-02,
# found large images starting about as fast as zip files). Assumed: 1 s before Python runs.
LAMBDA_IMAGE_START_S = 1.0
# Fargate: placement, the task's network interface in awsvpc mode ("adds an overhead of several
# seconds", https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task-recommendations.html)
# and the image pull, which takes most of it and is not cached between tasks
# (https://docs.aws.amazon.com/AmazonECS/latest/bestpracticesguide/task.html). Assumed: 45 s
# from RunTask to the container running (the 30 to 60 s usually seen), 30 s of it billed.
FARGATE_START_S = 45.0
FARGATE_BILLED_START_S = 30.0
BILLED_START_SENSITIVITY_S = (0.0, 30.0, 60.0)
# A threshold is suggested with room for other data: a job at the threshold may use half the
# function's memory (a CSV with shorter values holds more of them per MB: memory follows the
# values, the threshold the bytes) and half its timeout (slower cores). A job that runs out of
# memory on Lambda is not retried on Fargate: only timeouts are.
MEMORY_MARGIN = 0.5
TIMEOUT_MARGIN = 0.5


# ---------------------------------------------------------------------------------- models

def lambda_vcpus(memory_mb: int) -> float:
    """Lambda's CPU share at ``memory_mb``: 1,769 MB is one vCPU."""
    return memory_mb / LAMBDA_MB_PER_VCPU


def split_threads(one_thread_s: float, two_threads_s: float) -> tuple[float, float]:
    """A job's serial seconds and its parallel work (single-thread seconds of the part that ran
    on both cores), from its durations here with one thread and with two."""
    serial = min(max(2 * two_threads_s - one_thread_s, 0.0), two_threads_s)
    return serial, 2 * (two_threads_s - serial)


def platform_seconds(one_thread_s: float, two_threads_s: float, vcpus: float) -> float:
    """The job's duration with ``vcpus`` of CPU time, parallel on at most 2 cores (what was
    measured), each core as fast as here."""
    serial, parallel = split_threads(one_thread_s, two_threads_s)
    return serial / min(1.0, vcpus) + parallel / min(2.0, vcpus)


def lambda_cost_usd(seconds: float, memory_mb: int) -> float:
    """One invocation: the request, and its duration rounded up to the ms at ``memory_mb``."""
    billed_s = math.ceil(round(seconds * 1000, 6)) / 1000
    return LAMBDA_ARM_GB_SECOND_USD * memory_mb / 1024 * billed_s + LAMBDA_REQUEST_USD


def fargate_cost_usd(seconds: float, cpu_units: int, memory_mb: int,
                     billed_start_s: float = FARGATE_BILLED_START_S) -> float:
    """One task: its size per second, for the job and the billed start-up rounded up to the
    second, one minute at least."""
    per_second = (cpu_units / 1024 * FARGATE_ARM_VCPU_HOUR_USD
                  + memory_mb / 1024 * FARGATE_ARM_GB_HOUR_USD) / 3600
    billed_s = max(FARGATE_MINIMUM_S, math.ceil(round(seconds + billed_start_s, 6)))
    return per_second * billed_s


def crossover_lambda_seconds(memory_mb: int, cpu_units: int, fargate_memory_mb: int,
                             slowdown: float, billed_start_s: float) -> float:
    """The Lambda duration at which a Lambda job costs what a Fargate job costs, the Fargate
    job taking ``1 / slowdown`` of it (requests and rounding left out)."""
    lambda_rate = LAMBDA_ARM_GB_SECOND_USD * memory_mb / 1024
    fargate_rate = (cpu_units / 1024 * FARGATE_ARM_VCPU_HOUR_USD
                    + fargate_memory_mb / 1024 * FARGATE_ARM_GB_HOUR_USD) / 3600
    within_minimum = fargate_rate * FARGATE_MINIMUM_S / lambda_rate
    if within_minimum / slowdown + billed_start_s <= FARGATE_MINIMUM_S:
        return within_minimum
    denominator = lambda_rate - fargate_rate / slowdown
    return math.inf if denominator <= 0 else fargate_rate * billed_start_s / denominator


def interpolate(points: Sequence[tuple[float, float]], x: float) -> float:
    """Piecewise linear through ``points`` (sorted by x), extrapolated from the end segments."""
    if len(points) == 1:
        return points[0][1] * x / points[0][0]
    for (x0, y0), (x1, y1) in itertools.pairwise(points):
        if x <= x1 or (x1, y1) == points[-1]:
            return y0 + (y1 - y0) * (x - x0) / (x1 - x0)
    raise AssertionError("unreachable")


def first_rows(predicate: Callable[[float], bool], low: float = 1_000,
               high: float = 1e10) -> float | None:
    """The smallest row count in [low, high] for which ``predicate`` holds (it must stay true
    once it is), to 0.1%; ``None`` when it never does."""
    if not predicate(high):
        return None
    if predicate(low):
        return low
    while high / low > 1.001:
        middle = math.sqrt(low * high)
        low, high = (low, middle) if predicate(middle) else (middle, high)
    return high


def workflow_transitions(definition: Mapping[str, Any], input_bytes: int) -> list[str]:
    """The states a job whose input has ``input_bytes`` enters when every task succeeds the
    first time (each one a state transition)."""
    states = definition["States"]
    name: str | None = definition["StartAt"]
    path: list[str] = []
    while name is not None:
        path.append(name)
        state = states[name]
        if state["Type"] == "Choice":
            name = state["Default"]
            for choice in state["Choices"]:
                if choice["Variable"] == "$.input.bytes" \
                        and input_bytes > choice["NumericGreaterThan"]:
                    name = choice["Next"]
                    break
        else:
            name = None if state.get("End") else state.get("Next")
    return path


# --------------------------------------------------------------------------------- the data

def write_csv(path: Path, rows: int) -> int:
    """The benchmark's CSV of ``rows`` rows at ``path``; its size in bytes."""
    import numpy as np

    rng = np.random.default_rng([SEED, rows])
    centres = rng.normal(0.0, 2.0, size=(GROUPS, len(FEATURES)))
    weights = rng.normal(0.0, 1.0, size=len(FEATURES))
    scales, offsets = np.array(SCALES), np.array(OFFSETS)
    with path.open("w", encoding="utf-8", newline="\n") as stream:
        stream.write(",".join((*FEATURES, TARGET)) + "\n")
        for start in range(0, rows, CHUNK_ROWS):
            count = min(CHUNK_ROWS, rows - start)
            standard = centres[rng.integers(0, GROUPS, count)] \
                + rng.normal(0.0, 2.0, size=(count, len(FEATURES)))
            target = 100.0 + 10.0 * (standard @ weights) + rng.normal(0.0, 10.0, count)
            np.savetxt(stream, np.column_stack([standard * scales + offsets, target]),
                       fmt=VALUE_FORMAT, delimiter=",")
    return path.stat().st_size


# ------------------------------------------------------------------------------- the worker

def status_mb(key: str) -> float:
    """``VmRSS`` or ``VmHWM`` of this process, in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{key}:"):
            return round(int(line.split()[1]) / 1024, 1)
    raise KeyError(key)


def reset_peak() -> None:
    """Resets this process's peak resident memory (``VmHWM``, ``ru_maxrss``) to its current."""
    Path("/proc/self/clear_refs").write_text("5")


_SINK: list[Any] = []


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """Powertools' logs and metrics (printed to stdout) go nowhere; the sink stays open, since
    the logger keeps the stream it found at import."""
    if not _SINK:
        _SINK.append(open(os.devnull, "w", encoding="utf-8"))  # noqa: SIM115 (kept open)
    with contextlib.redirect_stdout(_SINK[0]):
        yield


@dataclass
class Phases:
    """Wall and CPU seconds of the job's phases in one run."""

    wall: dict[str, float] = field(default_factory=dict)
    cpu: dict[str, float] = field(default_factory=dict)
    notes: dict[str, float] = field(default_factory=dict)

    @contextlib.contextmanager
    def timed(self, name: str) -> Iterator[None]:
        started, cpu = time.perf_counter(), time.process_time()
        try:
            yield
        finally:
            self.wall[name] = self.wall.get(name, 0.0) + time.perf_counter() - started
            self.cpu[name] = self.cpu.get(name, 0.0) + time.process_time() - cpu

    def timing(self, name: str, function: Callable[..., Any]) -> Callable[..., Any]:
        def timed_call(*args: Any, **kwargs: Any) -> Any:
            with self.timed(name):
                return function(*args, **kwargs)
        return timed_call


class BenchmarkS3:
    """The job's S3 client, its download and upload timed. The download is one GET (moto
    copies the whole object for every ranged GET); afterwards the garbage is collected and
    the peak memory reset, so that moto's copies do not count as the job's."""

    def __init__(self, client: Any, phases: Phases) -> None:
        from boto3.s3.transfer import TransferConfig  # type: ignore[import-untyped]

        self._client = client
        self._phases = phases
        self._config = TransferConfig(multipart_threshold=2**40, use_threads=False)

    def download_file(self, bucket: str, key: str, filename: str) -> None:
        with self._phases.timed("download"):
            self._client.download_file(bucket, key, filename, Config=self._config)
        gc.collect()
        self._phases.notes["rss_after_download_mb"] = status_mb("VmRSS")
        reset_peak()

    def put_object(self, **request: Any) -> Any:
        with self._phases.timed("write"):
            return self._client.put_object(**request)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)


@dataclass
class Context:
    """The parts of Lambda's context that Powertools reads."""

    memory_limit_in_mb: int
    function_name: str = "async-analytics-job"
    aws_request_id: str = "52fdfc07-2182-154f-163f-5f0f9a621d72"
    invoked_function_arn: str = (f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:"
                                 "async-analytics-job")

    def get_remaining_time_in_millis(self) -> int:
        return 900_000


def summary(analysis: str, result: Mapping[str, Any]) -> dict[str, Any]:
    """What the result says about the fit, for the record."""
    if analysis == "kmeans":
        return {key: result[key] for key in ("iterations", "inertia", "silhouette")}
    if analysis == "linearRegression":
        return {key: result[key] for key in ("r2", "mae", "trainRows")}
    return {"explainedVarianceRatio": result["explainedVarianceRatio"]}


def job_worker(csv: Path, rows: int, analysis: str, threads: int, repeat: int,
               memory_mb: int) -> dict[str, Any]:
    """``repeat`` runs of the job in this process (see the module's docstring)."""
    sys.path.insert(0, str(FUNCTIONS))
    os.environ.update({**AWS_ENVIRONMENT, **JOB_ENVIRONMENT})
    import boto3  # type: ignore[import-untyped]
    from moto import mock_aws
    from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]

    runs: list[dict[str, Any]] = []
    with mock_aws():
        s3 = boto3.client("s3", region_name=REGION)
        for bucket in (INPUT_BUCKET, RESULT_BUCKET):
            s3.create_bucket(Bucket=bucket)
        # Straight into moto's store: through the client, moto decodes the SDK's aws-chunked
        # upload in Python (minutes for 600 MB), which is setup, not the job.
        from moto.core import DEFAULT_ACCOUNT_ID
        from moto.s3.models import s3_backends

        s3_backends[DEFAULT_ACCOUNT_ID]["aws"].put_object(INPUT_BUCKET, INPUT_KEY,
                                                          csv.read_bytes())
        if s3.head_object(Bucket=INPUT_BUCKET, Key=INPUT_KEY)["ContentLength"] \
                != csv.stat().st_size:
            raise RuntimeError("the input object is not the CSV")
        with quiet():
            app = importlib.import_module("analytics_job.app")
            analyses = importlib.import_module("analytics_jobs.analyses")
            runner = importlib.import_module("analytics_jobs.runner")
        phases = Phases()
        app.s3 = BenchmarkS3(app.s3, phases)  # type: ignore[attr-defined]
        analyses.analyse = phases.timing("analyse", analyses.analyse)  # type: ignore[attr-defined]
        runner.read_numeric_csv = phases.timing(  # type: ignore[attr-defined]
            "read", runner.read_numeric_csv)
        event = {"jobId": JOB_ID, "inputKey": INPUT_KEY, "analysis": analysis,
                 "parameters": dict(ANALYSES[analysis]), "submittedAt": SUBMITTED_AT}
        for _ in range(repeat):
            phases.wall.clear()
            phases.cpu.clear()
            s3.delete_object(Bucket=RESULT_BUCKET, Key=f"results/{JOB_ID}.json")
            gc.collect()
            rss_before = status_mb("VmRSS")
            reset_peak()
            with threadpool_limits(limits=threads), quiet():
                started, cpu = time.perf_counter(), time.process_time()
                answer = app.run_job(event, Context(memory_mb))
                wall, cpu = time.perf_counter() - started, time.process_time() - cpu
            peak = status_mb("VmHWM")
            document = json.loads(s3.get_object(Bucket=RESULT_BUCKET,
                                                Key=answer["resultKey"])["Body"].read())
            if answer["rows"] != rows or document["rows"] != rows:
                raise RuntimeError(f"{analysis} at {rows} rows answered {answer['rows']} rows")
            phase_wall = {name: round(value, 4) for name, value in phases.wall.items()}
            phase_wall["rest"] = round(wall - sum(phases.wall.values()), 4)
            runs.append({
                "wall_s": round(wall, 4), "cpu_s": round(cpu, 4), "phases_s": phase_wall,
                "phases_cpu_s": {name: round(value, 4) for name, value in phases.cpu.items()},
                "runner_seconds": answer["seconds"], "rss_before_mb": rss_before,
                "rss_after_download_mb": phases.notes["rss_after_download_mb"],
                "peak_after_download_mb": peak,
                "job_memory_mb": round(peak - rss_before, 1),
                "result": summary(analysis, document["result"])})
    return {"runs": runs}


def init_worker() -> dict[str, Any]:
    """A cold job function's imports: ``app`` (the init phase), then scikit-learn (the first
    job's), and the resident memory after them."""
    sys.path.insert(0, str(FUNCTIONS))
    os.environ.update({**AWS_ENVIRONMENT, **JOB_ENVIRONMENT})
    rss_start = status_mb("VmRSS")
    with quiet():
        started = time.perf_counter()
        importlib.import_module("analytics_job.app")
        init_s = time.perf_counter() - started
        started = time.perf_counter()
        importlib.import_module("analytics_jobs.analyses")
        sklearn_s = time.perf_counter() - started
    return {"interpreter_rss_mb": rss_start, "init_import_s": round(init_s, 3),
            "first_job_import_s": round(sklearn_s, 3), "runtime_rss_mb": status_mb("VmRSS")}


def run_worker(arguments: list[str], timeout: float) -> dict[str, Any] | None:
    """This module as a worker in a fresh interpreter; its JSON answer, or ``None`` past
    ``timeout``."""
    with tempfile.NamedTemporaryFile(suffix=".json") as answer:
        try:
            subprocess.run(  # noqa: S603 (this interpreter, our own module)
                [sys.executable, "-m", MODULE, *arguments, "--answer", answer.name],
                check=True, timeout=timeout, cwd=ROOT)
        except subprocess.TimeoutExpired:
            return None
        loaded: dict[str, Any] = json.loads(Path(answer.name).read_text(encoding="utf-8"))
        return loaded


# -------------------------------------------------------------------------------- the study

@dataclass(frozen=True)
class Service:
    """What the component configures, from ``AsyncAnalyticsSettings``' defaults."""

    job_memory_mb: int
    job_timeout_s: int
    fargate_cpu: int
    fargate_memory_mb: int
    lambda_input_limit_mb: int
    lambda_ephemeral_mb: int
    definition: Mapping[str, Any]

    @classmethod
    def defaults(cls) -> Service:
        from components.services.async_analytics import (
            AsyncAnalyticsSettings,
            workflow_definition,
        )

        settings = AsyncAnalyticsSettings()
        definition = workflow_definition(
            workflow=settings.workflow, table="jobs", input_bucket="inputs",
            job_function="job", cluster="cluster", task_definition="task",
            subnets=["subnet"], security_groups=["sg"],
            lambda_input_limit_bytes=settings.lambda_input_limit_mb * 2**20,
            job_timeout_seconds=settings.job_timeout_seconds,
            fargate_timeout_seconds=settings.fargate_timeout_minutes * 60)
        # The component gives the job function 2,048 MB of /tmp (FunctionArgs in
        # AsyncAnalytics.__init__), where the runner downloads the input.
        return cls(job_memory_mb=settings.job_memory_mb,
                   job_timeout_s=settings.job_timeout_seconds,
                   fargate_cpu=settings.fargate_cpu,
                   fargate_memory_mb=settings.fargate_memory_mb,
                   lambda_input_limit_mb=settings.lambda_input_limit_mb,
                   lambda_ephemeral_mb=2048, definition=definition)

    @property
    def threshold_bytes(self) -> int:
        return self.lambda_input_limit_mb * 2**20

    @property
    def lambda_vcpus(self) -> float:
        return lambda_vcpus(self.job_memory_mb)

    @property
    def fargate_vcpus(self) -> float:
        return self.fargate_cpu / 1024


def median_run(runs: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The run with the median wall time, and the largest memory any run added."""
    ordered = sorted(runs, key=lambda run: run["wall_s"])
    middle = dict(ordered[(len(ordered) - 1) // 2])
    middle["job_memory_mb"] = max(run["job_memory_mb"] for run in runs)
    middle["first_wall_s"] = runs[0]["wall_s"]
    return middle


def extrapolated(measured: Mapping[int, Mapping[str, Any]], rows: int,
                 key: str) -> float:
    points = sorted((size, float(row[key])) for size, row in measured.items())
    return interpolate(points, rows)


def evaluate(service: Service, start: Mapping[str, float], sizes: Sequence[dict[str, Any]],
             analysis: str) -> dict[str, Any]:
    """Per size: durations on each platform, memory, costs, time to a result; and the
    analysis' crossover and Lambda limits."""
    rows_out: list[dict[str, Any]] = []
    measured: dict[int, dict[str, Any]] = {}
    for size in sizes:
        row = size["analyses"].get(analysis)
        if row is None:
            continue
        one, two = row["one_thread"]["wall_s"], row["two_threads"]["wall_s"]
        lambda_s = platform_seconds(one, two, service.lambda_vcpus)
        fargate_s = platform_seconds(one, two, service.fargate_vcpus)
        job_mb = max(row["one_thread"]["job_memory_mb"], row["two_threads"]["job_memory_mb"])
        lambda_usd = lambda_cost_usd(lambda_s, service.job_memory_mb)
        cold_lambda_usd = lambda_cost_usd(lambda_s + start["lambda_billed_s"],
                                          service.job_memory_mb)
        fargate_usd = fargate_cost_usd(fargate_s + start["imports_fargate_s"],
                                       service.fargate_cpu, service.fargate_memory_mb)
        serial, parallel = split_threads(one, two)
        evaluated = {
            "rows": size["rows"], "csv_bytes": size["csv_bytes"], "analysis": analysis,
            "here_2_threads_s": two, "here_1_thread_s": one,
            "parallel_share": round(parallel / (serial + parallel), 3)
            if serial + parallel else 0.0,
            "download_s": row["two_threads"]["phases_s"].get("download", 0.0),
            "phases_s": row["two_threads"]["phases_s"],
            "job_memory_mb": job_mb,
            "lambda_peak_mb": round(start["runtime_rss_mb"] + job_mb, 1),
            "lambda_s": round(lambda_s, 3), "fargate_s": round(fargate_s, 3),
            "lambda_usd": lambda_usd, "lambda_cold_usd": cold_lambda_usd,
            "fargate_usd": fargate_usd,
            "fargate_over_lambda": round(fargate_usd / lambda_usd, 2),
            "lambda_to_result_cold_s": round(start["lambda_cold_s"] + lambda_s, 1),
            "lambda_to_result_warm_s": round(lambda_s, 2),
            "fargate_to_result_s": round(FARGATE_START_S + start["imports_fargate_s"]
                                         + fargate_s, 1),
            "extrapolated": row.get("extrapolated", False),
            "result": row["two_threads"].get("result"),
        }
        rows_out.append(evaluated)
        measured[size["rows"]] = evaluated

    def lambda_seconds(rows: float) -> float:
        return extrapolated(measured, int(rows), "lambda_s")

    def fargate_seconds(rows: float) -> float:
        return extrapolated(measured, int(rows), "fargate_s")

    def lambda_peak(rows: float) -> float:
        return extrapolated(measured, int(rows), "lambda_peak_mb")

    bytes_per_row = rows_out[-1]["csv_bytes"] / rows_out[-1]["rows"]

    def crossover(billed_start_s: float) -> float | None:
        return first_rows(lambda rows: lambda_cost_usd(
            lambda_seconds(rows) + start["lambda_billed_s"], service.job_memory_mb)
            > fargate_cost_usd(fargate_seconds(rows) + start["imports_fargate_s"],
                               service.fargate_cpu, service.fargate_memory_mb,
                               billed_start_s))

    limits = {
        "timeout": first_rows(lambda rows: lambda_seconds(rows) > service.job_timeout_s),
        "memory": first_rows(lambda rows: lambda_peak(rows) > service.job_memory_mb),
        "ephemeral_storage": first_rows(
            lambda rows: rows * bytes_per_row > service.lambda_ephemeral_mb * 2**20),
    }
    binding = min((rows, name) for name, rows in limits.items() if rows is not None)
    crossovers = {f"billed_start_{int(seconds)}_s": crossover(seconds)
                  for seconds in BILLED_START_SENSITIVITY_S}
    largest = rows_out[-1]
    slowdown = largest["lambda_s"] / largest["fargate_s"]
    # The largest power-of-two threshold whose jobs stay within the margins on Lambda.
    within = first_rows(lambda rows: lambda_peak(rows) > MEMORY_MARGIN * service.job_memory_mb
                        or lambda_seconds(rows) > TIMEOUT_MARGIN * service.job_timeout_s)
    within_mb = (within or 1e10) * bytes_per_row / 2**20
    return {
        "sizes": rows_out,
        "bytes_per_row": round(bytes_per_row, 2),
        "within_margins": {"rows": rounded(within), "csv_mb": round(within_mb, 1),
                           "threshold_mb": 2 ** math.floor(math.log2(within_mb))},
        "lambda_limit_rows": {name: rounded(rows) for name, rows in limits.items()},
        "lambda_limit": {"rows": rounded(binding[0]), "by": binding[1],
                         "csv_mb": round(binding[0] * bytes_per_row / 2**20, 1)},
        "fargate_memory_limit_rows": rounded(first_rows(
            lambda rows: lambda_peak(rows) > service.fargate_memory_mb)),
        "crossover_rows": {name: rounded(rows) for name, rows in crossovers.items()},
        "crossover_csv_mb": {name: None if rows is None
                             else round(rows * bytes_per_row / 2**20, 1)
                             for name, rows in crossovers.items()},
        "crossover_lambda_s": {
            f"billed_start_{int(seconds)}_s": round(crossover_lambda_seconds(
                service.job_memory_mb, service.fargate_cpu, service.fargate_memory_mb,
                slowdown, seconds), 1) for seconds in BILLED_START_SENSITIVITY_S},
        "lambda_over_fargate_duration": round(slowdown, 3),
    }


def rounded(rows: float | None) -> int | None:
    """A row count to 3 significant figures."""
    if rows is None:
        return None
    digits = max(0, math.floor(math.log10(rows)) - 2)
    return int(round(rows / 10**digits) * 10**digits)


def start_up(init_runs: Sequence[Mapping[str, Any]], service: Service) -> dict[str, float]:
    """The start-up figures from the init workers (medians) and the assumptions."""
    def middle(key: str) -> float:
        return float(statistics.median(run[key] for run in init_runs))

    imports = middle("init_import_s") + middle("first_job_import_s")
    # Imports run on one core: at Lambda's share if below one vCPU, else as here.
    imports_lambda = imports / min(1.0, service.lambda_vcpus)
    imports_fargate = imports / min(1.0, service.fargate_vcpus)
    return {"init_import_s": middle("init_import_s"),
            "first_job_import_s": middle("first_job_import_s"),
            "runtime_rss_mb": middle("runtime_rss_mb"),
            "interpreter_rss_mb": middle("interpreter_rss_mb"),
            "lambda_image_start_s": LAMBDA_IMAGE_START_S,
            "lambda_cold_s": round(LAMBDA_IMAGE_START_S + imports_lambda, 2),
            "lambda_billed_s": round(imports_lambda, 3),
            "imports_fargate_s": round(imports_fargate, 3),
            "fargate_start_s": FARGATE_START_S,
            "fargate_billed_start_s": FARGATE_BILLED_START_S}


def measure(args: argparse.Namespace, service: Service, folder: Path) -> list[dict[str, Any]]:
    sizes: list[dict[str, Any]] = []
    for rows in args.sizes:
        path = folder / f"rows-{rows}.csv"
        if not path.exists():
            started = time.perf_counter()
            write_csv(path, rows)
            print(f"{rows:>10,} rows: CSV written in {time.perf_counter() - started:.1f} s",
                  flush=True)
        size: dict[str, Any] = {"rows": rows, "csv_bytes": path.stat().st_size,
                                "analyses": {}}
        for analysis in args.analyses:
            row: dict[str, Any] = {}
            for threads, name in ((2, "two_threads"), (1, "one_thread")):
                answer = run_worker(["--job", str(path), "--rows", str(rows), "--analysis",
                                     analysis, "--threads", str(threads), "--repeat",
                                     str(args.repeat), "--memory", str(service.job_memory_mb)],
                                    WORKER_TIMEOUT_S)
                if answer is None:
                    print(f"{rows:>10,} rows, {analysis}, {threads} thread(s): over "
                          f"{WORKER_TIMEOUT_S} s, extrapolated", flush=True)
                    row = {}
                    break
                runs = answer["runs"]
                row[name] = {**median_run(runs), "runs": runs}
                print(f"{rows:>10,} rows, {analysis:<16} {threads} thread(s): "
                      f"{row[name]['wall_s']:8.3f} s, +{row[name]['job_memory_mb']:7.1f} MB",
                      flush=True)
            if row:
                size["analyses"][analysis] = row
            else:
                size["analyses"][analysis] = extrapolate_row(sizes, analysis, rows)
        sizes.append(size)
    return sizes


def extrapolate_row(sizes: Sequence[Mapping[str, Any]], analysis: str,
                    rows: int) -> dict[str, Any]:
    """A size not measured in time, from the two largest measured (linear in rows)."""
    known = [size for size in sizes if not size["analyses"][analysis].get("extrapolated")][-2:]
    if len(known) < 2:
        raise RuntimeError(f"{analysis}: too few sizes measured to extrapolate {rows} rows")
    row: dict[str, Any] = {"extrapolated": True}
    for name in ("two_threads", "one_thread"):
        points = [(size["rows"], size["analyses"][analysis][name]) for size in known]
        row[name] = {key: round(interpolate([(x, run[key]) for x, run in points], rows), 3)
                     for key in ("wall_s", "job_memory_mb")}
        row[name]["phases_s"] = {}
    return row


def machine() -> dict[str, Any]:
    import numpy
    import sklearn
    from moto import __version__ as moto_version

    return {"cpu": cpu_model(), "cores": os.cpu_count(), "arch": platform.machine(),
            "memory_gb": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
                               / 2**30, 1),
            "python": f"{platform.python_implementation()} {platform.python_version()}",
            "numpy": numpy.__version__, "scikit_learn": sklearn.__version__,
            "moto": moto_version,
            "load_average": [round(value, 2) for value in os.getloadavg()]}


def usd(value: float) -> str:
    return f"{value:.6f}" if value < 0.01 else f"{value:.4f}"


def print_table(document: Mapping[str, Any]) -> None:
    print("| rows | CSV MB | analysis | here s (2 / 1 threads) | job adds MB | Lambda s | "
          "Fargate s | Lambda $ | Fargate $ | to result s, Lambda cold / Fargate |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for analysis in document["analyses"].values():
        for row in analysis["sizes"]:
            mark = " (extrapolated)" if row["extrapolated"] else ""
            print(f"| {row['rows']:,}{mark} | {row['csv_bytes'] / 2**20:,.1f} | "
                  f"{row['analysis']} | {row['here_2_threads_s']:.3f} / "
                  f"{row['here_1_thread_s']:.3f} | {row['job_memory_mb']:,.0f} | "
                  f"{row['lambda_s']:.2f} | {row['fargate_s']:.2f} | "
                  f"{usd(row['lambda_usd'])} | {usd(row['fargate_usd'])} | "
                  f"{row['lambda_to_result_cold_s']:.1f} / {row['fargate_to_result_s']:.1f} |")
    for name, analysis in document["analyses"].items():
        print(f"{name}: within margins {analysis['within_margins']}")
        print(f"{name}: crossover {analysis['crossover_rows']} rows "
              f"({analysis['crossover_csv_mb']} MB); Lambda limit {analysis['lambda_limit']}; "
              f"limits {analysis['lambda_limit_rows']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=list(SIZES))
    parser.add_argument("--analyses", nargs="+", default=list(ANALYSES),
                        choices=list(ANALYSES))
    parser.add_argument("--repeat", type=int, default=3, help="timed runs per worker")
    parser.add_argument("--data", type=Path, help="keep (and reuse) the CSVs in this folder")
    parser.add_argument("--output", type=Path, default=RESULTS)
    # A worker's arguments (this module runs itself in a fresh interpreter).
    parser.add_argument("--job", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--init", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--rows", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--analysis", help=argparse.SUPPRESS)
    parser.add_argument("--threads", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--memory", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--answer", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.init or args.job:
        answer = init_worker() if args.init else job_worker(
            args.job, args.rows, args.analysis, args.threads, args.repeat, args.memory)
        args.answer.write_text(json.dumps(answer), encoding="utf-8")
        return

    started = time.perf_counter()
    service = Service.defaults()
    document: dict[str, Any] = {
        "recorded": datetime.now(UTC).isoformat(timespec="seconds"), "machine": machine(),
        "aws": "moto in process (mock_aws); no network",
        "service": {"job_memory_mb": service.job_memory_mb,
                    "job_timeout_s": service.job_timeout_s,
                    "lambda_ephemeral_mb": service.lambda_ephemeral_mb,
                    "lambda_vcpus": round(service.lambda_vcpus, 3),
                    "fargate_cpu": service.fargate_cpu,
                    "fargate_memory_mb": service.fargate_memory_mb,
                    "lambda_input_limit_mb": service.lambda_input_limit_mb},
        "data": {"seed": SEED, "columns": [*FEATURES, TARGET], "format": VALUE_FORMAT,
                 "groups": GROUPS},
        "parameters": {name: dict(values) for name, values in ANALYSES.items()},
        "repeat": args.repeat,
        "prices": {"read": PRICES_READ, "region": "us-east-1",
                   "lambda_arm_gb_second_usd": LAMBDA_ARM_GB_SECOND_USD,
                   "lambda_request_usd": LAMBDA_REQUEST_USD,
                   "fargate_arm_vcpu_hour_usd": FARGATE_ARM_VCPU_HOUR_USD,
                   "fargate_arm_gb_hour_usd": FARGATE_ARM_GB_HOUR_USD,
                   "fargate_minimum_s": FARGATE_MINIMUM_S,
                   "step_functions_transition_usd": STEP_FUNCTIONS_TRANSITION_USD,
                   "sources": PRICE_SOURCES},
    }
    init_runs = []
    for _ in range(3):
        init = run_worker(["--init"], 120)
        assert init is not None
        init_runs.append(init)
    start = start_up(init_runs, service)
    document["start_up"] = {**start, "runs": init_runs}
    print(f"start-up: {start}", flush=True)

    below = workflow_transitions(service.definition, service.threshold_bytes)
    above = workflow_transitions(service.definition, service.threshold_bytes + 1)
    document["workflow"] = {
        "lambda_path": below, "fargate_path": above,
        "lambda_path_usd": len(below) * STEP_FUNCTIONS_TRANSITION_USD,
        "fargate_path_usd": len(above) * STEP_FUNCTIONS_TRANSITION_USD}

    with contextlib.ExitStack() as stack:
        if args.data:
            args.data.mkdir(parents=True, exist_ok=True)
            folder = args.data
        else:
            folder = Path(stack.enter_context(tempfile.TemporaryDirectory(
                prefix="async-analytics-bench-")))
        sizes = measure(args, service, folder)
    document["sizes"] = [{"rows": size["rows"], "csv_bytes": size["csv_bytes"],
                          "bytes_per_row": round(size["csv_bytes"] / size["rows"], 2)}
                         for size in sizes]
    largest = sizes[-1]
    document["threshold"] = {
        "lambda_input_limit_mb": service.lambda_input_limit_mb,
        "bytes": service.threshold_bytes,
        "rows": rounded((service.threshold_bytes - len(",".join((*FEATURES, TARGET))) - 1)
                        / (largest["csv_bytes"] / largest["rows"]))}
    document["analyses"] = {analysis: evaluate(service, start, sizes, analysis)
                            for analysis in args.analyses}
    document["measurements"] = sizes
    print_table(document)
    write_results(document, args.output, started)


if __name__ == "__main__":
    main()
