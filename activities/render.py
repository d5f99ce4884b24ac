"""Letters: jinja2 renders HTML, WeasyPrint renders PDF/A-3b with the offer and the terms attached as JSON.

The output is byte-for-byte reproducible for the same input: dates come from the input, never the clock,
so a re-run after a crash stores the same file under the same id.
"""

from __future__ import annotations

import mimetypes
import os
from datetime import UTC, datetime, time
from functools import lru_cache
from pathlib import Path
from urllib.parse import unquote, urlsplit

import jinja2
from weasyprint import CSS, HTML, Attachment
from weasyprint.urls import URLFetcher, URLFetcherResponse

from schemas.letter import LetterInput
from schemas.validation import CATEGORY_TITLES, Category

TEMPLATES_DIR = Path(__file__).resolve().parent.parent / "templates"
PDF_VARIANT = "pdf/a-3b"


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
    # autoescape=True, not select_autoescape(): the latter does not escape "letter.html.j2".
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["pct"] = lambda v: f"{v:g}%"
    env.filters["tonnes"] = lambda v: f"{v:,.0f} t"
    env.filters["usd"] = lambda v: f"USD {v / 1e9:,.2f} bn" if v >= 1e8 else f"USD {v:,.0f}"
    return env


@lru_cache
def _stylesheet() -> CSS:
    """letter.css, parsed once per process rather than once per letter."""
    return CSS(filename=str(TEMPLATES_DIR / "letter.css"), url_fetcher=TemplateAssetFetcher())


def letter_filename(inp: LetterInput) -> str:
    return f"landing-zone-{inp.round_id}-{inp.partner}-v{inp.offer_version}.pdf"


def render_letter_html(inp: LetterInput) -> str:
    created = datetime.combine(inp.letter_date, time(12, 0), tzinfo=UTC)
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
    ]
    html = HTML(
        string=render_letter_html(inp),
        base_url=TEMPLATES_DIR.as_uri() + "/",
        url_fetcher=fetcher,
    )
    document = html.render(stylesheets=[_stylesheet()])
    pdf = document.write_pdf(pdf_variant=PDF_VARIANT, attachments=attachments)
    assert pdf is not None
    return pdf, len(document.pages)
