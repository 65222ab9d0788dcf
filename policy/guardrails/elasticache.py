"""ElastiCache: in a VPC, encrypted, authenticated, Multi-AZ in prod."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from pulumi_policy import Policy

from .core import MANDATORY, Config, Subject, as_list, is_unknown, resource_rule

REPLICATION_GROUP = "aws:elasticache/replicationGroup:ReplicationGroup"
CACHE_CLUSTER = "aws:elasticache/cluster:Cluster"


def _state(value: object) -> str:
    return "false" if value is False else "not set"


def _in_vpc(cache: Subject) -> Iterator[str]:
    subnet_group = cache.props.get("subnetGroupName")
    if not is_unknown(subnet_group) and not subnet_group:
        yield ("subnetGroupName is not set, so the cache lands in the default VPC; create an "
               "aws.elasticache.SubnetGroup over your private subnets and set subnetGroupName")


def _is_prod(cache: Subject, config: Config) -> bool | None:
    """Whether the resource's ``environment`` tag names a production environment; ``None``
    while its tags are not known."""
    tags = cache.tags()
    if is_unknown(tags) or not isinstance(tags, Mapping):
        return None
    environment = tags.get("environment")
    if is_unknown(environment):
        return None
    return environment in as_list(config.get("prodEnvironments"))


def _replication_group(group: Subject, config: Config) -> Iterator[str]:
    yield from _in_vpc(group)
    props = group.props

    engine = props.get("engine")
    at_rest = props.get("atRestEncryptionEnabled")
    # pulumi-aws turns encryption at rest on by default for valkey only.
    default_at_rest = engine == "valkey" or is_unknown(engine)
    if not is_unknown(at_rest) and not (at_rest is True or (at_rest is None and default_at_rest)):
        state = "false" if at_rest is False else f"not set (off by default for {engine or 'redis'})"
        yield f"atRestEncryptionEnabled is {state}; set it to true"

    in_transit = props.get("transitEncryptionEnabled")
    if not is_unknown(in_transit) and in_transit is not True:
        yield f"transitEncryptionEnabled is {_state(in_transit)}; set it to true"
    elif props.get("transitEncryptionMode") == "preferred":
        yield ("transitEncryptionMode is preferred, which still accepts plaintext clients; set it "
               "to required once clients use TLS")

    credentials = [props.get(key) for key in ("authToken", "authTokenWo", "userGroupIds")]
    if not any(is_unknown(value) or value for value in credentials):
        yield ("no AUTH: set authToken (from a secret) or userGroupIds (RBAC users), with "
               "transit encryption on")

    if _is_prod(group, config):
        multi_az = props.get("multiAzEnabled")
        if not is_unknown(multi_az) and multi_az is not True:
            yield (f"multiAzEnabled is {_state(multi_az)} in a production environment; set it "
                   "to true, with at least one replica")
        failover = props.get("automaticFailoverEnabled")
        if not is_unknown(failover) and failover is not True:
            yield (f"automaticFailoverEnabled is {_state(failover)} in a production "
                   "environment; set it to true")


def _cache_cluster(cluster: Subject) -> Iterator[str]:
    props = cluster.props
    member_of = props.get("replicationGroupId")
    if is_unknown(member_of) or member_of:
        return  # A replica takes its network and encryption settings from its group.
    yield from _in_vpc(cluster)
    engine = props.get("engine")
    if engine in ("redis", "valkey"):
        yield (f"a standalone {engine} cache cluster can neither encrypt data at rest nor require "
               "AUTH; use an aws.elasticache.ReplicationGroup (even of one node) instead")
    elif engine == "memcached":
        in_transit = props.get("transitEncryptionEnabled")
        if not is_unknown(in_transit) and in_transit is not True:
            yield (f"transitEncryptionEnabled is {_state(in_transit)}; set it to true (memcached "
                   "1.6.12 or later)")


@resource_rule(
    "elasticache-secure",
    description="ElastiCache runs in a VPC, encrypted at rest and in transit, behind AUTH, and "
                "Multi-AZ with automatic failover in production environments.",
    anchors=("AwsSolutions-AEC1", "AwsSolutions-AEC3", "AwsSolutions-AEC4", "AwsSolutions-AEC6"),
    level=MANDATORY,
    types={REPLICATION_GROUP, CACHE_CLUSTER},
    config={"prodEnvironments": {
        "type": "array", "items": {"type": "string"}, "default": ["prod"],
        "description": "Values of the environment tag that mark production, where Multi-AZ "
                       "with automatic failover is required.",
    }},
)
def elasticache_secure(cache: Subject, config: Config) -> Iterator[str]:
    """A cache holds copies of application data and often sessions; it must be as closed as the
    database behind it, and in production survive the loss of a zone.

    Mandatory: cdk-nag registers AwsSolutions-AEC1, AEC3, AEC4 and AEC6 at ERROR. AEC5 (a
    non-default port) is left out: it hides nothing from a scan inside the VPC.
    """
    if cache.type == REPLICATION_GROUP:
        yield from _replication_group(cache, config)
    else:
        yield from _cache_cluster(cache)


POLICIES: list[Policy] = [elasticache_secure]
