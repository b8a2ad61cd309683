"""A rebuild counts the event statistics of the stored log on the server (Projection.apply_stored_sql).

The counts must be the rows that counting the same events in Python
(`count_events`, what the live consumer and an archive replay use) leaves,
whatever the batch size, and the build must account for every event it counted.
"""

import random

import pytest

from eventstore.models import EventStat
from eventstore.projections import registered_projections
from eventstore.reading import follow
from eventstore.replay import projection_snapshot, rebuild_projections
from eventstore.statistics import count_events
from tests.rebuild_workload import make_authors, write_once

pytestmark = pytest.mark.django_db(transaction=True)


def counted_in_python(stats) -> dict:
    stats.reset()
    for batch in follow(with_data=False):
        count_events(batch)
    return projection_snapshot(stats)


@pytest.mark.parametrize("batch_size", [7, 20_000])
def test_counts_made_on_the_server_equal_the_counts_made_in_python(batch_size):
    stats = registered_projections()["eventstore.event_stats"]
    assert stats.apply_stored_sql is not None
    authors = make_authors()
    rng, posts = random.Random(batch_size), []
    for _ in range(60):
        write_once(rng, authors, posts)
    logged = sum(len(batch) for batch in follow(with_data=False))

    applied = rebuild_projections([stats], batch_size=batch_size)
    rebuilt = projection_snapshot(stats)

    assert applied == {stats.name: logged}
    assert sum(EventStat.objects.values_list("count", flat=True)) == logged
    assert len({row[1] for row in rebuilt["eventstore_eventstat"]}) > 3, "several event types counted"
    assert rebuilt == counted_in_python(stats)
