"""The QR ticket token: a registration signed with a KMS HMAC key.

Format: ``EVT1.<payload>.<mac>``, both parts unpadded base64url. The payload is compact JSON
``{"r": registrationId, "s": sessionId, "g": guestId, "exp": epoch seconds}``; the MAC is
KMS ``GenerateMac`` (``HMAC_SHA_256``) over the ASCII bytes of ``EVT1.<payload>``, and
``VerifyMac`` checks it, so the key never leaves KMS and only a holder of ``kms:GenerateMac``
on it can make a token.

``read_token`` checks, in order: the shape (prefix, three parts, canonical base64url, a MAC of
32 bytes, at most ``MAX_TOKEN_LENGTH`` characters), the MAC (one ``VerifyMac`` call, made only
for a well-shaped token), then the payload (the four fields, their types and patterns) and its
expiry against ``now``. Every failure is the same ``InvalidTicketError``: a caller never learns
which check refused a code. KMS failures other than an invalid MAC (throttling, a disabled key)
are not about the token and propagate as botocore's ``ClientError``.

Not here: whether the registration still exists, or was checked in (the check-in route asks the
table).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError  # type: ignore[import-untyped]

from event_tickets.keys import GUEST_ID, IDENTIFIER

VERSION = "EVT1"
MAC_ALGORITHM = "HMAC_SHA_256"
MAC_BYTES = 32
MAX_TOKEN_LENGTH = 1024
INVALID_MAC = "KMSInvalidMacException"
_BASE64URL = re.compile(r"[A-Za-z0-9_-]+")


class InvalidTicketError(ValueError):
    """The token is not a valid, unexpired ticket signed with the key (never says why)."""

    def __init__(self) -> None:
        super().__init__("Invalid code")


@dataclass(frozen=True)
class Ticket:
    """What a valid token says: the registration, its session and guest, and its expiry."""

    registration_id: str
    session_id: str
    guest_id: str
    expires_at: int


def make_token(kms: Any, key_id: str, *, registration_id: str, session_id: str,
               guest_id: str, expires_at: int) -> str:
    """A signed token for the registration, valid until ``expires_at`` (epoch seconds)."""
    ticket = Ticket(registration_id, session_id, guest_id, int(expires_at))
    if not _valid_ticket(ticket):
        raise ValueError("a ticket needs a UUID registration id, and a session and guest id "
                         "within their patterns")
    payload = json.dumps({"r": ticket.registration_id, "s": ticket.session_id,
                          "g": ticket.guest_id, "exp": ticket.expires_at},
                         separators=(",", ":"))
    signed = f"{VERSION}.{_encode(payload.encode('utf-8'))}"
    answer = kms.generate_mac(KeyId=key_id, MacAlgorithm=MAC_ALGORITHM,
                              Message=signed.encode("ascii"))
    return f"{signed}.{_encode(answer['Mac'])}"


def read_token(kms: Any, key_id: str, token: Any, now: datetime | float) -> Ticket:
    """The ticket in ``token`` when its MAC verifies with the key and it has not expired at
    ``now``; ``InvalidTicketError`` otherwise."""
    signed, mac = _split(token)
    try:
        kms.verify_mac(KeyId=key_id, MacAlgorithm=MAC_ALGORITHM, Message=signed.encode("ascii"),
                       Mac=mac)
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") == INVALID_MAC:
            raise InvalidTicketError from None
        raise
    ticket = _ticket(signed.split(".", 1)[1])
    moment = now.timestamp() if isinstance(now, datetime) else float(now)
    if ticket.expires_at <= moment:
        raise InvalidTicketError
    return ticket


def _split(token: Any) -> tuple[str, bytes]:
    """The signed part and the MAC of a well-shaped token."""
    if not isinstance(token, str) or len(token) > MAX_TOKEN_LENGTH:
        raise InvalidTicketError
    parts = token.split(".")
    if len(parts) != 3 or parts[0] != VERSION:
        raise InvalidTicketError
    _decode(parts[1])
    mac = _decode(parts[2])
    if len(mac) != MAC_BYTES:
        raise InvalidTicketError
    return f"{parts[0]}.{parts[1]}", mac


def _ticket(encoded_payload: str) -> Ticket:
    try:
        payload = json.loads(_decode(encoded_payload))
    except ValueError:
        raise InvalidTicketError from None
    if not isinstance(payload, dict) or set(payload) != {"r", "s", "g", "exp"}:
        raise InvalidTicketError
    expires_at = payload["exp"]
    if not isinstance(expires_at, int) or isinstance(expires_at, bool):
        raise InvalidTicketError
    ticket = Ticket(payload["r"], payload["s"], payload["g"], expires_at)
    if not _valid_ticket(ticket):
        raise InvalidTicketError
    return ticket


def _valid_ticket(ticket: Ticket) -> bool:
    if not all(isinstance(value, str) for value in
               (ticket.registration_id, ticket.session_id, ticket.guest_id)):
        return False
    try:
        canonical = str(uuid.UUID(ticket.registration_id)) == ticket.registration_id
    except ValueError:
        return False
    return canonical and IDENTIFIER.fullmatch(ticket.session_id) is not None \
        and GUEST_ID.fullmatch(ticket.guest_id) is not None


def _encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _decode(text: str) -> bytes:
    """Unpadded base64url, canonical only (one text per byte string)."""
    if not _BASE64URL.fullmatch(text):
        raise InvalidTicketError
    try:
        data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise InvalidTicketError from None
    if _encode(data) != text:
        raise InvalidTicketError
    return data
