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

from components.services.async_analytics import AsyncAnalytics, AsyncAnalyticsSettings
from components.services.base import ServiceComponent, ServiceContext
from components.services.container_api import ContainerApi, ContainerApiSettings
from components.services.document_watermark import DocumentWatermark, DocumentWatermarkSettings
from components.services.entity_resolution import EntityResolution, EntityResolutionSettings
from components.services.event_management import EventManagement, EventManagementSettings
from components.services.header_versioning import HeaderVersionedApi, HeaderVersioningSettings
from components.services.microservice_cache import MicroserviceCache, MicroserviceCacheSettings
from components.services.private_api import PrivateApi, PrivateApiSettings
from components.services.query_key_api import QueryKeyApi, QueryKeyApiSettings

__all__ = ["CATALOG", "CatalogEntry", "ServiceComponent", "ServiceContext", "build_services"]


@dataclass(frozen=True)
class CatalogEntry:
    """One architecture of the catalog: its settings type and its builder."""

    settings: type
    build: Callable[[str, Any, ServiceContext, pulumi.ResourceOptions], ServiceComponent]


CATALOG: Mapping[str, CatalogEntry] = {
    "headerVersioning": CatalogEntry(HeaderVersioningSettings, HeaderVersionedApi),
    "queryKeyApi": CatalogEntry(QueryKeyApiSettings, QueryKeyApi),
    "entityResolution": CatalogEntry(EntityResolutionSettings, EntityResolution),
    "documentWatermark": CatalogEntry(DocumentWatermarkSettings, DocumentWatermark),
    "eventManagement": CatalogEntry(EventManagementSettings, EventManagement),
    "asyncAnalytics": CatalogEntry(AsyncAnalyticsSettings, AsyncAnalytics),
    "privateApi": CatalogEntry(PrivateApiSettings, PrivateApi),
    "containerApi": CatalogEntry(ContainerApiSettings, ContainerApi),
    "microserviceCache": CatalogEntry(MicroserviceCacheSettings, MicroserviceCache),
}


def build_services(services: Mapping[str, Any],
                   context: ServiceContext) -> dict[str, ServiceComponent]:
    """Builds every service the stack switched on, on the stack's regional provider, and
    finishes each (``ServiceComponent.finish``): its functions' reserved concurrency checked
    against config, its alarms and its dashboard made from what it built. This is the only way
    into a stack, so no service goes without them."""
    options = pulumi.ResourceOptions(provider=context.providers.regional)
    built = {}
    for name, settings in services.items():
        service = CATALOG[name].build(name, settings, context, options)
        service.finish(context)
        built[name] = service
    return built
