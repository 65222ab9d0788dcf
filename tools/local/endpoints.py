"""Interface VPC endpoints for ``execute-api``, served locally: the only way into a private API.

In AWS, a caller inside the VPC (or on-premises, through Direct Connect or a VPN and the inbound
resolver) reaches a private REST API through an interface endpoint, and API Gateway knows which
endpoint the request came through: the resource policy's ``aws:SourceVpce``. Local mode serves
each such endpoint of the plan as a front of its own. A request names its API the ways AWS
accepts: the ``x-apigw-api-id`` header (calling the endpoint's own DNS name), or a ``Host`` of
``{api-id}.execute-api.{region}.amazonaws.com`` (private DNS) or
``{api-id}-{vpce-id}.execute-api.{region}.amazonaws.com`` (the endpoint-specific name). The
path starts with the stage. The API then answers as it would in AWS, with the endpoint's id
and VPC in its resource policy's context and in the event (``requestContext.identity.vpceId``).
A request through an endpoint for an API that is not private reaches nothing here: API Gateway
would send it to the public endpoint instead, which local mode serves on the API's own front.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace

from tools.local.gateway import Reply, Request
from tools.local.rest_api import RestApi
from tools.mock_runtime import StackRun

VPC_ENDPOINT = "aws:ec2/vpcEndpoint:VpcEndpoint"
_HOST = re.compile(r"([a-z0-9]+)(?:-(vpce-[0-9a-f]+))?\.execute-api\.[a-z0-9-]+\.amazonaws\.com")


class ExecuteApiEndpoint:
    """One interface endpoint for ``execute-api``, in front of the plan's private REST APIs."""

    def __init__(self, resource: str, endpoint_id: str, vpc_id: str,
                 apis: Sequence[RestApi]) -> None:
        self.resource = resource
        self.endpoint_id = endpoint_id
        self.vpc_id = vpc_id
        self._apis = [api for api in apis if api.private]

    def handle(self, request: Request) -> Reply:
        api_id = request.header("x-apigw-api-id")
        host = (request.header("Host") or "").split(":", 1)[0].lower()
        named = _HOST.fullmatch(host)
        if named is not None:
            api_id = api_id or named.group(1)
            if named.group(2) not in (None, self.endpoint_id):
                return _forbidden()
        stage = request.raw_path.strip("/").split("/", 1)[0]
        api = next((api for api in self._apis
                    if api.api_id == api_id and api.stage == stage), None)
        if api is None:
            return _forbidden()
        return api.handle(replace(request, source_vpce=self.endpoint_id, source_vpc=self.vpc_id))


def _forbidden() -> Reply:
    return Reply.json(403, {"message": "Forbidden"},
                      [("x-amzn-ErrorType", "ForbiddenException")])


def execute_api_endpoints(run: StackRun, apis: Sequence[RestApi]) -> list[ExecuteApiEndpoint]:
    """An ``ExecuteApiEndpoint`` for each interface endpoint of ``execute-api`` in the plan."""
    found = []
    for resource in run.of_type(VPC_ENDPOINT):
        inputs = resource.inputs
        if (inputs.get("vpcEndpointType") == "Interface"
                and str(inputs.get("serviceName", "")).endswith(".execute-api")):
            found.append(ExecuteApiEndpoint(resource.name, str(resource.id),
                                            str(inputs.get("vpcId")), apis))
    return found
