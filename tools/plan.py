"""The offline plan: what a stack would deploy, with no cloud account and no Pulumi CLI.

    python -m tools.plan --stack dev          # the component tree and the totals by type
    python -m tools.plan --stack prod --json  # the same, with every input, as JSON
    python -m tools.plan --stack dev --cost   # the monthly cost estimate (tools/cost.py)
    python -m tools.plan --stack dev --diagram docs/dev-stack.png [--collapse]   # a picture

It runs the real program (``__main__.py``) for ``Pulumi.<stack>.yaml`` under the Pulumi SDK's
mock runtime, then the guardrails pack (``policy/``) over what it declared, and prints the
verdicts: mandatory violations, then advisory ones.
``--policy-config`` takes the same JSON file as ``pulumi preview --policy-pack-config``.

Exit status: 0 when the stack plans and draws no mandatory violation; 1 for anything a file
says: an invalid configuration (every validation message), a stack file, ``Pulumi.yaml`` or
policy configuration that does not parse (one line naming the file, the line and the column),
a mandatory violation; 2 for a mistake on the command line, as argparse has it: an unknown
stack, a ``--policy-config`` file that does not exist.
``secure:`` values are never decrypted: the program sees a marked placeholder, and anything
secret prints as ``[secret]``.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import sys
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pulumi

from policy.guardrails import POLICIES
from tools.mock_runtime import PlanError, Resource, Secret, StackRun, run_stack, stack_names
from tools.verdicts import PolicyConfigError, Verdict, evaluate, load_config, report_lines


def _jsonable(value: Any) -> Any:
    if isinstance(value, Secret):
        return "[secret]"
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (pulumi.Asset, pulumi.Archive)):
        return f"<{type(value).__name__}>"
    return value


def totals(run: StackRun) -> dict[str, int]:
    """How many resources of each type the stack declares (components and providers too)."""
    return dict(sorted(Counter(r.type for r in run.resources).items()))


def as_json(run: StackRun, verdicts: Sequence[Verdict]) -> dict[str, Any]:
    return {
        "stack": run.stack,
        "resources": [{
            "urn": r.urn, "type": r.type, "name": r.name, "parent": r.parent,
            "provider": r.provider_urn, "protect": r.protect, "custom": r.custom,
            "inputs": _jsonable(dict(r.inputs)),
        } for r in run.resources],
        "totals": totals(run),
        "outputs": _jsonable(run.outputs),
        "warnings": run.warnings,
        "verdicts": [asdict(v) for v in verdicts],
    }


def tree(run: StackRun) -> list[str]:
    """The component tree, one resource a line, as ``pulumi preview`` draws it.

    Siblings are sorted (components first, then by type and name) rather than kept in
    registration order, which varies from run to run: two plans of one stack read the same.
    """
    children: dict[str | None, list[Resource]] = {}
    urns = {r.urn for r in run.resources}
    for resource in run.resources:
        parent = resource.parent if resource.parent in urns else None
        children.setdefault(parent, []).append(resource)
    for siblings in children.values():
        siblings.sort(key=lambda r: (r.custom, r.type, r.name))
    providers = Counter(r.provider_urn for r in run.managed())
    usual_provider = providers.most_common(1)[0][0] if providers else None
    names = {r.urn: r.name for r in run.resources}

    def label(resource: Resource) -> str:
        notes = []
        if resource.protect:
            notes.append("protected")
        if resource.custom and resource.provider_urn not in (None, usual_provider):
            notes.append(f"provider {names.get(resource.provider_urn or '', '?')}")
        suffix = f"  [{', '.join(notes)}]" if notes else ""
        return f"{resource.type}  {resource.name}{suffix}"

    lines = [f"pulumi:pulumi:Stack  blueprints-{run.stack}"]

    def walk(parent: str | None, indent: str) -> None:
        items = children.get(parent, [])
        for index, resource in enumerate(items):
            last = index == len(items) - 1
            lines.append(f"{indent}{'└─ ' if last else '├─ '}{label(resource)}")
            walk(resource.urn, indent + ("   " if last else "│  "))

    walk(None, "")
    return lines


def report(run: StackRun, verdicts: Sequence[Verdict]) -> str:
    counts = totals(run)
    managed = sum(1 for _ in run.managed())
    width = max((len(str(n)) for n in counts.values()), default=1)
    lines = [f"Offline plan of stack {run.stack} (mock runtime; nothing was deployed)", "",
             *tree(run), "",
             f"Resources by type ({managed} cloud resources, {len(run.resources)} in all):"]
    lines += [f"  {count:>{width}}  {type_}" for type_, count in counts.items()]
    if run.outputs:
        lines += ["", "Outputs:"]
        lines += [f"  {key}: {json.dumps(_jsonable(value))}"
                  for key, value in sorted(run.outputs.items())]
    if run.warnings:
        lines += ["", "Warnings:"] + [f"  - {warning}" for warning in run.warnings]
    lines += ["", f"Guardrails ({len(POLICIES)} policies):", *report_lines(verdicts)]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.plan", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stack", required=True, choices=stack_names(),
                        help="the stack to plan: Pulumi.<stack>.yaml")
    parser.add_argument("--json", action="store_true", help="print the plan as JSON")
    parser.add_argument("--policy-config", type=Path, metavar="FILE",
                        help="guardrail levels and settings, as for --policy-pack-config")
    cost_group = parser.add_argument_group("cost estimate (tools/cost.py)")
    cost_group.add_argument("--cost", action="store_true",
                            help="print the monthly cost estimate instead of the plan")
    cost_group.add_argument("--usage", type=Path, metavar="FILE",
                            help="the usage file (default: usage.<stack>.yaml if present)")
    cost_group.add_argument("--against", metavar="STACK|FILE.json",
                            help="with --cost: what this stack adds per month to another "
                                 "stack or to a saved --cost --json estimate")
    drawing = parser.add_argument_group("diagram (tools/diagram.py)")
    drawing.add_argument("--diagram", type=Path, metavar="FILE.svg|FILE.png",
                         help="also draw the stack's architecture into FILE (needs Graphviz)")
    drawing.add_argument("--collapse", action="store_true",
                         help="with --diagram: one box per service")
    options = parser.parse_args(argv)
    if options.collapse and not options.diagram:
        parser.error("--collapse goes with --diagram")
    if options.diagram and options.diagram.suffix.lower() not in (".svg", ".png"):
        parser.error(f"argument --diagram: {options.diagram} is not a .svg or .png file")
    if (options.usage or options.against) and not options.cost:
        parser.error("--usage and --against go with --cost")
    if options.usage and not options.usage.is_file():
        parser.error(f"argument --usage: can't read {options.usage}: no such file")
    if options.against and options.against not in stack_names() \
            and not Path(options.against).is_file():
        parser.error(f"argument --against: {options.against} is neither a stack nor a file")
    if options.policy_config and not options.policy_config.is_file():
        reason = "not a file" if options.policy_config.exists() else "no such file"
        parser.error(f"argument --policy-config: can't read {options.policy_config}: {reason}")
    try:
        policy_config = load_config(options.policy_config)
    except PolicyConfigError as error:
        print("\n".join(f"error: {line}" for line in error.lines), file=sys.stderr)
        return 1
    try:
        run = run_stack(options.stack)
        verdicts = evaluate(run, policy_config)
    except (pulumi.RunError, PlanError) as error:
        print(f"error: stack {options.stack}: {error}", file=sys.stderr)
        return 1
    # Imported when asked for: a plain plan needs neither the price table nor Graphviz.
    if options.diagram:
        from tools import diagram

        graph = diagram.graph_of(run)
        try:
            drawn = diagram.render(graph.collapsed() if options.collapse else graph,
                                   options.diagram)
        except diagram.RenderError as error:
            print(f"error: {error}", file=sys.stderr)
            return 1
        print(f"Diagram: {drawn} ({len(graph.nodes)} resources, {len(graph.edges)} "
              f"connections, {len(graph.groups())} groups)", file=sys.stderr)
    if options.cost:
        from tools import cost

        try:
            print(cost.render(run, options.usage, options.against, as_json=options.json,
                              plan_stack=run_stack, stacks=stack_names()))
        except (cost.UsageError, pulumi.RunError, PlanError) as error:
            print(f"error: {error}", file=sys.stderr)
            return 1
    else:
        print(json.dumps(as_json(run, verdicts), indent=2) if options.json
              else report(run, verdicts))
    mandatory = sum(v.mandatory for v in verdicts)
    if mandatory:
        print(f"error: stack {options.stack}: {mandatory} mandatory guardrail violation"
              f"{'s' if mandatory > 1 else ''}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    # A command plans once and exits: the guardrails run over the whole plan, which the
    # cyclic collector would otherwise walk again and again for nothing (see run_program).
    gc.disable()
    status = main()
    # Leave without tearing the plan down: freeing its objects one by one at interpreter exit
    # took over a second, a fifth of the command. Nothing is left to do but write the output.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)
