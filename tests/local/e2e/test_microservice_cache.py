"""microserviceCache in local mode, as its callers meet it: SigV4-signed reads of billing
summaries and profiles, cache-aside in a real Valkey server that holds the plan's users; a
payment whose ``payment_processed`` event goes through the bus's rule to the cache manager,
which drops the stale summary; a profile changed in its table, whose stream record the
refresher publishes as ``profile_changed``; and the cache stopped while reads keep answering
from DynamoDB. The outage test runs last: the functions then skip the cache for
``breakerSeconds``."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
import valkey

from tests.local.e2e.support import Answer, call, eventually, run_walk_through, service_outputs
from tools.local.caches import LocalCache
from tools.local.stack import LocalStack

SERVICE = "microserviceCache"
API = "microserviceCache-api"
CACHE = "microserviceCache-cache"
BILLING_TTL_SECONDS = 300  # Pulumi.dev.yaml


def outputs(stack: LocalStack) -> dict[str, Any]:
    return service_outputs(stack, SERVICE)


def cache(stack: LocalStack) -> LocalCache:
    assert stack.caches is not None
    return stack.caches.cache(CACHE)


def get(stack: LocalStack, path: str) -> Answer:
    assert stack.started is not None
    assert stack.aws is not None
    return call("GET", f"{stack.started.url(API)}{path}", signed_by=stack.aws.credentials)


def put_account(stack: LocalStack, account_id: str, balance: int) -> None:
    assert stack.aws is not None
    stack.aws.client("dynamodb").put_item(TableName=outputs(stack)["accountsTableName"], Item={
        "accountId": {"S": account_id}, "balance": {"N": str(balance)},
        "currency": {"S": "EUR"}, "status": {"S": "active"},
        "loans": {"L": [{"M": {"loanId": {"S": "car"}, "outstanding": {"N": "4200"}}}]},
        "updatedAt": {"S": "2026-12-01T09:00:00Z"}})


def put_profile(stack: LocalStack, profile_id: str, tier: str) -> None:
    assert stack.aws is not None
    stack.aws.client("dynamodb").put_item(TableName=outputs(stack)["profilesTableName"], Item={
        "profileId": {"S": profile_id}, "name": {"S": "Ada"}, "tier": {"S": tier},
        "preferences": {"M": {"language": {"S": "en"}}},
        "updatedAt": {"S": "2026-12-01T09:00:00Z"}})


def fresh_id(kind: str) -> str:
    return f"{kind}-{uuid.uuid4().hex[:12]}"


def test_billing_reads_miss_then_hit_and_are_cached_with_the_stacks_ttl(
        local_dev: LocalStack) -> None:
    account = fresh_id("acct")
    put_account(local_dev, account, 1000)

    first, second = get(local_dev, f"/billing/{account}"), get(local_dev, f"/billing/{account}")

    assert (first.status, first.header("X-Cache")) == (200, "MISS"), first.body
    assert (second.status, second.header("X-Cache")) == (200, "HIT"), second.body
    assert first.json() == second.json()
    assert second.json()["balance"] == 1000
    with cache(local_dev).admin() as admin:
        assert 0 < admin.ttl(f"billing:{account}") <= BILLING_TTL_SECONDS


def test_unsigned_reads_and_bad_ids_are_refused(local_dev: LocalStack) -> None:
    assert local_dev.started is not None
    unsigned = call("GET", f"{local_dev.started.url(API)}/billing/anything")
    bad = get(local_dev, "/billing/not*an*id")
    missing = get(local_dev, f"/billing/{fresh_id('acct')}")

    assert unsigned.status == 403
    assert bad.status == 400
    assert "message" in bad.json()
    assert missing.status == 404


def test_the_cache_holds_the_plans_users_and_their_access_strings(
        local_dev: LocalStack) -> None:
    server = cache(local_dev).server
    assert server is not None
    anonymous = valkey.Valkey(host=server.host, port=server.port)
    functions_user = valkey.Valkey(host=server.host, port=server.port,
                                   username=outputs(local_dev)["cacheUserId"],
                                   password="any IAM token")
    try:
        with pytest.raises(valkey.AuthenticationError):
            anonymous.get("billing:x")
        functions_user.set("billing:probe", "1", ex=5)
        with pytest.raises(valkey.exceptions.NoPermissionError):
            functions_user.set("other:probe", "1", ex=5)  # outside ~billing:* ~profile:*
        with pytest.raises(valkey.exceptions.NoPermissionError):
            functions_user.flushall()  # a dangerous command
    finally:
        anonymous.close()
        functions_user.close()


def test_a_payment_invalidates_the_billing_summary_through_the_bus(
        local_dev: LocalStack) -> None:
    assert local_dev.started is not None
    assert local_dev.aws is not None
    account = fresh_id("acct")
    put_account(local_dev, account, 1000)
    assert get(local_dev, f"/billing/{account}").header("X-Cache") == "MISS"
    assert get(local_dev, f"/billing/{account}").header("X-Cache") == "HIT"

    payment = {"paymentId": str(uuid.uuid4()), "accountId": account, "amount": 250}
    paid = call("POST", f"{local_dev.started.url(API)}/payments", body=payment,
                headers={"Idempotency-Key": payment["paymentId"]},
                signed_by=local_dev.aws.credentials)

    assert paid.status == 201, paid.body
    assert paid.json()["amount"] == 250
    with cache(local_dev).admin() as admin:
        assert eventually(lambda: not admin.exists(f"billing:{account}"), timeout=30)
    after = get(local_dev, f"/billing/{account}")
    assert (after.header("X-Cache"), after.json()["balance"]) == ("MISS", 750)


def test_a_profile_change_in_the_table_drops_the_cached_profile(local_dev: LocalStack) -> None:
    profile = fresh_id("prof")
    put_profile(local_dev, profile, "silver")
    assert get(local_dev, f"/profiles/{profile}").header("X-Cache") == "MISS"
    assert get(local_dev, f"/profiles/{profile}").json()["tier"] == "silver"

    # Straight to the table, as another service would: the stream carries the change.
    put_profile(local_dev, profile, "gold")

    with cache(local_dev).admin() as admin:
        assert eventually(lambda: not admin.exists(f"profile:{profile}"), timeout=60)
    after = get(local_dev, f"/profiles/{profile}")
    assert (after.header("X-Cache"), after.json()["tier"]) == ("MISS", "gold")


def test_the_readme_walk_through_runs_as_written(local_dev: LocalStack, tmp_path: Path) -> None:
    done = run_walk_through(local_dev, SERVICE, tmp_path)

    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.splitlines() == ["X-Cache: MISS", "X-Cache: HIT",
                                        '{"accountId":"acct-1","amount":250}', '{"balance":750}']


def test_reads_keep_answering_from_dynamodb_while_the_cache_is_down(
        local_dev: LocalStack) -> None:
    account = fresh_id("acct")
    put_account(local_dev, account, 500)
    stopped = cache(local_dev)
    stopped.stop()
    try:
        reads = [get(local_dev, f"/billing/{account}") for _ in range(3)]
    finally:
        stopped.start()

    assert [(read.status, read.header("X-Cache")) for read in reads] == [(200, "BYPASS")] * 3
    assert {read.json()["balance"] for read in reads} == {500}
