"""What the routers take from a request: who is calling, the desk, and the path's parts, typed once for all."""

from __future__ import annotations

import asyncio
import contextvars
import functools
from concurrent.futures import ThreadPoolExecutor
from typing import Annotated

from fastapi import Depends, Path, Query, Request, UploadFile

from offerdesk.people.principal import Principal
from offerdesk.portal.auth import api_caller, desk, form_caller, page_caller
from offerdesk.portal.desk import Desk
from offers.documents import MAX_OFFER_BYTES, UnusableInputError, is_workbook, parse_offer, parse_offer_file
from schemas.offer import OfferDocument
from schemas.portal import USER_NAME_PATTERN

OFFER = "/rounds/{round_id}/offers/{partner}"
"""One offer's path, under /api for programs and as it is for pages."""

Caller = Annotated[Principal, Depends(api_caller)]
"""The caller of an API route: an API token, or a browser session with its CSRF header."""
Person = Annotated[Principal, Depends(page_caller)]
"""The signed-in person looking at a page; anyone else is sent to sign in."""
Poster = Annotated[Principal, Depends(form_caller)]
"""The signed-in person posting a form, with the session's CSRF token in it."""


async def the_desk(request: Request) -> Desk:
    """The desk, as a dependency. It is a coroutine because FastAPI runs a plain function dependency in its thread
    pool: a thread hop, and a wait for the GIL under load, on every request for an attribute lookup."""
    return desk(request)


TheDesk = Annotated[Desk, Depends(the_desk)]

RoundId = Annotated[str, Path(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$", description="The round's id")]
Partner = Annotated[str, Path(pattern=r"^[A-Z]{2}$", description="The partner's code, such as JP")]
UserName = Annotated[str, Path(pattern=USER_NAME_PATTERN, description="The user's name")]
TokenId = Annotated[str, Path(max_length=64)]
Number = Annotated[int, Path(ge=1, le=1_000_000, description="The version's number, from 1")]
LetterNumber = Annotated[int, Path(ge=1, le=1_000_000, description="The letter's number, from 1")]
Version = Annotated[int | None, Query(ge=1, le=1_000_000, description="A version number; the latest by default")]


WORKBOOK_THREADS = 16
_WORKBOOK_THREADS = ThreadPoolExecutor(max_workers=WORKBOOK_THREADS, thread_name_prefix="workbook")
"""Where uploaded workbooks wait for and watch their reader (offers.spreadsheets.sandbox bounds the readers)."""
_workbooks_waiting = 0
"""Uploaded workbooks on those threads or queued for one (the event loop's own count: no lock)."""


async def read_upload(file: UploadFile) -> OfferDocument:
    """An uploaded offer: a JSON document, or an .xlsx workbook (by its name or its ZIP magic bytes)."""
    data = await file.read(MAX_OFFER_BYTES + 1)
    if not data:
        raise UnusableInputError("the uploaded file is empty; choose the offer's JSON file or .xlsx workbook")
    source = file.filename or "upload"
    if is_workbook(data, source):
        # Reading a full schedule's workbook takes seconds: off the event loop, so other requests go on, and on
        # threads of its own, so uploads waiting for a reader never hold the threads sign-ins and reads use. No
        # more wait than there are threads, so none waits longer than the reader's queue allows.
        global _workbooks_waiting
        if _workbooks_waiting >= WORKBOOK_THREADS:
            raise UnusableInputError(
                f"{source}: could not be read now, as the server is reading other workbooks; send it again in a minute"
            )
        _workbooks_waiting += 1
        try:
            read = functools.partial(contextvars.copy_context().run, parse_offer_file, data, source)
            return await asyncio.get_running_loop().run_in_executor(_WORKBOOK_THREADS, read)
        finally:
            _workbooks_waiting -= 1
    return await asyncio.to_thread(parse_offer, data, source)
