"""Run a process with its wall clock moved, for the skewed-clock tests and drill.

Debian's libfaketime, preloaded (LD_PRELOAD) with FAKETIME="+2s" or "-2s", shifts what the
process and its children read from the wall clock (time.time(), datetime.now()), so one
instance of the site can run ahead of or behind another on the same machine. The monotonic
clock moves by the same constant, which changes no interval: leaving it alone
(FAKETIME_DONT_FAKE_MONOTONIC=1) makes libfaketime 0.9.10 fail every time.sleep() with EINVAL
(Python sleeps with clock_nanosleep on CLOCK_MONOTONIC, TIMER_ABSTIME).
"""

from __future__ import annotations

import glob

LIBRARY_PATTERNS = ("/usr/lib/*/faketime/libfaketime.so.1", "/usr/lib/faketime/libfaketime.so.1")


def libfaketime() -> str | None:
    """The path of Debian's libfaketime (package `faketime`), or None when it is not installed."""
    for pattern in LIBRARY_PATTERNS:
        found = sorted(glob.glob(pattern))
        if found:
            return found[0]
    return None


def skewed(env: dict[str, str], seconds: float) -> dict[str, str]:
    """`env` with the wall clock `seconds` ahead (negative: behind); RuntimeError without libfaketime."""
    library = libfaketime()
    if library is None:
        raise RuntimeError("libfaketime is missing: apt-get install faketime (make test-tools installs it)")
    preload = " ".join(part for part in (library, env.get("LD_PRELOAD", "")) if part)
    return {**env, "LD_PRELOAD": preload, "FAKETIME": f"{seconds:+g}s"}
