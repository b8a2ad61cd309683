# The two commands of the README: `make run` and `make test`.
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip

.PHONY: run test setup install services lint bench

# Without DJANGO_SETTINGS_MODULE the entry points use production settings: the
# development commands below say which settings they want.
DEV_SETTINGS := DJANGO_SETTINGS_MODULE=platform_site.settings.development
TEST_SETTINGS := DJANGO_SETTINGS_MODULE=platform_site.settings.test

$(VENV)/.installed: requirements.txt requirements-dev.txt
	test -x $(PY) || python3 -m venv $(VENV)
	$(PIP) install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

install: $(VENV)/.installed

services: install
	$(PY) scripts/check_services.py

setup: services
	$(DEV_SETTINGS) $(PY) manage.py migrate --no-input
	$(DEV_SETTINGS) $(PY) manage.py collectstatic --no-input --verbosity 0
	$(DEV_SETTINGS) $(PY) manage.py load_demo_data

run: setup
	$(DEV_SETTINGS) $(VENV)/bin/honcho start -f Procfile

# `make test TEST_WORKERS=2` shares the test files out among two processes (pytest-xdist),
# each with a test database and a Redis database of its own (platform_site/settings/test.py).
# One process is the default, and what CI runs: in two, the tests that start real processes
# share the two cores with the other worker's.
TEST_WORKERS ?= 1  # at most 7: Redis databases 9 to 15

test: services
	$(TEST_SETTINGS) $(PY) -m pytest $(if $(filter-out 1,$(TEST_WORKERS)),--numprocesses $(TEST_WORKERS) --dist loadfile)

lint: install
	$(VENV)/bin/ruff check .

# Benchmarks (not part of the tests): a fresh platform_bench database, every figure, docs/benchmarks.md.
bench: install
	bash bench/run.sh $(BENCH_ARGS)
