"""The table block: on-demand, PITR, deletion protection, keys, indexes, TTL, streams."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pulumi
import pytest

from components.foundation.table import GlobalIndex, Key, Table, TableArgs
from components.foundation.validation import InvalidArgs
from tests.support import DEV, PROD
from tools.mock_runtime import Resource, StackRun

TABLE = "aws:dynamodb/table:Table"
COMPONENT = "blueprints:foundation:Table"
KEY_ARN = "arn:aws:kms:eu-west-1:111111111111:key/0e4c5a3e-1111-2222-3333-444455556666"

Build = Callable[..., StackRun]


def table(build: Build, args: TableArgs | None = None, defaults: Any = DEV) -> Resource:
    run = build(lambda opts: Table("orders", args or TableArgs(hash_key=Key("pk")), defaults,
                                   opts))
    return run.one(TABLE, "orders-table")


def invalid(build: Build, args: TableArgs) -> InvalidArgs:
    with pytest.raises(InvalidArgs) as raised:
        build(lambda opts: Table("orders", args, DEV, opts))
    return raised.value


def test_defaults_are_on_demand_with_pitr(build: Build) -> None:
    inputs = table(build).inputs
    assert inputs["billingMode"] == "PAY_PER_REQUEST"
    assert "readCapacity" not in inputs
    assert "writeCapacity" not in inputs
    assert inputs["pointInTimeRecovery"] == {"enabled": True}
    assert inputs["hashKey"] == "pk"
    assert "rangeKey" not in inputs
    assert inputs["attributes"] == [{"name": "pk", "type": "S"}]
    # AWS-owned encryption unless a key is given; no TTL, no stream, no replicas.
    assert "serverSideEncryption" not in inputs
    assert "ttl" not in inputs
    assert inputs["streamEnabled"] is False
    assert "streamViewType" not in inputs
    assert "replicas" not in inputs
    assert "globalSecondaryIndexes" not in inputs


def test_dev_is_neither_deletion_protected_nor_protected(build: Build) -> None:
    resource = table(build, defaults=DEV)
    assert resource.inputs["deletionProtectionEnabled"] is False
    assert resource.protect is False


def test_prod_is_deletion_protected_and_protected(build: Build) -> None:
    resource = table(build, defaults=PROD)
    assert resource.inputs["deletionProtectionEnabled"] is True
    assert resource.protect is True


def test_provisioned_capacity_reaches_table_and_indexes(build: Build) -> None:
    args = TableArgs(hash_key=Key("pk"), billing_mode="PROVISIONED", read_capacity=5,
                     write_capacity=3,
                     global_indexes=[GlobalIndex("by-customer", Key("customer"))])
    inputs = table(build, args).inputs
    assert inputs["billingMode"] == "PROVISIONED"
    assert (inputs["readCapacity"], inputs["writeCapacity"]) == (5, 3)
    [index] = inputs["globalSecondaryIndexes"]
    assert (index["readCapacity"], index["writeCapacity"]) == (5, 3)


def test_on_demand_indexes_carry_no_capacity(build: Build) -> None:
    args = TableArgs(hash_key=Key("pk"), global_indexes=[GlobalIndex("by-customer", Key("c"))])
    [index] = table(build, args).inputs["globalSecondaryIndexes"]
    assert "readCapacity" not in index
    assert "writeCapacity" not in index


def test_keys_and_indexes_declare_every_key_attribute_once(build: Build) -> None:
    args = TableArgs(
        hash_key=Key("pk"), range_key=Key("created", "N"),
        global_indexes=[
            GlobalIndex("by-customer", Key("customer"), Key("created", "N")),
            GlobalIndex("by-status", Key("status"), projection="INCLUDE",
                        non_key_attributes=("total", "currency")),
        ])
    inputs = table(build, args).inputs
    assert inputs["rangeKey"] == "created"
    assert inputs["attributes"] == [
        {"name": "created", "type": "N"}, {"name": "customer", "type": "S"},
        {"name": "pk", "type": "S"}, {"name": "status", "type": "S"}]
    assert inputs["globalSecondaryIndexes"] == [
        {"name": "by-customer", "projectionType": "ALL",
         "keySchemas": [{"attributeName": "customer", "keyType": "HASH"},
                        {"attributeName": "created", "keyType": "RANGE"}]},
        {"name": "by-status", "projectionType": "INCLUDE",
         "keySchemas": [{"attributeName": "status", "keyType": "HASH"}],
         "nonKeyAttributes": ["currency", "total"]},
    ]


def test_ttl_and_stream_when_asked(build: Build) -> None:
    args = TableArgs(hash_key=Key("id"), ttl_attribute="expiration", stream="NEW_AND_OLD_IMAGES")
    inputs = table(build, args).inputs
    assert inputs["ttl"] == {"enabled": True, "attributeName": "expiration"}
    assert inputs["streamEnabled"] is True
    assert inputs["streamViewType"] == "NEW_AND_OLD_IMAGES"


def test_customer_key_encrypts_the_table(build: Build) -> None:
    inputs = table(build, TableArgs(hash_key=Key("pk"), kms_key_arn=KEY_ARN)).inputs
    assert inputs["serverSideEncryption"] == {"enabled": True, "kmsKeyArn": KEY_ARN}


def test_turning_pitr_off_warns(build: Build) -> None:
    run = build(lambda opts: Table(
        "orders", TableArgs(hash_key=Key("pk"), point_in_time_recovery=False), DEV, opts))
    assert run.one(TABLE, "orders-table").inputs["pointInTimeRecovery"] == {"enabled": False}
    assert any("point_in_time_recovery" in warning for warning in run.warnings)


def test_pitr_on_does_not_warn(build: Build) -> None:
    run = build(lambda opts: Table("orders", TableArgs(hash_key=Key("pk")), DEV, opts))
    assert not any("secure default" in warning for warning in run.warnings)


def test_replicas_keep_pitr_and_deletion_protection_and_stream_both_images(
        build: Build) -> None:
    args = TableArgs(hash_key=Key("hk"), replica_regions=("us-east-1", "ap-southeast-2"))
    inputs = table(build, args, defaults=PROD).inputs
    assert inputs["replicas"] == [
        {"regionName": region, "pointInTimeRecovery": True, "deletionProtectionEnabled": True,
         "propagateTags": True}
        for region in ("us-east-1", "ap-southeast-2")]
    assert inputs["streamEnabled"] is True
    assert inputs["streamViewType"] == "NEW_AND_OLD_IMAGES"


def test_outputs_expose_table_arn_name_and_stream(build: Build) -> None:
    def program(opts: pulumi.ResourceOptions) -> None:
        built = Table("orders", TableArgs(hash_key=Key("pk"), stream="NEW_IMAGE"), DEV, opts)
        pulumi.export("arn", built.arn)
        pulumi.export("name", built.name)
        pulumi.export("stream_arn", built.stream_arn)

    run = build(program)
    state = run.one(TABLE, "orders-table").state
    assert run.outputs == {"arn": state["arn"], "name": state["name"],
                           "stream_arn": state["streamArn"]}


def test_the_table_is_a_child_of_the_component_on_the_inherited_provider(
        build: Build) -> None:
    run = build(lambda opts: Table("orders", TableArgs(hash_key=Key("pk")), DEV, opts))
    component = run.one(COMPONENT, "orders")
    children = list(run.managed())
    assert [r.name for r in children] == ["orders-table"]
    for child in children:
        assert child.parent == component.urn
        provider = run.provider_of(child)
        assert provider is not None
        assert provider.name == "test-provider"


BASE = TableArgs(hash_key=Key("pk"))


@pytest.mark.parametrize(("args", "named"), [
    (replace(BASE, billing_mode="PROVISIONED"), ["read_capacity", "write_capacity"]),
    (replace(BASE, billing_mode="PROVISIONED", read_capacity=0, write_capacity=1),
     ["read_capacity"]),
    (replace(BASE, read_capacity=5), ["read_capacity"]),
    (replace(BASE, billing_mode="ON_DEMAND"), ["billing_mode"]),  # type: ignore[arg-type]
    (replace(BASE, range_key=Key("pk")), ["range_key"]),
    (replace(BASE, hash_key=Key("")), ["hash_key"]),
    (replace(BASE, hash_key=Key("pk", "BOOL")), ["hash_key"]),  # type: ignore[arg-type]
    (replace(BASE, global_indexes=[GlobalIndex("by-pk", Key("pk", "N"))]),
     ["global_indexes[0].hash_key"]),
    (replace(BASE, global_indexes=[GlobalIndex("by-x", Key("x"), projection="INCLUDE")]),
     ["global_indexes[0].non_key_attributes"]),
    (replace(BASE, global_indexes=[GlobalIndex("by-x", Key("x"), non_key_attributes=["y"])]),
     ["global_indexes[0].non_key_attributes"]),
    (replace(BASE, global_indexes=[GlobalIndex("ix", Key("x"))]), ["global_indexes[0].name"]),
    (replace(BASE, global_indexes=[GlobalIndex("by-x", Key("x")), GlobalIndex("by-x", Key("y"))]),
     ["global_indexes[0].name"]),
    (replace(BASE, global_indexes=[GlobalIndex(f"index-{i}", Key(f"k{i}")) for i in range(21)]),
     ["global_indexes"]),
    (replace(BASE, ttl_attribute=" "), ["ttl_attribute"]),
    (replace(BASE, stream="NEW"), ["stream"]),  # type: ignore[arg-type]
    (replace(BASE, replica_regions=("us-east-1", "us-east-1")), ["replica_regions"]),
    (replace(BASE, replica_regions=("Virginia",)), ["replica_regions"]),
    (replace(BASE, replica_regions=("us-east-1",), stream="KEYS_ONLY"), ["stream"]),
    (replace(BASE, replica_regions=("us-east-1",), kms_key_arn=KEY_ARN), ["kms_key_arn"]),
])
def test_bad_arguments_are_rejected_by_name(build: Build, args: TableArgs,
                                            named: list[str]) -> None:
    error = invalid(build, args)
    assert "Table orders" in str(error)
    for argument in named:
        assert any(problem.startswith(f"{argument}:") for problem in error.problems), \
            error.problems


def test_every_problem_is_reported_at_once(build: Build) -> None:
    error = invalid(build, replace(BASE, billing_mode="PROVISIONED", range_key=Key("pk"),
                                   stream="ALL"))  # type: ignore[arg-type]
    assert [problem.split(":")[0] for problem in error.problems] == [
        "range_key", "read_capacity", "write_capacity", "stream"]

