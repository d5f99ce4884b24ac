"""What the portal measures and says about each request: Prometheus metrics on a port of its own
(OFFERDESK_PORTAL_METRICS_PORT, never the public port), an access line per request, and its trace.

- `offerdesk_http_request_seconds{route, method, status}`: by the route's template (/rounds/{round_id}), never
  the path as sent; a path no route matches is "(unmatched)", a method outside HTTP's usual ones "OTHER";
- `offerdesk_signins_total{outcome}`: done, bad_password, throttled;
- `offerdesk_database_seconds{store, call}`: each call of the desk to the people's records (users, sessions,
  tokens, throttle, audit, notices), by method name;
- `offerdesk_readiness{check}`: what /readyz found when the balancer last asked (1 ok, 0 failed);
- the latency of calls to Temporal: the SDK's own `temporal_request_latency_seconds{operation}` (and
  `temporal_long_request_latency_seconds`), read from the process's Temporal runtime.

Labels never carry a round, a partner, a user or a path as sent. The access line names the request's route,
method, status, duration and user (and the round and partner it is about), never a header, a cookie, a token or a
query string.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import time
from collections.abc import Callable
from typing import Any

from opentelemetry import trace
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from starlette.routing import Mount
from starlette.types import Message, Receive, Scope, Send

from offerdesk.config import Settings
from offerdesk.observe.endpoint import MetricsEndpoint, SdkMetrics, serve_metrics
from offerdesk.observe.logs import FIELDS, REQUEST_SCOPE
from offerdesk.people import People
from offerdesk.portal.security import HttpMiddleware, current_caller

PORTAL = CollectorRegistry(auto_describe=True)
REQUEST_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
UNMATCHED = "(unmatched)"

HTTP_SECONDS = Histogram(
    "offerdesk_http_request_seconds",
    "Seconds to answer a request, by route template, method and status",
    ["route", "method", "status"],
    buckets=REQUEST_BUCKETS,
    registry=PORTAL,
)
SIGNINS = Counter(
    "offerdesk_signins",
    "Sign-in attempts by outcome: done, bad_password, throttled (refused before the password was checked)",
    ["outcome"],
    registry=PORTAL,
)
DATABASE_SECONDS = Histogram(
    "offerdesk_database_seconds",
    "Seconds a call to the people's records took, by store (users, sessions, tokens, throttle, audit, notices) "
    "and call",
    ["store", "call"],
    buckets=REQUEST_BUCKETS,
    registry=PORTAL,
)
READINESS = Gauge(
    "offerdesk_readiness",
    "What /readyz found when last asked, by check (database, temporal, store, worker): 1 ok, 0 failed",
    ["check"],
    registry=PORTAL,
)
for outcome in ("done", "bad_password", "throttled"):
    SIGNINS.labels(outcome)

access = logging.getLogger("offerdesk.access")


def signin_outcome(outcome: str) -> None:
    SIGNINS.labels(outcome).inc()


def readiness_checked(checks: dict[str, bool]) -> None:
    for check, ok in checks.items():
        READINESS.labels(check).set(1 if ok else 0)


def sdk_request_metrics(name: str) -> bool:
    """The SDK's metrics a portal serves: its calls to Temporal (a worker's endpoint serves the rest)."""
    return name.startswith(("temporal_request", "temporal_long_request"))


# ---- requests ----------------------------------------------------------------------------------------


def route_of(scope: Scope) -> str:
    """The template of the route that answered (/api/rounds/{round_id}), or "(unmatched)": never the path."""
    route = scope.get("route")
    path = getattr(route, "path", None)  # the innermost route that matched (an included router's own has none)
    if not isinstance(path, str):
        return UNMATCHED
    return f"{path}/{{path}}" if isinstance(route, Mount) else path


def subject_of(scope: Scope) -> dict[str, str]:
    """The round and partner a request is about, from its path parameters (once routed)."""
    params = scope.get("path_params") or {}
    return {k: params[name] for k, name in (("round", "round_id"), ("partner", "partner")) if name in params}


def _name_span(scope: Scope) -> None:
    """The request's span named by its route ("POST /api/rounds/{round_id}"), with the round and partner."""
    span = trace.get_current_span()
    if not span.is_recording():
        return
    route = route_of(scope)
    if route != UNMATCHED:
        span.update_name(f"{scope['method']} {route}")
        span.set_attribute("http.route", route)
    span.set_attributes({f"offerdesk.{k}": v for k, v in subject_of(scope).items()})


class RequestMetrics(HttpMiddleware):
    """Pure ASGI: times every request (HTTP_SECONDS), writes its access line, and names the round and partner on
    its span. Outside the app's own middleware, so a 413 or a refusal is measured like any answer."""

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        status = 500
        REQUEST_SCOPE.set(scope)

        async def noting(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                _name_span(scope)  # routed by now, and the request's span still open
            await send(message)

        try:
            await self.app(scope, receive, noting)
        finally:
            self._done(scope, status, time.perf_counter() - started)

    @staticmethod
    def _done(scope: Scope, status: int, seconds: float) -> None:
        route = route_of(scope)
        method = scope["method"] if scope["method"] in METHODS else "OTHER"
        HTTP_SECONDS.labels(route, method, str(status)).observe(seconds)
        subject = subject_of(scope)
        if access.isEnabledFor(logging.INFO):
            who = current_caller()
            fields = {
                "method": method,
                "route": route,
                "status": status,
                "duration_ms": round(seconds * 1000, 1),
                "user": who.name if who else None,
                **subject,
            }
            line = f"{method} {route} {status} {fields['duration_ms']:g} ms {who.name if who else '-'}"
            access.info(line, extra={FIELDS: fields})


# ---- the people's records ----------------------------------------------------------------------------


class Timed:
    """One of the people's stores, each public method timed (DATABASE_SECONDS) under the store's name."""

    def __init__(self, store: Any, name: str) -> None:
        self._store = store
        self._name = name

    def __getattr__(self, attr: str) -> Any:
        value = getattr(self._store, attr)
        if attr.startswith("_") or not callable(value):
            return value
        histogram = DATABASE_SECONDS.labels(self._name, attr)

        @functools.wraps(value)
        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return value(*args, **kwargs)
            finally:
                histogram.observe(time.perf_counter() - started)

        return timed


def timed_people(people: People) -> People:
    """`people` with every call to its stores timed; the notices, opened on first use, too."""
    if isinstance(people.users, Timed):
        return people
    fields = [f.name for f in dataclasses.fields(people) if f.name not in ("open_notices", "database")]
    stores: dict[str, Any] = {name: Timed(getattr(people, name), name) for name in fields}
    opened: Callable[[], Any] = people.open_notices
    return dataclasses.replace(people, **stores, open_notices=lambda: Timed(opened(), "notices"))


# ---- the endpoint and the app ------------------------------------------------------------------------


def portal_metrics(settings: Settings, sdk_metrics: str | None) -> MetricsEndpoint | None:
    """The portal's /metrics on OFFERDESK_PORTAL_METRICS_PORT (None when unset)."""
    if settings.portal_metrics_port is None:
        return None
    sdk = SdkMetrics(sdk_metrics, sdk_request_metrics) if sdk_metrics else None
    return serve_metrics(settings.metrics_host, settings.portal_metrics_port, [PORTAL], sdk)


def span_details(scope: Scope) -> tuple[str, dict[str, str]]:
    """The request span's name before routing: its method alone, never the path as sent (RequestMetrics names the
    route once routing has found it)."""
    return str(scope.get("method") or "HTTP"), {}


def observe(app: Any) -> None:
    """Measure every request of `app` and, when tracing is on, trace it: OpenTelemetry's ASGI middleware, the one
    FastAPI's instrumentation is built on (FastAPIInstrumentor itself skips an app whose stack SecurityHeaders
    wraps whole, as the portal's is), spans named by route as it names them. The health probes a balancer sends
    every few seconds are measured, not traced. Added after RequestMetrics, so outside it: the request's span is
    current while RequestMetrics runs."""
    from offerdesk.observe.tracing import tracing_on

    app.add_middleware(RequestMetrics)
    if tracing_on():
        from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware

        app.add_middleware(
            OpenTelemetryMiddleware,
            excluded_urls="healthz,readyz",
            default_span_details=span_details,
            exclude_spans=["receive", "send"],
        )
