"""The notifier, driven with DynamoDB stream batches of the requests table, publishing to a moto
SNS topic whose subscribers are SQS queues with the staff teams' filter policies."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from tests.functions.event_management_support import (
    EVENT_ID,
    import_handler,
    set_aws_environment,
    stream_record,
)
from tests.functions.events import REGION, LambdaContext

CONTEXT = LambdaContext("event-notifier", 128)
MODULE = "event_notifier.app"
pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish")


@dataclass
class Staff:
    topic_arn: str
    sqs: Any
    queues: dict[str, str]  # team -> queue URL

    def received(self, team: str) -> list[dict[str, Any]]:
        messages = self.sqs.receive_message(QueueUrl=self.queues[team],
                                            MaxNumberOfMessages=10).get("Messages", [])
        return [json.loads(message["Body"]) for message in messages]


@pytest.fixture
def staff(monkeypatch: pytest.MonkeyPatch) -> Iterator[Staff]:
    """The staff topic, with catering (food) and materials (handout) subscribed by filter
    policy, and a desk that gets everything."""
    set_aws_environment(monkeypatch)
    with mock_aws():
        sns = boto3.client("sns", region_name=REGION)
        sqs = boto3.client("sqs", region_name=REGION)
        topic = sns.create_topic(Name="event-management-staff")["TopicArn"]
        queues = {}
        for team, policy in {"catering": {"requestType": ["food"]},
                             "materials": {"requestType": ["handout"]}, "desk": None}.items():
            url = sqs.create_queue(QueueName=team)["QueueUrl"]
            arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])[
                "Attributes"]["QueueArn"]
            attributes = {"FilterPolicy": json.dumps(policy)} if policy else {}
            sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn, Attributes=attributes)
            queues[team] = url
        yield Staff(topic, sqs, queues)


@pytest.fixture
def notifier(staff: Staff, monkeypatch: pytest.MonkeyPatch) -> Iterator[ModuleType]:
    yield import_handler(monkeypatch, MODULE, {"TOPIC_ARN": staff.topic_arn})
    sys.modules.pop(MODULE, None)


def request_image(number: int, request_type: str = "food", **extra: Any) -> dict[str, Any]:
    created = f"2026-11-26T15:0{number}:00.000Z"
    request_id = f"0000000{number}-aaaa-4bbb-8ccc-dddddddddddd"
    return {"pk": f"EVENT#{EVENT_ID}", "sk": f"REQUEST#{created}#{request_id}",
            "requestId": request_id, "type": request_type, "note": f"Note {number}",
            "guestId": "6f1c9d0e-2b3a-4c5d-8e7f-0a1b2c3d4e5f", "email": "ana@example.com",
            "name": "Ana Guest", "createdAt": created, "status": "open", **extra}


def batch(*records: dict[str, Any]) -> dict[str, Any]:
    return {"Records": list(records)}


def test_each_new_request_is_published_with_its_attributes(notifier: ModuleType,
                                                           staff: Staff) -> None:
    food = request_image(1, "food", sessionId="keynote")
    handout = request_image(2, "handout")

    answer = notifier.handler(batch(stream_record(food, sequence=1),
                                    stream_record(handout, sequence=2)), CONTEXT)

    assert answer == {"batchItemFailures": []}
    catering, materials = staff.received("catering"), staff.received("materials")
    assert len(catering) == 1
    assert len(materials) == 1
    envelope = catering[0]
    assert envelope["MessageAttributes"] == {
        "requestType": {"Type": "String", "Value": "food"},
        "eventId": {"Type": "String", "Value": EVENT_ID}}
    assert envelope["Subject"] == "Guest request: food"
    assert json.loads(envelope["Message"]) == {
        "requestId": food["requestId"], "eventId": EVENT_ID, "type": "food", "note": "Note 1",
        "sessionId": "keynote", "guestId": food["guestId"], "email": "ana@example.com",
        "name": "Ana Guest", "createdAt": food["createdAt"]}
    assert json.loads(materials[0]["Message"])["requestId"] == handout["requestId"]
    assert len(staff.received("desk")) == 2


def test_changes_other_than_inserts_publish_nothing(notifier: ModuleType, staff: Staff) -> None:
    closed = request_image(1, status="closed")

    answer = notifier.handler(batch(stream_record(closed, sequence=1, event_name="MODIFY"),
                                    stream_record(None, sequence=2, event_name="REMOVE")),
                              CONTEXT)

    assert answer == {"batchItemFailures": []}
    assert staff.received("desk") == []


def test_a_failed_record_is_reported_and_the_rest_are_left_for_the_retry(
        notifier: ModuleType, staff: Staff) -> None:
    records = [stream_record(request_image(1), sequence=1),
               stream_record(request_image(2, "not a type!"), sequence=2),
               stream_record(request_image(3, "handout"), sequence=3)]

    answer = notifier.handler(batch(*records), CONTEXT)

    assert answer == {"batchItemFailures": [
        {"itemIdentifier": records[1]["dynamodb"]["SequenceNumber"]},
        {"itemIdentifier": records[2]["dynamodb"]["SequenceNumber"]}]}
    assert len(staff.received("catering")) == 1
    assert staff.received("materials") == []  # not published before the retry


def test_a_publish_that_fails_is_reported(notifier: ModuleType, staff: Staff,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    real_publish = notifier.sns.publish

    def throttled(**kwargs: Any) -> Any:
        if kwargs["MessageAttributes"]["requestType"]["StringValue"] == "handout":
            raise ClientError({"Error": {"Code": "Throttled", "Message": "slow down"}}, "Publish")
        return real_publish(**kwargs)

    monkeypatch.setattr(notifier.sns, "publish", throttled)
    only = stream_record(request_image(1, "handout"), sequence=7)

    assert notifier.handler(batch(only), CONTEXT) == {
        "batchItemFailures": [{"itemIdentifier": only["dynamodb"]["SequenceNumber"]}]}
    assert notifier.handler(batch(stream_record(request_image(2), sequence=8)), CONTEXT) == {
        "batchItemFailures": []}  # the next invocation starts afresh


@pytest.mark.parametrize("event", [None, {}, {"Records": []}, {"Records": [{}]},
                                   {"Records": [{"eventSource": "aws:sqs"}]}])
def test_a_malformed_batch_is_refused_with_nothing_to_retry(notifier: ModuleType,
                                                            staff: Staff, event: Any) -> None:
    assert notifier.handler(event, CONTEXT) == {"batchItemFailures": []}
    assert staff.received("desk") == []


def test_every_settings_problem_is_reported_at_import(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TOPIC_ARN", raising=False)
    with pytest.raises(ValueError, match="TOPIC_ARN is required"):
        import_handler(monkeypatch, MODULE, {})
    with pytest.raises(ValueError, match="TOPIC_ARN must be an SNS topic ARN"):
        import_handler(monkeypatch, MODULE, {"TOPIC_ARN": "arn:aws:sqs:us-east-1:1:q"})
