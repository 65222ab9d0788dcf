"""The microservice cache's handlers against moto (tables, bus) and a real Valkey server:
billing and profile reads hit and miss, a payment's ``payment_processed`` reaches the cache
manager through the rule's pattern and invalidates (or refreshes) the account's summary, a
profile change goes out as ``profile_changed``, and with the server stopped mid-test every read
still answers from DynamoDB."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import boto3  # type: ignore[import-untyped]
import pytest
import valkey
from cache_aside import keys
from moto import mock_aws

from tests import valkey as servers
from tests.functions.cache_support import (
    ACCOUNTS_TABLE,
    BUS,
    PAYMENTS_TABLE,
    PROFILES_TABLE,
    billing_event,
    body,
    bus_event,
    cache_environment,
    create_tables,
    load,
    payment_event,
    profile_event,
    profile_stream_record,
)
from tests.functions.event_management_support import set_aws_environment
from tests.functions.events import REGION, LambdaContext
from tests.functions.idempotency_support import (
    IDEMPOTENCY_TABLE,
    create_idempotency_table,
    duplicate_while_running,
    expire_records,
    records,
)
from tests.valkey import ValkeyServer

valkey_server = servers.valkey_server
cache_server = servers.cache_server
CONTEXT = LambdaContext("cache", 256)
# The cache manager's rule (the component declares the same; its tests check it).
PATTERN = {"source": [keys.PAYMENT_SOURCE, keys.PROFILE_SOURCE],
           "detail-type": [keys.PAYMENT_PROCESSED, keys.PROFILE_CHANGED]}
pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish")


@dataclass
class World:
    server: ValkeyServer
    dynamodb: Any
    captured: str  # the queue the rule's copy of each event goes to

    def functions(self, monkeypatch: pytest.MonkeyPatch, mode: str = "invalidate",
                  ) -> dict[str, ModuleType]:
        environ = cache_environment(self.server, ACCOUNTS_TABLE=ACCOUNTS_TABLE,
                                    PAYMENTS_TABLE=PAYMENTS_TABLE, PROFILES_TABLE=PROFILES_TABLE,
                                    EVENT_BUS_NAME=BUS, CACHE_MODE=mode,
                                    IDEMPOTENCY_TABLE=IDEMPOTENCY_TABLE,
                                    BILLING_TTL_SECONDS="300", PROFILE_TTL_SECONDS="900")
        return {code: load(monkeypatch, code, environ) for code in
                ("cache_billing", "cache_payment", "cache_profile", "cache_manager",
                 "profile_refresher")}

    def rule_events(self) -> list[dict[str, Any]]:
        sqs = boto3.client("sqs", region_name=REGION)
        messages = sqs.receive_message(QueueUrl=self.captured, MaxNumberOfMessages=10,
                                       WaitTimeSeconds=0).get("Messages", [])
        return [json.loads(message["Body"]) for message in messages]

    def cached(self, key: str) -> Any:
        raw = valkey.Valkey(host=self.server.host, port=self.server.port).get(key)
        return None if raw is None else json.loads(raw)

    def ttl(self, key: str) -> int:
        return int(valkey.Valkey(host=self.server.host, port=self.server.port).ttl(key))


@pytest.fixture
def world(cache_server: ValkeyServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    set_aws_environment(monkeypatch)
    with mock_aws():
        client = boto3.client("dynamodb", region_name=REGION)
        create_tables(client)
        create_idempotency_table(client)
        resource = boto3.resource("dynamodb", region_name=REGION)
        resource.Table(ACCOUNTS_TABLE).put_item(Item={
            "accountId": "acct-1", "balance": 1500, "currency": "EUR", "status": "current",
            "loans": [{"loanId": "car-1", "outstanding": 1500}], "internalNote": "never sent"})
        resource.Table(PROFILES_TABLE).put_item(Item={
            "profileId": "prof-1", "name": "Ana", "tier": "gold", "ssn": "never sent"})
        events = boto3.client("events", region_name=REGION)
        events.create_event_bus(Name=BUS)
        sqs = boto3.client("sqs", region_name=REGION)
        queue = sqs.create_queue(QueueName="captured")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])[
            "Attributes"]["QueueArn"]
        events.put_rule(Name="cache-manager", EventBusName=BUS,
                        EventPattern=json.dumps(PATTERN))
        events.put_targets(Rule="cache-manager", EventBusName=BUS,
                           Targets=[{"Id": "manager", "Arn": arn}])
        yield World(cache_server, resource, queue)


def test_billing_misses_then_hits_with_a_ttl(world: World,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    billing = world.functions(monkeypatch)["cache_billing"]

    first = billing.handler(billing_event("acct-1"), CONTEXT)
    second = billing.handler(billing_event("acct-1"), CONTEXT)

    assert first["statusCode"] == second["statusCode"] == 200
    assert (first["headers"]["X-Cache"], second["headers"]["X-Cache"]) == ("MISS", "HIT")
    assert body(first) == body(second) == {
        "accountId": "acct-1", "balance": 1500, "currency": "EUR", "status": "current",
        "loans": [{"loanId": "car-1", "outstanding": 1500}]}
    assert 290 <= world.ttl("billing:acct-1") <= 300


def test_billing_refuses_bad_ids_and_answers_404(world: World,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    billing = world.functions(monkeypatch)["cache_billing"]
    assert billing.handler(billing_event("a*b"), CONTEXT)["statusCode"] == 400
    assert billing.handler(billing_event("nobody"), CONTEXT)["statusCode"] == 404
    assert world.cached("billing:nobody") is None


def test_a_payment_invalidates_the_billing_summary(world: World,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    functions = world.functions(monkeypatch)
    billing, payment, manager = (functions[name] for name in
                                 ("cache_billing", "cache_payment", "cache_manager"))
    billing.handler(billing_event("acct-1"), CONTEXT)
    assert world.cached("billing:acct-1")["balance"] == 1500

    paid = payment.handler(payment_event(
        {"paymentId": "pay-1", "accountId": "acct-1", "amount": 250.5}), CONTEXT)
    assert paid["statusCode"] == 201
    assert body(paid)["amount"] == 250.5
    [event] = world.rule_events()  # the rule's pattern matched it
    assert (event["source"], event["detail-type"]) == (keys.PAYMENT_SOURCE,
                                                       keys.PAYMENT_PROCESSED)
    assert event["detail"] == {"paymentId": "pay-1", "accountId": "acct-1", "amount": 250.5}

    assert manager.handler(event, CONTEXT) == {"key": "billing:acct-1", "action": "invalidated"}
    assert world.cached("billing:acct-1") is None
    again = billing.handler(billing_event("acct-1"), CONTEXT)
    assert again["headers"]["X-Cache"] == "MISS"
    assert body(again)["balance"] == 1249.5


def test_refresh_mode_writes_the_new_summary(world: World,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    functions = world.functions(monkeypatch, mode="refresh")
    functions["cache_billing"].handler(billing_event("acct-1"), CONTEXT)
    functions["cache_payment"].handler(payment_event(
        {"paymentId": "pay-2", "accountId": "acct-1", "amount": 500}), CONTEXT)
    [event] = world.rule_events()

    assert functions["cache_manager"].handler(event, CONTEXT)["action"] == "refreshed"
    assert world.cached("billing:acct-1")["balance"] == 1000
    assert 290 <= world.ttl("billing:acct-1") <= 300


def test_bad_payments_are_refused(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    payment = world.functions(monkeypatch)["cache_payment"]
    good = {"paymentId": "pay-3", "accountId": "acct-1", "amount": "10.00"}
    assert payment.handler(payment_event({**good, "paymentId": "pay-4",
                                          "accountId": "nobody"}), CONTEXT)["statusCode"] == 404
    for bad in ({**good, "amount": -1}, {**good, "amount": 0.001}, {**good, "amount": True},
                {**good, "extra": 1}, "not json", {**good, "accountId": "a:b"}):
        assert payment.handler(payment_event(bad), CONTEXT)["statusCode"] == 400, bad


def test_the_manager_rejects_events_that_name_no_object(
        world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    manager = world.functions(monkeypatch)["cache_manager"]
    for event in (bus_event(keys.PAYMENT_SOURCE, keys.PAYMENT_PROCESSED, {"accountId": "*"}),
                  bus_event(keys.PAYMENT_SOURCE, keys.PROFILE_CHANGED, {"profileId": "p"}),
                  bus_event("elsewhere", keys.PAYMENT_PROCESSED, {"accountId": "a"}),
                  bus_event(keys.PROFILE_SOURCE, keys.PROFILE_CHANGED, "p")):
        assert set(manager.handler(event, CONTEXT)) == {"rejected"}


def test_the_manager_raises_when_the_cache_is_down(world: World,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    manager = world.functions(monkeypatch)["cache_manager"]
    world.server.stop()
    from cache_aside.cache import CacheUnavailableError

    with pytest.raises(CacheUnavailableError):  # Lambda retries, then the failure queue
        manager.handler(bus_event(keys.PAYMENT_SOURCE, keys.PAYMENT_PROCESSED,
                                  {"accountId": "acct-1"}), CONTEXT)


def test_a_profile_change_is_published_and_drops_the_cached_profile(
        world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    functions = world.functions(monkeypatch)
    profile, refresher, manager = (functions[name] for name in
                                   ("cache_profile", "profile_refresher", "cache_manager"))
    first = profile.handler(profile_event("prof-1"), CONTEXT)
    assert first["headers"]["X-Cache"] == "MISS"
    assert body(first) == {"profileId": "prof-1", "name": "Ana", "tier": "gold"}
    assert profile.handler(profile_event("prof-1"), CONTEXT)["headers"]["X-Cache"] == "HIT"

    answer = refresher.handler({"Records": [profile_stream_record("prof-1", sequence=1)]},
                               CONTEXT)
    assert answer == {"batchItemFailures": []}
    [event] = world.rule_events()
    assert event["detail"] == {"profileId": "prof-1", "change": "MODIFY"}
    manager.handler(event, CONTEXT)
    assert world.cached("profile:prof-1") is None


def test_a_record_that_is_not_a_profiles_fails_alone(world: World,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    refresher = world.functions(monkeypatch)["profile_refresher"]
    bad = profile_stream_record("a:b", sequence=2)
    answer = refresher.handler({"Records": [profile_stream_record("prof-1", sequence=1), bad]},
                               CONTEXT)
    assert answer == {"batchItemFailures": [{"itemIdentifier": bad["dynamodb"][
        "SequenceNumber"]}]}


def test_reads_keep_answering_from_dynamodb_when_the_cache_stops(
        world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    functions = world.functions(monkeypatch)
    billing, profile = functions["cache_billing"], functions["cache_profile"]
    assert billing.handler(billing_event("acct-1"), CONTEXT)["headers"]["X-Cache"] == "MISS"
    assert billing.handler(billing_event("acct-1"), CONTEXT)["headers"]["X-Cache"] == "HIT"

    world.server.stop()
    answers = [billing.handler(billing_event("acct-1"), CONTEXT) for _ in range(3)]
    answers.append(profile.handler(profile_event("prof-1"), CONTEXT))

    assert [answer["statusCode"] for answer in answers] == [200] * 4
    assert {answer["headers"]["X-Cache"] for answer in answers} == {"BYPASS"}
    assert body(answers[0])["balance"] == 1500
    assert body(answers[-1])["name"] == "Ana"
    paid = functions["cache_payment"].handler(payment_event(
        {"paymentId": "pay-9", "accountId": "acct-1", "amount": 1}), CONTEXT)
    assert paid["statusCode"] == 201  # a payment never needs the cache


# --- idempotent payments -----------------------------------------------------------------------

PAYMENT = {"paymentId": "pay-10", "accountId": "acct-1", "amount": "10.00"}


def balance(world: World) -> Any:
    return world.dynamodb.Table(ACCOUNTS_TABLE).get_item(Key={"accountId": "acct-1"})["Item"][
        "balance"]


def payments(world: World) -> int:
    return int(world.dynamodb.Table(PAYMENTS_TABLE).scan()["Count"])


def idempotency_client() -> Any:
    return boto3.client("dynamodb", region_name=REGION)


def test_a_retried_payment_gets_its_first_receipt_and_charges_once(
        world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    payment = world.functions(monkeypatch)["cache_payment"]

    first = payment.handler(payment_event(PAYMENT), CONTEXT)
    again = payment.handler(payment_event(PAYMENT), CONTEXT)

    assert first["statusCode"] == again["statusCode"] == 201
    assert body(again) == body(first)  # processedAt included: the first answer
    assert payments(world) == 1
    assert balance(world) == 1490
    assert len(world.rule_events()) == 1  # one payment_processed
    [record] = records(idempotency_client())
    assert record["id"]["S"].startswith("payment#")
    assert "pay-10" not in record["id"]["S"]  # hashed, with the caller's account


def test_a_payment_id_reused_for_another_amount_is_a_422(world: World,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    payment = world.functions(monkeypatch)["cache_payment"]
    payment.handler(payment_event(PAYMENT), CONTEXT)

    answer = payment.handler(payment_event({**PAYMENT, "amount": "99.00"}), CONTEXT)

    assert answer["statusCode"] == 422
    assert answer["headers"]["Content-Type"] == "application/json"
    assert body(answer) == {"statusCode": 422,
                            "message": "This paymentId was already used with another request"}
    assert (payments(world), balance(world)) == (1, 1490)


def test_a_payment_duplicate_while_the_first_runs_is_a_409(
        world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    payment = world.functions(monkeypatch)["cache_payment"]
    duplicates = duplicate_while_running(
        monkeypatch, payment, "process_payment",
        lambda: payment.handler(payment_event(PAYMENT), CONTEXT))

    first = payment.handler(payment_event(PAYMENT), CONTEXT)

    [duplicate] = duplicates
    assert (first["statusCode"], duplicate["statusCode"]) == (201, 409)
    assert duplicate["headers"]["Retry-After"] == "1"
    assert body(duplicate)["message"] == ("A request with this paymentId is still in progress; "
                                          "retry later")
    assert (payments(world), balance(world), len(world.rule_events())) == (1, 1490, 1)


def test_after_its_record_expires_a_replay_is_refused_by_the_payments_table(
        world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    """The record expired: the payment runs again, and the transaction's condition (the
    payment id exists) refuses the second charge."""
    payment = world.functions(monkeypatch)["cache_payment"]
    payment.handler(payment_event(PAYMENT), CONTEXT)
    expire_records(idempotency_client())

    again = payment.handler(payment_event(PAYMENT), CONTEXT)

    assert again["statusCode"] == 409
    assert body(again)["message"] == "This paymentId has already been used"
    assert (payments(world), balance(world), len(world.rule_events())) == (1, 1490, 1)
    assert records(idempotency_client()) == []  # a refusal is not stored


def test_another_aws_account_never_gets_the_receipt(world: World,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    payment = world.functions(monkeypatch)["cache_payment"]
    payment.handler(payment_event(PAYMENT), CONTEXT)
    elsewhere = payment_event(PAYMENT)
    elsewhere["requestContext"]["authorizer"]["iam"]["accountId"] = "222222222222"

    answer = payment.handler(elsewhere, CONTEXT)

    assert answer["statusCode"] == 409
    assert (payments(world), balance(world)) == (1, 1490)


def test_a_refused_payment_leaves_its_id_free(world: World,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    payment = world.functions(monkeypatch)["cache_payment"]
    unknown = {**PAYMENT, "accountId": "nobody"}
    assert payment.handler(payment_event(unknown), CONTEXT)["statusCode"] == 404
    assert records(idempotency_client()) == []

    assert payment.handler(payment_event(PAYMENT), CONTEXT)["statusCode"] == 201


def test_the_idempotency_table_failing_is_a_503_and_charges_nothing(
        world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    payment = world.functions(monkeypatch)["cache_payment"]
    idempotency_client().delete_table(TableName=IDEMPOTENCY_TABLE)

    answer = payment.handler(payment_event(PAYMENT), CONTEXT)

    assert answer["statusCode"] == 503
    assert answer["headers"]["Retry-After"] == "2"
    assert body(answer)["statusCode"] == 503
    assert (payments(world), balance(world), world.rule_events()) == (0, 1500, [])
