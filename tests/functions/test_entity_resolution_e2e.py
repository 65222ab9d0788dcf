"""Entity resolution end to end: a reference CSV uploaded to the bucket, the builder run with the
S3 event, then names matched through the matcher with HTTP API events.

Both handlers run against one moto bucket shaped like the component's (versioned, the
``reference/`` and ``index/`` prefixes), with the environment the component gives each.
"""

from __future__ import annotations

import json
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from moto import mock_aws

from tests.functions.test_entity_index_builder import (
    BUCKET,
    IDS,
    INDEX_PREFIX,
    NAMES,
    REFERENCE_PREFIX,
    create_bucket,
    import_fresh,
    powertools_environment,
    read_pointer,
    reference_csv,
    s3_client,
    set_aws_environment,
    upload,
)
from tests.functions.test_entity_index_builder import CONTEXT as BUILDER
from tests.functions.test_entity_matcher import CONTEXT as MATCHER
from tests.functions.test_entity_matcher import Clock, get, post, typo

KEY = "reference/Global customers (2026).csv"
# Names a reference list really holds: accents, ampersands, legal forms, word order.
EXTRA = [("X-001", "Société Générale S.A."), ("X-002", "Müller & Söhne GmbH & Co. KG"),
         ("X-003", "Toyota Motor Co., Ltd."), ("X-004", "McDonald's Corporation"),
         ("X-005", "AB Volvo")]
pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish")


@pytest.fixture
def deployed(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[dict[str, Any]]:
    """The bucket and both functions, as the component deploys them, in one fresh container each.
    """
    set_aws_environment(monkeypatch)
    monkeypatch.setenv("BUCKET_NAME", BUCKET)
    monkeypatch.setenv("INDEX_PREFIX", INDEX_PREFIX)
    monkeypatch.setenv("REFERENCE_PREFIX", REFERENCE_PREFIX)
    monkeypatch.setenv("INDEX_METHOD", "pruned")  # the component's default
    monkeypatch.setenv("STRIP_LEGAL_SUFFIXES", "true")
    monkeypatch.setenv("MIN_SCORE", "0.5")
    lambda_tmp = tmp_path / "tmp"
    lambda_tmp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(lambda_tmp))
    with mock_aws():
        client = s3_client()
        create_bucket(client)
        powertools_environment(monkeypatch, "entity-index-builder")
        builder = import_fresh("entity_index_builder.app")
        powertools_environment(monkeypatch, "entity-matcher")
        matcher = import_fresh("entity_matcher.app")
        clock = Clock()
        monkeypatch.setattr(matcher, "indexes", matcher.IndexStore(
            matcher.s3, BUCKET, INDEX_PREFIX, ttl_seconds=60, cache_dir=lambda_tmp / "index",
            clock=clock))
        yield {"s3": client, "builder": builder, "matcher": matcher, "clock": clock,
               "tmp": lambda_tmp}
    for module in ("entity_index_builder.app", "entity_matcher.app"):
        sys.modules.pop(module, None)


def match(deployed: dict[str, Any], event: dict[str, Any]) -> tuple[int, Any]:
    response = deployed["matcher"].handler(event, MATCHER)
    return response["statusCode"], json.loads(response["body"])


def test_upload_build_and_match(deployed: dict[str, Any]) -> None:
    s3, builder = deployed["s3"], deployed["builder"]
    ids = IDS + [ref_id for ref_id, _ in EXTRA]
    names = NAMES + [name for _, name in EXTRA]

    # Before anything is published, the matcher says so.
    assert match(deployed, get("Acme")) == (503, {"statusCode": 503,
                                                  "message": "No index published yet"})

    event = upload(s3, reference_csv(ids, names, bom=True, newline="\r\n"), key=KEY)
    assert "%28" in event["Records"][0]["s3"]["object"]["key"]  # the key arrives URL-encoded
    result = builder.handler(event, BUILDER)
    version = result["results"][0]["version"]
    assert result["results"][0]["status"] == "published"
    assert read_pointer(s3)["count"] == len(ids)
    assert list(deployed["tmp"].iterdir()) == []  # the build cleaned up after itself

    deployed["clock"].now += 60
    status, found = match(deployed, get("societe generale", k="5"))
    assert status == 200
    assert found["indexVersion"] == version
    assert found["match"]["id"] == "X-001"
    assert found["match"]["score"] >= 0.9  # the re-ranker's probability (a cosine of 1.0)
    assert len(found["matches"]) <= 5

    queries = ["MULLER & SOHNE", "Toyota Motor Corporation", "mcdonalds", "Volvo AB",
               typo(NAMES[42]), NAMES[7].lower(), "Qwxz Vbnm Plkj"]
    status, batch = match(deployed, post({"names": queries, "k": 2}))
    assert status == 200
    assert batch["indexVersion"] == version
    best = [result["match"]["id"] if result["match"] else None for result in batch["results"]]
    assert best == ["X-002", "X-003", "X-004", "X-005", IDS[42], IDS[7], None]
    for result in batch["results"]:
        scores = [item["score"] for item in result["matches"]]
        assert scores == sorted(scores, reverse=True)
        assert all(0.5 <= score <= 1 for score in scores)

    # The same event again (an S3 redelivery or a retry) publishes nothing new.
    again = builder.handler(event, BUILDER)
    assert again["results"][0] == {"key": KEY, "status": "unchanged", "version": version}
    assert match(deployed, get(NAMES[0]))[1]["match"]["id"] == IDS[0]


def test_a_new_reference_list_replaces_the_old_after_the_ttl(deployed: dict[str, Any]) -> None:
    s3, builder, clock = deployed["s3"], deployed["builder"], deployed["clock"]
    builder.handler(upload(s3, reference_csv(IDS[:150], NAMES[:150]), key=KEY), BUILDER)
    first = match(deployed, get(NAMES[200]))[1]

    builder.handler(upload(s3, reference_csv(), key=KEY, event_time="2026-11-26T18:00:00.000Z"),
                    BUILDER)
    clock.now += 30
    cached = match(deployed, get(NAMES[200]))[1]
    clock.now += 30
    fresh = match(deployed, get(NAMES[200]))[1]

    assert first["match"] is None or first["match"]["id"] != IDS[200]
    assert cached["indexVersion"] == first["indexVersion"]
    assert fresh["indexVersion"] != first["indexVersion"]
    assert fresh["match"]["id"] == IDS[200]


def test_a_rejected_file_keeps_the_published_index_serving(deployed: dict[str, Any]) -> None:
    s3, builder, clock = deployed["s3"], deployed["builder"], deployed["clock"]
    builder.handler(upload(s3, reference_csv(), key=KEY), BUILDER)
    served = match(deployed, get(NAMES[3]))[1]["indexVersion"]

    bad = upload(s3, b"id,name\nA1,Acme\nA1,Globex\n", key=KEY,
                 event_time="2026-11-26T18:00:00.000Z")
    with pytest.raises(builder.ReferenceFileError, match="line 3: id 'A1' repeats"):
        builder.handler(bad, BUILDER)
    clock.now += 60

    status, found = match(deployed, get(NAMES[3]))
    assert status == 200
    assert found["indexVersion"] == served
    assert found["match"]["id"] == IDS[3]
