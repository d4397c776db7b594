"""`tinynas dashboard`: optuna-dashboard on a study's storage, stopped cleanly on Ctrl-C/SIGTERM."""

from __future__ import annotations

import ipaddress
import signal
import socket
from wsgiref.simple_server import WSGIRequestHandler, make_server

import optuna
from optuna_dashboard import wsgi

from search.errors import TinynasError


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


def is_loopback(host: str) -> bool:
    """Only this machine can reach the address (127.0.0.0/8, ::1, localhost)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_port(host: str, port: int) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise TinynasError(f"cannot listen on {host}:{port} ({exc.strerror}); choose another --port") from None


def serve(storage: optuna.storages.BaseStorage, host: str, port: int, on_ready) -> None:
    """Blocks until interrupted; on_ready(url) is told where the dashboard listens."""
    check_port(host, port)
    server = make_server(host, port, wsgi(storage), handler_class=_QuietHandler)

    def stop(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    # Set both explicitly: a process started in the background inherits SIGINT as ignored.
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    on_ready(f"http://{host}:{server.server_port}")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
