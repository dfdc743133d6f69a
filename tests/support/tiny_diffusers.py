"""Tiny random-weight diffusers pipelines of the real classes, saved as folders the engines load.

Everything is built offline: the tokenizers are word-level `tokenizers` models made in memory (unknown
words map to <unk>, which is all random text encoders need), the text encoders and denoisers have one or
two layers of a few channels. Weights come from `torch.manual_seed(seed)`, so a folder is reproducible.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from diffusers import (
    AutoencoderKL,
    AutoencoderKLLTXVideo,
    AutoencoderKLWan,
    FlowMatchEulerDiscreteScheduler,
    FluxKontextPipeline,
    FluxPipeline,
    FluxTransformer2DModel,
    LTXImageToVideoPipeline,
    LTXPipeline,
    LTXVideoTransformer3DModel,
    WanImageToVideoPipeline,
    WanPipeline,
    WanTransformer3DModel,
)
from tokenizers import Tokenizer, models, pre_tokenizers
from transformers import (
    CLIPTextConfig,
    CLIPTextModel,
    PreTrainedTokenizerFast,
    T5Config,
    T5EncoderModel,
    UMT5Config,
    UMT5EncoderModel,
)

TEXT_DIM = 32
_SPECIALS = ["<pad>", "</s>", "<unk>", "<s>"]
_WORDS = ["a", "the", "cat", "dog", "sunset", "over", "sea", "city", "at", "night", "red", "blue"]


def tokenizer(max_length: int) -> PreTrainedTokenizerFast:
    vocab = {word: index for index, word in enumerate(_SPECIALS + _WORDS)}
    model = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    model.pre_tokenizer = pre_tokenizers.Whitespace()
    return PreTrainedTokenizerFast(
        tokenizer_object=model,
        pad_token="<pad>",
        eos_token="</s>",
        unk_token="<unk>",
        bos_token="<s>",
        model_max_length=max_length,
    )


def _t5_config() -> dict[str, Any]:
    return {
        "vocab_size": len(_SPECIALS) + len(_WORDS),
        "d_model": TEXT_DIM,
        "d_kv": 8,
        "d_ff": 37,
        "num_layers": 1,
        "num_heads": 4,
        "relative_attention_num_buckets": 8,
        "decoder_start_token_id": 0,
        "pad_token_id": 0,
        "eos_token_id": 1,
    }


def _save(pipe: Any, path: Path) -> Path:
    pipe.save_pretrained(str(path))
    return path


def flux(path: Path, seed: int = 0, kontext: bool = False) -> Path:
    """FluxPipeline (FluxKontextPipeline with `kontext`: the same parts, conditioned on an image); VAE
    stride 2, so sizes are multiples of 4 (stride x the 2x2 latent packing)."""
    torch.manual_seed(seed)
    clip = CLIPTextModel(
        CLIPTextConfig(
            bos_token_id=3,
            eos_token_id=1,
            pad_token_id=0,
            hidden_size=TEXT_DIM,
            intermediate_size=37,
            num_attention_heads=4,
            num_hidden_layers=1,
            vocab_size=len(_SPECIALS) + len(_WORDS),
            projection_dim=TEXT_DIM,
            max_position_embeddings=77,
        )
    )
    transformer = FluxTransformer2DModel(
        patch_size=1,
        in_channels=16,
        num_layers=1,
        num_single_layers=1,
        attention_head_dim=16,
        num_attention_heads=2,
        joint_attention_dim=TEXT_DIM,
        pooled_projection_dim=TEXT_DIM,
        axes_dims_rope=[4, 4, 8],
    )
    vae = AutoencoderKL(
        sample_size=32,
        in_channels=3,
        out_channels=3,
        block_out_channels=(4, 4),
        down_block_types=["DownEncoderBlock2D"] * 2,
        up_block_types=["UpDecoderBlock2D"] * 2,
        layers_per_block=1,
        latent_channels=4,
        norm_num_groups=1,
        use_quant_conv=False,
        use_post_quant_conv=False,
        shift_factor=0.06,
        scaling_factor=1.5,
    )
    pipe = (FluxKontextPipeline if kontext else FluxPipeline)(
        scheduler=FlowMatchEulerDiscreteScheduler(),
        vae=vae,
        text_encoder=clip,
        tokenizer=tokenizer(77),
        text_encoder_2=T5EncoderModel(T5Config(**_t5_config())),
        tokenizer_2=tokenizer(512),
        transformer=transformer,
    )
    return _save(pipe, path)


def _wan_parts(in_channels: int) -> dict[str, Any]:
    return {
        "tokenizer": tokenizer(512),
        "text_encoder": UMT5EncoderModel(UMT5Config(**_t5_config())),
        "vae": AutoencoderKLWan(
            base_dim=3,
            z_dim=16,
            dim_mult=[1, 1, 1, 1],
            num_res_blocks=1,
            temperal_downsample=[False, True, True],
        ),
        "scheduler": FlowMatchEulerDiscreteScheduler(shift=7.0),
        "transformer": WanTransformer3DModel(
            patch_size=(1, 2, 2),
            num_attention_heads=2,
            attention_head_dim=12,
            in_channels=in_channels,
            out_channels=16,
            text_dim=TEXT_DIM,
            freq_dim=256,
            ffn_dim=32,
            num_layers=1,
            cross_attn_norm=True,
            qk_norm="rms_norm_across_heads",
            rope_max_seq_len=32,
        ),
    }


def wan(path: Path, seed: int = 0) -> Path:
    """WanPipeline (text-to-video): VAE stride 8 x patch 2 = multiples of 16, frames 4k + 1, 16 fps."""
    torch.manual_seed(seed)
    return _save(WanPipeline(**_wan_parts(16)), path)


def wan_i2v(path: Path, seed: int = 0) -> Path:
    """WanImageToVideoPipeline without a CLIP image encoder (as Wan 2.2 ships): first and last frames."""
    torch.manual_seed(seed)
    return _save(WanImageToVideoPipeline(**_wan_parts(36), image_encoder=None, image_processor=None), path)


def _ltx_parts() -> dict[str, Any]:
    vae = AutoencoderKLLTXVideo(
        in_channels=3,
        out_channels=3,
        latent_channels=8,
        block_out_channels=(8, 8, 8, 8),
        decoder_block_out_channels=(8, 8, 8, 8),
        layers_per_block=(1, 1, 1, 1, 1),
        decoder_layers_per_block=(1, 1, 1, 1, 1),
        spatio_temporal_scaling=(True, True, False, False),
        decoder_spatio_temporal_scaling=(True, True, False, False),
        decoder_inject_noise=(False, False, False, False, False),
        upsample_residual=(False, False, False, False),
        upsample_factor=(1, 1, 1, 1),
        timestep_conditioning=False,
        patch_size=1,
        patch_size_t=1,
        encoder_causal=True,
        decoder_causal=False,
    )
    transformer = LTXVideoTransformer3DModel(
        in_channels=8,
        out_channels=8,
        patch_size=1,
        patch_size_t=1,
        num_attention_heads=4,
        attention_head_dim=8,
        cross_attention_dim=32,
        num_layers=1,
        caption_channels=TEXT_DIM,
    )
    return {
        "scheduler": FlowMatchEulerDiscreteScheduler(),
        "vae": vae,
        "text_encoder": T5EncoderModel(T5Config(**_t5_config())),
        "tokenizer": tokenizer(128),
        "transformer": transformer,
    }


def ltx(path: Path, seed: int = 0) -> Path:
    """LTXPipeline: sizes in multiples of 32 (its input check), frames 8k + 1 at 24 fps."""
    torch.manual_seed(seed)
    return _save(LTXPipeline(**_ltx_parts()), path)


def ltx_i2v(path: Path, seed: int = 0) -> Path:
    torch.manual_seed(seed)
    return _save(LTXImageToVideoPipeline(**_ltx_parts()), path)
