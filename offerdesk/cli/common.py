"""What every command shares: the consoles, the exit codes, and turning failures into sentences."""

from __future__ import annotations

import asyncio
import errno
import json
import logging
import os
import stat
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from pydantic import BaseModel, ValidationError
from rich.console import Console
from temporalio.service import RPCError

from offerdesk.config import Settings
from offerdesk.engine import Engine, EngineUnavailable, Refused
from offerdesk.observe.logs import LoggingConsole, json_logs
from offers.documents import UnusableInputError
from offers.reference import UnknownPartnerError
from schemas.refusal import Refusal

out = Console()
err = Console(stderr=True)
T = TypeVar("T")
log = logging.getLogger("offerdesk.cli")


class News:
    """What a running command (up, worker, portal) tells people: on its console, or with OFFERDESK_LOG_FORMAT=json
    as log lines like every other line the process writes. A command's output (a table, --json) is not news."""

    def __init__(self, console: Console, level: int) -> None:
        self._console = console
        self._logged = LoggingConsole(log, level)

    def print(self, *objects: Any, **kwargs: Any) -> None:
        (self._logged if json_logs() else self._console).print(*objects, **kwargs)


say = News(out, logging.INFO)
warn = News(err, logging.WARNING)

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


def fail(message: str, code: int) -> typer.Exit:
    if json_logs():
        log.error(message, extra={"offerdesk": {"exit_code": code}})
    else:
        err.print(f"[red]error:[/] {message}", highlight=False, markup=True)
    return typer.Exit(code)


REFUSED = 1
"""Exit code for 'the engine said no': late, not invited, already approved, a conflict, ... (the message says why)."""
UNUSABLE = 2
"""Exit code for input that cannot be used as it is: fix it and run the command again."""
OUTAGE = 3
"""Exit code for 'cannot reach Temporal', 'no worker is running' and 'the store is away': scripts can retry."""

EXIT_CODES: dict[Refusal, int] = {
    **{kind: REFUSED for kind in Refusal},
    Refusal.INVALID: UNUSABLE,
    Refusal.INVALID_REQUEST: UNUSABLE,
    Refusal.INVALID_DOCUMENT: UNUSABLE,
    Refusal.TOO_LARGE: UNUSABLE,
}
"""Every refusal's exit code. Refusals of the engine are 1 (README: Commands), whatever their kind: a rate out of
bounds is refused by the offer, against its state and bounds, not by the command's parsing (which exits 2)."""


def write_output(target: Path, data: bytes) -> None:
    """Write a command's file, or exit 2 with a sentence: a missing folder, a folder, a full disk, no permission,
    a name too long.

    A file is written beside its target (the file a link points to) and renamed over it once whole, keeping the
    mode of a file that was there: a failure leaves no half-written letter or export, and the file that was there
    stays as it was. What is no regular file (a device such as /dev/full, a pipe behind /dev/stdout) is written
    in place.
    """
    try:
        if target.exists() and not target.is_file():
            if target.is_dir():
                raise IsADirectoryError(errno.EISDIR, "is a folder", str(target))
            with target.open("wb") as f:
                f.write(data)
            return
        _write_whole(Path(os.path.realpath(target)), data)
    except OSError as e:
        why = {
            errno.ENOENT: f"the folder {target.parent} does not exist",
            errno.ENOTDIR: f"{target.parent} is not a folder",
            errno.EISDIR: "it is a folder; name a file",
            errno.ENOSPC: "the disk is full",
            errno.EDQUOT: "the disk quota is used up",
            errno.EFBIG: "the file would be too large",
            errno.EACCES: "permission denied",
            errno.EROFS: "the file system is read-only",
            errno.ENAMETOOLONG: "the file name is too long",
        }.get(e.errno or 0, e.strerror or str(e))
        raise fail(f"cannot write {target}: {why}; nothing was written", UNUSABLE) from None


def _write_whole(target: Path, data: bytes) -> None:
    """Write `data` to a new file in `target`'s folder, synced, and rename it to `target`: with the mode of the file
    it replaces, or the mode a new file gets."""
    if target.exists():
        mode = stat.S_IMODE(target.stat().st_mode)
    else:
        umask = os.umask(0)
        os.umask(umask)
        mode = 0o666 & ~umask
    fd, part = tempfile.mkstemp(dir=target.parent, prefix=".offerdesk-", suffix=".part")
    try:
        with open(fd, "wb", closefd=True) as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(part, mode)
        os.replace(part, target)
    except BaseException:
        Path(part).unlink(missing_ok=True)
        raise


def load_settings() -> Settings:
    try:
        return Settings.from_env()
    except ValueError as e:
        raise fail(str(e), 2) from None


def call(work: Callable[[Engine], Awaitable[T]]) -> T:
    """Connect, run, and turn every failure a person can cause into a message and an exit code."""
    settings = load_settings()

    async def main() -> T:
        return await work(await Engine.from_settings(settings))

    try:
        return asyncio.run(main())
    except Refused as e:
        raise fail(e.message, EXIT_CODES[e.kind]) from None
    except EngineUnavailable as e:
        raise fail(str(e), OUTAGE) from None
    except (UnusableInputError, ValueError) as e:
        raise fail(str(e), 2) from None
    except RPCError as e:
        hint = (
            "; register Offerdesk's search attributes in the namespace (README: Running against a Temporal cluster)"
            if "search attribute" in e.message
            else ""
        )
        raise fail(f"Temporal refused the call: {e.message}{hint}", 1) from None


def parse_input(parse: Callable[[], T]) -> T:
    try:
        return parse()
    except ValidationError as e:
        raise fail("; ".join(f"{'.'.join(map(str, x['loc']))}: {x['msg']}" for x in e.errors()), 2) from None
    except (UnusableInputError, UnknownPartnerError, ValueError) as e:
        raise fail(str(e), 2) from None


def print_json(model: BaseModel | list[Any] | dict[str, Any]) -> None:
    print(model.model_dump_json(indent=2) if isinstance(model, BaseModel) else json.dumps(model, indent=2, default=str))


def operator() -> str:
    """Who acts from the command line: OFFERDESK_OPERATOR, or the OS user name. Never a name in a document."""
    return load_settings().operator


def as_operator(make: Callable[[str], T]) -> T:
    """The request `make` builds for the operator, parsed: a field out of bounds is exit 2 with its sentence."""
    by = operator()
    return parse_input(lambda: make(by))
