"""Rejecting bad component inputs: every problem at once, each naming the input."""

from __future__ import annotations

from collections.abc import Iterable

import pulumi


class InvalidArgs(pulumi.RunError):
    """A component was given inputs it cannot build safely."""

    def __init__(self, component: str, problems: list[str]) -> None:
        self.problems = problems
        lines = "\n".join(f"  - {problem}" for problem in problems)
        super().__init__(f"{component}: invalid arguments:\n{lines}")


def require_valid(component: str, problems: Iterable[str | None]) -> None:
    """Raises ``InvalidArgs`` listing every non-empty problem, if there is any."""
    found = [problem for problem in problems if problem]
    if found:
        raise InvalidArgs(component, found)


def warn_override(resource: pulumi.Resource, setting: str, why: str) -> None:
    """Says, in the preview, that a caller turned off a secure default."""
    pulumi.log.warn(f"secure default overridden: {setting}. {why}", resource=resource)
