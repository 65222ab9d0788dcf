"""Microservice cache: Billing, Payment and Profile functions share an ElastiCache Serverless
(Valkey) cache, kept in step by events; profiles are read through DAX.

The catalog's post 16 (``../shared/CATALOG.md``). The handlers and their library are
``functions/cache_billing``, ``cache_payment``, ``cache_profile``, ``cache_manager``,
``profile_refresher`` and ``cache_aside`` (routes, events and variables in their docstrings).
What it builds:

- **The cache** (ElastiCache Serverless, Valkey 8): in the environment's private subnets,
  encrypted at rest with the environment's key and in transit (a serverless cache accepts TLS
  only), reachable on 6379-6380 from the functions' security group only, and closed to anyone
  without a user: its user group holds a disabled ``default`` user and one IAM-authenticated
  user for the functions (access to ``billing:*`` and ``profile:*`` keys, no dangerous
  commands). Each function's role may ``elasticache:Connect`` to this cache as this user, and
  nothing else; the functions sign their tokens locally (``cache_aside.auth``). Storage and
  ECPU limits (``cache``) cap the bill. Every object is written with a TTL
  (``billingTtlSeconds``, ``profileTtlSeconds``).
- **Cache-aside with a fall-through**: a read that cannot reach the cache (200 ms timeouts,
  ``cacheTimeoutMs``) goes to DynamoDB, and the cache is skipped for ``breakerSeconds``: an
  outage slows the service, never fails it.
- **Events** (EventBridge): a custom bus with an archive (``eventArchiveDays``, the post's
  event store); Payment publishes ``payment_processed``, the profile refresher
  ``profile_changed``; one rule matches exactly those and invokes the **cache manager**
  (asynchronously: retries, then its failure queue; the target's own retries and DLQ for
  events EventBridge cannot deliver), which drops or refreshes the key (``invalidation``).
- **DAX** (use case 2) in front of the profiles table: in the private subnets, TLS between
  client and cluster (``cluster_endpoint_encryption_type``), encrypted at rest (DAX uses an
  AWS-owned key; it takes no customer key), its own role that may read the profiles table
  only, node type and count from ``dax``, record and query TTLs from its parameter group. The
  table's ``KEYS_ONLY`` stream feeds the **profile refresher**.
- **Tables** (``Table``): accounts, payments and profiles, on demand, KMS with the
  environment's key, point-in-time recovery.
- **Idempotent payments** (``IdempotencyStore``): Powertools' records of each payment, keyed
  by its ``paymentId`` and the caller's account, in their own table (KMS with the
  environment's key, TTL on ``expiration``); a retried payment gets its first receipt for
  ``idempotencyExpirySeconds`` (24 hours), with no second debit and no second event; the same
  ``paymentId`` with another account or amount is a 422. Only the payment function may use
  the table (get, put, update, delete).
- **No NAT needed**: the functions run in the private subnets with two security groups: the
  service's own (the one the cache, DAX and the endpoint admit) and the environment's services
  group (HTTPS out, which reaches DynamoDB through the environment's gateway endpoint). An
  **EventBridge interface endpoint** with private DNS (``createEventsEndpoint``; turn it off
  when the VPC already has one: only one endpoint per service may own the private DNS name)
  carries ``PutEvents``.
- **The HTTP API** (``HttpApi``, IAM authorization on every route, throttled):
  ``GET /billing/{accountId}``, ``POST /payments`` and ``GET /profiles/{profileId}``.

The clients come from one layer (``PythonLayer``): ``valkey``, and the DAX client
(``amazon-dax-client``, a source distribution only, built into a pure-Python wheel by the layer
block) with its ANTLR runtime and ``six`` (botocore is the runtime's).
"""

from __future__ import annotations

import json
import re
from typing import Annotated, Any, Literal

import pulumi
import pulumi_aws as aws
from pydantic import Field, model_validator
from pydantic import dataclasses as pydantic_dataclasses

from components.config import SETTINGS, Defaults, SettingsError
from components.foundation import iam
from components.foundation.function import Function, FunctionArgs, FunctionVpc
from components.foundation.http_api import HttpApi, HttpApiArgs, LambdaRoute, RouteAuthorization
from components.foundation.idempotency import (
    DEFAULT_EXPIRY_SECONDS,
    IdempotencyStore,
    IdempotencyStoreArgs,
)
from components.foundation.layer import PythonLayer, PythonLayerArgs
from components.foundation.queue import Queue, QueueArgs
from components.foundation.table import Key, Table, TableArgs
from components.services.base import (
    IdempotencyExpirySeconds,
    ServiceComponent,
    ServiceContext,
)

LIBRARY = "cache_aside"
# The handlers' clients; the tests pin the same (requirements-dev.txt). The DAX client is
# published as a source distribution only.
CACHE_CLIENT_REQUIREMENTS = ("valkey==6.2.0", "antlr4-python3-runtime==4.13.2", "six==1.17.0")
DAX_CLIENT_SOURCES = ("amazon-dax-client==2.1.0",)
ENGINE = "valkey"
ENGINE_VERSION = "8"
CACHE_PORTS = (6379, 6380)  # the serverless endpoint, and its reader endpoint
DAX_TLS_PORT = 9111
HTTPS = 443
# What the functions' cache user may do: the two kinds of keys, reads, writes, its connection;
# never the dangerous commands (FLUSHALL, KEYS, CONFIG, DEBUG...).
FUNCTIONS_ACCESS = "on ~billing:* ~profile:* -@all +@read +@write +@connection -@dangerous"
DISABLED_DEFAULT_ACCESS = "off -@all"
# The events the cache manager takes (cache_aside.keys, which the program cannot import).
PAYMENT_SOURCE = "blueprints.cache.payments"
PROFILE_SOURCE = "blueprints.cache.profiles"
EVENT_PATTERN = {"source": [PAYMENT_SOURCE, PROFILE_SOURCE],
                 "detail-type": ["payment_processed", "profile_changed"]}
STREAM_BATCH_SIZE = 10
STREAM_RETRIES = 5
STREAM_MAX_RECORD_AGE_SECONDS = 3600
DaxNodeType = Literal["dax.t3.small", "dax.t3.medium", "dax.r5.large", "dax.r5.xlarge",
                      "dax.r5.2xlarge", "dax.r5.4xlarge", "dax.r5.8xlarge", "dax.r5.12xlarge",
                      "dax.r5.16xlarge", "dax.r5.24xlarge"]


@pydantic_dataclasses.dataclass(frozen=True, config=SETTINGS)
class CacheLimitsSettings:
    """The serverless cache's ceilings (``cache_usage_limits``): what it may store (GB) and
    how many ElastiCache Processing Units it may use per second."""

    max_data_storage_gb: Annotated[int, Field(ge=1, le=5000)] = 1
    max_ecpu_per_second: Annotated[int, Field(ge=1000, le=15_000_000)] = 5000
    snapshot_retention_days: Annotated[int, Field(ge=0, le=35)] = 0


@pydantic_dataclasses.dataclass(frozen=True, config=SETTINGS)
class DaxSettings:
    """The DAX cluster: node type and count (3 spreads it over three zones), and how long DAX
    keeps an item (``recordTtlSeconds``) and a query's result (``queryTtlSeconds``)."""

    node_type: DaxNodeType = "dax.t3.small"
    node_count: Annotated[int, Field(ge=1, le=11)] = 3
    record_ttl_seconds: Annotated[int, Field(ge=0, le=86400)] = 300
    query_ttl_seconds: Annotated[int, Field(ge=0, le=86400)] = 300


@pydantic_dataclasses.dataclass(frozen=True, config=SETTINGS)
class MicroserviceCacheSettings:
    """The ``services.microserviceCache`` section of a stack file."""

    billing_ttl_seconds: Annotated[int, Field(ge=1, le=86400)] = 300
    profile_ttl_seconds: Annotated[int, Field(ge=1, le=86400)] = 900
    invalidation: Literal["invalidate", "refresh"] = "invalidate"
    cache: CacheLimitsSettings = CacheLimitsSettings()
    dax: DaxSettings = DaxSettings()
    cache_timeout_ms: Annotated[int, Field(ge=10, le=5000)] = 200
    breaker_seconds: Annotated[int, Field(ge=0, le=3600)] = 30
    memory_size: Annotated[int, Field(ge=128, le=10240)] = 256
    event_archive_days: Annotated[int, Field(ge=1, le=3650)] = 7
    create_events_endpoint: bool = True
    throttling_rate_limit: Annotated[float, Field(gt=0, le=10_000)] = 50
    throttling_burst_limit: Annotated[int, Field(ge=1, le=5_000)] = 100
    idempotency_expiry_seconds: IdempotencyExpirySeconds = DEFAULT_EXPIRY_SECONDS

    @model_validator(mode="after")
    def _consistent(self) -> MicroserviceCacheSettings:
        problems = []
        if self.cache_timeout_ms * 2 >= 3000:
            problems.append(("cacheTimeoutMs", f"{self.cache_timeout_ms} ms is too long for a "
                             "fall-through: a dead cache would cost each read twice that "
                             "(connect and read); keep it under 1500 ms"))
        if self.dax.record_ttl_seconds > self.profile_ttl_seconds:
            problems.append(("dax.recordTtlSeconds", f"{self.dax.record_ttl_seconds} s is "
                             f"longer than profileTtlSeconds ({self.profile_ttl_seconds} s): "
                             "a refresh would read DAX's stale copy back into the cache"))
        if problems:
            raise SettingsError(problems)
        return self


def resource_id(name: str, limit: int) -> str:
    """A lower-case id from the project, stack and ``name`` (letters, digits, hyphens; starting
    with a letter) of at most ``limit`` characters, as ElastiCache and DAX want them."""
    raw = re.sub(r"[^a-z0-9]+", "-", f"{pulumi.get_stack()}-{name}".lower()).strip("-")
    return ("c-" + raw if not raw[:1].isalpha() else raw)[:limit].rstrip("-")


class MicroserviceCache(ServiceComponent):
    """Cache-aside in ElastiCache Serverless (Valkey), event-driven invalidation, DAX reads."""

    def __init__(self, name: str, settings: MicroserviceCacheSettings, context: ServiceContext,
                 opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("blueprints:services:MicroserviceCache", name, None, opts)
        defaults = context.defaults
        environment = context.environment
        key = environment.kms_key_arn
        child = pulumi.ResourceOptions(parent=self)

        self._network(name, settings, context, child)
        self._tables(name, defaults, key, child)
        self.idempotency = IdempotencyStore(f"{name}-idempotency", IdempotencyStoreArgs(
            kms_key_arn=key, expiry_seconds=settings.idempotency_expiry_seconds), defaults, child)
        self._cache(name, settings, environment, child)
        self._dax(name, settings, environment, child)
        self.bus = aws.cloudwatch.EventBus(
            f"{name}-bus", description="Changes that cached objects must follow", opts=child)
        aws.cloudwatch.EventArchive(
            f"{name}-archive", event_source_arn=self.bus.arn,
            retention_days=settings.event_archive_days,
            description="The event store: every change published on the bus", opts=child)
        self._functions(name, settings, context, child)
        self._invalidation(name, defaults, key, child)
        self._stream(name, defaults, key, child)

        self.api = HttpApi(name, HttpApiArgs(
            description="Billing, payments and profiles behind a shared cache",
            routes=[LambdaRoute(route, function.target_arn, function.invoke_arn,
                                authorization=RouteAuthorization.AWS_IAM)
                    for route, function in (("GET /billing/{accountId}", self.billing),
                                            ("POST /payments", self.payment),
                                            ("GET /profiles/{profileId}", self.profile))],
            throttling_rate_limit=settings.throttling_rate_limit,
            throttling_burst_limit=settings.throttling_burst_limit,
            log_kms_key_arn=key), defaults, child)

        self.exports = {
            "apiEndpoint": self.api.api_endpoint,
            "cacheName": self.cache.name,
            "cacheEndpoint": self.cache_host,
            "cacheUserId": self.functions_user.user_id,
            "daxEndpoint": self.dax_endpoint,
            "eventBusName": self.bus.name,
            "accountsTableName": self.accounts.name,
            "paymentsTableName": self.payments.name,
            "profilesTableName": self.profiles.name,
            "idempotencyTableName": self.idempotency.name,
            "functionsSecurityGroupId": self.functions_group.id,
        }
        self.register_outputs(self.exports)

    # --- network --------------------------------------------------------------------------

    def _network(self, name: str, settings: MicroserviceCacheSettings,
                 context: ServiceContext, child: pulumi.ResourceOptions) -> None:
        environment = context.environment

        def group(role: str, description: str) -> aws.ec2.SecurityGroup:
            return aws.ec2.SecurityGroup(f"{name}-{role}", vpc_id=environment.vpc_id,
                                         description=description, opts=child)

        self.functions_group = group("functions", "The cache service's functions")
        self.cache_group = group("cache", "The cache: Valkey from the service's functions only")
        self.dax_group = group("dax", "DAX: TLS from the service's functions only")
        targets: list[tuple[str, aws.ec2.SecurityGroup, int, int, str]] = [
            ("cache", self.cache_group, CACHE_PORTS[0], CACHE_PORTS[1], "Valkey over TLS"),
            ("dax", self.dax_group, DAX_TLS_PORT, DAX_TLS_PORT, "DAX over TLS"),
        ]
        self.endpoint = None
        if settings.create_events_endpoint:
            endpoint_group = group("events-endpoint",
                                   "EventBridge endpoint: HTTPS from the service's functions")
            targets.append(("events-endpoint", endpoint_group, HTTPS, HTTPS,
                            "EventBridge through its interface endpoint"))
            self.endpoint = aws.ec2.VpcEndpoint(
                f"{name}-events", vpc_id=environment.vpc_id,
                service_name=f"com.amazonaws.{context.defaults.region}.events",
                vpc_endpoint_type="Interface", private_dns_enabled=True, ip_address_type="ipv4",
                subnet_ids=environment.private_subnet_ids,
                security_group_ids=[endpoint_group.id], opts=child)
        for role, target, low, high, what in targets:
            aws.vpc.SecurityGroupIngressRule(
                f"{name}-{role}-from-functions", security_group_id=target.id,
                referenced_security_group_id=self.functions_group.id, ip_protocol="tcp",
                from_port=low, to_port=high, description=f"{what}, from the functions",
                opts=child)
            aws.vpc.SecurityGroupEgressRule(
                f"{name}-functions-to-{role}", security_group_id=self.functions_group.id,
                referenced_security_group_id=target.id, ip_protocol="tcp", from_port=low,
                to_port=high, description=what, opts=child)

    # --- data -----------------------------------------------------------------------------

    def _tables(self, name: str, defaults: Defaults, key: pulumi.Input[str],
                child: pulumi.ResourceOptions) -> None:
        self.accounts = Table(f"{name}-accounts", TableArgs(
            hash_key=Key("accountId"), kms_key_arn=key), defaults, child)
        self.payments = Table(f"{name}-payments", TableArgs(
            hash_key=Key("paymentId"), kms_key_arn=key), defaults, child)
        # The stream carries keys only: the refresher names the profile, never its data.
        self.profiles = Table(f"{name}-profiles", TableArgs(
            hash_key=Key("profileId"), stream="KEYS_ONLY", kms_key_arn=key), defaults, child)

    def _cache(self, name: str, settings: MicroserviceCacheSettings, environment: Any,
               child: pulumi.ResourceOptions) -> None:
        default_user = aws.elasticache.User(
            f"{name}-default-user", user_id=resource_id(f"{name}-default", 40),
            user_name="default", engine=ENGINE, access_string=DISABLED_DEFAULT_ACCESS,
            authentication_mode={"type": "no-password-required"}, opts=child)
        # An IAM user's id and name are one and the same.
        user_id = resource_id(f"{name}-functions", 40)
        self.functions_user = aws.elasticache.User(
            f"{name}-functions-user", user_id=user_id, user_name=user_id, engine=ENGINE,
            access_string=FUNCTIONS_ACCESS, authentication_mode={"type": "iam"}, opts=child)
        users = aws.elasticache.UserGroup(
            f"{name}-users", user_group_id=resource_id(f"{name}-users", 40), engine=ENGINE,
            user_ids=[default_user.user_id, self.functions_user.user_id], opts=child)
        limits = settings.cache
        self.cache = aws.elasticache.ServerlessCache(
            f"{name}-cache", name=resource_id(name, 40), engine=ENGINE,
            major_engine_version=ENGINE_VERSION,
            description="Objects the billing, payment and profile functions share",
            kms_key_id=environment.kms_key_arn,
            security_group_ids=[self.cache_group.id],
            subnet_ids=environment.private_subnet_ids,
            user_group_id=users.user_group_id,
            cache_usage_limits={
                "data_storage": {"maximum": limits.max_data_storage_gb, "unit": "GB"},
                "ecpu_per_seconds": [{"maximum": limits.max_ecpu_per_second}]},
            snapshot_retention_limit=limits.snapshot_retention_days, opts=child)
        self.cache_host = self.cache.endpoints.apply(
            lambda endpoints: endpoints[0].address if endpoints else "")

    def _dax(self, name: str, settings: MicroserviceCacheSettings, environment: Any,
             child: pulumi.ResourceOptions) -> None:
        role = aws.iam.Role(
            f"{name}-dax", description="What DAX may read: the profiles table only",
            assume_role_policy=iam.trust_policy("dax.amazonaws.com"), opts=child)
        policy = aws.iam.RolePolicy(f"{name}-dax", role=role.id, policy=iam.policy_document([
            iam.allow(["dynamodb:DescribeTable", "dynamodb:GetItem", "dynamodb:BatchGetItem",
                       "dynamodb:Query", "dynamodb:Scan", "dynamodb:ConditionCheckItem"],
                      self.profiles.arn),
            iam.allow(["kms:Decrypt", "kms:DescribeKey"], environment.kms_key_arn)]),
            opts=child)
        subnets = aws.dax.SubnetGroup(
            f"{name}-dax", name=resource_id(f"{name}-dax", 255),
            description="The environment's private subnets",
            subnet_ids=environment.private_subnet_ids, opts=child)
        parameters = aws.dax.ParameterGroup(
            f"{name}-dax", name=resource_id(f"{name}-dax", 255),
            description="How long DAX keeps profiles and query results",
            parameters=[{"name": "record-ttl-millis",
                         "value": str(settings.dax.record_ttl_seconds * 1000)},
                        {"name": "query-ttl-millis",
                         "value": str(settings.dax.query_ttl_seconds * 1000)}], opts=child)
        self.dax_cluster = aws.dax.Cluster(
            f"{name}-dax", cluster_name=resource_id(name, 20),
            description="Reads of the profiles table",
            node_type=settings.dax.node_type, replication_factor=settings.dax.node_count,
            iam_role_arn=role.arn, subnet_group_name=subnets.name,
            parameter_group_name=parameters.name, security_group_ids=[self.dax_group.id],
            server_side_encryption={"enabled": True}, cluster_endpoint_encryption_type="TLS",
            opts=pulumi.ResourceOptions(parent=self, depends_on=[policy]))
        # The TLS discovery endpoint (DAX computes the address; a plan has none).
        self.dax_endpoint = self.dax_cluster.cluster_address.apply(
            lambda address: f"daxs://{address}" if address else "")

    # --- functions ------------------------------------------------------------------------

    def _functions(self, name: str, settings: MicroserviceCacheSettings,
                   context: ServiceContext, child: pulumi.ResourceOptions) -> None:
        defaults = context.defaults
        environment = context.environment
        key = environment.kms_key_arn
        layer = PythonLayer(f"{name}-clients", PythonLayerArgs(
            CACHE_CLIENT_REQUIREMENTS, sources=DAX_CLIENT_SOURCES, no_deps=True,
            description="The Valkey and DAX clients of the cache service"), defaults, child)
        vpc = FunctionVpc(subnet_ids=environment.private_subnet_ids, security_group_ids=[
            self.functions_group.id, environment.service_security_group_id])
        connect = iam.allow(["elasticache:Connect"], self.cache.arn, self.functions_user.arn)
        cache_environment: dict[str, pulumi.Input[str]] = {
            "CACHE_HOST": self.cache_host, "CACHE_PORT": str(CACHE_PORTS[0]),
            "CACHE_TLS": "true", "CACHE_AUTH": "iam", "CACHE_USER": self.functions_user.user_id,
            "CACHE_NAME": self.cache.name, "CACHE_TIMEOUT_MS": str(settings.cache_timeout_ms),
            "CACHE_BREAKER_SECONDS": str(settings.breaker_seconds)}

        def function(role: str, code: str, description: str, statements: list[iam.Statement],
                     variables: dict[str, pulumi.Input[str]], *,
                     invoked_async: bool = False) -> Function:
            return Function(f"{name}-{role}", FunctionArgs(
                code=code, libraries=[LIBRARY], layers=[layer.arn],
                memory_size=settings.memory_size, timeout=10, service_name=name,
                description=description, statements=[connect, *statements],
                environment={**cache_environment, **variables}, vpc=vpc, kms_key_arn=key,
                invoked_async=invoked_async,
                reserved_concurrency=self.reserved_concurrency(defaults, role)), defaults, child)

        self.billing = function(
            "billing", "cache_billing", "Billing summaries, cache-aside over DynamoDB",
            [iam.allow(["dynamodb:GetItem"], self.accounts.arn)],
            {"ACCOUNTS_TABLE": self.accounts.name,
             "BILLING_TTL_SECONDS": str(settings.billing_ttl_seconds)})
        self.payment = function(
            "payment", "cache_payment", "Records payments and publishes payment_processed",
            [iam.allow(["dynamodb:PutItem"], self.payments.arn),
             iam.allow(["dynamodb:UpdateItem"], self.accounts.arn),
             iam.allow(["events:PutEvents"], self.bus.arn),
             iam.allow(["kms:GenerateDataKey"], key), *self.idempotency.statements],
            {"ACCOUNTS_TABLE": self.accounts.name, "PAYMENTS_TABLE": self.payments.name,
             "EVENT_BUS_NAME": self.bus.name, **self.idempotency.environment})
        self.profile = function(
            "profile", "cache_profile", "Profiles, cache-aside over DAX and DynamoDB",
            [iam.allow(["dynamodb:GetItem"], self.profiles.arn),
             iam.allow(["dax:GetItem"], self.dax_cluster.arn)],
            {"PROFILES_TABLE": self.profiles.name, "DAX_ENDPOINT": self.dax_endpoint,
             "PROFILE_TTL_SECONDS": str(settings.profile_ttl_seconds)})
        refresh = settings.invalidation == "refresh"
        self.manager = function(
            "manager", "cache_manager", f"Cache manager: {settings.invalidation}s changed keys",
            [iam.allow(["dynamodb:GetItem"], self.accounts.arn, self.profiles.arn)]
            if refresh else [],
            {"CACHE_MODE": settings.invalidation, "ACCOUNTS_TABLE": self.accounts.name,
             "PROFILES_TABLE": self.profiles.name,
             "BILLING_TTL_SECONDS": str(settings.billing_ttl_seconds),
             "PROFILE_TTL_SECONDS": str(settings.profile_ttl_seconds)}, invoked_async=True)

    # --- events ---------------------------------------------------------------------------

    def _invalidation(self, name: str, defaults: Defaults, key: pulumi.Input[str],
                      child: pulumi.ResourceOptions) -> None:
        self.rule = aws.cloudwatch.EventRule(
            f"{name}-changes", event_bus_name=self.bus.name,
            description="Changes to cached objects, for the cache manager",
            event_pattern=json.dumps(EVENT_PATTERN), state="ENABLED", opts=child)
        undelivered = Queue(f"{name}-undelivered", QueueArgs(
            allow_send_from=[("events.amazonaws.com", self.rule.arn)], kms_key_arn=None),
            defaults, child)
        permission = aws.lambda_.Permission(
            f"{name}-manager-from-events", action="lambda:InvokeFunction",
            function=self.manager.target_arn, principal="events.amazonaws.com",
            source_arn=self.rule.arn, opts=child)
        aws.cloudwatch.EventTarget(
            f"{name}-manager", rule=self.rule.name, event_bus_name=self.bus.name,
            arn=self.manager.target_arn,
            retry_policy={"maximum_event_age_in_seconds": 3600, "maximum_retry_attempts": 20},
            dead_letter_config={"arn": undelivered.arn},
            opts=pulumi.ResourceOptions(parent=self, depends_on=[permission]))

    def _stream(self, name: str, defaults: Defaults, key: pulumi.Input[str],
                child: pulumi.ResourceOptions) -> None:
        failures = Queue(f"{name}-refresher-failures", QueueArgs(kms_key_arn=key), defaults,
                         child)
        stream = self.profiles.stream_arn
        self.refresher = Function(f"{name}-refresher", FunctionArgs(
            code="profile_refresher", libraries=[LIBRARY], memory_size=256, timeout=30,
            service_name=name, description="Publishes profile_changed for each profile change",
            environment={"EVENT_BUS_NAME": self.bus.name}, kms_key_arn=key,
            reserved_concurrency=self.reserved_concurrency(defaults, "refresher"),
            statements=[
                iam.allow(["events:PutEvents"], self.bus.arn),
                iam.allow(["dynamodb:DescribeStream", "dynamodb:GetRecords",
                           "dynamodb:GetShardIterator"], stream),
                iam.allow(["dynamodb:ListStreams"],
                          pulumi.Output.concat(self.profiles.arn, "/stream/*")),
                iam.allow(["sqs:SendMessage"], failures.arn),
                iam.allow(["kms:GenerateDataKey"], key)]), defaults, child)
        self.stream_mapping = aws.lambda_.EventSourceMapping(
            f"{name}-profiles-stream", event_source_arn=stream,
            function_name=self.refresher.arn, starting_position="LATEST",
            batch_size=STREAM_BATCH_SIZE, maximum_batching_window_in_seconds=0,
            bisect_batch_on_function_error=True, maximum_retry_attempts=STREAM_RETRIES,
            maximum_record_age_in_seconds=STREAM_MAX_RECORD_AGE_SECONDS,
            parallelization_factor=1, function_response_types=["ReportBatchItemFailures"],
            destination_config={"on_failure": {"destination_arn": failures.arn}}, enabled=True,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.refresher]))
