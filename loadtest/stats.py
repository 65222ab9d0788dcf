"""What a run measured: one ``Sample`` per request, and the figures the report gives.

Latency percentiles are nearest-rank: the p-th percentile is the smallest measured latency
that at least p % of the samples do not exceed, so every figure is one a caller really saw.
They are given for every answer and for the admitted ones apart: a 429 comes back from the
gateway's front without reaching the back end, and a run with many would otherwise look fast.

A request is **admitted** when its answer is neither a 429 (throttled, or over quota) nor a
401/403 (the gateway refused the caller: key, signature, token). Admitted requests are the ones
the stage and usage-plan throttles let through, whatever the back end then answered. A request
with no answer (status 0: a connection error or a timeout) may or may not have passed; the
throttle check counts it as admitted, which can only make the check stricter.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

NO_ANSWER = 0
THROTTLED = "throttled"  # 429 Too Many Requests: a stage or usage-plan token bucket
QUOTA = "quota"          # 429 Limit Exceeded: the usage plan's quota
REFUSED_STATUSES = frozenset({401, 403})


@dataclass(frozen=True)
class Sample:
    """One request: its place in the schedule, when it was due and sent (seconds from the
    run's start), how long its answer took, and the answer's status (0 for none). ``reason``
    tells a 429's kind (``throttled`` or ``quota``), or why there was no answer."""

    slot: int
    scheduled: float
    sent: float
    latency_ms: float
    status: int
    reason: str = ""

    @property
    def throttled(self) -> bool:
        return self.status == 429

    @property
    def refused(self) -> bool:
        return self.status in REFUSED_STATUSES

    @property
    def admitted(self) -> bool:
        """Let through by the throttles (or possibly so: no answer counts as admitted)."""
        return not (self.throttled or self.refused)

    @property
    def answered_at(self) -> float:
        return self.sent + self.latency_ms / 1000.0


def percentile(values: Sequence[float], percent: float) -> float:
    """The nearest-rank ``percent``-th percentile of ``values`` (not empty)."""
    if not values:
        raise ValueError("no values")
    if not 0 < percent <= 100:
        raise ValueError(f"percent must be in (0, 100], not {percent}")
    ordered = sorted(values)
    return ordered[max(1, math.ceil(percent / 100.0 * len(ordered))) - 1]


@dataclass(frozen=True)
class Latency:
    count: int
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float
    mean_ms: float

    @classmethod
    def of(cls, values: Sequence[float]) -> Latency | None:
        if not values:
            return None
        return cls(count=len(values), p50_ms=round(percentile(values, 50), 2),
                   p95_ms=round(percentile(values, 95), 2),
                   p99_ms=round(percentile(values, 99), 2), max_ms=round(max(values), 2),
                   mean_ms=round(sum(values) / len(values), 2))


@dataclass(frozen=True)
class Summary:
    """The run's figures: counts, throughput, latency and how late the generator sent."""

    requests: int
    answered: int
    admitted: int
    throttled_429: int   # Too Many Requests
    quota_429: int       # Limit Exceeded
    refused: int         # 401/403
    no_answer: int
    statuses: dict[str, int]
    span_s: float        # first send to last answer
    throughput_rps: float
    admitted_rps: float
    latency: Latency | None
    latency_admitted: Latency | None
    send_lag_p99_ms: float

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def summarize(samples: Iterable[Sample]) -> Summary:
    samples = sorted(samples, key=lambda sample: sample.slot)
    if not samples:
        raise ValueError("the run has no samples")
    answered = [sample for sample in samples if sample.status != NO_ANSWER]
    first = min(sample.sent for sample in samples)
    last = max(sample.answered_at for sample in samples)
    span = max(last - first, 1e-9)
    statuses = Counter(str(sample.status) for sample in samples)
    admitted = [sample for sample in samples if sample.admitted]
    lag = [max(0.0, sample.sent - sample.scheduled) * 1000.0 for sample in samples]
    return Summary(
        requests=len(samples), answered=len(answered), admitted=len(admitted),
        throttled_429=sum(1 for s in samples if s.throttled and s.reason != QUOTA),
        quota_429=sum(1 for s in samples if s.throttled and s.reason == QUOTA),
        refused=sum(1 for s in samples if s.refused),
        no_answer=len(samples) - len(answered),
        statuses=dict(sorted(statuses.items(), key=lambda item: int(item[0]))),
        span_s=round(span, 3),
        throughput_rps=round(len(answered) / span, 2),
        admitted_rps=round(len(admitted) / span, 2),
        latency=Latency.of([s.latency_ms for s in answered]),
        latency_admitted=Latency.of([s.latency_ms for s in answered if s.admitted]),
        send_lag_p99_ms=round(percentile(lag, 99), 2))


@dataclass(frozen=True)
class Second:
    """One second of the run, by send time: requests sent, admitted and answered 429."""

    second: int
    sent: int
    admitted: int
    throttled_429: int


def timeline(samples: Iterable[Sample]) -> list[Second]:
    """The run second by second (by the time each request was sent)."""
    sent: Counter[int] = Counter()
    admitted: Counter[int] = Counter()
    throttled: Counter[int] = Counter()
    for sample in samples:
        second = max(0, math.floor(sample.sent))
        sent[second] += 1
        admitted[second] += sample.admitted
        throttled[second] += sample.throttled
    return [Second(second, sent[second], admitted[second], throttled[second])
            for second in range(max(sent, default=-1) + 1)]


def reason_of_429(body: bytes) -> str:
    """``quota`` for API Gateway's ``Limit Exceeded`` answer, else ``throttled``."""
    return QUOTA if b"limit exceeded" in body.lower() else THROTTLED
