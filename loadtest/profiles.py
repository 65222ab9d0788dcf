"""Load profiles: when each request of a run is sent, as offsets in seconds from its start.

Both profiles are *open*: requests are sent on a schedule, whatever the answers take, as
independent clients would send them (a closed loop of users waiting for their answers would
slow down exactly when the API does, and hide its throttling).

- ``steady``: a constant arrival rate, ``rate`` requests a second for ``duration`` seconds,
  evenly spaced (the first at 0).
- ``burst``: ``burst`` requests at once at 0, then the steady part (its first request one
  interval later), which shows both the token bucket's burst and its refill rate.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum


class ProfileKind(StrEnum):
    STEADY = "steady"
    BURST = "burst"


@dataclass(frozen=True)
class Profile:
    """A run's shape: ``burst`` requests at once (burst profile only), then ``rate`` requests a
    second for ``duration`` seconds."""

    kind: ProfileKind
    rate: float
    duration: float
    burst: int = 0

    def __post_init__(self) -> None:
        problems = []
        if not (self.rate > 0 and math.isfinite(self.rate)):
            problems.append(f"rate must be a positive number of requests a second, not "
                            f"{self.rate}")
        if not (self.duration > 0 and math.isfinite(self.duration)):
            problems.append(f"duration must be a positive number of seconds, not "
                            f"{self.duration}")
        if self.kind is ProfileKind.STEADY and self.burst:
            problems.append("burst is for the burst profile; a steady profile sends none")
        if self.kind is ProfileKind.BURST and self.burst < 1:
            problems.append(f"the burst profile needs a burst of at least 1 request, not "
                            f"{self.burst}")
        if problems:
            raise ValueError("; ".join(problems))

    @property
    def steady_requests(self) -> int:
        return round(self.rate * self.duration)

    @property
    def requests(self) -> int:
        return self.burst + self.steady_requests

    def schedule(self) -> list[float]:
        """The send offset of every request, in seconds, in order."""
        interval = 1.0 / self.rate
        if self.kind is ProfileKind.STEADY:
            return [index * interval for index in range(self.steady_requests)]
        return [0.0] * self.burst + [(index + 1) * interval
                                     for index in range(self.steady_requests)]

    def describe(self) -> str:
        steady = f"{self.rate:g} requests/s for {self.duration:g} s"
        if self.kind is ProfileKind.BURST:
            return f"burst of {self.burst} at once, then {steady}"
        return f"steady, {steady}"


def offered_within(schedule: list[float], seconds: float) -> int:
    """How many requests of ``schedule`` are due before ``seconds``."""
    return sum(1 for offset in schedule if offset < seconds)
