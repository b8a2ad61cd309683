"""Helpers shared by the accounts tests (fixtures are in conftest.py)."""

from __future__ import annotations

import random
import uuid

from django.contrib.auth.hashers import MD5PasswordHasher

STRONG_PASSWORD = "correct-Horse-battery-staple-42"


def fresh_ip() -> str:
    """An ip no other test uses, so lockout and throttle counts never leak between tests."""
    return f"10.{random.randint(0, 255)}.{random.randint(0, 255)}.{random.randint(1, 254)}"


def fresh_username(prefix: str = "user") -> str:
    return f"{prefix}{uuid.uuid4().hex[:12]}"


class CountingMD5PasswordHasher(MD5PasswordHasher):
    """MD5 (fast, tests only) that counts the hashes it computes: the cost of a login attempt."""

    calls = 0

    def encode(self, password, salt):
        type(self).calls += 1
        return super().encode(password, salt)


COUNTING_HASHER = f"{__name__}.CountingMD5PasswordHasher"
