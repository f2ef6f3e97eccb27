"""Structured logs: one JSON object per line on stderr, and a line per request.

Log shippers index fields, not prose, and a traceback or a client-chosen path spread over
several lines would forge or split entries; JSON escaping keeps every record on one line.
`configure_logging` runs on every create_app (tests create many apps), so it is idempotent.

A request's line has its method, path, status and duration, never its query string or body:
both carry session ids and item ids. It is DEBUG (the service runs uvicorn with
--no-access-log, so at the default INFO a request costs two clock reads), except a 5xx, a
WARNING: a store that is down must show in the logs without a debug switch.
"""

import json
import logging
import sys
import time
from datetime import UTC, datetime
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

# The service's loggers: `app.*` modules, error_handlers' "nextswipe", and uvicorn's own
# (startup lines, its report of a crash), which it configures with a plain-text handler.
_LOGGERS = ("app", "nextswipe", "uvicorn")
_HANDLER_NAME = "nextswipe-json"
# Attributes every LogRecord has; anything else on a record came in through `extra=`, but
# uvicorn's color_message, a copy of the message with terminal escapes.
_RECORD_FIELDS = frozenset(vars(logging.makeLogRecord({}))) | {
    "message",
    "asctime",
    "color_message",
}

request_log = logging.getLogger("nextswipe.requests")


class JsonFormatter(logging.Formatter):
    """ts, level, logger, message, then the record's extra fields and any traceback."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _RECORD_FIELDS and key not in entry:
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        # ASCII escapes keep lone surrogates (JSON strings may carry them) writable anywhere.
        return json.dumps(entry, default=str)


class _StderrHandler(logging.Handler):
    """Writes to whatever sys.stderr is at the time, as logging's last-resort handler does,
    so that a stream replaced later (pytest's capture) is never written to after closing."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            sys.stderr.write(self.format(record) + "\n")
            sys.stderr.flush()
        except Exception:
            self.handleError(record)


def configure_logging(level: str) -> None:
    """JSON lines for the service's loggers at `level` (debug, info, warning, error)."""
    numeric = logging.getLevelNamesMapping().get(level.upper())
    if numeric is None:
        raise ValueError(f"log level {level!r} is not one of debug, info, warning, error")
    for name in _LOGGERS:
        logger = logging.getLogger(name)
        if not any(handler.get_name() == _HANDLER_NAME for handler in logger.handlers):
            for handler in list(logger.handlers):  # uvicorn's plain-text one
                logger.removeHandler(handler)
            handler = _StderrHandler()
            handler.set_name(_HANDLER_NAME)
            handler.setFormatter(JsonFormatter())
            logger.addHandler(handler)
        if name != "uvicorn":  # whose level is uvicorn's --log-level
            logger.setLevel(numeric)


class RequestLog:
    """ASGI middleware: one line per HTTP request, after its response (see the module doc),
    and its count in nextswipe_responses_total: the one place that sees every status code,
    including the 413/415/404/503 answered before any route."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status: int | None = None  # None: the client went away before any response

        async def send_and_note(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_note)
        except Exception:
            status = 500  # what the outermost error middleware answers
            raise
        finally:
            telemetry = scope.get("state", {}).get("telemetry")  # absent before the lifespan
            if telemetry is not None and status is not None:
                telemetry.count_response(scope["path"], status)
            level = logging.WARNING if status is not None and status >= 500 else logging.DEBUG
            if request_log.isEnabledFor(level):
                method, path = scope["method"], scope["path"]
                request_log.log(
                    level,
                    "%s %s %s",
                    method,
                    path,
                    status,
                    extra={
                        "method": method,
                        "path": path,
                        "status": status,
                        "duration_ms": round((time.perf_counter() - started) * 1000, 3),
                    },
                )
