"""The platform's append statement driven by plain psycopg: the log's own cost, without Python's.

The same statement the event store sends for one new event opening its
transaction (`eventstore.store.statements`), with the same parameters, into
the same table with all its indexes, but from a bare psycopg loop like raw's:
no Django, no bus, no validation. Set between raw and the platform, it splits
the platform's gap in two: raw to this figure is what the table costs (its
unique keys and ON CONFLICT, which optimistic concurrency and idempotent
appends need, and its reader indexes); this figure to the platform's is what
the Python path costs.
"""

from __future__ import annotations

import time
import uuid

import orjson
import psycopg

from .benchapp.events import thing_payload
from .database import connect_params
from .raw import METADATA
from .workers import wait_until


def insert_one_per_transaction(*, start_at: float, deadline: float, worker: int) -> int:
    from eventstore.store.statements import APPEND_NEW_STREAM

    statement = APPEND_NEW_STREAM[1].decode()  # the variant for an append that opens its transaction
    with psycopg.connect(**connect_params()) as conn:
        wait_until(start_at)
        done = 0
        while time.time() < deadline:
            correlation = uuid.uuid4()
            params = {
                "stream_id": f"thing-{uuid.uuid4()}",
                "id": uuid.uuid4(),
                "type": "bench:thing_recorded",
                "schema_version": 1,
                "data": orjson.dumps(thing_payload(done)).decode(),
                "metadata": METADATA,
                "source": "bench",
                "correlation_id": correlation,
                "causation_id": correlation,
            }
            conn.execute(statement, params, prepare=True).fetchall()
            conn.commit()
            done += 1
    return done
