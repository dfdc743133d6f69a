"""Where engines keep files they derive from packaged models (a joined Whisper model, an assembled ONNX).

The root comes from the settings (`cache_dir`, by default `<data-dir>/cache`: a data dir is the one place
an operator has said taxiway may write); engines are handed it when they are made and pass it down.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path


def cache_dir(root: Path, name: str) -> Path:
    """`root/name`, created if needed."""
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
