"""A private REST API that on-premises clients reach over Direct Connect or VPN, by its own name.

The catalog's post 18 (``../shared/CATALOG.md``): an API that never faces the internet, called
from the corporate network through an interface VPC endpoint, with a Route 53 Resolver inbound
endpoint so that on-premises DNS can resolve the API's name to that endpoint. What it builds,
in the environment's VPC (``EnvironmentContract``: the VPC, its private subnets, the services
security group, the KMS key):

- **The on-premises prefix list** (``aws.ec2.ManagedPrefixList``): the ranges of
  ``onPremisesCidrs`` (the post's ``172.31.0.0/16`` by default), room for
  ``prefixListMaxEntries``. Every rule below names it, so the network team changes who may
  come in by editing one list.
- **The ``execute-api`` interface endpoint** (``com.amazonaws.<region>.execute-api``), private
  DNS on, one interface in each of the first ``zones`` private subnets, and its own security
  group: TCP 443 from the prefix list and from the services security group (in-VPC callers
  test the same path), nothing else. With ``vpcEndpointIds`` an existing endpoint is used
  instead (the platform's, shared by several private APIs) and none is created.
- **The PRIVATE REST API** (``RestApi``), its resource policy built by
  ``iam.private_api_policy``: ``execute-api:Invoke`` allowed to ``GET /whoami`` of the stage
  only when ``aws:SourceVpce`` is one of the endpoints, and denied on the whole API to every
  other path. ``GET /whoami`` (``AWS_IAM``) is answered by the ``private_api_whoami``
  function: the caller's address, endpoint, VPC, identity and request id.
- **The stage** (``RestStage``): the stage name of ``stageName`` (the stack's stage unless
  set), JSON access logs, execution logs, X-Ray and ``*/*`` throttling from config, logs
  encrypted with the environment key. A changed policy redeploys it (``redeploy_triggers``):
  API Gateway applies a policy only with the next deployment.
- **The Route 53 Resolver inbound endpoint**: one address in each of the first ``zones``
  private subnets (two zones at least, as Resolver requires), Do53 over IPv4, and a security
  group that lets in TCP and UDP 53 from the prefix list only. **Query logging** for the VPC
  (``ResolverQueryLogConfig`` and its association) to a log group with the stage's retention,
  encrypted with the environment key: it shows every name the on-premises resolvers asked for
  and what they were told.

Exports for the network team: the resolver's addresses (``resolverIps``, where the on-premises
DNS servers forward), the API's private DNS name (``privateDnsName``), the invoke URL of
``/whoami``, the endpoint id(s), the prefix list id and the query log group.

**What private DNS on the endpoint changes for the whole VPC.** The endpoint's private DNS
answers every ``*.execute-api.<region>.amazonaws.com`` name inside the VPC with the endpoint's
addresses, and an interface endpoint only reaches private APIs: from the VPC, the default
``execute-api`` URL of any *public* (regional or edge) API then answers 403 ``Forbidden``.
Public APIs stay reachable through their custom domain names. In a VPC where something calls a
public API's default URL, reuse an endpoint the platform manages (``vpcEndpointIds``) or give
those callers custom domains first. The on-premises side has the same choice: forwarding the
whole ``execute-api.<region>.amazonaws.com`` domain to the resolver sends every API call that
way; forwarding only the private API's own name leaves public APIs alone.

Trade-offs left by design: the security groups name their sources, so connections are tracked
and AWS puts an inbound resolver address at about 1,500 queries per second; a resolver address
and an endpoint interface are paid per zone per hour, so ``zones`` stays at two unless a third
zone must survive. The endpoint keeps AWS's default endpoint policy (full access): with private
DNS it carries every API call of the VPC, and the API's own resource policy is what fences it.
"""

from __future__ import annotations

import functools
import hashlib
import ipaddress
import json
from collections.abc import Sequence
from typing import Annotated, Any

import pulumi
import pulumi_aws as aws
from pydantic import AfterValidator, Field, StringConstraints, model_validator
from pydantic import dataclasses as pydantic_dataclasses

from components.config import SETTINGS, Meaning, SettingsError
from components.foundation import iam
from components.foundation.function import Function, FunctionArgs
from components.foundation.logs import log_group
from components.foundation.rest_api import (
    EndpointType,
    RestApi,
    RestApiArgs,
    RestStage,
    RestStageArgs,
)
from components.foundation.validation import InvalidArgs
from components.services.base import ServiceComponent, ServiceContext

CODE = "private_api_whoami"
PATH = "whoami"
METHOD = "GET"
HTTPS = 443
DNS = 53
# The sample's on-premises range (the post's prefix list default).
SAMPLE_ON_PREMISES = "172.31.0.0/16"
# Route 53 Resolver wants two addresses at least, and takes up to six per endpoint.
MIN_ZONES, MAX_ZONES = 2, 6
# A managed prefix list holds up to 1,000 entries; a security group rule that names it counts
# as that many rules against the group's quota (60 by default), so keep it small.
MAX_PREFIX_LIST_ENTRIES = 1000


def _not_everywhere(network: ipaddress.IPv4Network) -> ipaddress.IPv4Network:
    if network.prefixlen == 0:
        raise ValueError(f"{network} is every address; name the on-premises ranges")
    return network


OnPremisesCidr = Annotated[ipaddress.IPv4Network, AfterValidator(_not_everywhere)]
VpcEndpointId = Annotated[str, StringConstraints(pattern=iam.VPC_ENDPOINT_ID.pattern),
                          Meaning("a VPC endpoint id (vpce- and 8 or 17 hexadecimal digits)")]
StageName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{1,128}$"),
                      Meaning("a stage name (1 to 128 letters, digits, - or _)")]


@pydantic_dataclasses.dataclass(frozen=True, config=SETTINGS)
class PrivateApiSettings:
    """The ``services.privateApi`` section of a stack file."""

    on_premises_cidrs: Annotated[tuple[OnPremisesCidr, ...], Field(min_length=1)] = (
        ipaddress.IPv4Network(SAMPLE_ON_PREMISES),)
    prefix_list_max_entries: Annotated[int, Field(ge=1, le=MAX_PREFIX_LIST_ENTRIES)] = 10
    vpc_endpoint_ids: tuple[VpcEndpointId, ...] = ()
    zones: Annotated[int, Field(ge=MIN_ZONES, le=MAX_ZONES)] = MIN_ZONES
    stage_name: StageName | None = None
    throttling_rate_limit: Annotated[float, Field(gt=0, le=10_000)] = 50
    throttling_burst_limit: Annotated[int, Field(ge=1, le=5_000)] = 100

    @model_validator(mode="after")
    def _ranges_fit_the_list(self) -> PrivateApiSettings:
        problems: list[tuple[str, str]] = []
        for index, network in enumerate(self.on_premises_cidrs):
            earlier = next((i for i, other in enumerate(self.on_premises_cidrs[:index])
                            if other.overlaps(network)), None)
            if earlier is not None:
                problems.append((f"onPremisesCidrs[{index}]", (
                    f"{network} overlaps onPremisesCidrs[{earlier}] "
                    f"({self.on_premises_cidrs[earlier]}); list each range once")))
        if len(self.on_premises_cidrs) > self.prefix_list_max_entries:
            problems.append(("prefixListMaxEntries", (
                f"{self.prefix_list_max_entries} is fewer than the "
                f"{len(self.on_premises_cidrs)} onPremisesCidrs; raise it")))
        duplicates = sorted({i for i in self.vpc_endpoint_ids
                             if self.vpc_endpoint_ids.count(i) > 1})
        if duplicates:
            problems.append(("vpcEndpointIds", f"lists {', '.join(duplicates)} more than once"))
        if problems:
            raise SettingsError(problems)
        return self


def _first_zones(subnet_ids: Sequence[str], *, count: int, name: str) -> list[str]:
    """The first ``count`` private subnets, one per zone, as the environment lays them out."""
    ids = list(subnet_ids)
    if len(ids) < count:
        raise InvalidArgs(f"PrivateApi {name}", [
            f"zones: {count} zones asked for, but the environment has {len(ids)} private "
            f"subnets; lower services.{name}.zones or add zones to the environment"])
    return ids[:count]


def _resolver_addresses(
        subnet_ids: list[str]) -> list[aws.route53.ResolverEndpointIpAddressArgsDict]:
    """One address per subnet, which Resolver picks from the subnet's range."""
    return [{"subnet_id": subnet} for subnet in subnet_ids]


def _ips(addresses: Sequence[Any]) -> list[str]:
    """The addresses Resolver gave the endpoint, in zone order."""
    found = []
    for address in addresses or ():
        ip = address.get("ip") if isinstance(address, dict) else getattr(address, "ip", None)
        if ip:
            found.append(str(ip))
    return found


class PrivateApi(ServiceComponent):
    """A PRIVATE REST API reached from on premises: the execute-api endpoint, the resource
    policy that fences the API to it, the inbound resolver and its query logs."""

    prefix_list: aws.ec2.ManagedPrefixList
    endpoint: aws.ec2.VpcEndpoint | None
    endpoint_security_group: aws.ec2.SecurityGroup | None
    resolver: aws.route53.ResolverEndpoint
    resolver_security_group: aws.ec2.SecurityGroup
    query_logs: aws.cloudwatch.LogGroup

    def __init__(self, name: str, settings: PrivateApiSettings, context: ServiceContext,
                 opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("blueprints:services:PrivateApi", name, None, opts)
        defaults = context.defaults
        environment = context.environment
        child = pulumi.ResourceOptions(parent=self)
        subnets = environment.private_subnet_ids.apply(
            functools.partial(_first_zones, count=settings.zones, name=name))

        self.prefix_list = aws.ec2.ManagedPrefixList(
            f"{name}-on-premises", address_family="IPv4",
            max_entries=settings.prefix_list_max_entries,
            entries=[{"cidr": str(network), "description": "On-premises network"}
                     for network in settings.on_premises_cidrs],
            opts=child)

        endpoint_ids = self._endpoint(name, settings, context, subnets, child)
        api, stage = self._api(name, settings, context, endpoint_ids, child)
        self._resolver(name, settings, context, subnets, child)

        region = defaults.region
        private_dns_name = pulumi.Output.concat(api.api_id, f".execute-api.{region}.amazonaws.com")
        self.exports = {
            "resolverIps": self.resolver.ip_addresses.apply(_ips),
            "resolverEndpointId": self.resolver.id,
            "privateDnsName": private_dns_name,
            "invokeUrl": pulumi.Output.concat(stage.invoke_url, f"/{PATH}"),
            "vpcEndpointIds": pulumi.Output.all(*endpoint_ids),
            "prefixListId": self.prefix_list.id,
            "queryLogGroupName": self.query_logs.name,
        }
        self.register_outputs(self.exports)

    # --- the execute-api endpoint -------------------------------------------------------

    def _endpoint(self, name: str, settings: PrivateApiSettings, context: ServiceContext,
                  subnets: pulumi.Output[list[str]],
                  child: pulumi.ResourceOptions) -> list[pulumi.Input[str]]:
        """The interface endpoint and its security group, or the configured endpoints."""
        self.endpoint = self.endpoint_security_group = None
        if settings.vpc_endpoint_ids:
            return list(settings.vpc_endpoint_ids)
        environment = context.environment
        group = aws.ec2.SecurityGroup(
            f"{name}-endpoint", vpc_id=environment.vpc_id,
            description="execute-api endpoint: HTTPS from on premises and the VPC's services",
            opts=child)
        aws.vpc.SecurityGroupIngressRule(
            f"{name}-endpoint-from-on-premises", security_group_id=group.id,
            prefix_list_id=self.prefix_list.id, ip_protocol="tcp", from_port=HTTPS,
            to_port=HTTPS, description="On-premises clients call the private API",
            opts=child)
        aws.vpc.SecurityGroupIngressRule(
            f"{name}-endpoint-from-services", security_group_id=group.id,
            referenced_security_group_id=environment.service_security_group_id,
            ip_protocol="tcp", from_port=HTTPS, to_port=HTTPS,
            description="The VPC's services call (and test) the private API", opts=child)
        self.endpoint_security_group = group
        self.endpoint = aws.ec2.VpcEndpoint(
            f"{name}-execute-api", vpc_id=environment.vpc_id,
            service_name=f"com.amazonaws.{context.defaults.region}.execute-api",
            vpc_endpoint_type="Interface", private_dns_enabled=True, ip_address_type="ipv4",
            subnet_ids=subnets, security_group_ids=[group.id], opts=child)
        return [self.endpoint.id]

    # --- the API ------------------------------------------------------------------------

    def _api(self, name: str, settings: PrivateApiSettings, context: ServiceContext,
             endpoint_ids: list[pulumi.Input[str]],
             child: pulumi.ResourceOptions) -> tuple[RestApi, RestStage]:
        defaults = context.defaults
        stage_name = settings.stage_name or defaults.stage
        # The API's own policy cannot name the API's id, which does not exist yet: ``*`` in
        # the id's place names the API the policy is attached to (see iam.private_api_policy).
        this_api = (f"arn:{iam.partition(defaults.region)}:execute-api:{defaults.region}:"
                    f"{defaults.account_id}:*")
        policy = iam.private_api_policy(this_api, endpoint_ids,
                                        routes=[f"{stage_name}/{METHOD}/{PATH}"])
        backend = Function(f"{name}-whoami", FunctionArgs(
            reserved_concurrency=self.reserved_concurrency(defaults, "whoami"),
            code=CODE, memory_size=128, timeout=5, service_name=name,
            description="Answers who called the private API, and through which endpoint",
        ), defaults, child)
        api = RestApi(name, RestApiArgs(
            description="A private API reached from on premises through a VPC endpoint",
            endpoint_type=EndpointType.PRIVATE, vpc_endpoint_ids=endpoint_ids,
            policy=policy), defaults, child)
        resource = aws.apigateway.Resource(f"{name}-{PATH}", rest_api=api.api_id,
                                           parent_id=api.root_resource_id, path_part=PATH,
                                           opts=child)
        method = aws.apigateway.Method(
            f"{name}-{PATH}", rest_api=api.api_id, resource_id=resource.id, http_method=METHOD,
            authorization="AWS_IAM", api_key_required=False, opts=child)
        integration = aws.apigateway.Integration(
            f"{name}-{PATH}", rest_api=api.api_id, resource_id=resource.id,
            http_method=method.http_method, type="AWS_PROXY", integration_http_method="POST",
            uri=backend.invoke_arn, opts=child)
        aws.lambda_.Permission(
            f"{name}-invoke-{PATH}", action="lambda:InvokeFunction", function=backend.name,
            principal="apigateway.amazonaws.com",
            source_arn=pulumi.Output.concat(api.execution_arn, f"/*/{METHOD}/{PATH}"),
            opts=child)
        stage = RestStage(name, RestStageArgs(
            rest_api_id=api.api_id,
            stage_name=stage_name,
            # API Gateway applies a changed resource policy only with the next deployment.
            redeploy_triggers={"routes": _digest(METHOD, PATH, "AWS_IAM", "AWS_PROXY"),
                               "policy": policy, "api": api.redeploy_fingerprint},
            depends_on=[method, integration, *api.deployment_dependencies(),
                        *context.account_settings],
            throttling_rate_limit=settings.throttling_rate_limit,
            throttling_burst_limit=settings.throttling_burst_limit,
            log_kms_key_arn=context.environment.kms_key_arn), defaults, child)
        return api, stage

    # --- the inbound resolver -----------------------------------------------------------

    def _resolver(self, name: str, settings: PrivateApiSettings, context: ServiceContext,
                  subnets: pulumi.Output[list[str]], child: pulumi.ResourceOptions) -> None:
        environment = context.environment
        defaults = context.defaults
        group = aws.ec2.SecurityGroup(
            f"{name}-resolver", vpc_id=environment.vpc_id,
            description="Inbound resolver: DNS from on premises", opts=child)
        for protocol in ("tcp", "udp"):
            aws.vpc.SecurityGroupIngressRule(
                f"{name}-resolver-{protocol}-from-on-premises", security_group_id=group.id,
                prefix_list_id=self.prefix_list.id, ip_protocol=protocol, from_port=DNS,
                to_port=DNS, description=f"On-premises DNS servers forward queries ({protocol})",
                opts=child)
        self.resolver_security_group = group
        self.resolver = aws.route53.ResolverEndpoint(
            f"{name}-inbound", direction="INBOUND", resolver_endpoint_type="IPV4",
            protocols=["Do53"], security_group_ids=[group.id],
            ip_addresses=subnets.apply(_resolver_addresses), opts=child)

        # Resolver delivers to CloudWatch Logs as a vended log: a /aws/vendedlogs/ name keeps
        # the account's log resource policy from growing with every group.
        self.query_logs = log_group(
            f"{name}-dns-queries", defaults, kms_key_arn=environment.kms_key_arn,
            log_group_name_prefix=f"/aws/vendedlogs/route53resolver/blueprints-"
                                  f"{defaults.stage}-{name}-", opts=child)
        logging = aws.route53.ResolverQueryLogConfig(
            f"{name}-dns-queries", destination_arn=self.query_logs.arn, opts=child)
        aws.route53.ResolverQueryLogConfigAssociation(
            f"{name}-dns-queries", resolver_query_log_config_id=logging.id,
            resource_id=environment.vpc_id, opts=child)


def _digest(*parts: str) -> str:
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()[:16]
