"""The cache-aside library against a real Valkey server (``tests.valkey``): hits, misses,
TTLs, invalidation, the breaker when the server stops mid-test, the IAM token, the client's
TLS and timeout settings, and the DAX fallback."""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import valkey
from botocore.credentials import ReadOnlyCredentials  # type: ignore[import-untyped]
from cache_aside import keys
from cache_aside.auth import IamCredentialProvider, iam_auth_token
from cache_aside.cache import Cache, CacheUnavailableError, client
from cache_aside.dax import ProfileStore
from cache_aside.settings import CacheSettings

from tests import valkey as servers
from tests.valkey import ValkeyServer

# The real server, started once per session and emptied for each test.
valkey_server = servers.valkey_server
cache_server = servers.cache_server
CREDENTIALS = ReadOnlyCredentials("AKIAEXAMPLE", "secret", "session-token")


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def local(server: ValkeyServer, **extra: Any) -> CacheSettings:
    return CacheSettings(host=server.host, port=server.port, tls=False, auth="none", **extra)


def test_a_miss_loads_and_caches_then_a_hit_does_not_load(cache_server: ValkeyServer) -> None:
    cache = Cache(client(local(cache_server)))
    loads: list[str] = []

    def load() -> dict[str, Any]:
        loads.append("x")
        return {"accountId": "a-1", "balance": 120}

    first = cache.read("billing:a-1", 60, load)
    second = cache.read("billing:a-1", 60, load)

    assert (first.source, second.source) == ("store", "cache")
    assert first.value == second.value == {"accountId": "a-1", "balance": 120}
    assert loads == ["x"]
    ttl = valkey_ttl(cache_server, "billing:a-1")
    assert 55 <= ttl <= 60


def test_every_object_expires_after_its_ttl(cache_server: ValkeyServer) -> None:
    cache = Cache(client(local(cache_server)))
    assert cache.put("profile:p-1", {"name": "Ana"}, 1)
    assert cache.get("profile:p-1") == {"name": "Ana"}
    time.sleep(1.2)
    assert cache.get("profile:p-1") is None
    with pytest.raises(ValueError, match="TTL"):
        cache.put("profile:p-1", {"name": "Ana"}, 0)


def test_an_absent_object_is_not_cached(cache_server: ValkeyServer) -> None:
    cache = Cache(client(local(cache_server)))
    assert cache.read("profile:nobody", 60, lambda: None).value is None
    assert valkey_ttl(cache_server, "profile:nobody") == -2  # no such key


def test_drop_invalidates(cache_server: ValkeyServer) -> None:
    cache = Cache(client(local(cache_server)))
    cache.put("billing:a-1", {"balance": 1}, 60)
    assert cache.drop("billing:a-1")
    assert cache.read("billing:a-1", 60, lambda: {"balance": 2}).value == {"balance": 2}


def test_a_stopped_server_is_skipped_and_reads_fall_through(cache_server: ValkeyServer) -> None:
    clock = Clock()
    cache = Cache(client(local(cache_server, timeout_ms=200)), breaker_seconds=30, clock=clock)
    cache.put("billing:a-1", {"balance": 1}, 60)
    cache_server.stop()

    started = time.monotonic()
    first = cache.read("billing:a-1", 60, lambda: {"balance": 2})
    skipped = cache.read("billing:a-1", 60, lambda: {"balance": 3})
    elapsed = time.monotonic() - started

    assert (first.value, first.source) == ({"balance": 2}, "store-cache-down")
    assert (skipped.value, skipped.source) == ({"balance": 3}, "store-cache-down")
    assert cache.is_open
    assert elapsed < 2  # one short timeout, then no attempt at all
    cache_server.start()
    clock.now += 31  # the breaker closes: the cache is tried again
    assert cache.read("billing:a-1", 60, lambda: {"balance": 4}).source == "store"
    assert cache.read("billing:a-1", 60, lambda: {"balance": 5}).value == {"balance": 4}


def test_a_strict_cache_raises_when_the_server_is_down(cache_server: ValkeyServer) -> None:
    cache = Cache(client(local(cache_server)), breaker_seconds=0, strict=True)
    cache_server.stop()
    with pytest.raises(CacheUnavailableError, match="unlink"):
        cache.drop("billing:a-1")


def test_a_cached_value_that_is_not_json_is_a_miss(cache_server: ValkeyServer) -> None:
    raw = valkey_client(cache_server)
    raw.set("billing:a-1", b"\xff not json", ex=60)
    assert Cache(client(local(cache_server))).get("billing:a-1") is None


def test_the_iam_token_is_a_presigned_connect_for_the_user() -> None:
    token = iam_auth_token("microservice-cache", "cache-functions", "eu-west-1", CREDENTIALS)

    assert token.startswith("microservice-cache/?")
    query = parse_qs(urlsplit(f"http://{token}").query)
    assert query["Action"] == ["connect"]
    assert query["User"] == ["cache-functions"]
    assert query["ResourceType"] == ["ServerlessCache"]
    assert query["X-Amz-Algorithm"] == ["AWS4-HMAC-SHA256"]
    assert query["X-Amz-Expires"] == ["900"]
    assert query["X-Amz-Credential"][0].startswith("AKIAEXAMPLE/")
    assert query["X-Amz-Credential"][0].endswith("/eu-west-1/elasticache/aws4_request")
    assert query["X-Amz-Security-Token"] == ["session-token"]
    assert "ResourceType" not in iam_auth_token("group", "u", "eu-west-1", CREDENTIALS,
                                                serverless=False)


def test_the_provider_renews_its_token_before_it_expires() -> None:
    clock = Clock()
    provider = IamCredentialProvider("c", "u", "eu-west-1", lambda: CREDENTIALS, clock=clock)
    user, token = provider.get_credentials()
    assert user == "u"
    assert provider.get_credentials()[1] == token
    clock.now += 601
    time.sleep(1.1)  # SigV4 dates are to the second
    assert provider.get_credentials()[1] != token


def test_the_client_uses_tls_and_short_timeouts() -> None:
    settings = CacheSettings(host="cache.serverless.euw1.cache.amazonaws.com", user="u",
                             cache_name="c", timeout_ms=150)
    connection = client(settings, IamCredentialProvider("c", "u", "eu-west-1",
                                                        lambda: CREDENTIALS))
    options = connection.connection_pool.connection_kwargs
    assert connection.connection_pool.connection_class is valkey.SSLConnection
    assert options["ssl_cert_reqs"] == "required"
    assert options["ssl_check_hostname"] is True
    assert options["socket_timeout"] == options["socket_connect_timeout"] == 0.15
    assert isinstance(options["credential_provider"], IamCredentialProvider)


def test_settings_report_every_problem_by_variable() -> None:
    with pytest.raises(ValueError, match="CACHE_HOST is required") as raised:
        CacheSettings.from_environ({"CACHE_PORT": "0", "CACHE_TIMEOUT_MS": "99999"})
    message = str(raised.value)
    for name in ("CACHE_PORT", "CACHE_USER", "CACHE_NAME", "CACHE_TIMEOUT_MS"):
        assert name in message
    assert CacheSettings.from_environ({"CACHE_HOST": "h", "CACHE_AUTH": "none"}).tls is True


def test_keys_refuse_what_is_not_an_id() -> None:
    assert keys.billing_key("a-1") == "billing:a-1"
    for bad in ("", "a*", "a:b", "x" * 65, "a b"):
        with pytest.raises(ValueError, match="id"):
            keys.profile_key(bad)


class Table:
    name = "cache-profiles"

    def __init__(self, answer: str) -> None:
        self.answer = answer
        self.requests: list[dict[str, Any]] = []

    def get_item(self, **request: Any) -> dict[str, Any]:
        self.requests.append(request)
        return {"Item": {"profileId": self.answer}}


def test_profiles_go_through_dax_when_it_is_built() -> None:
    built: list[tuple[str, str, str]] = []
    dax = Table("from-dax")

    def build(endpoint: str, region: str, table: str) -> Table:
        built.append((endpoint, region, table))
        return dax

    store = ProfileStore(Table("from-dynamodb"), "daxs://cluster.abc.dax-clusters.eu-west-1."
                         "amazonaws.com", "eu-west-1", build)
    assert store.get_item(Key={"profileId": "p"})["Item"]["profileId"] == "from-dax"
    assert built == [("daxs://cluster.abc.dax-clusters.eu-west-1.amazonaws.com", "eu-west-1",
                      "cache-profiles")]
    assert store.through_dax


def test_profiles_fall_back_to_dynamodb_when_dax_cannot_be_built() -> None:
    def build(endpoint: str, region: str, table: str) -> Table:
        raise ConnectionError("no route")

    store = ProfileStore(Table("from-dynamodb"), "daxs://x", "eu-west-1", build)
    assert store.get_item(Key={"profileId": "p"})["Item"]["profileId"] == "from-dynamodb"
    assert not store.through_dax
    assert ProfileStore(Table("t"), None, "eu-west-1").get_item(Key={})["Item"]


def test_the_dax_client_is_built_from_the_endpoint(monkeypatch: pytest.MonkeyPatch) -> None:
    """The real DAX client connects when it is built, and no DAX runs here: it refuses an
    endpoint where nothing listens, which ``ProfileStore`` turns into DynamoDB reads."""
    pytest.importorskip("amazondax")
    from cache_aside.dax import dax_table

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with pytest.raises(Exception, match=r"NoRouteException|endpoints"):
        dax_table("daxs://127.0.0.1:1", "eu-west-1", "cache-profiles")
    store = ProfileStore(Table("from-dynamodb"), "daxs://127.0.0.1:1", "eu-west-1")
    assert store.get_item(Key={"profileId": "p"})["Item"]["profileId"] == "from-dynamodb"


def valkey_client(server: ValkeyServer) -> valkey.Valkey:
    return valkey.Valkey(host=server.host, port=server.port)


def valkey_ttl(server: ValkeyServer, key: str) -> int:
    return int(valkey_client(server).ttl(key))
