"""Link list filters, moderator verification (permissions, event) and its override in every read."""

import uuid

import pytest

from eventstore.reading import read_correlation
from links_app.selectors import link_summaries
from links_app.services import link_scan_perform, link_scan_request

pytestmark = pytest.mark.django_db


@pytest.fixture
def scanned_link(fresh_url, scanner_says):
    """A link the scanner judged `verdict`; returns its scan (with `.link`)."""

    def scan(verdict: str, url: str | None = None):
        scanner_says(verdict)
        outcome = link_scan_request(url=url or fresh_url())
        return link_scan_perform(scan_id=outcome.scan.id)

    return scan


def verify(api_client, link_id, body, correlation_id=None):
    headers = {"HTTP_X_CORRELATION_ID": str(correlation_id)} if correlation_id else {}
    return api_client.post(f"/api/links/{link_id}/verify/", body, format="json", **headers)


def test_list_filters_by_registered_domain_and_effective_verdict(api_client, scanned_link):
    host = f"shop-{uuid.uuid4().hex[:10]}.co.uk"
    bad = scanned_link("malicious", f"https://login.{host}/a")
    good = scanned_link("safe", f"https://www.{host}/b")
    scanned_link("malicious")  # another domain

    response = api_client.get("/api/links/", {"domain": f"www.{host}"})
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"count", "next", "previous", "results"}
    assert {r["id"] for r in body["results"]} == {str(bad.link_id), str(good.link_id)}
    assert all(r["domain"] == host for r in body["results"])

    malicious = api_client.get("/api/links/", {"domain": host, "verdict": "malicious"}).json()["results"]
    assert [r["id"] for r in malicious] == [str(bad.link_id)]
    assert malicious[0]["safety_score"] == 5


def test_list_rejects_an_unknown_verdict(api_client):
    assert api_client.get("/api/links/", {"verdict": "evil"}).status_code == 400


def test_verify_requires_sign_in_and_a_moderator(api_client, make_user, scanned_link):
    scan = scanned_link("malicious")
    correlation_id = uuid.uuid4()
    assert verify(api_client, scan.link_id, {"verdict": "safe"}, correlation_id).status_code == 401
    api_client.force_authenticate(make_user())
    assert verify(api_client, scan.link_id, {"verdict": "safe"}, correlation_id).status_code == 403
    assert read_correlation(correlation_id) == []


def test_staff_count_as_moderators(api_client, make_user, scanned_link):
    api_client.force_authenticate(make_user(is_staff=True))
    assert verify(api_client, scanned_link("safe").link_id, {"verdict": "malicious"}).status_code == 200


def test_moderator_verification_records_link_verified(api_client, moderator, scanned_link):
    scan = scanned_link("malicious")
    api_client.force_authenticate(moderator)
    correlation_id = uuid.uuid4()
    response = verify(
        api_client, scan.link_id, {"verdict": "safe", "note": "Our own docs site."}, correlation_id
    )
    assert response.status_code == 200
    body = response.json()
    assert body["verdict"] == "safe" and body["scanner_verdict"] == "malicious"
    assert body["verified"]["by"] == {"id": moderator.pk, "username": moderator.username}
    [event] = read_correlation(correlation_id)
    assert event.type == "link:link_verified"
    assert event.stream_id == f"link-{scan.link_id}"
    assert event.data["verified_by"] == moderator.pk
    assert event.data["normalized_url"] == scan.normalized_url
    assert (event.data["verdict"], event.data["note"], event.data["previous_verdict"]) == (
        "safe",
        "Our own docs site.",
        "malicious",
    )


@pytest.mark.parametrize(
    "body", [{"verdict": "evil"}, {"verdict": "safe", "note": "x" * 1001}, {"note": "no verdict"}]
)
def test_bad_verification_is_400_and_records_nothing(api_client, moderator, scanned_link, body):
    scan = scanned_link("safe")
    api_client.force_authenticate(moderator)
    correlation_id = uuid.uuid4()
    assert verify(api_client, scan.link_id, body, correlation_id).status_code == 400
    assert read_correlation(correlation_id) == []


def test_verifying_an_unknown_link_is_404(api_client, moderator):
    api_client.force_authenticate(moderator)
    response = verify(api_client, uuid.uuid4(), {"verdict": "safe"})
    assert response.status_code == 404
    assert response.json() == {"detail": "No such link."}


def test_moderator_verdict_overrides_the_scanner_in_every_read(api_client, moderator, scanned_link):
    scan = scanned_link("malicious")
    api_client.force_authenticate(moderator)
    verify(api_client, scan.link_id, {"verdict": "safe"})
    api_client.force_authenticate(None)

    scan_body = api_client.get(f"/api/links/scans/{scan.id}/").json()
    assert scan_body["verdict"] == "safe" and scan_body["scanner_verdict"] == "malicious"
    assert scan_body["verified"]["verdict"] == "safe"
    assert api_client.get(f"/api/links/{scan.link_id}/").json()["verdict"] == "safe"
    listed = api_client.get("/api/links/", {"verdict": "safe", "domain": scan.link.domain}).json()["results"]
    assert str(scan.link_id) in {r["id"] for r in listed}
    assert link_summaries([scan.normalized_url])[scan.normalized_url]["verdict"] == "safe"


def test_moderator_verdict_still_wins_after_a_rescan(moderator, scanned_link, scanner_says):
    from links_app.services import link_verify

    scan = scanned_link("safe")
    link_verify(link_id=scan.link_id, verdict="malicious", note="", moderator=moderator)
    scanner_says("safe")
    rescan = link_scan_request(url=scan.url, rescan=True)
    link_scan_perform(scan_id=rescan.scan.id)
    summary = link_summaries([scan.normalized_url])[scan.normalized_url]
    assert (summary["status"], summary["verdict"]) == ("completed", "malicious")


def test_link_summaries_is_one_query_and_leaves_unknown_urls_out(scanned_link, django_assert_num_queries):
    first, second = scanned_link("safe"), scanned_link("suspicious")
    unknown = f"https://unknown-{uuid.uuid4().hex}.example/"
    with django_assert_num_queries(1):
        summaries = link_summaries([first.normalized_url, second.normalized_url, unknown])
    assert summaries[first.normalized_url] == {
        "id": first.link_id,
        "url": first.normalized_url,
        "status": "completed",
        "verdict": "safe",
        "safety_score": 95,
    }
    assert summaries[second.normalized_url]["verdict"] == "suspicious"
    assert unknown not in summaries
