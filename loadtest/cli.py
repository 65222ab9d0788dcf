"""``python -m loadtest``: steady or burst load against one API of a stack, its figures, and
whether the stage and usage-plan throttles held. See ``loadtest/README.md``.

Exit status: 0 when the throttle check passed (or was not exercised, or the request meets no
throttle), 1 when it failed or the run did not complete, 2 when the test could not run.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from loadtest.check import Tolerance
from loadtest.drive import MAX_USERS, LoadTestError
from loadtest.kit import Auth, Call, dumps, load_test
from loadtest.limits import LimitsError, find_api, read_limits
from loadtest.profiles import Profile, ProfileKind
from loadtest.target import TargetError, deployed_endpoint, local_endpoint

EXAMPLES = """examples:
  # the free tier of queryKeyApi in local mode: 20 at once, then 10/s for 5 s
  python -m loadtest --api queryKeyApi-api --path /customizations/missing \\
      --profile burst --rate 10 --duration 5 --key trial-partner
  # the same API deployed, its outputs saved with
  #   pulumi stack output --stack dev --json --show-secrets > outputs.json
  python -m loadtest --target deployed --outputs outputs.json --api queryKeyApi-api \\
      --path /customizations/missing --rate 50 --duration 30 --key wild-rydes-partner
  # an IAM-authorized HTTP API, signed with the default credential chain
  python -m loadtest --api entityResolution-api --method POST --path /match \\
      --body '{"name": "Acme"}' --rate 20 --duration 10 --sigv4
  # a payment per request, each with its own paymentId ({uuid}: new for every request)
  python -m loadtest --api microserviceCache-api --method POST --path /payments \\
      --body '{"paymentId": "{uuid}", "accountId": "acct-1", "amount": 1}' \\
      --profile burst --burst 30 --rate 5 --duration 5 --sigv4
"""


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m loadtest", description=__doc__.split("\n\n")[0],
                                epilog=EXAMPLES,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    what = p.add_argument_group("what to call")
    what.add_argument("--stack", default="dev", help="the stack (Pulumi.<stack>.yaml); dev")
    what.add_argument("--api", required=True,
                      help="the API by its name in the plan, e.g. queryKeyApi-api")
    what.add_argument("--stage", help="the stage, when the API has several")
    what.add_argument("--method", default="GET", type=str.upper, help="GET by default")
    what.add_argument("--path", default="/",
                      help="the path after the stage, query string allowed; / by default. "
                      "Here, in --body and in --header values, {uuid} is a new UUID for "
                      "every request (ids that must not repeat)")
    what.add_argument("--body", help="the request body; @FILE reads it from a file")
    what.add_argument("--header", action="append", default=[], metavar="'NAME: VALUE'",
                      help="an extra header (repeatable)")
    where = p.add_argument_group("where it runs")
    where.add_argument("--target", choices=("local", "deployed"), default="local",
                       help="local mode on 127.0.0.1 (default), or the stack in AWS")
    where.add_argument("--run-file", type=Path,
                       help="local: the run file; .local-mode/<stack>.json by default")
    where.add_argument("--outputs", type=Path,
                       help="deployed: `pulumi stack output --json [--show-secrets]` saved")
    where.add_argument("--url", help="deployed: the API's base URL (stage included), when the "
                       "outputs do not give it")
    load = p.add_argument_group("the load")
    load.add_argument("--profile", choices=[kind.value for kind in ProfileKind],
                      default="steady")
    load.add_argument("--rate", type=float, required=True,
                      help="requests a second (after the burst, with --profile burst)")
    load.add_argument("--duration", type=float, default=10.0,
                      help="seconds of steady arrivals; 10 by default")
    load.add_argument("--burst", type=int,
                      help="--profile burst: requests sent at once first; twice the "
                      "configured burst by default")
    load.add_argument("--users", type=int,
                      help=f"Locust users (concurrent requests at most, {MAX_USERS} at most); "
                      "by default the burst plus half a second of the rate, plus 5")
    load.add_argument("--warmup", type=int, default=1,
                      help="requests sent before the run and left out of it; 1 by default")
    load.add_argument("--timeout", type=float, default=10.0,
                      help="seconds a request may take; 10 by default")
    auth = p.add_argument_group("credentials (one at most)").add_mutually_exclusive_group()
    auth.add_argument("--key", metavar="NAME",
                      help="the API key of this consumer, where the API reads it (its usage "
                      "plan is checked too); its value from the run file, the outputs' "
                      "secrets, or LOADTEST_API_KEY")
    auth.add_argument("--sigv4", action="store_true",
                      help="sign for execute-api with the default credential chain (local: "
                      "the embedded AWS's administrator)")
    auth.add_argument("--jwt", nargs="?", const="", metavar="TOKEN",
                      help="send Authorization: Bearer TOKEN; without TOKEN, from LOADTEST_JWT")
    report = p.add_argument_group("the report")
    report.add_argument("--tolerance", type=float, default=5.0, metavar="PERCENT",
                        help="allowance above the throttles' bound, in percent (plus one "
                        "request); 5 by default")
    report.add_argument("--json", action="store_true", help="print the report as JSON")
    return p


def _header(text: str) -> tuple[str, str]:
    name, separator, value = text.partition(":")
    if not separator or not name.strip():
        raise ValueError(f"--header {text!r}: write it as 'Name: value'")
    return name.strip(), value.strip()


def main(argv: Sequence[str] | None = None) -> int:
    p = parser()
    args = p.parse_args(argv)
    try:
        return _run(args)
    except (LimitsError, TargetError, LoadTestError, ValueError, OSError) as error:
        print(f"loadtest: {error}", file=sys.stderr)
        return 2


def _run(args: argparse.Namespace) -> int:
    from tools.mock_runtime import PlanError, run_stack, stack_names

    if args.stack not in stack_names():
        raise ValueError(f"unknown stack {args.stack!r}; the stacks are "
                         f"{', '.join(stack_names())}")
    if args.users is not None and not 1 <= args.users <= MAX_USERS:
        raise ValueError(f"--users must be between 1 and {MAX_USERS}")
    body = args.body
    if body is not None and body.startswith("@"):
        body = Path(body[1:]).read_text(encoding="utf-8")
    call = Call(args.method, args.path, body, dict(_header(h) for h in args.header))
    try:
        run = run_stack(args.stack)
    except PlanError as error:
        raise ValueError(f"the {args.stack} stack's plan failed: {error}") from None
    api = find_api(run, args.api, args.stage)
    if args.key:
        auth = Auth("key", key_name=args.key, key_value=os.environ.get("LOADTEST_API_KEY"))
    elif args.sigv4:
        auth = Auth("sigv4")
    elif args.jwt is not None:
        token = args.jwt or os.environ.get("LOADTEST_JWT", "")
        if not token:
            raise ValueError("--jwt without a token needs LOADTEST_JWT")
        auth = Auth("jwt", token=token)
    else:
        auth = Auth()
    kind = ProfileKind(args.profile)
    burst = args.burst
    if kind is ProfileKind.BURST and burst is None:
        limits = read_limits(run, api, call.method, call.path, args.key)
        if not limits.throttled:
            raise ValueError(f"{api.resource} has no throttle for {call.method} {call.path}: "
                             "give the burst with --burst")
        burst = 2 * limits.burst
    profile = Profile(kind, args.rate, args.duration, burst or 0)
    if args.target == "local":
        endpoint = local_endpoint(api, args.stack, args.run_file)
    else:
        if args.outputs is None and not args.url:
            raise ValueError("--target deployed needs --outputs (pulumi stack output --json) "
                             "or --url")
        outputs = (json.loads(args.outputs.read_text(encoding="utf-8"))
                   if args.outputs is not None else {})
        endpoint = deployed_endpoint(api, outputs, run.outputs, args.url)
    report = load_test(run, api, endpoint, call, profile, auth, users=args.users,
                       timeout_s=args.timeout, warmup=args.warmup,
                       tolerance=Tolerance(args.tolerance))
    print(dumps(report) if args.json else report.text())
    return report.exit_status
