"""`python manage.py grant_moderator <username>`: make a user a moderator."""

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from auth_app.services import moderator_grant


class Command(BaseCommand):
    help = "Add a user to the `moderators` group (created if missing), recording auth:moderator_granted."

    def add_arguments(self, parser):
        parser.add_argument("username")

    def handle(self, *args, username: str, **options):
        try:
            granted = moderator_grant(username=username)
        except get_user_model().DoesNotExist:
            raise CommandError(f"No user named {username!r}.") from None
        if granted:
            self.stdout.write(self.style.SUCCESS(f"{username} is now a moderator."))
        else:
            self.stdout.write(f"{username} was already a moderator.")
