"""A workbook's bounds, checked before openpyxl reads it: every part streamed once, nothing trusted.

An .xlsx file is a ZIP archive of XML parts. A few hundred kilobytes can unpack to gigabytes (a ZIP bomb), an XML
part can declare entities that expand into gigabytes or name other files (a DTD), and openpyxl loads every shared
string into memory before it reads a single cell. So, before openpyxl sees the file, `check_workbook` reads each
part once, as a stream, and refuses as soon as one of these is met, with a sentence naming the part or the sheet
and the limit:

- the archive: at most `MAX_PARTS` parts, each deflated or stored (bzip2 and LZMA can unpack without bound in
  one step); each part's declared size and its actual unpacked bytes (counted as they come, as the declared size
  can lie) at most `MAX_PART_BYTES`, all parts together at most `MAX_UNPACKED_BYTES`, and no part unpacking to
  more than `MAX_RATIO` times its packed size (past the first `RATIO_GRACE_BYTES`);
- every XML part: well-formed (a part cut short is named), no document type declaration (DTD), so no entities
  and no external entities; at most `MAX_XML_ELEMENTS` elements in all, and `MAX_PART_ELEMENTS` in a part that
  openpyxl loads whole (all but the sheets and the shared strings);
- the shared strings: at most `MAX_SHARED_STRINGS` texts;
- the sheets an offer is read from (Offer and one per category): rows up to `MAX_SHEET_ROWS` (the Offer sheet
  `MAX_HEADER_ROWS`), cells in columns up to `MAX_COLUMNS`, at most `MAX_COLUMNS` cells in a row, and at most
  `MAX_CELLS` cells in all of them.

The limits are far above what any offer needs (`LARGEST_OFFER_CELLS`: 25,000 tariff lines and every other list
full) and far below what takes a reader seconds or hundreds of MiB. Everything here is a pure function of the
file's bytes, and runs in the reading process (`offers.spreadsheets.sandbox`), under its memory and time limits.
"""

from __future__ import annotations

import io
import posixpath
import re
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from xml.parsers import expat

from offers.inputs import UnusableInputError
from offers.spreadsheets.layout import HEADER_SHEET, SHEETS, norm
from offers.spreadsheets.limits import (
    LARGEST_OFFER_CELLS,
    MAX_CELLS,
    MAX_COLUMNS,
    MAX_HEADER_ROWS,
    MAX_PART_BYTES,
    MAX_PART_ELEMENTS,
    MAX_PARTS,
    MAX_RATIO,
    MAX_SHARED_STRINGS,
    MAX_SHEET_ROWS,
    MAX_UNPACKED_BYTES,
    MAX_XML_ELEMENTS,
    RATIO_GRACE_BYTES,
    column_index,
    column_letter,
    reason,
    refusal,
    sheet_ref,
    size_text,
)

CHUNK = 1 << 16
WORKBOOK_TYPES = tuple(
    f"application/vnd.{kind}.main+xml"
    for kind in (
        "ms-excel.template.macroEnabled",
        "openxmlformats-officedocument.spreadsheetml.template",
        "ms-excel.sheet.macroEnabled",
        "openxmlformats-officedocument.spreadsheetml.sheet",
    )
)
"""The workbook part's content types, in the order openpyxl looks for them."""
SHARED_STRINGS_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"
XML_SUFFIXES = (".xml", ".rels", ".vml")
_CELL_REF = re.compile(r"([A-Z]{1,3})([0-9]{1,7})")
_SAVE_AGAIN = "save it again from your spreadsheet as Excel workbook (.xlsx), or send the offer's JSON document"


@dataclass
class _Manifest:
    """What [Content_Types].xml says: the content type of each part, by name and by extension."""

    defaults: dict[str, str] = field(default_factory=dict)
    overrides: dict[str, str] = field(default_factory=dict)
    listed: list[tuple[str, str]] = field(default_factory=list)  # every override, in order

    def start(self, name: str, attrs: dict[str, str]) -> None:
        if name == "Default":
            self.defaults.setdefault(attrs.get("Extension", "").lower(), attrs.get("ContentType", ""))
        elif name == "Override":
            part, kind = attrs.get("PartName", "").lstrip("/"), attrs.get("ContentType", "")
            self.overrides.setdefault(part, kind)
            self.listed.append((part, kind))

    def content_type(self, part: str) -> str:
        if part in self.overrides:
            return self.overrides[part]
        return self.defaults.get(part.rsplit(".", 1)[-1].lower() if "." in part else "", "")

    def is_xml(self, part: str) -> bool:
        kind = self.content_type(part)
        xml = kind.endswith(("+xml", "/xml")) and not kind.startswith("image/")
        return xml or part.lower().endswith(XML_SUFFIXES)

    def find(self, *types: str) -> str | None:
        """The first part of the first of `types` that has one, as openpyxl finds it."""
        for wanted in types:
            for part, kind in self.listed:
                if kind == wanted:
                    return part
        return None


@dataclass
class _Workbook:
    """The workbook part's sheets (relationship id and name), and its relationships (the first target of an id,
    as openpyxl takes it)."""

    sheets: list[tuple[str, str]] = field(default_factory=list)
    targets: dict[str, str] = field(default_factory=dict)

    def start_workbook(self, name: str, attrs: dict[str, str]) -> None:
        if name == "sheet":
            rid = next((v for k, v in attrs.items() if k.rsplit(" ", 1)[-1] == "id" and " " in k), "")
            self.sheets.append((rid, attrs.get("name", "")))

    def start_rels(self, name: str, attrs: dict[str, str]) -> None:
        if name == "Relationship" and attrs.get("TargetMode") != "External":
            self.targets.setdefault(attrs.get("Id", ""), attrs.get("Target", ""))


class _Scan:
    """One pass over the archive; each check raises `UnusableInputError` as soon as it is met."""

    def __init__(self, archive: zipfile.ZipFile, source: str) -> None:
        self.archive = archive
        self.source = source
        self.unpacked = 0
        self.elements = 0
        self.cells = 0
        self.titles: dict[str, str] = {}  # part -> sheet title

    def where(self, part: str) -> str:
        title = self.titles.get(part)
        return sheet_ref(title) if title is not None else part

    def refuse(self, part: str, message: str) -> UnusableInputError:
        title = self.titles.get(part)
        if title is not None:
            message = message.replace("the part", f"the sheet's part {part}", 1)
        return refusal(self.source, self.where(part), message)

    # ---- the archive ----

    def directory(self, infos: list[zipfile.ZipInfo]) -> None:
        """What the archive's directory says, before anything is unpacked: how many parts, packed how."""
        if len(infos) > MAX_PARTS:
            raise refusal(
                self.source,
                "(archive)",
                f"holds {len(infos):,} parts, over the {MAX_PARTS:,} a workbook may have (it has a few dozen); "
                + _SAVE_AGAIN,
            )
        for info in infos:
            if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
                raise self.refuse(
                    info.filename,
                    f"the part is packed with method {info.compress_type}, not deflated as Excel packs; " + _SAVE_AGAIN,
                )

    def declared(self, infos: list[zipfile.ZipInfo]) -> None:
        """What the directory says each part unpacks to (the parts are counted again as they unpack)."""
        total = 0
        for info in infos:
            if info.file_size > MAX_PART_BYTES:
                raise self.refuse(info.filename, self._too_large(f"says it unpacks to {info.file_size:,} bytes"))
            if info.file_size > RATIO_GRACE_BYTES and info.file_size > MAX_RATIO * max(info.compress_size, 1):
                raise self.refuse(info.filename, self._packed(f"says it unpacks to {info.file_size:,} bytes", info))
            total += info.file_size
            if total > MAX_UNPACKED_BYTES:
                raise refusal(self.source, "(archive)", self._all_too_large(f"says it unpacks to {total:,} bytes"))

    @staticmethod
    def _too_large(says: str) -> str:
        return f"the part {says}, over the {size_text(MAX_PART_BYTES)} one part of a workbook may take; " + _SAVE_AGAIN

    @staticmethod
    def _all_too_large(says: str) -> str:
        return (
            f"the workbook {says}, over the {size_text(MAX_UNPACKED_BYTES)} a workbook may take (a full schedule of "
            "25,000 tariff lines takes about 10 MiB); delete what is not part of the offer, or send its JSON document"
        )

    @staticmethod
    def _packed(says: str, info: zipfile.ZipInfo) -> str:
        return (
            f"the part {says} from {info.compress_size:,} packed, more than the {MAX_RATIO} times its packed size a "
            "part may unpack to (a sheet packs about 8 to 1): it is a ZIP bomb, not an offer"
        )

    def stream(self, info: zipfile.ZipInfo) -> Iterator[bytes]:
        """The part's bytes as they unpack, counted against the bounds whatever its header says."""
        part = info.filename
        size = 0
        try:
            with self.archive.open(info) as f:
                while chunk := f.read(CHUNK):
                    size += len(chunk)
                    self.unpacked += len(chunk)
                    if size > MAX_PART_BYTES:
                        raise self.refuse(part, self._too_large(f"unpacks to more than {MAX_PART_BYTES:,} bytes"))
                    if size > RATIO_GRACE_BYTES and size > MAX_RATIO * max(info.compress_size, 1):
                        raise self.refuse(part, self._packed(f"unpacks to more than {size:,} bytes", info))
                    if self.unpacked > MAX_UNPACKED_BYTES:
                        raise refusal(
                            self.source,
                            "(archive)",
                            self._all_too_large(f"unpacks to more than {MAX_UNPACKED_BYTES:,} bytes"),
                        )
                    yield chunk
        except UnusableInputError:
            raise
        except Exception as e:  # zlib.error, BadZipFile (CRC), EOFError: a damaged or cut-short archive
            raise self.refuse(
                part,
                f"the part cannot be unpacked ({reason(e)}); the file may be cut short or damaged: " + _SAVE_AGAIN,
            ) from None

    # ---- XML ----

    def xml(
        self, info: zipfile.ZipInfo, on_start: Callable[[str, dict[str, str]], None] | None = None, whole: bool = True
    ) -> None:
        """Parse the part as a stream: well-formed, no DTD, every element counted (and handed to `on_start` by its
        local name). A part openpyxl loads `whole` (every part but the sheets and the shared strings, which have
        bounds of their own) may have at most `MAX_PART_ELEMENTS`."""
        part = info.filename
        parser = expat.ParserCreate(namespace_separator=" ")
        parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
        elements = 0

        def start(name: str, attrs: dict[str, str]) -> None:
            nonlocal elements
            self.elements += 1
            elements += 1
            if self.elements > MAX_XML_ELEMENTS:
                raise self.refuse(
                    part,
                    f"the workbook's XML goes on past {MAX_XML_ELEMENTS:,} elements (a full schedule of 25,000 tariff "
                    "lines has about 400,000); delete what is not part of the offer, or send its JSON document",
                )
            if whole and elements > MAX_PART_ELEMENTS:
                raise self.refuse(
                    part,
                    f"the part goes on past {MAX_PART_ELEMENTS:,} XML elements, the most a part other than a sheet may "
                    "have (a workbook's styles, say, have a few hundred): " + _SAVE_AGAIN,
                )
            if on_start is not None:
                on_start(name.rsplit(" ", 1)[-1], attrs)

        def entity(
            name: str,
            is_parameter: bool,
            value: str | None,
            base: str | None,
            system_id: str | None,
            public_id: str | None,
            notation: str | None,
        ) -> None:
            # Declarations come before any use, so refusing the first one refuses every expansion.
            if system_id is not None:
                raise self.refuse(
                    part,
                    f"the part declares the external entity {name!r} ({system_id[:100]!r}), which would read another "
                    "file into it; a workbook's XML declares no entities: " + _SAVE_AGAIN,
                )
            raise self.refuse(
                part,
                f"the part declares the entity {name!r} in a document type (DTD); a workbook's XML declares no "
                "entities (they can expand a small file into gigabytes): " + _SAVE_AGAIN,
            )

        def doctype_end() -> None:
            raise self.refuse(
                part, "the part has a document type declaration (DTD), which no workbook's XML has: " + _SAVE_AGAIN
            )

        def external(context: str, base: str | None, system_id: str | None, public_id: str | None) -> int:
            raise self.refuse(part, f"the part refers to the external file {system_id!r}: " + _SAVE_AGAIN)

        parser.StartElementHandler = start
        parser.EntityDeclHandler = entity
        parser.EndDoctypeDeclHandler = doctype_end
        parser.ExternalEntityRefHandler = external
        last = False
        try:
            for chunk in self.stream(info):
                parser.Parse(chunk, False)
            last = True
            parser.Parse(b"", True)
        except expat.ExpatError as e:
            code = expat.ErrorString(e.code) if e.code else str(e)
            at = f"line {e.lineno:,}, column {e.offset + 1:,}"
            if last and e.code in _CUT_SHORT:
                raise self.refuse(part, f"the part is cut short at {at} ({code}); " + _SAVE_AGAIN) from None
            raise self.refuse(part, f"the part is not well-formed XML at {at} ({code}); " + _SAVE_AGAIN) from None

    def unpack(self, info: zipfile.ZipInfo) -> None:
        for _ in self.stream(info):
            pass

    # ---- what openpyxl loads whole, and the sheets read ----

    def shared_strings(self, info: zipfile.ZipInfo) -> None:
        part = info.filename
        count = 0

        def too_many(says: str) -> UnusableInputError:
            return self.refuse(
                part,
                f"the workbook's shared texts {says}, over the {MAX_SHARED_STRINGS:,} a workbook may hold (an "
                f"offer's sheets have at most {LARGEST_OFFER_CELLS:,} cells); delete what is not part of the offer, "
                "or send its JSON document",
            )

        def start(name: str, attrs: dict[str, str]) -> None:
            nonlocal count
            if name == "sst":
                declared = attrs.get("uniqueCount", "")
                if declared.isascii() and declared.isdigit() and int(declared[:12]) > MAX_SHARED_STRINGS:
                    raise too_many(f"say they number {int(declared[:12]):,}")
            elif name == "si":
                count += 1
                if count > MAX_SHARED_STRINGS:
                    raise too_many(f"number {count:,} and more")

        self.xml(info, start, whole=False)

    def sheet(self, info: zipfile.ZipInfo, title: str, max_rows: int) -> None:
        row = 0
        column = 0
        in_row = 0
        ref = sheet_ref(title)

        def refuse(where: str, message: str) -> UnusableInputError:
            return refusal(self.source, where, message)

        def start(name: str, attrs: dict[str, str]) -> None:
            nonlocal row, column, in_row
            if name == "row":
                r = attrs.get("r")
                if r is None:
                    row += 1
                elif r.isascii() and r.isdigit() and len(r) <= 9:
                    row = int(r)
                else:
                    raise refuse(
                        ref, f"the row number {r[:20]!r} in its part {info.filename} is not a row; " + _SAVE_AGAIN
                    )
                if row > max_rows:
                    what = "the Offer sheet" if norm(title) == norm(HEADER_SHEET) else "the sheet"
                    raise refuse(f"{ref}!{row}:{row}", f"{what} goes on past row {max_rows:,}; delete the rows below")
                column = in_row = 0
            elif name == "c":
                r = attrs.get("r")
                if r is None:
                    column += 1
                elif match := _CELL_REF.fullmatch(r):
                    column = column_index(match[1])
                else:
                    raise refuse(ref, f"{r[:20]!r} in its part {info.filename} is not a cell reference; " + _SAVE_AGAIN)
                in_row += 1
                self.cells += 1
                if column > MAX_COLUMNS:
                    raise refuse(
                        f"{ref}!{column_letter(column)}{row}",
                        f"the sheet goes on past column {column_letter(MAX_COLUMNS)}; its columns are the few named "
                        "in row 1: delete the columns to their right",
                    )
                if in_row > MAX_COLUMNS:
                    raise refuse(
                        f"{ref}!{row}:{row}",
                        f"the row has more than {MAX_COLUMNS} cells; a row of this sheet has a few: " + _SAVE_AGAIN,
                    )
                if self.cells > MAX_CELLS:
                    raise refuse(
                        f"{ref}!{column_letter(column)}{row}",
                        f"the offer's sheets go on past {MAX_CELLS:,} cells (an offer has at most "
                        f"{LARGEST_OFFER_CELLS:,}); delete what is not part of the offer",
                    )

        self.xml(info, start, whole=False)


_CUT_SHORT = {
    expat.errors.codes[m]
    for m in (
        expat.errors.XML_ERROR_NO_ELEMENTS,
        expat.errors.XML_ERROR_UNCLOSED_TOKEN,
        expat.errors.XML_ERROR_PARTIAL_CHAR,
        expat.errors.XML_ERROR_UNCLOSED_CDATA_SECTION,
    )
}


def _rels_path(part: str) -> str:
    folder, name = posixpath.split(part)
    return posixpath.join(folder, "_rels", f"{name}.rels")


def _target(rels: str, target: str) -> str:
    """A relationship's target as a name in the archive, as openpyxl resolves it."""
    if target.startswith("/"):
        return target[1:]
    return posixpath.normpath(posixpath.join(posixpath.dirname(posixpath.dirname(rels)), target))


def check_workbook(data: bytes, source: str) -> None:
    """Refuse the workbook with `UnusableInputError` at the first bound it passes (see the module); return if none."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except Exception:  # BadZipFile, and the struct and value errors of a damaged directory
        raise UnusableInputError(
            f"{source}: is not an .xlsx workbook (not a ZIP archive); save it as Excel workbook (.xlsx), or send the "
            "offer's JSON document"
        ) from None
    with archive:
        scan = _Scan(archive, source)
        infos = archive.infolist()
        scan.directory(infos)
        by_name = {info.filename: info for info in infos}  # the last of a name, as zipfile and openpyxl read it
        if "[Content_Types].xml" not in by_name:
            raise UnusableInputError(
                f"{source}: is not an .xlsx workbook (it has no [Content_Types].xml); " + _SAVE_AGAIN
            )
        done: set[int] = set()
        manifest = _Manifest()
        scan.xml(by_name["[Content_Types].xml"], manifest.start)
        done.add(id(by_name["[Content_Types].xml"]))

        # The workbook part and its relationships name the sheets' parts, so that a refusal names the sheet.
        book = manifest.find(*WORKBOOK_TYPES) or "xl/workbook.xml"
        workbook = _Workbook()
        rels = _rels_path(book)
        for part, start in ((book, workbook.start_workbook), (rels, workbook.start_rels)):
            if part in by_name:
                scan.xml(by_name[part], start)
                done.add(id(by_name[part]))
        read: dict[str, int] = {}  # the part of each sheet an offer is read from, and its rows
        rows = {norm(HEADER_SHEET): MAX_HEADER_ROWS} | {norm(s.title): MAX_SHEET_ROWS for s in SHEETS}
        for rid, title in workbook.sheets:
            target = workbook.targets.get(rid)
            if target is not None:
                part = _target(rels, target)
                if part in scan.titles:  # read twice, a sheet's bounds would be passed twice over
                    raise refusal(
                        source,
                        sheet_ref(title),
                        f"the sheet is the same part ({part}) as the sheet {scan.titles[part]!r}; " + _SAVE_AGAIN,
                    )
                scan.titles[part] = title
                if norm(title) in rows:
                    read[part] = rows[norm(title)]
        strings = manifest.find(SHARED_STRINGS_TYPE)
        scan.declared(infos)

        for info in infos:
            if id(info) in done:
                continue
            part = info.filename
            if part == strings:
                scan.shared_strings(info)
            elif part in read and by_name[part] is info:
                scan.sheet(info, scan.titles[part], read[part])
            elif manifest.is_xml(part) or part in scan.titles:
                scan.xml(info, whole=part not in scan.titles)
            else:
                scan.unpack(info)
