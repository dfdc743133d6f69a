"""The live voice presets an avatar may speak with (`runway-live-preset`), as the API describes them.

The ids are the SDK's; display names are the capitalized ids, as the SDK's docstring lists them. Runway
describes only clara, victoria and vincent; the other descriptions are taxiway's own, one line each.
"""

from __future__ import annotations

from dataclasses import dataclass

from taxiway.catalog.voices import LIVE_PRESETS
from taxiway.db.tables import Voice


@dataclass(frozen=True)
class LiveVoice:
    id: str
    description: str

    @property
    def name(self) -> str:
        return self.id.capitalize()


_DESCRIPTIONS = {
    "victoria": "Firm and professional; clear, confident delivery.",
    "vincent": "Knowledgeable and authoritative; measured and steady.",
    "clara": "Soft and approachable; warm, friendly tone.",
    "drew": "Relaxed and conversational; easygoing male voice.",
    "skye": "Bright and upbeat; youthful, energetic female voice.",
    "max": "Energetic and enthusiastic; lively male voice.",
    "morgan": "Calm and neutral; balanced, even-paced delivery.",
    "felix": "Playful and expressive; light, animated male voice.",
    "mia": "Gentle and sincere; soft-spoken female voice.",
    "marcus": "Deep and reassuring; rich, grounded male voice.",
    "summer": "Cheerful and sunny; bubbly female voice.",
    "ruby": "Confident and lively; vivid, engaging female voice.",
    "aurora": "Dreamy and soothing; airy, calm female voice.",
    "jasper": "Witty and charming; crisp male voice.",
    "leo": "Friendly and bold; bright, outgoing male voice.",
    "adrian": "Polished and articulate; composed male voice.",
    "nina": "Warm and attentive; caring female voice.",
    "emma": "Clear and pleasant; natural, everyday female voice.",
    "blake": "Cool and laid-back; smooth male voice.",
    "david": "Mature and trustworthy; steady, measured male voice.",
    "maya": "Kind and thoughtful; gentle female voice.",
    "nathan": "Earnest and direct; clear, youthful male voice.",
    "sam": "Casual and friendly; easy, neutral voice.",
    "georgia": "Elegant and poised; refined female voice.",
    "petra": "Crisp and precise; focused, businesslike female voice.",
    "adam": "Straightforward and dependable; plain-spoken male voice.",
    "zach": "Upbeat and informal; youthful, energetic male voice.",
    "violet": "Soft and expressive; delicate female voice.",
    "roman": "Strong and commanding; resonant male voice.",
    "luna": "Mellow and calming; quiet, soothing female voice.",
}

LIVE_VOICES: dict[str, LiveVoice] = {voice: LiveVoice(voice, _DESCRIPTIONS[voice]) for voice in LIVE_PRESETS}


def render_voice(voice: dict[str, str], custom: Voice | None = None) -> dict[str, object]:
    """The voice as the Avatar object shows it: presets and custom voices with their name and description.

    `custom` is the Voices API voice a `{type: custom}` voice names; None once it has been deleted, which
    the API shows as `deleted: true`, without name or description.
    """
    if voice["type"] == "runway-live-preset":
        preset = LIVE_VOICES[voice["presetId"]]
        return {
            "type": "runway-live-preset",
            "presetId": preset.id,
            "name": preset.name,
            "description": preset.description,
        }
    if custom is None:
        return {"type": "custom", "id": voice["id"], "deleted": True}
    return {
        "type": "custom",
        "id": voice["id"],
        "deleted": False,
        "name": custom.name,
        "description": custom.description,
    }
