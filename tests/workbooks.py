"""Workbooks built part by part for the tests: a template's parts replaced, shared strings as Excel writes them,
and hostile ones (bombs, broken or hostile XML), streamed into the archive so that building one costs the test
process little memory."""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Callable, Iterable, Iterator

Part = bytes | Callable[[], Iterable[bytes]]
"""A part's bytes, or a function giving them in chunks (for parts of hundreds of MB)."""

MAIN = b'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
SHEET_HEAD = b'<?xml version="1.0" encoding="UTF-8"?>\n<worksheet ' + MAIN + b"><sheetData>"
SHEET_TAIL = b"</sheetData></worksheet>"
SHARED_STRINGS_TYPE = b"application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"
SHARED_STRINGS_REL = b"http://schemas.openxmlformats.org/officeDocument/2006/relationships/sharedStrings"
TARIFFS = "xl/worksheets/sheet3.xml"
"""The Tariffs sheet's part in a workbook written by offers.spreadsheets (Instructions, Offer, Tariffs, ...)."""


def _chunks(part: Part) -> Iterable[bytes]:
    return [part] if isinstance(part, bytes) else part()


def with_parts(data: bytes, parts: dict[str, Part], level: int = 6) -> bytes:
    """`data` (a workbook) with the named parts replaced, or added at the end; each new part deflated."""
    parts = dict(parts)
    source = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=level) as archive:
        for info in source.infolist():
            if info.filename in parts:
                _write(archive, info.filename, parts.pop(info.filename))
            else:
                archive.writestr(info, source.read(info))
        for name, part in parts.items():
            _write(archive, name, part)
    return out.getvalue()


def _write(archive: zipfile.ZipFile, name: str, part: Part) -> None:
    with archive.open(name, "w") as f:
        for chunk in _chunks(part):
            f.write(chunk)


def with_shared_strings(data: bytes, strings: Part | None = None) -> bytes:
    """`data` with the content type and relationship of xl/sharedStrings.xml, and that part: `strings`, or the
    sheets' inline texts moved into it as Excel writes them (each sheet's cells then refer to them by number)."""
    source = zipfile.ZipFile(io.BytesIO(data))
    parts: dict[str, Part] = {}
    content_types = source.read("[Content_Types].xml").replace(
        b"</Types>", b'<Override PartName="/xl/sharedStrings.xml" ContentType="' + SHARED_STRINGS_TYPE + b'"/></Types>'
    )
    rels = source.read("xl/_rels/workbook.xml.rels").replace(
        b"</Relationships>",
        b'<Relationship Id="rIdStrings" Type="'
        + SHARED_STRINGS_REL
        + b'" Target="sharedStrings.xml"/></Relationships>',
    )
    parts["[Content_Types].xml"] = content_types
    parts["xl/_rels/workbook.xml.rels"] = rels
    if strings is None:
        table: dict[bytes, int] = {}

        def shared(match: re.Match[bytes]) -> bytes:
            index = table.setdefault(match[2], len(table))
            return match[1] + b't="s"><v>' + str(index).encode() + b"</v></c>"

        inline = re.compile(rb'(<c [^>]*?)t="inlineStr"><is><t(?: xml:space="preserve")?>(.*?)</t></is></c>', re.S)
        for info in source.infolist():
            if info.filename.startswith("xl/worksheets/"):
                parts[info.filename] = inline.sub(shared, source.read(info))
        texts = b"".join(b'<si><t xml:space="preserve">' + text + b"</t></si>" for text in table)
        count = str(len(table)).encode()
        parts["xl/sharedStrings.xml"] = (
            b'<?xml version="1.0" encoding="UTF-8"?>\n<sst '
            + MAIN
            + b' count="'
            + count
            + b'" uniqueCount="'
            + count
            + b'">'
            + texts
            + b"</sst>"
        )
    else:
        parts["xl/sharedStrings.xml"] = strings
    return with_parts(data, parts)


def repeated(
    head: bytes, item: bytes, times: int, tail: bytes, per_chunk: int = 10_000
) -> Callable[[], Iterator[bytes]]:
    """A part of `head`, `item` `times` times, then `tail`, written in chunks."""

    def chunks() -> Iterator[bytes]:
        yield head
        left = times
        while left > 0:
            n = min(per_chunk, left)
            yield item * n
            left -= n
        yield tail

    return chunks


# ---- hostile workbooks -------------------------------------------------------------------------


def template() -> bytes:
    """A small offer's workbook, as offers.spreadsheets writes it (inline texts, no shared strings)."""
    from offerdesk.samples import sample_offer
    from offers.spreadsheets import write_workbook

    return write_workbook(sample_offer("r-hostile", "JP", lines=5, seed=1))


def sheet_rows(rows: Iterable[bytes]) -> Callable[[], Iterator[bytes]]:
    def chunks() -> Iterator[bytes]:
        yield SHEET_HEAD
        batch: list[bytes] = []
        for row in rows:
            batch.append(row)
            if len(batch) == 10_000:
                yield b"".join(batch)
                batch.clear()
        yield b"".join(batch)
        yield SHEET_TAIL

    return chunks


def _text(ref: str, text: str) -> bytes:
    return f'<c r="{ref}" t="inlineStr"><is><t>{text}</t></is></c>'.encode()


def tariff_header() -> bytes:
    names = ("HS code", "Description", "Current rate %", "Offered rate %", "Staging years")
    return b'<row r="1">' + b"".join(_text(f"{'ABCDE'[i]}1", name) for i, name in enumerate(names)) + b"</row>"


def tariff_row(number: int) -> bytes:
    return (
        f'<row r="{number}">'.encode()
        + _text(f"A{number}", f"{number % 10_000:04d}.{number % 97:02d}")
        + _text(f"B{number}", "Live horses, asses, mules and hinnies")
        + f'<c r="C{number}"><v>5</v></c><c r="D{number}"><v>2.5</v></c><c r="E{number}"><v>1</v></c></row>'.encode()
    )


def many_shared_strings(entries: int = 12_000_000) -> bytes:
    """0.2 MB that openpyxl would unpack into 12 million texts (about 200 MB of XML, gigabytes in memory)."""
    head = b'<?xml version="1.0" encoding="UTF-8"?>\n<sst ' + MAIN + b">"
    return with_shared_strings(template(), repeated(head, b"<si><t>x</t></si>", entries, b"</sst>"))


def varied_shared_strings(entries: int = 1_000_000) -> bytes:
    """A million different texts: they pack no better than any text (about 4 to 1), so only their count stops them."""
    import os

    def chunks() -> Iterator[bytes]:
        yield b'<?xml version="1.0" encoding="UTF-8"?>\n<sst ' + MAIN + b">"
        left = entries
        while left:
            n = min(left, 50_000)
            noise = os.urandom(4 * n).hex().encode()
            yield b"".join(b"<si><t>" + noise[i * 8 : i * 8 + 8] + b"</t></si>" for i in range(n))
            left -= n
        yield b"</sst>"

    return with_shared_strings(template(), chunks)


def huge_header(size: int = 244_000) -> bytes:
    """The Tariffs sheet's row 1 of `size` bytes: thousands of header cells."""
    cell = b'<c t="inlineStr"><is><t>HS code</t></is></c>'
    cells = cell * (size // len(cell))
    return with_parts(template(), {TARIFFS: SHEET_HEAD + b'<row r="1">' + cells + b"</row>" + SHEET_TAIL})


def too_many_rows(last: int = 1_000_000) -> bytes:
    """A Tariffs sheet of a million rows, one HS code in each."""
    rows = (tariff_header(), *(b'<row r="%d"><c r="A%d"><v>1</v></c></row>' % (n, n) for n in range(2, last + 1)))
    return with_parts(template(), {TARIFFS: sheet_rows(rows)})


def too_many_cells(last: int = 100_000) -> bytes:
    """A Tariffs sheet of 100,000 whole lines: half a million cells, within the rows a sheet may have."""
    rows = (tariff_header(), *(tariff_row(n) for n in range(2, last + 1)))
    return with_parts(template(), {TARIFFS: sheet_rows(rows)})


def too_many_lines(lines: int = 25_001) -> bytes:
    """One tariff line more than an offer may hold, each a line that would do."""
    rows = (tariff_header(), *(tariff_row(n) for n in range(2, lines + 2)))
    return with_parts(template(), {TARIFFS: sheet_rows(rows)})


def packed_tight(padding: int = 50_000_000) -> bytes:
    """The Tariffs sheet padded with 50 MB of spaces after its header: a part packed about 1,000 to 1."""

    def chunks() -> Iterator[bytes]:
        yield SHEET_HEAD + tariff_header()
        block = b" " * 1_000_000
        for _ in range(padding // len(block)):
            yield block
        yield SHEET_TAIL

    return with_parts(template(), {TARIFFS: chunks}, level=9)


def cut_short() -> bytes:
    """The Tariffs sheet's XML ends in the middle of a row (as a file cut short in transit would, once re-zipped)."""
    whole = SHEET_HEAD + tariff_header() + b"".join(tariff_row(n) for n in range(2, 1_000)) + SHEET_TAIL
    return with_parts(template(), {TARIFFS: whole[: len(whole) // 2]})


BILLION_LAUGHS = (
    b'<?xml version="1.0"?>\n<!DOCTYPE sst [\n<!ENTITY lol "lol">\n'
    + b"".join(
        f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">\n'.encode() for i in range(1, 10)
    )
    + b"]>\n<sst "
    + MAIN
    + b"><si><t>&lol9;</t></si></sst>"
)


def billion_laughs() -> bytes:
    """Shared strings whose one text is an entity expanding to 10^9 "lol"s (3 GB)."""
    return with_shared_strings(template(), BILLION_LAUGHS)


def external_entity() -> bytes:
    """The Tariffs sheet's header cell refers to an external entity: /etc/passwd."""
    sheet = (
        b'<?xml version="1.0"?>\n<!DOCTYPE worksheet [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>\n<worksheet '
        + MAIN
        + b'><sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>&xxe;</t></is></c></row></sheetData></worksheet>'
    )
    return with_parts(template(), {TARIFFS: sheet})


def declaring(data: bytes, name: str, size: int) -> bytes:
    """`data` with the part `name`'s unpacked size given as `size` in both its headers: a lie the reader must not
    trust (the CRC stays that of the real bytes)."""
    out = bytearray(data)
    info = zipfile.ZipFile(io.BytesIO(data)).getinfo(name)
    out[info.header_offset + 22 : info.header_offset + 26] = size.to_bytes(4, "little")  # the local header
    end = data.rindex(b"PK\x05\x06")
    at = int.from_bytes(data[end + 16 : end + 20], "little")  # the central directory, entry by entry
    while data[at : at + 4] == b"PK\x01\x02":
        lengths = [int.from_bytes(data[at + i : at + i + 2], "little") for i in (28, 30, 32)]
        if data[at + 46 : at + 46 + lengths[0]] == name.encode():
            out[at + 24 : at + 28] = size.to_bytes(4, "little")
            return bytes(out)
        at += 46 + sum(lengths)
    raise KeyError(name)


def lying_shared_strings() -> bytes:
    """The 12 million texts, their header saying 40 MB: within the size a part may take and its packing ratio."""
    return declaring(many_shared_strings(), "xl/sharedStrings.xml", 40_000_000)


def many_styles(formats: int = 90_000) -> bytes:
    """A styles part of 90,000 different cell formats (each an object openpyxl builds, slowly): 0.4 MB."""
    import os

    styles = zipfile.ZipFile(io.BytesIO(template())).read("xl/styles.xml")
    at = styles.index(b">", styles.index(b"<cellXfs")) + 1

    def chunks() -> Iterator[bytes]:
        yield styles[:at]
        noise = os.urandom(2 * formats)
        yield b"".join(
            b'<xf numFmtId="%d" fontId="0" fillId="0" borderId="0" applyAlignment="%d"/>' % (a, b)
            for a, b in zip(noise[::2], noise[1::2], strict=True)
        )
        yield styles[at:]

    return with_parts(template(), {"xl/styles.xml": chunks})
