"""Serverless Blueprints: load config, then build the environment and the services, then export.

A stack with an ``environment`` section builds the platform environment itself; a stack with an
``environmentStack`` reads the environment's contract from that stack. Either way the services
get the same ``EnvironmentContract``, and the stack exports it.
"""

import pulumi

from components import config
from components.accounts import create_providers
from components.environment import Environment, EnvironmentArgs, EnvironmentContract
from components.services import CATALOG, ServiceContext, build_services

stack = config.load(services={name: entry.settings for name, entry in CATALOG.items()})
providers = create_providers(stack)

account_settings: list[pulumi.Resource] = []
if stack.environment is not None:
    environment = Environment(
        stack.stage, EnvironmentArgs(settings=stack.environment), stack.defaults,
        opts=pulumi.ResourceOptions(provider=providers.regional))
    contract = environment.contract
    account_settings = environment.account_settings
else:
    assert stack.environment_stack is not None
    contract = EnvironmentContract.from_stack_reference(
        pulumi.StackReference("environment", stack_name=stack.environment_stack))

services = build_services(stack.services, ServiceContext(
    stack.defaults, contract, providers, api_keys=stack.api_keys,
    account_settings=account_settings))

for output_name, value in contract.outputs().items():
    pulumi.export(output_name, value)
for service_name, service in services.items():
    pulumi.export(service_name, service.exports)
    if service.secret_exports:
        pulumi.export(f"{service_name}Secrets", pulumi.Output.secret(service.secret_exports))
