"""The private API fence and the public ingress rule on what fixtures cannot show: values not
known yet (a preview), and the edges of their reading."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pulumi_policy import (
    PolicyCustomTimeouts,
    PolicyResource,
    PolicyResourceOptions,
    ResourceValidationArgs,
    StackValidationArgs,
)
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE, unknown_checking_proxy

from policy.guardrails.apigateway import REST_API, REST_API_POLICY, apigateway_private_api_fenced
from policy.guardrails.network import (
    INGRESS_RULE,
    SECURITY_GROUP,
    SECURITY_GROUP_RULE,
    security_group_no_public_ingress,
)

ENDPOINT = "vpce-0123456789abcdef0"
FENCE = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": "*", "Action": "execute-api:Invoke",
     "Resource": "execute-api:/*", "Condition": {"StringEquals": {"aws:SourceVpce": ENDPOINT}}},
    {"Effect": "Deny", "Principal": "*", "Action": "execute-api:*",
     "Resource": "arn:aws:execute-api:eu-west-1:111122223333:*/*",
     "Condition": {"StringNotEquals": {"aws:sourcevpce": [ENDPOINT]}}}]})


def _options() -> PolicyResourceOptions:
    return PolicyResourceOptions(protect=False, ignore_changes=[], delete_before_replace=None,
                                 aliases=[], custom_timeouts=PolicyCustomTimeouts(0, 0, 0),
                                 additional_secret_outputs=[])


def _urn(type_: str, name: str) -> str:
    return f"urn:pulumi:test::p::{type_}::{name}"


def _resource(type_: str, name: str, props: dict[str, Any]) -> PolicyResource:
    return PolicyResource(type_, unknown_checking_proxy(props), _urn(type_, name), name,
                          _options(), None, None, [], {})


def fenced(*resources: PolicyResource,
           links: dict[str, dict[str, list[str]]] | None = None) -> list[str]:
    """The resources the private API rule reports (``links``: name -> prop -> names)."""
    by_name = {r.name: r for r in resources}
    for name, props in (links or {}).items():
        by_name[name].property_dependencies = {
            prop: [by_name[n] for n in names] for prop, names in props.items()}
    reported: list[str] = []
    apigateway_private_api_fenced.validate(
        StackValidationArgs(list(resources), {}),
        lambda message, urn=None: reported.append(message.split(":")[0]))
    return reported


def private_api(name: str = "api", **props: Any) -> PolicyResource:
    return _resource(REST_API, name, {"endpointConfiguration": {"types": ["PRIVATE"]},
                                      "id": f"{name}-id", **props})


def test_a_fenced_policy_passes_whatever_the_case_of_its_key_and_the_form_of_its_arn() -> None:
    assert fenced(private_api(policy=FENCE)) == []


@pytest.mark.parametrize("props", [
    {"policy": UNKNOWN_STRING_VALUE},
    {"policy": json.dumps({"Statement": [{"Effect": "Allow", "Principal": "*",
                                          "Action": "execute-api:Invoke",
                                          "Resource": UNKNOWN_STRING_VALUE}]})},
    {"endpointConfiguration": UNKNOWN_STRING_VALUE},
    {"endpointConfiguration": {"types": UNKNOWN_STRING_VALUE}},
], ids=["policy", "part of the policy", "endpoint configuration", "endpoint types"])
def test_a_private_api_whose_policy_is_not_known_yet_is_not_judged(props: dict[str, Any]) -> None:
    assert fenced(private_api(**props)) == []


def test_a_rest_api_policy_that_may_be_the_apis_keeps_the_rule_quiet_until_it_is_known() -> None:
    attached = _resource(REST_API_POLICY, "attached",
                         {"restApiId": UNKNOWN_STRING_VALUE, "policy": FENCE})
    assert fenced(private_api(), attached) == []


def test_a_rest_api_policy_is_placed_by_its_link_or_by_the_known_id() -> None:
    open_policy = json.dumps({"Statement": [{"Effect": "Allow", "Principal": "*",
                                             "Action": "execute-api:Invoke",
                                             "Resource": "execute-api:/*"}]})
    linked = _resource(REST_API_POLICY, "linked", {"restApiId": UNKNOWN_STRING_VALUE,
                                                   "policy": open_policy})
    by_id = _resource(REST_API_POLICY, "by-id", {"restApiId": "other-id", "policy": FENCE})
    reported = fenced(private_api(), private_api("other"), linked, by_id,
                      links={"linked": {"restApiId": ["api"]}})
    assert set(reported) == {"linked"}


def test_the_deny_must_cover_the_whole_api_and_every_principal() -> None:
    document = json.loads(FENCE)
    document["Statement"][1]["Resource"] = "execute-api:/live/GET/*"
    assert fenced(private_api(policy=json.dumps(document))) == ["api"]
    document = json.loads(FENCE)
    document["Statement"][1]["Principal"] = {"AWS": "arn:aws:iam::111122223333:root"}
    assert fenced(private_api(policy=json.dumps(document))) == ["api"]


def test_a_wildcard_endpoint_or_an_if_exists_allow_fences_nothing() -> None:
    for condition in ({"StringLike": {"aws:SourceVpce": "vpce-*"}},
                      {"StringEqualsIfExists": {"aws:SourceVpce": ENDPOINT}},
                      {"ForAllValues:StringEquals": {"aws:SourceVpce": ENDPOINT}}):
        document = json.loads(FENCE)
        document["Statement"][0]["Condition"] = condition
        assert fenced(private_api(policy=json.dumps(document))) == ["api"], condition


def ingress(type_: str, props: dict[str, Any], config: dict[str, Any] | None = None) -> list[str]:
    reported: list[str] = []
    args = ResourceValidationArgs(type_, unknown_checking_proxy(props), _urn(type_, "sg"), "sg",
                                  _options(), None, config or {})
    security_group_no_public_ingress.validate(args, lambda m, u=None: reported.append(m))
    return reported


@pytest.mark.parametrize("props", [
    {"cidrIpv4": UNKNOWN_STRING_VALUE, "ipProtocol": "tcp", "fromPort": 22, "toPort": 22},
    {"cidrIpv4": "0.0.0.0/0", "ipProtocol": UNKNOWN_STRING_VALUE},
    {"cidrIpv4": "0.0.0.0/0", "ipProtocol": "tcp", "fromPort": UNKNOWN_STRING_VALUE,
     "toPort": 22},
], ids=["source", "protocol", "port"])
def test_an_ingress_not_known_yet_is_not_judged(props: dict[str, Any]) -> None:
    assert ingress(INGRESS_RULE, props) == []


def test_a_group_whose_ingress_is_not_known_yet_is_not_judged() -> None:
    assert ingress(SECURITY_GROUP, {"ingress": UNKNOWN_STRING_VALUE}) == []
    assert ingress(SECURITY_GROUP, {"ingress": [{"protocol": "tcp", "fromPort": 22,
                                                 "toPort": 22,
                                                 "cidrBlocks": [UNKNOWN_STRING_VALUE]}]}) == []


def test_allowed_ports_cover_a_range_only_when_they_cover_every_port_of_it() -> None:
    config = {"allowedPublicPorts": [443, 8443]}
    https = {"cidrIpv6": "::/0", "ipProtocol": "tcp", "fromPort": 443, "toPort": 443}
    assert ingress(INGRESS_RULE, https, config) == []
    assert ingress(INGRESS_RULE, {**https, "toPort": 444}, config) != []
    assert ingress(INGRESS_RULE, {**https, "ipProtocol": "-1"}, config) != []
    assert ingress(INGRESS_RULE, {**https, "ipProtocol": "6"}, config) == []


def test_any_zero_length_prefix_is_anywhere_and_other_blocks_are_not() -> None:
    rule = {"type": "ingress", "protocol": "tcp", "fromPort": 22, "toPort": 22}
    assert ingress(SECURITY_GROUP_RULE, {**rule, "ipv6CidrBlocks": ["0::/0"]}) != []
    assert ingress(SECURITY_GROUP_RULE, {**rule, "cidrBlocks": ["10.0.0.0/8", "1.0.0.0/1"]}) == []
    assert ingress(SECURITY_GROUP_RULE, {**rule, "type": "egress",
                                         "cidrBlocks": ["0.0.0.0/0"]}) == []
