"""The cached objects' keys and the events that tell the cache manager about changes.

Every key starts with the object's kind; its id is checked before it becomes part of a key,
so that no request can name another kind's key (or a pattern)."""

from __future__ import annotations

import re

# Ids are what a client types in a path: letters, digits, '-' and '_', 1 to 64 of them.
IDENTIFIER = re.compile(r"[A-Za-z0-9_-]{1,64}")
BILLING = "billing"
PROFILE = "profile"

# What the payment service and the profile refresher publish (EventBridge ``source`` and
# ``detail-type``); the cache manager's rule matches exactly these.
PAYMENT_SOURCE = "blueprints.cache.payments"
PROFILE_SOURCE = "blueprints.cache.profiles"
PAYMENT_PROCESSED = "payment_processed"
PROFILE_CHANGED = "profile_changed"


def is_identifier(value: object) -> bool:
    return isinstance(value, str) and IDENTIFIER.fullmatch(value) is not None


def billing_key(account_id: str) -> str:
    """The cached billing summary of an account."""
    return _key(BILLING, account_id)


def profile_key(profile_id: str) -> str:
    """The cached profile."""
    return _key(PROFILE, profile_id)


def _key(kind: str, identifier: str) -> str:
    if not is_identifier(identifier):
        raise ValueError(f"a {kind} id must be 1 to 64 letters, digits, '-' or '_'")
    return f"{kind}:{identifier}"
