"""The one way into a handler: Powertools' logging, tracing and metrics, and a check of the
event's shape, in one decorator.

Every function's ``handler`` goes through ``entry`` (a test walks ``functions/*/app.py`` and
fails when one does not)::

    from blueprints_common.entry import REST_PROXY, entry, rest_resolver

    logger = Logger()
    tracer = Tracer()
    metrics = Metrics()
    app = rest_resolver()

    @entry(REST_PROXY, logger=logger, tracer=tracer, metrics=metrics)
    def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        return app.resolve(event, context)

What ``entry`` does, outermost first:

1. ``logger.inject_lambda_context`` with ``log_event=False`` whatever
   ``POWERTOOLS_LOGGER_LOG_EVENT`` says: events carry API keys, tokens, cookies and client
   data, and no handler logs one raw. The kind's correlation id path is applied (API Gateway's
   request id for the API kinds). ``clear_state`` is passed on.
2. ``tracer.capture_lambda_handler`` when a tracer is given, with ``capture_response`` and
   ``capture_error`` passed on (``None``: Powertools' default and its environment variables).
3. ``metrics.log_metrics(capture_cold_start_metric=True)`` when metrics are given.
4. The event's outer shape is checked for the handler's ``EventKind``: the fields AWS always
   sends and their types, the optional ones' types. Events that the services never send but a
   direct invocation can (``{}``, ``null``, ``{"Records": [{}]}``, ``requestContext`` as a
   list, a body or query string that is not a string...) get the kind's refusal, logged
   (``Refused a malformed event``, with the kind and what is wrong, never a value) and counted
   (``MalformedEvents``, when metrics are given); the handler does not run.

The kinds and their refusals:

=============================  ==================================================================
``REST_PROXY``                 API Gateway REST API proxy integration (payload 1.0): 400 JSON
                               ``{"statusCode": 400, "message": ...}`` in ``multiValueHeaders``
                               form, as the REST resolver answers.
``HTTP_API``                   API Gateway HTTP API (payload 2.0): the same 400 in ``headers``
                               form.
``REST_REQUEST_AUTHORIZER``    A REST API ``REQUEST`` Lambda authorizer: raises
                               ``Exception("Unauthorized")``, which API Gateway answers with
                               401 (anything else an authorizer raises is a 500).
``S3_NOTIFICATION``            An S3 event notification, invoked asynchronously: returns
                               ``{"results": [], "rejected": ...}`` and logs an error. It does
                               not raise, so Lambda does not retry an event that would fail
                               the same way every time.
``CLOUDFRONT_ORIGIN_REQUEST``  A Lambda@Edge origin-request function: a generated 400 response
                               (``status``, ``statusDescription``, CloudFront's header lists,
                               a JSON ``{"message": ...}`` body, ``Cache-Control: no-store``).
``S3_OBJECT_LAMBDA``           An S3 Object Lambda request: only what answering needs is
                               checked (the output route and token, the input URL, the user
                               request an object); without them there is no answer to give,
                               and ``{"status_code": 400}`` is returned and logged as an error.
                               Anything else is the handler's to refuse through
                               ``WriteGetObjectResponse``.
``DYNAMODB_STREAM``            A DynamoDB stream batch (a non-empty ``Records`` list, each
                               record from ``aws:dynamodb`` with an ``eventName`` and a
                               ``dynamodb`` object holding a decimal ``SequenceNumber``): a
                               malformed batch did not come from a stream, so it is answered
                               ``{"batchItemFailures": []}`` (nothing to retry) and logged as
                               an error.
``SCHEDULED``                  An EventBridge Scheduler invocation: any JSON object is well
                               formed (the handler reads the time, not the event); anything
                               else is answered ``{"rejected": ...}`` and logged as an error.
``SQS_BATCH``                  An SQS event source mapping's batch (a non-empty ``Records``
                               list, each record from ``aws:sqs`` with a ``messageId`` and a
                               string ``body``): a malformed batch did not come from a queue,
                               so it is answered ``{"batchItemFailures": []}`` (nothing to
                               retry) and logged as an error.
``WORKFLOW_TASK``              A Step Functions task that invokes the function synchronously
                               with a JSON object (the handler validates what it holds):
                               anything else raises ``JobFailed``, logged as an error, which
                               the workflow catches by that name as a job that cannot succeed.
=============================  ==================================================================

A handler that uses one of Powertools' API Gateway resolvers builds it with ``rest_resolver``
or ``http_resolver``: they switch the resolver's debug mode off whatever ``POWERTOOLS_DEV``
says, since in debug mode a resolver prints every event it resolves (and answers unhandled
errors with their traceback).

Each handler names what its tracer patches: ``TRACE_AWS_CALLS`` (botocore, so every AWS call
is a subsegment, clients made later included) or ``TRACE_NO_LIBRARIES`` for a handler that
calls no AWS service. Powertools' default patches every library the X-Ray SDK supports, which
imports the ones installed (requests, sqlite3, aiobotocore...) into every cold start although
no handler calls them; the SDK's default leaves httplib unpatched, and so do these.

The module imports only Powertools' logger at load time (the resolvers are imported when
built), so a Lambda@Edge function, which bundles Powertools without its optional
dependencies, can use it.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal, NoReturn, TypeVar, cast

from aws_lambda_powertools.logging import correlation_paths

from blueprints_common import names

if TYPE_CHECKING:
    from aws_lambda_powertools import Logger, Metrics, Tracer
    from aws_lambda_powertools.event_handler import (
        APIGatewayHttpResolver,
        APIGatewayRestResolver,
    )

# What a handler's tracer patches (see the module's documentation).
TRACE_AWS_CALLS: tuple[str, ...] = ("botocore",)
TRACE_NO_LIBRARIES: tuple[str, ...] = ()
MALFORMED_METRIC = "MalformedEvents"
REFUSED = "Refused a malformed event"
MAX_PROBLEMS = 5  # a refusal names at most this many problems

Handler = TypeVar("Handler", bound=Callable[..., Any])


class JobFailed(Exception):  # noqa: N818 (the error name the workflows catch)
    """A workflow task's job that can never succeed (a bad request, a bad input): retrying it
    would fail the same way. Step Functions matches a Lambda error by its class name (the
    error's ``errorType``), so the name stays ``JobFailed``. The message is the outcome the
    job's owner reads: it says what is wrong, never with a traceback."""


@dataclass(frozen=True)
class EventKind:
    """What invokes a handler: how its events are shaped, and how a malformed one is answered.

    ``problems`` lists what is wrong with an event (empty when nothing is), naming fields and
    the types they should have, never values. ``refuse`` makes the answer from that list (or
    raises it, for an authorizer). ``severity`` is the level the refusal is logged at.
    """

    name: str
    problems: Callable[[Any], list[str]]
    refuse: Callable[[str], Any]
    correlation_id_path: str | None = None
    severity: Literal["warning", "error"] = "warning"


def entry(kind: EventKind, *, logger: Logger, tracer: Tracer | None = None,
          metrics: Metrics | None = None, capture_response: bool | None = None,
          capture_error: bool | None = None,
          clear_state: bool = False) -> Callable[[Handler], Handler]:
    """The decorator every ``handler`` goes through (see the module's documentation)."""

    def decorate(handler: Handler) -> Handler:
        @functools.wraps(handler)
        def checked(event: Any, context: Any) -> Any:
            problems = kind.problems(event)
            if not problems:
                return handler(event, context)
            reason = "; ".join(problems[:MAX_PROBLEMS])
            log = logger.error if kind.severity == "error" else logger.warning
            log(REFUSED, event_kind=kind.name, problem=reason)
            if metrics is not None:
                metrics.add_metric(name=MALFORMED_METRIC, unit="Count", value=1)
            return kind.refuse(reason)

        wrapped: Callable[..., Any] = checked
        if metrics is not None:
            wrapped = metrics.log_metrics(wrapped, capture_cold_start_metric=True)
        if tracer is not None:
            wrapped = tracer.capture_lambda_handler(wrapped, capture_response=capture_response,
                                                    capture_error=capture_error)
        wrapped = logger.inject_lambda_context(
            wrapped, log_event=False, correlation_id_path=kind.correlation_id_path,
            clear_state=clear_state)
        return cast(Handler, wrapped)

    return decorate


def rest_resolver(**options: Any) -> APIGatewayRestResolver:
    """Powertools' ``APIGatewayRestResolver`` with ``options``, its debug mode off."""
    from aws_lambda_powertools.event_handler import APIGatewayRestResolver

    return APIGatewayRestResolver(debug=False, **options)


def http_resolver(**options: Any) -> APIGatewayHttpResolver:
    """Powertools' ``APIGatewayHttpResolver`` with ``options``, its debug mode off."""
    from aws_lambda_powertools.event_handler import APIGatewayHttpResolver

    return APIGatewayHttpResolver(debug=False, **options)


# --- shapes ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Field:
    """One field of an object: whether it must be there, and what its value must be."""

    name: str
    valid: Callable[[Any], bool]
    expected: str
    required: bool = False


def check(value: Any, fields: tuple[Field, ...], where: str = "") -> list[str]:
    """What is wrong with ``value`` as an object with ``fields``. A ``null`` field counts as
    absent (API Gateway sends ``null`` for an absent map)."""
    if not isinstance(value, dict):
        return [f"{where.rstrip('.') or 'the event'} is not an object"]
    problems = []
    for field in fields:
        found = value.get(field.name)
        if found is None:
            if field.required:
                problems.append(f"{where}{field.name} is missing")
        elif not field.valid(found):
            problems.append(f"{where}{field.name} is not {field.expected}")
    return problems


def _text(value: Any) -> bool:
    return isinstance(value, str)


def _path(value: Any) -> bool:
    return isinstance(value, str) and value.startswith("/")


def _object(value: Any) -> bool:
    return isinstance(value, dict)


def _flag(value: Any) -> bool:
    return isinstance(value, bool)


def _strings(value: Any) -> bool:
    return isinstance(value, dict) and all(
        isinstance(key, str) and isinstance(item, str) for key, item in value.items())


def _string_lists(value: Any) -> bool:
    return isinstance(value, dict) and all(
        isinstance(key, str) and _string_list(item) for key, item in value.items())


def _string_list(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(item, str) for item in value)


def _sequencer(value: Any) -> bool:
    return isinstance(value, str) and names.SEQUENCER.fullmatch(value) is not None


def _size(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _time(value: Any) -> bool:
    if not isinstance(value, str) or not value.isascii():
        return False
    try:
        datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


def _cloudfront_headers(value: Any) -> bool:
    """CloudFront's headers: lower-case name -> a list of ``{"key": ..., "value": ...}``."""
    return isinstance(value, dict) and all(
        isinstance(name, str) and isinstance(entries, list) and all(
            isinstance(item, dict) and isinstance(item.get("value"), str)
            and isinstance(item.get("key", ""), str) for item in entries)
        for name, entries in value.items())


def _literal(expected: str) -> Callable[[Any], bool]:
    return lambda value: value == expected


# What both payload formats carry about the request itself.
_REQUEST_PARTS = (
    Field("headers", _strings, "an object of strings"),
    Field("queryStringParameters", _strings, "an object of strings"),
    Field("pathParameters", _strings, "an object of strings"),
    Field("stageVariables", _strings, "an object of strings"),
    Field("body", _text, "a string"),
    Field("isBase64Encoded", _flag, "true or false"),
)
_REST_FIELDS = (
    Field("httpMethod", _text, "a string", required=True),
    Field("path", _path, "a path (a string starting with /)", required=True),
    Field("requestContext", _object, "an object", required=True),
    Field("resource", _text, "a string"),
    Field("multiValueHeaders", _string_lists, "an object of string lists"),
    Field("multiValueQueryStringParameters", _string_lists, "an object of string lists"),
    *_REQUEST_PARTS,
)
_REST_CONTEXT_FIELDS = (
    Field("stage", _text, "a string"),
    Field("path", _text, "a string"),
    Field("requestId", _text, "a string"),
    Field("resourcePath", _text, "a string"),
    Field("httpMethod", _text, "a string"),
    Field("identity", _object, "an object"),
    Field("authorizer", _object, "an object"),
)


def rest_proxy_problems(event: Any) -> list[str]:
    """What is wrong with a REST API proxy event (payload 1.0)."""
    problems = check(event, _REST_FIELDS)
    if not problems:
        problems = check(event["requestContext"], _REST_CONTEXT_FIELDS, "requestContext.")
    return problems


_HTTP_FIELDS = (
    Field("version", _literal("2.0"), '"2.0"', required=True),
    Field("routeKey", _text, "a string", required=True),
    Field("rawPath", _path, "a path (a string starting with /)", required=True),
    Field("requestContext", _object, "an object", required=True),
    Field("rawQueryString", _text, "a string"),
    Field("cookies", _string_list, "a list of strings"),
    *_REQUEST_PARTS,
)
_HTTP_CONTEXT_FIELDS = (
    Field("http", _object, "an object", required=True),
    Field("requestId", _text, "a string"),
    Field("routeKey", _text, "a string"),
    Field("stage", _text, "a string"),
    Field("authorizer", _object, "an object"),
)
_HTTP_REQUEST_FIELDS = (
    Field("method", _text, "a string", required=True),
    Field("path", _path, "a path (a string starting with /)", required=True),
    Field("sourceIp", _text, "a string"),
    Field("userAgent", _text, "a string"),
    Field("protocol", _text, "a string"),
)


def http_api_problems(event: Any) -> list[str]:
    """What is wrong with an HTTP API event (payload 2.0)."""
    problems = check(event, _HTTP_FIELDS)
    if not problems:
        problems = check(event["requestContext"], _HTTP_CONTEXT_FIELDS, "requestContext.")
    if not problems:
        problems = check(event["requestContext"]["http"], _HTTP_REQUEST_FIELDS,
                         "requestContext.http.")
    return problems


_AUTHORIZER_FIELDS = (
    Field("type", _literal("REQUEST"), '"REQUEST"', required=True),
    Field("methodArn", _text, "a string", required=True),
    Field("resource", _text, "a string"),
    Field("path", _text, "a string"),
    Field("httpMethod", _text, "a string"),
    Field("headers", _strings, "an object of strings"),
    Field("multiValueHeaders", _string_lists, "an object of string lists"),
    Field("queryStringParameters", _strings, "an object of strings"),
    Field("multiValueQueryStringParameters", _string_lists, "an object of string lists"),
    Field("pathParameters", _strings, "an object of strings"),
    Field("stageVariables", _strings, "an object of strings"),
    Field("requestContext", _object, "an object"),
)


def rest_request_authorizer_problems(event: Any) -> list[str]:
    """What is wrong with a REST API REQUEST authorizer event."""
    return check(event, _AUTHORIZER_FIELDS)


_S3_RECORD_FIELDS = (
    Field("eventSource", _literal("aws:s3"), '"aws:s3"', required=True),
    Field("eventName", _text, "a string", required=True),
    Field("eventTime", _time, "an ISO 8601 time", required=True),
    Field("s3", _object, "an object", required=True),
)
_S3_ENTITY_FIELDS = (
    Field("bucket", _object, "an object", required=True),
    Field("object", _object, "an object", required=True),
)
_S3_BUCKET_FIELDS = (Field("name", _text, "a string", required=True),)
_S3_OBJECT_FIELDS = (
    Field("key", _text, "a string", required=True),
    Field("eTag", _text, "a string"),
    Field("versionId", _text, "a string"),
    Field("sequencer", _sequencer, "a hexadecimal string"),
    Field("size", _size, "a whole number"),
)


def s3_notification_problems(event: Any) -> list[str]:
    """What is wrong with an S3 event notification (S3's ``s3:TestEvent`` is well formed)."""
    if isinstance(event, dict) and "Records" not in event \
            and event.get("Event") == "s3:TestEvent":
        return []
    problems = check(event, (Field("Records", _nonempty_list, "a list of records",
                                   required=True),))
    if problems:
        return problems
    for position, record in enumerate(event["Records"]):
        where = f"Records[{position}]."
        found = check(record, _S3_RECORD_FIELDS, where)
        if not found:
            found = check(record["s3"], _S3_ENTITY_FIELDS, f"{where}s3.")
        if not found:
            found = (check(record["s3"]["bucket"], _S3_BUCKET_FIELDS, f"{where}s3.bucket.")
                     + check(record["s3"]["object"], _S3_OBJECT_FIELDS, f"{where}s3.object."))
        problems += found
        if len(problems) >= MAX_PROBLEMS:
            break
    return problems


def _nonempty_list(value: Any) -> bool:
    return isinstance(value, list) and len(value) > 0


_CLOUDFRONT_REQUEST_FIELDS = (
    Field("uri", _path, "a path (a string starting with /)", required=True),
    Field("method", _text, "a string", required=True),
    Field("querystring", _text, "a string"),
    Field("clientIp", _text, "a string"),
    Field("headers", _cloudfront_headers, "CloudFront's headers (name: [{key, value}])"),
    Field("origin", _object, "an object"),
)


def cloudfront_request_problems(event: Any) -> list[str]:
    """What is wrong with a CloudFront (Lambda@Edge) request event: one record, one request."""
    problems = check(event, (Field("Records", _one_record, "a list of one record",
                                   required=True),))
    if problems:
        return problems
    record = event["Records"][0]
    problems = check(record, (Field("cf", _object, "an object", required=True),), "Records[0].")
    if problems:
        return problems
    problems = check(record["cf"], (Field("request", _object, "an object", required=True),
                                    Field("config", _object, "an object")), "Records[0].cf.")
    if problems:
        return problems
    return check(record["cf"]["request"], _CLOUDFRONT_REQUEST_FIELDS, "Records[0].cf.request.")


def _one_record(value: Any) -> bool:
    return isinstance(value, list) and len(value) == 1


_OBJECT_LAMBDA_FIELDS = (
    Field("getObjectContext", _object, "an object", required=True),
    Field("userRequest", _object, "an object"),
    Field("xAmzRequestId", _text, "a string"),
)
_GET_OBJECT_CONTEXT_FIELDS = (
    Field("outputRoute", _text, "a string", required=True),
    Field("outputToken", _text, "a string", required=True),
    Field("inputS3Url", _text, "a string", required=True),
)


def s3_object_lambda_problems(event: Any) -> list[str]:
    """What keeps an S3 Object Lambda event from being answered at all."""
    problems = check(event, _OBJECT_LAMBDA_FIELDS)
    if not problems:
        problems = check(event["getObjectContext"], _GET_OBJECT_CONTEXT_FIELDS,
                         "getObjectContext.")
    return problems


_STREAM_RECORD_FIELDS = (
    Field("eventSource", lambda value: value == "aws:dynamodb", '"aws:dynamodb"', required=True),
    Field("eventName", lambda value: isinstance(value, str), "a string", required=True),
    Field("dynamodb", lambda value: isinstance(value, dict), "an object", required=True),
    Field("eventID", lambda value: isinstance(value, str), "a string"),
)
_STREAM_CHANGE_FIELDS = (
    Field("SequenceNumber", lambda value: isinstance(value, str) and value.isascii()
          and value.isdecimal(), "a decimal string", required=True),
    Field("NewImage", lambda value: isinstance(value, dict), "an object"),
    Field("Keys", lambda value: isinstance(value, dict), "an object"),
)


def dynamodb_stream_problems(event: Any) -> list[str]:
    """What is wrong with a DynamoDB stream batch."""
    problems = check(event, (Field("Records", lambda value: isinstance(value, list)
                                   and len(value) > 0, "a list of records", required=True),))
    if problems:
        return problems
    for position, record in enumerate(event["Records"]):
        where = f"Records[{position}]."
        found = check(record, _STREAM_RECORD_FIELDS, where)
        if not found:
            found = check(record["dynamodb"], _STREAM_CHANGE_FIELDS, f"{where}dynamodb.")
        problems += found
        if len(problems) >= MAX_PROBLEMS:
            break
    return problems


def scheduled_problems(event: Any) -> list[str]:
    """What is wrong with a scheduled invocation: only not being a JSON object."""
    return check(event, ())


_SQS_RECORD_FIELDS = (
    Field("eventSource", _literal("aws:sqs"), '"aws:sqs"', required=True),
    Field("messageId", _text, "a string", required=True),
    Field("body", _text, "a string", required=True),
    Field("receiptHandle", _text, "a string"),
    Field("attributes", _strings, "an object of strings"),
    Field("messageAttributes", _object, "an object"),
    Field("md5OfBody", _text, "a string"),
    Field("eventSourceARN", _text, "a string"),
    Field("awsRegion", _text, "a string"),
)


def sqs_batch_problems(event: Any) -> list[str]:
    """What is wrong with an SQS batch."""
    problems = check(event, (Field("Records", _nonempty_list, "a list of records",
                                   required=True),))
    if problems:
        return problems
    for position, record in enumerate(event["Records"]):
        problems += check(record, _SQS_RECORD_FIELDS, f"Records[{position}].")
        if len(problems) >= MAX_PROBLEMS:
            break
    return problems


def workflow_task_problems(event: Any) -> list[str]:
    """What is wrong with a workflow task's input: only not being a JSON object."""
    return check(event, ())



# --- refusals ----------------------------------------------------------------------------------

def refusal_message(problem: str) -> str:
    """What a refusal tells the caller."""
    return f"The request event is malformed: {problem}"


def rest_refusal(problem: str) -> dict[str, Any]:
    """A REST proxy integration's 400, shaped as the REST resolver answers."""
    return {"statusCode": 400,
            "multiValueHeaders": {"Content-Type": ["application/json"],
                                  "Cache-Control": ["no-store"]},
            "body": json.dumps({"statusCode": 400, "message": refusal_message(problem)}),
            "isBase64Encoded": False}


def http_refusal(problem: str) -> dict[str, Any]:
    """An HTTP API's 400, shaped as the HTTP resolver answers."""
    return {"statusCode": 400,
            "headers": {"Content-Type": "application/json", "Cache-Control": "no-store"},
            "body": json.dumps({"statusCode": 400, "message": refusal_message(problem)}),
            "isBase64Encoded": False}


def unauthorized(problem: str) -> NoReturn:
    """An authorizer's refusal: the one exception API Gateway turns into a 401."""
    # API Gateway matches this exact message; anything else an authorizer raises is a 500.
    raise Exception("Unauthorized")


def rejected(problem: str) -> dict[str, Any]:
    """An asynchronous S3 handler's refusal: done, nothing processed, nothing to retry."""
    return {"results": [], "rejected": refusal_message(problem)}


def unanswerable(problem: str) -> dict[str, int]:
    """An Object Lambda event without a route and token: S3 waits for no answer."""
    return {"status_code": 400}


def cloudfront_refusal(problem: str) -> dict[str, Any]:
    """A response CloudFront returns to the viewer instead of calling the origin."""
    return {"status": "400", "statusDescription": "Bad Request",
            "headers": {"content-type": [{"key": "Content-Type", "value": "application/json"}],
                        "cache-control": [{"key": "Cache-Control", "value": "no-store"}]},
            "body": json.dumps({"message": refusal_message(problem)})}


def no_failures(problem: str) -> dict[str, Any]:
    """A stream or queue handler's refusal: nothing to retry."""
    return {"batchItemFailures": []}


def rejected_run(problem: str) -> dict[str, Any]:
    """A scheduled handler's refusal: nothing was done."""
    return {"rejected": refusal_message(problem)}


def job_failed(problem: str) -> NoReturn:
    """A workflow task's refusal: the job fails, and the workflow records why."""
    raise JobFailed(refusal_message(problem))


REST_PROXY = EventKind("API Gateway REST proxy", rest_proxy_problems, rest_refusal,
                       correlation_paths.API_GATEWAY_REST)
HTTP_API = EventKind("API Gateway HTTP API", http_api_problems, http_refusal,
                     correlation_paths.API_GATEWAY_HTTP)
REST_REQUEST_AUTHORIZER = EventKind("API Gateway REQUEST authorizer",
                                    rest_request_authorizer_problems, unauthorized)
S3_NOTIFICATION = EventKind("S3 event notification", s3_notification_problems, rejected,
                            severity="error")
CLOUDFRONT_ORIGIN_REQUEST = EventKind("CloudFront origin request", cloudfront_request_problems,
                                      cloudfront_refusal)
S3_OBJECT_LAMBDA = EventKind("S3 Object Lambda", s3_object_lambda_problems, unanswerable,
                             "xAmzRequestId", severity="error")
DYNAMODB_STREAM = EventKind("DynamoDB stream", dynamodb_stream_problems, no_failures,
                            severity="error")
SCHEDULED = EventKind("EventBridge Scheduler", scheduled_problems, rejected_run,
                      severity="error")
SQS_BATCH = EventKind("SQS batch", sqs_batch_problems, no_failures, severity="error")
WORKFLOW_TASK = EventKind("Step Functions task", workflow_task_problems, job_failed,
                          severity="error")
KINDS: Mapping[str, EventKind] = {
    "REST_PROXY": REST_PROXY,
    "HTTP_API": HTTP_API,
    "REST_REQUEST_AUTHORIZER": REST_REQUEST_AUTHORIZER,
    "S3_NOTIFICATION": S3_NOTIFICATION,
    "CLOUDFRONT_ORIGIN_REQUEST": CLOUDFRONT_ORIGIN_REQUEST,
    "S3_OBJECT_LAMBDA": S3_OBJECT_LAMBDA,
    "DYNAMODB_STREAM": DYNAMODB_STREAM,
    "SCHEDULED": SCHEDULED,
    "SQS_BATCH": SQS_BATCH,
    "WORKFLOW_TASK": WORKFLOW_TASK,
}
