from __future__ import annotations

import pytest

from offers.hs import GoodsKind, HSCodeError, classify_hs, normalize_hs
from offers.reference import load_agricultural_prefixes


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


# Every character other than 0-9 that str.isdigit() takes: superscripts, full-width, Arabic-Indic, Devanagari, ...
NON_ASCII_DIGITS = [chr(c) for c in range(0x80, 0x110000) if chr(c).isdigit()]


@pytest.mark.parametrize("code", ["0²01.30", "０２０１", "٠٢٠١", "0201.3٠", "²²"])
def test_only_ascii_digits_make_an_hs_code(code: str) -> None:
    with pytest.raises(HSCodeError, match=r"^an HS code has 2, 4, 6, 8 or 10 digits, dotted or not"):
        normalize_hs(code)
    with pytest.raises(HSCodeError, match="2, 4, 6, 8 or 10 digits"):
        classify_hs(code)


def test_no_other_digit_of_any_script_passes_for_an_hs_code() -> None:
    assert len(NON_ASCII_DIGITS) > 100  # the sweep covers many scripts, not just a handful
    for digit in NON_ASCII_DIGITS:
        for code in (f"02{digit}1", f"{digit}{digit}01.30", f"0201.3{digit}"):
            with pytest.raises(HSCodeError, match="2, 4, 6, 8 or 10 digits"):
                normalize_hs(code)


def scan_whole_table(code: str) -> GoodsKind:
    """Classification the slow, obvious way: the longest matching prefix, then every longer entry under the code."""
    digits = normalize_hs(code)
    table = load_agricultural_prefixes()
    own = next((table[digits[:n]] for n in range(len(digits), 1, -1) if digits[:n] in table), "industrial")
    below = {
        kind == "agricultural"
        for prefix, kind in table.items()
        if len(prefix) > len(digits) and prefix.startswith(digits)
    }
    if (own != "agricultural") in below:
        return GoodsKind.MIXED
    return GoodsKind.AGRICULTURAL if own == "agricultural" else GoodsKind.INDUSTRIAL


def test_classification_agrees_with_a_scan_of_the_whole_table() -> None:
    """The precomputed prefix sets give what a scan of the table gives, on every 2- and 4-digit code and around
    every 6-digit entry."""
    codes = [f"{c:02d}" for c in range(1, 98)] + [f"{c:02d}{h:02d}" for c in range(1, 98) for h in range(100)]
    codes += [p[:4] + f"{s:02d}" for p in load_agricultural_prefixes() if len(p) == 6 for s in range(100)]
    checked = 0
    for code in codes:
        try:
            expected = scan_whole_table(code)
        except HSCodeError:
            continue
        assert classify_hs(code) is expected, code
        checked += 1
    assert checked > 9000
    assert sum(classify_hs(c) is GoodsKind.MIXED for c in codes if c[:2] not in ("00", "77")) >= 5
