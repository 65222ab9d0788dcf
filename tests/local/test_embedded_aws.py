"""The embedded AWS: moto's server holding the plan's stateful resources, checked with boto3
against the server itself."""

from __future__ import annotations

import base64
import json
import socket
from collections.abc import Iterator
from pathlib import Path

import boto3
import pulumi
import pulumi_aws as aws
import pytest

from components.services.event_management import WEB_DIR
from tests.support import planned
from tools.local.aws import (
    UNCLASSIFIED,
    BucketNotification,
    EmbeddedAws,
    Handling,
    LocalAwsError,
    PortInUseError,
    Report,
    classified,
    classify,
    create_resources,
    plan_account,
    plan_region,
)
from tools.mock_runtime import StackConfig, StackRun, run_program

ACCOUNT = "111122223333"  # Pulumi.dev.yaml's placeholder account
REGION = "eu-west-1"


def physical(run: StackRun, type_: str, name: str, key: str = "name") -> str:
    return str(run.one(type_, name).state[key])


def refused(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) != 0


class TestDevStack:
    """Everything the dev stack declares, created once in one embedded AWS."""

    @pytest.fixture(scope="class")
    @classmethod
    def started(cls, dev: StackRun) -> Iterator[tuple[EmbeddedAws, Report]]:
        with EmbeddedAws.for_plan(dev) as embedded:
            yield embedded, create_resources(dev, embedded)

    @pytest.fixture
    def local(self, started: tuple[EmbeddedAws, Report]) -> EmbeddedAws:
        return started[0]

    @pytest.fixture
    def report(self, started: tuple[EmbeddedAws, Report]) -> Report:
        return started[1]

    def test_runs_in_the_plans_account_and_region(self, dev: StackRun,
                                                  local: EmbeddedAws) -> None:
        assert (plan_account(dev), plan_region(dev)) == (ACCOUNT, REGION)
        assert local.client("sts").get_caller_identity()["Account"] == ACCOUNT
        table = physical(dev, "aws:dynamodb/table:Table", "queryKeyApi-customizations-table")
        described = local.client("dynamodb").describe_table(TableName=table)["Table"]
        assert described["TableArn"] == \
            dev.one("aws:dynamodb/table:Table", "queryKeyApi-customizations-table").state["arn"]

    def test_tables_have_the_plans_keys_indexes_streams_and_recovery(
            self, dev: StackRun, local: EmbeddedAws) -> None:
        dynamodb = local.client("dynamodb")
        log = dynamodb.describe_table(TableName=physical(
            dev, "aws:dynamodb/table:Table", "documentWatermark-access-log-table"))["Table"]
        assert log["KeySchema"] == [{"AttributeName": "document", "KeyType": "HASH"},
                                    {"AttributeName": "accessId", "KeyType": "RANGE"}]
        assert log["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
        (index,) = log["GlobalSecondaryIndexes"]
        assert (index["IndexName"], index["KeySchema"], index["Projection"]) == (
            "byUser", [{"AttributeName": "user", "KeyType": "HASH"},
                       {"AttributeName": "accessId", "KeyType": "RANGE"}],
            {"ProjectionType": "ALL"})
        assert "StreamSpecification" not in log
        recovery = dynamodb.describe_continuous_backups(TableName=log["TableName"])
        assert recovery["ContinuousBackupsDescription"]["PointInTimeRecoveryDescription"][
            "PointInTimeRecoveryStatus"] == "ENABLED"

        mappings = physical(dev, "aws:dynamodb/table:Table", "headerVersioning-mappings-table")
        for region in (REGION, "us-east-1"):  # the global table's replica
            described = local.client("dynamodb", region).describe_table(
                TableName=mappings)["Table"]
            assert described["StreamSpecification"] == {
                "StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"}
            assert described["KeySchema"] == [{"AttributeName": "hk", "KeyType": "HASH"}]

    def test_seeded_items_are_in_the_table_and_its_replica(self, dev: StackRun,
                                                           local: EmbeddedAws) -> None:
        seeded = dev.one("aws:dynamodb/tableItem:TableItem", "headerVersioning-v1-0")
        item = json.loads(seeded.inputs["item"])
        for region in (REGION, "us-east-1"):
            got = local.client("dynamodb", region).get_item(
                TableName=seeded.inputs["tableName"], Key={"hk": item["hk"]})
            assert got["Item"] == item

    def test_buckets_have_versioning_encryption_and_public_access_block(
            self, dev: StackRun, local: EmbeddedAws) -> None:
        s3 = local.client("s3")
        planned = {str(r.inputs["bucket"]): r.inputs["rules"][0][
            "applyServerSideEncryptionByDefault"] for r in dev.of_type(
                "aws:s3/bucketServerSideEncryptionConfiguration:"
                "BucketServerSideEncryptionConfiguration")}
        for bucket in dev.of_type("aws:s3/bucket:Bucket"):
            name = str(bucket.state["bucket"])
            assert s3.get_bucket_versioning(Bucket=name)["Status"] == "Enabled"
            (rule,) = s3.get_bucket_encryption(Bucket=name)[
                "ServerSideEncryptionConfiguration"]["Rules"]
            key = planned[name].get("kmsMasterKeyId")
            assert rule["ApplyServerSideEncryptionByDefault"] == (
                {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": key} if key
                else {"SSEAlgorithm": "AES256"})
            assert set(s3.get_public_access_block(Bucket=name)[
                "PublicAccessBlockConfiguration"].values()) == {True}
            assert s3.get_bucket_location(Bucket=name)["LocationConstraint"] == REGION

    def test_bucket_notifications_are_configured_and_answered_as_data(
            self, dev: StackRun, local: EmbeddedAws, report: Report) -> None:
        declared = dev.one("aws:s3/bucketNotification:BucketNotification",
                           "entityResolution-reference-uploads").inputs
        (target,) = declared["lambdaFunctions"]
        configured = local.client("s3").get_bucket_notification_configuration(
            Bucket=declared["bucket"])
        (lambda_configuration,) = configured["LambdaFunctionConfigurations"]
        assert lambda_configuration["LambdaFunctionArn"] == target["lambdaFunctionArn"]
        assert lambda_configuration["Events"] == ["s3:ObjectCreated:*"]
        assert lambda_configuration["Filter"]["Key"]["FilterRules"] == [
            {"Name": "prefix", "Value": "reference/"}, {"Name": "suffix", "Value": ".csv"}]
        assert report.bucket_notifications == [BucketNotification(
            declared["bucket"], REGION, "function", target["lambdaFunctionArn"],
            ("s3:ObjectCreated:*",), "reference/", ".csv")]
        (notification,) = report.bucket_notifications
        assert notification.matches("s3:ObjectCreated:Put", "reference/people.csv")
        assert not notification.matches("s3:ObjectRemoved:Delete", "reference/people.csv")
        assert not notification.matches("s3:ObjectCreated:Put", "reference/people.json")

    def test_bucket_policies_are_left_to_the_iam_checks_so_plain_http_works(
            self, dev: StackRun, local: EmbeddedAws, report: Report) -> None:
        bucket = physical(dev, "aws:s3/bucket:Bucket", "entityResolution-data-bucket", "bucket")
        s3 = local.client("s3")
        s3.put_object(Bucket=bucket, Key="notes/hello.txt", Body=b"hello")
        assert s3.get_object(Bucket=bucket, Key="notes/hello.txt")["Body"].read() == b"hello"
        policies = [s for s in report.served_elsewhere
                    if s.type == "aws:s3/bucketPolicy:BucketPolicy"]
        assert {p.name for p in policies} == {
            r.name for r in dev.of_type("aws:s3/bucketPolicy:BucketPolicy")}
        assert all("IAM checks" in p.reason for p in policies)

    def test_the_queue_redrives_to_its_dead_letter_queue(self, dev: StackRun,
                                                         local: EmbeddedAws) -> None:
        sqs = local.client("sqs")
        queue = dev.one("aws:sqs/queue:Queue", "entityResolution-builder-failures-queue")
        dlq = dev.one("aws:sqs/queue:Queue", "entityResolution-builder-failures-dlq")
        # Handlers get the plan's queue URL; the server finds the queue by it.
        attributes = sqs.get_queue_attributes(QueueUrl=queue.state["url"],
                                              AttributeNames=["All"])["Attributes"]
        assert json.loads(attributes["RedrivePolicy"]) == {
            "deadLetterTargetArn": dlq.state["arn"], "maxReceiveCount": 15}
        assert attributes["QueueArn"] == queue.state["arn"]
        assert attributes["MessageRetentionPeriod"] == "345600"
        sqs.send_message(QueueUrl=queue.state["url"], MessageBody="hello")
        (message,) = sqs.receive_message(QueueUrl=queue.state["url"])["Messages"]
        assert message["Body"] == "hello"

    def test_the_user_pool_has_the_plans_id_and_password_policy(
            self, dev: StackRun, local: EmbeddedAws) -> None:
        cognito = local.client("cognito-idp")
        pool = dev.one("aws:cognito/userPool:UserPool", "documentWatermark-users")
        described = cognito.describe_user_pool(UserPoolId=pool.id)["UserPool"]
        assert described["Policies"]["PasswordPolicy"] == {
            "MinimumLength": 12, "RequireLowercase": True, "RequireNumbers": True,
            "RequireSymbols": True, "RequireUppercase": True,
            "TemporaryPasswordValidityDays": 3}
        assert described["MfaConfiguration"] == "OPTIONAL"
        assert described["UsernameAttributes"] == ["email"]
        assert described["Arn"] == f"arn:aws:cognito-idp:{REGION}:{ACCOUNT}:userpool/{pool.id}"
        client = dev.one("aws:cognito/userPoolClient:UserPoolClient",
                         "documentWatermark-web-client")
        described_client = cognito.describe_user_pool_client(
            UserPoolId=pool.id, ClientId=client.id)["UserPoolClient"]
        assert described_client["ExplicitAuthFlows"] == ["ALLOW_USER_SRP_AUTH",
                                                         "ALLOW_REFRESH_TOKEN_AUTH"]

    def test_tokens_carry_the_issuer_and_audience_the_plan_declares(
            self, dev: StackRun, local: EmbeddedAws) -> None:
        pool_id = str(dev.one("aws:cognito/userPool:UserPool", "documentWatermark-users").id)
        client_id = str(dev.one("aws:cognito/userPoolClient:UserPoolClient",
                                "documentWatermark-web-client").id)
        cognito = local.client("cognito-idp")
        cognito.admin_create_user(UserPoolId=pool_id, Username="reader@example.com",
                                  MessageAction="SUPPRESS")
        cognito.admin_set_user_password(UserPoolId=pool_id, Username="reader@example.com",
                                        Password="Correct-Horse-9", Permanent=True)
        tokens = cognito.admin_initiate_auth(
            UserPoolId=pool_id, ClientId=client_id, AuthFlow="ADMIN_USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": "reader@example.com", "PASSWORD": "Correct-Horse-9"},
        )["AuthenticationResult"]
        payload = tokens["IdToken"].split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        assert claims["iss"] == f"https://cognito-idp.{REGION}.amazonaws.com/{pool_id}"
        assert claims["aud"] == client_id

    def test_the_key_and_alias_have_the_plans_ids(self, dev: StackRun,
                                                  local: EmbeddedAws) -> None:
        kms = local.client("kms")
        key = dev.one("aws:kms/key:Key", "dev-key")
        metadata = kms.describe_key(KeyId=key.state["keyId"])["KeyMetadata"]
        assert metadata["Arn"] == key.state["arn"]
        assert metadata["Description"] == key.inputs["description"]
        assert kms.get_key_rotation_status(KeyId=key.state["keyId"])["KeyRotationEnabled"]
        assert json.loads(kms.get_key_policy(KeyId=key.state["keyId"],
                                             PolicyName="default")["Policy"]) == \
            json.loads(key.inputs["policy"])
        aliases = {a["AliasName"]: a.get("TargetKeyId") for a in kms.list_aliases()["Aliases"]}
        assert aliases["alias/blueprints/dev"] == key.state["keyId"]
        ciphertext = kms.encrypt(KeyId="alias/blueprints/dev", Plaintext=b"x")["CiphertextBlob"]
        assert kms.decrypt(CiphertextBlob=ciphertext)["Plaintext"] == b"x"

    def test_the_access_point_exists_for_its_bucket(self, dev: StackRun,
                                                    local: EmbeddedAws) -> None:
        point = dev.one("aws:s3/accessPoint:AccessPoint", "documentWatermark-source-access-point")
        got = local.client("s3control").get_access_point(AccountId=ACCOUNT,
                                                         Name=point.inputs["name"])
        assert got["Bucket"] == point.inputs["bucket"]
        policy = local.client("s3control").get_access_point_policy(
            AccountId=ACCOUNT, Name=point.inputs["name"])["Policy"]
        assert json.loads(policy) == json.loads(point.inputs["policy"])

    def test_the_report_accounts_for_every_resource_once(self, dev: StackRun,
                                                         report: Report) -> None:
        listed = [(c.type, c.name) for c in report.created] + [
            (s.type, s.name) for s in (*report.served_elsewhere, *report.not_emulated)]
        assert sorted(listed) == sorted((r.type, r.name) for r in dev.managed())
        assert {s.type for s in report.not_emulated} == {
            "aws:accessanalyzer/analyzer:Analyzer", "aws:ec2/vpc:Vpc", "aws:ec2/subnet:Subnet",
            "aws:ec2/routeTable:RouteTable",
            "aws:ec2/route:Route", "aws:ec2/routeTableAssociation:RouteTableAssociation",
            "aws:ec2/internetGateway:InternetGateway", "aws:ec2/natGateway:NatGateway",
            "aws:ec2/eip:Eip", "aws:ec2/securityGroup:SecurityGroup",
            "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup",
            "aws:ec2/vpcEndpoint:VpcEndpoint", "aws:ec2/flowLog:FlowLog",
            "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule",
            "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule",
            "aws:wafv2/webAcl:WebAcl", "aws:wafv2/webAclAssociation:WebAclAssociation",
            "aws:wafv2/webAclLoggingConfiguration:WebAclLoggingConfiguration",
            "aws:cloudwatch/logDelivery:LogDelivery",
            "aws:cloudwatch/logDeliveryDestination:LogDeliveryDestination",
            "aws:cloudwatch/logDeliverySource:LogDeliverySource",
            "aws:ecs/cluster:Cluster", "aws:sqs/redriveAllowPolicy:RedriveAllowPolicy",
            "aws:servicediscovery/privateDnsNamespace:PrivateDnsNamespace",
            "aws:ecr/repository:Repository", "aws:ecr/lifecyclePolicy:LifecyclePolicy",
            "aws:ecr/repositoryPolicy:RepositoryPolicy", "aws:cloudwatch/metricAlarm:MetricAlarm",
            "aws:cloudwatch/dashboard:Dashboard", "aws:appautoscaling/target:Target",
            "aws:appautoscaling/policy:Policy", "aws:ec2/managedPrefixList:ManagedPrefixList",
            "aws:route53/resolverEndpoint:ResolverEndpoint",
            "aws:route53/resolverQueryLogConfig:ResolverQueryLogConfig",
            "aws:route53/resolverQueryLogConfigAssociation:ResolverQueryLogConfigAssociation",
            "aws:dax/cluster:Cluster", "aws:dax/parameterGroup:ParameterGroup",
            "aws:dax/subnetGroup:SubnetGroup"}
        printed = "\n".join(report.lines())
        assert "aws:ec2/vpc:Vpc (networking: local processes share this machine's network): " \
               "dev-network-vpc" in printed
        assert "queryKeyApi-waf-acl" in printed
        assert not report.notes[1:], report.notes  # only the replica note
        assert "replica in us-east-1" in report.notes[0]

    def test_another_process_reaches_it_through_environment_variables(
            self, dev: StackRun, local: EmbeddedAws, monkeypatch: pytest.MonkeyPatch) -> None:
        for name, value in local.environment().items():
            monkeypatch.setenv(name, value)
        session = boto3.session.Session()
        assert session.client("sts").get_caller_identity()["Account"] == ACCOUNT
        bucket = physical(dev, "aws:s3/bucket:Bucket", "documentWatermark-source-bucket",
                          "bucket")
        assert session.client("s3").get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"

    def test_a_worker_can_call_as_its_own_role(self, dev: StackRun,
                                               local: EmbeddedAws) -> None:
        role = dev.one("aws:iam/role:Role", "documentWatermark-api-role").state["arn"]
        credentials = local.credentials_for_role(role, "documentWatermark-api")
        identity = local.client("sts", credentials=credentials).get_caller_identity()
        assert identity["Arn"] == (f"arn:aws:sts::{ACCOUNT}:assumed-role/"
                                   f"{role.rsplit('/', 1)[1]}/documentWatermark-api")
        assert local.role_for_access_key(credentials.access_key_id) == role
        assert local.role_for_access_key("AKIAUNKNOWN") is None

    def test_only_one_runs_in_a_process(self, local: EmbeddedAws) -> None:
        with pytest.raises(LocalAwsError, match=f"already runs in this process \\(port "
                                                f"{local.port}\\)"):
            EmbeddedAws().start()


def test_every_type_the_stacks_declare_is_classified() -> None:
    """A type new to the stacks fails here until ``tools/local/aws.py`` classifies it."""
    types = {r.type for stack in ("dev", "prod-env", "prod") for r in planned(stack).managed()}
    assert sorted(t for t in types if not classified(t)) == []


def test_an_unclassified_type_is_listed_as_not_emulated() -> None:
    assert classify("aws:kinesis/stream:Stream") == (Handling.NOT_EMULATED, UNCLASSIFIED)
    assert classify("aws:sqs/queue:Queue")[0] is Handling.CREATED
    assert classify("aws:iam/role:Role")[0] is Handling.SERVED_ELSEWHERE


OTHER_ACCOUNT = "444455556666"


def other_stateful_types() -> StackRun:
    """What the dev stack does not declare yet: FIFO queues, TTL and local indexes, SNS,
    EventBridge, Cognito groups, secrets and parameters, and a type local mode lacks."""

    def program() -> None:
        provider = aws.Provider("provider", region=REGION, allowed_account_ids=[OTHER_ACCOUNT])
        opts = pulumi.ResourceOptions(provider=provider)
        dlq = aws.sqs.Queue("orders-dlq", fifo_queue=True, opts=opts)
        aws.sqs.Queue("orders", fifo_queue=True, content_based_deduplication=True,
                      redrive_policy=dlq.arn.apply(lambda arn: json.dumps(
                          {"deadLetterTargetArn": arn, "maxReceiveCount": 3})), opts=opts)
        inbox = aws.sqs.Queue("inbox", opts=opts)
        topic = aws.sns.Topic("events", opts=opts)
        aws.sns.TopicSubscription("events-to-inbox", topic=topic.arn, protocol="sqs",
                                  endpoint=inbox.arn, raw_message_delivery=True, opts=opts)
        bus = aws.cloudwatch.EventBus("bus", opts=opts)
        rule = aws.cloudwatch.EventRule("orders-placed", event_bus_name=bus.name,
                                        event_pattern=json.dumps({"source": ["shop"]}),
                                        opts=opts)
        aws.cloudwatch.EventTarget("orders-placed-to-inbox", rule=rule.name,
                                   event_bus_name=bus.name, arn=inbox.arn, opts=opts)
        aws.cloudwatch.EventRule("nightly", schedule_expression="rate(1 day)", opts=opts)
        pool = aws.cognito.UserPool("pool", password_policy=aws.cognito.UserPoolPasswordPolicyArgs(
            minimum_length=10, require_symbols=False), opts=opts)
        aws.cognito.UserPoolClient("client", user_pool_id=pool.id, opts=opts)
        aws.cognito.UserGroup("admins", user_pool_id=pool.id, precedence=1, opts=opts)
        secret = aws.secretsmanager.Secret("db", opts=opts)
        aws.secretsmanager.SecretVersion("db-password", secret_id=secret.id,
                                         secret_string=pulumi.Output.secret("hunter2"),
                                         opts=opts)
        aws.ssm.Parameter("greeting", type="String", value="hello", opts=opts)
        aws.dynamodb.Table(
            "sessions", hash_key="pk", range_key="sk", billing_mode="PROVISIONED",
            read_capacity=2, write_capacity=3,
            attributes=[aws.dynamodb.TableAttributeArgs(name=n, type=t)
                        for n, t in (("pk", "S"), ("sk", "S"), ("seen", "N"))],
            ttl=aws.dynamodb.TableTtlArgs(attribute_name="expires", enabled=True),
            local_secondary_indexes=[aws.dynamodb.TableLocalSecondaryIndexArgs(
                name="bySeen", range_key="seen", projection_type="KEYS_ONLY")], opts=opts)
        site = aws.s3.Bucket("site", opts=opts)
        aws.s3.BucketObjectv2("site-index", bucket=site.bucket, key="index.html",
                              source=pulumi.StringAsset("<h1>Welcome</h1>"),
                              content_type="text/html; charset=utf-8",
                              cache_control="no-cache", opts=opts)
        aws.s3.BucketObjectv2("site-config", bucket=site.bucket, key="config.js",
                              content="window.CONFIG = {};", content_type="text/javascript",
                              opts=opts)
        aws.kms.Key("tickets", customer_master_key_spec="HMAC_256",
                    key_usage="GENERATE_VERIFY_MAC", opts=opts)
        aws.kinesis.Stream("clicks", shard_count=1, opts=opts)

    config = StackConfig({"aws:region": REGION,
                          "blueprints:account": json.dumps({"id": OTHER_ACCOUNT})}, ())
    return run_program(program, config=config)


def test_other_stateful_types_are_created_with_their_settings() -> None:
    run = other_stateful_types()
    with EmbeddedAws.for_plan(run) as local:
        report = create_resources(run, local)
        assert local.account_id == OTHER_ACCOUNT
        assert [(s.type, s.name, s.reason) for s in report.not_emulated] == [
            ("aws:kinesis/stream:Stream", "clicks", UNCLASSIFIED)]
        assert "clicks" in "\n".join(report.lines())

        table = physical(run, "aws:dynamodb/table:Table", "sessions")
        dynamodb = local.client("dynamodb")
        described = dynamodb.describe_table(TableName=table)["Table"]
        assert described["ProvisionedThroughput"]["ReadCapacityUnits"] == 2
        assert described["ProvisionedThroughput"]["WriteCapacityUnits"] == 3
        (index,) = described["LocalSecondaryIndexes"]
        assert index["KeySchema"] == [{"AttributeName": "pk", "KeyType": "HASH"},
                                      {"AttributeName": "seen", "KeyType": "RANGE"}]
        assert dynamodb.describe_time_to_live(TableName=table)["TimeToLiveDescription"] == {
            "TimeToLiveStatus": "ENABLED", "AttributeName": "expires"}

        sqs = local.client("sqs")
        orders = run.one("aws:sqs/queue:Queue", "orders").state
        attributes = sqs.get_queue_attributes(QueueUrl=orders["url"],
                                              AttributeNames=["All"])["Attributes"]
        assert attributes["FifoQueue"] == "true"
        assert attributes["ContentBasedDeduplication"] == "true"
        assert json.loads(attributes["RedrivePolicy"])["deadLetterTargetArn"] == \
            run.one("aws:sqs/queue:Queue", "orders-dlq").state["arn"]

        inbox = run.one("aws:sqs/queue:Queue", "inbox").state["url"]
        local.client("sns").publish(TopicArn=run.one("aws:sns/topic:Topic", "events").id,
                                    Message="from the topic")
        local.client("events").put_events(Entries=[{
            "Source": "shop", "DetailType": "OrderPlaced", "Detail": "{}",
            "EventBusName": physical(run, "aws:cloudwatch/eventBus:EventBus", "bus")}])
        bodies = [m["Body"] for m in sqs.receive_message(
            QueueUrl=inbox, MaxNumberOfMessages=10)["Messages"]]
        assert "from the topic" in bodies
        assert any(json.loads(b).get("source") == "shop" for b in bodies if b.startswith("{"))
        nightly = local.client("events").describe_rule(
            Name=physical(run, "aws:cloudwatch/eventRule:EventRule", "nightly"))
        assert nightly["ScheduleExpression"] == "rate(1 day)"

        pool_id = str(run.one("aws:cognito/userPool:UserPool", "pool").id)
        cognito = local.client("cognito-idp")
        assert cognito.describe_user_pool(UserPoolId=pool_id)["UserPool"]["Policies"][
            "PasswordPolicy"]["MinimumLength"] == 10
        group = cognito.get_group(UserPoolId=pool_id, GroupName=physical(
            run, "aws:cognito/userGroup:UserGroup", "admins"))["Group"]
        assert group["Precedence"] == 1

        secret = physical(run, "aws:secretsmanager/secret:Secret", "db")
        assert local.client("secretsmanager").get_secret_value(SecretId=secret)[
            "SecretString"] == "hunter2"
        parameter = physical(run, "aws:ssm/parameter:Parameter", "greeting")
        assert local.client("ssm").get_parameter(Name=parameter)["Parameter"]["Value"] == \
            "hello"

        s3 = local.client("s3")
        site = physical(run, "aws:s3/bucket:Bucket", "site", key="bucket")
        index = s3.get_object(Bucket=site, Key="index.html")
        assert index["Body"].read() == b"<h1>Welcome</h1>"
        assert index["ContentType"] == "text/html; charset=utf-8"
        assert index["CacheControl"] == "no-cache"
        assert s3.get_object(Bucket=site, Key="config.js")["Body"].read() == \
            b"window.CONFIG = {};"

        key_id = run.one("aws:kms/key:Key", "tickets").state["keyId"]
        kms = local.client("kms")
        mac = kms.generate_mac(KeyId=key_id, Message=b"ticket", MacAlgorithm="HMAC_SHA_256")
        assert kms.verify_mac(KeyId=key_id, Message=b"ticket", MacAlgorithm="HMAC_SHA_256",
                              Mac=mac["Mac"])["MacValid"]


def test_a_resource_moto_refuses_is_named_in_the_error() -> None:
    def program() -> None:
        provider = aws.Provider("provider", region=REGION)
        aws.dynamodb.Table("keyless", hash_key="pk", billing_mode="PAY_PER_REQUEST",
                           attributes=[], opts=pulumi.ResourceOptions(provider=provider))

    run = run_program(program, config=StackConfig({"aws:region": REGION}, ()))
    with EmbeddedAws.for_plan(run) as local, pytest.raises(
            LocalAwsError, match=r"^cannot create aws:dynamodb/table:Table keyless in the "
                                 r"embedded AWS \(eu-west-1\): .*ValidationException"):
        create_resources(run, local)


def test_a_port_in_use_is_refused_in_one_line() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(PortInUseError) as refusal:
            EmbeddedAws(port=port).start()
    assert str(refusal.value) == (f"port {port} on 127.0.0.1 is already in use; choose another "
                                  "port, or none for a free one")
    with pytest.raises(LocalAwsError, match="not a TCP port"):
        EmbeddedAws(port=70000).start()


def test_a_given_free_port_is_used() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with EmbeddedAws(port=port) as local:
        assert local.endpoint_url == f"http://127.0.0.1:{port}"
    assert refused(port)


def test_stopping_leaves_nothing_listening_and_nothing_behind() -> None:
    local = EmbeddedAws(account_id=ACCOUNT, region=REGION).start()
    port = local.port
    local.client("s3").create_bucket(Bucket="left-over",
                                     CreateBucketConfiguration={"LocationConstraint": REGION})
    assert not refused(port)
    local.stop()
    assert refused(port)
    assert not local.running
    local.stop()  # a second stop does nothing
    with EmbeddedAws(account_id=ACCOUNT, region=REGION) as again:
        assert again.client("s3").list_buckets()["Buckets"] == []


def test_an_interrupt_stops_it() -> None:
    with pytest.raises(KeyboardInterrupt), EmbeddedAws() as local:  # noqa: PT012
        port = local.port
        raise KeyboardInterrupt
    assert refused(port)
    with pytest.raises(LocalAwsError, match="not running"):
        _ = local.endpoint_url


def test_data_survives_a_restart_and_the_plans_items_win(dev: StackRun, tmp_path: Path) -> None:
    state = tmp_path / "state"
    bucket = physical(dev, "aws:s3/bucket:Bucket", "entityResolution-data-bucket", "bucket")
    table = physical(dev, "aws:dynamodb/table:Table", "documentWatermark-access-log-table")
    seeded = dev.one("aws:dynamodb/tableItem:TableItem", "headerVersioning-v1-0")
    seeded_item = json.loads(seeded.inputs["item"])
    site = physical(dev, "aws:s3/bucket:Bucket", "eventManagement-site-bucket", "bucket")
    row = {"document": {"S": "report.pdf"}, "accessId": {"S": "0001"},
           "user": {"S": "reader"}, "thumb": {"B": b"\x00\xff"},
           "tags": {"M": {"raw": {"BS": [b"\x01"]}, "list": {"L": [{"N": "1"}]}}}}

    with EmbeddedAws.for_plan(dev, state_dir=state) as first:
        assert create_resources(dev, first).restored is None
        first.client("s3").put_object(Bucket=bucket, Key="reference/people.csv",
                                      Body=b"id,name\n1,Ada\n", ContentType="text/csv",
                                      Metadata={"source": "test"})
        first.client("dynamodb").put_item(TableName=table, Item=row)
        first.client("dynamodb").put_item(TableName=seeded.inputs["tableName"],
                                          Item={**seeded_item, "dn": {"S": "changed"}})
        first.client("s3").put_object(Bucket=site, Key="index.html", Body=b"edited")
    assert (state / "embedded-aws.json").exists()

    with EmbeddedAws.for_plan(dev, state_dir=state) as second:
        restored = create_resources(dev, second).restored
        assert restored is not None
        # The CSV and the web app's four files, which the plan's files then replace.
        assert (restored.objects, restored.kept_not_restored) == (5, ())
        # The row, the mapping table's two in both regions, the event's two seeded sessions.
        assert restored.items == 7
        got = second.client("s3").get_object(Bucket=bucket, Key="reference/people.csv")
        assert (got["Body"].read(), got["ContentType"], got["Metadata"]) == (
            b"id,name\n1,Ada\n", "text/csv", {"source": "test"})
        item = second.client("dynamodb").get_item(
            TableName=table, Key={"document": row["document"], "accessId": row["accessId"]})
        assert item["Item"] == row
        mapping = second.client("dynamodb").get_item(TableName=seeded.inputs["tableName"],
                                                     Key={"hk": seeded_item["hk"]})
        assert mapping["Item"] == seeded_item
        index = second.client("s3").get_object(Bucket=site, Key="index.html")["Body"].read()
        assert index == (WEB_DIR / "index.html").read_bytes()


def test_saved_data_of_resources_missing_from_the_plan_is_kept(dev: StackRun,
                                                                tmp_path: Path) -> None:
    bucket = physical(dev, "aws:s3/bucket:Bucket", "documentWatermark-source-bucket", "bucket")
    with EmbeddedAws.for_plan(dev, state_dir=tmp_path) as first:
        create_resources(dev, first)
        first.client("s3").put_object(Bucket=bucket, Key="documents/a.pdf", Body=b"%PDF")

    other = other_stateful_types()
    with EmbeddedAws.for_plan(other, state_dir=tmp_path) as elsewhere:
        restored = create_resources(other, elsewhere).restored
        assert restored is not None
        assert f"bucket {bucket}" in restored.kept_not_restored
        assert f"  saved data kept, not in this plan: bucket {bucket}" in \
            Report(restored=restored).lines()[1:]

    with EmbeddedAws.for_plan(dev, state_dir=tmp_path) as again:
        create_resources(dev, again)
        assert again.client("s3").get_object(Bucket=bucket, Key="documents/a.pdf")[
            "Body"].read() == b"%PDF"


def test_a_run_that_fails_before_restoring_keeps_the_saved_state(tmp_path: Path) -> None:
    saved = {"format": 1, "account": ACCOUNT, "tables": {},
             "buckets": {"kept": {"region": REGION, "objects": []}}}
    (tmp_path / "embedded-aws.json").write_text(json.dumps(saved))
    with EmbeddedAws(account_id=ACCOUNT, state_dir=tmp_path):
        pass  # nothing restored, e.g. the plan failed
    assert json.loads((tmp_path / "embedded-aws.json").read_text()) == saved


def test_a_bad_state_directory_is_refused_in_one_line(tmp_path: Path) -> None:
    afile = tmp_path / "file"
    afile.write_text("")
    with pytest.raises(LocalAwsError, match="is a file"):
        EmbeddedAws(state_dir=afile).start()
    (tmp_path / "embedded-aws.json").write_text("{not json")
    with pytest.raises(LocalAwsError, match=r"embedded-aws\.json: not readable"):
        EmbeddedAws(state_dir=tmp_path).start()
    (tmp_path / "embedded-aws.json").write_text('{"format": 99}')
    with pytest.raises(LocalAwsError, match="not local-mode state of format 1"):
        EmbeddedAws(state_dir=tmp_path).start()
    with pytest.raises(LocalAwsError, match="is not 12 digits"):
        EmbeddedAws(account_id="12345")
