"""The entity matcher, driven by API Gateway HTTP API (payload 2.0) events against a moto bucket.

Index versions are published here the way the builder publishes them (``index/<version>/...``,
then ``index/CURRENT.json``), from folders built once per module, so these tests state the
layout the matcher relies on independently of the builder; the end-to-end test joins the two.
"""

from __future__ import annotations

import base64
import dataclasses
import functools
import hashlib
import io
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import quote, urlencode

import pytest
from entity_matching import EntityIndex

from tests.functions.events import LambdaContext
from tests.functions.test_entity_index_builder import (
    ACCOUNT,
    BUCKET,
    IDS,
    INDEX_PREFIX,
    NAMES,
    POINTER_KEY,
    REGION,
    import_fresh,
    powertools_environment,
    set_aws_environment,
)

API_ID = "r3pmxmplak"
DOMAIN = f"{API_ID}.execute-api.{REGION}.amazonaws.com"
CLIENT_IP = "198.51.100.23"
USER_AGENT = "curl/8.7.1"
TTL = 60.0
METHOD = "sw-graph"  # an nmslib method: nmslib reads what the matcher downloaded
FIRST, SECOND, THIRD = ("20261126T170000000Z-aaaaaaaaaaaa", "20261126T180000000Z-bbbbbbbbbbbb",
                        "20261126T190000000Z-cccccccccccc")
# Only in the second reference list.
NEWCOMER_ID, NEWCOMER = "N00001", "Zephyrine Quokka Holdings AG"
NO_INDEX = {"statusCode": 503, "message": "No index published yet"}
UNAVAILABLE = {"statusCode": 503, "message": "The index is not available yet"}
# Answers without a business metric make Powertools warn that there is none to publish.
pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish")


# --- events ------------------------------------------------------------------------------------

def http_event(method: str, *, query: list[tuple[str, str]] | None = None,
               body: str | None = None, base64_body: bool = False) -> dict[str, Any]:
    """An HTTP API (payload 2.0) request to ``/match`` with IAM authorization.

    ``query`` pairs go into ``rawQueryString`` encoded and into ``queryStringParameters``
    decoded, repeated names joined with commas as API Gateway does.
    """
    pairs = query or []
    parameters: dict[str, str] = {}
    for name, value in pairs:
        parameters[name] = f"{parameters[name]},{value}" if name in parameters else value
    headers = {
        "accept": "application/json",
        "host": DOMAIN,
        "user-agent": USER_AGENT,
        "x-amz-date": "20261126T170000Z",
        "x-amzn-trace-id": "Root=1-6745f2a0-4c1d2e3f4a5b6c7d8e9f0a1b",
        "x-forwarded-for": CLIENT_IP,
        "x-forwarded-port": "443",
        "x-forwarded-proto": "https",
    }
    if body is not None:
        headers["content-type"] = "application/json"
        headers["content-length"] = str(len(body))
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": f"{method} /match",
        "rawPath": "/match",
        "rawQueryString": urlencode(pairs, quote_via=quote),
        "headers": headers,
        "requestContext": {
            "accountId": ACCOUNT,
            "apiId": API_ID,
            "authorizer": {"iam": {
                "accessKey": "ASIAEXAMPLEKEY", "accountId": ACCOUNT,
                "callerId": "AROAEXAMPLEROLEID:analyst", "cognitoIdentity": None,
                "principalOrgId": None, "userArn": f"arn:aws:sts::{ACCOUNT}:assumed-role/"
                "analyst/analyst", "userId": "AROAEXAMPLEROLEID:analyst"}},
            "domainName": DOMAIN,
            "domainPrefix": API_ID,
            "http": {"method": method, "path": "/match", "protocol": "HTTP/1.1",
                     "sourceIp": CLIENT_IP, "userAgent": USER_AGENT},
            "requestId": "JKJaXmPLvHcESHA=",
            "routeKey": f"{method} /match",
            "stage": "$default",
            "time": "26/Nov/2026:17:00:00 +0000",
            "timeEpoch": 1795712400000,
        },
        "isBase64Encoded": base64_body,
    }
    if parameters:
        event["queryStringParameters"] = parameters
    if body is not None:
        event["body"] = body
    return event


def get(name: str | None = None, k: str | None = None,
        extra: list[tuple[str, str]] | None = None) -> dict[str, Any]:
    query = [("name", name)] if name is not None else []
    if k is not None:
        query.append(("k", k))
    return http_event("GET", query=query + (extra or []))


def post(payload: Any) -> dict[str, Any]:
    body = payload if isinstance(payload, str) or payload is None else json.dumps(payload)
    return http_event("POST", body=body)


CONTEXT = LambdaContext("entity-matcher", 1769)


def call(matcher: ModuleType, event: dict[str, Any]) -> dict[str, Any]:
    response: dict[str, Any] = matcher.handler(event, CONTEXT)
    return response


def answer(response: dict[str, Any]) -> Any:
    return json.loads(response["body"])


# --- publishing index versions -----------------------------------------------------------------

def build_folder(folder: Path, ids: list[str], names: list[str]) -> Path:
    EntityIndex.build(ids, names, method=METHOD).save(folder)
    return folder


@pytest.fixture(scope="module")
def folders(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Two saved indexes: the reference list, and it plus a newcomer."""
    root = tmp_path_factory.mktemp("indexes")
    return {"first": build_folder(root / "first", IDS, NAMES),
            "second": build_folder(root / "second", [*IDS, NEWCOMER_ID], [*NAMES, NEWCOMER])}


def publish(client: Any, folder: Path, version: str, *, corrupt: str | None = None,
            omit: str | None = None, trust_corruption: bool = False) -> None:
    """Publish ``folder`` as ``version``: its files, then the pointer.

    ``corrupt`` names a file whose bytes change after its checksum was taken (with
    ``trust_corruption`` the pointer takes the changed bytes' checksum, so only the manifest
    can tell); ``omit`` names a file that is listed but never uploaded.
    """
    files = {}
    for path in sorted(folder.iterdir()):
        data = path.read_bytes()
        files[path.name] = hashlib.sha256(data).hexdigest()
        if path.name == corrupt:
            data = data[:-1] + bytes([data[-1] ^ 0xFF])
            if trust_corruption:
                files[path.name] = hashlib.sha256(data).hexdigest()
        if path.name != omit:
            client.put_object(Bucket=BUCKET, Key=f"{INDEX_PREFIX}{version}/{path.name}",
                              Body=data)
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    pointer = {"version": version, "files": files, "count": manifest["count"],
               "method": manifest["method"],
               "source": {"key": "reference/companies.csv", "etag": "0" * 32,
                          "uploaded": "2026-11-26T17:00:00.000Z"},
               "created": "2026-11-26T17:00:01.000Z"}
    client.put_object(Bucket=BUCKET, Key=POINTER_KEY, Body=json.dumps(pointer))


class Clock:
    """Monotonic seconds that only move when a test moves them."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class CountingClient:
    """The moto client, counting reads of the pointer."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self.pointer_reads = 0

    def get_object(self, **kwargs: Any) -> Any:
        if kwargs["Key"] == POINTER_KEY:
            self.pointer_reads += 1
        return self._client.get_object(**kwargs)


# --- fixtures ----------------------------------------------------------------------------------

@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def cache_dir(tmp_path: Path) -> Path:
    return tmp_path / "entity-index"


@pytest.fixture(scope="module")
def matcher_module() -> Iterator[ModuleType]:
    """The module, imported once (as in a warm container) under the component's environment."""
    with pytest.MonkeyPatch.context() as patch:
        set_aws_environment(patch)
        patch.setenv("BUCKET_NAME", BUCKET)
        patch.setenv("INDEX_PREFIX", INDEX_PREFIX)
        patch.setenv("MIN_SCORE", "0.5")
        patch.delenv("POINTER_TTL_SECONDS", raising=False)
        powertools_environment(patch, "entity-matcher")
        module = import_fresh("entity_matcher.app")
    assert module.settings == module.Settings(BUCKET, INDEX_PREFIX, 0.5, 60.0)
    assert module.indexes.loaded is None  # nothing is read at import
    yield module
    sys.modules.pop("entity_matcher.app", None)


@pytest.fixture
def matcher(matcher_module: ModuleType, s3: Any, monkeypatch: pytest.MonkeyPatch,
            cache_dir: Path, clock: Clock) -> ModuleType:
    """The module with a new container's store: the test's clock, /tmp and counting client."""
    monkeypatch.setattr(matcher_module, "indexes", matcher_module.IndexStore(
        CountingClient(s3), BUCKET, INDEX_PREFIX, ttl_seconds=TTL, cache_dir=cache_dir,
        clock=clock))
    return matcher_module


@pytest.fixture
def published(matcher: ModuleType, s3: Any, folders: dict[str, Path]) -> ModuleType:
    """The matcher with the first version published."""
    publish(s3, folders["first"], FIRST)
    return matcher


def capture_log(matcher: ModuleType, monkeypatch: pytest.MonkeyPatch) -> io.StringIO:
    """The module's log lines from now on (its Powertools handler writes to the stream it was
    created with)."""
    log = io.StringIO()
    monkeypatch.setattr(matcher.logger.registered_handler, "stream", log)
    return log


def log_lines(log: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in log.getvalue().splitlines() if line]


def typo(name: str) -> str:
    """``name`` with two letters of its longest word swapped."""
    words = name.split()
    longest = max(range(len(words)), key=lambda position: len(words[position]))
    word = words[longest]
    middle = len(word) // 2
    words[longest] = word[:middle - 1] + word[middle] + word[middle - 1] + word[middle + 1:]
    return " ".join(words)


def core(name: str) -> str:
    """``name`` without its last word when that is a legal form (the references' suffixes)."""
    words = name.split()
    legal = {"Inc.", "LLC", "Ltd", "GmbH", "S.A.", "AG", "PLC", "Corp.", "Co.", "B.V.",
             "Limited", "Corporation", "Oy"}
    if words[-2:] == ["Pty", "Ltd"]:
        return " ".join(words[:-2])
    return " ".join(words[:-1]) if words[-1] in legal else name


# --- bad input ---------------------------------------------------------------------------------

@pytest.mark.parametrize(("event", "message"), [
    (get(), "name is required"),
    (get(""), "name is empty"),
    (get("   "), "name is empty"),
    (get("!!! ---"), "name has no letter or digit to match on"),
    (get("A" * 257), "name is longer than 256 characters"),
    (get("Acme", k="0"), "k must be an integer from 1 to 20"),
    (get("Acme", k="21"), "k must be an integer from 1 to 20"),
    (get("Acme", k="-1"), "k must be an integer from 1 to 20"),
    (get("Acme", k="2.5"), "k must be an integer from 1 to 20"),
    (get("Acme", k="three"), "k must be an integer from 1 to 20"),
    (get("Acme", k=""), "k must be an integer from 1 to 20"),
    (get("Acme", k="99999999999999999999"), "k must be an integer from 1 to 20"),
    (get("Acme", extra=[("name", "Globex")]), "Give name and k once each"),
    (get("Acme", k="3", extra=[("k", "4")]), "Give name and k once each"),
    (post(None), "The body must be a JSON object with names"),
    (post(""), "The body must be a JSON object with names"),
    (post("not json"), "The body is not valid JSON"),
    (post('{"names": ["Acme"]'), "The body is not valid JSON"),
    (post("[" * 100_000), "The body is not valid JSON"),
    (post(["Acme"]), "The body must be a JSON object with names"),
    (post("Acme"), "The body is not valid JSON"),
    (post('"Acme"'), "The body must be a JSON object with names"),
    (post({"name": ["Acme"]}), "The body must be a JSON object with names"),
    (post({"names": ["Acme"], "k": 3, "min_score": 0}),
     "The body must be a JSON object with names"),
    (post({}), "names must be a list of 1 to 100 names"),
    (post({"names": "Acme"}), "names must be a list of 1 to 100 names"),
    (post({"names": []}), "names must be a list of 1 to 100 names"),
    (post({"names": ["Acme"] * 101}), "names must be a list of 1 to 100 names"),
    (post({"names": ["Acme", ""]}), "names[1] is empty"),
    (post({"names": ["Acme", None]}), "names[1] is required"),
    (post({"names": [1, ["Acme"]]}), "names[0] must be a string; names[1] must be a string"),
    (post({"names": ["Acme", "B" * 257]}), "names[1] is longer than 256 characters"),
    (post({"names": ["Acme", "!?"]}), "names[1] has no letter or digit to match on"),
    (post({"names": [""] * 8}), "names[0] is empty; names[1] is empty; names[2] is empty; "
                                "names[3] is empty; names[4] is empty; and 3 more"),
    (post({"names": ["Acme"], "k": 0}), "k must be an integer from 1 to 20"),
    (post({"names": ["Acme"], "k": 21}), "k must be an integer from 1 to 20"),
    (post({"names": ["Acme"], "k": "3"}), "k must be an integer from 1 to 20"),
    (post({"names": ["Acme"], "k": 2.5}), "k must be an integer from 1 to 20"),
    (post({"names": ["Acme"], "k": 3.0}), "k must be an integer from 1 to 20"),
    (post({"names": ["Acme"], "k": True}), "k must be an integer from 1 to 20"),
    (post({"names": ["Acme"], "k": None}), "k must be an integer from 1 to 20"),
    (post(json.dumps({"names": ["x" * 256] * 100}) + " " * 300_000), "The body is too large"),
    ({**post({"names": ["Acme"]}), "body": "%%%not base64", "isBase64Encoded": True},
     "The body is not valid JSON"),
    ({**post({"names": ["Acme"]}), "body": base64.b64encode(b"\xff\xfe").decode(),
      "isBase64Encoded": True}, "The body is not valid JSON"),
], ids=lambda value: value if isinstance(value, str) else None)
def test_bad_input_is_a_json_400(published: ModuleType, event: dict[str, Any],
                                 message: str) -> None:
    response = call(published, event)

    assert response["statusCode"] == 400
    assert response["headers"]["Content-Type"] == "application/json"
    found = answer(response)
    assert set(found) == {"statusCode", "message"}
    assert found["statusCode"] == 400
    assert found["message"].startswith(message)


def test_bad_input_is_a_400_even_without_an_index(matcher: ModuleType) -> None:
    assert call(matcher, get(""))["statusCode"] == 400
    assert call(matcher, post({"names": []}))["statusCode"] == 400


def test_boundaries_are_accepted(published: ModuleType) -> None:
    longest = call(published, get("K" * 256, k="20"))
    batch = call(published, post({"names": [NAMES[0]] * 100, "k": 1}))
    single = call(published, get("7", k="1"))

    assert longest["statusCode"] == 200
    assert batch["statusCode"] == 200
    assert len(answer(batch)["results"]) == 100
    assert single["statusCode"] == 200


# --- matching ----------------------------------------------------------------------------------

TARGETS = (0, 17, 42, 123, 256, 299)
VARIANTS = {
    "exact": lambda name: name,
    "upper case": str.upper,
    "lower case": str.lower,
    "typo": typo,
    "no legal form": core,
    "another legal form": lambda name: f"{core(name)} Incorporated",
    "punctuation": lambda name: core(name).replace(" ", ", ") + ".",
}


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("target", TARGETS)
def test_variants_find_the_right_entity(published: ModuleType, target: int,
                                        variant: str) -> None:
    query = VARIANTS[variant](NAMES[target])

    response = call(published, get(query))

    assert response["statusCode"] == 200
    found = answer(response)
    assert found["query"] == query
    assert found["match"] == found["matches"][0]
    assert found["match"]["id"] == IDS[target]
    assert found["match"]["name"] == NAMES[target]
    # The re-ranker's calibrated probability: confident for each variant, never above 1.
    assert 0.9 <= found["match"]["score"] <= 1.0
    assert found["indexVersion"] == FIRST


def test_scores_are_ordered_and_within_0_and_1(published: ModuleType) -> None:
    found = answer(call(published, get("Kingsley Dairy", k="20")))["matches"]

    assert 1 <= len(found) <= 20
    scores = [match["score"] for match in found]
    assert scores == sorted(scores, reverse=True)
    assert all(0.5 <= score <= 1 for score in scores)
    assert found[0]["id"] == IDS[42]
    assert set(found[0]) == {"id", "name", "score"}


def test_k_defaults_to_3(published: ModuleType) -> None:
    with_min = answer(call(published, get("Kingsley")))

    assert len(with_min["matches"]) <= 3


def test_a_batch_answers_each_name_in_order(published: ModuleType) -> None:
    names = [NAMES[target].lower() for target in TARGETS] + ["Qxzv Wjkq"]

    response = call(published, post({"names": names, "k": 2}))

    assert response["statusCode"] == 200
    found = answer(response)
    assert found["indexVersion"] == FIRST
    assert [result["query"] for result in found["results"]] == names
    assert [result["match"]["id"] for result in found["results"][:-1]] == [
        IDS[target] for target in TARGETS]
    assert all(len(result["matches"]) <= 2 for result in found["results"])
    assert found["results"][-1] == {"query": "Qxzv Wjkq", "match": None, "matches": []}


def test_a_base64_body_is_decoded(published: ModuleType) -> None:
    body = base64.b64encode(json.dumps({"names": [NAMES[17]]}).encode()).decode()

    response = call(published, http_event("POST", body=body, base64_body=True))

    assert answer(response)["results"][0]["match"]["id"] == IDS[17]


def test_min_score_gives_the_no_match_answer(published: ModuleType,
                                             monkeypatch: pytest.MonkeyPatch,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    matcher = published
    monkeypatch.setattr(matcher, "settings", dataclasses.replace(matcher.settings,
                                                                 min_score=0.99))
    # Cosines (RERANK=false), under which a typo scores below 0.99.
    monkeypatch.setattr(matcher.indexes, "loader",
                        functools.partial(EntityIndex.load, rerank=False))

    near = answer(call(matcher, get(typo(NAMES[42]))))
    exact = answer(call(matcher, get(NAMES[42])))
    batch = answer(call(matcher, post({"names": [typo(NAMES[0]), NAMES[0], typo(NAMES[17])]})))

    assert near == {"query": typo(NAMES[42]), "match": None, "matches": [],
                    "indexVersion": FIRST}
    assert exact["match"]["id"] == IDS[42]
    assert [result["match"] is None for result in batch["results"]] == [True, False, True]
    emitted = [json.loads(line) for line in capsys.readouterr().out.splitlines()
               if '"_aws"' in line]
    misses = [blob["NoConfidentMatch"] for blob in emitted if "NoConfidentMatch" in blob]
    assert misses == [[1.0], [2.0]]
    assert sum(1 for blob in emitted if "MatchRequests" in blob) == 3


# --- the published index -----------------------------------------------------------------------

def test_no_index_answers_503(matcher: ModuleType) -> None:
    response = call(matcher, get("Acme"))
    batch = call(matcher, post({"names": ["Acme"]}))

    assert response["statusCode"] == 503
    assert answer(response) == NO_INDEX
    assert 1 <= int(response["headers"]["Retry-After"]) <= TTL
    assert answer(batch) == NO_INDEX


def test_the_first_version_is_served_after_the_ttl(matcher: ModuleType, s3: Any,
                                                   folders: dict[str, Path],
                                                   clock: Clock) -> None:
    assert call(matcher, get("Acme"))["statusCode"] == 503
    publish(s3, folders["first"], FIRST)

    clock.now += TTL - 1
    assert call(matcher, get("Acme"))["statusCode"] == 503
    clock.now += 1
    assert answer(call(matcher, get(NAMES[0])))["match"]["id"] == IDS[0]


def test_a_new_version_is_picked_up_after_the_ttl_and_not_before(
        published: ModuleType, s3: Any, folders: dict[str, Path], clock: Clock,
        cache_dir: Path) -> None:
    assert answer(call(published, get(NEWCOMER)))["indexVersion"] == FIRST
    assert published.indexes.client.pointer_reads == 1
    publish(s3, folders["second"], SECOND)

    clock.now += TTL - 0.5
    before = answer(call(published, get(NEWCOMER)))
    reads_before = published.indexes.client.pointer_reads
    clock.now += 0.5
    after = answer(call(published, get(NEWCOMER)))

    assert before["indexVersion"] == FIRST
    assert before["match"] is None or before["match"]["id"] != NEWCOMER_ID
    assert reads_before == 1
    assert after["indexVersion"] == SECOND
    assert after["match"]["id"] == NEWCOMER_ID
    assert published.indexes.client.pointer_reads == 2
    assert [folder.name for folder in cache_dir.iterdir()] == [SECOND]


def test_the_files_are_downloaded_under_tmp_and_verified(published: ModuleType,
                                                         folders: dict[str, Path],
                                                         cache_dir: Path) -> None:
    call(published, get("Acme"))

    downloaded = cache_dir / FIRST
    assert sorted(path.name for path in downloaded.iterdir()) == sorted(
        path.name for path in folders["first"].iterdir())
    for path in folders["first"].iterdir():
        assert (downloaded / path.name).read_bytes() == path.read_bytes()


@pytest.mark.parametrize(("damage", "options", "reason"), [
    ("changed bytes", {"corrupt": "index.bin.dat"}, "does not match its sha256 in the pointer"),
    ("changed bytes the manifest catches", {"corrupt": "idf.npy", "trust_corruption": True},
     "manifest"),
    ("missing file", {"omit": "references.npz"}, "NoSuchKey"),
    ("missing manifest", {"omit": "manifest.json"}, "NoSuchKey"),
])
def test_a_damaged_version_answers_503_until_a_good_one_is_published(
        matcher: ModuleType, s3: Any, folders: dict[str, Path], clock: Clock, cache_dir: Path,
        monkeypatch: pytest.MonkeyPatch, damage: str, options: dict[str, Any],
        reason: str) -> None:
    log = capture_log(matcher, monkeypatch)
    publish(s3, folders["first"], FIRST, **options)

    first = call(matcher, get(NAMES[0]))
    clock.now += TTL / 2
    within_ttl = call(matcher, get(NAMES[0]))
    publish(s3, folders["second"], SECOND)
    clock.now += TTL / 2
    recovered = call(matcher, get(NAMES[0]))

    assert first["statusCode"] == 503, damage
    assert answer(first) == UNAVAILABLE
    assert "Traceback" not in first["body"]
    assert within_ttl["statusCode"] == 503
    assert matcher.indexes.client.pointer_reads == 2
    assert recovered["statusCode"] == 200
    assert answer(recovered)["indexVersion"] == SECOND
    assert answer(recovered)["match"]["id"] == IDS[0]
    assert [folder.name for folder in cache_dir.iterdir()] == [SECOND]
    failures = [line for line in log_lines(log)
                if line["message"] == "An index version could not be loaded"]
    assert len(failures) == 1
    assert failures[0]["level"] == "ERROR"
    assert failures[0]["version"] == FIRST
    assert reason in failures[0]["exception"]


def test_a_damaged_new_version_never_replaces_the_served_one(
        published: ModuleType, s3: Any, folders: dict[str, Path], clock: Clock,
        cache_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert answer(call(published, get(NAMES[0])))["indexVersion"] == FIRST
    publish(s3, folders["second"], SECOND, corrupt="index.bin")

    clock.now += TTL
    during = call(published, get(NAMES[0]))
    publish(s3, folders["second"], THIRD)
    clock.now += TTL
    after = call(published, get(NEWCOMER))

    assert during["statusCode"] == 200
    assert answer(during)["indexVersion"] == FIRST
    assert answer(after)["indexVersion"] == THIRD
    assert answer(after)["match"]["id"] == NEWCOMER_ID
    assert [folder.name for folder in cache_dir.iterdir()] == [THIRD]
    emitted = [json.loads(line) for line in capsys.readouterr().out.splitlines()
               if '"_aws"' in line]
    assert any(blob.get("IndexLoadFailed") == [1.0] for blob in emitted)


@pytest.mark.parametrize("pointer", [
    b"not json",
    b"[" * 100_000,
    b"[]",
    json.dumps({"version": "../../etc", "files": {"manifest.json": "0" * 64}}).encode(),
    json.dumps({"version": FIRST, "files": {"../manifest.json": "0" * 64}}).encode(),
    json.dumps({"version": FIRST, "files": {"manifest.json": "not a sha256"}}).encode(),
    json.dumps({"version": FIRST, "files": {"idf.npy": "0" * 64}}).encode(),
    json.dumps({"version": FIRST, "files": {}}).encode(),
])
def test_a_malformed_pointer_answers_503_and_recovers(matcher: ModuleType, s3: Any,
                                                      folders: dict[str, Path], clock: Clock,
                                                      cache_dir: Path, pointer: bytes) -> None:
    s3.put_object(Bucket=BUCKET, Key=POINTER_KEY, Body=pointer)

    refused = call(matcher, get(NAMES[0]))
    publish(s3, folders["first"], FIRST)
    clock.now += TTL
    served = call(matcher, get(NAMES[0]))

    assert refused["statusCode"] == 503
    assert answer(refused) == UNAVAILABLE
    assert served["statusCode"] == 200
    assert not (cache_dir.parent / "etc").exists()


def test_a_missing_bucket_answers_503(matcher: ModuleType) -> None:
    matcher.indexes.bucket = "no-such-bucket"

    response = call(matcher, get("Acme"))

    assert response["statusCode"] == 503
    assert answer(response) == UNAVAILABLE


def test_a_deleted_pointer_keeps_the_loaded_version(published: ModuleType, s3: Any,
                                                    clock: Clock) -> None:
    call(published, get("Acme"))
    s3.delete_object(Bucket=BUCKET, Key=POINTER_KEY)
    clock.now += TTL

    response = call(published, get(NAMES[0]))

    assert answer(response)["indexVersion"] == FIRST


def test_logs_never_carry_names(published: ModuleType, monkeypatch: pytest.MonkeyPatch,
                                capsys: pytest.CaptureFixture[str]) -> None:
    log = capture_log(published, monkeypatch)
    published.logger.setLevel("DEBUG")
    secret = "Quillfeather Sandoval Mercantile"

    call(published, get(secret))
    call(published, post({"names": [secret, NAMES[0]]}))
    call(published, post({"names": [secret, ""]}))

    out = capsys.readouterr().out + log.getvalue()
    assert '"Matched"' in out  # debug lines were written
    assert '"Rejected a request"' in out
    assert "Quillfeather" not in out
    assert NAMES[0] not in out


# --- settings ----------------------------------------------------------------------------------

def test_settings_defaults(matcher: ModuleType) -> None:
    settings = matcher.Settings.from_environ({"BUCKET_NAME": BUCKET})

    assert settings == matcher.Settings(BUCKET, "index/", 0.5, 60.0)


def test_rerank_is_on_unless_the_environment_says_false(matcher: ModuleType) -> None:
    assert matcher.Settings.from_environ({"BUCKET_NAME": BUCKET}).rerank is True
    assert matcher.Settings.from_environ({"BUCKET_NAME": BUCKET, "RERANK": "False"}).rerank \
        is False
    with pytest.raises(ValueError, match="RERANK"):
        matcher.Settings.from_environ({"BUCKET_NAME": BUCKET, "RERANK": "maybe"})


def test_the_default_store_loads_with_the_configured_rerank(matcher: ModuleType,
                                                            folders: dict[str, Path]) -> None:
    for rerank in (True, False):
        store = matcher.default_store(matcher.Settings(BUCKET, rerank=rerank))
        assert store.loader(folders["first"]).rerank is rerank


def test_strangers_get_the_no_match_answer_at_the_default_min_score(
        published: ModuleType) -> None:
    found = answer(call(published, post({"names": ["Qwxz Vbnm Plkj", "Zanzibar Orchestra",
                                                    NAMES[42]]})))

    assert [result["match"] is None for result in found["results"]] == [True, True, False]


def test_settings_report_every_problem(matcher: ModuleType) -> None:
    with pytest.raises(ValueError, match="invalid entity matcher settings") as raised:
        matcher.Settings.from_environ({"INDEX_PREFIX": "/index", "MIN_SCORE": "1.5",
                                       "POINTER_TTL_SECONDS": "-1"})

    message = str(raised.value)
    for name in ("BUCKET_NAME", "INDEX_PREFIX", "MIN_SCORE", "POINTER_TTL_SECONDS"):
        assert name in message
    with pytest.raises(ValueError, match="MIN_SCORE"):
        matcher.Settings.from_environ({"BUCKET_NAME": BUCKET, "MIN_SCORE": "nan"})
