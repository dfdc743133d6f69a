"""Offline engines: CPU-only, no downloads, deterministic."""
