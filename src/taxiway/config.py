"""Server settings, read from `TAXIWAY_*` environment variables and CLI options."""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping
from functools import cached_property
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, StringConstraints
from pydantic_settings import BaseSettings, SettingsConfigDict

# torch.compile's modes ("reduce-overhead" replays CUDA graphs) and how much of a denoiser is compiled.
CompileMode = Literal["default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs"]
CompileScope = Literal["full", "blocks"]


class WeightsEntry(BaseModel):
    """A weights folder and the per-model sampler settings; unset values keep the pipeline's defaults."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    path: Path
    steps: int | None = Field(default=None, ge=1, le=200)
    guidance_scale: float | None = Field(default=None, ge=0)
    negative_prompt: str | None = None
    # Largest generated area in pixels: the output is resized to the requested ratio afterwards, so a
    # model trained at 480p is not asked for 1080p (and tests stay tiny).
    max_area: int | None = Field(default=None, ge=64)
    # Sizes the model was trained at ("832x480"): each request is made at the one closest in aspect and
    # fitted to its ratio afterwards. Takes precedence over `max_area`.
    sizes: tuple[Annotated[str, StringConstraints(pattern=r"^[1-9][0-9]*x[1-9][0-9]*$")], ...] = ()
    # Most frames one video generation may have; longer durations are re-timed from fewer frames.
    max_frames: int | None = Field(default=None, ge=1)


WeightsConfig = Mapping[str, "Path | WeightsEntry"]

ExecutorKind = Literal["local", "ray"]
ReplicaId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._:@-]{0,199}$")]


class RayPlacement(BaseModel):
    """Where a model's engine runs on a Ray cluster: what each of its actors reserves on a node, how many
    actors serve it and how many tasks each runs at once. Models naming the same `pool` share actors,
    so their weights share one GPU and its residency budget."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    num_cpus: float = Field(default=1.0, ge=0)
    num_gpus: float = Field(default=0.0, ge=0)
    memory_gb: float | None = Field(default=None, gt=0)
    # Custom node resources, e.g. {"A100": 1} for a model that needs that kind of card.
    resources: dict[str, float] = Field(default_factory=dict)
    actors: int = Field(default=1, ge=1, le=1024)
    concurrency: int = Field(default=1, ge=1, le=256)
    pool: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")] | None = None


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TAXIWAY_", extra="ignore")

    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)
    data_dir: Path = Path(".taxiway")
    database_url: str | None = Field(
        default=None, description="SQLAlchemy async URL; defaults to SQLite at <data-dir>/taxiway.db"
    )
    public_url: str | None = Field(
        default=None, description="Base URL that clients reach; output URLs are built on it"
    )
    bootstrap_api_key: SecretStr | None = Field(
        default=None, description="Key to register for the default organization on first start"
    )
    bootstrap_credits: int = Field(default=10_000, ge=0)
    bootstrap_tier: int = Field(default=1, ge=1, le=5)
    operator_token: SecretStr | None = Field(
        default=None,
        description="Bearer token for the operator API and the console's operator view; unset: both off",
    )
    signing_secret: SecretStr | None = Field(
        default=None, description="HMAC secret for output URLs; generated and kept in <data-dir> if unset"
    )
    blob_url: str | None = Field(
        default=None,
        pattern=r"^(s3://[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9](/.*)?|file:///.+|[^:]+)$",
        description="Where outputs, uploads and avatar/voice files live: s3://bucket/prefix (any "
        "S3-compatible store; credentials from the AWS_* variables) or a directory; default <data-dir>/blobs",
    )
    s3_endpoint_url: str | None = Field(
        default=None,
        pattern=r"^https?://[^\s/]+(/\S*)?$",
        description="Endpoint of an S3-compatible store that is not AWS's, e.g. http://seaweedfs:8333",
    )
    output_url_ttl_seconds: int = Field(default=24 * 3600, gt=0)
    workers: int = Field(default_factory=lambda: max(2, os.cpu_count() or 2), ge=1)
    max_task_attempts: int = Field(default=3, ge=1)
    replica_id: ReplicaId | None = Field(
        default=None,
        description="This server's name among replicas on one database (it holds its tasks' leases); "
        "default <hostname>:<port>, so a restarted server takes its own tasks back at once",
    )
    task_lease_seconds: float = Field(
        default=30.0,
        ge=3,
        le=3600,
        description="How long a replica's claim on a running task holds without a heartbeat (sent every "
        "third of it); then any replica takes the task over",
    )
    max_body_bytes: int = Field(default=32 * 1024 * 1024, gt=0)
    # Slow and idle clients (see `api/connections.py`).
    request_header_timeout_seconds: float = Field(
        default=10.0, gt=0, description="Time for a request's line and headers to arrive, from its first byte"
    )
    request_body_timeout_seconds: float = Field(
        default=10.0,
        gt=0,
        description="Longest pause in a request body; also the grace before its rate counts",
    )
    request_body_min_bytes_per_second: float = Field(
        default=8192.0, ge=0, description="Slowest average body rate accepted once the grace has passed"
    )
    keep_alive_timeout_seconds: float = Field(
        default=5.0, gt=0, description="How long an idle keep-alive connection stays open (uvicorn)"
    )
    max_connections: int = Field(
        default=1000, ge=1, description="Open connections past which new ones are closed at once"
    )
    log_level: str = "info"
    log_format: Literal["text", "json"] = Field(
        default="text", description="json: one JSON object per line, with each event's fields as keys"
    )
    access_log: bool = Field(default=True, description="One log line per HTTP request")
    metrics: bool = Field(default=True, description="Serve Prometheus metrics at /metrics")
    metrics_token: SecretStr | None = Field(
        default=None, description="If set, /metrics needs `Authorization: Bearer <token>`"
    )
    audio_warmup: bool = Field(
        default=False,
        description="At start-up, load the offline audio engines' models (built into the cache dir on "
        "first use) in the background, so the first speech task does not pay for it",
    )
    test_mode: bool = Field(
        default=False, description="Let `taxiway clock` move the server's time; for tests, never production"
    )
    allow_private_networks: bool = Field(
        default=False, description="Let asset URLs resolve to private, loopback or link-local addresses"
    )
    upload_sweep_interval_seconds: float = Field(
        default=600.0, gt=0, description="How often uploads whose runway:// URI expired are deleted"
    )
    asset_fetch_timeout_seconds: float = Field(default=30.0, gt=0)
    asset_fetch_min_bytes_per_second: float = Field(default=65536, ge=0)
    asset_host_overrides: dict[str, str] = Field(
        default_factory=dict, description="Fixed DNS answers for asset URLs (name -> IP)"
    )
    asset_ca_bundle: Path | None = Field(
        default=None, description="Extra CA certificates (PEM) for asset URLs"
    )
    workflows_dir: Path | None = Field(
        default=None,
        description="Folder of workflow definitions (*.json), published at start-up (a changed file as a new "
        "version); the server refuses to start while one is invalid",
    )
    cache_dir: Path | None = Field(
        default=None,
        description="Files engines derive from packaged models; <data-dir>/cache if unset",
    )
    engines: dict[str, str] = Field(
        default_factory=dict,
        description="Model id -> engine (built-in name or `module:attribute`), e.g. a GPU engine",
    )
    weights: dict[str, Path | WeightsEntry] = Field(
        default_factory=dict,
        description="Model id (or `endpoint/model`) -> local diffusers folder, or {path, steps, ...}",
    )
    executor: ExecutorKind = Field(
        default="local", description="Where engines run: this process's worker threads, or a Ray cluster"
    )
    ray_address: str | None = Field(
        default=None,
        pattern=r"^(auto|local|[A-Za-z0-9.\-\[\]:]+:[0-9]{1,5})$",
        description="Ray cluster to join with TAXIWAY_EXECUTOR=ray: host:port of its head's GCS (this "
        "machine must be a node of it, e.g. `ray start --address=... --num-cpus=0`), auto, or local to "
        "start a one-machine cluster; unset: a cluster on this machine, else a new one. Not ray:// (Ray "
        "Client cannot stream progress)",
    )
    ray_namespace: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")] = Field(
        default="taxiway",
        description="Ray namespace of the engine actors; the replicas of one deployment share it",
    )
    ray_placement: dict[str, RayPlacement] = Field(
        default_factory=dict,
        description="Model id (or `endpoint/model`, or `*` for every other model) -> what its actors "
        'reserve on the cluster, e.g. {"gen4.5": {"num_gpus": 1}}',
    )
    gpu_memory_budget_gb: float | None = Field(
        default=None, gt=0, description="Weights kept resident on the GPU; default 75% of its memory"
    )
    diffusers_device: str | None = Field(default=None, description="torch device; cuda when available")
    diffusers_batch_window_ms: float = Field(
        default=5.0, ge=0, description="How long an image request waits for others to batch with; 0: never"
    )
    diffusers_max_batch: int = Field(default=4, ge=1)
    diffusers_compile: bool = Field(default=False, description="torch.compile transformer and VAE decoder")
    diffusers_compile_mode: CompileMode = Field(
        default="default", description="torch.compile mode; reduce-overhead replays CUDA graphs"
    )
    diffusers_compile_scope: CompileScope = Field(
        default="full",
        description="full: whole modules; blocks: one transformer block, reused (compiles faster)",
    )
    diffusers_attention_backend: str | None = Field(
        default=None, description="diffusers attention backend, e.g. flash or _native_cudnn"
    )
    diffusers_fuse_projections: bool = Field(
        default=False, description="Fuse attention QKV projections into one GEMM (more weight memory)"
    )
    diffusers_vae_tiling: bool = Field(
        default=False, description="Decode in tiles: bounded memory for long videos"
    )
    diffusers_first_block_cache: float | None = Field(
        default=None,
        gt=0,
        description="Lossy, opt-in: First Block Cache threshold (e.g. 0.05) to skip steps' blocks",
    )
    diffusers_warmup: bool = Field(
        default=False,
        description="At start-up, load each diffusers model and run it at the shapes requests use, so "
        "the first requests pay neither loading nor compilation",
    )
    router_quality_ranking: list[str] = Field(
        default_factory=list,
        description="Model ids, best first, that Model Routers optimizing for quality choose by; empty: the "
        "built-in ranking",
    )
    router_queue_limits: dict[str, Annotated[int, Field(ge=1)]] = Field(
        default_factory=dict,
        description='Model id (or "*" for any) -> its tasks queued or running on this server at which '
        "routers with fallback.onCapacity pass the model over",
    )
    llm_url: str | None = Field(
        default=None, description="OpenAI-compatible base URL (`{url}/chat/completions`) for live avatars"
    )
    llm_api_key: SecretStr | None = Field(default=None, description="Bearer key for `llm_url`, if needed")
    llm_model: str | None = Field(default=None, description="Model name sent to `llm_url`")
    livekit_url: str | None = Field(
        default=None, description="LiveKit server (wss://…) that hosts realtime avatar sessions' rooms"
    )
    livekit_api_key: str | None = Field(default=None, description="LiveKit API key, to mint room tokens")
    livekit_api_secret: SecretStr | None = Field(default=None, description="LiveKit API secret")

    @cached_property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'taxiway.db').resolve()}"

    @property
    def replica(self) -> str:
        return self.replica_id or f"{socket.gethostname()}:{self.port}"

    @property
    def blob_dir(self) -> Path:
        return self.data_dir / "blobs"

    @property
    def engine_cache_dir(self) -> Path:
        return self.cache_dir if self.cache_dir is not None else self.data_dir / "cache"

    @property
    def base_url(self) -> str:
        if self.public_url:
            return self.public_url.rstrip("/")
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::", "") else self.host
        return f"http://{host}:{self.port}"
