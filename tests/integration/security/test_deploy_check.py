"""`manage.py check --deploy` finds nothing to complain about in the production settings."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.integration.security.production_env import production_env

ROOT = Path(__file__).resolve().parents[3]


def test_check_deploy_is_clean_for_the_production_settings():
    env = {**os.environ, **production_env(), "DJANGO_SETTINGS_MODULE": "platform_site.settings.production"}
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "DEBUG"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_production_refuses_to_start_without_its_secrets():
    env = {k: v for k, v in os.environ.items() if k not in production_env()}
    env["DJANGO_SETTINGS_MODULE"] = "platform_site.settings.production"
    result = subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr
