"""The Celery worker's consumer, trying a lost broker again within seconds (settings: CELERY_WORKER_CONSUMER).

Celery calls its consumer's ensure_connected() with every new broker
connection (at start and after each loss) and gives kombu no intervals, so
kombu's defaults apply: 2, 4, 6 ... up to 30 s between attempts, which left a
worker idle for up to 30 s after Redis was back (12 s after a 30 s outage in
the operator run, docs/operations.md). Here the attempts come 0.5, 1 and
1.5 s apart, then every BROKER_RETRY_MAX_SECONDS (2 by default): a refused
connection costs Redis next to nothing, and each worker makes one attempt at a
time. Only the worker imports this module.
"""

from __future__ import annotations

import functools

import kombu
from celery.worker.consumer import Consumer as CeleryConsumer
from django.conf import settings

RETRY_START_SECONDS = 0.5
RETRY_STEP_SECONDS = 0.5


def retrying_at(connection: kombu.Connection, maximum: float) -> kombu.Connection:
    """`connection`, whose ensure_connection() waits RETRY_START_SECONDS, then a step more each time, up to `maximum`."""
    connection.ensure_connection = functools.partial(
        connection.ensure_connection,
        interval_start=min(RETRY_START_SECONDS, maximum),
        interval_step=RETRY_STEP_SECONDS,
        interval_max=maximum,
    )
    return connection


class Consumer(CeleryConsumer):
    """Celery's consumer, with the platform's intervals between attempts to reach the broker."""

    def ensure_connected(self, conn):
        return super().ensure_connected(retrying_at(conn, settings.BROKER_RETRY_MAX_SECONDS))
