"""The idempotency store: the table where Powertools' idempotency utility keeps a record of
each request that creates something, and what a function needs to use it.

A service builds one store and hands its ``statements`` and ``environment`` to the function
that creates things; the handler side is ``functions/blueprints_common/idempotency.py``, which
reads that environment and answers retries from the records.

Default settings:

| Setting                | Default                                                           |
|------------------------|-------------------------------------------------------------------|
| Table                  | ``Table``: on demand, point-in-time recovery, deletion protection |
|                        | and ``protect`` from the stage                                     |
| Partition key          | ``id`` (a string): Powertools' ``key_attr``                        |
| Time to live           | on, on ``expiration`` (Powertools' ``expiry_attr``, epoch seconds) |
| Encryption at rest     | the customer-managed ``kms_key_arn`` (the environment's key)      |
| Record lifetime        | ``expiry_seconds``: 24 hours, from 60 seconds to 7 days            |
| Function's rights      | ``dynamodb:GetItem``, ``PutItem``, ``UpdateItem``, ``DeleteItem``   |
|                        | on this table only; ``kms:Decrypt`` and ``kms:GenerateDataKey`` on |
|                        | the key                                                            |
| Function's environment | ``IDEMPOTENCY_TABLE`` (the table's name) and                       |
|                        | ``IDEMPOTENCY_EXPIRY_SECONDS``                                     |

DynamoDB deletes expired records within a few days of their ``expiration``; until then
Powertools reads the attribute itself and treats an expired record as absent, so the lifetime
is exact. A record holds a hash of the key and of the request, the state (in progress or
done) and the first answer's data, which is why the table takes the environment's key.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pulumi

from components.config import Defaults
from components.foundation import iam
from components.foundation.table import Key, Table, TableArgs
from components.foundation.validation import require_valid

# Powertools' DynamoDBPersistenceLayer defaults, which the handler side keeps.
KEY_ATTRIBUTE = "id"
EXPIRY_ATTRIBUTE = "expiration"
# What the function reads (blueprints_common.idempotency, which the program cannot import).
TABLE_VARIABLE = "IDEMPOTENCY_TABLE"
EXPIRY_VARIABLE = "IDEMPOTENCY_EXPIRY_SECONDS"
DEFAULT_EXPIRY_SECONDS = 24 * 60 * 60
MIN_EXPIRY_SECONDS = 60
MAX_EXPIRY_SECONDS = 7 * 24 * 60 * 60
# Powertools reads a record (GetItem), claims a key (PutItem, conditional), stores the answer
# (UpdateItem) and drops the claim of a request that failed (DeleteItem).
TABLE_ACTIONS = ("dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem",
                 "dynamodb:DeleteItem")
KEY_ACTIONS = ("kms:Decrypt", "kms:GenerateDataKey")


@dataclass(frozen=True)
class IdempotencyStoreArgs:
    """The key the records are encrypted with, and how long a record answers retries."""

    kms_key_arn: pulumi.Input[str]
    expiry_seconds: int = DEFAULT_EXPIRY_SECONDS


class IdempotencyStore(pulumi.ComponentResource):
    """The idempotency table; ``statements`` and ``environment`` are for the function that
    uses it (see the module docstring)."""

    table: Table
    arn: pulumi.Output[str]
    name: pulumi.Output[str]
    statements: tuple[iam.Statement, ...]
    environment: Mapping[str, pulumi.Input[str]]

    def __init__(self, name: str, args: IdempotencyStoreArgs, defaults: Defaults,
                 opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("blueprints:foundation:IdempotencyStore", name, None, opts)
        require_valid(f"IdempotencyStore {name}", [
            None if MIN_EXPIRY_SECONDS <= args.expiry_seconds <= MAX_EXPIRY_SECONDS else
            f"expiry_seconds: {args.expiry_seconds} is not from {MIN_EXPIRY_SECONDS} to "
            f"{MAX_EXPIRY_SECONDS} (7 days)"])
        self.table = Table(f"{name}-records", TableArgs(
            hash_key=Key(KEY_ATTRIBUTE), ttl_attribute=EXPIRY_ATTRIBUTE,
            kms_key_arn=args.kms_key_arn), defaults, pulumi.ResourceOptions(parent=self))
        self.arn = self.table.arn
        self.name = self.table.name
        self.statements = (iam.allow(TABLE_ACTIONS, self.table.arn),
                           iam.allow(KEY_ACTIONS, args.kms_key_arn))
        self.environment = {TABLE_VARIABLE: self.table.name,
                            EXPIRY_VARIABLE: str(args.expiry_seconds)}
        self.register_outputs({"arn": self.arn, "name": self.name})
