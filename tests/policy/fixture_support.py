"""What the guardrail fixtures share, and how a fixture is run.

A fixture is a small Pulumi program, ``fixtures/<policy>.pass.py`` or ``<policy>.fail.py``, in
the style of awslabs/serverless-rules' templates. It defines ``program()``; a failing fixture
also sets ``VIOLATIONS``, the names of the resources the policy must report (``"stack"`` for a
violation of the stack as a whole). A fixture may set ``CONFIG``, the policy's settings.
"""

from __future__ import annotations

import json
import runpy
from pathlib import Path
from typing import Any

import pulumi
import pulumi_aws as aws

from policy.guardrails import POLICIES
from tools.mock_runtime import StackConfig, StackRun, run_program
from tools.verdicts import Verdict, evaluate

FIXTURES = Path(__file__).resolve().parent / "fixtures"
ACCOUNT = "111122223333"
REGION = "eu-west-1"
POLICY_NAMES = sorted(p.name for p in POLICIES)


def provider(environment: str = "dev", name: str = "fixture-provider",
             region: str = REGION) -> aws.Provider:
    """The provider a well-behaved stack has: its account, and the required default tags."""
    return aws.Provider(name, region=region, allowed_account_ids=[ACCOUNT],
                        default_tags={"tags": {"owner": "team-a", "environment": environment,
                                               "project": "fixtures"}})


def opts(environment: str = "dev", **options: Any) -> pulumi.ResourceOptions:
    """Resource options on a fixture provider (one per environment and run)."""
    key = f"fixture-provider-{environment}"
    created = _providers.setdefault(id(pulumi.runtime.get_root_resource()), {})
    if key not in created:
        created[key] = provider(environment, name=key)
    return pulumi.ResourceOptions(provider=created[key], **options)


_providers: dict[int, dict[str, aws.Provider]] = {}


def deployed_rest_api(name: str = "api", *, endpoint_type: str | None = "REGIONAL",
                      **api_args: Any) -> tuple[aws.apigateway.RestApi, aws.apigateway.Deployment]:
    """A REST API with one MOCK GET method, deployed: what a stage needs.

    The method is ``GET /items`` (method path ``items/GET``); the API's children are named after
    it (``<name>-items``, ``<name>-get-items``, ``<name>-deployment``). ``endpoint_type=None``
    declares no endpoint configuration (so EDGE); ``api_args`` go to the RestApi and win over
    the default (a PRIVATE API's ``endpoint_configuration`` and ``policy``, say).
    """
    if endpoint_type is not None:
        api_args = {"endpoint_configuration": {"types": endpoint_type}, **api_args}
    api = aws.apigateway.RestApi(name, **api_args, opts=opts())
    items = aws.apigateway.Resource(f"{name}-items", rest_api=api.id,
                                    parent_id=api.root_resource_id, path_part="items", opts=opts())
    method = aws.apigateway.Method(f"{name}-get-items", rest_api=api.id, resource_id=items.id,
                                   http_method="GET", authorization="AWS_IAM", opts=opts())
    integration = aws.apigateway.Integration(
        f"{name}-get-items", rest_api=api.id, resource_id=items.id, http_method=method.http_method,
        type="MOCK", request_templates={"application/json": '{"statusCode": 200}'}, opts=opts())
    deployment = aws.apigateway.Deployment(f"{name}-deployment", rest_api=api.id,
                                           triggers={"v": "1"},
                                           opts=opts(depends_on=[method, integration]))
    return api, deployment


def code() -> pulumi.AssetArchive:
    """A minimal deployment package."""
    return pulumi.AssetArchive({"app.py": pulumi.StringAsset("def handler(e, c):\n    pass\n")})


def fixture_path(policy: str, outcome: str) -> Path:
    return FIXTURES / f"{policy}.{outcome}.py"


def run_fixture(path: Path) -> tuple[StackRun, dict[str, Any]]:
    """Runs a fixture's program under mocks; returns the run and the fixture's globals."""
    namespace = runpy.run_path(str(path))
    config = StackConfig({"aws:region": REGION,
                          "blueprints:account": json.dumps({"id": ACCOUNT})}, ())
    return run_program(namespace["program"], config=config), namespace


def verdicts_of(policy_name: str, path: Path) -> tuple[list[Verdict], dict[str, Any]]:
    """What one policy reports about a fixture (at the fixture's settings), and its globals."""
    run, namespace = run_fixture(path)
    policy = next(p for p in POLICIES if p.name == policy_name)
    config = {policy_name: {"enforcementLevel": "mandatory", **namespace.get("CONFIG", {})}}
    return evaluate(run, config, policies=[policy]), namespace


def reported(verdicts: list[Verdict]) -> set[str]:
    return {v.resource_name or "stack" for v in verdicts}
