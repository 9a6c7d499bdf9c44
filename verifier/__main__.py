"""`python -m verifier` (`make verifier`): check the configuration, fetch the key set, serve.

Anything wrong at start-up (a bad variable, an unreachable key-set URL, a body that is not
a key set) stops it with one line.
"""

from __future__ import annotations

import logging
import sys

from serving import serve as serve_wsgi
from verifier.app import create_app
from verifier.config import Config, ConfigError
from verifier.keyset import FetchError, KeySet
from verifier.revocations import RevocationFeed

# Threads that run the WSGI app. Connections are read by granian's event loop, not by these
# threads, so slow or idle clients hold none of them (a threaded server's four threads were
# taken by four clients sending their headers slowly, and every other request waited).
APP_THREADS = 4


def serve(app, feed: RevocationFeed, port: int) -> None:
    """Serve `app` on 127.0.0.1:`port` with granian (serving.serve, as the site is served): one
    worker process (the key set and the feed are per process), forked from this one with the key
    set fetched here, which starts the feed's poller."""

    def load(*_):
        feed.start()  # in the worker: a fork keeps no thread of its parent
        return app

    serve_wsgi(load, name="verifier", port=port, workers=1, threads=APP_THREADS, access_log=True)


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    try:
        config = Config.from_env()
        keyset = KeySet(url=config.jwks_url, algorithms=config.algorithms, cooldown=config.cooldown,
                        timeout=config.timeout, max_stale=config.jwks_max_stale)  # fmt: skip
        keyset.refresh()
    except (ConfigError, FetchError) as exc:
        sys.exit(f"verifier: {exc}")
    feed = RevocationFeed(url=config.revocation_url, keyset=keyset, issuer=config.issuer, poll=config.poll,
                          timeout=config.timeout, max_stale=config.feed_max_stale)  # fmt: skip
    serve(create_app(config, keyset, feed), feed, config.port)


if __name__ == "__main__":
    main()
