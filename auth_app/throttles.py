"""Rate limit for registration, per client ip."""

from __future__ import annotations

from django.conf import settings
from rest_framework.throttling import SimpleRateThrottle

from platform_site.correlation import client_ip

DEFAULT_REGISTER_RATE = "10/min"


class RegisterRateThrottle(SimpleRateThrottle):
    """`AUTH_REGISTER_THROTTLE_RATE` (default 10/min) registrations per ip.

    Keyed by REMOTE_ADDR like the login lockout: DRF's default identity trusts
    X-Forwarded-For, which any client can set to dodge the limit.
    """

    scope = "register"

    def get_rate(self) -> str:
        return getattr(settings, "AUTH_REGISTER_THROTTLE_RATE", DEFAULT_REGISTER_RATE)

    def get_cache_key(self, request, view) -> str:
        return self.cache_format % {"scope": self.scope, "ident": client_ip(request) or "unknown"}
