"""IAM policy documents built from (actions, resource ARNs) pairs, with no wildcards.

Every policy in the project goes through ``policy_document``. An Allow statement may not use a
wildcard action (``*``, ``dynamodb:*``, ``s3:Get*``) nor a wildcard principal. No statement may
name a resource that covers a whole service or a whole resource type (``*``,
``arn:aws:sqs:eu-west-1:123456789012:*``, ``...:table/*``). A wildcard that narrows a named resource
stays allowed: ``arn:aws:s3:::bucket/*``, ``...:table/orders/index/*``,
``...:log-group:/aws/lambda/f:*``. Deny statements may use wildcard actions and principals: they
only ever take rights away (``deny_insecure_transport``). The one Allow to the wildcard
principal is ``private_api_policy``'s, fenced by the VPC endpoints a private API may be called
through.

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
    # A deploy role's statement: named actions on resources that do not exist yet (``*``).
    provisioning: bool = False

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


def allow_provisioning(actions: Sequence[str], resource: str = "*", *, sid: str | None = None,
                       conditions: Mapping[str, Mapping[str, Any]] | None = None) -> Statement:
    """An Allow for a deploy role, on Resource ``*`` or every resource of a kind: it creates
    resources whose names do not exist before it runs, so only its actions can be named, each
    in full. The role acts in its own account only. The account connection is the one user; the
    guardrails accept such a statement only in a policy tagged ``DEPLOY_POLICY_TAG``."""
    return Statement(actions=tuple(actions), resources=(resource,), sid=sid,
                     conditions=conditions or {}, provisioning=True)


# The tag that marks a policy's use to the guardrails (``iam-no-wildcards``): a deploy policy
# may name Resource "*"; a permissions boundary grants nothing, so its wildcards cap only.
POLICY_USE_TAG = "blueprints:policy-use"
DEPLOY_POLICY_TAG = {POLICY_USE_TAG: "deploy"}
BOUNDARY_POLICY_TAG = {POLICY_USE_TAG: "permissions-boundary"}


def _unscoped(statement: Statement) -> bool:
    if statement.provisioning:
        return statement.effect == "Allow"
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


def rendered(statements: Sequence[Statement]) -> list[dict[str, Any]]:
    """The JSON statements, checked, of statements whose resources are all plain strings (a
    policy known before anything is deployed, which may have to be split by size)."""
    if not all(isinstance(r, str) for s in statements for r in s.resources):
        raise PolicyError("rendered() takes statements with known resources only")
    return [_statement_json(s, [str(r) for r in s.resources]) for s in statements]


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


# --- private REST APIs -----------------------------------------------------------------------

INVOKE = "execute-api:Invoke"
SOURCE_VPCE = "aws:SourceVpce"
VPC_ENDPOINT_ID = re.compile(r"^vpce-[0-9a-f]{8}(?:[0-9a-f]{9})?$")
# An execute-api ARN down to the API: a named region and account, and the API's id, or ``*``
# for the API a resource policy is attached to (its id is not known before it exists).
EXECUTE_API_ARN = re.compile(r"^arn:aws[a-z-]*:execute-api:[a-z]{2}(?:-[a-z]+)+-\d:\d{12}:"
                             r"(?:[a-z0-9]{10}|\*)$")
# What a resource policy's Resource names inside an API: stage/METHOD/path, each part may be *.
API_ROUTE = re.compile(r"^(?:\*|[A-Za-z0-9_-]{1,128})"
                       r"(?:/(?:\*|GET|POST|PUT|PATCH|DELETE|HEAD|OPTIONS)(?:/[\w{}.*+-]*)*)?$")


def private_api_policy(api_arn: pulumi.Input[str], vpc_endpoint_ids: Sequence[pulumi.Input[str]],
                       *, routes: Sequence[str] = ("*",)) -> pulumi.Output[str]:
    """The resource policy of a PRIVATE REST API that only the named VPC endpoints may call.

    Two statements, as AWS documents for private APIs:

    - **Allow** ``execute-api:Invoke`` to every principal (``Principal: *``) on ``routes`` of
      the API (``<stage>/<METHOD>/<path>``, ``*`` for all), **only when** ``aws:SourceVpce`` is
      one of ``vpc_endpoint_ids`` (``StringEquals``);
    - **Deny** ``execute-api:Invoke`` on the whole API (``<api>/*``) to every principal whose
      request did not come through one of them (``StringNotEquals``), so that no other
      statement, and no caller's own IAM policy, can open another path.

    ``api_arn`` is the API's ARN without a stage: its ``execution_arn``, or, for the policy the
    API is created with (its id does not exist yet), ``arn:<partition>:execute-api:<region>:
    <account>:*``; a resource policy only ever governs the API it is attached to, so ``*``
    there names that API and no other. The full form is used rather than AWS's
    ``execute-api:/`` shorthand, which API Gateway stores expanded: the provider would then see
    a changed policy on every preview.

    ``Statement`` refuses the wildcard principal in an Allow, and goes on refusing it: this is
    the one place that admits it, and only fenced by the endpoint condition. The document is
    checked with ``private_api_policy_problems`` before it is returned: an empty endpoint list
    or anything but ``vpce-`` ids raises ``PolicyError`` (once known, for outputs).
    """
    if not vpc_endpoint_ids:
        raise PolicyError("a private API policy needs at least one VPC endpoint id: without "
                          "one, Principal * would be allowed with nothing to fence it")
    if not routes:
        raise PolicyError("a private API policy needs at least one route to allow")
    bad = [route for route in routes if not API_ROUTE.match(route)]
    if bad:
        raise PolicyError(f"routes {bad} are not <stage>/<METHOD>/<path> (each part may be *)")
    if isinstance(api_arn, str):
        _check_api_arn(api_arn)
    for endpoint in vpc_endpoint_ids:
        if isinstance(endpoint, str) and not VPC_ENDPOINT_ID.match(endpoint):
            raise PolicyError(f"{endpoint!r} is not a VPC endpoint id (vpce-...)")
    return pulumi.Output.json_dumps(pulumi.Output.all(api_arn, *vpc_endpoint_ids).apply(
        lambda values: _private_api_document(values[0], list(values[1:]), tuple(routes))))


def _check_api_arn(api_arn: str) -> None:
    if not EXECUTE_API_ARN.match(api_arn):
        raise PolicyError(f"{api_arn!r} is not an API's execute-api ARN "
                          "(arn:<partition>:execute-api:<region>:<account>:<api id or *>)")


def _private_api_document(api_arn: str, endpoint_ids: list[str],
                          routes: tuple[str, ...]) -> dict[str, Any]:
    _check_api_arn(api_arn)
    endpoints = sorted(set(endpoint_ids))
    resources = sorted(f"{api_arn}/{route}" for route in set(routes))
    document: dict[str, Any] = {"Version": "2012-10-17", "Statement": [
        {"Sid": "InvokeThroughTheVpcEndpoints", "Effect": "Allow", "Principal": "*",
         "Action": INVOKE, "Resource": resources[0] if len(resources) == 1 else resources,
         "Condition": {"StringEquals": {SOURCE_VPCE: endpoints}}},
        {"Sid": "DenyEveryOtherPath", "Effect": "Deny", "Principal": "*", "Action": INVOKE,
         "Resource": f"{api_arn}/*",
         "Condition": {"StringNotEquals": {SOURCE_VPCE: endpoints}}},
    ]}
    problems = private_api_policy_problems(document)
    if problems:
        raise PolicyError("; ".join(problems))
    return document


def _listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _wildcard_principal(principal: Any) -> bool:
    if principal == "*":
        return True
    return isinstance(principal, Mapping) and any(
        "*" in _listed(value) for value in principal.values())


def _whole_api(resource: Any) -> bool:
    """Whether ``resource`` is every stage, method and path of one API."""
    return isinstance(resource, str) and (resource == "execute-api:/*" or (
        resource.endswith("/*") and EXECUTE_API_ARN.match(resource[:-2]) is not None))


def private_api_policy_problems(document: Mapping[str, Any]) -> list[str]:
    """What keeps ``document`` from fencing a private API to its VPC endpoints: an Allow to a
    wildcard principal must carry ``StringEquals aws:SourceVpce`` with ``vpce-`` ids, and a Deny
    of ``execute-api:Invoke`` on the whole API must carry ``StringNotEquals aws:SourceVpce``
    with the same ids."""
    problems: list[str] = []
    statements = [s for s in _listed(document.get("Statement")) if isinstance(s, Mapping)]
    allowed: list[set[str]] = []
    denied: list[set[str]] = []
    for index, statement in enumerate(statements):
        condition = statement.get("Condition") or {}
        wildcard = _wildcard_principal(statement.get("Principal"))
        if statement.get("Effect") == "Allow" and wildcard:
            endpoints = _listed((condition.get("StringEquals") or {}).get(SOURCE_VPCE, []))
            if not endpoints:
                problems.append(f"Statement[{index}] allows Principal * without a StringEquals "
                                f"{SOURCE_VPCE} condition: anyone who reaches the API could "
                                "call it")
                continue
            problems += [f"Statement[{index}]: {endpoint!r} is not a VPC endpoint id (vpce-...)"
                         for endpoint in endpoints
                         if not (isinstance(endpoint, str) and VPC_ENDPOINT_ID.match(endpoint))]
            allowed.append(set(map(str, endpoints)))
        elif statement.get("Effect") == "Deny" and wildcard \
                and INVOKE in _listed(statement.get("Action")) \
                and any(map(_whole_api, _listed(statement.get("Resource")))):
            fence = _listed((condition.get("StringNotEquals") or {}).get(SOURCE_VPCE, []))
            if fence:
                denied.append(set(map(str, fence)))
    if not allowed and not problems:
        problems.append("no statement allows the VPC endpoints to invoke the API")
    for fenced in allowed:
        if fenced not in denied:
            problems.append(f"no Deny of {INVOKE} on the whole API for callers whose "
                            f"{SOURCE_VPCE} is not one of {sorted(fenced)}")
    return problems
