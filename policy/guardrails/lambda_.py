"""Lambda functions, their permissions, event sources and logs."""

from __future__ import annotations

from collections.abc import Iterator

from pulumi_policy import Policy

from .core import ADVISORY, Config, Subject, is_unknown, resource_rule

FUNCTION = "aws:lambda/function:Function"


@resource_rule(
    "lambda-tracing-active",
    description="Lambda functions send traces to X-Ray (tracingConfig.mode Active).",
    anchors=("WS1000", "Serverless-LambdaTracing"),
    level=ADVISORY,
    types={FUNCTION},
)
def lambda_tracing_active(function: Subject, config: Config) -> Iterator[str]:
    """Without active tracing a slow or failing call cannot be followed across services."""
    mode = function.props.get("tracingConfig", "mode")
    if not is_unknown(mode) and mode != "Active":
        yield f"tracingConfig.mode is {mode or 'not set'}; set it to Active"


POLICIES: list[Policy] = [lambda_tracing_active]
