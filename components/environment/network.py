"""The environment's network: a VPC that services reach AWS from without being reachable.

Default settings
================

==============================  ==========================================================
Setting                         Default
==============================  ==========================================================
Availability zones              ``settings.availability_zones`` of the region's available,
                                non-opt-in zones (no Local or Wavelength Zones)
Subnets                         one public and one private per zone (``subnet_cidrs()``)
Public IPs on launch            off, also in public subnets (only NAT gateways live there)
NAT gateways                    ``settings.nat_gateways``: dev 1, prod one per zone; private
                                route table of zone *i* uses NAT *i mod n*; 0 means no
                                default route out of the private subnets
VPC flow logs                   ALL traffic, 60 s aggregation, to a KMS-encrypted log group
                                with the stack's retention; the delivery role only writes to
                                that group and trusts flow logs of this account only
Gateway endpoints               S3 and DynamoDB, on the private route tables
Default security group          locked down: no rules at all
Services security group         ingress only from itself; egress HTTPS anywhere (AWS APIs
                                through NAT) and all traffic inside the VPC
==============================  ==========================================================
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.config import Defaults, EnvironmentSettings
from components.foundation import iam, logs
from components.foundation.validation import InvalidArgs, require_valid

ANYWHERE = "0.0.0.0/0"
GATEWAY_ENDPOINT_SERVICES = ("s3", "dynamodb")


@dataclass(frozen=True)
class NetworkArgs:
    """The environment's network settings and the key its flow logs are encrypted with."""

    settings: EnvironmentSettings
    kms_key_arn: pulumi.Input[str]


def _zone_picker(index: int, wanted: int) -> Callable[[aws.GetAvailabilityZonesResult], str]:
    def pick(zones: aws.GetAvailabilityZonesResult) -> str:
        names = list(zones.names)
        if len(names) < wanted:
            raise InvalidArgs("Network", [
                f"settings.availabilityZones is {wanted}, but the region has only "
                f"{len(names)} available zones: {', '.join(names)}"])
        return names[index]

    return pick


class Network(pulumi.ComponentResource):
    """VPC, subnets, gateways, routes, flow logs, gateway endpoints and the services' SG."""

    vpc: aws.ec2.Vpc
    public_subnets: list[aws.ec2.Subnet]
    private_subnets: list[aws.ec2.Subnet]
    nat_gateways: list[aws.ec2.NatGateway]
    private_route_tables: list[aws.ec2.RouteTable]
    flow_log_group: aws.cloudwatch.LogGroup
    service_security_group: aws.ec2.SecurityGroup

    def __init__(self, name: str, args: NetworkArgs, defaults: Defaults,
                 opts: pulumi.ResourceOptions | None = None) -> None:
        settings = args.settings
        require_valid("Network", [
            None if settings.nat_gateways is not None else
            "settings.natGateways is not resolved; load the settings with "
            "components.config.load, which sets it from the stage"])
        assert settings.nat_gateways is not None
        super().__init__("blueprints:environment:Network", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        invoke = pulumi.InvokeOutputOptions(parent=self)
        zone_count = settings.availability_zones
        public_cidrs, private_cidrs = settings.subnet_cidrs()

        zones = aws.get_availability_zones_output(
            state="available",
            filters=[aws.GetAvailabilityZonesFilterArgsDict(
                name="opt-in-status", values=["opt-in-not-required"])],
            opts=invoke)
        partition = aws.get_partition_output(opts=invoke)

        self.vpc = aws.ec2.Vpc(
            f"{name}-vpc",
            cidr_block=str(settings.vpc_cidr),
            enable_dns_support=True,
            enable_dns_hostnames=True,
            opts=child)

        self.public_subnets, self.private_subnets = (
            [aws.ec2.Subnet(
                f"{name}-{tier}-{i}",
                vpc_id=self.vpc.id,
                cidr_block=cidrs[i],
                availability_zone=zones.apply(_zone_picker(i, zone_count)),
                map_public_ip_on_launch=False,
                opts=child)
             for i in range(zone_count)]
            for tier, cidrs in (("public", public_cidrs), ("private", private_cidrs)))

        internet_gateway = aws.ec2.InternetGateway(f"{name}-igw", vpc_id=self.vpc.id, opts=child)

        self.nat_gateways = []
        for i in range(settings.nat_gateways):
            address = aws.ec2.Eip(f"{name}-nat-{i}", domain="vpc", opts=child)
            self.nat_gateways.append(aws.ec2.NatGateway(
                f"{name}-nat-{i}",
                allocation_id=address.id,
                subnet_id=self.public_subnets[i].id,
                connectivity_type="public",
                # NAT gateways cannot reach the internet before the VPC is attached to it.
                opts=pulumi.ResourceOptions(parent=self, depends_on=[internet_gateway])))

        public_routes = aws.ec2.RouteTable(f"{name}-public", vpc_id=self.vpc.id, opts=child)
        aws.ec2.Route(
            f"{name}-public-internet",
            route_table_id=public_routes.id,
            destination_cidr_block=ANYWHERE,
            gateway_id=internet_gateway.id,
            opts=child)
        for i, subnet in enumerate(self.public_subnets):
            aws.ec2.RouteTableAssociation(
                f"{name}-public-{i}", subnet_id=subnet.id, route_table_id=public_routes.id,
                opts=child)

        self.private_route_tables = []
        for i, subnet in enumerate(self.private_subnets):
            routes = aws.ec2.RouteTable(f"{name}-private-{i}", vpc_id=self.vpc.id, opts=child)
            self.private_route_tables.append(routes)
            if self.nat_gateways:
                aws.ec2.Route(
                    f"{name}-private-{i}-nat",
                    route_table_id=routes.id,
                    destination_cidr_block=ANYWHERE,
                    nat_gateway_id=self.nat_gateways[i % len(self.nat_gateways)].id,
                    opts=child)
            aws.ec2.RouteTableAssociation(
                f"{name}-private-{i}", subnet_id=subnet.id, route_table_id=routes.id,
                opts=child)

        self.flow_log_group = self._flow_logs(name, args, defaults, partition)

        for service in GATEWAY_ENDPOINT_SERVICES:
            aws.ec2.VpcEndpoint(
                f"{name}-{service}",
                vpc_id=self.vpc.id,
                service_name=f"com.amazonaws.{defaults.region}.{service}",
                vpc_endpoint_type="Gateway",
                route_table_ids=[table.id for table in self.private_route_tables],
                opts=child)

        # Managing the default group with no rules removes the allow-all rules AWS puts in it.
        aws.ec2.DefaultSecurityGroup(f"{name}-default-sg", vpc_id=self.vpc.id, opts=child)
        self.service_security_group = self._service_security_group(name)

        self.vpc_id: pulumi.Output[str] = self.vpc.id
        self.vpc_cidr: pulumi.Output[str] = self.vpc.cidr_block
        self.public_subnet_ids: pulumi.Output[list[str]] = pulumi.Output.all(
            *[subnet.id for subnet in self.public_subnets])
        self.private_subnet_ids: pulumi.Output[list[str]] = pulumi.Output.all(
            *[subnet.id for subnet in self.private_subnets])
        self.service_security_group_id: pulumi.Output[str] = self.service_security_group.id
        self.register_outputs({
            "vpcId": self.vpc_id,
            "vpcCidr": self.vpc_cidr,
            "publicSubnetIds": self.public_subnet_ids,
            "privateSubnetIds": self.private_subnet_ids,
            "serviceSecurityGroupId": self.service_security_group_id,
            "flowLogGroupName": self.flow_log_group.name,
        })

    def _flow_logs(self, name: str, args: NetworkArgs, defaults: Defaults,
                   partition: pulumi.Output[aws.GetPartitionResult]) -> aws.cloudwatch.LogGroup:
        child = pulumi.ResourceOptions(parent=self)
        group = logs.log_group(
            f"{name}-flow-logs", defaults, kms_key_arn=args.kms_key_arn,
            opts=pulumi.ResourceOptions(parent=self, protect=defaults.protect))
        account = defaults.account_id
        # Confused-deputy guard: only flow logs of this account may assume the role.
        source_arn = partition.apply(
            lambda p: f"arn:{p.partition}:ec2:{defaults.region}:{account}:vpc-flow-log/*")
        role = aws.iam.Role(
            f"{name}-flow-logs",
            description="Delivers the VPC flow logs of the environment to CloudWatch Logs",
            assume_role_policy=iam.trust_policy("vpc-flow-logs.amazonaws.com", conditions={
                "StringEquals": {"aws:SourceAccount": account},
                "ArnLike": {"aws:SourceArn": source_arn},
            }),
            opts=child)
        delivery = aws.iam.RolePolicy(
            f"{name}-flow-logs",
            role=role.id,
            policy=iam.policy_document([iam.allow(
                ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
                group.arn, group.arn.apply(lambda arn: f"{arn}:*"))]),
            opts=child)
        aws.ec2.FlowLog(
            f"{name}-flow-logs",
            vpc_id=self.vpc.id,
            traffic_type="ALL",
            max_aggregation_interval=60,
            log_destination_type="cloud-watch-logs",
            log_destination=group.arn,
            iam_role_arn=role.arn,
            # Delivery fails until the role may write, so wait for its policy.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[delivery]))
        return group

    def _service_security_group(self, name: str) -> aws.ec2.SecurityGroup:
        child = pulumi.ResourceOptions(parent=self)
        group = aws.ec2.SecurityGroup(
            f"{name}-services",
            vpc_id=self.vpc.id,
            description="Tasks and functions of the environment's services",
            opts=child)
        aws.vpc.SecurityGroupIngressRule(
            f"{name}-services-from-services",
            security_group_id=group.id,
            referenced_security_group_id=group.id,
            ip_protocol="-1",
            description="Services call each other; nothing else may call in",
            opts=child)
        aws.vpc.SecurityGroupEgressRule(
            f"{name}-services-https-out",
            security_group_id=group.id,
            cidr_ipv4=ANYWHERE,
            ip_protocol="tcp",
            from_port=443,
            to_port=443,
            description="AWS APIs over HTTPS, through the NAT gateways",
            opts=child)
        aws.vpc.SecurityGroupEgressRule(
            f"{name}-services-vpc-out",
            security_group_id=group.id,
            cidr_ipv4=self.vpc.cidr_block,
            ip_protocol="-1",
            description="Anything inside the VPC: other services, DNS, endpoints",
            opts=child)
        return group
