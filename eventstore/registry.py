"""The event type registry: one definition per type, with schema and upcasters.

Each app declares its types in its own `events.py` with `define_event`. The
schema is a pydantic model that forbids unknown fields, so publishing data that
does not fit is an error in the publishing code (caught by tests), not a
surprise for a reader years later. Stored events keep the shape they were
written with; upcasters lift old shapes to the current one on every read.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pydantic

from .errors import InvalidEventData, UnknownEventType

Upcaster = Callable[[dict[str, Any]], dict[str, Any]]


class EventData(pydantic.BaseModel):
    """Base for event schemas: strict about unknown fields, immutable."""

    model_config = pydantic.ConfigDict(extra="forbid", frozen=True)


# eq=False: one object per type, so it is hashable (a key of handler tables) by identity.
@dataclass(frozen=True, eq=False)
class EventType:
    """One registered event type.

    `upcasters[n]` turns data of schema version n into version n + 1; a chain of
    them brings any stored version to `version`. `personal_fields` name data
    fields that hold personal data (encrypted per user, see eventstore.privacy);
    a dotted name reaches into a nested object. `personal_subject` names the
    data field holding the id of the user whose key encrypts them.
    """

    name: str
    schema: type[EventData]
    source: str
    version: int = 1
    upcasters: Mapping[int, Upcaster] = field(default_factory=dict)
    personal_fields: tuple[str, ...] = ()
    personal_subject: str | None = None
    description: str = ""

    def validate(self, data: Mapping[str, Any] | EventData) -> dict[str, Any]:
        """Return `data` checked against the schema, as JSON-ready primitives."""
        if isinstance(data, EventData):
            if not isinstance(data, self.schema):
                raise InvalidEventData(
                    f"{self.name}: expected {self.schema.__name__}, got {type(data).__name__}"
                )
            return data.model_dump(mode="json")
        try:
            # The model's own validator and serializer, as model_validate() and
            # model_dump() call them, without their wrappers: a third less per event.
            model = self.schema.__pydantic_validator__.validate_python(
                data if type(data) is dict else dict(data)
            )
            return self.schema.__pydantic_serializer__.to_python(model, mode="json")
        except pydantic.ValidationError as exc:
            raise InvalidEventData(f"{self.name}: {exc}") from exc

    def upcast(self, schema_version: int, data: dict[str, Any]) -> dict[str, Any]:
        """Bring stored data of `schema_version` to the current version's shape."""
        for version in range(schema_version, self.version):
            data = self.upcasters[version](data)
        return data


_registry: dict[str, EventType] = {}


def define_event(
    name: str,
    schema: type[EventData],
    *,
    source: str,
    version: int = 1,
    upcasters: Mapping[int, Upcaster] | None = None,
    personal_fields: tuple[str, ...] = (),
    personal_subject: str | None = None,
) -> EventType:
    """Register an event type; its name is `domain:action` and never changes."""
    if ":" not in name:
        raise ValueError(f"event type {name!r} must be named 'domain:action'")
    upcasters = dict(upcasters or {})
    missing = [v for v in range(1, version) if v not in upcasters]
    if missing:
        raise ValueError(f"{name}: no upcaster from schema version(s) {missing}")
    unknown = {path.split(".")[0] for path in personal_fields} - set(schema.model_fields)
    if personal_subject is not None and personal_subject not in schema.model_fields:
        unknown.add(personal_subject)
    if unknown:
        raise ValueError(f"{name}: personal fields {sorted(unknown)} are not in the schema")
    event_type = EventType(
        name=name,
        schema=schema,
        source=source,
        version=version,
        upcasters=upcasters,
        personal_fields=personal_fields,
        personal_subject=personal_subject,
        description=(schema.__doc__ or "").strip(),
    )
    existing = _registry.get(name)
    if existing is not None and existing.schema is not schema:
        raise ValueError(f"event type {name!r} is registered twice")
    _registry[name] = event_type
    return event_type


def get_event_type(name: str) -> EventType:
    try:
        return _registry[name]
    except KeyError:
        raise UnknownEventType(name) from None


def registered_event_types() -> dict[str, EventType]:
    return dict(_registry)
