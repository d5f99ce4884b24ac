"""The JSON API under /api: the engine's models in and out, every refusal a 4xx with a sentence."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Body, File, Query, Request, Response, UploadFile

from offerdesk.portal.params import (
    OFFER,
    Caller,
    LetterNumber,
    Partner,
    RoundId,
    TheDesk,
    TokenId,
    UserName,
    read_upload,
)
from offerdesk.portal.responses import API_REFUSALS, letters_zip, pdf
from offers.documents import parse_offer
from schemas.answer import AcceptBody, CloseBody, ReopenBody
from schemas.listing import OfferListing
from schemas.notice import InboxEntry
from schemas.offer_state import IssuedLetter, OfferAnswer, OfferState, OfferStatus, SubmissionResult
from schemas.portal import (
    ApproveBody,
    AuditRecord,
    CommentBody,
    DecideBody,
    EmailBody,
    ExtendBody,
    Me,
    NewUser,
    OpenRoundBody,
    RemindersBody,
    RequestChangesBody,
    RetryLetterBody,
    RoundDashboard,
    TokenCreated,
    TokenInfo,
    TokenRequest,
    UserInfo,
    WithdrawBody,
)
from schemas.round import RoundStatus

router = APIRouter(prefix="/api", responses=API_REFUSALS)


@router.get("/me", tags=["access"])
async def me(who: Caller) -> Me:
    """Who the portal thinks you are."""
    return Me(name=who.name, role=who.role, partner=who.partner, via="token" if who.via == "token" else "session")


# ---- offers ------------------------------------------------------------------------------------


@router.get("/offers", tags=["offers"])
async def list_offers(who: Caller, d: TheDesk, state: OfferState | None = None) -> list[OfferListing]:
    """The offers you may see (a negotiator: their partner's), optionally in one state."""
    return await d.offers(who, state)


@router.get(OFFER, tags=["offers"])
async def get_offer(round_id: RoundId, partner: Partner, who: Caller, d: TheDesk) -> OfferStatus:
    """One offer: state, versions, findings per category, and (for reviewers and staff) the landing zone."""
    return await d.offer(who, round_id, partner)


@router.post(
    OFFER + "/versions",
    status_code=201,
    tags=["offers"],
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/OfferDocument"}}},
        }
    },
)
async def submit_offer(
    round_id: RoundId, partner: Partner, request: Request, who: Caller, d: TheDesk
) -> SubmissionResult:
    """Submit the offer document (JSON), or amend it if a version exists; validation findings come back.

    The body is read as the CLI reads a file: non-finite numbers and runaway nesting are a 422 naming the field.
    """
    document = await asyncio.to_thread(parse_offer, await request.body(), "the request body")
    return await d.submit(who, round_id, partner, document)


@router.post(OFFER + "/versions/upload", status_code=201, tags=["offers"])
async def upload_offer(
    round_id: RoundId, partner: Partner, who: Caller, d: TheDesk, file: Annotated[UploadFile, File()]
) -> SubmissionResult:
    """The same as POST …/versions, with the document as an uploaded file (multipart/form-data)."""
    document = await read_upload(file)
    return await d.submit(who, round_id, partner, document)


@router.post(OFFER + "/withdraw", tags=["offers"])
async def withdraw_offer(
    round_id: RoundId, partner: Partner, body: WithdrawBody, who: Caller, d: TheDesk
) -> OfferAnswer:
    return await d.withdraw(who, round_id, partner, body)


@router.get(
    OFFER + "/letter",
    tags=["letters"],
    response_class=Response,
    responses={200: {"content": {"application/pdf": {}}, "description": "The landing-zone letter (tagged PDF/A-3a)"}},
)
async def get_letter(round_id: RoundId, partner: Partner, who: Caller, d: TheDesk) -> Response:
    """The latest letter (…/letters/N for any of them)."""
    letter = await d.letter(who, round_id, partner)
    return pdf(letter.content, letter.ref.filename, letter.ref.sha256)


@router.get(OFFER + "/letters", tags=["letters"])
async def list_letters(round_id: RoundId, partner: Partner, who: Caller, d: TheDesk) -> list[IssuedLetter]:
    """Every letter of the offer, from 1: the version each answers, when it was issued, its terms. All are kept."""
    return (await d.offer(who, round_id, partner)).numbered_letters()


@router.get(
    OFFER + "/letters/{number}",
    tags=["letters"],
    response_class=Response,
    responses={200: {"content": {"application/pdf": {}}, "description": "Letter N, as it was issued"}},
)
async def get_numbered_letter(
    round_id: RoundId, partner: Partner, number: LetterNumber, who: Caller, d: TheDesk
) -> Response:
    letter = await d.letter(who, round_id, partner, number)
    return pdf(letter.content, letter.ref.filename, letter.ref.sha256)


# ---- the partner's answer ----------------------------------------------------------------------


@router.post(OFFER + "/accept", tags=["answers"])
async def accept_letter(round_id: RoundId, partner: Partner, body: AcceptBody, who: Caller, d: TheDesk) -> OfferAnswer:
    """Accept the letter that awaits the partner's answer (`letter`: the number read; 409 StaleLetter once a later
    one exists): its terms become the deal. The partner's negotiator accepts; staff may, for the partner, with a
    `reason`. To counter it instead, send a new version (POST …/versions)."""
    return await d.accept(who, round_id, partner, body)


@router.post(OFFER + "/reopen", tags=["answers"])
async def reopen_offer(round_id: RoundId, partner: Partner, body: ReopenBody, who: Caller, d: TheDesk) -> OfferAnswer:
    """Staff reopen an UNANSWERED offer: its latest letter awaits an answer again for `respond_within`."""
    return await d.reopen(who, round_id, partner, body)


@router.post(OFFER + "/close", tags=["answers"])
async def close_offer(round_id: RoundId, partner: Partner, body: CloseBody, who: Caller, d: TheDesk) -> OfferAnswer:
    """Staff close an UNANSWERED offer: it stays UNANSWERED, and its workflow ends."""
    return await d.close(who, round_id, partner, body)


# ---- review ------------------------------------------------------------------------------------


@router.get("/queue", tags=["review"])
async def review_queue(who: Caller, d: TheDesk) -> list[OfferListing]:
    """Offers under review, the window closing soonest first."""
    return await d.queue(who)


@router.post(OFFER + "/approve", tags=["review"])
async def approve_offer(round_id: RoundId, partner: Partner, body: ApproveBody, who: Caller, d: TheDesk) -> OfferAnswer:
    return await d.approve(who, round_id, partner, body)


@router.post(OFFER + "/request-changes", tags=["review"])
async def request_changes(
    round_id: RoundId, partner: Partner, body: RequestChangesBody, who: Caller, d: TheDesk
) -> OfferAnswer:
    return await d.request_changes(who, round_id, partner, body)


@router.post(OFFER + "/comments", tags=["review"])
async def comment_offer(round_id: RoundId, partner: Partner, body: CommentBody, who: Caller, d: TheDesk) -> OfferAnswer:
    """An internal note for reviewers and staff; negotiators never see it."""
    return await d.comment(who, round_id, partner, body)


# ---- staff -------------------------------------------------------------------------------------


@router.get("/rounds", tags=["rounds"])
async def list_rounds(who: Caller, d: TheDesk) -> list[str]:
    return await d.rounds(who)


@router.post("/rounds", status_code=201, tags=["rounds"])
async def open_round(body: OpenRoundBody, who: Caller, d: TheDesk) -> RoundStatus:
    return await d.open_round(who, body)


@router.get("/rounds/{round_id}", tags=["rounds"])
async def round_dashboard(round_id: RoundId, who: Caller, d: TheDesk) -> RoundDashboard:
    return await d.dashboard(who, round_id)


@router.get(
    "/rounds/{round_id}/letters.zip",
    tags=["letters"],
    response_class=Response,
    responses={200: {"content": {"application/zip": {}}, "description": "Every issued letter of the round"}},
)
async def round_letters(round_id: RoundId, who: Caller, d: TheDesk) -> Response:
    content, count = await d.round_letters(who, round_id)
    return letters_zip(content, round_id, count)


@router.post(OFFER + "/extend", tags=["staff"])
async def extend_review(round_id: RoundId, partner: Partner, body: ExtendBody, who: Caller, d: TheDesk) -> OfferAnswer:
    return await d.extend(who, round_id, partner, body)


@router.post(OFFER + "/decide", tags=["staff"])
async def decide(round_id: RoundId, partner: Partner, body: DecideBody, who: Caller, d: TheDesk) -> OfferAnswer:
    """Staff decide an escalated offer (or one under review): approve at a rate, or send it back."""
    return await d.decide(who, round_id, partner, body)


@router.post(OFFER + "/retry-letter", tags=["staff"])
async def retry_letter(
    round_id: RoundId, partner: Partner, who: Caller, d: TheDesk, body: Annotated[RetryLetterBody | None, Body()] = None
) -> OfferAnswer:
    """Staff render a failed letter again (LETTER_FAILED), once its cause is fixed."""
    return await d.retry_letter(who, round_id, partner, body or RetryLetterBody())


@router.get("/audit", tags=["staff"])
async def audit(
    who: Caller,
    d: TheDesk,
    round_id: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=5000)] = 500,
) -> list[AuditRecord]:
    """Every decision and letter download through the portal, newest first."""
    return await d.audit(who, round_id, limit)


# ---- users and tokens (staff) ------------------------------------------------------------------


@router.get("/users", tags=["access"])
async def list_users(who: Caller, d: TheDesk) -> list[UserInfo]:
    return await d.users(who)


@router.post("/users", status_code=201, tags=["access"])
async def add_user(body: NewUser, who: Caller, d: TheDesk) -> UserInfo:
    return await d.add_user(who, body)


@router.put("/users/{name}/email", tags=["access"])
async def set_user_email(name: UserName, body: EmailBody, who: Caller, d: TheDesk) -> UserInfo:
    """Set where a user's notifications are mailed; `null` clears it (their notices stay on /notifications)."""
    return await d.set_email(who, name, body.email)


@router.get("/tokens", tags=["access"])
async def list_tokens(who: Caller, d: TheDesk) -> list[TokenInfo]:
    return await d.tokens(who)


@router.post("/tokens", status_code=201, tags=["access"])
async def create_token(body: TokenRequest, who: Caller, d: TheDesk) -> TokenCreated:
    """A new API token acting as `user`. The token is in this answer only; keep it."""
    return await d.create_token(who, body.user, body.label)


@router.delete("/tokens/{token_id}", status_code=204, tags=["access"], response_class=Response)
async def revoke_token(token_id: TokenId, who: Caller, d: TheDesk) -> Response:
    await d.revoke_token(who, token_id)
    return Response(status_code=204)


# ---- your notifications ------------------------------------------------------------------------


@router.get("/notifications", tags=["notifications"])
async def list_notifications(
    who: Caller, d: TheDesk, limit: Annotated[int, Query(ge=1, le=1000)] = 200
) -> list[InboxEntry]:
    """Your own notices, newest first: what was mailed to you, or would have been without an address."""
    return await d.notifications(who, limit)


@router.put("/notifications/reminders", tags=["notifications"])
async def set_reminders(body: RemindersBody, who: Caller, d: TheDesk) -> UserInfo:
    """Turn your own reminders on or off; notices about decisions on your own offers come either way."""
    return await d.set_reminders(who, body.on)
