"""Settings from the environment: where data lives and which Temporal to use."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from activities.store import ObjectStore, open_store


def _seconds(value: str | None, default: float, name: str) -> float:
    if not value:
        return default
    try:
        seconds = float(value)
    except ValueError:
        raise ValueError(f"{name} is a number of seconds, such as 10; not {value!r}") from None
    if not 2 <= seconds <= 3600:
        raise ValueError(f"{name} must be between 2 and 3600 seconds; {value} is not")
    return seconds


def _flag(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true", "yes", "on")


@dataclass(frozen=True)
class Settings:
    home: Path
    """OFFERDESK_HOME: the Temporal database of the embedded server and, by default, the store live here."""
    temporal_address: str | None
    """TEMPORAL_ADDRESS; unset means the embedded dev server on 127.0.0.1:OFFERDESK_TEMPORAL_PORT."""
    namespace: str
    tls: bool
    tls_cert: Path | None
    tls_key: Path | None
    tls_ca: Path | None
    api_key: str | None
    store_url: str | None
    """OFFERDESK_STORE_URL: where documents and letters live (a folder, file:///path or s3://bucket/prefix);
    unset means OFFERDESK_HOME/store. Every worker, CLI and portal of one installation must share it."""
    temporal_port: int
    ui_port: int
    portal_host: str = "127.0.0.1"
    """OFFERDESK_PORTAL_HOST and OFFERDESK_PORTAL_PORT: where `offerdesk up` and `offerdesk portal` serve."""
    portal_port: int = 8000
    portal_db: Path = Path(".offerdesk/portal.db")
    """OFFERDESK_PORTAL_DB: users, API tokens, sessions and the audit log; defaults to OFFERDESK_HOME/portal.db."""
    cookie_secure: bool = True
    """OFFERDESK_COOKIE_SECURE=0 only behind a plain-HTTP proxy that is not localhost; browsers keep
    Secure cookies on http://127.0.0.1 and http://localhost."""
    update_timeout: float = 10.0
    """OFFERDESK_UPDATE_TIMEOUT: seconds a change waits for the offer to answer; a request that reaches it later
    (no worker was running) is refused as stale, never applied behind the caller's back."""

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        e = dict(os.environ if env is None else env)
        home = Path(e.get("OFFERDESK_HOME") or ".offerdesk").expanduser().resolve()

        def path(name: str) -> Path | None:
            return Path(e[name]).expanduser() if e.get(name) else None

        cert, key, ca = (
            path("TEMPORAL_TLS_CLIENT_CERT_PATH"),
            path("TEMPORAL_TLS_CLIENT_KEY_PATH"),
            path("TEMPORAL_TLS_SERVER_CA_CERT_PATH"),
        )
        api_key = e.get("TEMPORAL_API_KEY") or None
        return cls(
            home=home,
            temporal_address=e.get("TEMPORAL_ADDRESS") or None,
            namespace=e.get("TEMPORAL_NAMESPACE") or "default",
            tls=_flag(e.get("TEMPORAL_TLS")) or bool(cert or ca or api_key),
            tls_cert=cert,
            tls_key=key,
            tls_ca=ca,
            api_key=api_key,
            store_url=e.get("OFFERDESK_STORE_URL") or None,
            temporal_port=int(e.get("OFFERDESK_TEMPORAL_PORT") or 7233),
            ui_port=int(e.get("OFFERDESK_UI_PORT") or 8233),
            portal_host=e.get("OFFERDESK_PORTAL_HOST") or "127.0.0.1",
            portal_port=int(e.get("OFFERDESK_PORTAL_PORT") or 8000),
            portal_db=path("OFFERDESK_PORTAL_DB") or home / "portal.db",
            cookie_secure=e.get("OFFERDESK_COOKIE_SECURE", "1").strip().lower() not in ("0", "false", "no", "off"),
            update_timeout=_seconds(e.get("OFFERDESK_UPDATE_TIMEOUT"), 10.0, "OFFERDESK_UPDATE_TIMEOUT"),
        )

    def store(self) -> ObjectStore:
        """The store this installation shares between its workers, CLI and portal."""
        return open_store(self.store_url, self.home)

    @property
    def embedded(self) -> bool:
        return self.temporal_address is None

    @property
    def address(self) -> str:
        return self.temporal_address or f"127.0.0.1:{self.temporal_port}"
