"""`offerdesk letter`: landing-zone letters."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any

import typer
from asn1crypto.pem import armor as pem_armor
from rich.markup import escape

from activities.signing.identity import SigningError
from offerdesk.cli.common import JsonOpt, call, fail, load_settings, out, print_json, write_output
from offerdesk.engine import Engine
from schemas.letter import LetterCheck
from schemas.offer_state import IssuedLetter, OfferCard, OfferState

letter_app = typer.Typer(help="Landing-zone letters.", no_args_is_help=True)


# ---- letters ----------------------------------------------------------------------------------


@letter_app.command("download")
def letter_download(
    round_id: str,
    partner: str,
    output: Annotated[Path | None, typer.Option("-o", "--output", help="Where to write the PDF.")] = None,
    letter: Annotated[
        int | None,
        typer.Option("--letter", min=1, help="Which letter (1, 2, …; every one is kept); default: the latest."),
    ] = None,
) -> None:
    """Write a partner's landing-zone letter to a file (no worker needed for a letter already issued)."""

    async def work(e: Engine) -> tuple[OfferCard, IssuedLetter | None, bytes | None]:
        card, _ = await e.offer_card(round_id, partner.upper())
        if card.state is OfferState.APPROVED and letter is None:  # the letter is being rendered: wait for it
            card = await e.wait_for(
                round_id, partner.upper(), {OfferState.LETTER_ISSUED, OfferState.LETTER_FAILED}, timedelta(minutes=2)
            )
        _, found = await e.letter(round_id, partner.upper(), letter)
        return card, found, await e.letter_bytes(found.ref) if found else None

    card, found, data = call(work)
    if found is None or data is None:
        why = (
            f": {card.letter_failure}; once the cause is fixed, staff run 'offerdesk staff retry-letter'"
            if (card.letter_failure)
            else "; it has no letter yet"
        )
        raise fail(f"{card.partner_name}'s offer in round {round_id} is {card.state.value}{why}", 1)
    ref = found.ref
    target = output or Path(ref.filename)
    write_output(target, data)
    signed = f", signed by {ref.signed_by}" if ref.signed_by else ""
    out.print(
        f"Wrote letter {found.number} (answering version {found.version}) to {target} "
        f"({len(data):,} bytes, {ref.pages} pages, sha256 {ref.sha256}{signed}).",
        highlight=False,
    )


# ---- signatures -------------------------------------------------------------------------------

VALID, NOT_VALID, UNREADABLE = 0, 1, 2


def trusted_certificates(trust: Path | None) -> list[Any]:
    """The certificates a letter's signer must chain to: those of `trust`, else the installation's own."""
    from activities.signing.identity import installation_certificates, read_certificates

    try:
        if trust is not None:
            return read_certificates(trust)
        return installation_certificates(load_settings().signing())
    except SigningError as e:
        raise fail(f"{e}; name the certificates to trust with --trust CERT.pem", UNREADABLE) from None


@letter_app.command("verify")
def letter_verify(
    file: Annotated[Path, typer.Argument(help="The letter (PDF) to check.")],
    trust: Annotated[
        Path | None,
        typer.Option("--trust", help="Trust these certificates (PEM) instead of the installation's own."),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Check a letter's signature: who signed it and when, whether it is unchanged, and whether the signer is trusted.

    Exits 0 for a valid letter, 1 for one that is modified, unsigned or untrusted, 2 for a file that cannot be read.
    """
    from activities.signing.verify import UnreadableLetter, check_letter

    try:
        data = file.read_bytes()
    except OSError as e:
        raise fail(f"cannot read {file}: {e.strerror or e}", UNREADABLE) from None
    try:
        check = check_letter(data, trusted_certificates(trust))
    except UnreadableLetter as e:
        raise fail(f"{file} cannot be checked: {e}", UNREADABLE) from None
    if as_json:
        print_json(check)
    else:
        _print_check(check)
    raise typer.Exit(VALID if check.valid else NOT_VALID)


def _print_check(check: LetterCheck) -> None:
    def yes(flag: bool) -> str:
        return "[green]yes[/]" if flag else "[red]no[/]"

    stamp = check.timestamp
    rows = [
        ("Signer", escape(check.signer or "(not signed)")),
        ("Signed at", f"{check.signed_at:%Y-%m-%d %H:%M:%S %Z}" if check.signed_at else "(not stated)"),
        (
            "Timestamp",
            f"{stamp.time:%Y-%m-%d %H:%M:%S %Z} by {escape(stamp.authority)}"
            f"{'' if stamp.trusted else ' (authority not trusted)'}{'' if stamp.intact else ' [red](broken)[/]'}"
            if stamp
            else "none (no timestamp authority: PAdES B-B)"
            if check.signer
            else "none",
        ),
        ("Whole file covered, unmodified", yes(check.covers_whole_file)),
        ("Signer trusted", yes(check.trusted)),
    ]
    for label, value in rows:
        out.print(f"{label + ':':<32}{value}", highlight=False)
    verdict = "[green]VALID[/]" if check.valid else "[red]NOT VALID[/]"
    out.print(f"{verdict}: {escape(check.reason)}", highlight=False)


@letter_app.command("certificate")
def letter_certificate(
    output: Annotated[Path | None, typer.Option("-o", "--output", help="Write it to this file.")] = None,
) -> None:
    """The office's signing certificate (PEM): partners import it into their PDF reader to check letters."""
    from activities.signing.identity import cached_signer

    try:
        cert = cached_signer(load_settings().signing()).signing_cert
    except SigningError as e:
        raise fail(str(e), UNREADABLE) from None
    assert cert is not None  # a signer without a certificate does not load
    pem = pem_armor("CERTIFICATE", cert.dump())
    if output is None:
        print(pem.decode(), end="")
        return
    write_output(output, pem)
    out.print(f"Wrote the signing certificate ({escape(cert.subject.human_friendly)}) to {output}.")
