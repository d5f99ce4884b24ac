"""The API's documentation, /docs (Swagger UI) and /redoc (ReDoc), from files the portal ships: no CDN, no inline
script, so both pages work offline and under the portal's one Content-Security-Policy (security.py; it allows the
two <style> elements ReDoc writes by their digests).

Swagger UI's and ReDoc's scripts and Swagger UI's stylesheet come from the `fastapi-offline` package (its `static`
folder), served at /static/docs/ beside the two initializers of our own (templates/portal/static/docs/), which
start them from the page's `data-spec-url` instead of an inline script. Each script and stylesheet is named with
its digest (Subresource Integrity).

ReDoc is started without its search (it runs in a worker made from a `blob:` URL, a script the CSP refuses), and
its bundle is served with one change: the logo beside "API docs by Redocly" is no longer loaded from Redocly's CDN
(the image is left without a source, and ReDoc hides an image that does not load).
"""

from __future__ import annotations

import base64
import functools
import hashlib
import html
import importlib.util
from pathlib import Path

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse, Response
from fastapi.staticfiles import StaticFiles

from offerdesk.portal.templating import TEMPLATES

ASSETS = "/static/docs"
OURS = TEMPLATES / "static" / "docs"
VENDOR_PACKAGE = ("fastapi_offline", "static")

router = APIRouter(include_in_schema=False)


def vendor_folder() -> Path:
    """Where the installed fastapi-offline keeps Swagger UI's and ReDoc's files."""
    spec = importlib.util.find_spec(VENDOR_PACKAGE[0])
    if spec is None or spec.origin is None:
        raise RuntimeError("the fastapi-offline package is not installed; it ships the API documentation's scripts")
    return Path(spec.origin).parent / VENDOR_PACKAGE[1]


def mount_assets(app: FastAPI) -> None:
    """Serve the documentation's files at /static/docs/; mount it before /static, which would take the path."""
    app.mount(ASSETS, StaticFiles(directory=OURS, packages=[VENDOR_PACKAGE]), name="docs-static")


REDOC = "redoc.standalone.js"
REDOC_LOGO = (b'src:"https://cdn.redoc.ly/redoc/logo-mini.svg"', b'src:""')
"""ReDoc's one request elsewhere, and what it becomes."""


@functools.cache
def redoc_bundle() -> bytes:
    """ReDoc's script as the portal serves it: with its logo from the CDN taken out."""
    return (vendor_folder() / REDOC).read_bytes().replace(*REDOC_LOGO)


@router.get(f"{ASSETS}/{REDOC}")
async def redoc_script() -> Response:
    return Response(redoc_bundle(), media_type="text/javascript; charset=utf-8")


@functools.cache
def integrity(name: str) -> str:
    """The file's Subresource Integrity value: sha384 of the bytes served."""
    if name == REDOC:
        content = redoc_bundle()
    else:
        content = (OURS / name if (OURS / name).is_file() else vendor_folder() / name).read_bytes()
    return "sha384-" + base64.b64encode(hashlib.sha384(content).digest()).decode()


def _page(
    request: Request, title: str, element: str, styles: tuple[str, ...], scripts: tuple[str, ...]
) -> HTMLResponse:
    """A documentation page: the element the initializer fills (it reads the document's URL from it), the
    stylesheets in the head, and the scripts at the end, each with its digest; nothing inline, nothing elsewhere."""
    root = html.escape(request.scope.get("root_path", ""))
    spec = html.escape(f"{root}{request.app.openapi_url}")
    links = "".join(f'<link rel="stylesheet" href="{root}{ASSETS}/{s}" integrity="{integrity(s)}">\n' for s in styles)
    tags = "".join(f'<script src="{root}{ASSETS}/{s}" integrity="{integrity(s)}"></script>\n' for s in scripts)
    page = f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(request.app.title)} - {title}</title>
<link rel="icon" href="{root}{ASSETS}/favicon.png">
{links}</head>
<body>
<noscript>The API documentation needs JavaScript; the document itself is at <a href="{spec}">{spec}</a>.</noscript>
<div id="{element}" data-spec-url="{spec}"></div>
{tags}</body>
</html>
"""
    return HTMLResponse(page)


@router.get("/docs")
async def swagger_ui(request: Request) -> HTMLResponse:
    return _page(request, "Swagger UI", "swagger-ui", ("swagger-ui.css",), ("swagger-ui-bundle.js", "swagger-init.js"))


@router.get("/redoc")
async def redoc(request: Request) -> HTMLResponse:
    return _page(request, "ReDoc", "redoc", ("redoc-page.css",), (REDOC, "redoc-init.js"))
