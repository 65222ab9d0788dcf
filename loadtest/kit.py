"""One load test, start to finish: the request with its credentials, the Locust run, the
figures and the throttle check. ``python -m loadtest`` and the benchmark both run it."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Literal
from urllib.parse import quote

from loadtest.check import ThrottleCheck, Tolerance, check_throttles
from loadtest.drive import LoadRun, LoadSpec, default_users, run_load
from loadtest.limits import Limits, PlanApi, read_limits
from loadtest.profiles import Profile
from loadtest.stats import Second, Summary, summarize, timeline
from loadtest.target import Endpoint, TargetError
from tools.mock_runtime import StackRun

AuthKind = Literal["none", "key", "sigv4", "jwt"]


@dataclass(frozen=True)
class Auth:
    """How requests prove who sends them: an API key by name (its value from the run file, the
    stack's secret outputs, or ``key_value``), SigV4 (the default credential chain), or a
    bearer JWT."""

    kind: AuthKind = "none"
    key_name: str | None = None
    key_value: str | None = None
    token: str | None = None

    def describe(self, api: PlanApi) -> str:
        if self.kind == "key":
            placement = api.key_placement
            return (f"API key {self.key_name} (in the {placement.where} as "
                    f"{placement.name})")
        return {"none": "no credentials", "sigv4": f"SigV4 for execute-api in {api.region}",
                "jwt": "a bearer JWT"}[self.kind]


@dataclass(frozen=True)
class Call:
    """The request every slot of the schedule sends; each ``{uuid}`` in its path, header values
    and body becomes a new UUID for every request (``loadtest.placeholder``)."""

    method: str = "GET"
    path: str = "/"
    body: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.path.startswith("/"):
            raise ValueError(f"the path must start with '/', not {self.path!r}")


@dataclass(frozen=True)
class Report:
    api: str
    where: str
    url: str
    call: Call
    profile: Profile
    auth: str
    users: int
    warmup: list[int]
    complete: bool
    summary: Summary
    check: ThrottleCheck
    seconds: list[Second]
    locust: dict[str, Any]

    @property
    def exit_status(self) -> int:
        return 1 if self.check.failed or not self.complete else 0

    def to_json(self) -> dict[str, Any]:
        return {"api": self.api, "target": self.where, "url": self.url,
                "request": {"method": self.call.method, "path": self.call.path},
                "profile": {**asdict(self.profile), "kind": str(self.profile.kind),
                            "requests": self.profile.requests},
                "auth": self.auth, "users": self.users, "warmup_statuses": self.warmup,
                "complete": self.complete, "summary": self.summary.to_json(),
                "throttle_check": self.check.to_json(),
                "seconds": [asdict(second) for second in self.seconds],
                "locust": self.locust}

    def text(self) -> str:
        s = self.summary
        lines = [f"{self.api} ({self.where}, {self.url})  {self.call.method} {self.call.path}",
                 f"  auth        {self.auth}",
                 f"  profile     {self.profile.describe()}: {self.profile.requests} requests, "
                 f"{self.users} Locust users, warm-up answered {self.warmup or 'none'}",
                 "  latency ms        p50      p95      p99      max"]
        for label, latency in (("every answer", s.latency), ("admitted", s.latency_admitted)):
            if latency is not None:
                lines.append(f"    {label:<13} {latency.p50_ms:>7.1f}  {latency.p95_ms:>7.1f}  "
                             f"{latency.p99_ms:>7.1f}  {latency.max_ms:>7.1f}")
        statuses = "  ".join(f"{status}: {count}" for status, count in s.statuses.items())
        lines += [f"  throughput  {s.throughput_rps:g} answers/s, {s.admitted_rps:g} admitted/s "
                  f"over {s.span_s:.1f} s",
                  f"  statuses    {statuses}",
                  f"  429s        {s.throttled_429 + s.quota_429} ({s.throttled_429} throttled, "
                  f"{s.quota_429} over quota); refused {s.refused}; no answer {s.no_answer}",
                  f"  send lag    p99 {s.send_lag_p99_ms:g} ms behind the schedule"]
        lines += _limit_lines(self.check.limits)
        lines.append(f"throttle check: {self.check.verdict.upper()} (tolerance "
                     f"{self.check.tolerance.percent:g} % + {self.check.tolerance.requests})")
        lines += [f"  {finding.name:<6} {finding.verdict:<14} {finding.detail}"
                  for finding in self.check.findings]
        if not self.complete:
            lines.append("  the run did not complete: some requests got no answer in time")
        lines.append("  second   sent  admitted   429")
        lines += [f"  {row.second:>6}  {row.sent:>5}  {row.admitted:>8}  {row.throttled_429:>4}"
                  for row in self.seconds]
        return "\n".join(lines)


def _limit_lines(limits: Limits) -> list[str]:
    lines = [f"  limit       {bucket.rate:g}/s, burst {bucket.burst}: {bucket.source}"
             for bucket in limits.buckets] or ["  limit       none configured for this request"]
    if limits.quota is not None:
        lines.append(f"  quota       {limits.quota.limit} per {limits.quota.period}: "
                     f"{limits.quota.source}")
    return lines


def request_of(api: PlanApi, endpoint: Endpoint, call: Call,
               auth: Auth) -> tuple[str, dict[str, str]]:
    """The full URL and headers of the request, its credentials in place (SigV4 is added per
    request, in the Locust process)."""
    url = endpoint.base_url + call.path
    headers = dict(call.headers)
    if call.body is not None and not any(name.lower() == "content-type" for name in headers):
        headers["Content-Type"] = "application/json"
    if auth.kind == "key":
        value = auth.key_value or endpoint.api_keys.get(auth.key_name or "")
        if not value:
            raise TargetError(f"no value for API key {auth.key_name!r}: "
                              + ("local mode lists " + (", ".join(sorted(endpoint.api_keys))
                                                        or "none")
                                 if endpoint.where == "local" else
                                 "read the outputs with --show-secrets, or set "
                                 "LOADTEST_API_KEY"))
        if api.key_placement.where == "query":
            url += ("&" if "?" in url else "?") + f"{api.key_placement.name}={quote(value)}"
        else:
            headers[api.key_placement.name] = value
    elif auth.kind == "jwt":
        headers["Authorization"] = f"Bearer {auth.token}"
    return url, headers


def load_test(run: StackRun, api: PlanApi, endpoint: Endpoint, call: Call, profile: Profile,
              auth: Auth, *, users: int | None = None, timeout_s: float = 10.0,
              warmup: int = 1, tolerance: Tolerance | None = None) -> Report:
    limits = read_limits(run, api, call.method, call.path,
                         auth.key_name if auth.kind == "key" else None)
    url, headers = request_of(api, endpoint, call, auth)
    users = users or default_users(profile.burst, profile.rate)
    spec = LoadSpec(url=url, method=call.method.upper(), schedule=profile.schedule(),
                    users=users, headers=headers, body=call.body, timeout_s=timeout_s,
                    sigv4_region=api.region if auth.kind == "sigv4" else None,
                    name=f"{call.method.upper()} {call.path}", warmup=warmup)
    loaded: LoadRun = run_load(spec, endpoint.environment if auth.kind == "sigv4" else None)
    return Report(api.resource, endpoint.where, endpoint.base_url, call, profile,
                  auth.describe(api), loaded.users, loaded.warmup, loaded.complete,
                  summarize(loaded.samples), check_throttles(loaded.samples, limits, tolerance),
                  timeline(loaded.samples), loaded.locust)


def dumps(report: Report) -> str:
    return json.dumps(report.to_json(), indent=2, default=str)
