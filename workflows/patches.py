"""The patch ids of the offer workflow, oldest first. workflows/PATCHES.md says when each came and when it goes.

Each id is recorded as a marker in every history that took the patched path; tests/histories/ keeps histories
from before and after each live patch, and tests/test_replay.py replays them all.

Since issue 26 new offers run as a workflow type of their own, OFFER_TYPE: no run of it started before any of
these patches, so it takes every patched path without asking (`patched` below) and records no marker; only
offers of LEGACY_OFFER_TYPE, started before, ask Temporal. Every patch cost each new history a marker and a
search-attribute upsert; the type costs nothing, and the legacy type retires with all its patches at once.
"""

from __future__ import annotations

from temporalio import workflow

QUICK_AS_LOCAL = "quick-steps-as-local-activities"
"""c097f1f, 2026-11-22: validation and the landing zone of a document sent inline run as local activities.
Offers started before it ran them as ordinary activities, and replay so."""
COMPACT = "compact-offers-by-reference"
"""76f4f01, 2026-11-23: the card as memo, the audit trail in the store, continue-as-new before Temporal's limits.
Offers started before it publish no memo and never continue as new; they replay and finish so."""
NOTIFY_PEOPLE = "notify-people"
"""bde17b0, 2026-11-23: notices of every event and reminders before deadlines. Offers started before it tell
nobody and set no reminders; they replay so."""

NEGOTIATE = "negotiate-after-the-letter"
"""Issue 25: a letter awaits the partner's answer (accept, counter, or none within the response window) instead of
ending the offer. Offers whose letter was issued before it ended at LETTER_ISSUED; they replay and end so."""

LEAN_OFFERS = "lean-offers"
"""Issue 26, in the round workflow: a round starts its offers as OFFER_TYPE, with their first card as memo. Rounds
started before start LEGACY_OFFER_TYPE offers, and replay so."""
OFFERS_IN_BATCHES = "offers-in-batches"
"""Issue 26, in the round workflow, after LEAN_OFFERS: a lean round starts its offers 25 in a workflow task. Lean
rounds started before (tests/histories/5-lean-offers) start them one per task, and replay so."""

LIVE = (QUICK_AS_LOCAL, COMPACT, NOTIFY_PEOPLE, NEGOTIATE, LEAN_OFFERS, OFFERS_IN_BATCHES)
"""Asked with `workflow.patched`: histories from before each still take the old path."""
DEPRECATED: tuple[str, ...] = ()
"""Asked with `workflow.deprecate_patch`: no history from before them can still be open."""

LEGACY_OFFER_TYPE = "OfferWorkflow"
"""The offers started before issue 26: they ask each patch above, and keep a notice activity, a search-attribute
upsert per change of state and a timer per wait, as they did when they started."""
OFFER_TYPE = "OfferWorkflowV2"
"""The offers started since: every patch above taken, one search-attribute upsert and one memo per workflow task,
one timer per deadline, notices filed by a local activity."""


def legacy() -> bool:
    """Whether this run is an offer of the type from before issue 26."""
    return workflow.info().workflow_type == LEGACY_OFFER_TYPE


def patched(patch_id: str) -> bool:
    """`workflow.patched` for a legacy offer; an offer of OFFER_TYPE took every path patched before it was made."""
    return workflow.patched(patch_id) if legacy() else True
