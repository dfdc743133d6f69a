"""Text to IPA phonemes, per language, through espeak-ng running in a child process.

espeak-ng is GPL-3.0; keeping it in `espeak_process` (a separate, long-lived Python process fed JSON
lines) keeps it out of the Apache-2.0 server's address space while costing only a pipe round trip per
request. One lock serializes the pipe; a child that died is started again on the next request.

espeak drops punctuation from its phoneme output, yet both voice models use it for prosody (pauses,
question intonation), so text is cut into clauses here and the punctuation is put back between them.
"""

# ruff: noqa: RUF001, RUF002  (IPA and CJK punctuation look like ASCII to the linter; they are meant)

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
from pathlib import Path
from typing import IO, Any

from taxiway import processes

# ISO 639-1 code -> espeak-ng voice. Only languages some backend can speak are listed.
ESPEAK_VOICES = {
    "en": "en-us",
    "es": "es",
    "fr": "fr",
    "it": "it",
    "pt": "pt-BR",
    "de": "de",
    "hi": "hi",
    "zh": "cmn",
    "nl": "nl",
    "pl": "pl",
    "ru": "ru",
    "ja": "ja",
}

_CLAUSE = re.compile(r"([,;:.!?¡¿…—，。！？、；：]+)")


class PhonemizerError(RuntimeError):
    """The espeak child could not be started or did not answer."""


class EspeakProcess:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._child: subprocess.Popen[str] | None = None

    @property
    def pid(self) -> int | None:
        child = self._child
        return child.pid if child is not None and child.poll() is None else None

    def _start(self) -> subprocess.Popen[str]:
        source_root = str(Path(__file__).resolve().parents[3])
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (source_root, env.get("PYTHONPATH", "")) if p)
        return processes.popen(
            [sys.executable, "-m", "taxiway.engines.audio.espeak_process"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            encoding="utf-8",
            bufsize=1,
            env=env,
        )

    def request(self, voice: str, clauses: list[str], tie: bool = False) -> list[str]:
        with self._lock:
            for attempt in range(2):
                if self._child is None or self._child.poll() is not None:
                    self._child = self._start()
                try:
                    answer = _exchange(self._child, {"voice": voice, "clauses": clauses, "tie": tie})
                    break
                except (OSError, ValueError, EOFError):
                    self._stop()
                    if attempt:
                        raise PhonemizerError("the espeak-ng phonemizer process failed") from None
        if "error" in answer:
            raise PhonemizerError(str(answer["error"]))
        phonemes = answer["phonemes"]
        return [str(p) for p in phonemes]

    def _stop(self) -> None:
        if self._child is not None:
            self._child.kill()
            self._child.wait()
            self._child = None

    def close(self) -> None:
        with self._lock:
            self._stop()


def _exchange(child: subprocess.Popen[str], message: dict[str, Any]) -> dict[str, Any]:
    stdin: IO[str] | None = child.stdin
    stdout: IO[str] | None = child.stdout
    if stdin is None or stdout is None:
        raise OSError("no pipes to the phonemizer")
    stdin.write(json.dumps(message, ensure_ascii=False) + "\n")
    stdin.flush()
    line = stdout.readline()
    if not line:
        raise EOFError("the phonemizer exited")
    answer: dict[str, Any] = json.loads(line)
    return answer


_process = EspeakProcess()


def espeak_pid() -> int | None:
    """The child's process id while it runs (the tests check it is not this process)."""
    return _process.pid


def phonemize(text: str, language: str, tie: bool = False) -> str:
    """IPA for `text` with its clause punctuation kept, e.g. "həlˈoʊ, wˈɜːld!"; with `tie`, multi-letter
    phonemes are joined by "^" (d^ʒ), which Kokoro's symbol mapping needs."""
    voice = ESPEAK_VOICES.get(language)
    if voice is None:
        raise ValueError(f"no phonemizer for language {language!r}")
    pieces = _CLAUSE.split(text)
    clauses = [piece for index, piece in enumerate(pieces) if index % 2 == 0]
    marks = [piece for index, piece in enumerate(pieces) if index % 2 == 1]
    wanted = [clause for clause in clauses if clause.strip()]
    spoken = iter(_process.request(voice, wanted, tie) if wanted else [])
    out: list[str] = []
    for index, clause in enumerate(clauses):
        if clause.strip():
            out.append(next(spoken))
        if index < len(marks):
            out.append(_mark(marks[index]) + " ")
    return re.sub(r"\s+", " ", "".join(out)).strip()


def _mark(mark: str) -> str:
    """The one punctuation character the voice models know best for a run of marks."""
    for chars, char in (("?？", "?"), ("!！", "!"), (".。…", "."), (";；", ";"), (":：", ":")):
        if any(c in mark for c in chars):
            return char
    return "," if mark.strip("¡¿") else ""
