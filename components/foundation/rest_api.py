"""REST API (API Gateway v1) building blocks: the API itself, and a deployed stage.

``RestApi`` creates the API, a request validator that checks bodies and parameters, and the
JSON-schema models that methods validate against. ``RestStage`` deploys it: a deployment that
is redeployed whenever one of its triggers changes, and a stage with access logs, X-Ray, default
throttling and execution logging, an optional encrypted cache and an optional WAF web ACL.
Methods, integrations, CORS preflight and usage plans belong to the architecture that uses the
API; they reference ``RestApi.api_id``, ``root_resource_id``, ``request_validator_id`` and
``models``.

Default settings:

| Setting                         | Default                                                       |
|---------------------------------|---------------------------------------------------------------|
| Endpoint type                   | ``REGIONAL``; ``PRIVATE`` needs VPC endpoint ids and a        |
|                                 | resource policy that checks ``aws:SourceVpce``                |
| TLS on the execute-api endpoint | ``TLS_1_2`` at least; ``TLS_1_0`` is rejected                 |
| API key source                  | ``HEADER``                                                    |
| Request validation              | one validator for body and parameters; JSON schema draft 4    |
| Access logs                     | JSON, to the block's own log group, stage retention           |
| Execution logs                  | ``INFO``; their log group is created first, so it has the     |
|                                 | stage retention; data trace off                               |
| X-Ray tracing                   | on                                                            |
| Method throttling (``*/*``)     | burst 100, rate 50 requests per second                        |
| CloudWatch metrics per method   | on                                                            |
| Cache                           | off; when on: encrypted, TTL 300 s, invalidation needs        |
|                                 | authorization (403 otherwise)                                 |
| WAF                             | a regional web ACL, when one is given                         |

The throttling default is deliberately low: every API in an account and region shares one
account-level quota (10,000 rps by default), so one noisy API must not starve the others. Raise it
per API once load tests say so.

Guardrail findings left by design: a public stage without ``web_acl_arn`` draws the advisory
``waf-on-public-endpoints``. The web ACL (its rules, rate limits and logging) belongs to the
architecture that exposes the API, which passes it in; the block cannot pick rules for it.

Execution logging needs the account-level setting that names the CloudWatch role API Gateway
writes logs with (``aws.apigateway.Account``). It is one setting per account and region, so the
platform environment owns it; this block does not create it, and a stage with ``INFO`` or
``ERROR`` logging fails to deploy in an account where it is missing.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import pulumi
import pulumi_aws as aws
from pulumi_aws.apigateway import (
    MethodSettingsSettingsArgsDict,
    RestApiEndpointConfigurationArgsDict,
    StageAccessLogSettingsArgsDict,
)

from components.config import Defaults
from components.foundation.logs import access_log_format, log_group
from components.foundation.validation import require_valid, warn_override

JSON_SCHEMA_DRAFT_4 = "http://json-schema.org/draft-04/schema#"
STAGE_NAME = re.compile(r"^[A-Za-z0-9_-]{1,128}$")
MODEL_NAME = re.compile(r"^[A-Za-z0-9]{1,128}$")
REGIONAL_WEB_ACL = re.compile(r"^arn:aws[\w-]*:wafv2:[a-z0-9-]+:\d{12}:regional/webacl/")
MAX_COMPRESSION_SIZE = 10 * 1024 * 1024

# The common access log fields, plus IAM callers, the resource path, WAF and TLS details.
ACCESS_LOG_FORMAT = access_log_format(
    caller="$context.identity.caller",
    user="$context.identity.user",
    resourcePath="$context.resourcePath",
    integrationError="$context.integration.error",
    wafError="$context.waf.error",
    tlsVersion="$context.tlsVersion",
)


class EndpointType(StrEnum):
    """Where the API is reachable from."""

    REGIONAL = "REGIONAL"
    EDGE = "EDGE"
    PRIVATE = "PRIVATE"


class ApiKeySource(StrEnum):
    """Where API Gateway reads the usage-plan API key from."""

    HEADER = "HEADER"
    AUTHORIZER = "AUTHORIZER"


class LoggingLevel(StrEnum):
    """Execution logging level of every method of a stage."""

    INFO = "INFO"
    ERROR = "ERROR"
    OFF = "OFF"


class CacheSize(StrEnum):
    """Stage cache cluster sizes, in GB."""

    GB_0_5 = "0.5"
    GB_1_6 = "1.6"
    GB_6_1 = "6.1"
    GB_13_5 = "13.5"
    GB_28_4 = "28.4"
    GB_58_2 = "58.2"
    GB_118 = "118"
    GB_237 = "237"


def _not_member(enum: type[StrEnum], value: object, argument: str) -> str | None:
    allowed = [member.value for member in enum]
    if value in allowed:
        return None
    return f"{argument}: {value!r} is not allowed; use one of {', '.join(allowed)}"


@dataclass(frozen=True)
class RestApiArgs:
    """Settings of a REST API.

    ``policy`` is the resource policy, a JSON document. API Gateway applies a changed policy
    only on the next deployment, so put it in the stage's ``redeploy_triggers``.
    ``models`` maps model names to JSON schemas (draft 4 unless the schema says otherwise).
    """

    description: str | None = None
    endpoint_type: EndpointType = EndpointType.REGIONAL
    vpc_endpoint_ids: Sequence[pulumi.Input[str]] = ()
    policy: pulumi.Input[str] | None = None
    api_key_source: ApiKeySource = ApiKeySource.HEADER
    security_policy: str = "TLS_1_2"
    disable_execute_api_endpoint: bool = False
    minimum_compression_size: int | None = None
    binary_media_types: Sequence[str] = ()
    models: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)


def _rest_api_problems(args: RestApiArgs) -> list[str | None]:
    problems: list[str | None] = [
        _not_member(EndpointType, args.endpoint_type, "endpoint_type"),
        _not_member(ApiKeySource, args.api_key_source, "api_key_source"),
    ]
    private = args.endpoint_type == EndpointType.PRIVATE
    if private and not args.vpc_endpoint_ids:
        problems.append("vpc_endpoint_ids: a PRIVATE API needs the execute-api VPC endpoints "
                        "that may reach it")
    if not private and args.vpc_endpoint_ids:
        problems.append(f"vpc_endpoint_ids: only a PRIVATE API takes VPC endpoints, not a "
                        f"{args.endpoint_type} one")
    if private and args.policy is None:
        problems.append("policy: a PRIVATE API needs a resource policy that denies every caller "
                        "whose aws:SourceVpce is not one of its endpoints")
    if isinstance(args.policy, str):
        try:
            json.loads(args.policy)
        except json.JSONDecodeError:
            problems.append("policy: is not a JSON document")
        else:
            if private and "aws:SourceVpc" not in args.policy:
                problems.append("policy: the resource policy of a PRIVATE API must restrict "
                                "callers with an aws:SourceVpce (or aws:SourceVpc) condition")
    if args.security_policy == "TLS_1_0":
        problems.append("security_policy: TLS_1_0 accepts TLS 1.0 and 1.1 clients; use TLS_1_2 "
                        "or an enhanced SecurityPolicy_* policy")
    elif args.security_policy != "TLS_1_2" and not args.security_policy.startswith(
            "SecurityPolicy_"):
        problems.append(f"security_policy: {args.security_policy!r} is not a security policy; "
                        "use TLS_1_2 or an enhanced SecurityPolicy_* policy")
    size = args.minimum_compression_size
    if size is not None and not 0 <= size <= MAX_COMPRESSION_SIZE:
        problems.append(f"minimum_compression_size: {size} is outside 0..{MAX_COMPRESSION_SIZE} "
                        "bytes; leave it unset to turn compression off")
    problems += [f"models: model name {model!r} must be 1 to 128 letters and digits"
                 for model in args.models if not MODEL_NAME.match(model)]
    problems += [f"models: the schema of {model!r} must be a JSON object"
                 for model, schema in args.models.items() if not isinstance(schema, Mapping)]
    lowered = [model.lower() for model in args.models]
    problems += [f"models: model names {sorted(m for m in args.models if m.lower() == low)} "
                 "differ only in case" for low in sorted(set(lowered)) if lowered.count(low) > 1]
    return problems


class RestApi(pulumi.ComponentResource):
    """A REST API with a request validator and JSON-schema models. Deploy it with ``RestStage``."""

    api: aws.apigateway.RestApi
    api_id: pulumi.Output[str]
    root_resource_id: pulumi.Output[str]
    execution_arn: pulumi.Output[str]
    request_validator_id: pulumi.Output[str]
    models: dict[str, aws.apigateway.Model]

    def __init__(self, name: str, args: RestApiArgs, defaults: Defaults,
                 opts: pulumi.ResourceOptions | None = None) -> None:
        require_valid(f"RestApi {name}", _rest_api_problems(args))
        super().__init__("blueprints:foundation:RestApi", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)

        endpoint: RestApiEndpointConfigurationArgsDict = {"types": str(args.endpoint_type)}
        if args.vpc_endpoint_ids:
            endpoint["vpc_endpoint_ids"] = list(args.vpc_endpoint_ids)
        enhanced = args.security_policy.startswith("SecurityPolicy_")
        self.api = aws.apigateway.RestApi(
            f"{name}-api",
            description=args.description,
            endpoint_configuration=endpoint,
            policy=args.policy,
            api_key_source=str(args.api_key_source),
            security_policy=args.security_policy,
            # AWS recommends STRICT; it is only accepted with the enhanced policies.
            endpoint_access_mode="STRICT" if enhanced else None,
            disable_execute_api_endpoint=args.disable_execute_api_endpoint,
            minimum_compression_size=(None if args.minimum_compression_size is None
                                      else str(args.minimum_compression_size)),
            binary_media_types=list(args.binary_media_types) or None,
            opts=child,
        )
        self.api_id = self.api.id
        self.root_resource_id = self.api.root_resource_id
        self.execution_arn = self.api.execution_arn

        validator = aws.apigateway.RequestValidator(
            f"{name}-validator",
            rest_api=self.api.id,
            name="body-and-parameters",
            validate_request_body=True,
            validate_request_parameters=True,
            opts=child,
        )
        self.request_validator_id = validator.id

        self.models = {
            model: aws.apigateway.Model(
                f"{name}-model-{model.lower()}",
                rest_api=self.api.id,
                name=model,
                content_type="application/json",
                schema=json.dumps({"$schema": JSON_SCHEMA_DRAFT_4, **schema}),
                opts=child,
            )
            for model, schema in args.models.items()
        }

        self.register_outputs({
            "apiId": self.api_id,
            "rootResourceId": self.root_resource_id,
            "executionArn": self.execution_arn,
            "requestValidatorId": self.request_validator_id,
            "models": {model: resource.name for model, resource in self.models.items()},
        })


@dataclass(frozen=True)
class RestStageArgs:
    """Settings of a deployed REST API stage.

    ``redeploy_triggers`` maps names to values whose change must redeploy the API: the ids of
    methods and integrations, a hash of an OpenAPI body, the resource policy. ``depends_on``
    lists the methods and integrations the first deployment must wait for. ``stage_name``
    defaults to the stack's stage.
    """

    rest_api_id: pulumi.Input[str]
    redeploy_triggers: Mapping[str, pulumi.Input[str]]
    depends_on: Sequence[pulumi.Resource] = ()
    stage_name: str | None = None
    description: str | None = None
    throttling_burst_limit: int = 100
    throttling_rate_limit: float = 50
    logging_level: LoggingLevel = LoggingLevel.INFO
    data_trace_enabled: bool = False
    xray_tracing_enabled: bool = True
    cache_size: CacheSize | None = None
    cache_ttl_seconds: int = 300
    web_acl_arn: pulumi.Input[str] | None = None
    log_kms_key_arn: pulumi.Input[str] | None = None


def _stage_problems(args: RestStageArgs, stage_name: str) -> list[str | None]:
    problems: list[str | None] = [
        _not_member(LoggingLevel, args.logging_level, "logging_level"),
    ]
    if not STAGE_NAME.match(stage_name):
        problems.append(f"stage_name: {stage_name!r} must be 1 to 128 letters, digits, hyphens "
                        "or underscores")
    if not args.redeploy_triggers:
        problems.append("redeploy_triggers: name at least one value whose change must redeploy "
                        "the API (method and integration ids, an OpenAPI hash); without one, "
                        "changes are never deployed")
    if isinstance(args.throttling_burst_limit, bool) or args.throttling_burst_limit < 1:
        problems.append(f"throttling_burst_limit: {args.throttling_burst_limit} must be a whole "
                        "number of requests, at least 1")
    if args.throttling_rate_limit <= 0:
        problems.append(f"throttling_rate_limit: {args.throttling_rate_limit} must be a positive "
                        "number of requests per second")
    if args.cache_size is not None:
        problems.append(_not_member(CacheSize, args.cache_size, "cache_size"))
        if not 0 <= args.cache_ttl_seconds <= 3600:
            problems.append(f"cache_ttl_seconds: {args.cache_ttl_seconds} is outside 0..3600")
    if isinstance(args.web_acl_arn, str) and not REGIONAL_WEB_ACL.match(args.web_acl_arn):
        problems.append(f"web_acl_arn: {args.web_acl_arn!r} is not a REGIONAL WAFv2 web ACL ARN "
                        "(a CLOUDFRONT one cannot protect a stage)")
    return problems


class RestStage(pulumi.ComponentResource):
    """A deployment of a REST API and the stage that serves it, with logs, tracing and limits.

    The deployment is replaced whenever a trigger changes. Pulumi creates the replacement
    before it deletes the old one, so the stage moves to the new deployment first and the old
    one is never deleted while a stage still points at it; do not set ``delete_before_replace``
    on it.
    """

    deployment: aws.apigateway.Deployment
    stage: aws.apigateway.Stage
    access_log_group: aws.cloudwatch.LogGroup
    execution_log_group: aws.cloudwatch.LogGroup | None
    method_settings: aws.apigateway.MethodSettings
    web_acl_association: aws.wafv2.WebAclAssociation | None
    invoke_url: pulumi.Output[str]
    execution_arn: pulumi.Output[str]
    stage_arn: pulumi.Output[str]

    def __init__(self, name: str, args: RestStageArgs, defaults: Defaults,
                 opts: pulumi.ResourceOptions | None = None) -> None:
        stage_name = args.stage_name or defaults.stage
        require_valid(f"RestStage {name}", _stage_problems(args, stage_name))
        super().__init__("blueprints:foundation:RestStage", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        caching = args.cache_size is not None
        logging_on = args.logging_level != LoggingLevel.OFF

        if not logging_on:
            warn_override(self, "logging_level OFF",
                          "Without execution logs, failed requests cannot be diagnosed.")
        if args.data_trace_enabled:
            warn_override(self, "data_trace_enabled",
                          "Data trace logs full request and response bodies, which may hold "
                          "personal data and secrets; use it briefly, never in production.")
        if not args.xray_tracing_enabled:
            warn_override(self, "xray_tracing_enabled False",
                          "Without X-Ray, requests cannot be traced through the API.")

        self.access_log_group = log_group(f"{name}-access-logs", defaults,
                                          kms_key_arn=args.log_kms_key_arn, opts=child)
        # API Gateway creates this group itself, with no retention, unless it exists first.
        self.execution_log_group = log_group(
            f"{name}-execution-logs", defaults,
            log_group_name=pulumi.Output.concat(
                "API-Gateway-Execution-Logs_", args.rest_api_id, "/", stage_name),
            kms_key_arn=args.log_kms_key_arn, opts=child,
        ) if logging_on else None

        self.deployment = aws.apigateway.Deployment(
            f"{name}-deployment",
            rest_api=args.rest_api_id,
            description=args.description,
            triggers=dict(args.redeploy_triggers),
            opts=pulumi.ResourceOptions(parent=self, depends_on=list(args.depends_on)),
        )

        access_logs: StageAccessLogSettingsArgsDict = {
            "destination_arn": self.access_log_group.arn,
            "format": ACCESS_LOG_FORMAT,
        }
        self.stage = aws.apigateway.Stage(
            f"{name}-stage",
            rest_api=args.rest_api_id,
            deployment=self.deployment.id,
            stage_name=stage_name,
            description=args.description,
            access_log_settings=access_logs,
            xray_tracing_enabled=args.xray_tracing_enabled,
            cache_cluster_enabled=caching,
            cache_cluster_size=str(args.cache_size) if caching else None,
            opts=pulumi.ResourceOptions(
                parent=self,
                depends_on=[self.execution_log_group] if self.execution_log_group else None),
        )

        settings: MethodSettingsSettingsArgsDict = {
            "throttling_burst_limit": args.throttling_burst_limit,
            "throttling_rate_limit": args.throttling_rate_limit,
            "logging_level": str(args.logging_level),
            "metrics_enabled": True,
            "data_trace_enabled": args.data_trace_enabled,
            "caching_enabled": caching,
        }
        if caching:
            settings.update({
                "cache_data_encrypted": True,
                "cache_ttl_in_seconds": args.cache_ttl_seconds,
                "require_authorization_for_cache_control": True,
                "unauthorized_cache_control_header_strategy": "FAIL_WITH_403",
            })
        self.method_settings = aws.apigateway.MethodSettings(
            f"{name}-method-settings",
            rest_api=args.rest_api_id,
            stage_name=self.stage.stage_name,
            method_path="*/*",
            settings=settings,
            opts=child,
        )

        self.web_acl_association = aws.wafv2.WebAclAssociation(
            f"{name}-waf",
            resource_arn=self.stage.arn,
            web_acl_arn=args.web_acl_arn,
            opts=child,
        ) if args.web_acl_arn is not None else None

        self.invoke_url = self.stage.invoke_url
        self.execution_arn = self.stage.execution_arn
        self.stage_arn = self.stage.arn
        self.register_outputs({
            "stageName": self.stage.stage_name,
            "invokeUrl": self.invoke_url,
            "executionArn": self.execution_arn,
            "stageArn": self.stage_arn,
            "accessLogGroupName": self.access_log_group.name,
        })
