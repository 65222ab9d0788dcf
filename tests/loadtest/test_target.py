"""Where requests go and with what credentials: local mode's run file, a deployed stack's
outputs, the key in the query or a header; and the command line's own refusals."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from loadtest.cli import main
from loadtest.kit import Auth, Call, request_of
from loadtest.limits import KeyPlacement, PlanApi
from loadtest.target import TargetError, deployed_endpoint, local_endpoint, read_env_file

QUERY_API = PlanApi("queryKeyApi-api", "REST", "abc123", "dev", "eu-west-1",
                    KeyPlacement("query", "apiKey"))
HEADER_API = PlanApi("other-api", "REST", "def456", "v1", "eu-west-1",
                     KeyPlacement("header", "x-api-key"))
PLAN_OUTPUTS = {"queryKeyApi": {"invokeUrl": "https://abc123.execute-api.eu-west-1.amazonaws"
                                ".com/dev/customizations", "usagePlanIds": {"free": "p"}},
                "queryKeyApiSecrets": "[secret]"}


def write_run_file(folder: Path) -> Path:
    run_file = folder / "dev.json"
    run_file.write_text(json.dumps({
        "fronts": {"queryKeyApi-api": "http://127.0.0.1:4600/dev"},
        "apiKeys": {"trial-partner": "k" * 40}}), encoding="utf-8")
    (folder / "dev.env").write_text("export AWS_ACCESS_KEY_ID=local\n"
                                    "export AWS_SECRET_ACCESS_KEY='secret'\n", encoding="utf-8")
    return run_file


def test_local_mode_gives_the_front_the_keys_and_the_credentials(tmp_path: Path) -> None:
    endpoint = local_endpoint(QUERY_API, "dev", write_run_file(tmp_path))
    assert endpoint.base_url == "http://127.0.0.1:4600/dev"
    assert endpoint.api_keys == {"trial-partner": "k" * 40}
    assert endpoint.environment == {"AWS_ACCESS_KEY_ID": "local",
                                    "AWS_SECRET_ACCESS_KEY": "secret"}


def test_local_mode_not_running_or_not_serving_the_api_says_how_to_start_it(
        tmp_path: Path) -> None:
    with pytest.raises(TargetError, match=r"python -m tools\.local --stack dev"):
        local_endpoint(QUERY_API, "dev", tmp_path / "missing.json")
    with pytest.raises(TargetError, match=r"does not serve other-api.*queryKeyApi-api"):
        local_endpoint(HEADER_API, "dev", write_run_file(tmp_path))


def test_a_deployed_api_is_found_where_the_plan_outputs_name_it() -> None:
    outputs = {"queryKeyApi": {"invokeUrl": "https://r3al1d.execute-api.eu-west-1.amazonaws"
                               ".com/dev/customizations"},
               "queryKeyApiSecrets": {"apiKeys": {"trial-partner": "live-key"}}}
    endpoint = deployed_endpoint(QUERY_API, outputs, PLAN_OUTPUTS)
    assert endpoint.base_url == "https://r3al1d.execute-api.eu-west-1.amazonaws.com/dev"
    assert endpoint.api_keys == {"trial-partner": "live-key"}
    given = deployed_endpoint(QUERY_API, outputs, PLAN_OUTPUTS, "https://api.example.com/dev/")
    assert given.base_url == "https://api.example.com/dev"


def test_a_deployed_api_the_outputs_do_not_name_needs_its_url() -> None:
    with pytest.raises(TargetError, match="--url"):
        deployed_endpoint(HEADER_API, {}, PLAN_OUTPUTS)
    with pytest.raises(TargetError, match=r"queryKeyApi\.invokeUrl.*--url"):
        deployed_endpoint(QUERY_API, {"queryKeyApi": {"invokeUrl": "[secret]"}}, PLAN_OUTPUTS)


def test_the_key_goes_where_the_api_reads_it(tmp_path: Path) -> None:
    endpoint = local_endpoint(QUERY_API, "dev", write_run_file(tmp_path))
    url, headers = request_of(QUERY_API, endpoint, Call("GET", "/customizations/x?a=1"),
                              Auth("key", key_name="trial-partner"))
    assert url == f"http://127.0.0.1:4600/dev/customizations/x?a=1&apiKey={'k' * 40}"
    assert headers == {}
    _, headers = request_of(HEADER_API, endpoint, Call("POST", "/things", body="{}"),
                            Auth("key", key_name="x", key_value="v" * 30))
    assert headers == {"Content-Type": "application/json", "x-api-key": "v" * 30}
    url, headers = request_of(QUERY_API, endpoint, Call(), Auth("jwt", token="ey.J.w"))
    assert (url, headers) == ("http://127.0.0.1:4600/dev/", {"Authorization": "Bearer ey.J.w"})
    with pytest.raises(TargetError, match=r"no value for API key 'nobody'.*trial-partner"):
        request_of(QUERY_API, endpoint, Call(), Auth("key", key_name="nobody"))


def test_the_env_file_reader_takes_export_lines_only(tmp_path: Path) -> None:
    env = tmp_path / "x.env"
    env.write_text("# comment\nexport A=1\nB=2\nexport C=\"three\"\n", encoding="utf-8")
    assert read_env_file(env) == {"A": "1", "C": "three"}


def test_the_command_line_refuses_an_unknown_stack_before_planning(
        capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--stack", "nope", "--api", "x", "--rate", "1"]) == 2
    assert "unknown stack 'nope'" in capsys.readouterr().err


def test_the_command_line_offers_one_kind_of_credentials(
        capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--api", "x", "--rate", "1", "--key", "k", "--sigv4"])
    assert exited.value.code == 2
    assert "not allowed with argument" in capsys.readouterr().err


def test_only_the_locust_process_imports_locust() -> None:
    """Locust patches the standard library with gevent on import; the kit's own process (the
    plan, local mode's threads, these tests) must never load it."""
    probe = ("import sys, loadtest.cli, loadtest.kit, loadtest.drive; "
             "print(sorted(m for m in ('locust', 'gevent') if m in sys.modules))")
    answer = subprocess.run([sys.executable, "-c", probe],  # noqa: S603 - this interpreter
                            capture_output=True, text=True, check=True,
                            cwd=Path(__file__).resolve().parents[2])
    assert answer.stdout.strip() == "[]"
