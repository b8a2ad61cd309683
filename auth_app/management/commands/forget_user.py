"""`python manage.py forget_user <username>`: crypto-shred a user's personal data."""

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from auth_app.errors import AlreadyForgotten
from auth_app.services import user_forget


class Command(BaseCommand):
    help = (
        "Destroy the user's personal-data key (their email, ips, user agents and post and comment "
        "texts read as erased from now on), scrub the account and record user:forgotten. "
        "Run replay_events afterwards to rebuild projections without any trace (docs/privacy.md)."
    )

    def add_arguments(self, parser):
        parser.add_argument("username")

    def handle(self, *args, username: str, **options):
        try:
            user_forget(username=username)
        except get_user_model().DoesNotExist:
            raise CommandError(f"No user named {username!r}.") from None
        except AlreadyForgotten:
            raise CommandError(f"{username} was already forgotten; nothing changed.") from None
        self.stdout.write(
            self.style.SUCCESS(f"{username} is forgotten: their personal data reads as erased.")
        )
