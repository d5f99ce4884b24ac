"""Names shared by workflows, workers and clients: the task queue, workflow ids, search attributes."""

from __future__ import annotations

from typing import Any

from temporalio.common import SearchAttributeKey

TASK_QUEUE = "offerdesk"


def mail_queue(task_queue: str) -> str:
    """The queue of a worker's notify activities: mail never waits behind letters, which fill the main queue's slots."""
    return f"{task_queue}-mail"


OFFER_ROUND = SearchAttributeKey.for_keyword("OfferRound")
OFFER_PARTNER = SearchAttributeKey.for_keyword("OfferPartner")
OFFER_STATE = SearchAttributeKey.for_keyword("OfferState")
OFFER_REVIEW_DEADLINE = SearchAttributeKey.for_datetime("OfferReviewDeadline")
SEARCH_ATTRIBUTES: list[SearchAttributeKey[Any]] = [OFFER_ROUND, OFFER_PARTNER, OFFER_STATE, OFFER_REVIEW_DEADLINE]


def round_workflow_id(round_id: str) -> str:
    return f"round/{round_id}"


def offer_workflow_id(round_id: str, partner: str) -> str:
    return f"offer/{round_id}/{partner}"
