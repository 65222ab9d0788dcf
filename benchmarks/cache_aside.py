"""Cache-aside reads (``functions/cache_aside``) against a real Valkey-protocol server, side by
side with direct DynamoDB reads (moto), and the share of reads a Zipf-like key mix serves from
the cache.

    venv/bin/python -m benchmarks.cache_aside [--rounds 2000] [--warmup 200] [--keys 10000]
        [--reads 100000] [--zipf-s 0.8 1.0 1.1 1.2] [--seed 16] [--rates 1 5 50]
        [--paced-seconds 90] [--paced-rate 150] [--paced-ttl 10] [--probes 10] [--no-tls]

Everything runs on 127.0.0.1, started by the script and stopped at its end: a Valkey-protocol
server (``valkey-server``, or Debian's ``redis-server``, found and started as the tests do,
``tests.valkey``), a second one serving TLS only (a CA and a server certificate made for the
run; the client checks both, as it does ElastiCache's), and moto's server in a child process,
reached over HTTP as a function reaches DynamoDB. The accounts table is shaped as the component
declares it (on demand, ``accountId``), with ``--keys`` billing summaries of one to three loans
(about 330 bytes of JSON). Reads go through what ``functions/cache_billing`` runs:
``records.billing_summary`` on a boto3 ``Table`` made with the functions' ``STORE_CONFIG``,
and ``Cache.read`` on a ``Cache`` over the library's own ``client`` (no auth here, TLS or not),
with the billing TTL's default, 300 s.

**Latency** (``--rounds`` timed rounds after ``--warmup`` untimed ones, interleaved so that the
machine's load falls on every path alike; each read timed alone with ``perf_counter_ns``). In
each round, for the next account:

- ``direct``: ``records.billing_summary`` alone (one GetItem): what a function without the
  cache does;
- ``miss``: ``Cache.read`` of a key not in the cache: GET (absent), the same GetItem, then SET
  with the TTL; then ``hit``: ``Cache.read`` of the same key again, answered by the cache;
- ``miss, TLS`` and ``hit, TLS``: the same against the TLS server.

The rounds run twice: with moto's server over HTTP (in a child process, so that it does not
share this interpreter's GIL as ``ThreadedMotoServer`` would), and with ``mock_aws`` in this
process (no HTTP, no socket: the floor of what botocore and moto cost).

**Share of reads served from the cache** under a Zipf-like mix: ``--reads`` reads of ``--keys``
accounts, the account of rank ``r`` drawn with probability proportional to ``1 / r**s``:

- ``measured``: the reads through ``Cache.read`` against the real server and moto's, as fast as
  they go. The run is shorter than the TTL, so nothing expires: a cold cache misses each
  distinct account once (checked), then a second pass with other draws from the same mix finds
  the cache warm. The model beside it: ``1 - E[distinct] / reads``.
- ``TTL model``: the steady state with the TTL at work, for a service reading ``--rates``
  accounts a second (all containers together: they share the cache), arrivals Poisson. A key
  with probability ``p`` is cached for ``T`` seconds from the miss that loads it, and every
  read in that window is a hit, so the key's hit share is ``lam p T / (1 + lam p T)``, and the
  mix's is the sum of ``p`` times that. Invalidations (``payment_processed``) are left out:
  they only lower it. With the mean hit and miss measured above (moto's server), each share
  gives the mean read.
- ``paced``: that model checked against the real server: a Poisson schedule of
  ``--paced-rate`` reads a second with a real TTL of ``--paced-ttl`` seconds, which has as
  many reads per TTL window as ``--paced-rate * --paced-ttl / 300`` reads a second with the TTL
  of 300 s (only reads per window matter). It is compared with a simulation of the same reads
  at the instants they ran, and after its first TTL window with the steady state.

**Outage** (``--probes`` times each): the server stopped (connections refused at once) or
frozen (``SIGSTOP``: connections accepted, nothing answered, so the 200 ms timeout runs out).
The first read after the breaker closes tries the cache and pays the failure, then
``--skipped`` reads skip the cache (the breaker is open for 30 s; an injected clock moves it
on), then the clock moves past the 30 s and the next probe follows. Every read must answer from
DynamoDB (``store-cache-down``), and the cache must answer again once the server is back.

Checked (the run fails otherwise): every read's source is the expected one and its value the
item's. Results: ``results/cache_aside.json``. Nothing is asserted on time.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import ipaddress
import itertools
import logging
import math
import os
import platform
import random
import signal
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, TextIO

import boto3  # type: ignore[import-untyped]
from cache_aside import keys, records
from cache_aside.cache import STORE_CONFIG, Cache, Read, client
from cache_aside.settings import CacheSettings

from benchmarks.recording import cpu_model, environment, write_results
from tools.local.caches import ValkeyServer, find_binary, free_port

RESULTS = Path(__file__).resolve().parent / "results" / "cache_aside.json"
HOST = "127.0.0.1"
REGION = "eu-west-1"  # the dev stack's
TABLE = "cache-accounts"
BILLING_TTL_SECONDS = 300  # BILLING_TTL_SECONDS' default, and the component's
PROFILE_TTL_SECONDS = 900
CACHE_TIMEOUT_MS = 200  # the component's cacheTimeoutMs default
BREAKER_SECONDS = 30  # the component's breakerSeconds default
AWS_ENVIRONMENT = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                   "AWS_SESSION_TOKEN": "testing", "AWS_DEFAULT_REGION": REGION}


def check(condition: bool, message: str) -> None:
    if not condition:
        raise RuntimeError(f"check failed: {message}")


# ------------------------------------------------------------------------------ servers

def wait_for(ready: Callable[[], bool], process: subprocess.Popen[bytes], what: str,
             seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited with {process.returncode}")
        with contextlib.suppress(OSError):
            if ready():
                return
        time.sleep(0.05)
    raise RuntimeError(f"{what} did not answer within {seconds:g} s")


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextlib.contextmanager
def moto_server() -> Iterator[str]:
    """moto's server in a child process; its endpoint."""
    port = free_port()
    process = subprocess.Popen(  # noqa: S603 (this interpreter, fixed arguments)
        [sys.executable, "-m", "moto.server", "-H", HOST, "-p", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        def ready() -> bool:
            with socket.create_connection((HOST, port), timeout=0.2):
                return True

        wait_for(ready, process, "moto's server")
        yield f"http://{HOST}:{port}"
    finally:
        stop(process)


@dataclass(frozen=True)
class TlsFiles:
    ca: Path
    certificate: Path
    key: Path


def make_certificates(directory: Path) -> TlsFiles:
    """A CA made for the run, and a certificate it issued for 127.0.0.1 (PEM files)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.now(UTC)
    ca_key, server_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(
        ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "cache benchmark CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now - timedelta(hours=1)).not_valid_after(now + timedelta(days=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .add_extension(x509.KeyUsage(
              digital_signature=False, content_commitment=False, key_encipherment=False,
              data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
              encipher_only=False, decipher_only=False), critical=True)
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()),
                         critical=False)
          .sign(ca_key, hashes.SHA256()))
    server = (x509.CertificateBuilder()
              .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, HOST)]))
              .issuer_name(ca_name).public_key(server_key.public_key())
              .serial_number(x509.random_serial_number())
              .not_valid_before(now - timedelta(hours=1)).not_valid_after(now + timedelta(days=1))
              .add_extension(x509.SubjectAlternativeName(
                  [x509.IPAddress(ipaddress.ip_address(HOST))]), critical=False)
              .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]),
                             critical=False)
              .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                  ca_key.public_key()), critical=False)
              .sign(ca_key, hashes.SHA256()))
    files = TlsFiles(directory / "ca.pem", directory / "server.pem", directory / "server.key")
    files.ca.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    files.certificate.write_bytes(server.public_bytes(serialization.Encoding.PEM))
    files.key.write_bytes(server_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    return files


@contextlib.contextmanager
def tls_server(binary: str, directory: Path) -> Iterator[tuple[int, TlsFiles]]:
    """A second server, TLS only (no plain port), as ElastiCache Serverless is; its port and
    the run's certificates."""
    files = make_certificates(directory)
    port = free_port()
    process = subprocess.Popen(  # noqa: S603 (a binary found on PATH, fixed arguments)
        [binary, "--port", "0", "--tls-port", str(port), "--bind", HOST, "--save", "",
         "--appendonly", "no", "--dir", str(directory), "--protected-mode", "yes",
         "--tls-cert-file", str(files.certificate), "--tls-key-file", str(files.key),
         "--tls-ca-cert-file", str(files.ca), "--tls-auth-clients", "no"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    context = ssl.create_default_context(cafile=str(files.ca))
    try:
        def ready() -> bool:
            with socket.create_connection((HOST, port), timeout=0.5) as plain, \
                    context.wrap_socket(plain, server_hostname=HOST) as probe:
                probe.sendall(b"PING\r\n")
                return probe.recv(16).startswith(b"+PONG")

        wait_for(ready, process, f"{binary} (TLS)", 10)
        yield port, files
    finally:
        stop(process)


def server_version(binary: str) -> str:
    answer = subprocess.run([binary, "--version"], capture_output=True, text=True,  # noqa: S603
                            check=False)
    return answer.stdout.strip()


# ------------------------------------------------------------------------------- data

def repeatable(seed: int | str) -> random.Random:
    return random.Random(seed)  # noqa: S311 (repeatable benchmark data, not secrets)


def account_id(index: int) -> str:
    return f"acct-{index:05d}"


def account_item(index: int, rng: random.Random) -> dict[str, Any]:
    """A billing summary as the accounts table holds it."""
    loans: list[dict[str, Any]] = []
    outstanding_total = Decimal(0)
    for number in range(rng.randint(1, 3)):
        principal = rng.randrange(1_000, 50_000)
        outstanding = Decimal(rng.randrange(0, principal * 100)).scaleb(-2)
        outstanding_total += outstanding
        loans.append({"loanId": f"loan-{index:05d}-{number}", "principal": Decimal(principal),
                      "outstanding": outstanding,
                      "rate": Decimal(rng.choice(("0.0390", "0.0450", "0.0525"))),
                      "nextDue": f"2026-12-{rng.randint(1, 28):02d}"})
    return {"accountId": account_id(index), "balance": outstanding_total, "currency": "EUR",
            "loans": loans, "status": rng.choice(("current", "current", "current", "overdue")),
            "updatedAt": "2026-12-01T09:30:00Z"}


def store_table(endpoint: str | None) -> Any:
    """The accounts table as the functions reach it (``STORE_CONFIG``), created and empty."""
    resource = boto3.resource("dynamodb", region_name=REGION, config=STORE_CONFIG,
                              endpoint_url=endpoint)
    resource.meta.client.create_table(
        TableName=TABLE, BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "accountId", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "accountId", "AttributeType": "S"}])
    return resource.Table(TABLE)


def fill(table: Any, count: int, seed: int) -> dict[str, dict[str, Any]]:
    """``count`` accounts in ``table``; each one's summary as ``billing_summary`` answers it."""
    rng = repeatable(seed)
    expected = {}
    with table.batch_writer() as batch:
        for index in range(count):
            item = account_item(index, rng)
            batch.put_item(Item=item)
            expected[item["accountId"]] = {name: records.plain(item[name])
                                           for name in records.BILLING_FIELDS}
    return expected


# ----------------------------------------------------------------------------- timing

def percentiles(nanoseconds: Sequence[int]) -> dict[str, Any]:
    """Sample count, nearest-rank p50/p95/p99, mean and max, in ms."""
    ordered = sorted(nanoseconds)

    def at(share: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(share * len(ordered)))] / 1e6, 3)

    return {"n": len(ordered), "p50_ms": at(0.50), "p95_ms": at(0.95), "p99_ms": at(0.99),
            "mean_ms": round(statistics.fmean(ordered) / 1e6, 3),
            "max_ms": round(ordered[-1] / 1e6, 3)}


def loader(table: Any, account: str) -> Callable[[], dict[str, Any] | None]:
    """What the billing handler hands ``Cache.read``."""
    return lambda: records.billing_summary(table, account)


def timed_read(cache: Cache, table: Any, account: str,
               ttl: int = BILLING_TTL_SECONDS) -> tuple[int, Read]:
    """The handler's read (``cache.read(billing_key, ttl, loader)``), timed."""
    key, load = keys.billing_key(account), loader(table, account)
    started = time.perf_counter_ns()
    read = cache.read(key, ttl, load)
    return time.perf_counter_ns() - started, read


def cache_settings(port: int, *, tls: bool = False) -> CacheSettings:
    return CacheSettings(host=HOST, port=port, tls=tls, auth="none", timeout_ms=CACHE_TIMEOUT_MS,
                         breaker_seconds=BREAKER_SECONDS)


def flush(settings: CacheSettings) -> None:
    connection = client(settings)
    connection.flushall()
    connection.close()


@dataclass
class Caches:
    """The plain and TLS servers' settings, and where TLS clients find the run's CA."""

    plain: CacheSettings
    tls: CacheSettings | None
    ca_file: Path | None

    @contextlib.contextmanager
    def trusted(self) -> Iterator[None]:
        """The run's CA trusted by new TLS connections (``ssl.create_default_context`` reads
        ``SSL_CERT_FILE``), as the client is made by the library without a CA of its own."""
        with environment({"SSL_CERT_FILE": str(self.ca_file)} if self.ca_file else {}):
            yield


def latency_rounds(table: Any, expected: Mapping[str, dict[str, Any]], caches: Caches,
                   accounts: Sequence[str], warmup: int) -> dict[str, list[int]]:
    """Interleaved rounds of direct, miss and hit reads (and over TLS); nanoseconds by path,
    the first ``warmup`` rounds left out."""
    flush(caches.plain)
    paths = {"miss": Cache(client(caches.plain), BREAKER_SECONDS)}
    if caches.tls is not None:
        with caches.trusted():
            flush(caches.tls)
        paths["miss, TLS"] = Cache(client(caches.tls), BREAKER_SECONDS)
    samples: dict[str, list[int]] = {"direct": []}
    for name in paths:
        samples[name] = []
        samples[name.replace("miss", "hit")] = []
    gc.collect()
    with caches.trusted():
        for position, account in enumerate(accounts):
            load = loader(table, account)
            started = time.perf_counter_ns()
            value = load()
            direct = time.perf_counter_ns() - started
            check(value == expected[account], f"GetItem of {account} answers its summary")
            rounds = [("direct", direct)]
            for name, cache in paths.items():
                miss, read = timed_read(cache, table, account)
                check(read.source == "store" and read.value == value,
                      f"{name}: the first read of {account} is a miss, loaded from the table")
                hit, read = timed_read(cache, table, account)
                check(read.source == "cache" and read.value == value,
                      f"{name}: the second read of {account} is a hit, the same summary")
                rounds += [(name, miss), (name.replace("miss", "hit"), hit)]
            if position >= warmup:
                for name, nanoseconds in rounds:
                    samples[name].append(nanoseconds)
    for cache in paths.values():
        cache.connection.close()
    return samples


# ------------------------------------------------------------------------------- Zipf

def zipf_probabilities(count: int, s: float) -> list[float]:
    weights = [1 / rank ** s for rank in range(1, count + 1)]
    total = math.fsum(weights)
    return [weight / total for weight in weights]


def zipf_ranking(count: int, rng: random.Random) -> list[int]:
    """The account of each rank (rank 1 first), in a shuffled order."""
    order = list(range(count))
    rng.shuffle(order)
    return order


def zipf_draws(ranking: Sequence[int], s: float, reads: int, rng: random.Random) -> list[str]:
    """``reads`` accounts, the one of rank ``r`` drawn with probability ``~ 1 / r**s``."""
    cumulative = list(itertools.accumulate(zipf_probabilities(len(ranking), s)))
    ranks = rng.choices(range(len(ranking)), cum_weights=cumulative, k=reads)
    return [account_id(ranking[rank]) for rank in ranks]


def expected_distinct(probabilities: Sequence[float], reads: int) -> float:
    return math.fsum(-math.expm1(reads * math.log1p(-p)) for p in probabilities)


def ttl_hit_share(probabilities: Sequence[float], rate: float, ttl: float) -> float:
    """The steady-state share of hits: Poisson reads at ``rate`` a second, each key cached for
    ``ttl`` seconds from the miss that loads it (see the module docstring)."""
    return math.fsum(p * (rate * p * ttl) / (1 + rate * p * ttl) for p in probabilities)


def mix_pass(cache: Cache, table: Any, accounts: Sequence[str]) -> dict[str, Any]:
    """``Cache.read`` of each account in turn; where each was answered from, and the time."""
    sources: Counter[str] = Counter()
    durations = []
    gc.collect()
    started = time.perf_counter()
    for account in accounts:
        nanoseconds, read = timed_read(cache, table, account)
        check(read.value is not None, f"the mix's read of {account} answers")
        sources[read.source] += 1
        durations.append(nanoseconds)
    elapsed = time.perf_counter() - started
    return {"reads": len(accounts), "distinct_keys": len(set(accounts)),
            "hits": sources["cache"], "misses": sources["store"],
            "bypassed": sources["store-cache-down"],
            "hit_share": round(sources["cache"] / len(accounts), 4),
            "elapsed_s": round(elapsed, 1), "latency": percentiles(durations)}


def measured_shares(table: Any, caches: Caches, count: int, s_values: Sequence[float],
                    reads: int, seed: int) -> list[dict[str, Any]]:
    """Per exponent: a cold pass, then a warm pass with other draws; nothing expires."""
    rows = []
    for s in s_values:
        flush(caches.plain)
        cache = Cache(client(caches.plain), BREAKER_SECONDS)
        rng = repeatable(f"{seed}-{s}")
        probabilities = zipf_probabilities(count, s)
        ranking = zipf_ranking(count, rng)
        cold_reads = zipf_draws(ranking, s, reads, rng)
        warm_reads = zipf_draws(ranking, s, reads, rng)
        cold = mix_pass(cache, table, cold_reads)
        warm = mix_pass(cache, table, warm_reads)
        cache.connection.close()
        if cold["elapsed_s"] + warm["elapsed_s"] < BILLING_TTL_SECONDS:
            check(cold["misses"] == cold["distinct_keys"],
                  f"s={s}: the cold pass misses each distinct account once")
            new = len(set(warm_reads) - set(cold_reads))
            check(warm["misses"] == new,
                  f"s={s}: the warm pass misses only accounts the cold pass did not read")
        top = sorted(probabilities, reverse=True)
        rows.append({
            "s": s, "keys": count, "reads": reads,
            "top_1pct_keys_share_of_reads": round(math.fsum(top[:max(1, count // 100)]), 4),
            "top_10pct_keys_share_of_reads": round(math.fsum(top[:max(1, count // 10)]), 4),
            "cold": cold, "warm": warm,
            "cold_model_hit_share": round(1 - expected_distinct(probabilities, reads) / reads, 4)})
        print(f"  s={s}: cold {cold['hit_share']:.1%} from the cache "
              f"({cold['distinct_keys']:,} distinct of {reads:,}; model "
              f"{rows[-1]['cold_model_hit_share']:.1%}), warm {warm['hit_share']:.1%}; "
              f"mean read {cold['latency']['mean_ms']:.3f} / {warm['latency']['mean_ms']:.3f} ms")
    return rows


def ttl_model(count: int, s_values: Sequence[float], rates: Sequence[float],
              hit_ms: float, miss_ms: float) -> list[dict[str, Any]]:
    """The steady-state share per exponent, TTL and rate, and the mean read it makes with the
    measured mean hit and miss (moto's server: a DynamoDB of its speed)."""
    rows = []
    for s in s_values:
        probabilities = zipf_probabilities(count, s)
        for ttl in (BILLING_TTL_SECONDS, PROFILE_TTL_SECONDS):
            for rate in rates:
                share = ttl_hit_share(probabilities, rate, ttl)
                rows.append({"s": s, "keys": count, "ttl_s": ttl, "reads_per_s": rate,
                             "reads_per_ttl": round(rate * ttl), "hit_share": round(share, 4),
                             "mean_read_ms": round(share * hit_ms + (1 - share) * miss_ms, 3)})
    return rows


def simulate(instants: Sequence[tuple[float, float]], accounts: Sequence[str],
             ttl: float) -> list[bool]:
    """Hit or miss for each read: a key is cached from the end of the read that missed it
    for ``ttl`` seconds (what the server's EX does)."""
    until: dict[str, float] = {}
    hits = []
    for (start, end), account in zip(instants, accounts, strict=True):
        hit = until.get(account, -math.inf) > start
        if not hit:
            until[account] = end + ttl
        hits.append(hit)
    return hits


def paced_run(table: Any, caches: Caches, count: int, s: float, rate: float, ttl: int,
              seconds: float, seed: int) -> dict[str, Any]:
    """Reads on a Poisson schedule against the real server with a real, short TTL; the
    share of hits against the simulation and the steady state."""
    rng = repeatable(f"paced-{seed}-{s}")
    reads = int(rate * seconds)
    accounts = zipf_draws(zipf_ranking(count, rng), s, reads, rng)
    offsets = list(itertools.accumulate(rng.expovariate(rate) for _ in range(reads)))
    flush(caches.plain)
    cache = Cache(client(caches.plain), BREAKER_SECONDS)
    cache.connection.ping()  # connect before the schedule starts
    instants: list[tuple[float, float]] = []
    hits: list[bool] = []
    lateness = []
    gc.collect()
    origin = time.perf_counter()
    for offset, account in zip(offsets, accounts, strict=True):
        delay = origin + offset - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        start = time.perf_counter()
        lateness.append(max(0.0, -delay))
        read = cache.read(keys.billing_key(account), ttl, loader(table, account))
        instants.append((start - origin, time.perf_counter() - origin))
        check(read.source in ("cache", "store"), f"the paced read of {account} answers")
        hits.append(read.source == "cache")
    cache.connection.close()
    simulated = simulate(instants, accounts, ttl)
    after = next((index for index, (start, _) in enumerate(instants) if start >= ttl),
                 reads - 1)
    steady = ttl_hit_share(zipf_probabilities(count, s), rate, ttl)
    ordered = sorted(lateness)
    result = {
        "s": s, "keys": count, "reads": reads, "rate_per_s": rate, "ttl_s": ttl,
        "reads_per_ttl": round(rate * ttl),
        "equivalent_rate_at_300_s": round(rate * ttl / BILLING_TTL_SECONDS, 2),
        "elapsed_s": round(instants[-1][1], 1),
        "achieved_rate_per_s": round(reads / instants[-1][1], 1),
        "lateness_p50_ms": round(ordered[len(ordered) // 2] * 1e3, 2),
        "lateness_p99_ms": round(ordered[min(reads - 1, int(0.99 * reads))] * 1e3, 2),
        "measured_hit_share": round(sum(hits) / reads, 4),
        "simulated_hit_share": round(sum(simulated) / reads, 4),
        "measured_after_first_ttl": round(sum(hits[after:]) / (reads - after), 4),
        "simulated_after_first_ttl": round(sum(simulated[after:]) / (reads - after), 4),
        "steady_state_model": round(steady, 4),
        "reads_disagreeing_with_simulation": sum(
            1 for real, model in zip(hits, simulated, strict=True) if real != model),
    }
    print(f"  paced s={s}, {rate:g}/s, TTL {ttl} s ({result['reads_per_ttl']:,} reads a window, "
          f"as {result['equivalent_rate_at_300_s']:g}/s at 300 s): measured "
          f"{result['measured_hit_share']:.1%}, simulated {result['simulated_hit_share']:.1%}; "
          f"after the first window {result['measured_after_first_ttl']:.1%} against the steady "
          f"state {steady:.1%}; {result['reads_disagreeing_with_simulation']} reads disagree")
    return result


# ----------------------------------------------------------------------------- outage

class Warnings(logging.Handler):
    """The library's warnings, formatted (as Lambda's log handler would) into ``os.devnull``
    and counted."""

    def __init__(self, sink: TextIO) -> None:
        super().__init__(logging.WARNING)
        self.sink = sink
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        self.count += 1
        self.sink.write(self.format(record) + "\n")


@contextlib.contextmanager
def counted_warnings() -> Iterator[Warnings]:
    """The ``cache_aside`` logger's warnings counted instead of printed, for the block."""
    logger = logging.getLogger("cache_aside")
    with open(os.devnull, "w", encoding="utf-8") as sink:
        handler = Warnings(sink)
        logger.addHandler(handler)
        propagate, logger.propagate = logger.propagate, False
        try:
            yield handler
        finally:
            logger.removeHandler(handler)
            logger.propagate = propagate


@dataclass
class Clock:
    """The breaker's clock: real time plus what the run has moved it on."""

    moved: float = 0.0
    _base: Callable[[], float] = field(default=time.monotonic)

    def __call__(self) -> float:
        return self._base() + self.moved


def outage(table: Any, expected: Mapping[str, dict[str, Any]], server: ValkeyServer,
           accounts: Sequence[str], mode: str, probes: int, skipped: int) -> dict[str, Any]:
    """Reads with the server stopped (``refused``) or frozen (``unresponsive``)."""
    clock = Clock()
    settings = cache_settings(server.port)
    cache = Cache(client(settings), BREAKER_SECONDS, clock=clock)
    check(timed_read(cache, table, accounts[0])[1].source in ("cache", "store"),
          "the cache answers before the outage")
    assert server.process is not None
    if mode == "refused":
        server.stop()
    else:
        server.process.send_signal(signal.SIGSTOP)
    first: list[int] = []
    skipping: list[int] = []
    cycle = itertools.cycle(accounts)
    gc.collect()
    with counted_warnings() as warnings:
        try:
            for _ in range(probes):
                account = next(cycle)
                nanoseconds, read = timed_read(cache, table, account)
                check(read.source == "store-cache-down" and read.value == expected[account],
                      f"{mode}: the read that tries the cache answers from the table")
                check(cache.is_open, f"{mode}: a failed read opens the breaker")
                first.append(nanoseconds)
                for _ in range(skipped):
                    account = next(cycle)
                    nanoseconds, read = timed_read(cache, table, account)
                    check(read.source == "store-cache-down"
                          and read.value == expected[account],
                          f"{mode}: reads while the breaker is open answer from the table")
                    skipping.append(nanoseconds)
                clock.moved += BREAKER_SECONDS + 1
        finally:
            if mode == "refused":
                server.start()
            elif server.process is not None:
                server.process.send_signal(signal.SIGCONT)
        recovered = timed_read(cache, table, accounts[0])[1]
    check(recovered.source in ("cache", "store"), f"{mode}: the cache answers again after")
    check(warnings.count == probes, f"{mode}: one warning per failed attempt, none per skip")
    cache.connection.close()
    return {"mode": mode, "probes": probes, "skipped_per_probe": skipped,
            "first_read": percentiles(first), "breaker_open": percentiles(skipping),
            "warnings_logged": warnings.count, "recovered_source": recovered.source}


# ------------------------------------------------------------------------------- main

def machine(binary: str) -> dict[str, Any]:
    import importlib.metadata

    import moto

    return {"cpu": cpu_model(), "cores": os.cpu_count(), "arch": platform.machine(),
            "python": f"{platform.python_implementation()} {platform.python_version()}",
            "server": server_version(binary), "valkey_client": importlib.metadata.version(
                "valkey"), "boto3": boto3.__version__, "moto": moto.__version__,
            "openssl": ssl.OPENSSL_VERSION,
            "load_average": [round(value, 2) for value in os.getloadavg()]}


def latency_rows(store: str, samples: Mapping[str, list[int]]) -> list[dict[str, Any]]:
    rows = [{"store": store, "path": path, **percentiles(values)}
            for path, values in samples.items()]
    for row in rows:
        print(f"  {store:<22} {row['path']:<10} n={row['n']:>6,}  p50 {row['p50_ms']:7.3f}  "
              f"p95 {row['p95_ms']:7.3f}  p99 {row['p99_ms']:7.3f}  "
              f"mean {row['mean_ms']:7.3f} ms")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=2000,
                        help="timed latency rounds per store")
    parser.add_argument("--warmup", type=int, default=200,
                        help="untimed rounds before them")
    parser.add_argument("--keys", type=int, default=10_000, help="accounts in the table")
    parser.add_argument("--reads", type=int, default=100_000, help="reads per pass of the mix")
    parser.add_argument("--zipf-s", type=float, nargs="+", default=[0.8, 1.0, 1.1, 1.2],
                        help="the mix's exponents")
    parser.add_argument("--rates", type=float, nargs="+", default=[1, 5, 50],
                        help="reads a second, all containers together, for the TTL model")
    parser.add_argument("--paced-s", type=float, default=1.0, help="the paced run's exponent")
    parser.add_argument("--paced-rate", type=float, default=150)
    parser.add_argument("--paced-ttl", type=int, default=10)
    parser.add_argument("--paced-seconds", type=float, default=90,
                        help="length of the paced run (0: none)")
    parser.add_argument("--probes", type=int, default=10,
                        help="reads that try a failed cache, per kind of outage")
    parser.add_argument("--skipped", type=int, default=100,
                        help="reads while the breaker is open, after each probe")
    parser.add_argument("--no-tls", action="store_true", help="no TLS server")
    parser.add_argument("--seed", type=int, default=16)
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args()
    if args.rounds + args.warmup > args.keys:
        parser.error("--rounds plus --warmup must not exceed --keys (each round misses a "
                     "new account)")
    binary = find_binary()
    if binary is None:
        parser.error("no valkey-server or redis-server on PATH")

    started = time.perf_counter()
    document: dict[str, Any] = {
        "recorded": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(binary),
        "settings": {"keys": args.keys, "rounds": args.rounds, "warmup": args.warmup,
                     "reads": args.reads, "zipf_s": args.zipf_s, "seed": args.seed,
                     "billing_ttl_s": BILLING_TTL_SECONDS, "cache_timeout_ms": CACHE_TIMEOUT_MS,
                     "breaker_s": BREAKER_SECONDS, "region": REGION, "tls": not args.no_tls},
        "stores": {
            "moto server": "python -m moto.server in a child process, over HTTP on 127.0.0.1",
            "mock_aws": "moto in this process (no HTTP, no socket)"},
    }
    accounts = [account_id(index) for index in range(args.rounds + args.warmup)]
    with environment(AWS_ENVIRONMENT), tempfile.TemporaryDirectory(prefix="cache-bench-") \
            as folder, contextlib.ExitStack() as stack:
        server = ValkeyServer(binary, free_port(), str(Path(folder) / "plain"))
        Path(server.directory).mkdir()
        server.start()
        stack.callback(server.stop)
        tls: CacheSettings | None = None
        ca_file: Path | None = None
        if not args.no_tls:
            tls_folder = Path(folder) / "tls"
            tls_folder.mkdir()
            tls_port, files = stack.enter_context(tls_server(binary, tls_folder))
            tls, ca_file = cache_settings(tls_port, tls=True), files.ca
        caches = Caches(cache_settings(server.port), tls, ca_file)
        endpoint = stack.enter_context(moto_server())

        print(f"latency, ms ({args.rounds:,} rounds after {args.warmup:,})")
        table = store_table(endpoint)
        expected = fill(table, args.keys, args.seed)
        latency = latency_rows("moto server (HTTP)", latency_rounds(
            table, expected, caches, accounts, args.warmup))
        from moto import mock_aws

        with mock_aws():
            in_process = store_table(None)
            in_process_expected = fill(in_process, len(accounts), args.seed)
            latency += latency_rows("mock_aws (in process)", latency_rounds(
                in_process, in_process_expected, caches, accounts, args.warmup))
        document["latency"] = latency

        print(f"outage ({args.probes} probes, {args.skipped} reads skipping the cache after "
              "each)")
        document["outage"] = []
        for mode in ("refused", "unresponsive"):
            row = outage(table, expected, server, accounts, mode, args.probes, args.skipped)
            document["outage"].append(row)
            print(f"  {mode:<13} first read p50 {row['first_read']['p50_ms']:.3f} ms, "
                  f"max {row['first_read']['max_ms']:.3f}; breaker open p50 "
                  f"{row['breaker_open']['p50_ms']:.3f} ms, p99 "
                  f"{row['breaker_open']['p99_ms']:.3f}")

        print(f"share of reads from the cache ({args.reads:,} reads of {args.keys:,} accounts)")
        document["zipf"] = {"measured": measured_shares(
            table, caches, args.keys, args.zipf_s, args.reads, args.seed)}
        means = {row["path"]: row["mean_ms"] for row in latency
                 if row["store"] == "moto server (HTTP)"}
        document["zipf"]["ttl_model"] = ttl_model(args.keys, args.zipf_s, args.rates,
                                                  means["hit"], means["miss"])
        for row in document["zipf"]["ttl_model"]:
            if row["ttl_s"] == BILLING_TTL_SECONDS:
                print(f"  TTL model s={row['s']}, {row['reads_per_s']:g} reads/s, TTL "
                      f"{row['ttl_s']} s: {row['hit_share']:.1%}, mean read "
                      f"{row['mean_read_ms']:.2f} ms")
        if args.paced_seconds > 0:
            document["zipf"]["paced"] = paced_run(
                table, caches, args.keys, args.paced_s, args.paced_rate, args.paced_ttl,
                args.paced_seconds, args.seed)
    write_results(document, args.output, started)


if __name__ == "__main__":
    main()
