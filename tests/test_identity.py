"""Who acted is the account, never a name typed into a document; nobody reviews or decides what they submitted.

On the session's real dev server and worker, and through a real portal process with real users and tokens.
"""

from __future__ import annotations

import getpass
import json
from datetime import timedelta

import pytest

from offerdesk.config import Settings
from offerdesk.engine import Engine, Refused
from offerdesk.samples import sample_offer
from schemas.offer_state import OfferState
from schemas.portal import Role
from schemas.review import Approve, RequestChanges, StaffDecision
from tests.conftest import round_spec
from tests.portal import Portal, offer_in

on_server = pytest.mark.asyncio(loop_scope="session")
WAIT = timedelta(seconds=60)
OFFER = "/api/rounds/{r}/offers/{p}"


@on_server
async def test_the_conflict_is_the_submitting_account_not_the_documents_contact(engine: Engine) -> None:
    spec = round_spec(["KR"], review_window=timedelta(minutes=5))
    await engine.open_round(spec)
    rid = spec.round_id
    # kim's account sends a document whose contact is "Ada": Ada is a reviewer, and stays one.
    doc = sample_offer(rid, "KR", negotiator="Ada")
    receipt = await engine.submit(doc, by="kim")
    assert receipt.state is OfferState.UNDER_REVIEW

    with pytest.raises(Refused, match=r"^Kim submitted this offer and cannot review it$") as refused:
        await engine.approve(rid, "KR", Approve(reviewer="Kim", version=1))
    assert refused.value.kind == "Conflict"
    with pytest.raises(Refused, match="kim submitted this offer and cannot review it"):
        await engine.request_changes(rid, "KR", RequestChanges(reviewer=" kim ", version=1, note="looks fine to me"))
    assert (await engine.approve(rid, "KR", Approve(reviewer="Ada", version=1))).approvals == 1

    status = await engine.offer_status(rid, "KR")
    assert [v.submitted_by for v in status.versions] == ["kim"]
    submitted = next(e for e in status.events if e.action == "submitted")
    assert (submitted.actor, submitted.detail) == ("kim", f"version 1, contact: Ada <{doc.submitted_by.email}>")

    # Every account that sent a version is out, not only the latest.
    await engine.submit(sample_offer(rid, "KR", negotiator="Ada", seed=4), amend=True, by="lee")
    for account in ("kim", "LEE"):
        with pytest.raises(Refused, match="submitted this offer and cannot review it"):
            await engine.approve(rid, "KR", Approve(reviewer=account, version=2))
    answer = await engine.approve(rid, "KR", Approve(reviewer="Ada", version=2))  # the amendment reset the approvals
    assert answer.approvals == 1
    status = await engine.offer_status(rid, "KR")
    assert [v.submitted_by for v in status.versions] == ["kim", "lee"]
    amended = next(e for e in status.events if e.action == "amended")
    assert (amended.actor, amended.detail) == ("lee", f"version 2, contact: Ada <{doc.submitted_by.email}>")


@on_server
async def test_staff_who_submitted_an_offer_cannot_decide_it(engine: Engine) -> None:
    spec = round_spec(["AU"], review_window=timedelta(seconds=2))
    await engine.open_round(spec)
    rid = spec.round_id
    await engine.submit(sample_offer(rid, "AU"), by="sam")  # staff enter an offer a partner sent by other means
    await engine.wait_for(rid, "AU", {OfferState.ESCALATED}, WAIT)

    for decision in ("approve", "request_changes"):
        with pytest.raises(Refused, match=r"^Sam submitted this offer and cannot decide it$") as refused:
            await engine.decide(
                rid, "AU", StaffDecision(by="Sam", version=1, decision=decision, reason="the partner agreed")
            )
        assert refused.value.kind == "Conflict"
    card, _ = await engine.offer_card(rid, "AU")
    assert card.state is OfferState.ESCALATED and card.terms is None

    decided = await engine.decide(
        rid, "AU", StaffDecision(by="tess", version=1, decision="approve", reason="the partner agreed")
    )
    assert decided.state is OfferState.APPROVED


@on_server
async def test_through_the_portal_the_signed_in_account_is_the_submitter(portal: Portal, engine: Engine) -> None:
    sam, tess = portal.user(Role.STAFF), portal.user(Role.STAFF)
    reviewer = portal.user(Role.REVIEWER)
    rid = await offer_in(engine, "INVITED", ["TW"])
    url = OFFER.format(r=rid, p="TW")
    # The document names the reviewer as its contact; the account that sends it is sam's.
    document = json.loads(sample_offer(rid, "TW", negotiator=reviewer.name).model_dump_json())
    async with sam.api() as api:
        sent = await api.post(url + "/versions", json=document)
        assert sent.status_code == 201, sent.text
        assert sent.json()["state"] == "UNDER_REVIEW"

        approve = await api.post(url + "/approve", json={"version": 1})
        assert approve.status_code == 409, approve.text
        assert approve.json()["error"] == "Conflict"
        assert approve.json()["message"] == f"{sam.name} submitted this offer and cannot review it"
        decide = await api.post(
            url + "/decide", json={"version": 1, "decision": "approve", "reason": "the partner agreed"}
        )
        assert decide.status_code == 409, decide.text
        assert decide.json()["error"] == "Conflict"
        assert decide.json()["message"] == f"{sam.name} submitted this offer and cannot decide it"

        shown = (await api.get(url)).json()
        assert [v["submitted_by"] for v in shown["versions"]] == [sam.name]
        submitted = next(e for e in shown["events"] if e["action"] == "submitted")
        assert submitted["actor"] == sam.name and f"contact: {reviewer.name} <" in submitted["detail"]

    async with reviewer.api() as api:  # named in the document, but did not submit it
        approved = await api.post(url + "/approve", json={"version": 1})
        assert approved.status_code == 200, approved.text
    async with tess.api() as api:
        decided = await api.post(
            url + "/decide", json={"version": 1, "decision": "approve", "reason": "the partner agreed"}
        )
        assert decided.status_code == 200, decided.text
        assert decided.json()["state"] == "APPROVED"


# ---- the CLI's operator ----------------------------------------------------------------------------


def test_the_operator_is_offerdesk_operator_or_the_os_user(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings.from_env({"OFFERDESK_OPERATOR": "  ada  "}).operator == "ada"
    monkeypatch.setattr(getpass, "getuser", lambda: "os-user")
    assert Settings.from_env({}).operator == "os-user"
    assert Settings.from_env({"OFFERDESK_OPERATOR": "   "}).operator == "os-user"

    def nobody() -> str:
        raise OSError("No username set in the environment")

    monkeypatch.setattr(getpass, "getuser", nobody)
    assert Settings.from_env({}).operator == "operator"
    with pytest.raises(ValueError, match="OFFERDESK_OPERATOR is a name of at most 200 characters"):
        Settings.from_env({"OFFERDESK_OPERATOR": "x" * 201})
