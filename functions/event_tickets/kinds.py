"""``blueprints_common.entry`` event kinds for the notifier and the reminders.

- ``DYNAMODB_STREAM``: a DynamoDB stream batch (``Records``: a non-empty list, each with
  ``eventSource`` ``aws:dynamodb``, an ``eventName`` and a ``dynamodb`` object holding a
  ``SequenceNumber``). A malformed batch is answered ``{"batchItemFailures": []}``: it did not
  come from a stream, so there is nothing for Lambda to retry, and it is logged as an error.
- ``SCHEDULED``: an EventBridge Scheduler invocation. The reminders read nothing from it (the
  window starts at the time of the run), so any JSON object is well formed; anything else is
  answered ``{"rejected": ...}`` and logged as an error.

These belong in ``blueprints_common.entry`` beside the other kinds (the entry's source check
accepts only its own kinds); they live here until they move there.
"""

from __future__ import annotations

from typing import Any

from blueprints_common.entry import (
    MAX_PROBLEMS,
    EventKind,
    Field,
    check,
    refusal_message,
)

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


def no_failures(problem: str) -> dict[str, Any]:
    """A stream handler's refusal: nothing to retry."""
    return {"batchItemFailures": []}


def rejected_run(problem: str) -> dict[str, Any]:
    """A scheduled handler's refusal: nothing was done."""
    return {"rejected": refusal_message(problem)}


DYNAMODB_STREAM = EventKind("DynamoDB stream", dynamodb_stream_problems, no_failures,
                            severity="error")
SCHEDULED = EventKind("EventBridge Scheduler", scheduled_problems, rejected_run,
                      severity="error")
