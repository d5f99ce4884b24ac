"""Letters rendered by WeasyPrint and read back with pypdf and pikepdf."""

from __future__ import annotations

import io
import json
import os
import signal
from pathlib import Path

import pikepdf
import pypdf
import pytest

from activities.offer_activities import make_render_pool
from activities.render import TemplateAssetFetcher, render_letter_html, render_letter_pdf
from offerdesk.documents import load_offer
from offerdesk.samples import sample_offer
from schemas.landing import AgreedTerms
from schemas.offer import OfferDocument
from tests.letters import letter_input

HOSTILE = '<img src="file:///etc/passwd"> {{ 7*7 }} <a href="http://example.com/x">x</a> <script>alert(1)</script>'


@pytest.fixture(scope="module")
def example(request: pytest.FixtureRequest) -> OfferDocument:
    return load_offer(Path(__file__).parent / "data" / "offer.example.json")


@pytest.fixture(scope="module")
def rendered(example: OfferDocument) -> tuple[bytes, int]:
    return render_letter_pdf(letter_input(example, rate=15.0))


def _text(pdf: bytes) -> str:
    return "\n".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(pdf)).pages)


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


def test_letter_claims_pdfa_3b_and_embeds_the_offer_and_terms(
    rendered: tuple[bytes, int], example: OfferDocument
) -> None:
    pdf, _ = rendered
    with pikepdf.open(io.BytesIO(pdf)) as doc:
        meta = doc.open_metadata()
        assert meta.pdfa_status == "3B"
        files = doc.attachments
        assert sorted(files) == ["landing-zone.json", "offer.json"]
        offer = json.loads(files["offer.json"].get_file().read_bytes())
        terms = AgreedTerms.model_validate_json(files["landing-zone.json"].get_file().read_bytes())
        assert OfferDocument.model_validate(offer) == example
        assert terms.agreed_rate_pct == 15.0
        relationships = {str(spec.obj.AFRelationship) for spec in files.values()}
        assert relationships == {"/Source", "/Data"}
        # Associated files, as PDF/A-3 requires (WeasyPrint 70 lists each filespec twice; same objects).
        assert {str(spec.UF) for spec in doc.Root.AF} == {"offer.json", "landing-zone.json"}
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


def test_the_same_inputs_give_identical_bytes(example: OfferDocument, rendered: tuple[bytes, int]) -> None:
    again, _ = render_letter_pdf(letter_input(example, rate=15.0))
    assert again == rendered[0]


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
        assert sorted(opened.attachments) == ["landing-zone.json", "offer.json"]
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
    # Rows are kept whole (break-inside: avoid); floated cells once let a wrapped description's last word
    # fall onto the next page, over the next row's HS code.
    doc = sample_offer("r1", "EU", lines=60, seed=60)  # a wrapped row falls at the foot of page 2
    pdf, pages = render_letter_pdf(letter_input(doc))
    assert pages >= 3
    texts = [" ".join(page.extract_text().split()) for page in pypdf.PdfReader(io.BytesIO(pdf)).pages]
    for t in doc.tariff_commitments:
        row = f"{t.hs_code} {t.description}"
        assert any(row in text for text in texts), f"{row!r} is not whole on any page"


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
