"""The embedded AWS of local mode: moto's server on 127.0.0.1, holding the plan's stateful
resources under the plan's own names.

``EmbeddedAws`` runs moto's ``ThreadedMotoServer`` inside this process, on a given port or a free
one. ``create_resources(run, aws)`` then creates in it every stateful resource the plan declares,
in dependency order, and answers a ``Report``: what it created, and by type and name everything
it did not, each with the reason.

- **Account and region.** moto picks the account of a request from its access key. The server
  starts by assuming a role in the plan's account through moto's STS (moto's documented way to
  switch accounts), and every client and worker environment it hands out carries those
  credentials, so every ARN the server answers names the plan's account. Resources are created
  in the region of their provider, as the plan places them. ``credentials_for_role`` gives a
  function worker credentials of its own role, so that the server sees who calls.
- **Names.** Buckets, tables, queues, topics, buses, rules, secrets and parameters are created
  under the physical names the mock runtime answered, which are what handlers get in their
  environment. moto's APIs cannot take an id for a user pool, its clients or a KMS key; the
  plan's ids are given to them in moto's in-process backends, right after creation, so that
  tokens carry the issuer the plan's authorizers expect.
- **What is created, and what is not.** Every type a stack may declare is classified once
  (``classify``): created here, served by another part of local mode (functions, APIs, IAM,
  edge, logs), or not emulated at all (networking, WAF...), which is listed at start-up. A type
  not classified yet is listed as not emulated, never skipped in silence. Bucket policies are
  served by local mode's IAM checks, not installed in moto: moto 5.2.5 evaluates them without
  the request's context, so the usual "deny insecure transport" statement would refuse every
  plain-HTTP local request.
- **Bucket notifications** are configured in moto and also answered as data
  (``Report.bucket_notifications``): moto cannot invoke the plan's functions, local mode's event
  wiring does.
- **State between runs** (``state_dir``): the plan is the truth for resources, so every run
  recreates them from the plan; only data is kept. On stop, the current version of every
  object of the plan's buckets and every item of its tables is written to ``state_dir``
  (``embedded-aws.json`` and content-addressed object bodies); on the next start, after the
  resources are created, the data is put back, and then the plan's seeded items are written
  again, as ``pulumi up`` would. Data of a bucket or table the plan no longer declares is kept on
  disk and reported. Queue messages, Cognito users, object versions other than the current one
  and secret or parameter values changed at run time are not kept. moto's own snapshots are not
  used: moto 5.2.5 has none, only a request recorder that replays every call.

moto keeps one state per process, so one embedded AWS runs in a process at a time; stopping it
resets moto and closes the port.
"""

from __future__ import annotations

import base64
import errno
import graphlib
import hashlib
import json
import logging
import os
import re
import socket
import threading
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from types import TracebackType
from typing import Any, ClassVar

import boto3  # type: ignore[import-untyped]
import pulumi
from botocore.config import Config  # type: ignore[import-untyped]
from botocore.exceptions import BotoCoreError, ClientError  # type: ignore[import-untyped]
from botocore.model import ListShape, Shape, StructureShape  # type: ignore[import-untyped]
from moto.backends import get_backend
from moto.core.config import default_user_config
from moto.server import ThreadedMotoServer

from tools.mock_runtime import DEFAULT_ACCOUNT, DEFAULT_REGION, Resource, StackRun, reveal

HOST = "127.0.0.1"
LOCAL_ROLE = "blueprints-local"
STANDARD_ATTRIBUTES = (
    "address", "birthdate", "email", "email_verified", "family_name", "gender", "given_name",
    "locale", "middle_name", "name", "nickname", "phone_number", "phone_number_verified",
    "picture", "preferred_username", "profile", "updated_at", "website", "zoneinfo")
SESSION_NAME = "local-mode"
STATE_FILE = "embedded-aws.json"
STATE_FORMAT = 1
OBJECTS_DIR = "objects"


class LocalAwsError(Exception):
    """Bad use of the embedded AWS, said in one line."""


class PortInUseError(LocalAwsError):
    """The port asked for is taken."""


@dataclass(frozen=True)
class Credentials:
    """Credentials the embedded AWS accepts; they name an account (and a role) to moto."""

    access_key_id: str
    secret_access_key: str
    session_token: str

    def __repr__(self) -> str:
        return f"Credentials({self.access_key_id})"


# --- the server -----------------------------------------------------------------------------

def plan_account(run: StackRun) -> str:
    """The account the plan's ARNs name (the mock runtime answers in the stack's account)."""
    accounts = Counter(
        parts[4] for r in run.managed()
        if isinstance(arn := r.state.get("arn"), str)
        and len(parts := arn.split(":")) > 5 and re.fullmatch(r"\d{12}", parts[4]))
    return accounts.most_common(1)[0][0] if accounts else DEFAULT_ACCOUNT


def plan_region(run: StackRun) -> str:
    """The stack's region: where most of the plan's resources live (the plan records no
    provider as the stack's own; its edge and replica providers serve a few resources each)."""
    regions = Counter(region_of(run, r, "") for r in run.managed())
    regions.pop("", None)
    return regions.most_common(1)[0][0] if regions else DEFAULT_REGION


def region_of(run: StackRun, resource: Resource, default: str) -> str:
    """Where a resource lives: its own ``region`` input, else its provider's, else ``default``."""
    if isinstance(own := resource.inputs.get("region"), str):
        return own
    provider = run.provider_of(resource)
    region = provider.inputs.get("region") if provider else None
    return region if isinstance(region, str) else default


def _check_port(port: int) -> None:
    if not 0 < port < 65536:
        raise LocalAwsError(f"port {port} is not a TCP port (1-65535)")
    with socket.socket() as probe:
        # As the server will: a port in TIME_WAIT is free, one with a listener is not.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((HOST, port))
        except OSError as error:
            if error.errno == errno.EADDRINUSE:
                raise PortInUseError(f"port {port} on {HOST} is already in use; choose another "
                                     "port, or none for a free one") from None
            raise LocalAwsError(f"cannot listen on {HOST}:{port}: {error.strerror}") from None


class EmbeddedAws:
    """moto's server on 127.0.0.1, in the plan's account and region.

    Use it as a context manager, or call ``start`` and ``stop``. ``port`` ``None`` (or 0) takes
    a free one. With ``state_dir``, ``stop`` saves the data of the buckets and tables
    registered with ``persist_bucket``/``persist_table`` (``create_resources`` registers the
    plan's), and ``restore_state`` puts saved data back.
    """

    _running: ClassVar[EmbeddedAws | None] = None
    _running_lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self, *, account_id: str = DEFAULT_ACCOUNT, region: str = DEFAULT_REGION,
                 port: int | None = None, state_dir: Path | str | None = None,
                 log_requests: bool = False) -> None:
        if not re.fullmatch(r"\d{12}", account_id):
            raise LocalAwsError(f"account id {account_id!r} is not 12 digits")
        self.account_id = account_id
        self.region = region
        self.state = _StateDir(Path(state_dir)) if state_dir is not None else None
        self._requested_port = port
        self._log_requests = log_requests
        self._server: ThreadedMotoServer | None = None
        self._port = 0
        self._credentials: Credentials | None = None
        self._issued: dict[str, tuple[str, Credentials]] = {}
        self._clients: dict[tuple[str, str, str], Any] = {}
        self._buckets: dict[str, str] = {}
        self._tables: set[tuple[str, str]] = set()
        self._may_save = False
        self._werkzeug_level: int | None = None
        self._executed_state_machines = False

    @classmethod
    def for_plan(cls, run: StackRun, *, port: int | None = None,
                 state_dir: Path | str | None = None, log_requests: bool = False) -> EmbeddedAws:
        """An embedded AWS in the plan's account and stack region."""
        return cls(account_id=plan_account(run), region=plan_region(run), port=port,
                   state_dir=state_dir, log_requests=log_requests)

    # lifecycle

    def start(self) -> EmbeddedAws:
        with EmbeddedAws._running_lock:
            running = EmbeddedAws._running
            if running is not None:
                raise LocalAwsError(f"an embedded AWS already runs in this process (port "
                                    f"{running.port}); moto keeps one state per process")
            if self._requested_port:
                # ThreadedMotoServer waits forever for a port it cannot bind: probe it first.
                _check_port(self._requested_port)
            if self.state is not None:
                self.state.check()
            werkzeug = logging.getLogger("werkzeug")
            self._werkzeug_level = werkzeug.level
            if not self._log_requests:
                werkzeug.setLevel(logging.WARNING)
            # State machines run their executions (moto's interpreter), as in AWS.
            sfn = default_user_config["stepfunctions"]
            self._executed_state_machines = sfn.get("execute_state_machine", False)
            sfn["execute_state_machine"] = True
            server = ThreadedMotoServer(ip_address=HOST, port=self._requested_port or 0,
                                        verbose=False)
            server.start()
            self._server = server
            self._port = server.get_host_and_port()[1]
            EmbeddedAws._running = self
        try:
            self._reset_moto()
            self._credentials = self.credentials_for_role(
                f"arn:aws:iam::{self.account_id}:role/{LOCAL_ROLE}")
            self._may_save = self.state is not None and not self.state.exists()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Saves the data (with ``state_dir``), resets moto and closes the port."""
        server = self._server
        if server is None:
            return
        try:
            if self.state is not None and self._may_save:
                self.save_state()
        finally:
            try:
                self._reset_moto()
            finally:
                server.stop()
                self._server = None
                self._clients.clear()
                self._issued.clear()
                self._buckets.clear()
                self._tables.clear()
                self._may_save = False
                if self._werkzeug_level is not None:
                    logging.getLogger("werkzeug").setLevel(self._werkzeug_level)
                default_user_config["stepfunctions"]["execute_state_machine"] = \
                    self._executed_state_machines
                with EmbeddedAws._running_lock:
                    EmbeddedAws._running = None

    def __enter__(self) -> EmbeddedAws:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self._server is not None

    @property
    def port(self) -> int:
        self._require_running()
        return self._port

    @property
    def endpoint_url(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def credentials(self) -> Credentials:
        """Credentials of the plan's account (an assumed role, ``blueprints-local``)."""
        self._require_running()
        assert self._credentials is not None
        return self._credentials

    def _require_running(self) -> None:
        if self._server is None:
            raise LocalAwsError("the embedded AWS is not running; start it first")

    def _reset_moto(self) -> None:
        # moto's documented reset, on our own server's http URL.
        reset = urllib.request.Request(f"{self.endpoint_url}/moto-api/reset",  # noqa: S310
                                       method="POST")
        with urllib.request.urlopen(reset, timeout=30):  # noqa: S310
            pass

    # clients and credentials

    def credentials_for_role(self, role_arn: str, session_name: str = SESSION_NAME
                             ) -> Credentials:
        """Credentials of ``role_arn`` (any role, in any account; it need not exist in moto).
        The server answers requests made with them in the role's account."""
        sts = boto3.session.Session().client(
            "sts", region_name=self.region, endpoint_url=self.endpoint_url,
            aws_access_key_id="bootstrap", aws_secret_access_key="bootstrap")  # noqa: S106
        answer = sts.assume_role(RoleArn=role_arn, RoleSessionName=session_name)["Credentials"]
        credentials = Credentials(answer["AccessKeyId"], answer["SecretAccessKey"],
                                  answer["SessionToken"])
        self._issued[credentials.access_key_id] = (role_arn, credentials)
        return credentials

    def role_for_access_key(self, access_key_id: str) -> str | None:
        """The role whose credentials carry ``access_key_id``, if this server issued them."""
        issued = self._issued.get(access_key_id)
        return issued[0] if issued else None

    def secret_for_access_key(self, access_key_id: str) -> str | None:
        """The secret key of credentials this server issued, to verify a SigV4 signature."""
        issued = self._issued.get(access_key_id)
        return issued[1].secret_access_key if issued else None

    def session_token_for_access_key(self, access_key_id: str) -> str | None:
        """The session token that goes with credentials this server issued."""
        issued = self._issued.get(access_key_id)
        return issued[1].session_token if issued else None

    def client(self, service: str, region: str | None = None,
               credentials: Credentials | None = None) -> Any:
        """A boto3 client of the embedded AWS (the plan's account unless ``credentials``)."""
        credentials = credentials or self.credentials
        region = region or self.region
        cache_key = (service, region, credentials.access_key_id)
        if cache_key not in self._clients:
            client = boto3.session.Session().client(
                service, region_name=region, endpoint_url=self.endpoint_url,
                aws_access_key_id=credentials.access_key_id,
                aws_secret_access_key=credentials.secret_access_key,
                aws_session_token=credentials.session_token,
                config=Config(retries={"mode": "standard", "max_attempts": 3}))
            if service == "s3control":
                client.meta.events.register("before-sign.s3-control", _no_account_host_prefix)
            self._clients[cache_key] = client
        return self._clients[cache_key]

    def environment(self, region: str | None = None,
                    credentials: Credentials | None = None) -> dict[str, str]:
        """The variables that point an AWS SDK in another process at this server."""
        credentials = credentials or self.credentials
        region = region or self.region
        return {"AWS_ENDPOINT_URL": self.endpoint_url,
                "AWS_ACCESS_KEY_ID": credentials.access_key_id,
                "AWS_SECRET_ACCESS_KEY": credentials.secret_access_key,
                "AWS_SESSION_TOKEN": credentials.session_token,
                "AWS_REGION": region, "AWS_DEFAULT_REGION": region,
                "AWS_EC2_METADATA_DISABLED": "true"}

    # state between runs

    def persist_bucket(self, bucket: str, region: str) -> None:
        """Keep this bucket's objects with ``state_dir``."""
        self._buckets[bucket] = region

    def persist_table(self, table: str, region: str) -> None:
        """Keep this table's items with ``state_dir``."""
        self._tables.add((region, table))

    def restore_state(self) -> Restored | None:
        """Puts the saved data of the registered buckets and tables back; ``None`` without
        ``state_dir`` or saved state. Until this has run, ``stop`` does not overwrite saved
        state, so a run that fails early cannot lose it."""
        self._require_running()
        if self.state is None:
            return None
        saved = self.state.load()
        if saved is None:
            self._may_save = True
            return None
        objects = items = 0
        for bucket, entry in saved["buckets"].items():
            if bucket in self._buckets:
                objects += _load_bucket(self.client("s3", self._buckets[bucket]), bucket,
                                        entry["objects"], self.state)
        for home, rows in saved["tables"].items():
            region, table = home.split("/", 1)
            if (region, table) in self._tables:
                items += _load_table(self.client("dynamodb", region), table, rows)
        kept = sorted([f"bucket {b}" for b in saved["buckets"] if b not in self._buckets]
                      + [f"table {h}" for h in saved["tables"]
                         if tuple(h.split("/", 1)) not in self._tables])
        self._may_save = True
        return Restored(objects=objects, items=items, kept_not_restored=tuple(kept))

    def save_state(self) -> None:
        """Writes the data of the registered buckets and tables to ``state_dir``; saved data
        of buckets and tables not registered in this run is kept as it was."""
        self._require_running()
        if self.state is None:
            raise LocalAwsError("this embedded AWS has no state directory")
        previous = self.state.load() or {"buckets": {}, "tables": {}}
        buckets = {b: e for b, e in previous["buckets"].items() if b not in self._buckets}
        tables = {h: rows for h, rows in previous["tables"].items()
                  if tuple(h.split("/", 1)) not in self._tables}
        for bucket, region in sorted(self._buckets.items()):
            buckets[bucket] = {"region": region, "objects": _dump_bucket(
                self.client("s3", region), bucket, self.state)}
        for region, table in sorted(self._tables):
            tables[f"{region}/{table}"] = _dump_table(self.client("dynamodb", region), table)
        self.state.write({"format": STATE_FORMAT, "account": self.account_id,
                          "buckets": buckets, "tables": tables})


def _no_account_host_prefix(request: Any, **_: Any) -> None:
    # S3 Control puts the account id in front of the host (<account>.s3-control...); in front
    # of 127.0.0.1 that is no host at all, and moto routes S3 Control by path anyway.
    request.url = re.sub(r"^(https?://)\d{12}\.", r"\1", request.url)


@dataclass(frozen=True)
class Restored:
    """What ``restore_state`` put back, and which saved data this run's plan did not claim."""

    objects: int
    items: int
    kept_not_restored: tuple[str, ...]


class _StateDir:
    """``embedded-aws.json`` and the object bodies it refers to, by SHA-256."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.file = directory / STATE_FILE
        self.objects = directory / OBJECTS_DIR

    def check(self) -> None:
        if self.directory.exists() and not self.directory.is_dir():
            raise LocalAwsError(f"state directory {self.directory} is a file")
        self.directory.mkdir(parents=True, exist_ok=True)
        self.load()

    def exists(self) -> bool:
        return self.file.exists()

    def load(self) -> dict[str, Any] | None:
        if not self.file.exists():
            return None
        try:
            content = json.loads(self.file.read_text())
        except (OSError, ValueError) as error:
            raise LocalAwsError(f"{self.file}: not readable as local-mode state: {error}"
                                ) from None
        if not isinstance(content, dict) or content.get("format") != STATE_FORMAT:
            raise LocalAwsError(f"{self.file}: not local-mode state of format {STATE_FORMAT}; "
                                "move it away or choose another --state directory")
        return content

    def write(self, content: Mapping[str, Any]) -> None:
        partial = self.file.with_suffix(".partial")
        partial.write_text(json.dumps(content, indent=1, sort_keys=True))
        os.replace(partial, self.file)
        referenced = {o["blob"] for entry in content["buckets"].values()
                      for o in entry["objects"]}
        for blob in self.objects.glob("*"):
            if blob.name not in referenced:
                blob.unlink()

    def put_blob(self, body: bytes) -> str:
        digest = hashlib.sha256(body).hexdigest()
        path = self.objects / digest
        if not path.exists():
            self.objects.mkdir(parents=True, exist_ok=True)
            path.write_bytes(body)
        return digest

    def blob(self, digest: str) -> bytes:
        return (self.objects / digest).read_bytes()


def _dump_bucket(s3: Any, bucket: str, state: _StateDir) -> list[dict[str, Any]]:
    objects = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for listed in page.get("Contents", []):
            got = s3.get_object(Bucket=bucket, Key=listed["Key"])
            objects.append({"key": listed["Key"], "blob": state.put_blob(got["Body"].read()),
                            "contentType": got.get("ContentType"),
                            "metadata": got.get("Metadata", {})})
    return objects


def _load_bucket(s3: Any, bucket: str, objects: list[dict[str, Any]], state: _StateDir) -> int:
    for saved in objects:
        extra = {"ContentType": saved["contentType"]} if saved.get("contentType") else {}
        s3.put_object(Bucket=bucket, Key=saved["key"], Body=state.blob(saved["blob"]),
                      Metadata=saved.get("metadata") or {}, **extra)
    return len(objects)


def _dump_table(dynamodb: Any, table: str) -> list[dict[str, Any]]:
    return [{name: _attribute_to_json(value) for name, value in item.items()}
            for page in dynamodb.get_paginator("scan").paginate(TableName=table)
            for item in page.get("Items", [])]


def _load_table(dynamodb: Any, table: str, rows: list[dict[str, Any]]) -> int:
    for row in rows:
        dynamodb.put_item(TableName=table,
                          Item={name: _attribute_from_json(value) for name, value in row.items()})
    return len(rows)


def _attribute_to_json(value: Mapping[str, Any]) -> dict[str, Any]:
    (kind, inner), = value.items()
    if kind == "B":
        return {"B": base64.b64encode(inner).decode()}
    if kind == "BS":
        return {"BS": [base64.b64encode(b).decode() for b in inner]}
    if kind == "M":
        return {"M": {k: _attribute_to_json(v) for k, v in inner.items()}}
    if kind == "L":
        return {"L": [_attribute_to_json(v) for v in inner]}
    return dict(value)


def _attribute_from_json(value: Mapping[str, Any]) -> dict[str, Any]:
    (kind, inner), = value.items()
    if kind == "B":
        return {"B": base64.b64decode(inner)}
    if kind == "BS":
        return {"BS": [base64.b64decode(b) for b in inner]}
    if kind == "M":
        return {"M": {k: _attribute_from_json(v) for k, v in inner.items()}}
    if kind == "L":
        return {"L": [_attribute_from_json(v) for v in inner]}
    return dict(value)


# --- which types local mode emulates, and where -----------------------------------------------

class Handling(Enum):
    CREATED = "created in the embedded AWS"
    SERVED_ELSEWHERE = "served by another part of local mode"
    NOT_EMULATED = "not emulated by local mode"


_APIS = "APIs are served on localhost ports from the plan's routes"
_FUNCTIONS = "each function runs its real handler in a worker process"
_IAM = "local mode checks every call against the plan's policies"
_RESOURCE_POLICY = ("checked by local mode's IAM checks with each request's context (moto "
                    "5.2.5 would evaluate it without that context and refuse plain-HTTP access)")
_LOGS = "workers log to the console"
_EDGE = "local mode serves the distribution and runs its edge functions"
_OBJECT_LAMBDA = ("local mode's Object Lambda front invokes the transform (moto has no Object "
                  "Lambda)")
_EVENT_SOURCES = "local mode's event wiring polls the source and invokes the function"
_SCHEDULES = "local mode fires schedules on `python -m tools.local trigger <name>`"
_NETWORK = "networking: local processes share this machine's network"
_CONTAINERS = ("local mode runs ECS services' and workflow tasks' containers as local processes "
               "of their image's command, read from its Dockerfile")
_VPC_LINKS = ("local mode's APIs pass VPC link integrations to the ECS service the load "
              "balancer or Cloud Map name leads to")
_CACHES = ("local mode serves each serverless cache with a Valkey server on this machine, its "
           "users' access strings enforced (tools/local/caches.py)")

SERVED_ELSEWHERE: Mapping[str, str] = {
    **dict.fromkeys((
        "aws:apigateway/account:Account", "aws:apigateway/apiKey:ApiKey",
        "aws:apigateway/authorizer:Authorizer", "aws:apigateway/basePathMapping:BasePathMapping",
        "aws:apigateway/deployment:Deployment", "aws:apigateway/domainName:DomainName",
        "aws:apigateway/integration:Integration",
        "aws:apigateway/integrationResponse:IntegrationResponse",
        "aws:apigateway/method:Method", "aws:apigateway/methodResponse:MethodResponse",
        "aws:apigateway/methodSettings:MethodSettings", "aws:apigateway/model:Model",
        "aws:apigateway/requestValidator:RequestValidator", "aws:apigateway/resource:Resource",
        "aws:apigateway/response:Response", "aws:apigateway/restApi:RestApi",
        "aws:apigateway/stage:Stage", "aws:apigateway/usagePlan:UsagePlan",
        "aws:apigateway/usagePlanKey:UsagePlanKey", "aws:apigatewayv2/api:Api",
        "aws:apigatewayv2/apiMapping:ApiMapping", "aws:apigatewayv2/authorizer:Authorizer",
        "aws:apigatewayv2/domainName:DomainName", "aws:apigatewayv2/integration:Integration",
        "aws:apigatewayv2/route:Route", "aws:apigatewayv2/stage:Stage"), _APIS),
    **dict.fromkeys((
        "aws:lambda/function:Function", "aws:lambda/alias:Alias",
        "aws:lambda/layerVersion:LayerVersion", "aws:lambda/permission:Permission",
        "aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig",
        "aws:lambda/provisionedConcurrencyConfig:ProvisionedConcurrencyConfig"), _FUNCTIONS),
    **dict.fromkeys(("aws:iam/role:Role", "aws:iam/rolePolicy:RolePolicy",
                     "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
                     "aws:iam/policy:Policy"), _IAM),
    "aws:s3/bucketPolicy:BucketPolicy": _RESOURCE_POLICY,
    "aws:cloudwatch/logGroup:LogGroup": _LOGS,
    **dict.fromkeys(("aws:cloudfront/distribution:Distribution",
                     "aws:cloudfront/originRequestPolicy:OriginRequestPolicy",
                     "aws:cloudfront/responseHeadersPolicy:ResponseHeadersPolicy",
                     "aws:cloudfront/cachePolicy:CachePolicy",
                     "aws:cloudfront/originAccessControl:OriginAccessControl"), _EDGE),
    **dict.fromkeys((
        "aws:s3control/objectLambdaAccessPoint:ObjectLambdaAccessPoint",
        "aws:s3control/objectLambdaAccessPointPolicy:ObjectLambdaAccessPointPolicy"),
        _OBJECT_LAMBDA),
    "aws:lambda/eventSourceMapping:EventSourceMapping": _EVENT_SOURCES,
    **dict.fromkeys(("aws:scheduler/schedule:Schedule",
                     "aws:scheduler/scheduleGroup:ScheduleGroup"), _SCHEDULES),
    **dict.fromkeys(("aws:ecs/service:Service", "aws:ecs/taskDefinition:TaskDefinition",
                     "docker-build:index:Image"), _CONTAINERS),
    **dict.fromkeys(("aws:apigateway/vpcLink:VpcLink", "aws:apigatewayv2/vpcLink:VpcLink",
                     "aws:lb/loadBalancer:LoadBalancer", "aws:lb/listener:Listener",
                     "aws:lb/listenerRule:ListenerRule", "aws:lb/targetGroup:TargetGroup",
                     "aws:servicediscovery/service:Service"), _VPC_LINKS),
    **dict.fromkeys(("aws:elasticache/serverlessCache:ServerlessCache",
                     "aws:elasticache/user:User", "aws:elasticache/userGroup:UserGroup"),
                    _CACHES),
}

NOT_EMULATED: Mapping[str, str] = {
    **dict.fromkeys((
        "aws:ec2/vpc:Vpc", "aws:ec2/subnet:Subnet", "aws:ec2/routeTable:RouteTable",
        "aws:ec2/route:Route", "aws:ec2/routeTableAssociation:RouteTableAssociation",
        "aws:ec2/internetGateway:InternetGateway", "aws:ec2/natGateway:NatGateway",
        "aws:ec2/eip:Eip", "aws:ec2/securityGroup:SecurityGroup",
        "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup",
        "aws:ec2/vpcEndpoint:VpcEndpoint", "aws:ec2/flowLog:FlowLog",
        "aws:ec2/managedPrefixList:ManagedPrefixList",
        "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule",
        "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule"), _NETWORK),
    **dict.fromkeys(("aws:wafv2/webAcl:WebAcl", "aws:wafv2/webAclAssociation:WebAclAssociation",
                     "aws:wafv2/webAclLoggingConfiguration:WebAclLoggingConfiguration"),
                    "WAF: local requests are not filtered"),
    **dict.fromkeys(("aws:cloudwatch/logDelivery:LogDelivery",
                     "aws:cloudwatch/logDeliveryDestination:LogDeliveryDestination",
                     "aws:cloudwatch/logDeliverySource:LogDeliverySource"),
                    "vended logs (CloudFront access logs) are not delivered locally"),
    **dict.fromkeys(("aws:cloudwatch/metricAlarm:MetricAlarm",
                     "aws:cloudwatch/dashboard:Dashboard"),
                    "CloudWatch alarms and dashboards: local functions publish no metrics"),
    "aws:cloudfront/function:Function": "CloudFront Functions do not run locally",
    "aws:accessanalyzer/analyzer:Analyzer":
        "IAM Access Analyzer: there is no access history here to find unused access in",
    "aws:cloudfront/originAccessIdentity:OriginAccessIdentity":
        "legacy origin access identities: local mode serves S3 origins through an origin "
        "access control only",
    **dict.fromkeys(("aws:appautoscaling/target:Target", "aws:appautoscaling/policy:Policy"),
                    "application auto scaling: a local table's capacity limits nothing and one "
                    "task serves each ECS service, so nothing scales"),
    "aws:ecs/cluster:Cluster": "ECS cluster: tasks run as local processes, with no placement",
    **dict.fromkeys(("aws:ecr/repository:Repository", "aws:ecr/lifecyclePolicy:LifecyclePolicy",
                     "aws:ecr/repositoryPolicy:RepositoryPolicy"),
                    "container registries: images are read from their Dockerfile, not pulled"),
    **dict.fromkeys(("aws:route53/resolverEndpoint:ResolverEndpoint",
                     "aws:route53/resolverQueryLogConfig:ResolverQueryLogConfig",
                     "aws:route53/resolverQueryLogConfigAssociation:"
                     "ResolverQueryLogConfigAssociation"),
                    "Route 53 Resolver: local mode uses this machine's DNS"),
    "aws:sqs/redriveAllowPolicy:RedriveAllowPolicy":
        "moto 5.2.5 keeps no redrive allow policy; the plan's redrive works without it",
    "aws:servicediscovery/privateDnsNamespace:PrivateDnsNamespace":
        "Cloud Map namespace: local mode resolves its services to their local tasks itself",
    **dict.fromkeys(("aws:dax/cluster:Cluster", "aws:dax/parameterGroup:ParameterGroup",
                     "aws:dax/subnetGroup:SubnetGroup"),
                    "DAX: no local cluster; a function's DAX client finds none and reads the "
                    "table"),
}

UNCLASSIFIED = "not classified by local mode yet (tools/local/aws.py)"


def classify(type_: str) -> tuple[Handling, str]:
    """How local mode handles a resource type, and why."""
    if type_ in _CREATORS:
        return Handling.CREATED, "created in the embedded AWS"
    if type_ in SERVED_ELSEWHERE:
        return Handling.SERVED_ELSEWHERE, SERVED_ELSEWHERE[type_]
    return Handling.NOT_EMULATED, NOT_EMULATED.get(type_, UNCLASSIFIED)


def classified(type_: str) -> bool:
    return type_ in _CREATORS or type_ in SERVED_ELSEWHERE or type_ in NOT_EMULATED


# --- the report -------------------------------------------------------------------------------

@dataclass(frozen=True)
class Created:
    type: str
    name: str
    region: str
    local_id: str  # what the embedded AWS calls it: a name, id, queue URL or ARN


@dataclass(frozen=True)
class NotCreated:
    type: str
    name: str
    reason: str


@dataclass(frozen=True)
class BucketNotification:
    """One destination of a bucket's notification configuration."""

    bucket: str
    region: str
    target_type: str  # "function", "queue" or "topic"
    target_arn: str
    events: tuple[str, ...]
    prefix: str = ""
    suffix: str = ""

    def matches(self, event_name: str, key: str) -> bool:
        """Whether an event (``s3:ObjectCreated:Put``) on ``key`` is sent to this target."""
        wanted = any(event_name == e or (e.endswith(":*") and event_name.startswith(e[:-1]))
                     for e in self.events)
        return wanted and key.startswith(self.prefix) and key.endswith(self.suffix)


@dataclass
class Report:
    created: list[Created] = field(default_factory=list)
    served_elsewhere: list[NotCreated] = field(default_factory=list)
    not_emulated: list[NotCreated] = field(default_factory=list)
    bucket_notifications: list[BucketNotification] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    restored: Restored | None = None

    def lines(self) -> list[str]:
        """What local mode prints at start-up: counts, every type and name not emulated, and
        the notes."""
        lines = [f"embedded AWS: {len(self.created)} resources created, "
                 f"{len(self.served_elsewhere)} served by other parts of local mode"]
        if self.restored is not None:
            lines.append(f"  restored {self.restored.objects} objects and "
                         f"{self.restored.items} items from the state directory")
            lines.extend(f"  saved data kept, not in this plan: {what}"
                         for what in self.restored.kept_not_restored)
        by_type: dict[tuple[str, str], list[str]] = {}
        for skipped in self.not_emulated:
            by_type.setdefault((skipped.type, skipped.reason), []).append(skipped.name)
        if by_type:
            lines.append(f"not emulated by local mode ({len(self.not_emulated)}):")
            lines.extend(f"  {type_} ({reason}): {', '.join(names)}"
                         for (type_, reason), names in sorted(by_type.items()))
        lines.extend(f"note: {note}" for note in self.notes)
        return lines


# --- creating the plan's resources ----------------------------------------------------------

TABLE_ITEM = "aws:dynamodb/tableItem:TableItem"
BUCKET_OBJECT = "aws:s3/bucketObjectv2:BucketObjectv2"
# What the deploy writes into tables and buckets: written after saved data is put back.
WRITTEN_BY_DEPLOY = frozenset({TABLE_ITEM, BUCKET_OBJECT})


def create_resources(run: StackRun, aws: EmbeddedAws) -> Report:
    """Creates in ``aws`` every stateful resource of ``run``, with the plan's names and
    settings, in dependency order. Saved data (``state_dir``) is put back after the resources
    and before the plan's seeded items and bucket objects, which win, as ``pulumi up`` would
    write them."""
    report = Report()
    chosen: list[Resource] = []
    for resource in run.managed():
        handling, reason = classify(resource.type)
        if handling is Handling.CREATED:
            chosen.append(resource)
        elif handling is Handling.SERVED_ELSEWHERE:
            report.served_elsewhere.append(NotCreated(resource.type, resource.name, reason))
        else:
            report.not_emulated.append(NotCreated(resource.type, resource.name, reason))
    creation = _Creation(run, aws, report)
    ordered = _in_dependency_order(chosen)
    for resource in [r for r in ordered if r.type not in WRITTEN_BY_DEPLOY]:
        creation.create(resource)
    report.restored = aws.restore_state()
    for resource in [r for r in ordered if r.type in WRITTEN_BY_DEPLOY]:
        creation.create(resource)
    return report


def _in_dependency_order(resources: list[Resource]) -> list[Resource]:
    by_urn = {r.urn: r for r in resources}
    sorter: graphlib.TopologicalSorter[str] = graphlib.TopologicalSorter()
    for resource in resources:
        sorter.add(resource.urn, *(d for d in resource.dependencies if d in by_urn))
    return [by_urn[urn] for urn in sorter.static_order()]


def _api_form(value: Any, shape: Shape, where: str, unapplied: list[str]) -> Any:
    """A Pulumi input (camelCase) in the form an AWS API ``shape`` takes (PascalCase), matching
    member names without regard to case (``kmsMasterKeyId`` is ``KMSMasterKeyID``). What has
    no counterpart in the shape is left out and named in ``unapplied``."""
    if isinstance(shape, StructureShape) and isinstance(value, Mapping):
        members = {name.lower(): name for name in shape.members}
        converted = {}
        for key, item in value.items():
            member = members.get(key.lower())
            if member is None:
                unapplied.append(f"{where}.{key}")
            else:
                converted[member] = _api_form(item, shape.members[member], f"{where}.{key}",
                                              unapplied)
        return converted
    if isinstance(shape, StructureShape) and isinstance(value, list) and len(shape.members) == 1:
        # Pulumi flattens a structure that only wraps a list (S3's BlockedEncryptionTypes).
        ((member, member_shape),) = shape.members.items()
        return {member: _api_form(value, member_shape, where, unapplied)}
    if isinstance(shape, ListShape) and isinstance(value, list):
        return [_api_form(item, shape.member, where, unapplied) for item in value]
    return value


def _input_shape(client: Any, operation: str, *path: str) -> Shape:
    shape: Shape = client.meta.service_model.operation_model(operation).input_shape
    for member in path:
        assert isinstance(shape, (StructureShape, ListShape))
        shape = shape.member if isinstance(shape, ListShape) else shape.members[member]
    return shape


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) else json.dumps(value)


_QUEUE_ATTRIBUTES = {
    "fifoQueue": "FifoQueue", "contentBasedDeduplication": "ContentBasedDeduplication",
    "deduplicationScope": "DeduplicationScope", "fifoThroughputLimit": "FifoThroughputLimit",
    "delaySeconds": "DelaySeconds", "maxMessageSize": "MaximumMessageSize",
    "messageRetentionSeconds": "MessageRetentionPeriod",
    "receiveWaitTimeSeconds": "ReceiveMessageWaitTimeSeconds",
    "visibilityTimeoutSeconds": "VisibilityTimeout", "redrivePolicy": "RedrivePolicy",
    "policy": "Policy", "sqsManagedSseEnabled": "SqsManagedSseEnabled",
    "kmsMasterKeyId": "KmsMasterKeyId",
    "kmsDataKeyReusePeriodSeconds": "KmsDataKeyReusePeriodSeconds",
}
_TOPIC_ATTRIBUTES = {
    "displayName": "DisplayName", "policy": "Policy", "deliveryPolicy": "DeliveryPolicy",
    "kmsMasterKeyId": "KmsMasterKeyId", "fifoTopic": "FifoTopic",
    "contentBasedDeduplication": "ContentBasedDeduplication",
    "signatureVersion": "SignatureVersion", "tracingConfig": "TracingConfig",
}
_SUBSCRIPTION_ATTRIBUTES = {
    "rawMessageDelivery": "RawMessageDelivery", "filterPolicy": "FilterPolicy",
    "filterPolicyScope": "FilterPolicyScope", "redrivePolicy": "RedrivePolicy",
    "deliveryPolicy": "DeliveryPolicy", "subscriptionRoleArn": "SubscriptionRoleArn",
}
# Inputs that name or place a resource, or tag it: no setting to apply.
_NAMING = {"name", "namePrefix", "bucketPrefix", "region", "tags", "tagsAll"}
_NOTIFICATION_TARGETS = (("lambdaFunctions", "lambdaFunctionArn", "function",
                          "LambdaFunctionConfigurations", "LambdaFunctionArn"),
                         ("queues", "queueArn", "queue", "QueueConfigurations", "QueueArn"),
                         ("topics", "topicArn", "topic", "TopicConfigurations", "TopicArn"))


class _Creation:
    """Creates plan resources one at a time, remembering what moto calls each of them."""

    def __init__(self, run: StackRun, aws: EmbeddedAws, report: Report) -> None:
        self.run = run
        self.aws = aws
        self.report = report
        # The plan's ids, names and ARNs of created resources -> moto's, where they differ.
        self.local_ids: dict[str, str] = {}
        self.table_regions: dict[str, list[str]] = {}

    def create(self, resource: Resource) -> None:
        region = region_of(self.run, resource, self.aws.region)
        inputs = reveal(dict(resource.inputs))
        try:
            local_id = _CREATORS[resource.type](self, resource, inputs, region)
        except (BotoCoreError, ClientError) as error:
            raise LocalAwsError(f"cannot create {resource.type} {resource.name} in the "
                                f"embedded AWS ({region}): {error}") from error
        self.report.created.append(Created(resource.type, resource.name, region, local_id))

    def client(self, service: str, region: str) -> Any:
        return self.aws.client(service, region)

    def local(self, plan_reference: str) -> str:
        return self.local_ids.get(plan_reference, plan_reference)

    def remember(self, resource: Resource, local_id: str) -> None:
        """Later resources may name this one by the plan's id or ARN: both mean ``local_id``."""
        for plan_reference in (resource.id, resource.state.get("arn")):
            if isinstance(plan_reference, str) and plan_reference != local_id:
                self.local_ids[plan_reference] = local_id

    def unapplied(self, resource: Resource, keys: Iterable[str]) -> None:
        if keys := sorted(keys):
            self.report.notes.append(f"{resource.name}: not applied locally: {', '.join(keys)}")

    def api_form(self, resource: Resource, value: Any, client: Any, operation: str,
                 *path: str, where: str) -> Any:
        """``value`` in the form ``operation`` takes at ``path``; what has no place there is
        noted as not applied locally."""
        unapplied: list[str] = []
        converted = _api_form(value, _input_shape(client, operation, *path), where, unapplied)
        self.unapplied(resource, unapplied)
        return converted

    # S3

    def bucket(self, resource: Resource, inputs: dict[str, Any], region: str) -> str:
        name = str(resource.state["bucket"])
        s3 = self.client("s3", region)
        where = {} if region == "us-east-1" else {
            "CreateBucketConfiguration": {"LocationConstraint": region}}
        s3.create_bucket(Bucket=name, **where)
        self.aws.persist_bucket(name, region)
        self.unapplied(resource, set(inputs) - {"bucket", "forceDestroy"} - _NAMING)
        return name

    def bucket_versioning(self, resource: Resource, inputs: dict[str, Any], region: str) -> str:
        configuration = inputs["versioningConfiguration"]
        versioning = {"Status": configuration["status"]}
        if "mfaDelete" in configuration:
            versioning["MFADelete"] = configuration["mfaDelete"]
        self.client("s3", region).put_bucket_versioning(Bucket=inputs["bucket"],
                                                        VersioningConfiguration=versioning)
        return str(inputs["bucket"])

    def bucket_encryption(self, resource: Resource, inputs: dict[str, Any], region: str) -> str:
        s3 = self.client("s3", region)
        rules = self.api_form(resource, inputs["rules"], s3, "PutBucketEncryption",
                              "ServerSideEncryptionConfiguration", "Rules", where="rules")
        s3.put_bucket_encryption(Bucket=inputs["bucket"],
                                 ServerSideEncryptionConfiguration={"Rules": rules})
        return str(inputs["bucket"])

    def bucket_public_access_block(self, resource: Resource, inputs: dict[str, Any],
                                   region: str) -> str:
        settings = ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls",
                    "restrictPublicBuckets")
        self.client("s3", region).put_public_access_block(
            Bucket=inputs["bucket"], PublicAccessBlockConfiguration={
                key[0].upper() + key[1:]: bool(inputs.get(key)) for key in settings})
        return str(inputs["bucket"])

    def bucket_ownership(self, resource: Resource, inputs: dict[str, Any], region: str) -> str:
        self.client("s3", region).put_bucket_ownership_controls(
            Bucket=inputs["bucket"], OwnershipControls={
                "Rules": [{"ObjectOwnership": inputs["rule"]["objectOwnership"]}]})
        return str(inputs["bucket"])

    def bucket_lifecycle(self, resource: Resource, inputs: dict[str, Any], region: str) -> str:
        s3 = self.client("s3", region)
        rules = self.api_form(resource, inputs["rules"], s3, "PutBucketLifecycleConfiguration",
                              "LifecycleConfiguration", "Rules", where="rules")
        s3.put_bucket_lifecycle_configuration(Bucket=inputs["bucket"],
                                              LifecycleConfiguration={"Rules": rules})
        return str(inputs["bucket"])

    def bucket_object(self, resource: Resource, inputs: dict[str, Any], region: str) -> str:
        """An object the plan uploads (a web app's files)."""
        request = _object_request(inputs, resource.name)
        self.client("s3", region).put_object(**request)
        return f"{request['Bucket']}/{request['Key']}"

    def bucket_notification(self, resource: Resource, inputs: dict[str, Any],
                            region: str) -> str:
        bucket = str(inputs["bucket"])
        configuration: dict[str, Any] = {}
        for key, arn_key, target_type, api_list, api_arn in _NOTIFICATION_TARGETS:
            for entry in inputs.get(key) or []:
                prefix, suffix = entry.get("filterPrefix", ""), entry.get("filterSuffix", "")
                rules = [{"Name": n, "Value": v} for n, v in (("prefix", prefix),
                                                              ("suffix", suffix)) if v]
                api_entry: dict[str, Any] = {api_arn: entry[arn_key], "Events": entry["events"]}
                if entry.get("id"):
                    api_entry["Id"] = entry["id"]
                if rules:
                    api_entry["Filter"] = {"Key": {"FilterRules": rules}}
                configuration.setdefault(api_list, []).append(api_entry)
                self.report.bucket_notifications.append(BucketNotification(
                    bucket, region, target_type, str(entry[arn_key]), tuple(entry["events"]),
                    prefix, suffix))
        if inputs.get("eventbridge"):
            configuration["EventBridgeConfiguration"] = {}
        self.client("s3", region).put_bucket_notification_configuration(
            Bucket=bucket, NotificationConfiguration=configuration)
        return bucket

    def access_point(self, resource: Resource, inputs: dict[str, Any], region: str) -> str:
        s3control = self.client("s3control", region)
        account = str(inputs.get("accountId") or self.aws.account_id)
        name = str(inputs["name"])
        extra: dict[str, Any] = {}
        if block := inputs.get("publicAccessBlockConfiguration"):
            extra["PublicAccessBlockConfiguration"] = {
                key[0].upper() + key[1:]: bool(value) for key, value in block.items()}
        s3control.create_access_point(AccountId=account, Name=name, Bucket=inputs["bucket"],
                                      **extra)
        if inputs.get("policy"):
            s3control.put_access_point_policy(AccountId=account, Name=name,
                                              Policy=inputs["policy"])
        self.unapplied(resource, set(inputs) - {"accountId", "name", "bucket", "policy",
                                                "publicAccessBlockConfiguration", "region"})
        return name

    # DynamoDB

    def table(self, resource: Resource, inputs: dict[str, Any], region: str) -> str:
        name = str(resource.state["name"])
        request = _table_request(name, inputs)
        replicas = [str(r["regionName"]) for r in inputs.get("replicas") or []]
        for table_region in (region, *replicas):
            dynamodb = self.client("dynamodb", table_region)
            dynamodb.create_table(**request)
            if (ttl := inputs.get("ttl")) and ttl.get("enabled"):
                dynamodb.update_time_to_live(TableName=name, TimeToLiveSpecification={
                    "Enabled": True, "AttributeName": ttl["attributeName"]})
            if (inputs.get("pointInTimeRecovery") or {}).get("enabled"):
                dynamodb.update_continuous_backups(
                    TableName=name,
                    PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True})
            if label := resource.state.get("streamLabel"):
                _give_stream_the_plan_label(self.aws.account_id, table_region, name, str(label))
            self.aws.persist_table(name, table_region)
        self.table_regions[name] = [region, *replicas]
        if replicas:
            self.report.notes.append(
                f"{resource.name}: global table; its replica in {', '.join(replicas)} is a "
                "separate local table with the same settings and seeded items, and later "
                "writes are not replicated")
        return name

    def table_item(self, resource: Resource, inputs: dict[str, Any], region: str) -> str:
        table = str(inputs["tableName"])
        item = json.loads(inputs["item"])
        for table_region in self.table_regions.get(table, [region]):
            self.client("dynamodb", table_region).put_item(TableName=table, Item=item)
        return table

    # SQS

    def queue(self, resource: Resource, inputs: dict[str, Any], region: str) -> str:
        name = str(resource.state["name"])
        attributes = {api: _text(inputs[key]) for key, api in _QUEUE_ATTRIBUTES.items()
                      if inputs.get(key) not in (None, "")}
        if not inputs.get("fifoQueue"):
            attributes.pop("FifoQueue", None)
        url = self.client("sqs", region).create_queue(QueueName=name,
                                                      Attributes=attributes)["QueueUrl"]
        self.unapplied(resource, set(inputs) - set(_QUEUE_ATTRIBUTES) - _NAMING)
        return str(url)

    def _queue_url(self, plan_url: str, region: str) -> str:
        return str(self.client("sqs", region).get_queue_url(
            QueueName=plan_url.rstrip("/").rsplit("/", 1)[-1])["QueueUrl"])

    def queue_policy(self, resource: Resource, inputs: dict[str, Any], region: str) -> str:
        url = self._queue_url(str(inputs["queueUrl"]), region)
        self.client("sqs", region).set_queue_attributes(
            QueueUrl=url, Attributes={"Policy": _text(inputs["policy"])})
        return url

    def queue_redrive(self, resource: Resource, inputs: dict[str, Any], region: str) -> str:
        url = self._queue_url(str(inputs["queueUrl"]), region)
        self.client("sqs", region).set_queue_attributes(
            QueueUrl=url, Attributes={"RedrivePolicy": _text(inputs["redrivePolicy"])})
        return url

    # SNS

    def topic(self, resource: Resource, inputs: dict[str, Any], region: str) -> str:
        attributes = {api: _text(inputs[key]) for key, api in _TOPIC_ATTRIBUTES.items()
                      if inputs.get(key) not in (None, "")}
        if not inputs.get("fifoTopic"):
            attributes.pop("FifoTopic", None)
        arn = self.client("sns", region).create_topic(Name=str(resource.state["name"]),
                                                      Attributes=attributes)["TopicArn"]
        self.unapplied(resource, set(inputs) - set(_TOPIC_ATTRIBUTES) - _NAMING)
        return str(arn)

    def topic_policy(self, resource: Resource, inputs: dict[str, Any], region: str) -> str:
        arn = self.local(str(inputs["arn"]))
        self.client("sns", region).set_topic_attributes(
            TopicArn=arn, AttributeName="Policy", AttributeValue=_text(inputs["policy"]))
        return arn

    def subscription(self, resource: Resource, inputs: dict[str, Any], region: str) -> str:
        attributes = {api: _text(inputs[key]) for key, api in _SUBSCRIPTION_ATTRIBUTES.items()
                      if inputs.get(key) not in (None, "")}
        arn = self.client("sns", region).subscribe(
            TopicArn=self.local(str(inputs["topic"])), Protocol=inputs["protocol"],
            Endpoint=self.local(str(inputs["endpoint"])), Attributes=attributes,
            ReturnSubscriptionArn=True)["SubscriptionArn"]
        return str(arn)

    # EventBridge

    def event_bus(self, resource: Resource, inputs: dict[str, Any], region: str) -> str:
        name = str(resource.state["name"])
        extra = {"Description": inputs["description"]} if inputs.get("description") else {}
        self.client("events", region).create_event_bus(Name=name, **extra)
        return name

    def event_rule(self, resource: Resource, inputs: dict[str, Any], region: str) -> str:
        name = str(resource.state["name"])
        request: dict[str, Any] = {"Name": name,
                                   "EventBusName": inputs.get("eventBusName") or "default"}
        for key, api in (("eventPattern", "EventPattern"),
                         ("scheduleExpression", "ScheduleExpression"),
                         ("description", "Description"), ("roleArn", "RoleArn")):
            if inputs.get(key):
                request[api] = inputs[key]
        if inputs.get("state"):
            request["State"] = inputs["state"]
        elif inputs.get("isEnabled") is False:
            request["State"] = "DISABLED"
        self.client("events", region).put_rule(**request)
        return name

    def event_archive(self, resource: Resource, inputs: dict[str, Any], region: str) -> str:
        name = str(resource.state["name"])
        request: dict[str, Any] = {"ArchiveName": name, "EventSourceArn": inputs["eventSourceArn"]}
        for key, api in (("description", "Description"), ("retentionDays", "RetentionDays"),
                         ("eventPattern", "EventPattern")):
            if inputs.get(key) is not None:
                request[api] = inputs[key]
        self.client("events", region).create_archive(**request)
        return name

    def event_target(self, resource: Resource, inputs: dict[str, Any], region: str) -> str:
        events = self.client("events", region)
        target = dict(inputs)
        rule = target.pop("rule")
        bus = target.pop("eventBusName", None) or "default"
        target["id"] = target.pop("targetId", None) or resource.state["name"]
        target["arn"] = self.local(str(target["arn"]))
        if "inputTransformer" in target:
            transformer = dict(target["inputTransformer"])
            if "inputPaths" in transformer:
                transformer["inputPathsMap"] = transformer.pop("inputPaths")
            target["inputTransformer"] = transformer
        if "sqsTarget" in target:
            target["sqsParameters"] = target.pop("sqsTarget")
        target.pop("region", None)
        api_target = self.api_form(resource, target, events, "PutTargets", "Targets", "member",
                                   where="target")
        events.put_targets(Rule=rule, EventBusName=bus, Targets=[api_target])
        return f"{bus}/{rule}/{api_target['Id']}"

    # Cognito

    def user_pool(self, resource: Resource, inputs: dict[str, Any], region: str) -> str:
        cognito = self.client("cognito-idp", region)
        settings = dict(inputs)
        settings.pop("region", None)
        settings.pop("tags", None)
        settings.pop("name", None)
        software_token_mfa = settings.pop("softwareTokenMfaConfiguration", None)
        if "passwordPolicy" in settings:
            settings["policies"] = {"passwordPolicy": settings.pop("passwordPolicy")}
        if "schemas" in settings:
            settings["schema"] = settings.pop("schemas")
        request = self.api_form(resource, settings, cognito, "CreateUserPool", where="pool")
        moto_id = cognito.create_user_pool(PoolName=str(resource.state["name"]),
                                           **request)["UserPool"]["Id"]
        pool_id = str(resource.id)
        _give_user_pool_the_plan_id(self.aws.account_id, region, moto_id, pool_id)
        if software_token_mfa is not None:
            cognito.set_user_pool_mfa_config(
                UserPoolId=pool_id, MfaConfiguration=settings.get("mfaConfiguration", "OFF"),
                SoftwareTokenMfaConfiguration={"Enabled": bool(software_token_mfa["enabled"])})
        return pool_id

    def user_pool_client(self, resource: Resource, inputs: dict[str, Any], region: str) -> str:
        cognito = self.client("cognito-idp", region)
        settings = dict(inputs)
        settings.pop("region", None)
        settings.pop("name", None)
        request = self.api_form(resource, settings, cognito, "CreateUserPoolClient",
                                where="client")
        # A client without read attributes reads every attribute in AWS; in moto, none (its
        # ID tokens would then lack email and the other claims an app reads).
        request.setdefault("ReadAttributes", list(STANDARD_ATTRIBUTES))
        moto_id = cognito.create_user_pool_client(
            ClientName=str(resource.state["name"]), **request)["UserPoolClient"]["ClientId"]
        _give_client_the_plan_id(self.aws.account_id, region, str(inputs["userPoolId"]),
                                 moto_id, str(resource.id))
        return str(resource.id)

    def user_group(self, resource: Resource, inputs: dict[str, Any], region: str) -> str:
        name = str(resource.state["name"])
        extra = {api: inputs[key] for key, api in (("description", "Description"),
                                                   ("precedence", "Precedence"),
                                                   ("roleArn", "RoleArn")) if key in inputs}
        self.client("cognito-idp", region).create_group(
            GroupName=name, UserPoolId=inputs["userPoolId"], **extra)
        return name

    # SES

    def ses_configuration_set(self, resource: Resource, inputs: dict[str, Any],
                              region: str) -> str:
        name = str(inputs.get("configurationSetName") or resource.state["name"])
        sesv2 = self.client("sesv2", region)
        settings = {key: value for key, value in inputs.items()
                    if key not in ("configurationSetName", "tags", "region")}
        request = self.api_form(resource, settings, sesv2, "CreateConfigurationSet",
                                where="configuration set")
        sesv2.create_configuration_set(ConfigurationSetName=name, **request)
        return name

    # Step Functions

    def state_machine(self, resource: Resource, inputs: dict[str, Any], region: str) -> str:
        answer = self.client("stepfunctions", region).create_state_machine(
            name=str(resource.state["name"]), definition=str(inputs["definition"]),
            roleArn=str(inputs["roleArn"]), type=str(inputs.get("type") or "STANDARD"))
        return str(answer["stateMachineArn"])

    # Secrets Manager, SSM, KMS

    def secret(self, resource: Resource, inputs: dict[str, Any], region: str) -> str:
        name = str(resource.state["name"])
        extra = {api: inputs[key] for key, api in (("description", "Description"),
                                                   ("kmsKeyId", "KmsKeyId")) if inputs.get(key)}
        arn = self.client("secretsmanager", region).create_secret(Name=name, **extra)["ARN"]
        self.remember(resource, name)
        if inputs.get("policy"):
            self.client("secretsmanager", region).put_resource_policy(
                SecretId=name, ResourcePolicy=inputs["policy"])
        return str(arn)

    def secret_version(self, resource: Resource, inputs: dict[str, Any], region: str) -> str:
        secret = self.local(str(inputs["secretId"]))
        value: dict[str, Any] = {}
        if inputs.get("secretString") is not None:
            value["SecretString"] = inputs["secretString"]
        if inputs.get("secretBinary") is not None:
            value["SecretBinary"] = base64.b64decode(inputs["secretBinary"])
        if inputs.get("versionStages"):
            value["VersionStages"] = inputs["versionStages"]
        answer = self.client("secretsmanager", region).put_secret_value(SecretId=secret, **value)
        return f"{secret}:{answer['VersionId']}"

    def parameter(self, resource: Resource, inputs: dict[str, Any], region: str) -> str:
        name = str(resource.state["name"])
        value = inputs.get("value", inputs.get("insecureValue"))
        extra = {api: inputs[key] for key, api in (
            ("description", "Description"), ("keyId", "KeyId"), ("tier", "Tier"),
            ("allowedPattern", "AllowedPattern"), ("dataType", "DataType")) if inputs.get(key)}
        self.client("ssm", region).put_parameter(Name=name, Value=str(value),
                                                 Type=inputs.get("type", "String"), **extra)
        return name

    def kms_key(self, resource: Resource, inputs: dict[str, Any], region: str) -> str:
        kms = self.client("kms", region)
        request: dict[str, Any] = {}
        for key, api in (("description", "Description"), ("keyUsage", "KeyUsage"),
                         ("policy", "Policy"), ("multiRegion", "MultiRegion")):
            if inputs.get(key) not in (None, ""):
                request[api] = inputs[key]
        if spec := inputs.get("keySpec") or inputs.get("customerMasterKeySpec"):
            request["KeySpec"] = spec
        moto_id = kms.create_key(**request)["KeyMetadata"]["KeyId"]
        key_id = str(resource.state.get("keyId") or resource.id)
        _give_key_the_plan_id(self.aws.account_id, region, moto_id, key_id)
        if inputs.get("enableKeyRotation"):
            kms.enable_key_rotation(KeyId=key_id)
        if inputs.get("isEnabled") is False:
            kms.disable_key(KeyId=key_id)
        return key_id

    def kms_alias(self, resource: Resource, inputs: dict[str, Any], region: str) -> str:
        name = str(inputs.get("name") or resource.state["name"])
        self.client("kms", region).create_alias(AliasName=name,
                                                TargetKeyId=self.local(inputs["targetKeyId"]))
        return name


def verify_sending_identities(aws: EmbeddedAws, identity_arns: Iterable[str]) -> list[str]:
    """Marks verified in SES the identities (``arn:aws:ses:<region>:<account>:identity/<name>``)
    that the plan's roles may send from. Their owner verifies them outside the stack (a domain
    needs DNS records); the embedded AWS takes that as done. Answers the names verified."""
    verified = []
    for arn in sorted(set(identity_arns)):
        region, name = arn.split(":")[3], arn.split(":identity/", 1)[1]
        if not name or "*" in name:
            continue
        ses = aws.client("ses", region)
        if "@" in name:
            ses.verify_email_identity(EmailAddress=name)
        else:
            ses.verify_domain_identity(Domain=name)
        verified.append(name)
    return verified


def _object_request(inputs: Mapping[str, Any], name: str) -> dict[str, Any]:
    """The ``PutObject`` of a planned object: its body, content type and the headers a browser
    or CloudFront reads."""
    request: dict[str, Any] = {"Bucket": str(inputs["bucket"]), "Key": str(inputs["key"]),
                               "Body": _object_body(inputs, name)}
    for key, api in (("contentType", "ContentType"), ("cacheControl", "CacheControl"),
                     ("contentEncoding", "ContentEncoding"),
                     ("contentDisposition", "ContentDisposition"),
                     ("serverSideEncryption", "ServerSideEncryption"),
                     ("kmsKeyId", "SSEKMSKeyId"), ("metadata", "Metadata")):
        if inputs.get(key) not in (None, ""):
            request[api] = inputs[key]
    return request


def write_local_addresses(run: StackRun, aws: EmbeddedAws,
                          to_local: Callable[[str], str]) -> list[str]:
    """Writes again each planned object whose ``content`` names a public origin of the stack,
    with the local origin in its place, as a deploy to this machine would write it (a web
    app's ``config.js``, written from the stack's outputs). Answers ``bucket/key`` of each."""
    written = []
    for resource in run.of_type(BUCKET_OBJECT):
        inputs = reveal(dict(resource.inputs))
        content = inputs.get("content")
        if not isinstance(content, str) or to_local(content) == content:
            continue
        request = {**_object_request(inputs, resource.name), "Body": to_local(content).encode()}
        aws.client("s3", region_of(run, resource, aws.region)).put_object(**request)
        written.append(f"{request['Bucket']}/{request['Key']}")
    return written


def _object_body(inputs: Mapping[str, Any], name: str) -> bytes:
    source = inputs.get("source")
    if isinstance(source, pulumi.FileAsset):
        return Path(source.path).read_bytes()
    if isinstance(source, pulumi.StringAsset):
        return source.text.encode()
    if isinstance(inputs.get("content"), str):
        return str(inputs["content"]).encode()
    if isinstance(inputs.get("contentBase64"), str):
        return base64.b64decode(str(inputs["contentBase64"]))
    if source is None:
        return b""
    raise LocalAwsError(f"{name}: its source is a {type(source).__name__}, which local mode "
                        "does not read")


def _table_request(name: str, inputs: Mapping[str, Any]) -> dict[str, Any]:
    provisioned = inputs.get("billingMode", "PROVISIONED") == "PROVISIONED"

    def throughput(settings: Mapping[str, Any]) -> dict[str, Any]:
        return {"ProvisionedThroughput": {"ReadCapacityUnits": settings.get("readCapacity", 1),
                                          "WriteCapacityUnits": settings.get("writeCapacity", 1)}
                } if provisioned else {}

    def key_schema(hash_key: str | None, range_key: str | None) -> list[dict[str, str]]:
        keys = [(hash_key, "HASH"), (range_key, "RANGE")]
        return [{"AttributeName": k, "KeyType": kind} for k, kind in keys if k]

    def projection(index: Mapping[str, Any]) -> dict[str, Any]:
        projected: dict[str, Any] = {"ProjectionType": index.get("projectionType", "ALL")}
        if index.get("nonKeyAttributes"):
            projected["NonKeyAttributes"] = index["nonKeyAttributes"]
        return projected

    request: dict[str, Any] = {
        "TableName": name,
        "AttributeDefinitions": [{"AttributeName": a["name"], "AttributeType": a["type"]}
                                 for a in inputs.get("attributes") or []],
        "KeySchema": key_schema(inputs.get("hashKey"), inputs.get("rangeKey")),
        "BillingMode": "PROVISIONED" if provisioned else "PAY_PER_REQUEST",
        **throughput(inputs),
    }
    if indexes := inputs.get("globalSecondaryIndexes"):
        request["GlobalSecondaryIndexes"] = [{
            "IndexName": index["name"],
            "KeySchema": [{"AttributeName": k["attributeName"], "KeyType": k["keyType"]}
                          for k in index["keySchemas"]] if index.get("keySchemas")
            else key_schema(index.get("hashKey"), index.get("rangeKey")),
            "Projection": projection(index), **throughput(index)} for index in indexes]
    if indexes := inputs.get("localSecondaryIndexes"):
        request["LocalSecondaryIndexes"] = [{
            "IndexName": index["name"],
            "KeySchema": key_schema(inputs.get("hashKey"), index["rangeKey"]),
            "Projection": projection(index)} for index in indexes]
    if inputs.get("streamEnabled"):
        request["StreamSpecification"] = {"StreamEnabled": True,
                                          "StreamViewType": inputs["streamViewType"]}
    if (encryption := inputs.get("serverSideEncryption")) and encryption.get("enabled"):
        request["SSESpecification"] = {"Enabled": True, "SSEType": "KMS", **(
            {"KMSMasterKeyId": encryption["kmsKeyArn"]} if encryption.get("kmsKeyArn") else {})}
    if "deletionProtectionEnabled" in inputs:
        request["DeletionProtectionEnabled"] = bool(inputs["deletionProtectionEnabled"])
    if inputs.get("tableClass"):
        request["TableClass"] = inputs["tableClass"]
    return request


# moto's APIs draw user pool, client and key ids at random, while the plan's ids are what
# handlers, authorizers and token issuers carry; the objects are re-filed under the plan's ids
# in moto's backends (in this process), right after creation, before anything refers to them.

def _give_user_pool_the_plan_id(account: str, region: str, moto_id: str, plan_id: str) -> None:
    backend = get_backend("cognito-idp")[account][region]
    pool = backend.user_pools.pop(moto_id)
    pool.id = plan_id
    pool.arn = f"arn:aws:cognito-idp:{region}:{account}:userpool/{plan_id}"
    backend.user_pools[plan_id] = pool


def _give_client_the_plan_id(account: str, region: str, pool_id: str, moto_id: str,
                             plan_id: str) -> None:
    pool = get_backend("cognito-idp")[account][region].user_pools[pool_id]
    client = pool.clients.pop(moto_id)
    client.id = plan_id
    pool.clients[plan_id] = client


def _give_stream_the_plan_label(account: str, region: str, table: str, label: str) -> None:
    """moto labels a stream with the time it made it; event source mappings and policies name
    the plan's label (the stream ARN ends with it)."""
    backend = get_backend("dynamodb")[account][region]
    backend.get_table(table).latest_stream_label = label


def _give_key_the_plan_id(account: str, region: str, moto_id: str, plan_id: str) -> None:
    backend = get_backend("kms")[account][region]
    key = backend.keys.pop(moto_id)
    key.id = plan_id
    key.arn = f"arn:aws:kms:{region}:{account}:key/{plan_id}"
    backend.keys[plan_id] = key


_CREATORS: Mapping[str, Callable[[_Creation, Resource, dict[str, Any], str], str]] = {
    "aws:kms/key:Key": _Creation.kms_key,
    "aws:kms/alias:Alias": _Creation.kms_alias,
    "aws:s3/bucket:Bucket": _Creation.bucket,
    "aws:s3/bucketVersioning:BucketVersioning": _Creation.bucket_versioning,
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration":
        _Creation.bucket_encryption,
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock":
        _Creation.bucket_public_access_block,
    "aws:s3/bucketOwnershipControls:BucketOwnershipControls": _Creation.bucket_ownership,
    "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration":
        _Creation.bucket_lifecycle,
    "aws:s3/bucketNotification:BucketNotification": _Creation.bucket_notification,
    "aws:s3/accessPoint:AccessPoint": _Creation.access_point,
    BUCKET_OBJECT: _Creation.bucket_object,
    "aws:dynamodb/table:Table": _Creation.table,
    TABLE_ITEM: _Creation.table_item,
    "aws:sqs/queue:Queue": _Creation.queue,
    "aws:sqs/queuePolicy:QueuePolicy": _Creation.queue_policy,
    "aws:sqs/redrivePolicy:RedrivePolicy": _Creation.queue_redrive,
    "aws:sns/topic:Topic": _Creation.topic,
    "aws:sns/topicPolicy:TopicPolicy": _Creation.topic_policy,
    "aws:sns/topicSubscription:TopicSubscription": _Creation.subscription,
    "aws:cloudwatch/eventBus:EventBus": _Creation.event_bus,
    "aws:cloudwatch/eventRule:EventRule": _Creation.event_rule,
    "aws:cloudwatch/eventTarget:EventTarget": _Creation.event_target,
    "aws:cloudwatch/eventArchive:EventArchive": _Creation.event_archive,
    "aws:cognito/userPool:UserPool": _Creation.user_pool,
    "aws:cognito/userPoolClient:UserPoolClient": _Creation.user_pool_client,
    "aws:cognito/userGroup:UserGroup": _Creation.user_group,
    "aws:sesv2/configurationSet:ConfigurationSet": _Creation.ses_configuration_set,
    "aws:sfn/stateMachine:StateMachine": _Creation.state_machine,
    "aws:secretsmanager/secret:Secret": _Creation.secret,
    "aws:secretsmanager/secretVersion:SecretVersion": _Creation.secret_version,
    "aws:ssm/parameter:Parameter": _Creation.parameter,
}
