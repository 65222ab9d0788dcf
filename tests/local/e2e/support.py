"""What the end-to-end tests share: a client that speaks HTTP to local mode's fronts as any client
would (no redirects followed, every status answered), signed with SigV4 when asked."""

from __future__ import annotations

import http.client
import json
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from botocore.auth import SigV4Auth  # type: ignore[import-untyped]
from botocore.awsrequest import AWSRequest  # type: ignore[import-untyped]
from botocore.credentials import Credentials as BotoCredentials  # type: ignore[import-untyped]

from tests.smoke.target import Answer
from tools.local.aws import Credentials
from tools.local.stack import LocalStack


def call(method: str, url: str, *, headers: Mapping[str, str] | None = None,
         body: bytes | str | Mapping[str, Any] | None = None,
         signed_by: Credentials | None = None, region: str = "eu-west-1") -> Answer:
    """One HTTP request; ``signed_by`` signs it for execute-api with those credentials."""
    if isinstance(body, Mapping):
        body = json.dumps(body)
    data = body.encode() if isinstance(body, str) else (body or b"")
    sent = dict(headers or {})
    if isinstance(body, str) and "Content-Type" not in sent:
        sent["Content-Type"] = "application/json"
    if signed_by is not None:
        request = AWSRequest(method=method, url=url, data=data, headers=sent)
        SigV4Auth(BotoCredentials(signed_by.access_key_id, signed_by.secret_access_key,
                                  signed_by.session_token), "execute-api", region
                  ).add_auth(request)
        sent = dict(request.headers.items())
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port,
                                            timeout=120)
    try:
        connection.request(method, parts.path + (f"?{parts.query}" if parts.query else ""),
                           body=data or None, headers=sent)
        response = connection.getresponse()
        return Answer(response.status, dict(response.getheaders()), response.read())
    finally:
        connection.close()


def service_outputs(stack: LocalStack, service: str) -> dict[str, Any]:
    """What ``service`` exports in the running stack's plan (``pulumi stack output``)."""
    assert stack.run is not None
    found: dict[str, Any] = stack.run.outputs[service]
    return found


def eventually(check: Callable[[], Any], *, timeout: float, every: float = 0.5) -> Any:
    """``check()``'s first truthy answer within ``timeout`` seconds, else its last answer."""
    deadline = time.monotonic() + timeout
    while True:
        answer = check()
        if answer or time.monotonic() > deadline:
            return answer
        time.sleep(every)


class Lines:
    """Local mode's output, kept for the tests to read (thread-safe)."""

    def __init__(self) -> None:
        self._lines: list[str] = []
        self._lock = threading.Lock()

    def __call__(self, line: str) -> None:
        with self._lock:
            self._lines.append(line)

    def matching(self, *parts: str) -> list[str]:
        with self._lock:
            return [line for line in self._lines if all(part in line for part in parts)]

    def awaited(self, *parts: str, timeout: float = 30) -> list[str]:
        """The lines with ``parts``, waiting up to ``timeout`` s for one: a process's output
        may trail what it did (a task's exit line, after its result was recorded)."""
        deadline = time.monotonic() + timeout
        while not (found := self.matching(*parts)) and time.monotonic() < deadline:
            time.sleep(0.1)
        return found


README = Path(__file__).resolve().parents[3] / "README.md"


def walk_through(service: str) -> str:
    """The shell lines of the README's walk-through of ``service``: the setup block that opens
    the walk-throughs, then every bash block of the service's paragraph."""
    text = README.read_text(encoding="utf-8")
    section = text[text.index("### Walk-throughs"):text.index("### What differs from AWS")]
    blocks = section.split("```bash\n")
    setup = blocks[1].split("```")[0]
    ours = section[section.index(f"**{service}.**"):].split("\n**")[0]
    return setup + "".join(block.split("```")[0] for block in ours.split("```bash\n")[1:])


def run_walk_through(stack: LocalStack, service: str, folder: Path
                     ) -> subprocess.CompletedProcess[str]:
    """Runs the walk-through under ``set -euo pipefail`` from ``folder``, made to hold what the
    README assumes: ``.local-mode`` of the running stack and ``venv``."""
    (folder / ".local-mode").symlink_to(stack.run_folder)
    (folder / "venv").symlink_to(Path(sys.prefix))
    return subprocess.run(["bash", "-euo", "pipefail", "-c", walk_through(service)],  # noqa: S603,S607
                          cwd=folder, capture_output=True, text=True, timeout=300, check=False)
