"""The portal's vocabulary: who is calling, what they may send, and what comes back besides the engine's models.

Request bodies carry no name of the person acting: the portal takes it from the signed-in user or the
API token, so nobody can approve or decide under another name.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from schemas.listing import OfferListing
from schemas.offer import PARTNER_PATTERN, ROUND_ID_PATTERN
from schemas.round import RoundStatus

USER_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$"


class Role(StrEnum):
    NEGOTIATOR = "negotiator"
    REVIEWER = "reviewer"
    STAFF = "staff"


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Me(BaseModel):
    name: str
    role: Role
    partner: str | None
    """The partner a negotiator speaks for; None for reviewers and staff."""
    via: Literal["session", "token"]


class WithdrawBody(_Body):
    reason: str = Field(default="", max_length=5000)


class ApproveBody(_Body):
    rate_pct: float | None = Field(default=None, ge=0, le=1000)
    """An adjusted reciprocal rate within the landing zone's bounds; needs a reason."""
    reason: str | None = Field(default=None, max_length=5000)


class RequestChangesBody(_Body):
    note: str = Field(min_length=1, max_length=5000)
    """Addressed to the negotiator: what to change."""


class CommentBody(_Body):
    text: str = Field(min_length=1, max_length=5000)
    """Internal to reviewers and staff; negotiators never see comments."""


class ExtendBody(_Body):
    extend_by: timedelta = Field(gt=timedelta(0), le=timedelta(days=90))
    """ISO 8601 duration (P2D, PT12H) or seconds."""
    reason: str = Field(default="", max_length=5000)


class DecideBody(_Body):
    decision: Literal["approve", "request_changes"]
    rate_pct: float | None = Field(default=None, ge=0, le=1000)
    reason: str = Field(min_length=1, max_length=5000)


class OpenRoundBody(_Body):
    round_id: str = Field(pattern=ROUND_ID_PATTERN)
    partners: list[str] = Field(min_length=1, max_length=250)
    """Partner codes from data/partners.csv, such as JP or EU."""
    deadline: AwareDatetime
    review_window: timedelta = Field(default=timedelta(days=3), gt=timedelta(0), le=timedelta(days=90))
    approvals_required: int = Field(default=2, ge=1, le=10)


class RoundDashboard(BaseModel):
    round: RoundStatus
    offers: list[OfferListing]
    letters_ready: int


class TokenRequest(_Body):
    user: str = Field(pattern=USER_NAME_PATTERN)
    """The user the token acts as: a program acts with that user's role and partner."""
    label: str = Field(default="", max_length=200)


class TokenInfo(BaseModel):
    token_id: str
    user: str
    label: str
    created_at: datetime
    created_by: str
    revoked: bool


class TokenCreated(TokenInfo):
    token: str
    """Shown once; only a hash is kept. Send it as 'Authorization: Bearer <token>'."""


class UserInfo(BaseModel):
    name: str
    role: Role
    partner: str | None
    created_at: datetime


class NewUser(_Body):
    name: str = Field(pattern=USER_NAME_PATTERN)
    role: Role
    partner: str | None = Field(default=None, pattern=PARTNER_PATTERN)
    password: str = Field(min_length=8, max_length=200)


class AuditRecord(BaseModel):
    """One line of the portal's audit log: who did what, to which offer, when, and how it ended."""

    seq: int
    at: datetime
    actor: str
    role: str
    action: str
    round_id: str | None
    partner: str | None
    outcome: str
    detail: str


class FieldError(BaseModel):
    path: str
    message: str


class ErrorBody(BaseModel):
    """Every refusal: a word for programs, a sentence for people, and the fields at fault if any."""

    error: str
    message: str
    fields: list[FieldError] = []
