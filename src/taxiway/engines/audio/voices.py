"""The voice bank: every preset id the API accepts, as data.

A preset is a base voice (Piper joe, or one of Kokoro's five speaker packs) plus a WORLD transform
(`conversion.py`): the F0 range its pitch is moved into, a formant factor for the vocal tract's size
and a speaking rate. Presets are laid out on a grid so each one is measurably distinct: within a
character group, pitch centres step by about 4.5 % (men, 90-150 Hz) or 3.4 % (women, 168-250 Hz), and
the three presets sharing a pitch centre share a base voice but differ in formant factor by 10 %. The
SDK's 49 speech presets and the 30 live-avatar presets (lower-case ids) are all here; a live id that
matches a speech preset's name (`vincent`, `maya`) is a different voice.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

Character = Literal["male", "female", "deep", "creature"]
PIPER = "piper"
KOKORO_MALE = "jm_kumo"


@dataclass(frozen=True)
class Preset:
    name: str
    character: Character
    # "piper" (the English joe voice) or a Kokoro speaker pack (jf_alpha, ..., jm_kumo).
    base: str
    # Hz; the median pitch is moved to the range's geometric centre.
    f0_range: tuple[float, float]
    # Spectral-envelope stretch along frequency: < 1 is a larger vocal tract (deeper timbre).
    formant: float
    # Speaking rate relative to the base voice.
    speed: float = 1.0
    # How much of the base voice's pitch movement is kept (1.0 = all, up to the range's width).
    intonation: float = 1.0

    @property
    def f0_centre(self) -> float:
        low, high = self.f0_range
        return float((low * high) ** 0.5)

    def to_json(self) -> dict[str, Any]:
        """The preset as stored for a custom voice (the Voices API keeps derived presets as data)."""
        return {
            "name": self.name,
            "character": self.character,
            "base": self.base,
            "f0Range": list(self.f0_range),
            "formant": self.formant,
            "speed": self.speed,
            "intonation": self.intonation,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Preset:
        low, high = data["f0Range"]
        return cls(
            name=str(data["name"]),
            character=data["character"],
            base=str(data["base"]),
            f0_range=(float(low), float(high)),
            formant=float(data["formant"]),
            speed=float(data["speed"]),
            intonation=float(data["intonation"]),
        )


_PRESETS = (
    Preset("Clint", "male", PIPER, (75, 108), 0.90, 0.93),
    Preset("Malachi", "male", PIPER, (75, 108), 1.00, 0.93),
    Preset("Frank", "male", PIPER, (75, 108), 1.10, 0.93),
    Preset("Bernard", "male", KOKORO_MALE, (79, 113), 0.90, 0.93),
    Preset("Vincent", "male", KOKORO_MALE, (79, 113), 1.00, 1.00),
    Preset("roman", "male", KOKORO_MALE, (79, 113), 1.10, 1.00),
    Preset("Kirk", "male", PIPER, (82, 119), 0.90, 1.00),
    Preset("Rusty", "male", PIPER, (82, 119), 1.00, 1.00),
    Preset("marcus", "male", PIPER, (82, 119), 1.10, 1.00),
    Preset("Martin", "male", KOKORO_MALE, (86, 124), 0.90, 1.00),
    Preset("James", "male", KOKORO_MALE, (86, 124), 1.00, 1.00),
    Preset("david", "male", KOKORO_MALE, (86, 124), 1.10, 1.00),
    Preset("Mark", "male", PIPER, (90, 130), 0.90, 1.00),
    Preset("adrian", "male", PIPER, (90, 130), 1.00, 1.00),
    Preset("vincent", "male", PIPER, (90, 130), 1.10, 1.00),
    Preset("Brodie", "male", KOKORO_MALE, (95, 136), 0.90, 1.00),
    Preset("Jack", "male", KOKORO_MALE, (95, 136), 1.00, 1.00),
    Preset("blake", "male", KOKORO_MALE, (95, 136), 1.10, 1.00),
    Preset("Arjun", "male", PIPER, (99, 143), 0.90, 1.00),
    Preset("Kendrick", "male", PIPER, (99, 143), 1.00, 1.00),
    Preset("nathan", "male", PIPER, (99, 143), 1.10, 1.00),
    Preset("Benjamin", "male", KOKORO_MALE, (104, 149), 0.90, 1.00),
    Preset("Tom", "male", KOKORO_MALE, (104, 149), 1.00, 1.00),
    Preset("adam", "male", KOKORO_MALE, (104, 149), 1.10, 1.00),
    Preset("Chad", "male", PIPER, (109, 157), 0.90, 1.06),
    Preset("jasper", "male", PIPER, (109, 157), 1.00, 1.00),
    Preset("max", "male", PIPER, (109, 157), 1.10, 1.00),
    Preset("Elias", "male", KOKORO_MALE, (114, 164), 0.90, 1.00),
    Preset("drew", "male", KOKORO_MALE, (114, 164), 1.00, 1.00),
    Preset("felix", "male", KOKORO_MALE, (114, 164), 1.10, 1.00),
    Preset("Noah", "male", PIPER, (119, 172), 0.90, 1.00),
    Preset("sam", "male", PIPER, (119, 172), 1.00, 1.00),
    Preset("zach", "male", PIPER, (119, 172), 1.10, 1.06),
    Preset("Billy", "male", KOKORO_MALE, (125, 180), 0.90, 1.06),
    Preset("Elliot", "male", KOKORO_MALE, (125, 180), 1.00, 1.06),
    Preset("leo", "male", KOKORO_MALE, (125, 180), 1.10, 1.06),
    Preset("Myrna", "female", "jf_alpha", (140, 202), 0.90, 0.93),
    Preset("Wanda", "female", "jf_alpha", (140, 202), 1.00, 0.93),
    Preset("Marlene", "female", "jf_alpha", (140, 202), 1.10, 0.93),
    Preset("Eleanor", "female", "jf_gongitsune", (145, 208), 0.90, 0.93),
    Preset("Miriam", "female", "jf_gongitsune", (145, 208), 1.00, 0.93),
    Preset("Mabel", "female", "jf_gongitsune", (145, 208), 1.10, 0.93),
    Preset("Claudia", "female", "jf_nezumi", (150, 215), 0.90, 1.00),
    Preset("Sandra", "female", "jf_nezumi", (150, 215), 1.00, 1.00),
    Preset("victoria", "female", "jf_nezumi", (150, 215), 1.10, 1.00),
    Preset("Serene", "female", "jf_tebukuro", (155, 223), 0.90, 0.93),
    Preset("Paula", "female", "jf_tebukuro", (155, 223), 1.00, 1.00),
    Preset("petra", "female", "jf_tebukuro", (155, 223), 1.10, 1.00),
    Preset("Rachel", "female", "jf_alpha", (160, 230), 0.90, 1.00),
    Preset("Lisa", "female", "jf_alpha", (160, 230), 1.00, 1.00),
    Preset("morgan", "female", "jf_alpha", (160, 230), 1.10, 1.00),
    Preset("Maggie", "female", "jf_gongitsune", (165, 238), 0.90, 1.00),
    Preset("Leslie", "female", "jf_gongitsune", (165, 238), 1.00, 1.00),
    Preset("georgia", "female", "jf_gongitsune", (165, 238), 1.10, 1.00),
    Preset("Mariah", "female", "jf_nezumi", (171, 246), 0.90, 1.00),
    Preset("Lara", "female", "jf_nezumi", (171, 246), 1.00, 1.00),
    Preset("clara", "female", "jf_nezumi", (171, 246), 1.10, 1.00),
    Preset("Maya", "female", "jf_tebukuro", (177, 254), 0.90, 1.00),
    Preset("Rina", "female", "jf_tebukuro", (177, 254), 1.00, 1.00),
    Preset("emma", "female", "jf_tebukuro", (177, 254), 1.10, 1.00),
    Preset("Kiana", "female", "jf_alpha", (182, 263), 0.90, 1.00),
    Preset("Niki", "female", "jf_alpha", (182, 263), 1.00, 1.00),
    Preset("maya", "female", "jf_alpha", (182, 263), 1.10, 1.00),
    Preset("Katie", "female", "jf_gongitsune", (189, 272), 0.90, 1.00),
    Preset("Ella", "female", "jf_gongitsune", (189, 272), 1.00, 1.00),
    Preset("aurora", "female", "jf_gongitsune", (189, 272), 1.10, 1.00),
    Preset("Kylie", "female", "jf_nezumi", (195, 281), 0.90, 1.06),
    Preset("nina", "female", "jf_nezumi", (195, 281), 1.00, 1.06),
    Preset("violet", "female", "jf_nezumi", (195, 281), 1.10, 1.06),
    Preset("summer", "female", "jf_tebukuro", (202, 290), 0.90, 1.06),
    Preset("ruby", "female", "jf_tebukuro", (202, 290), 1.00, 1.06),
    Preset("luna", "female", "jf_tebukuro", (202, 290), 1.10, 1.06),
    Preset("skye", "female", "jf_alpha", (208, 300), 0.90, 1.06),
    Preset("mia", "female", "jf_alpha", (208, 300), 1.00, 1.06),
    Preset("Ragnar", "deep", "piper", (63, 91), 0.88, 0.95),
    Preset("Grungle", "deep", "jm_kumo", (55, 79), 0.82, 0.92),
    Preset("Monster", "deep", "piper", (47, 67), 0.76, 0.88, 0.8),
    # A small, quick creature, and an alien: high pitch in a large tract, nearly monotone.
    Preset("Pip", "creature", "jf_nezumi", (275, 396), 1.22, 1.1),
    Preset("Xylar", "creature", KOKORO_MALE, (217, 312), 0.84, 0.96, 0.35),
)

PRESETS: Mapping[str, Preset] = {preset.name: preset for preset in _PRESETS}


def preset(name: str) -> Preset:
    try:
        return PRESETS[name]
    except KeyError:
        raise KeyError(f"unknown voice preset {name!r}") from None
