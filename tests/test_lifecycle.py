"""The offer lifecycle end to end on a real Temporal dev server and worker."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from activities.store import Kind
from offerdesk.engine import Engine, Refused
from offerdesk.samples import sample_offer
from schemas.answer import Accept, CloseOffer, Reopen
from schemas.offer_state import OfferCard, OfferOutcome, OfferState
from schemas.review import Approve, Comment, ExtendReview, RequestChanges, StaffDecision, Withdraw
from schemas.round import RoundStatus
from schemas.validation import Category, CategoryStatus
from tests.conftest import round_spec

pytestmark = pytest.mark.asyncio(loop_scope="session")

WAIT = timedelta(seconds=60)
ADA, GRACE = Approve(reviewer="Ada", version=1), Approve(reviewer="Grace", version=1)
"""Approvals of the first version: every decision names the version it was made on."""


async def test_a_clean_offer_goes_from_submission_to_a_stored_letter(engine: Engine, store) -> None:  # type: ignore[no-untyped-def]
    spec = round_spec(["JP", "EU"])
    opened = await engine.open_round(spec)
    assert opened.started and opened.partners == ["JP", "EU"]
    rid = spec.round_id

    receipt = await engine.submit(sample_offer(rid, "JP"), by="negotiator")
    assert (receipt.version, receipt.duplicate, receipt.state) == (1, False, OfferState.UNDER_REVIEW)
    assert receipt.report is not None and receipt.report.clean

    status = await engine.approve(
        rid, "JP", Approve(reviewer="Ada", version=1, rate_pct=15, reason="matches the July deal")
    )
    assert status.state is OfferState.UNDER_REVIEW and status.approvals == 1
    await engine.approve(rid, "JP", GRACE)
    await engine.wait_for(rid, "JP", {OfferState.LETTER_ISSUED}, WAIT)
    done = await engine.offer_status(rid, "JP")

    assert done.terms is not None and done.terms.agreed_rate_pct == 15
    assert [a.reviewer for a in done.terms.approvals] == ["Ada", "Grace"]
    assert done.letter is not None
    pdf = store.get(Kind.LETTER, done.letter.letter_id)
    assert pdf.startswith(b"%PDF") and len(pdf) == done.letter.size
    assert [e.action for e in done.events][:2] == ["invited", "submitted"]
    assert "issued the letter" in [e.action for e in done.events]


async def test_an_offer_missing_categories_is_deficient_and_can_be_amended(engine: Engine) -> None:
    spec = round_spec(["VN"])
    await engine.open_round(spec)
    rid = spec.round_id
    receipt = await engine.submit(sample_offer(rid, "VN", deficient=True), by="negotiator")
    assert receipt.state is OfferState.DEFICIENT
    assert receipt.report is not None
    assert receipt.report.categories[Category.DIGITAL_TRADE] is CategoryStatus.MISSING
    assert any(f.path == "economic_security" for f in receipt.report.errors)

    amended = await engine.submit(sample_offer(rid, "VN"), amend=True, by="negotiator")
    assert (amended.version, amended.state) == (2, OfferState.UNDER_REVIEW)
    status = await engine.offer_status(rid, "VN")
    assert [v.number for v in status.versions] == [1, 2]
    assert status.versions[0].report is not None and not status.versions[0].report.clean


async def test_a_second_identical_submission_is_not_a_second_offer(engine: Engine) -> None:
    spec = round_spec(["IN"])
    await engine.open_round(spec)
    doc = sample_offer(spec.round_id, "IN")
    first = await engine.submit(doc, by="negotiator")
    again = await engine.submit(doc, by="negotiator")
    amend_same = await engine.submit(doc, amend=True, by="negotiator")
    assert (first.duplicate, again.duplicate, amend_same.duplicate) == (False, True, True)
    assert again.version == amend_same.version == 1
    status = await engine.offer_status(spec.round_id, "IN")
    assert len(status.versions) == 1


async def test_submissions_are_refused_with_reasons(engine: Engine) -> None:
    spec = round_spec(["JP"])
    await engine.open_round(spec)
    rid = spec.round_id

    with pytest.raises(Refused, match=r"partner EU is not invited to round .* \(invited: JP\)"):
        await engine.submit(sample_offer(rid, "EU"), by="negotiator")
    with pytest.raises(Refused, match="round no-such-round does not exist"):
        await engine.submit(sample_offer("no-such-round", "JP"), by="negotiator")
    with pytest.raises(Refused, match="has not been submitted yet"):
        await engine.submit(sample_offer(rid, "JP"), amend=True, by="negotiator")

    # A document for another round, sent to this round's workflow, is refused by the workflow itself.
    wrong = sample_offer("other-round", "JP")
    handle = engine._offer(rid, "JP")
    from temporalio.client import WorkflowUpdateFailedError

    from schemas.offer_state import SubmitOffer
    from workflows.offer import OfferWorkflow

    with pytest.raises(WorkflowUpdateFailedError) as info:
        await handle.execute_update(OfferWorkflow.submit, SubmitOffer(document=wrong))
    assert "fix round_id and partner" in str(info.value.cause)

    await engine.submit(sample_offer(rid, "JP"), by="negotiator")
    with pytest.raises(Refused, match=r"already submitted .* 'offer amend'"):
        await engine.submit(sample_offer(rid, "JP", seed=99), by="negotiator")


async def test_reviewer_refusals(engine: Engine) -> None:
    spec = round_spec(["KR"])
    await engine.open_round(spec)
    rid = spec.round_id
    with pytest.raises(Refused, match="INVITED, not UNDER_REVIEW"):
        await engine.approve(rid, "KR", ADA)
    # The conflict is the account that submitted (any version), compared case-blind; not the document's contact.
    await engine.submit(sample_offer(rid, "KR", negotiator="Kim Negotiator"), by="kim")
    with pytest.raises(Refused, match="KIM submitted this offer and cannot review it") as refused:
        await engine.approve(rid, "KR", Approve(reviewer=" KIM ", version=1))
    assert refused.value.kind == "Conflict"
    with pytest.raises(Refused, match="kim submitted this offer and cannot review it"):
        await engine.request_changes(rid, "KR", RequestChanges(reviewer="kim", version=1, note="self-review"))
    with pytest.raises(Refused, match=r"between 10% and 25%.*30% is outside"):
        await engine.approve(rid, "KR", Approve(reviewer="Ada", version=1, rate_pct=30, reason="too high"))
    with pytest.raises(Refused, match=r"between 10% and 25%"):
        await engine.approve(rid, "KR", Approve(reviewer="Ada", version=1, rate_pct=9, reason="too low"))
    with pytest.raises(Refused, match="needs a reason"):
        await engine.approve(rid, "KR", Approve(reviewer="Ada", version=1, rate_pct=12))
    await engine.approve(rid, "KR", ADA)
    with pytest.raises(Refused, match="Ada has already approved"):
        await engine.approve(rid, "KR", Approve(reviewer=" ada ", version=1))
    status = await engine.offer_status(rid, "KR")
    assert len(status.approvals) == 1 and status.state is OfferState.UNDER_REVIEW


async def test_request_changes_then_amend_returns_to_review(engine: Engine) -> None:
    spec = round_spec(["TH"], review_window=timedelta(minutes=5))
    await engine.open_round(spec)
    rid = spec.round_id
    await engine.submit(sample_offer(rid, "TH"), by="negotiator")
    await engine.approve(rid, "TH", ADA)
    back = await engine.request_changes(
        rid, "TH", RequestChanges(reviewer="Grace", version=1, note="Stage dairy over 3 years.")
    )
    assert back.state is OfferState.DEFICIENT
    assert back.approvals == 0
    assert (await engine.offer_status(rid, "TH")).changes_requested == ["Stage dairy over 3 years."]
    await engine.comment(rid, "TH", Comment(reviewer="Ada", text="Agree with Grace."))

    receipt = await engine.submit(sample_offer(rid, "TH", seed=5), amend=True, by="negotiator")
    assert (receipt.version, receipt.state) == (2, OfferState.UNDER_REVIEW)
    # Ada's earlier approval was of version 1; she approves version 2 again.
    await engine.approve(rid, "TH", Approve(reviewer="Ada", version=2))
    await engine.approve(rid, "TH", Approve(reviewer="Grace", version=2))
    await engine.wait_for(rid, "TH", {OfferState.LETTER_ISSUED}, WAIT)
    done = await engine.offer_status(rid, "TH")
    assert done.letter is not None and done.letter.filename.endswith("-v2.pdf")
    actions = [e.action for e in done.events]
    assert "requested changes" in actions and "commented" in actions and "amended" in actions


async def test_withdraw_ends_the_offer_and_refuses_later_changes(engine: Engine) -> None:
    spec = round_spec(["MY"])
    await engine.open_round(spec)
    rid = spec.round_id
    await engine.submit(sample_offer(rid, "MY"), by="negotiator")
    status = await engine.withdraw(rid, "MY", Withdraw(by="negotiator", reason="new government"))
    assert status.state is OfferState.WITHDRAWN
    await engine.client.get_workflow_handle(f"offer/{rid}/MY").result()  # refused below by the ended workflow
    with pytest.raises(Refused, match="WITHDRAWN and takes no more changes"):
        await engine.submit(sample_offer(rid, "MY", seed=3), amend=True, by="negotiator")
    with pytest.raises(Refused, match="WITHDRAWN"):
        await engine.approve(rid, "MY", ADA)
    final = await engine.offer_status(rid, "MY")
    assert len(final.versions) == 1  # withdrawn, never lost


async def test_deadline_passing_lapses_unsubmitted_and_deficient_offers(engine: Engine) -> None:
    spec = round_spec(["CH", "ID", "PH"], deadline_in=timedelta(seconds=4))
    await engine.open_round(spec)
    rid = spec.round_id
    await engine.submit(sample_offer(rid, "ID", deficient=True), by="negotiator")
    await engine.submit(sample_offer(rid, "PH"), by="negotiator")
    lapsed = await engine.wait_for(rid, "CH", {OfferState.LAPSED}, WAIT)
    assert lapsed.versions == []
    deficient = await engine.wait_for(rid, "ID", {OfferState.LAPSED}, WAIT)
    assert len(deficient.versions) == 1  # the deficient offer lapses but is kept
    assert (await engine.offer_status(rid, "PH")).state is OfferState.UNDER_REVIEW
    await engine.client.get_workflow_handle(f"offer/{rid}/CH").result()  # refused below by the ended workflow

    with pytest.raises(Refused, match=r"LAPSED and takes no more changes; submissions closed at"):
        await engine.submit(sample_offer(rid, "CH"), by="negotiator")
    with pytest.raises(Refused, match=r"could be amended until .* that time has passed"):
        await engine.submit(sample_offer(rid, "PH", seed=4), amend=True, by="negotiator")


async def test_late_submission_is_refused_with_the_deadline(engine: Engine) -> None:
    spec = round_spec(["NO", "IL"], deadline_in=timedelta(seconds=3))
    await engine.open_round(spec)
    await engine.submit(sample_offer(spec.round_id, "IL", deficient=True), by="negotiator")
    await engine.wait_for(spec.round_id, "NO", {OfferState.LAPSED}, WAIT)
    with pytest.raises(Refused, match=f"submissions closed at {spec.deadline.isoformat()[:19]}"):
        await engine.submit(sample_offer(spec.round_id, "NO"), by="negotiator")


async def test_review_window_passing_escalates_and_staff_extend_or_decide(engine: Engine) -> None:
    spec = round_spec(["ZA", "RS"], review_window=timedelta(seconds=3))
    await engine.open_round(spec)
    rid = spec.round_id
    for code in ("ZA", "RS"):
        await engine.submit(sample_offer(rid, code), by="negotiator")
        await engine.approve(rid, code, ADA)
    escalated = await engine.wait_for(rid, "ZA", {OfferState.ESCALATED}, WAIT)
    assert len(escalated.approvals) == 1  # nothing is approved by the timer
    with pytest.raises(Refused, match="ESCALATED, not UNDER_REVIEW"):
        await engine.approve(rid, "ZA", GRACE)

    extended = await engine.extend_review(rid, "ZA", ExtendReview(by="Staff Sam", extend_by=timedelta(minutes=10)))
    assert extended.state is OfferState.UNDER_REVIEW
    await engine.approve(rid, "ZA", GRACE)
    await engine.wait_for(rid, "ZA", {OfferState.LETTER_ISSUED}, WAIT)

    await engine.wait_for(rid, "RS", {OfferState.ESCALATED}, WAIT)
    decided = await engine.decide(
        rid,
        "RS",
        StaffDecision(by="Staff Sam", version=1, decision="approve", rate_pct=40, reason="security carve-out"),
    )
    assert decided.state in (OfferState.APPROVED, OfferState.LETTER_ISSUED)
    done = await engine.wait_for(rid, "RS", {OfferState.LETTER_ISSUED}, WAIT)
    assert done.terms is not None and done.terms.agreed_rate_pct == 40  # staff may go above the bounds
    assert done.terms is not None and done.terms.approvals[-1].by_staff


async def test_status_lists_come_from_visibility(engine: Engine) -> None:
    spec = round_spec(["GB", "AU", "BR"])
    await engine.open_round(spec)
    await engine.submit(sample_offer(spec.round_id, "GB"), by="negotiator")
    for _ in range(50):
        listings = await engine.list_offers(round_id=spec.round_id)
        states = {x.partner: x.state for x in listings}
        if states.get("GB") == "UNDER_REVIEW" and len(states) == 3:
            break
        await asyncio.sleep(0.2)
    assert states == {"GB": "UNDER_REVIEW", "AU": "INVITED", "BR": "INVITED"}
    under_review = await engine.list_offers(round_id=spec.round_id, state=OfferState.UNDER_REVIEW)
    assert [x.partner for x in under_review] == ["GB"] and under_review[0].review_deadline is not None


async def test_opening_a_round_twice_or_in_the_past_is_refused(engine: Engine) -> None:
    spec = round_spec(["JP"])
    await engine.open_round(spec)
    with pytest.raises(Refused, match="already exists"):
        await engine.open_round(spec)
    with pytest.raises(Refused, match="already past"):
        await engine.open_round(round_spec(["JP"], deadline_in=timedelta(seconds=-1)))


# ---- after the letter: the partner's answer (issue 25) --------------------------------------------------


async def _letter(engine: Engine, rid: str, partner: str, version: int, number: int) -> OfferCard:
    """Two approvals of `version`, then letter `number` awaiting the partner's answer."""
    await engine.approve(rid, partner, Approve(reviewer="Ada", version=version))
    await engine.approve(rid, partner, Approve(reviewer="Grace", version=version))
    for _ in range(300):
        card, _ = await engine.offer_card(rid, partner)
        if card.state is OfferState.LETTER_ISSUED and len(card.letters) == number:
            return card
        await asyncio.sleep(0.2)
    raise AssertionError(f"{partner} never had letter {number}")


async def test_a_partner_counters_twice_and_accepts_the_third_letter(engine: Engine, store) -> None:  # type: ignore[no-untyped-def]
    spec = round_spec(["JP"], respond_within=timedelta(minutes=5))
    await engine.open_round(spec)
    rid = spec.round_id
    await engine.submit(sample_offer(rid, "JP"), by="negotiator")
    first = await _letter(engine, rid, "JP", 1, 1)
    assert first.respond_by is not None and first.awaits_answer
    kept = store.get(Kind.LETTER, first.letters[0].ref.letter_id)

    counter = await engine.submit(sample_offer(rid, "JP", seed=4), amend=True, by="negotiator")
    assert (counter.version, counter.state) == (2, OfferState.UNDER_REVIEW)
    with pytest.raises(Refused, match="no letter awaits an answer: version 2 answered letter 1") as refused:
        await engine.accept(rid, "JP", Accept(by="negotiator", letter=1))
    assert refused.value.kind == "NoAnswerAwaited"
    await _letter(engine, rid, "JP", 2, 2)
    await engine.submit(sample_offer(rid, "JP", seed=5), amend=True, by="negotiator")
    third = await _letter(engine, rid, "JP", 3, 3)
    assert [(x.number, x.version) for x in third.letters] == [(1, 1), (2, 2), (3, 3)]
    assert third.compare_from(3) == 2  # the counter against the version the last letter answered

    with pytest.raises(Refused, match="letter 3 to Japan has replaced letter 2") as refused:
        await engine.accept(rid, "JP", Accept(by="negotiator", letter=2))
    assert refused.value.kind == "StaleLetter"
    answer = await engine.accept(rid, "JP", Accept(by="negotiator", letter=3))
    assert answer.state is OfferState.ACCEPTED and answer.letters == 3
    with pytest.raises(Refused, match="ACCEPTED") as refused:
        await engine.submit(sample_offer(rid, "JP", seed=6), amend=True, by="negotiator")
    assert refused.value.kind == "OfferClosed"

    done = await engine.offer_status(rid, "JP")
    assert done.deal is not None and (done.deal.letter, done.deal.version, done.deal.accepted_by) == (
        3,
        3,
        "negotiator",
    )
    assert done.deal.rate_pct == done.letters[2].terms.agreed_rate_pct  # type: ignore[union-attr]
    assert store.get(Kind.LETTER, done.letters[0].ref.letter_id) == kept  # every letter kept, unchanged
    assert len({x.ref.letter_id for x in done.letters}) == 3
    actions = [e.action for e in done.events]
    assert actions.count("issued the letter") == 3 and actions.count("countered") == 2 and "accepted" in actions
    outcome = await engine.client.get_workflow_handle(f"offer/{rid}/JP", result_type=OfferOutcome).result()
    assert (outcome.state, outcome.letters) == (OfferState.ACCEPTED, 3)


async def test_an_unanswered_letter_is_reopened_by_staff_then_accepted_for_the_partner(engine: Engine) -> None:
    spec = round_spec(["KZ", "MU"], respond_within=timedelta(seconds=3), approvals=1)
    await engine.open_round(spec)
    rid = spec.round_id
    for code in ("KZ", "MU"):
        await engine.submit(sample_offer(rid, code), by="negotiator")
        await engine.approve(rid, code, Approve(reviewer="Ada", version=1))
    unanswered = await engine.wait_for(rid, "KZ", {OfferState.UNANSWERED}, WAIT)
    assert unanswered.respond_by is not None and unanswered.closing is None
    with pytest.raises(Refused, match="UNANSWERED: letter 1 was not answered by"):
        await engine.submit(sample_offer(rid, "KZ", seed=2), amend=True, by="negotiator")
    with pytest.raises(Refused, match="went unanswered; staff may reopen it"):
        await engine.accept(rid, "KZ", Accept(by="negotiator"))

    reopened = await engine.reopen(
        rid, "KZ", Reopen(by="Staff Sam", respond_within=timedelta(minutes=5), reason="they wrote: a week more")
    )
    assert reopened.state is OfferState.LETTER_ISSUED and reopened.respond_by is not None
    with pytest.raises(Refused, match="needs a reason"):
        await engine.accept(rid, "KZ", Accept(by="Staff Sam", on_behalf=True))
    accepted = await engine.accept(
        rid, "KZ", Accept(by="Staff Sam", letter=1, on_behalf=True, reason="accepted by note verbale of 4 May")
    )
    assert accepted.state is OfferState.ACCEPTED
    done = await engine.offer_status(rid, "KZ")
    assert done.deal is not None and done.deal.on_behalf and done.deal.reason == "accepted by note verbale of 4 May"
    assert "accepted for the partner" in [e.action for e in done.events]

    await engine.wait_for(rid, "MU", {OfferState.UNANSWERED}, WAIT)
    # An accepted offer's workflow ends once its notices are out; wait for that end rather than racing it.
    kz = await engine.client.get_workflow_handle(f"offer/{rid}/KZ", result_type=OfferOutcome).result()
    assert kz.state is OfferState.ACCEPTED
    with pytest.raises(Refused, match="ACCEPTED and takes no more changes"):  # its workflow completed
        await engine.reopen(rid, "KZ", Reopen(by="Staff Sam", respond_within=timedelta(days=1), reason="again"))
    closed = await engine.close(rid, "MU", CloseOffer(by="Staff Sam", reason="no reply after two reminders"))
    assert closed.state is OfferState.UNANSWERED
    status = await engine.client.get_workflow_handle(f"round/{rid}", result_type=RoundStatus).result()
    assert {o.partner: o.state for o in status.outcomes} == {"KZ": OfferState.ACCEPTED, "MU": OfferState.UNANSWERED}
    gh = await engine.offer_status(rid, "MU")
    assert gh.closing is not None and gh.closing.by == "Staff Sam" and "closed" in [e.action for e in gh.events]


async def test_a_withdrawal_while_a_letter_awaits_its_answer(engine: Engine) -> None:
    spec = round_spec(["NI"], approvals=1)
    await engine.open_round(spec)
    rid = spec.round_id
    await engine.submit(sample_offer(rid, "NI"), by="negotiator")
    await engine.approve(rid, "NI", Approve(reviewer="Ada", version=1))
    await engine.wait_for(rid, "NI", {OfferState.LETTER_ISSUED}, WAIT)
    await engine.comment(rid, "NI", Comment(reviewer="Ada", text="waiting for Lima"))
    answer = await engine.withdraw(rid, "NI", Withdraw(by="negotiator", reason="the cabinet fell"))
    assert answer.state is OfferState.WITHDRAWN
