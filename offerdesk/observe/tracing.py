"""OpenTelemetry traces, configured by the standard OTEL_* variables alone and off when they are unset.

`OTEL_EXPORTER_OTLP_ENDPOINT` (or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) turns tracing on; spans go there over
OTLP/HTTP with protobuf (`OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf`, the only protocol taken), named by
`OTEL_SERVICE_NAME` (else offerdesk-worker, offerdesk-portal, offerdesk or offerdesk-cli). The SDK reads the
rest itself: headers, timeouts, the sampler, resource attributes, `OTEL_SDK_DISABLED`.

One trace runs from a portal request through the workflow update it sends into the activities that update
causes: the Temporal SDK's TracingInterceptor on every client and worker, with its workflow side parenting an
update's spans (and the activities its handler starts) on the update's own context rather than on the workflow's
start, and the activities the workflow's main loop starts next (the letter, after the approval that completes
the quorum) on the context of the update that moved the offer last. The render process adds its own span under
the letter activity (activities/tracing.py). Every span about an offer carries `offerdesk.round` and
`offerdesk.partner`; none carries a document's content.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import opentelemetry.context
import opentelemetry.trace
import temporalio.worker
import temporalio.workflow
from opentelemetry.context import Context
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from temporalio.api.common.v1 import Payload
from temporalio.contrib.opentelemetry import TracingInterceptor, TracingWorkflowInboundInterceptor
from temporalio.contrib.opentelemetry._context import attached_context
from temporalio.contrib.opentelemetry._interceptor import _TracingWorkflowOutboundInterceptor

from offerdesk.observe.logs import subject_of

PROTOCOL = "http/protobuf"
_IN_UPDATE = opentelemetry.context.create_key("offerdesk_in_update")
_provider: TracerProvider | None = None


def tracing_asked(env: Mapping[str, str] | None = None) -> bool:
    """Whether the OTEL_* variables ask for traces: an OTLP endpoint, and the SDK not disabled."""
    e = os.environ if env is None else env
    endpoint = e.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or e.get("OTEL_EXPORTER_OTLP_ENDPOINT")
    disabled = e.get("OTEL_SDK_DISABLED", "").strip().lower() == "true"
    off = e.get("OTEL_TRACES_EXPORTER", "").strip().lower() == "none"
    return bool(endpoint) and not disabled and not off


def check_protocol(env: Mapping[str, str] | None = None) -> None:
    """A ValueError naming the variable when it asks for a protocol other than OTLP/HTTP with protobuf."""
    e = os.environ if env is None else env
    for name in ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL"):
        value = e.get(name, "").strip()
        if value and value != PROTOCOL:
            raise ValueError(f"{name} must be {PROTOCOL} (traces go over OTLP/HTTP with protobuf); not {value!r}")


def tracing_on() -> bool:
    """Whether this process has set up tracing (setup_tracing)."""
    return _provider is not None


def setup_tracing(service: str) -> bool:
    """Once per process, before its first client: the tracer provider and its OTLP exporter, if the OTEL_*
    variables ask for them; whether they do."""
    global _provider
    if _provider is not None:
        return True
    if not tracing_asked():
        return False
    check_protocol()
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    named = {} if os.environ.get("OTEL_SERVICE_NAME") else {SERVICE_NAME: service}
    provider = TracerProvider(resource=Resource.create(named))
    provider.add_span_processor(OfferAttributes())
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    opentelemetry.trace.set_tracer_provider(provider)
    _provider = provider
    return True


def setup_render_process() -> None:
    """A render process's setup (activities.offer_activities.make_render_pool): its own exporter, same service."""
    setup_tracing("offerdesk-worker")


def flush_traces(timeout_s: float = 5.0) -> None:
    """Send what is buffered: before a process leaves without the interpreter's shutdown (os._exit)."""
    if _provider is not None:
        _provider.force_flush(int(timeout_s * 1000))


class OfferAttributes(SpanProcessor):
    """Names the round and partner on every span that names an offer's or round's workflow."""

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        workflow_id = (span.attributes or {}).get("temporalWorkflowID")
        if isinstance(workflow_id, str):
            for key, value in subject_of(workflow_id).items():
                span.set_attribute(f"offerdesk.{key}", value)

    def on_end(self, span: ReadableSpan) -> None:
        pass


# ---- the Temporal SDK's interceptor, its workflow side joined to the updates -------------------------------


class Tracing(TracingInterceptor):
    """The SDK's TracingInterceptor, with the workflow side below (the SDK's way to change it: subclass both)."""

    def workflow_interceptor_class(
        self, input: temporalio.worker.WorkflowInterceptorClassInput
    ) -> type[TracingWorkflowInboundInterceptor]:
        super().workflow_interceptor_class(input)
        return UpdateTracing


class UpdateTracing(TracingWorkflowInboundInterceptor):
    """Spans of an update in the trace of whoever sent it, and the next activity in the trace of the last update.

    The SDK's workflow side puts every span in the trace of the workflow's start (for an offer: the round that
    invited the partner) and only links an update's. Here an update's handler runs under the update's context,
    so the validation its handler runs joins the request's trace; and an activity the main loop starts (the
    letter, once the last approval moved the offer) joins the trace of the update that moved the offer last.
    Spans are made only when a workflow task runs for the first time, never on replay, as the SDK does.

    Queries and update validators make no span (the SDK's side makes one for each): they change nothing and
    start nothing, the caller's own span covers them, and a portal reads each card it shows by query.
    """

    def __init__(self, next: temporalio.worker.WorkflowInboundInterceptor) -> None:
        super().__init__(next)
        self._last_update: dict[str, Any] | None = None

    def init(self, outbound: temporalio.worker.WorkflowOutboundInterceptor) -> None:
        # The SDK's init wraps `outbound` in its tracing outbound; ours is that one with local activities changed.
        self.next.init(_LocalActivitiesUnspanned(outbound, self))

    def _start_context(self) -> Context | None:
        """The context a start made outside an update joins: the last update's, when there was one."""
        caused_by = self._last_update
        if caused_by is not None and not opentelemetry.context.get_value(_IN_UPDATE):
            return self._update_context(caused_by)
        return None

    def _carrier(self, headers: Mapping[str, Payload]) -> dict[str, Any] | None:
        header = headers.get(self.header_key)
        if not header:
            return None
        carrier = self.payload_converter.from_payloads([header])[0]
        return carrier if isinstance(carrier, dict) and carrier else None

    def _update_context(self, carrier: dict[str, Any]) -> Context:
        context = opentelemetry.context.set_value(_IN_UPDATE, True, self.text_map_propagator.extract(carrier))
        return self._set_on_context(context)

    def handle_update_validator(self, input: temporalio.worker.HandleUpdateInput) -> None:
        """No span: a validator only reads the workflow's state (it can start nothing), and its verdict shows in
        the caller's StartWorkflowUpdate span (an error there) or in the HandleUpdate span that follows."""
        self.next.handle_update_validator(input)

    async def handle_query(self, input: temporalio.worker.HandleQueryInput) -> Any:
        """No span: a query reads the card (the portal asks for it on every page), starts nothing, and the
        caller's QueryWorkflow span already times it."""
        return await self.next.handle_query(input)

    async def handle_update_handler(self, input: temporalio.worker.HandleUpdateInput) -> Any:
        carrier = self._carrier(input.headers)
        if carrier is None:
            return await super().handle_update_handler(input)
        self._last_update = carrier
        with attached_context(self._update_context(carrier)):
            self._completed_span(
                f"HandleUpdate:{input.update}",
                link_context_carrier=self._load_workflow_context_carrier(),
                kind=opentelemetry.trace.SpanKind.SERVER,
            )
            return await self.next.handle_update_handler(input)

    def _completed_span(self, span_name: str, **kwargs: Any) -> None:
        context = self._start_context() if span_name.startswith("StartActivity:") else None
        if context is not None:
            with attached_context(context):
                super()._completed_span(span_name, **kwargs)
            return
        super()._completed_span(span_name, **kwargs)


class _LocalActivitiesUnspanned(_TracingWorkflowOutboundInterceptor):
    """The SDK's workflow outbound, but a local activity gets no StartActivity span of its own: it runs at once in
    this worker, so its RunActivity span (a child of the update, or of the last update) says all that one would,
    and each offer starts five (validation, the landing zone, its bounded steps). Its header carries the context
    that span would have been made in."""

    root: UpdateTracing

    def start_local_activity(
        self, input: temporalio.worker.StartLocalActivityInput
    ) -> temporalio.workflow.ActivityHandle[Any]:
        if not temporalio.workflow.unsafe.is_replaying():  # on replay the SDK adds no header either
            carrier: dict[str, Any] = {}
            self.root.text_map_propagator.inject(carrier, self.root._start_context())
            input.headers = self.root._context_carrier_to_headers(carrier, input.headers)
        return self.next.start_local_activity(input)


def client_interceptors() -> list[TracingInterceptor]:
    """What every client of this process carries: the tracing interceptor when tracing is on, else nothing."""
    return [Tracing()] if tracing_on() else []
