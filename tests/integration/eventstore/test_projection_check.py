"""The dry run (and the auditor built on it): compares live projections with the log, changes and locks nothing."""

import io
import random
import threading
import traceback
from pathlib import Path

import pytest
from django.db import connection

from community_app.models import Vote
from eventstore.projection_audit import last_audit
from eventstore.projection_diff import check_projections
from eventstore.projections import registered_projections
from eventstore.replay import rebuild_projections
from tests.rebuild_workload import (
    make_authors,
    snapshot_inline,
    write_once,
)

pytestmark = pytest.mark.django_db(transaction=True)
ROOT = Path(__file__).resolve().parents[3]


def all_projections():
    return list(registered_projections().values())


def schema_exists(name: str) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_namespace WHERE nspname = %s", [name])
        return cursor.fetchone()[0] == 1


def writes_that_may_not_wait(authors: list, errors: list) -> None:
    """In its own connection: one write of each kind, failing if any lock is not granted within 1 s."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SET lock_timeout = '1s'")
        rng, posts = random.Random(), []
        for _ in range(12):
            write_once(rng, authors, posts)
    except Exception:
        errors.append(traceback.format_exc())
    finally:
        connection.close()


def test_a_dry_run_blocks_no_writer_and_sees_no_difference_in_their_writes():
    authors = make_authors()
    rng, posts = random.Random(3), []
    for _ in range(120):
        write_once(rng, authors, posts)
    rebuild_projections(all_projections())
    errors: list[str] = []
    pauses = []

    def write_meanwhile(_count: int) -> None:
        # Called inside the dry run's open transactions: while it builds, and
        # while it catches up in its comparison snapshot (the writes of the first pause).
        if len(pauses) < 3:
            pauses.append(1)
            writer = threading.Thread(target=writes_that_may_not_wait, args=(authors, errors))
            writer.start()
            writer.join(timeout=60)

    results = check_projections(all_projections(), batch_size=100_000, progress=write_meanwhile)
    assert not errors, errors[0]
    assert len(pauses) >= 2, "writers ran during the build and during the comparison"
    for name, (_applied, tables) in results.items():
        for table, diff in tables.items():
            assert diff.identical, f"{name} {table}: {diff}"
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass('pg_temp.community_app_post')")
        assert cursor.fetchone()[0] is None, "the temporary copies are dropped"


def test_a_dry_run_reports_a_row_changed_behind_the_projection_and_changes_nothing():
    authors = make_authors()
    rng, posts = random.Random(4), []
    for _ in range(60):
        write_once(rng, authors, posts)
    rebuild_projections(all_projections())
    vote = Vote.objects.order_by("post_id", "voter_id").first()
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE community_app_vote SET value = 7 WHERE post_id = %s AND voter_id = %s",
            [vote.post_id, vote.voter_id],
        )
    live = snapshot_inline()

    (applied, tables), *_ = check_projections(
        [registered_projections()["community.votes"]], batch_size=500
    ).values()
    diff = tables["community_app_vote"]
    assert applied > 0
    assert (diff.differing, diff.only_live, diff.only_rebuilt) == (1, 0, 0)
    assert diff.examples["differing"] == [f"post_id={vote.post_id}, voter_id={vote.voter_id}"]
    assert snapshot_inline() == live, "the dry run changed nothing"
    assert Vote.objects.get(post_id=vote.post_id, voter_id=vote.voter_id).value == 7


def test_the_auditor_reports_an_injected_drift_in_metrics_and_dashboard_and_never_repairs_it(
    client, make_user, settings
):
    from django.core.management import CommandError, call_command

    authors = make_authors()
    rng, posts = random.Random(5), []
    for _ in range(40):
        write_once(rng, authors, posts)
    rebuild_projections(all_projections())
    out = io.StringIO()
    call_command("verify_projections", stdout=out)
    assert "equal the log" in out.getvalue()

    with connection.cursor() as cursor:
        cursor.execute("UPDATE community_app_post SET score = score + 100 WHERE id = %s", [posts[0]])
    out = io.StringIO()
    with pytest.raises(CommandError, match="1 table"):
        call_command("verify_projections", stdout=out)
    assert (
        f"DRIFT community.posts community_app_post: 0 only live, 0 only rebuilt, 1 differing (e.g. id={posts[0]})"
        in (out.getvalue())
    )
    audit = last_audit()
    assert [d["table"] for d in audit["drifted"]] == ["community_app_post"] and audit["age_seconds"] < 60

    settings.METRICS_TOKEN = "audit-scrape-token-1"
    metrics = client.get("/metrics", HTTP_AUTHORIZATION="Bearer audit-scrape-token-1").content.decode()
    assert "platform_projection_audit_drifted_tables 1.0" in metrics
    assert (
        'platform_projection_audit_drift_rows{projection="community.posts",table="community_app_post"} 1.0'
        in metrics
    )
    assert "platform_projection_audit_age_seconds" in metrics
    client.force_login(make_user(is_staff=True, is_superuser=True))
    assert "DRIFT at the last audit" in client.get("/dashboard/").content.decode()
    with connection.cursor() as cursor:
        cursor.execute("SELECT score FROM community_app_post WHERE id = %s", [posts[0]])
        assert cursor.fetchone()[0] >= 90, "the drift is reported, never repaired"


def test_the_periodic_audit_is_off_by_default_and_on_in_deploy():
    from django.conf import settings

    from eventstore.tasks import verify_projections

    assert settings.PROJECTION_AUDIT_INTERVAL_SECONDS == 0
    assert "eventstore-verify-projections" not in settings.CELERY_BEAT_SCHEDULE
    compose = (ROOT / "deploy" / "docker-compose.yml").read_text()
    assert "PROJECTION_AUDIT_INTERVAL_SECONDS: ${PROJECTION_AUDIT_INTERVAL_SECONDS:-3600}" in compose
    assert verify_projections.name == "eventstore.tasks.verify_projections"


def test_the_application_role_may_audit_but_only_the_owner_rebuilds_and_the_grants_survive():
    """The serving role (least privilege) runs verify_projections; replay_events needs the owner."""
    import os
    import subprocess
    import sys

    from tests.app_role import app_role_database_url, ensure_app_role

    ensure_app_role()
    authors = make_authors()
    rng, posts = random.Random(8), []
    for _ in range(30):
        write_once(rng, authors, posts)
    rebuild_projections(all_projections())  # as the owner: the app role's grants are copied
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "platform_site.settings.test"}
    env["DATABASE_URL"] = app_role_database_url()

    def manage(*arguments):
        return subprocess.run(
            [sys.executable, "manage.py", *arguments], cwd=ROOT, env=env, capture_output=True, text=True
        )

    audit = manage("verify_projections")
    assert audit.returncode == 0 and "equal the log" in audit.stdout, audit.stdout + audit.stderr
    live = snapshot_inline()
    refused = manage("replay_events", "--no-input", "--projection", "community.votes", "--verbosity", "0")
    # Refused before anything is built, naming the role to run it as (this session's, the owner).
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_user")
        (owner,) = cursor.fetchone()
    assert refused.returncode != 0, refused.stderr[-2000:]
    assert f"run the rebuild as the projection tables' owner ({owner}," in refused.stderr, refused.stderr[
        -2000:
    ]
    assert snapshot_inline() == live
