"""The shared CORS helper: the allow-origin decision, and the Powertools config built from it."""

from __future__ import annotations

import pytest
from blueprints_common.cors import allowed_origin, cors_config, vary_on_origin

APP = "https://app.example.com"
LOCAL = "http://localhost:3000"
EVIL = "https://evil.example.net"


@pytest.mark.parametrize(("request_origin", "expected"), [
    (APP, APP),
    (LOCAL, LOCAL),
    (EVIL, None),
    (None, None),
    ("", None),
    ("null", None),
    ("https://app.example.com.evil.example.net", None),
    ("http://app.example.com", None),
])
def test_allowed_origin_echoes_only_listed_origins(request_origin: str | None,
                                                   expected: str | None) -> None:
    assert allowed_origin(request_origin, [APP, LOCAL]) == expected


def test_allow_list_is_normalised_like_browser_origins() -> None:
    assert allowed_origin(APP, [" HTTPS://App.Example.com/ "]) == APP


def test_any_origin_only_with_the_opt_in() -> None:
    assert allowed_origin(EVIL, ["*"]) is None
    assert allowed_origin(EVIL, [APP, "*"]) is None
    assert allowed_origin(EVIL, [APP], allow_any=True) == "*"
    # A listed origin is still echoed, and a request without an Origin needs no header.
    assert allowed_origin(APP, [APP], allow_any=True) == APP
    assert allowed_origin(None, [APP], allow_any=True) is None


def test_config_answers_an_allowed_origin_with_that_origin() -> None:
    config = cors_config(environ={"ALLOWED_ORIGINS": f"{APP}, {LOCAL}"})

    assert config is not None
    for origin in (APP, LOCAL):
        assert config.allowed_origin(origin) == origin
        assert config.to_dict(origin)["Access-Control-Allow-Origin"] == origin


def test_config_gives_a_disallowed_origin_or_no_origin_nothing() -> None:
    config = cors_config(environ={"ALLOWED_ORIGINS": APP})

    assert config is not None
    assert config.allowed_origin(EVIL) is None
    assert config.to_dict(EVIL) == {}
    assert config.to_dict(None) == {}


def test_no_allowed_origin_means_no_cors_at_all() -> None:
    # Powertools' own CORSConfig() would allow '*'; the helper never falls back to it.
    assert cors_config(environ={}) is None
    assert cors_config(environ={"ALLOWED_ORIGINS": " , "}) is None


def test_config_any_origin_only_with_the_opt_in() -> None:
    config = cors_config(environ={"ALLOWED_ORIGINS": APP, "ALLOW_ANY_ORIGIN": "true"})

    assert config is not None
    assert config.allowed_origin(EVIL) == "*"
    assert config.to_dict("*")["Access-Control-Allow-Origin"] == "*"
    assert config.allowed_origin(APP) == APP
    any_only = cors_config(environ={"ALLOW_ANY_ORIGIN": "TRUE"})
    assert any_only is not None
    assert any_only.allowed_origin(EVIL) == "*"


def test_a_star_in_the_allow_list_is_refused() -> None:
    with pytest.raises(ValueError, match="ALLOW_ANY_ORIGIN=true"):
        cors_config(environ={"ALLOWED_ORIGINS": "*"})


def test_headers_max_age_and_credentials_come_from_the_environment() -> None:
    config = cors_config(environ={"ALLOWED_ORIGINS": APP, "CORS_ALLOW_HEADERS": "X-Request-Id",
                                  "CORS_EXPOSE_HEADERS": "Location", "CORS_MAX_AGE": "600",
                                  "CORS_ALLOW_CREDENTIALS": "true"})

    assert config is not None
    headers = config.to_dict(APP)
    assert "X-Request-Id" in headers["Access-Control-Allow-Headers"].split(",")
    assert headers["Access-Control-Expose-Headers"] == "Location"
    assert headers["Access-Control-Max-Age"] == "600"
    assert headers["Access-Control-Allow-Credentials"] == "true"


def test_arguments_override_the_environment() -> None:
    config = cors_config([LOCAL], allow_credentials=False, max_age=5,
                         environ={"ALLOWED_ORIGINS": APP, "CORS_ALLOW_CREDENTIALS": "true"})

    assert config is not None
    assert config.allowed_origin(APP) is None
    headers = config.to_dict(LOCAL)
    assert "Access-Control-Allow-Credentials" not in headers
    assert headers["Access-Control-Max-Age"] == "5"


def test_environment_is_read_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALLOWED_ORIGINS", APP)

    config = cors_config()

    assert config is not None
    assert config.allowed_origin(APP) == APP


@pytest.mark.parametrize(("environ", "problem"), [
    ({"ALLOWED_ORIGINS": "https://app.example.com/path"}, "is not an origin"),
    ({"ALLOWED_ORIGINS": "app.example.com"}, "is not an origin"),
    ({"ALLOWED_ORIGINS": "ftp://app.example.com"}, "is not an origin"),
    ({"ALLOWED_ORIGINS": "null"}, "is not an origin"),
    ({"ALLOWED_ORIGINS": APP, "ALLOW_ANY_ORIGIN": "yes"}, "is not true or false"),
    ({"ALLOWED_ORIGINS": APP, "CORS_ALLOW_HEADERS": "*"}, "is not a header name"),
    ({"ALLOWED_ORIGINS": APP, "CORS_EXPOSE_HEADERS": "Bad Header"}, "is not a header name"),
    ({"ALLOWED_ORIGINS": APP, "CORS_MAX_AGE": "soon"}, "whole number"),
    ({"ALLOWED_ORIGINS": APP, "CORS_MAX_AGE": "-1"}, "outside"),
    ({"ALLOW_ANY_ORIGIN": "true", "CORS_ALLOW_CREDENTIALS": "true"}, "cannot be combined"),
])
def test_invalid_settings_are_refused(environ: dict[str, str], problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        cors_config(environ=environ)


def test_vary_origin_is_added_to_either_header_shape() -> None:
    multi = vary_on_origin({"statusCode": 200, "multiValueHeaders": {"Content-Type": ["x"]}})
    single = vary_on_origin({"statusCode": 200, "headers": {"vary": "Accept-Encoding"}})
    bare = vary_on_origin({"statusCode": 200})
    already = vary_on_origin({"statusCode": 200, "multiValueHeaders": {"Vary": ["Origin"]}})

    assert multi["multiValueHeaders"]["Vary"] == ["Origin"]
    assert single["headers"]["vary"] == "Accept-Encoding, Origin"
    assert bare["headers"] == {"Vary": "Origin"}
    assert already["multiValueHeaders"]["Vary"] == ["Origin"]
