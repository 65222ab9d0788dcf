"""Run in every local-mode worker before its handler module is imported (``LOCAL_BOOT``): every
AWS call of boto3's default session is checked against the function's role in the plan
(``tools.local.iam``), and requests that only local mode's own fronts can answer (S3 Object
Lambda, which moto does not implement) are sent to them."""

from __future__ import annotations

import os

OBJECT_LAMBDA_URL = "LOCAL_OBJECT_LAMBDA_URL"


def boot() -> None:
    import boto3  # type: ignore[import-untyped]

    from tools.local import iam

    iam.boot()
    if os.environ.get(OBJECT_LAMBDA_URL):
        from tools.local.object_lambda import install_routing

        install_routing(boto3.DEFAULT_SESSION, object_lambda_url=os.environ[OBJECT_LAMBDA_URL])
