"""Part 4 of the benchmark: letter rendering alone, in a warm render pool like the worker's, against WeasyPrint's
one-line floor and plain paragraphs filling as many pages."""

from __future__ import annotations

import asyncio
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from activities.offer_activities import make_render_pool
from activities.render import render_letter_pdf, write_pdf
from activities.signing.identity import SigningConfig, make_dev_identity
from benchmarks.common import letter_input, partners
from benchmarks.instructions import instruction_counts
from offerdesk.samples import sample_offer
from offers.reference import load_policy
from schemas.letter import LetterInput
from schemas.partner import PartnerReference


def _one_line_floor() -> float:
    """The least WeasyPrint takes for a one-line document: the floor under any letter."""
    import weasyprint

    best = float("inf")
    for _ in range(7):
        start = time.perf_counter()
        weasyprint.HTML(string="<p>Offerdesk</p>").write_pdf()
        best = min(best, time.perf_counter() - start)
    return best


PARAGRAPH = "<p>" + "The partner lowers its duties on goods of the United States and opens its market. " * 8 + "</p>"
SINGLE_RENDERS = 7
"""Each letter and yardstick is timed this many times, one after another, in warm render processes; the best counts."""


def paragraphs_filling(pages: int) -> str:
    """Plain paragraphs that fill `pages` pages when written the way letters are."""

    def pages_of(count: int) -> int:
        return write_pdf(PARAGRAPH * count)[1]

    count = max(1, (pages - 1) * 20 // pages_of(20) + 1)
    while pages_of(count) < pages:
        count += 1
    return PARAGRAPH * count


def _side_by_side(letter: LetterInput, pages: int, signing: SigningConfig) -> dict[str, float]:
    """The letter and plain paragraphs filling as many pages, timed in turn in one warm process, best of
    SINGLE_RENDERS each: the letter and its yardsticks see the same machine, whatever else it is doing.

    `signing_s` signs each rendered letter as the letter activity does (with a development identity, no timestamp
    authority), the check of the signed bytes included; the process has signed a letter before the first is timed.

    `letter_writer_s` writes the paragraphs through the letter's own writer (`write_pdf`: letter.css, the same
    fonts, tagged PDF/A-3a, no attachments), so that the two differ only in what is laid out; `untagged_s` uses
    WeasyPrint's defaults (an untagged PDF 1.7), the yardstick as it was measured before.
    """
    import weasyprint

    from activities.signing.sign import sign_letter

    source = paragraphs_filling(pages)
    letters: list[float] = []
    tagged = untagged = signing_s = float("inf")
    sign_letter(signing, render_letter_pdf(letter)[0])  # loads the identity and cuts the font down, once
    for _ in range(SINGLE_RENDERS):
        start = time.perf_counter()
        pdf, _ = render_letter_pdf(letter)
        letters.append(time.perf_counter() - start)
        start = time.perf_counter()
        sign_letter(signing, pdf)
        signing_s = min(signing_s, time.perf_counter() - start)
        start = time.perf_counter()
        write_pdf(source)
        tagged = min(tagged, time.perf_counter() - start)
        start = time.perf_counter()
        weasyprint.HTML(string=source).write_pdf()
        untagged = min(untagged, time.perf_counter() - start)
    return {
        "letter_s": min(letters),
        "letter_median_s": statistics.median(letters),
        "letter_writer_s": tagged,
        "untagged_s": untagged,
        "signing_s": signing_s,
    }


def _render_timed(letter: LetterInput) -> tuple[float, int]:
    start = time.perf_counter()
    _, pages = render_letter_pdf(letter)
    return time.perf_counter() - start, pages


def letter_for(lines: int, partner: PartnerReference) -> LetterInput:
    doc = sample_offer("bench-letters", partner.code, lines=lines, seed=lines)
    return letter_input(doc, partner, load_policy())


async def rendering(
    letters_each: int, sizes: dict[str, int], counted: tuple[str, ...] = ("3_pages",)
) -> dict[str, Any]:
    """Letters in a render pool like the worker's, its processes warm as a running worker's are: each has
    rendered letters before any is timed, so the figures are of letters, not of a process setting up.

    The sizes in `counted` are also counted in instructions under callgrind (benchmarks/instructions.py): about a
    minute each, and repeatable on a busy machine where the timings are not."""
    cores = os.cpu_count() or 1
    partner = partners(1)[0]
    pool = make_render_pool()
    loop = asyncio.get_running_loop()
    out: dict[str, Any] = {"cores": cores, "floor_one_line_s": await loop.run_in_executor(pool, _one_line_floor)}
    keys = tempfile.TemporaryDirectory(prefix="offerdesk-bench-signer-")
    make_dev_identity(Path(keys.name) / "signing.p12", Path(keys.name) / "signing.pass")
    signing = SigningConfig(
        key=str(Path(keys.name) / "signing.p12"), passphrase_file=str(Path(keys.name) / "signing.pass")
    )
    try:
        for label, lines in sizes.items():
            letter = letter_for(lines, partner)
            # More letters than processes at once, twice: every process has rendered this size before timing.
            for _ in range(2):
                warm = await asyncio.gather(
                    *(loop.run_in_executor(pool, _render_timed, letter) for _ in range(2 * cores))
                )
            pages = warm[0][1]
            timed = await loop.run_in_executor(pool, _side_by_side, letter, pages, signing)
            best = timed["letter_s"]
            start = time.perf_counter()
            await asyncio.gather(*(loop.run_in_executor(pool, _render_timed, letter) for _ in range(letters_each)))
            wall = time.perf_counter() - start
            out[label] = {
                "tariff_lines": lines,
                "pages": pages,
                "best_single_s": best,
                "median_single_s": timed["letter_median_s"],
                "letters_per_s_per_core": letters_each / wall / cores,
                "times_floor": best / out["floor_one_line_s"],
                "plain_text_same_pages_s": timed["letter_writer_s"],
                "times_plain_text": best / timed["letter_writer_s"],
                "plain_text_untagged_s": timed["untagged_s"],
                "times_plain_text_untagged": best / timed["untagged_s"],
                "signing_s": timed["signing_s"],
                "signing_overhead": timed["signing_s"] / best,
            }
            if label in counted:
                out[label] |= await instruction_counts(lines)
    finally:
        pool.shutdown()
        keys.cleanup()
    return out
