"""The reminders, run against a moto table and moto's SES v2. moto has no
``pinpoint-sms-voice-v2``: the SMS path is checked with botocore's Stubber on the handler's
client, which also checks the request against the service model."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from types import ModuleType
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber
from moto.core import DEFAULT_ACCOUNT_ID
from moto.ses.models import ses_backends

from tests.functions.event_management_support import (
    EVENT_NAME,
    EVENTS_TABLE,
    GUEST,
    KEYNOTE,
    OTHER_GUEST,
    WORKSHOP,
    Account,
    import_handler,
    iso,
    moto_account,
    scheduled_event,
)
from tests.functions.events import REGION, LambdaContext

MODULE = "event_reminders.app"
SENDER = "events@example.com"
# Half an hour before the keynote: it is within the 60-minute window, the workshop is not.
RUN_AT = KEYNOTE.starts_at - timedelta(minutes=30)
ORIGINATION = "+12065550123"
pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish")


@dataclass
class TimedContext(LambdaContext):
    """A Lambda context whose remaining time a test sets."""

    remaining_ms: int = 60_000

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


CONTEXT = TimedContext("event-reminders", 256)


@pytest.fixture
def account(monkeypatch: pytest.MonkeyPatch) -> Iterator[Account]:
    with moto_account(monkeypatch) as account:
        boto3.client("sesv2", region_name=REGION).create_email_identity(EmailIdentity=SENDER)
        yield account


def load(monkeypatch: pytest.MonkeyPatch, **extra: str) -> ModuleType:
    module = import_handler(monkeypatch, MODULE, {
        "TABLE_NAME": EVENTS_TABLE, "FROM_ADDRESS": SENDER, "EVENT_NAME": EVENT_NAME,
        "WINDOW_MINUTES": "60", **extra})
    monkeypatch.setattr(module, "utcnow", lambda: RUN_AT)
    return module


@pytest.fixture
def reminders(account: Account, monkeypatch: pytest.MonkeyPatch) -> Iterator[ModuleType]:
    for name in ("SMS_ORIGINATION_IDENTITY", "SES_CONFIGURATION_SET"):
        monkeypatch.delenv(name, raising=False)
    yield load(monkeypatch)
    sys.modules.pop(MODULE, None)


def register(account: Account, session_id: str, guest: dict[str, str], *,
             with_phone: bool = True, **extra: Any) -> None:
    """A registration as the API writes it."""
    item = {"pk": f"SESSION#{session_id}", "sk": f"GUEST#{guest['sub']}",
            "registrationId": f"{guest['sub'][:8]}-0000-4000-8000-000000000000",
            "sessionId": session_id, "eventId": "reinvent-2026", "guestId": guest["sub"],
            "email": guest["email"], "name": guest["name"],
            "registeredAt": "2026-11-20T10:00:00.000Z",
            "gsi2pk": f"GUEST#{guest['sub']}", "gsi2sk": f"SESSION#{session_id}", **extra}
    if with_phone and "phone_number" in guest:
        item["phone"] = guest["phone_number"]
    account.events.put_item(Item=item)


def reminder(account: Account, session_id: str, guest: dict[str, str]) -> Any:
    return account.events.get_item(Key={"pk": f"SESSION#{session_id}",
                                         "sk": f"GUEST#{guest['sub']}"})["Item"].get("reminder")


def sent_emails() -> list[Any]:
    return list(ses_backends[DEFAULT_ACCOUNT_ID][REGION].sent_messages)


def run(reminders: ModuleType, event: Any = None) -> dict[str, Any]:
    answer: dict[str, Any] = reminders.handler(scheduled_event() if event is None else event,
                                               CONTEXT)
    return answer


def test_each_guest_of_a_starting_session_gets_one_email(reminders: ModuleType,
                                                         account: Account) -> None:
    register(account, KEYNOTE.id, GUEST)
    register(account, KEYNOTE.id, OTHER_GUEST)
    register(account, WORKSHOP.id, GUEST)  # starts after the window

    first = run(reminders)
    second = run(reminders)

    assert first == {"sessions": 1, "sent": 2, "failed": 0, "skipped": 0, "outOfTime": False}
    assert second == {"sessions": 1, "sent": 0, "failed": 0, "skipped": 0, "outOfTime": False}
    emails = sent_emails()
    assert sorted(address for email in emails for address in email.destinations["ToAddresses"]) \
        == sorted([GUEST["email"], OTHER_GUEST["email"]])
    email = next(email for email in emails if email.destinations["ToAddresses"] == [GUEST["email"]])
    assert email.source == SENDER
    assert email.subject == f"Reminder: {KEYNOTE.title} starts at 15:00 UTC"
    assert f"{KEYNOTE.title} at {EVENT_NAME} starts at 15:00 UTC in {KEYNOTE.room}." in email.body
    assert email.body.startswith(f"Hello {GUEST['name']},")
    assert reminder(account, KEYNOTE.id, GUEST) == {
        "status": "sent", "at": "2026-11-27T14:30:00.000Z", "channels": ["email"],
        "claimId": reminder(account, KEYNOTE.id, GUEST)["claimId"]}
    assert reminder(account, WORKSHOP.id, GUEST) is None


def test_the_window_is_from_now_to_now_plus_the_window(reminders: ModuleType, account: Account,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    register(account, KEYNOTE.id, GUEST)

    for moment in (KEYNOTE.starts_at - timedelta(minutes=61), KEYNOTE.starts_at
                   + timedelta(seconds=1)):
        monkeypatch.setattr(reminders, "utcnow", lambda moment=moment: moment)
        assert run(reminders)["sessions"] == 0
    monkeypatch.setattr(reminders, "utcnow", lambda: KEYNOTE.starts_at - timedelta(minutes=60))
    assert run(reminders)["sent"] == 1


def test_a_failed_send_is_released_and_retried_once(reminders: ModuleType, account: Account,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    register(account, KEYNOTE.id, GUEST)
    real_send = reminders.sesv2.send_email
    attempts: list[str] = []

    def failing_once(**request: Any) -> Any:
        attempts.append(request["Destination"]["ToAddresses"][0])
        if len(attempts) == 1:
            raise ClientError({"Error": {"Code": "TooManyRequestsException",
                                         "Message": "slow down"}}, "SendEmail")
        return real_send(**request)

    monkeypatch.setattr(reminders.sesv2, "send_email", failing_once)

    assert run(reminders)["failed"] == 1
    assert reminder(account, KEYNOTE.id, GUEST) is None  # released
    assert run(reminders)["sent"] == 1
    assert run(reminders)["sent"] == 0
    assert attempts == [GUEST["email"], GUEST["email"]]
    assert len(sent_emails()) == 1


def test_a_claim_held_by_another_run_is_left_alone_until_it_is_stale(
        reminders: ModuleType, account: Account, monkeypatch: pytest.MonkeyPatch) -> None:
    """Another run claimed the registration (the schedule fired twice) and may still be
    sending: no second reminder. A claim 15 minutes old is a run that died: taken over."""
    register(account, KEYNOTE.id, GUEST, reminder={
        "status": "sending", "at": "2026-11-27T14:20:00.000Z", "claimId": "other-run"})

    assert run(reminders)["sent"] == 0
    assert reminder(account, KEYNOTE.id, GUEST)["claimId"] == "other-run"
    monkeypatch.setattr(reminders, "utcnow", lambda: RUN_AT + timedelta(minutes=6))
    assert run(reminders)["sent"] == 1
    assert reminder(account, KEYNOTE.id, GUEST)["status"] == "sent"
    assert len(sent_emails()) == 1


def test_a_registration_claimed_between_the_query_and_the_claim_is_skipped(
        reminders: ModuleType, account: Account, monkeypatch: pytest.MonkeyPatch) -> None:
    register(account, KEYNOTE.id, GUEST)
    real_unreminded = reminders.unreminded

    def racing(session_id: str, now: Any) -> Any:
        for registration in real_unreminded(session_id, now):
            # A concurrent run claims it first.
            assert reminders.claim(registration, now) is not None
            yield registration

    monkeypatch.setattr(reminders, "unreminded", racing)

    assert run(reminders) == {"sessions": 1, "sent": 0, "failed": 0, "skipped": 1,
                              "outOfTime": False}
    assert sent_emails() == []


def test_a_run_stops_claiming_before_it_runs_out_of_time(reminders: ModuleType,
                                                         account: Account) -> None:
    register(account, KEYNOTE.id, GUEST)
    nearly_out = TimedContext("event-reminders", 256, remaining_ms=9_000)

    answer = reminders.handler(scheduled_event(), nearly_out)

    assert answer["outOfTime"] is True
    assert answer["sent"] == 0
    assert reminder(account, KEYNOTE.id, GUEST) is None


def test_sms_goes_out_when_configured_and_the_guest_gave_a_phone(
        account: Account, monkeypatch: pytest.MonkeyPatch) -> None:
    reminders = load(monkeypatch, SMS_ORIGINATION_IDENTITY=ORIGINATION)
    register(account, KEYNOTE.id, GUEST)
    register(account, KEYNOTE.id, OTHER_GUEST)  # no phone: email only

    with Stubber(reminders.sms) as stubbed:
        stubbed.add_response("send_text_message", {"MessageId": "m-1"}, {
            "DestinationPhoneNumber": GUEST["phone_number"],
            "OriginationIdentity": ORIGINATION,
            "MessageBody": f"{EVENT_NAME}: {KEYNOTE.title} starts at 15:00 UTC in "
                           f"{KEYNOTE.room}.",
            "MessageType": "TRANSACTIONAL"})
        assert run(reminders)["sent"] == 2
        stubbed.assert_no_pending_responses()

    assert reminder(account, KEYNOTE.id, GUEST)["channels"] == ["email", "sms"]
    assert reminder(account, KEYNOTE.id, OTHER_GUEST)["channels"] == ["email"]
    sys.modules.pop(MODULE, None)


def test_a_failed_sms_after_the_email_still_counts_as_sent(
        account: Account, monkeypatch: pytest.MonkeyPatch) -> None:
    reminders = load(monkeypatch, SMS_ORIGINATION_IDENTITY=ORIGINATION)
    register(account, KEYNOTE.id, GUEST)

    with Stubber(reminders.sms) as stubbed:
        stubbed.add_client_error("send_text_message", "ThrottlingException", "slow down")
        assert run(reminders)["sent"] == 1
        assert run(reminders)["sent"] == 0  # no second email for the missing text

    assert reminder(account, KEYNOTE.id, GUEST)["channels"] == ["email"]
    assert len(sent_emails()) == 1
    sys.modules.pop(MODULE, None)


def test_without_an_origination_identity_no_sms_is_attempted(reminders: ModuleType,
                                                              account: Account) -> None:
    register(account, KEYNOTE.id, GUEST)

    with Stubber(reminders.sms) as stubbed:  # any call would fail: nothing is queued
        assert run(reminders)["sent"] == 1
        stubbed.assert_no_pending_responses()


def test_the_configuration_set_is_named_when_set(account: Account,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    reminders = load(monkeypatch, SES_CONFIGURATION_SET="event-reminders")
    register(account, KEYNOTE.id, GUEST)
    requests: list[dict[str, Any]] = []
    monkeypatch.setattr(reminders.sesv2, "send_email",
                        lambda **request: requests.append(request) or {"MessageId": "m"})

    run(reminders)

    assert [request["ConfigurationSetName"] for request in requests] == ["event-reminders"]
    sys.modules.pop(MODULE, None)


@pytest.mark.parametrize("event", [None, [], "run", 42])
def test_an_invocation_that_is_not_an_object_is_refused(reminders: ModuleType,
                                                        account: Account, event: Any) -> None:
    register(account, KEYNOTE.id, GUEST)

    answer = reminders.handler(event, CONTEXT)

    assert answer["rejected"].startswith("The request event is malformed: ")
    assert reminder(account, KEYNOTE.id, GUEST) is None


def test_every_settings_problem_is_reported_at_import(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("TABLE_NAME", "FROM_ADDRESS", "EVENT_NAME"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(ValueError, match="invalid event reminder settings") as raised:
        import_handler(monkeypatch, MODULE, {
            "WINDOW_MINUTES": "0", "SES_CONFIGURATION_SET": "a b",
            "SMS_ORIGINATION_IDENTITY": "call me"})
    message = str(raised.value)
    for problem in ("TABLE_NAME is required", "FROM_ADDRESS is required",
                    "EVENT_NAME is required", "WINDOW_MINUTES must be a whole number of minutes",
                    "SES_CONFIGURATION_SET must be", "SMS_ORIGINATION_IDENTITY must be"):
        assert problem in message
    with pytest.raises(ValueError, match="FROM_ADDRESS must be an email address"):
        import_handler(monkeypatch, MODULE, {"TABLE_NAME": "t", "FROM_ADDRESS": "nobody",
                                             "EVENT_NAME": "Summit"})


def test_the_sessions_start_is_read_as_a_time(reminders: ModuleType, account: Account) -> None:
    assert iso(KEYNOTE.starts_at) == "2026-11-27T15:00:00Z"
    assert reminders.start_time({"startsAt": "2026-11-27T16:00:00+01:00"}) == "15:00 UTC"
