"""A real S3 API to test against: moto's server, started as a subprocess on a free local port.

Nothing is downloaded: moto is a PyPI package and serves S3 from memory.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import botocore.config

from offerdesk.devserver import free_port, stop_process

HOST = "127.0.0.1"
CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing", "region_name": "us-east-1"}


@dataclass(frozen=True)
class S3Server:
    endpoint: str

    def client(self, **config: Any) -> Any:
        """A boto3 S3 client for this server with dummy credentials; `config` goes to botocore's Config."""
        return boto3.session.Session().client(
            "s3", endpoint_url=self.endpoint, config=botocore.config.Config(**config), **CREDENTIALS
        )

    def new_bucket(self, client: Any | None = None) -> str:
        """Create a bucket with a fresh name, so tests sharing the server never see each other's objects."""
        name = f"test-{uuid.uuid4().hex[:20]}"
        (client or self.client()).create_bucket(Bucket=name)
        return name


def _answers(port: int) -> bool:
    try:
        with socket.create_connection((HOST, port), timeout=0.2):
            return True
    except OSError:
        return False


@contextmanager
def s3_server(timeout: float = 20.0) -> Iterator[S3Server]:
    """Start `python -m moto.server`, wait until its port answers, and stop it at the end."""
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="moto-") as tmp:
        log_path = Path(tmp) / "moto.log"
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "moto.server", "-H", HOST, "-p", str(port)],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=env,
            )
        try:
            deadline = time.monotonic() + timeout
            while not _answers(port):
                if process.poll() is not None:
                    raise RuntimeError(
                        f"the moto S3 server exited with code {process.returncode} before answering on port {port}:\n"
                        + log_path.read_text(errors="replace")[-4000:]
                    )
                if time.monotonic() > deadline:
                    raise RuntimeError(
                        f"the moto S3 server did not answer on {HOST}:{port} within {timeout:.0f} s:\n"
                        + log_path.read_text(errors="replace")[-4000:]
                    )
                time.sleep(0.05)
            yield S3Server(endpoint=f"http://{HOST}:{port}")
        finally:
            stop_process(process, timeout=5)
