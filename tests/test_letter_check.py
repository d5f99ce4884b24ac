"""Signed letters end to end: the letter activity signs once (a retry reuses the letter it stored), an issued
letter checks valid, and `offerdesk letter verify`, the portal's Check a letter page and POST /api/letters/verify
say what a letter's signature says."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from temporalio.testing import ActivityEnvironment, WorkflowEnvironment

from activities.offer_activities import OfferActivities, make_render_pool
from activities.render import render_letter_pdf
from activities.signing.identity import installation_certificates, make_dev_identity
from activities.signing.records import find_signed, keep_signed
from activities.signing.verify import check_letter
from activities.store import FolderStore, Kind, ObjectStore
from activities.store.s3 import S3Store
from offerdesk.config import Settings
from offerdesk.engine import Engine
from offers.documents import load_offer
from schemas.portal import Role
from tests.commands import cli
from tests.letters import letter_input
from tests.portal import Portal, offer_in
from tests.s3server import S3Server, s3_server

EXAMPLE = Path(__file__).parent / "data" / "offer.example.json"
asyncio_session = pytest.mark.asyncio(loop_scope="session")


@pytest.fixture(scope="module")
def pool() -> Iterator[ProcessPoolExecutor]:
    pool = make_render_pool(1)
    yield pool
    pool.shutdown()


@pytest.fixture(scope="module")
def s3() -> Iterator[S3Server]:
    with s3_server() as server:
        yield server


@pytest.fixture(params=["folder", "s3"])
def any_store(request: pytest.FixtureRequest, tmp_path: Path) -> ObjectStore:
    if request.param == "folder":
        return FolderStore(tmp_path / "store")
    server: S3Server = request.getfixturevalue("s3")
    client = server.client()
    s3_store: ObjectStore = S3Store(server.new_bucket(client), "desk", client=client)
    return s3_store


# ---- one signed letter per unsigned body ------------------------------------------------------------


def test_the_first_record_kept_wins_a_race(any_store: ObjectStore) -> None:
    store = any_store
    body = hashlib.sha256(b"unsigned").hexdigest()
    assert store.get_record(Kind.SIGNED, body) is None and find_signed(store, body) is None
    at = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
    first = keep_signed(store, body, b"%PDF- signed once", "Signer", at)
    second = keep_signed(store, body, b"%PDF- signed twice", "Signer", at)
    assert second == first and find_signed(store, body) == first
    assert first.letter_id == hashlib.sha256(b"%PDF- signed once").hexdigest() and first.size == 17


@asyncio_session
async def test_a_retried_letter_activity_reuses_the_letter_it_signed(
    settings: Settings, pool: ProcessPoolExecutor, tmp_path: Path
) -> None:
    store = FolderStore(tmp_path / "store")
    acts = OfferActivities(store, pool, signing=settings.signing())
    letter = letter_input(load_offer(EXAMPLE), rate=15.0)
    env = ActivityEnvironment()
    first = await env.run(acts.render_and_store, letter)
    again = await env.run(acts.render_and_store, letter)  # a retry after the letter was stored
    assert again == first
    signed = store.get(Kind.LETTER, first.letter_id)
    assert first.letter_id == first.sha256 == hashlib.sha256(signed).hexdigest() and first.size == len(signed)
    unsigned, pages = render_letter_pdf(letter)
    assert first.body_sha256 == hashlib.sha256(unsigned).hexdigest() and signed.startswith(unsigned)
    assert first.pages == pages and first.signed_by and first.signed_at is not None
    assert len(list((tmp_path / "store" / Kind.LETTER.value).rglob("*.pdf"))) == 1  # one letter, signed once
    check = await asyncio.to_thread(check_letter, signed, installation_certificates(settings.signing()))
    assert check.valid, check.reason

    # Without its record (a store that lost it), the retry signs anew: a letter, never none.
    for record in (tmp_path / "store" / Kind.SIGNED.value).rglob("*.json"):
        record.unlink()
    fresh = await env.run(acts.render_and_store, letter)
    assert fresh.letter_id != first.letter_id and store.exists(Kind.LETTER, fresh.letter_id)


# ---- issued letters, and the command that checks them --------------------------------------------


@pytest.fixture(scope="module")
def other_cert(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Another office's certificate (PEM)."""
    from asn1crypto.pem import armor

    from activities.signing.identity import SigningConfig, load_signer

    folder = tmp_path_factory.mktemp("other")
    make_dev_identity(folder / "o.p12", folder / "o.pass")
    cert = load_signer(SigningConfig(key=str(folder / "o.p12"), passphrase_file=str(folder / "o.pass"))).signing_cert
    assert cert is not None
    (folder / "other.pem").write_bytes(armor("CERTIFICATE", cert.dump()))
    return folder / "other.pem"


@asyncio_session
async def test_an_issued_letter_is_signed_and_the_command_checks_it(
    env: WorkflowEnvironment, engine: Engine, settings: Settings, tmp_path: Path, other_cert: Path
) -> None:
    rid = await offer_in(engine, "LETTER_ISSUED", ["KR"])
    card, _ = await engine.offer_card(rid, "KR")
    assert card.letter is not None and card.letter.signed_by and card.letter.body_sha256
    data = await engine.letter_bytes(card.letter)
    assert hashlib.sha256(data).hexdigest() == card.letter.letter_id
    letter = tmp_path / "letter.pdf"
    letter.write_bytes(data)

    code, out, err = await cli(env, settings, "letter", "verify", str(letter))
    assert code == 0, out + err
    text = " ".join(out.split())
    assert f"Signer: {card.letter.signed_by}" in text and "Signer trusted: yes" in text
    assert "Whole file covered, unmodified: yes" in text and "VALID" in text and "Timestamp: none" in text

    changed = tmp_path / "changed.pdf"
    changed.write_bytes(data[:5000] + bytes([data[5000] ^ 1]) + data[5001:])
    code, out, err = await cli(env, settings, "letter", "verify", str(changed))
    assert code == 1 and "NOT VALID" in out, out + err

    code, out, err = await cli(env, settings, "letter", "verify", str(letter), "--trust", str(other_cert), "--json")
    assert code == 1, out + err
    assert '"trusted": false' in out and '"covers_whole_file": true' in out

    (tmp_path / "notes.txt").write_text("not a letter")
    for path in (tmp_path / "notes.txt", tmp_path / "missing.pdf"):
        code, out, err = await cli(env, settings, "letter", "verify", str(path))
        assert code == 2 and "error" in err, out + err

    code, out, err = await cli(env, settings, "letter", "certificate", "-o", str(tmp_path / "office.pem"))
    assert code == 0, err
    code, out, err = await cli(env, settings, "letter", "verify", str(letter), "--trust", str(tmp_path / "office.pem"))
    assert code == 0, out + err
    # A host that only checks letters holds no key: the office's certificate in OFFERDESK_SIGNING_TRUST is enough.
    keyless = {
        "OFFERDESK_SIGNING_KEY": str(tmp_path / "no-key-here.p12"),
        "OFFERDESK_SIGNING_TRUST": str(tmp_path / "office.pem"),
    }
    code, out, err = await cli(env, settings, "letter", "verify", str(letter), **keyless)
    assert code == 0 and "Signer trusted: yes" in " ".join(out.split()), out + err
    code, out, err = await cli(
        env, settings, "letter", "verify", str(letter), **{**keyless, "OFFERDESK_SIGNING_TRUST": ""}
    )
    assert code == 2 and "no-key-here.p12" in err, out + err  # no key and no trust: a sentence, not a verdict


# ---- the portal -------------------------------------------------------------------------------------


@asyncio_session
async def test_anyone_signed_in_checks_a_letter_in_the_portal(portal: Portal, engine: Engine) -> None:
    rid = await offer_in(engine, "LETTER_ISSUED", ["TH"])
    card, _ = await engine.offer_card(rid, "TH")
    assert card.letter is not None
    data = await engine.letter_bytes(card.letter)

    negotiator = portal.user(Role.NEGOTIATOR, "JP")  # any role: checking a letter reads nothing confidential
    async with negotiator.api() as api:
        answer = await api.post("/api/letters/verify", files={"file": ("letter.pdf", data, "application/pdf")})
        assert answer.status_code == 200, answer.text
        body: dict[str, Any] = answer.json()
        assert set(body) == {"valid", "signer", "signed_at", "timestamp", "covers_whole_file", "trusted", "reason"}
        assert body["valid"] and body["trusted"] and body["covers_whole_file"]
        assert body["signer"] == card.letter.signed_by and body["timestamp"] is None

        changed = data[:3000] + bytes([data[3000] ^ 1]) + data[3001:]
        answer = await api.post("/api/letters/verify", files={"file": ("letter.pdf", changed, "application/pdf")})
        assert answer.status_code == 200 and not answer.json()["valid"]

        answer = await api.post("/api/letters/verify", files={"file": ("notes.txt", b"hello", "text/plain")})
        assert answer.status_code == 422 and "not a PDF" in answer.json()["message"]
        assert (await api.post("/api/letters/verify")).status_code == 422

    async with negotiator.api() as anonymous:
        del anonymous.headers["Authorization"]
        assert (await anonymous.post("/api/letters/verify", files={"file": ("l.pdf", data)})).status_code == 401

    reviewer = portal.user(Role.REVIEWER)
    client, csrf = await reviewer.browser_session()
    try:
        page = await client.get("/letters/check")
        assert page.status_code == 200 and "Check a letter" in page.text and 'href="/letters/check"' in page.text
        shown = await client.post(
            "/letters/check", data={"csrf": csrf}, files={"file": ("landing-zone.pdf", data, "application/pdf")}
        )
        assert shown.status_code == 200, shown.text
        assert "landing-zone.pdf:" in shown.text and ">valid<" in shown.text
        assert card.letter.signed_by is not None and card.letter.signed_by in shown.text
        refused = await client.post("/letters/check", data={"csrf": "wrong"}, files={"file": ("l.pdf", data)})
        assert refused.status_code == 403
    finally:
        await client.aclose()

    checks = [r for r in portal.people.audit.records(limit=200) if r.action == "check a letter"]
    assert {negotiator.name, reviewer.name} <= {r.actor for r in checks}
    assert any("landing-zone.pdf: valid" in r.detail for r in checks)


# ---- the identity at start ----------------------------------------------------------------------------


def test_up_makes_a_development_identity_once_and_only_when_none_is_configured(tmp_path: Path) -> None:
    from offerdesk.cli.run import _made_dev_signer

    settings = Settings.from_env({"OFFERDESK_HOME": str(tmp_path / "home")})
    assert settings.dev_signer and _made_dev_signer(settings)
    assert (tmp_path / "home" / "signing.p12").stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "home" / "signing.pass").stat().st_mode & 0o777 == 0o600
    assert not _made_dev_signer(settings)  # made on the first start only
    own = Settings.from_env({"OFFERDESK_HOME": str(tmp_path / "own"), "OFFERDESK_SIGNING_KEY": "/etc/office.p12"})
    assert not own.dev_signer and not _made_dev_signer(own)
    cluster = Settings.from_env({"OFFERDESK_HOME": str(tmp_path / "cluster"), "TEMPORAL_ADDRESS": "temporal:7233"})
    assert not _made_dev_signer(cluster)  # as the keyring: a cluster's identity is configured, never made per host


def test_a_worker_whose_identity_does_not_open_stops_at_start(settings: Settings, tmp_path: Path) -> None:
    from dataclasses import replace

    from activities.signing.identity import SigningError
    from offerdesk.worker import worker_for

    wrong = tmp_path / "wrong.pass"
    wrong.write_text("not the passphrase")
    for broken in (replace(settings, signing_passphrase_file=wrong), replace(settings, signing_key="/nowhere.p12")):
        with pytest.raises(SigningError), worker_for(None, broken):  # type: ignore[arg-type]
            pass
