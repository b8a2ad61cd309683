"""Running a command: one transaction, rerun when a conflict says it is safe to.

Services wrap their bodies in `atomic_command`: the state change and its events
share one transaction (guarantee 1). A StreamOrderConflict is always safe to
retry (nothing was decided on stale data yet: the rerun reads afresh); a plain
ConcurrencyConflict is retried only for commands that re-derive everything
they write from current state (`retry_conflicts=True`), like votes.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from django.db import connection, transaction

from . import positions
from .errors import ConcurrencyConflict, StreamOrderConflict

logger = logging.getLogger(__name__)
P = ParamSpec("P")
R = TypeVar("R")

MAX_ATTEMPTS = 8


def atomic_command(func: Callable[P, R] | None = None, *, retry_conflicts: bool = False):
    """Decorator: run the function in `transaction.atomic()`, retrying safe conflicts.

    Inside an enclosing transaction it cannot retry (the outer transaction's
    id is fixed), so it just runs and lets the conflict reach the outermost command.
    """

    def decorate(fn: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(fn)
        def run(*args: P.args, **kwargs: P.kwargs) -> R:
            if connection.in_atomic_block:
                return fn(*args, **kwargs)
            for attempt in range(1, MAX_ATTEMPTS + 1):
                try:
                    with transaction.atomic():
                        return fn(*args, **kwargs)
                except ConcurrencyConflict as conflict:
                    retryable = isinstance(conflict, StreamOrderConflict) or retry_conflicts
                    if not retryable or attempt == MAX_ATTEMPTS:
                        raise
                    if isinstance(conflict, StreamOrderConflict) and conflict.positions_behind:
                        # Outside the transaction now: the catch-up commits, and the rerun's
                        # transaction numbers its events above the log.
                        positions.catch_up(connection)
                    logger.info("retrying %s after %s (attempt %d)", fn.__qualname__, conflict, attempt)
            raise AssertionError("unreachable")

        return run

    return decorate(func) if func is not None else decorate
