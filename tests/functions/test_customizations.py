"""The customizations backend, driven with REST API (v1) proxy events against a moto table."""

from __future__ import annotations

import base64
import importlib
import io
import json
import logging
import sys
import uuid
from collections.abc import Iterator
from datetime import datetime
from types import ModuleType
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from tests.functions import events
from tests.functions.events import GOOD, REGION, SQL_INJECTION, LambdaContext
from tests.functions.idempotency_support import (
    HEADER,
    IDEMPOTENCY_TABLE,
    create_idempotency_table,
    duplicate_while_running,
    expire_records,
    records,
)

TABLE = "customizations"
STAGE = "prod"
APP = "https://app.example.com"
LOCAL = "http://localhost:3000"
EVIL = "https://evil.example.net"
API_KEY = "Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4zAb7cDe0f"
API_KEY_ID = "f8ne2l6s7a"
OTHER_KEY_ID = "q1w2e3r4t5"
PRINCIPAL = "key-0d7c4a3b2e1f"
INVALID = {"statusCode": 400, "message": "Invalid request body"}
# Answers without a business metric make Powertools warn that there is none to publish.
NO_METRICS = pytest.mark.filterwarnings("ignore:No application metrics to publish")


CONTEXT = LambdaContext("customizations", 256)


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """A moto DynamoDB table shaped like the component's (partition key ``id``, a string),
    and the idempotency table."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_REGION", REGION)
    with mock_aws():
        client = boto3.client("dynamodb", region_name=REGION)
        client.create_table(TableName=TABLE, BillingMode="PAY_PER_REQUEST",
                            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
                            AttributeDefinitions=[{"AttributeName": "id",
                                                   "AttributeType": "S"}])
        create_idempotency_table(client)
        yield boto3.resource("dynamodb", region_name=REGION).Table(TABLE)


def load_app(monkeypatch: pytest.MonkeyPatch, **environ: str) -> ModuleType:
    monkeypatch.setenv("TABLE_NAME", TABLE)
    monkeypatch.setenv("IDEMPOTENCY_TABLE", IDEMPOTENCY_TABLE)
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "customizations")
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "ServerlessBlueprints")
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "true")
    for name in ("ALLOWED_ORIGINS", "ALLOW_ANY_ORIGIN", "CORS_ALLOW_CREDENTIALS", "CORS_MAX_AGE",
                 "CORS_ALLOW_HEADERS", "CORS_EXPOSE_HEADERS"):
        monkeypatch.delenv(name, raising=False)
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    sys.modules.pop("customizations.app", None)
    return importlib.import_module("customizations.app")


@pytest.fixture
def app(aws: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[ModuleType]:
    """The module imported afresh under the environment the component gives it."""
    yield load_app(monkeypatch, ALLOWED_ORIGINS=f"{APP},{LOCAL}")
    sys.modules.pop("customizations.app", None)


def rest_event(path: str, *, origin: str | None = APP, api_key_id: str | None = API_KEY_ID,
               principal: str | None = PRINCIPAL, **kwargs: Any) -> dict[str, Any]:
    """A request with the caller's query-string key, as it arrives after the authorizer."""
    headers = None if origin is None else {"origin": origin}
    return events.rest_event(path, stage=STAGE, headers=headers, query={"apiKey": API_KEY},
                             api_key=API_KEY, api_key_id=api_key_id, principal=principal,
                             **kwargs)


def post(payload: Any, *, key: str | None = None, **kwargs: Any) -> dict[str, Any]:
    """A POST of ``payload``, with ``key`` as its ``Idempotency-Key`` when given."""
    body = payload if isinstance(payload, str) or payload is None else json.dumps(payload)
    event = rest_event("/customizations", method="POST", body=body, **kwargs)
    if key is not None:
        event["headers"][HEADER] = key
        event["multiValueHeaders"][HEADER] = [key]
    return event


def get(item_id: str, **kwargs: Any) -> dict[str, Any]:
    return rest_event(f"/customizations/{item_id}", resource="/customizations/{id}",
                      path_parameters={"id": item_id}, **kwargs)


def call(app: ModuleType, event: dict[str, Any]) -> dict[str, Any]:
    response: dict[str, Any] = app.handler(event, CONTEXT)
    return response


def body(response: dict[str, Any]) -> Any:
    return json.loads(response["body"])


def header(response: dict[str, Any], name: str) -> list[str] | None:
    headers = {key.lower(): value for key, value in response["multiValueHeaders"].items()}
    found: list[str] | None = headers.get(name.lower())
    return found


def test_post_stores_the_customization(app: ModuleType, aws: Any) -> None:
    response = call(app, post(GOOD))

    assert response["statusCode"] == 201
    assert header(response, "Content-Type") == ["application/json"]
    item_id = body(response)["id"]
    assert str(uuid.UUID(item_id, version=4)) == item_id
    assert header(response, "Location") == [f"/{STAGE}/customizations/{item_id}"]
    item = aws.get_item(Key={"id": item_id})["Item"]
    assert {name: item[name] for name in GOOD} == GOOD
    assert item["owner"] == API_KEY_ID
    assert datetime.fromisoformat(item["createdAt"]).tzinfo is not None
    assert set(item) == {*GOOD, "id", "owner", "createdAt"}


def test_each_post_gets_its_own_item(app: ModuleType, aws: Any) -> None:
    first = body(call(app, post(GOOD)))["id"]
    second = body(call(app, post(GOOD)))["id"]

    assert first != second
    assert aws.scan()["Count"] == 2


def test_owner_falls_back_to_the_principal(app: ModuleType, aws: Any) -> None:
    item_id = body(call(app, post(GOOD, api_key_id=None)))["id"]
    anonymous_id = body(call(app, post(GOOD, api_key_id=None, principal=None)))["id"]

    assert aws.get_item(Key={"id": item_id})["Item"]["owner"] == PRINCIPAL
    assert aws.get_item(Key={"id": anonymous_id})["Item"]["owner"] == "anonymous"


@pytest.mark.parametrize("api_key_id", [12345, True, ["f8ne2l6s7a"], {"id": "x"}, ""])
def test_an_api_key_id_that_is_not_a_string_falls_back_to_the_principal(
        app: ModuleType, aws: Any, api_key_id: Any) -> None:
    event = post(GOOD)
    event["requestContext"]["identity"]["apiKeyId"] = api_key_id

    item_id = body(call(app, event))["id"]

    assert aws.get_item(Key={"id": item_id})["Item"]["owner"] == PRINCIPAL


def test_a_principal_that_is_not_a_string_is_anonymous(app: ModuleType, aws: Any) -> None:
    event = post(GOOD, api_key_id=None)
    event["requestContext"]["authorizer"]["principalId"] = 42

    item_id = body(call(app, event))["id"]

    assert aws.get_item(Key={"id": item_id})["Item"]["owner"] == "anonymous"


@pytest.mark.parametrize(("stage", "path", "collection"), [
    # API Gateway's own: the stage (or a custom domain's base path) in requestContext.path.
    (STAGE, f"/{STAGE}/customizations", f"/{STAGE}/customizations"),
    (STAGE, "/partners/v1/customizations", "/partners/v1/customizations"),
    # What only a direct invocation sends: a control character, or no path.
    ("prod\x00", "/prod\x00/customizations", "/customizations"),
    (STAGE, "/prod\x00/customizations", f"/{STAGE}/customizations"),
    (STAGE, "/prod\r\nSet-Cookie: a=b/customizations", f"/{STAGE}/customizations"),
    ("prod\r\nX: y", None, "/customizations"),
    (STAGE, "/prod/customizations\u2028", f"/{STAGE}/customizations"),
    (STAGE, "customizations", f"/{STAGE}/customizations"),
])
def test_location_never_carries_a_control_character(app: ModuleType, stage: str,
                                                    path: str | None, collection: str) -> None:
    event = post(GOOD)
    event["requestContext"]["stage"] = stage
    event["requestContext"]["path"] = path

    response = call(app, event)

    assert response["statusCode"] == 201
    assert header(response, "Location") == [f"{collection}/{body(response)['id']}"]


def test_post_emits_the_business_metric(app: ModuleType,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    call(app, post(GOOD))

    blobs = [json.loads(line) for line in capsys.readouterr().out.splitlines()
             if line.startswith("{") and '"_aws"' in line]
    created = [blob for blob in blobs if "CustomizationCreated" in blob]
    assert created
    assert created[0]["CustomizationCreated"] == [1.0]
    assert created[0]["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "ServerlessBlueprints"
    assert created[0]["service"] == "customizations"


def test_base64_bodies_are_decoded(app: ModuleType, aws: Any) -> None:
    event = post(base64.b64encode(json.dumps(GOOD).encode()).decode())
    event["isBase64Encoded"] = True

    response = call(app, event)

    assert response["statusCode"] == 201


@NO_METRICS
@pytest.mark.parametrize("payload", [
    # The post's bad requests: an invalid imageUrl, and SQL injection in cape.
    {**GOOD, "imageUrl": "htt://en.wikipedia.org/wiki/Cherry#/media/File:Cherry_Stella444.jpg"},
    {**GOOD, "name": "Orange-themed unicorn", "cape": SQL_INJECTION},
    {key: value for key, value in GOOD.items() if key != "cape"},
    {**GOOD, "price": "10000.00"},
    {**GOOD, "sock": 1},
    {**GOOD, "name": ""},
    # API Gateway's pattern engine lets a trailing newline through '$'; this one does not.
    {**GOOD, "imageUrl": GOOD["imageUrl"] + "\n"},
    [GOOD],
    "not json",
    "{\"name\": ",
    "",
    None,
    "null",
    "42",
    # Nested deep enough to exhaust json.loads' recursion, and deeper than safe_json allows.
    "[" * 100_000 + "]" * 100_000,
    json.dumps({**GOOD, "name": "x"})[:-1] + ', "extra": ' + "[" * 70 + "]" * 70 + "}",
])
def test_post_invalid_is_a_json_400(app: ModuleType, aws: Any, payload: Any) -> None:
    response = call(app, post(payload))

    assert response["statusCode"] == 400
    assert header(response, "Content-Type") == ["application/json"]
    assert body(response) == INVALID
    assert aws.scan()["Count"] == 0


@NO_METRICS
def test_invalid_base64_is_a_400(app: ModuleType) -> None:
    event = post("%%%not base64%%%")
    event["isBase64Encoded"] = True

    assert call(app, event)["statusCode"] == 400


@NO_METRICS
def test_a_400_never_echoes_the_input(app: ModuleType) -> None:
    injection = "2); DROP TABLE Cape; --"

    response = call(app, post({**GOOD, "cape": injection}))

    assert injection not in response["body"]
    assert "Traceback" not in response["body"]


@NO_METRICS
def test_get_returns_the_stored_customization(app: ModuleType) -> None:
    item_id = body(call(app, post(GOOD)))["id"]

    response = call(app, get(item_id))

    assert response["statusCode"] == 200
    found = body(response)
    assert found["id"] == item_id
    assert {name: found[name] for name in GOOD} == GOOD
    assert "createdAt" in found
    assert "owner" not in found


@NO_METRICS
@pytest.mark.parametrize("item_id", [
    "5d9e3c1a-7b2f-4e8d-9a6c-0f1e2d3c4b5a",  # a well-formed id that was never stored
    "not-a-uuid",
    "0B6F2A52-0D1E-4C8E-9D07-2F9D1C1F4E55",
    "1%3B%20DROP%20TABLE",
])
def test_get_unknown_is_a_json_404(app: ModuleType, item_id: str) -> None:
    response = call(app, get(item_id))

    assert response["statusCode"] == 404
    assert header(response, "Content-Type") == ["application/json"]
    assert body(response) == {"statusCode": 404, "message": "Customization not found"}


@NO_METRICS
def test_get_of_another_callers_item_is_a_404(app: ModuleType) -> None:
    item_id = body(call(app, post(GOOD)))["id"]

    response = call(app, get(item_id, api_key_id=OTHER_KEY_ID))

    assert response["statusCode"] == 404


@NO_METRICS
def test_unknown_routes_are_json_404s(app: ModuleType) -> None:
    response = call(app, rest_event("/customizations", method="DELETE"))

    assert response["statusCode"] == 404
    assert body(response) == {"statusCode": 404, "message": "Not found"}


def test_an_existing_id_is_never_overwritten(app: ModuleType, aws: Any) -> None:
    item_id = app.store(aws, dict(GOOD), API_KEY_ID)

    with pytest.raises(app.CustomizationExistsError):
        app.store(aws, {**GOOD, "name": "Impostor"}, OTHER_KEY_ID, item_id=item_id)

    item = aws.get_item(Key={"id": item_id})["Item"]
    assert item["name"] == GOOD["name"]
    assert item["owner"] == API_KEY_ID


def test_an_id_collision_is_a_409(app: ModuleType, aws: Any,
                                  monkeypatch: pytest.MonkeyPatch) -> None:
    fixed = uuid.UUID("0b6f2a52-0d1e-4c8e-9d07-2f9d1c1f4e55")
    monkeypatch.setattr(app.uuid, "uuid4", lambda: fixed)
    call(app, post(GOOD))

    with pytest.warns(UserWarning, match="No application metrics"):
        response = call(app, post({**GOOD, "name": "Second"}))

    assert response["statusCode"] == 409
    assert aws.get_item(Key={"id": str(fixed)})["Item"]["name"] == GOOD["name"]


@NO_METRICS
def test_dynamodb_failure_is_a_json_503(app: ModuleType, monkeypatch: pytest.MonkeyPatch) -> None:
    class FailingTable:
        def put_item(self, **kwargs: Any) -> Any:
            raise ClientError({"Error": {"Code": "ProvisionedThroughputExceededException",
                                         "Message": "slow down"}}, "PutItem")

    monkeypatch.setattr(app, "_table", FailingTable)

    response = call(app, post(GOOD))

    assert response["statusCode"] == 503
    assert body(response)["statusCode"] == 503
    assert "Traceback" not in response["body"]


@NO_METRICS
@pytest.mark.parametrize("origin", [APP, LOCAL])
@pytest.mark.parametrize("make_event", [lambda origin: post(GOOD, origin=origin),
                                        lambda origin: post("nope", origin=origin),
                                        lambda origin: get("missing", origin=origin)])
def test_allowed_origin_gets_cors_headers(app: ModuleType, origin: str, make_event: Any) -> None:
    response = call(app, make_event(origin))

    assert header(response, "Access-Control-Allow-Origin") == [origin]
    assert header(response, "Vary") == ["Origin"]
    assert header(response, "Access-Control-Allow-Credentials") is None


@NO_METRICS
@pytest.mark.parametrize("origin", [EVIL, None, "null", "https://app.example.com.evil.example.net"])
@pytest.mark.parametrize("make_event", [lambda origin: post(GOOD, origin=origin),
                                        lambda origin: post("nope", origin=origin)])
def test_other_origins_get_no_allow_origin(app: ModuleType, origin: str | None,
                                           make_event: Any) -> None:
    response = call(app, make_event(origin))

    assert header(response, "Access-Control-Allow-Origin") is None
    assert not any(name.lower().startswith("access-control-")
                   for name in response["multiValueHeaders"])


def test_origin_header_name_is_case_insensitive(app: ModuleType) -> None:
    event = post(GOOD, origin=None)
    event["headers"]["Origin"] = APP
    event["multiValueHeaders"]["Origin"] = [APP]

    assert header(call(app, event), "Access-Control-Allow-Origin") == [APP]


def test_no_allow_list_means_no_cors_headers(aws: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    module = load_app(monkeypatch)

    response = call(module, post(GOOD))

    assert response["statusCode"] == 201
    assert header(response, "Access-Control-Allow-Origin") is None
    assert header(response, "Vary") is None


def test_any_origin_only_with_the_opt_in(aws: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    module = load_app(monkeypatch, ALLOWED_ORIGINS=APP, ALLOW_ANY_ORIGIN="true")

    other = call(module, post(GOOD, origin=EVIL))
    listed = call(module, post(GOOD, origin=APP))

    assert header(other, "Access-Control-Allow-Origin") == ["*"]
    assert header(listed, "Access-Control-Allow-Origin") == [APP]


def test_credentials_are_allowed_only_for_listed_origins(
        aws: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    module = load_app(monkeypatch, ALLOWED_ORIGINS=APP, CORS_ALLOW_CREDENTIALS="true")

    listed = call(module, post(GOOD, origin=APP))
    other = call(module, post(GOOD, origin=EVIL))

    assert header(listed, "Access-Control-Allow-Credentials") == ["true"]
    assert header(other, "Access-Control-Allow-Credentials") is None


def test_schema_is_the_shared_file(app: ModuleType) -> None:
    assert app.SCHEMA_PATH.name == "customization.schema.json"
    assert app.SCHEMA_PATH.parent.name == "customizations"
    assert app.SCHEMA["title"] == "CustomizationPost"


def test_the_api_key_in_the_event_never_reaches_the_log(
        aws: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POWERTOOLS_LOGGER_LOG_EVENT", "true")
    module = load_app(monkeypatch, ALLOWED_ORIGINS=APP)
    log = io.StringIO()
    handler = module.logger.registered_handler
    assert isinstance(handler, logging.StreamHandler)
    handler.setStream(log)
    event = post(GOOD)
    key = event["queryStringParameters"]["apiKey"]

    call(module, event)

    assert "Customization created" in log.getvalue()
    assert key not in log.getvalue()


# --- idempotency -------------------------------------------------------------------------------

KEY = "8e03978e-40d5-43e8-bc93-6894a57f9324"


def dynamodb() -> Any:
    return boto3.client("dynamodb", region_name=REGION)


def test_a_retry_with_the_same_key_gets_the_first_answer_and_stores_once(
        app: ModuleType, aws: Any) -> None:
    first = call(app, post(GOOD, key=KEY))
    again = call(app, post(GOOD, key=KEY))

    assert first["statusCode"] == again["statusCode"] == 201
    assert body(again) == body(first)
    assert header(again, "Location") == header(first, "Location") == [
        f"/{STAGE}/customizations/{body(first)['id']}"]
    assert aws.scan()["Count"] == 1
    [record] = records(dynamodb())
    # The key is hashed with the caller, under the guard's stable name.
    assert record["id"]["S"].startswith("customization#")
    assert KEY not in json.dumps(record)
    assert record["status"]["S"] == "COMPLETED"
    assert json.loads(record["data"]["S"]) == {
        "id": body(first)["id"], "location": f"/{STAGE}/customizations/{body(first)['id']}"}
    lifetime = int(record["expiration"]["N"]) - int(datetime.now().timestamp())
    assert 86_390 <= lifetime <= 86_400


def test_a_quoted_key_in_any_case_is_the_same_key(app: ModuleType, aws: Any) -> None:
    first = call(app, post(GOOD, key=KEY))
    event = post(GOOD)
    event["headers"]["idempotency-key"] = f'"{KEY}"'
    event["multiValueHeaders"]["idempotency-key"] = [f'"{KEY}"']

    assert body(call(app, event)) == body(first)
    assert aws.scan()["Count"] == 1


def test_the_key_is_scoped_to_the_caller(app: ModuleType, aws: Any) -> None:
    mine = call(app, post(GOOD, key=KEY))
    theirs = call(app, post(GOOD, key=KEY, api_key_id=OTHER_KEY_ID))

    assert theirs["statusCode"] == 201
    assert body(theirs)["id"] != body(mine)["id"]
    assert aws.get_item(Key={"id": body(theirs)["id"]})["Item"]["owner"] == OTHER_KEY_ID
    assert len(records(dynamodb())) == 2


@NO_METRICS
def test_the_same_key_with_another_customization_is_a_json_422(app: ModuleType,
                                                                aws: Any) -> None:
    call(app, post(GOOD, key=KEY))

    answer = call(app, post({**GOOD, "name": "Another unicorn"}, key=KEY))

    assert answer["statusCode"] == 422
    assert header(answer, "Content-Type") == ["application/json"]
    assert body(answer) == {"statusCode": 422, "message": "This Idempotency-Key was already "
                                                          "used with another request"}
    assert aws.scan()["Count"] == 1


def test_a_duplicate_while_the_first_runs_is_a_409_then_gets_the_first_answer(
        app: ModuleType, aws: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    duplicates = duplicate_while_running(monkeypatch, app, "store",
                                         lambda: call(app, post(GOOD, key=KEY)))

    first = call(app, post(GOOD, key=KEY))

    [duplicate] = duplicates
    assert duplicate["statusCode"] == 409
    assert header(duplicate, "Retry-After") == ["1"]
    assert body(duplicate) == {"statusCode": 409, "message": "A request with this "
                               "Idempotency-Key is still in progress; retry later"}
    assert first["statusCode"] == 201
    assert aws.scan()["Count"] == 1
    assert body(call(app, post(GOOD, key=KEY))) == body(first)


def test_an_expired_record_runs_the_request_again(app: ModuleType, aws: Any) -> None:
    first = call(app, post(GOOD, key=KEY))
    expire_records(dynamodb())

    again = call(app, post(GOOD, key=KEY))

    assert again["statusCode"] == 201
    assert body(again)["id"] != body(first)["id"]
    assert aws.scan()["Count"] == 2
    [record] = records(dynamodb())  # the new answer replaced the expired one
    assert json.loads(record["data"]["S"])["id"] == body(again)["id"]


def test_without_a_key_nothing_is_recorded(app: ModuleType, aws: Any) -> None:
    call(app, post(GOOD))
    call(app, post(GOOD))

    assert aws.scan()["Count"] == 2
    assert records(dynamodb()) == []


@NO_METRICS
@pytest.mark.parametrize("key", ["", "a key", "a,b", 'a"b', "x" * 256, "caf\u00e9"])
def test_a_malformed_key_is_a_400(app: ModuleType, aws: Any, key: str) -> None:
    answer = call(app, post(GOOD, key=key))

    assert answer["statusCode"] == 400
    assert body(answer)["message"].startswith("Idempotency-Key must be one header")
    assert aws.scan()["Count"] == 0
    assert records(dynamodb()) == []


@NO_METRICS
def test_two_keys_are_a_400(app: ModuleType, aws: Any) -> None:
    event = post(GOOD, key=KEY)
    event["multiValueHeaders"][HEADER] = [KEY, "another"]

    assert call(app, event)["statusCode"] == 400
    assert aws.scan()["Count"] == 0


@NO_METRICS
def test_refusals_are_not_stored(app: ModuleType, aws: Any,
                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """An invalid body, and a creation that failed, leave the key free: the corrected retry
    runs (it is not a 422, nor the stored failure)."""
    assert call(app, post({**GOOD, "horn": 2}, key=KEY))["statusCode"] == 400

    class FailingTable:
        def put_item(self, **kwargs: Any) -> Any:
            raise ClientError({"Error": {"Code": "InternalServerError", "Message": "x"}},
                              "PutItem")

    with monkeypatch.context() as patch:
        patch.setattr(app, "_table", FailingTable)
        assert call(app, post(GOOD, key=KEY))["statusCode"] == 503
    assert records(dynamodb()) == []

    assert call(app, post(GOOD, key=KEY))["statusCode"] == 201
    assert aws.scan()["Count"] == 1


@NO_METRICS
def test_the_idempotency_table_failing_is_a_json_503_and_creates_nothing(
        app: ModuleType, aws: Any) -> None:
    dynamodb().delete_table(TableName=IDEMPOTENCY_TABLE)

    answer = call(app, post(GOOD, key=KEY))

    assert answer["statusCode"] == 503
    assert header(answer, "Retry-After") == ["2"]
    assert body(answer) == {"statusCode": 503, "message": "The service is unavailable; try again"}
    assert "Traceback" not in answer["body"]
    assert aws.scan()["Count"] == 0


def test_the_idempotency_table_is_required_at_import(aws: Any,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValueError, match="IDEMPOTENCY_TABLE is required"):
        load_app(monkeypatch, IDEMPOTENCY_TABLE="")
    sys.modules.pop("customizations.app", None)
