"""What opening or using the people's records can end in, said in a sentence; importing this costs nothing (the
command line catches these without loading the database layer)."""

from __future__ import annotations

from schemas.refusal import Refusal


class AccountError(ValueError):
    """A user or token request that cannot be carried out, said in a sentence.

    kind: INVALID (fix the input), EXISTS (the name is taken) or MISSING (no such user or token).
    """

    def __init__(self, message: str, kind: Refusal = Refusal.INVALID) -> None:
        super().__init__(message)
        self.message = message
        self.kind = kind


class DatabaseUnavailable(Exception):
    """The database cannot be reached or did not answer: the caller may try again in a moment (HTTP 503, exit 3)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class SchemaMismatch(Exception):
    """The database's schema is not the one this code reads and writes; the message names what to run."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
