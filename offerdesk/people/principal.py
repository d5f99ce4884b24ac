"""Who is calling, as the portal knows them: a user through a session or an API token."""

from __future__ import annotations

from dataclasses import dataclass

from schemas.portal import Role


@dataclass(frozen=True)
class Principal:
    name: str
    role: Role
    partner: str | None
    via: str  # "session" or "token"
    csrf: str = ""
    """The session's CSRF token (empty for API tokens, which are not sent by browsers)."""
