"""The environment contract: the names the environment stack exports, and a services stack
reading them back through a StackReference."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable

import pulumi
import pytest

from components.config import EnvironmentSettings
from components.environment import Environment, EnvironmentArgs, EnvironmentContract
from tests.support import DEV
from tools.mock_runtime import StackRun, run_program

Build = Callable[..., StackRun]

ENVIRONMENT_STACK = "organization/blueprints/dev"
OUTPUT_NAMES = {
    "vpcId", "vpcCidr", "publicSubnetIds", "privateSubnetIds", "serviceSecurityGroupId",
    "clusterArn", "clusterName", "namespaceId", "namespaceName", "kmsKeyArn",
    "taskExecutionRoleArn", "taskExecutionRoleName", "alarmTopicArn",
}
SETTINGS = EnvironmentSettings(vpc_cidr=ipaddress.IPv4Network("10.20.0.0/16"),
                               availability_zones=2, nat_gateways=1)


def export(contract: EnvironmentContract) -> None:
    for name, value in contract.outputs().items():
        pulumi.export(name, value)


@pytest.fixture
def environment_stack(build: Build) -> StackRun:
    """The platform's stack: builds the environment and exports its contract."""
    return build(lambda opts: export(
        Environment("dev", EnvironmentArgs(SETTINGS), DEV, opts).contract))


def services_stack(environment_outputs: dict[str, object]) -> StackRun:
    """A services stack: reads the contract from the environment stack and exports it again."""
    def program() -> None:
        reference = pulumi.StackReference(ENVIRONMENT_STACK)
        export(EnvironmentContract.from_stack_reference(reference))

    return run_program(program, stack="services",
                       stack_outputs={ENVIRONMENT_STACK: environment_outputs})


def test_outputs_are_the_camel_case_field_names(environment_stack: StackRun) -> None:
    assert set(environment_stack.outputs) == OUTPUT_NAMES


def test_exported_values_are_the_environments_resources(environment_stack: StackRun) -> None:
    run = environment_stack
    outputs = run.outputs
    subnets = {r.name: r.id for r in run.of_type("aws:ec2/subnet:Subnet")}
    cluster = run.one("aws:ecs/cluster:Cluster")
    namespace = run.one("aws:servicediscovery/privateDnsNamespace:PrivateDnsNamespace")
    assert outputs["vpcId"] == run.one("aws:ec2/vpc:Vpc").id
    assert outputs["vpcCidr"] == "10.20.0.0/16"
    assert outputs["publicSubnetIds"] == [subnets[f"dev-network-public-{i}"] for i in range(2)]
    assert outputs["privateSubnetIds"] == [subnets[f"dev-network-private-{i}"] for i in range(2)]
    assert outputs["serviceSecurityGroupId"] == run.one(
        "aws:ec2/securityGroup:SecurityGroup", "dev-network-services").id
    assert outputs["clusterArn"] == cluster.state["arn"]
    assert outputs["clusterName"] == cluster.state["name"]
    assert outputs["namespaceId"] == namespace.id
    assert outputs["namespaceName"] == "dev.blueprints.internal"
    assert outputs["kmsKeyArn"] == run.one("aws:kms/key:Key").state["arn"]
    role = run.one("aws:iam/role:Role", "dev-task-execution")
    assert (outputs["taskExecutionRoleArn"], outputs["taskExecutionRoleName"]) == (
        role.state["arn"], role.state["name"])


def test_contract_round_trips_through_a_stack_reference(environment_stack: StackRun) -> None:
    services = services_stack(environment_stack.outputs)
    assert services.outputs == environment_stack.outputs
    assert services.one("pulumi:pulumi:StackReference").name == ENVIRONMENT_STACK


def test_a_missing_output_fails_the_services_stack(environment_stack: StackRun) -> None:
    outputs = {k: v for k, v in environment_stack.outputs.items() if k != "kmsKeyArn"}
    with pytest.raises(KeyError, match="kmsKeyArn"):
        services_stack(outputs)
