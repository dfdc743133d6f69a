"""GPU engines backed by diffusers pipelines loaded from local folders (`diffusers-image`, `diffusers-video`).

Only `weights` (configuration and folder checks) and `geometry` are importable without torch; the engines
and the pipeline cache import torch and diffusers, which the `gpu` extra installs.
"""
