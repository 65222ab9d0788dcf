"""Event management: guests sign up, register for sessions and get a signed QR code; staff check
them in and hear about guest requests at once; guests get one reminder before each session.

The catalog's post 5 (``../shared/CATALOG.md``). The routes, tables, token format and the
variables each handler reads are in the handlers' docstrings (``functions/event_api``,
``event_notifier``, ``event_reminders``, ``event_tickets``). What it builds:

- **Guests' user pool** (Cognito): self sign-up with the email address as user name, email
  verified, passwords of 12+ characters with every character class, optional TOTP MFA, a
  ``staff`` group, and the web client with exactly ``ALLOW_USER_PASSWORD_AUTH`` and
  ``ALLOW_REFRESH_TOKEN_AUTH`` and no secret (the page is plain JavaScript, which has no SRP
  library; the password goes to Cognito over TLS, where threat protection sees every attempt).
  Threat protection (the Plus tier) is ``threatProtection``: enforced in prod, off in dev unless
  set. Optional social identity providers (Google, Facebook, Login with Amazon) with a hosted
  domain and the code flow; their client secrets come from ``eventManagement:<provider>
  ClientSecret`` (secret stack config), never from the stack file.
- **The REST API** (``RestApi``/``RestStage``): a ``COGNITO_USER_POOLS`` authorizer on every
  method but the CORS preflights; request validation, with the ``CheckIn`` and ``GuestRequest``
  models for the two JSON bodies; ``*/*`` throttling from config; an encrypted cache whose TTL is
  ``sessionListCacheSeconds``, used by ``GET /sessions`` only (every other method turns it off:
  their answers depend on the caller, and the cache key does not). Staff-only routes
  (``POST /check-ins``, ``GET /requests``) are enforced by the handler from the token's
  ``cognito:groups``: a Cognito authorizer cannot check a group, and scopes would need the
  access token, which carries no email or name.
- **Two tables** (``Table``): ``events`` (sessions and registrations, GSIs ``byStart`` and
  ``byGuest``) and ``requests`` (guest requests, with a ``NEW_IMAGE`` stream: only requests
  reach the notifier). One table for sessions and registrations keeps a registration and its
  session's counter in one transaction; requests stay apart so that the stream carries nothing
  else. On demand, or provisioned with application auto scaling (``capacity``).
- **An HMAC KMS key** (``HMAC_256``, ``GENERATE_VERIFY_MAC``) that signs and checks the QR
  tokens; the key never leaves KMS.
- **Idempotent creation** (``IdempotencyStore``): ``POST /sessions/{sessionId}/registrations``
  and ``POST /requests`` with an ``Idempotency-Key`` header run once per key and guest; a
  retry gets the first answer (same status, registration and ticket, or ``requestId``) for
  ``idempotencyExpirySeconds`` (24 hours), the same key with another session or request a 422,
  a retry while the first still runs a 409 with ``Retry-After``. Without the header both work
  as before. The records' table is on demand whatever ``capacity`` says, encrypted with the
  environment's key, expires them by TTL, and only the API function may use it; the API's
  CORS lets the web app send the header.
- **Three functions** (``Function``), each with statements for exactly its calls: ``event_api``
  (every route, with ``segno`` in a layer for the QR SVG), ``event_notifier`` (the requests stream
  to SNS: batches of 10, bisected on error, 3 retries, partial batch failures, an SQS on-failure
  destination, INSERT records only) and ``event_reminders`` (SES v2 email from ``fromAddress``
  only, and SMS through AWS End User Messaging when an origination identity is configured;
  Amazon Pinpoint reached end of support on 2026-10-30).
- **The staff topic** (SNS, KMS-encrypted, TLS-only) with one email subscription per address
  of each team in ``staffTeams``, filtered on the ``requestType`` message attribute, and a DLQ.
- **The reminder schedule** (EventBridge Scheduler): no flexible window, its own role that may
  invoke the reminder function only, a retry policy and a DLQ.
- **The web app** (``web/event_management/``): a private bucket readable only by the
  distribution (origin access control, ``aws:SourceArn``), CloudFront with security headers,
  ``index.html`` as root object, TLS 1.2 with ``web.domain``, access logs; every file is uploaded
  with its content type, plus a ``config.js`` written from the stack's outputs. With
  ``web.amplifyRepository``, Amplify Hosting builds the site from that repository instead.

Which web hosting to pick: S3 and CloudFront (the default) when the site ships with the stack:
every ``pulumi up`` uploads it, nothing outside the stack is involved, and the distribution
carries this project's guardrails (TLS, logs, headers, WAF). Amplify Hosting when the web app is
developed in its own repository with its own release pace: a push deploys it, with preview
branches, and no ``pulumi up``; it needs a repository token and leaves TLS, headers and logs to
Amplify's own settings.

Guardrail findings left by design: without ``web.webAclArn`` and ``apiWebAclArn`` the
distribution and the stage draw the advisory ``waf-on-public-endpoints`` (the rules belong to
whoever owns the traffic; pass web ACLs in prod). Without ``web.domain`` the distribution serves
CloudFront's certificate, which cannot hold viewers to TLS 1.2, and ``cloudfront-tls-logging``
fails the stack.

What it does not do: create the SES identity (a domain identity needs DNS records that the
account's owner manages; verify ``fromAddress``'s domain first) nor the SMS origination identity.
"""

from __future__ import annotations

import hashlib
import json
import mimetypes
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import pulumi
import pulumi_aws as aws
from pydantic import Field, StringConstraints, model_validator
from pydantic import dataclasses as pydantic_dataclasses

from components.config import SETTINGS, Defaults, Meaning, SettingsError
from components.foundation import iam
from components.foundation.bucket import Bucket, BucketArgs
from components.foundation.cors import CorsArgs
from components.foundation.function import Function, FunctionArgs
from components.foundation.idempotency import (
    DEFAULT_EXPIRY_SECONDS,
    IdempotencyStore,
    IdempotencyStoreArgs,
)
from components.foundation.layer import PythonLayer, PythonLayerArgs
from components.foundation.logs import log_group
from components.foundation.queue import Queue, QueueArgs
from components.foundation.rest_api import (
    CacheSize,
    LoggingLevel,
    RestApi,
    RestApiArgs,
    RestStage,
    RestStageArgs,
)
from components.foundation.table import GlobalIndex, Key, Table, TableArgs
from components.foundation.topic import Subscriber, endpoint_digest, subscribe
from components.services.base import (
    IdempotencyExpirySeconds,
    RegionalWebAclArn,
    ServiceComponent,
    ServiceContext,
)
from components.services.header_versioning import CloudFrontDomainSettings

WEB_DIR = Path(__file__).resolve().parents[2] / "web" / "event_management"
STAFF_GROUP = "staff"
# The guests' passwords: the user pool enforces it, the sign-up form shows it.
PASSWORD_POLICY: aws.cognito.UserPoolPasswordPolicyArgsDict = {
    "minimum_length": 12, "require_lowercase": True, "require_uppercase": True,
    "require_numbers": True, "require_symbols": True, "temporary_password_validity_days": 3}
# Until the handlers' owner pins another version.
QR_REQUIREMENTS = ("segno==1.6.6",)
# AWS-managed CloudFront cache policy "CachingOptimized".
CACHING_OPTIMIZED = "658327ea-f89d-4fab-a63d-7e88639e58f6"
# Files the browser must revalidate on every load: they name the others and the API.
NO_CACHE_FILES = frozenset({"index.html", "config.js"})
STREAM_BATCH_SIZE = 10
STREAM_RETRIES = 3
STREAM_MAX_RECORD_AGE_SECONDS = 3600
SCHEDULE_RETRIES = 2
SCHEDULE_MAX_EVENT_AGE_SECONDS = 600
REQUEST_TYPE = re.compile(r"^[a-z][a-z0-9-]{0,31}$")

Slug = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]{0,63}$"),
                 Meaning("an id of lower-case letters, digits and -, up to 64 characters")]
# UTC only: the byStart index sorts startsAt as text.
UtcTimestamp = Annotated[str, StringConstraints(
    pattern=r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2})?Z$"),
    Meaning("an ISO 8601 UTC time such as 2026-06-01T09:00:00Z")]
RequestType = Annotated[str, StringConstraints(pattern=REQUEST_TYPE.pattern),
                        Meaning("a request type: a lower-case letter, then up to 31 lower-case "
                                "letters, digits or -")]
EmailAddress = Annotated[str, StringConstraints(pattern=r"^[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+$"),
                         Meaning("an email address")]
HttpsOrigin = Annotated[str, StringConstraints(
    pattern=r"^https://[a-z0-9.-]+(:\d{1,5})?$"),
    Meaning("an https origin in lower case with no path (https://events.example.com)")]
SocialProvider = Literal["Google", "Facebook", "LoginWithAmazon"]
SmsOriginationArn = Annotated[str, StringConstraints(
    pattern=r"^arn:aws[\w-]*:sms-voice:[a-z0-9-]+:\d{12}:(phone-number|pool|sender-id)/.+$"),
    Meaning("an AWS End User Messaging SMS phone number, pool or sender id ARN "
            "(arn:aws:sms-voice:<region>:<account>:phone-number/<id>)")]


@pydantic_dataclasses.dataclass(frozen=True, config=SETTINGS)
class EventSettings:
    """The event this instance serves."""

    id: Slug
    name: Annotated[str, StringConstraints(min_length=1, max_length=200)]


@pydantic_dataclasses.dataclass(frozen=True, config=SETTINGS)
class SessionSettings:
    """A session, seeded into the events table."""

    id: Slug
    title: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    starts_at: UtcTimestamp
    ends_at: UtcTimestamp
    room: Annotated[str, StringConstraints(min_length=1, max_length=100)]
    capacity: Annotated[int, Field(ge=1, le=100_000)]

    @model_validator(mode="after")
    def _ends_after_start(self) -> SessionSettings:
        if self.ends_at <= self.starts_at:
            raise SettingsError([("endsAt", f"{self.ends_at} is not after startsAt "
                                            f"{self.starts_at}")])
        return self


@pydantic_dataclasses.dataclass(frozen=True, config=SETTINGS)
class StaffTeamSettings:
    """A team of staff: the request types it handles, and the addresses told of each."""

    types: Annotated[tuple[RequestType, ...], Field(min_length=1)]
    emails: Annotated[tuple[EmailAddress, ...], Field(min_length=1)]


@pydantic_dataclasses.dataclass(frozen=True, config=SETTINGS)
class ReminderSettings:
    """When the reminder run starts, which sessions it covers, and what it sends from.

    ``sesIdentity`` is the verified SES identity that covers ``fromAddress`` (its domain unless
    set); the function may send from ``fromAddress`` through it and nothing else.
    """

    from_address: EmailAddress
    schedule_expression: Annotated[str, StringConstraints(
        pattern=r"^(rate\(\d+ (minute|minutes|hour|hours|day|days)\)|cron\(.+\))$"),
        Meaning("a Scheduler expression such as rate(15 minutes) or cron(0/15 * * * ? *)")] = (
        "rate(15 minutes)")
    window_minutes: Annotated[int, Field(ge=5, le=7 * 24 * 60)] = 60
    ses_identity: Annotated[str, StringConstraints(pattern=r"^[^@\s]+(@[^@\s]+)?$"),
                            Meaning("an SES identity: a domain or an email address")] | None = None
    sms_origination_identity: SmsOriginationArn | None = None
    timeout_seconds: Annotated[int, Field(ge=30, le=900)] = 300
    schedule_timezone: Annotated[str, StringConstraints(min_length=1, max_length=50)] = "UTC"

    @property
    def identity(self) -> str:
        return self.ses_identity or self.from_address.rsplit("@", 1)[1]


@pydantic_dataclasses.dataclass(frozen=True, config=SETTINGS)
class CapacitySettings:
    """How both tables are billed. ``provisioned`` starts at ``read``/``write`` capacity units
    and scales up to ``maxRead``/``maxWrite`` to hold ``targetUtilization`` percent."""

    mode: Literal["onDemand", "provisioned"] = "onDemand"
    read: Annotated[int, Field(ge=1, le=40_000)] | None = None
    write: Annotated[int, Field(ge=1, le=40_000)] | None = None
    max_read: Annotated[int, Field(ge=1, le=40_000)] | None = None
    max_write: Annotated[int, Field(ge=1, le=40_000)] | None = None
    target_utilization: Annotated[int, Field(ge=20, le=90)] = 70

    @model_validator(mode="after")
    def _fits_the_mode(self) -> CapacitySettings:
        keys = {"read": self.read, "write": self.write, "maxRead": self.max_read,
                "maxWrite": self.max_write}
        if self.mode == "onDemand":
            problems = [(key, "only applies with mode provisioned (mode is onDemand)")
                        for key, value in keys.items() if value is not None]
        else:
            problems = [(key, "is required with mode provisioned")
                        for key, value in keys.items() if value is None]
            problems += [(maximum, f"{ceiling} is below {floor_key} {floor}")
                         for maximum, ceiling, floor_key, floor in (
                             ("maxRead", self.max_read, "read", self.read),
                             ("maxWrite", self.max_write, "write", self.write))
                         if ceiling is not None and floor is not None and ceiling < floor]
        if problems:
            raise SettingsError(problems)
        return self


@pydantic_dataclasses.dataclass(frozen=True, config=SETTINGS)
class SocialProviderSettings:
    """A social identity provider: its app's client id (the secret is secret stack config)."""

    client_id: Annotated[str, StringConstraints(min_length=1, max_length=256)]
    scopes: tuple[Annotated[str, StringConstraints(pattern=r"^[\w:./-]+$"),
                            Meaning("a scope name")], ...] = ("openid", "email", "profile")


@pydantic_dataclasses.dataclass(frozen=True, config=SETTINGS)
class WebSettings:
    """Where the web app is served from: S3 and CloudFront (with ``domain`` for TLS 1.2), or
    Amplify Hosting building ``amplifyRepository``'s ``amplifyBranch``."""

    domain: CloudFrontDomainSettings | None = None
    amplify_repository: Annotated[str, StringConstraints(
        pattern=r"^https://(github\.com|gitlab\.com|bitbucket\.org|git-codecommit\.[a-z0-9-]+"
                r"\.amazonaws\.com)/[\w./-]+$"),
        Meaning("an https repository URL on GitHub, GitLab, Bitbucket or CodeCommit")] | None = None
    amplify_branch: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_./-]{1,255}$"),
                              Meaning("a branch name")] = "main"
    # Where the site's files are in that repository: as in this one, or "." for a repository
    # that holds only the site.
    amplify_site_folder: Annotated[str, StringConstraints(
        pattern=r"^(\.|[A-Za-z0-9_-][A-Za-z0-9_./-]{0,254})$"),
        Meaning("a folder of the repository, relative and without '..', or '.'")] = (
        "web/event_management")
    web_acl_arn: Annotated[str, StringConstraints(
        pattern=r"^arn:aws[\w-]*:wafv2:us-east-1:\d{12}:global/webacl/.+$"),
        Meaning("a CLOUDFRONT-scope web ACL ARN (arn:aws:wafv2:us-east-1:<account>:global/"
                "webacl/...)")] | None = None
    price_class: Literal["PriceClass_100", "PriceClass_200", "PriceClass_All"] = (
        "PriceClass_100")
    access_logging: bool = True

    @model_validator(mode="after")
    def _one_host(self) -> WebSettings:
        if ".." in self.amplify_site_folder.split("/"):
            raise SettingsError([("amplifySiteFolder", "must stay inside the repository: no "
                                  "'..'")])
        if self.amplify_repository and (self.domain or self.web_acl_arn):
            raise SettingsError([("amplifyRepository", "Amplify Hosting serves the site: domain "
                                  "and webAclArn configure the CloudFront distribution, which "
                                  "is then not created; set them in Amplify")])
        return self


@pydantic_dataclasses.dataclass(frozen=True, config=SETTINGS)
class EventManagementSettings:
    """The ``services.eventManagement`` section of a stack file."""

    event: EventSettings
    reminders: ReminderSettings
    sessions: tuple[SessionSettings, ...] = ()
    request_types: Annotated[tuple[RequestType, ...], Field(min_length=1)] = (
        "handout", "food", "help")
    staff_teams: dict[Slug, StaffTeamSettings] = Field(default_factory=dict)
    capacity: CapacitySettings = CapacitySettings()
    session_list_cache_seconds: Annotated[int, Field(ge=0, le=3600)] = 60
    cache_size: Literal["0.5", "1.6", "6.1"] = "0.5"
    throttling_rate_limit: Annotated[float, Field(gt=0, le=10_000)] = 50
    throttling_burst_limit: Annotated[int, Field(ge=1, le=5_000)] = 100
    threat_protection: Literal["off", "audit", "enforced"] | None = None
    sign_up_email_through_ses: bool = False
    social_providers: dict[SocialProvider, SocialProviderSettings] = Field(default_factory=dict)
    auth_domain_prefix: Annotated[str, StringConstraints(
        pattern=r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$"),
        Meaning("a Cognito domain prefix: lower-case letters, digits and -")] | None = None
    web: WebSettings = WebSettings()
    cors_origins: tuple[HttpsOrigin, ...] = ()
    api_web_acl_arn: RegionalWebAclArn | None = None
    api_memory_size: Annotated[int, Field(ge=128, le=10240)] = 512
    idempotency_expiry_seconds: IdempotencyExpirySeconds = DEFAULT_EXPIRY_SECONDS

    @model_validator(mode="after")
    def _consistent(self) -> EventManagementSettings:
        allowed = ", ".join(self.request_types)
        problems = [(f"staffTeams.{team}.types", f"{kind!r} is not allowed; use one of {allowed}"
                     " (requestTypes)")
                    for team, settings in self.staff_teams.items() for kind in settings.types
                    if kind not in self.request_types]
        ids = [session.id for session in self.sessions]
        problems += [(f"sessions[{index}].id", f"{session_id!r} is used by another session")
                     for index, session_id in enumerate(ids) if ids.index(session_id) != index]
        if len(set(self.request_types)) != len(self.request_types):
            problems.append(("requestTypes", "a type is listed twice"))
        if self.social_providers and not self.auth_domain_prefix:
            problems.append(("authDomainPrefix", "is required with socialProviders: the "
                             "providers redirect to the user pool's hosted domain"))
        if not self.cors_origins and self.web.domain is None:
            problems.append(("corsOrigins", "name the web app's origin (or set web.domain): "
                             "the distribution's and Amplify's own domains are known only "
                             "after deployment, and the API must name the origins it serves"))
        if problems:
            raise SettingsError(problems)
        return self

    @property
    def origins(self) -> tuple[str, ...]:
        """The browser origins the API answers: ``corsOrigins``, else the web app's domain."""
        if self.cors_origins:
            return self.cors_origins
        return (f"https://{self.web.domain.name}",) if self.web.domain else ()

    def threat_protection_mode(self, stage: str) -> str:
        """``threatProtection``, else enforced in prod and off elsewhere (it needs the Plus
        tier, billed per monthly active user)."""
        if self.threat_protection is not None:
            return self.threat_protection
        return "enforced" if stage == "prod" else "off"


@dataclass(frozen=True)
class Route:
    """One API method: what API Gateway validates, and whether its answer may be cached."""

    method: str
    path: str
    model: str | None = None
    query: tuple[str, ...] = ()
    cached: bool = False

    @property
    def path_parameters(self) -> list[str]:
        return re.findall(r"{(\w+)}", self.path)

    @property
    def name(self) -> str:
        words = re.sub(r"[{}]", "", self.path).replace("/", "-")
        return f"{self.method.lower()}-{words}"

    @property
    def source_path(self) -> str:
        """The path in an execute-api ARN: parameters are any one segment."""
        return re.sub(r"{\w+}", "*", self.path)


CHECK_IN_MODEL = "CheckIn"
REQUEST_MODEL = "GuestRequest"
ROUTES = (
    Route("GET", "sessions", cached=True),
    Route("POST", "sessions/{sessionId}/registrations"),
    Route("GET", "registrations"),
    Route("POST", "check-ins", model=CHECK_IN_MODEL),
    Route("POST", "requests", model=REQUEST_MODEL),
    Route("GET", "requests", query=("type",)),
)
STAFF_ROUTES = frozenset({("POST", "check-ins"), ("GET", "requests")})


def check_in_schema() -> dict[str, Any]:
    return {"type": "object", "required": ["code"], "additionalProperties": False,
            "properties": {"code": {"type": "string", "minLength": 1, "maxLength": 2048}}}


def request_schema(request_types: Sequence[str]) -> dict[str, Any]:
    return {"type": "object", "required": ["type"], "additionalProperties": False,
            "properties": {
                "type": {"type": "string", "enum": list(request_types)},
                "note": {"type": "string", "maxLength": 500},
                "sessionId": {"type": "string", "pattern": r"^[a-z0-9][a-z0-9-]{0,63}$"}}}


def session_item(event_id: str, session: SessionSettings) -> dict[str, Any]:
    """A session as the events table holds it. ``registered`` is left out on purpose: an
    update of a seeded item rewrites every attribute it names, and the counter belongs to the
    registrations (the handler reads a missing counter as 0)."""
    return {
        "pk": {"S": f"EVENT#{event_id}"}, "sk": {"S": f"SESSION#{session.id}"},
        "sessionId": {"S": session.id}, "eventId": {"S": event_id},
        "title": {"S": session.title}, "startsAt": {"S": session.starts_at},
        "endsAt": {"S": session.ends_at}, "room": {"S": session.room},
        "capacity": {"N": str(session.capacity)},
        "gsi1pk": {"S": "SESSIONS"}, "gsi1sk": {"S": f"{session.starts_at}#{session.id}"},
    }


def web_files(folder: Path = WEB_DIR) -> dict[str, Path]:
    """Every file of the web app, by its key in the bucket: not ``config.js``, which the deploy
    writes, nor the example that documents it."""
    return {path.relative_to(folder).as_posix(): path for path in sorted(folder.rglob("*"))
            if path.is_file() and not path.name.startswith(".")
            and path.name not in ("config.js", "config.example.js")}


def content_type(key: str) -> str:
    guessed, _ = mimetypes.guess_type(key)
    if key.endswith(".js"):
        return "text/javascript; charset=utf-8"
    if (guessed and guessed.startswith("text/")) or guessed in ("image/svg+xml",
                                                                 "application/json"):
        return f"{guessed}; charset=utf-8"
    return guessed or "application/octet-stream"


def web_config(config: Mapping[str, Any]) -> str:
    return f"window.BLUEPRINTS_CONFIG = {json.dumps(dict(config), indent=2)};\n"


def _camel_case(name: str) -> str:
    first, *rest = name.split("_")
    return first + "".join(word.title() for word in rest)


class EventManagement(ServiceComponent):
    """Registration with signed QR codes, staff check-in, guest requests and reminders."""

    def __init__(self, name: str, settings: EventManagementSettings, context: ServiceContext,
                 opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("blueprints:services:EventManagement", name, None, opts)
        defaults = context.defaults
        child = pulumi.ResourceOptions(parent=self)
        self._name = name
        self._defaults = defaults

        self.events, self.requests = self._tables(name, settings, defaults, child)
        for session in settings.sessions:
            aws.dynamodb.TableItem(
                f"{name}-session-{session.id}", table_name=self.events.name, hash_key="pk",
                range_key="sk", item=json.dumps(session_item(settings.event.id, session)),
                opts=child)
        self.qr_key = aws.kms.Key(
            f"{name}-qr-key",
            description=f"{name}: signs and checks QR tickets (HMAC)",
            customer_master_key_spec="HMAC_256", key_usage="GENERATE_VERIFY_MAC",
            # KMS cannot rotate HMAC keys automatically.
            enable_key_rotation=False,
            deletion_window_in_days=defaults.kms_deletion_window_days,
            opts=pulumi.ResourceOptions(parent=self, protect=defaults.protect))

        self.idempotency = IdempotencyStore(f"{name}-idempotency", IdempotencyStoreArgs(
            kms_key_arn=context.environment.kms_key_arn,
            expiry_seconds=settings.idempotency_expiry_seconds), defaults, child)
        self._user_pool(name, settings, defaults, child)
        self.api_function = self._api_function(name, settings, defaults, child)
        self.api, stage = self._api(name, settings, context, child)
        self.api_url = stage.invoke_url
        self.topic = self._topic(name, settings, defaults, child)
        self.notifier = self._notifier(name, defaults, child)
        self.reminders = self._reminders(name, settings, defaults, child)

        site_url = self._web(name, settings, context, child)
        self.exports = {
            "apiUrl": self.api_url,
            "siteUrl": site_url,
            "userPoolId": self.user_pool.id,
            "userPoolClientId": self.user_pool_client.id,
            "eventsTableName": self.events.name,
            "requestsTableName": self.requests.name,
            "staffTopicArn": self.topic.arn,
            "reminderScheduleArn": self.schedule.arn,
            "qrKeyArn": self.qr_key.arn,
            "idempotencyTableName": self.idempotency.name,
        }
        self.register_outputs(self.exports)

    # --- data ---------------------------------------------------------------------------

    def _tables(self, name: str, settings: EventManagementSettings, defaults: Defaults,
                child: pulumi.ResourceOptions) -> tuple[Table, Table]:
        capacity = settings.capacity
        provisioned = capacity.mode == "provisioned"
        billing: dict[str, Any] = {"billing_mode": "PROVISIONED", "read_capacity": capacity.read,
                                   "write_capacity": capacity.write} if provisioned else {}
        # Auto scaling moves the capacities; a deployment must not move them back.
        scaled = pulumi.ResourceOptions(
            parent=self, transformations=[_ignore_scaled_capacity]) if provisioned else child
        indexes = [GlobalIndex("byStart", Key("gsi1pk"), Key("gsi1sk")),
                   GlobalIndex("byGuest", Key("gsi2pk"), Key("gsi2sk"))]
        events = Table(f"{name}-events", TableArgs(
            hash_key=Key("pk"), range_key=Key("sk"), global_indexes=indexes, **billing),
            defaults, scaled)
        requests = Table(f"{name}-requests", TableArgs(
            hash_key=Key("pk"), range_key=Key("sk"), stream="NEW_IMAGE", **billing),
            defaults, scaled)
        if provisioned:
            for table, table_name, index_names in ((events, "events", [i.name for i in indexes]),
                                                   (requests, "requests", [])):
                self._auto_scaling(f"{name}-{table_name}", table, index_names, capacity, child)
        return events, requests

    def _auto_scaling(self, name: str, table: Table, index_names: Sequence[str],
                      capacity: CapacitySettings, child: pulumi.ResourceOptions) -> None:
        scaled = [("table", pulumi.Output.concat("table/", table.name), "")] + [
            ("index", pulumi.Output.concat("table/", table.name, "/index/", index),
             f"-{index.lower()}") for index in index_names]
        for kind, resource_id, suffix in scaled:
            for unit, floor, ceiling, metric in (
                    ("Read", capacity.read, capacity.max_read, "DynamoDBReadCapacityUtilization"),
                    ("Write", capacity.write, capacity.max_write,
                     "DynamoDBWriteCapacityUtilization")):
                target = aws.appautoscaling.Target(
                    f"{name}{suffix}-{unit.lower()}-scaling",
                    service_namespace="dynamodb", resource_id=resource_id,
                    scalable_dimension=f"dynamodb:{kind}:{unit}CapacityUnits",
                    min_capacity=floor, max_capacity=ceiling, opts=child)
                aws.appautoscaling.Policy(
                    f"{name}{suffix}-{unit.lower()}-scaling",
                    policy_type="TargetTrackingScaling",
                    service_namespace=target.service_namespace, resource_id=target.resource_id,
                    scalable_dimension=target.scalable_dimension,
                    target_tracking_scaling_policy_configuration={
                        "target_value": capacity.target_utilization,
                        "predefined_metric_specification": {
                            "predefined_metric_type": metric},
                    },
                    opts=child)

    # --- identity -----------------------------------------------------------------------

    def _user_pool(self, name: str, settings: EventManagementSettings, defaults: Defaults,
                   child: pulumi.ResourceOptions) -> None:
        protection = settings.threat_protection_mode(defaults.stage)
        reminders = settings.reminders
        email: aws.cognito.UserPoolEmailConfigurationArgsDict = (
            {"email_sending_account": "DEVELOPER", "from_email_address": reminders.from_address,
             "source_arn": self._ses_identity_arn(reminders.identity)}
            if settings.sign_up_email_through_ses else {"email_sending_account": "COGNITO_DEFAULT"})
        if not settings.sign_up_email_through_ses and defaults.stage == "prod":
            pulumi.log.warn(f"{name}: sign-up codes go through Cognito's own email, at most 50 a "
                            "day; set signUpEmailThroughSes", resource=self)
        self.user_pool = aws.cognito.UserPool(
            f"{name}-guests",
            username_attributes=["email"],
            auto_verified_attributes=["email"],
            username_configuration={"case_sensitive": False},
            admin_create_user_config={"allow_admin_create_user_only": False},
            verification_message_template={"default_email_option": "CONFIRM_WITH_CODE"},
            account_recovery_setting={"recovery_mechanisms": [
                {"name": "verified_email", "priority": 1}]},
            password_policy=PASSWORD_POLICY,
            mfa_configuration="OPTIONAL",
            software_token_mfa_configuration={"enabled": True},
            user_pool_tier="ESSENTIALS" if protection == "off" else "PLUS",
            user_pool_add_ons=None if protection == "off" else {
                "advanced_security_mode": protection.upper()},
            email_configuration=email,
            deletion_protection="ACTIVE" if defaults.deletion_protection else "INACTIVE",
            opts=pulumi.ResourceOptions(parent=self, protect=defaults.protect))
        self.staff_group = aws.cognito.UserGroup(
            f"{name}-staff", name=STAFF_GROUP, user_pool_id=self.user_pool.id,
            description="Event staff: check-in and the requests board", opts=child)

        providers = []
        for provider, provider_settings in settings.social_providers.items():
            secret = pulumi.Config("eventManagement").require_secret(
                f"{provider[0].lower()}{provider[1:]}ClientSecret")
            identity_provider = aws.cognito.IdentityProvider(
                f"{name}-{provider.lower()}", user_pool_id=self.user_pool.id,
                provider_name=provider, provider_type=provider,
                provider_details={"client_id": provider_settings.client_id,
                                  "client_secret": secret,
                                  "authorize_scopes": " ".join(provider_settings.scopes)},
                attribute_mapping=_attribute_mapping(provider), opts=child)
            providers.append(identity_provider)
        if providers:
            # The classic hosted UI: managed login (2) serves no page without a branding style.
            aws.cognito.UserPoolDomain(f"{name}-auth-domain", domain=settings.auth_domain_prefix,
                                       user_pool_id=self.user_pool.id, managed_login_version=1,
                                       opts=child)
        callbacks = [f"{origin}/" for origin in settings.origins]
        self.user_pool_client = aws.cognito.UserPoolClient(
            f"{name}-web-client",
            user_pool_id=self.user_pool.id,
            generate_secret=False,
            explicit_auth_flows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
            prevent_user_existence_errors="ENABLED",
            enable_token_revocation=True,
            access_token_validity=60, id_token_validity=60, refresh_token_validity=30,
            token_validity_units={"access_token": "minutes", "id_token": "minutes",
                                  "refresh_token": "days"},
            read_attributes=["email", "email_verified", "name", "phone_number"],
            write_attributes=["email", "name", "phone_number"],
            supported_identity_providers=["COGNITO", *settings.social_providers] if providers
            else None,
            allowed_oauth_flows_user_pool_client=bool(providers),
            allowed_oauth_flows=["code"] if providers else None,
            allowed_oauth_scopes=["openid", "email", "profile"] if providers else None,
            callback_urls=callbacks if providers else None,
            logout_urls=callbacks if providers else None,
            opts=pulumi.ResourceOptions(parent=self, depends_on=providers))

    def _ses_identity_arn(self, identity: str) -> str:
        defaults = self._defaults
        return (f"arn:{iam.partition(defaults.region)}:ses:{defaults.region}:"
                f"{defaults.account_id}:identity/{identity}")

    # --- API ----------------------------------------------------------------------------

    def _api_function(self, name: str, settings: EventManagementSettings, defaults: Defaults,
                      child: pulumi.ResourceOptions) -> Function:
        qr = PythonLayer(f"{name}-qr", PythonLayerArgs(
            QR_REQUIREMENTS, description="segno, for QR codes drawn as SVG", no_deps=True),
            defaults, child)
        return Function(f"{name}-api", FunctionArgs(
            reserved_concurrency=self.reserved_concurrency(defaults, "api"),
            code="event_api", libraries=["event_tickets"], layers=[qr.arn],
            memory_size=settings.api_memory_size, timeout=10, service_name=name,
            description="Sessions, registrations with QR tickets, check-in and guest requests",
            environment={
                "TABLE_NAME": self.events.name,
                "REQUESTS_TABLE_NAME": self.requests.name,
                "EVENT_ID": settings.event.id,
                "QR_KEY_ID": self.qr_key.key_id,
                "STAFF_GROUP": STAFF_GROUP,
                "REQUEST_TYPES": ",".join(settings.request_types),
                "ALLOWED_ORIGINS": ",".join(settings.origins),
                **self.idempotency.environment,
            },
            statements=[
                # A registration is one transaction: the guest's item and the session's counter.
                # Sessions are listed by the event's key, and fetched in batches for a guest's
                # registrations, which come from the byGuest index.
                iam.allow(["dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query",
                           "dynamodb:PutItem", "dynamodb:UpdateItem"], self.events.arn),
                iam.allow(["dynamodb:Query"],
                          pulumi.Output.concat(self.events.arn, "/index/byGuest")),
                iam.allow(["dynamodb:PutItem", "dynamodb:Query"], self.requests.arn),
                iam.allow(["kms:GenerateMac", "kms:VerifyMac"], self.qr_key.arn),
                *self.idempotency.statements,
            ],
        ), defaults, child)

    def _api(self, name: str, settings: EventManagementSettings, context: ServiceContext,
             child: pulumi.ResourceOptions) -> tuple[RestApi, RestStage]:
        defaults = context.defaults
        api = RestApi(name, RestApiArgs(
            description=f"{settings.event.name}: sessions, registrations, check-in, requests",
            models={CHECK_IN_MODEL: check_in_schema(),
                    REQUEST_MODEL: request_schema(settings.request_types)},
            cors=CorsArgs(allow_origins=settings.origins, allow_methods=("GET", "POST", "OPTIONS"),
                          allow_headers=("authorization", "content-type", "idempotency-key"),
                          max_age=600),
        ), defaults, child)
        self.authorizer = aws.apigateway.Authorizer(
            f"{name}-guests", rest_api=api.api_id, name="guests", type="COGNITO_USER_POOLS",
            provider_arns=[self.user_pool.arn],
            identity_source="method.request.header.Authorization",
            authorizer_result_ttl_in_seconds=300, opts=child)

        resources: dict[str, aws.apigateway.Resource] = {}

        def resource_for(path: str) -> aws.apigateway.Resource:
            if path not in resources:
                parent, _, part = path.rpartition("/")
                parent_id = resource_for(parent).id if parent else api.root_resource_id
                resources[path] = aws.apigateway.Resource(
                    f"{name}-{re.sub(r'[{}]', '', path).replace('/', '-')}", rest_api=api.api_id,
                    parent_id=parent_id, path_part=part, opts=child)
            return resources[path]

        routes: list[pulumi.Resource] = []
        for route in ROUTES:
            resource = resource_for(route.path)
            parameters = {**{f"method.request.path.{p}": True for p in route.path_parameters},
                          **{f"method.request.querystring.{q}": False for q in route.query}}
            method = aws.apigateway.Method(
                f"{name}-{route.name}", rest_api=api.api_id, resource_id=resource.id,
                http_method=route.method, authorization="COGNITO_USER_POOLS",
                authorizer_id=self.authorizer.id, api_key_required=False,
                request_validator_id=api.request_validator_id,
                request_models={"application/json": route.model} if route.model else None,
                request_parameters=parameters or None,
                opts=pulumi.ResourceOptions(
                    parent=self, depends_on=[api.models[route.model]] if route.model else None))
            integration = aws.apigateway.Integration(
                f"{name}-{route.name}", rest_api=api.api_id, resource_id=resource.id,
                http_method=method.http_method, type="AWS_PROXY", integration_http_method="POST",
                uri=self.api_function.invoke_arn, opts=child)
            aws.lambda_.Permission(
                f"{name}-invoke-{route.name}", action="lambda:InvokeFunction",
                function=self.api_function.name, principal="apigateway.amazonaws.com",
                source_arn=pulumi.Output.concat(api.execution_arn,
                                                f"/*/{route.method}/{route.source_path}"),
                opts=child)
            routes += [method, integration]
        for path in dict.fromkeys(route.path for route in ROUTES):
            routes += api.add_preflight(
                f"{name}-{re.sub(r'[{}]', '', path).replace('/', '-')}", resources[path].id)

        caching = settings.session_list_cache_seconds > 0
        stage = RestStage(name, RestStageArgs(
            rest_api_id=api.api_id,
            redeploy_triggers={"routes": _routes_fingerprint(), "api": api.redeploy_fingerprint},
            depends_on=[*routes, *api.deployment_dependencies(), *context.account_settings],
            throttling_rate_limit=settings.throttling_rate_limit,
            throttling_burst_limit=settings.throttling_burst_limit,
            cache_size=CacheSize(settings.cache_size) if caching else None,
            cache_ttl_seconds=settings.session_list_cache_seconds,
            web_acl_arn=settings.api_web_acl_arn,
        ), defaults, child)
        if caching:
            # The stage cache is keyed on the path and query only: a method whose answer depends
            # on the caller must never be served from it.
            for route in ROUTES:
                if route.cached:
                    continue
                aws.apigateway.MethodSettings(
                    f"{name}-{route.name}-settings", rest_api=api.api_id,
                    stage_name=stage.stage.stage_name,
                    method_path=f"{route.path}/{route.method}",
                    settings={
                        "caching_enabled": False,
                        "throttling_rate_limit": settings.throttling_rate_limit,
                        "throttling_burst_limit": settings.throttling_burst_limit,
                        "logging_level": str(LoggingLevel.INFO),
                        "metrics_enabled": True,
                        "data_trace_enabled": False,
                    },
                    opts=pulumi.ResourceOptions(parent=self, depends_on=[stage.method_settings]))
        return api, stage

    # --- staff notifications -------------------------------------------------------------

    def _topic(self, name: str, settings: EventManagementSettings, defaults: Defaults,
               child: pulumi.ResourceOptions) -> aws.sns.Topic:
        topic = aws.sns.Topic(
            f"{name}-staff", display_name=settings.event.name[:100],
            # The AWS-managed key: its policy lets SNS use it for this account's publishers.
            kms_master_key_id="alias/aws/sns", fifo_topic=False, opts=child)
        aws.sns.TopicPolicy(
            f"{name}-staff-policy", arn=topic.arn,
            policy=iam.policy_document([iam.deny_insecure_transport("sns", topic.arn)]),
            opts=child)
        subscribe(f"{name}-staff", topic, [
            Subscriber(f"{name}-{team}-{endpoint_digest(email, 10)}", "email", email,
                       filter_policy=json.dumps({"requestType": sorted(team_settings.types)}))
            for team, team_settings in settings.staff_teams.items()
            for email in team_settings.emails], defaults, child)
        return topic

    def _notifier(self, name: str, defaults: Defaults,
                  child: pulumi.ResourceOptions) -> Function:
        failures = Queue(f"{name}-notifier-failures", QueueArgs(), defaults, child)
        stream = self.requests.stream_arn
        notifier = Function(f"{name}-notifier", FunctionArgs(
            reserved_concurrency=self.reserved_concurrency(defaults, "notifier"),
            code="event_notifier", libraries=["event_tickets"], memory_size=256, timeout=30,
            service_name=name, description="Tells staff of each new guest request (SNS)",
            environment={"TOPIC_ARN": self.topic.arn},
            statements=[
                iam.allow(["sns:Publish"], self.topic.arn),
                iam.allow(["dynamodb:DescribeStream", "dynamodb:GetRecords",
                           "dynamodb:GetShardIterator"], stream),
                iam.allow(["dynamodb:ListStreams"],
                          pulumi.Output.concat(self.requests.arn, "/stream/*")),
                # Lambda sends a failed batch's description with the function's role.
                iam.allow(["sqs:SendMessage"], failures.arn),
            ],
        ), defaults, child)
        self.stream_mapping = aws.lambda_.EventSourceMapping(
            f"{name}-requests-stream",
            event_source_arn=stream,
            function_name=notifier.arn,
            starting_position="LATEST",
            batch_size=STREAM_BATCH_SIZE,
            maximum_batching_window_in_seconds=0,
            bisect_batch_on_function_error=True,
            maximum_retry_attempts=STREAM_RETRIES,
            maximum_record_age_in_seconds=STREAM_MAX_RECORD_AGE_SECONDS,
            parallelization_factor=1,
            function_response_types=["ReportBatchItemFailures"],
            filter_criteria={"filters": [{"pattern": json.dumps({"eventName": ["INSERT"]})}]},
            destination_config={"on_failure": {"destination_arn": failures.arn}},
            enabled=True,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[notifier]))
        self.notifier_failures = failures
        return notifier

    # --- reminders ----------------------------------------------------------------------

    def _reminders(self, name: str, settings: EventManagementSettings, defaults: Defaults,
                   child: pulumi.ResourceOptions) -> Function:
        reminders = settings.reminders
        configuration_set = aws.sesv2.ConfigurationSet(
            f"{name}-reminders",
            configuration_set_name=f"{pulumi.get_project()}-{pulumi.get_stack()}-{name}"[:64],
            delivery_options={"tls_policy": "REQUIRE"},
            reputation_options={"reputation_metrics_enabled": True},
            sending_options={"sending_enabled": True},
            opts=child)
        sms = reminders.sms_origination_identity
        statements = [
            iam.allow(["dynamodb:Query"],
                      pulumi.Output.concat(self.events.arn, "/index/byStart"), self.events.arn),
            iam.allow(["dynamodb:UpdateItem"], self.events.arn),
            iam.allow(["ses:SendEmail"], self._ses_identity_arn(reminders.identity),
                      configuration_set.arn,
                      conditions={"StringEquals": {"ses:FromAddress": reminders.from_address}}),
        ]
        if sms:
            statements.append(iam.allow(["sms-voice:SendTextMessage"], sms))
        function = Function(f"{name}-reminders", FunctionArgs(
            reserved_concurrency=self.reserved_concurrency(defaults, "reminders"),
            code="event_reminders", libraries=["event_tickets"], memory_size=512,
            timeout=reminders.timeout_seconds, long_running=reminders.timeout_seconds > 300,
            service_name=name, invoked_async=True,
            # A run that failed twice is superseded by the next scheduled one.
            maximum_retry_attempts=0,
            description="Sends each guest one reminder before their session",
            environment={
                "TABLE_NAME": self.events.name,
                "WINDOW_MINUTES": str(reminders.window_minutes),
                "FROM_ADDRESS": reminders.from_address,
                "SES_CONFIGURATION_SET": configuration_set.configuration_set_name,
                "EVENT_NAME": settings.event.name,
                **({"SMS_ORIGINATION_IDENTITY": sms} if sms else {}),
            },
            statements=statements,
        ), defaults, child)

        undelivered = Queue(f"{name}-schedule-failures", QueueArgs(), defaults, child)
        role = aws.iam.Role(
            f"{name}-scheduler-role",
            assume_role_policy=iam.trust_policy(
                "scheduler.amazonaws.com",
                conditions={"StringEquals": {"aws:SourceAccount": defaults.account_id}}),
            description=f"Lets the {name} reminder schedule invoke its function only",
            opts=child)
        policy = aws.iam.RolePolicy(
            f"{name}-scheduler-policy", role=role.id,
            policy=iam.policy_document([
                iam.allow(["lambda:InvokeFunction"], function.arn),
                iam.allow(["sqs:SendMessage"], undelivered.arn),
            ]), opts=child)
        self.schedule = aws.scheduler.Schedule(
            f"{name}-reminders",
            description=f"{settings.event.name}: reminders for sessions starting soon",
            schedule_expression=reminders.schedule_expression,
            schedule_expression_timezone=reminders.schedule_timezone,
            flexible_time_window={"mode": "OFF"},
            state="ENABLED",
            target={
                "arn": function.arn,
                "role_arn": role.arn,
                "input": json.dumps({"source": "schedule"}),
                "retry_policy": {"maximum_retry_attempts": SCHEDULE_RETRIES,
                                 "maximum_event_age_in_seconds": SCHEDULE_MAX_EVENT_AGE_SECONDS},
                "dead_letter_config": {"arn": undelivered.arn},
            },
            opts=pulumi.ResourceOptions(parent=self, depends_on=[policy]))
        self.schedule_role = role
        return function

    # --- web app ------------------------------------------------------------------------

    def _web(self, name: str, settings: EventManagementSettings, context: ServiceContext,
             child: pulumi.ResourceOptions) -> pulumi.Output[str]:
        defaults = context.defaults
        config = pulumi.Output.all(
            apiUrl=self.api_url, region=defaults.region, userPoolId=self.user_pool.id,
            userPoolClientId=self.user_pool_client.id,
            cognitoEndpoint=f"https://cognito-idp.{defaults.region}.amazonaws.com/",
            eventName=settings.event.name, requestTypes=list(settings.request_types),
            passwordPolicy={_camel_case(key): value for key, value in PASSWORD_POLICY.items()
                            if key.startswith(("minimum", "require"))})
        if settings.web.amplify_repository:
            return self._amplify(name, settings, config, child)
        return self._site(name, settings, config, child)

    def _site(self, name: str, settings: EventManagementSettings,
              config: pulumi.Output[dict[str, Any]],
              child: pulumi.ResourceOptions) -> pulumi.Output[str]:
        defaults = self._defaults
        files = web_files()
        if "index.html" not in files:
            raise pulumi.RunError(f"EventManagement {name}: {WEB_DIR}/index.html is missing; "
                                  "the web app must ship with the stack")
        distribution_arn: pulumi.Output[str]
        resolve_distribution_arn: Callable[[pulumi.Output[str]], None]
        distribution_arn, resolve_distribution_arn = pulumi.deferred_output()
        self.site_bucket = Bucket(f"{name}-site", BucketArgs(
            allow_read_from=(("cloudfront.amazonaws.com", distribution_arn),)), defaults, child)
        qualified = f"{pulumi.get_project()}-{pulumi.get_stack()}-{name}"
        access = aws.cloudfront.OriginAccessControl(
            f"{name}-site-access", name=f"{qualified}-site"[:64],
            description="CloudFront signs its requests to the site bucket",
            origin_access_control_origin_type="s3", signing_behavior="always",
            signing_protocol="sigv4", opts=child)
        policy = self._content_security_policy(defaults.region)
        headers = aws.cloudfront.ResponseHeadersPolicy(
            f"{name}-site-headers", name=f"{qualified}-site-headers"[:128],
            comment="Security headers for the event web app",
            security_headers_config={
                "strict_transport_security": {"access_control_max_age_sec": 63072000,
                                              "include_subdomains": True, "preload": True,
                                              "override": True},
                "content_type_options": {"override": True},
                "frame_options": {"frame_option": "DENY", "override": True},
                "referrer_policy": {"referrer_policy": "strict-origin-when-cross-origin",
                                    "override": True},
                "xss_protection": {"protection": True, "mode_block": True, "override": True},
                "content_security_policy": {"content_security_policy": policy,
                                            "override": True},
            },
            opts=child)
        domain = settings.web.domain
        viewer_certificate: aws.cloudfront.DistributionViewerCertificateArgsDict = (
            {"acm_certificate_arn": domain.certificate_arn, "ssl_support_method": "sni-only",
             "minimum_protocol_version": "TLSv1.2_2021"} if domain else
            # CloudFront's own certificate allows nothing but TLSv1; a domain is needed for 1.2.
            {"cloudfront_default_certificate": True, "minimum_protocol_version": "TLSv1"})
        self.distribution = aws.cloudfront.Distribution(
            f"{name}-site",
            comment=f"{name}: the event web app",
            enabled=True, is_ipv6_enabled=True, http_version="http2and3",
            price_class=settings.web.price_class,
            default_root_object="index.html",
            aliases=[domain.name] if domain else None,
            origins=[{"origin_id": "site", "domain_name":
                      self.site_bucket.bucket.bucket_regional_domain_name,
                      "origin_access_control_id": access.id}],
            default_cache_behavior={
                "target_origin_id": "site",
                "viewer_protocol_policy": "redirect-to-https",
                "allowed_methods": ["GET", "HEAD"],
                "cached_methods": ["GET", "HEAD"],
                "cache_policy_id": CACHING_OPTIMIZED,
                "response_headers_policy_id": headers.id,
                "compress": True,
            },
            restrictions={"geo_restriction": {"restriction_type": "none"}},
            viewer_certificate=viewer_certificate,
            web_acl_id=settings.web.web_acl_arn,
            opts=child)
        resolve_distribution_arn(self.distribution.arn)
        if settings.web.access_logging:
            self._access_logs(name, child)

        for key, path in files.items():
            aws.s3.BucketObjectv2(
                f"{name}-site-{key.replace('/', '-')}", bucket=self.site_bucket.name, key=key,
                source=pulumi.FileAsset(str(path)), content_type=content_type(key),
                cache_control="no-cache" if key in NO_CACHE_FILES else "max-age=300",
                opts=child)
        aws.s3.BucketObjectv2(
            f"{name}-site-config.js", bucket=self.site_bucket.name, key="config.js",
            content=config.apply(web_config), content_type=content_type("config.js"),
            cache_control="no-cache", opts=child)
        if domain:
            return pulumi.Output.from_input(f"https://{domain.name}/")
        return pulumi.Output.concat("https://", self.distribution.domain_name, "/")

    def _access_logs(self, name: str, child: pulumi.ResourceOptions) -> None:
        """CloudFront standard logging v2 into a log group with the stage retention."""
        defaults = self._defaults
        logs = log_group(f"{name}-site-access-logs", defaults,
                         log_group_name_prefix=f"/blueprints/{defaults.stage}/{name}/",
                         opts=child)
        label = f"{pulumi.get_stack()}-{name}-site"[:60]
        source = aws.cloudwatch.LogDeliverySource(
            f"{name}-site-access-logs", name=label, log_type="ACCESS_LOGS",
            resource_arn=self.distribution.arn, opts=child)
        destination = aws.cloudwatch.LogDeliveryDestination(
            f"{name}-site-access-logs", name=label, output_format="json",
            delivery_destination_configuration={"destination_resource_arn": logs.arn},
            opts=child)
        aws.cloudwatch.LogDelivery(f"{name}-site-access-logs", delivery_source_name=source.name,
                                   delivery_destination_arn=destination.arn, opts=child)

    def _content_security_policy(self, region: str) -> pulumi.Output[str]:
        """The site's scripts and styles are its own files; it calls the API and Cognito only."""
        cognito = f"https://cognito-idp.{region}.amazonaws.com"
        api_origin = self.api_url.apply(lambda url: "/".join(url.split("/")[:3]))
        return pulumi.Output.concat(
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
            "connect-src 'self' ", api_origin, " ", cognito, "; frame-ancestors 'none'; "
            "base-uri 'self'; form-action 'self'; object-src 'none'")

    def _amplify(self, name: str, settings: EventManagementSettings,
                 config: pulumi.Output[dict[str, Any]],
                 child: pulumi.ResourceOptions) -> pulumi.Output[str]:
        web = settings.web
        token = pulumi.Config("eventManagement").require_secret("amplifyAccessToken")
        site = web.amplify_site_folder.rstrip("/")
        build_spec = "\n".join([
            "version: 1",
            "frontend:",
            "  phases:",
            "    build:",
            "      commands:",
            f"        - printf '%s' \"$BLUEPRINTS_CONFIG_JS\" > {site}/config.js",
            "  artifacts:",
            f"    baseDirectory: {site}",
            "    files:",
            "      - '**/*'",
        ])
        def custom_headers(policy: str) -> str:
            headers = {
                "Strict-Transport-Security": "max-age=63072000; includeSubDomains; preload",
                "X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY",
                "Referrer-Policy": "strict-origin-when-cross-origin",
                "Content-Security-Policy": policy}
            # JSON strings are YAML's double-quoted scalars.
            return "\n".join(["customHeaders:", "  - pattern: '**/*'", "    headers:", *(
                f"      - key: {key}\n        value: {json.dumps(value)}"
                for key, value in headers.items())])

        self.amplify_app = aws.amplify.App(
            f"{name}-site", name=f"{pulumi.get_project()}-{pulumi.get_stack()}-{name}"[:255],
            description=f"{settings.event.name}: the event web app",
            repository=web.amplify_repository, access_token=token, platform="WEB",
            build_spec=build_spec,
            custom_headers=self._content_security_policy(self._defaults.region).apply(
                custom_headers),
            environment_variables={"BLUEPRINTS_CONFIG_JS": config.apply(web_config)},
            enable_branch_auto_deletion=False, opts=child)
        branch = aws.amplify.Branch(
            f"{name}-site-{web.amplify_branch.replace('/', '-')}", app_id=self.amplify_app.id,
            branch_name=web.amplify_branch, stage="PRODUCTION", enable_auto_build=True,
            opts=child)
        return pulumi.Output.all(branch.branch_name, self.amplify_app.default_domain).apply(
            lambda parts: f"https://{parts[0].replace('/', '-')}.{parts[1]}/" if parts[1] else "")


def _attribute_mapping(provider: str) -> dict[str, str]:
    """Social attributes into the pool's: without a mapping the user has no email or name."""
    if provider == "Facebook":
        return {"email": "email", "name": "name", "username": "id"}
    if provider == "LoginWithAmazon":
        return {"email": "email", "name": "name", "username": "user_id"}
    return {"email": "email", "name": "name", "username": "sub"}


def _ignore_scaled_capacity(
        args: pulumi.ResourceTransformationArgs) -> pulumi.ResourceTransformationResult | None:
    if args.type_ != "aws:dynamodb/table:Table":
        return None
    return pulumi.ResourceTransformationResult(args.props, pulumi.ResourceOptions.merge(
        args.opts, pulumi.ResourceOptions(ignore_changes=[
            "readCapacity", "writeCapacity", "globalSecondaryIndexes"])))


def _routes_fingerprint() -> str:
    """What must redeploy the stage when it changes: the routes and how they are guarded."""
    shape = [(r.method, r.path, r.model, r.query, r.cached, "COGNITO_USER_POOLS")
             for r in ROUTES]
    return hashlib.sha256(json.dumps(shape).encode()).hexdigest()[:16]
