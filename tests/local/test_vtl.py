"""API Gateway's VTL: the project's own templates, and the constructs mapping templates use."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qsl

import pytest

from components.foundation.rest_api import allow_origin_template
from components.services.async_analytics import ACCEPTED_TEMPLATE, SEND_TEMPLATE
from tools.local.vtl import MappingInput, MappingUtil, VtlError, json_path, render

ALLOWED = "https://app.dev.example.com"


def preflight(headers: dict[str, str], origins: tuple[str, ...] = (ALLOWED,)
              ) -> tuple[str, dict[str, Any]]:
    """Renders the CORS integration-response template as the REST API front does."""
    context: dict[str, Any] = {"responseOverride": {"header": {}, "status": None}}
    out = render(allow_origin_template(origins), {
        "context": context, "input": MappingInput("", {"header": headers})})
    return out, context["responseOverride"]["header"]


@pytest.mark.parametrize("header", ["Origin", "origin"])
def test_the_cors_template_allows_a_listed_origin_whatever_the_header_case(header: str) -> None:
    out, headers = preflight({header: ALLOWED})
    assert headers == {"Access-Control-Allow-Origin": ALLOWED}
    # Every line holds only directives, so the body is empty, as in API Gateway.
    assert out == ""


@pytest.mark.parametrize("headers", [{"Origin": "https://evil.example.com"}, {}])
def test_the_cors_template_sends_no_allow_origin_for_another_origin_or_none(
        headers: dict[str, str]) -> None:
    assert preflight(headers) == ("", {})


def test_the_cors_template_with_several_origins_picks_the_one_sent() -> None:
    origins = (ALLOWED, "https://admin.dev.example.com")
    assert preflight({"Origin": origins[1]}, origins)[1] == {
        "Access-Control-Allow-Origin": origins[1]}


def test_references_quiet_braced_and_undefined() -> None:
    variables = {"name": "unicorn", "empty": None, "map": {"a-b": {"c": 1}}}
    assert render("$name ${name}s $!missing|$missing|$!{missing}", variables) == (
        "unicorn unicorns |$missing|")
    # Velocity 1.7 names may hold hyphens, as API Gateway's override headers do.
    assert render("$map.a-b.c", variables) == "1"
    assert render(r"\$name costs \#5 $", variables) == "$name costs #5 $"


def test_set_if_elseif_else_and_null_assignments() -> None:
    template = ("#set($n = $count * 2)#if($n > 10)big#elseif($n == 10)ten#else small#end"
                "#set($n = $nothing)|$n")
    assert render(template, {"count": 5}) == "ten|10"
    assert render(template, {"count": 6}) == "big|12"
    assert render(template, {"count": 1}) == " small|2"
    # A condition is false only for null and false (Velocity 1.7): "" is true.
    assert render('#if("")yes#end#if($missing)no#end#if(!$missing)none#end', {}) == "yesnone"


def test_operators_follow_java() -> None:
    assert render("$x", {"x": -7}) == "-7"
    assert render("#set($q = -7 / 2)#set($r = 7 % 3)$q $r", {}) == "-3 1"
    assert render("#set($f = 1.5 * 2)$f", {}) == "3.0"
    assert render('#if($a == "1" && $b eq "x" or false)ok#end', {"a": 1, "b": "x"}) == "ok"
    assert render("#if(not ($a < 2))ge#end", {"a": 2}) == "ge"


def test_foreach_over_parameters_builds_json() -> None:
    template = "\n".join([
        "#set($all = $input.params())",
        "{",
        "#foreach($type in $all.keySet())",
        '  "$type": {',
        "  #foreach($name in $all.get($type).keySet())",
        '    "$name": "$util.escapeJavaScript($all.get($type).get($name))"'
        "#if($foreach.hasNext),#end",
        "  #end",
        "  }#if($foreach.hasNext),#end",
        "#end",
        "}",
    ])
    parameters = {"path": {"id": "7"}, "querystring": {"q": 'say "hi"', "n": "1"},
                  "header": {}}
    out = render(template, {"input": MappingInput("", parameters), "util": MappingUtil()})
    assert json.loads(out) == {"path": {"id": "7"}, "querystring": {"q": 'say "hi"', "n": "1"},
                               "header": {}}


def test_input_body_json_path_and_params() -> None:
    body = json.dumps({"items": [{"name": "sock", "size": 9}], "note": None})
    mapping = MappingInput(body, {"path": {"id": "p"}, "querystring": {"id": "q", "x": "1"},
                                  "header": {"X-Trace": "t"}})
    variables = {"input": mapping}
    # Compact, as API Gateway's Java serializer writes it.
    assert render("$input.json('$.items[0]')", variables) == '{"name":"sock","size":9}'
    assert render("$input.path('$.items[0].size')", variables) == "9"
    assert render("$input.path('$.items[*].name')", variables) == "[sock]"
    assert render("$input.params('id') $input.params('x') $input.params('x-trace')",
                  variables) == "p 1 t"
    assert render("$input.body", variables) == body
    assert json_path({"a": {"b": [1, 2]}}, "$['a'].b[1]") == 2
    with pytest.raises(VtlError, match="only"):
        json_path({}, "$..name")


def test_input_json_of_nothing_is_an_empty_json_string() -> None:
    mapping = MappingInput(json.dumps({"a": {"b": 1}, "note": None, "text": "é/x"}), {})
    variables = {"input": mapping}
    # API Gateway writes "" (two quotes) where the path finds no value, not null or nothing.
    assert render("$input.json('$.missing')|$input.json('$.a.missing')|$input.json('$.note')",
                  variables) == '""|""|""'
    assert render("#if($input.json('$.missing') == '\"\"')absent#end", variables) == "absent"
    assert render("$input.json('$.text')", variables) == '"é/x"'
    assert render("$input.json('$')", variables) == '{"a":{"b":1},"note":null,"text":"é/x"}'


def test_double_quoted_strings_interpolate_references_set_from_single_quoted_ones() -> None:
    variables = {"input": MappingInput("", {"path": {"id": "AbC"}}), "util": MappingUtil()}
    template = ("#set($q = '\"')\n"
                "#set($s = \"{${q}id${q}:${q}$input.params('id').toLowerCase()${q}}\")\n$s")
    assert render(template, variables) == '{"id":"abc"}'


def test_the_jobs_send_template_renders_the_form_sqs_reads() -> None:
    """components/services/async_analytics.py's PUT /jobs/{jobId} -> SQS templates."""
    body = {"inputKey": "uploads/a b.csv", "analysis": "pca",
            "parameters": {"nComponents": 2}}
    variables = {"input": MappingInput(json.dumps(body), {
        "path": {"jobId": "ABCD-ef"}, "querystring": {}, "header": {}}),
                 "context": {"requestTimeEpoch": 1767225600123}, "util": MappingUtil()}
    out = render(SEND_TEMPLATE, variables)
    assert out.startswith("Action=SendMessage&MessageBody=%7B%22jobId%22%3A%22abcd-ef%22")
    form = dict(parse_qsl(out, keep_blank_values=True))
    assert form.keys() == {"Action", "MessageBody"}
    assert form["MessageBody"] == (
        '{"jobId":"abcd-ef","inputKey":"uploads/a b.csv","analysis":"pca",'
        '"parameters":{"nComponents":2},"submittedAt":1767225600123}')
    assert json.loads(render(ACCEPTED_TEMPLATE, variables)) == {"jobId": "abcd-ef",
                                                                "status": "QUEUED"}


def test_util_escapes_as_api_gateway_does() -> None:
    util = {"util": MappingUtil()}
    assert render("$util.escapeJavaScript($s)", {**util, "s": "it's \"x\"/é\n"}) == (
        "it\\'s \\\"x\\\"\\/\\u00E9\\n")
    assert render("$util.urlEncode($s)|$util.urlDecode('a+b%7E')", {**util, "s": "a b~*"}) == (
        "a+b%7E*|a b~")
    assert render("$util.base64Decode($util.base64Encode('hé'))", util) == "hé"
    assert render("$util.parseJson('{\"a\": [1]}').a.get(0)", util) == "1"


def test_string_and_map_methods() -> None:
    variables = {"s": " Mixed Case ", "m": {"k": "v"}}
    assert render("$s.trim().toLowerCase().replaceAll('(\\w+) (\\w+)', '$2-$1')",
                  variables) == "case-mixed"
    assert render("$s.length() $s.contains('Case') $m.containsKey('k') $m.size()",
                  variables) == "12 true true 1"
    assert render("#set($ignored = $m.put('n', 'w'))$m", variables) == "{k=v, n=w}"
    assert render("$s.split(' ')", {"s": "a b  "}) == "[a, b]"


def test_lines_of_directives_and_comments_write_nothing() -> None:
    template = "a\n  #set($x = 1)\n## a comment\n#* block *#b$x\n#if(true)\nc\n#end\nd"
    assert render(template, {}) == "a\nb1\nc\nd"
    assert render("#[[#set($not = 1) $raw]]#", {}) == "#set($not = 1) $raw"


@pytest.mark.parametrize(("template", "message"), [
    ("#macro(x)#end", "#macro is not emulated"),
    ("#if(true)never closed", "missing #end"),
    ("$s.codePointAt(0)", "codePointAt"),
    ("#set($x = )", "line 1, column 11: expected a value"),
    ("$input.bodyHash()", r"\$input.bodyHash\(\) is not emulated"),
])
def test_unsupported_or_broken_templates_are_refused_by_name(template: str,
                                                            message: str) -> None:
    with pytest.raises(VtlError, match=message):
        render(template, {"s": "x", "input": MappingInput("", {})})
