"""Recipes through the Python SDK (strict): every recipe created, priced from its steps, waited for,
and its outputs probed; bad bodies are 400s naming the field."""

from __future__ import annotations

import shutil
import subprocess

import httpx
import pytest
import runwayml
from runwayml import RunwayML

from conformance.media import png
from conformance.probe import probe
from support.recipe_requests import cases, sale_poster

CASES = cases()


def test_every_recipe_runs_through_the_python_sdk(client: RunwayML) -> None:
    created = {}
    for case in CASES:
        made = getattr(client.recipes, case.method)(**case.sdk_kwargs())
        assert made.estimated_cost.credits == case.credits, case.method
        created[case.method] = made
    for case in CASES:
        task = created[case.method].wait_for_task_output(timeout=600)
        assert task.status == "SUCCEEDED", (case.method, task)
        assert task.cost.credits == case.credits
        sizes, seconds, audio = case.outputs
        assert len(task.output) == len(sizes), case.method
        for url, size in zip(task.output, sizes, strict=True):
            found = probe(httpx.get(url, timeout=60).content)
            assert (found.width, found.height) == size, case.method
            if seconds is None:
                assert found.kind == "png"
            else:
                assert found.frames == round(seconds * 24), case.method
                assert found.has_audio is audio, case.method
        if case.method == "ad_localization":
            _check_translated(httpx.get(task.output[0], timeout=60).content)


def _check_translated(image: bytes) -> None:
    """The poster's line, read back from the output, is now Spanish."""
    if shutil.which("tesseract") is None:
        return
    text = subprocess.run(
        ["tesseract", "stdin", "stdout", "-l", "eng"],
        input=image,
        capture_output=True,
        timeout=120,
        check=True,
    ).stdout.decode()
    assert "VENTA" in text.upper(), text
    assert "SUMMER" not in text.upper(), text


@pytest.mark.parametrize(
    ("method", "body", "field"),
    [
        ("ad_localization", {"reference_image": {"uri": "x"}, "target_language": "es", "version": "2025-01"},
         "version"),
        ("ad_localization", {"reference_image": {"uri": "x"}, "target_language": "xx", "version": "2026-06"},
         "targetLanguage"),
        ("marketing_stock_image", {"prompt": "a", "version": "2026-06", "output_count": 5}, "outputCount"),
        ("multi_shot_video", {"mode": "custom", "version": "2026-06", "duration": 10,
                              "shots": [{"prompt": "a", "duration": 2}] * 3}, "shots"),
        ("multi_shot_video", {"mode": "auto", "version": "2026-06", "prompt": ""}, "prompt"),
        ("product_ad", {"product_images": [], "version": "2026-07"}, "productImages"),
        ("product_ugc", {"character_image": {"uri": png(100, 300)}, "product_image": {"uri": png()},
                         "version": "2026-06"}, "characterImage"),
        ("product_swap", {"new_product_images": [{"uri": png(), "view": "top"}],
                          "original_product_image": {"uri": png()}, "reference_video": {"uri": sale_poster()},
                          "version": "2026-06"}, "newProductImages"),
    ],
)  # fmt: skip
def test_bad_recipe_bodies_are_400_naming_the_field(
    client: RunwayML, method: str, body: dict[str, object], field: str
) -> None:
    with pytest.raises(runwayml.BadRequestError) as error:
        getattr(client.recipes, method)(**body)
    issues = error.value.body["issues"]  # type: ignore[index]
    assert any(field in issue["path"] or field in issue["message"] for issue in issues), issues
