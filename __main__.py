"""Serverless Blueprints: load config, then build what the stack is for, then export.

Most stacks build the environment, the services, or both. A stack with an ``environment``
section builds the platform environment itself; a stack with an ``environmentStack`` reads the
environment's contract from that stack. Either way the services get the same
``EnvironmentContract``, and the stack exports it.

Two stacks build something else: an account connection (``connection``: the roles the
pipeline assumes in a target account) and the tooling stack (``pipeline``: the delivery
pipeline).
"""

import pulumi

from components import config
from components.accounts import create_providers
from components.environment import Environment, EnvironmentArgs, EnvironmentContract
from components.environment.connection import AccountConnection, ConnectionSettings
from components.pipeline import DeliveryPipeline, PipelineSettings
from components.services import CATALOG, ServiceContext, build_services


def export_all(outputs: dict) -> None:
    for output_name, value in outputs.items():
        pulumi.export(output_name, value)


stack = config.load(services={name: entry.settings for name, entry in CATALOG.items()},
                    connection=ConnectionSettings, pipeline=PipelineSettings)
providers = create_providers(stack)
regional = pulumi.ResourceOptions(provider=providers.regional)

if stack.connection is not None:
    export_all(AccountConnection("connection", stack.connection, stack.defaults,
                                 external_id=stack.external_id, opts=regional).exports)
elif stack.pipeline is not None:
    export_all(DeliveryPipeline("delivery", stack.pipeline, stack.defaults,
                                opts=regional).exports)
else:
    account_settings: list[pulumi.Resource] = []
    if stack.environment is not None:
        environment = Environment(stack.stage, EnvironmentArgs(settings=stack.environment),
                                  stack.defaults, opts=regional)
        contract = environment.contract
        account_settings = environment.account_settings
    else:
        assert stack.environment_stack is not None
        contract = EnvironmentContract.from_stack_reference(
            pulumi.StackReference("environment", stack_name=stack.environment_stack))

    services = build_services(stack.services, ServiceContext(
        stack.defaults, contract, providers, api_keys=stack.api_keys,
        account_settings=account_settings))

    export_all(contract.outputs())
    for service_name, service in services.items():
        pulumi.export(service_name, service.exports)
        if service.secret_exports:
            pulumi.export(f"{service_name}Secrets", pulumi.Output.secret(service.secret_exports))
