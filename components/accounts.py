"""AWS providers for the stack's account.

The deployer runs with credentials of the management (tooling) account. Each provider assumes
the stack account's deploy role (Proton's "environment account connection"), refuses to touch
any other account (``allowed_account_ids``), and stamps the stack's default tags on every
resource. ``pulumi:disable-default-providers`` is set in every stack file, so a resource that
forgets its provider fails instead of landing in whatever account the shell points at.

Lambda@Edge functions, CloudFront WAF web ACLs and CloudFront certificates must live in
us-east-1, whatever the stack's region: ``Providers.us_east_1`` serves them. Lambda@Edge
replicas run, and log, in every region with a CloudFront regional edge cache (``EDGE_REGIONS``):
``Providers.in_region`` makes a provider for such a region, the first time one is asked for.

Components never create providers. ``__main__`` passes these through resource options, and
children inherit them from their parent.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pulumi_aws as aws
import pulumi_docker_build as docker_build

from components.config import StackConfig

EDGE_REGION = "us-east-1"
# The regions with a CloudFront regional edge cache, where Lambda@Edge replicas run and log
# (CloudFront Developer Guide, "Lambda@Edge logs"). All are enabled in every account; a region
# CloudFront adds must be added here, or replicas there cannot log.
EDGE_REGIONS = ("us-east-1", "us-east-2", "us-west-1", "us-west-2", "ca-central-1",
                "sa-east-1", "eu-west-1", "eu-west-2", "eu-west-3", "eu-central-1",
                "eu-north-1", "ap-south-1", "ap-northeast-1", "ap-northeast-2",
                "ap-southeast-1", "ap-southeast-2")


@dataclass(frozen=True)
class Providers:
    """The stack's providers: its own region, us-east-1 for edge and global services, and
    ``other_regions``, which makes (once) the provider of any other region of the account."""

    regional: aws.Provider
    us_east_1: aws.Provider
    other_regions: Callable[[str], aws.Provider] | None = None
    # Builds container images where `pulumi up` runs (its Docker engine); registries are
    # authenticated per image, with the account's ECR token.
    images: docker_build.Provider | None = None

    def in_region(self, region: str) -> aws.Provider:
        """The provider for ``region`` in the stack's account."""
        if self.other_regions is None:
            raise ValueError(f"these providers cannot make one for {region}")
        return self.other_regions(region)


def _provider(name: str, region: str, config: StackConfig) -> aws.Provider:
    # Without a deploy role (a connection or tooling stack) the shell's credentials are used;
    # allowed_account_ids still refuses any account but the stack's.
    assume = None if config.account.deploy_role_arn is None else [aws.ProviderAssumeRoleArgs(
        role_arn=config.account.deploy_role_arn,
        session_name=config.account.session_name,
        external_id=config.external_id,
    )]
    return aws.Provider(
        name,
        region=region,
        allowed_account_ids=[config.account.id],
        assume_roles=assume,
        default_tags=aws.ProviderDefaultTagsArgs(tags=dict(config.tags)),
    )


def create_providers(config: StackConfig) -> Providers:
    """The providers for ``config``'s account; one provider when the stack is in us-east-1.
    Providers for other regions are made only when a service asks for them."""
    made = {config.region: _provider(f"aws-{config.region}", config.region, config)}
    if EDGE_REGION not in made:
        made[EDGE_REGION] = _provider(f"aws-{EDGE_REGION}", EDGE_REGION, config)

    def in_region(region: str) -> aws.Provider:
        if region not in made:
            made[region] = _provider(f"aws-{region}", region, config)
        return made[region]

    return Providers(regional=made[config.region], us_east_1=made[EDGE_REGION],
                     other_regions=in_region, images=docker_build.Provider("docker-build"))

