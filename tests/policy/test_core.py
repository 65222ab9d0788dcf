"""The framework's reads: never raising, JSON strings and SDK proxies alike, unknowns kept."""

from __future__ import annotations

import json

from pulumi_policy.proxy import UNKNOWN_STRING_VALUE, unknown_checking_proxy

from policy.guardrails.core import UNKNOWN, Props, documents, statements, tls_only

TLS_DENY = {"Effect": "Deny", "Principal": {"AWS": "*"}, "Action": "sqs:*",
            "Resource": "arn:aws:sqs:eu-west-1:111122223333:q",
            "Condition": {"Bool": {"aws:SecureTransport": "false"}}}


def proxied(value: object) -> Props:
    return Props(unknown_checking_proxy({"value": value}))


def test_reads_never_raise_and_say_missing_or_unknown() -> None:
    props = Props(unknown_checking_proxy({
        "a": {"b": [1, UNKNOWN_STRING_VALUE]}, "s": "text", "u": UNKNOWN_STRING_VALUE}))
    assert props.get("a", "b", 0) == 1
    assert props.get("a", "b", 1) is UNKNOWN
    assert props.get("a", "b", 5) is None
    assert props.get("s", "x") is None
    assert props.get("u", "x") is UNKNOWN
    assert props.get("missing", "deeper") is None


def test_json_strings_parse_and_broken_ones_read_as_none() -> None:
    assert Props({"p": '{"k": [1]}'}).json("p") == {"k": [1]}
    assert Props({"p": '{"k": [1]}'}).sub("p").get("k", 0) == 1
    assert Props({"p": "{broken"}).json("p") is None


def test_elements_keep_unknown_members_and_unknown_lists() -> None:
    assert proxied([1, UNKNOWN_STRING_VALUE]).elements("value") == [1, UNKNOWN]
    assert proxied(UNKNOWN_STRING_VALUE).elements("value") is UNKNOWN
    assert proxied(UNKNOWN_STRING_VALUE).items("value") == []
    assert proxied("[1, 2]").elements("value") == [1, 2]
    assert proxied({"not": "a list"}).elements("value") == []


def test_policy_documents_read_alike_as_json_or_as_proxied_objects() -> None:
    document = {"Version": "2012-10-17", "Statement": [TLS_DENY]}
    for value in (json.dumps(document), unknown_checking_proxy(document)):
        assert list(documents(value)) == [TLS_DENY]
        assert statements(value) == [TLS_DENY]
        assert tls_only(value, {"sqs:*"}) is True
    single = unknown_checking_proxy({"Statement": TLS_DENY})
    assert statements(single) == [TLS_DENY]


def test_tls_only_tells_false_from_not_known_yet() -> None:
    allow = {**TLS_DENY, "Effect": "Allow"}
    assert tls_only(json.dumps({"Statement": [allow]}), {"sqs:*"}) is False
    assert tls_only(UNKNOWN_STRING_VALUE, {"sqs:*"}) is UNKNOWN
    partly = unknown_checking_proxy({"Statement": [allow, UNKNOWN_STRING_VALUE]})
    assert tls_only(partly, {"sqs:*"}) is UNKNOWN
    assert tls_only("{not json", {"sqs:*"}) is False
