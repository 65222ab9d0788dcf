"""VPCs and security groups: flow logs, and no ingress from anywhere."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator, Mapping
from typing import Any

from pulumi_policy import Policy

from .core import (
    MANDATORY,
    UNKNOWN,
    Config,
    Props,
    Stack,
    Subject,
    is_unknown,
    resource_rule,
    stack_rule,
)

VPC = "aws:ec2/vpc:Vpc"
DEFAULT_VPC = "aws:ec2/defaultVpc:DefaultVpc"
FLOW_LOG = "aws:ec2/flowLog:FlowLog"
SECURITY_GROUP = "aws:ec2/securityGroup:SecurityGroup"
DEFAULT_SECURITY_GROUP = "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup"
SECURITY_GROUP_RULE = "aws:ec2/securityGroupRule:SecurityGroupRule"
INGRESS_RULE = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"

# IP protocols that have ports, by the names and numbers security groups accept.
_PORT_PROTOCOLS = {"tcp": "tcp", "6": "tcp", "udp": "udp", "17": "udp"}
_ALL_PROTOCOLS = ("-1", "all")
_LAST_PORT = 65535


@stack_rule(
    "vpc-flow-logs",
    description="Every VPC has a flow log (an aws.ec2.FlowLog whose vpcId is the VPC's).",
    anchors=("AwsSolutions-VPC7",),
    level=MANDATORY,
)
def vpc_flow_logs(stack: Stack, config: Config) -> Iterator[tuple[Subject | None, str]]:
    """Flow logs are the only record of which addresses a workload talked to: without them an
    incident in the network cannot be investigated, and a blocked call cannot be explained.

    A VPC (aws.ec2.Vpc, or the managed aws.ec2.DefaultVpc) has a flow log when an
    aws.ec2.FlowLog's vpcId was computed from it. Flow logs on subnets or network interfaces
    only cover part of the VPC and do not count.

    Mandatory: cdk-nag registers AwsSolutions-VPC7 at ERROR.
    """
    for vpc in stack.of_type(VPC, DEFAULT_VPC):
        if not stack.referencing(vpc, FLOW_LOG, prop="vpcId"):
            yield vpc, ("no flow log captures this VPC; add an aws.ec2.FlowLog with vpcId set to "
                        "this VPC's id and trafficType ALL")


# --- security groups ---------------------------------------------------------------------------

def _anywhere(cidr: Any) -> bool:
    """Whether a known CIDR block is every address (0.0.0.0/0, ::/0, or any other /0)."""
    if not isinstance(cidr, str) or is_unknown(cidr):
        return False
    try:
        return ipaddress.ip_network(cidr.strip(), strict=False).prefixlen == 0
    except ValueError:
        return False


def _port(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != int(value):
        return None
    return int(value)


def _opening(protocol: Any, from_port: Any, to_port: Any, allowed: set[int]) -> Any:
    """What an ingress from anywhere opens that ``allowed`` does not cover, in words (``None``
    when every port it opens is allowed, ``UNKNOWN`` when that is not known yet)."""
    if is_unknown(protocol):
        return UNKNOWN
    name = str(protocol).strip().lower() if isinstance(protocol, (str, int)) else ""
    if name in _ALL_PROTOCOLS:
        return "every protocol and port"
    if name not in _PORT_PROTOCOLS:
        return f"protocol {name or 'not set'}"
    if is_unknown(from_port) or is_unknown(to_port):
        return UNKNOWN
    first, last = _port(from_port), _port(to_port)
    if first is None or last is None or first < 0 or last > _LAST_PORT or first > last:
        first, last = 0, _LAST_PORT  # AWS would refuse it; read it as the widest range
    ports = f"port {first}" if first == last else f"ports {first}-{last}"
    if last - first + 1 <= len(allowed) and all(p in allowed for p in range(first, last + 1)):
        return None
    return f"{_PORT_PROTOCOLS[name]} {ports}"


def _open_sources(props: Props, *names: str) -> list[str]:
    """The known CIDR blocks that are anywhere, among ``props``'s ``names`` (each a list of
    blocks or a single one)."""
    found = []
    for name in names:
        value = props.get(name)
        for cidr in [value] if isinstance(value, str) else props.items(name):
            if _anywhere(cidr):
                found.append(cidr.strip())
    return found


def _allowed_ports(config: Config) -> set[int]:
    ports = config.get("allowedPublicPorts")
    if not isinstance(ports, list):
        return set()
    return {p for p in (_port(v) for v in ports) if p is not None}


def _message(where: str, sources: list[str], opening: str, allowed: set[int]) -> str:
    fix = ("narrow the source to the networks that need it (a managed prefix list, the VPC's "
           "CIDR, another security group)")
    if opening.startswith(("tcp", "udp")):
        listed = ", ".join(str(p) for p in sorted(allowed)) or "none"
        fix += (", or, for a port that must face the internet, list it in allowedPublicPorts "
                f"(now: {listed})")
    return f"{where}lets {' and '.join(sources)} in on {opening}; {fix}"


@resource_rule(
    "security-group-no-public-ingress",
    description="Security groups take no ingress from anywhere (0.0.0.0/0 or ::/0), except on the "
                "TCP or UDP ports listed in allowedPublicPorts (none by default).",
    anchors=("AwsSolutions-EC23", "SecurityHub-EC2.18", "SecurityHub-EC2.19",
             "SecurityHub-EC2.53", "SecurityHub-EC2.54"),
    level=MANDATORY,
    types={SECURITY_GROUP, DEFAULT_SECURITY_GROUP, SECURITY_GROUP_RULE, INGRESS_RULE},
    config={"allowedPublicPorts": {
        "type": "array", "items": {"type": "integer", "minimum": 0, "maximum": _LAST_PORT},
        "default": [],
        "description": "TCP and UDP ports that may take ingress from 0.0.0.0/0 or ::/0, such as "
                       "[443] for a stack with an internet-facing load balancer. Every other "
                       "port, every other protocol and 'all' (-1) stay refused.",
    }},
)
def security_group_no_public_ingress(subject: Subject, config: Config) -> Iterator[str]:
    """An ingress from anywhere exposes whatever listens on the port to every scanner on the
    internet: administration ports (SSH, RDP), databases and caches, and services that were
    only meant for the VPC. In a serverless stack the internet comes in through API Gateway,
    CloudFront or a load balancer; nothing else needs a port open to the world.

    Ingress is read where pulumi-aws v7 declares it: the inline ``ingress`` blocks of
    aws.ec2.SecurityGroup and aws.ec2.DefaultSecurityGroup (cidrBlocks, ipv6CidrBlocks),
    aws.ec2.SecurityGroupRule of type ingress (cidrBlocks, ipv6CidrBlocks), and
    aws.vpc.SecurityGroupIngressRule (cidrIpv4, cidrIpv6). Any /0 block counts as anywhere.
    Prefix lists and security group references are never anywhere. A port range is allowed
    only when every port in it is in ``allowedPublicPorts``; the protocol -1 (all) is never
    allowed, nor are protocols without ports (ICMP). Values not known yet are not judged.

    Every port counts by default, as in cdk-nag's AwsSolutions-EC23, which flags any 0.0.0.0/0
    or ::/0 inbound rule. ``allowedPublicPorts`` mirrors the authorized ports of Security Hub's
    EC2.18 (whose own default is 80 and 443); the high-risk and administration ports of EC2.19,
    EC2.53 and EC2.54 (SSH 22, RDP 3389, databases) are refused unless someone lists them.

    Mandatory: cdk-nag registers AwsSolutions-EC23 at ERROR.
    """
    allowed = _allowed_ports(config)
    props = subject.props
    if subject.type in (SECURITY_GROUP, DEFAULT_SECURITY_GROUP):
        for index, entry in enumerate(props.items("ingress")):
            view = Props(entry)
            if not isinstance(view.raw(), Mapping):
                continue
            sources = _open_sources(view, "cidrBlocks", "ipv6CidrBlocks")
            opening = _opening(view.get("protocol"), view.get("fromPort"), view.get("toPort"),
                               allowed) if sources else None
            if opening:
                yield _message(f"ingress[{index}] ", sources, opening, allowed)
        return
    if subject.type == SECURITY_GROUP_RULE:
        kind = props.get("type")
        if kind != "ingress":
            return
        sources = _open_sources(props, "cidrBlocks", "ipv6CidrBlocks")
        protocol = props.get("protocol")
    else:
        sources = _open_sources(props, "cidrIpv4", "cidrIpv6")
        protocol = props.get("ipProtocol")
    opening = _opening(protocol, props.get("fromPort"), props.get("toPort"), allowed) \
        if sources else None
    if opening:
        yield _message("", sources, opening, allowed)


POLICIES: list[Policy] = [vpc_flow_logs, security_group_no_public_ingress]
