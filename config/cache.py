"""The Redis cache, made to tolerate Redis being down (docs/reliability.md "Redis down").

Nothing the cache holds is the only copy of anything: it speeds pages up and counts
requests for the rate limits. So when Redis cannot be reached, a read is a miss, a write is
skipped and a counter is "unknown" (django-ratelimit then lets the request through, see
RATELIMIT_FAIL_OPEN), and the page is served from the database as if the cache were cold —
rather than every page that touches the cache answering 500 until Redis is back.

The connection and socket timeouts are short so a Redis that hangs costs a page a fraction
of a second, not redis-py's default of waiting forever. A warning is logged at most once a
minute per process, so an outage is visible in the logs without flooding them.
"""

from __future__ import annotations

import logging
import time

from django.core.cache.backends.redis import RedisCache
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

logger = logging.getLogger(__name__)

UNREACHABLE = (RedisConnectionError, RedisTimeoutError, OSError)
WARN_EVERY_SECONDS = 60


class TolerantRedisCache(RedisCache):
    _last_warning = 0.0

    def _unreachable(self, operation: str, exc: Exception) -> None:
        now = time.monotonic()
        if now - TolerantRedisCache._last_warning >= WARN_EVERY_SECONDS:
            TolerantRedisCache._last_warning = now
            logger.warning(
                "cache unreachable (%s on %s); serving without it", type(exc).__name__, operation
            )

    def add(self, key, value, timeout=None, version=None):
        try:
            return super().add(key, value, timeout, version)
        except UNREACHABLE as exc:
            self._unreachable("add", exc)
            # As if the key were new: a counter starts at its first hit and a lock is taken.
            # (allauth's rate limits spin on add() as a lock: False would make every login
            # wait for the lock and then answer 429 while Redis is down.)
            return True

    def get(self, key, default=None, version=None):
        try:
            return super().get(key, default, version)
        except UNREACHABLE as exc:
            self._unreachable("get", exc)
            return default

    def set(self, key, value, timeout=None, version=None):
        try:
            super().set(key, value, timeout, version)
        except UNREACHABLE as exc:
            self._unreachable("set", exc)

    def touch(self, key, timeout=None, version=None):
        try:
            return super().touch(key, timeout, version)
        except UNREACHABLE as exc:
            self._unreachable("touch", exc)
            return False

    def delete(self, key, version=None):
        try:
            return super().delete(key, version)
        except UNREACHABLE as exc:
            self._unreachable("delete", exc)
            return False

    def get_many(self, keys, version=None):
        try:
            return super().get_many(keys, version)
        except UNREACHABLE as exc:
            self._unreachable("get_many", exc)
            return {}

    def has_key(self, key, version=None):
        try:
            return super().has_key(key, version)
        except UNREACHABLE as exc:
            self._unreachable("has_key", exc)
            return False

    def incr(self, key, delta=1, version=None):
        try:
            return super().incr(key, delta, version)
        except UNREACHABLE as exc:
            # Django's contract for a key it cannot count: ValueError (django-ratelimit
            # reads it as "count unknown").
            self._unreachable("incr", exc)
            raise ValueError(f"Key '{key}' cannot be counted: the cache is unreachable") from exc

    def set_many(self, data, timeout=None, version=None):
        try:
            return super().set_many(data, timeout, version)
        except UNREACHABLE as exc:
            self._unreachable("set_many", exc)
            return list(data)

    def delete_many(self, keys, version=None):
        try:
            return super().delete_many(keys, version)
        except UNREACHABLE as exc:
            self._unreachable("delete_many", exc)
            return None

    def clear(self):
        try:
            return super().clear()
        except UNREACHABLE as exc:
            self._unreachable("clear", exc)
            return False
