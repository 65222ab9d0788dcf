"""A stack's monthly cost estimate, from its plan, a usage file and a dated price table.

    python -m tools.plan --stack dev --cost                       # usage.dev.yaml if present
    python -m tools.plan --stack dev --cost --json                # the estimate as JSON, for CI
    python -m tools.plan --stack prod --cost --against dev        # what prod adds per month
    python -m tools.plan --stack dev --cost --against old.json    # against a saved --json estimate

Fixed costs come from the resources the plan declares (hours of NAT gateways, endpoints, load
balancers, caches and Fargate services, keys, ACLs, alarms, dashboards...); usage costs from the
usage file (``usage.<stack>.yaml``: requests per API, invocations and durations per function, GB
stored, messages...) at the memory and architecture the plan configures. Prices come from
``tools/prices.yaml`` (dated, with a source per price) for the region each resource's provider
is in. A resource with no price, a region the table does not know, and a usage-priced resource
the usage file says nothing about are all listed: nothing is counted as zero silently.
Everything is computed in ``Decimal`` and rounded to the cent once, per service and in total.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import yaml

from tools.mock_runtime import ROOT, Resource, StackRun, reveal

PRICES_FILE = Path(__file__).with_name("prices.yaml")
CENT = Decimal("0.01")
GLOBAL = "global"


class UsageError(Exception):
    """The usage file is unreadable or says something the estimator cannot use; the message
    names the file and the key."""


class PriceError(Exception):
    """The price table is malformed."""


# --- the price table ---------------------------------------------------------------------


def _decimal(value: Any) -> Decimal:
    # YAML floats go through repr, which gives their shortest exact spelling (1.33334e-05).
    return Decimal(repr(value)) if isinstance(value, float) else Decimal(str(value))


@dataclass(frozen=True)
class Price:
    """One price: ``usd`` per ``per`` units of ``unit``."""

    key: str
    usd: Decimal
    per: Decimal
    unit: str
    source: str
    verified: bool
    note: str

    def label(self) -> str:
        per = "" if self.per == 1 else f"{self.per:,} "
        return f"{_plain(self.usd)} per {per}{self.unit}"


def _plain(usd: Decimal) -> str:
    """$0.0000133334, $3.50, $1.11: every significant digit, at least two decimals."""
    text = format(usd.normalize(), "f")
    whole, _, fraction = text.partition(".")
    return f"${whole}.{fraction.ljust(2, '0')}"


@dataclass(frozen=True)
class PriceTable:
    """The dated table: prices per region, and the global ones (CloudFront, Lambda@Edge)."""

    as_of: str
    hours_per_month: Decimal
    regions: Mapping[str, Mapping[str, Price]]

    def get(self, region: str | None, key: str) -> Price | None:
        if region is None:
            return None
        return self.regions.get(region, {}).get(key)

    def knows(self, region: str | None) -> bool:
        return region in self.regions

    def unverified(self) -> list[tuple[str, Price]]:
        return [(region, price) for region, prices in sorted(self.regions.items())
                for price in prices.values() if not price.verified]


def load_prices(path: Path = PRICES_FILE) -> PriceTable:
    """Reads ``tools/prices.yaml``."""
    document = yaml.safe_load(path.read_text())
    try:
        regions: dict[str, dict[str, Price]] = {}
        sections = {GLOBAL: document.get("global", {}), **document["regions"]}
        for region, entries in sections.items():
            regions[region] = {key: Price(key, _decimal(e["usd"]), _decimal(e.get("per", 1)),
                                          str(e["unit"]), str(e["source"]),
                                          bool(e.get("verified", False)), str(e.get("note", "")))
                               for key, e in entries.items()}
        return PriceTable(str(document["asOf"]), _decimal(document["hoursPerMonth"]), regions)
    except (KeyError, TypeError, AttributeError) as error:
        raise PriceError(f"{path}: malformed price table ({error!r})") from error


# --- the usage file ----------------------------------------------------------------------

# What a service's section may hold: key -> None for a number, or the keys of a sub-mapping.
_NUMBER = None
SERVICE_KEYS: dict[str, set[str] | None] = {
    "requests": _NUMBER,            # requests a month to each of the service's APIs (default)
    "apis": set(),                  # {api resource name: requests a month}
    "functions": set(),             # {function: {invocations, durationMs | billedMs, source}}
    "cloudfront": {"requests", "dataOutGb"},
    "wafRequests": _NUMBER,
    "natGb": _NUMBER, "endpointGb": _NUMBER, "logsGb": _NUMBER, "kmsRequests": _NUMBER,
    "dynamodb": {"reads", "writes", "storageGb"},
    "s3": {"storageGb", "puts", "gets"},
    "sqsRequests": _NUMBER, "snsPublishes": _NUMBER, "snsEmails": _NUMBER, "events": _NUMBER,
    "schedulerInvocations": _NUMBER, "stateTransitions": _NUMBER, "mau": _NUMBER,
    "cache": {"storageGb", "ecpus"},
    "fargateTaskHours": _NUMBER, "resolverQueries": _NUMBER, "lcuHours": _NUMBER,
    "sesEmails": _NUMBER, "ecrGb": _NUMBER,
    "assumptions": set(),           # free text, printed with the estimate
}
FUNCTION_KEYS = {"invocations", "durationMs", "billedMs", "source"}


def _number(value: Any, where: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise UsageError(f"{where}: expected a number, got {value!r}")
    if value < 0:
        raise UsageError(f"{where}: expected a number of at least 0, got {value!r}")
    return _decimal(value)


def _check_service(name: str, section: Any, where: str) -> None:
    if not isinstance(section, Mapping):
        raise UsageError(f"{where}: expected a mapping of usage keys")
    for key, value in section.items():
        at = f"{where}.{key}"
        if key not in SERVICE_KEYS:
            raise UsageError(f"{at}: unknown usage key (known: {', '.join(sorted(SERVICE_KEYS))})")
        allowed = SERVICE_KEYS[key]
        if key == "assumptions":
            if not isinstance(value, (str, list)):
                raise UsageError(f"{at}: expected text or a list of texts")
        elif allowed is None:
            _number(value, at)
        elif not isinstance(value, Mapping):
            raise UsageError(f"{at}: expected a mapping")
        elif key == "apis":
            for api, count in value.items():
                _number(count, f"{at}.{api}")
        elif key == "functions":
            for function, entry in value.items():
                _check_function(entry, f"{at}.{function}")
        else:
            for sub, count in value.items():
                if sub not in allowed:
                    raise UsageError(f"{at}.{sub}: unknown usage key "
                                     f"(known: {', '.join(sorted(allowed))})")
                _number(count, f"{at}.{sub}")


def _check_function(entry: Any, where: str) -> None:
    if not isinstance(entry, Mapping):
        raise UsageError(f"{where}: expected a mapping (invocations, durationMs or billedMs)")
    for key, value in entry.items():
        if key not in FUNCTION_KEYS:
            raise UsageError(f"{where}.{key}: unknown usage key "
                             f"(known: {', '.join(sorted(FUNCTION_KEYS))})")
        if key != "source":
            _number(value, f"{where}.{key}")
    if "durationMs" not in entry and "billedMs" not in entry:
        raise UsageError(f"{where}: give durationMs (billed up to the ms) or billedMs "
                         "(the mean billed ms per invocation)")


def load_usage(path: Path) -> dict[str, Any]:
    """Reads and checks a usage file; ``UsageError`` names the file and the key at fault."""
    try:
        document = yaml.safe_load(path.read_text())
    except OSError as error:
        raise UsageError(f"{path}: can't read: {error.strerror}") from error
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f":{mark.line + 1}:{mark.column + 1}" if mark else ""
        raise UsageError(f"{path}{where}: not valid YAML "
                         f"({getattr(error, 'problem', None) or error})") from error
    try:
        return check_usage(document or {})
    except UsageError as error:
        raise UsageError(f"{path}: {error}") from error


def check_usage(document: Any) -> dict[str, Any]:
    """The usage mapping, checked (the messages name the key, not the file)."""
    if not isinstance(document, Mapping):
        raise UsageError("expected a mapping with a 'services' key")
    for key in document:
        if key not in ("services", "assumptions", "asOf"):
            raise UsageError(f"{key}: unknown top-level key (known: asOf, assumptions, services)")
    services = document.get("services") or {}
    if not isinstance(services, Mapping):
        raise UsageError("services: expected a mapping of service name to usage")
    for name, section in services.items():
        _check_service(name, section, f"services.{name}")
    return dict(document)


# --- the estimate ------------------------------------------------------------------------


@dataclass(frozen=True)
class Line:
    """One priced item of one service: ``quantity`` (in ``price.unit``) times the price."""

    service: str
    item: str
    quantity: Decimal
    price: Price
    region: str

    @property
    def monthly(self) -> Decimal:
        return self.quantity * self.price.usd / self.price.per


@dataclass(frozen=True)
class Unpriced:
    """A resource (or usage) that the estimate could not price, and why."""

    service: str
    type: str
    name: str
    reason: str


@dataclass
class Estimate:
    stack: str
    as_of: str
    usage_file: str | None
    lines: list[Line] = field(default_factory=list)
    unpriced: list[Unpriced] = field(default_factory=list)
    no_usage: list[Unpriced] = field(default_factory=list)
    free: dict[str, int] = field(default_factory=dict)
    assumptions: dict[str, list[str]] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def services(self) -> dict[str, Decimal]:
        """Each service's monthly total, rounded to the cent once."""
        totals: dict[str, Decimal] = {}
        for line in self.lines:
            totals[line.service] = totals.get(line.service, Decimal(0)) + line.monthly
        return {name: cents(total) for name, total in sorted(totals.items())}

    @property
    def total(self) -> Decimal:
        """The sum of the services' totals, so that the table a reader adds up adds up."""
        return sum(self.services().values(), Decimal(0))


def cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def service_of(run: StackRun, resource: Resource) -> str:
    """The catalog service a resource belongs to: the component it sits under."""
    by_urn = {r.urn: r for r in run.resources}
    parent = resource.parent
    while parent and parent in by_urn:
        component = by_urn[parent]
        if component.type.startswith("blueprints:services:"):
            return component.name
        if component.type == "blueprints:environment:AccountConnection":
            return component.name
        if component.type.startswith("blueprints:environment:"):
            return "environment"
        if component.type.startswith("blueprints:pipeline:"):
            return component.name
        parent = component.parent
    return "stack"


# Managed types that cost nothing by themselves, with the reason (what they cost is priced
# elsewhere, or AWS does not charge for them).
FREE: dict[str, str] = {
    "aws:iam/": "IAM is free",
    "aws:cloudwatch/logGroup:LogGroup": "a log group's existence is free; ingestion is usage "
                                        "(logsGb)",
    "aws:cloudwatch/logDelivery": "vended log delivery: priced as the logs it delivers (logsGb)",
    "aws:cloudwatch/eventRule:EventRule": "rules are free; events are usage (events)",
    "aws:cloudwatch/eventTarget:EventTarget": "targets are free",
    "aws:cloudwatch/eventBus:EventBus": "a bus is free; events are usage (events)",
    "aws:cloudwatch/eventArchive:EventArchive": "archive storage not modelled (small)",
    "aws:apigateway/": "API Gateway configuration is free; requests are usage",
    "aws:apigatewayv2/": "API Gateway configuration is free; requests are usage",
    "aws:ec2/vpc:Vpc": "free", "aws:ec2/subnet:Subnet": "free",
    "aws:ec2/routeTable": "free", "aws:ec2/route:Route": "free",
    "aws:ec2/internetGateway:InternetGateway": "free",
    "aws:ec2/securityGroup:SecurityGroup": "free",
    "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup": "free",
    "aws:ec2/managedPrefixList:ManagedPrefixList": "free",
    "aws:ec2/flowLog:FlowLog": "priced as the logs it delivers (logsGb)",
    "aws:vpc/securityGroup": "free",
    "aws:lambda/permission:Permission": "free",
    "aws:lambda/eventSourceMapping:EventSourceMapping": "free (the polled queue's requests "
                                                         "are usage)",
    "aws:lambda/layerVersion:LayerVersion": "layer storage is within the account's free 75 GB",
    "aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig": "free",
    "aws:lambda/alias:Alias": "free",
    "aws:s3/bucket": "bucket configuration is free; storage and requests are usage (s3)",
    "aws:s3/bucketObjectv2:BucketObjectv2": "a few small objects (within s3.storageGb)",
    "aws:s3/accessPoint:AccessPoint": "free",
    "aws:s3control/objectLambdaAccessPointPolicy": "free",
    "aws:sqs/queuePolicy:QueuePolicy": "free", "aws:sqs/redriveAllowPolicy": "free",
    "aws:sns/topicPolicy:TopicPolicy": "free", "aws:sns/topicSubscription": "free",
    "aws:cloudfront/originAccessControl": "free", "aws:cloudfront/originRequestPolicy": "free",
    "aws:cloudfront/responseHeadersPolicy": "free", "aws:cloudfront/cachePolicy": "free",
    "aws:kms/alias:Alias": "free",
    "aws:dynamodb/tableItem:TableItem": "an item (within dynamodb.storageGb)",
    "aws:ecr/lifecyclePolicy": "free", "aws:ecr/repositoryPolicy": "free",
    "aws:ecs/cluster:Cluster": "free (Fargate tasks are priced)",
    "aws:ecs/taskDefinition:TaskDefinition": "priced through its service or fargateTaskHours",
    "aws:appautoscaling/": "free",
    "aws:elasticache/user:User": "free", "aws:elasticache/userGroup:UserGroup": "free",
    "aws:dax/parameterGroup": "free", "aws:dax/subnetGroup": "free",
    "aws:route53/resolverQueryLogConfig": "priced as the logs it delivers (logsGb)",
    "aws:lb/listener": "free (the load balancer is priced)",
    "aws:lb/targetGroup:TargetGroup": "free (the load balancer is priced)",
    "aws:wafv2/webAclAssociation": "free (the ACL is priced)",
    "aws:wafv2/webAclLoggingConfiguration": "priced as the logs it delivers (logsGb)",
    "aws:sesv2/configurationSet:ConfigurationSet": "free; emails are usage (sesEmails)",
    "aws:cognito/userGroup:UserGroup": "free", "aws:cognito/userPoolClient": "free",
    "aws:cognito/userPoolDomain": "free",
    "aws:ssm/parameter:Parameter": "standard parameters are free",
    "docker-build:index:Image": "a build step; its image is stored in ECR (ecrGb)",
    "aws:lambda/provisionedConcurrencyConfig": "priced with its function",
}

# Managed types that cost money in ways the estimator does not model: listed, with the reason.
NOT_MODELLED: dict[str, str] = {
    "aws:s3control/objectLambdaAccessPoint:ObjectLambdaAccessPoint":
        "S3 Object Lambda charges per GB returned and per request on top of the function "
        "(not modelled; the transform function and S3 GETs are priced)",
    "aws:codepipeline/pipeline:Pipeline": "CodePipeline V2 action minutes (not modelled)",
    "aws:codebuild/project:Project": "CodeBuild build minutes (not modelled)",
}

# Resources priced only by usage: without usage, they are listed under "no usage given".
USAGE_PRICED = {
    "aws:dynamodb/table:Table": "dynamodb", "aws:s3/bucket:Bucket": "s3",
    "aws:s3/bucketV2:BucketV2": "s3", "aws:sqs/queue:Queue": "sqsRequests",
    "aws:sns/topic:Topic": "snsPublishes", "aws:sfn/stateMachine:StateMachine":
    "stateTransitions", "aws:scheduler/schedule:Schedule": "schedulerInvocations",
    "aws:cognito/userPool:UserPool": "mau", "aws:ecr/repository:Repository": "ecrGb",
}


def free_reason(type_: str) -> str | None:
    return next((reason for prefix, reason in FREE.items() if type_.startswith(prefix)), None)


class _Context:
    """What the rules share: the run, the usage, the prices and the estimate being built."""

    def __init__(self, run: StackRun, usage: Mapping[str, Any], prices: PriceTable,
                 estimate: Estimate) -> None:
        self.run = run
        self.services: Mapping[str, Any] = usage.get("services") or {}
        self.prices = prices
        self.estimate = estimate
        self.hours = prices.hours_per_month
        self.by_urn = {r.urn: r for r in run.resources}
        self.edge_functions = _edge_function_names(run)

    def region(self, resource: Resource) -> str | None:
        provider = self.by_urn.get(resource.provider_urn or "")
        region = reveal(provider.inputs.get("region")) if provider else None
        return region if isinstance(region, str) else None

    def usage(self, service: str) -> Mapping[str, Any]:
        return self.services.get(service) or {}

    def charge(self, service: str, resource: Resource, region: str | None, key: str,
               quantity: Decimal, item: str) -> None:
        """A line, or an unpriced entry when the region or the price is unknown."""
        price = self.prices.get(region, key)
        if price is None:
            reason = (f"region {region or '(none)'} is not in the price table"
                      if not self.prices.knows(region) else f"no price {key} for {region}")
            self.estimate.unpriced.append(Unpriced(service, resource.type, resource.name,
                                                   f"{item}: {reason}"))
            return
        self.estimate.lines.append(Line(service, item, quantity, price, region or GLOBAL))

    def no_usage(self, service: str, resource: Resource, what: str) -> None:
        self.estimate.no_usage.append(Unpriced(service, resource.type, resource.name,
                                               f"no {what} in the usage file: counted as $0"))


def _edge_function_names(run: StackRun) -> set[str]:
    """Names of the functions CloudFront runs at the edge (Lambda@Edge, priced globally)."""
    names: set[str] = set()
    for distribution in run.of_type("aws:cloudfront/distribution:Distribution"):
        behaviors = [reveal(distribution.inputs.get("defaultCacheBehavior")) or {}]
        behaviors += reveal(distribution.inputs.get("orderedCacheBehaviors")) or []
        for behavior in behaviors:
            for association in behavior.get("lambdaFunctionAssociations") or []:
                arn = str(association.get("lambdaArn", ""))
                if ":function:" in arn:
                    names.add(arn.split(":function:", 1)[1].split(":", 1)[0])
    return names


def _int(value: Any, default: int = 0) -> int:
    value = reveal(value)
    try:
        return int(value) if value is not None else default
    except (TypeError, ValueError):
        return default


def _short_name(service: str, name: str) -> str:
    short = name.removeprefix(f"{service}-")
    return short.removesuffix("-function")


# --- the rules, one per priced type ------------------------------------------------------

Rule = Callable[[_Context, str, Resource, "str | None"], None]


def _function(ctx: _Context, service: str, r: Resource, region: str | None) -> None:
    memory = Decimal(_int(r.inputs.get("memorySize"), 128))
    architectures = reveal(r.inputs.get("architectures")) or ["x86_64"]
    arch = str(architectures[0])
    name = str(reveal(r.inputs.get("name")) or reveal(r.state.get("name")) or r.name)
    edge = name in ctx.edge_functions
    functions = ctx.usage(service).get("functions") or {}
    entry = functions.get(_short_name(service, r.name)) or functions.get(r.name)
    provisioned = False
    for config in ctx.run.of_type("aws:lambda/provisionedConcurrencyConfig:"
                                  "ProvisionedConcurrencyConfig"):
        if reveal(config.inputs.get("functionName")) in (name, r.state.get("arn")):
            provisioned = True
            count = Decimal(_int(config.inputs.get("provisionedConcurrentExecutions")))
            seconds = count * memory / 1024 * ctx.hours * 3600
            ctx.charge(service, r, region, f"lambda.{arch}.provisioned.gbSecond", seconds,
                       f"{r.name}: provisioned concurrency {count} × {memory} MB always on")
    if entry is None:
        ctx.no_usage(service, r, f"functions.{_short_name(service, r.name)}")
        return
    invocations = _decimal(entry.get("invocations", ctx.usage(service).get("requests", 0)))
    if "billedMs" in entry:
        billed_ms = _decimal(entry["billedMs"])
    else:
        billed_ms = Decimal(math.ceil(_decimal(entry["durationMs"])))
    gb_seconds = invocations * billed_ms / 1000 * memory / 1024
    where = GLOBAL if edge else region
    prefix = "lambdaEdge" if edge else "lambda"
    label = f"{r.name}{' (Lambda@Edge)' if edge else ''}"
    ctx.charge(service, r, where, f"{prefix}.requests", invocations, f"{label}: requests")
    # With provisioned concurrency, invocations are taken to fit in it (its duration rate).
    duration_key = ("lambdaEdge.gbSecond" if edge
                    else f"lambda.{arch}.provisionedDuration.gbSecond" if provisioned
                    else f"lambda.{arch}.gbSecond")
    ctx.charge(service, r, where, duration_key, gb_seconds,
               f"{label}: {billed_ms} ms × {memory} MB{'' if edge else ' ' + arch}"
               f"{' on provisioned concurrency' if provisioned else ''}")


def _api_requests(ctx: _Context, service: str, r: Resource) -> Decimal | None:
    usage = ctx.usage(service)
    apis = usage.get("apis") or {}
    value = apis.get(r.name, usage.get("requests"))
    return None if value is None else _decimal(value)


def _rest_api(ctx: _Context, service: str, r: Resource, region: str | None) -> None:
    requests = _api_requests(ctx, service, r)
    if requests is None:
        ctx.no_usage(service, r, "requests (or apis entry)")
        return
    ctx.charge(service, r, region, "apigateway.rest.requests", requests,
               f"{r.name}: REST API requests")


def _http_api(ctx: _Context, service: str, r: Resource, region: str | None) -> None:
    if str(reveal(r.inputs.get("protocolType"))) != "HTTP":
        ctx.charge(service, r, region, "apigateway.websocket.messages", Decimal(0),
                   f"{r.name}: WebSocket API")
        return
    requests = _api_requests(ctx, service, r)
    if requests is None:
        ctx.no_usage(service, r, "requests (or apis entry)")
        return
    ctx.charge(service, r, region, "apigateway.http.requests", requests,
               f"{r.name}: HTTP API requests")


def _rest_stage(ctx: _Context, service: str, r: Resource, region: str | None) -> None:
    if reveal(r.inputs.get("cacheClusterEnabled")):
        size = str(reveal(r.inputs.get("cacheClusterSize")) or "0.5")
        ctx.charge(service, r, region, f"apigateway.cache.{size}.hour", ctx.hours,
                   f"{r.name}: stage cache {size} GB")


def _distribution(ctx: _Context, service: str, r: Resource, region: str | None) -> None:
    usage = ctx.usage(service)
    cloudfront = usage.get("cloudfront") or {}
    requests = cloudfront.get("requests", usage.get("requests"))
    if requests is None:
        ctx.no_usage(service, r, "cloudfront.requests (or requests)")
        return
    ctx.charge(service, r, GLOBAL, "cloudfront.requests.https", _decimal(requests),
               f"{r.name}: CloudFront HTTPS requests")
    if "dataOutGb" in cloudfront:
        ctx.charge(service, r, GLOBAL, "cloudfront.dataOut.gb",
                   _decimal(cloudfront["dataOutGb"]), f"{r.name}: CloudFront data out")


def _web_acl(ctx: _Context, service: str, r: Resource, region: str | None) -> None:
    where = GLOBAL if str(reveal(r.inputs.get("scope"))) == "CLOUDFRONT" else region
    if where == GLOBAL:
        where = "us-east-1"  # CloudFront ACLs live in us-east-1; WAF prices are the same
    rules = Decimal(len(reveal(r.inputs.get("rules")) or []))
    ctx.charge(service, r, where, "waf.webAcl.month", Decimal(1), f"{r.name}: web ACL")
    ctx.charge(service, r, where, "waf.rule.month", rules, f"{r.name}: rules")
    usage = ctx.usage(service)
    requests = usage.get("wafRequests", usage.get("requests"))
    if requests is None:
        ctx.no_usage(service, r, "wafRequests (or requests)")
    else:
        ctx.charge(service, r, where, "waf.requests", _decimal(requests),
                   f"{r.name}: requests inspected")


def _fixed(key: str, item: str, per_hour: bool = True,
           count: Callable[[Resource], int] = lambda r: 1) -> Rule:
    def rule(ctx: _Context, service: str, r: Resource, region: str | None) -> None:
        quantity = Decimal(count(r)) * (ctx.hours if per_hour else 1)
        ctx.charge(service, r, region, key, quantity, item)
    return rule


def _nat(ctx: _Context, service: str, r: Resource, region: str | None) -> None:
    ctx.charge(service, r, region, "vpc.natGateway.hour", ctx.hours, "NAT gateway hours")
    if "natGb" in ctx.usage(service):
        ctx.charge(service, r, region, "vpc.natGateway.gb",
                   _decimal(ctx.usage(service)["natGb"]), "NAT gateway data processed")


def _endpoint(ctx: _Context, service: str, r: Resource, region: str | None) -> None:
    kind = str(reveal(r.inputs.get("vpcEndpointType")) or "Gateway")
    if kind == "Gateway":
        ctx.estimate.free[r.type + " (Gateway)"] = ctx.estimate.free.get(
            r.type + " (Gateway)", 0) + 1
        return
    zones = len(reveal(r.inputs.get("subnetIds")) or []) or 1
    ctx.charge(service, r, region, "privatelink.interface.azHour", ctx.hours * zones,
               f"interface endpoint hours ({kind}, {zones} AZ)")
    if "endpointGb" in ctx.usage(service):
        ctx.charge(service, r, region, "privatelink.interface.gb",
                   _decimal(ctx.usage(service)["endpointGb"]), "interface endpoint data")


def _alarm(ctx: _Context, service: str, r: Resource, region: str | None) -> None:
    queries = reveal(r.inputs.get("metricQueries")) or []
    metrics = [q.get("metric") or {} for q in queries if q.get("metric")]
    if metrics:
        periods = [_int(m.get("period"), 60) for m in metrics]
    else:
        periods = [_int(r.inputs.get("period"), 60)]
    standard = sum(1 for p in periods if p >= 60)
    high = len(periods) - standard
    if standard:
        ctx.charge(service, r, region, "cloudwatch.alarm.metric", Decimal(standard),
                   "CloudWatch alarm metrics")
    if high:
        ctx.charge(service, r, region, "cloudwatch.alarm.highResMetric", Decimal(high),
                   "CloudWatch high-resolution alarm metrics")


def _cache(ctx: _Context, service: str, r: Resource, region: str | None) -> None:
    engine = str(reveal(r.inputs.get("engine")) or "redis")
    usage = ctx.usage(service).get("cache") or {}
    key = f"elasticache.serverless.{engine}.gbHour"
    minimum = Decimal("0.1") if engine == "valkey" else Decimal(1)
    stored = max(_decimal(usage.get("storageGb", 0)), minimum)
    ctx.charge(service, r, region, key, stored * ctx.hours,
               f"{r.name}: ElastiCache Serverless ({engine}) {stored} GB stored"
               f"{' (the minimum)' if stored == minimum else ''}")
    if "ecpus" in usage:
        ctx.charge(service, r, region, f"elasticache.serverless.{engine}.ecpu",
                   _decimal(usage["ecpus"]), f"{r.name}: ECPUs")
    else:
        ctx.no_usage(service, r, "cache.ecpus")


def _dax(ctx: _Context, service: str, r: Resource, region: str | None) -> None:
    node = str(reveal(r.inputs.get("nodeType")))
    nodes = _int(r.inputs.get("replicationFactor"), 1)
    ctx.charge(service, r, region, f"dax.{node}.hour", ctx.hours * nodes,
               f"{r.name}: DAX {nodes} × {node}")


def _task_definition(ctx: _Context, family_or_arn: str) -> Resource | None:
    family = family_or_arn.split("task-definition/", 1)[-1].split(":", 1)[0]
    for task in ctx.run.of_type("aws:ecs/taskDefinition:TaskDefinition"):
        if reveal(task.inputs.get("family")) == family or task.state.get("arn") == family_or_arn:
            return task
    return None


def _fargate(ctx: _Context, service: str, r: Resource, region: str | None,
             task: Resource, hours: Decimal, item: str) -> None:
    platform = reveal(task.inputs.get("runtimePlatform")) or {}
    arch = "arm64" if str(platform.get("cpuArchitecture", "X86_64")).upper() == "ARM64" \
        else "x86_64"
    vcpu = Decimal(_int(task.inputs.get("cpu"), 256)) / 1024
    memory = Decimal(_int(task.inputs.get("memory"), 512)) / 1024
    ctx.charge(service, r, region, f"fargate.{arch}.vcpuHour", vcpu * hours,
               f"{item}: {vcpu} vCPU {arch}")
    ctx.charge(service, r, region, f"fargate.{arch}.gbHour", memory * hours,
               f"{item}: {memory} GB")


def _ecs_service(ctx: _Context, service: str, r: Resource, region: str | None) -> None:
    strategies = reveal(r.inputs.get("capacityProviderStrategies")) or []
    fargate = str(reveal(r.inputs.get("launchType"))) == "FARGATE" or any(
        str(s.get("capacityProvider", "")).startswith("FARGATE") for s in strategies)
    task = _task_definition(ctx, str(reveal(r.inputs.get("taskDefinition")) or ""))
    if not fargate or task is None:
        ctx.estimate.unpriced.append(Unpriced(service, r.type, r.name,
                                              "not a Fargate service with a known task "
                                              "definition"))
        return
    count = _int(r.inputs.get("desiredCount"), 1)
    _fargate(ctx, service, r, region, task, ctx.hours * count,
             f"{r.name}: {count} Fargate task{'s' if count != 1 else ''} always on")


def _resolver(ctx: _Context, service: str, r: Resource, region: str | None) -> None:
    ips = len(reveal(r.inputs.get("ipAddresses")) or []) or 2
    ctx.charge(service, r, region, "route53resolver.endpoint.ipHour", ctx.hours * ips,
               f"{r.name}: resolver endpoint, {ips} IP addresses")
    if "resolverQueries" in ctx.usage(service):
        ctx.charge(service, r, region, "route53resolver.queries",
                   _decimal(ctx.usage(service)["resolverQueries"]), f"{r.name}: DNS queries")


def _load_balancer(ctx: _Context, service: str, r: Resource, region: str | None) -> None:
    kind = str(reveal(r.inputs.get("loadBalancerType")) or "application")
    ctx.charge(service, r, region, f"elb.{kind}.hour", ctx.hours, f"{r.name}: {kind} LB hours")
    if "lcuHours" in ctx.usage(service):
        ctx.charge(service, r, region, f"elb.{kind}.lcuHour",
                   _decimal(ctx.usage(service)["lcuHours"]), f"{r.name}: capacity units")


def _table(ctx: _Context, service: str, r: Resource, region: str | None) -> None:
    if str(reveal(r.inputs.get("billingMode")) or "PROVISIONED") == "PROVISIONED":
        reads = _int(r.inputs.get("readCapacity"))
        writes = _int(r.inputs.get("writeCapacity"))
        for index in reveal(r.inputs.get("globalSecondaryIndexes")) or []:
            reads += _int(index.get("readCapacity"))
            writes += _int(index.get("writeCapacity"))
        ctx.charge(service, r, region, "dynamodb.provisioned.rcuHour",
                   ctx.hours * reads, f"{r.name}: {reads} RCU provisioned")
        ctx.charge(service, r, region, "dynamodb.provisioned.wcuHour",
                   ctx.hours * writes, f"{r.name}: {writes} WCU provisioned")


def _unused_access(ctx: _Context, service: str, r: Resource, region: str | None) -> None:
    entities = len(ctx.run.of_type("aws:iam/role:Role")) + len(ctx.run.of_type(
        "aws:iam/user:User"))
    ctx.charge(service, r, region, "accessanalyzer.unusedAccess.entityMonth",
               Decimal(entities), f"{r.name}: unused access analysis of this stack's "
                                  f"{entities} IAM roles (the account's others count too)")


RULES: dict[str, Rule] = {
    "aws:accessanalyzer/analyzer:Analyzer": _unused_access,
    "aws:lambda/function:Function": _function,
    "aws:apigateway/restApi:RestApi": _rest_api,
    "aws:apigateway/stage:Stage": _rest_stage,
    "aws:apigatewayv2/api:Api": _http_api,
    "aws:cloudfront/distribution:Distribution": _distribution,
    "aws:wafv2/webAcl:WebAcl": _web_acl,
    "aws:ec2/natGateway:NatGateway": _nat,
    "aws:ec2/eip:Eip": _fixed("vpc.publicIpv4.hour", "public IPv4 address hours"),
    "aws:ec2/vpcEndpoint:VpcEndpoint": _endpoint,
    "aws:kms/key:Key": _fixed("kms.key.month", "KMS keys", per_hour=False),
    "aws:cloudwatch/metricAlarm:MetricAlarm": _alarm,
    "aws:cloudwatch/dashboard:Dashboard": _fixed("cloudwatch.dashboard.month",
                                                 "CloudWatch dashboards", per_hour=False),
    "aws:elasticache/serverlessCache:ServerlessCache": _cache,
    "aws:dax/cluster:Cluster": _dax,
    "aws:ecs/service:Service": _ecs_service,
    "aws:route53/resolverEndpoint:ResolverEndpoint": _resolver,
    "aws:lb/loadBalancer:LoadBalancer": _load_balancer,
    "aws:alb/loadBalancer:LoadBalancer": _load_balancer,
    "aws:servicediscovery/privateDnsNamespace:PrivateDnsNamespace": _fixed(
        "route53.hostedZone.month", "private hosted zone (Cloud Map namespace)",
        per_hour=False),
    "aws:secretsmanager/secret:Secret": _fixed("secretsmanager.secret.month", "secrets",
                                               per_hour=False),
    "aws:dynamodb/table:Table": _table,
}

# Service-level usage (summed over the service's resources of a type): usage key, sub-key,
# the types that make it apply, price key, item.
SERVICE_USAGE: list[tuple[str, str | None, tuple[str, ...], str, str]] = [
    ("dynamodb", "reads", ("aws:dynamodb/table:Table",), "dynamodb.ondemand.read",
     "DynamoDB read request units"),
    ("dynamodb", "writes", ("aws:dynamodb/table:Table",), "dynamodb.ondemand.write",
     "DynamoDB write request units"),
    ("dynamodb", "storageGb", ("aws:dynamodb/table:Table",), "dynamodb.storage.gbMonth",
     "DynamoDB storage"),
    ("s3", "storageGb", ("aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2"),
     "s3.standard.gbMonth", "S3 Standard storage"),
    ("s3", "puts", ("aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2"), "s3.put",
     "S3 PUT requests"),
    ("s3", "gets", ("aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2"), "s3.get",
     "S3 GET requests"),
    ("sqsRequests", None, ("aws:sqs/queue:Queue",), "sqs.requests", "SQS requests"),
    ("snsPublishes", None, ("aws:sns/topic:Topic",), "sns.publishes", "SNS publishes"),
    ("snsEmails", None, ("aws:sns/topic:Topic",), "sns.emails", "SNS email notifications"),
    ("events", None, ("aws:cloudwatch/eventBus:EventBus",), "eventbridge.events",
     "EventBridge custom events"),
    ("schedulerInvocations", None, ("aws:scheduler/schedule:Schedule",),
     "scheduler.invocations", "EventBridge Scheduler invocations"),
    ("stateTransitions", None, ("aws:sfn/stateMachine:StateMachine",),
     "stepfunctions.standard.transitions", "Step Functions state transitions"),
    ("mau", None, ("aws:cognito/userPool:UserPool",), "cognito.essentials.mau",
     "Cognito monthly active users"),
    ("logsGb", None, ("aws:cloudwatch/logGroup:LogGroup", "aws:ec2/flowLog:FlowLog"),
     "cloudwatch.logs.ingestGb", "CloudWatch Logs ingestion"),
    ("kmsRequests", None, ("aws:kms/key:Key",), "kms.requests", "KMS requests"),
    ("sesEmails", None, ("aws:sesv2/configurationSet:ConfigurationSet",), "ses.emails",
     "SES emails"),
    ("ecrGb", None, ("aws:ecr/repository:Repository",), "ecr.storage.gbMonth",
     "ECR image storage"),
]


def estimate(run: StackRun, usage: Mapping[str, Any], prices: PriceTable, *,
             usage_file: str | None = None) -> Estimate:
    """The monthly estimate of a planned stack under a (checked) usage mapping."""
    result = Estimate(run.stack, prices.as_of, usage_file)
    ctx = _Context(run, usage, prices, result)
    by_service: dict[str, list[Resource]] = {}
    for resource in run.managed():
        service = service_of(run, resource)
        by_service.setdefault(service, []).append(resource)
        region = ctx.region(resource)
        rule = RULES.get(resource.type)
        if rule is not None:
            if not prices.knows(region) and resource.type not in (
                    "aws:cloudfront/distribution:Distribution",):
                result.unpriced.append(Unpriced(service, resource.type, resource.name,
                                                f"region {region or '(none)'} is not in "
                                                "the price table"))
                continue
            rule(ctx, service, resource, region)
        elif resource.type in NOT_MODELLED:
            result.unpriced.append(Unpriced(service, resource.type, resource.name,
                                            NOT_MODELLED[resource.type]))
        elif resource.type in USAGE_PRICED:
            pass  # priced below, from the service's usage
        elif free_reason(resource.type) is not None:
            result.free[resource.type] = result.free.get(resource.type, 0) + 1
        else:
            result.unpriced.append(Unpriced(service, resource.type, resource.name,
                                            "no price rule for this type"))
    _service_usage(ctx, by_service)
    _collect_assumptions(usage, result)
    for name in ctx.services:
        if name not in by_service:
            result.warnings.append(f"usage for service {name}, which stack {run.stack} "
                                   "does not have: ignored")
    return result


def _service_usage(ctx: _Context, by_service: Mapping[str, list[Resource]]) -> None:
    for service, resources in sorted(by_service.items()):
        usage = ctx.usage(service)
        types = {r.type for r in resources}
        for key, sub, applies, price_key, item in SERVICE_USAGE:
            holders = [r for r in resources if r.type in applies]
            value = (usage.get(key) or {}).get(sub) if sub else usage.get(key)
            if not holders:
                if value is not None:
                    ctx.estimate.warnings.append(
                        f"{service}: usage {key}{'.' + sub if sub else ''} given, but the "
                        "service has no resource it applies to: ignored")
                continue
            if value is None:
                continue
            anchor = holders[0]
            region = ctx.region(anchor)
            ctx.charge(service, anchor, region, price_key, _decimal(value), item)
        for type_, key in USAGE_PRICED.items():
            if type_ in types and key not in usage:
                unused = [r.name for r in resources if r.type == type_ and not (
                    type_ == "aws:dynamodb/table:Table"
                    and str(reveal(r.inputs.get("billingMode"))) == "PROVISIONED")]
                if unused:
                    ctx.estimate.no_usage.append(Unpriced(
                        service, type_, ", ".join(unused),
                        f"no {key} in the usage file: counted as $0"))
        fargate_hours = usage.get("fargateTaskHours")
        if fargate_hours is not None:
            served = {str(reveal(r.inputs.get("taskDefinition")) or "")
                      for r in resources if r.type == "aws:ecs/service:Service"}
            jobs = [r for r in resources if r.type == "aws:ecs/taskDefinition:TaskDefinition"
                    and not any(_task_definition(ctx, s) is r for s in served)]
            if not jobs:
                ctx.estimate.warnings.append(f"{service}: fargateTaskHours given, but no task "
                                             "definition runs outside a service: ignored")
            for task in jobs[:1]:
                _fargate(ctx, service, task, ctx.region(task), task,
                         _decimal(fargate_hours), f"{task.name}: Fargate task hours")


def _collect_assumptions(usage: Mapping[str, Any], result: Estimate) -> None:
    def texts(value: Any) -> list[str]:
        if value is None:
            return []
        return [str(v) for v in value] if isinstance(value, list) else [str(value)]

    if general := texts(usage.get("assumptions")):
        result.assumptions["all"] = general
    for name, section in sorted((usage.get("services") or {}).items()):
        if section and (found := texts(section.get("assumptions"))):
            result.assumptions[name] = found


# --- output ------------------------------------------------------------------------------


def _money(value: Decimal) -> str:
    return f"${value:,.2f}"


def _collapsed(lines: Iterable[Line]) -> list[Line]:
    """Lines with the same service, item and price summed (alarms, keys, dashboards...)."""
    merged: dict[tuple[str, str, str, str], Line] = {}
    for line in lines:
        key = (line.service, line.item, line.price.key, line.region)
        if key in merged:
            old = merged[key]
            merged[key] = Line(old.service, old.item, old.quantity + line.quantity, old.price,
                               old.region)
        else:
            merged[key] = line
    return list(merged.values())


def as_json_estimate(result: Estimate) -> dict[str, Any]:
    """The estimate for CI: totals as numbers with two decimals, every line and every gap."""
    return {
        "stack": result.stack,
        "asOf": result.as_of,
        "currency": "USD",
        "usageFile": result.usage_file,
        "total": float(result.total),
        "services": {name: float(total) for name, total in result.services().items()},
        "lines": [{
            "service": line.service, "item": line.item, "quantity": float(line.quantity),
            "unit": f"{'' if line.price.per == 1 else f'{line.price.per:,} '}{line.price.unit}",
            "unitPrice": float(line.price.usd / line.price.per), "region": line.region,
            "monthly": float(cents(line.monthly)), "priceKey": line.price.key,
            "source": line.price.source, "verified": line.price.verified,
        } for line in _collapsed(result.lines)],
        "unpriced": [vars(u) for u in result.unpriced],
        "noUsage": [vars(u) for u in result.no_usage],
        "free": dict(sorted(result.free.items())),
        "assumptions": result.assumptions,
        "warnings": result.warnings,
    }


def report(result: Estimate) -> str:
    """The estimate as a table per service, then what it could not price."""
    lines = [f"Monthly cost estimate of stack {result.stack} (prices as of {result.as_of}, "
             f"USD, on-demand, before free tiers)",
             f"Usage: {result.usage_file or 'none (fixed costs only)'}", ""]
    services = result.services()
    for service, total in services.items():
        lines.append(f"{service}: {_money(total)}")
        for line in sorted(_collapsed(x for x in result.lines if x.service == service),
                           key=lambda x: -x.monthly):
            flag = "" if line.price.verified else " *"
            lines.append(f"  {_money(cents(line.monthly)):>11}  {line.item}: "
                         f"{_quantity(line.quantity)} {line.price.unit} at "
                         f"{line.price.label()}{flag}")
    lines += ["", f"Total: {_money(result.total)}/month"]
    if any(not line.price.verified for line in result.lines):
        lines.append("  * a price not confirmed for its region (tools/prices.yaml: "
                     "verified: false)")
    if result.unpriced:
        lines += ["", f"Not priced ({len(result.unpriced)}; not in the total):"]
        lines += [f"  - {u.service}: {u.type} {u.name}: {u.reason}" for u in result.unpriced]
    if result.no_usage:
        lines += ["", f"No usage given ({len(result.no_usage)}; counted as $0):"]
        lines += [f"  - {u.service}: {u.name}: {u.reason.split(' in the usage file')[0]}"
                  for u in result.no_usage]
    if result.assumptions:
        lines += ["", "Assumptions (from the usage file):"]
        for name, texts in result.assumptions.items():
            lines += [f"  {name}: {text}" for text in texts]
    if result.warnings:
        lines += ["", "Warnings:"] + [f"  - {warning}" for warning in result.warnings]
    free = sum(result.free.values())
    lines += ["", f"Free: {free} resources of {len(result.free)} types (IAM, API Gateway "
                  "configuration, security groups, log groups...): --json lists them."]
    return "\n".join(lines)


def _quantity(value: Decimal) -> str:
    if value == value.to_integral_value():
        return f"{int(value):,}"
    return f"{value:,.2f}"


# --- the diff ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Totals:
    """What a diff compares: a label, a total and the totals per service."""

    label: str
    total: Decimal
    services: Mapping[str, Decimal]

    @classmethod
    def of(cls, result: Estimate, label: str | None = None) -> Totals:
        return cls(label or f"stack {result.stack}", result.total, result.services())

    @classmethod
    def from_json(cls, path: Path) -> Totals:
        try:
            document = json.loads(path.read_text())
            return cls(str(path), _decimal(document["total"]),
                       {k: _decimal(v) for k, v in document["services"].items()})
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
            raise UsageError(f"{path}: not a saved --cost --json estimate ({error})") from error


def _signed(value: Decimal) -> str:
    return f"{'+' if value >= 0 else '-'}${abs(value):,.2f}/month"


def diff(current: Totals, other: Totals) -> dict[str, Any]:
    """What ``current`` adds to ``other`` per service and in total."""
    names = sorted(set(current.services) | set(other.services))
    return {
        "against": other.label,
        "total": float(current.total - other.total),
        "services": {name: float(current.services.get(name, Decimal(0))
                                 - other.services.get(name, Decimal(0)))
                     for name in names
                     if current.services.get(name) != other.services.get(name)},
    }


def diff_report(current: Totals, other: Totals) -> str:
    changes = diff(current, other)
    lines = [f"Against {other.label} ({_money(other.total)}/month):"]
    for name, delta in changes["services"].items():
        lines.append(f"  {name}: {_signed(Decimal(str(delta)))}")
    if not changes["services"]:
        lines.append("  no service changes")
    lines.append(f"  total: {_signed(current.total - other.total)} "
                 f"({_money(other.total)} -> {_money(current.total)})")
    return "\n".join(lines)


# --- the plan's hook ---------------------------------------------------------------------


def default_usage_file(stack: str, root: Path = ROOT) -> Path | None:
    path = root / f"usage.{stack}.yaml"
    return path if path.is_file() else None


def usage_for(stack: str, path: Path | None) -> tuple[dict[str, Any], str | None]:
    """The usage of a stack: ``path``, or ``usage.<stack>.yaml`` if there is one."""
    path = path or default_usage_file(stack)
    if path is None:
        return {}, None
    return load_usage(path), _display(path)


def _display(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(ROOT))
    except ValueError:
        return str(path)


def render(run: StackRun, usage_path: Path | None, against: str | None, *, as_json: bool,
           plan_stack: Callable[[str], StackRun], stacks: Sequence[str],
           prices: PriceTable | None = None) -> str:
    """What ``plan --cost`` prints: the estimate (text or JSON) and, with ``against``, the
    diff. ``against`` is a stack (planned with its own usage file, else this one's) or a
    saved ``--cost --json`` file. Raises ``UsageError`` for a bad usage or saved file."""
    prices = prices or load_prices()
    usage, label = usage_for(run.stack, usage_path)
    result = estimate(run, usage, prices, usage_file=label)
    other: Totals | None = None
    if against is not None:
        if against in stacks:
            other_usage, other_label = usage, label
            if usage_path is None and default_usage_file(against) is not None:
                other_usage, other_label = usage_for(against, None)
            other_run = plan_stack(against)
            other = Totals.of(estimate(other_run, other_usage, prices, usage_file=other_label),
                              f"stack {against}" + (f" ({other_label})" if other_label else ""))
        else:
            other = Totals.from_json(Path(against))
    if as_json:
        document = as_json_estimate(result)
        if other is not None:
            document["diff"] = diff(Totals.of(result), other)
        return json.dumps(document, indent=2)
    text = report(result)
    if other is not None:
        text += "\n\n" + diff_report(Totals.of(result), other)
    return text
