"""Serving overhead of the diffusers engines: stock diffusers against the same job through taxiway's API.

Two open architectures with random bf16 weights (speed does not depend on weight values):

  - Wan2.1-T2V-1.3B: 832x480, 81 frames (5 s at 16 fps), 50 steps, CFG 5.0 (two forwards a step)
  - FLUX.1-schnell: 1024x1024, 4 steps, no CFG

Each is saved as a diffusers folder (`save_pretrained` into a temporary directory). The transformers and
VAEs have the released architectures; the tokenizers and text encoders are tiny random ones with the
released output widths (4096-wide T5 states, 768-wide CLIP pooling, 512 text tokens), because the
benchmark measures the transformer and the VAE, the part that dominates real runs. For each model it
prints, in one run:

  - stock: `Pipeline.from_pretrained(folder)` on the GPU, one warm-up call, then the job, timed;
  - taxiway: a server started with the folder configured (`TAXIWAY_WEIGHTS`, `TAXIWAY_ENGINES`), the
    job submitted with the official `runwayml` SDK and polled until SUCCEEDED with its PNG/MP4 stored
    and downloaded (the first task loads the pipeline and is reported apart, then the timed tasks);
  - with lossless optimizations asked for (`--attention`, `--fuse`, `--compile`, `--compile-scope`), the
    same pipeline called directly with them ("raw"), the speed-up over stock, and taxiway run with them;
  - the overhead ratio (taxiway / raw, raw being stock when nothing is optimized) and the FLOP lower
    bound at 800 TFLOP/s (dense bf16);
  - FLUX: images per second with 4 requests at once (the server batches them), as seconds per image;
  - with `--warmup`, how long the server's start-up warm-up took, and with `--compile`, the first task
    after a restart (compiled kernels read back from the data dir, not compiled again).

taxiway's figure includes what stock diffusers does not do: fitting frames to the requested ratio
(Lanczos), re-timing to 24 fps and H.264 encoding (videos), PNG encoding, storage and the API round trips.

    python bench/gpu_generation.py [--model wan|flux|all] [--repeats N] [--json]   # needs CUDA
    python bench/gpu_generation.py --attention _native_cudnn --compile max-autotune-no-cudagraphs --warmup
    python bench/gpu_generation.py --tiny                                          # CPU, tiny weights
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
PEAK_FLOPS = 800e12  # dense bf16 the FLOP bound is taken at
TEXT_TOKENS = 512
CONCURRENT = 4  # FLUX requests in flight at once for the throughput figure


@dataclass(frozen=True)
class Optimizations:
    """Lossless options, applied alike to the raw pipeline and (through its settings) to taxiway."""

    attention: str | None = None
    fuse: bool = False
    compile: str | None = None  # a torch.compile mode
    compile_scope: str = "full"
    warmup: bool = False

    @property
    def any(self) -> bool:
        return bool(self.attention or self.fuse or self.compile)

    def accelerations(self) -> Any:
        from taxiway.engines.diffusers.accelerations import Accelerations

        return Accelerations(
            attention_backend=self.attention, fuse_projections=self.fuse, compile=self.compile is not None,
            compile_mode=self.compile or "default", compile_scope=self.compile_scope,  # type: ignore[arg-type]
        )  # fmt: skip

    def environment(self) -> dict[str, str]:
        env = {"TAXIWAY_DIFFUSERS_WARMUP": str(self.warmup).lower()}
        if self.attention:
            env["TAXIWAY_DIFFUSERS_ATTENTION_BACKEND"] = self.attention
        if self.fuse:
            env["TAXIWAY_DIFFUSERS_FUSE_PROJECTIONS"] = "true"
        if self.compile:
            env.update(
                TAXIWAY_DIFFUSERS_COMPILE="true", TAXIWAY_DIFFUSERS_COMPILE_MODE=self.compile,
                TAXIWAY_DIFFUSERS_COMPILE_SCOPE=self.compile_scope,
            )  # fmt: skip
        return env


# ---- the jobs -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Job:
    name: str
    architecture: str  # "wan" or "flux"
    endpoint: str
    model: str  # the API model the folder is configured for
    ratio: str  # what the API is asked for; the generation happens at width x height
    width: int
    height: int
    steps: int
    guidance: float
    frames: int = 1
    duration: int | None = None  # seconds (videos)

    @property
    def weights(self) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "steps": self.steps,
            "guidance_scale": self.guidance,
            "sizes": [f"{self.width}x{self.height}"],
        }
        if self.duration is not None:
            entry["max_frames"] = self.frames
        return entry


FULL = {
    "wan": Job("wan2.1-t2v-1.3b", "wan", "text_to_video", "gen4.5", "1280:720", 832, 480, 50, 5.0, 81, 5),
    "flux": Job("flux.1-schnell", "flux", "text_to_image", "gen4_image", "1024:1024", 1024, 1024, 4, 0.0),
}
TINY = {
    "wan": Job("wan-tiny", "wan", "text_to_video", "gen4.5", "1280:720", 64, 48, 2, 5.0, 9, 2),
    "flux": Job("flux-tiny", "flux", "text_to_image", "gen4_image", "1024:1024", 64, 64, 2, 0.0),
}


# ---- FLOP bound ---------------------------------------------------------------------------------------


def wan_tokens(width: int, height: int, frames: int) -> int:
    """Latent tokens: the VAE strides 4 in time (plus the first frame) and 8 in space, patches are 2x2."""
    return ((frames - 1) // 4 + 1) * (height // 16) * (width // 16)


def wan_flops(params: int, tokens: int, inner: int, layers: int, steps: int, cfg: bool) -> float:
    """Linear layers 2*P*T, self-attention 4*T^2*D and cross-attention 4*T*512*D per layer, per forward."""
    forward = (
        2 * params * tokens + 4 * tokens * tokens * inner * layers + 4 * tokens * TEXT_TOKENS * inner * layers
    )
    return float(forward * (2 if cfg else 1) * steps)


def flux_flops(params: int, width: int, height: int, inner: int, blocks: int, steps: int) -> float:
    """Image tokens (16 px each: VAE stride 8, 2x2 packing) plus 512 text tokens, joint attention."""
    tokens = (width // 16) * (height // 16) + TEXT_TOKENS
    return float((2 * params * tokens + 4 * tokens * tokens * inner * blocks) * steps)


# ---- building the folders -----------------------------------------------------------------------------


@contextlib.contextmanager
def default_dtype(dtype: Any) -> Iterator[None]:
    """Build modules directly in bf16: a 12B model in float32 first would need 48 GB."""
    import torch

    previous = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        yield
    finally:
        torch.set_default_dtype(previous)


def word_tokenizer(max_length: int) -> Any:
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    words = ["<pad>", "</s>", "<unk>", "<s>", "a", "the", "city", "at", "night", "cat", "sea"]
    model = Tokenizer(models.WordLevel({word: i for i, word in enumerate(words)}, unk_token="<unk>"))
    model.pre_tokenizer = pre_tokenizers.Whitespace()
    return PreTrainedTokenizerFast(
        tokenizer_object=model, pad_token="<pad>", eos_token="</s>", unk_token="<unk>", bos_token="<s>",
        model_max_length=max_length,
    )  # fmt: skip


def tiny_t5(width: int, umt5: bool) -> Any:
    """One layer of a few heads, but `width` wide: the denoiser sees text states of the released size."""
    from transformers import T5Config, T5EncoderModel, UMT5Config, UMT5EncoderModel

    config = {
        "vocab_size": 16, "d_model": width, "d_kv": 32, "d_ff": 64, "num_layers": 1, "num_heads": 2,
        "relative_attention_num_buckets": 8, "decoder_start_token_id": 0, "pad_token_id": 0,
        "eos_token_id": 1,
    }  # fmt: skip
    return UMT5EncoderModel(UMT5Config(**config)) if umt5 else T5EncoderModel(T5Config(**config))


@dataclass
class Built:
    folder: Path
    params: int  # of the denoiser
    inner: int  # attention width
    layers: int


def build_wan(folder: Path, tiny: bool, device: str) -> Built:
    import torch
    from diffusers import AutoencoderKLWan, UniPCMultistepScheduler, WanPipeline, WanTransformer3DModel

    text_dim = 32 if tiny else 4096
    heads, head_dim, layers = (2, 12, 1) if tiny else (12, 128, 30)
    torch.manual_seed(0)
    with default_dtype(torch.float32 if tiny else torch.bfloat16), torch.device(device):
        transformer = WanTransformer3DModel(
            patch_size=(1, 2, 2), num_attention_heads=heads, attention_head_dim=head_dim, in_channels=16,
            out_channels=16, text_dim=text_dim, freq_dim=256, ffn_dim=32 if tiny else 8960, num_layers=layers,
            cross_attn_norm=True, qk_norm="rms_norm_across_heads", eps=1e-6, rope_max_seq_len=1024,
        )  # fmt: skip
    with torch.device(device):  # Wan's VAE runs in float32, as its model cards load it
        vae = (
            AutoencoderKLWan(base_dim=3, z_dim=16, dim_mult=[1, 1, 1, 1], num_res_blocks=1)
            if tiny
            else AutoencoderKLWan()
        )
    scheduler = UniPCMultistepScheduler(
        prediction_type="flow_prediction", use_flow_sigmas=True, num_train_timesteps=1000, flow_shift=3.0
    )
    pipe = WanPipeline(
        tokenizer=word_tokenizer(TEXT_TOKENS), text_encoder=tiny_t5(text_dim, umt5=True),
        transformer=transformer, vae=vae, scheduler=scheduler,
    )  # fmt: skip
    pipe.save_pretrained(str(folder))
    params = sum(p.numel() for p in transformer.parameters())
    return Built(folder, params, heads * head_dim, layers)


def build_flux(folder: Path, tiny: bool, device: str) -> Built:
    import torch
    from diffusers import AutoencoderKL, FlowMatchEulerDiscreteScheduler, FluxPipeline, FluxTransformer2DModel
    from transformers import CLIPTextConfig, CLIPTextModel

    heads, head_dim, double, single = (2, 16, 1, 1) if tiny else (24, 128, 19, 38)
    joint, pooled = (32, 32) if tiny else (4096, 768)
    torch.manual_seed(0)
    with default_dtype(torch.float32 if tiny else torch.bfloat16), torch.device(device):
        transformer = FluxTransformer2DModel(
            patch_size=1, in_channels=64, num_layers=double, num_single_layers=single,
            attention_head_dim=head_dim, num_attention_heads=heads, joint_attention_dim=joint,
            pooled_projection_dim=pooled,
            guidance_embeds=False, axes_dims_rope=[4, 4, 8] if tiny else [16, 56, 56],
        )  # fmt: skip
        vae = AutoencoderKL(
            in_channels=3, out_channels=3, latent_channels=16, down_block_types=["DownEncoderBlock2D"] * 4,
            up_block_types=["UpDecoderBlock2D"] * 4,
            block_out_channels=[16] * 4 if tiny else [128, 256, 512, 512],
            layers_per_block=1 if tiny else 2, norm_num_groups=16 if tiny else 32, scaling_factor=0.3611,
            shift_factor=0.1159, use_quant_conv=False, use_post_quant_conv=False,
        )  # fmt: skip
    clip = CLIPTextModel(
        CLIPTextConfig(
            hidden_size=pooled, intermediate_size=64, num_attention_heads=2, num_hidden_layers=1,
            vocab_size=16,
            bos_token_id=3, eos_token_id=1, pad_token_id=0, projection_dim=pooled, max_position_embeddings=77,
        )
    )  # fmt: skip
    pipe = FluxPipeline(
        scheduler=FlowMatchEulerDiscreteScheduler(shift=1.0, use_dynamic_shifting=False), vae=vae,
        text_encoder=clip, tokenizer=word_tokenizer(77), text_encoder_2=tiny_t5(joint, umt5=False),
        tokenizer_2=word_tokenizer(TEXT_TOKENS), transformer=transformer,
    )  # fmt: skip
    pipe.save_pretrained(str(folder))
    params = sum(p.numel() for p in transformer.parameters())
    return Built(folder, params, heads * head_dim, double + single)


BUILDERS: dict[str, Callable[[Path, bool, str], Built]] = {"wan": build_wan, "flux": build_flux}


# ---- stock diffusers ----------------------------------------------------------------------------------


def synchronize(device: str) -> None:
    import torch

    if device == "cuda":
        torch.cuda.synchronize()


def stock_seconds(
    job: Job, folder: Path, device: str, repeats: int, optimizations: Optimizations | None = None
) -> list[float]:
    """The job through the stock pipeline, loaded the usual way, after one warm-up call (at full size
    when compiled, so that timing excludes compilation); with `optimizations` applied when given."""
    import diffusers
    import torch

    dtype: Any = torch.bfloat16 if device == "cuda" else torch.float32
    if job.architecture == "wan":
        dtype = {"default": dtype, "vae": torch.float32}
    pipe = diffusers.DiffusionPipeline.from_pretrained(str(folder), local_files_only=True, dtype=dtype).to(
        device
    )
    pipe.set_progress_bar_config(disable=True)
    if optimizations is not None:
        accelerations = optimizations.accelerations()
        accelerations.apply(pipe)
        if accelerations.compile:
            accelerations.compile_modules(pipe)
    call: dict[str, Any] = {
        "prompt": "a city at night",
        "num_inference_steps": job.steps,
        "guidance_scale": job.guidance,
    }
    if job.architecture == "wan":
        call["output_type"] = "np"
        warm = {**call, "height": job.height, "width": job.width, "num_frames": 5, "num_inference_steps": 2}
        call.update(height=job.height, width=job.width, num_frames=job.frames)
    else:
        call["output_type"] = "pil"
        warm = {**call, "height": job.height // 2, "width": job.width // 2, "num_inference_steps": 2}
        call.update(height=job.height, width=job.width)
    if optimizations is not None and optimizations.compile:
        warm = {**call, "num_inference_steps": 2}
    pipe(**warm, generator=torch.Generator(device).manual_seed(0))
    times = []
    for index in range(repeats):
        synchronize(device)
        start = time.perf_counter()
        pipe(**call, generator=torch.Generator(device).manual_seed(index))
        synchronize(device)
        times.append(time.perf_counter() - start)
    del pipe
    gc.collect()
    if device == "cuda":
        torch.cuda.empty_cache()
    return times


# ---- through taxiway's API ----------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def serve(workdir: Path, settings: dict[str, str], startup_seconds: float = 120) -> Iterator[tuple[str, str]]:
    """`taxiway serve` with its data in `workdir` and `settings` added to a clean environment; yields
    (base URL, API key) once it answers, and stops it afterwards. A restart in the same `workdir` (same
    data) keeps the key its organization was made with."""
    import httpx

    from taxiway.accounts.keys import generate_key

    key, port = os.environ.get("BENCH_KEY") or generate_key(), free_port()
    os.environ["BENCH_KEY"] = key
    env = {name: value for name, value in os.environ.items() if not name.startswith("TAXIWAY_")}
    env.update(
        TAXIWAY_DATA_DIR=str(workdir / "data"), TAXIWAY_PORT=str(port), TAXIWAY_BOOTSTRAP_API_KEY=key,
        TAXIWAY_BOOTSTRAP_CREDITS="1000000", TAXIWAY_LOG_LEVEL="warning", HF_HUB_OFFLINE="1", **settings,
    )  # fmt: skip
    log_path = workdir / "server.log"
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "taxiway", "serve"], env=env, stdout=log, stderr=log, cwd=REPO
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + startup_seconds
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"taxiway exited early:\n{log_path.read_text(errors='replace')}")
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError("taxiway did not start")
            time.sleep(0.1)
        yield base, key
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()


@contextlib.contextmanager
def taxiway_server(
    workdir: Path, jobs: list[Job], folders: dict[str, Path], device: str, optimizations: Optimizations
) -> Iterator[tuple[str, str]]:
    """A taxiway server with the folders configured for the jobs' models; yields (base URL, API key)."""
    engines = {job.model: "diffusers-video" if job.duration else "diffusers-image" for job in jobs}
    weights = {job.model: {"path": str(folders[job.architecture]), **job.weights} for job in jobs}
    settings = {
        "TAXIWAY_ENGINES": json.dumps(engines),
        "TAXIWAY_WEIGHTS": json.dumps(weights),
        "TAXIWAY_DIFFUSERS_DEVICE": device,
        **optimizations.environment(),
    }
    with serve(workdir, settings) as server:
        yield server


def api_seconds(base: str, key: str, job: Job, seed: int) -> float:
    """Submit with the SDK, poll every 20 ms (the SDK's own waiter sleeps seconds), download the output."""
    import httpx
    from runwayml import RunwayML

    client = RunwayML(base_url=base, api_key=key, max_retries=0)
    start = time.perf_counter()
    if job.duration is not None:
        created = client.text_to_video.create(
            model=job.model, prompt_text="a city at night", ratio=job.ratio, duration=job.duration, seed=seed
        )
    else:
        created = client.text_to_image.create(
            model=job.model, prompt_text="a city at night", ratio=job.ratio, seed=seed
        )
    while (task := client.tasks.retrieve(created.id)).status not in ("SUCCEEDED", "FAILED", "CANCELLED"):
        time.sleep(0.02)
    elapsed = time.perf_counter() - start
    if task.status != "SUCCEEDED":
        raise RuntimeError(
            f"{job.name}: task {created.id} {task.status}: {task.failure} ({task.failure_code})"
        )
    output = httpx.get(task.output[0], timeout=60)
    output.raise_for_status()
    if not output.content:
        raise RuntimeError(f"{job.name}: empty output")
    return elapsed


# ---- the run ------------------------------------------------------------------------------------------


@dataclass
class Result:
    name: str
    params: int
    size: str
    steps: int
    stock_s: list[float] = field(default_factory=list)
    raw_s: list[float] = field(default_factory=list)  # the pipeline called directly, optimized alike
    taxiway_first_s: float = 0.0  # includes loading the pipeline unless warmed up
    taxiway_s: list[float] = field(default_factory=list)
    concurrent_per_item_s: float | None = None  # FLUX: 4 requests at once, seconds per image
    restart_first_s: float | None = None  # compiled: the first task after a restart
    flop: float = 0.0

    @property
    def baseline_s(self) -> float:
        return statistics.median(self.raw_s or self.stock_s)

    @property
    def overhead(self) -> float:
        return statistics.median(self.taxiway_s) / self.baseline_s

    @property
    def speedup(self) -> float:
        return statistics.median(self.stock_s) / self.baseline_s

    @property
    def bound_s(self) -> float:
        return self.flop / PEAK_FLOPS


def flop_count(job: Job, built: Built) -> float:
    if job.architecture == "wan":
        tokens = wan_tokens(job.width, job.height, job.frames)
        return wan_flops(built.params, tokens, built.inner, built.layers, job.steps, cfg=job.guidance > 1)
    return flux_flops(built.params, job.width, job.height, built.inner, built.layers, job.steps)


def wait_warm(data_dir: Path, folders: int, timeout: float = 3600) -> float:
    """Seconds until the server's state file shows every folder resident and warm."""
    start = time.perf_counter()
    state_file = data_dir / "diffusers-state.json"
    while time.perf_counter() - start < timeout:
        try:
            resident = json.loads(state_file.read_text())["resident"]
        except (OSError, ValueError, KeyError):
            resident = {}
        if len(resident) >= folders and all(e["warm"] and not e["warming"] for e in resident.values()):
            return time.perf_counter() - start
        time.sleep(0.2)
    raise TimeoutError("the warm-up did not finish")


def concurrent_per_item(base: str, key: str, job: Job) -> float:
    start = time.perf_counter()
    with ThreadPoolExecutor(CONCURRENT) as pool:
        list(pool.map(lambda seed: api_seconds(base, key, job, seed), range(CONCURRENT)))
    return (time.perf_counter() - start) / CONCURRENT


def run(models: list[str], tiny: bool, repeats: int, optimizations: Optimizations) -> list[Result]:
    import torch

    device = "cpu" if tiny else "cuda"
    presets = TINY if tiny else FULL
    jobs = [presets[name] for name in models]
    results = []
    with tempfile.TemporaryDirectory(prefix="taxiway-gpu-bench-") as directory:
        workdir = Path(directory)
        built = {
            job.architecture: BUILDERS[job.architecture](workdir / job.architecture, tiny, device)
            for job in jobs
        }
        gc.collect()  # the builders' copies are on disk now
        if device == "cuda":
            torch.cuda.empty_cache()
        for job in jobs:
            result = Result(job.name, built[job.architecture].params, f"{job.width}x{job.height}", job.steps)
            if job.duration:
                result.size += f"x{job.frames}"
            result.flop = flop_count(job, built[job.architecture])
            folder = built[job.architecture].folder
            result.stock_s = stock_seconds(job, folder, device, repeats)
            if optimizations.any:
                result.raw_s = stock_seconds(job, folder, device, repeats, optimizations)
            results.append(result)
        folders = {name: item.folder for name, item in built.items()}
        warmup_s = None
        with taxiway_server(workdir, jobs, folders, device, optimizations) as (base, key):
            if optimizations.warmup:
                warmup_s = wait_warm(workdir / "data", len(folders))
            for job, result in zip(jobs, results, strict=True):
                result.taxiway_first_s = api_seconds(base, key, job, seed=1000)
                result.taxiway_s = [api_seconds(base, key, job, seed=index) for index in range(repeats)]
                if job.duration is None:
                    result.concurrent_per_item_s = concurrent_per_item(base, key, job)
        if optimizations.compile:
            with taxiway_server(workdir, jobs, folders, device, replace(optimizations, warmup=False)) as (
                base,
                key,
            ):
                for job, result in zip(jobs, results, strict=True):
                    result.restart_first_s = api_seconds(base, key, job, seed=2000)
    if warmup_s is not None:
        print(f"start-up warm-up: {warmup_s:.1f} s")
    return results


def report(results: list[Result], device: str) -> None:
    print(f"device: {device}")
    header = f"{'model':<18}{'size':>14}{'steps':>6}{'stock s':>9}{'raw s':>8}{'speedup':>8}{'taxiway s':>10}"
    print(header + f"{'overhead':>9}{'first s':>9}{'4 at once':>10}{'restart':>9}{'PFLOP':>7}{'bound s':>8}")
    for r in results:
        concurrent = f"{r.concurrent_per_item_s:.3f}" if r.concurrent_per_item_s is not None else "-"
        restart = f"{r.restart_first_s:.2f}" if r.restart_first_s is not None else "-"
        print(
            f"{r.name:<18}{r.size:>14}{r.steps:>6}{statistics.median(r.stock_s):>9.2f}{r.baseline_s:>8.2f}"
            f"{r.speedup:>8.2f}{statistics.median(r.taxiway_s):>10.2f}{r.overhead:>9.3f}"
            f"{r.taxiway_first_s:>9.2f}{concurrent:>10}{restart:>9}{r.flop / 1e15:>7.2f}{r.bound_s:>8.3f}"
        )


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", choices=("wan", "flux", "all"), default="all")
    parser.add_argument(
        "--repeats", type=int, default=1, help="timed runs each for stock and taxiway (median)"
    )
    parser.add_argument(
        "--tiny", action="store_true", help="tiny random weights on CPU: checks the whole flow"
    )
    parser.add_argument("--json", action="store_true", help="also print one RESULT line of JSON")
    parser.add_argument("--attention", help="diffusers attention backend, e.g. _native_cudnn")
    parser.add_argument("--fuse", action="store_true", help="fuse attention QKV projections")
    parser.add_argument(
        "--compile",
        choices=("default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs"),
        help="torch.compile the denoiser and VAE decoder in this mode",
    )
    parser.add_argument("--compile-scope", choices=("full", "blocks"), default="full")
    parser.add_argument("--warmup", action="store_true", help="the server warms its models up at start")
    args = parser.parse_args(argv)
    if args.repeats < 1:
        parser.error("--repeats must be at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        import diffusers
        import torch
    except ImportError:
        print("bench/gpu_generation.py needs torch and diffusers: install taxiway[gpu]", file=sys.stderr)
        return 2
    if not args.tiny and not torch.cuda.is_available():
        print(
            "bench/gpu_generation.py measures GPU generation and needs CUDA, which torch does not see here;"
            " --tiny runs the same flow on CPU with tiny weights",
            file=sys.stderr,
        )
        return 2
    models = ["wan", "flux"] if args.model == "all" else [args.model]
    device = "cpu" if args.tiny else torch.cuda.get_device_name()
    optimizations = Optimizations(
        attention=args.attention, fuse=args.fuse, compile=args.compile, compile_scope=args.compile_scope,
        warmup=args.warmup,
    )  # fmt: skip
    results = run(models, args.tiny, args.repeats, optimizations)
    report(results, device)
    if args.json:
        document = {
            "device": device, "torch": torch.__version__, "diffusers": diffusers.__version__,
            "optimizations": asdict(optimizations),
            "results": [
                {**asdict(r), "overhead": r.overhead, "speedup": r.speedup, "bound_s": r.bound_s}
                for r in results
            ],
        }  # fmt: skip
        print("RESULT " + json.dumps(document))
    return 0


if __name__ == "__main__":
    sys.exit(main())
