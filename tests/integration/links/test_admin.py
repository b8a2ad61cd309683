"""Admin: links and scans are read-only with readable findings; verify goes through the service."""

import pytest
from django.urls import reverse

from eventstore.reading import read_stream
from links_app.services import link_scan_perform, link_scan_request

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client_for(client, make_user):
    admin_user = make_user(is_staff=True, is_superuser=True)
    client.force_login(admin_user)
    return client, admin_user


@pytest.fixture
def malicious_scan(fresh_url, scanner_says):
    scanner_says("malicious")
    return link_scan_perform(scan_id=link_scan_request(url=fresh_url()).scan.id)


def test_link_and_scan_pages_show_findings_and_cannot_be_edited(admin_client_for, malicious_scan):
    client, _ = admin_client_for
    link_page = client.get(reverse("admin:links_app_link_change", args=[malicious_scan.link_id]))
    scan_page = client.get(reverse("admin:links_app_scan_change", args=[malicious_scan.id]))
    for page in (link_page, scan_page):
        assert page.status_code == 200
        assert b"<code>test_rule</code>: The test says malicious." in page.content
        assert b'name="_save"' not in page.content
    assert client.get(reverse("admin:links_app_link_add")).status_code == 403


def test_admin_verify_form_records_link_verified_through_the_service(admin_client_for, malicious_scan):
    client, admin_user = admin_client_for
    url = reverse("admin:links_app_link_verify", args=[malicious_scan.link_id])
    assert client.get(url).status_code == 200
    response = client.post(url, {"verdict": "safe", "note": "Known partner site."})
    assert response.status_code == 302
    verified = read_stream(f"link-{malicious_scan.link_id}")[-1]
    assert verified.type == "link:link_verified"
    assert (verified.data["verdict"], verified.data["verified_by"]) == ("safe", admin_user.pk)


def test_admin_verify_form_rejects_an_unknown_verdict(admin_client_for, malicious_scan):
    client, _ = admin_client_for
    url = reverse("admin:links_app_link_verify", args=[malicious_scan.link_id])
    response = client.post(url, {"verdict": "evil"})
    assert response.status_code == 200
    assert read_stream(f"link-{malicious_scan.link_id}")[-1].type != "link:link_verified"
