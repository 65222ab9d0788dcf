"""The shared CORS settings: one CorsArgs and one set of rules for the REST and HTTP blocks."""

from __future__ import annotations

from dataclasses import replace

import pytest

from components.foundation import cors, http_api
from components.foundation.cors import CorsArgs, cors_problems

CORS = CorsArgs(allow_origins=("https://app.example.com", "https://admin.example.com"),
                allow_methods=("GET", "POST"))


def test_the_http_block_reexports_the_shared_settings() -> None:
    assert http_api.CorsArgs is cors.CorsArgs
    assert http_api.HTTPS_ORIGIN is cors.HTTPS_ORIGIN
    assert http_api.HTTP_METHODS == cors.HTTP_METHODS


def test_least_privilege_settings_have_no_problems() -> None:
    assert cors_problems(CORS) == []
    assert cors_problems(replace(CORS, allow_credentials=True,
                                 expose_headers=("x-request-id",))) == []


def test_defaults_name_headers_and_keep_credentials_off() -> None:
    assert CORS.allow_headers == ("authorization", "content-type")
    assert CORS.expose_headers == ()
    assert CORS.max_age == 300
    assert CORS.allow_credentials is False
    assert CORS.allow_any_origin is False


def test_named_origins_drop_the_wildcard_and_duplicates() -> None:
    args = replace(CORS, allow_origins=("*", "https://b.example.com", "https://b.example.com"),
                   allow_any_origin=True)

    assert args.any_origin is True
    assert args.named_origins == ["https://b.example.com"]
    assert CORS.any_origin is False


def test_the_argument_name_prefixes_every_problem() -> None:
    problems = cors_problems(replace(CORS, allow_origins=("http://app.example.com",)),
                             argument="api.cors")

    assert problems == ["api.cors.allow_origins: 'http://app.example.com' is not an https "
                        "origin in lower case with no path (https://app.example.com)"]


@pytest.mark.parametrize(("overrides", "expected"), [
    ({"allow_origins": ("*",)},
     "cors.allow_origins: '*' lets any web site call the API; name the origins, or set "
     "allow_any_origin=True to accept it"),
    ({"allow_origins": ("*",), "allow_any_origin": True, "allow_credentials": True},
     "cors.allow_origins: '*' cannot be combined with allow_credentials; name the origins"),
    ({"allow_headers": ("*",)}, "cors.allow_headers: '*' is not allowed; name each header"),
    ({"max_age": -1}, "cors.max_age: -1 is outside 0..86400 seconds"),
    ({"allow_methods": ()}, "cors.allow_methods: name at least one method"),
])
def test_each_rule_names_its_field(overrides: dict[str, object], expected: str) -> None:
    assert cors_problems(replace(CORS, **overrides)) == [expected]


def test_any_origin_with_opt_in_is_accepted() -> None:
    assert cors_problems(replace(CORS, allow_origins=("*",), allow_any_origin=True)) == []
