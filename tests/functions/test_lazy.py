"""``blueprints_common.lazy``: a client made by the first request that uses it, once."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from blueprints_common.lazy import aws_region, lazy, made


def test_the_object_is_made_on_first_use_and_then_reused() -> None:
    calls: list[int] = []

    def make() -> SimpleNamespace:
        calls.append(1)
        return SimpleNamespace(name="table", get_item=lambda: "item")

    table = lazy(make)

    assert calls == []
    assert not made(table)
    assert table.get_item() == "item"
    assert table.name == "table"
    assert calls == [1]
    assert made(table)


def test_patching_an_attribute_patches_the_object(monkeypatch: pytest.MonkeyPatch) -> None:
    real = SimpleNamespace(get_item=lambda: "real")
    table = lazy(lambda: real)

    monkeypatch.setattr(table, "get_item", lambda: "patched")
    assert real.get_item() == "patched"

    monkeypatch.undo()
    assert table.get_item() == "real"


def test_the_region_comes_from_lambda_without_a_client(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_REGION", "eu-central-1")

    assert aws_region() == "eu-central-1"


def test_without_aws_region_the_default_session_decides(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_REGION", raising=False)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-west-2")

    assert aws_region() == "us-west-2"
