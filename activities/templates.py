"""The one way Offerdesk loads its jinja2 templates (letters, mail, the portal's pages): strict about missing
values, whitespace trimmed, and escaped unless a folder's plain-text templates say otherwise."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import jinja2

TEMPLATES_DIR = Path(__file__).resolve().parent.parent / "templates"


def template_environment(folder: Path, *, escape_only: tuple[str, ...] = ()) -> jinja2.Environment:
    """An environment over `folder`. Every template is HTML-escaped unless `escape_only` names the extensions
    that are (mail's plain-text parts must not be); autoescape=True, not select_autoescape(), escapes
    "letter.html.j2" too."""
    autoescape: bool | Callable[[str | None], bool] = (
        jinja2.select_autoescape(enabled_extensions=escape_only, default=False) if escape_only else True
    )
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(folder),
        autoescape=autoescape,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
