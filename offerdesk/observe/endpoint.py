"""A Prometheus endpoint on a port of its own: Offerdesk's registry beside the Temporal SDK's metrics.

The SDK's metrics belong to the process's Temporal runtime, which serves them itself on a loopback port
(offerdesk/engine/connection.py); this endpoint reads them from there on each scrape and serves them after
Offerdesk's own, so Prometheus scrapes one port per process role: the worker's, the portal's. The SDK's text goes
through as it came (only whole families left out where a role serves a part of them): parsing and writing it
again cost the worker a few milliseconds of CPU per offer at a scrape every 5 s.
"""

from __future__ import annotations

import logging
import threading
import urllib.request
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.registry import Collector

log = logging.getLogger("offerdesk.metrics")
SDK_TIMEOUT_S = 2.0


class SdkMetrics:
    """The Temporal runtime's metrics as text, read from its own endpoint at each scrape; `keep` picks families."""

    def __init__(self, address: str, keep: Callable[[str], bool] | None = None) -> None:
        self.url = f"http://{address}/metrics"
        self.keep = keep
        self._failing = False

    def text(self) -> bytes:
        try:
            with urllib.request.urlopen(self.url, timeout=SDK_TIMEOUT_S) as answer:
                text: bytes = answer.read()
        except OSError as e:
            if not self._failing:
                log.warning("the Temporal SDK's metrics could not be read from %s: %s", self.url, e)
            self._failing = True
            return b""
        self._failing = False
        if self.keep is None:
            return text
        return b"".join(line for line in text.splitlines(keepends=True) if self.keep(_family(line)))


def _family(line: bytes) -> str:
    """The metric a line of the text format is about: `# HELP name …`, `# TYPE name …` or `name{…} value`."""
    if line.startswith(b"# "):
        parts = line.split(b" ", 3)
        return parts[2].decode() if len(parts) > 2 else ""
    return line.split(b"{", 1)[0].split(b" ", 1)[0].decode()


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _Quiet(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@dataclass
class MetricsEndpoint:
    """A running /metrics server; `close` stops it."""

    server: WSGIServer
    thread: threading.Thread

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def serve_metrics(
    host: str, port: int, collectors: Iterable[Collector], sdk: SdkMetrics | None = None
) -> MetricsEndpoint:
    """Serve `collectors` (Offerdesk's registries), then the SDK's metrics, at http://host:port/metrics in a thread
    of its own. An OSError when the port is taken."""
    ours = CollectorRegistry(auto_describe=False)
    for collector in collectors:
        ours.register(collector)

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterator[bytes]:
        body = generate_latest(ours) + (sdk.text() if sdk is not None else b"")
        start_response("200 OK", [("Content-Type", CONTENT_TYPE_LATEST), ("Content-Length", str(len(body)))])
        yield body

    server = make_server(host, port, app, _Server, handler_class=_Quiet)
    thread = threading.Thread(target=server.serve_forever, name="offerdesk-metrics", daemon=True)
    thread.start()
    return MetricsEndpoint(server, thread)
