"""The demo workload command, and retrying parked events from the admin."""

import threading
import time
import uuid

import pytest
from django.core.management import call_command
from django.db import transaction

from eventstore.bus import publish
from eventstore.models import Checkpoint, Event, ParkedEvent
from monitoring_app.simulation import Simulation
from tests.sample_events import THING_HAPPENED
from tests.testapp.handlers import effect_count

pytestmark = pytest.mark.django_db


def test_a_simulation_records_true_events_each_action_with_its_own_correlation_id():
    simulation = Simulation(seed=11)
    actions = [simulation.step() for _ in range(30)]

    assert {"sign_up", "post_safe", "comment", "vote"} <= set(actions)
    usernames = set(
        Event.objects.filter(
            type="user:created", data__username__startswith=f"sim_{simulation.run}_"
        ).values_list("data__username", flat=True)
    )
    assert usernames == {user.username for user in simulation.users}
    posts = Event.objects.filter(
        type="community:post_created", stream_id__in=[f"post-{pid}" for pid in simulation.post_ids]
    )
    assert posts.count() == len(simulation.post_ids) > 0
    assert len({post.correlation_id for post in posts}) == posts.count()
    assert all(post.metadata["path"].startswith("simulate:post_") for post in posts)
    assert all(post.metadata["user_agent"] and post.metadata["ip"] for post in posts)


def test_the_same_seed_gives_the_same_mix_of_actions():
    first, second = Simulation(seed=5), Simulation(seed=5)
    assert [first.step() for _ in range(15)] == [second.step() for _ in range(15)]


def test_the_simulate_command_runs_the_asked_number_of_actions(capsys):
    call_command("simulate", rate=500, duration=60, actions=8, seed=3)
    assert "simulated 8 actions" in capsys.readouterr().out


@pytest.mark.django_db(transaction=True)  # the workers' threads have database connections of their own
def test_simulate_workers_act_at_once_each_in_a_thread_with_its_own_users(monkeypatch, capsys):
    lock = threading.Lock()
    in_flight, most_at_once, by_thread = [0], [0], {}
    real_step = Simulation.step

    def step(simulation):
        with lock:
            in_flight[0] += 1
            most_at_once[0] = max(most_at_once[0], in_flight[0])
            by_thread.setdefault(threading.get_ident(), set()).add(simulation.run)
        try:
            time.sleep(0.2)  # long enough that the other workers' actions begin meanwhile
            return real_step(simulation)
        finally:
            with lock:
                in_flight[0] -= 1

    monkeypatch.setattr(Simulation, "step", step)
    call_command("simulate", rate=100, duration=60, actions=12, seed=3, workers=3)

    assert "simulated 12 actions" in capsys.readouterr().out
    assert most_at_once[0] >= 2
    # Three threads, each driving one simulation of its own (its own users and posts).
    assert len(by_thread) == 3 and all(len(runs) == 1 for runs in by_thread.values())
    assert len(set().union(*by_thread.values())) == 3


def test_the_simulate_command_refuses_a_rate_of_zero():
    from django.core.management.base import CommandError

    with pytest.raises(CommandError):
        call_command("simulate", rate=0, duration=1)
    with pytest.raises(CommandError):
        call_command("simulate", rate=1, duration=1, workers=0)


def _park_exploding_event():
    with transaction.atomic():
        event = publish(THING_HAPPENED, stream_id=f"thing-{uuid.uuid4().hex[:10]}", data={"label": "explode"})
    return event, ParkedEvent.objects.create(
        subscriber="test-recorder",
        event_id=event.id,
        position=event.position,
        stream_id=event.stream_id,
        event_type=event.type,
        error="Exploded: first failure",
        attempts=4,
    )


def _retry_in_admin(staff_client, parked):
    return staff_client.post(
        "/admin/eventstore/parkedevent/",
        {"action": "retry_selected", "_selected_action": [parked.pk]},
        follow=True,
    )


def test_retrying_a_parked_event_in_the_admin_shows_the_error_until_it_goes_through(staff_client):
    event, parked = _park_exploding_event()

    failed = _retry_in_admin(staff_client, parked)
    assert "failed again: Exploded" in failed.content.decode()
    parked.refresh_from_db()
    assert parked.resolved_at is None and parked.attempts == 5

    Checkpoint.objects.create(name="allow:explode")
    done = _retry_in_admin(staff_client, parked)
    assert "1 parked event(s) retried successfully" in done.content.decode()
    parked.refresh_from_db()
    assert parked.resolved_at is not None
    assert effect_count(event.id) == 1


def test_parked_events_cannot_be_edited_or_deleted_in_the_admin(staff_client):
    _, parked = _park_exploding_event()
    page = staff_client.get(f"/admin/eventstore/parkedevent/{parked.pk}/change/")
    assert page.status_code == 200 and b"first failure" in page.content
    assert b'name="_save"' not in page.content
    assert staff_client.get(f"/admin/eventstore/parkedevent/{parked.pk}/delete/").status_code == 403
    changelist = staff_client.get("/admin/eventstore/parkedevent/")
    assert b"delete_selected" not in changelist.content
