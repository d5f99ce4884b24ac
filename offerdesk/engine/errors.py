"""How the engine says no (Refused, with a kind from schemas/refusal.py) and how it says it cannot (an outage)."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import ParamSpec, Protocol, TypeVar

from temporalio.service import RPCError, RPCStatusCode

from activities.store import StoreError
from schemas.refusal import Refusal

R = TypeVar("R")
P = ParamSpec("P")


class Refused(Exception):
    """The engine said no; the message is a sentence for a person, kind a word for a program."""

    def __init__(self, message: str, kind: Refusal = Refusal.REFUSED) -> None:
        super().__init__(message)
        self.message = message
        self.kind = kind


class EngineUnavailable(Exception):
    """An outage, not a refusal: Temporal cannot be reached, no worker answers, or the store is away."""


def cannot_reach(address: str, embedded: bool) -> str:
    hint = (
        "start it with 'offerdesk up' (or 'make run') in another terminal"
        if embedded
        else "check TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE and the TLS or API-key settings"
    )
    return f"cannot reach Temporal at {address}: {hint}"


def is_outage(error: RPCError) -> bool:
    text = error.message.lower()
    return error.status in (RPCStatusCode.UNAVAILABLE, RPCStatusCode.DEADLINE_EXCEEDED) or any(
        word in text for word in ("transport error", "connection refused", "connectionrefused", "tcp connect")
    )


class _Reaching(Protocol):
    def cannot_reach(self) -> str: ...


def guarded(method: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
    """Turn an outage in the middle of a call into one sentence, never raw RPC text."""

    @functools.wraps(method)
    async def call(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return await method(*args, **kwargs)
        except RPCError as e:
            if is_outage(e):
                engine: _Reaching = args[0]  # type: ignore[assignment]
                raise EngineUnavailable(engine.cannot_reach()) from None
            raise
        except StoreError as e:
            raise EngineUnavailable(str(e)) from None

    return call
