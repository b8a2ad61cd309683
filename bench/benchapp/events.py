"""The bench event type: a realistic ~300-byte payload on its own stream per thing."""

from __future__ import annotations

import uuid

from eventstore.registry import EventData, define_event


class ThingRecorded(EventData):
    """A benchmark writer recorded a thing (shape and size of a typical domain event)."""

    thing_id: uuid.UUID
    name: str
    kind: str
    colour: str
    quantity: int
    price: float
    tags: list[str]
    owner_id: int
    active: bool
    note: str


THING_RECORDED = define_event("bench:thing_recorded", ThingRecorded, source="bench")


class LatencyProbe(ThingRecorded):
    """A thing recorded to time its way to a subscriber (bench/latency.py); same shape and size."""


# A type of its own: only the latency subscriber handles it, so the write figures'
# events cost the stream runner no more than any event nobody subscribes to.
LATENCY_PROBE = define_event("bench:latency_probe", LatencyProbe, source="bench")


def thing_payload(n: int) -> dict:
    """The payload every writer (raw, peer, platform) stores: ~300 bytes of JSON."""
    return {
        "thing_id": str(uuid.uuid4()),
        "name": f"thing number {n}",
        "kind": "widget",
        "colour": "blue",
        "quantity": n % 1000,
        "price": 12.5,
        "tags": ["alpha", "beta", "gamma"],
        "owner_id": 42,
        "active": True,
        "note": "A note of ordinary length, as a user would type it when recording a thing: "
        "what it is, where it came from, and why it matters here.",
    }
