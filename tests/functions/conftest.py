"""Fixtures shared by the entity resolution handlers' tests."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from moto import mock_aws

from tests.functions.test_entity_index_builder import (
    create_bucket,
    s3_client,
    set_aws_environment,
)


@pytest.fixture
def s3(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """A moto S3 with the entity resolution component's versioned bucket."""
    set_aws_environment(monkeypatch)
    with mock_aws():
        client = s3_client()
        create_bucket(client)
        yield client
