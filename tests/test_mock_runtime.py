"""The offline runtime answers like AWS does, records what the engine would see, keeps secrets."""

from __future__ import annotations

import json
from typing import Any

import pulumi
import pulumi_aws as aws
import pytest

from tools.mock_runtime import (
    Secret,
    StackConfig,
    config_from_mapping,
    reveal,
    run_program,
)

ACCOUNT = "123456789012"
CONFIG = StackConfig({"aws:region": "ap-southeast-2",
                      "blueprints:account": json.dumps({"id": ACCOUNT})}, ())


def exported(program: Any, config: StackConfig = CONFIG) -> dict[str, Any]:
    return run_program(program, config=config).outputs


def test_provider_calls_answer_in_the_stack_account_and_region() -> None:
    def program() -> None:
        opts = pulumi.InvokeOutputOptions(provider=aws.Provider("p", region="ap-southeast-2"))
        identity = aws.get_caller_identity_output(opts=opts)
        pulumi.export("account", identity.account_id)
        pulumi.export("region", aws.get_region_output(opts=opts).region)
        pulumi.export("partition", aws.get_partition_output(opts=opts).partition)
        pulumi.export("dnsSuffix", aws.get_partition_output(opts=opts).dns_suffix)
        pulumi.export("zones", aws.get_availability_zones_output(opts=opts).names)

    assert exported(program) == {
        "account": ACCOUNT, "region": "ap-southeast-2", "partition": "aws",
        "dnsSuffix": "amazonaws.com",
        "zones": ["ap-southeast-2a", "ap-southeast-2b", "ap-southeast-2c"]}


def test_an_unanswered_call_names_itself() -> None:
    def program() -> None:
        aws.ec2.get_vpc_output(default=True, opts=pulumi.InvokeOutputOptions(
            provider=aws.Provider("p", region="eu-west-1")))

    with pytest.raises(Exception, match=r"no answer for aws:ec2/getVpc:getVpc"):
        run_program(program, config=CONFIG)


def test_resources_get_realistic_ids_arns_and_urls() -> None:
    def program() -> None:
        opts = pulumi.ResourceOptions(provider=aws.Provider("p", region="ap-southeast-2"))
        queue = aws.sqs.Queue("jobs", opts=opts)
        table = aws.dynamodb.Table("items", hash_key="pk", stream_enabled=True,
                                   stream_view_type="NEW_IMAGE",
                                   attributes=[{"name": "pk", "type": "S"}], opts=opts)
        vpc = aws.ec2.Vpc("net", cidr_block="10.0.0.0/16", opts=opts)
        role = aws.iam.Role("fn", assume_role_policy="{}", opts=opts)
        bucket = aws.s3.Bucket("Reports", opts=opts)
        pulumi.export("queueUrl", queue.url)
        pulumi.export("bucketName", bucket.bucket)
        pulumi.export("queueArn", queue.arn)
        pulumi.export("streamArn", table.stream_arn)
        pulumi.export("vpcId", vpc.id)
        pulumi.export("roleArn", role.arn)

    outputs = exported(program)
    assert outputs["queueUrl"].startswith(
        f"https://sqs.ap-southeast-2.amazonaws.com/{ACCOUNT}/jobs-")
    assert outputs["queueArn"].startswith(f"arn:aws:sqs:ap-southeast-2:{ACCOUNT}:jobs-")
    assert outputs["streamArn"].startswith(
        f"arn:aws:dynamodb:ap-southeast-2:{ACCOUNT}:table/items-")
    assert "/stream/" in outputs["streamArn"]
    assert outputs["vpcId"].startswith("vpc-")
    assert outputs["roleArn"].startswith(f"arn:aws:iam::{ACCOUNT}:role/fn-")
    assert outputs["bucketName"].startswith("reports-")  # auto-named buckets are lower case


def test_arns_name_the_region_of_the_resource_or_its_provider() -> None:
    def program() -> None:
        edge = pulumi.ResourceOptions(provider=aws.Provider("edge", region="us-east-1"))
        pulumi.export("edge", aws.sqs.Queue("edge", opts=edge).arn)
        pulumi.export("pinned", aws.sqs.Queue("pinned", region="eu-central-1", opts=edge).arn)

    outputs = exported(program)
    assert outputs["edge"].startswith(f"arn:aws:sqs:us-east-1:{ACCOUNT}:edge-")
    assert outputs["pinned"].startswith(f"arn:aws:sqs:eu-central-1:{ACCOUNT}:pinned-")


def test_ids_are_stable_from_run_to_run() -> None:
    def program() -> None:
        opts = pulumi.ResourceOptions(provider=aws.Provider("p", region="eu-west-1"))
        pulumi.export("id", aws.ec2.Vpc("net", cidr_block="10.0.0.0/16", opts=opts).id)

    assert exported(program) == exported(program)


def test_registrations_keep_parent_provider_and_options() -> None:
    class Box(pulumi.ComponentResource):
        def __init__(self, name: str, opts: pulumi.ResourceOptions) -> None:
            super().__init__("test:index:Box", name, None, opts)
            aws.sqs.Queue(f"{name}-queue", opts=pulumi.ResourceOptions(
                parent=self, protect=True, retain_on_delete=True))
            self.register_outputs({})

    def program() -> None:
        Box("box", pulumi.ResourceOptions(provider=aws.Provider("p", region="eu-west-1")))

    run = run_program(program, config=CONFIG)
    box = run.one("test:index:Box")
    queue = run.one("aws:sqs/queue:Queue")
    provider = run.one("pulumi:providers:aws")
    assert queue.parent == box.urn
    assert queue.provider_urn == provider.urn
    assert queue.protect
    assert queue.retain_on_delete
    assert [r.name for r in run.managed()] == ["box-queue"]


def test_secrets_stay_marked_in_inputs_and_outputs() -> None:
    def program() -> None:
        opts = pulumi.ResourceOptions(provider=aws.Provider("p", region="eu-west-1"))
        password = pulumi.Config("blueprints").require_secret("token")
        aws.ssm.Parameter("token", type="SecureString", value=password, opts=opts)
        pulumi.export("token", password)

    config = config_from_mapping({"aws:region": "eu-west-1",
                                  "blueprints:stage": "dev",
                                  "blueprints:token": {"secure": "v1:abc"}})
    run = run_program(program, config=config)
    value = run.one("aws:ssm/parameter:Parameter").inputs["value"]
    assert isinstance(value, Secret)
    assert repr(value) == "[secret]"
    assert reveal(value) == config.values["blueprints:token"]
    assert isinstance(run.outputs["token"], Secret)


def test_nested_secure_values_make_the_whole_key_secret() -> None:
    config = config_from_mapping({"blueprints:stage": "dev",
                                  "blueprints:account": {"id": "1", "key": {"secure": "v1:x"}}})
    assert "blueprints:account" in config.secret_keys
    assert "v1:x" not in config.values["blueprints:account"]


def test_whole_numbers_are_recorded_as_integers_and_fractions_stay_floats() -> None:
    # Every number crosses the Struct as a double; the record keeps what the program wrote.
    def program() -> None:
        opts = pulumi.ResourceOptions(provider=aws.Provider("p", region="eu-west-1"))
        aws.sqs.Queue("jobs", delay_seconds=5, tags={"note": "5"}, opts=opts)
        aws.cloudwatch.MetricAlarm("errors", comparison_operator="GreaterThanThreshold",
                                   evaluation_periods=2, threshold=0.5, opts=opts)
        pulumi.export("memory", 128)
        pulumi.export("sizes", {"small": [128, 256], "ratio": 1.5})
        pulumi.export("secretCount", pulumi.Output.secret(3))

    run = run_program(program, config=CONFIG)
    queue = run.one("aws:sqs/queue:Queue")
    alarm = run.one("aws:cloudwatch/metricAlarm:MetricAlarm")
    assert type(queue.inputs["delaySeconds"]) is int
    assert type(queue.state["delaySeconds"]) is int
    assert queue.inputs["tags"] == {"note": "5"}
    assert type(alarm.inputs["evaluationPeriods"]) is int
    assert alarm.inputs["threshold"] == 0.5
    assert json.dumps(run.outputs["sizes"], sort_keys=True) == '{"ratio": 1.5, "small": [128, 256]}'
    assert type(run.outputs["memory"]) is int
    assert type(reveal(run.outputs["secretCount"])) is int
