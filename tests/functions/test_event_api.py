"""The event API, driven with REST API proxy events (after the Cognito authorizer) against moto
tables and moto's KMS."""

from __future__ import annotations

import base64
import json
import sys
from collections.abc import Iterator
from datetime import timedelta
from types import ModuleType
from typing import Any

import boto3  # type: ignore[import-untyped]
import pytest
from event_tickets.tokens import make_token, read_token

from tests.functions.event_management_support import (
    APP_ORIGIN,
    EVENT_ID,
    EVENTS_TABLE,
    GUEST,
    KEYNOTE,
    NOW,
    OTHER_GUEST,
    REQUESTS_TABLE,
    STAFF,
    WORKSHOP,
    Account,
    api_event,
    create_hmac_key,
    import_handler,
    iso,
    moto_account,
)
from tests.functions.events import REGION, LambdaContext
from tests.functions.idempotency_support import (
    HEADER,
    IDEMPOTENCY_TABLE,
    duplicate_while_running,
    expire_records,
    records,
)

CONTEXT = LambdaContext("event-api", 256)
MODULE = "event_api.app"
ENVIRONMENT = {"TABLE_NAME": EVENTS_TABLE, "REQUESTS_TABLE_NAME": REQUESTS_TABLE,
               "IDEMPOTENCY_TABLE": IDEMPOTENCY_TABLE, "EVENT_ID": EVENT_ID,
               "STAFF_GROUP": "staff",
               "REQUEST_TYPES": "handout,food,help", "ALLOWED_ORIGINS": APP_ORIGIN}
INVALID_CODE = {"statusCode": 400, "message": "Invalid code"}
pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish")


@pytest.fixture
def account(monkeypatch: pytest.MonkeyPatch) -> Iterator[Account]:
    with moto_account(monkeypatch) as account:
        yield account


@pytest.fixture
def api(account: Account, monkeypatch: pytest.MonkeyPatch) -> Iterator[ModuleType]:
    module = import_handler(monkeypatch, MODULE, {**ENVIRONMENT, "QR_KEY_ID": account.key_id})
    monkeypatch.setattr(module, "utcnow", lambda: NOW)
    yield module
    sys.modules.pop(MODULE, None)


def call(api: ModuleType, event: dict[str, Any]) -> tuple[int, Any]:
    response = api.handler(event, CONTEXT)
    return response["statusCode"], json.loads(response["body"])


def register(api: ModuleType, session_id: str, claims: dict[str, str] = GUEST, *,
             key: str | None = None) -> tuple[int, Any]:
    return call(api, api_event(f"/sessions/{session_id}/registrations", method="POST",
                               claims=claims,
                               resource="/sessions/{sessionId}/registrations",
                               path_parameters={"sessionId": session_id},
                               headers={HEADER: key} if key is not None else None))


def check_in(api: ModuleType, code: Any, claims: dict[str, str] = STAFF) -> tuple[int, Any]:
    return call(api, api_event("/check-ins", method="POST", claims=claims, body={"code": code}))


def file_request(api: ModuleType, body: Any, claims: dict[str, str] = GUEST, *,
                 key: str | None = None) -> tuple[int, Any]:
    return call(api, api_event("/requests", method="POST", claims=claims, body=body,
                               headers={HEADER: key} if key is not None else None))


def registration_item(account: Account, session_id: str, guest_id: str) -> dict[str, Any]:
    item: dict[str, Any] = account.events.get_item(
        Key={"pk": f"SESSION#{session_id}", "sk": f"GUEST#{guest_id}"})["Item"]
    return item


def registered(account: Account, session_id: str) -> int:
    return int(account.events.get_item(
        Key={"pk": f"EVENT#{EVENT_ID}", "sk": f"SESSION#{session_id}"})["Item"]["registered"])


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


# --- sessions ----------------------------------------------------------------------------------

def test_sessions_are_listed_by_start(api: ModuleType) -> None:
    status, body = call(api, api_event("/sessions", claims=GUEST))

    assert status == 200
    assert body == {"sessions": [
        {"sessionId": session.id, "title": session.title, "startsAt": iso(session.starts_at),
         "endsAt": iso(session.ends_at), "room": session.room, "capacity": session.capacity,
         "registered": 0} for session in (KEYNOTE, WORKSHOP)]}


def test_cors_answers_the_allowed_origin_only(api: ModuleType) -> None:
    allowed = api.handler(api_event("/sessions", claims=GUEST), CONTEXT)
    other = api.handler(api_event("/sessions", claims=GUEST, origin="https://evil.example.net"),
                        CONTEXT)

    assert allowed["multiValueHeaders"]["Access-Control-Allow-Origin"] == [APP_ORIGIN]
    assert "Access-Control-Allow-Origin" not in other["multiValueHeaders"]
    assert other["multiValueHeaders"]["Vary"] == ["Origin"]


def test_a_request_without_claims_is_unauthorized(api: ModuleType) -> None:
    for claims in (None, {"email": "ana@example.com"}, {"sub": "a#b"}):
        assert call(api, api_event("/sessions", claims=claims))[0] == 401


# --- registration ------------------------------------------------------------------------------

def test_registering_answers_a_ticket_for_the_new_registration(api: ModuleType,
                                                               account: Account) -> None:
    status, body = register(api, KEYNOTE.id)

    assert status == 201
    assert set(body) == {"registrationId", "sessionId", "qr", "qrSvg"}
    assert body["sessionId"] == KEYNOTE.id
    item = registration_item(account, KEYNOTE.id, GUEST["sub"])
    assert item["registrationId"] == body["registrationId"]
    assert (item["eventId"], item["guestId"], item["email"], item["name"], item["phone"]) == \
        (EVENT_ID, GUEST["sub"], GUEST["email"], GUEST["name"], GUEST["phone_number"])
    assert (item["gsi2pk"], item["gsi2sk"]) == (f"GUEST#{GUEST['sub']}", f"SESSION#{KEYNOTE.id}")
    assert item["registeredAt"] == "2026-11-26T15:00:00.000Z"
    assert "checkedInAt" not in item
    assert "reminder" not in item
    assert registered(account, KEYNOTE.id) == 1
    ticket = read_token(account.kms, account.key_id, body["qr"], NOW)
    assert (ticket.registration_id, ticket.session_id, ticket.guest_id) == \
        (body["registrationId"], KEYNOTE.id, GUEST["sub"])
    assert ticket.expires_at == int((KEYNOTE.ends_at + timedelta(days=1)).timestamp())
    assert body["qrSvg"].startswith("<svg")


def test_registering_twice_answers_the_same_registration(api: ModuleType,
                                                         account: Account) -> None:
    first_status, first = register(api, KEYNOTE.id)
    second_status, second = register(api, KEYNOTE.id)

    assert (first_status, second_status) == (201, 200)
    assert second["registrationId"] == first["registrationId"]
    assert read_token(account.kms, account.key_id, second["qr"], NOW).registration_id == \
        first["registrationId"]
    assert registered(account, KEYNOTE.id) == 1
    assert account.events.query(
        KeyConditionExpression="pk = :pk", ExpressionAttributeValues={
            ":pk": f"SESSION#{KEYNOTE.id}"})["Count"] == 1


def test_a_registration_racing_its_twin_answers_the_winner(api: ModuleType, account: Account,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """Both requests read no registration; the second one's conditional write loses and it
    answers the first one's registration, without counting a seat."""
    _, first = register(api, KEYNOTE.id)
    real_get_item = api.events_table.get_item
    reads: list[dict[str, Any]] = []

    def stale_first_read(**kwargs: Any) -> dict[str, Any]:
        reads.append(kwargs["Key"])
        registration_read = kwargs["Key"]["pk"].startswith("SESSION#")
        if registration_read and len([key for key in reads if key["pk"].startswith(
                "SESSION#")]) == 1:
            return {}  # as read before the twin's write
        answer: dict[str, Any] = real_get_item(**kwargs)
        return answer

    monkeypatch.setattr(api.events_table, "get_item", stale_first_read)
    status, second = register(api, KEYNOTE.id)

    assert status == 200
    assert second["registrationId"] == first["registrationId"]
    assert registered(account, KEYNOTE.id) == 1
    # The stale read, then the read of the winner after the cancelled transaction.
    assert [key["pk"] for key in reads].count(f"SESSION#{KEYNOTE.id}") == 2


def test_an_unknown_session_is_not_found(api: ModuleType, account: Account) -> None:
    for session_id in ("no-such-session", "key%23note", "a" * 65):
        status, body = register(api, session_id)
        assert status == 404
        assert body == {"statusCode": 404, "message": "Session not found"}
    assert account.events.scan(FilterExpression="begins_with(pk, :p)",
                               ExpressionAttributeValues={":p": "SESSION#"})["Count"] == 0


def test_a_full_session_is_a_conflict(api: ModuleType, account: Account) -> None:
    assert register(api, WORKSHOP.id)[0] == 201

    status, body = register(api, WORKSHOP.id, OTHER_GUEST)

    assert status == 409
    assert body == {"statusCode": 409, "message": "The session is full"}
    assert registered(account, WORKSHOP.id) == 1
    assert register(api, WORKSHOP.id)[0] == 200  # the guest who has the seat keeps it


def test_an_ended_session_takes_no_new_registration(api: ModuleType, account: Account,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    assert register(api, KEYNOTE.id)[0] == 201
    monkeypatch.setattr(api, "utcnow", lambda: KEYNOTE.ends_at)

    status, body = register(api, KEYNOTE.id, OTHER_GUEST)

    assert status == 409
    assert body == {"statusCode": 409, "message": "The session has ended"}
    assert registered(account, KEYNOTE.id) == 1
    assert register(api, KEYNOTE.id)[0] == 200  # a registration from before is still answered


def test_a_guest_lists_their_registrations(api: ModuleType, account: Account) -> None:
    _, workshop = register(api, WORKSHOP.id)
    _, keynote = register(api, KEYNOTE.id)
    register(api, KEYNOTE.id, OTHER_GUEST)

    status, body = call(api, api_event("/registrations", claims=GUEST))

    assert status == 200
    listed = body["registrations"]
    assert [item["registrationId"] for item in listed] == \
        [keynote["registrationId"], workshop["registrationId"]]
    assert listed[0]["title"] == KEYNOTE.title
    assert listed[0]["startsAt"] == iso(KEYNOTE.starts_at)
    assert listed[0]["checkedInAt"] is None
    for item in listed:
        ticket = read_token(account.kms, account.key_id, item["qr"], NOW)
        assert (ticket.registration_id, ticket.guest_id) == (item["registrationId"], GUEST["sub"])
        assert item["qrSvg"].startswith("<svg")


# --- check-in ----------------------------------------------------------------------------------

def test_check_in_names_the_guest_once_then_says_when(api: ModuleType, account: Account,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    _, registration = register(api, KEYNOTE.id)

    status, first = check_in(api, registration["qr"])
    monkeypatch.setattr(api, "utcnow", lambda: NOW + timedelta(minutes=5))
    second_status, second = check_in(api, registration["qr"])

    assert status == 200
    assert first == {"registrationId": registration["registrationId"],
                     "guest": {"name": GUEST["name"], "email": GUEST["email"]},
                     "session": {"sessionId": KEYNOTE.id, "title": KEYNOTE.title},
                     "checkedInAt": "2026-11-26T15:00:00.000Z", "firstCheckIn": True}
    assert second_status == 200
    assert second == {**first, "firstCheckIn": False}
    item = registration_item(account, KEYNOTE.id, GUEST["sub"])
    assert (item["checkedInAt"], item["checkedInBy"]) == (first["checkedInAt"], STAFF["sub"])
    _, listed = call(api, api_event("/registrations", claims=GUEST))
    assert listed["registrations"][0]["checkedInAt"] == first["checkedInAt"]


def forged_codes(api: ModuleType, account: Account) -> dict[str, Any]:
    """Codes that must all be refused the same way, for the guest's real registration."""
    _, registration = register(api, KEYNOTE.id)
    real = registration["qr"]
    version, payload, mac = real.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    other_key = create_hmac_key(account.kms)
    altered = b64(json.dumps(dict(claims, exp=claims["exp"] + 9)).encode())
    fields = {"registration_id": registration["registrationId"], "session_id": KEYNOTE.id,
              "guest_id": GUEST["sub"]}
    return {
        "other key": make_token(account.kms, other_key, **fields,
                                expires_at=claims["exp"]),
        "altered payload": f"{version}.{altered}.{mac}",
        "expired": make_token(account.kms, account.key_id, **fields,
                              expires_at=int(NOW.timestamp())),
        "malformed": real[:-3],
        "not a token": "hello",
        "empty mac": f"{version}.{payload}.",
        "no such registration": make_token(
            account.kms, account.key_id, **dict(fields, guest_id=OTHER_GUEST["sub"]),
            expires_at=claims["exp"]),
        "another registration id": make_token(
            account.kms, account.key_id,
            **dict(fields, registration_id="00000000-0000-4000-8000-000000000000"),
            expires_at=claims["exp"]),
    }


def test_every_bad_code_is_the_same_invalid_code(api: ModuleType, account: Account) -> None:
    for name, code in forged_codes(api, account).items():
        status, body = check_in(api, code)
        assert (status, body) == (400, INVALID_CODE), name
    assert "checkedInAt" not in registration_item(account, KEYNOTE.id, GUEST["sub"])


def test_check_in_is_staff_only(api: ModuleType, account: Account) -> None:
    _, registration = register(api, KEYNOTE.id)

    for claims in (GUEST, {**GUEST, "cognito:groups": "guests"},
                   {**GUEST, "cognito:groups": "staffers,admins"}):
        status, body = check_in(api, registration["qr"], claims)
        assert (status, body) == (403, {"statusCode": 403, "message": "Staff only"})
    assert "checkedInAt" not in registration_item(account, KEYNOTE.id, GUEST["sub"])
    for groups in ("admins,staff", "[admins staff]"):
        assert check_in(api, registration["qr"], {**STAFF, "cognito:groups": groups})[0] == 200


@pytest.mark.parametrize("body", ['{"code": ', "[]", '"EVT1.a.b"', '{"code": 7}',
                                  '{"code": "EVT1.a.b", "guest": "x"}', '{"code": ""}', ""])
def test_a_bad_check_in_body_is_a_400_that_echoes_nothing(api: ModuleType, body: str) -> None:
    status, answer = call(api, api_event("/check-ins", method="POST", claims=STAFF, body=body))

    assert (status, answer) == (400, {"statusCode": 400, "message": "Invalid request body"})


# --- requests ----------------------------------------------------------------------------------

def test_requests_are_created_and_listed_newest_first(api: ModuleType, account: Account,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    created = []
    for minute, body in enumerate([{"type": "food", "note": "Vegan, please"},
                                   {"type": "handout", "sessionId": KEYNOTE.id},
                                   {"type": "food", "note": "Water\nfor two"}]):
        monkeypatch.setattr(api, "utcnow", lambda minute=minute: NOW + timedelta(minutes=minute))
        status, answer = file_request(api, body)
        assert status == 201
        assert set(answer) == {"requestId", "createdAt"}
        created.append(answer)

    _, everything = call(api, api_event("/requests", claims=STAFF))
    _, food = call(api, api_event("/requests", claims=STAFF, query={"type": "food"}))

    assert [item["requestId"] for item in everything["requests"]] == \
        [answer["requestId"] for answer in reversed(created)]
    assert [item["requestId"] for item in food["requests"]] == \
        [created[2]["requestId"], created[0]["requestId"]]
    newest = everything["requests"][0]
    assert newest == {"requestId": created[2]["requestId"], "type": "food",
                      "note": "Water\nfor two", "guestId": GUEST["sub"], "email": GUEST["email"],
                      "name": GUEST["name"], "createdAt": "2026-11-26T15:02:00.000Z",
                      "status": "open"}
    assert everything["requests"][1]["sessionId"] == KEYNOTE.id
    item = account.requests.get_item(Key={
        "pk": f"EVENT#{EVENT_ID}",
        "sk": f"REQUEST#{created[0]['createdAt']}#{created[0]['requestId']}"})["Item"]
    assert item["type"] == "food"


def test_listing_requests_is_staff_only(api: ModuleType) -> None:
    file_request(api, {"type": "help"})

    assert call(api, api_event("/requests", claims=GUEST)) == \
        (403, {"statusCode": 403, "message": "Staff only"})


@pytest.mark.parametrize(("body", "message"), [
    ({"type": "<script>alert(1)</script>"}, "type must be one of: handout, food, help"),
    ({"note": "no type"}, "type must be one of: handout, food, help"),
    ({"type": "food", "note": "x" * 501}, "note must be text of at most 500 characters"),
    ({"type": "food", "note": "bell\u0007"}, "note must be text of at most 500 characters"),
    ({"type": "food", "note": ["list"]}, "note must be text of at most 500 characters"),
    ({"type": "food", "sessionId": "DROP TABLE"}, "sessionId must be one of the event's sessions"),
    ({"type": "food", "sessionId": "no-such-session"},
     "sessionId must be one of the event's sessions"),
    ({"type": "food", "guestId": "someone-else"}, "Invalid request body"),
    (["food"], "Invalid request body"),
    ('{"type": "food"', "Invalid request body"),
    ('{"type": ' * 3000, "Invalid request body"),
], ids=lambda value: str(value)[:20])
def test_a_bad_request_is_a_400_that_echoes_nothing(api: ModuleType, account: Account,
                                                    body: Any, message: str) -> None:
    status, answer = file_request(api, body)

    assert (status, answer) == (400, {"statusCode": 400, "message": message})
    assert account.requests.scan()["Count"] == 0


def test_an_unknown_request_type_filter_is_a_400(api: ModuleType) -> None:
    status, answer = call(api, api_event("/requests", claims=STAFF, query={"type": "<b>"}))

    assert (status, answer) == (400, {"statusCode": 400,
                                      "message": "type must be one of: handout, food, help"})


def test_a_missing_table_is_a_503(api: ModuleType, account: Account) -> None:
    account.requests.delete()

    status, answer = file_request(api, {"type": "help"})

    assert (status, answer) == (503, {"statusCode": 503,
                                      "message": "The event service is unavailable"})


# --- settings ----------------------------------------------------------------------------------

def test_every_settings_problem_is_reported_at_import(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("TABLE_NAME", "REQUESTS_TABLE_NAME", "EVENT_ID", "QR_KEY_ID",
                 "IDEMPOTENCY_TABLE"):
        monkeypatch.delenv(name, raising=False)

    with pytest.raises(ValueError, match="invalid event API settings") as raised:
        import_handler(monkeypatch, MODULE, {
            "STAFF_GROUP": "staff team", "REQUEST_TYPES": "food,Food,", "EVENT_ID": "ev#1",
            "QR_KEY_ID": "not a key", "ALLOWED_ORIGINS": "*",
            "IDEMPOTENCY_EXPIRY_SECONDS": "5"})

    message = str(raised.value)
    for problem in ("TABLE_NAME is required", "REQUESTS_TABLE_NAME is required",
                    "EVENT_ID must be", "QR_KEY_ID must be", "STAFF_GROUP must be",
                    "REQUEST_TYPES must be", "ALLOWED_ORIGINS: '*' is not an origin",
                    "IDEMPOTENCY_TABLE is required",
                    "IDEMPOTENCY_EXPIRY_SECONDS must be a whole number of seconds, from 60 "
                    "to 604800"):
        assert problem in message


def test_request_types_and_the_staff_group_default(api: ModuleType) -> None:
    environ = {"TABLE_NAME": "t", "REQUESTS_TABLE_NAME": "r", "EVENT_ID": "ev",
               "QR_KEY_ID": "alias/qr", "IDEMPOTENCY_TABLE": "i"}

    settings = api.Settings.from_environ(environ)

    assert (settings.staff_group, settings.request_types) == ("staff", ("handout", "food", "help"))
    with pytest.raises(ValueError, match="REQUEST_TYPES names a type twice"):
        api.Settings.from_environ({**environ, "REQUEST_TYPES": "food,food"})


def test_the_ticket_outlives_its_session_by_a_day(api: ModuleType, account: Account,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    _, registration = register(api, KEYNOTE.id)
    expiry = KEYNOTE.ends_at + timedelta(days=1)

    assert read_token(account.kms, account.key_id, registration["qr"],
                      expiry - timedelta(seconds=1))
    assert check_in(api, registration["qr"])[0] == 200
    monkeypatch.setattr(api, "utcnow", lambda: expiry)
    assert check_in(api, registration["qr"]) == (400, INVALID_CODE)


# --- idempotency -------------------------------------------------------------------------------

KEY = "reg-2026-11-26-0001"


def dynamodb() -> Any:
    return boto3.client("dynamodb", region_name=REGION)


def requests_filed(account: Account) -> int:
    return int(account.requests.scan()["Count"])


def test_a_registration_retried_with_its_key_gets_the_first_answer(api: ModuleType,
                                                                  account: Account) -> None:
    first = register(api, KEYNOTE.id, key=KEY)
    again = register(api, KEYNOTE.id, key=KEY)

    assert first[0] == again[0] == 201  # the first answer, not "already registered" (200)
    assert again[1] == first[1]  # the same registration, the same ticket, signed again
    assert registered(account, KEYNOTE.id) == 1
    [record] = records(dynamodb())
    assert record["id"]["S"].startswith("registration#")
    # The record keeps the registration's ids, never the ticket.
    assert json.loads(record["data"]["S"]) == {
        "status": 201, "registrationId": first[1]["registrationId"], "sessionId": KEYNOTE.id,
        "guestId": GUEST["sub"]}


def test_a_registration_key_reused_for_another_session_is_a_422(api: ModuleType,
                                                               account: Account) -> None:
    register(api, KEYNOTE.id, key=KEY)

    status, body = register(api, WORKSHOP.id, key=KEY)

    assert (status, body) == (422, {"statusCode": 422, "message": "This Idempotency-Key was "
                                                                  "already used with another "
                                                                  "request"})
    assert "registered" not in account.events.get_item(
        Key={"pk": f"EVENT#{EVENT_ID}", "sk": f"SESSION#{WORKSHOP.id}"})["Item"]


def test_a_registration_duplicate_while_the_first_runs_is_a_409(
        api: ModuleType, account: Account, monkeypatch: pytest.MonkeyPatch) -> None:
    duplicates = duplicate_while_running(monkeypatch, api, "register",
                                         lambda: api.handler(api_event(
                                             f"/sessions/{KEYNOTE.id}/registrations",
                                             method="POST", claims=GUEST,
                                             resource="/sessions/{sessionId}/registrations",
                                             path_parameters={"sessionId": KEYNOTE.id},
                                             headers={HEADER: KEY}), CONTEXT))

    status, _ = register(api, KEYNOTE.id, key=KEY)

    [duplicate] = duplicates
    assert (status, duplicate["statusCode"]) == (201, 409)
    assert duplicate["multiValueHeaders"]["Retry-After"] == ["1"]
    assert json.loads(duplicate["body"])["statusCode"] == 409
    assert registered(account, KEYNOTE.id) == 1


def test_an_expired_registration_record_runs_the_registration_again(api: ModuleType,
                                                                    account: Account) -> None:
    first = register(api, KEYNOTE.id, key=KEY)
    expire_records(dynamodb())

    again = register(api, KEYNOTE.id, key=KEY)

    # It ran again, and found the guest already registered.
    assert (first[0], again[0]) == (201, 200)
    assert again[1]["registrationId"] == first[1]["registrationId"]
    assert registered(account, KEYNOTE.id) == 1


def test_refused_registrations_leave_the_key_free(api: ModuleType, account: Account) -> None:
    account.events.update_item(Key={"pk": f"EVENT#{EVENT_ID}", "sk": f"SESSION#{WORKSHOP.id}"},
                               UpdateExpression="SET registered = :full",
                               ExpressionAttributeValues={":full": WORKSHOP.capacity})
    assert register(api, WORKSHOP.id, key=KEY)[0] == 409  # full
    assert register(api, "no-such-session", key=KEY)[0] == 404
    assert records(dynamodb()) == []

    assert register(api, KEYNOTE.id, key=KEY)[0] == 201


def test_a_request_retried_with_its_key_is_filed_once(api: ModuleType,
                                                      account: Account) -> None:
    first = file_request(api, {"type": "food", "note": "Vegan, please"}, key=KEY)
    again = file_request(api, {"type": "food", "note": "Vegan, please"}, key=KEY)

    assert first[0] == again[0] == 201
    assert again[1] == first[1]
    assert requests_filed(account) == 1


def test_a_request_key_reused_with_other_fields_is_a_422(api: ModuleType,
                                                         account: Account) -> None:
    file_request(api, {"type": "food", "note": "Vegan, please"}, key=KEY)

    status, body = file_request(api, {"type": "food", "note": "Gluten-free"}, key=KEY)

    assert status == 422
    assert body["statusCode"] == 422
    assert requests_filed(account) == 1


def test_a_request_duplicate_while_the_first_runs_is_a_409(
        api: ModuleType, account: Account, monkeypatch: pytest.MonkeyPatch) -> None:
    duplicates = duplicate_while_running(monkeypatch, api, "store_request",
                                         lambda: file_request(api, {"type": "help"}, key=KEY))

    status, _ = file_request(api, {"type": "help"}, key=KEY)

    assert (status, duplicates[0][0]) == (201, 409)
    assert requests_filed(account) == 1


def test_an_expired_request_record_files_the_request_again(api: ModuleType,
                                                           account: Account) -> None:
    first = file_request(api, {"type": "help"}, key=KEY)
    expire_records(dynamodb())

    again = file_request(api, {"type": "help"}, key=KEY)

    assert again[0] == 201
    assert again[1]["requestId"] != first[1]["requestId"]
    assert requests_filed(account) == 2


def test_keys_are_per_guest_and_per_route(api: ModuleType, account: Account) -> None:
    mine = file_request(api, {"type": "help"}, key=KEY)
    theirs = file_request(api, {"type": "help"}, OTHER_GUEST, key=KEY)

    assert theirs[0] == 201
    assert theirs[1]["requestId"] != mine[1]["requestId"]
    assert requests_filed(account) == 2
    # The same key on the registration route is another key.
    assert register(api, KEYNOTE.id, key=KEY)[0] == 201


def test_without_a_key_nothing_is_recorded(api: ModuleType, account: Account) -> None:
    register(api, KEYNOTE.id)
    file_request(api, {"type": "help"})

    assert records(dynamodb()) == []
