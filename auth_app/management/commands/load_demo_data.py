"""Load a little demo data, idempotently: an admin and a member to sign in with."""

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from auth_app.services import user_register

DEMO_USERS = [
    # username, email, password, staff
    ("admin", "admin@example.com", "admin-demo-password", True),
    ("alice", "alice@example.com", "alice-demo-password", False),
]


class Command(BaseCommand):
    help = "Create demo accounts (admin / admin-demo-password) if they do not exist yet."

    def handle(self, *args, **options):
        User = get_user_model()
        for username, email, password, staff in DEMO_USERS:
            if User.objects.filter(username__iexact=username).exists():
                continue
            # Through the registration service, so each demo user has its `user:created` event.
            user_register(
                username=username, email=email, password=password, is_staff=staff, is_superuser=staff
            )
            self.stdout.write(f"created demo user {username} / {password}")
