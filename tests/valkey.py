"""A real Valkey server for the cache tests, on 127.0.0.1 and a free port.

``valkey_server`` (session scope) starts ``valkey-server`` (or Debian bookworm's
``redis-server``, which speaks the same protocol, when Valkey is not packaged) with no
persistence and stops it at the end. Without either binary the tests that use it are skipped,
saying why, unless ``BLUEPRINTS_VALKEY_REQUIRED`` is set (as CI sets it, after installing the
server): then they fail. The server is never a fake.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

BINARIES = ("valkey-server", "redis-server")
REQUIRED = "BLUEPRINTS_VALKEY_REQUIRED"


@dataclass
class ValkeyServer:
    """A running server: where it listens, and how to stop and start it again (the same
    port), to test what the functions do while it is down."""

    binary: str
    port: int
    directory: str
    process: subprocess.Popen[bytes] | None = None
    host: str = "127.0.0.1"

    def start(self) -> None:
        self.process = subprocess.Popen(  # noqa: S603 (a binary found on PATH, fixed arguments)
            [self.binary, "--port", str(self.port), "--bind", self.host, "--save", "",
             "--appendonly", "no", "--dir", self.directory, "--protected-mode", "yes"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.binary} exited with {self.process.returncode}")
            try:
                with socket.create_connection((self.host, self.port), timeout=0.2) as probe:
                    probe.sendall(b"PING\r\n")
                    if probe.recv(16).startswith(b"+PONG"):
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


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def find_binary() -> str | None:
    return next((path for path in map(shutil.which, BINARIES) if path), None)


@pytest.fixture(scope="session")
def valkey_server() -> Iterator[ValkeyServer]:
    binary = find_binary()
    if binary is None:
        if os.environ.get(REQUIRED):
            pytest.fail(f"{REQUIRED} is set but neither {' nor '.join(BINARIES)} is installed "
                        "(apt-get install redis-server, or valkey-server where Debian has it)")
        pytest.skip(f"no Valkey server here: install valkey-server or redis-server (Debian) to "
                    f"run the cache tests; CI sets {REQUIRED} and never skips them")
    with tempfile.TemporaryDirectory(prefix="valkey-") as directory:
        server = ValkeyServer(binary, free_port(), directory)
        server.start()
        try:
            yield server
        finally:
            server.stop()


@pytest.fixture
def cache_server(valkey_server: ValkeyServer) -> Iterator[ValkeyServer]:
    """The session's server, running and empty for each test (restarted if a test stopped
    it)."""
    if not valkey_server.running:
        valkey_server.start()
    import valkey as client

    connection = client.Valkey(host=valkey_server.host, port=valkey_server.port)
    connection.flushall()
    connection.close()
    yield valkey_server
    if not valkey_server.running:
        valkey_server.start()
