"""One round: invites each partner by starting its offer workflow, then follows them to the end."""

from __future__ import annotations

import asyncio
from typing import Any

from temporalio import workflow
from temporalio.common import SearchAttributePair, TypedSearchAttributes
from temporalio.exceptions import CancelledError, ChildWorkflowError, TerminatedError
from temporalio.workflow import ChildWorkflowHandle, ParentClosePolicy

with workflow.unsafe.imports_passed_through():
    from schemas.offer_state import OfferInput, OfferMemory, OfferOutcome, OfferState
    from schemas.partner import PartnerReference
    from schemas.round import RoundSpec, RoundStatus
    from workflows.names import OFFER_PARTNER, OFFER_ROUND, OFFER_STATE, offer_workflow_id
    from workflows.patches import LEAN_OFFERS, LEGACY_OFFER_TYPE, OFFER_TYPE, OFFERS_IN_BATCHES


OFFER_TERMS = {
    "round_id",
    "deadline",
    "review_window",
    "approvals_required",
    "letter_attempts",
    "letter_first_retry",
    "remind_before",
    "respond_within",
}
"""What each offer takes from its round's spec, fixed when the partner is invited."""
START_AT_ONCE = 25
"""Offers a round starts in one workflow task. All of 600 at once kept one activation busy past the deadlock
detector's 2 s (f381717); one per task costs the round a workflow task per partner."""


@workflow.defn
class RoundWorkflow:
    @workflow.init
    def __init__(self, spec: RoundSpec) -> None:
        self._spec = spec
        self._opened_at = workflow.now()
        self._started = False
        self._outcomes: dict[str, OfferOutcome] = {}

    @workflow.run
    async def run(self, spec: RoundSpec) -> RoundStatus:
        lean = workflow.patched(LEAN_OFFERS)
        handles: list[ChildWorkflowHandle[Any, OfferOutcome]] = []
        if lean and workflow.patched(OFFERS_IN_BATCHES):  # a batch of offers per workflow task, not one per offer
            for first in range(0, len(spec.partners), START_AT_ONCE):
                batch = spec.partners[first : first + START_AT_ONCE]
                handles += await asyncio.gather(*(self._invite(spec, p, lean) for p in batch))
        else:
            for partner in spec.partners:
                handles.append(await self._invite(spec, partner, lean))
        self._started = True
        await asyncio.gather(*(self._follow(p.code, h) for p, h in zip(spec.partners, handles, strict=True)))
        return self.status()

    async def _invite(
        self, spec: RoundSpec, partner: PartnerReference, lean: bool
    ) -> ChildWorkflowHandle[Any, OfferOutcome]:
        inp = OfferInput(partner=partner, **spec.model_dump(include=OFFER_TERMS))
        return await workflow.start_child_workflow(
            OFFER_TYPE if lean else LEGACY_OFFER_TYPE,
            inp,
            result_type=OfferOutcome,
            # The offer's first card, so that it publishes nothing until it changes.
            memo={"card": OfferMemory.invited(inp, workflow.now()).card(inp)} if lean else None,
            id=offer_workflow_id(spec.round_id, partner.code),
            search_attributes=TypedSearchAttributes(
                [
                    SearchAttributePair(OFFER_ROUND, spec.round_id),
                    SearchAttributePair(OFFER_PARTNER, partner.code),
                    SearchAttributePair(OFFER_STATE, "INVITED"),
                ]
            ),
            # An offer outlives a round workflow that is reset or terminated by an operator.
            parent_close_policy=ParentClosePolicy.ABANDON,
        )

    async def _follow(self, partner: str, handle: ChildWorkflowHandle[Any, OfferOutcome]) -> None:
        try:
            outcome = await handle
        except ChildWorkflowError as e:
            # One broken offer must not end the round: it is shown as Temporal reports it, the round carries on.
            workflow.logger.error("offer workflow %s ended without an outcome: %s", handle.id, e)
            state = (
                OfferState.TERMINATED if isinstance(e.cause, TerminatedError | CancelledError) else OfferState.FAILED
            )
            outcome = OfferOutcome(partner=partner, state=state, versions=0, letter=None)
        self._outcomes[outcome.partner] = outcome

    @workflow.update
    async def opened(self) -> RoundStatus:
        """Returns once every invited partner's offer workflow has started, so submissions can follow."""
        await workflow.wait_condition(lambda: self._started)
        return self.status()

    @workflow.query
    def status(self) -> RoundStatus:
        spec = self._spec
        return RoundStatus.of(
            spec,
            opened_at=self._opened_at,
            started=self._started,
            outcomes=[self._outcomes[p.code] for p in spec.partners if p.code in self._outcomes],
        )
