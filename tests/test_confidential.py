"""Offers are encrypted in Temporal: no plaintext in its history, UI or database; no acting without the key."""

from __future__ import annotations

import asyncio
import base64
import json
import subprocess
import uuid
from dataclasses import replace
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
from temporalio.api.common.v1 import Payload
from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from offerdesk.config import Settings
from offerdesk.converter import ENCODING, KEY_ID, EncryptionCodec, Keyring, data_converter, ensure_keyring
from offerdesk.devserver import DevServer, free_port, temporal_binary
from offerdesk.engine import Engine
from offerdesk.samples import sample_offer
from schemas.offer_state import OfferState
from schemas.portal import Role
from schemas.review import Approve, Comment
from schemas.round import RoundSpec
from tests.conftest import own_installation, round_spec, worker_running
from tests.portal import Portal
from workflows.names import offer_workflow_id
from workflows.offer import OfferWorkflow

pytestmark = pytest.mark.asyncio(loop_scope="session")


# ---- the codec itself --------------------------------------------------------------------------


async def test_payloads_round_trip_encrypted_and_strangers_get_a_marker_not_a_value() -> None:
    keyring = Keyring.new()
    codec = EncryptionCodec(keyring)
    plain = Payload(metadata={"encoding": b"json/plain"}, data=b'{"secret": "canary"}')
    [sealed] = await codec.encode([plain])
    assert sealed.metadata["encoding"] == ENCODING and sealed.metadata[KEY_ID] == keyring.current.encode()
    assert b"canary" not in sealed.SerializeToString()
    assert await codec.decode([sealed]) == [plain]

    [refused] = await codec.decode([plain])  # plaintext from a client without the key
    assert refused.metadata["encoding"] != b"json/plain" and refused.data == b""
    [other] = await EncryptionCodec(Keyring.new()).decode([sealed])  # another keyring
    assert other.data == b"" and b"not in this keyring" in other.metadata["reason"]
    tampered = Payload(metadata=dict(sealed.metadata), data=sealed.data[:-1] + bytes([sealed.data[-1] ^ 1]))
    [bad] = await codec.decode([tampered])
    assert bad.data == b"" and b"does not decrypt" in bad.metadata["reason"]
    assert await EncryptionCodec(keyring, accept_plaintext=True).decode([plain]) == [plain]


async def test_rotation_keeps_old_payloads_readable(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    first = Keyring.new()
    first.save(path)
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    [old] = await EncryptionCodec(first).encode([Payload(data=b"old offer")])
    second = Keyring.load(path).rotated()
    second.save(path)
    rotated = Keyring.load(path)
    assert rotated.current != first.current and set(rotated.keys) == {first.current, rotated.current}
    [new] = await EncryptionCodec(rotated).encode([Payload(data=b"new offer")])
    assert new.metadata[KEY_ID] == rotated.current.encode()
    assert [p.data for p in await EncryptionCodec(rotated).decode([old, new])] == [b"old offer", b"new offer"]


# ---- against a real dev server with a database file and its UI --------------------------------


async def test_a_canary_is_in_neither_the_history_the_ui_nor_the_database(settings: Settings, tmp_path: Path) -> None:
    canary = f"CANARY-{uuid.uuid4().hex}"
    ensure_keyring(settings.keys_file)
    home = tmp_path / "home"
    port, ui_port = free_port(), free_port()
    codec_endpoint = "http://127.0.0.1:8000/codec"
    server = DevServer(home, port, ui_port, codec_endpoint=codec_endpoint)
    server.start()
    try:
        local = replace(settings, home=home, temporal_address=f"127.0.0.1:{port}")
        client = await Client.connect(local.address, data_converter=local.converter())
        engine = Engine(client, local.store(), task_queue=f"canary-{tmp_path.name}")
        spec = round_spec(["JP"])
        rid = spec.round_id
        document = sample_offer(rid, "JP").model_copy(update={"summary": f"our best offer {canary}"})
        async with worker_running(client, local, engine.task_queue):
            await engine.open_round(spec)
            await engine.submit(document, by="negotiator")
            await engine.comment(rid, "JP", Comment(reviewer="Ada", text=f"internal note {canary}"))
            await engine.approve(rid, "JP", Approve(reviewer="Ada", version=1, rate_pct=15, reason=f"because {canary}"))
            status = await engine.offer_status(rid, "JP")
        assert canary in " ".join(e.detail for e in status.events)  # the key holder reads it all

        wid = offer_workflow_id(rid, "JP")
        shown = subprocess.run(
            [temporal_binary(), "workflow", "show", "--address", local.address, "-w", wid, "-o", "json"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        assert wid in shown and canary not in shown and "internal note" not in shown
        assert base64.b64encode(ENCODING).decode() in shown
        assert await asyncio.to_thread(server.ui_ready), "the Web UI did not reach its frontend within a minute"
        async with httpx.AsyncClient(base_url=server.ui_url, timeout=30) as ui:
            encoded = quote(wid, safe="")  # the id holds slashes
            history = await ui.get(f"/api/v1/namespaces/default/workflows/{encoded}/history", params={"pageSize": 500})
            settings_page = await ui.get("/api/v1/settings")
        assert history.status_code == 200 and "events" in history.text, history.text[:300]
        assert canary not in history.text
        assert base64.b64encode(ENCODING).decode() in history.text  # the payloads are there, sealed
        assert settings_page.json()["Codec"]["Endpoint"] == codec_endpoint  # staff's UI decodes through the portal
    finally:
        server.stop()
    for path in home.glob("temporal.db*"):
        assert canary.encode() not in path.read_bytes(), path.name


# ---- a client without the key -------------------------------------------------------------------


async def test_a_client_without_the_key_can_neither_read_nor_act(engine: Engine, env: WorkflowEnvironment) -> None:
    spec = round_spec(["GB"])
    await engine.open_round(spec)
    rid = spec.round_id
    await engine.submit(sample_offer(rid, "GB"), by="negotiator")
    wid = offer_workflow_id(rid, "GB")
    target = env.client.service_client.config.target_host
    for converter in (pydantic_data_converter, data_converter(Keyring.new())):
        stranger = await Client.connect(target, data_converter=converter)
        handle = stranger.get_workflow_handle(wid)
        with pytest.raises(WorkflowUpdateFailedError, match="update"):
            await handle.execute_update(OfferWorkflow.approve, Approve(reviewer="mallory", version=1))
        with pytest.raises(Exception):  # noqa: B017 - the memo does not decode into a card either
            await (await handle.describe()).memo_value("card")
    card, _ = await engine.offer_card(rid, "GB")
    assert card.approvals == [] and card.state is OfferState.UNDER_REVIEW
    events = (await engine.offer_status(rid, "GB")).events
    assert "mallory" not in json.dumps([e.model_dump(mode="json") for e in events])


# ---- the codec endpoint for the Temporal UI ------------------------------------------------------


async def test_the_codec_endpoint_decodes_for_staff_only_and_answers_the_uis_preflight(
    portal: Portal, env: WorkflowEnvironment
) -> None:
    codec = env.client.data_converter.payload_codec
    assert codec is not None
    [sealed] = await codec.encode([Payload(metadata={"encoding": b"json/plain"}, data=b'"a secret offer"')])
    body = {
        "payloads": [
            {
                "metadata": {k: base64.b64encode(v).decode() for k, v in sealed.metadata.items()},
                "data": base64.b64encode(sealed.data).decode(),
            }
        ]
    }
    ui = "http://127.0.0.1:8233"
    async with httpx.AsyncClient(base_url=portal.url, timeout=30) as anyone:
        preflight = await anyone.options(
            "/codec/decode",
            headers={
                "Origin": ui,
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "content-type,x-namespace",
            },
        )
        assert preflight.status_code == 204
        assert preflight.headers["access-control-allow-origin"] == ui
        assert "x-namespace" in preflight.headers["access-control-allow-headers"].lower()
        assert preflight.headers["access-control-allow-credentials"] == "true"
        elsewhere = await anyone.options("/codec/decode", headers={"Origin": "http://evil.example"})
        assert "access-control-allow-origin" not in elsewhere.headers
        nobody = await anyone.post("/codec/decode", json=body, headers={"Origin": ui})
        assert nobody.status_code == 401 and nobody.headers["access-control-allow-origin"] == ui
    async with portal.user(Role.NEGOTIATOR, "JP").api() as negotiator:
        assert (await negotiator.post("/codec/decode", json=body)).status_code == 403
    async with portal.user(Role.REVIEWER).api() as reviewer:
        assert (await reviewer.post("/codec/decode", json=body)).status_code == 403
    async with portal.user(Role.STAFF).api() as staff:
        decoded = await staff.post("/codec/decode", json=body, headers={"Origin": ui, "X-Namespace": "default"})
    assert decoded.status_code == 200, decoded.text
    [payload] = decoded.json()["payloads"]
    assert base64.b64decode(payload["data"]) == b'"a secret offer"'
    assert base64.b64decode(payload["metadata"]["encoding"]) == b"json/plain"
    assert decoded.headers["cache-control"] == "no-store"


async def test_deep_json_to_the_codec_endpoint_is_a_422_with_a_sentence(portal: Portal) -> None:
    """Nested past the portal's limit (64), or past Python's recursion limit: refused before it is parsed."""

    def payloads(depth: int) -> bytes:
        return b'{"payloads": ' + b"[" * (depth - 1) + b"]" * (depth - 1) + b"}"

    json_type = {"Content-Type": "application/json"}
    async with portal.user(Role.STAFF).api() as staff, httpx.AsyncClient(base_url=portal.url) as anyone:
        for client in (staff, anyone):
            for url in ("/codec/decode", "/codec/encode"):  # /codec/encode answers only the UI's preflight
                for depth in (65, 50_000):
                    answer = await client.post(url, content=payloads(depth), headers=json_type)
                    assert answer.status_code == 422, answer.text
                    assert "nests arrays and objects more than 64 levels deep" in answer.json()["message"]
        within = await staff.post("/codec/decode", content=payloads(64), headers=json_type)
    assert within.status_code == 422  # read, and refused by the codec itself: not protobuf JSON
    assert within.json()["message"].startswith('send {"payloads": [...]} as protobuf JSON')


async def test_after_rotation_old_offers_are_still_read_and_moved_with_the_new_key(
    env: WorkflowEnvironment, settings: Settings, tmp_path: Path, closing: list[RoundSpec]
) -> None:
    queue = f"rotation-{tmp_path.name}"
    local, before = own_installation(env, settings, tmp_path, queue)
    spec = round_spec(["AU"])
    closing.append(spec)
    rid = spec.round_id
    async with worker_running(env.client, local, queue):
        await before.open_round(spec)
        await before.submit(sample_offer(rid, "AU"), by="negotiator")
        await before.comment(rid, "AU", Comment(reviewer="Ada", text="written under the old key"))

    # Staff rotate: every client and worker gets the new keyring, whose current key is new.
    rotated = Keyring.load(settings.keys_file).rotated()
    assert rotated.current not in Keyring.load(settings.keys_file).keys
    client = await Client.connect(env.client.service_client.config.target_host, data_converter=data_converter(rotated))
    after = Engine(client, local.store(), task_queue=queue)
    async with worker_running(client, local, queue):
        status = await after.offer_status(rid, "AU")  # payloads sealed with the old key still decrypt
        assert status.state is OfferState.UNDER_REVIEW and len(status.versions) == 1
        assert "written under the old key" in [e.detail for e in status.events]
        answer = await after.approve(rid, "AU", Approve(reviewer="Grace", version=1))
        assert answer.approvals == 1
    history = await client.get_workflow_handle(offer_workflow_id(rid, "AU")).fetch_history()
    key_ids = {
        p.metadata[KEY_ID].decode()
        for e in history.events
        if e.HasField("workflow_execution_update_accepted_event_attributes")
        for p in e.workflow_execution_update_accepted_event_attributes.accepted_request.input.args.payloads
    }
    assert key_ids == {Keyring.load(settings.keys_file).current, rotated.current}  # old updates, and the new one
