"""The plan's diagram: the graph drawn from the dev stack's recorded resources holds, for each
service, the edges of what calls what; a collapsed graph has a node per service; and Graphviz
renders it (CI installs Graphviz and sets BLUEPRINTS_GRAPHVIZ_REQUIRED=1, so a missing ``dot``
fails there instead of skipping)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tests.support import planned
from tools import plan
from tools.diagram import Graph, RenderError, graph_of, render
from tools.mock_runtime import load_stack_file, stack_names

GRAPHVIZ_REQUIRED = os.environ.get("BLUEPRINTS_GRAPHVIZ_REQUIRED") == "1"


@pytest.fixture(scope="module")
def dev() -> Graph:
    return graph_of(planned("dev"))


# For each service of the dev stack: edges its diagram must hold, by resource name. Each kind
# of connector the module docstring lists appears at least once.
EDGES = {
    "headerVersioning": [
        ("headerVersioning-distribution", "headerVersioning-router-function"),  # edge function
        ("headerVersioning-distribution", "headerVersioning-v1-api"),  # origin
        ("headerVersioning-v1-api", "headerVersioning-v1-hello-function"),
        ("headerVersioning-v2-api", "headerVersioning-v2-hello-function"),
        ("headerVersioning-router-function", "headerVersioning-mappings-table")],
    "queryKeyApi": [
        ("queryKeyApi-api", "queryKeyApi-customizations-function"),
        ("queryKeyApi-customizations-function", "queryKeyApi-customizations-table"),
        ("queryKeyApi-waf-acl", "queryKeyApi-api")],
    "entityResolution": [
        ("entityResolution-api", "entityResolution-matcher-function"),
        ("entityResolution-data-bucket", "entityResolution-builder-function"),  # notification
        ("entityResolution-builder-function", "entityResolution-data-bucket"),
        ("entityResolution-matcher-function", "entityResolution-data-bucket")],
    "documentWatermark": [
        ("documentWatermark-api", "documentWatermark-api-function"),
        ("documentWatermark-object-lambda", "documentWatermark-transform-function"),
        ("documentWatermark-api-function", "documentWatermark-access-log-table")],
    "eventManagement": [
        ("eventManagement-api", "eventManagement-api-function"),
        ("eventManagement-requests-table", "eventManagement-notifier-function"),  # stream
        ("eventManagement-reminders", "eventManagement-reminders-function"),  # schedule
        ("eventManagement-site", "eventManagement-site-bucket"),  # CloudFront origin
        ("eventManagement-notifier-function", "eventManagement-staff")],  # topic
    "asyncAnalytics": [
        ("asyncAnalytics-api", "asyncAnalytics-jobs-queue"),  # a service integration
        ("asyncAnalytics-jobs-queue", "asyncAnalytics-consumer-function"),  # SQS mapping
        ("asyncAnalytics-workflow", "asyncAnalytics-job-function"),
        ("asyncAnalytics-workflow", "asyncAnalytics-task"),
        ("asyncAnalytics-task", "asyncAnalytics-results-bucket")],  # a task's role
    "privateApi": [("privateApi-api", "privateApi-whoami-function")],
    "containerApi": [
        ("containerApi-rest-api", "containerApi-nlb"),  # through the VPC link
        ("containerApi-http-api", "containerApi-alb"),
        ("containerApi-nlb", "containerApi-products"),  # through listener and target group
        ("containerApi-alb", "containerApi-orders")],
    "microserviceCache": [
        ("microserviceCache-api", "microserviceCache-billing-function"),
        ("microserviceCache-billing-function", "microserviceCache-cache"),
        ("microserviceCache-profile-function", "microserviceCache-dax"),
        ("microserviceCache-bus", "microserviceCache-changes"),  # bus to rule
        ("microserviceCache-changes", "microserviceCache-manager-function"),  # rule to target
        ("microserviceCache-profiles-table", "microserviceCache-refresher-function")],
}


def test_every_service_of_the_dev_stack_is_checked(dev: Graph) -> None:
    assert set(dev.groups()) == {*EDGES, "environment"}


@pytest.mark.parametrize("service", sorted(EDGES))
def test_the_graph_holds_what_calls_what(dev: Graph, service: str) -> None:
    missing = set(EDGES[service]) - dev.named_edges()
    assert not missing


def test_nodes_are_the_architecture_not_its_wiring(dev: Graph) -> None:
    kinds = {node.kind for node in dev.nodes.values()}
    assert {"function", "REST API", "HTTP API", "table", "bucket", "queue", "CloudFront",
            "VPC", "subnet", "NAT gateway", "VPC endpoint", "ECS cluster"} <= kinds
    names = {node.name for node in dev.nodes.values()}
    # No permissions, log groups, alarms, stages or function roles.
    assert not {n for n in names if n.endswith(("-logs", "-role", "-stage", "-permission"))}
    environment = {n.name for n in dev.groups()["environment"]}
    assert {"dev-network-vpc", "dev-cluster", "dev-key"} <= environment


def test_placement_is_not_drawn_as_a_call(dev: Graph) -> None:
    assert not [(a, b) for a, b in dev.edges if dev.nodes[b].kind in ("subnet", "VPC")]


def test_collapsed_there_is_one_node_per_service(dev: Graph) -> None:
    collapsed = dev.collapsed()
    assert set(collapsed.nodes) == set(dev.groups())
    assert collapsed.nodes["queryKeyApi"].kind.splitlines()[0] in (
        "2 functions", "2 tables", "1 REST API")
    assert collapsed.nodes["headerVersioning"].icon == "diagrams.aws.network.CloudFront"
    assert ("asyncAnalytics", "environment") in collapsed.edges  # the workflow's cluster


def test_the_connection_and_tooling_stacks_draw_their_roles_and_pipeline() -> None:
    connection = graph_of(planned("dev-connection"))
    assert {n.name for n in connection.nodes.values()} == {"connection-deploy",
                                                           "connection-smoke"}
    tooling = graph_of(planned("tooling"))
    pipeline = {n.name for n in tooling.groups()["pipeline"]}
    assert {"delivery-pipeline", "delivery-test", "delivery-dev", "delivery-prod"} <= pipeline
    assert {("delivery-pipeline", "delivery-test"), ("delivery-pipeline", "delivery-dev"),
            ("delivery-pipeline", "delivery-prod")} <= tooling.named_edges()


@pytest.mark.parametrize("stack", stack_names())
def test_every_stack_file_gets_its_picture(stack: str) -> None:
    graph = graph_of(planned(stack))
    services = set(load_stack_file(stack)["config"].get("blueprints:services") or {})
    assert services <= set(graph.groups())
    assert all(a in graph.nodes and b in graph.nodes for a, b in graph.edges)


def test_graphviz_renders_the_dev_stack(dev: Graph, tmp_path: Path) -> None:
    if shutil.which("dot") is None:
        if GRAPHVIZ_REQUIRED:
            pytest.fail("Graphviz's dot is not installed, and BLUEPRINTS_GRAPHVIZ_REQUIRED=1")
        pytest.skip("Graphviz's dot is not installed")
    drawn = render(dev.collapsed(), tmp_path / "dev.svg")
    svg = drawn.read_text(encoding="utf-8")
    assert svg.lstrip().startswith(("<?xml", "<svg"))
    for service in EDGES:
        assert f">{service}<" in svg


def test_only_svg_and_png_are_drawn(dev: Graph, tmp_path: Path) -> None:
    with pytest.raises(RenderError, match=r"\.svg or a \.png"):
        render(dev, tmp_path / "dev.pdf")


def test_the_plan_command_draws_into_a_relative_path(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    if shutil.which("dot") is None:
        if GRAPHVIZ_REQUIRED:
            pytest.fail("Graphviz's dot is not installed, and BLUEPRINTS_GRAPHVIZ_REQUIRED=1")
        pytest.skip("Graphviz's dot is not installed")
    monkeypatch.chdir(tmp_path)
    assert plan.main(["--stack", "dev", "--diagram", "out/dev.svg", "--collapse"]) == 0
    assert (tmp_path / "out" / "dev.svg").read_text(encoding="utf-8").count("<image") == 10
    assert "Diagram: " in capsys.readouterr().err


def test_collapse_goes_with_a_diagram(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as raised:
        plan.main(["--stack", "dev", "--collapse"])
    assert raised.value.code == 2
    assert "--collapse goes with --diagram" in capsys.readouterr().err
