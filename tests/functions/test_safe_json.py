"""``blueprints_common.safe_json``: JSON from clients, parsed without recursion errors."""

from __future__ import annotations

import json

import pytest
from blueprints_common import safe_json

DEEP_ARRAY = "[" * 100_000 + "]" * 100_000
DEEP = [DEEP_ARRAY, '{"a":' * 1000 + "1" + "}" * 1000, "[" * 65 + "]" * 65]


@pytest.mark.parametrize("text", DEEP, ids=["100k arrays", "1000 objects", "65 arrays"])
def test_deep_json_is_refused_without_recursion(text: str) -> None:
    with pytest.raises(safe_json.InvalidJsonError, match="nests more than 64 levels"):
        safe_json.loads(text)


@pytest.mark.parametrize("text", ["NaN", "[Infinity]", '{"k": -Infinity}', "1" * 5000, "",
                                  "{'a': 1}", "[1,]", b"\xff\xfe"])
def test_what_json_does_not_allow_is_refused(text: str | bytes) -> None:
    with pytest.raises(safe_json.InvalidJsonError, match="not valid JSON"):
        safe_json.loads(text)


def test_json_within_the_limits_is_parsed() -> None:
    assert safe_json.loads("[" * 64 + "]" * 64) == json.loads("[" * 64 + "]" * 64)
    assert safe_json.loads('{"names": ["Acme"], "k": 3}') == {"names": ["Acme"], "k": 3}
    assert safe_json.loads("[[1], {\"a\": [2]}]", max_depth=3) == [[1], {"a": [2]}]
    with pytest.raises(safe_json.InvalidJsonError):
        safe_json.loads("[[1], {\"a\": [2]}]", max_depth=2)
    assert not safe_json.depth_exceeds([[{}]] * 10_000, 3)
