"""Every refusal as an HTTP status and a sentence: JSON for the API, a page for people in a browser."""

from __future__ import annotations

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response
from starlette.routing import Match
from temporalio.service import RPCError

from offerdesk.engine import EngineUnavailable, Refused
from offerdesk.people import DatabaseUnavailable
from offerdesk.people.users import AccountError
from offerdesk.portal.access import Forbidden, NotFound
from offerdesk.portal.security import current_caller
from offers.documents import UnusableInputError, field_path
from schemas.portal import ErrorBody, FieldError, Role
from schemas.refusal import Refusal

KIND_STATUS: dict[Refusal, int] = {
    # the request itself is wrong: fix the input
    Refusal.INVALID: 422,
    Refusal.INVALID_REQUEST: 422,
    Refusal.INVALID_DOCUMENT: 422,
    Refusal.TOO_LARGE: 413,
    Refusal.BAD_DEADLINE: 422,
    Refusal.BAD_DURATION: 422,
    Refusal.RATE_OUT_OF_BOUNDS: 422,
    Refusal.REASON_REQUIRED: 422,
    Refusal.UNKNOWN_PARTNER: 422,
    Refusal.DUPLICATE_PARTNER: 422,
    Refusal.WRONG_OFFER: 422,
    Refusal.NO_DOCUMENT: 422,
    Refusal.NOTHING_TO_COMPARE: 409,
    # who is asking
    Refusal.UNAUTHORIZED: 401,
    Refusal.FORBIDDEN: 403,
    Refusal.CONFLICT: 409,
    # what is asked for is not there
    Refusal.NOT_FOUND: 404,
    Refusal.NO_ROUND: 404,
    Refusal.NOT_INVITED: 404,
    Refusal.NO_VERSION: 404,
    Refusal.NO_SUCH_LETTER: 404,
    Refusal.MISSING: 404,
    # the offer's state does not allow it
    Refusal.EXISTS: 409,
    Refusal.ROUND_EXISTS: 409,
    Refusal.ALREADY_SUBMITTED: 409,
    Refusal.ALREADY_APPROVED: 409,
    Refusal.NOTHING_TO_AMEND: 409,
    Refusal.DEADLINE_PASSED: 409,
    Refusal.OFFER_CLOSED: 409,
    Refusal.WRONG_STATE: 409,
    Refusal.NO_LETTER_YET: 409,
    Refusal.BUSY: 409,
    Refusal.STALE: 409,
    Refusal.STALE_VERSION: 409,
    Refusal.STALE_LETTER: 409,
    Refusal.NO_ANSWER_AWAITED: 409,
    Refusal.REFUSED: 409,
    Refusal.UNREADABLE: 409,
    # something behind the request is missing or slow: try again
    Refusal.TIMEOUT: 504,
    Refusal.DOCUMENT_MISSING: 503,
    Refusal.LETTER_MISSING: 503,
}
"""Every refusal kind as an HTTP status; a test fails when a kind has none. A kind this version does not know (an
older or newer worker's) is a plain refusal: 409."""


def status_of(kind: Refusal | str) -> int:
    return KIND_STATUS[Refusal.of(kind)]


# The engine words its refusals for the command line; in the portal they name the portal's buttons instead.
PORTAL_WORDING: tuple[tuple[str, str], ...] = (
    ("send a changed document with 'offer amend'", "send a changed document: use Amend the offer"),
    ("use 'offer submit' first", "use Submit the offer first"),
    ("add --reason", "give a reason"),
    ("open it with 'offerdesk round open'", "open it on the Rounds page"),
)


def portal_wording(message: str) -> str:
    """A refusal as the portal says it: its buttons, not the CLI's commands and options."""
    for cli, portal in PORTAL_WORDING:
        message = message.replace(cli, portal)
    return message


UNSEEN = "there is no offer here that you can see; check the round id and your partner code"
"""A negotiator's one answer for a round that does not exist, a partner not invited, or another partner's offer:
each of those would otherwise tell them something about rounds and partners that are not theirs."""


class Unauthorized(Exception):
    """Not signed in, or not with a token the portal knows (HTTP 401)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def refusal(exc: Exception) -> tuple[int, ErrorBody]:
    """The status and body for an exception a person caused; anything else is a 500 and a bug."""
    status, body = _refusal(exc)
    if status == 404 and isinstance(exc, Refused | NotFound):
        who = current_caller()
        if who is not None and who.role is Role.NEGOTIATOR:
            return said(Refusal.NOT_FOUND, UNSEEN)
    return status, body


def said(kind: Refusal | str, message: str, fields: list[FieldError] | None = None) -> tuple[int, ErrorBody]:
    """A refusal of `kind`: its status, and the body that says it."""
    return status_of(kind), ErrorBody(error=str(kind), message=message, fields=fields or [])


def _refusal(exc: Exception) -> tuple[int, ErrorBody]:
    if isinstance(exc, Refused):
        return said(exc.kind, portal_wording(exc.message))
    if isinstance(exc, Forbidden):
        return said(Refusal.FORBIDDEN, exc.message)
    if isinstance(exc, NotFound):
        return said(Refusal.NOT_FOUND, exc.message)
    if isinstance(exc, AccountError):
        return said(exc.kind, exc.message)
    if isinstance(exc, Unauthorized):
        return said(Refusal.UNAUTHORIZED, exc.message)
    if isinstance(exc, UnusableInputError):
        fields = [FieldError(path=p, message=m) for p, m in exc.fields]
        return said(Refusal.INVALID_DOCUMENT, str(exc).splitlines()[0], fields)
    if isinstance(exc, ValidationError):
        fields = [FieldError(path=field_path(tuple(e["loc"])), message=e["msg"]) for e in exc.errors()]
        return said(Refusal.INVALID_REQUEST, f"{fields[0].path}: {fields[0].message}", fields)
    if isinstance(exc, RequestValidationError):
        fields = [
            FieldError(
                path=field_path(tuple(e["loc"][1:]) if e["loc"][0] == "body" else tuple(e["loc"])), message=e["msg"]
            )
            for e in exc.errors()
        ]
        first = fields[0] if fields else FieldError(path="(request)", message="is not valid")
        more = f" (and {len(fields) - 1} more)" if len(fields) > 1 else ""
        return said(Refusal.INVALID_REQUEST, f"{first.path}: {first.message}{more}", fields)
    if isinstance(exc, EngineUnavailable | RPCError):
        message = str(exc) if isinstance(exc, EngineUnavailable) else "the offer engine cannot be reached now"
        return 503, ErrorBody(error="EngineUnavailable", message=message)
    if isinstance(exc, DatabaseUnavailable):
        return 503, ErrorBody(error="DatabaseUnavailable", message=exc.message)
    if isinstance(exc, StarletteHTTPException):
        return exc.status_code, ErrorBody(error="HTTP", message=str(exc.detail))
    return 500, ErrorBody(error="InternalError", message="something went wrong on our side; it has been logged")


HANDLED: tuple[type[Exception], ...] = (
    Refused,
    Forbidden,
    NotFound,
    Unauthorized,
    AccountError,
    UnusableInputError,
    RequestValidationError,
    EngineUnavailable,
    RPCError,
    DatabaseUnavailable,
    StarletteHTTPException,
)


METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def allowed_methods(request: Request) -> str:
    """The Allow of a 405: every method some route takes at this path. Starlette's names only the first route's,
    where the portal has one route per method (GET and POST /api/rounds)."""
    routes = request.app.router.routes
    allowed = [m for m in METHODS if any(r.matches({**request.scope, "method": m})[0] is Match.FULL for r in routes)]
    return ", ".join(allowed)


def json_error(request: Request, exc: Exception) -> Response:
    status, body = refusal(exc)
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse(body.model_dump(), status_code=status, headers=headers)
