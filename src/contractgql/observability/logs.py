"""Log configuration of the contractgql processes: text or JSON lines.

CONTRACTGQL_LOG_FORMAT picks the format. `text` (the default) writes
`<time> <level> <logger> [<request id>] <message>`, where the request id appears
only on lines logged while a request is handled. `json` writes one JSON object per
line with the keys time (UTC, ISO 8601), level, logger, message, process and, when
present, request_id and exception (the formatted traceback).
"""

from __future__ import annotations

import logging
import os
from datetime import UTC, datetime

import orjson

from contractgql.observability.request_id import current_request_id

LOG_FORMATS = ("text", "json")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s %(request_id_text)s%(message)s"


class LogFormatError(ValueError):
    """CONTRACTGQL_LOG_FORMAT names no supported format."""


class RequestIdFilter(logging.Filter):
    """Add the current request id to every record that passes a handler."""

    def filter(self, record: logging.LogRecord) -> bool:
        request_id = current_request_id.get()
        record.request_id = request_id
        record.request_id_text = f"[{request_id}] " if request_id else ""
        return True


class JsonFormatter(logging.Formatter):
    """Format a record as one line of JSON."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "process": record.process,
        }
        request_id = getattr(record, "request_id", None)
        if request_id:
            entry["request_id"] = request_id
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["exception"] = record.exc_text
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return orjson.dumps(entry, default=str).decode()


def log_format_from_environment() -> str:
    """Return CONTRACTGQL_LOG_FORMAT, or raise LogFormatError for an unknown one."""
    value = (os.environ.get("CONTRACTGQL_LOG_FORMAT") or "text").strip().lower()
    if value not in LOG_FORMATS:
        raise LogFormatError(
            f"CONTRACTGQL_LOG_FORMAT={value!r} is not supported: use text or json."
        )
    return value


def configure_logging(log_format: str, level: str | int) -> None:
    """Send every logger's records to standard error in `log_format`.

    This includes uvicorn's loggers, because `contractgql serve` starts uvicorn
    without a logging configuration of its own. Like `logging.basicConfig`, it
    changes nothing when the root logger has handlers already, such as those of
    a test runner.
    """
    root = logging.getLogger()
    if root.handlers:
        return
    handler = logging.StreamHandler()
    handler.addFilter(RequestIdFilter())
    if log_format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter(TEXT_FORMAT))
    root.addHandler(handler)
    root.setLevel(level)
