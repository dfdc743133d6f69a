"""Speed-ups applied to a pipeline once it is loaded, as declared by configuration.

Lossless ones change how the same arithmetic runs: the attention kernel, fused QKV projections (one GEMM
instead of three), `torch.compile` of the denoiser and the VAE decoder (its `reduce-overhead` mode
replays CUDA graphs; the `blocks` scope compiles one transformer block and reuses it for the others,
which compiles in a fraction of the time for most of the speed), and VAE tiling, which bounds the
decoder's memory on long or large videos. Lossy ones change the result and are opt-in only: First Block
Cache skips the rest of a step's transformer blocks when its first block's output barely moved since the
previous step.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, get_args

import torch

from taxiway.config import CompileMode, CompileScope
from taxiway.engines.diffusers import pipelines

log = logging.getLogger("taxiway.diffusers")

# Remote kernels ("*_hub" backends) would be downloaded at run time; taxiway never touches the network.
_REMOTE_BACKEND_SUFFIX = "_hub"


@dataclass(frozen=True)
class Accelerations:
    attention_backend: str | None = None
    fuse_projections: bool = False
    compile: bool = False
    compile_mode: CompileMode = "default"
    compile_scope: CompileScope = "full"
    vae_tiling: bool = False
    # Lossy, opt-in: First Block Cache threshold (diffusers' default is 0.05; higher skips more).
    first_block_cache: float | None = None

    def __post_init__(self) -> None:
        backend = self.attention_backend
        if backend and backend.endswith(_REMOTE_BACKEND_SUFFIX):
            raise ValueError(f"attention backend {backend!r} downloads kernels; pick a local one")
        for name, value, allowed in (
            ("compile mode", self.compile_mode, get_args(CompileMode)),
            ("compile scope", self.compile_scope, get_args(CompileScope)),
        ):
            if value not in allowed:
                raise ValueError(f"{name} {value!r} is not one of {', '.join(allowed)}")

    @property
    def lossy(self) -> bool:
        return self.first_block_cache is not None

    def describe(self) -> list[str]:
        """What `taxiway models` shows next to a resident pipeline."""
        parts = []
        if self.attention_backend:
            parts.append(f"attention {self.attention_backend}")
        if self.fuse_projections:
            parts.append("fused QKV")
        if self.compile:
            parts.append(f"compile {self.compile_mode} ({self.compile_scope})")
        if self.vae_tiling:
            parts.append("VAE tiling")
        if self.first_block_cache is not None:
            parts.append(f"first-block cache {self.first_block_cache:g} (lossy)")
        return parts

    def apply(self, pipe: Any) -> None:
        """Everything but compilation, which the runtime does with its cache of compiled artifacts."""
        denoisers = pipelines.denoisers(pipe)
        for denoiser in denoisers:
            if self.attention_backend:
                denoiser.set_attention_backend(self.attention_backend)  # type: ignore[operator]
            if self.fuse_projections:
                _fuse(denoiser)
            if self.first_block_cache is not None:
                from diffusers.hooks.first_block_cache import FirstBlockCacheConfig

                denoiser.enable_cache(FirstBlockCacheConfig(threshold=self.first_block_cache))  # type: ignore[operator]
        vae = getattr(pipe, "vae", None)
        if self.vae_tiling and vae is not None and hasattr(vae, "enable_tiling"):
            vae.enable_tiling()

    def compile_modules(self, pipe: Any) -> None:
        """Compile in place; graphs are built on the first call of each shape."""
        mode = None if self.compile_mode == "default" else self.compile_mode
        for module in pipelines.denoisers(pipe):
            if self.compile_scope == "blocks" and getattr(module, "_repeated_blocks", None):
                module.compile_repeated_blocks(mode=mode)  # type: ignore[operator]
            else:
                module.compile(mode=mode)
        decoder = getattr(getattr(pipe, "vae", None), "decoder", None)
        if isinstance(decoder, torch.nn.Module):
            decoder.compile(mode=mode)


def _fuse(denoiser: torch.nn.Module) -> None:
    """QKV (self-attention) and KV (cross-attention) projections as one linear layer each, in every
    attention module that supports it. The separate weights stay for unfusing, at some memory cost."""
    fused = 0
    for module in denoiser.modules():
        fuse = getattr(module, "fuse_projections", None)
        if getattr(module, "_supports_qkv_fusion", False) and callable(fuse):
            with torch.no_grad():
                fuse()
            fused += 1
    if not fused:
        log.info("%s has no attention module that can fuse its projections", type(denoiser).__name__)
