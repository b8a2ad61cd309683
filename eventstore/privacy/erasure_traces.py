"""A subject's traces in the log: which events are theirs, and the personal values a reader sees in them.

Collected just before a forget, the values are what the erasure checks look
for afterwards (eventstore.privacy.erasure_checks). They live in memory for
that one command and are never stored or printed.
"""

from __future__ import annotations

import ipaddress
import json
import re
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from django.db import connection

from ..envelope import RecordedEvent
from ..errors import UnknownEventType
from ..reading import read_events_by_id
from ..registry import get_event_type, registered_event_types
from .sealing import ERASED, METADATA_PERSONAL_FIELDS, data_subject, metadata_subject

# Values shorter than this (unless an email address) are looked for only inside the
# subject's own events: a short title or a user agent also occurs in other people's rows.
DISTINCTIVE_LENGTH = 12
_READ_BATCH = 500
_USER_SUBJECT = re.compile(r"^user-(\d+)$")


@dataclass
class SubjectTraces:
    subject: str
    event_ids: list[uuid.UUID] = field(default_factory=list)
    sealed_values: int = 0  # sealed for this subject in the stored rows of the log
    values: set[str] = field(default_factory=set)  # what a reader saw, plus the caller's known values
    public: set[str] = field(default_factory=set)  # never looked for (e.g. the username)

    def distinctive_values(self) -> list[str]:
        """The values worth looking for anywhere: emails and long free text, never ips or public names."""
        public = {p.casefold() for p in self.public}
        return sorted(v for v in self.values if _distinctive(v) and v.casefold() not in public)


def _distinctive(value: str) -> bool:
    if _is_ip_address(value):
        return False  # ip-keyed rows (lockouts) are shared with other people by design
    return len(value) >= DISTINCTIVE_LENGTH or ("@" in value and len(value) >= 6)


def _is_ip_address(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def json_forms(value: str) -> list[str]:
    """`value` as it appears in JSON text (jsonb output, relayed envelopes), and as it is."""
    escaped = json.dumps(value, ensure_ascii=False)[1:-1]
    return [value] if escaped == value else [value, escaped]


def sealed_mark(subject: str) -> str:
    """How a value sealed for `subject` begins to show in jsonb text (`{"c": ..., "s": "<subject>", ...}`)."""
    return f'"s": {json.dumps(subject)}'


def _subject_fields() -> list[str]:
    named = {t.personal_subject for t in registered_event_types().values() if t.personal_subject}
    return sorted(named | {"user_id"})


def subject_event_ids(subject: str) -> tuple[list[uuid.UUID], int]:
    """The ids of the subject's events (their stream, their sealed values, their acts) and the sealed count.

    One pass over the log: a forget is rare, and the log has no index on what
    is inside a payload.
    """
    mark = sealed_mark(subject)
    conditions = ["stream_id = %s", "strpos(data::text, %s) > 0", "strpos(metadata::text, %s) > 0"]
    params: list = [subject, mark, mark]
    if user := _USER_SUBJECT.match(subject):
        user_id = json.dumps(int(user.group(1)))
        conditions.append("metadata -> 'actor_id' = %s::jsonb")
        params.append(user_id)
        for name in _subject_fields():
            conditions.append("data -> %s = %s::jsonb")
            params += [name, user_id]
    sql = (
        "SELECT id, (length(data::text) - length(replace(data::text, %s, ''))) / length(%s)"
        " + (length(metadata::text) - length(replace(metadata::text, %s, ''))) / length(%s)"
        f" FROM eventstore_event WHERE {' OR '.join(conditions)} ORDER BY position"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [mark, mark, mark, mark, *params])
        rows = cursor.fetchall()
    return [row[0] for row in rows], sum(row[1] for row in rows)


def read_subject_events(event_ids: list[uuid.UUID]) -> Iterator[RecordedEvent]:
    """The events as a reader sees them now (sealed values opened or erased), in batches."""
    for start in range(0, len(event_ids), _READ_BATCH):
        yield from read_events_by_id(event_ids[start : start + _READ_BATCH])


def readable_values(event: RecordedEvent, subject: str) -> list[tuple[str, str]]:
    """`(field, value)` for each personal value of `subject` this event shows a reader in the clear."""
    try:
        event_type = get_event_type(event.type)
    except UnknownEventType:
        event_type = None
    found = []
    owner = data_subject(event_type, event.stream_id, event.data, event.metadata)
    if owner == subject and event_type is not None:
        for path in event_type.personal_fields:
            found += [(f"data.{path}", v) for v in _readable_at(event.data, path.split("."))]
    if metadata_subject(owner, event.metadata) == subject:
        for name in METADATA_PERSONAL_FIELDS:
            found += [(f"metadata.{name}", v) for v in _readable_at(event.metadata, [name])]
    return found


def _readable_at(obj, path: list[str]) -> Iterable[str]:
    if not isinstance(obj, dict):
        return []
    value = obj.get(path[0])
    if len(path) > 1:
        return _readable_at(value, path[1:])
    if value is None or value == "" or value == ERASED:
        return []
    return [value if isinstance(value, str) else json.dumps(value)]


def collect_traces(
    subject: str, *, known_values: Iterable[str] = (), public: Iterable[str] = ()
) -> SubjectTraces:
    """Everything the checks need to know about `subject`, read while its key still opens its values."""
    event_ids, sealed = subject_event_ids(subject)
    traces = SubjectTraces(subject, event_ids, sealed, {v for v in known_values if v}, set(public))
    for event in read_subject_events(event_ids):
        traces.values.update(value for _field, value in readable_values(event, subject))
    return traces
