"""Where a run's requests go, and the API key values it may use.

- **local**: a stack that ``python -m tools.local`` serves on 127.0.0.1. Its run file,
  ``.local-mode/<stack>.json``, gives each front's URL by its name in the plan (a REST API's
  with its stage) and the local values of the API keys; ``.local-mode/<stack>.env`` the
  credentials of the embedded AWS's administrator, which ``--sigv4`` signs with.
- **deployed**: a stack in AWS. Its outputs (``pulumi stack output --json > outputs.json``;
  with ``--show-secrets`` to read API key values from them) hold the invoke URLs. The API's URL
  is found by where the offline plan's outputs name the same API: the output that holds
  ``https://<plan id>.execute-api...`` in the plan holds the real id in the file. ``--url``
  gives it directly (a custom domain, say).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from loadtest.limits import PlanApi

ROOT = Path(__file__).resolve().parent.parent
RUN_FOLDER = ROOT / ".local-mode"
_EXECUTE_API = re.compile(r"^https://([a-z0-9]+)\.execute-api\.([a-z0-9-]+)\.amazonaws\.com")
_EXPORT = re.compile(r"^export ([A-Za-z_][A-Za-z0-9_]*)=(.*)$")


class TargetError(Exception):
    """The API cannot be reached as asked; the message says what would work."""


@dataclass(frozen=True)
class Endpoint:
    """An API's base URL (its stage path included) and what calling it may need."""

    base_url: str
    where: str
    api_keys: Mapping[str, str] = field(default_factory=dict)
    # Variables for the Locust process: the local AWS credentials that --sigv4 signs with.
    environment: Mapping[str, str] = field(default_factory=dict)


def local_endpoint(api: PlanApi, stack: str, run_file: Path | None = None) -> Endpoint:
    run_file = run_file or RUN_FOLDER / f"{stack}.json"
    if not run_file.exists():
        raise TargetError(f"{run_file} does not exist: start the stack in local mode first "
                          f"(venv/bin/python -m tools.local --stack {stack})")
    document = json.loads(run_file.read_text(encoding="utf-8"))
    fronts: Mapping[str, str] = document.get("fronts") or {}
    if api.resource not in fronts:
        raise TargetError(f"local mode does not serve {api.resource} ({run_file} lists "
                          f"{', '.join(sorted(fronts)) or 'no front'}); start its service "
                          f"with --service")
    env_file = run_file.with_suffix(".env")
    return Endpoint(str(fronts[api.resource]).rstrip("/"), "local",
                    dict(document.get("apiKeys") or {}),
                    read_env_file(env_file) if env_file.exists() else {})


def read_env_file(path: Path) -> dict[str, str]:
    """The ``export NAME=value`` lines of a local-mode ``.env`` file."""
    found = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        match = _EXPORT.match(line.strip())
        if match:
            found[match.group(1)] = match.group(2).strip("'\"")
    return found


def _strings(value: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], str]]:
    if isinstance(value, Mapping):
        for key, inner in value.items():
            yield from _strings(inner, (*path, str(key)))
    elif isinstance(value, list):
        for index, inner in enumerate(value):
            yield from _strings(inner, (*path, str(index)))
    elif isinstance(value, str):
        yield path, value


def _at(value: Any, path: tuple[str, ...]) -> Any:
    for part in path:
        if isinstance(value, Mapping):
            value = value.get(part)
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return None
    return value


def deployed_endpoint(api: PlanApi, outputs: Mapping[str, Any], plan_outputs: Mapping[str, Any],
                      url: str | None = None) -> Endpoint:
    keys = secret_api_keys(outputs)
    if url:
        return Endpoint(url.rstrip("/"), "deployed", keys)
    for path, value in _strings(plan_outputs):
        if not value.startswith(api.public_origin):
            continue
        deployed = _at(outputs, path)
        match = _EXECUTE_API.match(deployed) if isinstance(deployed, str) else None
        if match:
            return Endpoint(f"{match.group(0)}{api.stage_path}", "deployed", keys)
        raise TargetError(f"the stack output {'.'.join(path)} names {api.resource} in the plan, "
                          f"but the outputs file has {deployed!r} there: give the URL with "
                          "--url")
    raise TargetError(f"no stack output names {api.resource}'s URL: give it with --url")


def secret_api_keys(outputs: Mapping[str, Any]) -> dict[str, str]:
    """Key values by name from the ``<service>Secrets`` outputs' ``apiKeys`` maps (present only
    in ``pulumi stack output --json --show-secrets``)."""
    keys: dict[str, str] = {}
    for name, value in outputs.items():
        if name.endswith("Secrets") and isinstance(value, Mapping):
            found = value.get("apiKeys")
            if isinstance(found, Mapping):
                keys.update({str(k): str(v) for k, v in found.items() if isinstance(v, str)})
    return keys
