"""`python manage.py forget_user <username>`: crypto-shred a user's personal data and print the receipt."""

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from auth_app.errors import AlreadyForgotten
from auth_app.services import user_forget_with_receipt
from eventstore import failed_places, receipt_lines


class Command(BaseCommand):
    help = (
        "Destroy the user's personal-data key (their email, ips, user agents and post and comment "
        "texts read as erased from now on), scrub the account and record user:forgotten; then check "
        "the log, Redis, projections, parked events, logs and archives for readable copies and store "
        "an erasure receipt. Exit status 1 when a check found a copy (docs/privacy.md)."
    )

    def add_arguments(self, parser):
        parser.add_argument("username")

    def handle(self, *args, username: str, **options):
        try:
            receipt = user_forget_with_receipt(username=username)
        except get_user_model().DoesNotExist:
            raise CommandError(f"No user named {username!r}.") from None
        except AlreadyForgotten:
            raise CommandError(f"{username} was already forgotten; nothing changed.") from None
        self.stdout.write("\n".join(receipt_lines(receipt)))
        if not receipt.passed:
            raise CommandError(
                f"{username}'s key is destroyed, but erasure is NOT confirmed: readable copies remain in "
                f"{', '.join(failed_places(receipt))} (receipt #{receipt.pk})."
            )
        self.stdout.write(
            self.style.SUCCESS(
                f"{username} is forgotten: their personal data reads as erased (receipt #{receipt.pk})."
            )
        )
