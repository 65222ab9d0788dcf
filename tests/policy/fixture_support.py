"""What the guardrail fixtures share, and how a fixture is run.

A fixture is a small Pulumi program, ``fixtures/<policy>.pass.py`` or ``<policy>.fail.py``, in
the style of awslabs/serverless-rules' templates. It defines ``program()``; a failing fixture
also sets ``VIOLATIONS``, the names of the resources the policy must report (``"stack"`` for a
violation of the stack as a whole). A fixture may set ``CONFIG``, the policy's settings.
"""

from __future__ import annotations

import json
import runpy
from collections.abc import Callable
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
EDGE_SERVICES = ("lambda.amazonaws.com", "edgelambda.amazonaws.com")
CACHING_OPTIMIZED = "658327ea-f89d-4fab-a63d-7e88639e58f6"
HTTPS_ORIGIN = {"http_port": 80, "https_port": 443, "origin_protocol_policy": "https-only",
                "origin_ssl_protocols": ["TLSv1.2"]}


def provider(environment: str = "dev", name: str = "fixture-provider",
             region: str = REGION) -> aws.Provider:
    """The provider a well-behaved stack has: its account, and the required default tags."""
    return aws.Provider(name, region=region, allowed_account_ids=[ACCOUNT],
                        default_tags={"tags": {"owner": "team-a", "environment": environment,
                                               "project": "fixtures"}})


def opts(environment: str = "dev", **options: Any) -> pulumi.ResourceOptions:
    """Resource options on a fixture provider (one per environment and run)."""
    key = f"fixture-provider-{environment}"
    return pulumi.ResourceOptions(provider=_provider(key, lambda: provider(environment, name=key)),
                                  **options)


def us_east_1_opts(**options: Any) -> pulumi.ResourceOptions:
    """Resource options on the run's us-east-1 provider (named ``us-east-1``), where Lambda@Edge
    functions and CloudFront's log delivery sources live."""
    return pulumi.ResourceOptions(
        provider=_provider("us-east-1", lambda: provider(name="us-east-1", region="us-east-1")),
        **options)


def _provider(key: str, create: Callable[[], aws.Provider]) -> aws.Provider:
    created = _providers.setdefault(id(pulumi.runtime.get_root_resource()), {})
    if key not in created:
        created[key] = create()
    return created[key]


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


def trust(*services: str) -> str:
    """An assume-role policy that lets the given services assume the role."""
    return json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"Service": list(services)}}]})


def edge_function(resource_name: str, /, *, options: pulumi.ResourceOptions | None = None,
                  trusted_by: tuple[str, ...] = EDGE_SERVICES,
                  **overrides: Any) -> aws.lambda_.Function:
    """A Lambda@Edge function that keeps to its rules: published, python3.13, 128 MB and 5 s, on
    the us-east-1 provider, with a role ``<resource_name>-role`` that Lambda and Lambda@Edge may
    assume.

    ``options`` replaces the us-east-1 options (for the role too); ``trusted_by`` the services
    the role trusts; ``overrides`` go to the function and win over the defaults.
    """
    options = us_east_1_opts() if options is None else options
    role = aws.iam.Role(f"{resource_name}-role", assume_role_policy=trust(*trusted_by),
                        opts=options)
    settings: dict[str, Any] = {"runtime": "python3.13", "handler": "app.handler",
                                "code": code(), "memory_size": 128, "timeout": 5,
                                "publish": True, **overrides}
    return aws.lambda_.Function(resource_name, role=role.arn, **settings, opts=options)


def cache_behavior(**extra: Any) -> dict[str, Any]:
    """A cache behavior of the ``app`` origin: HTTPS (redirected), GET and HEAD, CachingOptimized.

    ``extra`` adds to it or wins over it (``path_pattern``, ``lambda_function_associations``).
    """
    return {"target_origin_id": "app", "viewer_protocol_policy": "redirect-to-https",
            "allowed_methods": ["GET", "HEAD"], "cached_methods": ["GET", "HEAD"],
            "cache_policy_id": CACHING_OPTIMIZED, **extra}


def edge_distribution(name: str, associations: list[dict[str, Any]],
                      **overrides: Any) -> aws.cloudfront.Distribution:
    """A distribution of one custom origin, ``app`` (app.example.com, HTTPS only, TLSv1.2), on the
    default certificate, whose default behavior runs ``associations`` (its
    ``lambda_function_associations``). ``overrides`` (``ordered_cache_behaviors``, say) go to the
    distribution and win over the defaults.
    """
    arguments: dict[str, Any] = {
        "enabled": True,
        "origins": [{"origin_id": "app", "domain_name": "app.example.com",
                     "custom_origin_config": HTTPS_ORIGIN}],
        "default_cache_behavior": cache_behavior(lambda_function_associations=associations),
        "restrictions": {"geo_restriction": {"restriction_type": "none"}},
        "viewer_certificate": {"cloudfront_default_certificate": True},
        **overrides,
    }
    return aws.cloudfront.Distribution(name, **arguments, opts=opts())


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
