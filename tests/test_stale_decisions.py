"""Every decision names its version: one made on a version the partner has since replaced never counts.

The race of issue 21: a reviewer opens version 2, the partner amends to version 3 changing a rate, and the
reviewer's approval (from the page loaded before, through the API, from the CLI) arrives after. The offer's
workflow refuses it in the update's validator, so an amendment and a decision are settled by the offer alone.
"""

from __future__ import annotations

import asyncio
import json
import re

import pytest
from temporalio.testing import WorkflowEnvironment

from offerdesk.config import Settings
from offerdesk.engine import Engine, Refused
from offerdesk.samples import sample_offer
from schemas.offer import OfferDocument
from schemas.offer_state import OfferState
from schemas.portal import Role
from schemas.refusal import Refusal
from schemas.review import Approve, RequestChanges, StaffDecision
from tests.commands import cli
from tests.conftest import round_spec
from tests.portal import Portal
from workflows.names import offer_workflow_id

pytestmark = pytest.mark.asyncio(loop_scope="session")
OFFER = "/api/rounds/{r}/offers/{p}"
STALE = "sent version 3 after you opened version 2; read it and decide again"


def rate_changed(doc: OfferDocument) -> OfferDocument:
    """The same offer with one tariff cut taken back: a change a reviewer who read the last version never saw."""
    lines = list(doc.tariff_commitments)
    n = next(i for i, line in enumerate(lines) if line.offered_rate_pct != line.current_rate_pct)
    lines[n] = lines[n].model_copy(update={"offered_rate_pct": lines[n].current_rate_pct})
    return doc.model_copy(update={"tariff_commitments": lines})


async def at_version_2(engine: Engine, partner: str, approvals: int = 2) -> tuple[str, OfferDocument]:
    """A round whose offer of `partner` is under review at version 2, approved once (by Ada) on version 2."""
    spec = round_spec([partner], approvals=approvals)
    await engine.open_round(spec)
    rid = spec.round_id
    await engine.submit(sample_offer(rid, partner, seed=1), by="negotiator")
    second = sample_offer(rid, partner, seed=2)
    receipt = await engine.submit(second, amend=True, by="negotiator")
    assert (receipt.version, receipt.state) == (2, OfferState.UNDER_REVIEW)
    assert (await engine.approve(rid, partner, Approve(reviewer="Ada", version=2))).approvals == 1
    return rid, second


async def accepted_approvals(env: WorkflowEnvironment, rid: str, partner: str) -> int:
    """How many approve updates the offer's history accepted: one refused by the validator never enters it."""
    history = await env.client.get_workflow_handle(offer_workflow_id(rid, partner)).fetch_history()
    return sum(
        1
        for e in history.events
        if e.HasField("workflow_execution_update_accepted_event_attributes")
        and e.workflow_execution_update_accepted_event_attributes.accepted_request.input.name == "approve"
    )


async def test_a_decision_on_a_replaced_version_is_refused_by_the_workflow(
    engine: Engine, env: WorkflowEnvironment
) -> None:
    rid, second = await at_version_2(engine, "KR")
    third = await engine.submit(rate_changed(second), amend=True, by="negotiator")
    assert (third.version, third.state) == (3, OfferState.UNDER_REVIEW)
    card, _ = await engine.offer_card(rid, "KR")
    assert card.approvals == []  # Ada's approval was of version 2: it does not count for version 3

    accepted = await accepted_approvals(env, rid, "KR")
    for decide in (
        engine.approve(rid, "KR", Approve(reviewer="Grace", version=2)),
        engine.request_changes(rid, "KR", RequestChanges(reviewer="Grace", version=2, note="stage it")),
        engine.decide(rid, "KR", StaffDecision(by="sam", version=2, decision="approve", reason="as agreed")),
    ):
        with pytest.raises(Refused) as refused:
            await decide
        assert refused.value.kind is Refusal.STALE_VERSION
        assert refused.value.message == f"South Korea {STALE}"
    assert await accepted_approvals(env, rid, "KR") == accepted, "refused in the validator: nothing recorded"
    with pytest.raises(Refused, match="has no version 4; its latest is version 3"):
        await engine.approve(rid, "KR", Approve(reviewer="Grace", version=4))

    # Ada approves again, on version 3; with Grace's first approval of it the quorum is of version 3 alone.
    answer = await engine.approve(rid, "KR", Approve(reviewer="Ada", version=3))
    assert (answer.version, answer.approvals, answer.state) == (3, 1, OfferState.UNDER_REVIEW)
    answer = await engine.approve(rid, "KR", Approve(reviewer="Grace", version=3))
    assert answer.state is OfferState.APPROVED
    card, _ = await engine.offer_card(rid, "KR")
    assert card.terms is not None and [a.version for a in card.terms.approvals] == [3, 3]
    approved = [e.detail for e in (await engine.offer_status(rid, "KR")).events if e.action == "approved"]
    assert approved == ["version 2", "version 3", "version 3"]


async def test_an_amendment_and_an_approval_sent_together_never_count_the_approval_for_the_new_version(
    engine: Engine,
) -> None:
    """Whichever reaches the offer first, the approval is of version 2 and version 3 starts with none."""
    for attempt in range(3):
        rid, second = await at_version_2(engine, "TH", approvals=3)  # Grace's approval does not close it
        amend = engine.submit(rate_changed(second), amend=True, by="negotiator")
        approve = engine.approve(rid, "TH", Approve(reviewer="Grace", version=2))
        receipt, approval = await asyncio.gather(amend, approve, return_exceptions=True)
        assert not isinstance(receipt, BaseException) and receipt.version == 3, receipt
        if isinstance(approval, BaseException):
            assert isinstance(approval, Refused) and approval.kind is Refusal.STALE_VERSION, approval
        else:
            assert approval.version == 2 and approval.state is OfferState.UNDER_REVIEW, approval
        card, _ = await engine.offer_card(rid, "TH")
        assert len(card.versions) == 3 and card.approvals == [], (attempt, card.approvals)


async def test_the_race_through_the_api_and_the_page(portal: Portal, engine: Engine) -> None:
    rid, second = await at_version_2(engine, "JP")
    url = OFFER.format(r=rid, p="JP")
    reviewer, staff = portal.user(Role.REVIEWER), portal.user(Role.STAFF)
    negotiator = portal.user(Role.NEGOTIATOR, "JP")

    # The reviewer reads version 2 through the API, and opens it on a page.
    async with reviewer.api() as api:
        read = (await api.get(url)).json()
    assert len(read["versions"]) == 2 and len(read["approvals"]) == 1
    browser, csrf = await reviewer.browser_session()
    staff_browser, staff_csrf = await staff.browser_session()
    try:
        page = (await browser.get(f"/rounds/{rid}/offers/JP")).text
        assert "Your review of version 2" in page
        shown = hidden_version(page, "approve-form")
        assert shown == "2" == hidden_version(page, "request-changes-form")
        staff_page = (await staff_browser.get(f"/rounds/{rid}/offers/JP")).text
        assert hidden_version(staff_page, "decide-form") == "2"

        # The partner amends to version 3, taking back a tariff cut.
        async with negotiator.api() as api:
            amended = await api.post(url + "/versions", json=json.loads(rate_changed(second).model_dump_json()))
        assert amended.status_code == 201 and amended.json()["version"] == 3, amended.text

        async with reviewer.api() as api:
            for path, body in (("/approve", {}), ("/request-changes", {"note": "stage the dairy lines"})):
                missing = await api.post(url + path, json=body)
                assert missing.status_code == 422 and missing.json()["fields"][0]["path"] == "version", missing.text
            for path, body in (("/approve", {}), ("/request-changes", {"note": "stage the dairy lines"})):
                stale = await api.post(url + path, json={"version": 2, **body})
                assert stale.status_code == 409, stale.text
                assert stale.json() == {"error": "StaleVersion", "message": f"Japan {STALE}", "fields": []}
        async with staff.api() as api:
            missing = await api.post(url + "/decide", json={"decision": "approve", "reason": "fine"})
            assert missing.status_code == 422 and missing.json()["fields"][0]["path"] == "version", missing.text
            stale = await api.post(url + "/decide", json={"version": 2, "decision": "approve", "reason": "fine"})
            assert (stale.status_code, stale.json()["error"]) == (409, "StaleVersion")

        # The page loaded before the amendment posts its approval: refused with the same sentence, shown on the
        # page that comes back, which now shows version 3 to read.
        posted = await browser.post(f"/rounds/{rid}/offers/JP/approve", data={"csrf": csrf, "version": shown})
        assert posted.status_code == 303, posted.text
        back = (await browser.get(posted.headers["location"])).text
        assert f"Japan {STALE}" in back and hidden_version(back, "approve-form") == "3"
        posted = await staff_browser.post(
            f"/rounds/{rid}/offers/JP/decide",
            data={"csrf": staff_csrf, "version": "2", "decision": "approve", "reason": "fine"},
        )
        assert f"Japan {STALE}" in (await staff_browser.get(posted.headers["location"])).text
        card, _ = await engine.offer_card(rid, "JP")
        assert card.state is OfferState.UNDER_REVIEW and card.approvals == []  # as it was after the amendment

        # Read again, decided again: an approval that names version 3 counts.
        posted = await browser.post(f"/rounds/{rid}/offers/JP/approve", data={"csrf": csrf, "version": "3"})
        assert "approved version 3: 1 of 2" in (await browser.get(posted.headers["location"])).text
    finally:
        await browser.aclose()
        await staff_browser.aclose()
    async with portal.user(Role.REVIEWER).api() as api:
        approved = await api.post(url + "/approve", json={"version": 3})
        assert approved.status_code == 200 and approved.json()["state"] == "APPROVED", approved.text
    card, _ = await engine.offer_card(rid, "JP")
    assert card.terms is not None and [a.version for a in card.terms.approvals] == [3, 3]
    async with staff.api() as api:
        audit = (await api.get("/api/audit", params={"round_id": rid})).json()
    refused = [r["detail"] for r in audit if r["actor"] == reviewer.name and r["outcome"] == "refused"]
    assert any(d.startswith("version 2") and STALE in d for d in refused), refused


def hidden_version(page: str, form_id: str) -> str:
    """The version a page's form will send, from its hidden field."""
    form = re.search(rf'<form [^>]*id="{form_id}".*?</form>', page, re.S)
    assert form is not None, f"no form {form_id}"
    found = re.search(r'<input type="hidden" name="version" value="(\d+)">', form.group())
    assert found is not None, f"form {form_id} carries no version"
    return found.group(1)


async def test_the_cli_sends_the_version_it_shows(env: WorkflowEnvironment, settings: Settings, engine: Engine) -> None:
    rid, second = await at_version_2(engine, "VN")
    await engine.submit(rate_changed(second), amend=True, by="negotiator")
    for command in (
        ["review", "approve", rid, "VN", "--version", "2"],
        ["review", "request-changes", rid, "VN", "--note", "stage it", "--version", "2"],
        ["staff", "decide", rid, "VN", "--decision", "approve", "--reason", "fine", "--version", "2"],
    ):
        code, out, err = await cli(env, settings, *command, OFFERDESK_OPERATOR="Grace")
        assert code == 1 and f"Vietnam {STALE}" in " ".join(err.split()), (command, out, err)
    code, _, err = await cli(env, settings, "review", "approve", rid, "VN", "--version", "0", OFFERDESK_OPERATOR="G")
    assert code == 2 and "version" in err, err
    card, _ = await engine.offer_card(rid, "VN")
    assert card.approvals == []

    # Without --version nothing is decided: a decision names the version its maker read ('offer show').
    for command in (
        ["review", "approve", rid, "VN"],
        ["review", "request-changes", rid, "VN", "--note", "stage it"],
        ["staff", "decide", rid, "VN", "--decision", "approve", "--reason", "fine"],
    ):
        code, _, err = await cli(env, settings, *command, OFFERDESK_OPERATOR="Grace")
        assert code == 2 and "Missing option '--version'" in err, (command, err)
    code, out, err = await cli(
        env, settings, "review", "approve", rid, "VN", "--version", "3", OFFERDESK_OPERATOR="Grace"
    )
    assert code == 0, err
    assert f"Approved version 3 of VN in round {rid} as Grace: 1/2 approvals; UNDER_REVIEW." in " ".join(out.split())
    code, out, err = await cli(
        env, settings, "review", "approve", rid, "VN", "--version", "3", OFFERDESK_OPERATOR="Ada"
    )
    assert code == 0 and "Approved version 3" in out and "APPROVED" in out, err
