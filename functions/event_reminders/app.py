"""Event management's reminders: each guest of a session that starts soon gets one reminder.

Run by an EventBridge Scheduler schedule (``rate(15 minutes)`` in the config). Each run:

1. Finds the sessions starting within ``WINDOW_MINUTES`` of now (index ``byStart``: range key
   ``<startsAt>#<sessionId>``), reading nothing from the event it was invoked with.
2. For each of their registrations without a reminder, **claims** it: a conditional update
   sets ``reminder`` to ``{"status": "sending", "at", "claimId"}`` only when the registration
   has no ``reminder``, or has a ``sending`` claim older than ``STALE_CLAIM`` (15 minutes: a run
   that died mid-send). Two runs (the schedule firing twice, or concurrently) cannot both
   claim one registration, so no guest gets two reminders for one session.
3. Sends the reminder: an email with SES v2 ``SendEmail`` (from ``FROM_ADDRESS``, through
   ``SES_CONFIGURATION_SET`` when set) and, when ``SMS_ORIGINATION_IDENTITY`` is set and the
   guest gave a phone number, a text with AWS End User Messaging SMS (``pinpoint-sms-voice-v2``
   ``SendTextMessage``). Amazon Pinpoint, which the original post used, is past its end of
   support.
4. Records it: ``reminder`` becomes ``{"status": "sent", "at", "channels", "claimId"}``, on the
   condition that the claim is still this run's. When nothing could be sent the claim is
   released (``reminder`` removed), so the next run retries; when the email went out but the
   text did not, the reminder counts as sent (``channels: ["email"]``) rather than risk a
   second email.

A run stops claiming when less than ``TIME_RESERVE`` of its Lambda time is left, so it never
leaves a claim behind on a timeout; the next run carries on. It answers a summary
``{"sessions", "sent", "failed", "skipped"}`` (``skipped``: claimed by another run meanwhile).

Environment: ``TABLE_NAME`` and ``FROM_ADDRESS`` and ``EVENT_NAME`` (required),
``WINDOW_MINUTES`` (1 to 1440, default 60), ``SES_CONFIGURATION_SET`` and
``SMS_ORIGINATION_IDENTITY`` (optional), and Powertools' ``POWERTOOLS_*``. Every problem with
them is reported at import, at once.
"""

from __future__ import annotations

import os
import re
import unicodedata
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3  # type: ignore[import-untyped]
from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from blueprints_common.entry import SCHEDULED, TRACE_AWS_CALLS, entry
from blueprints_common.environment import required, whole_number
from blueprints_common.lazy import lazy
from boto3.dynamodb.conditions import Key  # type: ignore[import-untyped]
from botocore.exceptions import BotoCoreError, ClientError  # type: ignore[import-untyped]
from event_tickets import keys

DEFAULT_WINDOW_MINUTES = 60
MAX_WINDOW_MINUTES = 1440
STALE_CLAIM = timedelta(minutes=15)
TIME_RESERVE_MS = 10_000
SENDING, SENT = "sending", "sent"
MAX_SMS = 160
EMAIL_ADDRESS = re.compile(r"[^@\s<>]{1,64}@[^@\s<>]{1,253}")
# "Name <address>" or a bare address, as SES takes it.
FROM_ADDRESS = re.compile(r"([^<>\r\n]{1,64} <)?[^@\s<>]{1,64}@[^@\s<>]{1,253}>?")
CONFIGURATION_SET = re.compile(r"[A-Za-z0-9_-]{1,64}")
ORIGINATION_IDENTITY = re.compile(r"[A-Za-z0-9_:/+.-]{1,256}")
PHONE = re.compile(r"\+[1-9][0-9]{6,14}")
CLAIMABLE = ("attribute_exists(pk) AND (attribute_not_exists(reminder) OR "
             "(reminder.#status = :sending AND reminder.#at < :stale))")

logger = Logger()
tracer = Tracer(auto_patch=True, patch_modules=TRACE_AWS_CALLS)
metrics = Metrics()


@dataclass(frozen=True)
class Settings:
    """The function's environment, checked."""

    table_name: str
    from_address: str
    event_name: str
    window_minutes: int = DEFAULT_WINDOW_MINUTES
    configuration_set: str | None = None
    sms_origination_identity: str | None = None

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """The settings from ``environ`` (default ``os.environ``); ``ValueError`` lists every
        problem."""
        environ = os.environ if environ is None else environ
        problems: list[str] = []
        table = required(environ, "TABLE_NAME", problems)
        sender = required(environ, "FROM_ADDRESS", problems)
        if sender and not FROM_ADDRESS.fullmatch(sender):
            problems.append("FROM_ADDRESS must be an email address, or 'Name <address>'")
        event_name = required(environ, "EVENT_NAME", problems)
        if event_name and (len(event_name) > 100 or _has_control(event_name)):
            problems.append("EVENT_NAME must be at most 100 characters, on one line")
        window = whole_number(environ, "WINDOW_MINUTES", DEFAULT_WINDOW_MINUTES, problems,
                              minimum=1, maximum=MAX_WINDOW_MINUTES, unit="minutes")
        configuration_set = environ.get("SES_CONFIGURATION_SET") or None
        if configuration_set and not CONFIGURATION_SET.fullmatch(configuration_set):
            problems.append("SES_CONFIGURATION_SET must be a configuration set name")
        origination = environ.get("SMS_ORIGINATION_IDENTITY") or None
        if origination and not ORIGINATION_IDENTITY.fullmatch(origination):
            problems.append("SMS_ORIGINATION_IDENTITY must be a phone number, sender id, pool "
                            "or their ARN")
        if problems:
            raise ValueError("invalid event reminder settings: " + "; ".join(problems))
        return cls(table_name=table, from_address=sender, event_name=event_name,
                   window_minutes=window, configuration_set=configuration_set,
                   sms_origination_identity=origination)


def _has_control(text: str) -> bool:
    return any(unicodedata.category(character) == "Cc" for character in text)


settings = Settings.from_environ()
table = lazy(lambda: boto3.resource("dynamodb").Table(settings.table_name))
sesv2 = lazy(lambda: boto3.client("sesv2"))
sms = lazy(lambda: boto3.client("pinpoint-sms-voice-v2"))


def utcnow() -> datetime:
    """The time of a run (a seam for tests)."""
    return datetime.now(UTC)


@dataclass
class Summary:
    sessions: int = 0
    sent: int = 0
    failed: int = 0
    skipped: int = 0
    out_of_time: bool = field(default=False)

    def answer(self) -> dict[str, Any]:
        return {"sessions": self.sessions, "sent": self.sent, "failed": self.failed,
                "skipped": self.skipped, "outOfTime": self.out_of_time}


# --- what to remind ----------------------------------------------------------------------------

def sessions_starting(now: datetime, window: timedelta) -> list[dict[str, Any]]:
    """The sessions starting from ``now`` to ``now + window`` (index ``byStart``)."""
    lower = _second(now)
    upper = _second(now + window) + "#\uffff"  # every id after that second's '#'
    found: list[dict[str, Any]] = []
    query: dict[str, Any] = {
        "IndexName": keys.BY_START,
        "KeyConditionExpression": Key("gsi1pk").eq(keys.SESSIONS_PARTITION)
        & Key("gsi1sk").between(lower, upper)}
    while True:
        page = table.query(**query)
        found += page.get("Items", [])
        if "LastEvaluatedKey" not in page:
            break
        query["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    # The key compares text; the times are compared as times, whatever their precision.
    return [item for item in found if _starts_within(item, now, window)]


def _second(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _starts_within(session: Mapping[str, Any], now: datetime, window: timedelta) -> bool:
    try:
        starts = keys.parse_time(str(session.get("startsAt")))
    except ValueError:
        logger.error("A session's startsAt is not a time", session_id=session.get("sessionId"))
        return False
    return now <= starts <= now + window


def unreminded(session_id: str, now: datetime) -> Iterator[dict[str, Any]]:
    """The session's registrations that have no reminder, or a stale claim."""
    query: dict[str, Any] = {
        "KeyConditionExpression": Key("pk").eq(keys.session_key(session_id))
        & Key("sk").begins_with(keys.GUEST_PREFIX),
        "FilterExpression": "attribute_not_exists(reminder) OR "
                            "(reminder.#status = :sending AND reminder.#at < :stale)",
        "ExpressionAttributeNames": {"#status": "status", "#at": "at"},
        "ExpressionAttributeValues": {":sending": SENDING,
                                      ":stale": keys.timestamp(now - STALE_CLAIM)}}
    while True:
        page = table.query(**query)
        yield from page.get("Items", [])
        if "LastEvaluatedKey" not in page:
            return
        query["ExclusiveStartKey"] = page["LastEvaluatedKey"]


# --- claims ------------------------------------------------------------------------------------

def claim(registration: Mapping[str, Any], now: datetime) -> str | None:
    """Claims the registration's reminder for this run: its claim id, or ``None`` when another
    run has it (or sent it)."""
    claim_id = str(uuid.uuid4())
    try:
        table.update_item(
            Key={"pk": registration["pk"], "sk": registration["sk"]},
            UpdateExpression="SET reminder = :claim", ConditionExpression=CLAIMABLE,
            ExpressionAttributeNames={"#status": "status", "#at": "at"},
            ExpressionAttributeValues={
                ":claim": {"status": SENDING, "at": keys.timestamp(now), "claimId": claim_id},
                ":sending": SENDING, ":stale": keys.timestamp(now - STALE_CLAIM)})
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
            return None
        raise
    return claim_id


def _ours(registration: Mapping[str, Any], claim_id: str, update: str,
          values: dict[str, Any]) -> bool:
    """Applies ``update`` if the claim is still ``claim_id``; whether it was."""
    try:
        table.update_item(
            Key={"pk": registration["pk"], "sk": registration["sk"]}, UpdateExpression=update,
            ConditionExpression="reminder.claimId = :claimId",
            ExpressionAttributeValues={":claimId": claim_id, **values})
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
            logger.warning("A reminder claim was taken over before it was settled")
            return False
        raise
    return True


def mark_sent(registration: Mapping[str, Any], claim_id: str, channels: list[str],
              now: datetime) -> bool:
    return _ours(registration, claim_id, "SET reminder = :sent", {":sent": {
        "status": SENT, "at": keys.timestamp(now), "channels": channels, "claimId": claim_id}})


def release(registration: Mapping[str, Any], claim_id: str) -> bool:
    return _ours(registration, claim_id, "REMOVE reminder", {})


# --- messages ----------------------------------------------------------------------------------

def _one_line(text: Any) -> str:
    return " ".join(str(text or "").split())


def start_time(session: Mapping[str, Any]) -> str:
    return keys.parse_time(str(session["startsAt"])).strftime("%H:%M UTC")


def email_content(registration: Mapping[str, Any], session: Mapping[str, Any]) -> dict[str, Any]:
    title, when = _one_line(session.get("title")), start_time(session)
    room = _one_line(session.get("room"))
    greeting = _one_line(registration.get("name"))
    lines = [f"Hello {greeting}," if greeting else "Hello,", "",
             f"{title} at {settings.event_name} starts at {when}"
             + (f" in {room}." if room else "."),
             "Show the QR code of your ticket (My tickets, in the event app) at the door.", ""]
    return {"Simple": {
        "Subject": {"Data": f"Reminder: {title} starts at {when}"[:200], "Charset": "UTF-8"},
        "Body": {"Text": {"Data": "\n".join(lines), "Charset": "UTF-8"}}}}


def sms_text(session: Mapping[str, Any]) -> str:
    room = _one_line(session.get("room"))
    text = (f"{settings.event_name}: {_one_line(session.get('title'))} starts at "
            f"{start_time(session)}" + (f" in {room}." if room else "."))
    return text[:MAX_SMS]


def send(registration: Mapping[str, Any], session: Mapping[str, Any]) -> list[str]:
    """Sends the reminder on every channel the guest has; the channels that worked."""
    channels: list[str] = []
    email = registration.get("email")
    if isinstance(email, str) and EMAIL_ADDRESS.fullmatch(email):
        request: dict[str, Any] = {"FromEmailAddress": settings.from_address,
                                   "Destination": {"ToAddresses": [email]},
                                   "Content": email_content(registration, session)}
        if settings.configuration_set:
            request["ConfigurationSetName"] = settings.configuration_set
        try:
            sesv2.send_email(**request)
            channels.append("email")
        except (ClientError, BotoCoreError) as error:
            _failed("email", error)
    phone = registration.get("phone")
    if settings.sms_origination_identity and isinstance(phone, str) and PHONE.fullmatch(phone):
        try:
            sms.send_text_message(DestinationPhoneNumber=phone,
                                  OriginationIdentity=settings.sms_origination_identity,
                                  MessageBody=sms_text(session), MessageType="TRANSACTIONAL")
            channels.append("sms")
        except (ClientError, BotoCoreError) as error:
            _failed("sms", error)
    return channels


def _failed(channel: str, error: Exception) -> None:
    code = error.response.get("Error", {}).get("Code") if isinstance(error, ClientError) \
        else None
    logger.error("A reminder could not be sent", channel=channel,
                 errorType=type(error).__name__, errorCode=code)
    metrics.add_metric(name="ReminderSendFailed", unit=MetricUnit.Count, value=1)


def has_channel(registration: Mapping[str, Any]) -> bool:
    email, phone = registration.get("email"), registration.get("phone")
    return (isinstance(email, str) and EMAIL_ADDRESS.fullmatch(email) is not None) or (
        bool(settings.sms_origination_identity) and isinstance(phone, str)
        and PHONE.fullmatch(phone) is not None)


# --- the run -----------------------------------------------------------------------------------

def remind(registration: Mapping[str, Any], session: Mapping[str, Any], now: datetime,
           summary: Summary) -> None:
    claim_id = claim(registration, now)
    if claim_id is None:
        summary.skipped += 1
        return
    channels = send(registration, session)
    if channels or not has_channel(registration):
        # A guest with no way to be reached is recorded too, with no channel, so that no run
        # tries again.
        if mark_sent(registration, claim_id, channels, utcnow()):
            summary.sent += 1
            metrics.add_metric(name="ReminderSent", unit=MetricUnit.Count, value=1)
    else:
        release(registration, claim_id)
        summary.failed += 1


@tracer.capture_method(capture_response=False)
def run(now: datetime, context: Any = None) -> Summary:
    summary = Summary()
    for session in sessions_starting(now, timedelta(minutes=settings.window_minutes)):
        summary.sessions += 1
        for registration in unreminded(str(session["sessionId"]), now):
            if _time_left_ms(context) < TIME_RESERVE_MS:
                summary.out_of_time = True
                logger.warning("Out of time; the next run carries on")
                return summary
            remind(registration, session, now, summary)
    return summary


def _time_left_ms(context: Any) -> int:
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    return int(remaining()) if callable(remaining) else TIME_RESERVE_MS


@entry(SCHEDULED, logger=logger, tracer=tracer, metrics=metrics)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    summary = run(utcnow(), context)
    logger.info("Reminders run", **summary.answer())
    return summary.answer()
