"""`make bench`'s rebuild-under-load suite reads the swap's duration from replay_events' log line.

The line is the instrument (no timing is asserted): if its wording changes, the
bench would report no swap at all, so this runs a real rebuild, formats its
record as the command's console handler does, and parses it with the bench.
"""

import logging

import pytest

from bench.rebuild_load import _SWAP_LINE, _log_time
from eventstore.projections import registered_projections
from eventstore.replay import rebuild_projections
from platform_site.logging import TextFormatter

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_bench_parses_every_swap_line_a_rebuild_logs(caplog):
    with caplog.at_level(logging.INFO, logger="eventstore.replay"):
        rebuild_projections(list(registered_projections().values()))
    formatter = TextFormatter()
    lines = [formatter.format(r) for r in caplog.records if "swapped in" in r.getMessage()]
    assert len(lines) == 2, lines  # the inline projections together, then the async one
    parsed = [_SWAP_LINE.search(line) for line in lines]
    assert all(parsed), lines
    inline, stats = parsed
    assert "community.posts" in inline[2] and stats[2] == "eventstore.event_stats"
    for match in parsed:
        assert float(match[3]) >= 0 and float(match[4]) >= 0
        assert _log_time(match[1]) > 0
