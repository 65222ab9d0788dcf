"""Entity matcher: the closest reference entities for free-text names, behind an HTTP API.

Routes (API Gateway HTTP API, payload format 2.0):

- ``GET /match?name=Acme%20Corp&k=3`` answers one name::

      {"query": "Acme Corp", "match": {"id": "c1", "name": "Acme Corporation", "score": 1.0},
       "matches": [{"id": "c1", "name": "Acme Corporation", "score": 1.0}, ...],
       "indexVersion": "20261126T170920123Z-3f2a9c1b7d4e"}

- ``POST /match`` with ``{"names": ["Acme Corp", "Globex"], "k": 3}`` (1 to 100 names) answers
  ``{"results": [<one object as above, without indexVersion, per name, in order>],
  "indexVersion": "..."}``.

``matches`` holds at most ``k`` (default 3, 1 to 20) references, best first, each with a
``score`` in [0, 1], and only those scoring at least ``MIN_SCORE``. With ``RERANK`` (the
default) the score is the re-ranker's calibrated probability that the reference is the name's
entity (``entity_matching.rerank``), so ``MIN_SCORE`` 0.5 means "more likely right than not";
without it, the n-gram cosine. ``match`` is the
best of them, or ``null`` when none is that close: **``"match": null`` (with ``"matches": []``)
is the "no confident match" answer**, a normal 200. ``indexVersion`` says which published index
answered.

Bad input is a 400 ``{"statusCode": 400, "message": "..."}`` that never echoes the input: a
missing or empty name, one with no letter or digit, one over 256 characters, ``k`` that is not
an integer from 1 to 20, ``name`` or ``k`` given twice in the query string (HTTP APIs would join
the values with commas, which are legal in names), and for POST a body that is not JSON (or
nests deeper than ``blueprints_common.safe_json`` allows), not an object with ``names`` (and
optionally ``k``) only, or a ``names`` list that is empty or longer than 100. Input is
validated before the index is consulted, so it is a 400 even while the index is unavailable.
An event API Gateway never sends (a query string or body that is not a string...) is a 400
from ``blueprints_common.entry``.

The index. Nothing is loaded at import, so a missing index cannot break the function's start.
The first request reads the pointer ``index/CURRENT.json`` written by the index builder
(``{"version", "files": {name: sha256}, "count", "method", ...}``), downloads that version's
files to ``/tmp/entity-index/<version>/`` (side by side), checks each against the pointer's
sha256 as it arrives, and loads the folder with ``EntityIndex.load`` (which checks sizes, shapes
and counts against the index's manifest before nmslib reads a file). The index stays in memory.
The pointer is read again at most once every ``POINTER_TTL_SECONDS``; when it names another
version (a newer one, or an older one an operator rolled back to) that version is loaded
completely and then swapped in, and the other versions' folders are removed from ``/tmp``. If it
fails to load, the failure is logged (``IndexLoadFailed``) and the loaded version keeps serving;
the next attempt comes after the TTL.

Until a version has loaded, requests get a 503 with ``Retry-After``: ``{"message": "No index
published yet"}`` while there is no pointer (without ``s3:ListBucket``, S3 answers a missing key
with 403, which is read the same way), else ``"The index is not available yet"``. Errors while
reading S3 or loading a version never escape the request, so the container keeps working.

Environment (set by ``components/services/entity_resolution.py``):

=======================  ====================================================================
``BUCKET_NAME``          The bucket holding the index (required).
``INDEX_PREFIX``         Where the builder publishes versions and the pointer. Default
                         ``index/``.
``MIN_SCORE``            Matches scoring below this (0 to 1) are dropped. Default ``0.5``.
``RERANK``               ``true`` (default) or ``false``: re-rank the index's candidates with
                         word-level evidence and answer calibrated probabilities.
``POINTER_TTL_SECONDS``  How long the pointer read is trusted before it is read again, in
                         seconds (0 or more). Default ``60``.
=======================  ====================================================================

Plus Powertools' ``POWERTOOLS_*`` variables. Logs never carry request bodies or names.
Metrics: ``MatchRequests`` (each request to a route), ``NoConfidentMatch`` (names without a
match, per request), ``BadRequests``, ``IndexUnavailable`` (503 answers), ``IndexLoadFailed``
and ``IndexLoadSeconds``.

The module keeps its imports to what the query path needs (numpy, and nmslib once an index of
an nmslib method loads; neither scikit-learn nor scipy). The S3 client is created once, at
import, and ``IndexStore`` takes a clock so that the TTL can be tested without waiting.
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
import os
import re
import shutil
import tempfile
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import boto3  # type: ignore[import-untyped]
from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.exceptions import BadRequestError
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from blueprints_common import safe_json
from blueprints_common.entry import HTTP_API, entry, http_resolver
from blueprints_common.environment import key_prefix, required
from botocore.config import Config  # type: ignore[import-untyped]
from botocore.exceptions import ClientError  # type: ignore[import-untyped]
from entity_matching import EntityIndex, Match, normalize

POINTER = "CURRENT.json"
MANIFEST = "manifest.json"  # the index folder's root file (entity_matching: "The index folder")
CACHE_DIR = Path(tempfile.gettempdir()) / "entity-index"
DEFAULT_INDEX_PREFIX = "index/"
DEFAULT_MIN_SCORE = 0.5
DEFAULT_TTL_SECONDS = 60.0
DEFAULT_K = 3
MAX_K = 20
MAX_NAMES = 100
MAX_NAME_LENGTH = 256
# 100 names of 256 characters, each written as \\uXXXX escapes, fit with room to spare.
MAX_BODY_CHARACTERS = 256 * 1024
MAX_FILES = 32
CHUNK = 1024 * 1024
DOWNLOAD_THREADS = 4
NO_INDEX = "No index published yet"
UNAVAILABLE = "The index is not available yet"
SHAPE = "The body must be a JSON object with names (a list of 1 to 100 names) and optionally k"
K_RANGE = f"k must be an integer from 1 to {MAX_K}"
# Names that become folder and file names under /tmp: no separators, no dot files.
_SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
_SHA256 = re.compile(r"[0-9a-f]{64}")
_DIGITS = re.compile(r"[0-9]{1,6}")
MISSING_CODES = ("NoSuchKey", "404", "AccessDenied", "403")

logger = Logger()
tracer = Tracer()
metrics = Metrics()
app = http_resolver()
s3 = boto3.client("s3", config=Config(connect_timeout=2, read_timeout=5,
                                      retries={"mode": "standard", "max_attempts": 3}))


@dataclass(frozen=True)
class Settings:
    """The function's environment, checked."""

    bucket: str
    index_prefix: str = DEFAULT_INDEX_PREFIX
    min_score: float = DEFAULT_MIN_SCORE
    pointer_ttl_seconds: float = DEFAULT_TTL_SECONDS
    rerank: bool = True

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """The settings from ``environ`` (default ``os.environ``); ``ValueError`` lists every
        problem."""
        environ = os.environ if environ is None else environ
        problems: list[str] = []
        bucket = required(environ, "BUCKET_NAME", problems)
        prefix = key_prefix(environ, "INDEX_PREFIX", DEFAULT_INDEX_PREFIX, problems)
        min_score = _number(environ.get("MIN_SCORE"), DEFAULT_MIN_SCORE)
        if min_score is None or not 0 <= min_score <= 1:
            problems.append("MIN_SCORE must be a number from 0 to 1")
        ttl = _number(environ.get("POINTER_TTL_SECONDS"), DEFAULT_TTL_SECONDS)
        if ttl is None or ttl < 0:
            problems.append("POINTER_TTL_SECONDS must be a number of seconds, 0 or more")
        rerank = (environ.get("RERANK") or "true").strip().lower()
        if rerank not in ("true", "false"):
            problems.append("RERANK must be true or false")
        if problems:
            raise ValueError("invalid entity matcher settings: " + "; ".join(problems))
        return cls(bucket=bucket, index_prefix=prefix, min_score=min_score or 0.0,
                   pointer_ttl_seconds=ttl or 0.0, rerank=rerank == "true")


def _number(text: str | None, default: float) -> float | None:
    if text is None or not text.strip():
        return default
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


# --- the published index -----------------------------------------------------------------------

@dataclass(frozen=True)
class Pointer:
    """``index/CURRENT.json``: the published version and its files' checksums."""

    version: str
    files: Mapping[str, str]
    count: int | None = None
    method: str | None = None

    @classmethod
    def parse(cls, raw: bytes) -> Pointer:
        """The pointer in ``raw``; ``ValueError`` when it is not one."""
        document = json.loads(raw)
        if not isinstance(document, dict):
            raise ValueError("the pointer is not a JSON object")
        version = document.get("version")
        if not isinstance(version, str) or not _SAFE_NAME.fullmatch(version):
            raise ValueError("the pointer's version is not a version name")
        files = document.get("files")
        if not isinstance(files, dict) or not 0 < len(files) <= MAX_FILES:
            raise ValueError("the pointer's files are not a list of checksums")
        for name, digest in files.items():
            if not _SAFE_NAME.fullmatch(name) or not isinstance(digest, str) \
                    or not _SHA256.fullmatch(digest):
                raise ValueError("the pointer lists a file name or sha256 that is not valid")
        if MANIFEST not in files:
            raise ValueError(f"the pointer's files do not include {MANIFEST}")
        count, method = document.get("count"), document.get("method")
        return cls(version, dict(files), count if isinstance(count, int) else None,
                   method if isinstance(method, str) else None)


class IndexUnavailableError(Exception):
    """No index version is loaded: none is published, or none could be loaded."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.message = message
        self.retry_after = retry_after


class ArtifactMismatchError(Exception):
    """A downloaded file does not match its sha256 in the pointer."""


@dataclass(frozen=True)
class Loaded:
    """An index version in memory."""

    version: str
    index: EntityIndex


class IndexStore:
    """The published index, loaded on first use and followed through the pointer.

    ``client`` is an S3 client (anything with its ``get_object``); ``clock`` answers seconds
    (``time.monotonic`` by default) and drives the TTL; ``loader`` loads a folder. Lambda runs
    one request at a time per container, so there are no locks.
    """

    def __init__(self, client: Any, bucket: str, prefix: str = DEFAULT_INDEX_PREFIX, *,
                 ttl_seconds: float = DEFAULT_TTL_SECONDS, cache_dir: Path | str = CACHE_DIR,
                 clock: Callable[[], float] = time.monotonic,
                 loader: Callable[[Path], EntityIndex] = EntityIndex.load) -> None:
        self.client = client
        self.bucket = bucket
        self.prefix = prefix
        self.ttl_seconds = ttl_seconds
        self.cache_dir = Path(cache_dir)
        self.clock = clock
        self.loader = loader
        self.loaded: Loaded | None = None
        self._checked_at: float | None = None
        self._problem = UNAVAILABLE

    def current(self) -> Loaded:
        """The loaded version, after reading the pointer if the TTL has passed;
        ``IndexUnavailableError`` when there is none."""
        now = self.clock()
        if self._checked_at is None or now - self._checked_at >= self.ttl_seconds:
            self._checked_at = now
            self.refresh()
        if self.loaded is None:
            waited = now - self._checked_at
            raise IndexUnavailableError(self._problem,
                                        max(1, math.ceil(self.ttl_seconds - waited)))
        return self.loaded

    @tracer.capture_method
    def refresh(self) -> None:
        """Read the pointer and load the version it names, if that is not the loaded one.

        Never raises: a failure is logged, and the loaded version (if any) keeps serving.
        """
        try:
            pointer = self._read_pointer()
        except Exception:  # S3 errors, and whatever a malformed pointer makes the parser raise
            logger.exception("The index pointer could not be read")
            self._problem = UNAVAILABLE
            return
        if pointer is None:
            if self.loaded is not None:
                logger.warning("The index pointer is gone; serving the loaded version",
                               version=self.loaded.version)
            self._problem = NO_INDEX
            return
        if self.loaded is not None and pointer.version == self.loaded.version:
            return
        self._remove_versions(keep=self.loaded.version if self.loaded else None)
        started = time.perf_counter()
        try:
            loaded = self._load(pointer)
        except Exception:  # whatever a new version does, the loaded one keeps serving
            logger.exception("An index version could not be loaded", version=pointer.version,
                             serving=self.loaded.version if self.loaded else None)
            metrics.add_metric(name="IndexLoadFailed", unit=MetricUnit.Count, value=1)
            shutil.rmtree(self.cache_dir / pointer.version, ignore_errors=True)
            self._problem = UNAVAILABLE
            return
        seconds = time.perf_counter() - started
        previous, self.loaded = self.loaded, loaded
        metrics.add_metric(name="IndexLoadSeconds", unit=MetricUnit.Seconds, value=seconds)
        logger.info("Index version loaded", version=loaded.version, count=len(loaded.index),
                    method=loaded.index.method, previous=previous.version if previous else None,
                    seconds=round(seconds, 3))
        self._remove_versions(keep=loaded.version)

    def _read_pointer(self) -> Pointer | None:
        try:
            response = self.client.get_object(Bucket=self.bucket, Key=f"{self.prefix}{POINTER}")
        except ClientError as error:
            code = str(error.response.get("Error", {}).get("Code", ""))
            if code in MISSING_CODES:
                logger.info("No index pointer", code=code)
                return None
            raise
        return Pointer.parse(response["Body"].read())

    def _load(self, pointer: Pointer) -> Loaded:
        folder = self.cache_dir / pointer.version
        shutil.rmtree(folder, ignore_errors=True)  # what an interrupted attempt left
        folder.mkdir(parents=True)

        def fetch(name: str) -> str:
            response = self.client.get_object(
                Bucket=self.bucket, Key=f"{self.prefix}{pointer.version}/{name}")
            return _save(response["Body"], folder / name)

        # The files download side by side: a cold start waits for the largest, not the sum.
        with ThreadPoolExecutor(max_workers=DOWNLOAD_THREADS) as pool:
            digests = dict(zip(pointer.files, pool.map(fetch, pointer.files), strict=True))
        for name, expected in pointer.files.items():
            if digests[name] != expected:
                raise ArtifactMismatchError(f"{name} of version {pointer.version} does not "
                                            "match its sha256 in the pointer")
        index = self.loader(folder)
        if pointer.count is not None and pointer.count != len(index):
            raise ArtifactMismatchError(f"version {pointer.version} holds {len(index)} "
                                        f"references, the pointer says {pointer.count}")
        return Loaded(pointer.version, index)

    def _remove_versions(self, keep: str | None) -> None:
        if not self.cache_dir.is_dir():
            return
        for folder in self.cache_dir.iterdir():
            if folder.name != keep:
                shutil.rmtree(folder, ignore_errors=True)


def _save(body: Any, path: Path) -> str:
    """Stream a response body to ``path``; answers its sha256."""
    digest = hashlib.sha256()
    with path.open("wb") as stream:
        for chunk in iter(lambda: body.read(CHUNK), b""):
            digest.update(chunk)
            stream.write(chunk)
    return digest.hexdigest()


def default_store(configured: Settings) -> IndexStore:
    """The store for the configured bucket, with the module's S3 client."""
    return IndexStore(s3, configured.bucket, configured.index_prefix,
                      ttl_seconds=configured.pointer_ttl_seconds,
                      loader=functools.partial(EntityIndex.load, rerank=configured.rerank))


settings = Settings.from_environ()
indexes = default_store(settings)


# --- requests ----------------------------------------------------------------------------------

def check_name(value: Any, what: str) -> str | None:
    """What is wrong with a name to match, or ``None``."""
    if value is None:
        return f"{what} is required"
    if not isinstance(value, str):
        return f"{what} must be a string"
    if not value.strip():
        return f"{what} is empty"
    if len(value) > MAX_NAME_LENGTH:
        return f"{what} is longer than {MAX_NAME_LENGTH} characters"
    if not normalize(value):
        return f"{what} has no letter or digit to match on"
    return None


def parse_k(value: Any) -> int:
    """``k`` as given in a JSON body: an integer from 1 to ``MAX_K``."""
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_K:
        raise BadRequestError(K_RANGE)
    return value


def parse_k_text(text: str | None) -> int:
    """``k`` as given in a query string: decimal digits; absent means ``DEFAULT_K``."""
    if text is None:
        return DEFAULT_K
    if not _DIGITS.fullmatch(text):
        raise BadRequestError(K_RANGE)
    return parse_k(int(text))


def parse_query(event: Any) -> tuple[str, int]:
    """The name and ``k`` of a GET request."""
    raw = event.get("rawQueryString") or ""
    given = [key for key, _ in parse_qsl(raw, keep_blank_values=True)]
    if given.count("name") > 1 or given.count("k") > 1:
        raise BadRequestError("Give name and k once each; POST /match takes several names")
    parameters = event.query_string_parameters or {}
    name = parameters.get("name")
    problem = check_name(name, "name")
    if problem is not None or name is None:
        raise BadRequestError(problem or "name is required")
    return name, parse_k_text(parameters.get("k"))


def parse_batch(event: Any) -> tuple[list[str], int]:
    """The names and ``k`` of a POST request."""
    try:
        body = event.decoded_body
    except ValueError:  # base64 or UTF-8 that does not decode
        raise BadRequestError("The body is not valid JSON") from None
    if not body:
        raise BadRequestError(SHAPE)
    if len(body) > MAX_BODY_CHARACTERS:
        raise BadRequestError("The body is too large")
    try:
        payload = safe_json.loads(body)
    except safe_json.InvalidJsonError:
        raise BadRequestError("The body is not valid JSON") from None
    if not isinstance(payload, dict) or set(payload) - {"names", "k"}:
        raise BadRequestError(SHAPE)
    names = payload.get("names")
    if not isinstance(names, list) or not 0 < len(names) <= MAX_NAMES:
        raise BadRequestError(f"names must be a list of 1 to {MAX_NAMES} names")
    problems = [problem for position, name in enumerate(names)
                if (problem := check_name(name, f"names[{position}]"))]
    if problems:
        shown = "; ".join(problems[:5])
        raise BadRequestError(shown + (f"; and {len(problems) - 5} more"
                                       if len(problems) > 5 else ""))
    return names, parse_k(payload["k"]) if "k" in payload else DEFAULT_K


def answer(query: str, matches: list[Match]) -> dict[str, Any]:
    """One name's answer: ``match`` is the best match, or ``None`` for no confident match."""
    found = [{"id": match.id, "name": match.name, "score": match.score} for match in matches]
    return {"query": query, "match": found[0] if found else None, "matches": found}


def _count_misses(results: list[list[Match]]) -> None:
    misses = sum(1 for matches in results if not matches)
    if misses:
        metrics.add_metric(name="NoConfidentMatch", unit=MetricUnit.Count, value=misses)


@app.get("/match")
@tracer.capture_method
def match_one() -> dict[str, Any]:
    metrics.add_metric(name="MatchRequests", unit=MetricUnit.Count, value=1)
    name, k = parse_query(app.current_event)
    loaded = indexes.current()
    matches = loaded.index.match(name, k=k, min_score=settings.min_score)
    _count_misses([matches])
    logger.debug("Matched", names=1, k=k, confident=bool(matches), version=loaded.version)
    return {**answer(name, matches), "indexVersion": loaded.version}


@app.post("/match")
@tracer.capture_method
def match_batch() -> dict[str, Any]:
    metrics.add_metric(name="MatchRequests", unit=MetricUnit.Count, value=1)
    names, k = parse_batch(app.current_event)
    loaded = indexes.current()
    results = loaded.index.match_many(names, k=k, min_score=settings.min_score)
    _count_misses(results)
    logger.debug("Matched", names=len(names), k=k, version=loaded.version)
    return {"results": [answer(name, matches) for name, matches in zip(names, results,
                                                                        strict=True)],
            "indexVersion": loaded.version}


@app.exception_handler(BadRequestError)
def bad_request(error: BadRequestError) -> Response[dict[str, Any]]:
    metrics.add_metric(name="BadRequests", unit=MetricUnit.Count, value=1)
    logger.info("Rejected a request", reason=error.msg)
    return Response(400, content_types.APPLICATION_JSON, {"statusCode": 400, "message": error.msg})


@app.exception_handler(IndexUnavailableError)
def index_unavailable(error: IndexUnavailableError) -> Response[dict[str, Any]]:
    metrics.add_metric(name="IndexUnavailable", unit=MetricUnit.Count, value=1)
    return Response(503, content_types.APPLICATION_JSON,
                    {"statusCode": 503, "message": error.message},
                    headers={"Retry-After": str(error.retry_after)})


# Names are the caller's data: the entry never logs the event (query string and body).
@entry(HTTP_API, logger=logger, tracer=tracer, metrics=metrics)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
