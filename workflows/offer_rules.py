"""What an offer allows, as pure functions of its input and its memory: no activity, no timer, no clock.

Every check raises a refusal: an ApplicationError whose type is a Refusal kind and whose message is the sentence
the caller reads. An update's validator runs its check before the update is accepted, and the handler runs it
again, because the offer may have moved while the update waited for its turn.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from schemas.answer import Accept, CloseOffer, Reopen
    from schemas.document_ref import DocumentRef, reference_for
    from schemas.landing import AgreedTerms, Approval, LandingZone
    from schemas.offer_state import OfferInput, OfferMemory, OfferState, SubmitOffer
    from schemas.refusal import Refusal
    from schemas.review import Approve, Decision, ExtendReview, Request, RequestChanges, StaffDecision

S = OfferState
OPEN_STATES = frozenset({S.INVITED, S.VALIDATING, S.DEFICIENT, S.UNDER_REVIEW, S.ESCALATED})
"""States that take versions, comments and a withdrawal; so does a letter that awaits the partner's answer."""


def takes_changes(memory: OfferMemory) -> bool:
    return memory.state in OPEN_STATES or memory.awaits_answer


def refuse(message: str, kind: Refusal) -> ApplicationError:
    """A refusal the caller reads: a sentence, and a kind a program can test."""
    return ApplicationError(message, type=kind.value, non_retryable=True)


def failure_reason(error: BaseException) -> str:
    """The innermost message of an activity failure: what went wrong, without Temporal's wrapping."""
    while isinstance(error, ActivityError) and error.cause is not None:
        error = error.cause
    return getattr(error, "message", None) or str(error) or type(error).__name__


def same_person(a: str, b: str) -> bool:
    return a.strip().casefold() == b.strip().casefold()


def who(inp: OfferInput) -> str:
    return f"{inp.partner.name}'s offer in round {inp.round_id}"


def document_ref(request: SubmitOffer) -> DocumentRef:
    """The document a submission names: by reference, or (from clients older than references) inline."""
    if request.ref is not None:
        return request.ref
    if request.document is not None:
        return reference_for(request.document)
    raise refuse("a submission names its document: store it and send its reference", Refusal.NO_DOCUMENT)


def submitted(memory: OfferMemory, account: str) -> bool:
    """Whether `account` sent any version of this offer.

    Only the accounts recorded with the versions count, never the contact named inside a document: a
    negotiator cannot lock a reviewer out by typing the reviewer's name into `submitted_by`. Versions
    received before accounts were recorded have none, and lock nobody out.
    """
    return any(v.submitted_by is not None and same_person(v.submitted_by, account) for v in memory.versions)


# ---- checks ------------------------------------------------------------------------------------------


def check_fresh(inp: OfferInput, request: Request, now: datetime) -> None:
    """Validators only: a request its sender gave up on is refused, never applied behind their back."""
    if request.expires_at is not None and now > request.expires_at:
        raise refuse(
            f"this request reached {who(inp)} at {now.isoformat(timespec='seconds')}, after its sender "
            f"stopped waiting ({request.expires_at.isoformat(timespec='seconds')}); it was not applied. "
            "Send it again",
            Refusal.STALE,
        )


def check_submission(inp: OfferInput, memory: OfferMemory, ref: DocumentRef, amend: bool, now: datetime) -> bool:
    """Refuses what may not be accepted; True when the document repeats the latest version."""
    m = memory
    if ref.round_id != inp.round_id or ref.partner != inp.partner.code:
        raise refuse(
            f"this document is for round {ref.round_id}, partner {ref.partner}, but was sent to round "
            f"{inp.round_id}, partner {inp.partner.code}; fix round_id and partner in the file",
            Refusal.WRONG_OFFER,
        )
    if m.versions and ref.digest == m.versions[-1].digest:
        latest = m.versions[-1].report
        if latest is None or latest.failure is None:
            return True  # the same document again: answered with the existing version, not a second offer
    if not takes_changes(m):
        raise refuse(f"{who(inp)} is {m.state.value}: {_no_more(inp, m)}", Refusal.OFFER_CLOSED)
    if not amend:
        if m.versions:
            raise refuse(
                f"{who(inp)} was already submitted (version {len(m.versions)}); "
                "send a changed document with 'offer amend'",
                Refusal.ALREADY_SUBMITTED,
            )
        if now >= inp.deadline:
            raise refuse(
                f"round {inp.round_id} closed for submissions at {inp.deadline.isoformat()}; "
                "this offer was not accepted",
                Refusal.DEADLINE_PASSED,
            )
        return False
    if not m.versions:
        raise refuse(f"{who(inp)} has not been submitted yet; use 'offer submit' first", Refusal.NOTHING_TO_AMEND)
    if m.awaits_answer:
        assert m.respond_by is not None
        if now < m.respond_by:
            return False  # a counter-offer: the partner's answer to the letter
        raise refuse(
            f"the response window of letter {len(m.letters)} to {who(inp)} closed at {m.respond_by.isoformat()}; "
            "it takes no counter-offer now",
            Refusal.DEADLINE_PASSED,
        )
    if m.state is S.DEFICIENT and now < m.amend_until:
        return False
    if m.state is S.UNDER_REVIEW and now < inp.deadline:
        return False
    if m.state is S.VALIDATING:
        raise refuse(f"{who(inp)} is being validated; amend again in a moment", Refusal.BUSY)
    if m.state in (S.DEFICIENT, S.UNDER_REVIEW):
        until = m.amend_until if m.state is S.DEFICIENT else inp.deadline
        raise refuse(
            f"{who(inp)} could be amended until {until.isoformat()}; that time has passed", Refusal.DEADLINE_PASSED
        )
    raise refuse(f"{who(inp)} is {m.state.value}: it cannot be amended now", Refusal.WRONG_STATE)


def _no_more(inp: OfferInput, m: OfferMemory) -> str:
    """Why a closed offer takes no version: the deal, the unanswered letter, or the deadline."""
    if m.state is S.ACCEPTED and m.deal is not None:
        return f"letter {m.deal.letter} was accepted, and its terms are the deal; it takes no new version"
    if m.state is S.UNANSWERED:
        due = f" by {m.respond_by.isoformat()}" if m.respond_by else ""
        return f"letter {len(m.letters)} was not answered{due}; it takes no new version unless staff reopen it"
    closed = f"; submissions closed at {inp.deadline.isoformat()}" if m.state is S.LAPSED else ""
    return f"it takes no more submissions{closed}"


def check_open(inp: OfferInput, memory: OfferMemory, verb: str) -> None:
    if not takes_changes(memory):
        raise refuse(f"{who(inp)} is {memory.state.value}: there is nothing left to {verb}", Refusal.OFFER_CLOSED)


def check_version(inp: OfferInput, memory: OfferMemory, request: Decision) -> None:
    """A decision counts for the version its maker read, never for a later one.

    Approvals are of one version: a new version starts the review afresh (Offer.add_version), and a decision
    made on an earlier one is refused here, in the validator and again in the handler, so that a decision racing
    an amendment is settled by the offer itself. A decision that names no version (recorded before decisions
    named theirs, or from an older client) is taken as made on the latest.
    """
    if request.version is None:
        return
    latest = len(memory.versions)
    if request.version < latest:
        raise refuse(
            f"{inp.partner.name} sent version {latest} after you opened version {request.version}; "
            "read it and decide again",
            Refusal.STALE_VERSION,
        )


def check_version_exists(inp: OfferInput, memory: OfferMemory, request: Decision) -> None:
    """After the state's checks: a decision on a version that was never received (a typo, a wrong offer)."""
    latest = len(memory.versions)
    if request.version is not None and request.version > latest:
        raise refuse(
            f"{who(inp)} has no version {request.version}; its latest is version {latest}",
            Refusal.INVALID_REQUEST,
        )


def check_reviewer(inp: OfferInput, memory: OfferMemory, reviewer: str) -> None:
    if memory.state is not S.UNDER_REVIEW:
        raise refuse(
            f"{who(inp)} is {memory.state.value}, not UNDER_REVIEW; reviewers decide only offers under review",
            Refusal.WRONG_STATE,
        )
    if submitted(memory, reviewer):
        raise refuse(f"{reviewer.strip()} submitted this offer and cannot review it", Refusal.CONFLICT)


def rate_bounds(zone: LandingZone) -> tuple[float, float]:
    """What a reviewer may set: from the baseline to the partner's announced rate."""
    return zone.baseline_rate_pct, max(zone.baseline_rate_pct, zone.announced_rate_pct)


def check_request_changes(inp: OfferInput, memory: OfferMemory, request: RequestChanges) -> None:
    check_version(inp, memory, request)
    check_reviewer(inp, memory, request.reviewer)
    check_version_exists(inp, memory, request)


def check_approve(inp: OfferInput, memory: OfferMemory, request: Approve) -> None:
    check_version(inp, memory, request)
    check_reviewer(inp, memory, request.reviewer)
    check_version_exists(inp, memory, request)
    earlier = next((a for a in memory.approvals if same_person(a.reviewer, request.reviewer)), None)
    if earlier is not None:
        raise refuse(
            f"{earlier.reviewer} has already approved {who(inp)}; a second reviewer must", Refusal.ALREADY_APPROVED
        )
    if request.rate_pct is not None:
        assert memory.landing_zone is not None  # an offer under review has one
        low, high = rate_bounds(memory.landing_zone)
        if not low <= request.rate_pct <= high:
            raise refuse(
                f"a reviewer may set the rate between {low:g}% and {high:g}% (the announced rate); "
                f"{request.rate_pct:g}% is outside. Staff can decide otherwise with a reason",
                Refusal.RATE_OUT_OF_BOUNDS,
            )
        if not (request.reason or "").strip():
            raise refuse("an adjusted rate needs a reason; add --reason", Refusal.REASON_REQUIRED)


def check_extend(inp: OfferInput, memory: OfferMemory, request: ExtendReview) -> None:
    if memory.state not in (S.UNDER_REVIEW, S.ESCALATED):
        raise refuse(
            f"{who(inp)} is {memory.state.value}; only an offer UNDER_REVIEW or ESCALATED has a window to extend",
            Refusal.WRONG_STATE,
        )
    if request.extend_by <= timedelta(0):
        raise refuse("extend the review window by a positive duration, such as 1d", Refusal.BAD_DURATION)


def check_decide(inp: OfferInput, memory: OfferMemory, request: StaffDecision) -> None:
    check_version(inp, memory, request)
    if memory.state not in (S.UNDER_REVIEW, S.ESCALATED):
        raise refuse(
            f"{who(inp)} is {memory.state.value}; staff decide offers UNDER_REVIEW or ESCALATED",
            Refusal.WRONG_STATE,
        )
    if submitted(memory, request.by):
        raise refuse(f"{request.by.strip()} submitted this offer and cannot decide it", Refusal.CONFLICT)
    check_version_exists(inp, memory, request)


def check_retry_letter(inp: OfferInput, memory: OfferMemory) -> None:
    if memory.state is not S.LETTER_FAILED:
        raise refuse(
            f"{who(inp)} is {memory.state.value}; only a letter that failed (LETTER_FAILED) is retried",
            Refusal.WRONG_STATE,
        )


def check_accept(inp: OfferInput, memory: OfferMemory, request: Accept, now: datetime) -> None:
    """The partner accepts the latest letter while it awaits an answer, and only that letter.

    An acceptance names the letter its sender read: once a counter-offer has brought a later letter, the earlier
    one is refused (StaleLetter), in the validator and again in the handler, as a decision on a replaced version is.
    """
    m, latest = memory, len(memory.letters)
    if request.letter is not None and request.letter < latest and m.state is not S.ACCEPTED:
        raise refuse(
            f"letter {latest} to {inp.partner.name} has replaced letter {request.letter}; read it and answer it",
            Refusal.STALE_LETTER,
        )
    if not m.awaits_answer:
        if m.state is S.ACCEPTED and m.deal is not None:
            why = f"letter {m.deal.letter} was accepted already, {m.deal.accepted_at.isoformat(timespec='seconds')}"
        elif m.state is S.UNANSWERED:
            why = "its letter went unanswered; staff may reopen it with a new response window"
        elif m.letters and m.state in OPEN_STATES | {S.APPROVED}:
            why = f"no letter awaits an answer: version {len(m.versions)} answered letter {latest}"
        else:
            why = "no letter awaits an answer"
        raise refuse(f"{who(inp)} is {m.state.value}: {why}", Refusal.NO_ANSWER_AWAITED)
    if request.letter is not None and request.letter > latest:
        raise refuse(
            f"{who(inp)} has no letter {request.letter}; its latest is letter {latest}", Refusal.NO_SUCH_LETTER
        )
    assert m.respond_by is not None
    if now >= m.respond_by:
        raise refuse(
            f"the response window of letter {latest} to {who(inp)} closed at {m.respond_by.isoformat()}; "
            "staff may reopen it",
            Refusal.DEADLINE_PASSED,
        )
    if request.on_behalf and not request.reason.strip():
        raise refuse("accepting on the partner's behalf needs a reason; add --reason", Refusal.REASON_REQUIRED)


def _check_unanswered(inp: OfferInput, memory: OfferMemory, verb: str) -> None:
    if memory.state is not S.UNANSWERED or memory.closing is not None:
        closed = ", and staff closed it" if memory.closing is not None else ""
        raise refuse(
            f"{who(inp)} is {memory.state.value}{closed}; staff {verb} only an offer whose letter went unanswered",
            Refusal.WRONG_STATE,
        )


def check_reopen(inp: OfferInput, memory: OfferMemory, request: Reopen) -> None:
    _check_unanswered(inp, memory, "reopen")
    if request.respond_within <= timedelta(0):
        raise refuse("reopen for a positive duration, such as 7d", Refusal.BAD_DURATION)


def check_close(inp: OfferInput, memory: OfferMemory, request: CloseOffer) -> None:
    _check_unanswered(inp, memory, "close")


# ---- time and terms ----------------------------------------------------------------------------------


def due(inp: OfferInput, memory: OfferMemory) -> datetime | None:
    """When the offer moves by itself if nobody moves it first; None when it waits only for people."""
    if memory.state is S.INVITED:
        return inp.deadline
    if memory.state is S.DEFICIENT:
        return memory.amend_until
    if memory.state is S.UNDER_REVIEW:
        return memory.review_deadline
    if memory.awaits_answer:
        return memory.respond_by
    return None


def agreed_terms(memory: OfferMemory, now: datetime) -> AgreedTerms:
    """The terms of a quorum: the last rate a reviewer adjusted, or else the landing-zone policy's proposal."""
    zone = memory.landing_zone
    assert zone is not None
    adjusted = [a for a in memory.approvals if a.rate_pct is not None]
    if adjusted:
        last = adjusted[-1]
        rate, set_by, reason = last.rate_pct, last.reviewer, last.reason or ""
    else:
        rate, set_by, reason = zone.proposed_rate_pct, "the landing-zone policy", "the policy's proposal"
    assert rate is not None
    return AgreedTerms(
        landing_zone=zone,
        agreed_rate_pct=rate,
        rate_set_by=set_by,
        rate_reason=reason,
        approvals=list(memory.approvals),
        agreed_at=now,
    )


def approval(request: Approve | StaffDecision, memory: OfferMemory, now: datetime) -> Approval:
    """The approval of the latest version: the only one a decision is accepted on (check_version)."""
    staff = isinstance(request, StaffDecision)
    return Approval(
        reviewer=request.by if isinstance(request, StaffDecision) else request.reviewer,
        at=now,
        rate_pct=request.rate_pct,
        reason=request.reason,
        by_staff=staff,
        version=len(memory.versions),
    )
