"""A Celery worker that loses Redis reconnects instead of hanging (works around a kombu 5.7 bug).

When the broker connection breaks under a worker that holds unacknowledged
messages (our tasks are `acks_late`), the consumer closes its connection:
kombu first drops the transport (`transport.client = None`), then closing the
default channel tries to put the unacknowledged messages back through a new
Redis client built from `transport.client`. That raises `AttributeError:
'NoneType' object has no attribute 'hostname'`, Celery logs "Unrecoverable
error", and the worker stays up without consuming (seen in the fault tests
about one Redis restart in three).

The in-process restore is skipped when the transport is already gone, and any
other call that would build a client from the dropped transport fails as a
lost connection (which Celery handles by reconnecting). Nothing
is lost by that: kombu's Redis transport also keeps every unacknowledged
message in Redis (its unacked hash) and puts it back on its queue after the
visibility timeout, and the event store's tasks are sent again by beat's sweep
every few seconds anyway. A Redis that came back empty has lost them in both cases.
"""

from __future__ import annotations

import logging

import redis
from kombu.transport import redis as kombu_redis

logger = logging.getLogger(__name__)


def _restore_unacked_unless_closed(original):
    def restore_unacked(self, client=None):
        transport = self.channel.connection
        if client is None and (transport is None or transport.client is None):
            logger.warning(
                "broker connection closed before %d unacknowledged message(s) could be restored; "
                "Redis restores them after the visibility timeout",
                len(self._delivered),
            )
            self._delivered.clear()
            return None
        return original(self, client)

    restore_unacked.platform_patched = True
    return restore_unacked


def _connparams_or_connection_error(original):
    def connparams(self, *args, **kwargs):
        # Other calls that need a new client after the transport was dropped (an
        # ack, a cancel) fail as a lost connection, which kombu and Celery handle
        # by reconnecting, rather than with an AttributeError nobody expects.
        if self.connection is None or self.connection.client is None:
            raise redis.ConnectionError("the broker connection is already closed")
        return original(self, *args, **kwargs)

    connparams.platform_patched = True
    return connparams


def install() -> None:
    """Patch kombu's Redis channel and QoS once per process (idempotent)."""
    if getattr(kombu_redis.QoS.restore_unacked, "platform_patched", False):
        return
    kombu_redis.QoS.restore_unacked = _restore_unacked_unless_closed(kombu_redis.QoS.restore_unacked)
    kombu_redis.Channel._connparams = _connparams_or_connection_error(kombu_redis.Channel._connparams)
