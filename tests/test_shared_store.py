"""Workers, the CLI and the engine sharing one S3 store (moto's S3 API server, over HTTP), as on several machines."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
from temporalio.testing import WorkflowEnvironment

from activities.store import Kind
from activities.store.s3 import S3Store
from offerdesk.config import Settings
from offerdesk.engine import Engine
from offerdesk.samples import sample_offer
from schemas.offer_state import OfferState
from schemas.review import Approve
from schemas.round import RoundSpec
from tests.commands import cli
from tests.conftest import round_spec, worker_running
from tests.s3server import CREDENTIALS, S3Server, s3_server

pytestmark = pytest.mark.asyncio(loop_scope="session")
OFFERDESK = str(Path(sys.executable).parent / "offerdesk")


@pytest.fixture(scope="module")
def s3() -> Iterator[S3Server]:
    with s3_server() as server:
        yield server


async def test_an_offer_goes_to_a_letter_with_documents_and_letters_in_s3(
    env: WorkflowEnvironment,
    settings: Settings,
    s3: S3Server,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    closing: list[RoundSpec],
) -> None:
    bucket = s3.new_bucket()
    aws = {
        "AWS_ENDPOINT_URL": s3.endpoint,
        "AWS_ACCESS_KEY_ID": CREDENTIALS["aws_access_key_id"],
        "AWS_SECRET_ACCESS_KEY": CREDENTIALS["aws_secret_access_key"],
        "AWS_DEFAULT_REGION": CREDENTIALS["region_name"],
    }
    for name, value in aws.items():
        monkeypatch.setenv(name, value)
    # The worker and this "machine" share nothing but the bucket: each has a home of its own.
    worker_settings = replace(settings, home=tmp_path / "worker-machine", store_url=f"s3://{bucket}/offerdesk")
    queue = f"s3-{tmp_path.name}"
    engine = Engine(env.client, replace(worker_settings, home=tmp_path / "cli-machine").store(), task_queue=queue)
    assert isinstance(engine.store, S3Store)
    spec = round_spec(["LK"])
    closing.append(spec)
    rid = spec.round_id
    document = sample_offer(rid, "LK", lines=3000)
    async with worker_running(env.client, worker_settings, queue):
        await engine.open_round(spec)
        receipt = await engine.submit(document, by="negotiator")
        assert receipt.state.value == "UNDER_REVIEW"
        await engine.approve(rid, "LK", Approve(reviewer="Ada", version=1))
        await engine.approve(rid, "LK", Approve(reviewer="Grace", version=1))
        card = await engine.wait_for(rid, "LK", {OfferState.LETTER_ISSUED}, timedelta(seconds=90))
    assert card.letter is not None and card.report is not None and card.report.digest is not None

    # Every object is in the bucket under the prefix, and nowhere on either machine's disk.
    keys = {o["Key"] for o in s3.client().list_objects_v2(Bucket=bucket).get("Contents", [])}
    digest = document.digest()
    assert f"offerdesk/offers/{digest[:2]}/{digest}.json" in keys
    assert f"offerdesk/reports/{card.report.digest[:2]}/{card.report.digest}.json" in keys
    assert f"offerdesk/letters/{card.letter.letter_id[:2]}/{card.letter.letter_id}.pdf" in keys
    assert not (tmp_path / "worker-machine" / "store").exists()
    assert engine.store.get(Kind.OFFER, digest) == document.model_dump_json().encode()

    # A third machine, the CLI with only the bucket's URL, reads the offer and downloads the letter.
    target = tmp_path / "letter.pdf"
    third = replace(settings, home=tmp_path / "third-machine")
    code, _, err = await cli(
        env,
        third,
        "letter",
        "download",
        rid,
        "LK",
        "-o",
        str(target),
        **aws,
        OFFERDESK_STORE_URL=f"s3://{bucket}/offerdesk",
    )
    assert code == 0, err
    assert target.read_bytes() == engine.store.get(Kind.LETTER, card.letter.letter_id)
