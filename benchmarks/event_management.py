"""Event management's handlers against moto in process: the API's latency, and the reminder
run against a scan-per-session baseline.

    venv/bin/python -m benchmarks.event_management [--requests 500] [--warmup 50]
                                                   [--guests 10000] [--sessions 10]

Everything runs in one process under ``mock_aws``: tables shaped like the component's (the
events table with its ``byStart`` and ``byGuest`` indexes), a KMS HMAC key for the tickets, and
a verified SES identity for the sender. The handlers are imported as Lambda imports them
(``functions/`` on the path, their settings from the environment, tracing disabled); their
logs and metrics go to ``/dev/null`` (still formatted, as in Lambda), so the terminal costs
nothing. The real clock is used throughout: sessions start in the future, so tickets are live.

**API** (``functions/event_api``), warm, after ``--warmup`` untimed requests of each kind; each
request timed alone around ``handler(event, context)`` (``perf_counter_ns``), the proxy event
built beforehand:

- ``register``: ``POST /sessions/{id}/registrations`` by a new guest each time (201): the
  session's GetItem, the guest's GetItem, the TransactWriteItems, KMS GenerateMac, the QR SVG;
- ``register again``: the same guests again (200, the same registration and ticket, whose QR
  SVG a warm function has drawn already: ``qr_svg`` keeps the last ones it drew);
- ``check in``: ``POST /check-ins`` by staff with each ticket (200, ``firstCheckIn`` true);
- ``check in again``: the same tickets again (200, ``firstCheckIn`` false);
- ``of which the QR SVG``: drawing the same tickets alone, uncached (what ``register`` pays).

Each request's time is split: the part inside AWS calls (from botocore's ``before-call`` to its
``after-call``: moto answering, botocore parsing the answer) and the rest (the handler, Powertools
and the SDK building requests), with the garbage collector's time (``gc.callbacks``) recorded
too. Inside moto, ``TransactWriteItems`` deep-copies the whole table before it writes (its
rollback), so a registration's call grows with the table (up to ``warmup + requests`` items
here) and leaves cyclic garbage whose full collections make the tail; the part outside the
calls is what carries over to Lambda.

**Reminders** (``functions/event_reminders``): ``--guests`` guests, each registered for one of
``--sessions`` sessions that all start within the 60-minute window (40 to 58 minutes after the
data is written). Two tables hold the same items: one for the handler, one for the baseline.
Each implementation runs twice, handler then baseline, then both again:

- **handler**: ``handler({"source": ...}, context)``: one Query on ``byStart``, then per session a
  Query of its registrations, and per guest a conditional claim, SES v2 ``SendEmail`` and a
  conditional "sent" update;
- **baseline** (written here, the naive way): one Scan of the whole table for the sessions due,
  then per session a Scan of the whole table filtered on that session and on having no
  reminder yet, and per guest ``SendEmail`` and an unconditional update recording the reminder
  (so that a second run sends nothing). It builds each email with the handler's own
  ``email_content``, so both send the same messages from the same sender.

Counted from botocore's events on the clients (the handlers' own and the baseline's): calls
per operation and the seconds inside them; **items read** (``ScannedCount`` of each Query and
Scan page, the items a filter drops included, which DynamoDB bills); **read units** estimated
per page as ``ceil(items * mean item size / 4 KB) * 0.5`` (eventually consistent reads), the
mean size taken with moto's ``Item.size()`` (DynamoDB's sizing rules) just before the run;
**write units** one per UpdateItem (every item stays under 1 KB, which is checked). Emails: the
messages moto's SES recorded during the run.

Checked (the run fails otherwise): every guest gets exactly one email from the handler's first
run and every registration is marked ``sent``; the second run sends none; the baseline sends
the same messages (recipient, subject, body) and none on its second run; every API answer has
the expected status. Results: ``results/event_management.json``.

Times are moto's, in process: each AWS call costs the SDK's serialising and parsing plus
moto's Python, not a network round trip (several milliseconds in a region), so wall times
here rank the calls' count and work, not what Lambda would measure.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import importlib
import json
import math
import os
import platform
import statistics
import sys
import time
import warnings
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

from benchmarks.recording import cpu_model, environment, write_results

# The tables as the component declares them, shared with the handlers' tests.
from tests.functions.event_management_support import (
    create_events_table,
    create_requests_table,
    iso,
)

RESULTS = Path(__file__).resolve().parent / "results" / "event_management.json"
REGION = "us-east-1"
ACCOUNT = "123456789012"  # moto's default account
EVENT_ID = "bench-summit-2026"
EVENT_NAME = "Benchmark Summit 2026"
SENDER = "events@example.com"
STAFF_GROUP = "staff"
APP_ORIGIN = "https://events.example.com"
API_EVENTS_TABLE = "bench-events"
API_REQUESTS_TABLE = "bench-requests"
HANDLER_TABLE = "bench-reminders-handler"
BASELINE_TABLE = "bench-reminders-baseline"
API_SESSION = "api-bench"
WINDOW_MINUTES = 60
FIRST_START = timedelta(minutes=40)  # the sessions start 40 to 58 minutes after seeding
SPREAD = timedelta(minutes=18)
LAMBDA_BUDGET_MS = 900_000  # the reminders' context: a 15-minute function
STAFF = {"sub": "a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d", "email": "sam@example.com",
         "name": "Sam Staff", "cognito:groups": STAFF_GROUP}
SCHEDULED_EVENT = {"source": "event-management.reminders"}


# ----------------------------------------------------------------------------- environment

AWS_ENVIRONMENT = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                   "AWS_SESSION_TOKEN": "testing", "AWS_DEFAULT_REGION": REGION,
                   "AWS_REGION": REGION}
POWERTOOLS = {"POWERTOOLS_SERVICE_NAME": "event-management",
              "POWERTOOLS_METRICS_NAMESPACE": "ServerlessBlueprints",
              "POWERTOOLS_TRACE_DISABLED": "true", "POWERTOOLS_LOG_LEVEL": "INFO"}


def import_handler(module: str, values: Mapping[str, str], sink: Any) -> ModuleType:
    """``module`` imported afresh under ``values``, its logger writing to ``sink``."""
    with environment({**POWERTOOLS, **values}), contextlib.redirect_stdout(sink):
        sys.modules.pop(module, None)
        return importlib.import_module(module)


@dataclass
class Context:
    """The parts of Lambda's context that Powertools and the reminders read."""

    function_name: str
    memory_limit_in_mb: int = 256
    aws_request_id: str = "52fdfc07-2182-154f-163f-5f0f9a621d72"
    invoked_function_arn: str = ""
    budget_ms: int = LAMBDA_BUDGET_MS
    started: float = field(default_factory=time.monotonic)

    def __post_init__(self) -> None:
        self.invoked_function_arn = (f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:"
                                     f"{self.function_name}")

    def get_remaining_time_in_millis(self) -> int:
        return int(self.budget_ms - (time.monotonic() - self.started) * 1000)


# ---------------------------------------------------------------------------------- tables

def session_item(session_id: str, title: str, starts: datetime, capacity: int,
                 registered: int, room: str) -> dict[str, Any]:
    """A session as the component seeds it from config."""
    return {"pk": f"EVENT#{EVENT_ID}", "sk": f"SESSION#{session_id}", "sessionId": session_id,
            "eventId": EVENT_ID, "title": title, "startsAt": iso(starts),
            "endsAt": iso(starts + timedelta(hours=1)), "room": room, "capacity": capacity,
            "registered": registered, "gsi1pk": "SESSIONS",
            "gsi1sk": f"{iso(starts)}#{session_id}"}


@dataclass(frozen=True)
class Guest:
    sub: str
    email: str
    name: str
    phone: str

    @classmethod
    def number(cls, index: int) -> Guest:
        return cls(sub=f"{index:08x}-0000-4000-8000-{index:012x}",
                   email=f"guest{index}@example.com", name=f"Guest {index}",
                   phone=f"+1425{index % 10_000_000:07d}")

    def claims(self) -> dict[str, str]:
        return {"sub": self.sub, "email": self.email, "name": self.name,
                "phone_number": self.phone, "email_verified": "true"}


def registration_item(session_id: str, guest: Guest, index: int) -> dict[str, Any]:
    """A registration as the API writes it."""
    return {"pk": f"SESSION#{session_id}", "sk": f"GUEST#{guest.sub}",
            "registrationId": f"{index:08x}-1111-4111-8111-{index:012x}",
            "sessionId": session_id, "eventId": EVENT_ID, "guestId": guest.sub,
            "email": guest.email, "name": guest.name, "phone": guest.phone,
            "registeredAt": "2026-12-01T10:00:00.000Z",
            "gsi2pk": f"GUEST#{guest.sub}", "gsi2sk": f"SESSION#{session_id}"}


# ------------------------------------------------------------------------------- counting

@dataclass
class Calls:
    """AWS calls seen on the clients it is attached to, from botocore's ``before-call`` and
    ``after-call`` events: their count, what they read, and the time from one event to the
    other (moto answering, and botocore parsing the answer; not building the request)."""

    operations: Counter[str] = field(default_factory=Counter)
    spent_ns: Counter[str] = field(default_factory=Counter)
    scanned_pages: list[int] = field(default_factory=list)  # ScannedCount of Query/Scan pages
    items_read: int = 0
    _started: int = 0

    def attach(self, client: Any) -> None:
        client.meta.events.register("before-call", self._before)
        client.meta.events.register("after-call", self._after)

    def reset(self) -> None:
        self.operations.clear()
        self.spent_ns.clear()
        self.scanned_pages.clear()
        self.items_read = 0

    def in_calls_ns(self) -> int:
        return sum(self.spent_ns.values())

    def _before(self, **_: Any) -> None:
        self._started = time.perf_counter_ns()

    def _after(self, event_name: str, parsed: Mapping[str, Any], **_: Any) -> None:
        spent = time.perf_counter_ns() - self._started
        _hook, service, operation = event_name.split(".", 2)
        self.operations[f"{service}.{operation}"] += 1
        self.spent_ns[f"{service}.{operation}"] += spent
        if service != "dynamodb":
            return
        if operation in ("Query", "Scan"):
            scanned = int(parsed.get("ScannedCount", 0))
            self.scanned_pages.append(scanned)
            self.items_read += scanned
        elif operation == "GetItem":
            self.items_read += 1 if "Item" in parsed else 0
        elif operation == "BatchGetItem":
            self.items_read += sum(len(items) for items in parsed.get("Responses", {}).values())

    def dynamodb(self) -> dict[str, int]:
        return {name.split(".", 1)[1]: count for name, count in sorted(self.operations.items())
                if name.startswith("dynamodb.")}

    def total(self, service: str) -> int:
        return sum(count for name, count in self.operations.items()
                   if name.startswith(f"{service}."))


@dataclass
class Collections:
    """The time the garbage collector runs, from ``gc.callbacks``, while installed."""

    spent_ns: int = 0
    collections: Counter[int] = field(default_factory=Counter)
    _started: int = 0

    def __enter__(self) -> Collections:
        gc.callbacks.append(self._callback)
        return self

    def __exit__(self, *_: object) -> None:
        gc.callbacks.remove(self._callback)

    def _callback(self, phase: str, info: Mapping[str, int]) -> None:
        if phase == "start":
            self._started = time.perf_counter_ns()
        else:
            self.spent_ns += time.perf_counter_ns() - self._started
            self.collections[info["generation"]] += 1


def item_sizes(table_name: str) -> list[int]:
    """The size of each item of the table, by DynamoDB's rules (moto's reckoning)."""
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.dynamodb.models import dynamodb_backends

    table = dynamodb_backends[DEFAULT_ACCOUNT_ID][REGION].get_table(table_name)
    return [item.size() for item in table.all_items()]


def read_units(pages: list[int], mean_size: float) -> float:
    """Eventually consistent reads: half a unit per 4 KB read, per page, rounded up."""
    return sum(math.ceil(scanned * mean_size / 4096) * 0.5 for scanned in pages if scanned)


def sent_messages() -> list[Any]:
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.ses.models import ses_backends

    messages: list[Any] = ses_backends[DEFAULT_ACCOUNT_ID][REGION].sent_messages
    return messages


def check(condition: bool, message: str) -> None:
    if not condition:
        raise RuntimeError(f"check failed: {message}")


# ------------------------------------------------------------------------------------ API

def rest_event(path: str, resource: str, claims: Mapping[str, str], *,
               path_parameters: dict[str, str] | None = None,
               body: str | None = None) -> dict[str, Any]:
    """A REST API proxy event as API Gateway sends it after the Cognito authorizer."""
    headers = {"Accept": "application/json", "Host": "abc123defg.execute-api.us-east-1."
               "amazonaws.com", "User-Agent": "Mozilla/5.0", "origin": APP_ORIGIN,
               "X-Amzn-Trace-Id": "Root=1-6745e1f5-0b1c2d3e4f5a6b7c8d9e0f1a",
               "X-Forwarded-For": "203.0.113.178", "X-Forwarded-Port": "443",
               "X-Forwarded-Proto": "https"}
    if body is not None:
        headers["Content-Type"] = "application/json"
    return {
        "resource": resource, "path": path, "httpMethod": "POST", "headers": headers,
        "multiValueHeaders": {name: [value] for name, value in headers.items()},
        "queryStringParameters": None, "multiValueQueryStringParameters": None,
        "pathParameters": path_parameters, "stageVariables": None, "body": body,
        "isBase64Encoded": False,
        "requestContext": {
            "resourceId": "2gxmpl", "resourcePath": resource, "httpMethod": "POST",
            "path": f"/dev{path}", "accountId": ACCOUNT, "protocol": "HTTP/1.1",
            "stage": "dev", "domainPrefix": "abc123defg", "apiId": "abc123defg",
            "requestId": "c6af9ac6-7b61-11e6-9a41-93e8deadbeef",
            "requestTimeEpoch": int(time.time() * 1000),
            "domainName": "abc123defg.execute-api.us-east-1.amazonaws.com",
            "identity": {"sourceIp": "203.0.113.178", "userAgent": "Mozilla/5.0"},
            "authorizer": {"claims": dict(claims)},
        },
    }


def registration_event(guest: Guest) -> dict[str, Any]:
    return rest_event(f"/sessions/{API_SESSION}/registrations",
                      "/sessions/{sessionId}/registrations", guest.claims(),
                      path_parameters={"sessionId": API_SESSION})


def check_in_event(code: str) -> dict[str, Any]:
    return rest_event("/check-ins", "/check-ins", STAFF, body=json.dumps({"code": code}))


def percentiles(nanoseconds: list[int]) -> dict[str, float]:
    ordered = sorted(nanoseconds)

    def at(share: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(share * len(ordered)))] / 1e6, 2)

    return {"p50_ms": at(0.50), "p99_ms": at(0.99), "max_ms": round(ordered[-1] / 1e6, 2),
            "mean_ms": round(statistics.fmean(ordered) / 1e6, 2)}


def measure_api(requests: int, warmup: int, sink: Any) -> list[dict[str, Any]]:
    import boto3  # type: ignore[import-untyped]

    client = boto3.client("dynamodb", region_name=REGION)
    create_events_table(client, API_EVENTS_TABLE)
    create_requests_table(client, API_REQUESTS_TABLE)
    kms = boto3.client("kms", region_name=REGION)
    key_id = kms.create_key(KeySpec="HMAC_256", KeyUsage="GENERATE_VERIFY_MAC",
                            Description="QR tickets")["KeyMetadata"]["KeyId"]
    total = warmup + requests
    starts = datetime.now(UTC).replace(microsecond=0) + timedelta(days=1)
    boto3.resource("dynamodb", region_name=REGION).Table(API_EVENTS_TABLE).put_item(
        Item=session_item(API_SESSION, "Benchmark keynote", starts, 10 * total, 0, "Hall 1"))
    api = import_handler("event_api.app", {
        "TABLE_NAME": API_EVENTS_TABLE, "REQUESTS_TABLE_NAME": API_REQUESTS_TABLE,
        "EVENT_ID": EVENT_ID, "QR_KEY_ID": key_id, "STAFF_GROUP": STAFF_GROUP,
        "ALLOWED_ORIGINS": APP_ORIGIN}, sink)
    calls = Calls()
    calls.attach(api.dynamodb.meta.client)
    calls.attach(api.kms)
    context = Context("event-api")
    guests = [Guest.number(index) for index in range(total)]

    in_calls: list[int] = []  # per timed request, the part spent in AWS calls
    collecting: list[int] = []  # and the part the garbage collector took
    collector = Collections()  # a new one for each kind of request

    def call(event: dict[str, Any]) -> tuple[int, dict[str, Any], int]:
        with contextlib.redirect_stdout(sink):
            before, collected = calls.in_calls_ns(), collector.spent_ns
            started = time.perf_counter_ns()
            response = api.handler(event, context)
            spent = time.perf_counter_ns() - started
            in_calls.append(calls.in_calls_ns() - before)
            collecting.append(collector.spent_ns - collected)
        return response["statusCode"], json.loads(response["body"]), spent

    registrations: dict[str, dict[str, Any]] = {}

    def register(guest: Guest) -> tuple[int, dict[str, Any], int]:
        return call(registration_event(guest))

    def register_new(guest: Guest) -> int:
        status, body, spent = register(guest)
        check(status == 201, f"registration answered {status}: {body}")
        registrations[guest.sub] = body
        return spent

    def register_again(guest: Guest) -> int:
        status, body, spent = register(guest)
        check(status == 200 and body["registrationId"]
              == registrations[guest.sub]["registrationId"], f"repeat answered {status}")
        return spent

    def check_in(guest: Guest, first: bool) -> int:
        status, body, spent = call(check_in_event(registrations[guest.sub]["qr"]))
        check(status == 200 and body["firstCheckIn"] is first
              and body["guest"]["email"] == guest.email, f"check-in answered {status}: {body}")
        return spent

    kinds: list[tuple[str, str, Callable[[Guest], int]]] = [
        ("register", "POST /sessions/{id}/registrations, a new guest (201)", register_new),
        ("register again", "the same guest again (200, same registration)", register_again),
        ("check in", "POST /check-ins by staff, first scan (200)",
         lambda guest: check_in(guest, True)),
        ("check in again", "the same code again (200, firstCheckIn false)",
         lambda guest: check_in(guest, False)),
    ]
    rows = []
    warm, timed = guests[:warmup], guests[warmup:]
    for name, description, operation in kinds:
        for guest in warm:
            operation(guest)
        calls.reset()
        in_calls.clear()
        collecting.clear()
        collector = Collections()
        with collector:
            spans = [operation(guest) for guest in timed]
        per_request = {operation_name: round(count / len(timed), 2)
                       for operation_name, count in sorted(calls.operations.items())}
        mean_call_ms = {operation_name: round(calls.spent_ns[operation_name]
                                              / calls.operations[operation_name] / 1e6, 2)
                        for operation_name in sorted(calls.operations)}
        own = [span - aws for span, aws in zip(spans, in_calls, strict=True)]
        overall, outside = percentiles(spans), percentiles(own)
        rows.append({"request": name, "what": description, "requests": len(timed), **overall,
                     "calls_per_request": per_request, "in_aws_calls": percentiles(in_calls),
                     "mean_ms_per_call": mean_call_ms, "outside_aws_calls": outside,
                     "garbage_collection": {
                         **percentiles(collecting),
                         "full_collections": collector.collections[2],
                         "requests_with_a_collection_over_10_ms": sum(
                             1 for spent in collecting if spent > 10_000_000)},
                     "table_registrations_after": len(registrations),
                     "objects_tracked_by_gc_after": len(gc.get_objects())})
        print(f"{name:16} p50 {overall['p50_ms']:7.2f} ms  p99 {overall['p99_ms']:7.2f} ms  "
              f"(outside AWS calls p50 {outside['p50_ms']:.2f}, p99 {outside['p99_ms']:.2f}; "
              f"GC max {max(collecting) / 1e6:.1f})  "
              f"calls {per_request}  mean ms per call {mean_call_ms}", flush=True)
    # What drawing the ticket costs of a registration's time: the same tokens, no AWS call, and
    # no cache (the handler's would answer them all).
    spans = []
    for guest in timed:
        code = registrations[guest.sub]["qr"]
        started = time.perf_counter_ns()
        api.qr_svg.__wrapped__(code)
        spans.append(time.perf_counter_ns() - started)
    rows.append({"request": "of which the QR SVG", "what": "event_tickets.qr.qr_svg on the "
                 "same tickets, alone and uncached (part of a new registration's time)",
                 "requests": len(timed),
                 **percentiles(spans), "calls_per_request": {}})
    print(f"{'QR SVG alone':16} p50 {rows[-1]['p50_ms']:7.2f} ms  p99 {rows[-1]['p99_ms']:7.2f} "
          "ms", flush=True)
    return rows


# ------------------------------------------------------------------------------ reminders

class ScanPerSessionBaseline:
    """The naive reminder run: Scans of the whole table, one per session due (see the module's
    docstring). ``content`` builds an email from a registration and its session."""

    def __init__(self, table: Any, sesv2: Any,
                 content: Callable[[Mapping[str, Any], Mapping[str, Any]], dict[str, Any]]):
        self._table = table
        self._sesv2 = sesv2
        self._content = content

    def _scan(self, **request: Any) -> Iterator[dict[str, Any]]:
        while True:
            page = self._table.scan(**request)
            yield from page.get("Items", [])
            if "LastEvaluatedKey" not in page:
                return
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def run(self, now: datetime, window: timedelta) -> dict[str, int]:
        from boto3.dynamodb.conditions import Attr  # type: ignore[import-untyped]

        due = list(self._scan(FilterExpression=Attr("sk").begins_with("SESSION#")
                              & Attr("startsAt").between(iso(now), iso(now + window))))
        sent = 0
        for session in due:
            for registration in self._scan(
                    FilterExpression=Attr("pk").eq(f"SESSION#{session['sessionId']}")
                    & Attr("reminder").not_exists()):
                self._sesv2.send_email(
                    FromEmailAddress=SENDER,
                    Destination={"ToAddresses": [registration["email"]]},
                    Content=self._content(registration, session))
                self._table.update_item(
                    Key={"pk": registration["pk"], "sk": registration["sk"]},
                    UpdateExpression="SET reminder = :sent",
                    ExpressionAttributeValues={":sent": {
                        "status": "sent", "channels": ["email"],
                        "at": datetime.now(UTC).isoformat(timespec="milliseconds")}})
                sent += 1
        return {"sessions": len(due), "sent": sent}


def seed_reminders(guests: int, sessions: int) -> list[str]:
    """Both reminder tables with the same sessions and registrations; the guests' emails."""
    import boto3

    client = boto3.client("dynamodb", region_name=REGION)
    resource = boto3.resource("dynamodb", region_name=REGION)
    now = datetime.now(UTC).replace(microsecond=0)
    step = SPREAD / max(1, sessions - 1)
    per_session = [guests // sessions + (1 if index < guests % sessions else 0)
                   for index in range(sessions)]
    emails = []
    for name in (HANDLER_TABLE, BASELINE_TABLE):
        create_events_table(client, name)
        number = 0
        with resource.Table(name).batch_writer() as batch:
            for index, count in enumerate(per_session):
                session_id = f"session-{index:03d}"
                batch.put_item(Item=session_item(
                    session_id, f"Session {index}: serverless patterns",
                    now + FIRST_START + step * index, count, count, f"Room {index % 7 + 1}"))
                for _ in range(count):
                    guest = Guest.number(number)
                    batch.put_item(Item=registration_item(session_id, guest, number))
                    if name == HANDLER_TABLE:
                        emails.append(guest.email)
                    number += 1
    return emails


def message_key(message: Any) -> tuple[str, str, str]:
    recipients = [address for addresses in message.destinations.values()
                  for address in addresses]
    check(len(recipients) == 1, "one recipient per reminder")
    return recipients[0], message.subject, message.body


def measure_reminders(guests: int, sessions: int, sink: Any) -> dict[str, Any]:
    import boto3

    phase = time.perf_counter()
    boto3.client("sesv2", region_name=REGION).create_email_identity(EmailIdentity=SENDER)
    emails = seed_reminders(guests, sessions)
    seeded_s = round(time.perf_counter() - phase, 1)
    print(f"seeded {guests} registrations for {sessions} sessions in two tables "
          f"in {seeded_s} s", flush=True)
    reminders = import_handler("event_reminders.app", {
        "TABLE_NAME": HANDLER_TABLE, "FROM_ADDRESS": SENDER, "EVENT_NAME": EVENT_NAME,
        "WINDOW_MINUTES": str(WINDOW_MINUTES)}, sink)
    calls = Calls()
    calls.attach(reminders.table.meta.client)
    calls.attach(reminders.sesv2)
    baseline_table = boto3.resource("dynamodb", region_name=REGION).Table(BASELINE_TABLE)
    baseline_sesv2 = boto3.client("sesv2", region_name=REGION)
    calls.attach(baseline_table.meta.client)
    calls.attach(baseline_sesv2)
    baseline = ScanPerSessionBaseline(baseline_table, baseline_sesv2, reminders.email_content)

    def handler_run() -> dict[str, int]:
        answer: dict[str, int] = reminders.handler(SCHEDULED_EVENT, Context("event-reminders"))
        return answer

    def baseline_run() -> dict[str, int]:
        return baseline.run(datetime.now(UTC), timedelta(minutes=WINDOW_MINUTES))

    runs: list[dict[str, Any]] = []
    messages: dict[tuple[str, int], list[tuple[str, str, str]]] = {}
    for attempt in (1, 2):
        for name, table_name, operation in (("handler", HANDLER_TABLE, handler_run),
                                            ("baseline", BASELINE_TABLE, baseline_run)):
            sizes = item_sizes(table_name)
            mean_size = statistics.fmean(sizes)
            calls.reset()
            before = len(sent_messages())
            with contextlib.redirect_stdout(sink), Collections() as collector:
                started = time.perf_counter()
                answer = operation()
                wall = time.perf_counter() - started
            messages[(name, attempt)] = [message_key(message)
                                         for message in sent_messages()[before:]]
            largest = max(item_sizes(table_name))
            check(largest < 1024, "every item under 1 KB, one write unit per write")
            dynamodb = calls.dynamodb()
            writes = sum(count for operation_name, count in dynamodb.items()
                         if operation_name in ("UpdateItem", "PutItem", "DeleteItem"))
            row = {"implementation": name, "run": attempt, "wall_s": round(wall, 2),
                   "answer": answer, "emails_sent": len(messages[(name, attempt)]),
                   "ses_calls": calls.total("sesv2"), "dynamodb_calls": dynamodb,
                   "dynamodb_calls_total": sum(dynamodb.values()),
                   "query_scan_pages": len(calls.scanned_pages),
                   "items_read": calls.items_read,
                   "mean_item_bytes_before": round(mean_size, 1),
                   "read_units_estimated": read_units(calls.scanned_pages, mean_size),
                   "write_units": writes,
                   "garbage_collection_s": round(collector.spent_ns / 1e9, 2),
                   "full_collections": collector.collections[2],
                   "in_aws_calls_s": {operation_name: round(spent / 1e9, 2) for
                                      operation_name, spent in sorted(calls.spent_ns.items())}}
            runs.append(row)
            print(f"{name:9} run {attempt}  {row['wall_s']:7.2f} s  emails "
                  f"{row['emails_sent']:6}  DynamoDB {dynamodb}  items read "
                  f"{row['items_read']:7}  ~RRU {row['read_units_estimated']:8.1f}  "
                  f"WRU {writes}", flush=True)

    first, again = messages[("handler", 1)], messages[("handler", 2)]
    received = Counter(recipient for recipient, _, _ in first)
    check(sorted(received) == sorted(emails) and set(received.values()) == {1},
          "the handler's first run sends each guest exactly one email")
    check(not again, "the handler's second run sends none")
    check(runs[0]["answer"] == {"sessions": sessions, "sent": guests, "failed": 0,
                                "skipped": 0, "outOfTime": False},
          f"the handler's first summary: {runs[0]['answer']}")
    statuses = reminder_statuses(HANDLER_TABLE)
    check(statuses == Counter({"sent": guests}), f"every registration marked sent: {statuses}")
    check(sorted(messages[("baseline", 1)]) == sorted(first),
          "the baseline sends the same messages")
    check(not messages[("baseline", 2)], "the baseline's second run sends none")
    return {"seeded_s": seeded_s, "window_minutes": WINDOW_MINUTES,
            "guests_per_session": guests // sessions, "runs": runs,
            "checks": {"handler_each_guest_one_email": True,
                       "handler_second_run_sends_none": True,
                       "every_registration_marked_sent": True,
                       "baseline_same_messages": True,
                       "baseline_second_run_sends_none": True}}


def reminder_statuses(table_name: str) -> Counter[str]:
    """The ``reminder.status`` of every registration, read from moto's table directly (no
    call counted)."""
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.dynamodb.models import dynamodb_backends

    table = dynamodb_backends[DEFAULT_ACCOUNT_ID][REGION].get_table(table_name)
    statuses: Counter[str] = Counter()
    for item in table.all_items():
        plain = item.to_regular_json()
        if str(plain["pk"]).startswith("SESSION#"):
            statuses[str((plain.get("reminder") or {}).get("status", "none"))] += 1
    return statuses


# ---------------------------------------------------------------------------------- main

def machine() -> dict[str, Any]:
    import boto3
    import moto
    from aws_lambda_powertools.shared.version import VERSION

    return {"cpu": cpu_model(), "cores": os.cpu_count(), "arch": platform.machine(),
            "python": f"{platform.python_implementation()} {platform.python_version()}",
            "boto3": boto3.__version__, "moto": moto.__version__, "powertools": VERSION,
            "load_average": [round(value, 2) for value in os.getloadavg()]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=500,
                        help="timed API requests of each kind")
    parser.add_argument("--warmup", type=int, default=50,
                        help="untimed API requests of each kind before")
    parser.add_argument("--guests", type=int, default=10_000)
    parser.add_argument("--sessions", type=int, default=10)
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args()

    from moto import mock_aws

    # A run that sends nothing publishes no metric; Powertools warns about it each time.
    warnings.filterwarnings("ignore", "No application metrics to publish")
    started = time.perf_counter()
    document: dict[str, Any] = {
        "recorded": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(), "requests": args.requests, "warmup": args.warmup,
        "guests": args.guests, "sessions": args.sessions,
        "aws": "moto in process (mock_aws); no network",
    }
    with open(os.devnull, "w", encoding="utf-8") as sink, environment(AWS_ENVIRONMENT), \
            mock_aws():
        document["api"] = measure_api(args.requests, args.warmup, sink)
        document["reminders"] = measure_reminders(args.guests, args.sessions, sink)
    write_results(document, args.output, started)


if __name__ == "__main__":
    main()
