"""S3 Object Lambda in local mode: the dev stack's document watermarking access point, served by
the front on 127.0.0.1, with the embedded AWS behind it and the real transform in local mode's
Lambda service (a worker booted as every worker is: its role's IAM checks, and routing to the
front). A failure the real handler never produces is played by a function of the test."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import quote

import boto3  # type: ignore[import-untyped]
import pytest
from botocore.config import Config  # type: ignore[import-untyped]
from botocore.exceptions import ClientError  # type: ignore[import-untyped]

from tests.functions.document_support import ACCESS_ID, WATERMARK, make_pdf, open_stamped
from tests.support import planned
from tools.local.aws import Credentials, EmbeddedAws, create_resources
from tools.local.boot import OBJECT_LAMBDA_URL
from tools.local.functions import FunctionSpec, Invocation, function_specs
from tools.local.gateway import LocalServer
from tools.local.iam import PlanPolicies, Principal
from tools.local.lambdas import EVENT_INVOKE_CONFIG, LocalLambda
from tools.local.object_lambda import ObjectLambdaAccessPoint, ObjectLambdaFront, install_routing
from tools.mock_runtime import StackRun

TRANSFORM = "documentWatermark-transform-function"
API = "documentWatermark-api-function"
DOCUMENT = "reports/q3 summary.pdf"
# The two headers the API handler adds, encoded as it encodes them.
HEADERS = {"x-blueprints-watermark": quote(WATERMARK, safe="@:"),
           "x-blueprints-access-id": ACCESS_ID}
NO_RETRIES = Config(retries={"mode": "standard", "total_max_attempts": 1}, read_timeout=90)

Function = Callable[[dict[str, Any]], Invocation]


@dataclass
class Lambdas:
    """Local mode's Lambda service, every invocation recorded, and functions of the test in
    place of the plan's where ``replaced`` says."""

    service: LocalLambda | None = None
    replaced: dict[str, Function] = field(default_factory=dict)
    calls: list[tuple[str, dict[str, Any], Principal | None]] = field(default_factory=list)

    def invoke(self, function: str, event: Any, *, caller: Principal | None,
               source_arn: str | None = None, source_account: str | None = None) -> Invocation:
        self.calls.append((function, event, caller))
        if function in self.replaced:
            return self.replaced[function](event)
        assert self.service is not None
        return self.service.invoke(function, event, caller=caller, source_arn=source_arn,
                                   source_account=source_account)


@dataclass
class Local:
    """The dev stack's Object Lambda access point, served."""

    run: StackRun
    aws: EmbeddedAws
    lambdas: Lambdas
    url: str
    point: ObjectLambdaAccessPoint
    specs: dict[str, FunctionSpec]

    def client(self, credentials: Credentials, front_url: str | None = None) -> Any:
        """An S3 client of the embedded AWS, its Object Lambda requests routed to the front."""
        client = boto3.session.Session().client(
            "s3", region_name=self.point.region, endpoint_url=self.aws.endpoint_url,
            aws_access_key_id=credentials.access_key_id,
            aws_secret_access_key=credentials.secret_access_key,
            aws_session_token=credentials.session_token, config=NO_RETRIES)
        install_routing(client, object_lambda_url=front_url or self.url)
        return client

    def role_client(self, function: str, front_url: str | None = None) -> Any:
        """A client with the credentials of a function's role."""
        spec = self.specs[function]
        return self.client(self.aws.credentials_for_role(spec.role_arn, spec.name), front_url)

    def read(self, client: Any, key: str = DOCUMENT, **params: Any) -> Any:
        """GetObject through the access point, with the API handler's two headers."""
        def add_headers(request: Any, **_: Any) -> None:
            for name, value in HEADERS.items():
                request.headers[name] = value

        client.meta.events.register("before-sign.s3.GetObject", add_headers)
        return client.get_object(Bucket=self.point.arn, Key=key, **params)


def serve(run: StackRun, lambdas: Lambdas, aws: EmbeddedAws, time_limit: float = 60.0
          ) -> tuple[LocalServer, ObjectLambdaFront]:
    """A front on a port of its own, as local mode serves it."""
    front = ObjectLambdaFront(run, lambdas=lambdas, policies=PlanPolicies.from_run(run),
                              aws=aws, time_limit=time_limit)
    return LocalServer("object-lambda", front.handle).start(), front


@pytest.fixture(scope="module")
def local(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Local]:
    run = planned("dev")
    with EmbeddedAws.for_plan(run) as aws:
        create_resources(run, aws)
        lambdas = Lambdas()
        server, front = serve(run, lambdas, aws)
        # The transform's worker only; ``only`` alone refuses the invoke config of a function
        # it leaves out (entityResolution's builder), and the transform has none.
        without_invoke_configs = replace(run, resources=[
            r for r in run.resources if r.type != EVENT_INVOKE_CONFIG])
        service = LocalLambda(without_invoke_configs,
                              policies=front.policies, aws=aws,
                              root=tmp_path_factory.mktemp("workers"),
                              local_environment={OBJECT_LAMBDA_URL: server.url},
                              only=lambda spec: spec.resource == TRANSFORM,
                              output=lambda line: None)
        lambdas.service = service
        try:
            assert service.start() == []
            (point,) = front.access_points.values()
            aws.client("s3", point.region).put_object(Bucket=point.bucket, Key=DOCUMENT,
                                                      Body=make_pdf())
            specs = {spec.resource: spec for spec in function_specs(run)}
            yield Local(run, aws, lambdas, server.url, point, specs)
        finally:
            service.stop()
            server.stop()


@pytest.fixture
def lambdas(local: Local) -> Iterator[Lambdas]:
    """The service, its calls forgotten and the plan's functions back after the test."""
    local.lambdas.calls.clear()
    yield local.lambdas
    local.lambdas.replaced.clear()


def error_of(call: Callable[[], Any]) -> tuple[str, int, str]:
    with pytest.raises(ClientError) as raised:
        call()
    response = raised.value.response
    return (response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"],
            response["Error"].get("Message", ""))


# --- through the access point ------------------------------------------------------------------

def test_the_api_role_reads_the_document_stamped_by_the_real_transform(
        local: Local, lambdas: Lambdas) -> None:
    answer = local.read(local.role_client(API))

    assert answer["ContentType"] == "application/pdf"
    reader = open_stamped(answer["Body"].read())
    assert all(WATERMARK in page.extract_text() for page in reader.pages)
    assert reader.metadata is not None
    assert reader.metadata["/AccessId"] == ACCESS_ID
    ((function, _, caller),) = lambdas.calls
    assert function == local.specs[TRANSFORM].arn
    assert caller is None  # the caller's own invoke permission was decided by the front


def test_the_transform_gets_the_documented_event(local: Local, lambdas: Lambdas) -> None:
    answer = local.read(local.role_client(API))

    ((_, event, _),) = lambdas.calls
    api = local.specs[API]
    role_name = api.role_arn.rsplit("/", 1)[-1]
    assert event["xAmzRequestId"] == answer["ResponseMetadata"]["RequestId"]
    assert event["protocolVersion"] == "1.00"
    assert event["configuration"] == {
        "accessPointArn": local.point.arn,
        "supportingAccessPointArn": local.point.supporting_access_point}
    context = event["getObjectContext"]
    assert context["outputRoute"] == local.point.route
    assert context["inputS3Url"].startswith(
        f"{local.aws.endpoint_url}/{local.point.bucket}/reports/q3%20summary.pdf?")
    assert "X-Amz-Signature=" in context["inputS3Url"]
    request = event["userRequest"]
    assert request["url"] == (f"http://{local.point.host_label}.127.0.0.1:{local.aws.port}/"
                              f"{DOCUMENT}")
    assert {name: request["headers"][name] for name in HEADERS} == HEADERS
    assert request["headers"]["Host"] == f"{local.point.host_label}.127.0.0.1:{local.aws.port}"
    assert not {"authorization", "x-amz-security-token"} & {
        name.lower() for name in request["headers"]}
    identity = event["userIdentity"]
    assert identity["type"] == "AssumedRole"
    assert identity["arn"] == f"arn:aws:sts::{local.point.account}:assumed-role/{role_name}/" \
                              f"{api.name}"
    assert identity["sessionContext"]["sessionIssuer"]["arn"] == api.role_arn
    assert identity["principalId"].endswith(f":{api.name}")


def test_a_role_without_object_lambda_get_object_is_refused(local: Local,
                                                            lambdas: Lambdas) -> None:
    code, status, message = error_of(lambda: local.read(local.role_client(TRANSFORM)))

    assert (code, status) == ("AccessDenied", 403)
    assert "s3-object-lambda:GetObject" in message
    assert lambdas.calls == []


def test_the_local_admin_is_refused_by_the_access_points_explicit_deny(
        local: Local, lambdas: Lambdas) -> None:
    code, status, message = error_of(lambda: local.read(local.client(local.aws.credentials)))

    assert (code, status) == ("AccessDenied", 403)
    assert "explicit deny in a resource-based policy" in message
    assert lambdas.calls == []


def test_a_missing_document_is_the_transforms_no_such_key(local: Local,
                                                          lambdas: Lambdas) -> None:
    code, status, _ = error_of(lambda: local.read(local.role_client(API), "reports/none.pdf"))

    assert (code, status) == ("NoSuchKey", 404)
    assert len(lambdas.calls) == 1


def test_a_transform_that_never_writes_is_lambda_response_not_received(
        local: Local, lambdas: Lambdas) -> None:
    lambdas.replaced[local.specs[TRANSFORM].arn] = lambda event: Invocation(
        {"status_code": 200}, False, "request", 0.0)

    code, status, _ = error_of(lambda: local.read(local.role_client(API)))

    assert (code, status) == ("LambdaResponseNotReceived", 500)


def test_a_transform_that_fails_before_writing_is_lambda_runtime_error(
        local: Local, lambdas: Lambdas) -> None:
    lambdas.replaced[local.specs[TRANSFORM].arn] = lambda event: Invocation(
        {"errorType": "KeyError", "errorMessage": "'getObjectContext'"}, True, "request", 0.0)

    code, status, _ = error_of(lambda: local.read(local.role_client(API)))

    assert (code, status) == ("LambdaRuntimeError", 500)


def test_a_transform_silent_past_the_time_limit_is_lambda_timeout(local: Local) -> None:
    released = threading.Event()

    def silent(event: dict[str, Any]) -> Invocation:
        released.wait(30)
        return Invocation(None, False, "request", 0.0)

    server, _ = serve(local.run, Lambdas(replaced={local.specs[TRANSFORM].arn: silent}),
                      local.aws, time_limit=0.2)
    try:
        code, status, _ = error_of(lambda: local.read(local.role_client(API, server.url)))
    finally:
        released.set()
        server.stop()

    assert (code, status) == ("LambdaTimeout", 500)


def test_a_replayed_token_is_refused_and_the_first_answer_stands(local: Local,
                                                                 lambdas: Lambdas) -> None:
    transform = local.role_client(TRANSFORM)
    replayed: list[tuple[str, int, str]] = []
    finished = threading.Event()

    def write_twice(event: dict[str, Any]) -> Invocation:
        context = event["getObjectContext"]
        answer = {"RequestRoute": context["outputRoute"], "RequestToken": context["outputToken"]}
        try:
            transform.write_get_object_response(**answer, Body=b"first", StatusCode=200,
                                                ContentType="text/plain",
                                                Metadata={"stamp": "first"})
            replayed.append(error_of(lambda: transform.write_get_object_response(
                **answer, Body=b"second", StatusCode=200)))
        finally:
            finished.set()
        return Invocation(None, False, "request", 0.0)

    lambdas.replaced[local.specs[TRANSFORM].arn] = write_twice
    answer = local.read(local.role_client(API))

    # The caller has its answer as soon as the first write arrives, as from S3 Object Lambda;
    # the function goes on.
    assert answer["Body"].read() == b"first"
    assert answer["ContentType"] == "text/plain"
    assert answer["Metadata"] == {"stamp": "first"}
    assert finished.wait(30)
    assert [(code, status) for code, status, _ in replayed] == [("ValidationError", 400)]


def test_only_the_transform_role_may_write_the_response(local: Local, lambdas: Lambdas) -> None:
    api = local.role_client(API)
    refused: list[tuple[str, int, str]] = []

    def write_as_the_api_role(event: dict[str, Any]) -> Invocation:
        context = event["getObjectContext"]
        refused.append(error_of(lambda: api.write_get_object_response(
            RequestRoute=context["outputRoute"], RequestToken=context["outputToken"],
            Body=b"forged")))
        return Invocation(None, False, "request", 0.0)

    lambdas.replaced[local.specs[TRANSFORM].arn] = write_as_the_api_role
    code, status, _ = error_of(lambda: local.read(local.role_client(API)))

    assert [(code, status) for code, status, _ in refused] == [("AccessDenied", 403)]
    assert (code, status) == ("LambdaResponseNotReceived", 500)


def test_a_range_the_access_point_does_not_allow_is_not_implemented(
        local: Local, lambdas: Lambdas) -> None:
    code, status, _ = error_of(lambda: local.read(local.role_client(API), Range="bytes=0-9"))

    assert (code, status) == ("NotImplemented", 501)
    assert lambdas.calls == []


def test_head_object_passes_through_to_the_supporting_access_point(local: Local,
                                                                   lambdas: Lambdas) -> None:
    original = local.aws.client("s3", local.point.region).head_object(
        Bucket=local.point.bucket, Key=DOCUMENT)

    head = local.role_client(API).head_object(Bucket=local.point.arn, Key=DOCUMENT)

    assert head["ContentLength"] == original["ContentLength"]
    assert head["ETag"] == original["ETag"]
    assert lambdas.calls == []


# --- bad requests ------------------------------------------------------------------------------

def test_a_wrong_secret_is_signature_does_not_match(local: Local) -> None:
    spec = local.specs[API]
    credentials = local.aws.credentials_for_role(spec.role_arn, spec.name)
    forged = replace(credentials, secret_access_key="not-" + credentials.secret_access_key)

    code, status, _ = error_of(lambda: local.read(local.client(forged)))

    assert (code, status) == ("SignatureDoesNotMatch", 403)


def test_credentials_the_embedded_aws_never_issued_are_invalid(local: Local) -> None:
    stranger = Credentials("AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
                           "token")

    code, status, _ = error_of(lambda: local.read(local.client(stranger)))

    assert (code, status) == ("InvalidAccessKeyId", 403)


def test_an_access_point_the_plan_does_not_declare_does_not_exist(local: Local) -> None:
    unknown = local.point.arn.replace(local.point.name, "no-such-olap")

    code, status, _ = error_of(lambda: local.role_client(API).get_object(Bucket=unknown,
                                                                         Key=DOCUMENT))

    assert (code, status) == ("NoSuchAccessPoint", 404)


def test_a_tampered_write_body_is_refused(local: Local, lambdas: Lambdas) -> None:
    transform = local.role_client(TRANSFORM)
    refused: list[tuple[str, int, str]] = []

    def tamper(request: Any, **_: Any) -> None:
        request.body = bytes(len(request.body))  # after signing: the signed hash is the old one

    def write_tampered(event: dict[str, Any]) -> Invocation:
        context = event["getObjectContext"]
        transform.meta.events.register_first("before-send.s3.WriteGetObjectResponse", tamper)
        refused.append(error_of(lambda: transform.write_get_object_response(
            RequestRoute=context["outputRoute"], RequestToken=context["outputToken"],
            Body=b"changed on the way")))
        return Invocation(None, False, "request", 0.0)

    lambdas.replaced[local.specs[TRANSFORM].arn] = write_tampered
    error_of(lambda: local.read(local.role_client(API)))

    assert [(code, status) for code, status, _ in refused] == [
        ("XAmzContentSHA256Mismatch", 400)]


# --- routing -----------------------------------------------------------------------------------

def test_routing_leaves_every_other_request_with_the_embedded_aws(local: Local) -> None:
    client = local.role_client(API)
    sent: list[str] = []
    client.meta.events.register_last("before-send", lambda request, **_: sent.append(
        request.url))

    client.list_buckets()
    local.read(client)

    assert sent[0].startswith(local.aws.endpoint_url + "/")
    assert sent[1] == f"{local.url}/reports/q3%20summary.pdf"


def test_routing_refuses_a_url_that_is_not_http(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not an http"):
        install_routing(boto3.session.Session(), object_lambda_url=str(tmp_path))
