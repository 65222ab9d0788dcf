"""JSON from a client, parsed so that no body can make a handler fail.

``json.loads`` recurses once per nesting level, so a body such as ``[[[[...]]]]`` about a
thousand levels deep raises ``RecursionError``, which no ``except ValueError`` catches: the
invocation fails and API Gateway answers 502. ``loads`` answers every such body, and every
body that is not JSON, with one ``InvalidJsonError`` (a ``ValueError``), for the handler to
turn into its 400.

Beyond standard JSON parsing it refuses:

- nesting deeper than ``max_depth`` levels (default ``MAX_DEPTH``), counted after parsing
  without recursion, so nothing downstream (a schema validator, a serializer, a logger)
  recurses through a client's data either;
- ``NaN``, ``Infinity`` and ``-Infinity``, which Python accepts and JSON (RFC 8259) does not;
- integers longer than Python's limit for converting text (4300 digits by default), which
  ``json.loads`` reports as a ``ValueError``.

The message never quotes the input.
"""

from __future__ import annotations

import json
from typing import Any, NoReturn

MAX_DEPTH = 64


class InvalidJsonError(ValueError):
    """The text is not JSON a handler accepts; the message says why, without the input."""


def loads(text: str | bytes | bytearray, *, max_depth: int = MAX_DEPTH) -> Any:
    """The JSON value in ``text``; ``InvalidJsonError`` when it is not JSON or nests deeper
    than ``max_depth`` (an array or object is one level; a scalar alone is none)."""
    try:
        value = json.loads(text, parse_constant=_no_constant)
    except RecursionError:
        raise InvalidJsonError(f"the JSON nests more than {max_depth} levels deep") from None
    except ValueError:  # JSONDecodeError, bytes that are not UTF-8, over-long integers
        raise InvalidJsonError("the text is not valid JSON") from None
    if depth_exceeds(value, max_depth):
        raise InvalidJsonError(f"the JSON nests more than {max_depth} levels deep")
    return value


def depth_exceeds(value: Any, max_depth: int) -> bool:
    """Whether a parsed JSON value nests arrays and objects more than ``max_depth`` deep.

    Walks with an explicit stack and stops at the first container that is too deep.
    """
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth + 1 > max_depth:
            return True
        stack.extend((child, depth + 1) for child in children
                     if isinstance(child, dict | list))
    return False


def _no_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not JSON")
