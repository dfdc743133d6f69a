"""The espeak-ng phonemizer as its own process: text clauses in, IPA out, one JSON object per line.

libespeak-ng is GPL-3.0, so it is only ever loaded here, in a child the server talks to over pipes
(`phonemes.py` starts it); the server process never maps it. The library is the one `espeakng-loader`
bundles, so no system package is needed. espeak keeps global state and is not thread-safe: this loop
serves one request at a time.

Request:  {"voice": "en-us", "clauses": ["hello world", ...], "tie": false}
Response: {"phonemes": ["həlˈoʊ wˈɜːld", ...]}  or  {"error": "..."}
"""

# ruff: noqa: RUF002, RUF003  (IPA symbols look like ASCII to the linter; they are meant)

from __future__ import annotations

import ctypes
import json
import os
import sys
from typing import Any

AUDIO_OUTPUT_SYNCHRONOUS = 2
INITIALIZE_DONT_EXIT = 0x8000
CHARS_UTF8 = 1
PHONEMES_IPA = 0x02
# Bit 7 asks for a tie character (in bits 8-23) inside multi-letter phonemes such as d^ʒ or a^ɪ.
PHONEMES_TIE = 0x80
TIE = "^"


class Espeak:
    def __init__(self) -> None:
        import espeakng_loader

        self._lib = ctypes.CDLL(espeakng_loader.get_library_path())
        self._lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
        self._lib.espeak_Initialize.restype = ctypes.c_int
        self._lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        self._lib.espeak_SetVoiceByName.restype = ctypes.c_int
        self._lib.espeak_TextToPhonemes.argtypes = [
            ctypes.POINTER(ctypes.c_void_p),
            ctypes.c_int,
            ctypes.c_int,
        ]
        self._lib.espeak_TextToPhonemes.restype = ctypes.c_char_p
        # The path is the directory holding `espeak-ng-data`.
        root = os.path.dirname(espeakng_loader.get_data_path()).encode()
        if self._lib.espeak_Initialize(AUDIO_OUTPUT_SYNCHRONOUS, 0, root, INITIALIZE_DONT_EXIT) <= 0:
            raise RuntimeError("espeak-ng failed to initialize")
        self._voice = ""

    def phonemize(self, voice: str, clause: str, tie: bool = False) -> str:
        if voice != self._voice:
            if self._lib.espeak_SetVoiceByName(voice.encode()) != 0:
                raise ValueError(f"espeak-ng has no voice {voice!r}")
            self._voice = voice
        buffer = ctypes.create_string_buffer(clause.encode("utf-8"))
        pointer = ctypes.c_void_p(ctypes.addressof(buffer))
        mode = PHONEMES_IPA | (PHONEMES_TIE | ord(TIE) << 8 if tie else 0)
        parts: list[str] = []
        # Each call consumes one clause and advances the pointer; NULL means the text is used up.
        while pointer.value:
            out = self._lib.espeak_TextToPhonemes(ctypes.byref(pointer), CHARS_UTF8, mode)
            if out:
                parts.append(out.decode("utf-8", errors="replace").strip())
        return " ".join(part for part in parts if part)


def _answer(espeak: Espeak, request: dict[str, Any]) -> dict[str, Any]:
    voice, tie = str(request["voice"]), bool(request.get("tie", False))
    return {"phonemes": [espeak.phonemize(voice, str(clause), tie) for clause in request["clauses"]]}


def main() -> None:
    espeak = Espeak()
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            response = _answer(espeak, json.loads(line))
        except Exception as error:  # reported to the parent, which raises it there
            response = {"error": f"{type(error).__name__}: {error}"}
        sys.stdout.write(json.dumps(response, ensure_ascii=False) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
