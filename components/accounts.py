"""AWS providers for the stack's account.

The deployer runs with credentials of the management (tooling) account. Each provider assumes
the stack account's deploy role (Proton's "environment account connection"), refuses to touch
any other account (``allowed_account_ids``), and stamps the stack's default tags on every
resource. ``pulumi:disable-default-providers`` is set in every stack file, so a resource that
forgets its provider fails instead of landing in whatever account the shell points at.

Lambda@Edge functions, CloudFront WAF web ACLs and CloudFront certificates must live in
us-east-1, whatever the stack's region: ``Providers.us_east_1`` serves them.

Components never create providers. ``__main__`` passes these through resource options, and
children inherit them from their parent.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi_aws as aws

from components.config import StackConfig

EDGE_REGION = "us-east-1"


@dataclass(frozen=True)
class Providers:
    """The stack's providers: its own region, and us-east-1 for edge and global services."""

    regional: aws.Provider
    us_east_1: aws.Provider


def _provider(name: str, region: str, config: StackConfig) -> aws.Provider:
    return aws.Provider(
        name,
        region=region,
        allowed_account_ids=[config.account.id],
        assume_roles=[aws.ProviderAssumeRoleArgs(
            role_arn=config.account.deploy_role_arn,
            session_name=config.account.session_name,
            external_id=config.external_id,
        )],
        default_tags=aws.ProviderDefaultTagsArgs(tags=dict(config.tags)),
    )


def create_providers(config: StackConfig) -> Providers:
    """The providers for ``config``'s account; one provider when the stack is in us-east-1."""
    regional = _provider(f"aws-{config.region}", config.region, config)
    if config.region == EDGE_REGION:
        return Providers(regional=regional, us_east_1=regional)
    return Providers(regional=regional, us_east_1=_provider(f"aws-{EDGE_REGION}", EDGE_REGION,
                                                           config))

