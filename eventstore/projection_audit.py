"""The consistency auditor: live projections compared with the log, the last result kept.

`audit_projections()` runs the dry run's comparison (eventstore.projection_diff:
a shadow built from the log, diffed with the live tables in one snapshot,
nothing changed or locked) and keeps its outcome where /metrics and the
dashboard read it. A drift is logged as an error and reported; it is never
repaired here: an operator decides (often `replay_events`, after finding why).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence

from django.core.cache import cache

from .projection_diff import check_projections
from .projections import Projection, registered_projections

logger = logging.getLogger(__name__)
# The cache (Redis) is enough: a lost result reads as "never audited", which alerts too.
LAST_AUDIT_KEY = "eventstore:projection_audit:last"
AUDIT_BATCH_SIZE = 20_000


def audit_projections(projections: Sequence[Projection] | None = None) -> dict:
    """Compare every (or the given) projection with the log; keep and return the outcome.

    The outcome: `{"finished_at": unix time, "seconds": duration, "drifted":
    [{"projection", "table", "only_live", "only_rebuilt", "differing",
    "examples"}], "projections": [names]}`.
    """
    chosen = list(projections if projections is not None else registered_projections().values())
    started = time.time()
    results = check_projections(chosen, batch_size=AUDIT_BATCH_SIZE)
    drifted = [
        {
            "projection": name,
            "table": table,
            "only_live": diff.only_live,
            "only_rebuilt": diff.only_rebuilt,
            "differing": diff.differing,
            "examples": diff.examples,
        }
        for name, (_applied, tables) in results.items()
        for table, diff in tables.items()
        if not diff.identical
    ]
    outcome = {
        "finished_at": time.time(),
        "seconds": round(time.time() - started, 3),
        "drifted": drifted,
        "projections": sorted(results),
    }
    cache.set(LAST_AUDIT_KEY, outcome, timeout=None)
    for drift in drifted:
        logger.error("projection drift: %s", drift)
    return outcome


def last_audit() -> dict | None:
    """The last audit's outcome, with its age in seconds; None if none is known."""
    outcome = cache.get(LAST_AUDIT_KEY)
    if outcome is None:
        return None
    return {**outcome, "age_seconds": max(0.0, time.time() - outcome["finished_at"])}
