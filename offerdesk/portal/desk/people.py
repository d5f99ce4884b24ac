"""The people's side of the desk: signing in and out, who a cookie or token is, users and tokens (staff), each
person's notices and reminders, and the audit log."""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass

from activities.notify import PORTAL_ONLY
from offerdesk.people.audit import Entry
from offerdesk.people.principal import Principal
from offerdesk.people.sessions import NewSession
from offerdesk.people.throttle import Throttled
from offerdesk.people.tokens import token_id_of
from offerdesk.portal.access import Action
from offerdesk.portal.desk.base import DeskBase, in_thread
from offerdesk.portal.metrics import signin_outcome
from schemas.notice import InboxEntry
from schemas.portal import USER_NAME_PATTERN, AuditRecord, NewUser, TokenCreated, TokenInfo, UserInfo

UNKNOWN = "(unknown)"
"""The actor of a record whose caller is no user: a name that cannot be one, or a token that is not known."""


@dataclass(frozen=True)
class Unmailed:
    """A notice mail did not deliver, as staff see it: whose, the address it was for, and the entry (what, why,
    when)."""

    user: str
    email: str | None
    entry: InboxEntry


def email_detail(user: UserInfo) -> str:
    """The audit's detail of an address change: whose, and the address or that it was cleared."""
    return f"{user.name}: {user.email}" if user.email else f"{user.name}: cleared"


class PeopleDesk(DeskBase):
    # ---- signing in --------------------------------------------------------------------------

    async def sign_in(self, name: str, password: str, address: str) -> NewSession | Throttled | None:
        """A session for the right password; why to wait when failures throttle the name or the address (the
        right password waits too); None for a wrong name or password. Every attempt is recorded.

        The attempt is counted before the password is checked, so attempts sent at once to several portals get no
        more tries between them than one at a time; a right password takes it back."""
        people, name, where = self.people, name.strip(), f"from {address}"
        actor = name if re.match(USER_NAME_PATTERN, name) else UNKNOWN  # never a password typed in the wrong box
        throttled = await asyncio.to_thread(people.throttle.attempt, actor, address)
        if throttled is not None:
            signin_outcome("throttled")
            await self._record(Entry(actor, "-", "sign in", "refused: throttled", detail=where))
            return throttled
        user = await asyncio.to_thread(people.users.check_password, name, password)
        if user is None:
            signin_outcome("bad_password")
            await self._record(Entry(actor, "-", "sign in", "refused: bad password", detail=where))
            return None
        signin_outcome("done")
        await asyncio.to_thread(people.throttle.succeeded, actor, address)
        session = await asyncio.to_thread(people.sessions.start, user)
        await self._record(Entry(user.name, user.role.value, "sign in", "done", detail=where))
        return session

    async def sign_out(self, who: Principal, cookie: str, address: str) -> None:
        await asyncio.to_thread(self.people.sessions.end, cookie)
        await self._record(Entry(who.name, who.role.value, "sign out", "done", detail=address))

    async def by_session(self, cookie: str) -> Principal | None:
        return await asyncio.to_thread(self.people.sessions.principal, cookie)

    async def by_token(self, presented: str, request: str) -> Principal | None:
        """Who an API token acts as; a refused one is recorded by its id when it has one, never by the secret."""
        found = await asyncio.to_thread(self.people.tokens.principal, presented)
        if found is None:
            token_id = token_id_of(presented)
            actor = f"token {token_id}" if token_id else UNKNOWN
            outcome = "refused: unknown or revoked token"
            await self._record(Entry(actor, "-", "use API token", outcome, detail=request[:500]))
        return found

    async def flash(self, cookie: str, message: str) -> None:
        await asyncio.to_thread(self.people.sessions.flash, cookie, message)

    async def pop_flash(self, cookie: str) -> str | None:
        return await asyncio.to_thread(self.people.sessions.pop_flash, cookie)

    # ---- users and tokens (staff) ------------------------------------------------------------

    async def users(self, who: Principal) -> list[UserInfo]:
        return await self._audited(who, Action.MANAGE_ACCESS, in_thread(self.people.users.all), quiet=True)

    async def tokens(self, who: Principal) -> list[TokenInfo]:
        return await self._audited(who, Action.MANAGE_ACCESS, in_thread(self.people.tokens.all), quiet=True)

    async def add_user(self, who: Principal, body: NewUser) -> UserInfo:
        add = self.people.users.add
        work = in_thread(add, body.name, body.role, body.password, body.partner, body.email)
        detail = f"{body.name} ({body.role.value})"
        return await self._audited(
            who, Action.MANAGE_ACCESS, work, partner=body.partner, detail=detail, what="add user"
        )

    async def set_email(self, who: Principal, name: str, email: str | None) -> UserInfo:
        """Where a user's notifications are mailed; None (or empty) clears it (their notices stay on the portal)."""
        work = in_thread(self.people.users.set_email, name, email)
        return await self._audited(who, Action.MANAGE_ACCESS, work, detail=email_detail, what="set e-mail")

    async def create_token(self, who: Principal, user: str, label: str) -> TokenCreated:
        """A new API token acting as `user`; the token is in this answer only."""
        work = in_thread(self.people.tokens.create, user, label, who.name)

        def detail(created: TokenCreated) -> str:
            return f"{created.token_id} for {user}"

        return await self._audited(who, Action.MANAGE_ACCESS, work, detail=detail, what="create API token")

    async def revoke_token(self, who: Principal, token_id: str) -> None:
        work = in_thread(self.people.tokens.revoke, token_id)
        return await self._audited(who, Action.MANAGE_ACCESS, work, detail=token_id, what="revoke API token")

    # ---- your own notices --------------------------------------------------------------------

    async def me(self, who: Principal) -> UserInfo | None:
        """The caller's own record (their address and reminders); None if they were removed a moment ago."""
        return await self._audited(who, Action.NOTIFICATIONS, in_thread(self.people.users.get, who.name), quiet=True)

    async def notifications(self, who: Principal, limit: int = 200) -> list[InboxEntry]:
        """The caller's own notices, newest first: never anyone else's."""
        work = in_thread(self.people.notices.inbox, who.name, limit)
        return await self._audited(who, Action.NOTIFICATIONS, work, quiet=True)

    async def unmailed(self, who: Principal, limit: int = 100) -> list[Unmailed]:
        """Everyone's notices that mail did not deliver (staff), newest first, with the reason. Those on the portal
        only by choice or configuration (no address, reminders off, no mail server) are not failures: left out."""

        def gather() -> list[Unmailed]:
            notices = self.people.notices
            found = [
                Unmailed(user.name, user.email, entry)
                for user in self.people.users.all()
                for entry in notices.inbox(user.name)
                if entry.mailed_at is None and entry.mail_error and entry.mail_error not in PORTAL_ONLY
            ]
            return sorted(found, key=lambda u: u.entry.created_at, reverse=True)[:limit]

        return await self._audited(who, Action.MANAGE_ACCESS, in_thread(gather), quiet=True)

    async def set_reminders(self, who: Principal, on: bool) -> UserInfo:
        """The caller's own reminders, on or off; notices about decisions on their own offers come either way."""
        work = in_thread(self.people.users.set_reminders, who.name, on)
        return await self._audited(who, Action.NOTIFICATIONS, work, detail="on" if on else "off", what="set reminders")

    # ---- the audit log -----------------------------------------------------------------------

    async def audit(self, who: Principal, round_id: str | None = None, limit: int = 500) -> list[AuditRecord]:
        work = in_thread(self.people.audit.records, limit, round_id)
        return await self._audited(who, Action.AUDIT, work, round_id=round_id, quiet=True)
