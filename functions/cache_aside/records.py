"""The objects the services cache, read from their stores (DynamoDB, or DAX for profiles).

``table`` is a DynamoDB ``Table`` (boto3's resource, or the DAX client's, which has the same
interface); the handlers make them. Values come back as JSON's (numbers from ``Decimal``)."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

BILLING_FIELDS = ("accountId", "balance", "currency", "loans", "status", "updatedAt")
PROFILE_FIELDS = ("profileId", "name", "tier", "preferences", "updatedAt")


def billing_summary(table: Any, account_id: str) -> dict[str, Any] | None:
    """The account's billing summary (its loans, status and outstanding balance)."""
    item = table.get_item(Key={"accountId": account_id}).get("Item")
    return None if item is None else _fields(item, BILLING_FIELDS)


def profile(table: Any, profile_id: str) -> dict[str, Any] | None:
    """The customer profile (never a field outside ``PROFILE_FIELDS``)."""
    item = table.get_item(Key={"profileId": profile_id}).get("Item")
    return None if item is None else _fields(item, PROFILE_FIELDS)


def _fields(item: Mapping[str, Any], names: tuple[str, ...]) -> dict[str, Any]:
    return {name: plain(item[name]) for name in names if name in item}


def plain(value: Any) -> Any:
    """DynamoDB's values as JSON's: ``Decimal`` as int or float, sets as sorted lists."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, Mapping):
        return {str(name): plain(item) for name, item in value.items()}
    if isinstance(value, list):
        return [plain(item) for item in value]
    if isinstance(value, set | frozenset):
        return sorted(plain(item) for item in value)
    return value
