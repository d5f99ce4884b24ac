"""`offerdesk offer template` and `offerdesk offer export`: offers as files to fill in, and back out again."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from offerdesk.cli.common import call, fail, out, parse_input, write_output
from offerdesk.cli.offer import offer_app
from offers.documents import UnusableInputError

EXPORT_FORMATS = (".xlsx", ".json", ".csv")


@offer_app.command("template")
def offer_template(
    output: Annotated[Path, typer.Option("-o", "--output", help="Where to write the workbook (.xlsx).")] = Path(
        "offer-template.xlsx"
    ),
    round_id: Annotated[str, typer.Option("--round", help="Fill in the round id on the Offer sheet.")] = "",
    partner: Annotated[str, typer.Option("--partner", help="Fill in the partner code on the Offer sheet.")] = "",
) -> None:
    """Write a blank offer workbook: one sheet per category, the header fields, drop-down lists, instructions.

    Fill it in and send it with 'offerdesk offer submit FILE.xlsx' (or upload it in the portal).
    """
    if output.suffix.lower() != ".xlsx":
        raise fail(f"{output}: the template is an Excel workbook; name the file *.xlsx", 2)
    from offers.spreadsheets import write_workbook  # openpyxl only for the commands that write workbooks

    data = write_workbook(None, round_id=round_id, partner=partner.upper())
    write_output(output, data)
    out.print(f"Wrote {output} ({len(data):,} bytes): fill in the Offer sheet and the category sheets.")


@offer_app.command("export")
def offer_export(
    round_id: str,
    partner: str,
    output: Annotated[
        Path,
        typer.Option(
            "-o",
            "--output",
            help="The file to write; its ending picks the format: .xlsx (the workbook, to edit and send back), "
            ".json (the canonical document) or .csv (the tariff lines only, for a spreadsheet; not importable).",
        ),
    ],
    version: Annotated[
        int | None, typer.Option("--version", min=1, help="Which version (default: the latest).")
    ] = None,
) -> None:
    """Write one version of an offer as a workbook, as its JSON document, or its tariff lines as CSV.

    An exported .xlsx or .json reads back as the same document with 'offer submit' / 'offer amend'; the .json is
    the canonical form, so its SHA-256 is the version's digest. The .csv holds the tariff lines only.
    """
    suffix = output.suffix.lower()
    if suffix not in EXPORT_FORMATS:
        raise fail(f"{output}: name the file *.xlsx, *.json or *.csv (the .csv holds the tariff lines only)", 2)
    document, found, _ = call(lambda e: e.document(round_id, partner.upper(), version))

    def render() -> bytes:
        try:
            from offers.spreadsheets import export_offer

            return export_offer(document, suffix.removeprefix("."))
        except UnusableInputError as e:
            raise ValueError(f"version {found.number}: {e}") from None

    data = parse_input(render)
    write_output(output, data)
    what = f"{len(document.tariff_commitments):,} tariff lines" if suffix == ".csv" else "the document"
    out.print(
        f"Wrote {output}: {what} of version {found.number} of {document.partner}'s offer in round "
        f"{document.round_id} ({len(data):,} bytes, digest {found.digest[:12]})."
    )
