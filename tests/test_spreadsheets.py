"""Offers as .xlsx workbooks: the template, reading a filled one (naming bad cells), exporting, round trips.

The reading and writing are tested directly; then the real `offerdesk` command and a real portal process take
workbooks as a negotiator would send them.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx
import pytest
from openpyxl import Workbook, load_workbook
from pydantic import BaseModel
from temporalio.testing import WorkflowEnvironment

from offerdesk.config import Settings
from offerdesk.engine import Engine
from offerdesk.samples import sample_offer
from offers.documents import UnusableInputError, load_offer, parse_offer
from offers.spreadsheets import export_offer, read_workbook, write_workbook
from schemas.offer import OfferDocument
from schemas.portal import Role
from tests.commands import cli
from tests.portal import Portal, offer_in

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _bytes(wb: Workbook) -> bytes:
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def _edited(document: OfferDocument, cells: dict[str, Any]) -> bytes:
    """The document's workbook with some cells changed: {"Tariffs!D14": "three"}."""
    wb = load_workbook(io.BytesIO(write_workbook(document)))
    for where, value in cells.items():
        sheet, ref = where.rsplit("!", 1)
        wb[sheet][ref] = value
    return _bytes(wb)


def fill_template(template: Path, document: OfferDocument) -> None:
    """Fill a blank template cell by cell as a person would, finding each column by its header."""
    wb = load_workbook(template)
    offer = wb["Offer"]
    rows = {offer.cell(r, 1).value: r for r in range(2, offer.max_row + 1)}
    header = {
        "round_id": document.round_id,
        "partner": document.partner,
        "submitted_by.name": document.submitted_by.name,
        "submitted_by.email": document.submitted_by.email,
        "summary": document.summary,
        "no_quotas_on_us_goods": "yes" if document.no_quotas_on_us_goods else "no",
    }
    for key, value in header.items():
        offer.cell(rows[key], 2, value)
    sheets: dict[str, Sequence[BaseModel]] = {
        "Tariffs": document.tariff_commitments,
        "Quotas": document.quota_commitments,
        "Non-tariff barriers": document.non_tariff_barriers,
        "Digital trade": document.digital_trade,
        "Economic security": document.economic_security,
        "Country-specific": document.country_specific,
    }
    fields = {
        "HS code": "hs_code",
        "Description": "description",
        "Current rate %": "current_rate_pct",
        "Offered rate %": "offered_rate_pct",
        "Staging years": "staging_years",
        "Current quota (t)": "current_quota_tonnes",
        "Offered quota (t)": "offered_quota_tonnes",
        "In-quota rate %": "in_quota_rate_pct",
        "Measure": "measure",
        "Action": "action",
        "Detail": "detail",
        "Effective by": "effective_by",
        "Topic": "topic",
        "Pledge": "pledge",
        "Commitment": "commitment",
        "Value (USD)": "value_usd",
        "By year": "by_year",
    }
    for title, items in sheets.items():
        ws = wb[title]
        columns = {fields[c.value]: c.column for c in ws[1] if c.value}
        for r, item in enumerate(items, start=2):
            for key, value in item.model_dump().items():
                ws.cell(r, columns[key], value)
    wb.save(template)


# ---- the template ------------------------------------------------------------------------------


def test_the_template_has_a_sheet_per_category_headers_lists_and_instructions() -> None:
    wb = load_workbook(io.BytesIO(write_workbook()))
    assert wb.sheetnames == [
        "Instructions",
        "Offer",
        "Tariffs",
        "Quotas",
        "Non-tariff barriers",
        "Digital trade",
        "Economic security",
        "Country-specific",
    ]
    assert [c.value for c in wb["Tariffs"][1]] == [
        "HS code",
        "Description",
        "Current rate %",
        "Offered rate %",
        "Staging years",
    ]
    assert [wb["Offer"].cell(r, 1).value for r in range(2, 9)] == [
        "schema_version",
        "round_id",
        "partner",
        "submitted_by.name",
        "submitted_by.email",
        "summary",
        "no_quotas_on_us_goods",
    ]

    def lists(title: str) -> dict[str, str]:
        return {str(dv.sqref): dv.formula1 for dv in wb[title].data_validations.dataValidation if dv.type == "list"}

    assert lists("Non-tariff barriers") == {"B2:B501": '"remove,reform,recognize"'}
    assert lists("Digital trade") == {
        "A2:A201": '"cross_border_data,digital_services_tax,customs_duties_on_transmissions,source_code,other"'
    }
    assert lists("Economic security") == {
        "A2:A201": '"export_controls,investment_screening,duty_evasion,supply_chain,other"'
    }
    assert lists("Offer") == {"B8": '"yes,no"'}
    instructions = " ".join(str(r[0].value) for r in wb["Instructions"].iter_rows() if r[0].value)
    assert "offerdesk offer submit FILE.xlsx" in instructions and "Tariffs!D14" in instructions
    # The HS code column is text, so Excel keeps 0201.30 as typed.
    assert wb["Tariffs"].column_dimensions["A"].number_format == "@"


def test_a_blank_template_reads_as_an_offer_missing_its_header() -> None:
    with pytest.raises(UnusableInputError) as e:
        read_workbook(write_workbook(), "blank.xlsx")
    paths = [p for p, _ in e.value.fields]
    assert paths == ["Offer!B3", "Offer!B4", "Offer!B5", "Offer!B6"]
    assert "blank.xlsx: Offer!B3: round id is empty; fill it in" in str(e.value)


# ---- reading and round trips -------------------------------------------------------------------


def test_json_to_xlsx_and_back_is_the_same_document(example_path: Path) -> None:
    document = load_offer(example_path)
    again = read_workbook(write_workbook(document), "offer.xlsx")
    assert again == document and again.digest() == document.digest()
    # Text a spreadsheet would take for a formula or a number stays text; empty optional values stay empty.
    tricky = document.model_copy(
        update={
            "summary": '=HYPERLINK("http://x")  with trailing spaces  ',
            "tariff_commitments": [
                document.tariff_commitments[0].model_copy(update={"description": "", "hs_code": "0101.21"}),
                document.tariff_commitments[1].model_copy(update={"description": "+1 and\nnew line"}),
            ],
            "country_specific": [document.country_specific[0].model_copy(update={"value_usd": None, "by_year": None})],
        }
    )
    assert read_workbook(write_workbook(tricky)) == tricky


def test_a_full_schedule_round_trips_and_reads_in_reasonable_time() -> None:
    document = sample_offer("r-big", "KZ", lines=15_000, seed=4)
    data = write_workbook(document)
    started = time.perf_counter()
    again = read_workbook(data, "schedule.xlsx")
    took = time.perf_counter() - started
    print(f"read 15,000 tariff lines from .xlsx ({len(data):,} bytes) in {took:.2f} s")
    assert again == document
    assert took < 20, f"15,000 lines took {took:.1f} s to read"


def test_an_unreadable_cell_is_named_by_sheet_row_and_column() -> None:
    document = sample_offer("r1", "JP", lines=20, seed=1)
    data = _edited(
        document,
        {
            "Tariffs!D14": "three",
            "Tariffs!A5": 201.3,
            "Non-tariff barriers!B2": "abolish",
            "Non-tariff barriers!D2": "soon",
            "Tariffs!E3": "two",
        },
    )
    with pytest.raises(UnusableInputError) as e:
        read_workbook(data, "bad.xlsx")
    fields = dict(e.value.fields)
    assert fields["Tariffs!D14"] == "offered rate 'three' is not a number"
    assert "leading zero" in fields["Tariffs!A5"]
    assert fields["Tariffs!E3"] == "staging years 'two' is not a whole number"
    assert fields["'Non-tariff barriers'!B2"] == "action 'abolish' is not one of remove, reform, recognize"
    assert fields["'Non-tariff barriers'!D2"].startswith("effective date 'soon' is not a date")
    # In reading order, each on its own line of the message.
    assert list(fields) == [
        "Tariffs!E3",
        "Tariffs!A5",
        "Tariffs!D14",
        "'Non-tariff barriers'!B2",
        "'Non-tariff barriers'!D2",
    ]
    assert str(e.value).splitlines()[0] == "bad.xlsx: Tariffs!E3: staging years 'two' is not a whole number"


def test_schema_errors_are_mapped_back_to_their_cells() -> None:
    document = sample_offer("r1", "JP", lines=20, seed=1)
    wb = load_workbook(
        io.BytesIO(_edited(document, {"Tariffs!A13": "1" * 30, "Tariffs!D15": None, "Offer!B4": "Japan"}))
    )
    wb["Tariffs"].insert_rows(3, 2)  # blank rows are skipped; the cells named are where the values are now
    with pytest.raises(UnusableInputError) as e:
        read_workbook(_bytes(wb), "bad.xlsx")
    fields = dict(e.value.fields)
    assert set(fields) == {"Offer!B4", "Tariffs!A15", "Tariffs!D17"}
    assert fields["Tariffs!D17"] == "offered rate is empty; fill it in"
    assert fields["Tariffs!A15"] == "HS code: String should have at most 20 characters"
    assert fields["Offer!B4"].startswith("partner: String should match pattern")


def test_cells_are_read_as_people_type_them() -> None:
    document = sample_offer("r1", "JP", lines=6, seed=1)
    wb = load_workbook(io.BytesIO(write_workbook(document)))
    wb["Tariffs"]["C2"] = 0.125  # typed as 12.5%: Excel keeps 0.125, shown as a percentage
    wb["Tariffs"]["C2"].number_format = "0.0%"
    wb["Tariffs"]["D2"] = " 4.5 % "
    wb["Tariffs"]["E2"] = "3"
    wb["Offer"]["B8"] = "Yes"
    wb["Digital trade"]["A2"] = "Source code"
    read = read_workbook(_bytes(wb))
    line = read.tariff_commitments[0]
    assert (line.current_rate_pct, line.offered_rate_pct, line.staging_years) == (12.5, 4.5, 3)
    assert read.no_quotas_on_us_goods is True and read.digital_trade[0].topic == "source_code"


def test_unknown_columns_and_a_missing_offer_sheet_are_refused() -> None:
    document = sample_offer("r1", "JP", lines=6, seed=1)
    with pytest.raises(UnusableInputError) as e:
        read_workbook(_edited(document, {"Tariffs!D1": "Offered"}), "x.xlsx")
    assert dict(e.value.fields).keys() == {"Tariffs!D1", "Tariffs!1:1"}
    wb = load_workbook(io.BytesIO(write_workbook(document)))
    del wb["Offer"]
    with pytest.raises(UnusableInputError, match="no sheet 'Offer'"):
        read_workbook(_bytes(wb))


def test_load_offer_reads_a_workbook_by_name_or_by_its_bytes(tmp_path: Path, example_path: Path) -> None:
    document = load_offer(example_path)
    named, disguised, fake = tmp_path / "offer.xlsx", tmp_path / "offer.json", tmp_path / "fake.xlsx"
    named.write_bytes(write_workbook(document))
    disguised.write_bytes(write_workbook(document))
    fake.write_text(example_path.read_text())
    assert load_offer(named) == document and load_offer(disguised) == document
    with pytest.raises(UnusableInputError, match=r"fake.xlsx: is not an .xlsx workbook"):
        load_offer(fake)
    assert parse_offer(example_path.read_bytes()) == document  # JSON stays JSON


# ---- the command line --------------------------------------------------------------------------

live = pytest.mark.asyncio(loop_scope="session")


@live
async def test_cli_template_fill_submit_and_export_round_trip(
    env: WorkflowEnvironment, settings: Settings, engine: Engine, example_path: Path, tmp_path: Path
) -> None:
    rid = await offer_in(engine, "INVITED", ["JP"])
    template = tmp_path / "jp.xlsx"
    code, out, err = await cli(env, settings, "offer", "template", "-o", str(template))
    assert code == 0 and "Wrote" in out, err
    document = load_offer(example_path).model_copy(update={"round_id": rid})
    fill_template(template, document)

    code, out, err = await cli(env, settings, "offer", "submit", str(template), OFFERDESK_OPERATOR="neg-jp")
    assert code == 0, err
    assert "accepted as version 1: UNDER_REVIEW" in out

    stored, version, _ = await engine.document(rid, "JP")
    assert stored == document

    exported = {fmt: tmp_path / f"export.{fmt}" for fmt in ("xlsx", "json", "csv")}
    for path in exported.values():
        code, out, err = await cli(env, settings, "offer", "export", rid, "jp", "--version", "1", "-o", str(path))
        assert code == 0, err
    assert exported["json"].read_bytes() == document.model_dump_json().encode()
    assert hashlib.sha256(exported["json"].read_bytes()).hexdigest() == version.digest
    assert load_offer(exported["xlsx"]) == document
    lines = list(csv.DictReader(io.StringIO(exported["csv"].read_text(encoding="utf-8-sig"))))
    assert [line["hs_code"] for line in lines] == [t.hs_code for t in document.tariff_commitments]
    assert float(lines[0]["offered_rate_pct"]) == document.tariff_commitments[0].offered_rate_pct

    # The exported workbook is the same document: sending it again is the same version, not a second one.
    code, out, err = await cli(env, settings, "offer", "amend", str(exported["xlsx"]), OFFERDESK_OPERATOR="neg-jp")
    assert code == 0 and "was already received as version 1" in out, out + err

    code, _, err = await cli(env, settings, "offer", "export", rid, "JP", "--version", "7", "-o", str(exported["json"]))
    assert code == 1 and "there is no version 7" in err
    code, _, err = await cli(env, settings, "offer", "export", rid, "JP", "-o", str(tmp_path / "x.pdf"))
    assert code == 2 and "*.xlsx, *.json or *.csv" in err


@live
async def test_cli_a_bad_cell_exits_2_naming_it(
    env: WorkflowEnvironment, settings: Settings, engine: Engine, tmp_path: Path
) -> None:
    rid = await offer_in(engine, "INVITED", ["VN"])
    bad = tmp_path / "vn.xlsx"
    bad.write_bytes(_edited(sample_offer(rid, "VN", lines=20, seed=2), {"Tariffs!D14": "three"}))
    code, out, err = await cli(env, settings, "offer", "submit", str(bad), OFFERDESK_OPERATOR="neg-vn")
    assert code == 2, out + err
    assert "Tariffs!D14: offered rate 'three' is not a number" in err
    card, _ = await engine.offer_card(rid, "VN")
    assert card.state.value == "INVITED" and not card.versions


# ---- the portal --------------------------------------------------------------------------------


@live
async def test_api_takes_a_workbook_upload_and_names_a_bad_cell(portal: Portal, engine: Engine) -> None:
    rid = await offer_in(engine, "INVITED", ["TH"])
    negotiator = portal.user(Role.NEGOTIATOR, "TH")
    document = sample_offer(rid, "TH", lines=20, seed=3)
    url = f"/api/rounds/{rid}/offers/TH/versions/upload"
    async with negotiator.api() as api:
        bad = await api.post(url, files={"file": ("th.xlsx", _edited(document, {"Tariffs!D14": "three"}), XLSX)})
        assert bad.status_code == 422, bad.text
        body = bad.json()
        assert body["fields"] == [{"path": "Tariffs!D14", "message": "offered rate 'three' is not a number"}]
        assert body["message"] == "th.xlsx: Tariffs!D14: offered rate 'three' is not a number"

        good = await api.post(url, files={"file": ("th.xlsx", write_workbook(document), XLSX)})
        assert good.status_code == 201, good.text
        assert good.json()["version"] == 1 and good.json()["state"] == "UNDER_REVIEW"
    stored, _, _ = await engine.document(rid, "TH")
    assert stored == document


@live
async def test_the_template_downloads_for_anyone_signed_in(portal: Portal) -> None:
    reviewer = portal.user(Role.REVIEWER)
    async with reviewer.api() as api:
        answer = await api.get("/api/offer-template.xlsx")
    assert answer.status_code == 200 and answer.headers["content-type"] == XLSX
    assert 'filename="offer-template.xlsx"' in answer.headers["content-disposition"]
    assert load_workbook(io.BytesIO(answer.content)).sheetnames[:3] == ["Instructions", "Offer", "Tariffs"]

    async with httpx.AsyncClient(base_url=portal.url) as anonymous:
        assert (await anonymous.get("/api/offer-template.xlsx")).status_code == 401
        page = await anonymous.get("/offer-template.xlsx")
        assert page.status_code == 303 and page.headers["location"].startswith("/signin")
    client, _ = await portal.user(Role.NEGOTIATOR, "JP").browser_session()
    try:
        page = await client.get("/offer-template.xlsx")
    finally:
        await client.aclose()
    assert page.status_code == 200 and page.content == answer.content


@live
async def test_exports_go_to_whoever_may_read_the_offer(portal: Portal, engine: Engine) -> None:
    rid = await offer_in(engine, "UNDER_REVIEW", ["CH"])
    document, version, _ = await engine.document(rid, "CH")
    base = f"/api/rounds/{rid}/offers/CH/versions/1/export"
    own, other = portal.user(Role.NEGOTIATOR, "CH"), portal.user(Role.NEGOTIATOR, "NO")
    for reader in (own, portal.user(Role.REVIEWER), portal.user(Role.STAFF)):
        async with reader.api() as api:
            as_json = await api.get(base + ".json")
            as_xlsx = await api.get(base + ".xlsx")
            as_csv = await api.get(base + ".csv")
        assert as_json.status_code == 200, as_json.text
        assert as_json.content == document.model_dump_json().encode()
        assert hashlib.sha256(as_json.content).hexdigest() == version.digest
        assert as_xlsx.headers["content-type"] == XLSX and read_workbook(as_xlsx.content) == document
        assert f'filename="offer-{rid}-CH-v1.xlsx"' in as_xlsx.headers["content-disposition"]
        assert as_csv.headers["content-type"].startswith("text/csv")
        assert len(as_csv.text.strip().splitlines()) == 1 + len(document.tariff_commitments)

    async with other.api() as api:
        refused = await api.get(base + ".xlsx")
        assert refused.status_code == 404 and refused.json()["error"] == "NotFound"
    async with own.api() as api:
        assert (await api.get(f"/api/rounds/{rid}/offers/CH/versions/9/export.json")).status_code == 404
        assert (await api.get(f"/api/rounds/{rid}/offers/CH/versions/1/export.pdf")).status_code == 422

    # The page route answers a signed-in browser the same way.
    pages = {}
    for reader in (own, other):
        client, _ = await reader.browser_session()
        try:
            pages[reader.name] = await client.get(f"/rounds/{rid}/offers/CH/versions/1/export.json")
        finally:
            await client.aclose()
    assert pages[own.name].status_code == 200
    assert json.loads(pages[own.name].content) == json.loads(document.model_dump_json())
    assert pages[other.name].status_code == 404 and "no offer here that you can see" in pages[other.name].text


def test_text_a_spreadsheet_cannot_hold_is_refused_on_export(example_path: Path) -> None:
    document = load_offer(example_path)
    bell = document.model_copy(
        update={"digital_trade": [document.digital_trade[0].model_copy(update={"pledge": "ring \x07"})]}
    )
    with pytest.raises(UnusableInputError, match="the offer's Digital trade holds a control character"):
        write_workbook(bell)


def test_the_csv_export_keeps_formulas_from_running_and_numbers_as_numbers(example_path: Path) -> None:
    document = load_offer(example_path)
    first, second, *rest = document.tariff_commitments
    hostile = first.model_copy(
        update={"hs_code": "-2+3", "description": "=1+2, then more", "current_rate_pct": -0.5, "staging_years": -1}
    )
    # Spaces before a sign, a fullwidth sign, a line feed first: spreadsheets run these too.
    sly = second.model_copy(update={"hs_code": "  +1", "description": "＠SUM(1)\nand a second line"})
    document = document.model_copy(update={"tariff_commitments": [hostile, sly, *rest]})
    data = export_offer(document, "csv")
    assert data.startswith(b"\xef\xbb\xbf") and b"\r\n" not in data  # UTF-8 with a BOM, lines end in LF
    rows = list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"), newline="")))
    assert (rows[0]["hs_code"], rows[0]["description"]) == ("'-2+3", "'=1+2, then more")
    assert (rows[0]["current_rate_pct"], rows[0]["staging_years"]) == ("-0.5", "-1")  # numbers, unguarded
    assert (rows[1]["hs_code"], rows[1]["description"]) == ("'  +1", "'＠SUM(1)\nand a second line")
    assert [r["hs_code"] for r in rows[2:]] == [t.hs_code for t in rest]
    assert [float(r["offered_rate_pct"]) for r in rows] == [t.offered_rate_pct for t in document.tariff_commitments]
    # The workbook keeps the exact text, as a text cell: never a formula, no apostrophe needed.
    assert read_workbook(export_offer(document, "xlsx")) == document
