"""Offline text translation with Apertium (rule-based MT), run as a subprocess.

Apertium and its language data are GPL, so they are never loaded into the server process: each call
pipes text through the `apertium` command. The pairs are whatever language data is installed, found
with `apertium -l`; when no direct pair exists, one pivot step through a third language is allowed
(e.g. en -> es -> pt with `apertium-eng-spa` and `apertium-es-pt`). Machines without Apertium simply have
no text pairs, and callers get `UnsupportedPair`.

Speech in any language Whisper knows can also become English text directly (`asr.transcribe(...,
task="translate")`); that is speech-level and lives in the ASR module.
"""

from __future__ import annotations

import shutil
import subprocess
import threading
import time
from collections.abc import Sequence

from taxiway import processes

# Apertium names languages by ISO 639-3 (newer pairs) or 639-1 (older ones); the API speaks 639-1.
_ISO3 = {
    "afr": "af", "arg": "an", "ast": "ast", "bel": "be", "bul": "bg", "cat": "ca", "dan": "da", "eng": "en",
    "epo": "eo", "eus": "eu", "fra": "fr", "glg": "gl", "hbs_HR": "hr", "hbs_SR": "sr", "hbs_BS": "bs",
    "hbs": "hr", "ind": "id", "isl": "is", "ita": "it", "mkd": "mk", "nld": "nl", "nno": "nn", "nob": "nb",
    "oci": "oc", "pol": "pl", "por": "pt", "ron": "ro", "rus": "ru", "slv": "sl", "spa": "es", "srd": "sc",
    "swe": "sv", "ukr": "uk", "zlm": "ms",
}  # fmt: skip
_TIMEOUT_S = 120.0

# Installed pairs are listed again at most this often, so pairs installed while the server runs are
# found without a restart.
REFRESH_SECONDS = 10.0

_lock = threading.Lock()
_modes: dict[tuple[str, str], str] | None = None
_listed_at = 0.0


class UnsupportedPair(ValueError):
    def __init__(self, source: str, target: str, supported: Sequence[tuple[str, str]]) -> None:
        listed = ", ".join(f"{a}->{b}" for a, b in supported) or "none (Apertium is not installed)"
        super().__init__(f"no offline translation from {source} to {target}; supported: {listed}")
        self.source, self.target, self.supported = source, target, list(supported)


class TranslationError(RuntimeError):
    pass


def _language(code: str) -> str:
    if code in _ISO3:
        return _ISO3[code]
    base = code.split("_")[0]
    return _ISO3.get(base, base)


def _direct_modes() -> dict[tuple[str, str], str]:
    """(source, target) -> Apertium mode, from `apertium -l`; plain modes win over regional variants."""
    global _modes, _listed_at
    with _lock:
        if _modes is None or time.monotonic() - _listed_at >= REFRESH_SECONDS:
            _listed_at = time.monotonic()
            found: dict[tuple[str, str], str] = {}
            binary = shutil.which("apertium")
            listing = ""
            if binary:
                try:
                    listing = processes.run(
                        [binary, "-l"], capture_output=True, text=True, timeout=30, check=False
                    ).stdout
                except (OSError, subprocess.TimeoutExpired):
                    listing = ""
            for mode in sorted(listing.split(), key=lambda m: ("_" in m, m)):
                parts = mode.split("-")
                if len(parts) != 2:
                    continue
                pair = (_language(parts[0]), _language(parts[1]))
                if pair[0] != pair[1]:
                    found.setdefault(pair, mode)
            _modes = found
        return _modes


def _route(source: str, target: str) -> list[str] | None:
    """Apertium modes that take `source` to `target`: a direct pair, else one pivot language."""
    modes = _direct_modes()
    if (source, target) in modes:
        return [modes[(source, target)]]
    for (first, middle), mode in sorted(modes.items()):
        if first == source and (middle, target) in modes:
            return [mode, modes[(middle, target)]]
    return None


def supported_pairs() -> list[tuple[str, str]]:
    """Every (source, target) text pair the installed Apertium data can translate, directly or by pivot."""
    languages = {code for pair in _direct_modes() for code in pair}
    return sorted((a, b) for a in languages for b in languages if a != b and _route(a, b) is not None)


def can_translate(source: str, target: str) -> bool:
    return source == target or _route(source, target) is not None


def _apertium(mode: str, lines: Sequence[str]) -> list[str]:
    binary = shutil.which("apertium")
    if binary is None:
        raise TranslationError("apertium is not installed")
    try:
        done = processes.run(
            [binary, "-u", mode],
            input="\n".join(lines) + "\n",
            capture_output=True,
            text=True,
            timeout=_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        raise TranslationError(f"apertium {mode} failed: {error}") from error
    if done.returncode != 0:
        raise TranslationError(f"apertium {mode} failed: {done.stderr.strip()[:200]}")
    out = done.stdout.rstrip("\n").split("\n")
    if len(out) != len(lines):
        # A line break got lost or added; translate one by one rather than misalign segments.
        if len(lines) == 1:
            return [" ".join(out).strip()]
        return [_apertium(mode, [line])[0] for line in lines]
    return [line.strip() for line in out]


def translate(texts: Sequence[str], source: str, target: str) -> list[str]:
    """Each text translated from `source` to `target` (ISO 639-1); texts keep their order and count."""
    if source == target:
        return list(texts)
    route = _route(source, target)
    if route is None:
        raise UnsupportedPair(source, target, supported_pairs())
    lines = [" ".join(text.split()) for text in texts]
    for mode in route:
        lines = _apertium(mode, lines)
    return lines
