"""taxiway: a self-hosted, drop-in implementation of the Runway developer API."""

__version__ = "0.1.0"
API_VERSION = "2024-11-06"
SUPPORTED_API_VERSIONS = frozenset({API_VERSION})
