"""The people's records and the portal's rules, called directly: users, tokens, sessions, audit, the role table."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import text

from offerdesk.people import People, open_people
from offerdesk.people.audit import Entry
from offerdesk.people.principal import Principal
from offerdesk.people.users import AccountError
from offerdesk.portal.access import ALLOWED, Action, Forbidden, NotFound, require, view_for
from offerdesk.portal.errors import KIND_STATUS, status_of
from offerdesk.portal.forms import LINE, limit
from schemas.offer_state import OfferState, OfferStatus
from schemas.portal import ApproveBody, CommentBody, DecideBody, EmailBody, ExtendBody, RequestChangesBody, Role
from schemas.refusal import Refusal
from schemas.review import AuditEvent


@pytest.fixture
def people(database: str) -> People:
    """A new database of people's records: SQLite, or PostgreSQL with OFFERDESK_TEST_DATABASE=postgresql."""
    return open_people(database)


def kept(people: People, query: str) -> Any:
    """What the database holds, read past the records' interfaces."""
    with people.database.begin() as db:
        return db.execute(text(query)).scalar_one()


def test_passwords_are_kept_as_argon2_hashes_only(people: People) -> None:
    people.users.add("kenji", Role.NEGOTIATOR, "s3cret-enough", "JP")
    stored = kept(people, "SELECT password_hash FROM users")
    assert stored.startswith("$argon2id$") and "s3cret-enough" not in stored
    assert people.users.check_password("kenji", "s3cret-enough") is not None
    assert people.users.check_password("KENJI", "s3cret-enough") is not None  # names are not case-sensitive
    assert people.users.check_password("kenji", "wrong password") is None
    assert people.users.check_password("nobody", "s3cret-enough") is None


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
    people: People, name: str, role: Role, partner: str | None, password: str, says: str
) -> None:
    with pytest.raises(AccountError, match=says) as refused:
        people.users.add(name, role, password, partner)
    assert refused.value.kind is Refusal.INVALID
    assert people.users.all() == []


def test_a_name_is_taken_once(people: People) -> None:
    people.users.add("sam", Role.STAFF, "long enough")
    with pytest.raises(AccountError, match="exists already") as e:
        people.users.add("Sam", Role.REVIEWER, "long enough")
    assert e.value.kind is Refusal.EXISTS


def test_tokens_are_stored_hashed_and_can_be_revoked(people: People) -> None:
    people.users.add("bot", Role.NEGOTIATOR, "long enough", "VN")
    created = people.tokens.create("bot", "upload script", "sam")
    assert created.token.split("_", 2)[2] not in kept(people, "SELECT secret_sha256 FROM tokens")
    who = people.tokens.principal(created.token)
    assert who is not None and (who.name, who.role, who.partner, who.via) == ("bot", Role.NEGOTIATOR, "VN", "token")
    assert people.tokens.principal(created.token[:-1] + ("A" if created.token[-1] != "A" else "B")) is None
    assert people.tokens.principal("not a token") is None
    people.tokens.revoke(created.token_id)
    assert people.tokens.principal(created.token) is None
    with pytest.raises(AccountError, match="no live token") as again:
        people.tokens.revoke(created.token_id)
    assert again.value.kind is Refusal.MISSING
    with pytest.raises(AccountError, match="there is no user nobody; create it first") as nobody:
        people.tokens.create("nobody", "", "sam")
    assert nobody.value.kind is Refusal.MISSING


def test_sessions_end_on_sign_out_and_on_a_new_password(people: People) -> None:
    user = people.users.add("ada", Role.REVIEWER, "long enough")
    first, second = people.sessions.start(user), people.sessions.start(user)
    assert people.sessions.principal(first.cookie) == first.principal and first.csrf != second.csrf
    people.sessions.end(first.cookie)
    assert people.sessions.principal(first.cookie) is None and people.sessions.principal(second.cookie) is not None
    people.users.set_password("ada", "another long one")
    assert people.sessions.principal(second.cookie) is None


def test_flash_messages_are_shown_once(people: People) -> None:
    session = people.sessions.start(people.users.add("ada", Role.REVIEWER, "long enough"))
    people.sessions.flash(session.cookie, "approved")
    assert people.sessions.pop_flash(session.cookie) == "approved"
    assert people.sessions.pop_flash(session.cookie) is None


def test_audit_keeps_every_record_newest_first(people: People) -> None:
    people.audit.record(Entry("sam", "staff", "decide an escalation", "done", "r1", "JP", "approve at 15%"))
    people.audit.record(Entry("sam", "staff", "download letter", "done", "r2", "EU"))
    assert [r.action for r in people.audit.records()] == ["download letter", "decide an escalation"]
    assert [r.detail for r in people.audit.records(round_id="r1")] == ["approve at 15%"]


# ---- bounds of the pages' forms ------------------------------------------------------------------


def test_form_limits_come_from_the_models() -> None:
    assert limit(CommentBody, "text") == limit(RequestChangesBody, "note") == limit(ApproveBody, "reason") == 5000
    assert limit(DecideBody, "reason") == 5000 and limit(EmailBody, "email") == 320
    assert limit(ApproveBody, "rate_pct") == limit(ExtendBody, "extend_by") == LINE  # parsed: one line's text


# ---- refusals as HTTP statuses -----------------------------------------------------------------


def test_every_refusal_kind_has_a_status() -> None:
    missing = [kind for kind in Refusal if kind not in KIND_STATUS]
    assert not missing, f"no HTTP status for {missing}: add them to KIND_STATUS in offerdesk/portal/errors.py"
    assert all(400 <= status < 600 for status in KIND_STATUS.values())


def test_statuses_of_refusals_as_before_and_as_their_names_say() -> None:
    assert (status_of(Refusal.UNAUTHORIZED), status_of(Refusal.FORBIDDEN)) == (401, 403)
    assert {status_of(k) for k in ("NotFound", "Missing", "NoRound", "NotInvited", "NoVersion")} == {404}
    assert {status_of(k) for k in ("Invalid", "InvalidRequest", "InvalidDocument", "WrongOffer")} == {422}
    assert status_of(Refusal.TOO_LARGE) == 413 and status_of(Refusal.TIMEOUT) == 504
    assert status_of("AlreadyApproved") == status_of("Exists") == 409
    assert status_of("SomethingANewerWorkerSays") == 409  # a kind this version does not know is a plain refusal


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
