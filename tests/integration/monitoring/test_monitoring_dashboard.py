"""The live dashboard: its figures, its Server-Sent Events feed, and /metrics."""

import itertools
import uuid

import orjson
import pytest
from django.db import transaction
from prometheus_client.parser import text_string_to_metric_families

from eventstore import streams
from eventstore.bus import publish
from eventstore.redis import get_redis
from eventstore.statistics import count_event
from monitoring_app.live import live_events
from tests.conftest import wait_until_followable
from tests.sample_events import THING_HAPPENED

pytestmark = pytest.mark.django_db


@pytest.fixture
def private_live_channel(settings):
    # Pub/Sub channels ignore Redis database numbers: other test runs on this Redis server
    # publish on the default channel, so these tests listen on one of their own.
    settings.EVENT_STREAM_PREFIX = f"ui-test-{uuid.uuid4().hex[:8]}:"
    return streams.live_channel()


def test_status_counts_events_per_minute_and_by_type_and_checks_every_piece(staff_client, thing_stream):
    before = staff_client.get("/dashboard/status.json").json()
    event = thing_stream("counted")
    count_event(event)  # the event-statistics projection's handler (async in production)

    status = staff_client.get("/dashboard/status.json").json()
    assert len(status["per_minute"]) == 60
    assert sum(p["count"] for p in status["per_minute"]) == sum(p["count"] for p in before["per_minute"]) + 1
    counted = {row["type"]: row["count"] for row in status["by_type"]}
    assert counted["test:thing_happened"] >= 1
    assert status["health"]["postgres"]["status"] == "ok"
    assert status["health"]["redis"]["status"] == "ok"
    # No Celery worker listens on this test's broker: the dashboard must say so.
    assert status["health"]["workers"] == {"status": "unavailable", "count": 0, "names": []}
    assert "test-recorder" in {row["name"] for row in status["subscribers"]}


def test_the_dashboard_page_renders_with_subscribers_and_a_live_feed_url(staff_client):
    page = staff_client.get("/dashboard/")
    assert page.status_code == 200
    assert b'data-live-url="/dashboard/live/"' in page.content
    assert b'data-subscriber="test-recorder"' in page.content
    assert b"//cdn" not in page.content and b"https://" not in page.content  # nothing from a CDN


def test_the_live_feed_is_an_event_stream(staff_client):
    response = staff_client.get("/dashboard/live/")
    try:
        assert response["Content-Type"] == "text/event-stream"
        assert response["Cache-Control"] == "no-cache"
        assert next(iter(response.streaming_content)).startswith(b"retry: ")
    finally:
        response.close()


def test_live_events_forwards_what_the_relay_publishes(private_live_channel):
    frames = live_events(get_redis(), max_seconds=10)
    assert next(frames).startswith("retry: ")  # subscribed from here on
    batch = [{"position": 41, "type": "test:thing_happened"}, {"position": 42, "type": "user:created"}]
    get_redis().publish(private_live_channel, orjson.dumps(batch))
    frame = next(frames)
    frames.close()
    lines = frame.strip().split("\n")
    assert lines[0] == "id: 42"  # the browser resumes after it on reconnect
    assert lines[1] == "event: events"
    assert orjson.loads(lines[2].removeprefix("data: ")) == batch


def test_live_events_send_keep_alives_and_end_after_their_time(private_live_channel):
    ticks = itertools.count(step=6)  # a clock that moves 6 s per look
    frames = list(live_events(get_redis(), max_seconds=60, clock=lambda: next(ticks)))
    assert ": keep-alive\n\n" in frames
    assert len(frames) < 20  # ended by the deadline, not by a message


@pytest.mark.django_db(transaction=True)
def test_a_reconnecting_browser_gets_the_events_it_missed(private_live_channel):
    stream = f"thing-{uuid.uuid4().hex[:10]}"
    with transaction.atomic():
        seen = publish(THING_HAPPENED, stream_id=stream, data={"label": "seen"})
    with transaction.atomic():
        missed = publish(THING_HAPPENED, stream_id=stream, data={"label": "missed"})
    wait_until_followable(missed.position)
    frames = live_events(get_redis(), after_position=seen.position, max_seconds=1)
    next(frames)
    backfill = next(frames)
    frames.close()
    payload = orjson.loads(backfill.strip().split("\n")[2].removeprefix("data: "))
    assert missed.position in [item["position"] for item in payload]
    assert seen.position not in [item["position"] for item in payload]


def _metrics(client) -> dict:
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=0.0.4")
    return {family.name: family for family in text_string_to_metric_families(response.content.decode())}


def _scans(families, verdict) -> float:
    samples = families["platform_link_scans"].samples
    return sum(s.value for s in samples if s.labels.get("verdict") == verdict and s.name.endswith("_total"))


def test_metrics_report_the_platforms_figures_in_prometheus_format(staff_client):
    from links_app.services import link_scan_perform, link_scan_request

    before = _metrics(staff_client)
    url = f"http://203.0.113.77/paypal.com/secure/login/verify-account/{uuid.uuid4().hex[:8]}.php?cmd=_login"
    scan = link_scan_perform(scan_id=link_scan_request(url=url).scan.id)
    after = _metrics(staff_client)
    assert _scans(after, scan.verdict) == _scans(before, scan.verdict) + 1
    assert after["platform_events_appended"].type == "counter"
    assert after["platform_relay_lag_events"].type == "gauge"
    lags = {s.labels["subscriber"] for s in after["platform_subscriber_lag_events"].samples}
    parked = {s.labels["subscriber"] for s in after["platform_subscriber_parked_events"].samples}
    assert "test-recorder" in lags and "test-recorder" in parked
    assert "process_cpu_seconds" in after or "python_info" in after
    assert after["platform_log_head_position"].samples[0].value >= 0
