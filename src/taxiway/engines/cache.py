"""Where engines keep files they derive from packaged models (a joined Whisper model, an assembled ONNX).

One directory per machine rather than per data dir would be nicer, but a data dir is the one place an
operator has said taxiway may write. `TAXIWAY_CACHE_DIR` overrides it, e.g. so test servers share one.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

_root: Path | None = None


def configure(data_dir: Path) -> None:
    """Called by the app at start-up; engines running elsewhere (benchmarks, tests) use the env or default."""
    global _root
    _root = data_dir / "cache"


def cache_dir(name: str) -> Path:
    override = os.environ.get("TAXIWAY_CACHE_DIR")
    if override:
        root = Path(override)
    else:
        root = _root or Path(os.environ.get("TAXIWAY_DATA_DIR", ".taxiway")) / "cache"
    path = root / name
    path.mkdir(parents=True, exist_ok=True)
    return path


def build_once(target: Path, build: Callable[[Path], None]) -> Path:
    """`target` (a file or directory) built by `build(temporary path)` and renamed into place atomically,
    so concurrent processes never see half of it; whoever renames first wins, the others' copies go."""
    if target.exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    built = scratch / target.name
    try:
        build(built)
        try:
            os.rename(built, target)
        except OSError:
            if not target.exists():
                raise
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return target
