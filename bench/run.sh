#!/usr/bin/env bash
# `make bench`: install what only the benchmarks need, then run every figure (python -m bench).
# Extra arguments go to `python -m bench` (e.g. BENCH_ARGS="--reps 5").
set -euo pipefail
cd "$(dirname "$0")/.."
.venv/bin/pip install --quiet --disable-pip-version-check -r requirements-bench.txt
if ! command -v wrk >/dev/null; then
    if [ "$(id -u)" = 0 ]; then
        apt-get install -y -qq wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
    else
        echo "bench: wrk is missing (sudo apt-get install wrk)" >&2
        exit 1
    fi
fi
exec .venv/bin/python -m bench "$@"
