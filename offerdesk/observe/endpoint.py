"""A Prometheus endpoint on a port of its own: Offerdesk's registry beside the Temporal SDK's metrics.

The SDK's metrics belong to the process's Temporal runtime, which serves them itself on a loopback port
(offerdesk/engine/connection.py); this endpoint reads them from there on each scrape and serves them with
Offerdesk's own, so Prometheus scrapes one port per process role: the worker's, the portal's.
"""

from __future__ import annotations

import logging
import urllib.request
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from threading import Thread
from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.metrics_core import Metric
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.registry import Collector

log = logging.getLogger("offerdesk.metrics")
SDK_TIMEOUT_S = 2.0


class SdkMetrics(Collector):
    """The Temporal runtime's metrics, read from its own endpoint at each scrape; `keep` picks families by name."""

    def __init__(self, address: str, keep: Callable[[str], bool] | None = None) -> None:
        self.url = f"http://{address}/metrics"
        self.keep = keep or (lambda name: True)
        self._failing = False

    def collect(self) -> Iterable[Metric]:
        try:
            with urllib.request.urlopen(self.url, timeout=SDK_TIMEOUT_S) as answer:
                text = answer.read().decode()
        except OSError as e:
            if not self._failing:
                log.warning("the Temporal SDK's metrics could not be read from %s: %s", self.url, e)
            self._failing = True
            return []
        self._failing = False
        return [family for family in text_string_to_metric_families(text) if self.keep(family.name)]


@dataclass
class MetricsEndpoint:
    """A running /metrics server; `close` stops it."""

    server: WSGIServer
    thread: Thread

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def serve_metrics(host: str, port: int, collectors: Iterable[Collector]) -> MetricsEndpoint:
    """Serve `collectors` (registries, the SDK's metrics) at http://host:port/metrics, in a thread of its own.

    An OSError (the port is taken) says which port and what sets it."""
    everything = CollectorRegistry(auto_describe=False)
    for collector in collectors:
        everything.register(collector)
    server, thread = start_http_server(port, host, everything)
    return MetricsEndpoint(server, thread)
