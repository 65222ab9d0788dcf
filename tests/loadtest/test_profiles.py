"""Profiles: when each request of a run is due."""

from __future__ import annotations

import pytest

from loadtest.profiles import Profile, ProfileKind, offered_within


def test_a_steady_profile_spaces_its_requests_evenly_from_zero() -> None:
    profile = Profile(ProfileKind.STEADY, rate=4, duration=2)
    schedule = profile.schedule()
    assert schedule == pytest.approx([0.0, 0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 1.75])
    assert profile.requests == len(schedule) == 8
    assert offered_within(schedule, 1.0) == 4


def test_a_burst_profile_sends_its_burst_at_once_then_the_steady_part() -> None:
    profile = Profile(ProfileKind.BURST, rate=2, duration=1.5, burst=3)
    assert profile.schedule() == pytest.approx([0.0, 0.0, 0.0, 0.5, 1.0, 1.5])
    assert profile.requests == 6
    assert profile.describe() == "burst of 3 at once, then 2 requests/s for 1.5 s"


def test_a_fractional_rate_rounds_the_count_of_steady_requests() -> None:
    assert Profile(ProfileKind.STEADY, rate=2.5, duration=3).requests == 8  # 7.5 -> 8
    assert Profile(ProfileKind.STEADY, rate=0.5, duration=10).schedule() == pytest.approx(
        [0.0, 2.0, 4.0, 6.0, 8.0])


@pytest.mark.parametrize(("kind", "rate", "duration", "burst", "message"), [
    (ProfileKind.STEADY, 0, 5, 0, "rate must be a positive"),
    (ProfileKind.STEADY, float("inf"), 5, 0, "rate must be a positive"),
    (ProfileKind.STEADY, 5, -1, 0, "duration must be a positive"),
    (ProfileKind.STEADY, 5, 5, 10, "a steady profile sends none"),
    (ProfileKind.BURST, 5, 5, 0, "at least 1 request"),
])
def test_a_bad_profile_is_refused_with_a_message_naming_the_setting(
        kind: ProfileKind, rate: float, duration: float, burst: int, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Profile(kind, rate, duration, burst)


def test_every_problem_is_named_at_once() -> None:
    with pytest.raises(ValueError, match=r"rate must.*; duration must"):
        Profile(ProfileKind.STEADY, rate=-1, duration=0)
