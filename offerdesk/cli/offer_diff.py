"""`offerdesk offer diff`: what changed between two versions of an offer."""

from __future__ import annotations

from typing import Annotated

import typer

from offerdesk.cli.common import JsonOpt, call, fail, out, print_json
from offerdesk.cli.offer import offer_app
from offerdesk.engine import Engine
from offers.diff import diff_documents
from schemas.diff import FieldChange, OfferDiff, Value
from schemas.offer import OfferDocument
from schemas.offer_state import OfferVersion
from schemas.validation import ValidationReport

SHOWN = 50
"""Entries of each list printed; --json gives them all."""

Read = tuple[OfferDocument, OfferVersion, ValidationReport | None]


def _value(v: Value) -> str:
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        return f"{v:g}"
    return "—" if v is None else str(v)


def _changes(changes: list[FieldChange]) -> str:
    return "; ".join(f"{c.field} {_value(c.from_)} → {_value(c.to)}" for c in changes)


def _print_some(title: str, rows: list[str]) -> None:
    if not rows:
        return
    out.print(f"  [bold]{title}[/]")
    for row in rows[:SHOWN]:
        out.print(f"    {row}", highlight=False, markup=False)
    if len(rows) > SHOWN:
        out.print(f"    ... and {len(rows) - SHOWN:,} more; --json lists them all", highlight=False)


def _print_diff(d: OfferDiff) -> None:
    out.print(f"[bold]{d.partner}[/], round {d.round_id}: version {d.from_version} → version {d.to_version}")
    if d.empty:
        out.print("  nothing changed: the two versions say the same")
        return
    t, q, m, p = d.tariff_lines, d.quotas, d.non_tariff_barriers, d.pledges
    out.print(f"  tariff lines: {len(t.added)} added, {len(t.removed)} removed, {len(t.changed)} changed")
    _print_some(
        "categories",
        [
            f"{c.category.value}: {c.from_.value if c.from_ else '—'} → {c.to.value if c.to else '—'}"
            for c in d.categories
        ],
    )
    _print_some("tariff lines changed", [f"{x.hs_code} {x.description}: {_changes(x.changes)}" for x in t.changed])
    _print_some(
        "tariff lines added",
        [f"{x.hs_code} {x.description}: {x.current_rate_pct:g}% → {x.offered_rate_pct:g}%" for x in t.added],
    )
    _print_some("tariff lines removed", [f"{x.hs_code} {x.description}" for x in t.removed])
    _print_some(
        "quotas",
        [f"changed {x.hs_code} {x.description}: {_changes(x.changes)}" for x in q.changed]
        + [f"added {x.hs_code} {x.description}" for x in q.added]
        + [f"removed {x.hs_code} {x.description}" for x in q.removed],
    )
    _print_some(
        "non-tariff measures",
        [f"changed {x.measure}: {_changes(x.changes)}" for x in m.changed]
        + [f"added {x.measure} ({x.action})" for x in m.added]
        + [f"removed {x.measure}" for x in m.removed],
    )
    _print_some(
        "pledges and country-specific commitments",
        [f"added ({x.category.value}) {x.text}" for x in p.added]
        + [f"removed ({x.category.value}) {x.text}" for x in p.removed],
    )
    _print_some("the document", [_changes([c]) for c in d.document])


@offer_app.command("diff")
def offer_diff(
    round_id: str,
    partner: str,
    from_: Annotated[
        int | None,
        typer.Option(
            "--from",
            min=1,
            help="The earlier version (default: the one the last letter answered, for a counter-offer; else the one "
            "before)",
        ),
    ] = None,
    to: Annotated[int | None, typer.Option("--to", min=1, help="The later version (default: the latest)")] = None,
    as_json: JsonOpt = False,
) -> None:
    """What changed between two versions of an offer: tariff lines, quotas, measures, pledges, category statuses."""
    code = partner.upper()

    async def read(e: Engine) -> tuple[Read, int]:
        new = await e.document(round_id, code, to)
        if from_ is not None:
            return new, from_
        card, _ = await e.offer_card(round_id, code)
        return new, card.compare_from(new[1].number)

    new, number = call(read)
    if number < 1:
        raise fail(
            f"the offer of {code} in round {round_id} has only version {new[1].number}; "
            "there is no earlier version to compare it with",
            1,
        )
    old: Read = call(lambda e: e.document(round_id, code, number))
    diff = diff_documents(old[0], new[0], old[2], new[2], from_version=old[1].number, to_version=new[1].number)
    if as_json:
        print_json(diff)
    else:
        _print_diff(diff)
