"""The offer workflow's pure parts, without a server: its memory and what derives from it, its rules, reminders."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest
from temporalio.exceptions import ApplicationError

from offerdesk.samples import sample_offer
from offers.reference import partner_references
from schemas.answer import Accept, CloseOffer, Reopen
from schemas.document_ref import reference_for
from schemas.landing import AgreedTerms, Approval, LandingZone
from schemas.letter import LetterRef
from schemas.notice import NoticeKind
from schemas.offer_state import (
    CARRIED,
    ON_CARD,
    Deal,
    IssuedLetter,
    OfferCard,
    OfferCarry,
    OfferInput,
    OfferMemory,
    OfferState,
    OfferVersion,
)
from schemas.portal import ApproveBody, DecideBody, RequestChangesBody
from schemas.refusal import Refusal
from schemas.review import Approve, AuditEvent, ExtendReview, RequestChanges, StaffDecision
from workflows import offer_rules as rules
from workflows.offer_notices import reminder_at, reminder_key, reminder_kind

S = OfferState
NOW = datetime(2026, 12, 1, 12, tzinfo=UTC)
ROUND = "r-rules"


def offer_input(**changes: object) -> OfferInput:
    inp = OfferInput(
        round_id=ROUND,
        partner=partner_references(["JP"])[0],
        deadline=NOW + timedelta(days=2),
        review_window=timedelta(days=3),
        approvals_required=2,
    )
    return inp.model_copy(update=changes)


def version(number: int = 1, by: str | None = "nadia", seed: int = 0) -> OfferVersion:
    ref = reference_for(sample_offer(ROUND, "JP", seed=seed))
    return OfferVersion(
        number=number, digest=ref.digest, size=ref.size, received_at=NOW, summary=ref.summary, submitted_by=by
    )


def zone(announced: float = 24.0) -> LandingZone:
    return LandingZone(
        partner="JP",
        partner_name="Japan",
        baseline_rate_pct=10.0,
        announced_rate_pct=announced,
        score=0.6,
        proposed_rate_pct=15.0,
        category_scores=[],
        conditions=[],
        strengthen=[],
        policy_version="test",
    )


def under_review(**changes: object) -> OfferMemory:
    memory = OfferMemory.invited(offer_input(), NOW)
    memory.state = S.UNDER_REVIEW
    memory.versions = [version()]
    memory.landing_zone = zone()
    memory.review_deadline = NOW + timedelta(days=3)
    return memory.model_copy(update=changes)


def refused(kind: Refusal, call: object, *args: object) -> str:
    assert callable(call)
    with pytest.raises(ApplicationError) as caught:
        call(*args)
    assert caught.value.type == kind.value, caught.value
    assert caught.value.non_retryable
    return caught.value.message


# ---- one model: the card and the carry derive from the memory --------------------------------------------


def test_every_field_of_the_memory_is_shown_or_carried() -> None:
    assert set(OfferMemory.model_fields) == set(ON_CARD) | set(CARRIED)
    identity = set(OfferCard.model_fields) - set(ON_CARD)
    assert identity == {"round_id", "partner", "partner_name", "deadline", "approvals_required"}, "from the input"
    assert set(OfferCarry.model_fields) - set(CARRIED) == {"card", "notices"}


def test_the_payload_shapes_recorded_in_histories_stay() -> None:
    """The carry is a workflow input and the card a memo: both are in histories and read by older portals."""
    assert list(OfferCarry.model_fields) == ["card", "revision", "events", "notices", "reminded", "entered_at"]
    assert list(OfferCard.model_fields) == [
        "round_id",
        "partner",
        "partner_name",
        "state",
        "deadline",
        "amend_until",
        "review_deadline",
        "approvals_required",
        "versions",
        "report",
        "landing_zone",
        "approvals",
        "changes_requested",
        "terms",
        "letter",
        "letter_failure",
        "respond_by",
        "letters",
        "deal",
        "closing",
        "audit_chunks",
        "run",
    ]


def test_a_new_run_resumes_the_memory_one_run_later() -> None:
    inp = offer_input()
    memory = under_review(revision=7, reminded=["k"], audit_chunks=["a" * 64])
    memory.events.append(AuditEvent(at=NOW, actor="Ada", action="commented", detail="x"))
    carry = memory.carry(inp, notices=[])
    resumed = OfferMemory.resumed(OfferCarry.model_validate_json(carry.model_dump_json()), NOW + timedelta(hours=1))
    assert resumed == memory.model_copy(update={"run": 2})
    assert resumed.card(inp).run == 2 and carry.card == memory.card(inp)


def test_a_card_is_a_snapshot() -> None:
    inp, memory = offer_input(), under_review()
    card = memory.card(inp)
    memory.versions.append(version(2, seed=1))
    memory.approvals.append(Approval(reviewer="Ada", at=NOW))
    assert len(card.versions) == 1 and card.approvals == []


def test_a_carry_from_before_entered_at_resumes_from_now() -> None:
    inp = offer_input()
    carry = OfferMemory.invited(inp, NOW).carry(inp, notices=[]).model_copy(update={"entered_at": None})
    assert OfferMemory.resumed(carry, NOW + timedelta(days=1)).entered_at == NOW + timedelta(days=1)


# ---- rules ---------------------------------------------------------------------------------------------


def test_submissions() -> None:
    inp = offer_input()
    invited = OfferMemory.invited(inp, NOW)
    ref = reference_for(sample_offer(ROUND, "JP"))
    assert rules.check_submission(inp, invited, ref, False, NOW) is False
    other = reference_for(sample_offer("elsewhere", "JP"))
    refused(Refusal.WRONG_OFFER, rules.check_submission, inp, invited, other, False, NOW)
    refused(Refusal.DEADLINE_PASSED, rules.check_submission, inp, invited, ref, False, inp.deadline)
    refused(Refusal.NOTHING_TO_AMEND, rules.check_submission, inp, invited, ref, True, NOW)

    reviewed = under_review()
    same = reference_for(sample_offer(ROUND, "JP"))
    assert rules.check_submission(inp, reviewed, same, False, NOW) is True, "the same document again"
    changed = reference_for(sample_offer(ROUND, "JP", seed=3))
    refused(Refusal.ALREADY_SUBMITTED, rules.check_submission, inp, reviewed, changed, False, NOW)
    assert rules.check_submission(inp, reviewed, changed, True, NOW) is False
    refused(Refusal.DEADLINE_PASSED, rules.check_submission, inp, reviewed, changed, True, inp.deadline)
    busy = reviewed.model_copy(update={"state": S.VALIDATING})
    refused(Refusal.BUSY, rules.check_submission, inp, busy, changed, True, NOW)
    lapsed = reviewed.model_copy(update={"state": S.LAPSED})
    message = refused(Refusal.OFFER_CLOSED, rules.check_submission, inp, lapsed, changed, True, NOW)
    assert "is LAPSED: it takes no more submissions; submissions closed at" in message
    approved = reviewed.model_copy(update={"state": S.APPROVED})
    refused(Refusal.OFFER_CLOSED, rules.check_submission, inp, approved, changed, True, NOW)
    escalated = reviewed.model_copy(update={"state": S.ESCALATED})
    refused(Refusal.WRONG_STATE, rules.check_submission, inp, escalated, changed, True, NOW)


def test_reviewers() -> None:
    inp, memory = offer_input(), under_review()
    rules.check_approve(inp, memory, Approve(reviewer="Ada", version=1))
    refused(Refusal.CONFLICT, rules.check_approve, inp, memory, Approve(reviewer=" NADIA ", version=1))
    memory.approvals.append(Approval(reviewer="Ada", at=NOW))
    refused(Refusal.ALREADY_APPROVED, rules.check_approve, inp, memory, Approve(reviewer="ada", version=1))
    rules.check_approve(inp, memory, Approve(reviewer="Grace", version=1, rate_pct=24, reason="the announced rate"))
    refused(
        Refusal.RATE_OUT_OF_BOUNDS, rules.check_approve, inp, memory, Approve(reviewer="Grace", version=1, rate_pct=9.5)
    )
    refused(
        Refusal.REASON_REQUIRED, rules.check_approve, inp, memory, Approve(reviewer="Grace", version=1, rate_pct=12)
    )
    escalated = memory.model_copy(update={"state": S.ESCALATED})
    refused(Refusal.WRONG_STATE, rules.check_approve, inp, escalated, Approve(reviewer="Grace", version=1))
    rules.check_decide(inp, escalated, StaffDecision(by="sam", version=1, decision="approve", reason="as agreed"))
    refused(
        Refusal.CONFLICT,
        rules.check_decide,
        inp,
        escalated,
        StaffDecision(by="nadia", version=1, decision="approve", reason="mine"),
    )


def test_a_decision_counts_for_the_version_it_names_only() -> None:
    inp = offer_input()
    memory = under_review(versions=[version(1), version(2, seed=1), version(3, seed=2)])
    rules.check_approve(inp, memory, Approve(reviewer="Ada", version=3))
    for stale in (
        lambda: rules.check_approve(inp, memory, Approve(reviewer="Ada", version=2)),
        lambda: rules.check_request_changes(inp, memory, RequestChanges(reviewer="Ada", version=2, note="more")),
        lambda: rules.check_decide(inp, memory, StaffDecision(by="sam", version=2, decision="approve", reason="ok")),
    ):
        message = refused(Refusal.STALE_VERSION, stale)
        assert message == "Japan sent version 3 after you opened version 2; read it and decide again"
    # Stale is said first: the reviewer learns why before anything else (here: the offer is being validated).
    validating = memory.model_copy(update={"state": S.VALIDATING})
    refused(Refusal.STALE_VERSION, rules.check_approve, inp, validating, Approve(reviewer="Ada", version=1))
    refused(Refusal.WRONG_STATE, rules.check_approve, inp, validating, Approve(reviewer="Ada", version=3))
    message = refused(Refusal.INVALID_REQUEST, rules.check_approve, inp, memory, Approve(reviewer="Ada", version=4))
    assert message.endswith("has no version 4; its latest is version 3")
    # A decision recorded before decisions named their version (an old history, an older client): the latest.
    rules.check_approve(inp, memory, Approve(reviewer="Ada"))
    rules.check_decide(inp, memory, StaffDecision(by="sam", decision="approve", reason="ok"))
    given = rules.approval(Approve(reviewer="Ada", version=3), memory, NOW)
    assert (given.reviewer, given.version, given.by_staff) == ("Ada", 3, False)
    staff = rules.approval(StaffDecision(by="sam", version=3, decision="approve", reason="ok"), memory, NOW)
    assert (staff.reviewer, staff.version, staff.by_staff) == ("sam", 3, True)


def test_old_decisions_read_without_a_version_and_the_portal_requires_one() -> None:
    """Updates recorded in histories lack the field: they read as None. The API's bodies require it (≥ 1)."""
    assert Approve.model_validate_json('{"reviewer": "Ada", "expires_at": null}').version is None
    assert RequestChanges.model_validate_json('{"reviewer": "Ada", "note": "x"}').version is None
    assert StaffDecision.model_validate_json('{"by": "s", "decision": "approve", "reason": "r"}').version is None
    assert Approval.model_validate_json('{"reviewer": "Ada", "at": "2026-12-01T12:00:00Z"}').version is None
    for body, fields in (
        (ApproveBody, {}),
        (RequestChangesBody, {"note": "x"}),
        (DecideBody, {"decision": "approve", "reason": "x"}),
    ):
        with pytest.raises(ValueError, match="version"):
            body.model_validate(fields)
        with pytest.raises(ValueError, match="greater than or equal to 1"):
            body.model_validate(fields | {"version": 0})
        assert body.model_validate(fields | {"version": 2}).version == 2


def test_only_recorded_accounts_count_as_the_submitter() -> None:
    memory = under_review(versions=[version(by=None)])
    assert not rules.submitted(memory, "nadia")


def test_rate_bounds_when_the_announced_rate_is_below_the_baseline() -> None:
    assert rules.rate_bounds(zone(announced=24)) == (10, 24)
    assert rules.rate_bounds(zone(announced=5)) == (10, 10)


def test_extend_and_retry_letter() -> None:
    inp, memory = offer_input(), under_review()
    rules.check_extend(inp, memory, ExtendReview(by="sam", extend_by=timedelta(days=1)))
    refused(
        Refusal.BAD_DURATION,
        rules.check_extend,
        inp,
        memory,
        ExtendReview.model_construct(by="sam", extend_by=timedelta(0)),
    )
    refused(Refusal.WRONG_STATE, rules.check_retry_letter, inp, memory)
    rules.check_retry_letter(inp, memory.model_copy(update={"state": S.LETTER_FAILED}))
    refused(Refusal.OFFER_CLOSED, rules.check_open, inp, memory.model_copy(update={"state": S.WITHDRAWN}), "withdraw")


def test_terms_take_the_last_adjusted_rate_else_the_policy() -> None:
    memory = under_review()
    memory.approvals = [Approval(reviewer="Ada", at=NOW), Approval(reviewer="Grace", at=NOW)]
    terms = rules.agreed_terms(memory, NOW)
    assert (terms.agreed_rate_pct, terms.rate_set_by) == (15.0, "the landing-zone policy")
    memory.approvals[0] = Approval(reviewer="Ada", at=NOW, rate_pct=12, reason="July")
    terms = rules.agreed_terms(memory, NOW)
    assert (terms.agreed_rate_pct, terms.rate_set_by, terms.rate_reason) == (12, "Ada", "July")


def test_what_each_state_waits_for() -> None:
    inp = offer_input()
    memory = OfferMemory.invited(inp, NOW)
    assert rules.due(inp, memory) == inp.deadline
    assert rules.due(inp, under_review()) == NOW + timedelta(days=3)
    for state in (S.ESCALATED, S.APPROVED, S.LETTER_FAILED, S.LETTER_ISSUED):
        assert rules.due(inp, memory.model_copy(update={"state": state})) is None


def test_a_reminder_comes_once_per_deadline_and_only_if_its_time_is_ahead() -> None:
    inp = offer_input(remind_before=timedelta(days=1))
    memory = OfferMemory.invited(inp, NOW)
    assert reminder_at(inp, memory, inp.deadline, "p") == inp.deadline - timedelta(days=1)
    memory.reminded = [reminder_key("p", NoticeKind.REMIND_SUBMIT, inp.deadline)]
    assert reminder_at(inp, memory, inp.deadline, "p") is None
    late = OfferMemory.invited(inp, inp.deadline - timedelta(hours=2))
    assert reminder_at(inp, late, inp.deadline, "p") is None


def test_the_workflow_imports_neither_weasyprint_nor_jinja2() -> None:
    """Activities are imported into the workflow by reference: their heavy modules load where they are used."""
    probe = "import sys, workflows.offer; print(sorted({'weasyprint', 'jinja2'} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", probe], check=True, capture_output=True, text=True).stdout
    assert out.strip() == "[]"


# ---- the partner's answer to a letter (issue 25) --------------------------------------------------------


def letter(number: int, answers: int) -> IssuedLetter:
    ref = LetterRef(letter_id="f" * 64, sha256="f" * 64, size=1, pages=1, filename=f"l-v{answers}.pdf")
    terms = AgreedTerms(
        landing_zone=zone(), agreed_rate_pct=15.0, rate_set_by="x", rate_reason="y", approvals=[], agreed_at=NOW
    )
    return IssuedLetter(number=number, version=answers, issued_at=NOW, ref=ref, terms=terms)


def awaiting(letters: int = 1, **changes: object) -> OfferMemory:
    """An offer whose latest letter (of `letters`, each answering the next version) awaits an answer for a day."""
    memory = under_review(
        versions=[version(n, seed=n) for n in range(1, letters + 1)],
        letters=[letter(n, n) for n in range(1, letters + 1)],
        review_deadline=None,
    )
    memory.state, memory.respond_by, memory.letter = S.LETTER_ISSUED, NOW + timedelta(days=1), memory.letters[-1].ref
    return memory.model_copy(update=changes)


def test_a_letter_awaits_an_answer_only_with_a_response_window() -> None:
    inp = offer_input()
    memory = awaiting()
    assert memory.awaits_answer and not memory.final
    assert rules.due(inp, memory) == NOW + timedelta(days=1)
    assert reminder_kind(memory.state) is NoticeKind.REMIND_ANSWER
    before = memory.model_copy(update={"respond_by": None})  # a letter issued before letters awaited an answer
    assert before.final and not before.awaits_answer and rules.due(inp, before) is None
    for state in (S.ACCEPTED, S.UNANSWERED):
        assert memory.model_copy(update={"state": state}).final


def test_accepting_a_letter() -> None:
    inp, memory = offer_input(), awaiting(letters=2)
    rules.check_accept(inp, memory, Accept(by="nadia", letter=2), NOW)
    rules.check_accept(inp, memory, Accept(by="nadia"), NOW)  # the latest, read just before
    message = refused(Refusal.STALE_LETTER, rules.check_accept, inp, memory, Accept(by="nadia", letter=1), NOW)
    assert message == "letter 2 to Japan has replaced letter 1; read it and answer it"
    refused(Refusal.NO_SUCH_LETTER, rules.check_accept, inp, memory, Accept(by="nadia", letter=3), NOW)
    refused(Refusal.DEADLINE_PASSED, rules.check_accept, inp, memory, Accept(by="nadia"), NOW + timedelta(days=1))
    refused(Refusal.REASON_REQUIRED, rules.check_accept, inp, memory, Accept(by="sam", on_behalf=True), NOW)
    rules.check_accept(inp, memory, Accept(by="sam", on_behalf=True, reason="by letter of 3 May"), NOW)

    countered = memory.model_copy(update={"state": S.UNDER_REVIEW, "respond_by": None})
    message = refused(Refusal.NO_ANSWER_AWAITED, rules.check_accept, inp, countered, Accept(by="nadia"), NOW)
    assert message.endswith("no letter awaits an answer: version 2 answered letter 2")
    deal = Deal(letter=2, version=2, rate_pct=15, accepted_by="nadia", accepted_at=NOW)
    accepted = memory.model_copy(update={"state": S.ACCEPTED, "deal": deal})
    message = refused(Refusal.NO_ANSWER_AWAITED, rules.check_accept, inp, accepted, Accept(by="nadia", letter=1), NOW)
    assert "letter 2 was accepted already" in message
    unanswered = memory.model_copy(update={"state": S.UNANSWERED})
    refused(Refusal.NO_ANSWER_AWAITED, rules.check_accept, inp, unanswered, Accept(by="sam"), NOW)
    refused(Refusal.NO_ANSWER_AWAITED, rules.check_accept, inp, awaiting(respond_by=None), Accept(by="nadia"), NOW)


def test_a_counter_offer_is_an_amendment_while_the_letter_awaits_its_answer() -> None:
    inp, memory = offer_input(), awaiting(respond_by=NOW + timedelta(days=7))
    counter = reference_for(sample_offer(ROUND, "JP", seed=7))
    late = NOW + timedelta(days=5)  # after the round's deadline, within the response window
    assert rules.check_submission(inp, memory, counter, True, late) is False
    refused(Refusal.ALREADY_SUBMITTED, rules.check_submission, inp, memory, counter, False, NOW)
    closed = NOW + timedelta(days=7)
    message = refused(Refusal.DEADLINE_PASSED, rules.check_submission, inp, memory, counter, True, closed)
    assert "the response window of letter 1" in message
    rules.check_open(inp, memory, "withdraw")
    deal = Deal(letter=1, version=1, rate_pct=15, accepted_by="nadia", accepted_at=NOW)
    accepted = memory.model_copy(update={"state": S.ACCEPTED, "deal": deal})
    message = refused(Refusal.OFFER_CLOSED, rules.check_submission, inp, accepted, counter, True, NOW)
    assert message == (
        "Japan's offer in round r-rules is ACCEPTED: letter 1 was accepted, and its terms are the deal; "
        "it takes no new version"
    )
    unanswered = memory.model_copy(update={"state": S.UNANSWERED})
    message = refused(Refusal.OFFER_CLOSED, rules.check_submission, inp, unanswered, counter, True, NOW)
    assert "letter 1 was not answered by" in message and "unless staff reopen it" in message
    refused(Refusal.OFFER_CLOSED, rules.check_open, inp, unanswered, "withdraw")
    issued_before = memory.model_copy(update={"respond_by": None})
    refused(Refusal.OFFER_CLOSED, rules.check_submission, inp, issued_before, counter, True, NOW)


def test_staff_reopen_or_close_only_an_unanswered_offer() -> None:
    inp = offer_input()
    unanswered = awaiting().model_copy(update={"state": S.UNANSWERED})
    reopen = Reopen(by="sam", respond_within=timedelta(days=2), reason="they asked for a week")
    rules.check_reopen(inp, unanswered, reopen)
    rules.check_close(inp, unanswered, CloseOffer(by="sam"))
    refused(Refusal.WRONG_STATE, rules.check_reopen, inp, awaiting(), reopen)
    refused(Refusal.WRONG_STATE, rules.check_close, inp, awaiting(), CloseOffer(by="sam"))
    bad = Reopen.model_construct(by="sam", respond_within=timedelta(0), reason="x")
    refused(Refusal.BAD_DURATION, rules.check_reopen, inp, unanswered, bad)
    with pytest.raises(ValueError, match="give a reason"):
        Reopen(by="sam", respond_within=timedelta(days=1), reason="  ")
    with pytest.raises(ValueError, match="less than or equal to 90 days"):
        Reopen(by="sam", respond_within=timedelta(days=91), reason="long")


def test_a_counter_offer_is_compared_with_the_version_its_letter_answered() -> None:
    inp = offer_input()
    memory = awaiting(letters=2)  # letter 1 answered version 1, letter 2 version 2
    memory.versions += [version(3, seed=3), version(4, seed=4)]  # a deficient counter, then a clean one
    card = memory.card(inp)
    assert [card.compare_from(n) for n in (2, 3, 4)] == [1, 2, 2]
    assert card.compare_from(1) == 0
    answered = card.counter_offer()
    assert answered is not None and (answered.number, answered.version) == (2, 2)
    waiting = awaiting(letters=2).card(inp)  # letter 2 awaits its answer: no counter-offer is in
    assert waiting.counter_offer() is None
    assert waiting.model_copy(update={"state": S.ACCEPTED}).counter_offer() is None
    old = card.model_copy(update={"letters": [], "versions": card.versions[:1]})  # a card from before the list
    assert [(x.number, x.version) for x in old.numbered_letters()] == [(1, 1)]
