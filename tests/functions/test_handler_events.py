"""What every handler does with events that AWS never sends, with secrets, and with JSON.

- Every handler answers the events that AWS never sends but a direct invocation can (``{}``,
  ``null``, ``{"Records": [{}]}``, ``requestContext`` as a list, a body or query string that is
  not a string...) with its kind's refusal: a 400 JSON for the APIs, ``Unauthorized`` for the
  authorizer, a logged rejection that is not retried (no exception) for the index builder, a
  generated 400 at the edge.
- With event logging, Powertools' development mode (in which a resolver prints every event)
  and DEBUG logs switched on, no handler writes the API key, bearer token or cookie its event
  carries.
- Every handler that parses a client's JSON answers a deeply nested body with a 400.

The handlers are imported afresh as their components deploy them, against an empty moto
account: their stores are missing, so they answer with errors, which they log.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

import pytest
from blueprints_common.entry import JobFailed
from botocore.exceptions import ClientError  # type: ignore[import-untyped]
from cache_aside.cache import CacheUnavailableError
from moto import mock_aws

from tests.functions import events
from tests.functions.analytics_support import ENVIRONMENT as ANALYTICS_JOB_ENVIRONMENT
from tests.functions.analytics_support import job_request, sqs_event
from tests.functions.cache_support import (
    billing_event,
    bus_event,
    payment_event,
    profile_event,
    profile_stream_record,
)
from tests.functions.document_support import object_lambda_event
from tests.functions.event_management_support import scheduled_event, stream_record
from tests.functions.events import LambdaContext
from tests.functions.test_document_api import document_event
from tests.functions.test_document_transform import good_headers
from tests.functions.test_entity_index_builder import (
    BUCKET,
    REGION,
    import_fresh,
    s3_event,
    set_aws_environment,
)
from tests.functions.test_entity_matcher import http_event
from tests.functions.test_query_key_authorizer import request_event
from tests.functions.test_version_router import event as cloudfront_event
from tests.functions.test_version_router import request as cloudfront_request

REFUSED = "Refused a malformed event"
MALFORMED = "The request event is malformed: "
# Secrets an event can carry: an API key (valid for the authorizer), a bearer token, a cookie.
API_KEY = "Qm7SecretApiKeyValue0123456789abcdefXYZ"
TOKEN = "eyJSecretBearerTokenHeader.eyJSecretPayload.SecretSignature"
COOKIE_VALUE = "SecretSessionCookieValue42"
SECRETS = (API_KEY, TOKEN, COOKIE_VALUE)
SECRET_HEADERS = {"Authorization": f"Bearer {TOKEN}", "Cookie": f"session={COOKIE_VALUE}",
                  "X-Api-Key": API_KEY}
DEBUG_ENVIRONMENT = {"POWERTOOLS_LOGGER_LOG_EVENT": "true", "POWERTOOLS_DEV": "true",
                     "POWERTOOLS_EVENT_HANDLER_DEBUG": "true", "POWERTOOLS_LOG_LEVEL": "DEBUG"}
pytestmark = [
    # Answers that publish no business metric make Powertools warn that there is none.
    pytest.mark.filterwarnings("ignore:No application metrics to publish"),
    pytest.mark.filterwarnings("ignore:POWERTOOLS_DEV environment variable is enabled"),
]


CONTEXT = LambdaContext(memory_limit_in_mb=256)



# --- the handlers, as their components deploy them ---------------------------------------------

@dataclass(frozen=True)
class Case:
    """One entry point: its function's folder, kind of event, environment, a well-formed event
    that carries every secret it can, and the entry point's name in ``app.py``."""

    name: str
    kind: str
    environ: dict[str, str] = field(default_factory=dict)
    event: Callable[[], Any] = dict
    entry_point: str = "handler"


def _rest_event(path: str, method: str = "GET") -> dict[str, Any]:
    return events.rest_event(path, method=method, headers=SECRET_HEADERS,
                             query={"apiKey": API_KEY}, api_key=API_KEY, api_key_id="f8ne2l6s7a",
                             body=json.dumps(events.GOOD) if method == "POST" else None)


def _authorizer_event() -> dict[str, Any]:
    return request_event(query={"apiKey": API_KEY}, headers=SECRET_HEADERS)


def _matcher_event() -> dict[str, Any]:
    event = http_event("GET", query=[("name", "Acme"), ("apiKey", API_KEY)])
    event["headers"].update({name.lower(): value for name, value in SECRET_HEADERS.items()})
    event["cookies"] = [f"session={COOKIE_VALUE}"]
    return event


def _document_event() -> dict[str, Any]:
    event = document_event("contracts/plan.pdf")
    event["headers"].update({name.lower(): value for name, value in SECRET_HEADERS.items()})
    event["cookies"] = [f"session={COOKIE_VALUE}"]
    return event


def _s3_event() -> dict[str, Any]:
    """A notification for another bucket (ignored), with secrets where S3 puts identifiers: a
    direct invocation can put anything anywhere."""
    event = s3_event("reference/companies.csv", etag="0" * 32, bucket="another-bucket")
    record = event["Records"][0]
    record["userIdentity"]["principalId"] = f"AWS:{API_KEY}"
    record["responseElements"]["x-amz-id-2"] = TOKEN
    record["requestParameters"]["sourceIPAddress"] = COOKIE_VALUE
    return event


def _object_lambda_event() -> dict[str, Any]:
    """The transform's event: the API handler's signed request, and a presigned URL (of a port
    nothing listens on) whose query string carries a session token."""
    return object_lambda_event(
        f"http://127.0.0.1:9/original?X-Amz-Security-Token={TOKEN}&apiKey={API_KEY}",
        {**good_headers(), **SECRET_HEADERS})


class ObjectLambdaAnswers:
    """S3's side of WriteGetObjectResponse, which moto lacks: the answers, recorded."""

    def __init__(self) -> None:
        self.answers: list[dict[str, Any]] = []

    def write_get_object_response(self, **answer: Any) -> None:
        self.answers.append(answer)


def _cloudfront_event() -> dict[str, Any]:
    return cloudfront_event(cloudfront_request({"Accept": "application/json", **SECRET_HEADERS},
                                               querystring=f"apiKey={API_KEY}"))


def _event_api_event() -> dict[str, Any]:
    event = _rest_event("/requests", "POST")
    event["requestContext"]["authorizer"] = {"claims": {"sub": API_KEY, "email": COOKIE_VALUE}}
    event["body"] = json.dumps({"type": "food", "note": TOKEN})
    return event


def _stream_event() -> dict[str, Any]:
    """A new guest request whose note and ids carry the secrets a guest could type."""
    image = {"pk": "EVENT#summit", "sk": f"REQUEST#2026-11-26T15:00:00Z#{API_KEY}",
             "requestId": API_KEY, "type": "food", "note": TOKEN, "email": COOKIE_VALUE}
    return {"Records": [stream_record(image, sequence=1)]}


def _scheduled_event() -> dict[str, Any]:
    return {**scheduled_event(), "detail": {"token": TOKEN, "key": API_KEY,
                                            "cookie": COOKIE_VALUE}}


def _analytics_status_event() -> dict[str, Any]:
    """A job's status after IAM authorization, the caller's SigV4 identity carrying secrets."""
    job_id = "3f2c8a4e-9b1d-4c6e-8f0a-1b2c3d4e5f60"
    event = events.rest_event(f"/jobs/{job_id}", resource="/jobs/{jobId}",
                              path_parameters={"jobId": job_id}, headers=SECRET_HEADERS,
                              query={"apiKey": API_KEY})
    event["requestContext"]["identity"] |= {"accessKey": API_KEY, "caller": TOKEN,
                                            "userArn": f"arn:aws:sts::111111111111:"
                                                       f"assumed-role/{COOKIE_VALUE}/analyst"}
    return event


def _private_api_event() -> dict[str, Any]:
    """GET /whoami through a private API's VPC endpoint, signed, carrying every secret."""
    event = _rest_event("/whoami")
    event["requestContext"]["identity"] |= {
        "vpceId": "vpce-0ac4147ba9386c9a7", "vpcId": "vpc-0c00ca6aa29c8472f",
        "accessKey": API_KEY, "caller": TOKEN,
        "userArn": f"arn:aws:sts::111111111111:assumed-role/{COOKIE_VALUE}/engineer"}
    return event


def _analytics_job_request() -> dict[str, Any]:
    """A job whose parameters name columns a client could have called anything."""
    return job_request("linearRegression", {"target": TOKEN, "features": [API_KEY, COOKIE_VALUE]})


def _analytics_queue_event() -> dict[str, Any]:
    event = sqs_event(_analytics_job_request())
    event["Records"][0]["messageAttributes"] = {"cookie": {
        "stringValue": COOKIE_VALUE, "dataType": "String", "stringListValues": [],
        "binaryListValues": []}}
    return event


def _with_secrets(event: dict[str, Any]) -> dict[str, Any]:
    """An HTTP API event (after IAM authorization) carrying every secret a caller can send."""
    event["headers"].update({name.lower(): value for name, value in SECRET_HEADERS.items()})
    event["cookies"] = [f"session={COOKIE_VALUE}"]
    event["rawQueryString"] = f"apiKey={API_KEY}"
    event["queryStringParameters"] = {"apiKey": API_KEY}
    event["requestContext"]["authorizer"]["iam"]["accessKey"] = API_KEY
    return event


def _cache_manager_event() -> dict[str, Any]:
    return bus_event("blueprints.cache.payments", "payment_processed",
                     {"accountId": "acct-1", "note": TOKEN, "key": API_KEY,
                      "cookie": COOKIE_VALUE})


def _profile_stream_event() -> dict[str, Any]:
    record = profile_stream_record("prof-1", sequence=1)
    record["userIdentity"] = {"principalId": API_KEY, "type": TOKEN}
    record["dynamodb"]["NewImage"] = {"secret": {"S": COOKIE_VALUE}}
    return {"Records": [record]}


# The microservice cache's functions, their cache where nothing listens (the walk needs no
# server: a cache that cannot be reached is a miss, and the stores are missing).
CACHE_ENVIRONMENT = {
    "CACHE_HOST": "127.0.0.1", "CACHE_PORT": "9", "CACHE_TLS": "false", "CACHE_AUTH": "none",
    "CACHE_TIMEOUT_MS": "50", "ACCOUNTS_TABLE": "cache-accounts",
    "PAYMENTS_TABLE": "cache-payments", "PROFILES_TABLE": "cache-profiles",
    "EVENT_BUS_NAME": "cache-events"}
EVENT_TABLES = {"TABLE_NAME": "event-management-events",
                "REQUESTS_TABLE_NAME": "event-management-requests"}
# The handlers that create something keep idempotency records (missing here, like the stores).
IDEMPOTENCY = {"IDEMPOTENCY_TABLE": "idempotency-records"}
CASES = {
    "hello": Case("hello", "REST_PROXY", {"GREETING": "API v.1: Hello world!"},
                  lambda: _rest_event("/hello")),
    "customizations": Case("customizations", "REST_PROXY",
                           {"TABLE_NAME": "customizations", **IDEMPOTENCY},
                           lambda: _rest_event("/customizations", "POST")),
    "query_key_authorizer": Case("query_key_authorizer", "REST_REQUEST_AUTHORIZER", {},
                                 _authorizer_event),
    "entity_matcher": Case("entity_matcher", "HTTP_API", {"BUCKET_NAME": BUCKET},
                           _matcher_event),
    "document_api": Case("document_api", "HTTP_API", {
        "ACCESS_LOG_TABLE": "document-access-log", "TEMP_BUCKET": "document-downloads",
        "OBJECT_LAMBDA_ACCESS_POINT_ARN":
            "arn:aws:s3-object-lambda:us-east-1:111111111111:accesspoint/documents"},
        _document_event),
    "entity_index_builder": Case("entity_index_builder", "S3_NOTIFICATION",
                                 {"BUCKET_NAME": BUCKET}, _s3_event),
    "version_router": Case("version_router", "CLOUDFRONT_ORIGIN_REQUEST", {}, _cloudfront_event),
    "document_transform": Case("document_transform", "S3_OBJECT_LAMBDA", {},
                               _object_lambda_event),
    "event_api": Case("event_api", "REST_PROXY", {
        **EVENT_TABLES, **IDEMPOTENCY, "EVENT_ID": "summit", "QR_KEY_ID": "alias/event-tickets"},
        _event_api_event),
    "event_notifier": Case("event_notifier", "DYNAMODB_STREAM", {
        "TOPIC_ARN": f"arn:aws:sns:{REGION}:111111111111:event-staff"}, _stream_event),
    "event_reminders": Case("event_reminders", "SCHEDULED", {
        "TABLE_NAME": EVENT_TABLES["TABLE_NAME"], "FROM_ADDRESS": "events@example.com",
        "EVENT_NAME": "Serverless Summit"}, _scheduled_event),
    "analytics_status": Case("analytics_status", "REST_PROXY", {
        "JOBS_TABLE": "analytics-jobs", "RESULT_BUCKET": "analytics-results"},
        _analytics_status_event),
    "analytics_job": Case("analytics_job", "SQS_BATCH", ANALYTICS_JOB_ENVIRONMENT,
                          _analytics_queue_event),
    "analytics_job.run_job": Case("analytics_job", "WORKFLOW_TASK", ANALYTICS_JOB_ENVIRONMENT,
                                  _analytics_job_request, entry_point="run_job"),
    "private_api_whoami": Case("private_api_whoami", "REST_PROXY", {}, _private_api_event),
    "cache_billing": Case("cache_billing", "HTTP_API", CACHE_ENVIRONMENT,
                          lambda: _with_secrets(billing_event("acct-1"))),
    "cache_payment": Case("cache_payment", "HTTP_API", {**CACHE_ENVIRONMENT, **IDEMPOTENCY},
                          lambda: _with_secrets(payment_event(
                              {"paymentId": "pay-1", "accountId": "acct-1", "amount": 5}))),
    "cache_profile": Case("cache_profile", "HTTP_API", CACHE_ENVIRONMENT,
                          lambda: _with_secrets(profile_event("prof-1"))),
    "cache_manager": Case("cache_manager", "SCHEDULED", CACHE_ENVIRONMENT,
                          _cache_manager_event),
    "profile_refresher": Case("profile_refresher", "DYNAMODB_STREAM", CACHE_ENVIRONMENT,
                              _profile_stream_event),
}
# The kinds whose refusals are errors: nobody sees an answer, so only the log says it.
LOGGED_AS_ERRORS = ("S3_NOTIFICATION", "S3_OBJECT_LAMBDA", "DYNAMODB_STREAM", "SCHEDULED",
                    "SQS_BATCH", "WORKFLOW_TASK")
# The kinds whose handlers raise a failure that the caller retries or records: on an empty
# account their stores are missing, and they say so by raising.
RAISING_ON_EMPTY_ACCOUNT = ("SCHEDULED", "WORKFLOW_TASK")


class AnyVersion:
    """The router's DynamoDB: every version lives on one origin."""

    def get_item(self, **kwargs: Any) -> dict[str, Any]:
        return {"Item": {"hk": kwargs["Key"]["hk"], "dn": {"S": "api.example.com"}}}


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """An empty moto account: the handlers' stores are missing, so they answer with errors,
    which they log."""
    set_aws_environment(monkeypatch)
    with mock_aws():
        yield


@dataclass
class Loaded:
    case: Case
    module: ModuleType
    log: io.StringIO

    def call(self, event: Any) -> Any:
        return getattr(self.module, self.case.entry_point)(event, CONTEXT)

    def call_on_empty_account(self, event: Any) -> Any:
        """The call, where a scheduled run's failure to reach its store raises, as it should:
        the scheduler retries a run that raised (and a workflow records a task that did)."""
        try:
            return self.call(event)
        except (ClientError, CacheUnavailableError):  # the cache manager's cache is down too
            if self.case.kind not in RAISING_ON_EMPTY_ACCOUNT:
                raise
            return None


@pytest.fixture
def load(aws: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., Loaded]]:
    """Imports a function afresh under its environment (and ``extra``), its log captured."""
    loaded: list[str] = []
    finalizers: list[Callable[[], None]] = []

    def load(name: str, **extra: str) -> Loaded:
        case = CASES[name]
        for variable, value in {"POWERTOOLS_SERVICE_NAME": name.replace("_", "-"),
                                "POWERTOOLS_METRICS_NAMESPACE": "ServerlessBlueprints",
                                "POWERTOOLS_TRACE_DISABLED": "true",
                                **case.environ, **extra}.items():
            monkeypatch.setenv(variable, value)
        # A service's Powertools logger is created once and keeps the stream it was created
        # with: never a test's capsys stream, which is closed after the test.
        with contextlib.redirect_stdout(sys.__stdout__):
            module = import_fresh(f"{case.name}.app")
        loaded.append(module.__name__)
        if name == "version_router":
            settings = module.Settings.from_mapping(
                {"table_name": "api-versions", "region": REGION, "header_name": "Accept"})
            monkeypatch.setattr(module, "default_router",
                                lambda: module.Router(settings, AnyVersion()))
        if name == "document_transform":
            monkeypatch.setattr(module, "s3", ObjectLambdaAnswers())
        log = io.StringIO()
        handler = module.logger.registered_handler
        assert isinstance(handler, logging.StreamHandler)
        monkeypatch.setattr(handler, "stream", log)
        # The Powertools logger of a service outlives a module's import, and keeps its level.
        level = module.logger.log_level
        module.logger.setLevel(extra.get("POWERTOOLS_LOG_LEVEL", level))
        finalizers.append(lambda: module.logger.setLevel(level))
        return Loaded(case, module, log)

    yield load
    for finalize in finalizers:
        finalize()
    for module_name in loaded:
        sys.modules.pop(module_name, None)


def refusal_lines(log: io.StringIO) -> list[dict[str, Any]]:
    return [line for line in map(json.loads, log.getvalue().splitlines())
            if line.get("message") == REFUSED]


# --- malformed events --------------------------------------------------------------------------

NOT_OBJECTS = [None, [], "event", 42, True]


def replaced(event: dict[str, Any], *path_and_value: Any) -> dict[str, Any]:
    """``event`` with the value at ``path`` (keys) replaced, or removed for ``...``."""
    *path, value = path_and_value
    event = json.loads(json.dumps(event))
    target = event
    for key in path[:-1]:
        target = target[key]
    if value is ...:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return event


def malformed(name: str) -> list[Any]:
    """Events AWS never sends to ``name``'s kind of function, but a direct invocation can."""
    good = CASES[name].event()
    kind = CASES[name].kind
    if kind in ("SCHEDULED", "WORKFLOW_TASK"):  # any JSON object is their input
        return list(NOT_OBJECTS)
    variants: list[Any] = [*NOT_OBJECTS, {}, {"Records": [{}]}]
    if kind == "REST_PROXY":
        variants += [replaced(good, "requestContext", []), replaced(good, "requestContext", ...),
                     replaced(good, "body", 42), replaced(good, "body", {"name": "x"}),
                     replaced(good, "queryStringParameters", "apiKey=x"),
                     replaced(good, "multiValueQueryStringParameters", {"apiKey": "x"}),
                     replaced(good, "headers", ["Accept"]), replaced(good, "httpMethod", ...),
                     replaced(good, "path", 7), replaced(good, "isBase64Encoded", "yes"),
                     replaced(good, "requestContext", "identity", [])]
    elif kind == "HTTP_API":
        variants += [replaced(good, "requestContext", []),
                     replaced(good, "requestContext", "http", ...),
                     replaced(good, "body", 42), replaced(good, "rawQueryString", 42),
                     replaced(good, "queryStringParameters", "name=x"),
                     replaced(good, "cookies", "session=x"), replaced(good, "headers", {"a": 1}),
                     replaced(good, "version", "1.0"), replaced(good, "rawPath", ...),
                     replaced(good, "requestContext", "authorizer", "jwt")]
    elif kind == "REST_REQUEST_AUTHORIZER":
        variants += [replaced(good, "requestContext", []), replaced(good, "methodArn", ...),
                     replaced(good, "queryStringParameters", "apiKey=x"),
                     replaced(good, "headers", ["x-api-key"]), replaced(good, "type", "TOKEN")]
    elif kind == "S3_NOTIFICATION":
        variants += [{"Records": []}, {"Records": [None]}, {"Records": "s3"},
                     replaced(good, "Records", 0, "s3", []),
                     replaced(good, "Records", 0, "s3", "object", "key", 42),
                     replaced(good, "Records", 0, "s3", "object", "sequencer", "not hex"),
                     replaced(good, "Records", 0, "s3", "bucket", ...),
                     replaced(good, "Records", 0, "eventTime", "yesterday"),
                     replaced(good, "Records", 0, "eventSource", "aws:sqs")]
    elif kind == "CLOUDFRONT_ORIGIN_REQUEST":
        variants += [{"Records": []}, replaced(good, "Records", 0, "cf", "request", ...),
                     replaced(good, "Records", 0, "cf", "request", "uri", 1),
                     replaced(good, "Records", 0, "cf", "request", "headers", "accept: v1"),
                     {"Records": good["Records"] * 2}]
    elif kind == "S3_OBJECT_LAMBDA":
        variants += [replaced(good, "getObjectContext", ...),
                     replaced(good, "getObjectContext", "outputToken", ...),
                     replaced(good, "getObjectContext", "outputRoute", 7),
                     replaced(good, "getObjectContext", "inputS3Url", None),
                     replaced(good, "userRequest", "headers"), replaced(good, "userRequest", [])]
    elif kind == "DYNAMODB_STREAM":
        variants += [{"Records": []}, {"Records": "stream"},
                     replaced(good, "Records", 0, "eventSource", "aws:sqs"),
                     replaced(good, "Records", 0, "dynamodb", ...),
                     replaced(good, "Records", 0, "dynamodb", "SequenceNumber", 7),
                     replaced(good, "Records", 0, "dynamodb", "NewImage", [])]
    elif kind == "SQS_BATCH":
        variants += [{"Records": []}, {"Records": "queue"}, {"Records": [None]},
                     replaced(good, "Records", 0, "eventSource", "aws:dynamodb"),
                     replaced(good, "Records", 0, "body", ...),
                     replaced(good, "Records", 0, "body", {"jobId": "x"}),
                     replaced(good, "Records", 0, "messageId", 7),
                     replaced(good, "Records", 0, "attributes", []),
                     replaced(good, "Records", 0, "messageAttributes", "cookie")]
    return variants


def malformed_cases() -> list[Any]:
    return [pytest.param(name, event, id=f"{name}-{position}")
            for name in CASES for position, event in enumerate(malformed(name))]


@pytest.mark.parametrize(("name", "event"), malformed_cases())
def test_a_malformed_event_gets_the_kinds_refusal(load: Callable[..., Loaded], name: str,
                                                  event: Any,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    function = load(name)
    kind = function.case.kind

    if kind == "REST_REQUEST_AUTHORIZER":
        with pytest.raises(Exception, match=r"^Unauthorized$") as raised:
            function.call(event)
        assert type(raised.value) is Exception
    elif kind == "WORKFLOW_TASK":
        with pytest.raises(JobFailed) as failed:
            function.call(event)
        assert str(failed.value) == MALFORMED + "the event is not an object"
    else:
        answer = function.call(event)
        if kind == "S3_NOTIFICATION":
            assert answer["results"] == []
            assert answer["rejected"].startswith(MALFORMED)
        elif kind in ("DYNAMODB_STREAM", "SQS_BATCH"):
            assert answer == {"batchItemFailures": []}  # nothing came from a stream to retry
        elif kind == "SCHEDULED":
            assert set(answer) == {"rejected"}
            assert answer["rejected"].startswith(MALFORMED)
        elif kind == "S3_OBJECT_LAMBDA":
            assert answer == {"status_code": 400}
            assert function.module.s3.answers == []  # nobody is waiting for one
        elif kind == "CLOUDFRONT_ORIGIN_REQUEST":
            assert (answer["status"], answer["statusDescription"]) == ("400", "Bad Request")
            assert json.loads(answer["body"])["message"].startswith(
                MALFORMED)
        else:
            assert answer["statusCode"] == 400
            headers = answer.get("multiValueHeaders") if kind == "REST_PROXY" \
                else answer.get("headers")
            assert headers["Content-Type"] in ("application/json", ["application/json"])
            body = json.loads(answer["body"])
            assert set(body) == {"statusCode", "message"}
            assert body["statusCode"] == 400
            assert body["message"].startswith(MALFORMED)
    refused = refusal_lines(function.log)
    assert len(refused) == 1
    assert refused[0]["level"] == ("ERROR" if kind in LOGGED_AS_ERRORS else "WARNING")
    if name not in ("query_key_authorizer", "version_router"):  # they publish no metrics
        assert '"MalformedEvents":[1.0]' in capsys.readouterr().out.replace(" ", "")


@pytest.mark.parametrize("name", list(CASES))
def test_a_well_formed_event_is_not_refused(load: Callable[..., Loaded], name: str) -> None:
    function = load(name)

    function.call_on_empty_account(CASES[name].event())

    assert refusal_lines(function.log) == []


# --- no handler logs its event's secrets -------------------------------------------------------

@pytest.mark.parametrize("name", list(CASES))
def test_no_handler_logs_the_secrets_in_its_event(load: Callable[..., Loaded], name: str,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    """With event logging on, Powertools' development mode on (in which a resolver prints every
    event) and the log level at DEBUG, the API key, token and cookie stay out of the output."""
    function = load(name, **DEBUG_ENVIRONMENT)
    event = function.case.event()
    assert all(secret in json.dumps(event) for secret in SECRETS)

    function.call_on_empty_account(event)

    function.module.logger.debug("probe")  # the capture sees the handler's debug lines
    captured = capsys.readouterr()
    output = function.log.getvalue() + captured.out + captured.err
    assert "probe" in function.log.getvalue()
    for secret in SECRETS:
        assert secret not in output


# --- JSON from clients -------------------------------------------------------------------------

DEEP_ARRAY = "[" * 100_000 + "]" * 100_000
BODY_PARSERS = {
    "customizations": lambda body: replaced(CASES["customizations"].event(), "body", body),
    "entity_matcher": lambda body: http_event("POST", body=body),
    "cache_payment": lambda body: replaced(CASES["cache_payment"].event(), "body", body),
}


@pytest.mark.parametrize("name", list(BODY_PARSERS))
@pytest.mark.parametrize("body", [DEEP_ARRAY, '{"names": ' + "[" * 2000 + "]" * 2000 + "}",
                                  '{"names": ' + "[" * 100 + "]" * 100 + "}"],
                         ids=["deep array", "deep names, recursion", "deep names, parses"])
def test_every_body_parser_answers_deep_json_with_a_400(load: Callable[..., Loaded], name: str,
                                                        body: str) -> None:
    function = load(name)

    answer = function.call(BODY_PARSERS[name](body))

    assert answer["statusCode"] == 400
    assert json.loads(answer["body"])["statusCode"] == 400
