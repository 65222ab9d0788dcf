"""The microservice cache under mocks: the serverless cache's network, encryption, limits and
users; DAX's encryption, network and role; the security groups (each names the functions'
group, none is open to 0.0.0.0/0); the EventBridge endpoint, bus, archive, rule and target; the
profiles stream and its refresher; each function's statements, scoped to ARNs; the API; bad
settings named by their keys."""

from __future__ import annotations

import json
import zipfile
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from pydantic import TypeAdapter

from components.services.microservice_cache import (
    EVENT_PATTERN,
    FUNCTIONS_ACCESS,
    MicroserviceCache,
    MicroserviceCacheSettings,
)
from tests.services.idempotency_support import check_idempotency_store
from tests.support import ACCOUNT, REGION, run_service, statements
from tools.mock_runtime import StackRun

KEY = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/00000000-0000-0000-0000-000000000001"
ENVIRONMENT = {"kms_key_arn": KEY, "vpc_id": "vpc-0a1b2c3d",
               "private_subnet_ids": ["subnet-a", "subnet-b", "subnet-c"],
               "service_security_group_id": "sg-services"}
FUNCTION = "aws:lambda/function:Function"
POLICY = "aws:iam/rolePolicy:RolePolicy"
GROUP = "aws:ec2/securityGroup:SecurityGroup"
INGRESS = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
EGRESS = "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule"
CACHE = "aws:elasticache/serverlessCache:ServerlessCache"
USER = "aws:elasticache/user:User"
DAX = "aws:dax/cluster:Cluster"


def settings(**values: Any) -> MicroserviceCacheSettings:
    return TypeAdapter(MicroserviceCacheSettings).validate_python(values)


@cache
def built(invalidation: str = "invalidate", endpoint: bool = True) -> StackRun:
    return run_service(lambda context, opts: MicroserviceCache(
        "cache", settings(invalidation=invalidation, createEventsEndpoint=endpoint,
                          cache={"maxDataStorageGb": 5, "maxEcpuPerSecond": 10000},
                          dax={"nodeType": "dax.r5.large", "nodeCount": 3}),
        context, opts), environment=ENVIRONMENT)


def granted(run: StackRun, role: str) -> dict[str, Any]:
    """Action -> resource(s), in the role policy of function ``role`` (the idempotency table's
    statement apart: ``test_payments_are_idempotent`` checks it)."""
    idempotency = run.one("aws:dynamodb/table:Table",
                          "cache-idempotency-records-table").state["arn"]
    found: dict[str, Any] = {}
    for statement in statements(run.one(POLICY, f"cache-{role}-policy")):
        if statement["Resource"] == idempotency:
            continue
        for action in statement["Action"]:
            found[action] = statement["Resource"]
    return found


def group_id(run: StackRun, name: str) -> str:
    return str(run.one(GROUP, name).id)


def test_the_cache_is_private_encrypted_limited_and_closed() -> None:
    run = built()
    cache_ = run.one(CACHE, "cache-cache").inputs
    assert (cache_["engine"], cache_["majorEngineVersion"]) == ("valkey", "8")
    assert cache_["kmsKeyId"] == KEY
    assert cache_["subnetIds"] == ENVIRONMENT["private_subnet_ids"]
    assert cache_["securityGroupIds"] == [group_id(run, "cache-cache")]
    assert cache_["cacheUsageLimits"] == {"dataStorage": {"maximum": 5, "unit": "GB"},
                                          "ecpuPerSeconds": [{"maximum": 10000}]}
    group = run.one("aws:elasticache/userGroup:UserGroup").inputs
    assert cache_["userGroupId"] == group["userGroupId"]
    users = {user.name: user.inputs for user in run.of_type(USER)}
    assert sorted(group["userIds"]) == sorted(user["userId"] for user in users.values())
    default, functions = users["cache-default-user"], users["cache-functions-user"]
    assert default["userName"] == "default"
    assert default["accessString"].startswith("off ")
    assert functions["authenticationMode"] == {"type": "iam"}
    assert functions["userId"] == functions["userName"]  # as IAM authentication requires
    assert functions["accessString"] == FUNCTIONS_ACCESS
    assert "-@dangerous" in FUNCTIONS_ACCESS
    assert "~*" not in FUNCTIONS_ACCESS


def test_security_groups_name_the_functions_group_and_never_anywhere() -> None:
    run = built()
    functions = group_id(run, "cache-functions")
    ingress = {rule.name: rule.inputs for rule in run.of_type(INGRESS)}
    assert {name: (rule["fromPort"], rule["toPort"]) for name, rule in ingress.items()} == {
        "cache-cache-from-functions": (6379, 6380), "cache-dax-from-functions": (9111, 9111),
        "cache-events-endpoint-from-functions": (443, 443)}
    for rule in [*ingress.values(), *(r.inputs for r in run.of_type(EGRESS))]:
        assert "cidrIpv4" not in rule
        assert "cidrIpv6" not in rule
    assert {rule["referencedSecurityGroupId"] for rule in ingress.values()} == {functions}
    for name in ("billing", "payment", "profile", "manager"):
        vpc = run.one(FUNCTION, f"cache-{name}-function").inputs["vpcConfig"]
        assert vpc == {"subnetIds": ENVIRONMENT["private_subnet_ids"],
                       "securityGroupIds": [functions, "sg-services"]}


def test_dax_is_encrypted_private_and_reads_the_profiles_table_only() -> None:
    run = built()
    dax = run.one(DAX).inputs
    assert dax["serverSideEncryption"] == {"enabled": True}
    assert dax["clusterEndpointEncryptionType"] == "TLS"
    assert (dax["nodeType"], dax["replicationFactor"]) == ("dax.r5.large", 3)
    assert dax["securityGroupIds"] == [group_id(run, "cache-dax")]
    assert len(dax["clusterName"]) <= 20
    assert run.one("aws:dax/subnetGroup:SubnetGroup").inputs["subnetIds"] == \
        ENVIRONMENT["private_subnet_ids"]
    parameters = {p["name"]: p["value"] for p in
                  run.one("aws:dax/parameterGroup:ParameterGroup").inputs["parameters"]}
    assert parameters == {"record-ttl-millis": "300000", "query-ttl-millis": "300000"}
    role = statements(run.one(POLICY, "cache-dax"))
    profiles = run.one("aws:dynamodb/table:Table", "cache-profiles-table")
    assert {json.dumps(s["Resource"]) for s in role} == {json.dumps(profiles.state["arn"]),
                                                        json.dumps(KEY)}
    assert all(not action.startswith("dynamodb:") or action.split(":")[1] in (
        "DescribeTable", "GetItem", "BatchGetItem", "Query", "Scan", "ConditionCheckItem")
        for s in role for action in s["Action"])


def test_each_function_may_do_exactly_its_calls() -> None:
    run = built()
    tables = {name: run.one("aws:dynamodb/table:Table", f"cache-{name}-table").state["arn"]
              for name in ("accounts", "payments", "profiles")}
    cache_arn = run.one(CACHE).state["arn"]
    user_arn = run.one(USER, "cache-functions-user").state["arn"]
    bus = run.one("aws:cloudwatch/eventBus:EventBus").state["arn"]
    connect = sorted([cache_arn, user_arn])
    billing, payment, profile, manager = (granted(run, name) for name in
                                          ("billing", "payment", "profile", "manager"))
    assert billing["elasticache:Connect"] == connect
    assert billing["dynamodb:GetItem"] == tables["accounts"]
    assert payment["dynamodb:PutItem"] == tables["payments"]
    assert payment["dynamodb:UpdateItem"] == tables["accounts"]
    assert payment["events:PutEvents"] == bus
    assert profile["dynamodb:GetItem"] == tables["profiles"]
    assert profile["dax:GetItem"] == run.one(DAX).state["arn"]
    assert "dynamodb:GetItem" not in manager  # invalidate mode reads nothing
    assert granted(built("refresh"), "manager")["dynamodb:GetItem"] == sorted(
        [tables["accounts"], tables["profiles"]])
    for found in (billing, payment, profile, manager):
        # Every resource is named (the log group's ":*" names its streams).
        assert all("*" not in json.dumps(resource) for action, resource in found.items()
                   if not action.startswith(("logs:", "xray:")))
        assert set(found) & {"dynamodb:Scan", "dynamodb:DeleteItem"} == set()


def test_functions_get_the_cache_and_dax_settings() -> None:
    run = built()
    variables = run.one(FUNCTION, "cache-profile-function").inputs["environment"]["variables"]
    assert variables["CACHE_TLS"] == "true"
    assert variables["CACHE_AUTH"] == "iam"
    assert variables["CACHE_USER"] == run.one(USER, "cache-functions-user").inputs["userId"]
    assert variables["CACHE_NAME"] == run.one(CACHE).inputs["name"]
    assert variables["CACHE_TIMEOUT_MS"] == "200"
    cluster = run.one("aws:dax/cluster:Cluster").state
    assert variables["DAX_ENDPOINT"] == f"daxs://{cluster['clusterAddress']}"
    assert variables["CACHE_HOST"] == run.one(CACHE).state["endpoints"][0]["address"]
    assert variables["PROFILE_TTL_SECONDS"] == "900"
    layer = run.one("aws:lambda/layerVersion:LayerVersion").inputs
    assert layer["description"] == "The Valkey and DAX clients of the cache service"
    with zipfile.ZipFile(Path(layer["code"].path)) as bundle:
        names = set(bundle.namelist())
    assert {"python/valkey/__init__.py", "python/amazondax/__init__.py",
            "python/antlr4/__init__.py", "python/six.py"} <= names
    assert not any(name.startswith("python/botocore/") for name in names)  # the runtime's
    manager = run.one(FUNCTION, "cache-manager-function").inputs["environment"]["variables"]
    assert manager["CACHE_MODE"] == "invalidate"


def test_the_rule_matches_exactly_the_two_events_and_invokes_the_manager() -> None:
    run = built()
    rule = run.one("aws:cloudwatch/eventRule:EventRule").inputs
    assert json.loads(rule["eventPattern"]) == EVENT_PATTERN == {
        "source": ["blueprints.cache.payments", "blueprints.cache.profiles"],
        "detail-type": ["payment_processed", "profile_changed"]}
    bus = run.one("aws:cloudwatch/eventBus:EventBus")
    assert rule["eventBusName"] == bus.state["name"]
    target = run.one("aws:cloudwatch/eventTarget:EventTarget").inputs
    manager = run.one(FUNCTION, "cache-manager-function")
    assert target["arn"] == manager.state["arn"]
    assert target["retryPolicy"]["maximumRetryAttempts"] == 20
    assert "deadLetterConfig" in target
    permission = run.one("aws:lambda/permission:Permission", "cache-manager-from-events").inputs
    assert permission["principal"] == "events.amazonaws.com"
    assert permission["sourceArn"] == run.one("aws:cloudwatch/eventRule:EventRule").state[
        "arn"]
    archive = run.one("aws:cloudwatch/eventArchive:EventArchive").inputs
    assert archive["retentionDays"] == 7
    assert run.one("aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig")


def test_the_events_endpoint_is_private_in_the_private_subnets() -> None:
    endpoint = built().one("aws:ec2/vpcEndpoint:VpcEndpoint").inputs
    assert endpoint["serviceName"] == f"com.amazonaws.{REGION}.events"
    assert endpoint["vpcEndpointType"] == "Interface"
    assert endpoint["privateDnsEnabled"] is True
    assert endpoint["subnetIds"] == ENVIRONMENT["private_subnet_ids"]
    without = built(endpoint=False)
    assert not without.of_type("aws:ec2/vpcEndpoint:VpcEndpoint")


def test_the_profiles_stream_feeds_the_refresher() -> None:
    run = built()
    table = run.one("aws:dynamodb/table:Table", "cache-profiles-table").inputs
    assert (table["streamEnabled"], table["streamViewType"]) == (True, "KEYS_ONLY")
    mapping = run.one("aws:lambda/eventSourceMapping:EventSourceMapping").inputs
    assert mapping["functionName"] == run.one(FUNCTION, "cache-refresher-function").state[
        "arn"]
    assert mapping["functionResponseTypes"] == ["ReportBatchItemFailures"]
    assert mapping["bisectBatchOnFunctionError"] is True
    assert mapping["startingPosition"] == "LATEST"
    assert "onFailure" in mapping["destinationConfig"]
    refresher = granted(run, "refresher")
    assert refresher["events:PutEvents"] == run.one(
        "aws:cloudwatch/eventBus:EventBus").state["arn"]


def test_the_api_signs_every_route() -> None:
    run = built()
    routes = {r.inputs["routeKey"]: r.inputs for r in
              run.of_type("aws:apigatewayv2/route:Route")}
    assert set(routes) == {"GET /billing/{accountId}", "POST /payments",
                           "GET /profiles/{profileId}"}
    assert {route["authorizationType"] for route in routes.values()} == {"AWS_IAM"}


def test_payments_are_idempotent() -> None:
    run = built()
    check_idempotency_store(run, "cache", "payment", KEY)
    assert run.outputs["exports"]["idempotencyTableName"] == run.one(
        "aws:dynamodb/table:Table", "cache-idempotency-records-table").state["name"]
    for role in ("billing", "profile", "manager", "refresher"):
        variables = run.one(FUNCTION, f"cache-{role}-function").inputs["environment"][
            "variables"]
        assert "IDEMPOTENCY_TABLE" not in variables
    shorter = run_service(lambda context, opts: MicroserviceCache(
        "cache", settings(idempotencyExpirySeconds=600), context, opts),
        environment=ENVIRONMENT)
    check_idempotency_store(shorter, "cache", "payment", KEY, expiry=600)


def test_tables_use_the_environments_key() -> None:
    for table in built().of_type("aws:dynamodb/table:Table"):
        assert table.inputs["serverSideEncryption"] == {"enabled": True, "kmsKeyArn": KEY}


@pytest.mark.parametrize(("values", "key"), [
    ({"cacheTimeoutMs": 2000}, "cacheTimeoutMs"),
    ({"dax": {"recordTtlSeconds": 3600}}, "dax.recordTtlSeconds"),
    ({"invalidation": "delete"}, "invalidation"),
    ({"cache": {"maxEcpuPerSecond": 10}}, "maxEcpuPerSecond"),
    ({"dax": {"nodeType": "cache.t3.micro"}}, "nodeType"),
    ({"billingTtlSeconds": 0}, "billingTtlSeconds"),
    ({"idempotencyExpirySeconds": 30}, "idempotencyExpirySeconds"),
    ({"ttl": 5}, "ttl"),
])
def test_bad_settings_name_their_keys(values: dict[str, Any], key: str) -> None:
    with pytest.raises(ValueError, match=key):
        settings(**values)


def _finished(context: Any, opts: Any) -> MicroserviceCache:
    service = MicroserviceCache("cache", settings(), context, opts)
    service.finish(context)
    return service


def test_every_function_takes_its_reserved_concurrency_and_is_watched() -> None:
    run = run_service(_finished, environment={**ENVIRONMENT, "alarm_topic_arn":
                                              f"arn:aws:sns:{REGION}:{ACCOUNT}:alarms"})
    functions = {r.name for r in run.of_type(FUNCTION)}
    assert functions == {f"cache-{name}-function" for name in
                         ("billing", "payment", "profile", "manager", "refresher")}
    alarms = [r.inputs for r in run.of_type("aws:cloudwatch/metricAlarm:MetricAlarm")]
    namespaces = {alarm.get("namespace") for alarm in alarms}
    assert {"AWS/Lambda", "AWS/ElastiCache", "AWS/DAX"} <= namespaces
