"""The API behind one version: GET /hello answers that version's greeting.

Each version is its own API Gateway REST stage and function; only ``GREETING`` tells them apart
(for example "API v.1: Hello world!"). Unknown routes get the resolver's 404 JSON; an event
API Gateway would never send gets a 400 JSON from ``blueprints_common.entry``, which also keeps
events out of the logs whatever ``POWERTOOLS_LOGGER_LOG_EVENT`` says.
"""

from __future__ import annotations

import os
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from blueprints_common.entry import REST_PROXY, TRACE_NO_LIBRARIES, entry, rest_resolver

logger = Logger()
tracer = Tracer(auto_patch=True, patch_modules=TRACE_NO_LIBRARIES)
metrics = Metrics()
app = rest_resolver()


@app.get("/hello")
@tracer.capture_method
def hello() -> dict[str, str]:
    metrics.add_metric(name="GreetingServed", unit=MetricUnit.Count, value=1)
    return {"message": os.environ["GREETING"]}


@entry(REST_PROXY, logger=logger, tracer=tracer, metrics=metrics)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
