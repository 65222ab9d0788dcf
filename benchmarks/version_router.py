"""The version router in-process: latency per request and DynamoDB calls, against a baseline.

    venv/bin/python -m benchmarks.version_router [--requests 100000] [--seed 7] [--moto]

The workload: three versions; 10% of requests carry an invalid value drawn at random from a
pool of 1,000; the valid ones mix plain version media types (some in odd case) with ``Accept``
lists carrying q-values, or, for the ``APIVER`` scenarios, the custom header.

Two figures per scenario:

- ``dynamodb_calls``: the calls one container makes for the whole workload from a cold cache,
  the requests spread over ten simulated minutes (two TTL windows);
- ``p50_us`` / ``p99_us`` (and per kind of request): the time of each ``route`` call with a
  warm cache, the real clock, and SigV4 signing when the scenario's origins use AWS_IAM.

The baseline does what the public sample does: on a miss, ``Scan`` the whole table and cache
the mapping for five minutes; then compare the first header entry's whole value, lowercased,
with each item's key. It logs nothing per request here (the sample logs every request in full,
which would dominate its time). The table is an in-memory stub, or moto with ``--moto`` for the
DynamoDB-call pass. Results: ``results/version_router.json``. Nothing is asserted.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import os
import platform
import random
import statistics
import string
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from version_router.app import Credentials, Router, Settings, Signer, candidates

from benchmarks.recording import environment

RESULTS = Path(__file__).resolve().parent / "results" / "version_router.json"
TABLE = "api-versions"
TTL_SECONDS = 300.0
SIMULATED_SECONDS = 2 * TTL_SECONDS
INVALID_SHARE = 0.10
INVALID_POOL = 1000
VERSIONS = ("v1", "v2", "v3")
CREDENTIALS = Credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
                          "IQoJb3JpZ2luX2VjEXAMPLETOKEN")


def media_type(version: str) -> str:
    return f"application/vnd.example.{version}+json"


def domain(version: str) -> str:
    return f"api{version}.execute-api.us-east-1.amazonaws.com"


def items(header: str, signed: bool) -> list[dict[str, dict[str, str]]]:
    """The mapping table in DynamoDB's wire format."""
    rows = []
    for version in VERSIONS:
        key = media_type(version) if header == "Accept" else version
        row = {"hk": {"S": key}, "dn": {"S": domain(version)}, "dp": {"S": f"/{version}"}}
        if signed:
            row["sr"] = {"S": "us-east-1"}
        rows.append(row)
    return rows


class Table(Protocol):
    calls: Counter[str]

    def get_item(self, **kwargs: Any) -> Mapping[str, Any]: ...

    def scan(self, **kwargs: Any) -> Mapping[str, Any]: ...


@dataclass
class StubTable:
    """A dict standing in for the table; counts calls by operation."""

    rows: list[dict[str, dict[str, str]]]
    calls: Counter[str] = field(default_factory=Counter)

    def __post_init__(self) -> None:
        self._by_key = {row["hk"]["S"]: row for row in self.rows}

    def get_item(self, **kwargs: Any) -> Mapping[str, Any]:
        self.calls["GetItem"] += 1
        row = self._by_key.get(kwargs["Key"]["hk"]["S"])
        return {} if row is None else {"Item": row}

    def scan(self, **kwargs: Any) -> Mapping[str, Any]:
        self.calls["Scan"] += 1
        return {"Items": list(self.rows), "Count": len(self.rows)}


@dataclass
class CountingTable:
    """A real (moto) client behind the same counters."""

    client: Any
    calls: Counter[str] = field(default_factory=Counter)

    def get_item(self, **kwargs: Any) -> Mapping[str, Any]:
        self.calls["GetItem"] += 1
        found: Mapping[str, Any] = self.client.get_item(**kwargs)
        return found

    def scan(self, **kwargs: Any) -> Mapping[str, Any]:
        self.calls["Scan"] += 1
        found: Mapping[str, Any] = self.client.scan(**kwargs)
        return found


class ScanBaseline:
    """The public sample's lookup, in Python, for comparison (see the module docstring)."""

    def __init__(self, table: Table, header_name: str, clock: Callable[[], float],
                 ttl: float = TTL_SECONDS):
        self._table = table
        self._header = header_name.lower()
        self._clock = clock
        self._ttl = ttl
        self._mappings: list[dict[str, str]] | None = None
        self._expires = 0.0

    def route(self, request: dict[str, Any]) -> dict[str, Any]:
        entries = request["headers"].get(self._header)
        if not entries:
            return {"status": "403", "statusDescription": f"{self._header} header is missing."}
        value = entries[0]["value"]
        if not value:
            return {"status": "403", "statusDescription": f"{self._header} header is empty."}
        match = next((row for row in self._load() if row["hk"].lower() == value.lower()), None)
        if match is None:
            return {"status": "403",
                    "statusDescription": f"{self._header} header is not a valid version."}
        request["origin"] = {"custom": {
            "domainName": match["dn"], "port": 443, "protocol": "https",
            "path": match.get("dp", ""), "sslProtocols": ["TLSv1", "TLSv1.1", "TLSv1.2"],
            "readTimeout": 5, "keepaliveTimeout": 5, "customHeaders": {}}}
        request["headers"]["host"] = [{"key": "host", "value": match["dn"]}]
        return request

    def _load(self) -> list[dict[str, str]]:
        now = self._clock()
        if self._mappings is None or now >= self._expires:
            self._mappings = None
            found = self._table.scan(TableName=TABLE).get("Items") or []
            if found:
                self._mappings = [{name: value["S"] for name, value in row.items()}
                                  for row in found]
                self._expires = now + self._ttl
        return self._mappings or []


@dataclass(frozen=True)
class Sample:
    """One request of the workload: its header value, its kind, and the version it wants."""

    value: str
    kind: str
    expected: str | None


def workload(header: str, count: int, seed: int, invalid_pool: int) -> list[Sample]:
    rng = random.Random(seed)  # noqa: S311 - a reproducible workload, not a secret
    alphabet = string.ascii_lowercase + string.digits
    valid = {media_type(version) if header == "Accept" else version for version in VERSIONS}
    pool: list[str] = []
    while len(pool) < invalid_pool:
        value = ("application/vnd.example." if header == "Accept" else "") + "".join(
            rng.choices(alphabet, k=rng.randint(2, 12)))
        if value not in valid:
            pool.append(value)
    samples = []
    for _ in range(count):
        if rng.random() < INVALID_SHARE:
            value = rng.choice(pool) if invalid_pool else f"garbage-{rng.getrandbits(64):x}"
            samples.append(Sample(value, "invalid", None))
            continue
        version = rng.choices(VERSIONS, weights=(5, 3, 2))[0]
        if header != "Accept":
            # CloudFront has already trimmed the whitespace around a header value.
            value = rng.choice((version, version, version.upper()))
            samples.append(Sample(value, "custom header", version))
        elif rng.random() < 0.65:
            wanted = media_type(version)
            samples.append(Sample(wanted if rng.random() < 0.9 else wanted.upper(), "plain",
                                  version))
        else:
            other = media_type(rng.choice([v for v in VERSIONS if v != version]))
            value = rng.choice((
                f"application/json;q=0.5, {media_type(version)}",
                f"{media_type(version)}, */*;q=0.1",
                f"{other};q=0.2, {media_type(version)};q=0.9",
                f"text/html, {media_type(version)};q=0.8, application/xml;q=0.7, */*;q=0",
            ))
            samples.append(Sample(value, "q-list", version))
    return samples


def make_request(header: str, value: str) -> dict[str, Any]:
    return {
        "clientIp": "203.0.113.178",
        "method": "GET",
        "uri": "/hello",
        "querystring": "",
        "headers": {
            "host": [{"key": "Host", "value": "d111111abcdef8.cloudfront.net"}],
            "user-agent": [{"key": "User-Agent", "value": "curl/8.5.0"}],
            header.lower(): [{"key": header, "value": value}],
        },
        "origin": {"custom": {"domainName": "placeholder.example.com", "path": "",
                              "port": 443, "protocol": "https", "customHeaders": {}}},
    }


Routes = Callable[[dict[str, Any]], dict[str, Any]]


def build(kind: str, table: Table, header: str, clock: Callable[[], float]) -> Routes:
    if kind == "baseline":
        return ScanBaseline(table, header, clock).route
    settings = Settings(table_name=TABLE, region="us-east-1", header_name=header,
                        cache_ttl_seconds=TTL_SECONDS)
    return Router(settings, table, clock, signer=Signer(lambda: CREDENTIALS)).route


def routed_to(result: dict[str, Any]) -> str | None:
    origin = result.get("origin", {}).get("custom", {})
    return next((v for v in VERSIONS if origin.get("domainName") == domain(v)), None)


def lookup_bound(samples: list[Sample]) -> int:
    """Distinct lookup keys per TTL window, summed: the most GetItem calls the router may make.

    Two fetches of one key are at least a TTL apart, so no key is fetched twice in one window.
    """
    windows: dict[int, set[str]] = {}
    step = SIMULATED_SECONDS / len(samples)
    for index, sample in enumerate(samples):
        windows.setdefault(int(index * step // TTL_SECONDS), set()).update(candidates(sample.value))
    return sum(len(keys) for keys in windows.values())


def count_calls(kind: str, table: Table, header: str,
                samples: list[Sample]) -> dict[str, Any]:
    """A cold container serving the workload over simulated time: calls and correctness."""
    now = [0.0]
    route = build(kind, table, header, lambda: now[0])
    step = SIMULATED_SECONDS / len(samples)
    valid = right = refused = 0
    for sample in samples:
        result = route(make_request(header, sample.value))
        now[0] += step
        if sample.expected is None:
            refused += result.get("status") == "403"
        else:
            valid += 1
            right += routed_to(result) == sample.expected
    invalid = len(samples) - valid
    return {
        "dynamodb_calls": sum(table.calls.values()),
        "dynamodb_calls_by_operation": dict(table.calls),
        "valid_routed_pct": round(100 * right / valid, 2),
        "invalid_refused_pct": round(100 * refused / invalid, 2) if invalid else None,
    }


@contextlib.contextmanager
def quiet_gc() -> Iterator[None]:
    """Collect before timing so one run's garbage does not land in the next one's p99."""
    gc.collect()
    yield
    gc.collect()


def time_requests(kind: str, header: str, signed: bool,
                  samples: list[Sample]) -> dict[str, Any]:
    """Per-request time with a warm cache and the real clock."""
    route = build(kind, StubTable(items(header, signed)), header, time.time)
    for sample in samples:
        route(make_request(header, sample.value))
    timings: dict[str, list[int]] = {}
    clock = time.perf_counter_ns
    with quiet_gc():
        for sample in samples:
            request = make_request(header, sample.value)
            started = clock()
            route(request)
            elapsed = clock() - started
            timings.setdefault(sample.kind, []).append(elapsed)
    every = sorted(value for values in timings.values() for value in values)
    return {
        **percentiles(every),
        "by_kind": {name: {"requests": len(values), **percentiles(sorted(values))}
                    for name, values in sorted(timings.items())},
    }


def percentiles(ordered: list[int]) -> dict[str, float]:
    def at(share: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(share * len(ordered)))] / 1000, 2)

    return {"p50_us": at(0.50), "p99_us": at(0.99),
            "mean_us": round(statistics.fmean(ordered) / 1000, 2)}


def timer_overhead_us() -> float:
    clock = time.perf_counter_ns
    spans = []
    for _ in range(100_000):
        started = clock()
        spans.append(clock() - started)
    return round(statistics.median(spans) / 1000, 3)


@contextlib.contextmanager
def tables(use_moto: bool, header: str, signed: bool) -> Iterator[Callable[[], Table]]:
    """Fresh, seeded tables for the call-count pass: the stub, or moto's DynamoDB."""
    if not use_moto:
        yield lambda: StubTable(items(header, signed))
        return
    import boto3  # type: ignore[import-untyped]
    from moto import mock_aws

    fake = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1"}
    with environment(fake), mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        client.create_table(
            TableName=TABLE, BillingMode="PAY_PER_REQUEST",
            KeySchema=[{"AttributeName": "hk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "hk", "AttributeType": "S"}])
        for row in items(header, signed):
            client.put_item(TableName=TABLE, Item=row)
        yield lambda: CountingTable(client)


SCENARIOS = (
    # name, implementation, header, signed origins, invalid pool (0: every one distinct)
    ("router", "router", "Accept", False, INVALID_POOL),
    ("router, SigV4", "router", "Accept", True, INVALID_POOL),
    ("baseline", "baseline", "Accept", False, INVALID_POOL),
    ("router, APIVER", "router", "APIVER", False, INVALID_POOL),
    ("router, APIVER, SigV4", "router", "APIVER", True, INVALID_POOL),
    ("baseline, APIVER", "baseline", "APIVER", False, INVALID_POOL),
    ("router, invalid all distinct", "router", "Accept", False, 0),
    ("baseline, invalid all distinct", "baseline", "Accept", False, 0),
)


def run(requests: int, seed: int, use_moto: bool) -> dict[str, Any]:
    rows = []
    for name, kind, header, signed, pool in SCENARIOS:
        samples = workload(header, requests, seed, pool)
        with tables(use_moto, header, signed) as fresh:
            calls = count_calls(kind, fresh(), header, samples)
        distinct = len({sample.value.strip().lower() for sample in samples})
        rows.append({"scenario": name, "implementation": kind, "header": header,
                     "signed": signed, "distinct_values": distinct,
                     "lookup_keys_per_window_summed": lookup_bound(samples), **calls,
                     **time_requests(kind, header, signed, samples)})
        print(f"{name:32} p50 {rows[-1]['p50_us']:6.2f} us  p99 {rows[-1]['p99_us']:6.2f} us  "
              f"calls {rows[-1]['dynamodb_calls']:6}  valid routed "
              f"{rows[-1]['valid_routed_pct']}%")
    return {
        "recorded": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, "
                   f"{platform.python_implementation()} {platform.python_version()}",
        "requests": requests,
        "seed": seed,
        "table": "moto" if use_moto else "in-memory stub",
        "simulated_seconds": SIMULATED_SECONDS,
        "ttl_seconds": TTL_SECONDS,
        "invalid_share": INVALID_SHARE,
        "invalid_pool": INVALID_POOL,
        "timer_overhead_us": timer_overhead_us(),
        "scenarios": rows,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--moto", action="store_true",
                        help="count DynamoDB calls against moto instead of the in-memory stub")
    options = parser.parse_args()
    result = run(options.requests, options.seed, options.moto)
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
