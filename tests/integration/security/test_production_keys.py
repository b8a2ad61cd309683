"""Safe defaults: entry points without a settings module run production, which refuses weak keys."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from platform_site.settings.base import DEVELOPMENT_MASTER_KEY, DEVELOPMENT_SECRET_KEY
from platform_site.settings.key_checks import check_production_keys, key_problem
from tests.integration.security.production_env import production_env

ROOT = Path(__file__).resolve().parents[3]
PUBLIC = frozenset({DEVELOPMENT_SECRET_KEY, DEVELOPMENT_MASTER_KEY})
GOOD = production_env()
SHOW_SETTINGS = "from django.conf import settings; print(settings.SETTINGS_MODULE, settings.DEBUG)"
ENTRY_POINTS = {
    "wsgi.py": f"import platform_site.wsgi; {SHOW_SETTINGS}",
    "asgi.py": f"import platform_site.asgi; {SHOW_SETTINGS}",
    "celery.py": f"from platform_site.celery import app; app.loader.import_default_modules(); {SHOW_SETTINGS}",
}


def run(argv: list[str], **env: str) -> subprocess.CompletedProcess:
    # The environment of an operator who forgot DJANGO_SETTINGS_MODULE (and, unless given, the keys).
    base = {k: v for k, v in os.environ.items() if k not in {"DJANGO_SETTINGS_MODULE", *GOOD}}
    return subprocess.run(argv, cwd=ROOT, env={**base, **env}, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("entry_point", sorted(ENTRY_POINTS))
def test_an_entry_point_without_a_settings_module_runs_production(entry_point):
    result = run([sys.executable, "-c", ENTRY_POINTS[entry_point]], **GOOD)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["platform_site.settings.production", "False"]


def test_manage_py_without_a_settings_module_runs_production():
    result = run([sys.executable, "manage.py", "shell", "--no-imports", "-c", SHOW_SETTINGS], **GOOD)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["platform_site.settings.production", "False"]


@pytest.mark.parametrize("entry_point", sorted(ENTRY_POINTS))
def test_an_entry_point_without_a_settings_module_or_keys_refuses_to_start(entry_point):
    result = run([sys.executable, "-c", ENTRY_POINTS[entry_point]])
    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr


@pytest.mark.parametrize(
    ("secret_key", "reason"),
    [
        (DEVELOPMENT_SECRET_KEY, "default shipped"),
        ("please-change-me-before-going-live", "example"),
        ("django-insecure-" + "x7Rk2pQ9vL4mN8sT1wY6zB3cF5hJ0gD" * 2, "example"),
        ("Kq3v9Xz2Lm8Pw4Rt6Yb1Nc5Hd7Fg0Js", "too short"),
        ("ab" * 40, "distinct"),
    ],
)
def test_production_refuses_a_weak_secret_key_and_says_why_without_showing_it(secret_key, reason):
    result = run([sys.executable, "manage.py", "check"], **{**GOOD, "SECRET_KEY": secret_key})
    assert result.returncode != 0
    message = result.stderr.strip().splitlines()[-1]
    assert "ImproperlyConfigured" in message and "SECRET_KEY" in message and reason in message
    assert secret_key not in result.stderr


@pytest.mark.parametrize(
    ("master_key", "reason"),
    [
        ("", "missing"),
        (DEVELOPMENT_MASTER_KEY, "default shipped"),
        ("please-change-me-before-going-live", "example"),
        ("Y29sbGVjdHN0YXRpYy1vbmx5LW5vdC1hLWtleS0wMDA=", "default shipped"),  # the image's old build-time key
        ("c2hvcnQta2V5LW9mLTE2Yg==", "too short"),
    ],
)
def test_production_refuses_a_weak_personal_data_master_key(master_key, reason):
    with pytest.raises(ImproperlyConfigured, match=f"PERSONAL_DATA_MASTER_KEY [^;]*{reason}") as refused:
        check_production_keys(secret_key=GOOD["SECRET_KEY"], master_key=master_key, known_public=PUBLIC)
    assert "SECRET_KEY " not in str(refused.value).replace("PERSONAL_DATA_MASTER_KEY", "")
    if master_key:
        assert master_key not in str(refused.value)


def test_production_accepts_random_keys_of_the_documented_forms():
    for _ in range(20):
        keys = production_env()
        check_production_keys(
            secret_key=keys["SECRET_KEY"], master_key=keys["PERSONAL_DATA_MASTER_KEY"], known_public=PUBLIC
        )
        assert (
            key_problem(keys["PERSONAL_DATA_MASTER_KEY"].rstrip("="), min_length=43, known_public=PUBLIC)
            is None
        )


def test_the_image_build_draws_throwaway_keys_that_production_accepts():
    dockerfile = (ROOT / "deploy" / "Dockerfile").read_text()
    collectstatic = dockerfile[dockerfile.index("RUN SECRET_KEY=") :].split("collectstatic", 1)[0]
    drawn = {}
    for name in ("SECRET_KEY", "PERSONAL_DATA_MASTER_KEY"):
        program = re.search(rf"""{name}="\$\(python -c '([^']+)'\)\"""", collectstatic)
        assert program, f"deploy/Dockerfile does not draw {name} at build time"
        drawn[name] = subprocess.run(
            [sys.executable, "-c", program.group(1)], capture_output=True, text=True, check=True
        ).stdout.strip()
    check_production_keys(
        secret_key=drawn["SECRET_KEY"], master_key=drawn["PERSONAL_DATA_MASTER_KEY"], known_public=PUBLIC
    )
