"""The document API, driven by HTTP API (payload 2.0) events against moto's DynamoDB and S3.

moto cannot serve S3 Object Lambda access points, so the transform is faked at the boto layer:
a ``before-send`` hook on the function's Object Lambda client answers requests to the access
point's host as the transform would through ``WriteGetObjectResponse``, with a small PDF (whose
metadata carries the watermark it was asked for) or an S3 XML error. Everything else (the access
log, the temporary bucket, the presigned URL, fetched with ``requests``) is moto's.
"""

from __future__ import annotations

import dataclasses
import io
import json
import re
import sys
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from types import ModuleType
from typing import Any
from urllib.parse import parse_qs, unquote, unquote_plus, urlsplit

import boto3
import pytest
import requests
from boto3.dynamodb.conditions import Key
from botocore.awsrequest import AWSPreparedRequest, AWSRequest, AWSResponse
from botocore.exceptions import ClientError
from moto import mock_aws
from pypdf import PdfReader, PdfWriter

from tests.functions.events import LambdaContext
from tests.functions.test_entity_index_builder import (
    ACCOUNT,
    REGION,
    import_fresh,
    powertools_environment,
    s3_client,
    set_aws_environment,
)
from tests.functions.test_entity_matcher import capture_log, log_lines

TABLE = "document-access-log"
TEMP_BUCKET = "document-downloads"
ACCESS_POINT = "documents-watermark"
ACCESS_POINT_ARN = f"arn:aws:s3-object-lambda:{REGION}:{ACCOUNT}:accesspoint/{ACCESS_POINT}"
ACCESS_POINT_HOST = f"{ACCESS_POINT}-{ACCOUNT}.s3-object-lambda.{REGION}.amazonaws.com"
KMS_KEY_ARN = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
API_ID = "d0cmxmplak"
DOMAIN = f"{API_ID}.execute-api.{REGION}.amazonaws.com"
CLIENT_IP = "198.51.100.77"
USER_AGENT = "Mozilla/5.0 (X11; Linux x86_64) DocumentReader/1.0"
NOW = datetime(2026, 11, 26, 17, 0, 0, 123456, tzinfo=UTC)
ACCESS_ID = r"20261126T170000123Z-[0-9a-f]{12}"
KEY = "contracts/2026/Acme Supply Agreement.pdf"
ALICE = "alice+legal@example.com"
BOB = "bob@example.com"
SUB = "7d8e9f0a-1b2c-4d3e-8f5a-6b7c8d9e0f1a"
JWT_ID = "c0ffee00-1111-4222-8333-944455556666"
CONTEXT = LambdaContext("document-api", 512)


# --- events ------------------------------------------------------------------------------------

def claims_for(email: str | None = ALICE, **extra: str) -> dict[str, str]:
    """A Cognito ID token's claims, as an HTTP API JWT authorizer passes them (all strings)."""
    claims = {"sub": SUB, "email_verified": "true", "iss": "https://cognito-idp.us-east-1."
              "amazonaws.com/us-east-1_Ab12Cd34E", "cognito:username": "alice",
              "origin_jti": "5b6c7d8e-9f0a-4b1c-8d2e-3f4a5b6c7d8e", "aud": "4kexample8client",
              "event_id": "1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d", "token_use": "id",
              "auth_time": "1795712000", "exp": "1795715600", "iat": "1795712000",
              "jti": JWT_ID}
    if email is not None:
        claims["email"] = email
    claims.update(extra)
    return claims


def document_event(key: str, *, claims: Mapping[str, str] | None = None, authorizer: bool = True,
                   path_parameters: bool = True, stage: str = "$default") -> dict[str, Any]:
    """``GET /documents/{key+}`` as an HTTP API sends it: path and parameter decoded."""
    path = f"/documents/{key}"
    raw_path = path if stage == "$default" else f"/{stage}{path}"
    headers = {
        "accept": "application/pdf",
        "authorization": "Bearer eyJraWQiOiJleGFtcGxlIn0.eyJzdWIiOiJleGFtcGxlIn0.c2lnbmF0dXJl",
        "host": DOMAIN,
        "user-agent": USER_AGENT,
        "x-amzn-trace-id": "Root=1-6745f2a0-4c1d2e3f4a5b6c7d8e9f0a1b",
        "x-forwarded-for": CLIENT_IP,
        "x-forwarded-port": "443",
        "x-forwarded-proto": "https",
    }
    context: dict[str, Any] = {
        "accountId": ACCOUNT,
        "apiId": API_ID,
        "domainName": DOMAIN,
        "domainPrefix": API_ID,
        "http": {"method": "GET", "path": raw_path, "protocol": "HTTP/1.1",
                 "sourceIp": CLIENT_IP, "userAgent": USER_AGENT},
        "requestId": "Jd0cXmPLvHcESHA=",
        "routeKey": "GET /documents/{key+}",
        "stage": stage,
        "time": "26/Nov/2026:17:00:00 +0000",
        "timeEpoch": 1795712400123,
    }
    if authorizer:
        context["authorizer"] = {"jwt": {"claims": dict(claims_for() if claims is None
                                                        else claims),
                                         "scopes": None}}
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": "GET /documents/{key+}",
        "rawPath": raw_path,
        "rawQueryString": "",
        "headers": headers,
        "requestContext": context,
        "isBase64Encoded": False,
    }
    if path_parameters:
        event["pathParameters"] = {"key": key}
    return event


def call(api: ModuleType, event: dict[str, Any]) -> dict[str, Any]:
    response: dict[str, Any] = api.handler(event, CONTEXT)
    return response


def answer(response: dict[str, Any]) -> Any:
    return json.loads(response["body"])


# --- the fake transform ------------------------------------------------------------------------

def stamped_pdf(watermark: str, access_id: str) -> bytes:
    """A small real PDF that says which watermark and access it was made for."""
    writer = PdfWriter()
    writer.add_blank_page(width=144, height=144)
    writer.add_metadata({"/Subject": watermark, "/Keywords": access_id})
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


class _Raw(io.BytesIO):
    """What botocore reads a response body from (urllib3's response, for real requests)."""

    def stream(self, amt: int = 1024, **_: Any) -> Iterator[bytes]:
        while chunk := self.read(amt):
            yield chunk


def s3_error(status: int, code: str, message: str) -> tuple[int, dict[str, str], bytes]:
    body = (f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code>'
            f"<Message>{message}</Message><RequestId>4442587FB7D0A2F9</RequestId></Error>")
    return status, {"Content-Type": "application/xml"}, body.encode()


@dataclasses.dataclass
class Seen:
    """One request the transform received."""

    url: str
    headers: dict[str, str]
    signed: list[str]


class FakeTransform:
    """The Object Lambda access point and its transform; ``answer`` says what it does next."""

    def __init__(self) -> None:
        self.seen: list[Seen] = []
        self.served: list[bytes] = []
        self.error: tuple[int, str, str] | None = None
        self.body: bytes | None = None  # instead of a stamped PDF

    def __call__(self, request: AWSPreparedRequest, **_: Any) -> AWSResponse | None:
        if urlsplit(request.url).hostname != ACCESS_POINT_HOST:
            return None
        headers = {name.lower(): value.decode() if isinstance(value, bytes) else value
                   for name, value in request.headers.items()}
        authorization = headers["authorization"]
        signed = authorization.split("SignedHeaders=", 1)[1].split(",", 1)[0].split(";")
        assert "/s3-object-lambda/aws4_request" in authorization
        self.seen.append(Seen(request.url, headers, signed))
        error = self.error
        if "x-blueprints-watermark" not in headers or "x-blueprints-access-id" not in headers:
            error = (400, "InvalidRequest", "The watermark headers are required")
        if error is not None:
            status, response_headers, body = s3_error(*error)
            return AWSResponse(request.url, status, response_headers, _Raw(body))
        watermark = unquote(headers["x-blueprints-watermark"])
        data = self.body if self.body is not None else stamped_pdf(
            watermark, headers["x-blueprints-access-id"])
        self.served.append(data)
        return AWSResponse(request.url, 200, {"Content-Type": "application/pdf",
                                              "Content-Length": str(len(data))}, _Raw(data))


# --- fixtures ----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def api_module() -> Iterator[ModuleType]:
    """The module, imported once (as in a warm container) under the component's environment."""
    with pytest.MonkeyPatch.context() as patch:
        set_aws_environment(patch)
        patch.setenv("ACCESS_LOG_TABLE", TABLE)
        patch.setenv("OBJECT_LAMBDA_ACCESS_POINT_ARN", ACCESS_POINT_ARN)
        patch.setenv("TEMP_BUCKET", TEMP_BUCKET)
        for name in ("URL_TTL_SECONDS", "ACCESS_LOG_RETENTION_DAYS", "TEMP_BUCKET_KMS_KEY_ARN"):
            patch.delenv(name, raising=False)
        powertools_environment(patch, "document-api")
        module = import_fresh("document_api.app")
    assert module.settings == module.Settings(TABLE, ACCESS_POINT_ARN, TEMP_BUCKET, 300, 0, None)
    yield module
    sys.modules.pop("document_api.app", None)


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    """moto with the component's access log table (its ``byUser`` index and TTL) and bucket."""
    set_aws_environment(monkeypatch)
    with mock_aws():
        dynamodb = boto3.client("dynamodb", region_name=REGION)
        dynamodb.create_table(
            TableName=TABLE, BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[{"AttributeName": name, "AttributeType": "S"}
                                  for name in ("document", "accessId", "user")],
            KeySchema=[{"AttributeName": "document", "KeyType": "HASH"},
                       {"AttributeName": "accessId", "KeyType": "RANGE"}],
            GlobalSecondaryIndexes=[{
                "IndexName": "byUser",
                "KeySchema": [{"AttributeName": "user", "KeyType": "HASH"},
                              {"AttributeName": "accessId", "KeyType": "RANGE"}],
                "Projection": {"ProjectionType": "ALL"}}])
        dynamodb.update_time_to_live(TableName=TABLE, TimeToLiveSpecification={
            "Enabled": True, "AttributeName": "expiresAt"})
        s3 = s3_client()
        s3.create_bucket(Bucket=TEMP_BUCKET)
        yield {"table": boto3.resource("dynamodb", region_name=REGION).Table(TABLE), "s3": s3}


@pytest.fixture
def transform(api_module: ModuleType) -> Iterator[FakeTransform]:
    fake = FakeTransform()
    events = api_module.object_lambda.meta.events
    # First: moto's own before-send handler would answer for the host as if it were a bucket.
    events.register_first("before-send.s3.GetObject", fake, unique_id="fake-transform")
    yield fake
    events.unregister("before-send.s3.GetObject", unique_id="fake-transform")


@pytest.fixture
def api(api_module: ModuleType, aws: dict[str, Any], transform: FakeTransform,
        monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    monkeypatch.setattr(api_module, "utcnow", lambda: NOW)
    return api_module


def rows_for(aws: dict[str, Any], document: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = aws["table"].query(
        KeyConditionExpression=Key("document").eq(document))["Items"]
    return items


def rows_of(aws: dict[str, Any], user: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = aws["table"].query(
        IndexName="byUser", KeyConditionExpression=Key("user").eq(user))["Items"]
    return items


def all_rows(aws: dict[str, Any]) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = aws["table"].scan()["Items"]
    return items


def temp_keys(aws: dict[str, Any]) -> list[str]:
    listed = aws["s3"].list_objects_v2(Bucket=TEMP_BUCKET).get("Contents", [])
    return sorted(item["Key"] for item in listed)


def assert_nothing_happened(aws: dict[str, Any], transform: FakeTransform) -> None:
    """No log row, no request to the transform, no copy."""
    assert all_rows(aws) == []
    assert transform.seen == []
    assert temp_keys(aws) == []


# --- serving -----------------------------------------------------------------------------------

def test_a_document_is_logged_stamped_stored_and_redirected_to(api: ModuleType,
                                                               aws: dict[str, Any],
                                                               transform: FakeTransform) -> None:
    response = call(api, document_event(KEY))

    assert response["statusCode"] == 302
    assert response["headers"]["Cache-Control"] == "no-store"
    body = answer(response)
    assert body["expiresIn"] == 300
    access_id = body["accessId"]
    assert re.fullmatch(ACCESS_ID, access_id)

    # The log row, by document and by user.
    [row] = rows_for(aws, KEY)
    assert rows_of(aws, ALICE) == [row]
    assert row == {"document": KEY, "accessId": access_id, "user": ALICE,
                   "requestedAt": "2026-11-26T17:00:00.123Z", "result": "served",
                   "status": 302, "completedAt": "2026-11-26T17:00:00.123Z",
                   "sourceIp": CLIENT_IP, "userAgent": USER_AGENT}

    # What the transform was asked for: the key, through the access point, with both headers
    # signed.
    [seen] = transform.seen
    assert urlsplit(seen.url).path == "/contracts/2026/Acme%20Supply%20Agreement.pdf"
    assert {"x-blueprints-watermark", "x-blueprints-access-id"} <= set(seen.signed)
    assert seen.headers["x-blueprints-access-id"] == access_id
    assert unquote(seen.headers["x-blueprints-watermark"]) == f"{ALICE} 2026-11-26 17:00 UTC"

    # The stored copy and the presigned URL, which works.
    object_key = f"{access_id}/Acme Supply Agreement.pdf"
    assert temp_keys(aws) == [object_key]
    stored = aws["s3"].head_object(Bucket=TEMP_BUCKET, Key=object_key)
    assert stored["ContentType"] == "application/pdf"
    assert stored["ContentDisposition"] == 'attachment; filename="Acme Supply Agreement.pdf"'
    assert "SSEKMSKeyId" not in stored
    location = response["headers"]["Location"]
    url = urlsplit(location)
    assert url.hostname == f"{TEMP_BUCKET}.s3.amazonaws.com"
    assert unquote(url.path) == f"/{object_key}"
    assert parse_qs(url.query)["X-Amz-Expires"] == ["300"]
    download = requests.get(location, timeout=10)
    assert download.status_code == 200
    assert download.content == transform.served[0]
    assert PdfReader(io.BytesIO(download.content)).metadata.subject == \
        f"{ALICE} 2026-11-26 17:00 UTC"


def test_the_watermark_header_is_percent_encoded_utf8(api: ModuleType,
                                                      transform: FakeTransform) -> None:
    user = "Zoë Ångström+docs@例え.jp"
    assert call(api, document_event(KEY, claims=claims_for(user)))["statusCode"] == 302

    value = transform.seen[0].headers["x-blueprints-watermark"]
    assert value.isascii()
    assert " " not in value
    assert "+" not in value
    expected = f"{user} 2026-11-26 17:00 UTC"
    # The transform may read it with either; both give the text back.
    assert unquote(value) == expected
    assert unquote_plus(value) == expected


def test_a_long_user_is_shortened_in_the_watermark_only(api: ModuleType, aws: dict[str, Any],
                                                        transform: FakeTransform) -> None:
    user = "a" * 200 + "@example.com"
    assert call(api, document_event(KEY, claims=claims_for(user)))["statusCode"] == 302

    watermark = unquote(transform.seen[0].headers["x-blueprints-watermark"])
    assert len(watermark) == 200
    assert watermark == "a" * 178 + "\u2026 2026-11-26 17:00 UTC"
    assert rows_for(aws, KEY)[0]["user"] == user


def test_two_users_never_share_a_watermark_or_a_copy(api: ModuleType, aws: dict[str, Any],
                                                     transform: FakeTransform) -> None:
    first = call(api, document_event(KEY, claims=claims_for(ALICE)))
    second = call(api, document_event(KEY, claims=claims_for(BOB)))
    again = call(api, document_event(KEY, claims=claims_for(ALICE)))

    ids = [answer(response)["accessId"] for response in (first, second, again)]
    assert len(set(ids)) == 3
    assert len(set(temp_keys(aws))) == 3
    assert [unquote(seen.headers["x-blueprints-watermark"]).split(" ")[0]
            for seen in transform.seen] == [ALICE, BOB, ALICE]
    # Each URL gives its own user's copy.
    for response, user in ((first, ALICE), (second, BOB), (again, ALICE)):
        pdf = requests.get(response["headers"]["Location"], timeout=10).content
        metadata = PdfReader(io.BytesIO(pdf)).metadata
        assert metadata.subject.startswith(f"{user} ")
        assert metadata["/Keywords"] == answer(response)["accessId"]
    assert {row["accessId"] for row in rows_of(aws, ALICE)} == {ids[0], ids[2]}
    assert [row["accessId"] for row in rows_of(aws, BOB)] == [ids[1]]
    assert len(rows_for(aws, KEY)) == 3


def test_headers_stay_with_their_call(api: ModuleType, aws: dict[str, Any],
                                      transform: FakeTransform) -> None:
    call(api, document_event(KEY))
    # A later call without headers (as presigning, or any other use of the client) has none.
    with pytest.raises(ClientError, match="InvalidRequest"):
        api.object_lambda.get_object(Bucket=ACCESS_POINT_ARN, Key=KEY)

    first, later = transform.seen
    assert "x-blueprints-watermark" in first.headers
    assert "x-blueprints-watermark" not in later.headers
    assert "x-blueprints-access-id" not in later.headers


def test_headers_are_replaced_not_repeated_on_a_retry(api_module: ModuleType) -> None:
    request = AWSRequest("GET", f"https://{ACCESS_POINT_HOST}/a.pdf")
    request.context[api_module.HEADERS_PARAMETER] = {"x-blueprints-access-id": "one"}
    api_module._add_headers(request)
    api_module._add_headers(request)

    assert request.headers.get_all("x-blueprints-access-id") == ["one"]


@pytest.mark.parametrize(("claims", "user"), [
    (claims_for(ALICE), ALICE),
    (claims_for(None), "alice"),
    ({"sub": SUB, "username": "svc-reader", "token_use": "access"}, "svc-reader"),
    ({"sub": SUB}, SUB),
    (claims_for("  "), "alice"),
], ids=["email", "cognito-username", "username", "sub", "blank-email"])
def test_the_user_is_the_first_claim_present(api: ModuleType, aws: dict[str, Any],
                                              claims: dict[str, str], user: str) -> None:
    assert call(api, document_event(KEY, claims=claims))["statusCode"] == 302
    [row] = rows_for(aws, KEY)
    assert row["user"] == user


def test_a_key_with_non_ascii_name_gets_an_rfc_6266_filename(api: ModuleType,
                                                            aws: dict[str, Any]) -> None:
    key = "reports/Q3 résumé \"final\".v2.docx"
    response = call(api, document_event(key))

    assert response["statusCode"] == 302
    [object_key] = temp_keys(aws)
    assert object_key == f"{answer(response)['accessId']}/Q3 résumé \"final\".v2.pdf"
    disposition = aws["s3"].head_object(Bucket=TEMP_BUCKET, Key=object_key)["ContentDisposition"]
    assert disposition == ("attachment; filename=\"Q3 r_sum_ _final_.v2.pdf\"; "
                           "filename*=UTF-8''Q3%20r%C3%A9sum%C3%A9%20%22final%22.v2.pdf")


@pytest.mark.parametrize("key", ["reports/100%.pdf", "a..b/c...pdf", "a//b.pdf", "é" * 512,
                                 "notes/readme"])
def test_unusual_but_harmless_keys_are_served(api: ModuleType, aws: dict[str, Any],
                                              transform: FakeTransform, key: str) -> None:
    response = call(api, document_event(key))

    assert response["statusCode"] == 302
    assert unquote(urlsplit(transform.seen[0].url).path) == f"/{key}"
    assert rows_for(aws, key)[0]["result"] == "served"


def test_the_key_comes_from_the_path_without_path_parameters_and_behind_a_stage(
        api: ModuleType, aws: dict[str, Any], transform: FakeTransform) -> None:
    response = call(api, document_event(KEY, path_parameters=False, stage="v1"))

    assert response["statusCode"] == 302
    assert [row["document"] for row in all_rows(aws)] == [KEY]


def test_retention_sets_the_rows_expiry(api: ModuleType, aws: dict[str, Any],
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(api, "settings", dataclasses.replace(api.settings,
                                                             access_log_retention_days=30))
    call(api, document_event(KEY))

    [row] = rows_for(aws, KEY)
    assert row["expiresAt"] == int(NOW.timestamp()) + 30 * 86400


def test_a_kms_key_encrypts_the_copy_and_a_ttl_shortens_the_url(
        api: ModuleType, aws: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(api, "settings", dataclasses.replace(
        api.settings, temp_bucket_kms_key_arn=KMS_KEY_ARN, url_ttl_seconds=60))
    response = call(api, document_event(KEY))

    assert answer(response)["expiresIn"] == 60
    assert parse_qs(urlsplit(response["headers"]["Location"]).query)["X-Amz-Expires"] == ["60"]
    [object_key] = temp_keys(aws)
    stored = aws["s3"].head_object(Bucket=TEMP_BUCKET, Key=object_key)
    assert stored["ServerSideEncryption"] == "aws:kms"
    assert stored["SSEKMSKeyId"] == KMS_KEY_ARN


# --- refusals ----------------------------------------------------------------------------------

@pytest.mark.parametrize("event", [
    document_event(KEY, authorizer=False),
    document_event(KEY, claims={}),
    document_event(KEY, claims={"email": "", "token_use": "id"}),
    document_event(KEY, claims={"email": "x" * 257}),
    document_event(KEY, claims={"email": "mallory@example.com\r\nx-other: 1"}),
], ids=["no-authorizer", "no-claims", "no-user-claim", "oversized-user", "control-character"])
def test_a_request_without_a_user_is_a_401(api: ModuleType, aws: dict[str, Any],
                                           transform: FakeTransform,
                                           event: dict[str, Any]) -> None:
    response = call(api, event)

    assert response["statusCode"] == 401
    assert answer(response) == {"statusCode": 401, "message": "Unauthorized"}
    assert response["headers"]["WWW-Authenticate"] == "Bearer"
    assert_nothing_happened(aws, transform)


BAD_KEYS = {
    "empty": "",
    "leading-slash": "/etc/passwd.pdf",
    "dot-dot-segment": "contracts/../secrets.pdf",
    "dot-dot-first": "../secrets.pdf",
    "dot-dot-last": "contracts/..",
    "dot-segment": "contracts/./a.pdf",
    "backslash": "contracts\\a.pdf",
    "nul": "a\x00b.pdf",
    "newline": "a\nb.pdf",
    "tab": "a\tb.pdf",
    "del": "a\x7fb.pdf",
    "c1-next-line": "a\x85b.pdf",
    "too-long": "k" * 1025,
    "too-long-utf8": "é" * 513,
    "lone-surrogate": "a\ud800.pdf",
    "encoded-dot-dot": "contracts/%2e%2E/secrets.pdf",
    "encoded-leading-slash": "%2Fetc/passwd.pdf",
    "encoded-nul": "a%00b.pdf",
    "encoded-backslash": "a%5Cb.pdf",
}


@pytest.mark.parametrize("key", list(BAD_KEYS.values()), ids=list(BAD_KEYS))
def test_a_bad_key_is_a_400_that_does_not_echo_it(api: ModuleType, aws: dict[str, Any],
                                                  transform: FakeTransform, key: str) -> None:
    response = call(api, document_event(key))

    assert response["statusCode"] == 400
    body = answer(response)
    assert body["statusCode"] == 400
    assert body["message"].startswith("The document key ")
    if len(key) > 3:
        assert key not in body["message"]
    assert response["headers"]["Cache-Control"] == "no-store"
    assert_nothing_happened(aws, transform)


@pytest.mark.parametrize(("status", "code", "answered", "result", "message"), [
    (404, "NoSuchKey", 404, "not_found", "No such document"),
    (404, "NotFound", 404, "not_found", "No such document"),
    (413, "EntityTooLarge", 413, "too_large", "The document is too large to prepare"),
    (415, "UnsupportedMediaType", 415, "unsupported",
     "The document is not of a type that can be prepared"),
    (422, "UnprocessableEntity", 422, "unprocessable", "The document could not be read"),
    (400, "InvalidRequest", 502, "failed", "The document could not be prepared"),
    (403, "AccessDenied", 502, "failed", "The document could not be prepared"),
    (500, "InternalError", 502, "failed", "The document could not be prepared"),
    (503, "SlowDown", 502, "failed", "The document could not be prepared"),
])
def test_the_transforms_refusals_map_to_answers_and_log_results(
        api: ModuleType, aws: dict[str, Any], transform: FakeTransform,
        monkeypatch: pytest.MonkeyPatch, status: int, code: str, answered: int, result: str,
        message: str) -> None:
    log = capture_log(api, monkeypatch)
    transform.error = (status, code, "refused by the transform")
    response = call(api, document_event(KEY))

    assert response["statusCode"] == answered
    assert answer(response) == {"statusCode": answered, "message": message}
    assert response["headers"]["Cache-Control"] == "no-store"
    assert len(transform.seen) == 1  # the transform's answers are not retried
    [row] = rows_for(aws, KEY)
    assert (row["result"], row["status"], row["transformStatus"]) == (result, answered, status)
    assert rows_of(aws, ALICE) == [row]
    assert temp_keys(aws) == []
    errors = [line["message"] for line in log_lines(log) if line["level"] == "ERROR"]
    if status == 400:  # our own request was refused: a bug to look at
        assert errors == ["The transform refused this function's request"]
    elif answered == 502:
        assert errors == ["The transform failed"]
    else:
        assert errors == []


def test_an_answer_that_is_not_a_pdf_is_a_502(api: ModuleType, aws: dict[str, Any],
                                              transform: FakeTransform) -> None:
    transform.body = b"<html>not a pdf</html>"
    response = call(api, document_event(KEY))

    assert response["statusCode"] == 502
    [row] = rows_for(aws, KEY)
    assert (row["result"], row["status"]) == ("failed", 502)
    assert temp_keys(aws) == []


def test_nothing_is_served_without_a_log_row(api: ModuleType, aws: dict[str, Any],
                                             transform: FakeTransform,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(api, "settings", dataclasses.replace(api.settings,
                                                             access_log_table="missing-table"))
    response = call(api, document_event(KEY))

    assert response["statusCode"] == 503
    assert answer(response) == {"statusCode": 503,
                                "message": "The access log is unavailable; try again later"}
    assert response["headers"]["Retry-After"] == "5"
    assert_nothing_happened(aws, transform)


def test_a_failed_row_update_does_not_change_the_answer(api: ModuleType, aws: dict[str, Any],
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    log = capture_log(api, monkeypatch)

    def refuse(**_: Any) -> None:
        raise ClientError({"Error": {"Code": "ProvisionedThroughputExceededException",
                                     "Message": "slow down"}}, "UpdateItem")

    monkeypatch.setattr(api.dynamodb, "update_item", refuse)
    response = call(api, document_event(KEY))

    assert response["statusCode"] == 302
    assert rows_for(aws, KEY)[0]["result"] == "pending"
    [failure] = [line for line in log_lines(log)
                 if line["message"] == "The access log row could not be updated"]
    assert failure["errorCode"] == "ProvisionedThroughputExceededException"


def test_a_failed_upload_is_a_502(api: ModuleType, aws: dict[str, Any],
                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(api, "settings", dataclasses.replace(api.settings,
                                                             temp_bucket="no-such-bucket"))
    response = call(api, document_event(KEY))

    assert response["statusCode"] == 502
    assert (rows_for(aws, KEY)[0]["result"], rows_for(aws, KEY)[0]["status"]) == ("failed", 502)


# --- logs --------------------------------------------------------------------------------------

def test_nothing_from_the_event_is_logged(api: ModuleType, aws: dict[str, Any],
                                          transform: FakeTransform,
                                          monkeypatch: pytest.MonkeyPatch,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    log = capture_log(api, monkeypatch)
    api.logger.setLevel("DEBUG")
    monkeypatch.setattr(api, "settings", dataclasses.replace(api.settings,
                                                             temp_bucket="no-such-bucket"))
    try:
        secret_key = "hr/salaries/Confidential Layoff Plan.pdf"
        events = [document_event(secret_key),
                  document_event("hr/../Confidential Escape.pdf")]
        for event in events:
            call(api, event)
        monkeypatch.setattr(api, "settings", dataclasses.replace(api.settings,
                                                                 temp_bucket=TEMP_BUCKET))
        served = call(api, document_event(secret_key))
        transform.error = (404, "NoSuchKey", "The specified key does not exist.")
        call(api, document_event(secret_key))
    finally:
        api.logger.setLevel("INFO")

    text = log.getvalue() + capsys.readouterr().out
    lines = log_lines(log)
    assert lines, "the handler logs"
    assert {line.get("correlation_id") for line in lines} == {"Jd0cXmPLvHcESHA="}
    location = served["headers"]["Location"]
    for leaked in ("Confidential", "salaries", ALICE, "alice", SUB, JWT_ID, CLIENT_IP,
                   USER_AGENT, "DocumentReader", "eyJ", "Bearer", location,
                   parse_qs(urlsplit(location).query)["X-Amz-Signature"][0]):
        assert leaked not in text
    served_line = next(line for line in lines if line["message"] == "Document served")
    assert served_line["accessId"] == answer(served)["accessId"]


# --- settings ----------------------------------------------------------------------------------

def test_settings_have_defaults(api_module: ModuleType) -> None:
    settings = api_module.Settings.from_environ({
        "ACCESS_LOG_TABLE": TABLE, "OBJECT_LAMBDA_ACCESS_POINT_ARN": ACCESS_POINT_ARN,
        "TEMP_BUCKET": TEMP_BUCKET, "URL_TTL_SECONDS": "3600", "ACCESS_LOG_RETENTION_DAYS": "90",
        "TEMP_BUCKET_KMS_KEY_ARN": KMS_KEY_ARN})
    assert settings == api_module.Settings(TABLE, ACCESS_POINT_ARN, TEMP_BUCKET, 3600, 90,
                                           KMS_KEY_ARN)


def test_settings_name_every_problem(api_module: ModuleType) -> None:
    with pytest.raises(ValueError, match="invalid document API settings") as raised:
        api_module.Settings.from_environ({
            "OBJECT_LAMBDA_ACCESS_POINT_ARN": f"arn:aws:s3:{REGION}:{ACCOUNT}:accesspoint/x",
            "URL_TTL_SECONDS": "3601", "ACCESS_LOG_RETENTION_DAYS": "-1",
            "TEMP_BUCKET_KMS_KEY_ARN": "alias/documents"})
    message = str(raised.value)
    for name in ("ACCESS_LOG_TABLE is required", "OBJECT_LAMBDA_ACCESS_POINT_ARN must be",
                 "TEMP_BUCKET is required", "URL_TTL_SECONDS must be",
                 "ACCESS_LOG_RETENTION_DAYS must be", "TEMP_BUCKET_KMS_KEY_ARN must be"):
        assert name in message
    for ttl in ("0", "1.5", "five"):
        with pytest.raises(ValueError, match="URL_TTL_SECONDS"):
            api_module.Settings.from_environ({
                "ACCESS_LOG_TABLE": TABLE, "OBJECT_LAMBDA_ACCESS_POINT_ARN": ACCESS_POINT_ARN,
                "TEMP_BUCKET": TEMP_BUCKET, "URL_TTL_SECONDS": ttl})


def test_settings_take_ascii_digits_only(api_module: ModuleType) -> None:
    """``\\d`` and ``str.isdecimal`` accept any Unicode digit; account ids and numbers here are
    ASCII."""
    arabic_account = "\u0661" * 12
    with pytest.raises(ValueError, match="invalid document API settings") as raised:
        api_module.Settings.from_environ({
            "ACCESS_LOG_TABLE": TABLE, "TEMP_BUCKET": TEMP_BUCKET,
            "OBJECT_LAMBDA_ACCESS_POINT_ARN": ACCESS_POINT_ARN.replace(ACCOUNT, arabic_account),
            "TEMP_BUCKET_KMS_KEY_ARN": KMS_KEY_ARN.replace(ACCOUNT, arabic_account),
            "URL_TTL_SECONDS": "\uff13\uff10\uff10"})  # fullwidth 300
    message = str(raised.value)
    for name in ("OBJECT_LAMBDA_ACCESS_POINT_ARN", "TEMP_BUCKET_KMS_KEY_ARN", "URL_TTL_SECONDS"):
        assert name in message
