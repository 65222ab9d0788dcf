"""entityResolution in local mode, as a client meets it: a reference CSV uploaded to the data
bucket reaches the builder through the bucket's notification, and the IAM-authorized HTTP API
answers matches from the version the builder published; a new CSV replaces it."""

from __future__ import annotations

from urllib.parse import quote

import pytest

from tests.local.e2e.support import Answer, call, eventually
from tools.local.stack import LocalStack

API = "entityResolution-api"
BUILDER = "entityResolution-builder-function"
FIRST = b"id,name\nc1,Acme Corporation\nc2,Globex Corporation\nc3,Initech\n"
SECOND = b"id,name\nn1,Umbrella Corporation\nn2,Acme Holdings\n"


def upload(stack: LocalStack, body: bytes) -> None:
    assert stack.lambdas is not None
    assert stack.aws is not None
    bucket = stack.lambdas.spec(BUILDER).environment["BUCKET_NAME"]
    stack.aws.client("s3").put_object(Bucket=bucket, Key="reference/companies.csv", Body=body)
    assert stack.wait_idle(timeout=300)


def match(stack: LocalStack, name: str) -> Answer:
    assert stack.started is not None
    assert stack.aws is not None
    return call("GET", f"{stack.started.url(API)}/match?name={quote(name)}&k=2",
                signed_by=stack.aws.credentials)


@pytest.fixture(scope="module")
def published(local_dev: LocalStack) -> LocalStack:
    upload(local_dev, FIRST)
    return local_dev


def test_a_signed_get_matches_against_the_uploaded_reference(published: LocalStack) -> None:
    answer = match(published, "ACME corp")
    assert answer.status == 200, answer.body
    document = answer.json()
    assert document["match"]["id"] == "c1"
    assert document["match"]["name"] == "Acme Corporation"
    assert document["indexVersion"]


def test_a_signed_post_matches_several_names_in_order(published: LocalStack) -> None:
    assert published.started is not None
    assert published.aws is not None
    answer = call("POST", f"{published.started.url(API)}/match",
                  body={"names": ["globex", "initech llc", "zzzz"], "k": 1},
                  signed_by=published.aws.credentials)
    assert answer.status == 200, answer.body
    results = answer.json()["results"]
    assert [r["match"]["id"] if r["match"] else None for r in results] == ["c2", "c3", None]


def test_unsigned_and_badly_signed_requests_are_refused(published: LocalStack) -> None:
    assert published.started is not None
    url = f"{published.started.url(API)}/match?name=Acme"
    assert call("GET", url).status == 403
    forged = call("GET", url, headers={"Authorization": "AWS4-HMAC-SHA256 Credential=AKIA/"
                                       "20261202/eu-west-1/execute-api/aws4_request, "
                                       "SignedHeaders=host, Signature=" + "0" * 64,
                                       "X-Amz-Date": "20261202T000000Z"})
    assert forged.status == 403


def test_bad_input_is_a_400_from_the_function(published: LocalStack) -> None:
    assert published.started is not None
    assert published.aws is not None
    answer = call("GET", f"{published.started.url(API)}/match?name=Acme&k=99",
                  signed_by=published.aws.credentials)
    assert answer.status == 400
    assert "k" in answer.json()["message"]


def test_a_new_reference_file_is_published_and_then_answers(published: LocalStack) -> None:
    before = match(published, "Acme").json()["indexVersion"]
    upload(published, SECOND)

    def new_version() -> Answer | None:
        answer = match(published, "Umbrella Corp")
        return answer if answer.json().get("indexVersion") != before else None

    # The matcher reads the pointer again once its TTL (60 s by default) has passed.
    answer = eventually(new_version, timeout=90, every=2)
    assert answer is not None, "the matcher never loaded the new version"
    assert answer.json()["match"]["id"] == "n1"
