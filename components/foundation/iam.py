"""IAM policy documents built from (actions, resource ARNs) pairs, with no wildcards.

Every policy in the project goes through ``policy_document``. An Allow statement may not use a
wildcard action (``*``, ``dynamodb:*``, ``s3:Get*``) nor a wildcard principal. No statement may
name a resource that covers a whole service or a whole resource type (``*``,
``arn:aws:sqs:eu-west-1:123456789012:*``, ``...:table/*``). A wildcard that narrows a named resource
stays allowed: ``arn:aws:s3:::bucket/*``, ``...:table/orders/index/*``,
``...:log-group:/aws/lambda/f:*``. Deny statements may use wildcard actions and principals: they
only ever take rights away (``deny_insecure_transport``).

Resource ARNs are often outputs of other resources; they are checked once known, which is at
``pulumi preview`` for anything already deployed and at ``pulumi up`` otherwise.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import pulumi

ACTION = re.compile(r"^[a-z0-9-]+:[A-Za-z0-9]+$")
# Services whose ARNs start with the resource's own name rather than a resource type.
UNTYPED_ARNS = frozenset({"s3", "sqs", "sns", "execute-api"})
# Actions that support no resource-level permission: AWS grants them on Resource "*" only, and
# ``allow_unscoped`` may name them (the guardrails' IAM rule lists the same ones).
UNSCOPED_ACTIONS = frozenset({
    # X-Ray tracing: segments, telemetry and sampling rules.
    "xray:PutTraceSegments", "xray:PutTelemetryRecords", "xray:GetSamplingRules",
    "xray:GetSamplingTargets",
    # CloudWatch Logs vended delivery, which a state machine's logging sets up.
    "logs:CreateLogDelivery", "logs:GetLogDelivery", "logs:UpdateLogDelivery",
    "logs:DeleteLogDelivery", "logs:ListLogDeliveries", "logs:PutResourcePolicy",
    "logs:DescribeResourcePolicies", "logs:DescribeLogGroups",
    # A task token is no resource: a worker reports to Step Functions with these.
    "states:SendTaskSuccess", "states:SendTaskFailure", "states:SendTaskHeartbeat",
})


class PolicyError(ValueError):
    """A statement that would grant more than it names."""


@dataclass(frozen=True)
class Statement:
    """One IAM statement: these actions on these resources, optionally under conditions."""

    actions: Sequence[str]
    resources: Sequence[pulumi.Input[str]]
    effect: Literal["Allow", "Deny"] = "Allow"
    conditions: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    sid: str | None = None
    principals: Mapping[str, Any] | None = None

    def __post_init__(self) -> None:
        if not self.actions:
            raise PolicyError("a statement needs at least one action")
        if not self.resources:
            raise PolicyError(f"statement for {', '.join(self.actions)} names no resource")
        if self.effect == "Allow":
            for action in self.actions:
                if not ACTION.match(action):
                    raise PolicyError(f"action {action!r} is not allowed: name each action in "
                                      "full (service:Action), with no wildcard")
            if self.principals and "*" in str(dict(self.principals).values()):
                raise PolicyError("an Allow statement may not name the wildcard principal")
        if _unscoped(self):
            return
        for resource in self.resources:
            if isinstance(resource, str):
                check_resource(resource)


def allow(actions: Sequence[str], *resources: pulumi.Input[str],
          conditions: Mapping[str, Mapping[str, Any]] | None = None,
          principals: Mapping[str, Any] | None = None) -> Statement:
    """Shorthand for an Allow statement."""
    return Statement(actions=tuple(actions), resources=resources, conditions=conditions or {},
                     principals=principals)


SERVICE_PRINCIPAL = re.compile(r"^[a-z0-9.-]+\.amazonaws\.com$")


def allow_unscoped(actions: Sequence[str]) -> Statement:
    """An Allow on Resource ``*`` for actions that have no resource-level permission
    (``UNSCOPED_ACTIONS`` only)."""
    others = sorted(set(actions) - UNSCOPED_ACTIONS)
    if others:
        raise PolicyError(f"{', '.join(others)} can be scoped to resources: name them")
    return allow(actions, "*")


def _unscoped(statement: Statement) -> bool:
    return (statement.effect == "Allow" and list(statement.resources) == ["*"]
            and set(statement.actions) <= UNSCOPED_ACTIONS)


def allow_service(actions: Sequence[str], resource: pulumi.Input[str], service: str,
                  source_arn: pulumi.Input[str]) -> Statement:
    """Lets an AWS service act on ``resource``, on behalf of one source resource only."""
    return allow(actions, resource, principals={"Service": service},
                 conditions={"ArnEquals": {"aws:SourceArn": source_arn}})


def service_grant_problems(argument: str,
                           grants: Sequence[tuple[str, pulumi.Input[str]]]) -> list[str]:
    """What is wrong with (service principal, source ARN) pairs given as ``argument``."""
    problems = []
    for i, (service, source_arn) in enumerate(grants):
        if not SERVICE_PRINCIPAL.match(service):
            problems.append(f"{argument}[{i}]: {service!r} is not a service principal "
                            "(such as events.amazonaws.com)")
        if isinstance(source_arn, str) and not source_arn.startswith("arn:"):
            problems.append(f"{argument}[{i}]: source {source_arn!r} is not an ARN")
    return problems


def deny_insecure_transport(service: str, *resources: pulumi.Input[str]) -> Statement:
    """Denies every request to ``resources`` that does not arrive over TLS."""
    return Statement(
        sid="DenyInsecureTransport",
        effect="Deny",
        principals={"AWS": "*"},
        actions=(f"{service}:*",),
        resources=resources,
        conditions={"Bool": {"aws:SecureTransport": "false"}},
    )


def partition(region: str) -> str:
    """The ARN partition a region belongs to."""
    if region.startswith("cn-"):
        return "aws-cn"
    return "aws-us-gov" if region.startswith("us-gov-") else "aws"


def check_resource(arn: str) -> str:
    """Returns ``arn`` if it names specific resources, raises ``PolicyError`` otherwise."""
    parts = arn.split(":", 5)
    if arn == "*" or len(parts) != 6 or parts[0] != "arn":
        raise PolicyError(f"resource {arn!r} is not allowed: name a resource ARN, not a wildcard")
    _, _, service, region, account, resource = parts
    segments = [s for s in re.split(r"[:/]", resource) if s]
    named = segments if service in UNTYPED_ARNS or len(segments) == 1 else segments[1:]
    if "*" in (region, account) or not named or all(set(s) <= {"*", "?"} for s in named):
        raise PolicyError(f"resource {arn!r} is not allowed: it grants every resource of its "
                          "kind; name the resource")
    return arn


def _statement_json(statement: Statement, resources: list[str]) -> dict[str, Any]:
    for resource in [] if _unscoped(statement) else resources:
        check_resource(resource)
    body: dict[str, Any] = {
        "Effect": statement.effect,
        "Action": sorted(statement.actions),
        "Resource": sorted(resources) if len(resources) > 1 else resources[0],
    }
    if statement.sid:
        body["Sid"] = statement.sid
    if statement.principals:
        body["Principal"] = dict(statement.principals)
    if statement.conditions:
        body["Condition"] = statement.conditions
    return body


def policy_document(statements: Sequence[Statement]) -> pulumi.Output[str]:
    """The JSON policy document for ``statements``, checked for wildcards."""
    if not statements:
        raise PolicyError("a policy needs at least one statement")
    rendered = [pulumi.Output.all(*s.resources).apply(functools.partial(_statement_json, s))
                for s in statements]
    return pulumi.Output.json_dumps(
        pulumi.Output.all(*rendered).apply(
            lambda items: {"Version": "2012-10-17", "Statement": list(items)}))


def trust_policy(*services: str,
                 conditions: Mapping[str, Mapping[str, Any]] | None = None) -> pulumi.Output[str]:
    """An assume-role policy that lets the named AWS services assume the role."""
    statement: dict[str, Any] = {
        "Effect": "Allow",
        "Principal": {"Service": sorted(services) if len(services) > 1 else services[0]},
        "Action": "sts:AssumeRole",
    }
    if conditions:
        statement["Condition"] = dict(conditions)
    return pulumi.Output.json_dumps({"Version": "2012-10-17", "Statement": [statement]})
