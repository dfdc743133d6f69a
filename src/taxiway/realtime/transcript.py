"""A conversation's transcript as the avatar-conversations API shows it, and the worker's way out for it.

The conversation hands each finished turn to a `TranscriptRecorder`; the server's recorder stores it
(`taxiway.realtime.records`), tests keep it in memory, so the worker needs no database. Turns take the
SDK's shape: user and assistant entries, the tools an assistant turn ran attached to that entry
(`toolCalls`, `toolResults` with matching ids), and `content` null for a turn that only ran tools.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, Protocol

ToolResultValue = dict[str, Any] | str | None


@dataclass(frozen=True)
class ToolCall:
    id: str
    name: str
    arguments: dict[str, Any]

    def as_json(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "arguments": self.arguments}


@dataclass(frozen=True)
class ToolResult:
    id: str
    name: str
    result: ToolResultValue
    duration_ms: float
    error: str | None = None

    def as_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "id": self.id,
            "name": self.name,
            "result": self.result,
            "durationMs": self.duration_ms,
        }
        if self.error is not None:
            body["error"] = self.error
        return body


@dataclass(frozen=True)
class Turn:
    role: Literal["user", "assistant"]
    content: str | None
    timestamp: datetime
    tool_calls: tuple[ToolCall, ...] = ()
    tool_results: tuple[ToolResult, ...] = ()


def result_value(reply: str) -> ToolResultValue:
    """A tool's reply as the transcript keeps it: a JSON object stays an object, anything else text."""
    try:
        parsed = json.loads(reply)
    except ValueError:
        return reply
    return parsed if isinstance(parsed, dict) else reply


class TranscriptRecorder(Protocol):
    def record(self, turn: Turn) -> None:
        """Take one finished turn, in order; must not block the conversation."""
        ...

    async def flush(self) -> None:
        """Return once every turn recorded so far is kept."""
        ...


@dataclass
class MemoryRecorder:
    turns: list[Turn] = field(default_factory=list)

    def record(self, turn: Turn) -> None:
        self.turns.append(turn)

    async def flush(self) -> None:
        return None
