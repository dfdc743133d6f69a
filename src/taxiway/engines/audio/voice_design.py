"""Voice design without a generative model: a description's words map, deterministically, to a `Preset`.

Gender words set the starting pitch (a man's voice 110 Hz, a woman's 205 Hz, 150 Hz when the
description names neither or both); trait words then scale pitch, vocal-tract size (formant factor),
pace and intonation (`TRAITS`). "very", "really", "extremely" before a word double its effect,
"slightly", "somewhat", "a bit" halve it, and "not", "no", "never", "without" cancel it. Each word counts
once. The base voice is the one of the bank preset nearest in pitch (of the same gender when one was
named), so a designed voice sounds like a neighbour of the presets. Accent, emotion and style words
outside the tables change nothing, and both design models map the same way.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from taxiway.engines.audio.voices import PRESETS, Preset


@dataclass(frozen=True)
class Trait:
    pitch: float = 1.0
    formant: float = 1.0
    speed: float = 1.0
    intonation: float = 1.0


_DEEP = Trait(pitch=0.84, formant=0.94)
_LOW = Trait(pitch=0.9)
_HIGH = Trait(pitch=1.15)
_ROUGH = Trait(pitch=0.94, formant=0.96)
_DARK = Trait(formant=0.96)
_BRIGHT = Trait(formant=1.04)
_CHILD = Trait(pitch=1.5, formant=1.15, speed=1.05)
_YOUNG = Trait(pitch=1.07, formant=1.04, speed=1.04)
_OLD = Trait(pitch=0.95, formant=0.97, speed=0.9, intonation=0.9)
_MATURE = Trait(pitch=0.97, formant=0.98, speed=0.97)
_FAST = Trait(speed=1.15)
_LIVELY = Trait(pitch=1.03, speed=1.07, intonation=1.1)
_SLOW = Trait(speed=0.87)
_CALM = Trait(speed=0.94, intonation=0.9)
_MONOTONE = Trait(intonation=0.4)
_EXPRESSIVE = Trait(intonation=1.1)
_FIRM = Trait(pitch=0.96, formant=0.98, speed=0.97)


def _words(trait: Trait, *words: str) -> dict[str, Trait]:
    return dict.fromkeys(words, trait)


TRAITS: dict[str, Trait] = {
    **_words(_DEEP, "deep", "deep-voiced", "bass", "booming"),
    **_words(_LOW, "low", "low-pitched", "baritone", "alto"),
    **_words(_HIGH, "high", "high-pitched", "soprano", "squeaky", "shrill", "tenor"),
    **_words(_ROUGH, "husky", "gravelly", "raspy", "gruff", "hoarse", "rough"),
    **_words(_DARK, "warm", "rich", "mellow", "velvety", "smooth", "dark", "resonant", "full"),
    **_words(_BRIGHT, "bright", "crisp", "clear", "light", "thin", "airy", "nasal", "sharp", "bubbly"),
    **_words(_CHILD, "child", "children", "kid", "childlike", "toddler"),
    **_words(_YOUNG, "young", "youthful", "teen", "teenage", "teenager", "boy", "girl"),
    **_words(_OLD, "old", "elderly", "aged", "senior", "ancient", "older", "grandfather", "grandmother"),
    **_words(_OLD, "grandpa", "grandma"),
    **_words(_MATURE, "mature", "middle-aged"),
    **_words(_FAST, "fast", "quick", "quickly", "rapid", "rapidly", "brisk", "hurried", "fast-paced"),
    **_words(_LIVELY, "energetic", "excited", "enthusiastic", "upbeat", "lively", "animated"),
    **_words(_SLOW, "slow", "slowly", "measured", "deliberate", "leisurely", "drawling", "unhurried"),
    **_words(_CALM, "calm", "calmly", "relaxed", "soothing", "gentle", "soft", "softly", "soft-spoken"),
    **_words(_MONOTONE, "monotone", "monotonous", "flat", "robotic", "deadpan"),
    **_words(_EXPRESSIVE, "expressive", "dramatic", "emotional", "playful", "cheerful"),
    **_words(_FIRM, "authoritative", "commanding", "confident", "powerful", "strong", "firm"),
}

MALE_WORDS = frozenset(
    {"male", "man", "men", "masculine", "boy", "guy", "gentleman", "father", "dad", "husband", "he", "him",
     "his", "king", "prince", "sir", "mr", "grandfather", "grandpa", "son", "brother", "uncle"}
)  # fmt: skip
FEMALE_WORDS = frozenset(
    {"female", "woman", "women", "feminine", "girl", "lady", "mother", "mom", "mum", "wife", "she", "her",
     "queen", "princess", "madam", "mrs", "ms", "grandmother", "grandma", "daughter", "sister", "aunt"}
)  # fmt: skip
START_HZ = {"male": 110.0, "female": 205.0, "neutral": 150.0}
_STRONGER = frozenset({"very", "really", "extremely", "super", "deeply", "incredibly"})
_WEAKER = frozenset({"slightly", "somewhat", "mildly", "fairly", "bit"})
_NEGATIONS = frozenset({"not", "no", "never", "without", "isn't", "isnt", "non"})
_TOKEN = re.compile(r"[a-z]+(?:['-][a-z]+)*")

CENTRE_LIMITS = (55.0, 380.0)
FORMANT_LIMITS = (0.8, 1.3)
SPEED_LIMITS = (0.75, 1.3)
INTONATION_LIMITS = (0.3, 1.1)
# Each designed voice spans ±20 % around its centre, like the bank's presets.
RANGE_SPREAD = 1.2


def _clamp(value: float, limits: tuple[float, float]) -> float:
    return min(max(value, limits[0]), limits[1])


def _traits(tokens: list[str]) -> list[tuple[Trait, float]]:
    """Each trait word once, with its strength from the word before it (and a negation before that)."""
    found: dict[str, tuple[Trait, float]] = {}
    for index, token in enumerate(tokens):
        trait = TRAITS.get(token)
        if trait is None or token in found:
            continue
        previous = tokens[index - 1] if index else ""
        strength = 2.0 if previous in _STRONGER else 0.5 if previous in _WEAKER else 1.0
        if strength != 1.0 and index > 1:
            previous = tokens[index - 2]  # "not very deep"
        if previous in _NEGATIONS:
            continue
        found[token] = (trait, strength)
    return list(found.values())


def gender(tokens: list[str]) -> str:
    male = sum(token in MALE_WORDS for token in tokens)
    female = sum(token in FEMALE_WORDS for token in tokens)
    return "male" if male > female else "female" if female > male else "neutral"


def tokenize(prompt: str) -> list[str]:
    """Lower-case words without a possessive 's; a hyphenated word the tables do not know also counts as
    its parts, and a "little" boy or girl is a child."""
    tokens: list[str] = []
    for token in _TOKEN.findall(prompt.lower()):
        token = token.removesuffix("'s")
        if token in ("boy", "girl") and tokens and tokens[-1] == "little":
            tokens.append("child")
        tokens.append(token)
        if "-" in token and token not in TRAITS:
            tokens.extend(token.split("-"))
    return tokens


def _base(centre: float, sex: str) -> str:
    characters = {"male": {"male", "deep"}, "female": {"female"}}.get(sex, {"male", "female"})
    bank = [preset for preset in PRESETS.values() if preset.character in characters]
    return min(bank, key=lambda preset: abs(math.log(preset.f0_centre / centre))).base


def design(prompt: str, name: str) -> Preset:
    """The preset a description asks for; the same prompt always gives the same preset."""
    tokens = tokenize(prompt)
    sex = gender(tokens)
    pitch = formant = speed = intonation = 1.0
    for trait, strength in _traits(tokens):
        pitch *= trait.pitch**strength
        formant *= trait.formant**strength
        speed *= trait.speed**strength
        intonation *= trait.intonation**strength
    centre = _clamp(START_HZ[sex] * pitch, CENTRE_LIMITS)
    female = sex == "female" or (sex == "neutral" and centre >= START_HZ["neutral"] + 10)
    return Preset(
        name=name,
        character="female" if female else "male",
        base=_base(centre, sex),
        f0_range=(round(centre / RANGE_SPREAD, 1), round(centre * RANGE_SPREAD, 1)),
        formant=round(_clamp(formant, FORMANT_LIMITS), 3),
        speed=round(_clamp(speed, SPEED_LIMITS), 3),
        intonation=round(_clamp(intonation, INTONATION_LIMITS), 3),
    )
