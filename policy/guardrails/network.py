"""VPCs: flow logs."""

from __future__ import annotations

from collections.abc import Iterator

from pulumi_policy import Policy

from .core import MANDATORY, Config, Stack, Subject, stack_rule

VPC = "aws:ec2/vpc:Vpc"
DEFAULT_VPC = "aws:ec2/defaultVpc:DefaultVpc"
FLOW_LOG = "aws:ec2/flowLog:FlowLog"


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


POLICIES: list[Policy] = [vpc_flow_logs]
