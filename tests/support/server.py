"""A real taxiway server in a subprocess on a free port, for tests that speak HTTP to it."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from taxiway.accounts.keys import generate_key

TESTS_DIR = Path(__file__).resolve().parent.parent
# The operator token of the `operator_server` fixture (operator API and console operator view on).
OPERATOR_TOKEN = "operator-token-for-tests"
# Files engines derive from packaged models (joined Whisper weights…), shared by every test server.
ENGINE_CACHE = Path(tempfile.gettempdir()) / f"taxiway-test-engine-cache-{os.getuid()}"
os.environ.setdefault("TAXIWAY_CACHE_DIR", str(ENGINE_CACHE))


# How long a starting server may take to answer; generous, since tests share a loaded machine.
READY_TIMEOUT = float(os.environ.get("TAXIWAY_TEST_READY_TIMEOUT", "300"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    data_dir: Path
    env: dict[str, str] = field(default_factory=dict)
    port: int = field(default_factory=free_port)
    key: str = field(default_factory=generate_key)
    process: subprocess.Popen[bytes] | None = None
    # What runs it: `python <command>`, e.g. ("-m", "support.lean_serve", "serve") for `make run`'s install.
    command: tuple[str, ...] = ("-m", "taxiway", "serve")
    # False: no TAXIWAY_BOOTSTRAP_API_KEY, so a first start generates the key (set `key` from its log).
    bootstrap: bool = True

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def full_env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("TAXIWAY_")}
        env.update(
            TAXIWAY_DATA_DIR=str(self.data_dir),
            TAXIWAY_PORT=str(self.port),
            TAXIWAY_LOG_LEVEL="warning",
            TAXIWAY_CACHE_DIR=os.environ["TAXIWAY_CACHE_DIR"],
            PYTHONPATH=os.pathsep.join(filter(None, [str(TESTS_DIR), env.get("PYTHONPATH")])),
        )
        if self.bootstrap:
            env["TAXIWAY_BOOTSTRAP_API_KEY"] = self.key
        env.update(self.env)
        return env

    def start(self, timeout: float = READY_TIMEOUT) -> Server:
        """Wait for /healthz as long as the process lives: on a busy machine start-up (imports,
        migrations) can take minutes, and a server that exits fails at once with its log."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        log = open(self.data_dir / "server.log", "ab")  # noqa: SIM115 - lives as long as the process
        self.process = subprocess.Popen(
            [sys.executable, *self.command], env=self.full_env(), stdout=log, stderr=log
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited early:\n{self.log()}")
            try:
                if httpx.get(f"{self.base_url}/healthz", timeout=5).status_code == 200:
                    return self
            except httpx.TransportError:
                time.sleep(0.2)
        self.stop(signal.SIGKILL)  # never leave a server behind that no fixture will stop
        raise TimeoutError(f"server did not start:\n{self.log()}")

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def kill(self) -> None:
        """Die as on a crash or power loss: no shutdown code runs."""
        self.stop(signal.SIGKILL)

    def log(self) -> str:
        path = self.data_dir / "server.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def cli(self, *args: str) -> str:
        """Run the `taxiway` CLI against this server's data, as an operator would."""
        return self._python("-m", "taxiway", *args)

    def _python(self, *args: str) -> str:
        result = subprocess.run(
            [sys.executable, *args],
            env=self.full_env(),
            capture_output=True,
            text=True,
            timeout=READY_TIMEOUT,  # a busy machine slows the CLI's start, not its answer
            check=True,
        )
        return result.stdout

    def new_org(self, name: str, *options: str) -> str:
        """`taxiway orgs create NAME OPTIONS` (--credits, --tier), then `keys create` for it: the key.
        Both in one interpreter, since starting the CLI takes seconds on a busy machine."""
        commands = [["orgs", "create", name, *options], ["keys", "create", "--org", name]]
        script = "\n".join(
            [
                "import sys",
                "from taxiway.cli import app",
                f"for args in {commands!r}:",
                "    if app(args, standalone_mode=False):",  # an exit code: the command failed
                "        sys.exit(1)",
            ]
        )
        return self._python("-c", script).strip().splitlines()[-1]
