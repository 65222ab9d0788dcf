"""eventManagement in local mode, as guests and staff meet it: the local user pool's sign-up and
sign-in, the REST API behind its Cognito authorizer, the requests stream reaching the staff
topic with its filter policy, and the reminder schedule sending each guest one email.

The browser test drives the web app the distribution serves (its ``config.js`` naming the local
API and user pool) in Debian's Chromium with Playwright, and keeps a screenshot of each step in
``BLUEPRINTS_ARTIFACTS`` (default ``test-artifacts/``, ignored by git)."""

from __future__ import annotations

import json
import os
import shutil
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3  # type: ignore[import-untyped]
import pytest
from botocore import UNSIGNED  # type: ignore[import-untyped]
from botocore.config import Config  # type: ignore[import-untyped]
from moto.backends import get_backend

from tests.local.e2e.support import Answer, call, eventually, run_walk_through, service_outputs
from tests.web.browser import chromium_page, file_request, ready, sign_in
from tools.local.stack import LocalStack

SERVICE = "eventManagement"
API = "eventManagement-api"
SITE = "eventManagement-site"
SCHEDULE = "eventManagement-reminders"
FROM_ADDRESS = "events@example.com"
PASSWORD = "Local-passw0rd!"
REGION = "eu-west-1"
ARTIFACTS = Path(os.environ.get("BLUEPRINTS_ARTIFACTS",
                                Path(__file__).resolve().parents[3] / "test-artifacts"))


def outputs(stack: LocalStack) -> dict[str, Any]:
    return service_outputs(stack, SERVICE)


def cognito_as_a_browser(stack: LocalStack) -> Any:
    """The user pool's public API, unsigned, as the web app calls it."""
    assert stack.aws is not None
    return boto3.session.Session().client(
        "cognito-idp", region_name=REGION, endpoint_url=stack.aws.endpoint_url,
        config=Config(signature_version=UNSIGNED))


def admin(stack: LocalStack, service: str) -> Any:
    assert stack.aws is not None
    return stack.aws.client(service, REGION)


def new_email(role: str) -> str:
    return f"{role}-{uuid.uuid4().hex[:8]}@example.com"


def sign_up(stack: LocalStack, email: str, name: str) -> None:
    """A guest signs up and confirms the code the pool sent (the embedded pool takes any)."""
    cognito, client_id = cognito_as_a_browser(stack), outputs(stack)["userPoolClientId"]
    cognito.sign_up(ClientId=client_id, Username=email, Password=PASSWORD, UserAttributes=[
        {"Name": "email", "Value": email}, {"Name": "name", "Value": name}])
    cognito.confirm_sign_up(ClientId=client_id, Username=email, ConfirmationCode="123456")


def create_staff(stack: LocalStack, email: str) -> None:
    """A staff member, as the organiser creates one: an admin-created user in ``staff``."""
    cognito, pool = admin(stack, "cognito-idp"), outputs(stack)["userPoolId"]
    cognito.admin_create_user(UserPoolId=pool, Username=email, MessageAction="SUPPRESS",
                              UserAttributes=[{"Name": "email", "Value": email},
                                              {"Name": "email_verified", "Value": "true"},
                                              {"Name": "name", "Value": "Sam Staff"}])
    cognito.admin_set_user_password(UserPoolId=pool, Username=email, Password=PASSWORD,
                                    Permanent=True)
    cognito.admin_add_user_to_group(UserPoolId=pool, Username=email, GroupName="staff")


def id_token(stack: LocalStack, email: str) -> str:
    answer = cognito_as_a_browser(stack).initiate_auth(
        ClientId=outputs(stack)["userPoolClientId"], AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": email, "PASSWORD": PASSWORD})
    return str(answer["AuthenticationResult"]["IdToken"])


def api(stack: LocalStack, method: str, path: str, token: str | None,
        body: dict[str, Any] | None = None, *, key: str | None = None) -> Answer:
    """A call to the API with the id token, and ``key`` as its ``Idempotency-Key``."""
    assert stack.started is not None
    headers = {"Authorization": token} if token else {}
    if key is not None:
        headers["Idempotency-Key"] = key
    return call(method, f"{stack.started.url(API)}{path}", headers=headers,
                body=json.dumps(body) if body is not None else None)


@pytest.fixture(scope="module")
def guest(local_dev: LocalStack) -> str:
    email = new_email("guest")
    sign_up(local_dev, email, "Gwen Guest")
    return id_token(local_dev, email)


@pytest.fixture(scope="module")
def staff(local_dev: LocalStack) -> str:
    email = new_email("staff")
    create_staff(local_dev, email)
    return id_token(local_dev, email)


class StaffTeam:
    """A queue subscribed to the staff topic with a team's filter policy, as a team's email
    subscription would be: what reaches it is what that team hears about."""

    def __init__(self, stack: LocalStack, types: list[str]) -> None:
        self.sqs = admin(stack, "sqs")
        self.url = self.sqs.create_queue(QueueName=f"team-{uuid.uuid4().hex[:8]}")["QueueUrl"]
        arn = self.sqs.get_queue_attributes(QueueUrl=self.url, AttributeNames=["QueueArn"]
                                            )["Attributes"]["QueueArn"]
        admin(stack, "sns").subscribe(
            TopicArn=outputs(stack)["staffTopicArn"], Protocol="sqs", Endpoint=arn,
            Attributes={"FilterPolicy": json.dumps({"requestType": types})})

    def heard(self) -> list[dict[str, Any]]:
        messages = self.sqs.receive_message(QueueUrl=self.url, MaxNumberOfMessages=10,
                                            WaitTimeSeconds=1).get("Messages", [])
        return [json.loads(message["Body"]) for message in messages]


@pytest.fixture(scope="module")
def catering(local_dev: LocalStack) -> StaffTeam:
    return StaffTeam(local_dev, ["food"])


# --- the API, as the web app calls it ----------------------------------------------------------

def test_the_user_pool_signs_a_guest_up_with_a_verified_email(local_dev: LocalStack) -> None:
    email = new_email("guest")
    sign_up(local_dev, email, "Vera Verified")
    user = admin(local_dev, "cognito-idp").admin_get_user(
        UserPoolId=outputs(local_dev)["userPoolId"], Username=email)
    attributes = {a["Name"]: a["Value"] for a in user["UserAttributes"]}
    assert user["UserStatus"] == "CONFIRMED"
    assert attributes["email"] == email
    with pytest.raises(Exception, match="InvalidPasswordException"):
        cognito_as_a_browser(local_dev).sign_up(
            ClientId=outputs(local_dev)["userPoolClientId"], Username=new_email("weak"),
            Password="short", UserAttributes=[{"Name": "email", "Value": "w@example.com"}])


def test_every_route_refuses_a_caller_without_a_token(local_dev: LocalStack) -> None:
    for method, path in (("GET", "/sessions"), ("POST", "/sessions/keynote/registrations"),
                         ("GET", "/registrations"), ("POST", "/check-ins"),
                         ("POST", "/requests"), ("GET", "/requests")):
        answer = api(local_dev, method, path, None)
        assert answer.status == 401, (method, path, answer.body)
    assert api(local_dev, "GET", "/sessions", "not-a-token").status == 401


def test_a_guest_registers_once_and_staff_check_them_in_once(
        local_dev: LocalStack, guest: str, staff: str) -> None:
    sessions = api(local_dev, "GET", "/sessions", guest)
    assert sessions.status == 200, sessions.body
    assert [s["sessionId"] for s in sessions.json()["sessions"]] == ["keynote", "workshop-a"]

    first = api(local_dev, "POST", "/sessions/keynote/registrations", guest)
    again = api(local_dev, "POST", "/sessions/keynote/registrations", guest)
    assert (first.status, again.status) == (201, 200), (first.body, again.body)
    assert again.json()["registrationId"] == first.json()["registrationId"]
    assert again.json()["qr"] == first.json()["qr"]
    assert first.json()["qrSvg"].startswith("<svg")
    mine = api(local_dev, "GET", "/registrations", guest).json()["registrations"]
    assert [r["registrationId"] for r in mine] == [first.json()["registrationId"]]

    code = first.json()["qr"]
    assert api(local_dev, "POST", "/check-ins", guest, {"code": code}).status == 403
    checked_in = api(local_dev, "POST", "/check-ins", staff, {"code": code})
    twice = api(local_dev, "POST", "/check-ins", staff, {"code": code})
    assert (checked_in.status, twice.status) == (200, 200), (checked_in.body, twice.body)
    assert checked_in.json()["guest"]["name"] == "Gwen Guest"
    assert (checked_in.json()["firstCheckIn"], twice.json()["firstCheckIn"]) == (True, False)
    assert twice.json()["checkedInAt"] == checked_in.json()["checkedInAt"]
    altered = code[:-2] + ("AA" if not code.endswith("AA") else "BB")
    refused = api(local_dev, "POST", "/check-ins", staff, {"code": altered})
    assert (refused.status, refused.json()["message"]) == (400, "Invalid code")


def test_bad_requests_are_answered_400_before_or_by_the_handler(
        local_dev: LocalStack, guest: str) -> None:
    no_type = api(local_dev, "POST", "/requests", guest, {"note": "no type"})
    assert no_type.status == 400
    assert "message" in no_type.json()
    unknown = api(local_dev, "POST", "/requests", guest, {"type": "limousine"})
    assert unknown.status == 400
    assert "limousine" not in unknown.json()["message"]
    assert api(local_dev, "POST", "/sessions/no-such/registrations", guest).status == 404


def test_a_request_reaches_the_staff_team_that_handles_its_type(
        local_dev: LocalStack, guest: str, staff: str, catering: StaffTeam) -> None:
    food = api(local_dev, "POST", "/requests", guest,
               {"type": "food", "note": "Vegan lunch, please", "sessionId": "keynote"})
    handout = api(local_dev, "POST", "/requests", guest, {"type": "handout"})
    assert (food.status, handout.status) == (201, 201), (food.body, handout.body)

    heard = eventually(catering.heard, timeout=30)
    assert len(heard) == 1, heard
    attributes = heard[0]["MessageAttributes"]
    assert attributes["requestType"]["Value"] == "food"
    assert json.loads(heard[0]["Message"])["requestId"] == food.json()["requestId"]
    board = api(local_dev, "GET", "/requests?type=food", staff)
    assert food.json()["requestId"] in [r["requestId"] for r in board.json()["requests"]]
    assert api(local_dev, "GET", "/requests", guest).status == 403


def test_a_retried_request_is_filed_once_and_a_retried_registration_answers_alike(
        local_dev: LocalStack, guest: str, staff: str) -> None:
    key = str(uuid.uuid4())
    note = {"type": "help", "note": f"Lost my badge ({key[:8]})"}
    first = api(local_dev, "POST", "/requests", guest, note, key=key)
    again = api(local_dev, "POST", "/requests", guest, note, key=key)
    assert (first.status, again.status) == (201, 201), (first.body, again.body)
    assert again.json() == first.json()
    board = api(local_dev, "GET", "/requests?type=help", staff).json()["requests"]
    assert [r["note"] for r in board].count(note["note"]) == 1
    other = api(local_dev, "POST", "/requests", guest, {**note, "note": "Something else"},
                key=key)
    assert other.status == 422, other.body
    assert other.json()["statusCode"] == 422

    registration_key = str(uuid.uuid4())
    registered = api(local_dev, "POST", "/sessions/workshop-a/registrations", guest,
                     key=registration_key)
    retried = api(local_dev, "POST", "/sessions/workshop-a/registrations", guest,
                  key=registration_key)
    assert (registered.status, retried.status) == (201, 201), (registered.body, retried.body)
    assert retried.json() == registered.json()
    assert api(local_dev, "POST", "/sessions/keynote/registrations", guest,
               key=registration_key).status == 422
    # The records are in the service's own table, which the stack exports.
    records = admin(local_dev, "dynamodb").scan(
        TableName=outputs(local_dev)["idempotencyTableName"])["Items"]
    assert {record["status"]["S"] for record in records} == {"COMPLETED"}
    assert len(records) >= 2


def idempotency_records(stack: LocalStack) -> int:
    return len(admin(stack, "dynamodb").scan(
        TableName=outputs(stack)["idempotencyTableName"])["Items"])


def test_the_web_app_may_send_an_idempotency_key(local_dev: LocalStack) -> None:
    assert local_dev.started is not None
    preflight = call("OPTIONS", f"{local_dev.started.url(API)}/requests", headers={
        "Origin": "https://events.dev.example.com", "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization,content-type,idempotency-key"})
    assert preflight.status == 200
    allowed = (preflight.header("Access-Control-Allow-Headers") or "").split(",")
    assert "idempotency-key" in allowed


# --- the reminder schedule ---------------------------------------------------------------------

def add_session_starting_soon(stack: LocalStack, session_id: str) -> None:
    """An organiser adds a session that starts within the reminder window."""
    starts = datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=20)
    at = starts.strftime("%Y-%m-%dT%H:%M:%SZ")
    ends = (starts + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    event_id = "summit-2027"
    admin(stack, "dynamodb").put_item(TableName=outputs(stack)["eventsTableName"], Item={
        "pk": {"S": f"EVENT#{event_id}"}, "sk": {"S": f"SESSION#{session_id}"},
        "sessionId": {"S": session_id}, "eventId": {"S": event_id},
        "title": {"S": "Lightning talks"}, "startsAt": {"S": at}, "endsAt": {"S": ends},
        "room": {"S": "Room B"}, "capacity": {"N": "50"},
        "gsi1pk": {"S": "SESSIONS"}, "gsi1sk": {"S": f"{at}#{session_id}"}})


def reminders_to(stack: LocalStack, email: str) -> list[Any]:
    assert stack.aws is not None
    ses = get_backend("ses")[stack.aws.account_id][REGION]
    return [m for m in ses.sent_messages if email in json.dumps(m.destinations)]


def test_the_schedule_reminds_each_guest_once_even_when_it_fires_twice(
        local_dev: LocalStack) -> None:
    add_session_starting_soon(local_dev, "lightning")
    email = new_email("reminded")
    sign_up(local_dev, email, "Rita Reminded")
    registered = api(local_dev, "POST", "/sessions/lightning/registrations",
                     id_token(local_dev, email))
    assert registered.status == 201, registered.body
    assert local_dev.events is not None

    local_dev.events.trigger(SCHEDULE)
    sent = eventually(lambda: reminders_to(local_dev, email), timeout=30)
    local_dev.events.trigger(SCHEDULE)
    assert local_dev.lambdas is not None
    eventually(lambda: local_dev.lambdas is not None and local_dev.lambdas.invoked[
        "eventManagement-reminders-function"] >= 2, timeout=30)

    assert len(reminders_to(local_dev, email)) == len(sent) == 1
    assert sent[0].source == FROM_ADDRESS
    assert "Lightning talks" in sent[0].subject
    item = admin(local_dev, "dynamodb").query(
        TableName=outputs(local_dev)["eventsTableName"], IndexName="byGuest",
        KeyConditionExpression="gsi2pk = :guest AND gsi2sk = :session",
        ExpressionAttributeValues={":guest": {"S": f"GUEST#{registered_guest(local_dev, email)}"},
                                   ":session": {"S": "SESSION#lightning"}})["Items"][0]
    assert item["reminder"]["M"]["status"]["S"] == "sent"


def registered_guest(stack: LocalStack, email: str) -> str:
    user = admin(stack, "cognito-idp").admin_get_user(
        UserPoolId=outputs(stack)["userPoolId"], Username=email)
    return next(a["Value"] for a in user["UserAttributes"] if a["Name"] == "sub")


# --- the web app, in a real browser ------------------------------------------------------------

class Steps:
    """Screenshots of each step, numbered, in the artifacts folder."""

    def __init__(self, page: Any, folder: Path) -> None:
        self.page, self.folder, self.count = page, folder, 0
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)

    def __call__(self, name: str) -> None:
        self.count += 1
        self.page.screenshot(path=str(self.folder / f"{self.count:02d}-{name}.png"),
                             full_page=True)


@pytest.fixture
def browser() -> Iterator[tuple[Any, Steps, list[str]]]:
    with chromium_page(timeout_ms=20_000) as (page, problems):
        steps = Steps(page, ARTIFACTS / "event-management")
        try:
            yield page, steps, problems
        finally:
            steps("last")


def test_in_the_browser_a_guest_registers_and_asks_and_staff_check_them_in(
        local_dev: LocalStack, browser: tuple[Any, Steps, list[str]]) -> None:
    page, step, problems = browser
    assert local_dev.started is not None
    site = local_dev.started.url(SITE)
    materials = StaffTeam(local_dev, ["handout"])
    guest_email, staff_email = new_email("browser-guest"), new_email("browser-staff")
    create_staff(local_dev, staff_email)

    page.goto(f"{site}/#/sign-up")
    ready(page, "view-sign-up")
    assert page.text_content("#event-name") == "Serverless Summit 2027"
    page.fill("#sign-up-email", guest_email)
    page.fill("#sign-up-name", "Bea Browser")
    page.fill("#sign-up-password", PASSWORD)
    step("sign-up")
    page.click("#sign-up-submit")
    ready(page, "view-confirm")
    page.fill("#confirm-code", "123456")
    step("confirm")
    page.click("#confirm-submit")
    ready(page, "view-sign-in")
    page.fill("#sign-in-password", PASSWORD)
    page.click("#sign-in-submit")
    ready(page, "view-sessions")
    assert page.text_content("#user-email") == guest_email
    titles = page.locator("[data-testid=session-title]").all_text_contents()
    assert {"Opening keynote", "Building with events"} <= set(titles)
    step("sessions")

    kept = idempotency_records(local_dev)
    page.click("[data-testid=register][data-session-id=workshop-a]")
    page.wait_for_selector("[data-testid=register][data-session-id=workshop-a].button--done")
    page.click("#nav-tickets")
    ready(page, "view-tickets")
    qr = page.locator("[data-testid=ticket][data-session-id=workshop-a] "
                      "[data-testid=ticket-qr]")
    token = qr.get_attribute("data-token")
    assert token
    assert token.startswith("EVT1.")
    assert qr.locator("svg").count() == 1
    step("ticket")

    request_id = file_request(page, "handout", "workshop-a", "Slides on paper, please")
    step("request")
    heard = eventually(materials.heard, timeout=30)
    assert [json.loads(m["Message"])["requestId"] for m in heard] == [request_id]
    # The app sent an Idempotency-Key with the registration and with the request.
    assert idempotency_records(local_dev) == kept + 2

    page.click("#sign-out")
    ready(page, "view-sign-in")
    sign_in(page, site, staff_email, PASSWORD)
    ready(page, "view-sessions")
    page.click("#nav-staff-check-in")
    ready(page, "view-check-in")
    page.fill("#check-in-code", token)
    page.click("#check-in-submit")
    page.wait_for_selector("#check-in-result[data-first-check-in='true']:not([hidden])")
    assert page.text_content("#check-in-guest-name") == "Bea Browser"
    assert page.text_content("#check-in-guest-email") == guest_email
    step("check-in")

    page.click("#nav-staff-requests")
    ready(page, "view-staff-requests")
    row = page.locator(f"[data-testid=request][data-request-id='{request_id}']")
    assert row.locator("[data-testid=request-note-cell]").text_content() == (
        "Slides on paper, please")
    step("requests-board")
    assert problems == []


# --- the README's walk-through, run as written ---------------------------------------------------


def test_the_readme_walk_through_works_as_written(local_dev: LocalStack, tmp_path: Path) -> None:
    """From a folder that holds what the README assumes (``.local-mode`` of the running stack,
    ``venv``), the walk-through runs under ``set -euo pipefail`` and says what it documents."""
    assert local_dev.aws is not None
    ses = get_backend("ses")[local_dev.aws.account_id][REGION]
    sent_before = len(ses.sent_messages)

    done = run_walk_through(local_dev, SERVICE, tmp_path)

    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    sessions = {session["sessionId"]: session for session in json.loads(lines[0])}
    assert {"keynote", "workshop-a"} <= sessions.keys()
    assert all(isinstance(session["registered"], int) for session in sessions.values())
    assert lines[2] == ('{"firstCheckIn":true,"guest":{"name":"Ana Guest",'
                        '"email":"ana@example.com"}}')
    assert lines[3:5] == ['{"statusCode":400,"message":"Invalid code"}',
                          '{"statusCode":403,"message":"Staff only"}']
    assert lines[6] == "food Vegan lunch, please"
    assert "handout" not in done.stdout
    assert lines[-2] == "[('ana@example.com', 'sent', ['email'])]"
    assert len(ses.sent_messages) - sent_before == 1
