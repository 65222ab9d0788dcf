"""Customer managed KMS keys: the key policy statements every key of the project starts from.

A key policy bypasses ``iam.policy_document`` on purpose. It is attached to one key, and in it
``"Resource": "*"`` means "this key", nothing more; the account-root principal means "IAM
policies of this account decide", which is how roles get to use the key without the key policy
naming them. ``policy_document`` rightly rejects both in identity policies.
"""

from __future__ import annotations

from typing import Any

KEY_ADMINISTRATION_ACTIONS = (
    "kms:CancelKeyDeletion", "kms:CreateAlias", "kms:CreateGrant", "kms:DeleteAlias",
    "kms:DescribeKey", "kms:DisableKey", "kms:DisableKeyRotation", "kms:EnableKey",
    "kms:EnableKeyRotation", "kms:GetKeyPolicy", "kms:GetKeyRotationStatus", "kms:ListGrants",
    "kms:ListKeyPolicies", "kms:ListKeyRotations", "kms:ListResourceTags", "kms:PutKeyPolicy",
    "kms:RetireGrant", "kms:RevokeGrant", "kms:RotateKeyOnDemand", "kms:ScheduleKeyDeletion",
    "kms:TagResource", "kms:UntagResource", "kms:UpdateAlias", "kms:UpdateKeyDescription",
)
KEY_USAGE_ACTIONS = (
    "kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey",
    "kms:GenerateDataKeyPair", "kms:GenerateDataKeyPairWithoutPlaintext",
    "kms:GenerateDataKeyWithoutPlaintext", "kms:ReEncryptFrom", "kms:ReEncryptTo",
)
# Only actions whose requests carry an encryption context: the statement's condition on the
# log group ARN in that context would never match any other (DescribeKey, for one).
LOGS_KEY_ACTIONS = (
    "kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey",
    "kms:GenerateDataKeyWithoutPlaintext", "kms:ReEncryptFrom", "kms:ReEncryptTo",
)


def account_statements(*, partition: str, account_id: str) -> list[dict[str, Any]]:
    """The account administers and uses the key, each action named (no ``kms:*``), so that IAM
    policies in the account can delegate either."""
    root = f"arn:{partition}:iam::{account_id}:root"
    return [
        {"Sid": "AccountAdministersKey", "Effect": "Allow", "Principal": {"AWS": root},
         "Action": sorted(KEY_ADMINISTRATION_ACTIONS), "Resource": "*"},
        {"Sid": "AccountUsesKey", "Effect": "Allow", "Principal": {"AWS": root},
         "Action": sorted(KEY_USAGE_ACTIONS), "Resource": "*"},
    ]


def logs_statement(*, partition: str, dns_suffix: str, region: str,
                   account_id: str) -> dict[str, Any]:
    """CloudWatch Logs of this region may use the key only for log groups of this account,
    which it proves with the log group ARN in the encryption context."""
    return {
        "Sid": "CloudWatchLogsEncryptsLogGroups",
        "Effect": "Allow",
        "Principal": {"Service": f"logs.{region}.{dns_suffix}"},
        "Action": sorted(LOGS_KEY_ACTIONS),
        "Resource": "*",
        "Condition": {"ArnLike": {
            "kms:EncryptionContext:aws:logs:arn":
                f"arn:{partition}:logs:{region}:{account_id}:log-group:*"}},
    }
