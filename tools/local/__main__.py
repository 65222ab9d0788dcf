"""``python -m tools.local``: run a stack's services on this machine (see ``tools.local.stack``).

    python -m tools.local --stack dev                              # every service of the stack
    python -m tools.local --stack dev --service entityResolution   # one (repeat for more)
    python -m tools.local --stack dev --state .local-data          # keep the data between runs
    python -m tools.local trigger --stack dev <rule or schedule>   # fire a scheduled rule now

Ctrl-C stops everything: the event sources, the fronts, the workers, then the embedded AWS.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote

from tools.local.stack import DEFAULT_AWS_PORT, RUN_FOLDER, LocalStack, describe_error

READY = "Press Ctrl-C to stop."


def _port(text: str) -> int:
    if not text.isdigit() or not 0 <= int(text) <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number (0 takes a free one)")
    return int(text)


def start_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m tools.local", description="Run a stack's services on this machine, "
        "wired as its plan declares them. `python -m tools.local trigger --help` fires a "
        "scheduled rule of a running stack.")
    parser.add_argument("--stack", default="dev", help="the stack (Pulumi.<stack>.yaml); "
                        "default dev")
    parser.add_argument("--service", action="append", default=[], dest="services",
                        metavar="NAME", help="run only this service (repeatable); default all")
    parser.add_argument("--port", type=_port, default=DEFAULT_AWS_PORT,
                        help=f"the embedded AWS's port (default {DEFAULT_AWS_PORT}; 0 for any "
                        "free port, and then free ports for everything)")
    parser.add_argument("--first-port", type=_port, default=None,
                        help="the first port of the APIs and distributions, which take the "
                        "ports that follow it (default: the one after --port)")
    parser.add_argument("--state", type=Path, default=None, metavar="DIR",
                        help="keep the buckets' objects and the tables' items in DIR between "
                        "runs")
    return parser


def trigger_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m tools.local trigger",
        description="Fire a scheduled EventBridge rule or schedule of a running stack now.")
    parser.add_argument("--stack", default="dev", help="the running stack; default dev")
    parser.add_argument("name", help="the rule or schedule, by its name in the plan or in AWS")
    return parser


def start(arguments: argparse.Namespace) -> int:
    stack = LocalStack(arguments.stack, services=arguments.services, aws_port=arguments.port,
                       first_port=arguments.first_port, state_dir=arguments.state)
    # Explicitly: a shell starts background jobs with SIGINT ignored, and Python then leaves it so.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        stack.start()
    except KeyboardInterrupt:
        return 130
    except Exception as error:  # noqa: BLE001 (one clear line, not a traceback)
        print(f"error: {describe_error(error)}", file=sys.stderr)
        return 2
    try:
        print("\n".join(stack.listing()), flush=True)
        print(READY, flush=True)
        threading.Event().wait()  # until Ctrl-C or SIGTERM
    except KeyboardInterrupt:
        pass
    finally:
        print("Stopping...", flush=True)
        stack.stop()
    return 0


def trigger(arguments: argparse.Namespace) -> int:
    run_file = RUN_FOLDER / f"{arguments.stack}.json"
    if not run_file.exists():
        print(f"error: the {arguments.stack} stack is not running in local mode (no "
              f"{run_file}); start it with `python -m tools.local --stack {arguments.stack}`",
              file=sys.stderr)
        return 2
    control = json.loads(run_file.read_text(encoding="utf-8"))["control"]
    request = urllib.request.Request(  # noqa: S310 (local mode's own control URL)
        f"{control}/trigger/{quote(arguments.name, safe='')}",
                                     method="POST")
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:  # noqa: S310 (local)
            fired: dict[str, Any] = json.load(answer)
    except urllib.error.HTTPError as error:
        print(f"error: {json.load(error).get('message')}", file=sys.stderr)
        return 2
    except urllib.error.URLError as error:
        print(f"error: local mode does not answer at {control} ({error.reason}); is it "
              "still running?", file=sys.stderr)
        return 2
    print(f"fired {fired['fired']} (request {fired['requestId']})")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    if arguments[:1] == ["trigger"]:
        return trigger(trigger_parser().parse_args(arguments[1:]))
    return start(start_parser().parse_args(arguments))


if __name__ == "__main__":
    sys.exit(main())
