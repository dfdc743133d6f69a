"""The assembled catalog: every endpoint and every (endpoint, model) pair."""

from __future__ import annotations

from collections.abc import Mapping

from taxiway.catalog.audio_models import AUDIO_ENDPOINTS
from taxiway.catalog.image_models import TEXT_TO_IMAGE
from taxiway.catalog.media_models import MEDIA_ENDPOINTS, VIDEO_UPSCALE_ALL
from taxiway.catalog.models import EndpointSpec, ModelSpec
from taxiway.catalog.video_models import VIDEO_ENDPOINTS

# video_upscale's newer models are declared with the other media endpoints (`media_models`).
ENDPOINTS: Mapping[str, EndpointSpec] = {
    spec.name: spec for spec in (TEXT_TO_IMAGE, *VIDEO_ENDPOINTS, *AUDIO_ENDPOINTS, *MEDIA_ENDPOINTS)
} | {VIDEO_UPSCALE_ALL.name: VIDEO_UPSCALE_ALL}
CATALOG: Mapping[tuple[str, str], ModelSpec] = {
    (spec.name, model.id): model for spec in ENDPOINTS.values() for model in spec.models
}


def model_spec(endpoint: str, model_id: str) -> ModelSpec:
    """A model of an endpoint, or a recipe (endpoint `recipes`): everything a task can run."""
    found = CATALOG.get((endpoint, model_id))
    if found is not None:
        return found
    from taxiway.catalog.recipes import RECIPE_SPECS  # recipes are built from the catalog above

    return RECIPE_SPECS[(endpoint, model_id)]
