"""The partner's answer to a letter, and staff's hand on a letter nobody answered: the requests and their bounds.

After a letter the offer awaits the partner's answer within a response window (`respond_within`, set per round).
The partner's negotiator accepts it (staff may, on the partner's behalf, with a reason), or sends a counter-offer:
a new version, sent as an amendment. A window that passes unanswered leaves the offer UNANSWERED, which staff
reopen with a new window and a reason, or close. Each bound lives here once: the round's terms, the engine's
requests and the portal's bodies share it, so the CLI, the API and the pages refuse the same values alike.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from schemas.review import Name, Reason, Request, Text

ResponseWindow = Annotated[timedelta, Field(gt=timedelta(0), le=timedelta(days=90))]
"""How long a partner has to answer a letter: more than nothing, at most 90 days (ISO 8601 duration or seconds)."""
RESPOND_WITHIN = timedelta(days=7)
"""The response window of a round that names none."""
LetterNumber = Annotated[int, Field(ge=1, le=1_000_000)]
"""A letter's number within its offer: 1 for the first letter, 2 for the answer to the first counter-offer, …"""


# ---- field sets shared with the portal's request bodies ------------------------------------------


class AcceptFields(BaseModel):
    letter: LetterNumber
    """The letter accepted, as the page or the API showed it: refused (409, StaleLetter) once a later one exists."""
    reason: Text = ""
    """Required when staff accept on the partner's behalf; recorded in the audit trail."""


class ReopenFields(BaseModel):
    respond_within: ResponseWindow
    """The new response window, from now."""
    reason: Reason


class CloseFields(BaseModel):
    reason: Text = ""


# ---- the engine's requests: the fields, who acts, and when the caller stops waiting ---------------


class Accept(Request):
    """The partner accepts a letter: its terms become the deal, and the offer is ACCEPTED."""

    by: str = Name
    letter: LetterNumber | None = None
    """The letter accepted; None: the latest (the command line reads it first and names it)."""
    on_behalf: bool = False
    """Staff accepting for the partner, who answered by other means; needs a reason."""
    reason: Text = ""


class Reopen(ReopenFields, Request):
    """Staff reopen an UNANSWERED offer: its latest letter awaits an answer again, within a new window."""

    by: str = Name


class CloseOffer(CloseFields, Request):
    """Staff close an UNANSWERED offer: it stays UNANSWERED, and its workflow ends."""

    by: str = Name


# ---- the portal's bodies: no name of who acts (the portal takes the signed-in account) -------------


class AcceptBody(AcceptFields):
    model_config = ConfigDict(extra="forbid")


class ReopenBody(ReopenFields):
    model_config = ConfigDict(extra="forbid")


class CloseBody(CloseFields):
    model_config = ConfigDict(extra="forbid")
