"""The JSON API under /api: the engine's models in and out, every refusal a 4xx with a sentence."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, File, Path, Query, Request, Response, UploadFile

from offerdesk.portal.access import Action, require
from offerdesk.portal.accounts import Accounts, Principal
from offerdesk.portal.auth import accounts, api_caller, desk, postbox
from offerdesk.portal.desk import Desk
from offerdesk.portal.postbox import Postbox
from offers.documents import MAX_OFFER_BYTES, UnusableInputError, parse_offer
from schemas.listing import OfferListing
from schemas.notice import InboxEntry
from schemas.offer import OfferDocument
from schemas.offer_state import OfferAnswer, OfferState, OfferStatus, SubmissionResult
from schemas.portal import (
    USER_NAME_PATTERN,
    ApproveBody,
    AuditRecord,
    CommentBody,
    DecideBody,
    EmailBody,
    ErrorBody,
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

RoundId = Annotated[str, Path(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$", description="The round's id")]
Partner = Annotated[str, Path(pattern=r"^[A-Z]{2}$", description="The partner's code, such as JP")]
Caller = Annotated[Principal, Depends(api_caller)]
TheDesk = Annotated[Desk, Depends(desk)]
TheAccounts = Annotated[Accounts, Depends(accounts)]
ThePostbox = Annotated[Postbox, Depends(postbox)]
UserName = Annotated[str, Path(pattern=USER_NAME_PATTERN, description="The user's name")]

_errors: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorBody, "description": text}
    for code, text in {
        401: "Not signed in, or the API token is not valid",
        403: "Your role may not do this",
        404: "Nothing you may see exists here",
        409: "The offer's state does not allow this now",
        413: "The request body is over its limit: 16 MiB for an offer upload, 1 MiB for anything else",
        422: "The request or document is not valid; `fields` names each path at fault",
        503: "An outage: Temporal cannot be reached, no worker is running, or the store is away",
    }.items()
}

router = APIRouter(prefix="/api", responses=_errors)
OFFER = "/rounds/{round_id}/offers/{partner}"


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
    document = parse_offer(await request.body(), "the request body")
    return await d.submit(who, round_id, partner, document)


@router.post(OFFER + "/versions/upload", status_code=201, tags=["offers"])
async def upload_offer(
    round_id: RoundId, partner: Partner, who: Caller, d: TheDesk, file: Annotated[UploadFile, File()]
) -> SubmissionResult:
    """The same as POST …/versions, with the document as an uploaded file (multipart/form-data)."""
    document = await read_upload(file)
    return await d.submit(who, round_id, partner, document)


async def read_upload(file: UploadFile) -> OfferDocument:
    """An uploaded offer: a JSON document, or an .xlsx workbook (by its name or its ZIP magic bytes)."""
    from offers.documents import is_workbook, parse_offer_file

    data = await file.read(MAX_OFFER_BYTES + 1)
    if not data:
        raise UnusableInputError("the uploaded file is empty; choose the offer's JSON file or .xlsx workbook")
    source = file.filename or "upload"
    if is_workbook(data, source):
        # Reading a full schedule's workbook takes seconds: off the event loop, so other requests go on.
        return await asyncio.to_thread(parse_offer_file, data, source)
    return parse_offer(data, source)


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
    letter = await d.letter(who, round_id, partner)
    return pdf_response(letter.content, letter.ref.filename, letter.ref.sha256)


def pdf_response(content: bytes, filename: str, sha256: str) -> Response:
    return Response(
        content,
        media_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="{filename}"', "ETag": f'"{sha256}"'},
    )


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
    return Response(
        content,
        media_type="application/zip",
        headers={
            "Content-Disposition": f'attachment; filename="offerdesk-{round_id}-letters.zip"',
            "X-Letter-Count": str(count),
        },
    )


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
async def list_users(who: Caller, a: TheAccounts) -> list[UserInfo]:
    require(who, Action.MANAGE_ACCESS)
    return await asyncio.to_thread(a.users)


@router.post("/users", status_code=201, tags=["access"])
async def add_user(body: NewUser, who: Caller, a: TheAccounts) -> UserInfo:
    require(who, Action.MANAGE_ACCESS)
    user = await asyncio.to_thread(a.add_user, body.name, body.role, body.password, body.partner, body.email)
    await asyncio.to_thread(a.record, who, "add user", "done", None, body.partner, f"{body.name} ({body.role.value})")
    return user


@router.put("/users/{name}/email", tags=["access"])
async def set_user_email(name: UserName, body: EmailBody, who: Caller, a: TheAccounts) -> UserInfo:
    """Set where a user's notifications are mailed; `null` clears it (their notices stay on /notifications)."""
    require(who, Action.MANAGE_ACCESS)
    user = await asyncio.to_thread(a.set_email, name, body.email)
    await asyncio.to_thread(a.record, who, "set e-mail", "done", None, None, email_detail(user))
    return user


def email_detail(user: UserInfo) -> str:
    """The audit's detail of an address change: whose, and the address or that it was cleared."""
    return f"{user.name}: {user.email}" if user.email else f"{user.name}: cleared"


# ---- your notifications ------------------------------------------------------------------------


@router.get("/notifications", tags=["notifications"])
async def list_notifications(
    who: Caller, p: ThePostbox, limit: Annotated[int, Query(ge=1, le=1000)] = 200
) -> list[InboxEntry]:
    """Your own notices, newest first: what was mailed to you, or would have been without an address."""
    require(who, Action.NOTIFICATIONS)
    return await asyncio.to_thread(p.inbox, who.name, limit)


@router.put("/notifications/reminders", tags=["notifications"])
async def set_reminders(body: RemindersBody, who: Caller, a: TheAccounts) -> UserInfo:
    """Turn your own reminders on or off; notices about decisions on your own offers come either way."""
    require(who, Action.NOTIFICATIONS)
    user = await asyncio.to_thread(a.set_reminders, who.name, body.on)
    await asyncio.to_thread(a.record, who, "set reminders", "done", None, None, "on" if body.on else "off")
    return user


@router.get("/tokens", tags=["access"])
async def list_tokens(who: Caller, a: TheAccounts) -> list[TokenInfo]:
    require(who, Action.MANAGE_ACCESS)
    return await asyncio.to_thread(a.tokens)


@router.post("/tokens", status_code=201, tags=["access"])
async def create_token(body: TokenRequest, who: Caller, a: TheAccounts) -> TokenCreated:
    """A new API token acting as `user`. The token is in this answer only; keep it."""
    require(who, Action.MANAGE_ACCESS)
    created = await asyncio.to_thread(a.create_token, body.user, body.label, who.name)
    await asyncio.to_thread(
        a.record, who, "create API token", "done", None, None, f"{created.token_id} for {body.user}"
    )
    return created


@router.delete("/tokens/{token_id}", status_code=204, tags=["access"], response_class=Response)
async def revoke_token(token_id: Annotated[str, Path(max_length=64)], who: Caller, a: TheAccounts) -> Response:
    require(who, Action.MANAGE_ACCESS)
    await asyncio.to_thread(a.revoke_token, token_id)
    await asyncio.to_thread(a.record, who, "revoke API token", "done", None, None, token_id)
    return Response(status_code=204)
