"""Model Routers: saved routing preferences, and the choice of a model for each `generate` request."""
