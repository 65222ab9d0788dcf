"""The response side of CORS for API Gateway REST proxy integrations.

A REST API answers the browser's preflight (``OPTIONS``) itself, with a MOCK integration; the
actual response must carry ``access-control-allow-origin`` from the Lambda function, and when
several origins may call the API the function has to pick the value from the request's
``Origin`` header. This module does that from an allow-list:

- ``cors_config()`` builds a Powertools ``CORSConfig`` for ``APIGatewayRestResolver``. Powertools
  answers an allowed ``Origin`` with that origin (the first allowed origin is ``allow_origin``,
  the rest ``extra_origins``), and adds no CORS headers for any other origin or for a request
  without one. With no allowed origins it returns ``None``: the resolver then adds no CORS
  headers at all. (Powertools' own default is ``*``, which is never used here by accident.)
- ``allowed_origin()`` is the same decision as a plain function, for handlers that do not use
  the resolver: the value for ``access-control-allow-origin``, or ``None`` for no header.
- ``vary_on_origin()`` adds ``Vary: Origin`` to a finished proxy response, so a cache between
  the API and the browser never serves one origin's answer to another.

``*`` is used only with an explicit opt-in (``allow_any``, or ``ALLOW_ANY_ORIGIN=true``): a
listed origin is still echoed, any other gets ``*``. It cannot be combined with credentials,
and a ``*`` written into the allow-list itself is refused (``cors_config``) or ignored
(``allowed_origin``), so a stray ``*`` never widens the list.

Settings, read by ``cors_config()`` from the environment when not passed in:

- ``ALLOWED_ORIGINS``: comma-separated origins such as ``https://app.example.com``. Default
  none (no CORS headers).
- ``ALLOW_ANY_ORIGIN``: ``true`` to answer origins not in the list with ``*``. Default false.
- ``CORS_ALLOW_HEADERS``: comma-separated request headers, added to the ones Powertools always
  names (Authorization, Content-Type, X-Amz-Date, X-Api-Key, X-Amz-Security-Token). Default none.
- ``CORS_EXPOSE_HEADERS``: comma-separated response headers the browser may read. Default none.
- ``CORS_MAX_AGE``: seconds a browser may cache a preflight, 0..86400. Default unset.
- ``CORS_ALLOW_CREDENTIALS``: ``true`` to send ``access-control-allow-credentials: true`` to
  listed origins. Default false.

An origin is a scheme, a host and an optional port, with no path: ``http`` or ``https`` (the
CORS post's ``http://localhost:3000`` is a development origin). Origins are compared exactly,
after the allow-list is normalised to lower case without a trailing slash, which is how
browsers write the ``Origin`` header. Invalid settings raise ``ValueError`` when the
configuration is built, so a misconfigured function fails at its first start, not per request.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from typing import Any

from aws_lambda_powertools.event_handler import CORSConfig

from blueprints_common.environment import flag

ANY_ORIGIN = "*"
ORIGIN = re.compile(r"https?://[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*"
                    r"(:[0-9]{1,5})?")
HEADER_NAME = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
MAX_AGE_LIMIT = 86400  # browsers cap it lower still (Chromium: 2 hours)


def normalise_origin(origin: str) -> str:
    """An allow-list entry as browsers write origins: trimmed, lower case, no trailing slash."""
    return origin.strip().rstrip("/").lower()


def allowed_origin(request_origin: str | None, allowed: Iterable[str],
                   allow_any: bool = False) -> str | None:
    """The ``access-control-allow-origin`` value for a request, or ``None`` for no header.

    ``request_origin`` is the request's ``Origin`` header (``None`` when absent). A listed
    origin is echoed; with ``allow_any`` any other origin gets ``*``. A ``*`` entry in
    ``allowed`` counts for nothing: only ``allow_any`` opens the API to every origin.
    """
    if not isinstance(request_origin, str) or not request_origin:
        return None
    listed = {normalise_origin(origin) for origin in allowed}
    listed.discard(ANY_ORIGIN)
    if request_origin in listed:
        return request_origin
    return ANY_ORIGIN if allow_any else None


def cors_config(allowed_origins: Iterable[str] | None = None, *,
                allow_any: bool | None = None,
                allow_headers: Iterable[str] | None = None,
                expose_headers: Iterable[str] | None = None,
                max_age: int | None = None,
                allow_credentials: bool | None = None,
                environ: Mapping[str, str] | None = None) -> CORSConfig | None:
    """A Powertools ``CORSConfig`` from the arguments, or the environment for those not given.

    ``None`` when no origin is allowed. ``ValueError`` names every problem with the settings.
    """
    env = os.environ if environ is None else environ
    problems: list[str] = []
    origins = [normalise_origin(origin) for origin in
               (_split(env.get("ALLOWED_ORIGINS", "")) if allowed_origins is None
                else allowed_origins)]
    origins = [origin for origin in dict.fromkeys(origins) if origin]
    if allow_any is None:
        allow_any = flag(env, "ALLOW_ANY_ORIGIN", problems)
    if allow_credentials is None:
        allow_credentials = flag(env, "CORS_ALLOW_CREDENTIALS", problems)
    headers = list(_split(env.get("CORS_ALLOW_HEADERS", "")) if allow_headers is None
                   else allow_headers)
    exposed = list(_split(env.get("CORS_EXPOSE_HEADERS", "")) if expose_headers is None
                   else expose_headers)
    if max_age is None:
        max_age = _seconds(env.get("CORS_MAX_AGE", ""), problems)

    for origin in origins:
        if origin == ANY_ORIGIN:
            problems.append("ALLOWED_ORIGINS: '*' is not an origin; set ALLOW_ANY_ORIGIN=true "
                            "to answer any origin")
        elif not ORIGIN.fullmatch(origin):
            problems.append(f"ALLOWED_ORIGINS: {origin!r} is not an origin such as "
                            "https://app.example.com (scheme and host, no path)")
    for name, values in (("CORS_ALLOW_HEADERS", headers), ("CORS_EXPOSE_HEADERS", exposed)):
        problems += [f"{name}: {value!r} is not a header name" for value in values
                     if value == "*" or not HEADER_NAME.fullmatch(value)]
    if max_age is not None and not 0 <= max_age <= MAX_AGE_LIMIT:
        problems.append(f"CORS_MAX_AGE: {max_age} is outside 0..{MAX_AGE_LIMIT} seconds")
    if allow_any and allow_credentials:
        problems.append("ALLOW_ANY_ORIGIN cannot be combined with CORS_ALLOW_CREDENTIALS; "
                        "name the origins")
    if problems:
        raise ValueError("invalid CORS settings: " + "; ".join(problems))

    if allow_any:
        origins.append(ANY_ORIGIN)
    if not origins:
        return None
    return CORSConfig(allow_origin=origins[0], extra_origins=origins[1:],
                      allow_headers=headers, expose_headers=exposed, max_age=max_age,
                      allow_credentials=allow_credentials)


def vary_on_origin(response: dict[str, Any]) -> dict[str, Any]:
    """A proxy response with ``Vary: Origin`` added, for a resolver's (or any handler's) answer.

    Applied to the finished response, so it covers error answers too, in either header shape.
    """
    for field, single in (("multiValueHeaders", False), ("headers", True)):
        headers = response.get(field)
        if not isinstance(headers, dict):
            continue
        name = next((key for key in headers if key.lower() == "vary"), "Vary")
        current = headers.get(name)
        values = [current] if isinstance(current, str) else list(current or [])
        if not any("origin" in value.lower() for value in values):
            values.append("Origin")
        headers[name] = ", ".join(values) if single else values
        return response
    response["headers"] = {"Vary": "Origin"}
    return response


def _split(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def _seconds(text: str, problems: list[str]) -> int | None:
    if not text.strip():
        return None
    try:
        return int(text)
    except ValueError:
        problems.append(f"CORS_MAX_AGE: {text!r} is not a whole number of seconds")
        return None
