"""A notice as the worker files one, for tests of composing, filing and mailing."""

from __future__ import annotations

from datetime import UTC, datetime

from schemas.notice import Notice, NoticeKind


def a_notice(kind: NoticeKind = NoticeKind.IN_REVIEW, key: str | None = None, **extra: object) -> Notice:
    """Japan's offer in round r1, version 2, due two days on; `key` unique where the test files it."""
    fields: dict[str, object] = {
        "key": key or f"offer/r1/JP@abcd1234/{kind.value}/7",
        "kind": kind,
        "round_id": "r1",
        "partner": "JP",
        "partner_name": "Japan",
        "version": 2,
        "at": datetime(2026, 11, 23, 12, 0, tzinfo=UTC),
        "due": datetime(2026, 11, 25, 17, 0, tzinfo=UTC),
    }
    return Notice.model_validate({**fields, **extra})
