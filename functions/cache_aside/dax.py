"""Profiles read through DAX when the function is given a cluster, DynamoDB otherwise.

``DAX_ENDPOINT`` is the cluster's TLS discovery endpoint (``daxs://<cluster address>``). The
DAX client (``amazon-dax-client``) connects when it is built, so it is built on first use, and
a cluster that cannot be reached, or a client library that is missing, leaves the function on
DynamoDB (logged once) rather than failing it. A read that fails on DAX is answered from
DynamoDB too.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable
from typing import Any

LOG = logging.getLogger("cache_aside.dax")


def dax_table(endpoint: str, region: str, table_name: str) -> Any:
    """The table through the DAX cluster at ``endpoint`` (raises when it cannot connect)."""
    client = importlib.import_module("amazondax").AmazonDaxClient
    return client.resource(endpoint_url=endpoint, region_name=region).Table(table_name)


class ProfileStore:
    """``get_item`` on the profiles table: through DAX when it can, else DynamoDB's
    ``table``."""

    def __init__(self, table: Any, endpoint: str | None, region: str,
                 build: Callable[[str, str, str], Any] = dax_table) -> None:
        self.table = table
        self.endpoint = endpoint
        self.region = region
        self._build = build
        self._dax: Any = None
        self._dax_failed = not endpoint

    @property
    def through_dax(self) -> bool:
        return self._dax is not None

    def _through(self) -> Any:
        if self._dax is None and not self._dax_failed and self.endpoint:
            try:
                self._dax = self._build(self.endpoint, self.region, self.table.name)
            except Exception as error:  # noqa: BLE001 (any failure leaves DynamoDB serving)
                self._dax_failed = True
                LOG.warning("DAX is not reachable; profiles are read from DynamoDB",
                            extra={"errorType": type(error).__name__})
        return self._dax

    def get_item(self, **request: Any) -> Any:
        dax = self._through()
        if dax is not None:
            try:
                return dax.get_item(**request)
            except Exception as error:  # noqa: BLE001 (DynamoDB answers instead)
                LOG.warning("A DAX read failed; answered from DynamoDB",
                            extra={"errorType": type(error).__name__})
        return self.table.get_item(**request)
