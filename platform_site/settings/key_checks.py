"""Production refuses secrets that protect nothing: missing, short, or shipped as an example.

The development defaults in base.py, the placeholders of deploy/env.example and
Django's own "django-insecure-" keys are public: a server started with one of
them signs sessions (SECRET_KEY) or wraps personal data (the master key) with a
key anyone can read. settings/production.py calls `check_production_keys`, so
every process (web, worker, beat, stream runner, manage.py) stops at start
with an ImproperlyConfigured naming the setting, never the value.
"""

from __future__ import annotations

from django.core.exceptions import ImproperlyConfigured

# Django's own advice for SECRET_KEY (its security.W009 check): 50 characters, 5 distinct.
MIN_SECRET_KEY_LENGTH = 50
# 32 random bytes, as deploy/env.example makes them: 43 characters of base64 without padding.
MIN_MASTER_KEY_LENGTH = 43
MIN_DISTINCT_CHARACTERS = 5
# Keys once written into the repository (deploy/Dockerfile's former build-time values).
PUBLISHED_KEYS = frozenset({"collectstatic-only", "Y29sbGVjdHN0YXRpYy1vbmx5LW5vdC1hLWtleS0wMDA="})
# Words that mark a value written by a person as a placeholder, not drawn at random.
PLACEHOLDER_WORDS = (
    "change-me",
    "changeme",
    "change_me",
    "insecure",
    "dev-only",
    "example",
    "placeholder",
    "collectstatic",
    "not-a-key",
)


def key_problem(value: str | None, *, min_length: int, known_public: frozenset[str]) -> str | None:
    """Why `value` is no key for production, or None when it may be one."""
    if not value:
        return "is missing"
    if value in known_public or value in PUBLISHED_KEYS:
        return "is a default shipped with the code"
    lowered = value.lower()
    for word in PLACEHOLDER_WORDS:
        if word in lowered:
            return f"looks like an example (it contains {word!r})"
    if len(value) < min_length:
        return f"is too short ({len(value)} characters; at least {min_length} random ones)"
    if len(set(value)) < MIN_DISTINCT_CHARACTERS:
        return f"has fewer than {MIN_DISTINCT_CHARACTERS} distinct characters"
    return None


def check_production_keys(
    *, secret_key: str | None, master_key: str | None, known_public: frozenset[str]
) -> None:
    """Raise ImproperlyConfigured naming every unusable key (without printing any value)."""
    problems = []
    secret_problem = key_problem(secret_key, min_length=MIN_SECRET_KEY_LENGTH, known_public=known_public)
    if secret_problem:
        problems.append(f"SECRET_KEY {secret_problem}")
    master_problem = key_problem(master_key, min_length=MIN_MASTER_KEY_LENGTH, known_public=known_public)
    if master_problem:
        problems.append(f"PERSONAL_DATA_MASTER_KEY {master_problem}")
    if problems:
        raise ImproperlyConfigured(
            "Refusing to start with unusable production keys: "
            + "; ".join(problems)
            + ". Generate them as deploy/env.example shows."
        )
