"""Container API: a containerized HTTP back end on Fargate, private in the VPC, reached from API
Gateway through VPC links, a REST API through a Network Load Balancer and an HTTP API through
an Application Load Balancer or Cloud Map.

The catalog's post 12 (``../shared/CATALOG.md``). The app is ``functions/container_app`` (a
product catalogue and its orders on DynamoDB); one image runs as two **back ends**, two Fargate
services that differ in ``APP_RESOURCES``: ``products`` serves ``/products...``, ``orders``
serves ``/orders...``. What it builds:

- **One image** (``foundation/container.py``): ECR, scan on push, immutable tags, KMS; built
  by ``pulumi-docker-build`` where ``pulumi up`` runs (it needs a Docker engine).
- **Per back end**: a task definition (Fargate, ``awsvpc``, read-only root, non-root user, a
  container health check on ``/health``), a task role for exactly its tables, and an ECS
  service in the environment's private subnets with no public IP, ECS Exec off, the
  deployment circuit breaker with rollback, and auto scaling (``minCount``..``maxCount``) that
  tracks CPU and, behind the ALB, requests per target.
- **REST API -> VPC link -> internal NLB.** A REST API's VPC link is a PrivateLink endpoint
  service in front of one NLB, so each back end gets its own NLB listener (``NLB_PORTS``) and
  target group. Each method (``REST_METHODS``) integrates with ``HTTP_PROXY`` over the link, and
  bodies are validated at the gateway against the ``Product`` and ``Order`` models first. The
  NLB's security group admits nothing: PrivateLink traffic (the link's, which only API Gateway
  can open) is not evaluated against it (``enforceSecurityGroupInboundRulesOnPrivateLinkTraffic
  off``), and anything else in the VPC is refused.
- **HTTP API -> one VPC link -> several back ends** (``httpApiTarget``). ``alb``: an internal
  ALB whose listener routes ``/products*`` and ``/orders*`` to each back end's target group,
  the integrations' URI the listener's ARN. ``cloudMap``: each back end registers its tasks in
  a Cloud Map service of the environment's namespace (SRV records: address and port), the
  integrations' URI that service's ARN, no load balancer at all. Either way one VPC link (ENIs
  in the private subnets, with a security group of its own) reaches both back ends.
- **Security groups by reference, never a CIDR for ingress**: the tasks admit the NLB's group,
  and the ALB's (``alb``) or the VPC link's (``cloudMap``), on the app port only; the ALB
  admits the VPC link's group on its listener port only. Egress is named too: the link reaches
  the ALB (or the tasks), the load balancers reach the tasks, the tasks reach AWS APIs on 443.

**Authorization: IAM on every method and route.** Callers sign with SigV4 and need
``execute-api:Invoke`` on the route: the catalogue is a service-to-service API, the environment
has no user pool to issue tokens, and IAM needs no code in front of the containers. A web
front end would add a JWT authorizer (HTTP) or a Cognito one (REST).

**Load balancer access logs: off.** They need a bucket with SSE-S3 (ELB cannot write with KMS)
and the regional ELB account's delivery policy; every request that can reach the load balancers
comes through API Gateway, whose stages log each request as JSON, and the app logs each one it
serves. Deletion protection follows the stage (on in prod), and the ALB drops invalid header
fields.

Trade-offs (see the README): the REST path needs the NLB (PrivateLink), one listener per back
end, and gives REST's features (usage plans, WAF, request validation); the HTTP path is cheaper
and reaches many back ends through one link; ``alb`` adds layer-7 routing and health checks and
request-count scaling, ``cloudMap`` drops the load balancer (and its cost) and leaves health to
ECS and Cloud Map.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Literal

import pulumi
import pulumi_aws as aws
from pydantic import Field, model_validator
from pydantic import dataclasses as pydantic_dataclasses

from components.config import SETTINGS, Defaults, SettingsError
from components.foundation import iam
from components.foundation.container import (
    ContainerImageArgs,
    FargateTaskArgs,
    container_image,
    fargate_size_problem,
    fargate_task,
)
from components.foundation.http_api import HttpApi, HttpApiArgs
from components.foundation.rest_api import RestApi, RestApiArgs, RestStage, RestStageArgs
from components.foundation.table import Key, Table, TableArgs
from components.services.base import RegionalWebAclArn, ServiceComponent, ServiceContext

APP_CODE = "container_app"
# What the image's Dockerfile copies from its context (functions/).
APP_SOURCES = (APP_CODE, "blueprints_common")
CONTAINER = "app"
APP_PORT = 8080
ALB_PORT = 80
HEALTH_PATH = "/health"
ANYWHERE = "0.0.0.0/0"
# The back ends, each a Fargate service serving one resource path, and its NLB listener port
# (a REST VPC link reaches one NLB: one listener per back end).
BACKENDS = ("products", "orders")
NLB_PORTS: Mapping[str, int] = {"products": 8080, "orders": 8081}
# The REST API's methods per back end: (method, body model, on /{id}). REST validates bodies at
# the gateway against the models (the app checks them again); the HTTP API proxies everything.
REST_METHODS: Mapping[str, Sequence[tuple[str, str | None, bool]]] = {
    "products": [("GET", None, False), ("GET", None, True), ("PUT", "Product", True),
                 ("DELETE", None, True)],
    "orders": [("POST", "Order", False), ("GET", None, True)],
}
_ID = "^[A-Za-z0-9_-]{1,64}$"
MODELS: Mapping[str, Mapping[str, Any]] = {
    "Product": {
        "title": "Product", "type": "object", "required": ["name", "priceCents"],
        "additionalProperties": False,
        "properties": {"name": {"type": "string", "minLength": 1, "maxLength": 200},
                       "priceCents": {"type": "integer", "minimum": 0, "maximum": 100_000_000},
                       "stock": {"type": "integer", "minimum": 0, "maximum": 1_000_000}}},
    "Order": {
        "title": "Order", "type": "object", "required": ["productId", "quantity"],
        "additionalProperties": False,
        "properties": {"productId": {"type": "string", "pattern": _ID},
                       "quantity": {"type": "integer", "minimum": 1, "maximum": 100}}},
}


@pydantic_dataclasses.dataclass(frozen=True, config=SETTINGS)
class ContainerApiSettings:
    """The ``services.containerApi`` section of a stack file."""

    http_api_target: Literal["alb", "cloudMap"] = "alb"
    cpu: Literal[256, 512, 1024, 2048, 4096] = 256
    memory_mb: Annotated[int, Field(ge=512, le=30720)] = 512
    desired_count: Annotated[int, Field(ge=1, le=100)] = 2
    min_count: Annotated[int, Field(ge=1, le=100)] = 2
    max_count: Annotated[int, Field(ge=1, le=100)] = 6
    cpu_target_percent: Annotated[int, Field(ge=10, le=90)] = 60
    requests_per_target: Annotated[int, Field(ge=10, le=100_000)] = 1000
    scale_in_cooldown_seconds: Annotated[int, Field(ge=0, le=3600)] = 300
    scale_out_cooldown_seconds: Annotated[int, Field(ge=0, le=3600)] = 60
    health_check_grace_seconds: Annotated[int, Field(ge=0, le=600)] = 30
    deregistration_delay_seconds: Annotated[int, Field(ge=0, le=300)] = 30
    throttling_rate_limit: Annotated[float, Field(gt=0, le=10_000)] = 50
    throttling_burst_limit: Annotated[int, Field(ge=1, le=5_000)] = 100
    api_web_acl_arn: RegionalWebAclArn | None = None

    @model_validator(mode="after")
    def _sizes_and_counts(self) -> ContainerApiSettings:
        problems = []
        size = fargate_size_problem(self.cpu, self.memory_mb, cpu_key="cpu")
        if size:
            problems.append(("memoryMb", size))
        if self.min_count > self.max_count:
            problems.append(("minCount", f"{self.min_count} is above maxCount "
                                         f"{self.max_count}"))
        elif not self.min_count <= self.desired_count <= self.max_count:
            problems.append(("desiredCount", f"{self.desired_count} must be from minCount "
                                             f"{self.min_count} to maxCount {self.max_count}"))
        if problems:
            raise SettingsError(problems)
        return self


@dataclass(frozen=True)
class _Groups:
    """The service's security groups."""

    tasks: aws.ec2.SecurityGroup
    nlb: aws.ec2.SecurityGroup
    link: aws.ec2.SecurityGroup
    alb: aws.ec2.SecurityGroup | None


@dataclass(frozen=True)
class _Targets:
    """Where a back end's tasks register: load balancer target groups, a Cloud Map service."""

    nlb: aws.lb.TargetGroup
    alb: aws.lb.TargetGroup | None
    discovery: aws.servicediscovery.Service | None


class ContainerApi(ServiceComponent):
    """Two Fargate back ends behind a REST API (VPC link, NLB) and an HTTP API (one VPC link to
    an ALB or Cloud Map)."""

    def __init__(self, name: str, settings: ContainerApiSettings, context: ServiceContext,
                 opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("blueprints:services:ContainerApi", name, None, opts)
        defaults = context.defaults
        environment = context.environment
        child = pulumi.ResourceOptions(parent=self)
        key = environment.kms_key_arn
        alb_mode = settings.http_api_target == "alb"

        self.tables = {resource: Table(f"{name}-{resource}", TableArgs(
            hash_key=Key("id", "S"), kms_key_arn=key), defaults, child)
            for resource in BACKENDS}
        built = container_image(name, ContainerImageArgs(
            code=APP_CODE, sources=APP_SOURCES, kms_key_arn=key), defaults, parent=self,
            provider=context.providers.images)
        self.repository, image_uri = built.repository, built.uri

        groups = self._security_groups(name, environment, alb_mode, child)
        subnets = environment.private_subnet_ids
        self.nlb = aws.lb.LoadBalancer(
            f"{name}-nlb", name_prefix="nlb-", load_balancer_type="network", internal=True,
            subnets=subnets, security_groups=[groups.nlb.id], ip_address_type="ipv4",
            # The REST VPC link's PrivateLink traffic is not held to the group's inbound rules
            # (its source would be API Gateway's own addresses); all other traffic is, and the
            # group admits none.
            enforce_security_group_inbound_rules_on_private_link_traffic="off",
            enable_cross_zone_load_balancing=True,
            enable_deletion_protection=defaults.deletion_protection,
            tags={"Name": f"{name}-nlb"}, opts=child)
        self.alb: aws.lb.LoadBalancer | None = None
        self.alb_listener: aws.lb.Listener | None = None
        if alb_mode:
            assert groups.alb is not None
            self.alb = aws.lb.LoadBalancer(
                f"{name}-alb", name_prefix="alb-", load_balancer_type="application",
                internal=True, subnets=subnets, security_groups=[groups.alb.id],
                ip_address_type="ipv4", drop_invalid_header_fields=True,
                desync_mitigation_mode="defensive", idle_timeout=60,
                enable_deletion_protection=defaults.deletion_protection,
                tags={"Name": f"{name}-alb"}, opts=child)
            self.alb_listener = aws.lb.Listener(
                f"{name}-alb", load_balancer_arn=self.alb.arn, port=ALB_PORT, protocol="HTTP",
                default_actions=[{"type": "fixed-response", "fixed_response": {
                    "content_type": "application/json", "status_code": "404",
                    "message_body": json.dumps({"message": "No such resource"})}}],
                opts=child)

        self.services: dict[str, aws.ecs.Service] = {}
        self.nlb_listeners: dict[str, aws.lb.Listener] = {}
        self.discovery: dict[str, aws.servicediscovery.Service] = {}
        for index, backend in enumerate(BACKENDS):
            targets, ready = self._targets(name, backend, index, settings, environment, groups,
                                           child)
            task = self._task(name, backend, defaults, environment, image_uri, settings)
            self.services[backend] = self._service(name, backend, settings, environment,
                                                   groups, targets, task, ready)
            self._scaling(name, backend, settings, environment, targets, child)

        self.rest_api, rest_stage = self._rest_api(name, settings, context, child)
        self.http_api = self._http_api(name, settings, defaults, environment, groups, child)
        self.exports = {
            "restApiUrl": rest_stage.invoke_url,
            "httpApiUrl": self.http_api.api_endpoint,
            "serviceNames": {backend: service.name for backend, service in self.services.items()},
            "nlbDnsName": self.nlb.dns_name,
            **({"albDnsName": self.alb.dns_name} if self.alb is not None else {}),
            **({"cloudMapServices": {backend: service.name
                                     for backend, service in self.discovery.items()}}
               if self.discovery else {}),
            "tableNames": {resource: table.name for resource, table in self.tables.items()},
            "repositoryUrl": self.repository.repository_url,
            "image": image_uri,
        }
        self.register_outputs(self.exports)

    # --- network ------------------------------------------------------------------------

    def _security_groups(self, name: str, environment: Any, alb_mode: bool,
                         child: pulumi.ResourceOptions) -> _Groups:
        def group(role: str, description: str) -> aws.ec2.SecurityGroup:
            return aws.ec2.SecurityGroup(f"{name}-{role}", vpc_id=environment.vpc_id,
                                         description=description,
                                         tags={"Name": f"{name}-{role}"}, opts=child)

        def allow(rule: str, into: aws.ec2.SecurityGroup, source: aws.ec2.SecurityGroup,
                  port: int, why: str) -> None:
            aws.vpc.SecurityGroupIngressRule(
                f"{name}-{rule}-in", security_group_id=into.id,
                referenced_security_group_id=source.id, ip_protocol="tcp", from_port=port,
                to_port=port, description=why, opts=child)
            aws.vpc.SecurityGroupEgressRule(
                f"{name}-{rule}-out", security_group_id=source.id,
                referenced_security_group_id=into.id, ip_protocol="tcp", from_port=port,
                to_port=port, description=why, opts=child)

        tasks = group("tasks", f"{name} tasks: only their load balancers (or VPC link) call in")
        nlb = group("nlb", f"{name} NLB: the REST API's VPC link (PrivateLink) only")
        link = group("vpc-link", f"{name} HTTP API VPC link: reaches the back ends only")
        alb = group("alb", f"{name} ALB: the HTTP API's VPC link only") if alb_mode else None
        allow("nlb-to-tasks", tasks, nlb, APP_PORT,
              "NLB to the app port (traffic and health checks)")
        if alb is not None:
            allow("link-to-alb", alb, link, ALB_PORT, "HTTP API VPC link to the ALB listener")
            allow("alb-to-tasks", tasks, alb, APP_PORT,
                  "ALB to the app port (traffic and health checks)")
        else:
            allow("link-to-tasks", tasks, link, APP_PORT,
                  "HTTP API VPC link to the app port (Cloud Map)")
        aws.vpc.SecurityGroupEgressRule(
            f"{name}-tasks-https-out", security_group_id=tasks.id, cidr_ipv4=ANYWHERE,
            ip_protocol="tcp", from_port=443, to_port=443,
            description="AWS APIs over HTTPS (ECR, CloudWatch Logs, DynamoDB)", opts=child)
        return _Groups(tasks, nlb, link, alb)

    def _targets(self, name: str, backend: str, index: int, settings: ContainerApiSettings,
                 environment: Any, groups: _Groups, child: pulumi.ResourceOptions,
                 ) -> tuple[_Targets, list[pulumi.Resource]]:
        """The back end's target groups and Cloud Map service, and what its ECS service must
        wait for (a target group can take targets only once a listener uses it)."""
        nlb_group = aws.lb.TargetGroup(
            f"{name}-{backend}-nlb", name_prefix=f"{backend[0]}n-", target_type="ip",
            protocol="TCP", port=APP_PORT, vpc_id=environment.vpc_id,
            deregistration_delay=settings.deregistration_delay_seconds,
            health_check=_health_check(interval=10, unhealthy=2),
            tags={"Name": f"{name}-{backend}-nlb"}, opts=child)
        listener = aws.lb.Listener(
            f"{name}-{backend}-nlb", load_balancer_arn=self.nlb.arn, port=NLB_PORTS[backend],
            protocol="TCP", default_actions=[{"type": "forward",
                                              "target_group_arn": nlb_group.arn}], opts=child)
        self.nlb_listeners[backend] = listener
        ready: list[pulumi.Resource] = [listener]
        alb_group = None
        discovery = None
        if self.alb_listener is not None:
            alb_group = aws.lb.TargetGroup(
                f"{name}-{backend}-alb", name_prefix=f"{backend[0]}a-", target_type="ip",
                protocol="HTTP", protocol_version="HTTP1", port=APP_PORT,
                vpc_id=environment.vpc_id,
                deregistration_delay=settings.deregistration_delay_seconds,
                health_check=_health_check(interval=15, unhealthy=3),
                tags={"Name": f"{name}-{backend}-alb"}, opts=child)
            ready.append(aws.lb.ListenerRule(
                f"{name}-{backend}", listener_arn=self.alb_listener.arn,
                priority=10 * (index + 1),
                conditions=[{"path_pattern": {"values": [f"/{backend}", f"/{backend}/*"]}}],
                actions=[{"type": "forward", "target_group_arn": alb_group.arn}], opts=child))
        else:
            discovery = aws.servicediscovery.Service(
                f"{name}-{backend}", name=f"{name.lower()}-{backend}",
                description=f"{name} {backend} tasks, for the HTTP API's VPC link",
                dns_config={"namespace_id": environment.namespace_id,
                            "dns_records": [{"type": "SRV", "ttl": 10}],
                            "routing_policy": "MULTIVALUE"},
                # ECS reports each task's health (its container health check).
                health_check_custom_config={"failure_threshold": 1},
                force_destroy=True, opts=child)
            self.discovery[backend] = discovery
        return _Targets(nlb_group, alb_group, discovery), ready

    # --- the tasks ----------------------------------------------------------------------

    def _task(self, name: str, backend: str, defaults: Defaults, environment: Any,
              image_uri: pulumi.Output[str],
              settings: ContainerApiSettings) -> aws.ecs.TaskDefinition:
        child = pulumi.ResourceOptions(parent=self)
        role = aws.iam.Role(
            f"{name}-{backend}-task", description=f"What the {name} {backend} tasks may do",
            assume_role_policy=iam.trust_policy(
                "ecs-tasks.amazonaws.com",
                conditions={"StringEquals": {"aws:SourceAccount": defaults.account_id}}),
            opts=child)
        products, orders = self.tables["products"].arn, self.tables["orders"].arn
        statements = {
            "products": [iam.allow(["dynamodb:GetItem", "dynamodb:PutItem",
                                    "dynamodb:DeleteItem", "dynamodb:Scan"], products)],
            # An order is priced from the catalogue: read it, never write it.
            "orders": [iam.allow(["dynamodb:GetItem"], products),
                       iam.allow(["dynamodb:GetItem", "dynamodb:PutItem"], orders)],
        }[backend]
        aws.iam.RolePolicy(f"{name}-{backend}-task", role=role.id, policy=iam.policy_document([
            *statements, iam.allow(["kms:Decrypt", "kms:GenerateDataKey"],
                                   environment.kms_key_arn)]), opts=child)
        return fargate_task(f"{name}-{backend}", FargateTaskArgs(
            container=CONTAINER, image=image_uri, repository_arn=self.repository.arn,
            task_role_arn=role.arn, execution_role_arn=environment.task_execution_role_arn,
            execution_role_name=environment.task_execution_role_name,
            kms_key_arn=environment.kms_key_arn, cpu=settings.cpu, memory_mb=settings.memory_mb,
            service_name=name,
            environment={"APP_RESOURCES": backend, "PORT": str(APP_PORT),
                         "PRODUCTS_TABLE": self.tables["products"].name,
                         "ORDERS_TABLE": self.tables["orders"].name,
                         "AWS_REGION": defaults.region},
            settings={
                "workingDirectory": "/app",
                "portMappings": [{"name": "http", "containerPort": APP_PORT, "protocol": "tcp",
                                  "appProtocol": "http"}],
                "healthCheck": {"command": ["CMD", "python3", "/app/healthcheck.py"],
                                "interval": 15, "timeout": 5, "retries": 3, "startPeriod": 15},
                # ECS stops a task with SIGTERM; the app drains within this, then SIGKILL.
                "stopTimeout": 30,
            }), defaults, parent=self).definition

    def _service(self, name: str, backend: str, settings: ContainerApiSettings,
                 environment: Any, groups: _Groups, targets: _Targets,
                 task: aws.ecs.TaskDefinition,
                 ready: Sequence[pulumi.Resource]) -> aws.ecs.Service:
        balancers: list[aws.ecs.ServiceLoadBalancerArgsDict] = [
            {"target_group_arn": group.arn, "container_name": CONTAINER,
             "container_port": APP_PORT}
            for group in (targets.nlb, targets.alb) if group is not None]
        registries: aws.ecs.ServiceServiceRegistriesArgsDict | None = None
        if targets.discovery is not None:
            registries = {"registry_arn": targets.discovery.arn, "container_name": CONTAINER,
                          "container_port": APP_PORT}
        return aws.ecs.Service(
            f"{name}-{backend}", cluster=environment.cluster_arn,
            task_definition=task.arn, launch_type="FARGATE", platform_version="LATEST",
            scheduling_strategy="REPLICA", desired_count=settings.desired_count,
            network_configuration={"subnets": environment.private_subnet_ids,
                                   "security_groups": [groups.tasks.id],
                                   "assign_public_ip": False},
            load_balancers=balancers, service_registries=registries,
            health_check_grace_period_seconds=settings.health_check_grace_seconds,
            deployment_circuit_breaker={"enable": True, "rollback": True},
            deployment_minimum_healthy_percent=100, deployment_maximum_percent=200,
            deployment_controller={"type": "ECS"},
            availability_zone_rebalancing="ENABLED",
            enable_execute_command=False, enable_ecs_managed_tags=True,
            propagate_tags="SERVICE", wait_for_steady_state=True,
            opts=pulumi.ResourceOptions(parent=self, depends_on=list(ready),
                                        # Auto scaling owns the count once the service runs.
                                        ignore_changes=["desiredCount"]))

    def _scaling(self, name: str, backend: str, settings: ContainerApiSettings,
                 environment: Any, targets: _Targets, child: pulumi.ResourceOptions) -> None:
        service = self.services[backend]
        target = aws.appautoscaling.Target(
            f"{name}-{backend}-scaling", service_namespace="ecs",
            scalable_dimension="ecs:service:DesiredCount",
            resource_id=pulumi.Output.concat("service/", environment.cluster_name, "/",
                                             service.name),
            min_capacity=settings.min_count, max_capacity=settings.max_count, opts=child)
        tracked: list[tuple[str, int, _MetricSpecification]] = [
            ("cpu", settings.cpu_target_percent,
             {"predefined_metric_type": "ECSServiceAverageCPUUtilization"})]
        if targets.alb is not None and self.alb is not None:
            tracked.append(("requests", settings.requests_per_target, {
                "predefined_metric_type": "ALBRequestCountPerTarget",
                # app/<alb>/<id>/targetgroup/<group>/<id>
                "resource_label": pulumi.Output.all(self.alb.arn_suffix,
                                                    targets.alb.arn_suffix).apply(
                    lambda suffixes: f"{suffixes[0]}/{suffixes[1]}")}))
        for metric, value, specification in tracked:
            aws.appautoscaling.Policy(
                f"{name}-{backend}-{metric}", policy_type="TargetTrackingScaling",
                service_namespace=target.service_namespace,
                scalable_dimension=target.scalable_dimension, resource_id=target.resource_id,
                target_tracking_scaling_policy_configuration={
                    "target_value": value, "predefined_metric_specification": specification,
                    "scale_in_cooldown": settings.scale_in_cooldown_seconds,
                    "scale_out_cooldown": settings.scale_out_cooldown_seconds,
                    "disable_scale_in": False},
                opts=child)

    # --- the APIs -----------------------------------------------------------------------

    def _rest_api(self, name: str, settings: ContainerApiSettings, context: ServiceContext,
                  child: pulumi.ResourceOptions) -> tuple[RestApi, RestStage]:
        defaults = context.defaults
        api = RestApi(f"{name}-rest", RestApiArgs(
            description="Product catalogue and orders, on Fargate through a VPC link and an "
                        "NLB", models=MODELS), defaults, child)
        link = aws.apigateway.VpcLink(
            f"{name}-rest-link", target_arn=self.nlb.arn,
            description=f"{name}: API Gateway to the internal NLB (PrivateLink)", opts=child)
        dependencies: list[pulumi.Resource] = []
        for backend in BACKENDS:
            top = aws.apigateway.Resource(f"{name}-rest-{backend}", rest_api=api.api_id,
                                          parent_id=api.root_resource_id, path_part=backend,
                                          opts=child)
            item = aws.apigateway.Resource(f"{name}-rest-{backend}-item", rest_api=api.api_id,
                                           parent_id=top.id, path_part="{id}", opts=child)
            for http_method, model, with_id in REST_METHODS[backend]:
                resource = item if with_id else top
                part = f"{backend}{'-item' if with_id else ''}-{http_method.lower()}"
                path = {"method.request.path.id": True} if with_id else None
                method = aws.apigateway.Method(
                    f"{name}-rest-{part}", rest_api=api.api_id, resource_id=resource.id,
                    http_method=http_method, authorization="AWS_IAM", api_key_required=False,
                    request_validator_id=api.request_validator_id,
                    request_models={"application/json": model} if model else None,
                    request_parameters=path,
                    opts=pulumi.ResourceOptions(parent=self, depends_on=[
                        api.models[model]] if model else None))
                uri = self.nlb.dns_name.apply(functools.partial(
                    _nlb_url, port=NLB_PORTS[backend],
                    path=f"/{backend}{'/{id}' if with_id else ''}"))
                integration = aws.apigateway.Integration(
                    f"{name}-rest-{part}", rest_api=api.api_id, resource_id=resource.id,
                    http_method=http_method, type="HTTP_PROXY",
                    integration_http_method=http_method, connection_type="VPC_LINK",
                    connection_id=link.id, uri=uri,
                    request_parameters={"integration.request.path.id":
                                        "method.request.path.id"} if with_id else None,
                    timeout_milliseconds=29_000,
                    opts=pulumi.ResourceOptions(parent=self, depends_on=[method]))
                dependencies += [method, integration]
        stage = RestStage(f"{name}-rest", RestStageArgs(
            rest_api_id=api.api_id,
            redeploy_triggers={"routes": _digest(json.dumps(REST_METHODS, sort_keys=True),
                                                 json.dumps(NLB_PORTS, sort_keys=True)),
                               "link": link.id, "nlb": self.nlb.dns_name.apply(str),
                               "api": api.redeploy_fingerprint},
            depends_on=[*dependencies, *api.deployment_dependencies(),
                        *context.account_settings],
            throttling_rate_limit=settings.throttling_rate_limit,
            throttling_burst_limit=settings.throttling_burst_limit,
            web_acl_arn=settings.api_web_acl_arn, log_kms_key_arn=context.environment.kms_key_arn),
            defaults, child)
        return api, stage

    def _http_api(self, name: str, settings: ContainerApiSettings, defaults: Defaults,
                  environment: Any, groups: _Groups, child: pulumi.ResourceOptions) -> HttpApi:
        api = HttpApi(f"{name}-http", HttpApiArgs(
            description="Product catalogue and orders, on Fargate through one VPC link",
            throttling_burst_limit=settings.throttling_burst_limit,
            throttling_rate_limit=settings.throttling_rate_limit,
            log_kms_key_arn=environment.kms_key_arn), defaults, child)
        # HttpApi builds Lambda routes only: the private integrations are built here.
        self.http_link = aws.apigatewayv2.VpcLink(
            f"{name}-http-link", name=f"{name}-http-link",
            subnet_ids=environment.private_subnet_ids, security_group_ids=[groups.link.id],
            opts=child)
        for backend in BACKENDS:
            if self.alb_listener is not None:
                uri: pulumi.Output[str] = self.alb_listener.arn
            else:
                uri = self.discovery[backend].arn
            integration = aws.apigatewayv2.Integration(
                f"{name}-http-{backend}", api_id=api.api_id, integration_type="HTTP_PROXY",
                integration_method="ANY", connection_type="VPC_LINK",
                connection_id=self.http_link.id, integration_uri=uri,
                payload_format_version="1.0", timeout_milliseconds=30_000,
                description=f"{backend} back end", opts=child)
            for suffix, route_key in (("", f"ANY /{backend}"),
                                      ("-proxy", f"ANY /{backend}/{{proxy+}}")):
                aws.apigatewayv2.Route(
                    f"{name}-http-{backend}{suffix}", api_id=api.api_id, route_key=route_key,
                    target=pulumi.Output.concat("integrations/", integration.id),
                    authorization_type="AWS_IAM", api_key_required=False, opts=child)
        return api


_MetricSpecification = (
    aws.appautoscaling.PolicyTargetTrackingScalingPolicyConfigurationPredefinedMetricSpecificationArgsDict)


def _health_check(*, interval: int, unhealthy: int) -> aws.lb.TargetGroupHealthCheckArgsDict:
    """The app's health check, as a load balancer runs it: HTTP GET /health answering 200."""
    return {"enabled": True, "protocol": "HTTP", "path": HEALTH_PATH, "port": "traffic-port",
            "matcher": "200", "interval": interval, "timeout": 5, "healthy_threshold": 2,
            "unhealthy_threshold": unhealthy}


def _nlb_url(dns_name: str, *, port: int, path: str) -> str:
    """An HTTP_PROXY integration's URI: the NLB listener of a back end, and the path."""
    return f"http://{dns_name}:{port}{path}"


def _digest(*parts: str) -> str:
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]
