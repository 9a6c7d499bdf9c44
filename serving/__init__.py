"""granian, set up once for the site (`python -m serving`) and the verifier (`python -m verifier`).

Why granian: its Rust event loop reads every connection, so a client that sends half a request
and stops, or connects and sends nothing, holds no thread of the app (four such clients took all
four threads of a gunicorn gthread worker, and a sync worker is taken by one); it keeps
connections alive, where gunicorn's sync worker opens one per request; and it measured fastest
(README "Serving"). The app runs on `threads` blocking threads per worker process.

Standard library and granian only: the verifier has no Django.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable
from pathlib import Path

from granian.constants import Interfaces
from granian.server import Server

# Seconds a worker may take to finish its requests after SIGTERM (or Ctrl-C) before it is
# killed: a request in flight is answered, a stuck one does not hold the stop up for long.
STOP_TIMEOUT = 10


def serve(load: Callable[..., Callable], *, name: str, port: int, host: str = "127.0.0.1", workers: int = 1,
          threads: int = 4, access_log: bool = True, tls: tuple[Path, Path] | None = None) -> None:  # fmt: skip
    """Serve the WSGI app that `load()` returns, in `workers` processes forked from this one.

    Fork, not spawn: each worker gets what this process loaded (the app, a key set) without
    pickling it, and `load` runs in the worker, where threads a worker needs can start (a fork
    keeps no thread of its parent). A worker that dies is started again; a second death within
    seconds stops the server (exit 1), so the process manager sees it. `tls` is (certificate,
    key) in PEM files.
    """
    multiprocessing.set_start_method("fork", force=True)
    certificate, key = tls or (None, None)
    server = Server(name, address=host, port=port, interface=Interfaces.WSGI, workers=workers,
                    blocking_threads=threads, websockets=False, log_access=access_log,
                    workers_kill_timeout=STOP_TIMEOUT, respawn_failed_workers=True,
                    ssl_cert=certificate, ssl_key=key)  # fmt: skip
    server.serve(target_loader=load, wrap_loader=False)
