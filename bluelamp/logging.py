"""One logger: structured JSON in production, readable lines on a terminal."""

from __future__ import annotations

import logging
import sys
from typing import Any

import structlog

from bluelamp.settings import LogSettings


def configure_logging(settings: LogSettings) -> None:
    as_json = settings.format == "json" or (settings.format == "auto" and not sys.stderr.isatty())
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if as_json
        else structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(settings.level)),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=False,
    )
    # Libraries that use stdlib logging (uvicorn, clients) go to the same stream.
    logging.basicConfig(
        stream=sys.stderr, level=max(logging.WARNING, logging.getLevelName(settings.level))
    )


def get_logger(name: str) -> Any:
    return structlog.get_logger(name)
