"""The model catalog: every model, its endpoint, inputs, ratios and price, declared once as data."""

from taxiway.catalog.index import CATALOG, ENDPOINTS, model_spec
from taxiway.catalog.models import AssetField, AssetKind, EndpointSpec, ModelSpec, OutputKind

__all__ = [
    "CATALOG",
    "ENDPOINTS",
    "AssetField",
    "AssetKind",
    "EndpointSpec",
    "ModelSpec",
    "OutputKind",
    "model_spec",
]
