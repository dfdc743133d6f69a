"""A throwaway PostgreSQL cluster for tests: initdb in a temp dir, started on a free port, removed after.

PostgreSQL refuses to run as root, so when the tests run as root (as in CI) the server binaries run as
the `postgres` system user, on a temp dir handed over to it.
"""

from __future__ import annotations

import asyncio
import contextlib
import glob
import os
import pwd
import re
import shlex
import shutil
import signal
import subprocess
import tempfile
import threading
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import pytest

from support.server import free_port

T = TypeVar("T")

SUPERUSER = "postgres"
SYSTEM_USER = "postgres"
SERVER_OPTIONS = {
    "listen_addresses": "127.0.0.1",
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "max_connections": "200",
}


def find_bindir() -> Path | None:
    """The directory holding initdb, pg_ctl and postgres, or None when the server isn't installed."""
    candidates: list[Path] = []
    if env := os.environ.get("TAXIWAY_PG_BINDIR"):
        candidates.append(Path(env))
    if pg_config := shutil.which("pg_config"):
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, timeout=10)
            if out.returncode == 0 and out.stdout.strip():
                candidates.append(Path(out.stdout.strip()))

    def version(path: str) -> tuple[int, ...]:
        return tuple(int(n) for n in re.findall(r"\d+", path)) or (0,)

    candidates += [Path(p) for p in sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=version, reverse=True)]
    candidates += [Path(p) for p in sorted(glob.glob("/usr/pgsql-*/bin"), key=version, reverse=True)]
    if initdb := shutil.which("initdb"):
        candidates.append(Path(initdb).resolve().parent)
    for bindir in candidates:
        if all(os.access(bindir / tool, os.X_OK) for tool in ("initdb", "pg_ctl", "postgres")):
            return bindir
    return None


def run_in_thread(make: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """`asyncio.run` on a thread of its own, so it neither needs nor disturbs the caller's event loop."""
    result: list[T] = []
    error: list[BaseException] = []

    def target() -> None:
        try:
            result.append(asyncio.run(make()))
        except BaseException as exc:
            error.append(exc)

    thread = threading.Thread(target=target, name="postgres-helper")
    thread.start()
    thread.join()
    if error:
        raise error[0]
    return result[0]


@dataclass
class PostgresCluster:
    bindir: Path
    root: Path
    port: int = field(default_factory=free_port)
    run_as: str | None = None

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def log_file(self) -> Path:
        return self.root / "postgres.log"

    def url(self, database: str = "postgres", driver: str = "postgresql+asyncpg") -> str:
        return f"{driver}://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    def dsn(self, database: str = "postgres") -> str:
        """A plain libpq-style DSN, for asyncpg directly."""
        return self.url(database, driver="postgresql")

    def _command(self, tool: str, *args: str) -> list[str]:
        argv = [str(self.bindir / tool), *args]
        if self.run_as is None:
            return argv
        if runuser := shutil.which("runuser"):
            return [runuser, "-u", self.run_as, "--", *argv]
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            raise RuntimeError("running as root, but neither runuser nor setpriv is available")
        return [setpriv, f"--reuid={self.run_as}", f"--regid={self.run_as}", "--init-groups", *argv]

    def _run(self, tool: str, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        env.update(LC_ALL="C", LANG="C")
        result = subprocess.run(
            self._command(tool, *args),
            cwd=self.root,  # readable by the run-as user, unlike root's own cwd perhaps
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if result.returncode != 0:
            raise RuntimeError(
                f"{tool} {' '.join(args)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
                f"\n{self.log()}"
            )
        return result

    def log(self) -> str:
        try:
            return self.log_file.read_text(errors="replace")
        except OSError:
            return ""

    def init(self) -> None:
        self._run(
            "initdb",
            "-D",
            str(self.data_dir),
            "-U",
            SUPERUSER,
            "--auth=trust",
            "--encoding=UTF8",
            "--locale=C",
            "--no-sync",
        )

    def start(self, attempts: int = 3) -> None:
        for attempt in range(attempts):
            options = {**SERVER_OPTIONS, "port": str(self.port), "unix_socket_directories": str(self.root)}
            # pg_ctl hands these to postgres through a shell.
            flags = " ".join(f"-c {key}={shlex.quote(value)}" for key, value in options.items())
            try:
                self._run(
                    "pg_ctl",
                    "start",
                    "-D",
                    str(self.data_dir),
                    "-l",
                    str(self.log_file),
                    "-o",
                    flags,
                    "-w",
                    "-t",
                    "60",
                    timeout=90,
                )
                return
            except RuntimeError:
                self.stop()
                if attempt == attempts - 1:
                    raise
                self.port = free_port()  # most likely lost the port to a race; try another

    def stop(self) -> None:
        """Stop at once; no clean shutdown is needed for a cluster that is about to be deleted."""
        if not (self.data_dir / "postmaster.pid").exists():
            return
        with contextlib.suppress(RuntimeError, subprocess.SubprocessError):
            self._run("pg_ctl", "stop", "-D", str(self.data_dir), "-m", "immediate", "-w", "-t", "30")
            return
        # pg_ctl failed: kill the postmaster by the pid it recorded.
        with contextlib.suppress(OSError, ValueError, IndexError):
            pid = int((self.data_dir / "postmaster.pid").read_text().splitlines()[0])
            os.kill(pid, signal.SIGKILL)

    def create_database(self, name: str) -> str:
        """Create an empty database; returns its SQLAlchemy asyncpg URL."""
        if not re.fullmatch(r"[a-z_][a-z0-9_]*", name):
            raise ValueError(f"unsafe database name: {name!r}")

        async def create() -> None:
            import asyncpg

            connection = await asyncpg.connect(self.dsn())
            try:
                await connection.execute(f"CREATE DATABASE {name}")
            finally:
                await connection.close()

        run_in_thread(create)
        return self.url(name)


def _system_user(name: str) -> pwd.struct_passwd | None:
    try:
        return pwd.getpwnam(name)
    except KeyError:
        return None


class PostgresUnavailable(RuntimeError):
    """No PostgreSQL server can run here; the message says what is missing."""


def _placement() -> tuple[Path, pwd.struct_passwd | None]:
    """The server binaries' directory, and the system user to run them as when we are root."""
    bindir = find_bindir()
    if bindir is None:
        raise PostgresUnavailable(
            "PostgreSQL server binaries (initdb, pg_ctl, postgres) not found: install the `postgresql`"
            " package, or point TAXIWAY_PG_BINDIR at them"
        )
    if os.geteuid() != 0:
        return bindir, None
    owner = _system_user(SYSTEM_USER)
    if owner is None:
        raise PostgresUnavailable(
            f"running as root and there is no `{SYSTEM_USER}` system user to run PostgreSQL as"
        )
    return bindir, owner


@contextlib.contextmanager
def start_cluster(database: str | None = "taxiway") -> Iterator[PostgresCluster]:
    """Start a fresh cluster (with `database` created, if given); always stopped and removed after.

    Raises PostgresUnavailable when it cannot run here (benchmarks use this; tests `postgres_cluster`).
    """
    bindir, owner = _placement()
    # Directly under the system temp dir: pytest's own tmp dirs are private to root.
    root = Path(tempfile.mkdtemp(prefix="taxiway-pg-"))
    cluster = PostgresCluster(bindir=bindir, root=root, run_as=owner.pw_name if owner else None)
    try:
        if owner is not None:
            os.chown(root, owner.pw_uid, owner.pw_gid)
        cluster.init()
        cluster.start()
        if database:
            cluster.create_database(database)
        yield cluster
    finally:
        try:
            cluster.stop()
        finally:
            shutil.rmtree(root, ignore_errors=True)


@contextlib.contextmanager
def postgres_cluster(database: str | None = "taxiway") -> Iterator[PostgresCluster]:
    """`start_cluster` for a test, which is skipped when PostgreSQL cannot run here."""
    pytest.importorskip("asyncpg", reason="asyncpg is needed to talk to PostgreSQL")
    try:
        _placement()
    except PostgresUnavailable as exc:
        pytest.skip(str(exc))
    with start_cluster(database) as cluster:
        yield cluster
