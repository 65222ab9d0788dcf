"""DynamoDB and DAX: point-in-time recovery and encryption."""

from __future__ import annotations

from collections.abc import Iterator

from pulumi_policy import Policy

from .core import ADVISORY, MANDATORY, Config, Props, Subject, is_unknown, resource_rule

TABLE = "aws:dynamodb/table:Table"
TABLE_REPLICA = "aws:dynamodb/tableReplica:TableReplica"
DAX_CLUSTER = "aws:dax/cluster:Cluster"


def _state(value: object) -> str:
    return "false" if value is False else "not set"


@resource_rule(
    "dynamodb-pitr",
    description="DynamoDB tables, and every replica of a global table, have point-in-time "
                "recovery on.",
    anchors=("AwsSolutions-DDB3",),
    level=ADVISORY,
    types={TABLE, TABLE_REPLICA},
)
def dynamodb_pitr(table: Subject, config: Config) -> Iterator[str]:
    """Without PITR a bad write or delete cannot be rolled back.

    Advisory: cdk-nag registers AwsSolutions-DDB3 at WARN, and no error-level or critical anchor
    asks for it.
    """
    if table.type == TABLE_REPLICA:
        enabled = table.props.get("pointInTimeRecovery")
        if not is_unknown(enabled) and enabled is not True:
            yield f"pointInTimeRecovery is {_state(enabled)}; set it to true"
        return

    enabled = table.props.get("pointInTimeRecovery", "enabled")
    if not is_unknown(enabled) and enabled is not True:
        yield f"pointInTimeRecovery.enabled is {_state(enabled)}; set it to true"
    for index, replica in enumerate(table.props.items("replicas")):
        replica_props = Props(replica)
        enabled = replica_props.get("pointInTimeRecovery")
        if is_unknown(enabled) or enabled is True:
            continue
        region = replica_props.get("regionName")
        where = f" ({region})" if isinstance(region, str) else ""
        yield f"replicas[{index}].pointInTimeRecovery{where} is {_state(enabled)}; set it to true"


@resource_rule(
    "dax-encrypted",
    description="DAX clusters encrypt data at rest (serverSideEncryption) and their endpoint "
                "traffic (clusterEndpointEncryptionType TLS).",
    anchors=("AwsSolutions-DDB4",),
    level=MANDATORY,
    types={DAX_CLUSTER},
)
def dax_encrypted(cluster: Subject, config: Config) -> Iterator[str]:
    """A DAX cluster caches table items; unencrypted, they sit and travel in the clear.

    Mandatory: cdk-nag registers AwsSolutions-DDB4 at ERROR.
    """
    enabled = cluster.props.get("serverSideEncryption", "enabled")
    if not is_unknown(enabled) and enabled is not True:
        yield f"serverSideEncryption.enabled is {_state(enabled)}; set it to true"
    endpoint = cluster.props.get("clusterEndpointEncryptionType")
    if not is_unknown(endpoint) and endpoint != "TLS":
        yield (f"clusterEndpointEncryptionType is {endpoint or 'not set (NONE)'}; set it to TLS "
               "(it can only be set when the cluster is created)")


POLICIES: list[Policy] = [dynamodb_pitr, dax_encrypted]
