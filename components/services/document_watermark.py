"""Document watermarking: every download a read-only PDF stamped with the downloader's identity.

People outside the organisation sign in with Cognito and ask for ``GET /documents/{key}``. The
API handler logs the access, then reads the document through an **S3 Object Lambda access
point**: S3 hands the original to the transform function, which converts it to PDF if needed,
stamps every page with the user and the time, writes an access id into the metadata, encrypts
it read-only and answers through ``WriteGetObjectResponse``. The handler stores the result in a
temporary bucket and answers 302 with a presigned URL that lives five minutes.

What it builds:

- **The source bucket** (``Bucket`` block: private, versioned, encrypted, TLS only), readable
  only through its **supporting access point**, and only when S3 Object Lambda makes the call:
  the bucket policy denies every ``GetObject`` that does not come through that access point,
  and the access point's policy denies every ``GetObject`` not made via Object Lambda. Uploads
  are unaffected. Nobody, users or operators, downloads an unstamped original.
- **The Object Lambda access point**, calling the transform on ``GetObject``. Its policy lets
  the API handler's role call it and denies everyone else, so the watermark text, which travels
  as headers of the handler's own request (README: "How the watermark text travels"), is always
  the handler's.
- **The transform function** (``functions/document_transform``): pypdf and cryptography in a
  layer, LibreOffice from a layer you name (Office formats; otherwise they get 415). Its only
  permission is ``s3-object-lambda:WriteGetObjectResponse`` on this access point: it reads the
  original through the presigned URL S3 gives it.
- **The HTTP API** with a JWT authorizer on a Cognito user pool and app client, created here
  (invitation only, strong passwords, optional TOTP MFA, no user-existence leaks, revocable
  tokens) or taken from config, and **the API handler** (``functions/document_api``).
- **The access log**, a DynamoDB table: who, which document, when and with what result, by
  document (``document``, ``accessId``) and by user (index ``byUser``). Point-in-time recovery
  on; kept forever unless ``accessLogRetentionDays`` is set.
- **The temporary bucket** for stamped copies: objects expire after ``tempRetentionDays`` (1),
  and the presigned URLs after ``urlTtlSeconds`` (300).

Note: since 2025-11-07 AWS offers S3 Object Lambda only to accounts that already used it (and to
selected partners); in a new account, creating the Object Lambda access point fails.
"""

from __future__ import annotations

import hashlib
from typing import Annotated

import pulumi
import pulumi_aws as aws
from pydantic import Field, StringConstraints, model_validator
from pydantic import dataclasses as pydantic_dataclasses

from components.config import SETTINGS, Defaults, Meaning
from components.foundation import iam
from components.foundation.bucket import Bucket, BucketArgs
from components.foundation.domain import domain_exports
from components.foundation.function import Function, FunctionArgs
from components.foundation.http_api import (
    HttpApi,
    HttpApiArgs,
    JwtAuthorizerArgs,
    LambdaRoute,
    RouteAuthorization,
)
from components.foundation.layer import PythonLayer, PythonLayerArgs
from components.foundation.table import GlobalIndex, Key, Table, TableArgs
from components.foundation.validation import require_valid
from components.services.base import DomainSettings, ServiceComponent, ServiceContext

# pypdf encrypts with AES-256 only through cryptography (cffi and pycparser are its own needs).
PDF_REQUIREMENTS = ("pypdf==7.1.1", "cryptography==50.0.2", "cffi==2.1.1", "pycparser==3.12")
OBJECT_LAMBDA = "s3-object-lambda.amazonaws.com"
# Object Lambda gives its function 60 s to answer; the handler waits for it and for S3.
TRANSFORM_TIMEOUT = 60
API_TIMEOUT = 29  # an HTTP API integration gives up after 30 s
ROUTE = "GET /documents/{key+}"

LayerArn = Annotated[str, StringConstraints(
    pattern=r"^arn:aws[a-z-]*:lambda:[a-z0-9-]+:\d{12}:layer:[A-Za-z0-9_-]+:\d+$"),
    Meaning("a Lambda layer version ARN (arn:aws:lambda:<region>:<account>:layer:<name>:<n>)")]
SesIdentityArn = Annotated[str, StringConstraints(
    pattern=r"^arn:aws[a-z-]*:ses:[a-z0-9-]+:\d{12}:identity/[^\s]+$"),
    Meaning("an SES identity ARN (arn:aws:ses:<region>:<account>:identity/<domain or address>)")]
SesConfigurationSet = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{1,64}$"),
                                Meaning("an SES configuration set name (1 to 64 letters, "
                                        "digits, _ and -)")]
# Cognito sends through SES in the pool's own region or, from other regions, in one of these.
SES_REGIONS_FOR_COGNITO = ("us-east-1", "us-west-2", "eu-west-1")
UserPoolId = Annotated[str, StringConstraints(pattern=r"^[a-z]{2}(-gov)?-[a-z]+-\d_[0-9A-Za-z]+$"),
                      Meaning("a user pool id such as eu-west-1_AbC123")]


@pydantic_dataclasses.dataclass(frozen=True, config=SETTINGS)
class CognitoSettings:
    """An existing user pool and the app clients whose tokens the API accepts; when absent, the
    service creates a pool and one client."""

    user_pool_id: UserPoolId
    client_ids: Annotated[tuple[str, ...], Field(min_length=1)]


@pydantic_dataclasses.dataclass(frozen=True, config=SETTINGS)
class EmailSenderSettings:
    """The Amazon SES identity the created user pool sends its emails (invitations, codes)
    through, instead of Cognito's own sender and its 50 emails a day."""

    source_arn: SesIdentityArn
    from_address: Annotated[str, StringConstraints(max_length=320)] | None = None
    reply_to: Annotated[str, StringConstraints(pattern=r"^[^@\s<>]+@[^@\s<>]+$"),
                        Meaning("an email address")] | None = None
    configuration_set: SesConfigurationSet | None = None


@pydantic_dataclasses.dataclass(frozen=True, config=SETTINGS)
class OfficeSettings:
    """A LibreOffice layer for Office formats, and where its ``soffice`` lands under /opt."""

    layer_arn: LayerArn
    soffice_path: Annotated[str, StringConstraints(pattern=r"^/opt/[A-Za-z0-9._/-]+$"),
                            Meaning("a path under /opt, where layers land")] = (
        "/opt/libreoffice/program/soffice")


@pydantic_dataclasses.dataclass(frozen=True, config=SETTINGS)
class DocumentWatermarkSettings:
    """The ``services.documentWatermark`` section of a stack file."""

    cognito: CognitoSettings | None = None
    email_sender: EmailSenderSettings | None = None
    office: OfficeSettings | None = None
    max_document_mb: Annotated[int, Field(ge=1, le=100)] = 25
    url_ttl_seconds: Annotated[int, Field(ge=60, le=3600)] = 300
    temp_retention_days: Annotated[int, Field(ge=1, le=30)] = 1
    access_log_retention_days: Annotated[int, Field(ge=1, le=3650)] | None = None
    transform_memory_size: Annotated[int, Field(ge=512, le=10240)] = 1024
    api_memory_size: Annotated[int, Field(ge=256, le=10240)] = 512
    throttling_rate_limit: Annotated[float, Field(gt=0, le=10_000)] = 20
    throttling_burst_limit: Annotated[int, Field(ge=1, le=5_000)] = 40
    domain: DomainSettings | None = None

    @model_validator(mode="after")
    def _documents_fit_the_function(self) -> DocumentWatermarkSettings:
        # The original, pypdf's objects and the stamped copy are in memory at once: the
        # benchmark peaked near ten times the input (128 MB for a 12 MB, 1,000-page PDF).
        if self.max_document_mb * 10 > self.transform_memory_size:
            raise ValueError(f"transformMemorySize {self.transform_memory_size} MB is too small "
                             f"for maxDocumentMb {self.max_document_mb}: give it at least ten "
                             "times the largest document")
        return self

    @model_validator(mode="after")
    def _sender_needs_a_pool_of_ours(self) -> DocumentWatermarkSettings:
        if self.cognito is not None and self.email_sender is not None:
            raise ValueError("emailSender configures the user pool this service creates; with "
                             "cognito (an existing pool), set its email on that pool instead")
        return self


def access_point_name(defaults: Defaults, name: str, suffix: str, limit: int) -> str:
    """A name unique in the account and region, lower case, within ``limit`` characters."""
    full = f"{pulumi.get_project()}-{defaults.stage}-{name}-{suffix}".lower()
    if len(full) <= limit:
        return full
    digest = hashlib.sha256(full.encode()).hexdigest()[:8]
    return f"{full[:limit - len(suffix) - 10]}-{digest}-{suffix}"


class DocumentWatermark(ServiceComponent):
    """Per-user watermarked, read-only PDF downloads through S3 Object Lambda, logged."""

    def __init__(self, name: str, settings: DocumentWatermarkSettings, context: ServiceContext,
                 opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("blueprints:services:DocumentWatermark", name, None, opts)
        defaults = context.defaults
        child = pulumi.ResourceOptions(parent=self)
        arn_prefix = f"arn:{iam.partition(defaults.region)}"
        supporting_name = access_point_name(defaults, name, "source", 50)
        object_lambda_name = access_point_name(defaults, name, "olap", 45)
        # Both ARNs are known before the access points exist, which breaks the cycles between
        # the bucket policy, the access points, the functions and their policies.
        supporting_arn = (f"{arn_prefix}:s3:{defaults.region}:{defaults.account_id}:"
                          f"accesspoint/{supporting_name}")
        object_lambda_arn = (f"{arn_prefix}:s3-object-lambda:{defaults.region}:"
                             f"{defaults.account_id}:accesspoint/{object_lambda_name}")
        via_object_lambda = {"ForAnyValue:StringEquals": {"aws:CalledVia": [OBJECT_LAMBDA]}}

        self.source = Bucket(f"{name}-source", BucketArgs(read_through=(supporting_arn,)),
                             defaults, child)
        self.temporary = Bucket(f"{name}-temporary", BucketArgs(
            expire_after_days=settings.temp_retention_days,
            noncurrent_version_expire_after_days=settings.temp_retention_days), defaults, child)
        self.access_log = Table(f"{name}-access-log", TableArgs(
            hash_key=Key("document"), range_key=Key("accessId"),
            global_indexes=[GlobalIndex("byUser", Key("user"), Key("accessId"))],
            ttl_attribute="expiresAt" if settings.access_log_retention_days else None,
        ), defaults, child)

        pdf = PythonLayer(f"{name}-pdf", PythonLayerArgs(
            PDF_REQUIREMENTS, description="pypdf with AES encryption, for document stamping",
            no_deps=True), defaults, child)
        office = settings.office
        self.transform = Function(f"{name}-transform", FunctionArgs(
            reserved_concurrency=self.reserved_concurrency(defaults, "transform"),
            code="document_transform", libraries=["pdf_watermark"],
            layers=[pdf.arn, *([office.layer_arn] if office else [])],
            memory_size=settings.transform_memory_size, timeout=TRANSFORM_TIMEOUT,
            service_name=name, description="Stamps documents read through S3 Object Lambda",
            environment={"MAX_DOCUMENT_BYTES": str(settings.max_document_mb * 2**20),
                         **({"SOFFICE_PATH": office.soffice_path} if office else {})},
            statements=[iam.allow(["s3-object-lambda:WriteGetObjectResponse"],
                                  object_lambda_arn)],
        ), defaults, child)

        objects_via_supporting = f"{supporting_arn}/object/*"
        supporting = aws.s3.AccessPoint(
            f"{name}-source-access-point", name=supporting_name, bucket=self.source.name,
            public_access_block_configuration={
                "block_public_acls": True, "block_public_policy": True,
                "ignore_public_acls": True, "restrict_public_buckets": True},
            policy=iam.policy_document([iam.Statement(
                effect="Deny", actions=("s3:GetObject",), resources=(objects_via_supporting,),
                principals={"AWS": "*"},
                conditions={"ForAllValues:StringNotEquals": {"aws:CalledVia": [OBJECT_LAMBDA]}},
                sid="OnlyThroughObjectLambda")]),
            opts=child)
        self.object_lambda = aws.s3control.ObjectLambdaAccessPoint(
            f"{name}-object-lambda", name=object_lambda_name,
            configuration={
                "supporting_access_point": supporting.arn,
                "cloud_watch_metrics_enabled": True,
                "transformation_configurations": [{
                    "actions": ["GetObject"],
                    "content_transformation": {
                        "aws_lambda": {"function_arn": self.transform.function.arn}},
                }],
            },
            opts=child)

        self.api_function = Function(f"{name}-api", FunctionArgs(
            reserved_concurrency=self.reserved_concurrency(defaults, "api"),
            code="document_api", memory_size=settings.api_memory_size, timeout=API_TIMEOUT,
            service_name=name, description="Logs and serves watermarked documents",
            environment={
                "ACCESS_LOG_TABLE": self.access_log.name,
                "OBJECT_LAMBDA_ACCESS_POINT_ARN": object_lambda_arn,
                "TEMP_BUCKET": self.temporary.name,
                "URL_TTL_SECONDS": str(settings.url_ttl_seconds),
                "ACCESS_LOG_RETENTION_DAYS": str(settings.access_log_retention_days or 0),
            },
            statements=[
                iam.allow(["s3-object-lambda:GetObject"], object_lambda_arn),
                iam.allow(["s3:GetObject"], objects_via_supporting,
                          conditions=via_object_lambda),
                # Object Lambda presigns the original's URL with this role: without ListBucket,
                # S3 answers a missing key with 403, and the user would see 502, not 404.
                iam.allow(["s3:ListBucket"], supporting_arn, conditions=via_object_lambda),
                iam.allow(["lambda:InvokeFunction"], self.transform.function.arn,
                          conditions=via_object_lambda),
                iam.allow(["dynamodb:PutItem", "dynamodb:UpdateItem"], self.access_log.arn),
                # GetObject signs the presigned URLs; the copies are the handler's own. Large
                # copies go up in parts, and a failed upload aborts them.
                iam.allow(["s3:PutObject", "s3:GetObject", "s3:AbortMultipartUpload"],
                          self.temporary.arn.apply(lambda arn: f"{arn}/*")),
            ],
        ), defaults, child)
        aws.s3control.ObjectLambdaAccessPointPolicy(
            f"{name}-object-lambda-policy", name=self.object_lambda.name,
            policy=iam.policy_document([
                iam.allow(["s3-object-lambda:GetObject"], object_lambda_arn,
                          principals={"AWS": self.api_function.role.arn}),
                iam.Statement(effect="Deny", actions=("s3-object-lambda:GetObject",),
                              resources=(object_lambda_arn,), principals={"AWS": "*"},
                              conditions={"ArnNotEquals": {
                                  "aws:PrincipalArn": self.api_function.role.arn}},
                              sid="OnlyTheApiHandler"),
            ]),
            opts=child)

        issuer, audience = self._identity(name, settings, defaults, child)
        self.api = HttpApi(name, HttpApiArgs(
            description="Watermarked document downloads",
            jwt=JwtAuthorizerArgs(issuer=issuer, audience=audience),
            routes=[LambdaRoute(ROUTE, self.api_function.target_arn,
                                self.api_function.invoke_arn,
                                authorization=RouteAuthorization.JWT)],
            throttling_rate_limit=settings.throttling_rate_limit,
            throttling_burst_limit=settings.throttling_burst_limit,
            domain=settings.domain.api_domain() if settings.domain else None,
        ), defaults, child)

        self.exports = {
            "apiEndpoint": self.api.api_endpoint,
            **domain_exports(self.api.domain_target),
            "sourceBucketName": self.source.name,
            "objectLambdaAccessPointArn": self.object_lambda.arn,
            "accessLogTableName": self.access_log.name,
            "userPoolIssuer": issuer,
        }
        self.register_outputs(self.exports)

    def _identity(self, name: str, settings: DocumentWatermarkSettings, defaults: Defaults,
                  child: pulumi.ResourceOptions,
                  ) -> tuple[pulumi.Input[str], list[pulumi.Input[str]]]:
        """The JWT issuer and audience: the configured pool, or a pool and client made here."""
        issuer_prefix = f"https://cognito-idp.{defaults.region}.amazonaws.com/"
        if settings.cognito is not None:
            return issuer_prefix + settings.cognito.user_pool_id, list(settings.cognito.client_ids)
        self.user_pool = aws.cognito.UserPool(
            f"{name}-users",
            email_configuration=self._email(settings.email_sender, defaults),
            # Explicit: the API's default is case-sensitive, so Ann@x.com and ann@x.com would
            # be two users; and it cannot change once the pool exists.
            username_configuration={"case_sensitive": False},
            user_pool_tier="ESSENTIALS",
            # Documents go to invited people only.
            admin_create_user_config={"allow_admin_create_user_only": True},
            username_attributes=["email"],
            auto_verified_attributes=["email"],
            account_recovery_setting={"recovery_mechanisms": [
                {"name": "verified_email", "priority": 1}]},
            password_policy={"minimum_length": 12, "require_lowercase": True,
                             "require_uppercase": True, "require_numbers": True,
                             "require_symbols": True, "temporary_password_validity_days": 3},
            mfa_configuration="OPTIONAL",
            software_token_mfa_configuration={"enabled": True},
            deletion_protection="ACTIVE" if defaults.deletion_protection else "INACTIVE",
            opts=pulumi.ResourceOptions(parent=self, protect=defaults.protect))
        self.user_pool_client = aws.cognito.UserPoolClient(
            f"{name}-web-client",
            user_pool_id=self.user_pool.id,
            generate_secret=False,
            explicit_auth_flows=["ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
            prevent_user_existence_errors="ENABLED",
            enable_token_revocation=True,
            access_token_validity=60, id_token_validity=60, refresh_token_validity=30,
            token_validity_units={"access_token": "minutes", "id_token": "minutes",
                                  "refresh_token": "days"},
            opts=child)
        return (pulumi.Output.concat(issuer_prefix, self.user_pool.id),
                [self.user_pool_client.id])

    def _email(self, sender: EmailSenderSettings | None,
               defaults: Defaults) -> aws.cognito.UserPoolEmailConfigurationArgsDict:
        """How the pool sends email: through the configured SES identity, else Cognito's own
        sender, which is for trials only (50 emails a day)."""
        if sender is None:
            if defaults.stage == "prod":
                pulumi.log.warn("documentWatermark: the user pool sends through Cognito's own "
                                "email, at most 50 a day; set emailSender to an SES identity",
                                resource=self)
            return {"email_sending_account": "COGNITO_DEFAULT"}
        region = sender.source_arn.split(":")[3]
        require_valid("DocumentWatermark", [
            None if region in (defaults.region, *SES_REGIONS_FOR_COGNITO) else
            f"emailSender.sourceArn: the SES identity is in {region}; Cognito sends from "
            f"{defaults.region} through SES in {defaults.region} or in "
            f"{', '.join(SES_REGIONS_FOR_COGNITO)}"])
        return {"email_sending_account": "DEVELOPER", "source_arn": sender.source_arn,
                "from_email_address": sender.from_address,
                "reply_to_email_address": sender.reply_to,
                "configuration_set": sender.configuration_set}
