"""Issue 25 end to end through the `offerdesk` command: an offer countered twice and accepted at its third letter,
every letter kept, diffs against the answered version, notices once each, and an unanswered letter staff reopen."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from temporalio.testing import WorkflowEnvironment

from offerdesk.config import Settings
from offerdesk.samples import sample_offer
from schemas.notice import NoticeKind
from schemas.portal import Role
from tests.commands import cli
from tests.conftest import new_round_id
from tests.portal import Portal
from tests.smtpserver import eventually

pytestmark = pytest.mark.asyncio(loop_scope="session")
PASSWORD = "correct horse battery"


async def _run(
    env: WorkflowEnvironment, settings: Settings, *args: str, code: int = 0, operator: str = "cli-operator"
) -> str:
    """The command's output, run as `operator`, having checked its exit code; its errors when it should fail."""
    got, out, err = await cli(env, settings, *args, OFFERDESK_OPERATOR=operator)
    assert got == code, f"offerdesk {' '.join(args)}: exit {got}\n{out}\n{err}"
    return out if code == 0 else err


async def _shown(env: WorkflowEnvironment, settings: Settings, rid: str, partner: str) -> dict[str, Any]:
    shown: dict[str, Any] = json.loads(await _run(env, settings, "offer", "show", rid, partner, "--json"))
    return shown


async def _until(
    env: WorkflowEnvironment, settings: Settings, rid: str, partner: str, state: str, letters: int | None = None
) -> dict[str, Any]:
    """`offer show --json` until the offer is in `state` (with `letters` letters, if given)."""
    for _ in range(120):
        shown = await _shown(env, settings, rid, partner)
        if shown["state"] == state and (letters is None or len(shown["letters"]) == letters):
            return shown
        await asyncio.sleep(0.5)
    raise AssertionError(f"{partner} of {rid} never reached {state} with {letters} letters: {shown['state']}")


async def test_an_offer_countered_twice_and_accepted_at_its_third_letter_through_the_cli(
    env: WorkflowEnvironment, settings: Settings, engine: object, portal: Portal, tmp_path: Path
) -> None:
    rid, tag = new_round_id("neg"), uuid.uuid4().hex[:6]
    negotiator, ada, grace, sam = f"neg-tw-{tag}", f"ada-{tag}", f"grace-{tag}", f"sam-{tag}"
    users = portal.people.users  # the people's records the worker files notices to
    users.add(negotiator, Role.NEGOTIATOR, PASSWORD, "TW")
    users.add(ada, Role.REVIEWER, PASSWORD)
    users.add(grace, Role.REVIEWER, PASSWORD)
    users.add(sam, Role.STAFF, PASSWORD)
    files = {}
    for name, doc in {
        "v1": sample_offer(rid, "TW", seed=1),
        "v2": sample_offer(rid, "TW", seed=2, deficient=True),  # the first counter-offer, deficient at first
        "v3": sample_offer(rid, "TW", seed=3),
        "v4": sample_offer(rid, "TW", seed=4),
        "v5": sample_offer(rid, "TW", seed=5),
    }.items():
        files[name] = tmp_path / f"{name}.json"
        files[name].write_text(doc.model_dump_json())

    opened = await _run(
        env, settings, "round", "open", rid, "--deadline", "10m", "--partner", "TW", "--respond-within", "20m"
    )
    assert "letters answered within 20 m" in opened

    async def approve_both(version: int) -> None:
        for reviewer in (ada, grace):
            said = await _run(
                env, settings, "review", "approve", rid, "TW", "--version", str(version), operator=reviewer
            )
            assert f"Approved version {version}" in said

    letters: dict[int, bytes] = {}

    async def download(number: int) -> bytes:
        target = tmp_path / f"letter-{number}-{uuid.uuid4().hex[:4]}.pdf"
        said = await _run(env, settings, "letter", "download", rid, "TW", "--letter", str(number), "-o", str(target))
        assert f"Wrote letter {number}" in said
        return target.read_bytes()

    # Letter 1 answers version 1, and awaits the partner's answer.
    await _run(env, settings, "offer", "submit", str(files["v1"]), operator=negotiator)
    await approve_both(1)
    first = await _until(env, settings, rid, "TW", "LETTER_ISSUED", letters=1)
    assert first["respond_by"] is not None
    letters[1] = await download(1)
    shown = await _run(env, settings, "offer", "show", rid, "TW")
    assert "letter 1 awaits the partner's answer until" in shown

    # A counter-offer: a new version sent as an amendment, deficient, then amended clean.
    said = await _run(env, settings, "offer", "amend", str(files["v2"]), operator=negotiator)
    assert "accepted as version 2: DEFICIENT" in said
    said = await _run(env, settings, "offer", "amend", str(files["v3"]), operator=negotiator)
    assert "accepted as version 3: UNDER_REVIEW" in said
    # Reviewers see it against the version letter 1 answered (1), not the deficient one before it (2).
    assert "version 1 → version 3" in await _run(env, settings, "offer", "diff", rid, "TW")
    diff = json.loads(await _run(env, settings, "offer", "diff", rid, "TW", "--json"))
    assert (diff["from_version"], diff["to_version"]) == (1, 3)
    assert "version 2 → version 3" in await _run(env, settings, "offer", "diff", rid, "TW", "--from", "2")
    shown = await _run(env, settings, "offer", "show", rid, "TW")
    assert "counter-offer: version 3 answers letter 1" in shown and "compares it with version 1" in shown
    refused = await _run(env, settings, "offer", "accept", rid, "TW", code=1, operator=negotiator)
    assert "no letter awaits an answer: version 3 answered letter 1" in refused

    await approve_both(3)
    await _until(env, settings, rid, "TW", "LETTER_ISSUED", letters=2)
    letters[2] = await download(2)
    shown = await _run(env, settings, "offer", "show", rid, "TW")
    assert "letter 2 awaits the partner's answer" in shown and "counter-offer:" not in shown

    # The second counter-offer, and letter 3.
    await _run(env, settings, "offer", "amend", str(files["v4"]), operator=negotiator)
    assert "version 3 → version 4" in await _run(env, settings, "offer", "diff", rid, "TW")
    await approve_both(4)
    third = await _until(env, settings, rid, "TW", "LETTER_ISSUED", letters=3)
    assert [(x["number"], x["version"]) for x in third["letters"]] == [(1, 1), (2, 3), (3, 4)]

    stale = await _run(env, settings, "offer", "accept", rid, "TW", "--letter", "2", code=1, operator=negotiator)
    assert "letter 3 to Taiwan has replaced letter 2; read it and answer it" in stale
    # The portal's rule for who accepts holds on the command line for the people it knows.
    refused = await _run(env, settings, "offer", "accept", rid, "TW", code=1, operator=ada.upper())
    assert f"{ada.upper()} is a reviewer; reviewers never accept a letter" in refused  # names compare in any case
    refused = await _run(
        env, settings, "offer", "accept", rid, "TW", "--on-behalf", "--reason", "x", code=2, operator=negotiator
    )
    assert "drop --on-behalf" in refused
    refused = await _run(env, settings, "offer", "accept", rid, "TW", code=2, operator=sam)
    assert "staff accept on the partner's behalf: add --on-behalf and --reason" in refused
    said = await _run(env, settings, "offer", "accept", rid, "TW", operator=negotiator)
    assert f"Accepted letter 3 of TW in round {rid} as {negotiator}: ACCEPTED" in said
    closed = await _run(env, settings, "offer", "amend", str(files["v5"]), code=1, operator=negotiator)
    assert "ACCEPTED" in closed and "takes no" in closed

    # Every letter is kept and reads as it did when it was issued; the deal is the third letter's terms.
    for number, content in letters.items():
        assert await download(number) == content
    letters[3] = await download(3)
    assert letters[3] == await download(3) and len(set(letters.values())) == 3
    missing = await _run(env, settings, "letter", "download", rid, "TW", "--letter", "4", code=1)
    assert "there is no letter 4" in missing
    done = await _shown(env, settings, rid, "TW")
    assert done["state"] == "ACCEPTED" and done["deal"]["letter"] == 3
    assert done["deal"]["rate_pct"] == done["letters"][2]["terms"]["agreed_rate_pct"]
    shown = await _run(env, settings, "offer", "show", rid, "TW")
    assert "the deal: letter 3 (version 4)" in shown and "counter-offer:" not in shown
    report = json.loads(await _run(env, settings, "round", "report", rid, "--json"))
    assert (report["accepted"], report["countered"], report["unanswered"]) == (1, 1, 0)
    assert (report["rows"][0]["letters"], report["rows"][0]["deal_rate_pct"]) == (3, done["deal"]["rate_pct"])

    # The notices: the negotiator once per letter awaiting an answer, reviewers once per counter-offer in review,
    # staff once for the acceptance.
    notices = portal.people.notices

    def kinds(user: str) -> Counter[NoticeKind]:
        return Counter(e.kind for e in notices.inbox(user) if e.round_id == rid)

    await eventually(lambda: kinds(sam)[NoticeKind.ACCEPTED] == 1, 30, "staff told of the acceptance")
    await asyncio.sleep(1.0)  # anything told twice would be filed by now
    assert kinds(negotiator) == Counter({NoticeKind.AWAITS_ANSWER: 3, NoticeKind.DEFICIENT: 1})
    assert kinds(ada) == Counter({NoticeKind.IN_REVIEW: 1, NoticeKind.COUNTERED: 2})
    assert kinds(sam) == Counter({NoticeKind.ACCEPTED: 1})
    subjects = sorted(e.subject for e in notices.inbox(negotiator) if e.kind is NoticeKind.AWAITS_ANSWER)
    assert [s.split(" for ")[0] for s in subjects] == ["Letter 1", "Letter 2", "Letter 3"]


async def test_an_unanswered_letter_closes_the_offer_and_staff_reopen_it_through_the_cli(
    env: WorkflowEnvironment, settings: Settings, engine: object, tmp_path: Path
) -> None:
    rid = new_round_id("una")
    await _run(
        env, settings, "round", "open", rid, "--deadline", "10m", "--partner", "PK", "--partner", "BW",
        "--approvals", "1", "--respond-within", "3s",
    )  # fmt: skip
    for code in ("PK", "BW"):
        document = tmp_path / f"{code}.json"
        document.write_text(sample_offer(rid, code).model_dump_json())
        await _run(env, settings, "offer", "submit", str(document), operator=f"neg-{code}")
        await _run(env, settings, "review", "approve", rid, code, "--version", "1", operator="Ada")
    unanswered = await _until(env, settings, rid, "PK", "UNANSWERED")
    assert unanswered["respond_by"] is not None
    shown = await _run(env, settings, "offer", "show", rid, "PK")
    assert "letter 1 was not answered by" in shown and "staff may reopen or close it" in shown
    refused = await _run(env, settings, "offer", "accept", rid, "PK", code=1, operator="neg-PK")
    assert "went unanswered; staff may reopen it" in refused
    document = tmp_path / "PK-counter.json"
    document.write_text(sample_offer(rid, "PK", seed=9).model_dump_json())
    refused = await _run(env, settings, "offer", "amend", str(document), code=1, operator="neg-PK")
    assert "UNANSWERED" in refused and "unless staff reopen it" in refused

    no_reason = await _run(env, settings, "staff", "reopen", rid, "PK", "--respond-within", "1d", code=2)
    assert "--reason" in no_reason
    said = await _run(
        env, settings, "staff", "reopen", rid, "PK", "--respond-within", "10m", "--reason", "asked for more time",
        operator="Sam",
    )  # fmt: skip
    assert "Letter 1 of PK awaits an answer again, until" in said
    reopened = await _shown(env, settings, rid, "PK")
    assert reopened["state"] == "LETTER_ISSUED" and "reopened" in [e["action"] for e in reopened["events"]]
    said = await _run(
        env, settings, "offer", "accept", rid, "PK", "--on-behalf", "--reason", "by note verbale",
        operator="Sam",
    )  # fmt: skip
    assert "on the partner's behalf: ACCEPTED" in said

    await _until(env, settings, rid, "BW", "UNANSWERED")
    said = await _run(env, settings, "staff", "close", rid, "BW", "--reason", "no reply", operator="Sam")
    assert "closed: UNANSWERED" in said
    status = json.loads(await _run(env, settings, "round", "status", rid, "--json"))
    assert {o["partner"]: o["state"] for o in status["offers"]} in (
        {"PK": "ACCEPTED", "BW": "UNANSWERED"},
        {"PK": "LETTER_ISSUED", "BW": "UNANSWERED"},  # visibility a moment behind
    )
    closed = await _shown(env, settings, rid, "BW")
    assert closed["closing"]["by"] == "Sam" and closed["closing"]["reason"] == "no reply"
