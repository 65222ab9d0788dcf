"""How a guardrail is declared, and how it reads resource properties without ever raising.

A rule is a plain function that yields messages, wrapped by ``resource_rule`` or ``stack_rule``
into the SDK's ``ResourceValidationPolicy`` or ``StackValidationPolicy``. The wrapper:

- filters on resource types (the Python SDK has no type filter of its own);
- puts the anchors (serverless-rules, cdk-nag, AWSGuard, compliance-ready ids) into the
  description and the policy's tags;
- fills the rule's config with the defaults of its schema, under whatever the user configured;
- hands the rule ``Subject`` views whose property reads never raise.

Reading properties: ``Props.get("a", "b", 0)`` walks mappings and lists and returns ``None`` for
anything missing or of the wrong shape, and ``UNKNOWN`` for a value that is not known yet (a
preview of resources that do not exist). ``Props.json(...)`` also parses JSON strings, which is
how policy documents, redrive policies and container definitions usually arrive; a string that
does not parse reads as ``None``. A rule that meets ``UNKNOWN`` where it needs a value says
nothing: the analyzer runs again during ``pulumi up``, when the value is known.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    PolicyProviderResource,
    PolicyResource,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.proxy import UnknownValueError

ADVISORY = EnforcementLevel.ADVISORY
MANDATORY = EnforcementLevel.MANDATORY
DOCS = "https://github.com/serverless-blueprints/blueprints/blob/main/policy/README.md"

LAMBDA_FUNCTION = "aws:lambda/function:Function"
LAMBDA_ALIAS = "aws:lambda/alias:Alias"
CLOUDFRONT_DISTRIBUTION = "aws:cloudfront/distribution:Distribution"
# The distribution properties that hold cache behaviors, and so lambdaFunctionAssociations.
CACHE_BEHAVIOR_PROPS = ("defaultCacheBehavior", "orderedCacheBehaviors")
VIEWER_EVENTS = frozenset({"viewer-request", "viewer-response"})
ORIGIN_EVENTS = frozenset({"origin-request", "origin-response"})

# The SDK's markers for values a preview cannot know yet.
_UNKNOWN_SENTINELS = frozenset({
    "1c4a061d-8072-4f0a-a4cb-0ff528b18fe7", "3eeb2bf0-c639-47a8-9e75-3b44932eb421",
    "04da6b54-80e4-46f7-96ec-b56ff0331ba9", "6a19a0b0-7e62-4c92-b797-7f8e31da9cc2",
    "030794c1-ac77-496b-92df-f27374a8bd58", "e48ece36-62e2-4504-bad9-02848725956a",
    "dd056dcd-154b-4c76-9bd3-c8f88648b5ff",
})


class _Unknown:
    def __repr__(self) -> str:
        return "UNKNOWN"

    def __bool__(self) -> bool:
        return False


UNKNOWN: Any = _Unknown()
"""A value that is not known during preview. It is falsy, so ``if not value`` skips it too."""


def is_unknown(value: Any) -> bool:
    return value is UNKNOWN or (isinstance(value, str) and value in _UNKNOWN_SENTINELS)


class Props:
    """A read-only view of resource properties whose reads never raise."""

    def __init__(self, props: Any) -> None:
        self._props = props

    def get(self, *path: str | int) -> Any:
        """The value at ``path``; ``None`` if absent or mis-shaped, ``UNKNOWN`` if unknown."""
        value = self._props
        try:
            for step in path:
                if is_unknown(value):
                    return UNKNOWN
                if isinstance(step, int):
                    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
                        return None
                    value = value[step] if -len(value) <= step < len(value) else None
                else:
                    if not isinstance(value, Mapping):
                        return None
                    value = value.get(step)
                if value is None:
                    return None
        except UnknownValueError:
            return UNKNOWN
        except (KeyError, IndexError, TypeError, ValueError):
            return None
        return UNKNOWN if is_unknown(value) else value

    def json(self, *path: str | int) -> Any:
        """Like ``get``, but a JSON string is parsed; one that does not parse reads as ``None``."""
        value = self.get(*path)
        if isinstance(value, str):
            try:
                return json.loads(value)
            except ValueError:
                return None
        return value

    def sub(self, *path: str | int) -> Props:
        """The view of a nested object (parsed from JSON if it is a string)."""
        return Props(self.json(*path))

    def elements(self, *path: str | int) -> Any:
        """The list at ``path`` (parsed from JSON if need be), each element read like ``get``
        (an element not known yet is ``UNKNOWN``); ``[]`` if there is no list there, and
        ``UNKNOWN`` if the list itself is not known yet."""
        value = self.json(*path)
        if is_unknown(value):
            return UNKNOWN
        if isinstance(value, (Mapping, str, bytes)) or not isinstance(value, Sequence):
            return []
        try:
            count = len(value)
        except (UnknownValueError, TypeError):
            return UNKNOWN
        view = Props(value)
        return [view.get(i) for i in range(count)]

    def items(self, *path: str | int) -> list[Any]:
        """Like ``elements``, but an unknown list reads as empty."""
        found = self.elements(*path)
        return [] if is_unknown(found) else list(found)

    def raw(self) -> Any:
        return self._props


def _unwrap(value: Any) -> Any:
    """A plain copy of SDK proxies, with unknown values as ``UNKNOWN``."""
    try:
        if is_unknown(value):
            return UNKNOWN
        if isinstance(value, Mapping):
            return {k: _unwrap(Props(value).get(k)) for k in list(value)}
        if isinstance(value, Sequence) and not isinstance(value, (str, bytes)):
            return [_unwrap(Props(value).get(i)) for i in range(len(value))]
    except UnknownValueError:
        return UNKNOWN
    return value


class Subject:
    """One resource as a rule sees it."""

    def __init__(self, *, type_: str, name: str, urn: str, props: Any, protect: bool,
                 provider: PolicyProviderResource | None, parent: str | None = None,
                 property_dependencies: Mapping[str, Sequence[str]] | None = None) -> None:
        self.type = type_
        self.name = name
        self.urn = urn
        self.props = Props(props)
        self.protect = protect
        self.provider = provider
        self.provider_props = Props(provider.props if provider is not None else {})
        self.parent = parent
        self.property_dependencies = dict(property_dependencies or {})

    def tags(self) -> Any:
        """The tags the resource ends up with: the provider's default tags, then its own.

        ``UNKNOWN`` when either is not known yet.
        """
        defaults = self.provider_props.sub("defaultTags").json("tags")
        own = self.props.json("tags")
        if is_unknown(defaults) or is_unknown(own):
            return UNKNOWN
        merged: dict[str, Any] = {}
        for tags in (defaults, own):
            if isinstance(tags, Mapping):
                merged.update({str(k): _unwrap(Props(tags).get(k)) for k in list(tags)})
        return merged

    def __repr__(self) -> str:
        return f"{self.type}::{self.name}"


@dataclass(frozen=True, eq=False)
class EdgeAssociation:
    """One ``lambdaFunctionAssociations`` entry of a distribution's cache behavior.

    ``event_type`` and ``lambda_arn`` are read like ``Props.get``: a string, ``None`` when
    absent, or ``UNKNOWN`` when not known yet, or when the association could belong to more
    than one of the functions its behavior was computed from (the ARNs do not tell which).
    """

    distribution: Subject
    behavior: str  # "defaultCacheBehavior", or "orderedCacheBehaviors[1] (/api/*)"
    event_type: Any
    lambda_arn: Any

    def describe(self) -> str:
        event = self.event_type if isinstance(self.event_type, str) and self.event_type \
            else "an association"
        return f"{event} on distribution {self.distribution.name} ({self.behavior})"


@dataclass(frozen=True, eq=False)
class EdgeFunction:
    """A Lambda function that a CloudFront distribution runs as Lambda@Edge, with the
    associations that name it (empty when they cannot be read yet)."""

    function: Subject
    associations: tuple[EdgeAssociation, ...]

    def event_types(self) -> set[str]:
        """The known event types it runs for (``origin-request``, ``viewer-request``...)."""
        return {a.event_type for a in self.associations
                if isinstance(a.event_type, str) and not is_unknown(a.event_type)}

    def runs_for_viewers(self) -> bool:
        """Whether an association is known to be a viewer event (the tighter quotas)."""
        return bool(self.event_types() & VIEWER_EVENTS)


def _names(arn: Any, target: Any) -> bool:
    """Whether the known ARN ``arn`` is ``target``'s, qualified or not."""
    if not isinstance(arn, str) or not isinstance(target, str) or not target \
            or is_unknown(arn) or is_unknown(target):
        return False
    return arn == target or arn.startswith(f"{target}:")


def _known_string(value: Any) -> bool:
    return isinstance(value, str) and bool(value) and not is_unknown(value)


class Stack:
    """Every resource of a stack, with the links the engine recorded between them."""

    def __init__(self, resources: Sequence[Subject]) -> None:
        self.resources = list(resources)
        self._by_urn = {r.urn: r for r in self.resources}
        self._edge: list[EdgeFunction] | None = None

    def of_type(self, *types: str) -> list[Subject]:
        return [r for r in self.resources if r.type in types]

    def links(self, subject: Subject, prop: str, *types: str) -> list[Subject]:
        """The resources ``subject``'s property ``prop`` was computed from (of ``types``)."""
        found = [self._by_urn[urn] for urn in subject.property_dependencies.get(prop, ())
                 if urn in self._by_urn]
        return [r for r in found if not types or r.type in types]

    def referencing(self, target: Subject, *types: str, prop: str | None = None) -> list[Subject]:
        """The resources of ``types`` with a property (``prop``, or any) computed from
        ``target``."""
        found = []
        for resource in self.of_type(*types) if types else self.resources:
            deps = resource.property_dependencies
            props = [prop] if prop else list(deps)
            if any(target.urn in deps.get(p, ()) for p in props):
                found.append(resource)
        return found

    def parent_of(self, subject: Subject) -> Subject | None:
        return self._by_urn.get(subject.parent or "")

    def edge_functions(self) -> list[EdgeFunction]:
        """The Lambda@Edge functions of the stack: every function that a CloudFront
        distribution's ``defaultCacheBehavior`` or ``orderedCacheBehaviors`` was computed from
        (directly, or through an alias of it), with the associations that name it.

        An association names a function when its known ``lambdaArn`` is the function's (or its
        alias's) ARN, qualified or not. An association whose ARN cannot tell (not known yet,
        or a function's ARN is not) goes to the functions of that property that no association
        named; when there are several of them, its event type and ARN read as ``UNKNOWN``.
        """
        if self._edge is None:
            found: dict[str, list[EdgeAssociation]] = {}
            for distribution in self.of_type(CLOUDFRONT_DISTRIBUTION):
                for prop in CACHE_BEHAVIOR_PROPS:
                    for function, associations in self._edge_links(distribution, prop):
                        listed = found.setdefault(function.urn, [])
                        listed += [a for a in associations if a not in listed]
            self._edge = [EdgeFunction(f, tuple(found[f.urn]))
                          for f in self.of_type(LAMBDA_FUNCTION) if f.urn in found]
        return list(self._edge)

    def edge_function(self, function: Subject) -> EdgeFunction | None:
        """``function`` as an edge function, or ``None`` if no distribution runs it."""
        return next((e for e in self.edge_functions() if e.function.urn == function.urn), None)

    def _edge_links(self, distribution: Subject,
                    prop: str) -> list[tuple[Subject, list[EdgeAssociation]]]:
        """The functions ``distribution``'s ``prop`` was computed from, each with the
        associations of that property that name it."""
        targets: list[tuple[Subject, Any]] = [
            (f, f.props.get("arn")) for f in self.links(distribution, prop, LAMBDA_FUNCTION)]
        for alias in self.links(distribution, prop, LAMBDA_ALIAS):
            targets += [(f, alias.props.get("arn"))
                        for f in self.links(alias, "functionName", LAMBDA_FUNCTION)]
        functions = list({f.urn: f for f, _ in targets}.values())
        if not functions:
            return []
        named: dict[str, list[EdgeAssociation]] = {f.urn: [] for f in functions}
        undecided: list[EdgeAssociation] = []
        every_arn_known = all(_known_string(arn) for _, arn in targets)
        for association in _associations(distribution, prop):
            owners = {f.urn for f, arn in targets if _names(association.lambda_arn, arn)}
            for urn in owners:
                named[urn].append(association)
            if not owners and not (_known_string(association.lambda_arn) and every_arn_known):
                undecided.append(association)
        unnamed = [f for f in functions if not named[f.urn]]
        for association in undecided:
            if len(unnamed) > 1:
                association = EdgeAssociation(association.distribution, association.behavior,
                                              UNKNOWN, UNKNOWN)
            for function in unnamed:
                named[function.urn].append(association)
        return [(f, named[f.urn]) for f in functions]


def _associations(distribution: Subject, prop: str) -> list[EdgeAssociation]:
    """The ``lambdaFunctionAssociations`` of the behaviors in ``distribution``'s ``prop``."""
    if prop == "defaultCacheBehavior":
        behaviors = [(prop, distribution.props.get(prop))]
    else:
        behaviors = []
        for i, behavior in enumerate(distribution.props.items(prop)):
            pattern = Props(behavior).get("pathPattern")
            where = f" ({pattern})" if _known_string(pattern) else ""
            behaviors.append((f"{prop}[{i}]{where}", behavior))
    found = []
    for label, behavior in behaviors:
        for entry in Props(behavior).items("lambdaFunctionAssociations"):
            entry_props = Props(entry)
            if isinstance(entry_props.raw(), Mapping):
                found.append(EdgeAssociation(distribution, label, entry_props.get("eventType"),
                                             entry_props.get("lambdaArn")))
    return found


Config = Mapping[str, Any]
ResourceCheck = Callable[[Subject, Config], Iterable[str]]
StackCheck = Callable[[Stack, Config], Iterable[tuple[Subject | None, str]]]


def _schema(config: Mapping[str, Mapping[str, Any]] | None) -> PolicyConfigSchema | None:
    return PolicyConfigSchema(properties={k: dict(v) for k, v in config.items()}) \
        if config else None


def _with_defaults(given: Config, config: Mapping[str, Mapping[str, Any]] | None) -> Config:
    defaults = {k: v["default"] for k, v in (config or {}).items() if "default" in v}
    return {**defaults, **dict(given or {})}


def _describe(description: str, anchors: Sequence[str]) -> str:
    return f"{description} Anchors: {', '.join(anchors)}."


def resource_subject(args: ResourceValidationArgs) -> Subject:
    return Subject(type_=args.resource_type, name=args.name, urn=args.urn, props=args.props,
                   protect=bool(getattr(args.opts, "protect", False)), provider=args.provider,
                   parent=getattr(args.opts, "parent", None))


def stack_subjects(resources: Sequence[PolicyResource]) -> list[Subject]:
    return [Subject(
        type_=r.resource_type, name=r.name, urn=r.urn, props=r.props,
        protect=bool(getattr(r.opts, "protect", False)), provider=r.provider,
        parent=r.parent.urn if r.parent is not None else None,
        property_dependencies={k: [d.urn for d in v]
                               for k, v in (r.property_dependencies or {}).items()},
    ) for r in resources]


def resource_rule(name: str, *, description: str, anchors: Sequence[str],
                  level: EnforcementLevel, types: Collection[str],
                  config: Mapping[str, Mapping[str, Any]] | None = None,
                  ) -> Callable[[ResourceCheck], ResourceValidationPolicy]:
    """Declares ``check(subject, config)`` as a resource policy over ``types``."""
    wanted = frozenset(types)

    def wrap(check: ResourceCheck) -> ResourceValidationPolicy:
        def validate(args: ResourceValidationArgs, report: ReportViolation) -> None:
            if args.resource_type not in wanted:
                return
            subject = resource_subject(args)
            for message in check(subject, _with_defaults(args.get_config(), config)):
                report(f"{subject.name}: {message}", None)

        policy = ResourceValidationPolicy(
            name=name, description=_describe(description, anchors), validate=validate,
            enforcement_level=level, config_schema=_schema(config), tags=list(anchors),
            url=f"{DOCS}#{name}")
        policy.__doc__ = check.__doc__
        return policy

    return wrap


def stack_rule(name: str, *, description: str, anchors: Sequence[str],
               level: EnforcementLevel, config: Mapping[str, Mapping[str, Any]] | None = None,
               ) -> Callable[[StackCheck], StackValidationPolicy]:
    """Declares ``check(stack, config)`` as a stack policy; it yields (resource, message)."""

    def wrap(check: StackCheck) -> StackValidationPolicy:
        def validate(args: StackValidationArgs, report: ReportViolation) -> None:
            stack = Stack(stack_subjects(args.resources))
            for subject, message in check(stack, _with_defaults(args.get_config(), config)):
                if subject is None:
                    report(message, None)
                else:
                    report(f"{subject.name}: {message}", subject.urn)

        policy = StackValidationPolicy(
            name=name, description=_describe(description, anchors), validate=validate,
            enforcement_level=level, config_schema=_schema(config), tags=list(anchors),
            url=f"{DOCS}#{name}")
        policy.__doc__ = check.__doc__
        return policy

    return wrap


def statements(value: Any) -> Any:
    """The statements of an IAM-style policy document (a JSON string or an object), as plain
    dicts; ``UNKNOWN`` if the document, or any statement in it, is not known yet."""
    document = Props(Props(value).json())
    single = document.json("Statement")
    found = [single] if isinstance(single, Mapping) else document.elements("Statement")
    if is_unknown(document.raw()) or is_unknown(found) or any(is_unknown(s) for s in found):
        return UNKNOWN
    return [_unwrap(s) for s in found if isinstance(s, Mapping)]


def documents(value: Any) -> Iterator[Mapping[str, Any]]:
    """The known statements of an IAM-style policy document (a JSON string or an object)."""
    document = Props(Props(value).json())
    single = document.json("Statement")
    found = [single] if isinstance(single, Mapping) else document.items("Statement")
    for statement in found:
        if isinstance(statement, Mapping):
            yield _unwrap(statement)


def everyone(principal: Any) -> bool:
    """Whether an IAM ``Principal`` is anyone: ``"*"`` or ``{"AWS": "*"}`` (or a list with it)."""
    if principal == "*":
        return True
    return isinstance(principal, Mapping) and "*" in as_list(principal.get("AWS"))


def _without_tls(condition: Any) -> bool:
    """Whether an IAM ``Condition`` matches requests whose aws:SecureTransport is false."""
    if not isinstance(condition, Mapping):
        return False
    for operator, clauses in condition.items():
        if str(operator).lower() not in ("bool", "boolifexists") \
                or not isinstance(clauses, Mapping):
            continue
        for key, value in clauses.items():
            if str(key).lower() == "aws:securetransport" and any(
                    str(v).lower() == "false" for v in as_list(value)):
                return True
    return False


def tls_only(policy: Any, actions: Collection[str]) -> Any:
    """Whether a resource policy denies everyone ``actions`` (lower case, such as ``"sqs:*"``)
    on requests without TLS: ``True``, ``False``, or ``UNKNOWN`` before it is known."""
    found = statements(policy)
    if is_unknown(found):
        return UNKNOWN
    return any(
        s.get("Effect") == "Deny" and everyone(s.get("Principal"))
        and any(isinstance(a, str) and a.lower() in actions for a in as_list(s.get("Action")))
        and _without_tls(s.get("Condition"))
        for s in found)


def as_list(value: Any) -> list[Any]:
    """A policy field that may be one value or a list of them, as a list."""
    if value is None or is_unknown(value):
        return []
    return list(value) if isinstance(value, list) else [value]
