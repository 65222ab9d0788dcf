"""EventBridge: targets with DLQs, closed bus policies."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from pulumi_policy import Policy

from .core import (
    MANDATORY,
    Config,
    Subject,
    documents,
    everyone,
    is_unknown,
    resource_rule,
)

EVENT_TARGET = "aws:cloudwatch/eventTarget:EventTarget"
EVENT_BUS_POLICY = "aws:cloudwatch/eventBusPolicy:EventBusPolicy"
EVENT_PERMISSION = "aws:cloudwatch/eventPermission:EventPermission"

# Condition keys that narrow a statement to an organization or to accounts (lower case: IAM
# condition keys are case-insensitive).
NARROWING_KEYS = frozenset({
    "aws:principalorgid", "aws:principalorgpaths", "aws:principalaccount", "aws:sourceaccount",
})
# Operators under which such a key narrows. ``...IfExists`` and ``ForAllValues:`` hold for a
# caller that does not carry the key at all, and the negated operators let everyone else in.
NARROWING_OPERATORS = frozenset({
    "stringequals", "stringequalsignorecase", "stringlike",
    "foranyvalue:stringequals", "foranyvalue:stringequalsignorecase", "foranyvalue:stringlike",
})


def _narrow_values(value: Any) -> bool:
    """Whether condition values name something: not empty, and not only wildcards."""
    values = value if isinstance(value, list) else [value]
    if any(is_unknown(v) for v in values):
        return True
    return bool(values) and all(isinstance(v, str) and v.strip("*?") for v in values)


def narrows_to_organization_or_account(condition: Any) -> bool:
    """Whether an IAM ``Condition`` limits callers to an organization or to named accounts.

    A condition that is not known yet counts as narrowing: the rule says nothing until it is.
    """
    if is_unknown(condition):
        return True
    if not isinstance(condition, Mapping):
        return False
    for operator, clauses in condition.items():
        if is_unknown(clauses):
            return True
        if str(operator).lower() not in NARROWING_OPERATORS or not isinstance(clauses, Mapping):
            continue
        for key, value in clauses.items():
            if str(key).lower() in NARROWING_KEYS and _narrow_values(value):
                return True
    return False


@resource_rule(
    "eventbridge-target-dlq",
    description="EventBridge rule targets send events they cannot deliver to a dead-letter "
                "queue (deadLetterConfig.arn).",
    anchors=("ES4000", "Serverless-EventBusDLQ"),
    level=MANDATORY,
    types={EVENT_TARGET},
)
def eventbridge_target_dlq(target: Subject, config: Config) -> Iterator[str]:
    """Without a DLQ, an event that exhausts its retries is dropped and leaves no trace.

    Mandatory: serverless-rules ES4000 is an Error-level rule (and cdk-nag's
    Serverless-EventBusDLQ is registered at ERROR).
    """
    arn = target.props.get("deadLetterConfig", "arn")
    if is_unknown(arn) or arn:
        return
    if target.props.get("deadLetterConfig") is None:
        yield ("deadLetterConfig is not set; set deadLetterConfig.arn to an SQS queue that keeps "
               "the events this target cannot receive")
    else:
        yield ("deadLetterConfig.arn is empty; set it to the ARN of an SQS queue that keeps the "
               "events this target cannot receive")


def _open_statements(policy: Any) -> Iterator[str]:
    """What is wrong with each Allow statement that lets anyone in without narrowing them."""
    for index, statement in enumerate(documents(policy)):
        if statement.get("Effect") != "Allow":
            continue
        label = f"statement {statement.get('Sid') or index}"
        if narrows_to_organization_or_account(statement.get("Condition")):
            continue
        not_principal = statement.get("NotPrincipal")
        if not_principal is not None and not is_unknown(not_principal):
            yield (f"{label} allows every principal outside NotPrincipal; name the allowed "
                   "accounts in Principal instead")
        elif everyone(statement.get("Principal")):
            yield (f"{label} allows Principal * with no condition that narrows it; add a "
                   "Condition on aws:PrincipalOrgID, aws:PrincipalAccount or aws:SourceAccount, "
                   "or name the accounts as principals")


@resource_rule(
    "eventbridge-bus-policy-closed",
    description="Event bus policies and permissions never let any account in unless a "
                "condition narrows it to an organization or named accounts.",
    anchors=("AwsSolutions-EVB1",),
    level=MANDATORY,
    types={EVENT_BUS_POLICY, EVENT_PERMISSION},
)
def eventbridge_bus_policy_closed(subject: Subject, config: Config) -> Iterator[str]:
    """An open bus lets any AWS account put events that the bus's rules then act on.

    Mandatory: cdk-nag registers AwsSolutions-EVB1 at ERROR.
    """
    if subject.type == EVENT_BUS_POLICY:
        yield from _open_statements(subject.props.get("policy"))
        return

    if subject.props.get("principal") != "*":
        return
    condition = subject.props.get("condition")
    if is_unknown(condition):
        return
    key, value = subject.props.get("condition", "key"), subject.props.get("condition", "value")
    kind = subject.props.get("condition", "type")
    if any(is_unknown(part) for part in (key, kind, value)):
        return
    if not (key and kind and _narrow_values(value)):
        yield ("principal is * with no condition; add condition {key: aws:PrincipalOrgID, "
               "type: StringEquals, value: <organization id>}, or set principal to an account id")


POLICIES: list[Policy] = [eventbridge_target_dlq, eventbridge_bus_policy_closed]
