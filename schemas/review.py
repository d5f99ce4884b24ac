"""Inputs of the review and staff updates, and the audit trail they leave."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Literal

from pydantic import BaseModel, Field

Name = Field(min_length=1, max_length=200)


class Approve(BaseModel):
    reviewer: str = Name
    rate_pct: float | None = None
    """Adjusted reciprocal rate; must lie in [baseline, announced rate] and come with a reason."""
    reason: str | None = Field(default=None, max_length=5000)


class RequestChanges(BaseModel):
    reviewer: str = Name
    note: str = Field(min_length=1, max_length=5000)


class Comment(BaseModel):
    reviewer: str = Name
    text: str = Field(min_length=1, max_length=5000)


class ExtendReview(BaseModel):
    by: str = Name
    extend_by: timedelta
    reason: str = Field(default="", max_length=5000)


class StaffDecision(BaseModel):
    by: str = Name
    decision: Literal["approve", "request_changes"]
    rate_pct: float | None = None
    """Staff may set a rate outside the reviewers' bounds; a reason is always required."""
    reason: str = Field(min_length=1, max_length=5000)


class Withdraw(BaseModel):
    by: str = Name
    reason: str = Field(default="", max_length=5000)


class AuditEvent(BaseModel):
    """Who did what and when, as the workflow saw it."""

    at: datetime
    actor: str
    action: str
    detail: str = ""
    rate_pct: float | None = None
