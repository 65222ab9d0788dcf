"""What every catalog service is built with, what it gives back, and the settings that several
services share."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any

import pulumi
from pydantic import StringConstraints, field_validator
from pydantic import dataclasses as pydantic_dataclasses

from components.accounts import Providers
from components.config import SETTINGS, Defaults, Meaning
from components.environment import EnvironmentContract
from components.foundation.domain import (
    ACM_CERTIFICATE,
    DOMAIN_NAME,
    ApiDomain,
    MutualTls,
    truststore_problems,
)
from components.foundation.rest_api import REGIONAL_WEB_ACL

CertificateArn = Annotated[str, StringConstraints(pattern=ACM_CERTIFICATE.pattern),
                          Meaning("an ACM certificate ARN (arn:aws:acm:<region>:<account>:"
                                  "certificate/<id>)")]
# A web ACL for a regional API stage (``apiWebAclArn``).
RegionalWebAclArn = Annotated[str, StringConstraints(pattern=REGIONAL_WEB_ACL.pattern + ".+$"),
                              Meaning("a REGIONAL web ACL ARN (arn:aws:wafv2:<region>:"
                                      "<account>:regional/webacl/...)")]


@pydantic_dataclasses.dataclass(frozen=True, config=SETTINGS)
class MutualTlsSettings:
    """Mutual TLS on a domain: ``truststore``, a PEM bundle of the CAs that issue the clients'
    certificates (a path in the project), and ``ownershipVerificationCertificateArn``, a public
    ACM certificate for the domain, needed when ``certificateArn`` is imported or private."""

    truststore: str
    ownership_verification_certificate_arn: CertificateArn | None = None

    @field_validator("truststore")
    @classmethod
    def _a_truststore_api_gateway_takes(cls, path: str) -> str:
        problems = truststore_problems(path)
        if problems:
            raise ValueError("; ".join(problems))
        return path


@pydantic_dataclasses.dataclass(frozen=True, config=SETTINGS)
class DomainSettings:
    """A custom domain (``name``) and the ACM certificate that covers it (``certificateArn``):
    in the stack's region for an API, in us-east-1 for CloudFront or an edge-optimized API.
    ``mutualTls`` makes clients present a certificate (regional domains only)."""

    name: Annotated[str, StringConstraints(pattern=DOMAIN_NAME.pattern),
                    Meaning("a lower-case DNS name such as api.example.com")]
    certificate_arn: CertificateArn
    mutual_tls: MutualTlsSettings | None = None

    def api_domain(self, *, edge: bool = False) -> ApiDomain:
        mutual_tls = None if self.mutual_tls is None else MutualTls(
            self.mutual_tls.truststore, self.mutual_tls.ownership_verification_certificate_arn)
        return ApiDomain(self.name, self.certificate_arn, edge=edge, mutual_tls=mutual_tls)


@dataclass(frozen=True)
class ServiceContext:
    """The stack's defaults, its environment, its providers (regional and us-east-1), and the
    secret API key values of ``blueprints:apiKeys`` (consumer name -> value), if any.

    ``account_settings`` are the account-wide settings the environment makes in this same stack
    (API Gateway's CloudWatch role): a REST stage with execution or access logging fails to
    create before them, so every REST stage depends on them. A services stack that reads its
    environment from another stack has none: that stack is deployed first.
    """

    defaults: Defaults
    environment: EnvironmentContract
    providers: Providers
    api_keys: pulumi.Output[Mapping[str, str]] | None = None
    account_settings: Sequence[pulumi.Resource] = ()


class ServiceComponent(pulumi.ComponentResource):
    """A catalog architecture. The stack exports ``exports`` under the service's name, and
    ``secret_exports`` (key values and the like) apart, as ``<name>Secrets``, so that reading the
    plain outputs never needs ``--show-secrets``."""

    exports: dict[str, Any]
    secret_exports: dict[str, Any]

    def __init__(self, t: str, name: str, props: Any = None,
                 opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(t, name, props, opts)
        self.exports = {}
        self.secret_exports = {}
