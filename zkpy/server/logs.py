"""structlog set-up: console renderer on a terminal, JSON lines otherwise; events go to stderr.

Level and format are chosen in this order: ZKPY_LOG_LEVEL / ZKPY_LOG_FORMAT (which the CLI's
--log-level / --log-format options set), then zoo.cfg's zkpy.logLevel / zkpy.logFormat, then
the defaults: INFO, and console on a terminal, JSON otherwise. Apache ZooKeeper ignores the
zkpy.* keys, so one zoo.cfg serves both servers.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Mapping

import structlog

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
LOG_FORMATS = ("console", "json")
LEVEL_ENV = "ZKPY_LOG_LEVEL"
FORMAT_ENV = "ZKPY_LOG_FORMAT"


def log_settings(
    config_level: str | None = None,
    config_format: str | None = None,
    environ: Mapping[str, str] = os.environ,
    tty: bool = False,
) -> tuple[str, str]:
    """(level, format) by the precedence of the module docstring."""
    level = (environ.get(LEVEL_ENV) or config_level or "INFO").upper()
    fmt = (environ.get(FORMAT_ENV) or config_format or ("console" if tty else "json")).lower()
    return level, fmt


def configure_logging(config_level: str | None = None, config_format: str | None = None) -> None:
    """`config_level` and `config_format` are zoo.cfg's values, if it has them."""
    level, fmt = log_settings(config_level, config_format, tty=sys.stderr.isatty())
    numeric = logging.getLevelName(level)
    if not isinstance(numeric, int):
        numeric = logging.INFO
    renderer: structlog.typing.Processor
    if fmt == "json":
        renderer = structlog.processors.JSONRenderer()
    else:
        renderer = structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=True,
    )
