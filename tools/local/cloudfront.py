"""The plan's CloudFront distributions, served locally with their Lambda@Edge functions.

``distributions(run, lambdas=, origins=, aws=, policies=)`` answers a ``Distribution`` for every
``aws:cloudfront/distribution:Distribution`` of the plan; local mode serves each one's ``handle``
on a port of its own (``gateway.LocalServer``). Everything comes from the plan:

- **Cache behaviors.** The ordered behaviors' path patterns are tried in order, then the default
  one. A method the behavior does not allow is refused ``403`` before any function runs.
  ``defaultRootObject`` stands in for ``/``.
- **What reaches the origin.** The origin request policy and the cache policy (or the legacy
  ``forwardedValues``) decide which viewer headers, cookies and query strings are forwarded;
  AWS-managed policies are known by their ids (``MANAGED_ORIGIN_REQUEST_POLICIES``,
  ``MANAGED_CACHE_POLICIES``). CloudFront's own headers are added as CloudFront adds them:
  ``Host`` (the origin's domain unless a policy forwards the viewer's), ``User-Agent: Amazon
  CloudFront`` unless forwarded, ``Via``, ``X-Forwarded-For``, ``X-Amz-Cf-Id``, the origin's
  custom headers, and the ``CloudFront-Forwarded-Proto`` and ``CloudFront-Viewer-Http-Version``
  headers when a policy asks for them.
- **Lambda@Edge.** Each association (viewer-request, origin-request, origin-response,
  viewer-response, ``includeBody``) is invoked through ``lambdas.invoke(<its qualified ARN>,
  event, caller=None)``, as the Lambda service runs the replicas, with the event CloudFront
  documents. A request it answers goes on (to the origin it chose, with the headers it set,
  byte for byte: a SigV4 signature made for the origin's host survives); a response it answers
  is the reply. A function error is ``503 LambdaExecutionError``; an answer that breaks
  Lambda@Edge's rules (a read-only header changed, a disallowed header added, a bad status, a
  body too large or badly encoded, a changed status in viewer-response) is ``502
  LambdaValidationError``. A body a viewer-response function returns is ignored: CloudFront
  shows that event no body.
- **Origins.** A custom origin's domain is looked up in ``origins`` (domain -> local base URL,
  built by local mode from the APIs it serves); a domain not there is a ``502`` naming it and
  the ones local mode serves. An S3 origin is read from the embedded AWS: with an origin access
  control the access is decided by the plan's bucket policy for ``cloudfront.amazonaws.com``
  with the distribution's ARN and account as ``aws:SourceArn`` / ``aws:SourceAccount`` (and the
  key policy, for a bucket encrypted with a KMS key); a missing key answers ``404`` when the
  policy also allows ``s3:ListBucket``, else ``403``, as S3 answers through CloudFront.
- **Answers.** Custom error responses replace the errors origins answer (with the page they
  name, fetched through the distribution's origin side; CloudFront's own errors stay as they
  are). The response headers policy (security headers with their ``override``, CORS, custom
  and removed headers) is applied last, to every answer, CloudFront's own errors included.
  ``Via``, ``X-Cache``, ``X-Amz-Cf-Pop`` and ``X-Amz-Cf-Id`` are added.

Not emulated, each said where it matters: caching (every request goes to the origin, so
``cachedMethods`` and TTLs change nothing; ``X-Cache`` says ``Miss``); CloudFront Functions (a
behavior that has one answers ``502`` naming it, and ``Distribution.notes`` lists it at
start-up); the failover of origin groups (the primary origin answers); geographic
restrictions, WAF web ACLs and signed URLs or cookies (trusted key groups); the viewer protocol
policy and TLS (local fronts are plain HTTP, so ``CloudFront-Forwarded-Proto`` says ``http``);
CloudFront headers that need the edge's knowledge (geolocation, device type, ASN, TLS, the
viewer's port); legacy origin access identities and anonymous S3 origins (the project's buckets
block public access: such a request answers ``403``); writes to S3 origins (only GET and HEAD
are read); compression; the Server-Timing header.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import http.client
import json
import logging
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import unquote, urlsplit
from xml.sax.saxutils import escape

from botocore.exceptions import ClientError  # type: ignore[import-untyped]

from tools.local.aws import plan_region, region_of
from tools.local.functions import Invocation
from tools.local.gateway import Reply, Request
from tools.local.iam import Check, PlanPolicies, Principal
from tools.mock_runtime import Resource, StackRun, reveal

LOG = logging.getLogger("tools.local.cloudfront")

DISTRIBUTION = "aws:cloudfront/distribution:Distribution"
ORIGIN_REQUEST_POLICY = "aws:cloudfront/originRequestPolicy:OriginRequestPolicy"
CACHE_POLICY = "aws:cloudfront/cachePolicy:CachePolicy"
RESPONSE_HEADERS_POLICY = "aws:cloudfront/responseHeadersPolicy:ResponseHeadersPolicy"
ORIGIN_ACCESS_CONTROL = "aws:cloudfront/originAccessControl:OriginAccessControl"
BUCKET = "aws:s3/bucket:Bucket"
CLOUDFRONT = "cloudfront.amazonaws.com"
EDGE_POP = "LOCAL1-P1"

EVENT_TYPES = ("viewer-request", "origin-request", "origin-response", "viewer-response")
ALL_METHODS = ("GET", "HEAD", "OPTIONS", "PUT", "POST", "PATCH", "DELETE")
KB = 1024
# The most a function may see of a request body, and return as a generated response or a
# replaced body: "Quotas on Lambda@Edge".
BODY_LIMITS = {"viewer-request": 40 * KB, "origin-request": 1024 * KB,
               "origin-response": 1024 * KB, "viewer-response": 40 * KB}
DEFAULT_READ_TIMEOUT = 30
DEFAULT_KEEPALIVE_TIMEOUT = 5

# Headers edge functions never see and may not add ("Restrictions on all edge functions").
DISALLOWED_HEADERS = frozenset({
    "connection", "expect", "keep-alive", "proxy-authenticate", "proxy-authorization",
    "proxy-connection", "trailer", "upgrade", "x-accel-buffering", "x-accel-charset",
    "x-accel-limit-rate", "x-accel-redirect", "x-amzn-auth", "x-amzn-cf-billing",
    "x-amzn-cf-id", "x-amzn-cf-xff", "x-amzn-errortype", "x-amzn-fle-profile",
    "x-amzn-header-count", "x-amzn-header-order", "x-amzn-lambda-integration-tag",
    "x-amzn-requestid", "x-cache", "x-forwarded-proto", "x-real-ip"})
DISALLOWED_PREFIXES = ("x-amz-cf-", "x-edge-")
# Headers a function may read but not add, change or remove, by event.
READ_ONLY_HEADERS = {
    "viewer-request": frozenset({"content-length", "host", "transfer-encoding", "via"}),
    "origin-request": frozenset({"accept-encoding", "content-length", "if-modified-since",
                                 "if-none-match", "if-range", "if-unmodified-since",
                                 "transfer-encoding", "via"}),
    "origin-response": frozenset({"transfer-encoding", "via"}),
    "viewer-response": frozenset({"content-encoding", "content-length", "transfer-encoding",
                                  "warning", "via"}),
}
# Viewer headers CloudFront forwards whatever the policies say: the body's and the
# conditional request's.
ALWAYS_FORWARDED = frozenset({"content-length", "content-md5", "content-type", "range",
                              "if-match", "if-modified-since", "if-none-match", "if-range",
                              "if-unmodified-since", "max-forwards", "pragma"})
# Authorization reaches the origin on methods that change something, policies or not.
AUTHORIZATION_FORWARDED_ON = frozenset({"DELETE", "PATCH", "POST", "PUT"})
HOP_BY_HOP = frozenset({"connection", "keep-alive", "proxy-authenticate", "proxy-authorization",
                        "proxy-connection", "te", "trailer", "transfer-encoding", "upgrade",
                        "content-length"})
# Viewer headers CloudFront sets, filters or passes on conditions of its own (_origin_headers).
HANDLED_APART = frozenset({"host", "user-agent", "via", "x-forwarded-for", "cookie",
                           "accept-encoding", "authorization"})
# The CloudFront headers local mode can give; the others need the edge's knowledge.
LOCAL_CLOUDFRONT_HEADERS: Mapping[str, tuple[str, str]] = {
    "cloudfront-forwarded-proto": ("CloudFront-Forwarded-Proto", "http"),
    "cloudfront-viewer-http-version": ("CloudFront-Viewer-Http-Version", "1.1"),
}
S3_HEADERS = ("content-type", "etag", "last-modified", "accept-ranges", "content-range",
              "cache-control", "content-disposition", "content-encoding", "content-language",
              "expires", "x-amz-version-id", "x-amz-server-side-encryption")

_VIEWER_CLOUDFRONT_HEADERS = (
    "CloudFront-Forwarded-Proto", "CloudFront-Is-Android-Viewer", "CloudFront-Is-Desktop-Viewer",
    "CloudFront-Is-IOS-Viewer", "CloudFront-Is-Mobile-Viewer", "CloudFront-Is-SmartTV-Viewer",
    "CloudFront-Is-Tablet-Viewer", "CloudFront-Viewer-Address", "CloudFront-Viewer-ASN",
    "CloudFront-Viewer-City", "CloudFront-Viewer-Country", "CloudFront-Viewer-Country-Name",
    "CloudFront-Viewer-Country-Region", "CloudFront-Viewer-Country-Region-Name",
    "CloudFront-Viewer-Http-Version", "CloudFront-Viewer-Latitude",
    "CloudFront-Viewer-Longitude", "CloudFront-Viewer-Metro-Code",
    "CloudFront-Viewer-Postal-Code", "CloudFront-Viewer-Time-Zone", "CloudFront-Viewer-TLS")


def _policy(headers: tuple[str, Sequence[str]], cookies: tuple[str, Sequence[str]],
            query_strings: tuple[str, Sequence[str]]) -> dict[str, Any]:
    """A policy's headers, cookies and query strings settings, in the plan's input shape."""
    return {"headersConfig": {"headerBehavior": headers[0], "headers": {"items": headers[1]}},
            "cookiesConfig": {"cookieBehavior": cookies[0], "cookies": {"items": cookies[1]}},
            "queryStringsConfig": {"queryStringBehavior": query_strings[0],
                                   "queryStrings": {"items": query_strings[1]}}}


_NONE: tuple[str, Sequence[str]] = ("none", ())
_ALL: tuple[str, Sequence[str]] = ("all", ())
_ORIGIN_OVERRIDES = ("host", "origin", "x-http-method-override", "x-http-method",
                     "x-method-override")

# AWS-managed origin request policies, by id ("Use managed origin request policies").
MANAGED_ORIGIN_REQUEST_POLICIES: Mapping[str, tuple[str, dict[str, Any]]] = {
    "216adef6-5c7f-47e4-b989-5492eafa07d3": ("AllViewer", _policy(("allViewer", ()), _ALL,
                                                                  _ALL)),
    "33f36d7e-f396-46d9-90e0-52428a34d9dc": ("AllViewerAndCloudFrontHeaders-2022-06", _policy(
        ("allViewerAndWhitelistCloudFront", _VIEWER_CLOUDFRONT_HEADERS), _ALL, _ALL)),
    "b689b0a8-53d0-40ab-baf2-68738e2966ac": ("AllViewerExceptHostHeader", _policy(
        ("allExcept", ("host",)), _ALL, _ALL)),
    "59781a5b-3903-41f3-afcb-af62929ccde1": ("CORS-CustomOrigin", _policy(
        ("whitelist", ("origin",)), _NONE, _NONE)),
    "88a5eaf4-2fd4-4709-b370-b4c650ea3fcf": ("CORS-S3Origin", _policy(
        ("whitelist", ("origin", "access-control-request-headers",
                       "access-control-request-method")), _NONE, _NONE)),
    "acba4595-bd28-49b8-b9fe-13317c0390fa": ("UserAgentRefererHeaders", _policy(
        ("whitelist", ("user-agent", "referer")), _NONE, _NONE)),
}

# AWS-managed cache policies, by id ("Use managed cache policies"): what their cache key holds,
# which CloudFront forwards too.
MANAGED_CACHE_POLICIES: Mapping[str, tuple[str, dict[str, Any]]] = {
    "4135ea2d-6df8-44a3-9df3-4b5a84be39ad": ("CachingDisabled", _policy(_NONE, _NONE, _NONE)),
    "658327ea-f89d-4fab-a63d-7e88639e58f6": ("CachingOptimized", {
        **_policy(_NONE, _NONE, _NONE), "enableAcceptEncodingGzip": True,
        "enableAcceptEncodingBrotli": True}),
    "b2884449-e4de-46a7-ac36-70bc7f1ddd6d": ("CachingOptimizedForUncompressedObjects",
                                             _policy(_NONE, _NONE, _NONE)),
    "83da9c7e-98b4-4e11-a168-04f0df8e2c65": ("UseOriginCacheControlHeaders", _policy(
        ("whitelist", _ORIGIN_OVERRIDES), _ALL, _NONE)),
    "4cc15a8a-d715-48a4-82b8-cc0b614638fe": ("UseOriginCacheControlHeaders-QueryStrings",
                                             _policy(("whitelist", _ORIGIN_OVERRIDES), _ALL,
                                                     _ALL)),
}

_SECURITY_HEADERS_POLICY: dict[str, Any] = {"securityHeadersConfig": {
    "strictTransportSecurity": {"accessControlMaxAgeSec": 31536000, "override": False},
    "contentTypeOptions": {"override": False},
    "frameOptions": {"frameOption": "SAMEORIGIN", "override": False},
    "referrerPolicy": {"referrerPolicy": "strict-origin-when-cross-origin", "override": False},
    "xssProtection": {"protection": True, "modeBlock": True, "override": False}}}
_SIMPLE_CORS: dict[str, Any] = {"corsConfig": {
    "accessControlAllowOrigins": {"items": ["*"]}, "accessControlAllowHeaders": {"items": []},
    "accessControlAllowMethods": {"items": []}, "accessControlAllowCredentials": False,
    "originOverride": False}}
_CORS_WITH_PREFLIGHT: dict[str, Any] = {"corsConfig": {
    "accessControlAllowOrigins": {"items": ["*"]}, "accessControlAllowHeaders": {"items": ["*"]},
    "accessControlAllowMethods": {"items": ["ALL"]}, "accessControlExposeHeaders":
        {"items": ["*"]}, "accessControlAllowCredentials": False, "originOverride": False}}

# AWS-managed response headers policies, by id ("Use managed response headers policies").
MANAGED_RESPONSE_HEADERS_POLICIES: Mapping[str, tuple[str, dict[str, Any]]] = {
    "67f7725c-6f97-4210-82d7-5512b31e9d03": ("SecurityHeadersPolicy", _SECURITY_HEADERS_POLICY),
    "60669652-455b-4ae9-85a4-c4c02393f86c": ("SimpleCORS", _SIMPLE_CORS),
    "5cc3b908-e619-4b99-88e5-2cf7f45965bd": ("CORS-With-Preflight", _CORS_WITH_PREFLIGHT),
    "e61eb60c-9c35-4d20-a928-2b84e02af89c": ("CORS-and-SecurityHeadersPolicy",
                                             {**_SIMPLE_CORS, **_SECURITY_HEADERS_POLICY}),
    "eaab4381-ed33-4a86-88ca-d9558dc6cd63": ("CORS-with-preflight-and-SecurityHeadersPolicy",
                                             {**_CORS_WITH_PREFLIGHT,
                                              **_SECURITY_HEADERS_POLICY}),
}


class CloudFrontError(Exception):
    """A distribution of the plan that local mode cannot serve as declared; the message says
    which, and why."""


class EdgeInvoker(Protocol):
    """What a distribution needs of local mode's Lambda service (``LocalLambda``)."""

    def invoke(self, function: str, event: Any, *, caller: Principal | None,
               source_arn: str | None = None, source_account: str | None = None
               ) -> Invocation: ...


class AwsClients(Protocol):
    """What a distribution needs of the embedded AWS (``EmbeddedAws``): clients."""

    def client(self, service: str, region: str | None = None) -> Any: ...


# --- what a distribution is made of ------------------------------------------------------------

@dataclass(frozen=True)
class Selection:
    """Which names of one kind (headers, cookies or query strings) a policy lets through.
    Header names are compared in lower case; cookie and query string names as written."""

    mode: str  # "none", "all", "whitelist" or "allExcept"
    names: frozenset[str] = frozenset()

    def admits(self, name: str) -> bool:
        if self.mode == "all":
            return True
        if self.mode == "whitelist":
            return name in self.names
        if self.mode == "allExcept":
            return name not in self.names
        return False


@dataclass(frozen=True)
class Forwarding:
    """What reaches the origin: the union of what the origin request policy and the cache
    policy include."""

    headers: tuple[Selection, ...] = ()
    cookies: tuple[Selection, ...] = ()
    query_strings: tuple[Selection, ...] = ()
    cloudfront_headers: frozenset[str] = frozenset()
    accept_encodings: tuple[str, ...] = ()

    def header(self, name: str) -> bool:
        return any(s.admits(name.lower()) for s in self.headers)

    def cookie(self, name: str) -> bool:
        return any(s.admits(name) for s in self.cookies)

    def query_string(self, name: str) -> bool:
        return any(s.admits(name) for s in self.query_strings)

    def __add__(self, other: Forwarding) -> Forwarding:
        return Forwarding(self.headers + other.headers, self.cookies + other.cookies,
                          self.query_strings + other.query_strings,
                          self.cloudfront_headers | other.cloudfront_headers,
                          self.accept_encodings + other.accept_encodings)


def _items(config: Mapping[str, Any] | None, key: str) -> list[str]:
    return [str(item) for item in ((config or {}).get(key) or {}).get("items") or []]


def _selection(config: Mapping[str, Any] | None, behavior_key: str, items_key: str,
               lower: bool = False) -> Selection:
    config = config or {}
    mode = str(config.get(behavior_key) or "none")
    names = _items(config, items_key)
    if mode in ("allViewer", "allViewerAndWhitelistCloudFront"):
        return Selection("all")
    if mode not in ("none", "all", "whitelist", "allExcept"):
        raise CloudFrontError(f"{behavior_key} {mode!r} is not one CloudFront knows")
    return Selection(mode, frozenset(n.lower() if lower else n for n in names))


def forwarding_of(policy: Mapping[str, Any]) -> Forwarding:
    """What an origin request policy, or a cache policy's key, sends to the origin."""
    headers_config = policy.get("headersConfig") or {}
    header_names = _items(headers_config, "headers")
    cloudfront = frozenset(n.lower() for n in header_names
                           if n.lower().startswith("cloudfront-"))
    headers = _selection(headers_config, "headerBehavior", "headers", lower=True)
    if headers_config.get("headerBehavior") == "allViewerAndWhitelistCloudFront":
        headers = Selection("all")
    elif headers.mode == "whitelist":
        headers = Selection("whitelist", headers.names - cloudfront)
    encodings = tuple(name for name, key in (("br", "enableAcceptEncodingBrotli"),
                                             ("gzip", "enableAcceptEncodingGzip"))
                      if policy.get(key))
    return Forwarding(
        (headers,),
        (_selection(policy.get("cookiesConfig"), "cookieBehavior", "cookies"),),
        (_selection(policy.get("queryStringsConfig"), "queryStringBehavior", "queryStrings"),),
        cloudfront, encodings)


def legacy_forwarding(values: Mapping[str, Any]) -> Forwarding:
    """A behavior's ``forwardedValues`` (the settings before cache policies)."""
    names = [str(n) for n in values.get("headers") or []]
    cloudfront = frozenset(n.lower() for n in names if n.lower().startswith("cloudfront-"))
    headers = Selection("all") if "*" in names else Selection(
        "whitelist", frozenset(n.lower() for n in names) - cloudfront)
    cookies_config = values.get("cookies") or {}
    forward = str(cookies_config.get("forward") or "none")
    cookies = Selection(forward, frozenset(
        str(n) for n in cookies_config.get("whitelistedNames") or []))
    query = Selection("all" if values.get("queryString") else "none")
    return Forwarding((headers,), (cookies,), (query,), cloudfront)


@dataclass(frozen=True)
class Cors:
    """A response headers policy's CORS configuration."""

    allow_origins: tuple[str, ...]
    allow_headers: tuple[str, ...]
    allow_methods: tuple[str, ...]
    expose_headers: tuple[str, ...]
    allow_credentials: bool
    max_age: int | None
    override: bool

    def headers_for(self, request: Request) -> list[tuple[str, str]]:
        """The CORS headers the answer to ``request`` gets; none for a request from an origin
        the policy does not allow, or from no origin at all."""
        origin = request.header("Origin")
        if origin is None or not any(_origin_matches(pattern, origin)
                                     for pattern in self.allow_origins):
            return []
        allowed = "*" if "*" in self.allow_origins and not self.allow_credentials else origin
        headers = [("Access-Control-Allow-Origin", allowed)]
        if self.allow_credentials:
            headers.append(("Access-Control-Allow-Credentials", "true"))
        preflight = (request.method == "OPTIONS"
                     and request.header("Access-Control-Request-Method") is not None)
        if preflight:
            methods = ALL_METHODS if "ALL" in self.allow_methods else self.allow_methods
            if methods:
                headers.append(("Access-Control-Allow-Methods", ", ".join(methods)))
            if self.allow_headers:
                headers.append(("Access-Control-Allow-Headers", ", ".join(self.allow_headers)))
            if self.max_age is not None:
                headers.append(("Access-Control-Max-Age", str(self.max_age)))
        elif self.expose_headers:
            headers.append(("Access-Control-Expose-Headers", ", ".join(self.expose_headers)))
        return headers


def _origin_matches(pattern: str, origin: str) -> bool:
    if pattern == "*":
        return True
    regex = ".*".join(re.escape(part) for part in pattern.lower().split("*"))
    return re.fullmatch(regex, origin.lower()) is not None


@dataclass(frozen=True)
class ResponseHeaders:
    """A response headers policy: headers added (each with its ``override``), CORS, and
    headers removed."""

    added: tuple[tuple[str, str, bool], ...] = ()
    cors: Cors | None = None
    removed: frozenset[str] = frozenset()

    def apply(self, request: Request, headers: list[tuple[str, str]]) -> list[tuple[str, str]]:
        kept = [(name, value) for name, value in headers if name.lower() not in self.removed]
        additions = [(name, value, override) for name, value, override in self.added]
        if self.cors is not None:
            additions += [(name, value, self.cors.override)
                          for name, value in self.cors.headers_for(request)]
        for name, value, override in additions:
            present = any(key.lower() == name.lower() for key, _ in kept)
            if present and not override:
                continue
            kept = [(key, old) for key, old in kept if key.lower() != name.lower()]
            kept.append((name, value))
        return kept


def response_headers_of(policy: Mapping[str, Any]) -> ResponseHeaders:
    added: list[tuple[str, str, bool]] = []
    security = policy.get("securityHeadersConfig") or {}
    transport = security.get("strictTransportSecurity")
    if transport:
        value = f"max-age={int(transport.get('accessControlMaxAgeSec') or 0)}"
        value += "; includeSubDomains" if transport.get("includeSubdomains") else ""
        value += "; preload" if transport.get("preload") else ""
        added.append(("Strict-Transport-Security", value, bool(transport.get("override"))))
    if (options := security.get("contentTypeOptions")) is not None:
        added.append(("X-Content-Type-Options", "nosniff", bool(options.get("override"))))
    if frame := security.get("frameOptions"):
        added.append(("X-Frame-Options", str(frame["frameOption"]), bool(frame.get("override"))))
    if referrer := security.get("referrerPolicy"):
        added.append(("Referrer-Policy", str(referrer["referrerPolicy"]),
                      bool(referrer.get("override"))))
    if xss := security.get("xssProtection"):
        value = "1" if xss.get("protection") else "0"
        if xss.get("protection") and xss.get("modeBlock"):
            value += "; mode=block"
        elif xss.get("protection") and xss.get("reportUri"):
            value += f"; report={xss['reportUri']}"
        added.append(("X-XSS-Protection", value, bool(xss.get("override"))))
    if csp := security.get("contentSecurityPolicy"):
        added.append(("Content-Security-Policy", str(csp["contentSecurityPolicy"]),
                      bool(csp.get("override"))))
    for item in (policy.get("customHeadersConfig") or {}).get("items") or []:
        added.append((str(item["header"]), str(item["value"]), bool(item.get("override"))))
    cors_config = policy.get("corsConfig")
    cors = None
    if cors_config:
        max_age = cors_config.get("accessControlMaxAgeSec")
        cors = Cors(
            tuple(_items(cors_config, "accessControlAllowOrigins")),
            tuple(_items(cors_config, "accessControlAllowHeaders")),
            tuple(_items(cors_config, "accessControlAllowMethods")),
            tuple(_items(cors_config, "accessControlExposeHeaders")),
            bool(cors_config.get("accessControlAllowCredentials")),
            int(max_age) if max_age is not None else None,
            bool(cors_config.get("originOverride")))
    removed = frozenset(str(item["header"]).lower() for item in
                        (policy.get("removeHeadersConfig") or {}).get("items") or [])
    return ResponseHeaders(tuple(added), cors, removed)


@dataclass(frozen=True)
class EdgeFunction:
    """A Lambda@Edge association: the function version, and whether it sees the body."""

    event_type: str
    arn: str
    include_body: bool


@dataclass(frozen=True)
class Behavior:
    """A cache behavior: which requests it takes, where they go and what runs on the way."""

    path_pattern: str
    target_origin: str
    allowed_methods: frozenset[str]
    forwarding: Forwarding
    response_headers: ResponseHeaders | None
    edge_functions: Mapping[str, EdgeFunction]
    cloudfront_functions: tuple[tuple[str, str], ...]

    def matches(self, path: str) -> bool:
        """Whether the path pattern takes ``path`` (``*`` any characters, ``?`` one; case
        matters; a pattern without its leading / means the same with it)."""
        if self.path_pattern == "*":
            return True
        pattern = "/" + self.path_pattern.lstrip("/")
        regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c)
                        for c in pattern)
        return re.fullmatch(regex, path, re.DOTALL) is not None


@dataclass(frozen=True)
class AccessControl:
    """An origin access control: how CloudFront signs its requests to the origin."""

    signing_behavior: str  # "always", "never" or "no-override"
    origin_type: str


@dataclass(frozen=True)
class Origin:
    """Where a request goes: a custom origin (an HTTP server) or an S3 bucket."""

    origin_id: str
    domain: str
    path: str
    custom_headers: tuple[tuple[str, str], ...]
    kind: str  # "custom" or "s3"
    port: int = 443
    protocol: str = "https"
    ssl_protocols: tuple[str, ...] = ("TLSv1.2",)
    read_timeout: int = DEFAULT_READ_TIMEOUT
    keepalive_timeout: int = DEFAULT_KEEPALIVE_TIMEOUT
    access_control: AccessControl | None = None
    access_identity: str | None = None
    region: str | None = None

    def event_object(self) -> dict[str, Any]:
        """The ``origin`` of a Lambda@Edge request event."""
        custom_headers = _cloudfront_headers(self.custom_headers)
        if self.kind == "s3":
            return {"s3": {
                "authMethod": "origin-access-identity" if self.access_identity else "none",
                "customHeaders": custom_headers, "domainName": self.domain,
                "path": self.path, "region": self.region or ""}}
        return {"custom": {
            "customHeaders": custom_headers, "domainName": self.domain,
            "keepaliveTimeout": self.keepalive_timeout, "path": self.path, "port": self.port,
            "protocol": self.protocol, "readTimeout": self.read_timeout,
            "sslProtocols": list(self.ssl_protocols)}}


def s3_bucket_of(domain: str) -> str | None:
    """The bucket an S3 origin domain names (``<bucket>.s3[.<region>].amazonaws.com``)."""
    match = re.fullmatch(r"(.+?)\.s3(?:[.-]([a-z0-9-]+))?\.amazonaws\.com", domain.lower())
    if match is None or (match.group(2) or "").startswith("website"):
        return None
    return match.group(1)


@dataclass(frozen=True)
class ErrorResponse:
    """A custom error response: the page and status that replace an error."""

    error_code: int
    response_code: int | None
    page_path: str | None


# --- Lambda@Edge's shapes ----------------------------------------------------------------------

def _cloudfront_headers(pairs: Iterable[tuple[str, str]]) -> dict[str, list[dict[str, str]]]:
    """Headers as Lambda@Edge shows them: lower-case name -> ``[{key, value}]``."""
    shown: dict[str, list[dict[str, str]]] = {}
    for name, value in pairs:
        shown.setdefault(name.lower(), []).append({"key": name, "value": value})
    return shown


def _header_pairs(headers: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Headers a function returned, as ``(name, value)`` pairs; a missing ``key`` is the
    lower-case name, as CloudFront fills it in."""
    return [(str(entry.get("key") or name), str(entry["value"]))
            for name, entries in headers.items() for entry in entries]


def _disallowed(name: str) -> bool:
    lower = name.lower()
    return lower in DISALLOWED_HEADERS or lower.startswith(DISALLOWED_PREFIXES)


class _EdgeError(Exception):
    """An answer CloudFront makes itself: an error, with the ``X-Cache`` word for it."""

    def __init__(self, status: int, cause: str, message: str, detail: str = "") -> None:
        super().__init__(detail or message)
        self.status, self.cause, self.message, self.detail = status, cause, message, detail

    def answer(self) -> _Answer:
        document = {"message": self.message, **({"detail": self.detail} if self.detail else {})}
        return _Answer(self.status, [("Content-Type", "application/json")],
                       json.dumps(document).encode(), f"{self.cause} from cloudfront")


def _validation_error(event_type: str, problem: str) -> _EdgeError:
    return _EdgeError(502, "LambdaValidationError",
                      "The Lambda function result failed validation.",
                      f"the {event_type} function's answer is not valid: {problem}")


@dataclass
class _Answer:
    """A response on its way to the viewer."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes
    x_cache: str = "Miss from cloudfront"
    description: str = ""
    from_origin: bool = False


def _check_headers(event_type: str, headers: Any) -> list[tuple[str, str]]:
    if not isinstance(headers, Mapping) or not all(
            isinstance(name, str) and isinstance(entries, list) and all(
                isinstance(entry, Mapping) and isinstance(entry.get("value"), str)
                and isinstance(entry.get("key", ""), str) for entry in entries)
            for name, entries in headers.items()):
        raise _validation_error(event_type, "headers must map lower-case names to lists of "
                                            "{key, value} strings")
    wrong_case = [name for name in headers if name != name.lower()]
    if wrong_case:
        raise _validation_error(event_type, f"header names must be in lower case: "
                                            f"{', '.join(wrong_case)}")
    mismatched = [name for name, entries in headers.items()
                  for entry in entries if entry.get("key", name).lower() != name]
    if mismatched:
        raise _validation_error(event_type, f"the key of a header must be its name: "
                                            f"{', '.join(mismatched)}")
    return _header_pairs(headers)


def _check_read_only(event_type: str, before: Mapping[str, Any],
                     after: Mapping[str, Any]) -> None:
    def values(headers: Mapping[str, Any], name: str) -> list[str]:
        return [str(entry.get("value")) for entry in headers.get(name) or []]

    changed = sorted(name for name in READ_ONLY_HEADERS[event_type]
                     if values(before, name) != values(after, name))
    if changed:
        raise _validation_error(event_type, f"it added, changed or removed the read-only "
                                            f"header(s) {', '.join(changed)}")
    added = sorted(name for name in after if _disallowed(name) and name not in before)
    if added:
        raise _validation_error(event_type, f"it added the disallowed header(s) "
                                            f"{', '.join(added)}")


def _status(event_type: str, value: Any) -> int:
    text = str(value) if isinstance(value, str | int) and not isinstance(value, bool) else ""
    if not text.isdigit() or not 200 <= int(text) <= 599:
        raise _validation_error(event_type, f"status {value!r} is not an HTTP status code "
                                            "from 200 to 599")
    return int(text)


def _body(event_type: str, data: Any, encoding: Any) -> bytes:
    if not isinstance(data, str):
        raise _validation_error(event_type, "a body must be a string")
    if encoding in (None, "text"):
        body = data.encode()
    elif encoding == "base64":
        try:
            body = base64.b64decode(data, validate=True)
        except (binascii.Error, ValueError):
            raise _validation_error(event_type, "the body is not valid base64") from None
    else:
        raise _validation_error(event_type, f"body encoding {encoding!r} is neither text nor "
                                            "base64")
    if len(body) > BODY_LIMITS[event_type]:
        raise _validation_error(event_type, f"the body is {len(body)} bytes, over the "
                                            f"{BODY_LIMITS[event_type] // KB} KB "
                                            f"{event_type} allows")
    return body


def _generated(event_type: str, answer: Mapping[str, Any]) -> _Answer:
    """A response a request function generated."""
    status = _status(event_type, answer.get("status"))
    headers = _check_headers(event_type, answer.get("headers") or {})
    added = sorted({name.lower() for name, _ in headers if _disallowed(name)})
    if added:
        raise _validation_error(event_type, f"it added the disallowed header(s) "
                                            f"{', '.join(added)}")
    body = _body(event_type, answer["body"], answer.get("bodyEncoding")) \
        if answer.get("body") is not None else b""
    size = len(body) + sum(len(name) + len(value) + 4 for name, value in headers)
    if size > BODY_LIMITS[event_type]:
        raise _validation_error(event_type, f"the generated response is {size} bytes, over "
                                            f"the {BODY_LIMITS[event_type] // KB} KB "
                                            f"{event_type} allows")
    return _Answer(status, headers, body, "LambdaGeneratedResponse from cloudfront",
                   str(answer.get("statusDescription") or ""))


# --- the distribution --------------------------------------------------------------------------

@dataclass
class _Exchange:
    """One viewer request on its way through the distribution."""

    viewer: Request
    request_id: str
    behavior: Behavior
    body: bytes


@dataclass
class _Passed:
    """A request a request function let through: the request (in Lambda@Edge's shape), the
    body that goes on, and, after origin-request, the origin it goes to."""

    request: dict[str, Any]
    body: bytes
    origin: Origin | None = None


@dataclass
class Distribution:
    """One distribution of the plan; ``handle`` answers a viewer's request as CloudFront
    would."""

    resource: str
    distribution_id: str
    domain_name: str
    arn: str
    account: str
    enabled: bool
    default_root_object: str
    origins_by_id: Mapping[str, Origin]
    behaviors: Sequence[Behavior]
    error_responses: Mapping[int, ErrorResponse]
    lambdas: EdgeInvoker
    served_origins: Mapping[str, str]
    aws: AwsClients | None
    policies: PlanPolicies
    bucket_regions: Mapping[str, str]
    aliases: tuple[str, ...] = ()
    notes: list[str] = field(default_factory=list)

    @property
    def public_origins(self) -> tuple[str, ...]:
        """Where viewers reach it: its aliases first, then its ``cloudfront.net`` domain."""
        return tuple(f"https://{host}" for host in (*self.aliases, self.domain_name) if host)

    @property
    def edge_id(self) -> str:
        """The host name of this distribution's edge servers, as ``Via`` names them."""
        return hashlib.sha256(self.distribution_id.encode()).hexdigest()[:32] + \
            ".cloudfront.net"

    def behavior_for(self, path: str) -> Behavior:
        """The first ordered behavior whose path pattern matches, else the default one."""
        return next(b for b in self.behaviors if b.matches(path))

    def handle(self, request: Request) -> Reply:
        request_id = base64.urlsafe_b64encode(os.urandom(40)).decode()
        uri = request.raw_path or "/"
        if uri == "/" and self.default_root_object:
            uri = "/" + self.default_root_object.lstrip("/")
        exchange = _Exchange(request, request_id, self.behavior_for(uri), request.body)
        try:
            answer = self._serve(exchange, uri)
        except _EdgeError as refusal:
            LOG.info("%s: %s %s answered %s: %s", self.resource, request.method,
                     request.raw_path, refusal.status, refusal.detail or refusal.message)
            answer = refusal.answer()
        return self._reply(exchange, answer)

    # -- the request's way

    def _serve(self, exchange: _Exchange, uri: str) -> _Answer:
        request, behavior = exchange.viewer, exchange.behavior
        if not self.enabled:
            raise _EdgeError(403, "Error", "The distribution is disabled.",
                             f"{self.resource} has enabled: false in the plan")
        if request.method not in behavior.allowed_methods:
            raise _EdgeError(403, "Error", "This distribution is not configured to allow the "
                             "HTTP request method that was used for this request.",
                             f"{request.method} is not among the allowed methods of the "
                             f"{behavior.path_pattern!r} behavior: "
                             f"{', '.join(sorted(behavior.allowed_methods))}")
        if behavior.cloudfront_functions:
            functions = ", ".join(f"{arn} on {event}" for event, arn in
                                  behavior.cloudfront_functions)
            raise _EdgeError(502, "FunctionExecutionError", "CloudFront Functions are not "
                             "emulated by local mode.",
                             f"the {behavior.path_pattern!r} behavior runs {functions}")
        viewer_request: dict[str, Any] = {
            "clientIp": request.source_ip,
            "headers": _cloudfront_headers((name, value) for name, value in request.headers
                                           if not _disallowed(name)),
            "method": request.method, "querystring": request.query, "uri": uri}
        function = behavior.edge_functions.get("viewer-request")
        if function is not None:
            outcome = self._request_function(exchange, function, viewer_request, exchange.body)
            if isinstance(outcome, _Answer):
                return outcome
            viewer_request, exchange.body = outcome.request, outcome.body
        answer = self._origin_side(exchange, viewer_request)
        function = behavior.edge_functions.get("viewer-response")
        if function is not None and answer.status < 400:
            answer = self._response_function(exchange, function, viewer_request, answer)
        return answer

    def _origin_side(self, exchange: _Exchange, viewer_request: Mapping[str, Any]) -> _Answer:
        """Everything between the edge and the origin, and the custom error response that
        replaces an origin's error."""
        answer = self._fetch(exchange, exchange.behavior, viewer_request, exchange.body)
        error = self.error_responses.get(answer.status) if answer.from_origin else None
        if error is None:
            return answer
        if error.page_path:
            page_request = {**viewer_request, "method": "GET", "querystring": "",
                            "uri": error.page_path}
            page = self._fetch(exchange, self.behavior_for(error.page_path), page_request, b"")
            if page.status >= 400:
                LOG.warning("%s: the custom error page %s answered %s; serving the error as "
                            "is", self.resource, error.page_path, page.status)
                return answer
            answer = page
        answer.status = error.response_code or answer.status
        answer.description = ""
        return answer

    def _fetch(self, exchange: _Exchange, behavior: Behavior,
               viewer_request: Mapping[str, Any], body: bytes) -> _Answer:
        """The origin request (its function included), the origin's answer and the
        origin-response function."""
        origin = self.origins_by_id[behavior.target_origin]
        origin_request: dict[str, Any] = {
            **viewer_request,
            "headers": _cloudfront_headers(self._origin_headers(
                exchange, behavior.forwarding, origin, viewer_request)),
            "querystring": _forwarded_query(behavior.forwarding,
                                            str(viewer_request.get("querystring") or "")),
            "origin": origin.event_object()}
        function = behavior.edge_functions.get("origin-request")
        if function is not None:
            outcome = self._request_function(exchange, function, origin_request, body)
            if isinstance(outcome, _Answer):
                return outcome
            origin_request, body = outcome.request, outcome.body
            origin = outcome.origin or origin
        answer = self._forward(exchange, origin, origin_request, body)
        function = behavior.edge_functions.get("origin-response")
        if function is not None:
            answer = self._response_function(exchange, function, origin_request, answer)
        return answer

    def _origin_headers(self, exchange: _Exchange, forwarding: Forwarding, origin: Origin,
                        viewer_request: Mapping[str, Any]) -> list[tuple[str, str]]:
        """The viewer's headers CloudFront forwards, and the ones it sets itself."""
        method = str(viewer_request["method"])
        viewer = _header_pairs(viewer_request.get("headers") or {})
        forwarded = [(name, value) for name, value in viewer
                     if name.lower() not in HANDLED_APART and not _disallowed(name)
                     and not name.lower().startswith("cloudfront-")
                     and (name.lower() in ALWAYS_FORWARDED or forwarding.header(name))]

        def viewer_value(name: str) -> str | None:
            return _first(viewer, name)

        host = viewer_value("host") if forwarding.header("host") and origin.kind == "custom" \
            else None
        headers = [("Host", host or origin.domain), *forwarded]
        authorization = viewer_value("authorization")
        if authorization is not None and (method in AUTHORIZATION_FORWARDED_ON
                                          or forwarding.header("authorization")):
            headers.append(("Authorization", authorization))
        cookies = [pair for pair in _cookies(viewer) if forwarding.cookie(pair[0])]
        if cookies:
            headers.append(("Cookie", "; ".join(f"{name}={value}" for name, value in cookies)))
        encoding = viewer_value("accept-encoding")
        if encoding is not None and forwarding.header("accept-encoding"):
            headers.append(("Accept-Encoding", encoding))
        elif encoding is not None and forwarding.accept_encodings:
            offered = {part.split(";")[0].strip().lower() for part in encoding.split(",")}
            normalized = [e for e in forwarding.accept_encodings if e in offered]
            if normalized:
                headers.append(("Accept-Encoding", ",".join(normalized)))
        user_agent = viewer_value("user-agent") if forwarding.header("user-agent") else None
        headers.append(("User-Agent", user_agent or "Amazon CloudFront"))
        via = f"1.1 {self.edge_id} (CloudFront)"
        prior_via = viewer_value("via")
        headers.append(("Via", f"{prior_via}, {via}" if prior_via else via))
        client = exchange.viewer.source_ip
        prior = viewer_value("x-forwarded-for")
        headers.append(("X-Forwarded-For", f"{prior}, {client}" if prior else client))
        headers += [LOCAL_CLOUDFRONT_HEADERS[name] for name in sorted(
            forwarding.cloudfront_headers) if name in LOCAL_CLOUDFRONT_HEADERS]
        return headers

    # -- Lambda@Edge

    def _invoke(self, exchange: _Exchange, function: EdgeFunction,
                cf: Mapping[str, Any]) -> Any:
        event = {"Records": [{"cf": {
            "config": {"distributionDomainName": self.domain_name,
                       "distributionId": self.distribution_id,
                       "eventType": function.event_type, "requestId": exchange.request_id},
            **cf}}]}
        try:
            invocation = self.lambdas.invoke(function.arn, event, caller=None)
        except LookupError as missing:
            raise _EdgeError(503, "LambdaExecutionError", _EXECUTION_ERROR,
                             f"the {function.event_type} function {function.arn} is not one "
                             f"local mode runs: {missing}") from None
        if invocation.error:
            payload = invocation.payload if isinstance(invocation.payload, Mapping) else {}
            raise _EdgeError(503, "LambdaExecutionError", _EXECUTION_ERROR,
                             f"the {function.event_type} function {function.arn} failed: "
                             f"{payload.get('errorType', 'Error')}: "
                             f"{payload.get('errorMessage', invocation.payload)}")
        return invocation.payload

    def _request_function(self, exchange: _Exchange, function: EdgeFunction,
                          cf_request: Mapping[str, Any], body: bytes) -> _Passed | _Answer:
        """Runs a request function: the request it lets through, or the response it made."""
        event_type = function.event_type
        shown = dict(cf_request)
        if function.include_body:
            limit = BODY_LIMITS[event_type]
            shown["body"] = {"inputTruncated": len(body) > limit, "action": "read-only",
                             "encoding": "base64",
                             "data": base64.b64encode(body[:limit]).decode()}
        answer = self._invoke(exchange, function, {"request": shown})
        if not isinstance(answer, Mapping):
            raise _validation_error(event_type, f"it answered {type(answer).__name__}, not a "
                                                "request or a response object")
        if "status" in answer:
            return _generated(event_type, answer)
        return self._checked_request(event_type, shown, answer, body)

    def _checked_request(self, event_type: str, before: Mapping[str, Any],
                         after: Mapping[str, Any], body: bytes) -> _Passed:
        uri = after.get("uri")
        if not isinstance(uri, str) or not uri.startswith("/"):
            raise _validation_error(event_type, f"uri {uri!r} is not a path starting with /")
        query = after.get("querystring", "")
        if not isinstance(query, str) or query.startswith("?"):
            raise _validation_error(event_type, "querystring must be a string without its ?")
        for read_only in ("method", "clientIp"):
            if after.get(read_only) != before.get(read_only):
                raise _validation_error(event_type, f"{read_only} is read-only")
        headers = after.get("headers") or {}
        _check_headers(event_type, headers)
        _check_read_only(event_type, before.get("headers") or {}, headers)
        passed = _Passed({key: value for key, value in before.items() if key != "body"}, body)
        passed.request.update(uri=uri, querystring=query, headers=headers)
        replaced = after.get("body")
        if isinstance(replaced, Mapping) and replaced.get("action") == "replace":
            passed.body = _body(event_type, replaced.get("data"), replaced.get("encoding"))
        if event_type == "origin-request":
            passed.origin = self._checked_origin(event_type, after.get("origin"))
            passed.request["origin"] = passed.origin.event_object()
        return passed

    def _checked_origin(self, event_type: str, origin: Any) -> Origin:
        """The origin an origin-request function chose: one of the plan's, or any other."""
        kinds = [kind for kind in ("custom", "s3") if isinstance(origin, Mapping)
                 and isinstance(origin.get(kind), Mapping)]
        if len(kinds) != 1 or len(origin) != 1:
            raise _validation_error(event_type, "origin must hold exactly one of custom and s3")
        kind = kinds[0]
        config = origin[kind]
        domain = config.get("domainName")
        path = config.get("path", "")
        if not isinstance(domain, str) or not domain:
            raise _validation_error(event_type, f"the {kind} origin needs a domainName")
        if not isinstance(path, str) or (path and (not path.startswith("/")
                                                   or path.endswith("/"))):
            raise _validation_error(event_type, f"origin path {path!r} must be empty or start "
                                                "with / and not end with /")
        custom_headers = tuple(_check_headers(event_type, config.get("customHeaders") or {}))
        known = next((o for o in self.origins_by_id.values()
                      if o.domain == domain.lower() and o.kind == kind), None)
        if kind == "s3":
            return Origin(
                origin_id=known.origin_id if known else domain, domain=domain.lower(),
                path=path, custom_headers=custom_headers, kind="s3",
                access_control=known.access_control if known else None,
                access_identity=known.access_identity if known else None,
                region=str(config.get("region") or "") or (known.region if known else None))
        protocol, port = config.get("protocol", "https"), config.get("port", 443)
        if protocol not in ("http", "https"):
            raise _validation_error(event_type, "origin protocol must be http or https")
        if not isinstance(port, int) or not (port in (80, 443) or 1024 <= port <= 65535):
            raise _validation_error(event_type, f"origin port {port!r} is not 80, 443 or "
                                                "1024-65535")
        timeouts = [config.get(key, default) for key, default in (
            ("readTimeout", DEFAULT_READ_TIMEOUT), ("keepaliveTimeout",
                                                    DEFAULT_KEEPALIVE_TIMEOUT))]
        if not all(isinstance(t, int) and 1 <= t <= 180 for t in timeouts):
            raise _validation_error(event_type, "origin timeouts must be whole seconds")
        return Origin(
            origin_id=known.origin_id if known else domain, domain=domain.lower(), path=path,
            custom_headers=custom_headers, kind="custom", port=port, protocol=protocol,
            ssl_protocols=tuple(config.get("sslProtocols") or ("TLSv1.2",)),
            read_timeout=timeouts[0], keepalive_timeout=timeouts[1])

    def _response_function(self, exchange: _Exchange, function: EdgeFunction,
                           cf_request: Mapping[str, Any], answer: _Answer) -> _Answer:
        """Runs a response function on ``answer``: the response it answers."""
        event_type = function.event_type
        request = {key: value for key, value in cf_request.items()
                   if key != "origin" or event_type == "origin-response"}
        shown_headers = _cloudfront_headers((name, value) for name, value in answer.headers
                                            if not _disallowed(name))
        response = {"headers": shown_headers, "status": str(answer.status),
                    "statusDescription": answer.description
                    or http.client.responses.get(answer.status, "")}
        returned = self._invoke(exchange, function, {"request": request, "response": response})
        if not isinstance(returned, Mapping) or "status" not in returned:
            raise _validation_error(event_type, "it must answer the response object")
        status = _status(event_type, returned["status"])
        if event_type == "viewer-response" and status != answer.status:
            raise _validation_error(event_type, "a viewer-response function cannot change the "
                                                "status code")
        headers = returned.get("headers") or {}
        pairs = _check_headers(event_type, headers)
        _check_read_only(event_type, shown_headers, headers)
        hidden = [(name, value) for name, value in answer.headers if _disallowed(name)]
        body = answer.body
        if event_type == "origin-response" and returned.get("body") is not None:
            body = _body(event_type, returned["body"], returned.get("bodyEncoding"))
        return _Answer(status, [*pairs, *hidden], body, answer.x_cache,
                       str(returned.get("statusDescription") or ""), answer.from_origin)

    # -- origins

    def _forward(self, exchange: _Exchange, origin: Origin,
                 origin_request: Mapping[str, Any], body: bytes) -> _Answer:
        headers = [*_header_pairs(origin_request["headers"]), *origin.custom_headers,
                   ("X-Amz-Cf-Id", exchange.request_id)]
        if _first(headers, "host") is None:
            headers.insert(0, ("Host", origin.domain))
        method = str(origin_request["method"])
        path = origin.path + str(origin_request["uri"])
        if origin.kind == "s3":
            return self._read_s3(exchange, origin, method, path, headers)
        base = self.served_origins.get(origin.domain)
        if base is None:
            served = ", ".join(sorted(self.served_origins)) or "none"
            raise _EdgeError(502, "Error", "CloudFront wasn't able to resolve the origin domain "
                             "name.", f"local mode serves no origin {origin.domain}; the "
                             f"origins it serves: {served}")
        query = str(origin_request.get("querystring") or "")
        return self._http(origin, base, method, path, query, headers, body)

    def _http(self, origin: Origin, base: str, method: str, path: str, query: str,
              headers: list[tuple[str, str]], body: bytes) -> _Answer:
        target = urlsplit(base)
        connection = http.client.HTTPConnection(target.hostname or "127.0.0.1", target.port,
                                                timeout=origin.read_timeout)
        try:
            connection.putrequest(method, target.path.rstrip("/") + path
                                  + (f"?{query}" if query else ""),
                                  skip_host=True, skip_accept_encoding=True)
            for name, value in headers:
                if name.lower() not in HOP_BY_HOP:
                    connection.putheader(name, value)
            if body or method in ("POST", "PUT", "PATCH"):
                connection.putheader("Content-Length", str(len(body)))
            connection.endheaders(body or None)
            response = connection.getresponse()
            content = response.read()
        except TimeoutError:
            raise _EdgeError(504, "Error", "CloudFront attempted to establish a connection with "
                             "the origin, but the origin didn't respond in time.",
                             f"{base} did not answer within {origin.read_timeout} s") from None
        except OSError as error:
            raise _EdgeError(502, "Error", "CloudFront wasn't able to connect to the origin.",
                             f"{origin.domain} is served at {base}, which refused: "
                             f"{error}") from None
        finally:
            connection.close()
        kept = [(name, value) for name, value in response.getheaders()
                if name.lower() not in HOP_BY_HOP]
        return _Answer(response.status, kept, content, description=response.reason,
                       from_origin=True)

    def _read_s3(self, exchange: _Exchange, origin: Origin, method: str, path: str,
                 headers: list[tuple[str, str]]) -> _Answer:
        bucket = s3_bucket_of(origin.domain)
        if bucket is None or self.aws is None:
            raise _EdgeError(502, "Error", "CloudFront wasn't able to connect to the origin.",
                             f"{origin.domain} is not an S3 bucket of the embedded AWS")
        if method not in ("GET", "HEAD"):
            raise _EdgeError(501, "Error", "Local mode reads S3 origins with GET and HEAD only.",
                             f"{method} to {origin.domain} would write to the bucket")
        key = unquote(path.lstrip("/"))
        object_arn = f"arn:aws:s3:::{bucket}/{key}"
        if origin.access_control is None or origin.access_control.signing_behavior == "never":
            how = ("a legacy origin access identity, which local mode does not emulate"
                   if origin.access_identity else "no origin access control (anonymous)")
            LOG.info("%s: %s reads %s with %s: refused", self.resource, self.arn, object_arn,
                     how)
            return _s3_error(403, "AccessDenied", "Access Denied", exchange.request_id)
        if not self._cloudfront_may("s3:GetObject", object_arn):
            return _s3_error(403, "AccessDenied", "Access Denied", exchange.request_id)
        key_arn = self.policies.topology.bucket_keys.get(bucket)
        if key_arn is not None and not self._cloudfront_may("kms:Decrypt", key_arn):
            return _s3_error(403, "AccessDenied", "Access Denied", exchange.request_id)
        s3 = self.aws.client("s3", origin.region or self.bucket_regions.get(bucket))
        wanted = {k: v for k, v in (("Range", _first(headers, "range")),
                                    ("IfNoneMatch", _first(headers, "if-none-match")),
                                    ("IfMatch", _first(headers, "if-match"))) if v}
        try:
            read = s3.get_object if method == "GET" else s3.head_object
            found = read(Bucket=bucket, Key=key, **wanted)
        except ClientError as error:
            status = int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 500)
            if status == 304:
                return _Answer(304, [("Server", "AmazonS3")], b"", from_origin=True)
            if status == 404:
                if self._cloudfront_may("s3:ListBucket", f"arn:aws:s3:::{bucket}"):
                    return _s3_error(404, "NoSuchKey", "The specified key does not exist.",
                                     exchange.request_id, key)
                return _s3_error(403, "AccessDenied", "Access Denied", exchange.request_id)
            code = error.response.get("Error", {}).get("Code", "InternalError")
            return _s3_error(status, code, str(error.response.get("Error", {}).get(
                "Message", code)), exchange.request_id)
        raw = found["ResponseMetadata"]["HTTPHeaders"]
        answer_headers = [(name.title().replace("Etag", "ETag"), raw[name])
                          for name in S3_HEADERS if name in raw]
        answer_headers += [(name, value) for name, value in raw.items()
                           if name.startswith("x-amz-meta-")]
        content = found["Body"].read() if method == "GET" else b""
        status = int(found["ResponseMetadata"]["HTTPStatusCode"])
        return _Answer(status, [*answer_headers, ("Server", "AmazonS3")], content,
                       from_origin=True)

    def _cloudfront_may(self, action: str, arn: str) -> bool:
        decision = self.policies.authorize(
            Principal.service_principal(CLOUDFRONT),
            Check(action, arn, context={"aws:SourceArn": self.arn,
                                        "aws:SourceAccount": self.account}))
        if not decision.allowed:
            LOG.info("%s: %s", self.resource, decision.explain())
        return decision.allowed

    # -- the reply

    def _reply(self, exchange: _Exchange, answer: _Answer) -> Reply:
        headers = [*answer.headers]
        via = f"1.1 {self.edge_id} (CloudFront)"
        x_cache = "Error from cloudfront" if answer.from_origin and answer.status >= 400 \
            else answer.x_cache
        headers += [("Via", via), ("X-Cache", x_cache), ("X-Amz-Cf-Pop", EDGE_POP),
                    ("X-Amz-Cf-Id", exchange.request_id)]
        policy = exchange.behavior.response_headers
        if policy is not None:
            headers = policy.apply(exchange.viewer, headers)
        return Reply(answer.status, headers, answer.body)


_EXECUTION_ERROR = ("The Lambda function associated with the CloudFront distribution is invalid "
                    "or doesn't have the required permissions.")


def _forwarded_query(forwarding: Forwarding, query: str) -> str:
    """The query string's parameters the policies forward, as the viewer encoded them."""
    pairs = [pair for pair in query.split("&") if pair]
    return "&".join(pair for pair in pairs
                    if forwarding.query_string(unquote(pair.partition("=")[0])))


def _first(headers: Sequence[tuple[str, str]], name: str) -> str | None:
    return next((value for key, value in headers if key.lower() == name), None)


def _cookies(headers: Sequence[tuple[str, str]]) -> list[tuple[str, str]]:
    pairs = []
    for name, value in headers:
        if name.lower() == "cookie":
            for part in value.split(";"):
                cookie, _, content = part.strip().partition("=")
                if cookie:
                    pairs.append((cookie, content))
    return pairs


def _s3_error(status: int, code: str, message: str, request_id: str,
              key: str | None = None) -> _Answer:
    """An S3 error document, as S3 answers it through CloudFront."""
    key_element = f"<Key>{escape(key)}</Key>" if key is not None else ""
    body = (f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{escape(code)}</Code>'
            f"<Message>{escape(message)}</Message>{key_element}"
            f"<RequestId>{escape(request_id[:16])}</RequestId></Error>")
    return _Answer(status, [("Content-Type", "application/xml"), ("Server", "AmazonS3")],
                   body.encode(), from_origin=True)


# --- reading the plan --------------------------------------------------------------------------

def distributions(run: StackRun, *, lambdas: EdgeInvoker, origins: Mapping[str, str],
                  aws: AwsClients | None, policies: PlanPolicies) -> list[Distribution]:
    """A ``Distribution`` for every CloudFront distribution of the plan.

    ``origins`` maps an origin domain the plan names (an API's execute-api domain) to the local
    base URL that serves it; ``aws`` reads S3 origins (``None`` when no distribution has
    one)."""
    reader = _PlanReader(run)
    served = {domain.lower(): url.rstrip("/") for domain, url in origins.items()}
    return [reader.distribution(resource, lambdas, served, aws, policies)
            for resource in run.of_type(DISTRIBUTION)]


class _PlanReader:
    def __init__(self, run: StackRun) -> None:
        self.run = run
        self.origin_request_policies = self._by_id(ORIGIN_REQUEST_POLICY,
                                                   MANAGED_ORIGIN_REQUEST_POLICIES)
        self.cache_policies = {
            policy_id: (name, config.get("parametersInCacheKeyAndForwardedToOrigin") or config)
            for policy_id, (name, config) in self._by_id(CACHE_POLICY,
                                                         MANAGED_CACHE_POLICIES).items()}
        self.response_headers_policies = self._by_id(RESPONSE_HEADERS_POLICY,
                                                     MANAGED_RESPONSE_HEADERS_POLICIES)
        self.access_controls = {
            str(r.id): AccessControl(str(inputs.get("signingBehavior") or "always"),
                                     str(inputs.get("originAccessControlOriginType") or "s3"))
            for r in run.of_type(ORIGIN_ACCESS_CONTROL)
            for inputs in [reveal(dict(r.inputs))]}
        default_region = plan_region(run)
        self.bucket_regions = {str(r.state.get("bucket")): region_of(run, r, default_region)
                               for r in run.of_type(BUCKET)}

    def _by_id(self, type_: str, managed: Mapping[str, tuple[str, dict[str, Any]]]
               ) -> dict[str, tuple[str, dict[str, Any]]]:
        found = dict(managed)
        for resource in self.run.of_type(type_):
            found[str(resource.id)] = (resource.name, reveal(dict(resource.inputs)))
        return found

    def _policy(self, known: Mapping[str, tuple[str, dict[str, Any]]], policy_id: str,
                kind: str, where: str) -> dict[str, Any]:
        if policy_id not in known:
            raise CloudFrontError(f"{where}: {kind} {policy_id!r} is neither in the plan nor an "
                                  "AWS-managed policy local mode knows (tools/local/"
                                  "cloudfront.py)")
        return known[policy_id][1]

    def distribution(self, resource: Resource, lambdas: EdgeInvoker,
                     served: Mapping[str, str], aws: AwsClients | None,
                     policies: PlanPolicies) -> Distribution:
        inputs = reveal(dict(resource.inputs))
        where = f"distribution {resource.name}"
        arn = str(resource.state["arn"])
        notes: list[str] = []
        origins = {origin.origin_id: origin for origin in
                   (self._origin(dict(o), where) for o in inputs.get("origins") or [])}
        for group in inputs.get("originGroups") or []:
            primary = str(group["members"][0]["originId"])
            origins[str(group["originId"])] = origins[primary]
            notes.append(f"{where}: origin group {group['originId']!r} always uses its primary "
                         f"origin {primary!r}; failover is not emulated")
        behaviors = [self._behavior(dict(b), origins, f"{where}, behavior "
                                                      f"{b.get('pathPattern')!r}")
                     for b in inputs.get("orderedCacheBehaviors") or []]
        behaviors.append(self._behavior({**inputs["defaultCacheBehavior"], "pathPattern": "*"},
                                        origins, f"{where}, default behavior"))
        for behavior in behaviors:
            for event, function_arn in behavior.cloudfront_functions:
                notes.append(f"{where}: CloudFront Functions are not emulated; requests to "
                             f"{behavior.path_pattern!r} answer 502 ({function_arn} on "
                             f"{event})")
        restriction = ((inputs.get("restrictions") or {}).get("geoRestriction") or {}).get(
            "restrictionType", "none")
        if restriction != "none":
            notes.append(f"{where}: the geographic restriction ({restriction}) is not applied")
        if any(b.get("trustedKeyGroups") or b.get("trustedSigners") for b in
               [inputs["defaultCacheBehavior"], *(inputs.get("orderedCacheBehaviors") or [])]):
            notes.append(f"{where}: signed URLs and cookies are not required locally")
        if inputs.get("webAclId"):
            notes.append(f"{where}: the web ACL is not applied; local requests are not filtered")
        return Distribution(
            resource=resource.name, distribution_id=str(resource.id),
            domain_name=str(resource.state.get("domainName") or ""), arn=arn,
            account=arn.split(":")[4], enabled=bool(inputs.get("enabled", True)),
            default_root_object=str(inputs.get("defaultRootObject") or ""),
            origins_by_id=origins, behaviors=behaviors,
            error_responses={int(e["errorCode"]): ErrorResponse(
                int(e["errorCode"]),
                int(e["responseCode"]) if e.get("responseCode") not in (None, "") else None,
                e.get("responsePagePath") or None)
                for e in inputs.get("customErrorResponses") or []},
            lambdas=lambdas, served_origins=served, aws=aws, policies=policies,
            bucket_regions=self.bucket_regions,
            aliases=tuple(str(alias) for alias in inputs.get("aliases") or ()), notes=notes)

    def _behavior(self, config: Mapping[str, Any], origins: Mapping[str, Origin],
                  where: str) -> Behavior:
        if str(config["targetOriginId"]) not in origins:
            raise CloudFrontError(f"{where}: targets origin {config['targetOriginId']!r}, which "
                                  "the distribution does not declare")
        if config.get("cachePolicyId"):
            cache = self._policy(self.cache_policies, str(config["cachePolicyId"]),
                                 "cache policy", where)
            forwarding = forwarding_of(cache)
        else:
            forwarding = legacy_forwarding(config.get("forwardedValues") or {})
        if config.get("originRequestPolicyId"):
            forwarding += forwarding_of(self._policy(
                self.origin_request_policies, str(config["originRequestPolicyId"]),
                "origin request policy", where))
        response_headers = None
        if config.get("responseHeadersPolicyId"):
            response_headers = response_headers_of(self._policy(
                self.response_headers_policies, str(config["responseHeadersPolicyId"]),
                "response headers policy", where))
        edge: dict[str, EdgeFunction] = {}
        for association in config.get("lambdaFunctionAssociations") or []:
            event_type = str(association["eventType"])
            if event_type not in EVENT_TYPES:
                raise CloudFrontError(f"{where}: Lambda@Edge event type {event_type!r} is not "
                                      f"one of {', '.join(EVENT_TYPES)}")
            edge[event_type] = EdgeFunction(event_type, str(association["lambdaArn"]),
                                            bool(association.get("includeBody")))
        return Behavior(
            path_pattern=str(config["pathPattern"]),
            target_origin=str(config["targetOriginId"]),
            allowed_methods=frozenset(str(m).upper() for m in config.get("allowedMethods")
                                      or ("GET", "HEAD")),
            forwarding=forwarding, response_headers=response_headers, edge_functions=edge,
            cloudfront_functions=tuple((str(f["eventType"]), str(f["functionArn"]))
                                       for f in config.get("functionAssociations") or []))

    def _origin(self, config: Mapping[str, Any], where: str) -> Origin:
        domain = str(config["domainName"]).lower()
        custom_headers = tuple((str(h["name"]), str(h["value"]))
                               for h in config.get("customHeaders") or [])
        path = str(config.get("originPath") or "")
        custom = config.get("customOriginConfig")
        if custom:
            return Origin(
                origin_id=str(config["originId"]), domain=domain, path=path,
                custom_headers=custom_headers, kind="custom",
                port=int(custom.get("httpsPort") or 443)
                if custom.get("originProtocolPolicy") != "http-only"
                else int(custom.get("httpPort") or 80),
                protocol="http" if custom.get("originProtocolPolicy") == "http-only"
                else "https",
                ssl_protocols=tuple(custom.get("originSslProtocols") or ("TLSv1.2",)),
                read_timeout=int(custom.get("originReadTimeout") or DEFAULT_READ_TIMEOUT),
                keepalive_timeout=int(custom.get("originKeepaliveTimeout")
                                      or DEFAULT_KEEPALIVE_TIMEOUT))
        bucket = s3_bucket_of(domain)
        if bucket is None:
            raise CloudFrontError(f"{where}: origin {config['originId']!r} ({domain}) has no "
                                  "customOriginConfig and is not an S3 bucket domain")
        access_control_id = config.get("originAccessControlId")
        access_control = None
        if access_control_id:
            access_control = self.access_controls.get(str(access_control_id))
            if access_control is None:
                raise CloudFrontError(f"{where}: origin access control {access_control_id!r} "
                                      "is not in the plan")
        identity = str((config.get("s3OriginConfig") or {}).get("originAccessIdentity") or "")
        return Origin(
            origin_id=str(config["originId"]), domain=domain, path=path,
            custom_headers=custom_headers, kind="s3", access_control=access_control,
            access_identity=identity or None, region=self.bucket_regions.get(bucket))

