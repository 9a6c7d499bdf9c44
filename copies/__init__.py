"""In-process copies of hot stored values, each invalidated by the store that holds them.

Components a configuration ADDS to Django's own machinery, never branches inside it:

- `copies.redis_cache.TrackingRedisCache`: a django-redis cache backend whose reads of
  configured key prefixes are served from this process's copy, invalidated by Redis's
  client-side-caching key tracking (CACHES[alias]["BACKEND"]);
- `copies.postgres_sessions`: Django's database session engine with copies of session rows,
  invalidated by PostgreSQL's LISTEN/NOTIFY (SESSION_ENGINE).

`copies.channel` is what both share: the copies, their freshness bound and lifetime, and the
listener thread that keeps the channel alive. With LOCAL_TIER=off neither is configured,
and the site runs on Django's cache backend and session engines alone.
"""
