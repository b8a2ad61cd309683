"""The environment a production deployment must provide (platform_site/settings/production.py)."""

from __future__ import annotations

import base64
import secrets


def production_env() -> dict[str, str]:
    """Fresh secrets every call: nothing here may look like a shipped default."""
    return {
        "SECRET_KEY": secrets.token_urlsafe(64),
        "ALLOWED_HOSTS": "platform.example.com,testserver",
        "CSRF_TRUSTED_ORIGINS": "https://platform.example.com",
        "PERSONAL_DATA_MASTER_KEY": base64.urlsafe_b64encode(secrets.token_bytes(32)).decode(),
    }
