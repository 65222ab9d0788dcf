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


def flag(environ: Mapping[str, str], name: str, problems: list[str], *,
         default: bool = False) -> bool:
    """``true`` or ``false`` (any case; ``default`` when unset); a problem otherwise."""
    value = environ.get(name, "").strip().lower()
    if value not in ("", "true", "false"):
        problems.append(f"{name}: {value!r} is not true or false")
    return default if value not in ("true", "false") else value == "true"


def whole_number(environ: Mapping[str, str], name: str, default: int, problems: list[str], *,
                 minimum: int = 0, maximum: int | None = None, unit: str = "") -> int:
    """A whole number within [minimum, maximum] (``default`` when unset); a problem, naming
    the range, otherwise."""
    text = environ.get(name, "").strip()
    if not text:
        return default
    # isascii: isdecimal alone takes any Unicode digit ("\uff13" is a fullwidth 3).
    if text.isascii() and text.isdecimal() and minimum <= int(text) \
            and (maximum is None or int(text) <= maximum):
        return int(text)
    allowed = f"from {minimum} to {maximum}" if maximum is not None else f"{minimum} or more"
    problems.append(f"{name} must be a whole number{f' of {unit}' if unit else ''}, {allowed}")
    return default
