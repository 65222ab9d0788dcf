"""The layer block: pinned wheels for Lambda's platform and pure-Python sources built here,
built once, sized, described."""

from __future__ import annotations

import subprocess
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from components.foundation import layer as layer_module
from components.foundation.layer import LayerBuildError, PythonLayer, PythonLayerArgs, build_layer
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


DAX_CLIENT = "amazon-dax-client==2.1.0"  # published as a source distribution only


def test_a_source_only_package_is_built_here_into_the_layer(build: Build) -> None:
    run = build(lambda opts: PythonLayer("dax", PythonLayerArgs(
        SMALL, no_deps=True, sources=[DAX_CLIENT]), DEV, opts))
    layer = run.one("aws:lambda/layerVersion:LayerVersion").inputs
    with zipfile.ZipFile(Path(layer["code"].path)) as bundle:
        names = bundle.namelist()
    assert "python/amazondax/__init__.py" in names
    assert "python/six.py" in names
    assert layer["description"] == "six==1.17.0, amazon-dax-client==2.1.0"


def test_a_source_that_builds_to_a_compiled_wheel_is_refused(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    def pip_wheel(command: list[str], **_: object) -> subprocess.CompletedProcess[str]:
        folder = Path(command[command.index("--wheel-dir") + 1])
        folder.mkdir(parents=True)
        (folder / "fast-1.0-cp311-cp311-linux_x86_64.whl").write_bytes(b"")
        return subprocess.CompletedProcess(command, 0, "", "")

    monkeypatch.setattr(layer_module, "BUILD_DIR", tmp_path)
    monkeypatch.setattr(layer_module.subprocess, "run", pip_wheel)
    with pytest.raises(LayerBuildError, match=r"fast-1\.0-cp311-cp311-linux_x86_64\.whl is not "
                                              r"pure Python; .* Lambda's arm64"):
        build_layer(SMALL, "python3.13", "arm64", sources=["fast==1.0"])


def test_sources_must_be_pinned(build: Build) -> None:
    with pytest.raises(InvalidArgs) as raised:
        build(lambda opts: PythonLayer("dax", PythonLayerArgs(
            SMALL, sources=["amazon-dax-client"]), DEV, opts))
    assert raised.value.problems == [
        "sources: 'amazon-dax-client' is not pinned (name==version)"]
