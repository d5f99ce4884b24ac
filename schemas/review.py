"""Inputs of the review and staff updates, and the audit trail they leave.

Each request's bounds live here once: the portal's bodies derive from the same field sets, so the engine,
the CLI and the API refuse the same values with the same words.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

Name = Field(min_length=1, max_length=200)
MAX_RATE_PCT = 100.0


def _not_blank(text: str) -> str:
    if not text.strip():
        raise ValueError("give a reason: it is recorded, and printed in the letter for an approval")
    return text


Rate = Annotated[float, Field(ge=0, le=MAX_RATE_PCT, allow_inf_nan=False)]
"""A reciprocal tariff rate in percent: finite, 0 to 100."""
Text = Annotated[str, Field(max_length=5000)]
Reason = Annotated[str, Field(min_length=1, max_length=5000), AfterValidator(_not_blank)]
Version = Annotated[int, Field(ge=1, le=1_000_000)]
"""An offer's version number, as the offer's page, the API and the CLI show it: 1 for the first submission."""


class Request(BaseModel):
    """What every update carries besides its own fields.

    `expires_at` is when the caller stops waiting for an answer. A request that reaches the offer later (no
    worker was running, and one came back) is refused as stale rather than applied while nobody is told.
    """

    model_config = ConfigDict(allow_inf_nan=False)

    expires_at: datetime | None = None


# ---- field sets shared with the portal's request bodies ------------------------------------------


class VersionFields(BaseModel):
    """What every decision body of the portal carries: the version the decision was made on (required)."""

    version: Version
    """The version the page showed or the API read. A decision on a version that is no longer the latest is
    refused (409, StaleVersion): read the new one and decide again."""


class ApproveFields(BaseModel):
    model_config = ConfigDict(allow_inf_nan=False)

    rate_pct: Rate | None = None
    """An adjusted reciprocal rate within [baseline, announced rate]; needs a reason."""
    reason: Text | None = None


class RequestChangesFields(BaseModel):
    note: str = Field(min_length=1, max_length=5000)
    """Addressed to the negotiator: what to change."""


class CommentFields(BaseModel):
    text: str = Field(min_length=1, max_length=5000)
    """Internal to reviewers and staff; negotiators never see comments."""


class ExtendFields(BaseModel):
    extend_by: timedelta = Field(gt=timedelta(0), le=timedelta(days=90))
    """ISO 8601 duration (P2D, PT12H) or seconds."""
    reason: Text = ""


class DecideFields(BaseModel):
    model_config = ConfigDict(allow_inf_nan=False)

    decision: Literal["approve", "request_changes"]
    rate_pct: Rate | None = None
    """Staff may set a rate outside the reviewers' bounds, within 0-100%; a reason is always required."""
    reason: Reason


class WithdrawFields(BaseModel):
    reason: Text = ""


class RetryLetterFields(BaseModel):
    reason: Text = ""


# ---- the engine's requests: the fields, who acts, and when the caller stops waiting ---------------


class Decision(Request):
    """A decision on an offer (approve, request changes, a staff decision): made on one version of it.

    `version` is the version its maker read. The offer refuses the decision once a later version has arrived
    (StaleVersion), in the update's validator and again in its handler, so an amendment and a decision racing
    each other are settled by the offer alone. Today's callers always name it (the portal's bodies require it,
    the CLI reads it or takes --version). None is only for decisions recorded in histories from before
    decisions named their version, and from older clients: they were made on whatever version was the latest
    when they arrived, and replay so.
    """

    version: Version | None = None


class Approve(ApproveFields, Decision):
    reviewer: str = Name


class RequestChanges(RequestChangesFields, Decision):
    reviewer: str = Name


class Comment(CommentFields, Request):
    reviewer: str = Name


class ExtendReview(ExtendFields, Request):
    by: str = Name


class StaffDecision(DecideFields, Decision):
    by: str = Name


class Withdraw(WithdrawFields, Request):
    by: str = Name


class RetryLetter(RetryLetterFields, Request):
    by: str = Name


class AuditEvent(BaseModel):
    """Who did what and when, as the workflow saw it."""

    at: datetime
    actor: str
    action: str
    detail: str = ""
    rate_pct: float | None = None


class AuditPage(BaseModel):
    """An offer's audit trail: chunks already in the store (oldest first), then what the current run holds."""

    chunks: list[str]
    events: list[AuditEvent]


class AuditChunk(BaseModel):
    """Input of the activity that writes part of an audit trail to the store when an offer continues as new."""

    round_id: str
    partner: str
    events: list[AuditEvent]
