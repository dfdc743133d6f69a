"""`taxiway serve`: take the port first, then start the app, and greet the operator once it listens.

The port is bound before the app exists, so a busy port fails before a database, an organization or
a key is created; a first start's key is shown only after the server accepts connections, in a box
with the two lines the official SDKs read.
"""

from __future__ import annotations

import logging
import logging.config
import socket
from collections.abc import Callable
from functools import partial

import uvicorn

from taxiway.config import Settings
from taxiway.greeting import key_banner, listening
from taxiway.observability.logs import logging_config


class PortBusy(OSError):
    pass


def bind(host: str, port: int) -> socket.socket:
    """A socket bound to host:port, as uvicorn would bind it. Raises PortBusy naming the setting."""
    try:
        family, kind, proto, _name, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
    except socket.gaierror as exc:
        raise PortBusy(f"cannot bind {host}:{port}: {exc.strerror} (set --host or TAXIWAY_HOST)") from None
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
    except OSError as exc:
        sock.close()
        raise PortBusy(
            f"cannot listen on {host}:{port}: {exc.strerror}. Another server (another taxiway?) may be "
            "using it: stop it, or choose another port with --port or TAXIWAY_PORT."
        ) from None
    sock.set_inheritable(True)
    return sock


class GreetingServer(uvicorn.Server):
    """uvicorn's server, calling back once its sockets accept connections."""

    def __init__(self, config: uvicorn.Config, on_listening: Callable[[], None]) -> None:
        super().__init__(config)
        self._on_listening = on_listening

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if not self.should_exit:
            self._on_listening()


def greet(settings: Settings, new_keys: list[str]) -> None:
    """Once listening: a first start's key in a box, or how to make one."""
    listening(settings.base_url, key_shown=bool(new_keys))
    if new_keys:
        key_banner(settings, new_keys[0])


def serve(settings: Settings) -> None:
    sock = bind(settings.host, settings.port)  # before anything else: a busy port creates nothing

    from taxiway.api import connections  # the app's imports take seconds: after the port is ours
    from taxiway.app import create_app

    port = sock.getsockname()[1]
    if settings.port == 0:  # the OS chose: output URLs and the banner need the real one
        settings = settings.model_copy(update={"port": port})
    config = logging_config(settings.log_level, settings.log_format)
    logging.config.dictConfig(config)
    new_keys: list[str] = []
    app = create_app(settings, on_new_key=new_keys.append)
    server = GreetingServer(
        uvicorn.Config(
            app,
            host=settings.host,
            port=port,
            log_level=settings.log_level,
            log_config=config,
            access_log=False,  # taxiway's own access log, with durations (TAXIWAY_ACCESS_LOG)
            http=connections.protocol(connections.ConnectionLimits.from_settings(settings)),
            timeout_keep_alive=settings.keep_alive_timeout_seconds,  # type: ignore[arg-type]
        ),
        partial(greet, settings, new_keys),
    )
    server.run(sockets=[sock])
