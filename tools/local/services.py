"""ECS services of the plan, run locally, and the load balancers and Cloud Map names in front of
them, so that API Gateway's VPC link integrations reach them as they would in AWS.

``LocalServices(run, containers=...).start()`` starts one task of each ``aws:ecs/service``
(``tools.local.containers``), on a port of this machine given to the container as ``PORT``, on
127.0.0.1 (``HOST``) (in AWS the container listens on its ``portMappings`` port inside its own
network namespace), and
waits until the target group's health check path answers 200, as a load balancer waits before
it sends traffic. ``resolve(target, path)`` is where a VPC link integration goes:

- a **Network Load Balancer**'s DNS name and port (a REST API's ``uri``, such as
  ``http://<nlb-dns>:80/{proxy}``): the listener on that port, its forward action's target
  group, the service registered in it;
- an **Application Load Balancer** listener's ARN (an HTTP API's ``integrationUri``): the
  listener's rules by priority (``path-pattern`` conditions), then its default action;
- a **Cloud Map** service's ARN (an HTTP API's ``integrationUri``): the ECS service whose
  ``serviceRegistries`` name it.

What differs from AWS: one task per service whatever ``desiredCount`` says, no autoscaling,
no deployments or circuit breaker; security groups are not enforced (every process shares
this machine's network).
"""

from __future__ import annotations

import fnmatch
import http.client
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from tools.local.containers import Container, Containers
from tools.mock_runtime import Resource, StackRun, reveal

SERVICE = "aws:ecs/service:Service"
LOAD_BALANCER = "aws:lb/loadBalancer:LoadBalancer"
LISTENER = "aws:lb/listener:Listener"
LISTENER_RULE = "aws:lb/listenerRule:ListenerRule"
TARGET_GROUP = "aws:lb/targetGroup:TargetGroup"
READY_SECONDS = 60.0


@dataclass(frozen=True)
class RunningService:
    """One ECS service's local task: where it listens, and what registered it."""

    resource: str
    url: str
    container: Container
    target_groups: tuple[str, ...]
    registries: tuple[str, ...]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _listed(value: Any) -> list[Any]:
    """A block that is an object where the provider takes one, a list where it takes several."""
    return [value] if isinstance(value, dict) else list(value or [])


def _forward_target(actions: Any) -> str | None:
    """The target group a listener's or rule's actions forward to."""
    for action in actions or []:
        if action.get("type") == "forward":
            if action.get("targetGroupArn"):
                return str(action["targetGroupArn"])
            groups = ((action.get("forward") or {}).get("targetGroups") or [])
            if groups:
                return str(groups[0]["arn"])
    return None


class LocalServices:
    """The plan's ECS services as local processes, and the names that lead to them."""

    def __init__(self, run: StackRun, *, containers: Containers,
                 output: Callable[[str], None] = print) -> None:
        self.run, self.containers, self.output = run, containers, output
        self.services: list[RunningService] = []
        self._health_paths = {str(r.state.get("arn")): str(
            (r.inputs.get("healthCheck") or {}).get("path") or "")
            for r in run.of_type(TARGET_GROUP)}

    def start(self) -> LocalServices:
        for resource in self.run.of_type(SERVICE):
            inputs = reveal(dict(resource.inputs))
            port = _free_port()
            container = self.containers.start(
                self.containers.definition(str(inputs["taskDefinition"])),
                {"PORT": str(port), "HOST": "127.0.0.1"})
            groups = tuple(str(b["targetGroupArn"]) for b in inputs.get("loadBalancers") or []
                           if b.get("targetGroupArn"))
            registries = tuple(str(r["registryArn"]) for r in
                               _listed(inputs.get("serviceRegistries")) if r.get("registryArn"))
            service = RunningService(resource.name, f"http://127.0.0.1:{port}", container,
                                     groups, registries)
            self.services.append(service)
            health = next((self._health_paths[g] for g in groups if self._health_paths.get(g)),
                          "")
            if self._wait_ready(port, health, container):
                self.output(f"ECS service {resource.name}: one task on {service.url}")
            else:
                self.output(f"warning: ECS service {resource.name} did not answer "
                            f"{health or 'on its port'} within {READY_SECONDS:.0f} s")
        return self

    def stop(self) -> None:
        self.containers.stop()

    def _wait_ready(self, port: int, health: str, container: Container) -> bool:
        deadline = time.monotonic() + READY_SECONDS
        while time.monotonic() < deadline and container.process.poll() is None:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            try:
                connection.request("GET", health or "/")
                status = connection.getresponse().status
                if not health or status == 200:
                    return True
            except (ConnectionError, TimeoutError, http.client.HTTPException):
                pass
            finally:
                connection.close()
            time.sleep(0.1)
        return False

    # --- where a VPC link leads -----------------------------------------------------------

    def resolve(self, target: str, path: str = "/") -> str | None:
        """The local base URL a VPC link integration's target leads to, or None."""
        if target.startswith("arn:") and ":servicediscovery:" in target:
            return self._by(lambda s: target in s.registries)
        if target.startswith("arn:") and ":listener/" in target:
            return self._through_listener(self._one(LISTENER, target), path)
        address = urlsplit(target if "//" in target else f"http://{target}")
        for balancer in self.run.of_type(LOAD_BALANCER):
            if balancer.state.get("dnsName") == address.hostname:
                port = address.port or (443 if address.scheme == "https" else 80)
                for listener in self.run.of_type(LISTENER):
                    inputs = listener.inputs
                    if (inputs.get("loadBalancerArn") == balancer.state.get("arn")
                            and int(inputs.get("port") or 0) == port):
                        return self._through_listener(listener, path)
        return None

    def _one(self, kind: str, arn: str) -> Resource | None:
        return next((r for r in self.run.of_type(kind) if r.state.get("arn") == arn), None)

    def _through_listener(self, listener: Resource | None, path: str) -> str | None:
        if listener is None:
            return None
        arn = listener.state.get("arn")
        rules = sorted((r for r in self.run.of_type(LISTENER_RULE)
                        if r.inputs.get("listenerArn") == arn),
                       key=lambda r: int(r.inputs.get("priority") or 50000))
        for rule in rules:
            patterns = [value for condition in rule.inputs.get("conditions") or []
                        for value in (condition.get("pathPattern") or {}).get("values") or []]
            if patterns and any(fnmatch.fnmatchcase(path, p) for p in patterns):
                return self._in_group(_forward_target(rule.inputs.get("actions")))
        return self._in_group(_forward_target(listener.inputs.get("defaultActions")))

    def _in_group(self, group: str | None) -> str | None:
        return self._by(lambda s: group in s.target_groups)

    def _by(self, test: Callable[[RunningService], bool]) -> str | None:
        return next((s.url for s in self.services if test(s)), None)

