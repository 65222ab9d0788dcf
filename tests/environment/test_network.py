"""The environment's network, as the engine would receive it: subnets, NAT, routes, flow logs,
gateway endpoints and security groups."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable

import pytest

from components.config import Defaults, EnvironmentSettings
from components.environment import Environment, EnvironmentArgs
from components.foundation.validation import InvalidArgs
from tests.support import ACCOUNT, DEV, PROD, REGION, statements
from tools.mock_runtime import StackRun

Build = Callable[..., StackRun]

SUBNET = "aws:ec2/subnet:Subnet"
NAT = "aws:ec2/natGateway:NatGateway"
EIP = "aws:ec2/eip:Eip"
ROUTE = "aws:ec2/route:Route"
ROUTE_TABLE = "aws:ec2/routeTable:RouteTable"
ASSOCIATION = "aws:ec2/routeTableAssociation:RouteTableAssociation"
VPC = "aws:ec2/vpc:Vpc"
IGW = "aws:ec2/internetGateway:InternetGateway"
FLOW_LOG = "aws:ec2/flowLog:FlowLog"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
ENDPOINT = "aws:ec2/vpcEndpoint:VpcEndpoint"
KEY = "aws:kms/key:Key"
SECURITY_GROUP = "aws:ec2/securityGroup:SecurityGroup"
DEFAULT_SG = "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup"
INGRESS = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
EGRESS = "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule"


def settings(zones: int = 2, nat_gateways: int | None = 1) -> EnvironmentSettings:
    return EnvironmentSettings(vpc_cidr=ipaddress.IPv4Network("10.20.0.0/16"),
                               availability_zones=zones, nat_gateways=nat_gateways)


def environment(build: Build, defaults: Defaults = DEV, **kwargs: int | None) -> StackRun:
    return build(lambda opts: Environment(defaults.stage, EnvironmentArgs(settings(**kwargs)),
                                          defaults, opts))


@pytest.fixture
def dev(build: Build) -> StackRun:
    return environment(build)


@pytest.fixture
def prod(build: Build) -> StackRun:
    return environment(build, PROD, nat_gateways=2)


def test_vpc_resolves_dns_names(dev: StackRun) -> None:
    vpc = dev.one(VPC, "dev-network-vpc")
    assert vpc.inputs["cidrBlock"] == "10.20.0.0/16"
    assert vpc.inputs["enableDnsSupport"] is True
    assert vpc.inputs["enableDnsHostnames"] is True


def test_one_public_and_one_private_subnet_per_zone(dev: StackRun) -> None:
    vpc = dev.one(VPC)
    found = {s.name: (s.inputs["cidrBlock"], s.inputs["availabilityZone"], s.inputs["vpcId"])
             for s in dev.of_type(SUBNET)}
    assert found == {
        "dev-network-public-0": ("10.20.0.0/20", "eu-west-1a", vpc.id),
        "dev-network-public-1": ("10.20.16.0/20", "eu-west-1b", vpc.id),
        "dev-network-private-0": ("10.20.32.0/20", "eu-west-1a", vpc.id),
        "dev-network-private-1": ("10.20.48.0/20", "eu-west-1b", vpc.id),
    }


def test_no_subnet_gives_instances_public_addresses(prod: StackRun) -> None:
    subnets = prod.of_type(SUBNET)
    assert len(subnets) == 4
    assert all(s.inputs["mapPublicIpOnLaunch"] is False for s in subnets)


def test_dev_shares_one_nat_gateway(dev: StackRun) -> None:
    nat = dev.one(NAT)
    assert nat.inputs["subnetId"] == dev.one(SUBNET, "dev-network-public-0").id
    assert nat.inputs["allocationId"] == dev.one(EIP).id
    assert dev.one(EIP).inputs["domain"] == "vpc"
    routes = {r.inputs["routeTableId"]: r.inputs.get("natGatewayId") for r in dev.of_type(ROUTE)
              if "natGatewayId" in r.inputs}
    assert routes == {dev.one(ROUTE_TABLE, f"dev-network-private-{i}").id: nat.id
                      for i in range(2)}


def test_prod_has_a_nat_gateway_per_zone_in_its_public_subnet(prod: StackRun) -> None:
    nats = {n.name: n for n in prod.of_type(NAT)}
    assert sorted(nats) == ["prod-network-nat-0", "prod-network-nat-1"]
    assert len(prod.of_type(EIP)) == 2
    for i in range(2):
        nat = nats[f"prod-network-nat-{i}"]
        assert nat.inputs["subnetId"] == prod.one(SUBNET, f"prod-network-public-{i}").id
        route = prod.one(ROUTE, f"prod-network-private-{i}-nat")
        assert route.inputs["routeTableId"] == prod.one(ROUTE_TABLE, f"prod-network-private-{i}").id
        assert route.inputs["destinationCidrBlock"] == "0.0.0.0/0"
        assert route.inputs["natGatewayId"] == nat.id


def test_nat_gateways_are_shared_round_robin(build: Build) -> None:
    run = environment(build, PROD, zones=3, nat_gateways=2)
    targets = [run.one(ROUTE, f"prod-network-private-{i}-nat").inputs["natGatewayId"]
               for i in range(3)]
    nat_ids = [run.one(NAT, f"prod-network-nat-{i}").id for i in range(2)]
    assert targets == [nat_ids[0], nat_ids[1], nat_ids[0]]


def test_without_nat_private_subnets_have_no_default_route(build: Build) -> None:
    run = environment(build, nat_gateways=0)
    assert run.of_type(NAT) == []
    assert run.of_type(EIP) == []
    assert [r.name for r in run.of_type(ROUTE)] == ["dev-network-public-internet"]


def test_public_subnets_route_to_the_internet_gateway(dev: StackRun) -> None:
    route = dev.one(ROUTE, "dev-network-public-internet")
    public_table = dev.one(ROUTE_TABLE, "dev-network-public")
    assert route.inputs["routeTableId"] == public_table.id
    assert route.inputs["destinationCidrBlock"] == "0.0.0.0/0"
    assert route.inputs["gatewayId"] == dev.one(IGW).id
    assert dev.one(IGW).inputs["vpcId"] == dev.one(VPC).id


def test_every_subnet_is_associated_with_its_route_table(dev: StackRun) -> None:
    associations = {a.inputs["subnetId"]: a.inputs["routeTableId"]
                    for a in dev.of_type(ASSOCIATION)}
    public_table = dev.one(ROUTE_TABLE, "dev-network-public").id
    expected = {}
    for i in range(2):
        expected[dev.one(SUBNET, f"dev-network-public-{i}").id] = public_table
        expected[dev.one(SUBNET, f"dev-network-private-{i}").id] = dev.one(
            ROUTE_TABLE, f"dev-network-private-{i}").id
    assert associations == expected


def test_flow_logs_record_all_traffic_to_an_encrypted_log_group(dev: StackRun) -> None:
    flow_log = dev.one(FLOW_LOG)
    group = dev.one(LOG_GROUP, "dev-network-flow-logs")
    assert flow_log.inputs["vpcId"] == dev.one(VPC).id
    assert flow_log.inputs["trafficType"] == "ALL"
    assert flow_log.inputs["maxAggregationInterval"] == 60
    assert flow_log.inputs["logDestinationType"] == "cloud-watch-logs"
    assert flow_log.inputs["logDestination"] == group.state["arn"]
    assert flow_log.inputs["iamRoleArn"] == dev.one(ROLE, "dev-network-flow-logs").state["arn"]
    assert group.inputs["retentionInDays"] == DEV.log_retention_days
    assert group.inputs["kmsKeyId"] == dev.one(KEY).state["arn"]


def test_flow_log_retention_follows_the_stage(prod: StackRun) -> None:
    assert prod.one(LOG_GROUP).inputs["retentionInDays"] == 365


def test_flow_log_role_trusts_only_this_accounts_flow_logs(dev: StackRun) -> None:
    [trust] = statements(dev.one(ROLE, "dev-network-flow-logs"), "assumeRolePolicy")
    assert trust["Principal"] == {"Service": "vpc-flow-logs.amazonaws.com"}
    assert trust["Action"] == "sts:AssumeRole"
    assert trust["Condition"] == {
        "StringEquals": {"aws:SourceAccount": ACCOUNT},
        "ArnLike": {"aws:SourceArn": f"arn:aws:ec2:{REGION}:{ACCOUNT}:vpc-flow-log/*"},
    }


def test_flow_log_role_may_only_write_to_its_log_group(dev: StackRun) -> None:
    policy = dev.one(ROLE_POLICY, "dev-network-flow-logs")
    group_arn = dev.one(LOG_GROUP, "dev-network-flow-logs").state["arn"]
    assert policy.inputs["role"] == dev.one(ROLE, "dev-network-flow-logs").id
    [statement] = statements(policy)
    assert statement["Effect"] == "Allow"
    assert sorted(statement["Action"]) == [
        "logs:CreateLogStream", "logs:DescribeLogStreams", "logs:PutLogEvents"]
    assert sorted(statement["Resource"]) == [group_arn, f"{group_arn}:*"]


def test_s3_and_dynamodb_are_reached_through_gateway_endpoints(dev: StackRun) -> None:
    private_tables = sorted(dev.one(ROUTE_TABLE, f"dev-network-private-{i}").id
                            for i in range(2))
    endpoints = {e.inputs["serviceName"]: e for e in dev.of_type(ENDPOINT)}
    assert sorted(endpoints) == [f"com.amazonaws.{REGION}.dynamodb", f"com.amazonaws.{REGION}.s3"]
    for endpoint in endpoints.values():
        assert endpoint.inputs["vpcEndpointType"] == "Gateway"
        assert endpoint.inputs["vpcId"] == dev.one(VPC).id
        assert sorted(endpoint.inputs["routeTableIds"]) == private_tables


def test_default_security_group_is_emptied(dev: StackRun) -> None:
    default = dev.one(DEFAULT_SG)
    assert default.inputs["vpcId"] == dev.one(VPC).id
    assert not default.inputs.get("ingress")
    assert not default.inputs.get("egress")


def test_services_security_group_accepts_traffic_only_from_itself(dev: StackRun) -> None:
    group = dev.one(SECURITY_GROUP, "dev-network-services")
    assert group.inputs["vpcId"] == dev.one(VPC).id
    assert not group.inputs.get("ingress")
    [ingress] = dev.of_type(INGRESS)
    assert ingress.inputs["securityGroupId"] == group.id
    assert ingress.inputs["referencedSecurityGroupId"] == group.id
    assert "cidrIpv4" not in ingress.inputs
    assert "cidrIpv6" not in ingress.inputs


def test_nothing_in_the_environment_is_open_to_the_internet(prod: StackRun) -> None:
    rules = prod.of_type(INGRESS)
    assert rules
    assert all(r.inputs.get("cidrIpv4") != "0.0.0.0/0" and r.inputs.get("cidrIpv6") != "::/0"
               for r in rules)
    for group in prod.of_type(SECURITY_GROUP) + prod.of_type(DEFAULT_SG):
        for rule in group.inputs.get("ingress") or []:
            assert "0.0.0.0/0" not in (rule.get("cidrBlocks") or [])


def test_services_may_call_aws_over_https_and_anything_in_the_vpc(dev: StackRun) -> None:
    group = dev.one(SECURITY_GROUP, "dev-network-services")
    egress = {(r.inputs["ipProtocol"], r.inputs.get("fromPort"), r.inputs.get("toPort"),
               r.inputs["cidrIpv4"])
              for r in dev.of_type(EGRESS)}
    assert egress == {("tcp", 443, 443, "0.0.0.0/0"), ("-1", None, None, "10.20.0.0/16")}
    assert all(r.inputs["securityGroupId"] == group.id for r in dev.of_type(EGRESS))


def test_more_zones_than_the_region_has_is_rejected(build: Build) -> None:
    with pytest.raises(InvalidArgs, match=r"availabilityZones is 4, but the region has only 3"):
        environment(build, zones=4, nat_gateways=1)


def test_unresolved_nat_gateway_count_is_rejected(build: Build) -> None:
    with pytest.raises(InvalidArgs, match=r"settings\.natGateways is not resolved"):
        environment(build, nat_gateways=None)
