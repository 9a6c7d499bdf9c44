"""`python -m verifier` (`make verifier`): check the configuration, fetch the key set, serve.

Anything wrong at start-up (a bad variable, an unreachable key-set URL, a body that is not
a key set) stops it with one line.
"""

from __future__ import annotations

import logging
import sys

from gunicorn.app.base import BaseApplication

from verifier.app import create_app
from verifier.config import Config, ConfigError
from verifier.keyset import FetchError, KeySet
from verifier.revocations import RevocationFeed


class Server(BaseApplication):
    """gunicorn with one process (the key set and the feed are per process) and threads."""

    def __init__(self, app, options: dict):
        self.application, self.options = app, options
        super().__init__()

    def load_config(self) -> None:
        for name, value in self.options.items():
            self.cfg.set(name, value)

    def load(self):
        return self.application


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
    options = {
        "bind": f"127.0.0.1:{config.port}", "workers": 1, "worker_class": "gthread", "threads": 4,
        "keepalive": 30, "accesslog": "-", "errorlog": "-",
        "post_worker_init": lambda worker: feed.start(),
    }  # fmt: skip
    Server(create_app(config, keyset, feed), options).run()


if __name__ == "__main__":
    main()
