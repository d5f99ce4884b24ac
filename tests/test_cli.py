"""The `offerdesk` command as a newcomer runs it: real processes against the test's dev server and worker."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from datetime import timedelta
from pathlib import Path

import pypdf
import pytest
from temporalio.testing import WorkflowEnvironment

from offerdesk.config import Settings
from offerdesk.converter import ensure_keyring
from offerdesk.engine import Engine
from schemas.offer_state import OfferState
from tests.commands import cli
from tests.conftest import new_round_id
from tests.portal import offer_in

pytestmark = pytest.mark.asyncio(loop_scope="session")
OFFERDESK = str(Path(sys.executable).parent / "offerdesk")


async def test_open_submit_approve_twice_and_download_the_letter(
    env: WorkflowEnvironment, settings: Settings, engine: Engine, example_path: Path, tmp_path: Path
) -> None:
    rid = new_round_id("cli")
    offer = tmp_path / "offer.json"
    offer.write_text(example_path.read_text().replace("2025-06-best-offers", rid))

    code, out, err = await cli(
        env, settings, "round", "open", rid, "--deadline", "10m", "--partner", "JP", "--partner", "eu"
    )
    assert code == 0, err
    assert f"Round {rid} is open for JP, EU" in out
    assert "letters answered within 7 d" in " ".join(out.split())  # the response window's default (issue 25)

    code, out, err = await cli(env, settings, "offer", "submit", str(offer), OFFERDESK_OPERATOR="op-x")
    assert code == 0, err
    assert "accepted as version 1: UNDER_REVIEW" in out and "offers no change" in out

    code, out, _ = await cli(env, settings, "offer", "submit", str(offer), OFFERDESK_OPERATOR="op-x")
    assert code == 0 and "was already received as version 1" in out

    # The operator who submitted it may not approve it, however the name is written.
    code, out, err = await cli(
        env, settings, "review", "approve", rid, "JP", "--version", "1", OFFERDESK_OPERATOR=" OP-X "
    )
    assert code == 1 and "OP-X submitted this offer and cannot review it" in err, err
    code, out, err = await cli(
        env, settings, "review", "approve", rid, "JP", "--version", "1", "--rate", "15", "--reason", "July deal",
        OFFERDESK_OPERATOR="Ada",
    )  # fmt: skip
    assert code == 0 and f"Approved version 1 of JP in round {rid} as Ada: 1/2 approvals" in out, err
    code, out, err = await cli(
        env, settings, "review", "approve", rid, "JP", "--version", "1", OFFERDESK_OPERATOR="Ada"
    )
    assert code == 1 and "Ada has already approved" in err
    code, out, err = await cli(
        env, settings, "review", "approve", rid, "JP", "--version", "1", OFFERDESK_OPERATOR="Grace"
    )
    assert code == 0, err

    await engine.wait_for(rid, "JP", {OfferState.LETTER_ISSUED}, timedelta(seconds=60))
    code, out, err = await cli(env, settings, "offer", "show", rid, "JP", "--json")
    assert code == 0, err
    shown = json.loads(out)
    assert shown["state"] == "LETTER_ISSUED" and shown["terms"]["agreed_rate_pct"] == 15
    assert [v["submitted_by"] for v in shown["versions"]] == ["op-x"]
    submitted = next(e for e in shown["events"] if e["action"] == "submitted")
    contact = json.loads(offer.read_text())["submitted_by"]
    assert submitted["actor"] == "op-x"
    assert submitted["detail"] == f"version 1, contact: {contact['name']} <{contact['email']}>"
    assert [a["reviewer"] for a in shown["approvals"]] == ["Ada", "Grace"]
    assert shown["report"]["findings"][0]["path"] == "tariff_commitments[2].offered_rate_pct"

    letter = tmp_path / "jp.pdf"
    code, out, err = await cli(env, settings, "letter", "download", rid, "JP", "-o", str(letter))
    assert code == 0, err
    text = pypdf.PdfReader(letter).pages[0].extract_text()
    assert "15%" in text and "Japan (JP)" in text

    code, out, err = await cli(env, settings, "letter", "download", rid, "EU")
    assert code == 1 and "INVITED; it has no letter yet" in err

    for _ in range(30):
        code, out, err = await cli(env, settings, "round", "status", rid, "--json")
        states = {o["partner"]: o["state"] for o in json.loads(out)["offers"]}
        if states == {"JP": "LETTER_ISSUED", "EU": "INVITED"}:
            break
        await asyncio.sleep(0.3)
    assert states == {"JP": "LETTER_ISSUED", "EU": "INVITED"}


async def test_unusable_input_exits_2_and_refusals_exit_1(
    env: WorkflowEnvironment, settings: Settings, engine: Engine, tmp_path: Path
) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text('{"schema_version": 1,\n "partner": }')
    code, _, err = await cli(env, settings, "offer", "submit", str(broken))
    assert code == 2 and "line 2, column 13" in err

    wrong = tmp_path / "wrong.json"
    wrong.write_text(json.dumps({"schema_version": 1, "round_id": "r", "partner": "Japan", "submitted_by": {}}))
    code, _, err = await cli(env, settings, "offer", "submit", str(wrong))
    assert code == 2 and "partner: String should match pattern" in err and "submitted_by.name: Field required" in err

    code, _, err = await cli(env, settings, "round", "open", "r1", "--deadline", "1h", "--partner", "XX")
    assert code == 2 and "no reference figures for partner XX" in err
    code, _, err = await cli(env, settings, "round", "open", "r1", "--deadline", "2026-12-02T17:00", "--partner", "JP")
    assert code == 2 and "no time zone" in err
    code, _, err = await cli(
        env, settings, "round", "open", "r1", "--deadline", "1h", "--partner", "JP", "--review-window", "soon"
    )
    assert code == 2 and "not a duration" in err
    code, _, err = await cli(  # the portal's bound, from the same model: no window the portal would refuse
        env, settings, "round", "open", "r1", "--deadline", "1h", "--partner", "JP", "--review-window", "365d"
    )
    assert code == 2 and "review_window: Input should be less than or equal to 90 days" in err, err

    code, _, err = await cli(env, settings, "round", "status", "never-opened")
    assert code == 1 and "round never-opened does not exist" in err
    code, _, err = await cli(
        env, settings, "review", "approve", "never-opened", "JP", "--version", "1", OFFERDESK_OPERATOR="Ada"
    )
    assert code == 1 and "does not exist" in err
    code, _, err = await cli(env, settings, "review", "approve", "r1", "JP", "--reviewer", "Ada")
    assert code == 2 and "No such option: --reviewer" in err  # who acts is the operator, never a typed name
    code, _, err = await cli(
        env, settings, "review", "approve", "r1", "JP", "--version", "1", OFFERDESK_OPERATOR="x" * 201
    )
    assert code == 2 and "OFFERDESK_OPERATOR is a name of at most 200 characters" in err


async def test_an_unreachable_server_is_a_clear_error(tmp_path: Path) -> None:
    ensure_keyring(tmp_path / "keys.json")
    environ = {
        **os.environ,
        "TEMPORAL_ADDRESS": "127.0.0.1:1",
        "OFFERDESK_HOME": str(tmp_path),
        "OFFERDESK_KEYS_FILE": str(tmp_path / "keys.json"),
    }
    process = await asyncio.create_subprocess_exec(
        OFFERDESK, "round", "status", "x", env=environ, stderr=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE
    )
    out, err = await process.communicate()
    assert process.returncode == 3 and "cannot reach Temporal at 127.0.0.1:1" in err.decode()
    assert out == b"" and "Traceback" not in err.decode() and "RPCError" not in err.decode()


async def test_users_and_tokens_from_the_command_line(env: WorkflowEnvironment, settings: Settings) -> None:
    from offerdesk.people import open_people

    name = "cli-" + new_round_id("u")
    code, _, err = await cli(env, settings, "user", "add", name, "--role", "negotiator", "--password", "long enough")
    assert code == 2 and "--partner" in err
    code, out, _ = await cli(
        env, settings, "user", "add", name, "--role", "negotiator", "--partner", "JP", "--password", "long enough"
    )
    assert code == 0 and "negotiator for JP" in out
    code, _, err = await cli(env, settings, "user", "add", name, "--role", "staff", "--password", "long enough")
    assert code == 1 and "exists already" in err
    code, out, err = await cli(env, settings, "token", "create", name, "--label", "upload script")
    assert code == 0 and "not shown again" in err
    who = open_people(settings.database).tokens.principal(out.strip())
    assert who is not None and (who.name, who.partner) == (name, "JP")


async def test_round_status_shows_the_reminder_lead_time_it_was_opened_with(
    env: WorkflowEnvironment, settings: Settings
) -> None:
    rid = new_round_id("remind")
    code, _, err = await cli(
        env, settings, "round", "open", rid, "--deadline", "10m", "--partner", "JP", "--remind-before", "2h"
    )
    assert code == 0, err
    code, out, err = await cli(env, settings, "round", "status", rid, "--json")
    assert code == 0, err
    assert json.loads(out)["round"]["remind_before"] == "PT2H", out


async def test_every_command_that_writes_a_file_says_why_it_cannot(
    env: WorkflowEnvironment, settings: Settings, engine: Engine, tmp_path: Path
) -> None:
    """A missing folder, a folder, a full disk: exit 2 and a sentence, never a traceback or half a file."""
    rid = await offer_in(engine, "LETTER_ISSUED", ["JP"], approvals=1)
    commands = {
        "offer template": (["offer", "template"], ".xlsx"),
        "offer export": (["offer", "export", rid, "JP"], ".json"),
        "letter download": (["letter", "download", rid, "JP"], ".pdf"),
        "round report": (["round", "report", rid], ".csv"),
        "letter certificate": (["letter", "certificate"], ".pem"),
    }
    for name, (args, suffix) in commands.items():
        missing = tmp_path / "no-such-folder" / f"out{suffix}"
        targets = {
            missing: "does not exist",
            tmp_path / f"a-folder{suffix}": "it is a folder",
            tmp_path / f"{'n' * 300}{suffix}": "the file name is too long",
            Path("/dev/full"): "the disk is full",
        }
        (tmp_path / f"a-folder{suffix}").mkdir(exist_ok=True)
        for target, why in targets.items():
            if target == Path("/dev/full") and name in ("offer template", "offer export", "round report"):
                continue  # these check the file's ending first: /dev/full has none
            code, out, err = await cli(env, settings, *args, "-o", str(target), OFFERDESK_OPERATOR="staff")
            assert code == 2 and why in err and "Traceback" not in err + out, (name, target, code, err)
        code, _, err = await cli(env, settings, *args, "-o", str(tmp_path / f"ok{suffix}"), OFFERDESK_OPERATOR="staff")
        assert code == 0 and (tmp_path / f"ok{suffix}").stat().st_size > 0, (name, err)
    for name, (args, suffix) in commands.items():
        target = tmp_path / f"full{suffix}"
        target.symlink_to("/dev/full")  # a full disk behind a name with the ending each command asks for
        code, out, err = await cli(env, settings, *args, "-o", str(target), OFFERDESK_OPERATOR="staff")
        assert code == 2 and "the disk is full" in err and "Traceback" not in err + out, (name, err)
