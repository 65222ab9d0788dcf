"""ElastiCache Serverless caches of the plan, each served by a real Valkey server on this machine.

``LocalCaches(run).start()`` starts one ``valkey-server`` (or Debian bookworm's
``redis-server``, which speaks the same protocol) per ``aws:elasticache/serverlessCache``, on
127.0.0.1 and a free port, with no persistence, and gives it the plan's users: each user of the
cache's user group becomes an ACL user of the same name with the plan's access string (so a
disabled ``default`` user refuses anonymous connections, and a function's user may touch only
its keys and commands, as in ElastiCache). ``environment_of(spec)`` is what a function that names
the cache in ``CACHE_HOST`` (the ``cache_aside`` library's settings) gets instead: the local
host and port, without TLS. A local administrator (``ADMIN_USER``, a random password) may do
anything, for tests and for a user's ``valkey-cli``.

What differs from ElastiCache: no TLS (a serverless cache accepts TLS only); an IAM user
accepts any token (the functions still sign one; ``elasticache:Connect`` is not checked);
no storage or ECPU limits, no snapshots, no reader endpoint. Without either binary the caches
are not served: the functions' reads then fall through to their tables, as they would during an
outage, and the start-up listing says so.
"""

from __future__ import annotations

import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import valkey

from tools.local.functions import FunctionSpec
from tools.mock_runtime import Resource, StackRun, reveal

SERVERLESS_CACHE = "aws:elasticache/serverlessCache:ServerlessCache"
USER = "aws:elasticache/user:User"
USER_GROUP = "aws:elasticache/userGroup:UserGroup"
BINARIES = ("valkey-server", "redis-server")
HOST = "127.0.0.1"
ADMIN_USER = "blueprints-local-admin"
# The cache_aside library's settings (functions/cache_aside/settings.py).
HOST_VARIABLE, PORT_VARIABLE, TLS_VARIABLE = "CACHE_HOST", "CACHE_PORT", "CACHE_TLS"
READY_SECONDS = 10.0


def find_binary() -> str | None:
    """The Valkey-protocol server on PATH, if any."""
    return next((path for path in map(shutil.which, BINARIES) if path), None)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


@dataclass
class ValkeyServer:
    """One server process on ``port``, stopped and started again on the same port (to show
    what the functions do while their cache is down)."""

    binary: str
    port: int
    directory: str
    host: str = HOST
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(  # noqa: S603 (a binary found on PATH, fixed arguments)
            [self.binary, "--port", str(self.port), "--bind", self.host, "--save", "",
             "--appendonly", "no", "--dir", self.directory, "--protected-mode", "yes"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + READY_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.binary} exited with {self.process.returncode}")
            try:
                with socket.create_connection((self.host, self.port), timeout=0.2) as probe:
                    probe.sendall(b"PING\r\n")
                    if probe.recv(64).startswith((b"+PONG", b"-NOAUTH")):
                        return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"{self.binary} did not answer on port {self.port}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    @property
    def url(self) -> str:
        return f"redis://{self.host}:{self.port}"


@dataclass(frozen=True)
class CacheUser:
    """A user of the plan's user group, as an ACL rule: name, access string, passwords."""

    name: str
    access_string: str
    passwords: tuple[str, ...] = ()

    def acl_rules(self) -> list[str]:
        # IAM and no-password users accept any password here (tokens are not checked).
        secrets_ = [f">{password}" for password in self.passwords] or ["nopass"]
        return ["reset", *self.access_string.split(), *secrets_]


@dataclass
class LocalCache:
    """A serverless cache of the plan and the server that stands in for it."""

    resource: str
    address: str
    users: tuple[CacheUser, ...]
    server: ValkeyServer | None = None
    admin_password: str = field(default_factory=lambda: secrets.token_urlsafe(24))

    def admin(self) -> valkey.Valkey:
        """A connection as the local administrator (the server must be running)."""
        assert self.server is not None
        return valkey.Valkey(host=self.server.host, port=self.server.port,
                             username=ADMIN_USER, password=self.admin_password)

    def start(self) -> None:
        """Starts (or restarts) the server and gives it the plan's users."""
        assert self.server is not None
        self.server.start()
        with valkey.Valkey(host=self.server.host, port=self.server.port) as connection:
            connection.execute_command("ACL", "SETUSER", ADMIN_USER, "reset", "on",
                                       f">{self.admin_password}", "~*", "&*", "+@all")
            # The default user last: once it is off, this connection's next command is refused.
            for user in sorted(self.users, key=lambda user: user.name == "default"):
                connection.execute_command("ACL", "SETUSER", user.name, *user.acl_rules())

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()


def _users(run: StackRun, cache: Resource) -> tuple[CacheUser, ...]:
    group_id = cache.inputs.get("userGroupId")
    groups = [group for group in run.of_type(USER_GROUP)
              if group.inputs.get("userGroupId") == group_id]
    members = set(groups[0].inputs.get("userIds") or ()) if groups else set()
    users = []
    for user in run.of_type(USER):
        inputs = reveal(user.inputs)
        if inputs.get("userId") not in members:
            continue
        mode = inputs.get("authenticationMode") or {}
        passwords = tuple(mode.get("passwords") or inputs.get("passwords") or ())
        users.append(CacheUser(str(inputs["userName"]), str(inputs["accessString"]),
                               () if mode.get("type") == "iam" else passwords))
    return tuple(users)


class LocalCaches:
    """Every serverless cache of the plan, each on a local server."""

    def __init__(self, run: StackRun, *, output: Callable[[str], None] = print) -> None:
        self.output = output
        self.caches = [LocalCache(cache.name, _address(cache), _users(run, cache))
                       for cache in run.of_type(SERVERLESS_CACHE)]
        self.notes: list[str] = []
        self._directory: tempfile.TemporaryDirectory[str] | None = None

    def start(self) -> LocalCaches:
        if not self.caches:
            return self
        binary = find_binary()
        if binary is None:
            self.notes.append(
                f"caches: neither {' nor '.join(BINARIES)} is installed, so "
                f"{', '.join(cache.resource for cache in self.caches)} is not served and reads "
                "fall through to the tables (apt-get install redis-server or valkey-server)")
            return self
        self._directory = tempfile.TemporaryDirectory(prefix="blueprints-caches-")
        for cache in self.caches:
            folder = Path(self._directory.name) / cache.resource
            folder.mkdir()
            cache.server = ValkeyServer(binary, free_port(), str(folder))
            cache.start()
        self.notes.append("caches: a local Valkey server for each serverless cache, without TLS; "
                          "IAM users accept any token, their access strings are enforced")
        return self

    def stop(self) -> None:
        for cache in self.caches:
            cache.stop()
        if self._directory is not None:
            self._directory.cleanup()
            self._directory = None

    def cache(self, resource: str) -> LocalCache:
        for cache in self.caches:
            if cache.resource == resource:
                return cache
        raise LookupError(f"no serverless cache {resource!r}; there are "
                          f"{', '.join(c.resource for c in self.caches) or 'none'}")

    def environment_of(self, spec: FunctionSpec) -> dict[str, str]:
        """The variables a function that names a cache of the plan gets in local mode."""
        for cache in self.caches:
            if spec.environment.get(HOST_VARIABLE) != cache.address:
                continue
            # An unserved cache: a port nothing listens on, so reads fall through at once.
            port = cache.server.port if cache.server is not None else free_port()
            return {HOST_VARIABLE: HOST, PORT_VARIABLE: str(port), TLS_VARIABLE: "false"}
        return {}

    def listing(self) -> list[str]:
        return [f"  cache          {cache.resource}  {cache.server.url}" for cache in self.caches
                if cache.server is not None]

    def to_json(self) -> dict[str, Any]:
        return {cache.resource: {"url": cache.server.url, "adminUser": ADMIN_USER,
                                 "adminPassword": cache.admin_password}
                for cache in self.caches if cache.server is not None}


def _address(cache: Resource) -> str:
    endpoints: Any = cache.state.get("endpoints") or [{}]
    return str(endpoints[0].get("address", ""))

