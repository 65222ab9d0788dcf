"""The IAM helper: ordinary statements refuse wildcards and the wildcard principal in an Allow;
``private_api_policy`` admits that principal only fenced by the VPC endpoints."""

from __future__ import annotations

import json
from typing import Any

import pulumi
import pytest

from components.foundation import iam
from tests.support import ACCOUNT, REGION
from tools.mock_runtime import reveal, run_program

API = f"arn:aws:execute-api:{REGION}:{ACCOUNT}:a1b2c3d4e5"
THIS_API = f"arn:aws:execute-api:{REGION}:{ACCOUNT}:*"
ENDPOINT = "vpce-0123456789abcdef0"
OTHER_ENDPOINT = "vpce-0a1b2c3d"


def rendered(api: str, endpoints: list[str], *, outputs: bool = False,
             **options: Any) -> dict[str, Any]:
    """The policy document the helper makes, once its outputs are known; with ``outputs`` the
    endpoint ids are outputs, as another resource's ids are."""
    def program() -> None:
        ids: list[pulumi.Input[str]] = [pulumi.Output.from_input(endpoint) if outputs
                                        else endpoint for endpoint in endpoints]
        pulumi.export("policy", iam.private_api_policy(api, ids, **options))

    document: dict[str, Any] = json.loads(reveal(run_program(program).outputs["policy"]))
    return document


# --- private_api_policy ------------------------------------------------------------------------

def test_the_endpoints_may_invoke_and_every_other_path_is_denied() -> None:
    document = rendered(API, [ENDPOINT])
    assert document == {"Version": "2012-10-17", "Statement": [
        {"Sid": "InvokeThroughTheVpcEndpoints", "Effect": "Allow", "Principal": "*",
         "Action": "execute-api:Invoke", "Resource": f"{API}/*",
         "Condition": {"StringEquals": {"aws:SourceVpce": [ENDPOINT]}}},
        {"Sid": "DenyEveryOtherPath", "Effect": "Deny", "Principal": "*",
         "Action": "execute-api:Invoke", "Resource": f"{API}/*",
         "Condition": {"StringNotEquals": {"aws:SourceVpce": [ENDPOINT]}}},
    ]}


def test_routes_narrow_the_allow_and_the_deny_still_covers_the_whole_api() -> None:
    allow, deny = rendered(THIS_API, [OTHER_ENDPOINT, ENDPOINT],
                           routes=["DemoStage/GET/whoami", "DemoStage/POST/items/*"])["Statement"]
    assert allow["Resource"] == [f"{THIS_API}/DemoStage/GET/whoami",
                                 f"{THIS_API}/DemoStage/POST/items/*"]
    assert deny["Resource"] == f"{THIS_API}/*"
    fence = sorted([ENDPOINT, OTHER_ENDPOINT])
    assert allow["Condition"] == {"StringEquals": {"aws:SourceVpce": fence}}
    assert deny["Condition"] == {"StringNotEquals": {"aws:SourceVpce": fence}}


def test_endpoint_ids_that_are_outputs_are_checked_once_known() -> None:
    document = rendered(API, [ENDPOINT], outputs=True)
    assert document["Statement"][0]["Condition"]["StringEquals"] == {
        "aws:SourceVpce": [ENDPOINT]}
    with pytest.raises(Exception, match="'vpc-0123456789abcdef0' is not a VPC endpoint id"):
        rendered(API, ["vpc-0123456789abcdef0"], outputs=True)


def test_no_endpoint_no_policy() -> None:
    with pytest.raises(iam.PolicyError, match="at least one VPC endpoint id"):
        iam.private_api_policy(API, [])


@pytest.mark.parametrize("endpoint", ["vpc-0123456789abcdef0", "vpce-*", "*", "",
                                      "vpce-0123456789ABCDEF0"])
def test_only_vpc_endpoint_ids_fence_the_api(endpoint: str) -> None:
    with pytest.raises(iam.PolicyError, match="is not a VPC endpoint id"):
        iam.private_api_policy(API, [endpoint])


@pytest.mark.parametrize("api", [
    "*", f"arn:aws:execute-api:*:{ACCOUNT}:*", f"arn:aws:execute-api:{REGION}:*:*",
    f"{API}/*", f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:f", "execute-api:/*"])
def test_the_api_is_named_in_a_region_and_account(api: str) -> None:
    with pytest.raises(iam.PolicyError, match="is not an API's execute-api ARN"):
        iam.private_api_policy(api, [ENDPOINT])


@pytest.mark.parametrize("route", ["", "DemoStage/FETCH/x", "/DemoStage/GET", "a b/GET/x"])
def test_routes_are_stage_method_path(route: str) -> None:
    with pytest.raises(iam.PolicyError, match="routes"):
        iam.private_api_policy(API, [ENDPOINT], routes=[route])


# --- what fences a private API -----------------------------------------------------------------

def fenced(*statements: dict[str, Any]) -> list[str]:
    return iam.private_api_policy_problems({"Version": "2012-10-17",
                                            "Statement": list(statements)})


ALLOW = {"Effect": "Allow", "Principal": "*", "Action": "execute-api:Invoke",
         "Resource": f"{API}/*", "Condition": {"StringEquals": {"aws:SourceVpce": [ENDPOINT]}}}
DENY = {"Effect": "Deny", "Principal": "*", "Action": "execute-api:Invoke",
        "Resource": f"{API}/*", "Condition": {"StringNotEquals": {"aws:SourceVpce": [ENDPOINT]}}}


def test_the_helpers_own_document_is_fenced() -> None:
    assert fenced(ALLOW, DENY) == []
    assert iam.private_api_policy_problems(rendered(API, [ENDPOINT])) == []


@pytest.mark.parametrize("principal", ["*", {"AWS": "*"}, {"AWS": ["*"]}])
def test_principal_star_without_the_endpoint_condition_is_refused(principal: Any) -> None:
    bare = {**ALLOW, "Principal": principal}
    del bare["Condition"]
    assert fenced(bare, DENY) == [
        "Statement[0] allows Principal * without a StringEquals aws:SourceVpce condition: "
        "anyone who reaches the API could call it"]
    other_condition = {**bare, "Condition": {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}}
    assert len(fenced(other_condition, DENY)) == 1


def test_principal_star_with_an_empty_endpoint_list_is_refused() -> None:
    empty = {**ALLOW, "Condition": {"StringEquals": {"aws:SourceVpce": []}}}
    assert fenced(empty, DENY)[0].startswith("Statement[0] allows Principal * without")


def test_the_allow_needs_the_deny_of_every_other_path() -> None:
    assert fenced(ALLOW) == [
        "no Deny of execute-api:Invoke on the whole API for callers whose aws:SourceVpce is not "
        f"one of ['{ENDPOINT}']"]
    narrow = {**DENY, "Resource": f"{API}/DemoStage/GET/whoami"}
    assert len(fenced(ALLOW, narrow)) == 1
    other = {**DENY, "Condition": {"StringNotEquals": {"aws:SourceVpce": [OTHER_ENDPOINT]}}}
    assert len(fenced(ALLOW, other)) == 1
    assert fenced(DENY) == ["no statement allows the VPC endpoints to invoke the API"]


# --- ordinary statements keep refusing ---------------------------------------------------------

@pytest.mark.parametrize("principal", [{"AWS": "*"}, {"AWS": ["*"]}])
def test_an_ordinary_allow_still_refuses_the_wildcard_principal(principal: Any) -> None:
    with pytest.raises(iam.PolicyError, match="may not name the wildcard principal"):
        iam.allow(["execute-api:Invoke"], f"{API}/*", principals=principal)
    # Not even with the endpoint condition: only private_api_policy admits it.
    with pytest.raises(iam.PolicyError, match="may not name the wildcard principal"):
        iam.allow(["execute-api:Invoke"], f"{API}/*", principals=principal,
                  conditions={"StringEquals": {"aws:SourceVpce": [ENDPOINT]}})


def test_an_ordinary_deny_may_name_the_wildcard_principal() -> None:
    statement = iam.deny_insecure_transport("s3", "arn:aws:s3:::bucket")
    assert statement.principals == {"AWS": "*"}
