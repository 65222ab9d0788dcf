"""Step Functions: tracing and full logging."""

from __future__ import annotations

from collections.abc import Iterator

from pulumi_policy import Policy

from .core import MANDATORY, Config, Subject, is_unknown, resource_rule

STATE_MACHINE = "aws:sfn/stateMachine:StateMachine"


@resource_rule(
    "stepfunctions-tracing-logging",
    description="State machines trace with X-Ray and log ALL execution events to a CloudWatch "
                "log group.",
    anchors=("WS5000", "AwsSolutions-SF1", "AwsSolutions-SF2",
             "Serverless-StepFunctionStateMachineXray"),
    level=MANDATORY,
    types={STATE_MACHINE},
)
def stepfunctions_tracing_logging(machine: Subject, config: Config) -> Iterator[str]:
    """Without traces and full logs, a failed execution cannot be followed or audited.

    Mandatory: cdk-nag registers AwsSolutions-SF1 and AwsSolutions-SF2 at ERROR (serverless-rules
    WS5000 alone would only warn).
    """
    tracing = machine.props.get("tracingConfiguration", "enabled")
    if not is_unknown(tracing) and tracing is not True:
        state = "false" if tracing is False else "not set"
        yield f"tracingConfiguration.enabled is {state}; set it to true"

    logging = machine.props.get("loggingConfiguration")
    if is_unknown(logging):
        return
    if logging is None:
        yield ("loggingConfiguration is not set; set level ALL and a logDestination (a "
               "CloudWatch log group ARN ending in :*)")
        return
    level = machine.props.get("loggingConfiguration", "level")
    if not is_unknown(level) and level != "ALL":
        yield f"loggingConfiguration.level is {level or 'not set'}; set it to ALL"
    destination = machine.props.get("loggingConfiguration", "logDestination")
    if not is_unknown(destination) and not destination:
        yield ("loggingConfiguration.logDestination is not set; set it to a CloudWatch log group "
               "ARN ending in :*")


POLICIES: list[Policy] = [stepfunctions_tracing_logging]
