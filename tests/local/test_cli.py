"""``python -m tools.local`` as a user meets it: clear one-line errors for bad use, a listing of
what runs where, and Ctrl-C leaving nothing behind."""

from __future__ import annotations

import json
import re
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.local.e2e.support import eventually
from tools.local.__main__ import READY, main
from tools.local.gateway import LocalServer
from tools.local.stack import LocalStack
from tools.mock_runtime import ROOT


def test_an_unknown_stack_is_named_with_the_known_ones(capsys: pytest.CaptureFixture[str]
                                                       ) -> None:
    assert main(["--stack", "staging", "--port", "0"]) == 2
    error = capsys.readouterr().err
    assert error.startswith("error: unknown stack 'staging': the stacks are dev, prod, prod-env")
    assert "Traceback" not in error


def test_the_tooling_stack_is_refused_with_what_it_builds(capsys: pytest.CaptureFixture[str]
                                                          ) -> None:
    assert main(["--stack", "tooling", "--port", "0"]) == 2
    assert capsys.readouterr().err.startswith(
        "error: the tooling stack builds the delivery pipeline, which runs in AWS only: the "
        "stacks are dev, prod, prod-env")


def test_an_unknown_service_is_named_with_the_stacks_services(
        capsys: pytest.CaptureFixture[str]) -> None:
    # Not a service of the stack: named so that no stack file will ever deploy it (a real one
    # would start the whole stack and wait for Ctrl-C).
    assert main(["--stack", "dev", "--service", "notAService", "--port", "0"]) == 2
    error = capsys.readouterr().err
    assert "no service 'notAService'" in error
    assert "documentWatermark, entityResolution, eventManagement, headerVersioning, " \
        "microserviceCache, privateApi, queryKeyApi" in error


@pytest.fixture
def taken_port() -> Iterator[int]:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        yield holder.getsockname()[1]


def test_a_port_in_use_is_named(taken_port: int, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--stack", "dev", "--port", str(taken_port)]) == 2
    assert f"port {taken_port}" in capsys.readouterr().err


def test_bad_ports_are_usage_errors(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["--port", "70000"])
    assert exit_.value.code == 2
    assert "not a port number" in capsys.readouterr().err


def test_trigger_needs_a_running_stack(capsys: pytest.CaptureFixture[str],
                                       monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr("tools.local.__main__.RUN_FOLDER", tmp_path)
    assert main(["trigger", "--stack", "dev", "nightly-report"]) == 2
    assert "is not running in local mode" in capsys.readouterr().err


def listening(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def children(pid: int) -> list[str]:
    """The processes whose parent is ``pid`` (field 4 of ``/proc/<pid>/stat``)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parent = stat.read_text().rsplit(")", 1)[1].split()[1]
        except (OSError, IndexError):
            continue
        if parent == str(pid):
            found.append(stat.parent.name)
    return found


@contextmanager
def running_cli(*arguments: str) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """``python -m tools.local`` in a process of its own, once it has printed its listing."""
    process = subprocess.Popen(  # noqa: S603 (our own CLI)
        [sys.executable, "-m", "tools.local", *arguments], cwd=ROOT,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert process.stdout is not None
        lines = []
        for line in process.stdout:
            lines.append(line)
            if line.strip() == READY:
                break
        yield process, "".join(lines)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()


HEADER_VERSIONING = ("--stack", "dev", "--service", "headerVersioning", "--port", "0")


def test_ctrl_c_stops_every_server_and_worker() -> None:
    with running_cli(*HEADER_VERSIONING) as (process, listing):
        assert process.poll() is None, listing
        assert re.search(r"CloudFront\s+headerVersioning-distribution\s+http://127\.0\.0\.1:\d+",
                         listing)
        assert "queryKeyApi" not in listing
        assert "aws:ec2/vpc:Vpc (networking" in listing  # a type local mode does not emulate
        ports = {int(port) for port in re.findall(r"http://127\.0\.0\.1:(\d+)", listing)}
        assert len(ports) >= 4
        assert all(listening(port) for port in ports)
        workers = children(process.pid)
        assert len(workers) == 3  # the router and the two versions' functions

        process.send_signal(signal.SIGINT)
        rest, _ = process.communicate(timeout=60)
        assert process.returncode == 0, rest
        assert [port for port in ports if listening(port)] == []
        assert all(not Path(f"/proc/{pid}").exists() for pid in workers)
        assert not (ROOT / ".local-mode" / "dev.json").exists()


def test_workers_end_with_local_mode_even_when_it_is_killed() -> None:
    with running_cli(*HEADER_VERSIONING) as (process, listing):
        workers = children(process.pid)
        assert len(workers) == 3, listing
        process.kill()
        process.communicate()
        assert eventually(lambda: not any(Path(f"/proc/{pid}").exists() for pid in workers),
                          timeout=10)


class ScheduledRules:
    """The event wiring's ``trigger``, for a stack with one scheduled rule."""

    def trigger(self, name: str) -> str:
        if name != "nightly-report":
            raise LookupError(f"no rule or schedule {name!r}; there are nightly-report")
        return "3f2a9c1b-7d4e"


def test_trigger_fires_a_rule_of_the_running_stack_through_its_control_api(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
        tmp_path: Path) -> None:
    stack = LocalStack("dev", run_folder=tmp_path)
    stack.events = ScheduledRules()  # type: ignore[assignment]
    control = LocalServer("control", stack._control).start()
    try:
        (tmp_path / "dev.json").write_text(json.dumps({"control": control.url}))
        monkeypatch.setattr("tools.local.__main__.RUN_FOLDER", tmp_path)
        assert main(["trigger", "--stack", "dev", "nightly-report"]) == 0
        assert capsys.readouterr().out == "fired nightly-report (request 3f2a9c1b-7d4e)\n"
        assert main(["trigger", "--stack", "dev", "weekly report"]) == 2
        assert capsys.readouterr().err == ("error: no rule or schedule 'weekly report'; there "
                                           "are nightly-report\n")
    finally:
        control.stop()
