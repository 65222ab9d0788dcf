"""A real Valkey server for the cache tests, on 127.0.0.1 and a free port.

``valkey_server`` (session scope) starts ``valkey-server`` (or Debian bookworm's
``redis-server``, which speaks the same protocol, when Valkey is not packaged) with no
persistence, with local mode's launcher (``tools.local.caches.ValkeyServer``), and stops it at
the end. Without either binary the tests that use it are skipped, saying why, unless
``BLUEPRINTS_VALKEY_REQUIRED`` is set (as CI sets it, after installing the server): then they
fail. The server is never a fake.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator

import pytest

from tools.local.caches import BINARIES, ValkeyServer, find_binary, free_port

REQUIRED = "BLUEPRINTS_VALKEY_REQUIRED"
__all__ = ["ValkeyServer", "cache_server", "find_binary", "free_port", "valkey_server"]


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
