"""What seeing it run costs (part 1's third pipeline): the round through a worker with metrics and tracing on.

A second `offerdesk worker` process serves its own task queue with OFFERDESK_WORKER_METRICS_PORT set, scraped every
5 s (Prometheus's default is 15 s), traces going over OTLP/HTTP to a sink in the benchmark's process (which answers
and counts, as a collector would take them), and JSON logs. The load generator sends that worker's offers through a
client with the tracing interceptor, as the portal would, so every update carries a trace context and the
worker's workflow side makes its spans. Its batches are interleaved with the others (see benchmarks/round.py) and
its figures set beside the plain Temporal pipeline's: `observability_overhead_cpu` is the worker's own CPU per
offer (outside rendering) with both on over the same with both off; `observability_overhead_approve_p99` the same
for the approve latency's p99.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import psutil
from temporalio.client import Client

from offerdesk.devserver import free_port
from offerdesk.engine import Engine
from offerdesk.observe.tracing import Tracing, flush_traces, setup_tracing

OBSERVED_QUEUE = "offerdesk-observed"
SCRAPE_EVERY_S = 5.0


class _Server(ThreadingHTTPServer):
    request_queue_size = 64  # a worker, its render processes and the benchmark's client export at once


class SpanSink:
    """An OTLP/HTTP endpoint that takes every export and answers 200, counting requests and bytes."""

    def __init__(self) -> None:
        self.port = free_port()
        self.requests = 0
        self.bytes = 0
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                sink.requests += 1
                sink.bytes += len(body)
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = _Server(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def close(self) -> None:
        flush_traces()  # the benchmark's own client spans, while the sink still takes them
        self.server.shutdown()
        self.server.server_close()


@contextlib.contextmanager
def span_sink() -> Iterator[SpanSink]:
    sink = SpanSink()
    try:
        yield sink
    finally:
        sink.close()


def observed_parts() -> str:
    """What the observed worker turns on: BENCH_OBSERVE (comma-separated), by default all three; one part alone
    shows what it costs."""
    return os.environ.get("BENCH_OBSERVE") or "metrics,tracing,logs"


def observed_env(env: dict[str, str], sink: SpanSink, metrics_port: int) -> dict[str, str]:
    """The observed worker's environment: its own task queue, metrics, traces to the sink, JSON logs (or those of
    them BENCH_OBSERVE names)."""
    on = set(observed_parts().split(","))
    out = {**env, "OFFERDESK_TASK_QUEUE": OBSERVED_QUEUE}
    if "metrics" in on:
        out["OFFERDESK_WORKER_METRICS_PORT"] = str(metrics_port)
    if "tracing" in on:
        out |= {
            "OTEL_EXPORTER_OTLP_ENDPOINT": sink.url,
            "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
            "OTEL_SERVICE_NAME": "offerdesk-worker-bench",
        }
    if "logs" in on:
        out["OFFERDESK_LOG_FORMAT"] = "json"
    return out


async def traced_engine(engine: Engine, sink: SpanSink) -> Engine:
    """An engine on the observed worker's queue whose client traces, as a portal's does (the load generator's
    spans go to the sink too); the benchmark's other clients stay untraced."""
    os.environ.setdefault("OTEL_EXPORTER_OTLP_ENDPOINT", sink.url)
    os.environ.setdefault("OTEL_SERVICE_NAME", "offerdesk-bench-client")
    setup_tracing("offerdesk-bench-client")
    config = engine.client.config()
    config["interceptors"] = [Tracing()]
    return Engine(Client(**config), engine.store, task_queue=OBSERVED_QUEUE, update_timeout=engine.update_timeout)


@dataclass
class ObservedWorker:
    """The worker with metrics and tracing on, and the traced engine that sends it offers."""

    engine: Engine
    process: psutil.Process
    metrics_port: int
    sink: SpanSink


@contextlib.asynccontextmanager
async def scraping(port: int) -> AsyncIterator[list[int]]:
    """Scrape the observed worker's /metrics every SCRAPE_EVERY_S while the block runs; the sizes scraped."""
    sizes: list[int] = []

    async def scrape() -> None:
        async with httpx.AsyncClient(timeout=10) as client:
            while True:
                with contextlib.suppress(httpx.HTTPError):
                    sizes.append(len((await client.get(f"http://127.0.0.1:{port}/metrics")).content))
                await asyncio.sleep(SCRAPE_EVERY_S)

    task = asyncio.create_task(scrape())
    try:
        yield sizes
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def overhead(plain: dict[str, Any], observed: dict[str, Any], sink: SpanSink, scrapes: list[int]) -> dict[str, Any]:
    """The figures of the observed pipeline and its ratios to the plain one (both summed over their batches)."""
    offers = observed["offers"]
    main_on = observed["worker_main_cpu_s"] * 1000 / offers
    main_off = plain["worker_main_cpu_ms_per_offer"]
    whole_on = observed["worker_cpu_s"] * 1000 / offers
    whole_off = plain["worker_cpu_s"] * 1000 / plain["offers"]
    p99_on, p99_off = observed["approve_latency"]["p99_ms"], plain["approve_latency"]["p99_ms"]
    return {
        "observability_overhead_cpu": main_on / main_off,
        "observability_overhead_cpu_with_render_pool": whole_on / whole_off,
        "observability_overhead_approve_p99": p99_on / p99_off,
        "observability": {
            **observed,
            "worker_main_cpu_ms_per_offer": main_on,
            "worker_cpu_ms_per_offer": whole_on,
            "parts_on": observed_parts(),
            "span_exports": sink.requests,
            "span_bytes": sink.bytes,
            "scrapes": len(scrapes),
            "scrape_bytes": max(scrapes, default=0),
            "method": "a second worker process with OFFERDESK_WORKER_METRICS_PORT (scraped every 5 s), OTLP traces "
            "to a local sink and JSON logs, its offers sent through a tracing client; its batches interleaved "
            "with the plain pipeline's (order in observability_order). The ratios: worker CPU per offer outside "
            "rendering, the same with the render pool, approve p99; on over off",
        },
    }
