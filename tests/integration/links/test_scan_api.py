"""POST/GET of scans: 202 pending, bad input 400 with no event, repeat answered from the last result."""

import uuid

import pytest
from django.test import override_settings

from eventstore.reading import read_correlation
from links_app.services import link_scan_perform

pytestmark = pytest.mark.django_db

SCANS = "/api/links/scans/"


def post_scan(api_client, body, correlation_id=None):
    headers = {"HTTP_X_CORRELATION_ID": str(correlation_id)} if correlation_id else {}
    return api_client.post(SCANS, body, format="json", **headers)


def test_anonymous_cannot_request_a_scan(api_client, fresh_url, link_events):
    url = fresh_url()
    assert post_scan(api_client, {"url": url}).status_code == 401
    assert link_events(url) == []


def test_scan_request_answers_202_with_the_pending_scan_and_records_it(
    api_client, user, fresh_url, link_events
):
    api_client.force_authenticate(user)
    url = fresh_url().replace("https://", "HTTPS://") + "#fragment"
    response = post_scan(api_client, {"url": url})
    assert response.status_code == 202
    body = response.json()
    assert body["status"] == "pending"
    assert body["verdict"] is None and body["safety_score"] is None and body["verified"] is None
    assert body["normalized_url"].startswith("https://") and "#" not in body["normalized_url"]
    [event] = link_events(url)
    assert event.type == "link:scan_requested"
    assert event.data["scan_id"] == body["id"]
    assert event.data["requested_by"] == user.pk
    assert event.data["post_id"] is None


@pytest.mark.parametrize(
    "bad_url",
    [
        "ftp://example.com/file",
        "javascript:alert(1)",
        "data:text/html,<script>alert(1)</script>",
        "https://example.com/" + "a" * 2100,
        "http://[::1",
        "not a url at all",
        "",
    ],
)
def test_bad_url_is_400_with_a_message_and_records_nothing(api_client, user, bad_url):
    api_client.force_authenticate(user)
    correlation_id = uuid.uuid4()
    response = post_scan(api_client, {"url": bad_url}, correlation_id)
    assert response.status_code == 400
    [message] = response.json()["url"]
    assert message
    assert read_correlation(correlation_id) == []


def test_scan_detail_is_public_and_unknown_scan_is_404(api_client, user, fresh_url):
    api_client.force_authenticate(user)
    scan_id = post_scan(api_client, {"url": fresh_url()}).json()["id"]
    api_client.force_authenticate(None)
    response = api_client.get(f"{SCANS}{scan_id}/")
    assert response.status_code == 200
    assert set(response.json()) >= {
        "id", "url", "normalized_url", "status", "verdict", "safety_score",
        "findings", "verified", "requested_at", "completed_at",
    }  # fmt: skip
    assert api_client.get(f"{SCANS}{uuid.uuid4()}/").status_code == 404


def test_completed_scan_shows_score_verdict_and_findings(api_client, user, fresh_url, scanner_says):
    scanner_says("malicious", score=7)
    api_client.force_authenticate(user)
    scan_id = post_scan(api_client, {"url": fresh_url()}).json()["id"]
    link_scan_perform(scan_id=uuid.UUID(scan_id))
    body = api_client.get(f"{SCANS}{scan_id}/").json()
    assert body["status"] == "completed"
    assert (body["verdict"], body["safety_score"], body["threat_category"]) == ("malicious", 7, "phishing")
    assert body["findings"] == [
        {"code": "test_rule", "severity": "high", "message": "The test says malicious."}
    ]
    assert body["completed_at"] is not None


def test_repeat_request_is_answered_from_the_recent_result_without_an_event(
    api_client, user, fresh_url, scanner_says, link_events
):
    scanner_says("safe")
    api_client.force_authenticate(user)
    url = fresh_url()
    first = post_scan(api_client, {"url": url}).json()
    link_scan_perform(scan_id=uuid.UUID(first["id"]))
    before = len(link_events(url))

    repeat = post_scan(api_client, {"url": url + "#same-link"})
    assert repeat.status_code == 200
    assert repeat.json()["id"] == first["id"]
    assert repeat.json()["status"] == "completed"
    assert len(link_events(url)) == before


def test_rescan_true_requests_a_new_scan(api_client, user, fresh_url, scanner_says, link_events):
    scanner_says("safe")
    api_client.force_authenticate(user)
    url = fresh_url()
    first = post_scan(api_client, {"url": url}).json()
    link_scan_perform(scan_id=uuid.UUID(first["id"]))

    rescan = post_scan(api_client, {"url": url, "rescan": True})
    assert rescan.status_code == 202
    assert rescan.json()["id"] != first["id"]
    assert [e.type for e in link_events(url)][-1] == "link:scan_requested"


def test_repeat_request_while_pending_returns_the_pending_scan(api_client, user, fresh_url, link_events):
    api_client.force_authenticate(user)
    url = fresh_url()
    first = post_scan(api_client, {"url": url})
    second = post_scan(api_client, {"url": url})
    assert second.status_code == 202
    assert second.json()["id"] == first.json()["id"]
    assert len(link_events(url)) == 1


@override_settings(LINK_RESCAN_AFTER=0)
def test_old_result_does_not_answer_a_repeat_request(api_client, user, fresh_url, scanner_says):
    scanner_says("safe")
    api_client.force_authenticate(user)
    url = fresh_url()
    first = post_scan(api_client, {"url": url}).json()
    link_scan_perform(scan_id=uuid.UUID(first["id"]))
    repeat = post_scan(api_client, {"url": url})
    assert repeat.status_code == 202
    assert repeat.json()["id"] != first["id"]
