"""What changed between two versions of an offer: pure functions, no Temporal, no store."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import lru_cache
from typing import TypeVar

from pydantic import BaseModel

from offers.hs import HSCodeError, normalize_hs
from schemas.diff import (
    FieldChange,
    LineChange,
    MeasureChange,
    MeasuresDiff,
    OfferDiff,
    Pledge,
    PledgesDiff,
    QuotasDiff,
    StatusChange,
    TariffLinesDiff,
    Value,
)
from schemas.offer import NonTariffBarrier, OfferDocument, QuotaCommitment, TariffCommitment
from schemas.validation import Category, ValidationReport

M = TypeVar("M", bound=BaseModel)
L = TypeVar("L", TariffCommitment, QuotaCommitment)


@lru_cache(maxsize=65_536)
def _hs_key(code: str) -> str:
    """Lines match on their HS digits, so "0201.30" and "020130" are the same line; an unusable code as written."""
    try:
        return normalize_hs(code)
    except HSCodeError:
        return code.strip()


def _fields(old: BaseModel, new: BaseModel) -> list[FieldChange]:
    before, after = old.model_dump(mode="json"), new.model_dump(mode="json")
    return [FieldChange(field=k, from_=before[k], to=after[k]) for k in before if before[k] != after[k]]


def _pair(old: Iterable[M], new: Iterable[M], key: Callable[[M], str]) -> tuple[list[M], list[M], list[tuple[M, M]]]:
    """Added, removed, and (old, new) pairs on the same key. Repeated keys pair in document order."""
    waiting: dict[str, list[M]] = {}
    for item in old:
        waiting.setdefault(key(item), []).append(item)
    added: list[M] = []
    pairs: list[tuple[M, M]] = []
    for item in new:
        same = waiting.get(key(item))
        if same:
            pairs.append((same.pop(0), item))
        else:
            added.append(item)
    removed = [item for items in waiting.values() for item in items]
    return added, removed, pairs


def _changed_lines(pairs: list[tuple[L, L]]) -> list[LineChange]:
    """The pairs of tariff lines or quotas (same HS code) whose fields differ, each with what changed."""
    return [
        LineChange(hs_code=b.hs_code, description=b.description, changes=changes)
        for a, b in pairs
        if a != b and (changes := _fields(a, b))
    ]


def _tariff_lines(old: list[TariffCommitment], new: list[TariffCommitment]) -> TariffLinesDiff:
    added, removed, pairs = _pair(old, new, lambda t: _hs_key(t.hs_code))
    return TariffLinesDiff(added=added, removed=removed, changed=_changed_lines(pairs))


def _quotas(old: list[QuotaCommitment], new: list[QuotaCommitment]) -> QuotasDiff:
    added, removed, pairs = _pair(old, new, lambda q: _hs_key(q.hs_code))
    return QuotasDiff(added=added, removed=removed, changed=_changed_lines(pairs))


def _measures(old: list[NonTariffBarrier], new: list[NonTariffBarrier]) -> MeasuresDiff:
    added, removed, pairs = _pair(old, new, lambda m: " ".join(m.measure.split()).casefold())
    changed = [
        MeasureChange(measure=b.measure, changes=changes) for a, b in pairs if a != b and (changes := _fields(a, b))
    ]
    return MeasuresDiff(added=added, removed=removed, changed=changed)


def pledges_of(doc: OfferDocument) -> list[Pledge]:
    """Every pledge and country-specific commitment of a document, each as one line of text."""
    found = [Pledge(category=Category.DIGITAL_TRADE, topic=p.topic, text=p.pledge) for p in doc.digital_trade]
    found += [Pledge(category=Category.ECONOMIC_SECURITY, topic=p.topic, text=p.pledge) for p in doc.economic_security]
    for c in doc.country_specific:
        extra = [f"USD {c.value_usd:,.0f}"] if c.value_usd is not None else []
        extra += [f"by {c.by_year}"] if c.by_year is not None else []
        text = c.commitment + (f" ({', '.join(extra)})" if extra else "")
        found.append(Pledge(category=Category.COUNTRY_SPECIFIC, topic="", text=text))
    return found


def _pledges(old: OfferDocument, new: OfferDocument) -> PledgesDiff:
    added, removed, _ = _pair(pledges_of(old), pledges_of(new), lambda p: f"{p.category}|{p.topic}|{p.text}")
    return PledgesDiff(added=added, removed=removed)


def _categories(old: ValidationReport | None, new: ValidationReport | None) -> list[StatusChange]:
    changes: list[StatusChange] = []
    for category in Category:
        before = old.categories.get(category) if old else None
        after = new.categories.get(category) if new else None
        if before != after:
            changes.append(StatusChange(category=category, from_=before, to=after))
    return changes


def _document(old: OfferDocument, new: OfferDocument) -> list[FieldChange]:
    pairs: list[tuple[str, Value, Value]] = [
        ("summary", old.summary, new.summary),
        ("submitted_by.name", old.submitted_by.name, new.submitted_by.name),
        ("submitted_by.email", old.submitted_by.email, new.submitted_by.email),
        ("no_quotas_on_us_goods", old.no_quotas_on_us_goods, new.no_quotas_on_us_goods),
    ]
    return [FieldChange(field=f, from_=a, to=b) for f, a, b in pairs if a != b]


def diff_documents(
    old: OfferDocument,
    new: OfferDocument,
    old_report: ValidationReport | None = None,
    new_report: ValidationReport | None = None,
    *,
    from_version: int | None = None,
    to_version: int | None = None,
) -> OfferDiff:
    """What changed from `old` to `new`: tariff lines and quotas by HS code, measures by their text, pledges whole,
    and the categories whose validation status changed (from the two reports)."""
    return OfferDiff(
        round_id=new.round_id,
        partner=new.partner,
        from_version=from_version,
        to_version=to_version,
        tariff_lines=_tariff_lines(old.tariff_commitments, new.tariff_commitments),
        quotas=_quotas(old.quota_commitments, new.quota_commitments),
        non_tariff_barriers=_measures(old.non_tariff_barriers, new.non_tariff_barriers),
        pledges=_pledges(old, new),
        categories=_categories(old_report, new_report),
        document=_document(old, new),
    )
