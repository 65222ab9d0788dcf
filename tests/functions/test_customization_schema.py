"""The CustomizationPost model (JSON schema draft 4) that the API and the backend share.

Checked with the ``jsonschema`` library, independent of the fastjsonschema engine Powertools
uses in the function, with the security post's good and bad payloads.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft4Validator

from tests.functions.events import GOOD, SQL_INJECTION

SCHEMA_PATH = Path(__file__).parents[2] / "functions" / "customizations" / \
    "customization.schema.json"
SCHEMA = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
VALIDATOR = Draft4Validator(SCHEMA)

PARTS = ("sock", "horn", "glasses", "cape")


def errors(payload: Any) -> list[str]:
    return [error.message for error in VALIDATOR.iter_errors(payload)]


def test_schema_is_a_valid_draft_4_schema() -> None:
    Draft4Validator.check_schema(SCHEMA)
    assert SCHEMA["$schema"] == "http://json-schema.org/draft-04/schema#"
    assert SCHEMA["title"] == "CustomizationPost"
    assert SCHEMA["additionalProperties"] is False
    assert set(SCHEMA["required"]) == {"name", "imageUrl", *PARTS}


def test_the_posts_good_payload_passes() -> None:
    assert errors(GOOD) == []


@pytest.mark.parametrize("url", [
    "http://example.com/unicorn.png",
    "https://example.com:8443/a/b?c=d&e=f#g",
    "https://user@example.com/~unicorn/%20cape+1.png",
])
def test_http_and_https_urls_pass(url: str) -> None:
    assert errors({**GOOD, "imageUrl": url}) == []


@pytest.mark.parametrize("url", [
    # The post's bad request: not a valid URL.
    "htt://en.wikipedia.org/wiki/Cherry#/media/File:Cherry_Stella444.jpg",
    "ftp://example.com/unicorn.png",
    "javascript:alert(1)",
    "https://example.com/<script>",
    "https://example.com/a b",
    "https://",
    "",
    "https://example.com/" + "a" * 2048,
])
def test_bad_image_urls_fail(url: str) -> None:
    assert errors({**GOOD, "imageUrl": url})


def test_the_posts_sql_injection_cape_fails() -> None:
    assert errors({**GOOD, "name": "Orange-themed unicorn", "cape": SQL_INJECTION})


@pytest.mark.parametrize("part", PARTS)
@pytest.mark.parametrize("value", ["", "1a", "-1", "1.5", " 1", "1234567890", 1, None, ["1"]])
def test_parts_are_strings_of_digits(part: str, value: Any) -> None:
    assert errors({**GOOD, part: value})


@pytest.mark.parametrize("field", ["name", "imageUrl", *PARTS])
def test_every_field_is_required(field: str) -> None:
    payload = {key: value for key, value in GOOD.items() if key != field}

    assert errors(payload) == [f"'{field}' is a required property"]


def test_extra_fields_fail() -> None:
    assert errors({**GOOD, "price": "10000.00"})


@pytest.mark.parametrize("name", ["", "x" * 101, 7, None])
def test_name_is_a_string_of_1_to_100_characters(name: Any) -> None:
    assert errors({**GOOD, "name": name})


def test_name_of_100_characters_passes() -> None:
    assert errors({**GOOD, "name": "x" * 100}) == []


@pytest.mark.parametrize("payload", [[], "text", 1, None, [GOOD]])
def test_body_must_be_an_object(payload: Any) -> None:
    assert errors(payload)
