"""The function block: role per function, logs, tracing, capacity, Powertools, async failures."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pulumi
import pulumi_aws as aws
import pytest

from components.accounts import EDGE_REGIONS
from components.foundation import iam
from components.foundation.function import (
    FailureDestination,
    Function,
    FunctionArgs,
    FunctionImage,
    FunctionVpc,
    powertools_layer_arn,
)
from components.foundation.validation import InvalidArgs
from tests.support import DEV, PROD, statements
from tools.mock_runtime import StackRun

FUNCTION = "aws:lambda/function:Function"
ROLE = "aws:iam/role:Role"
POLICY = "aws:iam/rolePolicy:RolePolicy"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
TABLE_ARN = "arn:aws:dynamodb:eu-west-1:111111111111:table/orders"

Build = Callable[..., StackRun]


@pytest.fixture
def code_root(tmp_path: Path) -> Path:
    for folder, files in {"orders": ["app.py"], "refunds": ["app.py", "rules.py"],
                          "blueprints_common": ["__init__.py"]}.items():
        (tmp_path / folder).mkdir()
        for file in files:
            (tmp_path / folder / file).write_text("def handler(event, context):\n    return {}\n")
    (tmp_path / "orders" / "__pycache__").mkdir()
    (tmp_path / "orders" / "__pycache__" / "app.cpython-311.pyc").write_bytes(b"\0")
    return tmp_path


def args(code_root: Path, **overrides: Any) -> FunctionArgs:
    base = FunctionArgs(code="orders", memory_size=256, timeout=10, code_root=code_root,
                        statements=[iam.allow(["dynamodb:GetItem"], TABLE_ARN)])
    return replace(base, **overrides)


def one_function(build: Build, function_args: FunctionArgs, defaults: Any = DEV) -> StackRun:
    return build(lambda opts: Function("orders", function_args, defaults, opts))


def test_each_function_gets_its_own_role(build: Build, code_root: Path) -> None:
    run = build(lambda opts: [
        Function("orders", args(code_root), DEV, opts),
        Function("refunds", args(code_root, code="refunds"), DEV, opts),
    ])
    roles = {r.name: r.state["arn"] for r in run.of_type(ROLE)}
    functions = {r.name: r.inputs["role"] for r in run.of_type(FUNCTION)}
    assert functions == {"orders-function": roles["orders-role"],
                         "refunds-function": roles["refunds-role"]}
    for role in run.of_type(ROLE):
        assert statements(role, "assumeRolePolicy") == [{
            "Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
            "Action": "sts:AssumeRole"}]


def test_role_statements_are_scoped_to_arns(build: Build, code_root: Path) -> None:
    run = one_function(build, args(code_root))
    log_group_arn = run.one(LOG_GROUP, "orders-logs").state["arn"]
    policy = run.one(POLICY, "orders-policy")
    assert policy.inputs["role"] == run.one(ROLE, "orders-role").id
    assert statements(policy) == [
        {"Effect": "Allow", "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
         "Resource": f"{log_group_arn}:*"},
        {"Effect": "Allow", "Action": ["dynamodb:GetItem"], "Resource": TABLE_ARN},
    ]
    attachments = run.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment")
    assert [a.inputs["policyArn"] for a in attachments] == [
        "arn:aws:iam::aws:policy/AWSXRayDaemonWriteAccess"]


def test_log_group_has_the_stage_retention_and_receives_the_logs(
        build: Build, code_root: Path) -> None:
    for defaults, retention in ((DEV, 14), (PROD, 365)):
        run = one_function(build, args(code_root), defaults)
        log_group = run.one(LOG_GROUP, "orders-logs")
        assert log_group.inputs["retentionInDays"] == retention
        assert log_group.inputs["namePrefix"] == f"/blueprints/{defaults.stage}/orders/"
        function = run.one(FUNCTION, "orders-function")
        assert function.inputs["loggingConfig"] == {"logFormat": "Text",
                                                    "logGroup": log_group.state["name"]}
        assert log_group.urn in function.dependencies


def test_function_settings(build: Build, code_root: Path) -> None:
    run = one_function(build, args(code_root, reserved_concurrency=5, description="Orders"))
    inputs = run.one(FUNCTION, "orders-function").inputs
    assert inputs["tracingConfig"] == {"mode": "Active"}
    assert inputs["memorySize"] == 256
    assert inputs["timeout"] == 10
    assert inputs["architectures"] == ["arm64"]
    assert inputs["runtime"] == "python3.13"
    assert inputs["handler"] == "app.handler"
    assert inputs["packageType"] == "Zip"
    assert inputs["reservedConcurrentExecutions"] == 5
    assert inputs["layers"] == [
        "arn:aws:lambda:eu-west-1:017000801446:layer:"
        "AWSLambdaPowertoolsPythonV3-python313-arm64:27"]
    assert inputs["environment"]["variables"] == {
        "POWERTOOLS_SERVICE_NAME": "orders",
        "POWERTOOLS_METRICS_NAMESPACE": "ServerlessBlueprints",
        "POWERTOOLS_LOG_LEVEL": "INFO",
        "POWERTOOLS_LOGGER_SAMPLE_RATE": "0.1",
        "POWERTOOLS_TRACER_CAPTURE_RESPONSE": "false",
    }


def test_layer_follows_architecture_runtime_and_version(build: Build, code_root: Path) -> None:
    x86 = replace(DEV, functions=replace(DEV.functions, architecture="x86_64",
                                         runtime="python3.12", powertools_layer_version=30))
    inputs = one_function(build, args(code_root), x86).one(FUNCTION, "orders-function").inputs
    assert inputs["architectures"] == ["x86_64"]
    assert inputs["layers"] == [powertools_layer_arn("eu-west-1", "x86_64", "python3.12", 30)]
    assert inputs["layers"][0].endswith("AWSLambdaPowertoolsPythonV3-python312-x86_64:30")


def test_package_holds_the_handler_and_the_shared_library(build: Build, code_root: Path) -> None:
    code = one_function(build, args(code_root, code="refunds")).one(
        FUNCTION, "orders-function").inputs["code"]
    assert isinstance(code, pulumi.AssetArchive)
    assert sorted(code.assets) == ["app.py", "blueprints_common/__init__.py", "rules.py"]
    assert code.assets["app.py"].path == str(code_root / "refunds" / "app.py")


def test_an_image_function_runs_its_command_from_the_image_without_layers(
        build: Build, code_root: Path) -> None:
    image = "111111111111.dkr.ecr.eu-west-1.amazonaws.com/jobs@sha256:" + "a" * 64
    inputs = one_function(build, args(code_root, handler="app.run_job",
                                      image=FunctionImage(image))).one(
        FUNCTION, "orders-function").inputs
    assert (inputs["packageType"], inputs["imageUri"]) == ("Image", image)
    assert inputs["imageConfig"] == {"commands": ["app.run_job"]}
    assert [inputs.get(key) for key in ("code", "handler", "runtime")] == [None, None, None]
    assert inputs["layers"] == []
    assert inputs["architectures"] == ["arm64"]
    assert inputs["environment"]["variables"]["POWERTOOLS_SERVICE_NAME"] == "orders"


def test_an_image_function_takes_no_layers_libraries_or_generated_files(
        build: Build, code_root: Path) -> None:
    with pytest.raises(InvalidArgs, match="image: the image holds"):
        one_function(build, args(code_root, image=FunctionImage("repo@sha256:x"),
                                 layers=["arn:aws:lambda:eu-west-1:111111111111:layer:l:1"]))


def test_async_function_sends_failures_to_a_queue_with_a_dlq(
        build: Build, code_root: Path) -> None:
    run = one_function(build, args(code_root, invoked_async=True))
    queue = run.one("aws:sqs/queue:Queue", "orders-failures-queue")
    dlq = run.one("aws:sqs/queue:Queue", "orders-failures-dlq")
    assert f'"deadLetterTargetArn": "{dlq.state["arn"]}"'.replace(" ", "") in \
        queue.inputs["redrivePolicy"].replace(" ", "")
    invoke_config = run.one("aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig",
                            "orders-async")
    assert invoke_config.inputs["destinationConfig"] == {
        "onFailure": {"destination": queue.state["arn"]}}
    assert invoke_config.inputs["maximumRetryAttempts"] == 2
    assert invoke_config.inputs["maximumEventAgeInSeconds"] == 3600
    assert {"Effect": "Allow", "Action": ["sqs:SendMessage"], "Resource": queue.state["arn"]} \
        in statements(run.one(POLICY, "orders-policy"))


def test_explicit_failure_destination_gets_the_matching_permission(
        build: Build, code_root: Path) -> None:
    topic = "arn:aws:sns:eu-west-1:111111111111:failures"
    run = one_function(build, args(code_root, invoked_async=True,
                                   on_failure=FailureDestination(topic, "sns")))
    assert not run.of_type("aws:sqs/queue:Queue")
    assert {"Effect": "Allow", "Action": ["sns:Publish"], "Resource": topic} \
        in statements(run.one(POLICY, "orders-policy"))


def test_synchronous_function_has_no_async_config(build: Build, code_root: Path) -> None:
    run = one_function(build, args(code_root))
    assert not run.of_type("aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig")


def test_vpc_function_gets_network_access(build: Build, code_root: Path) -> None:
    vpc = FunctionVpc(subnet_ids=["subnet-1", "subnet-2"], security_group_ids=["sg-1"])
    run = one_function(build, args(code_root, vpc=vpc))
    assert run.one(FUNCTION, "orders-function").inputs["vpcConfig"] == {
        "subnetIds": ["subnet-1", "subnet-2"], "securityGroupIds": ["sg-1"]}
    policies = [a.inputs["policyArn"] for a in
                run.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment")]
    assert "arn:aws:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole" in policies


def test_vpc_function_needs_subnets_and_groups(build: Build, code_root: Path) -> None:
    with pytest.raises(InvalidArgs) as raised:
        one_function(build, args(code_root, vpc=FunctionVpc(subnet_ids=[],
                                                             security_group_ids=[])))
    assert "vpc: subnet_ids is empty" in str(raised.value)
    assert "vpc: security_group_ids is empty" in str(raised.value)


def test_customer_key_encrypts_environment_and_logs(build: Build, code_root: Path) -> None:
    key = "arn:aws:kms:eu-west-1:111111111111:key/1234"
    run = one_function(build, args(code_root, kms_key_arn=key))
    assert run.one(FUNCTION, "orders-function").inputs["kmsKeyArn"] == key
    assert run.one(LOG_GROUP, "orders-logs").inputs["kmsKeyId"] == key
    assert {"Effect": "Allow", "Action": ["kms:Decrypt"], "Resource": key} \
        in statements(run.one(POLICY, "orders-policy"))


def test_every_child_is_parented_to_the_block(build: Build, code_root: Path) -> None:
    run = one_function(build, args(code_root, invoked_async=True))
    block = run.one("blueprints:foundation:Function", "orders")
    direct = {r.name for r in run.children(block)}
    assert {"orders-function", "orders-role", "orders-policy", "orders-logs", "orders-async",
            "orders-failures"} <= direct


def test_kill_switch_warns(build: Build, code_root: Path) -> None:
    run = one_function(build, args(code_root, reserved_concurrency=0))
    assert run.one(FUNCTION, "orders-function").inputs["reservedConcurrentExecutions"] == 0
    assert any("reserved_concurrency=0" in warning for warning in run.warnings)


def test_bad_inputs_are_all_reported(build: Build, code_root: Path) -> None:
    bad_defaults = replace(DEV, functions=replace(DEV.functions, runtime="python3.9"))
    bad = args(code_root, code="missing", memory_size=64, timeout=901, reserved_concurrency=-1,
               on_failure=FailureDestination("arn:aws:sqs:eu-west-1:111111111111:q", "sqs"),
               environment={"POWERTOOLS_SERVICE_NAME": "x"})
    with pytest.raises(InvalidArgs) as raised:
        one_function(build, bad, bad_defaults)
    assert [p.split(":")[0] for p in raised.value.problems] == [
        "code", "memory_size", "timeout", "runtime", "reserved_concurrency", "on_failure",
        "environment"]
    assert "Function orders: invalid arguments" in str(raised.value)


def test_wildcard_statements_are_refused(code_root: Path) -> None:
    with pytest.raises(iam.PolicyError, match="dynamodb:\\*"):
        args(code_root, statements=[iam.allow(["dynamodb:*"], TABLE_ARN)])


def test_only_actions_without_resource_level_permission_may_name_every_resource() -> None:
    assert iam.allow_unscoped(["logs:CreateLogDelivery", "xray:PutTraceSegments"]).resources \
        == ("*",)
    with pytest.raises(iam.PolicyError, match="dynamodb:GetItem can be scoped"):
        iam.allow_unscoped(["logs:CreateLogDelivery", "dynamodb:GetItem"])
    with pytest.raises(iam.PolicyError, match="not a wildcard"):
        iam.allow(["logs:CreateLogDelivery", "dynamodb:GetItem"], "*")


# --- Lambda@Edge ------------------------------------------------------------------------------

def provider_in(region: str) -> pulumi.ProviderResource:
    return aws.Provider(f"aws-{region}", region=region)


def edge_args(code_root: Path, **overrides: Any) -> FunctionArgs:
    edge = {"edge_event": "origin-request", "memory_size": 128, "timeout": 5,
            "generated_files": {"config.json": '{"table": "t"}'},
            "replica_provider": provider_in}
    return args(code_root, **{**edge, **overrides})


def test_edge_function_fits_lambda_at_edge(build: Build, code_root: Path) -> None:
    run = one_function(build, edge_args(code_root))
    inputs = run.one(FUNCTION, "orders-function").inputs
    assert inputs["name"] == "blueprints-test-orders"
    assert inputs["architectures"] == ["x86_64"]
    assert inputs["runtime"] == "python3.13"
    assert inputs["publish"] is True
    assert inputs["skipDestroy"] is True
    assert inputs["layers"] == []
    for absent in ("environment", "tracingConfig", "loggingConfig", "vpcConfig"):
        assert absent not in inputs
    assert not run.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment")


def test_edge_role_trusts_edgelambda_and_logs_in_every_edge_region(
        build: Build, code_root: Path) -> None:
    run = one_function(build, edge_args(code_root))
    trust = statements(run.one(ROLE, "orders-role"), "assumeRolePolicy")[0]
    assert trust["Principal"]["Service"] == ["edgelambda.amazonaws.com", "lambda.amazonaws.com"]
    logs, table = statements(run.one(POLICY, "orders-policy"))
    # The groups exist already, with retention: replicas may write, never create one.
    assert logs["Action"] == ["logs:CreateLogStream", "logs:PutLogEvents"]
    group = "log-group:/aws/lambda/us-east-1.blueprints-test-orders"
    assert f"arn:aws:logs:eu-west-1:111111111111:{group}:*" in logs["Resource"]
    assert f"arn:aws:logs:ap-southeast-2:111111111111:{group}:*" in logs["Resource"]
    assert len(logs["Resource"]) == len(EDGE_REGIONS) == 16
    assert table["Resource"] == TABLE_ARN


def test_edge_log_group_in_us_east_1_keeps_the_stage_retention(
        build: Build, code_root: Path) -> None:
    log_group = one_function(build, edge_args(code_root)).one(LOG_GROUP, "orders-logs")
    assert log_group.inputs["name"] == "/aws/lambda/us-east-1.blueprints-test-orders"
    assert log_group.inputs["retentionInDays"] == 14


def test_every_region_where_replicas_log_has_the_log_group_with_retention(
        build: Build, code_root: Path) -> None:
    run = build(lambda opts: Function("orders", edge_args(code_root), DEV, opts),
                region="us-east-1")
    function = run.one(FUNCTION, "orders-function")
    regions = {}
    for group in run.of_type(LOG_GROUP):
        assert group.inputs["name"] == "/aws/lambda/us-east-1.blueprints-test-orders"
        assert group.inputs["retentionInDays"] == 14
        assert group.urn in function.dependencies, "replicas must not log before it exists"
        provider = run.provider_of(group)
        assert provider is not None
        regions[provider.inputs["region"]] = group.name
    assert sorted(regions) == sorted(EDGE_REGIONS)
    assert regions["ap-northeast-1"] == "orders-logs-ap-northeast-1"


def test_an_edge_function_needs_providers_for_its_replicas_log_groups(
        build: Build, code_root: Path) -> None:
    with pytest.raises(InvalidArgs, match="replica_provider: replicas log in every region"):
        one_function(build, edge_args(code_root, replica_provider=None))
    with pytest.raises(InvalidArgs, match="replica_provider: only an edge function"):
        one_function(build, args(code_root, replica_provider=provider_in))


def test_edge_package_bundles_powertools_and_the_generated_config(
        build: Build, code_root: Path) -> None:
    code = one_function(build, edge_args(code_root)).one(FUNCTION, "orders-function").inputs[
        "code"]
    assert "app.py" in code.assets
    assert "aws_lambda_powertools/logging/logger.py" in code.assets
    assert "jmespath/__init__.py" in code.assets
    assert "typing_extensions.py" in code.assets
    assert not any(".dist-info/" in path or "__pycache__" in path for path in code.assets)
    assert code.assets["config.json"].text == '{"table": "t"}'


def test_edge_runtime_falls_back_to_the_newest_edge_runtime(
        build: Build, code_root: Path) -> None:
    newer = replace(DEV, functions=replace(DEV.functions, runtime="python3.14"))
    run = one_function(build, edge_args(code_root), newer)
    assert run.one(FUNCTION, "orders-function").inputs["runtime"] == "python3.13"


def test_edge_limits_and_unsupported_features_are_refused(build: Build, code_root: Path) -> None:
    bad = edge_args(code_root, timeout=31, environment={"TABLE": "t"}, layers=["arn:layer"],
                    vpc=FunctionVpc(subnet_ids=["subnet-1"], security_group_ids=["sg-1"]),
                    invoked_async=True, ephemeral_storage_mb=1024)
    with pytest.raises(InvalidArgs) as raised:
        one_function(build, bad)
    assert [p.split(":")[0] for p in raised.value.problems] == [
        "timeout", "environment", "layers", "vpc", "ephemeral_storage_mb",
        "invoked_async / on_failure"]


def test_viewer_events_get_viewer_limits(build: Build, code_root: Path) -> None:
    with pytest.raises(InvalidArgs) as raised:
        one_function(build, edge_args(code_root, edge_event="viewer-request", memory_size=256))
    problems = " ".join(raised.value.problems)
    assert "memory_size: 256 MB is over the 128 MB viewer-request functions get" in problems
    assert "the package is 3 MB, over the 1 MB viewer-request functions may have" in problems


def test_libraries_are_packaged_under_their_own_names(build: Build, code_root: Path) -> None:
    (code_root / "matching").mkdir()
    (code_root / "matching" / "__init__.py").write_text("")
    code = one_function(build, args(code_root, libraries=["matching"])).one(
        FUNCTION, "orders-function").inputs["code"]
    assert "matching/__init__.py" in code.assets
    with pytest.raises(InvalidArgs, match="libraries: no folder 'missing'"):
        one_function(build, args(code_root, libraries=["missing"]))


def test_provisioned_concurrency_warms_a_live_alias_that_triggers_invoke(
        build: Build, code_root: Path) -> None:
    def program(opts: pulumi.ResourceOptions) -> None:
        function = Function("orders", args(code_root, provisioned_concurrency=2), DEV, opts)
        pulumi.export("invokeArn", function.invoke_arn)
        pulumi.export("targetArn", function.target_arn)

    run = build(program)
    assert run.one(FUNCTION, "orders-function").inputs["publish"] is True
    alias = run.one("aws:lambda/alias:Alias")
    assert (alias.inputs["name"], alias.inputs["functionVersion"]) == (
        "live", run.one(FUNCTION, "orders-function").state["version"])
    warm = run.one("aws:lambda/provisionedConcurrencyConfig:ProvisionedConcurrencyConfig")
    assert (warm.inputs["qualifier"], warm.inputs["provisionedConcurrentExecutions"]) == (
        "live", 2)
    assert run.outputs["targetArn"] == alias.state["arn"]
    assert run.outputs["invokeArn"] == alias.state["invokeArn"]


def test_provisioned_concurrency_is_checked(build: Build, code_root: Path) -> None:
    with pytest.raises(InvalidArgs) as raised:
        one_function(build, args(code_root, provisioned_concurrency=5, reserved_concurrency=2))
    assert raised.value.problems == [
        "provisioned_concurrency: more than reserved_concurrency can never be used"]


def test_batch_work_declares_itself_long_running(build: Build, code_root: Path) -> None:
    run = one_function(build, args(code_root, timeout=900, long_running=True))
    assert run.one(FUNCTION, "orders-function").inputs["tags"] == {"long-running": "true"}
    assert "tags" not in one_function(build, args(code_root)).one(
        FUNCTION, "orders-function").inputs
    with pytest.raises(InvalidArgs, match="timeout: 900 s is batch work"):
        one_function(build, args(code_root, timeout=900))


def test_tmp_storage_is_lambda_s_default_unless_asked_for(build: Build, code_root: Path) -> None:
    staged = one_function(build, args(code_root, ephemeral_storage_mb=2048))
    assert staged.one(FUNCTION, "orders-function").inputs["ephemeralStorage"] == {"size": 2048}
    assert "ephemeralStorage" not in one_function(build, args(code_root)).one(
        FUNCTION, "orders-function").inputs
    with pytest.raises(InvalidArgs, match="ephemeral_storage_mb: 20000 MB of /tmp is outside"):
        one_function(build, args(code_root, ephemeral_storage_mb=20000))
