"""JWT verification as API Gateway's authorizers do it: tokens signed here with keys of the test's
own, and tokens the embedded AWS's user pool issues, verified with the key set moto serves."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pulumi
import pulumi_aws as aws
import pytest
from joserfc import jwt
from joserfc.jwk import KeySet, OctKey, RSAKey

from tools.local.aws import EmbeddedAws, create_resources
from tools.local.tokens import (
    JwtVerifier,
    LocalIssuers,
    TokenError,
    UnreachableIssuerError,
    cognito_jwks,
    cognito_pool,
    token_scopes,
)
from tools.mock_runtime import StackConfig, StackRun, run_program

ISSUER = "https://issuer.example.com"
AUDIENCE = "web-client"
NOW = 1_800_000_000.0
REGION = "eu-west-1"
PASSWORD = "Corr3ct-horse-battery!"


@pytest.fixture(scope="module")
def signing_key() -> RSAKey:
    return RSAKey.generate_key(2048, parameters={"kid": "key-1"})


@pytest.fixture(scope="module")
def verifier(signing_key: RSAKey) -> JwtVerifier:
    key_sets = {ISSUER: KeySet([signing_key]).as_dict(private=False)}
    return JwtVerifier(lambda issuer: key_sets[issuer], clock=lambda: NOW)


def token(key: Any, *, header: dict[str, Any] | None = None, **overrides: Any) -> str:
    claims = {"iss": ISSUER, "aud": AUDIENCE, "sub": "user-1", "iat": int(NOW) - 60,
              "exp": int(NOW) + 3600, **overrides}
    claims = {name: value for name, value in claims.items() if value is not None}
    return jwt.encode(header or {"alg": "RS256", "kid": "key-1"}, claims, key)


def refusal(verifier: JwtVerifier, value: str, **kwargs: Any) -> TokenError:
    options: dict[str, Any] = {"issuer": ISSUER, "audiences": [AUDIENCE], **kwargs}
    with pytest.raises(TokenError) as refused:
        verifier.verify(value, **options)
    return refused.value


def test_a_token_of_the_issuer_for_the_audience_passes_with_its_claims_and_scopes(
        verifier: JwtVerifier, signing_key: RSAKey) -> None:
    verified = verifier.verify(token(signing_key, scope="read write"), issuer=ISSUER,
                               audiences=[AUDIENCE, "other"])
    assert verified.claims["sub"] == "user-1"
    assert verified.scopes == ("read", "write")


def test_an_access_token_names_its_audience_in_client_id(
        verifier: JwtVerifier, signing_key: RSAKey) -> None:
    access = token(signing_key, aud=None, client_id=AUDIENCE, token_use="access")
    assert verifier.verify(access, issuer=ISSUER, audiences=[AUDIENCE]).claims["client_id"] \
        == AUDIENCE
    listed = token(signing_key, aud=["someone", AUDIENCE])
    assert verifier.verify(listed, issuer=ISSUER, audiences=[AUDIENCE]).claims["sub"] == "user-1"


def test_without_audiences_any_audience_passes(verifier: JwtVerifier,
                                               signing_key: RSAKey) -> None:
    assert verifier.verify(token(signing_key, aud="anyone"), issuer=ISSUER,
                           audiences=None).claims["aud"] == "anyone"


@pytest.mark.parametrize(("overrides", "reason"), [
    ({"aud": "someone-else"}, "the token does not have a valid audience"),
    ({"iss": "https://impostor.example.com"}, "the token does not have a valid issuer"),
    ({"exp": int(NOW) - 1}, "the token has expired"),
    ({"exp": None}, "the token has no expiry (exp)"),
    ({"nbf": int(NOW) + 60}, "the token is not valid yet (nbf is in the future)"),
    ({"iat": int(NOW) + 60}, "the token is not valid yet (iat is in the future)"),
    ({"exp": "tomorrow"}, "the token's exp is not a number of seconds"),
])
def test_claims_that_api_gateway_refuses(verifier: JwtVerifier, signing_key: RSAKey,
                                         overrides: dict[str, Any], reason: str) -> None:
    refused = refusal(verifier, token(signing_key, **overrides))
    assert refused.description == reason
    assert refused.www_authenticate == \
        f'Bearer scope="" error="invalid_token" error_description="{reason}"'


def test_signatures_keys_and_algorithms_that_api_gateway_refuses(
        verifier: JwtVerifier, signing_key: RSAKey) -> None:
    stranger = RSAKey.generate_key(2048, parameters={"kid": "key-1"})
    assert refusal(verifier, token(stranger)).description == "the token's signature is invalid"
    unknown_kid = token(stranger, header={"alg": "RS256", "kid": "key-9"})
    assert refusal(verifier, unknown_kid).description == \
        "the token's kid is not among the issuer's keys"
    no_kid = token(signing_key, header={"alg": "RS256"})
    assert refusal(verifier, no_kid).description == \
        "the token's kid is not among the issuer's keys"
    shared_secret = token(OctKey.generate_key(256), header={"alg": "HS256", "kid": "key-1"})
    assert refusal(verifier, shared_secret).description == "signing method HS256 is invalid"
    head, body, _ = token(signing_key).split(".")
    assert refusal(verifier, f"{head}.{body}.").description == \
        "the token is not a signed JWT (three segments)"


@pytest.mark.parametrize("garbled", ["", "not-a-token", "a.b.c", "e30.e30.e30.e30.e30",
                                     "!!!.e30.sig"])
def test_garbled_tokens_are_refused(verifier: JwtVerifier, garbled: str) -> None:
    assert refusal(verifier, garbled).error == "invalid_token"


def test_a_route_with_scopes_needs_one_of_them(verifier: JwtVerifier,
                                               signing_key: RSAKey) -> None:
    reader = token(signing_key, scope="documents/read profile")
    assert verifier.verify(reader, issuer=ISSUER, audiences=[AUDIENCE],
                           scopes=["documents/write", "documents/read"]).scopes == (
        "documents/read", "profile")
    refused = refusal(verifier, reader, scopes=["documents/write"])
    assert refused.www_authenticate == ('Bearer scope="documents/write" '
                                        'error="insufficient_scope" '
                                        'error_description="expected scopes: [documents/write]"')


def test_scopes_come_from_scope_or_scp() -> None:
    assert token_scopes({"scope": "a b"}) == ("a", "b")
    assert token_scopes({"scp": ["a", "b"]}) == ("a", "b")
    assert token_scopes({"scp": "a"}) == ("a",)
    assert token_scopes({}) == ()


def test_cognito_issuers_name_their_region_and_pool() -> None:
    assert cognito_pool("https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbC") == (
        "eu-west-1", "eu-west-1_AbC")
    assert cognito_pool("https://cognito-idp.eu-west-1.amazonaws.com/pool/extra") is None
    assert cognito_pool(ISSUER) is None


# --- the embedded AWS's user pool ---------------------------------------------------------------

def pool_program() -> None:
    opts = pulumi.ResourceOptions(provider=aws.Provider("provider", region=REGION))
    pool = aws.cognito.UserPool("readers", opts=opts)
    aws.cognito.UserPoolClient("web", user_pool_id=pool.id,
                               explicit_auth_flows=["ALLOW_ADMIN_USER_PASSWORD_AUTH",
                                                    "ALLOW_REFRESH_TOKEN_AUTH"], opts=opts)


@pytest.fixture(scope="module")
def plan() -> StackRun:
    return run_program(pool_program, config=StackConfig({"aws:region": REGION}, ()))


@pytest.fixture(scope="module")
def local(plan: StackRun) -> Iterator[EmbeddedAws]:
    with EmbeddedAws.for_plan(plan) as embedded:
        create_resources(plan, embedded)
        yield embedded


def issuer_of(plan: StackRun) -> str:
    pool = plan.one("aws:cognito/userPool:UserPool", "readers").id
    return f"https://cognito-idp.{REGION}.amazonaws.com/{pool}"


def sign_in(local: EmbeddedAws, plan: StackRun) -> dict[str, str]:
    pool = str(plan.one("aws:cognito/userPool:UserPool", "readers").id)
    client = str(plan.one("aws:cognito/userPoolClient:UserPoolClient", "web").id)
    cognito = local.client("cognito-idp", REGION)
    cognito.admin_create_user(UserPoolId=pool, Username="reader", MessageAction="SUPPRESS")
    cognito.admin_set_user_password(UserPoolId=pool, Username="reader", Password=PASSWORD,
                                    Permanent=True)
    return dict(cognito.admin_initiate_auth(
        UserPoolId=pool, ClientId=client, AuthFlow="ADMIN_USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": "reader", "PASSWORD": PASSWORD})["AuthenticationResult"])


def test_tokens_of_the_local_user_pool_verify_with_the_key_set_moto_serves(
        local: EmbeddedAws, plan: StackRun) -> None:
    issuer = issuer_of(plan)
    client = str(plan.one("aws:cognito/userPoolClient:UserPoolClient", "web").id)
    key_set = cognito_jwks(local, issuer)
    assert [key["kty"] for key in key_set["keys"]] == ["RSA"]
    tokens = sign_in(local, plan)
    issuers = LocalIssuers(local)
    verifier = JwtVerifier(issuers.jwks)
    identity = verifier.verify(tokens["IdToken"], issuer=issuer, audiences=[client])
    assert identity.claims["token_use"] == "id"
    assert identity.claims["cognito:username"] == "reader"
    access = verifier.verify(tokens["AccessToken"], issuer=issuer, audiences=[client])
    assert access.claims["client_id"] == client
    assert access.scopes == ("aws.cognito.signin.user.admin",)
    with pytest.raises(TokenError, match="valid audience"):
        verifier.verify(tokens["IdToken"], issuer=issuer, audiences=["another-client"])
    assert issuers.unreachable(issuer) is None


def test_an_issuer_local_mode_cannot_reach_is_said_and_its_tokens_refused(
        local: EmbeddedAws, signing_key: RSAKey) -> None:
    issuers = LocalIssuers(local)
    reason = issuers.unreachable(ISSUER)
    assert reason is not None
    assert "cannot fetch any other issuer's keys offline" in reason
    missing_pool = f"https://cognito-idp.{REGION}.amazonaws.com/{REGION}_NotInThePlan"
    assert "has no user pool eu-west-1_NotInThePlan in eu-west-1" in str(
        issuers.unreachable(missing_pool))
    with pytest.raises(UnreachableIssuerError) as refused:
        JwtVerifier(issuers.jwks).verify(token(signing_key), issuer=ISSUER,
                                         audiences=[AUDIENCE])
    assert refused.value.www_authenticate.startswith('Bearer scope="" error="invalid_token"')


def test_a_key_set_is_fetched_once_per_issuer(local: EmbeddedAws, plan: StackRun,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    fetched: list[str] = []
    real = cognito_jwks

    def counting(embedded: EmbeddedAws, issuer: str) -> dict[str, Any]:
        fetched.append(issuer)
        return real(embedded, issuer)

    monkeypatch.setattr("tools.local.tokens.cognito_jwks", counting)
    issuers = LocalIssuers(local)
    first = issuers.jwks(issuer_of(plan))
    assert issuers.jwks(issuer_of(plan)) == first
    assert fetched == [issuer_of(plan)]
