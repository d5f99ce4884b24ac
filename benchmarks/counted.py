"""The process benchmarks/instructions.py counts under callgrind: `python -m benchmarks.counted LINES`."""

from __future__ import annotations

import sys

from activities.render import render_letter_pdf, write_pdf
from benchmarks.common import partners
from benchmarks.instructions import READY
from benchmarks.rendering import letter_for, paragraphs_filling

WARM_UPS = 2
"""Each is rendered this many times before it is counted (the first pays for the process's set-up)."""


def _counted_process(lines: int) -> None:
    """Warm up uninstrumented, say so, wait for instrumentation, then render the letter and its yardstick once."""
    letter = letter_for(lines, partners(1)[0])
    pages = render_letter_pdf(letter)[1]
    source = paragraphs_filling(pages)
    for _ in range(WARM_UPS):
        render_letter_pdf(letter)
        write_pdf(source)
    print(READY, pages, flush=True)
    sys.stdin.readline()  # instrumentation is on
    sys.call_tracing(render_letter_pdf, (letter,))
    sys.call_tracing(write_pdf, (source,))


if __name__ == "__main__":
    _counted_process(int(sys.argv[1]))
