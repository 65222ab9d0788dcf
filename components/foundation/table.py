"""A DynamoDB table with the project's secure defaults.

Default settings:

| Setting                | Default                                                           |
|------------------------|-------------------------------------------------------------------|
| Billing                | On demand (``PAY_PER_REQUEST``); ``PROVISIONED`` needs capacities |
| Point-in-time recovery | On (turning it off logs a warning)                                |
| Encryption at rest     | AWS-owned key; the customer-managed ``kms_key_arn`` when set      |
| Deletion protection    | From the stage (``Defaults.deletion_protection``: on in prod)     |
| Pulumi ``protect``     | From the stage (``Defaults.protect``: on in prod)                 |
| Time to live           | Off; on for ``ttl_attribute`` when given                          |
| Stream                 | Off; on with the chosen view type when ``stream`` is given        |
| Global table replicas  | None; each replica gets PITR and deletion protection as above     |
| Tags                   | The provider's default tags only                                  |

The table is auto-named (``<name>-table-<random>``), so a replacement never collides with the old
table; consumers read the name from ``Table.name``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, get_args

import pulumi
import pulumi_aws as aws

from components.config import Defaults
from components.foundation.validation import require_valid, warn_override

AttributeType = Literal["S", "N", "B"]
BillingMode = Literal["PAY_PER_REQUEST", "PROVISIONED"]
StreamViewType = Literal["NEW_IMAGE", "OLD_IMAGE", "NEW_AND_OLD_IMAGES", "KEYS_ONLY"]
Projection = Literal["ALL", "KEYS_ONLY", "INCLUDE"]

MAX_GLOBAL_INDEXES = 20
INDEX_NAME = re.compile(r"^[A-Za-z0-9_.-]{3,255}$")
REGION = re.compile(r"^[a-z]{2}(-gov)?-[a-z]+-\d$")


@dataclass(frozen=True)
class Key:
    """A key attribute: its name and DynamoDB scalar type (S string, N number, B binary)."""

    name: str
    type: AttributeType = "S"


@dataclass(frozen=True)
class GlobalIndex:
    """A global secondary index. In ``PROVISIONED`` mode it takes the table's capacities."""

    name: str
    hash_key: Key
    range_key: Key | None = None
    projection: Projection = "ALL"
    non_key_attributes: Sequence[str] = ()


@dataclass(frozen=True)
class TableArgs:
    """What a table holds and how it is billed; everything but the hash key has a default."""

    hash_key: Key
    range_key: Key | None = None
    billing_mode: BillingMode = "PAY_PER_REQUEST"
    read_capacity: int | None = None
    write_capacity: int | None = None
    global_indexes: Sequence[GlobalIndex] = ()
    point_in_time_recovery: bool = True
    ttl_attribute: str | None = None
    stream: StreamViewType | None = None
    replica_regions: Sequence[str] = ()
    kms_key_arn: pulumi.Input[str] | None = None


class Table(pulumi.ComponentResource):
    """A DynamoDB table; see the module docstring for its defaults.

    ``stream_arn`` is only meaningful when ``stream`` is set (or replicas turn the stream on).
    """

    table: aws.dynamodb.Table
    arn: pulumi.Output[str]
    name: pulumi.Output[str]
    stream_arn: pulumi.Output[str]

    def __init__(self, name: str, args: TableArgs, defaults: Defaults,
                 opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("blueprints:foundation:Table", name, None, opts)
        require_valid(f"Table {name}", _problems(args))
        attributes: list[aws.dynamodb.TableAttributeArgsDict] = [
            {"name": attribute, "type": kind}
            for attribute, kind in sorted(_attribute_types(args).items())]
        if not args.point_in_time_recovery:
            warn_override(self, "point_in_time_recovery=False",
                          "Without PITR a bad write or delete cannot be rolled back.")

        provisioned = args.billing_mode == "PROVISIONED"
        # Global tables need the new and old images; the view type is checked in _problems.
        stream = args.stream or ("NEW_AND_OLD_IMAGES" if args.replica_regions else None)
        replicas: list[aws.dynamodb.TableReplicaArgsDict] = [
            {"region_name": region,
             "point_in_time_recovery": args.point_in_time_recovery,
             "deletion_protection_enabled": defaults.deletion_protection,
             "propagate_tags": True}
            for region in args.replica_regions]

        self.table = aws.dynamodb.Table(
            f"{name}-table",
            billing_mode=args.billing_mode,
            read_capacity=args.read_capacity if provisioned else None,
            write_capacity=args.write_capacity if provisioned else None,
            hash_key=args.hash_key.name,
            range_key=args.range_key.name if args.range_key else None,
            attributes=attributes,
            global_secondary_indexes=[
                _index(index, args if provisioned else None) for index in args.global_indexes
            ] or None,
            point_in_time_recovery={"enabled": args.point_in_time_recovery},
            server_side_encryption=(
                {"enabled": True, "kms_key_arn": args.kms_key_arn} if args.kms_key_arn else None),
            ttl=({"enabled": True, "attribute_name": args.ttl_attribute}
                 if args.ttl_attribute else None),
            stream_enabled=stream is not None,
            stream_view_type=stream,
            replicas=replicas or None,
            deletion_protection_enabled=defaults.deletion_protection,
            opts=pulumi.ResourceOptions(parent=self, protect=defaults.protect),
        )
        self.arn = self.table.arn
        self.name = self.table.name
        self.stream_arn = self.table.stream_arn
        self.register_outputs({"arn": self.arn, "name": self.name, "stream_arn": self.stream_arn})


def _index(index: GlobalIndex,
           provisioned: TableArgs | None) -> aws.dynamodb.TableGlobalSecondaryIndexArgsDict:
    keys: list[aws.dynamodb.TableGlobalSecondaryIndexKeySchemaArgsDict] = [
        {"attribute_name": index.hash_key.name, "key_type": "HASH"}]
    if index.range_key:
        keys.append({"attribute_name": index.range_key.name, "key_type": "RANGE"})
    body: aws.dynamodb.TableGlobalSecondaryIndexArgsDict = {
        "name": index.name,
        "key_schemas": keys,
        "projection_type": index.projection,
    }
    if index.projection == "INCLUDE":
        body["non_key_attributes"] = sorted(index.non_key_attributes)
    if provisioned is not None:
        body["read_capacity"] = provisioned.read_capacity
        body["write_capacity"] = provisioned.write_capacity
    return body


def _keys(args: TableArgs) -> list[tuple[str, Key]]:
    """Every key the table and its indexes declare, with the argument that declares it."""
    keys = [("hash_key", args.hash_key)]
    if args.range_key:
        keys.append(("range_key", args.range_key))
    for i, index in enumerate(args.global_indexes):
        keys.append((f"global_indexes[{i}].hash_key", index.hash_key))
        if index.range_key:
            keys.append((f"global_indexes[{i}].range_key", index.range_key))
    return keys


def _attribute_types(args: TableArgs) -> dict[str, str]:
    return {key.name: key.type for _, key in _keys(args)}


def _problems(args: TableArgs) -> list[str]:
    problems: list[str] = []
    seen: dict[str, tuple[str, str]] = {}
    for where, key in _keys(args):
        if not key.name or len(key.name) > 255:
            problems.append(f"{where}: the attribute name must be 1 to 255 characters")
        if key.type not in get_args(AttributeType):
            problems.append(f"{where}: type {key.type!r} is not allowed; use one of S, N, B")
        if key.name in seen and seen[key.name][1] != key.type:
            first, kind = seen[key.name]
            problems.append(f"{where}: attribute {key.name!r} is type {key.type}, but {first} "
                            f"declares it as {kind}")
        seen.setdefault(key.name, (where, key.type))
    if args.range_key and args.range_key.name == args.hash_key.name:
        problems.append("range_key: must differ from hash_key")

    if args.billing_mode not in get_args(BillingMode):
        problems.append(f"billing_mode: {args.billing_mode!r} is not allowed; use "
                        "PAY_PER_REQUEST or PROVISIONED")
    for field, value in (("read_capacity", args.read_capacity),
                         ("write_capacity", args.write_capacity)):
        if args.billing_mode == "PROVISIONED" and (value is None or value < 1):
            problems.append(f"{field}: billing_mode PROVISIONED needs a capacity of at least 1")
        elif args.billing_mode != "PROVISIONED" and value is not None:
            problems.append(f"{field}: only applies with billing_mode PROVISIONED")

    if len(args.global_indexes) > MAX_GLOBAL_INDEXES:
        problems.append(f"global_indexes: {len(args.global_indexes)} given, DynamoDB allows "
                        f"{MAX_GLOBAL_INDEXES}")
    names = [index.name for index in args.global_indexes]
    for i, index in enumerate(args.global_indexes):
        where = f"global_indexes[{i}]"
        if not INDEX_NAME.match(index.name):
            problems.append(f"{where}.name: {index.name!r} must be 3 to 255 letters, digits, "
                            "'_', '-' or '.'")
        if names.count(index.name) > 1 and names.index(index.name) == i:
            problems.append(f"{where}.name: {index.name!r} is used by more than one index")
        if index.range_key and index.range_key.name == index.hash_key.name:
            problems.append(f"{where}.range_key: must differ from its hash_key")
        if index.projection not in get_args(Projection):
            problems.append(f"{where}.projection: {index.projection!r} is not allowed; use "
                            "ALL, KEYS_ONLY or INCLUDE")
        elif (index.projection == "INCLUDE") != bool(index.non_key_attributes):
            problems.append(f"{where}.non_key_attributes: required with projection INCLUDE, "
                            "and only then")

    if args.ttl_attribute is not None and not args.ttl_attribute.strip():
        problems.append("ttl_attribute: must name an attribute, or be None for no TTL")
    if args.stream is not None and args.stream not in get_args(StreamViewType):
        problems.append(f"stream: {args.stream!r} is not a view type; use one of "
                        f"{', '.join(get_args(StreamViewType))}")

    for region in args.replica_regions:
        if not REGION.match(region):
            problems.append(f"replica_regions: {region!r} is not an AWS region name")
    if len(set(args.replica_regions)) != len(args.replica_regions):
        problems.append("replica_regions: a region is listed twice")
    if args.replica_regions and args.stream not in (None, "NEW_AND_OLD_IMAGES"):
        problems.append(f"stream: replicas need NEW_AND_OLD_IMAGES, not {args.stream}")
    if args.replica_regions and args.kms_key_arn is not None:
        problems.append("kms_key_arn: a customer-managed key is regional and cannot serve the "
                        "replicas; use the AWS-owned key for a global table")
    return problems
