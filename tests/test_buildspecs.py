"""The delivery pipeline's CodeBuild files: the buildspecs (``.ci/buildspec-*.yml``) and the
deploy script they run (``.ci/deploy``). Every file or module a command names must exist, the
deploy script must take exactly the pipeline's steps, and the preview action must export the
variables the approval reads. The deploy script runs here against a fake ``pulumi``."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from components.pipeline.delivery import DEPLOY_BUILDSPEC, DEPLOY_STEPS, TEST_BUILDSPEC

ROOT = Path(__file__).resolve().parent.parent
CI = ROOT / ".ci"
# The buildspecs the pipeline's projects name.
BUILDSPECS = {"test": ROOT / TEST_BUILDSPEC, "deploy": ROOT / DEPLOY_BUILDSPEC}
DEPLOY = CI / "deploy"
STEPS = set(DEPLOY_STEPS.values())  # what the pipeline's build actions run
EXPORTED = ["PREVIEW_SUMMARY", "BUILD_URL"]
POLICY = ["--policy-pack", "policy", "--policy-pack-config", "policy/blueprints.json"]
BASH = shutil.which("bash") or "/bin/bash"


def bash(*args: str, **options: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run([BASH, *args], capture_output=True, text=True,  # noqa: S603 (ours)
                          check=False, timeout=60, **options)


def buildspec(name: str) -> dict[str, Any]:
    found = yaml.safe_load(BUILDSPECS[name].read_text(encoding="utf-8"))
    assert isinstance(found, dict)
    return found


def commands(spec: dict[str, Any], phase: str | None = None) -> list[str]:
    phases = spec["phases"]
    return [c for p in ([phase] if phase else list(phases))
            for c in phases[p].get("commands", [])]


def repository_references(text: str) -> list[str]:
    """The repository's files, folders and modules a command or script runs or reads."""
    text = text.replace("\\\n", " ")
    found = re.findall(r"(?<![\w/.$])\.?/?(\.ci/[\w.-]+)", text)
    found += re.findall(r"-r\s+([\w./-]+\.txt)", text)
    found += [m.replace(".", "/") + ".py" for m in re.findall(r"-m\s+(tools\.\w+)", text)]
    found += re.findall(r"-m pytest(?:\s+-\S+)*\s+(?:-m \w+\s+)?(tests/[\w/]+)", text)
    found += re.findall(r"--policy-pack(?:-config)?\s+([\w./-]+)", text)
    return [f for f in found if not f.startswith(".ci/out")]


@pytest.mark.parametrize("name", sorted(BUILDSPECS))
def test_buildspec_shape(name: str) -> None:
    spec = buildspec(name)
    assert spec["version"] == 0.2
    assert set(spec["phases"]) <= {"install", "build"}
    # The build image is Debian's Python 3.11 (BUILD_IMAGE): a runtime to select would only
    # warn there.
    assert "runtime-versions" not in spec["phases"].get("install", {})
    assert spec["env"]["shell"] == "bash"
    assert commands(spec, "build")
    # A command with ": " in it that YAML took for a mapping would never run.
    assert all(isinstance(c, str) for c in commands(spec))


@pytest.mark.parametrize("name", sorted(BUILDSPECS))
def test_every_repository_file_a_command_names_exists(name: str) -> None:
    named = repository_references("\n".join(commands(buildspec(name))))
    assert named
    for path in named:
        assert (ROOT / path).exists(), f"{BUILDSPECS[name].name} names {path}"
        if path.startswith(".ci/"):
            assert os.access(ROOT / path, os.X_OK), f"{path} is not executable"


def test_every_repository_file_the_deploy_script_names_exists() -> None:
    named = repository_references(DEPLOY.read_text(encoding="utf-8"))
    assert {"tools/preview_summary.py", "tests/smoke", "policy",
            "policy/blueprints.json"} <= set(named)
    for path in named:
        assert (ROOT / path).exists(), f".ci/deploy names {path}"


def test_the_test_stage_runs_the_ci() -> None:
    assert commands(buildspec("test"), "build") == ["./.ci/run"]
    assert os.access(CI / "run", os.X_OK)


def test_the_deploy_buildspec_installs_the_pinned_cli_and_runs_the_step() -> None:
    spec = buildspec("deploy")
    install = "\n".join(commands(spec, "install"))
    build = commands(spec, "build")
    assert ('curl -fsSL https://get.pulumi.com | sh -s -- --version "$PULUMI_VERSION"'
            in install)
    assert "-r requirements.txt" in install
    assert "-r requirements-dev.txt" in install
    assert 'pulumi login "$PULUMI_BACKEND_URL"' in build
    assert any(c.startswith("bash .ci/deploy ") and "DEPLOY_STEP" in c for c in build)
    assert build.index('pulumi login "$PULUMI_BACKEND_URL"') < next(
        i for i, c in enumerate(build) if c.startswith("bash .ci/deploy"))


def test_the_deploy_buildspec_exports_the_two_variables() -> None:
    spec = buildspec("deploy")
    assert spec["env"]["exported-variables"] == EXPORTED
    build = "\n".join(commands(spec, "build"))
    for name in EXPORTED:
        assert f"export {name}=" in build, f"{name} has no default"
    assert "export" not in "\n".join(commands(buildspec("test")))


def test_the_deploy_script_parses_and_is_executable() -> None:
    assert bash("-n", str(DEPLOY)).returncode == 0
    assert os.access(DEPLOY, os.X_OK)
    assert "set -euo pipefail" in DEPLOY.read_text(encoding="utf-8")


def test_the_deploy_script_takes_exactly_the_pipeline_steps() -> None:
    text = DEPLOY.read_text(encoding="utf-8")
    cases = text.split('case "$step" in', 1)[1].split("esac", 1)[0]
    assert set(re.findall(r"^  ([\w*]+)\)$", cases, re.MULTILINE)) == STEPS | {"*"}


# The deploy script against fakes: a copy of the repository's layout in a temporary folder, a
# `pulumi` that records its arguments and writes a preview, and a venv whose python records its
# arguments and runs the real summary module.

FAKE_PULUMI = """#!/usr/bin/env bash
echo "pulumi $*" >>"$CALLS"
if [[ $1 == preview ]]; then
  [[ $3 == broken ]] && { echo "error: preview failed" >&2; exit 255; }
  echo '{"steps": [], "changeSummary": {"create": 2, "same": 1}}'
elif [[ $1 == stack ]]; then
  echo '{"headerVersioning": {"url": "https://example.com"}}'
fi
"""

FAKE_PYTHON = """#!/usr/bin/env bash
echo "python $*" >>"$CALLS"
[[ $2 == tools.preview_summary ]] && exec "$REAL_PYTHON" "$@"
echo "smoke role: $BLUEPRINTS_SMOKE_ROLE_ARN" >>"$CALLS"
"""


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    where = tmp_path / "repo"
    (where / ".ci").mkdir(parents=True)
    shutil.copy2(DEPLOY, where / ".ci" / "deploy")
    (where / "tools").symlink_to(ROOT / "tools")
    fakes = tmp_path / "bin"
    fakes.mkdir()
    (where / "venv" / "bin").mkdir(parents=True)
    for path, text in ((fakes / "pulumi", FAKE_PULUMI),
                       (where / "venv" / "bin" / "python", FAKE_PYTHON)):
        path.write_text(text)
        path.chmod(0o755)
    return where


def run_deploy(workspace: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    variables = {"PATH": f"{workspace.parent / 'bin'}:{os.environ['PATH']}",
                 "CALLS": str(workspace / "calls"), "REAL_PYTHON": sys.executable,
                 "PYTHONPATH": str(ROOT), **env}
    return bash(str(workspace / ".ci" / "deploy"), *args, env=variables)


def calls(workspace: Path) -> list[str]:
    found = workspace / "calls"
    return found.read_text().splitlines() if found.exists() else []


def test_preview_previews_every_stack_then_summarizes(workspace: Path) -> None:
    done = run_deploy(workspace, "preview", STACKS="prod-env prod")
    assert done.returncode == 0, done.stderr
    out = workspace / ".ci" / "out"
    assert calls(workspace) == [
        *(shlex.join(["pulumi", "preview", "--stack", s, *POLICY, "--json"])
          for s in ("prod-env", "prod")),
        f"python -m tools.preview_summary {out}/preview-prod-env.json "
        f"{out}/preview-prod.json".replace(f"{out}", ".ci/out"),
    ]
    summary = "prod-env: 2 to create; prod: 2 to create\n"
    assert (out / "preview-summary.txt").read_text() == summary
    assert done.stdout == summary


def test_a_failed_preview_fails_the_step(workspace: Path) -> None:
    done = run_deploy(workspace, "preview", STACKS="prod-env broken prod")
    assert done.returncode != 0
    assert "error: preview failed" in done.stderr
    assert not any("prod " in c or c.endswith("prod") for c in calls(workspace)[1:])
    assert not (workspace / ".ci" / "out" / "preview-summary.txt").exists()


def test_up_updates_every_stack_in_order(workspace: Path) -> None:
    done = run_deploy(workspace, "up", STACKS="prod-env prod")
    assert done.returncode == 0, done.stderr
    assert calls(workspace) == [
        shlex.join(["pulumi", "up", "--stack", s, "--yes", "--skip-preview", *POLICY])
        for s in ("prod-env", "prod")]


def test_smoke_reads_the_outputs_and_signs_as_the_role(workspace: Path) -> None:
    role = "arn:aws:iam::222222222222:role/smoke"
    done = run_deploy(workspace, "smoke", SMOKE_STACK="prod", SMOKE_ROLE_ARN=role)
    assert done.returncode == 0, done.stderr
    assert calls(workspace) == [
        "pulumi stack output --stack prod --json --show-secrets",
        "python -m pytest -q -m smoke tests/smoke --smoke-outputs .ci/out/outputs.json "
        "-p no:cacheprovider",
        f"smoke role: {role}",
    ]
    assert (workspace / ".ci" / "out" / "outputs.json").is_file()


@pytest.mark.parametrize(("args", "env", "message"), [
    ((), {}, "usage: .ci/deploy preview|up|smoke"),
    (("deploy",), {}, ".ci/deploy: unknown step 'deploy' (one of: preview up smoke)"),
    (("preview",), {}, ".ci/deploy preview: the variable STACKS is not set"),
    (("up",), {"STACKS": "  "}, ".ci/deploy up: the variable STACKS names no stack"),
    (("smoke",), {"SMOKE_ROLE_ARN": "arn"}, ".ci/deploy smoke: the variable SMOKE_STACK is "),
    (("smoke",), {"SMOKE_STACK": "prod"}, ".ci/deploy smoke: the variable SMOKE_ROLE_ARN is "),
])
def test_a_wrong_call_is_a_usage_error(workspace: Path, args: tuple[str, ...],
                                       env: dict[str, str], message: str) -> None:
    done = run_deploy(workspace, *args, **env)
    assert done.returncode == 2
    assert done.stderr.startswith(message)
    assert calls(workspace) == []


@pytest.mark.parametrize(("step", "summary"), [
    ("preview", "prod: 2 to create"),
    ("up", "no preview, this action ran .ci/deploy up"),
])
def test_the_build_phase_exports_the_variables_in_its_own_shell(
        workspace: Path, step: str, summary: str) -> None:
    script = "\n".join(["set -e", *commands(buildspec("deploy"), "build"),
                        'echo "exported: $PREVIEW_SUMMARY | $BUILD_URL"'])
    env = {"PATH": f"{workspace.parent / 'bin'}:{os.environ['PATH']}",
           "HOME": str(workspace.parent), "CALLS": str(workspace / "calls"),
           "REAL_PYTHON": sys.executable, "PYTHONPATH": str(ROOT), "DEPLOY_STEP": step,
           "STACKS": "prod", "PULUMI_BACKEND_URL": "s3://state-bucket",
           "CODEBUILD_BUILD_URL": "https://console.aws/codebuild/build/1"}
    done = bash("-c", script, cwd=workspace, env=env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == (
        f"exported: {summary} | https://console.aws/codebuild/build/1")
    assert calls(workspace)[0] == "pulumi login s3://state-bucket"
