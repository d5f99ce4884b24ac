"""Every kind of refusal, once: the word programs read in an API error body, an update failure's type and an exit.

The workflow raises them as `ApplicationError(type=kind)`, the engine and the portal's state as exceptions that
carry one; the portal maps each to an HTTP status (`offerdesk/portal/errors.py`) and the CLI to an exit code
(`offerdesk/cli/common.py`). Both tables are total: a test fails when a kind has no entry. The values are the
API's contract and never change once released.
"""

from __future__ import annotations

from enum import StrEnum


class Refusal(StrEnum):
    # ---- the request itself is wrong: fix the input ---------------------------------------------------
    INVALID = "Invalid"
    """A field is malformed (a user name, a password, an address)."""
    INVALID_REQUEST = "InvalidRequest"
    """The request's body or parameters fail their bounds."""
    INVALID_DOCUMENT = "InvalidDocument"
    """The offer file cannot be read as an offer."""
    TOO_LARGE = "TooLarge"
    BAD_DEADLINE = "BadDeadline"
    BAD_DURATION = "BadDuration"
    RATE_OUT_OF_BOUNDS = "RateOutOfBounds"
    REASON_REQUIRED = "ReasonRequired"
    UNKNOWN_PARTNER = "UnknownPartner"
    DUPLICATE_PARTNER = "DuplicatePartner"
    WRONG_OFFER = "WrongOffer"
    """The document names another round or partner than the one it is sent to."""
    NO_DOCUMENT = "NoDocument"
    NOTHING_TO_COMPARE = "NothingToCompare"

    # ---- who is asking ---------------------------------------------------------------------------------
    UNAUTHORIZED = "Unauthorized"
    FORBIDDEN = "Forbidden"
    CONFLICT = "Conflict"
    """A person would decide on an offer they submitted."""

    # ---- what is asked for is not there ----------------------------------------------------------------
    NOT_FOUND = "NotFound"
    NO_ROUND = "NoRound"
    NOT_INVITED = "NotInvited"
    NO_VERSION = "NoVersion"
    NO_SUCH_LETTER = "NoSuchLetter"
    """The offer has no letter of that number."""
    MISSING = "Missing"
    """No such user or token."""

    # ---- the offer's state does not allow it -----------------------------------------------------------
    EXISTS = "Exists"
    ROUND_EXISTS = "RoundExists"
    ALREADY_SUBMITTED = "AlreadySubmitted"
    ALREADY_APPROVED = "AlreadyApproved"
    NOTHING_TO_AMEND = "NothingToAmend"
    DEADLINE_PASSED = "DeadlinePassed"
    OFFER_CLOSED = "OfferClosed"
    WRONG_STATE = "WrongState"
    NO_LETTER_YET = "NoLetterYet"
    BUSY = "Busy"
    STALE = "Stale"
    """The request reached the offer after its caller stopped waiting for the answer."""
    STALE_VERSION = "StaleVersion"
    """A decision made on a version of the offer that is no longer the latest: read the new one, decide again."""
    STALE_LETTER = "StaleLetter"
    """An acceptance of a letter that is no longer the latest: a later letter answers a later version."""
    NO_ANSWER_AWAITED = "NoAnswerAwaited"
    """An acceptance while no letter awaits the partner's answer (under review again, accepted, unanswered)."""
    REFUSED = "Refused"
    """A refusal from an older worker whose kind this version does not know."""

    # ---- something behind the request is missing or slow: try again ------------------------------------
    TIMEOUT = "Timeout"
    DOCUMENT_MISSING = "DocumentMissing"
    LETTER_MISSING = "LetterMissing"
    UNREADABLE = "Unreadable"
    """Stored with a key this installation's keyring does not hold."""

    @classmethod
    def of(cls, word: str | None) -> Refusal:
        """The kind an update failure names; an unknown word (a newer or older worker's) is a plain refusal."""
        try:
            return cls(word or cls.REFUSED)
        except ValueError:
            return cls.REFUSED
