"""Private REST APIs in local mode: reached only through an interface endpoint for
``execute-api``, and fenced by their resource policy, as API Gateway fences them.

The plan here is small and written for the test: a PRIVATE API whose mock integration answers
the endpoint it was called through, a resource policy that admits one endpoint, and two
endpoints (that one, and another in the same VPC); and a public API whose policy admits one
address range."""

from __future__ import annotations

import json
from typing import Any

import pulumi
import pulumi_aws as aws
import pytest

from tools.local.aws import EmbeddedAws
from tools.local.endpoints import ExecuteApiEndpoint, execute_api_endpoints
from tools.local.gateway import Reply, Request
from tools.local.iam import PlanPolicies
from tools.local.rest_api import RestApi, rest_apis
from tools.mock_runtime import StackConfig, StackRun, run_program

ACCOUNT = "111122223333"
REGION = "eu-west-1"
OFFICE = "198.51.100.0/24"


def _api(name: str, opts: pulumi.ResourceOptions, *, private: bool,
         policy: Any) -> aws.apigateway.RestApi:
    api = aws.apigateway.RestApi(
        name, opts=opts, policy=policy,
        endpoint_configuration={"types": "PRIVATE" if private else "REGIONAL"})
    whoami = aws.apigateway.Resource(f"{name}-whoami", rest_api=api.id, path_part="whoami",
                                     parent_id=api.root_resource_id, opts=opts)
    method = aws.apigateway.Method(f"{name}-get", rest_api=api.id, resource_id=whoami.id,
                                   http_method="GET", authorization="NONE", opts=opts)
    aws.apigateway.Integration(f"{name}-integration", rest_api=api.id, resource_id=whoami.id,
                               http_method=method.http_method, type="MOCK", opts=opts,
                               request_templates={"application/json": '{"statusCode": 200}'})
    aws.apigateway.MethodResponse(f"{name}-200", rest_api=api.id, resource_id=whoami.id,
                                  http_method=method.http_method, status_code="200", opts=opts)
    aws.apigateway.IntegrationResponse(
        f"{name}-200-response", rest_api=api.id, resource_id=whoami.id, status_code="200",
        http_method=method.http_method, opts=opts, response_templates={"application/json": (
            '{"vpce": "$context.identity.vpceId", "vpc": "$context.identity.vpcId", '
            '"ip": "$context.identity.sourceIp"}')})
    deployment = aws.apigateway.Deployment(f"{name}-deployment", rest_api=api.id, opts=opts)
    aws.apigateway.Stage(f"{name}-stage", rest_api=api.id, stage_name="dev",
                         deployment=deployment.id, opts=opts)
    return api


def program() -> None:
    opts = pulumi.ResourceOptions(provider=aws.Provider("private-provider", region=REGION))
    vpc = aws.ec2.Vpc("network", cidr_block="10.0.0.0/16", opts=opts)
    admitted, other = (aws.ec2.VpcEndpoint(
        name, vpc_id=vpc.id, service_name=f"com.amazonaws.{REGION}.execute-api",
        vpc_endpoint_type="Interface", private_dns_enabled=True, opts=opts)
        for name in ("admitted", "other"))

    def fence(endpoint_id: str) -> str:
        only = {"aws:SourceVpce": endpoint_id}
        return json.dumps({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Principal": "*", "Action": "execute-api:Invoke",
             "Resource": "execute-api:/*", "Condition": {"StringEquals": only}},
            {"Effect": "Deny", "Principal": "*", "Action": "execute-api:Invoke",
             "Resource": "execute-api:/*", "Condition": {"StringNotEquals": only}}]})

    _api("internal", opts, private=True, policy=admitted.id.apply(fence))
    _api("office", opts, private=False, policy=json.dumps({"Version": "2012-10-17",
                                                           "Statement": [
        {"Effect": "Allow", "Principal": "*", "Action": "execute-api:Invoke",
         "Resource": "execute-api:/dev/GET/whoami",
         "Condition": {"IpAddress": {"aws:SourceIp": OFFICE}}}]}))
    pulumi.export("endpoints", {"admitted": admitted.id, "other": other.id})


@pytest.fixture(scope="module")
def plan() -> StackRun:
    return run_program(program, config=StackConfig(
        {"aws:region": REGION, "blueprints:account": json.dumps({"id": ACCOUNT})}, ()))


@pytest.fixture
def apis(plan: StackRun, policies: PlanPolicies, local: EmbeddedAws) -> dict[str, RestApi]:
    served = rest_apis(plan, lambdas=None,  # type: ignore[arg-type]  # no functions here
                       policies=policies, aws=local, output=lambda line: None)
    return {api.resource: api for api in served}


@pytest.fixture
def endpoints(plan: StackRun, apis: dict[str, RestApi]) -> dict[str, ExecuteApiEndpoint]:
    return {endpoint.resource: endpoint
            for endpoint in execute_api_endpoints(plan, list(apis.values()))}


def get(front: RestApi | ExecuteApiEndpoint, *headers: tuple[str, str],
        source_ip: str = "10.0.3.9") -> Reply:
    named = any(name == "Host" for name, _ in headers)
    return front.handle(Request("GET", "/dev/whoami", "", [
        *([] if named else [("Host", "127.0.0.1:4000")]), *headers], b"", source_ip))


def body(reply: Reply) -> Any:
    return json.loads(reply.body)


def test_each_execute_api_interface_endpoint_of_the_plan_is_a_front(
        plan: StackRun, endpoints: dict[str, ExecuteApiEndpoint]) -> None:
    assert sorted(endpoints) == ["admitted", "other"]
    assert endpoints["admitted"].endpoint_id == plan.outputs["endpoints"]["admitted"]
    assert endpoints["admitted"].endpoint_id.startswith("vpce-")


def test_a_private_api_answers_no_one_outside_an_endpoint(apis: dict[str, RestApi]) -> None:
    answer = get(apis["internal"])
    assert (answer.status, body(answer)) == (403, {"message": "Forbidden"})
    assert ("x-amzn-ErrorType", "ForbiddenException") in answer.headers


def test_the_admitted_endpoint_reaches_it_and_the_api_knows_which_endpoint(
        plan: StackRun, apis: dict[str, RestApi],
        endpoints: dict[str, ExecuteApiEndpoint]) -> None:
    api_id = apis["internal"].api_id
    admitted = endpoints["admitted"]

    by_header = get(admitted, ("x-apigw-api-id", api_id))
    by_private_dns = get(admitted, ("Host", f"{api_id}.execute-api.{REGION}.amazonaws.com"))
    by_endpoint_name = get(admitted, (
        "Host", f"{api_id}-{admitted.endpoint_id}.execute-api.{REGION}.amazonaws.com"))

    for answer in (by_header, by_private_dns, by_endpoint_name):
        assert answer.status == 200, answer.body
        assert body(answer) == {"vpce": admitted.endpoint_id, "vpc": admitted.vpc_id,
                                "ip": "10.0.3.9"}


def test_another_endpoint_meets_the_policys_explicit_deny(
        apis: dict[str, RestApi], endpoints: dict[str, ExecuteApiEndpoint]) -> None:
    api = apis["internal"]
    answer = get(endpoints["other"], ("x-apigw-api-id", api.api_id))
    assert answer.status == 403
    assert body(answer) == {"Message": (
        "User: anonymous is not authorized to perform: execute-api:Invoke on resource: "
        f"arn:aws:execute-api:{REGION}:{ACCOUNT}:{api.api_id}/dev/GET/whoami "
        "with an explicit deny")}


def test_an_endpoint_refuses_a_name_for_another_endpoint_or_an_api_it_does_not_front(
        apis: dict[str, RestApi], endpoints: dict[str, ExecuteApiEndpoint]) -> None:
    admitted, other = endpoints["admitted"], endpoints["other"]
    elsewhere = get(admitted, ("Host", f"{apis['internal'].api_id}-{other.endpoint_id}"
                                       f".execute-api.{REGION}.amazonaws.com"))
    public = get(admitted, ("x-apigw-api-id", apis["office"].api_id))
    unknown = get(admitted, ("x-apigw-api-id", "nothere123"))
    assert [answer.status for answer in (elsewhere, public, unknown)] == [403, 403, 403]


def test_a_public_apis_policy_admits_its_address_range_only(apis: dict[str, RestApi]) -> None:
    office = apis["office"]
    assert get(office, source_ip="198.51.100.20").status == 200
    refused = get(office, source_ip="203.0.113.5")
    assert refused.status == 403
    assert body(refused)["Message"].endswith(f"{office.api_id}/dev/GET/whoami")
    assert "explicit deny" not in body(refused)["Message"]
