"""One Temporal client per process: the runtime, TLS or an API key, the encrypting converter, payload limits."""

from __future__ import annotations

import functools

from temporalio.client import Client, TLSConfig
from temporalio.runtime import LoggingConfig, Runtime, TelemetryConfig
from temporalio.service import PayloadLimitsConfig

from offerdesk.config import Settings
from offerdesk.engine.errors import EngineUnavailable, cannot_reach


@functools.cache
def client_runtime(verbose: bool) -> Runtime:
    """A Temporal runtime for a worker (verbose: the SDK's warnings, on its console) or a one-shot command.

    A command's output may be JSON a script reads, and the SDK's own console log (retries while a server
    restarts) would land in it: commands silence it, and say what went wrong in a sentence on stderr instead.
    Forwarding the SDK's log to Python logging is not an option: a line forwarded while the interpreter exits
    aborts the process.
    """
    logging_config = LoggingConfig.default if verbose else LoggingConfig(filter="off")
    return Runtime(telemetry=TelemetryConfig(logging=logging_config))


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
        )
    except RuntimeError:
        raise EngineUnavailable(cannot_reach(settings.address, settings.embedded)) from None


PAYLOAD_LIMITS = PayloadLimitsConfig(memo_warn_size=64 * 1024)
"""An offer's memo is its card: about 4 KB, plus some 750 bytes a version (12 KB at ten versions), whatever the
document's size. The SDK warns from 2 KB, which would log a warning on every approval."""
