"""What the handlers' idempotency tests share: the idempotency table as ``IdempotencyStore``
declares it (partition key ``id``, TTL on ``expiration``), its records, a record expired by the
clock, and a duplicate request sent while the first one is still running."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

IDEMPOTENCY_TABLE = "idempotency-records"
HEADER = "Idempotency-Key"


def create_idempotency_table(client: Any, name: str = IDEMPOTENCY_TABLE) -> None:
    """The table as the component declares it: ``id`` (a string), TTL on ``expiration``."""
    client.create_table(TableName=name, BillingMode="PAY_PER_REQUEST",
                        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
                        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}])
    client.update_time_to_live(TableName=name, TimeToLiveSpecification={
        "Enabled": True, "AttributeName": "expiration"})


def records(client: Any, name: str = IDEMPOTENCY_TABLE) -> list[dict[str, Any]]:
    """Every record in the table, as DynamoDB holds it (typed attribute values)."""
    items: list[dict[str, Any]] = client.scan(TableName=name, ConsistentRead=True)["Items"]
    return items


def expire_records(client: Any, name: str = IDEMPOTENCY_TABLE) -> None:
    """Moves every record's ``expiration`` into the past, as time would: DynamoDB's TTL has not
    deleted them yet (it takes up to days), so the handler must see them as expired itself."""
    past = str(int(time.time()) - 1)
    for item in records(client, name):
        client.update_item(TableName=name, Key={"id": item["id"]},
                           UpdateExpression="SET expiration = :past",
                           ExpressionAttributeValues={":past": {"N": past}})


def duplicate_while_running(monkeypatch: pytest.MonkeyPatch, target: Any, attribute: str,
                            duplicate: Callable[[], Any]) -> list[Any]:
    """Makes ``target.<attribute>`` (the creating step, under the idempotency guard) send
    ``duplicate()`` first, once: the duplicate arrives while the first request holds its key,
    as a concurrent twin would. The duplicate's answer is in the returned list."""
    answers: list[Any] = []
    original = getattr(target, attribute)

    def running(*args: Any, **kwargs: Any) -> Any:
        if not answers:
            answers.append(duplicate())
        return original(*args, **kwargs)

    monkeypatch.setattr(target, attribute, running)
    return answers
