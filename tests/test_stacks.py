"""Every stack file, planned offline: providers, accounts, the contract, and the plan's output.

The parametrisation reads the project folder, so a new ``Pulumi.<stack>.yaml`` is covered by
these tests without anyone writing one.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pulumi
import pulumi_aws as aws
import pytest

from components.accounts import EDGE_REGIONS
from components.environment import EnvironmentContract
from tests.support import planned
from tools import plan
from tools.mock_runtime import (
    SECRET_PLACEHOLDER,
    PlanError,
    Resource,
    Secret,
    StackRun,
    check_default_providers,
    load_stack_file,
    reveal,
    run_program,
    stack_names,
)

STACKS = stack_names()
# A connection stack and the tooling stack build no environment and no services, and deploy
# with their account's own credentials.
OWN_CREDENTIALS = [s for s in STACKS if {"blueprints:connection", "blueprints:pipeline"}
                   & set(load_stack_file(s)["config"])]
WORKLOADS = [s for s in STACKS if s not in OWN_CREDENTIALS]
CONTRACT_OUTPUTS = ["alarmTopicArn", "clusterArn", "clusterName", "kmsKeyArn", "namespaceId",
                    "namespaceName", "privateSubnetIds", "publicSubnetIds",
                    "serviceSecurityGroupId", "taskExecutionRoleArn", "taskExecutionRoleName",
                    "vpcCidr", "vpcId"]

def stack_config(stack: str) -> dict[str, Any]:
    return dict(load_stack_file(stack)["config"])


def test_the_project_has_the_stacks_the_design_names() -> None:
    assert {"dev", "prod-env", "prod"} <= set(WORKLOADS)
    assert {"dev-connection", "prod-connection", "tooling"} <= set(OWN_CREDENTIALS)


@pytest.mark.parametrize("stack", STACKS)
def test_stack_file_disables_the_default_aws_provider(stack: str) -> None:
    assert "aws" in stack_config(stack)["pulumi:disable-default-providers"]


@pytest.mark.parametrize("stack", STACKS)
def test_every_resource_is_on_an_explicit_provider_for_the_stack_account(stack: str) -> None:
    run = planned(stack)
    account = stack_config(stack)["blueprints:account"]
    managed = list(run.managed())
    if "blueprints:environment" in stack_config(stack):
        assert managed, "a stack that builds an environment declares resources"
    for resource in managed:
        provider = run.provider_of(resource)
        assert provider is not None, f"{resource.name} has no explicit provider"
        if resource.type.startswith("docker-build:"):  # a build where `pulumi up` runs
            assert provider.type == "pulumi:providers:docker-build"
            continue
        assert provider.type == "pulumi:providers:aws"
        assert provider.inputs["allowedAccountIds"] == [account["id"]]
        if stack in OWN_CREDENTIALS:
            assert "assumeRoles" not in provider.inputs
        else:
            assert reveal(provider.inputs["assumeRoles"])[0]["roleArn"] == (
                account["deployRoleArn"])


@pytest.mark.parametrize("stack", WORKLOADS)
def test_providers_assume_the_deploy_role_and_tag_everything(stack: str) -> None:
    run = planned(stack)
    config = stack_config(stack)
    providers = {p.inputs["region"]: p for p in run.of_type("pulumi:providers:aws")}
    # The stack's region and us-east-1; with an edge function, every region its replicas log in.
    edge = any(d.inputs["defaultCacheBehavior"].get("lambdaFunctionAssociations")
               for d in run.of_type("aws:cloudfront/distribution:Distribution"))
    assert set(providers) == {config["aws:region"], "us-east-1", *(EDGE_REGIONS if edge else ())}
    assert len(providers) == len(run.of_type("pulumi:providers:aws")), "one per region"
    for provider in providers.values():
        assume_roles = provider.inputs["assumeRoles"]
        role = reveal(assume_roles)[0]
        assert role["sessionName"] == config["blueprints:account"].get("sessionName",
                                                                       "blueprints-deploy")
        assert provider.inputs["defaultTags"]["tags"] == {
            "project": "blueprints", "environment": config["blueprints:stage"],
            **config["blueprints:tags"]}
        if "blueprints:externalId" in config:
            # A secret external id makes the whole assume-role block secret.
            assert isinstance(assume_roles, Secret)
            assert role["externalId"] == SECRET_PLACEHOLDER
        else:
            assert not isinstance(assume_roles, Secret)
            assert "externalId" not in role


@pytest.mark.parametrize("stack", OWN_CREDENTIALS)
def test_stacks_with_their_own_credentials_tag_everything_and_assume_nothing(
        stack: str) -> None:
    config = stack_config(stack)
    for provider in planned(stack).of_type("pulumi:providers:aws"):
        assert "assumeRoles" not in provider.inputs
        assert provider.inputs["defaultTags"]["tags"] == {
            "project": "blueprints", "environment": config["blueprints:stage"],
            **config["blueprints:tags"]}


@pytest.mark.parametrize("stack", WORKLOADS)
def test_every_stack_exports_the_contract_and_one_output_per_service(stack: str) -> None:
    services = sorted(stack_config(stack).get("blueprints:services") or {})
    outputs = planned(stack).outputs
    assert sorted(k for k in outputs if not k.endswith("Secrets")) == sorted(
        CONTRACT_OUTPUTS + services)
    for name, value in outputs.items():
        if name.endswith("Secrets"):
            assert name.removesuffix("Secrets") in services
            assert isinstance(value, Secret)


def contract_of(outputs: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in outputs.items() if k in CONTRACT_OUTPUTS}


def test_the_contract_read_through_a_stack_reference_equals_the_one_built() -> None:
    built, referenced = planned("prod-env").outputs, contract_of(planned("prod").outputs)
    assert referenced == built
    assert built["vpcId"].startswith("vpc-")
    assert len(built["privateSubnetIds"]) == 3


def test_services_get_an_identical_contract_object_either_way() -> None:
    built = contract_of(planned("dev").outputs)
    contracts: dict[str, dict[str, Any]] = {}

    def read_back() -> None:
        contract = EnvironmentContract.from_stack_reference(
            pulumi.StackReference("environment", stack_name="organization/blueprints/dev"))
        pulumi.Output.all(**contract.outputs()).apply(
            lambda values: contracts.setdefault("read", values))

    run_program(read_back, stack_outputs={"organization/blueprints/dev": built})
    assert contracts["read"] == built


def test_only_services_stacks_build_no_environment() -> None:
    assert not planned("prod").of_type("blueprints:environment:Environment")
    assert planned("prod").of_type("pulumi:pulumi:StackReference")
    assert len(planned("dev").of_type("blueprints:environment:Environment")) == 1


def waits_for(run: StackRun, resource: Resource) -> set[str]:
    """Every resource the engine creates before ``resource``: its dependencies, transitively."""
    seen: set[str] = set()
    todo = [resource]
    while todo:
        current = todo.pop()
        for urn in (*current.dependencies, *(urn for urns in current.property_dependencies.values()
                                             for urn in urns)):
            if urn not in seen:
                seen.add(urn)
                todo.append(run.by_urn(urn))
    return seen


@pytest.mark.parametrize("stack", [s for s in STACKS if "blueprints:environment" in
                                   stack_config(s)])
def test_rest_stages_wait_for_the_account_logging_role_built_in_the_same_stack(
        stack: str) -> None:
    # Execution logging and access logs fail on a first `pulumi up` if the stage is created
    # before API Gateway's account setting names the CloudWatch role.
    run = planned(stack)
    account = run.one("aws:apigateway/account:Account")
    stages = [*run.of_type("aws:apigateway/stage:Stage"),
              *run.of_type("aws:apigateway/methodSettings:MethodSettings")]
    assert stages or stack != "dev"
    for stage in stages:
        assert account.urn in waits_for(run, stage), stage.name


def test_prod_declares_the_services_with_prod_settings() -> None:
    run = planned("prod")
    assert {r.name for r in run.resources if r.type.startswith("blueprints:services:")} == {
        "headerVersioning", "queryKeyApi", "entityResolution", "documentWatermark",
        "eventManagement", "asyncAnalytics", "privateApi", "containerApi", "microserviceCache"}
    domains = {d.inputs["domainName"]: d.inputs for d in [
        *run.of_type("aws:apigateway/domainName:DomainName"),
        *run.of_type("aws:apigatewayv2/domainName:DomainName")]}
    assert set(domains) == {"partners.api.example.com", "match.api.example.com",
                            "documents.api.example.com"}
    # Partners present a client certificate that chains to the truststore in the repository.
    partners = domains["partners.api.example.com"]["mutualTlsAuthentication"]
    assert partners["truststoreUri"].endswith("/partners-ca.pem")
    assert run.one("aws:apigateway/restApi:RestApi", "queryKeyApi-api").inputs[
        "disableExecuteApiEndpoint"] is True
    # Every regional stage but the header-versioning origins (CloudFront's WAF covers those)
    # has its web ACL.
    guarded = {a.name.removesuffix("-waf") for a in run.of_type(
        "aws:wafv2/webAclAssociation:WebAclAssociation")}
    assert {"asyncAnalytics", "eventManagement", "containerApi-rest"} <= guarded
    # Three zones: the private API's endpoint and resolver, the container services' tasks.
    endpoint = run.one("aws:ec2/vpcEndpoint:VpcEndpoint", "privateApi-execute-api")
    assert len(endpoint.inputs["subnetIds"]) == 3
    assert {s.inputs["desiredCount"] for s in run.of_type("aws:ecs/service:Service")} == {3}
    assert run.one("aws:cloudfront/distribution:Distribution",
                   "headerVersioning-distribution").inputs["aliases"] == [
        "versions.api.example.com"]
    # The cache's data survives an incident, DAX spans three zones, the manager refreshes.
    cache = run.one("aws:elasticache/serverlessCache:ServerlessCache").inputs
    assert cache["snapshotRetentionLimit"] == 7
    assert run.one("aws:dax/cluster:Cluster").inputs["replicationFactor"] == 3
    assert run.one("aws:lambda/function:Function", "microserviceCache-manager-function").inputs[
        "environment"]["variables"]["CACHE_MODE"] == "refresh"
    warm = run.one("aws:lambda/provisionedConcurrencyConfig:ProvisionedConcurrencyConfig")
    assert warm.name == "entityResolution-matcher-provisioned"
    assert warm.inputs["provisionedConcurrentExecutions"] == 2
    for pool in run.of_type("aws:cognito/userPool:UserPool"):
        assert pool.inputs["emailConfiguration"]["emailSendingAccount"] == "DEVELOPER"
        assert pool.protect
    assert all(table.protect for table in run.of_type("aws:dynamodb/table:Table"))
    assert {g.inputs["retentionInDays"] for g in run.of_type(
        "aws:cloudwatch/logGroup:LogGroup")} == {365}
    assert not run.warnings


def test_prod_protects_stateful_environment_resources_and_dev_does_not() -> None:
    for stack, protected in (("dev", False), ("prod-env", True)):
        key = planned(stack).one("aws:kms/key:Key", f"{stack.removesuffix('-env')}-key")
        assert key.protect is protected, stack


def test_dev_and_prod_differ_in_nat_and_retention() -> None:
    dev, prod = planned("dev"), planned("prod-env")
    assert len(dev.of_type("aws:ec2/natGateway:NatGateway")) == 1
    assert len(prod.of_type("aws:ec2/natGateway:NatGateway")) == 3
    retention = {run.stack: {g.inputs["retentionInDays"]
                             for g in run.of_type("aws:cloudwatch/logGroup:LogGroup")}
                 for run in (dev, prod)}
    assert retention == {"dev": {14}, "prod-env": {365}}


def test_a_resource_without_a_provider_fails_the_plan_when_defaults_are_disabled() -> None:
    run = run_program(lambda: aws.sqs.Queue("stray"))
    with pytest.raises(PlanError, match="no explicit provider: stray"):
        check_default_providers(run, {"pulumi:disable-default-providers": ["aws"]})
    check_default_providers(run, {})


def test_plan_prints_the_tree_and_the_totals(capsys: pytest.CaptureFixture[str]) -> None:
    assert plan.main(["--stack", "dev"]) == 0
    out = capsys.readouterr().out
    assert "├─ blueprints:environment:Environment  dev\n" in out
    assert "├─ blueprints:services:HeaderVersionedApi  headerVersioning\n" in out
    assert "aws:ec2/vpc:Vpc  dev-network-vpc" in out
    assert "Resources by type (" in out
    assert re.search(r"^ +4  aws:ec2/subnet:Subnet$", out, re.MULTILINE)


@pytest.mark.parametrize("stack", ["prod", "prod-env"])
def test_plan_never_prints_a_secure_value(stack: str,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    ciphertext = stack_config(stack)["blueprints:externalId"]["secure"]
    for form in ([], ["--json"]):
        assert plan.main(["--stack", stack, *form]) == 0
        out = capsys.readouterr().out
        assert ciphertext not in out
        assert SECRET_PLACEHOLDER not in out
    document = json.loads(out)
    providers = [r for r in document["resources"] if r["type"] == "pulumi:providers:aws"]
    assert {p["inputs"]["assumeRoles"] for p in providers} == {"[secret]"}


def test_plan_json_lists_every_resource_with_its_provider(
        capsys: pytest.CaptureFixture[str]) -> None:
    assert plan.main(["--stack", "dev", "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    run = planned("dev")
    assert len(document["resources"]) == len(run.resources)
    assert sum(document["totals"].values()) == len(run.resources)
    assert document["outputs"] == plan._jsonable(run.outputs)
    custom = [r for r in document["resources"]
              if r["custom"] and not r["type"].startswith("pulumi:")]
    assert all(r["provider"] for r in custom)


def test_plan_rejects_an_unknown_stack(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as raised:
        plan.main(["--stack", "nope"])
    assert raised.value.code == 2
    assert "invalid choice: 'nope'" in capsys.readouterr().err
