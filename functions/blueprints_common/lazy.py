"""AWS clients made on first use, so a cold start does not pay for them at import.

A boto3 client loads the endpoint rules and the service model when it is created (a DynamoDB
resource its resource model as well): tens of milliseconds each, more than the rest of a
handler's import. A handler declares them at module level as before, through ``lazy``::

    jobs_table = lazy(lambda: boto3.resource("dynamodb").Table(settings.jobs_table))

The object is created by the first attribute access (the first request that calls AWS) and
reused by every later one, as a module-level client is. A request that is refused, not found
or answered from a cache never creates it. Attribute writes and deletes go to the object too,
so a test's ``monkeypatch.setattr(app.table, "get_item", ...)`` patches the real one.

X-Ray still sees every call: the tracer patches botocore's client class, not instances.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import Any, TypeVar, cast

T = TypeVar("T")


class _Lazy:
    """A stand-in that creates its object on first attribute access, once."""

    __slots__ = ("_factory", "_lock", "_made")

    def __init__(self, factory: Callable[[], Any]) -> None:
        object.__setattr__(self, "_factory", factory)
        object.__setattr__(self, "_lock", threading.Lock())
        object.__setattr__(self, "_made", None)

    def _object(self) -> Any:
        made = object.__getattribute__(self, "_made")
        if made is None:
            with object.__getattribute__(self, "_lock"):
                made = object.__getattribute__(self, "_made")
                if made is None:
                    made = object.__getattribute__(self, "_factory")()
                    object.__setattr__(self, "_made", made)
        return made

    def __getattr__(self, name: str) -> Any:
        return getattr(_Lazy._object(self), name)

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(_Lazy._object(self), name, value)

    def __delattr__(self, name: str) -> None:
        delattr(_Lazy._object(self), name)

    def __repr__(self) -> str:
        made = object.__getattribute__(self, "_made")
        return "<lazy, not made yet>" if made is None else repr(made)


def lazy(factory: Callable[[], T]) -> T:
    """``factory()``'s object, made on first attribute access (see the module's documentation)."""
    return cast(T, _Lazy(factory))


def made(value: Any) -> bool:
    """Whether ``value`` is a real object or a ``lazy`` one already made (for tests)."""
    return not isinstance(value, _Lazy) or object.__getattribute__(value, "_made") is not None


def aws_region() -> str | None:
    """The function's region without making a client: Lambda's ``AWS_REGION``, else what a
    default boto3 session would use (``AWS_DEFAULT_REGION``, the config file)."""
    region = os.environ.get("AWS_REGION")
    if region:
        return region
    import boto3  # type: ignore[import-untyped]

    return cast(str | None, boto3.session.Session().region_name)
