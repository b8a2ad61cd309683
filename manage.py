#!/usr/bin/env python
"""Django's command-line utility for the platform."""

import os
import sys


def main() -> None:
    # Production unless told otherwise (the development commands set development explicitly):
    # a forgotten variable must not mean DEBUG and public keys. `manage.py test` runs the tests.
    default = (
        "platform_site.settings.test" if sys.argv[1:2] == ["test"] else "platform_site.settings.production"
    )
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", default)
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
