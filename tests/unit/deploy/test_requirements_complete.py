"""requirements.txt alone installs everything the production processes import.

A production image runs `pip install -r requirements.txt` and nothing else
(deploy/Dockerfile), so a module that only the development install brings
(requirements-dev.txt, or whatever else the shared venv holds) would crash a
process at start. This test loads what each production process loads, in a
child interpreter with the production settings, and checks that every
distribution those modules come from is pinned in requirements.txt or is a
declared (non-optional) dependency of a pinned one.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import re
import subprocess
import sys
from pathlib import Path

from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.integration.security.production_env import production_env

ROOT = Path(__file__).resolve().parents[3]
# Tried inside `try: import ... except ImportError`, and done without when absent
# (tests/e2e/test_production_install.py runs the processes without them).
OPTIONAL_IMPORTS = {
    "pygments": "syntax colours in DRF's browsable API and Celery's command line",
    "greenlet": "Celery's eventlet and gevent pools; the worker runs prefork",
}
OUR_PACKAGES = {"platform_site", "eventstore", "auth_app", "community_app", "links_app", "monitoring_app"}

# What the web server, the Celery worker and beat, and the stream runner import
# beyond their settings; printed as the top-level names of every loaded module.
LOAD_PRODUCTION_PROCESSES = """
import json, sys
import django
django.setup()
import gunicorn.app.wsgiapp, gunicorn.workers.gthread
import platform_site.wsgi, platform_site.urls
from django.urls import get_resolver
get_resolver().url_patterns
from platform_site.celery import app
app.loader.import_default_modules()
from kombu.transport import resolve_transport
resolve_transport("redis")
import celery.bin.worker, celery.bin.beat, celery.apps.worker, celery.apps.beat, celery.beat
from django.core.management import load_command_class
for app_name, command in [("eventstore", "run_event_streams"), ("django.contrib.staticfiles", "collectstatic")]:
    load_command_class(app_name, command)
print(json.dumps(sorted({name.split(".")[0] for name in list(sys.modules)})))
"""
BARE_INTERPRETER = (
    'import json, sys; print(json.dumps(sorted({name.split(".")[0] for name in list(sys.modules)})))'
)


def pinned_requirements() -> list[Requirement]:
    requirements = []
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line and not line.startswith("-"):
            requirements.append(Requirement(line))
    return requirements


def installed_closure(requirements: list[Requirement]) -> set[str]:
    """The distributions that installing `requirements` brings, following declared dependencies."""
    found: set[str] = set()
    pending = [(requirement, frozenset(requirement.extras)) for requirement in requirements]
    while pending:
        requirement, extras = pending.pop()
        name = canonicalize_name(requirement.name)
        if name in found and not extras:
            continue
        found.add(name)
        for declared in importlib.metadata.requires(requirement.name) or []:
            dependency = Requirement(declared)
            if dependency.marker is not None and not any(
                dependency.marker.evaluate({**default_environment(), "extra": extra})
                for extra in {"", *extras}
            ):
                continue
            pending.append((dependency, frozenset(dependency.extras)))
    return found


def modules_loaded(code: str) -> set[str]:
    env = {**os.environ, **production_env(), "DJANGO_SETTINGS_MODULE": "platform_site.settings.production"}
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return set(json.loads(result.stdout.strip().splitlines()[-1]))


def modules_loaded_by_production() -> set[str]:
    # Less what the interpreter loads before any of our code (site hooks of the venv).
    return modules_loaded(LOAD_PRODUCTION_PROCESSES) - modules_loaded(BARE_INTERPRETER)


def test_every_pin_is_exact():
    for requirement in pinned_requirements():
        assert re.fullmatch(r"==[^,*]+", str(requirement.specifier)), f"{requirement} is not pinned exactly"


def test_every_distribution_the_production_processes_import_is_installed_by_requirements_txt():
    installed = installed_closure(pinned_requirements())
    distributions_of = importlib.metadata.packages_distributions()
    missing = {}
    for top_level in modules_loaded_by_production():
        if top_level in sys.stdlib_module_names or top_level in OUR_PACKAGES | OPTIONAL_IMPORTS.keys():
            continue
        for distribution in distributions_of.get(top_level, []):
            if canonicalize_name(distribution) not in installed:
                missing[top_level] = distribution
    assert not missing, f"imported by production, not installed by requirements.txt: {missing}"


def test_the_closure_finds_packaging_only_through_its_pin():
    # The case that crashed workers: kombu declares `packaging` only under its "redis" extra.
    without_pin = [r for r in pinned_requirements() if canonicalize_name(r.name) != "packaging"]
    assert "packaging" not in installed_closure(without_pin)
    assert "packaging" in installed_closure(pinned_requirements())
