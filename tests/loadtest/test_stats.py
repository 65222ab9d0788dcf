"""The run's figures: percentiles, counts by status, throughput and the per-second view."""

from __future__ import annotations

import pytest

from loadtest.stats import (
    QUOTA,
    THROTTLED,
    Latency,
    Sample,
    percentile,
    reason_of_429,
    summarize,
    timeline,
)


def test_percentiles_are_nearest_rank_values_that_were_measured() -> None:
    values = [float((value * 37) % 100 + 1) for value in range(100)]  # 1..100, shuffled
    assert sorted(values) == [float(value) for value in range(1, 101)]
    assert [percentile(values, p) for p in (50, 95, 99, 100)] == [50.0, 95.0, 99.0, 100.0]
    assert percentile([3.0, 1.0, 2.0], 50) == 2.0
    assert percentile([3.0, 1.0, 2.0], 99) == 3.0
    assert percentile([42.0], 1) == 42.0


@pytest.mark.parametrize(("values", "percent", "message"), [
    ([], 50, "no values"), ([1.0], 0, "percent must be"), ([1.0], 101, "percent must be")])
def test_a_percentile_of_nothing_or_out_of_range_is_an_error(values: list[float], percent: float,
                                                             message: str) -> None:
    with pytest.raises(ValueError, match=message):
        percentile(values, percent)


def test_latency_summary() -> None:
    latency = Latency.of([10.0, 20.0, 30.0, 40.0])
    assert latency == Latency(count=4, p50_ms=20.0, p95_ms=40.0, p99_ms=40.0, max_ms=40.0,
                              mean_ms=25.0)
    assert Latency.of([]) is None


def _samples() -> list[Sample]:
    return [
        Sample(0, 0.0, 0.00, 100.0, 200),
        Sample(1, 0.0, 0.01, 120.0, 201),
        Sample(2, 0.0, 0.01, 5.0, 429, THROTTLED),
        Sample(3, 0.0, 0.02, 6.0, 429, QUOTA),
        Sample(4, 0.5, 0.52, 50.0, 404),
        Sample(5, 1.0, 1.00, 8.0, 403),
        Sample(6, 1.5, 1.60, 10000.0, 0, "ConnectionRefusedError"),
        Sample(7, 2.0, 2.00, 500.0, 500),
    ]


def test_a_summary_counts_each_kind_of_answer() -> None:
    summary = summarize(_samples())
    assert summary.requests == 8
    assert summary.answered == 7
    assert summary.statuses == {"0": 1, "200": 1, "201": 1, "403": 1, "404": 1, "429": 2,
                                "500": 1}
    assert (summary.throttled_429, summary.quota_429) == (1, 1)
    assert summary.refused == 1
    assert summary.no_answer == 1
    # Admitted: neither a 429 nor a refusal; a request with no answer may have passed.
    assert summary.admitted == 5


def test_throughput_is_per_second_from_the_first_send_to_the_last_answer() -> None:
    summary = summarize(_samples())
    assert summary.span_s == pytest.approx(11.6)  # the unanswered request gave up at 11.6 s
    assert summary.throughput_rps == pytest.approx(7 / 11.6, abs=0.01)
    assert summary.admitted_rps == pytest.approx(5 / 11.6, abs=0.01)


def test_latency_is_of_answers_and_of_admitted_answers_apart() -> None:
    summary = summarize(_samples())
    assert summary.latency is not None
    assert summary.latency_admitted is not None
    assert summary.latency.count == 7
    assert summary.latency.p50_ms == 50.0
    # Without the fast 429s and the refusal: 50, 100, 120, 500.
    assert summary.latency_admitted.count == 4
    assert summary.latency_admitted.p50_ms == 100.0
    assert summary.latency_admitted.p99_ms == 500.0


def test_send_lag_is_how_late_requests_left_against_the_schedule() -> None:
    assert summarize(_samples()).send_lag_p99_ms == pytest.approx(100.0)


def test_the_timeline_counts_each_second_by_send_time() -> None:
    rows = timeline(_samples())
    assert [(r.second, r.sent, r.admitted, r.throttled_429) for r in rows] == [
        (0, 5, 3, 2), (1, 2, 1, 0), (2, 1, 1, 0)]


def test_a_429_is_told_apart_by_its_message() -> None:
    assert reason_of_429(b'{"message":"Limit Exceeded"}') == QUOTA
    assert reason_of_429(b'{"message":"Too Many Requests"}') == THROTTLED
    assert reason_of_429(b"") == THROTTLED


def test_an_empty_run_has_no_summary() -> None:
    with pytest.raises(ValueError, match="no samples"):
        summarize([])
