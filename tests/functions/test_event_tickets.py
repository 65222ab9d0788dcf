"""The QR ticket token against moto's KMS (GenerateMac/VerifyMac with an HMAC key), the table
keys, and the QR drawing."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
import segno
from botocore.exceptions import ClientError
from botocore.stub import Stubber
from event_tickets import keys, qr
from event_tickets.tokens import InvalidTicketError, Ticket, make_token, read_token
from moto import mock_aws

from tests.functions.event_management_support import create_hmac_key, set_aws_environment
from tests.functions.events import REGION

NOW = datetime(2026, 11, 26, 15, 0, tzinfo=UTC)
EXPIRES = int((NOW + timedelta(days=1)).timestamp())
REGISTRATION = "3f2a9c1b-7d4e-4a6b-9c8d-1e2f3a4b5c6d"
TICKET = Ticket(REGISTRATION, "keynote", "6f1c9d0e-2b3a-4c5d-8e7f-0a1b2c3d4e5f", EXPIRES)


@pytest.fixture
def kms(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Any, str, str]]:
    """moto's KMS with the service's HMAC key and another one."""
    set_aws_environment(monkeypatch)
    with mock_aws():
        client = boto3.client("kms", region_name=REGION)
        yield client, create_hmac_key(client), create_hmac_key(client)


def token_for(kms: Any, key_id: str, ticket: Ticket = TICKET) -> str:
    return make_token(kms, key_id, registration_id=ticket.registration_id,
                      session_id=ticket.session_id, guest_id=ticket.guest_id,
                      expires_at=ticket.expires_at)


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def test_a_token_reads_back_as_its_ticket(kms: tuple[Any, str, str]) -> None:
    client, key, _ = kms
    token = token_for(client, key)

    assert read_token(client, key, token, NOW) == TICKET
    version, payload, mac = token.split(".")
    assert version == "EVT1"
    assert json.loads(unb64(payload)) == {"r": REGISTRATION, "s": "keynote",
                                          "g": TICKET.guest_id, "exp": EXPIRES}
    assert len(unb64(mac)) == 32
    assert "=" not in token


def test_the_mac_is_the_keys_hmac_over_the_signed_part(kms: tuple[Any, str, str]) -> None:
    client, key, _ = kms
    token = token_for(client, key)
    signed, mac = token.rsplit(".", 1)

    expected = client.generate_mac(KeyId=key, MacAlgorithm="HMAC_SHA_256",
                                   Message=signed.encode())["Mac"]

    assert unb64(mac) == expected


def test_a_token_signed_with_another_key_is_refused(kms: tuple[Any, str, str]) -> None:
    client, key, other = kms
    forged = token_for(client, other)

    with pytest.raises(InvalidTicketError, match=r"^Invalid code$"):
        read_token(client, key, forged, NOW)


def test_an_altered_payload_is_refused(kms: tuple[Any, str, str]) -> None:
    client, key, _ = kms
    version, payload, mac = token_for(client, key).split(".")
    claims = json.loads(unb64(payload))
    claims["g"] = "0d9e8f7a-6b5c-4d3e-8f2a-1b0c9d8e7f6a"  # someone else's registration
    altered = f"{version}.{b64(json.dumps(claims, separators=(',', ':')).encode())}.{mac}"
    later = dict(claims, exp=EXPIRES + 86400)
    extended = f"{version}.{b64(json.dumps(later, separators=(',', ':')).encode())}.{mac}"

    for token in (altered, extended):
        with pytest.raises(InvalidTicketError):
            read_token(client, key, token, NOW)


def test_an_expired_token_is_refused(kms: tuple[Any, str, str]) -> None:
    client, key, _ = kms
    token = token_for(client, key)

    assert read_token(client, key, token, EXPIRES - 1) == TICKET
    with pytest.raises(InvalidTicketError):
        read_token(client, key, token, EXPIRES)
    with pytest.raises(InvalidTicketError):
        read_token(client, key, token, NOW + timedelta(days=2))


@pytest.mark.parametrize("token", [
    None, 42, "", "EVT1", "EVT1..", "EVT1.abc", "EVT2.e30.AAAA", "EVT1.e30.AAAA",
    "EVT1.e30=." + "A" * 43, "EVT1.e3 0." + "A" * 43, "EVT1.e30." + "A" * 43 + ".x",
    "EVT1." + "e" * 2000 + "." + "A" * 43, "EVT1.ZR." + "A" * 43,
], ids=lambda token: repr(token)[:24])
def test_a_malformed_token_is_refused_without_asking_kms(kms: tuple[Any, str, str],
                                                         token: Any) -> None:
    client, key, _ = kms
    with Stubber(client) as stubbed:  # any call would fail: nothing is queued
        with pytest.raises(InvalidTicketError):
            read_token(client, key, token, NOW)
        stubbed.assert_no_pending_responses()


def test_a_non_canonical_mac_encoding_is_refused(kms: tuple[Any, str, str]) -> None:
    client, key, _ = kms
    token = token_for(client, key)
    # The last character of 43 base64url characters carries 2 unused bits: a different
    # character with the same 6-bit prefix decodes to the same bytes.
    last = token[-1]
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    twin = alphabet[alphabet.index(last) ^ 1]

    with pytest.raises(InvalidTicketError):
        read_token(client, key, token[:-1] + twin, NOW)


def test_a_signed_payload_that_is_not_a_ticket_is_refused(kms: tuple[Any, str, str]) -> None:
    client, key, _ = kms
    for payload in ({"r": "not-a-uuid", "s": "keynote", "g": "g1", "exp": EXPIRES},
                    {"r": REGISTRATION, "s": "key#note", "g": "g1", "exp": EXPIRES},
                    {"r": REGISTRATION, "s": "keynote", "g": "g1", "exp": "tomorrow"},
                    {"r": REGISTRATION, "s": "keynote", "g": "g1", "exp": True},
                    {"r": REGISTRATION, "s": "keynote", "g": "g1"}, ["EVT1"]):
        signed = f"EVT1.{b64(json.dumps(payload).encode())}"
        mac = client.generate_mac(KeyId=key, MacAlgorithm="HMAC_SHA_256",
                                  Message=signed.encode())["Mac"]
        with pytest.raises(InvalidTicketError):
            read_token(client, key, f"{signed}.{b64(mac)}", NOW)


def test_kms_failures_other_than_a_bad_mac_are_not_about_the_token(
        kms: tuple[Any, str, str]) -> None:
    client, key, _ = kms
    token = token_for(client, key)

    with Stubber(client) as stubbed:
        stubbed.add_client_error("verify_mac", "DisabledException", "The key is disabled")
        with pytest.raises(ClientError) as raised:
            read_token(client, key, token, NOW)
    assert not isinstance(raised.value, InvalidTicketError)


def test_make_token_refuses_ids_outside_their_patterns(kms: tuple[Any, str, str]) -> None:
    client, key, _ = kms
    with pytest.raises(ValueError, match="pattern"):
        token_for(client, key, Ticket("x", "keynote", "g", EXPIRES))
    with pytest.raises(ValueError, match="pattern"):
        token_for(client, key, Ticket(str(uuid.uuid4()), "a#b", "g", EXPIRES))


def test_the_qr_code_reads_as_the_token() -> None:
    token = "EVT1.eyJyIjoiMyJ9." + "A" * 43

    svg = qr.qr_svg(token)

    assert svg.startswith("<svg")
    assert svg.rstrip().endswith("</svg>")
    assert "<?xml" not in svg
    assert "<title>Ticket QR code</title>" in svg
    assert 'fill="#fff"' in svg  # a light background, for dark-mode pages
    expected = segno.make(token, error="m", micro=False)
    assert svg == expected.svg_inline(scale=4, border=4, dark="#000", light="#fff",
                                      title="Ticket QR code")
    assert expected.error == "M"


def test_a_token_is_drawn_once_per_warm_function() -> None:
    qr.qr_svg.cache_clear()
    first, other = "EVT1.eyJyIjoiNCJ9." + "B" * 43, "EVT1.eyJyIjoiNSJ9." + "C" * 43

    assert qr.qr_svg(first) is qr.qr_svg(first)
    assert qr.qr_svg(other) != qr.qr_svg(first)
    assert qr.qr_svg.cache_info().misses == 2


def test_the_keys() -> None:
    assert keys.session_item_key("ev1", "s1") == {"pk": "EVENT#ev1", "sk": "SESSION#s1"}
    assert keys.registration_item_key("s1", "g1") == {"pk": "SESSION#s1", "sk": "GUEST#g1"}
    assert keys.start_sort_key("2026-11-27T15:00:00Z", "s1") == "2026-11-27T15:00:00Z#s1"
    assert keys.request_sort_key("2026-11-26T15:00:00.000Z", "r1") == \
        "REQUEST#2026-11-26T15:00:00.000Z#r1"
    assert keys.timestamp(NOW) == "2026-11-26T15:00:00.000Z"
    assert keys.parse_time("2026-11-26T16:00:00+01:00") == NOW
    for text in ("2026-11-26T15:00:00", "tomorrow", "２０２６-11-26T15:00:00Z"):
        with pytest.raises(ValueError, match="ISO 8601"):
            keys.parse_time(text)
