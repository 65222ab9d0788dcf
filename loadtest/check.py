"""The throttle check: did the stage and usage-plan throttles hold during a run?

The configured buckets (``limits.Limits``) let through at most ``allowed(t) = min(burst + rate *
t)`` requests in the first ``t`` seconds of a run, however many are sent. The gateway admits a
request some time after it was sent (after the authorizer, for a key an authorizer supplies)
and before its answer comes back, so a request answered by ``t`` was certainly admitted by
``t``: counting admitted requests by their answer time holds the run to the bound without
knowing the gateway's clock.

- **burst**: the requests sent in the first second, once more of them than the bound allows by
  the time the last of them was answered: those past it were answered 429 (and no more than it
  were admitted). A first second that sent no more is *not exercised*: nothing to throttle.
- **rate**: at the end of every whole second of the run, and at its last answer, the requests
  admitted so far are no more than the bound: the back end saw no more than the configured
  rate, plus the burst the bucket held at the start (over a run of ``T`` seconds, an admitted
  rate of at most ``rate + burst / T``). A run that never sent more than the bound is *not
  exercised*.

**Tolerance.** The bound is rounded down to whole requests, then ``tolerance`` percent (5 by
default) and one request are added: the request that rounding can let through, and room for
buckets that are not ideal. AWS applies its throttles "best effort" across the gateway's
fleet, so a deployed stack may need more (``--tolerance``); the report shows the bound and the
allowance apart.

The check passes when no part fails; it is *not exercised* when neither part was (a run within
the limits), and *no throttle* when the plan configures none for the request.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from loadtest.limits import Limits
from loadtest.stats import Sample

Verdict = Literal["pass", "fail", "not exercised"]
UNBOUNDED = 2**62


@dataclass(frozen=True)
class Tolerance:
    percent: float = 5.0
    requests: int = 1

    def __post_init__(self) -> None:
        if self.percent < 0 or self.requests < 0:
            raise ValueError("the tolerance cannot be negative")

    def allowed(self, limits: Limits, seconds: float) -> int:
        """The most admitted requests the check accepts in the first ``seconds``."""
        bound = limits.allowed(seconds)
        if math.isinf(bound):
            return UNBOUNDED
        return math.floor(math.floor(bound) * (1 + self.percent / 100.0)) + self.requests


@dataclass(frozen=True)
class Finding:
    name: str
    verdict: Verdict
    detail: str
    figures: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class ThrottleCheck:
    findings: tuple[Finding, ...]
    limits: Limits
    tolerance: Tolerance

    @property
    def verdict(self) -> Literal["pass", "fail", "not exercised", "no throttle"]:
        if not self.limits.throttled:
            return "no throttle"
        verdicts = {finding.verdict for finding in self.findings}
        if "fail" in verdicts:
            return "fail"
        return "pass" if "pass" in verdicts else "not exercised"

    @property
    def failed(self) -> bool:
        return self.verdict == "fail"

    def finding(self, name: str) -> Finding:
        return next(finding for finding in self.findings if finding.name == name)

    def to_json(self) -> dict[str, Any]:
        return {"verdict": self.verdict, "limits": self.limits.to_json(),
                "tolerance": asdict(self.tolerance),
                "findings": [asdict(finding) for finding in self.findings]}


def check_throttles(samples: Iterable[Sample], limits: Limits,
                    tolerance: Tolerance | None = None) -> ThrottleCheck:
    tolerance = tolerance or Tolerance()
    samples = list(samples)
    if not limits.throttled or not samples:
        return ThrottleCheck((), limits, tolerance)
    return ThrottleCheck((_burst(samples, limits, tolerance), _rate(samples, limits, tolerance)),
                         limits, tolerance)


def _burst(samples: list[Sample], limits: Limits, tolerance: Tolerance) -> Finding:
    first = [sample for sample in samples if sample.sent < 1.0]
    offered = len(first)
    admitted = sum(1 for sample in first if sample.admitted)
    throttled = sum(1 for sample in first if sample.throttled)
    answered_by = max((sample.answered_at for sample in first), default=1.0)
    allowed = tolerance.allowed(limits, answered_by)
    figures = {"offered": offered, "admitted": admitted, "throttled_429": throttled,
               "answered_by_s": round(answered_by, 3),
               "bound": math.floor(limits.allowed(answered_by)), "allowed": allowed,
               "burst": limits.burst, "rate": limits.rate}
    said = (f"first second: {offered} sent, {admitted} admitted, {throttled} answered 429 "
            f"(all answered by {answered_by:.2f} s, when the buckets allow "
            f"{figures['bound']}, {allowed} with the tolerance)")
    if offered <= allowed:
        return Finding("burst", "not exercised", f"{said}: nothing to throttle", figures)
    beyond = offered - allowed
    held = admitted <= allowed and throttled >= beyond
    return Finding("burst", "pass" if held else "fail",
                   f"{said}: {'' if held else 'not '}every request past the burst was "
                   f"answered 429 ({beyond} at least should be)", figures)


def _rate(samples: list[Sample], limits: Limits, tolerance: Tolerance) -> Finding:
    end = max(sample.answered_at for sample in samples)
    windows = sorted({float(second) for second in range(1, math.floor(end) + 1)} | {end})
    answers = sorted(sample.answered_at for sample in samples if sample.admitted)
    sends = sorted(sample.sent for sample in samples)
    worst: tuple[int, float, int, int] | None = None  # (excess, window, admitted, allowed)
    exercised = False
    for window in windows:
        admitted = sum(1 for at in answers if at <= window)
        allowed = tolerance.allowed(limits, window)
        exercised = exercised or sum(1 for at in sends if at <= window) > allowed
        if worst is None or admitted - allowed > worst[0]:
            worst = (admitted - allowed, window, admitted, allowed)
    assert worst is not None
    excess, window, admitted_at_worst, allowed_at_worst = worst
    total = len(answers)
    later = sum(1 for sample in samples if sample.admitted and sample.sent >= 1.0)
    figures = {"span_s": round(end, 3), "admitted": total,
               "admitted_rps": round(total / end, 2),
               "admitted_rps_after_first_second": round(later / (end - 1.0), 2)
               if end > 1.0 else float("nan"),
               "rate": limits.rate, "burst": limits.burst,
               "bound": math.floor(limits.allowed(end)),
               "allowed": tolerance.allowed(limits, end),
               "allowed_rps": round(tolerance.allowed(limits, end) / end, 2),
               "closest_window_s": round(window, 3), "closest_admitted": admitted_at_worst,
               "closest_allowed": allowed_at_worst}
    said = (f"{total} admitted in {end:.1f} s ({figures['admitted_rps']}/s, "
            f"{figures['admitted_rps_after_first_second']}/s after the first second) against "
            f"a rate of {limits.rate:g}/s and a burst of {limits.burst} ({figures['bound']} "
            f"in {end:.1f} s, {figures['allowed']} with the tolerance); closest to the bound "
            f"at {window:.1f} s: {admitted_at_worst} admitted of {allowed_at_worst} allowed")
    if excess > 0:
        return Finding("rate", "fail", f"{said}: the back end saw more than the configured "
                       "rate", figures)
    if not exercised:
        return Finding("rate", "not exercised", f"{said}: the run never sent more than the "
                       "buckets allow", figures)
    return Finding("rate", "pass", f"{said}: within the configured rate", figures)
