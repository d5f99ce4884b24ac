"""The portal application: API and pages on one FastAPI app, and a way to serve it beside a worker."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import quote

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response
from starlette.types import ASGIApp

from activities.capacity import usable_cpus
from offerdesk.config import Settings
from offerdesk.engine import Engine
from offerdesk.people import DatabaseUnavailable, open_people
from offerdesk.portal import api, apidocs, codec, content, files, health, pages, reports, verify
from offerdesk.portal.auth import SignInRequired, page_caller
from offerdesk.portal.desk import Desk
from offerdesk.portal.errors import HANDLED, allowed_methods, json_error, refusal
from offerdesk.portal.limits import BodyLimit, JsonDepthLimit
from offerdesk.portal.metrics import observe
from offerdesk.portal.security import SecurityHeaders
from offerdesk.portal.templating import TEMPLATES, render
from offers.spreadsheets.sandbox import allow_readers
from schemas.offer import OfferDocument

log = logging.getLogger("offerdesk.portal")


class PortalApp(FastAPI):
    """FastAPI with the security headers around everything, Starlette's ServerErrorMiddleware included.

    Starlette puts ServerErrorMiddleware outside every middleware added with `add_middleware`, and it answers the
    500 of an unhandled exception through the `send` it was given: a header middleware added the usual way never
    sees that answer. Wrapping the built stack instead puts the headers on every answer the app gives, whatever
    gives it: a route, an exception handler, the 500 handler, a middleware's refusal, the router's 404 or 405.
    """

    def build_middleware_stack(self) -> ASGIApp:
        return SecurityHeaders(super().build_middleware_stack())


def create_app(settings: Settings, engine: Engine | None = None) -> FastAPI:
    """The portal; it connects to Temporal on start unless an engine is given (as `offerdesk up` does)."""

    # The worker files notices there too; /notifications reads them. A schema not this code's refuses to start.
    people = open_people(settings.database, settings.database_pool_size)
    allow_readers(usable_cpus())  # uploaded workbooks read at once: one per CPU this portal may use

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.desk = Desk(engine or await Engine.from_settings(settings), people)
        yield

    app = PortalApp(
        title="Offerdesk",
        version="1",
        summary="Trade partners' best offers, from intake to a landing-zone letter.",
        description=(
            "Sign in with an API token: `Authorization: Bearer od_…` (staff create tokens on /access or "
            "with `offerdesk token create`). Every refusal is a JSON body with `error`, `message` and `fields`."
        ),
        lifespan=lifespan,
        docs_url=None,  # /docs and /redoc are the portal's own (apidocs), from files it ships
        redoc_url=None,
    )
    app.state.cookie_secure = settings.cookie_secure
    app.add_middleware(JsonDepthLimit)  # inside BodyLimit: it reads the body whole, so only up to the cap
    app.add_middleware(BodyLimit)
    observe(app)  # metrics, the access line and traces of every request (SecurityHeaders wraps them all)
    app.state.ui_origins = settings.ui_origins
    app.include_router(health.router)
    app.include_router(codec.router)
    app.include_router(files.router)
    app.include_router(content.router)
    app.include_router(reports.router)
    app.include_router(api.router)
    app.include_router(verify.router)
    app.include_router(pages.router)
    app.include_router(apidocs.router)
    apidocs.mount_assets(app)
    app.mount("/static", StaticFiles(directory=TEMPLATES / "static"), name="static")

    async def on_error(request: Request, exc: Exception) -> Response:
        if isinstance(exc, SignInRequired):
            return RedirectResponse(f"/signin?next={quote(exc.next_path)}", status_code=303)
        status, body = refusal(exc)
        if status >= 500:
            log.error("%s %s failed", request.method, request.url.path, exc_info=exc)
        if request.url.path.startswith("/api/") or request.url.path == "/api":
            answer = json_error(request, exc)
        else:
            who = None
            with contextlib.suppress(SignInRequired, DatabaseUnavailable):
                who = await page_caller(request)
            answer = await render(request, "error.html", who, status, error=body)
        if isinstance(exc, StarletteHTTPException) and exc.headers:
            answer.headers.update(exc.headers)  # the framework's own
        if status == 405:
            answer.headers["Allow"] = allowed_methods(request)  # RFC 9110: what the path takes
        return answer

    for kind in (*HANDLED, SignInRequired, Exception):
        app.add_exception_handler(kind, on_error)
    app.openapi = functools.partial(_openapi, app, app.openapi)  # type: ignore[method-assign]
    return app


def _openapi(app: FastAPI, generate: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """FastAPI's document, plus the offer document's schema: the submit route reads its body itself (to refuse
    non-finite numbers and runaway nesting as a 422), so FastAPI does not see the model on its own."""
    if app.openapi_schema:
        return app.openapi_schema
    schema = generate()
    document = OfferDocument.model_json_schema(ref_template="#/components/schemas/{model}")
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components.update(document.pop("$defs", {}))
    components["OfferDocument"] = document
    app.openapi_schema = schema
    return schema


class _Server(uvicorn.Server):
    """Uvicorn without its own signal handlers: `offerdesk up` stops the worker and the portal together."""

    def capture_signals(self) -> contextlib.AbstractContextManager[None]:  # type: ignore[override]
        return contextlib.nullcontext()


async def serve_portal(settings: Settings, engine: Engine, stop: asyncio.Event) -> None:
    """Serve the portal until `stop` is set, in the caller's event loop (beside the worker)."""
    config = uvicorn.Config(create_app(settings, engine), lifespan="on", **settings.server_options())
    server = _Server(config)
    task = asyncio.create_task(server.serve())
    await stop.wait()
    server.should_exit = True
    await task
