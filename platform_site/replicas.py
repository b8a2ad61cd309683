"""Read-only requests read from a PostgreSQL streaming replica, when one is configured.

With `DATABASE_REPLICA_URL` set, a GET, HEAD or OPTIONS request reads the
projections and the log from the `replica` database alias. Everything else
stays on the primary:
- every write, and every read inside a transaction (a command reads what it
  is about to change from the primary);
- sign-in state: users, tokens, sessions and permissions, so a token issued a
  moment ago works at once;
- the event store's follower, relay, consumers and replay, which read through
  the primary's connection directly (the horizon they rely on is only valid
  there; `eventstore.reading.follow` refuses to run on a standby);
- every request of a client that wrote within `REPLICA_STICKY_SECONDS`, so it
  reads its own writes although the replica may lag behind.

A replica that cannot be reached is left alone for `REPLICA_RETRY_SECONDS`;
its reads go to the primary meanwhile, and a read that fails on the replica
halfway is served again from the primary.
"""

from __future__ import annotations

import contextlib
import contextvars
import hashlib
import logging
import time
from collections.abc import Iterator

from django.conf import settings
from django.core.cache import cache
from django.db import DEFAULT_DB_ALIAS, OperationalError, connections

logger = logging.getLogger(__name__)

REPLICA_DB_ALIAS = "replica"
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# Apps whose reads may be served a moment stale; sign-in state is not among them.
_REPLICA_APPS = frozenset({"community_app", "links_app", "eventstore"})

_request_reads_replica: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "request_reads_replica", default=False
)
_replica_unreachable_until = 0.0


def replica_configured() -> bool:
    return REPLICA_DB_ALIAS in settings.DATABASES


@contextlib.contextmanager
def replica_reads_allowed(allowed: bool = True) -> Iterator[None]:
    """Within this block (a read-only request), reads outside transactions may use the replica."""
    token = _request_reads_replica.set(allowed)
    try:
        yield
    finally:
        _request_reads_replica.reset(token)


def reads_from_replica() -> bool:
    """Whether reads here may use the replica: a read-only request, outside any transaction."""
    return _request_reads_replica.get() and not connections[DEFAULT_DB_ALIAS].in_atomic_block


class ReplicaRouter:
    """Django database router: the replica for reads that `reads_from_replica` allows, else the primary."""

    def db_for_read(self, model, **hints):
        if model._meta.app_label in _REPLICA_APPS and reads_from_replica():
            return REPLICA_DB_ALIAS
        return DEFAULT_DB_ALIAS

    def db_for_write(self, model, **hints):
        return DEFAULT_DB_ALIAS

    def allow_relation(self, obj1, obj2, **hints):
        return True  # the replica holds the same rows as the primary

    def allow_migrate(self, db, app_label, model_name=None, **hints):
        return db == DEFAULT_DB_ALIAS


def _client_key(request) -> str | None:
    """Who is asking, as far as read-your-writes needs: their token or session, hashed."""
    credential = request.headers.get("Authorization") or request.COOKIES.get(settings.SESSION_COOKIE_NAME)
    if not credential:
        return None
    return "replica:sticky:" + hashlib.sha256(credential.encode()).hexdigest()[:32]


def _replica_reachable() -> bool:
    global _replica_unreachable_until
    if time.monotonic() < _replica_unreachable_until:
        return False
    replica = connections[REPLICA_DB_ALIAS]
    try:
        replica.close_if_health_check_failed()  # a kept connection to a replica that went away
        replica.ensure_connection()
    except OperationalError as exc:
        _mark_unreachable(exc)
        return False
    return True


def _mark_unreachable(exc: Exception) -> None:
    global _replica_unreachable_until
    _replica_unreachable_until = time.monotonic() + settings.REPLICA_RETRY_SECONDS
    logger.warning(
        "read replica unreachable, reading from the primary for %s s: %s", settings.REPLICA_RETRY_SECONDS, exc
    )


class ReplicaReadsMiddleware:
    """Lets read-only requests of clients that have not just written read from the replica."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if not replica_configured():
            return self.get_response(request)
        key = _client_key(request)
        if request.method not in _SAFE_METHODS:
            response = self.get_response(request)
            if key is not None:
                cache.set(key, 1, timeout=settings.REPLICA_STICKY_SECONDS)
            return response
        use_replica = not (key is not None and cache.get(key)) and _replica_reachable()
        with replica_reads_allowed(use_replica):
            return self.get_response(request)

    def process_exception(self, request, exception):
        """A read-only request whose replica went away halfway is served again from the primary."""
        if not (isinstance(exception, OperationalError) and _request_reads_replica.get()):
            return None
        _mark_unreachable(exception)
        _request_reads_replica.set(False)
        return self.get_response(request)
