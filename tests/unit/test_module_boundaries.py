"""The layers, checked: apps meet only through events and each other's public modules, and
use the event store only through its facade; the event store imports no app and nothing of the site.

No app may import another app's models (or projections, or api): writes to
another app's tables would bypass its events. The event store is the shared
kernel every app may use, through `eventstore/__init__.py` alone; it imports
no app, and the site package configures it through settings only.
"""

import ast
import importlib
from pathlib import Path

import pytest
from django.core.exceptions import PermissionDenied
from django.http import Http404

import eventstore

ROOT = Path(__file__).resolve().parents[2]
DOMAIN_APPS = ["auth_app", "community_app", "links_app"]
APPS = [*DOMAIN_APPS, "monitoring_app"]
PUBLIC_MODULES = {"services", "selectors", "scanner", "events", "errors"}

# The monitoring app is the event store's console: its dashboard, explorer and
# /metrics report on the store's own machinery, which no domain app needs.
# These are the store's modules it may read beyond the facade, and why.
MONITORING_READS = {
    "eventstore.backfills": "backfill counts on /metrics",
    "eventstore.context": "parse_uuid for the explorer's query strings",
    "eventstore.horizon_report": "the stalled-horizon health check",
    "eventstore.models": "the event-statistics projection, checkpoints and the log, for the dashboard and explorer",
    "eventstore.monitoring": "head position, relay lag, stream-runner partitions",
    "eventstore.privacy.redaction": "redacting event dicts in the explorer",
    "eventstore.projection_audit": "the last consistency audit",
    "eventstore.reading": "read_all for the live feed",
    "eventstore.redis": "pinging Redis and the live feed's pub/sub",
    "eventstore.registry": "the registered event types for the explorer's filter",
    "eventstore.selectors": "subscriber status, delivery checks, causal chains",
    "eventstore.streams": "the live channel the relay publishes to, for the dashboard's feed",
    "eventstore.subscribers": "the registered subscribers on /metrics",
}


def imported_modules(app: str) -> list[tuple[str, str, list[str]]]:
    """(file, module, names imported from it) for every absolute import in the package."""
    found = []
    for path in (ROOT / app).rglob("*.py"):
        if "migrations" in path.parts:
            continue
        tree = ast.parse(path.read_text(), filename=str(path))
        where = str(path.relative_to(ROOT))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                found.append((where, node.module, [alias.name for alias in node.names]))
            elif isinstance(node, ast.Import):
                found.extend((where, alias.name, []) for alias in node.names)
    return found


@pytest.mark.parametrize("app", APPS)
def test_an_app_uses_other_apps_only_through_their_public_modules(app):
    offending = []
    for path, module, _ in imported_modules(app):
        parts = module.split(".")
        another_app = parts[0] in APPS and parts[0] != app
        if another_app and (len(parts) < 2 or parts[1] not in PUBLIC_MODULES):
            offending.append(f"{path}: import {module}")
    assert offending == []


@pytest.mark.parametrize("app", APPS)
def test_an_app_uses_the_event_store_only_through_its_facade(app):
    allowed_modules = MONITORING_READS if app == "monitoring_app" else {}
    offending = []
    for path, module, names in imported_modules(app):
        if module.split(".")[0] != "eventstore" or module in allowed_modules:
            continue
        private = [
            name
            for name in names
            if name not in eventstore.__all__ and f"{module}.{name}" not in allowed_modules
        ]
        if module != "eventstore" or not names or private:
            offending.append(f"{path}: {module} {private or names}")
    assert offending == []


def test_the_facade_names_what_its_modules_define():
    for name in eventstore.__all__:
        value = getattr(eventstore, name)
        if name in eventstore._PUBLIC_SUBPACKAGES:
            assert value is importlib.import_module(f"eventstore.{name}")
        else:
            assert value is getattr(importlib.import_module(eventstore._HOMES[name]), name), name


def test_the_facade_refuses_a_name_it_does_not_export():
    with pytest.raises(AttributeError, match="no attribute 'bus_internals'"):
        eventstore.bus_internals  # noqa: B018


@pytest.mark.parametrize("app", ["eventstore", *APPS])
def test_errors_live_in_one_module_per_app_and_none_is_an_http_error(app):
    """The API maps domain errors to statuses in one place (platform_site/api_errors.py)."""
    assert not (ROOT / app / "exceptions.py").exists()
    errors = ROOT / app / "errors.py"
    if not errors.exists():
        return
    module = importlib.import_module(f"{app}.errors")
    http_errors = (Http404, PermissionDenied)
    offending = [
        name
        for name, value in vars(module).items()
        if isinstance(value, type) and issubclass(value, Exception) and issubclass(value, http_errors)
    ]
    assert offending == []


# Exception classes that are no error a caller handles, kept beside the code that raises and catches them.
SIGNALS_OUTSIDE_ERRORS = {
    "eventstore.consumer.partition": {
        "AlreadyProcessed": "a batch another consumer handled first; the consumer skips it",
        "LockLost": "the consumer's session lost its lock; the stream runner takes it again",
    },
}


def _modules_of(package: str):
    for path in sorted((ROOT / package).rglob("*.py")):
        if "migrations" in path.parts:
            continue
        name = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        yield importlib.import_module(name)


@pytest.mark.parametrize("package", ["eventstore", *APPS])
def test_every_error_class_is_defined_in_the_errors_module(package):
    offending = []
    for module in _modules_of(package):
        if module.__name__ == f"{package}.errors":
            continue
        allowed = SIGNALS_OUTSIDE_ERRORS.get(module.__name__, {})
        offending += [
            f"{module.__name__}.{name}"
            for name, value in vars(module).items()
            if isinstance(value, type)
            and issubclass(value, BaseException)
            and value.__module__ == module.__name__
            and name not in allowed
        ]
    assert offending == []


def test_the_event_store_imports_no_app():
    offending = [f"{p}: {m}" for p, m, _ in imported_modules("eventstore") if m.split(".")[0] in APPS]
    assert offending == []


def test_the_event_store_imports_nothing_of_the_site_package():
    """The store owns its Redis access (eventstore/redis.py); the site configures it through settings."""
    offending = [
        f"{p}: {m}" for p, m, _ in imported_modules("eventstore") if m.split(".")[0] == "platform_site"
    ]
    assert offending == []
