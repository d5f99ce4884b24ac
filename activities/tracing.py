"""The letter's render as a span of its own, in the render process, joined to the activity's trace.

The worker hands the render pool a `Traced` call: the function and the trace context of the activity that calls
it (W3C `traceparent`, as text). In the render process the span starts from that context, so it sits under the
letter activity's span in the same trace. With tracing off the context is empty and the API's tracer records
nothing; the render process sets up its exporter when it starts (offerdesk/observe/tracing.py).

Only the OpenTelemetry API is used here. Spans carry the round, the partner and the version, never content.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from opentelemetry import context, propagate, trace

from schemas.letter import LetterInput

T = TypeVar("T")
TRACER = "offerdesk.render"


def trace_carrier() -> dict[str, str]:
    """The current trace context as W3C headers ({} when nothing is traced)."""
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier


@dataclass(frozen=True)
class Traced(Generic[T]):
    """`render(letter)` in a span named "render letter", under the trace context it was made in. Picklable: the
    function is a module-level one, the context a dict of strings."""

    render: Callable[[LetterInput], T]
    carrier: dict[str, str] = field(default_factory=trace_carrier)

    def __call__(self, letter: LetterInput) -> T:
        if not self.carrier:
            return self.render(letter)
        token = context.attach(propagate.extract(self.carrier))
        try:
            attributes: dict[str, str | int] = {
                "offerdesk.round": letter.round_id,
                "offerdesk.partner": letter.partner,
                "offerdesk.offer_version": letter.offer_version,
                "offerdesk.tariff_lines": len(letter.offer.tariff_commitments),
            }
            with trace.get_tracer(TRACER).start_as_current_span("render letter", attributes=attributes) as span:
                result = self.render(letter)
                if isinstance(result, tuple) and len(result) == 2 and isinstance(result[1], int):
                    span.set_attribute("offerdesk.pages", result[1])
                return result
        finally:
            context.detach(token)


def in_span(render: Callable[[LetterInput], T]) -> Traced[T]:
    """`render` to hand the render pool, traced under the current span."""
    return Traced(render)
