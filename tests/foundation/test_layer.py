"""The layer block: pinned wheels for Lambda's platform, built once, sized, described."""

from __future__ import annotations

import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from components.foundation.layer import PythonLayer, PythonLayerArgs, build_layer
from components.foundation.validation import InvalidArgs
from tests.support import DEV
from tools.mock_runtime import StackRun

Build = Callable[..., StackRun]
SMALL = ["six==1.17.0"]  # a tiny pure wheel: the test builds a real layer without waiting


def test_layer_version_matches_the_functions_platform(build: Build) -> None:
    run = build(lambda opts: PythonLayer("tools", PythonLayerArgs(SMALL), DEV, opts))
    layer = run.one("aws:lambda/layerVersion:LayerVersion").inputs
    assert layer["compatibleRuntimes"] == ["python3.13"]
    assert layer["compatibleArchitectures"] == ["arm64"]
    assert layer["layerName"] == "blueprints-test-tools"
    archive = Path(layer["code"].path)
    with zipfile.ZipFile(archive) as bundle:
        names = bundle.namelist()
    assert "python/six.py" in names
    assert all(name.startswith("python/") for name in names)


def test_the_same_requirements_are_built_once_and_identically() -> None:
    first = build_layer(SMALL, "python3.13", "arm64")
    assert build_layer(SMALL, "python3.13", "arm64") == first
    other = build_layer(SMALL, "python3.12", "x86_64")
    assert other != first
    with zipfile.ZipFile(first) as a, zipfile.ZipFile(other) as b:
        assert [i.date_time for i in a.infolist()] == [i.date_time for i in b.infolist()]


def test_requirements_must_be_pinned(build: Build) -> None:
    with pytest.raises(InvalidArgs) as raised:
        build(lambda opts: PythonLayer("tools", PythonLayerArgs(["six", "numpy>=2"]), DEV, opts))
    assert raised.value.problems == [
        "requirements: 'six' is not pinned (name==version)",
        "requirements: 'numpy>=2' is not pinned (name==version)"]


def test_a_wheel_missing_for_the_platform_fails_with_pips_reason(build: Build) -> None:
    with pytest.raises(Exception, match=r"pip could not build the layer for python3\.13 on arm64"):
        build(lambda opts: PythonLayer("tools", PythonLayerArgs(
            ["no-such-package-blueprints==0.0.1"]), DEV, opts))
