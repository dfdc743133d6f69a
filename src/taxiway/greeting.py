"""What the operator reads when a server starts: a first start's key, or how to make one."""

from __future__ import annotations

import json
import logging
import sys

from rich import box
from rich.console import Console, Group
from rich.panel import Panel
from rich.text import Text

from taxiway.bootstrap import DEFAULT_ORGANIZATION
from taxiway.config import Settings

log = logging.getLogger("taxiway")
MAKE_A_KEY = (
    "; make an API key with `taxiway keys create` (--org NAME for another organization; keys are shown once)"
)


def key_banner(settings: Settings, key: str) -> None:
    """The first start's key, once, on stderr: a box in text logs, one record in JSON logs."""
    base_url = settings.base_url
    lines = [f"export RUNWAYML_BASE_URL={base_url}", f"export RUNWAYML_API_SECRET={key}"]
    title = f"API key for organization '{DEFAULT_ORGANIZATION}': shown once, stored hashed"
    if settings.log_format == "json":
        now = logging.Formatter().formatTime(logging.makeLogRecord({}))  # as the JSON lines' "time"
        record = {"time": now, "level": "INFO", "logger": "taxiway", "message": title}
        record.update(event="first_run.key", RUNWAYML_BASE_URL=base_url, RUNWAYML_API_SECRET=key)
        print(json.dumps(record), file=sys.stderr, flush=True)
        return
    console = Console(stderr=True, highlight=False)
    head = [
        Text(title, style="bold"),
        Text("Paste into the shell that runs your app (the official SDKs read these):"),
        Text(""),
    ]
    keys = [Text(line, style="green") for line in lines]
    tail = [
        Text(""),
        Text(f"Console: {base_url}/console    Docs: {base_url}/docs"),
        Text("More keys: taxiway keys create"),
    ]
    if console.width >= max(len(line) for line in lines) + 4:
        console.print(Panel(Group(*head, *keys, *tail), title="taxiway", expand=False, box=box.ROUNDED))
        return
    # Too narrow for a box around the key: rules above and below, and the key never folded or cut,
    # so that the terminal's own wrapping keeps it one line to copy.
    console.rule("taxiway")
    for text in head:
        console.print(text)
    for text in keys:
        console.print(text, soft_wrap=True)
    for text in tail:
        console.print(text)
    console.rule()


def listening(base_url: str, *, key_shown: bool) -> None:
    """The line uvicorn does not write when handed a bound socket; with how to make a key, unless one
    was just shown."""
    hint = "" if key_shown else MAKE_A_KEY
    log.info(
        "taxiway listening on %s%s", base_url, hint, extra={"event": "server.listening", "base_url": base_url}
    )
