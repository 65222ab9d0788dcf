"""The throttles a request meets, read from the dev stack's plan."""

from __future__ import annotations

import pytest

from loadtest.limits import KeyPlacement, LimitsError, find_api, path_matches, read_limits
from tests.support import planned
from tools.mock_runtime import StackRun


@pytest.fixture(scope="module")
def dev() -> StackRun:
    return planned("dev")


def test_query_key_api_is_a_rest_api_that_takes_its_key_in_the_query(dev: StackRun) -> None:
    api = find_api(dev, "queryKeyApi-api")
    assert (api.kind, api.stage, api.region) == ("REST", "dev", "eu-west-1")
    assert api.key_placement == KeyPlacement("query", "apiKey")
    assert api.public_origin == f"https://{api.api_id}.execute-api.eu-west-1.amazonaws.com"
    assert api.stage_path == "/dev"


def test_the_free_tier_meets_the_stage_throttle_then_its_usage_plan(dev: StackRun) -> None:
    api = find_api(dev, "queryKeyApi-api")
    limits = read_limits(dev, api, "GET", "/customizations/abc", "trial-partner")
    # The stage's default is every tier's limits added up (5 + 100, 10 + 200): Pulumi.dev.yaml.
    assert [(b.rate, b.burst) for b in limits.buckets] == [(105, 210), (5, 10)]
    assert "*/*" in limits.buckets[0].source
    assert "queryKeyApi-plans-free" in limits.buckets[1].source
    assert limits.quota is not None
    assert (limits.quota.limit, limits.quota.period) == (1000, "DAY")
    assert (limits.rate, limits.burst) == (5, 10)
    assert limits.allowed(1.0) == 15


def test_a_method_throttle_of_the_usage_plan_wins_over_its_default(dev: StackRun) -> None:
    api = find_api(dev, "queryKeyApi-api")
    post = read_limits(dev, api, "POST", "/customizations", "wild-rydes-partner")
    assert [(b.rate, b.burst) for b in post.buckets] == [(105, 210), (20, 40)]
    assert "/customizations/POST" in post.buckets[1].source
    get = read_limits(dev, api, "GET", "/customizations/abc?x=1", "wild-rydes-partner")
    assert [(b.rate, b.burst) for b in get.buckets] == [(105, 210), (100, 200)]


def test_without_a_key_only_the_stage_throttles(dev: StackRun) -> None:
    api = find_api(dev, "queryKeyApi-api")
    limits = read_limits(dev, api, "GET", "/customizations/abc")
    assert [(b.rate, b.burst) for b in limits.buckets] == [(105, 210)]
    assert limits.quota is None


def test_a_method_setting_of_the_stage_wins_over_its_default(dev: StackRun) -> None:
    api = find_api(dev, "eventManagement-api")
    assert api.key_placement == KeyPlacement("header", "x-api-key")
    limits = read_limits(dev, api, "POST", "/sessions/s-1/registrations")
    assert "sessions/{sessionId}/registrations/POST" in limits.buckets[0].source
    other = read_limits(dev, api, "GET", "/sessions")
    assert "*/*" in other.buckets[0].source


def test_an_http_api_is_throttled_by_its_stage_route_settings(dev: StackRun) -> None:
    api = find_api(dev, "entityResolution-api")
    assert (api.kind, api.stage, api.stage_path) == ("HTTP", "$default", "")
    limits = read_limits(dev, api, "POST", "/match")
    assert [(b.rate, b.burst) for b in limits.buckets] == [(50, 100)]
    with pytest.raises(LimitsError, match="no API keys or usage plans"):
        read_limits(dev, api, "POST", "/match", "trial-partner")


def test_unknown_apis_stages_and_keys_are_named_with_what_there_is(dev: StackRun) -> None:
    with pytest.raises(LimitsError, match=r"no API 'nope'; its APIs are .*queryKeyApi-api"):
        find_api(dev, "nope")
    with pytest.raises(LimitsError, match="has the stages dev: not 'prod'"):
        find_api(dev, "queryKeyApi-api", "prod")
    api = find_api(dev, "queryKeyApi-api")
    with pytest.raises(LimitsError, match="no API key 'nobody'; its keys are trial-partner"):
        read_limits(dev, api, "GET", "/customizations", "nobody")


@pytest.mark.parametrize(("template", "path", "matches"), [
    ("/customizations/{id}", "/customizations/abc", True),
    ("/customizations/{id}", "/customizations", False),
    ("/customizations/{id}", "/customizations/a/b", False),
    ("/customizations", "/customizations/", True),
    ("/files/{proxy+}", "/files/a/b/c", True),
    ("/files/{proxy+}", "/files", False),
    ("*", "/anything/at/all", True),
    ("/a/b", "/a/c", False),
    ("/match", "/match?name=x", True),
])
def test_paths_match_resource_templates(template: str, path: str, matches: bool) -> None:
    assert path_matches(template, path) is matches
