"""`python -m bench.middleware_cost [path]`: what each middleware adds to one request, in-process.

Builds Django's WSGI handler with the first k entries of MIDDLEWARE, for every k, and times
the same GET through each (production settings, debug off, no network): the difference
between consecutive stacks is the cost of the middleware added. CPU time of this thread, so
that waiting for a busy machine does not count. A prefix that one middleware's guard refuses
(CrossSiteSessionCookieMiddleware needs SessionMiddleware after it) is skipped, and the pair is
reported together on the next line. The stacks are timed in
interleaved rounds and the best of all repeats is kept, so that other work on the machine
shows less; differences of a few microseconds are still within its noise.
"""

from __future__ import annotations

import sys
import time
from io import BytesIO

from bench.in_process import setup_django

REPEATS, CALLS, ROUNDS = 3, 300, 5


def _environ(path: str) -> dict:
    return {
        "REQUEST_METHOD": "GET", "PATH_INFO": path, "QUERY_STRING": "", "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8000", "REMOTE_ADDR": "127.0.0.1", "HTTP_HOST": "127.0.0.1", "wsgi.url_scheme": "http",
        "wsgi.input": BytesIO(b""), "wsgi.errors": sys.stderr, "SERVER_PROTOCOL": "HTTP/1.1",
    }  # fmt: skip


def _time(handler, path: str) -> float:
    """Best microseconds per request over REPEATS runs of CALLS requests."""
    best = float("inf")
    for _ in range(REPEATS):
        started = time.thread_time()
        for _ in range(CALLS):
            response = handler(_environ(path), lambda status, headers, exc_info=None: None)
            response.close()
        best = min(best, (time.thread_time() - started) / CALLS * 1e6)
    return best


def handlers_by_prefix(stack: list[str]) -> tuple[list[int], list]:
    """Django's WSGI handler for every prefix of `stack` that its middleware's guards accept,
    with the length of each prefix."""
    from django.core.exceptions import ImproperlyConfigured
    from django.core.handlers.wsgi import WSGIHandler
    from django.test.utils import override_settings

    counts, handlers = [], []
    for count in range(len(stack) + 1):
        with override_settings(MIDDLEWARE=stack[:count]):
            try:
                handlers.append(WSGIHandler())  # the middleware chain is built here, once
            except ImproperlyConfigured:  # a guard: this one needs a later middleware
                continue
        counts.append(count)
    return counts, handlers


def main(path: str = "/healthz") -> list[tuple[str, float]]:
    setup_django()
    from django.conf import settings

    stack = list(settings.MIDDLEWARE)
    counts, handlers = handlers_by_prefix(stack)
    # Interleaved: every stack is timed once per round, so drift of a busy machine spreads
    # over all of them instead of landing on whichever stacks ran during it.
    best = [float("inf")] * len(handlers)
    for _ in range(ROUNDS):
        for index, handler in enumerate(handlers):
            best[index] = min(best[index], _time(handler, path))
    costs = [("(no middleware: URL resolution, view, response)", best[0])]
    costs += [
        (" + ".join(stack[counts[index - 1] : counts[index]]), best[index] - best[index - 1])
        for index in range(1, len(best))
    ]
    for name, microseconds in costs:
        print(f"{microseconds:8.1f} µs  {name}")
    print(f"{best[-1]:8.1f} µs  total for GET {path}")
    return costs


if __name__ == "__main__":
    main(*sys.argv[1:2])
