"""The environment contract: what a services stack may know about its environment.

In AWS Proton terms this is the interface between an *environment* (owned by the platform team)
and the *services* deployed into it (owned by development teams). The platform's environment
stack exports exactly these values; a services stack that names an ``environmentStack`` reads
them back through a ``pulumi.StackReference``. Neither side sees the other's resources, only this
contract, so either can change its internals without breaking the other.

Default settings
================

================================  =================================================
Setting                           Value
================================  =================================================
Stack output names                camelCase of the field names (``vpcId``, ...)
Missing output in the reference   fails the services stack (``require_output``)
================================  =================================================
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

import pulumi
from pydantic.alias_generators import to_camel


@dataclass(frozen=True)
class EnvironmentContract:
    """The values an environment hands to the services built on it."""

    vpc_id: pulumi.Output[str]
    vpc_cidr: pulumi.Output[str]
    public_subnet_ids: pulumi.Output[list[str]]
    private_subnet_ids: pulumi.Output[list[str]]
    service_security_group_id: pulumi.Output[str]
    cluster_arn: pulumi.Output[str]
    cluster_name: pulumi.Output[str]
    namespace_id: pulumi.Output[str]
    namespace_name: pulumi.Output[str]
    kms_key_arn: pulumi.Output[str]
    # ECS tasks' execution role: each service attaches a policy for its own image and log group.
    task_execution_role_arn: pulumi.Output[str]
    task_execution_role_name: pulumi.Output[str]
    # Where every service's CloudWatch alarms go (SNS, encrypted with the environment's key).
    alarm_topic_arn: pulumi.Output[str]

    @classmethod
    def _output_names(cls) -> dict[str, str]:
        """Field name -> stack output name; the one place the mapping is defined."""
        return {field.name: to_camel(field.name) for field in fields(cls)}

    def outputs(self) -> dict[str, pulumi.Output[Any]]:
        """The contract as stack outputs, keyed by their camelCase names."""
        return {output: getattr(self, field) for field, output in self._output_names().items()}

    @classmethod
    def from_stack_reference(cls, reference: pulumi.StackReference) -> EnvironmentContract:
        """Reads the contract that an environment stack exported."""
        return cls(**{field: reference.require_output(output)
                      for field, output in cls._output_names().items()})
