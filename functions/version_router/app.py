"""Lambda@Edge origin-request function: send each request to the API version its header names.

The version header (``Accept`` or a custom one such as ``APIVER``) is looked up in a DynamoDB
table of mappings: hash key ``hk`` is the lower-case header value, ``dn`` the origin domain,
``dp`` an optional origin path, and an optional ``sr`` the region of an API Gateway REST API
that wants AWS_IAM authorization, in which case the forwarded request is signed with SigV4.

Where the public sample is weak, this does better:

- one keyed ``GetItem`` per distinct value instead of a full-table ``Scan``; answers, negative
  ones included, are cached per container for the TTL in a bounded LRU;
- ``Accept`` lists with q-values pick the most preferred known version, and at most
  ``MAX_CANDIDATES`` list items are considered, so a crafted header cannot fan out into lookups;
- when DynamoDB fails, a stale mapping is served (and kept for ``STALE_GRACE_SECONDS``); without
  one the answer is 503 with ``retry-after``, and misses skip DynamoDB until then;
- errors are JSON responses that never echo the header's value, and the function never raises;
- the handler goes through ``blueprints_common.entry`` (packaged with the function): events are
  never logged, and an event CloudFront never sends (no single record, no request, headers
  not in CloudFront's ``[{key, value}]`` lists...) gets a generated 400 without being routed.

Lambda@Edge has no environment variables, so the settings travel in ``config.json`` beside this
file, written by the deploy. The function is single-threaded per container, so the caches need
no locks.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import math
import os
import re
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import quote, unquote

import boto3  # type: ignore[import-untyped]
from aws_lambda_powertools import Logger
from blueprints_common import names
from blueprints_common.entry import CLOUDFRONT_ORIGIN_REQUEST, entry
from botocore.config import Config  # type: ignore[import-untyped]

CONFIG_PATH = Path(__file__).with_name("config.json")
DEFAULT_SERVICE = "version-router"
MAX_CANDIDATES = 8
# Longer values cannot be versions, and DynamoDB rejects over-long keys with an error that
# would otherwise read as an outage.
MAX_VALUE_LENGTH = 128
STALE_GRACE_SECONDS = 30.0
RETRY_AFTER_SECONDS = 2
SIGNED_SERVICE = "execute-api"
EMPTY_PAYLOAD_HASH = hashlib.sha256(b"").hexdigest()
SIGNING_HEADERS = ("authorization", "x-amz-date", "x-amz-security-token", "x-amz-content-sha256")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")

_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_DOMAIN = re.compile(r"[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+")
_ORIGIN_PATH = re.compile(r"(/[A-Za-z0-9._~!$&'()*+,;=:@%-]+)*")

logger = Logger(service=DEFAULT_SERVICE)


class ItemReader(Protocol):
    """A DynamoDB client, or anything else that answers ``get_item`` like one."""

    def get_item(self, **kwargs: Any) -> Mapping[str, Any]: ...


@dataclass(frozen=True)
class Settings:
    """What the deploy writes into ``config.json``."""

    table_name: str
    region: str
    header_name: str
    replica_regions: tuple[str, ...] = ()
    cache_ttl_seconds: float = 300.0
    cache_max_entries: int = 1024
    service_name: str = DEFAULT_SERVICE
    log_level: str = "INFO"

    @classmethod
    def from_mapping(cls, raw: Mapping[str, Any]) -> Settings:
        """Validated settings; a ``ValueError`` lists every problem at once."""
        problems = _setting_problems(raw)
        if problems:
            raise ValueError("invalid version router settings: " + "; ".join(problems))
        return cls(
            table_name=raw["table_name"],
            region=raw["region"],
            header_name=raw["header_name"],
            replica_regions=tuple(raw.get("replica_regions") or ()),
            cache_ttl_seconds=float(raw.get("cache_ttl_seconds", cls.cache_ttl_seconds)),
            cache_max_entries=int(raw.get("cache_max_entries", cls.cache_max_entries)),
            service_name=raw.get("service_name") or DEFAULT_SERVICE,
            log_level=str(raw.get("log_level") or "INFO").upper(),
        )

    def dynamodb_region(self, current_region: str | None) -> str:
        """The nearest replica when this edge location's region has one, else the home region."""
        if current_region and current_region in self.replica_regions:
            return current_region
        return self.region


def _setting_problems(raw: Mapping[str, Any]) -> list[str]:
    if not isinstance(raw, Mapping):
        return ["the settings must be a JSON object"]
    problems = []
    if not isinstance(raw.get("table_name"), str) or not raw["table_name"]:
        problems.append("table_name: a non-empty string is required")
    if not isinstance(raw.get("region"), str) or not names.REGION.fullmatch(raw["region"]):
        problems.append("region: an AWS region such as us-east-1 is required")
    replicas = raw.get("replica_regions") or []
    if not isinstance(replicas, list) or not all(
            isinstance(region, str) and names.REGION.fullmatch(region) for region in replicas):
        problems.append("replica_regions: must be a list of AWS regions")
    header = raw.get("header_name")
    if not isinstance(header, str) or not _TOKEN.fullmatch(header):
        problems.append("header_name: an HTTP header name such as Accept is required")
    elif header.lower() in ("host", *SIGNING_HEADERS):
        problems.append(f"header_name: {header} is rewritten by the router and cannot carry "
                        "the version")
    ttl = raw.get("cache_ttl_seconds", 300)
    if isinstance(ttl, bool) or not isinstance(ttl, int | float) or not 0 < ttl < math.inf:
        problems.append("cache_ttl_seconds: must be a positive number")
    entries = raw.get("cache_max_entries", 1024)
    if isinstance(entries, bool) or not isinstance(entries, int) or entries < 1:
        problems.append("cache_max_entries: must be a positive integer")
    if not isinstance(raw.get("service_name", DEFAULT_SERVICE), str):
        problems.append("service_name: must be a string")
    level = raw.get("log_level", "INFO")
    if not isinstance(level, str) or level.upper() not in LOG_LEVELS:
        problems.append(f"log_level: must be one of {', '.join(LOG_LEVELS)}")
    return problems


def load_settings(path: Path | str = CONFIG_PATH) -> Settings:
    """Read and validate the settings file."""
    with open(path, encoding="utf-8") as file:
        return Settings.from_mapping(json.load(file))


@dataclass(frozen=True, slots=True)
class Route:
    """Where one version lives: a mapping item, checked and normalised."""

    domain: str
    path: str = ""
    signing_region: str | None = None

    @classmethod
    def from_item(cls, item: Mapping[str, Any]) -> Route:
        """A route from a DynamoDB item in the low-level format; ``ValueError`` if malformed."""
        domain = (_attribute(item, "dn") or "").lower()
        if len(domain) > 253 or not _DOMAIN.fullmatch(domain):
            raise ValueError("dn is not a domain name")
        path = (_attribute(item, "dp") or "").rstrip("/")
        if path and not path.startswith("/"):
            path = "/" + path
        if not _ORIGIN_PATH.fullmatch(path):
            raise ValueError("dp is not a valid origin path")
        region = _attribute(item, "sr")
        if region is not None and not names.REGION.fullmatch(region):
            raise ValueError("sr is not an AWS region")
        return cls(domain, path, region or None)


def _attribute(item: Mapping[str, Any], name: str) -> str | None:
    value = item.get(name)
    if value is None:
        return None
    if not isinstance(value, Mapping) or not isinstance(value.get("S"), str):
        raise ValueError(f"{name} is not a string attribute")
    text: str = value["S"]
    return text


def candidates(value: str, limit: int = MAX_CANDIDATES) -> list[str]:
    """The lookup keys a header value offers, most preferred first.

    A value is a comma-separated list whose items may carry parameters and a q-value
    (``application/json;q=0.5, application/vnd.example.v2+json``). Items are ordered by q, then
    by position; q=0 and invalid q-values drop an item. Parameters before q stay in the key
    (``application/json;version=2``), normalised to no spaces and lower case. Only the first
    ``limit`` items are read.
    """
    if "," not in value and ";" not in value:
        key = value.strip().lower()
        return [key] if key and len(key) <= MAX_VALUE_LENGTH else []
    ranked = []
    for position, item in enumerate(value.split(",", limit)[:limit]):
        media, *parameters = item.split(";")
        parts = [media.strip()]
        quality = 1.0
        for parameter in parameters:
            name, _, argument = parameter.partition("=")
            name = name.strip()
            if name.lower() == "q":
                quality = _quality(argument)
                break
            parts.append(f"{name}={argument.strip()}")
        key = ";".join(parts).lower()
        if quality > 0 and parts[0] and len(key) <= MAX_VALUE_LENGTH:
            ranked.append((-quality, position, key))
    ranked.sort()
    keys: list[str] = []
    for _, _, key in ranked:
        if key not in keys:
            keys.append(key)
    return keys


def _quality(text: str) -> float:
    try:
        quality = float(text)
    except ValueError:
        return -1.0
    # NaN fails both comparisons, so it is refused like any other out-of-range value.
    return quality if 0 <= quality <= 1 else -1.0


@dataclass(frozen=True, slots=True)
class Credentials:
    access_key: str
    secret_key: str
    token: str | None = None


def environment_credentials() -> Credentials | None:
    """The function's own credentials, which Lambda (at the edge too) puts in its environment."""
    environ = os.environ
    access_key = environ.get("AWS_ACCESS_KEY_ID")
    secret_key = environ.get("AWS_SECRET_ACCESS_KEY")
    if not access_key or not secret_key:
        return None
    return Credentials(access_key, secret_key, environ.get("AWS_SESSION_TOKEN") or None)


class SigningUnavailableError(Exception):
    """No credentials to sign with."""


class Signer:
    """SigV4 headers for a bodiless request to ``execute-api``.

    Written out rather than borrowed from botocore, whose request objects cost more than the
    whole routing decision; the tests compare its output with ``botocore.auth.SigV4Auth``.
    """

    def __init__(self, credentials: Callable[[], Credentials | None] = environment_credentials):
        self._credentials = credentials
        self._keys: dict[tuple[str, str, str], hmac.HMAC] = {}
        self._second = -1
        self._stamp = ""
        self._current: Credentials | None = None

    def sign(self, method: str, host: str, path: str, query: str, region: str,
             now: float) -> list[tuple[str, str]]:
        """The headers to add, as (name, value) pairs."""
        second = int(now)
        if second != self._second:
            # Reading os.environ costs more than the rest of the signature; once a second is
            # fresh enough for credentials that Lambda fixes for the container's life.
            self._second = second
            self._stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(second))
            self._current = self._credentials()
        credentials = self._current
        if credentials is None:
            raise SigningUnavailableError("no AWS credentials in the environment")
        stamp = self._stamp
        date = stamp[:8]
        scope = f"{date}/{region}/{SIGNED_SERVICE}/aws4_request"
        if credentials.token:
            canonical_headers = (f"host:{host}\nx-amz-date:{stamp}\n"
                                 f"x-amz-security-token:{' '.join(credentials.token.split())}\n")
            signed_headers = "host;x-amz-date;x-amz-security-token"
        else:
            canonical_headers = f"host:{host}\nx-amz-date:{stamp}\n"
            signed_headers = "host;x-amz-date"
        canonical_request = (f"{method.upper()}\n{canonical_uri(path)}\n{canonical_query(query)}\n"
                             f"{canonical_headers}\n{signed_headers}\n{EMPTY_PAYLOAD_HASH}")
        digest = hashlib.sha256(canonical_request.encode()).hexdigest()
        mac = self._signing_key(credentials.secret_key, date, region).copy()
        mac.update(f"AWS4-HMAC-SHA256\n{stamp}\n{scope}\n{digest}".encode())
        headers = [("X-Amz-Date", stamp)]
        if credentials.token:
            headers.append(("X-Amz-Security-Token", credentials.token))
        headers.append(("Authorization",
                        f"AWS4-HMAC-SHA256 Credential={credentials.access_key}/{scope}, "
                        f"SignedHeaders={signed_headers}, Signature={mac.hexdigest()}"))
        return headers

    def _signing_key(self, secret_key: str, date: str, region: str) -> hmac.HMAC:
        """An HMAC keyed with the day's signing key, to be copied for each signature."""
        cached = self._keys.get((secret_key, date, region))
        if cached is not None:
            return cached
        key = ("AWS4" + secret_key).encode()
        for part in (date, region, SIGNED_SERVICE, "aws4_request"):
            key = hmac.digest(key, part.encode(), "sha256")
        if len(self._keys) >= 16:
            self._keys.clear()
        mac = self._keys[(secret_key, date, region)] = hmac.new(key, digestmod=hashlib.sha256)
        return mac


def canonical_uri(path: str) -> str:
    """The SigV4 canonical URI of a path as it goes on the wire (already percent-encoded).

    Dot segments and repeated slashes are removed, then the path is encoded once more, as AWS
    does for every service but S3.
    """
    if not path:
        return "/"
    if "//" in path or "/." in path:
        segments: list[str] = []
        for segment in path.split("/"):
            if segment == "..":
                if segments:
                    segments.pop()
            elif segment and segment != ".":
                segments.append(segment)
        trailing = "/" if path.endswith("/") and segments else ""
        path = "/" + "/".join(segments) + trailing
    return quote(path, safe="/~")


def canonical_query(query: str) -> str:
    """The SigV4 canonical query string: each name and value decoded, encoded, then sorted."""
    if not query:
        return ""
    pairs = []
    for pair in query.split("&"):
        if pair:
            name, _, value = pair.partition("=")
            pairs.append((quote(unquote(name), safe="-_.~"), quote(unquote(value), safe="-_.~")))
    pairs.sort()
    return "&".join(f"{name}={value}" for name, value in pairs)


class MappingUnavailableError(Exception):
    """DynamoDB failed and there is no cached answer to fall back on."""


_Entry = tuple[float, Route | None]


class Router:
    """Routes a CloudFront origin request by its version header.

    ``client`` is a DynamoDB client or anything with its ``get_item``; ``clock`` returns seconds
    since the epoch and drives both the cache and the signature's timestamp.
    """

    def __init__(self, settings: Settings, client: ItemReader,
                 clock: Callable[[], float] = time.time, *, signer: Signer | None = None,
                 logger: Logger = logger):
        self.settings = settings
        self._client = client
        self._clock = clock
        self._signer = signer or Signer()
        self._logger = logger
        self._debug = logger.log_level <= logging.DEBUG
        self._header = settings.header_name.lower()
        self._ttl = settings.cache_ttl_seconds
        self._grace = min(STALE_GRACE_SECONDS, self._ttl)
        self._cache: OrderedDict[str, _Entry] = OrderedDict()
        self._unavailable_until = -math.inf

    def route(self, request: dict[str, Any]) -> dict[str, Any]:
        """The request, rewritten for its version's origin, or a generated error response."""
        try:
            return self._route(request)
        except Exception:
            self._logger.exception("Could not route the request")
            return error_response(502)

    def _route(self, request: dict[str, Any]) -> dict[str, Any]:
        headers = request.get("headers")
        if headers is None:
            headers = request["headers"] = {}
        value = self._header_value(headers)
        name = self.settings.header_name
        if value is None:
            return forbidden(f"{name} header is missing")
        if not value.strip():
            return forbidden(f"{name} header is empty")
        now = self._clock()
        try:
            for key in candidates(value):
                route = self._lookup(key, now)
                if route is not None:
                    if self._debug:
                        self._logger.debug("Routing", version=key, origin=route.domain)
                    return self._forward(request, headers, route, now)
        except MappingUnavailableError:
            return error_response(503)
        except SigningUnavailableError:
            self._logger.error("Cannot sign the request for an AWS_IAM origin: no credentials")
            return error_response(502)
        return forbidden(f"{name} header is not a valid version")

    def _header_value(self, headers: dict[str, Any]) -> str | None:
        entries = headers.get(self._header)
        if entries is None:
            # CloudFront keys headers in lower case; hand-built events may not.
            entries = next((found for key, found in headers.items()
                            if key.lower() == self._header), None)
        if not entries:
            return None
        if len(entries) == 1:
            return str(entries[0].get("value") or "")
        return ",".join(str(entry.get("value") or "") for entry in entries)

    def _lookup(self, key: str, now: float) -> Route | None:
        cache = self._cache
        entry = cache.get(key)
        if entry is not None:
            cache.move_to_end(key)
            if entry[0] > now:
                return entry[1]
        if now < self._unavailable_until:
            if entry is None:
                raise MappingUnavailableError
            return self._keep_stale(key, entry, now)
        try:
            route = self._fetch(key)
        except Exception:
            self._unavailable_until = now + RETRY_AFTER_SECONDS
            self._logger.warning("DynamoDB lookup failed", version=key, exc_info=True)
            if entry is None:
                raise MappingUnavailableError from None
            return self._keep_stale(key, entry, now)
        cache[key] = (now + self._ttl, route)
        if len(cache) > self.settings.cache_max_entries:
            cache.popitem(last=False)
        return route

    def _fetch(self, key: str) -> Route | None:
        response = self._client.get_item(TableName=self.settings.table_name,
                                         Key={"hk": {"S": key}})
        item = response.get("Item")
        if item is None:
            return None
        try:
            return Route.from_item(item)
        except ValueError as problem:
            self._logger.error("Ignoring a malformed version mapping", version=key,
                               problem=str(problem))
            return None

    def _keep_stale(self, key: str, entry: _Entry, now: float) -> Route | None:
        self._logger.warning("Serving a cached version mapping past its TTL", version=key,
                             grace_seconds=self._grace)
        self._cache[key] = (now + self._grace, entry[1])
        return entry[1]

    def _forward(self, request: dict[str, Any], headers: dict[str, Any], route: Route,
                 now: float) -> dict[str, Any]:
        request["origin"] = {"custom": {
            "domainName": route.domain,
            "port": 443,
            "protocol": "https",
            "path": route.path,
            "sslProtocols": ["TLSv1.2"],
            "readTimeout": 30,
            "keepaliveTimeout": 5,
            "customHeaders": _custom_headers(request.get("origin")),
        }}
        headers["host"] = [{"key": "Host", "value": route.domain}]
        if route.signing_region is not None:
            for name in SIGNING_HEADERS:
                headers.pop(name, None)
            signed = self._signer.sign(
                request.get("method") or "GET", route.domain,
                route.path + (request.get("uri") or "/"), request.get("querystring") or "",
                route.signing_region, now)
            for name, value in signed:
                headers[name.lower()] = [{"key": name, "value": value}]
        return request


def _custom_headers(origin: Any) -> dict[str, Any]:
    if isinstance(origin, Mapping):
        for kind in ("custom", "s3"):
            found = origin.get(kind)
            if isinstance(found, Mapping) and isinstance(found.get("customHeaders"), dict):
                headers: dict[str, Any] = found["customHeaders"]
                return headers
    return {}


_DESCRIPTIONS = {502: "Bad Gateway", 503: "Service Unavailable"}


def generated_response(status: int, description: str, message: str,
                       extra_headers: Mapping[str, str] | None = None) -> dict[str, Any]:
    """A response CloudFront returns to the viewer instead of calling the origin."""
    headers = {
        "content-type": [{"key": "Content-Type", "value": "application/json"}],
        "cache-control": [{"key": "Cache-Control", "value": "no-store"}],
    }
    for name, value in (extra_headers or {}).items():
        headers[name.lower()] = [{"key": name, "value": value}]
    return {"status": str(status), "statusDescription": description, "headers": headers,
            "body": json.dumps({"message": message})}


def forbidden(description: str) -> dict[str, Any]:
    """403 naming what was wrong with the header; never the header's value."""
    return generated_response(403, description, description)


def error_response(status: int) -> dict[str, Any]:
    """502 for a failure of the function, 503 (retry later) when DynamoDB is unavailable."""
    description = _DESCRIPTIONS[status]
    if status == 503:
        return generated_response(503, description, "The API version mappings are unavailable",
                                  {"Retry-After": str(RETRY_AFTER_SECONDS)})
    return generated_response(status, description, "The request could not be routed")


@cache
def default_router() -> Router:
    """The container's router, built on first use from ``config.json`` and kept for warm starts.

    A failure is not cached, so a later request tries again.
    """
    settings = load_settings(CONFIG_PATH)
    logger.setLevel(settings.log_level)
    logger.append_keys(service=settings.service_name)
    # A viewer is waiting: fail over to the stale cache or a 503 quickly rather than retry long.
    config = Config(connect_timeout=1, read_timeout=1,
                    retries={"max_attempts": 2, "mode": "standard"})
    client = boto3.client("dynamodb", config=config,
                          region_name=settings.dynamodb_region(os.environ.get("AWS_REGION")))
    return Router(settings, client)


@entry(CLOUDFRONT_ORIGIN_REQUEST, logger=logger)
def handler(event: dict[str, Any], context: object) -> dict[str, Any]:
    try:
        return default_router().route(event["Records"][0]["cf"]["request"])
    except Exception:  # a missing or invalid config.json; Router.route itself never raises
        logger.exception("Could not route the request")
        return error_response(502)
