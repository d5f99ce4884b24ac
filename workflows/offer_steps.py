"""The offer's steps that run activities: accepting a version (validation, the landing zone), issuing the letter,
and continuing as new with the audit trail filed to the store.

Activities are called by reference (their names are recorded in histories: activities/names.py). Each has
bounded retries, and a failure after them ends in a state a person sees and can act on: a deficient version
with a finding that says what failed, or LETTER_FAILED for staff to retry.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import TypeVar

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.names import DAMAGED_OBJECT, LETTER_ERROR, NOT_IN_STORE, RULE_ERROR
    from activities.offer_activities import OfferActivities
    from schemas.document_ref import DocumentRef, reference_for
    from schemas.landing import AssessRequest, ProposeRequest
    from schemas.letter import LetterRequest
    from schemas.offer_state import SubmissionReceipt, SubmitOffer
    from schemas.review import AuditChunk
    from schemas.validation import (
        Finding,
        ReportSummary,
        ValidateRequest,
        ValidateStoredRequest,
        first_findings,
        summarize_report,
    )

from workflows.offer_rules import check_submission, document_ref, failure_reason
from workflows.offer_transitions import Offer, failure_finding, reference
from workflows.patches import QUICK_AS_LOCAL, patched

QUICK_TIMEOUT = timedelta(seconds=30)
QUICK_RETRY = RetryPolicy(maximum_interval=timedelta(seconds=10))
# Validation, the landing zone and audit chunks: a store that is briefly away gets three tries, a bug one.
BOUNDED_RETRY = RetryPolicy(
    initial_interval=timedelta(milliseconds=200),
    maximum_interval=timedelta(seconds=2),
    maximum_attempts=3,
    non_retryable_error_types=[RULE_ERROR, NOT_IN_STORE, DAMAGED_OBJECT],
)
LETTER_TIMEOUT = timedelta(minutes=5)
LETTER_HEARTBEAT = timedelta(seconds=20)
"""The render activity heartbeats every few seconds: a worker that dies mid-letter frees it in 20 s, not 5 min."""
LETTER_MAX_INTERVAL = timedelta(minutes=1)

I = TypeVar("I")  # noqa: E741  (an activity's input)
O = TypeVar("O")  # noqa: E741  (its output)


async def _quick(activity: Callable[[OfferActivities, I], O], request: I) -> O:
    """Validation and the landing zone of a document sent inline: milliseconds of computation on the worker.

    As local activities they skip the task-queue round trip through the server (three history events and a
    workflow task each), so a submission is answered sooner and the server does less per offer.
    """
    if patched(QUICK_AS_LOCAL):
        return await workflow.execute_local_activity_method(
            activity, request, start_to_close_timeout=QUICK_TIMEOUT, retry_policy=QUICK_RETRY
        )
    return await workflow.execute_activity_method(
        activity, request, start_to_close_timeout=QUICK_TIMEOUT, retry_policy=QUICK_RETRY
    )


async def _bounded(activity: Callable[[OfferActivities, I], O], request: I) -> O:
    return await workflow.execute_local_activity_method(
        activity, request, start_to_close_timeout=QUICK_TIMEOUT, retry_policy=BOUNDED_RETRY
    )


# ---- a version ---------------------------------------------------------------------------------------


async def accept(offer: Offer, request: SubmitOffer, amend: bool) -> SubmissionReceipt:
    """A submission or amendment: a new version, validated; clean, it goes to review with its landing zone.

    Runs under the workflow's lock, one at a time, and checks again: the offer may have moved while it waited.
    """
    ref = document_ref(request)
    if check_submission(offer.inp, offer.memory, ref, amend, workflow.now()):
        return offer.receipt(duplicate=True, findings=[])
    now = workflow.now()
    version = offer.add_version(ref, request.by, amend)
    if request.document is None and offer.lean:
        return await _assess(offer, ref, version.number)
    if request.document is not None:
        report = await _quick(OfferActivities.validate, ValidateRequest(document=request.document, as_of=now.date()))
        offer.inline[ref.digest] = (request.document, report)
        summary, findings = summarize_report(report, None), first_findings(report)
    else:
        summary, findings = await _validate(offer, ref, version.number)
    offer.validated(version, summary)
    if not summary.clean:
        offer.deficient(findings)
        return offer.receipt(duplicate=False, findings=findings)
    propose = ProposeRequest(
        document=request.document, ref=None if request.document else ref, partner=offer.inp.partner
    )
    if request.document is not None:
        offer.memory.landing_zone = await _quick(OfferActivities.propose, propose)
    else:
        try:
            offer.memory.landing_zone = await _bounded(OfferActivities.propose, propose)
        except (ActivityError, ApplicationError) as e:
            failure = [failure_finding(offer.failed(version, "the landing zone could not be computed", e))]
            offer.deficient(failure)
            return offer.receipt(duplicate=False, findings=failure)
    offer.in_review(version)
    return offer.receipt(duplicate=False, findings=findings)


async def _assess(offer: Offer, ref: DocumentRef, number: int) -> SubmissionReceipt:
    """A stored version of a lean offer: validation and the landing zone in one local activity.

    Never hangs an offer: a validation that fails after its retries, or a policy that gives no landing zone,
    makes the version deficient with a finding that says so."""
    version = offer.memory.versions[-1]
    request = AssessRequest(
        check=ValidateStoredRequest(ref=ref, as_of=workflow.now().date(), reference=reference(number)),
        partner=offer.inp.partner,
    )
    try:
        assessment = await _bounded(OfferActivities.assess_stored, request)
    except (ActivityError, ApplicationError) as e:  # a local activity's failure arrives unwrapped
        failure = [failure_finding(offer.failed(version, "validation could not check this version", e))]
        offer.deficient(failure)
        return offer.receipt(duplicate=False, findings=failure)
    summary, findings = assessment.outcome.summary, assessment.outcome.findings
    offer.validated(version, summary)
    if not summary.clean:
        offer.deficient(findings)
        return offer.receipt(duplicate=False, findings=findings)
    if assessment.landing_zone is None:
        why = ApplicationError(assessment.landing_error or "the policy gave no landing zone")
        failure = [failure_finding(offer.failed(version, "the landing zone could not be computed", why))]
        offer.deficient(failure)
        return offer.receipt(duplicate=False, findings=failure)
    offer.memory.landing_zone = assessment.landing_zone
    offer.in_review(version)
    return offer.receipt(duplicate=False, findings=findings)


async def _validate(offer: Offer, ref: DocumentRef, number: int) -> tuple[ReportSummary, list[Finding]]:
    """Validation never hangs an offer: if it fails after its retries, the offer gets a finding that says so."""
    request = ValidateStoredRequest(ref=ref, as_of=workflow.now().date(), reference=reference(number))
    version = offer.memory.versions[-1]
    try:
        outcome = await _bounded(OfferActivities.validate_stored, request)
    except (ActivityError, ApplicationError) as e:  # a local activity's failure arrives unwrapped
        summary = offer.failed(version, "validation could not check this version", e)
        return summary, [failure_finding(summary)]
    return outcome.summary, outcome.findings


# ---- the letter ----------------------------------------------------------------------------------------


def letter_request(offer: Offer) -> LetterRequest:
    """The letter for the latest version and the agreed terms: the offer by reference, or inline if it came so."""
    inp, m = offer.inp, offer.memory
    terms, report, version = m.terms, m.report, m.versions[-1]
    assert terms is not None and report is not None
    inline = offer.inline.get(version.digest)
    assert inline is not None or version.summary is not None
    return LetterRequest(
        round_id=inp.round_id,
        partner=inp.partner.code,
        partner_name=inp.partner.name,
        reference=f"OD/{inp.round_id}/{inp.partner.code}/v{version.number}",
        letter_date=terms.agreed_at.date(),
        offer_version=version.number,
        offer=reference_for(inline[0])
        if inline is not None
        else DocumentRef(
            digest=version.digest,
            size=version.size,
            round_id=inp.round_id,
            partner=inp.partner.code,
            summary=version.summary,
        ),
        report_digest=report.digest,
        terms=terms,
    )


async def issue_letter(offer: Offer) -> None:
    """Render and store the letter; after its retries a failure is LETTER_FAILED, for staff to see and retry."""
    request = letter_request(offer)
    retry = RetryPolicy(
        initial_interval=offer.inp.letter_first_retry,
        maximum_interval=LETTER_MAX_INTERVAL,
        maximum_attempts=offer.inp.letter_attempts,
        non_retryable_error_types=[LETTER_ERROR, NOT_IN_STORE, DAMAGED_OBJECT],
    )
    inline = offer.inline.get(offer.memory.versions[-1].digest)
    try:
        if inline is not None:  # an offer from before documents went by reference: everything inline
            offer.memory.letter = await workflow.execute_activity_method(
                OfferActivities.render_and_store,
                request.with_content(*inline),
                start_to_close_timeout=LETTER_TIMEOUT,
                retry_policy=retry,
            )
        else:
            offer.memory.letter = await workflow.execute_activity_method(
                OfferActivities.render_stored,
                request,
                start_to_close_timeout=LETTER_TIMEOUT,
                heartbeat_timeout=LETTER_HEARTBEAT,
                retry_policy=retry,
            )
    except (ActivityError, ApplicationError) as e:
        offer.letter_failed(failure_reason(e))
        return
    offer.letter_issued()


# ---- bounded runs --------------------------------------------------------------------------------------


async def file_audit_trail(offer: Offer) -> None:
    """This run's audit events to the store, as one chunk; if the store is away they stay for the next chance."""
    events = offer.memory.events
    if not events:
        return
    batch = list(events)
    chunk = AuditChunk(round_id=offer.inp.round_id, partner=offer.inp.partner.code, events=batch)
    try:
        digest = await _bounded(OfferActivities.store_audit_chunk, chunk)
    except (ActivityError, ApplicationError) as e:
        workflow.logger.warning("could not file %d audit events to the store: %s", len(batch), failure_reason(e))
        return
    del events[: len(batch)]
    offer.memory.audit_chunks.append(digest)


async def continue_as_new(offer: Offer) -> None:
    """Carry the memory into a new run: the trail so far goes to the store, handlers finish first."""
    await file_audit_trail(offer)
    await workflow.wait_condition(workflow.all_handlers_finished)
    if offer.ended():
        return  # the run ends on its own
    carry = offer.memory.carry(offer.inp, offer.notices.pending())
    workflow.continue_as_new(offer.inp.model_copy(update={"carry": carry}), memo={"card": carry.card})
