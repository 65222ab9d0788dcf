"""Stack configuration: every kind of mistake fails the plan with a message naming the key."""

from __future__ import annotations

from typing import Annotated, Any

import pytest
from pydantic import Field
from pydantic import dataclasses as pydantic_dataclasses

from components import config
from tools import plan
from tools.mock_runtime import (
    SECRET_PLACEHOLDER,
    PlanError,
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


def test_unknown_service_lists_the_known_ones() -> None:
    message = only_problem(services={"orderz": {}})
    assert message.startswith("blueprints:services.orderz: is not a catalog service")
    assert "known services:" in message


def test_log_retention_must_be_a_cloudwatch_value() -> None:
    message = only_problem(logRetentionDays=15)
    assert message.startswith("blueprints:logRetentionDays: 15 is not allowed")
    assert message.endswith("use one of 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, "
                            "545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653")


def test_vpc_cidr_must_be_a_network() -> None:
    message = only_problem(environment={"vpcCidr": "10.10.0.0/33"})
    assert message.startswith("blueprints:environment.vpcCidr:")


def test_vpc_cidr_with_host_bits_is_rejected() -> None:
    message = only_problem(environment={"vpcCidr": "10.10.1.0/16"})
    assert message.startswith("blueprints:environment.vpcCidr:")


def test_subnets_must_fit_the_vpc_one_per_zone_without_overlap() -> None:
    message = only_problem(environment={
        "vpcCidr": "10.10.0.0/16", "availabilityZones": 2,
        "publicSubnetCidrs": ["10.10.0.0/24", "10.99.0.0/24"],
        "privateSubnetCidrs": ["10.10.0.0/24"],
    })
    assert message.startswith("blueprints:environment:")
    assert "publicSubnetCidrs entry 10.99.0.0/24 is outside vpcCidr 10.10.0.0/16" in message
    assert "privateSubnetCidrs has 1 entries; it needs one per availability zone (2)" in message
    assert "subnets 10.10.0.0/24 and 10.10.0.0/24 overlap" in message


def test_more_nat_gateways_than_zones_is_rejected() -> None:
    message = only_problem(environment={"vpcCidr": "10.10.0.0/16", "natGateways": 3})
    assert "natGateways is 3, more than the 2 availability zones" in message


def test_unknown_environment_setting_is_named() -> None:
    message = only_problem(environment={"vpcCidr": "10.10.0.0/16", "natGateway": 1})
    assert message == (
        "blueprints:environment.natGateway: is not a known setting; known settings: vpcCidr, "
        "availabilityZones, publicSubnetCidrs, privateSubnetCidrs, natGateways")


def test_account_id_must_have_twelve_digits() -> None:
    found = problems_of(account={**DEV_ACCOUNT, "id": "12345"})
    assert any(p.startswith("blueprints:account.id: String should match pattern")
               for p in found), found


def test_unquoted_account_id_explains_the_yaml_trap() -> None:
    found = problems_of(account={**DEV_ACCOUNT, "id": 11122223333})
    assert any(p.startswith("blueprints:account.id: must be a quoted string") for p in found)


def test_deploy_role_must_be_in_the_account() -> None:
    message = only_problem(account={**DEV_ACCOUNT,
                                    "deployRoleArn": "arn:aws:iam::999999999999:role/deploy"})
    assert message == ("blueprints:account: deployRoleArn is in account 999999999999, "
                       "but account.id is 111122223333")


def test_deploy_role_must_be_a_role_arn() -> None:
    message = only_problem(account={**DEV_ACCOUNT, "deployRoleArn": "blueprints-deploy"})
    assert "is not an IAM role ARN" in message


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
    found = problems_of(environment=None, environmentStack="prod-env")
    assert any(p.startswith("blueprints:environmentStack: String should match pattern")
               for p in found), found


def test_runtime_must_be_on_the_allow_list() -> None:
    message = only_problem(lambdaRuntime="python3.9")
    assert message == ("blueprints:lambdaRuntime: 'python3.9' is not allowed; use one of "
                       "python3.12, python3.13, python3.14")


def test_architecture_must_be_known() -> None:
    message = only_problem(lambdaArchitecture="arm")
    assert message.startswith("blueprints:lambdaArchitecture: 'arm' is not allowed")


def test_debug_sample_rate_is_a_fraction() -> None:
    message = only_problem(debugLogSampleRate="1.5")
    assert message.startswith("blueprints:debugLogSampleRate:")


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


def test_region_must_be_a_region_name() -> None:
    message = only_problem(**{"aws:region": "Ireland"})
    assert message == "aws:region: 'Ireland' is not an AWS region name (such as eu-west-1)"


def test_missing_required_keys_are_all_reported_at_once() -> None:
    found = problems_of(account=None, tags=None, **{"aws:region": None})
    assert [p.split(":")[0:2] for p in found] == [
        ["blueprints", "account"], ["blueprints", "tags"], ["aws", "region"]]
    assert all("is required" in p for p in found)


def test_a_missing_stage_stops_the_plan_as_the_cli_would() -> None:
    # `stage` is declared in Pulumi.yaml without a default: the CLI refuses the stack before
    # the program runs, and so does the offline plan.
    with pytest.raises(PlanError, match="Stack 'dev' is missing configuration value 'stage'"):
        run_stack("dev", config_overrides={"blueprints:stage": None})


def test_a_declared_key_of_the_wrong_type_stops_the_plan_as_the_cli_would() -> None:
    with pytest.raises(PlanError, match="key 'powertoolsLayerVersion' must be of type 'integer'"):
        run_stack("dev", config_overrides={"blueprints:powertoolsLayerVersion": "latest"})


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
    greeting: str = "hello"


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
        "blueprints:services.demo.greting: is not a known setting; known settings: "
        "memorySize, greeting",
        "blueprints:services.demo.memorySize: Input should be greater than or equal to 128",
    ]


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
