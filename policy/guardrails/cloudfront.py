"""CloudFront distributions: TLS to viewers and origins, access logs."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from pulumi_policy import Policy

from .core import MANDATORY, Config, Props, Subject, is_unknown, resource_rule

DISTRIBUTION = "aws:cloudfront/distribution:Distribution"

# Viewer security policies are named TLSv<major>.<minor>_<year>; TLSv1.2_2019 is the oldest
# that refuses TLS 1.0 and 1.1 and the weak ciphers.
_SECURITY_POLICY = re.compile(r"TLSv1\.(\d+)_(\d{4})")
RECOMMENDED_POLICY = "TLSv1.2_2021"


def modern_security_policy(version: Any) -> bool:
    """Whether a viewer security policy is TLSv1.2_2019 or newer."""
    match = _SECURITY_POLICY.fullmatch(version) if isinstance(version, str) else None
    if match is None:
        return False
    minor, year = int(match.group(1)), int(match.group(2))
    return minor > 2 or (minor == 2 and year >= 2019)


def _viewer_problems(distribution: Subject) -> Iterator[str]:
    certificate = distribution.props.sub("viewerCertificate")
    if is_unknown(certificate.raw()):
        return
    if certificate.raw() is None:
        yield (f"viewerCertificate is not set; use an ACM certificate (acmCertificateArn, "
               f"sslSupportMethod sni-only) with minimumProtocolVersion {RECOMMENDED_POLICY}")
        return
    default = certificate.get("cloudfrontDefaultCertificate")
    if default is True:
        yield ("uses the default CloudFront certificate (viewerCertificate."
               "cloudfrontDefaultCertificate), which keeps viewers on the TLSv1 security policy "
               "whatever minimumProtocolVersion says; serve a custom domain with an ACM "
               f"certificate and minimumProtocolVersion {RECOMMENDED_POLICY}")
        return
    version = certificate.get("minimumProtocolVersion")
    if is_unknown(version) or is_unknown(default) or modern_security_policy(version):
        return
    shown = version if version else "not set (TLSv1)"
    yield (f"viewerCertificate.minimumProtocolVersion is {shown}; set it to "
           f"{RECOMMENDED_POLICY} (TLSv1.2_2019 or newer)")


def _behavior_problems(distribution: Subject) -> Iterator[str]:
    fix = "set it to redirect-to-https or https-only"
    policy = distribution.props.get("defaultCacheBehavior", "viewerProtocolPolicy")
    if policy == "allow-all":
        yield f"defaultCacheBehavior.viewerProtocolPolicy is allow-all; {fix}"
    behaviors = distribution.props.elements("orderedCacheBehaviors")
    for i, behavior in enumerate([] if is_unknown(behaviors) else behaviors):
        behavior_props = Props(behavior)
        if behavior_props.get("viewerProtocolPolicy") == "allow-all":
            pattern = behavior_props.get("pathPattern")
            where = f" ({pattern})" if isinstance(pattern, str) else ""
            yield f"orderedCacheBehaviors[{i}]{where} viewerProtocolPolicy is allow-all; {fix}"


def _origin_problems(distribution: Subject) -> Iterator[str]:
    origins = distribution.props.elements("origins")
    for i, origin in enumerate([] if is_unknown(origins) else origins):
        origin_props = Props(origin)
        custom = origin_props.sub("customOriginConfig")
        if custom.raw() is None or is_unknown(custom.raw()):
            continue  # An S3 or VPC origin, or not known yet.
        origin_id = origin_props.get("originId")
        name = f"origin {origin_id}" if isinstance(origin_id, str) else f"origins[{i}]"
        policy = custom.get("originProtocolPolicy")
        if not is_unknown(policy) and policy != "https-only":
            yield (f"{name} originProtocolPolicy is {policy or 'not set'}; set it to "
                   "https-only")
        listed = custom.elements("originSslProtocols")
        if is_unknown(listed):
            continue
        old = [p for p in listed if not is_unknown(p) and p != "TLSv1.2"]
        if old or not listed:
            shown = ", ".join(str(p) for p in old) if old else "not set"
            yield f"{name} originSslProtocols allows {shown}; set it to [\"TLSv1.2\"] only"


def _logging_problems(distribution: Subject) -> Iterator[str]:
    bucket = distribution.props.get("loggingConfig", "bucket")
    if not is_unknown(bucket) and not bucket:
        yield ("loggingConfig.bucket is not set; send standard logs to an S3 bucket "
               "(loggingConfig.bucket = the log bucket's bucketDomainName)")


@resource_rule(
    "cloudfront-tls-logging",
    description="CloudFront distributions require TLSv1.2_2019 or newer from viewers (so a "
                "certificate of their own), never allow plain HTTP, reach custom origins over "
                "HTTPS with TLSv1.2 only, and write access logs.",
    anchors=("AwsSolutions-CFR3", "AwsSolutions-CFR4", "AwsSolutions-CFR5"),
    level=MANDATORY,
    types={DISTRIBUTION},
)
def cloudfront_tls_logging(distribution: Subject, config: Config) -> Iterator[str]:
    """The edge is the public face of the service: no request or origin fetch travels over
    plain HTTP or an outdated protocol, and every request is logged.

    A distribution on the default CloudFront certificate is reported: CloudFront keeps it on
    the TLSv1 security policy, whatever minimumProtocolVersion says. Behaviors (default and
    ordered) must not use viewerProtocolPolicy allow-all; custom origins (customOriginConfig)
    must use originProtocolPolicy https-only and originSslProtocols TLSv1.2 only; S3 and VPC
    origins have no such settings. Logs are the standard logs of loggingConfig.bucket.

    Mandatory: cdk-nag registers AwsSolutions-CFR3, CFR4 and CFR5 at ERROR.
    """
    yield from _viewer_problems(distribution)
    yield from _behavior_problems(distribution)
    yield from _origin_problems(distribution)
    yield from _logging_problems(distribution)


POLICIES: list[Policy] = [cloudfront_tls_logging]
