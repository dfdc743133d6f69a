"""The `taxiway` command as `make run` installs it: without the gpu extra and the dev tools.

`sys.modules[name] = None` makes `import name` fail as if the package were not installed, so a server
started this way proves that serving never needs them.
"""

from __future__ import annotations

import sys

NOT_INSTALLED = (
    "torch", "diffusers", "transformers", "accelerate",  # gpu
    "ray", "obstore", "asyncpg",  # cluster, postgres
    "pytest", "runwayml", "hypothesis", "playwright",  # dev
)  # fmt: skip

if __name__ == "__main__":
    for name in NOT_INSTALLED:
        sys.modules[name] = None  # type: ignore[assignment]
    from taxiway.cli import app

    app(prog_name="taxiway")
