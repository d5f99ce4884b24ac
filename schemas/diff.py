"""Reading an offer: what changed between two versions, and one page of its tariff lines."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from schemas.offer import NonTariffBarrier, QuotaCommitment, TariffCommitment
from schemas.validation import Category, CategoryStatus

Value = str | float | int | bool | None


class _FromTo(BaseModel):
    # "from" is a Python keyword: the attribute is from_, the JSON key "from".
    model_config = ConfigDict(frozen=True, populate_by_name=True, serialize_by_alias=True)


class FieldChange(_FromTo):
    """One field of one line, commitment or the document, before and after."""

    field: str
    from_: Value = Field(alias="from")
    to: Value


class LineChange(BaseModel):
    """A tariff line or quota on the same HS code in both versions, with the fields that differ."""

    hs_code: str
    description: str
    changes: list[FieldChange]


class MeasureChange(BaseModel):
    """A non-tariff measure named alike in both versions, with the fields that differ."""

    measure: str
    changes: list[FieldChange]


class TariffLinesDiff(BaseModel):
    added: list[TariffCommitment] = Field(default_factory=list)
    removed: list[TariffCommitment] = Field(default_factory=list)
    changed: list[LineChange] = Field(default_factory=list)


class QuotasDiff(BaseModel):
    added: list[QuotaCommitment] = Field(default_factory=list)
    removed: list[QuotaCommitment] = Field(default_factory=list)
    changed: list[LineChange] = Field(default_factory=list)


class MeasuresDiff(BaseModel):
    added: list[NonTariffBarrier] = Field(default_factory=list)
    removed: list[NonTariffBarrier] = Field(default_factory=list)
    changed: list[MeasureChange] = Field(default_factory=list)


class Pledge(BaseModel):
    """A digital trade or economic security pledge, or a country-specific commitment, as one line of text."""

    category: Category
    topic: str
    text: str


class PledgesDiff(BaseModel):
    """Pledges are compared whole: a reworded pledge is one removed and one added."""

    added: list[Pledge] = Field(default_factory=list)
    removed: list[Pledge] = Field(default_factory=list)


class StatusChange(_FromTo):
    """A required category whose validation status differs; None where a version has no report."""

    category: Category
    from_: CategoryStatus | None = Field(alias="from")
    to: CategoryStatus | None


class OfferDiff(BaseModel):
    """What changed from one version of an offer to another."""

    round_id: str
    partner: str
    from_version: int | None = None
    to_version: int | None = None
    tariff_lines: TariffLinesDiff
    quotas: QuotasDiff
    non_tariff_barriers: MeasuresDiff
    pledges: PledgesDiff
    categories: list[StatusChange]
    """Categories whose status changed, in the order of the required categories."""
    document: list[FieldChange]
    """Changes to the summary, the contact and the no-quotas statement."""

    @property
    def empty(self) -> bool:
        t, q, m, p = self.tariff_lines, self.quotas, self.non_tariff_barriers, self.pledges
        parts = (t.added, t.removed, t.changed, q.added, q.removed, q.changed, m.added, m.removed, m.changed)
        return not any(parts) and not (p.added or p.removed or self.categories or self.document)


class LineKind(StrEnum):
    """A filter on tariff lines by the goods they cover (offers.hs.GoodsKind, plus lines without a valid code)."""

    AGRICULTURAL = "agricultural"
    INDUSTRIAL = "industrial"
    MIXED = "mixed"
    INVALID = "invalid"


class NumberedLine(BaseModel):
    """A tariff line with its place in the document (`tariff_commitments[index]`)."""

    index: int
    chapter: str | None
    kind: LineKind
    line: TariffCommitment


class LinePage(BaseModel):
    """One page of an offer's tariff lines, after the filters."""

    total: int
    """Lines in the document."""
    matched: int
    """Lines that pass the filters."""
    page: int
    per_page: int
    pages: int
    chapter: str | None
    kind: LineKind | None
    no_change: bool
    chapters: list[str]
    """The HS chapters the document's lines fall in, for a filter's choices."""
    lines: list[NumberedLine]
