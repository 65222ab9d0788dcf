"""The throttle check on synthetic runs: a gateway whose buckets hold, and ones whose don't."""

from __future__ import annotations

import pytest

from loadtest.check import Tolerance, check_throttles
from loadtest.limits import Bucket, Limits
from loadtest.profiles import Profile, ProfileKind
from loadtest.stats import THROTTLED, Sample

FREE = Limits((Bucket(105, 210, "stage */*"), Bucket(5, 10, "usage plan free")))


def gateway(schedule: list[float], rate: float, burst: int, *, latency_s: float = 0.01,
            throttle_latency_s: float = 0.002) -> list[Sample]:
    """What a gateway with one token bucket (full at 0) answers to ``schedule``: admitted
    requests answered 200 after ``latency_s``, the others 429 at once."""
    tokens, at, samples = float(burst), 0.0, []
    for slot, offset in enumerate(schedule):
        tokens = min(float(burst), tokens + (offset - at) * rate)
        at = offset
        if tokens >= 1:
            tokens -= 1
            samples.append(Sample(slot, offset, offset, latency_s * 1000, 200))
        else:
            samples.append(Sample(slot, offset, offset, throttle_latency_s * 1000, 429,
                                  THROTTLED))
    return samples


BURST_RUN = Profile(ProfileKind.BURST, rate=10, duration=5, burst=30).schedule()


def test_a_gateway_that_holds_the_free_tier_passes() -> None:
    check = check_throttles(gateway(BURST_RUN, rate=5, burst=10), FREE)
    assert check.verdict == "pass"
    assert not check.failed
    burst = check.finding("burst")
    assert burst.verdict == "pass"
    assert burst.figures["offered"] == 39  # 30 at once, then 0.1 .. 0.9 s
    assert burst.figures["throttled_429"] == burst.figures["offered"] - burst.figures["admitted"]
    assert check.finding("rate").verdict == "pass"


def test_a_gateway_that_throttles_nothing_fails_both_parts() -> None:
    check = check_throttles(gateway(BURST_RUN, rate=1000, burst=1000), FREE)
    assert check.verdict == "fail"
    assert check.failed
    assert [f.verdict for f in check.findings] == ["fail", "fail"]
    assert "not every request past the burst was answered 429" in check.finding("burst").detail
    assert "more than the configured rate" in check.finding("rate").detail


def test_a_bucket_refilling_too_fast_fails_the_rate_even_when_the_burst_holds() -> None:
    steady = Profile(ProfileKind.STEADY, rate=10, duration=10).schedule()
    check = check_throttles(gateway(steady, rate=8, burst=10), FREE)
    # 10 a second never exceeds the first second's bound (10 + 5): nothing to throttle there.
    assert check.finding("burst").verdict == "not exercised"
    rate = check.finding("rate")
    assert rate.verdict == "fail"
    assert rate.figures["admitted"] > rate.figures["allowed"]


def test_a_run_within_the_limits_is_not_exercised() -> None:
    steady = Profile(ProfileKind.STEADY, rate=4, duration=5).schedule()
    check = check_throttles(gateway(steady, rate=5, burst=10), FREE)
    assert check.verdict == "not exercised"
    assert not check.failed


def test_a_request_with_no_throttle_has_nothing_to_check() -> None:
    check = check_throttles(gateway(BURST_RUN, rate=1000, burst=1000), Limits())
    assert check.verdict == "no throttle"
    assert check.findings == ()


def test_slow_answers_do_not_make_a_holding_gateway_fail() -> None:
    """Admission happens between send and answer: a request counts from its answer, so a
    back end answering in 3 s cannot push admissions into an earlier window."""
    check = check_throttles(gateway(BURST_RUN, rate=5, burst=10, latency_s=3.0), FREE)
    assert check.verdict == "pass"


def test_429s_answered_in_place_of_other_refusals_are_required_past_the_burst() -> None:
    samples = gateway(BURST_RUN, rate=5, burst=10)
    # The gateway answers 500 rather than 429 past the burst: admitted, as far as the check
    # can tell, and too many.
    broken = [Sample(s.slot, s.scheduled, s.sent, s.latency_ms, 500) if s.throttled else s
              for s in samples]
    assert check_throttles(broken, FREE).finding("burst").verdict == "fail"


def test_the_tolerance_adds_a_share_of_the_bound_and_whole_requests() -> None:
    limits = Limits((Bucket(5, 10, "plan"),))
    assert Tolerance(0, 0).allowed(limits, 2.0) == 20
    assert Tolerance().allowed(limits, 2.0) == 22  # 20 + 5 % + 1
    assert Tolerance(50, 3).allowed(limits, 1.5) == 28  # 17.5 -> 17, * 1.5 -> 25, + 3
    with pytest.raises(ValueError, match="cannot be negative"):
        Tolerance(-1)


def test_buckets_in_series_allow_the_least_of_them() -> None:
    limits = Limits((Bucket(100, 10, "stage"), Bucket(5, 200, "plan")))
    assert limits.allowed(0) == 10      # the stage's small burst first
    assert limits.allowed(10) == 250    # then the plan's low rate
    assert limits.binding(0) == limits.buckets[0]
    assert limits.binding(10) == limits.buckets[1]
    assert (limits.rate, limits.burst) == (5, 10)
