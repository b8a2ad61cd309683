"""Subscribers and projections key their handlers by event type, checked when they are defined."""

import pytest

from eventstore.errors import UnknownEventType
from eventstore.projections import ALL_TYPES, Projection
from eventstore.subscribers import Subscriber, registered_subscribers
from tests.sample_events import THING_HAPPENED


def handle(event):
    return None


def test_event_types_and_their_names_key_the_same_table():
    by_type = Subscriber(name="t.by-type", handlers={THING_HAPPENED: handle})
    by_name = Subscriber(name="t.by-name", handlers={THING_HAPPENED.name: handle})
    assert by_type.handlers == by_name.handlers == {"test:thing_happened": handle}
    assert by_type.handler_for("test:thing_happened") is handle
    assert by_type.event_types == ["test:thing_happened"]


def test_a_subscriber_naming_an_undefined_type_fails_when_defined():
    with pytest.raises(UnknownEventType, match="subscriber 't-typo' handles 'test:thing_hapened'"):
        Subscriber(name="t-typo", handlers={"test:thing_hapened": handle})


def test_a_projection_naming_an_undefined_type_fails_when_defined():
    with pytest.raises(UnknownEventType, match="projection 't-typo'"):
        Projection(name="t-typo", handlers={"community:post_deleeted": handle}, models=[])
    every = Projection(name="t.every", handlers={ALL_TYPES: handle}, models=[])
    assert every.event_types is None


def test_every_registered_handler_table_names_defined_types_only():
    from eventstore.registry import registered_event_types

    defined = set(registered_event_types()) | {ALL_TYPES}
    for subscriber in registered_subscribers().values():
        assert set(subscriber.handlers) <= defined, subscriber.name
