"""Letters: jinja2 renders HTML, WeasyPrint renders a tagged PDF/A-3a with the offer and the terms attached as JSON
and every tariff line attached as CSV.

Tagged (conformance level A), so that a screen reader can read a letter (Section 508): the document's language,
real headings, tables whose header cells are TH (every data cell names its headers), the seal's alternative text.
PDF/A-3, because PDF/A-2 drops non-PDF attachments.

The output is byte-for-byte reproducible for the same input: dates come from the input, never the clock,
so a re-run after a crash stores the same file under the same id.

A letter lists up to MAX_LISTED_LINES tariff lines; a longer offer (up to a full national tariff schedule)
is summed up per HS chapter instead, so the letter stays a few pages long and quick to render.
"""

from __future__ import annotations

import gc
import mimetypes
import os
import re
import types
import zlib
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, time
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal, TypeVar
from urllib.parse import unquote, urlsplit

import jinja2
import pydyf  # type: ignore[import-untyped]  # WeasyPrint's PDF writer
import tinyhtml5.inputstream  # type: ignore[import-untyped]  # WeasyPrint's HTML parser
from weasyprint import CSS, HTML, Attachment
from weasyprint.text.fonts import FontConfiguration
from weasyprint.urls import URLFetcher, URLFetcherResponse

from activities.templates import TEMPLATES_DIR, template_environment
from offers.hs import GoodsKind, classify_hs
from offers.lines import TARIFF_LINE_COLUMNS, tariff_lines_csv
from schemas.letter import LetterInput
from schemas.offer import TariffCommitment
from schemas.validation import CATEGORY_TITLES, Category

PDF_VARIANT = "pdf/a-3a"
"""PDF/A-3 (attachments of any type: JSON, CSV), conformance level A (accessible: implies WeasyPrint's pdf_tags)."""

MAX_LISTED_LINES = 200
"""A letter lists this many tariff lines at most; beyond, its body sums them up per HS chapter."""
TARIFF_CSV_NAME = "tariff-lines.csv"
TARIFF_CSV_COLUMNS = TARIFF_LINE_COLUMNS

ChapterKind = Literal["agricultural", "industrial", "mixed", "unclassified"]


@dataclass(frozen=True)
class ChapterRow:
    """The tariff lines of one HS chapter, summed up for the letter."""

    chapter: str
    """The first two digits of the codes ("02"), or "" for codes that do not start with two digits."""
    lines: int
    average_cut_pct: float
    """Current minus offered rate, in percentage points, averaged over the chapter's lines."""
    agricultural: int = 0
    industrial: int = 0
    mixed: int = 0
    """Lines whose code is too short to tell (classify_hs says mixed)."""
    unclassified: int = 0
    """Lines whose code cannot be classified (not a valid HS code)."""

    @property
    def kind(self) -> ChapterKind:
        """Agricultural or industrial when every classified line is; mixed when both kinds are there."""
        if self.mixed or (self.agricultural and self.industrial):
            return "mixed"
        if self.agricultural:
            return "agricultural"
        if self.industrial:
            return "industrial"
        return "unclassified"


def _chapter_of(code: str) -> str:
    digits = code.replace(".", "").replace(" ", "")
    return digits[:2] if len(digits) >= 2 and digits[:2].isascii() and digits[:2].isdigit() else ""


def _kind_of(code: str) -> GoodsKind | None:
    if not code.isascii():  # str.isdigit() is true for "²" and other non-ASCII digits
        return None
    try:
        return classify_hs(code)
    except ValueError:  # HSCodeError, and whatever else a malformed code raises
        return None


def chapter_summary(lines: Sequence[TariffCommitment]) -> list[ChapterRow]:
    """Tariff lines per HS chapter, in chapter order; codes without a chapter come last."""
    groups: dict[str, list[TariffCommitment]] = {}
    for line in lines:
        groups.setdefault(_chapter_of(line.hs_code), []).append(line)
    rows = []
    for chapter in sorted(groups, key=lambda c: (c == "", c)):
        group = groups[chapter]
        kinds: list[GoodsKind | None] = [_kind_of(t.hs_code) if chapter else None for t in group]
        rows.append(
            ChapterRow(
                chapter=chapter,
                lines=len(group),
                average_cut_pct=sum(t.current_rate_pct - t.offered_rate_pct for t in group) / len(group),
                agricultural=kinds.count(GoodsKind.AGRICULTURAL),
                industrial=kinds.count(GoodsKind.INDUSTRIAL),
                mixed=kinds.count(GoodsKind.MIXED),
                unclassified=kinds.count(None),
            )
        )
    return rows


class TemplateAssetFetcher(URLFetcher):  # type: ignore[misc]
    """Serves files from the templates folder and refuses everything else: no other files, no network."""

    def __init__(self, root: Path = TEMPLATES_DIR) -> None:
        super().__init__(allowed_protocols=["file"])
        self._root = root.resolve()

    def fetch(self, url: str, headers: object = None) -> URLFetcherResponse:
        parts = urlsplit(url)
        if parts.scheme != "file" or parts.netloc not in ("", "localhost"):
            raise ValueError(f"letters fetch only their own template assets, not {url}")
        path = Path(unquote(parts.path)).resolve()
        if not path.is_relative_to(self._root) or not path.is_file():
            raise ValueError(f"letters fetch only their own template assets, not {url}")
        media_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        return URLFetcherResponse(url, body=path.read_bytes(), headers={"Content-Type": media_type})


@lru_cache
def _environment() -> jinja2.Environment:
    env = template_environment(TEMPLATES_DIR)
    env.filters["pct"] = lambda v: f"{v:g}%"
    env.filters["tonnes"] = lambda v: f"{v:,.0f} t"
    env.filters["usd"] = lambda v: f"USD {v / 1e9:,.2f} bn" if v >= 1e8 else f"USD {v:,.0f}"
    env.filters["count"] = lambda v: f"{v:,}"
    env.filters["pp"] = lambda v: f"{round(v, 1) + 0.0:.1f} pp"  # + 0.0: no "-0.0"
    return env


@lru_cache
def _font_config() -> FontConfiguration:
    """One Fontconfig configuration and Pango font map per process, rather than one per letter.

    A new one reads and parses Fontconfig's configuration files and starts with empty font caches: every letter
    paid for that again. The letter uses installed fonts only (no @font-face), so nothing is added to it.
    """
    return FontConfiguration()


@lru_cache
def _stylesheet() -> CSS:
    """letter.css, parsed once per process rather than once per letter."""
    return CSS(
        filename=str(TEMPLATES_DIR / "letter.css"), url_fetcher=TemplateAssetFetcher(), font_config=_font_config()
    )


@lru_cache
def _image_cache() -> dict[str, Any]:
    """The seal, read and parsed once per process rather than once per letter (WeasyPrint's `cache` option).

    It only ever holds the template's own assets: the fetcher serves nothing else, and offers reach the HTML
    escaped.
    """
    return {}


@lru_cache
def _settle_process() -> None:
    """Once per process, before its first letter: take what the process has loaded out of the garbage collector's
    reach (gc.freeze).

    A full collection walks every object of the process: in a spawned render process (letters are rendered in a
    pool of their own, make_render_pool) that is the modules it re-imports (Temporal, pydantic...), some 130,000
    objects, 150 ms a time, and a letter's allocations used to set one off every other letter. Frozen, they are
    no longer walked. They stay loaded for the process's life anyway.
    """
    gc.collect()
    gc.freeze()


class _CharactersUntil(dict[tuple[Any, bool], re.Pattern[str]]):
    """tinyhtml5's cache of the regular expressions its tokenizer reads text with (`chars_until`), which finds them.

    tinyhtml5 2.1 stores each expression under the expression itself rather than under the characters it was
    asked for, so it never finds one: every tag, attribute and text run built its expression again, a third of the
    time to parse a letter (its tables are many short runs). This cache makes each expression once, the same way,
    the first time it is asked for.
    """

    def __missing__(self, key: tuple[Any, bool]) -> re.Pattern[str]:
        characters, opposite = key
        if isinstance(characters, re.Pattern):
            raise KeyError(key)
        regex = "".join(f"\\x{ord(character):02x}" for character in characters)
        self[key] = pattern = re.compile(f"[{regex}]+" if opposite else f"[^{regex}]+")
        return pattern


@lru_cache
def _mend_html_parser() -> None:
    """Once per process: tinyhtml5's cache of regular expressions (_CharactersUntil), if it is still the one that
    misses."""
    if type(getattr(tinyhtml5.inputstream, "characters_until_regex", None)) is dict:
        tinyhtml5.inputstream.characters_until_regex = _CharactersUntil()


@contextmanager
def _collect_once() -> Iterator[None]:
    """No garbage collection while a letter is laid out and written, one at the end.

    A letter allocates a few hundred thousand objects (boxes, styles, PDF objects), which set off some sixty
    collections of the young generations (and a full one every other letter), each walking objects that are
    still in use. The letter's own reference cycles are freed once it is written, by one collection of the
    young generation, inside the render so that its cost is counted in the letter's time.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
        gc.collect(0)


COMPRESSION_LEVEL = 6
"""zlib's level for every stream of a letter (pydyf uses 9). On a letter's streams (page content, the object stream
of its tagged structure, font subsets) level 9 took some ten times level 6's time for a file 2% smaller."""


def _compress_once(obj: object) -> None:
    """A stream to be compressed gets its compressed bytes (COMPRESSION_LEVEL) as its content instead, flagged
    FlateDecode, so that writing it again does not compress it again."""
    if not isinstance(obj, pydyf.Stream) or not obj.compress or "Filter" in obj.extra or "Length" in obj.extra:
        return
    obj.compress = False
    _, _, rest = obj.data.partition(b"\nstream\n")
    obj.stream = [zlib.compress(rest.removesuffix(b"\nendstream"), COMPRESSION_LEVEL)]
    obj.extra = {**obj.extra, "Filter": "/FlateDecode"}


_SERIALIZED: dict[type, type] = {}


def _serialized(obj: Any, data: bytes) -> None:
    """The object's `data` (its PDF syntax) is `data` from now on, rather than made again from its contents."""
    cls = type(obj)
    if cls not in _SERIALIZED:
        _SERIALIZED[cls] = type(f"Serialized{cls.__name__}", (cls,), {"__slots__": (), "data": property(_data)})
    obj._serialized = data
    obj.__class__ = _SERIALIZED[cls]


def _data(obj: Any) -> bytes:
    data: bytes = obj._serialized
    return data


class _CompressingOncePDF(pydyf.PDF):  # type: ignore[misc]
    """pydyf's PDF, which makes its object stream once.

    pydyf makes the object stream (the file's dictionaries and arrays, among them the tagged structure: an element
    per table cell) while it writes the file, then serialized every object in it once more and compressed the
    stream a second time, at zlib level 9, for the file's identifier (PDF/A). When the object stream is added, it
    is compressed once and each of its objects keeps the bytes it was serialized to.
    """

    def add_object(self, object_: Any) -> None:
        if isinstance(object_, pydyf.Stream) and object_.extra.get("Type") == "/ObjStm":
            kept = [obj for obj in self.objects if obj.free != "f" and obj.compressible]
            if len(kept) == len(object_.stream) - 1:  # the index, then each object's bytes, in this order
                for obj, data in zip(kept, object_.stream[1:], strict=True):
                    _serialized(obj, data)
        _compress_once(object_)
        super().add_object(object_)


def _compress_streams_once(document: object, pdf: pydyf.PDF) -> None:
    """A finisher for write_pdf: compress every stream now, once, rather than twice while the file is written.

    A PDF/A file carries an identifier, which pydyf derives by serializing every object a second time, and so it
    compressed every stream (page content, font subsets, the object stream pydyf adds as it writes) twice, at zlib
    level 9. The file holds the same objects, its streams compressed at COMPRESSION_LEVEL.
    """
    for obj in pdf.objects:
        _compress_once(obj)
    pdf.__class__ = _CompressingOncePDF


_T = TypeVar("_T")


def _call(function: Callable[..., _T], *args: Any) -> _T:
    return function(*args)


_ROOM_ON_THE_STACK = 3100
"""Values of room on CPython's frame stack that a render is called with: the letter's deepest layout fits in them."""
_call_with_room: Callable[..., Any] = types.FunctionType(
    _call.__code__.replace(co_stacksize=_call.__code__.co_stacksize + _ROOM_ON_THE_STACK), globals(), "_call_with_room"
)
"""_call, through a frame with _ROOM_ON_THE_STACK unused values on its stack, so that a render's frames fit in one
chunk of CPython's frame stack.

CPython 3.11 keeps Python frames in chunks of 16 KiB, mapped (mmap) when a call needs room past the last chunk and
unmapped when that call returns. A letter's layout (tables, cells, lines, text) recurses deeper than a paragraph's
and crossed such a boundary some 4,000 times a letter: a mmap, a munmap and a page fault each, 10 to 30 ms of the
kernel's time on a letter of 200 ms that the paragraphs did not pay. A frame this large makes CPython map one
chunk of 64 KiB for it, with room for the whole render after it, once per letter. The unused values cost nothing:
a frame's stack is not cleared."""


def letter_filename(inp: LetterInput) -> str:
    return f"landing-zone-{inp.round_id}-{inp.partner}-v{inp.offer_version}.pdf"


def render_letter_html(inp: LetterInput) -> str:
    created = datetime.combine(inp.letter_date, time(12, 0), tzinfo=UTC)
    tariffs = inp.offer.tariff_commitments
    listed = len(tariffs) <= MAX_LISTED_LINES
    return (
        _environment()
        .get_template("letter.html.j2")
        .render(
            letter=inp,
            offer=inp.offer,
            terms=inp.terms,
            zone=inp.terms.landing_zone,
            report=inp.report,
            categories=Category,
            titles=CATEGORY_TITLES,
            created=created.strftime("%Y-%m-%dT%H:%M:%SZ"),
            tariffs_listed=listed,
            chapters=[] if listed else chapter_summary(tariffs),
            tariff_csv_name=TARIFF_CSV_NAME,
        )
    )


def render_letter_pdf(inp: LetterInput) -> tuple[bytes, int]:
    """The letter's PDF bytes and its page count."""
    created = datetime.combine(inp.letter_date, time(12, 0), tzinfo=UTC)
    # Font subsets carry a timestamp; SOURCE_DATE_EPOCH pins it (this runs in a worker process of its own).
    os.environ["SOURCE_DATE_EPOCH"] = str(int(created.timestamp()))
    fetcher = TemplateAssetFetcher()
    attachments = [
        Attachment(
            string=inp.offer.model_dump_json(indent=2),
            name="offer.json",
            description=f"The offer of {inp.partner_name}, version {inp.offer_version}, as received",
            created=created,
            modified=created,
            relationship="Source",
            url_fetcher=fetcher,
        ),
        Attachment(
            string=inp.terms.model_dump_json(indent=2),
            name="landing-zone.json",
            description="The landing-zone terms agreed by the reviewers",
            created=created,
            modified=created,
            relationship="Data",
            url_fetcher=fetcher,
        ),
        Attachment(
            string=tariff_lines_csv(inp.offer.tariff_commitments),
            name=TARIFF_CSV_NAME,
            description=f"Every tariff line of the offer ({len(inp.offer.tariff_commitments):,}), one a row, "
            f"as CSV (UTF-8 with a byte-order mark, header row): {', '.join(TARIFF_CSV_COLUMNS)}; "
            "text that a spreadsheet would take for a formula starts with an apostrophe",
            created=created,
            modified=created,
            relationship="Data",
            url_fetcher=fetcher,
        ),
    ]
    return write_pdf(render_letter_html(inp), attachments, fetcher)


def write_pdf(
    source: str, attachments: Sequence[Attachment] = (), fetcher: TemplateAssetFetcher | None = None
) -> tuple[bytes, int]:
    """HTML to a tagged PDF/A-3a with letter.css, the way every letter is written: the PDF bytes and page count.

    The benchmark writes its plain-text yardstick through here too, so the two differ only in what they lay out.
    """
    result: tuple[bytes, int] = _call_with_room(_write_pdf, source, attachments, fetcher)
    return result


def _write_pdf(
    source: str, attachments: Sequence[Attachment], fetcher: TemplateAssetFetcher | None
) -> tuple[bytes, int]:
    _settle_process()
    _mend_html_parser()
    fetcher = fetcher or TemplateAssetFetcher()
    with _collect_once():
        html = HTML(string=source, base_url=TEMPLATES_DIR.as_uri() + "/", url_fetcher=fetcher)
        document = html.render(stylesheets=[_stylesheet()], font_config=_font_config(), cache=_image_cache())
        pdf = document.write_pdf(
            pdf_variant=PDF_VARIANT, attachments=list(attachments), finisher=_compress_streams_once
        )
        pages = len(document.pages)
        del html, document  # garbage by the time _collect_once collects
    assert pdf is not None
    return pdf, pages
