"""The patch ids of the offer workflow, oldest first. workflows/PATCHES.md says when each came and when it goes.

Each id is recorded as a marker in every history that took the patched path; tests/histories/ keeps histories
from before and after each live patch, and tests/test_replay.py replays them all.
"""

from __future__ import annotations

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

LIVE = (QUICK_AS_LOCAL, COMPACT, NOTIFY_PEOPLE, NEGOTIATE)
"""Asked with `workflow.patched`: histories from before each still take the old path."""
DEPRECATED: tuple[str, ...] = ()
"""Asked with `workflow.deprecate_patch`: no history from before them can still be open."""
