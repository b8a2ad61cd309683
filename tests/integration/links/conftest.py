"""Fixtures for the links app: fresh URLs, users, a scanner stand-in, link stream helpers."""

from __future__ import annotations

import uuid

import pytest

from eventstore.reading import read_stream
from links_app.events import link_stream
from links_app.scanner import Finding, ScanResult, normalize_url
from links_app.services import link_id_for


@pytest.fixture
def fresh_url():
    """A URL no other test uses (committed events outlive tests, link ids derive from URLs)."""

    def make(host: str | None = None, path: str = "page") -> str:
        return f"https://{host or f'site-{uuid.uuid4().hex[:12]}.example.com'}/{path}/{uuid.uuid4().hex[:8]}"

    return make


@pytest.fixture
def link_events():
    """The types (or whole events) recorded on the link stream of `url`."""

    def events(url: str) -> list:
        return read_stream(link_stream(link_id_for(normalize_url(url))))

    return events


@pytest.fixture
def user(make_user):
    return make_user()


@pytest.fixture
def moderator(make_user):
    from django.contrib.auth.models import Group

    member = make_user()
    member.groups.add(Group.objects.get_or_create(name="moderators")[0])
    return member


@pytest.fixture
def scanner_says(monkeypatch):
    """Make the scanner answer `verdict` (monkeypatching the pure scanner function only)."""

    def configure(verdict: str, *, score: int | None = None, category: str | None = "default"):
        score = {"safe": 95, "suspicious": 50, "malicious": 5}[verdict] if score is None else score
        if category == "default":
            category = None if verdict == "safe" else "phishing"

        def fake_scan(url: str) -> ScanResult:
            finding = Finding(
                "test_rule", "high" if verdict != "safe" else "info", f"The test says {verdict}."
            )
            return ScanResult(
                url=url,
                normalized_url=normalize_url(url),
                safety_score=score,
                verdict=verdict,
                threat_category=category,
                findings=(finding,),
                model_score=0.5,
            )

        monkeypatch.setattr("links_app.services.perform.scan_url", fake_scan)

    return configure


@pytest.fixture
def scanner_crashes(monkeypatch):
    def crash(url: str):
        raise RuntimeError("scanner exploded")

    monkeypatch.setattr("links_app.services.perform.scan_url", crash)
