"""The audit trail of personal data shown to staff: who saw which fields of which events, where, when.

Every place that shows staff personal values in the clear (the events API,
the explorer, the admin) records one `PersonalDataView` row per page or
answer, before the answer leaves, naming the viewer's user id, the place, what
was asked for, the subjects, event ids and field names; never a value. Only
answers that actually show a value are recorded: a viewer without the
permission gets `[redacted]` values and leaves no row, and nothing is recorded
for values already erased.

No disclosure without its record: when the row cannot be written (a database
error), the answer is given with the values redacted instead, and the
failure is logged. So recording can neither fail a read nor be skipped.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.db import DatabaseError, transaction
from django.utils import timezone

from ..errors import UnknownEventType
from ..models import PersonalDataView
from ..registry import get_event_type
from .redaction import REDACTED, can_read_personal_data, redact_event, redact_event_dict
from .sealing import ERASED, METADATA_PERSONAL_FIELDS, data_subject, metadata_subject

logger = logging.getLogger(__name__)
_MAX_EVENT_IDS = 1000  # a page shows at most a few hundred; the row stays bounded all the same


@dataclass
class Shown:
    """The personal values one answer shows: whose, in which events, which fields (no values)."""

    subjects: set[str] = field(default_factory=set)
    event_ids: set[str] = field(default_factory=set)
    field_names: set[str] = field(default_factory=set)

    def add_events(self, events: Iterable) -> None:
        for event in events:
            self._add_event(event if isinstance(event, dict) else event.as_dict())

    def add_value(self, subject: str, field_name: str, value) -> None:
        """A personal value shown outside an event (e.g. an account's email in the admin)."""
        if _shows(value):
            self.subjects.add(subject)
            self.field_names.add(field_name)

    def _add_event(self, event: dict) -> None:
        try:
            event_type = get_event_type(event["type"])
        except UnknownEventType:
            event_type = None
        data, metadata = event["data"], event["metadata"]
        owner = data_subject(event_type, event["stream_id"], data, metadata)
        names = [
            f"data.{p}" for p in (event_type.personal_fields if event_type else ()) if _shows(_at(data, p))
        ]
        if names:
            self.subjects.add(owner)
        metadata_names = [f"metadata.{n}" for n in METADATA_PERSONAL_FIELDS if _shows(metadata.get(n))]
        if metadata_names:
            self.subjects.add(metadata_subject(owner, metadata))
        if names or metadata_names:
            self.event_ids.add(str(event["id"]))
            self.field_names.update(names + metadata_names)

    def __bool__(self) -> bool:
        return bool(self.field_names)


def _at(obj, path: str):
    for part in path.split("."):
        if not isinstance(obj, dict):
            return None
        obj = obj.get(part)
    return obj


def _shows(value) -> bool:
    return value not in (None, "", ERASED, REDACTED)


def record_view(user, shown: Shown, *, place: str, reference: str = "") -> bool:
    """Record that `user` is shown `shown`; True when recorded (or nothing to record), False on failure."""
    if not shown:
        return True
    event_ids = sorted(shown.event_ids)
    try:
        with transaction.atomic():  # a savepoint inside a request's transaction: a failure stays here
            PersonalDataView.objects.create(
                viewer_id=user.pk,
                viewed_at=timezone.now(),
                place=place,
                reference=str(reference)[:200],
                subjects=sorted(shown.subjects),
                event_ids=event_ids[:_MAX_EVENT_IDS],
                field_names=sorted(shown.field_names),
            )
    except DatabaseError:
        logger.exception("personal data view not recorded (place %s); values shown redacted instead", place)
        return False
    return True


def events_shown_to(user, events: list, *, place: str, reference: str | uuid.UUID = "") -> list:
    """`events` (RecordedEvents or their dicts) as `user` may see them, the disclosure recorded first."""
    if can_read_personal_data(user):
        shown = Shown()
        shown.add_events(events)
        if record_view(user, shown, place=place, reference=str(reference)):
            return events
    return [redact_event_dict(e) if isinstance(e, dict) else redact_event(e) for e in events]
