"""What a login can fail with; the API answers these with 401 and 429 (platform_site/api_errors.py).

Field-level problems (registration, password change) are Django
ValidationErrors keyed by field, which the API answers with 400.
"""

from __future__ import annotations


class InvalidCredentials(Exception):
    """Wrong password, unknown or inactive user: deliberately one error, so the answer is the same."""


class LoginLocked(Exception):
    """Too many failed attempts for this username or from this ip; retry after `retry_after` seconds."""

    def __init__(self, retry_after: int):
        self.retry_after = retry_after
        super().__init__(f"login locked for {retry_after} more seconds")


class AlreadyForgotten(Exception):
    """The user's personal data was erased before; forgetting again changes nothing."""


class LoginRateLimited(LoginLocked):
    """Too many login attempts from one address in a short window: refused before anything is checked
    or recorded (a LoginLocked, so every door answers it the same way: 429 with Retry-After)."""
