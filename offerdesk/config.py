"""Settings from the environment: where data lives and which Temporal to use."""

from __future__ import annotations

import getpass
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, overload

from temporalio.converter import DataConverter

from activities.capacity import usable_cpus
from activities.signing.identity import SigningConfig
from activities.store import ObjectStore, open_store
from offerdesk.converter import Keyring, data_converter
from offerdesk.observe.logs import log_format
from workflows.names import TASK_QUEUE

if TYPE_CHECKING:
    from activities.smtp import Mailer


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


def _count(value: str | None, default: int, name: str, most: int = 1024) -> int:
    if not value or not value.strip():
        return default
    try:
        count = int(value)
    except ValueError:
        raise ValueError(f"{name} is a whole number, such as 4; not {value!r}") from None
    if not 1 <= count <= most:
        raise ValueError(f"{name} must be between 1 and {most}; {value} is not")
    return count


DRAIN_S = 60.0
"""How long a stopping worker lets the letters and notices it runs finish. The longest letter is a 25,000-line
offer's (the most an offer holds), measured on a shared 2-core machine: 0.7 to 2.2 s at normal priority, 1.9 to
6.6 s in a warm render process (SCHED_IDLE, at load 4 to 11), 4.4 to 12.2 s in a fresh one including its start.
A minute is five times the worst of those; a notice's SMTP conversation gives up after 20 s of silence."""


N = TypeVar("N", int, float)


@overload
def _number(
    value: str | None, name: str, parse: type[N], low: N, high: N, what: str, default: N, unit: str = ""
) -> N: ...
@overload
def _number(
    value: str | None, name: str, parse: type[N], low: N, high: N, what: str, default: None, unit: str = ""
) -> N | None: ...
def _number(
    value: str | None, name: str, parse: type[N], low: N, high: N, what: str, default: N | None, unit: str = ""
) -> N | None:
    """A number between `low` and `high` (in `unit`) from the variable `name`, or `default` when unset; `what`
    says what it is, with an example, for the sentence that refuses anything else."""
    if not value or not value.strip():
        return default
    try:
        number = parse(value)
    except ValueError:
        raise ValueError(f"{name} is {what}; not {value!r}") from None
    if not low <= number <= high:
        bounds = f"{low:g} and {high:g} {unit}".rstrip()
        raise ValueError(f"{name} must be between {bounds}; {value.strip()} is not")
    return number


def _drain(value: str | None) -> float:
    what = "a number of seconds, such as 60"
    return _number(value, "OFFERDESK_WORKER_DRAIN_S", float, 0.0, 3600.0, what, DRAIN_S, unit="seconds")


def mail_slots_for(cpus: int) -> int:
    """Notices sent at once: each is an SMTP conversation, mostly waiting on the network, so four per CPU, at most
    16 (a mail server takes only so many connections from one client)."""
    return min(16, 4 * cpus)


def _port(value: str | None, name: str) -> int | None:
    """A TCP port, or None when unset (the endpoint is off)."""
    return _number(value, name, int, 1, 65535, "a port number, such as 9464", None)


def _flag(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true", "yes", "on")


DATABASE_SCHEMES = ("postgresql://", "postgres://", "postgresql+psycopg://", "sqlite:///")


def _database_url(value: str | None) -> str | None:
    if not value or not value.strip():
        return None
    url = value.strip()
    if not url.startswith(DATABASE_SCHEMES):
        scheme = url.split("://", 1)[0] + "://" if "://" in url else "no scheme"
        raise ValueError(
            "OFFERDESK_DATABASE_URL is postgresql://user:password@host:5432/name or sqlite:///path/portal.db; "
            f"not {scheme}"
        )
    return url


def _pool_size(value: str | None) -> int:
    what = "a number of connections, such as 5"
    return _number(value, "OFFERDESK_DATABASE_POOL_SIZE", int, 1, 100, what, 5, unit="connections")


MAX_NAME = 200
"""The longest name an offer records for whoever acts (schemas.review.Name)."""


def default_operator() -> str:
    """The OS user running the command, or "operator" when the system cannot say."""
    try:
        name = getpass.getuser().strip()
    except Exception:  # no LOGNAME/USER and no passwd entry (a container's arbitrary uid): OSError or KeyError
        return "operator"
    return name[:MAX_NAME] or "operator"


def _operator(value: str | None) -> str:
    if value is None or not value.strip():
        return default_operator()
    name = value.strip()
    if len(name) > MAX_NAME:
        raise ValueError(f"OFFERDESK_OPERATOR is a name of at most {MAX_NAME} characters; it has {len(name)}")
    return name


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
    """OFFERDESK_PORTAL_DB: the embedded SQLite file of the people's records when OFFERDESK_DATABASE_URL is unset;
    defaults to OFFERDESK_HOME/portal.db."""
    database_url: str | None = None
    """OFFERDESK_DATABASE_URL: the people's records (users, sessions, API tokens, the sign-in throttle, the audit
    log, notices): postgresql://user:password@host:5432/name, or sqlite:///path; unset means the SQLite file at
    portal_db. Every portal, worker and CLI of one installation on several machines shares one PostgreSQL."""
    database_pool_size: int = 5
    """OFFERDESK_DATABASE_POOL_SIZE: connections each process keeps open to that database (and as many again
    for a moment under load)."""
    cookie_secure: bool = True
    """OFFERDESK_COOKIE_SECURE=0 only behind a plain-HTTP proxy that is not localhost; browsers keep
    Secure cookies on http://127.0.0.1 and http://localhost."""
    keys_file: Path = Path(".offerdesk/keys.json")
    """OFFERDESK_KEYS_FILE: the keyring that encrypts every payload; defaults to OFFERDESK_HOME/keys.json."""
    accept_plaintext: bool = False
    """OFFERDESK_ACCEPT_PLAINTEXT=1 reads payloads written before encryption (a migration, see the README)."""
    ui_origins: tuple[str, ...] = ()
    """OFFERDESK_UI_ORIGINS: where the Temporal UI runs, allowed to call the portal's codec endpoint (CORS)."""
    trusted_proxies: tuple[str, ...] = ()
    """OFFERDESK_TRUSTED_PROXIES: addresses (or networks, comma-separated) of reverse proxies whose X-Forwarded-For
    and X-Forwarded-Proto the portal believes; none by default, so the throttle and the audit log use the peer's
    own address and nobody can name another by sending a header."""
    update_timeout: float = 10.0
    """OFFERDESK_UPDATE_TIMEOUT: seconds a change waits for the offer to answer; a request that reaches it later
    (no worker was running) is refused as stale, never applied behind the caller's back."""
    smtp_url: str | None = None
    """OFFERDESK_SMTP_URL: smtp://[user:password@]host[:port] (STARTTLS when offered) or smtps://...; unset means
    no mail is sent and people read their notices on the portal's notifications page."""
    mail_from: str = "Offerdesk <offerdesk@localhost>"
    """OFFERDESK_MAIL_FROM: the sender of notices."""
    public_url: str = ""
    """OFFERDESK_PUBLIC_URL: the portal's address as people reach it, the base of links in notices; by default
    the portal's own address (OFFERDESK_PORTAL_HOST and OFFERDESK_PORTAL_PORT)."""
    task_queue: str = TASK_QUEUE
    """OFFERDESK_TASK_QUEUE: the workers' task queue (notices use it with "-mail" appended)."""
    render_processes: int = field(default_factory=usable_cpus)
    """OFFERDESK_RENDER_PROCESSES: the worker's processes rendering letters; one per CPU it may use (affinity and
    cgroup quota, activities/capacity.py)."""
    activity_slots: int | None = None
    """OFFERDESK_ACTIVITY_SLOTS: activities (letters, validations, audit chunks) a worker runs at once; unset means
    as many as it has render processes, so it never holds a letter it has no process for."""
    mail_slots: int = field(default_factory=lambda: mail_slots_for(usable_cpus()))
    """OFFERDESK_MAIL_SLOTS: notices a worker mails at once; four per usable CPU, at most 16."""
    worker_drain_s: float = DRAIN_S
    """OFFERDESK_WORKER_DRAIN_S: on SIGTERM a worker stops taking work and gives what it runs this long to finish."""
    signing_key: str = ".offerdesk/signing.p12"
    """OFFERDESK_SIGNING_KEY: the office's signing identity, a PKCS#12 file or a pkcs11: URI (an HSM); by default
    OFFERDESK_HOME/signing.p12, the development identity `offerdesk up` makes."""
    signing_passphrase_file: Path | None = None
    """OFFERDESK_SIGNING_PASSPHRASE_FILE: the PKCS#12 file's passphrase (or the token's PIN); by default
    OFFERDESK_HOME/signing.pass."""
    pkcs11_module: str | None = None
    """OFFERDESK_PKCS11_MODULE: the HSM's PKCS#11 library, for a pkcs11: signing key."""
    tsa_url: str | None = None
    """OFFERDESK_TSA_URL: an RFC 3161 timestamp authority; letters are then PAdES B-T, else B-B."""
    signing_trust: Path | None = None
    """OFFERDESK_SIGNING_TRUST: more certificates (PEM) letters are checked against besides the signing
    certificate: older signing certificates after a rotation, the office's CA, the timestamp authority's root."""
    operator: str = field(default_factory=default_operator)
    """OFFERDESK_OPERATOR: who acts when the CLI submits, reviews or decides; the OS user name by default.
    Offers record it as the account that acted, the same person as the portal user of that name: whoever
    submitted an offer may not review or decide it."""

    worker_metrics_port: int | None = None
    """OFFERDESK_WORKER_METRICS_PORT: the worker serves Prometheus metrics at /metrics on this port; unset, off."""
    portal_metrics_port: int | None = None
    """OFFERDESK_PORTAL_METRICS_PORT: the portal serves its Prometheus metrics at /metrics on this port, never on
    the public one; unset, off."""
    metrics_host: str = "127.0.0.1"
    """OFFERDESK_METRICS_HOST: the address both metrics endpoints listen on; 0.0.0.0 for a Prometheus elsewhere."""
    log_format: str = "text"
    """OFFERDESK_LOG_FORMAT: text for people at a terminal, or json (one object per line) for a log pipeline."""

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
        ui_port = int(e.get("OFFERDESK_UI_PORT") or 8233)
        portal_host = e.get("OFFERDESK_PORTAL_HOST") or "127.0.0.1"
        portal_port = int(e.get("OFFERDESK_PORTAL_PORT") or 8000)
        shown_host = "127.0.0.1" if portal_host in ("0.0.0.0", "::") else portal_host
        cpus = usable_cpus()
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
            ui_port=ui_port,
            portal_host=portal_host,
            portal_port=portal_port,
            smtp_url=e.get("OFFERDESK_SMTP_URL") or None,
            mail_from=e.get("OFFERDESK_MAIL_FROM") or "Offerdesk <offerdesk@localhost>",
            public_url=(e.get("OFFERDESK_PUBLIC_URL") or f"http://{shown_host}:{portal_port}").rstrip("/") + "/",
            task_queue=e.get("OFFERDESK_TASK_QUEUE") or TASK_QUEUE,
            portal_db=path("OFFERDESK_PORTAL_DB") or home / "portal.db",
            database_url=_database_url(e.get("OFFERDESK_DATABASE_URL")),
            database_pool_size=_pool_size(e.get("OFFERDESK_DATABASE_POOL_SIZE")),
            cookie_secure=e.get("OFFERDESK_COOKIE_SECURE", "1").strip().lower() not in ("0", "false", "no", "off"),
            update_timeout=_seconds(e.get("OFFERDESK_UPDATE_TIMEOUT"), 10.0, "OFFERDESK_UPDATE_TIMEOUT"),
            operator=_operator(e.get("OFFERDESK_OPERATOR")),
            worker_metrics_port=_port(e.get("OFFERDESK_WORKER_METRICS_PORT"), "OFFERDESK_WORKER_METRICS_PORT"),
            portal_metrics_port=_port(e.get("OFFERDESK_PORTAL_METRICS_PORT"), "OFFERDESK_PORTAL_METRICS_PORT"),
            metrics_host=e.get("OFFERDESK_METRICS_HOST") or "127.0.0.1",
            log_format=log_format(e.get("OFFERDESK_LOG_FORMAT")),
            render_processes=_count(e.get("OFFERDESK_RENDER_PROCESSES"), cpus, "OFFERDESK_RENDER_PROCESSES", 256),
            activity_slots=_count(e.get("OFFERDESK_ACTIVITY_SLOTS"), 0, "OFFERDESK_ACTIVITY_SLOTS") or None,
            mail_slots=_count(e.get("OFFERDESK_MAIL_SLOTS"), mail_slots_for(cpus), "OFFERDESK_MAIL_SLOTS", 256),
            worker_drain_s=_drain(e.get("OFFERDESK_WORKER_DRAIN_S")),
            keys_file=path("OFFERDESK_KEYS_FILE") or home / "keys.json",
            signing_key=e.get("OFFERDESK_SIGNING_KEY") or str(home / "signing.p12"),
            signing_passphrase_file=path("OFFERDESK_SIGNING_PASSPHRASE_FILE") or home / "signing.pass",
            pkcs11_module=e.get("OFFERDESK_PKCS11_MODULE") or None,
            tsa_url=e.get("OFFERDESK_TSA_URL") or None,
            signing_trust=path("OFFERDESK_SIGNING_TRUST"),
            accept_plaintext=_flag(e.get("OFFERDESK_ACCEPT_PLAINTEXT")),
            trusted_proxies=tuple(p.strip() for p in e.get("OFFERDESK_TRUSTED_PROXIES", "").split(",") if p.strip()),
            ui_origins=tuple(o.strip().rstrip("/") for o in e.get("OFFERDESK_UI_ORIGINS", "").split(",") if o.strip())
            or (f"http://127.0.0.1:{ui_port}", f"http://localhost:{ui_port}"),
        )

    def server_options(self) -> dict[str, Any]:
        """How uvicorn serves the portal: forwarded headers believed from the trusted proxies alone, if any."""
        return {
            "host": self.portal_host,
            "port": self.portal_port,
            "log_level": "warning",
            "proxy_headers": bool(self.trusted_proxies),
            "forwarded_allow_ips": list(self.trusted_proxies) or None,
            # JSON lines: uvicorn's own loggers go through the process's JSON handler rather than its text format.
            **({"log_config": None} if self.log_format == "json" else {}),
        }

    def converter(self) -> DataConverter:
        """The data converter every client of this installation uses: pydantic's, encrypted with the keyring."""
        return data_converter(Keyring.load(self.keys_file), self.accept_plaintext)

    def mailer(self) -> Mailer | None:
        """The SMTP mailer of OFFERDESK_SMTP_URL, or None when mail is not configured (a MailConfigError if wrong)."""
        if self.smtp_url is None:
            return None
        from activities.smtp import Mailer, SmtpSettings  # smtplib for the worker, not every command

        return Mailer(SmtpSettings.from_url(self.smtp_url, self.mail_from))

    def signing(self) -> SigningConfig:
        """The identity letters are signed with, and the timestamp authority, as the render processes take them."""
        key = self.signing_key
        if not key.startswith("pkcs11:"):
            key = str(Path(key).expanduser().absolute())
        return SigningConfig(
            key=key,
            passphrase_file=str(self.signing_passphrase_file) if self.signing_passphrase_file else None,
            pkcs11_module=self.pkcs11_module,
            tsa_url=self.tsa_url,
            trust_file=str(self.signing_trust) if self.signing_trust else None,
        )

    @property
    def dev_signer(self) -> bool:
        """Whether the signing identity is the development one `offerdesk up` makes (OFFERDESK_SIGNING_KEY unset)."""
        return self.signing_key == str(self.home / "signing.p12")

    def store(self) -> ObjectStore:
        """The store this installation shares between its workers, CLI and portal."""
        return open_store(self.store_url, self.home)

    @property
    def database(self) -> str:
        """The URL of the people's records: OFFERDESK_DATABASE_URL, or the SQLite file at portal_db."""
        if self.database_url:
            return self.database_url
        return "sqlite:///" + str(self.portal_db)

    @property
    def embedded_database(self) -> bool:
        """Whether the people's records are a SQLite file on this machine (which `offerdesk up` upgrades itself)."""
        return self.database.startswith("sqlite:")

    @property
    def embedded(self) -> bool:
        return self.temporal_address is None

    @property
    def address(self) -> str:
        return self.temporal_address or f"127.0.0.1:{self.temporal_port}"
