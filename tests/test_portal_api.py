"""The portal's API over real HTTP: a real portal process, a real dev server and worker, real users and tokens."""

from __future__ import annotations

import asyncio
import io
import json
import zipfile
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pypdf
import pytest

from offerdesk.engine import Engine
from offerdesk.samples import sample_offer
from schemas.portal import Role
from schemas.review import Approve
from tests.conftest import new_round_id, round_spec
from tests.portal import Portal, User, offer_in

pytestmark = pytest.mark.asyncio(loop_scope="session")
OFFER = "/api/rounds/{r}/offers/{p}"


async def wait_state(user: User, rid: str, partner: str, state: str, seconds: float = 120) -> dict[str, Any]:
    async with user.api() as api:
        for _ in range(int(seconds * 5)):
            body: dict[str, Any] = (await api.get(OFFER.format(r=rid, p=partner))).json()
            if body["state"] == state:
                return body
            await asyncio.sleep(0.2)
    raise AssertionError(f"{partner} never reached {state}; last {body['state']}")


async def test_the_whole_lifecycle_through_the_api(portal: Portal) -> None:
    staff = portal.user(Role.STAFF)
    negotiator = portal.user(Role.NEGOTIATOR, "JP")
    ada, grace = portal.user(Role.REVIEWER), portal.user(Role.REVIEWER)
    rid = new_round_id("api")
    deadline = (datetime.now(UTC) + timedelta(minutes=10)).isoformat()

    async with staff.api() as api:
        opened = await api.post(
            "/api/rounds",
            json={"round_id": rid, "partners": ["JP", "EU"], "deadline": deadline, "review_window": "PT1H"},
        )
        assert opened.status_code == 201, opened.text
        assert opened.json()["partners"] == ["JP", "EU"]
        again = await api.post("/api/rounds", json={"round_id": rid, "partners": ["JP"], "deadline": deadline})
        assert again.status_code == 409 and "already exists" in again.json()["message"]

    today = datetime.now(UTC).date()
    async with negotiator.api() as api:
        deficient = sample_offer(rid, "JP", lines=10, seed=5, received=today, deficient=True)
        first = await api.post(OFFER.format(r=rid, p="JP") + "/versions", json=json.loads(deficient.model_dump_json()))
        assert first.status_code == 201, first.text
        receipt = first.json()
        assert receipt["state"] == "DEFICIENT" and receipt["version"] == 1 and not receipt["duplicate"]
        missing = {f["category"] for f in receipt["report"]["findings"] if f["severity"] == "error"}
        assert missing == {"digital_trade", "economic_security"}

        complete = sample_offer(rid, "JP", lines=10, seed=5, received=today)
        upload = await api.post(
            OFFER.format(r=rid, p="JP") + "/versions/upload",
            files={"file": ("jp-offer.json", complete.model_dump_json().encode(), "application/json")},
        )
        assert upload.status_code == 201, upload.text
        assert upload.json()["state"] == "UNDER_REVIEW" and upload.json()["version"] == 2

    async with ada.api() as api:
        for _ in range(100):  # the queue comes from visibility, a moment behind the workflow
            queue = (await api.get("/api/queue")).json()
            if any(o["round_id"] == rid and o["partner"] == "JP" for o in queue):
                break
            await asyncio.sleep(0.1)
        else:
            raise AssertionError(f"JP of {rid} never showed in the review queue")
        await api.post(OFFER.format(r=rid, p="JP") + "/comments", json={"text": "internal: check the dairy lines"})
        offer = (await api.get(OFFER.format(r=rid, p="JP"))).json()
        zone = offer["landing_zone"]
        rate = zone["baseline_rate_pct"] + 1
        out_of_bounds = await api.post(
            OFFER.format(r=rid, p="JP") + "/approve",
            json={"version": 2, "rate_pct": zone["announced_rate_pct"] + 5, "reason": "x"},
        )
        assert out_of_bounds.status_code == 422 and out_of_bounds.json()["error"] == "RateOutOfBounds"
        approved = await api.post(
            OFFER.format(r=rid, p="JP") + "/approve",
            json={"version": 2, "rate_pct": rate, "reason": "strong industrial offer"},
        )
        assert approved.status_code == 200, approved.text
        twice = await api.post(OFFER.format(r=rid, p="JP") + "/approve", json={"version": 2})
        assert twice.status_code == 409 and twice.json()["error"] == "AlreadyApproved"

    async with grace.api() as api:
        assert (await api.post(OFFER.format(r=rid, p="JP") + "/approve", json={"version": 2})).status_code == 200

    issued = await wait_state(negotiator, rid, "JP", "LETTER_ISSUED")
    assert issued["terms"]["agreed_rate_pct"] == rate
    # The negotiator sees neither the reviewers' comment nor the landing zone's workings.
    assert "dairy" not in json.dumps(issued) and issued["landing_zone"] is None and issued["approvals"] == []

    async with negotiator.api() as api:
        letter = await api.get(OFFER.format(r=rid, p="JP") + "/letter")
        assert letter.status_code == 200 and letter.headers["content-type"] == "application/pdf"
        pdf = pypdf.PdfReader(io.BytesIO(letter.content))
        assert len(pdf.pages) >= 1 and "Japan" in pdf.pages[0].extract_text()

    async with staff.api() as api:
        archive = await api.get(f"/api/rounds/{rid}/letters.zip")
        assert archive.status_code == 200
        names = zipfile.ZipFile(io.BytesIO(archive.content)).namelist()
        assert names == [f"landing-zone-{rid}-JP-v2.pdf"]
        audit = (await api.get("/api/audit", params={"round_id": rid})).json()
    done = {(r["actor"], r["action"], r["outcome"]) for r in audit}
    assert (ada.name, "approve", "done") in done and (grace.name, "approve", "done") in done
    assert (ada.name, "approve", "refused") in done  # the out-of-bounds rate and the second approval
    assert (negotiator.name, "download letter", "done") in done
    assert (staff.name, "download a round's letters", "done") in done


# ---- the partner's answer (issue 25) -------------------------------------------------------------


async def test_a_counter_offer_and_an_acceptance_through_the_api(portal: Portal) -> None:
    staff, negotiator = portal.user(Role.STAFF), portal.user(Role.NEGOTIATOR, "MY")
    ada, grace = portal.user(Role.REVIEWER), portal.user(Role.REVIEWER)
    rid = new_round_id("ans")
    deadline = (datetime.now(UTC) + timedelta(minutes=10)).isoformat()
    path = OFFER.format(r=rid, p="MY")
    async with staff.api() as api:
        body = {"round_id": rid, "partners": ["MY"], "deadline": deadline, "respond_within": "P100D"}
        too_long = await api.post("/api/rounds", json=body)
        assert too_long.status_code == 422 and too_long.json()["fields"][0]["path"] == "respond_within"
        opened = await api.post("/api/rounds", json=body | {"respond_within": "PT10M"})
        assert opened.status_code == 201 and opened.json()["respond_within"] == "PT10M", opened.text

    async def approve(version: int) -> None:
        for reviewer in (ada, grace):
            async with reviewer.api() as api:
                answer = await api.post(path + "/approve", json={"version": version})
                assert answer.status_code == 200, answer.text

    today = datetime.now(UTC).date()
    async with negotiator.api() as api:
        first = sample_offer(rid, "MY", lines=6, seed=1, received=today)
        assert (await api.post(path + "/versions", json=json.loads(first.model_dump_json()))).status_code == 201
    await approve(1)
    issued = await wait_state(negotiator, rid, "MY", "LETTER_ISSUED")
    assert issued["respond_by"] is not None and [x["number"] for x in issued["letters"]] == [1]

    async with ada.api() as api:
        refused = await api.post(path + "/accept", json={"letter": 1})
        assert refused.status_code == 403 and refused.json()["error"] == "Forbidden"  # reviewers never accept
    async with negotiator.api() as api:
        assert (await api.post(path + "/accept", json={})).status_code == 422  # the letter read is required
        counter = sample_offer(rid, "MY", lines=6, seed=2, received=today)
        sent = await api.post(path + "/versions", json=json.loads(counter.model_dump_json()))
        assert sent.status_code == 201 and sent.json()["state"] == "UNDER_REVIEW" and sent.json()["version"] == 2
        late = await api.post(path + "/accept", json={"letter": 1})
        assert late.status_code == 409 and late.json()["error"] == "NoAnswerAwaited"
    await approve(2)
    for _ in range(300):
        second = await wait_state(negotiator, rid, "MY", "LETTER_ISSUED")
        if len(second["letters"]) == 2:
            break
        await asyncio.sleep(0.2)
    async with negotiator.api() as api:
        stale = await api.post(path + "/accept", json={"letter": 1})
        assert stale.status_code == 409 and stale.json()["error"] == "StaleLetter", stale.text
        listed = (await api.get(path + "/letters")).json()
        assert [(x["number"], x["version"]) for x in listed] == [(1, 1), (2, 2)]
        one, two = (await api.get(path + "/letters/1")), (await api.get(path + "/letters/2"))
        assert one.status_code == two.status_code == 200 and one.content != two.content
        assert one.headers["etag"] == f'"{listed[0]["ref"]["sha256"]}"'
        missing = await api.get(path + "/letters/3")
        assert missing.status_code == 404 and missing.json()["error"] == "NotFound"  # a negotiator's one 404
        accepted = await api.post(path + "/accept", json={"letter": 2})
        assert accepted.status_code == 200 and accepted.json()["state"] == "ACCEPTED", accepted.text
        again = sample_offer(rid, "MY", lines=6, seed=3, received=today)
        closed = await api.post(path + "/versions", json=json.loads(again.model_dump_json()))
        assert closed.status_code == 409 and closed.json()["error"] == "OfferClosed"
        assert "ACCEPTED" in closed.json()["message"]
    async with staff.api() as api:
        missing = await api.get(path + "/letters/3")
        assert missing.status_code == 404 and missing.json()["error"] == "NoSuchLetter"
        assert "there is no letter 3" in missing.json()["message"]
        shown = (await api.get(path)).json()
        assert shown["deal"]["letter"] == 2 and shown["deal"]["accepted_by"] == negotiator.name
        archive = zipfile.ZipFile(io.BytesIO((await api.get(f"/api/rounds/{rid}/letters.zip")).content))
        assert sorted(archive.namelist()) == [f"landing-zone-{rid}-MY-v1.pdf", f"landing-zone-{rid}-MY-v2.pdf"]
        for _ in range(50):
            board = (await api.get(f"/api/rounds/{rid}")).json()
            if board["offers"][0]["state"] == "ACCEPTED":
                break
            await asyncio.sleep(0.2)
        mine = board["offers"][0]
        assert (mine["state"], mine["letters"], mine["deal"]["rate_pct"]) == (
            "ACCEPTED",
            2,
            shown["terms"]["agreed_rate_pct"],
        )
        report = (await api.get(f"/api/rounds/{rid}/report")).json()
        assert (report["accepted"], report["countered"], report["unanswered"]) == (1, 1, 0)
        assert report["rows"][0]["letters"] == 2 and report["rows"][0]["deal_rate_pct"] is not None


async def test_staff_reopen_and_close_unanswered_offers_through_the_api(portal: Portal, engine: Engine) -> None:
    staff, negotiator = portal.user(Role.STAFF), portal.user(Role.NEGOTIATOR, "LA")
    spec = round_spec(["LA", "MM"], approvals=1, respond_within=timedelta(seconds=2))
    await engine.open_round(spec)
    rid = spec.round_id
    for code in ("LA", "MM"):
        await engine.submit(sample_offer(rid, code, lines=4), by="negotiator")
        await engine.approve(rid, code, Approve(reviewer="Prep One", version=1))
    await wait_state(staff, rid, "LA", "UNANSWERED")
    await wait_state(staff, rid, "MM", "UNANSWERED")
    async with negotiator.api() as api:
        refused = await api.post(OFFER.format(r=rid, p="LA") + "/reopen", json={"respond_within": "P1D", "reason": "x"})
        assert refused.status_code == 403
        late = await api.post(
            OFFER.format(r=rid, p="LA") + "/versions", content=sample_offer(rid, "LA", seed=5).model_dump_json()
        )
        assert late.status_code == 409 and "UNANSWERED" in late.json()["message"], late.text  # no new version now
    async with staff.api() as api:
        no_reason = await api.post(OFFER.format(r=rid, p="LA") + "/reopen", json={"respond_within": "P1D"})
        assert no_reason.status_code == 422
        reopened = await api.post(
            OFFER.format(r=rid, p="LA") + "/reopen", json={"respond_within": "P1D", "reason": "asked for a day"}
        )
        assert reopened.status_code == 200 and reopened.json()["state"] == "LETTER_ISSUED", reopened.text
        closed = await api.post(OFFER.format(r=rid, p="MM") + "/close", json={"reason": "no reply"})
        assert closed.status_code == 200 and closed.json()["state"] == "UNANSWERED"
        twice = await api.post(OFFER.format(r=rid, p="LA") + "/close", json={})
        assert twice.status_code == 409 and twice.json()["error"] == "WrongState"
        on_behalf = await api.post(OFFER.format(r=rid, p="LA") + "/accept", json={"letter": 1})
        assert on_behalf.status_code == 422 and on_behalf.json()["error"] == "ReasonRequired"
        assert "give a reason" in on_behalf.json()["message"]
    la = await engine.offer_status(rid, "LA")
    assert la.awaits_answer and "reopened" in [e.action for e in la.events]


# ---- the role table, as a matrix ----------------------------------------------------------------

N, R, S = Role.NEGOTIATOR, Role.REVIEWER, Role.STAFF
PARTNER = "TH"


def _doc(rid: str) -> str:
    return sample_offer(rid, PARTNER, lines=4, seed=9).model_dump_json()


def _open_body(rid: str) -> dict[str, Any]:
    deadline = (datetime.now(UTC) + timedelta(minutes=5)).isoformat()
    return {"round_id": rid + "-new", "partners": ["GB"], "deadline": deadline}


# action: method, path, body (a function of the round id), the offer's state beforehand, roles allowed
MATRIX: dict[str, tuple[str, str, Any, str | None, set[Role]]] = {
    "read offer": ("GET", OFFER, None, "UNDER_REVIEW", {N, R, S}),
    "list offers": ("GET", "/api/offers", None, None, {N, R, S}),
    "submit": ("POST", OFFER + "/versions", _doc, "INVITED", {N, S}),
    "withdraw": ("POST", OFFER + "/withdraw", lambda r: {"reason": "x"}, "UNDER_REVIEW", {N, S}),
    "download letter": ("GET", OFFER + "/letter", None, "LETTER_ISSUED", {N, S}),
    "download letter 1": ("GET", OFFER + "/letters/1", None, "LETTER_ISSUED", {N, S}),
    "accept": (
        "POST",
        OFFER + "/accept",
        lambda r: {"letter": 1, "reason": "by note verbale"},
        "LETTER_ISSUED",
        {N, S},
    ),
    "review queue": ("GET", "/api/queue", None, None, {R, S}),
    "approve": ("POST", OFFER + "/approve", lambda r: {"version": 1}, "UNDER_REVIEW", {R, S}),
    "request changes": (
        "POST",
        OFFER + "/request-changes",
        lambda r: {"version": 1, "note": "more"},
        "UNDER_REVIEW",
        {R, S},
    ),
    "comment": ("POST", OFFER + "/comments", lambda r: {"text": "noted"}, "UNDER_REVIEW", {R, S}),
    "open a round": ("POST", "/api/rounds", _open_body, None, {S}),
    "list rounds": ("GET", "/api/rounds", None, None, {S}),
    "dashboard": ("GET", "/api/rounds/{r}", None, "INVITED", {S}),
    "round letters": ("GET", "/api/rounds/{r}/letters.zip", None, "LETTER_ISSUED", {S}),
    "extend": ("POST", OFFER + "/extend", lambda r: {"extend_by": "PT1H"}, "UNDER_REVIEW", {S}),
    "decide": (
        "POST",
        OFFER + "/decide",
        lambda r: {"version": 1, "decision": "approve", "reason": "x"},
        "UNDER_REVIEW",
        {S},
    ),
    "audit": ("GET", "/api/audit", None, None, {S}),
    "users": ("GET", "/api/users", None, None, {S}),
    "tokens": ("GET", "/api/tokens", None, None, {S}),
    "notifications": ("GET", "/api/notifications", None, None, {N, R, S}),
    "reminders": ("PUT", "/api/notifications/reminders", lambda r: {"on": True}, None, {N, R, S}),
}


@pytest.mark.parametrize("role", [N, R, S], ids=lambda r: r.value)
@pytest.mark.parametrize("action", list(MATRIX))
async def test_role_matrix(portal: Portal, engine: Engine, action: str, role: Role) -> None:
    method, path, body, state, allowed = MATRIX[action]
    rid = await offer_in(engine, state, [PARTNER], approvals=1) if state else new_round_id("m")
    before = (await engine.offer_status(rid, PARTNER)).model_dump_json() if state else None
    user = portal.user(role, PARTNER if role is N else None)
    async with user.api() as api:
        answer = await api.request(
            method,
            path.format(r=rid, p=PARTNER),
            content=(body(rid) if isinstance(body(rid), str) else json.dumps(body(rid))) if body else None,
            headers={"Content-Type": "application/json"} if body else None,
        )
    if role in allowed:
        assert 200 <= answer.status_code < 300, f"{role.value} may {action}: {answer.status_code} {answer.text}"
    else:
        assert answer.status_code == 403, f"{role.value} may not {action}: {answer.status_code} {answer.text}"
        assert answer.json()["error"] == "Forbidden" and role.value in answer.json()["message"]
        if before is not None:
            assert (await engine.offer_status(rid, PARTNER)).model_dump_json() == before, "a refusal changed the offer"


OFFER_ROUTES: list[tuple[str, str, Any]] = [
    ("GET", "", None),
    ("POST", "/versions", "doc"),
    ("POST", "/versions/upload", "file"),
    ("POST", "/withdraw", {}),
    ("GET", "/letter", None),
    ("POST", "/approve", {"version": 1}),
    ("POST", "/request-changes", {"version": 1, "note": "x"}),
    ("POST", "/comments", {"text": "x"}),
    ("POST", "/extend", {"extend_by": "PT1H"}),
    ("POST", "/decide", {"version": 1, "decision": "approve", "reason": "x"}),
]


async def test_a_negotiator_learns_nothing_of_another_partners_offer(portal: Portal, engine: Engine) -> None:
    rid = await offer_in(engine, "LETTER_ISSUED", ["MY", "PH"], approvals=1)
    before = (await engine.offer_status(rid, "PH")).model_dump_json()
    negotiator = portal.user(Role.NEGOTIATOR, "MY")
    answers = {}
    async with negotiator.api() as api:
        for target in ("PH", "ZA"):  # another partner's offer, and one that does not exist at all
            for method, suffix, body in OFFER_ROUTES:
                url = OFFER.format(r=rid, p=target) + suffix
                if body == "doc":
                    answer = await api.post(url, json=json.loads(sample_offer(rid, target).model_dump_json()))
                elif body == "file":
                    answer = await api.post(
                        url, files={"file": ("o.json", sample_offer(rid, target).model_dump_json())}
                    )
                else:
                    answer = await api.request(method, url, json=body)
                assert answer.status_code == 404, f"{method} {url}: {answer.status_code} {answer.text}"
                answers[(target, suffix)] = answer.json()["error"]
        # A document for PH sent to MY's own address is refused too: the document names the offer it changes.
        smuggled = await api.post(
            OFFER.format(r=rid, p="MY") + "/versions", json=json.loads(sample_offer(rid, "PH").model_dump_json())
        )
        assert smuggled.status_code == 422 and smuggled.json()["error"] == "WrongOffer"
        mine = (await api.get("/api/offers")).json()
        assert {o["partner"] for o in mine} <= {"MY"}
        assert (await api.get(f"/api/rounds/{rid}/letters.zip")).status_code == 403
    assert set(answers.values()) == {"NotFound"}
    assert (await engine.offer_status(rid, "PH")).model_dump_json() == before


# ---- refusals a person can act on ---------------------------------------------------------------


async def test_refusals_say_why(portal: Portal, engine: Engine) -> None:
    rid = await offer_in(engine, "INVITED", ["CH"])
    negotiator = portal.user(Role.NEGOTIATOR, "CH")
    async with negotiator.api() as api:
        url = OFFER.format(r=rid, p="CH") + "/versions"
        bad = json.loads(sample_offer(rid, "CH").model_dump_json())
        bad["tariff_commitments"][0]["offered_rate_pct"] = "low"
        bad["surprise"] = 1
        schema_error = await api.post(url, json=bad)
        assert schema_error.status_code == 422
        paths = {f["path"] for f in schema_error.json()["fields"]}
        assert {"tariff_commitments[0].offered_rate_pct", "surprise"} <= paths

        broken = await api.post(url + "/upload", files={"file": ("o.json", b'{"schema_version": 1,')})
        assert broken.status_code == 422 and "line 1" in broken.json()["message"]

        huge = await api.post(
            url, content=b"[" + b" " * (16 * 1024 * 1024) + b"]", headers={"Content-Type": "application/json"}
        )
        assert huge.status_code == 413 and "16 MiB" in huge.json()["message"]
        chatty = await api.post(
            OFFER.format(r=rid, p="CH") + "/withdraw",
            content=b'{"reason": "' + b"x" * (1024 * 1024) + b'"}',
            headers={"Content-Type": "application/json"},
        )
        assert chatty.status_code == 413 and "1 MiB" in chatty.json()["message"]

        amend_first = await api.post(OFFER.format(r=rid, p="CH") + "/withdraw", json={})
        assert amend_first.status_code == 200  # an invited offer can be withdrawn; then nothing more
        closed = await api.post(url, json=json.loads(sample_offer(rid, "CH").model_dump_json()))
        assert closed.status_code == 409 and "WITHDRAWN" in closed.json()["message"]

    async with httpx.AsyncClient(base_url=portal.url) as anonymous:
        nobody = await anonymous.get("/api/me")
        assert nobody.status_code == 401 and "sign in" in nobody.json()["message"]
        forged = await anonymous.get("/api/me", headers={"Authorization": "Bearer od_abc_def"})
        assert forged.status_code == 401 and "revoked" in forged.json()["message"]


async def test_revoked_tokens_stop_working(portal: Portal) -> None:
    staff = portal.user(Role.STAFF)
    async with staff.api() as api:
        made = await api.post("/api/tokens", json={"user": staff.name, "label": "script"})
        assert made.status_code == 201
        token, token_id = made.json()["token"], made.json()["token_id"]
        listed = (await api.get("/api/tokens")).json()
        assert all("token" not in t for t in listed) and any(t["token_id"] == token_id for t in listed)
        async with httpx.AsyncClient(base_url=portal.url, headers={"Authorization": f"Bearer {token}"}) as script:
            assert (await script.get("/api/me")).json()["name"] == staff.name
            assert (await api.delete(f"/api/tokens/{token_id}")).status_code == 204
            assert (await script.get("/api/me")).status_code == 401


async def test_browser_sessions_need_csrf_for_changes(portal: Portal, engine: Engine) -> None:
    rid = await offer_in(engine, "UNDER_REVIEW", ["ID"])
    reviewer = portal.user(Role.REVIEWER)
    client, csrf = await reviewer.browser_session()
    try:
        assert (await client.get("/api/me")).json()["via"] == "session"
        url = OFFER.format(r=rid, p="ID") + "/comments"
        no_token = await client.post(url, json={"text": "hello"})
        assert no_token.status_code == 403 and "CSRF" in no_token.json()["message"]
        assert (await client.post(url, json={"text": "hello"}, headers={"X-CSRF-Token": csrf})).status_code == 200
        # The same for forms: without the hidden field, nothing happens.
        form = await client.post(f"/rounds/{rid}/offers/ID/approve", data={"version": "1", "rate_pct": ""})
        assert form.status_code == 403
        assert (await engine.offer_status(rid, "ID")).approvals == []
        form = await client.post(f"/rounds/{rid}/offers/ID/approve", data={"csrf": csrf, "version": "1"})
        assert form.status_code == 303
        assert [a.reviewer for a in (await engine.offer_status(rid, "ID")).approvals] == [reviewer.name]
    finally:
        await client.aclose()


async def test_sign_in_sets_a_secure_http_only_cookie_and_refuses_wrong_passwords(portal: Portal) -> None:
    user = portal.user(Role.STAFF)
    async with httpx.AsyncClient(base_url=portal.url) as client:
        page = await client.get("/signin")
        token = page.cookies["offerdesk_signin_csrf"]
        wrong = await client.post(
            "/signin",
            data={"name": user.name, "password": "not it at all", "csrf": token},
            headers={"Cookie": f"offerdesk_signin_csrf={token}"},
        )
        assert wrong.status_code == 401 and "do not match" in wrong.text
        no_csrf = await client.post("/signin", data={"name": user.name, "password": "correct horse battery"})
        assert no_csrf.status_code == 403
        right = await client.post(
            "/signin",
            data={"name": user.name, "password": "correct horse battery", "csrf": token, "next": "//evil.example/"},
            headers={"Cookie": f"offerdesk_signin_csrf={token}"},
        )
        assert right.status_code == 303 and right.headers["location"] == "/"
        cookie = next(h for h in right.headers.get_list("set-cookie") if h.startswith("offerdesk_session="))
        assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie
        assert (await client.get("/rounds")).status_code == 303  # without the cookie: off to sign in


async def test_openapi_document_names_the_models(portal: Portal) -> None:
    async with httpx.AsyncClient(base_url=portal.url) as client:
        spec = (await client.get("/openapi.json")).json()
    schemas = spec["components"]["schemas"]
    assert {"OfferDocument", "OfferStatus", "SubmissionResult", "ErrorBody", "RoundDashboard"} <= set(schemas)
    body = spec["paths"]["/api/rounds/{round_id}/offers/{partner}/versions"]["post"]["requestBody"]
    assert body["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/OfferDocument"}
    assert "/api/rounds/{round_id}/offers/{partner}/approve" in spec["paths"]
    for decision in ("ApproveBody", "RequestChangesBody", "DecideBody"):  # every decision names its version
        assert "version" in schemas[decision]["required"], decision
        assert schemas[decision]["properties"]["version"]["minimum"] == 1


# ---- the pages' decision forms: one handler, the models' bounds -----------------------------------


async def test_decision_forms_flash_what_happened_and_keep_their_bounds(portal: Portal, engine: Engine) -> None:
    rid = await offer_in(engine, "UNDER_REVIEW", ["KH"])
    staff = portal.user(Role.STAFF)
    client, csrf = await staff.browser_session()
    page = f"/rounds/{rid}/offers/KH"
    try:
        too_long = await client.post(page + "/comment", data={"csrf": csrf, "text": "x" * 5001})
        assert too_long.status_code == 422 and "text: String should have at most 5000 characters" in too_long.text
        assert (await engine.offer_status(rid, "KH")).notes == []

        async def flashed(form: str, **fields: str) -> str:
            answer = await client.post(page + form, data={"csrf": csrf, **fields})
            assert answer.status_code == 303 and answer.headers["location"] == page, answer.text
            return (await client.get(page)).text

        assert "comment added (reviewers and staff only)" in await flashed("/comment", text="y" * 5000)
        assert "soon&#34; is not a duration" in await flashed("/extend", extend_by="soon", reason="")
        assert "the review window now closes" in await flashed("/extend", extend_by="2d", reason="more time")
        assert "rate_pct: Input should be a valid number" in await flashed(
            "/approve", version="1", rate_pct="low", reason="x"
        )
        assert "version: Input should be a valid integer" in await flashed("/approve", reason="x")  # no version
        assert "decided: request changes on version 1; the offer is " in await flashed(
            "/decide", version="1", decision="request_changes", reason="  stage the dairy lines  "
        )
    finally:
        await client.aclose()
    events = (await engine.offer_status(rid, "KH")).events
    assert [len(e.detail) for e in events if e.action == "commented"] == [5000]  # the one too long never went
    assert any(e.detail.endswith("stage the dairy lines") for e in events)
