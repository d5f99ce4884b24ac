"""The lists each role starts from, and staff's pages: rounds, opening one, a round's dashboard and letters, and
the audit log."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import Form, Request
from fastapi.responses import HTMLResponse
from starlette.responses import Response

from offerdesk.durations import parse_deadline, parse_duration
from offerdesk.portal.forms import LINE, LONG
from offerdesk.portal.params import Person, Poster, TheDesk
from offerdesk.portal.responses import letters_zip
from offerdesk.portal.templating import act, back_to, flash, render, router, when
from schemas.portal import OpenRoundBody, Role

Line = Annotated[str, Form(max_length=LINE)]


@router.get("/")
async def home(who: Person) -> Response:
    return back_to({Role.NEGOTIATOR: "/offers", Role.REVIEWER: "/queue", Role.STAFF: "/rounds"}[who.role])


@router.get("/offers", response_class=HTMLResponse)
async def offers_page(request: Request, who: Person, d: TheDesk) -> Response:
    return await render(request, "offers.html", who, offers=await d.offers(who))


@router.get("/queue", response_class=HTMLResponse)
async def queue_page(request: Request, who: Person, d: TheDesk) -> Response:
    return await render(request, "queue.html", who, offers=await d.queue(who))


@router.get("/rounds", response_class=HTMLResponse)
async def rounds_page(request: Request, who: Person, d: TheDesk) -> Response:
    return await render(request, "rounds.html", who, rounds=await d.rounds(who))


@router.post("/rounds")
async def open_round(
    request: Request,
    who: Poster,
    d: TheDesk,
    round_id: Line,
    partners: Annotated[str, Form(max_length=LONG)],
    deadline: Line,
    review_window: Line = "3d",
    approvals_required: Line = "2",
    respond_within: Line = "7d",
) -> Response:
    async def work() -> str:
        body = OpenRoundBody.model_validate(
            {
                "round_id": round_id.strip(),
                "partners": [p.strip().upper() for p in partners.replace(",", " ").split() if p.strip()],
                "deadline": parse_deadline(deadline.strip(), datetime.now(UTC)),
                "review_window": parse_duration(review_window.strip()),
                "approvals_required": approvals_required.strip(),
                "respond_within": parse_duration(respond_within.strip()),
            }
        )
        status = await d.open_round(who, body)
        return f"round {status.round_id} is open for {', '.join(status.partners)} until {when(status.deadline)}"

    try:
        return await act(request, "/rounds", work)
    except ValueError as e:  # a deadline or duration written in a form nobody can read
        await flash(request, "error", str(e))
        return back_to("/rounds")


@router.get("/rounds/{round_id}", response_class=HTMLResponse)
async def dashboard_page(request: Request, round_id: str, who: Person, d: TheDesk) -> Response:
    return await render(request, "dashboard.html", who, board=await d.dashboard(who, round_id))


@router.get("/rounds/{round_id}/letters.zip")
async def round_letters(round_id: str, who: Person, d: TheDesk) -> Response:
    content, count = await d.round_letters(who, round_id)
    return letters_zip(content, round_id, count)


@router.get("/audit", response_class=HTMLResponse)
async def audit_page(request: Request, who: Person, d: TheDesk, round_id: str | None = None) -> Response:
    return await render(request, "audit.html", who, records=await d.audit(who, round_id), round_id=round_id)
