"""Server-rendered pages: plain HTML forms that work without JavaScript, one page per job.

The pages of one offer, of rounds and lists, and of accounts are modules of their own, each adding its routes to
the one router of pages (offerdesk/portal/templating.py), which the app includes.
"""

from __future__ import annotations

from offerdesk.portal import account_pages, offer_pages, round_pages
from offerdesk.portal.templating import router

PAGES = (account_pages, round_pages, offer_pages)
"""The modules whose routes `router` holds: importing them adds their routes."""

__all__ = ["PAGES", "router"]
