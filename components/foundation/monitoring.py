"""The monitoring block: alarms and a dashboard for everything a service runs.

How it is applied: by construction, not by memory
==================================================

A service never creates its alarms. ``build_services`` (``components/services``), the only way
a service gets into a stack, hands every service it built to ``Monitoring``. The block walks the
service's resource tree (every child, grandchild... that the service and its foundation blocks
created), finds what it knows how to watch (``WATCHED``), and creates the alarms and the
dashboard as children of the service. A new service, or a new table in an old one, is watched
without a line of monitoring code; ``tests/foundation/test_monitoring.py`` fails for any
service of the catalog whose watchable resources lack their alarms.

Only resources on the stack's regional provider are watched: an alarm notifies a topic of its
own region. Lambda@Edge functions (created in us-east-1, replicated to CloudFront's regions,
where their metrics are) and CloudFront distributions are not watched yet.

What is watched
===============

=====================================  ==========================================================
Resource                               Alarms (thresholds: ``AlarmThresholds``, from config)
=====================================  ==========================================================
Lambda function                        Errors (sum); Throttles (sum); p99 Duration above
                                       ``lambdaDurationPercent`` of the function's timeout
REST API stage                         4XXError rate (average, percent); 5XXError (sum); p99
                                       Latency (ApiName and Stage)
HTTP API stage                         4xx rate; 5xx (sum); p99 Latency (ApiId and Stage)
SQS queue                              ApproximateAgeOfOldestMessage (maximum)
SQS dead-letter queue                  any visible message (maximum >= 1); so is an async
                                       function's on-failure queue, a dead letter itself
DynamoDB table                         ReadThrottleEvents + WriteThrottleEvents (metric math)
Step Functions state machine           ExecutionsFailed + ExecutionsTimedOut (metric math)
ElastiCache serverless cache           Evictions (sum); ThrottledCmds (sum): a serverless cache
                                       has no CPU to watch, it throttles when it cannot scale
DAX cluster                            CPUUtilization (average); EvictedSize (sum)
ECS service                            CPUUtilization and MemoryUtilization (average)
=====================================  ==========================================================

Default settings
================

==========================  ===================================================================
Setting                     Default
==========================  ===================================================================
Actions                     alarm -> the environment's alarm topic; OK -> the same topic when
                            ``notifyOnOk`` (prod); actions enabled; no insufficient-data action
Missing data                ``notBreaching`` for counts, rates and latencies (no traffic is
                            no failure); ``missing`` for utilization (a gap keeps the state)
Periods                     ``periodSeconds``, ``datapointsToAlarm`` of ``evaluationPeriods``
Dashboard                   ``blueprints-<stage>-<service>``: an alarm status widget, then one
                            graph per alarm, with its threshold
==========================  ===================================================================
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws

from components.config import AlarmThresholds, Defaults

FUNCTION_BLOCK = "blueprints:foundation:Function"
QUEUE_BLOCK = "blueprints:foundation:Queue"
LAMBDA = "aws:lambda/function:Function"
REST_API = "aws:apigateway/restApi:RestApi"
REST_STAGE = "aws:apigateway/stage:Stage"
HTTP_STAGE = "aws:apigatewayv2/stage:Stage"
QUEUE = "aws:sqs/queue:Queue"
TABLE = "aws:dynamodb/table:Table"
STATE_MACHINE = "aws:sfn/stateMachine:StateMachine"
SERVERLESS_CACHE = "aws:elasticache/serverlessCache:ServerlessCache"
DAX = "aws:dax/cluster:Cluster"
ECS_SERVICE = "aws:ecs/service:Service"

# Each watched type and the alarm suffixes it gets (a dead-letter queue is a queue's kind).
WATCHED: Mapping[str, tuple[str, ...]] = {
    LAMBDA: ("errors", "throttles", "duration"),
    REST_STAGE: ("client-errors", "server-errors", "latency"),
    HTTP_STAGE: ("client-errors", "server-errors", "latency"),
    QUEUE: ("age",),
    TABLE: ("throttles",),
    STATE_MACHINE: ("failures",),
    SERVERLESS_CACHE: ("evictions", "throttled-commands"),
    DAX: ("cpu", "evictions"),
    ECS_SERVICE: ("cpu", "memory"),
}
DEAD_LETTER_ALARMS = ("messages",)

NOT_BREACHING = "notBreaching"
MISSING = "missing"


@dataclass(frozen=True)
class Watched:
    """A resource the block watches: its logical name, its type and, for queues, whether it is
    a dead letter (nobody consumes it: any message in it is a failure)."""

    name: str
    type: str
    resource: pulumi.CustomResource
    dead_letter: bool = False

    @property
    def suffixes(self) -> tuple[str, ...]:
        return DEAD_LETTER_ALARMS if self.dead_letter else WATCHED[self.type]


@dataclass(frozen=True)
class MonitoringArgs:
    """What to watch and where alarms go.

    ``service`` is the component whose tree is walked; ``provider`` the stack's regional
    provider (resources on another one are not watched); ``skip`` names foundation function
    blocks left out (Lambda@Edge functions)."""

    service: pulumi.Resource
    service_name: str
    thresholds: AlarmThresholds
    alarm_topic_arn: pulumi.Input[str]
    provider: pulumi.ProviderResource | None = None
    skip: frozenset[str] = field(default_factory=frozenset)


def _children(resource: pulumi.Resource) -> list[pulumi.Resource]:
    # The SDK keeps each resource's children as it registers them; there is no public reader.
    return sorted(getattr(resource, "_childResources", set()),
                  key=lambda child: (child._type, child._name))


def _walk(resource: pulumi.Resource, skip: frozenset[str],
          ) -> Iterator[tuple[pulumi.Resource, pulumi.Resource]]:
    """Every (parent, child) below ``resource``, leaving out the skipped function blocks."""
    for child in _children(resource):
        if child._type == FUNCTION_BLOCK and child._name in skip:
            continue
        yield resource, child
        yield from _walk(child, skip)


def watched_resources(args: MonitoringArgs) -> list[Watched]:
    """Everything in the service's tree that the block watches, in a stable order."""
    parents = {id(child): parent for parent, child in _walk(args.service, args.skip)}
    found = []
    for _, resource in _walk(args.service, args.skip):
        if resource._type not in WATCHED or not isinstance(resource, pulumi.CustomResource):
            continue
        provider = getattr(resource, "_provider", None)
        if args.provider is not None and provider is not None and provider is not args.provider:
            continue
        found.append(Watched(resource._name, resource._type, resource,
                             dead_letter=_dead_letter(resource, parents)))
    return found


def _dead_letter(resource: pulumi.Resource, parents: Mapping[int, pulumi.Resource]) -> bool:
    """A queue block's DLQ; or either queue of a function block's on-failure queue block."""
    block = parents.get(id(resource))
    if resource._type != QUEUE or block is None or block._type != QUEUE_BLOCK:
        return False
    owner = parents.get(id(block))
    return (getattr(block, "dead_letter_queue", None) is resource
            or (owner is not None and owner._type == FUNCTION_BLOCK))


class Monitoring(pulumi.ComponentResource):
    """The alarms and the dashboard of one service (see the module docstring)."""

    alarms: dict[str, aws.cloudwatch.MetricAlarm]
    dashboard: aws.cloudwatch.Dashboard
    watched: list[Watched]

    def __init__(self, name: str, args: MonitoringArgs, defaults: Defaults,
                 opts: pulumi.ResourceOptions | None = None) -> None:
        watched = watched_resources(args)
        super().__init__("blueprints:foundation:Monitoring", name, None, opts)
        self._args = args
        self._defaults = defaults
        self.watched = watched
        self.alarms = {}
        rest_apis = [child for _, child in _walk(args.service, args.skip)
                     if isinstance(child, aws.apigateway.RestApi)]
        for item in watched:
            self._watch(item, rest_apis)
        self.dashboard = self._dashboard(name)
        self.register_outputs({
            "alarmArns": [alarm.arn for alarm in self.alarms.values()],
            "dashboardName": self.dashboard.dashboard_name,
        })

    # --- alarms --------------------------------------------------------------------------

    def _alarm(self, item: Watched, suffix: str, description: str, *,
               threshold: pulumi.Input[float], comparison: str = "GreaterThanOrEqualToThreshold",
               treat_missing_data: str = NOT_BREACHING, **metric: Any) -> None:
        limits = self._args.thresholds
        topic = self._args.alarm_topic_arn
        every = (f"{limits.datapoints_to_alarm} of {limits.evaluation_periods} periods of "
                 f"{limits.period_seconds} s")
        self.alarms[f"{item.name}-{suffix}"] = aws.cloudwatch.MetricAlarm(
            f"{item.name}-{suffix}",
            alarm_description=f"{self._args.service_name}: {description}, in {every}",
            comparison_operator=comparison,
            threshold=threshold,
            evaluation_periods=limits.evaluation_periods,
            datapoints_to_alarm=limits.datapoints_to_alarm,
            treat_missing_data=treat_missing_data,
            actions_enabled=True,
            alarm_actions=[topic],
            ok_actions=[topic] if limits.notify_on_ok else [],
            insufficient_data_actions=[],
            **metric,
            opts=pulumi.ResourceOptions(parent=self))

    def _metric(self, namespace: str, metric_name: str, dimensions: Mapping[str, Any], *,
                statistic: str | None = None, extended_statistic: str | None = None,
                ) -> dict[str, Any]:
        return {"namespace": namespace, "metric_name": metric_name, "dimensions": dimensions,
                "period": self._args.thresholds.period_seconds, "statistic": statistic,
                "extended_statistic": extended_statistic}

    def _sum_of(self, namespace: str, label: str, dimensions: Mapping[str, Any],
                *metric_names: str) -> dict[str, Any]:
        """Metric math: the sum of several metrics of one resource, as one alarm."""
        ids = [f"m{index}" for index in range(len(metric_names))]
        queries: list[aws.cloudwatch.MetricAlarmMetricQueryArgsDict] = [
            {"id": metric_id, "return_data": False,
             "metric": {"namespace": namespace, "metric_name": metric_name,
                        "dimensions": dimensions, "stat": "Sum",
                        "period": self._args.thresholds.period_seconds}}
            for metric_id, metric_name in zip(ids, metric_names, strict=True)]
        queries.append({"id": "total", "expression": " + ".join(ids), "label": label,
                        "return_data": True})
        return {"metric_queries": queries}

    def _watch(self, item: Watched, rest_apis: Sequence[pulumi.Resource]) -> None:
        limits = self._args.thresholds
        resource: Any = item.resource
        if item.dead_letter:
            self._alarm(item, "messages", f"a message in dead-letter queue {item.name}",
                        threshold=1, **self._metric(
                            "AWS/SQS", "ApproximateNumberOfMessagesVisible",
                            {"QueueName": resource.name}, statistic="Maximum"))
            return
        match item.type:
            case "aws:lambda/function:Function":
                dimensions = {"FunctionName": resource.name}
                self._alarm(item, "errors", f"{limits.lambda_errors}+ errors of {item.name}",
                            threshold=limits.lambda_errors, **self._metric(
                                "AWS/Lambda", "Errors", dimensions, statistic="Sum"))
                self._alarm(item, "throttles",
                            f"{limits.lambda_throttles}+ throttled invocations of {item.name} "
                            "(reserved concurrency 0 throttles every one: the kill switch)",
                            threshold=limits.lambda_throttles, **self._metric(
                                "AWS/Lambda", "Throttles", dimensions, statistic="Sum"))
                percent = limits.lambda_duration_percent
                self._alarm(item, "duration",
                            f"p99 duration of {item.name} over {percent}% of its timeout",
                            comparison="GreaterThanThreshold",
                            threshold=pulumi.Output.from_input(resource.timeout).apply(
                                lambda timeout: float(timeout * 10 * percent)),
                            **self._metric("AWS/Lambda", "Duration", dimensions,
                                           extended_statistic="p99"))
            case "aws:apigateway/stage:Stage" | "aws:apigatewayv2/stage:Stage":
                rest = item.type == REST_STAGE
                dimensions = ({"ApiName": _rest_api_name(resource, rest_apis),
                               "Stage": resource.stage_name} if rest else
                              {"ApiId": resource.api_id, "Stage": resource.name})
                client, server = ("4XXError", "5XXError") if rest else ("4xx", "5xx")
                self._alarm(item, "client-errors",
                            f"{limits.api_client_error_percent}%+ of requests to {item.name} "
                            "refused (4XX)",
                            threshold=limits.api_client_error_percent / 100, **self._metric(
                                "AWS/ApiGateway", client, dimensions, statistic="Average"))
                self._alarm(item, "server-errors",
                            f"{limits.api_server_errors}+ server errors (5XX) of {item.name}",
                            threshold=limits.api_server_errors, **self._metric(
                                "AWS/ApiGateway", server, dimensions, statistic="Sum"))
                self._alarm(item, "latency",
                            f"p99 latency of {item.name} over {limits.api_latency_ms} ms",
                            comparison="GreaterThanThreshold", threshold=limits.api_latency_ms,
                            **self._metric("AWS/ApiGateway", "Latency", dimensions,
                                           extended_statistic="p99"))
            case "aws:sqs/queue:Queue":
                self._alarm(item, "age",
                            f"the oldest message in {item.name} older than "
                            f"{limits.queue_age_seconds} s",
                            threshold=limits.queue_age_seconds, **self._metric(
                                "AWS/SQS", "ApproximateAgeOfOldestMessage",
                                {"QueueName": resource.name}, statistic="Maximum"))
            case "aws:dynamodb/table:Table":
                self._alarm(item, "throttles",
                            f"{limits.table_throttles}+ throttled requests on {item.name}",
                            threshold=limits.table_throttles, **self._sum_of(
                                "AWS/DynamoDB", "Throttled requests",
                                {"TableName": resource.name},
                                "ReadThrottleEvents", "WriteThrottleEvents"))
            case "aws:sfn/stateMachine:StateMachine":
                self._alarm(item, "failures",
                            f"{limits.workflow_failures}+ failed or timed-out executions of "
                            f"{item.name}",
                            threshold=limits.workflow_failures, **self._sum_of(
                                "AWS/States", "Failed executions",
                                {"StateMachineArn": resource.arn},
                                "ExecutionsFailed", "ExecutionsTimedOut"))
            case "aws:elasticache/serverlessCache:ServerlessCache":
                dimensions = {"clusterId": resource.name}
                self._alarm(item, "evictions",
                            f"{limits.cache_evictions}+ keys evicted from {item.name}",
                            threshold=limits.cache_evictions, **self._metric(
                                "AWS/ElastiCache", "Evictions", dimensions, statistic="Sum"))
                self._alarm(item, "throttled-commands",
                            f"commands throttled by {item.name}: it scales slower than the load",
                            threshold=1, **self._metric(
                                "AWS/ElastiCache", "ThrottledCmds", dimensions, statistic="Sum"))
            case "aws:dax/cluster:Cluster":
                dimensions = {"ClusterId": resource.cluster_name}
                self._alarm(item, "cpu", f"CPU of {item.name} over {limits.cache_cpu_percent}%",
                            comparison="GreaterThanThreshold", treat_missing_data=MISSING,
                            threshold=limits.cache_cpu_percent, **self._metric(
                                "AWS/DAX", "CPUUtilization", dimensions, statistic="Average"))
                self._alarm(item, "evictions",
                            f"{limits.cache_evictions}+ bytes evicted from {item.name}",
                            threshold=limits.cache_evictions, **self._metric(
                                "AWS/DAX", "EvictedSize", dimensions, statistic="Sum"))
            case "aws:ecs/service:Service":
                dimensions = {"ClusterName": pulumi.Output.from_input(resource.cluster).apply(
                                  lambda arn: str(arn).rsplit("/", 1)[-1]),
                              "ServiceName": resource.name}
                for suffix, metric_name, percent in (
                        ("cpu", "CPUUtilization", limits.container_cpu_percent),
                        ("memory", "MemoryUtilization", limits.container_memory_percent)):
                    self._alarm(item, suffix, f"{metric_name} of {item.name} over {percent}%",
                                comparison="GreaterThanThreshold", treat_missing_data=MISSING,
                                threshold=percent, **self._metric(
                                    "AWS/ECS", metric_name, dimensions, statistic="Average"))

    # --- dashboard -----------------------------------------------------------------------

    def _dashboard(self, name: str) -> aws.cloudwatch.Dashboard:
        region = self._defaults.region
        arns = [alarm.arn for alarm in self.alarms.values()]
        widgets: list[Any] = [{
            "type": "alarm", "width": 24, "height": 2 + len(arns) // 4,
            "properties": {"title": f"{self._args.service_name}: alarms",
                           "alarms": arns, "sortBy": "stateUpdatedTimestamp"}}]
        widgets += [{
            "type": "metric", "width": 8, "height": 6,
            "properties": {"title": alarm_name, "region": region,
                           "annotations": {"alarms": [alarm.arn]}, "view": "timeSeries"}}
            for alarm_name, alarm in self.alarms.items()]
        return aws.cloudwatch.Dashboard(
            f"{name}-dashboard",
            dashboard_name=f"blueprints-{self._defaults.stage}-{self._args.service_name}",
            dashboard_body=pulumi.Output.json_dumps({"widgets": widgets}),
            opts=pulumi.ResourceOptions(parent=self))


def _rest_api_name(stage: Any, rest_apis: Sequence[Any]) -> pulumi.Output[str]:
    """The name of the service's REST API that ``stage`` belongs to: REST metrics are by API
    name, and a stage knows only its API's id."""
    ids = [api.id for api in rest_apis]
    names = [api.name for api in rest_apis]

    def pick(values: list[Any]) -> str:
        stage_api, found = values[0], values[1:]
        by_id = dict(zip(found[:len(ids)], found[len(ids):], strict=True))
        if stage_api not in by_id:
            raise ValueError(f"REST stage of API {stage_api}: not an API of this service")
        return str(by_id[stage_api])

    return pulumi.Output.all(stage.rest_api, *ids, *names).apply(pick)
