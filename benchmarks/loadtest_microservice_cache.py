"""The load-test kit against local mode's microserviceCache: steady and burst profiles on its
three routes, their latency percentiles and throughput, the 429s, the throttle check, and the
share of reads the cache served.

    venv/bin/python -m benchmarks.loadtest_microservice_cache [--duration 10] [--settle 3]

Local mode serves the dev stack's microserviceCache alone (``LocalStack("dev",
services=["microserviceCache"])``, free ports, in this process): its HTTP API with IAM
authorization on every route, the stage's throttle (``throttlingRateLimit`` and
``throttlingBurstLimit``, 50/s and a burst of 100 in ``Pulumi.dev.yaml``, one bucket per route),
the functions in their workers, moto for DynamoDB and EventBridge, and a real Valkey-protocol
server for the cache. Every request is SigV4-signed with the embedded AWS's administrator
(``Auth("sigv4")``), as ``python -m loadtest --sigv4`` signs. The scenarios
(``benchmarks.loadtest_scenarios``, shared with queryKeyApi's benchmark):

- ``GET /billing/{accountId}`` of one seeded account, within the stage's rate, at twice it, and
  a burst of twice the stage's burst: after the warm-up the summary is cached, so reads are
  hits (one GET on the cache server); ``X-Cache`` would say ``HIT``.
- ``GET /profiles/{profileId}`` of one seeded profile, within the rate and in a burst.
- ``POST /payments`` in a small burst within the stage's, then in one of twice it: each
  request has its own ``paymentId`` (the kit's ``{uuid}``, a new UUID per request), because a
  payment is idempotent by its id and one fixed body would measure replays. They debit one
  account seeded with a large balance, one unit each. Past the burst, the throttle check's
  burst part stays unexercised: it counts the first second's admissions by answer time, and a
  hundred admitted payments queue for seconds in local mode's one execution environment, by
  when the bucket could have admitted 100 + 50/s times those seconds, more than were sent. Its
  rate part is exercised and holds, and 429s come in the first second (checked).

Checked, beyond the shared checks (each throttle check passes or is not exercised, 429s past
the limits and none within, the function ran exactly once per admitted request): every
admitted payment was a new one (201, never a replay or a 409/422), the account's balance fell
by exactly one unit per 201 (the warm-up's included), the payments table grew by as many, and
the cache manager received exactly one ``payment_processed`` per payment.

The cache's share is read from the server (``INFO stats``: ``keyspace_hits`` and
``keyspace_misses`` before and after each scenario, the warm-up's read included) rather than
from the answers' ``X-Cache`` headers, which the kit does not keep: each read is one GET, a hit
answered ``HIT`` and a miss ``MISS``; reads that skipped the cache (``BYPASS``, after a cache
failure) would be admitted reads that the server did not count. Results:
``results/loadtest_microservice_cache.json``.

Times are local mode's on this machine: one execution environment per function (so
invocations queue), handlers on this machine's Python, moto for DynamoDB and EventBridge, no
TLS to the cache and no network. They rank scenarios and show the throttles at work; they are
not Lambda's, API Gateway's or ElastiCache's latencies.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

from benchmarks.loadtest_scenarios import (
    Observer,
    Scenario,
    arguments,
    check,
    run_benchmark,
)
from loadtest.kit import Auth, Call, Report
from loadtest.profiles import Profile, ProfileKind
from tools.local.stack import LocalStack

RESULTS = Path(__file__).resolve().parent / "results" / "loadtest_microservice_cache.json"
SERVICE = "microserviceCache"
API = "microserviceCache-api"
CACHE = "microserviceCache-cache"
BILLING = "microserviceCache-billing-function"
PROFILE = "microserviceCache-profile-function"
PAYMENT = "microserviceCache-payment-function"
MANAGER = "microserviceCache-manager-function"
READ_ACCOUNT = "acct-loadtest-reads"
PAY_ACCOUNT = "acct-loadtest-payments"
PROFILE_ID = "prof-loadtest"
BALANCE = 1_000_000_000  # a unit per payment: never short
AMOUNT = 1
EVENTS_WAIT_S = 60.0
SIGV4 = Auth("sigv4")
GET_BILLING = Call("GET", f"/billing/{READ_ACCOUNT}")
GET_PROFILE = Call("GET", f"/profiles/{PROFILE_ID}")
POST_PAYMENT = Call("POST", "/payments", body=json.dumps(
    {"paymentId": "{uuid}", "accountId": PAY_ACCOUNT, "amount": AMOUNT}))


def scenarios(duration: float) -> list[Scenario]:
    steady, burst = ProfileKind.STEADY, ProfileKind.BURST
    return [
        Scenario("billing, within the rate", GET_BILLING, Profile(steady, 40, duration),
                 False, SIGV4, BILLING),
        Scenario("billing, twice the rate", GET_BILLING, Profile(steady, 100, duration),
                 True, SIGV4, BILLING),
        Scenario("billing, burst", GET_BILLING, Profile(burst, 50, duration, burst=200),
                 True, SIGV4, BILLING),
        Scenario("profiles, within the rate", GET_PROFILE, Profile(steady, 40, duration),
                 False, SIGV4, PROFILE),
        Scenario("profiles, burst", GET_PROFILE, Profile(burst, 50, duration, burst=200),
                 True, SIGV4, PROFILE),
        Scenario("payments, small burst", POST_PAYMENT, Profile(burst, 5, duration, burst=20),
                 False, SIGV4, PAYMENT),
        Scenario("payments, past the burst", POST_PAYMENT,
                 Profile(burst, 10, duration, burst=200), True, SIGV4, PAYMENT),
    ]


def eventually(condition: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.25)
    return True


class Service:
    """The running service's tables, cache server and function counts."""

    def __init__(self, stack: LocalStack) -> None:
        assert stack.aws is not None
        assert stack.run is not None
        assert stack.lambdas is not None
        assert stack.caches is not None
        self.stack = stack
        self.dynamodb = stack.aws.client("dynamodb")
        self.outputs: dict[str, Any] = stack.run.outputs[SERVICE]
        self.cache = stack.caches.cache(CACHE)
        self.invoked = stack.lambdas.invoked

    def seed(self) -> None:
        for account in (READ_ACCOUNT, PAY_ACCOUNT):
            self.dynamodb.put_item(TableName=self.outputs["accountsTableName"], Item={
                "accountId": {"S": account}, "balance": {"N": str(BALANCE)},
                "currency": {"S": "EUR"}, "status": {"S": "active"},
                "loans": {"L": [{"M": {"loanId": {"S": "car"},
                                       "outstanding": {"N": "4200"}}}]},
                "updatedAt": {"S": "2026-12-01T09:00:00Z"}})
        self.put_profile("2026-12-01T09:00:00Z")

    def put_profile(self, updated_at: str) -> None:
        self.dynamodb.put_item(TableName=self.outputs["profilesTableName"], Item={
            "profileId": {"S": PROFILE_ID}, "name": {"S": "Ada"}, "tier": {"S": "gold"},
            "preferences": {"M": {"language": {"S": "en"}}}, "updatedAt": {"S": updated_at}})

    def settle_profile(self) -> float | None:
        """Writes the profile until its change has gone through the table's stream, the
        refresher and ``profile_changed`` to the cache manager, so that the change neither drops
        the cached profile during a load nor counts among the payments' events; the seconds it
        took (``None``: not within ``EVENTS_WAIT_S``). The stream's poller takes its ``LATEST``
        position some seconds after local mode has started: a write before then is not
        delivered, hence the writes again."""
        started = time.monotonic()
        while time.monotonic() - started < EVENTS_WAIT_S:
            self.put_profile(f"{time.time():.3f}")
            if eventually(lambda: self.invoked[MANAGER] >= 1, 5.0):
                settled = round(time.monotonic() - started, 1)
                time.sleep(3.0)  # a change written before might still be on its way
                return settled
        return None

    def server(self) -> dict[str, Any]:
        with self.cache.admin() as admin:
            info = admin.info("server")
        name = "valkey" if "valkey_version" in info else "redis"
        return {"server": name, "version": info.get(f"{name}_version")}

    def keyspace(self) -> tuple[int, int]:
        with self.cache.admin() as admin:
            stats = admin.info("stats")
        return int(stats["keyspace_hits"]), int(stats["keyspace_misses"])

    def balance(self) -> Decimal:
        item = self.dynamodb.get_item(TableName=self.outputs["accountsTableName"],
                                      Key={"accountId": {"S": PAY_ACCOUNT}},
                                      ConsistentRead=True)["Item"]
        return Decimal(item["balance"]["N"])

    def payments(self) -> int:
        count, start = 0, None
        while True:
            page = self.dynamodb.scan(TableName=self.outputs["paymentsTableName"],
                                      Select="COUNT", **({"ExclusiveStartKey": start}
                                                         if start else {}))
            count += int(page["Count"])
            start = page.get("LastEvaluatedKey")
            if not start:
                return count

    def observe(self, scenario: Scenario) -> Callable[[Report], dict[str, Any]]:
        if scenario.function == PAYMENT:
            return self._observe_payments(scenario)
        hits, misses = self.keyspace()

        def after(report: Report) -> dict[str, Any]:
            now_hits, now_misses = self.keyspace()
            read_hits, read_misses = now_hits - hits, now_misses - misses
            answered = report.summary.statuses.get("200", 0) + sum(
                1 for status in report.warmup if status == 200)
            check(report.warmup == [200] and set(report.summary.statuses) <= {"200", "429"},
                  f"{scenario.name}: reads answered 200 (or 429): {report.summary.statuses}")
            return {"cache": {
                "keyspace_hits": read_hits, "keyspace_misses": read_misses,
                "reads_answered_200": answered,
                "not_through_cache": answered - read_hits - read_misses,
                "hit_share": round(read_hits / answered, 4) if answered else None}}

        return after

    def _observe_payments(self, scenario: Scenario) -> Callable[[Report], dict[str, Any]]:
        balance, recorded, events = self.balance(), self.payments(), self.invoked[MANAGER]

        def after(report: Report) -> dict[str, Any]:
            statuses = report.summary.statuses
            created = statuses.get("201", 0) + sum(1 for s in report.warmup if s == 201)
            check(set(statuses) <= {"201", "429"} and report.warmup == [201],
                  f"payments: every admitted payment created (201), none a replay: {statuses}")
            if scenario.past_limits:
                check(bool(report.seconds) and report.seconds[0].throttled_429 > 0,
                      f"{scenario.name}: 429s in the first second")
            debited = balance - self.balance()
            grew = self.payments() - recorded
            check(debited == created * AMOUNT and grew == created,
                  f"payments: {created} created, the balance fell by {debited}, the table "
                  f"grew by {grew}")
            delivered = eventually(lambda: self.invoked[MANAGER] - events >= created,
                                   EVENTS_WAIT_S)
            managed = self.invoked[MANAGER] - events
            check(delivered and managed == created,
                  f"payments: {managed} payment_processed handled for {created} payments")
            return {"payments": {"created_201": created, "balance_debited": float(debited),
                                 "payments_table_grew": grew,
                                 "cache_manager_invocations": managed}}

        return after


def prepare(stack: LocalStack, document: dict[str, Any]) -> Observer:
    service = Service(stack)
    service.seed()
    document["profile_change_delivered_s"] = service.settle_profile()
    document["cache_server"] = service.server()
    document["seeded"] = {"accounts": {READ_ACCOUNT: BALANCE, PAY_ACCOUNT: BALANCE},
                          "profiles": [PROFILE_ID], "payment_amount": AMOUNT}
    return service.observe


def main() -> None:
    run_benchmark(SERVICE, API, scenarios, arguments(__doc__.split("\n\n")[0], RESULTS),
                  prepare=prepare)


if __name__ == "__main__":
    main()
