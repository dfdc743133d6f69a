"""Logging for `taxiway serve`: one handler on stderr, text or JSON, shared by uvicorn's loggers.

JSON lines carry a record's `extra` fields (task id, model, status, duration…) as keys of their own,
so a log pipeline can filter on them without parsing messages.
"""

from __future__ import annotations

from typing import Any, Literal

LogFormat = Literal["text", "json"]

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def logging_config(level: str, log_format: LogFormat) -> dict[str, Any]:
    """A `logging.config.dictConfig` mapping, handed to uvicorn, which applies it before serving."""
    if log_format == "json":
        formatter: dict[str, Any] = {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
            "json_ensure_ascii": False,
        }
    else:
        formatter = {"format": TEXT_FORMAT}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"taxiway": formatter},
        "handlers": {
            "stderr": {"class": "logging.StreamHandler", "formatter": "taxiway", "stream": "ext://sys.stderr"}
        },
        "root": {"handlers": ["stderr"], "level": level.upper()},
        # uvicorn's own loggers write through the root handler, in the same format.
        "loggers": {
            name: {"handlers": [], "propagate": True}
            for name in ("uvicorn", "uvicorn.error", "uvicorn.access")
        },
    }
