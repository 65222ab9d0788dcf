"""The service catalog: the architectures a stack's ``services`` section can switch on.

Each entry names the settings dataclass of the service's config section (validated by
``components.config.load``) and the function that builds the service. Services are the
development teams' part of a stack: they receive the stack defaults, the environment contract
and the providers, and never create providers or environment resources of their own.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import pulumi

from components.accounts import Providers
from components.config import Defaults
from components.environment import EnvironmentContract


@dataclass(frozen=True)
class ServiceContext:
    """What every service is built with."""

    defaults: Defaults
    environment: EnvironmentContract
    providers: Providers


@dataclass(frozen=True)
class CatalogEntry:
    """One architecture of the catalog: its settings type and its builder."""

    settings: type
    build: Callable[[str, Any, ServiceContext, pulumi.ResourceOptions], pulumi.ComponentResource]


# Architectures register here as they land (issues #4 onwards).
CATALOG: Mapping[str, CatalogEntry] = {}


def build_services(services: Mapping[str, Any],
                   context: ServiceContext) -> dict[str, pulumi.ComponentResource]:
    """Builds every service the stack switched on, on the stack's regional provider."""
    options = pulumi.ResourceOptions(provider=context.providers.regional)
    return {name: CATALOG[name].build(name, settings, context, options)
            for name, settings in services.items()}
