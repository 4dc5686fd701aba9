"""Rate limits per API token (DRF throttling). The counters live in the `throttle` cache: Redis when
THROTTLE_REDIS_URL (or REDIS_URL) is set, so every worker shares them; the local-memory cache otherwise, and
also when Redis stops answering (per process, so a Redis outage never takes the API down). The limit is the
setting API_RATE_LIMIT ("1200/min"; empty or "off" turns limits off, as in the test and benchmark settings).

Every throttled response carries the standard headers (IETF draft "RateLimit header fields"):
`RateLimit-Limit`, `RateLimit-Remaining`, `RateLimit-Reset` (seconds), and a 429 also `Retry-After`."""
from __future__ import annotations

import logging
import time

from django.conf import settings
from django.core.cache import caches
from rest_framework.throttling import SimpleRateThrottle

from ..models import ApiToken

logger = logging.getLogger("meridian.api")
HEADERS_ATTR = "_meridian_ratelimit"


class _FallbackCache:
    """The shared cache, or this process's local memory while the shared one fails."""

    def __init__(self):
        self.primary = caches["throttle"]
        self.local = caches["throttle_local"]

    def get(self, key, default=None):
        try:
            return self.primary.get(key, default)
        except Exception:  # Redis unreachable: count locally
            logger.warning("throttle cache unavailable; counting in local memory")
            return self.local.get(key, default)

    def set(self, key, value, timeout=None):
        try:
            return self.primary.set(key, value, timeout)
        except Exception:
            return self.local.set(key, value, timeout)


class TokenRateThrottle(SimpleRateThrottle):
    scope = "token"

    def __init__(self):
        self.cache = _FallbackCache()
        super().__init__()

    def get_rate(self):
        rate = getattr(settings, "API_RATE_LIMIT", "") or ""
        return None if rate.lower() in ("", "off", "none") else rate

    def get_cache_key(self, request, view):
        if isinstance(request.auth, ApiToken):
            ident = f"token:{request.auth.pk}"
        elif request.user and request.user.is_authenticated:
            ident = f"user:{request.user.pk}"
        else:
            ident = f"ip:{self.get_ident(request)}"
        return self.cache_format % {"scope": self.scope, "ident": ident}

    def allow_request(self, request, view):
        if self.rate is None:
            return True
        allowed = super().allow_request(request, view)
        history = getattr(self, "history", [])
        now = getattr(self, "now", time.time())
        reset = int(self.duration - (now - history[-1])) if history else self.duration
        remaining = max(self.num_requests - len(history), 0)
        setattr(request._request, HEADERS_ATTR, (self.num_requests, remaining, max(reset, 0)))
        return allowed


class RateLimitHeadersMiddleware:
    """Copies the throttle's figures onto the response as the standard headers."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        figures = getattr(request, HEADERS_ATTR, None)
        if figures is not None:
            limit, remaining, reset = figures
            response["RateLimit-Limit"] = str(limit)
            response["RateLimit-Remaining"] = str(remaining)
            response["RateLimit-Reset"] = str(reset)
        return response
