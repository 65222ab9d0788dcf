"""Local mode's stand-in for DNS: ``LocalAddresses`` (``tools/local/gateway.py``) mapping the
stack's public origins to the local fronts that serve them, in text (``to_local``), in a
request's ``Origin`` (``to_public``) and around a front (``serve``); and
``write_local_addresses`` (``tools/local/aws.py``) rewriting the bucket objects a deploy writes
(a web app's ``config.js``) in the embedded AWS so that they name the local fronts.

``LocalAddresses`` is driven with ``Request``s and ``Reply``s built here, without servers;
``write_local_addresses`` runs against one embedded AWS holding a small program of the test's
own.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator

import pulumi
import pulumi_aws as aws
import pytest

from tests.support import REGION
from tools.local.aws import (
    BUCKET_OBJECT,
    EmbeddedAws,
    create_resources,
    write_local_addresses,
)
from tools.local.gateway import LocalAddresses, Reply, Request
from tools.mock_runtime import StackConfig, StackRun, reveal, run_program

API = "https://abc123.execute-api.eu-west-1.amazonaws.com"
API_LOCAL = "http://127.0.0.1:4001"
SITE = "https://events.example.com"  # a distribution's alias ...
SITE_DOMAIN = "https://d111abcdef8.cloudfront.net"  # ... and its own domain
SITE_LOCAL = "http://127.0.0.1:4002"
COGNITO = f"https://cognito-idp.{REGION}.amazonaws.com"
AWS_LOCAL = "http://127.0.0.1:5000"


def addresses() -> LocalAddresses:
    """As local mode fills them: Cognito at the embedded AWS, then an API, then a distribution
    served at its alias and its ``cloudfront.net`` domain."""
    found = LocalAddresses()
    found.add(AWS_LOCAL, COGNITO)
    found.add(API_LOCAL, API)
    found.add(SITE_LOCAL + "/", SITE, SITE_DOMAIN)
    return found


# --- to_local ----------------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "expected"), [
    (API, API_LOCAL),
    (f"{API}/dev/x?next=1", f"{API_LOCAL}/dev/x?next=1"),
    (f'{{"apiUrl": "{API}/dev", "home": "{SITE}"}}',
     f'{{"apiUrl": "{API_LOCAL}/dev", "home": "{SITE_LOCAL}"}}'),
    (f"connect-src {API} {COGNITO}/;", f"connect-src {API_LOCAL} {AWS_LOCAL}/;"),
    (f"fetch('{API}/a'); fetch('{API}/b')", f"fetch('{API_LOCAL}/a'); fetch('{API_LOCAL}/b')"),
    (API.upper() + "/dev", API_LOCAL + "/dev"),
])
def test_to_local_rewrites_a_public_origin_where_its_host_ends(text: str,
                                                                expected: str) -> None:
    assert addresses().to_local(text) == expected


@pytest.mark.parametrize("text", [
    f"{API}.evil.net/dev",
    f"{API}x/dev",
    f"{API}-staging/dev",
    f"{API}_2",
    f'"{SITE}.attacker.example"',
    "http://abc123.execute-api.eu-west-1.amazonaws.com/dev",  # another scheme, another origin
    "https://xabc123.execute-api.eu-west-1.amazonaws.com",
    "no origin here at all",
])
def test_to_local_leaves_an_origin_that_only_starts_like_a_public_one(text: str) -> None:
    assert addresses().to_local(text) == text


def test_several_public_origins_are_served_at_one_local_origin() -> None:
    found = addresses()
    assert found.to_local(f"{SITE}/a {SITE_DOMAIN}/b") == f"{SITE_LOCAL}/a {SITE_LOCAL}/b"
    # A request from the local front is said to come from the first: the alias.
    assert found.to_public(SITE_LOCAL) == SITE


def test_a_public_origin_that_extends_another_keeps_its_own_local_origin() -> None:
    found = LocalAddresses()
    found.add("http://127.0.0.1:1", "https://app.example.com")
    found.add("http://127.0.0.1:2", "https://app.example.com:8443", "https://app.example.com.au")
    assert found.to_local("https://app.example.com:8443/x https://app.example.com/y "
                          "https://app.example.com.au/z") == \
        "http://127.0.0.1:2/x http://127.0.0.1:1/y http://127.0.0.1:2/z"


def test_to_local_before_any_origin_is_added_answers_the_text() -> None:
    assert LocalAddresses().to_local(f"{API}/dev") == f"{API}/dev"


def test_a_local_origin_without_public_origins_leaves_text_alone() -> None:
    found = LocalAddresses()
    found.add(AWS_LOCAL)
    assert found.to_local("window.CONFIG = {};") == "window.CONFIG = {};"


# --- to_public ---------------------------------------------------------------------------------

def test_to_public_answers_the_public_origin_a_local_one_serves() -> None:
    found = addresses()
    assert found.to_public(API_LOCAL) == API
    assert found.to_public(API_LOCAL + "/") == API
    assert found.to_public(AWS_LOCAL) == COGNITO
    for other in ("http://127.0.0.1:9999", "null", SITE, "https://elsewhere.example"):
        assert found.to_public(other) == other


def test_a_local_origin_keeps_the_public_origin_it_was_first_given() -> None:
    found = addresses()
    found.add(SITE_LOCAL, "https://www.example.com")
    assert found.to_public(SITE_LOCAL) == SITE
    assert found.to_local("https://www.example.com/x") == f"{SITE_LOCAL}/x"


# --- serve -------------------------------------------------------------------------------------

def served(request: Request, reply: Reply) -> tuple[Request, Reply]:
    """``reply`` as ``addresses().serve`` hands it back for ``request``, with the request its
    handler saw."""
    seen: list[Request] = []

    def handle(received: Request) -> Reply:
        seen.append(received)
        return reply

    answered = addresses().serve(handle)(request)
    (received,) = seen
    return received, answered


def test_a_request_from_a_local_front_names_the_public_origin_it_stands_for() -> None:
    request = Request("POST", "/dev/register", "x=1",
                      [("Host", "127.0.0.1:4001"), ("origin", SITE_LOCAL),
                       ("Referer", f"{SITE_LOCAL}/index.html"), ("Content-Type", "text/plain")],
                      b"from " + SITE_LOCAL.encode())
    received, _ = served(request, Reply(204))
    # Only the Origin header is translated; the rest of the request is as sent.
    assert received.headers == [("Host", "127.0.0.1:4001"), ("origin", SITE),
                                ("Referer", f"{SITE_LOCAL}/index.html"),
                                ("Content-Type", "text/plain")]
    assert (received.method, received.raw_path, received.query, received.body) == (
        request.method, request.raw_path, request.query, request.body)


def test_a_request_from_elsewhere_keeps_its_origin() -> None:
    for origin in ("http://127.0.0.1:9999", "https://elsewhere.example", "null"):
        received, _ = served(Request("GET", "/", "", [("Origin", origin)], b""), Reply(200))
        assert received.header("Origin") == origin


def test_reply_headers_name_the_local_origins_and_the_body_is_left_alone() -> None:
    body = json.dumps({"next": f"{API}/dev/profile", "site": SITE}).encode()
    policy = f"default-src 'self'; connect-src 'self' {API} {COGNITO}/"
    reply = Reply(302, [("Access-Control-Allow-Origin", SITE),
                        ("Content-Security-Policy", policy),
                        ("Location", f"{SITE_DOMAIN}/signed-in?from={API}"),
                        ("Vary", "Origin"),
                        ("Content-Type", "application/json")], body)
    _, answered = served(Request("GET", "/", "", [("Origin", SITE_LOCAL)], b""), reply)
    assert answered.status == 302
    assert answered.headers == [
        ("Access-Control-Allow-Origin", SITE_LOCAL),
        ("Content-Security-Policy",
         f"default-src 'self'; connect-src 'self' {API_LOCAL} {AWS_LOCAL}/"),
        ("Location", f"{SITE_LOCAL}/signed-in?from={API_LOCAL}"),
        ("Vary", "Origin"),
        ("Content-Type", "application/json")]
    assert answered.body == body


def test_the_handlers_cors_answer_for_the_public_origin_reaches_the_browser_as_local() -> None:
    """What ``serve`` is for: a CORS allowlist of the public site holds for the local one."""
    def handle(request: Request) -> Reply:
        allowed = request.header("Origin") == SITE
        return Reply(200, [("Access-Control-Allow-Origin", SITE)] if allowed else [])

    answered = addresses().serve(handle)(
        Request("OPTIONS", "/dev/x", "", [("Origin", SITE_LOCAL)], b""))
    assert answered.headers == [("Access-Control-Allow-Origin", SITE_LOCAL)]


# --- write_local_addresses ---------------------------------------------------------------------

def site_program() -> None:
    """An HTTP API and a site bucket: a ``config.js`` written from the API's endpoint, a file
    that names no public origin (only a look-alike), and an asset that names the API."""
    provider = aws.Provider("provider", region=REGION)
    opts = pulumi.ResourceOptions(provider=provider)
    api = aws.apigatewayv2.Api("api", protocol_type="HTTP", opts=opts)
    site = aws.s3.Bucket("site", opts=opts)
    aws.s3.BucketObjectv2(
        "site-config", bucket=site.bucket, key="config.js",
        content=api.api_endpoint.apply(lambda url: "window.CONFIG = " + json.dumps(
            {"apiUrl": f"{url}/dev", "region": REGION}) + ";"),
        content_type="text/javascript; charset=utf-8", cache_control="no-cache",
        content_disposition="inline", metadata={"built-by": "plan"},
        server_side_encryption="AES256", opts=opts)
    aws.s3.BucketObjectv2(
        "site-links", bucket=site.bucket, key="links.js",
        content=api.api_endpoint.apply(lambda url: f"// not ours: {url}.evil.net"),
        content_type="text/javascript", opts=opts)
    aws.s3.BucketObjectv2(
        "site-page", bucket=site.bucket, key="page.html",
        source=api.api_endpoint.apply(lambda url: pulumi.StringAsset(f"<a href='{url}'>")),
        content_type="text/html", opts=opts)


@pytest.fixture(scope="module")
def site() -> StackRun:
    return run_program(site_program, config=StackConfig({"aws:region": REGION}, ()))


@pytest.fixture(scope="module")
def embedded(site: StackRun) -> Iterator[EmbeddedAws]:
    with EmbeddedAws.for_plan(site, port=0) as started:
        create_resources(site, started)
        yield started


@pytest.fixture(scope="module")
def public_api(site: StackRun) -> str:
    return str(site.one("aws:apigatewayv2/api:Api", "api").state["apiEndpoint"])


@pytest.fixture(scope="module")
def bucket(site: StackRun) -> str:
    return str(site.one("aws:s3/bucket:Bucket", "site").state["bucket"])


@pytest.fixture(scope="module")
def to_local(public_api: str) -> Callable[[str], str]:
    """The API served at ``API_LOCAL``, as local mode would bind it."""
    found = LocalAddresses()
    found.add(API_LOCAL, public_api)
    return found.to_local


def read(embedded: EmbeddedAws, bucket: str, key: str) -> bytes:
    return bytes(embedded.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read())


def config_js(api_origin: str) -> bytes:
    return f'window.CONFIG = {{"apiUrl": "{api_origin}/dev", "region": "{REGION}"}};'.encode()


def test_an_object_naming_a_public_origin_is_rewritten_and_listed(
        site: StackRun, embedded: EmbeddedAws, bucket: str, public_api: str,
        to_local: Callable[[str], str]) -> None:
    assert public_api.startswith("https://")
    assert read(embedded, bucket, "config.js") == config_js(public_api)  # as deployed
    assert write_local_addresses(site, embedded, to_local) == [f"{bucket}/config.js"]
    assert read(embedded, bucket, "config.js") == config_js(API_LOCAL)


def test_objects_naming_no_public_origin_are_not_written(
        site: StackRun, embedded: EmbeddedAws, bucket: str, public_api: str,
        to_local: Callable[[str], str]) -> None:
    s3 = embedded.client("s3")
    # Marked since the deploy wrote them: a write would put the plan's content back.
    for key in ("links.js", "page.html"):
        s3.put_object(Bucket=bucket, Key=key, Body=b"marked")
    written = write_local_addresses(site, embedded, to_local)
    assert written == [f"{bucket}/config.js"]
    # links.js names only a look-alike host; page.html names the API, but in an asset, not
    # in ``content``: only what a deploy writes from the stack's outputs is rewritten.
    assert read(embedded, bucket, "links.js") == b"marked"
    assert read(embedded, bucket, "page.html") == b"marked"
    assert public_api in reveal(site.one(BUCKET_OBJECT, "site-page").inputs["source"]).text


def test_nothing_is_written_when_no_origin_is_local(site: StackRun,
                                                     embedded: EmbeddedAws) -> None:
    assert write_local_addresses(site, embedded, lambda text: text) == []


def test_a_rewritten_object_keeps_its_content_type_and_settings(
        site: StackRun, embedded: EmbeddedAws, bucket: str,
        to_local: Callable[[str], str]) -> None:
    write_local_addresses(site, embedded, to_local)
    got = embedded.client("s3").head_object(Bucket=bucket, Key="config.js")
    assert (got["ContentType"], got["CacheControl"], got["ContentDisposition"],
            got["Metadata"], got["ServerSideEncryption"]) == (
        "text/javascript; charset=utf-8", "no-cache", "inline", {"built-by": "plan"}, "AES256")
    assert got["ContentLength"] == len(config_js(API_LOCAL))
