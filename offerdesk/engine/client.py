"""The engine as callers see it: typed calls in, typed answers or a Refused with a sentence out.

Every Temporal failure a person can cause (a refused update, a workflow that is closed or does not exist)
becomes a Refused that says what happened and what to do; an outage (no server, no worker, no store) becomes
an Unavailable that says where it looked. The CLI and the portal both stand on this.

Documents go to the store before the update that names them; reads come from Temporal's own records (the
memo each offer publishes, search attributes, its status) and the store, so they need no worker.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar, cast

from pydantic import BaseModel
from temporalio.client import (
    Client,
    WorkflowExecutionDescription,
    WorkflowExecutionStatus,
    WorkflowHandle,
    WorkflowUpdateFailedError,
    WorkflowUpdateRPCTimeoutOrCancelledError,
)
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from activities.store import DamagedObjectError, Kind, NotInStoreError, ObjectStore, StoreError
from offerdesk.config import Settings
from offerdesk.engine.connection import connect
from offerdesk.engine.errors import EngineUnavailable, Refused, cannot_reach, guarded
from offerdesk.engine.letters import Letters
from offerdesk.engine.visibility import CLOSED_AS, closed_run, listed, memo, offer_clauses, quote, round_ids
from offerdesk.engine.workers import Pollers
from schemas.answer import Accept, CloseOffer, Reopen
from schemas.document_ref import canonical_bytes, reference_for
from schemas.listing import OfferListing
from schemas.offer import OfferDocument
from schemas.offer_state import (
    ClosedRun,
    OfferAnswer,
    OfferCard,
    OfferState,
    OfferStatus,
    OfferVersion,
    Submission,
    SubmissionReceipt,
    SubmissionResult,
    SubmitOffer,
)
from schemas.refusal import Refusal
from schemas.review import (
    Approve,
    AuditChunk,
    AuditEvent,
    AuditPage,
    Comment,
    ExtendReview,
    Request,
    RequestChanges,
    RetryLetter,
    StaffDecision,
    Withdraw,
)
from schemas.round import RoundSpec, RoundStatus
from schemas.validation import ValidationReport, failed_report
from workflows.names import OFFER_ROUND, TASK_QUEUE, offer_workflow_id, round_workflow_id

if TYPE_CHECKING:
    from workflows.offer import OfferWorkflow
    from workflows.round import RoundWorkflow

T = TypeVar("T", bound=BaseModel)

QUERY_TIMEOUT = timedelta(seconds=3)
FILED_STATES = frozenset(
    {OfferState.ACCEPTED, OfferState.UNANSWERED, OfferState.LAPSED, OfferState.WITHDRAWN, OfferState.LETTER_ISSUED}
)
"""States an offer's workflow completes in, having filed its whole audit trail to the store: UNANSWERED once staff
close it, LETTER_ISSUED for a letter from before letters awaited an answer. Temporal says whether it completed."""


def _offers() -> type[OfferWorkflow]:
    """The offer workflow's class, for its typed handles, updates and queries: imported when first used, so that a
    command that only reads visibility and memos (`round status`) does not load the workflows, their activities
    and what those import (issue 26)."""
    from workflows.offer import OfferWorkflow

    return OfferWorkflow


def _rounds() -> type[RoundWorkflow]:
    """The round workflow's class, imported when first used (see _offers)."""
    from workflows.round import RoundWorkflow

    return RoundWorkflow


class Engine(Letters):
    def __init__(
        self,
        client: Client,
        store: ObjectStore,
        task_queue: str = TASK_QUEUE,
        update_timeout: float = 10.0,
        embedded: bool = False,
    ) -> None:
        self.client = client
        self.store = store
        self.task_queue = task_queue
        self.update_timeout = update_timeout
        self.embedded = embedded
        self._pollers = Pollers(client)

    @classmethod
    async def from_settings(cls, settings: Settings, verbose: bool = False) -> Engine:
        client = await connect(settings, verbose)
        return cls(
            client,
            settings.store(),
            task_queue=settings.task_queue,
            update_timeout=settings.update_timeout,
            embedded=settings.embedded,
        )

    def cannot_reach(self) -> str:
        return cannot_reach(self.client.service_client.config.target_host, self.embedded)

    # ---- workers -----------------------------------------------------------------------------

    async def worker_running(self, wait: float = 0.0, task_queue: str | None = None) -> bool:
        """Whether a worker has polled the task queue lately; `wait` gives a starting worker a moment."""
        return await self._pollers.running(task_queue or self.task_queue, wait)

    def _no_worker(self, task_queue: str | None = None) -> EngineUnavailable:
        return EngineUnavailable(
            f"no worker is running on task queue '{task_queue or self.task_queue}': start one with "
            "'offerdesk worker' (or 'offerdesk up'); nothing was changed"
        )

    # ---- rounds ------------------------------------------------------------------------------

    @guarded
    async def open_round(self, spec: RoundSpec) -> RoundStatus:
        now = datetime.now(UTC)
        if spec.deadline <= now:
            raise Refused(
                f"the deadline {spec.deadline.isoformat()} is already past; give a time ahead", Refusal.BAD_DEADLINE
            )
        codes = [p.code for p in spec.partners]
        if len(set(codes)) != len(codes):
            twice = ", ".join(sorted({c for c in codes if codes.count(c) > 1}))
            raise Refused(f"partners are listed twice: {twice}", Refusal.DUPLICATE_PARTNER)
        if not await self.worker_running(wait=3.0):
            raise self._no_worker()
        try:
            handle = await self.client.start_workflow(
                _rounds().run,
                spec,
                id=round_workflow_id(spec.round_id),
                task_queue=self.task_queue,
                memo={"spec": spec},
            )
        except WorkflowAlreadyStartedError:
            raise Refused(f"round {spec.round_id} already exists; choose another id", Refusal.ROUND_EXISTS) from None
        try:
            return await asyncio.wait_for(handle.execute_update(_rounds().opened), self.update_timeout)
        except TimeoutError:
            raise EngineUnavailable(
                f"round {spec.round_id} is recorded, but no worker sent its invitations within "
                f"{self.update_timeout:g} s; they go out as soon as a worker runs ('offerdesk worker')"
            ) from None

    @guarded
    async def round_status(self, round_id: str) -> RoundStatus:
        """The round as it was opened, from Temporal's records (memo, or the first event): no worker needed."""
        # An untyped handle: describing the run and reading its first event need not load the workflow's class.
        handle = self.client.get_workflow_handle(round_workflow_id(round_id))
        try:
            description = await handle.describe()
        except RPCError as e:
            if e.status == RPCStatusCode.NOT_FOUND:
                raise Refused(
                    f"round {round_id} does not exist; open it with 'offerdesk round open'", Refusal.NO_ROUND
                ) from None
            raise
        spec = await memo(description, "spec", RoundSpec)
        if spec is None:  # rounds opened before the memo: the spec is the first event's input
            async for event in handle.fetch_history_events():
                attributes = event.workflow_execution_started_event_attributes
                try:
                    decoded = await self.client.data_converter.decode(attributes.input.payloads, [RoundSpec])
                except Exception:  # whatever the converter says, the cause is the same
                    raise Refused(
                        f"round {round_id} was opened before payloads were encrypted, or with another keyring; "
                        "read it with OFFERDESK_ACCEPT_PLAINTEXT=1 (README: Security) or with that keyring",
                        Refusal.UNREADABLE,
                    ) from None
                spec = cast(RoundSpec, decoded[0])
                break
        assert spec is not None
        return RoundStatus.of(spec, opened_at=description.start_time, started=True)

    @guarded
    async def list_rounds(self) -> list[str]:
        """Round ids, newest first, as Temporal visibility lists them."""
        return await round_ids(self.client)

    @guarded
    async def list_offers(
        self, round_id: str | None = None, state: OfferState | None = None, partner: str | None = None
    ) -> list[OfferListing]:
        """Offers as Temporal visibility lists them (eventually consistent, a second or so behind).

        An offer whose workflow was terminated or failed shows as TERMINATED or FAILED, from Temporal's own
        status, whatever its last search attributes said.
        """
        clauses = offer_clauses(round_id, state, partner)
        found = [listing async for listing, _ in listed(self.client, clauses, cards=False)]
        return sorted(found, key=lambda x: (x.round_id, x.partner))

    # ---- offers: changes ---------------------------------------------------------------------

    def _offer(self, round_id: str, partner: str) -> WorkflowHandle[OfferWorkflow, Any]:
        return self.client.get_workflow_handle_for(_offers().run, offer_workflow_id(round_id, partner))

    @guarded
    async def submit(self, document: OfferDocument, amend: bool = False, *, by: str) -> SubmissionResult:
        """Store the document, then send its reference: acknowledged means stored and recorded.

        `by` is the account that submits (the signed-in user, the token's owner, the CLI's operator): the
        offer records it with the version, and that account may not review or decide the offer.
        """
        data = canonical_bytes(document)
        await asyncio.to_thread(self.store.put, Kind.OFFER, data)
        update = _offers().amend if amend else _offers().submit
        request = SubmitOffer(ref=reference_for(document, data), by=by)
        receipt = await self._update(document.round_id, document.partner, update, request, SubmissionReceipt)
        submission = receipt.model_dump(include=set(Submission.model_fields))
        return SubmissionResult(**submission, report=await self._full_report(receipt) if receipt.report else None)

    async def _full_report(self, receipt: SubmissionReceipt) -> ValidationReport:
        summary = receipt.report
        assert summary is not None
        if summary.failure is not None:
            return failed_report(summary.failure)
        if summary.digest is None:
            return ValidationReport(categories=summary.categories, findings=receipt.findings)
        data = await asyncio.to_thread(self.store.get, Kind.REPORT, summary.digest)
        return ValidationReport.model_validate_json(data)

    async def withdraw(self, round_id: str, partner: str, request: Withdraw) -> OfferAnswer:
        return await self._update(round_id, partner, _offers().withdraw, request, OfferAnswer)

    async def approve(self, round_id: str, partner: str, request: Approve) -> OfferAnswer:
        return await self._update(round_id, partner, _offers().approve, request, OfferAnswer)

    async def request_changes(self, round_id: str, partner: str, request: RequestChanges) -> OfferAnswer:
        return await self._update(round_id, partner, _offers().request_changes, request, OfferAnswer)

    async def comment(self, round_id: str, partner: str, request: Comment) -> OfferAnswer:
        return await self._update(round_id, partner, _offers().comment, request, OfferAnswer)

    async def extend_review(self, round_id: str, partner: str, request: ExtendReview) -> OfferAnswer:
        return await self._update(round_id, partner, _offers().extend_review, request, OfferAnswer)

    async def decide(self, round_id: str, partner: str, request: StaffDecision) -> OfferAnswer:
        return await self._update(round_id, partner, _offers().decide, request, OfferAnswer)

    async def retry_letter(self, round_id: str, partner: str, request: RetryLetter) -> OfferAnswer:
        return await self._update(round_id, partner, _offers().retry_letter, request, OfferAnswer)

    async def accept(self, round_id: str, partner: str, request: Accept) -> OfferAnswer:
        return await self._update(round_id, partner, _offers().accept, request, OfferAnswer)

    async def reopen(self, round_id: str, partner: str, request: Reopen) -> OfferAnswer:
        return await self._update(round_id, partner, _offers().reopen, request, OfferAnswer)

    async def close(self, round_id: str, partner: str, request: CloseOffer) -> OfferAnswer:
        return await self._update(round_id, partner, _offers().close, request, OfferAnswer)

    @guarded
    async def _update(self, round_id: str, partner: str, update: Any, arg: Request, result: type[T]) -> T:
        """Send an update and wait at most update_timeout for its answer.

        The request expires a second before the caller stops waiting, so a request that reaches the offer
        later (no worker, a worker back after a while) is refused as stale rather than applied unseen.
        """
        expires = datetime.now(UTC) + timedelta(seconds=max(1.0, self.update_timeout - 1))
        arg = arg.model_copy(update={"expires_at": expires})
        handle = self._offer(round_id, partner)
        try:
            return cast(T, await asyncio.wait_for(handle.execute_update(update, arg), self.update_timeout))
        except (TimeoutError, WorkflowUpdateRPCTimeoutOrCancelledError):
            queue = (await handle.describe()).task_queue  # the offer's own queue, which may not be this engine's
            if not await self.worker_running(task_queue=queue):
                raise self._no_worker(queue) from None
            raise EngineUnavailable(
                f"no worker answered within {self.update_timeout:g} s (none is running, or all are busy); "
                "the request was not applied: send it again"
            ) from None
        except WorkflowUpdateFailedError as e:
            cause = e.cause
            if isinstance(cause, ApplicationError):
                raise Refused(cause.message, Refusal.of(cause.type)) from None
            raise
        except RPCError as e:
            if e.status == RPCStatusCode.RESOURCE_EXHAUSTED:
                raise EngineUnavailable(
                    f"the offer of {partner} in round {round_id} is answering as many requests as Temporal allows "
                    "at once; the request was not applied: send it again in a moment"
                ) from None
            if e.status == RPCStatusCode.NOT_FOUND and "not found" in e.message.lower():
                raise await self._why_not_found(round_id, partner) from None
            if "already completed" in e.message.lower() or "aborted by closing workflow" in e.message.lower():
                # The offer closed as the request arrived (it was telling people of its last state): not applied.
                raise await self._why_closed(round_id, partner) from None
            raise

    # ---- offers: reading ---------------------------------------------------------------------

    @guarded
    async def offer_card(self, round_id: str, partner: str) -> tuple[OfferCard, ClosedRun | None]:
        """The offer's card as it last published it, and Temporal's word if its workflow ended abnormally."""
        card, closed, _, _ = await self._card(round_id, partner)
        return card, closed

    async def _card(self, round_id: str, partner: str) -> tuple[OfferCard, ClosedRun | None, str, bool]:
        """The card, Temporal's word on a closed run, the task queue the offer's workflow runs on, and whether
        the workflow completed (having filed its audit trail)."""
        handle = self._offer(round_id, partner)
        try:
            description = await handle.describe()
        except RPCError as e:
            if e.status == RPCStatusCode.NOT_FOUND:
                raise await self._why_not_found(round_id, partner) from None
            raise
        card = await memo(description, "card", OfferCard)
        if card is None:  # offers started before they published a memo: ask the workflow
            if not await self.worker_running(task_queue=description.task_queue):
                raise self._no_worker(description.task_queue)
            card = await handle.query(_offers().card, rpc_timeout=QUERY_TIMEOUT)
        closed = await self._closed(description)
        if closed is not None:
            card = card.model_copy(update={"state": CLOSED_AS[cast(WorkflowExecutionStatus, description.status)]})
        completed = description.status is WorkflowExecutionStatus.COMPLETED
        return card, closed, description.task_queue, completed

    @guarded
    async def offer_status(self, round_id: str, partner: str) -> OfferStatus:
        """The full view: the card, every finding (from the store), the audit trail, and Temporal's status."""
        card, closed, queue, completed = await self._card(round_id, partner)
        notes: list[str] = []
        report: ValidationReport | None = None
        if card.report is not None:
            if card.report.failure is not None:
                report = failed_report(card.report.failure)
            elif card.report.digest is not None:
                try:
                    report = ValidationReport.model_validate_json(
                        await asyncio.to_thread(self.store.get, Kind.REPORT, card.report.digest)
                    )
                except StoreError as e:
                    notes.append(f"the findings could not be read: {e}")
            else:
                report = ValidationReport(categories=card.report.categories, findings=[])
        events = await self._events(round_id, partner, card, completed, queue, notes)
        return OfferStatus(
            **card.model_dump(exclude={"report", "audit_chunks", "run"}),
            report=report,
            events=events,
            closed=closed,
            notes=notes,
        )

    async def _events(
        self, round_id: str, partner: str, card: OfferCard, completed: bool, queue: str, notes: list[str]
    ) -> list[AuditEvent]:
        """The trail from the store's chunks, then the current run's events if a worker can answer for them.

        An offer that completed filed its whole trail to the store, so reading it needs no worker.
        """
        page: AuditPage | None = None
        filed = completed and card.state in FILED_STATES and card.audit_chunks
        try:
            if not filed and await self.worker_running(task_queue=queue):
                page = await self._offer(round_id, partner).query(_offers().audit, rpc_timeout=QUERY_TIMEOUT)
        except RPCError as e:
            if e.status == RPCStatusCode.UNAVAILABLE:
                raise
        chunks = page.chunks if page is not None else card.audit_chunks
        events: list[AuditEvent] = []
        for digest in chunks:
            try:
                data = await asyncio.to_thread(self.store.get, Kind.AUDIT, digest)
            except StoreError as e:
                notes.append(f"part of the audit trail could not be read: {e}")
                continue
            events += AuditChunk.model_validate_json(data).events
        if page is not None:
            events += page.events
        elif not filed:
            notes.append("no worker answered, so the audit trail shows only what was filed to the store")
        return events

    async def _closed(self, description: WorkflowExecutionDescription) -> ClosedRun | None:
        return await closed_run(self.client, description)

    @guarded
    async def document(
        self, round_id: str, partner: str, version: int | None = None
    ) -> tuple[OfferDocument, OfferVersion, ValidationReport | None]:
        """One version of an offer (the latest by default) read back from the store, with its findings."""
        card, _ = await self.offer_card(round_id, partner)
        if not card.versions:
            raise Refused(
                f"the offer of {card.partner_name} in round {round_id} has no version yet", Refusal.NO_VERSION
            )
        number = version if version is not None else card.versions[-1].number
        found = next((v for v in card.versions if v.number == number), None)
        if found is None:
            raise Refused(
                f"the offer of {card.partner_name} in round {round_id} has versions 1 to {len(card.versions)}; "
                f"there is no version {number}",
                Refusal.NO_VERSION,
            )
        try:
            data = await asyncio.to_thread(self.store.get, Kind.OFFER, found.digest)
        except (NotInStoreError, DamagedObjectError) as e:
            raise Refused(f"version {number} was received, but {e}", Refusal.DOCUMENT_MISSING) from None
        report = None
        if found.report is not None and found.report.digest is not None:
            with contextlib.suppress(NotInStoreError, DamagedObjectError):
                report = ValidationReport.model_validate_json(
                    await asyncio.to_thread(self.store.get, Kind.REPORT, found.report.digest)
                )
        elif found.report is not None and found.report.failure is not None:
            report = failed_report(found.report.failure)
        return OfferDocument.model_validate_json(data), found, report

    @guarded
    async def round_cards(self, round_id: str) -> list[tuple[OfferListing, OfferCard | None]]:
        """Every offer of a round with its card, from visibility alone (one list call, no worker, no queries)."""
        clauses = [f"{OFFER_ROUND.name} = {quote(round_id)}", "ExecutionStatus != 'ContinuedAsNew'"]
        found = [pair async for pair in listed(self.client, clauses)]
        return sorted(found, key=lambda x: x[0].partner)

    async def wait_for(self, round_id: str, partner: str, states: set[OfferState], timeout: timedelta) -> OfferCard:
        """Poll an offer until it reaches one of the states (for the demo and scripts)."""
        deadline = datetime.now(UTC) + timeout
        while True:
            card, _ = await self.offer_card(round_id, partner)
            if card.state in states:
                return card
            if datetime.now(UTC) >= deadline:
                raise Refused(
                    f"{partner} in round {round_id} is still {card.state.value} after {timeout}", Refusal.TIMEOUT
                )
            await asyncio.sleep(0.2)

    async def _why_not_found(self, round_id: str, partner: str) -> Refused:
        try:
            status = await self.round_status(round_id)
        except Refused as r:
            return r
        return Refused(
            f"partner {partner} is not invited to round {round_id} (invited: {', '.join(status.partners)})",
            Refusal.NOT_INVITED,
        )

    async def _why_closed(self, round_id: str, partner: str) -> Refused:
        try:
            card, _ = await self.offer_card(round_id, partner)
        except (RPCError, EngineUnavailable, Refused):
            return Refused(
                f"the offer of {partner} in round {round_id} is closed and takes no more changes", Refusal.OFFER_CLOSED
            )
        detail = f"; submissions closed at {card.deadline.isoformat()}" if card.state is OfferState.LAPSED else ""
        return Refused(
            f"the offer of {card.partner_name} in round {round_id} is {card.state.value} "
            f"and takes no more changes{detail}",
            Refusal.OFFER_CLOSED,
        )
