"""Entity resolution: bucket, builder on upload, matcher behind an IAM or JWT API, layers."""

from __future__ import annotations

import typing
from functools import cache
from typing import Any

import pytest
from entity_matching.index import DEFAULT_METHOD, METHODS
from pydantic import TypeAdapter, ValidationError

from components.services.entity_resolution import (
    BUILDER_REQUIREMENTS,
    MATCHER_REQUIREMENTS,
    EntityResolution,
    EntityResolutionSettings,
    IndexMethod,
)
from tests.support import ACCOUNT, json_input, run_service, statements
from tools.mock_runtime import ROOT, StackRun

FUNCTION = "aws:lambda/function:Function"


def settings(**overrides: Any) -> EntityResolutionSettings:
    return TypeAdapter(EntityResolutionSettings).validate_python(overrides)


def build(service_settings: EntityResolutionSettings) -> StackRun:
    return run_service(lambda context, opts: EntityResolution("entities", service_settings,
                                                              context, opts))


@cache
def built() -> StackRun:
    return build(settings())


def bucket_arn(run: StackRun) -> str:
    return str(run.one("aws:s3/bucket:Bucket").state["arn"])


def test_the_data_bucket_is_private_and_versioned() -> None:
    run = built()
    block = run.one("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock").inputs
    assert all(block[k] for k in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls",
                                  "restrictPublicBuckets"))
    versioning = run.one("aws:s3/bucketVersioning:BucketVersioning").inputs
    assert versioning["versioningConfiguration"]["status"] == "Enabled"


def test_an_uploaded_reference_csv_invokes_the_builder() -> None:
    run = built()
    builder = run.one(FUNCTION, "entities-builder-function")
    notification = run.one("aws:s3/bucketNotification:BucketNotification").inputs
    assert notification["lambdaFunctions"] == [{
        "lambdaFunctionArn": builder.state["arn"], "events": ["s3:ObjectCreated:*"],
        "filterPrefix": "reference/", "filterSuffix": ".csv"}]
    permission = run.one("aws:lambda/permission:Permission", "entities-builder-from-s3").inputs
    assert (permission["principal"], permission["sourceArn"], permission["sourceAccount"]) == (
        "s3.amazonaws.com", bucket_arn(run), ACCOUNT)
    async_config = run.one("aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig",
                           "entities-builder-async").inputs
    assert "onFailure" in async_config["destinationConfig"]


def test_functions_run_on_their_layers_with_the_configured_capacity() -> None:
    run = built()
    layers = {layer.name: layer for layer in run.of_type("aws:lambda/layerVersion:LayerVersion")}
    numeric = layers["entities-numeric-layer"].state["arn"]
    learning = layers["entities-learning-layer"].state["arn"]
    builder = run.one(FUNCTION, "entities-builder-function").inputs
    matcher = run.one(FUNCTION, "entities-matcher-function").inputs
    assert builder["layers"][1:] == [numeric, learning]
    assert matcher["layers"][1:] == [numeric]
    assert (builder["memorySize"], builder["timeout"]) == (10240, 900)
    assert (matcher["memorySize"], matcher["timeout"]) == (1769, 10)
    assert matcher["environment"]["variables"]["MIN_SCORE"] == "0.5"
    assert matcher["environment"]["variables"]["RERANK"] == "true"
    assert builder["environment"]["variables"]["INDEX_METHOD"] == DEFAULT_METHOD
    for function in (builder, matcher):
        assert "entity_matching/__init__.py" in function["code"].assets
    assert layers["entities-numeric-layer"].inputs["description"] == (
        "numpy and nmslib for entity matching")
    assert MATCHER_REQUIREMENTS == ("numpy==2.4.6", "nmslib==2.1.2")
    assert "scikit-learn==1.9.1" in BUILDER_REQUIREMENTS


def test_the_matcher_reads_the_index_only_and_the_builder_writes_only_there() -> None:
    run = built()
    bucket = bucket_arn(run)
    matcher = statements(run.one("aws:iam/rolePolicy:RolePolicy", "entities-matcher-policy"))
    builder = statements(run.one("aws:iam/rolePolicy:RolePolicy", "entities-builder-policy"))
    assert {"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": f"{bucket}/index/*"} \
        in matcher
    assert not any("s3:PutObject" in s["Action"] for s in matcher)
    assert {"Effect": "Allow", "Action": ["s3:GetObject"],
            "Resource": [f"{bucket}/index/CURRENT.json", f"{bucket}/reference/*"]} in builder
    assert {"Effect": "Allow", "Action": ["s3:AbortMultipartUpload", "s3:PutObject"],
            "Resource": f"{bucket}/index/*"} \
        in builder
    writes = [s for s in builder if "s3:PutObject" in s["Action"]]
    assert [s["Resource"] for s in writes] == [f"{bucket}/index/*"]


def test_the_api_routes_get_and_post_match_with_iam_by_default() -> None:
    run = built()
    routes = {r.inputs["routeKey"]: r.inputs for r in run.of_type("aws:apigatewayv2/route:Route")}
    assert set(routes) == {"GET /match", "POST /match"}
    assert {r["authorizationType"] for r in routes.values()} == {"AWS_IAM"}
    stage = run.one("aws:apigatewayv2/stage:Stage").inputs
    assert stage["defaultRouteSettings"]["throttlingRateLimit"] == 50


def test_jwt_auth_and_provisioned_concurrency_from_config() -> None:
    run = build(settings(auth={"type": "jwt", "issuer": "https://issuer.example.com",
                               "audience": ["entities"]}, provisionedConcurrency=2))
    routes = run.of_type("aws:apigatewayv2/route:Route")
    assert {r.inputs["authorizationType"] for r in routes} == {"JWT"}
    authorizer = run.one("aws:apigatewayv2/authorizer:Authorizer").inputs
    assert authorizer["jwtConfiguration"] == {"issuer": "https://issuer.example.com",
                                              "audiences": ["entities"]}
    warm = run.one("aws:lambda/provisionedConcurrencyConfig:ProvisionedConcurrencyConfig")
    assert warm.inputs["provisionedConcurrentExecutions"] == 2
    alias = run.one("aws:lambda/alias:Alias")
    integrations = run.of_type("aws:apigatewayv2/integration:Integration")
    assert {i.inputs["integrationUri"] for i in integrations} == {alias.state["invokeArn"]}


def test_the_re_ranker_is_switched_per_stack() -> None:
    matcher = build(settings(rerank=False)).one(FUNCTION, "entities-matcher-function").inputs
    assert matcher["environment"]["variables"]["RERANK"] == "false"


def test_outputs_name_the_api_and_where_to_upload() -> None:
    exports = built().outputs["exports"]
    assert exports["apiEndpoint"].startswith("https://")
    assert (exports["referencePrefix"], exports["indexPrefix"]) == ("reference/", "index/")


@pytest.mark.parametrize(("overrides", "expected"), [
    ({"auth": {"type": "jwt"}}, "type jwt needs an https issuer"),
    ({"auth": {"type": "iam", "issuer": "https://x"}}, "only apply to type jwt"),
    ({"minScore": 1.5}, "minScore"),
    ({"indexMethod": "annoy"}, "indexMethod"),
    ({"matcherMemorySize": 128}, "matcherMemorySize"),
    ({"rerank": "sometimes"}, "rerank"),
])
def test_bad_settings_are_refused_with_the_setting_named(overrides: dict[str, Any],
                                                          expected: str) -> None:
    with pytest.raises(ValidationError) as raised:
        settings(**overrides)
    assert expected in str(raised.value)


def test_policies_are_json_documents() -> None:
    policy = json_input(built().one("aws:iam/rolePolicy:RolePolicy",
                                    "entities-matcher-policy"), "policy")
    assert policy["Version"] == "2012-10-17"


def test_index_methods_are_the_library_s_with_its_default() -> None:
    assert typing.get_args(IndexMethod) == METHODS
    assert EntityResolutionSettings().index_method == DEFAULT_METHOD == METHODS[0]


def test_the_layers_pin_what_the_tests_ran_with() -> None:
    pins = {line.strip() for line in (ROOT / "requirements-dev.txt").read_text().splitlines()}
    assert set(MATCHER_REQUIREMENTS + BUILDER_REQUIREMENTS) <= pins


def test_a_custom_domain_serves_the_matcher_api() -> None:
    certificate = f"arn:aws:acm:eu-west-1:{ACCOUNT}:certificate/0a1b"
    run = build(settings(domain={"name": "match.example.com", "certificateArn": certificate}))
    domain = run.one("aws:apigatewayv2/domainName:DomainName").inputs
    assert domain["domainNameConfiguration"]["certificateArn"] == certificate
    assert run.outputs["exports"]["apiEndpoint"] == "https://match.example.com"
    assert run.one("aws:apigatewayv2/api:Api").inputs["disableExecuteApiEndpoint"] is True
