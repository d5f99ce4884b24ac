"""Several machines on one: each host an OFFERDESK_HOME of its own, sharing only what an installation shares.

An installation's hosts share the Temporal server, an S3 store (moto's server here), a copy of the keyring and,
once the people's records can live on a database server, OFFERDESK_DATABASE_URL: nothing else, no folder and no
file. `Installation.host` gives one machine's environment; `start_worker` (tests/workers.py) and `host_portal`
start `offerdesk worker` and `offerdesk portal` with it.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from offerdesk.devserver import free_port

OFFERDESK = str(Path(sys.executable).parent / "offerdesk")
OWN_SETTINGS = ("OFFERDESK_", "TEMPORAL_", "AWS_")
SIGNING_FILES = (("OFFERDESK_SIGNING_KEY", "signing.p12"), ("OFFERDESK_SIGNING_PASSPHRASE_FILE", "signing.pass"))
"""Variables a host never inherits from the machine running the tests: each host is given its own."""


@dataclass(frozen=True)
class Installation:
    temporal_address: str
    store_url: str
    """An s3:// store every host reaches."""
    aws: dict[str, str]
    """The S3 endpoint and credentials (AWS_ENDPOINT_URL and friends)."""
    keyring: Path
    """The installation's keyring; each host gets a copy of its own."""
    task_queue: str
    database_url: str | None = None
    """OFFERDESK_DATABASE_URL, the people's records on a database server; None while each host keeps its own
    SQLite file (OFFERDESK_HOME/portal.db), which is all today's code can do."""
    extra: dict[str, str] = field(default_factory=dict)

    def host(self, folder: Path, **extra: str) -> dict[str, str]:
        """The environment of one machine whose home is `folder`/home, holding nothing but its copies of the keyring
        and the signing identity."""
        home = folder / "home"
        home.mkdir(parents=True, exist_ok=True)
        keys = home / "keys.json"
        if not keys.exists():
            shutil.copyfile(self.keyring, keys)
            keys.chmod(0o600)
        for variable, name in SIGNING_FILES:  # and a copy of the signing identity, where it is no HSM
            source = os.environ.get(variable)
            if source and Path(source).is_file() and not (home / name).exists():
                shutil.copyfile(source, home / name)
                (home / name).chmod(0o600)
        environ = {k: v for k, v in os.environ.items() if not k.startswith(OWN_SETTINGS)}
        environ |= {
            **self.aws,
            "TEMPORAL_ADDRESS": self.temporal_address,
            "OFFERDESK_HOME": str(home),
            "OFFERDESK_KEYS_FILE": str(keys),
            "OFFERDESK_STORE_URL": self.store_url,
            "OFFERDESK_TASK_QUEUE": self.task_queue,
            **({"OFFERDESK_DATABASE_URL": self.database_url} if self.database_url else {}),
            **self.extra,
            **extra,
        }
        return environ


@asynccontextmanager
async def host_portal(environ: dict[str, str], folder: Path) -> AsyncIterator[str]:
    """`offerdesk portal` on a free port with one host's environment; its URL once /healthz answers."""
    port = free_port()
    log = folder / "portal.log"
    with log.open("ab") as out:
        process = await asyncio.create_subprocess_exec(
            OFFERDESK, "portal", "--port", str(port), env=environ, stdout=out, stderr=out
        )
    url = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient(base_url=url) as client:
            for _ in range(300):
                if process.returncode is not None:
                    raise AssertionError(f"the portal exited with {process.returncode}:\n{log.read_text()[-3000:]}")
                try:
                    if (await client.get("/healthz")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.1)
            else:
                raise AssertionError(f"the portal did not answer within 30 s:\n{log.read_text()[-3000:]}")
        yield url
    finally:
        if process.returncode is None:
            process.terminate()
        await process.wait()
