"""What the portal does on a person's behalf: check the role, act as that person, keep the audit.

`Desk` is the portal's one way in: the API, the pages, the files, the report and the codec endpoint reach the
engine and the people's records only through it, so a rule holds in all of them or in none, and every decision
and read is recorded in one place (`DeskBase._audited`). Its parts, one concept each, share that one method.
"""

from __future__ import annotations

from offerdesk.portal.desk.content import ContentDesk, LineFilter, Lines, Read
from offerdesk.portal.desk.offers import Letter, OfferDesk
from offerdesk.portal.desk.people import PeopleDesk, email_detail
from offerdesk.portal.desk.rounds import RoundDesk

__all__ = ["Desk", "Letter", "LineFilter", "Lines", "Read", "email_detail"]


class Desk(OfferDesk, RoundDesk, ContentDesk, PeopleDesk):
    """Made with the engine and the people's records: `Desk(engine, open_people(settings.database))`."""
