"""The entity index builder, driven by S3 ObjectCreated events against a moto bucket.

The helpers at the top (reference names, CSVs, S3 events, the bucket) are shared with the
matcher's end-to-end test.
"""

from __future__ import annotations

import codecs
import functools
import hashlib
import importlib
import itertools
import json
import random
import re
import sys
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import quote_plus

import boto3
import pytest
from botocore.exceptions import ClientError
from entity_matching import EntityIndex

from tests.functions.events import LambdaContext

REGION = "us-east-1"
ACCOUNT = "111111111111"
BUCKET = "entity-resolution-data"
REFERENCE_PREFIX = "reference/"
INDEX_PREFIX = "index/"
POINTER_KEY = f"{INDEX_PREFIX}CURRENT.json"
KEY = "reference/companies.csv"
UPLOADED = "2026-11-26T17:00:00.000Z"
LATER = "2026-11-26T18:00:00.000Z"
VERSION = re.compile(r"\d{8}T\d{9}Z-[0-9a-f]{12}")
# Ignored records publish no business metric, and Powertools warns about that.
pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish")

# --- reference data ----------------------------------------------------------------------------

FAMILY = ("Abernathy", "Bergström", "Calderón", "Delacroix", "Esposito", "Fairbanks", "Gallagher",
          "Haraldsen", "Iglesias", "Jovanović", "Kaminski", "Lindqvist", "Moreau", "Nishimura",
          "Oyelaran", "Pemberton", "Quigley", "Rasmussen", "Saarinen", "Thorvaldsen",
          "Underwood", "Villanueva", "Whitfield", "Xiong", "Yamamoto", "Zavala")
QUALITY = ("Evergreen", "Northstar", "Bluewater", "Ironwood", "Redstone", "Clearview",
           "Highland", "Riverbend", "Suncrest", "Oakmont", "Brightline", "Stonebridge",
           "Westbrook", "Lakeshore", "Fairview", "Kingsley")
TRADE = ("Freight", "Pharmaceuticals", "Bakery", "Plastics", "Semiconductors", "Realty",
         "Brewing", "Dairy", "Aerospace", "Fisheries", "Lumber", "Printing", "Ceramics",
         "Optics", "Robotics", "Telecom", "Vineyards", "Outfitters", "Laboratories", "Marine")
LEGAL = ("Inc.", "LLC", "Ltd", "GmbH", "S.A.", "AG", "PLC", "Corp.", "Co.", "B.V.", "Limited",
         "Corporation", "Pty Ltd", "Oy", "")


def company_names(count: int, seed: int = 6) -> list[str]:
    """``count`` distinct company-like names, repeatable for a seed.

    Distinct even without legal forms, case or word order, so every name has one right answer.
    """
    rng = random.Random(seed)  # noqa: S311 (repeatable test data)
    names: list[str] = []
    seen: set[frozenset[str]] = set()
    while len(names) < count:
        shape = rng.randrange(4)
        if shape == 0:
            core = f"{rng.choice(QUALITY)} {rng.choice(TRADE)}"
        elif shape == 1:
            core = f"{rng.choice(FAMILY)} {rng.choice(TRADE)}"
        elif shape == 2:
            core = f"{rng.choice(FAMILY)} & {rng.choice(FAMILY)}"
        else:
            core = f"{rng.choice(QUALITY)} {rng.choice(FAMILY)} {rng.choice(TRADE)}"
        words = frozenset(core.lower().replace("&", "").split())
        if words in seen:
            continue
        seen.add(words)
        names.append(f"{core} {rng.choice(LEGAL)}".strip())
    return names


NAMES = company_names(300)
IDS = [f"C{number:05d}" for number in range(len(NAMES))]


def reference_csv(ids: list[str] | None = None, names: list[str] | None = None, *,
                  bom: bool = False, newline: str = "\n") -> bytes:
    """A reference CSV with ``id`` and ``name`` columns (names quoted as a spreadsheet would)."""
    ids, names = ids or IDS, names or NAMES
    lines = ["id,name"] + [f'{ref_id},"{name}"' for ref_id, name in zip(ids, names, strict=True)]
    text = newline.join(lines) + newline
    return (codecs.BOM_UTF8 if bom else b"") + text.encode("utf-8")


# --- S3 ----------------------------------------------------------------------------------------

SEQUENCER = "0066A3F1C2B5E8D9F1"
# S3's sequencers grow with each event on a key; uploads here take the next one.
_sequencers = itertools.count(int(SEQUENCER, 16) + 1)


def next_sequencer() -> str:
    return f"{next(_sequencers):018X}"


def s3_event(key: str, *, etag: str, version_id: str | None = None, size: int = 0,
             bucket: str = BUCKET, event_time: str = UPLOADED,
             event_name: str = "ObjectCreated:Put",
             sequencer: str | None = SEQUENCER) -> dict[str, Any]:
    """An S3 notification as Lambda receives it: the key URL-encoded, the ETag without quotes."""
    obj: dict[str, Any] = {"key": quote_plus(key, safe="/"), "size": size,
                           "eTag": etag.strip('"')}
    if sequencer is not None:
        obj["sequencer"] = sequencer
    if version_id is not None:
        obj["versionId"] = version_id
    return {"Records": [{
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "awsRegion": REGION,
        "eventTime": event_time,
        "eventName": event_name,
        "userIdentity": {"principalId": "AWS:AIDAEXAMPLEUSERID"},
        "requestParameters": {"sourceIPAddress": "203.0.113.25"},
        "responseElements": {
            "x-amz-request-id": "C3D13FE58DE4C810",
            "x-amz-id-2": "FMyUVURIY8/IgAtTv8xRjskZQpcIZ9KG4V5Wp6S7S/JRWeUWerMUE5JgHvANOjpD"},
        "s3": {
            "s3SchemaVersion": "1.0",
            "configurationId": "entity-resolution-reference-uploads",
            "bucket": {"name": bucket, "ownerIdentity": {"principalId": "A3NL1KOZZKExample"},
                       "arn": f"arn:aws:s3:::{bucket}"},
            "object": obj,
        },
    }]}


def upload(client: Any, body: bytes, key: str = KEY, *, bucket: str = BUCKET,
           event_time: str = UPLOADED, sequencer: str | None = None) -> dict[str, Any]:
    """Store ``body`` and answer the event S3 would send for it, with the next sequencer
    unless ``sequencer`` is given."""
    response = client.put_object(Bucket=bucket, Key=key, Body=body)
    return s3_event(key, etag=response["ETag"], version_id=response.get("VersionId"),
                    size=len(body), bucket=bucket, event_time=event_time,
                    sequencer=sequencer or next_sequencer())


@functools.cache
def _session() -> boto3.session.Session:
    # One session for the whole run: a new one loads the S3 service model again (0.1 s).
    return boto3.session.Session(aws_access_key_id="testing", aws_secret_access_key="testing",
                                 region_name=REGION)


def s3_client() -> Any:
    """An S3 client with fake credentials, for use inside ``mock_aws``."""
    return _session().client("s3")


def set_aws_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_REGION", REGION)


def create_bucket(client: Any, bucket: str = BUCKET, *, versioned: bool = True) -> None:
    """A bucket like the component's (versioned)."""
    client.create_bucket(Bucket=bucket)
    if versioned:
        client.put_bucket_versioning(Bucket=bucket,
                                     VersioningConfiguration={"Status": "Enabled"})


def powertools_environment(monkeypatch: pytest.MonkeyPatch, service: str) -> None:
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", service)
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "ServerlessBlueprints")
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "true")


def import_fresh(module: str) -> ModuleType:
    sys.modules.pop(module, None)
    return importlib.import_module(module)


def read_pointer(client: Any, bucket: str = BUCKET) -> dict[str, Any]:
    pointer: dict[str, Any] = json.loads(
        client.get_object(Bucket=bucket, Key=POINTER_KEY)["Body"].read())
    return pointer


def index_keys(client: Any, bucket: str = BUCKET) -> list[str]:
    listed = client.list_objects_v2(Bucket=bucket, Prefix=INDEX_PREFIX).get("Contents", [])
    return sorted(item["Key"] for item in listed)


def published_versions(client: Any, bucket: str = BUCKET) -> set[str]:
    return {key.split("/")[1] for key in index_keys(client, bucket) if key != POINTER_KEY}


CONTEXT = LambdaContext("entity-index-builder", 10240)


# --- fixtures ----------------------------------------------------------------------------------

@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The function's /tmp, to see what a build leaves behind."""
    folder = tmp_path / "lambda-tmp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


@pytest.fixture(scope="module")
def builder_module() -> Iterator[ModuleType]:
    """The module, imported once (as in a warm container) with Powertools' settings and fake
    credentials, which its S3 client keeps."""
    with pytest.MonkeyPatch.context() as patch:
        set_aws_environment(patch)
        powertools_environment(patch, "entity-index-builder")
        module = import_fresh("entity_index_builder.app")
    yield module
    sys.modules.pop("entity_index_builder.app", None)


@pytest.fixture
def builder(builder_module: ModuleType, s3: Any, workdir: Path,
            monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """The module under the environment the component gives it (read at each invocation)."""
    monkeypatch.setenv("BUCKET_NAME", BUCKET)
    monkeypatch.setenv("REFERENCE_PREFIX", REFERENCE_PREFIX)
    monkeypatch.setenv("INDEX_PREFIX", INDEX_PREFIX)
    monkeypatch.setenv("INDEX_METHOD", "sw-graph")
    monkeypatch.setenv("STRIP_LEGAL_SUFFIXES", "true")
    return builder_module


def build(builder: ModuleType, event: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = builder.handler(event, CONTEXT)
    return result


class RecordingClient:
    """The real (moto) client, with every write recorded in order; ``before_write`` runs first."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self.writes: list[str] = []
        self.reads: list[dict[str, Any]] = []
        self.before_write: Any = None

    def get_object(self, **kwargs: Any) -> Any:
        self.reads.append(kwargs)
        return self._client.get_object(**kwargs)

    def put_object(self, **kwargs: Any) -> Any:
        self._record(kwargs["Key"])
        return self._client.put_object(**kwargs)

    def upload_file(self, filename: str, bucket: str, key: str, **kwargs: Any) -> Any:
        self._record(key)
        return self._client.upload_file(filename, bucket, key, **kwargs)

    def _record(self, key: str) -> None:
        if self.before_write is not None:
            self.before_write(key)
        self.writes.append(key)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)


# --- publishing --------------------------------------------------------------------------------

def test_an_upload_is_built_and_published(builder: ModuleType, s3: Any, tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    event = upload(s3, reference_csv())

    result = build(builder, event)

    pointer = read_pointer(s3)
    version = pointer["version"]
    assert result == {"results": [{"key": KEY, "status": "published", "version": version,
                                   "count": len(NAMES)}]}
    assert VERSION.fullmatch(version)
    assert version.endswith(hashlib.sha256(reference_csv()).hexdigest()[:12])
    assert pointer["count"] == len(NAMES)
    assert pointer["method"] == "sw-graph"
    record = event["Records"][0]["s3"]["object"]
    assert pointer["source"] == {"key": KEY, "etag": record["eTag"],
                                 "versionId": record["versionId"],
                                 "sequencer": record["sequencer"], "uploaded": UPLOADED}
    assert pointer["created"].endswith("Z")
    # Every listed file is under the version's prefix with its checksum, and nothing else is.
    assert index_keys(s3) == sorted([POINTER_KEY, *(f"{INDEX_PREFIX}{version}/{name}"
                                                    for name in pointer["files"])])
    assert {"manifest.json", "vocabulary.json", "idf.npy", "references.npz", "index.bin",
            "index.bin.dat", "initials.npz"} == set(pointer["files"])
    folder = tmp_path / "downloaded"
    folder.mkdir()
    for name, digest in pointer["files"].items():
        data = s3.get_object(Bucket=BUCKET, Key=f"{INDEX_PREFIX}{version}/{name}")["Body"].read()
        assert hashlib.sha256(data).hexdigest() == digest
        (folder / name).write_bytes(data)
    # ... and the files are an index of the CSV.
    index = EntityIndex.load(folder)
    assert len(index) == len(NAMES)
    assert index.match(NAMES[42].upper())[0].id == IDS[42]
    emitted = [json.loads(line) for line in capsys.readouterr().out.splitlines()
               if '"_aws"' in line]
    built = next(blob for blob in emitted if "IndexBuilt" in blob)
    assert built["IndexBuilt"] == [1.0]
    assert built["IndexReferences"] == [len(NAMES)]
    assert built["BuildSeconds"][0] >= 0


def test_the_pointer_is_written_last(builder: ModuleType, s3: Any,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    recorder = RecordingClient(s3)
    monkeypatch.setattr(builder, "s3", recorder)

    build(builder, upload(s3, reference_csv()))

    version = read_pointer(s3)["version"]
    # The pointer is checked first; the CSV is read by ETag, which s3:GetObject allows (a
    # VersionId would need s3:GetObjectVersion).
    assert [read["Key"] for read in recorder.reads] == [POINTER_KEY, KEY]
    assert recorder.reads[1]["IfMatch"].strip('"') == read_pointer(s3)["source"]["etag"]
    assert "VersionId" not in recorder.reads[1]
    assert recorder.writes[-1] == POINTER_KEY
    assert recorder.writes.count(POINTER_KEY) == 1
    artifacts = recorder.writes[:-1]
    assert artifacts[-1] == f"{INDEX_PREFIX}{version}/manifest.json"
    assert all(key.startswith(f"{INDEX_PREFIX}{version}/") for key in artifacts)


def test_the_build_leaves_nothing_in_tmp(builder: ModuleType, s3: Any, workdir: Path) -> None:
    build(builder, upload(s3, reference_csv()))
    with pytest.raises(builder.ReferenceFileError):
        build(builder, upload(s3, b"id,name\n", event_time=LATER))

    assert list(workdir.iterdir()) == []


def test_a_bom_crlf_blank_lines_extra_columns_and_quoting_are_read(builder: ModuleType,
                                                                   s3: Any) -> None:
    text = ('\r\n'
            ' ID , Name ,Country\r\n'
            'a1,"Acme, Inc.",US\r\n'
            '\r\n'
            '   \r\n'
            'a2,"Globex\r\nInternational",DE\r\n'
            ' a3 ,  Société Générale S.A.  ,FR\r\n'
            'a4,Initech LLC,\r\n')
    event = upload(s3, codecs.BOM_UTF8 + text.encode("utf-8"))

    result = build(builder, event)

    assert result["results"][0]["count"] == 4
    parsed = references_from_text(builder, text)
    assert parsed.ids == ["a1", "a2", "a3", "a4"]
    assert parsed.names == ["Acme, Inc.", "Globex\r\nInternational", "Société Générale S.A.",
                            "Initech LLC"]
    assert parsed.lines == [3, 6, 8, 9]


def references_from_text(builder: ModuleType, text: str) -> Any:
    return builder.parse_references(text.splitlines(keepends=True))


@pytest.mark.parametrize(("content", "problem"), [
    (b"", "the file is empty"),
    (b"\n\n", "the file is empty"),
    (b"id,name\n", "the file has a header but no reference rows"),
    (b"id,name\n\n  \n", "the file has a header but no reference rows"),
    (b"identifier,name\nc1,Acme\n", "line 1: the header has no id column"),
    (b"\nid,title\nc1,Acme\n", "line 2: the header has no name column"),
    (b"code,title\nc1,Acme\n", "line 1: the header has no id or name column"),
    (b"id,name,name\nc1,Acme,Acme\n", "line 1: the header has more than one name column"),
    (b"id,name\nc1,Acme\nc2,Globex\nc1,Initech\n", "line 4: id 'c1' repeats the id of line 2"),
    (b"id,name\n\nc1,Acme\n\nc1,Globex\n", "line 5: id 'c1' repeats the id of line 3"),
    (b"id,name\nc1,Acme\nc2,\n", "line 3: the name is empty"),
    (b"id,name\nc1,Acme\nc2\n", "line 3: the name is empty"),
    (b"id,name\nc1,Acme\n ,Globex\n", "line 3: the id is empty"),
    (b"id,name\nc1,Acme\nc2,Globex, Inc.\n", "line 3: 3 fields, the header has 2"),
    (b"id,name\nc1,Acme\nc2,Caf\xe9 de Paris\n", "line 3: the file is not UTF-8 text"),
    (b"id,name\nc1,Acme\nc2,!!!\nc3,Globex\nc4,- -\n",
     "2 problem(s): line 3: the name has no letter or digit; line 5: the name has no letter"),
    (b"id,name\nc1,Acme\nc2,\"Globex\nc3,Initech\n", "line 3: not readable as CSV"),
    (b"id,name\nc1,\"Acme\" Corp\n", "line 2: not readable as CSV"),
])
def test_a_bad_file_is_rejected_with_its_line(builder: ModuleType, s3: Any, content: bytes,
                                              problem: str,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    event = upload(s3, content)

    with pytest.raises(builder.ReferenceFileError, match=re.escape(problem)):
        build(builder, event)

    assert index_keys(s3) == []
    emitted = [json.loads(line) for line in capsys.readouterr().out.splitlines()
               if '"_aws"' in line]
    assert any(blob.get("ReferenceRejected") == [1.0] for blob in emitted)


def test_every_problem_is_reported_up_to_a_limit(builder: ModuleType) -> None:
    lines = ["id,name"] + [f"c{number % 3},Acme {number}" for number in range(60)]

    with pytest.raises(builder.ReferenceFileError) as raised:
        references_from_text(builder, "\n".join(lines) + "\n")

    message = str(raised.value)
    assert message.startswith("20 problem(s) (and possibly more): line 5: id 'c0' repeats")
    assert message.count("repeats") == 20


def test_a_failed_build_never_replaces_a_good_one(builder: ModuleType, s3: Any) -> None:
    build(builder, upload(s3, reference_csv()))
    good = read_pointer(s3)
    keys = index_keys(s3)

    with pytest.raises(builder.ReferenceFileError, match="line 3"):
        build(builder, upload(s3, b"id,name\nc1,Acme\nc1,Globex\n", event_time=LATER))

    assert read_pointer(s3) == good
    assert index_keys(s3) == keys


# --- idempotency and ordering ------------------------------------------------------------------

def test_the_same_object_twice_publishes_once(builder: ModuleType, s3: Any) -> None:
    event = upload(s3, reference_csv())
    first = build(builder, event)
    pointer = read_pointer(s3)

    second = build(builder, event)

    assert first["results"][0]["status"] == "published"
    assert second == {"results": [{"key": KEY, "status": "unchanged",
                                   "version": pointer["version"]}]}
    assert read_pointer(s3) == pointer
    assert published_versions(s3) == {pointer["version"]}


def test_a_new_upload_of_the_same_key_publishes_a_new_version(builder: ModuleType,
                                                              s3: Any) -> None:
    build(builder, upload(s3, reference_csv()))
    first = read_pointer(s3)

    event = upload(s3, reference_csv(IDS[:200], NAMES[:200]), event_time=LATER)
    build(builder, event)

    second = read_pointer(s3)
    assert second["version"] != first["version"]
    assert second["count"] == 200
    assert second["source"]["versionId"] == event["Records"][0]["s3"]["object"]["versionId"]
    assert published_versions(s3) == {first["version"], second["version"]}


def test_a_late_event_for_an_older_upload_is_skipped(builder: ModuleType, s3: Any) -> None:
    older = upload(s3, reference_csv(IDS[:100], NAMES[:100]))
    newer = upload(s3, reference_csv(), event_time=LATER)
    build(builder, newer)
    pointer = read_pointer(s3)

    result = build(builder, older)

    assert result["results"][0]["status"] == "stale"
    assert read_pointer(s3) == pointer
    assert published_versions(s3) == {pointer["version"]}


FAR_FUTURE = "2999-01-01T00:00:00.000Z"


def test_an_event_from_the_future_is_rejected_and_cannot_stop_later_uploads(
        builder: ModuleType, s3: Any, capsys: pytest.CaptureFixture[str],
        caplog: pytest.LogCaptureFixture) -> None:
    """S3 stamps the time it finished the request; only a forged event comes from the future.
    It is logged and answered, not raised (a retry would be refused the same way)."""
    forged = upload(s3, reference_csv(IDS[:100], NAMES[:100]), event_time=FAR_FUTURE)

    result = build(builder, forged)

    assert result == {"results": [{"key": KEY, "status": "rejected", "version": None}]}
    assert index_keys(s3) == []
    assert [(record.levelname, record.getMessage(), getattr(record, "problem", None))
            for record in caplog.records] == [
        ("ERROR", "Rejected a record", "the event's time is in the future")]
    assert '"ReferenceEventRejected":[1.0]' in capsys.readouterr().out

    later = build(builder, upload(s3, reference_csv(), event_time=LATER))

    assert later["results"][0]["status"] == "published"
    assert read_pointer(s3)["count"] == len(NAMES)


def test_a_time_within_the_clock_skew_is_believed(builder: ModuleType, s3: Any) -> None:
    soon = datetime.now(UTC) + builder.MAX_CLOCK_SKEW - timedelta(minutes=1)
    event = upload(s3, reference_csv(), event_time=soon.isoformat().replace("+00:00", "Z"))

    assert build(builder, event)["results"][0]["status"] == "published"


@pytest.mark.parametrize("published_key", [KEY, "reference/other.csv"])
def test_a_pointer_from_the_future_does_not_stop_the_index(builder: ModuleType, s3: Any,
                                                           published_key: str) -> None:
    """A pointer published (by an earlier builder) from a forged far-future event: the next
    upload replaces it, for its own key (no sequencer recorded) or any other."""
    s3.put_object(Bucket=BUCKET, Key=POINTER_KEY, Body=json.dumps({
        "version": "29990101T000000000Z-000000000000", "files": {}, "count": 1,
        "method": "exact", "source": {"key": published_key, "etag": "0" * 32,
                                      "uploaded": FAR_FUTURE}}))

    result = build(builder, upload(s3, reference_csv()))

    assert result["results"][0]["status"] == "published"
    assert read_pointer(s3)["source"]["uploaded"] == UPLOADED


def test_uploads_of_one_key_are_ordered_by_sequencer_not_time(builder: ModuleType,
                                                              s3: Any) -> None:
    """Two uploads of the key whose event times disagree with S3's order of events."""
    older = upload(s3, reference_csv(IDS[:100], NAMES[:100]), event_time=LATER,
                   sequencer="0066A3F1C2B5E8DA00")
    first = build(builder, older)
    newer = upload(s3, reference_csv(), event_time=UPLOADED, sequencer="0066A3F1C2B5E8DB00")
    second = build(builder, newer)
    late_retry = build(builder, older)

    assert [result["results"][0]["status"] for result in (first, second, late_retry)] == [
        "published", "published", "stale"]
    assert read_pointer(s3)["count"] == len(NAMES)
    assert read_pointer(s3)["source"]["sequencer"] == "0066A3F1C2B5E8DB00"


def test_sequencers_compare_right_padded_with_zeros(builder: ModuleType) -> None:
    """S3's sequencers may differ in length; S3 documents padding the shorter on the right."""
    order = builder.sequencer_order
    assert order("0066A3F1C2B5E8D9F1") < order("0066A3F1C2B5E8DA")
    assert order("0066A3F1C2B5E8DA") == order("0066a3f1c2b5e8da00")
    assert order("1") > order("0FFFFFFFFFFFFFFFFF")
    assert not builder.is_sequencer("0x1F")
    assert not builder.is_sequencer(31)


def test_other_keys_are_still_ordered_by_upload_time(builder: ModuleType, s3: Any) -> None:
    """Sequencers order the events of one key only."""
    newer = upload(s3, reference_csv(), "reference/b.csv", event_time=LATER,
                   sequencer="00000000000000000001")
    older = upload(s3, reference_csv(IDS[:100], NAMES[:100]), "reference/a.csv",
                   event_time=UPLOADED, sequencer="FFFFFFFFFFFFFFFFFF")

    assert build(builder, newer)["results"][0]["status"] == "published"
    assert build(builder, older)["results"][0]["status"] == "stale"


def test_a_url_encoded_key_is_decoded(builder: ModuleType, s3: Any) -> None:
    key = "reference/Q4 2026 (final) Überblick+extra.csv"
    event = upload(s3, reference_csv(), key=key)
    assert event["Records"][0]["s3"]["object"]["key"] == (
        "reference/Q4+2026+%28final%29+%C3%9Cberblick%2Bextra.csv")

    result = build(builder, event)

    assert result["results"][0]["status"] == "published"
    assert read_pointer(s3)["source"]["key"] == key


def test_a_pointer_written_meanwhile_by_a_newer_build_wins(builder: ModuleType, s3: Any,
                                                           monkeypatch: pytest.MonkeyPatch
                                                           ) -> None:
    competing = {"version": "29991231T235959999Z-000000000000", "files": {},
                 "count": 1, "method": "exact",
                 "source": {"key": KEY, "etag": "0" * 32, "uploaded": LATER}}
    recorder = RecordingClient(s3)

    def race(key: str) -> None:
        if key == POINTER_KEY and not s3.list_objects_v2(Bucket=BUCKET,
                                                         Prefix=POINTER_KEY).get("KeyCount"):
            s3.put_object(Bucket=BUCKET, Key=POINTER_KEY, Body=json.dumps(competing))

    recorder.before_write = race
    monkeypatch.setattr(builder, "s3", recorder)

    result = build(builder, upload(s3, reference_csv()))

    assert result["results"][0]["status"] == "stale"
    assert read_pointer(s3) == competing


def test_a_pointer_written_meanwhile_by_an_older_build_is_replaced(
        builder: ModuleType, s3: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    earlier = "2026-11-26T16:00:00.000Z"
    competing = {"version": "20261126T160000000Z-000000000000", "files": {},
                 "count": 1, "method": "exact",
                 "source": {"key": KEY, "etag": "0" * 32, "uploaded": earlier}}
    recorder = RecordingClient(s3)
    raced: list[str] = []

    def race(key: str) -> None:
        if key == POINTER_KEY and not raced:
            raced.append(key)
            s3.put_object(Bucket=BUCKET, Key=POINTER_KEY, Body=json.dumps(competing))

    recorder.before_write = race
    monkeypatch.setattr(builder, "s3", recorder)

    result = build(builder, upload(s3, reference_csv()))

    assert result["results"][0]["status"] == "published"
    assert read_pointer(s3)["source"]["uploaded"] == UPLOADED
    assert recorder.writes.count(POINTER_KEY) == 2


def test_an_unreadable_existing_pointer_fails_the_build(builder: ModuleType, s3: Any,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """Without s3:GetObject on the pointer, S3 says 403 whether or not it exists."""
    build(builder, upload(s3, reference_csv()))
    pointer = read_pointer(s3)

    class NoPointerReads(RecordingClient):
        def get_object(self, **kwargs: Any) -> Any:
            if kwargs["Key"] == POINTER_KEY:
                raise ClientError({"Error": {"Code": "AccessDenied", "Message": "Denied"}},
                                  "GetObject")
            return s3.get_object(**kwargs)

    monkeypatch.setattr(builder, "s3", NoPointerReads(s3))

    with pytest.raises(builder.PublishError, match="needs s3:GetObject"):
        build(builder, upload(s3, reference_csv(IDS[:50], NAMES[:50]), event_time=LATER))

    assert read_pointer(s3) == pointer


def test_an_unversioned_bucket_uses_the_etag(builder: ModuleType, s3: Any,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    bucket = "unversioned-data"
    create_bucket(s3, bucket, versioned=False)
    monkeypatch.setenv("BUCKET_NAME", bucket)
    replaced = upload(s3, reference_csv(IDS[:100], NAMES[:100]), bucket=bucket)
    current = upload(s3, reference_csv(), bucket=bucket, event_time=LATER)

    gone = build(builder, replaced)
    published = build(builder, current)
    again = build(builder, current)

    assert gone["results"][0]["status"] == "gone"
    assert published["results"][0]["status"] == "published"
    assert again["results"][0]["status"] == "unchanged"
    pointer = read_pointer(s3, bucket)
    assert pointer["count"] == len(NAMES)
    assert "versionId" not in pointer["source"]
    assert len(published_versions(s3, bucket)) == 1


# --- what is not a reference upload, and settings ----------------------------------------------

@pytest.mark.parametrize(("key", "bucket", "event_name"), [
    ("elsewhere/companies.csv", BUCKET, "ObjectCreated:Put"),
    ("reference/companies.xlsx", BUCKET, "ObjectCreated:Put"),
    ("reference/companies.csv", "another-bucket", "ObjectCreated:Put"),
    ("reference/companies.csv", BUCKET, "ObjectRemoved:Delete"),
])
def test_other_records_are_ignored(builder: ModuleType, s3: Any, key: str, bucket: str,
                                   event_name: str) -> None:
    event = s3_event(key, etag="0" * 32, bucket=bucket, event_name=event_name)

    result = build(builder, event)

    assert result == {"results": [{"key": key, "status": "ignored", "version": None}]}
    assert index_keys(s3) == []


def test_the_s3_test_event_is_ignored(builder: ModuleType, s3: Any) -> None:
    event = {"Service": "Amazon S3", "Event": "s3:TestEvent", "Time": UPLOADED,
             "Bucket": BUCKET, "RequestId": "5582815E1AEA5ADF", "HostId": "8cLeGAmw098X5cv4Zkw"}

    assert build(builder, event) == {"results": []}


def test_method_and_legal_suffixes_come_from_the_environment(builder: ModuleType, s3: Any,
                                                             monkeypatch: pytest.MonkeyPatch
                                                             ) -> None:
    monkeypatch.setenv("INDEX_METHOD", "exact")
    monkeypatch.setenv("STRIP_LEGAL_SUFFIXES", "False")

    build(builder, upload(s3, reference_csv()))

    pointer = read_pointer(s3)
    assert pointer["method"] == "exact"
    assert set(pointer["files"]) == {"manifest.json", "vocabulary.json", "idf.npy",
                                     "references.npz", "vectors.npz", "initials.npz"}
    manifest = json.loads(s3.get_object(
        Bucket=BUCKET, Key=f"{INDEX_PREFIX}{pointer['version']}/manifest.json")["Body"].read())
    assert manifest["normalization"]["strip_legal_suffixes"] is False


def test_without_a_method_the_library_chooses(builder: ModuleType, s3: Any,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("INDEX_METHOD")

    build(builder, upload(s3, reference_csv(IDS[:20], NAMES[:20])))

    assert read_pointer(s3)["method"] == EntityIndex.build(IDS[:2], NAMES[:2]).method


def test_settings_report_every_problem(builder: ModuleType) -> None:
    with pytest.raises(ValueError, match="invalid entity index builder settings") as raised:
        builder.Settings.from_environ({"REFERENCE_PREFIX": "reference",
                                       "INDEX_PREFIX": "reference", "STRIP_LEGAL_SUFFIXES": "yes"})

    message = str(raised.value)
    for name in ("BUCKET_NAME", "REFERENCE_PREFIX", "STRIP_LEGAL_SUFFIXES", "must differ"):
        assert name in message


def test_settings_defaults(builder: ModuleType) -> None:
    settings = builder.Settings.from_environ({"BUCKET_NAME": BUCKET})

    assert settings == builder.Settings(BUCKET, "reference/", "index/", None, True)
    assert settings.pointer_key == POINTER_KEY
