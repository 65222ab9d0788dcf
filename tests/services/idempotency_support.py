"""The check every service with idempotent routes passes under mocks: its idempotency table
(``IdempotencyStore``) as Powertools needs it, and the one function that may use it."""

from __future__ import annotations

import json
from typing import Any

from components.foundation.idempotency import DEFAULT_EXPIRY_SECONDS
from tests.support import statements
from tools.mock_runtime import StackRun

TABLE = "aws:dynamodb/table:Table"
FUNCTION = "aws:lambda/function:Function"
POLICY = "aws:iam/rolePolicy:RolePolicy"


def check_idempotency_store(run: StackRun, service: str, function: str, key: str, *,
                            expiry: int = DEFAULT_EXPIRY_SECONDS) -> dict[str, Any]:
    """Asserts that ``service`` has its idempotency table (key ``id``, TTL on ``expiration``,
    encrypted with ``key``, PITR, on demand), that function block ``<service>-<function>``
    gets its name and ``expiry`` in the environment and exactly the four item actions on it
    (and the key's use), and that no other role names it; the table's inputs."""
    table = run.one(TABLE, f"{service}-idempotency-records-table")
    inputs: dict[str, Any] = table.inputs
    assert inputs["hashKey"] == "id"
    assert "rangeKey" not in inputs
    assert inputs["attributes"] == [{"name": "id", "type": "S"}]
    assert inputs["ttl"] == {"enabled": True, "attributeName": "expiration"}
    assert inputs["serverSideEncryption"] == {"enabled": True, "kmsKeyArn": key}
    assert inputs["pointInTimeRecovery"] == {"enabled": True}
    assert inputs["billingMode"] == "PAY_PER_REQUEST"
    assert "globalSecondaryIndexes" not in inputs

    variables = run.one(FUNCTION, f"{service}-{function}-function").inputs["environment"][
        "variables"]
    assert variables["IDEMPOTENCY_TABLE"] == table.state["name"]
    assert variables["IDEMPOTENCY_EXPIRY_SECONDS"] == str(expiry)

    arn = table.state["arn"]
    role_policy = f"{service}-{function}-policy"
    granted = statements(run.one(POLICY, role_policy))
    naming = [statement for statement in granted if arn in json.dumps(statement["Resource"])]
    assert naming == [{"Effect": "Allow", "Action": ["dynamodb:DeleteItem", "dynamodb:GetItem",
                                                     "dynamodb:PutItem", "dynamodb:UpdateItem"],
                       "Resource": arn}]
    assert {"Effect": "Allow", "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
            "Resource": key} in granted
    others = [policy.name for policy in run.of_type(POLICY)
              if policy.name != role_policy and arn in json.dumps(statements(policy))]
    assert others == []
    return inputs
