"""The round at a glance: the pure report and its chart, then the CLI and the API against a real dev server."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import re
import time
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import openpyxl  # type: ignore[import-untyped, unused-ignore]
import pytest
from temporalio.testing import WorkflowEnvironment

from offerdesk.config import Settings
from offerdesk.engine import Engine
from offerdesk.portal.errors import portal_wording
from offers.reference import load_partners
from offers.report import HEADER, rate_chart_svg, report_csv, report_table, report_xlsx, round_report
from schemas.landing import AgreedTerms, Approval, LandingZone
from schemas.letter import LetterRef
from schemas.listing import OfferListing
from schemas.offer_state import Deal, IssuedLetter, OfferCard, OfferState, OfferVersion
from schemas.partner import PartnerReference
from schemas.report import RoundReport
from schemas.review import Approve
from schemas.round import RoundStatus
from schemas.validation import Category, CategoryStatus, ReportSummary
from tests.commands import cli
from tests.portal import Portal, offer_in

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
SVG = "{http://www.w3.org/2000/svg}"
MET, MISSING, INVALID = CategoryStatus.MET, CategoryStatus.MISSING, CategoryStatus.INVALID


# ---- the pure report --------------------------------------------------------------------------------


def _status(partners: list[str]) -> RoundStatus:
    return RoundStatus(
        round_id="r-1",
        deadline=NOW + timedelta(days=2),
        review_window=timedelta(days=3),
        approvals_required=2,
        partners=partners,
        opened_at=NOW - timedelta(days=5),
        started=True,
    )


def _zone(code: str, announced: float, proposed: float) -> LandingZone:
    return LandingZone(
        partner=code,
        partner_name=f"Partner {code}",
        baseline_rate_pct=10,
        announced_rate_pct=announced,
        score=0.5,
        proposed_rate_pct=proposed,
        category_scores=[],
        conditions=[],
        strengthen=[],
        policy_version="test",
    )


def _card(
    code: str,
    state: OfferState,
    received: list[datetime],
    categories: dict[Category, CategoryStatus] | None = None,
    zone: LandingZone | None = None,
    agreed: tuple[float, datetime] | None = None,
) -> OfferCard:
    summary = (
        ReportSummary(
            digest=None,
            categories=categories,
            error_count=sum(s is not MET for s in categories.values()),
            warning_count=0,
        )
        if categories is not None
        else None
    )
    versions = [
        OfferVersion(number=i + 1, digest=f"d{i}", received_at=at, report=summary if i == len(received) - 1 else None)
        for i, at in enumerate(received)
    ]
    terms = None
    if agreed is not None:
        assert zone is not None
        rate, at = agreed
        approvals = [Approval(reviewer="ada", at=at)]
        terms = AgreedTerms(
            landing_zone=zone,
            agreed_rate_pct=rate,
            rate_set_by="ada",
            rate_reason="",
            approvals=approvals,
            agreed_at=at,
        )
    return OfferCard(
        round_id="r-1",
        partner=code,
        partner_name=f"Partner {code}",
        state=state,
        deadline=NOW + timedelta(days=2),
        amend_until=NOW + timedelta(days=2),
        review_deadline=None,
        approvals_required=2,
        versions=versions,
        report=summary,
        landing_zone=zone,
        approvals=[],
        changes_requested=[],
        terms=terms,
        letter=None,
    )


def _listed(card: OfferCard, state: str | None = None) -> tuple[OfferListing, OfferCard]:
    listing = OfferListing(
        round_id=card.round_id,
        partner=card.partner,
        state=state or card.state.value,
        review_deadline=None,
        workflow_id=f"offer/r-1/{card.partner}",
        running=True,
    )
    return listing, card


ALL_MET = dict.fromkeys(Category, MET)


def _example() -> RoundReport:
    """JP agreed, VN under review with two versions, KR deficient, EU terminated, GB not yet in visibility."""
    deficient = {**ALL_MET, Category.DIGITAL_TRADE: MISSING, Category.QUOTAS: INVALID}
    jp = _card(
        "JP",
        OfferState.LETTER_ISSUED,
        [NOW - timedelta(days=4)],
        ALL_MET,
        _zone("JP", 24, 16),
        (15, NOW - timedelta(days=1)),
    )
    vn = _card(
        "VN",
        OfferState.UNDER_REVIEW,
        [NOW - timedelta(hours=30), NOW - timedelta(hours=2)],
        ALL_MET,
        _zone("VN", 46, 30),
    )
    kr = _card("KR", OfferState.DEFICIENT, [NOW - timedelta(minutes=90)], deficient)
    eu = _card("EU", OfferState.UNDER_REVIEW, [NOW - timedelta(days=1)], ALL_MET, _zone("EU", 20, 15))
    cards = [_listed(jp), _listed(vn), _listed(kr), _listed(eu, "TERMINATED")]
    return round_report(_status(["JP", "VN", "KR", "EU", "GB"]), cards, load_partners(), as_of=NOW)


def test_the_report_has_one_row_per_invited_partner_in_the_rounds_order() -> None:
    report = _example()
    assert [r.partner for r in report.rows] == ["JP", "VN", "KR", "EU", "GB"]
    assert report.states == {"LETTER_ISSUED": 1, "UNDER_REVIEW": 1, "DEFICIENT": 1, "TERMINATED": 1, "INVITED": 1}


def test_a_partner_not_yet_in_visibility_is_invited_with_its_announced_rate() -> None:
    gb = _example().rows[-1]
    assert (gb.state, gb.versions, gb.categories, gb.time_in_review) == ("INVITED", 0, {}, None)
    assert gb.partner_name == "United Kingdom" and gb.announced_rate_pct == 10
    assert gb.proposed_rate_pct is None and gb.agreed_rate_pct is None and gb.charted_rate_pct is None


def test_categories_come_from_the_latest_versions_report_and_are_tallied() -> None:
    report = _example()
    kr = report.rows[2]
    assert kr.categories[Category.DIGITAL_TRADE] is MISSING and kr.categories[Category.QUOTAS] is INVALID
    assert (kr.count(MET), kr.count(MISSING), kr.count(INVALID)) == (5, 1, 1)
    assert report.categories[Category.DIGITAL_TRADE].model_dump() == {"met": 3, "missing": 1, "invalid": 0}
    assert report.categories[Category.TARIFF_INDUSTRIAL].model_dump() == {"met": 4, "missing": 0, "invalid": 0}


def test_rates_announced_proposed_and_agreed() -> None:
    jp, vn, kr = _example().rows[:3]
    assert (jp.announced_rate_pct, jp.proposed_rate_pct, jp.agreed_rate_pct, jp.charted_rate_pct) == (24, 16, 15, 15)
    assert (vn.announced_rate_pct, vn.proposed_rate_pct, vn.agreed_rate_pct, vn.charted_rate_pct) == (46, 30, None, 30)
    assert kr.announced_rate_pct == 25 and kr.proposed_rate_pct is None  # from data/partners.csv: no zone yet


def test_time_in_review_runs_from_the_first_version_to_the_agreement_or_to_now() -> None:
    jp, vn, kr, eu, gb = _example().rows
    assert jp.time_in_review == timedelta(days=3) and not jp.in_review_ongoing
    assert vn.time_in_review == timedelta(hours=30) and vn.in_review_ongoing and vn.versions == 2
    assert kr.time_in_review == timedelta(minutes=90) and kr.in_review_ongoing
    assert eu.time_in_review is None  # terminated: its card does not say when
    assert gb.time_in_review is None


def test_six_hundred_partners_report_chart_and_exports_quickly() -> None:
    codes = [f"P{i:03d}" for i in range(600)]
    partners = {
        c: PartnerReference(code=c, name=f"Partner {c}", charged_to_us_pct=30, announced_rate_pct=30) for c in codes
    }
    cards = []
    for i, code in enumerate(codes):
        state = (OfferState.UNDER_REVIEW, OfferState.LETTER_ISSUED, OfferState.DEFICIENT)[i % 3]
        zone = _zone(code, 10 + i % 41, 10 + i % 17) if state is not OfferState.DEFICIENT else None
        agreed = (12.0, NOW - timedelta(hours=1)) if state is OfferState.LETTER_ISSUED else None
        cards.append(_listed(_card(code, state, [NOW - timedelta(hours=i % 50 + 2)] * 3, ALL_MET, zone, agreed)))
    started = time.perf_counter()
    report = round_report(_status(codes), list(reversed(cards)), partners, as_of=NOW)
    built = time.perf_counter() - started
    svg = rate_chart_svg(report)
    csv_text = report_csv(report)
    charted = time.perf_counter() - started
    xlsx = report_xlsx(report)
    total = time.perf_counter() - started
    print(f"600 partners: report {built * 1000:.1f} ms, +svg+csv {charted * 1000:.1f} ms, +xlsx {total * 1000:.1f} ms")
    assert [r.partner for r in report.rows] == codes
    assert len(_marks(svg)) == 600 and len(csv_text.splitlines()) == 601 and xlsx.startswith(b"PK")
    assert built < 0.5 and total < 5


# ---- the chart ----------------------------------------------------------------------------------------


def _marks(svg: str) -> list[ET.Element]:
    return ET.fromstring(svg).findall(f".//{SVG}circle[@data-partner]")


def test_the_chart_has_one_mark_per_partner_placed_by_its_rates() -> None:
    svg = rate_chart_svg(_example())
    root = ET.fromstring(svg)  # well-formed XML, so it stands alone as an .svg too
    assert root.tag == f"{SVG}svg" and root.get("id") == "rate-chart"
    marks = {m.get("data-partner"): m for m in _marks(svg)}
    assert list(marks) == ["JP", "VN", "KR", "EU", "GB"]
    kinds = {p: (m.get("class") or "").split()[1] for p, m in marks.items()}
    assert kinds == {"JP": "agreed", "VN": "proposed", "KR": "pending", "EU": "proposed", "GB": "pending"}
    x = {p: float(m.get("cx") or 0) for p, m in marks.items()}
    y = {p: float(m.get("cy") or 0) for p, m in marks.items()}
    assert x["GB"] < x["EU"] < x["JP"] < x["KR"] < x["VN"]  # announced 10 < 20 < 24 < 25 < 46
    assert y["VN"] < y["JP"]  # 30% proposed sits higher than 15% agreed
    assert y["KR"] == y["GB"] > max(y["JP"], y["VN"], y["EU"])  # no proposal: on the strip below the plot
    tip = marks["JP"].find(f"{SVG}title")
    assert tip is not None and tip.text == "JP Partner JP: announced 24%, agreed 15% (LETTER_ISSUED)"


def test_the_chart_escapes_names_and_carries_no_style_attributes() -> None:
    report = _example()
    report.rows[0].partner_name = '<script>alert("x")</script>'
    svg = rate_chart_svg(report)
    assert "<script>" not in svg and "&lt;script&gt;" in svg
    assert "style=" not in svg  # the portal's CSP refuses inline styles
    ET.fromstring(svg)


def test_the_chart_scale_grows_with_a_rate_beyond_fifty() -> None:
    report = _example()
    report.rows[0].agreed_rate_pct = 73
    labels = [t.text for t in ET.fromstring(rate_chart_svg(report)).iter(f"{SVG}text")]
    assert "80%" in labels and "90%" not in labels
    assert "60%" not in [t.text for t in ET.fromstring(rate_chart_svg(_example())).iter(f"{SVG}text")]


# ---- the exports ----------------------------------------------------------------------------------------


def _csv_rows(text: str) -> list[dict[str, str]]:
    assert text.startswith("\ufeff") and "\r" not in text  # UTF-8 with a BOM, lines end in LF (offers.csvfile)
    return list(csv.DictReader(io.StringIO(text.removeprefix("\ufeff"), newline="")))


def test_csv_has_the_matrix_with_seconds_and_blanks() -> None:
    rows = _csv_rows(report_csv(_example()))
    assert [r["partner"] for r in rows] == ["JP", "VN", "KR", "EU", "GB"]
    kr = rows[2]
    assert (kr["digital_trade"], kr["quotas"], kr["met"], kr["missing"], kr["invalid"]) == (
        "missing",
        "invalid",
        "5",
        "1",
        "1",
    )
    assert rows[0]["agreed_rate_pct"] == "15" and rows[0]["time_in_review"] == str(3 * 86400)
    assert rows[1]["time_in_review_ongoing"] == "yes" and rows[0]["time_in_review_ongoing"] == "no"
    assert rows[4]["time_in_review"] == "" and rows[4]["announced_rate_pct"] == "10" and rows[4]["state"] == "INVITED"


def test_spreadsheet_formulas_in_names_stay_text() -> None:
    report = _example()
    report.rows[0].partner_name = '=HYPERLINK("http://x")'
    report.rows[1].partner_name = "@SUM(1)"
    report.rows[2].partner_name = "-1+1"
    report.rows[3].partner_name = " ＝1+2"  # spaces first, a fullwidth sign: spreadsheets run these too
    report.rows[4].partner_name = "\n+1\nsplit"
    assert report_table(report)[1][1].startswith("'=")
    rows = _csv_rows(report_csv(report))
    assert [r["name"] for r in rows[:5]] == [
        '\'=HYPERLINK("http://x")',
        "'@SUM(1)",
        "'-1+1",
        "' ＝1+2",
        "'\n+1\nsplit",
    ]
    assert len(rows) == len(report.rows)  # a line break inside a name is quoted, never a new row
    assert rows[0]["agreed_rate_pct"] == "15"  # a number stays a number


def test_csv_numbers_are_numbers_even_when_negative() -> None:
    report = _example()
    report.rows[0].agreed_rate_pct = -2.5
    report.rows[1].proposed_rate_pct = 17.333333333333332
    rows = _csv_rows(report_csv(report))
    assert rows[0]["agreed_rate_pct"] == "-2.5" and rows[1]["proposed_rate_pct"] == "17.333333333333332"


def test_xlsx_holds_the_same_matrix_with_real_durations() -> None:
    report = _example()
    book = openpyxl.load_workbook(io.BytesIO(report_xlsx(report)))
    sheet = book["Report"]
    values = [list(r) for r in sheet.iter_rows(values_only=True)]
    assert values[0] == HEADER
    assert [v[0] for v in values[1:]] == ["JP", "VN", "KR", "EU", "GB"]
    jp = dict(zip(HEADER, values[1], strict=True))
    assert jp["time_in_review"] == timedelta(days=3) and jp["agreed_rate_pct"] == 15
    assert jp["first_received_at_utc"] == (NOW - timedelta(days=4)).replace(tzinfo=None)
    assert "first version received" in str(book["About"]["B4"].value)


# ---- answers to letters (issue 25) ------------------------------------------------------------------------


def _answered() -> RoundReport:
    """JP countered letter 1 and accepted letter 2 at 12%; VN's letter went unanswered; KR is under review."""
    zone = _zone("JP", 24, 16)
    jp = _card("JP", OfferState.ACCEPTED, [NOW - timedelta(days=4), NOW - timedelta(days=2)], ALL_MET, zone, (12, NOW))
    ref = LetterRef(letter_id="a" * 64, sha256="a" * 64, size=1, pages=2, filename="l.pdf")
    letters = [IssuedLetter(number=n, version=n, issued_at=NOW, ref=ref, terms=jp.terms) for n in (1, 2)]
    deal = Deal(letter=2, version=2, rate_pct=12, accepted_by="kenji", accepted_at=NOW)
    jp = jp.model_copy(update={"letters": letters, "deal": deal, "letter": ref})
    vn = _card("VN", OfferState.UNANSWERED, [NOW - timedelta(days=3)], ALL_MET, _zone("VN", 46, 30), (20, NOW))
    vn = vn.model_copy(update={"letters": letters[:1], "letter": ref, "respond_by": NOW})
    kr = _card("KR", OfferState.UNDER_REVIEW, [NOW - timedelta(days=1)], ALL_MET, _zone("KR", 25, 18))
    return round_report(
        _status(["JP", "VN", "KR"]), [_listed(jp), _listed(vn), _listed(kr)], load_partners(), as_of=NOW
    )


def test_the_report_counts_answers_and_letters_and_marks_the_deal() -> None:
    report = _answered()
    assert (report.accepted, report.countered, report.unanswered) == (1, 1, 1)
    jp, vn, kr = report.rows
    assert (jp.letters, jp.countered, jp.deal_rate_pct, jp.charted_rate_pct) == (2, True, 12, 12)
    assert (vn.letters, vn.countered, vn.deal_rate_pct, vn.charted_rate_pct) == (1, False, None, 20)
    assert (kr.letters, kr.countered) == (0, False)
    assert jp.time_in_review == timedelta(days=4) and vn.time_in_review is not None  # agreed terms stop the clock

    svg = rate_chart_svg(report)
    marks = {m.get("data-partner"): m for m in _marks(svg)}
    assert (marks["JP"].get("class"), marks["VN"].get("class")) == ("mark deal", "mark agreed")
    tip = marks["JP"].find(f"{SVG}title")
    assert tip is not None and tip.text == "JP Partner JP: announced 24%, the deal 12% (ACCEPTED, 2 letters)"
    assert len(ET.fromstring(svg).findall(f".//{SVG}circle[@class='deal-ring']")) == 1
    assert "1 with a deal" in svg

    rows = _csv_rows(report_csv(report))
    assert [(r["letters"], r["countered"], r["accepted"], r["deal_rate_pct"]) for r in rows] == [
        ("2", "yes", "yes", "12"),
        ("1", "no", "no", ""),
        ("0", "no", "no", ""),
    ]
    counted = (  # the round's counts, as whoever opens the CSV counts them
        sum(r["accepted"] == "yes" for r in rows),
        sum(r["countered"] == "yes" for r in rows),
        sum(r["state"] == "UNANSWERED" for r in rows),
    )
    assert counted == (report.accepted, report.countered, report.unanswered)
    book = openpyxl.load_workbook(io.BytesIO(report_xlsx(report)))
    values = [list(r) for r in book["Report"].iter_rows(values_only=True)]
    jp_row = dict(zip(HEADER, values[1], strict=True))
    assert (jp_row["letters"], jp_row["countered"], jp_row["accepted"], jp_row["deal_rate_pct"]) == (2, True, True, 12)
    about = {row[0]: row[1] for row in book["About"].iter_rows(values_only=True)}
    assert about["accepted / countered / unanswered"] == "1 / 1 / 1"


# ---- refusals in the portal's words ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("engine_says", "portal_says"),
    [
        ("JP was already submitted (version 1); send a changed document with 'offer amend'", "use Amend the offer"),
        ("JP has not been submitted yet; use 'offer submit' first", "use Submit the offer first"),
        ("an adjusted rate needs a reason; add --reason", "give a reason"),
        ("round x does not exist; open it with 'offerdesk round open'", "open it on the Rounds page"),
    ],
)
def test_refusals_in_the_portal_name_its_buttons(engine_says: str, portal_says: str) -> None:
    said = portal_wording(engine_says)
    assert portal_says in said and "'offer" not in said and "--" not in said and "offerdesk" not in said


# ---- against a real dev server ------------------------------------------------------------------------------


async def _reviewed_round(engine: Engine) -> str:
    """JP agreed at 15% (letter issued), PH under review, and the rest as they come."""
    rid = await offer_in(engine, "UNDER_REVIEW", ["JP", "PH"], approvals=1)
    await engine.approve(rid, "JP", Approve(reviewer="Rev One", version=1, rate_pct=15, reason="the industrial cuts"))
    await engine.wait_for(rid, "JP", {OfferState.LETTER_ISSUED}, timeout=timedelta(minutes=2))
    return rid


async def _settled(engine: Engine, rid: str, states: dict[str, str]) -> None:
    """Visibility lags the workflows by a moment: wait until it lists each offer in its state."""
    for _ in range(100):
        listed = {o.partner: o.state for o in await engine.list_offers(round_id=rid)}
        if all(listed.get(p) == s for p, s in states.items()):
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"visibility never showed {states} for {rid}")


@pytest.mark.asyncio(loop_scope="session")
async def test_cli_report_as_table_json_and_xlsx(
    env: WorkflowEnvironment, settings: Settings, engine: Engine, tmp_path: Path
) -> None:
    rid = await _reviewed_round(engine)
    await _settled(engine, rid, {"JP": "LETTER_ISSUED", "PH": "UNDER_REVIEW"})

    code, out, err = await cli(env, settings, "round", "report", rid, "--json")
    assert code == 0, err
    report = RoundReport.model_validate_json(out)
    jp, ph = report.rows
    assert (jp.partner, jp.state, jp.agreed_rate_pct, jp.announced_rate_pct) == ("JP", "LETTER_ISSUED", 15, 24)
    assert jp.categories == ALL_MET and jp.versions == 1 and not jp.in_review_ongoing
    assert jp.time_in_review is not None and jp.time_in_review < timedelta(minutes=5)
    assert (
        (ph.partner, ph.state) == ("PH", "UNDER_REVIEW") and ph.proposed_rate_pct is not None and ph.in_review_ongoing
    )

    code, out, err = await cli(env, settings, "round", "report", rid)
    assert code == 0 and "LETTER_ISSUED" in out and "15%" in out and "so far" in out, err

    target = tmp_path / "report.xlsx"
    code, out, err = await cli(env, settings, "round", "report", rid, "-o", str(target))
    assert code == 0 and out == "" and "report.xlsx" in err
    sheet = openpyxl.load_workbook(target)["Report"]
    assert [r[0] for r in sheet.iter_rows(min_row=2, values_only=True)] == ["JP", "PH"]

    code, _, err = await cli(env, settings, "round", "report", rid, "-o", str(tmp_path / "r.pdf"))
    assert code == 2 and ".xlsx" in err and not (tmp_path / "r.pdf").exists()
    code, out, err = await cli(env, settings, "round", "report", rid + "-nope", "--json")
    assert code == 1 and "does not exist" in err and out == ""


@pytest.mark.asyncio(loop_scope="session")
async def test_cli_report_counts_every_invited_partner(
    env: WorkflowEnvironment, settings: Settings, engine: Engine
) -> None:
    rid = await offer_in(engine, "INVITED", ["KH", "LA"])
    code, out, err = await cli(env, settings, "round", "report", rid, "--json")
    assert code == 0, err
    rows = json.loads(out)["rows"]
    assert [(r["partner"], r["state"], r["versions"]) for r in rows] == [("KH", "INVITED", 0), ("LA", "INVITED", 0)]


@pytest.mark.asyncio(loop_scope="session")
async def test_cli_keeps_its_own_wording_for_a_missing_reason(
    env: WorkflowEnvironment, settings: Settings, engine: Engine
) -> None:
    rid = await offer_in(engine, "UNDER_REVIEW", ["NO"], approvals=1)
    code, _, err = await cli(env, settings, "review", "approve", rid, "NO", "--version", "1", "--rate", "12")
    assert code == 1 and "--reason" in err


API = "/api/rounds/{r}/report"


@pytest.mark.asyncio(loop_scope="session")
async def test_api_report_json_csv_and_xlsx_for_staff(portal: Portal, engine: Engine) -> None:
    from schemas.portal import Role

    rid = await _reviewed_round(engine)
    await _settled(engine, rid, {"JP": "LETTER_ISSUED", "PH": "UNDER_REVIEW"})
    staff = portal.user(Role.STAFF)
    async with staff.api() as api:
        answer = await api.get(API.format(r=rid))
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert [r["partner"] for r in body["rows"]] == ["JP", "PH"]
        assert body["rows"][0]["agreed_rate_pct"] == 15 and body["states"] == {"LETTER_ISSUED": 1, "UNDER_REVIEW": 1}
        assert body["categories"]["digital_trade"] == {"met": 2, "missing": 0, "invalid": 0}
        assert "first version received" in body["time_in_review_defined_as"]

        as_csv = await api.get(API.format(r=rid) + ".csv")
        assert as_csv.status_code == 200 and as_csv.headers["content-type"].startswith("text/csv")
        assert f'filename="offerdesk-{rid}-report.csv"' in as_csv.headers["content-disposition"]
        rows = _csv_rows(as_csv.text)
        assert [(r["partner"], r["state"], r["agreed_rate_pct"]) for r in rows] == [
            ("JP", "LETTER_ISSUED", "15"),
            ("PH", "UNDER_REVIEW", ""),
        ]

        as_xlsx = await api.get(API.format(r=rid) + ".xlsx")
        assert as_xlsx.status_code == 200 and "spreadsheetml" in as_xlsx.headers["content-type"]
        sheet = openpyxl.load_workbook(io.BytesIO(as_xlsx.content))["Report"]
        assert [r[0] for r in sheet.iter_rows(min_row=2, values_only=True)] == ["JP", "PH"]

        nowhere = await api.get(API.format(r=rid + "-nope"))
        assert nowhere.status_code == 404 and nowhere.json()["error"] == "NoRound"
        assert "Rounds page" in nowhere.json()["message"] and "offerdesk" not in nowhere.json()["message"]


@pytest.mark.asyncio(loop_scope="session")
async def test_only_staff_see_the_report(portal: Portal, engine: Engine) -> None:
    from schemas.portal import Role

    rid = await offer_in(engine, "INVITED", ["TH"])
    for user in (portal.user(Role.REVIEWER), portal.user(Role.NEGOTIATOR, "TH")):
        async with user.api() as api:
            for suffix in ("", ".csv", ".xlsx"):
                answer = await api.get(API.format(r=rid) + suffix)
                assert answer.status_code == 403, f"{user.role.value} {suffix}: {answer.status_code}"
                assert answer.json()["error"] == "Forbidden"
        client, _ = await user.browser_session()
        try:
            for suffix in ("", ".csv", ".xlsx"):
                assert (await client.get(f"/rounds/{rid}/report{suffix}")).status_code == 403
        finally:
            await client.aclose()
    async with httpx.AsyncClient(base_url=portal.url) as anonymous:
        assert (await anonymous.get(API.format(r=rid))).status_code == 401
        assert (await anonymous.get(f"/rounds/{rid}/report")).status_code == 303


@pytest.mark.asyncio(loop_scope="session")
async def test_a_missing_reason_is_asked_for_in_the_portals_words(portal: Portal, engine: Engine) -> None:
    from schemas.portal import Role

    rid = await offer_in(engine, "UNDER_REVIEW", ["TN"], approvals=1)
    async with portal.user(Role.REVIEWER).api() as api:
        answer = await api.post(f"/api/rounds/{rid}/offers/TN/approve", json={"version": 1, "rate_pct": 10})
    assert answer.status_code == 422 and answer.json()["error"] == "ReasonRequired"
    assert "give a reason" in answer.json()["message"] and "--reason" not in answer.json()["message"]


@pytest.mark.asyncio(loop_scope="session")
async def test_the_dashboard_shows_when_invited_offers_close_and_links_the_report(
    portal: Portal, engine: Engine
) -> None:
    from schemas.portal import Role

    rid = await offer_in(engine, "INVITED", ["FJ"])
    client, _ = await portal.user(Role.STAFF).browser_session()
    try:
        page = await client.get(f"/rounds/{rid}")
    finally:
        await client.aclose()
    assert page.status_code == 200
    row = page.text[page.text.index('href="/rounds/' + rid + '/offers/FJ"') :]
    row = row[: row.index("</tr>")]
    assert "submissions close" in row and " UTC" in row
    left = row[row.index('class="left">') + len('class="left">') :].split("<")[0]
    assert re.fullmatch(r"[1-4] m [0-9]{1,2} s", left), left  # the round closes 5 minutes after it opened
    assert f'href="/rounds/{rid}/report"' in page.text


def test_a_time_in_review_is_counted_to_the_second() -> None:
    """The API gives it as an RFC 3339 duration, which has no fractions of a second ("PT1M0.69S" is not one)."""
    kr = _card("KR", OfferState.DEFICIENT, [NOW - timedelta(minutes=1, seconds=0.691741)], ALL_MET)
    report = round_report(_status(["KR"]), [_listed(kr)], load_partners(), as_of=NOW)
    assert report.rows[0].time_in_review == timedelta(minutes=1, seconds=1)
    assert report.model_dump(mode="json")["rows"][0]["time_in_review"] == "PT1M1S"
