"""The cache backend for production: Redis, where an unreachable Redis reads as an empty
cache instead of an error.

The cache holds only rate-limit counts (docs/security.md "Rate limits"): sessions live in
the database, and nothing else is cached. So while Redis is down or restarting, every
counter starts from nothing and every request is let through, instead of a 500 on the
login page, the public referral form, the GP status page and the API. The outage is
logged, once per operation, at WARNING.
"""

from __future__ import annotations

import logging

from django.core.cache.backends.redis import RedisCache, RedisCacheClient
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)


def _unavailable(operation: str, exc: Exception) -> None:
    logger.warning("cache %s skipped, Redis unavailable: %s", operation, type(exc).__name__)


class FailOpenRedisCacheClient(RedisCacheClient):
    def add(self, key, value, timeout):
        try:
            return super().add(key, value, timeout)
        except RedisError as exc:
            _unavailable("add", exc)
            # As if the key were new: a counter starts at its first hit, a lock is taken.
            return True

    def get(self, key, default):
        try:
            return super().get(key, default)
        except RedisError as exc:
            _unavailable("get", exc)
            return default

    def set(self, key, value, timeout):
        try:
            super().set(key, value, timeout)
        except RedisError as exc:
            _unavailable("set", exc)

    def touch(self, key, timeout):
        try:
            return super().touch(key, timeout)
        except RedisError as exc:
            _unavailable("touch", exc)
            return False

    def delete(self, key):
        try:
            return super().delete(key)
        except RedisError as exc:
            _unavailable("delete", exc)
            return False

    def get_many(self, keys):
        try:
            return super().get_many(keys)
        except RedisError as exc:
            _unavailable("get_many", exc)
            return {}

    def has_key(self, key):
        try:
            return super().has_key(key)
        except RedisError as exc:
            _unavailable("has_key", exc)
            return False

    def incr(self, key, delta):
        try:
            return super().incr(key, delta)
        except RedisError as exc:
            _unavailable("incr", exc)
            return delta  # a first hit: under any limit

    def set_many(self, data, timeout):
        try:
            return super().set_many(data, timeout)
        except RedisError as exc:
            _unavailable("set_many", exc)
            return []

    def delete_many(self, keys):
        try:
            return super().delete_many(keys)
        except RedisError as exc:
            _unavailable("delete_many", exc)

    def clear(self):
        try:
            return super().clear()
        except RedisError as exc:
            _unavailable("clear", exc)
            return False


class FailOpenRedisCache(RedisCache):
    def __init__(self, server, params):
        super().__init__(server, params)
        self._class = FailOpenRedisCacheClient
