"""The IAM actions a deploy role needs to run ``pulumi up`` (and refresh, and destroy) on what the
catalog declares: for each Pulumi resource type the stacks create, every action the Pulumi AWS
provider (terraform-provider-aws underneath) calls to create, read, update, tag, untag and delete
it, each named in full (no ``*``, no ``service:*``, no ``service:Get*``).

The action names come from the AWS Service Authorization Reference; which of them a type needs
comes from the calls the provider makes for it, plus the calls AWS makes with the caller's own
permissions on its behalf (a KMS grant for a customer managed key, an ENI for a VPC attachment,
a service-linked role the first time a service is used in an account, the log delivery of a
vended log). ``iam:PassRole`` is not here: the account connection grants it on its own, limited
to ``PASS_ROLE_SERVICES``. ``docker-build:index:Image`` is here too: the pipeline pushes the
container images to ECR with this role.

``tests/environment/test_deploy_actions.py`` keeps the table complete and honest: every custom
type the dev, prod-env and prod plans declare has an entry, every action is an API operation
(botocore's models) or a known permission-only action, no data-plane action slips in beyond
the few a deploy makes, and ``PASS_ROLE_SERVICES`` is where the plans pass role ARNs.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import MappingProxyType

# The service principals the catalog passes roles to (``iam:PassedToService``): Lambda functions,
# state machines, ECS task and execution roles, API Gateway (its CloudWatch role and the
# credentials of AWS service integrations), DAX clusters, VPC flow logs and EventBridge
# Scheduler targets.
PASS_ROLE_SERVICES: tuple[str, ...] = (
    "apigateway.amazonaws.com",
    "dax.amazonaws.com",
    "ecs-tasks.amazonaws.com",
    "lambda.amazonaws.com",
    "scheduler.amazonaws.com",
    "states.amazonaws.com",
    "vpc-flow-logs.amazonaws.com",
)

# Shared pieces.
_SERVICE_LINKED_ROLE = ("iam:CreateServiceLinkedRole",)
_EC2_TAGS = ("ec2:CreateTags", "ec2:DeleteTags")
_ELB_TAGS = ("elasticloadbalancing:AddTags", "elasticloadbalancing:RemoveTags",
             "elasticloadbalancing:DescribeTags")
# API Gateway authorizes by HTTP verb on its management API; tags are PUT/DELETE on /tags.
_APIGATEWAY = ("apigateway:DELETE", "apigateway:GET", "apigateway:PATCH", "apigateway:POST",
               "apigateway:PUT")
# A customer managed key given to a service that keeps data with it: the service creates a
# grant for itself with the caller's permissions.
_KMS_GRANT = ("kms:CreateGrant", "kms:DescribeKey")
# Network interfaces a service creates in the caller's VPC with the caller's permissions.
_VPC_ENIS = ("ec2:CreateNetworkInterface", "ec2:DeleteNetworkInterface",
             "ec2:DescribeNetworkInterfaces", "ec2:DescribeSecurityGroups", "ec2:DescribeSubnets",
             "ec2:DescribeVpcs")
# Logs a service delivers to CloudWatch Logs (vended logs): the caller lets the service write
# to the log group through the log group's resource policy.
_VENDED_LOGS = ("logs:CreateLogDelivery", "logs:DeleteLogDelivery", "logs:GetLogDelivery",
                "logs:ListLogDeliveries", "logs:UpdateLogDelivery", "logs:PutResourcePolicy",
                "logs:DescribeResourcePolicies", "logs:DescribeLogGroups")
_SECURITY_GROUP_RULES = ("ec2:AuthorizeSecurityGroupEgress", "ec2:AuthorizeSecurityGroupIngress",
                         "ec2:RevokeSecurityGroupEgress", "ec2:RevokeSecurityGroupIngress",
                         "ec2:DescribeSecurityGroupRules", "ec2:ModifySecurityGroupRules",
                         "ec2:UpdateSecurityGroupRuleDescriptionsEgress",
                         "ec2:UpdateSecurityGroupRuleDescriptionsIngress", *_EC2_TAGS)
# What the provider does when it deletes a subnet, security group or load balancer: it removes
# the network interfaces Lambda, ELB and others left behind.
_LINGERING_ENIS = ("ec2:DescribeNetworkInterfaces", "ec2:DetachNetworkInterface",
                   "ec2:DeleteNetworkInterface")
# Object Lambda's access point configuration is in the s3 service, not s3-object-lambda.
_OBJECT_LAMBDA_ACCESS_POINT = (
    "s3:CreateAccessPointForObjectLambda", "s3:GetAccessPointForObjectLambda",
    "s3:GetAccessPointConfigurationForObjectLambda",
    "s3:PutAccessPointConfigurationForObjectLambda", "s3:DeleteAccessPointForObjectLambda")
_ECR_PUSH = ("ecr:GetAuthorizationToken", "ecr:BatchCheckLayerAvailability",
             "ecr:InitiateLayerUpload", "ecr:UploadLayerPart", "ecr:CompleteLayerUpload",
             "ecr:PutImage", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer")

_ACTIONS: dict[str, tuple[str, ...]] = {
    # IAM Access Analyzer: its first analyzer makes the service-linked role it runs as.
    "aws:accessanalyzer/analyzer:Analyzer": (
        "access-analyzer:CreateAnalyzer", "access-analyzer:GetAnalyzer",
        "access-analyzer:UpdateAnalyzer", "access-analyzer:DeleteAnalyzer",
        "access-analyzer:ListTagsForResource", "access-analyzer:TagResource",
        "access-analyzer:UntagResource", *_SERVICE_LINKED_ROLE),
    # API Gateway (REST)
    "aws:apigateway/account:Account": _APIGATEWAY,
    "aws:apigateway/apiKey:ApiKey": _APIGATEWAY,
    "aws:apigateway/authorizer:Authorizer": _APIGATEWAY,
    "aws:apigateway/basePathMapping:BasePathMapping": _APIGATEWAY,
    "aws:apigateway/deployment:Deployment": _APIGATEWAY,
    # Mutual TLS: API Gateway reads the truststore object with the caller's permissions.
    "aws:apigateway/domainName:DomainName": (*_APIGATEWAY, "s3:GetObject", "s3:GetObjectVersion"),
    "aws:apigateway/integration:Integration": _APIGATEWAY,
    "aws:apigateway/integrationResponse:IntegrationResponse": _APIGATEWAY,
    "aws:apigateway/method:Method": _APIGATEWAY,
    "aws:apigateway/methodResponse:MethodResponse": _APIGATEWAY,
    "aws:apigateway/methodSettings:MethodSettings": _APIGATEWAY,
    "aws:apigateway/model:Model": _APIGATEWAY,
    "aws:apigateway/requestValidator:RequestValidator": _APIGATEWAY,
    "aws:apigateway/resource:Resource": _APIGATEWAY,
    "aws:apigateway/response:Response": _APIGATEWAY,
    "aws:apigateway/restApi:RestApi": (*_APIGATEWAY, "apigateway:UpdateRestApiPolicy"),
    "aws:apigateway/stage:Stage": _APIGATEWAY,
    "aws:apigateway/usagePlan:UsagePlan": _APIGATEWAY,
    "aws:apigateway/usagePlanKey:UsagePlanKey": _APIGATEWAY,
    # A REST VPC link is a PrivateLink endpoint service on the NLB, made with the caller's rights.
    "aws:apigateway/vpcLink:VpcLink": (
        *_APIGATEWAY, "ec2:CreateVpcEndpointServiceConfiguration",
        "ec2:DeleteVpcEndpointServiceConfigurations",
        "ec2:DescribeVpcEndpointServiceConfigurations",
        "ec2:ModifyVpcEndpointServicePermissions", "elasticloadbalancing:AddTags",
        "elasticloadbalancing:DescribeLoadBalancers"),
    # API Gateway (HTTP)
    "aws:apigatewayv2/api:Api": _APIGATEWAY,
    "aws:apigatewayv2/apiMapping:ApiMapping": _APIGATEWAY,
    "aws:apigatewayv2/authorizer:Authorizer": _APIGATEWAY,
    "aws:apigatewayv2/domainName:DomainName": _APIGATEWAY,
    "aws:apigatewayv2/integration:Integration": _APIGATEWAY,
    "aws:apigatewayv2/route:Route": _APIGATEWAY,
    "aws:apigatewayv2/stage:Stage": _APIGATEWAY,
    # An HTTP VPC link puts network interfaces in the subnets, through a service-linked role.
    "aws:apigatewayv2/vpcLink:VpcLink": (*_APIGATEWAY, *_VPC_ENIS, *_EC2_TAGS,
                                         *_SERVICE_LINKED_ROLE),
    # Application Auto Scaling checks and drives the scaled resource with the caller's rights,
    # and keeps target tracking alarms in CloudWatch.
    "aws:appautoscaling/policy:Policy": (
        "application-autoscaling:PutScalingPolicy",
        "application-autoscaling:DescribeScalingPolicies",
        "application-autoscaling:DeleteScalingPolicy", "cloudwatch:DescribeAlarms",
        "cloudwatch:PutMetricAlarm", "cloudwatch:DeleteAlarms"),
    "aws:appautoscaling/target:Target": (
        "application-autoscaling:RegisterScalableTarget",
        "application-autoscaling:DescribeScalableTargets",
        "application-autoscaling:DeregisterScalableTarget",
        "application-autoscaling:TagResource", "application-autoscaling:UntagResource",
        "application-autoscaling:ListTagsForResource", "ecs:DescribeServices",
        "ecs:UpdateService", "dynamodb:DescribeTable", "dynamodb:UpdateTable",
        "cloudwatch:DescribeAlarms", "cloudwatch:PutMetricAlarm", "cloudwatch:DeleteAlarms",
        *_SERVICE_LINKED_ROLE),
    # CloudFront. A distribution names its policies, its origin access control and (in prod)
    # a global web ACL, which CloudFront checks with the caller's permissions.
    "aws:cloudfront/distribution:Distribution": (
        "cloudfront:CreateDistribution", "cloudfront:GetDistribution",
        "cloudfront:GetDistributionConfig", "cloudfront:UpdateDistribution",
        "cloudfront:DeleteDistribution", "cloudfront:TagResource", "cloudfront:UntagResource",
        "cloudfront:ListTagsForResource", "cloudfront:GetOriginAccessControl",
        "cloudfront:GetResponseHeadersPolicy", "cloudfront:GetOriginRequestPolicy",
        "cloudfront:GetCachePolicy", "wafv2:GetWebACL"),
    "aws:cloudfront/originAccessControl:OriginAccessControl": (
        "cloudfront:CreateOriginAccessControl", "cloudfront:GetOriginAccessControl",
        "cloudfront:UpdateOriginAccessControl", "cloudfront:DeleteOriginAccessControl"),
    "aws:cloudfront/originRequestPolicy:OriginRequestPolicy": (
        "cloudfront:CreateOriginRequestPolicy", "cloudfront:GetOriginRequestPolicy",
        "cloudfront:UpdateOriginRequestPolicy", "cloudfront:DeleteOriginRequestPolicy"),
    "aws:cloudfront/responseHeadersPolicy:ResponseHeadersPolicy": (
        "cloudfront:CreateResponseHeadersPolicy", "cloudfront:GetResponseHeadersPolicy",
        "cloudfront:UpdateResponseHeadersPolicy", "cloudfront:DeleteResponseHeadersPolicy"),
    # CloudWatch, CloudWatch Logs and EventBridge
    "aws:cloudwatch/dashboard:Dashboard": (
        "cloudwatch:PutDashboard", "cloudwatch:GetDashboard", "cloudwatch:DeleteDashboards"),
    "aws:cloudwatch/eventArchive:EventArchive": (
        "events:CreateArchive", "events:DescribeArchive", "events:UpdateArchive",
        "events:DeleteArchive"),
    "aws:cloudwatch/eventBus:EventBus": (
        "events:CreateEventBus", "events:DescribeEventBus", "events:UpdateEventBus",
        "events:DeleteEventBus", "events:TagResource", "events:UntagResource",
        "events:ListTagsForResource"),
    "aws:cloudwatch/eventRule:EventRule": (
        "events:PutRule", "events:DescribeRule", "events:DeleteRule", "events:EnableRule",
        "events:DisableRule", "events:ListTargetsByRule", "events:TagResource",
        "events:UntagResource", "events:ListTagsForResource"),
    "aws:cloudwatch/eventTarget:EventTarget": (
        "events:PutTargets", "events:RemoveTargets", "events:ListTargetsByRule"),
    "aws:cloudwatch/logDelivery:LogDelivery": (
        "logs:CreateDelivery", "logs:GetDelivery", "logs:UpdateDeliveryConfiguration",
        "logs:DeleteDelivery", "logs:TagResource", "logs:UntagResource",
        "logs:ListTagsForResource", "logs:GetDeliverySource", "logs:GetDeliveryDestination",
        *_VENDED_LOGS),
    "aws:cloudwatch/logDeliveryDestination:LogDeliveryDestination": (
        "logs:PutDeliveryDestination", "logs:GetDeliveryDestination",
        "logs:DeleteDeliveryDestination", "logs:TagResource", "logs:UntagResource",
        "logs:ListTagsForResource"),
    # The source is a CloudFront distribution's access logs.
    "aws:cloudwatch/logDeliverySource:LogDeliverySource": (
        "logs:PutDeliverySource", "logs:GetDeliverySource", "logs:DeleteDeliverySource",
        "logs:TagResource", "logs:UntagResource", "logs:ListTagsForResource",
        "cloudfront:AllowVendedLogDeliveryForResource"),
    "aws:cloudwatch/logGroup:LogGroup": (
        "logs:CreateLogGroup", "logs:DescribeLogGroups", "logs:DeleteLogGroup",
        "logs:PutRetentionPolicy", "logs:DeleteRetentionPolicy", "logs:AssociateKmsKey",
        "logs:DisassociateKmsKey", "logs:TagResource", "logs:UntagResource",
        "logs:ListTagsForResource"),
    "aws:cloudwatch/metricAlarm:MetricAlarm": (
        "cloudwatch:PutMetricAlarm", "cloudwatch:DescribeAlarms", "cloudwatch:DeleteAlarms",
        "cloudwatch:TagResource", "cloudwatch:UntagResource",
        "cloudwatch:ListTagsForResource"),
    # Cognito
    "aws:cognito/userGroup:UserGroup": (
        "cognito-idp:CreateGroup", "cognito-idp:GetGroup", "cognito-idp:UpdateGroup",
        "cognito-idp:DeleteGroup"),
    "aws:cognito/userPool:UserPool": (
        "cognito-idp:CreateUserPool", "cognito-idp:DescribeUserPool",
        "cognito-idp:UpdateUserPool", "cognito-idp:DeleteUserPool",
        "cognito-idp:GetUserPoolMfaConfig", "cognito-idp:SetUserPoolMfaConfig",
        "cognito-idp:TagResource", "cognito-idp:UntagResource",
        "cognito-idp:ListTagsForResource"),
    "aws:cognito/userPoolClient:UserPoolClient": (
        "cognito-idp:CreateUserPoolClient", "cognito-idp:DescribeUserPoolClient",
        "cognito-idp:UpdateUserPoolClient", "cognito-idp:DeleteUserPoolClient"),
    # DAX. Creating a cluster reads the role it is given (iam:GetRole besides iam:PassRole).
    "aws:dax/cluster:Cluster": (
        "dax:CreateCluster", "dax:DescribeClusters", "dax:UpdateCluster", "dax:DeleteCluster",
        "dax:IncreaseReplicationFactor", "dax:DecreaseReplicationFactor", "dax:TagResource",
        "dax:UntagResource", "dax:ListTags", "iam:GetRole", *_SERVICE_LINKED_ROLE),
    "aws:dax/parameterGroup:ParameterGroup": (
        "dax:CreateParameterGroup", "dax:DescribeParameterGroups", "dax:DescribeParameters",
        "dax:UpdateParameterGroup", "dax:DeleteParameterGroup"),
    "aws:dax/subnetGroup:SubnetGroup": (
        "dax:CreateSubnetGroup", "dax:DescribeSubnetGroups", "dax:UpdateSubnetGroup",
        "dax:DeleteSubnetGroup"),
    # DynamoDB
    "aws:dynamodb/table:Table": (
        "dynamodb:CreateTable", "dynamodb:DescribeTable", "dynamodb:UpdateTable",
        "dynamodb:DeleteTable", "dynamodb:DescribeContinuousBackups",
        "dynamodb:UpdateContinuousBackups", "dynamodb:DescribeTimeToLive",
        "dynamodb:UpdateTimeToLive", "dynamodb:TagResource", "dynamodb:UntagResource",
        "dynamodb:ListTagsOfResource", *_KMS_GRANT),
    # The seed items the program writes: the only DynamoDB data-plane calls a deploy makes.
    "aws:dynamodb/tableItem:TableItem": (
        "dynamodb:PutItem", "dynamodb:GetItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"),
    # EC2 and VPC
    "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup": (
        "ec2:DescribeSecurityGroups", *_SECURITY_GROUP_RULES),
    "aws:ec2/eip:Eip": (
        "ec2:AllocateAddress", "ec2:DescribeAddresses", "ec2:DescribeAddressesAttribute",
        "ec2:DisassociateAddress", "ec2:ReleaseAddress", *_EC2_TAGS),
    "aws:ec2/flowLog:FlowLog": (
        "ec2:CreateFlowLogs", "ec2:DescribeFlowLogs", "ec2:DeleteFlowLogs", *_EC2_TAGS),
    "aws:ec2/internetGateway:InternetGateway": (
        "ec2:CreateInternetGateway", "ec2:DescribeInternetGateways",
        "ec2:AttachInternetGateway", "ec2:DetachInternetGateway",
        "ec2:DeleteInternetGateway", *_EC2_TAGS),
    "aws:ec2/managedPrefixList:ManagedPrefixList": (
        "ec2:CreateManagedPrefixList", "ec2:DescribeManagedPrefixLists",
        "ec2:GetManagedPrefixListEntries", "ec2:ModifyManagedPrefixList",
        "ec2:DeleteManagedPrefixList", *_EC2_TAGS),
    "aws:ec2/natGateway:NatGateway": (
        "ec2:CreateNatGateway", "ec2:DescribeNatGateways", "ec2:DeleteNatGateway",
        *_EC2_TAGS),
    "aws:ec2/route:Route": (
        "ec2:CreateRoute", "ec2:ReplaceRoute", "ec2:DeleteRoute", "ec2:DescribeRouteTables"),
    "aws:ec2/routeTable:RouteTable": (
        "ec2:CreateRouteTable", "ec2:DescribeRouteTables", "ec2:DeleteRouteTable",
        "ec2:CreateRoute", "ec2:ReplaceRoute", "ec2:DeleteRoute", *_EC2_TAGS),
    "aws:ec2/routeTableAssociation:RouteTableAssociation": (
        "ec2:AssociateRouteTable", "ec2:DisassociateRouteTable",
        "ec2:ReplaceRouteTableAssociation", "ec2:DescribeRouteTables"),
    "aws:ec2/securityGroup:SecurityGroup": (
        "ec2:CreateSecurityGroup", "ec2:DescribeSecurityGroups", "ec2:DeleteSecurityGroup",
        *_SECURITY_GROUP_RULES, *_LINGERING_ENIS),
    "aws:ec2/subnet:Subnet": (
        "ec2:CreateSubnet", "ec2:DescribeSubnets", "ec2:ModifySubnetAttribute",
        "ec2:DeleteSubnet", *_EC2_TAGS, *_LINGERING_ENIS),
    # Reading a VPC reads its main route table, default security group and network ACL.
    "aws:ec2/vpc:Vpc": (
        "ec2:CreateVpc", "ec2:DescribeVpcs", "ec2:DescribeVpcAttribute",
        "ec2:ModifyVpcAttribute", "ec2:DeleteVpc", "ec2:DescribeRouteTables",
        "ec2:DescribeSecurityGroups", "ec2:DescribeNetworkAcls", *_EC2_TAGS),
    # Private DNS on an interface endpoint associates the VPC with a hidden hosted zone.
    "aws:ec2/vpcEndpoint:VpcEndpoint": (
        "ec2:CreateVpcEndpoint", "ec2:DescribeVpcEndpoints", "ec2:ModifyVpcEndpoint",
        "ec2:DeleteVpcEndpoints", "ec2:DescribePrefixLists", "ec2:DescribeVpcEndpointServices",
        "route53:AssociateVPCWithHostedZone", *_EC2_TAGS),
    "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule": _SECURITY_GROUP_RULES,
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule": _SECURITY_GROUP_RULES,
    # ECR. A KMS-encrypted repository holds a grant on the key; force_delete empties it.
    "aws:ecr/lifecyclePolicy:LifecyclePolicy": (
        "ecr:PutLifecyclePolicy", "ecr:GetLifecyclePolicy", "ecr:DeleteLifecyclePolicy"),
    "aws:ecr/repository:Repository": (
        "ecr:CreateRepository", "ecr:DescribeRepositories", "ecr:DeleteRepository",
        "ecr:BatchDeleteImage", "ecr:PutImageTagMutability",
        "ecr:PutImageScanningConfiguration", "ecr:TagResource", "ecr:UntagResource",
        "ecr:ListTagsForResource", *_KMS_GRANT, "kms:RetireGrant"),
    "aws:ecr/repositoryPolicy:RepositoryPolicy": (
        "ecr:SetRepositoryPolicy", "ecr:GetRepositoryPolicy", "ecr:DeleteRepositoryPolicy"),
    # ECS
    "aws:ecs/cluster:Cluster": (
        "ecs:CreateCluster", "ecs:DescribeClusters", "ecs:UpdateCluster",
        "ecs:UpdateClusterSettings", "ecs:DeleteCluster", "ecs:TagResource",
        "ecs:UntagResource", "ecs:ListTagsForResource", *_SERVICE_LINKED_ROLE),
    "aws:ecs/service:Service": (
        "ecs:CreateService", "ecs:DescribeServices", "ecs:UpdateService", "ecs:DeleteService",
        "ecs:TagResource", "ecs:UntagResource", "ecs:ListTagsForResource",
        *_SERVICE_LINKED_ROLE),
    "aws:ecs/taskDefinition:TaskDefinition": (
        "ecs:RegisterTaskDefinition", "ecs:DescribeTaskDefinition",
        "ecs:DeregisterTaskDefinition", "ecs:TagResource", "ecs:UntagResource",
        "ecs:ListTagsForResource"),
    # ElastiCache Serverless makes its VPC endpoints and its key grant with the caller's rights.
    "aws:elasticache/serverlessCache:ServerlessCache": (
        "elasticache:CreateServerlessCache", "elasticache:DescribeServerlessCaches",
        "elasticache:ModifyServerlessCache", "elasticache:DeleteServerlessCache",
        "elasticache:AddTagsToResource", "elasticache:RemoveTagsFromResource",
        "elasticache:ListTagsForResource", "ec2:CreateVpcEndpoint", "ec2:ModifyVpcEndpoint",
        "ec2:DeleteVpcEndpoints", "ec2:DescribeVpcEndpoints", "ec2:DescribeSubnets",
        "ec2:DescribeVpcs", "ec2:DescribeSecurityGroups", *_EC2_TAGS, *_KMS_GRANT,
        *_SERVICE_LINKED_ROLE),
    "aws:elasticache/user:User": (
        "elasticache:CreateUser", "elasticache:DescribeUsers", "elasticache:ModifyUser",
        "elasticache:DeleteUser", "elasticache:AddTagsToResource",
        "elasticache:RemoveTagsFromResource", "elasticache:ListTagsForResource"),
    "aws:elasticache/userGroup:UserGroup": (
        "elasticache:CreateUserGroup", "elasticache:DescribeUserGroups",
        "elasticache:ModifyUserGroup", "elasticache:DeleteUserGroup",
        "elasticache:AddTagsToResource", "elasticache:RemoveTagsFromResource",
        "elasticache:ListTagsForResource"),
    # IAM. Deleting a role detaches its policies and instance profiles first.
    "aws:iam/role:Role": (
        "iam:CreateRole", "iam:GetRole", "iam:UpdateRole", "iam:UpdateRoleDescription",
        "iam:UpdateAssumeRolePolicy", "iam:DeleteRole", "iam:TagRole", "iam:UntagRole",
        "iam:ListRoleTags", "iam:ListRolePolicies", "iam:GetRolePolicy",
        "iam:DeleteRolePolicy", "iam:ListAttachedRolePolicies", "iam:DetachRolePolicy",
        "iam:ListInstanceProfilesForRole", "iam:RemoveRoleFromInstanceProfile"),
    "aws:iam/rolePolicy:RolePolicy": (
        "iam:PutRolePolicy", "iam:GetRolePolicy", "iam:DeleteRolePolicy"),
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment": (
        "iam:AttachRolePolicy", "iam:DetachRolePolicy", "iam:ListAttachedRolePolicies"),
    # KMS
    "aws:kms/alias:Alias": (
        "kms:CreateAlias", "kms:UpdateAlias", "kms:DeleteAlias", "kms:ListAliases"),
    "aws:kms/key:Key": (
        "kms:CreateKey", "kms:DescribeKey", "kms:GetKeyPolicy", "kms:PutKeyPolicy",
        "kms:GetKeyRotationStatus", "kms:EnableKeyRotation", "kms:DisableKeyRotation",
        "kms:UpdateKeyDescription", "kms:EnableKey", "kms:DisableKey",
        "kms:ScheduleKeyDeletion", "kms:ListResourceTags", "kms:TagResource",
        "kms:UntagResource"),
    # Lambda
    "aws:lambda/alias:Alias": (
        "lambda:CreateAlias", "lambda:GetAlias", "lambda:UpdateAlias", "lambda:DeleteAlias"),
    "aws:lambda/eventSourceMapping:EventSourceMapping": (
        "lambda:CreateEventSourceMapping", "lambda:GetEventSourceMapping",
        "lambda:UpdateEventSourceMapping", "lambda:DeleteEventSourceMapping",
        "lambda:TagResource", "lambda:UntagResource", "lambda:ListTags"),
    # Besides the function itself: the layers it names (Powertools is another account's), the
    # image it runs (Lambda reads it and sets the repository policy with the caller's rights),
    # its VPC, and its environment encrypted with the environment's key (Lambda encrypts and
    # decrypts it with the caller's rights, so reading the function back needs kms:Decrypt).
    "aws:lambda/function:Function": (
        "lambda:CreateFunction", "lambda:GetFunction", "lambda:GetFunctionConfiguration",
        "lambda:GetFunctionCodeSigningConfig", "lambda:ListVersionsByFunction",
        "lambda:UpdateFunctionCode", "lambda:UpdateFunctionConfiguration",
        "lambda:PublishVersion", "lambda:DeleteFunction", "lambda:TagResource",
        "lambda:UntagResource", "lambda:ListTags", "lambda:PutFunctionConcurrency",
        "lambda:DeleteFunctionConcurrency", "lambda:GetFunctionConcurrency",
        "lambda:GetRuntimeManagementConfig", "lambda:PutRuntimeManagementConfig",
        "lambda:GetFunctionRecursionConfig", "lambda:PutFunctionRecursionConfig",
        "lambda:GetLayerVersion", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer",
        "ecr:GetRepositoryPolicy", "ecr:SetRepositoryPolicy", "ec2:DescribeSecurityGroups",
        "ec2:DescribeSubnets", "ec2:DescribeVpcs", "kms:Encrypt", "kms:Decrypt",
        *_KMS_GRANT),
    "aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig": (
        "lambda:PutFunctionEventInvokeConfig", "lambda:GetFunctionEventInvokeConfig",
        "lambda:UpdateFunctionEventInvokeConfig", "lambda:DeleteFunctionEventInvokeConfig"),
    "aws:lambda/layerVersion:LayerVersion": (
        "lambda:PublishLayerVersion", "lambda:GetLayerVersion", "lambda:DeleteLayerVersion"),
    "aws:lambda/permission:Permission": (
        "lambda:AddPermission", "lambda:GetPolicy", "lambda:RemovePermission"),
    "aws:lambda/provisionedConcurrencyConfig:ProvisionedConcurrencyConfig": (
        "lambda:PutProvisionedConcurrencyConfig", "lambda:GetProvisionedConcurrencyConfig",
        "lambda:DeleteProvisionedConcurrencyConfig"),
    # Elastic Load Balancing. Deleting a load balancer waits for its network interfaces.
    "aws:lb/listener:Listener": (
        "elasticloadbalancing:CreateListener", "elasticloadbalancing:DescribeListeners",
        "elasticloadbalancing:ModifyListener", "elasticloadbalancing:DeleteListener",
        "elasticloadbalancing:DescribeListenerAttributes",
        "elasticloadbalancing:ModifyListenerAttributes", *_ELB_TAGS),
    "aws:lb/listenerRule:ListenerRule": (
        "elasticloadbalancing:CreateRule", "elasticloadbalancing:DescribeRules",
        "elasticloadbalancing:ModifyRule", "elasticloadbalancing:SetRulePriorities",
        "elasticloadbalancing:DeleteRule", *_ELB_TAGS),
    "aws:lb/loadBalancer:LoadBalancer": (
        "elasticloadbalancing:CreateLoadBalancer", "elasticloadbalancing:DescribeLoadBalancers",
        "elasticloadbalancing:DescribeLoadBalancerAttributes",
        "elasticloadbalancing:ModifyLoadBalancerAttributes",
        "elasticloadbalancing:SetSecurityGroups", "elasticloadbalancing:SetSubnets",
        "elasticloadbalancing:SetIpAddressType", "elasticloadbalancing:DeleteLoadBalancer",
        *_ELB_TAGS, *_LINGERING_ENIS, *_SERVICE_LINKED_ROLE),
    "aws:lb/targetGroup:TargetGroup": (
        "elasticloadbalancing:CreateTargetGroup", "elasticloadbalancing:DescribeTargetGroups",
        "elasticloadbalancing:DescribeTargetGroupAttributes",
        "elasticloadbalancing:ModifyTargetGroup",
        "elasticloadbalancing:ModifyTargetGroupAttributes",
        "elasticloadbalancing:DeleteTargetGroup", *_ELB_TAGS),
    # Route 53 Resolver: endpoints are network interfaces; query logs are vended logs.
    "aws:route53/resolverEndpoint:ResolverEndpoint": (
        "route53resolver:CreateResolverEndpoint", "route53resolver:GetResolverEndpoint",
        "route53resolver:UpdateResolverEndpoint", "route53resolver:DeleteResolverEndpoint",
        "route53resolver:ListResolverEndpointIpAddresses",
        "route53resolver:AssociateResolverEndpointIpAddress",
        "route53resolver:DisassociateResolverEndpointIpAddress",
        "route53resolver:TagResource", "route53resolver:UntagResource",
        "route53resolver:ListTagsForResource", *_VPC_ENIS,
        "ec2:ModifyNetworkInterfaceAttribute", "ec2:DescribeAvailabilityZones"),
    "aws:route53/resolverQueryLogConfig:ResolverQueryLogConfig": (
        "route53resolver:CreateResolverQueryLogConfig",
        "route53resolver:GetResolverQueryLogConfig",
        "route53resolver:DeleteResolverQueryLogConfig", "route53resolver:TagResource",
        "route53resolver:UntagResource", "route53resolver:ListTagsForResource",
        *_VENDED_LOGS),
    "aws:route53/resolverQueryLogConfigAssociation:ResolverQueryLogConfigAssociation": (
        "route53resolver:AssociateResolverQueryLogConfig",
        "route53resolver:GetResolverQueryLogConfigAssociation",
        "route53resolver:DisassociateResolverQueryLogConfig"),
    # S3. Removing a bucket's configuration is its Put action in IAM.
    "aws:s3/accessPoint:AccessPoint": (
        "s3:CreateAccessPoint", "s3:GetAccessPoint", "s3:DeleteAccessPoint",
        "s3:GetAccessPointPolicy", "s3:PutAccessPointPolicy", "s3:DeleteAccessPointPolicy",
        "s3:GetAccessPointPolicyStatus"),
    "aws:s3/bucket:Bucket": (
        "s3:CreateBucket", "s3:ListBucket", "s3:DeleteBucket", "s3:GetBucketAcl",
        "s3:GetBucketCORS", "s3:GetBucketWebsite", "s3:GetBucketVersioning",
        "s3:GetAccelerateConfiguration", "s3:GetBucketRequestPayment", "s3:GetBucketLogging",
        "s3:GetLifecycleConfiguration", "s3:GetReplicationConfiguration",
        "s3:GetEncryptionConfiguration", "s3:GetBucketObjectLockConfiguration",
        "s3:GetBucketPolicy", "s3:GetBucketTagging", "s3:PutBucketTagging"),
    "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration": (
        "s3:PutLifecycleConfiguration", "s3:GetLifecycleConfiguration"),
    "aws:s3/bucketNotification:BucketNotification": (
        "s3:PutBucketNotification", "s3:GetBucketNotification"),
    # The objects the program uploads (site files, the mTLS truststore) into SSE-S3 buckets;
    # deleting one deletes each of its versions.
    "aws:s3/bucketObjectv2:BucketObjectv2": (
        "s3:PutObject", "s3:GetObject", "s3:GetObjectTagging", "s3:PutObjectTagging",
        "s3:DeleteObject", "s3:DeleteObjectVersion", "s3:ListBucketVersions"),
    "aws:s3/bucketOwnershipControls:BucketOwnershipControls": (
        "s3:PutBucketOwnershipControls", "s3:GetBucketOwnershipControls"),
    "aws:s3/bucketPolicy:BucketPolicy": (
        "s3:PutBucketPolicy", "s3:GetBucketPolicy", "s3:DeleteBucketPolicy"),
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock": (
        "s3:PutBucketPublicAccessBlock", "s3:GetBucketPublicAccessBlock"),
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration": (
        "s3:PutEncryptionConfiguration", "s3:GetEncryptionConfiguration"),
    "aws:s3/bucketVersioning:BucketVersioning": (
        "s3:PutBucketVersioning", "s3:GetBucketVersioning"),
    "aws:s3control/objectLambdaAccessPoint:ObjectLambdaAccessPoint": _OBJECT_LAMBDA_ACCESS_POINT,
    "aws:s3control/objectLambdaAccessPointPolicy:ObjectLambdaAccessPointPolicy": (
        "s3:PutAccessPointPolicyForObjectLambda", "s3:GetAccessPointPolicyForObjectLambda",
        "s3:DeleteAccessPointPolicyForObjectLambda",
        "s3:GetAccessPointPolicyStatusForObjectLambda"),
    # EventBridge Scheduler
    "aws:scheduler/schedule:Schedule": (
        "scheduler:CreateSchedule", "scheduler:GetSchedule", "scheduler:UpdateSchedule",
        "scheduler:DeleteSchedule"),
    # Cloud Map keeps a private namespace as a Route 53 private hosted zone.
    "aws:servicediscovery/privateDnsNamespace:PrivateDnsNamespace": (
        "servicediscovery:CreatePrivateDnsNamespace", "servicediscovery:GetNamespace",
        "servicediscovery:UpdatePrivateDnsNamespace", "servicediscovery:DeleteNamespace",
        "servicediscovery:GetOperation", "servicediscovery:TagResource",
        "servicediscovery:UntagResource", "servicediscovery:ListTagsForResource",
        "route53:CreateHostedZone", "route53:GetHostedZone", "route53:ListHostedZonesByName",
        "route53:ChangeResourceRecordSets", "route53:DeleteHostedZone", "ec2:DescribeVpcs"),
    # SES (v2 API, IAM prefix ses)
    "aws:sesv2/configurationSet:ConfigurationSet": (
        "ses:CreateConfigurationSet", "ses:GetConfigurationSet", "ses:DeleteConfigurationSet",
        "ses:PutConfigurationSetDeliveryOptions", "ses:PutConfigurationSetReputationOptions",
        "ses:PutConfigurationSetSendingOptions", "ses:PutConfigurationSetSuppressionOptions",
        "ses:PutConfigurationSetTrackingOptions", "ses:PutConfigurationSetVdmOptions",
        "ses:TagResource", "ses:UntagResource", "ses:ListTagsForResource"),
    # Step Functions
    "aws:sfn/stateMachine:StateMachine": (
        "states:CreateStateMachine", "states:DescribeStateMachine", "states:UpdateStateMachine",
        "states:DeleteStateMachine", "states:ListStateMachineVersions", "states:TagResource",
        "states:UntagResource", "states:ListTagsForResource"),
    # SNS and SQS
    "aws:sns/topic:Topic": (
        "sns:CreateTopic", "sns:GetTopicAttributes", "sns:SetTopicAttributes",
        "sns:DeleteTopic", "sns:TagResource", "sns:UntagResource",
        "sns:ListTagsForResource"),
    "aws:sns/topicPolicy:TopicPolicy": ("sns:SetTopicAttributes", "sns:GetTopicAttributes"),
    "aws:sns/topicSubscription:TopicSubscription": (
        "sns:Subscribe", "sns:Unsubscribe", "sns:GetSubscriptionAttributes",
        "sns:SetSubscriptionAttributes"),
    "aws:sqs/queue:Queue": (
        "sqs:CreateQueue", "sqs:GetQueueUrl", "sqs:GetQueueAttributes", "sqs:SetQueueAttributes",
        "sqs:DeleteQueue", "sqs:TagQueue", "sqs:UntagQueue", "sqs:ListQueueTags"),
    "aws:sqs/queuePolicy:QueuePolicy": ("sqs:SetQueueAttributes", "sqs:GetQueueAttributes"),
    "aws:sqs/redriveAllowPolicy:RedriveAllowPolicy": (
        "sqs:SetQueueAttributes", "sqs:GetQueueAttributes"),
    # WAF. Associating with a REST API stage is also API Gateway's SetWebACL; logging to
    # CloudWatch Logs is a vended log delivery.
    "aws:wafv2/webAcl:WebAcl": (
        "wafv2:CreateWebACL", "wafv2:GetWebACL", "wafv2:UpdateWebACL", "wafv2:DeleteWebACL",
        "wafv2:TagResource", "wafv2:UntagResource", "wafv2:ListTagsForResource"),
    "aws:wafv2/webAclAssociation:WebAclAssociation": (
        "wafv2:AssociateWebACL", "wafv2:DisassociateWebACL", "wafv2:GetWebACLForResource",
        "wafv2:GetWebACL", "apigateway:SetWebACL"),
    "aws:wafv2/webAclLoggingConfiguration:WebAclLoggingConfiguration": (
        "wafv2:PutLoggingConfiguration", "wafv2:GetLoggingConfiguration",
        "wafv2:DeleteLoggingConfiguration", *_VENDED_LOGS),
    # docker-build pushes the images the container services run to their ECR repositories.
    "docker-build:index:Image": _ECR_PUSH,
}

DEPLOY_ACTIONS: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {token: tuple(sorted(set(actions))) for token, actions in _ACTIONS.items()})


def deploy_actions(types: Iterable[str]) -> tuple[str, ...]:
    """The actions to deploy resources of ``types`` (Pulumi type tokens), sorted, each once;
    a ``ValueError`` names the types that have no entry."""
    wanted = set(types)
    unknown = sorted(wanted - DEPLOY_ACTIONS.keys())
    if unknown:
        raise ValueError(f"no deploy actions for: {', '.join(unknown)}")
    return tuple(sorted({action for token in wanted for action in DEPLOY_ACTIONS[token]}))


def all_deploy_actions() -> tuple[str, ...]:
    """The actions to deploy every type in ``DEPLOY_ACTIONS``."""
    return deploy_actions(DEPLOY_ACTIONS)


def by_service(actions: Iterable[str]) -> dict[str, tuple[str, ...]]:
    """``actions`` grouped by their IAM service prefix (``lambda`` for ``lambda:GetFunction``),
    each group sorted and de-duplicated: one policy statement per service."""
    grouped: dict[str, set[str]] = {}
    for action in actions:
        grouped.setdefault(action.split(":", 1)[0], set()).add(action)
    return {service: tuple(sorted(found)) for service, found in sorted(grouped.items())}
