"""Container API under mocks: the internal NLB behind the REST API's VPC link, the HTTP API's one
VPC link to the internal ALB (or to Cloud Map), the integrations, security groups that name
their sources by group, the Fargate task definitions and services (circuit breaker, private,
no public IP), auto scaling, health checks, and bad settings."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from pydantic import TypeAdapter

from components.services.container_api import (
    APP_PORT,
    NLB_PORTS,
    ContainerApi,
    ContainerApiSettings,
)
from tests.support import ACCOUNT, PROD, REGION, run_service, statements
from tools.mock_runtime import StackRun, reveal
from tools.verdicts import evaluate, load_config

KEY = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/00000000-0000-0000-0000-000000000001"
CLUSTER = f"arn:aws:ecs:{REGION}:{ACCOUNT}:cluster/dev-cluster"
EXECUTION_ROLE = f"arn:aws:iam::{ACCOUNT}:role/dev-task-execution"
SUBNETS = ["subnet-a", "subnet-b"]
ENVIRONMENT = {
    "vpc_id": "vpc-1", "vpc_cidr": "10.10.0.0/16", "private_subnet_ids": SUBNETS,
    "kms_key_arn": KEY, "cluster_arn": CLUSTER, "cluster_name": "dev-cluster",
    "namespace_id": "ns-1", "namespace_name": "dev.blueprints.internal",
    "service_security_group_id": "sg-services", "task_execution_role_arn": EXECUTION_ROLE,
    "task_execution_role_name": "dev-task-execution"}
LB = "aws:lb/loadBalancer:LoadBalancer"
GROUP = "aws:ec2/securityGroup:SecurityGroup"
INGRESS = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
EGRESS = "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule"
SERVICE = "aws:ecs/service:Service"


def settings(**values: Any) -> ContainerApiSettings:
    return TypeAdapter(ContainerApiSettings).validate_python(values)


@cache
def built(target: str = "alb", prod: bool = False) -> StackRun:
    kwargs: dict[str, Any] = {"defaults": PROD} if prod else {}
    return run_service(lambda context, opts: ContainerApi(
        "shop", settings(httpApiTarget=target), context, opts),
        environment=ENVIRONMENT, **kwargs)


def state(run: StackRun, type_: str, name: str, key: str = "id") -> Any:
    return run.one(type_, name).state[key]


def groups(run: StackRun) -> dict[str, str]:
    """Security group id -> its role (tasks, nlb, alb, vpc-link)."""
    return {g.state["id"]: g.name.removeprefix("shop-") for g in run.of_type(GROUP)}


def rules(run: StackRun, type_: str) -> set[tuple[str, str, Any, Any]]:
    """(group, source or destination, ports, protocol) of every rule, groups by role."""
    named = groups(run)
    found = set()
    for rule in run.of_type(type_):
        inputs = rule.inputs
        other = named.get(inputs.get("referencedSecurityGroupId", ""),
                          inputs.get("cidrIpv4") or inputs.get("referencedSecurityGroupId"))
        found.add((named[inputs["securityGroupId"]], other,
                   (inputs.get("fromPort"), inputs.get("toPort")), inputs["ipProtocol"]))
    return found


def container(run: StackRun, backend: str) -> dict[str, Any]:
    task = run.one("aws:ecs/taskDefinition:TaskDefinition", f"shop-{backend}-task").inputs
    [definition] = json.loads(reveal(task["containerDefinitions"]))
    return definition


# --- load balancers and VPC links --------------------------------------------------------------

def test_the_load_balancers_are_internal_in_private_subnets() -> None:
    run = built()
    nlb = run.one(LB, "shop-nlb").inputs
    alb = run.one(LB, "shop-alb").inputs
    assert (nlb["loadBalancerType"], nlb["internal"], nlb["subnets"]) == (
        "network", True, SUBNETS)
    assert (alb["loadBalancerType"], alb["internal"], alb["subnets"]) == (
        "application", True, SUBNETS)
    assert alb["dropInvalidHeaderFields"] is True
    assert nlb["enableCrossZoneLoadBalancing"] is True
    assert nlb["enforceSecurityGroupInboundRulesOnPrivateLinkTraffic"] == "off"
    assert [groups(run)[g] for g in nlb["securityGroups"]] == ["nlb"]
    assert [groups(run)[g] for g in alb["securityGroups"]] == ["alb"]
    assert (nlb["enableDeletionProtection"], alb["enableDeletionProtection"]) == (False, False)
    prod = built(prod=True)
    assert [lb.inputs["enableDeletionProtection"] for lb in prod.of_type(LB)] == [True, True]


def test_the_rest_vpc_link_targets_the_nlb_and_the_http_link_sits_in_private_subnets() -> None:
    run = built()
    rest_link = run.one("aws:apigateway/vpcLink:VpcLink").inputs
    assert rest_link["targetArn"] == state(run, LB, "shop-nlb", "arn")
    http_link = run.one("aws:apigatewayv2/vpcLink:VpcLink").inputs
    assert http_link["subnetIds"] == SUBNETS
    assert [groups(run)[g] for g in http_link["securityGroupIds"]] == ["vpc-link"]


def test_each_back_end_has_its_own_nlb_listener_and_target_group() -> None:
    run = built()
    nlb = state(run, LB, "shop-nlb", "arn")
    for backend, port in NLB_PORTS.items():
        listener = run.one("aws:lb/listener:Listener", f"shop-{backend}-nlb").inputs
        group = run.one("aws:lb/targetGroup:TargetGroup", f"shop-{backend}-nlb")
        assert (listener["loadBalancerArn"], listener["port"], listener["protocol"]) == (
            nlb, port, "TCP")
        assert listener["defaultActions"] == [{"type": "forward",
                                               "targetGroupArn": group.state["arn"]}]
        assert (group.inputs["targetType"], group.inputs["port"]) == ("ip", APP_PORT)


def test_the_alb_routes_each_path_to_its_back_end_and_answers_404_otherwise() -> None:
    run = built()
    listener = run.one("aws:lb/listener:Listener", "shop-alb")
    assert (listener.inputs["port"], listener.inputs["protocol"]) == (80, "HTTP")
    assert listener.inputs["defaultActions"][0]["fixedResponse"]["statusCode"] == "404"
    for backend in ("products", "orders"):
        rule = run.one("aws:lb/listenerRule:ListenerRule", f"shop-{backend}").inputs
        assert rule["listenerArn"] == listener.state["arn"]
        assert rule["conditions"] == [{"pathPattern": {"values": [f"/{backend}",
                                                                  f"/{backend}/*"]}}]
        assert rule["actions"][0]["targetGroupArn"] == state(
            run, "aws:lb/targetGroup:TargetGroup", f"shop-{backend}-alb", "arn")


def test_every_target_group_checks_health_on_the_app() -> None:
    run = built()
    checks = {g.name: g.inputs["healthCheck"] for g in run.of_type(
        "aws:lb/targetGroup:TargetGroup")}
    assert len(checks) == 4
    for check in checks.values():
        assert (check["enabled"], check["protocol"], check["path"], check["matcher"]) == (
            True, "HTTP", "/health", "200")
    assert {g.inputs["deregistrationDelay"] for g in run.of_type(
        "aws:lb/targetGroup:TargetGroup")} == {30}


# --- integrations ------------------------------------------------------------------------------

def test_rest_integrations_proxy_over_the_vpc_link_to_each_nlb_listener() -> None:
    run = built()
    link = state(run, "aws:apigateway/vpcLink:VpcLink", "shop-rest-link")
    integrations = {i.name: i.inputs for i in run.of_type(
        "aws:apigateway/integration:Integration")}
    assert sorted(integrations) == [
        "shop-rest-orders-item-get", "shop-rest-orders-post", "shop-rest-products-get",
        "shop-rest-products-item-delete", "shop-rest-products-item-get",
        "shop-rest-products-item-put"]
    for name, inputs in integrations.items():
        backend = name.split("-")[2]
        assert (inputs["type"], inputs["connectionType"], inputs["connectionId"]) == (
            "HTTP_PROXY", "VPC_LINK", link)
        assert inputs["integrationHttpMethod"] == inputs["httpMethod"]
        suffix = f":{NLB_PORTS[backend]}/{backend}" + ("/{id}" if "-item-" in name else "")
        assert inputs["uri"].startswith("http://")
        assert inputs["uri"].endswith(suffix)
    assert integrations["shop-rest-products-item-put"]["requestParameters"] == {
        "integration.request.path.id": "method.request.path.id"}


def test_rest_methods_need_a_signature_and_bodies_meet_their_models() -> None:
    run = built()
    methods = {m.name: m.inputs for m in run.of_type("aws:apigateway/method:Method")}
    assert {inputs["authorization"] for inputs in methods.values()} == {"AWS_IAM"}
    assert all(inputs["requestValidatorId"] for inputs in methods.values())
    assert methods["shop-rest-products-item-put"]["requestModels"] == {
        "application/json": "Product"}
    assert methods["shop-rest-orders-post"]["requestModels"] == {"application/json": "Order"}
    models = {m.inputs["name"]: json.loads(m.inputs["schema"]) for m in run.of_type(
        "aws:apigateway/model:Model")}
    assert models["Order"]["required"] == ["productId", "quantity"]
    assert models["Product"]["additionalProperties"] is False


def test_one_http_vpc_link_reaches_both_back_ends_through_the_alb_listener() -> None:
    run = built()
    link = state(run, "aws:apigatewayv2/vpcLink:VpcLink", "shop-http-link")
    listener = state(run, "aws:lb/listener:Listener", "shop-alb", "arn")
    integrations = run.of_type("aws:apigatewayv2/integration:Integration")
    assert len(integrations) == 2
    for integration in integrations:
        inputs = integration.inputs
        assert (inputs["integrationType"], inputs["connectionType"], inputs["connectionId"],
                inputs["integrationUri"]) == ("HTTP_PROXY", "VPC_LINK", link, listener)
    routes = {r.inputs["routeKey"]: r.inputs for r in run.of_type(
        "aws:apigatewayv2/route:Route")}
    assert sorted(routes) == ["ANY /orders", "ANY /orders/{proxy+}", "ANY /products",
                              "ANY /products/{proxy+}"]
    assert {route["authorizationType"] for route in routes.values()} == {"AWS_IAM"}


def test_with_cloud_map_each_back_end_is_an_srv_service_the_one_link_reaches() -> None:
    run = built("cloudMap")
    assert [lb.name for lb in run.of_type(LB)] == ["shop-nlb"]
    link = state(run, "aws:apigatewayv2/vpcLink:VpcLink", "shop-http-link")
    uris = {}
    for integration in run.of_type("aws:apigatewayv2/integration:Integration"):
        assert integration.inputs["connectionId"] == link
        uris[integration.name] = integration.inputs["integrationUri"]
    for backend in ("products", "orders"):
        discovery = run.one("aws:servicediscovery/service:Service", f"shop-{backend}")
        assert uris[f"shop-http-{backend}"] == discovery.state["arn"]
        dns = discovery.inputs["dnsConfig"]
        assert dns["namespaceId"] == "ns-1"
        assert dns["dnsRecords"] == [{"type": "SRV", "ttl": 10}]
        service = run.one(SERVICE, f"shop-{backend}").inputs
        assert service["serviceRegistries"] == {
            "registryArn": discovery.state["arn"], "containerName": "app",
            "containerPort": APP_PORT}
    assert len(set(uris.values())) == 2


# --- security groups ---------------------------------------------------------------------------

def test_security_groups_admit_only_the_load_balancers_and_the_link_by_group() -> None:
    run = built()
    assert rules(run, INGRESS) == {
        ("tasks", "nlb", (APP_PORT, APP_PORT), "tcp"),
        ("tasks", "alb", (APP_PORT, APP_PORT), "tcp"),
        ("alb", "vpc-link", (80, 80), "tcp")}
    assert rules(run, EGRESS) == {
        ("nlb", "tasks", (APP_PORT, APP_PORT), "tcp"),
        ("alb", "tasks", (APP_PORT, APP_PORT), "tcp"),
        ("vpc-link", "alb", (80, 80), "tcp"),
        ("tasks", "0.0.0.0/0", (443, 443), "tcp")}


def test_with_cloud_map_the_tasks_admit_the_link_itself() -> None:
    run = built("cloudMap")
    assert rules(run, INGRESS) == {
        ("tasks", "nlb", (APP_PORT, APP_PORT), "tcp"),
        ("tasks", "vpc-link", (APP_PORT, APP_PORT), "tcp")}


@pytest.mark.parametrize("target", ["alb", "cloudMap"])
def test_no_ingress_from_any_cidr_at_all(target: str) -> None:
    for rule in built(target).of_type(INGRESS):
        assert "cidrIpv4" not in rule.inputs
        assert "cidrIpv6" not in rule.inputs
        assert rule.inputs["referencedSecurityGroupId"]
    for group in built(target).of_type(GROUP):
        assert "ingress" not in group.inputs


# --- tasks and services ------------------------------------------------------------------------

def test_tasks_run_on_fargate_read_only_as_a_user_with_a_health_check() -> None:
    run = built()
    for backend in ("products", "orders"):
        task = run.one("aws:ecs/taskDefinition:TaskDefinition", f"shop-{backend}-task").inputs
        assert task["requiresCompatibilities"] == ["FARGATE"]
        assert task["networkMode"] == "awsvpc"
        assert task["executionRoleArn"] == EXECUTION_ROLE
        definition = container(run, backend)
        assert definition["readonlyRootFilesystem"] is True
        assert definition["user"] == "1000:1000"
        assert definition["portMappings"][0]["containerPort"] == APP_PORT
        assert definition["healthCheck"]["command"] == ["CMD", "python3",
                                                        "/app/healthcheck.py"]
        variables = {v["name"]: v["value"] for v in definition["environment"]}
        assert variables["APP_RESOURCES"] == backend
        assert variables["PORT"] == str(APP_PORT)


def test_services_are_private_roll_back_and_register_with_their_target_groups() -> None:
    run = built()
    for backend in ("products", "orders"):
        service = run.one(SERVICE, f"shop-{backend}")
        inputs = service.inputs
        assert inputs["cluster"] == CLUSTER
        assert inputs["launchType"] == "FARGATE"
        assert inputs["networkConfiguration"]["subnets"] == SUBNETS
        assert inputs["networkConfiguration"]["assignPublicIp"] is False
        assert [groups(run)[g] for g in inputs["networkConfiguration"]["securityGroups"]] == [
            "tasks"]
        assert inputs["deploymentCircuitBreaker"] == {"enable": True, "rollback": True}
        assert inputs["enableExecuteCommand"] is False
        assert inputs["desiredCount"] == 2
        assert {b["targetGroupArn"] for b in inputs["loadBalancers"]} == {
            state(run, "aws:lb/targetGroup:TargetGroup", f"shop-{backend}-{kind}", "arn")
            for kind in ("nlb", "alb")}
        assert inputs["taskDefinition"] == state(
            run, "aws:ecs/taskDefinition:TaskDefinition", f"shop-{backend}-task", "arn")
        listener = run.one("aws:lb/listener:Listener", f"shop-{backend}-nlb").urn
        assert listener in service.dependencies


def test_task_roles_reach_only_their_tables() -> None:
    run = built()
    products = state(run, "aws:dynamodb/table:Table", "shop-products-table", "arn")
    orders = state(run, "aws:dynamodb/table:Table", "shop-orders-table", "arn")

    def granted(backend: str) -> dict[str, Any]:
        found: dict[str, set[str]] = {}
        for statement in statements(run.one("aws:iam/rolePolicy:RolePolicy",
                                            f"shop-{backend}-task")):
            resources = statement["Resource"]
            for action in statement["Action"]:
                found.setdefault(action, set()).update(
                    resources if isinstance(resources, list) else [resources])
        return found

    assert granted("products")["dynamodb:PutItem"] == {products}
    assert granted("orders")["dynamodb:PutItem"] == {orders}
    assert granted("orders")["dynamodb:GetItem"] == {products, orders}
    assert "dynamodb:DeleteItem" not in granted("orders")


def test_the_execution_role_gets_this_repository_and_each_task_log_group() -> None:
    run = built()
    repository = state(run, "aws:ecr/repository:Repository", "shop-images", "arn")
    for backend in ("products", "orders"):
        policy = run.one("aws:iam/rolePolicy:RolePolicy", f"shop-{backend}-task-execution")
        assert policy.inputs["role"] == "dev-task-execution"
        found = {action: statement["Resource"] for statement in statements(policy)
                 for action in statement["Action"]}
        logs = state(run, "aws:cloudwatch/logGroup:LogGroup", f"shop-{backend}-task-logs",
                     "arn")
        assert found["ecr:BatchGetImage"] == repository
        assert found["logs:PutLogEvents"] == f"{logs}:*"


# --- auto scaling ------------------------------------------------------------------------------

def test_each_service_scales_on_cpu_and_on_requests_per_target() -> None:
    run = built()
    for backend in ("products", "orders"):
        target = run.one("aws:appautoscaling/target:Target", f"shop-{backend}-scaling").inputs
        service = state(run, SERVICE, f"shop-{backend}", "name")
        assert target["resourceId"] == f"service/dev-cluster/{service}"
        assert (target["minCapacity"], target["maxCapacity"]) == (2, 6)
        assert target["scalableDimension"] == "ecs:service:DesiredCount"
        cpu = run.one("aws:appautoscaling/policy:Policy", f"shop-{backend}-cpu").inputs
        requests = run.one("aws:appautoscaling/policy:Policy",
                           f"shop-{backend}-requests").inputs
        for policy in (cpu, requests):
            assert policy["policyType"] == "TargetTrackingScaling"
            assert policy["resourceId"] == target["resourceId"]
        cpu_config = cpu["targetTrackingScalingPolicyConfiguration"]
        assert cpu_config["targetValue"] == 60
        assert cpu_config["predefinedMetricSpecification"]["predefinedMetricType"] == (
            "ECSServiceAverageCPUUtilization")
        request_config = requests["targetTrackingScalingPolicyConfiguration"]
        assert request_config["targetValue"] == 1000
        assert request_config["predefinedMetricSpecification"]["predefinedMetricType"] == (
            "ALBRequestCountPerTarget")
        assert "resourceLabel" in request_config["predefinedMetricSpecification"]


def test_without_an_alb_services_scale_on_cpu_only() -> None:
    names = {p.name for p in built("cloudMap").of_type("aws:appautoscaling/policy:Policy")}
    assert names == {"shop-products-cpu", "shop-orders-cpu"}


# --- the stages and exports --------------------------------------------------------------------

def test_stages_log_throttle_and_trace() -> None:
    run = built()
    rest = run.one("aws:apigateway/stage:Stage").inputs
    assert rest["xrayTracingEnabled"] is True
    assert rest["accessLogSettings"]["destinationArn"]
    settings_ = run.one("aws:apigateway/methodSettings:MethodSettings").inputs["settings"]
    assert (settings_["throttlingRateLimit"], settings_["throttlingBurstLimit"]) == (50, 100)
    http = run.one("aws:apigatewayv2/stage:Stage").inputs
    assert http["accessLogSettings"]["destinationArn"]
    assert http["defaultRouteSettings"]["throttlingBurstLimit"] == 100


def test_exports_name_the_urls_services_and_load_balancers() -> None:
    exports = built().outputs["exports"]
    assert exports["restApiUrl"].startswith("https://")
    assert exports["httpApiUrl"].startswith("https://")
    assert set(exports["serviceNames"]) == {"products", "orders"}
    assert set(exports["tableNames"]) == {"products", "orders"}


@pytest.mark.parametrize("target", ["alb", "cloudMap"])
def test_the_guardrails_find_no_mandatory_violation(target: str) -> None:
    config = load_config(Path(__file__).resolve().parents[2] / "policy" / "blueprints.json")
    violations = evaluate(built(target), config)
    # A service built alone has a provider without the stack's default tags.
    assert [f"{v.policy}: {v.resource_name}: {v.message}" for v in violations
            if v.mandatory and v.policy != "required-tags"] == []
    assert {v.policy for v in violations if not v.mandatory} <= {"waf-on-public-endpoints"}


# --- configuration -----------------------------------------------------------------------------

def test_memory_must_go_with_the_cpu() -> None:
    with pytest.raises(ValueError, match="memoryMb") as raised:
        settings(cpu=256, memoryMb=4096)
    assert "512 to 2048 MB in steps of 512" in str(raised.value)


def test_counts_must_be_ordered() -> None:
    with pytest.raises(ValueError, match="minCount"):
        settings(minCount=5, maxCount=3)
    with pytest.raises(ValueError, match="desiredCount"):
        settings(minCount=2, desiredCount=8, maxCount=6)


@pytest.mark.parametrize(("key", "value"), [
    ("httpApiTarget", "nlb"), ("cpu", 300), ("maxCount", 0), ("cpuTargetPercent", 95),
    ("apiWebAclArn", "arn:aws:wafv2:us-east-1:111111111111:global/webacl/x/y"),
    ("replicas", 2)])
def test_bad_values_are_refused(key: str, value: Any) -> None:
    with pytest.raises(Exception, match=key):
        settings(**{key: value})


def test_the_nlb_admits_nothing_but_the_rest_vpc_link() -> None:
    """PrivateLink traffic skips the group's inbound rules; everything else meets none."""
    run = built()
    nlb_group = run.one(GROUP, "shop-nlb").state["id"]
    assert not [r for r in run.of_type(INGRESS) if r.inputs["securityGroupId"] == nlb_group]
