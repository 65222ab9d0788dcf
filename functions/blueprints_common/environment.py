"""A function's settings from its environment: each check names the variable, and records its
problem instead of raising, so that a function can report every problem at once."""

from __future__ import annotations

from collections.abc import Mapping


def required(environ: Mapping[str, str], name: str, problems: list[str]) -> str:
    """The variable's value; a problem when it is missing or empty."""
    value = environ.get(name, "")
    if not value:
        problems.append(f"{name} is required")
    return value


def key_prefix(environ: Mapping[str, str], name: str, default: str,
               problems: list[str]) -> str:
    """An S3 key prefix (``default`` when unset); a problem unless it ends in '/' and does not
    start with one."""
    prefix = environ.get(name) or default
    if not prefix.endswith("/") or prefix.startswith("/"):
        problems.append(f"{name} must be a key prefix ending in '/'")
    return prefix
