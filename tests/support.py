"""Shared test values and helpers: stage defaults and readers for JSON-string inputs."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

from components.config import Defaults, FunctionDefaults
from tools.mock_runtime import Resource, reveal

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


def json_input(resource: Resource, key: str) -> Any:
    """An input that AWS takes as a JSON string (policies, redrive), parsed."""
    value = reveal(resource.inputs[key])
    return json.loads(value) if isinstance(value, str) else value


def statements(resource: Resource, key: str = "policy") -> list[dict[str, Any]]:
    """The statements of a policy document input, always as a list."""
    document = json_input(resource, key)
    found = document["Statement"]
    return found if isinstance(found, list) else [found]
