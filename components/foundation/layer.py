"""Lambda layers of pinned third-party libraries, built with pip for the functions' platform.

Heavy libraries (numpy, scipy, nmslib, scikit-learn) never go into a function's package: they
travel in a layer, built here from pinned requirements. pip fetches the manylinux wheels for the
stack's runtime and architecture (``--platform``, ``--python-version``, ``--only-binary``), so
the layer matches Lambda, not the machine running Pulumi; no compiler and no Docker are needed.

Default settings:

| Setting        | Default                                                                   |
|----------------|---------------------------------------------------------------------------|
| Requirements   | pinned (``name==version``), wheels only                                   |
| Sources        | pinned, source-only packages built here; each must be pure Python         |
| Platform       | the stack's runtime and architecture (arm64 by default)                   |
| Dependencies   | resolved by pip; ``no_deps=True`` for a layer that sits on top of another |
| Size           | refused above 240 MB unpacked (Lambda allows 250 MB with the function)   |
| Cache          | ``build/layers/<hash>.zip``: the same requirements are built once          |

A package published as a source distribution only (``sources``, such as ``amazon-dax-client``)
is built into a wheel on this machine first (``pip wheel --no-binary``), and taken only if that
wheel is pure Python (``none-any``): a compiled one would fit this machine, not Lambda.

A layer is rebuilt only when its requirements, runtime or architecture change; the zip's
contents are deterministic, so an unchanged layer is not redeployed.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pulumi
import pulumi_aws as aws

from components.config import Defaults
from components.foundation.validation import require_valid

BUILD_DIR = Path(os.environ.get("BLUEPRINTS_BUILD_DIR",
                                Path(__file__).resolve().parents[2] / "build")) / "layers"
MAX_UNPACKED_BYTES = 240 * 2**20
PINNED = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*==[A-Za-z0-9.+!-]+$")
# The Python runtimes from 3.12 on run on Amazon Linux 2023 (glibc 2.34): any wheel built for
# glibc 2.34 or older fits. Recent numpy and scipy publish only manylinux_2_28 for arm64.
MACHINES = {"arm64": "aarch64", "x86_64": "x86_64"}
GLIBC_TAGS = ("manylinux_2_34", "manylinux_2_28", "manylinux_2_17", "manylinux2014")
# Files Lambda never needs: tests, caches and type stubs make up much of scientific wheels.
PRUNED_PARTS = frozenset({"__pycache__", "tests", "test"})


class LayerBuildError(pulumi.RunError):
    """pip could not build the layer (no wheel for the platform, or no network)."""


@dataclass(frozen=True)
class PythonLayerArgs:
    """Pinned requirements of the layer (wheels), pinned source-only packages that build to pure
    Python, and whether pip may add their dependencies."""

    requirements: Sequence[str]
    description: str | None = None
    no_deps: bool = False
    sources: Sequence[str] = ()


def build_layer(requirements: Sequence[str], runtime: str, architecture: str, *,
                no_deps: bool = False, sources: Sequence[str] = ()) -> Path:
    """The layer's zip (``python/`` at its root), built once and cached by its inputs."""
    key = hashlib.sha256("\n".join([runtime, architecture, str(no_deps), *sorted(requirements),
                                    *(f"source:{s}" for s in sorted(sources))]
                                   ).encode()).hexdigest()[:16]
    archive = BUILD_DIR / f"{key}.zip"
    if archive.exists():
        return archive
    BUILD_DIR.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=BUILD_DIR) as work:
        target = Path(work) / "python"
        wheels = _pure_wheels(sources, Path(work) / "wheels", architecture) if sources else []
        command = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                   "--target", str(target),
                   *(option for tag in GLIBC_TAGS
                     for option in ("--platform", f"{tag}_{MACHINES[architecture]}")),
                   "--python-version", runtime.removeprefix("python"), "--implementation", "cp",
                   "--only-binary=:all:", *(["--no-deps"] if no_deps else []), *requirements,
                   *map(str, wheels)]
        done = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603
        if done.returncode != 0:
            raise LayerBuildError(f"pip could not build the layer for {runtime} on "
                                  f"{architecture}: {done.stderr.strip()[-600:]}")
        staged = Path(work) / "layer.zip"
        with zipfile.ZipFile(staged, "w", zipfile.ZIP_DEFLATED) as bundle:
            for path in sorted(target.rglob("*")):
                relative = path.relative_to(target.parent)
                if path.is_file() and not PRUNED_PARTS & set(relative.parts):
                    # A fixed timestamp keeps the zip identical from build to build.
                    info = zipfile.ZipInfo(relative.as_posix(), date_time=(2020, 1, 1, 0, 0, 0))
                    info.external_attr = 0o644 << 16
                    bundle.writestr(info, path.read_bytes(), zipfile.ZIP_DEFLATED)
        shutil.move(staged, archive)
    return archive


def _pure_wheels(sources: Sequence[str], folder: Path, architecture: str) -> list[Path]:
    """Wheels built here from ``sources`` (no dependencies: the install resolves them)."""
    command = [sys.executable, "-m", "pip", "wheel", "--quiet", "--disable-pip-version-check",
               "--no-deps", "--no-binary=:all:", "--wheel-dir", str(folder), *sources]
    done = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603
    if done.returncode != 0:
        raise LayerBuildError(f"pip could not build {', '.join(sources)} from source: "
                              f"{done.stderr.strip()[-600:]}")
    wheels = sorted(folder.glob("*.whl"))
    compiled = [wheel.name for wheel in wheels if not wheel.name.endswith("-none-any.whl")]
    if compiled:
        raise LayerBuildError(f"sources: {', '.join(compiled)} is not pure Python; built on this "
                              f"machine, it would not run on Lambda's {architecture}")
    return wheels


def unpacked_size(archive: Path) -> int:
    with zipfile.ZipFile(archive) as bundle:
        return sum(info.file_size for info in bundle.infolist())


class PythonLayer(pulumi.ComponentResource):
    """A Lambda layer version of pinned libraries, for the stack's runtime and architecture."""

    layer: aws.lambda_.LayerVersion
    arn: pulumi.Output[str]

    def __init__(self, name: str, args: PythonLayerArgs, defaults: Defaults,
                 opts: pulumi.ResourceOptions | None = None) -> None:
        require_valid(f"PythonLayer {name}", [
            None if args.requirements else "requirements: a layer needs at least one",
            *(f"{field}: {requirement!r} is not pinned (name==version)"
              for field, pinned in (("requirements", args.requirements),
                                    ("sources", args.sources))
              for requirement in pinned if not PINNED.match(requirement)),
        ])
        super().__init__("blueprints:foundation:PythonLayer", name, None, opts)
        functions = defaults.functions
        archive = build_layer(args.requirements, functions.runtime, functions.architecture,
                              no_deps=args.no_deps, sources=args.sources)
        size = unpacked_size(archive)
        require_valid(f"PythonLayer {name}", [
            None if size <= MAX_UNPACKED_BYTES else
            f"requirements: the layer unpacks to {size // 2**20} MB, over the "
            f"{MAX_UNPACKED_BYTES // 2**20} MB a function and its layers may take"])
        self.layer = aws.lambda_.LayerVersion(
            f"{name}-layer",
            layer_name=f"{pulumi.get_project()}-{pulumi.get_stack()}-{name}"[:140],
            description=args.description or ", ".join([*args.requirements, *args.sources])[:256],
            code=pulumi.FileArchive(str(archive)),
            compatible_runtimes=[functions.runtime],
            compatible_architectures=[functions.architecture],
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.arn = self.layer.arn
        self.register_outputs({"arn": self.arn, "unpackedBytes": size})
