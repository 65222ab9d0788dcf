"""The platform-owned environment: everything the services of one account and stage share.

An ``Environment`` is what AWS Proton calls an environment template instance. The platform team
deploys one per account and region; development teams' services stacks only see its
``EnvironmentContract``.

Default settings
================

============================  ==============================================================
Setting                       Default
============================  ==============================================================
Network                       see ``components.environment.network``
KMS key                       symmetric, yearly rotation, deletion window from the stage
                              (dev 7 days, prod 30), alias ``alias/blueprints/<stage>``,
                              ``protect`` from the stage; least-privilege key policy
                              (``key_policy``)
ECS cluster                   Container Insights ``enhanced``
Cloud Map namespace           private DNS ``<stage>.blueprints.internal`` on the VPC
API Gateway account           CloudWatch role with the AWS-managed push-to-logs policy
Alarm topic                   SNS, encrypted with the environment key (whose policy lets
                              CloudWatch use it), TLS-only, published to by CloudWatch alarms
                              of this account only; one subscription per ``alarmEmails`` and
                              ``alarmHttpsEndpoints`` entry, undeliverable notifications kept
                              14 days in an SQS dead-letter queue
Unused access                 the account's IAM Access Analyzer unused access analyzer
                              (``unusedAccessDays``, 90; 0: none), its findings sent by an
                              EventBridge rule to the alarm topic as one readable line (a day
                              of retries, then a dead-letter queue): the loop that trims roles
============================  ==============================================================
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from components.config import Defaults, EnvironmentSettings
from components.environment.contract import EnvironmentContract
from components.environment.network import Network, NetworkArgs
from components.foundation import iam, kms
from components.foundation.queue import Queue, QueueArgs
from components.foundation.topic import Subscriber, endpoint_digest, subscribe

# Container Insights "enhanced" adds task- and container-level metrics (CPU, memory, network,
# restarts) to the cluster and service aggregates that "enabled" gives; right-sizing Fargate
# tasks and finding the one noisy task need them.
CONTAINER_INSIGHTS = "enhanced"

# What CloudWatch needs on the key of an encrypted topic to publish its alarms there.
ALARMS_KEY_ACTIONS = ("kms:Decrypt", "kms:GenerateDataKey")
UNUSED_ACCESS_FINDING = "Unused Access Finding for IAM entities"


@dataclass(frozen=True)
class EnvironmentArgs:
    """What the platform team sets for an environment (``blueprints:environment``)."""

    settings: EnvironmentSettings


def key_policy(*, partition: str, dns_suffix: str, region: str, account_id: str) -> dict[str, Any]:
    """The environment key's policy document: the account's statements and CloudWatch Logs'
    (``components.foundation.kms``), and:

    - CloudWatch (alarms) may make and read data keys, so that its alarms can publish to the
      environment's encrypted alarm topic; without it, an alarm's notification is dropped.
      SNS asks for the data key on CloudWatch's behalf, so no source condition can apply here:
      the topic policy is where only this account's alarms are let in.
    - EventBridge may too, for the unused access findings its rule sends to that topic (the
      topic policy lets in that rule only).
    """
    return {
        "Version": "2012-10-17",
        "Statement": [
            *kms.account_statements(partition=partition, account_id=account_id),
            kms.logs_statement(partition=partition, dns_suffix=dns_suffix, region=region,
                               account_id=account_id),
            {
                "Sid": "CloudWatchAlarmsPublishToEncryptedTopics",
                "Effect": "Allow",
                "Principal": {"Service": "cloudwatch.amazonaws.com"},
                "Action": sorted(ALARMS_KEY_ACTIONS),
                "Resource": "*",
            },
            {
                "Sid": "EventBridgePublishesFindingsToEncryptedTopics",
                "Effect": "Allow",
                "Principal": {"Service": "events.amazonaws.com"},
                "Action": sorted(ALARMS_KEY_ACTIONS),
                "Resource": "*",
            },
        ],
    }


class Environment(pulumi.ComponentResource):
    """Network, ECS cluster, Cloud Map namespace, KMS key and the API Gateway logging role.

    ``aws.apigateway.Account`` is a per-account, per-region setting, not a resource of its own:
    REST API stages cannot turn on execution logging until it names a CloudWatch role. That is
    why the environment sets it, once, for every service; a second environment in the same
    account and region would overwrite it.
    """

    contract: EnvironmentContract

    def __init__(self, name: str, args: EnvironmentArgs, defaults: Defaults,
                 opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("blueprints:environment:Environment", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        partition = aws.get_partition_output(opts=pulumi.InvokeOutputOptions(parent=self))

        self.key = aws.kms.Key(
            f"{name}-key",
            description=f"Blueprints {defaults.stage} environment: logs and service data",
            enable_key_rotation=True,
            deletion_window_in_days=defaults.kms_deletion_window_days,
            policy=partition.apply(lambda p: json.dumps(key_policy(
                partition=p.partition, dns_suffix=p.dns_suffix, region=defaults.region,
                account_id=defaults.account_id))),
            opts=pulumi.ResourceOptions(parent=self, protect=defaults.protect))
        aws.kms.Alias(
            f"{name}-key",
            name=f"alias/blueprints/{defaults.stage}",
            target_key_id=self.key.key_id,
            opts=child)

        self.network = Network(
            f"{name}-network", NetworkArgs(settings=args.settings, kms_key_arn=self.key.arn),
            defaults, opts=child)

        self.cluster = aws.ecs.Cluster(
            f"{name}-cluster",
            settings=[aws.ecs.ClusterSettingArgsDict(
                name="containerInsights", value=CONTAINER_INSIGHTS)],
            opts=child)

        self.namespace = aws.servicediscovery.PrivateDnsNamespace(
            f"{name}-namespace",
            name=f"{defaults.stage}.blueprints.internal",
            vpc=self.network.vpc_id,
            description=f"Service discovery for the {defaults.stage} services",
            opts=child)

        # ECS pulls a task's image and writes its logs as this role. It starts with no rights:
        # a service attaches what its own task definition needs (its repository, its log group).
        self.task_execution_role = aws.iam.Role(
            f"{name}-task-execution",
            assume_role_policy=iam.trust_policy(
                "ecs-tasks.amazonaws.com",
                conditions={"StringEquals": {"aws:SourceAccount": defaults.account_id}}),
            description=f"ECS task execution role of the {defaults.stage} environment's services",
            opts=child)

        self.account_settings: list[pulumi.Resource] = [
            self._api_gateway_logging(name, partition)]
        findings = self._unused_access(name, args.settings, defaults)
        self.alarm_topic = self._alarm_topic(name, args.settings, defaults, findings)

        self.contract = EnvironmentContract(
            vpc_id=self.network.vpc_id,
            vpc_cidr=self.network.vpc_cidr,
            public_subnet_ids=self.network.public_subnet_ids,
            private_subnet_ids=self.network.private_subnet_ids,
            service_security_group_id=self.network.service_security_group_id,
            cluster_arn=self.cluster.arn,
            cluster_name=self.cluster.name,
            namespace_id=self.namespace.id,
            namespace_name=self.namespace.name,
            kms_key_arn=self.key.arn,
            task_execution_role_arn=self.task_execution_role.arn,
            task_execution_role_name=self.task_execution_role.name,
            alarm_topic_arn=self.alarm_topic.arn,
        )
        self.register_outputs(self.contract.outputs())

    def _unused_access(self, name: str, settings: EnvironmentSettings,
                       defaults: Defaults) -> aws.cloudwatch.EventRule | None:
        """The account's unused access analyzer and the rule that picks up its findings (the
        alarm topic becomes the rule's target); None when another environment has it."""
        if not settings.unused_access_days:
            return None
        child = pulumi.ResourceOptions(parent=self)
        aws.accessanalyzer.Analyzer(
            f"{name}-unused-access",
            analyzer_name=f"blueprints-{defaults.stage}-unused-access",
            type="ACCOUNT_UNUSED_ACCESS",
            configuration=aws.accessanalyzer.AnalyzerConfigurationArgs(
                unused_access=aws.accessanalyzer.AnalyzerConfigurationUnusedAccessArgs(
                    unused_access_age=settings.unused_access_days)),
            opts=child)
        return aws.cloudwatch.EventRule(
            f"{name}-unused-access",
            description="IAM Access Analyzer's unused access findings, for the alarm topic",
            event_bus_name="default",  # where AWS services' events arrive
            state="ENABLED",
            event_pattern=json.dumps({"source": ["aws.access-analyzer"],
                                      "detail-type": [UNUSED_ACCESS_FINDING]}),
            opts=child)

    def _alarm_topic(self, name: str, settings: EnvironmentSettings, defaults: Defaults,
                     findings: aws.cloudwatch.EventRule | None) -> aws.sns.Topic:
        """The topic every service's alarms notify (and, with ``findings``, the unused access
        findings), and its subscribers from config."""
        child = pulumi.ResourceOptions(parent=self)
        topic = aws.sns.Topic(
            f"{name}-alarms",
            display_name=f"Blueprints {defaults.stage} alarms",
            kms_master_key_id=self.key.arn,
            fifo_topic=False,
            opts=child)
        publishers = [iam.allow(["sns:Publish"], topic.arn,
                                principals={"Service": "cloudwatch.amazonaws.com"},
                                conditions={"StringEquals": {
                                    "aws:SourceAccount": defaults.account_id}})]
        if findings is not None:
            publishers.append(iam.allow_service(["sns:Publish"], topic.arn,
                                                "events.amazonaws.com", findings.arn))
        aws.sns.TopicPolicy(
            f"{name}-alarms-policy",
            arn=topic.arn,
            policy=iam.policy_document([
                iam.deny_insecure_transport("sns", topic.arn), *publishers]),
            opts=child)
        if findings is not None:
            undelivered = Queue(f"{name}-findings-undelivered", QueueArgs(
                allow_send_from=(("events.amazonaws.com", findings.arn),)), defaults, child)
            aws.cloudwatch.EventTarget(
                f"{name}-unused-access",
                rule=findings.name,
                arn=topic.arn,
                dead_letter_config=aws.cloudwatch.EventTargetDeadLetterConfigArgs(
                    arn=undelivered.arn),
                retry_policy=aws.cloudwatch.EventTargetRetryPolicyArgs(
                    maximum_event_age_in_seconds=86400, maximum_retry_attempts=185),
                # One readable line for whoever reads the alarms, not the event's JSON.
                input_transformer=aws.cloudwatch.EventTargetInputTransformerArgs(
                    input_paths={"type": "$.detail.findingType",
                                 "resource": "$.detail.resource",
                                 "status": "$.detail.status"},
                    input_template=(
                        '"IAM Access Analyzer: <type> on <resource> (<status>). Remove what '
                        'is unused, or archive the finding."')),
                opts=child)
        endpoints = [("email", address) for address in settings.alarm_emails]
        endpoints += [("https", url) for url in settings.alarm_https_endpoints]
        subscribe(f"{name}-alarms", topic, [
            Subscriber(f"{name}-alarms-{protocol}-{endpoint_digest(endpoint)}", protocol,
                       endpoint) for protocol, endpoint in endpoints], defaults, child)
        return topic

    def _api_gateway_logging(self, name: str, partition: pulumi.Output[aws.GetPartitionResult],
                             ) -> aws.apigateway.Account:
        child = pulumi.ResourceOptions(parent=self)
        role = aws.iam.Role(
            f"{name}-apigateway-logs",
            description="Lets API Gateway write REST API execution and access logs",
            assume_role_policy=iam.trust_policy("apigateway.amazonaws.com"),
            opts=child)
        attachment = aws.iam.RolePolicyAttachment(
            f"{name}-apigateway-logs",
            role=role.name,
            policy_arn=partition.apply(
                lambda p: f"arn:{p.partition}:iam::aws:policy/service-role/"
                          "AmazonAPIGatewayPushToCloudWatchLogs"),
            opts=child)
        return aws.apigateway.Account(
            f"{name}-apigateway-account",
            cloudwatch_role_arn=role.arn,
            # API Gateway checks the role's rights when the account setting is made.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[attachment]))
