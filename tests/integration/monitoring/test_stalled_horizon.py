"""A stalled horizon shows in /health/, /metrics and the dashboard, naming its cause (guarantee 10).

A second session writes and then idles in its transaction: every event
committed after it waits above the horizon (the relay and every subscriber
wait with it) while their lag still reads 0. The reports must say how many
events wait and which session holds them, and /health/ degrade past
HORIZON_STALL_SECONDS.
"""

import uuid

import psycopg
import pytest
from django.db import connection, transaction
from prometheus_client.parser import text_string_to_metric_families

from eventstore.bus import publish
from eventstore.horizon_report import HOLDER_SQL
from tests.app_role import connect_as_app_role, ensure_app_role
from tests.sample_events import THING_HAPPENED

pytestmark = pytest.mark.django_db(transaction=True)
PROBE_NAME = "stall-probe"


@pytest.fixture
def idle_writer():
    """A session of the test database that wrote and now idles in its transaction."""
    settings = connection.settings_dict
    session = psycopg.connect(
        host=settings["HOST"] or "127.0.0.1",
        port=settings["PORT"] or 5432,
        user=settings["USER"],
        dbname=settings["NAME"],
        application_name=PROBE_NAME,
    )
    session.execute(
        "INSERT INTO eventstore_checkpoint (name, position, updated_at) VALUES (%s, 0, now())",
        [f"stall-probe-{uuid.uuid4()}"],
    )
    yield session
    session.rollback()
    session.close()


def publish_one() -> None:
    with transaction.atomic():
        publish(THING_HAPPENED, stream_id=f"thing-{uuid.uuid4()}", data={"label": "waits"})


def test_health_degrades_and_names_the_idle_transaction_holding_the_horizon(client, idle_writer, settings):
    settings.HORIZON_STALL_SECONDS = 0
    publish_one()
    response = client.get("/health/")
    assert response.status_code == 200  # the platform serves; delivery waits
    body = response.json()
    assert body["status"] == "degraded" and body["degraded"] == ["horizon"]
    horizon = body["checks"]["horizon"]
    assert horizon["status"] == "stalled"
    assert horizon["events_waiting"] >= 1
    assert horizon["holder"]["pid"] == idle_writer.info.backend_pid
    assert horizon["holder"]["application_name"] == PROBE_NAME
    assert horizon["holder"]["state"] == "idle in transaction"
    assert horizon["holder"]["database"] == connection.settings_dict["NAME"]
    assert horizon["holder"]["age_seconds"] >= 0

    idle_writer.rollback()
    body = client.get("/health/").json()
    assert body["status"] == "ok" and body["checks"]["horizon"]["events_waiting"] == 0


def test_health_stays_ok_while_the_holder_is_younger_than_the_limit(client, idle_writer, settings):
    settings.HORIZON_STALL_SECONDS = 3600
    publish_one()
    body = client.get("/health/").json()
    assert body["status"] == "ok"
    assert body["checks"]["horizon"]["events_waiting"] >= 1
    assert body["checks"]["horizon"]["holder"]["pid"] == idle_writer.info.backend_pid


def test_metrics_and_the_dashboard_name_the_holder(make_user, idle_writer, settings):
    from django.test import Client

    settings.HORIZON_STALL_SECONDS = 0
    staff = Client()
    staff.force_login(make_user(is_staff=True, is_superuser=True))
    publish_one()
    families = {
        family.name: family
        for family in text_string_to_metric_families(staff.get("/metrics").content.decode())
    }
    assert families["platform_horizon_events_waiting"].samples[0].value >= 1
    assert families["platform_horizon_stalled"].samples[0].value == 1
    assert families["platform_horizon_holder_age_seconds"].samples[0].value >= 0
    (info,) = families["platform_horizon_holder_info"].samples
    assert info.labels["pid"] == str(idle_writer.info.backend_pid)
    assert info.labels["application_name"] == PROBE_NAME
    assert info.labels["state"] == "idle in transaction"

    card = staff.get("/dashboard/status.json").json()["health"]["horizon"]
    assert card["status"] == "stalled"
    assert f"by pid {idle_writer.info.backend_pid} ({PROBE_NAME}, idle in transaction" in card["detail"]


def test_the_app_role_sees_the_state_and_age_of_another_roles_transaction(idle_writer):
    """setup_roles grants pg_read_all_stats: without it Postgres hides both from the app role."""
    ensure_app_role()
    session = connect_as_app_role()
    try:
        pid, _, name, state, _, age = session.execute(HOLDER_SQL).fetchone()
    finally:
        session.close()
    assert (pid, name, state) == (idle_writer.info.backend_pid, PROBE_NAME, "idle in transaction")
    assert age is not None
