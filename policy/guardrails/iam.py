"""IAM policies: no wildcard actions or resources."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from pulumi_policy import Policy

from .core import MANDATORY, Config, Props, Subject, as_list, documents, is_unknown, resource_rule

ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
POLICY = "aws:iam/policy:Policy"
USER_POLICY = "aws:iam/userPolicy:UserPolicy"
GROUP_POLICY = "aws:iam/groupPolicy:GroupPolicy"

# Actions that grant nothing narrower than Resource "*" (they support no resource-level
# permission) and that the project's patterns need:
# - X-Ray: active tracing sends segments and telemetry, and the SDK reads sampling rules
#   (the actions of the AWS-managed AWSXRayDaemonWriteAccess policy);
# - EC2 network interfaces: a function in a VPC creates, lists and deletes its ENIs and
#   their private addresses (the EC2 actions of AWSLambdaVPCAccessExecutionRole);
# - CloudWatch Logs vended delivery: a state machine's logging creates and lists its log
#   deliveries and the log group resource policy (as Step Functions documents);
# - Step Functions task tokens: a worker reports a task's outcome and heartbeats.
WILDCARD_RESOURCE_ACTIONS = (
    "xray:PutTraceSegments",
    "xray:PutTelemetryRecords",
    "xray:GetSamplingRules",
    "xray:GetSamplingTargets",
    "ec2:CreateNetworkInterface",
    "ec2:DescribeNetworkInterfaces",
    "ec2:DeleteNetworkInterface",
    "ec2:AssignPrivateIpAddresses",
    "ec2:UnassignPrivateIpAddresses",
    "logs:CreateLogDelivery",
    "logs:GetLogDelivery",
    "logs:UpdateLogDelivery",
    "logs:DeleteLogDelivery",
    "logs:ListLogDeliveries",
    "logs:PutResourcePolicy",
    "logs:DescribeResourcePolicies",
    "logs:DescribeLogGroups",
    "states:SendTaskSuccess",
    "states:SendTaskFailure",
    "states:SendTaskHeartbeat",
)

# Services whose ARNs start with the resource's own name rather than a resource type.
UNTYPED_ARNS = frozenset({"s3", "sqs", "sns", "execute-api"})

# A managed policy tagged with its use (the account connection's): "deploy" for a deploy
# role's policy, which must name its actions but creates resources that do not exist yet, so
# may name Resource "*"; "permissions-boundary" for a boundary, which grants nothing (it caps
# what identity policies grant), so its wildcards are not grants.
POLICY_USE_TAG = "blueprints:policy-use"


def _wild(text: str) -> bool:
    """Whether ``text`` is nothing but wildcards (``*``, ``?``)."""
    return bool(text) and set(text) <= {"*", "?"}


def wildcard_resource(resource: str) -> bool:
    """Whether ``resource`` covers every resource (``*``), or every resource of a service or of
    a resource type (``arn:aws:sqs:eu-west-1:111122223333:*``, ``...:table/*``).

    A wildcard that narrows a named resource stays allowed: ``arn:aws:s3:::bucket/*``,
    ``...:table/orders/index/*``, ``...:log-group:/aws/lambda/f:*``.
    """
    if "*" not in resource and "?" not in resource:
        return False
    parts = resource.split(":", 5)
    if len(parts) != 6 or parts[0] != "arn":
        return True
    _, partition, service, region, account, rest = parts
    if any(_wild(field) for field in (partition, service, region, account)):
        return True
    segments = [s for s in re.split(r"[:/]", rest) if s]
    named = segments if service in UNTYPED_ARNS or len(segments) == 1 else segments[1:]
    return not named or all(_wild(s) for s in named)


def _policies(subject: Subject) -> list[tuple[str, Any]]:
    """(where, policy document) for each identity policy the resource carries."""
    if subject.type != ROLE:
        return [("policy", subject.props.get("policy"))]
    found = []
    for i, inline in enumerate(subject.props.items("inlinePolicies")):
        name = Props(inline).get("name")
        label = f"inlinePolicies[{i}]" + (f" ({name})" if isinstance(name, str) and name else "")
        found.append((label, Props(inline).get("policy")))
    return found


def _policy_use(subject: Subject) -> Any:
    if subject.type != POLICY:
        return None
    tags = subject.props.json("tags")
    return Props(tags).get(POLICY_USE_TAG) if isinstance(tags, Mapping) else None


def _problems(statement: Mapping[str, Any], allowed: frozenset[str],
              deploy: bool = False) -> list[str]:
    """What is too broad in one Allow statement (a deploy policy's resources excepted)."""
    problems = []
    raw_actions = statement.get("Action")
    actions = [a for a in as_list(raw_actions) if isinstance(a, str) and not is_unknown(a)]
    wild_actions = [a for a in actions if "*" in a or "?" in a]
    if wild_actions:
        problems.append(f"allows the wildcard action{'s' if len(wild_actions) > 1 else ''} "
                        f"{', '.join(wild_actions)}; name each action in full")
    if "NotAction" in statement:
        problems.append("uses NotAction in an Allow, which grants every action not listed; "
                        "list the allowed actions in Action")
    if "NotResource" in statement:
        problems.append("uses NotResource in an Allow, which grants every resource not listed; "
                        "list the resources in Resource")
    resources = [r for r in as_list(statement.get("Resource"))
                 if isinstance(r, str) and not is_unknown(r)]
    wide = [] if deploy else [r for r in resources if wildcard_resource(r)]
    if wide and not is_unknown(raw_actions):
        needy = [a for a in actions if a.lower() not in allowed]
        if needy or "NotAction" in statement:
            what = ", ".join(needy) if needy else "every action it allows"
            on = ", ".join(f'"{r}"' for r in wide)
            problems.append(f"applies {what} to Resource {on}; name the resource ARNs "
                            "(only actions with no resource-level permission, listed in "
                            "allowedWildcardResourceActions, may use \"*\")")
    return problems


@resource_rule(
    "iam-no-wildcards",
    description="IAM identity policies allow named actions on named resources: no wildcard "
                "actions, no NotAction, no Resource \"*\".",
    anchors=("WS1003", "AwsSolutions-IAM5", "Serverless-IAMNoWildcardPermissions"),
    level=MANDATORY,
    types={ROLE, ROLE_POLICY, POLICY, USER_POLICY, GROUP_POLICY},
    config={"allowedWildcardResourceActions": {
        "type": "array", "items": {"type": "string"}, "default": list(WILDCARD_RESOURCE_ACTIONS),
        "description": "Actions that support no resource-level permission and may therefore be "
                       "allowed on Resource \"*\" (compared case-insensitively)."}},
)
def iam_no_wildcards(subject: Subject, config: Config) -> Iterator[str]:
    """A wildcard grants rights nobody reviewed, including ones AWS adds later; least privilege
    means naming each action and each resource.

    Checked: role inline policies, role, user and group policies, and managed policies. Deny
    statements may use wildcards (they only take rights away). A managed policy tagged
    ``blueprints:policy-use: deploy`` (a deploy role's) may name Resource "*" but no wildcard
    action; one tagged ``permissions-boundary`` is not checked, since a boundary grants
    nothing. Not checked: AWS-managed policies attached by ARN (RolePolicyAttachment), trust
    policies, and resource policies such as KMS key policies, where "*" means the resource
    itself.
    Mandatory: cdk-nag registers AwsSolutions-IAM5 at ERROR (serverless-rules WS1003 and
    Serverless-IAMNoWildcardPermissions are warnings).
    """
    configured = config.get("allowedWildcardResourceActions")
    allowed = frozenset(a.lower() for a in (
        configured if isinstance(configured, (list, tuple)) else WILDCARD_RESOURCE_ACTIONS)
        if isinstance(a, str))
    use = _policy_use(subject)
    if use == "permissions-boundary":
        return
    problems = []
    for where, policy in _policies(subject):
        for i, statement in enumerate(documents(policy)):
            effect = statement.get("Effect")
            if not isinstance(effect, str) or effect.lower() != "allow":
                continue
            sid = statement.get("Sid")
            label = f"{where} statement {i}" + (f" ({sid})" if isinstance(sid, str) and sid
                                                else "")
            problems += [f"{label} {problem}"
                         for problem in _problems(statement, allowed, deploy=use == "deploy")]
    if problems:
        yield "; ".join(problems)


POLICIES: list[Policy] = [iam_no_wildcards]
