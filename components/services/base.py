"""What every catalog service is built with, and what it gives back."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi

from components.accounts import Providers
from components.config import Defaults
from components.environment import EnvironmentContract


@dataclass(frozen=True)
class ServiceContext:
    """The stack's defaults, its environment and its providers (regional and us-east-1)."""

    defaults: Defaults
    environment: EnvironmentContract
    providers: Providers


class ServiceComponent(pulumi.ComponentResource):
    """A catalog architecture. ``exports`` are the outputs the stack exports under its name."""

    exports: dict[str, Any]
