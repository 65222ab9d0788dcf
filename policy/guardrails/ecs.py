"""ECS: Container Insights, container logs, no plaintext secrets."""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import lru_cache
from typing import Any

from pulumi_policy import Policy

from .core import MANDATORY, Config, Props, Subject, is_unknown, resource_rule

CLUSTER = "aws:ecs/cluster:Cluster"
TASK_DEFINITION = "aws:ecs/taskDefinition:TaskDefinition"

INSIGHTS_ON = ("enhanced", "enabled")
# Variable names that hold secrets (a pattern, not a secret).
DEFAULT_SECRET_NAMES = r"password|secret|token|api_key|apikey|private_key|credential"  # noqa: S105


def _secret_names(pattern: Any) -> re.Pattern[str]:
    """The configured pattern, case-insensitive; the default when it is not a valid regex."""
    return _compile(pattern if isinstance(pattern, str) and pattern else DEFAULT_SECRET_NAMES)


@lru_cache(maxsize=32)
def _compile(pattern: str) -> re.Pattern[str]:
    try:
        return re.compile(pattern, re.IGNORECASE)
    except re.error:
        return re.compile(DEFAULT_SECRET_NAMES, re.IGNORECASE)


def _cluster_problems(cluster: Subject) -> Iterator[str]:
    settings = cluster.props.elements("settings")
    if is_unknown(settings) or any(is_unknown(s) for s in settings):
        return
    values = []
    for setting in settings:
        name, value = Props(setting).get("name"), Props(setting).get("value")
        if is_unknown(name) or (name == "containerInsights" and is_unknown(value)):
            return
        if name == "containerInsights":
            values.append(value)
    if any(v in INSIGHTS_ON for v in values):
        return
    if values:
        shown = ", ".join(str(v) for v in values)
        yield f"setting containerInsights is {shown}; set it to enhanced (or enabled)"
    else:
        yield ("Container Insights is not on; add the setting {name: containerInsights, value: "
               "enhanced} (or enabled)")


def _container_problems(container: Any, index: int, secret_names: re.Pattern[str],
                        ) -> Iterator[str]:
    props = Props(container)
    name = props.get("name")
    label = f"container {name}" if isinstance(name, str) else f"container #{index}"
    logging = props.get("logConfiguration")
    driver = props.get("logConfiguration", "logDriver")
    if not is_unknown(logging) and not is_unknown(driver) and not driver:
        yield (f"{label} has no logConfiguration; send its logs with logDriver awslogs (or "
               "awsfirelens) to a log group with a retention")
    variables = props.elements("environment")
    for variable in [] if is_unknown(variables) else variables:
        variable_name, value = Props(variable).get("name"), Props(variable).get("value")
        if not isinstance(variable_name, str) or not secret_names.search(variable_name):
            continue
        if isinstance(value, str) and value.startswith("arn:"):
            continue  # The ARN of a secret or parameter, not the secret itself.
        yield (f"{label} sets {variable_name} in environment, where anyone who can describe "
               "the task definition reads it; move it to secrets (valueFrom a Secrets Manager "
               "secret or an SSM SecureString parameter)")


@resource_rule(
    "ecs-insights-logging-secrets",
    description="ECS clusters have Container Insights on; every container of a task "
                "definition logs, and takes secrets from `secrets`, not `environment`.",
    anchors=("AwsSolutions-ECS4", "AwsSolutions-ECS7", "AwsSolutions-ECS2"),
    level=MANDATORY,
    types={CLUSTER, TASK_DEFINITION},
    config={
        "secretNamePattern": {
            "type": "string",
            "default": DEFAULT_SECRET_NAMES,
            "description": "Regular expression, matched case-insensitively anywhere in an "
                           "environment variable's name, for the names that hold secrets. A "
                           "variable whose value is an ARN (of a secret) passes.",
        },
    },
)
def ecs_insights_logging_secrets(subject: Subject, config: Config) -> Iterator[str]:
    """Without Container Insights and container logs a failing task leaves no trace; a secret in
    ``environment`` is plain text in the task definition for anyone who can describe it.

    Clusters need the containerInsights setting at enhanced or enabled. Task definitions'
    containerDefinitions (a JSON string) give every container a logConfiguration with a
    logDriver, and no environment variable whose name matches ``secretNamePattern``, unless its
    value is an ARN (a reference to the secret, not the secret). cdk-nag's ECS2 flags every
    environment variable; this rule only flags the ones that look like secrets.

    Mandatory: cdk-nag registers AwsSolutions-ECS4 and ECS7 at ERROR.
    """
    if subject.type == CLUSTER:
        yield from _cluster_problems(subject)
        return
    secret_names = _secret_names(config.get("secretNamePattern"))
    containers = subject.props.elements("containerDefinitions")
    for i, container in enumerate([] if is_unknown(containers) else containers):
        if not is_unknown(container):
            yield from _container_problems(container, i, secret_names)


POLICIES: list[Policy] = [ecs_insights_logging_secrets]
