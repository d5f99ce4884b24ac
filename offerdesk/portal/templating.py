"""What every page shares: the templates, rendering one with its flash message, and a form's post-redirect-get.

Every form posts, then redirects back with a message (post, redirect, get), so reloading never repeats an action.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import ValidationError
from starlette.responses import Response
from starlette.templating import Jinja2Templates

from activities.templates import TEMPLATES_DIR, template_environment
from offerdesk.durations import format_duration
from offerdesk.engine import Refused
from offerdesk.people.principal import Principal
from offerdesk.people.users import AccountError
from offerdesk.portal.access import ALLOWED, Action
from offerdesk.portal.auth import CSRF_FIELD, SESSION_COOKIE, desk
from offerdesk.portal.errors import refusal
from offers.documents import UnusableInputError
from schemas.validation import CATEGORY_TITLES

TEMPLATES = TEMPLATES_DIR / "portal"

router = APIRouter(include_in_schema=False)
"""Every page's route, whichever module it is written in (offer, round and account pages): one router, so the
app and the body limits see each page as a route of its own."""


def _time_left(until: datetime | None) -> str:
    if until is None:
        return ""
    left = until - datetime.now(UTC)
    return "closed" if left.total_seconds() <= 0 else format_duration(timedelta(seconds=int(left.total_seconds())))


def when(moment: datetime | str | None) -> str:
    """A moment as people read it, "2026-12-11 16:45 UTC". In a text (a history's detail, a refusal), each ISO 8601
    time with an offset, as the workflow writes them ("2026-12-11T16:45:07.123456+00:00"), is shown so too."""
    if isinstance(moment, str):

        def readable(found: re.Match[str]) -> str:
            try:
                return when(datetime.fromisoformat(found.group()))
            except ValueError:  # not a real time, such as month 13: left as written
                return found.group()

        return ISO_TIME.sub(readable, moment)
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC") if moment else ""


ISO_TIME = re.compile(r"\b\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,6})?)?(?:Z|[+-]\d{2}:\d{2})")


templates = Jinja2Templates(env=template_environment(TEMPLATES))
templates.env.filters["when"] = when
templates.env.filters["left"] = _time_left
templates.env.filters["duration"] = format_duration
templates.env.globals["CATEGORY_TITLES"] = CATEGORY_TITLES
templates.env.globals["Action"] = Action


async def render(
    request: Request, name: str, who: Principal | None, status_code: int = 200, **context: Any
) -> HTMLResponse:
    """The page `name` for `who` (None: nobody signed in), with the message the last form left, if any."""
    flash = None
    cookie = request.cookies.get(SESSION_COOKIE)
    if who is not None and cookie:
        raw = await desk(request).pop_flash(cookie)
        flash = json.loads(raw) if raw else None
    can = ALLOWED[who.role] if who else frozenset()
    return templates.TemplateResponse(
        request,
        name,
        {"who": who, "can": can, "flash": flash, "csrf_field": CSRF_FIELD, **context},
        status_code=status_code,
    )


async def flash(request: Request, level: str, message: str, fields: list[dict[str, str]] | None = None) -> None:
    """Leave a message for the next page this session shows."""
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        said = json.dumps({"level": level, "message": message, "fields": fields or []})
        await desk(request).flash(cookie, said)


def back_to(target: str) -> Response:
    return RedirectResponse(target, status_code=303)


async def act(request: Request, back: str, work: Callable[[], Awaitable[str]]) -> Response:
    """Do a form's work and go back to the page with what happened; a refusal the person can fix is shown there."""
    try:
        await flash(request, "ok", await work())
    except (Refused, UnusableInputError, AccountError, ValidationError) as e:
        _, body = refusal(e)
        await flash(request, "error", body.message, [f.model_dump() for f in body.fields])
    return back_to(back)
