"""Projection versions: a projection whose code changed is rebuilt alone by the release step, then recorded."""

import dataclasses
import io
import random

import pytest
from django.core.management import CommandError, call_command

from eventstore import projection_versions, projections
from eventstore.models import ProjectionVersion
from eventstore.replay import rebuild_projection
from tests.rebuild_workload import (
    make_authors,
    snapshot_inline,
    write_once,
)

pytestmark = pytest.mark.django_db(transaction=True)
NAME = "community.votes"


@pytest.fixture
def votes_v2(monkeypatch):
    """The votes projection as a release that raised its version registers it."""
    raised = dataclasses.replace(projections.get_projection(NAME), version=2)
    monkeypatch.setitem(projections._projections, NAME, raised)
    return raised


def replay_outdated() -> str:
    out = io.StringIO()
    call_command("replay_events", "--outdated", "--no-input", verbosity=2, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def test_tables_built_by_migrations_count_as_version_one_and_nothing_is_outdated():
    assert projection_versions.outdated() == []
    assert projection_versions.check_projection_versions() == []
    assert "nothing to rebuild" in replay_outdated()


def test_a_raised_version_is_warned_about_rebuilt_alone_and_recorded(votes_v2):
    # The log outlives each test's flush of the tables: start from the tables the log gives.
    rebuild_projection(projections.get_projection(NAME))
    ProjectionVersion.objects.all().delete()  # as built by the migrations: version 1
    authors, posts, rng = make_authors(), [], random.Random(3)
    for _ in range(40):
        write_once(rng, authors, posts)
    before = snapshot_inline()

    assert projection_versions.outdated() == [votes_v2]
    [warning] = projection_versions.check_projection_versions()
    assert warning.id == "eventstore.W001" and NAME in warning.msg and "version 1" in warning.msg

    out = replay_outdated()
    assert f"Outdated: {NAME} (v2)" in out
    rebuilt = [line.split(":")[0].strip() for line in out.splitlines() if line.startswith("  ")]
    assert rebuilt == [NAME], out  # that projection alone
    assert ProjectionVersion.objects.get(name=NAME).version == 2
    assert snapshot_inline() == before  # same rows: the rebuild swapped in what the log says
    assert projection_versions.outdated() == []
    assert projection_versions.check_projection_versions() == []
    assert "nothing to rebuild" in replay_outdated()


def test_outdated_refuses_a_projection_list():
    with pytest.raises(CommandError, match="--outdated chooses"):
        call_command("replay_events", "--outdated", "--projection", NAME, "--no-input", stdout=io.StringIO())
