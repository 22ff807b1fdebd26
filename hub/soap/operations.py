"""What each SOAP operation declares about itself, beside its handler.

A service object (``OrdersApi``, ``AdminApi``, ``CarposApi``) implements operation ``Name`` as
``op_Name`` and declares, with :func:`operation`, what the call wrapper must know to run it:

- ``read_only``: it changes nothing (on SQLite it runs on the reader engine, its audit event in a
  short transaction of its own); an operation that writes anything -- QueryCarpos queues its QPO --
  must not say so;
- ``retry_on_conflict``: a concurrent twin's collision (a unique key, a guarded UPDATE that found
  the version moved) runs it once more, which then finds the twin's receipt;
- ``allowed``: who may call it (a check on the caller that raises ``Forbidden``), checked after
  the service's own rule (it narrows the service's rule, never widens it).

:func:`declared` collects them and refuses, at start, an operation of the schema without a
handler or a handler for no operation of the schema: the declarations, not lists of names kept
beside them, are what the call wrapper reads.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])

_MARK = "__soap_operation__"


@dataclass(frozen=True)
class Operation:
    """One operation's declaration and its handler (bound to its service object)."""

    name: str
    handler: Callable[..., Any]
    read_only: bool = False
    retry_on_conflict: bool = True
    allowed: Callable[[Any], None] | None = None


def operation(
    *, read_only: bool = False, retry_on_conflict: bool = True, allowed: Callable[[Any], None] | None = None
) -> Callable[[F], F]:
    """Declare an ``op_<Name>`` method an operation (see the module's text for what each flag means)."""

    def mark(method: F) -> F:
        setattr(method, _MARK, {"read_only": read_only, "retry_on_conflict": retry_on_conflict, "allowed": allowed})
        return method

    return mark


def declared(
    api: object, names: Iterable[str], *, allowed: Callable[[Any], None] | None = None
) -> dict[str, Operation]:
    """The operations ``names`` (a service's, from its schema) as ``api`` declares them; ``allowed``
    is the service's rule for operations that name none. ``ValueError`` when the two disagree."""
    names = set(names)
    methods = {attr[3:] for attr in dir(type(api)) if attr.startswith("op_")}
    if names != methods:
        missing, extra = sorted(names - methods), sorted(methods - names)
        raise ValueError(f"{type(api).__name__}: no handler for {missing}; handlers for no operation: {extra}")
    out = {}
    for name in sorted(names):
        handler = getattr(api, f"op_{name}")
        flags = getattr(handler, _MARK, None)
        if flags is None:
            raise ValueError(f"{type(api).__name__}.op_{name} is not declared with @operation(...)")
        out[name] = Operation(
            name,
            handler,
            read_only=flags["read_only"],
            retry_on_conflict=flags["retry_on_conflict"],
            allowed=_both(allowed, flags["allowed"]),
        )
    return out


def _both(service: Callable[[Any], None] | None, own: Callable[[Any], None] | None) -> Callable[[Any], None] | None:
    """An operation's own rule is added to its service's (checked after it), never put in its place:
    an operation of the administrators' service stays theirs whatever else it asks."""
    if service is None or own is None:
        return service or own

    def allowed(who: Any) -> None:
        service(who)
        own(who)

    return allowed
