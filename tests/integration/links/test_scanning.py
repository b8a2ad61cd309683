"""Performing scans: the scanner subscriber's events, idempotency, crashes, retries with backoff."""

import json
import uuid

import pytest
import redis
from django.conf import settings
from django.test import override_settings

from eventstore.envelope import RecordedEvent
from eventstore.reading import read_stream
from links_app.handlers import run_requested_scan
from links_app.models import Scan
from links_app.services import link_scan_perform, link_scan_request
from links_app.tasks import perform_scan, retry_failed_scans

pytestmark = pytest.mark.django_db


def requested(url: str) -> RecordedEvent:
    """The scan_requested event of a fresh request for `url`."""
    scan = link_scan_request(url=url, rescan=True).scan
    return read_stream(f"link-{scan.link_id}")[-1]


def types_after(event: RecordedEvent) -> list[str]:
    return [e.type for e in read_stream(event.stream_id, after_version=event.stream_version)]


def test_scanner_subscriber_records_threat_for_a_known_malicious_url():
    # An IP-literal host with credential-phishing words: the scanner's textbook bad link.
    event = requested(
        f"http://203.0.113.{uuid.uuid4().int % 250 + 1}/secure-login/verify-account/paypal/signin.php"
    )
    run_requested_scan(event)
    completed, analysis, threat = read_stream(event.stream_id, after_version=event.stream_version)
    assert completed.type == "link:scan_completed"
    assert completed.data["verdict"] == "malicious"
    assert completed.data["safety_score"] < 50
    assert analysis.type == "link:security_analysis"
    assert analysis.data["findings"] and all(
        {"code", "severity", "message"} == set(f) for f in analysis.data["findings"]
    )
    assert threat.type == "link:threat_detected"
    assert threat.data["verdict"] == "malicious" and threat.data["threat_category"]
    assert threat.data["link_id"] == event.data["link_id"] and threat.data["scan_id"] == event.data["scan_id"]
    assert Scan.objects.get(id=event.data["scan_id"]).link.verdict == "malicious"


def test_scanner_subscriber_records_no_threat_for_a_safe_url():
    event = requested(f"https://www.wikipedia.org/wiki/Special:Random?x={uuid.uuid4().hex[:6]}")
    run_requested_scan(event)
    assert types_after(event) == ["link:scan_completed", "link:security_analysis"]
    assert read_stream(event.stream_id)[-2].data["verdict"] == "safe"


def test_suspicious_verdict_also_records_a_threat(fresh_url, scanner_says):
    scanner_says("suspicious", category=None)
    event = requested(fresh_url())
    run_requested_scan(event)
    threat = read_stream(event.stream_id)[-1]
    assert (threat.type, threat.data["verdict"], threat.data["threat_category"]) == (
        "link:threat_detected",
        "suspicious",
        "unknown",
    )


def test_a_scans_result_is_recorded_right_after_its_request_in_one_transaction(fresh_url, scanner_says):
    scanner_says("malicious")
    event = requested(fresh_url())
    run_requested_scan(event)
    result = read_stream(event.stream_id, after_version=event.stream_version)
    assert [e.stream_version for e in result] == [event.stream_version + n for n in (1, 2, 3)]
    assert [e.position - result[0].position for e in result] == [0, 1, 2]  # one transaction's positions
    assert len({(e.correlation_id, e.causation_id) for e in result}) == 1  # one unit of work
    assert Scan.objects.get(id=event.data["scan_id"]).link.stream_version == result[-1].stream_version


def test_performing_a_completed_scan_again_records_nothing(fresh_url, scanner_says):
    scanner_says("malicious")
    event = requested(fresh_url())
    run_requested_scan(event)
    version = len(read_stream(event.stream_id))
    run_requested_scan(event)  # redelivery
    perform_scan(event.data["scan_id"])  # a late retry task
    assert len(read_stream(event.stream_id)) == version


def queued_retries(scan_id) -> list[dict]:
    """perform_scan messages for `scan_id` waiting in the real broker (removed once read)."""
    client = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    found = []
    for raw in client.lrange("celery", 0, -1):
        message = json.loads(raw)
        headers = message.get("headers", {})
        if headers.get("task") == "links_app.tasks.perform_scan" and str(scan_id) in headers.get(
            "argsrepr", ""
        ):
            found.append(headers)
            client.lrem("celery", 0, raw)
    return found


def test_crash_marks_scan_failed_with_reason_and_schedules_a_retry(
    fresh_url, scanner_crashes, django_capture_on_commit_callbacks
):
    event = requested(fresh_url())
    with django_capture_on_commit_callbacks(execute=True):
        run_requested_scan(event)
    [failed] = read_stream(event.stream_id, after_version=event.stream_version)
    assert failed.type == "link:scan_failed"
    assert failed.data["reason"] == "RuntimeError: scanner exploded"
    assert (failed.data["attempt"], failed.data["retry_in_seconds"]) == (1, 30)
    scan = Scan.objects.get(id=event.data["scan_id"])
    assert scan.status == "failed" and scan.link.status == "failed"
    assert scan.next_retry_at is not None
    [retry] = queued_retries(scan.id)
    assert retry["eta"] is not None


def test_backoff_doubles_with_each_failed_attempt(fresh_url, scanner_crashes):
    event = requested(fresh_url())
    scan_id = uuid.UUID(event.data["scan_id"])
    for _ in range(3):
        link_scan_perform(scan_id=scan_id)
    delays = [
        e.data["retry_in_seconds"] for e in read_stream(event.stream_id) if e.type == "link:scan_failed"
    ]
    assert delays == [30, 60, 120]


@override_settings(LINK_SCAN_MAX_ATTEMPTS=2)
def test_no_retry_after_the_last_attempt(fresh_url, scanner_crashes):
    event = requested(fresh_url())
    scan_id = uuid.UUID(event.data["scan_id"])
    for _ in range(3):
        link_scan_perform(scan_id=scan_id)
    failures = [e.data for e in read_stream(event.stream_id) if e.type == "link:scan_failed"]
    assert [(f["attempt"], f["retry_in_seconds"]) for f in failures] == [(1, 30), (2, None)]
    assert Scan.objects.get(id=scan_id).next_retry_at is None


@override_settings(LINK_SCAN_RETRY_BASE_SECONDS=0)
def test_sweep_rescans_failed_scans_in_the_request_correlation(fresh_url, monkeypatch, scanner_says):
    monkeypatch.setattr("links_app.services.perform.scan_url", lambda url: 1 / 0)
    event = requested(fresh_url())
    run_requested_scan(event)
    failure = read_stream(event.stream_id)[-1]
    scanner_says("safe")  # the scanner recovers

    assert retry_failed_scans() >= 1
    completed = read_stream(event.stream_id, after_version=failure.stream_version)[0]
    assert completed.type == "link:scan_completed"
    assert completed.data["attempt"] == 2
    assert completed.correlation_id == event.correlation_id
    assert completed.causation_id == failure.id
    assert Scan.objects.get(id=event.data["scan_id"]).status == "completed"


def test_sweep_waits_for_the_backoff(fresh_url, scanner_crashes):
    event = requested(fresh_url())
    run_requested_scan(event)
    retry_failed_scans()
    assert [e.type for e in read_stream(event.stream_id)].count("link:scan_failed") == 1
