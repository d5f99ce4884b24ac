"""The engine as callers see it: typed calls in, typed answers or a Refused with a sentence out.

Every Temporal failure a person can cause (a refused update, a workflow that is closed or does not exist)
becomes a Refused that says what happened and what to do; the CLI and the portal both stand on this.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar, cast

from pydantic import BaseModel
from temporalio.client import Client, TLSConfig, WorkflowHandle, WorkflowUpdateFailedError
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from offerdesk.config import Settings
from schemas.listing import OfferListing
from schemas.offer import OfferDocument
from schemas.offer_state import OfferStatus, SubmissionReceipt, SubmitOffer
from schemas.review import Approve, Comment, ExtendReview, RequestChanges, StaffDecision, Withdraw
from schemas.round import RoundSpec, RoundStatus
from workflows.names import (
    OFFER_PARTNER,
    OFFER_REVIEW_DEADLINE,
    OFFER_ROUND,
    OFFER_STATE,
    TASK_QUEUE,
    offer_workflow_id,
    round_workflow_id,
)
from workflows.offer import OfferWorkflow
from workflows.round import RoundWorkflow

T = TypeVar("T", bound=BaseModel)


class Refused(Exception):
    """The engine said no; the message is a sentence for a person, kind a word for a program."""

    def __init__(self, message: str, kind: str = "Refused") -> None:
        super().__init__(message)
        self.message = message
        self.kind = kind


class EngineUnavailable(Exception):
    pass


async def connect(settings: Settings) -> Client:
    tls: bool | TLSConfig = False
    if settings.tls:
        tls = TLSConfig(
            server_root_ca_cert=settings.tls_ca.read_bytes() if settings.tls_ca else None,
            client_cert=settings.tls_cert.read_bytes() if settings.tls_cert else None,
            client_private_key=settings.tls_key.read_bytes() if settings.tls_key else None,
        )
    try:
        return await Client.connect(
            settings.address,
            namespace=settings.namespace,
            tls=tls,
            api_key=settings.api_key,
            data_converter=pydantic_data_converter,
        )
    except RuntimeError as e:
        hint = (
            "start it with 'offerdesk up' (or 'make run') in another terminal"
            if settings.embedded
            else "check TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE and the TLS or API-key settings"
        )
        raise EngineUnavailable(f"cannot reach Temporal at {settings.address}: {hint} ({e})") from None


class Engine:
    def __init__(self, client: Client, task_queue: str = TASK_QUEUE) -> None:
        self.client = client
        self.task_queue = task_queue

    # ---- rounds ------------------------------------------------------------------------------

    async def open_round(self, spec: RoundSpec) -> RoundStatus:
        now = datetime.now(UTC)
        if spec.deadline <= now:
            raise Refused(f"the deadline {spec.deadline.isoformat()} is already past; give a time ahead", "BadDeadline")
        codes = [p.code for p in spec.partners]
        if len(set(codes)) != len(codes):
            raise Refused(f"partners are listed twice: {', '.join(sorted({c for c in codes if codes.count(c) > 1}))}")
        try:
            handle = await self.client.start_workflow(
                RoundWorkflow.run, spec, id=round_workflow_id(spec.round_id), task_queue=self.task_queue
            )
        except WorkflowAlreadyStartedError:
            raise Refused(f"round {spec.round_id} already exists; choose another id", "RoundExists") from None
        return await handle.execute_update(RoundWorkflow.opened)

    async def round_status(self, round_id: str) -> RoundStatus:
        handle = self.client.get_workflow_handle_for(RoundWorkflow.run, round_workflow_id(round_id))
        try:
            return await handle.query(RoundWorkflow.status)
        except RPCError as e:
            if e.status == RPCStatusCode.NOT_FOUND:
                raise Refused(
                    f"round {round_id} does not exist; open it with 'offerdesk round open'", "NoRound"
                ) from None
            raise

    async def list_rounds(self) -> list[str]:
        """Round ids, newest first, as Temporal visibility lists them."""
        rounds = []
        async for wf in self.client.list_workflows(f"WorkflowType = {_quote(RoundWorkflow.__name__)}"):
            rounds.append((wf.start_time, wf.id.removeprefix(round_workflow_id(""))))
        return [r for _, r in sorted(rounds, reverse=True)]

    async def list_offers(
        self, round_id: str | None = None, state: str | None = None, partner: str | None = None
    ) -> list[OfferListing]:
        """Offers as Temporal visibility lists them (eventually consistent, a second or so behind)."""
        clauses = [f"{OFFER_PARTNER.name} IS NOT NULL"]
        if round_id is not None:
            clauses.append(f"{OFFER_ROUND.name} = {_quote(round_id)}")
        if state is not None:
            clauses.append(f"{OFFER_STATE.name} = {_quote(state)}")
        if partner is not None:
            clauses.append(f"{OFFER_PARTNER.name} = {_quote(partner)}")
        listings = []
        async for wf in self.client.list_workflows(" AND ".join(clauses)):
            sa = wf.typed_search_attributes
            listings.append(
                OfferListing(
                    round_id=sa.get(OFFER_ROUND) or "",
                    partner=sa.get(OFFER_PARTNER) or "",
                    state=sa.get(OFFER_STATE) or "",
                    review_deadline=sa.get(OFFER_REVIEW_DEADLINE),
                    workflow_id=wf.id,
                    running=wf.close_time is None,
                )
            )
        return sorted(listings, key=lambda x: (x.round_id, x.partner))

    # ---- offers ------------------------------------------------------------------------------

    def _offer(self, round_id: str, partner: str) -> WorkflowHandle[OfferWorkflow, Any]:
        return self.client.get_workflow_handle_for(OfferWorkflow.run, offer_workflow_id(round_id, partner))

    async def submit(self, document: OfferDocument, amend: bool = False) -> SubmissionReceipt:
        update = OfferWorkflow.amend if amend else OfferWorkflow.submit
        request = SubmitOffer(document=document)
        return await self._update(document.round_id, document.partner, update, request, SubmissionReceipt)

    async def withdraw(self, round_id: str, partner: str, request: Withdraw) -> OfferStatus:
        return await self._update(round_id, partner, OfferWorkflow.withdraw, request, OfferStatus)

    async def approve(self, round_id: str, partner: str, request: Approve) -> OfferStatus:
        return await self._update(round_id, partner, OfferWorkflow.approve, request, OfferStatus)

    async def request_changes(self, round_id: str, partner: str, request: RequestChanges) -> OfferStatus:
        return await self._update(round_id, partner, OfferWorkflow.request_changes, request, OfferStatus)

    async def comment(self, round_id: str, partner: str, request: Comment) -> OfferStatus:
        return await self._update(round_id, partner, OfferWorkflow.comment, request, OfferStatus)

    async def extend_review(self, round_id: str, partner: str, request: ExtendReview) -> OfferStatus:
        return await self._update(round_id, partner, OfferWorkflow.extend_review, request, OfferStatus)

    async def decide(self, round_id: str, partner: str, request: StaffDecision) -> OfferStatus:
        return await self._update(round_id, partner, OfferWorkflow.decide, request, OfferStatus)

    async def offer_status(self, round_id: str, partner: str) -> OfferStatus:
        try:
            return await self._offer(round_id, partner).query(OfferWorkflow.status)
        except RPCError as e:
            if e.status == RPCStatusCode.NOT_FOUND:
                raise await self._why_not_found(round_id, partner) from None
            raise

    async def wait_for(self, round_id: str, partner: str, states: set[str], timeout: timedelta) -> OfferStatus:
        """Poll an offer until it reaches one of the states (for the demo and scripts)."""
        deadline = datetime.now(UTC) + timeout
        while True:
            status = await self.offer_status(round_id, partner)
            if status.state.value in states:
                return status
            if datetime.now(UTC) >= deadline:
                raise Refused(f"{partner} in round {round_id} is still {status.state.value} after {timeout}", "Timeout")
            await asyncio.sleep(0.2)

    async def _update(self, round_id: str, partner: str, update: Any, arg: BaseModel, result: type[T]) -> T:
        handle = self._offer(round_id, partner)
        try:
            return cast(T, await handle.execute_update(update, arg))
        except WorkflowUpdateFailedError as e:
            cause = e.cause
            if isinstance(cause, ApplicationError):
                raise Refused(cause.message, cause.type or "Refused") from None
            raise
        except RPCError as e:
            if e.status == RPCStatusCode.NOT_FOUND and "not found" in e.message.lower():
                raise await self._why_not_found(round_id, partner) from None
            if "already completed" in e.message.lower():
                raise await self._why_closed(round_id, partner) from None
            raise

    async def _why_not_found(self, round_id: str, partner: str) -> Refused:
        try:
            status = await self.round_status(round_id)
        except Refused as r:
            return r
        return Refused(
            f"partner {partner} is not invited to round {round_id} (invited: {', '.join(status.partners)})",
            "NotInvited",
        )

    async def _why_closed(self, round_id: str, partner: str) -> Refused:
        try:
            status = await self.offer_status(round_id, partner)
        except RPCError:
            return Refused(
                f"the offer of {partner} in round {round_id} is closed and takes no more changes", "OfferClosed"
            )
        detail = f"; submissions closed at {status.deadline.isoformat()}" if status.state.value == "LAPSED" else ""
        return Refused(
            f"the offer of {status.partner_name} in round {round_id} is {status.state.value} "
            f"and takes no more changes{detail}",
            "OfferClosed",
        )


def _quote(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
