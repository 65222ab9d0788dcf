"""Typed stack configuration.

Every key of a stack file is read here, once, into frozen dataclasses. Validation collects every
problem before it fails, and each message names the full key
(``blueprints:services.headerVersioning.headerName``,
``blueprints:environment.publicSubnetCidrs[1]``), says what is allowed and, for a misspelt key,
setting, service or value, suggests the close match. The error is a ``pulumi.RunError``, so
``pulumi preview`` prints the messages without a Python traceback.

pydantic's own messages ("Input should be ...", "String should match pattern ...") never reach
a user: ``_Reader`` translates every error of every settings type in one place. A settings type
helps it by marking what a pattern means (``Meaning``) and by raising ``SettingsError`` from a
validator that checks several settings at once, so that each problem lands on its own key.

Scalar keys take their defaults from ``Pulumi.yaml``; stage-dependent defaults live in ``STAGES``
and, for alarm thresholds, ``STAGE_ALARMS``.
"""

from __future__ import annotations

import difflib
import functools
import importlib
import ipaddress
import json
import re
import types
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import pulumi
from pulumi.runtime import config as runtime_config
from pydantic import (
    AfterValidator,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    TypeAdapter,
    ValidationError,
    model_validator,
)
from pydantic import dataclasses as pydantic_dataclasses
from pydantic.alias_generators import to_camel
from pydantic.fields import FieldInfo

PROJECT = "blueprints"

# The values CloudWatch Logs accepts for retentionInDays.
LOG_RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827,
                      2192, 2557, 2922, 3288, 3653)
LAMBDA_RUNTIMES = ("python3.12", "python3.13", "python3.14")
LAMBDA_ARCHITECTURES = ("arm64", "x86_64")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")

# Settings read from objects in stack files: camelCase keys, unknown keys rejected.
SETTINGS = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid",
                      str_strip_whitespace=True)


@dataclass(frozen=True)
class StageDefaults:
    """What a stage decides unless the stack file says otherwise."""

    log_retention_days: int
    nat_gateway_per_az: bool
    deletion_protection: bool
    protect: bool
    kms_deletion_window_days: int


STAGES: Mapping[str, StageDefaults] = {
    "dev": StageDefaults(log_retention_days=14, nat_gateway_per_az=False,
                         deletion_protection=False, protect=False, kms_deletion_window_days=7),
    "staging": StageDefaults(log_retention_days=90, nat_gateway_per_az=False,
                             deletion_protection=True, protect=False, kms_deletion_window_days=30),
    "prod": StageDefaults(log_retention_days=365, nat_gateway_per_az=True,
                          deletion_protection=True, protect=True, kms_deletion_window_days=30),
}


@dataclass(frozen=True)
class AlarmThresholds:
    """When an alarm of ``components.foundation.monitoring`` goes off (``blueprints:alarms``,
    overridden per service by ``services.<name>.alarms``).

    Each alarm looks at ``period_seconds`` long periods and goes off when
    ``datapoints_to_alarm`` of the last ``evaluation_periods`` break the threshold.
    ``notify_on_ok`` also tells the alarm topic when an alarm is over.
    """

    period_seconds: int
    evaluation_periods: int
    datapoints_to_alarm: int
    lambda_errors: int            # Lambda Errors (sum per period) at or above this
    lambda_throttles: int         # Lambda Throttles (sum per period)
    lambda_duration_percent: int  # p99 Duration above this percentage of the timeout
    api_client_error_percent: float  # API Gateway 4XX rate (average), in percent
    api_server_errors: int        # API Gateway 5XX (sum per period)
    api_latency_ms: int           # API Gateway p99 Latency
    queue_age_seconds: int        # SQS ApproximateAgeOfOldestMessage (maximum)
    table_throttles: int          # DynamoDB read + write throttle events (sum per period)
    workflow_failures: int        # Step Functions failed + timed-out executions (sum)
    cache_cpu_percent: int        # DAX CPUUtilization (average)
    cache_evictions: int          # ElastiCache Evictions / DAX EvictedSize (sum per period)
    container_cpu_percent: int    # ECS service CPUUtilization (average)
    container_memory_percent: int  # ECS service MemoryUtilization (average)
    notify_on_ok: bool


# Dev: looser thresholds on 5-minute periods, and no "OK" mail; staging and prod: 1-minute
# periods, 3 of the last 5 breaching, and stricter thresholds.
_DEV_ALARMS = AlarmThresholds(
    period_seconds=300, evaluation_periods=1, datapoints_to_alarm=1,
    lambda_errors=5, lambda_throttles=5, lambda_duration_percent=90,
    api_client_error_percent=25, api_server_errors=5, api_latency_ms=5000,
    queue_age_seconds=3600, table_throttles=10, workflow_failures=1,
    cache_cpu_percent=90, cache_evictions=1000, container_cpu_percent=90,
    container_memory_percent=90, notify_on_ok=False)
_PROD_ALARMS = AlarmThresholds(
    period_seconds=60, evaluation_periods=5, datapoints_to_alarm=3,
    lambda_errors=1, lambda_throttles=1, lambda_duration_percent=80,
    api_client_error_percent=10, api_server_errors=1, api_latency_ms=2000,
    queue_age_seconds=900, table_throttles=1, workflow_failures=1,
    cache_cpu_percent=75, cache_evictions=100, container_cpu_percent=80,
    container_memory_percent=80, notify_on_ok=True)
STAGE_ALARMS: Mapping[str, AlarmThresholds] = {
    "dev": _DEV_ALARMS, "staging": _PROD_ALARMS, "prod": _PROD_ALARMS}


@dataclass(frozen=True)
class ServiceOperations:
    """A service's own alarm thresholds (the stack's, with ``services.<name>.alarms`` over
    them) and the reserved concurrency of its functions (``services.<name>.reservedConcurrency``,
    function short name -> concurrent executions; 0 switches a function off)."""

    alarms: AlarmThresholds
    reserved_concurrency: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Meaning:
    """What a string pattern stands for, in words, for the message about a value that does not
    match it: ``Annotated[str, StringConstraints(pattern=...), Meaning("a stack name")]`` makes
    the message "'x' is not a stack name" instead of quoting the regular expression."""

    text: str


class SettingsError(ValueError):
    """Raised by a validator that checks several settings together, one problem per setting.

    Each problem is ``(setting, message)`` relative to the object validated
    (``("publicSubnetCidrs[1]", "10.99.0.0/24 is outside vpcCidr 10.10.0.0/16")``); the reader
    puts the full key in front of each.
    """

    def __init__(self, problems: Sequence[tuple[str, str]]) -> None:
        self.problems = list(problems)
        super().__init__("; ".join(f"{key}: {message}" for key, message in self.problems))


class NotAllowedError(ValueError):
    """A value outside a fixed set; the reader words it (and hides it for secret keys)."""

    def __init__(self, value: Any, allowed: Sequence[Any]) -> None:
        self.value = value
        self.allowed = tuple(allowed)
        super().__init__(_not_allowed(repr(value), value, self.allowed))


def _either(items: Sequence[str]) -> str:
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} or {items[-1]}"


def _not_allowed(shown: str, value: Any, allowed: Sequence[Any], *, hint: bool = True) -> str:
    """"'x' is not allowed; did you mean 'y'? use one of ...": the hint only when exactly one
    allowed value is close (``python3.9`` is as close to each runtime, and suggests none)."""
    names = [str(item) for item in allowed]
    words = isinstance(value, str) and all(isinstance(item, str) for item in allowed)
    close = difflib.get_close_matches(value, names, n=2, cutoff=0.75) if hint and words else []
    suggestion = f"did you mean {close[0]!r}? " if len(close) == 1 else ""
    return f"{shown} is not allowed; {suggestion}use one of {', '.join(names)}"


def _one_of(allowed: tuple[Any, ...]) -> AfterValidator:
    def check(value: Any) -> Any:
        if value not in allowed:
            raise NotAllowedError(value, allowed)
        return value

    return AfterValidator(check)


def _account_id(value: Any) -> Any:
    """12 digits. A number is taken when it has exactly 12 digits, which is unambiguous (it is
    what ``pulumi config set --path account.id 123456789012`` stores); a shorter one may have
    lost leading zeros on its way through YAML, and only its owner knows how many."""
    if isinstance(value, bool):
        raise ValueError(f"{str(value).lower()} must be 12 digits, quoted in YAML")
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, int):
        digits = len(str(abs(value)))
        if value >= 0 and digits == 12:
            return str(value)
        if value >= 0 and digits < 12:
            padded = str(value).zfill(12)
            raise ValueError(
                f"{value} is a number of {digits} digits; an account id has 12, and a number "
                f"loses leading zeros: quote it in the stack file (id: \"{padded}\") or set it "
                f"with `pulumi config set --path --type string account.id {padded}`")
        raise ValueError(f"{value} is a number of {digits} digits; an account id has 12")
    if isinstance(value, str):
        if re.fullmatch(r"[0-9]{12}", value):
            return value
        if re.fullmatch(r"[0-9]+", value):
            count = f"{len(value)} digit{'s' if len(value) > 1 else ''}"
            raise ValueError(f"{value!r} has {count}; an account id has 12")
        raise ValueError(f"{value!r} must be 12 digits and nothing else")
    return value


AccountId = Annotated[str, BeforeValidator(_account_id)]
LogRetentionDays = Annotated[int, _one_of(LOG_RETENTION_DAYS)]
ROLE_ARN = re.compile(r"^arn:aws(?:-cn|-us-gov)?:iam::(\d{12}):role/[\w+=,.@/-]{1,512}$")


def _not_reserved(key: str) -> str:
    if key.lower().startswith("aws:"):
        raise ValueError("tag keys starting with 'aws:' are reserved for AWS")
    return key


TagKey = Annotated[str, StringConstraints(min_length=1, max_length=128,
                                          pattern=r"^[\w .:/=+@-]+$"),
                   Meaning("a tag key (letters, digits, spaces and _ . : / = + @ -)"),
                   AfterValidator(_not_reserved)]
TagValue = Annotated[str, StringConstraints(max_length=256, pattern=r"^[\w .:/=+@-]*$"),
                     Meaning("a tag value (letters, digits, spaces and _ . : / = + @ -)")]
StackName = Annotated[str, StringConstraints(pattern=r"^[\w.-]+/[\w.-]+/[\w.-]+$"),
                      Meaning("a fully qualified stack name (<org>/<project>/<stack>)")]
# ROLE_ARN's {1,512} compiles past pydantic's regex size limit (with \w as Unicode classes).
RoleArn = Annotated[str, StringConstraints(
    pattern=r"^arn:aws(?:-cn|-us-gov)?:iam::\d{12}:role/[\w+=,.@/-]+$", max_length=600),
                    Meaning("an IAM role ARN (arn:aws:iam::<12 digits>:role/<name>)")]
RoleName = Annotated[str, StringConstraints(pattern=r"^[\w+=,.@-]{1,64}$"),
                     Meaning("an IAM role name (1 to 64 letters, digits and _ + = , . @ -)")]
EmailAddress = Annotated[str, StringConstraints(pattern=r"^[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+$"),
                         Meaning("an email address")]


# --- regions --------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Partition:
    label: str
    pattern: str
    regions: Mapping[str, str]  # name -> description ("Europe (Ireland)")


@functools.cache
def _partitions() -> tuple[tuple[_Partition, ...], str]:
    """The AWS partitions and their regions, offline, and where the list comes from.

    botocore ships them (``data/endpoints.json``), with each partition's region pattern and
    each region's description. Where botocore is not installed (the program's own virtualenv
    needs only requirements.txt), the region enum of pulumi-aws, whose provider checks the
    region against its own list, stands in: the same names, without partitions.
    """
    try:
        botocore = importlib.import_module("botocore")
        loaders = importlib.import_module("botocore.loaders")
    except ImportError:
        aws = importlib.import_module("pulumi_aws")
        names = sorted(region.value for region in aws.Region)
        return ((_Partition("regions pulumi-aws knows", ".*", dict.fromkeys(names, "")),),
                "pulumi-aws's list")
    endpoints = loaders.Loader().load_data("endpoints")
    partitions = tuple(
        _Partition(f"regions of partition {partition['partition']}", partition["regionRegex"],
                   {name: region.get("description", "")
                    for name, region in sorted(partition["regions"].items())})
        for partition in endpoints["partitions"])
    return partitions, f"botocore {botocore.__version__}"


def region_problem(region: str) -> str | None:
    """Why ``region`` is not an AWS region, with the close ones and its partition's regions; or
    None for a region."""
    partitions, source = _partitions()
    if any(region in partition.regions for partition in partitions):
        return None
    described = {name: description for partition in partitions
                 for name, description in partition.regions.items()}
    scored = sorted((-difflib.SequenceMatcher(None, region.lower(), name).ratio(), name)
                    for name in described)
    close = [name for score, name in scored if -score >= 0.8][:3]
    hints = [repr(name) for name in close]
    if not close and len(region) >= 3:
        # A place name: "Ireland", "frankfurt", "Tokyo".
        close = [name for name, description in described.items()
                 if region.lower() in description.lower()][:3]
        hints = [f"{name!r} ({described[name]})" for name in close]
    home = next((p for p in partitions if re.fullmatch(p.pattern, region.lower())), None)
    if home is None:
        home = next((p for p in partitions if close and close[0] in p.regions), partitions[0])
    suggestion = f"did you mean {_either(hints)}? " if hints else ""
    return (f"{region!r} is not an AWS region; {suggestion}{home.label}: "
            f"{', '.join(home.regions)} ({source})")


def _known_region(region: str) -> str:
    problem = region_problem(region)
    if problem:
        raise ValueError(problem)
    return region


AwsRegion = Annotated[str, AfterValidator(_known_region)]


@pydantic_dataclasses.dataclass(frozen=True, config=SETTINGS)
class AccountSettings:
    """The AWS account a stack deploys into, and the role the deployer assumes there.

    Environment and services stacks must name ``deployRoleArn``. A connection stack creates
    that role and a tooling stack deploys in the tooling account itself, so both may run with
    the shell's credentials of their account instead."""

    id: AccountId
    deploy_role_arn: str | None = None
    session_name: Annotated[str, StringConstraints(pattern=r"^[\w+=,.@-]{2,64}$"),
                            Meaning("a session name (2 to 64 letters, digits and _ + = , . @ -)")
                            ] = "blueprints-deploy"

    @model_validator(mode="after")
    def _role_in_account(self) -> AccountSettings:
        if self.deploy_role_arn is None:
            return self
        match = ROLE_ARN.match(self.deploy_role_arn)
        if match is None:
            raise SettingsError([("deployRoleArn", f"{self.deploy_role_arn!r} is not an IAM "
                                    "role ARN (arn:aws:iam::<12 digits>:role/<name>)")])
        if match.group(1) != self.id:
            raise SettingsError([("deployRoleArn", f"is in account {match.group(1)}, "
                                    f"but account.id is {self.id}")])
        return self


VPC_PREFIXES = (16, 24)


def _vpc_cidr_size(value: Any) -> Any:
    """A VPC range outside /16../24, said with the network it probably meant. Anything else
    goes on to the IPv4 network check (a value with host bits set is worded by the reader)."""
    if isinstance(value, ipaddress.IPv4Network):
        value = str(value)
    if not isinstance(value, str):
        # pydantic would take the number 5 for 0.0.0.5/32.
        raise ValueError(f"must be an IPv4 network in CIDR notation (such as 10.0.0.0/16), "
                         f"not {json.dumps(value)}")
    try:
        given = ipaddress.IPv4Network(value, strict=False)
    except ValueError:
        return value
    low, high = VPC_PREFIXES
    if low <= given.prefixlen <= high:
        return value
    address = value.split("/", 1)[0]
    meant = ipaddress.IPv4Network(f"{address}/{min(max(given.prefixlen, low), high)}",
                                  strict=False)
    host_bits = ("" if str(given) == value else
                 f" with host bits set (its network is {given})")
    raise ValueError(f"{value} is a /{given.prefixlen}{host_bits}; a VPC takes /{low} to "
                     f"/{high}: did you mean {meant}?")


VpcCidr = Annotated[ipaddress.IPv4Network, BeforeValidator(_vpc_cidr_size)]


@pydantic_dataclasses.dataclass(frozen=True, config=SETTINGS)
class EnvironmentSettings:
    """The platform-owned environment: network sizes and NAT, and who hears the alarms.

    Subnet CIDRs may be omitted: the VPC range is then cut into 16 equal blocks, the first ones
    public and the next ones private, one of each per availability zone.

    ``alarmEmails`` and ``alarmHttpsEndpoints`` subscribe to the environment's alarm topic, to
    which every service's alarms go (an email address confirms its subscription first).

    ``unusedAccessDays`` sets the account's IAM Access Analyzer unused access analyzer: roles,
    permissions and keys unused for that many days become findings, sent to the alarm topic.
    An account has one such analyzer: ``0`` leaves it to another environment of the account.
    """

    vpc_cidr: VpcCidr
    availability_zones: Annotated[int, Field(ge=2, le=6)] = 2
    public_subnet_cidrs: tuple[ipaddress.IPv4Network, ...] = ()
    private_subnet_cidrs: tuple[ipaddress.IPv4Network, ...] = ()
    nat_gateways: Annotated[int, Field(ge=0, le=6)] | None = None
    alarm_emails: tuple[EmailAddress, ...] = ()
    alarm_https_endpoints: tuple[Annotated[str, StringConstraints(
        pattern=r"^https://[a-z0-9.-]+(:\d{1,5})?(/\S*)?$"),
        Meaning("an https:// URL (such as https://alerts.example.com/sns)")], ...] = ()
    unused_access_days: Annotated[int, Field(ge=0, le=365)] = 90

    @model_validator(mode="after")
    def _subnets_fit(self) -> EnvironmentSettings:
        problems: list[tuple[str, str]] = []
        zones = self.availability_zones
        for key, subnets in (("publicSubnetCidrs", self.public_subnet_cidrs),
                             ("privateSubnetCidrs", self.private_subnet_cidrs)):
            if subnets and len(subnets) != zones:
                entries = f"{len(subnets)} entr{'y' if len(subnets) == 1 else 'ies'}"
                problems.append((key, f"has {entries}; it needs one per availability zone "
                                      f"({zones})"))
            problems += [(f"{key}[{index}]", f"{subnet} is outside vpcCidr {self.vpc_cidr}")
                         for index, subnet in enumerate(subnets)
                         if not subnet.subnet_of(self.vpc_cidr)]
        given = [(f"publicSubnetCidrs[{i}]", subnet)
                 for i, subnet in enumerate(self.public_subnet_cidrs)]
        given += [(f"privateSubnetCidrs[{i}]", subnet)
                  for i, subnet in enumerate(self.private_subnet_cidrs)]
        problems += [(key, f"{subnet} overlaps {earlier_key} ({earlier})")
                     for i, (key, subnet) in enumerate(given)
                     for earlier_key, earlier in given[:i] if subnet.overlaps(earlier)]
        if self.nat_gateways is not None and self.nat_gateways > zones:
            problems.append(("natGateways", f"{self.nat_gateways} is more than the {zones} "
                                            "availability zones"))
        if problems:
            raise SettingsError(problems)
        return self

    def subnet_cidrs(self) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """The public and private subnet CIDRs, one per availability zone."""
        blocks = list(self.vpc_cidr.subnets(new_prefix=self.vpc_cidr.prefixlen + 4))
        count = self.availability_zones
        public = self.public_subnet_cidrs or tuple(blocks[:count])
        private = self.private_subnet_cidrs or tuple(blocks[count:2 * count])
        return tuple(map(str, public)), tuple(map(str, private))


ALARM_PERIODS = (60, 300, 900, 3600)
Percent = Annotated[int, Field(ge=1, le=100)]
Count = Annotated[int, Field(ge=1)]


@pydantic_dataclasses.dataclass(frozen=True, config=SETTINGS)
class AlarmSettings:
    """``blueprints:alarms`` and ``services.<name>.alarms``: any threshold of
    ``AlarmThresholds``, camelCase; what is left out keeps the stage's default (or the
    stack's, for a service)."""

    period_seconds: Annotated[int, _one_of(ALARM_PERIODS)] | None = None
    evaluation_periods: Annotated[int, Field(ge=1, le=24)] | None = None
    datapoints_to_alarm: Annotated[int, Field(ge=1, le=24)] | None = None
    lambda_errors: Count | None = None
    lambda_throttles: Count | None = None
    lambda_duration_percent: Percent | None = None
    api_client_error_percent: Annotated[float, Field(gt=0, le=100)] | None = None
    api_server_errors: Count | None = None
    api_latency_ms: Annotated[int, Field(ge=1, le=30000)] | None = None
    queue_age_seconds: Annotated[int, Field(ge=60, le=1209600)] | None = None
    table_throttles: Count | None = None
    workflow_failures: Count | None = None
    cache_cpu_percent: Percent | None = None
    cache_evictions: Count | None = None
    container_cpu_percent: Percent | None = None
    container_memory_percent: Percent | None = None
    notify_on_ok: bool | None = None

    def over(self, thresholds: AlarmThresholds) -> AlarmThresholds:
        """``thresholds`` with the values set here in their place."""
        chosen = {item.name: getattr(self, item.name) for item in fields(AlarmThresholds)
                  if getattr(self, item.name) is not None}
        return replace(thresholds, **chosen)


def alarm_problems(thresholds: AlarmThresholds) -> list[tuple[str, str]]:
    """What no CloudWatch alarm accepts, by setting name: more datapoints than periods, or
    periods that look back over a day."""
    problems = []
    if thresholds.datapoints_to_alarm > thresholds.evaluation_periods:
        problems.append(("datapointsToAlarm",
                         f"{thresholds.datapoints_to_alarm} is more than evaluationPeriods "
                         f"({thresholds.evaluation_periods})"))
    if thresholds.period_seconds * thresholds.evaluation_periods > 86400:
        problems.append(("evaluationPeriods", f"{thresholds.evaluation_periods} periods of "
                                              f"{thresholds.period_seconds} s look back over a "
                                              "day, more than CloudWatch evaluates"))
    return problems


FunctionShortName = Annotated[str, StringConstraints(pattern=r"^[a-z][a-zA-Z0-9-]{0,63}$"),
                              Meaning("a function's short name (such as customizations)")]
# Lambda's account default is 1000 concurrent executions; 0 is the kill switch.
ReservedConcurrency = Annotated[int, Field(ge=0, le=10000)]


@dataclass(frozen=True)
class FunctionDefaults:
    """Settings every Lambda function of the stack shares."""

    runtime: str
    architecture: str
    powertools_layer_version: int
    log_level: str
    debug_log_sample_rate: float


@dataclass(frozen=True)
class Defaults:
    """What every building block needs to know about the stack it is built in."""

    stage: str
    region: str
    account_id: str
    log_retention_days: int
    deletion_protection: bool
    protect: bool
    kms_deletion_window_days: int
    functions: FunctionDefaults
    # The stack's alarm thresholds, and each service's own (by catalog name).
    alarms: AlarmThresholds = _DEV_ALARMS
    operations: Mapping[str, ServiceOperations] = field(default_factory=dict)

    def operations_of(self, service: str) -> ServiceOperations:
        """A service's thresholds and reserved concurrency: the stack's, when it set none."""
        return self.operations.get(service) or ServiceOperations(self.alarms)


@dataclass(frozen=True)
class StackConfig:
    """The whole stack configuration, validated."""

    stage: str
    region: str
    account: AccountSettings
    external_id: pulumi.Output[str] | None
    api_keys: pulumi.Output[Mapping[str, str]] | None
    tags: Mapping[str, str]
    defaults: Defaults
    environment: EnvironmentSettings | None
    environment_stack: str | None
    services: Mapping[str, Any]
    # A connection stack (``connection``) or a tooling stack (``pipeline``) builds that and
    # nothing else; each holds the settings type its loader was given.
    connection: Any = None
    pipeline: Any = None


class ConfigError(pulumi.RunError):
    """Every problem found in a stack's configuration, one line each."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        lines = "\n".join(f"  - {problem}" for problem in problems)
        super().__init__(f"invalid stack configuration ({len(problems)} problem"
                         f"{'s' if len(problems) > 1 else ''}):\n{lines}")


KNOWN_KEYS = ("stage", "account", "externalId", "tags", "logRetentionDays", "lambdaRuntime",
              "lambdaArchitecture", "powertoolsLayerVersion", "logLevel", "debugLogSampleRate",
              "environment", "environmentStack", "services", "apiKeys", "alarms", "connection",
              "pipeline")
# What a connection or tooling stack may not set: it builds no environment and no services.
WORKLOAD_KEYS = ("environment", "environmentStack", "services", "apiKeys", "alarms")
API_KEY = re.compile(r"^[A-Za-z0-9_-]{20,128}$")

# --- reading and wording -------------------------------------------------------------------

_Node = tuple[Any, list[Any]]  # a settings type without Annotated or Optional, and its metadata
_UNIONS = (Union, types.UnionType)


def _node(kind: Any, metadata: Sequence[Any] = ()) -> _Node:
    found = list(metadata)
    while True:
        if get_origin(kind) is Annotated:
            kind, *extra = get_args(kind)
            for item in extra:
                found += item.metadata if isinstance(item, FieldInfo) else [item]
        elif get_origin(kind) in _UNIONS and len(members := [
                member for member in get_args(kind) if member is not type(None)]) == 1:
            kind = members[0]
        else:
            return kind, found


def _fields(kind: Any) -> dict[str, FieldInfo]:
    """A settings dataclass's fields by the name stack files use (camelCase)."""
    fields = getattr(kind, "__pydantic_fields__", None) or {}
    return {info.alias or to_camel(name): info for name, info in fields.items()}


def _child(node: _Node, part: Any, key_of: bool) -> _Node | None:
    kind = node[0]
    members = [m for m in get_args(kind) if m is not type(None)] if get_origin(kind) in _UNIONS \
        else [kind]
    for member in (_node(m)[0] for m in members):
        fields = _fields(member)
        if fields:
            fields.update(getattr(member, "__pydantic_fields__", {}))
            if part in fields:
                return _node(fields[part].annotation, fields[part].metadata)
            continue
        origin, args = get_origin(member), get_args(member)
        if origin in (dict, Mapping) and len(args) == 2:
            return _node(args[0] if key_of else args[1])
        if origin is tuple and args:
            if len(args) == 2 and args[1] is Ellipsis:
                return _node(args[0])
            if isinstance(part, int) and part < len(args):
                return _node(args[part])
        if origin in (list, set, frozenset, Sequence) and args:
            return _node(args[0])
    return None


def _node_at(kind: Any, loc: Sequence[Any]) -> _Node | None:
    """The settings type at an error's location inside ``kind``."""
    node: _Node | None = _node(kind)
    for index, part in enumerate(loc):
        if part == "[key]" or node is None:
            continue
        node = _child(node, part, key_of=index + 1 < len(loc) and loc[index + 1] == "[key]")
    return node


def _path(loc: Sequence[Any]) -> str:
    """``("versions", "v1", "headerValues", 0)`` as ``versions.v1.headerValues[0]``."""
    path = ""
    for part in loc:
        if part == "[key]":
            continue
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part if part != '' else chr(34) * 2}"
    return path.removeprefix(".")


def _number(value: Any) -> str:
    return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)


def _range(metadata: Sequence[Any]) -> str:
    """The bounds a setting's metadata sets, in words: "from 128 to 10240", "at least 1"."""
    bounds: dict[str, Any] = {}
    for item in metadata:
        for name in ("ge", "gt", "le", "lt"):
            if getattr(item, name, None) is not None:
                bounds[name] = getattr(item, name)
    low = next(((name, bounds[name]) for name in ("ge", "gt") if name in bounds), None)
    high = next(((name, bounds[name]) for name in ("le", "lt") if name in bounds), None)
    if low and high and low[0] == "ge" and high[0] == "le":
        return f"from {_number(low[1])} to {_number(high[1])}"
    words = {"ge": "at least", "gt": "more than", "le": "at most", "lt": "less than"}
    return " and ".join(f"{words[name]} {_number(bound)}"
                        for name, bound in (bound for bound in (low, high) if bound))


def _setting_names(node: _Node | None) -> list[str]:
    return list(_fields(node[0])) if node else []


class _Reader:
    """Reads keys and collects every problem, worded for people, instead of stopping at the
    first one. Keys are relative to the project's namespace unless they name their own
    (``aws:region``)."""

    def __init__(self, namespace: str) -> None:
        self.namespace = namespace
        self.config = pulumi.Config(namespace)
        self.problems: list[str] = []

    def key(self, key: str) -> str:
        return key if ":" in key else f"{self.namespace}:{key}"

    def raw(self, key: str, *, structured: bool = False) -> Any:
        space, _, name = self.key(key).partition(":")
        value = pulumi.Config(space).get(name)
        if value is None or not structured:
            return value
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            self.problems.append(f"{self.key(key)}: must be an object, not "
                                 f"{self.shown(key, value)}")
            return None

    def secret(self, key: str) -> bool:
        top = self.key(key).split(".", 1)[0]
        return runtime_config.is_config_secret(top)

    def shown(self, key: str, value: Any) -> str:
        """A value as a message quotes it; never the value of a secret key."""
        if self.secret(key):
            return "[secret]"
        if isinstance(value, bool):
            return "true" if value else "false"
        if value is None:
            return "null"
        if isinstance(value, (int, float)):
            return _number(value)
        if isinstance(value, (list, dict)):
            text = json.dumps(value)
            return text if len(text) <= 60 else f"{text[:57]}..."
        return repr(value)

    def validate(self, key: str, kind: Any, value: Any) -> Any:
        try:
            return TypeAdapter(kind).validate_python(value)
        except ValidationError as error:
            details = error.errors(include_url=False)
            # A misspelt setting that is also a required one: the suggestion says it all.
            suggested = set()
            for detail in details:
                if detail["type"] in ("unexpected_keyword_argument", "extra_forbidden"):
                    names = _setting_names(_node_at(kind, detail["loc"][:-1]))
                    close = difflib.get_close_matches(str(detail["loc"][-1]), names, n=1)
                    suggested |= {(*detail["loc"][:-1], name) for name in close}
            # A list with a bad entry is not also too short "after validation".
            inside = {tuple(d["loc"][:i]) for d in details for i in range(len(d["loc"]))}
            for detail in details:
                if detail["type"].startswith("missing") and tuple(detail["loc"]) in suggested:
                    continue
                if detail["type"] == "too_short" and tuple(detail["loc"]) in inside:
                    continue
                for loc, message in self._explain(key, kind, detail):
                    path = _path(loc)
                    where = self.key(key) + ("" if not path else
                                             path if path.startswith("[") else f".{path}")
                    self.problems.append(f"{where}: {message}")
            return None

    def _explain(self, key: str, kind: Any, detail: Any) -> list[tuple[tuple[Any, ...], str]]:
        """One pydantic error as people read it: ``[(location, message)]``."""
        loc, value, ctx = tuple(detail["loc"]), detail["input"], detail.get("ctx") or {}
        error_type: str = detail["type"]
        node = _node_at(kind, loc)
        metadata = node[1] if node else []
        shown = self.shown(key, value)
        bounds = _range(metadata)
        within = f" {bounds}" if bounds else ""
        space, _, name = self.key(key).partition(":")
        # How `pulumi config set` names the key: without the project's own namespace.
        relative = ".".join(filter(None, (name if space == self.namespace else self.key(key),
                                          _path(loc))))
        if error_type in ("value_error", "assertion_error"):
            raised = ctx.get("error")
            if isinstance(raised, SettingsError):
                return [((*loc, problem_key), message)
                        for problem_key, message in raised.problems]
            if isinstance(raised, NotAllowedError):
                return [(loc, _not_allowed(self.shown(key, raised.value), raised.value,
                                           raised.allowed, hint=not self.secret(key)))]
            message = str(raised) if raised is not None else detail["msg"]
            if self.secret(key) and isinstance(value, str) and len(value) >= 4:
                message = message.replace(value, "[secret]")
            return [(loc, message)]
        if error_type in ("unexpected_keyword_argument", "extra_forbidden"):
            names = _setting_names(_node_at(kind, loc[:-1]))
            close = difflib.get_close_matches(str(loc[-1]), names, n=1)
            suggestion = f"did you mean {close[0]!r}? " if close else ""
            known = f"known settings: {', '.join(names)}" if names else ""
            return [(loc, f"is not a known setting; {suggestion}{known}".rstrip("; "))]
        if error_type.startswith("missing"):
            return [(loc, "is required")]
        if error_type.startswith("int_"):
            return [(loc, f"must be a whole number{within}, not {shown}")]
        if error_type.startswith("float_") or error_type == "finite_number":
            return [(loc, f"must be a number{within}, not {shown}")]
        if error_type.startswith("bool_"):
            return [(loc, f"must be true or false, not {shown}")]
        if error_type in ("greater_than", "greater_than_equal", "less_than", "less_than_equal"):
            given = shown.strip("'") if isinstance(value, str) else shown
            return [(loc, f"must be {bounds or detail['msg'].removeprefix('Input should be ')}"
                          f", not {given}")]
        if error_type == "string_type":
            if isinstance(value, (int, float)) and not isinstance(value, bool) \
                    and not self.secret(key):
                flag = "--path --type string" if "." in relative else "--type string"
                return [(loc, f"must be a string, not the number {shown}; quote it in the "
                              f"stack file, or set it with `pulumi config set {flag} "
                              f"{relative} {shown}`")]
            return [(loc, f"must be a string, not {shown}")]
        if error_type == "string_too_short":
            length = ctx.get("min_length", 1)
            return [(loc, "must not be empty" if length == 1 else
                          f"must have at least {length} characters")]
        if error_type == "string_too_long":
            return [(loc, f"must have at most {ctx.get('max_length')} characters")]
        if error_type == "string_pattern_mismatch":
            meaning = next((item.text for item in metadata if isinstance(item, Meaning)), None)
            if meaning:
                return [(loc, f"{shown} is not {meaning}")]
            return [(loc, f"{shown} does not have the required form (the pattern "
                          f"{ctx.get('pattern')})")]
        if error_type in ("too_short", "too_long"):
            count = ctx.get("min_length" if error_type == "too_short" else "max_length", 0)
            entries = f"{count} entr{'y' if count == 1 else 'ies'}"
            return [(loc, f"needs at least {entries}" if error_type == "too_short"
                          else f"takes at most {entries}")]
        if error_type in ("literal_error", "enum"):
            bare = node[0] if node else None
            allowed: list[Any] = list(get_args(bare)) if get_origin(bare) is Literal else [
                item.strip("'") for item in re.split(r", | or ", ctx.get("expected", ""))]
            return [(loc, _not_allowed(shown, value, allowed, hint=not self.secret(key)))]
        if error_type in ("dict_type", "dataclass_type", "dataclass_args_type", "model_type",
                          "model_attributes_type"):
            names = _setting_names(node)
            settings = f" of settings ({', '.join(names)})" if names else ""
            return [(loc, f"must be an object{settings}, not {shown}")]
        if error_type in ("tuple_type", "list_type", "set_type", "frozen_set_type"):
            one = "" if isinstance(value, (dict, list)) or self.secret(key) else (
                f"; write [{_number(value) if isinstance(value, (int, float)) else value}] "
                "for one entry")
            return [(loc, f"must be a list, not {shown}{one}")]
        if error_type == "ip_v4_network":
            return [(loc, self._network(key, value, shown))]
        if error_type == "ip_v4_address":
            return [(loc, f"{shown} is not an IPv4 address (such as 10.0.0.1)")]
        return [(loc, f"{shown} is not valid here ({detail['msg']})")]

    def _network(self, key: str, value: Any, shown: str) -> str:
        if isinstance(value, str) and not self.secret(key):
            try:
                network = ipaddress.IPv4Network(value, strict=False)
            except ValueError:
                pass
            else:
                return f"{value} has host bits set; did you mean {network}?"
        return f"{shown} is not an IPv4 network in CIDR notation (such as 10.0.0.0/16)"

    def read(self, key: str, kind: Any, *, required: bool = False,
             structured: bool = False, default: Any = None) -> Any:
        value = self.raw(key, structured=structured)
        if value is None:
            if required:
                self.problems.append(f"{self.key(key)}: is required; set it with "
                                     f"`pulumi config set {key} ...`")
            return default
        return self.validate(key, kind, value)


def _unknown_keys(namespace: str, known: tuple[str, ...]) -> list[str]:
    # The language host hands config over through the environment; the mock runtime through
    # set_all_config. Either way, a misspelt key must not be silently ignored.
    configured = set(runtime_config.CONFIG.get()) | set(runtime_config.get_config_env())
    problems = []
    for full_key in sorted(configured):
        space, _, key = full_key.partition(":")
        if space == namespace and key not in known:
            hint = difflib.get_close_matches(key, known, n=1)
            suggestion = f"did you mean {hint[0]!r}? " if hint else ""
            problems.append(f"{full_key}: is not a known key; {suggestion}"
                            f"known keys: {', '.join(known)}")
    return problems


def load(services: Mapping[str, type] | None = None, *, connection: type | None = None,
         pipeline: type | None = None) -> StackConfig:
    """Reads and validates the stack configuration.

    ``services`` maps each catalog name to its settings dataclass; the loader validates the
    ``services`` section against it without importing the catalog itself. ``connection`` and
    ``pipeline`` are the settings types of the two stacks that are neither environment nor
    services: an account connection, and the tooling account's delivery pipeline.
    """
    catalog = services or {}
    reader = _Reader(PROJECT)
    reader.problems += _unknown_keys(PROJECT, KNOWN_KEYS)

    stage = reader.read("stage", Annotated[str, _one_of(tuple(STAGES))], required=True)
    account = reader.read("account", AccountSettings, required=True, structured=True)
    tags = reader.read("tags", dict[TagKey, TagValue], required=True, structured=True) or {}
    if tags and "owner" not in tags:
        reader.problems.append(f"{reader.key('tags')}: needs an 'owner' tag (the team to call)")
    region = _read_region(reader)

    stage_defaults = STAGES.get(stage or "dev", STAGES["dev"])
    retention = reader.read("logRetentionDays", LogRetentionDays,
                            default=stage_defaults.log_retention_days)
    functions = FunctionDefaults(
        runtime=reader.read("lambdaRuntime", Annotated[str, _one_of(LAMBDA_RUNTIMES)],
                            required=True),
        architecture=reader.read("lambdaArchitecture",
                                 Annotated[str, _one_of(LAMBDA_ARCHITECTURES)], required=True),
        powertools_layer_version=reader.read("powertoolsLayerVersion",
                                             Annotated[int, Field(ge=1)], required=True),
        log_level=reader.read("logLevel", Annotated[str, _one_of(LOG_LEVELS)], required=True),
        debug_log_sample_rate=reader.read("debugLogSampleRate",
                                          Annotated[float, Field(ge=0, le=1)], required=True),
    )

    connection_settings = reader.read("connection", connection or object, structured=True)
    pipeline_settings = reader.read("pipeline", pipeline or object, structured=True)
    kind = _stack_kind(reader, account)
    environment = reader.read("environment", EnvironmentSettings, structured=True)
    environment_stack = reader.read("environmentStack", StackName)
    has_environment = reader.raw("environment") is not None
    if kind is None and has_environment == (reader.raw("environmentStack") is not None):
        reader.problems.append(
            f"{reader.key('environment')} / {reader.key('environmentStack')}: set exactly one; "
            "`environment` builds the environment in this stack, `environmentStack` "
            "(org/project/stack) reads it from the platform's stack")
    if environment is not None and environment.nat_gateways is None:
        nat = environment.availability_zones if stage_defaults.nat_gateway_per_az else 1
        environment = replace(environment, nat_gateways=nat)

    alarm_settings = reader.read("alarms", AlarmSettings, structured=True)
    stage_alarms = STAGE_ALARMS.get(stage or "dev", STAGE_ALARMS["dev"])
    alarms = stage_alarms if alarm_settings is None else alarm_settings.over(stage_alarms)
    reader.problems += [f"{reader.key('alarms')}.{key}: {message}"
                        for key, message in alarm_problems(alarms)]
    service_settings, operations = _read_services(reader, catalog, alarms)
    reader.problems += _api_key_problems(reader.key("apiKeys"))

    if reader.problems:
        raise ConfigError(reader.problems)
    assert stage is not None
    assert account is not None
    assert region is not None
    return StackConfig(
        stage=stage,
        region=region,
        account=account,
        external_id=reader.config.get_secret("externalId"),
        api_keys=reader.config.get_secret_object("apiKeys"),
        tags={"project": PROJECT, "environment": stage, **tags},
        defaults=Defaults(
            stage=stage,
            region=region,
            account_id=account.id,
            log_retention_days=retention,
            deletion_protection=stage_defaults.deletion_protection,
            protect=stage_defaults.protect,
            kms_deletion_window_days=stage_defaults.kms_deletion_window_days,
            functions=functions,
            alarms=alarms,
            operations=operations,
        ),
        environment=environment,
        environment_stack=environment_stack,
        services=service_settings,
        connection=connection_settings,
        pipeline=pipeline_settings,
    )


def _stack_kind(reader: _Reader, account: AccountSettings | None) -> str | None:
    """``connection`` or ``pipeline`` for the two special stacks (checking that such a stack
    sets nothing else), None for an environment or services stack."""
    kinds = [key for key in ("connection", "pipeline") if reader.raw(key) is not None]
    if len(kinds) > 1:
        reader.problems.append(f"{reader.key('connection')} / {reader.key('pipeline')}: set at "
                               "most one; a connection stack and the tooling stack are separate")
    if not kinds:
        if account is not None and account.deploy_role_arn is None:
            reader.problems.append(
                f"{reader.key('account')}.deployRoleArn: is required for an environment or "
                "services stack: its providers assume that role (a connection stack creates "
                "it); only connection and tooling stacks deploy with the shell's credentials")
        return None
    reader.problems += [f"{reader.key(key)}: a {kinds[0]} stack builds nothing else; remove it"
                        for key in WORKLOAD_KEYS if reader.raw(key) is not None]
    return kinds[0]


def _api_key_problems(key: str) -> list[str]:
    """What is wrong with the secret ``apiKeys`` map, without ever printing a value."""
    raw = runtime_config.get_config(key)
    if raw is None:
        return []
    try:
        keys = json.loads(raw)
    except (TypeError, ValueError):
        return [f"{key}: must be an object of consumer name to key value (set each with "
                "`pulumi config set --secret --path apiKeys.<consumer> <value>`)"]
    if not isinstance(keys, dict):
        return [f"{key}: must be an object of consumer name to key value"]
    return [f"{key}.{consumer}: must be 20 to 128 letters, digits, '-' or '_'"
            for consumer, value in keys.items()
            if not isinstance(value, str) or not API_KEY.match(value)]


def _read_region(reader: _Reader) -> str | None:
    region: str | None = reader.read("aws:region", AwsRegion, required=True)
    return region


def _read_services(reader: _Reader, catalog: Mapping[str, type], alarms: AlarmThresholds,
                   ) -> tuple[dict[str, Any], dict[str, ServiceOperations]]:
    """The services switched on, and the settings every service takes besides its own:
    ``alarms`` (over the stack's) and ``reservedConcurrency``."""
    section = reader.read("services", dict[str, Any], structured=True, default={}) or {}
    known = ", ".join(sorted(catalog)) or "none yet"
    chosen: dict[str, Any] = {}
    operations: dict[str, ServiceOperations] = {}
    for name, value in section.items():
        key = f"{reader.key('services')}.{name}"
        if name not in catalog:
            hint = difflib.get_close_matches(name, list(catalog), n=1)
            suggestion = f"did you mean {hint[0]!r}? " if hint else ""
            reader.problems.append(f"{key}: is not a catalog service; {suggestion}"
                                   f"known services: {known}")
            continue
        if not isinstance(value, dict | None):
            reader.problems.append(f"{key}: must be an object of the service's settings "
                                   f"({', '.join(_setting_names(_node(catalog[name])))}), not "
                                   f"{reader.shown('services', value)}")
            continue
        body = dict(value or {})
        enabled = body.pop("enabled", True)
        if not isinstance(enabled, bool):
            reader.problems.append(f"{key}.enabled: must be true or false, not "
                                   f"{reader.shown('services', enabled)}")
            continue
        if not enabled:
            continue
        own_alarms = reader.validate(f"services.{name}.alarms", AlarmSettings,
                                     body.pop("alarms", {}))
        reserved = reader.validate(f"services.{name}.reservedConcurrency",
                                   dict[FunctionShortName, ReservedConcurrency],
                                   body.pop("reservedConcurrency", {}))
        settings = reader.validate(f"services.{name}", catalog[name], body)
        if settings is not None:
            chosen[name] = settings
        if own_alarms is not None and reserved is not None:
            thresholds = own_alarms.over(alarms)
            reader.problems += [f"{key}.alarms.{setting}: {message}"
                                for setting, message in alarm_problems(thresholds)]
            operations[name] = ServiceOperations(thresholds, reserved)
    return chosen, operations
