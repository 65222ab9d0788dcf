"""The Locust side of a run, in a process of its own: ``python -m loadtest.runner``.

Locust runs on gevent and monkey-patches the standard library (sockets, threads, ``time.sleep``)
as soon as it is imported. The rest of the kit reads the plan with the Pulumi SDK (grpc and
asyncio), and local mode's servers run on real threads: neither may share a process with the
patch. ``loadtest.drive`` therefore starts this module as a child, hands it the run on standard
input (a JSON document: the request, with its key or token, and the schedule) and reads the
samples back from the file the document names. Nothing else imports this module.

Locust is used as a library: an ``Environment`` with one ``FastHttpUser`` class and a local
runner. The users form a pool: all of them are spawned and connected first, then each takes
the next request of the schedule, waits for its time, sends it and takes the next, so the
arrival rate is the schedule's (an open model) as long as the pool has a free user; ``send
lag`` in the report says how late requests went out when it had none. Every answer is recorded
through Locust's ``request`` event.
"""

from __future__ import annotations

# Importing locust patches the standard library. Nothing imported before it opens a socket or
# starts a thread, and what follows it (botocore, for SigV4) is imported once it has.
import json
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import gevent  # type: ignore[import-untyped]
import locust
from gevent.event import Event  # type: ignore[import-untyped]
from gevent.lock import BoundedSemaphore  # type: ignore[import-untyped]
from locust import FastHttpUser, constant, task
from locust.env import Environment

from loadtest.placeholder import fresh
from loadtest.stats import reason_of_429

Signer = Callable[[str, str, Mapping[str, str], str], dict[str, str]]


def sigv4_signer(region: str) -> Signer:
    """Signs each request for ``execute-api`` in ``region`` with the default credential chain
    (environment, shared files, SSO, container or instance roles), as the AWS CLI would."""
    from botocore.auth import SigV4Auth  # type: ignore[import-untyped]
    from botocore.awsrequest import AWSRequest  # type: ignore[import-untyped]
    from botocore.session import Session  # type: ignore[import-untyped]

    credentials = Session().get_credentials()
    if credentials is None:
        raise SystemExit("--sigv4: no AWS credentials found in the default chain "
                         "(AWS_PROFILE, AWS_ACCESS_KEY_ID, ~/.aws, a role)")

    def sign(method: str, url: str, headers: Mapping[str, str], body: str) -> dict[str, str]:
        request = AWSRequest(method=method, url=url, data=body.encode(), headers=dict(headers))
        SigV4Auth(credentials.get_frozen_credentials(), "execute-api", region).add_auth(request)
        return dict(request.headers.items())

    return sign


# Connections opened at once before the run; below the listen backlog of a small server
# (Python's socketserver, which local mode serves with, listens with a backlog of 5).
CONNECTING_AT_ONCE = 2


def connect(user: FastHttpUser, connecting: BoundedSemaphore) -> None:
    """Opens the user's connection before the run starts, a few at a time, so that a burst is N
    requests on open connections rather than N handshakes at once: a server whose listen
    backlog overflows drops them, and they stall for seconds of SYN retries. This reaches into
    geventhttpclient's pool; if that ever changes, the user connects on its first request."""
    from geventhttpclient.url import URL

    with connecting:
        try:
            pool = user.client.client.clientpool.get_client(URL(str(user.host)))._connection_pool
            pool.return_socket(pool.get_socket())
        except (AttributeError, OSError, TimeoutError):
            return


def _warm_up(environment: Environment, url: str, method: str, headers: Mapping[str, str],
             body: str, sign: Signer | None, count: int, timeout: float) -> list[int]:
    """``count`` requests, one after the other, before the run (left out of its figures): they
    fill the authorizer's cache and the back end's first execution environment, as a live API
    has them. Their statuses are returned."""
    from locust.contrib.fasthttp import FastHttpSession

    session = FastHttpSession(url, environment.events.request, user=None, insecure=False,
                              connection_timeout=timeout, network_timeout=timeout)
    statuses = []
    for _ in range(count):
        target, sent, data = fresh(url, headers, body)
        if sign is not None:
            sent = sign(method, target, sent, data)
        response = session.request(method, target, data=data or None, headers=sent,
                                   name="warm-up", context={})
        statuses.append(int(response.status_code or 0))
    environment.stats.reset_all()
    return statuses


def run(spec: Mapping[str, Any]) -> dict[str, Any]:
    schedule: list[float] = [float(offset) for offset in spec["schedule"]]
    method = str(spec["method"])
    url = str(spec["url"])
    headers: dict[str, str] = dict(spec.get("headers") or {})
    body = str(spec["body"]) if spec.get("body") is not None else ""
    sign = sigv4_signer(str(spec["sigv4_region"])) if spec.get("sigv4_region") else None
    users = int(spec["users"])
    timeout = float(spec["timeout_s"])
    slots: Iterator[int] = iter(range(len(schedule)))
    go, done, ready = Event(), Event(), Event()
    connecting = BoundedSemaphore(CONNECTING_AT_ONCE)
    start = {"at": 0.0, "connected": 0}
    samples: list[list[Any]] = []

    class Caller(FastHttpUser):
        host = url
        wait_time = constant(0)
        connection_timeout = timeout
        network_timeout = timeout
        concurrency = 1
        max_retries = 0
        insecure = False  # Locust's default skips TLS verification

        def on_start(self) -> None:
            connect(self, connecting)
            start["connected"] += 1
            if start["connected"] == users:
                ready.set()
            go.wait()

        @task
        def send(self) -> None:
            slot = next(slots, None)
            if slot is None:  # the schedule is all taken: idle until the runner stops
                done.wait()
                return
            delay = start["at"] + schedule[slot] - time.time()
            if delay > 0:
                gevent.sleep(delay)
            target, sent, data = fresh(url, headers, body)  # each {uuid} a new UUID
            if sign is not None:
                sent = sign(method, target, sent, data)
            self.client.request(method, target, data=data or None, headers=sent,
                                name=spec.get("name") or method, context={"slot": slot})

    environment = Environment(user_classes=[Caller], events=locust.events)

    def record(response_time: float, response: Any, context: Mapping[str, Any],
               exception: BaseException | None, start_time: float | None = None,
               **_: Any) -> None:
        if "slot" not in context:  # a warm-up request
            return
        slot = int(context["slot"])
        status = int(getattr(response, "status_code", 0) or 0)
        reason = ""
        if status == 429:
            reason = reason_of_429(bytes(getattr(response, "content", b"") or b""))
        elif status == 0:
            reason = type(exception).__name__ if exception is not None else "no answer"
        sent_at = (start_time if start_time is not None else time.time()) - start["at"]
        samples.append([slot, schedule[slot], round(sent_at, 6), round(response_time, 3),
                        status, reason])
        if len(samples) == len(schedule):
            done.set()

    environment.events.request.add_listener(record)
    warmup = _warm_up(environment, url, method, headers, body, sign,
                      int(spec.get("warmup") or 0), timeout)
    runner = environment.create_local_runner()
    runner.start(users, spawn_rate=max(users, 100))  # all within a second
    connected = ready.wait(timeout=timeout + 30)
    start["at"] = time.time() + 0.05
    go.set()
    finished = done.wait(timeout=(schedule[-1] if schedule else 0) + timeout + 30)
    runner.quit()
    total = environment.stats.total
    return {
        "started_at": start["at"], "users": users, "complete": bool(finished),
        "connected_first": bool(connected), "warmup": warmup,
        "samples": samples,
        # Locust's own view, from its histogram (response times rounded to 2 significant
        # digits above 100 ms): a cross-check of the kit's statistics.
        "locust": {"version": locust.__version__, "requests": total.num_requests,
                   "failures": total.num_failures,
                   **{f"p{p}_ms": total.get_response_time_percentile(p / 100)
                      for p in (50, 95, 99)}},
    }


def main() -> None:
    spec = json.loads(sys.stdin.read())
    result = run(spec)
    Path(spec["results"]).write_text(json.dumps(result), encoding="utf-8")


if __name__ == "__main__":
    main()
