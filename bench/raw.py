"""The physical limit: plain psycopg 3 on a bare table of the event table's shape.

No position scheme, no stream checks, no extra indexes or triggers: one
INSERT per event with a bigserial key. What the platform costs on top is the
difference between these figures and its own.
"""

from __future__ import annotations

import time
import uuid

import orjson
import psycopg

from .benchapp.events import thing_payload
from .database import connect_params
from .workers import wait_until

CREATE_TABLE = """
DROP TABLE IF EXISTS raw_event;
CREATE TABLE raw_event (
    position        bigserial    PRIMARY KEY,
    id              uuid         NOT NULL,
    stream_id       varchar(200) NOT NULL,
    stream_version  integer      NOT NULL,
    type            varchar(100) NOT NULL,
    schema_version  smallint     NOT NULL,
    data            jsonb        NOT NULL,
    metadata        jsonb        NOT NULL,
    source          varchar(50)  NOT NULL,
    correlation_id  uuid         NOT NULL,
    causation_id    uuid,
    recorded_at     timestamptz  NOT NULL DEFAULT clock_timestamp()
)
"""
INSERT = """
INSERT INTO raw_event (id, stream_id, stream_version, type, schema_version, data, metadata, source,
                       correlation_id, causation_id)
VALUES (%s, %s, 1, 'bench:thing_recorded', 1, %s::jsonb, %s::jsonb, 'bench', %s, %s)
"""
# A request's metadata without its personal values (the platform would seal an ip or a
# user agent, which raw cannot): the platform's bench events carry the same
# (bench.platform_writes), so both sides write rows of the same size.
REQUEST_METADATA = {"path": "/bench/things/", "method": "POST", "view": "thing-create", "format": "json"}
METADATA = orjson.dumps(REQUEST_METADATA).decode()
BATCH = 100


def _row(n: int) -> tuple:
    event_id, correlation = uuid.uuid4(), uuid.uuid4()
    return (
        event_id,
        f"thing-{uuid.uuid4()}",
        orjson.dumps(thing_payload(n)).decode(),
        METADATA,
        correlation,
        correlation,
    )


def insert_one_per_transaction(*, start_at: float, deadline: float, worker: int) -> int:
    with psycopg.connect(**connect_params()) as conn:
        wait_until(start_at)
        done = 0
        while time.time() < deadline:
            conn.execute(INSERT, _row(done))
            conn.commit()
            done += 1
    return done


def insert_batches(*, start_at: float, deadline: float, worker: int) -> int:
    with psycopg.connect(**connect_params()) as conn:
        wait_until(start_at)
        done = 0
        while time.time() < deadline:
            with conn.cursor() as cursor:
                cursor.executemany(INSERT, [_row(done + i) for i in range(BATCH)])
            conn.commit()
            done += BATCH
    return done


def fill(rows: int) -> None:
    """Bring the bare table to at least `rows` rows, quickly (COPY)."""
    with psycopg.connect(**connect_params()) as conn:
        have = conn.execute("SELECT count(*) FROM raw_event").fetchone()[0]
        columns = "id, stream_id, stream_version, type, schema_version, data, metadata, source, correlation_id, causation_id"
        with conn.cursor() as cursor, cursor.copy(f"COPY raw_event ({columns}) FROM STDIN") as copy:
            for n in range(max(0, rows - have)):
                event_id, stream, data, metadata, correlation, causation = _row(n)
                copy.write_row(
                    (
                        event_id,
                        stream,
                        1,
                        "bench:thing_recorded",
                        1,
                        data,
                        metadata,
                        "bench",
                        correlation,
                        causation,
                    )
                )
        conn.commit()
    with psycopg.connect(**connect_params(), autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE raw_event")


def read_in_order(rows: int, batch: int = 5000) -> float:
    """Read the first `rows` rows in position order through a server-side cursor; rows per second."""
    with psycopg.connect(**connect_params()) as conn:
        started = time.perf_counter()
        read = 0
        with conn.cursor(name="raw_follow") as cursor:
            cursor.itersize = batch
            cursor.execute(
                "SELECT id, position, stream_id, stream_version, type, schema_version, data, metadata, "
                "source, correlation_id, causation_id, recorded_at FROM raw_event ORDER BY position LIMIT %s",
                [rows],
            )
            while chunk := cursor.fetchmany(batch):
                read += len(chunk)
        elapsed = time.perf_counter() - started
    return read / elapsed


def create_table() -> None:
    with psycopg.connect(**connect_params(), autocommit=True) as conn:
        conn.execute(CREATE_TABLE)
