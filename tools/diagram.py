"""The architecture diagram of a planned stack, drawn from what the program declared.

``graph_of(run)`` reads the recorded resources and the references between them (each input's
dependencies, as the engine records them) into a ``Graph``: the architecture's resources as
nodes, grouped by the component that owns them (each service, the environment, the pipeline),
and an edge for what calls or feeds what:

- an API to what its integrations reach (a function, a load balancer, a state machine);
- a notification, stream, queue, rule or schedule to the target it invokes;
- a CloudFront distribution to its origins and its edge functions;
- a state machine to what its definition runs;
- a load balancer to the container services behind it;
- a function (or task) to the tables, buckets, queues, topics, buses and caches its role's
  statements name.

``render(graph, path)`` draws it with the ``diagrams`` package (AWS architecture icons) and
Graphviz's ``dot``, as SVG or PNG from the file's suffix. ``collapse=True`` draws one box per
service, with the edges between services, for a stack of hundreds of resources.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from tools.mock_runtime import Resource, StackRun

# What a node is, by resource type: (kind shown in its label, the diagrams class that draws
# it). Types not listed here are wiring (permissions, policies, stages, log groups, alarms)
# and are walked through, not drawn.
NODE_KINDS: Mapping[str, tuple[str, str]] = {
    "aws:lambda/function:Function": ("function", "diagrams.aws.compute.Lambda"),
    "aws:apigateway/restApi:RestApi": ("REST API", "diagrams.aws.network.APIGateway"),
    "aws:apigatewayv2/api:Api": ("HTTP API", "diagrams.aws.network.APIGateway"),
    "aws:dynamodb/table:Table": ("table", "diagrams.aws.database.Dynamodb"),
    "aws:s3/bucket:Bucket": ("bucket", "diagrams.aws.storage.S3"),
    "aws:s3control/objectLambdaAccessPoint:ObjectLambdaAccessPoint": (
        "Object Lambda access point", "diagrams.aws.storage.S3ObjectLambdaAccessPoints"),
    "aws:sqs/queue:Queue": ("queue", "diagrams.aws.integration.SQS"),
    "aws:sns/topic:Topic": ("topic", "diagrams.aws.integration.SNS"),
    "aws:cloudwatch/eventBus:EventBus": ("event bus", "diagrams.aws.integration.Eventbridge"),
    "aws:cloudwatch/eventRule:EventRule": ("rule", "diagrams.aws.integration.EventbridgeRule"),
    "aws:scheduler/schedule:Schedule": ("schedule",
                                        "diagrams.aws.integration.EventbridgeScheduler"),
    "aws:sfn/stateMachine:StateMachine": ("state machine",
                                          "diagrams.aws.integration.StepFunctions"),
    "aws:cloudfront/distribution:Distribution": ("CloudFront", "diagrams.aws.network.CloudFront"),
    "aws:ecs/service:Service": ("Fargate service", "diagrams.aws.compute.Fargate"),
    "aws:ecs/taskDefinition:TaskDefinition": ("Fargate task",
                                              "diagrams.aws.compute.ElasticContainerServiceTask"),
    "aws:ecs/cluster:Cluster": ("ECS cluster", "diagrams.aws.compute.ECS"),
    "aws:lb/loadBalancer:LoadBalancer": ("load balancer", "diagrams.aws.network.ELB"),
    "aws:ec2/vpc:Vpc": ("VPC", "diagrams.aws.network.VPC"),
    "aws:ec2/subnet:Subnet": ("subnet", "diagrams.aws.network.PrivateSubnet"),
    "aws:ec2/natGateway:NatGateway": ("NAT gateway", "diagrams.aws.network.NATGateway"),
    "aws:ec2/vpcEndpoint:VpcEndpoint": ("VPC endpoint", "diagrams.aws.network.Endpoint"),
    "aws:elasticache/serverlessCache:ServerlessCache": ("ElastiCache Serverless",
                                                        "diagrams.aws.database.ElastiCache"),
    "aws:dax/cluster:Cluster": ("DAX", "diagrams.aws.database.DynamodbDax"),
    "aws:cognito/userPool:UserPool": ("user pool", "diagrams.aws.security.Cognito"),
    "aws:kms/key:Key": ("KMS key", "diagrams.aws.security.KMS"),
    "aws:wafv2/webAcl:WebAcl": ("WAF web ACL", "diagrams.aws.security.WAF"),
    "aws:route53/resolverEndpoint:ResolverEndpoint": ("resolver endpoint",
                                                      "diagrams.aws.network.Route53"),
    "aws:servicediscovery/privateDnsNamespace:PrivateDnsNamespace": (
        "Cloud Map namespace", "diagrams.aws.network.CloudMap"),
    "aws:sesv2/configurationSet:ConfigurationSet": ("SES", "diagrams.aws.engagement.SES"),
    "aws:ecr/repository:Repository": ("ECR repository", "diagrams.aws.compute.ECR"),
    "aws:codepipeline/pipeline:Pipeline": ("pipeline", "diagrams.aws.devtools.Codepipeline"),
    "aws:codebuild/project:Project": ("build project", "diagrams.aws.devtools.Codebuild"),
    "aws:iam/role:Role": ("role", "diagrams.aws.security.IAMRole"),
}
# Roles are drawn only where they are the architecture (an account connection's, a pipeline's
# stages'); elsewhere each function's role is wiring.
ROLE_COMPONENTS = ("blueprints:environment:AccountConnection",)
# What a function's (or task's) role may reach that is worth an edge.
DATA_KINDS = frozenset({"table", "bucket", "queue", "topic", "event bus", "state machine",
                        "ElastiCache Serverless", "DAX", "Object Lambda access point"})

PLACEMENT = frozenset({"subnet", "VPC"})
# What a collapsed group is drawn as: the first of these it holds.
FRONT_KINDS = ("CloudFront", "REST API", "HTTP API", "pipeline", "state machine",
               "Fargate service", "function", "role", "VPC")
# Connectors: (type, the inputs that name where data comes from, the inputs that name where it
# goes). "self" is the resource itself.
CONNECTORS: tuple[tuple[str, tuple[str, ...], tuple[str, ...]], ...] = (
    ("aws:apigateway/integration:Integration", ("restApi",), ("uri", "connectionId")),
    ("aws:apigatewayv2/integration:Integration", ("apiId",), ("integrationUri",)),
    ("aws:apigateway/vpcLink:VpcLink", ("self",), ("targetArn",)),
    ("aws:lambda/eventSourceMapping:EventSourceMapping", ("eventSourceArn",), ("functionName",)),
    ("aws:sns/topicSubscription:TopicSubscription", ("topic",), ("endpoint",)),
    ("aws:s3/bucketNotification:BucketNotification", ("bucket",),
     ("lambdaFunctions", "queues", "topics")),
    ("aws:cloudwatch/eventRule:EventRule", ("eventBusName",), ("self",)),
    ("aws:cloudwatch/eventTarget:EventTarget", ("rule",), ("arn",)),
    ("aws:scheduler/schedule:Schedule", ("self",), ("target",)),
    ("aws:cloudfront/distribution:Distribution", ("self",),
     ("origins", "defaultCacheBehavior", "orderedCacheBehaviors")),
    ("aws:sfn/stateMachine:StateMachine", ("self",), ("definition",)),
    ("aws:lb/listener:Listener", ("loadBalancerArn",), ("defaultActions",)),
    ("aws:lb/listenerRule:ListenerRule", ("listenerArn",), ("actions",)),
    ("aws:s3control/objectLambdaAccessPoint:ObjectLambdaAccessPoint", ("self",),
     ("configuration",)),
    ("aws:wafv2/webAclAssociation:WebAclAssociation", ("webAclArn",), ("resourceArn",)),
    ("aws:codepipeline/pipeline:Pipeline", ("self",), ("stages",)),
)
# Wiring that stands for another resource: the input naming it.
PASS_THROUGH: Mapping[str, str] = {
    "aws:lb/listener:Listener": "loadBalancerArn",
    "aws:apigateway/vpcLink:VpcLink": "targetArn",
    "aws:apigateway/stage:Stage": "restApi",
    "aws:apigatewayv2/stage:Stage": "apiId",
    "aws:lambda/alias:Alias": "functionName",
}
TARGET_GROUP = "aws:lb/targetGroup:TargetGroup"
ECS_SERVICE = "aws:ecs/service:Service"
FUNCTION = "aws:lambda/function:Function"
TASK = "aws:ecs/taskDefinition:TaskDefinition"
ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"


@dataclass(frozen=True)
class Node:
    urn: str
    name: str
    kind: str
    icon: str
    group: str


@dataclass
class Graph:
    """What the diagram shows, before it is drawn: nodes by URN, their groups (a service, the
    environment, the pipeline) and directed edges between nodes."""

    stack: str
    nodes: dict[str, Node] = field(default_factory=dict)
    edges: set[tuple[str, str]] = field(default_factory=set)
    # False for a collapsed graph, whose nodes are the groups themselves.
    clustered: bool = True

    def groups(self) -> dict[str, list[Node]]:
        found: dict[str, list[Node]] = {}
        for node in sorted(self.nodes.values(), key=lambda n: (n.group, n.kind, n.name)):
            found.setdefault(node.group, []).append(node)
        return found

    def named_edges(self) -> set[tuple[str, str]]:
        """The edges by resource name (what the tests read)."""
        return {(self.nodes[a].name, self.nodes[b].name) for a, b in self.edges}

    def collapsed(self) -> Graph:
        """One node per group (drawn as its front door: CloudFront, an API, the pipeline...,
        and labelled with what it holds), with an edge wherever a node of one calls a node of
        another."""
        graph = Graph(self.stack, clustered=False)
        for group, nodes in self.groups().items():
            kinds = Counter(node.kind for node in nodes)
            front = next((kind for kind in FRONT_KINDS if kind in kinds), nodes[0].kind)
            icon = next(node.icon for node in nodes if node.kind == front)
            held = "\n".join(f"{count} {kind}{'s' if count > 1 else ''}"
                              for kind, count in kinds.most_common(3))
            graph.nodes[group] = Node(group, group, held, icon, group)
        graph.edges = {(self.nodes[a].group, self.nodes[b].group) for a, b in self.edges
                       if self.nodes[a].group != self.nodes[b].group}
        return graph


def _group_of(run: StackRun, resource: Resource, by_urn: Mapping[str, Resource]) -> str:
    """The component a resource belongs to: the top component under the stack (a service by
    its catalog name, ``environment``, ``pipeline``, ``connection``)."""
    top: Resource | None = None
    current: Resource | None = resource
    while current is not None and current.parent and current.parent in by_urn:
        parent = by_urn[current.parent]
        if parent.type == "pulumi:pulumi:Stack":
            break
        top = parent
        current = parent
    if top is None:
        return "stack"
    if top.type.startswith("blueprints:environment:Environment"):
        return "environment"
    if top.type == "blueprints:pipeline:DeliveryPipeline":
        return "pipeline"
    if top.type in ROLE_COMPONENTS:
        return "connection"
    return top.name


def _is_node(resource: Resource, by_urn: Mapping[str, Resource]) -> bool:
    if resource.type not in NODE_KINDS:
        return False
    if resource.type != ROLE:
        return True
    parent = by_urn.get(resource.parent or "")
    return parent is not None and parent.type in (*ROLE_COMPONENTS,
                                                  "blueprints:pipeline:DeliveryPipeline")


def graph_of(run: StackRun) -> Graph:
    """The architecture graph of ``run`` (see the module docstring)."""
    by_urn = {r.urn: r for r in run.resources}
    graph = Graph(run.stack)
    for resource in run.managed():
        if _is_node(resource, by_urn):
            kind, icon = NODE_KINDS[resource.type]
            graph.nodes[resource.urn] = Node(resource.urn, resource.name, kind, icon,
                                             _group_of(run, resource, by_urn))
    resolve = _Resolver(run, by_urn, graph)
    for type_, sources, targets in CONNECTORS:
        for resource in run.of_type(type_):
            froms = resolve.many(resource, sources)
            tos = resolve.many(resource, targets)
            graph.edges |= {(a, b) for a in froms for b in tos if a != b}
    graph.edges |= resolve.role_edges()
    # Where a task runs (a subnet, the VPC) is placement, not a call.
    graph.edges = {(a, b) for a, b in graph.edges if graph.nodes[b].kind not in PLACEMENT}
    return graph


class _Resolver:
    """Turns the URNs an input depends on into the nodes they stand for, walking through
    wiring: a target group to the services registered in it, a listener to its load balancer,
    a VPC link to what it targets."""

    def __init__(self, run: StackRun, by_urn: Mapping[str, Resource], graph: Graph) -> None:
        self.run = run
        self.by_urn = by_urn
        self.graph = graph
        self.services_of_group: dict[str, set[str]] = {}
        for service in run.of_type(ECS_SERVICE):
            for urn in service.property_dependencies.get("loadBalancers", ()):
                self.services_of_group.setdefault(urn, set()).add(service.urn)

    def many(self, resource: Resource, inputs: Iterable[str]) -> set[str]:
        found: set[str] = set()
        for name in inputs:
            urns = ([resource.urn] if name == "self"
                    else resource.property_dependencies.get(name, ()))
            for urn in urns:
                found |= self.node(urn)
        return found

    def node(self, urn: str, seen: frozenset[str] = frozenset()) -> set[str]:
        if urn in self.graph.nodes:
            return {urn}
        resource = self.by_urn.get(urn)
        if resource is None or urn in seen:
            return set()
        seen = seen | {urn}
        if resource.type == TARGET_GROUP:
            return {s for s in self.services_of_group.get(urn, ()) if s in self.graph.nodes}
        key = PASS_THROUGH.get(resource.type)
        if key is None:
            return set()
        return set().union(*(self.node(u, seen)
                             for u in resource.property_dependencies.get(key, ())))

    def role_edges(self) -> set[tuple[str, str]]:
        """A function or task to the data its role's statements name."""
        policies_of: dict[str, list[Resource]] = {}
        for policy in self.run.of_type(ROLE_POLICY):
            for role in policy.property_dependencies.get("role", ()):
                policies_of.setdefault(role, []).append(policy)
        edges: set[tuple[str, str]] = set()
        for resource in [*self.run.of_type(FUNCTION), *self.run.of_type(TASK)]:
            if resource.urn not in self.graph.nodes:
                continue
            roles = [*resource.property_dependencies.get("role", ()),
                     *resource.property_dependencies.get("taskRoleArn", ())]
            for role in roles:
                named = [urn for policy in policies_of.get(role, ())
                         for urn in policy.property_dependencies.get("policy", ())]
                role_resource = self.by_urn.get(role)
                if role_resource is not None:
                    named += role_resource.property_dependencies.get("inlinePolicies", ())
                edges |= {(resource.urn, urn) for urn in named
                          if urn in self.graph.nodes
                          and self.graph.nodes[urn].kind in DATA_KINDS}
        return edges


def render(graph: Graph, path: Path) -> Path:
    """Draws ``graph`` to ``path`` (``.svg`` or ``.png``) with the ``diagrams`` package and
    Graphviz. Raises ``RenderError`` when either is missing, naming what to install."""
    suffix = path.suffix.lower().lstrip(".")
    if suffix not in ("svg", "png"):
        raise RenderError(f"{path}: draw to a .svg or a .png file")
    if shutil.which("dot") is None:
        raise RenderError("Graphviz's `dot` is not installed: apt-get install graphviz (or "
                          "your system's package)")
    try:
        import importlib

        from diagrams import Cluster, Diagram, Edge  # type: ignore[import-untyped]
    except ImportError:
        raise RenderError("the `diagrams` package is not installed: pip install -r "
                          "requirements-dev.txt") from None

    def icon(dotted: str) -> type:
        module, _, name = dotted.rpartition(".")
        found: type = getattr(importlib.import_module(module), name)
        return found

    path = path.resolve()  # drawn in a scratch directory, then moved here
    path.parent.mkdir(parents=True, exist_ok=True)
    attributes = {"fontsize": "12", "labelloc": "t", "pad": "0.4", "splines": "spline",
                  "pack": "48", "packmode": "array_u4",
                  "nodesep": "0.9", "ranksep": "1.0",
                  # 72 dpi keeps the full dev stack's PNG under a megabyte, still legible.
                  "dpi": "72"}
    # diagrams writes <filename>.<format> in the working directory: draw in a scratch one.
    with tempfile.TemporaryDirectory() as scratch:
        cwd = os.getcwd()
        os.chdir(scratch)
        try:
            with Diagram(f"{graph.stack} stack", filename="diagram", outformat=suffix,
                         show=False, direction="TB", graph_attr=attributes):
                drawn = {}
                for group, nodes in graph.groups().items():
                    with Cluster(group) if graph.clustered else contextlib.nullcontext():
                        for node in nodes:
                            drawn[node.urn] = icon(node.icon)(_label(node, graph.clustered))
                for source, target in sorted(graph.edges):
                    drawn[source] >> Edge(color="#555555") >> drawn[target]
            shutil.move(Path(scratch) / f"diagram.{suffix}", path)
        finally:
            os.chdir(cwd)
    return path


def _label(node: Node, clustered: bool) -> str:
    """The node's name without its group's prefix (the cluster says it), and its kind; a
    collapsed group's name and what it holds."""
    if not clustered:
        return f"{node.name}\n{node.kind}"
    short = node.name.removeprefix(f"{node.group}-") or node.name
    return f"{short}\n({node.kind})"


class RenderError(RuntimeError):
    """The diagram cannot be drawn here: a tool is missing, or the file type is wrong."""
