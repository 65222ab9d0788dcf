"""A WAFv2 web ACL for an API stage or a CloudFront distribution, with its logs.

``WebAcl`` creates the web ACL with the rules of the application-security post, AWS managed rule
groups when asked, and logging to a CloudWatch log group of its own. Associate it with a REST
stage through ``RestStageArgs(web_acl_arn=web_acl.arn)``; HTTP APIs cannot take a web ACL.

Default settings:

| Setting              | Default                                                             |
|----------------------|---------------------------------------------------------------------|
| Scope                | ``REGIONAL`` (API Gateway REST stages)                              |
| Default action       | allow; the rules block what they match                              |
| Rate limit (prio 0)  | block an IP after 2,000 requests in 5 minutes (``rate_limit``)      |
| Body size (prio 1)   | block bodies over 8,192 bytes (``max_body_bytes``); a body too big  |
|                      | for WAF to inspect counts as a match                                |
| SQL injection (2)    | block SQL injection in the body, URI path or query string, after    |
|                      | URL and HTML-entity decoding                                        |
| Managed rule groups  | none; ``managed_rule_groups`` adds AWS ones (priority 10, 11, ...)  |
|                      | with their own actions (override none)                              |
| Metrics and samples  | on, for the web ACL and every rule                                  |
| Logs                 | every request, to ``aws-waf-logs-<name>-...``, stage retention;     |
|                      | the authorization, x-api-key and cookie headers and the whole query |
|                      | string are redacted                                                 |

The rate rule comes first, so a flood is counted and stopped before the other rules spend
inspection on it. WAF inspects the first 16 KB of an API Gateway or CloudFront body by default;
a ``max_body_bytes`` above that raises the inspection limit in the web ACL's association config
(an extra WAF charge), so the size rule never blocks a body it was told to allow.

Logs: WAF names a log group destination only when it starts with ``aws-waf-logs-``. The query
string is redacted as a whole because a logging configuration can only redact the whole query
string, not one argument, and it carries the ``apiKey`` of query-key clients. The deployer needs
``logs:CreateLogDelivery`` and ``logs:PutResourcePolicy``: WAF adds the log group's resource
policy itself.

Capacity: the block's own rules use well under 200 WCUs; AWSManagedRulesCommonRuleSet takes 700,
KnownBadInputs and SQLi 200 each, against the default web ACL limit of 1,500. Groups that need
configuration of their own (account takeover and account creation fraud prevention) are
rejected: this block takes no such configuration.

Guardrail findings: none. The web ACL is what ``waf-on-public-endpoints`` asks for once a
stage or distribution is associated with it; its log group has the stage retention, and tags
come from the provider's default tags like everywhere else.

``scope=CLOUDFRONT``: a web ACL for a distribution must live in us-east-1. Pass the us-east-1
provider in ``opts`` (``ResourceOptions(provider=...)``); the log group follows it there. The
block cannot tell which region its provider is in, so it does not check.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

import pulumi
import pulumi_aws as aws
from pulumi_aws.wafv2 import (
    WebAclAssociationConfigArgsDict,
    WebAclAssociationConfigRequestBodyArgsDict,
    WebAclLoggingConfigurationRedactedFieldArgsDict,
    WebAclRuleArgsDict,
    WebAclRuleStatementArgsDict,
    WebAclRuleStatementManagedRuleGroupStatementArgsDict,
    WebAclRuleStatementSqliMatchStatementArgsDict,
    WebAclRuleStatementSqliMatchStatementFieldToMatchArgsDict,
    WebAclRuleStatementSqliMatchStatementTextTransformationArgsDict,
    WebAclRuleVisibilityConfigArgsDict,
    WebAclVisibilityConfigArgsDict,
)

from components.config import Defaults
from components.foundation.logs import log_group
from components.foundation.validation import require_valid, warn_override

MIN_RATE_LIMIT = 10
MAX_RATE_LIMIT = 2_000_000_000
RATE_WINDOW_SECONDS = 300
DEFAULT_INSPECTION_BYTES = 16 * 1024
MAX_INSPECTION_BYTES = 64 * 1024
INSPECTION_LIMITS = ("KB_16", "KB_32", "KB_48", "KB_64")
MANAGED_GROUP = re.compile(r"^AWSManagedRules[A-Za-z]+$")
# These need configuration (login or sign-up paths) that this block does not take.
CONFIGURED_GROUPS = frozenset({"AWSManagedRulesATPRuleSet", "AWSManagedRulesACFPRuleSet"})
MAX_PRIORITY = 2**31 - 1
RATE_PRIORITY, BODY_SIZE_PRIORITY, SQLI_PRIORITY = 0, 1, 2
FIRST_MANAGED_PRIORITY = 10
LOG_GROUP_PREFIX = "aws-waf-logs-"
REDACTED_HEADERS = ("authorization", "x-api-key", "cookie")
_METRIC_UNSAFE = re.compile(r"[^\w\-]")


class WafScope(StrEnum):
    """Where the web ACL can be used."""

    REGIONAL = "REGIONAL"
    CLOUDFRONT = "CLOUDFRONT"


@dataclass(frozen=True)
class ManagedRuleGroup:
    """An AWS managed rule group, by name, at an explicit priority (else 10, 11, ... in order)."""

    name: str
    priority: int | None = None
    version: str | None = None


@dataclass(frozen=True)
class WebAclArgs:
    """Settings of a web ACL; every field has a default.

    ``rate_limit`` is requests per client IP in 5 minutes. ``max_body_bytes`` is the largest
    body let through. ``managed_rule_groups`` are AWS managed rule group names (or
    ``ManagedRuleGroup`` for a priority or version), such as ``AWSManagedRulesCommonRuleSet``,
    ``AWSManagedRulesKnownBadInputsRuleSet`` or ``AWSManagedRulesSQLiRuleSet``.
    """

    scope: WafScope = WafScope.REGIONAL
    description: str | None = None
    rate_limit: int = 2000
    max_body_bytes: int = 8192
    block_sql_injection: bool = True
    managed_rule_groups: Sequence[str | ManagedRuleGroup] = ()
    log_kms_key_arn: pulumi.Input[str] | None = None


def _groups(args: WebAclArgs) -> list[ManagedRuleGroup]:
    groups = [g if isinstance(g, ManagedRuleGroup) else ManagedRuleGroup(g)
              for g in args.managed_rule_groups]
    taken = {g.priority for g in groups if g.priority is not None}
    next_priority = FIRST_MANAGED_PRIORITY
    placed = []
    for group in groups:
        if group.priority is None:
            while next_priority in taken:
                next_priority += 1
            group = ManagedRuleGroup(group.name, next_priority, group.version)
            taken.add(next_priority)
        placed.append(group)
    return placed


def _whole(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _problems(args: WebAclArgs) -> list[str | None]:
    problems: list[str | None] = []
    if args.scope not in list(WafScope):
        problems.append(f"scope: {args.scope!r} is not allowed; use one of "
                        f"{', '.join(WafScope)}")
    if not _whole(args.rate_limit) or not MIN_RATE_LIMIT <= args.rate_limit <= MAX_RATE_LIMIT:
        problems.append(f"rate_limit: {args.rate_limit!r} must be a whole number of requests "
                        f"per 5 minutes in {MIN_RATE_LIMIT}..{MAX_RATE_LIMIT:,}")
    if not _whole(args.max_body_bytes) or not 1 <= args.max_body_bytes <= MAX_INSPECTION_BYTES:
        problems.append(f"max_body_bytes: {args.max_body_bytes!r} must be a whole number of "
                        f"bytes in 1..{MAX_INSPECTION_BYTES} (WAF inspects at most 64 KB)")
    names: list[str] = []
    for i, group in enumerate(args.managed_rule_groups):
        where = f"managed_rule_groups[{i}]"
        name = group.name if isinstance(group, ManagedRuleGroup) else group
        if not isinstance(name, str) or not MANAGED_GROUP.match(name):
            problems.append(f"{where}: {name!r} is not an AWS managed rule group name "
                            "(AWSManagedRules<Name>)")
        elif name in CONFIGURED_GROUPS:
            problems.append(f"{where}: {name} needs configuration (login or sign-up paths) "
                            "that this block does not take")
        elif name in names:
            problems.append(f"{where}: {name} is given twice")
        names.append(name)
        priority = group.priority if isinstance(group, ManagedRuleGroup) else None
        if priority is not None and (not _whole(priority) or not 0 <= priority <= MAX_PRIORITY):
            problems.append(f"{where}.priority: {priority!r} must be a whole number, at least 0")
    builtin = {RATE_PRIORITY: "the rate limit rule", BODY_SIZE_PRIORITY: "the body size rule",
               SQLI_PRIORITY: "the SQL injection rule"}
    seen: dict[int, str] = dict(builtin)
    for i, group in enumerate(args.managed_rule_groups):
        priority = group.priority if isinstance(group, ManagedRuleGroup) else None
        if priority is None or not _whole(priority):
            continue
        if priority in seen:
            problems.append(f"managed_rule_groups[{i}].priority: {priority} is already taken by "
                            f"{seen[priority]}; priorities must be unique")
        else:
            seen[priority] = f"managed_rule_groups[{i}]"
    return problems


def _metric(name: str) -> str:
    return _METRIC_UNSAFE.sub("-", name)[:255]


def _visibility(metric: str) -> WebAclRuleVisibilityConfigArgsDict:
    return {"cloudwatch_metrics_enabled": True, "metric_name": _metric(metric),
            "sampled_requests_enabled": True}


def _inspection_limit(max_body_bytes: int) -> str | None:
    """The smallest body inspection limit that covers ``max_body_bytes``; None for the default."""
    if max_body_bytes <= DEFAULT_INSPECTION_BYTES:
        return None
    return INSPECTION_LIMITS[math.ceil(max_body_bytes / DEFAULT_INSPECTION_BYTES) - 1]


def _sqli_statement() -> WebAclRuleStatementArgsDict:
    decode: list[WebAclRuleStatementSqliMatchStatementTextTransformationArgsDict] = [
        {"priority": 0, "type": "URL_DECODE"}, {"priority": 1, "type": "HTML_ENTITY_DECODE"}]
    fields: list[WebAclRuleStatementSqliMatchStatementFieldToMatchArgsDict] = [
        # Bodies beyond the inspection limit are blocked by the body size rule already.
        {"body": {"oversize_handling": "CONTINUE"}},
        {"uri_path": {}},
        {"query_string": {}},
    ]
    matches: list[WebAclRuleStatementArgsDict] = []
    for field_to_match in fields:
        match: WebAclRuleStatementSqliMatchStatementArgsDict = {
            "field_to_match": field_to_match, "text_transformations": decode}
        matches.append({"sqli_match_statement": match})
    return {"or_statement": {"statements": matches}}


class WebAcl(pulumi.ComponentResource):
    """A web ACL that rate-limits IPs, caps body size, blocks SQL injection, and logs."""

    web_acl: aws.wafv2.WebAcl
    log_group: aws.cloudwatch.LogGroup
    logging: aws.wafv2.WebAclLoggingConfiguration
    arn: pulumi.Output[str]
    id: pulumi.Output[str]

    def __init__(self, name: str, args: WebAclArgs, defaults: Defaults,
                 opts: pulumi.ResourceOptions | None = None) -> None:
        require_valid(f"WebAcl {name}", _problems(args))
        super().__init__("blueprints:foundation:WebAcl", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        if not args.block_sql_injection:
            warn_override(self, "block_sql_injection False",
                          "SQL injection in bodies, paths and query strings reaches the "
                          "backend unless a managed rule group catches it.")

        rules: list[WebAclRuleArgsDict] = [
            {
                "name": "rate-limit-per-ip",
                "priority": RATE_PRIORITY,
                "action": {"block": {}},
                "statement": {"rate_based_statement": {
                    "limit": args.rate_limit,
                    "aggregate_key_type": "IP",
                    "evaluation_window_sec": RATE_WINDOW_SECONDS,
                }},
                "visibility_config": _visibility(f"{name}-rate-limit-per-ip"),
            },
            {
                "name": "max-body-size",
                "priority": BODY_SIZE_PRIORITY,
                "action": {"block": {}},
                "statement": {"size_constraint_statement": {
                    "comparison_operator": "GT",
                    "size": args.max_body_bytes,
                    "field_to_match": {"body": {"oversize_handling": "MATCH"}},
                    "text_transformations": [{"priority": 0, "type": "NONE"}],
                }},
                "visibility_config": _visibility(f"{name}-max-body-size"),
            },
        ]
        if args.block_sql_injection:
            rules.append({
                "name": "sql-injection",
                "priority": SQLI_PRIORITY,
                "action": {"block": {}},
                "statement": _sqli_statement(),
                "visibility_config": _visibility(f"{name}-sql-injection"),
            })
        for group in _groups(args):
            assert group.priority is not None
            managed: WebAclRuleStatementManagedRuleGroupStatementArgsDict = {
                "vendor_name": "AWS", "name": group.name}
            if group.version is not None:
                managed["version"] = group.version
            rules.append({
                "name": group.name,
                "priority": group.priority,
                "override_action": {"none": {}},
                "statement": {"managed_rule_group_statement": managed},
                "visibility_config": _visibility(f"{name}-{group.name}"),
            })

        association: WebAclAssociationConfigArgsDict | None = None
        limit = _inspection_limit(args.max_body_bytes)
        if limit is not None:
            # The key names the protected resource type: api_gateway for a REGIONAL web ACL,
            # cloudfront for a CLOUDFRONT one (pulumi-aws's field docs have the two swapped).
            body: WebAclAssociationConfigRequestBodyArgsDict = (
                {"cloudfront": {"default_size_inspection_limit": limit}}
                if args.scope == WafScope.CLOUDFRONT
                else {"api_gateway": {"default_size_inspection_limit": limit}})
            association = {"request_bodies": [body]}

        visibility: WebAclVisibilityConfigArgsDict = {
            "cloudwatch_metrics_enabled": True, "metric_name": _metric(name),
            "sampled_requests_enabled": True}
        self.web_acl = aws.wafv2.WebAcl(
            f"{name}-acl",
            scope=str(args.scope),
            description=args.description,
            default_action={"allow": {}},
            rules=rules,
            association_config=association,
            visibility_config=visibility,
            opts=child,
        )

        self.log_group = log_group(f"{name}-logs", defaults,
                                   log_group_name_prefix=f"{LOG_GROUP_PREFIX}{name}-",
                                   kms_key_arn=args.log_kms_key_arn, opts=child)
        redacted: list[WebAclLoggingConfigurationRedactedFieldArgsDict] = [
            {"single_header": {"name": header}} for header in REDACTED_HEADERS]
        redacted.append({"query_string": {}})
        self.logging = aws.wafv2.WebAclLoggingConfiguration(
            f"{name}-logging",
            resource_arn=self.web_acl.arn,
            log_destination_configs=[self.log_group.arn],
            redacted_fields=redacted,
            opts=child,
        )

        self.arn = self.web_acl.arn
        self.id = self.web_acl.id
        self.register_outputs({
            "arn": self.arn,
            "id": self.id,
            "logGroupName": self.log_group.name,
        })
