"""JSON Web Tokens as API Gateway's authorizers verify them, against keys local mode can reach.

``JwtVerifier.verify`` follows the steps API Gateway documents for an HTTP API's JWT authorizer
(the REST API's Cognito user pool authorizer takes the same checks, without the audience):

1. the token is a signed JWT (three segments) whose header names an RSA algorithm (RS256,
   RS384, RS512: "only RSA-based algorithms are supported") and a ``kid``;
2. the issuer's JSON Web Key Set has a key of that ``kid``, and the signature verifies with it;
3. ``iss`` is the configured issuer; ``aud`` or ``client_id`` is one of the audiences (unless
   none are asked for); ``exp`` is after now, ``nbf`` and ``iat``, when present, not after now;
4. when the route names authorization scopes, ``scope`` (or ``scp``) holds at least one.

A refusal is a ``TokenError`` whose ``www_authenticate`` is the header API Gateway answers a
``401`` with: ``Bearer scope="" error="invalid_token" error_description="..."``.

Where the keys come from. A Cognito issuer, ``https://cognito-idp.{region}.amazonaws.com/
{poolId}``, is the embedded AWS's user pool of that id: ``cognito_jwks`` fetches the key set from
moto's server (``{endpoint}/{poolId}/.well-known/jwks.json``), which signs the tokens its
``InitiateAuth`` and ``AdminInitiateAuth`` answer. ``LocalIssuers`` caches the key sets, as API
Gateway does. Any other issuer cannot be reached offline: ``LocalIssuers.unreachable`` says why,
for the start-up listing, and its tokens are refused with that reason.

Not emulated: keys rotating at the issuer (moto's pools share one fixed key, so a key set never
changes during a run); ``jwks_uri`` discovery through ``.well-known/openid-configuration`` (the
Cognito layout is known, and no other issuer is reachable); encrypted tokens (JWE), which API
Gateway refuses too.
"""

from __future__ import annotations

import base64
import json
import re
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError  # type: ignore[import-untyped]
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

if TYPE_CHECKING:
    from tools.local.aws import EmbeddedAws

RSA_ALGORITHMS = ("RS256", "RS384", "RS512")
COGNITO_ISSUER = re.compile(r"^https://cognito-idp\.([a-z0-9-]+)\.amazonaws\.com/([\w-]+)$")
JWKS_TIMEOUT_SECONDS = 10


class TokenError(Exception):
    """A token API Gateway refuses; ``description`` is the reason it gives the client."""

    def __init__(self, description: str, *, error: str = "invalid_token",
                 scopes: Collection[str] = ()) -> None:
        super().__init__(description)
        self.description = description
        self.error = error
        self.scopes = tuple(scopes)

    @property
    def www_authenticate(self) -> str:
        """The ``www-authenticate`` header of API Gateway's ``401``."""
        return (f'Bearer scope="{" ".join(self.scopes)}" error="{self.error}" '
                f'error_description="{self.description}"')


class UnreachableIssuerError(TokenError):
    """The issuer's keys cannot be fetched by local mode."""


@dataclass(frozen=True)
class VerifiedToken:
    """A token that passed: its claims as signed, and the scopes it carries."""

    claims: Mapping[str, Any]
    scopes: tuple[str, ...]


def token_scopes(claims: Mapping[str, Any]) -> tuple[str, ...]:
    """The OAuth scopes of a token: ``scope`` (space-separated) or ``scp`` (the same, or a
    list)."""
    value = claims.get("scope", claims.get("scp"))
    if isinstance(value, str):
        return tuple(value.split())
    if isinstance(value, list):
        return tuple(str(item) for item in value)
    return ()


class JwtVerifier:
    """Verifies tokens with the key sets ``jwks_for(issuer)`` answers, at ``clock``'s time."""

    def __init__(self, jwks_for: Callable[[str], Mapping[str, Any]], *,
                 clock: Callable[[], float] = time.time) -> None:
        self._jwks_for = jwks_for
        self._clock = clock

    def verify(self, token: str, *, issuer: str, audiences: Collection[str] | None,
               scopes: Collection[str] = ()) -> VerifiedToken:
        """The verified token; ``TokenError`` saying why API Gateway would refuse it.
        ``audiences`` ``None`` skips the audience check; ``scopes`` are the route's
        authorization scopes, of which the token must carry one."""
        header = _header(token)
        algorithm = header.get("alg")
        if algorithm not in RSA_ALGORITHMS:
            raise TokenError(f"signing method {algorithm} is invalid")
        key_set = _key_set(self._jwks_for(issuer), issuer)
        kid = header.get("kid")
        if not isinstance(kid, str) or not any(key.kid == kid for key in key_set.keys):
            raise TokenError("the token's kid is not among the issuer's keys")
        try:
            claims = dict(jwt.decode(token, key_set, algorithms=list(RSA_ALGORITHMS)).claims)
        except JoseError:
            raise TokenError("the token's signature is invalid") from None
        self._check_claims(claims, issuer, audiences)
        carried = token_scopes(claims)
        if scopes and not set(scopes) & set(carried):
            raise TokenError(f"expected scopes: [{' '.join(scopes)}]",
                             error="insufficient_scope", scopes=scopes)
        return VerifiedToken(claims, carried)

    def _check_claims(self, claims: Mapping[str, Any], issuer: str,
                      audiences: Collection[str] | None) -> None:
        if claims.get("iss") != issuer:
            raise TokenError("the token does not have a valid issuer")
        if audiences is not None:
            audience = claims.get("aud", [])
            named = {audience} if isinstance(audience, str) else set(audience)
            if isinstance(claims.get("client_id"), str):
                named.add(claims["client_id"])
            if not named & set(audiences):
                raise TokenError("the token does not have a valid audience")
        now = self._clock()
        expires = _time_claim(claims, "exp")
        if expires is None:
            raise TokenError("the token has no expiry (exp)")
        if expires <= now:
            raise TokenError("the token has expired")
        for name in ("nbf", "iat"):
            at = _time_claim(claims, name)
            if at is not None and at > now:
                raise TokenError(f"the token is not valid yet ({name} is in the future)")


def _header(token: str) -> dict[str, Any]:
    segments = token.split(".")
    if len(segments) != 3 or not all(segments):
        raise TokenError("the token is not a signed JWT (three segments)")
    try:
        header = json.loads(_base64url(segments[0]))
    except ValueError:
        raise TokenError("the token's header is not base64url-encoded JSON") from None
    if not isinstance(header, dict):
        raise TokenError("the token's header is not a JSON object")
    return header


def _base64url(segment: str) -> bytes:
    if not re.fullmatch(r"[A-Za-z0-9_-]+", segment):
        raise ValueError("not base64url")
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def _key_set(document: Mapping[str, Any], issuer: str) -> KeySet:
    try:
        return KeySet.import_key_set(dict(document))  # type: ignore[arg-type]
    except (JoseError, ValueError, KeyError, TypeError) as error:
        raise TokenError(f"the key set of {issuer} cannot be read: {error}") from None


def _time_claim(claims: Mapping[str, Any], name: str) -> float | None:
    value = claims.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TokenError(f"the token's {name} is not a number of seconds")
    return float(value)


# --- the issuers local mode reaches ------------------------------------------------------------

def cognito_pool(issuer: str) -> tuple[str, str] | None:
    """``(region, pool id)`` of a Cognito user pool issuer; ``None`` for any other issuer."""
    match = COGNITO_ISSUER.match(issuer)
    return (match.group(1), match.group(2)) if match else None


def cognito_jwks(aws: EmbeddedAws, issuer: str) -> dict[str, Any]:
    """The key set of a Cognito issuer whose user pool is in the embedded AWS."""
    pool = cognito_pool(issuer)
    if pool is None:
        raise UnreachableIssuerError(
            f"issuer {issuer} is not a Cognito user pool of the embedded AWS, and local mode "
            "cannot fetch any other issuer's keys offline")
    region, pool_id = pool
    try:
        aws.client("cognito-idp", region).describe_user_pool(UserPoolId=pool_id)
    except ClientError as error:
        if error.response["Error"]["Code"] != "ResourceNotFoundException":
            raise
        raise UnreachableIssuerError(
            f"issuer {issuer}: the embedded AWS has no user pool {pool_id} in {region}; only "
            "the plan's user pools are served") from None
    url = f"{aws.endpoint_url}/{pool_id}/.well-known/jwks.json"
    try:
        with urllib.request.urlopen(url, timeout=JWKS_TIMEOUT_SECONDS) as answer:  # noqa: S310
            document = json.load(answer)
    except (urllib.error.URLError, ValueError) as error:
        raise UnreachableIssuerError(f"issuer {issuer}: {url} did not answer a key set: "
                                     f"{error}") from None
    if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
        raise UnreachableIssuerError(f"issuer {issuer}: {url} did not answer a key set")
    return document


class LocalIssuers:
    """The key sets of the issuers local mode reaches, fetched once each."""

    def __init__(self, aws: EmbeddedAws) -> None:
        self._aws = aws
        self._key_sets: dict[str, dict[str, Any] | UnreachableIssuerError] = {}
        self._lock = threading.Lock()

    def jwks(self, issuer: str) -> dict[str, Any]:
        """The issuer's key set; ``UnreachableIssuerError`` when local mode cannot fetch it."""
        with self._lock:
            if issuer not in self._key_sets:
                try:
                    self._key_sets[issuer] = cognito_jwks(self._aws, issuer)
                except UnreachableIssuerError as error:
                    self._key_sets[issuer] = error
            found = self._key_sets[issuer]
        if isinstance(found, UnreachableIssuerError):
            raise found
        return found

    def unreachable(self, issuer: str) -> str | None:
        """Why the issuer's tokens will all be refused, or ``None`` when its keys are here."""
        try:
            self.jwks(issuer)
        except UnreachableIssuerError as error:
            return error.description
        return None
