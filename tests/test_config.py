"""Stack configuration: every kind of mistake fails the plan with a message naming the key."""

from __future__ import annotations

import importlib
import re
from pathlib import Path
from typing import Annotated, Any, Literal

import pytest
from pydantic import Field, StringConstraints
from pydantic import dataclasses as pydantic_dataclasses

from components import config
from tests.certificates import ca_and_client
from tools import plan
from tools.mock_runtime import (
    SECRET_PLACEHOLDER,
    config_from_mapping,
    load_stack_file,
    run_program,
    run_stack,
)

DEV_ACCOUNT = {"id": "111122223333",
               "deployRoleArn": "arn:aws:iam::111122223333:role/blueprints-deploy"}


def problems_of(stack: str = "dev", **overrides: Any) -> list[str]:
    """The validation problems a stack file with ``overrides`` produces."""
    keys = {key if ":" in key else f"blueprints:{key}": value for key, value in overrides.items()}
    with pytest.raises(config.ConfigError) as raised:
        run_stack(stack, config_overrides=keys)
    return raised.value.problems


def only_problem(**overrides: Any) -> str:
    found = problems_of(**overrides)
    assert len(found) == 1, found
    return found[0]


def dev_services(**changes: Any) -> dict[str, Any]:
    """The dev stack's services section, with ``changes`` merged into its services."""
    services = dict(load_stack_file("dev")["config"]["blueprints:services"])
    for name, settings in changes.items():
        services[name] = {**services.get(name, {}), **settings}
    return services


def test_unknown_service_lists_the_known_ones() -> None:
    message = only_problem(services={"orderz": {}})
    assert message.startswith("blueprints:services.orderz: is not a catalog service; known "
                              "services:")


def test_misspelt_service_gets_a_suggestion() -> None:
    message = only_problem(services={"headerVersionin": {}})
    assert message.startswith("blueprints:services.headerVersionin: is not a catalog service; "
                              "did you mean 'headerVersioning'? known services: ")


def test_misspelt_service_setting_gets_a_suggestion_at_any_depth() -> None:
    header = dev_services()["headerVersioning"]
    found = problems_of(services=dev_services(headerVersioning={
        "headerNmae": "Accept", "domain": {"nmae": "api.example.com",
                                           "certificateArn": header["domain"]["certificateArn"]}}))
    assert sorted(found) == [
        # Not also "domain.name: is required": the suggestion says it.
        "blueprints:services.headerVersioning.domain.nmae: is not a known setting; did you mean "
        "'name'? known settings: name, certificateArn, mutualTls",
        "blueprints:services.headerVersioning.headerNmae: is not a known setting; did you mean "
        "'headerName'? known settings: versions, headerName, cacheTtlSeconds, cacheMaxEntries, "
        "replicaRegions, domain, webAclArn, accessLogging, priceClass, routerMemorySize, "
        "routerTimeout",
    ]


def test_log_retention_must_be_a_cloudwatch_value() -> None:
    message = only_problem(logRetentionDays=15)
    assert message.startswith("blueprints:logRetentionDays: 15 is not allowed")
    assert message.endswith("use one of 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, "
                            "545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653")


def test_vpc_cidr_must_be_a_network() -> None:
    message = only_problem(environment={"vpcCidr": "10.10.0.0/33"})
    assert message == ("blueprints:environment.vpcCidr: '10.10.0.0/33' is not an IPv4 network "
                       "in CIDR notation (such as 10.0.0.0/16)")


def test_vpc_cidr_with_host_bits_is_rejected() -> None:
    message = only_problem(environment={"vpcCidr": "10.10.1.0/16"})
    assert message == ("blueprints:environment.vpcCidr: 10.10.1.0/16 has host bits set; "
                       "did you mean 10.10.0.0/16?")


@pytest.mark.parametrize(("cidr", "message"), [
    ("10.10.0.0/8", "10.10.0.0/8 is a /8 with host bits set (its network is 10.0.0.0/8); "
                    "a VPC takes /16 to /24: did you mean 10.10.0.0/16?"),
    ("10.0.0.0/8", "10.0.0.0/8 is a /8; a VPC takes /16 to /24: did you mean 10.0.0.0/16?"),
    ("10.10.10.0/28", "10.10.10.0/28 is a /28; a VPC takes /16 to /24: did you mean "
                      "10.10.10.0/24?"),
])
def test_vpc_cidr_size_is_checked_with_the_network_it_probably_meant(cidr: str,
                                                                      message: str) -> None:
    assert only_problem(environment={"vpcCidr": cidr}) == (
        f"blueprints:environment.vpcCidr: {message}")


def test_subnets_must_fit_the_vpc_one_per_zone_without_overlap() -> None:
    found = problems_of(environment={
        "vpcCidr": "10.10.0.0/16", "availabilityZones": 2,
        "publicSubnetCidrs": ["10.10.0.0/24", "10.99.0.0/24"],
        "privateSubnetCidrs": ["10.10.0.0/24"],
    })
    assert found == [
        "blueprints:environment.publicSubnetCidrs[1]: 10.99.0.0/24 is outside vpcCidr "
        "10.10.0.0/16",
        "blueprints:environment.privateSubnetCidrs: has 1 entry; it needs one per availability "
        "zone (2)",
        "blueprints:environment.privateSubnetCidrs[0]: 10.10.0.0/24 overlaps "
        "publicSubnetCidrs[0] (10.10.0.0/24)",
    ]


def test_subnet_cidr_with_host_bits_is_named_by_its_index() -> None:
    message = only_problem(environment={"vpcCidr": "10.10.0.0/16",
                                        "publicSubnetCidrs": ["10.10.0.0/24", "10.10.1.1/24"]})
    assert message == ("blueprints:environment.publicSubnetCidrs[1]: 10.10.1.1/24 has host bits "
                       "set; did you mean 10.10.1.0/24?")


def test_more_nat_gateways_than_zones_is_rejected() -> None:
    message = only_problem(environment={"vpcCidr": "10.10.0.0/16", "natGateways": 3})
    assert message == ("blueprints:environment.natGateways: 3 is more than the 2 availability "
                       "zones")


def test_unknown_environment_setting_is_named() -> None:
    message = only_problem(environment={"vpcCidr": "10.10.0.0/16", "natGateway": 1})
    assert message == (
        "blueprints:environment.natGateway: is not a known setting; did you mean 'natGateways'? "
        "known settings: vpcCidr, availabilityZones, publicSubnetCidrs, privateSubnetCidrs, "
        "natGateways, alarmEmails, alarmHttpsEndpoints, unusedAccessDays")


@pytest.mark.parametrize(("account_id", "message"), [
    ("12345678901", "'12345678901' has 11 digits; an account id has 12"),
    ("1234-5678-9012", "'1234-5678-9012' must be 12 digits and nothing else"),
    (True, "true must be 12 digits, quoted in YAML"),
])
def test_account_id_must_have_twelve_digits(account_id: Any, message: str) -> None:
    found = problems_of(account={**DEV_ACCOUNT, "id": account_id})
    assert found[0] == f"blueprints:account.id: {message}", found


def test_a_number_shorter_than_an_account_id_shows_the_quoted_command() -> None:
    # `pulumi config set --path account.id 011122223333` keeps the string (the CLI leaves a
    # leading zero alone), but an unquoted 011122223333 typed into YAML may reach the program
    # as the number 11122223333: the zero is gone, and nothing can tell it was there.
    found = problems_of(account={**DEV_ACCOUNT, "id": 11122223333})
    assert found[0] == (
        "blueprints:account.id: 11122223333 is a number of 11 digits; an account id has 12, "
        "and a number loses leading zeros: quote it in the stack file (id: \"011122223333\") or "
        "set it with `pulumi config set --path --type string account.id 011122223333`")


def test_a_twelve_digit_number_is_the_account_id() -> None:
    # What `pulumi config set --path account.id 111122223333` stores: a number, unambiguous.
    run = run_stack("dev", config_overrides={"blueprints:account": {**DEV_ACCOUNT,
                                                                    "id": 111122223333}})
    providers = run.of_type("pulumi:providers:aws")
    assert {tuple(p.inputs["allowedAccountIds"]) for p in providers} == {("111122223333",)}


def test_deploy_role_must_be_in_the_account() -> None:
    message = only_problem(account={**DEV_ACCOUNT,
                                    "deployRoleArn": "arn:aws:iam::999999999999:role/deploy"})
    assert message == ("blueprints:account.deployRoleArn: is in account 999999999999, "
                       "but account.id is 111122223333")


def test_deploy_role_must_be_a_role_arn() -> None:
    message = only_problem(account={**DEV_ACCOUNT, "deployRoleArn": "blueprints-deploy"})
    assert message == ("blueprints:account.deployRoleArn: 'blueprints-deploy' is not an IAM "
                       "role ARN (arn:aws:iam::<12 digits>:role/<name>)")


def test_unknown_stage_lists_the_stages() -> None:
    message = only_problem(stage="qa")
    assert message == "blueprints:stage: 'qa' is not allowed; use one of dev, staging, prod"


def test_environment_and_environment_stack_are_exclusive() -> None:
    message = only_problem(environmentStack="organization/blueprints/prod-env")
    assert message.startswith("blueprints:environment / blueprints:environmentStack: set "
                              "exactly one")


def test_environment_or_environment_stack_is_required() -> None:
    message = only_problem(environment=None)
    assert "set exactly one" in message


def test_environment_stack_must_be_fully_qualified() -> None:
    message = only_problem(environment=None, environmentStack="prod-env")
    assert message == ("blueprints:environmentStack: 'prod-env' is not a fully qualified stack "
                       "name (<org>/<project>/<stack>)")


def test_runtime_must_be_on_the_allow_list() -> None:
    message = only_problem(lambdaRuntime="python3.9")
    assert message == ("blueprints:lambdaRuntime: 'python3.9' is not allowed; use one of "
                       "python3.12, python3.13, python3.14")


def test_architecture_must_be_known() -> None:
    message = only_problem(lambdaArchitecture="arm")
    assert message == ("blueprints:lambdaArchitecture: 'arm' is not allowed; did you mean "
                       "'arm64'? use one of arm64, x86_64")


def test_debug_sample_rate_is_a_fraction() -> None:
    message = only_problem(debugLogSampleRate="1.5")
    assert message == "blueprints:debugLogSampleRate: must be from 0 to 1, not 1.5"


def test_a_number_for_a_tag_value_says_how_to_quote_it() -> None:
    message = only_problem(tags={"owner": 1234})
    assert message == ("blueprints:tags.owner: must be a string, not the number 1234; quote it "
                       "in the stack file, or set it with `pulumi config set --path --type "
                       "string tags.owner 1234`")


def test_misspelt_key_gets_a_suggestion() -> None:
    message = only_problem(logRetention=14)
    assert message.startswith("blueprints:logRetention: is not a known key; "
                              "did you mean 'logRetentionDays'?")


def test_owner_tag_is_required() -> None:
    message = only_problem(tags={"cost-center": "x"})
    assert message.startswith("blueprints:tags: needs an 'owner' tag")


def test_reserved_tag_prefix_is_rejected() -> None:
    found = problems_of(tags={"owner": "me", "aws:team": "x"})
    assert any(p.startswith("blueprints:tags.aws:team") for p in found), found


AWS_REGIONS = ("af-south-1, ap-east-1, ap-east-2, ap-northeast-1, ap-northeast-2, "
               "ap-northeast-3, ap-south-1, ap-south-2, ap-southeast-1")


def test_region_must_be_a_region_name() -> None:
    message = only_problem(**{"aws:region": "Ireland"})
    assert message.startswith("aws:region: 'Ireland' is not an AWS region; did you mean "
                              "'eu-west-1' (Europe (Ireland))? regions of partition aws: "
                              f"{AWS_REGIONS}")


def test_region_must_exist_not_just_look_like_one() -> None:
    message = only_problem(**{"aws:region": "eu-west-4"})
    assert message.startswith("aws:region: 'eu-west-4' is not an AWS region; did you mean "
                              "'eu-west-1', 'eu-west-2' or 'eu-west-3'? regions of partition "
                              f"aws: {AWS_REGIONS}")
    assert ", us-west-2 (botocore " in message
    assert "cn-north-1" not in message


def test_a_region_of_another_partition_lists_that_partition() -> None:
    message = only_problem(**{"aws:region": "cn-north-2"})
    assert message.startswith("aws:region: 'cn-north-2' is not an AWS region; did you mean "
                              "'cn-north-1'? regions of partition aws-cn: cn-north-1, "
                              "cn-northwest-1 (botocore ")


@pytest.mark.parametrize("region", ["cn-north-1", "us-gov-west-1", "ap-southeast-7"])
def test_regions_of_every_partition_are_known(region: str) -> None:
    assert config.region_problem(region) is None


def test_missing_required_keys_are_all_reported_at_once() -> None:
    found = problems_of(account=None, tags=None, **{"aws:region": None})
    assert [p.split(":")[0:2] for p in found] == [
        ["blueprints", "account"], ["blueprints", "tags"], ["aws", "region"]]
    assert all("is required" in p for p in found)


def test_a_missing_stage_is_reported_with_every_other_problem() -> None:
    # `stage` is declared in Pulumi.yaml without a default: the CLI refuses the stack before
    # the program runs. The offline plan says so, together with what the program finds.
    found = problems_of(stage=None, logRetentionDays=2)
    assert found == [
        "blueprints:stage: is required (Pulumi.yaml declares it with no default); set it with "
        "`pulumi config set stage <value>`",
        "blueprints:logRetentionDays: 2 is not allowed; use one of 1, 3, 5, 7, 14, 30, 60, 90, "
        "120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653"]


def test_a_declared_key_of_the_wrong_type_is_reported_with_every_other_problem() -> None:
    found = problems_of(powertoolsLayerVersion="abc", stage="qa",
                        services=dev_services(headerVersioning={"headerNmae": "Accept"}))
    assert found[0] == ("blueprints:powertoolsLayerVersion: must be an integer, not 'abc' "
                        "(Pulumi.yaml declares it `type: integer`; the CLI checks that before "
                        "the program runs)")
    assert found[1:] == [
        "blueprints:stage: 'qa' is not allowed; use one of dev, staging, prod",
        "blueprints:services.headerVersioning.headerNmae: is not a known setting; did you mean "
        "'headerName'? known settings: versions, headerName, cacheTtlSeconds, cacheMaxEntries, "
        "replicaRegions, domain, webAclArn, accessLogging, priceClass, routerMemorySize, "
        "routerTimeout"]


def test_a_declared_key_of_the_wrong_type_alone_still_fails() -> None:
    # The program would read "27.5" as it pleases; the CLI refuses it, and so does the plan.
    with pytest.raises(config.ConfigError) as raised:
        run_stack("dev", config_overrides={"blueprints:powertoolsLayerVersion": 27.5})
    assert raised.value.problems == [
        "blueprints:powertoolsLayerVersion: must be an integer, not 27.5 (Pulumi.yaml declares "
        "it `type: integer`; the CLI checks that before the program runs)"]


def test_api_keys_must_be_a_secret_map_of_well_formed_keys() -> None:
    found = problems_of(apiKeys={"partner": {"secure": "v1:x"}, "short": "abc",
                                 "bad": "has spaces in it and is long enough"})
    assert found == [
        "blueprints:apiKeys.short: must be 20 to 128 letters, digits, '-' or '_'",
        "blueprints:apiKeys.bad: must be 20 to 128 letters, digits, '-' or '_'"]
    assert "abc" not in " ".join(found)


def test_object_keys_must_be_objects() -> None:
    message = only_problem(environment="10.0.0.0/16")
    assert message.startswith("blueprints:environment: must be an object")


def test_the_plan_prints_the_messages_without_a_traceback(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(plan, "run_stack", lambda stack: run_stack(
        stack, config_overrides={"blueprints:stage": "qa", "blueprints:logRetentionDays": 2}))
    assert plan.main(["--stack", "dev"]) == 1
    err = capsys.readouterr().err
    assert "error: stack dev: invalid stack configuration (2 problems)" in err
    assert "blueprints:stage: 'qa' is not allowed" in err
    assert "blueprints:logRetentionDays: 2 is not allowed" in err
    assert "Traceback" not in err


@pydantic_dataclasses.dataclass(frozen=True, config=config.SETTINGS)
class DemoSettings:
    """A stand-in service settings type, to exercise the services section."""

    memory_size: Annotated[int, Field(ge=128, le=10240)] = 256
    greeting: Annotated[str, StringConstraints(min_length=1)] = "hello"
    size: Literal["small", "medium", "large"] = "small"
    ports: Annotated[tuple[int, ...], Field(min_length=1)] = (443,)


def load_with_catalog(services: dict[str, Any]) -> Any:
    dev = {**load_stack_file("dev")["config"], "blueprints:services": services}
    loaded: dict[str, Any] = {}

    def program() -> None:
        loaded["config"] = config.load(services={"demo": DemoSettings})

    run_program(program, config=config_from_mapping(dev))
    return loaded["config"]


def test_service_settings_are_validated_against_the_catalog_type() -> None:
    with pytest.raises(config.ConfigError) as raised:
        load_with_catalog({"demo": {"memorySize": 64, "greting": "hi"}})
    assert sorted(raised.value.problems) == [
        "blueprints:services.demo.greting: is not a known setting; did you mean 'greeting'? "
        "known settings: memorySize, greeting, size, ports",
        "blueprints:services.demo.memorySize: must be from 128 to 10240, not 64",
    ]


@pytest.mark.parametrize(("settings", "message"), [
    ({"memorySize": "lots"}, "memorySize: must be a whole number from 128 to 10240, not 'lots'"),
    ({"memorySize": 256.5}, "memorySize: must be a whole number from 128 to 10240, not 256.5"),
    ({"greeting": 42}, "greeting: must be a string, not the number 42; quote it in the stack "
                       "file, or set it with `pulumi config set --path --type string "
                       "services.demo.greeting 42`"),
    ({"size": "meduim"}, "size: 'meduim' is not allowed; did you mean 'medium'? use one of "
                         "small, medium, large"),
    ({"size": "huge"}, "size: 'huge' is not allowed; use one of small, medium, large"),
    ({"ports": 443}, "ports: must be a list, not 443; write [443] for one entry"),
    ({"ports": ["https"]}, "ports[0]: must be a whole number, not 'https'"),
    ({"ports": []}, "ports: needs at least 1 entry"),
    ({"greeting": ""}, "greeting: must not be empty"),
    ({"enabled": "yes"}, "enabled: must be true or false, not 'yes'"),
])
def test_pydantic_messages_are_translated(settings: dict[str, Any], message: str) -> None:
    with pytest.raises(config.ConfigError) as raised:
        load_with_catalog({"demo": settings})
    assert raised.value.problems == [f"blueprints:services.demo.{message}"]


def test_values_of_secret_keys_are_never_shown() -> None:
    with pytest.raises(config.ConfigError) as raised:
        load_with_catalog({"demo": {"memorySize": {"secure": "v1:abc"}, "size": "meduim"}})
    assert raised.value.problems == [
        "blueprints:services.demo.memorySize: must be a whole number from 128 to 10240, not "
        "[secret]",
        "blueprints:services.demo.size: [secret] is not allowed; use one of small, medium, "
        "large"]


@pytest.mark.parametrize("bad", [
    {"stage": "prd", "lambdaRuntime": "python3.9", "logLevel": 3, "debugLogSampleRate": "x",
     "tags": {"owner": 7, "aws:x": "y", "": "z", "k": "v" * 300}},
    {"account": {"id": "1", "deployRoleArn": "x", "sessionName": "a b", "extra": 1},
     "environment": {"vpcCidr": 5, "availabilityZones": "two", "natGateways": -1,
                     "publicSubnetCidrs": "10.10.0.0/24"}},
    {"services": dev_services(headerVersioning={
        "versions": {"V1": {"headerValues": []}, "v2": {"headerValues": "x", "originPath": 3}},
        "cacheTtlSeconds": "abc", "replicaRegions": "us-east-1", "accessLogging": "maybe",
        "priceClass": "PriceClass_1", "routerTimeout": 99, "webAclArn": 3,
        "domain": {"name": "Example", "certificateArn": "y"}})},
    {"environment": None, "environmentStack": "a/b", "services": {"headerVersioning": []}},
])
def test_no_raw_pydantic_message_reaches_a_user(bad: dict[str, Any]) -> None:
    found = problems_of(**bad)
    raw = re.compile(r"Input should|String should|should match pattern|Field required|"
                     r"Value error|Unexpected keyword|valid IPv4|List should|Tuple should|"
                     r"Missing required|unable to (parse|interpret)|\[key\]")
    assert not [p for p in found if raw.search(p)], found
    assert all(re.match(r"^(blueprints|aws):[\w.:\[\]\"-]*: ", p) for p in found), found


def test_service_settings_are_parsed_and_can_be_switched_off() -> None:
    loaded = load_with_catalog({"demo": {"memorySize": 512}})
    assert loaded.services == {"demo": DemoSettings(memory_size=512)}
    assert load_with_catalog({"demo": {"enabled": False}}).services == {}


def test_stage_defaults_differ_between_dev_and_prod() -> None:
    dev, prod = config.STAGES["dev"], config.STAGES["prod"]
    assert (dev.log_retention_days, dev.nat_gateway_per_az, dev.deletion_protection,
            dev.protect) == (14, False, False, False)
    assert (prod.log_retention_days, prod.nat_gateway_per_az, prod.deletion_protection,
            prod.protect) == (365, True, True, True)


def test_a_valid_stack_resolves_defaults_from_the_project_and_the_stage() -> None:
    loaded: dict[str, Any] = {}
    section = load_stack_file("prod-env")["config"]

    def program() -> None:
        loaded["config"] = config.load()

    run_program(program, config=config_from_mapping(section))
    stack = loaded["config"]
    assert stack.defaults.log_retention_days == 365
    assert stack.defaults.functions == config.FunctionDefaults(
        runtime="python3.13", architecture="arm64", powertools_layer_version=27,
        log_level="INFO", debug_log_sample_rate=0.1)
    assert stack.environment.nat_gateways == 3  # prod: one per availability zone
    assert stack.tags == {"project": "blueprints", "environment": "prod",
                          "owner": "platform-team", "cost-center": "serverless-blueprints"}


def test_secure_values_reach_the_program_only_as_marked_secret_placeholders() -> None:
    loaded = config_from_mapping(load_stack_file("prod")["config"])
    assert loaded.values["blueprints:externalId"] == SECRET_PLACEHOLDER
    assert "blueprints:externalId" in loaded.secret_keys


def test_vpc_cidr_must_be_written_in_cidr_notation() -> None:
    message = only_problem(environment={"vpcCidr": 5})
    assert message == ("blueprints:environment.vpcCidr: must be an IPv4 network in CIDR "
                       "notation (such as 10.0.0.0/16), not 5")


def test_without_botocore_the_region_list_of_pulumi_aws_stands_in(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # The program's own virtualenv (requirements.txt) may not have botocore.
    real_import = importlib.import_module

    def without_botocore(name: str, package: str | None = None) -> Any:
        if name.split(".")[0] == "botocore":
            raise ImportError(name)
        return real_import(name, package)

    monkeypatch.setattr(importlib, "import_module", without_botocore)
    config._partitions.cache_clear()
    try:
        assert config.region_problem("eu-west-1") is None
        assert config.region_problem("cn-north-1") is None
        message = config.region_problem("eu-west-4") or ""
        assert message.startswith("'eu-west-4' is not an AWS region; did you mean 'eu-west-1', "
                                  "'eu-west-2' or 'eu-west-3'? regions pulumi-aws knows: "
                                  "af-south-1, ")
        assert message.endswith(", us-west-2 (pulumi-aws's list)")
    finally:
        config._partitions.cache_clear()


def test_a_truststore_that_is_not_one_is_named_with_its_key(tmp_path: Path) -> None:
    _, client = ca_and_client()
    leaf = tmp_path / "client.pem"
    leaf.write_bytes(client)
    certificate = "arn:aws:acm:eu-west-1:111122223333:certificate/0a1b"
    message = only_problem(services=dev_services(queryKeyApi={"domain": {
        "name": "partners.example.com", "certificateArn": certificate,
        "mutualTls": {"truststore": str(leaf)}}}))
    assert message == (
        "blueprints:services.queryKeyApi.domain.mutualTls.truststore: "
        f"{str(leaf)!r} holds 1 certificate(s) that are not CAs; a truststore holds the CAs that "
        "issue client certificates, not the client certificates")


def test_a_workload_stack_must_name_the_deploy_role_it_assumes() -> None:
    assert only_problem(account={"id": "111122223333"}) == (
        "blueprints:account.deployRoleArn: is required for an environment or services stack: "
        "its providers assume that role (a connection stack creates it); only connection and "
        "tooling stacks deploy with the shell's credentials")


def test_a_stack_is_a_connection_or_the_tooling_stack_not_both() -> None:
    pipeline = load_stack_file("tooling")["config"]["blueprints:pipeline"]
    found = problems_of("dev-connection", pipeline=pipeline)
    assert ("blueprints:connection / blueprints:pipeline: set at most one; a connection stack "
            "and the tooling stack are separate") in found
