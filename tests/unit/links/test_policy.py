"""Pure rules: link identity and retry backoff."""

import uuid

from links_app.services.policy import link_id_for, retry_delay_seconds


def test_link_id_is_the_same_for_the_same_normalized_url():
    url = "https://example.com/a"
    assert link_id_for(url) == link_id_for(url)
    assert link_id_for(url).version == 5
    assert link_id_for(url) != link_id_for("https://example.com/b")


def test_link_id_never_changes_across_releases():
    # Stored streams are named after these ids; a change would split every link in two.
    assert link_id_for("https://example.com/") == uuid.UUID("f2890607-4874-573a-82a6-459906b3676f")


def test_backoff_doubles_and_stops_after_the_last_attempt():
    delays = [retry_delay_seconds(n, base=30, max_attempts=5) for n in range(1, 6)]
    assert delays == [30, 60, 120, 240, None]


def test_backoff_is_capped_at_an_hour():
    assert retry_delay_seconds(12, base=30, max_attempts=20) == 3600
