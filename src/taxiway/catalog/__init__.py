"""The model catalog: every model, its endpoint, inputs, ratios and price, declared once as data."""

from taxiway.catalog.models import CATALOG, ENDPOINTS, EndpointSpec, ModelSpec, OutputKind, model_spec

__all__ = ["CATALOG", "ENDPOINTS", "EndpointSpec", "ModelSpec", "OutputKind", "model_spec"]
