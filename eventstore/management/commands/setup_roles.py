"""python manage.py setup_roles: give the application's database role exactly what it needs.

Run as the owner (the role that runs `migrate`), after every migration; see
eventstore/database_roles.py for what is granted and docs/deploy.md for how
deploy/ uses it.
"""

import os

from django.core.management.base import BaseCommand, CommandError

from eventstore.database_roles import grant_app_role
from eventstore.errors import RoleSetupError


class Command(BaseCommand):
    help = (
        "Create the application's database role if missing and grant it least privilege "
        "(INSERT and SELECT on the log, no ownership). Run as the owner after migrate."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--app-role",
            default=os.environ.get("APP_DATABASE_ROLE", ""),
            help="name of the application role (default: $APP_DATABASE_ROLE)",
        )
        parser.add_argument(
            "--password-env",
            default="APP_DATABASE_PASSWORD",
            help="environment variable holding the role's password, set when present "
            "(default: APP_DATABASE_PASSWORD)",
        )

    def handle(self, *args, app_role, password_env, **options):
        if not app_role:
            raise CommandError("name the application role: --app-role or APP_DATABASE_ROLE")
        try:
            setup = grant_app_role(app_role, password=os.environ.get(password_env) or None)
        except RoleSetupError as error:
            raise CommandError(str(error)) from error
        verb = "created" if setup.created else "updated"
        self.stdout.write(f"{verb} role {setup.role}")
        self.stdout.write(
            f"append-only (SELECT, INSERT only): {', '.join(setup.append_only_tables) or 'none'}"
        )
        if not setup.reads_all_statistics:
            self.stdout.write(
                self.style.WARNING(
                    "pg_read_all_stats not granted (needs a superuser or ADMIN OPTION): the horizon report "
                    "cannot show other roles' sessions' state and age"
                )
            )
