"""Reading an offer itself: its tariff lines filtered and paged, every other category, and what changed between
two versions. The API routes are here; the offer's page gets the same through `offer_content`."""

from __future__ import annotations

import re
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request

from offerdesk.engine import Refused
from offerdesk.people.principal import Principal
from offerdesk.portal.desk import Desk, LineFilter
from offerdesk.portal.params import OFFER, Caller, Partner, RoundId, TheDesk, Version
from offerdesk.portal.responses import API_REFUSALS
from offers.lines import MAX_PER_PAGE, PER_PAGE, page_of
from schemas.diff import LineKind, LinePage, OfferDiff
from schemas.offer_state import OfferStatus

router = APIRouter(prefix="/api", responses=API_REFUSALS)

SHOWN_CHANGES = 200
"""How many entries of each list of changes the page shows; the API gives them all."""
CHAPTER = r"[0-9]{2}"


@router.get(OFFER + "/lines", tags=["offers"])
async def offer_lines(
    round_id: RoundId,
    partner: Partner,
    who: Caller,
    d: TheDesk,
    version: Version = None,
    chapter: Annotated[str | None, Query(pattern=f"^{CHAPTER}$", description="An HS chapter, 2 digits")] = None,
    kind: Annotated[LineKind | None, Query(description="Lines on agricultural, industrial or mixed codes")] = None,
    no_change: Annotated[bool, Query(description="Only lines whose offered rate is the current rate")] = False,
    page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
    per_page: Annotated[int, Query(ge=1, le=MAX_PER_PAGE)] = PER_PAGE,
) -> LinePage:
    """One page of the offer's tariff lines, filtered; each line carries its index in `tariff_commitments`."""
    shown = LineFilter(chapter, kind, no_change, page, per_page)
    return (await d.lines(who, round_id, partner, version, shown)).page


@router.get(OFFER + "/diff", tags=["offers"])
async def offer_changes(
    round_id: RoundId,
    partner: Partner,
    who: Caller,
    d: TheDesk,
    from_: Annotated[int | None, Query(alias="from", ge=1, le=1_000_000)] = None,
    to: Version = None,
) -> OfferDiff:
    """What changed between two versions (by default the latest against the one before): tariff lines and quotas
    by HS code, non-tariff measures by their text, pledges added or removed, and categories whose status changed."""
    return await d.diff(who, round_id, partner, from_, to)


# ---- the offer's page ----------------------------------------------------------------------------

_PATH = re.compile(r"^(\w+)\[([0-9]+)\]")
_ANCHORS = {
    "quota_commitments": "quota",
    "non_tariff_barriers": "ntb",
    "digital_trade": "digital",
    "economic_security": "security",
    "country_specific": "country",
}


def finding_href(base: str, path: str, per_page: int = PER_PAGE) -> str | None:
    """Where on the offer's page (latest version, no filters) the part a finding names is shown."""
    found = _PATH.match(path)
    if found is not None:
        field, index = found.group(1), int(found.group(2))
        if field == "tariff_commitments":  # people count lines from 1, and the page anchors them so
            return f"{base}?page={page_of(index, per_page)}#line-{index + 1}"
        if field in _ANCHORS:
            return f"{base}#{_ANCHORS[field]}-{index}"
    head = path.split(".")[0].split("[")[0]
    return {"summary": f"{base}#summary", "submitted_by": f"{base}#contact"}.get(head)


def line_number(path: str) -> int | None:
    """The number people read for the tariff line a finding names (from 1; the path counts from 0), if it names one."""
    found = _PATH.match(path)
    return int(found.group(2)) + 1 if found is not None and found.group(1) == "tariff_commitments" else None


def _number(text: str | None) -> int | None:
    return int(text) if text and text.isascii() and text.isdigit() and len(text) < 8 else None


async def offer_content(request: Request, d: Desk, who: Principal, status: OfferStatus, base: str) -> dict[str, Any]:
    """What the offer's page shows beyond the status: the content of one version with a page of its lines, and
    what changed. The query string is read leniently: a filter nobody can use is dropped with a note."""
    q = request.query_params
    notes: list[str] = []
    context: dict[str, Any] = {
        "content": None,
        "diff": None,
        "content_notes": notes,
        "shown_changes": SHOWN_CHANGES,
        "finding_href": lambda path: finding_href(base, path),
        "finding_line": line_number,
    }
    if not status.versions:
        return context
    chapter = q.get("chapter", "").strip() or None
    if chapter is not None and not re.fullmatch(CHAPTER, chapter):
        notes.append(f'"{chapter}" is not an HS chapter; give 2 digits, such as 02 or 87')
        chapter = None
    kind = LineKind(q["kind"]) if q.get("kind") in set(LineKind) else None
    no_change = q.get("no_change") in ("1", "true", "on")
    version = _number(q.get("version"))
    shown = LineFilter(chapter, kind, no_change, _number(q.get("page")) or 1)
    try:
        found = await d.lines(who, status.round_id, status.partner, version, shown)
    except Refused as e:
        notes.append(e.message)
        return context
    doc, read_version, _ = found.read
    filters = {
        k: v
        for k, v in {
            "version": str(version) if version is not None else None,
            "chapter": chapter,
            "kind": kind.value if kind else None,
            "no_change": "1" if no_change else None,
        }.items()
        if v
    }

    def page_url(number: int) -> str:
        return f"{base}?{urlencode({**filters, 'page': number})}#lines"

    context["content"] = {
        "doc": doc,
        "version": read_version,
        "latest": read_version.number == status.versions[-1].number,
        "lines": found.page,
        "page_url": page_url,
        "chapter": chapter or "",
        "kind": kind.value if kind else "",
        "no_change": no_change,
        "kinds": [k.value for k in LineKind],
    }
    if len(status.versions) > 1:
        try:
            to = _number(q.get("to")) or status.versions[-1].number
            from_ = _number(q.get("from")) or status.compare_from(to)  # a counter-offer: against what was answered
            context["diff"] = await d.diff(who, status.round_id, status.partner, from_, to, found.read)
        except Refused as e:
            notes.append(f"what changed cannot be shown: {e.message}")
    return context
