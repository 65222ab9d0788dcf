"""One line that says what a deploy would change, for the pipeline's manual approval.

    python -m tools.preview_summary .ci/out/preview-prod-env.json .ci/out/preview-prod.json

Each file is what ``pulumi preview --json`` wrote for one stack, named ``preview-<stack>.json``.
The approver sees the summary in the approval's message (a CodePipeline variable, at most 400
characters), so deletions and replacements, the changes that lose data or break clients, come
first in each stack's part, with the short names of up to three of the resources concerned.

``--json`` writes a single document (Pulumi's ``PreviewDigest``: ``changeSummary``, ``steps``
with ``op`` and ``urn``, ``diagnostics``); the digest leaves policy violations out. The stream of
engine events (``PULUMI_ENABLE_STREAMING_JSON_PREVIEW``, one JSON object a line) carries them as
``policyEvent``s and is read as well, so the findings are counted when the stream is what the
file holds.

Exit status: 0; 1 when a file cannot be read or is not a preview (one line naming the file).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

MAX_CHARS = 400
NAMED = 3
# The ops an approver must weigh before anything else, in the order they are shown.
FIRST = ("delete", "replace")
THEN = ("create", "update", "import")
# Ops that say nothing changes, or that only restate a replacement the summary already counts.
QUIET = frozenset({"same", "read", "refresh"})
REPLACEMENT_OPS = frozenset({"replace", "create-replacement", "delete-replaced"})
# This tool's own key: the policy events of an event stream, put beside the digest's keys.
POLICY_EVENTS = "policyEvents"
DIGEST_KEYS = frozenset({"config", "steps", "diagnostics", "duration", "changeSummary",
                         "maybeCorrupt"})


class PreviewFileError(Exception):
    """A preview file that cannot be read or does not hold a preview."""


def short_name(urn: str) -> str:
    """The resource's name: ``urn:pulumi:<stack>::<project>::<type>::<name>``."""
    parts = urn.split("::", 3)
    return parts[3] if len(parts) == 4 else urn


def _counts(preview: Mapping[str, Any]) -> Counter[str]:
    summary = preview.get("changeSummary")
    if isinstance(summary, Mapping) and summary:
        return Counter({str(op): int(n) for op, n in summary.items() if isinstance(n, int)})
    # No summary (a stream cut short): count the steps, one replacement per resource.
    counted: Counter[str] = Counter()
    replaced: set[str] = set()
    for step in _steps(preview):
        op, urn = step["op"], step["urn"]
        if op in REPLACEMENT_OPS:
            if urn not in replaced:
                replaced.add(urn)
                counted["replace"] += 1
        else:
            counted[op] += 1
    return counted


def _steps(preview: Mapping[str, Any]) -> list[dict[str, str]]:
    found = preview.get("steps")
    return [{"op": str(s.get("op", "")), "urn": str(s.get("urn", ""))}
            for s in (found if isinstance(found, list) else []) if isinstance(s, Mapping)]


def _names(preview: Mapping[str, Any], op: str) -> list[str]:
    ops = REPLACEMENT_OPS if op == "replace" else frozenset({op})
    names: list[str] = []
    for step in _steps(preview):
        name = short_name(step["urn"])
        if step["op"] in ops and name not in names:
            names.append(name)
    return names


def _findings(preview: Mapping[str, Any]) -> str:
    events = preview.get(POLICY_EVENTS)
    levels = Counter(str(e.get("enforcementLevel") or "advisory")
                     for e in (events if isinstance(events, list) else [])
                     if isinstance(e, Mapping))
    if not levels:
        return ""
    total = sum(levels.values())
    kinds = ", ".join(f"{n} {level}" for level, n in sorted(levels.items()))
    return f" ({kinds} policy finding{'s' if total > 1 else ''})"


def stack_line(stack: str, preview: Mapping[str, Any], *, names: bool = True) -> str:
    """``<stack>: 3 to delete (a, b, c, +1 more), 12 to create (2 advisory policy findings)``."""
    counts = _counts(preview)
    order = [*FIRST, *THEN, *sorted(set(counts) - set(FIRST) - set(THEN) - QUIET)]
    parts = []
    for op in order:
        if counts.get(op, 0) <= 0:
            continue
        part = f"{counts[op]} to {op}"
        listed = _names(preview, op) if names and op in FIRST else []
        if listed:
            more = len(listed) - NAMED
            part += f" ({', '.join(listed[:NAMED])}{f', +{more} more' if more > 0 else ''})"
        parts.append(part)
    return f"{stack}: {', '.join(parts) or 'no changes'}{_findings(preview)}"


def summarize(previews: Mapping[str, Mapping[str, Any]]) -> str:
    """One line for every stack in order, at most ``MAX_CHARS`` long: without the resources'
    names when they do not fit, clipped only when even the counts do not."""
    line = "; ".join(stack_line(stack, p) for stack, p in previews.items())
    if len(line) > MAX_CHARS:
        line = "; ".join(stack_line(stack, p, names=False) for stack, p in previews.items())
    if len(line) > MAX_CHARS:
        line = line[:MAX_CHARS - 3] + "..."
    return line


def _from_events(events: list[Any]) -> dict[str, Any]:
    """The digest's keys from a stream of engine events, with the policy events besides."""
    steps: list[Mapping[str, Any]] = []
    policy: list[Mapping[str, Any]] = []
    summary: Mapping[str, Any] = {}
    for event in events:
        if not isinstance(event, Mapping):
            continue
        pre = event.get("resourcePreEvent")
        if isinstance(pre, Mapping) and isinstance(pre.get("metadata"), Mapping):
            steps.append(pre["metadata"])
        if isinstance(event.get("policyEvent"), Mapping):
            policy.append(event["policyEvent"])
        end = event.get("summaryEvent")
        if isinstance(end, Mapping) and isinstance(end.get("resourceChanges"), Mapping):
            summary = end["resourceChanges"]
    return {"changeSummary": summary, "steps": steps, POLICY_EVENTS: policy}


def load(path: Path) -> dict[str, Any]:
    """A preview file as a digest. Lines before the JSON (the CLI installing a policy pack's
    dependencies says so on stdout) are skipped."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        reason = error.strerror if isinstance(error, OSError) else "not UTF-8 text"
        raise PreviewFileError(f"{path}: cannot read it: {reason}") from error
    lines = text.splitlines()
    start = next((i for i, line in enumerate(lines) if line.startswith("{")), None)
    if start is None:
        raise PreviewFileError(f"{path}: no JSON object in it (is it `pulumi preview --json`?)")
    body = "\n".join(lines[start:])
    try:
        found = json.loads(body)
    except json.JSONDecodeError as whole:
        try:
            found = _from_events([json.loads(line) for line in body.splitlines()
                                  if line.strip()])
        except json.JSONDecodeError:
            raise PreviewFileError(f"{path}: not JSON: {whole.msg} (line {whole.lineno + start},"
                                   f" column {whole.colno})") from whole
    if not isinstance(found, dict) or (found and not DIGEST_KEYS & found.keys()):
        raise PreviewFileError(f"{path}: not the JSON `pulumi preview --json` writes")
    return found


def stack_of(path: Path) -> str:
    """``preview-<stack>.json`` names the stack; any other name stands for itself."""
    return path.stem.removeprefix("preview-") or path.stem


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.preview_summary", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("files", nargs="+", type=Path, metavar="preview-STACK.json",
                        help="what `pulumi preview --json` wrote, one file per stack, in order")
    options = parser.parse_args(argv)
    try:
        previews = {stack_of(path): load(path) for path in options.files}
    except PreviewFileError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(summarize(previews))
    return 0


if __name__ == "__main__":
    sys.exit(main())
