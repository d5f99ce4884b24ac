"""Reading an offer and what changed: the pure functions, then the API, the offer's page and the CLI for real."""

from __future__ import annotations

import json
import re
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from temporalio.testing import WorkflowEnvironment

from offerdesk.config import Settings
from offerdesk.engine import Engine
from offerdesk.portal.content import finding_href, line_number
from offerdesk.samples import sample_offer
from offers.diff import diff_documents
from offers.hs import GoodsKind, classify_hs
from offers.lines import filter_lines, page_of
from offers.validation import validate_offer
from schemas.diff import LineKind
from schemas.offer import OfferDocument
from schemas.portal import Role
from schemas.validation import Category, CategoryStatus
from tests.commands import cli
from tests.portal import Portal, offer_in

OFFER = "/api/rounds/{r}/offers/{p}"
OFFERDESK = str(Path(sys.executable).parent / "offerdesk")
TODAY = datetime.now(UTC).date()


def with_lines(doc: OfferDocument, changes: dict[int, dict[str, Any]]) -> OfferDocument:
    """The document with some tariff lines' fields replaced."""
    lines = [line.model_copy(update=changes.get(i, {})) for i, line in enumerate(doc.tariff_commitments)]
    return doc.model_copy(update={"tariff_commitments": lines})


def amended(doc: OfferDocument) -> OfferDocument:
    """Version 2 of a deficient sample: line 0 cut further, line 1 gone, a new line, the digital and security
    pledges added, a measure's detail reworded, a quota opened further."""
    complete = sample_offer(doc.round_id, doc.partner, lines=len(doc.tariff_commitments), seed=1, received=TODAY)
    lines = list(doc.tariff_commitments)
    lines[0] = lines[0].model_copy(update={"offered_rate_pct": lines[0].current_rate_pct * 0.1, "staging_years": 9})
    removed = lines.pop(1)
    assert removed.hs_code != "0101.21"
    lines.append(lines[0].model_copy(update={"hs_code": "0101.21", "description": "Live horses", "staging_years": 0}))
    measures = list(doc.non_tariff_barriers)
    measures[0] = measures[0].model_copy(update={"detail": "Recognize FMVSS in full, from day one."})
    quotas = [doc.quota_commitments[0].model_copy(update={"offered_quota_tonnes": 250_000.0})]
    return doc.model_copy(
        update={
            "tariff_commitments": lines,
            "non_tariff_barriers": measures,
            "quota_commitments": quotas,
            "digital_trade": complete.digital_trade,
            "economic_security": complete.economic_security,
        }
    )


# ---- filter_lines ------------------------------------------------------------------------------


def test_lines_filter_by_chapter_kind_and_no_change() -> None:
    same = {"offered_rate_pct": 1.0, "current_rate_pct": 1.0}
    doc = with_lines(sample_offer("r-1", "JP", lines=400, seed=1), {7: same, 301: same})
    everything = filter_lines(doc, per_page=1000)
    assert everything.total == everything.matched == 400 and everything.pages == 1
    assert [n.index for n in everything.lines] == list(range(400))

    chapter = filter_lines(doc, chapter="87", per_page=1000)
    assert chapter.matched == sum(line.hs_code.startswith("87") for line in doc.tariff_commitments) > 0
    assert {n.line.hs_code[:2] for n in chapter.lines} == {"87"}
    assert "87" in chapter.chapters and "02" in chapter.chapters

    farm = filter_lines(doc, kind=LineKind.AGRICULTURAL, per_page=1000)
    industry = filter_lines(doc, kind=LineKind.INDUSTRIAL, per_page=1000)
    assert farm.matched + industry.matched == 400 and farm.matched > 0 and industry.matched > 0
    assert all(classify_hs(n.line.hs_code) is GoodsKind.AGRICULTURAL for n in farm.lines)
    assert all(classify_hs(n.line.hs_code) is GoodsKind.INDUSTRIAL for n in industry.lines)

    unchanged = filter_lines(doc, no_change=True)
    assert [n.index for n in unchanged.lines] == [7, 301]
    assert filter_lines(doc, chapter=doc.tariff_commitments[7].hs_code[:2], no_change=True).lines[0].index == 7


def test_lines_come_in_pages_and_a_page_past_the_end_gives_the_last() -> None:
    doc = sample_offer("r-1", "JP", lines=250, seed=2)
    second = filter_lines(doc, page=2)
    assert (second.page, second.pages, second.per_page) == (2, 3, 100)
    assert [n.index for n in second.lines] == list(range(100, 200))
    last = filter_lines(doc, page=99)
    assert last.page == 3 and [n.index for n in last.lines] == list(range(200, 250))
    assert page_of(0) == 1 and page_of(99) == 1 and page_of(100) == 2 and page_of(12_345) == 124
    nothing = filter_lines(doc, chapter="03")
    assert nothing.matched == 0 and nothing.lines == [] and nothing.pages == 1


def test_lines_with_an_unusable_code_are_kept_as_invalid_and_bad_filters_are_refused() -> None:
    doc = with_lines(sample_offer("r-1", "JP", lines=10, seed=2), {4: {"hs_code": "87.3"}})
    invalid = filter_lines(doc, kind=LineKind.INVALID)
    assert [(n.index, n.chapter) for n in invalid.lines] == [(4, None)]
    with pytest.raises(ValueError, match="2 digits"):
        filter_lines(doc, chapter="8")
    with pytest.raises(ValueError, match="per_page"):
        filter_lines(doc, per_page=0)


def test_filtering_a_full_schedule_of_15000_lines_is_quick() -> None:
    doc = sample_offer("r-1", "JP", lines=15_000, seed=4)
    started = time.perf_counter()
    first = filter_lines(doc, chapter="87", kind=LineKind.INDUSTRIAL)
    cold = time.perf_counter() - started
    started = time.perf_counter()
    again = filter_lines(doc, chapter="02", page=3)
    warm = time.perf_counter() - started
    print(f"filter_lines on 15,000 lines: {cold * 1000:.0f} ms cold, {warm * 1000:.0f} ms warm")
    assert first.total == 15_000 and first.matched > 100 and len(first.lines) == 100
    assert again.page == 3 and all(n.chapter == "02" for n in again.lines)
    assert cold < 2.0 and warm < 0.5


# ---- diff_documents ----------------------------------------------------------------------------


def test_the_diff_names_lines_added_removed_and_changed_by_hs_code() -> None:
    old = sample_offer("r-1", "JP", lines=40, seed=1, received=TODAY, deficient=True)
    new = amended(old)
    diff = diff_documents(old, new, validate_offer(old, TODAY), validate_offer(new, TODAY))

    assert [line.hs_code for line in diff.tariff_lines.added] == ["0101.21"]
    assert [line.hs_code for line in diff.tariff_lines.removed] == [old.tariff_commitments[1].hs_code]
    [changed] = diff.tariff_lines.changed
    assert changed.hs_code == old.tariff_commitments[0].hs_code
    was = old.tariff_commitments[0]
    assert [(c.field, c.from_, c.to) for c in changed.changes] == [
        ("offered_rate_pct", was.offered_rate_pct, was.current_rate_pct * 0.1),
        ("staging_years", was.staging_years, 9),
    ]
    assert [(q.hs_code, [c.field for c in q.changes]) for q in diff.quotas.changed] == [
        (old.quota_commitments[0].hs_code, ["offered_quota_tonnes"])
    ]
    assert [(m.measure, [c.field for c in m.changes]) for m in diff.non_tariff_barriers.changed] == [
        (old.non_tariff_barriers[0].measure, ["detail"])
    ]
    assert {p.category for p in diff.pledges.added} == {Category.DIGITAL_TRADE, Category.ECONOMIC_SECURITY}
    assert diff.pledges.removed == []
    assert {(c.category, c.from_, c.to) for c in diff.categories} == {
        (Category.DIGITAL_TRADE, CategoryStatus.MISSING, CategoryStatus.MET),
        (Category.ECONOMIC_SECURITY, CategoryStatus.MISSING, CategoryStatus.MET),
    }
    assert not diff.empty
    as_json = json.loads(diff.model_dump_json())
    assert as_json["tariff_lines"]["changed"][0]["changes"][0].keys() == {"field", "from", "to"}


def test_the_same_document_twice_has_no_changes_and_the_reverse_diff_mirrors() -> None:
    old = sample_offer("r-1", "JP", lines=40, seed=1, received=TODAY, deficient=True)
    new = amended(old)
    assert diff_documents(old, old).empty
    forward, back = diff_documents(old, new), diff_documents(new, old)
    assert back.tariff_lines.added == forward.tariff_lines.removed
    assert back.tariff_lines.removed == forward.tariff_lines.added
    assert [c.from_ for c in back.tariff_lines.changed[0].changes] == [
        c.to for c in forward.tariff_lines.changed[0].changes
    ]
    assert {p.text for p in back.pledges.removed} == {p.text for p in forward.pledges.added}


def test_a_code_written_another_way_is_the_same_line_and_repeated_codes_pair_in_order() -> None:
    old = sample_offer("r-1", "JP", lines=5, seed=1)
    first = old.tariff_commitments[0]
    dotted = first.hs_code
    new = with_lines(old, {0: {"hs_code": dotted.replace(".", "")}})
    [changed] = diff_documents(old, new).tariff_lines.changed
    assert [(c.field, c.from_, c.to) for c in changed.changes] == [("hs_code", dotted, dotted.replace(".", ""))]
    doubled = old.model_copy(update={"tariff_commitments": [*old.tariff_commitments, first]})
    diff = diff_documents(old, doubled)
    assert diff.tariff_lines.added == [first] and not diff.tariff_lines.changed and not diff.tariff_lines.removed


def test_the_document_fields_and_a_missing_report_show_as_changes() -> None:
    old = sample_offer("r-1", "JP", lines=5, seed=1, received=TODAY)
    new = old.model_copy(update={"summary": "Shorter.", "no_quotas_on_us_goods": True})
    diff = diff_documents(old, new, validate_offer(old, TODAY), None)
    assert [(c.field, c.to) for c in diff.document] == [("summary", "Shorter."), ("no_quotas_on_us_goods", True)]
    assert {c.category for c in diff.categories} == set(Category) and all(c.to is None for c in diff.categories)


def test_diffing_two_full_schedules_is_quick() -> None:
    old = sample_offer("r-1", "JP", lines=15_000, seed=4)
    new = with_lines(old, {i: {"offered_rate_pct": 0.0} for i in range(0, 15_000, 7)})
    started = time.perf_counter()
    diff = diff_documents(old, new)
    took = time.perf_counter() - started
    print(f"diff_documents on 15,000 lines: {took * 1000:.0f} ms")
    expected = sum(1 for i in range(0, 15_000, 7) if old.tariff_commitments[i].offered_rate_pct != 0.0)
    assert len(diff.tariff_lines.changed) == expected > 1000
    assert took < 3.0


def test_findings_link_to_the_page_of_lines_that_holds_them() -> None:
    base = "/rounds/r-1/offers/JP"
    assert finding_href(base, "tariff_commitments[12].hs_code") == f"{base}?page=1#line-13"  # people count from 1
    assert finding_href(base, "tariff_commitments[250].offered_rate_pct") == f"{base}?page=3#line-251"
    assert finding_href(base, "tariff_commitments[99].hs_code") == f"{base}?page=1#line-100"
    assert finding_href(base, "tariff_commitments[100].hs_code") == f"{base}?page=2#line-101"
    assert line_number("tariff_commitments[0].hs_code") == 1 and line_number("quota_commitments[0]") is None
    assert finding_href(base, "quota_commitments[0].offered_quota_tonnes") == f"{base}#quota-0"
    assert finding_href(base, "digital_trade") is None
    assert finding_href(base, "submitted_by.email") == f"{base}#contact"


# ---- the API and the page, for real ------------------------------------------------------------

pytest_asyncio_mark = pytest.mark.asyncio(loop_scope="session")


@pytest_asyncio_mark
async def test_the_api_shows_what_changed_after_an_amendment(portal: Portal, engine: Engine) -> None:
    rid = await offer_in(engine, "INVITED", ["JP", "EU"])
    negotiator = portal.user(Role.NEGOTIATOR, "JP")
    first = sample_offer(rid, "JP", lines=40, seed=1, received=TODAY, deficient=True)
    async with negotiator.api() as api:
        for doc in (first, amended(first)):
            sent = await api.post(OFFER.format(r=rid, p="JP") + "/versions", json=json.loads(doc.model_dump_json()))
            assert sent.status_code == 201, sent.text

    reviewer = portal.user(Role.REVIEWER)
    async with reviewer.api() as api:
        answer = await api.get(OFFER.format(r=rid, p="JP") + "/diff")
        assert answer.status_code == 200, answer.text
        diff = answer.json()
        assert (diff["from_version"], diff["to_version"]) == (1, 2)
        assert [line["hs_code"] for line in diff["tariff_lines"]["added"]] == ["0101.21"]
        assert [line["hs_code"] for line in diff["tariff_lines"]["removed"]] == [first.tariff_commitments[1].hs_code]
        assert diff["tariff_lines"]["changed"][0]["hs_code"] == first.tariff_commitments[0].hs_code
        assert {"category": "digital_trade", "from": "missing", "to": "met"} in diff["categories"]
        assert diff["non_tariff_barriers"]["changed"][0]["changes"][0]["to"] == "Recognize FMVSS in full, from day one."

        back = (await api.get(OFFER.format(r=rid, p="JP") + "/diff", params={"from": 2, "to": 1})).json()
        assert back["tariff_lines"]["added"] == diff["tariff_lines"]["removed"]
        same = (await api.get(OFFER.format(r=rid, p="JP") + "/diff", params={"from": 2})).json()
        assert same["tariff_lines"] == {"added": [], "removed": [], "changed": []} and same["categories"] == []

        missing = await api.get(OFFER.format(r=rid, p="JP") + "/diff", params={"from": 9})
        assert missing.status_code == 404 and "there is no version 9" in missing.json()["message"]

    async with negotiator.api() as api:  # their own offer: yes; another partner's: nothing to see
        assert (await api.get(OFFER.format(r=rid, p="JP") + "/diff")).status_code == 200
        other = await api.get(OFFER.format(r=rid, p="EU") + "/diff")
        assert other.status_code == 404
        assert (await api.get(OFFER.format(r=rid, p="EU") + "/lines")).status_code == 404


@pytest_asyncio_mark
async def test_the_api_pages_and_filters_the_lines(portal: Portal, engine: Engine) -> None:
    rid = await offer_in(engine, "INVITED", ["KR"])
    same = {"offered_rate_pct": 7.5, "current_rate_pct": 7.5}
    doc = with_lines(sample_offer(rid, "KR", lines=450, seed=2, received=TODAY), {321: same})
    await engine.submit(doc, by="negotiator")
    staff = portal.user(Role.STAFF)
    async with staff.api() as api:
        url = OFFER.format(r=rid, p="KR") + "/lines"
        page = (await api.get(url, params={"page": 5})).json()
        assert (page["total"], page["page"], page["pages"]) == (450, 5, 5)
        assert [n["index"] for n in page["lines"]] == list(range(400, 450))
        cars = (await api.get(url, params={"chapter": "87", "per_page": 1000})).json()
        assert cars["matched"] == sum(line.hs_code.startswith("87") for line in doc.tariff_commitments) > 0
        assert {n["line"]["hs_code"][:2] for n in cars["lines"]} == {"87"}
        farm = (await api.get(url, params={"kind": "agricultural", "per_page": 1000})).json()
        assert {n["kind"] for n in farm["lines"]} == {"agricultural"} and 0 < farm["matched"] < 450
        unchanged = (await api.get(url, params={"no_change": "true"})).json()
        assert [n["index"] for n in unchanged["lines"]] == [321]
        bad = await api.get(url, params={"chapter": "8"})
        assert bad.status_code == 422 and "chapter" in bad.json()["message"]
        no_diff = await api.get(OFFER.format(r=rid, p="KR") + "/diff")
        assert no_diff.status_code == 409 and "only version 1" in no_diff.json()["message"]

    # The page: the lines' form and table, and the no-change warning linking to the page that holds line 321.
    client, _ = await staff.browser_session()
    try:
        html = (await client.get(f"/rounds/{rid}/offers/KR")).text
        assert 'id="lines-filter"' in html and 'id="line-1"' in html and 'id="line-100"' in html
        assert 'id="line-101"' not in html and "<td>1</td><td><code>" in html
        assert f'href="/rounds/{rid}/offers/KR?page=4#line-322"' in html  # tariff_commitments[321] is line 322
        assert "<code>tariff_commitments[321].offered_rate_pct</code> (line 322)</a>" in html
        assert 'id="diff"' not in html  # one version: nothing to compare
        page4 = (await client.get(f"/rounds/{rid}/offers/KR", params={"page": 4})).text
        assert 'id="line-322"' in page4 and "450 of 450 lines; page 4 of 5" in page4
        code = re.escape(doc.tariff_commitments[321].hs_code)
        assert re.search(rf'<tr id="line-322" class="\w+ no-change"><td>322</td><td><code>{code}</code>', page4)
        filtered = (await client.get(f"/rounds/{rid}/offers/KR", params={"chapter": "8", "kind": "nonsense"})).text
        assert "is not an HS chapter" in filtered and "450 of 450 lines" in filtered
        for part in ("Tariff-rate quotas", "Non-tariff barriers", "Digital trade", "Economic security"):
            assert part in html
        assert doc.non_tariff_barriers[0].measure in html and doc.country_specific[0].commitment in html
        assert doc.submitted_by.email in html and re.search(r'id="quota-0"', html)
    finally:
        await client.aclose()


# ---- the CLI -----------------------------------------------------------------------------------


@pytest_asyncio_mark
async def test_the_cli_shows_what_changed(env: WorkflowEnvironment, settings: Settings, engine: Engine) -> None:
    rid = await offer_in(engine, "INVITED", ["VN"])
    first = sample_offer(rid, "VN", lines=40, seed=1, received=TODAY, deficient=True)
    await engine.submit(first, by="negotiator")
    code, _, err = await cli(env, settings, "offer", "diff", rid, "VN")
    assert code == 1 and "has only version 1" in err, err
    await engine.submit(amended(first), amend=True, by="negotiator")

    code, out, err = await cli(env, settings, "offer", "diff", rid, "vn", "--json")
    assert code == 0, err
    diff = json.loads(out)
    assert (diff["from_version"], diff["to_version"]) == (1, 2)
    assert [line["hs_code"] for line in diff["tariff_lines"]["added"]] == ["0101.21"]
    assert {"category": "economic_security", "from": "missing", "to": "met"} in diff["categories"]

    code, out, err = await cli(env, settings, "offer", "diff", rid, "VN")
    assert code == 0, err
    assert "version 1 → version 2" in out and "tariff lines: 1 added, 1 removed, 1 changed" in out
    assert "digital_trade: missing → met" in out and "0101.21 Live horses" in out
    assert "offered_quota_tonnes" in out and "Recognize FMVSS in full" in out

    code, out, err = await cli(env, settings, "offer", "diff", rid, "VN", "--from", "2", "--to", "2")
    assert code == 0 and "nothing changed" in out, err
    code, _, err = await cli(env, settings, "offer", "diff", rid, "VN", "--from", "5")
    assert code == 1 and "there is no version 5" in err
