"""The pack's list of pulumi-aws resource types matches the installed pulumi-aws.

``policy/guardrails/aws_resource_types.json`` is derived from pulumi-aws itself, so that the
policy pack does not import pulumi-aws when it runs:

- ``resources``: every resource type token pulumi-aws registers (``explicit-provider`` checks
  these, and no component, whose types are never among them);
- ``taggable``: the resources whose constructor takes a ``tags`` map that the provider's
  ``defaultTags`` merge into (they report ``tagsAll``); ``required-tags`` checks these. Three
  types take a ``tags`` argument that is something else (the list of ``aws.autoscaling.Group``,
  the tag selectors of ``aws.devopsguru.ResourceCollection`` and ``aws.inspector.ResourceGroup``)
  and are left out.

After upgrading pulumi-aws, regenerate the file from the project root with::

    venv/bin/python -m tests.policy.test_taggable
"""

from __future__ import annotations

import ast
import importlib
import inspect
import json
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pulumi_aws

DATA_FILE = Path(__file__).resolve().parents[2] / "policy/guardrails/aws_resource_types.json"
REGENERATE = "venv/bin/python -m tests.policy.test_taggable"


def _registered_classes() -> dict[str, tuple[str, str]]:
    """Type token -> (module, class name), from the resource modules pulumi-aws registers."""
    source = Path(pulumi_aws.__file__).read_text()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "register":
            for keyword in node.keywords:
                if keyword.arg == "resource_modules" and isinstance(keyword.value, ast.Constant):
                    modules = json.loads(keyword.value.value)
                    return {token: (module["fqn"], name) for module in modules
                            for token, name in module["classes"].items()}
    raise LookupError("pulumi_aws/__init__.py no longer registers its resource modules")


def _is_taggable(cls: Any) -> bool:
    parameters = inspect.signature(cls._internal_init).parameters
    return "tags" in parameters and hasattr(cls, "tags_all")


def derive() -> dict[str, Any]:
    """The data file's content, as the installed pulumi-aws defines it."""
    classes = _registered_classes()
    taggable = [token for token, (module, name) in sorted(classes.items())
                if _is_taggable(getattr(importlib.import_module(module), name))]
    return {
        "source": "pulumi-aws",
        "version": version("pulumi-aws"),
        "regenerate": REGENERATE,
        "resources": sorted(classes),
        "taggable": taggable,
    }


def render(data: dict[str, Any]) -> str:
    return json.dumps(data, indent=1) + "\n"


def test_data_file_matches_installed_pulumi_aws() -> None:
    shipped = json.loads(DATA_FILE.read_text())
    derived = derive()
    stale = {key for key in derived if shipped.get(key) != derived[key]}
    assert not stale, (f"{DATA_FILE.name} does not match pulumi-aws {derived['version']} "
                       f"({', '.join(sorted(stale))} differ); regenerate it: {REGENERATE}")


def test_rules_read_the_data_file() -> None:
    from policy.guardrails import general

    shipped = json.loads(DATA_FILE.read_text())
    assert frozenset(shipped["resources"]) == general.AWS_RESOURCE_TYPES
    assert frozenset(shipped["taggable"]) == general.TAGGABLE_TYPES
    assert general.TAGGABLE_TYPES <= general.AWS_RESOURCE_TYPES
    assert {"aws:s3/bucket:Bucket", "aws:lambda/function:Function",
            "aws:cloudwatch/logGroup:LogGroup"} <= general.TAGGABLE_TYPES
    assert not {"aws:s3/bucketPolicy:BucketPolicy", "aws:iam/rolePolicy:RolePolicy",
                "aws:autoscaling/group:Group"} & general.TAGGABLE_TYPES


if __name__ == "__main__":
    DATA_FILE.write_text(render(derive()))
    print(f"wrote {DATA_FILE}")
