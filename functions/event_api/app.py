"""Event management's REST API: sessions, registrations with QR tickets, check-in, requests.

One handler behind a REST API whose every method (but the CORS preflights) has a Cognito user
pools authorizer. The caller is who the id token's claims say (``requestContext.authorizer.
claims``: ``sub``, ``email``, ``name``, ``phone_number``, ``cognito:groups``), never what a
body says. A request without a usable ``sub`` is a 401 (the authorizer lets none through: this
is defence in depth).

Routes (JSON in and out):

- ``GET /sessions``: 200 ``{"sessions": [{sessionId, title, startsAt, endsAt, room, capacity,
  registered}]}``, sorted by start.
- ``POST /sessions/{sessionId}/registrations`` (no body): 201 ``{"registrationId",
  "sessionId", "qr", "qrSvg"}``; registering again is a 200 with the same registration and
  its ticket. An unknown session is a 404; a full one, or one that has ended, a 409 (a guest
  registered before keeps their registration). The registration item and the
  session's ``registered`` counter are written in one transaction, conditional on the
  registration not existing and on ``registered < capacity``, so concurrent requests never
  register a guest twice nor a session beyond its capacity; a request that loses the race to
  its own twin answers the winner's registration.
- ``GET /registrations``: 200 ``{"registrations": [{registrationId, sessionId, title,
  startsAt, checkedInAt, qr, qrSvg}]}``, the caller's (index ``byGuest``), sorted by start.
- ``POST /check-ins`` ``{"code": <token>}``, staff only (``STAFF_GROUP`` in
  ``cognito:groups``, else 403): 200 ``{"registrationId", "guest": {"name", "email"},
  "session": {"sessionId", "title"}, "checkedInAt", "firstCheckIn"}``. ``checkedInAt`` is set
  once, conditionally; a second check-in answers ``firstCheckIn: false`` and the first time. A
  forged, altered, expired or malformed code, or one whose registration is gone, is a 400
  ``"Invalid code"`` that never says which.
- ``POST /requests`` ``{"type", "note"?, "sessionId"?}``: 201 ``{"requestId", "createdAt"}``.
  ``type`` is one of ``REQUEST_TYPES``; ``note`` at most 500 characters (no control characters
  but newlines and tabs); ``sessionId`` one of the event's sessions.
- ``GET /requests`` (staff only; ``?type=`` filters): 200 ``{"requests": [...]}``, newest
  first, at most ``MAX_REQUESTS_LISTED``.

A body that is not JSON, not an object, or has fields it should not is a 400 ``{"statusCode":
400, "message": ...}`` whose message never repeats the input. DynamoDB or KMS failures are a
503 JSON answer. An event API Gateway never sends is a 400 from ``blueprints_common.entry``.

**Idempotency** (``blueprints_common.idempotency``), on the two routes that create something,
``POST /sessions/{sessionId}/registrations`` and ``POST /requests``. With an
``Idempotency-Key`` header (any case; 1 to 255 visible ASCII characters, optionally in double
quotes), a request runs once per key and guest (the token's ``sub``): a retry with the same
key, to the same session (a registration) or with the same fields (a request), within
``IDEMPOTENCY_EXPIRY_SECONDS``, gets the first answer again: the same status (a 201 stays a
201), the same registration and ticket, or the same ``requestId``, and no second item. The
same key with another session or other fields is a 422, the same key while the first request
still runs a 409 with ``Retry-After``, a malformed key (or two) a 400, the idempotency table
failing a 503, all JSON. Without the header both routes work as before (a registration is
idempotent per guest and session anyway; a request is filed each time), so the web app and
older clients need no change. Refusals (401, 400, 404, the 409s of a full or ended session)
are not stored. A replayed ticket is signed again (HMAC, the same token); the idempotency
table holds the registration's ids, never the ticket.

Tickets are ``event_tickets.tokens`` tokens, signed with the ``QR_KEY_ID`` HMAC key and valid
until a day after the session ends; ``qrSvg`` is the same token drawn as a QR code.

Environment: ``TABLE_NAME``, ``REQUESTS_TABLE_NAME``, ``EVENT_ID``, ``QR_KEY_ID``,
``IDEMPOTENCY_TABLE`` (required), ``IDEMPOTENCY_EXPIRY_SECONDS`` (default 86400),
``STAFF_GROUP`` (default ``staff``), ``REQUEST_TYPES`` (comma-separated, default
``handout,food,help``), the CORS settings of ``blueprints_common.cors`` (``ALLOWED_ORIGINS``),
and Powertools' ``POWERTOOLS_*``. Every problem with them is reported at import, at once.
"""

from __future__ import annotations

import os
import re
import unicodedata
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import boto3  # type: ignore[import-untyped]
from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.exceptions import (
    BadRequestError,
    ForbiddenError,
    NotFoundError,
    ServiceError,
    UnauthorizedError,
)
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from blueprints_common import safe_json
from blueprints_common.cors import cors_config, vary_on_origin
from blueprints_common.entry import REST_PROXY, TRACE_AWS_CALLS, entry, rest_resolver
from blueprints_common.environment import required
from blueprints_common.idempotency import Idempotency, IdempotencySettings, header_key
from blueprints_common.lazy import lazy
from boto3.dynamodb.conditions import Attr, Key  # type: ignore[import-untyped]
from boto3.dynamodb.types import TypeDeserializer  # type: ignore[import-untyped]
from botocore.exceptions import BotoCoreError, ClientError  # type: ignore[import-untyped]
from event_tickets import keys
from event_tickets.qr import qr_svg
from event_tickets.tokens import InvalidTicketError, make_token, read_token

DEFAULT_REQUEST_TYPES = ("handout", "food", "help")
DEFAULT_STAFF_GROUP = "staff"
MAX_NOTE = 500
MAX_REQUESTS_LISTED = 100
MAX_CODE = 2048
TICKET_GRACE = timedelta(days=1)
INVALID_BODY = "Invalid request body"
INVALID_CODE = "Invalid code"
CONDITION_FAILED = "ConditionalCheckFailedException"
REQUEST_TYPE = re.compile(r"[a-z][a-z0-9-]{0,31}")
GROUP_NAME = re.compile(r"[\w.@+=,-]{1,128}", re.ASCII)
KMS_KEY = re.compile(r"(arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:(key|alias)/[A-Za-z0-9/_-]+)"
                     r"|([0-9a-f-]{36}|mrk-[0-9a-f]{32}|alias/[A-Za-z0-9/_-]+)")
PHONE = re.compile(r"\+[1-9][0-9]{6,14}")
EMAIL = re.compile(r"[^@\s]{1,64}@[^@\s]{1,253}")
MAX_NAME = 128
SESSION_FIELDS = ("sessionId", "title", "startsAt", "endsAt", "room", "capacity", "registered")
REQUEST_FIELDS = ("requestId", "type", "note", "sessionId", "guestId", "email", "name",
                  "createdAt", "status")

logger = Logger()
tracer = Tracer(auto_patch=True, patch_modules=TRACE_AWS_CALLS)
metrics = Metrics()


@dataclass(frozen=True)
class Settings:
    """The function's environment, checked."""

    table_name: str
    requests_table_name: str
    event_id: str
    qr_key_id: str
    idempotency: IdempotencySettings
    staff_group: str = DEFAULT_STAFF_GROUP
    request_types: tuple[str, ...] = DEFAULT_REQUEST_TYPES

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """The settings from ``environ`` (default ``os.environ``); ``ValueError`` lists every
        problem."""
        environ = os.environ if environ is None else environ
        problems: list[str] = []
        table = required(environ, "TABLE_NAME", problems)
        requests_table = required(environ, "REQUESTS_TABLE_NAME", problems)
        event_id = required(environ, "EVENT_ID", problems)
        if event_id and not keys.IDENTIFIER.fullmatch(event_id):
            problems.append("EVENT_ID must be letters, digits, '_', '.' and '-' (at most 64)")
        key_id = required(environ, "QR_KEY_ID", problems)
        if key_id and not KMS_KEY.fullmatch(key_id):
            problems.append("QR_KEY_ID must be a KMS key id, key ARN, alias or alias ARN")
        group = environ.get("STAFF_GROUP") or DEFAULT_STAFF_GROUP
        if not GROUP_NAME.fullmatch(group):
            problems.append("STAFF_GROUP must be a Cognito group name")
        types = tuple(part.strip() for part in
                      environ.get("REQUEST_TYPES", ",".join(DEFAULT_REQUEST_TYPES)).split(","))
        if not all(REQUEST_TYPE.fullmatch(part) for part in types):
            problems.append("REQUEST_TYPES must be comma-separated lower-case names (a letter, "
                            "then letters, digits or '-', at most 32)")
        elif len(set(types)) != len(types):
            problems.append("REQUEST_TYPES names a type twice")
        try:
            cors_config(environ=environ)
        except ValueError as error:
            problems.append(str(error))
        idempotency = IdempotencySettings.from_environ(environ, problems)
        if problems:
            raise ValueError("invalid event API settings: " + "; ".join(problems))
        return cls(table_name=table, requests_table_name=requests_table, event_id=event_id,
                   qr_key_id=key_id, idempotency=idempotency, staff_group=group,
                   request_types=types)


settings = Settings.from_environ()
cors = cors_config()
app = rest_resolver(cors=cors)
dynamodb = lazy(lambda: boto3.resource("dynamodb"))
kms = lazy(lambda: boto3.client("kms"))
events_table = lazy(lambda: dynamodb.Table(settings.table_name))
requests_table = lazy(lambda: dynamodb.Table(settings.requests_table_name))
_deserialize = TypeDeserializer().deserialize
# Powertools writes DynamoDB's typed values: a plain client, not the resource's (which would
# type them again).
idempotency = Idempotency(settings.idempotency, lazy(lambda: boto3.client("dynamodb")),
                          logger=logger, metrics=metrics)
idempotency.install(app)


def utcnow() -> datetime:
    """The time of a request (a seam for tests)."""
    return datetime.now(UTC)


# --- the caller --------------------------------------------------------------------------------

@dataclass(frozen=True)
class Caller:
    """The signed-in user, from the id token's claims."""

    guest_id: str
    email: str
    name: str
    phone: str | None
    groups: frozenset[str]


def caller(event: Mapping[str, Any]) -> Caller:
    """The caller named by the authorizer's claims; 401 without a usable ``sub``."""
    context = event.get("requestContext")
    authorizer = context.get("authorizer") if isinstance(context, Mapping) else None
    claims = authorizer.get("claims") if isinstance(authorizer, Mapping) else None
    if not isinstance(claims, Mapping):
        raise UnauthorizedError("Unauthorized")
    guest_id = claims.get("sub")
    if not isinstance(guest_id, str) or not keys.GUEST_ID.fullmatch(guest_id):
        raise UnauthorizedError("Unauthorized")
    email = _claim(claims, "email", 254)
    phone = _claim(claims, "phone_number", 16)
    return Caller(guest_id=guest_id,
                  email=email if EMAIL.fullmatch(email) else "",
                  name=_claim(claims, "name", MAX_NAME),
                  phone=phone if PHONE.fullmatch(phone) else None,
                  groups=groups(claims.get("cognito:groups")))


def _claim(claims: Mapping[str, Any], name: str, limit: int) -> str:
    """A text claim, or ``""`` when it is missing, too long or holds a control character."""
    value = claims.get(name)
    if not isinstance(value, str) or len(value) > limit or _has_control(value):
        return ""
    return value.strip()


def groups(value: Any) -> frozenset[str]:
    """The caller's groups. A REST API's Cognito authorizer passes ``cognito:groups`` as one
    string (``staff`` or ``staff,admins``; some tools write ``[staff admins]``); a list is
    taken as it is."""
    if isinstance(value, list):
        return frozenset(item for item in value if isinstance(item, str))
    if not isinstance(value, str):
        return frozenset()
    return frozenset(part for part in re.split(r"[,\s]+", value.strip().strip("[]")) if part)


def staff_only(who: Caller) -> None:
    if settings.staff_group not in who.groups:
        logger.info("Refused a guest on a staff route")
        raise ForbiddenError("Staff only")


def _has_control(text: str, allowed: str = "") -> bool:
    return any(unicodedata.category(character) == "Cc" and character not in allowed
               for character in text)


# --- sessions ----------------------------------------------------------------------------------

def load_session(session_id: str) -> dict[str, Any] | None:
    """The event's session with that id, or ``None``."""
    if not keys.IDENTIFIER.fullmatch(session_id):
        return None
    item: dict[str, Any] | None = events_table.get_item(
        Key=keys.session_item_key(settings.event_id, session_id), ConsistentRead=True
    ).get("Item")
    return item


def list_sessions() -> list[dict[str, Any]]:
    """Every session of the event, sorted by start."""
    items: list[dict[str, Any]] = []
    query = {"KeyConditionExpression": Key("pk").eq(keys.event_key(settings.event_id))
             & Key("sk").begins_with(keys.SESSION_PREFIX)}
    while True:
        page = events_table.query(**query)
        items += page.get("Items", [])
        if "LastEvaluatedKey" not in page:
            break
        query["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    return sorted(items, key=lambda item: (str(item.get("startsAt", "")),
                                           str(item.get("sessionId", ""))))


def session_view(item: Mapping[str, Any]) -> dict[str, Any]:
    """A session as the API answers it; a session nobody registered for yet has no counter."""
    return {name: _plain(item.get(name)) for name in SESSION_FIELDS} | {
        "registered": _plain(item.get("registered", 0))}


def _plain(value: Any) -> Any:
    """DynamoDB's numbers (``Decimal``) as JSON's."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value


# --- registrations -----------------------------------------------------------------------------

class SessionFullError(Exception):
    """The session has no seat left."""


class SessionEndedError(Exception):
    """The session is over: its ticket would be expired before it is drawn."""


def ticket(registration: Mapping[str, Any], session: Mapping[str, Any]) -> str:
    """The registration's signed token, valid until a day after its session ends."""
    ends = keys.parse_time(str(session["endsAt"]))
    return make_token(kms, settings.qr_key_id,
                      registration_id=str(registration["registrationId"]),
                      session_id=str(registration["sessionId"]),
                      guest_id=str(registration["guestId"]),
                      expires_at=int((ends + TICKET_GRACE).timestamp()))


def register(who: Caller, session: Mapping[str, Any],
             now: datetime) -> tuple[dict[str, Any], bool]:
    """The caller's registration for the session, and whether this call created it."""
    session_id = str(session["sessionId"])
    key = keys.registration_item_key(session_id, who.guest_id)
    existing = events_table.get_item(Key=key, ConsistentRead=True).get("Item")
    if existing is not None:
        return existing, False
    if keys.parse_time(str(session["endsAt"])) <= now:
        raise SessionEndedError(session_id)
    item: dict[str, Any] = {
        **key, "registrationId": str(uuid.uuid4()), "sessionId": session_id,
        "eventId": settings.event_id, "guestId": who.guest_id, "email": who.email,
        "name": who.name or who.email, "registeredAt": keys.timestamp(now),
        "gsi2pk": keys.guest_key(who.guest_id), "gsi2sk": keys.session_key(session_id),
    }
    if who.phone:
        item["phone"] = who.phone
    try:
        # The resource's client takes and answers plain Python values, as the table does.
        dynamodb.meta.client.transact_write_items(TransactItems=[
            {"Update": {
                "TableName": settings.table_name,
                "Key": keys.session_item_key(settings.event_id, session_id),
                "UpdateExpression": "SET #registered = if_not_exists(#registered, :zero) + :one",
                "ConditionExpression": "attribute_exists(pk) AND (attribute_not_exists("
                                       "#registered) OR #registered < #capacity)",
                "ExpressionAttributeNames": {"#registered": "registered",
                                             "#capacity": "capacity"},
                "ExpressionAttributeValues": {":zero": 0, ":one": 1},
            }},
            {"Put": {
                "TableName": settings.table_name,
                "Item": item,
                "ConditionExpression": "attribute_not_exists(pk)",
            }},
        ])
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") != "TransactionCanceledException":
            raise
        reasons = [reason.get("Code") for reason in error.response.get("CancellationReasons", [])]
        if len(reasons) == 2 and reasons[1] == "ConditionalCheckFailed":
            # A concurrent request registered the same guest first: answer its registration.
            winner = events_table.get_item(Key=key, ConsistentRead=True).get("Item")
            if winner is not None:
                return winner, False
        if len(reasons) == 2 and reasons[0] == "ConditionalCheckFailed":
            raise SessionFullError(session_id) from None
        raise
    return item, True


def registration_answer(registration: Mapping[str, Any],
                        session: Mapping[str, Any]) -> dict[str, Any]:
    token = ticket(registration, session)
    return {"registrationId": registration["registrationId"],
            "sessionId": registration["sessionId"], "qr": token, "qrSvg": qr_svg(token)}


def guest_registrations(who: Caller) -> list[dict[str, Any]]:
    """The caller's registrations for this event (index ``byGuest``)."""
    items: list[dict[str, Any]] = []
    query = {"IndexName": keys.BY_GUEST,
             "KeyConditionExpression": Key("gsi2pk").eq(keys.guest_key(who.guest_id))}
    while True:
        page = events_table.query(**query)
        items += [item for item in page.get("Items", [])
                  if item.get("eventId") == settings.event_id]
        if "LastEvaluatedKey" not in page:
            break
        query["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    return items


def sessions_by_id(session_ids: set[str]) -> dict[str, dict[str, Any]]:
    """The event's sessions with those ids, by id (BatchGetItem, 100 keys a call)."""
    found: dict[str, dict[str, Any]] = {}
    wanted = sorted(session_ids)
    for start in range(0, len(wanted), 100):
        request: dict[str, Any] = {settings.table_name: {
            "Keys": [keys.session_item_key(settings.event_id, session_id)
                     for session_id in wanted[start:start + 100]],
            "ConsistentRead": True}}
        while request:
            answer = dynamodb.batch_get_item(RequestItems=request)
            for item in answer.get("Responses", {}).get(settings.table_name, []):
                found[str(item["sessionId"])] = item
            request = answer.get("UnprocessedKeys") or {}
    return found


# --- check-in ----------------------------------------------------------------------------------

def check_in(code: str, staff: Caller, now: datetime) -> tuple[dict[str, Any], bool]:
    """The registration the code names, checked in (once), and whether this was the first
    check-in; ``InvalidTicketError`` for any code that is not a live registration's."""
    found = read_token(kms, settings.qr_key_id, code, now)
    try:
        answer = events_table.update_item(
            Key=keys.registration_item_key(found.session_id, found.guest_id),
            UpdateExpression="SET checkedInAt = :now, checkedInBy = :staff",
            ConditionExpression="registrationId = :registration AND eventId = :event "
                                "AND attribute_not_exists(checkedInAt)",
            ExpressionAttributeValues={":now": keys.timestamp(now), ":staff": staff.guest_id,
                                       ":registration": found.registration_id,
                                       ":event": settings.event_id},
            ReturnValues="ALL_NEW", ReturnValuesOnConditionCheckFailure="ALL_OLD")
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") != CONDITION_FAILED:
            raise
        old = {name: _deserialize(value)
               for name, value in (error.response.get("Item") or {}).items()}
        if old.get("registrationId") != found.registration_id \
                or old.get("eventId") != settings.event_id or "checkedInAt" not in old:
            raise InvalidTicketError from None
        return old, False
    return dict(answer["Attributes"]), True


# --- requests ----------------------------------------------------------------------------------

def parse_body(event: Any, allowed: set[str]) -> dict[str, Any]:
    """The body as a JSON object with no field outside ``allowed``; 400 otherwise."""
    try:
        payload = safe_json.loads(event.decoded_body or "")
    except ValueError:
        logger.info("Rejected a body that is not JSON")
        raise BadRequestError(INVALID_BODY) from None
    if not isinstance(payload, dict) or not set(payload) <= allowed:
        logger.info("Rejected a body that is not an object of the route's fields")
        raise BadRequestError(INVALID_BODY)
    return payload


def parse_request(payload: Mapping[str, Any]) -> dict[str, Any]:
    """A guest request's fields, checked; 400 naming the field (never its value)."""
    request_type = payload.get("type")
    if request_type not in settings.request_types:
        raise BadRequestError("type must be one of: " + ", ".join(settings.request_types))
    note = payload.get("note", "")
    if not isinstance(note, str) or len(note) > MAX_NOTE or _has_control(note, "\n\t"):
        raise BadRequestError(f"note must be text of at most {MAX_NOTE} characters")
    fields: dict[str, Any] = {"type": request_type, "note": note.strip()}
    session_id = payload.get("sessionId")
    if session_id is not None:
        if not isinstance(session_id, str) or load_session(session_id) is None:
            raise BadRequestError("sessionId must be one of the event's sessions")
        fields["sessionId"] = session_id
    return fields


def store_request(who: Caller, fields: Mapping[str, Any], now: datetime) -> dict[str, Any]:
    request_id, created = str(uuid.uuid4()), keys.timestamp(now)
    item = {"pk": keys.event_key(settings.event_id),
            "sk": keys.request_sort_key(created, request_id), "requestId": request_id,
            **fields, "guestId": who.guest_id, "email": who.email, "createdAt": created,
            "status": "open"}
    if who.name:
        item["name"] = who.name
    requests_table.put_item(Item=item, ConditionExpression="attribute_not_exists(sk)")
    return item


def list_requests(request_type: str | None) -> list[dict[str, Any]]:
    """The newest requests (of one type, when given), at most ``MAX_REQUESTS_LISTED``."""
    found: list[dict[str, Any]] = []
    query: dict[str, Any] = {
        "KeyConditionExpression": Key("pk").eq(keys.event_key(settings.event_id))
        & Key("sk").begins_with(keys.REQUEST_PREFIX),
        "ScanIndexForward": False}
    if request_type is not None:
        query["FilterExpression"] = Attr("type").eq(request_type)
    while len(found) < MAX_REQUESTS_LISTED:
        page = requests_table.query(**query, Limit=MAX_REQUESTS_LISTED)
        found += page.get("Items", [])
        if "LastEvaluatedKey" not in page:
            break
        query["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    return [{name: item[name] for name in REQUEST_FIELDS if name in item}
            for item in found[:MAX_REQUESTS_LISTED]]


# --- routes ------------------------------------------------------------------------------------

def _json(status: int, body: Any) -> Response[Any]:
    return Response(status, content_types.APPLICATION_JSON, body,
                    headers={"Cache-Control": "no-store"})


@app.get("/sessions")
@tracer.capture_method
def get_sessions() -> Response[Any]:
    caller(app.current_event.raw_event)
    # Cached by API Gateway (the same for every caller): no caller-specific field here.
    return Response(200, content_types.APPLICATION_JSON,
                    {"sessions": [session_view(item) for item in list_sessions()]})


@idempotency.guard("registration")
def create_registration(*, request: dict[str, Any], who: Caller,
                        session: Mapping[str, Any]) -> dict[str, Any]:
    """Registers the guest for the session; the answer's status and the registration's ids,
    which is what a retry with the same key is answered from (the ticket is signed again)."""
    registration, created = register(who, session, utcnow())
    metrics.add_metric(name="RegistrationCreated" if created else "RegistrationRepeated",
                       unit=MetricUnit.Count, value=1)
    logger.info("Registered" if created else "Already registered",
                registration_id=registration["registrationId"],
                session_id=registration["sessionId"])
    return {"status": 201 if created else 200, "registrationId": registration["registrationId"],
            "sessionId": registration["sessionId"], "guestId": registration["guestId"]}


@app.post("/sessions/<session_id>/registrations")
@tracer.capture_method(capture_response=False)
def post_registration(session_id: str) -> Response[Any]:
    who = caller(app.current_event.raw_event)
    key = header_key(app.current_event)
    session = load_session(session_id)
    if session is None:
        raise NotFoundError("Session not found")
    try:
        stored = create_registration(
            request=idempotency.request(key, who.guest_id, {"sessionId": session_id}),
            who=who, session=session)
    except SessionFullError:
        metrics.add_metric(name="SessionFull", unit=MetricUnit.Count, value=1)
        return _json(409, {"statusCode": 409, "message": "The session is full"})
    except SessionEndedError:
        return _json(409, {"statusCode": 409, "message": "The session has ended"})
    return _json(stored["status"], registration_answer(stored, session))


@app.get("/registrations")
@tracer.capture_method(capture_response=False)
def get_registrations() -> Response[Any]:
    who = caller(app.current_event.raw_event)
    registrations = guest_registrations(who)
    sessions = sessions_by_id({str(item["sessionId"]) for item in registrations})
    answers = []
    for registration in registrations:
        session = sessions.get(str(registration["sessionId"]))
        if session is None:
            logger.warning("A registration's session is gone",
                           registration_id=registration["registrationId"])
            continue
        answer = registration_answer(registration, session)
        answers.append({"registrationId": answer["registrationId"],
                        "sessionId": answer["sessionId"], "title": session.get("title"),
                        "startsAt": session.get("startsAt"),
                        "checkedInAt": registration.get("checkedInAt"),
                        "qr": answer["qr"], "qrSvg": answer["qrSvg"]})
    answers.sort(key=lambda item: (str(item["startsAt"]), str(item["sessionId"])))
    return _json(200, {"registrations": answers})


@app.post("/check-ins")
@tracer.capture_method(capture_response=False)
def post_check_in() -> Response[Any]:
    staff = caller(app.current_event.raw_event)
    staff_only(staff)
    code = parse_body(app.current_event, {"code"}).get("code")
    if not isinstance(code, str) or not code or len(code) > MAX_CODE:
        raise BadRequestError(INVALID_BODY)
    try:
        registration, first = check_in(code, staff, utcnow())
    except InvalidTicketError:
        metrics.add_metric(name="InvalidCode", unit=MetricUnit.Count, value=1)
        logger.info("Refused a code")
        raise BadRequestError(INVALID_CODE) from None
    session = load_session(str(registration["sessionId"])) or {}
    metrics.add_metric(name="CheckIn" if first else "RepeatCheckIn", unit=MetricUnit.Count,
                       value=1)
    logger.info("Checked in" if first else "Already checked in",
                registration_id=registration["registrationId"])
    return _json(200, {
        "registrationId": registration["registrationId"],
        "guest": {"name": registration.get("name", ""), "email": registration.get("email", "")},
        "session": {"sessionId": registration["sessionId"], "title": session.get("title")},
        "checkedInAt": registration["checkedInAt"], "firstCheckIn": first})


@idempotency.guard("guest-request")
def create_request(*, request: dict[str, Any], who: Caller) -> dict[str, Any]:
    """Files the guest's request (``request["payload"]``); its answer, which is what a retry
    with the same key is answered from."""
    item = store_request(who, request["payload"], utcnow())
    metrics.add_metric(name="RequestCreated", unit=MetricUnit.Count, value=1)
    logger.info("Request created", request_id=item["requestId"], request_type=item["type"])
    return {"requestId": item["requestId"], "createdAt": item["createdAt"]}


@app.post("/requests")
@tracer.capture_method(capture_response=False)
def post_request() -> Response[Any]:
    who = caller(app.current_event.raw_event)
    key = header_key(app.current_event)
    fields = parse_request(parse_body(app.current_event, {"type", "note", "sessionId"}))
    answer = create_request(request=idempotency.request(key, who.guest_id, fields), who=who)
    return _json(201, answer)


@app.get("/requests")
@tracer.capture_method(capture_response=False)
def get_requests() -> Response[Any]:
    staff_only(caller(app.current_event.raw_event))
    request_type = app.current_event.get_query_string_value("type")
    if request_type is not None and request_type not in settings.request_types:
        raise BadRequestError("type must be one of: " + ", ".join(settings.request_types))
    return _json(200, {"requests": list_requests(request_type)})


@app.exception_handler(ServiceError)
def refused(error: ServiceError) -> Response[Any]:
    status = int(error.status_code)
    if status == 400:
        metrics.add_metric(name="RequestRejected", unit=MetricUnit.Count, value=1)
    return _json(status, {"statusCode": status, "message": error.msg})


@app.exception_handler([ClientError, BotoCoreError])
def store_unavailable(error: Exception) -> Response[Any]:
    code = error.response.get("Error", {}).get("Code") if isinstance(error, ClientError) \
        else None
    logger.error("An AWS request failed", errorType=type(error).__name__, errorCode=code)
    return Response(503, content_types.APPLICATION_JSON,
                    {"statusCode": 503, "message": "The event service is unavailable"},
                    headers={"Cache-Control": "no-store", "Retry-After": "5"})


# The event carries the caller's id token (Authorization) and claims: the entry never logs it,
# and tickets stay out of traces.
@entry(REST_PROXY, logger=logger, tracer=tracer, metrics=metrics, capture_response=False,
       clear_state=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    idempotency.register(context)
    response = app.resolve(event, context)
    return vary_on_origin(response) if cors is not None else response
