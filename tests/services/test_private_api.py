"""The private API under mocks: the resource policy that fences it to its VPC endpoints, the
execute-api endpoint and its security group, the on-premises prefix list, the inbound resolver
and its query logs, what the network team gets back, and config errors."""

from __future__ import annotations

import copy
import ipaddress
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from pydantic import TypeAdapter

from components import config, services
from components.services.private_api import PrivateApi, PrivateApiSettings, _ips
from tests.support import ACCOUNT, DEV, PROD, REGION, json_input, run_service, statements
from tools.mock_runtime import (
    StackRun,
    config_from_mapping,
    load_stack_file,
    reveal,
    run_program,
    run_stack,
)
from tools.verdicts import evaluate, load_config

KEY = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/00000000-0000-0000-0000-000000000001"
ENVIRONMENT = {"vpc_id": "vpc-0a1b2c3d", "vpc_cidr": "10.10.0.0/16",
               "private_subnet_ids": ["subnet-a", "subnet-b", "subnet-c"],
               "service_security_group_id": "sg-services", "kms_key_arn": KEY}
THIS_API = f"arn:aws:execute-api:{REGION}:{ACCOUNT}:*"
REUSED = "vpce-0123456789abcdef0"
INGRESS = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
ENDPOINT = "aws:ec2/vpcEndpoint:VpcEndpoint"
SECURITY_GROUP = "aws:ec2/securityGroup:SecurityGroup"
RESOLVER = "aws:route53/resolverEndpoint:ResolverEndpoint"


def settings(**values: Any) -> PrivateApiSettings:
    return TypeAdapter(PrivateApiSettings).validate_python(values)


def build(values: tuple[tuple[str, Any], ...] = (), defaults: Any = DEV) -> StackRun:
    return run_service(lambda context, opts: PrivateApi(
        "privateApi", settings(**dict(values)), context, opts),
        defaults=defaults, environment=ENVIRONMENT)


@cache
def built(values: tuple[tuple[str, Any], ...] = (("stageName", "DemoStage"),)) -> StackRun:
    return build(values)


def endpoint_id(run: StackRun) -> str:
    return str(run.one(ENDPOINT).state["id"])


def rules_of(run: StackRun, group: str) -> list[Mapping[str, Any]]:
    group_id = run.one(SECURITY_GROUP, group).state["id"]
    return [rule.inputs for rule in run.of_type(INGRESS)
            if rule.inputs["securityGroupId"] == group_id]


def source(rule: Mapping[str, Any]) -> tuple[str, str, int, int]:
    """(protocol, source, from port, to port) of an ingress rule, its source by kind."""
    named = rule.get("prefixListId") or rule.get("referencedSecurityGroupId")
    assert named, rule
    return rule["ipProtocol"], named, rule["fromPort"], rule["toPort"]


# --- the resource policy -----------------------------------------------------------------------

def test_the_policy_allows_invoking_only_through_the_endpoint_and_denies_every_other_path() -> None:
    run = built()
    allow, deny = statements(run.one("aws:apigateway/restApi:RestApi"))
    fence = [endpoint_id(run)]
    assert allow == {
        "Sid": "InvokeThroughTheVpcEndpoints", "Effect": "Allow", "Principal": "*",
        "Action": "execute-api:Invoke", "Resource": f"{THIS_API}/DemoStage/GET/whoami",
        "Condition": {"StringEquals": {"aws:SourceVpce": fence}}}
    assert deny == {
        "Sid": "DenyEveryOtherPath", "Effect": "Deny", "Principal": "*",
        "Action": "execute-api:Invoke", "Resource": f"{THIS_API}/*",
        "Condition": {"StringNotEquals": {"aws:SourceVpce": fence}}}


def test_the_api_is_private_to_the_endpoint_it_is_fenced_to() -> None:
    run = built()
    api = run.one("aws:apigateway/restApi:RestApi").inputs
    assert api["endpointConfiguration"] == {"types": "PRIVATE",
                                            "vpcEndpointIds": [endpoint_id(run)]}


def test_a_changed_policy_redeploys_the_stage() -> None:
    run = built()
    triggers = run.one("aws:apigateway/deployment:Deployment").inputs["triggers"]
    assert triggers["policy"] == reveal(run.one("aws:apigateway/restApi:RestApi").inputs["policy"])
    reused = build((("vpcEndpointIds", [REUSED]), ("stageName", "DemoStage")))
    other = reused.one("aws:apigateway/deployment:Deployment").inputs["triggers"]
    assert other["policy"] != triggers["policy"]
    assert other["routes"] == triggers["routes"]


def test_reused_endpoints_are_fenced_in_and_none_is_created() -> None:
    run = build((("vpcEndpointIds", [REUSED, "vpce-0fedcba9876543210"]),))
    assert run.of_type(ENDPOINT) == []
    assert [g.name for g in run.of_type(SECURITY_GROUP)] == ["privateApi-resolver"]
    allow, deny = statements(run.one("aws:apigateway/restApi:RestApi"))
    fence = sorted([REUSED, "vpce-0fedcba9876543210"])
    assert allow["Condition"] == {"StringEquals": {"aws:SourceVpce": fence}}
    assert deny["Condition"] == {"StringNotEquals": {"aws:SourceVpce": fence}}
    assert allow["Resource"] == f"{THIS_API}/dev/GET/whoami"  # the stack's stage by default
    assert reveal(run.outputs["exports"])["vpcEndpointIds"] == [REUSED, "vpce-0fedcba9876543210"]


# --- the API -----------------------------------------------------------------------------------

def test_whoami_is_signed_and_proxied_to_its_function() -> None:
    run = built()
    method = run.one("aws:apigateway/method:Method", "privateApi-whoami").inputs
    assert (method["httpMethod"], method["authorization"], method["apiKeyRequired"]) == (
        "GET", "AWS_IAM", False)
    integration = run.one("aws:apigateway/integration:Integration", "privateApi-whoami").inputs
    function = run.one("aws:lambda/function:Function", "privateApi-whoami-function")
    assert integration["type"] == "AWS_PROXY"
    assert integration["uri"] == function.state["invokeArn"]
    permission = run.one("aws:lambda/permission:Permission", "privateApi-invoke-whoami").inputs
    api_id = run.one("aws:apigateway/restApi:RestApi").state["id"]
    assert permission["sourceArn"] == (f"arn:aws:execute-api:{REGION}:{ACCOUNT}:{api_id}"
                                       "/*/GET/whoami")
    assert function.inputs["handler"] == "app.handler"


def test_the_stage_is_throttled_logged_and_encrypted_with_the_environment_key() -> None:
    run = build((("throttlingRateLimit", 20), ("throttlingBurstLimit", 40)))
    stage = run.one("aws:apigateway/stage:Stage").inputs
    assert stage["stageName"] == "dev"
    settings_ = run.one("aws:apigateway/methodSettings:MethodSettings").inputs["settings"]
    assert (settings_["throttlingRateLimit"], settings_["throttlingBurstLimit"]) == (20, 40)
    assert run.one("aws:cloudwatch/logGroup:LogGroup",
                   "privateApi-access-logs").inputs["kmsKeyId"] == KEY


# --- the endpoint and the prefix list ----------------------------------------------------------

def test_the_endpoint_serves_execute_api_with_private_dns_in_two_zones() -> None:
    run = built()
    endpoint = run.one(ENDPOINT).inputs
    group = run.one(SECURITY_GROUP, "privateApi-endpoint").state["id"]
    assert endpoint == {**endpoint, "vpcId": "vpc-0a1b2c3d",
                        "serviceName": f"com.amazonaws.{REGION}.execute-api",
                        "vpcEndpointType": "Interface", "privateDnsEnabled": True,
                        "ipAddressType": "ipv4", "subnetIds": ["subnet-a", "subnet-b"],
                        "securityGroupIds": [group]}
    assert "policy" not in endpoint  # AWS's default: it carries every API call of the VPC


def test_the_endpoint_takes_https_from_the_prefix_list_and_the_services_group_only() -> None:
    run = built()
    prefix_list = run.one("aws:ec2/managedPrefixList:ManagedPrefixList").state["id"]
    assert sorted(map(source, rules_of(run, "privateApi-endpoint"))) == sorted([
        ("tcp", prefix_list, 443, 443), ("tcp", "sg-services", 443, 443)])


def test_the_prefix_list_holds_the_on_premises_ranges() -> None:
    sample = built().one("aws:ec2/managedPrefixList:ManagedPrefixList").inputs
    assert (sample["addressFamily"], sample["maxEntries"]) == ("IPv4", 10)
    assert [entry["cidr"] for entry in sample["entries"]] == ["172.31.0.0/16"]
    run = build((("onPremisesCidrs", ["192.168.0.0/16", "10.200.0.0/20"]),
                 ("prefixListMaxEntries", 5)))
    chosen = run.one("aws:ec2/managedPrefixList:ManagedPrefixList").inputs
    assert [entry["cidr"] for entry in chosen["entries"]] == ["192.168.0.0/16", "10.200.0.0/20"]
    assert chosen["maxEntries"] == 5


def test_no_ingress_rule_is_open_to_an_address_range() -> None:
    run = built()
    rules = [rule.inputs for rule in run.of_type(INGRESS)]
    assert len(rules) == 4
    for rule in rules:
        assert not {"cidrIpv4", "cidrIpv6"} & set(rule), rule
        assert bool(rule.get("prefixListId")) != bool(rule.get("referencedSecurityGroupId"))
    for group in run.of_type(SECURITY_GROUP):
        assert not group.inputs.get("ingress")
        assert not group.inputs.get("egress")
        assert group.inputs["vpcId"] == "vpc-0a1b2c3d"


# --- the inbound resolver ----------------------------------------------------------------------

def test_the_resolver_is_inbound_in_two_zones_and_takes_dns_from_the_prefix_list_only() -> None:
    run = built()
    resolver = run.one(RESOLVER).inputs
    group = run.one(SECURITY_GROUP, "privateApi-resolver").state["id"]
    assert resolver == {**resolver, "direction": "INBOUND", "resolverEndpointType": "IPV4",
                        "protocols": ["Do53"], "securityGroupIds": [group],
                        "ipAddresses": [{"subnetId": "subnet-a"}, {"subnetId": "subnet-b"}]}
    prefix_list = run.one("aws:ec2/managedPrefixList:ManagedPrefixList").state["id"]
    assert sorted(map(source, rules_of(run, "privateApi-resolver"))) == [
        ("tcp", prefix_list, 53, 53), ("udp", prefix_list, 53, 53)]


def test_three_zones_use_three_subnets_and_more_than_the_environment_has_fail() -> None:
    run = build((("zones", 3),))
    assert len(run.one(RESOLVER).inputs["ipAddresses"]) == 3
    assert run.one(ENDPOINT).inputs["subnetIds"] == ["subnet-a", "subnet-b", "subnet-c"]
    with pytest.raises(Exception, match=r"zones: 4 zones asked for, but the environment has 3"):
        build((("zones", 4),))


def test_dns_queries_are_logged_for_the_vpc_with_the_stage_retention_encrypted() -> None:
    for defaults, retention in ((DEV, 14), (PROD, 365)):
        run = build(defaults=defaults)
        group = run.one("aws:cloudwatch/logGroup:LogGroup", "privateApi-dns-queries")
        assert group.inputs["retentionInDays"] == retention
        assert group.inputs["kmsKeyId"] == KEY
        assert group.inputs["namePrefix"].startswith("/aws/vendedlogs/route53resolver/")
        logging = run.one("aws:route53/resolverQueryLogConfig:ResolverQueryLogConfig")
        assert logging.inputs["destinationArn"] == group.state["arn"]
        association = run.one("aws:route53/resolverQueryLogConfigAssociation:"
                              "ResolverQueryLogConfigAssociation").inputs
        assert association == {"resolverQueryLogConfigId": logging.state["id"],
                               "resourceId": "vpc-0a1b2c3d"}


# --- exports -----------------------------------------------------------------------------------

def test_the_exports_are_what_the_network_team_configures_and_calls() -> None:
    run = built()
    exports = reveal(run.outputs["exports"])
    api_id = run.one("aws:apigateway/restApi:RestApi").state["id"]
    host = f"{api_id}.execute-api.{REGION}.amazonaws.com"
    assert exports == {
        # The mocks give no addresses: Resolver picks them (see the next test).
        "resolverIps": [],
        "resolverEndpointId": run.one(RESOLVER).state["id"],
        "privateDnsName": host,
        "invokeUrl": f"https://{host}/DemoStage/whoami",
        "vpcEndpointIds": [endpoint_id(run)],
        "prefixListId": run.one("aws:ec2/managedPrefixList:ManagedPrefixList").state["id"],
        "queryLogGroupName": run.one("aws:cloudwatch/logGroup:LogGroup",
                                     "privateApi-dns-queries").state["name"],
    }


def test_the_resolver_ips_are_read_in_zone_order_from_what_resolver_assigned() -> None:
    assert _ips([{"subnetId": "subnet-a", "ip": "10.10.32.10", "ipId": "rni-1"},
                 {"subnetId": "subnet-b", "ip": "10.10.48.10", "ipId": "rni-2"}]) == [
        "10.10.32.10", "10.10.48.10"]
    assert _ips([{"subnetId": "subnet-a"}]) == []


# --- settings ----------------------------------------------------------------------------------

def test_the_defaults_are_the_samples() -> None:
    default = settings()
    assert default.on_premises_cidrs == (ipaddress.IPv4Network("172.31.0.0/16"),)
    assert (default.zones, default.vpc_endpoint_ids, default.stage_name) == (2, (), None)


def problems(section: dict[str, Any]) -> list[str]:
    """What the stack's loader says about a ``services.privateApi`` section."""
    dev = {**load_stack_file("dev")["config"], "blueprints:services": {"privateApi": section}}

    def program() -> None:
        config.load(services={"privateApi": PrivateApiSettings})

    with pytest.raises(config.ConfigError) as raised:
        run_program(program, config=config_from_mapping(dev))
    return sorted(raised.value.problems)


KEY_PREFIX = "blueprints:services.privateApi"


@pytest.mark.parametrize(("section", "expected"), [
    ({"onPremisesCidrs": ["172.31.0.1/16"]},
     f"{KEY_PREFIX}.onPremisesCidrs[0]: 172.31.0.1/16 has host bits set; did you mean "
     "172.31.0.0/16?"),
    ({"onPremisesCidrs": ["10.0.0.0/8", "on-premises"]},
     f"{KEY_PREFIX}.onPremisesCidrs[1]: 'on-premises' is not an IPv4 network in CIDR notation "
     "(such as 10.0.0.0/16)"),
    ({"onPremisesCidrs": ["0.0.0.0/0"]},
     f"{KEY_PREFIX}.onPremisesCidrs[0]: 0.0.0.0/0 is every address; name the on-premises "
     "ranges"),
    ({"onPremisesCidrs": ["10.0.0.0/8", "10.1.0.0/16"]},
     f"{KEY_PREFIX}.onPremisesCidrs[1]: 10.1.0.0/16 overlaps onPremisesCidrs[0] (10.0.0.0/8); "
     "list each range once"),
    ({"onPremisesCidrs": ["10.0.0.0/16", "10.1.0.0/16"], "prefixListMaxEntries": 1},
     f"{KEY_PREFIX}.prefixListMaxEntries: 1 is fewer than the 2 onPremisesCidrs; raise it"),
    ({"onPremisesCidrs": []}, f"{KEY_PREFIX}.onPremisesCidrs: needs at least 1 entry"),
    ({"vpcEndpointIds": ["vpc-0123456789abcdef0"]},
     f"{KEY_PREFIX}.vpcEndpointIds[0]: 'vpc-0123456789abcdef0' is not a VPC endpoint id "
     "(vpce- and 8 or 17 hexadecimal digits)"),
    ({"zones": 1}, f"{KEY_PREFIX}.zones: must be from 2 to 6, not 1"),
    ({"stageName": "Demo Stage"},
     f"{KEY_PREFIX}.stageName: 'Demo Stage' is not a stage name (1 to 128 letters, digits, - "
     "or _)"),
    ({"onPremisesCidr": ["10.0.0.0/8"]},
     f"{KEY_PREFIX}.onPremisesCidr: is not a known setting; did you mean 'onPremisesCidrs'? "
     "known settings: onPremisesCidrs, prefixListMaxEntries, vpcEndpointIds, zones, "
     "stageName, throttlingRateLimit, throttlingBurstLimit"),
], ids=["host bits", "not a network", "everywhere", "overlap", "list too small",
        "no range", "not an endpoint", "one zone", "stage name", "misspelt"])
def test_a_bad_setting_is_named_with_what_is_allowed(section: dict[str, Any],
                                                     expected: str) -> None:
    assert problems(section) == [expected]


# --- in a stack --------------------------------------------------------------------------------

def test_in_the_dev_stack_it_draws_no_guardrail_finding(monkeypatch: pytest.MonkeyPatch) -> None:
    """With the environment the dev stack builds, tags and all (the catalog entry is added here
    as ``components/services/__init__.py`` registers it)."""
    entry = services.CatalogEntry(PrivateApiSettings, PrivateApi)
    monkeypatch.setitem(services.CATALOG, "privateApi", entry)
    dev = copy.deepcopy(load_stack_file("dev")["config"]["blueprints:services"])
    run = run_stack("dev", config_overrides={"blueprints:services": {
        **dev, "privateApi": {"stageName": "DemoStage"}}})
    pack = load_config(Path(__file__).resolve().parents[2] / "policy" / "blueprints.json")
    verdicts = evaluate(run, pack)
    assert [f"{v.policy}: {v.resource_name}: {v.message}" for v in verdicts if v.mandatory] == []
    assert [v.policy for v in verdicts if (v.resource_name or "").startswith("privateApi")] == []
    endpoint = run.one(ENDPOINT, "privateApi-execute-api").inputs
    vpc = run.one("aws:ec2/vpc:Vpc").state["id"]
    assert endpoint["vpcId"] == vpc
    # The first two of the environment's private subnets, in the contract's order.
    assert endpoint["subnetIds"] == run.outputs["privateSubnetIds"][:2]
    assert json_input(run.one("aws:apigateway/restApi:RestApi", "privateApi-api"),
                      "policy")["Statement"][0]["Condition"] == {
        "StringEquals": {"aws:SourceVpce": [run.one(ENDPOINT, "privateApi-execute-api")
                                            .state["id"]]}}
