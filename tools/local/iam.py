"""IAM enforcement for local mode: every AWS call a handler makes is decided by the policies the
plan declares, the way AWS would decide it.

Three parts, usable on their own:

- **Evaluation** (``evaluate``): identity policies, and the resource policies of what the request
  reaches, decide one request (principal, action, resource, context) with AWS's logic: an
  explicit Deny anywhere wins, then an Allow, else the default deny. Within one account an
  identity Allow suffices, and so does a resource policy that names the principal itself; a
  resource policy that names the *account* (``arn:aws:iam::<account>:root``) only delegates to
  the identity policies. A KMS key policy must always allow (directly, or by delegating to the
  account). A service principal (``s3.amazonaws.com`` invoking a function) has no identity
  policies: the resource policy alone decides.
- **Mapping** (``map_call``): a boto3 call (service, operation, parameters as botocore hands them
  to ``before-parameter-build``) becomes the checks AWS makes: the IAM action and resource ARN,
  and for a call that reaches further (an access point's bucket, an Object Lambda access
  point's supporting access point and transform function) one check per hop with the context
  keys AWS sets (``aws:CalledVia``, ``s3:DataAccessPointArn``). Action names and ARN formats
  come from policy_sentry's copy of AWS's Service Authorization Reference: an operation is the
  action of its own name, or the one action documented by the operation's API page (Lambda's
  ``Invoke`` is ``lambda:InvokeFunction``), and its resource is the action's ARN format filled
  from parameters named like the format's placeholders (``TableName``, ``IndexName``,
  ``UserPoolId``) or from a parameter that is such an ARN. Rules are written here only where
  the data cannot say which request parameter names the resource (``_SERVICE_RULES``: S3
  buckets, access points and keys, SQS queue URLs, Lambda qualifiers, KMS aliases, batch
  requests, the SES identity an email is sent from, SMS origination ids) or which action an
  operation is (``_S3_ACTIONS``, ``_BATCH_ACTIONS``, ``_NO_PERMISSION``). An operation that
  cannot be mapped raises ``UnmappedCallError``: never silently allowed.
- **Enforcement** (``Enforcer``, ``install``): a botocore ``before-parameter-build`` handler that
  decides every call of a client or session before it is sent, and raises the ``ClientError``
  AWS would (``AccessDenied`` for S3 and SQS, ``AuthorizationError`` for SNS,
  ``AccessDeniedException`` elsewhere) with AWS's message, logging which statement was missing
  or which one denied.

``PlanPolicies.from_run`` reads all of it from an offline plan: each role's inline and attached
policies (AWS-managed ones from ``MANAGED_POLICIES``), bucket, access point, Object Lambda, queue,
topic and key policies, Lambda permissions, and the topology the mapping needs. It is plain data,
so it can be pickled into worker processes.

Not supported yet, and refused rather than allowed: policy variables (``${aws:username}``),
roles with a permissions boundary, ``kms:Decrypt`` without a ``KeyId`` (the key is inside the
ciphertext). Not modelled, as the plan declares none: session policies, SCPs and RCPs, KMS
grants, S3 ACLs (the buckets enforce bucket-owner ownership), VPC endpoint policies.
"""

from __future__ import annotations

import functools
import ipaddress
import json
import logging
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from email.utils import parseaddr
from pathlib import Path
from typing import Any, Literal
from urllib.parse import unquote, urlsplit

from botocore.exceptions import ClientError  # type: ignore[import-untyped]

LOG = logging.getLogger("tools.local.iam")
HOOK_ID = "blueprints-local-iam"

OBJECT_LAMBDA = "s3-object-lambda.amazonaws.com"
ANONYMOUS = "anonymous"


class PolicyError(ValueError):
    """A policy document local mode cannot evaluate faithfully."""


class UnmappedCallError(LookupError):
    """A call local mode cannot turn into the checks AWS would make."""

    def __init__(self, service: str, operation: str, why: str = "") -> None:
        self.service, self.operation = service, operation
        super().__init__(f"local mode cannot map {service}.{operation}"
                         f"{': ' + why if why else ''}; add it to tools/local/iam.py")


# --- policies ----------------------------------------------------------------------------------

_STATEMENT_KEYS = frozenset({"Sid", "Effect", "Principal", "NotPrincipal", "Action", "NotAction",
                             "Resource", "NotResource", "Condition"})


@dataclass(frozen=True)
class Policy:
    """A policy document's statements, under a name that says where it comes from."""

    name: str
    statements: tuple[Mapping[str, Any], ...]

    @classmethod
    def parse(cls, document: str | Mapping[str, Any], name: str) -> Policy:
        """The policy in ``document`` (JSON text or parsed); ``PolicyError`` when local mode
        could not evaluate it as AWS does."""
        body = json.loads(document) if isinstance(document, str) else document
        raw = body.get("Statement") if isinstance(body, Mapping) else None
        statements = [raw] if isinstance(raw, Mapping) else raw
        if not isinstance(statements, list) or not statements:
            raise PolicyError(f"{name}: a policy needs a Statement")
        for index, statement in enumerate(statements):
            _check_statement(statement, f"{name}, statement {index}")
        return cls(name, tuple(statements))


def _check_statement(statement: Any, where: str) -> None:
    if not isinstance(statement, Mapping):
        raise PolicyError(f"{where}: a statement is a JSON object")
    unknown = set(statement) - _STATEMENT_KEYS
    if unknown:
        raise PolicyError(f"{where}: unknown element(s) {', '.join(sorted(unknown))}")
    if statement.get("Effect") not in ("Allow", "Deny"):
        raise PolicyError(f"{where}: Effect must be Allow or Deny")
    if ("Action" in statement) == ("NotAction" in statement):
        raise PolicyError(f"{where}: exactly one of Action and NotAction")
    if ("Resource" in statement) == ("NotResource" in statement):
        raise PolicyError(f"{where}: exactly one of Resource and NotResource")
    if "${" in json.dumps(statement):
        raise PolicyError(f"{where}: policy variables (${{...}}) are not supported yet")
    for operator in (statement.get("Condition") or {}):
        if _operator(operator) is None:
            raise PolicyError(f"{where}: condition operator {operator!r} is not supported")


# The AWS-managed policies the program attaches, with the statements AWS publishes for them
# (current default versions). A role attached to one that is not here fails at load, naming it.
MANAGED_POLICIES: dict[str, tuple[dict[str, Any], ...]] = {
    "AWSXRayDaemonWriteAccess": ({
        "Effect": "Allow",
        "Action": ["xray:PutTraceSegments", "xray:PutTelemetryRecords", "xray:GetSamplingRules",
                   "xray:GetSamplingTargets", "xray:GetSamplingStatisticSummaries"],
        "Resource": "*"},),
    "service-role/AWSLambdaBasicExecutionRole": ({
        "Effect": "Allow",
        "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
        "Resource": "*"},),
    "service-role/AWSLambdaVPCAccessExecutionRole": ({
        "Effect": "Allow",
        "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents",
                   "ec2:CreateNetworkInterface", "ec2:DescribeNetworkInterfaces",
                   "ec2:DescribeSubnets", "ec2:DeleteNetworkInterface",
                   "ec2:AssignPrivateIpAddresses", "ec2:UnassignPrivateIpAddresses"],
        "Resource": "*"},),
    "service-role/AmazonAPIGatewayPushToCloudWatchLogs": ({
        "Effect": "Allow",
        "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:DescribeLogGroups",
                   "logs:DescribeLogStreams", "logs:PutLogEvents", "logs:GetLogEvents",
                   "logs:FilterLogEvents"],
        "Resource": "*"},),
}


def managed_policy(arn: str) -> Policy:
    """The AWS-managed policy ``arn:<partition>:iam::aws:policy/<name>``."""
    name = arn.split(":policy/", 1)[-1]
    if ":iam::aws:policy/" not in arn or name not in MANAGED_POLICIES:
        raise PolicyError(f"local mode does not know the managed policy {arn}; add its "
                          "statements to MANAGED_POLICIES in tools/local/iam.py")
    return Policy(f"AWS-managed policy {name}", MANAGED_POLICIES[name])


# --- principals --------------------------------------------------------------------------------

@dataclass(frozen=True)
class Principal:
    """Who makes a request: a role's session, or an AWS service."""

    arn: str
    account: str | None = None
    role_arn: str | None = None
    service: str | None = None

    @classmethod
    def assumed_role(cls, role_arn: str, session: str) -> Principal:
        """A session of ``role_arn``, as Lambda opens one per function (session = its name)."""
        partition, account, path = _role_parts(role_arn)
        name = path.rsplit("/", 1)[-1]
        return cls(f"arn:{partition}:sts::{account}:assumed-role/{name}/{session}", account,
                   role_arn)

    @classmethod
    def service_principal(cls, service: str) -> Principal:
        return cls(service, service=service)

    @classmethod
    def anonymous(cls) -> Principal:
        """An unsigned caller (of an API with no IAM authorization): only a resource policy
        that names every principal (``*``) can let it in."""
        return cls(ANONYMOUS)


def _role_parts(role_arn: str) -> tuple[str, str, str]:
    match = re.fullmatch(r"arn:([a-z-]+):iam::(\d{12}):role/(.+)", role_arn)
    if match is None:
        raise ValueError(f"{role_arn!r} is not a role ARN")
    return match.group(1), match.group(2), match.group(3)


# --- matching ----------------------------------------------------------------------------------

@functools.lru_cache(maxsize=4096)
def _glob(pattern: str, ignore_case: bool) -> re.Pattern[str]:
    parts = (".*" if part == "*" else "." if part == "?" else re.escape(part)
             for part in re.split(r"([*?])", pattern))
    return re.compile("".join(parts), re.DOTALL | (re.IGNORECASE if ignore_case else 0))


def action_matches(pattern: str, action: str) -> bool:
    """IAM action names compare without case, with ``*`` and ``?``."""
    return _glob(pattern, True).fullmatch(action) is not None


def arn_matches(pattern: str, arn: str) -> bool:
    """ARNs compare with case, segment by segment (a wildcard never spans the partition,
    service, region or account); in the resource part ``*`` spans ``:`` and ``/`` too."""
    if pattern == "*":
        return True
    want, got = pattern.split(":", 5), arn.split(":", 5)
    return len(want) == len(got) == 6 and all(
        _glob(w, False).fullmatch(g) is not None for w, g in zip(want, got, strict=True))


def _values(value: Any) -> list[str]:
    items = value if isinstance(value, list | tuple) else [value]
    return [str(v).lower() if isinstance(v, bool) else str(v) for v in items]


# --- conditions --------------------------------------------------------------------------------

def _number(value: str) -> float | None:
    try:
        return float(value)
    except ValueError:
        return None


def _date(value: str) -> float | None:
    if re.fullmatch(r"\d+", value):
        return float(value)
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


def _ordered(read: Callable[[str], float | None],
             compare: Callable[[float, float], bool]) -> Callable[[str, str], bool]:
    def test(got: str, want: str) -> bool:
        a, b = read(got), read(want)
        return a is not None and b is not None and compare(a, b)
    return test


def _in_network(got: str, want: str) -> bool:
    try:
        return ipaddress.ip_address(got) in ipaddress.ip_network(want, strict=False)
    except ValueError:
        return False


def _arn_condition(got: str, want: str) -> bool:
    return arn_matches(want, got)


# Each operator's positive test (request value, policy value); a negated operator is true when
# the request value passes none of its positive tests.
_TESTS: dict[str, Callable[[str, str], bool]] = {
    "StringEquals": lambda got, want: got == want,
    "StringEqualsIgnoreCase": lambda got, want: got.lower() == want.lower(),
    "StringLike": lambda got, want: _glob(want, False).fullmatch(got) is not None,
    "NumericEquals": _ordered(_number, lambda a, b: a == b),
    "NumericLessThan": _ordered(_number, lambda a, b: a < b),
    "NumericLessThanEquals": _ordered(_number, lambda a, b: a <= b),
    "NumericGreaterThan": _ordered(_number, lambda a, b: a > b),
    "NumericGreaterThanEquals": _ordered(_number, lambda a, b: a >= b),
    "DateEquals": _ordered(_date, lambda a, b: a == b),
    "DateLessThan": _ordered(_date, lambda a, b: a < b),
    "DateLessThanEquals": _ordered(_date, lambda a, b: a <= b),
    "DateGreaterThan": _ordered(_date, lambda a, b: a > b),
    "DateGreaterThanEquals": _ordered(_date, lambda a, b: a >= b),
    "Bool": lambda got, want: got.lower() == want.lower(),
    "BinaryEquals": lambda got, want: got == want,
    "IpAddress": _in_network,
    "ArnEquals": _arn_condition,
    "ArnLike": _arn_condition,
}
_NEGATED = {"StringNotEquals": "StringEquals",
            "StringNotEqualsIgnoreCase": "StringEqualsIgnoreCase", "StringNotLike": "StringLike",
            "NumericNotEquals": "NumericEquals", "DateNotEquals": "DateEquals",
            "NotIpAddress": "IpAddress",
            "ArnNotEquals": "ArnEquals", "ArnNotLike": "ArnLike"}


@dataclass(frozen=True)
class _Operator:
    test: str
    negated: bool
    set_qualifier: str
    if_exists: bool


def _operator(name: str) -> _Operator | None:
    qualifier, _, base = name.rpartition(":")
    if qualifier not in ("", "ForAnyValue", "ForAllValues"):
        return None
    if_exists = base.endswith("IfExists") and base != "IfExists"
    base = base.removesuffix("IfExists") if if_exists else base
    if base == "Null" and not if_exists:
        return _Operator("Null", False, qualifier, False)
    if base in _TESTS:
        return _Operator(base, False, qualifier, if_exists)
    if base in _NEGATED:
        return _Operator(_NEGATED[base], True, qualifier, if_exists)
    return None


def conditions_hold(block: Mapping[str, Mapping[str, Any]],
                    context: Mapping[str, Any]) -> bool:
    """Whether every condition of a statement's ``Condition`` block holds in ``context`` (whose
    keys are compared without case, as AWS compares condition keys)."""
    lowered = {key.lower(): value for key, value in context.items()}
    for name, keys in block.items():
        operator = _operator(name)
        if operator is None:
            raise PolicyError(f"condition operator {name!r} is not supported")
        for key, wanted in keys.items():
            if not _condition_holds(operator, _values(wanted), lowered.get(key.lower())):
                return False
    return True


def _condition_holds(operator: _Operator, wanted: list[str], value: Any) -> bool:
    if operator.test == "Null":
        return any((value is None) == (w.lower() == "true") for w in wanted)
    if value is None:
        if operator.if_exists or operator.set_qualifier == "ForAllValues":
            return True
        return operator.negated and operator.set_qualifier != "ForAnyValue"
    test = _TESTS[operator.test]

    def passes(got: str) -> bool:
        matched = any(test(got, w) for w in wanted)
        return not matched if operator.negated else matched

    got = _values(value)
    if operator.set_qualifier == "ForAllValues":
        return all(passes(v) for v in got)
    if operator.set_qualifier == "ForAnyValue" or not operator.negated:
        return any(passes(v) for v in got)
    return all(passes(v) for v in got)


# --- evaluation --------------------------------------------------------------------------------

@dataclass(frozen=True)
class Request:
    """One authorization AWS makes: ``principal`` doing ``action`` on ``resource``."""

    principal: Principal
    action: str
    resource: str
    context: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class StatementRef:
    """Where a decisive statement is: its policy, its index there and its Sid."""

    policy: str
    index: int
    statement: Mapping[str, Any]

    def __str__(self) -> str:
        sid = self.statement.get("Sid")
        name = f"statement {sid!r} (#{self.index})" if sid else f"statement #{self.index}"
        return f"{name} of {self.policy}"

    @property
    def sid(self) -> str | None:
        sid = self.statement.get("Sid")
        return str(sid) if sid is not None else None


Outcome = Literal["allowed", "explicit-deny", "implicit-deny"]


@dataclass(frozen=True)
class Decision:
    """What AWS would answer, and why: the statement that decided, or what was missing."""

    request: Request
    outcome: Outcome
    statement: StatementRef | None = None
    # Which kind of policy denied: "identity" or "resource" (an implicit deny is "resource"
    # only where the resource policy had to allow and did not).
    denied_in: Literal["identity", "resource"] | None = None
    hints: tuple[str, ...] = ()

    @property
    def allowed(self) -> bool:
        return self.outcome == "allowed"

    @property
    def message(self) -> str:
        """AWS's own wording of the answer."""
        request = self.request
        head = (f"User: {request.principal.arn} is not authorized to perform: {request.action} "
                f"on resource: {request.resource}")
        if self.outcome == "explicit-deny":
            kind = "an identity-based" if self.denied_in == "identity" else "a resource-based"
            return f"{head} with an explicit deny in {kind} policy"
        if self.outcome == "implicit-deny":
            kind = "identity-based" if self.denied_in == "identity" else "resource-based"
            return f"{head} because no {kind} policy allows the {request.action} action"
        return f"{request.principal.arn} may perform {request.action} on {request.resource}"

    def explain(self) -> str:
        """For the log: the decisive statement, or the statement that is missing."""
        request = self.request
        if self.outcome == "allowed":
            return f"{request.action} on {request.resource} allowed by {self.statement}"
        if self.outcome == "explicit-deny":
            return (f"{request.action} on {request.resource} denied by {self.statement}: "
                    f"{json.dumps(self.statement.statement if self.statement else {})}")
        if self.denied_in == "resource":
            missing = (f"no statement of the resource policy allows {request.action} on "
                       f"{request.resource} for {request.principal.arn}")
        else:
            wanted = {"Effect": "Allow", "Action": request.action, "Resource": request.resource}
            missing = (f"no statement allows {request.action} on {request.resource}; the "
                       f"missing statement: {json.dumps(wanted)}")
        return missing + "".join(f"; {hint}" for hint in self.hints)


def evaluate(request: Request, identity: Sequence[Policy] = (),
             resources: Sequence[tuple[str, Policy]] = ()) -> Decision:
    """Decides ``request`` with AWS's logic.

    ``identity`` are the caller's identity policies (ignored for a service principal);
    ``resources`` pairs each resource policy on the way with the ARN it is checked against: a
    request through an S3 access point meets the access point's policy (on the access point
    ARN) and then the bucket's (on the bucket's object ARN). Within one account, the request
    passes when an identity statement allows it or when every resource policy on the way names
    the principal in an Allow."""
    principal = request.principal
    context = {**_default_context(principal), **request.context}
    # A role's session; a service or an anonymous caller has no identity policies.
    iam_caller = principal.service is None and principal.arn != ANONYMOUS
    if iam_caller:
        for ref in _statements(identity):
            if ref.statement["Effect"] == "Deny" and _applies(ref.statement, request.action,
                                                               request.resource, context):
                return Decision(request, "explicit-deny", ref, "identity")
    for arn, policy in resources:
        for ref in _statements([policy]):
            if ref.statement["Effect"] == "Deny" and _principal_match(ref.statement, principal) \
                    and _applies(ref.statement, request.action, arn, context):
                return Decision(request, "explicit-deny", ref, "resource")

    identity_allow = next((ref for ref in _statements(identity) if iam_caller
                           and ref.statement["Effect"] == "Allow"
                           and _applies(ref.statement, request.action, request.resource,
                                        context)), None)
    direct: list[StatementRef | None] = []
    delegated: list[StatementRef | None] = []
    for arn, policy in resources:
        allows = [(ref, match) for ref in _statements([policy])
                  if ref.statement["Effect"] == "Allow"
                  and (match := _principal_match(ref.statement, principal))
                  and _applies(ref.statement, request.action, arn, context)]
        direct.append(next((ref for ref, match in allows if match == "direct"), None))
        delegated.append(next((ref for ref, match in allows if match == "account"), None))

    key_policy = next((i for i, (arn, _) in enumerate(resources) if arn.startswith("arn:")
                       and arn.split(":")[2] == "kms"), None)
    if key_policy is not None:
        # A key policy always decides: naming the caller, or the account (then IAM decides).
        grant = direct[key_policy] or (delegated[key_policy] and identity_allow)
        if grant:
            return Decision(request, "allowed", direct[key_policy] or identity_allow)
        return _implicit(request, identity, resources,
                         "resource" if identity_allow or not iam_caller else "identity")
    if not iam_caller:
        grant = next((ref for ref in direct if ref), None)
        if grant:
            return Decision(request, "allowed", grant)
        return _implicit(request, identity, resources, "resource")
    resource_account = _account_of(request.resource) or principal.account
    if resource_account != principal.account:
        grant = next((ref for ref in [*direct, *delegated] if ref), None)
        if identity_allow and grant:
            return Decision(request, "allowed", identity_allow)
        return _implicit(request, identity, resources, "identity" if not identity_allow
                         else "resource")
    if identity_allow:
        return Decision(request, "allowed", identity_allow)
    if resources and all(direct):
        return Decision(request, "allowed", direct[0])
    return _implicit(request, identity, resources, "identity")


def _implicit(request: Request, identity: Sequence[Policy],
              resources: Sequence[tuple[str, Policy]],
              denied_in: Literal["identity", "resource"]) -> Decision:
    return Decision(request, "implicit-deny", None, denied_in,
                    tuple(_near_misses(request, identity if denied_in == "identity" else
                                       [policy for _, policy in resources])))


def _near_misses(request: Request, policies: Sequence[Policy]) -> Iterable[str]:
    """Allow statements that name the action but not this resource, or this resource but not
    the action: what the author probably meant to cover."""
    service = request.action.split(":", 1)[0].lower()
    for ref in _statements(policies):
        statement = ref.statement
        same_service = any(a.split(":", 1)[0].lower() == service
                           for a in _values(statement.get("Action", [])))
        if statement["Effect"] != "Allow" or not same_service:
            continue
        action = _listed(statement, "Action", request.action, action_matches)
        resource = _listed(statement, "Resource", request.resource, arn_matches)
        if action and not resource:
            yield (f"{ref} allows {request.action} only on "
                   f"{', '.join(_values(statement.get('Resource', '*')))}")
        elif resource and not action:
            yield (f"{ref} allows only {', '.join(_values(statement.get('Action', '*')))} "
                   f"on {request.resource}")
        elif action and resource and "Condition" in statement:
            yield f"{ref} allows it only when {json.dumps(statement['Condition'])}"


def _statements(policies: Iterable[Policy]) -> Iterable[StatementRef]:
    for policy in policies:
        for index, statement in enumerate(policy.statements):
            yield StatementRef(policy.name, index, statement)


def _listed(statement: Mapping[str, Any], element: str, value: str,
            matches: Callable[[str, str], bool]) -> bool:
    if element in statement:
        return any(matches(p, value) for p in _values(statement[element]))
    return not any(matches(p, value) for p in _values(statement[f"Not{element}"]))


def _applies(statement: Mapping[str, Any], action: str, resource: str,
             context: Mapping[str, Any]) -> bool:
    return (_listed(statement, "Action", action, action_matches)
            and _listed(statement, "Resource", resource, arn_matches)
            and conditions_hold(statement.get("Condition") or {}, context))


def _principal_match(statement: Mapping[str, Any],
                     principal: Principal) -> Literal["direct", "account", ""]:
    """How a resource statement's principal covers the caller: by name ("direct"), through
    its account ("account": delegation to the account's identity policies), or not ("")."""
    if "NotPrincipal" in statement:
        return "" if _principal_in(statement["NotPrincipal"], principal) else "direct"
    return _principal_in(statement.get("Principal"), principal)


def _principal_in(element: Any, principal: Principal) -> Literal["direct", "account", ""]:
    if element == "*":
        return "direct"
    if not isinstance(element, Mapping):
        return ""
    services = _values(element.get("Service", []))
    if principal.service is not None:
        return "direct" if principal.service in services or "*" in _values(
            element.get("AWS", [])) else ""
    found: Literal["direct", "account", ""] = ""
    for value in _values(element.get("AWS", [])):
        if value in ("*", principal.arn, principal.role_arn):
            return "direct"
        if principal.account and value in (principal.account,
                                           f"arn:{_partition_of(value)}:iam::"
                                           f"{principal.account}:root"):
            found = "account"
    return found


def _default_context(principal: Principal) -> dict[str, Any]:
    now = datetime.now(UTC)
    context: dict[str, Any] = {"aws:SecureTransport": True,
                               "aws:CurrentTime": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
                               "aws:EpochTime": str(int(now.timestamp()))}
    if principal.service is not None:
        context["aws:PrincipalServiceName"] = principal.service
        return context
    if principal.arn == ANONYMOUS:
        context["aws:PrincipalType"] = "Anonymous"
        return context
    context.update({"aws:PrincipalArn": principal.role_arn or principal.arn,
                    "aws:PrincipalAccount": principal.account,
                    "aws:PrincipalType": "AssumedRole" if principal.role_arn else "User"})
    return context


def _account_of(arn: str) -> str | None:
    parts = arn.split(":")
    return parts[4] if len(parts) > 5 and parts[4] else None


def _partition_of(arn: str) -> str:
    parts = arn.split(":")
    return parts[1] if len(parts) > 1 and parts[0] == "arn" else "aws"


def partition(region: str) -> str:
    if region.startswith("cn-"):
        return "aws-cn"
    return "aws-us-gov" if region.startswith("us-gov-") else "aws"


# --- the IAM data ------------------------------------------------------------------------------

def _privilege(prefix: str, action: str) -> Mapping[str, Any] | None:
    from policy_sentry.querying.actions import get_privilege_info

    try:
        return get_privilege_info(prefix, action)
    except Exception:  # noqa: BLE001 (policy_sentry raises a bare Exception for "unknown")
        return None


@functools.cache
def _documented_actions(prefix: str) -> dict[str, tuple[str, ...]]:
    """Operation name -> the actions whose documentation link is that operation's API page:
    how the data says that Lambda's Invoke is ``lambda:InvokeFunction``."""
    from policy_sentry.querying.actions import get_actions_for_service

    found: dict[str, list[str]] = {}
    for qualified in get_actions_for_service(prefix):
        action = qualified.split(":", 1)[1]
        link = str((_privilege(prefix, action) or {}).get("api_documentation_link") or "")
        match = re.search(r"/API_(?:[a-z]+_)?(\w+)\.html", link)
        if match:
            found.setdefault(match.group(1), []).append(action)
    return {operation: tuple(actions) for operation, actions in found.items()}


@functools.cache
def _arn_template(prefix: str, resource_type: str) -> str:
    from policy_sentry.querying.arns import get_arn_type_details

    return str(get_arn_type_details(prefix, resource_type)["raw_arn"])


def _resource_types(prefix: str, action: str) -> list[str]:
    info = _privilege(prefix, action) or {}
    types = info.get("resource_types") or {}
    # Required types first: they are what AWS authorizes when several could fit.
    return sorted((t for t in types if t), key=lambda t: not types[t].get("required"))


def data_action(prefix: str, operation: str) -> str | None:
    """The action the data gives for an API operation: its own name, or the one action whose
    documentation is the operation's page."""
    if _privilege(prefix, operation) is not None:
        return operation
    documented = _documented_actions(prefix).get(operation, ())
    return documented[0] if len(documented) == 1 else None


_PLACEHOLDER = re.compile(r"\$\{(\w+)\}")


@functools.cache
def _template_pattern(template: str) -> re.Pattern[str]:
    pieces = _PLACEHOLDER.split(template)
    names = pieces[1::2]
    pattern = ""
    for i, literal in enumerate(pieces[0::2]):
        pattern += re.escape(literal)
        if i < len(names):
            last = i == len(names) - 1
            pattern += f"(?P<{names[i]}>{'.+' if last else '[^:/]+'})"
    return re.compile(pattern)


def _fill(template: str, bindings: Mapping[str, str]) -> str | None:
    names = _PLACEHOLDER.findall(template)
    if not all(bindings.get(name) for name in names):
        return None
    return _PLACEHOLDER.sub(lambda m: bindings[m.group(1)], template)


def data_resource(prefix: str, action: str, bindings: Mapping[str, str],
                  arns: Sequence[str] = (), fixed: Mapping[str, str] | None = None) -> str | None:
    """The resource ARN of ``action`` as the data formats it, filled from ``bindings``
    (placeholder -> value), then from any ARN among ``arns`` that fits one of the action's
    resource types, then from ``fixed``; the most specific one that can be filled (a DynamoDB
    index over its table). ``"*"`` for an action that takes no resource; ``None`` when none
    can be filled."""
    types = _resource_types(prefix, action)
    if not types:
        return "*"
    templates = [_arn_template(prefix, t) for t in types]
    merged = dict(bindings)
    for arn in arns:
        for template in templates:
            match = _template_pattern(template).fullmatch(arn)
            if match:
                merged.update(match.groupdict())
                break
    merged.update(fixed or {})
    filled = [(len(_PLACEHOLDER.findall(t)), -i, resource) for i, t in enumerate(templates)
              if (resource := _fill(t, merged)) is not None]
    return max(filled)[2] if filled else None


# --- mapping a call to checks ------------------------------------------------------------------

@dataclass(frozen=True)
class Check:
    """One authorization a call needs: ``action`` on ``resource`` (the ARN identity policies
    are matched against), then on each of ``underlying`` (resources the request reaches through
    ``resource``, each with its own resource policy), with the context AWS adds."""

    action: str
    resource: str
    underlying: tuple[str, ...] = ()
    context: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ObjectLambda:
    """An S3 Object Lambda access point: its supporting access point, and the function that
    transforms each S3 operation."""

    supporting_access_point: str
    functions: dict[str, str]


@dataclass
class Topology:
    """What the mapping must know that a request's parameters only name: which bucket is
    behind an access point, what an Object Lambda access point calls, where aliases point.
    ``object_lambda_routes`` is filled while running: whoever builds an Object Lambda event
    registers its ``outputRoute`` with the access point's ARN, since ``WriteGetObjectResponse``
    names only the route."""

    access_points: dict[str, str] = field(default_factory=dict)
    access_point_aliases: dict[str, str] = field(default_factory=dict)
    object_lambdas: dict[str, ObjectLambda] = field(default_factory=dict)
    kms_aliases: dict[str, str] = field(default_factory=dict)
    bucket_keys: dict[str, str] = field(default_factory=dict)
    secrets: dict[str, str] = field(default_factory=dict)
    object_lambda_routes: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class _Call:
    service: str
    prefix: str
    operation: str
    params: Mapping[str, Any]
    region: str
    account: str
    topology: Topology
    caller_function: str | None

    @property
    def base(self) -> dict[str, str]:
        return {"Partition": partition(self.region), "Region": self.region,
                "Account": self.account}

    def unmapped(self, why: str) -> UnmappedCallError:
        return UnmappedCallError(self.service, self.operation, why)


@functools.cache
def _service_model(service: str) -> Any:
    import botocore.session  # type: ignore[import-untyped]

    return botocore.session.get_session().get_service_model(service)


def map_call(service: str, operation: str, params: Mapping[str, Any], *, region: str,
             account: str, topology: Topology | None = None,
             caller_function: str | None = None) -> list[Check]:
    """The checks AWS makes for ``service.operation(**params)`` (botocore's service name and
    operation name) by a caller in ``account``, from a client in ``region``;
    ``caller_function`` is the ARN of the function making the call, when it is one. An empty
    list means IAM never sees the call (an unsigned Cognito call, ``GetCallerIdentity``)."""
    model = _service_model(service)
    if operation not in model.operation_names:
        raise UnmappedCallError(service, operation, f"{service} has no operation {operation}")
    operation_model = model.operation_model(operation)
    if operation_model.auth_type == "none" or "smithy.api#noAuth" in (
            getattr(operation_model, "auth", None) or ()):
        return []
    call = _Call(service, model.signing_name, operation, params, region, account,
                 topology or Topology(), caller_function)
    if (service, operation) in _NO_PERMISSION:
        return []
    rule = _SERVICE_RULES.get(service, _generic)
    return rule(call)


# Signed calls that AWS authorizes for everyone: IAM never checks them.
_NO_PERMISSION = frozenset({("sts", "GetCallerIdentity")})


def _generic(call: _Call, action: str | None = None,
             bindings: Mapping[str, str] | None = None) -> list[Check]:
    """Data-driven: the operation's action, its resource filled from parameters named like the
    ARN's placeholders (``TableName``, ``IndexName``, ``UserPoolId``, ``logGroupName``...) or
    from any parameter that is an ARN of the right type."""
    action = action or data_action(call.prefix, call.operation)
    if action is None or _privilege(call.prefix, action) is None:
        raise call.unmapped(f"the IAM data has no action {call.prefix}:"
                            f"{action or call.operation}")
    arns = [v for v in call.params.values() if isinstance(v, str) and v.startswith("arn:")]
    resource = data_resource(call.prefix, action, {**call.base, **_named_bindings(call.params)},
                             arns, bindings)
    if resource is None:
        kinds = " or ".join(_resource_types(call.prefix, action))
        raise call.unmapped(f"no parameter names the {kinds} that {call.prefix}:{action} "
                            "acts on")
    return [Check(f"{call.prefix}:{action}", resource)]


def _named_bindings(params: Mapping[str, Any]) -> dict[str, str]:
    found = {}
    for name, value in params.items():
        if isinstance(value, str) and not value.startswith("arn:"):
            found[name] = value
            found[name[0].upper() + name[1:]] = value
    return found


# -- DynamoDB: batch and transaction calls name their tables inside the request.

def _dynamodb(call: _Call) -> list[Check]:
    tables: list[tuple[str, str]] = []
    if call.operation in ("BatchGetItem", "BatchWriteItem"):
        tables = [(call.operation, table) for table in call.params.get("RequestItems") or {}]
    elif call.operation in ("TransactGetItems", "TransactWriteItems"):
        kinds = {"Get": "GetItem", "Put": "PutItem", "Update": "UpdateItem",
                 "Delete": "DeleteItem", "ConditionCheck": "ConditionCheckItem"}
        for item in call.params.get("TransactItems") or []:
            for kind, body in item.items():
                tables.append((kinds[kind], body["TableName"]))
    else:
        return _generic(call)
    return [check for action, table in dict.fromkeys(tables)
            for check in _generic(replace(call, params={"TableName": table}), action)]


def _dynamodbstreams(call: _Call) -> list[Check]:
    """``GetRecords`` names its stream only inside the shard iterator, which AWS keeps opaque;
    the embedded AWS's iterators start with the stream ARN."""
    if call.operation != "GetRecords":
        return _generic(call)
    stream = str(call.params.get("ShardIterator") or "").split("|", 1)[0]
    if not re.fullmatch(r"arn:[^:]+:dynamodb:[^:]+:\d{12}:table/[^/]+/stream/.+", stream):
        raise call.unmapped("its shard iterator does not name a stream")
    return _generic(replace(call, params={"StreamArn": stream}))


# -- SQS: the queue is named by its URL; batch calls need the single action.

_BATCH_ACTIONS = {"SendMessageBatch": "SendMessage", "DeleteMessageBatch": "DeleteMessage",
                  "ChangeMessageVisibilityBatch": "ChangeMessageVisibility",
                  "PublishBatch": "Publish", "InvokeWithResponseStream": "InvokeFunction"}


def _sqs(call: _Call) -> list[Check]:
    url = call.params.get("QueueUrl")
    bindings: dict[str, str] = {}
    if isinstance(url, str):
        parts = urlsplit(url)
        path = [p for p in parts.path.split("/") if p]
        if len(path) != 2:
            raise call.unmapped(f"{url!r} is not a queue URL")
        bindings = {"Account": path[0], "QueueName": path[1]}
        host = re.match(r"sqs\.([a-z0-9-]+)\.", parts.hostname or "")
        if host:
            bindings["Region"] = host.group(1)
    return _generic(call, _BATCH_ACTIONS.get(call.operation), bindings)


def _sns(call: _Call) -> list[Check]:
    return _generic(call, _BATCH_ACTIONS.get(call.operation))


# -- Lambda: FunctionName is a name, a partial or a full ARN, any of them with a qualifier.

def _lambda(call: _Call) -> list[Check]:
    bindings = {}
    name = call.params.get("FunctionName")
    if isinstance(name, str):
        parts = name.split(":")
        if name.startswith("arn:"):
            bindings = {"Partition": parts[1], "Region": parts[3], "Account": parts[4]}
            parts = parts[6:]
        elif len(parts) >= 3 and parts[1] == "function":
            bindings = {"Account": parts[0]}
            parts = parts[2:]
        qualifier = call.params.get("Qualifier")
        if qualifier and len(parts) == 1:
            parts.append(str(qualifier))
        bindings["FunctionName"] = ":".join(parts)
    return _generic(call, _BATCH_ACTIONS.get(call.operation), bindings)


# -- KMS: a key is named by id, key ARN, alias name or alias ARN; AWS authorizes the key.

def _kms_key(call: _Call, value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise call.unmapped("the call names no KeyId, and local mode cannot read the key "
                            "out of a ciphertext")
    base = f"arn:{partition(call.region)}:kms:{call.region}:{call.account}"
    if value.startswith("alias/") or ":alias/" in value:
        alias = value if value.startswith("arn:") else f"{base}:{value}"
        key = call.topology.kms_aliases.get(alias)
        if key is None:
            raise call.unmapped(f"the alias {alias} is not in the plan")
        return key
    return value if value.startswith("arn:") else f"{base}:key/{value}"


def _kms(call: _Call) -> list[Check]:
    if call.operation == "ReEncrypt":
        return [Check("kms:ReEncryptFrom", _kms_key(call, call.params.get("SourceKeyId"))),
                Check("kms:ReEncryptTo", _kms_key(call, call.params.get("DestinationKeyId")))]
    action = data_action("kms", call.operation)
    if action is None:
        raise call.unmapped("the IAM data has no action for it under kms:")
    if not _resource_types("kms", action):
        return [Check(f"kms:{action}", "*")]
    return [Check(f"kms:{action}", _kms_key(call, call.params.get("KeyId")))]


# -- Secrets Manager: a secret's ARN ends in a random suffix its name does not carry.

def _secretsmanager(call: _Call) -> list[Check]:
    secret = call.params.get("SecretId")
    known = call.topology.secrets.get(secret) if isinstance(secret, str) else None
    if known is not None:
        return _generic(replace(call, params={**call.params, "SecretId": known}))
    return _generic(call)


# -- SSM: parameter ARNs drop the name's leading slash; GetParameters names several.

def _ssm(call: _Call) -> list[Check]:
    names = call.params.get("Names") or [call.params.get("Name") or call.params.get("Path")]
    checks = []
    for name in names:
        if not isinstance(name, str):
            return _generic(call)
        if name.startswith("arn:"):
            checks += _generic(replace(call, params={"Name": name}))
        else:
            checks += _generic(call, bindings={
                "ParameterNameWithoutLeadingSlash": name.lstrip("/")})
    return checks


# -- EventBridge: PutEvents names a bus per entry ("default" when it names none).

def _events(call: _Call) -> list[Check]:
    if call.operation != "PutEvents":
        return _generic(call)
    buses = dict.fromkeys(entry.get("EventBusName") or "default"
                          for entry in call.params.get("Entries") or [])
    return [check for bus in buses
            for check in _generic(replace(call, params={"EventBusName": bus}), "PutEvents")]


# -- SES: sending is authorized on the identity the From address is sent through, with the
# request's addresses as condition keys (ses:FromAddress, ses:Recipients...).

def _ses_resource(call: _Call, resource_type: str, name_or_arn: str, placeholder: str) -> str:
    """The ``resource_type`` ARN a request names by ARN, or by name in the caller's region and
    account."""
    template = _arn_template("ses", resource_type)
    if name_or_arn.startswith("arn:"):
        if _template_pattern(template).fullmatch(name_or_arn) is None:
            raise call.unmapped(f"{name_or_arn!r} is not an SES {resource_type} ARN")
        return name_or_arn
    resource = _fill(template, {**call.base, placeholder: name_or_arn})
    if resource is None:
        raise call.unmapped(f"no SES {resource_type} is named")
    return resource


def _addresses(values: Any) -> list[str]:
    return [parseaddr(str(value))[1] for value in values or []]


def _sesv2(call: _Call) -> list[Check]:
    """``SendEmail`` is ``ses:SendEmail`` on the sending identity, and on the configuration set
    and the template when the request names them (the Service Authorization Reference's
    resource types of ses:SendEmail: identity, required; configuration-set and template).

    The identity is ``FromEmailAddressIdentityArn`` when given, else the From address's domain
    identity. SES sends through the identity that covers the address: a verified domain covers
    every address of it ("Creating and verifying identities" in the SES developer guide), and
    an email address identity of its own takes precedence over its domain's ("Creating a
    sending authorization policy"). Local mode cannot see which identities the account has
    verified (no plan creates one), so a sender whose own address is a verified identity must
    name it in ``FromEmailAddressIdentityArn`` to be checked as AWS checks it."""
    if call.operation == "SendBulkEmail":
        raise call.unmapped("bulk sending (one identity, many destinations) is not mapped yet")
    if call.operation != "SendEmail":
        return _generic(call)
    params = call.params
    display_name, address = parseaddr(str(params.get("FromEmailAddress") or ""))
    if "@" not in address:
        raise call.unmapped("no FromEmailAddress (a raw message's From header is not read)")
    identity = params.get("FromEmailAddressIdentityArn")
    resources = [_ses_resource(call, "identity", str(identity), "IdentityName") if identity
                 else _ses_resource(call, "identity", address.rpartition("@")[2],
                                    "IdentityName")]
    if params.get("ConfigurationSetName"):
        resources.append(_ses_resource(call, "configuration-set",
                                       str(params["ConfigurationSetName"]),
                                       "ConfigurationSetName"))
    template = (params.get("Content") or {}).get("Template") or {}
    named = template.get("TemplateArn") or template.get("TemplateName")
    if named:
        resources.append(_ses_resource(call, "template", str(named), "TemplateName"))
    context: dict[str, Any] = {"ses:FromAddress": address}
    if display_name:
        context["ses:FromDisplayName"] = display_name
    destination = params.get("Destination") or {}
    recipients = [a for kind in ("ToAddresses", "CcAddresses", "BccAddresses")
                  for a in _addresses(destination.get(kind))]
    if recipients:
        context["ses:Recipients"] = recipients
    if params.get("FeedbackForwardingEmailAddress"):
        context["ses:FeedbackAddress"] = parseaddr(
            str(params["FeedbackForwardingEmailAddress"]))[1]
    return [Check("ses:SendEmail", resource, context=context) for resource in resources]


# SES v1's sending operations name their identity by the Source address: not mapped yet.
_SES_V1_SENDS = frozenset({"SendEmail", "SendRawEmail", "SendTemplatedEmail",
                           "SendBulkTemplatedEmail"})


def _ses(call: _Call) -> list[Check]:
    if call.operation in _SES_V1_SENDS:
        raise call.unmapped("SES v1 sending is not mapped yet; sesv2.SendEmail is")
    return _generic(call)


# -- End User Messaging SMS: the origination identity is an ARN, a phone number id or a pool
# id, or a phone number or sender id whose ARN the call does not carry.

def _sms_voice(call: _Call) -> list[Check]:
    if call.operation != "SendTextMessage":
        return _generic(call)
    for name in ("ConfigurationSetName", "ProtectConfigurationId"):
        if call.params.get(name):
            raise call.unmapped(f"the IAM data names no resource of sms-voice:SendTextMessage "
                                f"for its {name}")
    origin = call.params.get("OriginationIdentity")
    if not isinstance(origin, str) or not origin:
        raise call.unmapped("no OriginationIdentity: the service picks one local mode cannot "
                            "know")
    if origin.startswith("arn:"):
        return _generic(replace(call, params={"OriginationIdentity": origin}))
    match = re.fullmatch(r"(phone|pool)-[0-9a-f]{32}", origin)
    if match is None:
        raise call.unmapped(f"OriginationIdentity {origin!r} is a phone number or sender id, "
                            "whose ARN the call does not carry (name its ARN)")
    placeholder = "PhoneNumberId" if match.group(1) == "phone" else "PoolId"
    return _generic(replace(call, params={}), bindings={placeholder: origin})


# -- S3: buckets, access points, their aliases and Object Lambda access points.

# S3 operations authorized as another action, where the data's documentation links do not say.
_S3_ACTIONS = {
    "HeadObject": "GetObject",
    "HeadBucket": "ListBucket",
    "ListObjects": "ListBucket",
    "ListObjectsV2": "ListBucket",
    "CreateMultipartUpload": "PutObject",
    "UploadPart": "PutObject",
    "CompleteMultipartUpload": "PutObject",
    "CopyObject": "PutObject",
    "UploadPartCopy": "PutObject",
    "DeleteObjects": "DeleteObject",
    "SelectObjectContent": "GetObject",
}
# S3 operations whose request writes (S3 asks KMS for a data key as the caller) or reads (S3
# asks KMS to decrypt) an object encrypted with a KMS key.
_S3_WRITES = frozenset({"PutObject", "CreateMultipartUpload", "UploadPart", "CopyObject",
                        "UploadPartCopy"})
_S3_READS = frozenset({"GetObject", "CompleteMultipartUpload", "SelectObjectContent"})


@dataclass(frozen=True)
class _S3Target:
    kind: Literal["bucket", "access-point", "object-lambda"]
    bucket: str  # the bucket's name; for an access point, the bucket behind it
    arn: str = ""  # the access point's ARN
    region: str = ""
    account: str = ""


def _s3_target(call: _Call, bucket: Any) -> _S3Target:
    if not isinstance(bucket, str) or not bucket:
        raise call.unmapped("no Bucket parameter")
    arn = call.topology.access_point_aliases.get(bucket, bucket)
    match = re.fullmatch(r"arn:[a-z-]+:(s3|s3-object-lambda):([a-z0-9-]+):(\d{12}):"
                         r"accesspoint[/:]([a-z0-9-]+)", arn)
    if match is None:
        if arn.startswith("arn:"):
            raise call.unmapped(f"Bucket {arn!r} is neither an access point nor an Object "
                                "Lambda access point ARN")
        return _S3Target("bucket", bucket)
    service, region, account, name = match.groups()
    arn = f"arn:{_partition_of(arn)}:{service}:{region}:{account}:accesspoint/{name}"
    if service == "s3-object-lambda":
        return _S3Target("object-lambda", "", arn, region, account)
    behind = call.topology.access_points.get(arn)
    if behind is None:
        raise call.unmapped(f"the access point {arn} is not in the plan, so the bucket behind "
                            "it (and its policy) is unknown")
    return _S3Target("access-point", behind, arn, region, account)


def _s3(call: _Call) -> list[Check]:
    params = call.params
    if call.operation == "WriteGetObjectResponse":
        return [Check("s3-object-lambda:WriteGetObjectResponse", _route_owner(call))]
    if "Bucket" not in params:
        return _generic(call)  # ListBuckets and the like
    target = _s3_target(call, params.get("Bucket"))
    action = _s3_action(call.operation, params)
    if target.kind == "object-lambda":
        return _object_lambda_checks(call, target, action)
    if call.operation == "DeleteObjects":
        checks = [check for item in (params.get("Delete") or {}).get("Objects") or []
                  for check in _s3_checks(call, target, _s3_action("DeleteObject", item),
                                          item.get("Key"))]
    else:
        checks = _s3_checks(call, target, action, params.get("Key"))
    if call.operation in ("CopyObject", "UploadPartCopy"):
        checks += _copy_source_checks(call, params.get("CopySource"))
    return checks + _s3_kms_checks(call, target)


def _route_owner(call: _Call) -> str:
    """The Object Lambda access point a ``WriteGetObjectResponse`` answers: the one that
    registered the route, or else the only one whose transform is the calling function (AWS
    binds a route to the access point that invoked the function)."""
    route = call.params.get("RequestRoute")
    known = call.topology.object_lambda_routes.get(str(route))
    if known is not None:
        return known
    owners = [arn for arn, config in call.topology.object_lambdas.items()
              if call.caller_function in config.functions.values()]
    if len(owners) == 1:
        return owners[0]
    raise call.unmapped(f"RequestRoute {route!r} belongs to no Object Lambda request local mode "
                        "knows (register it in Topology.object_lambda_routes)")


def _s3_action(operation: str, params: Mapping[str, Any]) -> str:
    action = _S3_ACTIONS.get(operation, operation)
    if params.get("VersionId"):
        # Reading or changing one version is its own action: GetObject -> GetObjectVersion.
        versioned = action.replace("Object", "ObjectVersion", 1)
        if _privilege("s3", versioned) is not None:
            return versioned
    return action


def _s3_checks(call: _Call, target: _S3Target, action: str, key: Any) -> list[Check]:
    resolved = data_action("s3", action)
    if resolved is None:
        raise call.unmapped("the IAM data has no action for it under s3:")
    action = resolved
    types = _resource_types("s3", action)
    on_object = isinstance(key, str) and "object" in types
    part = call.base["Partition"]
    if not types:
        return [Check(f"s3:{action}", "*")]
    if not on_object and "bucket" not in types:
        raise call.unmapped(f"s3:{action} acts on {' or '.join(types)}, and the call names "
                            "no Key")
    bucket_arn = f"arn:{part}:s3:::{target.bucket}"
    object_arn = f"{bucket_arn}/{key}" if on_object else bucket_arn
    if target.kind == "bucket":
        return [Check(f"s3:{action}", object_arn)]
    through = {"s3:DataAccessPointArn": target.arn, "s3:DataAccessPointAccount": target.account,
               "s3:AccessPointNetworkOrigin": "Internet"}
    resource = f"{target.arn}/object/{key}" if on_object else target.arn
    return [Check(f"s3:{action}", resource, (object_arn,), through)]


def _copy_source_checks(call: _Call, source: Any) -> list[Check]:
    if isinstance(source, Mapping):
        bucket, key, version = source.get("Bucket"), source.get("Key"), source.get("VersionId")
    elif isinstance(source, str):
        path, _, query = source.lstrip("/").partition("?")
        bucket, _, key = path.partition("/")
        key = unquote(key)
        version = dict(p.split("=", 1) for p in query.split("&") if "=" in p).get("versionId")
    else:
        raise call.unmapped("no CopySource")
    target = _s3_target(call, bucket)
    return _s3_checks(call, target, _s3_action("GetObject", {"VersionId": version}), key)


def _s3_kms_checks(call: _Call, target: _S3Target) -> list[Check]:
    key = call.params.get("SSEKMSKeyId") if call.operation in _S3_WRITES else None
    key = key or call.topology.bucket_keys.get(target.bucket)
    if key is None or not (call.operation in _S3_WRITES or call.operation in _S3_READS):
        return []
    via = {"aws:CalledVia": ["s3.amazonaws.com"], "aws:CalledViaFirst": "s3.amazonaws.com",
           "aws:CalledViaLast": "s3.amazonaws.com",
           "kms:ViaService": f"s3.{call.region}.amazonaws.com"}
    action = "kms:GenerateDataKey" if call.operation in _S3_WRITES else "kms:Decrypt"
    return [Check(action, _kms_key(call, key), context=via)]


def _object_lambda_checks(call: _Call, target: _S3Target, action: str) -> list[Check]:
    """A request to an Object Lambda access point: allowed there, then S3 Object Lambda
    invokes the transform and reads through the supporting access point, both as the caller,
    with ``aws:CalledVia`` set."""
    checks = _generic(replace(call, prefix="s3-object-lambda", params={"Bucket": target.arn}),
                      action)
    config = call.topology.object_lambdas.get(target.arn)
    if config is None:
        raise call.unmapped(f"the Object Lambda access point {target.arn} is not in the plan")
    via = {"aws:CalledVia": [OBJECT_LAMBDA], "aws:CalledViaFirst": OBJECT_LAMBDA,
           "aws:CalledViaLast": OBJECT_LAMBDA}
    function = config.functions.get(call.operation)
    if function is not None:
        checks.append(Check("lambda:InvokeFunction", function, context=via))
    supporting = _s3_target(call, config.supporting_access_point)
    for check in _s3_checks(call, supporting, action, call.params.get("Key")):
        checks.append(replace(check, context={**check.context, **via}))
    return checks


_SERVICE_RULES: dict[str, Callable[[_Call], list[Check]]] = {
    "dynamodb": _dynamodb, "dynamodbstreams": _dynamodbstreams, "sqs": _sqs, "sns": _sns,
    "lambda": _lambda, "kms": _kms, "secretsmanager": _secretsmanager, "ssm": _ssm,
    "events": _events, "s3": _s3, "sesv2": _sesv2, "ses": _ses,
    "pinpoint-sms-voice-v2": _sms_voice,
}


def execute_api_check(api_id: str, stage: str, method: str, path: str, *, region: str,
                      account: str) -> Check:
    """What API Gateway authorizes for an IAM-authorized route: ``execute-api:Invoke`` on
    ``<api>/<stage>/<METHOD>/<path without its leading slash>``."""
    arn = (f"arn:{partition(region)}:execute-api:{region}:{account}:{api_id}/{stage}/"
           f"{method.upper()}/{path.lstrip('/')}")
    return Check("execute-api:Invoke", arn)


# --- the plan ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class FunctionInfo:
    """A Lambda function of the plan, as IAM sees it."""

    resource_name: str
    name: str
    arn: str
    role_arn: str
    region: str
    account: str
    code: str | None
    environment: Mapping[str, str]
    log_group: str | None


_POLICY_TYPES = frozenset({
    "aws:iam/rolePolicy:RolePolicy", "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
    "aws:iam/policy:Policy", "aws:s3/bucketPolicy:BucketPolicy",
    "aws:s3/accessPoint:AccessPoint", "aws:s3control/accessPointPolicy:AccessPointPolicy",
    "aws:s3control/objectLambdaAccessPointPolicy:ObjectLambdaAccessPointPolicy",
    "aws:sqs/queuePolicy:QueuePolicy", "aws:sns/topicPolicy:TopicPolicy",
    "aws:lambda/permission:Permission", "aws:kms/key:Key"})


# A plan resource with its inputs and state, secrets revealed.
_Entry = tuple[Any, dict[str, Any], dict[str, Any]]


@dataclass
class PlanPolicies:
    """Every policy of an offline plan, and the topology the mapping needs."""

    roles: dict[str, tuple[Policy, ...]] = field(default_factory=dict)
    resource_policies: dict[str, Policy] = field(default_factory=dict)
    functions: dict[str, FunctionInfo] = field(default_factory=dict)
    topology: Topology = field(default_factory=Topology)
    # Policy-bearing resource types of the plan that this module does not read.
    unread: tuple[str, ...] = ()

    @classmethod
    def from_run(cls, run: Any) -> PlanPolicies:
        """From a ``tools.mock_runtime.StackRun``."""
        from tools.mock_runtime import reveal

        plan = cls()
        by_type: dict[str, list[_Entry]] = {}
        for r in run.resources:
            by_type.setdefault(r.type, []).append((r, reveal(dict(r.inputs)),
                                                   reveal(dict(r.state))))

        def of(type_: str) -> list[_Entry]:
            return by_type.get(type_, [])

        customer = {state["arn"]: Policy.parse(inputs["policy"], f"policy {resource.name}")
                    for resource, inputs, state in of("aws:iam/policy:Policy")}

        def attached(arn: str) -> Policy:
            return customer[arn] if arn in customer else managed_policy(arn)

        role_arns = {}
        for resource, inputs, state in of("aws:iam/role:Role"):
            arn = state["arn"]
            if inputs.get("permissionsBoundary"):
                raise PolicyError(f"role {resource.name} has a permissions boundary: local mode "
                                  "does not apply boundaries yet")
            role_arns.update({state.get("name"): arn, resource.id: arn, arn: arn})
            policies = [Policy.parse(p["policy"], f"inline policy {p.get('name')} of "
                                                  f"{resource.name}")
                        for p in inputs.get("inlinePolicies") or [] if p.get("policy")]
            policies += [attached(a) for a in inputs.get("managedPolicyArns") or []]
            plan.roles[arn] = tuple(policies)
        for resource, inputs, _ in of("aws:iam/rolePolicy:RolePolicy"):
            role = role_arns[inputs["role"]]
            plan.roles[role] += (Policy.parse(inputs["policy"],
                                              f"inline policy {resource.name}"),)
        for _resource, inputs, _ in of("aws:iam/rolePolicyAttachment:RolePolicyAttachment"):
            plan.roles[role_arns[inputs["role"]]] += (attached(inputs["policyArn"]),)

        plan._read_resources(of)
        plan._read_functions(of)
        plan.unread = tuple(sorted(
            t for t in by_type if t not in _POLICY_TYPES
            and re.search(r"(Policy|Permission)$", t.rsplit(":", 1)[-1])
            and t not in _NOT_ACCESS_POLICIES))
        return plan

    def resources_allowed(self, action: str) -> set[str]:
        """The resources that some role's statements allow ``action`` on, as written."""
        return {resource for policies in self.roles.values() for policy in policies
                for statement in policy.statements
                if statement.get("Effect") == "Allow" and "Action" in statement
                and any(action_matches(p, action) for p in _values(statement["Action"]))
                for resource in _values(statement.get("Resource", ()))}

    def _read_resources(self, of: Callable[[str], list[_Entry]]) -> None:
        topology = self.topology
        buckets = {state.get("bucket"): state["arn"] for _, _, state in of("aws:s3/bucket:Bucket")}
        for resource, inputs, _ in of("aws:s3/bucketPolicy:BucketPolicy"):
            arn = buckets.get(inputs["bucket"]) or f"arn:aws:s3:::{inputs['bucket']}"
            self._add(arn, inputs["policy"], f"bucket policy {resource.name}")
        for resource, inputs, state in of("aws:s3/accessPoint:AccessPoint"):
            topology.access_points[state["arn"]] = inputs["bucket"]
            if state.get("alias"):
                topology.access_point_aliases[state["alias"]] = state["arn"]
            if inputs.get("policy"):
                self._add(state["arn"], inputs["policy"], f"access point policy {resource.name}")
        for resource, inputs, _ in of("aws:s3control/accessPointPolicy:AccessPointPolicy"):
            self._add(inputs["accessPointArn"], inputs["policy"],
                      f"access point policy {resource.name}")
        olap_names = {}
        for _resource, inputs, state in of(
                "aws:s3control/objectLambdaAccessPoint:ObjectLambdaAccessPoint"):
            configuration = inputs["configuration"]
            functions = {action: transformation["contentTransformation"]["awsLambda"]
                         ["functionArn"]
                         for transformation in configuration["transformationConfigurations"]
                         for action in transformation["actions"]}
            topology.object_lambdas[state["arn"]] = ObjectLambda(
                configuration["supportingAccessPoint"], functions)
            olap_names[inputs.get("name") or state.get("name")] = state["arn"]
        for resource, inputs, _ in of(
                "aws:s3control/objectLambdaAccessPointPolicy:ObjectLambdaAccessPointPolicy"):
            self._add(olap_names[inputs["name"]], inputs["policy"],
                      f"Object Lambda access point policy {resource.name}")
        queues = {state.get("url"): state["arn"] for _, _, state in of("aws:sqs/queue:Queue")}
        for resource, inputs, _ in of("aws:sqs/queuePolicy:QueuePolicy"):
            self._add(queues.get(inputs["queueUrl"]) or _queue_arn(inputs["queueUrl"]),
                      inputs["policy"], f"queue policy {resource.name}")
        for resource, inputs, _ in of("aws:sns/topicPolicy:TopicPolicy"):
            self._add(inputs["arn"], inputs["policy"], f"topic policy {resource.name}")
        keys = {}
        for resource, inputs, state in of("aws:kms/key:Key"):
            keys[state.get("keyId") or resource.id] = state["arn"]
            keys[state["arn"]] = state["arn"]
            if inputs.get("policy"):
                self._add(state["arn"], inputs["policy"], f"key policy {resource.name}")
        for _, inputs, state in of("aws:kms/alias:Alias"):
            target = keys.get(inputs.get("targetKeyId"))
            if target:
                topology.kms_aliases[state["arn"]] = target
        for _, inputs, _ in of("aws:s3/bucketServerSideEncryptionConfiguration:"
                               "BucketServerSideEncryptionConfiguration"):
            for rule in inputs.get("rules") or []:
                key = (rule.get("applyServerSideEncryptionByDefault") or {}).get(
                    "kmsMasterKeyId")
                if key:
                    topology.bucket_keys[inputs["bucket"]] = keys.get(key, key)
        for _, inputs, state in of("aws:secretsmanager/secret:Secret"):
            topology.secrets[str(inputs.get("name") or state.get("name"))] = state["arn"]

    def _read_functions(self, of: Callable[[str], list[_Entry]]) -> None:
        images = {str(state.get("digest")): inputs
                  for _, inputs, state in of("docker-build:index:Image")}
        for resource, inputs, state in of("aws:lambda/function:Function"):
            arn = state["arn"]
            parts = arn.split(":")
            info = FunctionInfo(
                resource_name=resource.name, name=state.get("name") or parts[6], arn=arn,
                role_arn=inputs["role"], region=parts[3], account=parts[4],
                code=_code_folder(inputs.get("code")) or _image_folder(inputs, images),
                environment=dict((inputs.get("environment") or {}).get("variables") or {}),
                log_group=(inputs.get("loggingConfig") or {}).get("logGroup"))
            self.functions[arn] = info
        by_name = {f.name: f.arn for f in self.functions.values()}
        permissions: dict[str, list[dict[str, Any]]] = {}
        for resource, inputs, _ in of("aws:lambda/permission:Permission"):
            name = inputs["function"]
            arn = name if name.startswith("arn:") else by_name.get(name)
            if arn is None:
                raise PolicyError(f"Lambda permission {resource.name}: function {name!r} is not "
                                  "in the plan")
            permissions.setdefault(arn, []).append(_permission_statement(resource.name, arn,
                                                                         inputs))
        for arn, statements in permissions.items():
            self.resource_policies[arn] = Policy.parse({"Statement": statements},
                                                       f"resource policy of {arn}")

    def _add(self, arn: str, document: str, name: str) -> None:
        policy = Policy.parse(document, name)
        known = self.resource_policies.get(arn)
        self.resource_policies[arn] = policy if known is None else Policy(
            f"{known.name} and {name}", known.statements + policy.statements)

    def to_json(self) -> str:
        """The policies as JSON, for a worker process (``from_json``, ``boot``)."""
        def policy(p: Policy) -> dict[str, Any]:
            return {"name": p.name, "statements": list(p.statements)}

        topology = asdict(self.topology)
        return json.dumps({
            "roles": {arn: [policy(p) for p in ps] for arn, ps in self.roles.items()},
            "resource_policies": {arn: policy(p) for arn, p in self.resource_policies.items()},
            "functions": {arn: asdict(f) for arn, f in self.functions.items()},
            "topology": topology, "unread": list(self.unread)})

    @classmethod
    def from_json(cls, text: str) -> PlanPolicies:
        data = json.loads(text)

        def policy(p: Mapping[str, Any]) -> Policy:
            return Policy(p["name"], tuple(p["statements"]))

        topology = dict(data["topology"])
        topology["object_lambdas"] = {arn: ObjectLambda(**config) for arn, config
                                      in topology["object_lambdas"].items()}
        return cls(roles={arn: tuple(policy(p) for p in ps)
                          for arn, ps in data["roles"].items()},
                   resource_policies={arn: policy(p)
                                      for arn, p in data["resource_policies"].items()},
                   functions={arn: FunctionInfo(**f) for arn, f in data["functions"].items()},
                   topology=Topology(**topology), unread=tuple(data["unread"]))

    # -- queries

    def function(self, name: str) -> FunctionInfo:
        """A function by its ARN, its name in AWS or its resource name in the plan."""
        for info in self.functions.values():
            if name in (info.arn, info.name, info.resource_name):
                return info
        raise LookupError(f"no function {name!r} in the plan; there are "
                          f"{', '.join(sorted(f.resource_name for f in self.functions.values()))}")

    def identity_policies(self, role_arn: str) -> tuple[Policy, ...]:
        if role_arn not in self.roles:
            raise LookupError(f"no role {role_arn} in the plan")
        return self.roles[role_arn]

    def resource_policy(self, arn: str) -> Policy | None:
        """The resource policy that governs ``arn``: a bucket's for its objects, an access
        point's for its objects, a table's for its indexes, a function's for its versions."""
        return self.resource_policies.get(resource_policy_key(arn))

    def enforcer(self, function: str) -> Enforcer:
        """The enforcer for calls made by ``function``'s handler, as its role's session."""
        info = self.function(function)
        return Enforcer(Principal.assumed_role(info.role_arn, info.name),
                        self.identity_policies(info.role_arn), account=info.account,
                        region=info.region, resource_policies=self.resource_policy,
                        topology=self.topology, function_arn=info.arn)

    def authorize(self, principal: Principal, check: Check) -> Decision:
        """Decides ``check`` for ``principal`` with the plan's policies: for service-side
        checks (API Gateway or S3 invoking a function, Lambda sending to a failure queue, a
        presigned URL being used)."""
        identity = self.roles.get(principal.role_arn or "", ()) if principal.role_arn else ()
        return decide(principal, check, identity, self.resource_policy)


# Resource types whose names end in Policy but that grant nothing to callers.
_NOT_ACCESS_POLICIES = frozenset({
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
    "aws:cloudfront/originRequestPolicy:OriginRequestPolicy",
    "aws:cloudfront/responseHeadersPolicy:ResponseHeadersPolicy",
    "aws:cloudfront/cachePolicy:CachePolicy",
    "aws:sqs/redriveAllowPolicy:RedriveAllowPolicy",
    "aws:sqs/redrivePolicy:RedrivePolicy",
    "aws:appautoscaling/policy:Policy",
    "aws:ecr/lifecyclePolicy:LifecyclePolicy",
    # Who may pull an image: only Lambda and ECS ever do, and no image is pulled locally.
    "aws:ecr/repositoryPolicy:RepositoryPolicy",
})


def _queue_arn(url: str) -> str:
    parts = urlsplit(url)
    account, name = [p for p in parts.path.split("/") if p][-2:]
    region = (re.match(r"sqs\.([a-z0-9-]+)\.", parts.hostname or "") or [None, ""])[1]
    return f"arn:{partition(str(region))}:sqs:{region}:{account}:{name}"


def _code_folder(code: Any) -> str | None:
    assets = getattr(code, "assets", None) or {}
    app = assets.get("app.py")
    path = getattr(app, "path", None)
    return Path(path).parent.name if path else None


def _image_folder(function: Mapping[str, Any], images: Mapping[str, Any]) -> str | None:
    """An image function's code folder: the one its Dockerfile is in."""
    digest = str(function.get("imageUri") or "").rpartition("@")[2]
    dockerfile = ((images.get(digest) or {}).get("dockerfile") or {}).get("location")
    return Path(str(dockerfile)).parent.name if dockerfile else None


def _permission_statement(name: str, function_arn: str,
                          inputs: Mapping[str, Any]) -> dict[str, Any]:
    """A Lambda permission as the statement Lambda adds to the function's policy."""
    principal = str(inputs["principal"])
    resource = function_arn + (f":{inputs['qualifier']}" if inputs.get("qualifier") else "")
    statement: dict[str, Any] = {
        "Sid": inputs.get("statementId") or name, "Effect": "Allow",
        "Principal": "*" if principal == "*" else
        {"Service": principal} if principal.endswith(".amazonaws.com") else {"AWS": principal},
        "Action": inputs["action"], "Resource": resource}
    conditions: dict[str, dict[str, str]] = {}
    if inputs.get("sourceArn"):
        conditions["ArnLike"] = {"AWS:SourceArn": inputs["sourceArn"]}
    if inputs.get("sourceAccount"):
        conditions["StringEquals"] = {"AWS:SourceAccount": inputs["sourceAccount"]}
    if inputs.get("principalOrgId"):
        conditions.setdefault("StringEquals", {})["aws:PrincipalOrgID"] = inputs[
            "principalOrgId"]
    if conditions:
        statement["Condition"] = conditions
    return statement


def resource_policy_key(arn: str) -> str:
    """The ARN whose resource policy governs ``arn``."""
    parts = arn.split(":", 5)
    if len(parts) < 6:
        return arn
    service, resource = parts[2], parts[5]
    if service == "s3" and not parts[3]:
        return f"{':'.join(parts[:5])}:{resource.split('/', 1)[0]}"
    if service == "s3" and resource.startswith("accesspoint/"):
        return f"{':'.join(parts[:5])}:{'/'.join(resource.split('/')[:2])}"
    if service == "dynamodb" and resource.startswith("table/"):
        return f"{':'.join(parts[:5])}:{'/'.join(resource.split('/')[:2])}"
    if service == "lambda" and resource.startswith("function:"):
        return f"{':'.join(parts[:5])}:{':'.join(resource.split(':')[:2])}"
    return arn


# --- enforcement -------------------------------------------------------------------------------

def decide(principal: Principal, check: Check, identity: Sequence[Policy],
           resource_policy: Callable[[str], Policy | None] = lambda arn: None) -> Decision:
    """Decides one check: identity policies on ``check.resource``, and the resource policy of
    ``check.resource`` and of each underlying resource."""
    resources = [(arn, policy) for arn in (check.resource, *check.underlying)
                 if (policy := resource_policy(arn)) is not None]
    request = Request(principal, check.action, check.resource, check.context)
    return evaluate(request, identity, resources)


# The error code each service answers a denial with; AccessDeniedException elsewhere.
_DENIAL_CODES = {"s3": ("AccessDenied", 403), "sqs": ("AccessDenied", 403),
                 "sts": ("AccessDenied", 403), "sns": ("AuthorizationError", 403),
                 "iam": ("AccessDenied", 403)}


class Enforcer:
    """Decides the calls of one principal (a function's role session) before they are sent."""

    def __init__(self, principal: Principal, identity: Sequence[Policy], *, account: str,
                 region: str,
                 resource_policies: Callable[[str], Policy | None] = lambda arn: None,
                 topology: Topology | None = None, function_arn: str | None = None,
                 logger: logging.Logger = LOG) -> None:
        self.principal = principal
        self.function_arn = function_arn
        self.identity = tuple(identity)
        self.account = account
        self.region = region
        self.resource_policies = resource_policies
        self.topology = topology or Topology()
        self.logger = logger

    def decide(self, service: str, operation: str, params: Mapping[str, Any],
               region: str | None = None) -> list[Decision]:
        """Every check the call needs, decided; ``UnmappedCallError`` when it cannot be
        mapped."""
        checks = map_call(service, operation, params, region=region or self.region,
                          account=self.account, topology=self.topology,
                          caller_function=self.function_arn)
        return [decide(self.principal, check, self.identity, self.resource_policies)
                for check in checks]

    def check(self, service: str, operation: str, params: Mapping[str, Any],
              region: str | None = None) -> None:
        """Raises the ``ClientError`` AWS would when any check of the call is denied."""
        for decision in self.decide(service, operation, params, region):
            if not decision.allowed:
                self.logger.warning("AccessDenied for %s.%s by %s: %s", service, operation,
                                    self.principal.arn, decision.explain())
                code, status = _DENIAL_CODES.get(service, ("AccessDeniedException", 400))
                raise ClientError({"Error": {"Code": code, "Message": decision.message},
                                   "ResponseMetadata": {"HTTPStatusCode": status}}, operation)
            self.logger.debug("%s.%s: %s", service, operation, decision.explain())

    def before_parameter_build(self, params: Mapping[str, Any], model: Any,
                               context: Mapping[str, Any], **_: Any) -> None:
        """botocore's ``before-parameter-build`` handler. A presigned URL is not a call: it is
        checked when it is used."""
        if context.get("is_presign_request"):
            return
        service = model.service_model.service_name
        self.check(service, model.name, params, context.get("client_region"))

    def install(self, target: Any) -> None:
        """Checks every call of ``target``: a botocore client (``client.meta.events``), a boto3
        ``Session`` or a botocore session (every client created from it afterwards, so install
        before the handler module creates its clients)."""
        events = event_emitter(target)
        events.unregister("before-parameter-build", unique_id=HOOK_ID)
        events.register("before-parameter-build", self.before_parameter_build,
                        unique_id=HOOK_ID)


def event_emitter(target: Any) -> Any:
    meta = getattr(target, "meta", None)
    if meta is not None and hasattr(meta, "events"):
        return meta.events
    if hasattr(target, "_session") and hasattr(target, "events"):
        return target.events  # boto3.Session
    if hasattr(target, "get_component"):
        return target.get_component("event_emitter")
    raise TypeError(f"cannot install IAM checks on {type(target).__name__}: pass a botocore "
                    "client, a boto3 Session or a botocore Session")


def install(target: Any, policies: Sequence[Policy], *, role_arn: str, session_name: str,
            account: str, region: str,
            resource_policies: Callable[[str], Policy | None] = lambda arn: None,
            topology: Topology | None = None) -> Enforcer:
    """Installs IAM checks on ``target`` for a session ``session_name`` of ``role_arn`` whose
    identity policies are ``policies``; answers the enforcer."""
    enforcer = Enforcer(Principal.assumed_role(role_arn, session_name), policies,
                        account=account, region=region, resource_policies=resource_policies,
                        topology=topology)
    enforcer.install(target)
    return enforcer


PLAN_VARIABLE = "LOCAL_IAM_PLAN"


def boot() -> None:
    """For a local-mode worker (``LOCAL_BOOT=tools.local.iam``), before the handler module
    creates its clients: checks every call made through boto3's default session as the role of
    the function ``AWS_LAMBDA_FUNCTION_NAME``, with the policies in the file named by
    ``LOCAL_IAM_PLAN`` (``PlanPolicies.to_json``). Loads the IAM data now, while this Python's
    site-packages may still be imported."""
    import os

    import boto3  # type: ignore[import-untyped]
    import botocore.session  # noqa: F401 (loaded before the sandbox)
    from policy_sentry.querying import actions, arns  # noqa: F401 (loaded before the sandbox)

    plan = PlanPolicies.from_json(Path(os.environ[PLAN_VARIABLE]).read_text(encoding="utf-8"))
    enforcer = plan.enforcer(os.environ["AWS_LAMBDA_FUNCTION_NAME"])
    boto3.setup_default_session()
    enforcer.install(boto3.DEFAULT_SESSION)
