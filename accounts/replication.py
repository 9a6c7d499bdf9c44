"""Writes that must survive a Redis failover: session writes and revocations.

Redis replicates asynchronously. A session ended, or an access-token cut-off moved, just
before the primary dies may never reach the replica that Sentinel promotes, and the ended
login would come back. So these writes go out on one connection followed by `WAIT
<replicas> <timeout>` (https://redis.io/docs/latest/commands/wait/), and count only once
a replica has them; otherwise they fail like an outage (503, try again). With no replica
configured (REDIS_WAIT_REPLICAS=0, one plain Redis) they are ordinary writes.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from django.conf import settings
from django.core.cache import BaseCache
from django_redis.cache import RedisCache
from redis import Redis
from redis.exceptions import RedisError


class NotReplicated(RedisError):
    """No replica acknowledged a write that has to survive a failover."""


@contextmanager
def replicated(cache: BaseCache) -> Iterator[dict]:
    """Yield the keyword arguments for `cache` writes that must reach a replica before they count.

    On Redis with REDIS_WAIT_REPLICAS set: `{"client": <one connection>}`, and after the block
    a WAIT on that same connection (WAIT covers only the writes of the connection it runs on).
    """
    replicas = settings.REDIS_WAIT_REPLICAS
    if not replicas or not isinstance(cache, RedisCache):
        yield {}
        return
    pool = cache.client.get_client(write=True).connection_pool
    client = Redis(connection_pool=pool, single_connection_client=True)
    try:
        yield {"client": client}
        acknowledged = client.execute_command("WAIT", replicas, settings.REDIS_WAIT_TIMEOUT_MS)
        if acknowledged < replicas:
            raise NotReplicated(f"{acknowledged} of {replicas} Redis replicas acknowledged the write")
    finally:
        client.close()
