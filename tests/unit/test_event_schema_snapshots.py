"""check_event_schemas: what counts as a compatible change, and upcasters proved on stored samples."""

from __future__ import annotations

import uuid
from typing import Literal

import pytest
from django.core.management import call_command

from eventstore.registry import EventData, EventType
from eventstore.schema_snapshots import check_type, incompatibilities, snapshot_path, write_snapshot


class Shipped(EventData):
    """The shape recorded in the snapshot."""

    order_id: uuid.UUID
    carrier: Literal["post", "courier"]
    weight_grams: int
    note: str = ""


def event_type(schema: type[EventData], version: int = 1, upcasters=None) -> EventType:
    return EventType(
        name="test:shipped", schema=schema, source="test", version=version, upcasters=upcasters or {}
    )


@pytest.fixture
def folder(tmp_path):
    """Snapshots as committed for the original `Shipped` at version 1."""
    write_snapshot(snapshot_path(tmp_path, "test:shipped", 1), event_type(Shipped))
    return tmp_path


def test_an_unchanged_schema_passes(folder):
    report = check_type(event_type(Shipped), folder)
    assert report.ok, report


def test_a_missing_snapshot_is_reported_and_written_on_request(tmp_path):
    assert check_type(event_type(Shipped), tmp_path).missing
    assert check_type(event_type(Shipped), tmp_path, write=True).written
    assert check_type(event_type(Shipped), tmp_path).ok


def test_a_removed_field_without_a_new_version_is_incompatible(folder):
    class WithoutNote(EventData):
        order_id: uuid.UUID
        carrier: Literal["post", "courier"]
        weight_grams: int

    report = check_type(event_type(WithoutNote), folder)
    assert "data.note: removed" in report.problems


def test_a_new_required_field_is_incompatible_and_stored_samples_no_longer_read(folder):
    class WithRequiredSender(Shipped):
        sender: str

    problems = check_type(event_type(WithRequiredSender), folder).problems
    assert "data.sender: became required" in problems
    assert any(problem.startswith("v1 sample 0 does not read as v1") for problem in problems)


def test_a_narrowed_type_or_enum_is_incompatible(folder):
    class NarrowedCarrier(EventData):
        order_id: uuid.UUID
        carrier: Literal["post"]
        weight_grams: int
        note: str = ""

    class TextWeight(EventData):
        order_id: uuid.UUID
        carrier: Literal["post", "courier"]
        weight_grams: str
        note: str = ""

    assert (
        "data.carrier: values ['courier'] are no longer accepted"
        in check_type(event_type(NarrowedCarrier), folder).problems
    )
    assert (
        "data.weight_grams: integer is no longer accepted"
        in check_type(event_type(TextWeight), folder).problems
    )


def test_an_optional_field_or_a_widened_enum_is_compatible_but_asks_for_a_new_snapshot(folder):
    class Widened(EventData):
        order_id: uuid.UUID
        carrier: Literal["post", "courier", "pickup"]
        weight_grams: int
        note: str = ""
        fragile: bool = False

    report = check_type(event_type(Widened), folder)
    assert report.problems == []
    assert report.outdated and not report.ok
    assert check_type(event_type(Widened), folder, write=True).written
    assert check_type(event_type(Widened), folder).ok


def test_an_incompatible_schema_is_never_written(folder):
    class WithoutNote(EventData):
        order_id: uuid.UUID
        carrier: Literal["post", "courier"]
        weight_grams: int

    before = snapshot_path(folder, "test:shipped", 1).read_text()
    report = check_type(event_type(WithoutNote), folder, write=True)
    assert report.problems and not report.written
    assert snapshot_path(folder, "test:shipped", 1).read_text() == before


class ShippedV2(EventData):
    """v2: the weight in kilograms, the note renamed to `comment`."""

    order_id: uuid.UUID
    carrier: Literal["post", "courier"]
    weight_kg: float
    comment: str = ""


def v1_to_v2(data: dict) -> dict:
    return {
        "order_id": data["order_id"],
        "carrier": data["carrier"],
        "weight_kg": data["weight_grams"] / 1000,
        "comment": data.get("note", ""),
    }


def test_a_new_version_with_an_upcaster_reads_every_stored_sample(folder):
    report = check_type(event_type(ShippedV2, version=2, upcasters={1: v1_to_v2}), folder, write=True)
    assert report.problems == [] and report.written
    assert check_type(event_type(ShippedV2, version=2, upcasters={1: v1_to_v2}), folder).ok
    # The v1 snapshot is history: writing v2 left it as it was.
    assert "weight_grams" in snapshot_path(folder, "test:shipped", 1).read_text()


def test_an_upcaster_that_loses_a_required_field_fails_on_the_stored_samples(folder):
    def forgets_the_carrier(data: dict) -> dict:
        return {"order_id": data["order_id"], "weight_kg": data["weight_grams"] / 1000}

    report = check_type(event_type(ShippedV2, version=2, upcasters={1: forgets_the_carrier}), folder)
    assert any("v1 sample" in problem and "carrier" in problem.lower() for problem in report.problems), report


def test_a_new_version_without_a_snapshot_of_the_old_one_fails(tmp_path):
    report = check_type(event_type(ShippedV2, version=2, upcasters={1: v1_to_v2}), tmp_path)
    assert "no snapshot of version 1: its upcaster is untested" in report.problems


def test_nested_models_and_nullable_fields_are_compared_through_their_definitions():
    class Change(EventData):
        before: str
        after: str

    class Old(EventData):
        changes: dict[Literal["title", "body"], Change]
        urls: list[str] | None = None

    class New(EventData):
        changes: dict[Literal["title", "body"], Change]
        urls: list[int] | None = None

    assert incompatibilities(Old.model_json_schema(), Old.model_json_schema()) == []
    assert incompatibilities(Old.model_json_schema(), New.model_json_schema()) == [
        "data.urls[]: string is no longer accepted"
    ]


def test_the_committed_snapshots_match_every_registered_event_type(capsys):
    """The CI guard: fails when an app changed an event schema incompatibly without a new version."""
    call_command("check_event_schemas")
    out = capsys.readouterr().out
    assert "community:post_created v2: ok" in out
    assert "fails" not in out
