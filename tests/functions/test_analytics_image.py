"""The job's container image, read from its Dockerfile (no Docker engine needed): it copies every
module its entry points import, installs every third-party one from its own requirements, pinned
as requirements-dev.txt pins them (so the image runs what the tests ran), and starts the queue's
consumer by default."""

from __future__ import annotations

import ast
import json
import re
import shlex
import sys
from importlib.metadata import packages_distributions
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FUNCTIONS = ROOT / "functions"  # the build context
IMAGE = FUNCTIONS / "analytics_job"
ENTRY_POINTS = ("app.py", "task.py")


def instructions() -> list[tuple[str, str]]:
    """The Dockerfile's instructions (continuation lines joined), without comments."""
    text = re.sub(r"\\\n", " ", (IMAGE / "Dockerfile").read_text(encoding="utf-8"))
    found = []
    for line in text.splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            keyword, _, rest = line.strip().partition(" ")
            found.append((keyword.upper(), rest.strip()))
    return found


def copied() -> dict[str, str]:
    """Source (in the build context) -> destination, for every COPY."""
    sources = {}
    for keyword, rest in instructions():
        if keyword == "COPY":
            *paths, destination = shlex.split(rest)
            assert not any(path.startswith("--") for path in paths), "COPY flags are not read"
            sources |= dict.fromkeys(paths, destination)
    return sources


def copied_modules() -> dict[str, Path]:
    """The top-level modules the image's code can import: folders and files copied into the
    task root."""
    modules = {}
    for source, destination in copied().items():
        if destination.rstrip("/").startswith("${LAMBDA_TASK_ROOT}"):
            path = FUNCTIONS / source.rstrip("/")
            if path.is_dir() or path.suffix == ".py":
                modules[path.stem] = path
    return modules


def imported_names(path: Path) -> set[str]:
    """The top-level names of every absolute import in ``path`` (anywhere in it)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def requirements(path: Path) -> dict[str, str]:
    """Normalised package name -> pinned version, from a requirements file (and the files it
    includes with -r)."""
    pins: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.split("#")[0].strip()
        if line.startswith("-r "):
            pins |= requirements(path.parent / line[3:].strip())
        elif line:
            name, _, version = line.partition("==")
            assert version, f"{path.name}: {line} is not pinned"
            pins[normalised(name.split("[")[0])] = version.strip()
    return pins


def normalised(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def test_the_image_is_the_lambda_python_base_and_starts_the_consumer() -> None:
    found = instructions()

    assert found[0] == ("FROM", "public.ecr.aws/lambda/python:3.13")
    assert found[-1] == ("CMD", '["app.handler"]')
    assert json.loads(found[-1][1]) == ["app.handler"]


def test_the_tasks_scratch_space_is_writable_by_its_non_root_user() -> None:
    """The task definition mounts a volume of its own on /tmp (the root file system is
    read-only) and runs as 1000:1000: the image must declare /tmp a VOLUME for the mount to
    take /tmp's permissions rather than root's."""
    volumes = [json.loads(rest) for keyword, rest in instructions() if keyword == "VOLUME"]

    assert volumes == [["/tmp"]]


def test_the_image_copies_every_module_its_entry_points_import() -> None:
    local = copied_modules()
    third_party = packages_distributions()
    installed = set(requirements(IMAGE / "requirements.txt"))
    for entry_point in ENTRY_POINTS:
        assert local[Path(entry_point).stem] == IMAGE / entry_point
    to_read = [IMAGE / entry_point for entry_point in ENTRY_POINTS]
    read: set[Path] = set()
    missing = []
    while to_read:
        path = to_read.pop()
        if path in read:
            continue
        read.add(path)
        for name in imported_names(path):
            if name in sys.stdlib_module_names:
                continue
            if name in local:
                folder = local[name]
                to_read += sorted(folder.rglob("*.py")) if folder.is_dir() else [folder]
            elif (FUNCTIONS / name).exists() or (IMAGE / f"{name}.py").exists():
                missing.append(f"{path.relative_to(FUNCTIONS)} imports {name}, not copied")
            elif not {normalised(dist) for dist in third_party.get(name, [])} & installed:
                missing.append(f"{path.relative_to(FUNCTIONS)} imports {name}, not installed")

    assert missing == []
    assert {path.parent.name for path in read} >= {"analytics_job", "analytics_jobs",
                                                   "blueprints_common"}


def test_the_image_pins_what_the_tests_run_with() -> None:
    image = requirements(IMAGE / "requirements.txt")
    tested = requirements(ROOT / "requirements-dev.txt")

    shared = set(image) & set(tested)
    assert shared >= {"aws-lambda-powertools", "boto3", "botocore", "numpy", "scikit-learn",
                      "scipy"}
    assert {name: image[name] for name in shared} == {name: tested[name] for name in shared}


def test_the_build_context_lets_in_what_the_image_copies() -> None:
    ignore = (IMAGE / "Dockerfile.dockerignore").read_text(encoding="utf-8").splitlines()
    allowed = {line[1:].rstrip("/") for line in ignore if line.startswith("!")}

    assert ignore[ignore.index("*") if "*" in ignore else 0] == "*"
    assert {source.rstrip("/") for source in copied()} <= allowed
