"""For every constraint the catalog declares, a request breaking it gets a 400 naming the field.

The broken requests are derived from each model's generated JSON schema, starting from a valid body
per model (the conformance variants), so a new model or field is covered without new test code. They are
validated in-process, by the function every create route validates its body with; a sample of them, one
per endpoint, goes through a running server to show the route answers the same 400.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from conformance.variants import variants
from support.server import Server
from taxiway.api.errors import ApiError
from taxiway.api.generation import validate_body
from taxiway.catalog import CATALOG, ENDPOINTS
from taxiway.catalog.schemas import request_model

BASES = {(v.endpoint, v.params["model"]): v.params for v in variants() if not v.raw}


def _resolve(schema: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    if "$ref" in schema:
        return _resolve(root["$defs"][schema["$ref"].split("/")[-1]], root)
    return schema


def _options(schema: dict[str, Any], root: dict[str, Any]) -> list[dict[str, Any]]:
    schema = _resolve(schema, root)
    if "anyOf" in schema:
        return [o for branch in schema["anyOf"] for o in _options(branch, root)]
    return [schema]


def breakages(endpoint: str, model: str) -> Iterator[tuple[str, dict[str, Any], str]]:
    """(description, broken body, field that must be named) for each constraint of one model."""
    base = BASES[(endpoint, model)]
    root = request_model(endpoint, model).model_json_schema(by_alias=True)
    yield "unknown key", {**base, "notAField": 1}, "notAField"
    for name in root.get("required", []):
        if name != "model":
            yield f"{name} missing", {k: v for k, v in base.items() if k != name}, name
    for name, prop in root["properties"].items():
        if name == "model":
            continue
        options = [o for o in _options(prop, root) if o.get("type") != "null"]
        types = {o.get("type") for o in options}
        yield f"{name} wrong type", {**base, name: {"nested": True} if "object" not in types else 12345}, name
        for option in options:
            if "enum" in option or "const" in option:
                yield f"{name} not allowed", {**base, name: "definitely-not-allowed"}, name
            if option.get("type") in ("integer", "number"):
                if "minimum" in option:
                    yield f"{name} below minimum", {**base, name: option["minimum"] - 1}, name
                if "maximum" in option:
                    yield f"{name} above maximum", {**base, name: option["maximum"] + 1}, name
            if option.get("type") == "string" and option.get("minLength", 0) > 0 and name in base:
                yield f"{name} empty", {**base, name: ""}, name
            if option.get("type") == "array" and "maxItems" in option and isinstance(base.get(name), list):
                items = base[name] * (option["maxItems"] + 1)
                yield f"{name} too many", {**base, name: items[: option["maxItems"] + 1]}, name
            if option.get("type") == "string" and "pattern" in option:
                yield f"{name} malformed", {**base, name: "#not valid!"}, name
            if option.get("type") == "string" and option.get("maxLength", 10**9) < 100_000:
                yield f"{name} too long", {**base, name: "é" * (option["maxLength"] + 1)}, name


def _names(issues: list[dict[str, Any]] | None, field: str) -> bool:
    return any(field in issue["path"] or field in issue.get("keys", []) for issue in issues or [])


def refusal(endpoint: str, body: dict[str, Any]) -> ApiError | None:
    """The 400 a create route answers for `body` at validation, or None when the body is valid."""
    try:
        validate_body(endpoint, json.dumps(body).encode(), body)
    except ApiError as error:
        return error
    return None


def unnamed(endpoint: str, body: dict[str, Any], field: str) -> str | None:
    """Why the body's refusal is wrong: accepted, not a 400, or naming other fields than `field`."""
    error = refusal(endpoint, body)
    if error is None:
        return "accepted"
    if error.status != 400 or not _names(error.issues, field):
        return f"{error.status}: {error.issues}"
    return None


@pytest.mark.parametrize(("endpoint", "model"), sorted(CATALOG), ids=[f"{e}-{m}" for e, m in sorted(CATALOG)])
def test_broken_constraint_is_400_naming_the_field(endpoint: str, model: str) -> None:
    wrong = {
        what: why
        for what, body, field in breakages(endpoint, model)
        if (why := unnamed(endpoint, body, field))
    }
    assert wrong == {}


def _over_http(server: Server, key: str, endpoint: str, body: dict[str, Any]) -> httpx.Response:
    return httpx.post(
        f"{server.base_url}/v1/{endpoint}",
        json=body,
        headers={"Authorization": f"Bearer {key}", "X-Runway-Version": "2024-11-06"},
        timeout=30,
    )


# One broken body per endpoint, through a running server: the first model's first breakage.
SAMPLES = [
    (endpoint, *next(breakages(endpoint, models.models[0].id))[1:])
    for endpoint, models in ENDPOINTS.items()
    if (endpoint, models.models[0].id) in BASES
]


@pytest.mark.parametrize(("endpoint", "body", "field"), SAMPLES, ids=[s[0] for s in SAMPLES])
def test_the_route_answers_the_validation_400(
    server: Server, conformance_key: str, endpoint: str, body: dict[str, Any], field: str
) -> None:
    response = _over_http(server, conformance_key, endpoint, body)
    assert response.status_code == 400, response.text
    error = response.json()
    assert _names(error.get("issues"), field), error
    expected = refusal(endpoint, body)
    assert expected is not None and (error["error"], error["issues"]) == (expected.message, expected.issues)


def _image(model: str, **changes: Any) -> dict[str, Any]:
    body = {**BASES[("text_to_image", model)], **changes}
    return {key: value for key, value in body.items() if value is not None}


_REF = {"uri": "data:image/png;base64,AAAA"}
# The image models' rules the SDK documents in words; each body breaks one, naming the field to blame.
_IMAGE_RULES = {
    "gpt-duplicate-tags": (_image("gpt_image_2", referenceImages=[{**_REF, "tag": "same"}, {**_REF, "tag": "same"}]), "referenceImages"),
    "gemini-six-humans": (_image("gemini_image3.1_flash_lite", referenceImages=[{**_REF, "subject": "human"}] * 6), "referenceImages"),
    "grok-edit-without-reference": (_image("grok_imagine_image_2", referenceImages=None), "edit"),
    "bria-edit-without-reference": (_image("bria_fibo_edit_1_5", referenceImages=None), "referenceImages"),
    "bria-edit-size-with-one-reference": (_image("bria_fibo_edit_1_5", ratio="1024:1024"), "ratio"),
    "ideogram-very-low-without-reference": (_image("ideogram_4_5", referenceImages=None, maskUri=None, quality="very_low"), "quality"),
    "ideogram-very-low-precise-edit": (_image("ideogram_4_5", maskUri=None, quality="very_low", preciseEdit=True), "quality"),
    "ideogram-ratio-with-mask": (_image("ideogram_4_5", ratio="1024:1024"), "ratio"),
    "ideogram-mask-without-reference": (_image("ideogram_4_5", referenceImages=None), "maskUri"),
    "ideogram-precise-edit-without-reference": (_image("ideogram_4_5", referenceImages=None, maskUri=None, preciseEdit=True), "preciseEdit"),
    "ideogram-text-widescreen-with-reference": (_image("ideogram_4_5", maskUri=None, ratio="1280:720"), "ratio"),
    "ideogram-reference-widescreen-without": (_image("ideogram_4_5", maskUri=None, referenceImages=None, ratio="1024:576"), "ratio"),
    "seedream-lite-free-size-too-small": (_image("seedream5_lite", ratio="1000:1000"), "ratio"),
    "seedream-lite-free-size-too-large": (_image("seedream5_lite", ratio="8192:4096"), "ratio"),
    "recraft-colour-not-hex": (_image("recraft_v4_1_flash", colors=["orange"]), "colors"),
}  # fmt: skip


def test_every_catalog_model_has_a_conformance_variant() -> None:
    assert set(CATALOG) <= set(BASES)


def _rule(endpoint: str, model: str, field: str, **changes: Any) -> tuple[str, dict[str, Any], str]:
    """(endpoint, the model's base body with `changes`, None removing a key, the field to blame)."""
    body = {**BASES[(endpoint, model)], **changes}
    return endpoint, {key: value for key, value in body.items() if value is not None}, field


_SEGMENTS = [{"prompt": "one", "duration": 10}, {"prompt": "two", "duration": 6}]
_FRAME = "data:image/png;base64,AAAA"
# The video and audio models' rules the SDK documents in words.
_MEDIA_RULES = {
    "kling-segments-over-15s": _rule("text_to_video", "kling3.0_standard", "providerSettings", providerSettings={"multiPrompt": _SEGMENTS}),
    "kling-duration-not-segments": _rule("text_to_video", "kling3.0_standard", "duration", duration=5),
    "kling-intelligence-without-prompt": _rule("text_to_video", "kling3.0_standard", "promptText", providerSettings={"shotType": "intelligence"}),
    "kling-without-prompt-or-segments": _rule("text_to_video", "kling3.0_pro", "promptText", promptText=None),
    "kling-last-frame-only": _rule("image_to_video", "kling3.0_pro", "promptImage", promptImage=[{"uri": _FRAME, "position": "last"}]),
    "kling4-two-first-frames": _rule("image_to_video", "kling_4", "promptImage", promptImage=[{"uri": _FRAME, "position": "first"}] * 2),
    "kling4-eleven-images": _rule("image_to_video", "kling_4", "references", references=[{"uri": _FRAME}] * 8),
    "hailuo-adaptive-without-references": _rule("text_to_video", "hailuo3", "ratio", ratio="adaptive"),
    "wan-keyframes-with-pixel-ratio": _rule("image_to_video", "wan3", "ratio", ratio="832:480"),
    "grok-audio-without-image": _rule("text_to_video", "grok_imagine_1_5", "references", referenceAudio=[{"type": "audio", "uri": _FRAME}]),
    "h3-last-frame-only": _rule("image_to_video", "h3_max", "promptImage", promptImage=[{"uri": _FRAME, "position": "last"}]),
    "seedance25-draft-task-with-prompt": _rule("text_to_video", "seedance2_5", "promptText", draftTaskId="x"),
    "seedance25-draft-as-mov": _rule("text_to_video", "seedance2_5", "outputFormat", draft=True, outputFormat="mov"),
    "seedance25-edit-needs-auto": _rule("video_to_video", "seedance2_5", "duration", duration=4),
    "seedance25-extend-without-prompt": _rule("video_to_video", "seedance2_5", "promptText", mode="extend", promptText=None, duration=4),
    "seedance25-extend-with-ratio": _rule("video_to_video", "seedance2_5", "ratio", mode="extend", duration=4, ratio="640:640"),
    "aleph2-ranges-on-some-keyframes": _rule("video_to_video", "aleph2", "keyframes", keyframes=[
        {"uri": _FRAME, "seconds": 0.5, "range": {"start_seconds": 0, "end_seconds": 1}}, {"uri": _FRAME, "at": 0.5}]),
    "aleph2-keyframe-outside-its-range": _rule("video_to_video", "aleph2", "keyframes", keyframes=[
        {"uri": _FRAME, "seconds": 1.5, "range": {"start_seconds": 0, "end_seconds": 1}}]),
    "aleph2-prores-profile-with-mp4": _rule("video_to_video", "aleph2", "proresProfile", proresProfile="422"),
    "aleph2-keyframe-both-times": _rule("video_to_video", "aleph2", "keyframes", keyframes=[{"uri": _FRAME, "seconds": 1, "at": 0.5}]),
    "eleven-v3-live-preset": _rule("text_to_speech", "eleven_v3", "voice", voice={"type": "runway-preset", "presetId": "clara"}),
    "eleven-v4-unspoken-language": _rule("text_to_speech", "eleven_v4", "languageCode", languageCode="ja"),
}  # fmt: skip

IMAGE_RULES = [
    *(("text_to_image", body, field) for body, field in _IMAGE_RULES.values()),
    *_MEDIA_RULES.values(),
]
IMAGE_RULE_IDS = [*_IMAGE_RULES, *_MEDIA_RULES]


@pytest.mark.parametrize(
    ("endpoint", "body", "field"),
    [
        ("image_to_video", {**BASES[("image_to_video", "veo3.1")],
                            "promptImage": [{"uri": "data:,x", "position": "last"}]}, "promptImage"),
        ("image_to_video", {**BASES[("image_to_video", "seedance2")],
                            "promptImage": [{"uri": "a", "position": "first"}, {"uri": "b"}]}, "promptImage"),
        ("image_to_video", {**BASES[("image_to_video", "veo3.1")],
                            "promptImage": [{"uri": "a", "position": "first"}, {"uri": "b", "position": "first"}]},
         "promptImage"),
        ("text_to_video", {**BASES[("text_to_video", "gen4.5")], "proresProfile": "422"}, "proresProfile"),
        ("text_to_video", {**BASES[("text_to_video", "veo3")], "duration": 4}, "duration"),
        ("text_to_video", {**BASES[("text_to_video", "gen4.5")], "ratio": "1104:832"}, "ratio"),
        ("text_to_video", {**BASES[("text_to_video", "seedance2")], "duration": 3}, "duration"),
        *IMAGE_RULES,
    ],
    ids=["veo-last-only", "seedance-mixed-modes", "duplicate-first", "prores-profile-without-prores",
         "veo3-only-8s", "gen45-ttv-itv-ratio", "seedance-too-short", *IMAGE_RULE_IDS],
)  # fmt: skip
def test_cross_field_rules(endpoint: str, body: dict[str, Any], field: str) -> None:
    assert unnamed(endpoint, body, field) is None


def test_an_unknown_draft_task_is_a_400_naming_it(server: Server, conformance_key: str) -> None:
    """Known only to the server's books, so asked of a running one."""
    body = {"model": "seedance2_5", "draftTaskId": "00000000-0000-4000-8000-000000000000"}
    response = _over_http(server, conformance_key, "text_to_video", body)
    assert response.status_code == 400, response.text
    assert _names(response.json().get("issues"), "draftTaskId"), response.text
