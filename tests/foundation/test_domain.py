"""Mutual TLS on custom domains: the truststore is checked before anything runs, uploaded to a
bucket of its own, and named by its version on REST and HTTP API domains."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pulumi
import pytest

from components.foundation.domain import ApiDomain, MutualTls, truststore_problems
from components.foundation.http_api import HttpApi, HttpApiArgs
from components.foundation.rest_api import RestApi, RestApiArgs, RestStage, RestStageArgs
from components.foundation.validation import InvalidArgs
from tests.certificates import ca_and_client
from tests.support import DEV, statements
from tools.mock_runtime import StackRun

Build = Callable[..., StackRun]
CERTIFICATE = "arn:aws:acm:eu-west-1:111111111111:certificate/0a1b"
VERIFICATION = "arn:aws:acm:eu-west-1:111111111111:certificate/9f8e"
BUCKET_OBJECT = "aws:s3/bucketObjectv2:BucketObjectv2"


@pytest.fixture
def bundle(tmp_path: Path) -> str:
    ca, _ = ca_and_client()
    other_ca, _ = ca_and_client("Second CA")
    path = tmp_path / "partners.pem"
    path.write_bytes(ca + other_ca)
    return str(path)


def rest(build: Build, domain: ApiDomain) -> StackRun:
    def program(opts: pulumi.ResourceOptions) -> None:
        api = RestApi("orders", RestApiArgs(disable_execute_api_endpoint=True), DEV, opts)
        RestStage("orders", RestStageArgs(rest_api_id=api.api_id, redeploy_triggers={"v": "1"},
                                          domain=domain), DEV, opts)

    return build(program)


def http(build: Build, domain: ApiDomain) -> StackRun:
    return build(lambda opts: HttpApi("docs", HttpApiArgs(domain=domain), DEV, opts))


def test_a_bundle_of_ca_certificates_is_a_truststore(bundle: str) -> None:
    assert truststore_problems(bundle) == []


def test_what_is_not_a_truststore_is_named(tmp_path: Path) -> None:
    _, client = ca_and_client()
    leaf = tmp_path / "client.pem"
    leaf.write_bytes(client)
    text = tmp_path / "notes.pem"
    text.write_text("-----BEGIN CERTIFICATE-----\nnot base64 at all\n-----END CERTIFICATE-----\n")
    huge = tmp_path / "huge.pem"
    huge.write_bytes(b"#" * (1024 * 1024 + 1))
    stale = tmp_path / "stale.pem"
    stale.write_bytes(ca_and_client("Old CA", days=-2)[0] + ca_and_client()[0])

    assert truststore_problems(str(tmp_path / "absent.pem")) == [
        f"{str(tmp_path / 'absent.pem')!r} is not a file (paths are relative to the project)"]
    assert truststore_problems(str(leaf)) == [
        f"{str(leaf)!r} holds 1 certificate(s) that are not CAs; a truststore holds the CAs that "
        "issue client certificates, not the client certificates"]
    assert truststore_problems(str(text)) == [
        f"{str(text)!r} is not a PEM bundle of X.509 certificates"]
    assert truststore_problems(str(huge)) == [
        f"{str(huge)!r} is larger than API Gateway's 1 MB truststore limit"]
    assert truststore_problems(str(stale)) == [
        f"{str(stale)!r} holds expired CA certificates (Old CA); API Gateway would warn and "
        "refuse their clients"]


@pytest.mark.parametrize("make", [rest, http])
def test_the_domain_names_the_truststores_version_in_its_own_bucket(
        build: Build, bundle: str, make: Callable[[Build, ApiDomain], StackRun]) -> None:
    run = make(build, ApiDomain("partners.example.com", CERTIFICATE,
                                mutual_tls=MutualTls(bundle, VERIFICATION)))

    stored = run.one(BUCKET_OBJECT)
    assert stored.inputs["key"] == "partners.pem"
    assert stored.inputs["contentType"] == "application/x-pem-file"
    bucket = run.one("aws:s3/bucket:Bucket")
    assert stored.inputs["bucket"] == bucket.state["bucket"]
    versioning = run.one("aws:s3/bucketVersioning:BucketVersioning").inputs
    assert versioning["versioningConfiguration"]["status"] == "Enabled"
    [deny_plain_http] = statements(run.one("aws:s3/bucketPolicy:BucketPolicy"))
    assert deny_plain_http["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    domain = next(resource for resource in run.resources
                  if resource.type.endswith("/domainName:DomainName")).inputs
    assert domain["mutualTlsAuthentication"] == {
        "truststoreUri": f"s3://{bucket.state['bucket']}/partners.pem",
        "truststoreVersion": stored.state["versionId"]}
    verification = domain.get("ownershipVerificationCertificateArn") or domain[
        "domainNameConfiguration"]["ownershipVerificationCertificateArn"]
    assert verification == VERIFICATION


def test_an_http_api_with_mutual_tls_closes_execute_api(build: Build, bundle: str) -> None:
    run = http(build, ApiDomain("partners.example.com", CERTIFICATE,
                                mutual_tls=MutualTls(bundle)))
    assert run.one("aws:apigatewayv2/api:Api").inputs["disableExecuteApiEndpoint"] is True


def test_mutual_tls_is_refused_on_an_edge_domain_and_on_a_bad_truststore(
        build: Build, bundle: str, tmp_path: Path) -> None:
    edge = ApiDomain("partners.example.com", CERTIFICATE.replace("eu-west-1", "us-east-1"),
                     edge=True, mutual_tls=MutualTls(bundle))
    with pytest.raises(InvalidArgs) as raised:
        rest(build, edge)
    assert raised.value.problems == [
        "domain.mutual_tls: API Gateway offers mutual TLS on regional domains only, not "
        "edge-optimized ones"]

    missing = str(tmp_path / "absent.pem")
    with pytest.raises(InvalidArgs) as raised:
        http(build, ApiDomain("partners.example.com", CERTIFICATE,
                              mutual_tls=MutualTls(missing, "arn:aws:iam::1:certificate")))
    assert raised.value.problems == [
        f"domain.mutual_tls.truststore_file: {missing!r} is not a file (paths are relative to "
        "the project)",
        "domain.mutual_tls.ownership_verification_certificate_arn: 'arn:aws:iam::1:certificate' "
        "is not an ACM certificate ARN"]
