"""Where a VPC link's target leads in local mode: the dev stack's container API through its
NLB, its ALB's path rules, or Cloud Map, to the ECS service each back end runs."""

from __future__ import annotations

import copy
from functools import cache
from unittest import mock

import pytest

from tools.local.services import LocalServices, RunningService
from tools.mock_runtime import StackRun, load_stack_file, run_stack

PRODUCTS, ORDERS = "http://127.0.0.1:7001", "http://127.0.0.1:7002"


@cache
def plan(target: str) -> StackRun:
    services = copy.deepcopy(load_stack_file("dev")["config"]["blueprints:services"])
    services["containerApi"]["httpApiTarget"] = target
    return run_stack("dev", config_overrides={"blueprints:services": services})


def as_running(run: StackRun) -> LocalServices:
    """The plan's services as if started: products and orders on ports of their own."""
    local = LocalServices(run, containers=mock.Mock())
    for resource in run.of_type("aws:ecs/service:Service"):
        inputs = resource.inputs
        local.services.append(RunningService(
            resource.name, PRODUCTS if resource.name.endswith("products") else ORDERS,
            mock.Mock(),
            tuple(b["targetGroupArn"] for b in inputs.get("loadBalancers") or []),
            # One registry at most: the provider takes it as an object.
            (inputs["serviceRegistries"]["registryArn"],) if inputs.get("serviceRegistries")
            else ()))
    return local


def test_a_rest_uri_leads_through_the_nlb_listener_on_its_port() -> None:
    run = plan("alb")
    nlb = run.one("aws:lb/loadBalancer:LoadBalancer", "containerApi-nlb").state["dnsName"]
    local = as_running(run)
    assert local.resolve(f"http://{nlb}:8080", "/products/mug") == PRODUCTS
    assert local.resolve(f"http://{nlb}:8081", "/orders") == ORDERS
    assert local.resolve(f"http://{nlb}:9999", "/orders") is None
    assert local.resolve("http://elsewhere.example.com:8080", "/products") is None


@pytest.mark.parametrize(("path", "expected"), [
    ("/products", PRODUCTS), ("/products/mug", PRODUCTS), ("/orders/1", ORDERS),
    ("/nothing", None)])
def test_an_alb_listener_leads_by_its_path_rules(path: str, expected: str | None) -> None:
    run = plan("alb")
    listener = next(r for r in run.of_type("aws:lb/listener:Listener")
                    if r.inputs.get("protocol") == "HTTP").state["arn"]
    assert as_running(run).resolve(listener, path) == expected


def test_a_cloud_map_service_leads_to_the_ecs_service_registered_in_it() -> None:
    run = plan("cloudMap")
    local = as_running(run)
    arns = {r.name: r.state["arn"] for r in run.of_type("aws:servicediscovery/service:Service")}
    assert len(arns) == 2
    for name, arn in arns.items():
        assert local.resolve(arn, "/") == (PRODUCTS if "products" in name else ORDERS)
