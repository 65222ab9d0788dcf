"""The guardrails pack, run offline over what the mock runtime recorded.

The adapter turns each recorded resource into the arguments the Pulumi policy SDK would build
from the engine's request (``ResourceValidationArgs`` for every resource, ``PolicyResource``
with parents and property dependencies for the stack), then runs every resource and stack
policy at its configured enforcement level, the way the analyzer does during
``pulumi preview --policy-pack ./policy``.

Configuration has the shape of a ``--policy-pack-config`` file: ``{"all": "mandatory"}``,
``{"<policy>": "disabled"}`` or ``{"<policy>": {"enforcementLevel": ..., "<setting>": ...}}``.
"""

from __future__ import annotations

import copy
import difflib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    Policy,
    PolicyCustomTimeouts,
    PolicyProviderResource,
    PolicyResource,
    PolicyResourceOptions,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.policy import _NotApplicableError
from pulumi_policy.proxy import UnknownValueError, unknown_checking_proxy

from policy.guardrails import POLICIES
from tools.mock_runtime import Resource, StackRun, reveal

PackConfig = Mapping[str, Any]


@dataclass(frozen=True)
class Verdict:
    """One violation: which policy, at which level, about which resource."""

    policy: str
    level: str
    message: str
    resource_type: str | None
    resource_name: str | None
    urn: str | None

    @property
    def mandatory(self) -> bool:
        return self.level == EnforcementLevel.MANDATORY.value


LEVELS = tuple(level.value for level in EnforcementLevel)


class PolicyConfigError(Exception):
    """A pack configuration file that cannot be used: one line per problem, naming the file."""

    def __init__(self, path: Path, problems: Sequence[str]) -> None:
        self.lines = [f"{path}{'' if problem.startswith(':') else ': '}{problem}"
                      for problem in problems]
        super().__init__("\n".join(self.lines))


def load_config(path: Path | None, policies: Sequence[Policy] = POLICIES) -> PackConfig:
    """A ``--policy-pack-config`` JSON file, checked against the pack; or no configuration."""
    if path is None:
        return {}
    try:
        config = json.loads(path.read_text())
    except OSError as error:
        raise PolicyConfigError(path, [f"can't read it: {error.strerror}"]) from None
    except json.JSONDecodeError as error:
        raise PolicyConfigError(path, [f":{error.lineno}:{error.colno}: not valid JSON: "
                                       f"{error.msg}"]) from None
    problems = config_problems(config, policies)
    if problems:
        raise PolicyConfigError(path, problems)
    return config


def _level_problem(value: Any) -> str | None:
    if value in LEVELS:
        return None
    message = f"{value!r} is not an enforcement level"
    hint = difflib.get_close_matches(value, LEVELS, n=1) if isinstance(value, str) else []
    if hint:
        message += f"; did you mean {hint[0]!r}?"
    return f"{message}{'' if hint else ';'} use one of {', '.join(LEVELS)}"


def config_problems(config: Any, policies: Sequence[Policy] = POLICIES) -> list[str]:
    """What the analyzer could not use in a pack configuration, one line each."""
    if not isinstance(config, Mapping):
        return ["must be an object of policy names to levels or settings, such as "
                '{"all": "mandatory"} or {"<policy>": {"enforcementLevel": "advisory"}}']
    names = [policy.name for policy in policies]
    problems = []
    for key, setting in config.items():
        if key != "all" and key not in names:
            hint = difflib.get_close_matches(key, names, n=1)
            problems.append(f"{key}: is not a policy of the pack; " + (
                f"did you mean {hint[0]!r}?" if hint else "policy/README.md lists them"))
        elif isinstance(setting, Mapping):
            level = setting.get("enforcementLevel")
            if level is not None and (problem := _level_problem(level)):
                problems.append(f"{key}.enforcementLevel: {problem}")
        elif isinstance(setting, str):
            if problem := _level_problem(setting):
                problems.append(f"{key}: {problem}")
        else:
            problems.append(f"{key}: must be an enforcement level or an object of settings, "
                            f"not {setting!r}")
    return problems


def level_of(policy: Policy, config: PackConfig) -> EnforcementLevel:
    """The enforcement level the analyzer would apply: configured, else the policy's own."""
    for key in (policy.name, "all"):
        setting = config.get(key)
        if isinstance(setting, Mapping):
            setting = setting.get("enforcementLevel")
        if setting:
            return EnforcementLevel(setting)
    return policy.enforcement_level or EnforcementLevel.ADVISORY


def settings_of(policy: Policy, config: PackConfig) -> dict[str, Any]:
    setting = config.get(policy.name)
    if not isinstance(setting, Mapping):
        return {}
    return {k: v for k, v in setting.items() if k != "enforcementLevel"}


def _options(resource: Resource) -> PolicyResourceOptions:
    return PolicyResourceOptions(
        protect=resource.protect, ignore_changes=[], delete_before_replace=None, aliases=[],
        custom_timeouts=PolicyCustomTimeouts(0, 0, 0), additional_secret_outputs=[],
        parent=resource.parent)


def _as_analyzer_sees(value: Any) -> Any:
    # The analyzer reads properties out of a protobuf Struct, where every number is a double:
    # policies get 128.0 where the record (tools.mock_runtime.whole_numbers) keeps 128.
    if isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, dict):
        return {k: _as_analyzer_sees(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_as_analyzer_sees(v) for v in value]
    return value


def _props(values: Mapping[str, Any]) -> Any:
    return unknown_checking_proxy(_as_analyzer_sees(copy.deepcopy(reveal(dict(values)))))


def _provider(run: StackRun, resource: Resource) -> PolicyProviderResource | None:
    provider = run.provider_of(resource) if resource.provider else None
    if provider is None:
        return None
    return PolicyProviderResource(provider.type, _props(provider.inputs), provider.urn,
                                  provider.name)


def _stack_resources(run: StackRun) -> list[PolicyResource]:
    resources = {r.urn: PolicyResource(
        r.type, _props({**r.inputs, **r.state}), r.urn, r.name, _options(r),
        _provider(run, r), None, [], {}) for r in run.resources}
    for recorded in run.resources:
        resource = resources[recorded.urn]
        resource.parent = resources.get(recorded.parent or "")
        resource.dependencies = [resources[u] for u in recorded.dependencies if u in resources]
        resource.property_dependencies = {
            key: [resources[u] for u in urns if u in resources]
            for key, urns in recorded.property_dependencies.items()}
    return list(resources.values())


def evaluate(run: StackRun, config: PackConfig | None = None,
             policies: Sequence[Policy] = POLICIES) -> list[Verdict]:
    """Every violation the pack reports for ``run``: mandatory ones first."""
    config = config or {}
    verdicts: list[Verdict] = []
    by_urn = {r.urn: r for r in run.resources}

    def reporter(policy: Policy, level: EnforcementLevel, default: Resource | None) -> Any:
        def report(message: str, urn: str | None = None) -> None:
            subject = by_urn.get(urn or "") or default
            verdicts.append(Verdict(
                policy=policy.name, level=level.value, message=message,
                resource_type=subject.type if subject else None,
                resource_name=subject.name if subject else None,
                urn=subject.urn if subject else None))
        return report

    stack_resources = None
    # Built once per resource and shared by the policies: they only read (through Props).
    resource_inputs = {r.urn: (_props(r.inputs), _options(r), _provider(run, r))
                       for r in run.resources}
    for policy in policies:
        level = level_of(policy, config)
        if level == EnforcementLevel.DISABLED:
            continue
        if level == EnforcementLevel.REMEDIATE:
            level = EnforcementLevel.MANDATORY
        settings = settings_of(policy, config)
        try:
            if isinstance(policy, ResourceValidationPolicy):
                for resource in run.resources:
                    props, options, provider = resource_inputs[resource.urn]
                    args = ResourceValidationArgs(resource.type, props, resource.urn,
                                                  resource.name, options, provider, settings)
                    policy.validate(args, reporter(policy, level, resource))
            elif isinstance(policy, StackValidationPolicy):
                stack_resources = stack_resources or _stack_resources(run)
                policy.validate(StackValidationArgs(stack_resources, settings),
                                reporter(policy, level, None))
        except UnknownValueError as error:
            verdicts.append(Verdict(policy.name, EnforcementLevel.ADVISORY.value,
                                    f"can't run during preview: {error.message}", None, None,
                                    None))
        except _NotApplicableError:
            continue
    return sorted(verdicts, key=lambda v: (not v.mandatory, v.policy, v.resource_name or ""))


def report_lines(verdicts: Sequence[Verdict]) -> list[str]:
    """The verdicts as the plan prints them: mandatory first, then advisory."""
    lines = []
    for title, mandatory in (("Mandatory", True), ("Advisory", False)):
        found = [v for v in verdicts if v.mandatory == mandatory]
        lines.append(f"{title} violations: {len(found)}")
        lines += [f"  - [{v.policy}] {v.resource_type or 'stack'} {v.resource_name or ''}: "
                  f"{v.message.removeprefix(f'{v.resource_name}: ')}" for v in found]
    return lines
