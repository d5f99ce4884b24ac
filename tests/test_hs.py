from __future__ import annotations

import pytest

from activities.hs import GoodsKind, HSCodeError, classify_hs, normalize_hs


@pytest.mark.parametrize(
    ("code", "kind"),
    [
        ("1006.30", GoodsKind.AGRICULTURAL),
        ("0201.30", GoodsKind.AGRICULTURAL),
        ("8703.23", GoodsKind.INDUSTRIAL),
        ("0302.11", GoodsKind.INDUSTRIAL),  # fish is industrial
        ("1604.14", GoodsKind.INDUSTRIAL),  # prepared fish
        ("0511.91", GoodsKind.INDUSTRIAL),
        ("0511.99", GoodsKind.AGRICULTURAL),
        ("2301.20", GoodsKind.INDUSTRIAL),
        ("2301.10", GoodsKind.AGRICULTURAL),
        ("2905.44", GoodsKind.AGRICULTURAL),  # sorbitol
        ("2905.11", GoodsKind.INDUSTRIAL),
        ("3301.12", GoodsKind.AGRICULTURAL),
        ("3505.10", GoodsKind.AGRICULTURAL),
        ("3506.10", GoodsKind.INDUSTRIAL),
        ("4101.20", GoodsKind.AGRICULTURAL),
        ("4104.11", GoodsKind.INDUSTRIAL),
        ("5201.00", GoodsKind.AGRICULTURAL),
        ("5204.11", GoodsKind.INDUSTRIAL),
        ("5302.10", GoodsKind.AGRICULTURAL),
        ("870323", GoodsKind.INDUSTRIAL),
        ("0201.30.00.10", GoodsKind.AGRICULTURAL),
        ("2905", GoodsKind.MIXED),  # holds sorbitol and industrial alcohols
        ("05", GoodsKind.MIXED),
        ("03", GoodsKind.INDUSTRIAL),
        ("10", GoodsKind.AGRICULTURAL),
    ],
)
def test_classification_follows_wto_annex_1(code: str, kind: GoodsKind) -> None:
    assert classify_hs(code) is kind


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("8703.2", "2, 4, 6, 8 or 10 digits"),
        ("87O3.23", "2, 4, 6, 8 or 10 digits"),
        ("", "2, 4, 6, 8 or 10 digits"),
        ("9903.01", "chapter 99 holds US special provisions"),
        ("9801.00", "chapter 98 holds US special provisions"),
        ("7701.00", "77 is reserved"),
        ("0001.00", "chapter 00 does not exist"),
    ],
)
def test_bad_codes_say_what_is_wrong(code: str, message: str) -> None:
    with pytest.raises(HSCodeError, match=message):
        normalize_hs(code)


def test_normalize_strips_dots() -> None:
    assert normalize_hs("0201.30") == "020130"
