"""Where a forgotten subject's personal data could still be read, each place checked after the forget.

Every check returns a `ErasureCheck` that names its place and counts, never a value:
the receipt that stores them must hold no personal data. A check fails when
it finds a readable copy: a personal value of the subject that a reader of the
log still sees in the clear, or one of the subject's distinctive values
(eventstore.privacy.erasure_traces) anywhere it looks.
"""

from __future__ import annotations

import glob
import logging
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import orjson
from django.conf import settings
from django.db import connection

from .. import streams
from ..archive import files as archive_files
from ..errors import ArchiveInvalid
from ..models import ParkedEvent, PersonalDataKey
from ..projections import registered_projections
from ..reading import reveal_event
from .erasure_traces import SubjectTraces, json_forms, read_subject_events, readable_values

CHECK_PASSED, CHECK_FAILED, CHECK_NOT_STORED, CHECK_NONE_CONFIGURED = (
    "passed",
    "failed",
    "not_stored",
    "none_configured",
)
_SHOWN_POSITIONS = 10  # positions, stream ids and tables named in a failure's detail, at most
_REDIS_PAGE = 1000
SHADOW_SCHEMA = "projection_rebuild"  # eventstore.replay's shadow schema, left by a killed rebuild


@dataclass(frozen=True)
class ErasureCheck:
    place: str
    status: str
    checked: int = 0  # rows, entries, keys or files looked at
    found: int = 0  # readable copies found
    detail: str = ""

    def as_dict(self) -> dict:
        return asdict(self)


def _found_or_passed(place: str, checked: int, where: list[str], what: str) -> ErasureCheck:
    if not where:
        return ErasureCheck(place, CHECK_PASSED, checked, 0, f"{checked} {what} checked, no readable copy")
    shown = ", ".join(where[:_SHOWN_POSITIONS]) + (" …" if len(where) > _SHOWN_POSITIONS else "")
    return ErasureCheck(place, CHECK_FAILED, checked, len(where), f"readable copy in {shown}")


def _contains(text: str | bytes, needles: list[str]) -> bool:
    if isinstance(text, bytes):
        return any(n.encode() in text for n in needles)
    return any(n in text for n in needles)


def like_patterns(needles: list[str]) -> list[str]:
    """`%needle%` for SQL LIKE, its own wildcards and escape character escaped."""
    return ["%" + n.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%" for n in needles]


def _needles(traces: SubjectTraces) -> list[str]:
    return [form for value in traces.distinctive_values() for form in json_forms(value)]


def check_key(traces: SubjectTraces) -> ErasureCheck:
    row = PersonalDataKey.objects.filter(subject=traces.subject).first()
    if row is None or row.forgotten_at is None or row.wrapped_key is not None:
        return ErasureCheck("personal-data key", CHECK_FAILED, 1, 1, "the data key still exists")
    return ErasureCheck("personal-data key", CHECK_PASSED, 1, 0, "destroyed; the key row is a tombstone")


def check_event_log(traces: SubjectTraces) -> ErasureCheck:
    """The subject's events as a reader sees them, and every payload of the log for distinctive values."""
    where = []
    for event in read_subject_events(traces.event_ids):
        if shown := readable_values(event, traces.subject):
            where.append(f"position {event.position} ({', '.join(sorted({f for f, _ in shown}))})")
    needles = _needles(traces)
    if needles:
        with connection.cursor() as cursor:
            # One text per row matched against every pattern: twice as fast as a strpos per value and column.
            cursor.execute(
                "SELECT position FROM eventstore_event"
                " WHERE (data::text || metadata::text) LIKE ANY (%s::text[]) ORDER BY position",
                [like_patterns(needles)],
            )
            where += [f"position {row[0]} (plain text in the payload)" for row in cursor.fetchall()]
    return _found_or_passed("event log", len(traces.event_ids), where, "events of the subject")


def check_redis_streams(traces: SubjectTraces, redis) -> ErasureCheck:
    """Every relayed entry: the subject's events opened as a consumer would, all entries for distinctive values."""
    needles, ours = _needles(traces), {str(i) for i in traces.event_ids}
    checked, where = 0, []
    for partition in range(streams.partition_count()):
        key = streams.partition_key(partition)
        after = "-"
        while entries := redis.xrange(key, min=after, max="+", count=_REDIS_PAGE):
            for entry_id, fields in entries:
                checked += 1
                payload = fields.get(b"event", b"")
                if _contains(b" ".join(fields.values()), needles) or (
                    ours and _readable_entry(payload, traces, ours)
                ):
                    where.append(f"{key} entry {entry_id.decode()}")
            after = "(" + entries[-1][0].decode()
    return _found_or_passed("Redis event streams", checked, where, "relayed entries")


def _readable_entry(payload: bytes, traces: SubjectTraces, ours: set[str]) -> bool:
    try:
        if orjson.loads(payload).get("id") not in ours:
            return False
        return bool(readable_values(reveal_event(streams.decode(payload)), traces.subject))
    except (ValueError, KeyError, TypeError, AttributeError):
        return False  # not an event envelope; its raw bytes were searched already


def check_other_redis_keys(traces: SubjectTraces, redis) -> ErasureCheck:
    """Everything else in the platform's Redis database: rate-limit cache, task queues, runner keys."""
    needles = _needles(traces)
    relayed = {streams.partition_key(p).encode() for p in range(streams.partition_count())}
    checked, where = 0, []
    for key in redis.scan_iter(count=_REDIS_PAGE):
        if key in relayed:
            continue
        checked += 1
        if _contains(key, needles) or any(_contains(v, needles) for v in _redis_values(redis, key)):
            where.append(f"key {key.decode(errors='replace')}")
    return _found_or_passed("other Redis keys (cache, task queues)", checked, where, "keys")


def _redis_values(redis, key: bytes) -> list[bytes]:
    kind = redis.type(key)
    if kind == b"string":
        return [redis.get(key) or b""]
    if kind == b"list":
        return redis.lrange(key, 0, -1)
    if kind == b"hash":
        return [b" ".join(pair) for pair in redis.hgetall(key).items()]
    if kind in (b"set", b"zset"):
        return list(redis.smembers(key)) if kind == b"set" else redis.zrange(key, 0, -1)
    if kind == b"stream":
        return [b" ".join(fields.values()) for _id, fields in redis.xrange(key)]
    return []


def check_live_feed() -> ErasureCheck:
    return ErasureCheck(
        "live feed",
        CHECK_NOT_STORED,
        detail="Redis Pub/Sub, not stored; each message names ids, types, streams and positions only, "
        "and a reconnecting dashboard reads the log (checked above)",
    )


def check_projections(traces: SubjectTraces) -> ErasureCheck:
    """Every projection's table (and a shadow left by a killed rebuild) for distinctive values."""
    needles = _needles(traces)
    tables = [t for p in registered_projections().values() for t in p.table_names()]
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = %s ORDER BY 1",
            [SHADOW_SCHEMA],
        )
        tables += [f"{SHADOW_SCHEMA}.{row[0]}" for row in cursor.fetchall()]
        checked, where = 0, []
        for table in tables:
            name = ".".join(connection.ops.quote_name(part) for part in table.split("."))
            cursor.execute(
                f"SELECT count(*), count(*) FILTER (WHERE to_jsonb(t)::text LIKE ANY (%s::text[])) FROM {name} t",
                [like_patterns(needles)],
            )
            rows, matching = cursor.fetchone()
            checked += rows
            if matching:
                where.append(f"{table} ({matching} rows)")
    return _found_or_passed("projections", checked, where, f"rows of {len(tables)} tables")


def check_parked_events(traces: SubjectTraces) -> ErasureCheck:
    """Parked entries point at events of the log (checked there); their error texts are searched."""
    needles = _needles(traces)
    parked = ParkedEvent.objects.filter(event_id__in=traces.event_ids).count()
    checked, where = 0, []
    for pk, subscriber, error in ParkedEvent.objects.values_list("pk", "subscriber", "error").iterator():
        checked += 1
        if _contains(error, needles):
            where.append(f"parked event {pk} of {subscriber} (its error text)")
    check = _found_or_passed("parked events", checked, where, "parked entries")
    if check.status == CHECK_PASSED and parked:
        detail = f"{check.detail}; {parked} of them refer to the subject's events, which read as erased"
        return ErasureCheck(check.place, CHECK_PASSED, check.checked, 0, detail)
    return check


def log_files() -> list[str]:
    """The regular files the log handlers write, with rotated siblings (`name.1`, …); not /dev/null."""
    handlers = list(logging.getLogger().handlers)
    for logger in list(logging.Logger.manager.loggerDict.values()):
        handlers += getattr(logger, "handlers", [])
    names = sorted({h.baseFilename for h in handlers if isinstance(h, logging.FileHandler)})
    paths = {path for name in names for path in [name, *glob.glob(glob.escape(name) + ".*")]}
    return sorted(path for path in paths if os.path.isfile(path))


def check_application_logs(traces: SubjectTraces) -> ErasureCheck:
    files = log_files()
    if not files:
        return ErasureCheck(
            "application logs",
            CHECK_NOT_STORED,
            detail="not stored by the platform: its log handlers write to stderr only; "
            "whatever collects that output (journald, Docker, a log service) keeps its own copy",
        )
    needles, where = _needles(traces), []
    for path in files:
        try:
            with open(path, "rb") as handle:
                if _contains(handle.read(), needles):
                    where.append(path)
        except OSError:
            where.append(f"{path} (unreadable, so not confirmed)")
    return _found_or_passed("application logs", len(files), where, "log files")


def check_archives(traces: SubjectTraces) -> ErasureCheck:
    """Every file archive_events wrote (EVENTSTORE_ARCHIVE_DIR), decompressed, for distinctive values.

    Archived rows are the log's rows as stored, so the subject's sealed fields
    stay sealed there and its destroyed key makes them unreadable; what this
    looks for is a copy in the clear.
    """
    directory = Path(settings.EVENTSTORE_ARCHIVE_DIR) if settings.EVENTSTORE_ARCHIVE_DIR else None
    entries = archive_files.load_manifest(directory) if directory and directory.is_dir() else []
    if not entries:
        return ErasureCheck(
            "archives",
            CHECK_NONE_CONFIGURED,
            detail="none written: no archive_events manifest in EVENTSTORE_ARCHIVE_DIR "
            "(database backups are outside the platform: docs/privacy.md)",
        )
    needles, checked, where = _needles(traces), 0, []
    for entry in entries:
        try:
            for line in archive_files.read_lines(directory / entry.file):
                checked += 1
                if _contains(line, needles):
                    where.append(entry.file)
                    break
        except (ArchiveInvalid, OSError):
            where.append(f"{entry.file} (unreadable, so not confirmed)")
    return _found_or_passed("archives", checked, where, f"archived events in {len(entries)} files")
