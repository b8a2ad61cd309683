"""Apps meet only through events and each other's public services and selectors.

No app may import another app's models (or projections, or api): writes to
another app's tables would bypass its events. The event store is the shared
kernel every app may use; it imports no domain app.
"""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOMAIN_APPS = ["auth_app", "community_app", "links_app"]
PUBLIC_MODULES = {"services", "selectors", "scanner", "events"}


def imported_modules(app: str) -> list[tuple[str, str]]:
    found = []
    for path in (ROOT / app).rglob("*.py"):
        if "migrations" in path.parts:
            continue
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                found.append((str(path.relative_to(ROOT)), node.module))
            elif isinstance(node, ast.Import):
                found.extend((str(path.relative_to(ROOT)), alias.name) for alias in node.names)
    return found


@pytest.mark.parametrize("app", DOMAIN_APPS)
def test_an_app_uses_other_apps_only_through_their_public_modules(app):
    offending = []
    for path, module in imported_modules(app):
        parts = module.split(".")
        another_app = parts[0] in DOMAIN_APPS and parts[0] != app
        if another_app and (len(parts) < 2 or parts[1] not in PUBLIC_MODULES):
            offending.append(f"{path}: import {module}")
    assert offending == []


def test_the_event_store_imports_no_domain_app():
    offending = [f"{p}: {m}" for p, m in imported_modules("eventstore") if m.split(".")[0] in DOMAIN_APPS]
    assert offending == []


def test_the_event_store_imports_nothing_of_the_site_package():
    """The store owns its Redis access (eventstore/redis.py); the site configures it through settings."""
    offending = [f"{p}: {m}" for p, m in imported_modules("eventstore") if m.split(".")[0] == "platform_site"]
    assert offending == []
