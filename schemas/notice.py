"""Notices: what an offer tells people when something waits on them, and what each person got.

An offer workflow emits a `Notice` per event (its key names the event once and for all); an activity resolves
who hears it, files one entry per person (their portal inbox) and mails those with an address.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum

from pydantic import BaseModel, Field

from schemas.validation import Category, CategoryStatus, Finding

NOTICE_FIRST_RETRY = timedelta(seconds=1)
NOTICE_LONGEST_WAIT = timedelta(minutes=5)
NOTICE_PATIENCE = timedelta(days=3)
"""How a notice is retried until the mail server takes it: 1 s, doubling to at most 5 min, for 3 days. The legacy
notify activity's retry policy (workflows/offer_notices.py) and the postman (activities/postman.py) both."""


class Audience(StrEnum):
    NEGOTIATORS = "negotiators"
    """The negotiators of the offer's partner."""
    REVIEWERS = "reviewers"
    STAFF = "staff"


class NoticeKind(StrEnum):
    DEFICIENT = "deficient"
    SENT_BACK = "sent_back"
    LAPSED = "lapsed"
    LETTER_READY = "letter_ready"
    IN_REVIEW = "in_review"
    AMENDED = "amended"
    """Back in review after an amendment."""
    ESCALATED = "escalated"
    LETTER_FAILED = "letter_failed"
    REMIND_SUBMIT = "remind_submit"
    """Not yet submitted, or still deficient, and the time to submit or amend ends soon."""
    REMIND_REVIEW = "remind_review"
    """Not yet decided, and the review window closes soon."""
    AWAITS_ANSWER = "awaits_answer"
    """A letter awaits the partner's answer (accept it, or send a counter-offer) within the response window."""
    REMIND_ANSWER = "remind_answer"
    """A letter is not yet answered, and its response window closes soon."""
    COUNTERED = "countered"
    """The partner answered a letter with a new version (a counter-offer), which is now under review."""
    ACCEPTED = "accepted"
    """The partner (or staff on its behalf) accepted a letter: its terms are the deal."""
    UNANSWERED = "unanswered"
    """A letter's response window closed without an answer: staff reopen the offer or close it."""
    REOPENED = "reopened"
    """Staff reopened an unanswered offer: its letter awaits an answer again, within a new window."""

    @property
    def audience(self) -> Audience:
        return _AUDIENCE[self]

    @property
    def reminder(self) -> bool:
        """Reminders may be turned off by their recipients; decisions on their own offers may not."""
        return self in (NoticeKind.REMIND_SUBMIT, NoticeKind.REMIND_REVIEW, NoticeKind.REMIND_ANSWER)


_AUDIENCE = {
    NoticeKind.DEFICIENT: Audience.NEGOTIATORS,
    NoticeKind.SENT_BACK: Audience.NEGOTIATORS,
    NoticeKind.LAPSED: Audience.NEGOTIATORS,
    NoticeKind.LETTER_READY: Audience.NEGOTIATORS,
    NoticeKind.REMIND_SUBMIT: Audience.NEGOTIATORS,
    NoticeKind.IN_REVIEW: Audience.REVIEWERS,
    NoticeKind.AMENDED: Audience.REVIEWERS,
    NoticeKind.REMIND_REVIEW: Audience.REVIEWERS,
    NoticeKind.ESCALATED: Audience.STAFF,
    NoticeKind.LETTER_FAILED: Audience.STAFF,
    NoticeKind.AWAITS_ANSWER: Audience.NEGOTIATORS,
    NoticeKind.REMIND_ANSWER: Audience.NEGOTIATORS,
    NoticeKind.REOPENED: Audience.NEGOTIATORS,
    NoticeKind.COUNTERED: Audience.REVIEWERS,
    NoticeKind.ACCEPTED: Audience.STAFF,
    NoticeKind.UNANSWERED: Audience.STAFF,
}

MAX_NOTICE_FINDINGS = 20
"""A deficient notice lists this many findings; the rest are on the offer's page."""


class Notice(BaseModel):
    """One event of one offer, to be told to its audience: small, and free of the offer's content.

    `key` is the same for every attempt to tell it, so a retried or repeated send is recognised.
    """

    key: str = Field(min_length=1, max_length=300)
    kind: NoticeKind
    round_id: str
    partner: str
    partner_name: str
    version: int = 0
    letter: int = 0
    """The letter the notice is about (awaiting an answer, accepted, unanswered): its number, from 1."""
    at: datetime
    due: datetime | None = None
    """The deadline this notice is about: amend until, review window, submissions close, the answer due."""
    note: str = ""
    """The reviewer's note, the letter's failure, why it escalated."""
    categories: dict[Category, CategoryStatus] = {}
    error_count: int = 0
    findings: list[Finding] = []
    exclude: list[str] = []
    """Accounts not to tell: whoever submitted the offer (they may not review it), reviewers who have decided."""


class Recipient(BaseModel):
    name: str
    email: str | None
    reminders: bool = True


class NoticeResult(BaseModel):
    """What one notice came to: how many people it was filed for, mailed to now, mailed to before."""

    filed: int = 0
    mailed: int = 0
    already_mailed: int = 0
    not_mailed: int = 0
    """People without an address, who turned reminders off, or with SMTP not configured: the portal only."""
    refused: list[str] = []
    """Addresses the mail server refused for good (5xx), with its answer."""


class InboxEntry(BaseModel):
    """A notice as one person sees it on the portal's notifications page."""

    key: str
    kind: NoticeKind
    round_id: str
    partner: str
    subject: str
    text: str
    link: str
    created_at: datetime
    mailed_at: datetime | None = None
    mail_error: str | None = None
