"""REQUEST Lambda authorizer: accept an API key in the ``apiKey`` query string parameter.

The REST API's ``apiKeySource`` is ``AUTHORIZER``: this function finds the key and returns it as
``usageIdentifierKey`` in an Allow policy, and API Gateway then checks the key against the
stage's usage plans (throttling, quota, and whether the key exists and is enabled at all). The
function never looks keys up itself.

Where the public sample is weak, this does better:

- a missing, empty or malformed key, or a malformed event, is refused with
  ``Exception("Unauthorized")`` (API Gateway answers 401) instead of crashing with a KeyError
  (which API Gateway turns into a 500). An event API Gateway never sends (not a ``REQUEST``
  event, a query string or headers that are not maps of strings...) is refused so by
  ``blueprints_common.entry`` before this function reads it;
- a key must look like an API Gateway key before it is passed on: a string of 20 to 128
  characters from ``KEY_ALPHABET``. API Gateway documents keys, generated (40 characters) or
  imported, as alphanumeric strings of 20 to 128 characters; ``-`` and ``_`` are accepted as
  well, since they are URL-safe and some imported keys use them, and a key that is not in a
  usage plan is refused by API Gateway anyway;
- the policy allows only the requested method and path (``methodArn``, whose region and
  account must be ASCII letters and digits), not one hard-coded path. With the authorizer
  cache on, one answer is reused for every method the same key calls until the TTL ends, so it
  allows exactly the methods in ``ALLOWED_METHODS`` instead: scoping to the first method called
  would refuse every other one from the cache;
- the key is never logged, traced or used as the principal: ``principalId`` and the logs carry
  a short SHA-256 fingerprint of it, and the tracer does not record the response (which holds
  the key as ``usageIdentifierKey``);
- the migration to the ``x-api-key`` header is built in: with ``ACCEPT_HEADER_KEY=true`` the
  header is read too, and a request whose header and query string name different keys, or that
  repeats ``apiKey`` with different values, is denied (an explicit Deny, 403) rather than have
  the function pick one.

Environment:

======================  =====================================================================
``ACCEPT_HEADER_KEY``   ``true`` to accept the key in the ``x-api-key`` header as well.
                        Default ``false``.
``AUTHORIZER_CACHE``    ``true`` when the API caches this authorizer's answers
                        (``authorizerResultTtlInSeconds`` > 0). Default ``false``.
``ALLOWED_METHODS``     Comma-separated ``METHOD/path`` entries a key may call, such as
                        ``POST/customizations,GET/customizations/*`` (``*`` matches any
                        characters, ``/`` included, as in IAM). Required when the cache is on;
                        when set with the cache off, a request outside it is denied.
======================  =====================================================================

A settings error (an unknown flag value, a malformed entry, the cache on without
``ALLOWED_METHODS``) is logged and every request is refused, so a misconfiguration fails closed.

A REQUEST authorizer's identity sources are all required and form the cache key. With only the
query string key accepted, ``method.request.querystring.apiKey`` lets API Gateway refuse
requests without it (401) before this function runs. With the header accepted too, a request
carries either, so the API can name no identity source and must not cache answers: a cached
answer keyed on the query string alone would be reused for a request whose header differs.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities.data_classes.api_gateway_authorizer_event import (
    APIGatewayAuthorizerResponse,
    HttpVerb,
)
from aws_lambda_powertools.utilities.typing import LambdaContext
from blueprints_common import names
from blueprints_common.entry import REST_REQUEST_AUTHORIZER, TRACE_NO_LIBRARIES, entry

QUERY_PARAMETER = "apiKey"
HEADER = "x-api-key"
MIN_KEY_LENGTH = 20
MAX_KEY_LENGTH = 128
KEY_ALPHABET = "A-Za-z0-9_-"
FINGERPRINT_LENGTH = 12
MAX_METHOD_ARN_LENGTH = 2048

_KEY = re.compile(f"[{KEY_ALPHABET}]{{{MIN_KEY_LENGTH},{MAX_KEY_LENGTH}}}")
_PARTITION = re.compile(r"aws(-[a-z]+)*")
# ASCII digits only: \d would accept any Unicode digit (Arabic-Indic ones, say).
_ACCOUNT = re.compile(r"[0-9]{12}")
_API_ID = re.compile(r"[a-z0-9]{1,32}")
_STAGE = re.compile(r"[A-Za-z0-9_-]{1,128}")
_METHODS = frozenset(verb.value for verb in HttpVerb) - {HttpVerb.ALL.value}
# The paths Powertools accepts in a policy; a request path outside them is refused.
_PATH = re.compile(APIGatewayAuthorizerResponse.path_regex)
_ALLOWED_ENTRY = re.compile(r"(?P<method>[A-Z]+|\*)(?P<path>/[/.a-zA-Z0-9_*{}+-]*)")

logger = Logger()
tracer = Tracer(auto_patch=True, patch_modules=TRACE_NO_LIBRARIES)


class UnauthorizedError(Exception):
    """Why a request is refused; the handler turns it into ``Exception("Unauthorized")``."""


class AmbiguousKeyError(Exception):
    """The request names more than one key."""


@dataclass(frozen=True)
class AllowedMethod:
    """One ``METHOD/path`` entry of ``ALLOWED_METHODS``."""

    method: str
    path: str

    def matches(self, method: str, path: str) -> bool:
        """Whether a request's method and path (no leading slash) fall under this entry."""
        if self.method not in ("*", method):
            return False
        pattern = ".*".join(re.escape(part) for part in self.path.split("*"))
        return re.fullmatch(pattern, path) is not None


@dataclass(frozen=True)
class Settings:
    accept_header_key: bool = False
    cache: bool = False
    allowed_methods: tuple[AllowedMethod, ...] = ()

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> Settings:
        """Validated settings; a ``ValueError`` lists every problem at once."""
        problems: list[str] = []
        accept_header_key = _flag(environ, "ACCEPT_HEADER_KEY", problems)
        cache = _flag(environ, "AUTHORIZER_CACHE", problems)
        allowed = []
        for text in (part.strip() for part in environ.get("ALLOWED_METHODS", "").split(",")):
            if not text:
                continue
            found = _ALLOWED_ENTRY.fullmatch(text)
            if found is None or found["method"] not in (*_METHODS, "*"):
                problems.append(f"ALLOWED_METHODS: {text!r} is not METHOD/path "
                                "(for example GET/customizations/*)")
                continue
            path = found["path"].lstrip("/")
            allowed.append(AllowedMethod(found["method"], path))
        if cache and not allowed:
            problems.append("ALLOWED_METHODS: required when AUTHORIZER_CACHE is true, or a "
                            "cached answer would refuse every method but the first")
        if problems:
            raise ValueError("invalid authorizer settings: " + "; ".join(problems))
        return cls(accept_header_key, cache, tuple(allowed))


def _flag(environ: Mapping[str, str], name: str, problems: list[str]) -> bool:
    value = environ.get(name, "").strip().lower()
    if value not in ("", "true", "false"):
        problems.append(f"{name}: {value!r} is not true or false")
    return value == "true"


@dataclass(frozen=True)
class MethodArn:
    """The parts of a REST API ``methodArn``: ``arn:aws:execute-api:region:account:api/stage/
    METHOD/path``."""

    partition: str
    region: str
    account: str
    api_id: str
    stage: str
    method: str
    path: str

    @classmethod
    def parse(cls, arn: Any) -> MethodArn:
        """The parts, checked; ``UnauthorizedError`` for anything that is not a REST method ARN."""
        if not isinstance(arn, str) or len(arn) > MAX_METHOD_ARN_LENGTH:
            raise UnauthorizedError("methodArn is missing or too long")
        parts = arn.split(":", 5)
        if len(parts) != 6 or parts[0] != "arn" or parts[2] != "execute-api":
            raise UnauthorizedError("methodArn is not an execute-api ARN")
        _, partition, _, region, account, resource = parts
        api_id, _, rest = resource.partition("/")
        stage, _, rest = rest.partition("/")
        method, slash, path = rest.partition("/")
        if not (slash and _PARTITION.fullmatch(partition) and names.REGION.fullmatch(region)
                and _ACCOUNT.fullmatch(account) and _API_ID.fullmatch(api_id)
                and _STAGE.fullmatch(stage) and method in _METHODS
                and _PATH.fullmatch("/" + path)):
            raise UnauthorizedError("methodArn is malformed")
        return cls(partition, region, account, api_id, stage, method, path)


def fingerprint(key: str) -> str:
    """A short, stable name for a key that does not reveal it."""
    return hashlib.sha256(key.encode()).hexdigest()[:FINGERPRINT_LENGTH]


def valid_key(value: Any) -> bool:
    return isinstance(value, str) and _KEY.fullmatch(value) is not None


def _values(single: Any, multi: Any, name: str, *, case_sensitive: bool) -> list[Any]:
    """Every value of one parameter or header, from both of API Gateway's shapes."""
    found: list[Any] = []
    for source, many in ((single, False), (multi, True)):
        if not isinstance(source, Mapping):
            continue
        for key, value in source.items():
            if key == name if case_sensitive else str(key).lower() == name:
                found.extend(value if many and isinstance(value, list) else [value])
    return found


def key_sources(event: Mapping[str, Any], accept_header_key: bool) -> dict[str, list[str]]:
    """The key values a request carries, by where they are: ``query`` and ``header``."""
    found = {"query": _values(event.get("queryStringParameters"),
                              event.get("multiValueQueryStringParameters"), QUERY_PARAMETER,
                              case_sensitive=True)}
    if accept_header_key:
        found["header"] = _values(event.get("headers"), event.get("multiValueHeaders"), HEADER,
                                  case_sensitive=False)
    return {source: values for source, values in found.items() if values}


def extract_key(event: Mapping[str, Any], accept_header_key: bool) -> str:
    """The one key a request names.

    ``UnauthorizedError`` if it names none or a malformed one, ``AmbiguousKeyError`` if several.
    """
    candidates = [value for values in key_sources(event, accept_header_key).values()
                  for value in values]
    if not candidates:
        raise UnauthorizedError("no API key")
    if not all(valid_key(value) for value in candidates):
        raise UnauthorizedError("malformed API key")
    distinct = set(candidates)
    if len(distinct) > 1:
        raise AmbiguousKeyError("the request names different API keys")
    return distinct.pop()


def policy(key: str, arn: MethodArn, settings: Settings) -> dict[str, Any]:
    """The answer for a well-formed key.

    With the cache on: Allow every ``ALLOWED_METHODS`` entry, whatever was requested (a request
    outside them is refused by API Gateway, as no statement allows it, and the cached answer
    still serves the others). With the cache off: Allow the requested method, or Deny it when
    ``ALLOWED_METHODS`` is set and does not cover it.
    """
    principal = f"key-{fingerprint(key)}"
    response = APIGatewayAuthorizerResponse(principal, arn.region, arn.account, arn.api_id,
                                            arn.stage, usage_identifier_key=key,
                                            partition=arn.partition)
    allowed = settings.allowed_methods
    if settings.cache:
        for rule in allowed:
            response.allow_route(rule.method, "/" + rule.path)
    elif not allowed or any(rule.matches(arn.method, arn.path) for rule in allowed):
        response.allow_route(arn.method, "/" + arn.path)
    else:
        response = APIGatewayAuthorizerResponse(principal, arn.region, arn.account, arn.api_id,
                                                arn.stage, partition=arn.partition)
        response.deny_route(arn.method, "/" + arn.path)
    return response.asdict()


def deny(arn: MethodArn) -> dict[str, Any]:
    """An explicit Deny (403) of the requested method."""
    response = APIGatewayAuthorizerResponse("ambiguous-api-key", arn.region, arn.account,
                                            arn.api_id, arn.stage, partition=arn.partition)
    response.deny_route(arn.method, "/" + arn.path)
    return response.asdict()


def authorize(event: Any, settings: Settings) -> dict[str, Any]:
    """The authorizer's answer; ``UnauthorizedError`` when the request carries no usable key."""
    if not isinstance(event, Mapping):
        raise UnauthorizedError("the event is not an object")
    arn = MethodArn.parse(event.get("methodArn"))
    try:
        key = extract_key(event, settings.accept_header_key)
    except AmbiguousKeyError:
        logger.warning("Denied: the request names different API keys", method=arn.method)
        return deny(arn)
    answer = policy(key, arn, settings)
    effect = answer["policyDocument"]["Statement"][0]["Effect"]
    # Where the key came from tells how far clients have moved to the header.
    logger.info("Allowed" if effect == "Allow" else "Denied: the key may not call this method",
                key_fingerprint=fingerprint(key), method=arn.method, cached_scope=settings.cache,
                key_source="+".join(key_sources(event, settings.accept_header_key)))
    return answer


def _unauthorized() -> Exception:
    # The exact message API Gateway turns into a 401; anything else from an authorizer is a 500.
    return Exception("Unauthorized")


# The event and the response carry the key: the entry never logs the one (whatever
# POWERTOOLS_LOGGER_LOG_EVENT says), and the tracer does not record the other.
@entry(REST_REQUEST_AUTHORIZER, logger=logger, tracer=tracer, capture_response=False)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    try:
        settings = Settings.from_environ(os.environ)
    except ValueError as problem:
        logger.error("Refusing every request: the authorizer is misconfigured",
                     problem=str(problem))
        raise _unauthorized() from None
    try:
        return authorize(event, settings)
    except UnauthorizedError as reason:
        logger.info("Unauthorized", reason=str(reason))
    except Exception as error:  # noqa: BLE001 - an authorizer answers 401, never a 500
        # Only the type: a message or traceback could quote the request, and with it the key.
        logger.error("Refusing a request the authorizer could not read",
                     error=type(error).__name__)
    raise _unauthorized()
