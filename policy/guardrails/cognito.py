"""Cognito user pools: strong passwords and MFA."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from pulumi_policy import Policy

from .core import MANDATORY, Config, Subject, is_unknown, resource_rule

USER_POOL = "aws:cognito/userPool:UserPool"

DEFAULT_MINIMUM_LENGTH = 8
REQUIREMENTS = ("requireLowercase", "requireUppercase", "requireNumbers", "requireSymbols")
# mfaConfiguration from weakest to strictest; absent means OFF.
MFA_LEVELS = ("OFF", "OPTIONAL", "ON")
DEFAULT_MINIMUM_MFA = "OPTIONAL"


def _whole_number(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value if isinstance(value, int) else None


def _password_problems(pool: Subject, minimum: int) -> Iterator[str]:
    policy = pool.props.sub("passwordPolicy")
    if is_unknown(policy.raw()):
        return
    if policy.raw() is None:
        yield (f"passwordPolicy is not set; set minimumLength to at least {minimum} and "
               f"{', '.join(REQUIREMENTS)} to true")
        return
    length = policy.get("minimumLength")
    if not is_unknown(length) and (_whole_number(length) or 0) < minimum:
        number = _whole_number(length)
        shown = number if number is not None else (repr(length) if length is not None
                                                   else "not set")
        yield f"passwordPolicy.minimumLength is {shown}; set it to at least {minimum}"
    off = [name for name in REQUIREMENTS
           if not is_unknown(value := policy.get(name)) and value is not True]
    if off:
        them = "it" if len(off) == 1 else "them"
        yield f"passwordPolicy leaves {', '.join(off)} off; set {them} to true"


def _mfa_problems(pool: Subject, minimum: str) -> Iterator[str]:
    mfa = pool.props.get("mfaConfiguration")
    if is_unknown(mfa):
        return
    actual = mfa or "OFF"
    if actual in MFA_LEVELS and MFA_LEVELS.index(actual) >= MFA_LEVELS.index(minimum):
        return
    allowed = " or ".join(MFA_LEVELS[MFA_LEVELS.index(minimum):])
    shown = mfa if mfa else "not set (OFF)"
    yield (f"mfaConfiguration is {shown}; set it to {allowed}, with software tokens "
           "(softwareTokenMfaConfiguration) or another second factor configured")


@resource_rule(
    "cognito-password-mfa",
    description="Cognito user pools require long passwords with lower and upper case letters, "
                "numbers and symbols, and offer or require MFA as configured.",
    anchors=("AwsSolutions-COG1", "AwsSolutions-COG2"),
    level=MANDATORY,
    types={USER_POOL},
    config={
        "minimumPasswordLength": {
            "type": "integer",
            "default": DEFAULT_MINIMUM_LENGTH,
            "minimum": 6,
            "maximum": 99,
            "description": "Shortest passwordPolicy.minimumLength allowed.",
        },
        "minimumMfa": {
            "type": "string",
            "enum": list(MFA_LEVELS),
            "default": DEFAULT_MINIMUM_MFA,
            "description": "Weakest mfaConfiguration allowed: OPTIONAL (users may enrol), ON "
                           "(every user must), or OFF to allow pools without MFA.",
        },
    },
)
def cognito_password_mfa(pool: Subject, config: Config) -> Iterator[str]:
    """A user pool guards every account of the application: guessable passwords and a single
    factor are how those accounts get taken over.

    The password policy must be explicit: minimumLength of at least ``minimumPasswordLength``
    and requireLowercase, requireUppercase, requireNumbers and requireSymbols true (inside a
    passwordPolicy block pulumi-aws defaults each of them to false). mfaConfiguration (absent
    means OFF) must be at least ``minimumMfa``, in the order OFF < OPTIONAL < ON.

    Mandatory: cdk-nag registers AwsSolutions-COG1 at ERROR (COG2, MFA, is a warning there;
    ``minimumMfa`` OFF turns that part off).
    """
    minimum = _whole_number(config.get("minimumPasswordLength"))
    yield from _password_problems(pool, minimum if minimum is not None
                                  else DEFAULT_MINIMUM_LENGTH)
    mfa = config.get("minimumMfa")
    yield from _mfa_problems(pool, mfa if mfa in MFA_LEVELS else DEFAULT_MINIMUM_MFA)


POLICIES: list[Policy] = [cognito_password_mfa]
