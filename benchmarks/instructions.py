"""Part 4's instruction counts: a letter and its yardstick rendered once each under callgrind, in a process that
has rendered both before, so that the ratio of the two holds on a busy machine where timings move by a third.

`python -m benchmarks.counted LINES` is the process counted (run under valgrind by `instruction_counts`): it
imports, warms up uninstrumented, says it is ready, and once instrumentation is on (`callgrind_control -i on`)
renders the letter and then the yardstick, each inside `sys.call_tracing`. Callgrind collects only inside
CPython's C function behind it (COUNTED, `--toggle-collect`) and writes one profile after each
(`--dump-after`): imports, warm-up and the protocol around them are not counted.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

COUNTED = "sys_call_tracing"
"""CPython's C function behind sys.call_tracing, which nothing else in a render calls: collection is on inside it."""
READY = "ready"
"""What the counted process says once it is warm, before the pages its letter came to."""


def _total(profile: Path) -> int:
    """The events a callgrind profile counted (its `totals:` line: instructions)."""
    for line in profile.read_text().splitlines():
        if line.startswith(("totals:", "summary:")):
            return int(line.split()[1])
    raise ValueError(f"{profile} has no totals")


async def instruction_counts(lines: int) -> dict[str, Any]:
    """Instructions to render the letter of `lines` tariff lines, and its yardstick (plain paragraphs filling as many
    pages, written as letters are), each once in a warm process; or `instructions_skipped` with the reason."""
    valgrind, control = shutil.which("valgrind"), shutil.which("callgrind_control")
    if valgrind is None or control is None:
        return {"instructions_skipped": "valgrind (callgrind) is not installed"}
    with tempfile.TemporaryDirectory(prefix="offerdesk-bench-callgrind-") as folder:
        out = Path(folder)
        process = await asyncio.create_subprocess_exec(
            valgrind,
            "--tool=callgrind",
            "--instr-atstart=no",  # imports and warm-up run uninstrumented, several times faster
            "--collect-atstart=no",
            f"--toggle-collect={COUNTED}",
            f"--dump-after={COUNTED}",
            f"--callgrind-out-file={out / 'callgrind.out'}",
            f"--log-file={out / 'valgrind.log'}",
            sys.executable,
            "-m",
            "benchmarks.counted",
            str(lines),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            cwd=Path(__file__).resolve().parent.parent,
            env={**os.environ, "PYTHONHASHSEED": "0"},  # the same dictionaries' layout on every run
        )
        assert process.stdin is not None and process.stdout is not None
        try:
            said = (await process.stdout.readline()).decode().split()
            if not said or said[0] != READY:
                raise RuntimeError(f"the counted process ended before it was ready: {said}")
            switch = await asyncio.create_subprocess_exec(
                control, "-i", "on", str(process.pid), stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
            )
            answer, _ = await switch.communicate()
            if switch.returncode != 0:
                return {"instructions_skipped": f"callgrind_control could not switch on: {answer.decode()[-300:]}"}
            process.stdin.write(b"go\n")
            await process.stdin.drain()
            if await process.wait() != 0:
                log = (out / "valgrind.log").read_text()[-2000:]
                raise RuntimeError(f"the counted process failed ({process.returncode}): {log}")
        finally:
            if process.returncode is None:
                process.kill()
                await process.wait()
        letter, plain = _total(out / "callgrind.out.1"), _total(out / "callgrind.out.2")
    if not letter or not plain:
        return {"instructions_skipped": f"callgrind counted nothing inside {COUNTED} (a Python without its symbols?)"}
    return {
        "instructions_pages": int(said[1]),
        "letter_instructions": letter,
        "plain_text_instructions": plain,
        "instructions_times_plain_text": letter / plain,
    }
