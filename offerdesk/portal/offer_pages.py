"""One offer's page, its letter, and its forms: the negotiator's upload, and the review and staff decisions.

The decisions are one handler over a table: each form's body model (whose fields bound the form's), the desk's
method that makes it, and the sentence that says what happened.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any, Generic, TypeVar
from urllib.parse import quote

from fastapi import File, Request, UploadFile
from fastapi.responses import HTMLResponse
from pydantic import BaseModel
from starlette.responses import Response

from offerdesk.durations import parse_duration
from offerdesk.engine import Refused
from offerdesk.people.principal import Principal
from offerdesk.portal.access import Action, require
from offerdesk.portal.content import offer_content
from offerdesk.portal.desk import Desk
from offerdesk.portal.forms import read_form
from offerdesk.portal.params import OFFER, LetterNumber, Person, Poster, TheDesk, read_upload
from offerdesk.portal.responses import pdf
from offerdesk.portal.templating import act, render, router, when
from schemas import portal as bodies
from schemas.answer import AcceptBody, CloseBody, ReopenBody
from schemas.offer_state import OfferAnswer, OfferState, OfferStatus
from schemas.refusal import Refusal
from schemas.validation import CATEGORY_TITLES, Category, CategoryStatus

B = TypeVar("B", bound=BaseModel)


def offer_path(round_id: str, partner: str) -> str:
    return f"/rounds/{quote(round_id)}/offers/{quote(partner)}"


# ---- the page ----------------------------------------------------------------------------------


def _by_category(status: OfferStatus) -> list[dict[str, Any]]:
    """Findings grouped where a negotiator looks for them: under each required category, then general ones."""
    report = status.report
    groups: list[dict[str, Any]] = []
    for category, title in CATEGORY_TITLES.items():
        groups.append(
            {
                "key": category.value,
                "title": title,
                "status": _status(report.categories.get(category)) if report else "",
                "findings": [f for f in report.findings if f.category == category] if report else [],
            }
        )
    general = [f for f in report.findings if f.category is None] if report else []
    if general:
        groups.append({"key": "general", "title": "The document as a whole", "status": "", "findings": general})
    return groups


def _status(status: CategoryStatus | None) -> str:
    return status.value if status else ""


def _countered(status: OfferStatus) -> dict[str, Any] | None:
    """A counter-offer beside the letter it answers: that letter's terms, and the version it answered."""
    letter = status.counter_offer()
    if letter is None:
        return None
    return {"letter": letter, "answered": letter.version}


@router.get(OFFER, response_class=HTMLResponse)
async def offer_page(request: Request, round_id: str, partner: str, who: Person, d: TheDesk) -> Response:
    status = await d.offer(who, round_id, partner)
    open_ = not status.final
    base = offer_path(round_id, partner)
    return await render(
        request,
        "offer.html",
        who,
        offer=status,
        groups=_by_category(status),
        base=base,
        can_upload=open_ and status.state is not OfferState.VALIDATING,
        can_review=status.state is OfferState.UNDER_REVIEW,
        can_decide=status.state in (OfferState.UNDER_REVIEW, OfferState.ESCALATED),
        can_reopen=status.state is OfferState.UNANSWERED and status.closing is None,
        is_open=open_,
        letters=status.numbered_letters(),
        countered=_countered(status),
        Category=Category,
        **await offer_content(request, d, who, status, base),
    )


@router.get(OFFER + "/letter")
async def letter(round_id: str, partner: str, who: Person, d: TheDesk) -> Response:
    found = await d.letter(who, round_id, partner)
    return pdf(found.content, found.ref.filename, found.ref.sha256)


@router.get(OFFER + "/letters/{number}")
async def numbered_letter(round_id: str, partner: str, number: LetterNumber, who: Person, d: TheDesk) -> Response:
    found = await d.letter(who, round_id, partner, number)
    return pdf(found.content, found.ref.filename, found.ref.sha256)


@router.get(OFFER + "/accept", response_class=HTMLResponse)
async def accept_page(request: Request, round_id: str, partner: str, who: Person, d: TheDesk) -> Response:
    """The confirmation step before a letter is accepted: its terms, and the one button that accepts them."""
    require(who, Action.ACCEPT, round_id, partner)
    status = await d.offer(who, round_id, partner)
    letters = status.numbered_letters()
    return await render(
        request,
        "accept.html",
        who,
        offer=status,
        letter=letters[-1] if letters and status.awaits_answer else None,
        base=offer_path(round_id, partner),
    )


@router.post(OFFER + "/upload")
async def upload(
    request: Request, round_id: str, partner: str, who: Poster, d: TheDesk, file: Annotated[UploadFile, File()]
) -> Response:
    async def work() -> str:
        receipt = await d.submit(who, round_id, partner, await read_upload(file))
        if receipt.duplicate:
            return f"this is the same document as version {receipt.version}; nothing changed"
        errors = len(receipt.report.errors) if receipt.report else 0
        what = f"; validation found {errors} error(s) to fix below" if errors else ""
        return f"version {receipt.version} received: the offer is {receipt.state.value}{what}"

    return await act(request, offer_path(round_id, partner), work)


# ---- the decisions: one handler, one table -----------------------------------------------------


def _duration(text: str) -> object:
    try:
        return parse_duration(text)
    except ValueError as e:
        raise Refused(str(e), Refusal.BAD_DURATION) from None


@dataclass(frozen=True)
class OfferForm(Generic[B]):
    """A form on the offer's page that makes one decision through the desk."""

    path: str
    body: type[B]
    decide: Callable[[Desk, Principal, str, str, B], Awaitable[OfferAnswer]]
    said: Callable[[B, OfferAnswer], str]
    parse: Mapping[str, Callable[[str], object]] = field(default_factory=dict)
    """Fields typed as text that are read otherwise first (a duration such as "2d")."""


OFFER_FORMS: tuple[OfferForm[Any], ...] = (
    OfferForm("/withdraw", bodies.WithdrawBody, Desk.withdraw, lambda body, answer: "the offer is withdrawn"),
    OfferForm(
        "/approve",
        bodies.ApproveBody,
        Desk.approve,
        lambda body, answer: (
            f"approved version {body.version}: {answer.approvals} of {answer.approvals_required}; "
            f"the offer is {answer.state.value}"
        ),
    ),
    OfferForm(
        "/request-changes",
        bodies.RequestChangesBody,
        Desk.request_changes,
        lambda body, answer: f"version {body.version} sent back to the negotiator with your note",
    ),
    OfferForm(
        "/comment", bodies.CommentBody, Desk.comment, lambda body, answer: "comment added (reviewers and staff only)"
    ),
    OfferForm(
        "/extend",
        bodies.ExtendBody,
        Desk.extend,
        lambda body, answer: f"the review window now closes {when(answer.review_deadline)}",
        {"extend_by": _duration},
    ),
    OfferForm(
        "/decide",
        bodies.DecideBody,
        Desk.decide,
        lambda body, answer: (
            f"decided: {body.decision.replace('_', ' ')} on version {body.version}; the offer is {answer.state.value}"
        ),
    ),
    OfferForm(
        "/accept",
        AcceptBody,
        Desk.accept,
        lambda body, answer: (
            f"you accepted letter {body.letter}: its terms are the deal; the offer is {answer.state.value}"
        ),
    ),
    OfferForm(
        "/reopen",
        ReopenBody,
        Desk.reopen,
        lambda body, answer: f"reopened: letter {answer.letters} awaits an answer until {when(answer.respond_by)}",
        {"respond_within": _duration},
    ),
    OfferForm("/close", CloseBody, Desk.close, lambda body, answer: f"closed: the offer stays {answer.state.value}"),
    OfferForm(
        "/retry-letter",
        bodies.RetryLetterBody,
        Desk.retry_letter,
        lambda body, answer: f"the letter is being rendered again; the offer is {answer.state.value}",
    ),
)


def _handler(form: OfferForm[Any]) -> Callable[..., Awaitable[Response]]:
    async def decide(request: Request, round_id: str, partner: str, who: Poster, d: TheDesk) -> Response:
        async def work() -> str:
            body = read_form(form.body, await request.form(), form.parse)
            return form.said(body, await form.decide(d, who, round_id, partner, body))

        return await act(request, offer_path(round_id, partner), work)

    return decide


for _form in OFFER_FORMS:
    router.add_api_route(
        OFFER + _form.path, _handler(_form), methods=["POST"], name=_form.path.strip("/").replace("-", "_")
    )
