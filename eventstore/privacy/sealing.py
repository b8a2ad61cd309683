"""Sealing personal values on append and opening them on read.

Which values: the paths an event type names in `personal_fields` (a dotted
path reaches into nested objects, e.g. `changed.body.after`), plus the request
metadata `ip` and `user_agent`. Empty values are left as they are.

Whose key (the *subject*):
- data fields: the subject named (a string) or the user id held in the type's
  `personal_subject` field, else the user id in
  `user_id`, else the user of a `user-<id>` stream, else the acting user
  (`metadata.actor_id`), else the stream itself (e.g. `login-<key>` for failed
  logins with a username that names no account);
- metadata: the acting user (`actor_id`) when known, else the data subject.

Reading replaces each sealed value with its plaintext, or with `ERASED` when
the subject's key is gone.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator
from typing import Any

from ..envelope import NewEvent, RecordedEvent
from ..errors import UnknownEventType
from ..registry import EventType, get_event_type
from . import crypto
from .keys import KeyRing

ERASED = "[erased]"
METADATA_PERSONAL_FIELDS = ("ip", "user_agent")
_USER_STREAM = re.compile(r"^user-(\d+)$")


def user_subject(user_id: int) -> str:
    return f"user-{user_id}"


def is_erased(value: Any) -> bool:
    return value == ERASED


def data_subject(event_type: EventType | None, stream_id: str, data: dict, metadata: dict) -> str:
    field_name = getattr(event_type, "personal_subject", None)
    named = data.get(field_name) if field_name else None
    if isinstance(named, str) and named:
        # A subject the recording service chose (never client input), e.g. one shared
        # key per day for failed logins with names that match no account.
        return named
    for candidate in (data.get(field_name) if field_name else None, data.get("user_id")):
        if isinstance(candidate, int):
            return user_subject(candidate)
    if _USER_STREAM.match(stream_id):
        return stream_id
    if isinstance(metadata.get("actor_id"), int):
        return user_subject(metadata["actor_id"])
    return stream_id


def metadata_subject(data_subject_: str, metadata: dict) -> str:
    actor = metadata.get("actor_id")
    return user_subject(actor) if isinstance(actor, int) else data_subject_


def needs_sealing(event_type: EventType | None, metadata: dict) -> bool:
    """Could an event of this type with this metadata hold a personal value to seal?"""
    return bool(event_type and event_type.personal_fields) or _has_personal_metadata(metadata)


def seal_event(stream_id: str, event: NewEvent, keyring: KeyRing) -> NewEvent:
    """`event` with its personal values sealed (or already erased for a forgotten subject)."""
    try:
        event_type: EventType | None = get_event_type(event.type)
    except UnknownEventType:
        event_type = None
    if not needs_sealing(event_type, event.metadata):
        return event  # most events: nothing personal, so no subject to work out
    subject = data_subject(event_type, stream_id, event.data, event.metadata)
    data = event.data
    for path in event_type.personal_fields if event_type else ():
        data = _seal_at(data, path.split("."), subject, keyring)
    metadata = event.metadata
    meta_subject = metadata_subject(subject, metadata)
    for name in METADATA_PERSONAL_FIELDS:
        metadata = _seal_at(metadata, [name], meta_subject, keyring)
    if data is event.data and metadata is event.metadata:
        return event
    return dataclasses.replace(event, data=data, metadata=metadata)


def _has_personal_metadata(metadata: dict) -> bool:
    # The values _seal_at would seal: anything but missing, None and "".
    for name in METADATA_PERSONAL_FIELDS:
        value = metadata.get(name)
        if value is not None and value != "":
            return True
    return False


def _seal_at(obj: dict, path: list[str], subject: str, keyring: KeyRing) -> dict:
    """A copy of `obj` with the value at `path` sealed; `obj` itself when there is nothing to seal."""
    head, rest = path[0], path[1:]
    value = obj.get(head) if isinstance(obj, dict) else None
    if value is None or value == "" or crypto.is_sealed(value):
        return obj
    if rest:
        inner = _seal_at(value, rest, subject, keyring)
        return obj if inner is value else {**obj, head: inner}
    key = keyring.key_for_writing(subject)
    return {**obj, head: crypto.seal_value(subject, key, value) if key is not None else ERASED}


def sealed_subjects(value: Any) -> Iterator[str]:
    """Every subject whose key opening `value` needs (to load them in one query)."""
    if crypto.is_sealed(value):
        yield value["s"]
    elif isinstance(value, dict):
        for item in value.values():
            yield from sealed_subjects(item)
    elif isinstance(value, list):
        for item in value:
            yield from sealed_subjects(item)


def open_sealed(value: Any, keyring: KeyRing) -> Any:
    """`value` with every sealed value replaced by its plaintext, or `ERASED`."""
    if crypto.is_sealed(value):
        key = keyring.key_for_reading(value["s"])
        return crypto.open_value(value, key) if key is not None else ERASED
    if isinstance(value, dict):
        return {k: open_sealed(v, keyring) for k, v in value.items()}
    if isinstance(value, list):
        return [open_sealed(v, keyring) for v in value]
    return value


# A tuple, not `dict | list`: that expression builds a new union object on every
# test, which doubled the cost of walking an event (every appended and read event is walked).
_CONTAINERS = (dict, list)


def find_sealed(value: Any, places: list[tuple[Any, Any]]) -> None:
    """Add `(container, key)` for each sealed value nested in `value` (freshly decoded JSON).

    With `open_found`, a batch reader opens its events in one walk and one key
    query, replacing sealed values in place instead of copying every object.
    """
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, item in items:
        if isinstance(item, dict) and crypto.is_sealed(item):
            places.append((value, key))
        elif isinstance(item, _CONTAINERS):
            find_sealed(item, places)


def open_found(places: list[tuple[Any, Any]], keyring: KeyRing) -> None:
    """Replace each sealed value found by `find_sealed` with its plaintext, or `ERASED`."""
    keyring.load({container[key]["s"] for container, key in places})
    openers: dict[str, Any] = {}  # one per subject, for this call only (None: the subject is forgotten)
    for container, key in places:
        sealed = container[key]
        subject = sealed["s"]
        try:
            open_one = openers[subject]
        except KeyError:
            data_key = keyring.key_for_reading(subject)
            open_one = openers[subject] = crypto.opener(subject, data_key) if data_key is not None else None
        container[key] = open_one(sealed) if open_one is not None else ERASED


def holds_sealed(value: Any) -> bool:
    """True when `value` has a sealed value anywhere inside (a cheap test before opening)."""
    if isinstance(value, dict):
        if crypto.SEALED_MARK in value and crypto.is_sealed(value):
            return True
        values = value.values()
    elif isinstance(value, list):
        values = value
    else:
        return False
    # A plain loop, no call per scalar: twice as fast as any() over a generator,
    # and every appended event is tested (event data is mostly a flat object of scalars).
    for item in values:  # noqa: SIM110
        if isinstance(item, _CONTAINERS) and holds_sealed(item):
            return True
    return False


def open_appended(given: NewEvent, appended: RecordedEvent, keyring: KeyRing) -> RecordedEvent:
    """`appended`, stored as `seal_event` sealed `given` with `keyring`, as a reader sees it now.

    Its sealed values open to `given`'s own, so they are taken from `given`
    instead of being decrypted again; unless a subject of this append was
    forgotten (its values are stored erased) or the caller passed a value
    already sealed (a reader sees it opened): then the event is opened.
    """
    if keyring.holds_forgotten() or holds_sealed(given.data) or holds_sealed(given.metadata):
        return open_event(appended, keyring)
    return dataclasses.replace(appended, data=given.data, metadata=given.metadata)


def open_event(event: RecordedEvent, keyring: KeyRing | None = None) -> RecordedEvent:
    """`event` as a reader sees it now (data not upcast: see eventstore.reading.reveal)."""
    if not (holds_sealed(event.data) or holds_sealed(event.metadata)):
        return event
    subjects = [*sealed_subjects(event.data), *sealed_subjects(event.metadata)]
    keyring = keyring or KeyRing()
    keyring.load(subjects)
    return dataclasses.replace(
        event, data=open_sealed(event.data, keyring), metadata=open_sealed(event.metadata, keyring)
    )
