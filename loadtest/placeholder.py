"""``{uuid}``: a value that is new for every request of a run.

A request that creates something is often keyed by a client-chosen id (a payment's
``paymentId``, an ``Idempotency-Key`` header): sent again with the same id, an idempotent API
answers it as a replay, and a load of one fixed request would measure replays rather than
creations. Every ``{uuid}`` in a request's path (query string included), header values and body
is therefore replaced, request by request (the warm-up's too), by a fresh random UUID (the same
one throughout one request), before it is signed. A request without ``{uuid}`` is sent as
written.

Pure standard library: the Locust child imports it.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping

UUID = "{uuid}"


def fresh(url: str, headers: Mapping[str, str], body: str) -> tuple[str, dict[str, str], str]:
    """The request with every ``{uuid}`` replaced by one new UUID; as it was without any."""
    if UUID not in url and UUID not in body and not any(UUID in v for v in headers.values()):
        return url, dict(headers), body
    value = str(uuid.uuid4())
    return (url.replace(UUID, value),
            {name: text.replace(UUID, value) for name, text in headers.items()},
            body.replace(UUID, value))
