"""`python -m serving authdemo.wsgi --bind 127.0.0.1:8000 --workers 2 --threads 4 --access-log`
(`make serve`, the cluster's instances, harness.stack.Server).

The app is imported here, before the port is bound: authdemo.wsgi's start-up guard
(authdemo.startup) stops a bad configuration with one line and a non-zero exit while nothing
listens yet, and a restarted instance refuses connections while it loads (a proxy moves on)
instead of queueing them unanswered. The workers are forked from this process with the app
loaded.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path

from serving import serve


def load_app(target: str):
    """`module` or `module:attribute` (default `application`), as gunicorn names an app."""
    module, _, attribute = target.partition(":")
    return getattr(importlib.import_module(module), attribute or "application")


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m serving", description=__doc__.split("\n\n")[0])
    parser.add_argument("app", help="the WSGI app, module:attribute (attribute defaults to `application`)")
    parser.add_argument("--bind", default="127.0.0.1:8000", help="host:port to listen on")
    parser.add_argument("--workers", type=int, default=1, help="worker processes")
    parser.add_argument("--threads", type=int, default=4, help="threads running the app, per worker")
    parser.add_argument("--access-log", action="store_true", help="one line per request on stdout")
    parser.add_argument("--certfile", type=Path, help="serve HTTPS with this PEM certificate (and --keyfile)")
    parser.add_argument("--keyfile", type=Path)
    args = parser.parse_args(argv)
    host, _, port = args.bind.rpartition(":")
    app = load_app(args.app)
    if "django.db" in sys.modules:  # no connection opened by the checks is shared by forked workers
        from django.db import connections

        connections.close_all()
    tls = (args.certfile, args.keyfile) if args.certfile else None
    serve(lambda *_: app, name=args.app, host=host, port=int(port), workers=args.workers, threads=args.threads,
          access_log=args.access_log, tls=tls)  # fmt: skip


if __name__ == "__main__":
    main(sys.argv[1:])
