"""Realistic generated offers, for the demo, the tests and the benchmarks."""

from __future__ import annotations

import random
from datetime import date, timedelta

from schemas.offer import OfferDocument

GOODS: list[tuple[str, str, float]] = [
    ("0201.30", "Fresh or chilled boneless bovine meat", 21.6),
    ("0203.29", "Frozen meat of swine", 12.0),
    ("0207.14", "Frozen cuts of chicken", 15.0),
    ("0402.10", "Milk powder, fat content up to 1.5%", 25.0),
    ("0406.90", "Cheese, other", 29.8),
    ("0802.12", "Almonds, shelled", 2.4),
    ("0808.10", "Fresh apples", 17.0),
    ("1001.99", "Wheat other than durum", 12.0),
    ("1005.90", "Maize other than seed", 3.0),
    ("1201.90", "Soya beans other than seed", 3.0),
    ("1507.90", "Refined soya-bean oil", 9.6),
    ("2204.21", "Wine of fresh grapes, in containers up to 2 l", 15.0),
    ("2309.10", "Dog or cat food, retail", 6.0),
    ("2402.20", "Cigarettes containing tobacco", 16.0),
    ("5201.00", "Cotton, not carded or combed", 4.0),
    ("2710.12", "Light petroleum oils", 3.0),
    ("2711.11", "Liquefied natural gas", 2.5),
    ("3004.90", "Medicaments in measured doses", 5.0),
    ("3901.10", "Polyethylene, density under 0.94", 6.5),
    ("4011.10", "New pneumatic tyres for motor cars", 4.0),
    ("7208.51", "Flat-rolled iron or steel, over 10 mm", 5.0),
    ("7606.12", "Aluminium alloy plates", 6.0),
    ("8411.91", "Parts of turbojets or turbopropellers", 2.7),
    ("8418.10", "Combined refrigerator-freezers", 8.0),
    ("8471.30", "Portable automatic data-processing machines", 2.5),
    ("8517.13", "Smartphones", 5.0),
    ("8703.23", "Passenger motor vehicles, spark-ignition, 1500-3000 cc", 10.0),
    ("8703.80", "Passenger motor vehicles, electric", 10.0),
    ("8708.29", "Parts and accessories of bodies", 4.5),
    ("8802.40", "Aeroplanes over 15,000 kg", 3.0),
    ("9018.90", "Medical instruments", 4.0),
    ("9403.60", "Wooden furniture", 5.6),
]

QUOTA_GOODS = [
    ("1006.30", "Semi-milled or wholly milled rice"),
    ("0402.21", "Milk powder, fat content over 1.5%"),
    ("1701.99", "Refined cane or beet sugar"),
    ("0201.30", "Fresh or chilled boneless bovine meat"),
]


def sample_offer(
    round_id: str,
    partner: str,
    *,
    lines: int = 8,
    seed: int = 0,
    received: date | None = None,
    deficient: bool = False,
    negotiator: str | None = None,
) -> OfferDocument:
    """An offer that meets every category; with deficient=True it lacks digital trade and economic security."""
    rng = random.Random(f"{seed}-{partner}")
    today = received or date.today()
    picks = rng.sample(GOODS, min(lines, len(GOODS)))
    # Beyond the named goods, add more 8-digit lines under the same headings (a long offer).
    extra = [(f"{code}.{n:02d}", f"{desc}, tariff line {n}", rate) for n in range(1, 99) for code, desc, rate in GOODS]
    if lines > len(GOODS) + len(extra):  # a full national schedule: 10-digit lines too
        extra += [
            (f"{code}.{n:02d}{m:02d}", f"{desc}, tariff line {n}.{m}", rate)
            for n in range(1, 99)
            for m in range(1, 99)
            for code, desc, rate in GOODS
        ]
    picks += rng.sample(extra, max(0, lines - len(picks)))
    # Always at least one of each kind, so both tariff categories are met.
    if not any(p[0] < "25" for p in picks):
        picks[0] = GOODS[0]
    if not any(p[0] >= "25" for p in picks):
        picks[-1] = GOODS[-6]
    tariffs = [
        {
            "hs_code": code,
            "description": desc,
            "current_rate_pct": rate,
            "offered_rate_pct": round(rate * rng.choice([0, 0, 0.25, 0.5]), 1),
            "staging_years": rng.choice([0, 0, 1, 3, 5]),
        }
        for code, desc, rate in picks
    ]
    quota_code, quota_desc = rng.choice(QUOTA_GOODS)
    name = negotiator or f"Chief negotiator {partner}"
    doc: dict[str, object] = {
        "schema_version": 1,
        "round_id": round_id,
        "partner": partner,
        "submitted_by": {"name": name, "email": f"negotiator@{partner.lower()}.example"},
        "summary": f"The best offer of {partner}: lower duties on US farm and industrial goods, "
        "an expanded quota, recognition of US standards and pledges on digital trade and economic security.",
        "tariff_commitments": tariffs,
        "quota_commitments": [
            {
                "hs_code": quota_code,
                "description": quota_desc,
                "current_quota_tonnes": rng.choice([0, 10000, 25000]),
                "offered_quota_tonnes": rng.choice([50000, 70000, 120000]),
                "in_quota_rate_pct": 0.0,
            }
        ],
        "no_quotas_on_us_goods": False,
        "non_tariff_barriers": [
            {
                "measure": "Type certification tests for US-built passenger vehicles",
                "action": "recognize",
                "detail": "Accept FMVSS compliance in place of separate domestic certification.",
                "effective_by": (today + timedelta(days=200)).isoformat(),
            },
            {
                "measure": "Import licensing for agricultural products",
                "action": rng.choice(["remove", "reform"]),
                "detail": "Automatic licences issued within five working days.",
                "effective_by": (today + timedelta(days=365)).isoformat(),
            },
        ],
        "digital_trade": [
            {"topic": "cross_border_data", "pledge": "No data-localization requirement for financial services."},
            {"topic": "digital_services_tax", "pledge": "No digital services tax on US companies."},
        ],
        "economic_security": [
            {"topic": "export_controls", "pledge": "Align export controls on advanced semiconductor equipment."},
            {"topic": "duty_evasion", "pledge": "Joint enforcement against transshipment through third countries."},
        ],
        "country_specific": [
            {
                "commitment": "Purchase of US liquefied natural gas and aircraft",
                "value_usd": rng.choice([5, 10, 20, 40]) * 1e9,
                "by_year": today.year + 4,
            }
        ],
    }
    if deficient:
        doc["digital_trade"] = []
        doc["economic_security"] = []
    return OfferDocument.model_validate(doc)
