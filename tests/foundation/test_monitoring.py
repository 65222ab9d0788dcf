"""The monitoring block under mocks: every service of the stacks gets alarms for everything it
runs (by construction, through build_services), to the environment's alarm topic, with the
stage's thresholds and a dashboard; reserved concurrency comes from config; the alarm topic,
its subscriptions and the key policy that lets CloudWatch publish to it."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import pytest

from components.config import STAGE_ALARMS, ConfigError
from components.environment.environment import key_policy
from components.foundation.monitoring import DEAD_LETTER_ALARMS, WATCHED
from tests.support import planned
from tools.mock_runtime import Resource, StackRun, load_stack_file, reveal, run_stack

ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
DASHBOARD = "aws:cloudwatch/dashboard:Dashboard"
TOPIC = "aws:sns/topic:Topic"
SUBSCRIPTION = "aws:sns/topicSubscription:TopicSubscription"
LAMBDA = "aws:lambda/function:Function"
QUEUE = "aws:sqs/queue:Queue"


def _services_with(stack: str, **changes: Mapping[str, Any]) -> dict[str, Any]:
    services = load_stack_file(stack)["config"]["blueprints:services"]
    return {"blueprints:services": {name: {**services.get(name, {}), **change}
                                    for name, change in {**{n: {} for n in services},
                                                         **changes}.items()}}


def alarms_of(run: StackRun) -> dict[str, Resource]:
    return {alarm.name: alarm for alarm in run.of_type(ALARM)}


def topic_arn(run: StackRun, stack: str) -> str:
    if stack == "prod":
        return str(reveal(run.outputs["alarmTopicArn"]))
    return str(run.one(TOPIC, "dev-alarms").state["arn"])


def _dead_letter(run: StackRun, queue: Resource) -> bool:
    block = run.by_urn(str(queue.parent))
    owner = run.by_urn(str(block.parent)) if block.parent else None
    return block.type == "blueprints:foundation:Queue" and (
        queue.name.endswith("-dlq") or (owner is not None
                                        and owner.type == "blueprints:foundation:Function"))


def _regional(run: StackRun, resource: Resource) -> bool:
    provider = run.provider_of(resource)
    return provider is None or reveal(provider.inputs.get("region")) == "eu-west-1"


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_every_watchable_resource_of_every_service_has_its_alarms(stack: str) -> None:
    run = planned(stack)
    alarms = alarms_of(run)
    services = load_stack_file(stack)["config"]["blueprints:services"]
    # The environment's own queues (the alarm path's dead letters) are not a service's.
    watched = [r for r in run.managed() if r.type in WATCHED and _regional(run, r)
               and r.name.split("-", 1)[0] != stack]
    assert {r.name.split("-", 1)[0] for r in watched} == set(services)
    missing = []
    for resource in watched:
        dead = resource.type == QUEUE and _dead_letter(run, resource)
        for suffix in DEAD_LETTER_ALARMS if dead else WATCHED[resource.type]:
            if f"{resource.name}-{suffix}" not in alarms:
                missing.append(f"{resource.name}-{suffix}")
    assert not missing, missing
    # Every alarm notifies the environment's topic, and nothing else.
    arn = topic_arn(run, stack)
    for alarm in alarms.values():
        assert alarm.inputs["alarmActions"] == [arn], alarm.name
        assert alarm.inputs["actionsEnabled"] is True
        assert alarm.inputs["treatMissingData"] in ("notBreaching", "missing")
        assert alarm.inputs["okActions"] == ([arn] if stack == "prod" else [])


def test_edge_functions_are_not_watched_from_the_stack_region() -> None:
    alarms = alarms_of(planned("dev"))
    assert not [name for name in alarms if "router" in name]


def test_function_alarms_use_the_stage_thresholds_and_the_timeout() -> None:
    run = planned("dev")
    alarms = alarms_of(run)
    dev = STAGE_ALARMS["dev"]
    function = run.one(LAMBDA, "queryKeyApi-customizations-function")
    name = reveal(function.state["name"])
    errors = alarms["queryKeyApi-customizations-function-errors"].inputs
    assert (errors["namespace"], errors["metricName"], errors["statistic"]) == (
        "AWS/Lambda", "Errors", "Sum")
    assert errors["dimensions"] == {"FunctionName": name}
    assert errors["threshold"] == dev.lambda_errors
    assert errors["comparisonOperator"] == "GreaterThanOrEqualToThreshold"
    assert errors["period"] == dev.period_seconds
    assert errors["evaluationPeriods"] == dev.evaluation_periods
    duration = alarms["queryKeyApi-customizations-function-duration"].inputs
    assert duration["extendedStatistic"] == "p99"
    assert "statistic" not in duration
    assert duration["threshold"] == function.inputs["timeout"] * 1000 * \
        dev.lambda_duration_percent / 100


def test_prod_thresholds_are_stricter_and_look_at_minutes() -> None:
    alarms = alarms_of(planned("prod"))
    errors = alarms["queryKeyApi-customizations-function-errors"].inputs
    prod = STAGE_ALARMS["prod"]
    assert errors["threshold"] == prod.lambda_errors < STAGE_ALARMS["dev"].lambda_errors
    assert (errors["period"], errors["evaluationPeriods"], errors["datapointsToAlarm"]) == (
        60, 5, 3)


def test_api_alarms_name_the_api_and_stage_metrics_use() -> None:
    run = planned("dev")
    alarms = alarms_of(run)
    rest_api = run.one("aws:apigateway/restApi:RestApi", "queryKeyApi-api")
    rest = alarms["queryKeyApi-stage-server-errors"].inputs
    assert rest["metricName"] == "5XXError"
    assert rest["dimensions"] == {"ApiName": reveal(rest_api.state["name"]), "Stage": "dev"}
    rate = alarms["queryKeyApi-stage-client-errors"].inputs
    assert (rate["metricName"], rate["statistic"]) == ("4XXError", "Average")
    assert rate["threshold"] == STAGE_ALARMS["dev"].api_client_error_percent / 100
    http = alarms["entityResolution-stage-client-errors"].inputs
    api = run.one("aws:apigatewayv2/api:Api", "entityResolution-api")
    assert http["metricName"] == "4xx"
    assert http["dimensions"] == {"ApiId": api.state["id"], "Stage": "$default"}


def test_queues_dead_letter_queues_tables_and_workflows() -> None:
    alarms = alarms_of(planned("dev"))
    age = alarms["asyncAnalytics-jobs-queue-age"].inputs
    assert (age["metricName"], age["statistic"]) == ("ApproximateAgeOfOldestMessage", "Maximum")
    dlq = alarms["asyncAnalytics-jobs-dlq-messages"].inputs
    assert (dlq["metricName"], dlq["threshold"]) == ("ApproximateNumberOfMessagesVisible", 1)
    # An async function's on-failure queue is a dead letter itself.
    assert "entityResolution-builder-failures-queue-messages" in alarms
    table = alarms["queryKeyApi-customizations-table-throttles"].inputs
    queries = {query["id"]: query for query in table["metricQueries"]}
    assert queries["total"]["expression"] == "m0 + m1"
    assert {queries[m]["metric"]["metricName"] for m in ("m0", "m1")} == {
        "ReadThrottleEvents", "WriteThrottleEvents"}
    workflow = next(alarm for name, alarm in alarms.items()
                    if name.startswith("asyncAnalytics") and name.endswith("-failures")
                    and "metricQueries" in alarm.inputs)
    names = {q["metric"]["metricName"] for q in workflow.inputs["metricQueries"] if "metric" in q}
    assert names == {"ExecutionsFailed", "ExecutionsTimedOut"}


def test_each_service_has_a_dashboard_with_its_alarms() -> None:
    run = planned("dev")
    dashboards = {d.inputs["dashboardName"]: d for d in run.of_type(DASHBOARD)}
    services = load_stack_file("dev")["config"]["blueprints:services"]
    assert set(dashboards) == {f"blueprints-dev-{name}" for name in services}
    body = json.loads(reveal(dashboards["blueprints-dev-queryKeyApi"].inputs["dashboardBody"]))
    arns = {str(a.state["arn"]) for a in run.of_type(ALARM) if a.name.startswith("queryKeyApi")}
    assert set(body["widgets"][0]["properties"]["alarms"]) == arns
    assert len(body["widgets"]) == len(arns) + 1


def test_the_alarm_topic_is_encrypted_and_only_this_accounts_alarms_publish() -> None:
    run = planned("dev")
    topic = run.one(TOPIC, "dev-alarms")
    key = run.one("aws:kms/key:Key", "dev-key")
    assert topic.inputs["kmsMasterKeyId"] == key.state["arn"]
    policy = json.loads(reveal(run.one("aws:sns/topicPolicy:TopicPolicy",
                                       "dev-alarms-policy").inputs["policy"]))
    publish = next(s for s in policy["Statement"] if s["Effect"] == "Allow")
    assert publish["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
    assert publish["Action"] == "sns:Publish" or publish["Action"] == ["sns:Publish"]
    assert publish["Condition"] == {"StringEquals": {"aws:SourceAccount": "111122223333"}}
    assert any(s["Effect"] == "Deny" for s in policy["Statement"])
    document = key_policy(partition="aws", dns_suffix="amazonaws.com", region="eu-west-1",
                          account_id="111122223333")
    cloudwatch = next(s for s in document["Statement"]
                      if s["Principal"] == {"Service": "cloudwatch.amazonaws.com"})
    assert cloudwatch["Action"] == ["kms:Decrypt", "kms:GenerateDataKey"]


def test_alarm_subscriptions_come_from_the_environment_config() -> None:
    environment = load_stack_file("dev")["config"]["blueprints:environment"]
    run = run_stack("dev", config_overrides={"blueprints:environment": {
        **environment, "alarmEmails": ["oncall@example.com"],
        "alarmHttpsEndpoints": ["https://alerts.example.com/sns"]}})
    subscriptions = {s.inputs["protocol"]: s for s in run.of_type(SUBSCRIPTION)
                     if s.name.startswith("dev-alarms-")}
    assert {p: s.inputs["endpoint"] for p, s in subscriptions.items()} == {
        "email": "oncall@example.com", "https": "https://alerts.example.com/sns"}
    dlq = run.one(QUEUE, "dev-alarms-undelivered-queue")
    for subscription in subscriptions.values():
        redrive = json.loads(reveal(subscription.inputs["redrivePolicy"]))
        assert redrive == {"deadLetterTargetArn": dlq.state["arn"]}
    assert not [s for s in planned("dev").of_type(SUBSCRIPTION) if s.name.startswith("dev-al")]


def test_reserved_concurrency_comes_from_config_and_zero_is_the_kill_switch() -> None:
    run = run_stack("dev", config_overrides=_services_with(
        "dev", queryKeyApi={"reservedConcurrency": {"customizations": 0, "authorizer": 20}}))
    assert run.one(LAMBDA, "queryKeyApi-customizations-function").inputs[
        "reservedConcurrentExecutions"] == 0
    assert run.one(LAMBDA, "queryKeyApi-authorizer-function").inputs[
        "reservedConcurrentExecutions"] == 20
    assert "reservedConcurrentExecutions" not in run.one(
        LAMBDA, "privateApi-whoami-function").inputs


def test_a_reserved_concurrency_for_no_function_names_the_functions() -> None:
    with pytest.raises(ConfigError) as raised:
        run_stack("dev", config_overrides=_services_with(
            "dev", queryKeyApi={"reservedConcurrency": {"customisations": 5}}))
    assert ("blueprints:services.queryKeyApi.reservedConcurrency.customisations: queryKeyApi "
            "has no function 'customisations'; its functions: authorizer, customizations"
            ) in str(raised.value)


def test_an_edge_function_takes_no_reserved_concurrency() -> None:
    with pytest.raises(ConfigError, match="router is a Lambda@Edge function"):
        run_stack("dev", config_overrides=_services_with(
            "dev", headerVersioning={"reservedConcurrency": {"router": 5}}))


def test_thresholds_are_read_from_config_per_stack_and_per_service() -> None:
    run = run_stack("dev", config_overrides={
        "blueprints:alarms": {"lambdaErrors": 2, "notifyOnOk": True},
        **_services_with("dev", privateApi={"alarms": {"lambdaErrors": 9}})})
    alarms = alarms_of(run)
    assert alarms["queryKeyApi-customizations-function-errors"].inputs["threshold"] == 2
    assert alarms["privateApi-whoami-function-errors"].inputs["threshold"] == 9
    assert alarms["privateApi-whoami-function-errors"].inputs["okActions"]


def test_bad_thresholds_name_the_key() -> None:
    with pytest.raises(ConfigError) as raised:
        run_stack("dev", config_overrides={
            "blueprints:alarms": {"periodSeconds": 120, "datapointsToAlarm": 3},
            **_services_with("dev", privateApi={"alarms": {"lambdaDurationPercent": 150}})})
    message = str(raised.value)
    assert "blueprints:alarms.periodSeconds: 120 is not allowed; use one of 60, 300, 900, " \
           "3600" in message
    assert "blueprints:services.privateApi.alarms.lambdaDurationPercent: must be from 1 to " \
           "100, not 150" in message
