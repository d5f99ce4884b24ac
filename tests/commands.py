"""The real `offerdesk` command, run as a person runs it, against the session's dev server, store and keyring."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

from temporalio.testing import WorkflowEnvironment

from offerdesk.config import Settings

OFFERDESK = str(Path(sys.executable).parent / "offerdesk")


async def cli(env: WorkflowEnvironment, settings: Settings, *args: str, **extra: str) -> tuple[int, str, str]:
    """Its exit code, output and errors; `extra` adds to its environment, such as OFFERDESK_OPERATOR (who acts)."""
    environ = {
        **os.environ,
        "TEMPORAL_ADDRESS": env.client.service_client.config.target_host,
        "OFFERDESK_HOME": str(settings.home),
        "OFFERDESK_DATABASE_URL": settings.database,
        "COLUMNS": "250",
        **extra,
    }
    process = await asyncio.create_subprocess_exec(
        OFFERDESK, *args, env=environ, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await process.communicate()
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()
