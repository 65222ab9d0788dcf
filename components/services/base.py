"""What every catalog service is built with, and what it gives back."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pulumi

from components.accounts import Providers
from components.config import Defaults
from components.environment import EnvironmentContract


@dataclass(frozen=True)
class ServiceContext:
    """The stack's defaults, its environment, its providers (regional and us-east-1), and the
    secret API key values of ``blueprints:apiKeys`` (consumer name -> value), if any."""

    defaults: Defaults
    environment: EnvironmentContract
    providers: Providers
    api_keys: pulumi.Output[Mapping[str, str]] | None = None


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
