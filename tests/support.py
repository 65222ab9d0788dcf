"""Shared test values and helpers: stage defaults, readers for JSON-string inputs, a service
built alone in a mock stack, and the stacks' plans made once per test process."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

import pulumi
import pulumi_aws as aws

from components.accounts import Providers
from components.config import Defaults, FunctionDefaults
from components.environment import EnvironmentContract
from components.services import ServiceComponent, ServiceContext
from tools.mock_runtime import Resource, StackConfig, StackRun, reveal, run_program, run_stack

ACCOUNT = "111111111111"
REGION = "eu-west-1"

DEV = Defaults(
    stage="dev",
    region=REGION,
    account_id=ACCOUNT,
    log_retention_days=14,
    deletion_protection=False,
    protect=False,
    kms_deletion_window_days=7,
    functions=FunctionDefaults(runtime="python3.13", architecture="arm64",
                               powertools_layer_version=27, log_level="INFO",
                               debug_log_sample_rate=0.1),
)
PROD = replace(DEV, stage="prod", log_retention_days=365, deletion_protection=True,
               protect=True, kms_deletion_window_days=30)


@functools.cache
def planned(stack: str) -> StackRun:
    """The plan of ``Pulumi.<stack>.yaml`` as it is, made once per test process (a plan of the
    dev stack takes seconds): tests read it and never change it."""
    return run_stack(stack)


def json_input(resource: Resource, key: str) -> Any:
    """An input that AWS takes as a JSON string (policies, redrive), parsed."""
    value = reveal(resource.inputs[key])
    return json.loads(value) if isinstance(value, str) else value


def statements(resource: Resource, key: str = "policy") -> list[dict[str, Any]]:
    """The statements of a policy document input, always as a list."""
    document = json_input(resource, key)
    found = document["Statement"]
    return found if isinstance(found, list) else [found]


# The environment's key, for a service tested alone: an ARN, since IAM statements name it.
PLACEHOLDER_KEY = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/00000000-0000-4000-8000-00000000ce11"


def placeholder_contract(**values: Any) -> EnvironmentContract:
    """An environment contract for a service tested alone: ``values`` by field name, the key
    ``PLACEHOLDER_KEY`` and every other field ``"unused"``."""
    values = {"kms_key_arn": PLACEHOLDER_KEY, **values}
    return EnvironmentContract(**{name: pulumi.Output.from_input(values.get(name, "unused"))
                                  for name in EnvironmentContract.__dataclass_fields__})


def run_service(make: Callable[[ServiceContext, pulumi.ResourceOptions], ServiceComponent], *,
                defaults: Defaults = DEV, api_keys: Mapping[str, str] | None = None,
                environment: Mapping[str, Any] | None = None) -> StackRun:
    """One service in a stack of its own, with a placeholder environment contract (holding
    ``environment``'s values) and the ``apiKeys`` secret given; its exports (and secret
    exports) are the stack's ``exports`` (and ``secrets``) outputs."""
    def program() -> None:
        provider = aws.Provider("regional", region=REGION)
        contract = placeholder_contract(**(environment or {}))
        context = ServiceContext(defaults, contract, Providers(regional=provider,
                                                               us_east_1=provider),
                                 api_keys=None if api_keys is None
                                 else pulumi.Output.secret(api_keys))
        service = make(context, pulumi.ResourceOptions(provider=provider))
        pulumi.export("exports", service.exports)
        pulumi.export("secrets", pulumi.Output.secret(service.secret_exports))

    config = StackConfig({"aws:region": REGION, "blueprints:account": json.dumps({"id": ACCOUNT})},
                         ())
    return run_program(program, config=config)
