"""The private API's sample backend: ``GET /whoami`` answers who called, and by which path.

A network engineer wiring an on-premises network to the private API (DNS forwarding to the
inbound resolver, routes over Direct Connect or VPN, the prefix list) calls it to see what API
Gateway saw: where the request came from and through which VPC endpoint. One route, behind a
PRIVATE REST API (proxy integration, payload 1.0)::

    200 {"sourceIp", "vpcEndpointId", "vpcId", "requestId", "stage", "apiId", "host",
         "requestTime", "caller": {"arn", "accountId"}}

- ``sourceIp`` is ``requestContext.identity.sourceIp``: the client's own address as the VPC
  endpoint received it (an on-premises address, unless a proxy or NAT stands in between);
- ``vpcEndpointId`` and ``vpcId`` are ``requestContext.identity.vpceId`` and ``vpcId``, which
  API Gateway fills for requests to a private API: the interface endpoint the request came
  through, and its VPC;
- ``requestId`` is API Gateway's request id, also in the access log and in the function's logs
  (the correlation id), ``stage`` and ``apiId`` the stage and API it reached, ``host`` the
  name the client called (``<api-id>.execute-api.<region>.amazonaws.com`` with private DNS);
- ``caller`` is the IAM identity that signed the request (the method uses ``AWS_IAM``): its ARN
  and account. The access key id and anything else the identity holds are never answered.

A field the event does not hold (a console test invocation has no endpoint) is ``null``.

**Why IAM authorization on a private API.** The resource policy already fences the network
path: only requests through the named VPC endpoints get past it. ``AWS_IAM`` adds who: a
request must be signed by an AWS identity (``curl --aws-sigv4``), so reaching the network is
not enough to call the backend, and the answer can say who called. It is also what the
guardrails require of every method (``apigateway-routes-authorized``).

Every answer carries ``Cache-Control: no-store``; an unknown route is the resolver's 404 JSON;
an event API Gateway never sends is a 400 JSON from ``blueprints_common.entry``. Logs carry the
endpoint id and the stage, never the event or the caller. Metrics: ``WhoAmIAnswered``, and
``CalledWithoutVpcEndpoint`` for a request that names no endpoint (a private API only sees one
through a console or CLI test invocation).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from blueprints_common.entry import REST_PROXY, TRACE_NO_LIBRARIES, entry, rest_resolver

NO_STORE = {"Cache-Control": "no-store"}

logger = Logger()
tracer = Tracer(auto_patch=True, patch_modules=TRACE_NO_LIBRARIES)
metrics = Metrics()
app = rest_resolver()


def _text(source: Mapping[str, Any], key: str) -> str | None:
    value = source.get(key)
    return value if isinstance(value, str) and value else None


def _object(source: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = source.get(key)
    return value if isinstance(value, Mapping) else {}


def who_called(event: Mapping[str, Any]) -> dict[str, Any]:
    """What the request context says about the caller and its path to the API."""
    context = _object(event, "requestContext")
    identity = _object(context, "identity")
    return {
        "sourceIp": _text(identity, "sourceIp"),
        "vpcEndpointId": _text(identity, "vpceId"),
        "vpcId": _text(identity, "vpcId"),
        "requestId": _text(context, "requestId"),
        "stage": _text(context, "stage"),
        "apiId": _text(context, "apiId"),
        "host": _text(context, "domainName"),
        "requestTime": _text(context, "requestTime"),
        "caller": {"arn": _text(identity, "userArn"), "accountId": _text(identity, "accountId")},
    }


@app.get("/whoami")
@tracer.capture_method(capture_response=False)
def whoami() -> Response[Any]:
    answer = who_called(app.current_event.raw_event)
    endpoint = answer["vpcEndpointId"]
    if endpoint is None:
        metrics.add_metric(name="CalledWithoutVpcEndpoint", unit=MetricUnit.Count, value=1)
    metrics.add_metric(name="WhoAmIAnswered", unit=MetricUnit.Count, value=1)
    logger.info("Answered who called", vpcEndpointId=endpoint, stage=answer["stage"])
    return Response(200, content_types.APPLICATION_JSON, answer, headers=NO_STORE)


@entry(REST_PROXY, logger=logger, tracer=tracer, metrics=metrics)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
