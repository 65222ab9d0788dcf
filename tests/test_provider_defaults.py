"""Provider defaults that the program sets on purpose, for every resource type it declares.

The mocks apply none of pulumi-aws's defaults, so a test of inputs cannot see what the provider
fills in for an argument left unset: an authorizer's identity source (the Authorization header,
which made every request without one a 401), a stage's logging level, a table's billing mode.
``ON_PURPOSE`` lists, for every type the stacks declare, the arguments whose provider default
would change behaviour, each with that default; every resource of the type must set them. A
type with no entry fails the test until its defaults have been read (an empty entry says they
were, and none matters). The variants plan the branches that stack files leave off.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from functools import cache
from typing import Any

import pytest

from tools.mock_runtime import Resource, StackRun, load_stack_file, run_stack, stack_names

MAPPING = "aws:lambda/eventSourceMapping:EventSourceMapping"
QUEUE_MAPPING = f"{MAPPING} (an SQS queue)"
FUNCTION = "aws:lambda/function:Function"
IMAGE_FUNCTION = f"{FUNCTION} (a container image)"
ENDPOINT = "aws:ec2/vpcEndpoint:VpcEndpoint"
INTERFACE_ENDPOINT = f"{ENDPOINT} (an interface)"
SUBSCRIPTION = "aws:sns/topicSubscription:TopicSubscription"
UNFILTERED_SUBSCRIPTION = f"{SUBSCRIPTION} (every message: no filter policy)"

ON_PURPOSE: dict[str, dict[str, str]] = {
    "aws:accessanalyzer/analyzer:Analyzer": {
        "configuration.unusedAccess.unusedAccessAge": "90 days, stated from unusedAccessDays"},
    "aws:apigateway/account:Account": {
        "cloudwatchRoleArn": "none: REST stages cannot write execution logs"},
    "aws:apigateway/apiKey:ApiKey": {"enabled": "true; stated so a key is never off by accident"},
    "aws:apigateway/authorizer:Authorizer": {
        "type": "TOKEN",
        "identitySource": "method.request.header.Authorization: 401 without that header, "
                          "before the authorizer runs",
        "authorizerResultTtlInSeconds": "300 s of cached answers"},
    "aws:apigateway/basePathMapping:BasePathMapping": {
        "stageName": "none: the stage name becomes part of every path"},
    "aws:apigateway/deployment:Deployment": {"triggers": "none: changes are never redeployed"},
    "aws:apigateway/domainName:DomainName": {
        "securityPolicy": "TLS_1_0", "endpointConfiguration.types": "EDGE"},
    "aws:apigateway/integration:Integration": {},
    "aws:apigateway/integrationResponse:IntegrationResponse": {},
    "aws:apigateway/method:Method": {
        "authorization": "required, no default; NONE is an open method",
        "apiKeyRequired": "false: a metered API would serve calls without a key"},
    "aws:apigateway/methodResponse:MethodResponse": {},
    "aws:apigateway/methodSettings:MethodSettings": {
        "settings.loggingLevel": "OFF", "settings.metricsEnabled": "false",
        "settings.dataTraceEnabled": "false, stated so it is never on by accident",
        "settings.throttlingRateLimit": "-1: no limit",
        "settings.throttlingBurstLimit": "-1: no limit",
        "settings.cachingEnabled": "false, stated with the stage's cache cluster"},
    "aws:apigateway/model:Model": {},
    "aws:apigateway/requestValidator:RequestValidator": {
        "validateRequestBody": "false", "validateRequestParameters": "false"},
    "aws:apigateway/resource:Resource": {},
    "aws:apigateway/response:Response": {},
    "aws:apigateway/restApi:RestApi": {
        "endpointConfiguration.types": "EDGE", "apiKeySource": "HEADER",
        "disableExecuteApiEndpoint": "false", "securityPolicy": "TLS_1_0"},
    "aws:apigateway/stage:Stage": {
        "xrayTracingEnabled": "false", "accessLogSettings.destinationArn": "no access logs",
        "cacheClusterEnabled": "false, stated with the method settings"},
    "aws:apigateway/usagePlan:UsagePlan": {
        "throttleSettings.rateLimit": "no per-key limit",
        "throttleSettings.burstLimit": "no per-key limit"},
    "aws:apigateway/usagePlanKey:UsagePlanKey": {},
    "aws:apigatewayv2/api:Api": {"disableExecuteApiEndpoint": "false"},
    "aws:apigatewayv2/apiMapping:ApiMapping": {},
    "aws:apigatewayv2/authorizer:Authorizer": {"identitySources": "required for JWT"},
    "aws:apigatewayv2/domainName:DomainName": {
        "domainNameConfiguration.securityPolicy": "required; TLS_1_2 is the only choice",
        "domainNameConfiguration.endpointType": "required; REGIONAL"},
    "aws:apigatewayv2/integration:Integration": {
        "payloadFormatVersion": "1.0: the handlers read version 2.0 events"},
    "aws:apigatewayv2/route:Route": {"authorizationType": "NONE: an open route"},
    "aws:apigatewayv2/stage:Stage": {
        "autoDeploy": "false: routes are never deployed",
        "accessLogSettings.destinationArn": "no access logs",
        "defaultRouteSettings.throttlingRateLimit": "no limit",
        "defaultRouteSettings.throttlingBurstLimit": "no limit"},
    "aws:amplify/app:App": {
        # Read and left to their defaults: enableBasicAuth (false: the site is public, as its
        # guests need), enableAutoBranchCreation (false), iamServiceRoleArn (a static site
        # needs none), customRules (none: the app routes by URL hash, so nothing needs
        # rewriting to index.html).
        "platform": "WEB, stated; WEB_COMPUTE would host server-side rendering",
        "buildSpec": "the repository's amplify.yml, or a detected one: no config.js is written",
        "customHeaders": "none: no HSTS, nosniff or frame options on the site",
        "enableBranchAutoDeletion": "false, stated: true would disconnect the branch this "
                                    "stack manages when its git branch is deleted"},
    "aws:amplify/branch:Branch": {
        # Read and left to their defaults: enablePullRequestPreview (false: pull requests are
        # not built with the app's variables), enableBasicAuth (false), enablePerformanceMode
        # (false: changes reach the edge at once).
        "enableAutoBuild": "true (the provider's default), stated: a push deploys the site",
        "stage": "NONE, stated as PRODUCTION"},
    "aws:appautoscaling/policy:Policy": {
        # Target tracking policies for DynamoDB capacity; a step scaling policy will need its
        # own. Read and left to their defaults: disableScaleIn (false: capacity comes back
        # down) and scaleInCooldown/scaleOutCooldown (0 s for DynamoDB tables and indexes,
        # 300 s for ECS and others): what DynamoDB auto scaling is built around, and AWS
        # limits a table's capacity decreases per day anyway.
        "policyType": "StepScaling, which takes no target tracking configuration",
        "targetTrackingScalingPolicyConfiguration.targetValue": "required, no default"},
    # minCapacity and maxCapacity are required; roleArn defaults to the service-linked role
    # (custom roles are ignored for DynamoDB); suspendedState to nothing suspended.
    "aws:appautoscaling/target:Target": {},
    "aws:cloudfront/distribution:Distribution": {
        "httpVersion": "http2", "isIpv6Enabled": "false", "priceClass": "PriceClass_All",
        "viewerCertificate.minimumProtocolVersion": "TLSv1 with a custom certificate",
        "defaultCacheBehavior.compress": "false; stated, since it depends on the cache policy",
        "restrictions.geoRestriction.restrictionType": "required; none"},
    "aws:cloudfront/originAccessControl:OriginAccessControl": {},
    "aws:cloudfront/originRequestPolicy:OriginRequestPolicy": {},
    "aws:cloudfront/responseHeadersPolicy:ResponseHeadersPolicy": {},
    "aws:cloudwatch/logDelivery:LogDelivery": {},
    "aws:cloudwatch/logDeliveryDestination:LogDeliveryDestination": {
        "outputFormat": "the source's own format"},
    "aws:cloudwatch/logDeliverySource:LogDeliverySource": {},
    "aws:cloudwatch/logGroup:LogGroup": {"retentionInDays": "0: logs kept forever"},
    "aws:cloudwatch/dashboard:Dashboard": {},
    "aws:cloudwatch/metricAlarm:MetricAlarm": {
        "treatMissingData": "missing: a gap keeps the alarm's state, whatever the metric",
        "actionsEnabled": "true, stated so that an alarm is never silenced by accident",
        "datapointsToAlarm": "evaluationPeriods: every period must breach"},
    "aws:codebuild/project:Project": {
        "encryptionKey": "the account's aws/s3 key, which no other account may use",
        "logsConfig.cloudwatchLogs.groupName": "/aws/codebuild/<project>, kept forever",
        "buildTimeout": "60 minutes", "environment.privilegedMode": "false, stated: no "
                                                                     "Docker daemon in builds"},
    "aws:codepipeline/pipeline:Pipeline": {
        "pipelineType": "V1: no triggers on a branch, no stage rollback",
        "executionMode": "SUPERSEDED: a newer commit overtakes one waiting for approval"},
    "aws:cognito/identityProvider:IdentityProvider": {
        "attributeMapping": "user name from the provider's subject only: guests arrive "
                            "without email or name"},
    "aws:cognito/userGroup:UserGroup": {},
    "aws:cognito/userPool:UserPool": {
        "mfaConfiguration": "OFF", "deletionProtection": "INACTIVE",
        "usernameConfiguration.caseSensitive": "case-sensitive, and unchangeable later",
        "userPoolTier": "ESSENTIALS today; stated so that a change of AWS default is not ours",
        "emailConfiguration.emailSendingAccount": "COGNITO_DEFAULT: 50 emails a day",
        "passwordPolicy.minimumLength": "8",
        "adminCreateUserConfig.allowAdminCreateUserOnly": "false: anyone may sign up"},
    "aws:cognito/userPoolDomain:UserPoolDomain": {
        "managedLoginVersion": "1, the classic hosted UI; 2 (managed login) serves no sign-in "
                               "page until a branding style exists"},
    "aws:cognito/userPoolClient:UserPoolClient": {
        "preventUserExistenceErrors": "LEGACY: sign-in errors tell which users exist",
        "enableTokenRevocation": "true, stated", "generateSecret": "false, stated",
        "explicitAuthFlows": "every flow, passwords in the clear included",
        "refreshTokenValidity": "30 days", "accessTokenValidity": "60 minutes"},
    "aws:cloudwatch/eventArchive:EventArchive": {"retentionDays": "0: events kept forever"},
    "aws:cloudwatch/eventBus:EventBus": {},
    "aws:cloudwatch/eventRule:EventRule": {
        "eventBusName": "default: the bus every AWS service's events arrive on",
        "state": "ENABLED, stated"},
    "aws:cloudwatch/eventTarget:EventTarget": {
        "retryPolicy": "185 attempts over 24 h",
        "deadLetterConfig": "none: an event that cannot be delivered is dropped"},
    "aws:dax/cluster:Cluster": {
        "serverSideEncryption.enabled": "false",
        "clusterEndpointEncryptionType": "NONE: plaintext between client and cluster",
        "securityGroupIds": "the VPC's default security group"},
    "aws:dax/parameterGroup:ParameterGroup": {
        "parameters": "none: records and query results kept 5 minutes"},
    "aws:dax/subnetGroup:SubnetGroup": {},
    "aws:dynamodb/table:Table": {
        "billingMode": "PROVISIONED", "pointInTimeRecovery.enabled": "false",
        "deletionProtectionEnabled": "false"},
    "aws:dynamodb/tableItem:TableItem": {},
    "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup": {},
    "aws:ec2/eip:Eip": {"domain": "vpc, stated"},
    "aws:ec2/flowLog:FlowLog": {"maxAggregationInterval": "600 s", "trafficType": "required"},
    "aws:ec2/internetGateway:InternetGateway": {},
    "aws:ec2/natGateway:NatGateway": {"connectivityType": "public, stated"},
    "aws:ec2/route:Route": {},
    "aws:ec2/routeTable:RouteTable": {},
    "aws:ec2/routeTableAssociation:RouteTableAssociation": {},
    "aws:ec2/securityGroup:SecurityGroup": {},
    "aws:ec2/subnet:Subnet": {"mapPublicIpOnLaunch": "false, stated per subnet kind"},
    "aws:ec2/vpc:Vpc": {
        "enableDnsHostnames": "false: interface endpoints' private DNS cannot work",
        "enableDnsSupport": "true, stated"},
    ENDPOINT: {"vpcEndpointType": "Gateway"},
    INTERFACE_ENDPOINT: {
        "vpcEndpointType": "Gateway", "privateDnsEnabled": "false: callers must use the "
        "endpoint's own names", "ipAddressType": "the service's choice (dualstack where "
        "offered)", "subnetIds": "none: no interface in any zone",
        "securityGroupIds": "the VPC's default group"},
    "aws:ec2/managedPrefixList:ManagedPrefixList": {},
    "aws:elasticache/serverlessCache:ServerlessCache": {
        "kmsKeyId": "an AWS-owned key", "securityGroupIds": "the VPC's default security group",
        "userGroupId": "none: any client that reaches the cache may use it",
        "cacheUsageLimits": "none: storage and ECPUs (the bill) without a ceiling"},
    "aws:elasticache/user:User": {},
    "aws:elasticache/userGroup:UserGroup": {},
    "aws:route53/resolverEndpoint:ResolverEndpoint": {
        "protocols": "Do53, stated", "resolverEndpointType": "IPV4, stated"},
    "aws:route53/resolverQueryLogConfig:ResolverQueryLogConfig": {},
    "aws:route53/resolverQueryLogConfigAssociation:ResolverQueryLogConfigAssociation": {},
    "aws:ecr/repository:Repository": {
        "imageTagMutability": "MUTABLE: a tag can be moved to another image",
        "imageScanningConfiguration.scanOnPush": "false: no scan",
        "encryptionConfigurations": "AES256 with an AWS-owned key",
        "forceDelete": "false, stated (prod protects the repository)"},
    "aws:ecr/lifecyclePolicy:LifecyclePolicy": {},
    "aws:ecr/repositoryPolicy:RepositoryPolicy": {},
    "aws:ecs/cluster:Cluster": {"settings": "Container Insights off"},
    "aws:ecs/taskDefinition:TaskDefinition": {
        "networkMode": "bridge (Fargate needs awsvpc)",
        "requiresCompatibilities": "EC2 only",
        "runtimePlatform.cpuArchitecture": "X86_64",
        "ephemeralStorage": "20 GiB",
        "taskRoleArn": "none: the task has no AWS rights"},
    "aws:sfn/stateMachine:StateMachine": {
        "type": "STANDARD, stated", "loggingConfiguration.level": "OFF",
        "loggingConfiguration.includeExecutionData": "false, stated",
        "tracingConfiguration.enabled": "false"},
    "docker-build:index:Image": {
        "platforms": "the build host's platform, whatever the functions run on",
        "buildOnPreview": "true: every preview builds the image, so previews need Docker",
        "push": "required, stated"},
    "aws:iam/policy:Policy": {},
    "aws:iam/role:Role": {},
    "aws:iam/rolePolicy:RolePolicy": {},
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment": {},
    "aws:kms/alias:Alias": {},
    "aws:kms/key:Key": {"enableKeyRotation": "false", "deletionWindowInDays": "30"},
    "aws:lambda/alias:Alias": {},
    # A mapping's defaults depend on its source (``purpose``): a stream's, then a queue's.
    "aws:lambda/eventSourceMapping:EventSourceMapping": {
        "startingPosition": "none: required for streams", "batchSize": "100 for streams",
        "maximumRetryAttempts": "-1: a failing batch is retried until its records expire",
        "maximumRecordAgeInSeconds": "-1: records are kept until they expire",
        "bisectBatchOnFunctionError": "false",
        "functionResponseTypes": "none: one failed record fails the whole batch"},
    QUEUE_MAPPING: {
        "batchSize": "10", "maximumBatchingWindowInSeconds": "0: no batching window",
        "scalingConfig.maximumConcurrency": "none: the function's whole concurrency",
        "functionResponseTypes": "none: one failed message returns the whole batch"},
    FUNCTION: {
        "architectures": "x86_64", "memorySize": "128 MB", "timeout": "3 s",
        "runtime": "none: a zip function needs one", "publish": "false, stated"},
    IMAGE_FUNCTION: {
        "architectures": "x86_64 (the image is built for the functions' architecture)",
        "memorySize": "128 MB", "timeout": "3 s", "packageType": "Zip",
        "imageConfig.commands": "the image's CMD (the consumer's, for every function)"},
    "aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig": {
        "maximumRetryAttempts": "2", "maximumEventAgeInSeconds": "6 hours"},
    "aws:lambda/layerVersion:LayerVersion": {
        "compatibleArchitectures": "none listed", "compatibleRuntimes": "none listed"},
    "aws:lambda/permission:Permission": {
        "sourceArn": "none: any resource of the principal service may invoke"},
    "aws:lambda/provisionedConcurrencyConfig:ProvisionedConcurrencyConfig": {},
    "aws:s3/accessPoint:AccessPoint": {
        "publicAccessBlockConfiguration.blockPublicAcls": "true, stated",
        "publicAccessBlockConfiguration.blockPublicPolicy": "true, stated",
        "publicAccessBlockConfiguration.ignorePublicAcls": "true, stated",
        "publicAccessBlockConfiguration.restrictPublicBuckets": "true, stated"},
    "aws:s3/bucket:Bucket": {"forceDestroy": "false, stated"},
    "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration": {},
    "aws:s3/bucketNotification:BucketNotification": {},
    "aws:s3/bucketObjectv2:BucketObjectv2": {
        "contentType": "binary/octet-stream: browsers download the page"},
    "aws:s3/bucketOwnershipControls:BucketOwnershipControls": {},
    "aws:s3/bucketPolicy:BucketPolicy": {},
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock": {
        "blockPublicAcls": "false", "blockPublicPolicy": "false", "ignorePublicAcls": "false",
        "restrictPublicBuckets": "false"},
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration": {},
    "aws:s3/bucketVersioning:BucketVersioning": {},
    "aws:s3control/objectLambdaAccessPoint:ObjectLambdaAccessPoint": {
        "configuration.cloudWatchMetricsEnabled": "false"},
    "aws:s3control/objectLambdaAccessPointPolicy:ObjectLambdaAccessPointPolicy": {},
    "aws:scheduler/schedule:Schedule": {
        "flexibleTimeWindow.mode": "required", "state": "ENABLED, stated",
        "target.retryPolicy.maximumRetryAttempts": "185",
        "target.retryPolicy.maximumEventAgeInSeconds": "86400"},
    "aws:servicediscovery/privateDnsNamespace:PrivateDnsNamespace": {},
    "aws:servicediscovery/service:Service": {
        "healthCheckCustomConfig": "none: ECS cannot report task health",
        "forceDestroy": "false: deleting fails while tasks are registered",
        "dnsConfig.routingPolicy": "MULTIVALUE, stated"},
    "aws:apigateway/vpcLink:VpcLink": {},
    "aws:apigatewayv2/vpcLink:VpcLink": {"securityGroupIds": "the VPC's default group"},
    "aws:ecs/service:Service": {
        "launchType": "EC2 without capacity providers", "desiredCount": "0 tasks",
        "deploymentCircuitBreaker.enable": "false: a failing deployment keeps retrying",
        "deploymentCircuitBreaker.rollback": "false: no rollback",
        "networkConfiguration.assignPublicIp": "false, stated",
        "enableExecuteCommand": "false, stated", "propagateTags": "NONE: tasks untagged"},
    "aws:lb/loadBalancer:LoadBalancer": {
        "internal": "false: internet-facing", "loadBalancerType": "application, stated",
        "enableDeletionProtection": "false, stated per stage",
        "securityGroups": "an ALB gets the VPC's default group, an NLB none, ever"},
    "aws:lb/targetGroup:TargetGroup": {
        "targetType": "instance: awsvpc tasks need ip", "healthCheck.path": "/ on an ALB; a "
        "TCP check on an NLB's TCP group", "deregistrationDelay": "300 s of draining"},
    "aws:lb/listener:Listener": {"protocol": "HTTP (an NLB needs TCP)"},
    "aws:lb/listenerRule:ListenerRule": {"priority": "the next free one, in creation order"},
    "aws:sesv2/configurationSet:ConfigurationSet": {
        "deliveryOptions.tlsPolicy": "OPTIONAL: mail may travel unencrypted",
        "reputationOptions.reputationMetricsEnabled": "false"},
    "aws:sns/topic:Topic": {"kmsMasterKeyId": "none: unencrypted at rest"},
    "aws:sns/topicPolicy:TopicPolicy": {},
    "aws:sns/topicSubscription:TopicSubscription": {
        "filterPolicyScope": "MessageAttributes, stated with the filter policy",
        "redrivePolicy": "none: undeliverable messages are dropped"},
    UNFILTERED_SUBSCRIPTION: {"redrivePolicy": "none: undeliverable messages are dropped",
                              "rawMessageDelivery": "false, stated: HTTPS endpoints check "
                                                    "the signature of SNS's envelope"},
    "aws:sqs/queue:Queue": {
        "messageRetentionSeconds": "4 days", "visibilityTimeoutSeconds": "30 s"},
    "aws:sqs/queuePolicy:QueuePolicy": {},
    "aws:sqs/redriveAllowPolicy:RedriveAllowPolicy": {},
    "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule": {},
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule": {},
    "aws:wafv2/webAcl:WebAcl": {},
    "aws:wafv2/webAclAssociation:WebAclAssociation": {},
    "aws:wafv2/webAclLoggingConfiguration:WebAclLoggingConfiguration": {
        "redactedFields": "nothing redacted: keys and tokens in the logs"},
}


def _services_with(stack: str, **changes: dict[str, Any]) -> dict[str, Any]:
    """The stack's services section with some services' settings changed."""
    services = copy.deepcopy(load_stack_file(stack)["config"]["blueprints:services"])
    for service, settings in changes.items():
        services[service] = {**services.get(service, {}), **settings}
    return {"blueprints:services": services}


# The branches stack files leave off: (stack, config overrides).
VARIANTS: dict[str, tuple[str, dict[str, Any]]] = {
    **{stack: (stack, {}) for stack in stack_names()},
    "dev, header keys and an edge API": ("dev", _services_with(
        "dev", queryKeyApi={"acceptHeaderKey": True, "endpointType": "EDGE"})),
    "dev, JWT matcher and an existing pool": ("dev", _services_with(
        "dev", entityResolution={"auth": {"type": "jwt", "issuer": "https://id.example.com",
                                          "audience": ["matcher"]}},
        documentWatermark={"cognito": {"userPoolId": "eu-west-1_AbC123",
                                       "clientIds": ["client"]}})),
    "dev, provisioned event tables": ("dev", _services_with(
        "dev", eventManagement={"capacity": {"mode": "provisioned", "read": 5, "write": 5,
                                             "maxRead": 50, "maxWrite": 20}})),
    # Amplify takes no domain: the API names Amplify's default domain as its origin. The
    # secrets are secure values, as `pulumi config set --secret` writes them in a stack file.
    "dev, Amplify Hosting and a social provider": ("dev", {
        **_services_with("dev", eventManagement={
            "web": {"amplifyRepository": "https://github.com/example/event-site"},
            "corsOrigins": ["https://main.d1a2b3c4d5e6f7.amplifyapp.com"],
            "socialProviders": {"Google": {"clientId": "google-client"}},
            "authDomainPrefix": "summit-dev"}),
        "eventManagement:amplifyAccessToken": {"secure": "v1:amplify-token"},
        "eventManagement:googleClientSecret": {"secure": "v1:google-client-secret"}}),
    "dev with async analytics": ("dev", _services_with("dev", asyncAnalytics={})),
    "dev with async analytics, Express": ("dev", _services_with(
        "dev", asyncAnalytics={"workflow": "express"})),
    "dev, a private API on an existing endpoint": ("dev", _services_with(
        "dev", privateApi={"vpcEndpointIds": ["vpce-0123456789abcdef0"]})),
    "dev, the container API through Cloud Map": ("dev", _services_with(
        "dev", containerApi={"httpApiTarget": "cloudMap"})),
    "dev, alarm subscribers": ("dev", {"blueprints:environment": {
        **load_stack_file("dev")["config"]["blueprints:environment"],
        "alarmEmails": ["oncall@example.com"],
        "alarmHttpsEndpoints": ["https://alerts.example.com/sns"]}}),
}


@cache
def planned(variant: str) -> StackRun:
    stack, overrides = VARIANTS[variant]
    return run_stack(stack, config_overrides=overrides)


def _present(value: Any, path: list[str]) -> Iterator[bool]:
    """Whether ``path`` is set, for each place it can be (every element of a list)."""
    if not path:
        yield value is not None
    elif isinstance(value, list):
        for element in value:
            yield from _present(element, path)
    elif isinstance(value, dict):
        yield from _present(value.get(path[0]), path[1:])
    else:
        yield False


def purpose(resource: Resource) -> str:
    """The ``ON_PURPOSE`` entry for ``resource``: its type's, or its kind's where defaults
    differ by kind."""
    if resource.type == MAPPING and ":sqs:" in str(resource.inputs.get("eventSourceArn")):
        return QUEUE_MAPPING
    if resource.type == FUNCTION and resource.inputs.get("packageType") == "Image":
        return IMAGE_FUNCTION
    if resource.type == ENDPOINT and resource.inputs.get("vpcEndpointType") == "Interface":
        return INTERFACE_ENDPOINT
    if resource.type == SUBSCRIPTION and resource.inputs.get("filterPolicy") is None:
        return UNFILTERED_SUBSCRIPTION
    return resource.type


@pytest.mark.parametrize("variant", VARIANTS)
def test_every_declared_type_has_had_its_provider_defaults_read(variant: str) -> None:
    declared = {purpose(r) for r in planned(variant).managed()}
    assert declared <= set(ON_PURPOSE), (
        f"read the provider defaults of {sorted(declared - set(ON_PURPOSE))} and list the "
        "ones that change behaviour in ON_PURPOSE")


@pytest.mark.parametrize("variant", VARIANTS)
def test_arguments_whose_provider_default_matters_are_set_on_purpose(variant: str) -> None:
    unset = [f"{resource.name}: {path} (the provider's default: {default})"
             for resource in planned(variant).managed()
             for path, default in ON_PURPOSE.get(purpose(resource), {}).items()
             if not all(_present(dict(resource.inputs), path.split(".")))]
    assert not unset, "\n".join(unset)
