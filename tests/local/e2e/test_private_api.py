"""privateApi in local mode, as a network engineer tests the path: the API answers through its
``execute-api`` interface endpoint (the resource policy's ``aws:SourceVpce``), and from nowhere
else."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.local.e2e.support import Answer, call, run_walk_through, service_outputs
from tools.local.stack import LocalStack

SERVICE = "privateApi"
ENDPOINT = "privateApi-execute-api"


def outputs(stack: LocalStack) -> dict[str, Any]:
    return service_outputs(stack, SERVICE)


def whoami(stack: LocalStack, url: str, *, signed: bool = True, **headers: str) -> Answer:
    assert stack.aws is not None
    return call("GET", url, headers=headers,
                signed_by=stack.aws.credentials if signed else None)


def test_through_the_endpoint_the_handler_sees_who_called_and_through_which_endpoint(
        local_dev: LocalStack) -> None:
    assert local_dev.started is not None
    api_id = outputs(local_dev)["privateDnsName"].split(".", 1)[0]
    answer = whoami(local_dev, f"{local_dev.started.url(ENDPOINT)}/DemoStage/whoami",
                    **{"x-apigw-api-id": api_id})

    assert answer.status == 200, answer.body
    body = answer.json()
    assert body["vpcEndpointId"] == outputs(local_dev)["vpcEndpointIds"][0]
    assert (body["stage"], body["apiId"], body["sourceIp"]) == ("DemoStage", api_id,
                                                               "127.0.0.1")
    assert body["caller"]["arn"].startswith("arn:aws:sts::")
    assert "accessKey" not in json.dumps(body)


def test_from_anywhere_else_the_private_api_is_forbidden(local_dev: LocalStack) -> None:
    assert local_dev.started is not None
    direct = whoami(local_dev, f"{local_dev.started.url('privateApi-api')}/whoami")
    wrong_api = whoami(local_dev, f"{local_dev.started.url(ENDPOINT)}/DemoStage/whoami",
                       **{"x-apigw-api-id": "0000000000"})
    assert (direct.status, direct.json()) == (403, {"message": "Forbidden"})
    assert wrong_api.status == 403


def test_the_readme_walk_through_works_as_written(local_dev: LocalStack, tmp_path: Path) -> None:
    done = run_walk_through(local_dev, SERVICE, tmp_path)

    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert json.loads(lines[0]) == {"vpcEndpointId": outputs(local_dev)["vpcEndpointIds"][0],
                                    "stage": "DemoStage"}
    assert lines[1:] == ['{"message":"Forbidden"}',
                         '{"message":"Missing Authentication Token"}']
