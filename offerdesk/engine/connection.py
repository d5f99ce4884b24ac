"""One Temporal client per process: the runtime, TLS or an API key, the encrypting converter, payload limits,
and what observes it (the runtime's Prometheus endpoint, the tracing interceptor)."""

from __future__ import annotations

import functools
import logging
import sys
from typing import Any

from temporalio.client import Client, TLSConfig
from temporalio.runtime import LogForwardingConfig, LoggingConfig, PrometheusConfig, Runtime, TelemetryConfig
from temporalio.service import PayloadLimitsConfig

from offerdesk.config import Settings
from offerdesk.engine.errors import EngineUnavailable, cannot_reach
from offerdesk.observe.logs import json_logs

_sdk_metrics: list[str] = []
"""The loopback address where this process's runtime serves the SDK's metrics, once asked for."""


def serve_sdk_metrics() -> str:
    """Have this process's Temporal runtime serve the SDK's metrics (on a loopback port, read by the process's
    /metrics endpoints: offerdesk/observe/endpoint.py); its address. Before the first client: the runtime is made
    once per process, with its metrics or without."""
    if not _sdk_metrics:
        from offerdesk.devserver import free_port

        if client_runtime.cache_info().currsize:
            raise RuntimeError("the Temporal runtime exists already: ask for its metrics before the first client")
        _sdk_metrics.append(f"127.0.0.1:{free_port()}")
    return _sdk_metrics[0]


@functools.cache
def client_runtime(verbose: bool) -> Runtime:
    """A Temporal runtime for a worker (verbose: the SDK's warnings, on its console) or a one-shot command.

    A command's output may be JSON a script reads, and the SDK's own console log (retries while a server
    restarts) would land in it: commands silence it, and say what went wrong in a sentence on stderr instead.
    Forwarding the SDK's log to Python logging is done only where every line must be JSON
    (OFFERDESK_LOG_FORMAT=json): a line forwarded while the interpreter exits aborts the process, and the CLI
    leaves with os._exit, before the interpreter's shutdown.
    """
    logging_config = LoggingConfig(filter="off")
    if verbose and json_logs():
        forward = LogForwardingConfig(logger=logging.getLogger("temporalio.core"), overwrite_log_record_time=False)
        logging_config = LoggingConfig(filter=LoggingConfig.default.filter, forwarding=forward)
    elif verbose:
        logging_config = LoggingConfig.default
    metrics = None
    if _sdk_metrics:
        # The SDK's duration metrics in seconds with their unit in the name, counters with _total: Prometheus's
        # own conventions (temporal_workflow_task_schedule_to_start_latency_seconds_bucket, ...).
        metrics = PrometheusConfig(
            bind_address=_sdk_metrics[0], counters_total_suffix=True, unit_suffix=True, durations_as_seconds=True
        )
    return Runtime(telemetry=TelemetryConfig(logging=logging_config, metrics=metrics))


async def connect(settings: Settings, verbose: bool = False) -> Client:
    tls: bool | TLSConfig = False
    if settings.tls:
        tls = TLSConfig(
            server_root_ca_cert=settings.tls_ca.read_bytes() if settings.tls_ca else None,
            client_cert=settings.tls_cert.read_bytes() if settings.tls_cert else None,
            client_private_key=settings.tls_key.read_bytes() if settings.tls_key else None,
        )
    try:
        return await Client.connect(
            settings.address,
            namespace=settings.namespace,
            tls=tls,
            api_key=settings.api_key,
            data_converter=settings.converter(),
            runtime=client_runtime(verbose),
            payload_limits=PAYLOAD_LIMITS,
            interceptors=_interceptors(),
        )
    except RuntimeError:
        raise EngineUnavailable(cannot_reach(settings.address, settings.embedded)) from None


def _interceptors() -> list[Any]:
    """The tracing interceptor when this process has set up tracing (offerdesk.observe.tracing.setup_tracing),
    else none. A process that never imported the tracing module has not set it up, and need not load it, nor the
    OpenTelemetry SDK and the Temporal worker it imports: a one-shot command's start (issue 26)."""
    if "offerdesk.observe.tracing" not in sys.modules:
        return []
    from offerdesk.observe.tracing import client_interceptors

    return list(client_interceptors())


PAYLOAD_LIMITS = PayloadLimitsConfig(memo_warn_size=64 * 1024)
"""An offer's memo is its card: about 4 KB, plus some 750 bytes a version (12 KB at ten versions), whatever the
document's size. The SDK warns from 2 KB, which would log a warning on every approval."""
