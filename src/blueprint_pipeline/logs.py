"""Logging for the command line and the service: plain (rich) or JSON lines on stderr, with
every registered secret redacted on every handler."""

from __future__ import annotations

import datetime as dt
import json
import logging
import sys
import traceback
from typing import IO, Any

from blueprint_pipeline.secrets.redact import redact

# Attributes every LogRecord has; anything else was passed with `extra=` and is kept in JSON.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}


class RedactionFilter(logging.Filter):
    """Renders the message and any traceback, then masks secret values in both."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = redact(record.getMessage())
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = "".join(traceback.format_exception(*record.exc_info)).rstrip()
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts, level, logger, message, extras, exception."""

    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, Any] = {
            "ts": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for k, v in vars(record).items():
            if k not in _STANDARD and not k.startswith("_"):
                doc[k] = v if isinstance(v, (str, int, float, bool, type(None))) else repr(v)
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            doc["exception"] = record.exc_text
        return redact(json.dumps(doc, ensure_ascii=False, default=repr))


def setup_logging(*, json_lines: bool = False, level: str = "INFO", stream: IO[str] | None = None,
                  console: Any = None) -> None:
    """Send the project's logs (and warnings from libraries) to `stream` (stderr). Pass the rich
    `console` that shows a progress display so log lines print above it instead of through it."""
    stream = stream or sys.stderr
    root = logging.getLogger()
    for h in list(root.handlers):
        if getattr(h, "_blueprint", False):
            root.removeHandler(h)
    handler: logging.Handler
    if json_lines:
        handler = logging.StreamHandler(stream)
        handler.setFormatter(JsonFormatter())
    else:
        from rich.console import Console
        from rich.logging import RichHandler

        handler = RichHandler(console=console or Console(file=stream, highlight=False, soft_wrap=True),
                              show_path=False, markup=False, rich_tracebacks=False)
    handler._blueprint = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(logging.WARNING)
    logging.getLogger("blueprint_pipeline").setLevel(level)
    for h in root.handlers:  # every handler, including ones others installed
        if not any(isinstance(f, RedactionFilter) for f in h.filters):
            h.addFilter(RedactionFilter())
