"""Platform-owned environment templates: network, cluster, key and the services' contract."""

from components.environment.contract import EnvironmentContract
from components.environment.environment import Environment, EnvironmentArgs

__all__ = ["Environment", "EnvironmentArgs", "EnvironmentContract"]
