"""Header-based API versioning: one CloudFront domain, the version chosen by a request header.

Clients send ``Accept: application/vnd.example.v2+json`` (or a custom header such as
``APIVER: v2``). A Lambda@Edge *origin-request* function, the router, looks the header value up
in a DynamoDB global table and sends the request to that version's origin. A missing, empty or
unknown version gets a 403 that says which. Versions and their header values are stack
configuration: adding v3 is a config change and ``pulumi up``.

What it builds:

- **The mapping table** (``Table`` block): a global table, with replicas in
  ``replicaRegions``; items keep the public sample's shape (``hk`` the header value in lower case,
  ``dn`` the origin domain, ``dp`` the origin path), plus ``sr``: the region to sign requests for
  when the origin is one of this component's APIs. Items are seeded from config with
  ``aws.dynamodb.TableItem``; no custom-resource Lambda.
- **One REST API per version** (``RestApi``/``RestStage`` blocks), stage named after the version,
  ``GET /hello`` answered by that version's ``hello`` function. Or an existing origin
  (``existingDomain``). The methods use ``AWS_IAM`` authorization and the router signs what it
  forwards (SigV4, with its own role): the APIs answer CloudFront only, so a client cannot skip
  the distribution, its WAF or its logs by calling execute-api directly.
- **The router** (``Function`` block, edge mode, on the us-east-1 provider): published, role
  trusting ``edgelambda.amazonaws.com``, ``dynamodb:GetItem`` on the table in every replica region
  and ``execute-api:Invoke`` on each version's ``GET /hello`` only. Its settings travel in a
  ``config.json`` written into its package: Lambda@Edge has no environment variables. Its log
  group, with the stage retention, exists in every region with a regional edge cache, on a
  provider per region, so that no replica's logs are kept forever.
- **The distribution**: the router on *origin-request*; an origin-request policy that forwards
  the version header (and query strings) and nothing else; caching disabled (the managed
  ``CachingDisabled`` policy), because every version answers for itself and the header must reach
  the router on every request, a cache keyed on the header would only save the origin hop for
  GETs that are already cheap; HTTPS only to viewers and TLS 1.2 to origins; a response-headers
  policy with security headers; access logs through CloudFront standard logging v2 into a log
  group with the stage retention; an optional WAF web ACL; an optional custom domain.

Where this does better than the public sample: keyed reads (GetItem) instead of a full table
scan, negative answers cached too, a bounded cache, at most one DynamoDB call per value per TTL
window, a stale entry served when DynamoDB fails, q-values in ``Accept`` honoured, APIs that
cannot be called around CloudFront, and no wildcard in any policy.

Guardrail findings left by design: without ``webAclArn`` the distribution draws the advisory
``waf-on-public-endpoints`` (the web ACL's rules belong to whoever owns the traffic; pass one in
prod); the version stages draw it too, and need no ACL of their own, as they answer signed
requests from the router only. Without ``domain``, the distribution serves CloudFront's default
certificate, which cannot hold viewers to TLS 1.2, and ``cloudfront-tls-logging`` fails the
stack: set a domain and an ACM certificate from us-east-1.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Annotated, Any, Literal

import pulumi
import pulumi_aws as aws
from pydantic import AfterValidator, Field, StringConstraints, field_validator, model_validator
from pydantic import dataclasses as pydantic_dataclasses

from components.config import SETTINGS, AwsRegion, Meaning
from components.foundation import iam
from components.foundation.function import Function, FunctionArgs
from components.foundation.logs import log_group
from components.foundation.rest_api import RestApi, RestApiArgs, RestStage, RestStageArgs
from components.foundation.table import Key, Table, TableArgs
from components.services.base import (
    CertificateArn,
    DomainSettings,
    ServiceComponent,
    ServiceContext,
)

# AWS-managed CloudFront cache policy "CachingDisabled".
CACHING_DISABLED = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"
HELLO_PATH = "hello"
VersionName = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9-]{0,31}$"),
                        Meaning("a version name: a lower-case letter, then up to 31 lower-case "
                                "letters, digits or -, such as v1")]
HeaderName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9-]{1,64}$"),
                       Meaning("a header name: 1 to 64 letters, digits or -")]
HeaderValue = Annotated[str, StringConstraints(min_length=1, max_length=256,
                                               pattern=r"^[\x21-\x7e]+$"),
                      Meaning("a header value of visible ASCII characters, without spaces")]


@pydantic_dataclasses.dataclass(frozen=True, config=SETTINGS)
class VersionSettings:
    """One API version: the header values that select it, and what answers it."""

    header_values: Annotated[tuple[HeaderValue, ...], Field(min_length=1)]
    message: str | None = None
    existing_domain: Annotated[str, StringConstraints(
        pattern=r"^[a-z0-9.-]+\.[a-z]{2,}$"), Meaning("a lower-case DNS name")] | None = None
    origin_path: Annotated[str, StringConstraints(pattern=r"^(/[\w.~-]+)*$"),
                           Meaning("a path such as /prod (no trailing /)")] = ""

    @model_validator(mode="after")
    def _path_needs_domain(self) -> VersionSettings:
        if self.origin_path and not self.existing_domain:
            raise ValueError("originPath only applies with existingDomain")
        return self


def _in_us_east_1(arn: str) -> str:
    if ":acm:us-east-1:" not in arn:
        raise ValueError("CloudFront takes its certificate from us-east-1; request or import "
                         "one there")
    return arn


@pydantic_dataclasses.dataclass(frozen=True, config=SETTINGS)
class CloudFrontDomainSettings(DomainSettings):
    """The distribution's own domain; its certificate must be in us-east-1."""

    certificate_arn: Annotated[CertificateArn, AfterValidator(_in_us_east_1)]


@pydantic_dataclasses.dataclass(frozen=True, config=SETTINGS)
class HeaderVersioningSettings:
    """The ``services.headerVersioning`` section of a stack file."""

    versions: Annotated[dict[VersionName, VersionSettings], Field(min_length=1)]
    header_name: HeaderName = "Accept"
    cache_ttl_seconds: Annotated[int, Field(ge=1, le=3600)] = 300
    cache_max_entries: Annotated[int, Field(ge=16, le=100_000)] = 1024
    replica_regions: tuple[AwsRegion, ...] = ()
    domain: CloudFrontDomainSettings | None = None
    web_acl_arn: Annotated[str, StringConstraints(
        pattern=r"^arn:aws[\w-]*:wafv2:us-east-1:\d{12}:global/webacl/.+$"),
        Meaning("a CLOUDFRONT-scope web ACL ARN (arn:aws:wafv2:us-east-1:<account>:global/"
                "webacl/...)")] | None = None
    access_logging: bool = True
    price_class: Literal["PriceClass_100", "PriceClass_200", "PriceClass_All"] = (
        "PriceClass_100")
    router_memory_size: Annotated[int, Field(ge=128, le=10240)] = 128
    router_timeout: Annotated[int, Field(ge=1, le=30)] = 5

    @field_validator("versions")
    @classmethod
    def _values_select_one_version(
            cls, versions: dict[str, VersionSettings]) -> dict[str, VersionSettings]:
        seen: dict[str, str] = {}
        for name, version in versions.items():
            for value in version.header_values:
                if value.lower() in seen:
                    raise ValueError(f"header value {value!r} selects both {seen[value.lower()]}"
                                     f" and {name}; each value selects one version")
                seen[value.lower()] = name
        return versions


def default_message(version: str) -> str:
    """The sample's greeting: ``v2`` answers ``API v.2: Hello world!``."""
    number = re.sub(r"^v", "", version)
    return f"API v.{number}: Hello world!"


class HeaderVersionedApi(ServiceComponent):
    """Versioned APIs behind one CloudFront domain, routed by a request header at the edge."""

    def __init__(self, name: str, settings: HeaderVersioningSettings, context: ServiceContext,
                 opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("blueprints:services:HeaderVersionedApi", name, None, opts)
        defaults = context.defaults
        child = pulumi.ResourceOptions(parent=self)
        edge = pulumi.ResourceOptions(parent=self, provider=context.providers.us_east_1)

        self.table = Table(f"{name}-mappings", TableArgs(
            hash_key=Key("hk"), replica_regions=settings.replica_regions), defaults, child)

        origins: dict[str, tuple[pulumi.Input[str], str, str | None]] = {}
        invoke_urls: dict[str, pulumi.Output[str]] = {}
        signed_methods: list[pulumi.Output[str]] = []
        for version, version_settings in settings.versions.items():
            if version_settings.existing_domain:
                origins[version] = (version_settings.existing_domain,
                                    version_settings.origin_path, None)
                continue
            stage = self._version_api(f"{name}-{version}", version,
                                      version_settings.message or default_message(version),
                                      context, child)
            origins[version] = (
                pulumi.Output.concat(stage.stage.rest_api, ".execute-api.", defaults.region,
                                     ".amazonaws.com"),
                f"/{version}", defaults.region)
            invoke_urls[version] = pulumi.Output.concat(stage.invoke_url, f"/{HELLO_PATH}")
            signed_methods.append(pulumi.Output.concat(stage.execution_arn,
                                                       f"/GET/{HELLO_PATH}"))

        for version, version_settings in settings.versions.items():
            domain, path, signing_region = origins[version]
            for index, value in enumerate(version_settings.header_values):
                item: dict[str, Any] = {"hk": {"S": value.lower()}, "dn": {"S": domain},
                                        "dp": {"S": path}}
                if signing_region:
                    item["sr"] = {"S": signing_region}
                aws.dynamodb.TableItem(f"{name}-{version}-{index}", table_name=self.table.name,
                                       hash_key="hk", item=pulumi.Output.json_dumps(item),
                                       opts=child)

        self.router = self._router(name, settings, context, signed_methods, edge)
        self.distribution = self._distribution(name, settings, context, origins, edge)

        self.exports = {
            "distributionDomain": self.distribution.domain_name,
            "invokeUrls": invoke_urls,
            "tableName": self.table.name,
            "routerVersionArn": self.router.qualified_arn,
        }
        self.register_outputs(self.exports)

    def _version_api(self, name: str, version: str, message: str, context: ServiceContext,
                     opts: pulumi.ResourceOptions) -> RestStage:
        defaults = context.defaults
        hello = Function(f"{name}-hello", FunctionArgs(
            reserved_concurrency=self.reserved_concurrency(defaults, f"{version}-hello"),
            code="hello", memory_size=128, timeout=5, environment={"GREETING": message},
            service_name=name, description=f"Answers GET /{HELLO_PATH} for API {version}",
        ), defaults, opts)
        api = RestApi(name, RestApiArgs(description=f"API {version}, behind CloudFront"),
                      defaults, opts)
        resource = aws.apigateway.Resource(f"{name}-{HELLO_PATH}", rest_api=api.api_id,
                                           parent_id=api.root_resource_id,
                                           path_part=HELLO_PATH, opts=opts)
        method = aws.apigateway.Method(f"{name}-get-{HELLO_PATH}", rest_api=api.api_id,
                                       resource_id=resource.id, http_method="GET",
                                       authorization="AWS_IAM", api_key_required=False,
                                       opts=opts)
        integration = aws.apigateway.Integration(
            f"{name}-get-{HELLO_PATH}", rest_api=api.api_id, resource_id=resource.id,
            http_method=method.http_method, type="AWS_PROXY", integration_http_method="POST",
            uri=hello.invoke_arn, opts=opts)
        stage = RestStage(name, RestStageArgs(
            rest_api_id=api.api_id, stage_name=version,
            depends_on=[method, integration, *context.account_settings],
            redeploy_triggers={HELLO_PATH: f"GET /{HELLO_PATH} AWS_IAM AWS_PROXY"},
        ), defaults, opts)
        aws.lambda_.Permission(f"{name}-invoke-hello", action="lambda:InvokeFunction",
                               function=hello.name, principal="apigateway.amazonaws.com",
                               source_arn=pulumi.Output.concat(stage.execution_arn,
                                                               f"/GET/{HELLO_PATH}"),
                               opts=opts)
        return stage

    def _router(self, name: str, settings: HeaderVersioningSettings, context: ServiceContext,
                signed_methods: list[pulumi.Output[str]],
                opts: pulumi.ResourceOptions) -> Function:
        defaults = context.defaults
        regions = (defaults.region, *settings.replica_regions)
        table_arns = [pulumi.Output.concat(f"arn:aws:dynamodb:{region}:{defaults.account_id}"
                                           ":table/", self.table.name) for region in regions]
        statements = [iam.allow(["dynamodb:GetItem"], *table_arns)]
        if signed_methods:
            statements.append(iam.allow(["execute-api:Invoke"], *signed_methods))
        config = pulumi.Output.json_dumps({
            "table_name": self.table.name,
            "region": defaults.region,
            "replica_regions": list(regions),
            "header_name": settings.header_name,
            "cache_ttl_seconds": settings.cache_ttl_seconds,
            "cache_max_entries": settings.cache_max_entries,
            "service_name": f"{name}-router",
            "log_level": defaults.functions.log_level,
        })
        return Function(f"{name}-router", FunctionArgs(
            reserved_concurrency=self.reserved_concurrency(defaults, "router", edge=True),
            code="version_router", memory_size=settings.router_memory_size,
            timeout=settings.router_timeout, edge_event="origin-request",
            replica_provider=context.providers.in_region,
            statements=statements, generated_files={"config.json": config},
            description=f"Routes {settings.header_name} to an API version (Lambda@Edge)",
        ), defaults, opts)

    def _distribution(self, name: str, settings: HeaderVersioningSettings,
                      context: ServiceContext,
                      origins: Mapping[str, tuple[pulumi.Input[str], str, str | None]],
                      opts: pulumi.ResourceOptions) -> aws.cloudfront.Distribution:
        # CloudFront policy names are unique per account and are not auto-named: qualify them.
        qualified = f"{pulumi.get_project()}-{pulumi.get_stack()}-{name}"
        forwarded = aws.cloudfront.OriginRequestPolicy(
            f"{name}-forward-version",
            name=f"{qualified}-forward-version"[:128],
            comment=f"Forwards {settings.header_name} to the version router",
            headers_config={"header_behavior": "whitelist",
                            "headers": {"items": [settings.header_name]}},
            query_strings_config={"query_string_behavior": "all"},
            cookies_config={"cookie_behavior": "none"},
            opts=opts)
        security_headers = aws.cloudfront.ResponseHeadersPolicy(
            f"{name}-security-headers",
            name=f"{qualified}-security-headers"[:128],
            comment="Security headers for API responses",
            security_headers_config={
                "strict_transport_security": {"access_control_max_age_sec": 63072000,
                                              "include_subdomains": True, "preload": True,
                                              "override": True},
                "content_type_options": {"override": True},
                "frame_options": {"frame_option": "DENY", "override": True},
                "referrer_policy": {"referrer_policy": "no-referrer", "override": True},
                "xss_protection": {"protection": True, "mode_block": True, "override": True},
                "content_security_policy": {
                    "content_security_policy": "default-src 'none'; frame-ancestors 'none'",
                    "override": True},
            },
            opts=opts)
        first_domain, first_path, _ = next(iter(origins.values()))
        viewer_certificate: aws.cloudfront.DistributionViewerCertificateArgsDict = (
            {"acm_certificate_arn": settings.domain.certificate_arn,
             "ssl_support_method": "sni-only", "minimum_protocol_version": "TLSv1.2_2021"}
            if settings.domain else {"cloudfront_default_certificate": True})
        distribution = aws.cloudfront.Distribution(
            f"{name}-distribution",
            comment=f"{name}: API versions chosen by the {settings.header_name} header",
            enabled=True,
            is_ipv6_enabled=True,
            http_version="http2and3",
            price_class=settings.price_class,
            aliases=[settings.domain.name] if settings.domain else None,
            origins=[{
                "origin_id": "version-router-default",
                "domain_name": first_domain,
                "origin_path": first_path,
                "custom_origin_config": {"http_port": 80, "https_port": 443,
                                         "origin_protocol_policy": "https-only",
                                         "origin_ssl_protocols": ["TLSv1.2"]},
            }],
            default_cache_behavior={
                "target_origin_id": "version-router-default",
                "viewer_protocol_policy": "https-only",
                "allowed_methods": ["GET", "HEAD", "OPTIONS"],
                "cached_methods": ["GET", "HEAD"],
                "cache_policy_id": CACHING_DISABLED,
                "origin_request_policy_id": forwarded.id,
                "response_headers_policy_id": security_headers.id,
                # CachingDisabled turns off CloudFront's gzip and Brotli, so compress would
                # do nothing; the answers are small JSON.
                "compress": False,
                "lambda_function_associations": [{
                    "event_type": "origin-request",
                    "lambda_arn": self.router.qualified_arn,
                    "include_body": False,
                }],
            },
            restrictions={"geo_restriction": {"restriction_type": "none"}},
            viewer_certificate=viewer_certificate,
            web_acl_id=settings.web_acl_arn,
            opts=opts)
        if settings.access_logging:
            self._access_logs(name, distribution, context, opts)
        return distribution

    def _access_logs(self, name: str, distribution: aws.cloudfront.Distribution,
                     context: ServiceContext, opts: pulumi.ResourceOptions) -> None:
        """CloudFront standard logging v2: access logs into a log group with retention."""
        logs = log_group(f"{name}-access-logs", context.defaults,
                         log_group_name_prefix=f"/blueprints/{context.defaults.stage}/{name}/",
                         opts=opts)
        source = aws.cloudwatch.LogDeliverySource(
            f"{name}-access-logs", name=f"{pulumi.get_stack()}-{name}-access"[:60],
            log_type="ACCESS_LOGS", resource_arn=distribution.arn, opts=opts)
        destination = aws.cloudwatch.LogDeliveryDestination(
            f"{name}-access-logs", name=f"{pulumi.get_stack()}-{name}-access"[:60],
            output_format="json",
            delivery_destination_configuration={"destination_resource_arn": logs.arn},
            opts=opts)
        aws.cloudwatch.LogDelivery(f"{name}-access-logs", delivery_source_name=source.name,
                                   delivery_destination_arn=destination.arn, opts=opts)
