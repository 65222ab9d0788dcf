"""documentWatermark in local mode, as a reader meets it: sign in to the local user pool with SRP
(as the web client does), ask the JWT-authorized HTTP API for a document, follow the presigned
redirect to the copy the Object Lambda transform stamped, and find the access-log row."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import pytest
from pycognito.aws_srp import AWSSRP  # type: ignore[import-untyped]

from tests.functions.document_support import make_pdf, open_stamped
from tests.local.e2e.support import call
from tools.local.stack import LocalStack

API = "documentWatermark-api"
READER = "reader@example.com"
PASSWORD = "Local-mode-passw0rd!"
KEY = "reports/2026/q3 results.pdf"


@pytest.fixture(scope="module")
def signed_in(local_dev: LocalStack) -> dict[str, Any]:
    """A reader created by the administrator, signed in with SRP; a document in the bucket."""
    assert local_dev.run is not None
    assert local_dev.aws is not None
    pool = local_dev.run.one("aws:cognito/userPool:UserPool", "documentWatermark-users").id
    client = local_dev.run.one("aws:cognito/userPoolClient:UserPoolClient",
                               "documentWatermark-web-client").id
    cognito = local_dev.aws.client("cognito-idp")
    cognito.admin_create_user(UserPoolId=pool, Username=READER, MessageAction="SUPPRESS",
                              TemporaryPassword="Temporary-passw0rd!",
                              UserAttributes=[{"Name": "email", "Value": READER},
                                              {"Name": "email_verified", "Value": "true"}])
    cognito.admin_set_user_password(UserPoolId=pool, Username=READER, Password=PASSWORD,
                                    Permanent=True)
    tokens = AWSSRP(username=READER, password=PASSWORD, pool_id=pool, client_id=client,
                    client=cognito).authenticate_user()["AuthenticationResult"]
    source = next(r for r in local_dev.run.of_type("aws:s3/bucket:Bucket")
                  if r.name == "documentWatermark-source-bucket")
    local_dev.aws.client("s3").put_object(Bucket=source.state["bucket"], Key=KEY,
                                          Body=make_pdf(), ContentType="application/pdf")
    return tokens


def document(stack: LocalStack, key: str, token: str | None) -> Any:
    assert stack.started is not None
    return call("GET", f"{stack.started.url(API)}/documents/{quote(key)}",
                headers={"Authorization": f"Bearer {token}"} if token else {})


def test_a_signed_in_reader_gets_a_stamped_copy_and_the_access_is_logged(
        local_dev: LocalStack, signed_in: dict[str, Any]) -> None:
    answer = document(local_dev, KEY, signed_in["IdToken"])
    assert answer.status == 302, answer.body
    assert answer.header("Cache-Control") == "no-store"
    access_id = answer.json()["accessId"]
    download = call("GET", answer.header("Location") or "")
    assert download.status == 200, download.body[:300]
    assert download.header("Content-Type") == "application/pdf"
    assert "attachment" in (download.header("Content-Disposition") or "")
    stamped = open_stamped(download.body)
    assert READER in stamped.pages[0].extract_text()
    assert stamped.metadata is not None
    assert stamped.metadata["/AccessId"] == access_id

    assert local_dev.lambdas is not None
    assert local_dev.aws is not None
    table = local_dev.lambdas.spec("documentWatermark-api-function").environment[
        "ACCESS_LOG_TABLE"]
    rows = local_dev.aws.client("dynamodb").scan(TableName=table)["Items"]
    row = next(item for item in rows if item["accessId"]["S"] == access_id)
    assert row["user"]["S"] == READER
    assert row["result"]["S"] == "served"
    assert row["status"]["N"] == "302"


def test_the_access_token_is_accepted_too(local_dev: LocalStack,
                                          signed_in: dict[str, Any]) -> None:
    assert document(local_dev, KEY, signed_in["AccessToken"]).status == 302


def test_a_missing_document_is_a_404_and_logged_as_not_found(
        local_dev: LocalStack, signed_in: dict[str, Any]) -> None:
    answer = document(local_dev, "reports/none.pdf", signed_in["IdToken"])
    assert answer.status == 404
    assert answer.json()["message"] == "No such document"


@pytest.mark.parametrize("token", [None, "not-a-jwt", "eyJhbGciOiJub25lIn0.e30."])
def test_requests_without_a_valid_token_never_reach_the_function(
        local_dev: LocalStack, signed_in: dict[str, Any], token: str | None) -> None:
    assert local_dev.lambdas is not None
    before = local_dev.lambdas.invoked["documentWatermark-api-function"]
    answer = document(local_dev, KEY, token)
    assert answer.status == 401
    assert answer.json() == {"message": "Unauthorized"}
    assert local_dev.lambdas.invoked["documentWatermark-api-function"] == before
