"""The landing-zone policy: from an offer and the partner's figures to a proposed reciprocal rate.

Each category gets a score from 0 to 1 (what the offer gives against what the policy looks for); the
weighted sum places the proposed rate between the 10% baseline (score 1) and the partner's announced
rate (score 0), rounded to the policy's step. The weights and targets live in data/landing_zone_policy.json.
"""

from __future__ import annotations

from offers.hs import GoodsKind, HSCodeError, classify_hs
from offers.reference import LandingZonePolicy
from schemas.landing import CategoryScore, LandingZone
from schemas.offer import OfferDocument, TariffCommitment
from schemas.partner import PartnerReference
from schemas.validation import CATEGORY_TITLES, Category

C = Category


def _clip(value: float) -> float:
    return max(0.0, min(1.0, value))


def tariff_line_score(line: TariffCommitment, staging_discount: float) -> float:
    """How far a line cuts its duty (1 = to zero at once), less a discount per staging year."""
    if line.current_rate_pct <= 0:
        reduction = 1.0 if line.offered_rate_pct <= 0 else 0.0
    else:
        reduction = _clip((line.current_rate_pct - line.offered_rate_pct) / line.current_rate_pct)
    return reduction * _clip(1 - staging_discount * max(0, line.staging_years))


def _tariff_scores(doc: OfferDocument, policy: LandingZonePolicy) -> dict[Category, tuple[float, str]]:
    lines: dict[Category, list[float]] = {C.TARIFF_INDUSTRIAL: [], C.TARIFF_AGRICULTURAL: []}
    for line in doc.tariff_commitments:
        try:
            kind = classify_hs(line.hs_code)
        except HSCodeError:
            continue
        category = C.TARIFF_AGRICULTURAL if kind is GoodsKind.AGRICULTURAL else C.TARIFF_INDUSTRIAL
        lines[category].append(tariff_line_score(line, policy.staging_discount_per_year))
    result = {}
    for category, scores in lines.items():
        if scores:
            mean = sum(scores) / len(scores)
            result[category] = (mean, f"{len(scores)} tariff lines, average cut {mean:.0%} after staging")
        else:
            result[category] = (0.0, "no tariff lines")
    return result


def _quota_score(doc: OfferDocument) -> tuple[float, str]:
    if doc.no_quotas_on_us_goods and not doc.quota_commitments:
        return 1.0, "no quotas kept on US goods"
    if not doc.quota_commitments:
        return 0.0, "no quota commitments"
    scores = [
        _clip((q.offered_quota_tonnes - q.current_quota_tonnes) / q.offered_quota_tonnes)
        if q.offered_quota_tonnes > 0
        else 0.0
        for q in doc.quota_commitments
    ]
    opened = sum(q.offered_quota_tonnes - q.current_quota_tonnes for q in doc.quota_commitments)
    return sum(scores) / len(scores), f"{len(scores)} quotas, {opened:,.0f} t newly opened"


def _count_score(count: float, target: int, what: str) -> tuple[float, str]:
    return _clip(count / target), f"{what} ({target} sought)"


def _country_specific_score(
    doc: OfferDocument, partner: PartnerReference, policy: LandingZonePolicy
) -> tuple[float, str]:
    total = sum(c.value_usd or 0 for c in doc.country_specific)
    deficit_busd = (partner.us_imports_2024_busd or 0) - (partner.us_exports_2024_busd or 0)
    if deficit_busd > 0:
        target = deficit_busd * 1e9 * policy.country_specific_share_of_deficit
        basis = f"{policy.country_specific_share_of_deficit:.0%} of the 2024 goods deficit"
    else:
        target = policy.country_specific_default_target_usd
        basis = "the policy's default target"
    if not doc.country_specific:
        return 0.0, "no country-specific commitments"
    # A commitment without a value still counts for something: a tenth of the target.
    score = _clip(total / target) if total else 0.1
    return score, f"USD {total / 1e9:,.1f} bn committed against {basis} (USD {target / 1e9:,.1f} bn)"


def round_to_step(value: float, step: float) -> float:
    return round(round(value / step) * step, 4)


def propose_landing_zone(doc: OfferDocument, partner: PartnerReference, policy: LandingZonePolicy) -> LandingZone:
    """Score the offer per category and place the proposed rate between the baseline and the announced rate."""
    raw: dict[Category, tuple[float, str]] = {}
    raw.update(_tariff_scores(doc, policy))
    raw[C.QUOTAS] = _quota_score(doc)
    ntb_weight = sum(policy.ntb_action_weights.get(n.action, 0.0) for n in doc.non_tariff_barriers)
    raw[C.NON_TARIFF_BARRIERS] = _count_score(
        ntb_weight, policy.ntb_target_measures, f"{len(doc.non_tariff_barriers)} measures, weighted by action"
    )
    dt_topics = {p.topic for p in doc.digital_trade}
    raw[C.DIGITAL_TRADE] = _count_score(len(dt_topics), policy.digital_trade_target_topics, f"{len(dt_topics)} topics")
    es_topics = {p.topic for p in doc.economic_security}
    raw[C.ECONOMIC_SECURITY] = _count_score(
        len(es_topics), policy.economic_security_target_topics, f"{len(es_topics)} topics"
    )
    raw[C.COUNTRY_SPECIFIC] = _country_specific_score(doc, partner, policy)

    scores = [
        CategoryScore(category=c, score=round(raw[c][0], 4), weight=policy.weights[c], note=raw[c][1]) for c in Category
    ]
    total = sum(s.score * s.weight for s in scores)
    baseline = policy.baseline_rate_pct
    ceiling = max(baseline, partner.announced_rate_pct)
    proposed = round_to_step(baseline + (ceiling - baseline) * (1 - total), policy.rounding_pct)
    proposed = min(ceiling, max(baseline, proposed))

    return LandingZone(
        partner=partner.code,
        partner_name=partner.name,
        baseline_rate_pct=baseline,
        announced_rate_pct=partner.announced_rate_pct,
        score=round(total, 4),
        proposed_rate_pct=proposed,
        category_scores=scores,
        conditions=_conditions(doc, partner),
        strengthen=[f"{CATEGORY_TITLES[s.category]}: {s.note}" for s in scores if s.score < policy.strengthen_below],
        policy_version=policy.version,
    )


def _conditions(doc: OfferDocument, partner: PartnerReference) -> list[str]:
    conditions = [
        "The agreed reciprocal rate applies once the commitments in this offer enter into force, and the "
        f"announced rate of {partner.announced_rate_pct:g}% applies again if they are not implemented.",
    ]
    staging = max((t.staging_years for t in doc.tariff_commitments), default=0)
    if staging:
        conditions.append(f"Tariff reductions staged over up to {staging} years are bound at each annual step.")
    if doc.quota_commitments:
        conditions.append("Quota volumes are allocated first come, first served, without import licensing.")
    if doc.non_tariff_barriers:
        latest = max(n.effective_by for n in doc.non_tariff_barriers)
        conditions.append(
            f"The non-tariff measures listed take effect by their stated dates, the last by {latest:%d %B %Y}."
        )
    valued = [c for c in doc.country_specific if c.value_usd]
    if valued:
        total = sum(c.value_usd or 0 for c in valued)
        last = max((c.by_year for c in valued if c.by_year), default=None)
        until = f" until {last}" if last else ""
        conditions.append(f"Purchases and investments of USD {total / 1e9:,.1f} bn are reported each year{until}.")
    if any(p.topic == "duty_evasion" for p in doc.economic_security):
        conditions.append("Goods found to be transshipped to evade duties are charged at the announced rate.")
    return conditions
