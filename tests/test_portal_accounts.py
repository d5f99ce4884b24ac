"""The portal's own records and rules, called directly: users, tokens, sessions, audit, the role table."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest

from offerdesk.portal.access import ALLOWED, Action, Forbidden, NotFound, require, view_for
from offerdesk.portal.accounts import AccountError, Accounts, Principal
from schemas.offer_state import OfferState, OfferStatus
from schemas.portal import Role
from schemas.review import AuditEvent


@pytest.fixture
def accounts(tmp_path: Path) -> Accounts:
    return Accounts(tmp_path / "portal.db")


def test_passwords_are_kept_as_argon2_hashes_only(accounts: Accounts) -> None:
    accounts.add_user("kenji", Role.NEGOTIATOR, "s3cret-enough", "JP")
    stored = sqlite3.connect(accounts.path).execute("SELECT password_hash FROM users").fetchone()[0]
    assert stored.startswith("$argon2id$") and "s3cret-enough" not in stored
    assert accounts.check_password("kenji", "s3cret-enough") is not None
    assert accounts.check_password("KENJI", "s3cret-enough") is not None  # names are not case-sensitive
    assert accounts.check_password("kenji", "wrong password") is None
    assert accounts.check_password("nobody", "s3cret-enough") is None


@pytest.mark.parametrize(
    ("name", "role", "partner", "password", "says"),
    [
        ("ana", Role.NEGOTIATOR, None, "long enough", "--partner"),
        ("ana", Role.REVIEWER, "JP", "long enough", "only negotiators"),
        ("ana", Role.NEGOTIATOR, "XX", "long enough", "data/partners.csv"),
        ("ana", Role.NEGOTIATOR, "jp", "long enough", "two capital letters"),
        ("a b", Role.STAFF, None, "long enough", "not a usable user name"),
        ("ana", Role.STAFF, None, "short", "8 characters"),
    ],
)
def test_unusable_users_are_refused_with_a_reason(
    accounts: Accounts, name: str, role: Role, partner: str | None, password: str, says: str
) -> None:
    with pytest.raises(AccountError, match=says):
        accounts.add_user(name, role, password, partner)
    assert accounts.users() == []


def test_a_name_is_taken_once(accounts: Accounts) -> None:
    accounts.add_user("sam", Role.STAFF, "long enough")
    with pytest.raises(AccountError, match="exists already") as e:
        accounts.add_user("Sam", Role.REVIEWER, "long enough")
    assert e.value.kind == "Exists"


def test_tokens_are_stored_hashed_and_can_be_revoked(accounts: Accounts) -> None:
    accounts.add_user("bot", Role.NEGOTIATOR, "long enough", "VN")
    created = accounts.create_token("bot", "upload script", "sam")
    kept = sqlite3.connect(accounts.path).execute("SELECT secret_sha256 FROM tokens").fetchone()[0]
    assert created.token.split("_", 2)[2] not in kept
    who = accounts.token(created.token)
    assert who is not None and (who.name, who.role, who.partner, who.via) == ("bot", Role.NEGOTIATOR, "VN", "token")
    assert accounts.token(created.token[:-1] + ("A" if created.token[-1] != "A" else "B")) is None
    assert accounts.token("not a token") is None
    accounts.revoke_token(created.token_id)
    assert accounts.token(created.token) is None
    with pytest.raises(AccountError, match="no live token"):
        accounts.revoke_token(created.token_id)


def test_sessions_end_on_sign_out_and_on_a_new_password(accounts: Accounts) -> None:
    user = accounts.add_user("ada", Role.REVIEWER, "long enough")
    first, second = accounts.start_session(user), accounts.start_session(user)
    assert accounts.session(first.cookie) == first.principal and first.csrf != second.csrf
    accounts.end_session(first.cookie)
    assert accounts.session(first.cookie) is None and accounts.session(second.cookie) is not None
    accounts.set_password("ada", "another long one")
    assert accounts.session(second.cookie) is None


def test_flash_messages_are_shown_once(accounts: Accounts) -> None:
    session = accounts.start_session(accounts.add_user("ada", Role.REVIEWER, "long enough"))
    accounts.flash(session.cookie, "approved")
    assert accounts.pop_flash(session.cookie) == "approved"
    assert accounts.pop_flash(session.cookie) is None


def test_audit_keeps_every_record_newest_first(accounts: Accounts) -> None:
    who = Principal("sam", Role.STAFF, None, "token")
    accounts.record(who, "decide an escalation", "done", "r1", "JP", "approve at 15%")
    accounts.record(who, "download letter", "done", "r2", "EU")
    assert [r.action for r in accounts.audit()] == ["download letter", "decide an escalation"]
    assert [r.detail for r in accounts.audit(round_id="r1")] == ["approve at 15%"]


NEGOTIATOR = Principal("kenji", Role.NEGOTIATOR, "JP", "session")
REVIEWER = Principal("ada", Role.REVIEWER, None, "session")


def test_the_role_table() -> None:
    assert Action.SUBMIT in ALLOWED[Role.NEGOTIATOR] and Action.APPROVE not in ALLOWED[Role.NEGOTIATOR]
    assert Action.APPROVE in ALLOWED[Role.REVIEWER] and Action.SUBMIT not in ALLOWED[Role.REVIEWER]
    assert Action.READ_LETTER not in ALLOWED[Role.REVIEWER]
    assert ALLOWED[Role.STAFF] == frozenset(Action)
    require(NEGOTIATOR, Action.SUBMIT, "r", "JP")
    with pytest.raises(NotFound):
        require(NEGOTIATOR, Action.READ_OFFER, "r", "EU")  # another partner: not even forbidden, just not there
    with pytest.raises(NotFound):
        require(NEGOTIATOR, Action.APPROVE, "r", "EU")
    with pytest.raises(Forbidden, match="negotiator may not approve"):
        require(NEGOTIATOR, Action.APPROVE, "r", "JP")
    with pytest.raises(Forbidden):
        require(REVIEWER, Action.SUBMIT, "r", "JP")


def test_negotiators_see_no_internal_comments_or_workings() -> None:
    now = datetime.now(UTC)
    events = [
        AuditEvent(at=now, actor="kenji", action="submitted", detail="version 1"),
        AuditEvent(at=now, actor="ada", action="commented", detail="internal: weak on dairy"),
        AuditEvent(at=now, actor="ada", action="approved", detail="rate 15%: fine"),
        AuditEvent(at=now, actor="ada", action="requested changes", detail="add a staging plan"),
    ]
    status = OfferStatus(
        round_id="r",
        partner="JP",
        partner_name="Japan",
        state=OfferState.DEFICIENT,
        deadline=now,
        amend_until=now,
        review_deadline=None,
        approvals_required=2,
        versions=[],
        report=None,
        landing_zone=None,
        approvals=[],
        changes_requested=["add a staging plan"],
        terms=None,
        letter=None,
        events=events,
    )
    seen = view_for(NEGOTIATOR, status)
    assert [e.action for e in seen.events] == ["submitted", "requested changes"]
    assert seen.changes_requested == ["add a staging plan"]
    assert view_for(REVIEWER, status) == status
