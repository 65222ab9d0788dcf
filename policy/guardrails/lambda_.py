"""Lambda functions, their permissions, event sources and logs."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from pulumi_policy import Policy

from .core import (
    ADVISORY,
    MANDATORY,
    UNKNOWN,
    Config,
    EdgeFunction,
    Props,
    Stack,
    Subject,
    as_list,
    is_unknown,
    resource_rule,
    stack_rule,
    statements,
)

FUNCTION = "aws:lambda/function:Function"
ALIAS = "aws:lambda/alias:Alias"
PERMISSION = "aws:lambda/permission:Permission"
INVOKE_CONFIG = "aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig"
EVENT_SOURCE_MAPPING = "aws:lambda/eventSourceMapping:EventSourceMapping"
FUNCTION_URL = "aws:lambda/functionUrl:FunctionUrl"
EVENT_TARGET = "aws:cloudwatch/eventTarget:EventTarget"
TOPIC_SUBSCRIPTION = "aws:sns/topicSubscription:TopicSubscription"
BUCKET_NOTIFICATION = "aws:s3/bucketNotification:BucketNotification"
SCHEDULE = "aws:scheduler/schedule:Schedule"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
ROLE = "aws:iam/role:Role"
QUEUE = "aws:sqs/queue:Queue"

DEFAULT_MAX_TIMEOUT_SECONDS = 300
LONG_RUNNING_TAG = "long-running"
LAMBDA_DEFAULT_MEMORY_MB = 128
LAMBDA_DEFAULT_TIMEOUT_SECONDS = 3
SQS_DEFAULT_VISIBILITY_TIMEOUT_SECONDS = 30
VISIBILITY_TIMEOUT_FACTOR = 6

# Managed runtimes that Lambda still supports (not deprecated) on 2026-11-26, with the date
# Lambda's runtime table gives for their deprecation. Left out because they are deprecated
# already: nodejs20.x (2026-04-30), java17, java11, java8.al2, provided.al2, python3.10,
# python3.11 (all 2026-06-30), ruby3.2 (2026-03-31) and dotnet8 (2026-11-10).
SUPPORTED_RUNTIMES = (
    "python3.12",       # 2028-10-31
    "python3.13",       # 2029-06-30
    "python3.14",       # 2029-06-30
    "nodejs22.x",       # 2027-04-30
    "nodejs24.x",       # 2028-04-30
    "java21",           # 2029-06-30
    "java25",           # 2029-06-30
    "dotnet10",         # 2028-11-14
    "ruby3.3",          # 2027-03-31
    "ruby3.4",          # 2028-03-31
    "provided.al2023",  # 2029-06-30
)

# Services that invoke a function asynchronously (Lambda queues the event, retries it twice and
# then drops it unless there is an on-failure destination). The regional forms
# (``logs.<region>.amazonaws.com``) count too.
ASYNC_SERVICES = (
    "s3", "sns", "ses", "events", "scheduler", "logs", "iot", "iotevents", "config",
    "codecommit", "codepipeline", "cloudformation", "lambda.alarms.cloudwatch",
)
SERVICE_SUFFIXES = (".amazonaws.com", ".amazonaws.com.cn")
# Event sources whose mappings are not streams: queues and brokers are retried by the source
# itself (an SQS queue's own redrive policy), and DocumentDB change streams take no destination.
NON_STREAM_SOURCES = frozenset({"sqs", "mq", "rds"})
STREAM_SOURCES = frozenset({"kinesis", "dynamodb", "kafka"})

# Lambda@Edge (CloudFront developer guide, "Restrictions on Lambda@Edge" and "Quotas on
# Lambda@Edge"): functions live in us-east-1, their role trusts both services, and viewer
# events have tighter quotas than origin events: (timeout in s, memory in MB).
EDGE_REGION = "us-east-1"
EDGE_PRINCIPALS = ("lambda.amazonaws.com", "edgelambda.amazonaws.com")
EDGE_ORIGIN_LIMITS = (30, 10240)
EDGE_VIEWER_LIMITS = (5, 128)


def _number(value: Any) -> float | None:
    """A known number (not a bool), or ``None``."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def _seconds(value: float) -> str:
    return f"{value:g} s"


def _setting(config: Config, key: str, default: float) -> float:
    configured = _number(config.get(key))
    return default if configured is None else configured


def _service(principal: Any) -> str | None:
    """``s3`` for ``s3.amazonaws.com``; ``None`` for anything that is not a service principal."""
    if not isinstance(principal, str) or is_unknown(principal):
        return None
    for suffix in SERVICE_SUFFIXES:
        if principal.endswith(suffix) and len(principal) > len(suffix):
            return principal[:-len(suffix)]
    return None


def _arn_service(arn: Any) -> str | None:
    """The service field of a known ARN string (``kinesis`` for ``arn:aws:kinesis:...``)."""
    if not isinstance(arn, str) or is_unknown(arn):
        return None
    parts = arn.split(":")
    return parts[2] if len(parts) > 2 and parts[0] == "arn" else None


def _functions(stack: Stack, subject: Subject, prop: str) -> list[Subject]:
    """The functions ``subject``'s ``prop`` was computed from, directly or through an alias."""
    found = stack.links(subject, prop, FUNCTION)
    for alias in stack.links(subject, prop, ALIAS):
        found += [f for f in stack.links(alias, "functionName", FUNCTION) if f not in found]
    return found


def _invocation_targets(stack: Stack, function: Subject) -> list[Subject]:
    """The function and its aliases: what a trigger may name to invoke it."""
    return [function, *stack.referencing(function, ALIAS, prop="functionName")]


# --- resource rules ---------------------------------------------------------------------------

@resource_rule(
    "lambda-explicit-memory",
    description="Lambda functions state their memory size instead of taking the 128 MB default.",
    anchors=("ES1005", "Serverless-LambdaDefaultMemorySize"),
    level=MANDATORY,
    types={FUNCTION},
)
def lambda_explicit_memory(function: Subject, config: Config) -> Iterator[str]:
    """Memory also sets the CPU share; the 128 MB default is rarely what a function needs.

    Mandatory: serverless-rules ES1005 is an Error-level rule (and cdk-nag registers
    Serverless-LambdaDefaultMemorySize at ERROR).
    """
    if function.props.get("memorySize") is None:
        yield ("memorySize is not set, so Lambda gives the function 128 MB (and the CPU share "
               "that goes with it); set memory_size explicitly, sized by measurement")


@resource_rule(
    "lambda-bounded-timeout",
    description="Lambda functions set a timeout explicitly, no longer than the configured maximum.",
    anchors=("ES1006", "Serverless-LambdaDefaultTimeout"),
    level=MANDATORY,
    types={FUNCTION},
    config={
        "maxTimeoutSeconds": {
            "type": "integer", "default": DEFAULT_MAX_TIMEOUT_SECONDS, "minimum": 1,
            "maximum": 900, "description": "The longest timeout, in seconds, a function may have."},
        "longRunningTag": {
            "type": "string", "default": LONG_RUNNING_TAG,
            "description": "A tag (set to \"true\") that declares a function batch work, allowed "
                           "up to maxLongRunningTimeoutSeconds."},
        "maxLongRunningTimeoutSeconds": {
            "type": "integer", "default": 900, "minimum": 1, "maximum": 900,
            "description": "The longest timeout of a function tagged long-running."},
    },
)
def lambda_bounded_timeout(function: Subject, config: Config) -> Iterator[str]:
    """The 3 s default cuts most real work short, and a long timeout lets a stuck invocation
    burn money and concurrency.

    Batch work (an index build, a file conversion) may need Lambda's full 15 minutes: a function
    that declares it with the ``long-running`` tag set to ``true`` gets the longer maximum, so
    the allowance is visible on the resource rather than raised for the whole stack.

    Mandatory: serverless-rules ES1006 is an Error-level rule (and cdk-nag registers
    Serverless-LambdaDefaultTimeout at ERROR).
    """
    timeout = function.props.get("timeout")
    maximum = _setting(config, "maxTimeoutSeconds", DEFAULT_MAX_TIMEOUT_SECONDS)
    tags = function.tags()
    tag = config.get("longRunningTag", LONG_RUNNING_TAG)
    if isinstance(tags, dict) and str(tags.get(tag, "")).lower() == "true":
        maximum = _setting(config, "maxLongRunningTimeoutSeconds", 900)
    if timeout is None:
        yield ("timeout is not set, so Lambda stops the function after 3 s; set timeout "
               f"explicitly (at most {_seconds(maximum)})")
        return
    seconds = _number(timeout)
    if seconds is not None and seconds > maximum:
        yield (f"timeout is {_seconds(seconds)}, above the maximum of {_seconds(maximum)}; "
               f"lower it (split long work into steps), or tag batch work {tag}=true")


@resource_rule(
    "lambda-supported-runtime",
    description="Lambda functions use a managed runtime on the allow-list (not a deprecated one).",
    anchors=("E2531", "AwsSolutions-L1", "Serverless-LambdaLatestVersion"),
    level=MANDATORY,
    types={FUNCTION},
    config={"allowedRuntimes": {
        "type": "array", "items": {"type": "string"}, "default": list(SUPPORTED_RUNTIMES),
        "description": "Runtime identifiers a .zip function may use; by default the managed "
                       "runtimes Lambda has not deprecated."}},
)
def lambda_supported_runtime(function: Subject, config: Config) -> Iterator[str]:
    """A deprecated runtime gets no security patches, and Lambda soon blocks updating it.

    Container-image functions (packageType Image) bring their own runtime and are skipped.
    Mandatory: cfn-lint E2531 (serverless-rules' Lambda EOL Runtime) is an error, and cdk-nag
    registers Serverless-LambdaLatestVersion at ERROR.
    """
    package_type = function.props.get("packageType")
    runtime = function.props.get("runtime")
    if is_unknown(package_type) or package_type == "Image" or is_unknown(runtime):
        return
    configured = config.get("allowedRuntimes")
    allowed = [r for r in configured if isinstance(r, str)] \
        if isinstance(configured, (list, tuple)) else list(SUPPORTED_RUNTIMES)
    if runtime is None:
        yield f"runtime is not set; a .zip function needs one of {', '.join(allowed)}"
    elif runtime not in allowed:
        yield (f"runtime {runtime} is deprecated or not allowed; move the function to one of "
               f"{', '.join(allowed)}")


@resource_rule(
    "lambda-stream-failure-destination",
    description="Stream event source mappings (Kinesis, DynamoDB Streams, Kafka) send records "
                "that exhaust their retries to an on-failure destination.",
    anchors=("ES1001", "Serverless-LambdaEventSourceMappingDestination"),
    level=MANDATORY,
    types={EVENT_SOURCE_MAPPING},
)
def lambda_stream_failure_destination(mapping: Subject, config: Config) -> Iterator[str]:
    """A stream retries a failing batch until the records expire, blocking the shard, and then
    loses them; an on-failure destination keeps a pointer to every batch that was given up.

    A mapping is a stream when it sets startingPosition or reads from Kinesis, DynamoDB or
    Kafka; SQS and Amazon MQ mappings are exempt (the queue's own redrive policy catches their
    failures), and so are DocumentDB change streams, which take no destination.
    Mandatory: serverless-rules ES1001 is an Error-level rule (and cdk-nag registers
    Serverless-LambdaEventSourceMappingDestination at ERROR).
    """
    source = mapping.props.get("eventSourceArn")
    service = _arn_service(source)
    if service in NON_STREAM_SOURCES or mapping.props.get("documentDbEventSourceConfig"):
        return
    starting_position = mapping.props.get("startingPosition")
    if starting_position is None and service not in STREAM_SOURCES:
        return  # not a stream, or not known yet to be one
    destination = mapping.props.get("destinationConfig", "onFailure", "destinationArn")
    if not destination and not is_unknown(destination):
        kind = {"kinesis": "Kinesis stream", "dynamodb": "DynamoDB stream",
                "kafka": "Kafka topic"}.get(service or "", "stream")
        yield (f"this {kind} mapping has no destinationConfig.onFailure.destinationArn, so "
               "records that exhaust their retries are dropped; set it to an SQS queue, SNS "
               "topic or S3 bucket")


@resource_rule(
    "lambda-permission-source-arn",
    description="Lambda permissions for AWS services are scoped to one source (sourceArn, and "
                "sourceAccount for S3); no permission is granted to everyone.",
    anchors=("compliance-ready:aws-lambda-permission-configure-source-arn",),
    level=MANDATORY,
    types={PERMISSION},
)
def lambda_permission_source_arn(permission: Subject, config: Config) -> Iterator[str]:
    """Without sourceArn any resource of that service, in any account, may invoke the function
    (the confused deputy); an S3 bucket ARN names no account, so S3 also needs sourceAccount.

    Mandatory: Pulumi's compliance-ready policy aws-lambda-permission-configure-source-arn has
    severity critical.
    """
    principal = permission.props.get("principal")
    if is_unknown(principal):
        return
    if principal == "*":
        yield ("principal is \"*\": anyone may invoke the function; name the service or "
               "account that calls it, and scope it with sourceArn")
        return
    service = _service(principal)
    if service is None:
        return
    if permission.props.get("sourceArn") is None:
        yield (f"the permission for {principal} sets no sourceArn, so any resource of that "
               "service (in any account) may invoke the function; set source_arn to the one "
               "resource that calls it")
    if service == "s3" and permission.props.get("sourceAccount") is None:
        yield ("the permission for s3.amazonaws.com sets no sourceAccount; bucket ARNs carry "
               "no account, so set source_account to the bucket owner's account")


@resource_rule(
    "lambda-url-authenticated",
    description="Lambda function URLs require IAM authentication (authorizationType AWS_IAM).",
    anchors=("cdk-nag:LambdaFunctionUrlAuth", "AwsPrototyping-LambdaFunctionUrlAuth"),
    level=MANDATORY,
    types={FUNCTION_URL},
)
def lambda_url_authenticated(url: Subject, config: Config) -> Iterator[str]:
    """A function URL with authorizationType NONE is a public endpoint that anyone on the
    internet can invoke, with no throttling or WAF in front.

    Mandatory: the cdk-nag rule LambdaFunctionUrlAuth is registered at NagMessageLevel.ERROR in
    the AwsPrototyping NagPack (it is a community rule in cdk-nag's own packs).
    """
    auth = url.props.get("authorizationType")
    if not is_unknown(auth) and auth != "AWS_IAM":
        yield (f"authorizationType is {auth or 'not set'}, so anyone on the internet can invoke "
               "the function; set it to AWS_IAM (put CloudFront with origin access control, or "
               "API Gateway, in front of it for public callers)")


# --- stack rules ------------------------------------------------------------------------------

@stack_rule(
    "lambda-tracing-active",
    description="Lambda functions send traces to X-Ray (tracingConfig.mode Active), except "
                "Lambda@Edge functions, which cannot.",
    anchors=("WS1000", "Serverless-LambdaTracing"),
    level=ADVISORY,
)
def lambda_tracing_active(stack: Stack, config: Config) -> Iterator[tuple[Subject | None, str]]:
    """Without active tracing a slow or failing call cannot be followed across services.

    Edge functions (ones a CloudFront distribution's cache behaviors were computed from) are
    exempt: Lambda@Edge does not support active tracing, and lambda-edge-compatible reports
    an edge function that turns it on. A stack rule only so that it can see the distributions.
    Advisory: serverless-rules WS1000 is a Warning, and cdk-nag registers
    Serverless-LambdaTracing at WARN.
    """
    edge = {e.function.urn for e in stack.edge_functions()}
    for function in stack.of_type(FUNCTION):
        if function.urn in edge:
            continue
        mode = function.props.get("tracingConfig", "mode")
        if not is_unknown(mode) and mode != "Active":
            yield function, f"tracingConfig.mode is {mode or 'not set'}; set it to Active"


def _async_evidence(stack: Stack, function: Subject) -> list[str]:
    """Why ``function`` is known to be invoked asynchronously (empty: it is not)."""
    found: list[str] = []
    for target in _invocation_targets(stack, function):
        for permission in stack.referencing(target, PERMISSION, prop="function"):
            principal = permission.props.get("principal")
            service = _service(principal) or ""
            if any(service == s or service.startswith(f"{s}.") for s in ASYNC_SERVICES):
                found.append(f"permission {permission.name} for {principal}")
        found += [f"event target {t.name}"
                  for t in stack.referencing(target, EVENT_TARGET, prop="arn")]
        found += [f"SNS subscription {s.name}"
                  for s in stack.referencing(target, TOPIC_SUBSCRIPTION, prop="endpoint")
                  if s.props.get("protocol") in ("lambda", None) or
                  is_unknown(s.props.get("protocol"))]
        found += [f"bucket notification {n.name}"
                  for n in stack.referencing(target, BUCKET_NOTIFICATION, prop="lambdaFunctions")]
        found += [f"schedule {s.name}"
                  for s in stack.referencing(target, SCHEDULE, prop="target")]
        found += [f"event invoke config {c.name}"
                  for c in stack.referencing(target, INVOKE_CONFIG, prop="functionName")]
    return list(dict.fromkeys(found))


def _has_failure_destination(stack: Stack, function: Subject) -> bool:
    dead_letter = function.props.get("deadLetterConfig", "targetArn")
    if dead_letter or is_unknown(dead_letter):
        return True
    for target in _invocation_targets(stack, function):
        for invoke_config in stack.referencing(target, INVOKE_CONFIG, prop="functionName"):
            destination = invoke_config.props.get("destinationConfig", "onFailure",
                                                  "destination")
            if destination or is_unknown(destination):
                return True
    return False


@stack_rule(
    "lambda-async-failure-destination",
    description="Functions invoked asynchronously (S3, SNS, EventBridge, schedules...) have an "
                "on-failure destination or a dead-letter queue.",
    anchors=("ES1007", "Serverless-LambdaAsyncFailureDestination", "Serverless-LambdaDLQ"),
    level=MANDATORY,
)
def lambda_async_failure_destination(stack: Stack,
                                     config: Config) -> Iterator[tuple[Subject | None, str]]:
    """Lambda retries an asynchronous event twice and then drops it; without an on-failure
    destination the event is lost without a trace.

    A function counts as asynchronous when, through property dependencies, a permission for an
    asynchronous service principal, an EventBridge target, an SNS subscription, an S3 bucket
    notification or a scheduler schedule invokes it, or an event invoke config is set for it.
    Mandatory: serverless-rules ES1007 is an Error-level rule (and cdk-nag registers
    Serverless-LambdaAsyncFailureDestination at ERROR).
    """
    for function in stack.of_type(FUNCTION):
        evidence = _async_evidence(stack, function)
        if evidence and not _has_failure_destination(stack, function):
            yield function, (
                f"is invoked asynchronously ({', '.join(evidence)}) but has no on-failure "
                "destination, so events that fail their retries are lost; add an "
                "aws.lambda_.FunctionEventInvokeConfig with destination_config.on_failure."
                "destination (an SQS queue, SNS topic, function or event bus), or set "
                "dead_letter_config.target_arn")


def _retention(group: Subject) -> Any:
    """The group's retention in days: a positive number, ``UNKNOWN``, or ``None`` (forever)."""
    days = group.props.get("retentionInDays")
    if is_unknown(days):
        return days
    number = _number(days)
    return number if number and number > 0 else None


def _named(stack: Stack, name: Any) -> list[Subject]:
    """The log groups whose (known) name is ``name``."""
    if not isinstance(name, str) or not name or is_unknown(name):
        return []
    return [g for g in stack.of_type(LOG_GROUP) if g.props.get("name") == name]


def _log_groups(stack: Stack, function: Subject) -> tuple[list[Subject], bool]:
    """The log groups the function writes to, and whether the rule can tell (False: the
    group's name is not known yet).

    With a loggingConfig.logGroup of its own, the function writes there only; otherwise to
    /aws/lambda/<function name>, and as Lambda@Edge to /aws/lambda/us-east-1.<function name>
    in each region where it runs.
    """
    configured = function.props.get("loggingConfig", "logGroup")
    name = function.props.get("name")
    known = isinstance(name, str) and name and not is_unknown(name)
    conventional = f"/aws/lambda/{name}" if known else None
    edge = f"/aws/lambda/{EDGE_REGION}.{name}" if known else None
    groups = stack.links(function, "loggingConfig", LOG_GROUP)
    if not groups and isinstance(configured, str) and configured != conventional:
        groups = _named(stack, configured)
    elif not groups:
        groups = stack.referencing(function, LOG_GROUP, prop="name")
        for literal in (conventional, edge):
            groups += [g for g in _named(stack, literal) if g not in groups]
    return groups, bool(groups) or not is_unknown(configured)


@stack_rule(
    "lambda-log-retention",
    description="Every function writes to a CloudWatch log group that has a retention period.",
    anchors=("WS1004", "Serverless-CloudWatchLogGroupRetentionPeriod"),
    level=ADVISORY,
)
def lambda_log_retention(stack: Stack, config: Config) -> Iterator[tuple[Subject | None, str]]:
    """The log group Lambda creates on its own keeps logs forever, and the bill grows with them.

    The function's log group is the one its loggingConfig.logGroup was computed from, or one
    whose name was computed from the function (/aws/lambda/<name>, or for a Lambda@Edge
    function /aws/lambda/us-east-1.<name>, the group its replicas write to in every region),
    or one whose literal name is one of those.
    Advisory: serverless-rules WS1004 is a Warning, and cdk-nag registers
    Serverless-CloudWatchLogGroupRetentionPeriod at WARN.
    """
    edge = {e.function.urn for e in stack.edge_functions()}
    for function in stack.of_type(FUNCTION):
        groups, known = _log_groups(stack, function)
        if not known:
            continue
        if not groups and function.urn in edge:
            yield function, (
                "is a Lambda@Edge function with no log group of its own, so its replicas "
                "create /aws/lambda/us-east-1.<name> groups that keep logs forever; create an "
                "aws.cloudwatch.LogGroup named /aws/lambda/us-east-1.<function name> with "
                "retention_in_days (in each region where it runs)")
        elif not groups:
            yield function, (
                "has no log group of its own, so Lambda creates /aws/lambda/<name> that keeps "
                "logs forever; create an aws.cloudwatch.LogGroup with retention_in_days and set "
                "logging_config.log_group to its name (or name it /aws/lambda/<function name>)")
        elif not any(_retention(g) for g in groups) and \
                not any(is_unknown(_retention(g)) for g in groups):
            names = ", ".join(g.name for g in groups)
            yield function, (f"its log group ({names}) has no retentionInDays, so logs are kept "
                             "forever; set retention_in_days")


def _role_keys(stack: Stack, function: Subject) -> set[tuple[str, str]]:
    """What identifies the function's role: the Role resources it was computed from, and its
    literal ARN when known."""
    keys = {("resource", role.urn) for role in stack.links(function, "role", ROLE)}
    role = function.props.get("role")
    if isinstance(role, str) and role and not is_unknown(role):
        keys.add(("arn", role))
    return keys


def _describe_role(stack: Stack, keys: set[tuple[str, str]]) -> str:
    urns = {value for kind, value in keys if kind == "resource"}
    names = sorted(r.name for r in stack.resources if r.urn in urns)
    return f"role {names[0]}" if names else f"role {min(v for _, v in keys)}"


@stack_rule(
    "lambda-one-role-per-function",
    description="Every Lambda function has its own execution role; no two functions share one.",
    anchors=("post:security-boundaries",
             "compliance-ready:aws-lambda-function-require-unique-iam-role",
             "cdk-nag:LambdaSharedRole"),
    level=ADVISORY,
)
def lambda_one_role_per_function(stack: Stack,
                                 config: Config) -> Iterator[tuple[Subject | None, str]]:
    """A shared role holds the union of every sharer's rights, so each function can do what any
    of them may: the function is the security boundary only if its role is its own.

    Two functions share a role when their role properties were computed from the same
    aws:iam/role:Role, or are the same literal role ARN.
    Advisory: the anchors are the AWS security-boundaries post, the compliance-ready policy
    aws-lambda-function-require-unique-iam-role (severity high, not critical) and cdk-nag's
    community rule LambdaSharedRole (in no NagPack); none is an error.
    """
    functions = stack.of_type(FUNCTION)
    keys = {f.urn: _role_keys(stack, f) for f in functions}
    for function in functions:
        mine = keys[function.urn]
        sharers = [other for other in functions
                   if other is not function and mine & keys[other.urn]]
        if sharers:
            yield function, (
                f"shares its {_describe_role(stack, mine & keys[sharers[0].urn])} with "
                f"{', '.join(sorted(s.name for s in sharers))}; give each function its own role "
                "with only the statements that function needs")


def _edge_region_problem(function: Subject) -> str | None:
    """Why the function is not known to live in us-east-1 (``None``: it is, or cannot tell).

    A resource's own ``region`` (pulumi-aws v7) wins over its provider's."""
    own = function.props.get("region")
    if is_unknown(own):
        return None
    if isinstance(own, str) and own:
        region, where = own, "its region"
    else:
        if function.provider is None:
            return None  # no provider recorded: nothing to read (explicit-provider's concern)
        region, where = function.provider_props.get("region"), "its provider's region"
        if is_unknown(region):
            return None
    if region == EDGE_REGION:
        return None
    shown = region if isinstance(region, str) and region else "not set"
    return (f"{where} is {shown}, but CloudFront only associates functions in {EDGE_REGION}; "
            f"create it through a provider with region {EDGE_REGION}")


def _trusted_services(policy: Any) -> Any:
    """The service principals an assume-role policy lets assume the role (``UNKNOWN`` if not
    known yet)."""
    found = statements(policy)
    if is_unknown(found):
        return UNKNOWN
    services: set[str] = set()
    for statement in found:
        actions = [str(a).lower() for a in as_list(statement.get("Action"))]
        if statement.get("Effect") != "Allow" or not any(
                a in ("sts:assumerole", "sts:*", "*") for a in actions):
            continue
        principal = statement.get("Principal")
        if isinstance(principal, Mapping):
            services |= {s for s in as_list(principal.get("Service")) if isinstance(s, str)}
    return services


def _numbered_version(arn: str) -> bool:
    """Whether a function ARN is qualified with a version number (``...:function:f:3``)."""
    parts = arn.split(":")
    return len(parts) == 8 and parts[5] == "function" and parts[7].isdigit()


def _edge_problems(stack: Stack, edge: EdgeFunction) -> Iterator[str]:
    function = edge.function
    props = function.props
    publish = props.get("publish")
    if not is_unknown(publish) and publish is not True:
        yield ("publish is not true, so there is no numbered version for CloudFront to "
               "replicate; set publish=True and associate function.qualified_arn")
    region = _edge_region_problem(function)
    if region:
        yield region
    variables = props.get("environment", "variables")
    if isinstance(variables, Mapping) and len(variables):
        yield (f"sets environment variables ({', '.join(sorted(str(k) for k in variables))}), "
               "which Lambda@Edge does not support; ship settings in the package instead")
    if "arm64" in props.items("architectures"):
        yield "architectures is arm64; Lambda@Edge runs x86_64 only"
    layers = [layer for layer in props.items("layers") if layer]
    if layers:
        yield (f"uses {len(layers)} layer(s), which Lambda@Edge does not support; bundle "
               "what they provide into the package")
    if [subnet for subnet in props.items("vpcConfig", "subnetIds") if subnet]:
        yield "is attached to a VPC (vpcConfig.subnetIds), which Lambda@Edge does not support"
    dead_letter = props.get("deadLetterConfig", "targetArn")
    if dead_letter and not is_unknown(dead_letter):
        yield ("sets deadLetterConfig, which Lambda@Edge does not support (CloudFront invokes "
               "it synchronously); remove it")
    if props.get("tracingConfig", "mode") == "Active":
        yield ("tracingConfig.mode is Active, which Lambda@Edge does not support; leave "
               "tracing_config unset (or PassThrough)")
    yield from _edge_quota_problems(edge)
    yield from _edge_trust_problems(stack, function)
    for association in edge.associations:
        arn = association.lambda_arn
        if isinstance(arn, str) and arn and not is_unknown(arn) and not _numbered_version(arn):
            kind = {8: "an alias", 7: "the unqualified function"}.get(
                len(arn.split(":")), "something other than a function version")
            if arn.endswith(":$LATEST"):
                kind = "$LATEST"
            yield (f"{association.describe()} names {kind} ({arn}); CloudFront only accepts "
                   "a numbered version: associate function.qualified_arn of a published "
                   "function")


def _edge_quota_problems(edge: EdgeFunction) -> Iterator[str]:
    viewer = edge.runs_for_viewers()
    max_timeout, max_memory = EDGE_VIEWER_LIMITS if viewer else EDGE_ORIGIN_LIMITS
    events = "viewer events" if viewer else "origin events"
    timeout = _timeout(edge.function.props, "timeout", LAMBDA_DEFAULT_TIMEOUT_SECONDS)
    if timeout is not None and timeout > max_timeout:
        yield (f"timeout is {_seconds(timeout)}; Lambda@Edge allows at most "
               f"{_seconds(max_timeout)} for {events}")
    memory = _timeout(edge.function.props, "memorySize", LAMBDA_DEFAULT_MEMORY_MB)
    if memory is not None and memory > max_memory:
        yield (f"memorySize is {memory:g} MB; Lambda@Edge allows at most {max_memory} MB for "
               f"{events}")


def _edge_trust_problems(stack: Stack, function: Subject) -> Iterator[str]:
    for role in stack.links(function, "role", ROLE):
        trusted = _trusted_services(role.props.get("assumeRolePolicy"))
        if is_unknown(trusted):
            continue
        missing = [p for p in EDGE_PRINCIPALS if p not in trusted]
        if missing:
            yield (f"its role {role.name} does not let {' and '.join(missing)} assume it; "
                   "Lambda@Edge needs both lambda.amazonaws.com and edgelambda.amazonaws.com "
                   "in the trust policy")


@stack_rule(
    "lambda-edge-compatible",
    description="Lambda@Edge functions (the ones CloudFront cache behaviors associate) keep "
                "to Lambda@Edge's restrictions and quotas.",
    anchors=("aws-docs:lambda-at-edge-function-restrictions", "aws-docs:lambda-at-edge-quotas"),
    level=MANDATORY,
)
def lambda_edge_compatible(stack: Stack, config: Config) -> Iterator[tuple[Subject | None, str]]:
    """An edge function that breaks one of Lambda@Edge's restrictions cannot be associated:
    CloudFront rejects the association, or the deployment fails.

    An edge function is one that a distribution's defaultCacheBehavior or
    orderedCacheBehaviors was computed from (directly or through an alias). It must be
    published (publish true) and live in us-east-1 (its own region, else its provider's); set
    no environment variables, arm64 architecture, layers, VPC subnets, dead-letter queue or
    Active tracing; keep within 30 s and 10,240 MB, or 5 s and 128 MB when an association runs
    it for a viewer event (an association whose event type is not known yet counts as an
    origin event); have a role (linked through ``role``) that both lambda.amazonaws.com and
    edgelambda.amazonaws.com may assume; and every association's lambdaArn, when known, must
    name a numbered version (not $LATEST, an alias or the unqualified function). Violations
    are reported on the function, naming the distribution and behavior where it matters.
    Mandatory: each point is a hard restriction of Lambda@Edge (the CloudFront developer
    guide's "Restrictions on Lambda@Edge" and "Quotas on Lambda@Edge"), not a recommendation;
    a stack that breaks one cannot be deployed as written.
    """
    for edge in stack.edge_functions():
        for message in _edge_problems(stack, edge):
            yield edge.function, message



@stack_rule(
    "sqs-visibility-covers-consumer",
    description="An SQS queue consumed by a Lambda function has a visibility timeout of at least "
                "six times the function's timeout.",
    anchors=("cdk-nag:LambdaEventSourceSQSVisibilityTimeout",),
    level=ADVISORY,
)
def sqs_visibility_covers_consumer(stack: Stack,
                                   config: Config) -> Iterator[tuple[Subject | None, str]]:
    """A message becomes visible again while its batch is still being processed (or retried
    after throttling) when the visibility timeout is too short, and is processed twice.

    The queue and the function are the ones the event source mapping's eventSourceArn and
    functionName were computed from; absent values are the SQS (30 s) and Lambda (3 s)
    defaults.
    Advisory: cdk-nag's LambdaEventSourceSQSVisibilityTimeout is a community rule, registered
    in no NagPack. (cfn-lint E3505 only requires the visibility timeout to exceed the function's
    timeout, a weaker condition than this rule's factor of six.)
    """
    for mapping in stack.of_type(EVENT_SOURCE_MAPPING):
        for queue in stack.links(mapping, "eventSourceArn", QUEUE):
            visibility = _timeout(queue.props, "visibilityTimeoutSeconds",
                                  SQS_DEFAULT_VISIBILITY_TIMEOUT_SECONDS)
            for function in _functions(stack, mapping, "functionName"):
                timeout = _timeout(function.props, "timeout", LAMBDA_DEFAULT_TIMEOUT_SECONDS)
                if visibility is None or timeout is None:
                    continue
                needed = VISIBILITY_TIMEOUT_FACTOR * timeout
                if visibility < needed:
                    yield mapping, (
                        f"queue {queue.name} has a visibility timeout of {_seconds(visibility)}, "
                        f"less than 6 x the {_seconds(timeout)} timeout of its consumer "
                        f"{function.name}; set visibility_timeout_seconds to at least "
                        f"{needed:g} (or lower the function's timeout)")


def _timeout(props: Props, key: str, default: float) -> float | None:
    """A timeout in seconds (or another numeric setting, such as memorySize): the default when
    absent, ``None`` when unknown or not a number."""
    value = props.get(key)
    if value is None:
        return float(default)
    return _number(value)


POLICIES: list[Policy] = [
    lambda_tracing_active,
    lambda_explicit_memory,
    lambda_bounded_timeout,
    lambda_supported_runtime,
    lambda_async_failure_destination,
    lambda_stream_failure_destination,
    lambda_log_retention,
    lambda_one_role_per_function,
    lambda_permission_source_arn,
    lambda_url_authenticated,
    sqs_visibility_covers_consumer,
    lambda_edge_compatible,
]
