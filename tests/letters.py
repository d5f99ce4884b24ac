"""Builders for letter inputs, shared by the letter tests."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime

from benchmarks.common import approved_letter
from offerdesk.samples import sample_offer
from offers.reference import load_partners, load_policy
from schemas.landing import Approval
from schemas.letter import LetterInput
from schemas.offer import OfferDocument, TariffCommitment

HS_CHAPTERS = [f"{c:02d}" for c in range(1, 98) if c != 77]


def letter_input(doc: OfferDocument, rate: float | None = None) -> LetterInput:
    """The letter of `doc` approved by Ada and Grace on fixed dates; at `rate` set by Ada, or the policy's."""
    at = datetime(2025, 6, 6, 15, 30, tzinfo=UTC)
    approvals = [Approval(reviewer="Ada", at=at, rate_pct=rate, reason="ok"), Approval(reviewer="Grace", at=at)]
    partner, policy, received = load_partners()[doc.partner], load_policy(), date(2025, 6, 2)
    if rate is None:
        return approved_letter(doc, partner, policy, approvals, received)
    return approved_letter(doc, partner, policy, approvals, received, rate, "Ada", "in line with the July framework")


def long_offer(lines: int, seed: int = 0) -> OfferDocument:
    """An offer with a tariff schedule of this many 8-digit lines, spread unevenly over all 96 HS chapters.

    The lines are validated one by one but the document is not (model_copy), so this works whatever the
    schema's limit on the number of tariff lines.
    """
    rng = random.Random(seed)
    weights = [rng.uniform(0.2, 3.0) for _ in HS_CHAPTERS]
    tariffs = []
    for n, chapter in enumerate(sorted(rng.choices(HS_CHAPTERS, weights, k=lines))):
        rate = rng.choice([0.0, 2.5, 4.0, 6.5, 10.0, 12.0, 17.5, 25.0, 38.0])
        code = f"{chapter}{rng.randrange(1, 100):02d}.{rng.randrange(10, 100)}.{n % 100:02d}"
        tariffs.append(
            TariffCommitment(
                hs_code=code,
                description=f"Goods of heading {code[:4]}, other than those specified elsewhere, tariff line {n + 1}",
                current_rate_pct=rate,
                offered_rate_pct=round(rate * rng.choice([0, 0, 0.25, 0.5, 1]), 1),
                staging_years=rng.choice([0, 0, 1, 3, 5, 10]),
            )
        )
    return sample_offer("r1", "EU", lines=8, seed=seed).model_copy(update={"tariff_commitments": tariffs})
