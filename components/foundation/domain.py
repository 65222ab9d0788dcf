"""Custom domains for API Gateway APIs, shared by the REST and HTTP API blocks.

| Setting           | Default                                                                |
|-------------------|------------------------------------------------------------------------|
| TLS               | ``TLS_1_2``: no TLS 1.0 or 1.1                                         |
| Certificate       | an ACM certificate you own: in the API's region for a regional domain, |
|                   | in us-east-1 for an edge-optimized one (checked before anything runs)  |
| Mapping           | the whole domain to one stage (no base path)                           |
| Default endpoint  | the blocks turn off ``execute-api`` once a domain is set, so clients   |
|                   | cannot skip the name that DNS, TLS and (for REST) WAF are set up for   |

DNS stays yours: point the name at ``target_domain_name`` (an alias in the hosted zone
``target_zone_id``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pulumi

ACM_CERTIFICATE = re.compile(r"^arn:aws[\w-]*:acm:([a-z0-9-]+):\d{12}:certificate/[\w-]+$")
DOMAIN_NAME = re.compile(r"^([a-z0-9]([a-z0-9-]*[a-z0-9])?\.)+[a-z]{2,}$")
EDGE_CERTIFICATE_REGION = "us-east-1"


@dataclass(frozen=True)
class ApiDomain:
    """A custom domain name and its ACM certificate; ``edge`` for an edge-optimized REST API,
    whose certificate CloudFront reads from us-east-1."""

    name: str
    certificate_arn: str
    edge: bool = False


@dataclass(frozen=True)
class DomainTarget:
    """Where DNS must point the domain: an alias to this name, in this hosted zone."""

    domain_name: pulumi.Output[str]
    zone_id: pulumi.Output[str]


def domain_exports(target: DomainTarget | None) -> dict[str, pulumi.Output[str]]:
    """Where DNS must point a custom domain, as outputs; none without a domain."""
    if target is None:
        return {}
    return {"domainTarget": target.domain_name, "domainTargetZoneId": target.zone_id}


def domain_problems(domain: ApiDomain | None, region: str) -> list[str | None]:
    """What is wrong with ``domain`` for an API in ``region``, naming the field."""
    if domain is None:
        return []
    problems: list[str | None] = [
        None if DOMAIN_NAME.match(domain.name) else
        f"domain.name: {domain.name!r} is not a lower-case DNS name such as api.example.com"]
    match = ACM_CERTIFICATE.match(domain.certificate_arn)
    wanted = EDGE_CERTIFICATE_REGION if domain.edge else region
    if match is None:
        problems.append(f"domain.certificate_arn: {domain.certificate_arn!r} is not an ACM "
                        "certificate ARN")
    elif match.group(1) != wanted:
        kind = "an edge-optimized" if domain.edge else "a regional"
        problems.append(f"domain.certificate_arn: the certificate is in {match.group(1)}, but "
                        f"{kind} domain needs one in {wanted}")
    return problems
