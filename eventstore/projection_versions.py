"""Which version of each projection's code built its live tables, and which need a rebuild.

A projection declares `version` (eventstore.projections.Projection). When a
release raises it, the tables still hold what the older code projected; the
release step runs `replay_events --outdated`, which rebuilds exactly those
projections blue/green and records the new version, before the new code
serves. Until then `manage.py check` warns (eventstore.W001).
"""

from __future__ import annotations

from collections.abc import Iterable

from django.core import checks
from django.db import DatabaseError
from django.utils import timezone

from .models import ProjectionVersion
from .projections import Projection, registered_projections

BUILT_BY_DEFAULT = 1  # tables made by migrations, before any rebuild, are version 1's


def built_versions() -> dict[str, int]:
    return dict(ProjectionVersion.objects.values_list("name", "version"))


def outdated() -> list[Projection]:
    """Registered projections whose live tables another version of their code built, by name."""
    built = built_versions()
    return [
        projection
        for name, projection in sorted(registered_projections().items())
        if built.get(name, BUILT_BY_DEFAULT) != projection.version
    ]


def record_rebuilt(projections: Iterable[Projection]) -> None:
    """The live tables of `projections` were just built by their current code."""
    now = timezone.now()
    for projection in projections:
        ProjectionVersion.objects.update_or_create(
            name=projection.name, defaults={"version": projection.version, "rebuilt_at": now}
        )


@checks.register(checks.Tags.database)
def check_projection_versions(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    """Warn when the code serves projections its own version did not build (needs the database)."""
    try:
        stale = outdated()
    except DatabaseError:
        return []  # no database yet (before migrate): nothing was built either
    built = built_versions() if stale else {}
    return [
        checks.Warning(
            f"projection {p.name} is version {p.version}, but version "
            f"{built.get(p.name, BUILT_BY_DEFAULT)} of its code built the live tables",
            hint="run `manage.py replay_events --outdated --no-input` (the release step does)",
            id="eventstore.W001",
        )
        for p in stale
    ]
