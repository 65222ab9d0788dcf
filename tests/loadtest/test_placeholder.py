"""``{uuid}``: a new value in every request, so that a load of creations is not a load of
replays; checked on the function, then through a real run of the Locust child against a small
server that records what it receives."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest

from loadtest.drive import LoadSpec, run_load
from loadtest.placeholder import fresh


def test_every_placeholder_of_a_request_gets_the_same_new_uuid() -> None:
    url, headers, body = fresh("http://h/items/{uuid}?again={uuid}",
                               {"Idempotency-Key": "{uuid}", "Accept": "*/*"},
                               '{"id": "{uuid}"}')

    value = url.rsplit("=", 1)[1]
    assert uuid.UUID(value).version == 4
    assert url == f"http://h/items/{value}?again={value}"
    assert headers == {"Idempotency-Key": value, "Accept": "*/*"}
    assert json.loads(body) == {"id": value}


def test_each_request_gets_another_and_one_without_placeholders_is_sent_as_written() -> None:
    bodies = {fresh("http://h/", {}, '{"id": "{uuid}"}')[2] for _ in range(100)}
    headers = {"Content-Type": "application/json"}

    assert len(bodies) == 100
    assert fresh("http://h/a?b=c", headers, '{"id": 1}') == ("http://h/a?b=c", headers,
                                                              '{"id": 1}')


class Recorder(BaseHTTPRequestHandler):
    seen: ClassVar[list[tuple[str, str, str]]] = []
    lock = threading.Lock()

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
        with self.lock:
            self.seen.append((self.path, self.headers.get("Idempotency-Key", ""), body))
        self.send_response(201)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        return


@pytest.fixture
def recorder() -> Iterator[ThreadingHTTPServer]:
    Recorder.seen = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def test_a_run_sends_a_new_uuid_in_every_request_the_warm_up_included(
        recorder: ThreadingHTTPServer) -> None:
    port = recorder.server_address[1]
    run = run_load(LoadSpec(url=f"http://127.0.0.1:{port}/payments/{{uuid}}", method="POST",
                            schedule=[0.0, 0.0, 0.0, 0.05, 0.1], users=4,
                            headers={"Idempotency-Key": "{uuid}",
                                     "Content-Type": "application/json"},
                            body='{"paymentId": "{uuid}", "amount": 1}', warmup=1))

    assert run.complete
    assert run.warmup == [201]
    assert [sample.status for sample in run.samples] == [201] * 5
    assert len(Recorder.seen) == 6
    values = set()
    for path, key, body in Recorder.seen:
        value = path.rsplit("/", 1)[1]
        assert key == value == json.loads(body)["paymentId"]
        values.add(value)
    assert len(values) == 6
