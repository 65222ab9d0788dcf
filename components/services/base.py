"""What every catalog service is built with, what it gives back, and the settings that several
services share."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any

import pulumi
from pydantic import Field, StringConstraints, field_validator
from pydantic import dataclasses as pydantic_dataclasses

from components.accounts import Providers
from components.config import SETTINGS, ConfigError, Defaults, Meaning
from components.environment import EnvironmentContract
from components.foundation.domain import (
    ACM_CERTIFICATE,
    DOMAIN_NAME,
    ApiDomain,
    MutualTls,
    truststore_problems,
)
from components.foundation.idempotency import MAX_EXPIRY_SECONDS, MIN_EXPIRY_SECONDS
from components.foundation.monitoring import FUNCTION_BLOCK, Monitoring, MonitoringArgs
from components.foundation.rest_api import REGIONAL_WEB_ACL

CertificateArn = Annotated[str, StringConstraints(pattern=ACM_CERTIFICATE.pattern),
                          Meaning("an ACM certificate ARN (arn:aws:acm:<region>:<account>:"
                                  "certificate/<id>)")]
# A web ACL for a regional API stage (``apiWebAclArn``).
RegionalWebAclArn = Annotated[str, StringConstraints(pattern=REGIONAL_WEB_ACL.pattern + ".+$"),
                              Meaning("a REGIONAL web ACL ARN (arn:aws:wafv2:<region>:"
                                      "<account>:regional/webacl/...)")]
# How long a service's idempotency records answer retries (``idempotencyExpirySeconds``), for
# the services whose routes create something (``IdempotencyStore``).
IdempotencyExpirySeconds = Annotated[int, Field(ge=MIN_EXPIRY_SECONDS, le=MAX_EXPIRY_SECONDS)]


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
    plain outputs never needs ``--show-secrets``.

    Every function block of a service takes its reserved concurrency from config through
    ``reserved_concurrency`` (``services.<name>.reservedConcurrency.<function>``; 0 is the kill
    switch: every invocation is throttled, and the throttles alarm says so). ``finish`` checks
    that each did, and gives the service its alarms and dashboard (``Monitoring``).
    """

    exports: dict[str, Any]
    secret_exports: dict[str, Any]
    service_name: str
    monitoring: Monitoring | None

    def __init__(self, t: str, name: str, props: Any = None,
                 opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(t, name, props, opts)
        self.exports = {}
        self.secret_exports = {}
        self.service_name = name
        self.monitoring = None
        self._concurrency_asked: set[str] = set()
        self._edge_functions: set[str] = set()

    def reserved_concurrency(self, defaults: Defaults, function: str, *,
                             edge: bool = False) -> int | None:
        """The reserved concurrency config sets for the function block named
        ``<service>-<function>``, or None (unreserved). An edge function takes none: its
        replicas run in CloudFront's regions, where a value set in us-east-1 caps nothing."""
        self._concurrency_asked.add(function)
        value = defaults.operations_of(self.service_name).reserved_concurrency.get(
            function)
        if edge:
            self._edge_functions.add(function)
            if value is not None:
                raise ConfigError([
                    f"{self._concurrency_key(function)}: {function} is a Lambda@Edge function; "
                    "its replicas run in CloudFront's regions, where a reserved concurrency "
                    "set in us-east-1 caps nothing"])
        return value

    def _concurrency_key(self, function: str) -> str:
        return f"blueprints:services.{self.service_name}.reservedConcurrency.{function}"

    def function_names(self) -> list[str]:
        """The short names of the service's function blocks (``<service>-<short>``)."""
        prefix = f"{self.service_name}-"
        found: list[str] = []
        pending: list[pulumi.Resource] = [self]
        while pending:
            resource = pending.pop()
            children = list(getattr(resource, "_childResources", ()))
            found += [child._name.removeprefix(prefix) for child in children
                      if child._type == FUNCTION_BLOCK]
            pending += children
        return sorted(found)

    def finish(self, context: ServiceContext) -> Monitoring:
        """Checks the reserved concurrency wiring and config, then watches the service.
        ``build_services`` calls it for every service; a service never does."""
        functions = self.function_names()
        unwired = sorted(set(functions) - self._concurrency_asked)
        if unwired:
            raise TypeError(
                f"{self.service_name} builds {', '.join(unwired)} without reading its reserved "
                "concurrency from config: pass reserved_concurrency="
                "self.reserved_concurrency(defaults, <short name>) to each function block")
        operations = context.defaults.operations_of(self.service_name)
        unknown = sorted(set(operations.reserved_concurrency) - set(functions))
        if unknown:
            raise ConfigError([
                f"{self._concurrency_key(function)}: {self.service_name} has no function "
                f"{function!r}; its functions: {', '.join(functions) or 'none'}"
                for function in unknown])
        self.monitoring = Monitoring(
            f"{self.service_name}-monitoring",
            MonitoringArgs(
                service=self, service_name=self.service_name, thresholds=operations.alarms,
                alarm_topic_arn=context.environment.alarm_topic_arn,
                provider=context.providers.regional,
                skip=frozenset(f"{self.service_name}-{function}"
                               for function in self._edge_functions)),
            context.defaults, opts=pulumi.ResourceOptions(parent=self))
        return self.monitoring
