"""Least privilege for personal data: readers without the permission see it redacted.

Being staff lets someone read the log; reading the personal values in it
(emails, ips, user agents, typed usernames: whatever the event types name in
`personal_fields`, plus the request metadata `ip` and `user_agent`) needs the
permission `eventstore.view_personal_data` too (superusers have every
permission). Everything that shows events to staff (the API, the explorer, the
admin) passes them through here; the live feed carries no personal values.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from ..envelope import RecordedEvent
from ..errors import UnknownEventType
from ..registry import get_event_type
from .sealing import ERASED, METADATA_PERSONAL_FIELDS

REDACTED = "[redacted]"
PERMISSION = "eventstore.view_personal_data"


def can_read_personal_data(user) -> bool:
    return bool(user is not None and user.is_active and user.has_perm(PERMISSION))


def redact_event(event: RecordedEvent) -> RecordedEvent:
    """`event` with its personal values replaced by `REDACTED` (erased ones stay `ERASED`)."""
    data, metadata = _redacted(event.type, event.data, event.metadata)
    return dataclasses.replace(event, data=data, metadata=metadata)


def redact_event_dict(event: dict) -> dict:
    """The same for an event as a dict (`RecordedEvent.as_dict()` and what is built on it)."""
    data, metadata = _redacted(event["type"], event["data"], event["metadata"])
    return {**event, "data": data, "metadata": metadata}


def _redacted(type_name: str, data: dict, metadata: dict) -> tuple[dict, dict]:
    try:
        paths = get_event_type(type_name).personal_fields
    except UnknownEventType:
        paths = ()
    for path in paths:
        data = _redact_at(data, path.split("."))
    for name in METADATA_PERSONAL_FIELDS:
        metadata = _redact_at(metadata, [name])
    return data, metadata


def _redact_at(obj: Any, path: list[str]) -> Any:
    head, rest = path[0], path[1:]
    if not isinstance(obj, dict) or obj.get(head) in (None, "", ERASED):
        return obj
    value = _redact_at(obj[head], rest) if rest else REDACTED
    return {**obj, head: value}
