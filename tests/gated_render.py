"""A letter render that waits at a gate, for tests that stop or kill a worker while a letter is being rendered.

`install()` in a worker process replaces `activities.render.render_letter_pdf` with `gated_render`; the render
pool pickles the function by name, so the worker's render processes import this module and run `gated_render`,
which marks the letter as started (GATE/started-PARTNER, holding the render process's pid), waits while the file
GATE/hold exists, then renders for real. GATE is the folder in OFFERDESK_TEST_GATE, inherited from the worker.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import activities.render
from schemas.letter import LetterInput

GATE = "OFFERDESK_TEST_GATE"
_real_render = activities.render.render_letter_pdf


def gated_render(inp: LetterInput) -> tuple[bytes, int]:
    gate = Path(os.environ[GATE])
    (gate / f"started-{inp.partner}").write_text(str(os.getpid()))
    while (gate / "hold").exists():
        time.sleep(0.05)
    return _real_render(inp)


def install() -> None:
    activities.render.render_letter_pdf = gated_render


def worker_command() -> list[str]:
    """`offerdesk worker`, with renders that wait at the gate."""
    code = (
        "import sys, tests.gated_render as gate; gate.install(); "
        "from offerdesk.cli import main; sys.argv = ['offerdesk', 'worker']; main()"
    )
    return [sys.executable, "-c", code]
