"""What every local HTTP front shares: API Gateway's REST and HTTP APIs, CloudFront and S3 Object
Lambda each answer a ``Request`` with a ``Reply``, served on 127.0.0.1 by a ``LocalServer``.

- ``LocalServer`` is a threaded ``http.server`` on a port of its own. A front that raises is
  answered ``500`` with a JSON message and logged with its traceback: a client never sees a
  stack trace.
- ``verify_sigv4`` checks a Signature Version 4 signature as AWS does, for requests signed in a
  header or in the query string (presigned URLs), against the secret key of credentials the
  embedded AWS issued. The canonical request follows AWS's rules for the signing service: S3
  signs the path as sent, every other service its normalized, re-encoded form.
- ``TokenBucket`` is API Gateway's throttle: ``rate`` requests a second refill a bucket of
  ``burst``.
- ``LocalAddresses`` stands in for DNS: a browser reaches the local fronts, while the stack's
  code and settings name its public origins (an API's execute-api URL, a distribution's domain,
  Cognito's endpoint). ``serve`` puts it between a front and its clients: the ``Origin`` a
  request names becomes the public origin it stands for (so CORS allowlists written for the
  public site hold), and reply headers naming a public origin (CORS, a content security policy,
  a redirect) name the local one. ``to_local`` rewrites what a deploy writes from the stack's
  outputs, such as a web app's ``config.js``.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import json
import logging
import posixpath
import re
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlsplit

LOG = logging.getLogger("tools.local.gateway")
HOST = "127.0.0.1"
MAX_BODY_BYTES = 64 * 1024 * 1024
ALGORITHM = "AWS4-HMAC-SHA256"
ALLOWED_SKEW = timedelta(minutes=15)
MAX_PRESIGNED_SECONDS = 7 * 24 * 3600
S3_SIGNING_NAMES = frozenset({"s3", "s3-object-lambda"})
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
_CREDENTIAL = re.compile(r"Credential=([^,\s]+)")
_SIGNED_HEADERS = re.compile(r"SignedHeaders=([^,\s]+)")
_SIGNATURE = re.compile(r"Signature=([0-9a-f]{64})")


@dataclass(frozen=True)
class Request:
    """An HTTP request as a front received it."""

    method: str
    raw_path: str
    query: str
    headers: list[tuple[str, str]]
    body: bytes
    source_ip: str = HOST
    # Set when the request came through a VPC interface endpoint (a private API's only way in).
    source_vpce: str | None = None
    source_vpc: str | None = None

    def header(self, name: str) -> str | None:
        """The first value of a header, by case-insensitive name."""
        wanted = name.lower()
        return next((value for key, value in self.headers if key.lower() == wanted), None)

    def headers_multi(self) -> dict[str, list[str]]:
        """Every header's values, by lower-case name, in the order received."""
        found: dict[str, list[str]] = {}
        for key, value in self.headers:
            found.setdefault(key.lower(), []).append(value)
        return found

    def query_multi(self) -> dict[str, list[str]]:
        """Every query parameter's decoded values, in the order received."""
        found: dict[str, list[str]] = {}
        for key, value in parse_qsl(self.query, keep_blank_values=True):
            found.setdefault(key, []).append(value)
        return found


@dataclass
class Reply:
    """A front's answer."""

    status: int
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""

    @classmethod
    def json(cls, status: int, document: Any,
             headers: Iterable[tuple[str, str]] = ()) -> Reply:
        return cls(status, [("Content-Type", "application/json"), *headers],
                   json.dumps(document, separators=(",", ":")).encode())


@dataclass(frozen=True)
class ServedApi:
    """A front that local mode serves, as the start-up listing and the tests name it."""

    kind: str
    resource: str
    api_id: str
    region: str
    url: str
    stage: str | None = None


# --- serving -----------------------------------------------------------------------------------

class _Server(ThreadingHTTPServer):
    # A burst of new connections (a load test, a page's parallel requests) waits in the
    # listen queue instead of being dropped at socketserver's default of 5.
    request_queue_size = 128
    daemon_threads = True


class LocalServer:
    """Serves ``handle`` on 127.0.0.1 (``port`` 0 takes a free one) in threads of its own."""

    def __init__(self, name: str, handle: Callable[[Request], Reply], port: int = 0) -> None:
        self.name = name
        self.handle = handle
        self._requested_port = port
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> LocalServer:
        from tools.local.aws import PortInUseError  # moto's, loaded only where servers run

        try:
            server = _Server((HOST, self._requested_port), self._handler_class())
        except OSError as error:
            raise PortInUseError(f"{self.name}: port {self._requested_port} on {HOST} is in "
                                 f"use ({error.strerror}); free it or choose another") from None
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, name=self.name,
                                        kwargs={"poll_interval": 0.2}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError(f"{self.name} is not serving")
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        front = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            server_version = "blueprints-local"

            def do_any(self) -> None:
                reply = front.answer(self._request())
                self.log_request(reply.status)
                self.send_response_only(reply.status)
                names = {key.lower() for key, _ in reply.headers}
                if "server" not in names:
                    self.send_header("Server", self.version_string())
                for key, value in reply.headers:
                    if key.lower() not in ("content-length", "connection", "transfer-encoding"):
                        self.send_header(key, value)
                body = reply.body
                length = str(len(body))
                if self.command == "HEAD":
                    # A HEAD answer states the size of the body it does not send.
                    length = next((value for key, value in reply.headers
                                   if key.lower() == "content-length"), length)
                    body = b""
                self.send_header("Content-Length", length)
                if "date" not in names:
                    self.send_header("Date", self.date_time_string())
                self.end_headers()
                self.wfile.write(body)

            def _request(self) -> Request:
                path, _, query = self.path.partition("?")
                length = int(self.headers.get("Content-Length") or 0)
                if length > MAX_BODY_BYTES:
                    raise _TooLargeError
                return Request(self.command, path, query, list(self.headers.items()),
                               self.rfile.read(length) if length else b"",
                               self.client_address[0])

            def handle_one_request(self) -> None:
                try:
                    super().handle_one_request()
                except _TooLargeError:
                    self.close_connection = True
                    self.send_error(413, "Request Entity Too Large")

            def log_message(self, format: str, *args: Any) -> None:
                LOG.debug("%s: " + format, front.name, *args)

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = do_any  # noqa: N815

        return Handler

    def answer(self, request: Request) -> Reply:
        try:
            return self.handle(request)
        except Exception:
            LOG.exception("%s failed on %s %s", self.name, request.method, request.raw_path)
            return Reply.json(500, {"message": f"local mode's {self.name} failed on this "
                                    "request; its log has the details"})


# Headers that belong to one connection, not to the request a proxy passes on.
HOP_BY_HOP = frozenset({"connection", "keep-alive", "proxy-authenticate", "proxy-authorization",
                        "te", "trailer", "transfer-encoding", "upgrade", "host",
                        "content-length"})


class BackendError(Exception):
    """An HTTP back end a front passes a request to did not answer; ``timed_out`` says why."""

    def __init__(self, message: str, *, timed_out: bool) -> None:
        super().__init__(message)
        self.timed_out = timed_out


def forward(method: str, url: str, headers: Iterable[tuple[str, str]], body: bytes,
            timeout: float) -> Reply:
    """Passes a request on to an HTTP back end (a VPC link's target), as a proxy does."""
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname or HOST, parts.port or 80,
                                            timeout=timeout)
    target = parts.path or "/"
    if parts.query:
        target += f"?{parts.query}"
    try:
        connection.request(method, target, body=body or None, headers=dict(
            (name, value) for name, value in headers if name.lower() not in HOP_BY_HOP))
        answer = connection.getresponse()
        return Reply(answer.status, [(name, value) for name, value in answer.getheaders()
                                     if name.lower() not in HOP_BY_HOP], answer.read())
    except TimeoutError as error:
        raise BackendError(f"{url}: no answer within {timeout:g} s", timed_out=True) from error
    except (ConnectionError, http.client.HTTPException, OSError) as error:
        raise BackendError(f"{url}: {error}", timed_out=False) from error
    finally:
        connection.close()


class _TooLargeError(Exception):
    pass


# --- variable references ---------------------------------------------------------------------

_REFERENCE = re.compile(r"\$(?:\{((?:context|stageVariables)(?:\.[\w:-]+)+)\}|"
                        r"((?:context|stageVariables)(?:\.[\w:-]+)+))")


def fill_references(template: str, value_of: Callable[[str, str], Any], *, missing: str,
                    json_escape: bool = False) -> str:
    """API Gateway's plain variable references, as access log formats and gateway response
    templates hold them (they are not VTL): ``$context.a.b``, ``${context.a}``,
    ``$stageVariables.x``. ``value_of(root, path)`` answers ``context``'s or
    ``stageVariables``' value at ``path`` (``a.b``); ``None``, an empty string or a mapping is
    ``missing``. ``json_escape`` escapes values for a JSON string (an access log line)."""

    def fill(match: re.Match[str]) -> str:
        root, _, path = (match.group(1) or match.group(2)).partition(".")
        found = value_of(root, path)
        if found is None or found == "" or isinstance(found, Mapping):
            return missing
        text = ("true" if found else "false") if isinstance(found, bool) else str(found)
        return json.dumps(text)[1:-1] if json_escape else text

    return _REFERENCE.sub(fill, template)


# --- public origins and their local stand-ins ---------------------------------------------------

class LocalAddresses:
    """The stack's public origins (``https://host``), each with the local origin that serves
    it (``http://127.0.0.1:port``). Filled while local mode binds its fronts."""

    def __init__(self) -> None:
        self._local: dict[str, str] = {}
        self._public: dict[str, str] = {}
        self._pattern: re.Pattern[str] | None = None

    def add(self, local_origin: str, *public_origins: str) -> None:
        """``public_origins`` are served at ``local_origin``; the first is the one a request
        from ``local_origin`` is said to come from (a distribution's alias, not its
        ``cloudfront.net`` domain)."""
        local = local_origin.rstrip("/")
        for public in public_origins:
            self._local[public.rstrip("/").lower()] = local
        if public_origins:
            self._public.setdefault(local, public_origins[0].rstrip("/"))
        if not self._local:
            return
        longest_first = sorted(self._local, key=len, reverse=True)
        # An origin ends where a host name cannot go on: not at ``.example.com.evil``.
        self._pattern = re.compile(
            "(" + "|".join(map(re.escape, longest_first)) + r")(?![\w.-])", re.IGNORECASE)

    def to_local(self, text: str) -> str:
        """``text`` with every public origin replaced by its local one."""
        if self._pattern is None:
            return text
        return self._pattern.sub(lambda match: self._local[match.group(1).lower()], text)

    def to_public(self, origin: str) -> str:
        """The public origin a local one serves; any other origin as it is."""
        return self._public.get(origin.rstrip("/"), origin)

    def serve(self, handle: Callable[[Request], Reply]) -> Callable[[Request], Reply]:
        """``handle`` as the stack's code sees the public origins and the browser the local
        ones."""

        def translated(request: Request) -> Reply:
            headers = [(key, self.to_public(value) if key.lower() == "origin" else value)
                       for key, value in request.headers]
            reply = handle(replace(request, headers=headers))
            reply.headers = [(key, self.to_local(value)) for key, value in reply.headers]
            return reply

        return translated


# --- throttling --------------------------------------------------------------------------------

class TokenBucket:
    """``rate`` tokens a second, at most ``burst`` held; ``take`` answers whether one was left."""

    def __init__(self, rate: float, burst: int,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = float(rate)
        self.burst = int(burst)
        self._clock = clock
        self._tokens = float(burst)
        self._at = clock()
        self._lock = threading.Lock()

    def take(self) -> bool:
        with self._lock:
            now = self._clock()
            self._tokens = min(float(self.burst), self._tokens + (now - self._at) * self.rate)
            self._at = now
            if self._tokens >= 1.0:
                self._tokens -= 1.0
                return True
            return False


# --- Signature Version 4 -----------------------------------------------------------------------

class SignatureError(Exception):
    """A request's SigV4 signature is missing, malformed, expired or wrong; the message is the
    one AWS answers."""


@dataclass(frozen=True)
class _Signed:
    access_key_id: str
    date: str
    region: str
    service: str
    signed_headers: tuple[str, ...]
    signature: str
    timestamp: str
    presigned: bool


def verify_sigv4(request: Request, *, service: str, region: str | None,
                 secret_for: Callable[[str], str | None],
                 session_token_for: Callable[[str], str | None] | None = None,
                 now: datetime | None = None) -> str:
    """Checks ``request``'s signature for ``service`` (and ``region``, unless ``None``) and
    answers the access key id that signed it. With ``session_token_for``, temporary
    credentials must come with their own session token, as AWS requires."""
    signed = _signature_of(request)
    if signed.service != service or (region is not None and signed.region != region):
        raise SignatureError(f"Credential should be scoped to a valid region and service "
                             f"{service!r}, not {signed.region}/{signed.service}.")
    _check_time(signed, request, now or datetime.now(UTC))
    secret = secret_for(signed.access_key_id)
    token = request.header("X-Amz-Security-Token") or dict(
        parse_qsl(request.query)).get("X-Amz-Security-Token")
    if secret is None or (session_token_for is not None
                          and token != session_token_for(signed.access_key_id)):
        raise SignatureError("The security token included in the request is invalid.")
    missing = [name for name in signed.signed_headers if request.header(name) is None]
    if "host" not in signed.signed_headers or missing:
        raise SignatureError("The request signature we calculated does not match the signature "
                             "you provided: the signed headers must include host and be sent"
                             + (f" (missing: {', '.join(missing)})" if missing else ""))
    scope = f"{signed.date}/{signed.region}/{signed.service}/aws4_request"
    key = _signing_key(secret, signed.date, signed.region, signed.service)
    for canonical in _canonical_requests(request, signed):
        to_sign = "\n".join((ALGORITHM, signed.timestamp, scope,
                             hashlib.sha256(canonical.encode()).hexdigest()))
        expected = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
        if hmac.compare_digest(expected, signed.signature):
            return signed.access_key_id
    raise SignatureError("The request signature we calculated does not match the signature you "
                         "provided. Check your AWS Secret Access Key and signing method.")


def _signature_of(request: Request) -> _Signed:
    authorization = request.header("Authorization")
    query = dict(parse_qsl(request.query, keep_blank_values=True))
    if authorization:
        if not authorization.startswith(ALGORITHM + " "):
            raise SignatureError(f"Authorization header requires the {ALGORITHM} algorithm.")
        parts = [_CREDENTIAL.search(authorization), _SIGNED_HEADERS.search(authorization),
                 _SIGNATURE.search(authorization)]
        if None in parts:
            raise SignatureError("Authorization header requires 'Credential', "
                                 "'SignedHeaders' and 'Signature' parameters.")
        credential, headers, signature = (match.group(1) for match in parts if match)
        timestamp = request.header("X-Amz-Date") or ""
        presigned = False
    elif "X-Amz-Signature" in query:
        if query.get("X-Amz-Algorithm") != ALGORITHM:
            raise SignatureError(f"X-Amz-Algorithm must be {ALGORITHM}.")
        credential = query.get("X-Amz-Credential", "")
        headers = query.get("X-Amz-SignedHeaders", "")
        signature = query["X-Amz-Signature"]
        timestamp = query.get("X-Amz-Date", "")
        presigned = True
    else:
        raise SignatureError("Missing Authentication Token")
    scope = credential.split("/")
    if len(scope) != 5 or scope[4] != "aws4_request":
        raise SignatureError(f"Credential {credential!r} is not <key>/<date>/<region>/<service>"
                             "/aws4_request.")
    if not re.fullmatch(r"\d{8}T\d{6}Z", timestamp) or timestamp[:8] != scope[1]:
        raise SignatureError("X-Amz-Date must be a basic ISO 8601 time (20261202T101500Z) on the "
                             "credential scope's date.")
    return _Signed(scope[0], scope[1], scope[2], scope[3],
                   tuple(headers.lower().split(";")), signature, timestamp, presigned)


def _check_time(signed: _Signed, request: Request, now: datetime) -> None:
    signed_at = datetime.strptime(signed.timestamp, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    if not signed.presigned:
        if abs(now - signed_at) > ALLOWED_SKEW:
            raise SignatureError("Signature expired: the request time is more than 15 minutes "
                                 "from the server's time.")
        return
    expires = dict(parse_qsl(request.query)).get("X-Amz-Expires", "")
    if not expires.isdigit() or not 0 < int(expires) <= MAX_PRESIGNED_SECONDS:
        raise SignatureError("X-Amz-Expires must be a number of seconds from 1 to 604800.")
    if now > signed_at + timedelta(seconds=int(expires)) or now < signed_at - ALLOWED_SKEW:
        raise SignatureError("Request has expired")


def _signing_key(secret: str, date: str, region: str, service: str) -> bytes:
    key = f"AWS4{secret}".encode()
    for part in (date, region, service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return key


def _canonical_requests(request: Request, signed: _Signed) -> Iterable[str]:
    """The canonical request, in the forms SDKs compute it: query pairs re-encoded by AWS's
    rules, or (as botocore does for a URL it was given) as sent."""
    s3 = signed.service in S3_SIGNING_NAMES
    path = request.raw_path or "/"
    if not s3:
        normalized = posixpath.normpath(path) if path not in ("", "/") else "/"
        if path.endswith("/") and normalized != "/":
            normalized += "/"
        path = quote(normalized, safe="/~")
    headers = request.headers_multi()
    canonical_headers = "".join(
        f"{name}:{','.join(' '.join(value.split()) for value in headers[name])}\n"
        for name in sorted(signed.signed_headers))
    if signed.presigned and s3:
        payload = UNSIGNED_PAYLOAD
    else:
        payload = (request.header("X-Amz-Content-SHA256")
                   or hashlib.sha256(request.body).hexdigest())
    pairs = [pair.partition("=") for pair in request.query.split("&") if pair]
    pairs = [(key, sep, value) for key, sep, value in pairs
             if not (signed.presigned and key == "X-Amz-Signature")]
    encoded = sorted((quote(unquote(key), safe="-_.~"), quote(unquote(value), safe="-_.~"))
                     for key, _, value in pairs)
    as_sent = sorted((key, value) for key, _, value in pairs)
    for query_pairs in dict.fromkeys((tuple(encoded), tuple(as_sent))):
        query = "&".join(f"{key}={value}" for key, value in query_pairs)
        yield "\n".join((request.method.upper(), path, query, canonical_headers,
                         ";".join(signed.signed_headers), payload))


def header_pairs(headers: Mapping[str, str | list[str]]) -> list[tuple[str, str]]:
    """``{name: value or [values]}`` as the ``(name, value)`` pairs a ``Reply`` holds."""
    return [(name, item) for name, value in headers.items()
            for item in (value if isinstance(value, list) else [value])]
