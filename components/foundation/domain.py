"""Custom domains for API Gateway APIs, shared by the REST and HTTP API blocks.

| Setting           | Default                                                                |
|-------------------|------------------------------------------------------------------------|
| TLS               | ``TLS_1_2``: no TLS 1.0 or 1.1                                         |
| Certificate       | an ACM certificate you own: in the API's region for a regional domain, |
|                   | in us-east-1 for an edge-optimized one (checked before anything runs)  |
| Mapping           | the whole domain to one stage (no base path)                           |
| Default endpoint  | the blocks turn off ``execute-api`` once a domain is set, so clients   |
|                   | cannot skip the name that DNS, TLS and (for REST) WAF are set up for   |
| Mutual TLS        | off; ``mutual_tls`` names a PEM bundle of the CAs whose client         |
|                   | certificates are let in: it is uploaded to a truststore bucket of its  |
|                   | own (versioned, TLS-only), and the domain follows its newest version   |

DNS stays yours: point the name at ``target_domain_name`` (an alias in the hosted zone
``target_zone_id``).
"""

from __future__ import annotations

import re
import ssl
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi
import pulumi_aws as aws

from components.config import Defaults
from components.foundation.bucket import Bucket, BucketArgs

ACM_CERTIFICATE = re.compile(r"^arn:aws[\w-]*:acm:([a-z0-9-]+):\d{12}:certificate/[\w-]+$")
DOMAIN_NAME = re.compile(r"^([a-z0-9]([a-z0-9-]*[a-z0-9])?\.)+[a-z]{2,}$")
EDGE_CERTIFICATE_REGION = "us-east-1"


# API Gateway's truststore limits.
TRUSTSTORE_MAX_CERTIFICATES = 1000
TRUSTSTORE_MAX_BYTES = 1024 * 1024


@dataclass(frozen=True)
class MutualTls:
    """Mutual TLS on a regional domain: ``truststore_file`` is a PEM bundle of the CA
    certificates (roots and intermediates) that client certificates must chain to, relative to
    the project. ``ownership_verification_certificate_arn`` is the public ACM certificate that
    proves the domain is yours when the domain's own certificate is imported or from a private
    CA."""

    truststore_file: str
    ownership_verification_certificate_arn: str | None = None


@dataclass(frozen=True)
class ApiDomain:
    """A custom domain name and its ACM certificate; ``edge`` for an edge-optimized REST API,
    whose certificate CloudFront reads from us-east-1."""

    name: str
    certificate_arn: str
    edge: bool = False
    mutual_tls: MutualTls | None = None


def _common_name(certificate: Mapping[str, Any]) -> str:
    for rdn in certificate.get("subject", ()):
        for key, value in rdn:
            if key == "commonName":
                return str(value)
    return "unnamed"


def truststore_problems(path: str) -> list[str]:
    """What keeps the file at ``path`` from being a truststore API Gateway accepts."""
    file = Path(path)
    if not file.is_file():
        return [f"{path!r} is not a file (paths are relative to the project)"]
    if file.stat().st_size > TRUSTSTORE_MAX_BYTES:
        return [f"{path!r} is larger than API Gateway's 1 MB truststore limit"]
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    try:
        context.load_verify_locations(cadata=file.read_text(encoding="ascii"))
    except (ssl.SSLError, UnicodeDecodeError, ValueError):
        return [f"{path!r} is not a PEM bundle of X.509 certificates"]
    counts = context.cert_store_stats()
    problems = []
    if counts["x509"] > TRUSTSTORE_MAX_CERTIFICATES:
        problems.append(f"{path!r} holds {counts['x509']} certificates; API Gateway takes at "
                        f"most {TRUSTSTORE_MAX_CERTIFICATES}")
    expired = [name for certificate in context.get_ca_certs()
               if ssl.cert_time_to_seconds(str(certificate["notAfter"])) < time.time()
               for name in [_common_name(certificate)]]
    if expired:
        problems.append(f"{path!r} holds expired CA certificates ({', '.join(expired)}); "
                        "API Gateway would warn and refuse their clients")
    if counts["x509"] != counts["x509_ca"]:
        problems.append(f"{path!r} holds {counts['x509'] - counts['x509_ca']} certificate(s) "
                        "that are not CAs; a truststore holds the CAs that issue client "
                        "certificates, not the client certificates")
    return problems


@dataclass(frozen=True)
class Truststore:
    """Where a domain's truststore is: its S3 URI and the object's version."""

    uri: pulumi.Output[str]
    version: pulumi.Output[str]


def truststore(name: str, mutual_tls: MutualTls, defaults: Defaults,
               parent: pulumi.Resource) -> Truststore:
    """The truststore bucket and object of a domain. Pointing the domain at the object's
    version makes a changed bundle update the domain."""
    child = pulumi.ResourceOptions(parent=parent)
    bucket = Bucket(f"{name}-truststore", BucketArgs(), defaults, opts=child)
    key = Path(mutual_tls.truststore_file).name
    bundle = aws.s3.BucketObjectv2(
        f"{name}-truststore", bucket=bucket.name, key=key,
        source=pulumi.FileAsset(mutual_tls.truststore_file),
        content_type="application/x-pem-file", opts=child)
    return Truststore(pulumi.Output.concat("s3://", bucket.name, "/", key), bundle.version_id)


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
    if domain.mutual_tls is not None:
        if domain.edge:
            problems.append("domain.mutual_tls: API Gateway offers mutual TLS on regional "
                            "domains only, not edge-optimized ones")
        problems += [f"domain.mutual_tls.truststore_file: {problem}"
                     for problem in truststore_problems(domain.mutual_tls.truststore_file)]
        verification = domain.mutual_tls.ownership_verification_certificate_arn
        if verification is not None and not ACM_CERTIFICATE.match(verification):
            problems.append("domain.mutual_tls.ownership_verification_certificate_arn: "
                            f"{verification!r} is not an ACM certificate ARN")
    return problems
