"""Logs for people at a terminal (text, the default) or for a log pipeline (OFFERDESK_LOG_FORMAT=json).

A JSON line is one object: `time` (UTC, ISO 8601 with milliseconds), `level`, `logger`, `message`; where known,
`round`, `partner`, `workflow_id`, `trace_id` and `span_id`; then what the line says in fields of its own
(the portal's access line: `method`, `route`, `status`, `duration_ms`, `user`), and `error` with the traceback.

What is known comes from where the line is written: an activity (its workflow id names the round and partner),
a workflow (the SDK's workflow logger), a portal request (its path parameters), and the current span.
Nothing here reads a request's headers, cookies or body: a token, a cookie or a password never reaches a log.
"""

from __future__ import annotations

import io
import json
import logging
import re
import sys
from collections.abc import Mapping
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

from rich.console import Console

FORMATS = ("text", "json")
TEXT_FORMAT = "%(levelname)s %(name)s: %(message)s"
FIELDS = "offerdesk"
"""The `extra` key a log call puts its own fields under: log.info("...", extra={FIELDS: {"status": 200}})."""

_OFFER_ID = re.compile(r"offer/(?P<round>.+)/(?P<partner>[^/]+)")
_ROUND_ID = re.compile(r"round/(?P<round>.+)")

REQUEST_SCOPE: ContextVar[Mapping[str, Any] | None] = ContextVar("offerdesk_request_scope", default=None)
"""The portal request being served (its ASGI scope): its path parameters once routing has filled them in."""

_format = "text"


def log_format(value: str | None) -> str:
    """OFFERDESK_LOG_FORMAT: "text" (unset) or "json"; a ValueError that says so for anything else."""
    chosen = (value or "text").strip().lower() or "text"
    if chosen not in FORMATS:
        raise ValueError(f"OFFERDESK_LOG_FORMAT is text or json; not {value!r}")
    return chosen


def log_level(value: str | None, chosen_format: str) -> int:
    """OFFERDESK_LOG_LEVEL (debug, info, warning, error); by default info for JSON, warning for text, so that a
    terminal shows what needs a person and a log pipeline gets the access lines too."""
    if not value or not value.strip():
        return logging.INFO if chosen_format == "json" else logging.WARNING
    level = logging.getLevelName(value.strip().upper())
    if not isinstance(level, int):
        raise ValueError(f"OFFERDESK_LOG_LEVEL is debug, info, warning or error; not {value!r}")
    return level


def json_logs() -> bool:
    """Whether this process writes JSON lines (set by setup_logging)."""
    return _format == "json"


def subject_of(workflow_id: str | None) -> dict[str, str]:
    """The round and partner a workflow is about, from its id (offer/ROUND/PARTNER or round/ROUND)."""
    if not workflow_id:
        return {}
    if found := _OFFER_ID.fullmatch(workflow_id):
        return {"round": found["round"], "partner": found["partner"]}
    if found := _ROUND_ID.fullmatch(workflow_id):
        return {"round": found["round"]}
    return {}


def _context(record: logging.LogRecord) -> dict[str, Any]:
    """What the line is about, where it was written: the workflow, the activity or the request; and the span."""
    from opentelemetry import trace  # here, not above: a command that logs text need not load them (issue 26)
    from temporalio import activity

    found: dict[str, Any] = {}
    workflow_id: str | None = None
    extra = getattr(record, "temporal_workflow", None) or getattr(record, "temporal_activity", None)
    if isinstance(extra, Mapping):
        workflow_id = extra.get("workflow_id")
    elif activity.in_activity():
        workflow_id = activity.info().workflow_id
    if workflow_id:
        found["workflow_id"] = workflow_id
        found.update(subject_of(workflow_id))
    scope = REQUEST_SCOPE.get()
    params = scope.get("path_params") if scope is not None else None
    if isinstance(params, Mapping):
        if "round_id" in params:
            found.setdefault("round", params["round_id"])
        if "partner" in params:
            found.setdefault("partner", params["partner"])
    span = trace.get_current_span().get_span_context()
    if span.is_valid:
        found["trace_id"] = format(span.trace_id, "032x")
        found["span_id"] = format(span.span_id, "016x")
    return found


class JsonFormatter(logging.Formatter):
    """One JSON object per record, on one line."""

    def format(self, record: logging.LogRecord) -> str:
        at = datetime.fromtimestamp(record.created, UTC)
        entry: dict[str, Any] = {
            "time": at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update(_context(record))
        own = getattr(record, FIELDS, None)
        if isinstance(own, Mapping):
            entry.update({k: v for k, v in own.items() if k not in ("time", "level", "logger", "message")})
        if record.exc_info:
            entry["error"] = self.formatException(record.exc_info)
        elif record.stack_info:
            entry["error"] = self.formatStack(record.stack_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def setup_logging(chosen_format: str = "text", level: int | None = None) -> None:
    """Configure the root logger for this process: text on stderr, or JSON lines on stderr."""
    global _format
    _format = chosen_format
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if chosen_format == "json" else logging.Formatter(TEXT_FORMAT))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level if level is not None else log_level(None, chosen_format))
    if chosen_format == "json":
        # The JSON line carries the workflow and activity as fields; the SDK's loggers need not append them.
        from temporalio import activity, workflow

        activity.logger.activity_info_on_message = False
        workflow.logger.workflow_info_on_message = False


class LoggingConsole(Console):
    """A console whose every printed line becomes a log record (markup stripped): the running commands' news,
    when the process writes JSON lines."""

    def __init__(self, logger: logging.Logger, level: int = logging.INFO) -> None:
        super().__init__(file=io.StringIO(), width=200, color_system=None, highlight=False, soft_wrap=True)
        self._logger = logger
        self._level = level

    def print(self, *objects: Any, **kwargs: Any) -> None:
        with self.capture() as captured:
            super().print(*objects, **kwargs)
        for line in captured.get().splitlines():
            if line.strip():
                self._logger.log(self._level, line.rstrip())
