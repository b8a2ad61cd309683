"""A registration that loses a race is refused on the field whose unique index refused it.

The service checks for a taken username or email before inserting; two registrations
can pass that check together, and then Postgres's unique indexes decide. The field is
told by the index's name, never by the error's text.
"""

from __future__ import annotations

import threading

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction

from auth_app.models import User
from auth_app.services import user_register
from auth_app.services.registration import field_of_unique_clash
from eventstore.models import Event
from tests.integration.auth.helpers import STRONG_PASSWORD, fresh_username


def _clash(**fields) -> IntegrityError:
    with pytest.raises(IntegrityError) as raised, transaction.atomic():
        User.objects.create(**fields)
    return raised.value


@pytest.mark.django_db
def test_each_unique_index_names_its_field():
    name = fresh_username()
    taken = User.objects.create(username=name, email=f"{name}@example.com")
    other = fresh_username()

    assert field_of_unique_clash(_clash(username=name, email=f"{other}@example.com")) == "username"
    assert field_of_unique_clash(_clash(username=name.upper(), email=f"{other}@example.com")) == "username"
    assert field_of_unique_clash(_clash(username=other, email=f"{name}@example.com")) == "email"
    assert field_of_unique_clash(_clash(username=other, email=f"{name.upper()}@EXAMPLE.COM")) == "email"
    # A clash on any other index is not a taken username or email.
    assert field_of_unique_clash(_clash(pk=taken.pk, username=other, email=f"{other}@example.com")) is None


def _register_at_once(accounts: list[tuple[str, str]]) -> tuple[list[object], list[dict]]:
    """Register every (username, email) in its own thread, released together."""
    created: list[object] = []
    refused: list[dict] = []
    start = threading.Barrier(len(accounts))

    def register(username: str, email: str) -> None:
        try:
            start.wait()
            created.append(user_register(username=username, email=email, password=STRONG_PASSWORD))
        except ValidationError as refusal:
            refused.append(refusal.message_dict)
        finally:
            connection.close()

    threads = [threading.Thread(target=register, args=account) for account in accounts]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return created, refused


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("shared", ["username", "email"])
def test_concurrent_registrations_of_one_name_or_email_keep_one(shared):
    name = fresh_username()
    accounts = []
    for n in range(6):
        own = f"{name}x{n}"
        username = name if shared == "username" else own
        email = f"{name}@example.com" if shared == "email" else f"{own}@example.com"
        accounts.append((username, email))
    before = Event.objects.order_by("-position").values_list("position", flat=True).first() or 0

    created, refused = _register_at_once(accounts)

    assert len(created) == 1
    assert len(refused) == 5
    assert all(list(errors) == [shared] for errors in refused), refused
    lookup = {"username__iexact": name} if shared == "username" else {"email__iexact": f"{name}@example.com"}
    assert User.objects.filter(**lookup).count() == 1
    # The refused registrations recorded nothing: the one user:created is the winner's.
    recorded = Event.objects.filter(position__gt=before, type="user:created")
    assert list(recorded.values_list("stream_id", flat=True)) == [f"user-{created[0].pk}"]
