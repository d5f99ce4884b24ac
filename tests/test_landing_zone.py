"""The landing-zone policy, checked on hand-made offers."""

from __future__ import annotations

from pathlib import Path

from offerdesk.samples import sample_offer
from offers.documents import load_offer
from offers.landing_zone import propose_landing_zone, round_to_step, tariff_line_score
from offers.reference import load_partners, load_policy
from schemas.offer import OfferDocument, TariffCommitment
from schemas.validation import Category

EXAMPLE = load_offer(Path(__file__).parent / "data" / "offer.example.json")
POLICY = load_policy()


def test_weights_cover_every_category_and_add_up_to_one() -> None:
    assert set(POLICY.weights) == set(Category)
    assert abs(sum(POLICY.weights.values()) - 1) < 1e-9


def test_tariff_line_score_rewards_deep_fast_cuts() -> None:
    def line(cur: float, off: float, years: int) -> TariffCommitment:
        return TariffCommitment(
            hs_code="1", description="x", current_rate_pct=cur, offered_rate_pct=off, staging_years=years
        )

    assert tariff_line_score(line(10, 0, 0), 0.05) == 1.0
    assert tariff_line_score(line(10, 5, 0), 0.05) == 0.5
    assert tariff_line_score(line(10, 0, 4), 0.05) == 0.8
    assert tariff_line_score(line(0, 0, 0), 0.05) == 1.0


def test_the_example_offer_lands_between_the_baseline_and_the_announced_rate() -> None:
    jp = load_partners()["JP"]
    zone = propose_landing_zone(EXAMPLE, jp, POLICY)
    assert zone.announced_rate_pct == 24 and zone.baseline_rate_pct == 10
    weighted = sum(s.score * s.weight for s in zone.category_scores)
    assert zone.score == round(weighted, 4)
    expected = round_to_step(10 + 14 * (1 - weighted), POLICY.rounding_pct)
    assert zone.proposed_rate_pct == expected and 10 < expected < 24
    assert zone.policy_version == POLICY.version
    assert any("Digital trade" in s for s in zone.strengthen)
    assert any("USD 20.0 bn" in c for c in zone.conditions)


def test_an_empty_offer_gets_the_announced_rate_and_a_full_one_the_baseline() -> None:
    vn = load_partners()["VN"]
    empty = OfferDocument.model_validate(
        {"schema_version": 1, "round_id": "r", "partner": "VN", "submitted_by": {"name": "n", "email": "n@vn.example"}}
    )
    assert propose_landing_zone(empty, vn, POLICY).proposed_rate_pct == vn.announced_rate_pct
    full = sample_offer("r", "VN").model_copy(
        update={
            "tariff_commitments": [
                TariffCommitment(hs_code="1006.30", description="Rice", current_rate_pct=20, offered_rate_pct=0),
                TariffCommitment(hs_code="8703.23", description="Cars", current_rate_pct=20, offered_rate_pct=0),
            ],
            "quota_commitments": [],
            "no_quotas_on_us_goods": True,
        }
    )
    doc = full.model_copy(
        update={
            "non_tariff_barriers": full.non_tariff_barriers * 3,
            "digital_trade": [*full.digital_trade, full.digital_trade[0].model_copy(update={"topic": "source_code"})],
            "economic_security": [
                *full.economic_security,
                full.economic_security[0].model_copy(update={"topic": "supply_chain"}),
            ],
            "country_specific": [full.country_specific[0].model_copy(update={"value_usd": 1e12})],
        }
    )
    zone = propose_landing_zone(doc, vn, POLICY)
    assert zone.score == 1.0 and zone.proposed_rate_pct == 10 and zone.strengthen == []


def test_a_partner_at_the_baseline_stays_there() -> None:
    gb = load_partners()["GB"]
    assert propose_landing_zone(sample_offer("r", "GB"), gb, POLICY).proposed_rate_pct == 10
