"""What the function tests send: real API Gateway REST (v1) proxy event shapes, from one builder,
the security post's customization payloads, and the Lambda context."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

REGION = "us-east-1"
ACCOUNT = "111111111111"
API_ID = "abc123defg"
API_DOMAIN = f"{API_ID}.execute-api.{REGION}.amazonaws.com"


@dataclass
class LambdaContext:
    """The parts of Lambda's context object that Powertools reads, for one function."""

    function_name: str = "handler"
    memory_limit_in_mb: int = 128
    aws_request_id: str = "52fdfc07-2182-154f-163f-5f0f9a621d72"
    invoked_function_arn: str = ""
    # What is left of the invocation (Powertools' idempotency holds a key that long).
    remaining_time_in_millis: int = 10_000

    def __post_init__(self) -> None:
        self.invoked_function_arn = self.invoked_function_arn or (
            f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{self.function_name}")

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_time_in_millis

# The post's valid request. Its imageUrl is garbled in the stored copy of the post; this is
# the Wikipedia cherry image the Serverless Security Workshop uses.
GOOD = {
    "name": "Cherry-themed unicorn",
    "imageUrl": "https://en.wikipedia.org/wiki/Cherry#/media/File:Cherry_Stella444.jpg",
    "sock": "1",
    "horn": "2",
    "glasses": "3",
    "cape": "4",
}
# The post's SQL injection, in the cape.
SQL_INJECTION = "2); INSERT INTO Cape (NAME,PRICE) VALUES ('Bad color', 10000.00"

CLIENT_IP = "203.0.113.178"
BROWSER = "Mozilla/5.0"
# What a request that came through a CloudFront distribution carries instead.
CLOUDFRONT_IP = "130.176.16.72"
CLOUDFRONT = "Amazon CloudFront"
CLOUDFRONT_HEADERS = {
    "CloudFront-Forwarded-Proto": "https",
    "Via": "2.0 2c1e0a3d6a7f4b1c.cloudfront.net (CloudFront)",
    "X-Amz-Cf-Id": "nBsWBOrSHMgnaROZJK1wGCZ9PcRcSpq_oSXZNQwQ10OTZL4cimZo3g==",
    "X-Forwarded-For": f"{CLIENT_IP}, {CLOUDFRONT_IP}",
}


def rest_event(path: str, *, method: str = "GET", resource: str | None = None,
               stage: str = "prod", headers: Mapping[str, str] | None = None,
               query: Mapping[str, str] | None = None,
               path_parameters: dict[str, str] | None = None, body: str | None = None,
               cloudfront: bool = False, api_key: str | None = None,
               api_key_id: str | None = None, principal: str | None = None) -> dict[str, Any]:
    """A REST API proxy event as API Gateway sends it, with the stage outside ``path``.

    ``headers`` are added to (or replace) the usual ones; a body brings a JSON Content-Type.
    ``cloudfront`` makes it a request forwarded by CloudFront. ``api_key``/``api_key_id`` fill
    the identity as a usage plan's key does, ``principal`` the authorizer's context.
    """
    user_agent = CLOUDFRONT if cloudfront else BROWSER
    all_headers = {
        "Accept": "application/json",
        "Host": API_DOMAIN,
        "User-Agent": user_agent,
        "X-Amzn-Trace-Id": "Root=1-6745e1f5-0b1c2d3e4f5a6b7c8d9e0f1a",
        "X-Forwarded-For": CLIENT_IP,
        "X-Forwarded-Port": "443",
        "X-Forwarded-Proto": "https",
        **(CLOUDFRONT_HEADERS if cloudfront else {}),
    }
    if body is not None:
        all_headers["Content-Type"] = "application/json"
    all_headers.update(headers or {})
    context: dict[str, Any] = {
        "resourceId": "2gxmpl",
        "resourcePath": resource or path,
        "httpMethod": method,
        "extendedRequestId": "BvA3eFxmvHcFVxA=",
        "requestTime": "26/Nov/2026:15:04:05 +0000",
        "path": f"/{stage}{path}",
        "accountId": ACCOUNT,
        "protocol": "HTTP/1.1",
        "stage": stage,
        "domainPrefix": API_ID,
        "requestTimeEpoch": 1795705445000,
        "requestId": "c6af9ac6-7b61-11e6-9a41-93e8deadbeef",
        "identity": {
            "cognitoIdentityPoolId": None, "accountId": None, "cognitoIdentityId": None,
            "caller": None, "apiKey": api_key, "apiKeyId": api_key_id,
            "sourceIp": CLOUDFRONT_IP if cloudfront else CLIENT_IP, "principalOrgId": None,
            "accessKey": None, "cognitoAuthenticationType": None,
            "cognitoAuthenticationProvider": None, "userArn": None,
            "userAgent": user_agent, "user": None,
        },
        "domainName": API_DOMAIN,
        "apiId": API_ID,
    }
    if principal is not None:
        context["authorizer"] = {"principalId": principal, "integrationLatency": 12}
    return {
        "resource": resource or path,
        "path": path,
        "httpMethod": method,
        "headers": all_headers,
        "multiValueHeaders": {name: [value] for name, value in all_headers.items()},
        "queryStringParameters": dict(query) if query else None,
        "multiValueQueryStringParameters": ({name: [value] for name, value in query.items()}
                                            if query else None),
        "pathParameters": path_parameters,
        "stageVariables": None,
        "requestContext": context,
        "body": body,
        "isBase64Encoded": False,
    }
