"""Count SQL queries, database connections opened and Redis commands, for the benchmark.

The counters cost a few function calls per request, the same for every scheme (the
/healthz baseline included); `GET /__bench__/counters` answers them as JSON. Used only by
the benchmark's server processes (authdemo's and the bare Django peer's), never by the site.
"""

from __future__ import annotations

import json
import threading

import redis.client
from django.db.backends.signals import connection_created

COUNTERS_PATH = "/__bench__/counters"
_counts = {"requests": 0, "sql": 0, "redis": 0, "connections": 0}
_lock = threading.Lock()


def _add(name: str) -> None:
    with _lock:
        _counts[name] += 1


def _count_sql(execute, sql, params, many, context):
    _add("sql")
    return execute(sql, params, many, context)


def _watch_connection(sender, connection, **kwargs) -> None:
    _add("connections")
    if _count_sql not in connection.execute_wrappers:
        connection.execute_wrappers.append(_count_sql)


_redis_execute = redis.client.Redis.execute_command


def _count_redis(self, *args, **options):
    _add("redis")
    return _redis_execute(self, *args, **options)


connection_created.connect(_watch_connection)
redis.client.Redis.execute_command = _count_redis


def counted(site):
    """Wrap a WSGI application: answer the counters on their own path, count the rest."""

    def application(environ, start_response):
        if environ.get("PATH_INFO") == COUNTERS_PATH:
            with _lock:
                body = json.dumps(_counts).encode()
            start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
            return [body]
        response = site(environ, start_response)
        _add("requests")  # after the work: a request still in flight when wrk stops is not counted
        return response

    return application
