"""Where the smoke checks send their requests: a deployed stack (its outputs file) or a stack in
local mode (a running ``LocalStack``), behind one interface.

A check names a URL as the stack's outputs give it; the target says where that URL is served
(the same URL in AWS, the local front in local mode), signs with the credentials it holds, and
knows the API key values. Requests are plain HTTP(S), no redirect followed, every status
answered."""

from __future__ import annotations

import http.client
import json
import os
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from botocore.auth import SigV4Auth  # type: ignore[import-untyped]
from botocore.awsrequest import AWSRequest  # type: ignore[import-untyped]
from botocore.credentials import Credentials  # type: ignore[import-untyped]
from botocore.exceptions import BotoCoreError, ClientError  # type: ignore[import-untyped]
from botocore.session import Session  # type: ignore[import-untyped]

from loadtest.target import secret_api_keys

if TYPE_CHECKING:
    from tools.local.stack import LocalStack

_REGION = re.compile(r"\.execute-api\.([a-z0-9-]+)\.amazonaws\.com")
PRIVATE_ENDPOINT = "privateApi-execute-api"
# A role in the target account to sign as (the pipeline's smoke action runs in another account).
ROLE_VARIABLE = "BLUEPRINTS_SMOKE_ROLE_ARN"
OUTSIDE_VARIABLE = "BLUEPRINTS_SMOKE_OUTSIDE_VPC"
ROLE_SESSION = "blueprints-smoke"
THROTTLED_TRIES = 4


class SmokeError(AssertionError):
    """A check's request got an answer the service would not give when it works."""


@dataclass(frozen=True)
class Answer:
    """An HTTP answer (the end-to-end tests' too)."""

    status: int
    headers: Mapping[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers.items() if k.lower() == name.lower()), None)


@dataclass
class Target:
    """A stack to smoke-test: its outputs (``pulumi stack output --json``), where its URLs are
    served, the credentials SigV4 signs with and the API key values by key name."""

    where: str
    outputs: Mapping[str, Any]
    api_keys: Mapping[str, str] = field(default_factory=dict)
    credentials: Credentials | None = None
    # The local origin for every public one (local mode); None: the URLs as they are.
    local: LocalStack | None = None
    # Whether requests leave from inside the stack's VPC, where its private APIs answer.
    inside_vpc: bool = True

    def service(self, name: str) -> Mapping[str, Any] | None:
        found = self.outputs.get(name)
        return found if isinstance(found, Mapping) else None

    def url(self, public: str) -> str:
        return self.local.addresses.to_local(public) if self.local is not None else public

    def private_api(self, invoke_url: str) -> tuple[str, dict[str, str]]:
        """Where a private REST API's invoke URL is reached from inside its VPC: in AWS the URL
        itself (its private DNS name resolves to the execute-api endpoint); in local mode the
        endpoint's front, with the API named in ``x-apigw-api-id`` as a client without private
        DNS names it."""
        if self.local is None:
            return invoke_url, {}
        assert self.local.started is not None
        parts = urlsplit(invoke_url)
        api_id = (parts.hostname or "").split(".", 1)[0]
        return (f"{self.local.started.url(PRIVATE_ENDPOINT)}{parts.path}",
                {"x-apigw-api-id": api_id})

    def call(self, method: str, public_url: str, *, headers: Mapping[str, str] | None = None,
             signed: bool = False, region: str | None = None, local_url: str | None = None
             ) -> Answer:
        """One request to ``public_url`` (served where this target serves it, or at
        ``local_url``), signed for execute-api when ``signed``."""
        url = local_url or self.url(public_url)
        for attempt in range(THROTTLED_TRIES):
            sent = dict(headers or {})
            if signed:
                if self.credentials is None:
                    raise SmokeError(f"{self.where}: no AWS credentials to sign {public_url}")
                found = _REGION.search(public_url)
                request = AWSRequest(method=method, url=url, data=b"", headers=sent)
                SigV4Auth(self.credentials, "execute-api",
                          region or (found.group(1) if found else "us-east-1")
                          ).add_auth(request)
                sent = dict(request.headers.items())
            answer = send(method, url, sent)
            # A throttled request (a usage plan's burst spent by other callers) says nothing
            # of the service: it is sent again, as a client with backoff would.
            if answer.status != 429 or attempt == THROTTLED_TRIES - 1:
                return answer
            time.sleep(attempt + 1)
        raise AssertionError("unreachable")


def send(method: str, url: str, headers: Mapping[str, str], timeout: float = 60) -> Answer:
    parts = urlsplit(url)
    kind = (http.client.HTTPSConnection if parts.scheme == "https"
            else http.client.HTTPConnection)
    connection = kind(parts.hostname or "", parts.port, timeout=timeout)
    try:
        connection.request(method, (parts.path or "/") + (f"?{parts.query}" if parts.query
                                                           else ""), headers=dict(headers))
        response = connection.getresponse()
        return Answer(response.status, dict(response.getheaders()), response.read())
    finally:
        connection.close()


def assumed_credentials(session: Session, role_arn: str) -> Credentials:
    """The credentials of ``role_arn``, assumed with the session's own: the stack is in another
    account than the one the tests run in."""
    try:
        sts = session.create_client(
            "sts", region_name=session.get_config_variable("region") or "us-east-1")
        found = sts.assume_role(RoleArn=role_arn, RoleSessionName=ROLE_SESSION)["Credentials"]
    except (BotoCoreError, ClientError) as error:
        raise SmokeError(f"cannot assume {role_arn} ({ROLE_VARIABLE}): {error}") from error
    return Credentials(found["AccessKeyId"], found["SecretAccessKey"], found["SessionToken"])


def deployed_target(outputs_file: Path) -> Target:
    """A deployed stack from ``pulumi stack output --json [--show-secrets]``; SigV4 signs as the
    role ``BLUEPRINTS_SMOKE_ROLE_ARN`` names when it is set, else with whatever credentials
    botocore finds (environment, profile, role). ``BLUEPRINTS_SMOKE_OUTSIDE_VPC=1`` says the
    requests leave from outside the stack's VPC (the delivery pipeline's builds)."""
    outputs = json.loads(outputs_file.read_text(encoding="utf-8"))
    if not isinstance(outputs, Mapping):
        raise ValueError(f"{outputs_file}: not the JSON object `pulumi stack output --json` "
                         "writes")
    session = Session()
    role_arn = os.environ.get(ROLE_VARIABLE)
    if role_arn:
        credentials = assumed_credentials(session, role_arn)
    else:
        found = session.get_credentials()
        credentials = found.get_frozen_credentials() if found is not None else None
    return Target(f"deployed ({outputs_file})", outputs, secret_api_keys(outputs), credentials,
                  inside_vpc=os.environ.get(OUTSIDE_VARIABLE) != "1")


def local_target(stack: LocalStack) -> Target:
    """A stack running in local mode: its plan's outputs, served by its fronts, signed as the
    embedded AWS's administrator, with the API keys' local values."""
    assert stack.run is not None
    assert stack.started is not None
    assert stack.aws is not None
    signer = stack.aws.credentials
    return Target(f"local mode ({stack.stack})", dict(stack.run.outputs),
                  dict(stack.started.api_keys),
                  Credentials(signer.access_key_id, signer.secret_access_key,
                              signer.session_token), stack)
