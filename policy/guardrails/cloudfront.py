"""CloudFront distributions: TLS to viewers and origins, access logs (legacy or v2)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from pulumi_policy import Policy

from .core import MANDATORY, Config, Props, Stack, Subject, is_unknown, stack_rule

DISTRIBUTION = "aws:cloudfront/distribution:Distribution"
LOG_DELIVERY_SOURCE = "aws:cloudwatch/logDeliverySource:LogDeliverySource"
LOG_DELIVERY = "aws:cloudwatch/logDelivery:LogDelivery"
ACCESS_LOGS = "ACCESS_LOGS"

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


def _v2_sources(stack: Stack, distribution: Subject) -> list[Subject]:
    """The standard logging (v2) delivery sources of the distribution's access logs: their
    resourceArn was computed from it, and their logType is ACCESS_LOGS (or not known yet)."""
    return [source for source in stack.referencing(distribution, LOG_DELIVERY_SOURCE,
                                                   prop="resourceArn")
            if source.props.get("logType") == ACCESS_LOGS
            or is_unknown(source.props.get("logType"))]


def _logging_problems(stack: Stack, distribution: Subject) -> Iterator[str]:
    bucket = distribution.props.get("loggingConfig", "bucket")
    if is_unknown(bucket) or bucket:
        return  # legacy standard logs to S3
    sources = _v2_sources(stack, distribution)
    if any(stack.referencing(source, LOG_DELIVERY, prop="deliverySourceName")
           for source in sources):
        return  # standard logging v2
    if sources:
        names = ", ".join(source.name for source in sources)
        yield (f"its standard logging (v2) source ({names}) has no delivery, so no log is "
               "written; add an aws.cloudwatch.LogDelivery with delivery_source_name = the "
               "source's name and delivery_destination_arn = a LogDeliveryDestination's arn")
        return
    yield ("writes no access logs: loggingConfig.bucket is not set and no standard logging (v2) "
           "delivers its ACCESS_LOGS; add an aws.cloudwatch.LogDeliverySource (log_type "
           "ACCESS_LOGS, resource_arn = the distribution's arn) with a LogDeliveryDestination "
           "and a LogDelivery, or set loggingConfig.bucket to a log bucket's bucketDomainName")


@stack_rule(
    "cloudfront-tls-logging",
    description="CloudFront distributions require TLSv1.2_2019 or newer from viewers (so a "
                "certificate of their own), never allow plain HTTP, reach custom origins over "
                "HTTPS with TLSv1.2 only, and write access logs.",
    anchors=("AwsSolutions-CFR3", "AwsSolutions-CFR4", "AwsSolutions-CFR5"),
    level=MANDATORY,
)
def cloudfront_tls_logging(stack: Stack, config: Config) -> Iterator[tuple[Subject | None, str]]:
    """The edge is the public face of the service: no request or origin fetch travels over
    plain HTTP or an outdated protocol, and every request is logged.

    A distribution on the default CloudFront certificate is reported: CloudFront keeps it on
    the TLSv1 security policy, whatever minimumProtocolVersion says. Behaviors (default and
    ordered) must not use viewerProtocolPolicy allow-all; custom origins (customOriginConfig)
    must use originProtocolPolicy https-only and originSslProtocols TLSv1.2 only; S3 and VPC
    origins have no such settings. Access logs are either the legacy standard logs of
    loggingConfig.bucket (which need S3 ACLs), or standard logging v2: an
    aws:cloudwatch/logDeliverySource with logType ACCESS_LOGS whose resourceArn was computed
    from the distribution, and an aws:cloudwatch/logDelivery whose deliverySourceName was
    computed from that source (to CloudWatch Logs, S3 or Firehose). A stack rule so that it
    can see the v2 resources.

    Mandatory: cdk-nag registers AwsSolutions-CFR3, CFR4 and CFR5 at ERROR.
    """
    for distribution in stack.of_type(DISTRIBUTION):
        for problems in (_viewer_problems(distribution), _behavior_problems(distribution),
                         _origin_problems(distribution), _logging_problems(stack, distribution)):
            for message in problems:
                yield distribution, message


POLICIES: list[Policy] = [cloudfront_tls_logging]
