"""`python manage.py test` hands over to pytest, so both run the same suite."""

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
        import pytest

        argv = []
        if self.verbosity == 0:
            argv.append("--quiet")
        elif self.verbosity > 1:
            argv.append("--verbose")
        if self.failfast:
            argv.append("--exitfirst")
        if self.keepdb:
            argv.append("--reuse-db")
        argv.extend(test_labels)
        sys.exit(pytest.main(argv))
