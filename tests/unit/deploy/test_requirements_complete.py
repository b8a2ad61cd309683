"""requirements.txt alone installs everything the production processes import.

A production image runs `pip install -r requirements.txt` and nothing else
(deploy/Dockerfile), so a module that only the development install brings
(requirements-dev.txt, or whatever else the shared venv holds) would crash a
process at start. This test loads what each production process loads, in a
child interpreter with the production settings, where every distribution that
requirements.txt would not install (neither pinned nor a declared,
non-optional dependency of a pinned one) cannot be imported: as on a
production install, optional imports go without, and a needed one fails.
tests/e2e/test_production_install.py proves the same with a real fresh venv.
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

# The child first makes the distributions outside the install unimportable
# (argv[1]: their top-level names), then loads what the web server, the Celery
# worker and beat, and the stream runner load.
LOAD_PRODUCTION_PROCESSES = """
import json, sys

NOT_INSTALLED = frozenset(json.loads(sys.argv[1]))


class NotInstalled:
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in NOT_INSTALLED:
            raise ModuleNotFoundError(f"No module named {name!r} (not installed by requirements.txt)", name=name)
        return None


sys.meta_path.insert(0, NotInstalled())
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
print("loaded")
"""


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


def not_installed_top_levels(installed: set[str]) -> list[str]:
    """Top-level import names of which no distribution in `installed` provides any."""
    return sorted(
        top_level
        for top_level, distributions in importlib.metadata.packages_distributions().items()
        if not {canonicalize_name(d) for d in distributions} & installed
    )


def load_production_processes(installed: set[str]) -> subprocess.CompletedProcess:
    env = {**os.environ, **production_env(), "DJANGO_SETTINGS_MODULE": "platform_site.settings.production"}
    blocked = not_installed_top_levels(installed)
    return subprocess.run(
        [sys.executable, "-c", LOAD_PRODUCTION_PROCESSES, json.dumps(blocked)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_every_pin_is_exact():
    for requirement in pinned_requirements():
        assert re.fullmatch(r"==[^,*]+", str(requirement.specifier)), f"{requirement} is not pinned exactly"


def test_the_production_processes_load_with_only_what_requirements_txt_installs():
    result = load_production_processes(installed_closure(pinned_requirements()))
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip().endswith("loaded")


def test_an_install_without_packaging_could_not_load_the_workers_redis_transport():
    # The case that crashed workers: kombu imports `packaging` but declares it only under
    # its "redis" extra. The check above catches such a gap, as it does here.
    result = load_production_processes(installed_closure(pinned_requirements()) - {"packaging"})
    assert result.returncode != 0
    assert "No module named 'packaging" in result.stderr


def test_packaging_is_pinned_itself():
    # Not left to whichever other pin happens to bring it today: kombu needs it.
    assert "packaging" in {canonicalize_name(r.name) for r in pinned_requirements()}
    assert "packaging" not in installed_closure([Requirement("kombu")])
