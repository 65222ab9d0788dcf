"""One smoke check per service: a real, cheap request built only from the stack's outputs, that
creates nothing (or nothing that outlives the request), and the answer the service gives when it
works. Each check raises ``SmokeError`` (an ``AssertionError``) with what it got, or answers a
line saying what it saw.

Where a request reaches a function, the check asks for something that does not exist (a fresh
random id): the answer is the function's own 404, which shows the route, the authorization and
the function's reads all work, without writing anything."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from typing import Any

from tests.smoke.target import Answer, SmokeError, Target

V1 = "application/vnd.example.v1+json"


def _expect(answer: Answer, statuses: tuple[int, ...], what: str) -> Any:
    if answer.status not in statuses:
        raise SmokeError(f"{what}: answered {answer.status}, expected "
                           f"{' or '.join(map(str, statuses))}: {answer.body[:300]!r}")
    try:
        return answer.json()
    except ValueError:
        return None


def _fresh() -> str:
    return str(uuid.uuid4())


def header_versioning(target: Target, outputs: Mapping[str, Any]) -> str:
    """Through the CloudFront distribution, unauthenticated as any client: the Lambda@Edge router
    reads the version table and signs its request to the v1 API, whose function answers."""
    url = f"https://{outputs['distributionDomain']}/hello"
    body = _expect(target.call("GET", url, headers={"Accept": V1}), (200,), f"GET {url}")
    if not isinstance(body, dict) or not str(body.get("message", "")).startswith("API v.1"):
        raise SmokeError(f"GET {url}: not API v1's greeting: {body!r}")
    return f"GET {url} (Accept v1): 200 {body['message']}"


def query_key_api(target: Target, outputs: Mapping[str, Any]) -> str:
    """With a consumer's API key in the ``apiKey`` query parameter (the key values come from the
    ``--show-secrets`` outputs, or local mode's): the Lambda authorizer accepts the key and the
    function answers 404 for an id that no one has stored."""
    if not target.api_keys:
        raise SmokeError("no API key values: write the outputs with --show-secrets")
    name, value = sorted(target.api_keys.items())[0]
    url = f"{outputs['invokeUrl']}/{_fresh()}"
    _expect(target.call("GET", f"{url}?apiKey={value}"), (404,), f"GET {url} with key {name}")
    return f"GET {url} with {name}'s key: 404 from the function"


def entity_resolution(target: Target, outputs: Mapping[str, Any]) -> str:
    """A SigV4-signed match: IAM authorization lets it through and the matcher answers, with
    matches (200) or, before a reference file is published, its own 503 naming that."""
    url = f"{outputs['apiEndpoint']}/match?name=Acme&k=1"
    answer = target.call("GET", url, signed=True)
    body = _expect(answer, (200, 503), f"signed GET {url}")
    if answer.status == 503 and "index" not in str((body or {}).get("message", "")).lower():
        raise SmokeError(f"signed GET {url}: a 503 that is not the matcher's: {body!r}")
    return f"signed GET {url}: {answer.status}"


def document_watermark(target: Target, outputs: Mapping[str, Any]) -> str:
    """The API serves invited, signed-in readers only (a Cognito user with a password), and the
    smoke test has no user to sign in as. The cheapest honest check: a request without a token
    is refused 401 by the JWT authorizer, which shows the API, its route and its authorizer are
    deployed and answering (a missing route would be 404, a broken integration 5xx)."""
    url = f"{outputs['apiEndpoint']}/documents/smoke-check.pdf"
    body = _expect(target.call("GET", url), (401,), f"GET {url} without a token")
    if body != {"message": "Unauthorized"}:
        raise SmokeError(f"GET {url}: not the JWT authorizer's refusal: {body!r}")
    return f"GET {url} without a token: 401 from the JWT authorizer"


def event_management(target: Target, outputs: Mapping[str, Any]) -> str:
    """Every API route needs a signed-in guest or staff member (a Cognito user, which the smoke
    test does not create). The cheapest honest check: the API's authorizer refuses a request
    without a token 401, and the public web app (``siteUrl``) answers 200."""
    api = f"{outputs['apiUrl']}/sessions"
    _expect(target.call("GET", api), (401,), f"GET {api} without a token")
    site = str(outputs["siteUrl"])
    _expect(target.call("GET", site), (200,), f"GET {site}")
    return f"GET {api} without a token: 401; GET {site}: 200"


def async_analytics(target: Target, outputs: Mapping[str, Any]) -> str:
    """A SigV4-signed status read of a job that does not exist: IAM authorization, then the
    status function's read of the jobs table, answering 404."""
    url = f"{outputs['apiUrl']}/jobs/{_fresh()}"
    _expect(target.call("GET", url, signed=True), (404,), f"signed GET {url}")
    return f"signed GET {url}: 404 from the function"


def private_api(target: Target, outputs: Mapping[str, Any]) -> str:
    """A SigV4-signed ``whoami`` through the VPC's execute-api endpoint: the resource policy
    lets the endpoint in and the function names the endpoint the request came through (in local
    mode, through the endpoint's front). From outside the VPC, where the API does not answer,
    the same request must be refused: the fence holds."""
    public = str(outputs["invokeUrl"])
    if not target.inside_vpc:
        _expect(target.call("GET", public, signed=True), (403,),
                f"signed GET {public} from outside the VPC")
        return f"signed GET {public} from outside the VPC: 403, the resource policy's fence"
    local, headers = target.private_api(public)
    answer = target.call("GET", public, headers=headers, signed=True, local_url=local)
    body = _expect(answer, (200,), f"signed GET {public} through the VPC endpoint")
    endpoints = list(outputs.get("vpcEndpointIds") or [])
    if not isinstance(body, dict) or (endpoints and body.get("vpcEndpointId") not in endpoints):
        raise SmokeError(f"GET {public}: not through the stack's endpoint: {body!r}")
    return f"signed GET {public}: 200 through {body.get('vpcEndpointId')}"


def container_api(target: Target, outputs: Mapping[str, Any]) -> str:
    """A SigV4-signed read of a product that does not exist through the REST API: IAM, the VPC
    link, the NLB and a task, whose 404 comes back."""
    url = f"{outputs['restApiUrl']}/products/smoke-{uuid.uuid4().hex[:12]}"
    _expect(target.call("GET", url, signed=True), (404,), f"signed GET {url}")
    return f"signed GET {url}: 404 from a task"


def microservice_cache(target: Target, outputs: Mapping[str, Any]) -> str:
    """A SigV4-signed billing read of an account that does not exist: IAM, then the function
    in the VPC, through the cache to DynamoDB, answering 404 (a miss is not cached)."""
    url = f"{outputs['apiEndpoint']}/billing/acct-{uuid.uuid4().hex[:12]}"
    body = _expect(target.call("GET", url, signed=True), (404,), f"signed GET {url}")
    if body == {"message": "Not Found"}:  # the HTTP API's own answer: no such route
        raise SmokeError(f"signed GET {url}: the API has no billing route")
    return f"signed GET {url}: 404 from the function"


Check = Callable[[Target, Mapping[str, Any]], str]
# The dev stack's services, by the name the stack exports them under.
CHECKS: dict[str, Check] = {
    "headerVersioning": header_versioning,
    "queryKeyApi": query_key_api,
    "entityResolution": entity_resolution,
    "documentWatermark": document_watermark,
    "eventManagement": event_management,
    "asyncAnalytics": async_analytics,
    "privateApi": private_api,
    "containerApi": container_api,
    "microserviceCache": microservice_cache,
}


def run_check(target: Target, service: str) -> str:
    """Runs ``service``'s check against ``target``; raises when the outputs lack the service."""
    outputs = target.service(service)
    if outputs is None:
        raise SmokeError(f"{target.where}: the outputs hold no {service}")
    return CHECKS[service](target, outputs)
