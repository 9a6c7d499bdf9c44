"""The FastAPI peer with the benchmark's counters: what uvicorn runs under `make bench`.

The benchmark reads requests served and Redis commands sent from GET /__bench__/counters,
as it does from authdemo's processes (bench.counting, which needs Django; this needs none).
A plain ASGI wrapper, a few operations per request, so the tutorial's app stays as written.
"""

from __future__ import annotations

import redis.asyncio.client
from starlette.responses import JSONResponse

from bench.peers.fastapi.app import app

COUNTERS_PATH = "/__bench__/counters"  # bench.counting.COUNTERS_PATH, without importing Django
counts = {"requests": 0, "sql": 0, "redis": 0, "connections": 0}
_execute = redis.asyncio.client.Redis.execute_command


async def _count_redis(self, *args, **options):
    counts["redis"] += 1
    return await _execute(self, *args, **options)


redis.asyncio.client.Redis.execute_command = _count_redis


async def application(scope, receive, send):
    """Answer the counters on their own path; count every other request once it is answered."""
    if scope["type"] == "http" and scope["path"] == COUNTERS_PATH:
        await JSONResponse(counts)(scope, receive, send)
        return
    await app(scope, receive, send)
    if scope["type"] == "http":
        counts["requests"] += 1
