"""What an offer says, for whoever may read it: one version's content and a page of its lines, what changed
between two versions, a version as a file; and, for staff, the payloads the Temporal UI shows."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any

from google.protobuf import json_format
from temporalio.api.common.v1 import Payloads

from offerdesk.engine import Refused
from offerdesk.people.principal import Principal
from offerdesk.portal.access import Action, Forbidden, NotFound
from offerdesk.portal.desk.base import DeskBase
from offers.diff import diff_documents
from offers.lines import PER_PAGE, filter_lines
from offers.spreadsheets import export_offer
from schemas.diff import LineKind, LinePage, OfferDiff
from schemas.offer import OfferDocument
from schemas.offer_state import OfferVersion
from schemas.portal import Role
from schemas.refusal import Refusal
from schemas.validation import ValidationReport

Read = tuple[OfferDocument, OfferVersion, ValidationReport | None]
"""One version of an offer as read: the document, the version's record, and its validation report."""


@dataclass(frozen=True)
class LineFilter:
    chapter: str | None = None
    kind: LineKind | None = None
    no_change: bool = False
    page: int = 1
    per_page: int = PER_PAGE


@dataclass(frozen=True)
class Lines:
    read: Read
    page: LinePage


class ContentDesk(DeskBase):
    async def lines(self, who: Principal, round_id: str, partner: str, version: int | None, shown: LineFilter) -> Lines:
        """One version (the latest by default) with one page of its tariff lines, filtered."""

        async def work() -> Lines:
            read = await self.engine.document(round_id, partner, version)
            f = shown
            page = await asyncio.to_thread(filter_lines, read[0], f.chapter, f.kind, f.no_change, f.page, f.per_page)
            return Lines(read, page)

        def detail(found: Lines) -> str:
            return f"version {found.read[1].number}, page {shown.page}"

        return await self._audited(
            who,
            Action.READ_OFFER,
            work,
            round_id=round_id,
            partner=partner,
            detail=detail,
            what="read an offer's lines",
        )

    async def diff(
        self,
        who: Principal,
        round_id: str,
        partner: str,
        from_: int | None = None,
        to: int | None = None,
        have: Read | None = None,
    ) -> OfferDiff:
        """What changed from version `from_` to `to`: by default the latest against the one before it, or, for a
        counter-offer, against the version the last letter before it answered.

        `have` is a version already read (a full schedule takes a while to parse), used if it is the one asked for.
        """

        async def work() -> OfferDiff:
            if have is not None and to == have[1].number:
                new, new_version, new_report = have
            else:
                new, new_version, new_report = await self.engine.document(round_id, partner, to)
            if from_ is not None:
                number = from_
            else:
                card, _ = await self.engine.offer_card(round_id, partner)
                number = card.compare_from(new_version.number)
            if number < 1:
                raise Refused(
                    f"the offer of {partner} in round {round_id} has only version {new_version.number}; "
                    "there is no earlier version to compare it with",
                    Refusal.NOTHING_TO_COMPARE,
                )
            old, old_version, old_report = await self.engine.document(round_id, partner, number)
            return await asyncio.to_thread(
                diff_documents,
                old,
                new,
                old_report,
                new_report,
                from_version=old_version.number,
                to_version=new_version.number,
            )

        def detail(found: OfferDiff) -> str:
            return f"version {found.from_version} to {found.to_version}"

        return await self._audited(
            who, Action.READ_OFFER, work, round_id=round_id, partner=partner, detail=detail, what="compare versions"
        )

    async def export(self, who: Principal, round_id: str, partner: str, number: int, fmt: str) -> bytes:
        """Version `number` as a file: "xlsx", "json" or "csv" (its tariff lines). A version that does not exist
        is not found, like an offer the caller may not see."""

        async def work() -> bytes:
            try:
                document, _, _ = await self.engine.document(round_id, partner, number)
            except Refused as e:
                if e.kind == Refusal.NO_VERSION:
                    raise NotFound(e.message) from None
                raise
            return await asyncio.to_thread(export_offer, document, fmt)

        detail = f"version {number} as {fmt}"
        return await self._audited(
            who, Action.READ_OFFER, work, round_id=round_id, partner=partner, detail=detail, what="export an offer"
        )

    async def decode(self, who: Principal, sent: bytes) -> dict[str, Any]:
        """Payloads as the worker sees them, for staff in the Temporal UI: `{"payloads": [...]}` in protobuf JSON,
        as the codec-server protocol sends and takes them. Unreadable JSON is a ValueError or a ParseError."""

        async def work() -> dict[str, Any]:
            if who.role is not Role.STAFF:
                raise Forbidden(f"only staff may decode payloads; a {who.role.value} may not")
            payloads = json_format.ParseDict(json.loads(sent), Payloads())
            codec = self.engine.client.data_converter.payload_codec
            assert codec is not None
            decoded: dict[str, Any] = json_format.MessageToDict(
                Payloads(payloads=await codec.decode(payloads.payloads))
            )
            return decoded

        return await self._audited(who, None, work, what="decode payloads", quiet=True)
