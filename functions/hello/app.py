"""The API behind one version: GET /hello answers that version's greeting.

Each version is its own API Gateway REST stage and function; only ``GREETING`` tells them apart
(for example "API v.1: Hello world!"). Unknown routes get the resolver's 404 JSON.
"""

from __future__ import annotations

import os
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.event_handler import APIGatewayRestResolver
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

logger = Logger()
tracer = Tracer()
metrics = Metrics()
app = APIGatewayRestResolver()


@app.get("/hello")
@tracer.capture_method
def hello() -> dict[str, str]:
    metrics.add_metric(name="GreetingServed", unit=MetricUnit.Count, value=1)
    return {"message": os.environ["GREETING"]}


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler
@metrics.log_metrics(capture_cold_start_metric=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
