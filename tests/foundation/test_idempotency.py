"""The idempotency store: Powertools' table (key, TTL, the environment's key, PITR), the rights
and the environment it hands the one function that uses it, and what it refuses."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pulumi
import pytest
from aws_lambda_powertools import Logger
from blueprints_common import idempotency as handler_side

from components.foundation import idempotency
from components.foundation.function import FUNCTIONS_DIR, Function, FunctionArgs
from components.foundation.idempotency import IdempotencyStore, IdempotencyStoreArgs
from components.foundation.validation import InvalidArgs
from tests.support import DEV, PROD, statements
from tools.mock_runtime import StackRun

TABLE = "aws:dynamodb/table:Table"
KEY_ARN = "arn:aws:kms:eu-west-1:111111111111:key/0e4c5a3e-1111-2222-3333-444455556666"

Build = Callable[..., StackRun]


def store_and_user(build: Build, defaults: Any = DEV, **args: Any) -> StackRun:
    """A store, and a function given its statements and environment as a service does."""

    def program(opts: pulumi.ResourceOptions) -> None:
        store = IdempotencyStore("orders-idempotency",
                                 IdempotencyStoreArgs(kms_key_arn=KEY_ARN, **args), defaults, opts)
        Function("orders", FunctionArgs(code="hello", memory_size=128, timeout=5,
                                        code_root=FUNCTIONS_DIR, statements=store.statements,
                                        environment=store.environment), defaults, opts)

    return build(program)


def test_the_table_is_what_powertools_reads_and_writes(build: Build) -> None:
    run = store_and_user(build)
    table = run.one(TABLE, "orders-idempotency-records-table")
    assert table.inputs["hashKey"] == "id"
    assert table.inputs["attributes"] == [{"name": "id", "type": "S"}]
    assert "rangeKey" not in table.inputs
    assert table.inputs["ttl"] == {"enabled": True, "attributeName": "expiration"}
    assert table.inputs["serverSideEncryption"] == {"enabled": True, "kmsKeyArn": KEY_ARN}
    assert table.inputs["pointInTimeRecovery"] == {"enabled": True}
    assert table.inputs["billingMode"] == "PAY_PER_REQUEST"
    assert table.inputs["deletionProtectionEnabled"] is False
    block = run.one("blueprints:foundation:Table", "orders-idempotency-records")
    assert table.parent == block.urn
    assert block.parent == run.one("blueprints:foundation:IdempotencyStore").urn


def test_prod_protects_the_records(build: Build) -> None:
    table = store_and_user(build, PROD).one(TABLE, "orders-idempotency-records-table")
    assert table.inputs["deletionProtectionEnabled"] is True
    assert table.protect is True


def test_the_function_may_use_this_table_and_the_key_only(build: Build) -> None:
    run = store_and_user(build)
    arn = run.one(TABLE).state["arn"]
    granted = statements(run.one("aws:iam/rolePolicy:RolePolicy", "orders-policy"))
    assert {"Effect": "Allow", "Action": ["dynamodb:DeleteItem", "dynamodb:GetItem",
                                          "dynamodb:PutItem", "dynamodb:UpdateItem"],
            "Resource": arn} in granted
    assert {"Effect": "Allow", "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
            "Resource": KEY_ARN} in granted
    dynamodb = [s for s in granted if any(a.startswith("dynamodb:") for a in s["Action"])]
    assert len(dynamodb) == 1  # no scan, no query, no other table


def test_the_function_is_told_the_table_and_the_records_lifetime(build: Build) -> None:
    run = store_and_user(build, expiry_seconds=3600)
    variables = run.one("aws:lambda/function:Function").inputs["environment"]["variables"]
    assert variables["IDEMPOTENCY_TABLE"] == run.one(TABLE).state["name"]
    assert variables["IDEMPOTENCY_EXPIRY_SECONDS"] == "3600"
    default = store_and_user(build).one("aws:lambda/function:Function")
    assert default.inputs["environment"]["variables"]["IDEMPOTENCY_EXPIRY_SECONDS"] == "86400"


@pytest.mark.parametrize("seconds", [0, 59, 7 * 86400 + 1])
def test_a_lifetime_out_of_range_is_refused(build: Build, seconds: int) -> None:
    with pytest.raises(InvalidArgs) as raised:
        store_and_user(build, expiry_seconds=seconds)
    assert raised.value.problems == [f"expiry_seconds: {seconds} is not from 60 to 604800 "
                                     "(7 days)"]


def test_the_handler_side_reads_what_the_store_hands_over() -> None:
    """The program cannot import handler code: the names are written twice, and must agree."""
    assert (idempotency.TABLE_VARIABLE, idempotency.EXPIRY_VARIABLE) == (
        handler_side.TABLE_VARIABLE, handler_side.EXPIRY_VARIABLE)
    assert (idempotency.DEFAULT_EXPIRY_SECONDS, idempotency.MIN_EXPIRY_SECONDS,
            idempotency.MAX_EXPIRY_SECONDS) == (
        handler_side.DEFAULT_EXPIRY_SECONDS, handler_side.MIN_EXPIRY_SECONDS,
        handler_side.MAX_EXPIRY_SECONDS)
    layer = handler_side.Idempotency(handler_side.IdempotencySettings("t"), client=object(),
                                     logger=Logger(service="idempotency-test"))
    assert (layer.persistence.key_attr, layer.persistence.expiry_attr) == (
        idempotency.KEY_ATTRIBUTE, idempotency.EXPIRY_ATTRIBUTE)
