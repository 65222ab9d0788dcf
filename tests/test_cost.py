"""The cost estimate (tools/cost.py, ``plan --cost``): small stacks priced by hand to the cent,
the gaps it must list rather than count as zero, the diff, the JSON, the command line, and the
entity resolution workload against the figure benchmarks/README.md gives."""

from __future__ import annotations

import json
import math
from decimal import Decimal
from pathlib import Path
from typing import Any

import pulumi
import pulumi_aws as aws
import pytest

from tests.support import planned
from tools import cost, plan
from tools.mock_runtime import ROOT, StackRun, run_program

# A price table of round figures, so that the hand computations below read plainly.
TABLE = """
asOf: 2026-12-03
hoursPerMonth: 730
global: {}
regions:
  eu-west-1:
    vpc.natGateway.hour: {usd: 0.048, unit: hours, source: test}
    vpc.natGateway.gb: {usd: 0.048, unit: GB, source: test}
    kms.key.month: {usd: 1.00, unit: key-months, source: test}
    cloudwatch.alarm.metric: {usd: 0.10, unit: alarm metrics, source: test}
    lambda.requests: {usd: 0.20, per: 1000000, unit: requests, source: test}
    lambda.arm64.gbSecond: {usd: 0.0000133334, unit: GB-seconds, source: test}
"""


@pytest.fixture(scope="module")
def prices(tmp_path_factory: pytest.TempPathFactory) -> cost.PriceTable:
    path = tmp_path_factory.mktemp("prices") / "prices.yaml"
    path.write_text(TABLE)
    return cost.load_prices(path)


def small_stack(region: str = "eu-west-1", extra: bool = False) -> StackRun:
    """A NAT gateway, a KMS key, two alarms and a 512 MB arm64 function, none in a service
    (so all in "stack"); ``extra`` adds an EC2 instance, a type with no price rule."""
    def program() -> None:
        opts = pulumi.ResourceOptions(provider=aws.Provider("p", region=region))
        aws.ec2.NatGateway("nat", subnet_id="subnet-1", allocation_id="eipalloc-1", opts=opts)
        aws.kms.Key("key", opts=opts)
        for name in ("errors", "throttles"):
            aws.cloudwatch.MetricAlarm(name, comparison_operator="GreaterThanThreshold",
                                       evaluation_periods=1, metric_name="Errors",
                                       namespace="AWS/Lambda", period=60, statistic="Sum",
                                       threshold=1, opts=opts)
        aws.lambda_.Function("fn", role="arn:aws:iam::111111111111:role/r", runtime="python3.13",
                             handler="app.handler", memory_size=512, architectures=["arm64"],
                             code=pulumi.AssetArchive({}), opts=opts)
        if extra:
            aws.ec2.Instance("box", ami="ami-1", instance_type="t4g.nano", opts=opts)

    return run_program(program)


USAGE = {"services": {"stack": {"natGb": 10, "functions": {
    "fn": {"invocations": 1_000_000, "durationMs": 99.2}}}}}


def test_a_small_stack_costs_what_the_hand_computation_says(prices: cost.PriceTable) -> None:
    result = cost.estimate(small_stack(), cost.check_usage(USAGE), prices)
    nat = Decimal("730") * Decimal("0.048") + 10 * Decimal("0.048")  # 35.04 + 0.48
    key = Decimal("1.00")
    alarms = 2 * Decimal("0.10")
    requests = Decimal("0.20")                                     # 1 M requests
    # 99.2 ms is billed as 100 ms: 1 M x 0.1 s x 0.5 GB = 50,000 GB-s
    duration = Decimal(50_000) * Decimal("0.0000133334")           # 0.66667
    hand = nat + key + alarms + requests + duration                # 37.58667
    assert result.total == Decimal("37.59") == cost.cents(hand)
    assert result.services() == {"stack": Decimal("37.59")}
    assert not result.unpriced
    assert not result.no_usage
    fn = [line for line in result.lines if line.item.startswith("fn: ")]
    assert {line.price.key: line.quantity for line in fn} == {
        "lambda.requests": Decimal(1_000_000), "lambda.arm64.gbSecond": Decimal(50_000)}


def test_the_mean_billed_ms_of_a_benchmark_is_taken_as_it_is(
        prices: cost.PriceTable) -> None:
    usage = {"services": {"stack": {"functions": {"fn": {"invocations": 1_000_000,
                                                          "billedMs": 2.5}}}}}
    result = cost.estimate(small_stack(), cost.check_usage(usage), prices)
    line = next(x for x in result.lines if x.price.key == "lambda.arm64.gbSecond")
    assert line.quantity == Decimal(1_000_000) * Decimal("2.5") / 1000 / 2  # 1,250 GB-s


def test_unpriced_types_and_missing_usage_are_listed_not_counted(
        prices: cost.PriceTable) -> None:
    result = cost.estimate(small_stack(extra=True), {}, prices)
    assert [(u.type, u.name, u.reason) for u in result.unpriced] == [
        ("aws:ec2/instance:Instance", "box", "no price rule for this type")]
    assert [(u.name, u.reason) for u in result.no_usage] == [
        ("fn", "no functions.fn in the usage file: counted as $0")]
    # NAT hours, the key and the alarms only: 35.04 + 1.00 + 0.20
    assert result.total == Decimal("36.24")
    text = cost.report(result)
    assert "Not priced (1; not in the total):" in text
    assert "aws:ec2/instance:Instance box: no price rule for this type" in text
    assert "No usage given (1; counted as $0):" in text


def test_an_unknown_region_is_listed_and_counts_nothing(prices: cost.PriceTable) -> None:
    result = cost.estimate(small_stack(region="ap-southeast-7"), cost.check_usage(USAGE),
                           prices)
    assert result.total == Decimal("0.00")
    assert not result.lines
    assert {u.name for u in result.unpriced} == {"nat", "key", "errors", "throttles", "fn"}
    assert all(u.reason == "region ap-southeast-7 is not in the price table"
               for u in result.unpriced)


def test_the_diff_says_what_a_change_adds(prices: cost.PriceTable) -> None:
    before = cost.Totals.of(cost.estimate(small_stack(), {}, prices), "before")
    after = cost.Totals.of(cost.estimate(small_stack(), cost.check_usage(USAGE), prices))
    changes = cost.diff(after, before)
    # what the usage adds: 0.48 of NAT data, 0.20 of requests, 0.66667 of duration
    assert changes == {"against": "before", "total": 1.35, "services": {"stack": 1.35}}
    assert "stack: +$1.35/month" in cost.diff_report(after, before)
    assert "total: +$1.35/month ($36.24 -> $37.59)" in cost.diff_report(after, before)
    assert "total: -$1.35/month" in cost.diff_report(before, after)


def test_every_rule_finds_its_prices_in_both_regions_of_the_table() -> None:
    table = cost.load_prices()
    assert table.as_of == "2026-12-03"
    keys = set(table.regions["us-east-1"])
    assert keys == set(table.regions["eu-west-1"])
    for region in ("us-east-1", "eu-west-1", "global"):
        for price in table.regions[region].values():
            assert price.usd > 0, (region, price.key)
            assert price.unit, (region, price.key)
            assert price.source, (region, price.key)


def test_the_dev_stack_is_attributed_to_its_services() -> None:
    result = cost.estimate(planned("dev"), cost.load_usage(ROOT / "usage.dev.yaml"),
                           cost.load_prices())
    services = result.services()
    assert {"environment", "entityResolution", "headerVersioning", "privateApi"} <= set(services)
    items = {(line.service, line.price.key) for line in result.lines}
    assert ("environment", "vpc.natGateway.hour") in items
    assert ("headerVersioning", "lambdaEdge.requests") in items  # the router runs at the edge
    assert ("privateApi", "route53resolver.endpoint.ipHour") in items
    assert ("microserviceCache", "dax.dax.t3.small.hour") in items
    assert ("containerApi", "fargate.arm64.vcpuHour") in items
    assert result.total == sum(services.values())
    assert not result.no_usage  # usage.dev.yaml covers every usage-priced resource


# --- entity resolution at 10 M requests a month, against benchmarks/README.md ---------------

def _matcher_benchmark() -> dict[str, Any]:
    document = json.loads((ROOT / "benchmarks/results/entity_resolution.json").read_text())
    return next(r for r in document["results"]
                if r["method"] == "default" and r["size"] == 1_000_000)


def _matcher_lambda(usage_entry: dict[str, Any]) -> Decimal:
    usage = {"services": {"entityResolution": {"requests": 10_000_000,
                                               "functions": {"matcher": usage_entry}}}}
    result = cost.estimate(planned("dev"), cost.check_usage(usage), cost.load_prices())
    return sum((line.monthly for line in result.lines
                if line.item.startswith("entityResolution-matcher-function")), Decimal(0))


def test_entity_resolution_at_10m_requests_matches_the_benchmark_figure() -> None:
    benchmark = _matcher_benchmark()
    matcher = planned("dev").one("aws:lambda/function:Function",
                                 "entityResolution-matcher-function")
    assert matcher.inputs["memorySize"] == benchmark["cost_10m"]["memory_mb"] == 1769
    assert list(matcher.inputs["architectures"]) == ["arm64"]
    lambda_usd = _matcher_lambda({"billedMs": benchmark["cost_10m"]["billed_ms_mean"]})
    # The benchmark's recorded "$ per 10M" (benchmarks/README.md's table), to the cent.
    recorded = Decimal(str(benchmark["cost_10m"]["lambda_usd"]))
    assert cost.cents(lambda_usd) == cost.cents(recorded)
    assert abs(lambda_usd - recorded) < Decimal("0.001")


def test_billing_the_p50_alone_falls_short_by_the_ms_rounding() -> None:
    # Every request at the p50 bills the p50 rounded up to the ms; the benchmark's mean billed
    # duration is more (the slower requests round up further). The gap is exactly the
    # difference in ms x 10 M x 1,769/1,024 GB at $0.0000133334 per GB-s.
    benchmark = _matcher_benchmark()
    at_p50 = _matcher_lambda({"durationMs": benchmark["p50_ms"]})
    gb = Decimal(1769) / 1024
    p50_billed = Decimal(math.ceil(benchmark["p50_ms"])) / 1000
    assert at_p50 == Decimal(2) + Decimal(10_000_000) * p50_billed * gb * Decimal(
        "0.0000133334")
    mean_ms = Decimal(str(benchmark["cost_10m"]["billed_ms_mean"]))
    gap = Decimal(10_000_000) * (mean_ms / 1000 - p50_billed) * gb * Decimal("0.0000133334")
    mean = _matcher_lambda({"billedMs": benchmark["cost_10m"]["billed_ms_mean"]})
    assert mean - at_p50 == gap
    assert gap > 0


# --- the command line ------------------------------------------------------------------------

@pytest.fixture
def cached_plans(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(plan, "run_stack", planned)


def run_plan(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    status = plan.main(["--stack", "dev", "--cost", *args])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


@pytest.mark.usefixtures("cached_plans")
def test_cost_json_shape_and_the_diff_against_a_saved_estimate(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    status, out, _ = run_plan(capsys, "--json")
    assert status == 0
    document = json.loads(out)
    assert set(document) == {"stack", "asOf", "currency", "usageFile", "total", "services",
                             "lines", "unpriced", "noUsage", "free", "assumptions",
                             "warnings"}
    assert document["usageFile"] == "usage.dev.yaml"
    assert document["total"] == pytest.approx(sum(document["services"].values()))
    assert set(document["lines"][0]) == {"service", "item", "quantity", "unit", "unitPrice",
                                         "region", "monthly", "priceKey", "source", "verified"}
    saved = tmp_path / "before.json"
    document["services"]["environment"] -= 12.4
    document["total"] -= 12.4
    saved.write_text(json.dumps(document))
    status, out, _ = run_plan(capsys, "--against", str(saved))
    assert status == 0
    assert "environment: +$12.40/month" in out
    assert "total: +$12.40/month" in out
    status, out, _ = run_plan(capsys, "--json", "--against", str(saved))
    assert json.loads(out)["diff"]["services"] == {"environment": pytest.approx(12.4)}


@pytest.mark.usefixtures("cached_plans")
def test_the_text_report_names_the_usage_file_and_the_total(
        capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run_plan(capsys)
    assert status == 0
    assert "Usage: usage.dev.yaml" in out
    assert "Total: $" in out
    assert "Not priced" in out


@pytest.mark.usefixtures("cached_plans")
@pytest.mark.parametrize(("text", "message"), [
    ("services:\n  entityResolution:\n    requestz: 10\n",
     "services.entityResolution.requestz: unknown usage key"),
    ("services:\n  entityResolution:\n    functions:\n      matcher: {durationMs: fast}\n",
     "services.entityResolution.functions.matcher.durationMs: expected a number, got 'fast'"),
    ("services:\n  entityResolution:\n    functions:\n      matcher: {invocations: 5}\n",
     "services.entityResolution.functions.matcher: give durationMs"),
    ("services: [1, 2\n", "not valid YAML"),
])
def test_a_bad_usage_file_exits_1_naming_the_file_and_the_key(
        capsys: pytest.CaptureFixture[str], tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "usage.yaml"
    path.write_text(text)
    status, out, err = run_plan(capsys, "--usage", str(path))
    assert status == 1
    assert not out
    assert err.startswith(f"error: {path}")
    assert message in err
    assert "Traceback" not in err


def test_usage_errors_on_the_command_line_exit_2(capsys: pytest.CaptureFixture[str],
                                                 tmp_path: Path) -> None:
    for args in (["--cost", "--usage", str(tmp_path / "missing.yaml")],
                 ["--usage", str(tmp_path / "missing.yaml")],
                 ["--cost", "--against", "no-such-stack"]):
        with pytest.raises(SystemExit) as exit_:
            plan.main(["--stack", "dev", *args])
        assert exit_.value.code == 2
    assert "missing.yaml" in capsys.readouterr().err


@pytest.mark.usefixtures("cached_plans")
def test_against_a_stack_plans_it_with_its_own_usage(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run_plan(capsys, "--against", "dev")
    assert status == 0
    assert "Against stack dev (usage.dev.yaml)" in out
    assert "no service changes" in out
    assert "total: +$0.00/month" in out
