"""The portal's vocabulary: who is calling, what they may send, and what comes back besides the engine's models.

Request bodies carry no name of the person acting: the portal takes it from the signed-in user or the
API token, so nobody can approve or decide under another name. Their fields and bounds are the engine's own
(schemas/review.py), so the API and the engine refuse the same values.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StrictBool

from schemas.listing import OfferListing
from schemas.offer import PARTNER_PATTERN
from schemas.review import (
    ApproveFields,
    CommentFields,
    DecideFields,
    ExtendFields,
    RequestChangesFields,
    RetryLetterFields,
    VersionFields,
    WithdrawFields,
)
from schemas.round import MAX_PARTNERS, RoundStatus, RoundTerms

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


class WithdrawBody(WithdrawFields, _Body):
    pass


class ApproveBody(ApproveFields, VersionFields, _Body):
    pass


class RequestChangesBody(RequestChangesFields, VersionFields, _Body):
    pass


class CommentBody(CommentFields, _Body):
    pass


class ExtendBody(ExtendFields, _Body):
    pass


class DecideBody(DecideFields, VersionFields, _Body):
    pass


class RetryLetterBody(RetryLetterFields, _Body):
    pass


class OpenRoundBody(RoundTerms, _Body):
    partners: list[str] = Field(min_length=1, max_length=MAX_PARTNERS)
    """Partner codes from data/partners.csv, such as JP or EU."""


class RoundDashboard(BaseModel):
    round: RoundStatus
    offers: list[OfferListing]
    letters_ready: int
    as_of: AwareDatetime | None = None
    """When the listing behind it began: a dashboard may be served a few seconds old while a newer one is made."""


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
    email: str | None = None
    """Where notifications are mailed; None: the portal's notifications page only."""
    reminders: bool = True
    """Whether the user gets reminders; notices about their own offers come either way."""


class NewUser(_Body):
    name: str = Field(pattern=USER_NAME_PATTERN)
    role: Role
    partner: str | None = Field(default=None, pattern=PARTNER_PATTERN)
    password: str = Field(min_length=8, max_length=200)
    email: str | None = Field(default=None, max_length=320)
    """Where the user's notifications are mailed; without one they appear on the portal's notifications page only."""


class EmailBody(_Body):
    email: str | None = Field(max_length=320)
    """The user's new address; null (or "") clears it, and their notifications appear in the portal only."""


class RemindersBody(_Body):
    on: StrictBool  # true or false, as the schema says: not 0, 1 or "yes"
    """Reminders before deadlines on or off; notices about decisions on your own offers are sent either way."""


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
