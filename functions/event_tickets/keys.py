"""The keys of event management's two tables, their indexes, and the formats they hold.

``events`` table (single-table; hash ``pk``, range ``sk``):

=================  =========================  ==========================  =====================
item               ``pk``                     ``sk``                      index keys
=================  =========================  ==========================  =====================
session            ``EVENT#<eventId>``        ``SESSION#<sessionId>``     ``byStart``: ``gsi1pk``
                                                                          ``SESSIONS``, ``gsi1sk``
                                                                          ``<startsAt>#<id>``
registration       ``SESSION#<sessionId>``    ``GUEST#<guestId>``         ``byGuest``: ``gsi2pk``
                                                                          ``GUEST#<guestId>``,
                                                                          ``gsi2sk``
                                                                          ``SESSION#<sessionId>``
=================  =========================  ==========================  =====================

``requests`` table: hash ``pk`` ``EVENT#<eventId>``, range ``sk``
``REQUEST#<createdAt>#<requestId>`` (so a query in reverse is newest first).

Times are ISO 8601 in UTC with a ``Z``; ``timestamp`` writes them to the millisecond, which
sorts as text in time order.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

EVENT_PREFIX = "EVENT#"
SESSION_PREFIX = "SESSION#"
GUEST_PREFIX = "GUEST#"
REQUEST_PREFIX = "REQUEST#"
SESSIONS_PARTITION = "SESSIONS"
BY_START = "byStart"
BY_GUEST = "byGuest"

# Session and event ids come from the stack's config; guest ids are Cognito subs (UUIDs), or
# a federated user's sub; both stay within these patterns, which keep '#' (the key separator)
# and anything a header or a log could trip on out.
IDENTIFIER = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
GUEST_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:@-]{0,127}")


def event_key(event_id: str) -> str:
    return f"{EVENT_PREFIX}{event_id}"


def session_key(session_id: str) -> str:
    return f"{SESSION_PREFIX}{session_id}"


def guest_key(guest_id: str) -> str:
    return f"{GUEST_PREFIX}{guest_id}"


def session_item_key(event_id: str, session_id: str) -> dict[str, str]:
    """The primary key of a session item."""
    return {"pk": event_key(event_id), "sk": session_key(session_id)}


def registration_item_key(session_id: str, guest_id: str) -> dict[str, str]:
    """The primary key of a guest's registration for a session."""
    return {"pk": session_key(session_id), "sk": guest_key(guest_id)}


def start_sort_key(starts_at: str, session_id: str) -> str:
    """``byStart``'s range key of a session."""
    return f"{starts_at}#{session_id}"


def request_sort_key(created_at: str, request_id: str) -> str:
    """The requests table's range key."""
    return f"{REQUEST_PREFIX}{created_at}#{request_id}"


def timestamp(moment: datetime) -> str:
    """``moment`` in UTC as ISO 8601 to the millisecond with a ``Z``."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_time(text: str) -> datetime:
    """An ISO 8601 time with a zone (``Z`` or an offset), in UTC; ``ValueError`` otherwise."""
    if not isinstance(text, str) or not text.isascii():
        raise ValueError("not an ISO 8601 time with a zone")
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError("not an ISO 8601 time with a zone") from None
    if moment.tzinfo is None:
        raise ValueError("not an ISO 8601 time with a zone")
    return moment.astimezone(UTC)
