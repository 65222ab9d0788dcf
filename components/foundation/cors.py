"""CORS settings shared by the REST and HTTP API blocks, and their validation.

One ``CorsArgs`` says which browser origins may call an API, with which methods and headers.
The HTTP API block hands it to API Gateway's ``corsConfiguration``; the REST API block turns it
into OPTIONS preflight methods and CORS headers on gateway (error) responses.

Least privilege by default:

| Setting             | Rule                                                                  |
|---------------------|-----------------------------------------------------------------------|
| ``allow_origins``   | explicit ``https://`` origins in lower case, no path; ``*`` only with |
|                     | ``allow_any_origin=True`` (a warning), never with credentials         |
| ``allow_methods``   | named methods; no ``*``                                               |
| ``allow_headers``   | named headers; no ``*`` (default ``authorization``, ``content-type``) |
| ``expose_headers``  | named headers; none by default                                        |
| ``max_age``         | 300 s; at most 86,400                                                 |
| ``allow_credentials`` | off                                                                 |
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

HTTP_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")
ANY_ORIGIN = "*"
_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
HTTPS_ORIGIN = re.compile(rf"^https://(?:{_LABEL}\.)*{_LABEL}(?::\d{{1,5}})?$")
HEADER_NAME = re.compile(r"^[A-Za-z0-9!#$%&'*+.^_`|~-]+$")
MAX_CORS_AGE = 86400


@dataclass(frozen=True)
class CorsArgs:
    """Which browser origins may call the API, with which methods and headers.

    ``allow_origins`` are full origins (``https://app.example.com``, no path). ``"*"`` is
    accepted only with ``allow_any_origin=True`` and never with ``allow_credentials``.
    """

    allow_origins: Sequence[str]
    allow_methods: Sequence[str]
    allow_headers: Sequence[str] = ("authorization", "content-type")
    expose_headers: Sequence[str] = ()
    max_age: int = 300
    allow_credentials: bool = False
    allow_any_origin: bool = False

    @property
    def any_origin(self) -> bool:
        """Whether the settings let every origin in (``"*"``, opted in)."""
        return ANY_ORIGIN in self.allow_origins

    @property
    def named_origins(self) -> list[str]:
        """The explicit origins, in the order given, without ``"*"`` and duplicates."""
        return list(dict.fromkeys(o for o in self.allow_origins if o != ANY_ORIGIN))


def cors_problems(cors: CorsArgs, argument: str = "cors") -> list[str]:
    """Every problem of ``cors``, each starting with ``<argument>.<field>:``."""
    problems = []
    if not cors.allow_origins:
        problems.append(f"{argument}.allow_origins: name at least one origin")
    for origin in cors.allow_origins:
        if origin == ANY_ORIGIN:
            if cors.allow_credentials:
                problems.append(f"{argument}.allow_origins: '*' cannot be combined with "
                                "allow_credentials; name the origins")
            elif not cors.allow_any_origin:
                problems.append(f"{argument}.allow_origins: '*' lets any web site call the API; "
                                "name the origins, or set allow_any_origin=True to accept it")
        elif not isinstance(origin, str) or not HTTPS_ORIGIN.match(origin):
            problems.append(f"{argument}.allow_origins: {origin!r} is not an https origin in "
                            "lower case with no path (https://app.example.com)")
    if not cors.allow_methods:
        problems.append(f"{argument}.allow_methods: name at least one method")
    problems += [f"{argument}.allow_methods: {method!r} is not allowed; use "
                 f"{', '.join(HTTP_METHODS)}" for method in cors.allow_methods
                 if method not in HTTP_METHODS]
    for key, headers in (("allow_headers", cors.allow_headers),
                         ("expose_headers", cors.expose_headers)):
        problems += [f"{argument}.{key}: {header!r} is not allowed; name each header"
                     if header == "*" else f"{argument}.{key}: {header!r} is not a header name"
                     for header in headers
                     if header == "*" or not isinstance(header, str)
                     or not HEADER_NAME.match(header)]
    if isinstance(cors.max_age, bool) or not 0 <= cors.max_age <= MAX_CORS_AGE:
        problems.append(f"{argument}.max_age: {cors.max_age} is outside 0..{MAX_CORS_AGE} "
                        "seconds")
    return problems
