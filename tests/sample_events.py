"""Event types used only by the event store's own tests (registered on import)."""

from eventstore.registry import EventData, define_event


class ThingHappened(EventData):
    """A thing happened (schema v2: `label` was called `name` in v1, `size` is new)."""

    label: str
    size: int = 0


def _v1_to_v2(data: dict) -> dict:
    data = dict(data)
    data["label"] = data.pop("name")
    data.setdefault("size", 0)
    return data


THING_HAPPENED = define_event(
    "test:thing_happened", ThingHappened, source="test", version=2, upcasters={1: _v1_to_v2}
)
