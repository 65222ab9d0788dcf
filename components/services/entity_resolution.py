"""Entity resolution: the closest reference entity for a free-text name, with a similarity score.

People type "Acme Corp.", "ACME corporation", "Acme Crop" or "ACM"; the reference list says "Acme
Corporation". The matcher answers the closest entities and a score in [0, 1] that a caller can set
a threshold on: with ``rerank`` (the default) the probability, calibrated on generated data, that
the entity is the right one; without it, the n-gram cosine. The method is the post's: normalisation
(Unicode, case, punctuation, legal suffixes), character n-grams, TF-IDF (scikit-learn, at build
time only), and a nearest-neighbour search, whose candidates a re-ranker scores again with words,
their rarity, abbreviations, initials and legal forms (``rerank: false`` turns it off). That search
is, by default, posting lists with the query's common n-grams pruned and the candidates re-scored
exactly (numpy): measured against nmslib's methods, which stay a config value away
(``indexMethod``), it alone met every target at 1M names (README: "Which index, and why"). The
library is ``functions/entity_matching``: the Lambdas run it, and notebooks and batch jobs import
the same code.

What it builds:

- **A private, versioned bucket** (``Bucket`` block) with two prefixes: ``reference/``, where a
  CSV of the reference entities (``id,name`` columns) is uploaded, and ``index/``, where the
  builder publishes index versions.
- **The index builder**: an upload under ``reference/`` (``.csv``) invokes it; it builds the
  index and publishes it as ``index/<version>/...`` plus the pointer ``index/CURRENT.json``,
  written last, so a matcher never sees a half-written version. It may read ``reference/`` and
  write ``index/`` only. Asynchronous, so failures go to its failure queue (with a DLQ).
- **The matcher**, behind an **HTTP API** (``GET /match?name=...&k=3``, ``POST /match`` with up to
  100 names) with IAM or JWT authorization and throttling. It reads ``index/`` only, loads the
  published version once per container (checksums checked), looks for a newer pointer at most
  once a minute, and answers 503 until a first version exists. Memory and provisioned
  concurrency come from config.
- **Two layers** (``PythonLayer`` block): numpy and nmslib for both functions; scipy and
  scikit-learn for the builder only, as the query path needs neither. The matcher gets 2 GB of
  ``/tmp``, as a new version downloads beside the one serving.

Where this does better than the public sample: a versioned pointer instead of overwritten
files (no half-written index is ever served, and a bad build never replaces a good one),
checksums verified before nmslib reads a file, the query path without scikit-learn, least
privilege per function and per prefix, and the index method chosen by measurement
(``benchmarks/entity_resolution.py``).
"""

from __future__ import annotations

from typing import Annotated, Literal

import pulumi
import pulumi_aws as aws
from pydantic import Field, model_validator
from pydantic import dataclasses as pydantic_dataclasses

from components.config import SETTINGS
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
from components.services.base import DomainSettings, ServiceComponent, ServiceContext

REFERENCE_PREFIX = "reference/"
INDEX_PREFIX = "index/"
POINTER = "CURRENT.json"
MATCHER_TMP_MB = 2048
LIBRARY = "entity_matching"
# The query path imports numpy and nmslib only (nmslib declares scipy and pybind11 but does not
# import them); the builder adds scipy and scikit-learn on top. Both are installed without pip's
# dependency resolution, so each layer holds exactly what is listed: scikit-learn imports
# narwhals, and joblib cloudpickle (local mode's workers found both missing).
MATCHER_REQUIREMENTS = ("numpy==2.4.6", "nmslib==2.1.2")
BUILDER_REQUIREMENTS = ("scipy==1.17.1", "scikit-learn==1.9.1", "joblib==1.6.0",
                        "cloudpickle==3.1.3", "narwhals==2.29.0", "threadpoolctl==3.8.0")
# The library's search methods (entity_matching.index.METHODS, which the program cannot import:
# it lives with the functions), the default first.
IndexMethod = Literal["pruned", "invindex", "sw-graph", "napp", "exact"]


@pydantic_dataclasses.dataclass(frozen=True, config=SETTINGS)
class AuthSettings:
    """Who may call the API: signed IAM principals, or bearers of a JWT from ``issuer``."""

    type: Literal["iam", "jwt"] = "iam"
    issuer: str | None = None
    audience: tuple[str, ...] = ()

    @model_validator(mode="after")
    def _jwt_needs_issuer(self) -> AuthSettings:
        if self.type == "jwt" and not (self.issuer and self.issuer.startswith("https://")
                                       and self.audience):
            raise ValueError("type jwt needs an https issuer and at least one audience")
        if self.type == "iam" and (self.issuer or self.audience):
            raise ValueError("issuer and audience only apply to type jwt")
        return self


@pydantic_dataclasses.dataclass(frozen=True, config=SETTINGS)
class EntityResolutionSettings:
    """The ``services.entityResolution`` section of a stack file."""

    auth: AuthSettings = AuthSettings()
    min_score: Annotated[float, Field(ge=0, le=1)] = 0.5
    # The matcher's second stage: word-level evidence, initials and abbreviations, legal forms,
    # and a calibrated probability as the score (benchmarks/README.md: "The re-ranker").
    rerank: bool = True
    strip_legal_suffixes: bool = True
    index_method: IndexMethod = "pruned"
    matcher_memory_size: Annotated[int, Field(ge=512, le=10240)] = 1769
    provisioned_concurrency: Annotated[int, Field(ge=1, le=100)] | None = None
    builder_memory_size: Annotated[int, Field(ge=1024, le=10240)] = 10240
    throttling_rate_limit: Annotated[float, Field(gt=0, le=10_000)] = 50
    throttling_burst_limit: Annotated[int, Field(ge=1, le=5_000)] = 100
    domain: DomainSettings | None = None


class EntityResolution(ServiceComponent):
    """Fuzzy matching of names against reference data: builder, index versions, matcher API."""

    def __init__(self, name: str, settings: EntityResolutionSettings, context: ServiceContext,
                 opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("blueprints:services:EntityResolution", name, None, opts)
        defaults = context.defaults
        child = pulumi.ResourceOptions(parent=self)

        self.bucket = Bucket(f"{name}-data", BucketArgs(), defaults, child)
        references = pulumi.Output.concat(self.bucket.arn, f"/{REFERENCE_PREFIX}*")
        indexes = pulumi.Output.concat(self.bucket.arn, f"/{INDEX_PREFIX}*")
        pointer = pulumi.Output.concat(self.bucket.arn, f"/{INDEX_PREFIX}{POINTER}")
        numeric = PythonLayer(f"{name}-numeric", PythonLayerArgs(
            MATCHER_REQUIREMENTS, description="numpy and nmslib for entity matching",
            no_deps=True), defaults, child)
        learning = PythonLayer(f"{name}-learning", PythonLayerArgs(
            BUILDER_REQUIREMENTS, description="scipy and scikit-learn for building entity "
            "indexes", no_deps=True), defaults, child)
        environment: dict[str, pulumi.Input[str]] = {
            "BUCKET_NAME": self.bucket.name,
            "INDEX_PREFIX": INDEX_PREFIX,
        }

        self.builder = Function(f"{name}-builder", FunctionArgs(
            reserved_concurrency=self.reserved_concurrency(defaults, "builder"),
            code="entity_index_builder", libraries=[LIBRARY], layers=[numeric.arn, learning.arn],
            memory_size=settings.builder_memory_size, timeout=900, invoked_async=True,
            long_running=True,
            service_name=name, description="Builds and publishes an entity index from a CSV",
            environment={**environment, "REFERENCE_PREFIX": REFERENCE_PREFIX,
                         "INDEX_METHOD": settings.index_method,
                         "STRIP_LEGAL_SUFFIXES": str(settings.strip_legal_suffixes).lower()},
            # The pointer is read to skip duplicate and stale uploads (idempotent retries).
            # Index files go up in parts (upload_file), and a failed upload aborts them.
            statements=[iam.allow(["s3:GetObject"], references, pointer),
                        iam.allow(["s3:PutObject", "s3:AbortMultipartUpload"], indexes)],
        ), defaults, child)
        permission = aws.lambda_.Permission(
            f"{name}-builder-from-s3", action="lambda:InvokeFunction",
            function=self.builder.target_arn, principal="s3.amazonaws.com",
            source_arn=self.bucket.arn, source_account=defaults.account_id, opts=child)
        aws.s3.BucketNotification(
            f"{name}-reference-uploads", bucket=self.bucket.name,
            lambda_functions=[{"lambda_function_arn": self.builder.target_arn,
                               "events": ["s3:ObjectCreated:*"],
                               "filter_prefix": REFERENCE_PREFIX, "filter_suffix": ".csv"}],
            opts=pulumi.ResourceOptions(parent=self, depends_on=[permission]))

        self.matcher = Function(f"{name}-matcher", FunctionArgs(
            reserved_concurrency=self.reserved_concurrency(defaults, "matcher"),
            code="entity_matcher", libraries=[LIBRARY], layers=[numeric.arn],
            memory_size=settings.matcher_memory_size, timeout=10, service_name=name,
            # A new version downloads beside the one serving (184 MB each at 1M names).
            ephemeral_storage_mb=MATCHER_TMP_MB,
            provisioned_concurrency=settings.provisioned_concurrency,
            description="Matches names against the published entity index",
            environment={**environment, "MIN_SCORE": str(settings.min_score),
                         "RERANK": str(settings.rerank).lower()},
            statements=[iam.allow(["s3:GetObject"], indexes)],
        ), defaults, child)

        jwt = settings.auth.type == "jwt"
        authorization = RouteAuthorization.JWT if jwt else RouteAuthorization.AWS_IAM
        self.api = HttpApi(name, HttpApiArgs(
            description="Entity resolution: closest reference entities for a name",
            jwt=JwtAuthorizerArgs(issuer=settings.auth.issuer or "",
                                  audience=settings.auth.audience) if jwt else None,
            routes=[LambdaRoute(route, self.matcher.target_arn, self.matcher.invoke_arn,
                                authorization=authorization)
                    for route in ("GET /match", "POST /match")],
            throttling_rate_limit=settings.throttling_rate_limit,
            throttling_burst_limit=settings.throttling_burst_limit,
            domain=settings.domain.api_domain() if settings.domain else None,
        ), defaults, child)

        self.exports = {
            "apiEndpoint": self.api.api_endpoint,
            **domain_exports(self.api.domain_target),
            "bucketName": self.bucket.name,
            "referencePrefix": REFERENCE_PREFIX,
            "indexPrefix": INDEX_PREFIX,
        }
        self.register_outputs(self.exports)
