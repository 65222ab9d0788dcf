"""Entity index builder: turn a reference CSV uploaded under ``reference/`` into an index version.

S3 invokes this function asynchronously for every ``reference/*.csv`` it stores. The function
reads the CSV, builds the index with ``entity_matching`` and publishes it:

1. every file of the index (``manifest.json`` last) under ``index/<version>/``;
2. then, and only then, the pointer ``index/CURRENT.json``::

       {"version": "20261126T170920123Z-3f2a9c1b7d4e",
        "files": {"manifest.json": "<sha256>", "idf.npy": "<sha256>", ...},
        "count": 12345, "method": "pruned",
        "source": {"key": "reference/companies.csv", "etag": "...", "versionId": "...",
                   "sequencer": "0066A3F1C2B5E8D9F1", "uploaded": "2026-11-26T17:09:19.504Z"},
        "created": "2026-11-26T17:09:20.123Z"}

A matcher reads the pointer first, so it never sees a half-written version, and a build that
fails (a bad file, a crash, a timeout) never replaces a good one. The version is the build's UTC
time (to the millisecond, so versions sort by age) and the first 12 hex digits of the CSV's
sha256; every attempt writes its own prefix, so two attempts never overwrite each other's files.

The CSV: a header with ``id`` and ``name`` columns (case and surrounding spaces ignored; other
columns are ignored), UTF-8 with or without a byte-order mark, one reference a row. Blank lines
are skipped; ids and names are stripped of surrounding spaces. The file is rejected, with a
``ReferenceFileError`` naming the lines (line 1 is the header), when a column is missing, an id
is empty or repeats, a name is empty or has no letter or digit, a row has more non-empty fields
than the header (a name with an unquoted comma), the bytes are not UTF-8, or there is no row.
The error is raised, so the invocation fails and the asynchronous failure destination keeps the
event; nothing is published.

An event that S3 never sends (``{}``, ``{"Records": [{}]}``, a record without its bucket or key,
a sequencer that is not hexadecimal...) is rejected by ``blueprints_common.entry``: logged as an
error and answered ``{"results": [], "rejected": ...}`` without raising, since a retry would
fail the same way. So is a record whose ``eventTime`` is more than ``MAX_CLOCK_SKEW`` ahead of
the builder's clock (status ``rejected``): S3 stamps the time it finished the request, so only
a forged event comes from the future.

Idempotency and ordering. S3 delivers an event at least once, and Lambda retries a failed
asynchronous invocation, so the same upload can arrive several times, and out of order with
newer uploads. The pointer records the source object (key and version id, or ETag when the
bucket is not versioned), the event's ``sequencer`` and its upload time, and before building
and again before publishing:

- a pointer that already names this object means the work is done: nothing is built;
- a pointer whose source was uploaded later means this event is stale: nothing is built, so a
  late retry never rolls the index back to older data. For two uploads of the same key, "later"
  is S3's own order of events on that key, the greater ``sequencer`` (the shorter one padded
  with zeros on the right, as S3 documents), whatever the clocks said. For different keys (or
  a pointer without a sequencer) it is the upload time; a pointer whose upload time is more
  than ``MAX_CLOCK_SKEW`` ahead of the builder's clock is not believed, and is replaced, so
  one forged time cannot stop the index from updating;
- otherwise the pointer is replaced with a conditional write (``If-Match`` on the ETag read, or
  ``If-None-Match: *`` when there was none); if another build wrote it in between, the decision
  is taken again against what it wrote.

The object is downloaded on condition that its ETag is still the event's (``If-Match``, which
``s3:GetObject`` covers; reading by version id would need ``s3:GetObjectVersion`` too), so the
build reads exactly the upload that the event announced; an object deleted or overwritten since
is skipped, as its own event follows. The download streams to ``/tmp``
(hashed on the way) and the build folder is removed afterwards, warm or not.

Environment (set by ``components/services/entity_resolution.py``):

========================  ===================================================================
``BUCKET_NAME``           The bucket (required). Events from any other bucket are ignored.
``REFERENCE_PREFIX``      Where reference CSVs are uploaded. Default ``reference/``; other
                          keys are ignored.
``INDEX_PREFIX``          Where versions and the pointer are written. Default ``index/``.
``INDEX_METHOD``          The search method (``EntityIndex.build``): ``pruned``, ``invindex``,
                          ``napp``, ``sw-graph`` or ``exact``. Default: the library's.
``STRIP_LEGAL_SUFFIXES``  ``true`` (default) or ``false``: remove legal forms such as "Inc."
                          before matching.
========================  ===================================================================

Plus Powertools' ``POWERTOOLS_*`` variables. Metrics: ``IndexBuilt`` (1 per published version),
``IndexReferences`` (its reference count), ``BuildSeconds`` (building and saving the index),
``IndexBuildSkipped`` (an event that needed no build) and ``ReferenceRejected`` (a bad file).

Permissions: ``s3:GetObject`` on ``reference/*``, ``s3:PutObject`` on ``index/*``, and
``s3:GetObject`` on ``index/CURRENT.json`` for the checks above. Without ``s3:ListBucket``, S3
answers a missing pointer with 403, so a 403 is read as "no pointer yet"; if the conditional
write then finds a pointer that cannot be read, the build fails with a message that says so.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, BinaryIO, NoReturn, TypeGuard
from urllib.parse import unquote_plus

import boto3  # type: ignore[import-untyped]
from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.data_classes import S3Event
from aws_lambda_powertools.utilities.data_classes.s3_event import S3EventRecord
from aws_lambda_powertools.utilities.typing import LambdaContext
from blueprints_common import names
from blueprints_common.entry import S3_NOTIFICATION, entry
from blueprints_common.environment import flag, key_prefix, required
from botocore.exceptions import ClientError  # type: ignore[import-untyped]
from entity_matching import EntityIndex, normalize

POINTER = "CURRENT.json"
MANIFEST = "manifest.json"  # the index folder's root file (entity_matching: "The index folder")
DEFAULT_REFERENCE_PREFIX = "reference/"
DEFAULT_INDEX_PREFIX = "index/"
HASH_LENGTH = 12
CHUNK = 1024 * 1024
MAX_PROBLEMS = 20  # a file with more problems than this is reported by its first ones
POINTER_ATTEMPTS = 5
MISSING_CODES = ("NoSuchKey", "404")
DENIED_CODES = ("AccessDenied", "403")
GONE_CODES = ("NoSuchKey", "NoSuchVersion", "404", "PreconditionFailed", "412")
CONFLICT_CODES = ("PreconditionFailed", "412", "ConditionalRequestConflict", "409")
# How far ahead of this function's clock a time S3 stamped may be; later times are not believed.
MAX_CLOCK_SKEW = timedelta(minutes=15)

logger = Logger()
tracer = Tracer()
metrics = Metrics()
s3 = boto3.client("s3")


class ReferenceFileError(ValueError):
    """The reference CSV cannot be indexed; the message names the lines to fix."""


class PublishError(RuntimeError):
    """The pointer could not be replaced safely."""


@dataclass(frozen=True)
class Settings:
    """The function's environment, checked."""

    bucket: str
    reference_prefix: str = DEFAULT_REFERENCE_PREFIX
    index_prefix: str = DEFAULT_INDEX_PREFIX
    method: str | None = None  # None: the library's default
    strip_legal_suffixes: bool = True

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """The settings from ``environ`` (default ``os.environ``); ``ValueError`` lists every
        problem."""
        environ = os.environ if environ is None else environ
        problems: list[str] = []
        bucket = required(environ, "BUCKET_NAME", problems)
        prefixes = {name: key_prefix(environ, name, default, problems) for name, default in (
            ("REFERENCE_PREFIX", DEFAULT_REFERENCE_PREFIX), ("INDEX_PREFIX", DEFAULT_INDEX_PREFIX))}
        if prefixes["REFERENCE_PREFIX"] == prefixes["INDEX_PREFIX"]:
            problems.append("REFERENCE_PREFIX and INDEX_PREFIX must differ")
        strip_legal_suffixes = flag(environ, "STRIP_LEGAL_SUFFIXES", problems, default=True)
        if problems:
            raise ValueError("invalid entity index builder settings: " + "; ".join(problems))
        return cls(bucket=bucket, reference_prefix=prefixes["REFERENCE_PREFIX"],
                   index_prefix=prefixes["INDEX_PREFIX"],
                   method=environ.get("INDEX_METHOD") or None,
                   strip_legal_suffixes=strip_legal_suffixes)

    @property
    def pointer_key(self) -> str:
        return f"{self.index_prefix}{POINTER}"


@dataclass(frozen=True)
class Reference:
    """The uploaded object an event announces."""

    key: str
    etag: str
    version_id: str | None
    uploaded: str  # the event's time, ISO 8601 in UTC
    sequencer: str | None = None  # S3's order of the events on this key, hexadecimal

    @classmethod
    def from_record(cls, record: S3EventRecord) -> Reference:
        obj = record.s3.get_object
        return cls(key=unquote_plus(obj.key), etag=obj.etag.strip('"'),
                   version_id=obj.version_id or None, uploaded=record.event_time,
                   sequencer=obj.get("sequencer") or None)

    def source(self) -> dict[str, str]:
        """What the pointer records about the object."""
        source = {"key": self.key, "etag": self.etag, "uploaded": self.uploaded}
        if self.version_id:
            source["versionId"] = self.version_id
        if self.sequencer:
            source["sequencer"] = self.sequencer
        return source

    def time_problem(self, now: datetime) -> str | None:
        """Why the event's time cannot be believed, or ``None``."""
        uploaded = _parse_time(self.uploaded)
        if uploaded is None:
            return "the event's time is not an ISO 8601 time"
        if uploaded > now + MAX_CLOCK_SKEW:
            return "the event's time is in the future"
        return None

    def is_source_of(self, pointer: Mapping[str, Any] | None) -> bool:
        """Whether ``pointer`` was published from this very object."""
        source = _source(pointer)
        if source.get("key") != self.key:
            return False
        if self.version_id and source.get("versionId"):
            return bool(source["versionId"] == self.version_id)
        return bool(self.etag) and str(source.get("etag", "")).strip('"') == self.etag

    def is_older_than(self, pointer: Mapping[str, Any] | None, now: datetime) -> bool:
        """Whether ``pointer`` comes from an upload made after this one: by S3's sequencer for
        the same key, else by upload time, a time beyond ``now`` and the skew not counting."""
        source = _source(pointer)
        theirs = source.get("sequencer")
        if source.get("key") == self.key and self.sequencer and is_sequencer(theirs):
            return sequencer_order(theirs) > sequencer_order(self.sequencer)
        published = _parse_time(source.get("uploaded"))
        ours = _parse_time(self.uploaded)
        if published is None or ours is None:
            return False
        if published > now + MAX_CLOCK_SKEW:
            logger.warning("The published index's upload time is in the future; not believed",
                           key=self.key, published_key=source.get("key"))
            return False
        return published > ours


SEQUENCER_WIDTH = 64


def is_sequencer(value: object) -> TypeGuard[str]:
    """Whether ``value`` is an S3 sequencer: a string of hexadecimal digits."""
    return isinstance(value, str) and names.SEQUENCER.fullmatch(value) is not None


def sequencer_order(sequencer: str) -> str:
    """A sort key for S3 sequencers of one key: upper case, padded with zeros on the right to
    a common width, then compared as strings (S3's documented way to compare them)."""
    return sequencer.upper().ljust(SEQUENCER_WIDTH, "0")


@dataclass
class PointerState:
    """The pointer as last read: its document (``None`` when absent) and its ETag."""

    document: dict[str, Any] | None
    etag: str | None
    unreadable: bool = False


@dataclass
class Outcome:
    """What one record led to."""

    key: str
    status: str  # "published", "unchanged", "stale", "gone", "ignored" or "rejected"
    version: str | None = None
    count: int | None = None

    def as_dict(self) -> dict[str, Any]:
        answer: dict[str, Any] = {"key": self.key, "status": self.status,
                                  "version": self.version}
        if self.count is not None:
            answer["count"] = self.count
        return answer


# --- reading the CSV ---------------------------------------------------------------------------

@dataclass
class References:
    """The rows of a reference CSV: ids, names, and the line each row starts on."""

    ids: list[str]
    names: list[str]
    lines: list[int]

    def __len__(self) -> int:
        return len(self.ids)


def read_references(path: Path | str) -> References:
    """The references of a CSV file, in file order; ``ReferenceFileError`` otherwise."""
    with open(path, "rb") as stream:
        return parse_references(_text_lines(stream))


def _text_lines(stream: BinaryIO) -> Iterator[str]:
    """The file's lines, decoded one at a time, so that a bad byte is reported on its line.

    Splitting the bytes at newlines is safe in UTF-8: no multi-byte sequence contains one.
    """
    for number, raw in enumerate(stream, start=1):
        if number == 1 and raw.startswith(codecs.BOM_UTF8):
            raw = raw[len(codecs.BOM_UTF8):]
        try:
            yield raw.decode("utf-8")
        except UnicodeDecodeError:
            raise ReferenceFileError(f"line {number}: the file is not UTF-8 text") from None


def parse_references(lines: Iterable[str]) -> References:
    """``read_references`` over lines of text, each with its line ending."""
    reader = csv.reader(lines, strict=True)
    problems: list[str] = []
    references = References([], [], [])
    first_line: dict[str, int] = {}
    header: list[str] | None = None
    id_column = name_column = -1
    end = 0  # the last physical line read
    try:
        for row in reader:
            line, end = end + 1, reader.line_num
            if not any(cell.strip() for cell in row):
                continue
            if header is None:
                header = [cell.strip().casefold() for cell in row]
                id_column, name_column = _columns(header, line)
                continue
            extra = [cell for cell in row[len(header):] if cell.strip()]
            if extra:
                problems.append(f"line {line}: {len(row)} fields, the header has "
                                f"{len(header)} (quote a name that contains a comma)")
                continue
            ref_id = _cell(row, id_column)
            name = _cell(row, name_column)
            if not ref_id:
                problems.append(f"line {line}: the id is empty")
            elif ref_id in first_line:
                problems.append(f"line {line}: id {_show(ref_id)} repeats the id of line "
                                f"{first_line[ref_id]}")
            else:
                first_line[ref_id] = line
            if not name:
                problems.append(f"line {line}: the name is empty")
            if len(problems) >= MAX_PROBLEMS:
                break
            references.ids.append(ref_id)
            references.names.append(name)
            references.lines.append(line)
    except csv.Error as error:
        # Reported on the line where the record starts: an unclosed quote runs to the end.
        raise ReferenceFileError(f"line {end + 1}: not readable as CSV ({error})") from None
    if header is None:
        raise ReferenceFileError("the file is empty: it needs a header line with id and name "
                                 "columns, and one reference a line")
    if problems:
        _reject(problems)
    if not references.ids:
        raise ReferenceFileError("the file has a header but no reference rows")
    return references


def build_index(references: References, settings: Settings) -> EntityIndex:
    """The index of ``references``. A name with no letter or digit cannot be matched and the
    library refuses it; only then are the names normalised here, to name their lines."""
    try:
        if settings.method:
            return EntityIndex.build(references.ids, references.names, method=settings.method,
                                     strip_legal_suffixes=settings.strip_legal_suffixes)
        return EntityIndex.build(references.ids, references.names,
                                 strip_legal_suffixes=settings.strip_legal_suffixes)
    except ValueError:
        problems = [f"line {line}: the name has no letter or digit"
                    for line, name in zip(references.lines, references.names, strict=True)
                    if not normalize(name, strip_legal_suffixes=settings.strip_legal_suffixes)]
        if problems:
            _reject(problems)
        raise


def _reject(problems: list[str]) -> NoReturn:
    more = " (and possibly more)" if len(problems) >= MAX_PROBLEMS else ""
    raise ReferenceFileError(f"{len(problems)} problem(s){more}: "
                             + "; ".join(problems[:MAX_PROBLEMS]))


def _columns(header: list[str], line: int) -> tuple[int, int]:
    missing = [column for column in ("id", "name") if column not in header]
    if missing:
        raise ReferenceFileError(f"line {line}: the header has no {' or '.join(missing)} "
                                 "column; it needs id and name")
    repeated = [column for column in ("id", "name") if header.count(column) > 1]
    if repeated:
        raise ReferenceFileError(f"line {line}: the header has more than one "
                                 f"{' and '.join(repeated)} column")
    return header.index("id"), header.index("name")


def _cell(row: list[str], column: int) -> str:
    return row[column].strip() if column < len(row) else ""


def _show(value: str, limit: int = 40) -> str:
    return repr(value if len(value) <= limit else value[:limit] + "…")


# --- S3 ----------------------------------------------------------------------------------------

def read_pointer(client: Any, settings: Settings) -> PointerState:
    """The current pointer; absent (or unreadable: S3 says 403 for both) gives no document."""
    try:
        response = client.get_object(Bucket=settings.bucket, Key=settings.pointer_key)
    except ClientError as error:
        code = _code(error)
        if code in MISSING_CODES:
            return PointerState(None, None)
        if code in DENIED_CODES:
            logger.warning("The index pointer is missing or not readable (403)",
                           pointer=settings.pointer_key)
            return PointerState(None, None, unreadable=True)
        raise
    etag = response.get("ETag")
    try:
        document = json.loads(response["Body"].read())
    except ValueError:
        logger.warning("The index pointer is not JSON; it will be replaced",
                       pointer=settings.pointer_key)
        return PointerState(None, etag)
    if not isinstance(document, dict):
        logger.warning("The index pointer is not a JSON object; it will be replaced",
                       pointer=settings.pointer_key)
        return PointerState(None, etag)
    return PointerState(document, etag)


def download(client: Any, bucket: str, reference: Reference, target: Path) -> str | None:
    """Stream the object to ``target`` and answer its sha256; ``None`` if it is gone or was
    replaced since the event (its own event will follow)."""
    request: dict[str, Any] = {"Bucket": bucket, "Key": reference.key}
    # If-Match needs only s3:GetObject; reading by VersionId would need s3:GetObjectVersion.
    if reference.etag:
        request["IfMatch"] = f'"{reference.etag}"'
    elif reference.version_id:
        request["VersionId"] = reference.version_id
    try:
        response = client.get_object(**request)
    except ClientError as error:
        if _code(error) in GONE_CODES:
            return None
        raise
    return _save(response["Body"], target)


def _save(body: BinaryIO, target: Path) -> str:
    digest = hashlib.sha256()
    with target.open("wb") as stream:
        for chunk in iter(lambda: body.read(CHUNK), b""):
            digest.update(chunk)
            stream.write(chunk)
    return digest.hexdigest()


def upload_version(client: Any, settings: Settings, version: str, folder: Path,
                   files: Iterable[str]) -> dict[str, str]:
    """Upload the index files (the manifest last) and answer their sha256 by name."""
    ordered = sorted(files, key=lambda name: (name == MANIFEST, name))
    checksums = {}
    for name in ordered:
        path = folder / name
        with path.open("rb") as stream:
            checksums[name] = hashlib.file_digest(stream, "sha256").hexdigest()
        content_type = "application/json" if name.endswith(".json") else \
            "application/octet-stream"
        client.upload_file(str(path), settings.bucket, f"{settings.index_prefix}{version}/{name}",
                           ExtraArgs={"ContentType": content_type})
    return checksums


def write_pointer(client: Any, settings: Settings, pointer: Mapping[str, Any],
                  state: PointerState, reference: Reference) -> PointerState | None:
    """Replace the pointer if ``state`` is still current; ``None`` when it was written, else the
    pointer another build wrote meanwhile."""
    body = json.dumps(pointer, indent=2).encode("utf-8") + b"\n"
    condition = {"IfMatch": state.etag} if state.etag else {"IfNoneMatch": "*"}
    try:
        client.put_object(Bucket=settings.bucket, Key=settings.pointer_key, Body=body,
                          ContentType="application/json", CacheControl="no-cache", **condition)
    except ClientError as error:
        if _code(error) not in CONFLICT_CODES:
            raise
        latest = read_pointer(client, settings)
        if latest.document is None and latest.unreadable:
            raise PublishError(
                f"{settings.pointer_key} exists but cannot be read: the builder needs "
                f"s3:GetObject on it to publish safely") from None
        logger.info("The pointer changed while building; deciding again",
                    key=reference.key)
        return latest
    return None


def _code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def _source(pointer: Mapping[str, Any] | None) -> Mapping[str, Any]:
    source = (pointer or {}).get("source")
    return source if isinstance(source, Mapping) else {}


def _parse_time(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _timestamp(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def version_id(moment: datetime, content_sha256: str) -> str:
    """A version name that sorts by build time: ``20261126T170920123Z-<12 hex digits>``."""
    moment = moment.astimezone(UTC)
    return (f"{moment:%Y%m%dT%H%M%S}{moment.microsecond // 1000:03d}Z-"
            f"{content_sha256[:HASH_LENGTH]}")


# --- the build ---------------------------------------------------------------------------------

def _decide(reference: Reference, state: PointerState, now: datetime) -> str | None:
    """``unchanged`` or ``stale`` when this object must not be published, else ``None``."""
    if reference.is_source_of(state.document):
        return "unchanged"
    if reference.is_older_than(state.document, now):
        return "stale"
    return None


def utcnow() -> datetime:
    """The builder's clock (a seam for tests)."""
    return datetime.now(UTC)


@tracer.capture_method
def publish_reference(reference: Reference, settings: Settings, *, client: Any = None,
                      now: Callable[[], datetime] = utcnow) -> Outcome:
    """Build the index of one uploaded CSV and publish it, unless that is already done or
    stale. ``ReferenceFileError`` for a file that cannot be indexed."""
    client = client or s3
    state = read_pointer(client, settings)
    decision = _decide(reference, state, now())
    if decision:
        return _skipped(reference, decision, state)

    folder = Path(tempfile.mkdtemp(prefix="entity-build-"))
    try:
        csv_path = folder / "reference.csv"
        content_sha256 = download(client, settings.bucket, reference, csv_path)
        if content_sha256 is None:
            logger.warning("The reference object is gone or was replaced; skipping",
                           key=reference.key)
            metrics.add_metric(name="IndexBuildSkipped", unit=MetricUnit.Count, value=1)
            return Outcome(reference.key, "gone")
        references = read_references(csv_path)
        csv_path.unlink()

        started = time.perf_counter()
        index = build_index(references, settings)
        del references
        index_folder = folder / "index"
        manifest = index.save(index_folder)
        build_seconds = time.perf_counter() - started

        created = now()
        version = version_id(created, content_sha256)
        files = upload_version(client, settings, version, index_folder,
                               [*manifest.artifacts, MANIFEST])
        pointer = {
            "version": version,
            "files": files,
            "count": len(index),
            "method": index.method,
            "source": reference.source(),
            "created": _timestamp(created),
        }
        for _ in range(POINTER_ATTEMPTS):
            latest = write_pointer(client, settings, pointer, state, reference)
            if latest is None:
                break
            state = latest
            decision = _decide(reference, state, now())
            if decision:
                # The files stay under their own prefix, unreferenced; nothing serves them.
                return _skipped(reference, decision, state)
        else:
            raise PublishError(f"{settings.pointer_key} kept changing; gave up after "
                               f"{POINTER_ATTEMPTS} attempts")
    finally:
        shutil.rmtree(folder, ignore_errors=True)

    metrics.add_metric(name="IndexBuilt", unit=MetricUnit.Count, value=1)
    metrics.add_metric(name="IndexReferences", unit=MetricUnit.Count, value=len(index))
    metrics.add_metric(name="BuildSeconds", unit=MetricUnit.Seconds, value=build_seconds)
    logger.info("Index version published", key=reference.key, version=version,
                count=len(index), method=index.method, build_seconds=round(build_seconds, 3))
    return Outcome(reference.key, "published", version, len(index))


def _skipped(reference: Reference, status: str, state: PointerState) -> Outcome:
    version = (state.document or {}).get("version")
    metrics.add_metric(name="IndexBuildSkipped", unit=MetricUnit.Count, value=1)
    if status == "unchanged":
        logger.info("This object is already published; nothing to do", key=reference.key,
                    version=version)
    else:
        logger.warning("A newer upload is already published; skipping this older one",
                       key=reference.key, version=version)
    return Outcome(reference.key, status, version if isinstance(version, str) else None)


def reference_of(record: S3EventRecord, settings: Settings) -> Reference | None:
    """The reference a record announces, or ``None`` for a record this function ignores."""
    if not record.event_name.startswith("ObjectCreated:"):
        return None
    if record.s3.bucket.name != settings.bucket:
        return None
    reference = Reference.from_record(record)
    if not reference.key.startswith(settings.reference_prefix) \
            or not reference.key.lower().endswith(".csv"):
        return None
    return reference


@entry(S3_NOTIFICATION, logger=logger, tracer=tracer, metrics=metrics)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    settings = Settings.from_environ()
    outcomes = []
    if not event.get("Records"):
        # S3 sends an s3:TestEvent when a notification is configured: nothing to build.
        logger.info("An event without records; nothing to do", event_kind=event.get("Event"))
        return {"results": []}
    for record in S3Event(event).records:
        reference = reference_of(record, settings)
        if reference is None:
            logger.warning("Ignored a record that is not a reference upload to this bucket",
                           event_name=record.event_name, bucket=record.s3.bucket.name)
            outcomes.append(Outcome(unquote_plus(record.s3.get_object.key), "ignored"))
            continue
        problem = reference.time_problem(utcnow())
        if problem is not None:
            # Not raised: a retry would be refused the same way.
            logger.error("Rejected a record", key=reference.key, problem=problem)
            metrics.add_metric(name="ReferenceEventRejected", unit=MetricUnit.Count, value=1)
            outcomes.append(Outcome(reference.key, "rejected"))
            continue
        try:
            outcomes.append(publish_reference(reference, settings, now=utcnow))
        except ReferenceFileError as error:
            metrics.add_metric(name="ReferenceRejected", unit=MetricUnit.Count, value=1)
            logger.error("The reference file was rejected", key=reference.key,
                         problem=str(error))
            raise
    return {"results": [outcome.as_dict() for outcome in outcomes]}
