"""The throttles a request meets, read from the stack's plan (``tools.mock_runtime.run_stack``).

API Gateway puts a request through token buckets in series; each holds at most ``burst``
tokens and gains ``rate`` a second, and a request that finds one empty is answered 429:

- **REST APIs**: the stage's method settings (``aws:apigateway/methodSettings``): the method's
  own ``resource/METHOD`` entry, else ``*/*``. With an API key, the key's usage plan too: its
  throttle for the method (``apiStages[].throttles``, ``/resource/METHOD``), else its
  ``throttleSettings``. The usage plan's quota (``quotaSettings``) answers 429 once spent.
- **HTTP APIs**: the stage's ``routeSettings`` for the route the request takes, else its
  ``defaultRouteSettings``.

Unset limits (absent, or ``-1``) are no bucket here; in AWS the account's own limit (10,000
requests a second, a burst of 5,000 per region) still applies.

Buckets in series that start full let through at most ``min(burst + rate * t)`` requests in the
first ``t`` seconds (``Limits.allowed``): that bound is what the throttle check holds a run to.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from tools.mock_runtime import Resource, StackRun

REST_API = "aws:apigateway/restApi:RestApi"
REST_STAGE = "aws:apigateway/stage:Stage"
METHOD_SETTINGS = "aws:apigateway/methodSettings:MethodSettings"
AUTHORIZER = "aws:apigateway/authorizer:Authorizer"
API_KEY = "aws:apigateway/apiKey:ApiKey"
USAGE_PLAN = "aws:apigateway/usagePlan:UsagePlan"
USAGE_PLAN_KEY = "aws:apigateway/usagePlanKey:UsagePlanKey"
HTTP_API = "aws:apigatewayv2/api:Api"
HTTP_STAGE = "aws:apigatewayv2/stage:Stage"
HTTP_ROUTE = "aws:apigatewayv2/route:Route"
DEFAULT_KEY_HEADER = "x-api-key"


class LimitsError(Exception):
    """The plan has no such API, stage or key; the message names what there is."""


@dataclass(frozen=True)
class Bucket:
    """One token bucket: ``rate`` requests a second, ``burst`` at once; ``source`` names the
    setting it comes from."""

    rate: float
    burst: int
    source: str

    def allows(self, seconds: float) -> float:
        return self.burst + self.rate * max(0.0, seconds)


@dataclass(frozen=True)
class Quota:
    limit: int
    period: str
    offset: int
    source: str


@dataclass(frozen=True)
class Limits:
    """The buckets a request meets, in the order API Gateway applies them, and its quota."""

    buckets: tuple[Bucket, ...] = ()
    quota: Quota | None = None

    @property
    def throttled(self) -> bool:
        return bool(self.buckets)

    @property
    def rate(self) -> float:
        return min((b.rate for b in self.buckets), default=math.inf)

    @property
    def burst(self) -> int:
        return min((b.burst for b in self.buckets), default=2**31 - 1)

    def allowed(self, seconds: float) -> float:
        """The most requests the buckets let through in the first ``seconds`` (all full at 0)."""
        return min((b.allows(seconds) for b in self.buckets), default=math.inf)

    def binding(self, seconds: float) -> Bucket | None:
        """The bucket that sets ``allowed(seconds)``."""
        return min(self.buckets, key=lambda b: b.allows(seconds), default=None)

    def to_json(self) -> dict[str, Any]:
        return {"buckets": [{"rate": b.rate, "burst": b.burst, "source": b.source}
                            for b in self.buckets],
                "quota": None if self.quota is None else {
                    "limit": self.quota.limit, "period": self.quota.period,
                    "offset": self.quota.offset, "source": self.quota.source}}


@dataclass(frozen=True)
class KeyPlacement:
    """Where an API reads its key: a query parameter or a header, by name."""

    where: Literal["query", "header"]
    name: str


@dataclass(frozen=True)
class PlanApi:
    """An API of the plan, as the load test needs it."""

    resource: str
    kind: Literal["REST", "HTTP"]
    api_id: str
    stage: str
    region: str
    key_placement: KeyPlacement

    @property
    def public_origin(self) -> str:
        return f"https://{self.api_id}.execute-api.{self.region}.amazonaws.com"

    @property
    def stage_path(self) -> str:
        """The path the stage adds to the API's URL ("" for HTTP's ``$default``)."""
        return "" if self.stage == "$default" else f"/{self.stage}"


def _id(resource: Resource) -> str:
    return str(resource.id or resource.state.get("id") or resource.name)


def _values(resource: Resource) -> Mapping[str, Any]:
    return {**resource.state, **resource.inputs}


def _region(run: StackRun, resource: Resource) -> str:
    provider = run.provider_of(resource)
    region = provider.inputs.get("region") if provider is not None else None
    return str(region or "us-east-1")


def apis_of(run: StackRun) -> list[str]:
    return sorted(r.name for r in (*run.of_type(REST_API), *run.of_type(HTTP_API)))


def find_api(run: StackRun, name: str, stage: str | None = None) -> PlanApi:
    """The REST or HTTP API named ``name`` in the plan, with its one stage (or ``stage``)."""
    found = [r for r in (*run.of_type(REST_API), *run.of_type(HTTP_API)) if r.name == name]
    if not found:
        raise LimitsError(f"the {run.stack} plan has no API {name!r}; its APIs are "
                          f"{', '.join(apis_of(run)) or 'none'}")
    api = found[0]
    rest = api.type == REST_API
    api_id = _id(api)
    stages = [_values(r) for r in run.of_type(REST_STAGE if rest else HTTP_STAGE)
              if str(_values(r).get("restApi" if rest else "apiId")) == api_id]
    names = sorted(str(s.get("stageName" if rest else "name")) for s in stages)
    if stage is None and len(names) == 1:
        stage = names[0]
    if stage is None or stage not in names:
        raise LimitsError(f"{name} has the stages {', '.join(names) or 'none'}: "
                          + ("name one with --stage" if stage is None
                             else f"not {stage!r}"))
    return PlanApi(name, "REST" if rest else "HTTP", api_id, stage, _region(run, api),
                   _key_placement(run, api, api_id) if rest
                   else KeyPlacement("header", DEFAULT_KEY_HEADER))


def _key_placement(run: StackRun, api: Resource, api_id: str) -> KeyPlacement:
    """``x-api-key`` for ``apiKeySource: HEADER``; for ``AUTHORIZER``, the request parameter
    the API's REQUEST authorizer takes as its identity (``?apiKey=`` for queryKeyApi). An
    authorizer with no identity source reads the key where it likes: the header is sent."""
    if str(_values(api).get("apiKeySource") or "HEADER") != "AUTHORIZER":
        return KeyPlacement("header", DEFAULT_KEY_HEADER)
    for authorizer in run.of_type(AUTHORIZER):
        values = _values(authorizer)
        if str(values.get("restApi")) != api_id or values.get("type") != "REQUEST":
            continue
        for source in str(values.get("identitySource") or "").split(","):
            kind, _, parameter = source.strip().removeprefix("method.request.").partition(".")
            if kind == "querystring" and parameter:
                return KeyPlacement("query", parameter)
            if kind == "header" and parameter:
                return KeyPlacement("header", parameter)
    return KeyPlacement("header", DEFAULT_KEY_HEADER)


# --- matching a request to settings ------------------------------------------------------------

def _segments(path: str) -> list[str]:
    return [part for part in path.split("?", 1)[0].strip("/").split("/") if part]


def path_matches(template: str, path: str) -> bool:
    """Whether ``path`` (``/customizations/abc``) is one of ``template``'s
    (``/customizations/{id}``; ``{name+}`` takes the rest; ``*`` takes any path)."""
    if template.strip("/") == "*":
        return True
    pattern, wanted = _segments(template), _segments(path)
    for index, part in enumerate(pattern):
        if part.startswith("{") and part.endswith("+}"):
            return len(wanted) > index
        if index >= len(wanted):
            return False
        if not (part.startswith("{") and part.endswith("}")) and part != wanted[index]:
            return False
    return len(pattern) == len(wanted)


def _specificity(template: str, method: str) -> tuple[int, int, int]:
    """Higher is more specific: a named method, then literal segments, then any segments."""
    parts = _segments(template) if template.strip("/") != "*" else []
    literal = sum(1 for part in parts if not part.startswith("{"))
    return (0 if method in ("*", "ANY") else 1, literal, len(parts))


def _split_method_path(method_path: str) -> tuple[str, str]:
    """``customizations/{id}/GET`` (``~1`` escapes a ``/``) -> ``("/customizations/{id}",
    "GET")``; ``*/*`` -> ``("*", "*")``."""
    path, _, method = method_path.replace("~1", "/").rpartition("/")
    return ("*" if path.strip("/") == "*" else "/" + path.strip("/")), method.upper()


def _bucket(settings: Mapping[str, Any], rate_key: str, burst_key: str,
            source: str) -> Bucket | None:
    rate, burst = settings.get(rate_key), settings.get(burst_key)
    unset = (None, -1, "-1")
    if rate in unset and burst in unset:
        return None
    return Bucket(float(rate) if rate not in unset else math.inf,
                  int(burst) if burst not in unset else 2**31 - 1, source)


# --- reading the limits ------------------------------------------------------------------------

def read_limits(run: StackRun, api: PlanApi, method: str, path: str,
                key: str | None = None) -> Limits:
    """The buckets (and quota) that ``method path`` meets on ``api``'s stage, with the usage
    plan of the API key named ``key`` if one is given."""
    method = method.upper()
    if api.kind == "HTTP":
        if key is not None:
            raise LimitsError(f"{api.resource} is an HTTP API: it has no API keys or usage "
                              "plans")
        return Limits(tuple(b for b in [_http_bucket(run, api, method, path)] if b))
    buckets = [b for b in [_stage_bucket(run, api, method, path)] if b]
    quota = None
    if key is not None:
        plan_bucket, quota = _usage_plan(run, api, method, path, key)
        if plan_bucket is not None:
            buckets.append(plan_bucket)
    return Limits(tuple(buckets), quota)


def _stage_bucket(run: StackRun, api: PlanApi, method: str, path: str) -> Bucket | None:
    candidates = []
    for resource in run.of_type(METHOD_SETTINGS):
        values = _values(resource)
        if str(values.get("restApi")) != api.api_id or values.get("stageName") != api.stage:
            continue
        template, wanted = _split_method_path(str(values.get("methodPath") or ""))
        if wanted not in ("*", method) or not path_matches(template, path):
            continue
        bucket = _bucket(values.get("settings") or {}, "throttlingRateLimit",
                         "throttlingBurstLimit",
                         f"stage {api.stage} method settings {values.get('methodPath')} "
                         f"({resource.name})")
        if bucket is not None:
            candidates.append((_specificity(template, wanted), bucket))
    return max(candidates, key=lambda c: c[0])[1] if candidates else None


def _usage_plan(run: StackRun, api: PlanApi, method: str, path: str,
                key: str) -> tuple[Bucket | None, Quota | None]:
    keys = [r for r in run.of_type(API_KEY) if key in (_values(r).get("name"), r.name)]
    if not keys:
        names = sorted(str(_values(r).get("name") or r.name) for r in run.of_type(API_KEY))
        raise LimitsError(f"the {run.stack} plan has no API key {key!r}; its keys are "
                          f"{', '.join(names) or 'none'}")
    key_id = _id(keys[0])
    plan_ids = {str(_values(r).get("usagePlanId")) for r in run.of_type(USAGE_PLAN_KEY)
                if str(_values(r).get("keyId")) == key_id
                and _values(r).get("keyType", "API_KEY") == "API_KEY"}
    for plan in run.of_type(USAGE_PLAN):
        values = _values(plan)
        if _id(plan) not in plan_ids:
            continue
        stage = next((s for s in values.get("apiStages") or ()
                      if str(s.get("apiId")) == api.api_id and s.get("stage") == api.stage),
                     None)
        if stage is None:
            continue
        name = f"usage plan {plan.name} (key {key})"
        bucket = None
        for throttle in stage.get("throttles") or ():
            template, wanted = _split_method_path(str(throttle.get("path") or ""))
            if wanted in ("*", method) and path_matches(template, path):
                bucket = _bucket(throttle, "rateLimit", "burstLimit",
                                 f"{name}, method throttle {throttle.get('path')}")
                break
        else:
            bucket = _bucket(values.get("throttleSettings") or {}, "rateLimit", "burstLimit",
                             name)
        quota_settings = values.get("quotaSettings")
        quota = Quota(int(quota_settings["limit"]), str(quota_settings.get("period") or "DAY"),
                      int(quota_settings.get("offset") or 0), name) if quota_settings else None
        return bucket, quota
    raise LimitsError(f"API key {key!r} is in no usage plan of {api.resource}'s stage "
                      f"{api.stage}")


def _http_bucket(run: StackRun, api: PlanApi, method: str, path: str) -> Bucket | None:
    stage = next(_values(r) for r in run.of_type(HTTP_STAGE)
                 if str(_values(r).get("apiId")) == api.api_id
                 and _values(r).get("name") == api.stage)
    route = _http_route(run, api, method, path)
    for settings in stage.get("routeSettings") or ():
        if route is not None and settings.get("routeKey") == route:
            return _bucket(settings, "throttlingRateLimit", "throttlingBurstLimit",
                           f"stage {api.stage} route settings {route!r}")
    return _bucket(stage.get("defaultRouteSettings") or {}, "throttlingRateLimit",
                   "throttlingBurstLimit", f"stage {api.stage} default route settings")


def _http_route(run: StackRun, api: PlanApi, method: str, path: str) -> str | None:
    """The route key an HTTP API picks for ``method path``: the most specific match, then
    ``$default``."""
    keys: Sequence[str] = [str(_values(r).get("routeKey")) for r in run.of_type(HTTP_ROUTE)
                           if str(_values(r).get("apiId")) == api.api_id]
    matching = []
    for route_key in keys:
        route_method, _, template = route_key.partition(" ")
        if template and route_method in ("ANY", method) and path_matches(template, path):
            matching.append((_specificity(template, route_method), route_key))
    if matching:
        return max(matching)[1]
    return "$default" if "$default" in keys else None

