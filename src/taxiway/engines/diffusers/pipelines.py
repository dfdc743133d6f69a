"""Loading a diffusers pipeline from a local folder, and what differs between pipeline families."""

from __future__ import annotations

import json
import logging
import math
import struct
import sys
import threading
import types
from pathlib import Path
from typing import Any

import diffusers
import numpy as np
import numpy.typing as npt
import torch

from taxiway.engines.diffusers.weights import FolderInfo

log = logging.getLogger("taxiway.diffusers")

# diffusers and transformers resolve classes through lazy modules, which are not thread-safe: two first
# loads at once saw `diffusers.FluxPipeline` missing. Loads are disk-bound anyway, so one at a time.
_LOAD_LOCK = threading.Lock()
_ITEM_SIZE = {
    "F64": 8,
    "F32": 4,
    "F16": 2,
    "BF16": 2,
    "I64": 8,
    "I32": 4,
    "I16": 2,
    "I8": 1,
    "U8": 1,
    "BOOL": 1,
}


def default_device() -> str:
    return "cuda" if torch.cuda.is_available() else "cpu"


def default_dtype(device: str) -> torch.dtype:
    """bf16 where the hardware has it (CUDA); CPUs are fastest and exact in float32."""
    return torch.bfloat16 if torch.device(device).type == "cuda" else torch.float32


def _dtypes(info: FolderInfo, dtype: torch.dtype) -> dict[str, torch.dtype]:
    # Wan's VAE is only stable in float32 (as its model cards load it); it is small next to the transformer.
    if info.class_name.startswith("Wan") and dtype != torch.float32:
        return {"default": dtype, "vae": torch.float32}
    return {"default": dtype}


def load(info: FolderInfo, device: str, dtype: torch.dtype) -> Any:
    """The folder's pipeline class, from local files only, on `device`, without progress bars."""
    with _LOAD_LOCK:
        pipeline_class = getattr(diffusers, info.class_name)
        pipe = pipeline_class.from_pretrained(
            str(info.path), local_files_only=True, dtype=_dtypes(info, dtype)
        )
    pipe.to(device)
    pipe.set_progress_bar_config(disable=True)
    _without_ftfy(pipe)
    return pipe


# What the engines ask pipelines for: tensors left on the device, so the conversion to 8-bit happens there
# and a quarter of the bytes cross to the host (`np`/`pil` outputs copy float32 frames first).
OUTPUT_TYPE = "pt"


def to_pixels(images: torch.Tensor) -> npt.NDArray[np.uint8]:
    """Pipeline output in [0, 1], channels first (images BCHW, video frames BFCHW), as 8-bit channels-last
    arrays on the host, rounded to nearest as diffusers' own PIL conversion does."""
    pixels = images.clamp(0.0, 1.0).mul(255.0).round().to(torch.uint8)
    array: npt.NDArray[np.uint8] = pixels.movedim(-3, -1).contiguous().cpu().numpy()
    return array


def _without_ftfy(pipe: Any) -> None:
    """Some pipelines (Wan image-to-video in diffusers 0.42) call `ftfy.fix_text` on prompts even when the
    optional ftfy is not installed, which fails every request. ftfy only repairs mojibake, so without it
    prompts are used as given, as the text-to-video pipelines already do."""
    module = sys.modules.get(type(pipe).__module__)
    if module is None or "basic_clean" not in vars(module) or "ftfy" in vars(module):
        return
    module.ftfy = types.SimpleNamespace(fix_text=lambda text: text)  # type: ignore[attr-defined]


def denoisers(pipe: Any) -> list[torch.nn.Module]:
    """The transformer(s) or UNet: what runs every step, and what is worth compiling."""
    names = ("transformer", "transformer_2", "unet")
    return [module for name in names if isinstance(module := getattr(pipe, name, None), torch.nn.Module)]


def resident_bytes(pipe: Any) -> int:
    """Memory the pipeline's weights and buffers take where they are."""
    total = 0
    for component in pipe.components.values():
        if isinstance(component, torch.nn.Module):
            tensors = [*component.parameters(), *component.buffers()]
            total += sum(tensor.numel() * tensor.element_size() for tensor in tensors)
    return total


def estimated_bytes(path: Path, dtype: torch.dtype) -> int:
    """What loading the folder in `dtype` will take, from safetensors headers (no tensor is read), so
    that room is made before loading rather than after running out."""
    item = torch.empty((), dtype=dtype).element_size()
    total = 0
    for file in path.glob("*/*"):
        if file.suffix == ".safetensors":
            with file.open("rb") as handle:
                (length,) = struct.unpack("<Q", handle.read(8))
                header = json.loads(handle.read(length))
            for name, tensor in header.items():
                if name == "__metadata__":
                    continue
                numel = math.prod(tensor["shape"])
                floating = tensor["dtype"] in ("F64", "F32", "F16", "BF16")
                total += numel * (item if floating else _ITEM_SIZE.get(tensor["dtype"], 4))
        elif file.suffix in (".bin", ".pt", ".pth"):
            total += file.stat().st_size
    return total


def size_multiple(pipe: Any, class_name: str) -> int:
    """Pixels per latent token along a side: VAE stride x patch size."""
    if class_name == "FluxPipeline":
        return int(pipe.vae_scale_factor) * 2  # latents are packed 2x2
    if class_name == "StableDiffusion3Pipeline":
        return int(pipe.vae_scale_factor) * int(pipe.patch_size)
    if class_name.startswith("Wan"):
        config: Any = denoisers(pipe)[0].config
        return int(pipe.vae_scale_factor_spatial) * int(config.patch_size[1])
    if class_name.startswith("LTX"):
        # Its input check insists on 32 whatever the VAE (which is 32 x 1 in the released models).
        return max(32, int(pipe.vae_spatial_compression_ratio) * int(pipe.transformer_spatial_patch_size))
    return int(pipe.vae_scale_factor)  # SDXL's UNet works on latents directly


def manual_seed(device: str, seed: int) -> torch.Generator:
    return torch.Generator(device).manual_seed(seed)
