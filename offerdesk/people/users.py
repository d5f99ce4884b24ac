"""The portal's users: name, role, partner, password (argon2), where their notices are mailed, and reminders.

A new password or a removal ends the user's sessions and stops their API tokens in the same transaction.
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Mapping
from typing import Any, Protocol

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import RowMapping, delete, exc, select, update

from offerdesk.people.db import Database, now
from offerdesk.people.errors import AccountError
from offerdesk.people.schema import sessions, tokens, users
from offers.reference import load_partners
from schemas.offer import PARTNER_PATTERN
from schemas.portal import USER_NAME_PATTERN, Role, UserInfo
from schemas.refusal import Refusal

__all__ = ["AccountError", "DatabaseUsers", "Users", "check_email", "no_user"]

MIN_PASSWORD = 8
_hasher = PasswordHasher()


def no_user(name: str, hint: str = "") -> AccountError:
    return AccountError(f"there is no user {name}{hint}", Refusal.MISSING)


SMTP_UTF8 = "OFFERDESK_SMTP_UTF8"
"""Set to 1 where addresses are set to say the mail server offers SMTPUTF8 (it takes international addresses)."""


def international_addresses_allowed(env: Mapping[str, str] | None = None) -> bool:
    """Whether an address with characters beyond ASCII before the @ may be set: when OFFERDESK_SMTP_UTF8=1 says the
    mail server takes them, or no mail server is configured (OFFERDESK_SMTP_URL unset: nothing is mailed)."""
    e = os.environ if env is None else env
    said = e.get(SMTP_UTF8, "").strip().lower() in ("1", "true", "yes", "on")
    return said or not e.get("OFFERDESK_SMTP_URL")


def check_email(address: str, international: bool | None = None) -> str:
    """An address mail can go to, normalised (email-validator, without a DNS lookup); an AccountError otherwise.

    A domain in another script is kept as written (it goes as punycode); a local part beyond ASCII (grâce@...) is
    refused unless `international` (by default: `international_addresses_allowed()`), since a mail server without
    SMTPUTF8 cannot take it and every notice would fail.
    """
    from email_validator import EmailNotValidError, validate_email  # 40 ms of import that few commands need

    address = address.strip()
    try:
        valid = validate_email(address, check_deliverability=False)
    except EmailNotValidError as e:
        raise AccountError(f"'{address}' is not a usable e-mail address: {e}") from None
    allowed = international_addresses_allowed() if international is None else international
    if valid.ascii_email is None and not allowed:
        raise AccountError(
            f"'{address}' has letters beyond ASCII before the @, and the mail server is not known to take such "
            f"addresses: give one with plain ASCII before the @ (the domain may stay), or set {SMTP_UTF8}=1 if the "
            "server offers SMTPUTF8"
        )
    return str(valid.normalized)


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"the password needs at least {MIN_PASSWORD} characters")


@functools.cache
def _dummy_hash() -> str:
    """Verified against when the user does not exist, so a wrong name takes as long as a wrong password.

    Made on first use, not at import: a hash costs a quarter of a second, which every CLI command would pay.
    """
    return _hasher.hash("offerdesk-no-such-user")


class Users(Protocol):
    def add(
        self, name: str, role: Role, password: str, partner: str | None = None, email: str | None = None
    ) -> UserInfo: ...

    def get(self, name: str) -> UserInfo | None: ...

    def all(self) -> list[UserInfo]:
        """By role, then name."""
        ...

    def check_password(self, name: str, password: str) -> UserInfo | None:
        """The user if the password is theirs; None otherwise, taking as long either way."""
        ...

    def set_email(self, name: str, email: str | None) -> UserInfo:
        """Where the user's notifications are mailed; None (or empty) stops the mail, the portal inbox stays."""
        ...

    def set_reminders(self, name: str, on: bool) -> UserInfo:
        """Reminders on or off; notices of decisions on the user's own offers are sent either way."""
        ...

    def set_password(self, name: str, password: str) -> int:
        """Set a new password: the user's sessions end and their API tokens are revoked; how many tokens were."""
        ...

    def remove(self, name: str) -> int:
        """Remove the user with their sessions and API tokens; how many live tokens went with them."""
        ...


class DatabaseUsers:
    def __init__(self, db: Database) -> None:
        self._db = db

    def add(
        self, name: str, role: Role, password: str, partner: str | None = None, email: str | None = None
    ) -> UserInfo:
        if not re.match(USER_NAME_PATTERN, name):
            raise AccountError(f"'{name}' is not a usable user name: letters, digits and . _ @ - only, up to 64")
        if role is Role.NEGOTIATOR and not partner:
            raise AccountError("a negotiator speaks for one partner: give --partner, such as JP")
        if role is not Role.NEGOTIATOR and partner:
            raise AccountError(f"only negotiators are bound to a partner; a {role.value} sees every partner")
        if partner and not re.match(PARTNER_PATTERN, partner):
            raise AccountError(f"'{partner}' is not a partner code: two capital letters, such as JP")
        if partner and partner not in load_partners():
            raise AccountError(f"'{partner}' is not a partner Offerdesk knows; the codes are in data/partners.csv")
        _check_password(password)
        email = check_email(email) if email else None
        created = now()
        row = {
            "name": name,
            "role": role.value,
            "partner": partner,
            "password_hash": _hasher.hash(password),
            "created_at": created,
            "email": email,
            "reminders": True,
        }
        try:
            with self._db.begin() as db:
                db.execute(users.insert().values(row))
        except exc.IntegrityError:  # the name is the key, compared without regard to case
            raise AccountError(f"user {name} exists already; choose another name", Refusal.EXISTS) from None
        return UserInfo(name=name, role=role, partner=partner, created_at=created, email=email)

    def get(self, name: str) -> UserInfo | None:
        with self._db.begin() as db:
            row = db.execute(select(users).where(users.c.name == name)).mappings().first()
        return _user(row) if row else None

    def all(self) -> list[UserInfo]:
        with self._db.begin() as db:
            rows = db.execute(select(users).order_by(users.c.role, users.c.name)).mappings().all()
        return [_user(r) for r in rows]

    def check_password(self, name: str, password: str) -> UserInfo | None:
        with self._db.begin() as db:
            row = db.execute(select(users).where(users.c.name == name)).mappings().first()
        try:
            _hasher.verify(row["password_hash"] if row else _dummy_hash(), password)
        except (VerificationError, InvalidHashError):
            return None
        if row is None:
            return None
        if _hasher.check_needs_rehash(row["password_hash"]):
            with self._db.begin() as db:
                db.execute(
                    update(users).where(users.c.name == row["name"]).values(password_hash=_hasher.hash(password))
                )
        return _user(row)

    def set_email(self, name: str, email: str | None) -> UserInfo:
        address = check_email(email) if email and email.strip() else None
        return self._set(name, email=address)

    def set_reminders(self, name: str, on: bool) -> UserInfo:
        return self._set(name, reminders=on)

    def _set(self, name: str, **values: Any) -> UserInfo:
        with self._db.begin() as db:
            row = db.execute(update(users).where(users.c.name == name).values(values).returning(users)).mappings()
            found = row.first()
        if found is None:
            raise no_user(name)
        return _user(found)

    def set_password(self, name: str, password: str) -> int:
        _check_password(password)
        with self._db.begin() as db:
            changed = db.execute(
                update(users).where(users.c.name == name).values(password_hash=_hasher.hash(password))
            ).rowcount
            if not changed:
                raise no_user(name)
            db.execute(delete(sessions).where(sessions.c.user == name))
            revoked = db.execute(
                update(tokens).where(tokens.c.user == name, tokens.c.revoked_at.is_(None)).values(revoked_at=now())
            ).rowcount
        return int(revoked)

    def remove(self, name: str) -> int:
        with self._db.begin() as db:
            gone = db.execute(delete(tokens).where(tokens.c.user == name).returning(tokens.c.revoked_at)).all()
            db.execute(delete(sessions).where(sessions.c.user == name))
            if not db.execute(delete(users).where(users.c.name == name)).rowcount:
                raise no_user(name)
        return sum(1 for (revoked_at,) in gone if revoked_at is None)


def _user(row: RowMapping) -> UserInfo:
    return UserInfo(
        name=row["name"],
        role=Role(row["role"]),
        partner=row["partner"],
        created_at=row["created_at"],
        email=row["email"],
        reminders=bool(row["reminders"]),
    )
