"""The job request, checked: what a client asked for, with every problem named at once.

A request is the SQS message body API Gateway builds from the client's JSON, and the input of
the workflow's run::

    {"jobId": "<the client's token, a UUID>", "inputKey": "uploads/<...>.csv",
     "analysis": "kmeans" | "linearRegression" | "pca", "parameters": {...},
     "submittedAt": "<ISO 8601 UTC>"}

``submittedAt`` may also be the epoch milliseconds API Gateway's ``$context.requestTimeEpoch``
gives; it is kept as ISO 8601 UTC. The job id is kept lower-case (the job records are keyed so).
The parameters of each analysis, with their defaults filled in:

================  ===============================================================================
kmeans            ``nClusters`` (2 to 50, default 8), ``features`` (optional: column names,
                  default every numeric column), ``randomState`` (optional whole number)
linearRegression  ``target`` (a column name, required), ``features`` (optional, default every
                  other numeric column), ``testFraction`` (0.05 to 0.5, default 0.2),
                  ``randomState`` (optional)
pca               ``nComponents`` (1 to 20, default 2; at most the number of features),
                  ``features`` (optional)
================  ===============================================================================

A problem's message names the field and what it allows, and repeats none of the client's values
(a field's name at most).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from blueprints_common.entry import JobFailed

ANALYSES = ("kmeans", "linearRegression", "pca")
FIELDS = ("jobId", "inputKey", "analysis", "parameters", "submittedAt")
UPLOADS_PREFIX = "uploads/"
RESULTS_PREFIX = "results/"
MAX_KEY_BYTES = 1024
MAX_FEATURES = 1000
MAX_NAME = 40  # characters of a name a message repeats
MAX_PROBLEMS = 10
JOB_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
                    re.IGNORECASE)
CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# Epoch milliseconds from 2000 to 2100: API Gateway's request time, and nothing absurd.
EPOCH_MS = range(946_684_800_000, 4_102_444_800_000)
MAX_SEED = 2**32 - 1  # what numpy's random state takes


@dataclass(frozen=True)
class JobRequest:
    """A valid request, its parameters with their defaults."""

    job_id: str
    input_key: str
    analysis: str
    parameters: Mapping[str, Any]
    submitted_at: str

    @property
    def result_key(self) -> str:
        return f"{RESULTS_PREFIX}{self.job_id}.json"

    def as_document(self) -> dict[str, Any]:
        """The request as JSON: the workflow's input, the same for every retry."""
        return {"jobId": self.job_id, "inputKey": self.input_key, "analysis": self.analysis,
                "parameters": dict(self.parameters), "submittedAt": self.submitted_at}


# --- parameters --------------------------------------------------------------------------------

@dataclass(frozen=True)
class Parameter:
    """One parameter of an analysis: whether a value fits, what it allows (for messages), and
    its default (``None``: none)."""

    fits: Callable[[Any], bool]
    allowed: str
    default: Any = None
    required: bool = False


def _whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def whole_number(minimum: int, maximum: int, default: int | None = None) -> Parameter:
    allowed = f"a whole number from {minimum} to {maximum}"
    if default is not None:
        allowed += f" (default {default})"
    return Parameter(lambda value: _whole(value) and minimum <= value <= maximum, allowed,
                     default)


def fraction(minimum: float, maximum: float, default: float) -> Parameter:
    return Parameter(lambda value: _number(value) and minimum <= value <= maximum,
                     f"a number from {minimum} to {maximum} (default {default})", default)


def _column_name(value: Any) -> bool:
    return isinstance(value, str) and value.strip() != "" and CONTROL.search(value) is None


def _column_names(value: Any) -> bool:
    return (isinstance(value, list) and 0 < len(value) <= MAX_FEATURES
            and all(_column_name(name) for name in value) and len(set(value)) == len(value))


FEATURES = Parameter(_column_names, f"a list of 1 to {MAX_FEATURES} different column names "
                                    "(default: every numeric column)")
RANDOM_STATE = Parameter(lambda value: _whole(value) and 0 <= value <= MAX_SEED,
                         f"a whole number from 0 to {MAX_SEED}")
PARAMETERS: Mapping[str, Mapping[str, Parameter]] = {
    "kmeans": {"nClusters": whole_number(2, 50, 8), "features": FEATURES,
               "randomState": RANDOM_STATE},
    "linearRegression": {"target": Parameter(_column_name, "the name of a numeric column",
                                             required=True),
                         "features": FEATURES, "testFraction": fraction(0.05, 0.5, 0.2),
                         "randomState": RANDOM_STATE},
    "pca": {"nComponents": whole_number(1, 20, 2), "features": FEATURES},
}


def read_parameters(analysis: str, given: Any, problems: list[str]) -> dict[str, Any] | None:
    """The analysis's parameters with their defaults; ``None`` (and problems) when they do
    not fit."""
    if given is None:
        given = {}
    if not isinstance(given, dict):
        problems.append("parameters must be an object")
        return None
    allowed = PARAMETERS[analysis]
    found = len(problems)
    for name in given:
        if name not in allowed:
            problems.append(f"parameters: {shown(name)} is not a parameter of {analysis}, "
                            f"which takes {', '.join(allowed)}")
    parameters: dict[str, Any] = {}
    for name, parameter in allowed.items():
        value = given.get(name)
        if value is None:
            if parameter.required:
                problems.append(f"parameters.{name} is required: {parameter.allowed}")
            elif parameter.default is not None:
                parameters[name] = parameter.default
        elif parameter.fits(value):
            parameters[name] = value
        else:
            problems.append(f"parameters.{name} must be {parameter.allowed}")
    target, features = parameters.get("target"), parameters.get("features")
    if target is not None and features is not None and target in features:
        problems.append("parameters.target must not be one of parameters.features")
    return parameters if len(problems) == found else None


# --- the request -------------------------------------------------------------------------------

def read_fields(document: Any) -> tuple[dict[str, Any], list[str]]:
    """The request's fields that are valid (by their JSON names, normalised) and the problems
    with the others."""
    if not isinstance(document, dict):
        return {}, ["the job request must be a JSON object"]
    problems = [f"{shown(name)} is not a field of a job request, which has "
                f"{', '.join(FIELDS)}" for name in document if name not in FIELDS]
    fields: dict[str, Any] = {}
    job_id = job_id_of(document)
    if job_id is None:
        problems.append("jobId must be a UUID (the client's token)")
    else:
        fields["jobId"] = job_id
    key = document.get("inputKey")
    if _input_key(key):
        fields["inputKey"] = key
    else:
        problems.append(f"inputKey must be an S3 key under {UPLOADS_PREFIX} (at most "
                        f"{MAX_KEY_BYTES} bytes, no '..', no control characters)")
    analysis = document.get("analysis")
    if analysis in ANALYSES:
        fields["analysis"] = analysis
        parameters = read_parameters(analysis, document.get("parameters"), problems)
        if parameters is not None:
            fields["parameters"] = parameters
    else:
        problems.append(f"analysis must be one of {', '.join(ANALYSES)}")
    submitted = submitted_at(document.get("submittedAt"))
    if submitted is None:
        problems.append("submittedAt must be an ISO 8601 time with its offset (UTC: ...Z), "
                        "or epoch milliseconds")
    else:
        fields["submittedAt"] = submitted
    return fields, problems


def parse_request(document: Any) -> JobRequest:
    """The request in ``document``; ``JobFailed`` naming every problem (up to a limit)."""
    fields, problems = read_fields(document)
    if problems:
        raise JobFailed(invalid(problems))
    return JobRequest(job_id=fields["jobId"], input_key=fields["inputKey"],
                      analysis=fields["analysis"], parameters=fields["parameters"],
                      submitted_at=fields["submittedAt"])


def invalid(problems: list[str]) -> str:
    more = f" (and {len(problems) - MAX_PROBLEMS} more)" if len(problems) > MAX_PROBLEMS else ""
    return "The job request is invalid: " + "; ".join(problems[:MAX_PROBLEMS]) + more


def job_id_of(document: Any) -> str | None:
    """The request's job id, lower-case, if it has one that is a UUID."""
    job_id = document.get("jobId") if isinstance(document, dict) else None
    if isinstance(job_id, str) and JOB_ID.fullmatch(job_id):
        return job_id.lower()
    return None


def _input_key(key: Any) -> bool:
    return (isinstance(key, str) and key.startswith(UPLOADS_PREFIX) and key != UPLOADS_PREFIX
            and len(key.encode("utf-8", "surrogatepass")) <= MAX_KEY_BYTES
            and ".." not in key and CONTROL.search(key) is None)


def submitted_at(value: Any) -> str | None:
    """``value`` as ISO 8601 UTC with milliseconds, if it is an ISO 8601 time with an offset
    or epoch milliseconds."""
    if _whole(value) and value in EPOCH_MS:
        moment = datetime.fromtimestamp(value / 1000, UTC)
    elif isinstance(value, str) and value.isascii() and len(value) <= 40:
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
        if moment.tzinfo is None:
            return None
    else:
        return None
    return iso(moment)


def iso(moment: datetime) -> str:
    """ISO 8601 UTC with milliseconds: ``2026-11-26T15:00:00.000Z``."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def shown(name: Any) -> str:
    """A name for a message: quoted, cut to ``MAX_NAME`` characters."""
    text = str(name)
    return repr(text if len(text) <= MAX_NAME else text[:MAX_NAME] + "…")
