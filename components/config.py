"""Typed stack configuration.

Every key of a stack file is read here, once, into frozen dataclasses. Validation collects every
problem before it fails, and each message names the key (``blueprints:environment.vpcCidr``) and,
where there is a fixed set, the allowed values. The error is a ``pulumi.RunError``, so
``pulumi preview`` prints the messages without a Python traceback.

Scalar keys take their defaults from ``Pulumi.yaml``; stage-dependent defaults live in ``STAGES``.
"""

from __future__ import annotations

import difflib
import ipaddress
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Annotated, Any

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


def _one_of(allowed: tuple[Any, ...]) -> AfterValidator:
    def check(value: Any) -> Any:
        if value not in allowed:
            raise ValueError(f"{value!r} is not allowed; use one of {', '.join(map(str, allowed))}")
        return value

    return AfterValidator(check)


def _quoted_account_id(value: Any) -> Any:
    if isinstance(value, int):
        raise ValueError("must be a quoted string of 12 digits: YAML drops the leading zeros "
                         "of an unquoted number")
    return value


AccountId = Annotated[str, BeforeValidator(_quoted_account_id),
                      StringConstraints(pattern=r"^\d{12}$")]
LogRetentionDays = Annotated[int, _one_of(LOG_RETENTION_DAYS)]
ROLE_ARN = re.compile(r"^arn:aws(?:-cn|-us-gov)?:iam::(\d{12}):role/[\w+=,.@/-]{1,512}$")


def _not_reserved(key: str) -> str:
    if key.lower().startswith("aws:"):
        raise ValueError("tag keys starting with 'aws:' are reserved for AWS")
    return key


TagKey = Annotated[str, StringConstraints(min_length=1, max_length=128,
                                          pattern=r"^[\w .:/=+@-]+$"),
                   AfterValidator(_not_reserved)]
TagValue = Annotated[str, StringConstraints(max_length=256, pattern=r"^[\w .:/=+@-]*$")]


@pydantic_dataclasses.dataclass(frozen=True, config=SETTINGS)
class AccountSettings:
    """The AWS account a stack deploys into, and the role the deployer assumes there."""

    id: AccountId
    deploy_role_arn: str
    session_name: Annotated[str, StringConstraints(pattern=r"^[\w+=,.@-]{2,64}$")] = (
        "blueprints-deploy")

    @model_validator(mode="after")
    def _role_in_account(self) -> AccountSettings:
        match = ROLE_ARN.match(self.deploy_role_arn)
        if match is None:
            raise ValueError(f"deployRoleArn {self.deploy_role_arn!r} is not an IAM role ARN "
                             "(arn:aws:iam::<12 digits>:role/<name>)")
        if match.group(1) != self.id:
            raise ValueError(f"deployRoleArn is in account {match.group(1)}, "
                             f"but account.id is {self.id}")
        return self


@pydantic_dataclasses.dataclass(frozen=True, config=SETTINGS)
class EnvironmentSettings:
    """The platform-owned environment: network sizes and NAT.

    Subnet CIDRs may be omitted: the VPC range is then cut into 16 equal blocks, the first ones
    public and the next ones private, one of each per availability zone.
    """

    vpc_cidr: ipaddress.IPv4Network
    availability_zones: Annotated[int, Field(ge=2, le=6)] = 2
    public_subnet_cidrs: tuple[ipaddress.IPv4Network, ...] = ()
    private_subnet_cidrs: tuple[ipaddress.IPv4Network, ...] = ()
    nat_gateways: Annotated[int, Field(ge=0, le=6)] | None = None

    @model_validator(mode="after")
    def _subnets_fit(self) -> EnvironmentSettings:
        if not 16 <= self.vpc_cidr.prefixlen <= 24:
            raise ValueError(f"vpcCidr {self.vpc_cidr} must be between /16 and /24")
        problems = []
        for key, subnets in (("publicSubnetCidrs", self.public_subnet_cidrs),
                             ("privateSubnetCidrs", self.private_subnet_cidrs)):
            if subnets and len(subnets) != self.availability_zones:
                problems.append(f"{key} has {len(subnets)} entries; it needs one per availability "
                                f"zone ({self.availability_zones})")
            problems += [f"{key} entry {subnet} is outside vpcCidr {self.vpc_cidr}"
                         for subnet in subnets if not subnet.subnet_of(self.vpc_cidr)]
        given = [*self.public_subnet_cidrs, *self.private_subnet_cidrs]
        problems += [f"subnets {a} and {b} overlap" for i, a in enumerate(given)
                     for b in given[i + 1:] if a.overlaps(b)]
        if self.nat_gateways is not None and self.nat_gateways > self.availability_zones:
            problems.append(f"natGateways is {self.nat_gateways}, more than the "
                            f"{self.availability_zones} availability zones")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def subnet_cidrs(self) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """The public and private subnet CIDRs, one per availability zone."""
        blocks = list(self.vpc_cidr.subnets(new_prefix=self.vpc_cidr.prefixlen + 4))
        count = self.availability_zones
        public = self.public_subnet_cidrs or tuple(blocks[:count])
        private = self.private_subnet_cidrs or tuple(blocks[count:2 * count])
        return tuple(map(str, public)), tuple(map(str, private))


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


class ConfigError(pulumi.RunError):
    """Every problem found in a stack's configuration, one line each."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        lines = "\n".join(f"  - {problem}" for problem in problems)
        super().__init__(f"invalid stack configuration ({len(problems)} problem"
                         f"{'s' if len(problems) > 1 else ''}):\n{lines}")


KNOWN_KEYS = ("stage", "account", "externalId", "tags", "logRetentionDays", "lambdaRuntime",
              "lambdaArchitecture", "powertoolsLayerVersion", "logLevel", "debugLogSampleRate",
              "environment", "environmentStack", "services", "apiKeys")
API_KEY = re.compile(r"^[A-Za-z0-9_-]{20,128}$")

class _Reader:
    """Reads keys of one namespace and collects every problem instead of stopping at the first."""

    def __init__(self, namespace: str) -> None:
        self.namespace = namespace
        self.config = pulumi.Config(namespace)
        self.problems: list[str] = []

    def key(self, key: str) -> str:
        return f"{self.namespace}:{key}"

    def raw(self, key: str, *, structured: bool = False) -> Any:
        value = self.config.get(key)
        if value is None or not structured:
            return value
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            self.problems.append(f"{self.key(key)}: must be an object, not {value!r}")
            return None

    def validate(self, key: str, kind: Any, value: Any) -> Any:
        try:
            return TypeAdapter(kind).validate_python(value)
        except ValidationError as error:
            for detail in error.errors(include_url=False):
                path = ".".join(str(part) for part in detail["loc"])
                where = f"{self.key(key)}.{path}" if path else self.key(key)
                message = detail["msg"].removeprefix("Value error, ")
                if detail["type"] == "unexpected_keyword_argument":
                    message = "is not a known setting"
                    fields = getattr(kind, "__pydantic_fields__", {})
                    if len(detail["loc"]) == 1 and fields:
                        message += f"; known settings: {', '.join(map(to_camel, fields))}"
                self.problems.append(f"{where}: {message}")
            return None

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


def load(services: Mapping[str, type] | None = None) -> StackConfig:
    """Reads and validates the stack configuration.

    ``services`` maps each catalog name to its settings dataclass; the loader validates the
    ``services`` section against it without importing the catalog itself.
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

    environment = reader.read("environment", EnvironmentSettings, structured=True)
    environment_stack = reader.read(
        "environmentStack",
        Annotated[str, StringConstraints(pattern=r"^[\w.-]+/[\w.-]+/[\w.-]+$")])
    has_environment = reader.raw("environment") is not None
    if has_environment == (reader.raw("environmentStack") is not None):
        reader.problems.append(
            f"{reader.key('environment')} / {reader.key('environmentStack')}: set exactly one; "
            "`environment` builds the environment in this stack, `environmentStack` "
            "(org/project/stack) reads it from the platform's stack")
    if environment is not None and environment.nat_gateways is None:
        nat = environment.availability_zones if stage_defaults.nat_gateway_per_az else 1
        environment = replace(environment, nat_gateways=nat)

    service_settings = _read_services(reader, catalog)
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
        ),
        environment=environment,
        environment_stack=environment_stack,
        services=service_settings,
    )


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
    region = pulumi.Config("aws").get("region")
    if region is None:
        reader.problems.append("aws:region: is required; set it with "
                               "`pulumi config set aws:region <region>`")
    elif not re.fullmatch(r"[a-z]{2}(-gov)?-[a-z]+-\d", region):
        reader.problems.append(f"aws:region: {region!r} is not an AWS region name "
                               "(such as eu-west-1)")
    else:
        return region
    return None


def _read_services(reader: _Reader, catalog: Mapping[str, type]) -> dict[str, Any]:
    section = reader.read("services", dict[str, Any], structured=True, default={}) or {}
    known = ", ".join(sorted(catalog)) or "none yet"
    chosen: dict[str, Any] = {}
    for name, value in section.items():
        if name not in catalog:
            reader.problems.append(f"{reader.key('services')}.{name}: is not a catalog service; "
                                   f"known services: {known}")
            continue
        if not isinstance(value, dict | None):
            reader.problems.append(f"{reader.key('services')}.{name}: must be an object of "
                                   "the service's settings")
            continue
        body = dict(value or {})
        if body.pop("enabled", True) is False:
            continue
        settings = reader.validate(f"services.{name}", catalog[name], body)
        if settings is not None:
            chosen[name] = settings
    return chosen
