"""Runs the real Pulumi program, or any piece of it, under the SDK's mock runtime.

The tests and the offline plan share this module. It reads stack files the way the Pulumi CLI
does (project defaults from ``Pulumi.yaml``, then ``Pulumi.<stack>.yaml``), hands the config to
the program, answers every resource registration and provider call with realistic ids, ARNs and
URLs, and records what was declared: type, name, parent, provider, options and inputs.

``secure:`` values are never decrypted. The program gets a marked placeholder in their place,
flagged secret, so ``Config.get_secret`` returns a secret ``Output`` just as in a real run.
"""

from __future__ import annotations

import asyncio
import contextvars
import gc
import hashlib
import json
import logging
import re
import runpy
import sys
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
import yaml
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime import resource as pulumi_resource
from pulumi.runtime import rpc
from pulumi.runtime import settings as pulumi_settings
from pulumi.runtime import stack as pulumi_stack
from pulumi.runtime.config import set_all_config
from pulumi.runtime.proto import source_pb2
from pulumi.runtime.stack import run_in_stack

from components.config import ConfigError

ROOT = Path(__file__).resolve().parents[1]
SECRET_PLACEHOLDER = "offline-placeholder-for-a-secure-value"  # noqa: S105 (not a secret)
DEFAULT_ACCOUNT = "000000000000"
DEFAULT_REGION = "eu-west-1"


class PlanError(Exception):
    """The stack cannot be planned: a missing stack file, or a broken stack-level rule."""


@dataclass(frozen=True)
class Secret:
    """A value the program marked secret. It never prints."""

    value: Any

    def __repr__(self) -> str:
        return "[secret]"


@dataclass(frozen=True)
class Resource:
    """One resource registration, as the engine would have received it."""

    urn: str
    type: str
    name: str
    custom: bool
    parent: str | None
    provider: str | None
    id: str | None
    inputs: Mapping[str, Any]
    state: Mapping[str, Any]
    protect: bool
    retain_on_delete: bool
    dependencies: tuple[str, ...]
    property_dependencies: Mapping[str, tuple[str, ...]]

    @property
    def provider_urn(self) -> str | None:
        """Provider references are ``<urn>::<id>``; this is the urn part."""
        return self.provider.rsplit("::", 1)[0] if self.provider else None


@dataclass
class StackRun:
    """Everything one run of the program declared."""

    stack: str
    resources: list[Resource]
    outputs: dict[str, Any]
    warnings: list[str] = field(default_factory=list)

    def of_type(self, type_: str) -> list[Resource]:
        return [r for r in self.resources if r.type == type_]

    def one(self, type_: str, name: str | None = None) -> Resource:
        """The single resource of a type (and name); fails loudly when there are more or none."""
        found = [r for r in self.of_type(type_) if name is None or r.name == name]
        if len(found) != 1:
            names = sorted(r.name for r in self.of_type(type_))
            raise LookupError(f"expected one {type_} named {name!r}, found {len(found)} "
                              f"among {names}")
        return found[0]

    def by_urn(self, urn: str) -> Resource:
        return next(r for r in self.resources if r.urn == urn)

    def children(self, parent: Resource) -> list[Resource]:
        return [r for r in self.resources if r.parent == parent.urn]

    def provider_of(self, resource: Resource) -> Resource | None:
        urn = resource.provider_urn
        return self.by_urn(urn) if urn else None

    def managed(self) -> Iterator[Resource]:
        """Resources a cloud provider manages: not components, providers or references."""
        return (r for r in self.resources
                if r.custom and not r.type.startswith(("pulumi:providers:", "pulumi:pulumi:")))


def unwrap_secrets(value: Any) -> Any:
    """Replaces the SDK's secret envelopes with ``Secret`` markers, all the way down."""
    if rpc.is_rpc_secret(value):
        return Secret(unwrap_secrets(rpc.unwrap_rpc_secret(value)))
    if isinstance(value, dict):
        return {k: unwrap_secrets(v) for k, v in value.items()}
    if isinstance(value, list):
        return [unwrap_secrets(v) for v in value]
    return value


# The largest magnitude below which every whole number is exactly a double.
_EXACT_INTEGERS = 2 ** 53


def whole_numbers(value: Any) -> Any:
    """Numbers as the program wrote them, after the protobuf ``Struct`` they crossed.

    A ``Struct`` carries every number as a double, so the engine (and the SDK's mock monitor)
    hands back ``128.0`` for the program's ``128``. The wire keeps no trace of the difference,
    and pulumi-aws itself decides by the property's schema type; here, a double with no
    fractional part (and small enough to be exact) is read back as an ``int``, and any other
    stays a ``float``. A float property the program gave a whole value (``threshold=80.0``)
    thus records as ``80``, the same number to JSON and to Python's ``==``.
    """
    if isinstance(value, float) and value.is_integer() and abs(value) < _EXACT_INTEGERS:
        return int(value)
    if isinstance(value, Secret):
        return Secret(whole_numbers(value.value))
    if isinstance(value, dict):
        return {k: whole_numbers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [whole_numbers(v) for v in value]
    return value


def reveal(value: Any) -> Any:
    """The plain value behind any ``Secret`` markers; for tests that assert on secret inputs."""
    if isinstance(value, Secret):
        return reveal(value.value)
    if isinstance(value, dict):
        return {k: reveal(v) for k, v in value.items()}
    if isinstance(value, list):
        return [reveal(v) for v in value]
    return value


# --- realistic answers ----------------------------------------------------------------------

def _digest(*parts: str, length: int = 17) -> str:
    return hashlib.sha256("/".join(parts).encode()).hexdigest()[:length]


# Prefixes of EC2-style ids, by type token.
_ID_PREFIXES = {
    "aws:ec2/vpc:Vpc": "vpc", "aws:ec2/subnet:Subnet": "subnet",
    "aws:ec2/securityGroup:SecurityGroup": "sg", "aws:ec2/internetGateway:InternetGateway": "igw",
    "aws:ec2/natGateway:NatGateway": "nat", "aws:ec2/eip:Eip": "eipalloc",
    "aws:ec2/routeTable:RouteTable": "rtb", "aws:ec2/vpcEndpoint:VpcEndpoint": "vpce",
    "aws:ec2/flowLog:FlowLog": "fl", "aws:ec2/managedPrefixList:ManagedPrefixList": "pl",
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule": "sgr",
    "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule": "sgr",
    "aws:servicediscovery/privateDnsNamespace:PrivateDnsNamespace": "ns",
}


class RecordingMocks(pulumi.runtime.Mocks):
    """Answers registrations and calls the way AWS would, in the stack's account and region."""

    def __init__(self, account_id: str, region: str,
                 stack_outputs: Mapping[str, Mapping[str, Any]] | None = None) -> None:
        self.account_id = account_id
        self.region = region
        self.stack_outputs = stack_outputs or {}
        self.provider_regions: dict[str, str] = {}

    def call(self, args: pulumi.runtime.MockCallArgs) -> dict:  # type: ignore[override]
        region = args.args.get("region") or self.region
        answers: dict[str, Callable[[], dict]] = {
            "aws:index/getCallerIdentity:getCallerIdentity": lambda: {
                "accountId": self.account_id, "id": self.account_id, "userId": "AROAOFFLINE:plan",
                "arn": f"arn:aws:sts::{self.account_id}:assumed-role/blueprints-deploy/plan"},
            "aws:index/getRegion:getRegion": lambda: {
                "id": region, "name": region, "region": region,
                "endpoint": f"ec2.{region}.amazonaws.com", "description": region},
            "aws:index/getPartition:getPartition": lambda: {
                "id": "aws", "partition": "aws", "dnsSuffix": "amazonaws.com",
                "reverseDnsPrefix": "com.amazonaws"},
            "aws:index/getAvailabilityZones:getAvailabilityZones": lambda: {
                "id": region, "names": [f"{region}{z}" for z in "abc"],
                "zoneIds": [f"{region[:3]}{region[-1]}-az{i}" for i in (1, 2, 3)],
                "groupNames": [region]},
            # Never a real credential: a plan pushes nothing.
            "aws:ecr/getAuthorizationToken:getAuthorizationToken": lambda: {
                "id": region, "userName": "AWS", "password": SECRET_PLACEHOLDER,
                "authorizationToken": SECRET_PLACEHOLDER, "expiresAt": "2099-01-01T00:00:00Z",
                "proxyEndpoint": f"https://{self.account_id}.dkr.ecr.{region}.amazonaws.com"},
        }
        if args.token not in answers:
            raise NotImplementedError(f"the offline runtime has no answer for {args.token}; "
                                      "add one to tools/mock_runtime.py")
        return answers[args.token]()

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str | None, dict]:
        if args.typ == "pulumi:pulumi:StackReference":
            return self._stack_reference(args.inputs["name"])
        if not args.custom and not args.resource_id:
            return f"{args.name}-component", dict(args.inputs)
        if args.typ == "docker-build:index:Image":
            # What the build would answer: a content digest, and the reference it was pushed as.
            digest = "sha256:" + _digest(args.typ, args.name, str(args.inputs.get("tags")),
                                         length=64)
            tags = args.inputs.get("tags") or []
            ref = f"{str(tags[0]).rsplit(':', 1)[0]}@{digest}" if tags else digest
            return digest, {**args.inputs, "digest": digest, "ref": ref}
        if args.typ.startswith("pulumi:providers:"):
            provider_id = _digest(args.typ, args.name, length=32)
            region = args.inputs.get("region")
            if isinstance(region, str):
                self.provider_regions[provider_id] = region
            return provider_id, dict(args.inputs)
        # A resource lives in its own region, else its provider's, else the stack's.
        provider_id = (args.provider or "").rsplit("::", 1)[-1]
        region = args.inputs.get("region") or self.provider_regions.get(provider_id, self.region)
        return self._cloud_resource(args.typ, args.name, dict(args.inputs), str(region))

    def _stack_reference(self, name: str) -> tuple[str, dict]:
        if name not in self.stack_outputs:
            raise PlanError(f"no outputs for stack reference {name!r}; plan that stack first or "
                            "pass its outputs")
        outputs = dict(self.stack_outputs[name])
        secret = [k for k, v in outputs.items() if isinstance(v, Secret)]
        return name, {"name": name, "outputs": reveal(outputs), "secretOutputNames": secret}

    def _cloud_resource(self, typ: str, name: str, state: dict,
                        region: str) -> tuple[str, dict]:
        _, module_path, kind = typ.split(":")
        service = module_path.split("/")[0]
        physical = state.get("name") or (state.get("namePrefix") or f"{name}-") + _digest(
            typ, name, length=7) + (".fifo" if state.get("fifoQueue") else "")
        account = self.account_id
        prefix = _ID_PREFIXES.get(typ)
        resource_id = f"{prefix}-{_digest(typ, name)}" if prefix else physical
        arn = f"arn:aws:{service}:{region}:{account}:{kind[0].lower() + kind[1:]}/{physical}"
        state.setdefault("name", physical)
        extra: dict[str, Any] = {}
        if prefix:
            arn = f"arn:aws:ec2:{region}:{account}:{kind.lower()}/{resource_id}"
        match typ:
            case "aws:iam/role:Role":
                arn = f"arn:aws:iam::{account}:role/{physical}"
                extra["uniqueId"] = f"AROA{_digest(typ, name).upper()}"
            case "aws:iam/policy:Policy":
                arn = f"arn:aws:iam::{account}:policy/{physical}"
            case "aws:lambda/function:Function":
                arn = f"arn:aws:lambda:{region}:{account}:function:{physical}"
                version = "1" if state.get("publish") else "$LATEST"
                extra = {"version": version, "qualifiedArn": f"{arn}:{version}",
                         "invokeArn": f"arn:aws:apigateway:{region}:lambda:path/2015-03-31/"
                                      f"functions/{arn}/invocations"}
            case "aws:lambda/alias:Alias":
                function = state.get("functionName", "function")
                arn = f"arn:aws:lambda:{region}:{account}:function:{function}:{physical}"
                extra["invokeArn"] = (f"arn:aws:apigateway:{region}:lambda:path/2015-03-31/"
                                      f"functions/{arn}/invocations")
            case "aws:cloudwatch/logGroup:LogGroup":
                arn = f"arn:aws:logs:{region}:{account}:log-group:{physical}"
            case "aws:sqs/queue:Queue":
                arn = f"arn:aws:sqs:{region}:{account}:{physical}"
                resource_id = f"https://sqs.{region}.amazonaws.com/{account}/{physical}"
                extra["url"] = resource_id
            case "aws:sesv2/configurationSet:ConfigurationSet":
                resource_id = str(state["configurationSetName"])
                arn = f"arn:aws:ses:{region}:{account}:configuration-set/{resource_id}"
            case "aws:sns/topic:Topic":
                arn = f"arn:aws:sns:{region}:{account}:{physical}"
                resource_id = arn
            case "aws:dynamodb/table:Table":
                arn = f"arn:aws:dynamodb:{region}:{account}:table/{physical}"
                if state.get("streamEnabled"):
                    extra["streamArn"] = f"{arn}/stream/2026-01-01T00:00:00.000"
                    extra["streamLabel"] = "2026-01-01T00:00:00.000"
            case "aws:s3/bucket:Bucket":
                # pulumi-aws lowercases an auto-named bucket (S3 refuses capitals).
                physical = state.get("bucket") or physical.lower()
                resource_id = physical
                arn = f"arn:aws:s3:::{physical}"
                extra = {"bucket": physical,
                         "bucketDomainName": f"{physical}.s3.amazonaws.com",
                         "bucketRegionalDomainName": f"{physical}.s3.{region}.amazonaws.com"}
            case "aws:lb/loadBalancer:LoadBalancer":
                short = "net" if state.get("loadBalancerType") == "network" else "app"
                suffix = f"{short}/{physical}/{_digest(typ, name, length=16)}"
                arn = f"arn:aws:elasticloadbalancing:{region}:{account}:loadbalancer/{suffix}"
                resource_id = arn
                internal = "internal-" if state.get("internal") and short == "app" else ""
                dns = (f"{internal}{physical}-{int(_digest(typ, name, length=8), 16)}"
                       f".{region}.elb.amazonaws.com" if short == "app" else
                       f"{physical}-{_digest(typ, name, length=16)}.elb.{region}.amazonaws.com")
                extra = {"arnSuffix": suffix, "dnsName": dns, "zoneId": "Z32O12XQLNTSW2"}
            case "aws:lb/targetGroup:TargetGroup":
                suffix = f"targetgroup/{physical}/{_digest(typ, name, length=16)}"
                arn = f"arn:aws:elasticloadbalancing:{region}:{account}:{suffix}"
                resource_id = arn
                extra = {"arnSuffix": suffix}
            case "aws:lb/listener:Listener" | "aws:lb/listenerRule:ListenerRule":
                parent = str(state.get("loadBalancerArn") or state.get("listenerArn") or "")
                kind_name = "listener" if typ.endswith(":Listener") else "listener-rule"
                arn = (re.sub(r":(loadbalancer|listener)/", f":{kind_name}/", parent, count=1)
                       + f"/{_digest(typ, name, length=16)}")
                resource_id = arn
            case "aws:s3/bucketObjectv2:BucketObjectv2":
                # Every object the stacks upload goes to a versioned bucket.
                extra = {"versionId": _digest(typ, name), "etag": _digest(typ, "etag", name)}
            case "aws:s3/accessPoint:AccessPoint":
                arn = f"arn:aws:s3:{region}:{account}:accesspoint/{physical}"
                extra["alias"] = f"{physical}-{_digest(typ, name)}-s3alias"
            case "aws:s3control/objectLambdaAccessPoint:ObjectLambdaAccessPoint":
                arn = f"arn:aws:s3-object-lambda:{region}:{account}:accesspoint/{physical}"
            case "aws:kms/key:Key":
                key_id = _uuid(typ, name)
                resource_id = key_id
                arn = f"arn:aws:kms:{region}:{account}:key/{key_id}"
                extra["keyId"] = key_id
            case "aws:kms/alias:Alias":
                arn = f"arn:aws:kms:{region}:{account}:{physical}"
            case "aws:ecs/cluster:Cluster":
                arn = f"arn:aws:ecs:{region}:{account}:cluster/{physical}"
            case "aws:ecs/taskDefinition:TaskDefinition":
                family = state.get("family", physical)
                arn = f"arn:aws:ecs:{region}:{account}:task-definition/{family}:1"
                resource_id = family
                extra = {"revision": 1, "arnWithoutRevision": arn.rsplit(":", 1)[0]}
            case "aws:ecr/repository:Repository":
                arn = f"arn:aws:ecr:{region}:{account}:repository/{physical}"
                extra = {"repositoryUrl": f"{account}.dkr.ecr.{region}.amazonaws.com/{physical}",
                         "registryId": account}
            case "aws:sfn/stateMachine:StateMachine":
                arn = f"arn:aws:states:{region}:{account}:stateMachine:{physical}"
                resource_id = arn
            case "aws:servicediscovery/privateDnsNamespace:PrivateDnsNamespace":
                arn = f"arn:aws:servicediscovery:{region}:{account}:namespace/{resource_id}"
                extra["hostedZone"] = f"Z{_digest(typ, name, length=20).upper()}"
            case "aws:apigateway/restApi:RestApi":
                resource_id = _digest(typ, name, length=10)
                arn = f"arn:aws:apigateway:{region}::/restapis/{resource_id}"
                extra = {"rootResourceId": _digest(typ, name, "root", length=10),
                         "executionArn": f"arn:aws:execute-api:{region}:{account}:{resource_id}"}
            case "aws:apigateway/stage:Stage":
                api, stage = state.get("restApi", "api"), state.get("stageName", name)
                arn = f"arn:aws:apigateway:{region}::/restapis/{api}/stages/{stage}"
                extra = {"invokeUrl": f"https://{api}.execute-api.{region}.amazonaws.com/{stage}",
                         "executionArn": f"arn:aws:execute-api:{region}:{account}:{api}/{stage}"}
            case "aws:apigatewayv2/api:Api":
                resource_id = _digest(typ, name, length=10)
                arn = f"arn:aws:apigateway:{region}::/apis/{resource_id}"
                extra = {"apiEndpoint": f"https://{resource_id}.execute-api.{region}.amazonaws.com",
                         "executionArn": f"arn:aws:execute-api:{region}:{account}:{resource_id}"}
            case "aws:apigatewayv2/stage:Stage":
                api, stage = state.get("apiId", "api"), state.get("name", name)
                arn = f"arn:aws:apigateway:{region}::/apis/{api}/stages/{stage}"
                path = "" if stage == "$default" else stage
                extra = {"invokeUrl": f"https://{api}.execute-api.{region}.amazonaws.com/{path}",
                         "executionArn": f"arn:aws:execute-api:{region}:{account}:{api}/{stage}"}
            case "aws:apigateway/domainName:DomainName" | "aws:apigatewayv2/domainName:DomainName":
                resource_id = state.get("domainName", physical)
                arn = f"arn:aws:apigateway:{region}::/domainnames/{resource_id}"
                target = f"d-{_digest(typ, name, length=10)}.execute-api.{region}.amazonaws.com"
                zone = f"Z{_digest(typ, name, region, length=13).upper()}"
                if typ.startswith("aws:apigatewayv2"):
                    extra["domainNameConfiguration"] = {
                        **(state.get("domainNameConfiguration") or {}),
                        "targetDomainName": target, "hostedZoneId": zone}
                else:
                    extra = {"regionalDomainName": target, "regionalZoneId": zone,
                             "cloudfrontDomainName": f"d{_digest(typ, name, length=13)}"
                                                     ".cloudfront.net",
                             "cloudfrontZoneId": "Z2FDTNDATAQYW2"}
            case "aws:cloudfront/distribution:Distribution":
                resource_id = "E" + _digest(typ, name, length=13).upper()
                arn = f"arn:aws:cloudfront::{account}:distribution/{resource_id}"
                extra["domainName"] = f"d{_digest(typ, name, length=13)}.cloudfront.net"
                extra["hostedZoneId"] = "Z2FDTNDATAQYW2"
            case "aws:elasticache/serverlessCache:ServerlessCache":
                arn = f"arn:aws:elasticache:{region}:{account}:serverlesscache:{physical}"
                # ElastiCache's form: <name>-<6 characters>.serverless.<use1>.cache.amazonaws.com
                area, direction, number = region.split("-")
                host = (f"{physical}-{_digest(typ, name, length=6)}.serverless."
                        f"{area}{direction[0]}{number}.cache.amazonaws.com")
                extra = {"endpoints": [{"address": host, "port": 6379}],
                         "readerEndpoints": [{"address": host, "port": 6380}]}
            case "aws:elasticache/user:User":
                resource_id = str(state["userId"])
                arn = f"arn:aws:elasticache:{region}:{account}:user:{resource_id}"
            case "aws:elasticache/userGroup:UserGroup":
                resource_id = str(state["userGroupId"])
                arn = f"arn:aws:elasticache:{region}:{account}:usergroup:{resource_id}"
            case "aws:dax/cluster:Cluster":
                cluster = str(state.get("clusterName", physical))
                arn = f"arn:aws:dax:{region}:{account}:cache/{cluster}"
                address = (f"{cluster}.{_digest(typ, name, length=6)}.dax-clusters.{region}"
                           ".amazonaws.com")
                extra = {"clusterAddress": address, "port": 9111,
                         "configurationEndpoint": f"daxs://{address}"}
            case "aws:cloudwatch/eventBus:EventBus":
                arn = f"arn:aws:events:{region}:{account}:event-bus/{physical}"
            case "aws:cloudwatch/eventRule:EventRule":
                bus = state.get("eventBusName") or "default"
                bus = bus.rsplit("/", 1)[-1]
                path = physical if bus == "default" else f"{bus}/{physical}"
                arn = f"arn:aws:events:{region}:{account}:rule/{path}"
            case "aws:scheduler/schedule:Schedule":
                group = state.get("groupName") or "default"
                arn = f"arn:aws:scheduler:{region}:{account}:schedule/{group}/{physical}"
            case "aws:cognito/userPool:UserPool":
                # Cognito names a pool <region>_<9 characters>; clients (and SRP) rely on it.
                resource_id = f"{region}_{_digest(typ, name, length=9).upper()}"
                arn = f"arn:aws:cognito-idp:{region}:{account}:userpool/{resource_id}"
                extra["endpoint"] = f"cognito-idp.{region}.amazonaws.com/{resource_id}"
            case "aws:cognito/userPoolClient:UserPoolClient":
                resource_id = _digest(typ, name, length=26)
            case "aws:wafv2/webAcl:WebAcl":
                scope = "global" if state.get("scope") == "CLOUDFRONT" else "regional"
                resource_id = _uuid(typ, name)
                arn = f"arn:aws:wafv2:{region}:{account}:{scope}/webacl/{physical}/{resource_id}"
        state.update({"id": resource_id, "arn": arn, **extra})
        return resource_id, state


def _uuid(*parts: str) -> str:
    h = _digest(*parts, length=32)
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


class RecordingMonitor(pulumi_mocks.MockMonitor):
    """The SDK's mock monitor, keeping what the engine would know about every registration."""

    def __init__(self, mocks: RecordingMocks) -> None:
        super().__init__(mocks)
        self.recorded: list[Resource] = []
        self.outputs: dict[str, dict[str, Any]] = {}

    # The SDK calls the monitor from executor threads, and its mocks give each such thread an
    # event loop that nothing closes; each call closes it, so no loop outlives its thread.

    def Invoke(self, request: Any) -> Any:  # noqa: N802 (gRPC method name)
        try:
            return super().Invoke(request)
        finally:
            _close_thread_loop()

    def RegisterResource(self, request: Any) -> Any:  # noqa: N802 (gRPC method name)
        try:
            response = super().RegisterResource(request)
        finally:
            _close_thread_loop()
        if request.type != "pulumi:pulumi:Stack":
            self._record(request, request.object, response.urn, response.id or None,
                         self.resources[response.urn].state)
        return response

    def ReadResource(self, request: Any) -> Any:  # noqa: N802 (gRPC method name)
        try:
            response = super().ReadResource(request)
        finally:
            _close_thread_loop()
        self._record(request, request.properties, response.urn, request.id,
                     self.resources[response.urn].state)
        return response

    def RegisterResourceOutputs(self, request: Any) -> Any:  # noqa: N802 (gRPC method name)
        self.outputs[request.urn] = whole_numbers(
            unwrap_secrets(rpc.deserialize_properties(request.outputs)))
        return super().RegisterResourceOutputs(request)

    def _record(self, request: Any, properties: Any, urn: str, resource_id: str | None,
                state: Any) -> None:
        inputs = whole_numbers(unwrap_secrets(rpc.deserialize_properties(properties)))
        if request.type.startswith("pulumi:providers:"):
            inputs = {key: _provider_input(value) for key, value in inputs.items()}
        self.recorded.append(Resource(
            urn=urn,
            type=request.type,
            name=request.name,
            custom=bool(getattr(request, "custom", True)),
            parent=request.parent or None,
            provider=request.provider or None,
            id=resource_id,
            inputs=inputs,
            state=whole_numbers(unwrap_secrets(dict(state))),
            protect=bool(getattr(request, "protect", False)),
            retain_on_delete=bool(getattr(request, "retainOnDelete", False)),
            dependencies=tuple(getattr(request, "dependencies", ())),
            property_dependencies={
                key: tuple(deps.urns)
                for key, deps in getattr(request, "propertyDependencies", {}).items()},
        ))


def _provider_input(value: Any) -> Any:
    # The SDK hands provider configuration over JSON-encoded; decode it so it reads like the
    # arguments the program passed.
    if isinstance(value, Secret):
        return Secret(_provider_input(value.value))
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


# --- stack files ----------------------------------------------------------------------------

def _read_yaml(path: Path) -> tuple[Any, yaml.Node | None]:
    """A YAML file's content and its node tree (for positions); a syntax error is one line
    naming the file, the line and the column."""
    loader = yaml.SafeLoader(path.read_text())
    try:
        node = loader.get_single_node()
        return (loader.construct_document(node) if node is not None else None), node
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        where = f"{path.name}:{mark.line + 1}:{mark.column + 1}" if mark else path.name
        context = error.context
        if context and error.context_mark and error.context_mark is not mark:
            context += f" started at line {error.context_mark.line + 1}"
        what = "; ".join(part for part in (error.problem, context) if part)
        raise PlanError(f"{where}: not valid YAML: {what}") from None
    except yaml.YAMLError as error:
        raise PlanError(f"{path.name}: not valid YAML: {' '.join(str(error).split())}") from None
    finally:
        loader.dispose()


def _value_node(node: yaml.Node | None, key: str) -> yaml.Node | None:
    if isinstance(node, yaml.MappingNode):
        return next((value for name, value in node.value if name.value == key), None)
    return None


def _at(path: Path, node: yaml.Node | None) -> str:
    if node is None:
        return path.name
    return f"{path.name}:{node.start_mark.line + 1}:{node.start_mark.column + 1}"


def project_file(root: Path = ROOT) -> dict[str, Any]:
    path = root / "Pulumi.yaml"
    project, node = _read_yaml(path)
    if not isinstance(project, dict) or not isinstance(project.get("name"), str):
        raise PlanError(f"{_at(path, node)}: must be a mapping with the project's `name`")
    return project


def stack_names(root: Path = ROOT) -> list[str]:
    """Every stack that has a ``Pulumi.<stack>.yaml`` in the project."""
    return sorted(p.name[len("Pulumi."):-len(".yaml")] for p in root.glob("Pulumi.*.yaml"))


@dataclass(frozen=True)
class StackConfig:
    """Config as the CLI hands it to the program: flat keys, string values.

    ``problems`` are what the CLI would refuse the stack for before the program runs (a key that
    ``Pulumi.yaml`` declares missing, or of the wrong type); ``run_program`` reports them together
    with the program's own configuration problems.
    """

    values: dict[str, str]
    secret_keys: tuple[str, ...]
    problems: tuple[str, ...] = ()

    def get(self, key: str) -> str | None:
        return self.values.get(key)


def _config_value(value: Any) -> tuple[Any, bool]:
    """A stack-file value with every ``secure:`` replaced; and whether there was one."""
    if isinstance(value, dict) and set(value) == {"secure"}:
        return SECRET_PLACEHOLDER, True
    if isinstance(value, dict):
        pairs = {k: _config_value(v) for k, v in value.items()}
        return {k: v for k, (v, _) in pairs.items()}, any(s for _, s in pairs.values())
    if isinstance(value, list):
        items = [_config_value(v) for v in value]
        return [v for v, _ in items], any(s for _, s in items)
    return value, False


def _as_config_string(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    return json.dumps(value)


def _fits(kind: str | None, value: Any) -> bool:
    if kind == "integer":
        if isinstance(value, str):
            return value.lstrip("-").isdigit()
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "boolean":
        return isinstance(value, bool) or value in ("true", "false")
    return True


def config_from_mapping(config: Mapping[str, Any], root: Path = ROOT,
                        stack: str = "test") -> StackConfig:
    """Project defaults from ``Pulumi.yaml`` overlaid with ``config`` (a stack file's section).

    Like the CLI, it finds a stack that lacks a declared key with no default, or gives a
    declared key a value of the wrong type. The CLI would stop there; the problems are kept in
    the result instead, so that the plan reports them with every other one.
    """
    project = project_file(root)
    name = project["name"]

    def full(key: str) -> str:
        return key if ":" in key else f"{name}:{key}"

    declared = {full(key): declaration
                for key, declaration in (project.get("config") or {}).items()
                if isinstance(declaration, dict)}
    given = {full(key): raw for key, raw in config.items()}
    problems = [f"{key}: is required (Pulumi.yaml declares it with no default); set it with "
                f"`pulumi config set {key.split(':', 1)[1] if key.startswith(name + ':') else key}"
                " <value>`"
                for key, declaration in sorted(declared.items())
                if key not in given and "default" not in declaration]
    for key, raw in given.items():
        kind = declared.get(key, {}).get("type")
        if not isinstance(raw, dict) and not _fits(kind, raw):
            shown = repr(raw) if isinstance(raw, str) else json.dumps(raw)
            problems.append(f"{key}: must be {_KIND_WORDS.get(str(kind), kind)}, not {shown} "
                            f"(Pulumi.yaml declares it `type: {kind}`; the CLI checks that "
                            "before the program runs)")

    values = {key: _as_config_string(declaration["default"])
              for key, declaration in declared.items() if "default" in declaration}
    secret_keys = [key for key, declaration in declared.items() if declaration.get("secret")]
    for key, raw in given.items():
        value, is_secret = _config_value(raw)
        values[key] = _as_config_string(value)
        if is_secret:
            secret_keys.append(key)
    return StackConfig(values, tuple(secret_keys), tuple(problems))


_KIND_WORDS = {"integer": "an integer", "boolean": "true or false"}


def _with_cli_problems(cli_problems: Sequence[str], error: BaseException | None) -> Exception:
    """The CLI's problems first, then the program's own about other keys, as one error."""
    keys = [problem.split(": ", 1)[0] for problem in cli_problems]

    def about_another_key(problem: str) -> bool:
        key = problem.split(": ", 1)[0]
        return not any(key == k or key.startswith((f"{k}.", f"{k}[")) for k in keys)

    found = list(getattr(error, "problems", None) or [])
    return ConfigError([*cli_problems, *filter(about_another_key, found)])


def load_stack_file(stack: str, root: Path = ROOT) -> dict[str, Any]:
    path = root / f"Pulumi.{stack}.yaml"
    if not path.exists():
        known = ", ".join(stack_names(root)) or "none"
        raise PlanError(f"no stack file {path.name}; stacks in this project: {known}")
    content, node = _read_yaml(path)
    content = {} if content is None else content
    if not isinstance(content, dict):
        raise PlanError(f"{path.name}: must be a mapping with a `config` section")
    if not isinstance(content.get("config") or {}, dict):
        raise PlanError(f"{_at(path, _value_node(node, 'config'))}: `config` must be a mapping "
                        "of keys to values")
    return content


# --- running ----------------------------------------------------------------------------------

async def _wait_for_rpcs(await_all_outstanding_tasks: bool = True) -> None:
    """The SDK's ``wait_for_rpcs``, awaiting the outstanding outputs all at once.

    The SDK waits for them with ``asyncio.wait(..., FIRST_COMPLETED)`` in a loop, which hooks
    and unhooks every pending output each time one finishes: quadratic in the outputs, most of
    a dev plan's time. Awaiting them together does the same work once; the first failure is
    raised, as the SDK raises the first failed output it sees.
    """
    rpc_manager = pulumi_settings._get_rpc_manager()
    while True:
        while rpc_manager.rpcs:
            await asyncio.sleep(0)
            try:
                await rpc_manager.rpcs.pop()
            except Exception as error:
                if rpc_manager.unhandled_exception is not None:
                    raise error from rpc_manager.unhandled_exception.with_traceback(
                        rpc_manager.exception_traceback)
                raise
        if rpc_manager.unhandled_exception is not None:
            raise rpc_manager.unhandled_exception.with_traceback(rpc_manager.exception_traceback)
        while await_all_outstanding_tasks:
            with pulumi_settings.SETTINGS.lock:
                pending = list(pulumi_settings.SETTINGS.outputs)
                pulumi_settings.SETTINGS.outputs.clear()
            if not pending:
                break
            await asyncio.gather(*pending)
        if not rpc_manager.rpcs:
            break


def run_program(program: Callable[[], Any], *, stack: str = "test",
                config: StackConfig | None = None,
                stack_outputs: Mapping[str, Mapping[str, Any]] | None = None,
                root: Path = ROOT) -> StackRun:
    """Runs ``program`` inside a fresh mock runtime and returns what it declared.

    The run has its own context and event loop, so nothing leaks from one run to the next.
    When ``config`` has problems the CLI would stop at, the program runs all the same, and the
    run fails with a ``ConfigError`` listing them and the program's own.
    """
    config = config or StackConfig({}, ())
    account = _placeholder_account(config) or DEFAULT_ACCOUNT
    region = config.get("aws:region") or DEFAULT_REGION
    monitor = RecordingMonitor(RecordingMocks(account, region, stack_outputs))
    warnings: list[str] = []
    logger = logging.getLogger(f"blueprints.offline.{stack}")
    logger.propagate = False
    logger.handlers = [_ListHandler(warnings)]
    settings = pulumi_settings.Settings(
        project=project_file(root)["name"], stack=stack, monitor=monitor,
        engine=pulumi_mocks.MockEngine(logger), dry_run=False, organization="organization",
        root_directory=str(root))

    def run() -> None:
        pulumi_settings.configure(settings)
        pulumi_settings.ROOT.set(None)
        set_all_config(config.values, list(config.secret_keys))
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        failed = True
        sdk_wait, sdk_trace = pulumi_stack.wait_for_rpcs, pulumi_resource._get_stack_trace
        pulumi_stack.wait_for_rpcs = _wait_for_rpcs
        # Each registration's call stack is for the engine's source positions; a plan has no
        # engine, and walking the stack was a tenth of its time.
        pulumi_resource._get_stack_trace = source_pb2.StackTrace
        try:
            loop.run_until_complete(run_in_stack(program))
            failed = False
        except BaseException:
            # The error reaches the caller; every output that depended on it fails too, and
            # asyncio would report each of those again when it is collected.
            loop.set_exception_handler(_quiet_after_failure)
            raise
        finally:
            pulumi_stack.wait_for_rpcs, pulumi_resource._get_stack_trace = sdk_wait, sdk_trace
            _drain(loop, failed)
            asyncio.set_event_loop(None)

    # No cyclic collection while the program runs: a run makes a few hundred thousand
    # objects that live until it ends, and collecting over them again and again took more
    # than half a dev plan's time. Whatever a run leaves is collected after it.
    collecting = gc.isenabled()
    gc.disable()
    try:
        contextvars.copy_context().run(run)
    except Exception as error:
        if config.problems:
            raise _with_cli_problems(config.problems, error) from error
        raise
    finally:
        if collecting:
            gc.enable()
    if config.problems:
        raise _with_cli_problems(config.problems, None)
    stack_urn = f"urn:pulumi:{stack}::{settings.project}::pulumi:pulumi:Stack::" \
                f"{settings.project}-{stack}"
    return StackRun(stack=stack, resources=monitor.recorded,
                    outputs=monitor.outputs.get(stack_urn, {}), warnings=warnings)


def run_stack(stack: str, *, root: Path = ROOT,
              config_overrides: Mapping[str, Any] | None = None,
              _referenced_by: tuple[str, ...] = ()) -> StackRun:
    """Runs ``__main__.py`` for ``Pulumi.<stack>.yaml``, as ``pulumi preview`` would.

    ``config_overrides`` replaces keys of the stack file's config; ``None`` removes a key.

    A stack that reads an environment stack through a StackReference gets the outputs of that
    stack's own offline run, when the project has its stack file.
    """
    section = dict(load_stack_file(stack, root).get("config") or {})
    for key, value in (config_overrides or {}).items():
        if value is None:
            section.pop(key, None)
        else:
            section[key] = value
    config = config_from_mapping(section, root, stack)
    references = {}
    reference = config.get(f"{project_file(root)['name']}:environmentStack")
    if reference and reference.rsplit("/", 1)[-1] in stack_names(root):
        referenced = reference.rsplit("/", 1)[-1]
        if referenced in (stack, *_referenced_by):
            raise PlanError(f"stack {stack} references itself through {reference}")
        references[reference] = run_stack(referenced, root=root,
                                          _referenced_by=(*_referenced_by, stack)).outputs
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    run = run_program(lambda: runpy.run_path(str(root / "__main__.py"), run_name="__main__"),
                      stack=stack, config=config, stack_outputs=references, root=root)
    check_default_providers(run, section)
    return run


def _quiet_after_failure(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    if "exception was never retrieved" not in context.get("message", ""):
        loop.default_exception_handler(context)


def _close_thread_loop() -> None:
    if threading.current_thread() is threading.main_thread():
        return
    try:
        loop = asyncio.get_event_loop()
    except RuntimeError:
        return
    if not loop.is_running():
        loop.close()
        asyncio.set_event_loop(None)


def _drain(loop: asyncio.AbstractEventLoop, failed: bool) -> None:
    # The SDK sends warnings about a resource from tasks it does not wait for: let them finish.
    # A failed run leaves outputs waiting on resources that will never resolve: cancel them and
    # collect their results, so that nothing of this run outlives its loop.
    if not failed and (pending := asyncio.all_tasks(loop)):
        loop.run_until_complete(asyncio.wait(pending, timeout=10))
    while pending := asyncio.all_tasks(loop):
        for task in pending:
            task.cancel()
        loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
    loop.close()


def check_default_providers(run: StackRun, section: Mapping[str, Any]) -> None:
    """Fails, as the engine would, when a package's default provider is disabled but used."""
    disabled = section.get("pulumi:disable-default-providers") or []
    packages = {r.type.split(":")[0] for r in run.managed()}
    for package in packages & set(disabled if "*" not in disabled else packages):
        implicit = [r.name for r in run.managed()
                    if r.type.startswith(f"{package}:") and not r.provider]
        if implicit:
            raise PlanError(f"default {package} provider is disabled in this stack, yet these "
                            f"resources have no explicit provider: {', '.join(implicit)}")


def _placeholder_account(config: StackConfig) -> str | None:
    account = config.get("blueprints:account")
    try:
        return str(json.loads(account)["id"]) if account else None
    except (ValueError, KeyError, TypeError):
        return None


class _ListHandler(logging.Handler):
    def __init__(self, sink: list[str]) -> None:
        super().__init__(logging.WARNING)
        self.sink = sink

    def emit(self, record: logging.LogRecord) -> None:
        self.sink.append(record.getMessage())
