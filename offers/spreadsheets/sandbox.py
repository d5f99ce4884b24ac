"""Reading a workbook in a process of its own, under a memory and a time limit.

A workbook is hostile until read: whatever `offers.spreadsheets.bounds` does not foresee, openpyxl may take
gigabytes or minutes over. So the caller (the portal's upload, the CLI) never reads one itself:
`read_in_child` starts a fresh Python (`sys.executable -I`, not a fork of the caller and its threads), hands it
the bytes on stdin, and waits. The child limits its own address space (`WORKBOOK_MEMORY`), CPU time and file
writes, dies with its caller (PR_SET_PDEATHSIG), checks the bounds, reads the workbook and answers on stdout: the
offer as JSON, or the refusal's sentence and fields. The caller kills it after `WORKBOOK_SECONDS`. Either way
the caller gets an offer or an `UnusableInputError` naming the limit, its own memory grows only by the file and
the offer, and it holds no lock while it waits (the GIL included), so a portal goes on answering other requests.

The child answers as JSON, never pickle: what comes back from a process that read a hostile file is parsed as data.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import resource
import signal
import subprocess
import sys
import threading
import warnings
from pathlib import Path

from offers.inputs import MAX_OFFER_BYTES, UnusableInputError
from schemas.offer import OfferDocument

WORKBOOK_SECONDS = 12.0
"""Processor time the child may use (RLIMIT_CPU): what bounds a hostile file. A full schedule of 25,000 tariff
lines takes 1 to 2 s."""
WORKBOOK_WAIT_SECONDS = 60.0
"""Wall-clock time the caller waits for the child: more than its processor time, so that a busy machine slows a
real schedule down but does not refuse it."""
WORKBOOK_MEMORY = 512 << 20
"""Address space the child may map (RLIMIT_AS), its interpreter and libraries included (about 60 MiB of it);
reading a 25,000-line workbook needs about 120 MiB."""

_ROOT = str(Path(__file__).resolve().parents[2])
"""Where this `offers` package is: the child imports the same one."""
_BOOT = (
    "import json, sys; sys.path[:0] = json.loads(sys.argv[1]); from offers.spreadsheets.sandbox import child; child()"
)
"""The child's program: `-I` keeps the environment's PYTHON* variables out; the caller's own import path (this
package's folder first) comes in, so that the child imports what the caller does, wherever it is installed."""
READERS_AT_ONCE = 2
"""Workbooks read at once by one process (one child each, up to `WORKBOOK_MEMORY` apiece); a portal allows one per
CPU it may use (`allow_readers`, from activities.capacity)."""
READER_QUEUE_SECONDS = 20.0
"""How long a workbook waits for one of those readers before it is refused as "the server is busy"."""
_READERS = threading.BoundedSemaphore(READERS_AT_ONCE)


def allow_readers(count: int) -> None:
    """Read up to `count` workbooks at once in this process (at least two); set once, before any is read."""
    global READERS_AT_ONCE, _READERS
    READERS_AT_ONCE = max(2, count)
    _READERS = threading.BoundedSemaphore(READERS_AT_ONCE)


MAX_SOURCE = 1_000
"""Characters of the file's name passed on to the child, which names it in its refusals."""
_OUT_OF_MEMORY = 3
_PR_SET_PDEATHSIG = 1
log = logging.getLogger(__name__)


def _too_slow(source: str, seconds: float, cpu: float | None = None) -> UnusableInputError:
    """The reading ran out of processor time (`cpu` None: the file's fault), or the wait ran out first (`cpu` the
    processor time it had: the machine was busy)."""
    if cpu is not None:  # the caller's wait ran out first: the reading waited for the processor, not the file
        return UnusableInputError(
            f"{source}: could not be read within {seconds:g} s as the server is busy (the reading had {cpu:.1f} s "
            "of processor time); send it again in a few minutes"
        )
    return UnusableInputError(
        f"{source}: took more than {seconds:g} s of processor time to read, the most a workbook may take (a full "
        "schedule of 25,000 tariff lines reads in about 2 s); delete what is not part of the offer, or send its "
        "JSON document"
    )


def _cpu_seconds(pid: int) -> float | None:
    """The processor time a running process has had (Linux), or None where that cannot be read."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None


def _too_big(source: str, memory: int) -> UnusableInputError:
    return UnusableInputError(
        f"{source}: needed more than {memory >> 20} MiB of memory to read, the most a workbook may take (a "
        "full schedule of 25,000 tariff lines needs far less); delete what is not part of the offer, or send its "
        "JSON document"
    )


def read_workbook(data: bytes, source: str = "offer.xlsx") -> OfferDocument:
    """A filled-in workbook as an offer document, validated as a JSON document is; read in a process of its own
    under a memory and a time limit, so a hostile file costs the caller nothing (`reading.read_workbook_here` is
    what the child runs). Raises `UnusableInputError`, and nothing else, for anything in `data`."""
    if len(data) > MAX_OFFER_BYTES:
        raise UnusableInputError(
            f"{source}: {len(data):,} bytes is over the {MAX_OFFER_BYTES >> 20} MiB an offer may take"
        )
    return read_in_child(data, source)


def read_in_child(data: bytes, source: str) -> OfferDocument:
    """The workbook's offer, read in a child process under `WORKBOOK_MEMORY` and `WORKBOOK_SECONDS`; or
    `UnusableInputError` saying why not. Nothing else is raised for anything in `data`. At most `READERS_AT_ONCE`
    children run at once: a flood of uploads waits for them, then is refused, rather than taking the host's memory."""
    if not _READERS.acquire(timeout=READER_QUEUE_SECONDS):
        raise UnusableInputError(
            f"{_short(source)}: could not be read now, as the server is reading {READERS_AT_ONCE} other workbooks; "
            "send it again in a minute"
        )
    try:
        return _read_in_child(data, source)
    finally:
        _READERS.release()


def _short(source: str) -> str:
    return source if len(source) <= MAX_SOURCE else source[: MAX_SOURCE - 3] + "..."


def _read_in_child(data: bytes, source: str) -> OfferDocument:
    seconds, memory = WORKBOOK_SECONDS, WORKBOOK_MEMORY
    source = _short(source)
    limits = {"source": source, "parent": os.getpid(), "memory": memory, "cpu": max(1, round(seconds))}
    header = json.dumps(limits).encode() + b"\n"
    path = [_ROOT, *(os.path.abspath(p) for p in sys.path if p and p != _ROOT)]
    command = [sys.executable, "-I", "-B", "-c", _BOOT, json.dumps(path)]
    pipe = subprocess.PIPE
    try:
        child = subprocess.Popen(command, stdin=pipe, stdout=pipe, stderr=pipe)
    except OSError as e:  # no process to be had (EAGAIN, ENOMEM): the file is not to blame
        log.warning("reading workbook %r: cannot start the reader: %s", source, e)
        raise UnusableInputError(
            f"{source}: could not be read now, as the server cannot start a reader ({e.strerror}); send it again in "
            "a few minutes"
        ) from None
    with child:
        try:
            out, err = child.communicate(header + data, timeout=max(seconds, WORKBOOK_WAIT_SECONDS))
        except subprocess.TimeoutExpired:
            cpu = _cpu_seconds(child.pid)
            child.kill()
            child.communicate()
            raise _too_slow(source, max(seconds, WORKBOOK_WAIT_SECONDS), cpu if cpu is not None else 0.0) from None
        except BaseException:
            child.kill()
            raise
    status = child.returncode
    answer = _answer(status, out, source)
    if isinstance(answer, OfferDocument):
        return answer
    if answer is not None:
        raise answer
    if status == _OUT_OF_MEMORY or b"MemoryError" in err[-4000:]:
        raise _too_big(source, memory)
    if status in (-signal.SIGXCPU, -signal.SIGKILL):
        raise _too_slow(source, seconds)
    log.warning(
        "reading workbook %r: the child stopped with status %s: %s",
        source,
        status,
        err[-2000:].decode(errors="replace"),
    )
    stopped = f"stopped with status {status}" if status else "gave no answer"
    raise UnusableInputError(
        f"{source}: could not be read (the reader {stopped}); save it again from your spreadsheet as Excel workbook "
        "(.xlsx), or send the offer's JSON document"
    )


def _answer(status: int, out: bytes, source: str) -> OfferDocument | UnusableInputError | None:
    """What the child answered: the offer, or its refusal; None if it gave no answer that can be read."""
    if status != 0:
        return None
    kind, _, body = out.partition(b"\n")
    try:
        if kind == b"document":
            return OfferDocument.model_validate_json(body)
        if kind == b"refused":
            answer = json.loads(body)
            return UnusableInputError(str(answer["message"]), [(str(p), str(m)) for p, m in answer["fields"]])
    except (ValueError, KeyError, TypeError) as e:  # not what the child writes: logged, never raised on
        log.warning("reading workbook %r: the child's answer cannot be read: %s", source, e)
    return None


def _limit_self(parent: int, memory: int, cpu: int) -> None:
    """Bound this process: memory, CPU (a backstop to the caller's clock), no files written, no core dumps; and end
    it when its caller ends, even by SIGKILL."""
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
    resource.setrlimit(resource.RLIMIT_FSIZE, (0, 0))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    if sys.platform == "linux":
        import ctypes

        with contextlib.suppress(OSError, AttributeError):  # a libc without prctl: the CPU limit still ends it
            ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent:  # the caller ended before the signal was asked for
        os._exit(1)


def child() -> None:
    """The child's side: read the bytes from stdin, answer on stdout (see the module)."""
    answer = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # anything a library prints goes to stderr, not into the answer
    warnings.simplefilter("ignore")
    header = json.loads(sys.stdin.buffer.readline(64 * 1024))
    # Our own code and its libraries are loaded before the limits, which bound the reading: under a tight limit an
    # import could otherwise fail some other way than MemoryError (a shared library that cannot be mapped), and
    # the refusal would not name the limit.
    from offers.spreadsheets.reading import read_workbook_here

    _limit_self(int(header["parent"]), int(header["memory"]), int(header["cpu"]))
    source = str(header["source"])
    try:
        data = sys.stdin.buffer.read(MAX_OFFER_BYTES + 1)
        document = read_workbook_here(data, source)
        answer.write(b"document\n" + document.model_dump_json().encode())
    except UnusableInputError as e:
        answer.write(b"refused\n" + json.dumps({"message": str(e), "fields": e.fields}).encode())
    except MemoryError:
        os._exit(_OUT_OF_MEMORY)
    answer.flush()
