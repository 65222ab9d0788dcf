"""KMS keys: rotation, no lockout bypass."""

from __future__ import annotations

from collections.abc import Iterator

from pulumi_policy import Policy

from .core import MANDATORY, Config, Subject, is_unknown, resource_rule

KEY = "aws:kms/key:Key"
SYMMETRIC = "SYMMETRIC_DEFAULT"


def _rotation_problems(key: Subject) -> Iterator[str]:
    specs = [key.props.get("customerMasterKeySpec"), key.props.get("keySpec")]
    stores = [key.props.get("customKeyStoreId"), key.props.get("xksKeyId")]
    if any(is_unknown(v) for v in specs + stores):
        return
    if any(spec not in (None, "", SYMMETRIC) for spec in specs):
        return  # Asymmetric and HMAC keys cannot rotate automatically.
    if any(stores):
        return  # Nor can keys in a custom (CloudHSM or external) key store.
    rotation = key.props.get("enableKeyRotation")
    if not is_unknown(rotation) and rotation is not True:
        shown = "false" if rotation is False else "not set"
        yield (f"enableKeyRotation is {shown} on a symmetric key; set it to true (yearly "
               "rotation, or every rotationPeriodInDays)")


@resource_rule(
    "kms-key-rotation",
    description="Symmetric KMS keys rotate their key material automatically, and no key "
                "skips the policy lockout safety check.",
    anchors=("AwsSolutions-KMS5",),
    level=MANDATORY,
    types={KEY},
)
def kms_key_rotation(key: Subject, config: Config) -> Iterator[str]:
    """Rotation limits how much data one key version protects; the lockout check keeps a key
    policy from locking every principal, the account included, out of the key for good.

    A key is symmetric when customerMasterKeySpec (or keySpec) is absent or SYMMETRIC_DEFAULT.
    Keys in a custom key store (customKeyStoreId, xksKeyId) cannot rotate automatically and are
    not asked to. bypassPolicyLockoutSafetyCheck must not be true on any key.

    Mandatory: cdk-nag registers AwsSolutions-KMS5 at ERROR.
    """
    yield from _rotation_problems(key)
    if key.props.get("bypassPolicyLockoutSafetyCheck") is True:
        yield ("bypassPolicyLockoutSafetyCheck is true; remove it so that KMS refuses a key "
               "policy that would lock every principal out of the key")


POLICIES: list[Policy] = [kms_key_rotation]
