"""The offer workbook's layout: its sheets, their columns and what each takes, the header fields, the instructions.

One sheet per category plus an "Offer" sheet for the header fields (one row per field: its key in column A, its
value in column B). Writing the template and reading a filled one both follow this, so they cannot drift apart.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum
from typing import get_args

from pydantic import BaseModel

from schemas.offer import (
    DigitalTradePledge,
    EconomicSecurityPledge,
    NonTariffBarrier,
    OfferDocument,
)

XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
HEADER_SHEET = "Offer"
INSTRUCTIONS_SHEET = "Instructions"


class Kind(Enum):
    TEXT = "text"
    NUMBER = "number"
    RATE = "rate"  # a percentage: a cell formatted as % (0.12 shown as 12%) reads as 12
    WHOLE = "whole number"
    DATE = "date"
    CHOICE = "choice"
    YES_NO = "yes/no"


@dataclass(frozen=True)
class Column:
    key: str
    header: str
    label: str
    kind: Kind
    help: str
    width: int = 14
    choices: tuple[str, ...] = ()

    def names(self) -> set[str]:
        return {norm(self.header), norm(self.key)}


@dataclass(frozen=True)
class Sheet:
    title: str
    field: str
    """The document's list this sheet holds: tariff_commitments."""
    columns: tuple[Column, ...]

    @property
    def model(self) -> type[BaseModel]:
        """The model of one row: the type of the field's items (TariffCommitment for tariff_commitments)."""
        (item,) = get_args(OfferDocument.model_fields[self.field].annotation)
        assert isinstance(item, type) and issubclass(item, BaseModel)
        return item

    @property
    def max_rows(self) -> int:
        for meta in OfferDocument.model_fields[self.field].metadata:
            if isinstance(getattr(meta, "max_length", None), int):
                return int(meta.max_length)
        raise AssertionError(f"{self.field} has no max_length")

    def required(self, column: Column) -> bool:
        return self.model.model_fields[column.key].is_required()


def _choices(model: type[BaseModel], key: str) -> tuple[str, ...]:
    return tuple(get_args(model.model_fields[key].annotation))


NTB_ACTIONS = _choices(NonTariffBarrier, "action")
DIGITAL_TOPICS = _choices(DigitalTradePledge, "topic")
SECURITY_TOPICS = _choices(EconomicSecurityPledge, "topic")

_HS = "HS code, as text with its leading zero and dots: 0201.30"


def _hs_lines(title: str, field: str, what: str, *columns: Column) -> Sheet:
    """A sheet of commitments on HS codes: the code, what it covers, then `columns`."""
    return Sheet(
        title,
        field,
        (
            Column("hs_code", "HS code", "HS code", Kind.TEXT, _HS),
            Column("description", "Description", "description", Kind.TEXT, f"what the {what} covers", 50),
            *columns,
        ),
    )


def _pledges(title: str, field: str, topics: tuple[str, ...], topic_width: int) -> Sheet:
    return Sheet(
        title,
        field,
        (
            Column("topic", "Topic", "topic", Kind.CHOICE, "one of the list", topic_width, topics),
            Column("pledge", "Pledge", "pledge", Kind.TEXT, "what is pledged", 80),
        ),
    )


SHEETS: tuple[Sheet, ...] = (
    _hs_lines(
        "Tariffs",
        "tariff_commitments",
        "line",
        Column("current_rate_pct", "Current rate %", "current rate", Kind.RATE, "today's duty, in %: 21.6", 16),
        Column("offered_rate_pct", "Offered rate %", "offered rate", Kind.RATE, "the duty offered, in %: 9", 16),
        Column("staging_years", "Staging years", "staging years", Kind.WHOLE, "years to phase in; 0 = at once"),
    ),
    _hs_lines(
        "Quotas",
        "quota_commitments",
        "quota",
        Column("current_quota_tonnes", "Current quota (t)", "current quota", Kind.NUMBER, "tonnes today", 18),
        Column("offered_quota_tonnes", "Offered quota (t)", "offered quota", Kind.NUMBER, "tonnes offered", 18),
        Column("in_quota_rate_pct", "In-quota rate %", "in-quota rate", Kind.RATE, "duty within the quota", 16),
    ),
    Sheet(
        "Non-tariff barriers",
        "non_tariff_barriers",
        (
            Column("measure", "Measure", "measure", Kind.TEXT, "the barrier", 50),
            Column("action", "Action", "action", Kind.CHOICE, "one of the list", 12, NTB_ACTIONS),
            Column("detail", "Detail", "detail", Kind.TEXT, "how (may be empty)", 60),
            Column("effective_by", "Effective by", "effective date", Kind.DATE, "a date: 2026-01-31", 14),
        ),
    ),
    _pledges("Digital trade", "digital_trade", DIGITAL_TOPICS, 32),
    _pledges("Economic security", "economic_security", SECURITY_TOPICS, 24),
    Sheet(
        "Country-specific",
        "country_specific",
        (
            Column("commitment", "Commitment", "commitment", Kind.TEXT, "a purchase, investment, sector deal", 80),
            Column("value_usd", "Value (USD)", "value", Kind.NUMBER, "in US dollars (may be empty)", 18),
            Column("by_year", "By year", "year", Kind.WHOLE, "the year it is met by (may be empty)", 10),
        ),
    ),
)

# The "Offer" sheet: one row per header field, its key in column A and its value in column B.
HEADER_FIELDS: tuple[Column, ...] = (
    Column("schema_version", "", "schema version", Kind.WHOLE, "always 1"),
    Column("round_id", "", "round id", Kind.TEXT, "the round you were invited to, such as 2025-06-best-offers"),
    Column("partner", "", "partner", Kind.TEXT, "your two-letter partner code, such as JP"),
    Column("submitted_by.name", "", "contact name", Kind.TEXT, "the partner's contact for this offer"),
    Column("submitted_by.email", "", "contact email", Kind.TEXT, "their email address"),
    Column("summary", "", "summary", Kind.TEXT, "the offer in a few sentences (may be empty)"),
    Column(
        "no_quotas_on_us_goods",
        "",
        "no quotas on US goods",
        Kind.YES_NO,
        "yes if you keep no quotas on US goods (then the Quotas sheet may stay empty)",
        choices=("yes", "no"),
    ),
)
HEADER_COLUMNS = ("Field", "Value", "What to enter")

INSTRUCTIONS = (
    "How to fill in this offer workbook (Offerdesk, offer schema version 1)",
    "",
    "1. On the Offer sheet, fill in column B: the round id and your partner code as in your invitation, the "
    "partner's contact, a summary, and whether you keep no quotas on US goods (yes/no).",
    "2. One sheet per category: Tariffs, Quotas, Non-tariff barriers, Digital trade, Economic security, "
    "Country-specific. One commitment per row, from row 2; keep the headers in row 1. Leave a sheet empty (or "
    "delete it) when you offer nothing there: validation then reports that category as missing.",
    "3. Rates are in percent: type 9 for 9% (a cell formatted as a percentage, showing 9%, reads as 9 too).",
    "4. Type HS codes as text with their leading zero and dots (0201.30): the column is formatted as text; "
    "an HS code Excel has turned into a number is refused, as its leading zero is lost.",
    "5. Action (remove, reform, recognize), the topics, and yes/no come from the drop-down lists.",
    "6. Dates as dates or as text like 2026-01-31. Empty rows are skipped. Up to 25,000 tariff lines.",
    "7. Save as .xlsx and send it: 'offerdesk offer submit FILE.xlsx' (or 'offer amend'), or upload it on the "
    "offer's page in the portal. A cell that cannot be read is named with its sheet, row and column, such as "
    "Tariffs!D14; fix it and send the workbook again.",
    "",
    "Sheets other than these are ignored. The same offer as JSON: "
    "'offerdesk offer export ROUND PARTNER -o offer.json'.",
)


def norm(text: str) -> str:
    """A sheet's, column's or field's name as it is matched: case, spaces, dashes and underscores aside."""
    return re.sub(r"[\s_-]+", " ", text).strip().lower()
