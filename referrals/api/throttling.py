"""The API's rate limit: per API key (``RATE_LIMITS["api"]``), and per client address for
the public schema and docs and for calls with an unknown key (``RATE_LIMITS["api_public"]``,
counted by ``ApiKeyAuthentication``).

DRF's throttle keeps a window of request times in the Django cache (Redis in production,
shared by every web process) and answers 429 with ``Retry-After`` itself; the JSON message
says which limit was hit. Keys are counted by their id, so two keys of one
practice, or keys of two practices, never share a count.
"""

from __future__ import annotations

import logging
import time

from django.core.cache import cache as default_cache
from redis.exceptions import RedisError
from rest_framework.exceptions import Throttled
from rest_framework.renderers import JSONRenderer
from rest_framework.throttling import BaseThrottle

from practices.rate_limits import client_key, duration_text, rate_for

logger = logging.getLogger(__name__)


class RateLimited(Throttled):
    extra_detail_singular = "Try again in {wait} second."
    extra_detail_plural = "Try again in {wait} seconds."


class ApiKeyRateThrottle(BaseThrottle):
    """DRF's sliding window (the times of the calls in the window, newest first), with the
    rate read per request from ``settings.RATE_LIMITS`` in our notation rather than from
    DRF's DEFAULT_THROTTLE_RATES, which DRF freezes into its classes at import."""

    cache = default_cache
    timer = time.time

    def allow_request(self, request, view):
        api_key = getattr(request, "auth", None)
        if getattr(api_key, "prefix", None):
            return self.count(request, "api", f"key{api_key.pk}")
        return self.count(request, "api_public", client_key(request))

    def count(self, request, scope: str, ident: str) -> bool:
        """Count this call for ``ident`` under the limit ``scope``: True while under it,
        else RateLimited (a 429 with Retry-After)."""
        rate = rate_for(scope)
        if rate is None:
            return True
        key = f"throttle:{scope}:{ident}"
        try:
            history = self.cache.get(key, [])
            now = self.timer()
            while history and history[-1] <= now - rate.seconds:
                history.pop()
            if len(history) < rate.count:
                history.insert(0, now)
                self.cache.set(key, history, rate.seconds)
                return True
        except (RedisError, OSError) as exc:
            # The cache is down: let the call through rather than refuse every integration.
            logger.warning("API rate limit not checked: cache unavailable (%s)", type(exc).__name__)
            return True
        # Raised here rather than returned as False, so that the message says which limit
        # (DRF's handler still adds Retry-After from ``wait``): when the oldest counted call
        # leaves the window, one more is let through.
        # In JSON whatever the view renders otherwise (the schema's YAML would show DRF's
        # error object, not a message).
        request.accepted_renderer, request.accepted_media_type = JSONRenderer(), "application/json"
        whose = "this API key" if scope == "api" else "your address"
        raise RateLimited(
            wait=max(history[-1] + rate.seconds - now, 1),
            detail=f"Too many requests for {whose}: at most {rate.count} per "
            f"{duration_text(rate.seconds).removeprefix('1 ')}.",
        )
