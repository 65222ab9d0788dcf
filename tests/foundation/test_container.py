"""The container blocks: Fargate sizes, the image tag's digest, the task definition's fixed
settings (and the keys it refuses to let a caller override), under mocks."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pulumi
import pytest

from components.foundation.container import (
    ContainerImageArgs,
    FargateTaskArgs,
    container_image,
    fargate_size_problem,
    fargate_task,
    source_digest,
)
from components.services.base import ServiceComponent, ServiceContext
from tests.support import DEV, run_service, statements
from tools.mock_runtime import StackRun, reveal

KEY = "arn:aws:kms:eu-west-1:111111111111:key/k"


class _Holder(ServiceComponent):
    def __init__(self, context: ServiceContext, opts: pulumi.ResourceOptions,
                 settings: dict[str, Any]) -> None:
        super().__init__("test:blocks:Holder", "holder", None, opts)
        image = container_image("web", ContainerImageArgs(
            code="container_app", sources=("container_app",), kms_key_arn=KEY, images_kept=5),
            DEV, parent=self, provider=None)
        self.task = fargate_task("web", FargateTaskArgs(
            container="app", image=image.uri, repository_arn=image.repository.arn,
            task_role_arn="arn:aws:iam::111111111111:role/task",
            execution_role_arn="arn:aws:iam::111111111111:role/exec",
            execution_role_name="exec", kms_key_arn=KEY, cpu=512, memory_mb=1024,
            service_name="web", environment={"B": "2", "A": "1"}, settings=settings),
            DEV, parent=self)
        self.exports = {"image": image.uri}
        self.register_outputs({})


def build(settings: dict[str, Any] | None = None) -> StackRun:
    return run_service(lambda context, opts: _Holder(context, opts, settings or {
        "command": ["serve"]}))


def test_the_task_runs_the_image_by_digest_read_only_as_a_user() -> None:
    run = build()
    task = run.one("aws:ecs/taskDefinition:TaskDefinition", "web-task").inputs
    [container] = json.loads(reveal(task["containerDefinitions"]))
    assert container["image"] == run.outputs["exports"]["image"]
    assert "@sha256:" in container["image"]
    assert list(container)[:4] == ["name", "image", "essential", "command"]
    assert (container["user"], container["readonlyRootFilesystem"]) == ("1000:1000", True)
    assert [v["name"] for v in container["environment"]] == [
        "A", "B", "POWERTOOLS_LOG_LEVEL", "POWERTOOLS_SERVICE_NAME"]
    assert (task["cpu"], task["memory"], task["networkMode"]) == ("512", "1024", "awsvpc")
    rules = json.loads(reveal(run.one("aws:ecr/lifecyclePolicy:LifecyclePolicy").inputs[
        "policy"]))["rules"]
    assert rules[0]["selection"]["countNumber"] == 5
    policy = run.one("aws:iam/rolePolicy:RolePolicy", "web-task-execution")
    assert policy.inputs["role"] == "exec"
    assert {action for s in statements(policy) for action in s["Action"]} == {
        "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability",
        "logs:CreateLogStream", "logs:PutLogEvents", "kms:Decrypt"}


def test_a_caller_cannot_override_what_the_block_sets() -> None:
    with pytest.raises(Exception, match=r"settings\.user: set by the block"):
        build({"user": "root"})


def test_fargate_sizes() -> None:
    assert fargate_size_problem(512, 1024) is None
    assert fargate_size_problem(256, 4096) == (
        "4096 MB does not go with fargateCpu 256; use 512 to 2048 MB in steps of 512")
    assert "not a Fargate CPU size" in str(fargate_size_problem(300, 512))


def test_the_digest_follows_the_sources_only(tmp_path: Path) -> None:
    for folder in ("app", "other"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "code.py").write_text("x = 1\n")
    before = source_digest(("app",), tmp_path)
    (tmp_path / "other" / "code.py").write_text("x = 2\n")
    assert source_digest(("app",), tmp_path) == before
    (tmp_path / "app" / "code.py").write_text("x = 3\n")
    assert source_digest(("app",), tmp_path) != before
