"""The Velocity Template Language (VTL) as API Gateway runs it in REST API mapping templates.

``render(template, variables)`` renders a template with ``variables`` (``$context``,
``$stageVariables``, ``$input``, ``$util``...). ``MappingInput`` and ``MappingUtil`` are API
Gateway's ``$input`` and ``$util`` objects. PyPI's ``airspeed`` was tried first and not taken:
it cannot parse the hyphenated names that Velocity 1.7, and so API Gateway, accept
(``#set($context.responseOverride.header.Access-Control-Allow-Origin = $origin)``).

What is rendered, as Velocity 1.7 (API Gateway's engine) does:

- references ``$a``, ``${a}``, quiet ``$!a`` and ``$!{a}``, with properties (``$a.b``: a map's
  entry, or an object's property), method calls (``$a.get("x")``) and indexes (``$a[0]``); a
  reference that resolves to nothing is written as it stands in the template, a quiet one as
  nothing. Names may hold ``-``, as Velocity 1.7 allows;
- ``#set`` (on a variable or a map entry; a ``null`` value leaves the target unchanged, as
  Velocity 1.7 does by default), ``#if``/``#elseif``/``#else``/``#end``, ``#foreach`` with
  ``$foreach.index``, ``$foreach.count``, ``$foreach.hasNext`` (and 1.7's ``$velocityCount``,
  ``$velocityHasNext``), ``##`` and ``#* *#`` comments, ``#[[ ]]#`` unparsed text, ``\\$`` and
  ``\\#`` escapes;
- expressions: string (double quotes are interpolated, single quotes are not), number, boolean,
  ``null``, list and map literals, ranges ``[1..3]``, ``== != < > <= >=`` (and ``eq ne lt gt le
  ge``), ``&& || !`` (and ``and or not``), ``+ - * / %`` on numbers (integer division on
  integers, as Java), parentheses; a condition is false only when ``null`` or ``false``;
- API Gateway's ``$input`` (``body``, ``json``, ``path``, ``params``) and ``$util``
  (``escapeJavaScript``, ``urlEncode``, ``urlDecode``, ``base64Encode``, ``base64Decode``,
  ``parseJson``); ``$input.json`` writes compact JSON, and ``""`` where the path finds nothing;
- the Java methods templates call on strings, maps and lists (``length``, ``equals``,
  ``toLowerCase``, ``contains``, ``replaceAll``, ``split``, ``get``, ``keySet``, ``containsKey``,
  ``size``, ``put``, ``add``...);
- whitespace: a line that holds only directives (and blanks) writes nothing, not even its line
  break, as Velocity's "lines" space gobbling does.

Not emulated, and refused with a ``VtlError`` that names it rather than rendered differently:
``#macro``, ``#parse``, ``#include``, ``#evaluate``, ``#define``, ``#break``, ``#stop``, method
calls this module does not know, and JSONPath beyond ``$``, ``.name``, ``['name']``, ``[n]`` and
``[*]`` (no filters, slices or ``..``).
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote_plus, unquote_plus

MAX_OUTPUT_CHARS = 10 * 1024 * 1024
_NAME_START = re.compile(r"[A-Za-z_]")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")
_NUMBER = re.compile(r"-?\d+(\.\d+)?")
_BLANK_TO_EOL = re.compile(r"[ \t]*(\r?\n|$)")
_SPACES = re.compile(r"\s*")
_DIRECTIVES = frozenset({"set", "if", "elseif", "else", "end", "foreach"})
_REFUSED_DIRECTIVES = frozenset({"macro", "parse", "include", "evaluate", "define", "break",
                                 "stop"})
_WORD_OPERATORS = {"eq": "==", "ne": "!=", "lt": "<", "gt": ">", "le": "<=", "ge": ">=",
                   "and": "&&", "or": "||", "not": "!"}


class VtlError(ValueError):
    """A template local mode cannot render as API Gateway would: a syntax error, or a construct
    that is not emulated, with where it is."""


class VtlObject:
    """An object a template may use: the properties and methods it lists, nothing else."""

    vtl_name = "object"
    vtl_properties: frozenset[str] = frozenset()
    vtl_methods: frozenset[str] = frozenset()


# --- the tree ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Access:
    kind: str  # "property", "call" or "index"
    name: str = ""
    arguments: tuple[Any, ...] = ()


@dataclass(frozen=True)
class _Reference:
    root: str
    accesses: tuple[_Access, ...]
    quiet: bool
    source: str


@dataclass(frozen=True)
class _Text:
    text: str


@dataclass(frozen=True)
class _Set:
    target: _Reference
    value: Any


@dataclass(frozen=True)
class _If:
    branches: tuple[tuple[Any, tuple[Any, ...]], ...]
    otherwise: tuple[Any, ...]


@dataclass(frozen=True)
class _Foreach:
    variable: str
    items: Any
    body: tuple[Any, ...]


@dataclass(frozen=True)
class _Literal:
    value: Any


@dataclass(frozen=True)
class _Interpolated:
    nodes: tuple[Any, ...]


@dataclass(frozen=True)
class _ListLiteral:
    items: tuple[Any, ...]


@dataclass(frozen=True)
class _MapLiteral:
    entries: tuple[tuple[Any, Any], ...]


@dataclass(frozen=True)
class _Range:
    start: Any
    stop: Any


@dataclass(frozen=True)
class _Unary:
    operator: str
    operand: Any


@dataclass(frozen=True)
class _Binary:
    operator: str
    left: Any
    right: Any


# --- parsing -----------------------------------------------------------------------------------

class _Parser:
    def __init__(self, source: str) -> None:
        self.source = source
        self.position = 0
        # Whether the current line has written nothing so far (only blanks and directives).
        self.line_blank = True

    def error(self, message: str, at: int | None = None) -> VtlError:
        at = self.position if at is None else at
        line = self.source.count("\n", 0, at) + 1
        column = at - (self.source.rfind("\n", 0, at) + 1) + 1
        return VtlError(f"line {line}, column {column}: {message}")

    # template text

    def template(self, closers: frozenset[str] = frozenset()) -> tuple[list[Any], str | None]:
        """Nodes up to one of ``closers`` (a directive name), which is consumed and answered."""
        nodes: list[Any] = []
        text: list[str] = []

        def flush() -> None:
            if text:
                self._emit_text(nodes, "".join(text))
                text.clear()

        source = self.source
        while self.position < len(source):
            char = source[self.position]
            if char == "\\" and source.startswith(("\\$", "\\#"), self.position):
                text.append(source[self.position + 1])
                self.position += 2
            elif char == "$" and self._reference_starts():
                flush()
                nodes.append(self.reference())
                self.line_blank = False
            elif char == "#":
                if source.startswith("##", self.position):
                    # As in Velocity 1.7, a line comment takes its line break with it.
                    end = source.find("\n", self.position)
                    self.position = len(source) if end < 0 else end + 1
                    continue
                if source.startswith("#*", self.position):
                    end = source.find("*#", self.position + 2)
                    if end < 0:
                        raise self.error("unclosed #* comment")
                    self.position = end + 2
                    continue
                if source.startswith("#[[", self.position):
                    end = source.find("]]#", self.position + 3)
                    if end < 0:
                        raise self.error("unclosed #[[ block")
                    text.append(source[self.position + 3:end])
                    self.position = end + 3
                    continue
                name = self._directive_name()
                if name is None:
                    text.append(char)
                    self.position += 1
                    continue
                flush()
                self._gobble_line_start(nodes)
                if name in closers:
                    self.position += len(name) + 1 + (2 if source[self.position + 1] == "{"
                                                      else 0)
                    if name == "elseif":
                        return nodes, name
                    self._gobble_line_end()
                    return nodes, name
                nodes.append(self.directive(name))
            else:
                text.append(char)
                self.position += 1
        flush()
        if closers:
            raise self.error(f"missing #end (expected one of #{', #'.join(sorted(closers))})")
        return nodes, None

    def _emit_text(self, nodes: list[Any], text: str) -> None:
        nodes.append(_Text(text))
        if "\n" in text:
            self.line_blank = text.rsplit("\n", 1)[1].strip() == ""
        elif text.strip():
            self.line_blank = False

    def _gobble_line_start(self, nodes: list[Any]) -> None:
        if self.line_blank and nodes and isinstance(nodes[-1], _Text):
            text = nodes[-1].text
            head, newline, tail = text.rpartition("\n")
            if not tail.strip():
                nodes[-1] = _Text(head + newline)

    def _gobble_line_end(self) -> None:
        if self.line_blank:
            match = _BLANK_TO_EOL.match(self.source, self.position)
            if match:
                self.position = match.end()

    def _reference_starts(self) -> bool:
        rest = self.source[self.position + 1:self.position + 3]
        if rest.startswith("!"):
            rest = rest[1:]
        return bool(rest) and (rest[0] == "{" or _NAME_START.match(rest[0]) is not None)

    def _directive_name(self) -> str | None:
        source = self.source
        braced = source.startswith("#{", self.position)
        match = _NAME.match(source, self.position + (2 if braced else 1))
        if match is None:
            return None
        name = match.group()
        if braced and not source.startswith("}", match.end()):
            return None
        if name in _REFUSED_DIRECTIVES:
            raise self.error(f"#{name} is not emulated by local mode")
        if name not in _DIRECTIVES:
            # Velocity matches the longest directive name: "#elseif" before "#else", and
            # "#end" inside "#endless" is text.
            return None
        return name

    def directive(self, name: str) -> Any:
        start = self.position
        self.position += len(name) + 1
        if self.source.startswith("{", start + 1):
            self.position += 2
        if name == "set":
            self._open_parenthesis(name)
            target = self.reference()
            self._expect("=")
            value = self.expression()
            self._close_parenthesis(name)
            self._gobble_line_end()
            return _Set(target, value)
        if name == "if":
            return self._if_block()
        if name == "foreach":
            self._open_parenthesis(name)
            self._skip_spaces()
            if not self.source.startswith("$", self.position):
                raise self.error("#foreach needs a $variable")
            variable = self.reference()
            if variable.accesses:
                raise self.error("#foreach needs a plain $variable")
            self._skip_spaces()
            if not self.source.startswith("in", self.position):
                raise self.error("#foreach needs `in`")
            self.position += 2
            items = self.expression()
            self._close_parenthesis(name)
            self._gobble_line_end()
            body, _ = self.template(frozenset({"end"}))
            return _Foreach(variable.root, items, tuple(body))
        raise self.error(f"#{name} without its opening directive", start)

    def _if_block(self) -> _If:
        branches = []
        self._open_parenthesis("if")
        condition = self.expression()
        self._close_parenthesis("if")
        self._gobble_line_end()
        while True:
            body, closer = self.template(frozenset({"elseif", "else", "end"}))
            branches.append((condition, tuple(body)))
            if closer == "elseif":
                self._open_parenthesis("elseif")
                condition = self.expression()
                self._close_parenthesis("elseif")
                self._gobble_line_end()
                continue
            if closer == "else":
                otherwise, _ = self.template(frozenset({"end"}))
                return _If(tuple(branches), tuple(otherwise))
            return _If(tuple(branches), ())

    def _open_parenthesis(self, name: str) -> None:
        self._skip_spaces()
        if not self.source.startswith("(", self.position):
            raise self.error(f"#{name} needs (")
        self.position += 1

    def _close_parenthesis(self, name: str) -> None:
        self._skip_spaces()
        if not self.source.startswith(")", self.position):
            raise self.error(f"#{name}: expected )")
        self.position += 1

    # references

    def reference(self) -> _Reference:
        start = self.position
        source = self.source
        if not source.startswith("$", start):
            raise self.error("expected a $reference")
        self.position += 1
        quiet = source.startswith("!", self.position)
        if quiet:
            self.position += 1
        braced = source.startswith("{", self.position)
        if braced:
            self.position += 1
        root = self._name()
        accesses = []
        while self.position < len(source):
            if source[self.position] == "." and _NAME_START.match(
                    source[self.position + 1:self.position + 2] or " "):
                self.position += 1
                name = self._name()
                if source.startswith("(", self.position):
                    self.position += 1
                    accesses.append(_Access("call", name, tuple(self._arguments(")"))))
                else:
                    accesses.append(_Access("property", name))
            elif source[self.position] == "[":
                self.position += 1
                index = self.expression()
                self._expect("]")
                accesses.append(_Access("index", arguments=(index,)))
            else:
                break
        if braced:
            if not source.startswith("}", self.position):
                raise self.error("expected } to close ${", start)
            self.position += 1
        return _Reference(root, tuple(accesses), quiet, source[start:self.position])

    def _name(self) -> str:
        match = _NAME.match(self.source, self.position)
        if match is None:
            raise self.error("expected a name")
        self.position = match.end()
        return match.group()

    def _arguments(self, closer: str) -> list[Any]:
        arguments: list[Any] = []
        self._skip_spaces()
        if self.source.startswith(closer, self.position):
            self.position += 1
            return arguments
        while True:
            arguments.append(self.expression())
            self._skip_spaces()
            if self.source.startswith(",", self.position):
                self.position += 1
                continue
            self._expect(closer)
            return arguments

    # expressions

    def _skip_spaces(self) -> None:
        match = _SPACES.match(self.source, self.position)
        self.position = match.end() if match else self.position

    def _expect(self, token: str) -> None:
        self._skip_spaces()
        if not self.source.startswith(token, self.position):
            raise self.error(f"expected {token!r}")
        self.position += len(token)

    def _operator(self, choices: Sequence[str]) -> str | None:
        self._skip_spaces()
        source = self.source
        for word, symbol in _WORD_OPERATORS.items():
            if symbol in choices and source.startswith(word, self.position) and not _NAME.match(
                    source, self.position + len(word)):
                self.position += len(word)
                return symbol
        for symbol in sorted(choices, key=len, reverse=True):
            # "!" and "<" are not "!=" and "<=", and "=" alone is #set's, not an operator.
            if source.startswith(symbol, self.position) and not (
                    len(symbol) == 1 and symbol in "!<>"
                    and source.startswith("=", self.position + 1)):
                self.position += len(symbol)
                return symbol
        return None

    def expression(self) -> Any:
        return self._binary_level(0)

    _LEVELS: tuple[tuple[str, ...], ...] = (("||",), ("&&",), ("==", "!=", "<=", ">=", "<", ">"),
                                            ("+", "-"), ("*", "/", "%"))

    def _binary_level(self, level: int) -> Any:
        if level == len(self._LEVELS):
            return self._unary()
        left = self._binary_level(level + 1)
        while (operator := self._operator(self._LEVELS[level])) is not None:
            left = _Binary(operator, left, self._binary_level(level + 1))
        return left

    def _unary(self) -> Any:
        operator = self._operator(("!",))
        if operator:
            return _Unary("!", self._unary())
        self._skip_spaces()
        if self.source.startswith("-", self.position) and not _NUMBER.match(
                self.source, self.position):
            self.position += 1
            return _Unary("-", self._unary())
        return self._primary()

    def _primary(self) -> Any:
        self._skip_spaces()
        source, at = self.source, self.position
        char = source[at:at + 1]
        if char == "(":
            self.position += 1
            inner = self.expression()
            self._expect(")")
            return inner
        if char == "$":
            return self.reference()
        if char in ("'", '"'):
            return self._string(char)
        if char == "[":
            return self._list_or_range()
        if char == "{":
            self.position += 1
            entries = []
            self._skip_spaces()
            if source.startswith("}", self.position):
                self.position += 1
                return _MapLiteral(())
            while True:
                key = self.expression()
                self._expect(":")
                entries.append((key, self.expression()))
                self._skip_spaces()
                if source.startswith(",", self.position):
                    self.position += 1
                    continue
                self._expect("}")
                return _MapLiteral(tuple(entries))
        number = _NUMBER.match(source, at)
        if number:
            self.position = number.end()
            text = number.group()
            return _Literal(float(text) if number.group(1) else int(text))
        word = _NAME.match(source, at)
        if word and word.group() in ("true", "false", "null"):
            self.position = word.end()
            return _Literal({"true": True, "false": False, "null": None}[word.group()])
        raise self.error("expected a value")

    def _string(self, quote: str) -> Any:
        end = self.source.find(quote, self.position + 1)
        if end < 0:
            raise self.error("unclosed string")
        content = self.source[self.position + 1:end]
        self.position = end + 1
        if quote == "'" or ("$" not in content and "#" not in content):
            return _Literal(content)
        inner = _Parser(content)
        nodes, _ = inner.template()
        return _Interpolated(tuple(nodes))

    def _list_or_range(self) -> Any:
        self.position += 1
        self._skip_spaces()
        if self.source.startswith("]", self.position):
            self.position += 1
            return _ListLiteral(())
        first = self.expression()
        self._skip_spaces()
        if self.source.startswith("..", self.position):
            self.position += 2
            last = self.expression()
            self._expect("]")
            return _Range(first, last)
        items = [first]
        while self.source.startswith(",", self.position):
            self.position += 1
            items.append(self.expression())
            self._skip_spaces()
        self._expect("]")
        return _ListLiteral(tuple(items))


# --- rendering ---------------------------------------------------------------------------------

class _LoopState(VtlObject):
    vtl_name = "foreach"
    vtl_properties = frozenset({"index", "count", "hasNext", "first", "last"})

    def __init__(self, index: int, total: int) -> None:
        self.index = index
        self.count = index + 1
        self.hasNext = index + 1 < total
        self.first = index == 0
        self.last = index + 1 == total


class _Renderer:
    def __init__(self, variables: dict[str, Any]) -> None:
        self.variables = variables
        self.size = 0

    def nodes(self, nodes: Iterable[Any], out: list[str]) -> None:
        for node in nodes:
            if isinstance(node, _Text):
                self.write(out, node.text)
            elif isinstance(node, _Reference):
                value = self.reference(node)
                self.write(out, node.source if value is None and not node.quiet
                           else "" if value is None else to_text(value))
            elif isinstance(node, _Set):
                self.assign(node.target, self.value(node.value))
            elif isinstance(node, _If):
                for condition, body in node.branches:
                    if truthy(self.value(condition)):
                        self.nodes(body, out)
                        break
                else:
                    self.nodes(node.otherwise, out)
            elif isinstance(node, _Foreach):
                self.foreach(node, out)

    def write(self, out: list[str], text: str) -> None:
        self.size += len(text)
        if self.size > MAX_OUTPUT_CHARS:
            raise VtlError(f"the template's output exceeds {MAX_OUTPUT_CHARS} characters")
        out.append(text)

    def foreach(self, node: _Foreach, out: list[str]) -> None:
        items = self.value(node.items)
        if items is None:
            return
        if isinstance(items, Mapping):
            items = list(items.values())
        elif not isinstance(items, list | tuple | set | frozenset):
            raise VtlError(f"#foreach cannot iterate over {type(items).__name__}")
        items = list(items)
        saved = {name: self.variables.get(name) for name in
                 (node.variable, "foreach", "velocityCount", "velocityHasNext")}
        try:
            for index, item in enumerate(items):
                state = _LoopState(index, len(items))
                self.variables.update({node.variable: item, "foreach": state,
                                       "velocityCount": index + 1,
                                       "velocityHasNext": state.hasNext})
                self.nodes(node.body, out)
        finally:
            for name, value in saved.items():
                if value is None:
                    self.variables.pop(name, None)
                else:
                    self.variables[name] = value

    def assign(self, target: _Reference, value: Any) -> None:
        if value is None:
            return
        if not target.accesses:
            self.variables[target.root] = value
            return
        holder = self.variables.get(target.root)
        for access in target.accesses[:-1]:
            holder = self.access(holder, access)
        last = target.accesses[-1]
        if last.kind != "property" or not isinstance(holder, dict):
            raise VtlError(f"#set({target.source} = ...): {target.source.rsplit('.', 1)[0]} "
                           "is not a map")
        holder[last.name] = value

    def reference(self, node: _Reference) -> Any:
        value = self.variables.get(node.root)
        for access in node.accesses:
            if value is None:
                return None
            value = self.access(value, access)
        return value

    def access(self, value: Any, access: _Access) -> Any:
        if access.kind == "property":
            return _property(value, access.name)
        if access.kind == "index":
            index = self.value(access.arguments[0])
            if isinstance(value, Mapping):
                return value.get(index)
            if isinstance(value, list | tuple) and isinstance(index, int):
                return value[index] if -len(value) <= index < len(value) else None
            return None
        arguments = [self.value(argument) for argument in access.arguments]
        return _call(value, access.name, arguments)

    def value(self, expression: Any) -> Any:
        if isinstance(expression, _Literal):
            return expression.value
        if isinstance(expression, _Reference):
            return self.reference(expression)
        if isinstance(expression, _Interpolated):
            out: list[str] = []
            self.nodes(expression.nodes, out)
            return "".join(out)
        if isinstance(expression, _ListLiteral):
            return [self.value(item) for item in expression.items]
        if isinstance(expression, _MapLiteral):
            return {self.value(key): self.value(item) for key, item in expression.entries}
        if isinstance(expression, _Range):
            start, stop = self.value(expression.start), self.value(expression.stop)
            if not isinstance(start, int) or not isinstance(stop, int):
                raise VtlError("a range [a..b] needs whole numbers")
            step = 1 if stop >= start else -1
            return list(range(start, stop + step, step))
        if isinstance(expression, _Unary):
            operand = self.value(expression.operand)
            if expression.operator == "!":
                return not truthy(operand)
            return -_number(operand, "-")
        assert isinstance(expression, _Binary)
        operator = expression.operator
        left = self.value(expression.left)
        if operator == "&&":
            return truthy(left) and truthy(self.value(expression.right))
        if operator == "||":
            return truthy(left) or truthy(self.value(expression.right))
        right = self.value(expression.right)
        if operator == "==":
            return equal(left, right)
        if operator == "!=":
            return not equal(left, right)
        if operator in ("<", ">", "<=", ">="):
            return _compare(operator, left, right)
        return _arithmetic(operator, left, right)


def render(template: str, variables: Mapping[str, Any]) -> str:
    """``template`` rendered with ``variables``; ``#set`` on a map entry changes the map given
    (that is how ``$context.responseOverride`` reaches the caller)."""
    nodes, _ = _Parser(template).template()
    out: list[str] = []
    _Renderer(dict(variables)).nodes(nodes, out)
    return "".join(out)


def check_syntax(template: str) -> None:
    """Raises ``VtlError`` when ``template`` cannot be parsed."""
    _Parser(template).template()


def truthy(value: Any) -> bool:
    """Velocity 1.7's condition: false only for ``null`` and ``false``."""
    return value is not None and value is not False


def to_text(value: Any) -> str:
    """A value as Java's ``toString`` writes it."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value) if not value.is_integer() else f"{value:.1f}"
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{to_text(k)}={to_text(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple | set | frozenset):
        return "[" + ", ".join(to_text(item) for item in value) + "]"
    return str(value)


def equal(left: Any, right: Any) -> bool:
    """Velocity's ``==``: numbers by value, same types by equality, others by their text."""
    if _is_number(left) and _is_number(right):
        return bool(left == right)
    if left is None or right is None:
        return left is right
    if type(left) is type(right):
        return bool(left == right)
    return to_text(left) == to_text(right)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _number(value: Any, operator: str) -> int | float:
    if not _is_number(value):
        raise VtlError(f"{operator} needs numbers, not {to_text(value)!r}")
    number: int | float = value
    return number


def _compare(operator: str, left: Any, right: Any) -> bool:
    if isinstance(left, str) and isinstance(right, str):
        pair: tuple[Any, Any] = (left, right)
    else:
        pair = (_number(left, operator), _number(right, operator))
    return {"<": pair[0] < pair[1], ">": pair[0] > pair[1], "<=": pair[0] <= pair[1],
            ">=": pair[0] >= pair[1]}[operator]


def _arithmetic(operator: str, left: Any, right: Any) -> Any:
    a, b = _number(left, operator), _number(right, operator)
    if operator == "+":
        return a + b
    if operator == "-":
        return a - b
    if operator == "*":
        return a * b
    if b == 0:
        return None  # Velocity logs the division by zero and answers null
    if isinstance(a, int) and isinstance(b, int):
        quotient = abs(a) // abs(b) * (1 if (a >= 0) == (b >= 0) else -1)
        return quotient if operator == "/" else a - b * quotient
    return a / b if operator == "/" else a % b


def _property(value: Any, name: str) -> Any:
    if isinstance(value, Mapping):
        return value.get(name)
    if isinstance(value, VtlObject):
        return getattr(value, name) if name in value.vtl_properties else None
    if isinstance(value, str) and name == "empty":
        return value == ""
    if isinstance(value, list | tuple) and name == "empty":
        return not value
    return None


def _java_regex(pattern: str) -> re.Pattern[str]:
    try:
        return re.compile(pattern)
    except re.error as error:
        raise VtlError(f"regular expression {pattern!r}: {error}") from None


def _java_replacement(replacement: str) -> Callable[[re.Match[str]], str]:
    def expand(match: re.Match[str]) -> str:
        return re.sub(r"\\(.)|\$(\d)", lambda m: m.group(1) if m.group(1) is not None
                      else (match.group(int(m.group(2))) or ""), replacement)
    return expand


def _string_method(value: str, name: str, arguments: list[Any]) -> Any:
    texts = [to_text(argument) for argument in arguments]
    simple: dict[str, Callable[[], Any]] = {
        "length": lambda: len(value), "toString": lambda: value, "trim": value.strip,
        "toLowerCase": value.lower, "toUpperCase": value.upper,
        "isEmpty": lambda: value == "",
    }
    if name in simple and not arguments:
        return simple[name]()
    one: dict[str, Callable[[str], Any]] = {
        "equals": lambda other: value == other,
        "equalsIgnoreCase": lambda other: value.lower() == other.lower(),
        "contains": lambda other: other in value,
        "startsWith": value.startswith, "endsWith": value.endswith,
        "indexOf": value.find, "lastIndexOf": value.rfind, "concat": lambda other: value + other,
        "matches": lambda pattern: _java_regex(pattern).fullmatch(value) is not None,
        "split": lambda pattern: _split(value, pattern),
        "charAt": lambda index: value[int(index)],
    }
    if name in one and len(arguments) == 1:
        if name in ("equals", "equalsIgnoreCase") and not isinstance(arguments[0], str):
            return False
        if name == "charAt":
            return one[name](arguments[0])
        return one[name](texts[0])
    if name == "substring" and 1 <= len(arguments) <= 2:
        start = int(arguments[0])
        stop = int(arguments[1]) if len(arguments) == 2 else len(value)
        if not 0 <= start <= stop <= len(value):
            raise VtlError(f"substring({start}, {stop}) is outside a string of {len(value)}")
        return value[start:stop]
    if name == "replace" and len(arguments) == 2:
        return value.replace(texts[0], texts[1])
    if name in ("replaceAll", "replaceFirst") and len(arguments) == 2:
        return _java_regex(texts[0]).sub(_java_replacement(texts[1]), value,
                                         count=1 if name == "replaceFirst" else 0)
    raise VtlError(f"the string method {name}({len(arguments)} arguments) is not emulated")


def _split(value: str, pattern: str) -> list[str]:
    parts = _java_regex(pattern).split(value)
    while parts and parts[-1] == "":
        parts.pop()  # Java drops trailing empty strings
    return parts


def _map_method(value: Mapping[str, Any], name: str, arguments: list[Any]) -> Any:
    if name == "get" and len(arguments) == 1:
        return value.get(arguments[0])
    if name == "containsKey" and len(arguments) == 1:
        return arguments[0] in value
    if name == "containsValue" and len(arguments) == 1:
        return any(equal(item, arguments[0]) for item in value.values())
    if name == "keySet" and not arguments:
        return list(value.keys())
    if name == "values" and not arguments:
        return list(value.values())
    if name == "entrySet" and not arguments:
        return [{"key": key, "value": item} for key, item in value.items()]
    if name == "size" and not arguments:
        return len(value)
    if name == "isEmpty" and not arguments:
        return not value
    if name == "put" and len(arguments) == 2 and isinstance(value, dict):
        previous = value.get(arguments[0])
        value[arguments[0]] = arguments[1]
        return previous
    if name == "remove" and len(arguments) == 1 and isinstance(value, dict):
        return value.pop(arguments[0], None)
    raise VtlError(f"the map method {name}({len(arguments)} arguments) is not emulated")


def _list_method(value: list[Any] | tuple[Any, ...], name: str, arguments: list[Any]) -> Any:
    if name == "size" and not arguments:
        return len(value)
    if name == "isEmpty" and not arguments:
        return not value
    if name == "get" and len(arguments) == 1 and isinstance(arguments[0], int):
        if not 0 <= arguments[0] < len(value):
            raise VtlError(f"get({arguments[0]}) is outside a list of {len(value)}")
        return value[arguments[0]]
    if name == "contains" and len(arguments) == 1:
        return any(equal(item, arguments[0]) for item in value)
    if name == "indexOf" and len(arguments) == 1:
        return next((i for i, item in enumerate(value) if equal(item, arguments[0])), -1)
    if name == "add" and len(arguments) == 1 and isinstance(value, list):
        value.append(arguments[0])
        return True
    raise VtlError(f"the list method {name}({len(arguments)} arguments) is not emulated")


def _call(value: Any, name: str, arguments: list[Any]) -> Any:
    if isinstance(value, VtlObject):
        if name not in value.vtl_methods:
            raise VtlError(f"${value.vtl_name}.{name}() is not emulated")
        return getattr(value, name)(*arguments)
    if isinstance(value, str):
        return _string_method(value, name, arguments)
    if isinstance(value, Mapping):
        return _map_method(value, name, arguments)
    if isinstance(value, list | tuple):
        return _list_method(value, name, arguments)
    if _is_number(value) and not arguments and name == "toString":
        return to_text(value)
    if _is_number(value) and not arguments and name in ("intValue", "doubleValue"):
        return int(value) if name == "intValue" else float(value)
    raise VtlError(f"{name}() on {to_text(value)!r} is not emulated")


# --- API Gateway's $input and $util ------------------------------------------------------------

_JSONPATH_STEP = re.compile(r"\.([A-Za-z_$][\w$-]*)|\[(\d+)\]|\['([^']*)'\]|\[\"([^\"]*)\"\]"
                            r"|(\[\*\]|\.\*)")


def json_path(document: Any, path: str) -> Any:
    """The value at a JSONPath (``$``, ``.name``, ``['name']``, ``[n]``, ``[*]``); ``None`` when
    there is none. ``[*]`` answers the list of matches."""
    if not path.startswith("$"):
        raise VtlError(f"JSONPath {path!r} must start with $")
    values: list[Any] = [document]
    many = False
    at = 1
    while at < len(path):
        step = _JSONPATH_STEP.match(path, at)
        if step is None:
            raise VtlError(f"JSONPath {path!r}: only $, .name, ['name'], [n] and [*] are "
                           "emulated")
        at = step.end()
        name, index, quoted, double, star = step.groups()
        found: list[Any] = []
        for value in values:
            if star:
                found.extend(value.values() if isinstance(value, Mapping)
                             else value if isinstance(value, list) else [])
            elif index is not None:
                if isinstance(value, list) and int(index) < len(value):
                    found.append(value[int(index)])
            else:
                key = name if name is not None else quoted if quoted is not None else double
                if isinstance(value, Mapping) and key in value:
                    found.append(value[key])
        many = many or bool(star)
        values = found
    if many:
        return values
    return values[0] if values else None


class MappingInput(VtlObject):
    """API Gateway's ``$input``: the payload (``body``, ``json``, ``path``) and the method
    request's parameters (``params``: ``path``, ``querystring`` and ``header`` maps)."""

    vtl_name = "input"
    vtl_properties = frozenset({"body"})
    vtl_methods = frozenset({"json", "path", "params"})

    def __init__(self, body: str, parameters: Mapping[str, Mapping[str, str]]) -> None:
        self.body = body
        self._parameters = {kind: dict(parameters.get(kind, {}))
                            for kind in ("path", "querystring", "header")}

    def _document(self) -> Any:
        if not self.body.strip():
            return {}
        try:
            return json.loads(self.body)
        except ValueError:
            return self.body

    def json(self, path: str) -> str:
        """The JSON text of the payload's value at ``path``, compact as API Gateway's Java
        serializer writes it. A path that finds nothing (or ``null``) answers ``""``, the JSON
        text of an empty string, not ``null``: what API Gateway renders (LocalStack's finding
        against AWS, its PR 12774), so a template testing for a missing field must compare with
        ``'""'``."""
        value = json_path(self._document(), str(path))
        return json.dumps("" if value is None else value, separators=(",", ":"),
                          ensure_ascii=False)

    def path(self, path: str) -> Any:
        """The payload's value at ``path``, as an object the template can walk."""
        return json_path(self._document(), str(path))

    def params(self, name: str | None = None) -> Any:
        """Every parameter by kind, or one parameter's value from path, query string, then
        header (headers by case-insensitive name)."""
        if name is None:
            return self._parameters
        name = str(name)
        for kind in ("path", "querystring"):
            if name in self._parameters[kind]:
                return self._parameters[kind][name]
        return next((value for key, value in self._parameters["header"].items()
                     if key.lower() == name.lower()), None)


class MappingUtil(VtlObject):
    """API Gateway's ``$util``."""

    vtl_name = "util"
    vtl_methods = frozenset({"escapeJavaScript", "urlEncode", "urlDecode", "base64Encode",
                             "base64Decode", "parseJson"})

    @staticmethod
    def escapeJavaScript(text: Any) -> str | None:  # noqa: N802 (API Gateway's name)
        """As Commons Lang 2's ``escapeJavaScript``, which API Gateway uses (it escapes ``'``,
        so its output is not always valid JSON, exactly as in AWS); ``null`` stays ``null``."""
        if text is None:
            return None
        out = []
        for char in to_text(text):
            code = ord(char)
            if char in "'\"\\/":
                out.append("\\" + char)
            elif char in "\b\n\t\f\r":
                out.append({"\b": "\\b", "\n": "\\n", "\t": "\\t", "\f": "\\f",
                            "\r": "\\r"}[char])
            elif code < 32 or code > 127:
                out.extend(f"\\u{unit:04X}" for unit in _utf16_units(char))
            else:
                out.append(char)
        return "".join(out)

    @staticmethod
    def urlEncode(text: Any) -> str:  # noqa: N802
        # Java's URLEncoder, which encodes "~" that Python keeps.
        return quote_plus(to_text(text), safe="*").replace("~", "%7E")

    @staticmethod
    def urlDecode(text: Any) -> str:  # noqa: N802
        return unquote_plus(to_text(text))

    @staticmethod
    def base64Encode(text: Any) -> str:  # noqa: N802
        return base64.b64encode(to_text(text).encode()).decode()

    @staticmethod
    def base64Decode(text: Any) -> str:  # noqa: N802
        try:
            return base64.b64decode(to_text(text), validate=True).decode("utf-8", "replace")
        except ValueError:
            raise VtlError("$util.base64Decode: the value is not base64") from None

    @staticmethod
    def parseJson(text: Any) -> Any:  # noqa: N802
        try:
            return json.loads(to_text(text))
        except ValueError:
            raise VtlError("$util.parseJson: the value is not JSON") from None


def _utf16_units(char: str) -> Iterator[int]:
    encoded = char.encode("utf-16-be")
    for at in range(0, len(encoded), 2):
        yield int.from_bytes(encoded[at:at + 2], "big")
