"""`python manage.py test` hands over to pytest, so both run the same suite.

pytest runs in a child process with the test settings: manage.py has already
configured Django with the development settings in this one.
"""

import os
import subprocess
import sys


class PytestTestRunner:
    def __init__(self, verbosity=1, failfast=False, keepdb=False, **_kwargs):
        self.verbosity = verbosity
        self.failfast = failfast
        self.keepdb = keepdb

    @classmethod
    def add_arguments(cls, parser):
        parser.add_argument("--keepdb", action="store_true", help="Reuse the test database.")

    def run_tests(self, test_labels, **_kwargs):
        argv = [sys.executable, "-m", "pytest"]
        if self.verbosity == 0:
            argv.append("--quiet")
        elif self.verbosity > 1:
            argv.append("--verbose")
        if self.failfast:
            argv.append("--exitfirst")
        if self.keepdb:
            argv.append("--reuse-db")
        argv.extend(test_labels)
        env = {**os.environ, "DJANGO_SETTINGS_MODULE": "platform_site.settings.test"}
        sys.exit(subprocess.call(argv, env=env))  # noqa: S603 (our own interpreter and arguments)
