"""What every catalog service is built with, and what it gives back."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi

from components.accounts import Providers
from components.config import Defaults
from components.environment import EnvironmentContract


@dataclass(frozen=True)
class ServiceContext:
    """The stack's defaults, its environment, its providers (regional and us-east-1), and the
    secret API key values of ``blueprints:apiKeys`` (consumer name -> value), if any.

    ``account_settings`` are the account-wide settings the environment makes in this same stack
    (API Gateway's CloudWatch role): a REST stage with execution or access logging fails to
    create before them, so every REST stage depends on them. A services stack that reads its
    environment from another stack has none: that stack is deployed first.
    """

    defaults: Defaults
    environment: EnvironmentContract
    providers: Providers
    api_keys: pulumi.Output[Mapping[str, str]] | None = None
    account_settings: Sequence[pulumi.Resource] = ()


class ServiceComponent(pulumi.ComponentResource):
    """A catalog architecture. The stack exports ``exports`` under the service's name, and
    ``secret_exports`` (key values and the like) apart, as ``<name>Secrets``, so that reading the
    plain outputs never needs ``--show-secrets``."""

    exports: dict[str, Any]
    secret_exports: dict[str, Any]

    def __init__(self, t: str, name: str, props: Any = None,
                 opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(t, name, props, opts)
        self.exports = {}
        self.secret_exports = {}
