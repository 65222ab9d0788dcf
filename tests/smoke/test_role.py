"""The smoke target's signing role: the pipeline's smoke action runs in the tooling account and
signs as a role of the target account (``BLUEPRINTS_SMOKE_ROLE_ARN``). Not a smoke test: it runs
with the unit tests, against moto."""

from __future__ import annotations

import json
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from tests.smoke.target import (
    OUTSIDE_VARIABLE,
    ROLE_SESSION,
    ROLE_VARIABLE,
    SmokeError,
    deployed_target,
)

ROLE_ARN = "arn:aws:iam::222222222222:role/blueprints-smoke"


@pytest.fixture
def outputs(tmp_path: Path) -> Path:
    found = tmp_path / "outputs.json"
    found.write_text(json.dumps({"headerVersioning": {"url": "https://example.com/"}}))
    return found


@pytest.fixture
def caller(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIACALLER")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "caller-secret")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")


@pytest.mark.usefixtures("caller")
def test_without_a_role_it_signs_as_the_caller(outputs: Path) -> None:
    target = deployed_target(outputs)
    assert target.credentials is not None
    assert target.credentials.access_key == "AKIACALLER"
    assert target.credentials.token is None


@pytest.mark.usefixtures("caller")
def test_with_a_role_it_signs_with_the_role_session(outputs: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ROLE_VARIABLE, ROLE_ARN)
    with mock_aws():
        target = deployed_target(outputs)
        assert target.credentials is not None
        who = boto3.client("sts", aws_access_key_id=target.credentials.access_key,
                           aws_secret_access_key=target.credentials.secret_key,
                           aws_session_token=target.credentials.token).get_caller_identity()
    assert who["Arn"] == ("arn:aws:sts::222222222222:assumed-role/blueprints-smoke/"
                          f"{ROLE_SESSION}")
    assert target.credentials.access_key.startswith("ASIA")
    assert target.credentials.access_key != "AKIACALLER"
    assert target.credentials.token
    assert target.service("headerVersioning") is not None


def test_a_role_it_cannot_assume_is_one_clear_error(outputs: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ROLE_VARIABLE, ROLE_ARN)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(outputs.parent / "no-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(outputs.parent / "no-credentials"))
    with pytest.raises(SmokeError, match=rf"cannot assume {ROLE_ARN} \({ROLE_VARIABLE}\)"):
        deployed_target(outputs)


@pytest.mark.usefixtures("caller")
def test_requests_come_from_inside_the_vpc_unless_told_otherwise(
        outputs: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert deployed_target(outputs).inside_vpc
    monkeypatch.setenv(OUTSIDE_VARIABLE, "1")
    assert not deployed_target(outputs).inside_vpc
